//! Loading and validating a JSONPath-mode ASL definition.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde_json::{Map, Value};

use crate::choice::{self, ChoiceRule};
use crate::error::{WorkflowError, names};
use crate::path::{self, Path, PathField};

/// A loaded state machine (or a Parallel branch, or a Map's item processor).
#[derive(Debug, Clone)]
pub struct StateMachine {
    pub start_at: String,
    pub states: HashMap<String, State>,
    /// Top level only: the execution's `TimeoutSeconds`.
    pub timeout_seconds: Option<u64>,
}

#[derive(Debug, Clone)]
pub struct State {
    pub name: String,
    pub kind: StateKind,
    pub input_path: PathField,
    pub output_path: PathField,
    pub result_path: PathField,
    pub parameters: Option<Value>,
    pub result_selector: Option<Value>,
    pub next: Option<String>,
    pub end: bool,
    pub retry: Vec<Retrier>,
    pub catch: Vec<Catcher>,
}

impl State {
    pub fn type_name(&self) -> &'static str {
        match self.kind {
            StateKind::Pass { .. } => "Pass",
            StateKind::Task(_) => "Task",
            StateKind::Choice { .. } => "Choice",
            StateKind::Wait(_) => "Wait",
            StateKind::Succeed => "Succeed",
            StateKind::Fail { .. } => "Fail",
            StateKind::Parallel { .. } => "Parallel",
            StateKind::Map(_) => "Map",
        }
    }
}

#[derive(Debug, Clone)]
pub enum Seconds {
    Fixed(u64),
    Path(Path),
}

#[derive(Debug, Clone)]
pub struct TaskSpec {
    pub resource: String,
    pub timeout: Option<Seconds>,
    pub heartbeat: Option<Seconds>,
}

#[derive(Debug, Clone)]
pub enum WaitSpec {
    Seconds(u64),
    Timestamp(String),
    SecondsPath(Path),
    TimestampPath(Path),
}

/// `Error`/`Cause` of a Fail state: literal, or a path/intrinsic (`ErrorPath`/`CausePath`).
#[derive(Debug, Clone)]
pub enum Text {
    Literal(String),
    Dynamic(String),
}

#[derive(Debug, Clone)]
pub struct MapSpec {
    pub processor: Box<StateMachine>,
    pub items_path: PathField,
    pub item_selector: Option<Value>,
    pub max_concurrency: Option<Seconds>,
    /// `ProcessorConfig.Mode: DISTRIBUTED`: each item (or batch) runs as a child execution.
    pub distributed: bool,
    /// `ToleratedFailurePercentage(Path)`: 0 to 100.
    pub tolerated_percentage: Option<Percentage>,
    /// `ToleratedFailureCount(Path)`.
    pub tolerated_count: Option<Seconds>,
    pub item_batcher: Option<ItemBatcher>,
}

#[derive(Debug, Clone)]
pub enum Percentage {
    Fixed(f64),
    Path(Path),
}

/// `ItemBatcher` of a Distributed Map: items go to the child executions in batches,
/// `{"Items": [...], "BatchInput": ...}`.
#[derive(Debug, Clone)]
pub struct ItemBatcher {
    pub max_items: Option<Seconds>,
    pub max_bytes: Option<Seconds>,
    pub batch_input: Option<Value>,
}

