//! The contract's checked-in artefacts (schemas, samples, routing table) agree with the types.

use std::path::PathBuf;

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use trip_events::*;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn validator(dt: DetailType) -> jsonschema::Validator {
    let path = root().join("schemas").join(format!("{}.json", dt.as_str()));
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()))
}

fn assert_valid(dt: DetailType, detail: &Value) {
    let v = validator(dt);
    let errors: Vec<String> = v.iter_errors(detail).map(|e| e.to_string()).collect();
    assert!(
        errors.is_empty(),
        "{dt} detail fails its schema: {errors:?}\n{detail:#}"
    );
}

#[test]
fn checked_in_schemas_match_the_types() {
    let dir = root().join("schemas");
    let update = std::env::var_os("UPDATE_SCHEMAS").is_some();
    let mut stale = Vec::new();
    for (name, text) in schema::all_schema_files() {
        let path = dir.join(&name);
        if update {
            std::fs::write(&path, &text).unwrap();
        } else if std::fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            stale.push(name);
        }
    }
    let on_disk = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(
        on_disk,
        DetailType::ALL.len(),
        "stray or missing files in {}",
        dir.display()
    );
    assert!(
        stale.is_empty(),
        "stale schemas {stale:?}: run `UPDATE_SCHEMAS=1 cargo test -p trip-events --test contract` and commit them"
    );
}

#[test]
fn schemas_are_draft_2020_12() {
    for dt in DetailType::ALL {
        let s = schema::schema_for(*dt);
        assert_eq!(s["$schema"], "https://json-schema.org/draft/2020-12/schema");
    }
}

fn sample(name: &str) -> Vec<PutEventsEntry> {
    read_entries_file(root().join("samples").join(name).to_str().unwrap()).unwrap()
}

const SAMPLES: &[&str] = &[
    "book-trip.json",
    "book-trip-hotel-fails.json",
    "book-trip-flight-fails.json",
    "book-trip-car-fails.json",
    "book-trip-invalid.json",
];

#[test]
fn every_sample_round_trips_through_the_types_and_its_schema() {
    let in_dir = std::fs::read_dir(root().join("samples")).unwrap().count();
    assert_eq!(
        in_dir,
        SAMPLES.len(),
        "a sample is not covered by this test"
    );
    for name in SAMPLES {
        for entry in sample(name) {
            assert_eq!(entry.source, source::CLIENT, "{name}");
            assert_eq!(entry.event_bus_name.as_deref(), Some(DEFAULT_BUS_NAME));
            assert!(entry.size() < MAX_ENTRY_BYTES);
            let detail = entry.detail_json().unwrap();
            let event = entry.decode().unwrap_or_else(|e| panic!("{name}: {e}"));
            // given the typed event, when it is serialized again, then nothing is lost or added
            assert_eq!(event.detail(), detail, "{name} does not round-trip");
            if *name != "book-trip-invalid.json" {
                assert_valid(event.detail_type(), &detail);
            }
        }
    }
}

fn now() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

#[test]
fn valid_samples_pass_validation_and_the_invalid_one_fails_for_every_reason() {
    for name in &SAMPLES[..4] {
        let detail = sample(name)[0].detail_json().unwrap();
        if let Err(p) = validate_trip_request(&detail, now()) {
            panic!("{name}: {p:?}");
        }
    }
    let detail = sample("book-trip-invalid.json")[0].detail_json().unwrap();
    let problems = validate_trip_request(&detail, now()).unwrap_err();
    let paths: Vec<&str> = problems.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "traveller.firstName",
        "traveller.email",
        "hotel.checkIn",
        "hotel.checkOut",
        "hotel.guests",
        "flight.to",
        "flight.return",
        "car.pickUpAt",
        "car.carClass",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} not reported: {problems:#?}"
        );
    }
    // the invalid sample still matches the schema's shape where it is only a value problem?
    // No: it must FAIL the schema too, so a client validating against it learns the same.
    let v = validator(DetailType::TripBookingRequested);
    assert!(!v.is_valid(&detail));
}

fn meta() -> Metadata {
    Metadata::new("corr-1").with_task_token("AQCEAAAAKgAAAAMAAAAA")
}

