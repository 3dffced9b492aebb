//! Replays of recorded event logs (`tests/replays/*.jsonl`, the `trip export` format: one
//! EventBridge envelope per line plus a `delivery` block that replay ignores).
//!
//! Each log was recorded by running real sagas through the runtime and exporting them; beside
//! it, `<name>.expected.json` holds the final state it must reach: per trip, the outcome class
//! and each service's booking status. Regenerate them (after a deliberate change of behaviour)
//! with `UPDATE_REPLAYS=1 cargo test -p trip-tests --test replay`.
//!
//! What the tests hold a replay to:
//! 1. in order, into a fresh runtime: exactly the expected state, and the invariants;
//! 2. the same log replayed again on top: nothing changes (every handler is idempotent, a
//!    duplicate start is a no-op, the stale tokens of recorded outcomes are dropped);
//! 3. shuffled (several seeds): the order of a replay is not the order of the run, so the
//!    sagas can take other paths — a recorded cancel may now arrive before its booking and
//!    leave a tombstone; a recorded booking of the loser of a capacity race may hold the last
//!    unit for a while. The *outcome events* of a shuffled replay may therefore differ (another
//!    failed step; in a race, even which trip wins). What must hold whatever the order:
//!    - the invariants: every saga ends, booked with all three held or failed with none held,
//!      inventory equals the bookings and stays within capacity, no message unaccounted for;
//!    - every trip ends in exactly the outcome class it was recorded with, except the trips
//!      of a capacity race, which end booked or failed with no more winners than capacity;
//!    - a recorded cancel is final: no (trip, service) whose cancel is in the log ends BOOKED
//!      (a cancel that overtakes its booking leaves a tombstone, never resurrected).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use trip_booking::BookingStatus;
use trip_events::{EventEnvelope, PutEventsEntry, Service, read_entries_file};
use trip_local::{ClockChoice, Runtime, RuntimeOptions, TripOutcome};
use trip_workflow::ExecutionStatus;

const START: i64 = 1_893_456_000_000; // 2030-01-01T00:00:00Z

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

fn replays() -> PathBuf {
    root().join("replays")
}

fn runtime(seed: u64) -> Runtime {
    Runtime::open(RuntimeOptions {
        clock: ClockChoice::Virtual { start_ms: START },
        seed,
        ..RuntimeOptions::default()
    })
    .unwrap()
}

fn sample(name: &str) -> Vec<PutEventsEntry> {
    read_entries_file(
        root()
            .join("../events/samples")
            .join(name)
            .to_str()
            .unwrap(),
    )
    .unwrap()
}

/// A trip request to LIS whose car is `class`, on `day` of June 2031.
fn lisbon_trip(trip_id: &str, class: &str, day: u32) -> PutEventsEntry {
    let detail = json!({
        "tripId": trip_id,
        "traveller": {"firstName": "Grace", "lastName": "Hopper", "email": "grace@example.com"},
        "hotel": {"hotelId": "HTL-LIS-ALFAMA", "checkIn": format!("2031-06-{day:02}"), "checkOut": format!("2031-06-{:02}", day + 2), "guests": 1},
        "flight": {"from": "JFK", "to": "LIS", "departure": format!("2031-06-{day:02}T08:00:00Z"), "return": format!("2031-06-{:02}T18:00:00Z", day + 2), "passengers": 1},
        "car": {"pickUpLocation": "LIS", "pickUpAt": format!("2031-06-{day:02}T12:00:00Z"), "dropOffAt": format!("2031-06-{:02}T10:00:00Z", day + 2), "carClass": class},
        "metadata": {"schemaVersion": "1", "correlationId": format!("corr-{trip_id}")}
    });
    PutEventsEntry {
        source: "trip.client".into(),
        detail_type: "TripBookingRequested".into(),
        detail: detail.to_string(),
        event_bus_name: Some("trip-saga".into()),
        time: None,
        resources: Vec::new(),
        trace_header: None,
    }
}

/// The recorded scenarios: name -> the batches of requests that made them.
fn scenarios() -> Vec<(&'static str, Vec<Vec<PutEventsEntry>>)> {
    let booked = sample("book-trip.json");
    vec![
        ("booked", vec![booked.clone()]),
        ("hotel-sold-out", vec![sample("book-trip-hotel-fails.json")]),
        ("flight-full", vec![sample("book-trip-flight-fails.json")]),
        ("no-luxury-car", vec![sample("book-trip-car-fails.json")]),
        ("rejected", vec![sample("book-trip-invalid.json")]),
        (
            "duplicate-request",
            vec![vec![booked[0].clone(), booked[0].clone()], booked.clone()],
        ),
        (
            // Three trips at once for LIS's two vans on the same days.
            "capacity-race",
            vec![vec![
                lisbon_trip("race-van-1", "van", 20),
                lisbon_trip("race-van-2", "van", 20),
                lisbon_trip("race-van-3", "van", 20),
            ]],
        ),
    ]
}

