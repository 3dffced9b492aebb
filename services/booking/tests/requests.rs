//! What the bridge does with a trip request whose saga exists: a repeat gets the outcome again,
//! a different request under the used tripId is rejected with the reason, a replay changes
//! nothing; dates are checked against the request's own time.
//!
//! Step Functions' rules that these rest on: StartExecution with a used name returns
//! ExecutionAlreadyExists for a closed execution whatever the input (and for a running one
//! with a different input), for 90 days
//! (<https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html>);
//! DescribeExecution gives status, input, output (succeeded only), error and cause
//! (<https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html>).
//! EventBridge marks replayed events with `replay-name`
//! (<https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-replay-archived-event.html>).

use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use serde_json::{Value, json};
use trip_booking::memory::WorkflowCall;
use trip_booking::{
    ExecutionState, Handled, RecordingPublisher, RecordingWorkflow, handle_bridge_event,
};
use trip_events::{EventEnvelope, PutEventsEntry, TripEvent};

/// The Lisbon trip's request as the bridge's queue delivers it (dates in June 2031).
fn request(id: &str, time: &str) -> EventEnvelope {
    let path = format!(
        "{}/tests/fixtures/bridge-batch.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let batch: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut env: EventEnvelope =
        serde_json::from_str(batch["Records"][0]["body"].as_str().unwrap()).unwrap();
    env.id = id.into();
    env.time = time.into();
    env
}

fn at(y: i32, m: u32, d: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, 0, 0, 0).unwrap()
}

fn handle(
    workflow: &RecordingWorkflow,
    publisher: &RecordingPublisher,
    env: &EventEnvelope,
    now: DateTime<Utc>,
) -> Handled {
    block_on(handle_bridge_event(workflow, publisher, env, now)).unwrap()
}

const TRIP: &str = "trip-lisbon-0001";

/// The output of the trip's succeeded execution: its state at the end (NotifyTripBooked has
/// ResultPath null), with the three step results.
fn booked_output(input: &str) -> String {
    let mut state: Value = serde_json::from_str(input).unwrap();
    state["results"] = json!({
        "hotel": {"service": "hotel", "bookingId": "HTL-1", "status": "BOOKED"},
        "flight": {"service": "flight", "bookingId": "FLT-1", "status": "BOOKED"},
        "car": {"service": "car", "bookingId": "CAR-1", "status": "BOOKED"},
    });
    state.to_string()
}

fn started_input(workflow: &RecordingWorkflow) -> String {
    match &workflow.calls()[0] {
        WorkflowCall::StartExecution { input, .. } => input.clone(),
        other => panic!("{other:?}"),
    }
}

