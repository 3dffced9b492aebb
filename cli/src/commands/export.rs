//! `trip export` and `trip replay`: the event log as JSON Lines, and back.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::{Value, json};
use trip_events::EventEnvelope;
use trip_local::{ClockChoice, Runtime, RuntimeOptions};

use super::{open_runtime, open_runtime_read_only};
use crate::{Ctx, exit};

#[derive(Args)]
pub struct ExportArgs {
    /// Only this trip's events.
    #[arg(long)]
    pub trip: Option<String>,
    /// Write to this file instead of standard output (never over the store; over another
    /// existing file only with --force).
    #[arg(long, short)]
    pub output: Option<String>,
    /// Overwrite the --output file if it exists.
    #[arg(long)]
    pub force: bool,
}

/// The store's own files: the database, its write-ahead log and shared memory, its lock.
fn store_files(store: &Path) -> Vec<PathBuf> {
    ["", "-wal", "-shm", ".lock", "-journal"]
        .iter()
        .map(|suffix| {
            let mut s = store.as_os_str().to_owned();
            s.push(suffix);
            PathBuf::from(s)
        })
        .collect()
}

/// Where an export may go: not over the store (not even with --force), and not over an
/// existing file unless --force says so.
fn check_output(ctx: &Ctx, args: &ExportArgs) -> anyhow::Result<()> {
    let Some(output) = &args.output else {
        return Ok(());
    };
    let output = Path::new(output);
    // Compared by what the paths point to, so `./s.db`, `dir/../s.db` and links count.
    let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => false,
    };
    if let Some(store) = &ctx.store
        && store_files(store).iter().any(|f| same(f, output))
    {
        bail!(
            "refusing to export over the store {} itself: give -o another file",
            store.display()
        );
    }
    if output.exists() && !args.force {
        bail!(
            "{} already exists: pass --force to overwrite it, or give -o another file",
            output.display()
        );
    }
    Ok(())
}

#[derive(Args)]
#[command(
    after_help = "Examples:\n  trip export -o log.jsonl && trip replay log.jsonl --twice\n  aws logs filter-log-events --log-group-name <group> > events.json && trip replay events.json\n  trip replay log.jsonl --rule saga-bridge"
)]
pub struct ReplayArgs {
    #[command(flatten)]
    pub aws: crate::aws::AwsArgs,
    /// An event log: `trip export` output (JSON Lines), or CloudWatch Logs events — what
    /// `aws logs filter-log-events` prints (`{"events": [...]}`, the envelope in each
    /// `message`), or such items one per line.
    /// Not with --aws, which replays the deployed archive.
    pub log: Option<String>,
    /// Replay into the store instead of a fresh in-memory runtime.
    #[arg(long)]
    pub into_store: bool,
    /// Only deliver to these rules (repeatable), like StartReplay's rule filter.
    #[arg(long = "rule")]
    pub rules: Vec<String>,
    /// Replay the log twice; the second pass must change nothing (idempotency).
    #[arg(long)]
    pub twice: bool,
    /// With --aws: the first event time to replay (RFC 3339, e.g. 2031-06-09T00:00:00Z).
    #[arg(long, value_name = "TIME")]
    pub from: Option<String>,
    /// With --aws: the end of the event-time window (RFC 3339).
    #[arg(long, value_name = "TIME")]
    pub to: Option<String>,
    /// With --aws: start the replay and return without waiting for it to complete.
    #[arg(long)]
    pub no_wait: bool,
}

pub fn export(ctx: &Ctx, args: ExportArgs) -> anyhow::Result<u8> {
    check_output(ctx, &args)?;
    let rt = open_runtime_read_only(ctx)?;
    let mut sink: Box<dyn Write> = match &args.output {
        Some(path) => {
            // Without --force, a file that appeared since the check is not overwritten either.
            let file = std::fs::OpenOptions::new()
                .write(true)
                .create(true)
                .create_new(!args.force)
                .truncate(true)
                .open(path)
                .with_context(|| format!("cannot create {path}"))?;
            Box::new(std::io::BufWriter::new(file))
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut n = 0;
    for e in rt.log() {
        if args.trip.as_deref().is_some_and(|t| e.trip_id() != Some(t)) {
            continue;
        }
        writeln!(sink, "{}", e.to_export_json())?;
        n += 1;
    }
    sink.flush()?;
    if let Some(path) = &args.output {
        eprintln!("exported {n} event(s) to {path}");
    }
    Ok(exit::OK)
}

/// Reads a JSON Lines log. Errors name the file and line.
pub fn read_log(path: &str) -> anyhow::Result<Vec<EventEnvelope>> {
    let text = std::fs::read_to_string(path).with_context(|| format!("cannot read {path}"))?;
    // The item of a log: an envelope, or a CloudWatch Logs event whose `message` holds one.
    let envelope = |v: Value, at: &str| -> anyhow::Result<EventEnvelope> {
        let v = match v.get("message").and_then(Value::as_str) {
            Some(m) if v.get("detail-type").is_none() => serde_json::from_str(m)
                .with_context(|| format!("{path}:{at}: message is not JSON"))?,
            _ => v,
        };
        serde_json::from_value(v).with_context(|| format!("{path}:{at}: not an EventBridge event"))
    };
    let mut out = Vec::new();
    // One JSON document: what `aws logs filter-log-events` prints (`{"events": [...]}`, or its
    // `--query events` array); otherwise JSON Lines.
    let whole: Option<Vec<Value>> = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Object(mut m)) if m.get("events").is_some_and(Value::is_array) => {
            match m.remove("events") {
                Some(Value::Array(items)) => Some(items),
                _ => None,
            }
        }
        Ok(Value::Array(items)) => Some(items),
        _ => None,
    };
    if let Some(items) = whole {
        for (i, v) in items.into_iter().enumerate() {
            out.push(envelope(v, &format!("events[{i}]"))?);
        }
    } else {
        for (i, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() {
                continue;
            }
            let v: Value = serde_json::from_str(line)
                .with_context(|| format!("{path}:{}: not JSON", i + 1))?;
            out.push(envelope(v, &(i + 1).to_string())?);
        }
    }
    if out.is_empty() {
        bail!("{path} holds no events");
    }
    Ok(out)
}