#[derive(Debug, Clone)]
pub enum StateKind {
    Pass {
        result: Option<Value>,
    },
    Task(TaskSpec),
    Choice {
        choices: Vec<ChoiceRule>,
        default: Option<String>,
    },
    Wait(WaitSpec),
    Succeed,
    Fail {
        error: Option<Text>,
        cause: Option<Text>,
    },
    Parallel {
        branches: Vec<StateMachine>,
    },
    Map(Box<MapSpec>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Jitter {
    Full,
    None,
}

#[derive(Debug, Clone)]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: u64,
    pub max_attempts: u32,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<u64>,
    pub jitter: Jitter,
}

#[derive(Debug, Clone)]
pub struct Catcher {
    pub error_equals: Vec<String>,
    pub next: String,
    pub result_path: PathField,
}

/// Does an `ErrorEquals` entry match an error name? `States.ALL` matches every error but
/// `States.Runtime`; `States.TaskFailed` every error but `States.Timeout` (and
/// `States.Runtime`). `States.DataLimitExceeded` is caught like any other error, by name and
/// by `States.ALL`, as AWS does (tests/conformance/DIFFERENCES.md: the error-handling page
/// calls it terminal).
pub fn error_matches(pattern: &str, error: &str) -> bool {
    let terminal = error == names::RUNTIME;
    match pattern {
        names::ALL => !terminal,
        names::TASK_FAILED => !terminal && error != names::TIMEOUT,
        p => p == error && !terminal,
    }
}

/// Replaces `${Name}` in every string (keys too) with the substitution's value, like CDK's
/// `definitionSubstitutions`. An unresolved `${...}` is an error.
pub fn substitute(value: Value, subs: &BTreeMap<String, String>) -> Result<Value, WorkflowError> {
    fn sub_str(s: &str, subs: &BTreeMap<String, String>) -> Result<String, WorkflowError> {
        let mut out = String::with_capacity(s.len());
        let mut rest = s;
        while let Some(i) = rest.find("${") {
            out.push_str(&rest[..i]);
            let after = &rest[i + 2..];
            let Some(end) = after.find('}') else {
                out.push_str(&rest[i..]);
                return Ok(out);
            };
            let name = &after[..end];
            let v = subs.get(name).ok_or_else(|| {
                WorkflowError::definition(
                    format!("substitution '${{{name}}}'"),
                    "no value was given for this substitution variable",
                )
            })?;
            out.push_str(v);
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }
    Ok(match value {
        Value::String(s) => Value::String(sub_str(&s, subs)?),
        Value::Array(a) => Value::Array(
            a.into_iter()
                .map(|v| substitute(v, subs))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => {
            let mut m = Map::new();
            for (k, v) in o {
                m.insert(sub_str(&k, subs)?, substitute(v, subs)?);
            }
            Value::Object(m)
        }
        other => other,
    })
}

/// Parses and validates a definition given as JSON text, after substitutions.
pub fn load(text: &str, subs: &BTreeMap<String, String>) -> Result<StateMachine, WorkflowError> {
    let raw: Value = serde_json::from_str(text)
        .map_err(|e| WorkflowError::definition("definition", format!("not valid JSON: {e}")))?;
    let raw = substitute(raw, subs)?;
    parse_machine(&raw, "", true)
}

fn err(loc: &str, msg: impl Into<String>) -> WorkflowError {
    WorkflowError::definition(loc.to_string(), msg)
}

fn parse_machine(v: &Value, prefix: &str, top: bool) -> Result<StateMachine, WorkflowError> {
    let here = if prefix.is_empty() {
        "the top level".to_string()
    } else {
        prefix.to_string()
    };
    let obj = v
        .as_object()
        .ok_or_else(|| err(&here, "a state machine must be a JSON object"))?;
    let allowed: &[&str] = if top {
        &[
            "StartAt",
            "States",
            "Comment",
            "Version",
            "TimeoutSeconds",
            "QueryLanguage",
        ]
    } else {
        &["StartAt", "States", "Comment", "ProcessorConfig"]
    };
    for k in obj.keys() {
        if !allowed.contains(&k.as_str()) {
            return Err(err(&here, format!("unknown field '{k}'")));
        }
    }
    if let Some(q) = obj.get("QueryLanguage")
        && q != "JSONPath"
    {
        return Err(err(
            &format!("{here} field 'QueryLanguage'"),
            "only JSONPath is supported",
        ));
    }
    let start_at = obj
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or_else(|| {
            err(
                &format!("{here} field 'StartAt'"),
                "StartAt is required and must be a string",
            )
        })?
        .to_string();
    let states_obj = obj
        .get("States")
        .and_then(Value::as_object)
        .ok_or_else(|| {
            err(
                &format!("{here} field 'States'"),
                "States is required and must be an object",
            )
        })?;
    if states_obj.is_empty() {
        return Err(err(
            &format!("{here} field 'States'"),
            "States must not be empty",
        ));
    }
    let timeout_seconds = match obj.get("TimeoutSeconds") {
        None => None,
        Some(t) => Some(t.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            err(
                &format!("{here} field 'TimeoutSeconds'"),
                "must be a positive integer",
            )
        })?),
    };
    let mut states = HashMap::new();
    for (name, sv) in states_obj {
        if name.is_empty() || name.chars().count() > 80 {
            return Err(err(
                &format!("{prefix}state '{name}'"),
                "state names must be 1 to 80 characters",
            ));
        }
        let st = parse_state(name, sv, prefix)?;
        states.insert(name.clone(), st);
    }
    let m = StateMachine {
        start_at,
        states,
        timeout_seconds,
    };
    check_targets(&m, &here, prefix)?;
    Ok(m)
}

fn check_targets(m: &StateMachine, here: &str, prefix: &str) -> Result<(), WorkflowError> {
    if !m.states.contains_key(&m.start_at) {
        return Err(err(
            &format!("{here} field 'StartAt'"),
            format!("StartAt names '{}', which is not a state", m.start_at),
        ));
    }
    let check = |from: &str, field: &str, to: &str| {
        if m.states.contains_key(to) {
            Ok(())
        } else {
            Err(err(
                &format!("{prefix}state '{from}' field '{field}'"),
                format!("'{to}' is not a state in this scope"),
            ))
        }
    };
    let mut edges: HashMap<&str, Vec<&str>> = HashMap::new();
    for (name, st) in &m.states {
        let e = edges.entry(name.as_str()).or_default();
        if let Some(n) = &st.next {
            check(name, "Next", n)?;
            e.push(n);
        }
        for (i, c) in st.catch.iter().enumerate() {
            check(name, &format!("Catch[{i}].Next"), &c.next)?;
            e.push(&c.next);
        }
        if let StateKind::Choice { choices, default } = &st.kind {
            for (i, c) in choices.iter().enumerate() {
                check(name, &format!("Choices[{i}].Next"), &c.next)?;
                e.push(&c.next);
            }
            if let Some(d) = default {
                check(name, "Default", d)?;
                e.push(d);
            }
        }
    }
    // Every state must be reachable from StartAt, as Step Functions requires.
    let mut seen: HashSet<&str> = HashSet::new();
    let mut stack = vec![m.start_at.as_str()];
    while let Some(s) = stack.pop() {
        if seen.insert(s)
            && let Some(ns) = edges.get(s)
        {
            stack.extend(ns.iter().copied());
        }
    }
    let mut unreachable: Vec<&String> = m
        .states
        .keys()
        .filter(|k| !seen.contains(k.as_str()))
        .collect();
    unreachable.sort();
    if let Some(u) = unreachable.first() {
        return Err(err(
            &format!("{prefix}state '{u}'"),
            "the state is not reachable from StartAt",
        ));
    }
    Ok(())
}

const COMMON: &[&str] = &["Type", "Comment"];

/// The optimized integrations' actions (https://docs.aws.amazon.com/step-functions/latest/dg/integrate-optimized.html
/// and each service's page). A service listed here with an action not listed is refused, as
/// CreateStateMachine refuses it; services not listed (and `aws-sdk:*`) are left to run time.
const OPTIMIZED_ACTIONS: &[(&str, &[&str])] = &[
    ("lambda", &["invoke"]),
    (
        "dynamodb",
        &["getItem", "putItem", "updateItem", "deleteItem"],
    ),
    ("sqs", &["sendMessage"]),
    ("sns", &["publish"]),
    ("events", &["putEvents"]),
    ("states", &["startExecution"]),
    ("ecs", &["runTask"]),
    ("batch", &["submitJob"]),
    ("glue", &["startJobRun"]),
    (
        "athena",
        &[
            "startQueryExecution",
            "stopQueryExecution",
            "getQueryExecution",
            "getQueryResults",
        ],
    ),
    ("apigateway", &["invoke"]),
    ("http", &["invoke"]),
];

/// Refuses `arn:aws:states:::SERVICE:ACTION[.sync|.sync:2|.waitForTaskToken]` with an unknown
/// ACTION of a known SERVICE, in CreateStateMachine's words.
fn check_integration(resource: &str) -> Result<(), String> {
    let Some(rest) = resource.strip_prefix("arn:aws:states:::") else {
        return Ok(());
    };
    let Some((service, action)) = rest.split_once(':') else {
        return Ok(());
    };
    let action = action
        .strip_suffix(".waitForTaskToken")
        .or_else(|| action.strip_suffix(".sync:2"))
        .or_else(|| action.strip_suffix(".sync"))
        .unwrap_or(action);
    match OPTIMIZED_ACTIONS.iter().find(|(s, _)| *s == service) {
        Some((_, actions)) if !actions.contains(&action) => Err(unrecognized(resource)),
        _ => Ok(()),
    }
}

fn unrecognized(resource: &str) -> String {
    format!(
        "SCHEMA_VALIDATION_FAILED: The resource provided {resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region."
    )
}

fn allowed_fields(ty: &str) -> Option<&'static [&'static str]> {
    Some(match ty {
        "Pass" => &[
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "Result",
            "Next",
            "End",
        ],
        "Task" => &[
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Next",
            "End",
            "Retry",
            "Catch",
            "Resource",
            "TimeoutSeconds",
            "TimeoutSecondsPath",
            "HeartbeatSeconds",
            "HeartbeatSecondsPath",
            "Credentials",
        ],
        "Choice" => &["InputPath", "OutputPath", "Choices", "Default"],
        "Wait" => &[
            "InputPath",
            "OutputPath",
            "Next",
            "End",
            "Seconds",
            "Timestamp",
            "SecondsPath",
            "TimestampPath",
        ],
        "Succeed" => &["InputPath", "OutputPath"],
        "Fail" => &["Error", "Cause", "ErrorPath", "CausePath"],
        "Parallel" => &[
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Next",
            "End",
            "Retry",
            "Catch",
            "Branches",
        ],
        "Map" => &[
            "InputPath",
            "OutputPath",
            "ResultPath",
            "Parameters",
            "ResultSelector",
            "Next",
            "End",
            "Retry",
            "Catch",
            "ItemsPath",
            "ItemSelector",
            "MaxConcurrency",
            "MaxConcurrencyPath",
            "Iterator",
            "ItemProcessor",
            "Label",
            "ToleratedFailurePercentage",
            "ToleratedFailurePercentagePath",
            "ToleratedFailureCount",
            "ToleratedFailureCountPath",
            "ItemBatcher",
            "ItemReader",
            "ResultWriter",
        ],
        _ => return None,
    })
}

