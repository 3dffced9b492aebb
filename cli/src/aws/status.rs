//! `trip status --aws <tripId>`: the trip's execution (DescribeExecution) and its history
//! (GetExecutionHistory, every page).

use anyhow::bail;
use serde_json::{Value, json};
use trip_local::TripOutcome;

use super::history::{self, HistoryTimeline, rfc3339};
use super::{Aws, execution_arn};
use crate::commands::status::StatusArgs;
use crate::{Ctx, exit};

pub async fn status(ctx: &Ctx, aws: &Aws, args: StatusArgs) -> anyhow::Result<u8> {
    let out = ctx.out;
    let arn = execution_arn(&aws.deployed.state_machine_arn()?, &args.trip_id);
    let Some(d) = history::describe(aws, &arn).await? else {
        bail!(
            "no execution {arn}: the request was rejected (no saga starts; see \
             `trip watch --aws --trip {}`), not put yet, or made on another stack",
            args.trip_id
        );
    };
    let steps = history::history(aws, &arn).await?;
    let status = d.status().as_str().to_owned();
    let outcome = history::outcome(&status, &steps);
    if args.mermaid {
        println!("{}", history::mermaid(&args.trip_id, &steps));
        return Ok(exit::OK);
    }
    if out.json {
        let mut execution = json!({
            "executionArn": d.execution_arn(),
            "stateMachineArn": d.state_machine_arn(),
            "name": d.name(),
            "status": status,
            "startDate": rfc3339(d.start_date()),
            "stopDate": d.stop_date().map(rfc3339),
        });
        let m = execution.as_object_mut().expect("an object");
        for (k, v) in [
            ("input", d.input()),
            ("output", d.output()),
            ("error", d.error()),
            ("cause", d.cause()),
        ] {
            if let Some(v) = v {
                // Input and output are JSON documents; keep them as such when they parse.
                let v = serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_owned()));
                m.insert(k.into(), v);
            }
        }
        out.print_json(&json!({
            "tripId": args.trip_id,
            "outcome": outcome,
            "execution": execution,
            "history": steps.iter().map(history::step_json).collect::<Vec<_>>(),
        }));
        return Ok(exit::OK);
    }
    let label = match &outcome {
        Some(TripOutcome::Booked) => out.good("BOOKED"),
        Some(TripOutcome::Failed { failed_step, .. }) if status == "FAILED" => {
            out.bad(&format!("FAILED at {failed_step}, compensated"))
        }
        Some(TripOutcome::Failed { failed_step, .. }) => {
            out.bad(&format!("{status} at {failed_step}"))
        }
        Some(TripOutcome::Stuck {
            stuck_step,
            still_held,
            ..
        }) => out.bad(&crate::timeline::stuck_label(stuck_step, still_held)),
        Some(TripOutcome::Rejected { .. }) => out.bad("REJECTED"),
        None => out.warn("IN PROGRESS"),
    };
    println!("{} {}  {label}", out.bold("trip"), out.trip(&args.trip_id));
    println!(
        "execution {}  {status}  ({} history events)  started {}{}",
        d.name().unwrap_or(&args.trip_id),
        steps.len(),
        rfc3339(d.start_date()),
        d.stop_date()
            .map(|t| format!(", stopped {}", rfc3339(t)))
            .unwrap_or_default()
    );
    if let Some(e) = d.error() {
        println!(
            "  {} {e}{}",
            out.bad("error:"),
            d.cause().map(|c| format!(": {c}")).unwrap_or_default()
        );
    }
    println!("  {}", out.dim(&arn));
    println!("\n{}", out.bold("timeline"));
    let mut tl = HistoryTimeline::default();
    for s in &steps {
        if let Some(line) = tl.line(&out, &args.trip_id, s, false) {
            println!("{line}");
        }
    }
    if args.history {
        println!("\n{}", out.bold("execution history"));
        for s in &steps {
            println!(
                "  {:>3}  {}  {}{}",
                s.id,
                trip_local::runtime::fmt_ms(s.at_ms),
                s.kind,
                s.state
                    .as_deref()
                    .map(|n| format!("  {}", out.dim(n)))
                    .unwrap_or_default()
            );
        }
    } else {
        println!("\n{} history events (--history to list them)", steps.len());
    }
    Ok(exit::OK)
}
