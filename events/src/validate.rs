//! Validation of a trip request: every problem, each with its field path and a reason.
//!
//! The request comes from outside, so the check runs on raw JSON first (shape, types, unknown
//! fields: a typo such as `chekIn` must not be ignored silently), then on the decoded values
//! (formats, order of dates, dates in the past, sizes).

use chrono::{DateTime, NaiveDate, Utc};
use regex::Regex;
use serde_json::{Map, Value};
use std::sync::LazyLock;

use crate::{CAR_CLASSES, MAX_ENTRY_BYTES, Reason, TripBookingRequested, entry_size};

/// A problem found in a request.
pub type Problem = Reason;

static TRIP_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Za-z0-9_-]{1,64}$").unwrap());
static IATA: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z]{3}$").unwrap());
static HOTEL_ID: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"^[A-Z0-9-]{1,32}$").unwrap());
static EMAIL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^[^@\s]+@[^@\s]+\.[^@\s]+$").unwrap());

const MAX_NAME: usize = 100;
const MAX_EMAIL: usize = 254;
const MAX_NIGHTS: i64 = 30;
const MAX_RENTAL_DAYS: i64 = 60;
const MAX_GUESTS: u64 = 8;
const MAX_PASSENGERS: u64 = 9;

#[derive(Clone, Copy)]
enum Kind {
    String,
    Count,
    Object(&'static [(&'static str, Kind, bool)]),
}