fn path_field(
    obj: &Map<String, Value>,
    key: &str,
    loc: &str,
    reference: bool,
) -> Result<PathField, WorkflowError> {
    match obj.get(key) {
        None => Ok(PathField::Default),
        Some(Value::Null) => Ok(PathField::Null),
        Some(Value::String(s)) => {
            let p = Path::parse(s).map_err(|e| err(&format!("{loc} field '{key}'"), e))?;
            // InputPath, OutputPath and ItemsPath may read the context object; a ResultPath
            // writes into the state's output, never into the context.
            if p.context && key == "ResultPath" {
                return Err(err(
                    &format!("{loc} field '{key}'"),
                    "must not refer to the context object",
                ));
            }
            if reference && !p.is_reference() {
                return Err(err(
                    &format!("{loc} field '{key}'"),
                    format!("'{s}' must be a reference path (names and indexes only)"),
                ));
            }
            Ok(PathField::Path(p))
        }
        Some(_) => Err(err(
            &format!("{loc} field '{key}'"),
            "must be a path string or null",
        )),
    }
}

fn template(
    obj: &Map<String, Value>,
    key: &str,
    loc: &str,
) -> Result<Option<Value>, WorkflowError> {
    match obj.get(key) {
        None => Ok(None),
        Some(v) => {
            path::validate_template(v).map_err(|e| err(&format!("{loc} field '{key}'"), e))?;
            Ok(Some(v.clone()))
        }
    }
}

