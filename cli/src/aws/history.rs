//! A saga's execution on Step Functions: DescribeExecution, GetExecutionHistory (every page),
//! and the history as a timeline, JSON, an outcome and a Mermaid diagram.

use std::collections::HashMap;

use anyhow::Context;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput;
use aws_sdk_sfn::primitives::{DateTime, DateTimeFormat};
use aws_sdk_sfn::types::HistoryEvent;
use serde_json::{Value, json};
use trip_events::{DetailType, EventEnvelope, Service};
use trip_local::TripOutcome;
use trip_local::runtime::outcome_of;

use super::{Aws, sdk_error};
use crate::output::Output;

/// One history event, reduced to what the saga's timeline shows.
#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub id: i64,
    pub at_ms: i64,
    /// The history event type (`TaskScheduled`, ...).
    pub kind: String,
    /// The state it belongs to (the last state entered).
    pub state: Option<String>,
    /// For a `TaskScheduled` of `events:putEvents`: the entry's detail-type.
    pub detail_type: Option<String>,
    pub resource: Option<String>,
    /// The entry's detail (a putEvents task's resolved parameters).
    pub detail: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

pub fn millis(t: &DateTime) -> i64 {
    t.to_millis().unwrap_or_default()
}

pub fn rfc3339(t: &DateTime) -> String {
    t.fmt(DateTimeFormat::DateTime).unwrap_or_default()
}

/// The steps of a history, in order.
pub fn steps(events: &[HistoryEvent]) -> Vec<Step> {
    let mut state: Option<String> = None;
    events
        .iter()
        .map(|e| {
            if let Some(d) = e.state_entered_event_details() {
                state = Some(d.name().to_owned());
            }
            let mut step = Step {
                id: e.id(),
                at_ms: millis(e.timestamp()),
                kind: e.r#type().as_str().to_owned(),
                state: state.clone(),
                detail_type: None,
                resource: None,
                detail: None,
                error: None,
                cause: None,
            };
            if let Some(d) = e.task_scheduled_event_details() {
                step.resource = Some(format!("{}:{}", d.resource_type(), d.resource()));
                let params: Value = serde_json::from_str(d.parameters()).unwrap_or(Value::Null);
                let entry = &params["Entries"][0];
                step.detail_type = entry["DetailType"].as_str().map(str::to_owned);
                step.detail = match &entry["Detail"] {
                    Value::String(s) => serde_json::from_str(s).ok(),
                    Value::Null => None,
                    v => Some(v.clone()),
                };
            }
            let (error, cause) = if let Some(d) = e.task_failed_event_details() {
                (d.error(), d.cause())
            } else if let Some(d) = e.task_timed_out_event_details() {
                (d.error(), d.cause())
            } else if let Some(d) = e.execution_failed_event_details() {
                (d.error(), d.cause())
            } else if let Some(d) = e.execution_timed_out_event_details() {
                (d.error(), d.cause())
            } else if let Some(d) = e.execution_aborted_event_details() {
                (d.error(), d.cause())
            } else {
                (None, None)
            };
            step.error = error.filter(|s| !s.is_empty()).map(str::to_owned);
            step.cause = cause.filter(|s| !s.is_empty()).map(str::to_owned);
            step
        })
        .collect()
}

/// DescribeExecution; `None` when there is no such execution (yet).
pub async fn describe(aws: &Aws, arn: &str) -> anyhow::Result<Option<DescribeExecutionOutput>> {
    match aws.sfn.describe_execution().execution_arn(arn).send().await {
        Ok(d) => Ok(Some(d)),
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_execution_does_not_exist()) =>
        {
            Ok(None)
        }
        Err(e) => Err(sdk_error(e)).with_context(|| format!("DescribeExecution {arn}")),
    }
}

