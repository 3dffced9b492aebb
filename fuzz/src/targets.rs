//! The fuzz targets' bodies, as plain functions: the cargo-fuzz binaries call them, and the
//! seed corpus and every regression run through them as ordinary tests (`cargo test` here, and
//! `tests/tests/fuzz_regressions.rs` in the workspace, which includes this file), so they also
//! run on stable without libFuzzer.
//!
//! Each target panics only on a broken property (a round trip that does not hold, a matcher
//! that answers differently for the same input); any other panic is a bug the fuzzer found.

use std::collections::BTreeMap;

use serde_json::Value;
use trip_events::{DetailType, EventEnvelope, PutEventsEntry, TripEvent, validate_trip_request};
use trip_local::pattern::EventPattern;
use trip_workflow::path::Path;

/// Splits an input at its first NUL byte (two inputs in one).
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == 0) {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[]),
    }
}

fn now() -> chrono::DateTime<chrono::Utc> {
    chrono::DateTime::from_timestamp(1_893_456_000, 0).unwrap_or_default()
}

/// Event decoding: envelopes, PutEvents entries, every detail-type, trip validation.
pub fn event_decode(data: &[u8]) {
    if let Ok(env) = serde_json::from_slice::<EventEnvelope>(data) {
        let _ = env.trip_id();
        if let Ok(event) = env.decode() {
            // What decodes re-encodes to a detail that decodes to the same event.
            let again = TripEvent::decode(&env.detail_type, &event.detail());
            assert_eq!(again.as_ref(), Ok(&event), "decode . detail . decode");
            let _ = event.trip_id();
            let _ = event.metadata();
        }
        let _ = validate_trip_request(&env.detail, now());
    }
    if let Ok(entry) = serde_json::from_slice::<PutEventsEntry>(data) {
        let _ = entry.size();
        let _ = entry.decode();
    }
    let Ok(value) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    for dt in DetailType::ALL {
        if let Ok(event) = TripEvent::decode(dt.as_str(), &value) {
            let again = TripEvent::decode(dt.as_str(), &event.detail());
            assert_eq!(again.as_ref(), Ok(&event), "{dt}: decode . detail . decode");
        }
    }
    if let Ok(request) = validate_trip_request(&value, now()) {
        // A request that validates still validates once re-encoded.
        let encoded = serde_json::to_value(&request).unwrap_or(Value::Null);
        let again = validate_trip_request(&encoded, now());
        assert!(again.is_ok(), "re-validation failed: {:?}", again.err());
    }
}

/// Scalar leaves of a JSON object reachable through object keys only, with their key paths.
/// A leaf may be an array of scalars (EventBridge matches a pattern value against any element).
fn object_leaves(v: &Value, at: &mut Vec<String>, out: &mut Vec<(Vec<String>, Value)>) {
    let Value::Object(m) = v else { return };
    for (k, child) in m {
        at.push(k.clone());
        match child {
            Value::Object(_) => object_leaves(child, at, out),
            Value::Array(items) => {
                for item in items.iter().filter(|i| !i.is_object() && !i.is_array()) {
                    out.push((at.clone(), item.clone()));
                }
            }
            scalar => out.push((at.clone(), scalar.clone())),
        }
        at.pop();
    }
}

/// `{"a": {"b": leaf}}` from `["a", "b"]` and the leaf's matcher.
fn nest(keys: &[String], matcher: Value) -> Value {
    keys.iter()
        .rev()
        .fold(matcher, |inner, k| serde_json::json!({ k.as_str(): inner }))
}