fn seconds(
    obj: &Map<String, Value>,
    key: &str,
    loc: &str,
    min: u64,
) -> Result<Option<Seconds>, WorkflowError> {
    let path_key = format!("{key}Path");
    match (obj.get(key), obj.get(&path_key)) {
        (Some(_), Some(_)) => Err(err(
            loc,
            format!("{key} and {path_key} are mutually exclusive"),
        )),
        (Some(v), None) => v
            .as_u64()
            .filter(|n| *n >= min && *n <= 99_999_999)
            .map(|n| Some(Seconds::Fixed(n)))
            .ok_or_else(|| {
                err(
                    &format!("{loc} field '{key}'"),
                    format!("must be an integer from {min} to 99999999"),
                )
            }),
        (None, Some(v)) => {
            let s = v.as_str().ok_or_else(|| {
                err(
                    &format!("{loc} field '{path_key}'"),
                    "must be a path string",
                )
            })?;
            let p = Path::parse(s).map_err(|e| err(&format!("{loc} field '{path_key}'"), e))?;
            if !p.is_reference() {
                return Err(err(
                    &format!("{loc} field '{path_key}'"),
                    "must be a reference path",
                ));
            }
            Ok(Some(Seconds::Path(p)))
        }
        (None, None) => Ok(None),
    }
}

