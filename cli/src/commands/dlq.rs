//! `trip dlq list|redrive`.

use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;
use trip_local::TripOutcome;
use trip_local::runtime::fmt_ms;

use super::open_runtime;
use crate::{Ctx, exit};

#[derive(Args)]
pub struct DlqArgs {
    #[command(subcommand)]
    pub action: DlqAction,
}

#[derive(Subcommand)]
pub enum DlqAction {
    /// Every dead letter, with the reason its last attempt failed.
    List,
    /// Moves dead letters back to their queue and runs them again.
    Redrive {
        /// Only this queue (hotel, flight, car, bridge).
        #[arg(long)]
        queue: Option<String>,
    },
}

pub fn dlq(ctx: &Ctx, args: DlqArgs) -> anyhow::Result<u8> {
    let mut rt = open_runtime(ctx)?;
    let out = ctx.out;
    match args.action {
        DlqAction::List => {
            let dead = rt.dead_letters();
            let stuck = rt.stuck_compensations();
            if out.json {
                // The dead letters, as before; stuck compensations in their own document
                // only when there are any, so a script reading the list keeps working.
                if stuck.is_empty() {
                    out.print_json(&serde_json::to_value(&dead)?);
                } else {
                    out.print_json(&json!({
                        "deadLetters": dead,
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
                println!("the dead-letter queues are empty");
                return Ok(exit::OK);
            }
            let mut table = Table::new();
            table.load_preset(UTF8_FULL_CONDENSED);
            table.set_header(["queue", "message", "receives", "dead since", "reason"]);
            for m in &dead {
                table.add_row([
                    m.queue.clone(),
                    m.message_id.clone(),
                    m.receive_count.to_string(),
                    m.dead_lettered_at.map(fmt_ms).unwrap_or_default(),
                    m.last_error.clone().unwrap_or_default(),
                ]);
            }
            println!("{table}");
            Ok(exit::OK)
        }
        DlqAction::Redrive { queue } => {
            let n = rt.redrive(queue.as_deref())?;
            let stats = rt.run_until_idle(None, |_| true)?;
            let left = rt.dead_letters().len();
            if out.json {
                out.print_json(&json!({"redriven": n, "deadLettersLeft": left, "stats": stats}));
            } else {
                println!("redrove {n} message(s); {left} back in a dead-letter queue");
            }
            Ok(exit::OK)
        }
    }
}
