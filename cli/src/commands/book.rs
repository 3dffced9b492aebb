//! `trip book`, `trip put-events` and `trip resume`.

use std::collections::{BTreeSet, VecDeque};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;
use trip_events::{PutEventsEntry, read_entries_file};
use trip_local::trip_faults::TripFaults;
use trip_local::{ClockChoice, Runtime, TripOutcome};

use super::open_runtime;
use crate::output::printable;
use crate::timeline::Timeline;
use crate::{Ctx, exit};

#[derive(Args)]
#[command(after_help = "Examples:\n  \
    trip book events/samples/book-trip.json\n  \
    trip book events/samples/book-trip.json --fail BookCar          # car refused: car, flight, hotel undone\n  \
    trip book events/samples/book-trip.json --no-answer BookFlight  # flight times out and is compensated\n  \
    trip book events/samples/book-trip.json --transient BookHotel:2 # throttled twice, retried, booked\n  \
    trip book events/samples/book-trip.json --duplicate --delay 2000\n\n\
Faults (--fail, --no-answer, --transient, --duplicate, --delay) apply to the trips of these \
entries while this command runs.")]
pub struct BookArgs {
    #[command(flatten)]
    pub aws: crate::aws::AwsArgs,
    /// Entries files in the `put-events --entries` format (e.g. events/samples/book-trip.json).
    #[arg(required = true)]
    pub entries: Vec<String>,
    /// Give up waiting for the sagas after this many seconds of wall time.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Print every event even for large batches (the default shows a progress bar past 10 trips).
    #[arg(long)]
    pub verbose: bool,
    /// This booking step refuses (BookHotel, BookFlight, BookCar): the saga compensates.
    #[arg(long, value_name = "STEP")]
    pub fail: Vec<String>,
    /// This step books but its answer is lost: the task times out (TimeoutSeconds) and is
    /// compensated, starting with the step itself.
    #[arg(long, value_name = "STEP")]
    pub no_answer: Vec<String>,
    /// `STEP:N`: the step answers N times with a transient failure (THROTTLED), retried by the
    /// state's Retry with backoff, then books (N past the Retry's MaxAttempts compensates).
    #[arg(long, value_name = "STEP:N")]
    pub transient: Vec<String>,
    /// Deliver every message of these trips twice (the handlers are idempotent).
    #[arg(long)]
    pub duplicate: bool,
    /// Hold every message of these trips back this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 0)]
    pub delay: i64,
    /// Wait out timeouts, backoff and delays in real time instead of skipping them.
    #[arg(long)]
    pub real_time: bool,
    /// Abort the process (no cleanup, like `kill -9`) after this many runtime steps: for
    /// crash-recovery tests; `trip resume` finishes the sagas.
    #[arg(long, hide = true)]
    pub crash_after_steps: Option<u64>,
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  trip put-events --entries file://events/samples/book-trip.json\n  trip put-events --entries file://events/samples/book-trip.json --no-wait && trip resume"
)]
pub struct PutEventsArgs {
    #[command(flatten)]
    pub aws: crate::aws::AwsArgs,
    /// `file://path` to a JSON array of entries, as the AWS CLI takes it.
    #[arg(long)]
    pub entries: String,
    /// Only put the events: the sagas run when a later `trip resume`, `book`, `put-events`
    /// or `dlq redrive` runs the runtime over this store.
    #[arg(long)]
    pub no_wait: bool,
}

#[derive(Args)]
#[command(after_help = "Examples:\n  trip resume\n  trip resume --timeout 300 --json")]
pub struct ResumeArgs {
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
}

fn read_entries(path: &str) -> anyhow::Result<Vec<PutEventsEntry>> {
    read_entries_file(path).map_err(anyhow::Error::from)
}

/// What became of the entries `trip book` put: the trips to wait for, and the entries that
/// will never start a saga (refused by the bus, or routed to no rule that reaches it).
#[derive(Default)]
struct Put {
    /// Trips routed to the saga, with their ids, in order (a repeated id once).
    trips: Vec<String>,
    /// Requests routed to the saga without a string `tripId`: the bridge rejects them.
    anonymous: usize,
    /// Accepted by the bus but delivered to no rule that reaches the saga.
    unrouted: Vec<String>,
    refused: usize,
}