fn error_list(v: Option<&Value>, loc: &str) -> Result<Vec<String>, WorkflowError> {
    let arr = v
        .and_then(Value::as_array)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| {
            err(
                &format!("{loc}.ErrorEquals"),
                "ErrorEquals must be a non-empty array of strings",
            )
        })?;
    let list = arr
        .iter()
        .map(|e| {
            e.as_str()
                .map(str::to_string)
                .ok_or_else(|| err(&format!("{loc}.ErrorEquals"), "error names must be strings"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    if list.iter().any(|e| e == names::ALL) && list.len() > 1 {
        return Err(err(
            &format!("{loc}.ErrorEquals"),
            "States.ALL must appear alone",
        ));
    }
    Ok(list)
}

fn parse_retry(v: &Value, loc: &str) -> Result<Vec<Retrier>, WorkflowError> {
    let arr = v
        .as_array()
        .ok_or_else(|| err(&format!("{loc} field 'Retry'"), "Retry must be an array"))?;
    let mut out = Vec::new();
    for (i, r) in arr.iter().enumerate() {
        let at = format!("{loc} field 'Retry[{i}]'");
        let o = r
            .as_object()
            .ok_or_else(|| err(&at, "a retrier must be an object"))?;
        for k in o.keys() {
            if ![
                "ErrorEquals",
                "IntervalSeconds",
                "MaxAttempts",
                "BackoffRate",
                "MaxDelaySeconds",
                "JitterStrategy",
                "Comment",
            ]
            .contains(&k.as_str())
            {
                return Err(err(&at, format!("unknown field '{k}'")));
            }
        }
        let error_equals = error_list(o.get("ErrorEquals"), &at)?;
        if error_equals.iter().any(|e| e == names::ALL) && i + 1 != arr.len() {
            return Err(err(&at, "a retrier with States.ALL must be the last one"));
        }
        let interval_seconds = match o.get("IntervalSeconds") {
            None => 1,
            Some(v) => v
                .as_u64()
                .filter(|n| (1..=99_999_999).contains(n))
                .ok_or_else(|| {
                    err(
                        &format!("{at}.IntervalSeconds"),
                        "must be an integer from 1 to 99999999",
                    )
                })?,
        };
        let max_attempts = match o.get("MaxAttempts") {
            None => 3,
            Some(v) => v
                .as_u64()
                .filter(|n| *n <= 99_999_999)
                .and_then(|n| u32::try_from(n).ok())
                .ok_or_else(|| {
                    err(
                        &format!("{at}.MaxAttempts"),
                        "must be an integer from 0 to 99999999",
                    )
                })?,
        };
        let backoff_rate = match o.get("BackoffRate") {
            None => 2.0,
            Some(v) => v.as_f64().filter(|n| *n >= 1.0).ok_or_else(|| {
                err(
                    &format!("{at}.BackoffRate"),
                    "must be a number of at least 1.0",
                )
            })?,
        };
        let max_delay_seconds = match o.get("MaxDelaySeconds") {
            None => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|n| (1..=31_622_400).contains(n))
                    .ok_or_else(|| {
                        err(
                            &format!("{at}.MaxDelaySeconds"),
                            "must be an integer from 1 to 31622400",
                        )
                    })?,
            ),
        };
        let jitter = match o.get("JitterStrategy").map(|v| v.as_str()) {
            None | Some(Some("NONE")) => Jitter::None,
            Some(Some("FULL")) => Jitter::Full,
            _ => return Err(err(&format!("{at}.JitterStrategy"), "must be FULL or NONE")),
        };
        out.push(Retrier {
            error_equals,
            interval_seconds,
            max_attempts,
            backoff_rate,
            max_delay_seconds,
            jitter,
        });
    }
    Ok(out)
}

fn parse_catch(v: &Value, loc: &str) -> Result<Vec<Catcher>, WorkflowError> {
    let arr = v
        .as_array()
        .ok_or_else(|| err(&format!("{loc} field 'Catch'"), "Catch must be an array"))?;
    let mut out = Vec::new();
    for (i, c) in arr.iter().enumerate() {
        let at = format!("{loc} field 'Catch[{i}]'");
        let o = c
            .as_object()
            .ok_or_else(|| err(&at, "a catcher must be an object"))?;
        for k in o.keys() {
            if !["ErrorEquals", "Next", "ResultPath", "Comment"].contains(&k.as_str()) {
                return Err(err(&at, format!("unknown field '{k}'")));
            }
        }
        let error_equals = error_list(o.get("ErrorEquals"), &at)?;
        if error_equals.iter().any(|e| e == names::ALL) && i + 1 != arr.len() {
            return Err(err(&at, "a catcher with States.ALL must be the last one"));
        }
        let next = o
            .get("Next")
            .and_then(Value::as_str)
            .ok_or_else(|| err(&format!("{at}.Next"), "a catcher needs a Next state"))?
            .to_string();
        let result_path = path_field(o, "ResultPath", &at, true)?;
        out.push(Catcher {
            error_equals,
            next,
            result_path,
        });
    }
    Ok(out)
}

fn text(obj: &Map<String, Value>, key: &str, loc: &str) -> Result<Option<Text>, WorkflowError> {
    let path_key = format!("{key}Path");
    match (obj.get(key), obj.get(&path_key)) {
        (Some(_), Some(_)) => Err(err(
            loc,
            format!("{key} and {path_key} are mutually exclusive"),
        )),
        (Some(v), None) => v
            .as_str()
            .map(|s| Some(Text::Literal(s.to_string())))
            .ok_or_else(|| err(&format!("{loc} field '{key}'"), "must be a string")),
        (None, Some(v)) => {
            let s = v
                .as_str()
                .ok_or_else(|| err(&format!("{loc} field '{path_key}'"), "must be a string"))?;
            path::validate_dynamic(s).map_err(|e| err(&format!("{loc} field '{path_key}'"), e))?;
            Ok(Some(Text::Dynamic(s.to_string())))
        }
        (None, None) => Ok(None),
    }
}

fn parse_state(name: &str, v: &Value, prefix: &str) -> Result<State, WorkflowError> {
    let loc = format!("{prefix}state '{name}'");
    let obj = v
        .as_object()
        .ok_or_else(|| err(&loc, "a state must be a JSON object"))?;
    let ty = obj.get("Type").and_then(Value::as_str).ok_or_else(|| {
        err(
            &format!("{loc} field 'Type'"),
            "Type is required and must be a string",
        )
    })?;
    let allowed = allowed_fields(ty).ok_or_else(|| {
        err(
            &format!("{loc} field 'Type'"),
            format!(
                "unknown state type '{ty}' (Pass, Task, Choice, Wait, Succeed, Fail, Parallel, Map)"
            ),
        )
    })?;
    for k in obj.keys() {
        if !COMMON.contains(&k.as_str()) && !allowed.contains(&k.as_str()) {
            if k == "QueryLanguage" || k == "Arguments" || k == "Output" || k == "Assign" {
                return Err(err(
                    &format!("{loc} field '{k}'"),
                    "JSONata and variables are not supported",
                ));
            }
            return Err(err(
                &format!("{loc} field '{k}'"),
                format!("'{k}' is not a field of a {ty} state"),
            ));
        }
    }
    let terminal_kind = matches!(ty, "Choice" | "Succeed" | "Fail");
    let next = match obj.get("Next") {
        None => None,
        Some(Value::String(s)) => Some(s.clone()),
        Some(_) => return Err(err(&format!("{loc} field 'Next'"), "must be a string")),
    };
    let end = match obj.get("End") {
        None => false,
        Some(Value::Bool(b)) => *b,
        Some(_) => return Err(err(&format!("{loc} field 'End'"), "must be a boolean")),
    };
    if !terminal_kind {
        match (&next, end) {
            (Some(_), true) => return Err(err(&loc, "a state cannot have both Next and End")),
            (None, false) => {
                return Err(err(
                    &loc,
                    "a non-terminal state needs Next or \"End\": true",
                ));
            }
            _ => {}
        }
    }
    let retry = match obj.get("Retry") {
        Some(r) => parse_retry(r, &loc)?,
        None => Vec::new(),
    };
    let catch = match obj.get("Catch") {
        Some(c) => parse_catch(c, &loc)?,
        None => Vec::new(),
    };
    let kind = match ty {
        "Pass" => StateKind::Pass {
            result: obj.get("Result").cloned(),
        },
        "Task" => {
            let resource = obj
                .get("Resource")
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .ok_or_else(|| {
                    err(
                        &format!("{loc} field 'Resource'"),
                        "a Task needs a Resource URI",
                    )
                })?
                .to_string();
            check_integration(&resource).map_err(|m| err(&format!("{loc} field 'Resource'"), m))?;
            let timeout = seconds(obj, "TimeoutSeconds", &loc, 1)?;
            let heartbeat = seconds(obj, "HeartbeatSeconds", &loc, 1)?;
            if let (Some(Seconds::Fixed(t)), Some(Seconds::Fixed(h))) = (&timeout, &heartbeat)
                && h >= t
            {
                return Err(err(
                    &format!("{loc} field 'HeartbeatSeconds'"),
                    "must be smaller than TimeoutSeconds",
                ));
            }
            StateKind::Task(TaskSpec {
                resource,
                timeout,
                heartbeat,
            })
        }
        "Choice" => {
            let arr = obj
                .get("Choices")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    err(
                        &format!("{loc} field 'Choices'"),
                        "Choices must be a non-empty array",
                    )
                })?;
            let mut choices = Vec::new();
            for (i, r) in arr.iter().enumerate() {
                let at = format!("Choices[{i}]");
                let o = r.as_object().ok_or_else(|| {
                    err(
                        &format!("{loc} field '{at}'"),
                        "a choice rule must be an object",
                    )
                })?;
                let next = o
                    .get("Next")
                    .and_then(Value::as_str)
                    .ok_or_else(|| {
                        err(
                            &format!("{loc} field '{at}.Next'"),
                            "a top-level choice rule needs Next",
                        )
                    })?
                    .to_string();
                let condition = choice::parse_condition(o, &at).map_err(|e| err(&loc, e))?;
                choices.push(ChoiceRule { condition, next });
            }
            let default = match obj.get("Default") {
                None => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(_) => return Err(err(&format!("{loc} field 'Default'"), "must be a string")),
            };
            StateKind::Choice { choices, default }
        }
        "Wait" => {
            let present: Vec<&str> = ["Seconds", "Timestamp", "SecondsPath", "TimestampPath"]
                .into_iter()
                .filter(|k| obj.contains_key(*k))
                .collect();
            if present.len() != 1 {
                return Err(err(
                    &loc,
                    "a Wait state needs exactly one of Seconds, Timestamp, SecondsPath, TimestampPath",
                ));
            }
            let f = present[0];
            let v = &obj[f];
            let at = format!("{loc} field '{f}'");
            StateKind::Wait(match f {
                "Seconds" => WaitSpec::Seconds(
                    // "a positive, integer value from 0 up to 99999999" (Step Functions
                    // Developer Guide, Wait workflow state).
                    v.as_u64()
                        .filter(|n| *n <= 99_999_999)
                        .ok_or_else(|| err(&at, "must be an integer from 0 to 99999999"))?,
                ),
                "Timestamp" => {
                    let s = v.as_str().ok_or_else(|| err(&at, "must be a string"))?;
                    if choice::parse_timestamp(s).is_none() {
                        return Err(err(&at, format!("'{s}' is not an RFC 3339 timestamp")));
                    }
                    WaitSpec::Timestamp(s.to_string())
                }
                _ => {
                    let s = v
                        .as_str()
                        .ok_or_else(|| err(&at, "must be a path string"))?;
                    let p = Path::parse(s).map_err(|e| err(&at, e))?;
                    if !p.is_reference() {
                        return Err(err(&at, "must be a reference path"));
                    }
                    if f == "SecondsPath" {
                        WaitSpec::SecondsPath(p)
                    } else {
                        WaitSpec::TimestampPath(p)
                    }
                }
            })
        }
        "Succeed" => StateKind::Succeed,
        "Fail" => StateKind::Fail {
            error: text(obj, "Error", &loc)?,
            cause: text(obj, "Cause", &loc)?,
        },
        "Parallel" => {
            let arr = obj
                .get("Branches")
                .and_then(Value::as_array)
                .filter(|a| !a.is_empty())
                .ok_or_else(|| {
                    err(
                        &format!("{loc} field 'Branches'"),
                        "Branches must be a non-empty array",
                    )
                })?;
            let branches = arr
                .iter()
                .enumerate()
                .map(|(i, b)| {
                    parse_machine(
                        b,
                        &format!("{prefix}state '{name}' field 'Branches[{i}]' / "),
                        false,
                    )
                })
                .collect::<Result<Vec<_>, _>>()?;
            StateKind::Parallel { branches }
        }
        "Map" => {
            let (key, proc_v) = match (obj.get("ItemProcessor"), obj.get("Iterator")) {
                (Some(p), None) => ("ItemProcessor", p),
                (None, Some(i)) => ("Iterator", i),
                (Some(_), Some(_)) => {
                    return Err(err(
                        &loc,
                        "ItemProcessor and Iterator are mutually exclusive",
                    ));
                }
                (None, None) => {
                    return Err(err(
                        &loc,
                        "a Map state needs an ItemProcessor (or Iterator)",
                    ));
                }
            };
            let distributed = match proc_v.get("ProcessorConfig").and_then(|c| c.get("Mode")) {
                None => false,
                Some(Value::String(m)) if m == "INLINE" => false,
                Some(Value::String(m)) if m == "DISTRIBUTED" => true,
                Some(other) => {
                    return Err(err(
                        &format!("{loc} field '{key}.ProcessorConfig.Mode'"),
                        format!("must be INLINE or DISTRIBUTED, not {other}"),
                    ));
                }
            };
            if let Some(t) = proc_v
                .get("ProcessorConfig")
                .and_then(|c| c.get("ExecutionType"))
                && !(distributed && (t == "STANDARD" || t == "EXPRESS"))
            {
                return Err(err(
                    &format!("{loc} field '{key}.ProcessorConfig.ExecutionType'"),
                    "a DISTRIBUTED Map takes ExecutionType STANDARD or EXPRESS",
                ));
            }
            for field in ["ItemReader", "ResultWriter"] {
                if obj.contains_key(field) {
                    return Err(err(
                        &format!("{loc} field '{field}'"),
                        format!(
                            "{field} reads or writes Amazon S3, which the embedded runtime does not have; give the items inline (ItemsPath)"
                        ),
                    ));
                }
            }
            if !distributed && obj.contains_key("ItemBatcher") {
                return Err(err(
                    &format!("{loc} field 'ItemBatcher'"),
                    "ItemBatcher needs ProcessorConfig.Mode DISTRIBUTED",
                ));
            }
            let item_batcher = match obj.get("ItemBatcher") {
                None => None,
                Some(Value::Object(b)) => {
                    let at = format!("{loc} field 'ItemBatcher'");
                    for k in b.keys() {
                        if !matches!(
                            k.as_str(),
                            "MaxItemsPerBatch"
                                | "MaxItemsPerBatchPath"
                                | "MaxInputBytesPerBatch"
                                | "MaxInputBytesPerBatchPath"
                                | "BatchInput"
                        ) {
                            return Err(err(&at, format!("unknown field '{k}'")));
                        }
                    }
                    let batcher = ItemBatcher {
                        max_items: seconds(b, "MaxItemsPerBatch", &at, 1)?,
                        max_bytes: seconds(b, "MaxInputBytesPerBatch", &at, 1)?,
                        batch_input: b.get("BatchInput").cloned(),
                    };
                    if batcher.max_items.is_none() && batcher.max_bytes.is_none() {
                        return Err(err(
                            &at,
                            "ItemBatcher needs MaxItemsPerBatch or MaxInputBytesPerBatch",
                        ));
                    }
                    Some(batcher)
                }
                Some(_) => {
                    return Err(err(
                        &format!("{loc} field 'ItemBatcher'"),
                        "must be an object",
                    ));
                }
            };
            let tolerated_percentage = match (
                obj.get("ToleratedFailurePercentage"),
                obj.get("ToleratedFailurePercentagePath"),
            ) {
                (Some(_), Some(_)) => {
                    return Err(err(
                        &loc,
                        "ToleratedFailurePercentage and ToleratedFailurePercentagePath are mutually exclusive",
                    ));
                }
                (Some(v), None) => Some(Percentage::Fixed(
                    v.as_f64()
                        .filter(|p| (0.0..=100.0).contains(p))
                        .ok_or_else(|| {
                            err(
                                &format!("{loc} field 'ToleratedFailurePercentage'"),
                                "must be a number from 0 to 100",
                            )
                        })?,
                )),
                (None, Some(v)) => {
                    let at = format!("{loc} field 'ToleratedFailurePercentagePath'");
                    let text = v
                        .as_str()
                        .ok_or_else(|| err(&at, "must be a path string"))?;
                    let p = Path::parse(text).map_err(|e| err(&at, e))?;
                    if !p.is_reference() {
                        return Err(err(&at, "must be a reference path"));
                    }
                    Some(Percentage::Path(p))
                }
                (None, None) => None,
            };
            let tolerated_count = seconds(obj, "ToleratedFailureCount", &loc, 0)?;
            let processor = Box::new(parse_machine(
                proc_v,
                &format!("{prefix}state '{name}' field '{key}' / "),
                false,
            )?);
            if obj.contains_key("ItemSelector") && obj.contains_key("Parameters") {
                return Err(err(
                    &loc,
                    "ItemSelector and Parameters are mutually exclusive",
                ));
            }
            let item_selector = match template(obj, "ItemSelector", &loc)? {
                Some(t) => Some(t),
                None => template(obj, "Parameters", &loc)?,
            };
            StateKind::Map(Box::new(MapSpec {
                processor,
                items_path: path_field(obj, "ItemsPath", &loc, true)?,
                item_selector,
                max_concurrency: seconds(obj, "MaxConcurrency", &loc, 0)?,
                distributed,
                tolerated_percentage,
                tolerated_count,
                item_batcher,
            }))
        }
        _ => {
            return Err(err(
                &format!("{loc} field 'Type'"),
                format!("unknown state type '{ty}'"),
            ));
        }
    };
    let is_map = matches!(kind, StateKind::Map(_));
    Ok(State {
        name: name.to_string(),
        input_path: path_field(obj, "InputPath", &loc, false)?,
        output_path: path_field(obj, "OutputPath", &loc, false)?,
        result_path: path_field(obj, "ResultPath", &loc, true)?,
        parameters: if is_map {
            None
        } else {
            template(obj, "Parameters", &loc)?
        },
        result_selector: template(obj, "ResultSelector", &loc)?,
        next: if terminal_kind && ty != "Choice" {
            None
        } else {
            next
        },
        end,
        retry,
        catch,
        kind,
    })
}

