//! `trip dlq list|redrive|purge`.

use anyhow::bail;
use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;
use trip_local::Runtime;
use trip_local::TripOutcome;
use trip_local::queue::Message;
use trip_local::runtime::fmt_ms;

use super::{open_runtime, open_runtime_read_only};
use crate::output::printable;
use crate::{Ctx, exit};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  trip dlq list\n  trip dlq list --queue flight --json\n  \
                        trip dlq redrive --queue car\n  trip dlq purge --queue bridge"
)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub action: DlqAction,
}

#[derive(Subcommand)]
pub enum DlqAction {
    /// Every dead letter, with its trip and the reason its last attempt failed.
    List {
        /// Only this queue's dead letters (hotel, flight, car, bridge).
        #[arg(long)]
        queue: Option<String>,
    },
    /// Moves dead letters back to their queue and runs them again.
    Redrive {
        /// Only this queue (hotel, flight, car, bridge).
        #[arg(long)]
        queue: Option<String>,
    },
    /// Deletes dead letters for good, like SQS PurgeQueue on the dead-letter queue.
    Purge {
        /// Only this queue (hotel, flight, car, bridge).
        #[arg(long)]
        queue: Option<String>,
    },
}

/// The queue a `--queue` names, checked against the routing table's queues.
fn checked_queue(rt: &Runtime, queue: Option<String>) -> anyhow::Result<Option<String>> {
    let Some(q) = queue else { return Ok(None) };
    let names: Vec<&str> = rt
        .routing()
        .queues
        .iter()
        .map(|q| q.name.as_str())
        .collect();
    if !names.contains(&q.as_str()) {
        bail!(
            "no queue {:?}: the queues are {}",
            printable(&q),
            names.join(", ")
        );
    }
    Ok(Some(q))
}

fn dead_in(rt: &Runtime, queue: Option<&str>) -> Vec<Message> {
    rt.dead_letters()
        .into_iter()
        .filter(|m| queue.is_none_or(|q| m.queue == q))
        .collect()
}

/// The trip a message's event belongs to, if its body is an event naming one.
fn trip_of(m: &Message) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(&m.body).ok()?;
    v.pointer("/detail/tripId")?.as_str().map(str::to_owned)
}

pub fn dlq(ctx: &Ctx, args: DlqArgs) -> anyhow::Result<u8> {
    let out = ctx.out;
    match args.action {
        DlqAction::List { queue } => {
            let rt = open_runtime_read_only(ctx)?;
            let queue = checked_queue(&rt, queue)?;
            let dead = dead_in(&rt, queue.as_deref());
            let stuck = rt.stuck_compensations();
            if out.json {
                let rows: Vec<_> = dead
                    .iter()
                    .map(|m| {
                        let mut v = serde_json::to_value(m).unwrap_or_default();
                        v["tripId"] = json!(trip_of(m));
                        v
                    })
                    .collect();
                // The dead letters, as before; stuck compensations in their own document
                // only when there are any, so a script reading the list keeps working.
                if stuck.is_empty() {
                    out.print_json(&json!(rows));
                } else {
                    out.print_json(&json!({
                        "deadLetters": rows,
                        "stuckCompensations": stuck
                            .iter()
                            .map(|(trip, o)| json!({"tripId": trip, "outcome": o}))
                            .collect::<Vec<_>>(),
                    }));
                }
                return Ok(exit::OK);
            }
            // A compensation that failed through all its retries ended its saga: its command
            // may be in a dead-letter queue, and what it did not undo is still held.
            for (trip, o) in &stuck {
                if let TripOutcome::Stuck {
                    stuck_step,
                    still_held,
                    ..
                } = o
                {
                    println!(
                        "{} {}: {stuck_step} never succeeded; may still hold {}",
                        out.bad("COMPENSATION STUCK"),
                        out.trip(trip),
                        still_held.join(", ")
                    );
                }
            }
            if dead.is_empty() {
                match &queue {
                    Some(q) => println!("the {q} dead-letter queue is empty"),
                    None => println!("the dead-letter queues are empty"),
                }
                return Ok(exit::OK);
            }
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED);
            table.set_header([
                "queue",
                "trip",
                "message",
                "receives",
                "dead since",
                "reason",
            ]);
            for m in &dead {
                table.add_row([
                    m.queue.clone(),
                    printable(&trip_of(m).unwrap_or_else(|| "-".into())).into_owned(),
                    m.message_id.clone(),
                    m.receive_count.to_string(),
                    m.dead_lettered_wall_at
                        .or(m.dead_lettered_at)
                        .map(fmt_ms)
                        .unwrap_or_default(),
                    printable(m.last_error.as_deref().unwrap_or_default()).into_owned(),
                ]);
            }
            println!("{table}");
            Ok(exit::OK)
        }
        DlqAction::Redrive { queue } => {
            let mut rt = open_runtime(ctx)?;
            let queue = checked_queue(&rt, queue)?;
            let n = rt.redrive(queue.as_deref())?;
            let stats = rt.run_until_idle(None, |_| true)?;
            let left = dead_in(&rt, queue.as_deref()).len();
            let scope = queue.as_deref().unwrap_or("every");
            if out.json {
                out.print_json(&json!({
                    "queue": queue,
                    "redriven": n,
                    "deadLettersLeft": left,
                    "stats": stats,
                }));
            } else {
                println!(
                    "redrove {n} message(s) from the {scope} dead-letter queue; {left} back in it"
                );
            }
            Ok(exit::OK)
        }
        DlqAction::Purge { queue } => {
            let mut rt = open_runtime(ctx)?;
            let queue = checked_queue(&rt, queue)?;
            let n = rt.purge_dead_letters(queue.as_deref())?;
            if out.json {
                out.print_json(&json!({"queue": queue, "purged": n}));
            } else {
                println!(
                    "purged {n} dead letter(s) from the {} dead-letter queue",
                    queue.as_deref().unwrap_or("every")
                );
            }
            Ok(exit::OK)
        }
    }
}
