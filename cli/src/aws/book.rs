//! `trip book --aws` and `trip put-events --aws`: PutEvents to the deployed bus, then follow
//! each trip's execution (named after the trip id) until it ends.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use aws_sdk_eventbridge::primitives::{DateTime, DateTimeFormat};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::{Value, json};
use trip_events::{PutEventsEntry, Service, read_entries_file};
use trip_local::TripOutcome;
use trip_local::runtime::outcome_of;

use super::history::{self, HistoryTimeline, Step};
use super::watch::LogTail;
use super::{Aws, execution_arn, sdk_error};
use crate::commands::book::{BookArgs, PutEventsArgs};
use crate::output::Output;
use crate::{Ctx, exit};

/// PutEvents takes at most 10 entries per call.
const BATCH: usize = 10;

/// What PutEvents answered for one entry.
#[derive(Debug, Clone)]
pub enum Put {
    Accepted(String),
    Refused { code: String, message: String },
}

/// Points every entry at the deployed bus; returns how many named another one.
fn retarget(entries: &mut [PutEventsEntry], bus: &str) -> usize {
    let mut changed = 0;
    for e in entries {
        if e.event_bus_name.as_deref() != Some(bus) {
            if e.event_bus_name.is_some() {
                changed += 1;
            }
            e.event_bus_name = Some(bus.to_owned());
        }
    }
    changed
}

fn request_entry(e: &PutEventsEntry) -> anyhow::Result<PutEventsRequestEntry> {
    let time = e
        .time
        .as_deref()
        .map(|t| {
            DateTime::from_str(t, DateTimeFormat::DateTime)
                .with_context(|| format!("Time {t:?} is not an RFC 3339 date-time"))
        })
        .transpose()?;
    Ok(PutEventsRequestEntry::builder()
        .source(&e.source)
        .detail_type(&e.detail_type)
        .detail(&e.detail)
        .set_event_bus_name(e.event_bus_name.clone())
        .set_time(time)
        .set_resources((!e.resources.is_empty()).then(|| e.resources.clone()))
        .set_trace_header(e.trace_header.clone())
        .build())
}

/// PutEvents in batches of 10, one answer per entry, in order. A refused entry is reported,
/// never resent.
pub async fn put_all(aws: &Aws, entries: &[PutEventsEntry]) -> anyhow::Result<Vec<Put>> {
    let mut answers = Vec::with_capacity(entries.len());
    for (i, batch) in entries.chunks(BATCH).enumerate() {
        let request = batch
            .iter()
            .map(request_entry)
            .collect::<anyhow::Result<Vec<_>>>()?;
        let out = aws
            .events
            .put_events()
            .set_entries(Some(request))
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| {
                format!(
                    "PutEvents failed on entries {}..{} ({} entries before them were put)",
                    i * BATCH,
                    i * BATCH + batch.len(),
                    i * BATCH
                )
            })?;
        let results = out.entries();
        for k in 0..batch.len() {
            let r = results.get(k);
            answers.push(match r.and_then(|r| r.event_id()) {
                Some(id) => Put::Accepted(id.to_owned()),
                None => Put::Refused {
                    code: r
                        .and_then(|r| r.error_code())
                        .unwrap_or("NoResult")
                        .to_owned(),
                    message: r
                        .and_then(|r| r.error_message())
                        .unwrap_or("PutEvents answered no result for this entry")
                        .to_owned(),
                },
            });
        }
    }
    Ok(answers)
}

fn read(paths: &[String]) -> anyhow::Result<Vec<PutEventsEntry>> {
    let mut entries = Vec::new();
    for p in paths {
        entries.extend(read_entries_file(p)?);
    }
    Ok(entries)
}

/// `aws events put-events --entries file://...`: the same answer, on the deployed bus.
pub async fn put_events(ctx: &Ctx, aws: &Aws, args: PutEventsArgs) -> anyhow::Result<u8> {
    let mut entries = read(std::slice::from_ref(&args.entries))?;
    if let Ok(bus) = aws.deployed.event_bus() {
        let changed = retarget(&mut entries, &bus);
        if changed > 0 {
            eprintln!(
                "{} {changed} entr(y/ies) named another bus: sent to the deployed bus {bus}",
                ctx.out.warn("note:")
            );
        }
    }
    let answers = put_all(aws, &entries).await?;
    let failed = answers
        .iter()
        .filter(|a| matches!(a, Put::Refused { .. }))
        .count();
    let items: Vec<Value> = answers
        .iter()
        .map(|a| match a {
            Put::Accepted(id) => json!({"EventId": id}),
            Put::Refused { code, message } => json!({"ErrorCode": code, "ErrorMessage": message}),
        })
        .collect();
    ctx.out
        .print_json(&json!({"FailedEntryCount": failed, "Entries": items}));
    Ok(if failed > 0 { exit::REJECTED } else { exit::OK })
}

