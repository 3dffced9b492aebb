//! `trip bench`, `trip cost` and `trip simulate` through the binary: options that would abort
//! or never end are refused at once, and the figures say what they measured.

use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn trip(dir: &std::path::Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trip"))
        .args(args)
        .current_dir(dir)
        .env("NO_COLOR", "1")
        .env_remove("TRIP_STORE")
        .env_remove("TRIP_DURABILITY")
        .env_remove("RUST_BACKTRACE")
        .output()
        .unwrap()
}

#[test]
fn rates_that_would_abort_or_never_end_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    // (`--rate=` so that clap takes "-1" and "-inf" as values)
    for rate in ["0", "NaN", "-1", "inf", "-inf", "1e-300"] {
        let started = Instant::now();
        let out = trip(
            dir.path(),
            &[
                "bench",
                "--memory",
                "--trips",
                "50",
                "--runs",
                "1",
                &format!("--rate={rate}"),
            ],
        );
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "--rate {rate} took {:?}",
            started.elapsed()
        );
        let code = out.status.code();
        assert!(matches!(code, Some(1 | 2)), "--rate {rate}: {code:?}");
        assert!(
            text(&out.stderr).contains("--rate") || text(&out.stderr).contains("positive"),
            "--rate {rate}: {}",
            text(&out.stderr)
        );
    }
    for share in ["-0.5", "1.5", "NaN"] {
        let out = trip(
            dir.path(),
            &[
                "bench",
                "--memory",
                "--trips",
                "5",
                &format!("--failure-rate={share}"),
            ],
        );
        assert_eq!(out.status.code(), Some(2), "--failure-rate {share}");
    }
}

#[test]
fn a_process_crash_rate_of_one_is_refused_instead_of_restarting_forever() {
    let dir = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let out = trip(
        dir.path(),
        &["simulate", "--trips", "5", "--rate-process-crash", "1.0"],
    );
    assert!(started.elapsed() < Duration::from_secs(20));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(
        text(&out.stderr).contains("process-crash rate"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn bench_writes_its_stores_in_the_current_directory_says_where_and_leaves_none() {
    let dir = tempfile::tempdir().unwrap();
    let out = trip(
        dir.path(),
        &[
            "bench",
            "--trips",
            "20",
            "--runs",
            "1",
            "--concurrency",
            "8",
            "--json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let where_ = v["storeDir"].as_str().unwrap();
    assert_eq!(
        std::fs::canonicalize(where_).unwrap(),
        std::fs::canonicalize(dir.path()).unwrap()
    );
    assert!(v["fileSystem"].is_string(), "{v}");
    // the README's trip by default, fsynced at every commit
    assert_eq!(v["shape"], "readme");
    assert_eq!(v["holdsPerTrip"], 10);
    assert_eq!(v["results"][0]["durability"], "full");
    assert_eq!(v["results"][0]["completed"], 20);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(left.is_empty(), "left behind: {left:?}");

    // beside --store when it is given, and both durabilities side by side when asked
    let sub = dir.path().join("disk");
    std::fs::create_dir(&sub).unwrap();
    let store = sub.join("x.db");
    let out = trip(
        dir.path(),
        &[
            "--store",
            store.to_str().unwrap(),
            "bench",
            "--trips",
            "10",
            "--runs",
            "1",
            "--shape",
            "small",
            "--compare-durability",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains(&format!(
            "stores: {}",
            std::fs::canonicalize(&sub).unwrap().display()
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains("small shape (3 inventory holds each)"),
        "{stdout}"
    );
    assert!(
        stdout.contains("durability full") && stdout.contains("durability normal"),
        "{stdout}"
    );
    assert!(!store.exists());
}

#[test]
fn cost_prices_the_readme_trip_on_arm64_with_x_ray_in_the_total() {
    let dir = tempfile::tempdir().unwrap();
    let out = trip(dir.path(), &["cost", "--trips", "10", "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["shape"], "readme");
    assert_eq!(v["arch"], "arm64");
    let lines = v["withFailures"]["bill"]["lines"].as_array().unwrap();
    assert!(
        lines.iter().any(|l| l["service"] == "X-Ray"),
        "no X-Ray in the bill: {lines:?}"
    );
}
