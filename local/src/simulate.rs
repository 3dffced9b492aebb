//! Seeded simulation: many generated sagas through the runtime in virtual time, with faults
//! injected, then the saga's invariants checked.
//!
//! One seed decides everything — the trips generated, when they arrive, the event ids and task
//! tokens, the jitter of retries and every fault — so a run is reproduced exactly by its seed
//! (same seed, same event log). A violation comes back with the seed, the violating trip's
//! events and the command line that reruns it.
//!
//! The mix of trips exercises every path of the saga: booked; compensated at each step (the
//! sold-out HTL-PAR-LOUVRE, the full LIS->FNC flight, no luxury car at LIS); capacity races on
//! small inventories (two vans a day at LIS, two luxury cars a day at CDG); duplicate
//! `TripBookingRequested`s; invalid requests.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::Serialize;
use serde_json::{Value, json};
use trip_booking::BookingStatus;
use trip_events::{DEFAULT_BUS_NAME, PutEventsEntry, Service};
use trip_workflow::ExecutionStatus;

use crate::faults::FaultRates;
use crate::runtime::{
    ClockChoice, LoggedEvent, Runtime, RuntimeError, RuntimeOptions, TripOutcome, outcome_of,
};

/// 2030-01-01T00:00:00Z: the simulated "now"; every generated trip travels in 2031.
pub const SIM_START_MS: i64 = 1_893_456_000_000;

/// A run that has not settled after this many steps is reported (a livelock is a bug too).
pub const MAX_STEPS: u64 = 2_000_000;

/// What to simulate.
#[derive(Debug, Clone)]
pub struct SimOptions {
    pub seed: u64,
    pub trips: usize,
    /// `None`: no fault injection at all.
    pub faults: Option<FaultRates>,
    /// Keep the store here (it must not exist yet). `None`: a temporary file, removed after
    /// the run — a file all the same, so that process crashes really restart from it.
    pub store: Option<PathBuf>,
}

impl SimOptions {
    pub fn new(seed: u64, trips: usize) -> Self {
        SimOptions {
            seed,
            trips,
            faults: Some(FaultRates::DEFAULT),
            store: None,
        }
    }

    fn faultless(&self) -> bool {
        self.faults.is_none_or(|f| f == FaultRates::NONE)
    }

    /// The command line that reruns this simulation.
    pub fn rerun_command(&self) -> String {
        let faults = match self.faults {
            None => "none".to_owned(),
            Some(f) if f == FaultRates::NONE => "none".to_owned(),
            Some(f) if f == FaultRates::DEFAULT => "default".to_owned(),
            Some(f) => format!(
                "'{}'",
                serde_json::to_string(&f).unwrap_or_else(|_| "default".into())
            ),
        };
        format!(
            "trip simulate --seed {} --trips {} --faults {faults}",
            self.seed, self.trips
        )
    }
}

/// What a generated trip is meant to exercise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum TripKind {
    /// Everything available: booked (unless faults time a step out).
    Booked,
    /// HTL-PAR-LOUVRE is sold out: fails at BookHotel.
    HotelSoldOut,
    /// LIS->FNC is full: fails at BookFlight, the hotel is undone.
    FlightFull,
    /// No luxury car at LIS: fails at BookCar, flight and hotel undone.
    NoLuxuryCarAtLis,
    /// One of several trips competing for a car class with two cars a day.
    CapacityRace,
    /// A valid request sent twice.
    Duplicate,
    /// An invalid request: rejected with its reasons.
    Invalid,
}

impl TripKind {
    pub fn name(self) -> &'static str {
        match self {
            TripKind::Booked => "booked",
            TripKind::HotelSoldOut => "hotel-sold-out",
            TripKind::FlightFull => "flight-full",
            TripKind::NoLuxuryCarAtLis => "no-luxury-car-at-lis",
            TripKind::CapacityRace => "capacity-race",
            TripKind::Duplicate => "duplicate",
            TripKind::Invalid => "invalid",
        }
    }

    /// The step a trip of this kind must fail at (when no fault intervenes first).
    fn fails_at(self) -> Option<&'static str> {
        match self {
            TripKind::HotelSoldOut => Some("BookHotel"),
            TripKind::FlightFull => Some("BookFlight"),
            TripKind::NoLuxuryCarAtLis => Some("BookCar"),
            _ => None,
        }
    }
}