/// The event-pattern matcher, held to what the EventBridge documentation ("Event patterns",
/// "Content filtering") says of each field of an event: a pattern naming a field with the
/// field's own value matches the event; `anything-but` that value does not (for a field that
/// is not an array); `exists: true` matches and `exists: false` does not; adding fields the
/// pattern does not name changes nothing. Any pattern also runs against any event.
pub fn pattern(data: &[u8]) {
    let (a, b) = split(data);
    let fixed_event: Value = serde_json::json!({
        "version": "0", "id": "1", "detail-type": "HotelBooked", "source": "trip.hotel",
        "account": "1", "time": "2030-01-01T00:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": {"tripId": "t", "n": 3, "f": 1.5, "b": true, "z": null, "a": [1, "x", {"k": "v"}]}
    });
    let pattern_json: Option<Value> = serde_json::from_slice(a).ok();
    let event_json: Option<Value> = serde_json::from_slice(b).ok();
    let event = event_json
        .as_ref()
        .filter(|e| e.is_object())
        .unwrap_or(&fixed_event);
    if let Some(p) = &pattern_json
        && let Ok(compiled) = EventPattern::parse(p)
    {
        let matched = compiled.matches(event);
        // Fields the pattern does not name do not change its answer.
        if let Value::Object(m) = event {
            let mut wider = m.clone();
            wider.insert("zz-unnamed-by-any-pattern\u{1}".into(), Value::from(1));
            assert_eq!(
                compiled.matches(&Value::Object(wider)),
                matched,
                "an extra field changed the answer of {p}"
            );
        }
        let _ = compiled.to_string();
    }
    let mut leaves = Vec::new();
    object_leaves(event, &mut Vec::new(), &mut leaves);
    let in_array = |keys: &[String]| {
        let mut v = event;
        for k in keys {
            v = &v[k.as_str()];
        }
        v.is_array()
    };
    for (keys, leaf) in leaves.iter().take(64) {
        // An exact value: the field's own value matches.
        if let Ok(p) = EventPattern::parse(&nest(keys, Value::Array(vec![leaf.clone()]))) {
            assert!(
                p.matches(event),
                "{keys:?} = [{leaf}] does not match its own event"
            );
        }
        if leaf.is_null() {
            continue;
        }
        if let Ok(p) = EventPattern::parse(&nest(keys, serde_json::json!([{"exists": true}]))) {
            assert!(p.matches(event), "{keys:?} exists: true does not match");
        }
        if let Ok(p) = EventPattern::parse(&nest(keys, serde_json::json!([{"exists": false}]))) {
            assert!(
                !p.matches(event),
                "{keys:?} exists: false matches a present field"
            );
        }
        if !in_array(keys)
            && (leaf.is_string() || leaf.is_number())
            && let Ok(p) =
                EventPattern::parse(&nest(keys, serde_json::json!([{"anything-but": leaf}])))
        {
            assert!(
                !p.matches(event),
                "{keys:?} anything-but {leaf} matches {leaf}"
            );
        }
    }
    if let Ok(text) = std::str::from_utf8(a) {
        let _ = text.parse::<EventPattern>();
        let _ = trip_local::pattern::test_event_pattern(text, &event.to_string());
    }
}

/// Every value of a document with a reference path to it written out in the simple
/// notation (`$.a.b[0]`), where its keys allow it.
fn paths_to(v: &Value, at: &str, out: &mut Vec<(String, Value)>) {
    out.push((at.to_owned(), v.clone()));
    if out.len() > 256 {
        return;
    }
    match v {
        Value::Object(m) => {
            for (k, child) in m {
                let simple = k
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
                if simple {
                    paths_to(child, &format!("{at}.{k}"), out);
                }
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                paths_to(child, &format!("{at}[{i}]"), out);
            }
        }
        _ => {}
    }
}

/// ASL paths: any path against any document, and the interpreter held to a walk of the
/// document: the reference path to each value selects that value, and what `set` writes at a
/// reference path, `select` reads back.
pub fn asl_path(data: &[u8]) {
    let (a, b) = split(data);
    let doc: Value = serde_json::from_slice(b).unwrap_or_else(
        |_| serde_json::json!({"a": {"b": [1, 2, {"c": "d"}]}, "tripId": "t", "results": {}}),
    );
    let mut walked = Vec::new();
    paths_to(&doc, "$", &mut walked);
    for (text, value) in &walked {
        let path = Path::parse(text).unwrap_or_else(|e| panic!("{text} does not parse: {e}"));
        assert_eq!(path.select(&doc).as_ref(), Some(value), "select {text}");
    }
    let Ok(text) = std::str::from_utf8(a) else {
        return;
    };
    let Ok(path) = Path::parse(text) else {
        return;
    };
    let _ = path.select(&doc);
    if path.is_definite()
        && let Ok(written) = path.set(doc.clone(), Value::from("fuzz"))
    {
        assert_eq!(
            path.select(&written),
            Some(Value::from("fuzz")),
            "set . select at {text:?}"
        );
    }
}