impl StateMachine {
    /// Every Task resource in this machine and its nested branches, with the state using it.
    pub fn resources(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for (name, st) in &self.states {
            match &st.kind {
                StateKind::Task(t) => out.push((name.clone(), t.resource.clone())),
                StateKind::Parallel { branches } => {
                    for b in branches {
                        out.extend(b.resources());
                    }
                }
                StateKind::Map(m) => out.extend(m.processor.resources()),
                _ => {}
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn load_v(v: Value) -> Result<StateMachine, WorkflowError> {
        load(&v.to_string(), &BTreeMap::new())
    }

    fn location(e: WorkflowError) -> String {
        match e {
            WorkflowError::InvalidDefinition { location, .. } => location,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn rejects_a_state_without_next_or_end() {
        let e = load_v(json!({"StartAt": "A", "States": {"A": {"Type": "Pass"}}})).unwrap_err();
        assert_eq!(location(e), "state 'A'");
    }

    #[test]
    fn rejects_unknown_types_and_targets() {
        let e = load_v(json!({"StartAt": "A", "States": {"A": {"Type": "Pas", "End": true}}}))
            .unwrap_err();
        assert_eq!(location(e), "state 'A' field 'Type'");
        let e = load_v(json!({"StartAt": "B", "States": {"A": {"Type": "Pass", "End": true}}}))
            .unwrap_err();
        assert_eq!(location(e), "the top level field 'StartAt'");
        let e = load_v(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "Z"}}}))
            .unwrap_err();
        assert_eq!(location(e), "state 'A' field 'Next'");
    }

    #[test]
    fn rejects_bad_retry_fields() {
        for (retry, field) in [
            (
                json!([{"ErrorEquals": ["X"], "BackoffRate": 0.5}]),
                "BackoffRate",
            ),
            (
                json!([{"ErrorEquals": ["X"], "IntervalSeconds": 0}]),
                "IntervalSeconds",
            ),
            (
                json!([{"ErrorEquals": ["X"], "MaxAttempts": -1}]),
                "MaxAttempts",
            ),
            (
                json!([{"ErrorEquals": ["X"], "JitterStrategy": "HALF"}]),
                "JitterStrategy",
            ),
            (json!([{"ErrorEquals": []}]), "ErrorEquals"),
            (json!([{"ErrorEquals": ["States.ALL", "X"]}]), "ErrorEquals"),
            (
                json!([{"ErrorEquals": ["States.ALL"]}, {"ErrorEquals": ["X"]}]),
                "Retry[0]",
            ),
        ] {
            let e = load_v(json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Retry": retry}}})).unwrap_err();
            let loc = location(e);
            assert!(loc.contains(field), "{loc} should name {field}");
            assert!(loc.starts_with("state 'A'"), "{loc}");
        }
    }

    #[test]
    fn rejects_unreachable_states_and_non_reference_result_paths() {
        let e = load_v(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}, "B": {"Type": "Pass", "End": true}}})).unwrap_err();
        assert_eq!(location(e), "state 'B'");
        let e = load_v(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "ResultPath": "$.a[*]"}}})).unwrap_err();
        assert_eq!(location(e), "state 'A' field 'ResultPath'");
    }

    #[test]
    fn substitutions_apply_and_missing_ones_fail() {
        let d = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": {"bus": "${Bus}"}, "End": true}}}).to_string();
        let mut subs = BTreeMap::new();
        assert!(load(&d, &subs).is_err());
        subs.insert("Bus".to_string(), "b1".to_string());
        let m = load(&d, &subs).unwrap();
        match &m.states["A"].kind {
            StateKind::Pass { result } => assert_eq!(result, &Some(json!({"bus": "b1"}))),
            _ => panic!(),
        }
    }

    #[test]
    fn error_matching_follows_the_spec() {
        assert!(error_matches("States.ALL", "Trip.BusinessError"));
        assert!(!error_matches("States.ALL", "States.Runtime"));
        assert!(!error_matches("States.Runtime", "States.Runtime"));
        assert!(error_matches("States.ALL", "States.DataLimitExceeded"));
        assert!(error_matches("States.TaskFailed", "X"));
        assert!(!error_matches("States.TaskFailed", "States.Timeout"));
        assert!(error_matches("States.Timeout", "States.Timeout"));
    }
}
