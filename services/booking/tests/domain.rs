//! The booking rules through the in-memory store: idempotency, tombstones, capacity.

use futures::executor::block_on;
use futures::future::join_all;
use proptest::prelude::*;
use trip_booking::domain::{BookOutcome, BookRequest, BookingStatus, CancelOutcome, booking_key};
use trip_booking::inventory::{Hold, HoldPlan, plan_car, plan_flight, plan_hotel};
use trip_booking::{BookingStore, MemoryBookingStore, Refusal, Service, reason};
use trip_events::{FlightBooking, HotelStay, PutEventsEntry, TripBookingRequested};

fn stay() -> HotelStay {
    HotelStay {
        hotel_id: "HTL-LIS-ALFAMA".into(),
        check_in: "2031-06-10".into(),
        check_out: "2031-06-12".into(),
        guests: 2,
    }
}

fn hotel(trip: &str) -> BookRequest {
    BookRequest::new(Service::Hotel, trip, plan_hotel(&stay()))
}

const NIGHT_1: &str = "INV#hotel#HTL-LIS-ALFAMA#2031-06-10";
const NIGHT_2: &str = "INV#hotel#HTL-LIS-ALFAMA#2031-06-11";

fn booked(o: &BookOutcome) -> &str {
    match o {
        BookOutcome::Booked { booking_id } => booking_id,
        other => panic!("expected a booking, got {other:?}"),
    }
}

