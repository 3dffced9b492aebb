//! The console's server through HTTP: every route, the JSON it serves, 404s, the token and
//! origin checks, the Host check, the live stream, over a store the real runtime wrote.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;

use serde_json::Value;
use support::*;
use trip_ui::{Options, Running};

struct Fixture {
    _dir: tempfile::TempDir,
    store: std::path::PathBuf,
    ui: Running,
    agent: ureq::Agent,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("trip.db");
    build_store(&store);
    let ui = trip_ui::start(Options {
        store: store.clone(),
        port: 0,
    })
    .unwrap();
    let agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    Fixture {
        _dir: dir,
        store,
        ui,
        agent,
    }
}

impl Fixture {
    fn get(&self, path: &str) -> (u16, String, String) {
        let mut r = self
            .agent
            .get(format!("{}{}", self.ui.url(), path.trim_start_matches('/')))
            .call()
            .unwrap();
        let ct = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default();
        (
            r.status().as_u16(),
            ct,
            r.body_mut().read_to_string().unwrap(),
        )
    }

    fn json(&self, path: &str) -> Value {
        let (status, ct, body) = self.get(path);
        assert_eq!(status, 200, "{path}: {body}");
        assert_eq!(ct, "application/json; charset=utf-8", "{path}");
        serde_json::from_str(&body).unwrap()
    }

    fn post(&self, path: &str, headers: &[(&str, &str)]) -> (u16, Value) {
        let mut req = self
            .agent
            .post(format!("{}{}", self.ui.url(), path.trim_start_matches('/')));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut r = req.send_empty().unwrap();
        let body = r.body_mut().read_to_string().unwrap();
        (r.status().as_u16(), serde_json::from_str(&body).unwrap())
    }
}

fn enc(id: &str) -> String {
    percent_encode(id)
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn trip<'a>(list: &'a Value, id: &str) -> &'a Value {
    list["trips"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["tripId"] == id)
        .unwrap_or_else(|| panic!("{id} not in {list}"))
}

