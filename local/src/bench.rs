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
    pub durability: crate::store::Durability,
    pub shape: TripShape,
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
    /// `full` (fsync per commit) or `normal`; empty in memory.
    pub durability: String,
    pub shape: TripShape,
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

/// The trips a run books.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum TripShape {
    /// The README's sample (`events/samples/book-trip.json`): 4 hotel nights, a return flight
    /// for 2 passengers and a 4-day car: 10 inventory holds.
    #[default]
    Readme,
    /// The cheapest trip: 1 night, a one-way flight for 1, a 1-day car: 3 holds.
    Small,
}

impl TripShape {
    /// Nights, and days of car rental.
    fn days(self) -> i64 {
        match self {
            TripShape::Readme => 4,
            TripShape::Small => 1,
        }
    }

    /// Inventory keys one trip holds.
    pub fn holds(self) -> usize {
        match self {
            TripShape::Readme => 10,
            TripShape::Small => 3,
        }
    }
}

impl std::str::FromStr for TripShape {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "readme" => Ok(TripShape::Readme),
            "small" => Ok(TripShape::Small),
            _ => Err(format!("{s:?}: expected readme or small")),
        }
    }
}

impl std::fmt::Display for TripShape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TripShape::Readme => "readme",
            TripShape::Small => "small",
        })
    }
}

