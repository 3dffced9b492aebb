//! The saga's invariants (DESIGN.md), checked over a runtime's state after a run.
//!
//! - every saga ends: `TripBooked` with all three bookings held, `TripBookingFailed` with
//!   none held, or `TripCompensationStuck` naming every booking still held (the events counted
//!   are those of who may announce an outcome: a forged one is not an ending);
//! - no trip ever holds two bookings with one service, and no inventory is oversold: the units
//!   held on every inventory key equal the units of the bookings that hold it, within capacity;
//! - no message is left unaccounted for: every message is delivered and acknowledged, or in a
//!   dead-letter queue with its reason.

use std::collections::BTreeMap;

use trip_booking::BookingStatus;
use trip_events::Service;
use trip_workflow::ExecutionStatus;

use crate::runtime::{Runtime, TripOutcome, Violation};

fn violation(trip: &str, invariant: &'static str, detail: String) -> Violation {
    Violation {
        trip_id: trip.to_owned(),
        invariant,
        detail,
    }
}

pub fn check(rt: &Runtime) -> Vec<Violation> {
    let mut out = Vec::new();
    let state = rt.booking_state();

    for (arn, status) in rt.executions() {
        let trip = arn.rsplit(':').next().unwrap_or(&arn).to_owned();
        let held: Vec<Service> = Service::ALL
            .into_iter()
            .filter(|s| {
                state
                    .record(*s, &trip)
                    .is_some_and(|r| r.status == BookingStatus::Booked)
            })
            .collect();
        match status {
            ExecutionStatus::Running => out.push(violation(
                &trip,
                "every saga ends",
                "the execution is still running with nothing left to run".into(),
            )),
            ExecutionStatus::Succeeded => {
                if held.len() != 3 {
                    out.push(violation(
                        &trip,
                        "a booked trip holds all three bookings",
                        format!("holds only {held:?}"),
                    ));
                }
                if rt.announced_outcome(&trip) != Some(TripOutcome::Booked) {
                    out.push(violation(
                        &trip,
                        "every saga ends with its event",
                        "the execution succeeded but no TripBooked was published".into(),
                    ));
                }
            }
            ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => {
                match rt.announced_outcome(&trip) {
                    // A compensation that never succeeded: what is held is what it names.
                    Some(TripOutcome::Stuck { still_held, .. }) => {
                        let unnamed: Vec<&Service> = held
                            .iter()
                            .filter(|s| !still_held.iter().any(|n| n == s.name()))
                            .collect();
                        if !unnamed.is_empty() {
                            out.push(violation(
                                &trip,
                                "a stuck compensation names everything still held",
                                format!("holds {unnamed:?}, names only {still_held:?}"),
                            ));
                        }
                    }
                    Some(TripOutcome::Failed { .. }) => {
                        if !held.is_empty() {
                            out.push(violation(
                                &trip,
                                "a failed trip holds nothing",
                                format!("the saga ended {status} but still holds {held:?}"),
                            ));
                        }
                    }
                    _ => out.push(violation(
                        &trip,
                        "every saga ends with its event",
                        format!(
                            "the execution ended {status} but neither TripBookingFailed nor \
                             TripCompensationStuck was published"
                        ),
                    )),
                }
            }
        }
    }

    // Inventory: held units equal what the bookings hold, and never exceed capacity.
    let mut expected: BTreeMap<&str, u32> = BTreeMap::new();
    for r in state.bookings.values() {
        if r.status == BookingStatus::Booked {
            for key in &r.holds {
                *expected.entry(key.as_str()).or_default() += r.units;
            }
        }
    }
    for (key, level) in &state.inventory {
        let want = expected.get(key.as_str()).copied().unwrap_or(0);
        if level.held != want {
            out.push(violation(
                "-",
                "inventory matches the bookings",
                format!("{key}: {} held, bookings hold {want}", level.held),
            ));
        }
        if level.held > level.capacity {
            out.push(violation(
                "-",
                "no inventory is oversold",
                format!("{key}: {} held of {}", level.held, level.capacity),
            ));
        }
    }
    for (key, want) in expected {
        if !state.inventory.contains_key(key) {
            out.push(violation(
                "-",
                "inventory matches the bookings",
                format!("{key}: bookings hold {want}, the inventory has no record"),
            ));
        }
    }

    // Messages: after a run to idle, every message is acknowledged or dead-lettered with a reason.
    for (queue, (left, _)) in rt.queue_depths() {
        if left > 0 {
            out.push(violation(
                "-",
                "no message is left unaccounted for",
                format!("{left} message(s) still in queue {queue}"),
            ));
        }
    }
    for m in rt.dead_letters() {
        if m.last_error.as_deref().is_none_or(str::is_empty) {
            out.push(violation(
                "-",
                "every dead letter has its reason",
                format!(
                    "message {} in {}'s DLQ has no reason",
                    m.message_id, m.queue
                ),
            ));
        }
    }
    out
}
