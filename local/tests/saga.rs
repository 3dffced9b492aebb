//! Whole sagas through the embedded runtime, in virtual time.

use trip_events::{PutEventsEntry, Service, read_entries_file};
use trip_local::{ClockChoice, Runtime, RuntimeOptions, TripOutcome};

const START: i64 = 1_893_456_000_000; // 2030-01-01T00:00:00Z

fn sample(name: &str) -> Vec<PutEventsEntry> {
    read_entries_file(&format!(
        "{}/../events/samples/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn runtime() -> Runtime {
    Runtime::open(RuntimeOptions {
        clock: ClockChoice::Virtual { start_ms: START },
        ..RuntimeOptions::default()
    })
    .unwrap()
}

fn detail_types(rt: &Runtime, trip: &str) -> Vec<String> {
    rt.log()
        .iter()
        .filter(|l| l.trip_id() == Some(trip))
        .map(|l| l.envelope.detail_type.clone())
        .collect()
}

#[test]
fn a_trip_is_booked_end_to_end() {
    let mut rt = runtime();
    let out = rt.put_events(&sample("book-trip.json")).unwrap();
    assert_eq!(out.failed_entry_count, 0);
    rt.run_until_idle(None, |_| true).unwrap();
    assert_eq!(
        rt.trip_outcome("trip-lisbon-0001"),
        Some(TripOutcome::Booked)
    );
    assert_eq!(
        detail_types(&rt, "trip-lisbon-0001"),
        [
            "TripBookingRequested",
            "HotelBookingRequested",
            "HotelBooked",
            "FlightBookingRequested",
            "FlightBooked",
            "CarBookingRequested",
            "CarBooked",
            "TripBooked"
        ]
    );
    for s in Service::ALL {
        assert!(rt.booking(s, "trip-lisbon-0001").is_some(), "{s}");
    }
    assert_eq!(
        rt.describe_execution("trip-lisbon-0001")
            .unwrap()
            .transitions,
        4
    );
    assert_eq!(rt.check_invariants(), vec![]);
}

#[test]
fn a_car_that_cannot_be_had_undoes_the_flight_and_the_hotel_in_reverse_order() {
    let mut rt = runtime();
    rt.put_events(&sample("book-trip-car-fails.json")).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    let trip = "trip-lisbon-0002";
    let cancels: Vec<String> = detail_types(&rt, trip)
        .into_iter()
        .filter(|d| d.ends_with("CancellationRequested"))
        .collect();
    assert_eq!(
        cancels,
        [
            "CarCancellationRequested",
            "FlightCancellationRequested",
            "HotelCancellationRequested"
        ]
    );
    match rt.trip_outcome(trip) {
        Some(TripOutcome::Failed { failed_step, .. }) => assert_eq!(failed_step, "BookCar"),
        other => panic!("{other:?}"),
    }
    assert_eq!(rt.check_invariants(), vec![]);
}

#[test]
fn an_invalid_trip_is_rejected_with_every_reason() {
    let mut rt = runtime();
    rt.put_events(&sample("book-trip-invalid.json")).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    match rt.trip_outcome("trip-invalid-0001") {
        Some(TripOutcome::Rejected { reasons }) => assert!(reasons.len() >= 8, "{reasons:?}"),
        other => panic!("{other:?}"),
    }
    assert!(rt.describe_execution("trip-invalid-0001").is_none());
}

/// Commits are pipelined (the store's writer thread), but what the runtime promises is on disk
/// when it says so: accepted events when `put_events` returns, a trip's outcome when
/// `run_until_idle` returns, every step once `sync` returns; and a store reopened after a
/// clean stop holds the whole trip.
#[test]
fn what_the_runtime_reports_done_is_already_on_disk() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trip.db");
    let open = || {
        Runtime::open(RuntimeOptions {
            store: Some(path.clone()),
            clock: ClockChoice::Virtual { start_ms: START },
            ..RuntimeOptions::default()
        })
        .unwrap()
    };
    let mut rt = open();
    let reader = trip_local::store::LogReader::open(&path).unwrap();
    rt.put_events(&sample("book-trip.json")).unwrap();
    let logged = reader.read(0, None, 100).unwrap();
    assert_eq!(logged.len(), 1, "the request is in the file");
    assert_eq!(logged[0].detail_type, "TripBookingRequested");

    rt.run_until_idle(None, |_| true).unwrap();
    let logged = reader.read(0, None, 100).unwrap();
    assert_eq!(logged.last().unwrap().detail_type, "TripBooked");
    assert_eq!(logged.len(), rt.log().len());
    assert_eq!(rt.durable_ticket(), rt.last_ticket());
    assert!(
        logged
            .iter()
            .take(logged.len() - 1)
            .all(|r| r.delivered_at.is_some()),
        "every event but the last was delivered, and the file says when"
    );
    drop(rt);

    let rt = open();
    assert_eq!(
        rt.trip_outcome("trip-lisbon-0001"),
        Some(TripOutcome::Booked)
    );
    assert_eq!(
        detail_types(&rt, "trip-lisbon-0001").len(),
        8,
        "the whole trip came back"
    );
}