/// One trip request; trip `i` travels on day `i / 5` so inventory never runs out on the happy
/// path (with the README shape, 5 trips a day staying 4 nights over 3 hotels take at most 8
/// rooms a night, and 20 cars over 6 classes at most 4 of a class a day). `fail_at` picks the
/// step that fails for a business reason.
pub fn trip_entry(
    prefix: &str,
    i: usize,
    fail_at: Option<usize>,
    shape: TripShape,
) -> PutEventsEntry {
    let base = NaiveDate::from_ymd_opt(2031, 1, 1).unwrap_or_default();
    let day = base + Days::days((i / 5) as i64);
    let end = day + Days::days(shape.days());
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
    let mut flight =
        json!({"from": from, "to": to, "departure": format!("{day}T06:00:00Z"), "passengers": 1});
    let mut guests = 1;
    if shape == TripShape::Readme {
        flight["return"] = json!(format!("{end}T11:00:00Z"));
        flight["passengers"] = json!(2);
        guests = 2;
    }
    let detail = json!({
        "tripId": format!("{prefix}-{i:07}"),
        "traveller": {"firstName": "Bench", "lastName": format!("Traveller {i}"), "email": "bench@example.com"},
        "hotel": {"hotelId": hotel, "checkIn": day.to_string(), "checkOut": end.to_string(), "guests": guests},
        "flight": flight,
        "car": {"pickUpLocation": location, "pickUpAt": format!("{day}T12:00:00Z"), "dropOffAt": format!("{end}T12:00:00Z"), "carClass": class},
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
pub fn generate(
    prefix: &str,
    n: usize,
    failure_rate: f64,
    shape: TripShape,
) -> Vec<PutEventsEntry> {
    let mut failures = 0usize;
    (0..n)
        .map(|i| {
            let due = ((i + 1) as f64 * failure_rate).floor() as usize;
            let fail_at = (due > failures).then(|| {
                failures += 1;
                failures % 3
            });
            trip_entry(prefix, i, fail_at, shape)
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

/// The longest an open-loop run may spend starting its sagas.
pub const MAX_SCHEDULE_S: f64 = 3600.0;

impl BenchOptions {
    /// Refuses what would panic or never end: a rate that is not a positive finite number, or
    /// so low that starting the trips would take longer than [`MAX_SCHEDULE_S`].
    pub fn check(&self) -> Result<(), String> {
        if !(0.0..=1.0).contains(&self.failure_rate) {
            return Err(format!(
                "--failure-rate {}: a share from 0 to 1",
                self.failure_rate
            ));
        }
        let Some(rate) = self.rate else {
            return Ok(());
        };
        if !rate.is_finite() || rate <= 0.0 {
            return Err(format!(
                "--rate {rate}: sagas per second must be a positive number"
            ));
        }
        let schedule = self.trips.saturating_sub(1) as f64 / rate;
        if schedule > MAX_SCHEDULE_S {
            return Err(format!(
                "--rate {rate} would take {schedule:.3e} s to start {} trips; a run starts them \
                 within {MAX_SCHEDULE_S} s: raise --rate or lower --trips",
                self.trips
            ));
        }
        Ok(())
    }
}

/// Runs one benchmark.
pub fn run(options: &BenchOptions) -> Result<BenchResult, RuntimeError> {
    options.check().map_err(RuntimeError::InvalidOption)?;
    let mut rt = Runtime::open(RuntimeOptions {
        store: options.store.clone(),
        clock: ClockChoice::Wall { fast_forward: true },
        seed: options.seed,
        durability: options.durability,
        ..RuntimeOptions::default()
    })?;
    let prefix = format!("bench{:x}", options.seed & 0xffff);
    let entries = generate(&prefix, options.trips, options.failure_rate, options.shape);
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
        durability: if rt.is_durable() {
            options.durability.to_string()
        } else {
            String::new()
        },
        shape: options.shape,
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

/// Transitions and waits of one saga on the happy path, each a runtime step of its own.
pub const FLOOR_STEPS: usize = 8;

/// What [`store_floor`] measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Floor {
    pub sagas_per_s: f64,
    /// Rows the store's writer wrote (after coalescing): every one the floor says it writes.
    pub rows: u64,
    pub commits: u64,
}

/// The floor under the durable runtime: the cost of only the writes a saga cannot do without,
/// group-committed the way the runtime commits them. A saga takes [`FLOOR_STEPS`] steps, one
/// a commit, and `sagas_per_commit` sagas start at each commit (so a commit carries one step
/// of each saga in flight, as the runtime's does; each commit is waited for, so the time is
/// the store's alone). Per saga: its execution record at each
/// step (about 2 KB), one event-log row per step (about 600 bytes), 7 messages (sent at one
/// step, deleted at the next), 3 bookings and one inventory level per hold of `shape`, each
/// key its own so that nothing is coalesced away.
pub fn store_floor(
    path: &std::path::Path,
    trips: usize,
    sagas_per_commit: usize,
    shape: TripShape,
    durability: crate::store::Durability,
) -> Result<Floor, RuntimeError> {
    let mut store = crate::store::Store::open_with(path, durability)?;
    let batch = sagas_per_commit.max(1);
    let record = vec![b'x'; 2048];
    let message = vec![b'm'; 200];
    let booking = vec![b'b'; 250];
    let level = vec![b'l'; 120];
    let envelope = "e".repeat(600);
    // The holds of each booking step (hotel, flight, car), e.g. 4 + 2 + 4 for the README trip.
    let holds = match shape {
        TripShape::Readme => [4, 2, 4],
        TripShape::Small => [1, 1, 1],
    };
    let start = Instant::now();
    let mut seq = 0i64;
    let commits = trips.div_ceil(batch) + FLOOR_STEPS - 1;
    for c in 0..commits {
        let first = c.saturating_sub(FLOOR_STEPS - 1) * batch;
        let last = ((c + 1) * batch).min(trips);
        for i in first..last {
            let step = c - i / batch;
            if step >= FLOOR_STEPS {
                continue;
            }
            store.put("exec", format!("arn:{i:09}"), record.clone());
            seq += 1;
            store.append_log(crate::store::LogRow {
                seq,
                event_id: format!("{seq:012}"),
                trip_id: Some(format!("t{i:09}")),
                source: "trip.saga".into(),
                detail_type: "X".into(),
                put_at: step as i64,
                delivered_at: None,
                rules: vec![],
                envelope: envelope.clone(),
            });
            if step > 0 {
                store.delete("msg", format!("q/{i:09}-{}", step - 1));
            }
            if step < FLOOR_STEPS - 1 {
                store.put("msg", format!("q/{i:09}-{step}"), message.clone());
            }
            // Steps 1, 3 and 5 answer the hotel, flight and car commands.
            if let Some(b) = [1, 3, 5].iter().position(|&s| s == step) {
                store.put("booking", format!("TRIP#{i:09}|{b}"), booking.clone());
                for k in 0..holds[b] {
                    store.put("inventory", format!("INV#{i:09}#{b}#{k}"), level.clone());
                }
            }
        }
        // Each step its own transaction (the writer folding steps that queue up would
        // coalesce a saga's execution records into one write, and measure less than this
        // says).
        store.commit()?;
        store.sync()?;
    }
    Ok(Floor {
        sagas_per_s: trips as f64 / start.elapsed().as_secs_f64().max(1e-9),
        rows: store.rows_written(),
        commits: store.commits(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_failure_rate_is_honoured_and_spread_over_the_steps() {
        let trips = generate("t", 100, 0.3, TripShape::Small);
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
    fn the_store_floor_writes_every_row_it_says_it_writes() {
        let dir = tempfile::tempdir().unwrap();
        for (shape, holds) in [(TripShape::Readme, 10), (TripShape::Small, 3)] {
            let path = dir.path().join(format!("floor-{shape}.db"));
            let floor = store_floor(&path, 10, 5, shape, crate::store::Durability::Full).unwrap();
            assert!(floor.sagas_per_s > 0.0);
            // Per saga: 8 execution-record writes, 8 log rows, 7 message puts and 7 deletes,
            // 3 bookings and one level per hold, none folded into another by coalescing.
            let per_saga = 8 + 8 + 7 + 7 + 3 + holds;
            assert_eq!(floor.rows, 10 * per_saga, "{shape}");
            // One commit per step of the pipeline: 2 batches of 5, 8 steps each.
            assert_eq!(floor.commits, 2 + 8 - 1, "{shape}");
            let s = crate::store::Store::open(&path).unwrap();
            assert_eq!(s.load("exec").unwrap().len(), 10);
            assert_eq!(s.load("booking").unwrap().len(), 30);
            assert_eq!(s.load("inventory").unwrap().len(), 10 * holds as usize);
            assert!(s.load("msg").unwrap().is_empty());
            assert_eq!(s.read_log(0, None, 1000).unwrap().len(), 80);
        }
    }

    #[test]
    fn rates_that_would_panic_or_never_end_are_refused_before_the_run() {
        let base = BenchOptions {
            trips: 2000,
            concurrency: 16,
            rate: None,
            failure_rate: 0.0,
            store: None,
            durability: crate::store::Durability::Full,
            shape: TripShape::Small,
            seed: 1,
        };
        for rate in [
            0.0,
            -1.0,
            f64::NAN,
            f64::INFINITY,
            f64::NEG_INFINITY,
            1e-300,
            0.5,
        ] {
            let o = BenchOptions {
                rate: Some(rate),
                ..base.clone()
            };
            let err = run(&o).expect_err(&format!("--rate {rate} was run"));
            assert!(err.to_string().contains("--rate"), "{rate}: {err}");
        }
        for share in [-0.1, 1.5, f64::NAN] {
            let o = BenchOptions {
                failure_rate: share,
                ..base.clone()
            };
            assert!(run(&o).is_err(), "--failure-rate {share}");
        }
        // A slow rate over few trips is fine: 3 trips at 2 a second start within 1 s.
        let o = BenchOptions {
            trips: 3,
            rate: Some(2.0),
            ..base
        };
        assert_eq!(run(&o).unwrap().completed, 3);
    }

    #[test]
    fn the_readme_shape_holds_ten_units_and_the_small_one_three() {
        for (shape, holds) in [(TripShape::Readme, 10), (TripShape::Small, 3)] {
            let e = trip_entry("s", 0, None, shape);
            let d: serde_json::Value = serde_json::from_str(&e.detail).unwrap();
            let req: trip_events::TripBookingRequested = serde_json::from_value(d).unwrap();
            let planned: usize = [
                trip_booking::inventory::plan_hotel(&req.hotel)
                    .unwrap()
                    .holds
                    .len(),
                trip_booking::inventory::plan_flight(&req.flight)
                    .unwrap()
                    .holds
                    .len(),
                trip_booking::inventory::plan_car(&req.car)
                    .unwrap()
                    .holds
                    .len(),
            ]
            .iter()
            .sum();
            assert_eq!(planned, holds, "{shape}");
            assert_eq!(shape.holds(), holds);
        }
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
                durability: crate::store::Durability::Full,
                shape: TripShape::Readme,
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
            durability: crate::store::Durability::Normal,
            shape: TripShape::Small,
            seed: 2,
        })
        .unwrap();
        assert_eq!((r.completed, r.booked), (40, 40));
    }
}
