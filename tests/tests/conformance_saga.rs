//! The whole saga on an independent AWS emulator: the stack created on moto from the routing
//! table and the ASL file, the real handlers with their real AWS adapters fed by an SQS poller
//! (Lambda's event source), moto's Step Functions interpreter running the product's state
//! machine. Every scenario's outcome (execution status, final event, booking records, the
//! trip's events) must match what the embedded runtime produces for the same input.

use std::time::Duration;

use serde_json::{Value, json};
use trip_booking::{BookingStatus, Handled};
use trip_events::routing::RoutingTable;
use trip_events::{PutEventsEntry, Service};
use trip_local::TripOutcome;
use trip_tests::saga::{MotoSaga, local_result, local_runtime, sample, trip_of};
use trip_tests::stack::StackOptions;

/// Given a sample, when it runs on moto and locally, then both end the same way.
async fn sample_scenario(name: &str) -> (MotoSaga, trip_tests::saga::SagaResult) {
    let entries = sample(name);
    let trip = trip_of(&entries);
    let mut moto = MotoSaga::deploy(&StackOptions::product().unwrap())
        .await
        .unwrap();
    moto.put_events(&entries).await.unwrap();
    moto.pump_until_quiet().await.unwrap();
    let on_moto = moto.result(&trip).await.unwrap();

    let mut rt = local_runtime(None);
    rt.put_events(&entries).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    let local = local_result(&rt, &trip);

    eprintln!("{name}: moto {on_moto:#?}");
    on_moto.assert_same_as(&local);
    assert_eq!(
        moto.dead_letters().await.unwrap(),
        0,
        "dead letters on moto"
    );
    assert!(rt.dead_letters().is_empty(), "dead letters locally");
    assert_eq!(rt.check_invariants(), vec![]);
    (moto, on_moto)
}