/// Whole ASL definitions, with and without substitutions; one that loads also runs (scripted
/// tasks, virtual time) and its history is well formed: ids 1, 2, 3, ... each after the event
/// it names as previous, one start and at most one end.
pub fn asl_definition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let subs = BTreeMap::from([("EventBusName".to_owned(), "trip-saga".to_owned())]);
    let _ = trip_workflow::load_definition(text, &BTreeMap::new());
    if trip_workflow::load_definition(text, &subs).is_err() {
        return;
    }
    let Ok(run) = trip_workflow::run_scripted(
        text,
        &subs,
        serde_json::json!({}),
        &trip_workflow::Responses::default(),
    ) else {
        return;
    };
    let events = run.history["events"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e["id"].as_u64(), Some(i as u64 + 1), "event ids in order");
        if let Some(prev) = e["previousEventId"].as_u64() {
            assert!(prev <= i as u64, "event {} names a later one", i + 1);
        }
    }
    let count = |ty: &str| events.iter().filter(|e| e["type"] == ty).count();
    assert_eq!(count("ExecutionStarted"), 1);
    let ends: usize = [
        "ExecutionSucceeded",
        "ExecutionFailed",
        "ExecutionTimedOut",
        "ExecutionAborted",
    ]
    .iter()
    .map(|t| count(t))
    .sum();
    assert!(ends <= 1, "{ends} ends");
}

/// One trip request the runtime target puts, built from bytes: the shapes a client can send
/// (a good trip, one that fails at each step, invalid ones, duplicates, strangers on the bus).
fn entry_from(bytes: &[u8], i: usize) -> trip_events::PutEventsEntry {
    let b = |k: usize| bytes.get(k).copied().unwrap_or(0) as usize;
    // Dates that always validate (a stay within March), so that a repeated trip id is never
    // a valid request once and an invalid one another time.
    let day = 2 + b(1) % 20;
    let end = day + 1 + b(2) % 5;
    let trip = match b(0) % 11 {
        // a handful of trip ids, so that requests repeat
        0..=2 => format!("fz-{}", b(3) % 4),
        _ => format!("fz-{i}-{}", b(3)),
    };
    let (hotel, to, class) = match b(4) % 6 {
        0 => ("HTL-PAR-LOUVRE", "LIS", "compact"),
        1 => ("HTL-LIS-ALFAMA", "FNC", "compact"),
        2 => ("HTL-LIS-ALFAMA", "LIS", "luxury"),
        _ => ("HTL-LIS-ALFAMA", "LIS", "compact"),
    };
    let mut detail = serde_json::json!({
        "tripId": trip,
        "traveller": {"firstName": "F", "lastName": "Z", "email": "f@example.com"},
        "hotel": {"hotelId": hotel, "checkIn": format!("2031-03-{day:02}"),
                  "checkOut": format!("2031-03-{end:02}"), "guests": 1 + b(5) % 3},
        "flight": {"from": "JFK", "to": to, "departure": format!("2031-03-{:02}T08:00:00Z", day - 1),
                   "passengers": 1 + b(6) % 3},
        "car": {"pickUpLocation": "LIS", "pickUpAt": format!("2031-03-{day:02}T10:00:00Z"),
                "dropOffAt": format!("2031-03-{end:02}T10:00:00Z"), "carClass": class},
        "metadata": {"schemaVersion": "1", "correlationId": format!("fz-corr-{i}")}
    });
    // Invalid requests get trip ids of their own: their rejection is theirs alone.
    match b(7) % 9 {
        0 => detail["hotel"]["guests"] = Value::from(-1),
        1 => {
            detail["tripId"] = Value::from(format!("bad-{i}"));
            detail["flight"]
                .as_object_mut()
                .map(|f| f.remove("departure"));
        }
        2 => {
            detail.as_object_mut().map(|d| d.remove("tripId"));
        }
        3 => detail["tripId"] = Value::from(format!("bad {i} with spaces")),
        _ => {}
    }
    if b(7) % 9 == 0 {
        detail["tripId"] = Value::from(format!("bad-{i}"));
    }
    let (source, detail_type) = match b(8) % 13 {
        0 => ("someone.else", "TripBookingRequested"),
        1 => ("trip.client", "HotelBookingRequested"),
        _ => ("trip.client", "TripBookingRequested"),
    };
    trip_events::PutEventsEntry {
        source: source.to_owned(),
        detail_type: detail_type.to_owned(),
        detail: detail.to_string(),
        event_bus_name: Some(trip_events::DEFAULT_BUS_NAME.to_owned()),
        time: None,
        resources: Vec::new(),
        trace_header: None,
    }
}

