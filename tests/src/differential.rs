//! Differential check of the local ASL interpreter: one definition, one input, one script of
//! task answers, run on moto's Step Functions interpreter and on ours
//! ([`trip_workflow::run_scripted`]); the final status, output, error, cause and the sequence of
//! history event types are compared.
//!
//! Cases live in `tests/conformance/<case>/`: `definition.asl.json` (or `definition.path`
//! naming a product definition, with an optional `patch.json`), `input.json` and (optionally) `responses.json` in the scripted runner's format (answers per state name, by
//! attempt; a state without answers gets its resolved Parameters back). Tasks wait with
//! `arn:aws:states:::sqs:sendMessage.waitForTaskToken` on `${TaskQueueUrl}` or
//! `arn:aws:states:::events:putEvents.waitForTaskToken` on `${EventBusName}`: on moto the test
//! reads the task token from the message (or the event), finds the state that issued it in the
//! execution history, and answers with `SendTaskSuccess`/`SendTaskFailure` as scripted.
//!
//! Known, documented differences are listed in `tests/conformance/DIFFERENCES.md`; see
//! [`Differences`].

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use trip_workflow::{Responses, ScriptedResponse, run_scripted};

use crate::moto::Clients;
use crate::stack::{ROLE_ARN, substitute};

/// One case of the differential check.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: String,
    /// The definition with `${...}` placeholders.
    pub definition: String,
    pub input: Value,
    pub responses: Responses,
    /// Extra substitutions (the harness adds `TaskQueueUrl` and `EventBusName`).
    pub substitutions: BTreeMap<String, String>,
}

/// The directory of the cases.
pub fn cases_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("conformance")
}

/// The names of every case directory (those holding a `definition.asl.json`).
pub fn case_names() -> Result<Vec<String>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(cases_dir())? {
        let entry = entry?;
        let dir = entry.path();
        if dir.join("definition.asl.json").is_file() || dir.join("definition.path").is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    names.sort();
    Ok(names)
}

impl Case {
    /// Reads `tests/conformance/<name>/`.
    pub fn load(name: &str) -> Result<Case> {
        let dir = cases_dir().join(name);
        let read =
            |f: &str| std::fs::read_to_string(dir.join(f)).with_context(|| format!("{name}/{f}"));
        // A case may run a definition of the product (`definition.path`, from the repository
        // root) rather than its own; `patch.json` edits the TEST's copy (`[[pointer, value]]`),
        // e.g. a shorter TimeoutSeconds, never the product's file.
        let mut definition = match read("definition.path") {
            Ok(path) => {
                let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
                std::fs::read_to_string(root.join(path.trim()))
                    .with_context(|| format!("{name}: {}", path.trim()))?
            }
            Err(_) => read("definition.asl.json")?,
        };
        if let Ok(patch) = read("patch.json") {
            let edits: Vec<(String, Value)> = serde_json::from_str(&patch)?;
            let mut doc: Value = serde_json::from_str(&definition)?;
            for (pointer, value) in edits {
                *doc.pointer_mut(&pointer)
                    .with_context(|| format!("{name}/patch.json: no {pointer}"))? = value;
            }
            definition = serde_json::to_string_pretty(&doc)?;
        }
        let input: Value = serde_json::from_str(&read("input.json")?)?;
        let responses = match read("responses.json") {
            Ok(text) => Responses::from_json(&text)?,
            Err(_) => Responses::default(),
        };
        Ok(Case {
            name: name.to_owned(),
            definition,
            input,
            responses,
            substitutions: BTreeMap::new(),
        })
    }
}

/// What a run came to, in the terms compared.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: String,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// History event types, in order.
    pub history: Vec<String>,
}

