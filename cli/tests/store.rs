//! The store through the `trip` binary: what a process leaves behind when it exits, crashes,
//! or meets a file that is not what it should be.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use serde_json::{Value, json};

struct Trip {
    dir: tempfile::TempDir,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Trip {
    fn new() -> Self {
        Trip {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn store(&self) -> PathBuf {
        self.path("trip.db")
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_trip"));
        c.args(args)
            .current_dir(self.dir.path())
            .env("TRIP_STORE", self.store())
            .env("NO_COLOR", "1")
            .env_remove("TRIP_DURABILITY")
            .env_remove("RUST_BACKTRACE");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.command(args).output().unwrap()
    }

    /// `n` trips that all book (a hotel with rooms to spare).
    fn trips(&self, name: &str, prefix: &str, n: usize) -> String {
        let entries: Vec<Value> = (0..n)
            .map(|i| {
                let d = json!({
                    "tripId": format!("{prefix}-{i:03}"),
                    "traveller": {"firstName": "T", "lastName": "S", "email": "t@example.com"},
                    "hotel": {"hotelId": "HTL-NYC-HUDSON", "checkIn": "2031-03-10", "checkOut": "2031-03-12", "guests": 1},
                    "flight": {"from": "JFK", "to": "LIS", "departure": "2031-03-09T20:00:00Z", "passengers": 1},
                    "car": {"pickUpLocation": "JFK", "pickUpAt": "2031-03-10T10:00:00Z", "dropOffAt": "2031-03-12T10:00:00Z", "carClass": "compact"}
                });
                json!({"Source": "trip.client", "DetailType": "TripBookingRequested",
                       "EventBusName": "trip-saga", "Detail": d.to_string()})
            })
            .collect();
        let p = self.path(name);
        std::fs::write(&p, Value::Array(entries).to_string()).unwrap();
        p.to_str().unwrap().to_owned()
    }

    fn sample(&self) -> String {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../events/samples/book-trip.json")
            .to_str()
            .unwrap()
            .to_owned()
    }

    /// The outcome of a trip in the store at `store`, read by `trip status --json`.
    fn outcome(&self, store: &Path, trip: &str) -> Value {
        let out = self.run(&["--store", store.to_str().unwrap(), "status", trip, "--json"]);
        let v: Value = serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)));
        v["outcome"]["outcome"].clone()
    }
}