/// The trip ids of the entries, in order, once each.
fn trip_ids<'a>(entries: impl Iterator<Item = &'a PutEventsEntry>) -> Vec<String> {
    let mut seen = BTreeSet::new();
    entries
        .filter_map(|e| {
            let d: Value = serde_json::from_str(&e.detail).ok()?;
            Some(d.get("tripId")?.as_str()?.to_owned())
        })
        .filter(|t| seen.insert(t.clone()))
        .collect()
}

/// One trip being followed.
struct Followed {
    trip: String,
    arn: String,
    status: Option<String>,
    steps: Vec<Step>,
    printed: i64,
    outcome: Option<TripOutcome>,
}

fn summary(out: &Output, f: &Followed) -> (String, u8) {
    let trip = out.trip(&f.trip);
    let took = match (f.steps.first(), f.steps.last()) {
        (Some(a), Some(b)) if f.outcome.is_some() => format!(
            "  in {} ms, {} history events",
            b.at_ms - a.at_ms,
            f.steps.len()
        ),
        _ => String::new(),
    };
    match &f.outcome {
        Some(TripOutcome::Booked) => {
            let detail = f
                .steps
                .iter()
                .rev()
                .find(|s| s.detail_type.as_deref() == Some("TripBooked"))
                .and_then(|s| s.detail.clone())
                .unwrap_or(Value::Null);
            let ids: Vec<String> = Service::ALL
                .iter()
                .filter_map(|s| {
                    let id = detail.get(s.name())?.get("bookingId")?.as_str()?;
                    Some(format!("{s} {id}"))
                })
                .collect();
            (
                format!("{trip}  {}  {}{took}", out.good("BOOKED"), ids.join(" · ")),
                exit::OK,
            )
        }
        Some(TripOutcome::Failed {
            failed_step,
            error,
            cause,
            undone,
        }) => {
            let why =
                crate::timeline::failure_reason(cause.as_deref()).unwrap_or_else(|| error.clone());
            let label = match f.status.as_deref() {
                Some("FAILED") | None => "FAILED, COMPENSATED".to_owned(),
                Some(other) => format!("{other}, NOT COMPENSATED"),
            };
            (
                format!(
                    "{trip}  {}  at {failed_step} ({why}); undone: {}{took}",
                    out.bad(&label),
                    undone.join(", ")
                ),
                exit::TRIP_FAILED,
            )
        }
        Some(TripOutcome::Stuck {
            failed_step,
            stuck_step,
            still_held,
            error,
        }) => (
            format!(
                "{trip}  {}{took}",
                crate::timeline::stuck_summary(out, failed_step, stuck_step, error, still_held)
            ),
            exit::TRIP_FAILED,
        ),
        Some(TripOutcome::Rejected { reasons }) => {
            let mut s = format!(
                "{trip}  {}  {} reason(s):",
                out.bad("REJECTED"),
                reasons.len()
            );
            for r in reasons {
                s.push_str(&format!("\n      - {}: {}", out.bold(&r.path), r.reason));
            }
            (s, exit::REJECTED)
        }
        None => (
            format!(
                "{trip}  {}  {}",
                out.warn("NOT FINISHED"),
                match &f.status {
                    Some(s) => format!("execution {s}"),
                    None => "no execution yet".to_owned(),
                }
            ),
            exit::TIMEOUT,
        ),
    }
}

