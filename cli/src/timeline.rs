//! The live timeline of `trip book` and `trip watch`: one line per event, grouped by colour.

use std::collections::HashMap;

use trip_events::{DetailType, Service};
use trip_local::LoggedEvent;
use trip_local::runtime::fmt_ms;

use crate::output::Output;

/// Remembers when each trip started, to print latencies relative to it.
#[derive(Default)]
pub struct Timeline {
    started: HashMap<String, i64>,
}

/// How `trip book` (local or `--aws`) shows progress: the live timeline for a few sagas (or
/// with `--verbose`), a progress bar of finished sagas for many; neither with `--json`.
/// Returns whether to print the timeline, and the bar.
pub fn saga_progress(
    out: &Output,
    sagas: usize,
    verbose: bool,
) -> (bool, Option<indicatif::ProgressBar>) {
    let live = !out.json && (verbose || sagas <= 10);
    let bar = (!out.json && !live).then(|| {
        let pb = indicatif::ProgressBar::new(sagas as u64);
        pb.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} {pos}/{len} sagas finished {wide_bar} {elapsed}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        // The spinner and clock move from the start, before the first saga finishes.
        pb.enable_steady_tick(std::time::Duration::from_millis(120));
        pb
    });
    (live, bar)
}

/// A stuck compensation as the summaries of `trip book` and `trip book --aws` print it, up to
/// what each adds after it (duration, transitions).
pub fn stuck_summary(
    out: &crate::output::Output,
    failed_step: &str,
    stuck_step: &str,
    error: &str,
    still_held: &[String],
) -> String {
    format!(
        "{}  at {failed_step}; {stuck_step} failed ({error}) through all its retries; may still \
         hold: {}",
        out.bad("FAILED, COMPENSATION STUCK"),
        still_held.join(", ")
    )
}

/// `REASON: message` from the `{"reason", "message"}` cause a service's failure carries.
pub fn failure_reason(cause: Option<&str>) -> Option<String> {
    let c: serde_json::Value = serde_json::from_str(cause?).ok()?;
    Some(format!(
        "{}: {}",
        c.get("reason")?.as_str()?,
        c.get("message")?.as_str()?
    ))
}

/// The workflow step an event belongs to, if any.
pub fn step_of(detail_type: &str) -> Option<&'static str> {
    let dt: DetailType = detail_type.parse().ok()?;
    let service: Service = dt.service()?;
    if detail_type.contains("Cancel") {
        Some(service.cancel_step())
    } else {
        Some(service.book_step())
    }
}

impl Timeline {
    pub fn line(&mut self, out: &Output, e: &LoggedEvent) -> String {
        let trip = e.trip_id().unwrap_or("-").to_owned();
        let start = *self.started.entry(trip.clone()).or_insert(e.put_at);
        let offset = format!("+{}ms", e.put_at - start);
        let step = step_of(&e.envelope.detail_type)
            .map(|s| format!("[{s}]"))
            .unwrap_or_default();
        let targets: Vec<&str> = e
            .rules
            .iter()
            .map(String::as_str)
            .filter(|r| *r != "catch-all-log")
            .collect();
        let to = if targets.is_empty() {
            "log".to_owned()
        } else {
            targets.join(",")
        };
        format!(
            "  {:>9}  {}  {} {:<12} {} {:<16} {}",
            out.dim(&offset),
            out.trip(&format!("{trip:<18}")),
            out.detail_type(&format!("{:<28}", e.envelope.detail_type)),
            out.dim(&e.envelope.source),
            out.dim("→"),
            to,
            out.dim(&step),
        )
    }

    /// Events grouped by trip, in the order of each trip's first event.
    pub fn grouped(&mut self, out: &Output, events: &[LoggedEvent]) -> String {
        let mut order: Vec<String> = Vec::new();
        let mut groups: HashMap<String, Vec<&LoggedEvent>> = HashMap::new();
        for e in events {
            let t = e.trip_id().unwrap_or("-").to_owned();
            if !groups.contains_key(&t) {
                order.push(t.clone());
            }
            groups.entry(t).or_default().push(e);
        }
        let mut text = String::new();
        for t in order {
            text.push_str(&out.bold(&out.trip(&t)));
            text.push('\n');
            for e in groups.get(&t).into_iter().flatten() {
                text.push_str(&self.line(out, e));
                text.push('\n');
            }
            text.push('\n');
        }
        text
    }

    pub fn line_with_time(&mut self, out: &Output, e: &LoggedEvent) -> String {
        format!(
            "{} {}",
            out.dim(&fmt_ms(e.put_at)),
            self.line(out, e).trim_start()
        )
    }
}

/// How `trip status` (local and `--aws`) names a saga whose compensation never succeeded.
pub fn stuck_label(stuck_step: &str, still_held: &[String]) -> String {
    format!(
        "COMPENSATION STUCK at {stuck_step}: may still hold {}",
        still_held.join(", ")
    )
}