/// The case on our interpreter, in virtual time.
pub fn run_local(case: &Case, substitutions: &BTreeMap<String, String>) -> Result<Outcome> {
    let run = run_scripted(
        &case.definition,
        substitutions,
        case.input.clone(),
        &case.responses,
    )?;
    Ok(Outcome {
        status: run.status.as_str().to_owned(),
        output: run.output,
        error: run.error,
        cause: run.cause,
        history: run.history["events"]
            .as_array()
            .map(|events| {
                events
                    .iter()
                    .filter_map(|e| e["type"].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default(),
    })
}

/// The resources a case runs against on moto.
#[derive(Debug, Clone)]
pub struct MotoTaskSource {
    pub task_queue_url: String,
    pub event_bus_name: String,
}

/// Creates the task queue, and a bus whose waiting events (those carrying a task token in
/// `detail.metadata.taskToken`) reach that queue. Names are suffixed by `suffix` so that
/// several cases share one server.
pub async fn create_task_source(clients: &Clients, suffix: &str) -> Result<MotoTaskSource> {
    let task_queue_url = clients
        .sqs
        .create_queue()
        .queue_name(format!("tasks-{suffix}"))
        .send()
        .await?
        .queue_url
        .context("queue url")?;
    let arn = clients
        .sqs
        .get_queue_attributes()
        .queue_url(&task_queue_url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::QueueArn)
        .send()
        .await?
        .attributes()
        .and_then(|a| a.get(&aws_sdk_sqs::types::QueueAttributeName::QueueArn))
        .cloned()
        .context("queue arn")?;
    let event_bus_name = format!("bus-{suffix}");
    clients
        .eventbridge
        .create_event_bus()
        .name(&event_bus_name)
        .send()
        .await?;
    clients
        .eventbridge
        .put_rule()
        .name("waiting-tasks")
        .event_bus_name(&event_bus_name)
        .event_pattern(
            json!({"detail": {"metadata": {"taskToken": [{"exists": true}]}}}).to_string(),
        )
        .send()
        .await?;
    clients
        .eventbridge
        .put_targets()
        .rule("waiting-tasks")
        .event_bus_name(&event_bus_name)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("tasks")
                .arn(arn)
                .build()?,
        )
        .send()
        .await?;
    Ok(MotoTaskSource {
        task_queue_url,
        event_bus_name,
    })
}

/// The substitutions of a case on a task source.
pub fn substitutions_for(case: &Case, source: &MotoTaskSource) -> BTreeMap<String, String> {
    let mut s = case.substitutions.clone();
    s.insert("TaskQueueUrl".into(), source.task_queue_url.clone());
    s.insert("EventBusName".into(), source.event_bus_name.clone());
    s
}

/// The first string under a key that names a task token, anywhere in `v`.
fn find_token(v: &Value) -> Option<String> {
    match v {
        Value::Object(m) => {
            for key in ["taskToken", "TaskToken", "token"] {
                if let Some(Value::String(t)) = m.get(key) {
                    return Some(t.clone());
                }
            }
            m.values().find_map(find_token)
        }
        Value::Array(a) => a.iter().find_map(find_token),
        _ => None,
    }
}

/// The whole history of an execution, as JSON values (type, ids, details).
pub async fn execution_history(clients: &Clients, arn: &str) -> Result<Vec<Value>> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let out = clients
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .set_next_token(token)
            .max_results(1000)
            .send()
            .await
            .context("GetExecutionHistory")?;
        for e in out.events() {
            let mut v = json!({
                "id": e.id(),
                "previousEventId": e.previous_event_id(),
                "type": e.r#type().as_str(),
            });
            if let Some(d) = e.state_entered_event_details() {
                v["stateEntered"] = json!({"name": d.name()});
            }
            if let Some(d) = e.task_scheduled_event_details() {
                v["taskScheduled"] = json!({"parameters": d.parameters()});
            }
            events.push(v);
        }
        match out.next_token() {
            Some(t) => token = Some(t.to_owned()),
            None => return Ok(events),
        }
    }
}

/// The state that scheduled the task holding `token`, and the parameters it resolved.
fn task_of(history: &[Value], token: &str) -> Option<(String, Value)> {
    let by_id: HashMap<i64, &Value> = history
        .iter()
        .filter_map(|e| Some((e["id"].as_i64()?, e)))
        .collect();
    let (index, scheduled) = history.iter().enumerate().rev().find(|(_, e)| {
        e["taskScheduled"]["parameters"]
            .as_str()
            .is_some_and(|p| p.contains(token))
    })?;
    let parameters: Value = scheduled["taskScheduled"]["parameters"]
        .as_str()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    // Follow previousEventId to the state's entry; failing that, the latest entry before.
    let mut cursor = scheduled["previousEventId"].as_i64();
    while let Some(id) = cursor {
        let Some(e) = by_id.get(&id) else { break };
        if let Some(name) = e["stateEntered"]["name"].as_str() {
            return Some((name.to_owned(), parameters));
        }
        cursor = e["previousEventId"].as_i64().filter(|p| *p != id);
    }
    history[..index]
        .iter()
        .rev()
        .find_map(|e| e["stateEntered"]["name"].as_str())
        .map(|name| (name.to_owned(), parameters))
}