#[test]
fn the_trips_list_counts_filters_and_searches() {
    let f = fixture();
    let all = f.json("/api/trips");
    let counts = &all["counts"];
    assert_eq!(counts["total"], 6, "{counts}");
    assert_eq!(counts["booked"], 1);
    assert_eq!(counts["compensated"], 1);
    assert_eq!(counts["rejected"], 2);
    assert_eq!(counts["stuck"], 1);
    assert_eq!(counts["running"], 1);
    assert_eq!(counts["failed"], 0);
    assert_eq!(trip(&all, BOOKED)["state"], "booked");
    assert_eq!(trip(&all, BOOKED)["transitions"], 4);
    assert_eq!(trip(&all, BOOKED)["events"], 8);
    assert!(trip(&all, BOOKED)["durationMs"].is_i64());
    assert_eq!(trip(&all, COMPENSATED)["state"], "compensated");
    assert_eq!(trip(&all, COMPENSATED)["failedStep"], "BookCar");
    assert_eq!(trip(&all, REJECTED)["state"], "rejected");
    assert_eq!(trip(&all, HOSTILE_TRIP)["state"], "rejected");
    assert_eq!(trip(&all, STUCK)["state"], "stuck");
    assert_eq!(trip(&all, STUCK)["durationMs"], Value::Null);
    assert_eq!(trip(&all, RUNNING)["state"], "running");
    // Newest first.
    assert_eq!(all["trips"][0]["tripId"], RUNNING);

    let rejected = f.json("/api/trips?state=rejected");
    assert_eq!(rejected["matching"], 2);
    assert!(
        rejected["trips"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["state"] == "rejected")
    );
    let search = f.json("/api/trips?q=LISBON");
    let ids: Vec<&str> = search["trips"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["tripId"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [COMPENSATED, BOOKED], "search ignores case");
    assert_eq!(f.json("/api/trips?q=lisbon&state=booked")["matching"], 1);
    assert_eq!(
        f.json("/api/trips?limit=2")["trips"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    assert_eq!(f.json("/api/trips?limit=2")["matching"], 6);

    let (status, _, body) = f.get("/api/trips?state=lost");
    assert_eq!(status, 400);
    assert!(body.contains("unknown state"), "{body}");
    assert_eq!(f.get("/api/trips?limit=many").0, 400);

    let o = f.json("/api/overview");
    assert_eq!(o["counts"], all["counts"]);
    assert_eq!(o["deadLetters"], 1);
    assert_eq!(o["store"], f.store.display().to_string());
    assert!(o["lastSeq"].as_i64().unwrap() > 20);
}

#[test]
fn one_trip_links_its_events_and_history_and_shows_what_it_holds() {
    let f = fixture();
    let t = f.json(&format!("/api/trips/{COMPENSATED}"));
    assert_eq!(t["state"], "compensated");
    assert_eq!(t["outcome"]["outcome"], "failed");
    assert_eq!(t["execution"]["status"], "FAILED");
    let events = t["events"].as_array().unwrap();
    let history = t["history"].as_array().unwrap();
    let event = |dt: &str| events.iter().find(|e| e["detailType"] == dt).unwrap();
    let entry = |id: &Value| history.iter().find(|h| &h["id"] == id).unwrap();

    // The request started the execution.
    let req = event("TripBookingRequested");
    assert_eq!(req["link"], "caused");
    assert_eq!(entry(&req["historyId"])["eventType"], "ExecutionStarted");
    // The car command was sent by BookCar's task; the car's refusal failed that task.
    let cmd = event("CarBookingRequested");
    assert_eq!(cmd["link"], "emittedBy");
    let sent_by = entry(&cmd["historyId"]);
    assert_eq!(sent_by["eventType"], "TaskSubmitted");
    assert_eq!(sent_by["state"], "BookCar");
    assert_eq!(sent_by["eventIds"][0], cmd["eventId"]);
    let refusal = event("CarBookingFailed");
    assert_eq!(refusal["link"], "caused");
    let failed = entry(&refusal["historyId"]);
    assert_eq!(failed["eventType"], "TaskFailed");
    assert_eq!(failed["state"], "BookCar");
    assert_eq!(failed["error"], "Trip.BusinessError");
    assert!(
        failed["cause"]
            .as_str()
            .unwrap()
            .contains("NO_CAR_AVAILABLE")
    );
    assert!(failed["elapsedMs"].as_i64().unwrap() >= 0);
    assert_eq!(failed["eventIds"][0], refusal["eventId"]);
    // The final event was sent by the notify task.
    let last = event("TripBookingFailed");
    assert_eq!(
        entry(&last["historyId"])["state"],
        "NotifyTripBookingFailed"
    );
    // Every event of a saga that ran is linked to some history entry.
    assert!(events.iter().all(|e| e["historyId"].is_u64()), "{events:?}");

    // Bookings: the hotel and flight were booked and released, the car refused.
    let bookings = t["bookings"].as_array().unwrap();
    let hotel = bookings.iter().find(|b| b["service"] == "hotel").unwrap();
    assert_eq!(hotel["status"], "CANCELLED");
    assert_eq!(hotel["wasBooked"], true);
    assert_eq!(hotel["holds"].as_array().unwrap().len(), 4, "four nights");
    assert!(hotel["holds"][0]["capacity"].as_u64().unwrap() > 0);
    let car = bookings.iter().find(|b| b["service"] == "car").unwrap();
    assert!(
        car["failure"]
            .as_str()
            .unwrap()
            .starts_with("NO_CAR_AVAILABLE")
    );

    let booked = f.json(&format!("/api/trips/{BOOKED}"));
    let holds = &booked["bookings"].as_array().unwrap()[0]["holds"];
    assert!(
        holds[0]["held"].as_u64().unwrap() >= 1,
        "a booked trip holds inventory"
    );
    assert_eq!(
        booked["deadLetters"][0]["detailType"], HOSTILE_TYPE,
        "the dead letter names this trip"
    );

    // The hostile id round-trips through the path, percent-encoded.
    let hostile = f.json(&format!("/api/trips/{}", enc(HOSTILE_TRIP)));
    assert_eq!(hostile["tripId"], HOSTILE_TRIP);
    assert_eq!(hostile["outcome"]["outcome"], "rejected");
    assert!(!hostile["outcome"]["reasons"].as_array().unwrap().is_empty());
    assert_eq!(hostile["history"].as_array().unwrap().len(), 0);
}

#[test]
fn the_graph_marks_the_path_the_failed_state_and_the_compensations() {
    let f = fixture();
    let g = f.json(&format!("/api/trips/{COMPENSATED}/graph"));
    assert_eq!(g["stateMachine"], "trip-saga");
    let nodes = g["graph"]["nodes"].as_array().unwrap();
    let mark = |n: &str| {
        nodes.iter().find(|x| x["name"] == n).unwrap()["mark"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(mark("BookHotel"), "visited");
    assert_eq!(mark("BookFlight"), "visited");
    assert_eq!(mark("BookCar"), "failed");
    let compensation = [
        "BookCarFailed",
        "CancelCar",
        "CancelFlight",
        "CancelHotel",
        "DescribeTripFailure",
        "NotifyTripBookingFailed",
        "TripBookingFailed",
    ];
    for n in compensation {
        assert_eq!(mark(n), "compensation", "{n}");
    }
    assert_eq!(
        nodes.iter().filter(|n| n["mark"] == "compensation").count(),
        compensation.len()
    );
    assert_eq!(mark("NotifyTripBooked"), "idle");
    assert_eq!(mark("BookHotelFailed"), "idle");
    let taken = g["graph"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["taken"] == true)
        .count();
    assert_eq!(taken, 9, "ten states entered, nine edges between them");

    let stuck = f.json(&format!("/api/trips/{STUCK}/graph"));
    let current: Vec<&str> = stuck["graph"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["mark"] == "current")
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        current,
        ["BookFlight"],
        "the stuck trip waits in BookFlight"
    );

    // A rejected trip never started an execution: its graph shows nothing taken.
    let rejected = f.json(&format!("/api/trips/{REJECTED}/graph"));
    assert!(
        rejected["graph"]["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["mark"] == "idle")
    );
}

#[test]
fn the_dead_letters_come_with_their_reasons() {
    let f = fixture();
    let d = f.json("/api/dlq");
    let dead = d["deadLetters"].as_array().unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(dead[0]["queue"], "hotel");
    assert_eq!(
        dead[0]["receiveCount"], 5,
        "maxReceiveCount of the hotel queue"
    );
    assert_eq!(dead[0]["tripId"], BOOKED);
    assert!(!dead[0]["reason"].as_str().unwrap().is_empty());
    assert!(dead[0]["body"].as_str().unwrap().contains(HOSTILE_TYPE));
}

#[test]
fn unknown_routes_trips_and_methods_are_refused() {
    let f = fixture();
    let (status, ct, body) = f.get("/api/trips/no-such-trip");
    assert_eq!(
        (status, ct.as_str()),
        (404, "application/json; charset=utf-8")
    );
    assert!(body.contains("no trip \\\"no-such-trip\\\""), "{body}");
    assert_eq!(f.get("/api/trips/no-such-trip/graph").0, 404);
    assert_eq!(f.get("/api/nothing").0, 404);
    assert_eq!(f.get("/nothing").0, 404);
    assert_eq!(f.get("/assets/nothing.js").0, 404);
    assert_eq!(f.get("/api/dlq/redrive").0, 405);
    assert_eq!(f.post("/api/trips", &[]).0, 405);
}

#[test]
fn the_page_and_its_assets_are_embedded_and_load_nothing_from_elsewhere() {
    let f = fixture();
    let (status, ct, page) = f.get("/");
    assert_eq!((status, ct.as_str()), (200, "text/html; charset=utf-8"));
    assert!(page.contains("/assets/app.js") && page.contains("/assets/app.css"));
    for (path, want) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
        ("/assets/favicon.svg", "image/svg+xml"),
    ] {
        let (status, ct, body) = f.get(path);
        assert_eq!((status, ct.as_str()), (200, want), "{path}");
        // The only absolute URL any asset may hold is the SVG namespace.
        let urls = body.replace("http://www.w3.org/2000/svg", "");
        assert!(
            !urls.contains("http://") && !urls.contains("https://") && !urls.contains("//cdn"),
            "{path} refers to another site"
        );
    }
    assert!(!page.contains("http"), "the page refers to no other site");
    // Nothing of the page may set HTML from data.
    let (_, _, js) = f.get("/assets/app.js");
    for sink in [
        ".innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
    ] {
        assert!(!js.contains(sink), "app.js uses {sink}");
    }
    // And the policy forbids anything else anyway.
    let r = f.agent.get(f.ui.url()).call().unwrap();
    let csp = r.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("default-src 'none'") && csp.contains("script-src 'self'"));
    assert_eq!(r.headers()["x-content-type-options"], "nosniff");
    assert_eq!(r.headers()["x-frame-options"], "DENY");
}

#[test]
fn the_redrive_action_needs_the_token_and_the_consoles_own_origin() {
    let f = fixture();
    let token = f.ui.token().to_owned();
    assert_eq!(token.len(), 48, "24 random bytes, hex");
    let own = f.ui.url().trim_end_matches('/').to_owned();

    let (status, body) = f.post("/api/dlq/redrive", &[]);
    assert_eq!(status, 403, "{body}");
    assert!(body["error"].as_str().unwrap().contains("token"));
    let wrong = "0".repeat(48);
    assert_eq!(
        f.post("/api/dlq/redrive", &[("X-Trip-Token", &wrong)]).0,
        403
    );
    assert_eq!(
        f.post("/api/dlq/redrive", &[("X-Trip-Token", &token[..47])])
            .0,
        403
    );
    // Another page, even with the token, may not act.
    let (status, body) = f.post(
        "/api/dlq/redrive",
        &[("X-Trip-Token", &token), ("Origin", "http://evil.example")],
    );
    assert_eq!(status, 403);
    assert!(body["error"].as_str().unwrap().contains("cross-origin"));
    assert_eq!(
        f.json("/api/overview")["deadLetters"],
        1,
        "nothing was redriven"
    );

    let (status, body) = f.post(
        "/api/dlq/redrive",
        &[("X-Trip-Token", &token), ("Origin", &own)],
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["redriven"], 1);
    // The message is as bad as before: it fails its five receives again, back to the DLQ.
    assert_eq!(body["deadLettersLeft"], 1);
    let dead = f.json("/api/dlq");
    assert_eq!(dead["deadLetters"][0]["receiveCount"], 5);
    // Without Origin (not a browser), the token alone suffices.
    assert_eq!(
        f.post("/api/dlq/redrive", &[("X-Trip-Token", &token)]).0,
        200
    );
}

/// A raw request, to send the Host header a browser sends for a rebound DNS name.
fn raw(addr: std::net::SocketAddr, request: &str) -> String {
    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

#[test]
fn a_request_for_another_host_name_is_refused() {
    let f = fixture();
    let port = f.ui.addr().port();
    let rebound = raw(
        f.ui.addr(),
        "GET /api/trips HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert!(rebound.starts_with("HTTP/1.1 421"), "{rebound}");
    assert!(!rebound.contains(BOOKED), "no data for a foreign host");
    let other_port = raw(
        f.ui.addr(),
        &format!(
            "GET /api/trips HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n\r\n",
            port + 1
        ),
    );
    assert!(other_port.starts_with("HTTP/1.1 421"), "{other_port}");
    let localhost = raw(
        f.ui.addr(),
        &format!(
            "GET /api/overview HTTP/1.1\r\nHost: localhost:{port}\r\nConnection: close\r\n\r\n"
        ),
    );
    assert!(localhost.starts_with("HTTP/1.1 200"), "{localhost}");
    assert_eq!(f.ui.addr().ip(), std::net::Ipv4Addr::LOCALHOST);
}

#[test]
fn the_stream_announces_what_another_process_writes() {
    let f = fixture();
    let before = f.json("/api/overview")["lastSeq"].as_i64().unwrap();
    let r = f
        .agent
        .get(format!("{}api/stream", f.ui.url()))
        .call()
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut lines = BufReader::new(r.into_body().into_reader()).lines();
    let mut next_change = || loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(data) = line.strip_prefix("data: ") {
            let v: Value = serde_json::from_str(data).unwrap();
            return v["lastSeq"].as_i64().unwrap();
        }
    };
    assert_eq!(
        next_change(),
        before,
        "the stream starts with where the store is"
    );
    // Another writer (the runtime, as `trip book` would) books a trip while we listen.
    {
        let mut rt = trip_local::Runtime::open(trip_local::RuntimeOptions {
            store: Some(f.store.clone()),
            ..trip_local::RuntimeOptions::default()
        })
        .unwrap();
        rt.put_events(&renamed("trip-live-0001")).unwrap();
        rt.run_until_idle(None, |_| true).unwrap();
    }
    let after = next_change();
    assert!(after > before, "{after} > {before}");
    let list = f.json("/api/trips?q=trip-live");
    assert_eq!(list["trips"][0]["state"], "booked");
}

#[test]
fn a_missing_store_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let err = trip_ui::start(Options {
        store: dir.path().join("none.db"),
        port: 0,
    })
    .err()
    .unwrap();
    assert!(err.to_string().contains("no store at"), "{err}");
}