#[test]
fn the_same_request_for_a_booked_trip_is_answered_with_its_outcome_again() {
    // given a trip whose saga was started and has booked
    let (workflow, publisher) = (RecordingWorkflow::new(), RecordingPublisher::new());
    let first = request("ev-1", "2030-01-01T00:00:00Z");
    assert!(matches!(
        handle(&workflow, &publisher, &first, at(2030, 1, 1)),
        Handled::SagaStarted { .. }
    ));
    let output = booked_output(&started_input(&workflow));
    workflow.finish(TRIP, ExecutionState::Succeeded, Some(&output), None);
    // when the client sends the same request again (a new event, after the trip's dates)
    let again = request("ev-2", "2031-07-01T00:00:00Z");
    let handled = handle(&workflow, &publisher, &again, at(2031, 7, 1));
    // then the trip's TripBooked is published again, same content, marked as a repeat
    assert_eq!(
        handled,
        Handled::OutcomeRepeated {
            execution: TRIP.into(),
            detail_type: "TripBooked".into()
        }
    );
    let events = publisher.events();
    let [TripEvent::TripBooked(b)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(b.trip_id, TRIP);
    assert_eq!(b.hotel.booking_id.as_deref(), Some("HTL-1"));
    assert_eq!(b.car.booking_id.as_deref(), Some("CAR-1"));
    assert_eq!(b.metadata.correlation_id, "corr-lisbon-0001");
    assert!(b.metadata.repeat);
    // from the bridge, which is the only source it may put (the workflow owns trip.saga)
    let entry = PutEventsEntry::for_event(&events[0], "trip-saga");
    assert_eq!(entry.source, "trip.bridge");
    assert_eq!(
        serde_json::from_str::<Value>(&entry.detail).unwrap()["metadata"]["repeat"],
        true
    );
    // and the existing saga was found before the (now past) dates could reject the request
    assert_eq!(workflow.calls().len(), 1);
}

#[test]
fn the_same_request_for_a_failed_trip_gets_its_trip_booking_failed_again() {
    // given a trip whose saga failed at the car: the Fail state's cause is the event's detail
    let (workflow, publisher) = (RecordingWorkflow::new(), RecordingPublisher::new());
    handle(
        &workflow,
        &publisher,
        &request("ev-1", "2030-01-01T00:00:00Z"),
        at(2030, 1, 1),
    );
    let detail = json!({
        "tripId": TRIP,
        "failedStep": "BookCar",
        "error": {"Error": "Trip.BusinessError", "Cause": "{\"reason\":\"NO_CAR_AVAILABLE\"}"},
        "undone": {"car": {"service": "car", "status": "CANCELLED"}},
        "metadata": {"schemaVersion": "1", "correlationId": "corr-lisbon-0001"}
    });
    workflow.finish(
        TRIP,
        ExecutionState::Failed,
        None,
        Some(&detail.to_string()),
    );
    // when the same request comes again
    let handled = handle(
        &workflow,
        &publisher,
        &request("ev-2", "2030-01-02T00:00:00Z"),
        at(2030, 1, 2),
    );
    // then its TripBookingFailed is published again, marked as a repeat
    assert!(
        matches!(handled, Handled::OutcomeRepeated { ref detail_type, .. } if detail_type == "TripBookingFailed")
    );
    let events = publisher.events();
    let [TripEvent::TripBookingFailed(f)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(f.failed_step, "BookCar");
    assert_eq!(f.error.error, "Trip.BusinessError");
    assert!(f.undone.contains_key("car"));
    assert!(f.metadata.repeat);
}

#[test]
fn a_different_request_under_a_used_trip_id_is_rejected_naming_the_trip_that_holds_it() {
    // given a booked trip
    let (workflow, publisher) = (RecordingWorkflow::new(), RecordingPublisher::new());
    handle(
        &workflow,
        &publisher,
        &request("ev-1", "2030-01-01T00:00:00Z"),
        at(2030, 1, 1),
    );
    let output = booked_output(&started_input(&workflow));
    workflow.finish(TRIP, ExecutionState::Succeeded, Some(&output), None);
    // when another request comes under its tripId (two guests more)
    let mut other = request("ev-2", "2030-01-02T00:00:00Z");
    other.detail["hotel"]["guests"] = json!(4);
    let handled = handle(&workflow, &publisher, &other, at(2030, 1, 2));
    // then it is rejected: the tripId is used, by a trip that was booked
    assert_eq!(handled, Handled::Rejected { reasons: 1 });
    let events = publisher.events();
    let [TripEvent::TripBookingRejected(r)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(r.trip_id.as_deref(), Some(TRIP));
    assert_eq!(r.reasons[0].path, "tripId");
    assert!(
        r.reasons[0]
            .reason
            .contains("already used by a different request"),
        "{r:?}"
    );
    assert!(r.reasons[0].reason.contains("booked"), "{r:?}");
}

#[test]
fn a_repeat_while_the_saga_runs_publishes_nothing() {
    let (workflow, publisher) = (RecordingWorkflow::new(), RecordingPublisher::new());
    handle(
        &workflow,
        &publisher,
        &request("ev-1", "2030-01-01T00:00:00Z"),
        at(2030, 1, 1),
    );
    let handled = handle(
        &workflow,
        &publisher,
        &request("ev-2", "2030-01-01T00:00:05Z"),
        at(2030, 1, 1),
    );
    assert_eq!(
        handled,
        Handled::SagaAlreadyStarted {
            execution: TRIP.into()
        }
    );
    assert!(publisher.events().is_empty());
}

#[test]
fn a_replay_after_the_travel_dates_never_rejects_restarts_or_answers_a_booked_trip() {
    // given a booked trip
    let (workflow, publisher) = (RecordingWorkflow::new(), RecordingPublisher::new());
    let original = request("ev-1", "2030-01-01T00:00:00Z");
    handle(&workflow, &publisher, &original, at(2030, 1, 1));
    let output = booked_output(&started_input(&workflow));
    workflow.finish(TRIP, ExecutionState::Succeeded, Some(&output), None);
    // when an archive replay sends its request again after the dates have passed
    let mut replayed = original.clone();
    replayed.replay_name = Some("recover-2031-08".into());
    let handled = handle(&workflow, &publisher, &replayed, at(2031, 8, 1));
    // then nothing is published and no execution is started
    assert_eq!(
        handled,
        Handled::ReplayIgnored {
            execution: TRIP.into()
        }
    );
    assert!(publisher.events().is_empty());
    assert_eq!(workflow.calls().len(), 1);
}

#[test]
fn a_late_redelivery_is_checked_against_the_time_it_was_requested() {
    // given a request made while its dates were ahead, delivered after they passed (a late
    // redelivery, or a replay of a request whose saga was never started)
    let (workflow, publisher) = (RecordingWorkflow::new(), RecordingPublisher::new());
    let late = request("ev-1", "2030-01-01T00:00:00Z");
    // when the bridge reads it in August 2031
    let handled = handle(&workflow, &publisher, &late, at(2031, 8, 1));
    // then the saga starts: the dates were in the future when the client asked
    assert_eq!(
        handled,
        Handled::SagaStarted {
            execution: TRIP.into()
        }
    );
    assert!(publisher.events().is_empty());
}

#[test]
fn a_request_whose_dates_had_passed_when_it_was_made_is_still_rejected() {
    let (workflow, publisher) = (RecordingWorkflow::new(), RecordingPublisher::new());
    let stale = request("ev-1", "2031-08-01T00:00:00Z");
    let handled = handle(&workflow, &publisher, &stale, at(2031, 8, 1));
    assert!(matches!(handled, Handled::Rejected { .. }), "{handled:?}");
    assert!(workflow.calls().is_empty());
}
