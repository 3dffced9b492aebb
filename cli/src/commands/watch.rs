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
pub struct WatchArgs {
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
    if !path.exists() {
        bail!(
            "no store at {} yet: run `trip book <entries.json>` first (or pass --store)",
            path.display()
        );
    }
    let reader = LogReader::open(path)?;
    let out = ctx.out;
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
    if out.json {
        for e in &events {
            println!("{}", json_line(e, args.show_tokens));
        }
    } else if args.follow {
        for e in &events {
            println!("{}", timeline.line_with_time(&out, e));
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
            }
        }
    }
}
