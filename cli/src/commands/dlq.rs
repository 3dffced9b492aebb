//! `trip dlq list|redrive`.

use clap::{Args, Subcommand};
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use serde_json::json;
use trip_local::runtime::fmt_ms;

use super::{open_runtime, open_runtime_read_only};
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
    let out = ctx.out;
    match args.action {
        DlqAction::List => {
            let rt = open_runtime_read_only(ctx)?;
            let dead = rt.dead_letters();
            if out.json {
                out.print_json(&serde_json::to_value(&dead)?);
                return Ok(exit::OK);
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
            let mut rt = open_runtime(ctx)?;
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