fn class(o: &TripOutcome) -> &'static str {
    match o {
        TripOutcome::Booked => "booked",
        TripOutcome::Failed { .. } => "failed",
        TripOutcome::Rejected { .. } => "rejected",
        TripOutcome::Stuck { .. } => "stuck",
    }
}

/// The trip's outcome class as the runtime holds it: the execution's status (the log's last
/// outcome event can be a replayed, recorded one), or `rejected` when no saga started.
fn outcome_class(rt: &Runtime, trip: &str) -> String {
    match rt.describe_execution(trip).map(|d| d.status) {
        Some(ExecutionStatus::Succeeded) => "booked".into(),
        Some(ExecutionStatus::Running) => "running".into(),
        Some(_) => "failed".into(),
        None => rt
            .trip_outcome(trip)
            .map_or("none".into(), |o| class(&o).into()),
    }
}

fn final_state(rt: &Runtime, trips: &[String]) -> Value {
    let mut out = serde_json::Map::new();
    for t in trips {
        let bookings: serde_json::Map<String, Value> = Service::ALL
            .iter()
            .map(|s| {
                (
                    s.name().to_owned(),
                    json!(rt.booking(*s, t).map_or("NONE", |b| b.status.as_str())),
                )
            })
            .collect();
        out.insert(
            t.clone(),
            json!({"outcome": outcome_class(rt, t), "bookings": bookings}),
        );
    }
    Value::Object(out)
}

fn read_log(path: &Path) -> Vec<EventEnvelope> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).unwrap();
            // The `delivery` block is the runtime's bookkeeping: ignored on replay.
            serde_json::from_value(v).unwrap()
        })
        .collect()
}

fn replay(rt: &mut Runtime, log: &[EventEnvelope]) {
    rt.replay(log.to_vec(), &[]).unwrap();
    rt.run_until_idle(None, |_| true).unwrap();
}

fn assert_invariants(rt: &Runtime, what: &str) {
    let v = rt.check_invariants();
    assert!(v.is_empty(), "{what}: {v:#?}");
}

#[test]
fn recorded_logs_are_up_to_date_or_regenerated() {
    let update = std::env::var_os("UPDATE_REPLAYS").is_some();
    for (name, batches) in scenarios() {
        let mut rt = runtime(0x5EED);
        for batch in &batches {
            rt.put_events(batch).unwrap();
            rt.run_until_idle(None, |_| true).unwrap();
        }
        assert_invariants(&rt, name);
        let log: String = rt
            .log()
            .iter()
            .map(|l| l.to_export_json().to_string() + "\n")
            .collect();
        let trips = rt.trip_ids();
        let expected = final_state(&rt, &trips);
        let pretty = serde_json::to_string_pretty(&expected).unwrap() + "\n";
        let log_path = replays().join(format!("{name}.jsonl"));
        let expected_path = replays().join(format!("{name}.expected.json"));
        if update {
            std::fs::create_dir_all(replays()).unwrap();
            std::fs::write(&log_path, &log).unwrap();
            std::fs::write(&expected_path, &pretty).unwrap();
            continue;
        }
        let on_disk: Value = serde_json::from_str(
            &std::fs::read_to_string(&expected_path).unwrap_or_else(|e| {
                panic!(
                    "{}: {e}; run with UPDATE_REPLAYS=1",
                    expected_path.display()
                )
            }),
        )
        .unwrap();
        assert_eq!(
            on_disk, expected,
            "{name}: the runtime no longer reaches the recorded state; if that is deliberate, \
             regenerate with UPDATE_REPLAYS=1"
        );
        assert!(log_path.exists(), "{}", log_path.display());
    }
}

fn recorded() -> Vec<(String, Vec<EventEnvelope>, Value)> {
    let mut out = Vec::new();
    for (name, _) in scenarios() {
        let log = read_log(&replays().join(format!("{name}.jsonl")));
        let expected: Value = serde_json::from_str(
            &std::fs::read_to_string(replays().join(format!("{name}.expected.json"))).unwrap(),
        )
        .unwrap();
        out.push((name.to_owned(), log, expected));
    }
    out
}

