//! `trip test-event-pattern`, like `aws events test-event-pattern`.

use clap::Args;
use serde_json::json;
use trip_local::pattern::{PatternError, test_event_pattern as matches};

use super::json_arg;
use crate::{Ctx, exit};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  trip test-event-pattern --event-pattern '{\"source\":[{\"prefix\":\"trip.\"}]}' \\\n      --event file://event.json"
)]
pub struct TestEventPatternArgs {
    /// The pattern: JSON, or file://path.
    #[arg(long)]
    pub event_pattern: String,
    /// The event (an envelope with id, account, source, time, region and detail-type;
    /// resources may be left out, as on AWS): JSON, or file://path.
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
            // AWS's code and message first; for a refused event, the check that failed after.
            let code = format!("{}:", e.aws_error_code());
            eprintln!("{} {e}", ctx.out.bad(&code));
            if let PatternError::InvalidEvent { reason } = &e {
                eprintln!("  ({reason})");
            }
            Ok(exit::REJECTED)
        }
    }
}