impl Put {
    fn classify(
        rt: &Runtime,
        entries: &[PutEventsEntry],
        result: &trip_local::bus::PutEventsOutput,
        from_seq: i64,
    ) -> Put {
        let saga_rules = saga_rules(rt);
        let logged: std::collections::HashMap<&str, &trip_local::LoggedEvent> = rt
            .log()
            .iter()
            .rev()
            .take_while(|e| e.seq > from_seq)
            .map(|e| (e.envelope.id.as_str(), e))
            .collect();
        let mut put = Put::default();
        let mut seen = BTreeSet::new();
        for (entry, res) in entries.iter().zip(&result.entries) {
            let Some(event_id) = res.event_id.as_deref() else {
                put.refused += 1;
                continue;
            };
            let routed = logged
                .get(event_id)
                .is_some_and(|e| e.rules.iter().any(|r| saga_rules.contains(r)));
            if !routed {
                put.unrouted.push(format!(
                    "source {:?}, detail-type {:?}: no rule routes it to the saga (it \
                     starts on source \"trip.client\", detail-type \"TripBookingRequested\"); \
                     it went to the event log only",
                    crate::output::printable(&entry.source),
                    crate::output::printable(&entry.detail_type)
                ));
                continue;
            }
            let trip = serde_json::from_str::<serde_json::Value>(&entry.detail)
                .ok()
                .and_then(|d| d.get("tripId")?.as_str().map(str::to_owned));
            match trip {
                Some(t) => {
                    if seen.insert(t.clone()) {
                        put.trips.push(t);
                    }
                }
                None => put.anonymous += 1,
            }
        }
        put
    }
}

/// The rules whose target is the saga's bridge queue.
fn saga_rules(rt: &Runtime) -> BTreeSet<String> {
    let routing = rt.routing();
    routing
        .rules
        .iter()
        .filter(|r| match &r.target {
            trip_events::routing::Target::Queue { name } => {
                routing.queue(name).is_some_and(|q| q.consumer == "bridge")
            }
            trip_events::routing::Target::Log { .. } => false,
        })
        .map(|r| r.name.clone())
        .collect()
}

/// Rejections of requests that had no string `tripId` (they name no trip), after `from_seq`.
fn anonymous_rejections(rt: &Runtime, from_seq: i64) -> Vec<&trip_local::LoggedEvent> {
    rt.log()
        .iter()
        .filter(|e| {
            e.seq > from_seq
                && e.trip_id().is_none()
                && e.envelope.detail_type == "TripBookingRejected"
        })
        .collect()
}

/// The state an unfinished saga is in (the last state it entered).
fn current_state(rt: &Runtime, trip: &str) -> Option<String> {
    rt.execution_history(trip).iter().rev().find_map(|h| {
        h.to_aws_json()
            .get("stateEnteredEventDetails")?
            .get("name")?
            .as_str()
            .map(str::to_owned)
    })
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
                "{}  {}  {took}{transitions}",
                out.trip(trip),
                crate::timeline::stuck_summary(out, &failed_step, &stuck_step, &error, &still_held)
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
        None => {
            let dead = rt.dead_letters().into_iter().find(|m| {
                serde_json::from_str::<serde_json::Value>(&m.body)
                    .ok()
                    .and_then(|v| v.pointer("/detail/tripId")?.as_str().map(|t| t == trip))
                    == Some(true)
            });
            if let Some(m) = dead {
                return (
                    format!(
                        "{}  {}: a message of it is in the {} dead-letter queue ({}); `trip dlq list` shows it",
                        out.trip(trip),
                        out.warn("NOT FINISHED"),
                        m.queue,
                        printable(m.last_error.as_deref().unwrap_or_default())
                    ),
                    exit::TIMEOUT,
                );
            }
            let at = current_state(rt, trip)
                .map(|s| format!(" (in state {s})"))
                .unwrap_or_default();
            (
                format!(
                    "{}  {}{at}: `trip resume` finishes it",
                    out.trip(trip),
                    out.warn("NOT FINISHED")
                ),
                exit::TIMEOUT,
            )
        }
    }
}

/// Prints the logged events after `printed` up to `upto` (by seq).
fn print_events(
    out: &crate::output::Output,
    timeline: &mut Timeline,
    rt: &Runtime,
    printed: &mut i64,
    upto: i64,
) {
    let log = rt.log();
    let from = log.partition_point(|e| e.seq <= *printed);
    for e in log[from..].iter().take_while(|e| e.seq <= upto) {
        println!("{}", timeline.line(out, e));
        *printed = e.seq;
    }
}

/// Invariants that only hold once every saga has ended: not checked when `--timeout` stopped
/// the run with sagas in flight (they are unfinished, not wrong).
const ENDED_ONLY: [&str; 2] = ["every saga ends", "no message is left unaccounted for"];

/// How many summary lines a run prints before it only counts: a batch of thousands ends
/// with a tally, not thousands of lines.
const SUMMARY_LINES: usize = 20;