pub async fn book(ctx: &Ctx, aws: &Aws, args: BookArgs) -> anyhow::Result<u8> {
    let out = ctx.out;
    let mut entries = read(&args.entries)?;
    let bus = aws.deployed.event_bus()?;
    let state_machine = aws.deployed.state_machine_arn()?;
    let log_group = aws.deployed.log_group();
    let changed = retarget(&mut entries, &bus);
    if !out.json {
        println!(
            "{} AWS · bus {bus} · state machine {state_machine}",
            out.bold("trip-saga")
        );
        if changed > 0 {
            println!(
                "{} {changed} entr(y/ies) named another bus: sent to the deployed bus {bus}",
                out.warn("note:")
            );
        }
        if let Err(e) = &log_group {
            println!(
                "{} {e:#}; rejected trips cannot be told from slow ones",
                out.warn("note:")
            );
        }
    }
    // Log events carry the event's time, which may be a little before this clock's now.
    let since_ms = chrono::Utc::now().timestamp_millis() - 60_000;
    let answers = put_all(aws, &entries).await?;
    let mut refused = 0;
    for a in &answers {
        if let Put::Refused { code, message } = a {
            refused += 1;
            eprintln!("{} {code}: {message}", out.bad("entry refused:"));
        }
    }
    if !out.json {
        println!("put {} event(s), {refused} refused\n", answers.len());
    }
    let accepted = entries
        .iter()
        .zip(&answers)
        .filter(|(_, a)| matches!(a, Put::Accepted(_)))
        .map(|(e, _)| e);
    let mut followed: Vec<Followed> = trip_ids(accepted)
        .into_iter()
        .map(|trip| Followed {
            arn: execution_arn(&state_machine, &trip),
            trip,
            status: None,
            steps: Vec::new(),
            printed: 0,
            outcome: None,
        })
        .collect();

    let mut tail = log_group.ok().map(|g| LogTail::new(g, since_ms, None));
    let (live, bar) = crate::timeline::saga_progress(&out, followed.len(), args.verbose);
    let mut timeline = HistoryTimeline::default();
    let started = Instant::now();
    let timeout = Duration::from_secs(args.timeout);
    // DescribeExecution per trip per round: slow down for big batches (API rate limits).
    let pause = Duration::from_millis((500 + 50 * followed.len() as u64).min(5_000));
    loop {
        for f in followed.iter_mut().filter(|f| f.outcome.is_none()) {
            let Some(d) = history::describe(aws, &f.arn).await? else {
                continue;
            };
            let status = d.status().as_str().to_owned();
            f.steps = history::history(aws, &f.arn).await?;
            let printed = f.printed;
            for s in f.steps.iter().filter(|s| s.id > printed) {
                if live && let Some(line) = timeline.line(&out, &f.trip, s, args.verbose) {
                    println!("{line}");
                }
                f.printed = s.id;
            }
            f.outcome = history::outcome(&status, &f.steps);
            f.status = Some(status);
        }
        // A rejected request starts no execution: its TripBookingRejected is in the log group.
        let waiting: Vec<&str> = followed
            .iter()
            .filter(|f| f.outcome.is_none() && f.status.is_none())
            .map(|f| f.trip.as_str())
            .collect();
        if !waiting.is_empty()
            && let Some(t) = &mut tail
        {
            match t.poll(aws).await {
                Ok(events) => {
                    for (_, env) in events {
                        if env.detail_type != "TripBookingRejected" {
                            continue;
                        }
                        let Some(f) = followed.iter_mut().find(|f| {
                            Some(f.trip.as_str()) == env.trip_id() && f.outcome.is_none()
                        }) else {
                            continue;
                        };
                        if live {
                            println!(
                                "  {:>9}  {}  {} {}",
                                "",
                                out.trip(&format!("{:<18}", f.trip)),
                                out.detail_type(&format!("{:<28}", env.detail_type)),
                                out.dim(&env.source)
                            );
                        }
                        f.outcome = outcome_of(&env);
                    }
                }
                Err(e) => {
                    if !out.json {
                        eprintln!(
                            "{} cannot read the events log group ({e:#}); rejected trips will show as not finished",
                            out.warn("note:")
                        );
                    }
                    tail = None;
                }
            }
        }
        let done = followed.iter().filter(|f| f.outcome.is_some()).count();
        if let Some(pb) = &bar {
            pb.set_position(done as u64);
        }
        if done == followed.len() || started.elapsed() >= timeout {
            break;
        }
        tokio::time::sleep(pause).await;
    }
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }

    let mut code = if refused > 0 {
        exit::REJECTED
    } else {
        exit::OK
    };
    if out.json {
        let trips: Vec<Value> = followed
            .iter()
            .map(|f| {
                json!({
                    "tripId": f.trip,
                    "executionArn": f.arn,
                    "status": f.status,
                    "outcome": f.outcome,
                })
            })
            .collect();
        out.print_json(&json!({"trips": trips, "failedEntryCount": refused}));
        for f in &followed {
            code = code.max(summary(&out, f).1);
        }
    } else {
        println!();
        for f in &followed {
            let (line, c) = summary(&out, f);
            println!("{line}");
            code = code.max(c);
        }
    }
    Ok(code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(bus: Option<&str>, trip: &str) -> PutEventsEntry {
        PutEventsEntry {
            source: "trip.client".into(),
            detail_type: "TripBookingRequested".into(),
            detail: json!({"tripId": trip}).to_string(),
            event_bus_name: bus.map(Into::into),
            time: None,
            resources: Vec::new(),
            trace_header: None,
        }
    }

    #[test]
    fn entries_go_to_the_deployed_bus() {
        let mut e = vec![
            entry(Some("trip-saga"), "A"),
            entry(Some("mine"), "B"),
            entry(None, "A"),
        ];
        assert_eq!(retarget(&mut e, "mine"), 1);
        assert!(
            e.iter()
                .all(|e| e.event_bus_name.as_deref() == Some("mine"))
        );
        assert_eq!(trip_ids(e.iter()), ["A", "B"]);
    }

    #[test]
    fn a_bad_time_is_an_error_not_a_dropped_field() {
        let mut e = entry(None, "A");
        e.time = Some("yesterday".into());
        assert!(request_entry(&e).is_err());
        e.time = Some("2031-06-09T10:00:00Z".into());
        assert!(request_entry(&e).unwrap().time().is_some());
    }
}
