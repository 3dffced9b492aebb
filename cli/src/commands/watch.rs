//! `trip watch`: the event log, read from the store file while another `trip` writes it.

use std::time::Duration;

use anyhow::{Context, bail};
use clap::Args;
use trip_events::EventEnvelope;
use trip_local::LoggedEvent;
use trip_local::store::{LogReader, LogRow};

use crate::timeline::Timeline;
use crate::{Ctx, exit};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  trip watch\n  trip watch --follow                 # in a second terminal, before or beside `trip book`\n  trip watch --trip trip-lisbon-0001 --json"
)]
pub struct WatchArgs {
    #[command(flatten)]
    pub aws: crate::aws::AwsArgs,
    /// Only this trip's events.
    #[arg(long)]
    pub trip: Option<String>,
    /// Keep watching for new events (Ctrl-C to stop).
    #[arg(long, short)]
    pub follow: bool,
    /// With --follow: stop after this many seconds without a new event (0: never).
    #[arg(long, default_value_t = 0)]
    pub idle_exit: u64,
    /// With --aws: how far back the log group is read (30s, 10m, 2h, 1d or an RFC 3339 time).
    #[arg(long, default_value = "1h")]
    pub since: String,
    /// Print task tokens as they are (masked by default: whoever holds a token can answer the
    /// workflow).
    #[arg(long)]
    pub show_tokens: bool,
}

/// An event as `trip watch --json` prints it: the export line, tokens masked unless asked.
fn json_line(e: &LoggedEvent, show_tokens: bool) -> serde_json::Value {
    let mut v = e.to_export_json();
    if !show_tokens {
        trip_local::runtime::mask_task_tokens(&mut v);
    }
    v
}

/// Waits until `path` exists; false when `idle_exit` seconds (0: never) pass first.
fn wait_for(path: &std::path::Path, idle_exit: u64) -> bool {
    let tick = Duration::from_millis(200);
    let mut waited = Duration::ZERO;
    while !path.exists() {
        if idle_exit > 0 && waited >= Duration::from_secs(idle_exit) {
            return false;
        }
        std::thread::sleep(tick);
        waited += tick;
    }
    true
}

/// Opens the log; while following, a store still being created is retried for a moment.
fn open_reader(path: &std::path::Path, follow: bool) -> anyhow::Result<LogReader> {
    let mut tries = 0;
    loop {
        match LogReader::open(path) {
            Ok(r) => return Ok(r),
            Err(_) if follow && tries < 25 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => return Err(e.into()),
        }
    }
}

/// Under a trip's final event, while following: how it ended.
fn print_outcome(out: &crate::output::Output, e: &LoggedEvent) {
    let Some(outcome) = trip_local::runtime::outcome_of(&e.envelope) else {
        return;
    };
    let trip = out.trip(e.trip_id().unwrap_or("(no tripId)"));
    let text = match outcome {
        trip_local::TripOutcome::Booked => out.good("BOOKED"),
        trip_local::TripOutcome::Failed { failed_step, .. } => {
            out.bad(&format!("FAILED at {failed_step}, compensated"))
        }
        trip_local::TripOutcome::Rejected { reasons } => {
            out.bad(&format!("REJECTED ({} reasons)", reasons.len()))
        }
        trip_local::TripOutcome::Stuck {
            stuck_step,
            still_held,
            ..
        } => out.bad(&format!(
            "COMPENSATION STUCK at {stuck_step}; may still hold {}",
            still_held.join(", ")
        )),
    };
    println!("{} {trip}  {text}", out.dim("  ⇒"));
}

fn to_logged(row: LogRow) -> anyhow::Result<LoggedEvent> {
    let envelope: EventEnvelope = serde_json::from_str(&row.envelope)
        .with_context(|| format!("event {} in the log is not an envelope", row.event_id))?;
    Ok(LoggedEvent {
        seq: row.seq,
        envelope: envelope.into(),
        put_at: row.put_at,
        delivered_at: row.delivered_at,
        rules: row.rules,
    })
}

pub fn watch(ctx: &Ctx, args: WatchArgs) -> anyhow::Result<u8> {
    let Some(path) = &ctx.store else {
        bail!("trip watch reads a store file; --memory has none");
    };
    let out = ctx.out;
    if !path.exists() {
        if !args.follow {
            bail!(
                "no store at {} yet: run `trip book <entries.json>` first (or pass --store)",
                path.display()
            );
        }
        // Like `tail -F`: wait for the file the first `trip book` creates.
        if !out.json {
            eprintln!(
                "{} no store at {} yet; waiting for the first `trip book`",
                out.warn("note:"),
                path.display()
            );
        }
        if !wait_for(path, args.idle_exit) {
            return Ok(exit::OK);
        }
    }
    let reader = open_reader(path, args.follow)?;
    let mut timeline = Timeline::default();
    let mut after = 0;
    let rows = reader.read(after, args.trip.as_deref(), usize::MAX)?;
    let events = rows
        .into_iter()
        .map(to_logged)
        .collect::<anyhow::Result<Vec<_>>>()?;
    if let Some(last) = events.last() {
        after = last.seq;
    }
    if let Some(t) = &args.trip
        && events.is_empty()
    {
        if !args.follow {
            bail!("no trip {:?} in this store", crate::output::printable(t));
        }
        if !out.json {
            println!("no events of trip {} yet; waiting for them", out.trip(t));
        }
    }
    if out.json {
        for e in &events {
            println!("{}", json_line(e, args.show_tokens));
        }
    } else if args.follow {
        for e in &events {
            println!("{}", timeline.line_with_time(&out, e));
            print_outcome(&out, e);
        }
    } else {
        print!("{}", timeline.grouped(&out, &events));
        if events.is_empty() {
            println!("no events yet");
        }
    }
    if !args.follow {
        return Ok(exit::OK);
    }
    let mut idle = Duration::ZERO;
    let tick = Duration::from_millis(200);
    loop {
        std::thread::sleep(tick);
        let rows = reader.read(after, args.trip.as_deref(), 10_000)?;
        if rows.is_empty() {
            idle += tick;
            if args.idle_exit > 0 && idle >= Duration::from_secs(args.idle_exit) {
                return Ok(exit::OK);
            }
            continue;
        }
        idle = Duration::ZERO;
        for row in rows {
            after = row.seq;
            let e = to_logged(row)?;
            if out.json {
                println!("{}", json_line(&e, args.show_tokens));
            } else {
                println!("{}", timeline.line_with_time(&out, &e));
                print_outcome(&out, &e);
            }
        }
    }
}