#[test]
fn the_recordings_cover_every_path_of_the_saga() {
    let mut classes = BTreeSet::new();
    let mut failed_steps = BTreeSet::new();
    let mut duplicates = 0;
    for (_, log, expected) in recorded() {
        for (_, t) in expected.as_object().unwrap() {
            classes.insert(t["outcome"].as_str().unwrap().to_owned());
        }
        for e in &log {
            if let Some(s) = e.detail.get("failedStep").and_then(Value::as_str) {
                failed_steps.insert(s.to_owned());
            }
        }
        let requests: Vec<&str> = log
            .iter()
            .filter(|e| e.detail_type == "TripBookingRequested")
            .filter_map(|e| e.trip_id())
            .collect();
        let unique: BTreeSet<&&str> = requests.iter().collect();
        duplicates += requests.len() - unique.len();
    }
    assert_eq!(
        classes,
        BTreeSet::from(["booked".into(), "failed".into(), "rejected".into()])
    );
    assert_eq!(
        failed_steps,
        BTreeSet::from(["BookCar".into(), "BookFlight".into(), "BookHotel".into()])
    );
    assert!(
        duplicates >= 2,
        "the duplicate-request log repeats its request"
    );
}

#[test]
fn replaying_a_log_into_a_fresh_runtime_reaches_its_recorded_state() {
    for (name, log, expected) in recorded() {
        let mut rt = runtime(99);
        replay(&mut rt, &log);
        let trips: Vec<String> = expected.as_object().unwrap().keys().cloned().collect();
        assert_eq!(final_state(&rt, &trips), expected, "{name}");
        assert_invariants(&rt, &name);
    }
}

#[test]
fn replaying_again_on_top_changes_nothing() {
    for (name, log, expected) in recorded() {
        let mut rt = runtime(7);
        replay(&mut rt, &log);
        let trips: Vec<String> = expected.as_object().unwrap().keys().cloned().collect();
        let first = final_state(&rt, &trips);
        let bookings = booking_records(&rt, &trips);
        let executions = rt.executions();
        replay(&mut rt, &log);
        assert_eq!(final_state(&rt, &trips), first, "{name}: second pass");
        assert_eq!(booking_records(&rt, &trips), bookings, "{name}: records");
        assert_eq!(rt.executions(), executions, "{name}: no new execution");
        assert_invariants(&rt, &name);
    }
}

/// Issue 13: the bridge used to check a request's dates against "now" before it looked for the
/// trip's saga, so replaying a booked trip's request after its dates had passed published
/// `TripBookingRejected` for a BOOKED trip. A replay (its events carry `replay-name`, as
/// EventBridge marks them) never starts, rejects or changes a saga that exists.
#[test]
fn a_replay_after_the_travel_dates_rejects_starts_and_changes_no_saga() {
    const AFTER_EVERY_TRIP: i64 = 1_956_528_000_000; // 2032-01-01T00:00:00Z
    for (name, batches) in scenarios() {
        // given a scenario run to its end in June 2030's virtual time
        let mut rt = runtime(0x5EED);
        for batch in &batches {
            rt.put_events(batch).unwrap();
            rt.run_until_idle(None, |_| true).unwrap();
        }
        let trips = rt.trip_ids();
        let before = final_state(&rt, &trips);
        let executions = rt.executions();
        let bookings = booking_records(&rt, &trips);
        let logged_before = rt.log().len();
        // when the clock is past every travel date and the whole log is replayed
        rt.clock().skip_to(AFTER_EVERY_TRIP);
        let log: Vec<EventEnvelope> = rt.log().iter().map(|l| (*l.envelope).clone()).collect();
        replay(&mut rt, &log);
        // then no trip whose saga exists got a rejection, and nothing changed
        for l in &rt.log()[logged_before..] {
            if l.envelope.detail_type == "TripBookingRejected"
                && !log.iter().any(|e| e.id == l.envelope.id)
            {
                let trip = l.trip_id().unwrap_or("-");
                assert!(
                    rt.describe_execution(trip).is_none(),
                    "{name}: the replay rejected trip {trip}, whose saga exists: {}",
                    l.envelope.detail
                );
            }
        }
        assert_eq!(final_state(&rt, &trips), before, "{name}");
        assert_eq!(rt.executions(), executions, "{name}: no new execution");
        assert_eq!(booking_records(&rt, &trips), bookings, "{name}: records");
        for t in &trips {
            if let Some(d) = rt.describe_execution(t) {
                let o = rt.trip_outcome(t);
                assert!(
                    !matches!(o, Some(TripOutcome::Rejected { .. })),
                    "{name}: {t} ended {:?} but now reads as rejected",
                    d.status
                );
            }
        }
        assert_invariants(&rt, name);
    }
}

