//! A scripted runner for `trip states run`: executes a definition in virtual time, answering
//! every task from a responses file, and returns the history.
//!
//! Responses file: `{"BookHotel": [{"output": {...}}, {"error": "Trip.TransientError",
//! "cause": "..."}, {"noAnswer": true}]}`. The i-th attempt of a state (counted over the whole
//! execution) uses entry i; the last entry repeats. A state with no entry answers with its
//! input (the resolved Parameters); a request-response `events:putEvents` answers with a fake
//! EventId. For `.waitForTaskToken` tasks the entry is the callback (`send_task_success` /
//! `send_task_failure`); `noAnswer` leaves the task to its timeout.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::engine::{Engine, ExecutionStatus, VirtualClock};
use crate::error::{TaskError, WorkflowError};
use crate::history::history_json;
use crate::integrations::{
    IntegrationPattern, PUT_EVENTS, TaskIntegration, TaskOutcome, TaskRequest, validate_entries,
};

/// One scripted answer.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    #[serde(
        default,
        rename = "noAnswer",
        skip_serializing_if = "std::ops::Not::not"
    )]
    pub no_answer: bool,
}

/// Answers per state name, by attempt.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Responses(pub BTreeMap<String, Vec<ScriptedResponse>>);

impl Responses {
    /// Parses a responses file.
    pub fn from_json(text: &str) -> Result<Responses, WorkflowError> {
        let r: Responses = serde_json::from_str(text)
            .map_err(|e| WorkflowError::Validation(format!("bad responses file: {e}")))?;
        for (state, list) in &r.0 {
            for (i, resp) in list.iter().enumerate() {
                let kinds = usize::from(resp.output.is_some())
                    + usize::from(resp.error.is_some())
                    + usize::from(resp.no_answer);
                if kinds != 1 {
                    return Err(WorkflowError::Validation(format!(
                        "responses['{state}'][{i}] needs exactly one of output, error, noAnswer"
                    )));
                }
            }
        }
        Ok(r)
    }

    /// The answer for a state's attempt (0-based); the last entry repeats.
    pub fn answer(&self, state: &str, attempt: usize) -> Option<&ScriptedResponse> {
        let list = self.0.get(state)?;
        list.get(attempt).or_else(|| list.last())
    }

    /// Adds an answer (builder style, for tests).
    pub fn with(mut self, state: &str, response: ScriptedResponse) -> Self {
        self.0.entry(state.to_string()).or_default().push(response);
        self
    }
}

impl ScriptedResponse {
    pub fn output(v: Value) -> Self {
        ScriptedResponse {
            output: Some(v),
            ..Default::default()
        }
    }
    pub fn error(error: &str, cause: &str) -> Self {
        ScriptedResponse {
            error: Some(error.into()),
            cause: Some(cause.into()),
            ..Default::default()
        }
    }
    pub fn no_answer() -> Self {
        ScriptedResponse {
            no_answer: true,
            ..Default::default()
        }
    }
}

/// What a scripted run produced.
#[derive(Debug, Clone, PartialEq)]
pub struct ScriptedRun {
    pub execution_arn: String,
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// GetExecutionHistory's shape: `{"events": [...]}`.
    pub history: Value,
    pub transitions: u64,
    /// Every putEvents entry the run published, in order.
    pub published: Vec<Value>,
    /// Virtual time from start to end, in milliseconds.
    pub elapsed_ms: i64,
}

impl ScriptedRun {
    /// A JSON summary for the CLI.
    pub fn to_json(&self) -> Value {
        json!({
            "executionArn": self.execution_arn,
            "status": self.status.as_str(),
            "output": self.output,
            "error": self.error,
            "cause": self.cause,
            "stateTransitions": self.transitions,
            "elapsedMillis": self.elapsed_ms,
            "published": self.published,
            "history": self.history,
        })
    }

    /// The DetailTypes published, in order (handy for asserting compensation order).
    pub fn published_detail_types(&self) -> Vec<String> {
        self.published
            .iter()
            .filter_map(|e| {
                e.get("DetailType")
                    .and_then(Value::as_str)
                    .map(str::to_string)
            })
            .collect()
    }
}

#[derive(Default)]
struct Shared {
    attempts: HashMap<String, usize>,
    callbacks: Vec<(String, ScriptedResponse)>,
    published: Vec<Value>,
}

struct ScriptedIntegration {
    responses: Responses,
    shared: Arc<Mutex<Shared>>,
}

