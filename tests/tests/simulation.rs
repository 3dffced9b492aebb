//! Seeded simulations under faults: many sagas per seed, many seeds, the saga's invariants
//! checked after each run (see `trip_local::simulate`). A failure prints each violation with
//! its seed, the violating trip's events and the command line that reruns it.
//!
//! The outcome property's soak (issue 13; documented in BENCHMARKS.md):
//! `SIM_SEEDS=1000 SIM_TRIPS=100 cargo test --release -p trip-tests --test simulation outcome_soak -- --ignored --nocapture`
//!
//! The longer soak (documented in BENCHMARKS.md):
//! `SIM_SEEDS=1000 SIM_TRIPS=50 cargo test --release -p trip-tests --test simulation soak -- --ignored --nocapture`

use std::collections::BTreeMap;

use trip_local::faults::FaultRates;
use trip_local::simulate::{PropertyReport, SimOptions, SimReport, outcome_property, simulate};

fn explain(r: &SimReport) -> String {
    let mut s = String::new();
    for v in &r.violations {
        s.push_str(&format!(
            "seed {} trip {} [{}]: {}\n  rerun: {}\n",
            v.seed, v.trip_id, v.invariant, v.detail, v.rerun
        ));
        for line in &v.trace {
            s.push_str(&format!("    {line}\n"));
        }
    }
    s
}

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Runs `seeds` seeds of `trips` trips each; returns the summed fault counts and outcomes.
fn sweep(first: u64, seeds: u64, trips: usize, faults: Option<FaultRates>) -> Summary {
    let mut sum = Summary::default();
    let mut failures = String::new();
    for seed in first..first + seeds {
        let mut o = SimOptions::new(seed, trips);
        o.faults = faults;
        let r = simulate(&o).unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        sum.sagas += r.trips as u64;
        sum.events += r.events as u64;
        sum.restarts += r.restarts;
        sum.dead_letters += r.dead_letters as u64;
        for (k, v) in &r.faults {
            *sum.faults.entry(k.clone()).or_default() += v;
        }
        for (k, v) in &r.outcomes {
            *sum.outcomes.entry(k.clone()).or_default() += *v as u64;
        }
        sum.violations += r.violations.len() as u64;
        failures.push_str(&explain(&r));
    }
    assert!(failures.is_empty(), "{failures}");
    sum
}

#[derive(Debug, Default)]
struct Summary {
    sagas: u64,
    events: u64,
    restarts: u64,
    dead_letters: u64,
    violations: u64,
    faults: BTreeMap<String, u64>,
    outcomes: BTreeMap<String, u64>,
}

#[test]
fn thirty_seeds_of_twenty_trips_under_default_faults_keep_every_invariant() {
    let sum = sweep(1, 30, 20, Some(FaultRates::DEFAULT));
    eprintln!("{sum:#?}");
    assert_eq!(sum.sagas, 600);
    assert_eq!(sum.violations, 0);
    // The defaults exercise every kind of fault over this many sagas.
    for kind in [
        "duplicate delivery",
        "delayed delivery",
        "transient store error",
        "failed compensation",
        "transient publish error",
        "lost callback",
        "workflow putEvents error",
        "handler crash mid-batch",
        "process crash and restart",
    ] {
        assert!(
            sum.faults.get(kind).copied().unwrap_or(0) > 0,
            "no {kind} injected: {:?}",
            sum.faults
        );
    }
    for class in ["booked", "failed", "rejected"] {
        assert!(sum.outcomes.get(class).copied().unwrap_or(0) > 0, "{class}");
    }
}

#[test]
fn without_faults_every_trip_ends_as_its_kind_says() {
    // The faultless run also checks the exact failed step of each kind and that capacity
    // races fill their capacity exactly.
    sweep(100, 10, 20, Some(FaultRates::NONE));
}

#[test]
fn the_same_seed_gives_the_same_event_log() {
    let o = SimOptions::new(4242, 25);
    let a = simulate(&o).unwrap();
    let b = simulate(&o).unwrap();
    assert!(a.ok(), "{}", explain(&a));
    assert!(a.faults_total > 0);
    assert_eq!(a.log_digest, b.log_digest);
    assert_eq!(a.events, b.events);
    assert_eq!(a.faults, b.faults);
    assert_eq!(a.virtual_ms, b.virtual_ms);
    let c = simulate(&SimOptions::new(4243, 25)).unwrap();
    assert_ne!(a.log_digest, c.log_digest, "another seed, another run");
}

#[test]
fn process_crashes_really_restart_from_the_store() {
    let mut rates = FaultRates::DEFAULT;
    rates.process_crash = 0.05;
    let mut o = SimOptions::new(7, 15);
    o.faults = Some(rates);
    let r = simulate(&o).unwrap();
    assert!(r.ok(), "{}", explain(&r));
    assert!(r.restarts > 0, "no restart happened");
    assert_eq!(
        r.faults.get("process crash and restart").copied(),
        Some(r.restarts),
        "each crash is counted once"
    );
}

#[test]
fn a_kept_store_can_be_inspected_and_is_not_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sim.db");
    let mut o = SimOptions::new(3, 5);
    o.store = Some(path.clone());
    let r = simulate(&o).unwrap();
    assert!(r.ok(), "{}", explain(&r));
    assert!(path.exists());
    assert!(simulate(&o).is_err(), "an existing store is refused");
}