/// The case on moto's interpreter, answering its tasks as scripted. `execution_name` must be
/// unique on the server (moto names executions "None" without one).
pub async fn run_moto(
    clients: &Clients,
    case: &Case,
    source: &MotoTaskSource,
    timeout: Duration,
) -> Result<Outcome> {
    let substitutions = substitutions_for(case, source);
    let definition = substitute(&case.definition, &substitutions);
    let sm = clients
        .sfn
        .create_state_machine()
        .name(format!("case-{}", case.name))
        .definition(definition)
        .role_arn(ROLE_ARN)
        .send()
        .await
        .with_context(|| format!("CreateStateMachine {}", case.name))?
        .state_machine_arn;
    let arn = clients
        .sfn
        .start_execution()
        .state_machine_arn(&sm)
        .name(format!("run-{}", case.name))
        .input(case.input.to_string())
        .send()
        .await
        .context("StartExecution")?
        .execution_arn;
    let mut attempts: HashMap<String, usize> = HashMap::new();
    let deadline = Instant::now() + timeout;
    let description = loop {
        let d = clients
            .sfn
            .describe_execution()
            .execution_arn(&arn)
            .send()
            .await
            .context("DescribeExecution")?;
        if d.status() != &aws_sdk_sfn::types::ExecutionStatus::Running {
            break d;
        }
        if Instant::now() > deadline {
            bail!("case {} still running after {timeout:?}", case.name);
        }
        let received = clients
            .sqs
            .receive_message()
            .queue_url(&source.task_queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(0)
            .send()
            .await
            .context("ReceiveMessage")?;
        if received.messages().is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
            continue;
        }
        let history = execution_history(clients, &arn).await?;
        for m in received.messages() {
            let body: Value = serde_json::from_str(m.body().unwrap_or("null"))?;
            let token = find_token(&body).with_context(|| format!("no task token in {body}"))?;
            let (state, parameters) = task_of(&history, &token)
                .with_context(|| format!("no state scheduled the task of {body}"))?;
            let attempt = attempts.entry(state.clone()).or_default();
            let answer = case.responses.answer(&state, *attempt).cloned();
            *attempt += 1;
            answer_task(clients, &token, answer, parameters).await?;
            clients
                .sqs
                .delete_message()
                .queue_url(&source.task_queue_url)
                .set_receipt_handle(m.receipt_handle().map(str::to_owned))
                .send()
                .await
                .context("DeleteMessage")?;
        }
    };
    let history = execution_history(clients, &arn)
        .await?
        .iter()
        .filter_map(|e| e["type"].as_str().map(str::to_owned))
        .collect();
    Ok(Outcome {
        status: description.status().as_str().to_owned(),
        output: description
            .output()
            .map(serde_json::from_str)
            .transpose()
            .context("execution output")?,
        error: description.error().map(str::to_owned),
        cause: description.cause().map(str::to_owned),
        history,
    })
}

async fn answer_task(
    clients: &Clients,
    token: &str,
    answer: Option<ScriptedResponse>,
    parameters: Value,
) -> Result<()> {
    // The scripted runner's rule: no answer scripted means "answer with the Parameters".
    let answer = answer.unwrap_or_else(|| ScriptedResponse::output(parameters));
    let sent = match answer {
        ScriptedResponse {
            no_answer: true, ..
        } => return Ok(()),
        ScriptedResponse {
            error: Some(error),
            cause,
            ..
        } => clients
            .sfn
            .send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause.unwrap_or_default())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{}", aws_sdk_sfn::error::DisplayErrorContext(e))),
        ScriptedResponse { output, .. } => clients
            .sfn
            .send_task_success()
            .task_token(token)
            .output(output.unwrap_or(Value::Null).to_string())
            .send()
            .await
            .map(|_| ())
            .map_err(|e| format!("{}", aws_sdk_sfn::error::DisplayErrorContext(e))),
    };
    // A stale token (the task timed out meanwhile) is what our runner ignores too.
    match sent {
        Ok(()) => Ok(()),
        Err(e) if e.contains("TaskTimedOut") || e.contains("InvalidToken") => Ok(()),
        Err(e) => bail!("answering a task: {e}"),
    }
}

/// One aspect of a case on which the two interpreters may differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Aspect {
    Status,
    Output,
    Error,
    Cause,
    History,
}

impl Aspect {
    pub const ALL: [Aspect; 5] = [
        Aspect::Status,
        Aspect::Output,
        Aspect::Error,
        Aspect::Cause,
        Aspect::History,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Aspect::Status => "status",
            Aspect::Output => "output",
            Aspect::Error => "error",
            Aspect::Cause => "cause",
            Aspect::History => "history",
        }
    }
}