const TRAVELLER: &[(&str, Kind, bool)] = &[
    ("firstName", Kind::String, true),
    ("lastName", Kind::String, true),
    ("email", Kind::String, true),
];
const HOTEL: &[(&str, Kind, bool)] = &[
    ("hotelId", Kind::String, true),
    ("checkIn", Kind::String, true),
    ("checkOut", Kind::String, true),
    ("guests", Kind::Count, true),
];
const FLIGHT: &[(&str, Kind, bool)] = &[
    ("from", Kind::String, true),
    ("to", Kind::String, true),
    ("departure", Kind::String, true),
    ("return", Kind::String, false),
    ("passengers", Kind::Count, true),
];
const CAR: &[(&str, Kind, bool)] = &[
    ("pickUpLocation", Kind::String, true),
    ("pickUpAt", Kind::String, true),
    ("dropOffAt", Kind::String, true),
    ("carClass", Kind::String, true),
];
const METADATA: &[(&str, Kind, bool)] = &[
    ("schemaVersion", Kind::String, true),
    ("correlationId", Kind::String, true),
    ("taskToken", Kind::String, false),
];
const REQUEST: &[(&str, Kind, bool)] = &[
    ("tripId", Kind::String, true),
    ("traveller", Kind::Object(TRAVELLER), true),
    ("hotel", Kind::Object(HOTEL), true),
    ("flight", Kind::Object(FLIGHT), true),
    ("car", Kind::Object(CAR), true),
    ("metadata", Kind::Object(METADATA), false),
];

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_owned()
    } else {
        format!("{prefix}.{name}")
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn check_shape(
    obj: &Map<String, Value>,
    fields: &[(&str, Kind, bool)],
    prefix: &str,
    out: &mut Vec<Problem>,
) {
    for (name, kind, required) in fields {
        let path = join(prefix, name);
        match (obj.get(*name), kind) {
            (None, _) if *required => out.push(problem(&path, "is required")),
            (None, _) => {}
            (Some(Value::String(_)), Kind::String) => {}
            (Some(v), Kind::Count) if v.as_u64().is_some() => {}
            (Some(Value::Object(inner)), Kind::Object(spec)) => {
                check_shape(inner, spec, &path, out)
            }
            (Some(v), kind) => {
                let want = match kind {
                    Kind::String => "a string",
                    Kind::Count => "a whole number >= 0",
                    Kind::Object(_) => "an object",
                };
                out.push(problem(
                    &path,
                    &format!("must be {want}, found {}", json_type(v)),
                ));
            }
        }
    }
    for key in obj.keys() {
        if !fields.iter().any(|(name, _, _)| name == key) {
            out.push(problem(&join(prefix, key), "is not a known field"));
        }
    }
}

fn problem(path: &str, reason: &str) -> Problem {
    Reason {
        path: path.to_owned(),
        reason: reason.to_owned(),
    }
}

/// Validates a `TripBookingRequested` detail as it arrives from a client.
///
/// `now` decides what "in the past" means. Returns the decoded request, or every problem found.
pub fn validate_trip_request(
    detail: &Value,
    now: DateTime<Utc>,
) -> Result<TripBookingRequested, Vec<Problem>> {
    let mut problems = Vec::new();
    let Value::Object(obj) = detail else {
        return Err(vec![problem(
            "detail",
            &format!("must be an object, found {}", json_type(detail)),
        )]);
    };
    check_shape(obj, REQUEST, "", &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    let request: TripBookingRequested = match serde_json::from_value(detail.clone()) {
        Ok(r) => r,
        Err(e) => return Err(vec![problem("detail", &e.to_string())]),
    };
    check_values(&request, now, &mut problems);
    // The saga forwards parts of the request in its own events: keep the whole well under the
    // limit of one PutEvents entry.
    let size = entry_size(
        crate::source::CLIENT,
        "TripBookingRequested",
        &detail.to_string(),
        &[],
        false,
    );
    if size > MAX_ENTRY_BYTES {
        problems.push(problem(
            "detail",
            &format!("is {size} bytes; an EventBridge entry must stay under {MAX_ENTRY_BYTES}"),
        ));
    }
    if problems.is_empty() {
        Ok(request)
    } else {
        Err(problems)
    }
}

fn check_text(path: &str, value: &str, max: usize, out: &mut Vec<Problem>) -> bool {
    if value.trim().is_empty() {
        out.push(problem(path, "must not be empty"));
        false
    } else if value.chars().count() > max {
        out.push(problem(
            path,
            &format!(
                "is {} characters; at most {max} allowed",
                value.chars().count()
            ),
        ));
        false
    } else if value.chars().any(char::is_control) {
        out.push(problem(path, "must not contain control characters"));
        false
    } else {
        true
    }
}

fn parse_date(path: &str, value: &str, out: &mut Vec<Problem>) -> Option<NaiveDate> {
    match NaiveDate::parse_from_str(value, "%Y-%m-%d") {
        Ok(d) if value.len() == 10 => Some(d),
        _ => {
            out.push(problem(
                path,
                &format!("{value:?} is not a date in YYYY-MM-DD format"),
            ));
            None
        }
    }
}

fn parse_time(path: &str, value: &str, out: &mut Vec<Problem>) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(value) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            out.push(problem(
                path,
                &format!("{value:?} is not an RFC 3339 date-time such as 2031-06-09T22:15:00Z"),
            ));
            None
        }
    }
}

fn check_iata(path: &str, value: &str, out: &mut Vec<Problem>) {
    if !IATA.is_match(value) {
        out.push(problem(
            path,
            &format!("{value:?} is not a 3-letter IATA airport code in capitals"),
        ));
    }
}

