//! One trip as the console shows it: its events, its execution history, the links between
//! the two, its bookings with the inventory they hold, and its dead letters.

use std::collections::HashMap;

use serde::Serialize;
use serde_json::{Value, json};
use trip_local::TripOutcome;
use trip_local::runtime::fmt_ms;
use trip_workflow::{ExecutionRecord, HistoryEvent};

use crate::index::{TripIndex, TripSummary, execution_arn};
use crate::store_view::{StoreView, ViewError};

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TripDetail {
    #[serde(flatten)]
    pub summary: TripSummary,
    pub outcome: Option<TripOutcome>,
    pub execution: Option<Value>,
    pub events: Vec<EventView>,
    pub history: Vec<HistoryRow>,
    pub bookings: Vec<BookingView>,
    pub dead_letters: Vec<DeadLetterView>,
}

/// An event of the trip's timeline.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct EventView {
    pub seq: i64,
    pub event_id: String,
    pub detail_type: String,
    pub source: String,
    pub at: String,
    /// Since the trip's first event.
    pub elapsed_ms: i64,
    pub rules: Vec<String>,
    pub detail: Value,
    /// The history entry this event is linked to, and how: `emittedBy` (the workflow's
    /// putEvents task that sent it) or `caused` (the entry its arrival caused: a callback
    /// closing a task, a request starting the execution).
    pub history_id: Option<u64>,
    pub link: Option<&'static str>,
}