/// GetExecutionHistory, every page, oldest first.
pub async fn history(aws: &Aws, arn: &str) -> anyhow::Result<Vec<Step>> {
    let mut events = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .sfn
            .get_execution_history()
            .execution_arn(arn)
            .max_results(1000)
            .set_next_token(token)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("GetExecutionHistory {arn}"))?;
        events.extend_from_slice(page.events());
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    Ok(steps(&events))
}

/// Whether the default timeline shows this kind of history event (`--verbose`: all).
fn shown(kind: &str) -> bool {
    kind.starts_with("Execution")
        || kind.ends_with("StateEntered")
        || matches!(
            kind,
            "TaskScheduled" | "TaskSucceeded" | "TaskFailed" | "TaskTimedOut"
        )
}

/// Timeline lines of executions, relative to each trip's first event (like the local one).
#[derive(Default)]
pub struct HistoryTimeline {
    started: HashMap<String, i64>,
}

impl HistoryTimeline {
    pub fn line(&mut self, out: &Output, trip: &str, s: &Step, verbose: bool) -> Option<String> {
        if !verbose && !shown(&s.kind) {
            return None;
        }
        let start = *self.started.entry(trip.to_owned()).or_insert(s.at_ms);
        let offset = format!("+{}ms", s.at_ms - start);
        let state = s
            .state
            .as_deref()
            .map(|n| format!("[{n}]"))
            .unwrap_or_default();
        let (what, rest) = match s.kind.as_str() {
            "TaskScheduled" => (
                out.detail_type(&format!(
                    "{:<28}",
                    s.detail_type.as_deref().unwrap_or("TaskScheduled")
                )),
                format!(
                    "{} {:<16} {}",
                    out.dim("→"),
                    s.resource
                        .as_deref()
                        .map(|r| r.trim_start_matches("events:"))
                        .unwrap_or_default(),
                    out.dim(&state)
                ),
            ),
            k if k.ends_with("StateEntered") => (
                format!("{k:<28}"),
                out.bold(s.state.as_deref().unwrap_or_default()),
            ),
            "ExecutionSucceeded" => (out.good(&format!("{:<28}", s.kind)), String::new()),
            k if k.ends_with("Failed") || k.ends_with("TimedOut") || k.ends_with("Aborted") => {
                let why = [s.error.clone(), s.cause.as_deref().map(short)]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(": ");
                (
                    out.bad(&format!("{k:<28}")),
                    format!("{why} {}", out.dim(&state)).trim().to_owned(),
                )
            }
            k => (format!("{k:<28}"), out.dim(&state)),
        };
        Some(format!(
            "  {:>9}  {}  {} {}",
            out.dim(&offset),
            out.trip(&format!("{trip:<18}")),
            what,
            rest
        ))
    }
}

/// A cause as one short line.
fn short(cause: &str) -> String {
    let line = cause.lines().next().unwrap_or_default();
    if line.chars().count() > 120 {
        line.chars().take(117).collect::<String>() + "..."
    } else {
        line.to_owned()
    }
}

/// The trip's outcome from the execution's status and the event its last putEvents task sent.
pub fn outcome(status: &str, steps: &[Step]) -> Option<TripOutcome> {
    // The TripBooked / TripBookingFailed the workflow put last, as an envelope.
    let final_outcome = steps.iter().rev().find_map(|s| {
        let dt = s.detail_type.as_deref()?;
        outcome_of(&EventEnvelope {
            version: "0".into(),
            id: String::new(),
            detail_type: dt.to_owned(),
            source: "trip.saga".into(),
            account: String::new(),
            time: String::new(),
            region: String::new(),
            resources: Vec::new(),
            detail: s.detail.clone().unwrap_or(Value::Null),
            replay_name: None,
        })
    });
    match status {
        "SUCCEEDED" => Some(TripOutcome::Booked),
        "RUNNING" | "PENDING_REDRIVE" => None,
        _ => match final_outcome {
            Some(o @ (TripOutcome::Failed { .. } | TripOutcome::Stuck { .. })) => Some(o),
            _ => {
                let last = steps.iter().rev().find(|s| s.error.is_some());
                Some(TripOutcome::Failed {
                    failed_step: last.and_then(|s| s.state.clone()).unwrap_or_default(),
                    error: last
                        .and_then(|s| s.error.clone())
                        .unwrap_or_else(|| status.to_owned()),
                    cause: last.and_then(|s| s.cause.clone()),
                    undone: Vec::new(),
                })
            }
        },
    }
}

