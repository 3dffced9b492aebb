//! `trip list`: every trip in the store with its outcome, like
//! `aws stepfunctions list-executions` (newest last, filterable by status).

use clap::{Args, ValueEnum};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;
use trip_local::TripOutcome;
use trip_local::runtime::fmt_ms;

use super::open_runtime_read_only;
use crate::output::printable;
use crate::{Ctx, exit};

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Status {
    /// `TripBooked`: hotel, flight and car held.
    Booked,
    /// `TripBookingFailed`: a step failed and what was done is undone.
    Failed,
    /// `TripBookingRejected`: the request was invalid; no saga ran.
    Rejected,
    /// No outcome yet (in flight; `trip resume` finishes it).
    Running,
    /// `TripCompensationStuck`: a compensation never succeeded; something may still be held.
    Stuck,
}

impl Status {
    fn of(outcome: Option<&TripOutcome>) -> Status {
        match outcome {
            Some(TripOutcome::Booked) => Status::Booked,
            Some(TripOutcome::Failed { .. }) => Status::Failed,
            Some(TripOutcome::Rejected { .. }) => Status::Rejected,
            Some(TripOutcome::Stuck { .. }) => Status::Stuck,
            None => Status::Running,
        }
    }

    fn name(self) -> &'static str {
        match self {
            Status::Booked => "booked",
            Status::Failed => "failed",
            Status::Rejected => "rejected",
            Status::Running => "running",
            Status::Stuck => "stuck",
        }
    }
}

#[derive(Args)]
#[command(after_help = "Examples:\n  trip list\n  trip list --status failed\n  \
                        trip list --status running --json")]
pub struct ListArgs {
    /// Only trips with this outcome.
    #[arg(long, value_enum)]
    pub status: Option<Status>,
}

pub fn list(ctx: &Ctx, args: ListArgs) -> anyhow::Result<u8> {
    let out = ctx.out;
    if ctx.store.as_ref().is_some_and(|p| !p.exists()) {
        if out.json {
            out.print_json(&json!({ "trips": [] }));
        } else {
            println!("no trips yet (no store): `trip book <entries.json>` books one");
        }
        return Ok(exit::OK);
    }
    // Read-only: a list never waits for (or blocks) the `trip book` writing the store.
    let rt = open_runtime_read_only(ctx)?;
    let mut rows = Vec::new();
    for trip in rt.trip_ids() {
        let outcome = rt.trip_outcome(&trip);
        let status = Status::of(outcome.as_ref());
        if args.status.is_some_and(|want| want != status) {
            continue;
        }
        let events = rt.trip_log(&trip);
        let started = events.first().map(|e| e.put_at);
        let stopped = outcome
            .as_ref()
            .and_then(|_| events.last().map(|e| e.put_at));
        let detail = match &outcome {
            Some(TripOutcome::Failed {
                failed_step,
                error,
                cause,
                ..
            }) => {
                let why = crate::timeline::failure_reason(cause.as_deref())
                    .unwrap_or_else(|| error.clone());
                format!("at {failed_step}: {why}")
            }
            Some(TripOutcome::Rejected { reasons }) => format!("{} reason(s)", reasons.len()),
            Some(TripOutcome::Stuck {
                stuck_step,
                still_held,
                ..
            }) => format!(
                "{stuck_step} never succeeded; may still hold {}",
                still_held.join(", ")
            ),
            _ => String::new(),
        };
        rows.push((trip, status, started, stopped, detail));
    }
    if out.json {
        let trips: Vec<_> = rows
            .iter()
            .map(|(trip, status, started, stopped, detail)| {
                json!({
                    "tripId": trip,
                    "status": status.name(),
                    "startDate": started.map(fmt_ms),
                    "stopDate": stopped.map(fmt_ms),
                    "detail": detail,
                })
            })
            .collect();
        out.print_json(&json!({ "trips": trips }));
        return Ok(exit::OK);
    }
    if rows.is_empty() {
        match args.status {
            Some(s) => println!("no {} trips in this store", s.name()),
            None => println!("no trips in this store yet: `trip book <entries.json>` books one"),
        }
        return Ok(exit::OK);
    }
    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["trip", "status", "started", "stopped", "detail"]);
    for (trip, status, started, stopped, detail) in &rows {
        table.add_row([
            printable(trip).into_owned(),
            status.name().to_owned(),
            started.map(fmt_ms).unwrap_or_default(),
            stopped.map(fmt_ms).unwrap_or_default(),
            printable(detail).into_owned(),
        ]);
    }
    println!("{table}");
    println!("{} trip(s)", rows.len());
    Ok(exit::OK)
}
