//! `trip status <tripId>`: outcome, bookings, events and the execution history.

use anyhow::bail;
use clap::Args;
use comfy_table::{Table, presets::UTF8_FULL_CONDENSED};
use trip_events::{DetailType, Service};
use trip_local::runtime::{TripStatus, fmt_ms};
use trip_local::{LoggedEvent, TripOutcome};

use super::open_runtime_read_only;
use crate::timeline::Timeline;
use crate::{Ctx, exit};

#[derive(Args)]
#[command(
    after_help = "Examples:\n  trip status trip-lisbon-0001\n  trip status trip-lisbon-0002 --history\n  trip status trip-lisbon-0002 --graph > saga.mmd\n  trip status trip-lisbon-0002 --mermaid"
)]
pub struct StatusArgs {
    #[command(flatten)]
    pub aws: crate::aws::AwsArgs,
    /// The trip's id (its saga's execution name).
    pub trip_id: String,
    /// Render the trip as a Mermaid sequence diagram instead.
    #[arg(long, conflicts_with_all = ["json", "graph"])]
    pub mermaid: bool,
    /// Include the execution history, one line per event as the Step Functions console
    /// lists it (state, type, elapsed, error and cause).
    #[arg(long)]
    pub history: bool,
    /// Render the state machine as a Mermaid flowchart with the path this trip took and
    /// where it failed, like the console's graph view.
    #[arg(long, conflicts_with = "json")]
    pub graph: bool,
}

fn participant(source: &str) -> &'static str {
    match source {
        "trip.client" => "Client",
        "trip.bridge" => "Bridge",
        "trip.saga" => "Workflow",
        "trip.hotel" => "Hotel",
        "trip.flight" => "Flight",
        "trip.car" => "Car",
        _ => "Other",
    }
}

/// One arrow per event: who sent it to whom.
fn arrow(e: &LoggedEvent) -> Option<String> {
    let dt: DetailType = e.envelope.detail_type.parse().ok()?;
    let from = participant(&e.envelope.source);
    let to = match dt {
        DetailType::TripBookingRequested => "Bridge",
        DetailType::TripBooked
        | DetailType::TripBookingFailed
        | DetailType::TripBookingRejected
        | DetailType::TripCompensationStuck => "Client",
        d if d.is_command() => match d.service()? {
            Service::Hotel => "Hotel",
            Service::Flight => "Flight",
            Service::Car => "Car",
        },
        _ => "Workflow",
    };
    let style = if dt.is_outcome() { "-->>" } else { "->>" };
    Some(format!("    {from}{style}{to}: {}", dt.as_str()))
}

pub fn mermaid(status: &TripStatus) -> String {
    let mut s = String::from("sequenceDiagram\n    autonumber\n");
    for p in ["Client", "Bridge", "Workflow", "Hotel", "Flight", "Car"] {
        s.push_str(&format!("    participant {p}\n"));
    }
    let mut last_step = None;
    for e in &status.events {
        if let Some(step) = crate::timeline::step_of(&e.envelope.detail_type)
            && e.envelope.detail_type.ends_with("Requested")
            && last_step != Some(step)
        {
            s.push_str(&format!("    Note over Workflow: {step}\n"));
            last_step = Some(step);
        }
        if let Some(a) = arrow(e) {
            s.push_str(&a);
            s.push('\n');
        }
    }
    match &status.outcome {
        Some(TripOutcome::Failed { failed_step, .. }) => {
            s.push_str(&format!(
                "    Note over Workflow: failed at {failed_step}, compensated last in first out\n"
            ));
        }
        Some(TripOutcome::Stuck { stuck_step, .. }) => {
            s.push_str(&format!(
                "    Note over Workflow: {stuck_step} never succeeded: compensation stuck\n"
            ));
        }
        Some(TripOutcome::Rejected { reasons }) => {
            s.push_str(&format!(
                "    Note over Bridge: rejected ({} reasons)\n",
                reasons.len()
            ));
        }
        _ => {}
    }
    s
}

pub fn status(ctx: &Ctx, args: StatusArgs) -> anyhow::Result<u8> {
    let rt = open_runtime_read_only(ctx)?;
    let st = rt.status(&args.trip_id);
    if st.events.is_empty() && st.execution.is_none() {
        bail!(
            "no trip {:?} in this store (`trip list` shows the trips it holds)",
            crate::output::printable(&args.trip_id)
        );
    }
    let out = ctx.out;
    if args.mermaid {
        println!("{}", mermaid(&st));
        return Ok(exit::OK);
    }
    if args.graph {
        let definition: serde_json::Value = serde_json::from_str(rt.definition())?;
        print!("{}", crate::graph::flowchart(&definition, &st.history)?);
        return Ok(exit::OK);
    }
    if out.json {
        out.print_json(&serde_json::to_value(&st)?);
        return Ok(exit::OK);
    }
    let outcome = match &st.outcome {
        Some(TripOutcome::Booked) => out.good("BOOKED"),
        Some(TripOutcome::Failed { failed_step, .. }) => {
            out.bad(&format!("FAILED at {failed_step}, compensated"))
        }
        Some(TripOutcome::Rejected { .. }) => out.bad("REJECTED"),
        Some(TripOutcome::Stuck {
            stuck_step,
            still_held,
            ..
        }) => out.bad(&crate::timeline::stuck_label(stuck_step, still_held)),
        None => out.warn("IN PROGRESS"),
    };
    let in_flight = st.outcome.is_none();
    println!("{} {}  {outcome}", out.bold("trip"), out.trip(&st.trip_id));
    if let Some(ex) = &st.execution {
        println!(
            "execution {}  {}  ({} state transitions)",
            ex["name"].as_str().unwrap_or_default(),
            ex["status"].as_str().unwrap_or_default(),
            st.transitions.unwrap_or(0)
        );
    }
    if let Some(TripOutcome::Rejected { reasons }) = &st.outcome {
        for r in reasons {
            println!("  - {}: {}", out.bold(&r.path), r.reason);
        }
    }

    let mut table = Table::new();
    table.load_preset(UTF8_FULL_CONDENSED);
    table.set_header(["service", "booking id", "status", "units", "holds", "note"]);
    for s in Service::ALL {
        match st.bookings.get(s.name()) {
            Some(b) => {
                let note = b
                    .failure
                    .as_ref()
                    .map(|f| format!("{}: {}", f.reason, f.message))
                    .unwrap_or_else(|| {
                        if b.was_booked {
                            "released".into()
                        } else {
                            String::new()
                        }
                    });
                table.add_row([
                    s.name().to_owned(),
                    b.booking_id.clone(),
                    b.status.as_str().to_owned(),
                    b.units.to_string(),
                    b.holds.len().to_string(),
                    note,
                ]);
            }
            None => {
                table.add_row([s.name(), "-", "none", "", "", ""]);
            }
        }
    }
    println!("{table}");

    println!("\n{}", out.bold("events"));
    let mut tl = Timeline::default();
    for e in &st.events {
        println!("{}", tl.line(&out, e));
    }
    if args.history {
        println!("\n{}", out.bold("execution history"));
        print!("{}", crate::history::render(&out, &st.history));
    } else if !st.history.is_empty() {
        println!(
            "\n{} history events (--history to list them); started {}",
            st.history.len(),
            st.events
                .first()
                .map(|e| fmt_ms(e.put_at))
                .unwrap_or_default()
        );
    }
    if in_flight {
        println!(
            "\n{} this saga is in flight: `trip resume` finishes it",
            out.warn("note:")
        );
    }
    Ok(exit::OK)
}