/// Whether a definition runs states concurrently (a Parallel, or a Map without
/// `MaxConcurrency: 1`): then the interleaving of the branches' history events is not defined
/// (AWS runs branches "as concurrently as possible"), and histories are compared as multisets.
pub fn runs_concurrently(definition: &str) -> bool {
    fn walk(v: &Value) -> bool {
        match v {
            Value::Object(m) => {
                let concurrent = match m.get("Type").and_then(Value::as_str) {
                    Some("Parallel") => true,
                    Some("Map") => m.get("MaxConcurrency").and_then(Value::as_u64) != Some(1),
                    _ => false,
                };
                concurrent || m.values().any(walk)
            }
            Value::Array(a) => a.iter().any(walk),
            _ => false,
        }
    }
    serde_json::from_str(definition).is_ok_and(|v: Value| walk(&v))
}

/// The aspects on which two outcomes differ, with a rendering of both sides. With
/// `concurrent`, history sequences that are permutations of each other count as equal (and
/// the permutation is reported on stderr).
pub fn compare(moto: &Outcome, ours: &Outcome, concurrent: bool) -> Vec<(Aspect, String)> {
    let mut diffs = Vec::new();
    let mut check = |aspect: Aspect, a: String, b: String| {
        if a != b {
            diffs.push((aspect, format!("moto: {a}\nours: {b}")));
        }
    };
    check(Aspect::Status, moto.status.clone(), ours.status.clone());
    check(Aspect::Output, fmt(&moto.output), fmt(&ours.output));
    check(Aspect::Error, fmt(&moto.error), fmt(&ours.error));
    check(Aspect::Cause, fmt(&moto.cause), fmt(&ours.cause));
    let (mut a, mut b) = (moto.history.clone(), ours.history.clone());
    if concurrent && a != b {
        a.sort();
        b.sort();
        if a == b {
            eprintln!(
                "history: same events, different interleaving of concurrent branches\n\
                 moto: {}\nours: {}",
                moto.history.join(","),
                ours.history.join(",")
            );
        }
    }
    if a != b {
        check(
            Aspect::History,
            moto.history.join(","),
            ours.history.join(","),
        );
    }
    diffs
}

fn fmt<T: std::fmt::Debug>(v: &Option<T>) -> String {
    format!("{v:?}")
}

/// The differences `tests/conformance/DIFFERENCES.md` lists, as (case, aspect) pairs: rows of
/// its tables whose first two cells are a backticked case name and a backticked aspect.
#[derive(Debug, Clone, Default)]
pub struct Differences(pub Vec<(String, String)>);

impl Differences {
    pub fn load() -> Result<Differences> {
        let text = std::fs::read_to_string(cases_dir().join("DIFFERENCES.md"))
            .context("tests/conformance/DIFFERENCES.md")?;
        Ok(Differences::parse(&text))
    }

    pub fn parse(text: &str) -> Differences {
        let mut listed = Vec::new();
        for line in text.lines() {
            let cells: Vec<&str> = line.split('|').map(str::trim).collect();
            // "| `case` | `aspect` | ..." splits into ["", "`case`", "`aspect`", ...].
            if cells.len() > 3 {
                let unquote = |c: &str| {
                    c.strip_prefix('`')
                        .and_then(|c| c.strip_suffix('`'))
                        .map(str::to_owned)
                };
                if let (Some(case), Some(aspect)) = (unquote(cells[1]), unquote(cells[2])) {
                    listed.push((case, aspect));
                }
            }
        }
        Differences(listed)
    }

    pub fn lists(&self, case: &str, aspect: Aspect) -> bool {
        self.0.iter().any(|(c, a)| c == case && a == aspect.name())
    }

    /// Asserts that the case's differences are exactly the listed ones: an unlisted
    /// difference fails, and so does a listed one that no longer occurs (a stale entry).
    /// Listed differences that occur are reported on stderr, never skipped silently.
    pub fn check(&self, case: &str, moto: &Outcome, ours: &Outcome, concurrent: bool) {
        let found = compare(moto, ours, concurrent);
        let mut unexpected = Vec::new();
        for (aspect, detail) in &found {
            if self.lists(case, *aspect) {
                eprintln!(
                    "known difference (tests/conformance/DIFFERENCES.md) {case}/{}:\n{detail}",
                    aspect.name()
                );
            } else {
                unexpected.push(format!("{case}/{}:\n{detail}", aspect.name()));
            }
        }
        let stale: Vec<String> = Aspect::ALL
            .iter()
            .filter(|a| self.lists(case, **a) && !found.iter().any(|(f, _)| f == *a))
            .map(|a| format!("{case}/{}", a.name()))
            .collect();
        assert!(
            unexpected.is_empty() && stale.is_empty(),
            "moto and the local interpreter differ where DIFFERENCES.md does not say so:\n{}\n\
             listed in DIFFERENCES.md but no longer different: {stale:?}",
            unexpected.join("\n")
        );
    }
}