fn sibling(p: &Path, suffix: &str) -> PathBuf {
    let mut s = p.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

#[test]
fn after_book_exits_the_store_file_alone_holds_every_saga() {
    // given a booked trip
    let t = Trip::new();
    let out = t.run(&["book", &t.sample()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // when only the store file is copied (no -wal beside it)
    let copy = t.path("copy.db");
    std::fs::copy(t.store(), &copy).unwrap();
    // then the copy holds the outcome, and booking the trip again is a duplicate
    assert_eq!(t.outcome(&copy, "trip-lisbon-0001"), "booked");
    let again = t.run(&["--store", copy.to_str().unwrap(), "book", &t.sample()]);
    assert!(
        text(&again.stdout).contains("already ended (booked)"),
        "{}",
        text(&again.stdout)
    );
    // and the write-ahead log beside the original holds nothing the file lacks
    let wal = sibling(&t.store(), "-wal");
    assert!(
        std::fs::metadata(&wal).map_or(true, |m| m.len() == 0),
        "{} bytes left in the log",
        std::fs::metadata(&wal).unwrap().len()
    );
}

#[test]
fn a_store_whose_log_went_missing_after_a_crash_is_named_not_silently_older() {
    // given a process killed mid-run (its last commits are in the write-ahead log only)
    let t = Trip::new();
    let file = t.trips("many.json", "wal", 40);
    let out = t.run(&["book", &file, "--crash-after-steps", "4"]);
    assert!(!out.status.success(), "the process was meant to crash");
    assert!(sibling(&t.store(), "-wal").exists());
    // when the file is copied without its log
    let copy = t.path("copy.db");
    std::fs::copy(t.store(), &copy).unwrap();
    for verb in [&["status", "wal-000"][..], &["book", &file], &["export"]] {
        let mut args = vec!["--store", copy.to_str().unwrap()];
        args.extend_from_slice(verb);
        let out = t.run(&args);
        // then every verb refuses it, naming the file, the missing log and what to do
        assert_eq!(
            out.status.code(),
            Some(1),
            "{verb:?}: {}",
            text(&out.stdout)
        );
        let err = text(&out.stderr);
        assert!(err.contains("copy.db-wal is missing"), "{verb:?}: {err}");
        assert!(err.contains("put") && err.contains("back"), "{err}");
    }
    // while the original, with its log, resumes and finishes everything
    // (0: all booked, 3: some failed for want of rooms and were compensated)
    let resumed = t.run(&["resume"]);
    assert!(
        matches!(resumed.status.code(), Some(0 | 3)),
        "{}",
        text(&resumed.stderr)
    );
}

#[test]
fn export_never_writes_over_the_store_nor_an_existing_file_without_force() {
    let t = Trip::new();
    t.run(&["book", &t.sample()]);
    let before = std::fs::read(t.store()).unwrap();
    // the store itself, by its own path and by another spelling of it
    for target in [t.store(), t.dir.path().join(".").join("trip.db")] {
        for force in [false, true] {
            let mut args = vec!["export", "-o", target.to_str().unwrap()];
            if force {
                args.push("--force");
            }
            let out = t.run(&args);
            assert_eq!(out.status.code(), Some(1), "{args:?}");
            assert!(text(&out.stderr).contains("store"), "{}", text(&out.stderr));
        }
    }
    assert_eq!(
        std::fs::read(t.store()).unwrap(),
        before,
        "the store changed"
    );
    // another existing file: refused without --force, overwritten with it
    let other = t.path("log.jsonl");
    std::fs::write(&other, "keep me").unwrap();
    let out = t.run(&["export", "-o", other.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("--force"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(std::fs::read_to_string(&other).unwrap(), "keep me");
    let out = t.run(&["export", "-o", other.to_str().unwrap(), "--force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(&other)
            .unwrap()
            .contains("TripBooked")
    );
}

#[test]
fn a_second_writer_is_refused_with_the_store_and_the_holder_named_while_readers_read() {
    let t = Trip::new();
    t.run(&["book", &t.sample()]);
    // given a writer that holds the store (a long batch)
    let file = t.trips("many.json", "lock", 300);
    let first = t
        .command(&["book", &file, "--timeout", "120"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = first.id().to_string();
    let lock = sibling(&t.store(), ".lock");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !std::fs::read_to_string(&lock).is_ok_and(|s| s.contains(&pid)) {
        assert!(std::time::Instant::now() < deadline, "no writer lock");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // when a second writer starts
    let second = t.run(&["book", &t.sample()]);
    // then it is refused, naming the store and the process holding it
    assert_eq!(second.status.code(), Some(1));
    let err = text(&second.stderr);
    assert!(err.contains("trip.db is in use"), "{err}");
    assert!(err.contains(&format!("pid {pid}")), "{err}");
    // and readers are unaffected
    for verb in [
        &["status", "trip-lisbon-0001"][..],
        &["export"],
        &["dlq", "list"],
    ] {
        let out = t.run(verb);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{verb:?}: {}",
            text(&out.stderr)
        );
    }
    let status = first.wait_with_output().unwrap();
    assert!(
        matches!(status.status.code(), Some(0 | 3)),
        "{}",
        text(&status.stderr)
    );
}

#[test]
fn read_only_verbs_create_nothing_and_write_nothing() {
    // given a directory with no store
    let t = Trip::new();
    // when the read-only verbs run there
    for verb in [
        &["status", "x"][..],
        &["export"],
        &["dlq", "list"],
        &["watch"],
    ] {
        let out = t.run(verb);
        // then each says there is no store, and how to get one
        assert_eq!(out.status.code(), Some(1), "{verb:?}");
        let err = text(&out.stderr);
        assert!(err.contains("no store at"), "{verb:?}: {err}");
        assert!(err.contains("trip book"), "{verb:?}: {err}");
    }
    let left: Vec<_> = std::fs::read_dir(t.dir.path()).unwrap().collect();
    assert!(left.is_empty(), "created {left:?}");
    // and on an existing store they change not a byte of it
    t.run(&["book", &t.sample()]);
    let before = std::fs::read(t.store()).unwrap();
    for verb in [
        &["status", "trip-lisbon-0001"][..],
        &["export"],
        &["dlq", "list"],
    ] {
        assert!(t.run(verb).status.success(), "{verb:?}");
    }
    assert!(
        std::fs::read(t.store()).unwrap() == before,
        "the store changed"
    );
    assert!(!sibling(&t.store(), "-wal").exists_and_nonempty());
}

trait NonEmpty {
    fn exists_and_nonempty(&self) -> bool;
}

impl NonEmpty for PathBuf {
    fn exists_and_nonempty(&self) -> bool {
        std::fs::metadata(self).is_ok_and(|m| m.len() > 0)
    }
}

#[test]
fn a_file_that_is_not_a_store_is_refused_not_taken_for_a_new_one() {
    let t = Trip::new();
    let cases: [(&str, &[u8], &str); 3] = [
        ("empty.db", b"", "empty (0-byte) file"),
        (
            "text.db",
            b"not a database at all, just some text in a file\n",
            "not a trip store",
        ),
        ("dir.db", b"", "is a directory"),
    ];
    for (name, bytes, says) in cases {
        let p = t.path(name);
        if name == "dir.db" {
            std::fs::create_dir(&p).unwrap();
        } else {
            std::fs::write(&p, bytes).unwrap();
        }
        for verb in [&["book", &t.sample()][..], &["status", "x"]] {
            let mut args = vec!["--store", p.to_str().unwrap()];
            args.extend_from_slice(verb);
            let out = t.run(&args);
            assert_eq!(out.status.code(), Some(1), "{name} {verb:?}");
            let err = text(&out.stderr);
            assert!(
                err.contains(name) && err.contains(says),
                "{name} {verb:?}: {err}"
            );
        }
        if name != "dir.db" {
            assert_eq!(std::fs::read(&p).unwrap(), bytes, "{name} was changed");
        }
    }
}

#[test]
fn the_live_timeline_prints_no_outcome_before_it_is_on_disk() {
    // given sagas whose process dies at one step or another
    for crash_at in [3, 5, 8, 12] {
        let t = Trip::new();
        let file = t.trips("many.json", "dur", 60);
        let out = t.run(&[
            "book",
            &file,
            "--verbose",
            "--crash-after-steps",
            &crash_at.to_string(),
        ]);
        assert!(!out.status.success(), "meant to crash at step {crash_at}");
        // when the outcomes the timeline printed are compared with the store after the crash
        let printed: Vec<String> = text(&out.stdout)
            .lines()
            .filter(|l| l.contains(" TripBooked ") || l.contains(" TripBookingFailed "))
            .map(|l| l.split_whitespace().nth(1).unwrap().to_owned())
            .collect();
        let export = t.run(&["export"]);
        assert!(export.status.success(), "{}", text(&export.stderr));
        let on_disk: std::collections::HashSet<String> = text(&export.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<Value>(l).ok())
            .filter(|e| {
                matches!(
                    e["detail-type"].as_str(),
                    Some("TripBooked" | "TripBookingFailed")
                )
            })
            .filter_map(|e| e["detail"]["tripId"].as_str().map(str::to_owned))
            .collect();
        // then every printed outcome is on disk
        let lost: Vec<_> = printed.iter().filter(|t| !on_disk.contains(*t)).collect();
        assert!(
            lost.is_empty(),
            "crash at {crash_at}: printed but lost: {lost:?}"
        );
    }
}