fn booking_records(rt: &Runtime, trips: &[String]) -> Vec<Value> {
    trips
        .iter()
        .flat_map(|t| Service::ALL.map(|s| serde_json::to_value(rt.booking(s, t)).unwrap()))
        .collect()
}

/// A seeded Fisher-Yates shuffle (splitmix64).
fn shuffle<T>(items: &mut [T], seed: u64) {
    let mut s = seed;
    let mut next = || {
        s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    };
    for i in (1..items.len()).rev() {
        let j = (next() % (i as u64 + 1)) as usize;
        items.swap(i, j);
    }
}

#[test]
fn replaying_in_shuffled_order_ends_every_trip_consistently() {
    for (name, log, expected) in recorded() {
        let trips: Vec<String> = expected.as_object().unwrap().keys().cloned().collect();
        let race = name == "capacity-race";
        // (trip, service) pairs whose cancellation is in the log.
        let cancelled: BTreeSet<(String, Service)> = log
            .iter()
            .filter_map(|e| {
                let svc = Service::ALL
                    .into_iter()
                    .find(|s| e.detail_type == s.cancellation_requested().as_str())?;
                Some((e.trip_id()?.to_owned(), svc))
            })
            .collect();
        for seed in 1..=12u64 {
            let mut shuffled = log.clone();
            shuffle(&mut shuffled, seed);
            let mut rt = runtime(seed);
            replay(&mut rt, &shuffled);
            let what = format!("{name}, shuffle seed {seed}");
            assert_invariants(&rt, &what);
            let mut winners = 0;
            for t in &trips {
                let class = outcome_class(&rt, t);
                let held: Vec<Service> = Service::ALL
                    .into_iter()
                    .filter(|s| {
                        rt.booking(*s, t)
                            .is_some_and(|b| b.status == BookingStatus::Booked)
                    })
                    .collect();
                match class.as_str() {
                    "booked" => assert_eq!(held.len(), 3, "{what}: {t} booked holds {held:?}"),
                    "failed" | "rejected" => {
                        assert!(held.is_empty(), "{what}: {t} {class} holds {held:?}")
                    }
                    other => panic!("{what}: {t} ended {other}"),
                }
                let recorded_class = expected[t]["outcome"].as_str().unwrap();
                if race && recorded_class == "booked" {
                    winners += usize::from(class == "booked");
                } else {
                    assert_eq!(class, recorded_class, "{what}: {t}");
                }
                for s in Service::ALL {
                    if cancelled.contains(&(t.clone(), s)) {
                        assert_ne!(
                            rt.booking(s, t).map(|b| b.status),
                            Some(BookingStatus::Booked),
                            "{what}: {t}'s recorded {s} cancel is final"
                        );
                    }
                }
            }
            if race {
                assert!(winners <= 2, "{what}: {winners} winners for two vans");
                assert!(
                    rt.held("INV#car#LIS-van#2031-06-20") <= 2,
                    "{what}: vans oversold"
                );
            }
            // And a shuffled replay, replayed again, changes nothing.
            let state = final_state(&rt, &trips);
            replay(&mut rt, &shuffled);
            assert_eq!(final_state(&rt, &trips), state, "{what}: second pass");
        }
    }
}

/// Outcome events of a shuffled replay may differ from the recorded ones; the counts say how
/// often a replay took another path (for the record, not asserted).
#[test]
fn shuffled_replays_of_a_compensated_trip_may_fail_at_another_step() {
    let (_, log, _) = recorded()
        .into_iter()
        .find(|(n, _, _)| n == "no-luxury-car")
        .unwrap();
    let mut steps: BTreeMap<String, usize> = BTreeMap::new();
    for seed in 1..=12u64 {
        let mut shuffled = log.clone();
        shuffle(&mut shuffled, seed);
        let mut rt = runtime(seed);
        replay(&mut rt, &shuffled);
        let d = rt.describe_execution("trip-lisbon-0002").unwrap();
        assert_eq!(d.status, ExecutionStatus::Failed);
        let step = rt
            .log()
            .iter()
            .rev()
            .filter(|l| l.envelope.detail_type == "TripBookingFailed")
            .find_map(|l| {
                l.envelope
                    .detail
                    .get("failedStep")?
                    .as_str()
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        *steps.entry(step).or_default() += 1;
    }
    eprintln!("failed steps over 12 shuffles: {steps:?}");
    assert_eq!(steps.values().sum::<usize>(), 12);
}
