//! One module per verb.

pub mod bench;
pub mod book;
pub mod cost;
pub mod dlq;
pub mod export;
pub mod inventory;
pub mod list;
pub mod pattern;
pub mod reset;
pub mod simulate;
pub mod states;
pub mod status;
pub mod ui;
pub mod watch;

use anyhow::Context;
use trip_local::{ClockChoice, Runtime, RuntimeOptions};

use crate::Ctx;

/// Opens the embedded runtime over the store (or in memory), resuming anything in flight.
pub fn open_runtime(ctx: &Ctx) -> anyhow::Result<Runtime> {
    open(ctx, false, ClockChoice::Wall { fast_forward: true })
}

/// [`open_runtime`] with a choice of clock (`trip book --real-time` waits out its timers).
pub fn open_runtime_with(ctx: &Ctx, clock: ClockChoice) -> anyhow::Result<Runtime> {
    open(ctx, false, clock)
}

/// The runtime over the store for a verb that only looks: nothing is created or written,
/// and a missing store is an error rather than a new empty one.
pub fn open_runtime_read_only(ctx: &Ctx) -> anyhow::Result<Runtime> {
    open(ctx, true, ClockChoice::Wall { fast_forward: true })
}

fn open(ctx: &Ctx, read_only: bool, clock: ClockChoice) -> anyhow::Result<Runtime> {
    let sources = ctx.sources()?;
    Runtime::open(RuntimeOptions {
        store: ctx.store.clone(),
        clock,
        durability: ctx.durability,
        read_only,
        definition: sources.definition,
        routing: sources.routing,
        ..RuntimeOptions::default()
    })
    .map_err(|e| match (&e, &ctx.store) {
        // Store errors name the file and what to do already.
        (trip_local::RuntimeError::Store(_), _) => anyhow::Error::from(e),
        (_, Some(p)) => {
            anyhow::Error::from(e).context(format!("cannot open the store {}", p.display()))
        }
        (_, None) => anyhow::Error::from(e).context("cannot start the embedded runtime"),
    })
}

/// A JSON argument given inline or as `file://path` (the AWS CLI's convention).
pub fn json_arg(arg: &str, what: &str) -> anyhow::Result<String> {
    match arg.strip_prefix("file://") {
        Some(path) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the {what} file {path}")),
        None => Ok(arg.to_owned()),
    }
}