/// A fingerprint of everything a replay may change: bookings and outcomes per trip.
fn final_state(rt: &Runtime, trips: &[String]) -> Value {
    let state: Vec<Value> = trips
        .iter()
        .map(|t| {
            let bookings: Vec<Value> = trip_events::Service::ALL
                .iter()
                .map(|s| {
                    rt.booking(*s, t)
                        .map(|b| json!({"service": s, "status": b.status.as_str(), "bookingId": b.booking_id}))
                        .unwrap_or(json!({"service": s, "status": "NONE"}))
                })
                .collect();
            let outcome = rt
                .trip_outcome(t)
                .and_then(|o| serde_json::to_value(o).ok())
                .and_then(|o| o.get("outcome").cloned());
            json!({"tripId": t, "outcome": outcome, "bookings": bookings})
        })
        .collect();
    Value::Array(state)
}

pub fn replay(ctx: &Ctx, args: ReplayArgs) -> anyhow::Result<u8> {
    let Some(log) = &args.log else {
        // A usage error, like clap's own (the file is optional only with --aws).
        eprintln!(
            "{} trip replay needs an event log file (or --aws --from <TIME> --to <TIME> to \
             replay the deployed archive)",
            ctx.out.bad("error:")
        );
        return Ok(exit::USAGE);
    };
    let events = read_log(log)?;
    let mut rt = if args.into_store {
        open_runtime(ctx)?
    } else {
        Runtime::open(RuntimeOptions {
            clock: ClockChoice::Wall { fast_forward: true },
            ..RuntimeOptions::default()
        })?
    };
    let known: Vec<&str> = rt.routing().rules.iter().map(|r| r.name.as_str()).collect();
    if let Some(bad) = args.rules.iter().find(|r| !known.contains(&r.as_str())) {
        bail!(
            "no rule {:?} in the routing table: the rules are {}",
            crate::output::printable(bad),
            known.join(", ")
        );
    }
    let n = rt.replay(events.clone(), &args.rules)?;
    rt.run_until_idle(None, |_| true)?;
    let trips = rt.trip_ids();
    let first = final_state(&rt, &trips);
    let mut changed = false;
    if args.twice {
        rt.replay(events, &args.rules)?;
        rt.run_until_idle(None, |_| true)?;
        changed = final_state(&rt, &trips) != first;
    }
    let violations = rt.check_invariants();
    let out = ctx.out;
    if out.json {
        out.print_json(&json!({
            "replayed": n,
            "trips": first,
            "secondPassChanged": changed,
            "invariantViolations": violations,
        }));
    } else {
        println!(
            "replayed {n} event(s) into {}",
            if args.into_store {
                "the store"
            } else {
                "a fresh runtime"
            }
        );
        for t in first.as_array().into_iter().flatten() {
            let bookings: Vec<String> = t["bookings"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|b| {
                    format!(
                        "{} {}",
                        b["service"].as_str().unwrap_or(""),
                        b["status"].as_str().unwrap_or("")
                    )
                })
                .collect();
            println!(
                "  {}  {}  {}",
                out.trip(t["tripId"].as_str().unwrap_or("")),
                t["outcome"].as_str().unwrap_or("unfinished"),
                bookings.join(", ")
            );
        }
        if args.twice {
            if changed {
                println!(
                    "{} the second replay changed the final state",
                    out.bad("NOT IDEMPOTENT:")
                );
            } else {
                println!(
                    "{} the second replay changed nothing",
                    out.good("idempotent:")
                );
            }
        }
        for v in &violations {
            println!(
                "{} {} [{}]: {}",
                out.bad("VIOLATION"),
                v.trip_id,
                v.invariant,
                v.detail
            );
        }
        if violations.is_empty() {
            println!("{}", out.good("invariants ok"));
        }
    }
    Ok(if !violations.is_empty() || changed {
        exit::INVARIANT
    } else {
        exit::OK
    })
}