/// The runtime end to end: any sequence of put-events entries (9 bytes each, at most 40)
/// through the embedded runtime (memory store, virtual clock), then every request the saga's
/// rule accepted ends in exactly one of a saga outcome (booked or compensated), a rejection
/// or a dead letter, and the saga's invariants hold.
pub fn runtime(data: &[u8]) {
    use trip_local::{ClockChoice, Runtime, RuntimeOptions, TripOutcome};
    let entries: Vec<_> = data
        .chunks(9)
        .take(40)
        .enumerate()
        .map(|(i, c)| entry_from(c, i))
        .collect();
    if entries.is_empty() {
        return;
    }
    let mut rt = Runtime::open(RuntimeOptions {
        clock: ClockChoice::Virtual {
            start_ms: 1_924_992_000_000,
        },
        ..RuntimeOptions::default()
    })
    .expect("a memory runtime opens");
    for call in entries.chunks(10) {
        let logged = rt.log().len();
        match rt.put_events(call) {
            Ok(_) => {}
            // A client may put `trip.client` events only (the events:source condition of its
            // grant on AWS): the whole call is refused, and nothing of it reaches the bus.
            Err(trip_local::RuntimeError::AccessDenied { .. }) => {
                assert_eq!(rt.log().len(), logged, "a refused call put nothing");
            }
            Err(e) => panic!("put-events: {e}"),
        }
    }
    rt.run_until_idle(None, |_| true).expect("the runtime runs");
    let violations = rt.check_invariants();
    assert!(violations.is_empty(), "{violations:?}");
    let dead: Vec<_> = rt.dead_letters();
    let requests: Vec<_> = rt
        .log()
        .iter()
        .filter(|e| {
            e.envelope.detail_type == "TripBookingRequested"
                && e.rules.iter().any(|r| r == "saga-bridge")
        })
        .collect();
    for req in requests {
        let env = &req.envelope;
        let correlation = env
            .detail
            .pointer("/metadata/correlationId")
            .and_then(Value::as_str)
            .filter(|c| !c.trim().is_empty() && c.chars().count() <= 128)
            .unwrap_or(&env.id)
            .to_owned();
        let outcome = env.trip_id().and_then(|t| rt.trip_outcome(t));
        // The saga answers the request that started it, and a repeat of that same request
        // (its outcome is published again); a different request under a used tripId is
        // rejected instead, so the trip's outcome is not its answer.
        let execution = env.trip_id().and_then(|t| rt.describe_execution(t));
        let answered_by_saga = execution.is_some_and(|x| {
            x.input.pointer("/metadata/correlationId") == Some(&Value::from(correlation.as_str()))
                || trip_booking::requests::same_request(&env.detail, &x.input.to_string())
        });
        let saga = (answered_by_saga
            && matches!(
                outcome,
                Some(TripOutcome::Booked | TripOutcome::Failed { .. } | TripOutcome::Stuck { .. })
            )) as usize;
        let rejected = rt
            .log()
            .iter()
            .filter(|e| e.envelope.detail_type == "TripBookingRejected")
            .any(|e| {
                e.envelope.detail.pointer("/metadata/correlationId")
                    == Some(&Value::from(correlation.as_str()))
            }) as usize;
        let dead_letter =
            dead.iter()
                .any(|m| m.event_id.as_deref() == Some(env.id.as_str())) as usize;
        assert_eq!(
            saga + rejected + dead_letter,
            1,
            "request {} (trip {:?}): outcome {outcome:?}, rejected {rejected}, dead {dead_letter}",
            env.id,
            env.trip_id()
        );
    }
}