/// One generated trip.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PlannedTrip {
    pub trip_id: String,
    pub kind: TripKind,
    /// Race group, for capacity races.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub race: Option<usize>,
    pub request: Value,
}

/// Requests put on the bus together, at one virtual time.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at_ms: i64,
    pub entries: Vec<PutEventsEntry>,
}

/// Everything a seed generates.
#[derive(Debug, Clone)]
pub struct SimPlan {
    pub trips: Vec<PlannedTrip>,
    pub arrivals: Vec<Arrival>,
    /// Race group -> (inventory resource, capacity per day).
    pub races: BTreeMap<usize, (&'static str, u32)>,
}

/// splitmix64: small, seedable, good enough to pick trips.
#[derive(Debug, Clone)]
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next() % n }
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Where a valid trip can go: flight route, hotel, car location and its classes.
struct Destination {
    from: &'static str,
    to: &'static str,
    hotel: &'static str,
    car_at: &'static str,
    classes: &'static [&'static str],
}

const DESTINATIONS: &[Destination] = &[
    Destination {
        from: "JFK",
        to: "LIS",
        hotel: "HTL-LIS-ALFAMA",
        car_at: "LIS",
        classes: &["economy", "compact", "midsize", "suv"],
    },
    Destination {
        from: "JFK",
        to: "CDG",
        hotel: "HTL-CDG-AEROPORT",
        car_at: "CDG",
        classes: &["economy", "compact", "midsize", "fullsize"],
    },
    Destination {
        from: "LIS",
        to: "JFK",
        hotel: "HTL-NYC-HUDSON",
        car_at: "JFK",
        classes: &["economy", "compact", "suv", "luxury", "van"],
    },
];

fn day(offset: u64) -> chrono::NaiveDate {
    // 2031-01-05 + offset days: well after the simulated "now".
    chrono::NaiveDate::from_ymd_opt(2031, 1, 5).unwrap_or_default()
        + chrono::Duration::days(offset as i64)
}

struct TripShape<'a> {
    trip_id: &'a str,
    from: &'a str,
    to: &'a str,
    hotel: &'a str,
    car_at: &'a str,
    class: &'a str,
    day: u64,
    nights: u64,
    passengers: u64,
}

fn request(s: &TripShape<'_>) -> Value {
    let d = day(s.day);
    let back = day(s.day + s.nights);
    json!({
        "tripId": s.trip_id,
        "traveller": {"firstName": "Sim", "lastName": format!("Traveller {}", s.trip_id), "email": "sim@example.com"},
        "hotel": {"hotelId": s.hotel, "checkIn": d.to_string(), "checkOut": back.to_string(), "guests": s.passengers},
        "flight": {"from": s.from, "to": s.to, "departure": format!("{d}T08:00:00Z"), "return": format!("{back}T18:00:00Z"), "passengers": s.passengers},
        "car": {"pickUpLocation": s.car_at, "pickUpAt": format!("{d}T12:00:00Z"), "dropOffAt": format!("{back}T10:00:00Z"), "carClass": s.class},
        "metadata": {"schemaVersion": "1", "correlationId": format!("corr-{}", s.trip_id)}
    })
}

fn valid_trip(rng: &mut Rng, trip_id: &str) -> Value {
    let dest = rng.pick(DESTINATIONS);
    request(&TripShape {
        trip_id,
        from: dest.from,
        to: dest.to,
        hotel: dest.hotel,
        car_at: dest.car_at,
        class: dest.classes[rng.below(dest.classes.len() as u64) as usize],
        day: rng.below(330),
        nights: 1 + rng.below(5),
        passengers: 1 + rng.below(3),
    })
}