/// A row of the execution history table.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryRow {
    pub id: u64,
    pub event_type: String,
    /// The state the entry belongs to (the one entered last and not yet exited).
    pub state: Option<String>,
    pub timestamp: String,
    /// Since the execution started.
    pub elapsed_ms: i64,
    pub error: Option<String>,
    pub cause: Option<String>,
    /// Events linked to this entry (see [`EventView::link`]).
    pub event_ids: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingView {
    pub service: String,
    pub booking_id: String,
    pub status: String,
    pub units: u32,
    pub was_booked: bool,
    pub failure: Option<String>,
    /// Each inventory key the booking holds (or held), with the key's current level.
    pub holds: Vec<HoldView>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HoldView {
    pub key: String,
    pub held: Option<u32>,
    pub capacity: Option<u32>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeadLetterView {
    pub queue: String,
    pub message_id: String,
    pub trip_id: Option<String>,
    pub detail_type: Option<String>,
    pub receive_count: u32,
    pub sent_at: String,
    pub dead_lettered_at: Option<String>,
    pub reason: Option<String>,
    pub body: String,
}

impl DeadLetterView {
    pub fn from_message(m: trip_local::queue::Message) -> Self {
        let parsed: Option<Value> = serde_json::from_str(&m.body).ok();
        let field = |p: &str| {
            parsed
                .as_ref()
                .and_then(|v| v.pointer(p))
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        DeadLetterView {
            trip_id: field("/detail/tripId"),
            detail_type: field("/detail-type"),
            queue: m.queue,
            message_id: m.message_id,
            receive_count: m.receive_count,
            sent_at: fmt_ms(m.sent_at),
            dead_lettered_at: m.dead_lettered_at.map(fmt_ms),
            reason: m.last_error,
            body: m.body,
        }
    }
}

/// Everything about one trip, or `None` when the store has never seen it.
pub fn detail(
    view: &StoreView,
    index: &TripIndex,
    trip_id: &str,
    now_ms: i64,
) -> Result<Option<TripDetail>, ViewError> {
    let Some(summary) = index.summary(trip_id, now_ms) else {
        return Ok(None);
    };
    let rows = view.log_after(0, Some(trip_id), usize::MAX)?;
    let first_ms = rows.first().map_or(0, |r| r.put_at);
    let mut outcome = None;
    let mut events: Vec<EventView> = rows
        .into_iter()
        .map(|r| {
            let envelope: Value = serde_json::from_str(&r.envelope).unwrap_or(Value::Null);
            if let Ok(e) = serde_json::from_value(envelope.clone())
                && let Some(o) = trip_local::runtime::outcome_of(&e)
            {
                outcome = Some(o);
            }
            EventView {
                seq: r.seq,
                event_id: r.event_id,
                detail_type: r.detail_type,
                source: r.source,
                at: fmt_ms(r.put_at),
                elapsed_ms: r.put_at - first_ms,
                rules: r.rules,
                detail: envelope.get("detail").cloned().unwrap_or(Value::Null),
                history_id: None,
                link: None,
            }
        })
        .collect();

    let (execution, raw) = match index.machine_arn() {
        Some(machine) => {
            let arn = execution_arn(machine, trip_id);
            let record = view.execution(&arn)?;
            let raw = if record.is_some() {
                view.history(&arn)?
            } else {
                Vec::new()
            };
            (record.as_ref().map(execution_json), raw)
        }
        None => (None, Vec::new()),
    };
    let mut history = history_rows(&raw);
    link(&mut events, &mut history, &raw);

    let mut bookings = Vec::new();
    for b in view.bookings(trip_id)? {
        let mut holds = Vec::new();
        for key in &b.holds {
            let level = view.inventory(key)?;
            holds.push(HoldView {
                key: key.clone(),
                held: level.map(|l| l.held),
                capacity: level.map(|l| l.capacity),
            });
        }
        bookings.push(BookingView {
            service: b.service.name().to_owned(),
            booking_id: b.booking_id,
            status: b.status.as_str().to_owned(),
            units: b.units,
            was_booked: b.was_booked,
            failure: b.failure.map(|f| format!("{}: {}", f.reason, f.message)),
            holds,
        });
    }
    let dead_letters = view
        .dead_letters()?
        .into_iter()
        .map(DeadLetterView::from_message)
        .filter(|d| d.trip_id.as_deref() == Some(trip_id))
        .collect();
    Ok(Some(TripDetail {
        summary,
        outcome,
        execution,
        events,
        history,
        bookings,
        dead_letters,
    }))
}

/// DescribeExecution's fields the console shows.
fn execution_json(r: &ExecutionRecord) -> Value {
    json!({
        "executionArn": r.execution_arn,
        "stateMachineArn": r.state_machine_arn,
        "name": r.name,
        "status": r.status.as_str(),
        "startDate": fmt_ms(r.start_ms),
        "stopDate": r.stop_ms.map(fmt_ms),
        "error": r.error,
        "cause": r.cause,
        "input": r.input,
        "output": r.output,
        "transitions": r.transitions,
    })
}

pub fn history_rows(history: &[HistoryEvent]) -> Vec<HistoryRow> {
    let start = history.first().map_or(0, |h| h.timestamp_ms);
    let mut current: Option<String> = None;
    history
        .iter()
        .map(|h| {
            let entered = h
                .details
                .get("name")
                .and_then(Value::as_str)
                .filter(|_| h.event_type.ends_with("StateEntered"));
            if let Some(name) = entered {
                current = Some(name.to_owned());
            }
            let state = match h.details.get("name").and_then(Value::as_str) {
                Some(name) if h.event_type.ends_with("StateExited") => Some(name.to_owned()),
                _ => current.clone(),
            };
            if h.event_type.ends_with("StateExited") {
                current = None;
            }
            let text = |k: &str| h.details.get(k).and_then(Value::as_str).map(str::to_owned);
            HistoryRow {
                id: h.id,
                event_type: h.event_type.clone(),
                state,
                timestamp: fmt_ms(h.timestamp_ms),
                elapsed_ms: h.timestamp_ms - start,
                error: text("error"),
                cause: text("cause"),
                event_ids: Vec::new(),
            }
        })
        .collect()
}

/// The ids of the events a putEvents task reported sending (its output's `Entries`).
fn emitted_ids(output: &str) -> Vec<String> {
    let Ok(v) = serde_json::from_str::<Value>(output) else {
        return Vec::new();
    };
    v.get("Entries")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| e.get("EventId").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

fn task_token(detail: &Value) -> Option<&str> {
    detail
        .pointer("/metadata/taskToken")
        .and_then(Value::as_str)
}

/// Links events and history entries both ways.
///
/// - An event the workflow sent names the history entry of its putEvents task: the task's
///   `TaskSubmitted` (callback tasks) or `TaskSucceeded` output lists the event ids.
/// - A service's answer carries the task token of the request it answers; the first answer
///   per token caused the request's task to end: the first `TaskSucceeded`/`TaskFailed`
///   after the request was submitted. Later answers with that token (duplicates, answers
///   after a timeout) caused nothing and stay unlinked.
/// - The trip request caused `ExecutionStarted`.
pub fn link(events: &mut [EventView], history: &mut [HistoryRow], raw: &[HistoryEvent]) {
    let by_event: HashMap<String, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (e.event_id.clone(), i))
        .rev()
        .collect();
    // Event id -> the history position that emitted it.
    let mut emitted_at: HashMap<String, usize> = HashMap::new();
    for (pos, h) in raw.iter().enumerate() {
        if !matches!(h.event_type.as_str(), "TaskSubmitted" | "TaskSucceeded") {
            continue;
        }
        let Some(output) = h.details.get("output").and_then(Value::as_str) else {
            continue;
        };
        for id in emitted_ids(output) {
            if let Some(&i) = by_event.get(&id)
                && events[i].history_id.is_none()
            {
                events[i].history_id = Some(h.id);
                events[i].link = Some("emittedBy");
                history[pos].event_ids.push(id.clone());
                emitted_at.insert(id, pos);
            }
        }
    }
    // Task token -> the position of the task's end after the request was submitted.
    let mut ends: HashMap<String, usize> = HashMap::new();
    for e in events.iter() {
        let Some(&pos) = emitted_at.get(&e.event_id) else {
            continue;
        };
        let Some(token) = task_token(&e.detail) else {
            continue;
        };
        if let Some(end) = raw[pos + 1..]
            .iter()
            .position(|h| matches!(h.event_type.as_str(), "TaskSucceeded" | "TaskFailed"))
        {
            ends.insert(token.to_owned(), pos + 1 + end);
        }
    }
    for e in events.iter_mut() {
        if e.history_id.is_some() {
            continue;
        }
        if e.detail_type == "TripBookingRequested" {
            if let Some((pos, h)) = raw
                .iter()
                .enumerate()
                .find(|(_, h)| h.event_type == "ExecutionStarted")
                && history[pos].event_ids.is_empty()
            {
                e.history_id = Some(h.id);
                e.link = Some("caused");
                history[pos].event_ids.push(e.event_id.clone());
            }
            continue;
        }
        let Some(token) = task_token(&e.detail) else {
            continue;
        };
        if let Some(pos) = ends.remove(token) {
            e.history_id = Some(raw[pos].id);
            e.link = Some("caused");
            history[pos].event_ids.push(e.event_id.clone());
        }
    }
}