/// Runs the sagas until every trip in `trips` has an outcome (or the timeout), printing the
/// timeline or a progress bar. Returns the exit code.
fn run_and_report(
    ctx: &Ctx,
    rt: &mut Runtime,
    put: &Put,
    from_seq: i64,
    timeout: Duration,
    verbose: bool,
    crash_after_steps: Option<u64>,
) -> anyhow::Result<u8> {
    let trips = &put.trips;
    let mut steps = 0u64;
    let out = ctx.out;
    let (live, bar) = crate::timeline::saga_progress(&out, trips.len(), verbose);
    let mut timeline = Timeline::default();
    let mut printed = from_seq;
    // An event is printed once the commit holding it is on disk: the steps handed to the
    // store's writer, as (commit ticket, last event seq of the step), oldest first.
    let mut waiting: VecDeque<(u64, i64)> = VecDeque::new();
    let mut queued = from_seq;
    let started = Instant::now();
    let mut timed_out = false;
    let stats = rt.run_until_idle(None, |rt| {
        steps += 1;
        if crash_after_steps.is_some_and(|n| steps >= n) {
            std::process::abort();
        }
        if live {
            let last = rt.log().last().map_or(queued, |e| e.seq);
            if last > queued {
                waiting.push_back((rt.last_ticket(), last));
                queued = last;
            }
            let durable = rt.durable_ticket();
            let mut upto = printed;
            while let Some(&(ticket, seq)) = waiting.front()
                && ticket <= durable
            {
                upto = seq;
                waiting.pop_front();
            }
            print_events(&out, &mut timeline, rt, &mut printed, upto);
        }
        let done = trips.iter().filter(|t| rt.trip_finished(t)).count();
        if let Some(pb) = &bar {
            pb.set_position(done as u64);
        }
        if started.elapsed() >= timeout || crate::interrupt::requested() {
            timed_out = true;
            return false;
        }
        true
    })?;
    let interrupted = crate::interrupt::requested();
    if let Some(pb) = &bar {
        pb.finish_and_clear();
    }
    if live {
        // run_until_idle synced: everything is on disk now.
        print_events(&out, &mut timeline, rt, &mut printed, i64::MAX);
    }
    let unfinished: Vec<&String> = trips.iter().filter(|t| !rt.trip_finished(t)).collect();
    let mut violations = rt.check_invariants();
    let skipped_checks = timed_out && !unfinished.is_empty();
    if skipped_checks {
        violations.retain(|v| !ENDED_ONLY.contains(&v.invariant));
    }
    let rejections = anonymous_rejections(rt, from_seq);
    let mut code = exit::OK;
    let mut lines = Vec::new();
    let mut tally = Tally::default();
    for t in trips {
        let (line, c) = summary_line(ctx, rt, t);
        tally.count(c);
        code = code.max(c);
        lines.push(line);
    }
    for r in &rejections {
        tally.count(exit::REJECTED);
        code = code.max(exit::REJECTED);
        let mut s = format!("{}  {}", out.trip("(no tripId)"), out.bad("REJECTED"));
        for reason in r.envelope.detail["reasons"]
            .as_array()
            .into_iter()
            .flatten()
        {
            s.push_str(&format!(
                "\n      - {}: {}",
                out.bold(&printable(reason["path"].as_str().unwrap_or_default())),
                printable(reason["reason"].as_str().unwrap_or_default())
            ));
        }
        lines.push(s);
    }
    if !put.unrouted.is_empty() || put.refused > 0 {
        code = code.max(exit::REJECTED);
    }
    if out.json {
        let trips_json: Vec<_> = trips
            .iter()
            .map(|t| match rt.trip_outcome(t) {
                Some(o) => json!({"tripId": t, "outcome": o}),
                None => json!({"tripId": t, "outcome": null, "state": current_state(rt, t)}),
            })
            .collect();
        let rejected_json: Vec<_> = rejections
            .iter()
            .map(|r| r.envelope.detail["reasons"].clone())
            .collect();
        out.print_json(&json!({
            "trips": trips_json,
            "rejectedWithoutTripId": rejected_json,
            "notRouted": put.unrouted,
            "refused": put.refused,
            "timedOut": timed_out,
            "invariantViolations": violations,
            "invariantsSkipped": if skipped_checks { ENDED_ONLY.to_vec() } else { vec![] },
            "tally": tally.to_json(),
            "stats": stats,
        }));
    } else {
        println!();
        for u in &put.unrouted {
            println!("{} {u}", out.bad("NOT ROUTED"));
        }
        let shown = if verbose { lines.len() } else { SUMMARY_LINES };
        for line in lines.iter().take(shown) {
            println!("{line}");
        }
        if lines.len() > shown {
            println!(
                "{}",
                out.dim(&format!(
                    "... and {} more (`trip list` shows every trip)",
                    lines.len() - shown
                ))
            );
        }
        if lines.len() > 1 {
            println!("{}", tally.line(&out));
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
        if skipped_checks && interrupted {
            println!(
                "{} {} saga(s) in flight, safe in the store; `trip resume` finishes them and \
                 checks every invariant",
                out.warn("interrupted:"),
                unfinished.len(),
            );
        } else if skipped_checks {
            println!(
                "{} {} saga(s) still in flight after --timeout {} s; `trip resume` finishes them \
                 and checks every invariant",
                out.warn("timeout:"),
                unfinished.len(),
                timeout.as_secs()
            );
        }
        if violations.is_empty() {
            if skipped_checks {
                println!(
                    "{} no inventory oversold; bookings and inventory agree",
                    out.good("invariants ok so far:")
                );
            } else {
                println!(
                    "{} every saga ended with all bookings held or none; no inventory oversold",
                    out.good("invariants ok:")
                );
            }
        } else {
            for v in &violations {
                println!(
                    "{} {} [{}]: {}",
                    out.bad("VIOLATION"),
                    printable(&v.trip_id),
                    v.invariant,
                    v.detail
                );
            }
        }
    }
    if !violations.is_empty() {
        code = exit::INVARIANT;
    } else if interrupted && !unfinished.is_empty() {
        code = exit::INTERRUPTED;
    }
    Ok(code)
}

/// Trips by how they ended, for the line under a batch.
#[derive(Default)]
struct Tally {
    booked: usize,
    failed: usize,
    rejected: usize,
    unfinished: usize,
}

impl Tally {
    fn count(&mut self, code: u8) {
        match code {
            exit::OK => self.booked += 1,
            exit::TRIP_FAILED => self.failed += 1,
            exit::REJECTED => self.rejected += 1,
            _ => self.unfinished += 1,
        }
    }

    fn to_json(&self) -> serde_json::Value {
        json!({
            "booked": self.booked,
            "failed": self.failed,
            "rejected": self.rejected,
            "unfinished": self.unfinished,
        })
    }

    fn line(&self, out: &crate::output::Output) -> String {
        format!(
            "{} {} booked · {} failed (compensated) · {} rejected · {} unfinished",
            out.bold("tally:"),
            self.booked,
            self.failed,
            self.rejected,
            self.unfinished
        )
    }
}

/// The faults `book` was asked for, on `trips`; `None` when there are none.
fn trip_faults(args: &BookArgs, trips: &[String]) -> anyhow::Result<Option<TripFaults>> {
    let step = |s: &str| TripFaults::service_of_step(s).map_err(anyhow::Error::msg);
    let mut f = TripFaults::default();
    f.trips = trips.iter().cloned().collect();
    f.duplicate = args.duplicate;
    f.delay_ms = args.delay;
    for s in &args.fail {
        f.fail.push(step(s)?);
    }
    for s in &args.no_answer {
        f.no_answer.push(step(s)?);
    }
    for t in &args.transient {
        let (s, n) = t.split_once(':').unwrap_or((t, "1"));
        let n: u32 = n.parse().map_err(|_| {
            anyhow::anyhow!("--transient takes STEP:N (e.g. BookHotel:2), not {t:?}")
        })?;
        f.transient.insert(step(s)?, n);
    }
    if args.delay < 0 {
        bail!("--delay takes milliseconds, 0 or more");
    }
    let any = !f.fail.is_empty()
        || !f.no_answer.is_empty()
        || !f.transient.is_empty()
        || f.duplicate
        || f.delay_ms > 0;
    Ok(any.then_some(f))
}

fn fault_summary(f: &TripFaults) -> String {
    let mut parts = Vec::new();
    for s in &f.fail {
        parts.push(format!("{} refuses", s.book_step()));
    }
    for s in &f.no_answer {
        parts.push(format!("{}'s answer is lost (a timeout)", s.book_step()));
    }
    for (s, n) in &f.transient {
        parts.push(format!(
            "{} throttled {n} time(s), then retried",
            s.book_step()
        ));
    }
    if f.duplicate {
        parts.push("every message delivered twice".into());
    }
    if f.delay_ms > 0 {
        parts.push(format!("every message held back {} ms", f.delay_ms));
    }
    parts.join(" · ")
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
    crate::interrupt::install();
    let mut entries = Vec::new();
    for path in &args.entries {
        entries.extend(read_entries(path)?);
    }
    let mut rt = if args.real_time {
        super::open_runtime_with(
            ctx,
            ClockChoice::Wall {
                fast_forward: false,
            },
        )?
    } else {
        open_runtime(ctx)?
    };
    let trips: Vec<String> = {
        let mut seen = BTreeSet::new();
        entries
            .iter()
            .filter_map(|e| {
                let d: serde_json::Value = serde_json::from_str(&e.detail).ok()?;
                Some(d.get("tripId")?.as_str()?.to_owned())
            })
            .filter(|t| seen.insert(t.clone()))
            .collect()
    };
    let faults = trip_faults(&args, &trips)?;
    let out = ctx.out;
    if let Some(f) = faults {
        if !out.json {
            println!("{} {}", out.warn("faults:"), fault_summary(&f));
        }
        rt.set_trip_faults(f);
    }
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
        println!("{}", out.dim(&ctx.sources()?.describe()));
        for t in &trips {
            if let Some(o) = rt.trip_outcome(t) {
                println!(
                    "{} {} already ended ({}) in this store: the request is a duplicate, the saga is not run again",
                    out.warn("note:"),
                    printable(t),
                    serde_json::to_value(&o)
                        .ok()
                        .and_then(|v| v["outcome"].as_str().map(str::to_owned))
                        .unwrap_or_default()
                );
            }
        }
    }
    let from_seq = rt.log().last().map_or(0, |l| l.seq);
    let result = match rt.put_events(&entries) {
        Ok(r) => r,
        // The whole call is refused (as IAM's events:source condition refuses it on AWS):
        // nothing was put, and no saga will run — an entry refused, not an error of trip's.
        Err(e @ trip_local::RuntimeError::AccessDenied { .. }) => {
            eprintln!("{} {e}; nothing was put", out.bad("refused:"));
            return Ok(exit::REJECTED);
        }
        Err(e) => return Err(anyhow::Error::from(e).context("put-events failed")),
    };
    print_put_result(ctx, &result);
    if !out.json {
        println!(
            "put {} event(s), {} refused\n",
            result.entries.len(),
            result.failed_entry_count
        );
    }
    let put = Put::classify(&rt, &entries, &result, from_seq);
    run_and_report(
        ctx,
        &mut rt,
        &put,
        from_seq,
        Duration::from_secs(args.timeout),
        args.verbose,
        args.crash_after_steps,
    )
}