/// The long soak: `SIM_SEEDS`, `SIM_TRIPS`, `SIM_FIRST_SEED` choose its size.
#[test]
#[ignore = "long soak; run with --ignored (see BENCHMARKS.md)"]
fn soak() {
    let seeds = env_or("SIM_SEEDS", 300);
    let trips = env_or("SIM_TRIPS", 50) as usize;
    let first = env_or("SIM_FIRST_SEED", 1);
    let started = std::time::Instant::now();
    let sum = sweep(first, seeds, trips, Some(FaultRates::DEFAULT));
    eprintln!(
        "soak: seeds {first}..{} x {trips} trips in {:.1}s\n{sum:#?}",
        first + seeds,
        started.elapsed().as_secs_f64()
    );
}

/// Found by `trip simulate --seed 1 --trips 20 --faults none --rate-workflow-publish-error 0.5`:
/// when the workflow's `events:putEvents` keeps failing (an EventBridge outage of ~30 s),
/// `NotifyTripBookingFailed` (and `NotifyTripBooked`) give up after 5 retries and the execution
/// fails with no final event at all: the client never hears how its trip ended (here
/// sim-1-0012). The BookX steps also retry only `Trip.TransientError`, so an
/// `EventBridge.InternalException` while asking for a booking compensates the trip instead of
/// retrying forward. Both are in workflow/trip-saga.asl.json; ignored until fixed there.
#[test]
fn known_bug_every_trip_hears_its_outcome_through_a_bus_outage() {
    let mut rates = FaultRates::NONE;
    rates.workflow_publish_error = 0.5;
    let mut o = SimOptions::new(1, 20);
    o.faults = Some(rates);
    let r = simulate(&o).unwrap();
    assert!(r.ok(), "{}", explain(&r));
}

#[test]
fn a_violation_names_its_trip_its_events_and_the_command_that_reruns_it() {
    use trip_local::simulate::{check, plan};
    use trip_local::{ClockChoice, Runtime, RuntimeOptions};
    let options = SimOptions::new(9, 3);
    let plan = plan(9, 3);
    let mut rt = Runtime::open(RuntimeOptions {
        clock: ClockChoice::Virtual {
            start_ms: trip_local::simulate::SIM_START_MS,
        },
        seed: 9,
        ..RuntimeOptions::default()
    })
    .unwrap();
    for a in &plan.arrivals {
        rt.put_events(&a.entries).unwrap();
    }
    rt.run_until_idle(None, |_| true).unwrap();
    assert_eq!(check(&rt, &plan, &options, true), vec![]);
    // A message nobody consumed: the run is not accounted for.
    rt.send_raw("car", "{}").unwrap();
    let v = check(&rt, &plan, &options, true);
    assert_eq!(v.len(), 1, "{v:#?}");
    assert_eq!(v[0].invariant, "no message is left unaccounted for");
    assert_eq!(v[0].seed, 9);
    assert_eq!(
        v[0].rerun,
        "trip simulate --seed 9 --trips 3 --faults default"
    );
    assert!(!v[0].trace.is_empty() && v[0].trace.len() == v[0].events.len());
    assert!(
        v[0].events[0].get("delivery").is_some(),
        "trip export lines"
    );
}

/// Runs the outcome property over seeds; panics with every mismatch and violation.
fn property_sweep(first: u64, seeds: u64, trips: usize) -> (u64, BTreeMap<String, u64>) {
    let mut sagas = 0;
    let mut faults: BTreeMap<String, u64> = BTreeMap::new();
    let mut failures = String::new();
    for seed in first..first + seeds {
        let r: PropertyReport = outcome_property(seed, trips, FaultRates::DEFAULT)
            .unwrap_or_else(|e| panic!("seed {seed}: {e}"));
        sagas += r.trips as u64;
        for (k, v) in &r.faults {
            *faults.entry(k.clone()).or_default() += v;
        }
        for m in &r.mismatches {
            failures.push_str(&format!(
                "seed {} {}: fault-free {}, with faults {}\n  rerun: {}\n",
                m.seed, m.trip_id, m.faultless, m.with_faults, m.rerun
            ));
        }
        for v in &r.violations {
            failures.push_str(&format!(
                "seed {} trip {} [{}]: {}\n",
                v.seed, v.trip_id, v.invariant, v.detail
            ));
        }
    }
    assert!(failures.is_empty(), "{failures}");
    (sagas, faults)
}

/// Issue 13: with only transient faults, at the stack's own timings (the runtime reads the
/// routing table and the ASL file as they are), every trip ends as it does without faults.
/// Before the retry budgets agreed (120 s waits, 5 x 60 s of SQS redelivery, no retry of a
/// lost answer), two consecutive transient store errors or one lost callback compensated a
/// trip that would have booked.
#[test]
fn with_only_transient_faults_every_trip_ends_as_it_does_without_them() {
    let (sagas, faults) = property_sweep(0, env_or("SIM_PROPERTY_SEEDS", 8), 30);
    assert!(sagas >= 240);
    // the faults that used to change outcomes were really injected
    for kind in [
        "lost callback",
        "transient store error",
        "failed compensation",
    ] {
        assert!(
            faults.get(kind).copied().unwrap_or(0) > 0,
            "{kind}: {faults:?}"
        );
    }
}

#[test]
#[ignore = "soak: run with --ignored (see the module docs)"]
fn outcome_soak() {
    let seeds = env_or("SIM_SEEDS", 1000);
    let trips = env_or("SIM_TRIPS", 100) as usize;
    let started = std::time::Instant::now();
    let (sagas, faults) = property_sweep(env_or("SIM_FIRST_SEED", 0), seeds, trips);
    let total: u64 = faults.values().sum();
    println!(
        "outcome property: {sagas} sagas over {seeds} seeds, {total} faults {faults:?}, 0 mismatches, {:.0} s",
        started.elapsed().as_secs_f64()
    );
}