impl TaskIntegration for ScriptedIntegration {
    fn invoke(&mut self, request: &TaskRequest<'_>) -> Result<TaskOutcome, TaskError> {
        let mut shared = self
            .shared
            .lock()
            .map_err(|_| TaskError::new("States.Runtime", "scripted runner lock poisoned"))?;
        let attempt = {
            let n = shared
                .attempts
                .entry(request.state_name.to_string())
                .or_insert(0);
            *n += 1;
            *n - 1
        };
        let scripted = self.responses.answer(request.state_name, attempt).cloned();
        let is_put_events = request.base_resource == PUT_EVENTS;
        let fake_put = |shared: &mut Shared| -> Result<Value, TaskError> {
            let entries = validate_entries(request.parameters)?;
            let mut ids = Vec::new();
            for e in entries {
                shared.published.push(e.clone());
                ids.push(json!({"EventId": format!("scripted-{:08}", shared.published.len())}));
            }
            Ok(json!({"Entries": ids, "FailedEntryCount": 0}))
        };
        if request.pattern == IntegrationPattern::WaitForTaskToken {
            let submitted = if is_put_events {
                fake_put(&mut shared)?
            } else {
                json!({})
            };
            let answer =
                scripted.unwrap_or_else(|| ScriptedResponse::output(request.parameters.clone()));
            shared
                .callbacks
                .push((request.task_token.to_string(), answer));
            return Ok(TaskOutcome::Pending(submitted));
        }
        match scripted {
            Some(ScriptedResponse {
                error: Some(e),
                cause,
                ..
            }) => Err(TaskError::new(e, cause.unwrap_or_default())),
            Some(ScriptedResponse {
                no_answer: true, ..
            }) => Ok(TaskOutcome::Pending(Value::Null)),
            Some(ScriptedResponse {
                output: Some(v), ..
            }) => {
                if is_put_events {
                    fake_put(&mut shared)?;
                }
                Ok(TaskOutcome::Completed(v))
            }
            _ if is_put_events => Ok(TaskOutcome::Completed(fake_put(&mut shared)?)),
            _ => Ok(TaskOutcome::Completed(request.parameters.clone())),
        }
    }
}

/// The virtual start time of scripted runs: 2024-01-01T00:00:00Z.
pub const SCRIPTED_START_MS: i64 = 1_704_067_200_000;

const MAX_ROUNDS: usize = 1_000_000;

/// Runs a definition to completion in virtual time, answering tasks from `responses`.
pub fn run_scripted(
    definition_json: &str,
    substitutions: &BTreeMap<String, String>,
    input: Value,
    responses: &Responses,
) -> Result<ScriptedRun, WorkflowError> {
    let clock = VirtualClock::new(SCRIPTED_START_MS);
    let mut engine = Engine::in_memory(Arc::new(clock.clone()), 0);
    let shared = Arc::new(Mutex::new(Shared::default()));
    engine.set_fallback_integration(Box::new(ScriptedIntegration {
        responses: responses.clone(),
        shared: Arc::clone(&shared),
    }));
    let sm = engine.create_state_machine("scripted", definition_json, substitutions)?;
    let started = engine.start_execution_value(&sm, Some("scripted-run"), input)?;
    let arn = started.execution_arn;
    for _ in 0..MAX_ROUNDS {
        engine.run()?;
        if engine.describe_execution(&arn)?.status != ExecutionStatus::Running {
            break;
        }
        let callbacks = match shared.lock() {
            Ok(mut g) => std::mem::take(&mut g.callbacks),
            Err(_) => return Err(WorkflowError::Store("scripted runner lock poisoned".into())),
        };
        let mut answered = false;
        for (token, answer) in callbacks {
            let r = match answer {
                ScriptedResponse {
                    no_answer: true, ..
                } => continue,
                ScriptedResponse {
                    error: Some(e),
                    cause,
                    ..
                } => engine.send_task_failure(&token, &e, cause.as_deref().unwrap_or("")),
                ScriptedResponse { output, .. } => {
                    engine.send_task_success(&token, &output.unwrap_or(Value::Null).to_string())
                }
            };
            match r {
                Ok(()) => answered = true,
                Err(e) if e.is_stale_callback() => {}
                Err(e) => return Err(e),
            }
        }
        if answered {
            continue;
        }
        match engine.next_wakeup() {
            Some(t) => clock.set(t.max(clock_now(&engine))),
            None => break,
        }
    }
    let d = engine.describe_execution(&arn)?;
    let history = history_json(&engine.get_execution_history(&arn)?);
    let published = shared
        .lock()
        .map(|g| g.published.clone())
        .unwrap_or_default();
    Ok(ScriptedRun {
        execution_arn: arn,
        status: d.status,
        output: d.output,
        error: d.error,
        cause: d.cause,
        history,
        transitions: d.transitions,
        published,
        elapsed_ms: d.stop_ms.unwrap_or_else(|| clock_now(&engine)) - d.start_ms,
    })
}

fn clock_now(engine: &Engine) -> i64 {
    engine.now_ms()
}