/// PutEvents takes 1 to 10 entries per call ("Array Members: Minimum number of 1 item.
/// Maximum number of 10 items.", Amazon EventBridge API Reference, PutEvents); past that AWS
/// refuses the whole call, as `trip put-events` does. (`trip book` is not the API: it takes
/// any number of trips.)
pub const MAX_PUT_EVENTS_ENTRIES: usize = 10;

pub fn put_events(ctx: &Ctx, args: PutEventsArgs) -> anyhow::Result<u8> {
    let entries = read_entries(&args.entries)?;
    if entries.len() > MAX_PUT_EVENTS_ENTRIES {
        // The AWS CLI prints the service's ValidationException and puts nothing.
        eprintln!(
            "{} An error occurred (ValidationException) when calling the PutEvents operation: \
             1 validation error detected: Value at 'entries' failed to satisfy constraint: \
             Member must have length less than or equal to {MAX_PUT_EVENTS_ENTRIES} ({} given; \
             nothing was put; `trip book` takes any number)",
            ctx.out.bad("error:"),
            entries.len()
        );
        return Ok(exit::REJECTED);
    }
    let mut rt = open_runtime(ctx)?;
    let result = rt.put_events(&entries).context("put-events failed")?;
    ctx.out.print_json(&serde_json::to_value(&result)?);
    if args.no_wait {
        eprintln!(
            "{} the events are on the bus and in the store; the sagas run when `trip resume` \
             (or another book, put-events or dlq redrive) runs the runtime over it",
            ctx.out.warn("note:")
        );
    } else {
        rt.run_until_idle(None, |_| true)?;
    }
    Ok(if result.failed_entry_count > 0 {
        exit::REJECTED
    } else {
        exit::OK
    })
}

pub fn resume(ctx: &Ctx, args: ResumeArgs) -> anyhow::Result<u8> {
    crate::interrupt::install();
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
    let put = Put {
        trips: unfinished,
        ..Put::default()
    };
    run_and_report(
        ctx,
        &mut rt,
        &put,
        from_seq,
        Duration::from_secs(args.timeout),
        false,
        None,
    )
}
