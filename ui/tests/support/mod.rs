//! A store with one trip in each state the console shows, written by the real runtime, and
//! hostile strings (HTML in a trip id, in an event's detail-type and in a dead letter's body).
#![allow(dead_code)] // each test binary uses its own part of this module

use std::path::{Path, PathBuf};

use trip_events::PutEventsEntry;
use trip_local::{ClockChoice, RunStats, Runtime, RuntimeOptions};

pub const BOOKED: &str = "trip-lisbon-0001";
pub const COMPENSATED: &str = "trip-lisbon-0002";
pub const REJECTED: &str = "trip-invalid-0001";
pub const STUCK: &str = "trip-stuck-0001";
pub const RUNNING: &str = "trip-running-0001";
/// A trip id that is HTML: the bridge rejects it, and the console must show it as text.
pub const HOSTILE_TRIP: &str = "<img src=x onerror=\"document.body.dataset.pwned='trip'\">";
/// A detail-type that is HTML, sent straight to the hotel queue: it ends in the DLQ.
pub const HOSTILE_TYPE: &str = "<script>document.body.dataset.pwned='dlq'</script>";

pub fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/samples")
}

pub fn entries(sample: &str) -> Vec<PutEventsEntry> {
    let text = std::fs::read_to_string(samples().join(sample)).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The booking sample with another trip id.
pub fn renamed(trip_id: &str) -> Vec<PutEventsEntry> {
    let mut e = entries("book-trip.json");
    let mut detail: serde_json::Value = serde_json::from_str(&e[0].detail).unwrap();
    detail["tripId"] = trip_id.into();
    e[0].detail = detail.to_string();
    e
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn open(store: &Path, clock: ClockChoice) -> Runtime {
    Runtime::open(RuntimeOptions {
        store: Some(store.to_owned()),
        clock,
        ..RuntimeOptions::default()
    })
    .unwrap()
}

/// Writes the store: booked, compensated, rejected (twice: one with the hostile id), a dead
/// letter with a hostile detail-type, a trip stuck half-way (its last event 20 minutes old)
/// and one just requested (running).
pub fn build_store(store: &Path) {
    {
        // Wall time, idle waits skipped (the dead letter's five receives, 60 s apart).
        let mut rt = open(store, ClockChoice::Wall { fast_forward: true });
        for sample in [
            "book-trip.json",
            "book-trip-car-fails.json",
            "book-trip-invalid.json",
        ] {
            rt.put_events(&entries(sample)).unwrap();
            rt.run_until_idle(None, |_| true).unwrap();
        }
        rt.put_events(&renamed(HOSTILE_TRIP)).unwrap();
        rt.run_until_idle(None, |_| true).unwrap();
        let hostile = serde_json::json!({
            "version": "0", "id": "hostile-event", "detail-type": HOSTILE_TYPE,
            "source": "trip.saga", "account": "123456789012", "time": "2030-01-01T00:00:00Z",
            "region": "eu-west-1", "resources": [],
            "detail": { "tripId": BOOKED, "note": "<b>bold</b>" }
        });
        rt.send_raw("hotel", hostile.to_string()).unwrap();
        rt.run_until_idle(None, |_| true).unwrap();
        assert_eq!(
            rt.dead_letters().len(),
            1,
            "the hostile message is dead-lettered"
        );
    }
    {
        // Twenty minutes ago, half-way through: the hotel booked, the flight requested, then
        // nothing drives it (nothing else is in flight, so only this trip moves).
        let mut rt = open(
            store,
            ClockChoice::Virtual {
                start_ms: now_ms() - 20 * 60_000,
            },
        );
        rt.put_events(&renamed(STUCK)).unwrap();
        let mut stats = RunStats::default();
        while !rt.log().iter().any(|e| {
            e.trip_id() == Some(STUCK) && e.envelope.detail_type == "FlightBookingRequested"
        }) {
            rt.step(&mut stats).unwrap();
        }
    }
    // A trip requested just now, which no one has run yet.
    let mut rt = open(
        store,
        ClockChoice::Wall {
            fast_forward: false,
        },
    );
    rt.put_events(&renamed(RUNNING)).unwrap();
}