fn invalid_trip(rng: &mut Rng, trip_id: &str) -> Value {
    let mut r = valid_trip(rng, trip_id);
    match rng.below(7) {
        // Back before it left, like the original demo's own sample.
        0 => r["flight"]["return"] = json!("2031-01-01T00:00:00Z"),
        1 => {
            r["hotel"]["checkIn"] = json!("2029-06-10");
            r["flight"]["departure"] = json!("2029-06-09T22:15:00Z");
        }
        2 => r["flight"]["to"] = json!("lisbon"),
        3 => r["traveller"]["firstName"] = json!("   "),
        4 => r["hotel"]["minibar"] = json!(true),
        5 => r["hotel"]["guests"] = json!(0),
        _ => r["car"]["dropOffAt"] = r["car"]["pickUpAt"].clone(),
    }
    r
}

fn entry(request: &Value) -> PutEventsEntry {
    PutEventsEntry {
        source: trip_events::source::CLIENT.to_owned(),
        detail_type: "TripBookingRequested".to_owned(),
        detail: request.to_string(),
        event_bus_name: Some(DEFAULT_BUS_NAME.to_owned()),
        time: None,
        resources: Vec::new(),
        trace_header: None,
    }
}

/// The trips and arrivals a seed generates.
pub fn plan(seed: u64, trips: usize) -> SimPlan {
    let mut rng = Rng(seed ^ 0x7121_5A6A_0000_0001);
    let mut out = SimPlan {
        trips: Vec::new(),
        arrivals: Vec::new(),
        races: BTreeMap::new(),
    };
    let mut at = SIM_START_MS;
    let mut late: Vec<Arrival> = Vec::new();
    while out.trips.len() < trips {
        let i = out.trips.len();
        let trip_id = format!("sim-{seed}-{i:04}");
        at += rng.below(3_000) as i64;
        let roll = rng.below(100);
        let kind = match roll {
            0..=29 => TripKind::Booked,
            30..=39 => TripKind::HotelSoldOut,
            40..=49 => TripKind::FlightFull,
            50..=59 => TripKind::NoLuxuryCarAtLis,
            60..=74 => TripKind::CapacityRace,
            75..=86 => TripKind::Duplicate,
            _ => TripKind::Invalid,
        };
        match kind {
            TripKind::CapacityRace => {
                // Three to five trips at once, all wanting the same car class on the same day
                // where there are two.
                let group = out.races.len();
                let (to, hotel, car_at, class, resource) = if rng.below(2) == 0 {
                    ("LIS", "HTL-LIS-ALFAMA", "LIS", "van", "LIS-van")
                } else {
                    ("CDG", "HTL-CDG-AEROPORT", "CDG", "luxury", "CDG-luxury")
                };
                out.races.insert(group, (resource, 2));
                let race_day = 340 + group as u64 * 3;
                let n = (3 + rng.below(3) as usize).min(trips - i);
                let mut entries = Vec::new();
                for j in 0..n {
                    let trip_id = format!("sim-{seed}-{:04}", i + j);
                    let req = request(&TripShape {
                        trip_id: &trip_id,
                        from: "JFK",
                        to,
                        hotel,
                        car_at,
                        class,
                        day: race_day,
                        nights: 1 + rng.below(2),
                        passengers: 1,
                    });
                    entries.push(entry(&req));
                    out.trips.push(PlannedTrip {
                        trip_id,
                        kind,
                        race: Some(group),
                        request: req,
                    });
                }
                out.arrivals.push(Arrival { at_ms: at, entries });
            }
            _ => {
                let req = match kind {
                    TripKind::HotelSoldOut => request(&TripShape {
                        trip_id: &trip_id,
                        from: "JFK",
                        to: "CDG",
                        hotel: "HTL-PAR-LOUVRE",
                        car_at: "CDG",
                        class: "compact",
                        day: rng.below(330),
                        nights: 1 + rng.below(4),
                        passengers: 1 + rng.below(2),
                    }),
                    TripKind::FlightFull => request(&TripShape {
                        trip_id: &trip_id,
                        from: "LIS",
                        to: "FNC",
                        hotel: "HTL-FNC-MARINA",
                        car_at: "FNC",
                        class: "economy",
                        day: rng.below(330),
                        nights: 1 + rng.below(4),
                        passengers: 1 + rng.below(2),
                    }),
                    TripKind::NoLuxuryCarAtLis => request(&TripShape {
                        trip_id: &trip_id,
                        from: "JFK",
                        to: "LIS",
                        hotel: "HTL-LIS-ALFAMA",
                        car_at: "LIS",
                        class: "luxury",
                        day: rng.below(330),
                        nights: 1 + rng.below(4),
                        passengers: 1 + rng.below(2),
                    }),
                    TripKind::Invalid => invalid_trip(&mut rng, &trip_id),
                    _ => valid_trip(&mut rng, &trip_id),
                };
                let e = entry(&req);
                if kind == TripKind::Duplicate {
                    // The same request again: at once, a little later, or long after the saga
                    // has ended.
                    let again = match rng.below(3) {
                        0 => 0,
                        1 => 1 + rng.below(5_000) as i64,
                        _ => 600_000 + rng.below(600_000) as i64,
                    };
                    if again == 0 {
                        out.arrivals.push(Arrival {
                            at_ms: at,
                            entries: vec![e.clone(), e],
                        });
                    } else {
                        out.arrivals.push(Arrival {
                            at_ms: at,
                            entries: vec![e.clone()],
                        });
                        late.push(Arrival {
                            at_ms: at + again,
                            entries: vec![e],
                        });
                    }
                } else {
                    out.arrivals.push(Arrival {
                        at_ms: at,
                        entries: vec![e],
                    });
                }
                out.trips.push(PlannedTrip {
                    trip_id,
                    kind,
                    race: None,
                    request: req,
                });
            }
        }
    }
    out.arrivals.extend(late);
    // Stable: arrivals at the same time keep their order of generation.
    out.arrivals.sort_by_key(|a| a.at_ms);
    out
}