/// A history event as JSON (GetExecutionHistory's names, the saga's fields only).
pub fn step_json(s: &Step) -> Value {
    let mut v = json!({
        "id": s.id,
        "timestamp": trip_local::runtime::fmt_ms(s.at_ms),
        "type": s.kind,
    });
    let m = v.as_object_mut().expect("an object");
    for (k, val) in [
        ("state", s.state.clone().map(Value::String)),
        ("resource", s.resource.clone().map(Value::String)),
        ("detailType", s.detail_type.clone().map(Value::String)),
        ("detail", s.detail.clone()),
        ("error", s.error.clone().map(Value::String)),
        ("cause", s.cause.clone().map(Value::String)),
    ] {
        if let Some(val) = val {
            m.insert(k.into(), val);
        }
    }
    v
}

fn participant(detail_type: &str) -> &'static str {
    match detail_type
        .parse::<DetailType>()
        .ok()
        .and_then(|d| d.service())
    {
        Some(Service::Hotel) => "Hotel",
        Some(Service::Flight) => "Flight",
        Some(Service::Car) => "Car",
        None => "Client",
    }
}

/// The execution as a Mermaid sequence diagram: each step's command and its answer.
pub fn mermaid(trip: &str, steps: &[Step]) -> String {
    let mut s = String::from("sequenceDiagram\n    autonumber\n");
    for p in ["Client", "Bridge", "Workflow", "Hotel", "Flight", "Car"] {
        s.push_str(&format!("    participant {p}\n"));
    }
    // Who answers the task in flight (a `.waitForTaskToken` task waits for a service).
    let mut waiting_on: Option<&'static str> = None;
    for st in steps {
        match st.kind.as_str() {
            "ExecutionStarted" => {
                s.push_str(&format!("    Bridge->>Workflow: StartExecution {trip}\n"))
            }
            "TaskStateEntered" => {
                if let Some(n) = &st.state {
                    s.push_str(&format!("    Note over Workflow: {n}\n"));
                }
            }
            "TaskScheduled" => {
                let dt = st.detail_type.as_deref().unwrap_or("task");
                let to = participant(dt);
                let waits = st
                    .resource
                    .as_deref()
                    .is_some_and(|r| r.ends_with(".waitForTaskToken"));
                let arrow = if to == "Client" { "-->>" } else { "->>" };
                s.push_str(&format!("    Workflow{arrow}{to}: {dt}\n"));
                waiting_on = waits.then_some(to);
            }
            "TaskSucceeded" => {
                if let Some(from) = waiting_on.take() {
                    s.push_str(&format!("    {from}-->>Workflow: task succeeded\n"));
                }
            }
            "TaskFailed" => {
                let from = waiting_on.take().unwrap_or("Workflow");
                s.push_str(&format!(
                    "    {from}-->>Workflow: task failed ({})\n",
                    st.error.as_deref().unwrap_or("error")
                ));
            }
            "TaskTimedOut" => {
                waiting_on = None;
                s.push_str(&format!(
                    "    Note over Workflow: {} timed out\n",
                    st.state.as_deref().unwrap_or("task")
                ));
            }
            "ExecutionSucceeded" => s.push_str("    Note over Workflow: execution succeeded\n"),
            k if k.starts_with("Execution") => s.push_str(&format!(
                "    Note over Workflow: {k} ({})\n",
                st.error.as_deref().unwrap_or("-")
            )),
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(id: i64, kind: &str, state: Option<&str>) -> Step {
        Step {
            id,
            at_ms: 1_000 + id,
            kind: kind.into(),
            state: state.map(Into::into),
            detail_type: None,
            resource: None,
            detail: None,
            error: None,
            cause: None,
        }
    }

    fn scheduled(id: i64, state: &str, dt: &str, wait: bool, detail: Value) -> Step {
        Step {
            detail_type: Some(dt.into()),
            resource: Some(format!(
                "events:putEvents{}",
                if wait { ".waitForTaskToken" } else { "" }
            )),
            detail: Some(detail),
            ..step(id, "TaskScheduled", Some(state))
        }
    }

    fn failed_saga() -> Vec<Step> {
        vec![
            step(1, "ExecutionStarted", None),
            step(2, "TaskStateEntered", Some("BookHotel")),
            scheduled(3, "BookHotel", "HotelBookingRequested", true, json!({})),
            Step {
                error: Some("HotelBookingFailed".into()),
                ..step(4, "TaskFailed", Some("BookHotel"))
            },
            step(5, "TaskStateEntered", Some("NotifyTripBookingFailed")),
            scheduled(
                6,
                "NotifyTripBookingFailed",
                "TripBookingFailed",
                false,
                json!({"tripId": "T", "failedStep": "BookHotel",
                       "error": {"Error": "HotelBookingFailed", "Cause": "sold out"},
                       "undone": {}}),
            ),
            step(7, "TaskSucceeded", Some("NotifyTripBookingFailed")),
            Step {
                error: Some("TripBookingFailed".into()),
                ..step(8, "ExecutionFailed", Some("TripBookingFailed"))
            },
        ]
    }

    #[test]
    fn the_outcome_comes_from_the_status_and_the_final_event() {
        let steps = failed_saga();
        assert_eq!(outcome("SUCCEEDED", &steps), Some(TripOutcome::Booked));
        assert_eq!(outcome("RUNNING", &steps), None);
        match outcome("FAILED", &steps) {
            Some(TripOutcome::Failed {
                failed_step, error, ..
            }) => {
                assert_eq!(failed_step, "BookHotel");
                assert_eq!(error, "HotelBookingFailed");
            }
            other => panic!("{other:?}"),
        }
        // An execution that timed out sent no TripBookingFailed: its own error is the outcome.
        let timed_out = vec![Step {
            error: Some("States.Timeout".into()),
            ..step(9, "ExecutionTimedOut", Some("BookCar"))
        }];
        assert!(matches!(
            outcome("TIMED_OUT", &timed_out),
            Some(TripOutcome::Failed { error, .. }) if error == "States.Timeout"
        ));
    }

    #[test]
    fn the_timeline_shows_states_commands_and_failures() {
        let out = Output {
            color: false,
            json: false,
        };
        let mut tl = HistoryTimeline::default();
        let lines: Vec<String> = failed_saga()
            .iter()
            .filter_map(|s| tl.line(&out, "T", s, false))
            .collect();
        assert_eq!(lines.len(), 8, "{lines:#?}");
        assert!(lines[2].contains("HotelBookingRequested") && lines[2].contains("[BookHotel]"));
        assert!(lines[3].contains("TaskFailed") && lines[3].contains("HotelBookingFailed"));
        assert!(lines[7].contains("+7ms"));
    }

    #[test]
    fn mermaid_draws_commands_and_answers() {
        let m = mermaid("T", &failed_saga());
        assert!(m.contains("Workflow->>Hotel: HotelBookingRequested"), "{m}");
        assert!(
            m.contains("Hotel-->>Workflow: task failed (HotelBookingFailed)"),
            "{m}"
        );
        assert!(m.contains("Workflow-->>Client: TripBookingFailed"), "{m}");
        assert!(!m.contains("Client-->>Workflow"), "{m}");
    }

    #[test]
    fn json_keeps_the_saga_fields() {
        let v = step_json(&failed_saga()[2]);
        assert_eq!(v["type"], "TaskScheduled");
        assert_eq!(v["detailType"], "HotelBookingRequested");
        assert_eq!(v["state"], "BookHotel");
        assert!(v.get("error").is_none());
    }
}
