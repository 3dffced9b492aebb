//! The `trip` command as a newcomer meets it (issue 16): exit codes that match the README's
//! table, errors instead of silent successes, `trip list`, a readable history, the saga's
//! graph, faults on one trip. Every test runs the real binary over its own store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/samples")
}

fn sample(name: &str) -> String {
    samples().join(name).to_str().unwrap().to_owned()
}

struct Trip {
    dir: tempfile::TempDir,
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Ran {
    fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("{e}: not JSON:\n{}\n{}", self.stdout, self.stderr))
    }
}

impl std::fmt::Display for Ran {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {}\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        )
    }
}

impl Trip {
    fn new() -> Self {
        Trip {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_trip"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("TRIP_STORE", self.dir.path().join("trip.db"))
            .env("NO_COLOR", "1")
            .env_remove("RUST_BACKTRACE");
        c
    }

    fn run(&self, args: &[&str]) -> Ran {
        Ran::from(self.cmd(args).output().unwrap())
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).to_str().unwrap().to_owned()
    }

    fn write(&self, name: &str, value: &Value) -> String {
        let p = self.path(name);
        std::fs::write(&p, value.to_string()).unwrap();
        p
    }
}

/// The main sample's single entry, to be changed by a test.
fn main_entry() -> Value {
    let text = std::fs::read_to_string(samples().join("book-trip.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    v[0].clone()
}

fn with_detail(mut entry: Value, f: impl FnOnce(&mut Value)) -> Value {
    let mut d: Value = serde_json::from_str(entry["Detail"].as_str().unwrap()).unwrap();
    f(&mut d);
    entry["Detail"] = Value::String(d.to_string());
    entry
}

/// `n` copies of the main sample's entry, trip ids `<prefix>-0`, `<prefix>-1`, ...
fn many_trips(prefix: &str, n: usize) -> Vec<Value> {
    (0..n)
        .map(|i| {
            with_detail(main_entry(), |d| {
                d["tripId"] = json!(format!("{prefix}-{i}"))
            })
        })
        .collect()
}

// ----- exit codes (README: 0 ok · 1 error · 2 usage · 3 failed · 4 rejected · 5 invariant · 6 timeout)

#[test]
fn a_request_without_a_string_trip_id_is_rejected_with_exit_4() {
    let cases = [
        ("missing", None, "tripId: is required"),
        ("a number", Some(json!(5)), "tripId: must be a string"),
    ];
    for (what, id, reason) in cases {
        let t = Trip::new();
        let entry = with_detail(main_entry(), |d| match &id {
            Some(v) => d["tripId"] = v.clone(),
            None => {
                d.as_object_mut().unwrap().remove("tripId");
            }
        });
        let file = t.write("e.json", &json!([entry]));
        let r = t.run(&["book", &file]);
        assert_eq!(r.code, 4, "tripId {what}: {r}");
        assert!(r.stdout.contains("(no tripId)  REJECTED"), "{r}");
        assert!(r.stdout.contains(reason), "{r}");
    }
}

#[test]
fn entries_the_bus_refuses_exit_4_and_are_not_waited_for() {
    let big = "x".repeat(300_000);
    let cases = [
        ("wrong bus", {
            let mut e = main_entry();
            e["EventBusName"] = json!("no-such-bus");
            e
        }),
        ("bad Time", {
            let mut e = main_entry();
            e["Time"] = json!("yesterday");
            e
        }),
        (
            "over 256 KB",
            with_detail(main_entry(), |d| d["traveller"]["lastName"] = json!(big)),
        ),
    ];
    for (what, entry) in cases {
        let t = Trip::new();
        let file = t.write("e.json", &json!([entry]));
        let r = t.run(&["book", &file]);
        assert_eq!(r.code, 4, "{what}: {r}");
        assert!(
            r.stderr.contains("entry refused: InvalidArgument"),
            "{what}: {r}"
        );
        assert!(r.stdout.contains("1 refused"), "{what}: {r}");
        assert!(!r.stdout.contains("NOT FINISHED"), "{what}: {r}");
    }
}

#[test]
fn an_entry_no_rule_routes_to_the_saga_says_so_and_exits_4() {
    let cases = [
        ("detail-type typo", "DetailType", "TripBookingRequestd"),
        ("wrong source", "Source", "trip.clients"),
    ];
    for (what, field, value) in cases {
        let t = Trip::new();
        let mut e = main_entry();
        e[field] = json!(value);
        let file = t.write("e.json", &json!([e]));
        let started = std::time::Instant::now();
        let r = t.run(&["book", &file]);
        assert_eq!(r.code, 4, "{what}: {r}");
        assert!(r.stdout.contains("NOT ROUTED"), "{what}: {r}");
        assert!(r.stdout.contains(value), "{what}: {r}");
        assert!(!r.stdout.contains("NOT FINISHED"), "{what}: {r}");
        // Not waited for: nowhere near the 60 s default timeout.
        assert!(started.elapsed().as_secs() < 30, "{what}: waited");
    }
}

#[test]
fn a_timeout_exits_6_with_what_is_unfinished_and_no_false_violations() {
    let t = Trip::new();
    // --timeout 0 stops after the first step: the saga is in flight, not wrong.
    let r = t.run(&["book", "--timeout", "0", &sample("book-trip.json")]);
    assert_eq!(r.code, 6, "{r}");
    assert!(
        r.stdout
            .contains("trip-lisbon-0001  NOT FINISHED (in state BookHotel)"),
        "{r}"
    );
    assert!(r.stdout.contains("`trip resume` finishes"), "{r}");
    assert!(!r.stdout.contains("VIOLATION"), "{r}");
    let j = t.run(&[
        "book",
        "--json",
        "--timeout",
        "0",
        &sample("book-trip-car-fails.json"),
    ]);
    assert_eq!(j.code, 6, "{j}");
    let v = j.json();
    assert_eq!(v["timedOut"], true, "{j}");
    assert_eq!(v["invariantViolations"], json!([]), "{j}");
    assert_eq!(v["tally"]["unfinished"], 1, "{j}");
    // What was in flight finishes.
    let r = t.run(&["resume"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stdout.contains("trip-lisbon-0001  BOOKED"), "{r}");
}

// ----- errors instead of silent successes

/// Two commands with nonsense details, routed to the flight and hotel queues: their consumers
/// cannot decode them, so after maxReceiveCount receives they are dead letters.
fn two_dead_letters(t: &Trip) {
    let junk = json!([
        {"Source": "trip.saga", "DetailType": "FlightBookingRequested", "EventBusName": "trip-saga",
         "Detail": "{\"tripId\":\"trip-junk-flight\"}"},
        {"Source": "trip.saga", "DetailType": "HotelBookingRequested", "EventBusName": "trip-saga",
         "Detail": "{\"tripId\":\"trip-junk-hotel\"}"}
    ]);
    let file = t.write("junk.json", &junk);
    let r = t.run(&["put-events", "--entries", &format!("file://{file}")]);
    assert_eq!(r.code, 0, "{r}");
}

#[test]
fn dlq_names_queues_it_knows_shows_one_queue_and_real_times() {
    let t = Trip::new();
    let before = chrono::Utc::now() - chrono::Duration::seconds(1);
    two_dead_letters(&t);
    let after = chrono::Utc::now() + chrono::Duration::seconds(1);

    for verb in ["list", "redrive", "purge"] {
        let r = t.run(&["dlq", verb, "--queue", "nope"]);
        assert_eq!(r.code, 1, "dlq {verb} --queue nope: {r}");
        assert!(
            r.stderr
                .contains("no queue \"nope\": the queues are hotel, flight, car, bridge"),
            "{r}"
        );
    }

    let flight = t
        .run(&["dlq", "list", "--queue", "flight", "--json"])
        .json();
    let rows = flight.as_array().unwrap();
    assert_eq!(rows.len(), 1, "{flight}");
    assert_eq!(rows[0]["queue"], "flight");
    assert_eq!(rows[0]["tripId"], "trip-junk-flight");
    // The runtime's clock skipped the visibility timeouts (5 receives, 60 s apart); the time
    // shown is the wall clock's.
    let table = t.run(&["dlq", "list"]);
    assert!(table.stdout.contains("trip-junk-flight"), "{table}");
    assert!(table.stdout.contains("trip-junk-hotel"), "{table}");
    let shown: Vec<chrono::DateTime<chrono::Utc>> = table
        .stdout
        .split(|c: char| c.is_whitespace() || c == '│' || c == '┆')
        .filter_map(|w| chrono::DateTime::parse_from_rfc3339(w).ok())
        .map(|d| d.to_utc())
        .collect();
    assert_eq!(shown.len(), 2, "{table}");
    assert!(
        shown.iter().all(|d| *d >= before && *d <= after),
        "dead since {shown:?} is not between {before} and {after}: {table}"
    );

    let r = t.run(&["dlq", "redrive", "--queue", "flight"]);
    assert_eq!(r.code, 0, "{r}");
    assert!(
        r.stdout
            .contains("redrove 1 message(s) from the flight dead-letter queue; 1 back in it"),
        "{r}"
    );
    let r = t.run(&["dlq", "purge", "--queue", "hotel"]);
    assert!(r.stdout.contains("purged 1 dead letter(s)"), "{r}");
    let left = t.run(&["dlq", "list", "--json"]).json();
    let queues: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["queue"].as_str().unwrap())
        .collect();
    assert_eq!(queues, ["flight"], "{left}");
}

#[test]
fn unknown_rules_and_trips_are_errors_and_status_json_does_not_take_mermaid() {
    let t = Trip::new();
    assert_eq!(t.run(&["book", &sample("book-trip.json")]).code, 0);
    let log = t.path("log.jsonl");
    assert_eq!(t.run(&["export", "-o", &log]).code, 0);

    let r = t.run(&["replay", &log, "--rule", "nope"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(
        r.stderr.contains("no rule \"nope\" in the routing table"),
        "{r}"
    );
    assert!(r.stderr.contains("saga-bridge"), "{r}");
    assert_eq!(t.run(&["replay", &log, "--rule", "saga-bridge"]).code, 0);

    let r = t.run(&["watch", "--trip", "nope"]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("no trip \"nope\" in this store"), "{r}");
    assert_eq!(t.run(&["watch", "--trip", "trip-lisbon-0001"]).code, 0);

    let r = t.run(&["status", "trip-lisbon-0001", "--json", "--mermaid"]);
    assert_eq!(r.code, 2, "{r}");
    assert!(r.stderr.contains("cannot be used with"), "{r}");
}

// ----- trip list

#[test]
fn list_shows_every_trip_filtered_by_status() {
    let t = Trip::new();
    for s in [
        "book-trip.json",
        "book-trip-flight-fails.json",
        "book-trip-invalid.json",
    ] {
        t.run(&["book", &sample(s)]);
    }
    // One in flight: stopped after its first step.
    let car = sample("book-trip-car-fails.json");
    assert_eq!(t.run(&["book", "--timeout", "0", &car]).code, 6);

    let all = t.run(&["list", "--json"]).json();
    let statuses: Vec<(String, String)> = all["trips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["tripId"].as_str().unwrap().to_owned(),
                r["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expect = [
        ("trip-lisbon-0001", "booked"),
        ("trip-madeira-0001", "failed"),
        ("trip-invalid-0001", "rejected"),
        ("trip-lisbon-0002", "running"),
    ];
    let expect: Vec<(String, String)> = expect
        .iter()
        .map(|(i, s)| (i.to_string(), s.to_string()))
        .collect();
    assert_eq!(statuses, expect, "{all}");
    let failed = t.run(&["list", "--status", "failed", "--json"]).json();
    let failed = failed["trips"].as_array().unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["tripId"], "trip-madeira-0001");
    assert!(
        failed[0]["detail"]
            .as_str()
            .unwrap()
            .contains("at BookFlight: FLIGHT_FULL")
    );
    let table = t.run(&["list", "--status", "running"]);
    assert!(table.stdout.contains("running"), "{table}");
    assert!(!table.stdout.contains("booked"), "{table}");
    let r = t.run(&["list", "--status", "lost"]);
    assert_eq!(r.code, 2, "{r}");
}

// ----- a history a person can read

#[test]
fn status_history_shows_state_type_error_cause_and_elapsed() {
    let t = Trip::new();
    assert_eq!(
        t.run(&["book", &sample("book-trip-flight-fails.json")])
            .code,
        3
    );
    let r = t.run(&["status", "trip-madeira-0001", "--history"]);
    assert_eq!(r.code, 0, "{r}");
    let header = r
        .stdout
        .lines()
        .find(|l| l.contains("TYPE") && l.contains("STATE") && l.contains("ELAPSED"))
        .unwrap_or_else(|| panic!("no history header: {r}"));
    assert!(header.contains("ERROR"), "{header}");
    let failed = r
        .stdout
        .lines()
        .find(|l| l.contains("TaskFailed"))
        .unwrap_or_else(|| panic!("{r}"));
    assert!(failed.contains("BookFlight"), "{failed}");
    assert!(
        failed.contains("Trip.BusinessError: FLIGHT_FULL: flight LIS-FNC on 2031-12-30 is full"),
        "{failed}"
    );
    assert!(failed.contains(" ms") || failed.contains(" s"), "{failed}");
    let entered = r
        .stdout
        .lines()
        .find(|l| l.contains("FailStateEntered"))
        .unwrap();
    assert!(entered.contains("TripBookingFailed"), "{entered}");
}

#[test]
fn states_run_prints_the_history_as_the_console_does() {
    let t = Trip::new();
    let def = samples().join("../../workflow/trip-saga.asl.json");
    let text = std::fs::read_to_string(samples().join("book-trip.json")).unwrap();
    let v: Value = serde_json::from_str(&text).unwrap();
    let input = t.write(
        "input.json",
        &serde_json::from_str::<Value>(v[0]["Detail"].as_str().unwrap()).unwrap(),
    );
    let responses = t.write(
        "responses.json",
        &json!({
            "BookHotel": [{"error": "Trip.BusinessError", "cause": "{\"reason\":\"SOLD_OUT\",\"message\":\"no room\"}"}],
            "CancelHotel": [{"output": {"service": "hotel", "status": "CANCELLED"}}]
        }),
    );
    let r = t.run(&[
        "states",
        "run",
        def.to_str().unwrap(),
        "--input",
        &format!("file://{input}"),
        "--responses",
        &responses,
    ]);
    assert_eq!(r.code, 3, "{r}");
    assert!(!r.stdout.trim_start().starts_with('{'), "raw JSON: {r}");
    let failed = r.stdout.lines().find(|l| l.contains("TaskFailed")).unwrap();
    assert!(failed.contains("BookHotel"), "{failed}");
    assert!(failed.contains("SOLD_OUT: no room"), "{failed}");
    assert!(r.stdout.contains("status: FAILED"), "{r}");
}

// ----- the saga's graph, checked by Mermaid's own parser

/// Parses each diagram with the `mermaid` package under node (cli/tests/mermaid, installed
/// with `npm ci` on first use); returns one line per diagram: `ok <type>` or `error ...`.
fn mermaid_parse(diagrams: &[String]) -> Vec<String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/mermaid");
    if !dir.join("node_modules/mermaid").is_dir() {
        let st = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--prefix"])
            .arg(&dir)
            .status()
            .expect("npm (Node.js) is needed to check the Mermaid diagrams");
        assert!(st.success(), "npm ci --prefix {} failed", dir.display());
    }
    let tmp = tempfile::tempdir().unwrap();
    let files: Vec<PathBuf> = diagrams
        .iter()
        .enumerate()
        .map(|(i, d)| {
            let p = tmp.path().join(format!("{i}.mmd"));
            std::fs::write(&p, d).unwrap();
            p
        })
        .collect();
    let out = Command::new("node")
        .arg(dir.join("check.mjs"))
        .args(&files)
        .output()
        .expect("node is needed to check the Mermaid diagrams");
    let lines: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(
        lines.len(),
        diagrams.len(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    lines
}

/// The node id the flowchart gave a state (`s3["BookCar<br/>Task"]` → `s3`).
fn node_id(graph: &str, state: &str) -> String {
    graph
        .lines()
        .find_map(|l| {
            let l = l.trim();
            let (id, rest) = l.split_once(['[', '('])?;
            rest.contains(&format!("\"{state}<br/>"))
                .then(|| id.to_owned())
        })
        .unwrap_or_else(|| panic!("no node for {state} in\n{graph}"))
}

fn class_of(graph: &str, id: &str) -> Option<String> {
    graph.lines().find_map(|l| {
        let rest = l.trim().strip_prefix("class ")?;
        let (ids, class) = rest.rsplit_once(' ')?;
        ids.split(',').any(|i| i == id).then(|| class.to_owned())
    })
}

#[test]
fn the_graph_shows_the_path_taken_and_where_it_failed_and_every_diagram_parses() {
    let t = Trip::new();
    t.run(&["book", &sample("book-trip.json")]);
    t.run(&["book", &sample("book-trip-flight-fails.json")]);
    t.run(&[
        "book",
        "--timeout",
        "0",
        &sample("book-trip-car-fails.json"),
    ]);
    let graph = |id: &str| {
        let r = t.run(&["status", id, "--graph"]);
        assert_eq!(r.code, 0, "{r}");
        r.stdout
    };
    let failed = graph("trip-madeira-0001");
    let booked = graph("trip-lisbon-0001");
    let running = graph("trip-lisbon-0002");

    let class = |g: &str, state: &str| class_of(g, &node_id(g, state));
    assert_eq!(class(&failed, "BookHotel").as_deref(), Some("visited"));
    assert_eq!(class(&failed, "BookFlight").as_deref(), Some("caught"));
    assert_eq!(class(&failed, "CancelHotel").as_deref(), Some("visited"));
    assert_eq!(
        class(&failed, "TripBookingFailed").as_deref(),
        Some("failed")
    );
    assert_eq!(class(&failed, "BookCar"), None, "not taken:\n{failed}");
    assert_eq!(class(&failed, "CancelCar"), None, "not taken:\n{failed}");
    for s in ["BookHotel", "BookFlight", "BookCar", "NotifyTripBooked"] {
        assert_eq!(
            class(&booked, s).as_deref(),
            Some("visited"),
            "{s}:\n{booked}"
        );
    }
    assert!(
        !booked.contains(" failed\n") && !booked.contains(" caught\n"),
        "{booked}"
    );
    assert_eq!(
        class(&running, "BookHotel").as_deref(),
        Some("current"),
        "{running}"
    );

    let mut diagrams = vec![failed, booked, running];
    for id in ["trip-madeira-0001", "trip-lisbon-0001", "trip-lisbon-0002"] {
        diagrams.push(t.run(&["status", id, "--mermaid"]).stdout);
    }
    // The parser can fail: a broken diagram of each kind must be reported.
    diagrams.push("flowchart TD\n    s0 --> \n".into());
    diagrams.push("sequenceDiagram\n    A-?B: x\n".into());
    let parsed = mermaid_parse(&diagrams);
    assert_eq!(
        parsed[..6],
        [
            "ok flowchart-v2",
            "ok flowchart-v2",
            "ok flowchart-v2",
            "ok sequence",
            "ok sequence",
            "ok sequence"
        ],
        "{parsed:?}"
    );
    assert!(parsed[6].starts_with("error"), "{parsed:?}");
    assert!(parsed[7].starts_with("error"), "{parsed:?}");

    let r = t.run(&["status", "trip-lisbon-0001", "--graph", "--json"]);
    assert_eq!(r.code, 2, "{r}");
}

// ----- faults on one trip, on demand

fn count(text: &str, needle: &str) -> usize {
    text.lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn fail_compensates_the_steps_taken_in_reverse() {
    let t = Trip::new();
    let r = t.run(&["book", &sample("book-trip.json"), "--fail", "BookCar"]);
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stdout.contains("faults: BookCar refuses"), "{r}");
    assert!(
        r.stdout
            .contains("FAILED, COMPENSATED  at BookCar (INJECTED_FAILURE"),
        "{r}"
    );
    assert!(r.stdout.contains("undone: car, flight, hotel"), "{r}");
    let at = |n: &str| r.stdout.find(n).unwrap_or_else(|| panic!("{n}: {r}"));
    assert!(at("CarCancellationRequested") < at("FlightCancellationRequested"));
    assert!(at("FlightCancellationRequested") < at("HotelCancellationRequested"));
    let bad = t.run(&["book", &sample("book-trip.json"), "--fail", "BookTrain"]);
    assert_eq!(bad.code, 1, "{bad}");
    assert!(
        bad.stderr.contains("BookHotel, BookFlight, BookCar"),
        "{bad}"
    );
}

#[test]
fn no_answer_times_the_step_out_and_compensates_it_too() {
    let t = Trip::new();
    let r = t.run(&[
        "book",
        &sample("book-trip.json"),
        "--no-answer",
        "BookFlight",
    ]);
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout
            .contains("FAILED, COMPENSATED  at BookFlight (States.Timeout); undone: flight, hotel"),
        "{r}"
    );
    // The flight was booked, its answer lost: the compensation cancelled it.
    let st = t.run(&["status", "trip-lisbon-0001", "--json"]).json();
    assert_eq!(st["bookings"]["flight"]["status"], "CANCELLED", "{st}");
    assert_eq!(st["bookings"]["flight"]["wasBooked"], true, "{st}");
    // The task's TimeoutSeconds (120 s in the ASL file), skipped by the runtime's clock.
    assert!(r.stdout.contains("fast-forwarded 120.0 s"), "{r}");
}

#[test]
fn transient_failures_are_retried_by_the_state_and_then_book() {
    let t = Trip::new();
    let r = t.run(&[
        "book",
        &sample("book-trip.json"),
        "--transient",
        "BookHotel:2",
    ]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(count(&r.stdout, "HotelBookingRequested"), 3, "{r}");
    assert_eq!(count(&r.stdout, "HotelBookingFailed"), 2, "{r}");
    assert_eq!(count(&r.stdout, "HotelBooked "), 1, "{r}");
    let h = t.run(&["status", "trip-lisbon-0001", "--history"]);
    let retried: Vec<&str> = h
        .stdout
        .lines()
        .filter(|l| l.contains("TaskFailed"))
        .collect();
    assert_eq!(retried.len(), 2, "{h}");
    assert!(
        retried
            .iter()
            .all(|l| l.contains("BookHotel") && l.contains("Trip.TransientError: THROTTLED")),
        "{h}"
    );
    // Past the Retry's MaxAttempts (3), the step fails and is compensated.
    let t = Trip::new();
    let r = t.run(&[
        "book",
        &sample("book-trip.json"),
        "--transient",
        "BookHotel:9",
    ]);
    assert_eq!(r.code, 3, "{r}");
    assert!(r.stdout.contains("at BookHotel (THROTTLED"), "{r}");
}

#[test]
fn duplicates_are_idempotent_and_delays_are_waited_for() {
    let t = Trip::new();
    let r = t.run(&["book", &sample("book-trip.json"), "--duplicate"]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(count(&r.stdout, "HotelBooked "), 2, "{r}");
    assert!(r.stdout.contains("invariants ok"), "{r}");
    let st = t.run(&["status", "trip-lisbon-0001", "--json"]).json();
    assert_eq!(st["bookings"]["hotel"]["status"], "BOOKED", "{st}");
    assert_eq!(st["transitions"], 4, "{st}");

    let t = Trip::new();
    let r = t.run(&["book", &sample("book-trip.json"), "--delay", "3000"]);
    assert_eq!(r.code, 0, "{r}");
    // Seven hops (request, three commands, three answers), each held back 3 s.
    let ms: i64 = r
        .stdout
        .split("  in ")
        .nth(1)
        .and_then(|s| s.split(" ms").next())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or_else(|| panic!("{r}"));
    assert!(ms >= 21_000, "{ms} ms: {r}");
}

// ----- edits take effect

#[test]
fn the_checkouts_state_machine_and_routing_table_are_the_ones_run() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let asl: Value = serde_json::from_str(
        &std::fs::read_to_string(root.join("workflow/trip-saga.asl.json")).unwrap(),
    )
    .unwrap();
    let routing: Value =
        serde_json::from_str(&std::fs::read_to_string(root.join("events/routing.json")).unwrap())
            .unwrap();

    // Outside any checkout: the built-in copies.
    let t = Trip::new();
    let r = t.run(&[
        "book",
        &sample("book-trip.json"),
        "--no-answer",
        "BookFlight",
    ]);
    assert!(
        r.stdout
            .contains("state machine built-in · routing built-in"),
        "{r}"
    );
    assert!(r.stdout.contains("fast-forwarded 120.0 s"), "{r}");

    // A checkout whose BookFlight waits 30 s.
    let t = Trip::new();
    let mut edited = asl.clone();
    edited["States"]["BookFlight"]["TimeoutSeconds"] = json!(30);
    std::fs::create_dir_all(t.dir.path().join("workflow")).unwrap();
    t.write("workflow/trip-saga.asl.json", &edited);
    std::fs::create_dir_all(t.dir.path().join("sub")).unwrap();
    let mut cmd = t.cmd(&[
        "book",
        &sample("book-trip.json"),
        "--no-answer",
        "BookFlight",
    ]);
    let r = Ran::from(cmd.current_dir(t.dir.path().join("sub")).output().unwrap());
    assert!(
        r.stdout.contains("trip-saga.asl.json (this checkout)"),
        "{r}"
    );
    assert!(r.stdout.contains("fast-forwarded 30.0 s"), "{r}");

    // The same file named with --definition, anywhere.
    let t2 = Trip::new();
    let def = t2.write("saga.json", &edited);
    let r = t2.run(&[
        "book",
        &sample("book-trip.json"),
        "--no-answer",
        "BookFlight",
        "--definition",
        &def,
    ]);
    assert!(r.stdout.contains(&format!("state machine {def}")), "{r}");
    assert!(r.stdout.contains("fast-forwarded 30.0 s"), "{r}");

    // A routing table whose saga rule no longer takes TripBookingRequested.
    let t = Trip::new();
    let mut edited = routing.clone();
    for rule in edited["rules"].as_array_mut().unwrap() {
        if rule["name"] == "saga-bridge" {
            rule["eventPattern"]["$or"][0]["detail-type"] = json!(["TripBookingWanted"]);
        }
    }
    std::fs::create_dir_all(t.dir.path().join("events")).unwrap();
    t.write("events/routing.json", &edited);
    let r = t.run(&["book", &sample("book-trip.json")]);
    assert!(r.stdout.contains("routing.json (this checkout)"), "{r}");
    assert_eq!(r.code, 4, "{r}");
    assert!(r.stdout.contains("NOT ROUTED"), "{r}");

    // A broken file is an error naming it, not a silent fallback.
    let t = Trip::new();
    let bad = t.path("bad.json");
    std::fs::write(&bad, "{").unwrap();
    let r = t.run(&["book", &sample("book-trip.json"), "--routing", &bad]);
    assert_eq!(r.code, 1, "{r}");
    assert!(r.stderr.contains("bad.json"), "{r}");
}

// ----- the rest of the list

#[test]
fn put_events_takes_at_most_ten_entries_like_aws() {
    // PutEvents: "Entries ... Array Members: Minimum number of 1 item. Maximum number of 10
    // items." (Amazon EventBridge API Reference, PutEvents,
    // https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html)
    let t = Trip::new();
    let entries = many_trips("trip-many", 11);
    let eleven = t.write("eleven.json", &json!(entries));
    let r = t.run(&["put-events", "--entries", &format!("file://{eleven}")]);
    assert_eq!(r.code, 4, "{r}");
    assert!(r.stderr.contains("ValidationException"), "{r}");
    assert!(r.stderr.contains("less than or equal to 10"), "{r}");
    assert_eq!(
        t.run(&["list", "--json"]).json()["trips"],
        json!([]),
        "nothing put"
    );

    let ten = t.write("ten.json", &json!(entries[..10]));
    let r = t.run(&[
        "put-events",
        "--entries",
        &format!("file://{ten}"),
        "--no-wait",
    ]);
    assert_eq!(r.code, 0, "{r}");
    assert_eq!(r.json()["Entries"].as_array().unwrap().len(), 10);
    assert!(r.stderr.contains("the sagas run when `trip resume`"), "{r}");
    let running = t.run(&["list", "--status", "running", "--json"]).json();
    assert_eq!(running["trips"].as_array().unwrap().len(), 10, "{running}");
    let r = t.run(&["resume"]);
    // LIS has 8 compact cars a day (`trip inventory`): two trips find none and compensate.
    assert_eq!(r.code, 3, "{r}");
    assert!(
        r.stdout
            .contains("tally: 8 booked · 2 failed (compensated) · 0 rejected · 0 unfinished"),
        "{r}"
    );
}

#[test]
fn watch_follow_waits_for_the_store_and_shows_each_outcome() {
    let t = Trip::new();
    let watch = t
        .cmd(&["watch", "--follow", "--idle-exit", "3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(600));
    assert_eq!(t.run(&["book", &sample("book-trip.json")]).code, 0);
    let out = Ran::from(watch.wait_with_output().unwrap());
    assert_eq!(out.code, 0, "{out}");
    assert!(
        out.stderr.contains("waiting for the first `trip book`"),
        "{out}"
    );
    assert!(out.stdout.contains("TripBooked"), "{out}");
    assert!(out.stdout.contains("⇒ trip-lisbon-0001  BOOKED"), "{out}");
}

#[test]
fn replay_reads_what_aws_logs_filter_log_events_prints() {
    let t = Trip::new();
    assert_eq!(t.run(&["book", &sample("book-trip.json")]).code, 0);
    let log = t.path("log.jsonl");
    t.run(&["export", "-o", &log]);
    // The AWS CLI's output of `aws logs filter-log-events --log-group-name ...`: one JSON
    // document, each event's envelope a string in `message`.
    let events: Vec<Value> = std::fs::read_to_string(&log)
        .unwrap()
        .lines()
        .enumerate()
        .map(|(i, l)| {
            json!({"logStreamName": "stream", "timestamp": 1_900_000_000_000i64 + i as i64,
                   "message": l, "ingestionTime": 1_900_000_000_100i64, "eventId": i.to_string()})
        })
        .collect();
    let doc = json!({"events": events, "searchedLogStreams": []});
    let file = t.path("filtered.json");
    std::fs::write(&file, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    let r = t.run(&["replay", &file]);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("trip-lisbon-0001  booked"), "{r}");
}

#[test]
fn inventory_lists_what_can_be_booked_and_reset_empties_the_store() {
    let t = Trip::new();
    let inv = t.run(&["inventory", "--json"]).json();
    let hotel = inv["hotels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["hotelId"] == "HTL-PAR-LOUVRE")
        .unwrap();
    assert_eq!(hotel["roomsPerNight"], 0, "the sold-out sample's hotel");
    let text = t.run(&["inventory"]).stdout;
    assert!(text.contains("LIS-FNC") && text.contains("full"), "{text}");

    assert_eq!(t.run(&["book", &sample("book-trip.json")]).code, 0);
    let r = t.run(&["reset"]);
    assert_eq!(r.code, 2, "no terminal, no --yes: {r}");
    assert_eq!(
        t.run(&["list", "--json"]).json()["trips"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let r = t.run(&["reset", "--yes"]);
    assert_eq!(r.code, 0, "{r}");
    assert!(r.stdout.contains("(1 trip(s))"), "{r}");
    assert_eq!(t.run(&["list", "--json"]).json()["trips"], json!([]));
    // The same trip books again from the full inventory: a new saga, not a duplicate.
    let r = t.run(&["book", &sample("book-trip.json")]);
    assert_eq!(r.code, 0, "{r}");
    assert!(!r.stdout.contains("already ended"), "{r}");
}

#[test]
fn control_characters_in_ids_never_reach_the_terminal_raw() {
    let t = Trip::new();
    let entry = with_detail(main_entry(), |d| {
        d["tripId"] = json!("evil\u{1b}[2J\u{7}id")
    });
    let file = t.write("e.json", &json!([entry]));
    let r = t.run(&["book", &file]);
    assert_eq!(r.code, 4, "{r}");
    assert!(
        !r.stdout.contains('\u{1b}') && !r.stdout.contains('\u{7}'),
        "{r:?}",
        r = r.stdout
    );
    assert!(r.stdout.contains("evil\\u{1b}[2J\\u{7}id"), "{r}");
    let list = t.run(&["list"]);
    assert!(!list.stdout.contains('\u{1b}'), "{:?}", list.stdout);
}

#[test]
fn every_verb_of_the_newcomer_has_an_example_in_its_help() {
    let t = Trip::new();
    for verb in [
        &["book"][..],
        &["put-events"],
        &["list"],
        &["watch"],
        &["status"],
        &["dlq"],
        &["test-event-pattern"],
        &["states"],
        &["replay"],
        &["resume"],
        &["inventory"],
        &["reset"],
    ] {
        let mut args = verb.to_vec();
        args.push("--help");
        let r = t.run(&args);
        assert_eq!(r.code, 0, "{verb:?}: {r}");
        let examples = r
            .stdout
            .split("Examples:")
            .nth(1)
            .unwrap_or_else(|| panic!("{verb:?} --help has no example:\n{r}"));
        assert!(
            examples.contains(&format!("trip {}", verb[0])),
            "{verb:?}: {examples}"
        );
    }
}

#[test]
fn aws_options_appear_only_on_the_verbs_that_take_aws_and_no_color_reaches_usage_errors() {
    let t = Trip::new();
    for verb in ["book", "put-events", "watch", "status", "replay"] {
        let help = t.run(&[verb, "--help"]).stdout;
        for flag in ["--aws", "--outputs", "--event-bus", "--profile", "--region"] {
            assert!(help.contains(flag), "{verb} --help lacks {flag}");
        }
    }
    for verb in ["list", "dlq", "inventory", "reset", "resume", "states"] {
        let help = t.run(&[verb, "--help"]).stdout;
        for flag in ["--aws", "--outputs", "--event-bus", "--state-machine-arn"] {
            assert!(!help.contains(flag), "{verb} --help shows {flag}");
        }
    }
    // CLICOLOR_FORCE makes clap colour even off a terminal; --no-color must still win.
    let usage = |extra: &[&str]| {
        let mut args = vec!["book"];
        args.extend_from_slice(extra);
        let mut c = t.cmd(&args);
        c.env_remove("NO_COLOR").env("CLICOLOR_FORCE", "1");
        Ran::from(c.output().unwrap())
    };
    let coloured = usage(&[]);
    assert_eq!(coloured.code, 2, "{coloured}");
    assert!(
        coloured.stderr.contains('\u{1b}'),
        "{coloured:?}",
        coloured = coloured.stderr
    );
    let plain = usage(&["--no-color"]);
    assert_eq!(plain.code, 2, "{plain}");
    assert!(!plain.stderr.contains('\u{1b}'), "{:?}", plain.stderr);
}

#[cfg(unix)]
#[test]
fn ctrl_c_says_what_is_in_flight_and_resume_finishes_it() {
    let t = Trip::new();
    // Enough trips that the run is still going after a moment (each a different trip id).
    let entries = many_trips("trip-int", 1000);
    let file = t.write("many.json", &json!(entries));
    let child = t
        .cmd(&["book", &file])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for the sagas to be running: the store exists and trips are listed as running.
    let started = std::time::Instant::now();
    loop {
        let l = t.run(&["list", "--status", "running", "--json"]);
        if l.code == 0 && l.json()["trips"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        assert!(started.elapsed().as_secs() < 60, "the sagas never started");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // SAFETY: sending SIGINT to the child we started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let r = Ran::from(child.wait_with_output().unwrap());
    assert_eq!(
        r.code,
        130,
        "{}",
        &r.stdout[r.stdout.len().saturating_sub(2000)..]
    );
    assert!(r.stdout.contains("interrupted:"), "{r}");
    assert!(r.stdout.contains("`trip resume` finishes them"), "{r}");
    assert!(!r.stdout.contains("VIOLATION"), "{r}");
    let r = t.run(&["resume"]);
    assert!(r.code == 0 || r.code == 3, "{r}");
    assert!(r.stdout.contains("invariants ok"), "{r}");
    assert_eq!(
        t.run(&["list", "--status", "running", "--json"]).json()["trips"],
        json!([])
    );
}

#[test]
fn an_os_error_is_printed_once() {
    let t = Trip::new();
    let r = t.run(&["book", "/no/such/entries.json"]);
    assert_eq!(r.code, 1, "{r}");
    assert_eq!(
        r.stderr.matches("No such file or directory").count(),
        1,
        "{r}"
    );
    assert!(r.stderr.contains("/no/such/entries.json"), "{r}");
}

#[test]
fn the_readmes_inventory_table_is_what_trip_inventory_prints() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../README.md"))
            .unwrap();
    let inv = Trip::new().run(&["inventory", "--json"]).json();
    for h in inv["hotels"].as_array().unwrap() {
        let cell = format!("{} {}", h["hotelId"].as_str().unwrap(), h["roomsPerNight"]);
        assert!(readme.contains(&cell), "README lacks {cell}");
    }
    for f in inv["flights"].as_array().unwrap() {
        let cell = format!(
            "{}-{} {}",
            f["from"].as_str().unwrap(),
            f["to"].as_str().unwrap(),
            f["seatsPerDailyFlight"]
        );
        assert!(readme.contains(&cell), "README lacks {cell}");
    }
    let fleets = readme
        .lines()
        .find(|l| l.starts_with("| car (per class, per day)"))
        .expect("the README's car row");
    for c in inv["cars"].as_array().unwrap() {
        let (loc, class, n) = (
            c["location"].as_str().unwrap(),
            c["carClass"].as_str().unwrap(),
            c["carsPerDay"].as_u64().unwrap(),
        );
        // `JFK 10 of every class` stands for JFK's seven classes.
        let ok = if loc == "JFK" {
            n == 10 && fleets.contains("JFK 10 of every class")
        } else {
            let part = fleets
                .split(';')
                .find(|p| p.contains(&format!("{loc} ")))
                .unwrap_or_else(|| panic!("no {loc} in {fleets}"));
            part.contains(&format!("{class} {n}"))
        };
        assert!(ok, "README's cars lack {loc} {class} {n}: {fleets}");
    }
}