/// A rule of the simulation that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimViolation {
    pub seed: u64,
    pub trip_id: String,
    pub invariant: String,
    pub detail: String,
    /// The trip's events, one line each (`-`: the last events of the whole run).
    pub trace: Vec<String>,
    /// The same events as `trip export` lines (replayable with `trip replay`).
    pub events: Vec<Value>,
    pub rerun: String,
}

/// What one seed's run came to.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimReport {
    pub seed: u64,
    pub trips: usize,
    pub requests_put: usize,
    pub events: usize,
    pub steps: u64,
    pub messages_delivered: u64,
    pub records_failed: u64,
    pub virtual_ms: i64,
    pub restarts: u64,
    pub dead_letters: usize,
    /// Final outcome class -> trips.
    pub outcomes: BTreeMap<String, usize>,
    /// Kind of trip -> outcome class -> trips.
    pub by_kind: BTreeMap<String, BTreeMap<String, usize>>,
    /// Fault kind -> times injected.
    pub faults: BTreeMap<String, u64>,
    pub faults_total: u64,
    /// FNV-1a of the exported event log: equal for equal logs.
    pub log_digest: String,
    pub violations: Vec<SimViolation>,
    pub rerun: String,
}

impl SimReport {
    pub fn ok(&self) -> bool {
        self.violations.is_empty()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    #[error("the simulation store {0} already exists: remove it or choose another path")]
    StoreExists(PathBuf),
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A store file that is removed (with SQLite's WAL files) when dropped.
struct TempStore(PathBuf);

impl TempStore {
    fn new(seed: u64) -> Self {
        let n = TEMP_COUNTER.fetch_add(1, Ordering::SeqCst);
        // A RAM-backed directory where there is one: the simulation commits every step, and
        // what it tests is the restart from the file, not the disk.
        let shm = Path::new("/dev/shm");
        let dir = if shm.is_dir() && std::env::var_os("TMPDIR").is_none() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        TempStore(dir.join(format!("trip-sim-{}-{seed}-{n}.db", std::process::id())))
    }
}

impl Drop for TempStore {
    fn drop(&mut self) {
        remove_store(&self.0);
    }
}

fn remove_store(path: &Path) {
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut p = path.as_os_str().to_owned();
        p.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(p));
    }
}

/// The outcome class a final event announces.
fn class_of(o: &TripOutcome) -> &'static str {
    match o {
        TripOutcome::Booked => "booked",
        TripOutcome::Failed { .. } => "failed",
        TripOutcome::Rejected { .. } => "rejected",
        TripOutcome::Stuck { .. } => "stuck",
    }
}

