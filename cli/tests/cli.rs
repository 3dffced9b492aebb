//! End-to-end tests through the `trip` binary, each with its own store.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../events/samples")
}

struct Trip {
    dir: tempfile::TempDir,
}

impl Trip {
    fn new() -> Self {
        Trip {
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn run(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_trip"))
            .args(args)
            .env("TRIP_STORE", self.dir.path().join("trip.db"))
            .env("NO_COLOR", "1")
            .env_remove("RUST_BACKTRACE")
            .output()
            .unwrap()
    }

    fn book(&self, sample: &str) -> (i32, String) {
        let path = samples().join(sample);
        let out = self.run(&["book", path.to_str().unwrap()]);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = args.to_vec();
        a.push("--json");
        let out = self.run(&a);
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
            panic!(
                "{args:?}: {e}\n{}\n{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        })
    }

    fn write(&self, name: &str, value: &Value) -> String {
        let p = self.dir.path().join(name);
        std::fs::write(&p, value.to_string()).unwrap();
        p.to_str().unwrap().to_owned()
    }
}

fn order_of(stdout: &str, needles: &[&str]) -> Vec<usize> {
    needles
        .iter()
        .map(|n| {
            stdout
                .find(n)
                .unwrap_or_else(|| panic!("{n} missing from\n{stdout}"))
        })
        .collect()
}

#[test]
fn help_lists_every_verb() {
    let out = Trip::new().run(&["--help"]);
    let text = String::from_utf8_lossy(&out.stdout);
    for verb in [
        "book",
        "put-events",
        "watch",
        "status",
        "dlq",
        "test-event-pattern",
        "states",
        "export",
        "replay",
        "resume",
    ] {
        assert!(text.contains(verb), "{verb} missing from --help");
    }
}

#[test]
fn the_main_sample_books_hotel_flight_and_car() {
    let t = Trip::new();
    let (code, out) = t.book("book-trip.json");
    assert_eq!(code, 0, "{out}");
    let pos = order_of(
        &out,
        &[
            "HotelBooked",
            "FlightBooked",
            "CarBooked",
            "TripBooked",
            "BOOKED",
            "invariants ok",
        ],
    );
    assert!(pos.windows(2).all(|w| w[0] < w[1]), "{out}");
    let status = t.json(&["status", "trip-lisbon-0001"]);
    assert_eq!(status["outcome"]["outcome"], "booked");
    assert_eq!(status["transitions"], 4);
    assert_eq!(status["bookings"]["car"]["status"], "BOOKED");
}

#[test]
fn each_failing_sample_compensates_in_reverse_order() {
    let cases = [
        (
            "book-trip-hotel-fails.json",
            "BookHotel",
            vec!["HotelCancellationRequested"],
        ),
        (
            "book-trip-flight-fails.json",
            "BookFlight",
            vec!["FlightCancellationRequested", "HotelCancellationRequested"],
        ),
        (
            "book-trip-car-fails.json",
            "BookCar",
            vec![
                "CarCancellationRequested",
                "FlightCancellationRequested",
                "HotelCancellationRequested",
            ],
        ),
    ];
    for (sample, step, cancels) in cases {
        let t = Trip::new();
        let (code, out) = t.book(sample);
        assert_eq!(code, 3, "{sample}: {out}");
        assert!(
            out.contains(&format!("FAILED, COMPENSATED  at {step}")),
            "{out}"
        );
        let pos = order_of(&out, &cancels);
        assert!(pos.windows(2).all(|w| w[0] < w[1]), "{sample}: {out}");
        for not_expected in ["CarCancellationRequested", "FlightCancellationRequested"] {
            if !cancels.contains(&not_expected) {
                assert!(
                    !out.contains(not_expected),
                    "{sample} cancelled too much: {out}"
                );
            }
        }
        assert!(out.contains("invariants ok"), "{out}");
    }
}

#[test]
fn the_invalid_sample_is_rejected_with_every_reason() {
    let (code, out) = Trip::new().book("book-trip-invalid.json");
    assert_eq!(code, 4, "{out}");
    for field in [
        "flight.return",
        "hotel.checkIn",
        "car.carClass",
        "traveller.email",
    ] {
        assert!(out.contains(field), "{field} missing: {out}");
    }
    assert!(!out.contains("HotelBookingRequested"), "{out}");
}

#[test]
fn a_duplicate_request_starts_nothing_new() {
    let t = Trip::new();
    assert_eq!(t.book("book-trip.json").0, 0);
    let (code, out) = t.book("book-trip.json");
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("already ended"), "{out}");
    let status = t.json(&["status", "trip-lisbon-0001"]);
    let types: Vec<&str> = status["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["envelope"]["detail-type"].as_str().unwrap())
        .collect();
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "TripBookingRequested")
            .count(),
        2
    );
    assert_eq!(
        types
            .iter()
            .filter(|t| **t == "HotelBookingRequested")
            .count(),
        1
    );
}

fn trip_detail(id: &str, hotel: &str, class: &str) -> Value {
    json!({
        "tripId": id,
        "traveller": {"firstName": "T", "lastName": id, "email": "t@example.com"},
        "hotel": {"hotelId": hotel, "checkIn": "2031-03-10", "checkOut": "2031-03-12", "guests": 1},
        "flight": {"from": "JFK", "to": "LIS", "departure": "2031-03-09T20:00:00Z", "passengers": 1},
        "car": {"pickUpLocation": "CDG", "pickUpAt": "2031-03-10T10:00:00Z", "dropOffAt": "2031-03-12T10:00:00Z", "carClass": class}
    })
}

fn entries(details: &[Value]) -> Value {
    Value::Array(
        details
            .iter()
            .map(|d| json!({"Source": "trip.client", "DetailType": "TripBookingRequested", "EventBusName": "trip-saga", "Detail": d.to_string()}))
            .collect(),
    )
}

#[test]
fn trips_competing_for_the_last_room_get_one_booking_each_until_it_is_gone() {
    // given a hotel with 12 rooms a night and 13 trips for the same nights
    let t = Trip::new();
    let details: Vec<Value> = (0..13)
        .map(|i| trip_detail(&format!("race-{i:02}"), "HTL-LIS-ALFAMA", "economy"))
        .collect();
    let file = t.write("race.json", &entries(&details));
    // when they are all booked at once
    let out = t.json(&["book", &file]);
    // then twelve are booked, one fails for want of a room, and nothing is oversold
    let outcomes: Vec<&str> = out["trips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["outcome"]["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(
        outcomes.iter().filter(|o| **o == "booked").count(),
        12,
        "{out}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| **o == "failed").count(),
        1,
        "{out}"
    );
    assert_eq!(out["invariantViolations"], json!([]));
}

#[test]
fn a_crash_in_the_middle_of_sagas_is_finished_by_resume() {
    let t = Trip::new();
    let details: Vec<Value> = (0..6)
        .map(|i| {
            trip_detail(
                &format!("crash-{i}"),
                if i % 2 == 0 {
                    "HTL-NYC-HUDSON"
                } else {
                    "HTL-PAR-LOUVRE"
                },
                "compact",
            )
        })
        .collect();
    let file = t.write("crash.json", &entries(&details));
    // when the process dies (abort, no cleanup) a few steps in
    let out = t.run(&["book", &file, "--crash-after-steps", "3"]);
    assert!(!out.status.success(), "the process was meant to crash");
    // the crashed store still reads: its log holds the requests the crash interrupted
    let export = t.run(&["export"]);
    assert!(export.status.success());
    let lines = String::from_utf8_lossy(&export.stdout).lines().count();
    assert!(lines >= 6, "{lines} events in the log after the crash");
    // then resume finishes every saga, with the invariants intact
    let resumed = t.json(&["resume"]);
    let trips = resumed["trips"].as_array().unwrap();
    assert!(!trips.is_empty(), "nothing was in flight: {resumed}");
    assert_eq!(resumed["invariantViolations"], json!([]), "{resumed}");
    for i in 0..6 {
        let s = t.json(&["status", &format!("crash-{i}")]);
        let want = if i % 2 == 0 { "booked" } else { "failed" };
        assert_eq!(s["outcome"]["outcome"], want, "crash-{i}: {s}");
    }
}

#[test]
fn export_then_replay_twice_changes_nothing() {
    let t = Trip::new();
    t.book("book-trip.json");
    t.book("book-trip-car-fails.json");
    let log = t.dir.path().join("log.jsonl");
    let out = t.run(&["export", "-o", log.to_str().unwrap()]);
    assert!(out.status.success());
    let lines = std::fs::read_to_string(&log).unwrap();
    assert!(lines.lines().count() >= 20);
    let r = t.json(&["replay", log.to_str().unwrap(), "--twice"]);
    assert_eq!(r["secondPassChanged"], false, "{r}");
    assert_eq!(r["invariantViolations"], json!([]));
    let outcomes: Vec<&str> = r["trips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["outcome"].as_str().unwrap())
        .collect();
    assert_eq!(outcomes, ["booked", "failed"]);
}

#[test]
fn test_event_pattern_answers_like_the_aws_cli() {
    let t = Trip::new();
    let event = json!({"id": "1", "account": "1", "source": "trip.hotel", "time": "2030-01-01T00:00:00Z",
        "region": "local", "resources": [], "detail-type": "HotelBooked", "detail": {"tripId": "t"}});
    let yes = t.json(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"source":[{"prefix":"trip."}]}"#,
        "--event",
        &event.to_string(),
    ]);
    assert_eq!(yes, json!({"Result": true}));
    let no = t.json(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"detail":{"tripId":[{"anything-but":"t"}]}}"#,
        "--event",
        &event.to_string(),
    ]);
    assert_eq!(no, json!({"Result": false}));
    let bad = t.run(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"source":"trip.hotel"}"#,
        "--event",
        &event.to_string(),
    ]);
    assert_eq!(bad.status.code(), Some(4));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("source"));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("InvalidEventPatternException:"));
    // An event TestEventPattern refuses is AWS's ValidationException, not a pattern error.
    let no_id = t.run(&[
        "test-event-pattern",
        "--event-pattern",
        r#"{"source":["trip.hotel"]}"#,
        "--event",
        r#"{"source":"trip.hotel"}"#,
    ]);
    assert_eq!(no_id.status.code(), Some(4));
    let stderr = String::from_utf8_lossy(&no_id.stderr);
    assert!(
        stderr.contains("ValidationException: Parameter Event is not valid."),
        "{stderr}"
    );
}

