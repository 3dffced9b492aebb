//! An execution history a person can read, the way the Step Functions console lists it: each
//! event with its id, type, state, time since the execution started, and what matters about
//! it (the error and cause of a failure, the event a putEvents task published, a retry).
//! Reads GetExecutionHistory's JSON shape, so `trip status --history` and `trip states run`
//! share it.

use serde_json::Value;

use crate::output::{Output, printable};

fn millis(h: &Value) -> Option<i64> {
    let t = h["timestamp"].as_str()?;
    Some(
        chrono::DateTime::parse_from_rfc3339(t)
            .ok()?
            .timestamp_millis(),
    )
}

/// The details object of a history event (`taskFailedEventDetails`, ...), if any.
fn details(h: &Value) -> Option<&Value> {
    h.as_object()?
        .iter()
        .find(|(k, _)| k.ends_with("EventDetails"))
        .map(|(_, v)| v)
}

fn short(text: &str, max: usize) -> String {
    let text = printable(text);
    if text.chars().count() <= max {
        text.into_owned()
    } else {
        let cut: String = text.chars().take(max).collect();
        format!("{cut}…")
    }
}

/// What the console shows beside an event: error and cause, the published detail-type.
fn note(h: &Value) -> String {
    let Some(d) = details(h) else {
        return String::new();
    };
    if let Some(error) = d["error"].as_str() {
        let cause = d["cause"].as_str().unwrap_or_default();
        let cause = crate::timeline::failure_reason(Some(cause)).unwrap_or_else(|| cause.into());
        return if cause.is_empty() {
            short(error, 120)
        } else {
            format!("{}: {}", short(error, 60), short(&cause, 120))
        };
    }
    if let Some(params) = d["parameters"].as_str()
        && let Ok(p) = serde_json::from_str::<Value>(params)
    {
        let dts: Vec<&str> = p["Entries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|e| e["DetailType"].as_str())
            .collect();
        let resource = d["resource"].as_str().unwrap_or_default();
        return if dts.is_empty() {
            short(resource, 60)
        } else {
            format!("{} {}", short(resource, 40), short(&dts.join(", "), 80))
        };
    }
    String::new()
}

/// The history as aligned lines: id, type, state, elapsed since the first event, note.
pub fn render(out: &Output, events: &[Value]) -> String {
    let start = events.iter().find_map(millis);
    let mut state = String::from("-");
    let mut rows: Vec<[String; 5]> = Vec::new();
    for h in events {
        if let Some(name) = h
            .get("stateEnteredEventDetails")
            .and_then(|d| d["name"].as_str())
        {
            state = printable(name).into_owned();
        }
        let kind = h["type"].as_str().unwrap_or_default().to_owned();
        let elapsed = match (start, millis(h)) {
            (Some(a), Some(b)) => fmt_elapsed(b - a),
            _ => String::new(),
        };
        let this_state = if kind.starts_with("Execution") {
            "-".to_owned()
        } else {
            state.clone()
        };
        rows.push([h["id"].to_string(), kind, this_state, elapsed, note(h)]);
        if h.get("stateExitedEventDetails").is_some() {
            state = "-".into();
        }
    }
    let width = |i: usize, min: usize| {
        rows.iter()
            .map(|r| r[i].chars().count())
            .fold(min, usize::max)
    };
    let (w_id, w_type, w_state, w_el) = (width(0, 2), width(1, 4), width(2, 5), width(3, 7));
    let mut s = format!(
        "  {:>w_id$}  {:<w_type$}  {:<w_state$}  {:>w_el$}  {}\n",
        "ID", "TYPE", "STATE", "ELAPSED", "ERROR / DETAIL"
    );
    let s_head = out.bold(&s);
    s = s_head;
    for [id, kind, state, elapsed, note] in rows {
        let painted_kind = format!("{kind:<w_type$}");
        let painted_kind = if kind.ends_with("Failed") || kind.ends_with("TimedOut") {
            out.bad(&painted_kind)
        } else if kind.ends_with("Succeeded") {
            out.good(&painted_kind)
        } else {
            painted_kind
        };
        s.push_str(&format!(
            "  {id:>w_id$}  {painted_kind}  {state:<w_state$}  {}  {note}\n",
            out.dim(&format!("{elapsed:>w_el$}"))
        ));
    }
    s
}

/// `+0 ms`, `+1.250 s`, `+2 min 5 s`: time since the execution started.
fn fmt_elapsed(ms: i64) -> String {
    if ms < 1_000 {
        format!("+{ms} ms")
    } else if ms < 60_000 {
        format!("+{:.3} s", ms as f64 / 1000.0)
    } else {
        format!("+{} min {} s", ms / 60_000, (ms % 60_000) / 1000)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_failure_shows_its_state_error_cause_and_elapsed_time() {
        let events = vec![
            json!({"id": 1, "type": "ExecutionStarted", "timestamp": "2031-01-01T00:00:00.000Z"}),
            json!({"id": 2, "type": "TaskStateEntered", "timestamp": "2031-01-01T00:00:00.002Z",
                   "stateEnteredEventDetails": {"name": "BookFlight"}}),
            json!({"id": 3, "type": "TaskFailed", "timestamp": "2031-01-01T00:00:01.500Z",
                   "taskFailedEventDetails": {"error": "Trip.BusinessError",
                   "cause": "{\"reason\":\"FLIGHT_FULL\",\"message\":\"full\"}"}}),
        ];
        let text = render(
            &Output {
                color: false,
                json: false,
            },
            &events,
        );
        let line = text.lines().find(|l| l.contains("TaskFailed")).unwrap();
        assert!(line.contains("BookFlight"), "{text}");
        assert!(line.contains("+1.500 s"), "{text}");
        assert!(
            line.contains("Trip.BusinessError: FLIGHT_FULL: full"),
            "{text}"
        );
        let first = text
            .lines()
            .find(|l| l.contains("ExecutionStarted"))
            .unwrap();
        assert!(first.contains("+0 ms"), "{text}");
    }
}