/// One line of a trace: when, what, from whom, and the detail that matters.
pub fn trace_line(l: &LoggedEvent, start_ms: i64) -> String {
    let d = &l.envelope.detail;
    let mut extra = Vec::new();
    for (label, ptr) in [
        ("reason", "/reason"),
        ("failedStep", "/failedStep"),
        ("error", "/error/Error"),
        ("bookingId", "/bookingId"),
        ("wasBooked", "/wasBooked"),
    ] {
        if let Some(v) = d.pointer(ptr) {
            extra.push(format!(
                "{label}={}",
                v.as_str().map_or(v.to_string(), str::to_owned)
            ));
        }
    }
    if let Some(t) = d.pointer("/metadata/taskToken").and_then(Value::as_str) {
        let short: String = t.chars().take(12).collect();
        extra.push(format!("token={short}…"));
    }
    format!(
        "#{:<5} +{:>9}ms  {:<12} {:<28} {}  [{}]{}",
        l.seq,
        l.put_at - start_ms,
        l.envelope.source,
        l.envelope.detail_type,
        l.envelope.id,
        l.rules.join(","),
        if extra.is_empty() {
            String::new()
        } else {
            format!("  {}", extra.join(" "))
        }
    )
}

fn fnv1a(bytes: &[u8], mut h: u64) -> u64 {
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01B3);
    }
    h
}

/// A digest of the whole event log (ids, times, details, deliveries).
pub fn log_digest(rt: &Runtime) -> String {
    let mut h = 0xCBF2_9CE4_8422_2325;
    for l in rt.log() {
        h = fnv1a(l.to_export_json().to_string().as_bytes(), h);
        h = fnv1a(b"\n", h);
    }
    format!("{h:016x}")
}

/// Runs one seed.
pub fn simulate(options: &SimOptions) -> Result<SimReport, SimError> {
    simulate_keeping(options).map(|(report, _)| report)
}

