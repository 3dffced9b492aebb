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

/// The event-pattern matcher: any pattern against any event, and each against fixed ones.
pub fn pattern(data: &[u8]) {
    let (a, b) = split(data);
    let fixed_event: Value = serde_json::json!({
        "version": "0", "id": "1", "detail-type": "HotelBooked", "source": "trip.hotel",
        "account": "1", "time": "2030-01-01T00:00:00Z", "region": "eu-west-1", "resources": [],
        "detail": {"tripId": "t", "n": 3, "f": 1.5, "b": true, "z": null, "a": [1, "x", {"k": "v"}]}
    });
    let fixed_pattern = serde_json::json!({"source": [{"prefix": "trip."}], "detail": {"n": [{"numeric": [">", 1]}]}});
    let pattern_json: Option<Value> = serde_json::from_slice(a).ok();
    let event_json: Option<Value> = serde_json::from_slice(b).ok();
    if let Some(p) = &pattern_json
        && let Ok(compiled) = EventPattern::parse(p)
    {
        let event = event_json.as_ref().unwrap_or(&fixed_event);
        let first = compiled.matches(event);
        assert_eq!(first, compiled.matches(event), "a matcher answers one way");
        // A pattern's JSON form parses again to a matcher that agrees.
        if let Ok(again) = EventPattern::parse(compiled.as_json()) {
            assert_eq!(again.matches(event), first, "parse . as_json . parse");
        }
        let _ = compiled.to_string();
    }
    if let (Some(e), Ok(p)) = (&event_json, EventPattern::parse(&fixed_pattern)) {
        let _ = p.matches(e);
    }
    if let Ok(text) = std::str::from_utf8(a) {
        let _ = text.parse::<EventPattern>();
        let _ = trip_local::pattern::test_event_pattern(text, &fixed_event.to_string());
    }
}

/// ASL paths: parse, select, set.
pub fn asl_path(data: &[u8]) {
    let (a, b) = split(data);
    let Ok(text) = std::str::from_utf8(a) else {
        return;
    };
    let doc: Value = serde_json::from_slice(b).unwrap_or_else(
        |_| serde_json::json!({"a": {"b": [1, 2, {"c": "d"}]}, "tripId": "t", "results": {}}),
    );
    let Ok(path) = Path::parse(text) else {
        return;
    };
    let _ = path.as_str();
    let selected = path.select(&doc);
    if path.is_definite()
        && let Ok(written) = path.set(doc.clone(), Value::from("fuzz"))
    {
        // What a reference path writes, it reads back.
        assert_eq!(
            path.select(&written),
            Some(Value::from("fuzz")),
            "set . select at {text:?}"
        );
    }
    let _ = selected;
    if let Ok(again) = Path::parse(path.as_str()) {
        assert_eq!(
            again.select(&doc),
            path.select(&doc),
            "parse . as_str . parse"
        );
    }
}

/// Whole ASL definitions, with and without substitutions.
pub fn asl_definition(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let subs = BTreeMap::from([("EventBusName".to_owned(), "trip-saga".to_owned())]);
    let _ = trip_workflow::load_definition(text, &subs);
    let _ = trip_workflow::load_definition(text, &BTreeMap::new());
}