fn check_values(r: &TripBookingRequested, now: DateTime<Utc>, out: &mut Vec<Problem>) {
    let today = now.date_naive();
    if !TRIP_ID.is_match(&r.trip_id) {
        out.push(problem(
            "tripId",
            "must be 1 to 64 characters of A-Z, a-z, 0-9, '_' and '-'",
        ));
    }

    check_text(
        "traveller.firstName",
        &r.traveller.first_name,
        MAX_NAME,
        out,
    );
    check_text("traveller.lastName", &r.traveller.last_name, MAX_NAME, out);
    if check_text("traveller.email", &r.traveller.email, MAX_EMAIL, out)
        && !EMAIL.is_match(&r.traveller.email)
    {
        out.push(problem("traveller.email", "is not an email address"));
    }

    let h = &r.hotel;
    if !HOTEL_ID.is_match(&h.hotel_id) {
        out.push(problem(
            "hotel.hotelId",
            "must be 1 to 32 characters of A-Z, 0-9 and '-'",
        ));
    }
    let check_in = parse_date("hotel.checkIn", &h.check_in, out);
    let check_out = parse_date("hotel.checkOut", &h.check_out, out);
    if let Some(ci) = check_in
        && ci < today
    {
        out.push(problem("hotel.checkIn", &format!("{ci} is in the past")));
    }
    if let (Some(ci), Some(co)) = (check_in, check_out) {
        let nights = (co - ci).num_days();
        if nights <= 0 {
            out.push(problem(
                "hotel.checkOut",
                &format!("{co} must be after check-in {ci}"),
            ));
        } else if nights > MAX_NIGHTS {
            out.push(problem(
                "hotel.checkOut",
                &format!("a stay of {nights} nights is longer than {MAX_NIGHTS}"),
            ));
        }
    }
    if !(1..=MAX_GUESTS).contains(&u64::from(h.guests)) {
        out.push(problem(
            "hotel.guests",
            &format!("must be between 1 and {MAX_GUESTS}"),
        ));
    }

    let f = &r.flight;
    check_iata("flight.from", &f.from, out);
    check_iata("flight.to", &f.to, out);
    if f.from == f.to {
        out.push(problem("flight.to", "must differ from flight.from"));
    }
    let departure = parse_time("flight.departure", &f.departure, out);
    if let Some(d) = departure
        && d <= now
    {
        out.push(problem("flight.departure", &format!("{d} is in the past")));
    }
    if let Some(ret) = &f.return_departure
        && let Some(ret) = parse_time("flight.return", ret, out)
        && let Some(dep) = departure
        && ret <= dep
    {
        // The original demo's own sample flew back before it left.
        out.push(problem(
            "flight.return",
            &format!("{ret} must be after the departure {dep}"),
        ));
    }
    if !(1..=MAX_PASSENGERS).contains(&u64::from(f.passengers)) {
        out.push(problem(
            "flight.passengers",
            &format!("must be between 1 and {MAX_PASSENGERS}"),
        ));
    }
    if u64::from(h.guests) > u64::from(f.passengers).max(1) * 4 {
        out.push(problem(
            "hotel.guests",
            "more than four guests per passenger is not a trip this service books",
        ));
    }
    if let (Some(dep), Some(ci)) = (departure, check_in)
        && ci < dep.date_naive()
    {
        out.push(problem(
            "hotel.checkIn",
            &format!("{ci} is before the flight departs on {}", dep.date_naive()),
        ));
    }

    let c = &r.car;
    check_iata("car.pickUpLocation", &c.pick_up_location, out);
    let pick_up = parse_time("car.pickUpAt", &c.pick_up_at, out);
    let drop_off = parse_time("car.dropOffAt", &c.drop_off_at, out);
    if let Some(p) = pick_up
        && p <= now
    {
        out.push(problem("car.pickUpAt", &format!("{p} is in the past")));
    }
    if let (Some(p), Some(d)) = (pick_up, drop_off) {
        if d <= p {
            out.push(problem(
                "car.dropOffAt",
                &format!("{d} must be after the pick-up {p}"),
            ));
        } else if (d - p).num_days() > MAX_RENTAL_DAYS {
            out.push(problem(
                "car.dropOffAt",
                &format!("a rental longer than {MAX_RENTAL_DAYS} days is not offered"),
            ));
        }
    }
    if let (Some(p), Some(dep)) = (pick_up, departure)
        && p < dep
    {
        out.push(problem(
            "car.pickUpAt",
            &format!("{p} is before the flight departs at {dep}"),
        ));
    }
    if !CAR_CLASSES.contains(&c.car_class.as_str()) {
        out.push(problem(
            "car.carClass",
            &format!("{:?} is not one of {}", c.car_class, CAR_CLASSES.join(", ")),
        ));
    }

    if let Some(m) = &r.metadata {
        if m.schema_version != crate::SCHEMA_VERSION {
            out.push(problem(
                "metadata.schemaVersion",
                &format!(
                    "version {:?} is not supported (expected {:?})",
                    m.schema_version,
                    crate::SCHEMA_VERSION
                ),
            ));
        }
        check_text("metadata.correlationId", &m.correlation_id, 128, out);
        if m.task_token.is_some() {
            out.push(problem(
                "metadata.taskToken",
                "a client request must not carry a task token",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use serde_json::json;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
    }

    fn valid() -> Value {
        json!({
            "tripId": "trip-1",
            "traveller": {"firstName": "Ada", "lastName": "Lovelace", "email": "ada@example.com"},
            "hotel": {"hotelId": "HTL-LIS-ALFAMA", "checkIn": "2031-06-10", "checkOut": "2031-06-14", "guests": 2},
            "flight": {"from": "JFK", "to": "LIS", "departure": "2031-06-09T22:15:00Z", "return": "2031-06-14T11:00:00Z", "passengers": 2},
            "car": {"pickUpLocation": "LIS", "pickUpAt": "2031-06-10T09:00:00Z", "dropOffAt": "2031-06-14T08:00:00Z", "carClass": "compact"},
            "metadata": {"schemaVersion": "1", "correlationId": "c-1"}
        })
    }

    fn paths(problems: &[Problem]) -> Vec<&str> {
        problems.iter().map(|p| p.path.as_str()).collect()
    }

    #[test]
    fn a_valid_request_decodes() {
        let r = validate_trip_request(&valid(), now()).unwrap();
        assert_eq!(r.trip_id, "trip-1");
        assert_eq!(
            r.flight.return_departure.as_deref(),
            Some("2031-06-14T11:00:00Z")
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_path() {
        // given a request with a return before its departure, a past check-in, an empty name,
        // a bad airport code and an unknown car class
        let mut r = valid();
        r["flight"]["return"] = json!("2031-06-01T10:00:00Z");
        r["hotel"]["checkIn"] = json!("2020-01-01");
        r["traveller"]["firstName"] = json!("  ");
        r["flight"]["to"] = json!("lisbon");
        r["car"]["carClass"] = json!("spaceship");
        // when
        let problems = validate_trip_request(&r, now()).unwrap_err();
        // then
        let p = paths(&problems);
        for expected in [
            "flight.return",
            "hotel.checkIn",
            "traveller.firstName",
            "flight.to",
            "car.carClass",
        ] {
            assert!(
                p.contains(&expected),
                "{expected} missing from {problems:?}"
            );
        }
    }

    #[test]
    fn shape_problems_are_all_reported_before_decoding() {
        let mut r = valid();
        r["hotel"]["guests"] = json!("two");
        r["flight"].as_object_mut().unwrap().remove("departure");
        r["car"]["chekIn"] = json!("x");
        let problems = validate_trip_request(&r, now()).unwrap_err();
        assert_eq!(
            paths(&problems),
            vec!["hotel.guests", "flight.departure", "car.chekIn"]
        );
        assert!(problems[0].reason.contains("found a string"));
    }

    #[test]
    fn trip_id_rules() {
        for bad in ["", "has space", "é", &"x".repeat(65)] {
            let mut r = valid();
            r["tripId"] = json!(bad);
            let problems = validate_trip_request(&r, now()).unwrap_err();
            assert_eq!(paths(&problems), vec!["tripId"], "{bad:?}");
        }
        let mut r = valid();
        r["tripId"] = json!("x".repeat(64));
        assert!(validate_trip_request(&r, now()).is_ok());
    }

    #[test]
    fn oversized_fields_are_refused() {
        let mut r = valid();
        r["traveller"]["lastName"] = json!("x".repeat(300_000));
        let problems = validate_trip_request(&r, now()).unwrap_err();
        let p = paths(&problems);
        assert!(p.contains(&"traveller.lastName"));
        assert!(p.contains(&"detail"), "{problems:?}");
    }

    #[test]
    fn not_an_object() {
        let problems = validate_trip_request(&json!([1]), now()).unwrap_err();
        assert_eq!(problems[0].path, "detail");
    }
}
