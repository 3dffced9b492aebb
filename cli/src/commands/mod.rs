//! One module per verb.

pub mod bench;
pub mod book;
pub mod cost;
pub mod dlq;
pub mod export;
pub mod pattern;
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
    Runtime::open(RuntimeOptions {
        store: ctx.store.clone(),
        clock: ClockChoice::Wall { fast_forward: true },
        ..RuntimeOptions::default()
    })
    .with_context(|| match &ctx.store {
        Some(p) => format!("cannot open the store {}", p.display()),
        None => "cannot start the embedded runtime".to_owned(),
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
