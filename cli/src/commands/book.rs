//! `trip book`, `trip put-events` and `trip resume`.

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Args;
use serde_json::json;
use trip_events::{PutEventsEntry, read_entries_file};
use trip_local::{Runtime, TripOutcome};

use super::open_runtime;
use crate::timeline::Timeline;
use crate::{Ctx, exit};

#[derive(Args)]
pub struct BookArgs {
    /// Entries files in the `put-events --entries` format (e.g. events/samples/book-trip.json).
    #[arg(required = true)]
    pub entries: Vec<String>,
    /// Give up waiting for the sagas after this many seconds of wall time.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Print every event even for large batches (the default shows a progress bar past 10 trips).
    #[arg(long)]
    pub verbose: bool,
    /// Abort the process (no cleanup, like `kill -9`) after this many runtime steps: for
    /// crash-recovery tests; `trip resume` finishes the sagas.
    #[arg(long, hide = true)]
    pub crash_after_steps: Option<u64>,
}

#[derive(Args)]
pub struct PutEventsArgs {
    /// `file://path` to a JSON array of entries, as the AWS CLI takes it.
    #[arg(long)]
    pub entries: String,
    /// Only put the events; do not run the sagas (they run on the next `trip` command).
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Args)]
pub struct ResumeArgs {
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

fn read_entries(path: &str) -> anyhow::Result<Vec<PutEventsEntry>> {
    read_entries_file(path).map_err(anyhow::Error::from)
}

/// The trip ids the entries ask for, in order.
fn trip_ids(entries: &[PutEventsEntry]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    entries
        .iter()
        .filter_map(|e| {
            let d: serde_json::Value = serde_json::from_str(&e.detail).ok()?;
            Some(d.get("tripId")?.as_str()?.to_owned())
        })
        .filter(|t| seen.insert(t.clone()))
        .collect()
}

fn summary_line(ctx: &Ctx, rt: &Runtime, trip: &str) -> (String, u8) {
    let out = &ctx.out;
    let mut events = rt.status(trip).events;
    // A repeated request: measure the latest attempt only.
    if let Some(i) = events
        .iter()
        .rposition(|e| e.envelope.detail_type == "TripBookingRequested")
    {
        events.drain(..i);
    }
    let took = match (events.first(), events.last()) {
        (Some(a), Some(b)) => format!("in {} ms", b.put_at - a.put_at),
        _ => String::new(),
    };
    let transitions = rt
        .describe_execution(trip)
        .map(|d| format!(", {} state transitions", d.transitions))
        .unwrap_or_default();
    match rt.trip_outcome(trip) {
        Some(TripOutcome::Booked) => {
            let ids: Vec<String> = trip_events::Service::ALL
                .iter()
                .filter_map(|s| {
                    rt.booking(*s, trip)
                        .map(|b| format!("{s} {}", b.booking_id))
                })
                .collect();
            (
                format!(
                    "{}  {}  {}  {took}{transitions}",
                    out.trip(trip),
                    out.good("BOOKED"),
                    ids.join(" · ")
                ),
                exit::OK,
            )
        }
        Some(TripOutcome::Failed {
            failed_step,
            error,
            cause,
            undone,
        }) => {
            let why = crate::timeline::failure_reason(cause.as_deref())
                .or(cause)
                .unwrap_or(error);
            (
                format!(
                    "{}  {}  at {failed_step} ({why}); undone: {}  {took}{transitions}",
                    out.trip(trip),
                    out.bad("FAILED, COMPENSATED"),
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
                "{}  {}  at {failed_step}; {stuck_step} failed ({error}) through all its retries; \
                 may still hold: {}  {took}{transitions}",
                out.trip(trip),
                out.bad("FAILED, COMPENSATION STUCK"),
                still_held.join(", ")
            ),
            exit::TRIP_FAILED,
        ),
        Some(TripOutcome::Rejected { reasons }) => {
            let mut s = format!(
                "{}  {}  {} reason(s):",
                out.trip(trip),
                out.bad("REJECTED"),
                reasons.len()
            );
            for r in reasons {
                s.push_str(&format!("\n      - {}: {}", out.bold(&r.path), r.reason));
            }
            (s, exit::REJECTED)
        }
        None => (
            format!("{}  {}", out.trip(trip), out.warn("NOT FINISHED")),
            exit::TIMEOUT,
        ),
    }
}

/// Runs the sagas until every trip in `trips` has an outcome (or the timeout), printing the
/// timeline or a progress bar. Returns the exit code.
fn run_and_report(
    ctx: &Ctx,
    rt: &mut Runtime,
    trips: &[String],
    from_seq: i64,
    timeout: Duration,
    verbose: bool,
    crash_after_steps: Option<u64>,
) -> anyhow::Result<u8> {
    let mut steps = 0u64;
    let out = ctx.out;
    let (live, bar) = crate::timeline::saga_progress(&out, trips.len(), verbose);
    let mut timeline = Timeline::default();
    let mut printed = from_seq;
    let started = Instant::now();
    let stats = rt.run_until_idle(None, |rt| {
        steps += 1;
        if crash_after_steps.is_some_and(|n| steps >= n) {
            std::process::abort();
        }
        if live {
            let since = printed;
            for e in rt.log().iter().filter(|e| e.seq > since) {
                println!("{}", timeline.line(&out, e));
                printed = e.seq;
            }
        }
        let done = trips
            .iter()
            .filter(|t| rt.trip_outcome(t).is_some())
            .count();
        if let Some(pb) = &bar {
            pb.set_position(done as u64);
        }
        started.elapsed() < timeout
    })?;
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    let violations = rt.check_invariants();
    let mut code = exit::OK;
    if out.json {
        let trips_json: Vec<_> = trips
            .iter()
            .map(|t| json!({"tripId": t, "outcome": rt.trip_outcome(t)}))
            .collect();
        out.print_json(&json!({
            "trips": trips_json,
            "invariantViolations": violations,
            "stats": stats,
        }));
        for t in trips {
            code = code.max(summary_line(ctx, rt, t).1);
        }
    } else {
        println!();
        for t in trips {
            let (line, c) = summary_line(ctx, rt, t);
            println!("{line}");
            code = code.max(c);
        }
        if stats.skipped_ms > 0 {
            println!(
                "{}",
                out.dim(&format!(
                    "(fast-forwarded {:.1} s of retry backoff and timeouts)",
                    stats.skipped_ms as f64 / 1000.0
                ))
            );
        }
        if violations.is_empty() {
            println!(
                "{} every saga ended with all bookings held or none; no inventory oversold",
                out.good("invariants ok:")
            );
        } else {
            for v in &violations {
                println!(
                    "{} {} [{}]: {}",
                    out.bad("VIOLATION"),
                    v.trip_id,
                    v.invariant,
                    v.detail
                );
            }
        }
    }
    if !violations.is_empty() {
        code = exit::INVARIANT;
    }
    Ok(code)
}

fn print_put_result(ctx: &Ctx, result: &trip_local::bus::PutEventsOutput) {
    let out = &ctx.out;
    for e in &result.entries {
        if let (Some(code), Some(msg)) = (&e.error_code, &e.error_message) {
            eprintln!("{} {code}: {msg}", out.bad("entry refused:"));
        }
    }
}

pub fn book(ctx: &Ctx, args: BookArgs) -> anyhow::Result<u8> {
    let mut entries = Vec::new();
    for path in &args.entries {
        entries.extend(read_entries(path)?);
    }
    let trips = trip_ids(&entries);
    let mut rt = open_runtime(ctx)?;
    let out = ctx.out;
    if !out.json {
        println!(
            "{} embedded runtime · bus {} · store {}",
            out.bold("trip-saga"),
            rt.bus_name(),
            match &ctx.store {
                Some(p) => p.display().to_string(),
                None => "in memory".into(),
            }
        );
        for t in &trips {
            if let Some(o) = rt.trip_outcome(t) {
                println!(
                    "{} {t} already ended ({}) in this store: the request is a duplicate, the saga is not run again",
                    out.warn("note:"),
                    serde_json::to_value(&o)
                        .ok()
                        .and_then(|v| v["outcome"].as_str().map(str::to_owned))
                        .unwrap_or_default()
                );
            }
        }
    }
    let from_seq = rt.log().last().map_or(0, |l| l.seq);
    let result = rt.put_events(&entries).context("put-events failed")?;
    print_put_result(ctx, &result);
    if !out.json {
        println!(
            "put {} event(s), {} refused\n",
            result.entries.len(),
            result.failed_entry_count
        );
    }
    let code = run_and_report(
        ctx,
        &mut rt,
        &trips,
        from_seq,
        Duration::from_secs(args.timeout),
        args.verbose,
        args.crash_after_steps,
    )?;
    if result.failed_entry_count > 0 {
        return Ok(code.max(exit::REJECTED));
    }
    Ok(code)
}

pub fn put_events(ctx: &Ctx, args: PutEventsArgs) -> anyhow::Result<u8> {
    let entries = read_entries(&args.entries)?;
    let mut rt = open_runtime(ctx)?;
    let result = rt.put_events(&entries).context("put-events failed")?;
    ctx.out.print_json(&serde_json::to_value(&result)?);
    if !args.no_wait {
        rt.run_until_idle(None, |_| true)?;
    }
    Ok(if result.failed_entry_count > 0 {
        exit::REJECTED
    } else {
        exit::OK
    })
}

pub fn resume(ctx: &Ctx, args: ResumeArgs) -> anyhow::Result<u8> {
    let mut rt = open_runtime(ctx)?;
    let unfinished: Vec<String> = rt
        .trip_ids()
        .into_iter()
        .filter(|t| rt.trip_outcome(t).is_none())
        .collect();
    if !ctx.out.json {
        println!(
            "resuming {} unfinished saga(s) from {}\n",
            unfinished.len(),
            ctx.store
                .as_ref()
                .map_or("memory".into(), |p| p.display().to_string())
        );
    }
    let from_seq = rt.log().last().map_or(0, |l| l.seq);
    run_and_report(
        ctx,
        &mut rt,
        &unfinished,
        from_seq,
        Duration::from_secs(args.timeout),
        false,
        None,
    )
}
