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