fn held(result: &trip_tests::saga::SagaResult) -> Vec<Service> {
    result
        .bookings
        .iter()
        .filter(|(_, r)| {
            r.as_ref()
                .is_some_and(|r| r.status == BookingStatus::Booked)
        })
        .map(|(s, _)| *s)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_trip_is_booked() {
    let (_, r) = sample_scenario("book-trip.json").await;
    assert_eq!(r.status.as_deref(), Some("SUCCEEDED"));
    assert_eq!(r.outcome, Some(TripOutcome::Booked));
    assert_eq!(held(&r), Service::ALL);
}

async fn compensated_at(sample_name: &str, step: &str) {
    let (_, r) = sample_scenario(sample_name).await;
    assert_eq!(r.status.as_deref(), Some("FAILED"));
    match &r.outcome {
        Some(TripOutcome::Failed {
            failed_step, error, ..
        }) => {
            assert_eq!(failed_step, step);
            assert_eq!(error, "Trip.BusinessError");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(held(&r), vec![], "nothing stays held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hotel_that_fails_is_compensated() {
    compensated_at("book-trip-hotel-fails.json", "BookHotel").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flight_that_fails_is_compensated() {
    compensated_at("book-trip-flight-fails.json", "BookFlight").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_car_that_fails_is_compensated_last_in_first_out() {
    compensated_at("book-trip-car-fails.json", "BookCar").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invalid_request_is_rejected_with_its_reasons() {
    let (moto, r) = sample_scenario("book-trip-invalid.json").await;
    assert_eq!(r.status, None, "no execution");
    match &r.outcome {
        Some(TripOutcome::Rejected { reasons }) => assert!(reasons.len() >= 8, "{reasons:?}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(moto.execution_count().await.unwrap(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_duplicate_request_starts_one_saga_and_books_once() {
    // Given the same request twice at once, and once more after the saga ended
    let entries = sample("book-trip.json");
    let trip = trip_of(&entries);
    let twice: Vec<PutEventsEntry> = entries.iter().chain(&entries).cloned().collect();
    let mut moto = MotoSaga::deploy(&StackOptions::product().unwrap())
        .await
        .unwrap();
    moto.put_events(&twice).await.unwrap();
    moto.pump_until_quiet().await.unwrap();
    moto.put_events(&entries).await.unwrap();
    moto.pump_until_quiet().await.unwrap();
    let on_moto = moto.result(&trip).await.unwrap();

    let mut rt = local_runtime(None);
    rt.put_events(&twice).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    rt.put_events(&entries).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    let local = local_result(&rt, &trip);

    // Then one execution, one set of bookings, the same outcome on both
    on_moto.assert_same_as(&local);
    assert_eq!(moto.execution_count().await.unwrap(), 1);
    assert_eq!(on_moto.outcome, Some(TripOutcome::Booked));
    assert_eq!(held(&on_moto), Service::ALL);
    let starts: Vec<Handled> = moto
        .poller
        .deliveries()
        .into_iter()
        .filter(|d| d.detail_type == "TripBookingRequested")
        .filter_map(|d| d.result.ok())
        .collect();
    assert_eq!(starts.len(), 3, "{starts:?}");
    // the late duplicate, after the saga ended, gets the trip's outcome again (issue 13:
    // StartExecution answers ExecutionAlreadyExists, the bridge describes the execution)
    assert_eq!(
        starts.last(),
        Some(&Handled::OutcomeRepeated {
            execution: trip.clone(),
            detail_type: "TripBooked".into()
        }),
        "the late duplicate is answered: {starts:?}"
    );
    assert_eq!(moto.dead_letters().await.unwrap(), 0);
}

/// A command for the hotel service as the workflow would put it, with a task token that no
/// execution issued (forged: the bridge's callback must be dropped as stale).
fn hotel_command(detail_type: &str, trip: &str, request: &Value) -> PutEventsEntry {
    let mut detail = json!({
        "tripId": trip,
        "metadata": {
            "schemaVersion": "1",
            "correlationId": "corr-early-cancel",
            "taskToken": "forged-token-no-execution-issued-this",
        },
    });
    if detail_type == "HotelBookingRequested" {
        detail["traveller"] = request["traveller"].clone();
        detail["hotel"] = request["hotel"].clone();
    }
    PutEventsEntry {
        source: "trip.saga".into(),
        detail_type: detail_type.into(),
        detail: detail.to_string(),
        event_bus_name: Some("trip-saga".into()),
        time: None,
        resources: vec![],
        trace_header: None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_before_its_booking_leaves_a_tombstone_and_refuses_the_booking() {
    // Given a HotelCancellationRequested for a trip that has no booking yet
    let request: Value = serde_json::from_str(&sample("book-trip.json")[0].detail).unwrap();
    let trip = "trip-early-cancel-0001";
    let cancel = [hotel_command("HotelCancellationRequested", trip, &request)];
    let book = [hotel_command("HotelBookingRequested", trip, &request)];
    let mut moto = MotoSaga::deploy(&StackOptions::product().unwrap())
        .await
        .unwrap();
    let mut rt = local_runtime(None);
    // When the cancel lands, and then the booking
    moto.put_events(&cancel).await.unwrap();
    moto.pump_until_quiet().await.unwrap();
    moto.put_events(&book).await.unwrap();
    moto.pump_until_quiet().await.unwrap();
    rt.put_events_as_owner(&cancel).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    rt.put_events_as_owner(&book).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();

    // Then a CANCELLED tombstone remains and the booking is refused with reason CANCELLED
    let on_moto = moto.result(trip).await.unwrap();
    on_moto.assert_same_as(&local_result(&rt, trip));
    let hotel = on_moto.bookings[&Service::Hotel]
        .clone()
        .expect("a tombstone");
    assert_eq!(hotel.status, BookingStatus::Cancelled);
    assert!(!hotel.was_booked);
    let deliveries = moto.poller.deliveries();
    let hotel_results: Vec<_> = deliveries
        .iter()
        .filter(|d| d.queue == "hotel")
        .map(|d| d.result.clone())
        .collect();
    assert_eq!(
        hotel_results,
        vec![
            Ok(Handled::Cancelled {
                booking_id: None,
                was_booked: false
            }),
            Ok(Handled::BookingFailed {
                reason: "CANCELLED".into()
            }),
        ]
    );
    // And the bridge drops both callbacks as stale (moto answers InvalidToken)
    let bridge: Vec<_> = deliveries
        .iter()
        .filter(|d| d.queue == "bridge")
        .map(|d| d.result.clone())
        .collect();
    assert_eq!(
        bridge,
        vec![Ok(Handled::StaleCallback), Ok(Handled::StaleCallback)]
    );
    assert_eq!(
        on_moto.events,
        [
            "HotelCancellationRequested",
            "HotelCancelled",
            "HotelBookingRequested",
            "HotelBookingFailed"
        ]
    );
    assert_eq!(moto.dead_letters().await.unwrap(), 0);
}

/// BookCar's timeout in the TEST's copy of the definition: 120 s in the product, 3 s here so
/// the scenario takes seconds of wall time on moto (the local run keeps 120 s: virtual time).
const TEST_CAR_TIMEOUT_SECONDS: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_car_service_too_slow_for_the_timeout_is_compensated_and_its_late_booking_refused() {
    // Given the car service does not get to its booking request before BookCar times out
    let entries = sample("book-trip.json");
    let trip = trip_of(&entries);
    let mut options = StackOptions::product().unwrap();
    let mut asl: Value = serde_json::from_str(&options.definition).unwrap();
    asl["States"]["BookCar"]["TimeoutSeconds"] = json!(TEST_CAR_TIMEOUT_SECONDS);
    options.definition = asl.to_string();
    let mut moto = MotoSaga::deploy(&options).await.unwrap();
    moto.poller.pause("car", true);
    moto.put_events(&entries).await.unwrap();
    // When BookCar times out, the compensation's CarCancellationRequested joins the request
    moto.poller
        .pump_until(Duration::from_secs(30), async |p| {
            Ok(p.depth("car").await? >= 2)
        })
        .await
        .unwrap();
    // ... and the car service handles the cancel first, the late booking after the saga ended
    moto.poller.defer(Box::new(|queue, body| {
        queue == "car" && body.contains("\"CarBookingRequested\"")
    }));
    moto.poller.pause("car", false);
    moto.pump_until_quiet().await.unwrap();
    moto.poller.release_deferred().await.unwrap();
    moto.pump_until_quiet().await.unwrap();
    let on_moto = moto.result(&trip).await.unwrap();

    // The same locally: a routing table whose car rule carries only cancellations, then the
    // logged booking request sent straight to the car queue once the saga has ended.
    let mut routing = RoutingTable::load().unwrap();
    let rule = routing
        .rules
        .iter_mut()
        .find(|r| r.name == "car-commands")
        .unwrap();
    rule.event_pattern["detail-type"] = json!(["CarCancellationRequested"]);
    let mut rt = local_runtime(Some(routing));
    rt.put_events(&entries).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
    // BookCar retries a timeout (States.Timeout) before it compensates: every attempt's
    // request arrives late, as on moto.
    let late: Vec<String> = rt
        .log()
        .iter()
        .filter(|l| l.envelope.detail_type == "CarBookingRequested")
        .map(|l| serde_json::to_string(&l.envelope).unwrap())
        .collect();
    assert!(!late.is_empty(), "the workflow asked for the car");
    for request in late {
        rt.send_raw("car", request).unwrap();
    }
    rt.run_until_idle(None, |_| true).unwrap();
    let local = local_result(&rt, &trip);

    // Then the saga failed at BookCar with States.Timeout, everything was undone, the late
    // booking was refused (CANCELLED) and its stale callback dropped, on both substrates
    on_moto.assert_same_as(&local);
    assert_eq!(on_moto.status.as_deref(), Some("FAILED"));
    match &on_moto.outcome {
        Some(TripOutcome::Failed {
            failed_step,
            error,
            undone,
            ..
        }) => {
            assert_eq!(failed_step, "BookCar");
            assert_eq!(error, "States.Timeout");
            assert_eq!(undone.len(), 3, "{undone:?}");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(held(&on_moto), vec![]);
    let car = on_moto.bookings[&Service::Car]
        .clone()
        .expect("a tombstone");
    assert_eq!(car.status, BookingStatus::Cancelled);
    let late_booking: Vec<_> = moto
        .poller
        .deliveries()
        .into_iter()
        .filter(|d| d.detail_type == "CarBookingFailed")
        .map(|d| d.result)
        .collect();
    // AWS answers a callback for a timed-out task with TaskTimedOut, which the bridge drops
    // (StaleCallback). moto 5.2 accepts a SendTaskFailure for a timed-out token silently (a
    // moto gap, see tests/conformance/DIFFERENCES.md), so the bridge sees success; either
    // way each record is acknowledged once, and the ended execution is untouched (above).
    // One late booking per attempt: BookCar retries States.Timeout before it compensates.
    let attempts = asl["States"]["BookCar"]["Retry"][0]["MaxAttempts"]
        .as_u64()
        .unwrap() as usize
        + 1;
    assert_eq!(late_booking.len(), attempts, "{late_booking:?}");
    assert!(
        late_booking
            .iter()
            .all(|r| matches!(r, Ok(Handled::StaleCallback | Handled::TaskFailed { .. }))),
        "{late_booking:?}"
    );
    assert_eq!(moto.dead_letters().await.unwrap(), 0);
    assert_eq!(rt.check_invariants(), vec![]);
}
