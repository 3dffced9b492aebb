//! `trip reset`: empties the store — every trip, booking, message and event — so the next
//! `trip book` starts from the built-in inventory again.

use std::io::{BufRead, IsTerminal, Write};

use anyhow::{Context, bail};
use clap::Args;
use serde_json::json;

use super::open_runtime;
use crate::{Ctx, exit};

#[derive(Args)]
#[command(after_help = "Examples:\n  trip reset --yes\n  trip reset --store /tmp/other.db --yes")]
pub struct ResetArgs {
    /// Do not ask (needed when standard input is not a terminal).
    #[arg(long, short)]
    pub yes: bool,
}

pub fn reset(ctx: &Ctx, args: ResetArgs) -> anyhow::Result<u8> {
    let Some(path) = ctx.store.clone() else {
        bail!("--memory keeps nothing: there is no store to reset");
    };
    if !path.exists() {
        if ctx.out.json {
            ctx.out
                .print_json(&json!({"store": path, "removed": false, "trips": 0}));
        } else {
            println!("no store at {}: nothing to reset", path.display());
        }
        return Ok(exit::OK);
    }
    // Opening it takes the writer's lock: a store another `trip` is writing is not removed
    // under it.
    let trips = open_runtime(ctx)?.trip_ids().len();
    if !args.yes {
        if !std::io::stdin().is_terminal() {
            eprintln!(
                "{} trip reset deletes {} trip(s) in {}: pass --yes to confirm",
                ctx.out.bad("error:"),
                trips,
                path.display()
            );
            return Ok(exit::USAGE);
        }
        print!("delete {trips} trip(s) in {}? [y/N] ", path.display());
        std::io::stdout().flush()?;
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            println!("nothing deleted");
            return Ok(exit::OK);
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = path.clone().into_os_string();
        p.push(suffix);
        match std::fs::remove_file(&p) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(e).with_context(|| format!("cannot remove {}", p.to_string_lossy()));
            }
        }
    }
    if ctx.out.json {
        ctx.out
            .print_json(&json!({"store": path, "removed": true, "trips": trips}));
    } else {
        println!(
            "removed {} ({trips} trip(s)); the next `trip book` starts afresh",
            path.display()
        );
    }
    Ok(exit::OK)
}
