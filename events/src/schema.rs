//! JSON Schemas (draft 2020-12) of every detail, generated from the types.
//!
//! The checked-in copies under `events/schemas/` are what non-Rust consumers read; a test
//! fails when they drift from the types (`UPDATE_SCHEMAS=1 cargo test -p trip-events`
//! rewrites them).

use schemars::{JsonSchema, generate::SchemaSettings};
use serde_json::Value;

use crate::DetailType;
use crate::model::*;

fn schema_of<T: JsonSchema>(dt: DetailType) -> Value {
    let generator = SchemaSettings::draft2020_12().into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    if let Value::Object(map) = &mut schema {
        map.insert(
            "$id".to_owned(),
            Value::String(format!(
                "https://trip-saga.dev/schemas/{}.json",
                dt.as_str()
            )),
        );
        map.insert("title".to_owned(), Value::String(dt.as_str().to_owned()));
    }
    schema
}

/// The schema of one detail-type's detail.
pub fn schema_for(dt: DetailType) -> Value {
    use DetailType::*;
    match dt {
        TripBookingRequested => schema_of::<crate::TripBookingRequested>(dt),
        HotelBookingRequested => schema_of::<crate::HotelBookingRequested>(dt),
        FlightBookingRequested => schema_of::<crate::FlightBookingRequested>(dt),
        CarBookingRequested => schema_of::<crate::CarBookingRequested>(dt),
        HotelBooked | FlightBooked | CarBooked => schema_of::<Booked>(dt),
        HotelBookingFailed | FlightBookingFailed | CarBookingFailed => {
            schema_of::<BookingFailed>(dt)
        }
        HotelCancellationRequested | FlightCancellationRequested | CarCancellationRequested => {
            schema_of::<CancellationRequested>(dt)
        }
        HotelCancelled | FlightCancelled | CarCancelled => schema_of::<Cancelled>(dt),
        TripBooked => schema_of::<crate::TripBooked>(dt),
        TripBookingFailed => schema_of::<crate::TripBookingFailed>(dt),
        TripBookingRejected => schema_of::<crate::TripBookingRejected>(dt),
        TripCompensationStuck => schema_of::<crate::TripCompensationStuck>(dt),
    }
}

/// Every schema, as (file name, pretty JSON with a trailing newline).
pub fn all_schema_files() -> Vec<(String, String)> {
    DetailType::ALL
        .iter()
        .map(|dt| {
            let text = serde_json::to_string_pretty(&schema_for(*dt)).unwrap_or_default();
            (format!("{}.json", dt.as_str()), text + "\n")
        })
        .collect()
}
