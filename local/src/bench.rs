//! `trip bench`: completed sagas per second and saga latency through the embedded runtime.
//!
//! Trips are generated so that the happy path never runs out of inventory (each day gets a
//! handful of trips), and a chosen share fails for real business reasons (a sold-out hotel, a
//! full flight, no car of the class), spread over the three steps, so compensations run.
//!
//! Two load shapes: closed loop (`concurrency` sagas in flight, a new one put as one ends) for
//! throughput, and open loop (`rate` sagas per second on a fixed schedule, latency measured from
//! the scheduled time, so a slow runtime cannot hide its queueing) for latency at a given load.
//!
//! A saga is completed when its outcome is on disk (with the durable store, the commit holding
//! its final event has landed), not merely decided in memory: that is when a client could be
//! told.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use chrono::{Duration as Days, NaiveDate};
use serde::Serialize;
use serde_json::json;
use trip_events::PutEventsEntry;

use crate::runtime::{ClockChoice, Runtime, RuntimeError, RuntimeOptions, TripOutcome};

#[derive(Debug, Clone)]
pub struct BenchOptions {
    pub trips: usize,
    /// Closed loop: sagas in flight at once.
    pub concurrency: usize,
    /// Open loop: sagas started per second (overrides `concurrency`).
    pub rate: Option<f64>,
    /// Share of trips that fail and compensate (0.0 to 1.0).
    pub failure_rate: f64,
    /// The store file (durable); `None` runs in memory.
    pub store: Option<PathBuf>,
    pub seed: u64,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct BenchResult {
    pub trips: usize,
    pub completed: usize,
    pub booked: usize,
    pub failed: usize,
    pub durable: bool,
    pub concurrency: Option<usize>,
    pub rate: Option<f64>,
    pub elapsed_s: f64,
    pub sagas_per_s: f64,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
    pub commits: u64,
    pub events: usize,
    pub invariant_violations: usize,
}

/// One trip request; trip `i` travels on day `i / 5` so inventory never runs out on the happy
/// path. `fail_at` picks the step that fails for a business reason.
pub fn trip_entry(prefix: &str, i: usize, fail_at: Option<usize>) -> PutEventsEntry {
    let base = NaiveDate::from_ymd_opt(2031, 1, 1).unwrap_or_default();
    let day = base + Days::days((i / 5) as i64);
    let next = day + Days::days(1);
    let hotels = ["HTL-NYC-HUDSON", "HTL-CDG-AEROPORT", "HTL-FNC-MARINA"];
    let classes = ["economy", "compact", "midsize", "fullsize", "suv", "van"];
    let (hotel, from, to, location, class) = match fail_at {
        Some(0) => ("HTL-PAR-LOUVRE", "JFK", "CDG", "CDG", "economy"),
        Some(1) => ("HTL-FNC-MARINA", "LIS", "FNC", "FNC", "economy"),
        Some(_) => ("HTL-NYC-HUDSON", "JFK", "LIS", "LIS", "luxury"),
        None => (
            hotels[i % hotels.len()],
            "JFK",
            "LIS",
            "JFK",
            classes[i % classes.len()],
        ),
    };
    let detail = json!({
        "tripId": format!("{prefix}-{i:07}"),
        "traveller": {"firstName": "Bench", "lastName": format!("Traveller {i}"), "email": "bench@example.com"},
        "hotel": {"hotelId": hotel, "checkIn": day.to_string(), "checkOut": next.to_string(), "guests": 1},
        "flight": {"from": from, "to": to, "departure": format!("{day}T06:00:00Z"), "passengers": 1},
        "car": {"pickUpLocation": location, "pickUpAt": format!("{day}T12:00:00Z"), "dropOffAt": format!("{next}T12:00:00Z"), "carClass": class},
        "metadata": {"schemaVersion": "1", "correlationId": format!("bench-{i}")}
    });
    PutEventsEntry {
        source: trip_events::source::CLIENT.to_owned(),
        detail_type: "TripBookingRequested".to_owned(),
        detail: detail.to_string(),
        event_bus_name: Some(trip_events::DEFAULT_BUS_NAME.to_owned()),
        time: None,
        resources: Vec::new(),
        trace_header: None,
    }
}

/// The trips of a run: every `1/failure_rate`-th trip fails, at the hotel, flight and car in
/// turn.
pub fn generate(prefix: &str, n: usize, failure_rate: f64) -> Vec<PutEventsEntry> {
    let mut failures = 0usize;
    (0..n)
        .map(|i| {
            let due = ((i + 1) as f64 * failure_rate).floor() as usize;
            let fail_at = (due > failures).then(|| {
                failures += 1;
                failures % 3
            });
            trip_entry(prefix, i, fail_at)
        })
        .collect()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn trip_id_of(entry: &PutEventsEntry) -> String {
    serde_json::from_str::<serde_json::Value>(&entry.detail)
        .ok()
        .and_then(|d| d.get("tripId")?.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Runs one benchmark.
pub fn run(options: &BenchOptions) -> Result<BenchResult, RuntimeError> {
    let mut rt = Runtime::open(RuntimeOptions {
        store: options.store.clone(),
        clock: ClockChoice::Wall { fast_forward: true },
        seed: options.seed,
        ..RuntimeOptions::default()
    })?;
    let prefix = format!("bench{:x}", options.seed & 0xffff);
    let entries = generate(&prefix, options.trips, options.failure_rate);
    let ids: Vec<String> = entries.iter().map(trip_id_of).collect();

    let start = Instant::now();
    let mut started: HashMap<usize, Instant> = HashMap::new();
    // Finished in memory, waiting for the step that finished them to reach the disk: a saga
    // counts as completed only once its outcome is durable.
    let mut finishing: Vec<(u64, Instant)> = Vec::new();
    let mut latencies = Vec::with_capacity(entries.len());
    let mut next = 0;
    let mut stats = crate::runtime::RunStats::default();
    while latencies.len() < entries.len() {
        // Start what the load shape allows (closed loop: a new saga for each one finished).
        let allowed = match options.rate {
            Some(rate) => {
                let due = (start.elapsed().as_secs_f64() * rate).floor() as usize + 1;
                due.min(entries.len())
            }
            // A saga is in flight until its client learns it is durably finished.
            None => (latencies.len() + options.concurrency.max(1)).min(entries.len()),
        };
        if allowed > next {
            // PutEvents takes at most 10 entries a call; the puts are pipelined like the
            // steps (a saga cannot finish durably before its request is durable).
            for chunk in entries[next..allowed].chunks(10) {
                rt.submit_events(chunk)?;
            }
            for i in next..allowed {
                let at = match options.rate {
                    // Open loop: latency counts from when the trip was due, not when the loop
                    // got round to it.
                    Some(rate) => start + Duration::from_secs_f64(i as f64 / rate),
                    None => Instant::now(),
                };
                started.insert(i, at);
            }
            next = allowed;
        }
        let progressed = rt.step(&mut stats)?;
        let ticket = rt.last_ticket();
        let done: Vec<usize> = started
            .keys()
            .copied()
            .filter(|&i| rt.trip_finished(&ids[i]))
            .collect();
        for i in done {
            if let Some(at) = started.remove(&i) {
                finishing.push((ticket, at));
            }
        }
        let idle = !progressed && started.is_empty();
        if !progressed && !finishing.is_empty() {
            // Nothing to run but commits to wait for.
            rt.sync()?;
        }
        let durable = rt.durable_ticket();
        let now = Instant::now();
        finishing.retain(|&(t, at)| {
            if t <= durable {
                latencies.push(now.saturating_duration_since(at).as_secs_f64() * 1000.0);
                false
            } else {
                true
            }
        });
        if idle && next >= entries.len() && finishing.is_empty() {
            break;
        }
        if idle && options.rate.is_some() {
            std::thread::sleep(Duration::from_micros(200));
        } else if !progressed && let Some(due) = rt.next_due() {
            rt.clock().skip_to(due);
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let mut booked = 0;
    let mut failed = 0;
    for id in &ids {
        match rt.trip_outcome(id) {
            Some(TripOutcome::Booked) => booked += 1,
            Some(TripOutcome::Failed { .. }) => failed += 1,
            _ => {}
        }
    }
    Ok(BenchResult {
        trips: entries.len(),
        completed: latencies.len(),
        booked,
        failed,
        durable: rt.is_durable(),
        concurrency: options.rate.is_none().then_some(options.concurrency),
        rate: options.rate,
        elapsed_s: elapsed,
        sagas_per_s: latencies.len() as f64 / elapsed.max(1e-9),
        p50_ms: percentile(&latencies, 50.0),
        p99_ms: percentile(&latencies, 99.0),
        max_ms: latencies.last().copied().unwrap_or(0.0),
        commits: rt.commits(),
        events: rt.log().len(),
        invariant_violations: rt.check_invariants().len(),
    })
}

/// The floor under the durable runtime: the cost of only the writes a saga cannot do without,
/// group-committed the way the runtime commits them. Per saga: the execution record at each of
/// its 8 transitions and waits (about 2 KB each), its 7 messages (sent, then deleted), 3
/// bookings and 6 inventory levels, and 8 event-log rows (about 600 bytes each). Returns
/// sagas per second.
pub fn store_floor(
    path: &std::path::Path,
    trips: usize,
    sagas_per_commit: usize,
) -> Result<f64, RuntimeError> {
    let mut store = crate::store::Store::open(path)?;
    let record = vec![b'x'; 2048];
    let message = vec![b'm'; 200];
    let booking = vec![b'b'; 250];
    let envelope = "e".repeat(600);
    let start = Instant::now();
    let mut seq = 0i64;
    for i in 0..trips {
        for step in 0..8 {
            store.put("exec", format!("arn:{i:09}"), record.clone());
            seq += 1;
            store.append_log(crate::store::LogRow {
                seq,
                event_id: format!("{seq:012}"),
                trip_id: Some(format!("t{i:09}")),
                source: "trip.saga".into(),
                detail_type: "X".into(),
                put_at: step,
                delivered_at: None,
                rules: vec![],
                envelope: envelope.clone(),
            });
        }
        for m in 0..7 {
            store.put("msg", format!("q/{i:09}-{m}"), message.clone());
        }
        for b in 0..3 {
            store.put("booking", format!("TRIP#{i:09}|{b}"), booking.clone());
        }
        for k in 0..6 {
            store.put("inventory", format!("INV#{}#{k}", i / 5), message.clone());
        }
        if (i + 1) % sagas_per_commit.max(1) == 0 {
            store.commit()?;
            // The messages are consumed a commit later.
            for j in (i + 1).saturating_sub(sagas_per_commit.max(1))..=i {
                for m in 0..7 {
                    store.delete("msg", format!("q/{j:09}-{m}"));
                }
            }
        }
    }
    let rest = trips % sagas_per_commit.max(1);
    for j in trips - rest..trips {
        for m in 0..7 {
            store.delete("msg", format!("q/{j:09}-{m}"));
        }
    }
    store.commit()?;
    store.sync()?;
    Ok(trips as f64 / start.elapsed().as_secs_f64().max(1e-9))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_rate_is_honoured_and_spread_over_the_steps() {
        let trips = generate("t", 100, 0.3);
        let failing: Vec<&str> = trips
            .iter()
            .filter_map(|e| {
                let d: serde_json::Value = serde_json::from_str(&e.detail).ok()?;
                let hotel = d["hotel"]["hotelId"].as_str()?;
                let to = d["flight"]["to"].as_str()?;
                let class = d["car"]["carClass"].as_str()?;
                match (hotel, to, class) {
                    ("HTL-PAR-LOUVRE", _, _) => Some("hotel"),
                    (_, "FNC", _) => Some("flight"),
                    (_, _, "luxury") => Some("car"),
                    _ => None,
                }
            })
            .collect();
        assert_eq!(failing.len(), 30);
        for step in ["hotel", "flight", "car"] {
            assert_eq!(failing.iter().filter(|s| **s == step).count(), 10, "{step}");
        }
    }

    #[test]
    fn the_store_floor_writes_what_a_saga_keeps_and_deletes_its_messages() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("floor.db");
        assert!(store_floor(&path, 10, 5).unwrap() > 0.0);
        let s = crate::store::Store::open(&path).unwrap();
        assert_eq!(s.load("exec").unwrap().len(), 10);
        assert_eq!(s.load("booking").unwrap().len(), 30);
        assert!(s.load("msg").unwrap().is_empty());
        assert_eq!(s.read_log(0, None, 1000).unwrap().len(), 80);
    }

    #[test]
    fn percentiles_pick_the_nearest_rank() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }

    #[test]
    fn a_small_run_completes_every_saga_with_the_right_outcomes() {
        let dir = tempfile::tempdir().unwrap();
        for store in [None, Some(dir.path().join("bench.db"))] {
            let durable = store.is_some();
            let r = run(&BenchOptions {
                trips: 60,
                concurrency: 16,
                rate: None,
                failure_rate: 0.3,
                store,
                seed: 1,
            })
            .unwrap();
            assert_eq!(r.durable, durable);
            assert_eq!(r.completed, 60);
            assert_eq!((r.booked, r.failed), (42, 18));
            assert_eq!(r.invariant_violations, 0);
            assert!(r.p50_ms <= r.p99_ms && r.p99_ms <= r.max_ms);
        }
        // Open loop, durable: every saga still completes (on disk) before the run ends.
        let r = run(&BenchOptions {
            trips: 40,
            concurrency: 0,
            rate: Some(400.0),
            failure_rate: 0.0,
            store: Some(dir.path().join("open.db")),
            seed: 2,
        })
        .unwrap();
        assert_eq!((r.completed, r.booked), (40, 40));
    }
}