/// [`simulate`], handing back the runtime too (its store is gone once the report is made,
/// unless `options.store` keeps it; what it holds in memory stays readable).
fn simulate_keeping(options: &SimOptions) -> Result<(SimReport, Runtime), SimError> {
    let (path, _guard) = match &options.store {
        Some(p) => {
            if p.exists() {
                return Err(SimError::StoreExists(p.clone()));
            }
            (p.clone(), None)
        }
        None => {
            let t = TempStore::new(options.seed);
            remove_store(&t.0);
            (t.0.clone(), Some(t))
        }
    };
    let plan = plan(options.seed, options.trips);
    let mut rt = Runtime::open(RuntimeOptions {
        store: Some(path),
        clock: ClockChoice::Virtual {
            start_ms: SIM_START_MS,
        },
        seed: options.seed,
        faults: options.faults,
        ..RuntimeOptions::default()
    })?;

    let mut steps = 0u64;
    let mut delivered = 0u64;
    let mut failed = 0u64;
    let mut requests_put = 0;
    let mut settled = true;
    for arrival in &plan.arrivals {
        let s = rt.run_until_idle(Some(arrival.at_ms), |_| true)?;
        steps += s.steps;
        delivered += s.messages_delivered;
        failed += s.records_failed;
        rt.clock().skip_to(arrival.at_ms);
        rt.put_events(&arrival.entries)?;
        requests_put += arrival.entries.len();
    }
    let mut n = 0u64;
    let s = rt.run_until_idle(None, |_| {
        n += 1;
        n < MAX_STEPS
    })?;
    if n >= MAX_STEPS {
        settled = false;
    }
    steps += s.steps;
    delivered += s.messages_delivered;
    failed += s.records_failed;

    let mut report = SimReport {
        seed: options.seed,
        trips: plan.trips.len(),
        requests_put,
        events: rt.log().len(),
        steps,
        messages_delivered: delivered,
        records_failed: failed,
        virtual_ms: rt.now_ms() - SIM_START_MS,
        restarts: rt.restarts(),
        dead_letters: rt.dead_letters().len(),
        outcomes: BTreeMap::new(),
        by_kind: BTreeMap::new(),
        faults: rt
            .faults()
            .map(|f| {
                f.injected()
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect()
            })
            .unwrap_or_default(),
        faults_total: 0,
        log_digest: log_digest(&rt),
        violations: Vec::new(),
        rerun: options.rerun_command(),
    };
    report.faults_total = report.faults.values().sum();
    report.violations = check(&rt, &plan, options, settled);
    for t in &plan.trips {
        let class = rt
            .trip_outcome(&t.trip_id)
            .map_or("unfinished", |o| class_of(&o));
        *report.outcomes.entry(class.to_owned()).or_default() += 1;
        *report
            .by_kind
            .entry(t.kind.name().to_owned())
            .or_default()
            .entry(class.to_owned())
            .or_default() += 1;
    }
    Ok((report, rt))
}

