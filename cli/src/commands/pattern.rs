//! `trip test-event-pattern`, like `aws events test-event-pattern`.

use clap::Args;
use serde_json::json;
use trip_local::pattern::test_event_pattern as matches;

use super::json_arg;
use crate::{Ctx, exit};

#[derive(Args)]
pub struct TestEventPatternArgs {
    /// The pattern: JSON, or file://path.
    #[arg(long)]
    pub event_pattern: String,
    /// The event (a full envelope with id, account, source, time, region, resources,
    /// detail-type): JSON, or file://path.
    #[arg(long)]
    pub event: String,
}

pub fn test_event_pattern(ctx: &Ctx, args: TestEventPatternArgs) -> anyhow::Result<u8> {
    let pattern = json_arg(&args.event_pattern, "event pattern")?;
    let event = json_arg(&args.event, "event")?;
    match matches(&pattern, &event) {
        Ok(result) => {
            // The AWS CLI's output shape.
            ctx.out.print_json(&json!({ "Result": result }));
            Ok(exit::OK)
        }
        Err(e) => {
            eprintln!("{} {e}", ctx.out.bad("InvalidEventPatternException:"));
            Ok(exit::REJECTED)
        }
    }
}
