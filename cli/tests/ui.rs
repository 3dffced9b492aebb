//! `trip ui` through the binary: it prints its address on 127.0.0.1, serves the store that
//! `trip book` wrote while `trip book` goes on writing it, and refuses `--memory`.
//! (The console's routes and page are tested in `ui/tests`.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};

use serde_json::Value;

fn trip(store: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_trip"));
    c.env("TRIP_STORE", store).env("NO_COLOR", "1");
    c
}

fn book(store: &Path, sample: &str) {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events/samples")
        .join(sample);
    let out = trip(store).arg("book").arg(path).output().unwrap();
    assert!(out.status.code().is_some(), "{out:?}");
}

/// Stops the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn get(port: u16, path: &str) -> Value {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    s.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    let body = response.split_once("\r\n\r\n").unwrap().1;
    serde_json::from_str(body).unwrap()
}

#[test]
fn trip_ui_serves_the_store_another_trip_writes() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("trip.db");
    book(&store, "book-trip.json");

    let mut child = trip(&store)
        .args(["ui", "--json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let _server = Server(child);
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line).unwrap();
    let started: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"));
    let url = started["url"].as_str().unwrap();
    let port: u16 = url
        .strip_prefix("http://127.0.0.1:")
        .and_then(|r| r.strip_suffix('/'))
        .unwrap_or_else(|| panic!("not a 127.0.0.1 address: {url}"))
        .parse()
        .unwrap();
    assert_ne!(port, 0, "a free port was chosen");
    let token = started["token"].as_str().unwrap();
    assert_eq!(started["urlWithToken"], format!("{url}?token={token}"));

    let trips = get(port, "/api/trips");
    assert_eq!(trips["counts"]["booked"], 1, "{trips}");
    // Another `trip` writes the store while the console serves it.
    book(&store, "book-trip-car-fails.json");
    let trips = get(port, "/api/trips");
    assert_eq!(trips["counts"]["total"], 2, "{trips}");
    assert_eq!(trips["counts"]["compensated"], 1, "{trips}");
}

#[test]
fn trip_ui_needs_a_store_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = trip(&dir.path().join("trip.db"))
        .args(["--memory", "ui"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--memory has none"));
    let out = trip(&dir.path().join("none.db"))
        .arg("ui")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no store at"));
}
