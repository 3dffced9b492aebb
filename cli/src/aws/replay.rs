//! `trip replay --aws --from .. --to .. [--rule NAME ...]`: StartReplay from the archive to
//! the bus, only to the chosen rules, then DescribeReplay until it ends.

use std::time::Duration;

use anyhow::{Context, bail};
use aws_sdk_eventbridge::primitives::DateTime;
use aws_sdk_eventbridge::types::{ReplayDestination, ReplayState};
use serde_json::json;

use super::{Aws, pascal, sdk_error};
use crate::commands::export::ReplayArgs;
use crate::{Ctx, exit};

fn time_arg(flag: &str, value: Option<&str>) -> anyhow::Result<chrono::DateTime<chrono::Utc>> {
    let Some(v) = value else {
        bail!(
            "replay --aws needs --from and --to (RFC 3339 event times, e.g. 2031-06-09T00:00:00Z)"
        );
    };
    Ok(chrono::DateTime::parse_from_rfc3339(v)
        .with_context(|| format!("{flag} {v:?} is not an RFC 3339 time"))?
        .to_utc())
}

fn smithy_time(t: chrono::DateTime<chrono::Utc>) -> DateTime {
    DateTime::from_millis(t.timestamp_millis())
}

/// A rule's ARN: from the stack outputs, else DescribeRule by name on the bus, else the one
/// deployed rule whose generated name holds the CDK construct id (`...CatchAllLogRule...`).
async fn rule_arn(aws: &Aws, bus: &str, name: &str) -> anyhow::Result<String> {
    if let Some(arn) = aws.deployed.rule_arn(name) {
        return Ok(arn);
    }
    match aws
        .events
        .describe_rule()
        .name(name)
        .event_bus_name(bus)
        .send()
        .await
    {
        Ok(r) => {
            if let Some(arn) = r.arn() {
                return Ok(arn.to_owned());
            }
        }
        Err(e)
            if e.as_service_error()
                .is_some_and(|s| s.is_resource_not_found_exception()) => {}
        Err(e) => return Err(sdk_error(e)).with_context(|| format!("DescribeRule {name}")),
    }
    let id = format!("{}Rule", pascal(name));
    let mut found = Vec::new();
    let mut token = None;
    loop {
        let page = aws
            .events
            .list_rules()
            .event_bus_name(bus)
            .set_next_token(token)
            .send()
            .await
            .map_err(sdk_error)
            .with_context(|| format!("ListRules on {bus}"))?;
        for r in page.rules() {
            if r.name().is_some_and(|n| n.contains(&id))
                && let Some(arn) = r.arn()
            {
                found.push(arn.to_owned());
            }
        }
        match page.next_token() {
            Some(t) if !t.is_empty() => token = Some(t.to_owned()),
            _ => break,
        }
    }
    match found.as_slice() {
        [one] => Ok(one.clone()),
        [] => bail!(
            "no rule {name:?} on the bus {bus} (nor a {}RuleArn output)",
            pascal(name)
        ),
        many => bail!(
            "{name:?} names {} rules on {bus}: {}",
            many.len(),
            many.join(", ")
        ),
    }
}

async fn bus_arn(aws: &Aws, bus: &str) -> anyhow::Result<String> {
    if let Some(arn) = aws.deployed.event_bus_arn() {
        return Ok(arn);
    }
    let d = aws
        .events
        .describe_event_bus()
        .name(bus)
        .send()
        .await
        .map_err(sdk_error)
        .with_context(|| format!("DescribeEventBus {bus}"))?;
    d.arn()
        .map(str::to_owned)
        .with_context(|| format!("DescribeEventBus {bus} gave no ARN"))
}

pub async fn replay(ctx: &Ctx, aws: &Aws, args: ReplayArgs) -> anyhow::Result<u8> {
    let out = ctx.out;
    if let Some(log) = &args.log {
        bail!(
            "replay --aws replays the deployed archive, not a file ({log}); \
             run without --aws to replay a log into the embedded runtime"
        );
    }
    let from = time_arg("--from", args.from.as_deref())?;
    let to = time_arg("--to", args.to.as_deref())?;
    if from >= to {
        bail!("--from must be before --to");
    }
    let archive = aws.deployed.archive_arn()?;
    let bus = aws.deployed.event_bus()?;
    let destination_arn = bus_arn(aws, &bus).await?;
    let mut filter_arns = Vec::new();
    for name in &args.rules {
        filter_arns.push(rule_arn(aws, &bus, name).await?);
    }
    // Milliseconds too: two replays started within a second need two names.
    let name = format!(
        "trip-replay-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%3fZ")
    );
    let destination = ReplayDestination::builder()
        .arn(&destination_arn)
        .set_filter_arns((!filter_arns.is_empty()).then(|| filter_arns.clone()))
        .build()
        .context("replay destination")?;
    let started = aws
        .events
        .start_replay()
        .replay_name(&name)
        .description("trip replay --aws")
        .event_source_arn(&archive)
        .event_start_time(smithy_time(from))
        .event_end_time(smithy_time(to))
        .destination(destination)
        .send()
        .await
        .map_err(sdk_error)
        .context("StartReplay")?;
    let arn = started.replay_arn().unwrap_or_default().to_owned();
    if !out.json {
        println!(
            "replay {} of {archive}\n  {} .. {} -> {destination_arn}{}",
            out.bold(&name),
            from.to_rfc3339(),
            to.to_rfc3339(),
            if filter_arns.is_empty() {
                " (every rule)".to_owned()
            } else {
                format!(" only to {}", filter_arns.join(", "))
            }
        );
    }
    let mut state = started
        .state()
        .map(|s| s.as_str().to_owned())
        .unwrap_or_else(|| "STARTING".into());
    let mut reason = started.state_reason().map(str::to_owned);
    if !args.no_wait {
        let mut last = String::new();
        loop {
            let d = aws
                .events
                .describe_replay()
                .replay_name(&name)
                .send()
                .await
                .map_err(sdk_error)
                .context("DescribeReplay")?;
            let s = d.state().cloned();
            state = s
                .as_ref()
                .map_or("UNKNOWN".into(), |s| s.as_str().to_owned());
            reason = d.state_reason().map(str::to_owned);
            if !out.json && state != last {
                println!("  {state}");
                last = state.clone();
            }
            if matches!(
                s,
                Some(ReplayState::Completed | ReplayState::Failed | ReplayState::Cancelled)
            ) {
                break;
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
        }
    }
    if out.json {
        out.print_json(&json!({
            "ReplayName": name,
            "ReplayArn": arn,
            "State": state,
            "StateReason": reason,
            "EventSourceArn": archive,
            "Destination": {"Arn": destination_arn, "FilterArns": filter_arns},
        }));
    } else if args.no_wait {
        println!("  {state}: follow it with `aws events describe-replay --replay-name {name}`");
    }
    match state.as_str() {
        "FAILED" | "CANCELLED" => {
            if !out.json {
                eprintln!(
                    "{} replay {name} {state}{}",
                    out.bad("error:"),
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                );
            }
            Ok(exit::ERROR)
        }
        _ => Ok(exit::OK),
    }
}
