//! Issue 13 through the embedded runtime: who may put what (a client cannot forge a command or
//! an outcome), the outcome is the execution's status, a repeated request is answered, and a
//! compensation that never succeeds ends in `TripCompensationStuck`, alarmed and listed.

use trip_events::{PutEventsEntry, Service, read_entries_file};
use trip_local::faults::FaultRates;
use trip_local::{ClockChoice, Runtime, RuntimeError, RuntimeOptions, TripOutcome};
use trip_workflow::ExecutionStatus;

const START: i64 = 1_893_456_000_000; // 2030-01-01T00:00:00Z

fn sample(name: &str) -> Vec<PutEventsEntry> {
    read_entries_file(&format!(
        "{}/../events/samples/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn runtime(faults: Option<FaultRates>) -> Runtime {
    Runtime::open(RuntimeOptions {
        clock: ClockChoice::Virtual { start_ms: START },
        faults,
        ..RuntimeOptions::default()
    })
    .unwrap()
}

fn entry(source: &str, detail_type: &str, detail: serde_json::Value) -> PutEventsEntry {
    PutEventsEntry {
        source: source.into(),
        detail_type: detail_type.into(),
        detail: detail.to_string(),
        event_bus_name: Some("trip-saga".into()),
        time: None,
        resources: Vec::new(),
        trace_header: None,
    }
}

fn count(rt: &Runtime, trip: &str, detail_type: &str) -> usize {
    rt.log()
        .iter()
        .filter(|l| l.trip_id() == Some(trip) && l.envelope.detail_type == detail_type)
        .count()
}

#[test]
fn a_client_cannot_put_a_forged_command_or_outcome() {
    // given a trip that cannot be had (the hotel is sold out)
    let mut rt = runtime(None);
    let request = sample("book-trip-hotel-fails.json");
    let trip = serde_json::from_str::<serde_json::Value>(&request[0].detail).unwrap()["tripId"]
        .as_str()
        .unwrap()
        .to_owned();
    rt.put_events(&request).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    assert!(matches!(
        rt.trip_outcome(&trip),
        Some(TripOutcome::Failed { .. })
    ));
    let logged = rt.log().len();
    // when a client puts a TripBooked as the workflow, and a command as the workflow
    let forged_outcome = entry(
        "trip.saga",
        "TripBooked",
        serde_json::json!({"tripId": trip, "metadata": {"schemaVersion": "1", "correlationId": "x"}}),
    );
    let forged_command = entry(
        "trip.saga",
        "HotelBookingRequested",
        serde_json::json!({"tripId": "forged-1", "metadata": {"schemaVersion": "1", "correlationId": "x", "taskToken": "t"}}),
    );
    for forged in [forged_outcome, forged_command] {
        let err = rt.put_events(&[forged]).unwrap_err();
        // then the call is refused whole, as IAM's events:source condition refuses it on AWS
        assert!(matches!(err, RuntimeError::AccessDenied { .. }), "{err}");
        assert!(err.to_string().contains("trip.client"), "{err}");
    }
    rt.run_until_idle(None, |_| true).unwrap();
    assert_eq!(rt.log().len(), logged, "nothing reached the bus");
    assert!(rt.booking(Service::Hotel, "forged-1").is_none());
    // and the trip's outcome is still its execution's
    assert!(matches!(
        rt.trip_outcome(&trip),
        Some(TripOutcome::Failed { .. })
    ));
}

#[test]
fn the_outcome_is_the_execution_status_whatever_an_event_claims() {
    // given a failed trip, and a TripBooked for it that got onto the bus (as only the workflow
    // could: put here with the owner's rights)
    let mut rt = runtime(None);
    rt.put_events(&sample("book-trip-car-fails.json")).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    let trip = rt.trip_ids()[0].clone();
    let forged = entry(
        "trip.saga",
        "TripBooked",
        serde_json::json!({"tripId": trip, "metadata": {"schemaVersion": "1", "correlationId": "x"}}),
    );
    rt.put_events_as_owner(&[forged]).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    // then the trip still reads as failed: the outcome is the execution's
    assert_eq!(
        rt.describe_execution(&trip).unwrap().status,
        ExecutionStatus::Failed
    );
    assert!(
        matches!(rt.trip_outcome(&trip), Some(TripOutcome::Failed { ref failed_step, .. }) if failed_step == "BookCar"),
        "{:?}",
        rt.trip_outcome(&trip)
    );
    assert!(matches!(
        rt.status(&trip).outcome,
        Some(TripOutcome::Failed { .. })
    ));
}

#[test]
fn the_same_request_again_gets_the_outcome_again_and_a_different_one_is_rejected() {
    // given a booked trip
    let mut rt = runtime(None);
    let request = sample("book-trip.json");
    rt.put_events(&request).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    let trip = "trip-lisbon-0001";
    assert_eq!(rt.trip_outcome(trip), Some(TripOutcome::Booked));
    // when the client sends the same request again, long after
    rt.clock().advance(3_600_000);
    rt.put_events(&request).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    // then TripBooked is published again, by the bridge, marked as a repeat
    let booked: Vec<_> = rt
        .log()
        .iter()
        .filter(|l| l.trip_id() == Some(trip) && l.envelope.detail_type == "TripBooked")
        .collect();
    assert_eq!(booked.len(), 2);
    assert_eq!(booked[1].envelope.source, "trip.bridge");
    assert_eq!(booked[1].envelope.detail["metadata"]["repeat"], true);
    let strip = |v: &serde_json::Value| {
        let mut v = v.clone();
        v["metadata"].as_object_mut().unwrap().remove("repeat");
        v
    };
    assert_eq!(strip(&booked[1].envelope.detail), booked[0].envelope.detail);
    assert_eq!(rt.executions().len(), 1);
    // when another request comes under the same tripId
    let mut other = request[0].clone();
    other.detail = other
        .detail
        .replace("\"guests\": 2", "\"guests\": 3")
        .replace("\"guests\":2", "\"guests\":3");
    assert_ne!(other.detail, request[0].detail);
    rt.put_events(&[other]).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    // then it is rejected with the reason, and the trip stays booked
    let rejected = rt
        .log()
        .iter()
        .rfind(|l| l.trip_id() == Some(trip) && l.envelope.detail_type == "TripBookingRejected")
        .expect("a rejection");
    let reason = rejected.envelope.detail["reasons"][0]["reason"]
        .as_str()
        .unwrap();
    assert!(
        reason.contains("already used by a different request"),
        "{reason}"
    );
    assert_eq!(rt.trip_outcome(trip), Some(TripOutcome::Booked));
    assert!(
        rt.check_invariants().is_empty(),
        "{:#?}",
        rt.check_invariants()
    );
}

#[test]
fn a_compensation_that_never_succeeds_ends_in_trip_compensation_stuck() {
    // given a trip that fails at the car, and cancellations that always fail
    let mut faults = FaultRates::NONE;
    faults.cancel_error = 1.0;
    let mut rt = runtime(Some(faults));
    rt.put_events(&sample("book-trip-car-fails.json")).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    let trip = rt.trip_ids()[0].clone();
    // then the saga ends, failed, in TripCompensationStuck naming everything that may be held
    let d = rt.describe_execution(&trip).unwrap();
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!(d.error.as_deref(), Some("TripCompensationStuck"));
    let outcome = rt.trip_outcome(&trip);
    let Some(TripOutcome::Stuck {
        failed_step,
        stuck_step,
        still_held,
        ..
    }) = &outcome
    else {
        panic!("{outcome:?}")
    };
    assert_eq!(failed_step, "BookCar");
    assert_eq!(stuck_step, "CancelCar");
    assert_eq!(still_held, &["car", "flight", "hotel"]);
    assert_eq!(count(&rt, &trip, "TripCompensationStuck"), 1);
    assert_eq!(count(&rt, &trip, "TripBookingFailed"), 0);
    // the hotel and flight are still booked, as the event says; the invariants accept that
    // ending and no other
    assert!(rt.booking(Service::Hotel, &trip).is_some());
    assert!(
        rt.check_invariants().is_empty(),
        "{:#?}",
        rt.check_invariants()
    );
    assert_eq!(rt.stuck_compensations().len(), 1);
    // and the failed cancels are in the car queue's dead-letter queue, with their reason
    let dead = rt.dead_letters();
    assert!(dead.iter().any(|m| m.queue == "car"), "{dead:#?}");
}