/// Everything the simulation checks after a run, beyond [`Runtime::check_invariants`]:
/// every execution terminal, exactly one final outcome class per trip, the class each kind
/// of trip may end in, bookings matching the outcome, and capacity races within capacity.
pub fn check(
    rt: &Runtime,
    plan: &SimPlan,
    options: &SimOptions,
    settled: bool,
) -> Vec<SimViolation> {
    let mut raw: Vec<(String, String, String)> = rt
        .check_invariants()
        .into_iter()
        .map(|v| (v.trip_id, v.invariant.to_owned(), v.detail))
        .collect();
    let mut push = |trip: &str, invariant: &str, detail: String| {
        raw.push((trip.to_owned(), invariant.to_owned(), detail));
    };
    if !settled {
        push(
            "-",
            "every run settles",
            format!("still busy after {MAX_STEPS} steps"),
        );
    }
    let faultless = options.faultless();
    let mut race_booked: BTreeMap<usize, usize> = BTreeMap::new();
    for t in &plan.trips {
        let trip = t.trip_id.as_str();
        let classes: BTreeSet<&'static str> = rt
            .log()
            .iter()
            .filter(|l| l.trip_id() == Some(trip))
            .filter_map(|l| outcome_of(&l.envelope))
            .map(|o| class_of(&o))
            .collect();
        let outcome = rt.trip_outcome(trip);
        if classes.len() != 1 {
            push(
                trip,
                "every trip has exactly one final outcome class",
                format!("outcome classes seen: {classes:?}"),
            );
        }
        let held: Vec<Service> = Service::ALL
            .into_iter()
            .filter(|s| {
                rt.booking(*s, trip)
                    .is_some_and(|b| b.status == BookingStatus::Booked)
            })
            .collect();
        let execution = rt.describe_execution(trip);
        let class = outcome.as_ref().map(class_of);
        if t.kind == TripKind::Invalid {
            if class != Some("rejected") {
                push(
                    trip,
                    "an invalid request is rejected",
                    format!("ended {class:?}"),
                );
            }
            if execution.is_some() {
                push(
                    trip,
                    "an invalid request starts no saga",
                    "an execution exists".into(),
                );
            }
            let any: Vec<Service> = Service::ALL
                .into_iter()
                .filter(|s| rt.booking(*s, trip).is_some())
                .collect();
            if !any.is_empty() {
                push(
                    trip,
                    "an invalid request books nothing",
                    format!("booking records with {any:?}"),
                );
            }
            continue;
        }
        match &execution {
            None => push(
                trip,
                "every valid request starts its saga",
                "no execution".into(),
            ),
            Some(d) if d.status == ExecutionStatus::Running => push(
                trip,
                "every execution is terminal",
                "still RUNNING after the run settled".into(),
            ),
            Some(_) => {}
        }
        match class {
            Some("rejected") => push(
                trip,
                "a valid request is never rejected",
                format!("{outcome:?}"),
            ),
            Some("booked") if held.len() != 3 => push(
                trip,
                "a booked trip holds all three bookings",
                format!("holds {held:?}"),
            ),
            Some("failed") if !held.is_empty() => push(
                trip,
                "a failed trip holds nothing",
                format!("still holds {held:?}"),
            ),
            _ => {}
        }
        if let Some(step) = t.kind.fails_at() {
            match &outcome {
                Some(TripOutcome::Failed { failed_step, .. }) => {
                    if faultless && failed_step != step {
                        push(
                            trip,
                            "a trip fails at the step that cannot be had",
                            format!("failed at {failed_step}, expected {step}"),
                        );
                    }
                }
                other => push(
                    trip,
                    "a trip that cannot be had is never booked",
                    format!("{} ended {other:?}", t.kind.name()),
                ),
            }
        } else if faultless
            && matches!(t.kind, TripKind::Booked | TripKind::Duplicate)
            && class != Some("booked")
        {
            push(
                trip,
                "without faults an available trip is booked",
                format!("ended {outcome:?}"),
            );
        }
        if let Some(g) = t.race
            && class == Some("booked")
        {
            *race_booked.entry(g).or_default() += 1;
        }
    }
    for (g, (resource, capacity)) in &plan.races {
        let members: Vec<&PlannedTrip> = plan.trips.iter().filter(|t| t.race == Some(*g)).collect();
        let booked = race_booked.get(g).copied().unwrap_or(0);
        if booked > *capacity as usize {
            push(
                &members
                    .first()
                    .map_or("-".to_owned(), |t| t.trip_id.clone()),
                "a capacity race books no more than the capacity",
                format!("{booked} trips booked {resource} with {capacity} a day"),
            );
        }
        if faultless && booked < (*capacity as usize).min(members.len()) {
            push(
                &members
                    .first()
                    .map_or("-".to_owned(), |t| t.trip_id.clone()),
                "without faults a capacity race fills the capacity",
                format!(
                    "{booked} of {} trips booked {resource} with {capacity} a day",
                    members.len()
                ),
            );
        }
    }

    let rerun = options.rerun_command();
    raw.into_iter()
        .map(|(trip_id, invariant, detail)| {
            let events: Vec<&LoggedEvent> = if trip_id == "-" {
                let n = rt.log().len();
                rt.log().iter().skip(n.saturating_sub(40)).collect()
            } else {
                rt.log()
                    .iter()
                    .filter(|l| l.trip_id() == Some(trip_id.as_str()))
                    .collect()
            };
            SimViolation {
                seed: options.seed,
                trace: events.iter().map(|l| trace_line(l, SIM_START_MS)).collect(),
                events: events.iter().map(|l| l.to_export_json()).collect(),
                trip_id,
                invariant,
                detail,
                rerun: rerun.clone(),
            }
        })
        .collect()
}

/// One trip whose outcome under faults differs from its fault-free outcome.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct OutcomeMismatch {
    pub seed: u64,
    pub trip_id: String,
    pub faultless: String,
    pub with_faults: String,
    pub rerun: String,
}