fn refused(o: &BookOutcome) -> &Refusal {
    match o {
        BookOutcome::Failed(r) => r,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn booking_holds_a_room_on_every_night() {
    // given an empty store
    let store = MemoryBookingStore::new();
    // when a trip books two nights
    let outcome = block_on(store.book(&hotel("t1"))).unwrap();
    // then it is booked under its deterministic id and holds one room each night
    assert_eq!(
        booked(&outcome),
        trip_booking::booking_id(Service::Hotel, "t1")
    );
    assert_eq!(store.held(NIGHT_1), 1);
    assert_eq!(store.held(NIGHT_2), 1);
    let record = store.record(Service::Hotel, "t1").unwrap();
    assert_eq!(record.status, BookingStatus::Booked);
    assert_eq!(record.holds, vec![NIGHT_1, NIGHT_2]);
}

#[test]
fn a_duplicate_booking_replays_the_same_outcome_and_holds_nothing_more() {
    let store = MemoryBookingStore::new();
    let first = block_on(store.book(&hotel("t1"))).unwrap();
    // when the same request arrives again
    let second = block_on(store.book(&hotel("t1"))).unwrap();
    // then the same booking id, and still one room
    assert_eq!(first, second);
    assert_eq!(store.held(NIGHT_1), 1);
}

#[test]
fn cancelling_releases_the_units_and_keeps_the_history() {
    let store = MemoryBookingStore::new();
    let id = booked(&block_on(store.book(&hotel("t1"))).unwrap()).to_owned();
    // when the booking is cancelled
    let outcome = block_on(store.cancel(Service::Hotel, "t1")).unwrap();
    // then the rooms are free and a tombstone remembers what was booked
    assert_eq!(
        outcome,
        CancelOutcome {
            booking_id: Some(id.clone()),
            was_booked: true
        }
    );
    assert_eq!(store.held(NIGHT_1), 0);
    let tombstone = store.record(Service::Hotel, "t1").unwrap();
    assert_eq!(tombstone.status, BookingStatus::Cancelled);
    assert_eq!(tombstone.booking_id, id);
    assert_eq!(tombstone.holds, vec![NIGHT_1, NIGHT_2]);
}

#[test]
fn cancelling_twice_releases_once_and_answers_the_same() {
    let store = MemoryBookingStore::new();
    block_on(store.book(&hotel("t1"))).unwrap();
    block_on(store.book(&hotel("t2"))).unwrap();
    let first = block_on(store.cancel(Service::Hotel, "t1")).unwrap();
    // when the cancellation is delivered again
    let second = block_on(store.cancel(Service::Hotel, "t1")).unwrap();
    // then the same answer, and t2's room is still held
    assert_eq!(first, second);
    assert_eq!(store.held(NIGHT_1), 1);
}

#[test]
fn a_cancel_before_its_booking_leaves_a_tombstone_that_refuses_the_booking() {
    let store = MemoryBookingStore::new();
    // given a cancellation that overtook its booking
    let cancelled = block_on(store.cancel(Service::Hotel, "t1")).unwrap();
    assert_eq!(
        cancelled,
        CancelOutcome {
            booking_id: None,
            was_booked: false
        }
    );
    assert_eq!(
        store.record(Service::Hotel, "t1").unwrap().status,
        BookingStatus::Cancelled
    );
    // when the booking arrives
    let outcome = block_on(store.book(&hotel("t1"))).unwrap();
    // then it is refused as cancelled and nothing is held
    assert_eq!(refused(&outcome).reason, reason::CANCELLED);
    assert_eq!(store.held(NIGHT_1), 0);
    assert_eq!(
        store.record(Service::Hotel, "t1").unwrap().status,
        BookingStatus::Cancelled
    );
}

#[test]
fn a_booking_after_a_cancelled_booking_is_not_resurrected() {
    let store = MemoryBookingStore::new();
    block_on(store.book(&hotel("t1"))).unwrap();
    block_on(store.cancel(Service::Hotel, "t1")).unwrap();
    // when the original booking request is replayed
    let outcome = block_on(store.book(&hotel("t1"))).unwrap();
    // then it is refused, and the rooms stay free
    assert_eq!(refused(&outcome).reason, reason::CANCELLED);
    assert_eq!(store.held(NIGHT_1), 0);
}

#[test]
fn a_failed_booking_is_recorded_and_its_cancel_is_a_tombstone_with_nothing_booked() {
    let store = MemoryBookingStore::new();
    let louvre = HotelStay {
        hotel_id: "HTL-PAR-LOUVRE".into(),
        ..stay()
    };
    let request = BookRequest::new(Service::Hotel, "t1", plan_hotel(&louvre));
    let first = block_on(store.book(&request)).unwrap();
    assert_eq!(refused(&first).reason, reason::SOLD_OUT);
    assert_eq!(
        refused(&first).message,
        "Hotel Le Petit Louvre is fully booked"
    );
    // a duplicate fails the same way
    assert_eq!(block_on(store.book(&request)).unwrap(), first);
    // when cancelled
    let cancelled = block_on(store.cancel(Service::Hotel, "t1")).unwrap();
    // then nothing was booked, and the failure stays in the history
    assert!(!cancelled.was_booked);
    let tombstone = store.record(Service::Hotel, "t1").unwrap();
    assert_eq!(tombstone.status, BookingStatus::Cancelled);
    assert_eq!(tombstone.failure.unwrap().reason, reason::SOLD_OUT);
}

#[test]
fn two_trips_racing_for_the_last_seat_get_one_booking_and_one_failure() {
    // given a flight with room for one party of 9 only (LIS-OPO has 70 seats; 7 parties fit)
    let store = MemoryBookingStore::new();
    let flight = FlightBooking {
        from: "LIS".into(),
        to: "OPO".into(),
        departure: "2031-06-09T08:00:00Z".into(),
        return_departure: None,
        passengers: 9,
    };
    for i in 0..6 {
        block_on(store.book(&BookRequest::new(
            Service::Flight,
            &format!("early-{i}"),
            plan_flight(&flight),
        )))
        .unwrap();
    }
    // when two trips book concurrently
    let a = BookRequest::new(Service::Flight, "racer-a", plan_flight(&flight));
    let b = BookRequest::new(Service::Flight, "racer-b", plan_flight(&flight));
    let outcomes = block_on(join_all([store.book(&a), store.book(&b)]));
    // then exactly one is booked, the other is refused as full
    let kinds: Vec<bool> = outcomes
        .iter()
        .map(|o| matches!(o, Ok(BookOutcome::Booked { .. })))
        .collect();
    assert_eq!(kinds.iter().filter(|b| **b).count(), 1, "{outcomes:?}");
    let failure = outcomes
        .iter()
        .find_map(|o| match o {
            Ok(BookOutcome::Failed(r)) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(failure.reason, reason::FLIGHT_FULL);
    assert_eq!(store.held("INV#flight#LIS-OPO#2031-06-09"), 63);
}

#[test]
fn book_and_cancel_use_the_same_key() {
    // The AWS saga sample this replaces cancelled a different key than it booked.
    let request = hotel("trip-42");
    let cancel_record = match trip_booking::decide_cancel(None, Service::Hotel, "trip-42") {
        trip_booking::CancelDecision::Tombstone(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(request.key(), booking_key(Service::Hotel, "trip-42"));
    assert_eq!(cancel_record.key(), request.key());
    assert_eq!(request.booked_record().key(), request.key());
    assert_ne!(
        booking_key(Service::Hotel, "trip-42"),
        booking_key(Service::Flight, "trip-42")
    );
    // and the store finds the booking by that key when cancelling
    let store = MemoryBookingStore::new();
    block_on(store.book(&request)).unwrap();
    assert!(
        block_on(store.cancel(Service::Hotel, "trip-42"))
            .unwrap()
            .was_booked
    );
}

#[test]
fn state_snapshots_round_trip_through_json() {
    let store = MemoryBookingStore::new();
    block_on(store.book(&hotel("t1"))).unwrap();
    block_on(store.cancel(Service::Hotel, "t2")).unwrap();
    let json = serde_json::to_string(&store.snapshot()).unwrap();
    let restored = MemoryBookingStore::from_state(serde_json::from_str(&json).unwrap());
    assert_eq!(restored.snapshot(), store.snapshot());
    assert_eq!(restored.held(NIGHT_1), 1);
}

// --- the samples ---

fn sample(name: &str) -> TripBookingRequested {
    let path = format!("{}/../../events/samples/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let entries: Vec<PutEventsEntry> = serde_json::from_str(&text).unwrap();
    serde_json::from_str(&entries[0].detail).unwrap()
}

/// Books the sample with each service in saga order until one refuses.
fn run_sample(name: &str) -> Vec<(Service, BookOutcome)> {
    let trip = sample(name);
    let store = MemoryBookingStore::new();
    let mut out = Vec::new();
    for service in Service::ALL {
        let plan = match service {
            Service::Hotel => plan_hotel(&trip.hotel),
            Service::Flight => plan_flight(&trip.flight),
            Service::Car => plan_car(&trip.car),
        };
        let outcome =
            block_on(store.book(&BookRequest::new(service, &trip.trip_id, plan))).unwrap();
        let failed = matches!(outcome, BookOutcome::Failed(_));
        out.push((service, outcome));
        if failed {
            break;
        }
    }
    out
}

fn reasons(outcomes: &[(Service, BookOutcome)]) -> Vec<(Service, &str)> {
    outcomes
        .iter()
        .map(|(s, o)| {
            (
                *s,
                match o {
                    BookOutcome::Booked { .. } => "BOOKED",
                    BookOutcome::Failed(r) => r.reason.as_str(),
                },
            )
        })
        .collect()
}

#[test]
fn the_samples_succeed_or_fail_where_they_say() {
    assert_eq!(
        reasons(&run_sample("book-trip.json")),
        [
            (Service::Hotel, "BOOKED"),
            (Service::Flight, "BOOKED"),
            (Service::Car, "BOOKED")
        ]
    );
    assert_eq!(
        reasons(&run_sample("book-trip-hotel-fails.json")),
        [(Service::Hotel, reason::SOLD_OUT)]
    );
    assert_eq!(
        reasons(&run_sample("book-trip-flight-fails.json")),
        [
            (Service::Hotel, "BOOKED"),
            (Service::Flight, reason::FLIGHT_FULL)
        ]
    );
    assert_eq!(
        reasons(&run_sample("book-trip-car-fails.json")),
        [
            (Service::Hotel, "BOOKED"),
            (Service::Flight, "BOOKED"),
            (Service::Car, reason::NO_CAR_AVAILABLE)
        ]
    );
}

// --- capacity under any interleaving ---

const KEYS: [&str; 3] = ["INV#test#A", "INV#test#B", "INV#test#C"];
const CAPACITY: u32 = 3;

/// Trip `i` holds `units` on a window of two of the three keys, so trips overlap partially.
fn racing_request(trip: usize, units: u32) -> BookRequest {
    let holds = KEYS[trip % 2..trip % 2 + 2]
        .iter()
        .map(|k| Hold {
            key: (*k).to_owned(),
            capacity: CAPACITY,
            full_message: format!("{k} is full"),
        })
        .collect();
    BookRequest::new(
        Service::Flight,
        &format!("trip-{trip}"),
        Ok(HoldPlan {
            units,
            holds,
            full_reason: reason::FLIGHT_FULL.to_owned(),
        }),
    )
}

#[derive(Debug, Clone)]
enum Op {
    Book(usize),
    Cancel(usize),
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(
        prop_oneof![
            3 => (0usize..6).prop_map(Op::Book),
            1 => (0usize..6).prop_map(Op::Cancel),
        ],
        1..40,
    )
}

proptest! {
    #[test]
    fn capacity_is_never_oversold_and_each_trip_holds_at_most_one_booking(
        ops in ops(),
        units in prop::collection::vec(1u32..=2, 6),
        concurrent in any::<bool>(),
    ) {
        let store = MemoryBookingStore::new();
        let mut booking_ids: Vec<Option<String>> = vec![None; 6];
        let mut cancelled = [false; 6];
        // Apply the operations one by one, or in concurrent pairs (join_all interleaves them).
        let chunks: Vec<Vec<Op>> = if concurrent {
            ops.chunks(2).map(<[Op]>::to_vec).collect()
        } else {
            ops.iter().cloned().map(|o| vec![o]).collect()
        };
        for chunk in chunks {
            let futures = chunk.iter().map(|op| {
                let store = &store;
                let units = &units;
                async move {
                    match op {
                        Op::Book(t) => (op.clone(), Some(store.book(&racing_request(*t, units[*t])).await.unwrap()), None),
                        Op::Cancel(t) => (op.clone(), None, Some(store.cancel(Service::Flight, &format!("trip-{t}")).await.unwrap())),
                    }
                }
            });
            for (op, booked, cancel) in block_on(join_all(futures)) {
                match (op, booked, cancel) {
                    (Op::Book(t), Some(BookOutcome::Booked { booking_id }), _) => {
                        prop_assert!(!cancelled[t], "trip {t} booked after its cancel");
                        if let Some(prev) = &booking_ids[t] {
                            prop_assert_eq!(prev, &booking_id);
                        }
                        booking_ids[t] = Some(booking_id);
                    }
                    (Op::Book(t), Some(BookOutcome::Failed(r)), _) => {
                        if cancelled[t] {
                            prop_assert_eq!(r.reason.as_str(), reason::CANCELLED);
                        }
                    }
                    (Op::Cancel(t), _, Some(_)) => cancelled[t] = true,
                    other => prop_assert!(false, "unexpected {:?}", other),
                }
            }
            // invariants after every step
            let state = store.snapshot();
            for key in KEYS {
                let held = state.held(key);
                prop_assert!(held <= CAPACITY, "{key} oversold: {held}");
                let booked_units: u32 = state
                    .bookings
                    .values()
                    .filter(|r| r.status == BookingStatus::Booked && r.holds.iter().any(|h| h == key))
                    .map(|r| r.units)
                    .sum();
                prop_assert_eq!(held, booked_units, "held units on {} differ from bookings", key);
            }
            for (t, was_cancelled) in cancelled.iter().enumerate() {
                let trip = format!("trip-{t}");
                let n = state.bookings.values().filter(|r| r.trip_id == trip).count();
                prop_assert!(n <= 1, "trip {t} has {n} records");
                if *was_cancelled {
                    let r = state.record(Service::Flight, &trip).unwrap();
                    prop_assert_eq!(r.status, BookingStatus::Cancelled);
                }
            }
        }
    }
}