#[test]
fn put_events_answers_in_the_aws_shape_and_refuses_bad_entries_alone() {
    let t = Trip::new();
    let file = t.write(
        "mixed.json",
        &json!([
            {"Source": "trip.client", "DetailType": "TripBookingRequested", "Detail": trip_detail("pe-1", "HTL-LIS-ALFAMA", "economy").to_string()},
            {"Source": "trip.client", "DetailType": "TripBookingRequested", "Detail": "not json"}
        ]),
    );
    let out = t.run(&["put-events", "--entries", &format!("file://{file}")]);
    assert_eq!(out.status.code(), Some(4));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["FailedEntryCount"], 1);
    assert!(v["Entries"][0]["EventId"].is_string());
    assert_eq!(v["Entries"][1]["ErrorCode"], "MalformedDetail");
    assert_eq!(t.json(&["status", "pe-1"])["outcome"]["outcome"], "booked");
}

#[test]
fn a_malformed_entries_file_is_named_with_its_position() {
    let t = Trip::new();
    let p = t.dir.path().join("broken.json");
    std::fs::write(
        &p,
        "[\n  {\"Source\": \"trip.client\",\n   \"DetailType\": 42}\n]",
    )
    .unwrap();
    let out = t.run(&["book", p.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("broken.json:3:"), "{err}");
}

#[test]
fn states_run_executes_the_trip_saga_with_scripted_answers() {
    let t = Trip::new();
    let input = samples().join("../../workflow/trip-saga.asl.json");
    let detail: Value =
        serde_json::from_str(read_detail(&samples().join("book-trip.json")).as_str()).unwrap();
    let input_file = t.write("input.json", &detail);
    let responses = t.write(
        "responses.json",
        &json!({
            "BookHotel": [{"output": {"service": "hotel", "bookingId": "H", "status": "BOOKED"}}],
            "BookFlight": [{"error": "Trip.BusinessError", "cause": "{\"reason\":\"FLIGHT_FULL\"}"}],
            "CancelFlight": [{"output": {"service": "flight", "status": "CANCELLED"}}],
            "CancelHotel": [{"output": {"service": "hotel", "status": "CANCELLED"}}]
        }),
    );
    let r = t.json(&[
        "states",
        "run",
        input.to_str().unwrap(),
        "--input",
        &format!("file://{input_file}"),
        "--responses",
        &responses,
    ]);
    assert_eq!(r["status"], "FAILED", "{r}");
    assert_eq!(r["error"], "TripBookingFailed");
}

fn read_detail(path: &Path) -> String {
    let v: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v[0]["Detail"].as_str().unwrap().to_owned()
}

#[test]
fn states_run_handles_parallel_map_choice_and_intrinsics() {
    let t = Trip::new();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/conformance");
    let run = |case: &str, extra: &[&str]| -> Value {
        let def = dir.join(case).join("definition.asl.json");
        let input = format!("file://{}", dir.join(case).join("input.json").display());
        let mut args = vec!["states", "run", def.to_str().unwrap(), "--input", &input];
        args.extend_from_slice(extra);
        t.json(&args)
    };
    let responses = dir.join("parallel-branches/responses.json");
    let parallel = run(
        "parallel-branches",
        &[
            "--responses",
            responses.to_str().unwrap(),
            "-s",
            "TaskQueueUrl=http://queue",
        ],
    );
    assert_eq!(parallel["status"], "SUCCEEDED", "{parallel}");
    assert_eq!(parallel["output"]["both"]["right"]["answer"], 42);
    assert_eq!(parallel["output"]["both"]["left"]["side"], "left");

    let choice = run("choice-operators", &[]);
    assert_eq!(choice["status"], "SUCCEEDED", "{choice}");
    assert_eq!(choice["output"]["country"], "portugal");
    assert_eq!(choice["output"]["amount"], "review");

    let map = run("map-item-selector", &[]);
    assert_eq!(map["status"], "SUCCEEDED", "{map}");
    assert_eq!(map["output"]["plan"].as_array().map(Vec::len), Some(3));

    let intrinsics = run("intrinsics", &[]);
    assert_eq!(intrinsics["status"], "SUCCEEDED", "{intrinsics}");
    assert_eq!(
        intrinsics["output"]["all"]["greeting"],
        "Hello Ada, trip trip-1 costs 120"
    );
}

/// Issue 13: task tokens are secrets (whoever holds one can answer the workflow); `trip watch
/// --json` prints them masked unless `--show-tokens` asks for them.
#[test]
fn watch_masks_task_tokens_unless_asked() {
    let t = Trip::new();
    let (code, out) = t.book("book-trip.json");
    assert_eq!(code, 0, "{out}");
    let tokens = |args: &[&str]| -> Vec<String> {
        let out = t.run(args);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .filter_map(|v| {
                v.pointer("/detail/metadata/taskToken")
                    .and_then(|t| t.as_str())
                    .map(str::to_owned)
            })
            .collect()
    };
    let masked = tokens(&["--json", "watch"]);
    assert!(
        masked.len() >= 6,
        "commands and answers carry tokens: {masked:?}"
    );
    assert!(masked.iter().all(|t| t == "****"), "{masked:?}");
    let shown = tokens(&["--json", "watch", "--show-tokens"]);
    assert_eq!(shown.len(), masked.len());
    assert!(
        shown.iter().all(|t| t != "****" && t.len() > 8),
        "{shown:?}"
    );
}
