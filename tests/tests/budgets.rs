//! Issue 13: the retry budgets of `events/routing.json` (SQS visibility timeout x receives) and
//! `workflow/trip-saga.asl.json` (each wait's `TimeoutSeconds`, the Retry on
//! `Trip.TransientError` and `States.Timeout`, the execution's `TimeoutSeconds`) agree, so that
//! a transient outage within the budget never changes a trip's outcome. The rules and their
//! AWS sources are in `trip_local::budget`; infra/README.md ("Retry budgets") gives the figures.
//!
//! The definition used to wait 120 s while SQS redelivered a command for up to 5 x 60 s: an
//! outage of two minutes compensated a trip that would have booked. Each rule is also shown to
//! fail on a definition or table that breaks it.

use serde_json::Value;
use trip_events::routing::RoutingTable;
use trip_local::budget::{budget, stack_budget};

fn files() -> (RoutingTable, Value) {
    (
        RoutingTable::load().unwrap(),
        serde_json::from_str(trip_workflow::TRIP_SAGA_ASL).unwrap(),
    )
}

#[test]
fn the_checked_in_routing_table_and_definition_agree() {
    let b = stack_budget().unwrap();
    assert!(b.problems.is_empty(), "{:#?}", b.problems);
    // every wait of the definition was found and checked: three bookings, three compensations
    assert_eq!(b.waits.len(), 6, "{:#?}", b.waits);
    for w in &b.waits {
        assert!(
            w.timeout_seconds.unwrap() >= w.required_timeout_seconds(),
            "{w:#?}"
        );
    }
    let hotel = b.wait("BookHotel").unwrap();
    assert_eq!(hotel.queue, "hotel");
    assert!(hotel.retries_on("Trip.TransientError") >= 1);
    assert!(hotel.retries_on("States.Timeout") >= 1);
    assert!(b.execution_timeout_seconds.unwrap() >= b.worst_case_seconds);
}

#[test]
fn a_wait_shorter_than_sqs_redelivery_is_reported() {
    // given the definition as it was: 120 s waits, 5 x 60 s of redelivery
    let (routing, mut asl) = files();
    asl["States"]["BookFlight"]["TimeoutSeconds"] = 120.into();
    let b = budget(&routing, &asl);
    assert!(
        b.problems
            .iter()
            .any(|p| p.starts_with("BookFlight: TimeoutSeconds 120 <")),
        "{:#?}",
        b.problems
    );
}

#[test]
fn a_longer_visibility_timeout_in_the_routing_table_is_reported_against_the_definition() {
    let (mut routing, asl) = files();
    let car = routing.queues.iter_mut().find(|q| q.name == "car").unwrap();
    car.visibility_timeout_seconds *= 4;
    let b = budget(&routing, &asl);
    assert!(
        b.problems.iter().any(|p| p.starts_with("BookCar:")),
        "{:#?}",
        b.problems
    );
    assert!(b.problems.iter().any(|p| p.starts_with("CancelCar:")));
    assert!(!b.problems.iter().any(|p| p.starts_with("BookHotel:")));
}

#[test]
fn a_booking_that_does_not_retry_forward_is_reported() {
    let (routing, mut asl) = files();
    asl["States"]["BookHotel"]["Retry"][0]["ErrorEquals"] =
        serde_json::json!(["Trip.TransientError"]);
    let b = budget(&routing, &asl);
    assert!(
        b.problems
            .iter()
            .any(|p| p.contains("BookHotel does not retry States.Timeout")),
        "{:#?}",
        b.problems
    );
}

#[test]
fn an_execution_timeout_shorter_than_the_definitions_own_endings_is_reported() {
    let (routing, mut asl) = files();
    let worst = budget(&routing, &asl).worst_case_seconds;
    asl["TimeoutSeconds"] = (worst - 1).into();
    let b = budget(&routing, &asl);
    assert!(
        b.problems
            .iter()
            .any(|p| p.contains("the execution's TimeoutSeconds")),
        "{:#?}",
        b.problems
    );
    asl.as_object_mut().unwrap().remove("TimeoutSeconds");
    assert!(
        budget(&routing, &asl)
            .problems
            .iter()
            .any(|p| p.contains("no top-level TimeoutSeconds"))
    );
}