/// One example of every detail-type, built from the types.
fn examples() -> Vec<TripEvent> {
    let req: TripBookingRequested =
        serde_json::from_str(&sample("book-trip.json")[0].detail).unwrap();
    let mut events = vec![
        TripEvent::TripBookingRequested(req.clone()),
        TripEvent::HotelBookingRequested(HotelBookingRequested {
            trip_id: req.trip_id.clone(),
            traveller: req.traveller.clone(),
            hotel: req.hotel.clone(),
            metadata: meta(),
        }),
        TripEvent::FlightBookingRequested(FlightBookingRequested {
            trip_id: req.trip_id.clone(),
            traveller: req.traveller.clone(),
            flight: req.flight.clone(),
            metadata: meta(),
        }),
        TripEvent::CarBookingRequested(CarBookingRequested {
            trip_id: req.trip_id.clone(),
            traveller: req.traveller.clone(),
            car: req.car.clone(),
            metadata: meta(),
        }),
    ];
    let step = |s: Service| StepResult {
        service: s,
        booking_id: Some(format!("{s}-1")),
        status: "BOOKED".into(),
    };
    for s in Service::ALL {
        events.push(TripEvent::Booked(Booked {
            trip_id: "t".into(),
            service: s,
            booking_id: "b-1".into(),
            metadata: meta(),
        }));
        events.push(TripEvent::BookingFailed(BookingFailed {
            trip_id: "t".into(),
            service: s,
            kind: FailureKind::Business,
            reason: "SOLD_OUT".into(),
            message: "no rooms".into(),
            metadata: meta(),
        }));
        events.push(TripEvent::CancellationRequested(
            s,
            CancellationRequested {
                trip_id: "t".into(),
                metadata: meta(),
            },
        ));
        events.push(TripEvent::Cancelled(Cancelled {
            trip_id: "t".into(),
            service: s,
            booking_id: None,
            was_booked: false,
            metadata: meta(),
        }));
    }
    events.push(TripEvent::TripBooked(TripBooked {
        trip_id: "t".into(),
        hotel: step(Service::Hotel),
        flight: step(Service::Flight),
        car: step(Service::Car),
        metadata: Metadata::new("c"),
    }));
    events.push(TripEvent::TripBookingFailed(TripBookingFailed {
        trip_id: "t".into(),
        failed_step: "BookCar".into(),
        error: StepError {
            error: ERROR_BUSINESS.into(),
            cause: Some("SOLD_OUT".into()),
        },
        undone: [("car".to_owned(), json!({"status": "CANCELLED"}))].into(),
        metadata: Metadata::new("c"),
    }));
    events.push(TripEvent::TripCompensationStuck(TripCompensationStuck {
        trip_id: "t".into(),
        failed_step: "BookCar".into(),
        stuck_step: "CancelFlight".into(),
        still_held: vec![Service::Flight, Service::Hotel],
        error: StepError {
            error: "States.Timeout".into(),
            cause: None,
        },
        metadata: Metadata::new("c"),
    }));
    events.push(TripEvent::TripBookingRejected(TripBookingRejected {
        trip_id: None,
        reasons: vec![Reason {
            path: "tripId".into(),
            reason: "is required".into(),
        }],
        metadata: Metadata::new("c"),
    }));
    events
}

#[test]
fn every_detail_type_round_trips_and_matches_its_schema() {
    let events = examples();
    let mut covered: Vec<DetailType> = events.iter().map(TripEvent::detail_type).collect();
    covered.sort();
    covered.dedup();
    assert_eq!(covered.len(), DetailType::ALL.len());
    for event in events {
        let dt = event.detail_type();
        let entry = PutEventsEntry::for_event(&event, "bus");
        assert_eq!(entry.source, dt.source());
        let back = entry.decode().unwrap();
        assert_eq!(back, event, "{dt}");
        assert_valid(dt, &event.detail());
        let envelope =
            EventEnvelope::from_entry(&entry, "id-1", now(), "123456789012", "us-east-1").unwrap();
        let wire = serde_json::to_value(&envelope).unwrap();
        assert_eq!(wire["detail-type"], dt.as_str());
        assert_eq!(wire["time"], "2030-01-01T00:00:00Z");
        let env_back: EventEnvelope = serde_json::from_value(wire).unwrap();
        assert_eq!(env_back.decode().unwrap(), event);
    }
}

#[test]
fn an_outcome_from_the_wrong_service_is_refused() {
    let detail = json!({"tripId": "t", "service": "car", "bookingId": "b",
        "metadata": {"schemaVersion": "1", "correlationId": "c"}});
    let err = TripEvent::decode("HotelBooked", &detail).unwrap_err();
    assert!(matches!(err, DecodeError::ServiceMismatch { .. }), "{err}");
}

#[test]
fn a_malformed_detail_names_the_field() {
    let detail = json!({"tripId": "t", "service": "hotel", "bookingId": 7,
        "metadata": {"schemaVersion": "1", "correlationId": "c"}});
    let err = TripEvent::decode("HotelBooked", &detail).unwrap_err();
    assert!(err.to_string().contains("detail.bookingId"), "{err}");
    assert!(matches!(
        TripEvent::decode("HotelExploded", &detail),
        Err(DecodeError::UnknownDetailType(_))
    ));
}