/// What [`outcome_property`] found for one seed.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyReport {
    pub seed: u64,
    pub trips: usize,
    /// Fault kind -> times injected (in the run with faults).
    pub faults: BTreeMap<String, u64>,
    pub mismatches: Vec<OutcomeMismatch>,
    /// The invariant violations of either run.
    pub violations: Vec<SimViolation>,
}

/// A trip's outcome as the property compares it: the class and, for a failure, the step
/// that failed (a transient fault must not move a failure to another step either).
fn compared_outcome(rt: &Runtime, trip: &str) -> String {
    match rt.trip_outcome(trip) {
        Some(TripOutcome::Failed { failed_step, .. }) => format!("failed at {failed_step}"),
        Some(o) => class_of(&o).to_owned(),
        None => "unfinished".to_owned(),
    }
}

/// The simulation's outcome property (issue 13): with only transient faults (duplicates,
/// delays and reordering, process and handler crashes, transient store and publish errors,
/// failing compensations, lost callbacks, workflow putEvents errors — each within the retry
/// budgets of `events/routing.json` and the ASL file, which the runtime uses as they are),
/// every trip ends as it ends in a fault-free run of the same seed: business failures come
/// only from the inventory.
///
/// The trips of a capacity race are compared as a group: faults may change which of them
/// gets the last units (arrival order is not part of the plan), not how many are booked.
pub fn outcome_property(
    seed: u64,
    trips: usize,
    faults: FaultRates,
) -> Result<PropertyReport, SimError> {
    let mut clean = SimOptions::new(seed, trips);
    clean.faults = None;
    let mut faulty = SimOptions::new(seed, trips);
    faulty.faults = Some(faults);
    let (a, rt_a) = simulate_keeping(&clean)?;
    let (b, rt_b) = simulate_keeping(&faulty)?;
    let plan = plan(seed, trips);
    let mut mismatches = Vec::new();
    let mut race_booked: BTreeMap<usize, (usize, usize)> = BTreeMap::new();
    for t in &plan.trips {
        let (x, y) = (
            compared_outcome(&rt_a, &t.trip_id),
            compared_outcome(&rt_b, &t.trip_id),
        );
        if let Some(g) = t.race {
            let e = race_booked.entry(g).or_default();
            e.0 += usize::from(x == "booked");
            e.1 += usize::from(y == "booked");
            continue;
        }
        if x != y {
            mismatches.push(OutcomeMismatch {
                seed,
                trip_id: t.trip_id.clone(),
                faultless: x,
                with_faults: y,
                rerun: faulty.rerun_command(),
            });
        }
    }
    for (g, (x, y)) in race_booked {
        if x != y {
            mismatches.push(OutcomeMismatch {
                seed,
                trip_id: format!("race group {g}"),
                faultless: format!("{x} booked"),
                with_faults: format!("{y} booked"),
                rerun: faulty.rerun_command(),
            });
        }
    }
    Ok(PropertyReport {
        seed,
        trips: b.trips,
        faults: b.faults,
        mismatches,
        violations: a.violations.into_iter().chain(b.violations).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_is_a_function_of_its_seed() {
        let a = plan(7, 40);
        let b = plan(7, 40);
        assert_eq!(a.trips.len(), 40);
        let ids = |p: &SimPlan| {
            p.trips
                .iter()
                .map(|t| (t.trip_id.clone(), t.request.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&a), ids(&b));
        assert_ne!(ids(&a), ids(&plan(8, 40)));
    }

    #[test]
    fn a_large_plan_has_every_kind_of_trip() {
        let p = plan(3, 200);
        let kinds: BTreeSet<TripKind> = p.trips.iter().map(|t| t.kind).collect();
        assert_eq!(kinds.len(), 7, "{kinds:?}");
    }

    #[test]
    fn the_rerun_command_names_the_seed_and_the_faults() {
        let mut o = SimOptions::new(42, 20);
        assert_eq!(
            o.rerun_command(),
            "trip simulate --seed 42 --trips 20 --faults default"
        );
        o.faults = None;
        assert!(o.rerun_command().ends_with("--faults none"));
    }
}
