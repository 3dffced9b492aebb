//! Detail payloads of every event of the saga (camelCase JSON).
//!
//! Request types keep dates and codes as strings on purpose: a malformed request must still
//! decode, so that validation can report every problem at once instead of the first one serde
//! trips on. The schemas carry the formats.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DetailType, SCHEMA_VERSION, Service};

/// Carried by every detail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Version of the detail's schema.
    #[schemars(length(min = 1, max = 16))]
    pub schema_version: String,
    /// Ties every event of one saga together; chosen by the client or by the bridge.
    #[schemars(length(min = 1, max = 128))]
    pub correlation_id: String,
    /// The Step Functions task token the workflow waits on, echoed back by the service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 2048))]
    pub task_token: Option<String>,
    /// True on an outcome the bridge publishes again because the same request came again
    /// (its content is the original's; its source is `trip.bridge`, not `trip.saga`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub repeat: bool,
}

impl Metadata {
    pub fn new(correlation_id: impl Into<String>) -> Self {
        Metadata {
            schema_version: SCHEMA_VERSION.to_owned(),
            correlation_id: correlation_id.into(),
            task_token: None,
            repeat: false,
        }
    }

    pub fn with_task_token(mut self, token: impl Into<String>) -> Self {
        self.task_token = Some(token.into());
        self
    }

    /// The same correlation, without the token (outcomes of the saga carry none).
    pub fn without_token(&self) -> Self {
        Metadata {
            task_token: None,
            ..self.clone()
        }
    }
}

/// Who travels.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Traveller {
    #[schemars(length(min = 1, max = 100))]
    pub first_name: String,
    #[schemars(length(min = 1, max = 100))]
    pub last_name: String,
    #[schemars(email, length(max = 254))]
    pub email: String,
}

/// A hotel stay: one room per stay, `guests` people, nights from check-in to check-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HotelStay {
    #[schemars(regex(pattern = r"^[A-Z0-9-]{1,32}$"))]
    pub hotel_id: String,
    /// ISO date, `YYYY-MM-DD`.
    #[schemars(extend("format" = "date"))]
    pub check_in: String,
    /// ISO date, after check-in.
    #[schemars(extend("format" = "date"))]
    pub check_out: String,
    #[schemars(range(min = 1, max = 8))]
    pub guests: u32,
}

/// A flight, optionally with its return.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlightBooking {
    /// IATA airport code.
    #[schemars(regex(pattern = r"^[A-Z]{3}$"))]
    pub from: String,
    #[schemars(regex(pattern = r"^[A-Z]{3}$"))]
    pub to: String,
    /// RFC 3339 date-time.
    #[schemars(extend("format" = "date-time"))]
    pub departure: String,
    /// RFC 3339 date-time of the return flight, after the departure.
    #[serde(default, rename = "return", skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "date-time"))]
    pub return_departure: Option<String>,
    #[schemars(range(min = 1, max = 9))]
    pub passengers: u32,
}

/// Car classes a rental location may hold.
pub const CAR_CLASSES: &[&str] = &[
    "economy", "compact", "midsize", "fullsize", "suv", "luxury", "van",
];

/// A car rental.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CarRental {
    /// IATA code of the airport the car is picked up and dropped off at.
    #[schemars(regex(pattern = r"^[A-Z]{3}$"))]
    pub pick_up_location: String,
    #[schemars(extend("format" = "date-time"))]
    pub pick_up_at: String,
    #[schemars(extend("format" = "date-time"))]
    pub drop_off_at: String,
    #[schemars(extend("enum" = ["economy", "compact", "midsize", "fullsize", "suv", "luxury", "van"]))]
    pub car_class: String,
}

/// `TripBookingRequested`: a client asks for a whole trip; the bridge starts the saga.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TripBookingRequested {
    /// Chosen by the client; names the saga's execution, so a repeated request is a no-op.
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub trip_id: String,
    pub traveller: Traveller,
    pub hotel: HotelStay,
    pub flight: FlightBooking,
    pub car: CarRental,
    /// Optional on a request: the bridge fills in a correlation id when it is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
}

/// `HotelBookingRequested`: the workflow asks the hotel service for the stay.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HotelBookingRequested {
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub trip_id: String,
    pub traveller: Traveller,
    pub hotel: HotelStay,
    pub metadata: Metadata,
}

/// `FlightBookingRequested`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FlightBookingRequested {
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub trip_id: String,
    pub traveller: Traveller,
    pub flight: FlightBooking,
    pub metadata: Metadata,
}

/// `CarBookingRequested`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CarBookingRequested {
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub trip_id: String,
    pub traveller: Traveller,
    pub car: CarRental,
    pub metadata: Metadata,
}

/// `Hotel/Flight/CarBooked`: the service holds the booking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Booked {
    pub trip_id: String,
    pub service: Service,
    /// The service's reference for the booking, stable across duplicate requests.
    pub booking_id: String,
    pub metadata: Metadata,
}

/// Why a booking failed, and whether trying again could help.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum FailureKind {
    /// Sold out, invalid, cancelled: the saga compensates.
    Business,
    /// Throttled, timed out, lost a race: the workflow retries the step.
    Transient,
}

impl FailureKind {
    /// The Step Functions error name the workflow's Retry and Catch match on.
    pub fn error_name(self) -> &'static str {
        match self {
            FailureKind::Business => ERROR_BUSINESS,
            FailureKind::Transient => ERROR_TRANSIENT,
        }
    }
}

/// Error name sent with `SendTaskFailure` for a business failure: caught, compensated.
pub const ERROR_BUSINESS: &str = "Trip.BusinessError";
/// Error name sent with `SendTaskFailure` for a transient failure: retried forward.
pub const ERROR_TRANSIENT: &str = "Trip.TransientError";

/// `Hotel/Flight/CarBookingFailed`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BookingFailed {
    pub trip_id: String,
    pub service: Service,
    pub kind: FailureKind,
    /// Machine-readable reason, e.g. `SOLD_OUT`, `CANCELLED`, `INVALID_REQUEST`, `THROTTLED`.
    pub reason: String,
    /// For people.
    pub message: String,
    pub metadata: Metadata,
}

/// `Hotel/Flight/CarCancellationRequested`: undo whatever this trip holds with the service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CancellationRequested {
    #[schemars(regex(pattern = r"^[A-Za-z0-9_-]{1,64}$"))]
    pub trip_id: String,
    pub metadata: Metadata,
}

/// `Hotel/Flight/CarCancelled`: the trip holds nothing with the service any more.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Cancelled {
    pub trip_id: String,
    pub service: Service,
    /// The booking that was released, if there was one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<String>,
    /// False when nothing was held (the cancel arrived first, or the booking had failed).
    pub was_booked: bool,
    pub metadata: Metadata,
}

/// What the bridge hands to `SendTaskSuccess`, and what the workflow keeps per step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepResult {
    pub service: Service,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub booking_id: Option<String>,
    /// `BOOKED` or `CANCELLED`.
    pub status: String,
}

/// `TripBooked`: all three bookings are held.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TripBooked {
    pub trip_id: String,
    pub hotel: StepResult,
    pub flight: StepResult,
    pub car: StepResult,
    pub metadata: Metadata,
}

/// The `{Error, Cause}` object Step Functions gives a Catch.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct StepError {
    #[serde(rename = "Error")]
    pub error: String,
    #[serde(rename = "Cause", default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

/// `TripBookingFailed`: a step failed or timed out, and every earlier step was undone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TripBookingFailed {
    pub trip_id: String,
    /// The workflow state that failed, e.g. `BookCar`.
    pub failed_step: String,
    pub error: StepError,
    /// The compensations that ran, by service, last in first out.
    #[serde(default)]
    pub undone: BTreeMap<String, Value>,
    pub metadata: Metadata,
}

/// One problem with a request: where, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Reason {
    /// JSON path of the offending field inside the detail, e.g. `flight.return`.
    pub path: String,
    pub reason: String,
}

/// `TripBookingRejected`: the request was refused before any saga started.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TripBookingRejected {
    /// The trip id, when the request had a readable one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trip_id: Option<String>,
    /// Every problem found, not just the first.
    pub reasons: Vec<Reason>,
    pub metadata: Metadata,
}

/// `TripCompensationStuck`: a compensation failed through all its retries. The saga has ended
/// (its execution failed with `TripCompensationStuck`) and an alarm fires: someone must release
/// what may still be held by hand, then cancel it again (`trip dlq redrive` or a new cancel).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TripCompensationStuck {
    pub trip_id: String,
    /// The step whose failure started the compensation, e.g. `BookCar`.
    pub failed_step: String,
    /// The compensation that never succeeded, e.g. `CancelFlight`.
    pub stuck_step: String,
    /// The services whose bookings may still be held: the stuck one and every one not yet
    /// compensated, in compensation order.
    pub still_held: Vec<Service>,
    /// The stuck compensation's last error.
    pub error: StepError,
    pub metadata: Metadata,
}

/// Any detail of the saga, tagged by its detail-type.
#[derive(Debug, Clone, PartialEq)]
pub enum TripEvent {
    TripBookingRequested(TripBookingRequested),
    HotelBookingRequested(HotelBookingRequested),
    FlightBookingRequested(FlightBookingRequested),
    CarBookingRequested(CarBookingRequested),
    Booked(Booked),
    BookingFailed(BookingFailed),
    CancellationRequested(Service, CancellationRequested),
    Cancelled(Cancelled),
    TripBooked(TripBooked),
    TripBookingFailed(TripBookingFailed),
    TripBookingRejected(TripBookingRejected),
    TripCompensationStuck(TripCompensationStuck),
}

/// A detail that does not decode as its detail-type says it should.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("unknown detail-type {0:?}")]
    UnknownDetailType(String),
    #[error("{detail_type} detail is invalid at {path}: {message}")]
    InvalidDetail {
        detail_type: DetailType,
        path: String,
        message: String,
    },
    #[error("{detail_type} detail says service {found} but its detail-type belongs to {expected}")]
    ServiceMismatch {
        detail_type: DetailType,
        expected: Service,
        found: Service,
    },
}

fn decode<T: serde::de::DeserializeOwned>(
    dt: DetailType,
    detail: &Value,
) -> Result<T, DecodeError> {
    serde_path_to_error::deserialize(detail).map_err(|e| DecodeError::InvalidDetail {
        detail_type: dt,
        path: match e.path().to_string().as_str() {
            "." => "detail".to_owned(),
            p => format!("detail.{p}"),
        },
        message: e.into_inner().to_string(),
    })
}

impl TripEvent {
    /// Decodes a detail by its detail-type.
    pub fn decode(detail_type: &str, detail: &Value) -> Result<TripEvent, DecodeError> {
        let dt: DetailType = detail_type
            .parse()
            .map_err(|_| DecodeError::UnknownDetailType(detail_type.to_owned()))?;
        let check_service = |found: Service| match dt.service() {
            Some(expected) if expected != found => Err(DecodeError::ServiceMismatch {
                detail_type: dt,
                expected,
                found,
            }),
            _ => Ok(()),
        };
        Ok(match dt {
            DetailType::TripBookingRequested => {
                TripEvent::TripBookingRequested(decode(dt, detail)?)
            }
            DetailType::HotelBookingRequested => {
                TripEvent::HotelBookingRequested(decode(dt, detail)?)
            }
            DetailType::FlightBookingRequested => {
                TripEvent::FlightBookingRequested(decode(dt, detail)?)
            }
            DetailType::CarBookingRequested => TripEvent::CarBookingRequested(decode(dt, detail)?),
            DetailType::HotelBooked | DetailType::FlightBooked | DetailType::CarBooked => {
                let b: Booked = decode(dt, detail)?;
                check_service(b.service)?;
                TripEvent::Booked(b)
            }
            DetailType::HotelBookingFailed
            | DetailType::FlightBookingFailed
            | DetailType::CarBookingFailed => {
                let f: BookingFailed = decode(dt, detail)?;
                check_service(f.service)?;
                TripEvent::BookingFailed(f)
            }
            DetailType::HotelCancellationRequested
            | DetailType::FlightCancellationRequested
            | DetailType::CarCancellationRequested => {
                let service = dt.service().unwrap_or(Service::Hotel);
                TripEvent::CancellationRequested(service, decode(dt, detail)?)
            }
            DetailType::HotelCancelled | DetailType::FlightCancelled | DetailType::CarCancelled => {
                let c: Cancelled = decode(dt, detail)?;
                check_service(c.service)?;
                TripEvent::Cancelled(c)
            }
            DetailType::TripBooked => TripEvent::TripBooked(decode(dt, detail)?),
            DetailType::TripBookingFailed => TripEvent::TripBookingFailed(decode(dt, detail)?),
            DetailType::TripBookingRejected => TripEvent::TripBookingRejected(decode(dt, detail)?),
            DetailType::TripCompensationStuck => {
                TripEvent::TripCompensationStuck(decode(dt, detail)?)
            }
        })
    }

    pub fn detail_type(&self) -> DetailType {
        match self {
            TripEvent::TripBookingRequested(_) => DetailType::TripBookingRequested,
            TripEvent::HotelBookingRequested(_) => DetailType::HotelBookingRequested,
            TripEvent::FlightBookingRequested(_) => DetailType::FlightBookingRequested,
            TripEvent::CarBookingRequested(_) => DetailType::CarBookingRequested,
            TripEvent::Booked(b) => b.service.booked(),
            TripEvent::BookingFailed(f) => f.service.booking_failed(),
            TripEvent::CancellationRequested(s, _) => s.cancellation_requested(),
            TripEvent::Cancelled(c) => c.service.cancelled(),
            TripEvent::TripBooked(_) => DetailType::TripBooked,
            TripEvent::TripBookingFailed(_) => DetailType::TripBookingFailed,
            TripEvent::TripBookingRejected(_) => DetailType::TripBookingRejected,
            TripEvent::TripCompensationStuck(_) => DetailType::TripCompensationStuck,
        }
    }

    /// Who emits this event: the detail-type's source, except for an outcome published again
    /// for a repeated request, which is the bridge's.
    pub fn source(&self) -> &'static str {
        if self.metadata().is_some_and(|m| m.repeat) {
            return crate::source::BRIDGE;
        }
        self.detail_type().source()
    }

    /// The trip this event belongs to, when it names one.
    pub fn trip_id(&self) -> Option<&str> {
        Some(match self {
            TripEvent::TripBookingRequested(d) => &d.trip_id,
            TripEvent::HotelBookingRequested(d) => &d.trip_id,
            TripEvent::FlightBookingRequested(d) => &d.trip_id,
            TripEvent::CarBookingRequested(d) => &d.trip_id,
            TripEvent::Booked(d) => &d.trip_id,
            TripEvent::BookingFailed(d) => &d.trip_id,
            TripEvent::CancellationRequested(_, d) => &d.trip_id,
            TripEvent::Cancelled(d) => &d.trip_id,
            TripEvent::TripBooked(d) => &d.trip_id,
            TripEvent::TripBookingFailed(d) => &d.trip_id,
            TripEvent::TripBookingRejected(d) => return d.trip_id.as_deref(),
            TripEvent::TripCompensationStuck(d) => &d.trip_id,
        })
    }

    pub fn metadata(&self) -> Option<&Metadata> {
        match self {
            TripEvent::TripBookingRequested(d) => d.metadata.as_ref(),
            TripEvent::HotelBookingRequested(d) => Some(&d.metadata),
            TripEvent::FlightBookingRequested(d) => Some(&d.metadata),
            TripEvent::CarBookingRequested(d) => Some(&d.metadata),
            TripEvent::Booked(d) => Some(&d.metadata),
            TripEvent::BookingFailed(d) => Some(&d.metadata),
            TripEvent::CancellationRequested(_, d) => Some(&d.metadata),
            TripEvent::Cancelled(d) => Some(&d.metadata),
            TripEvent::TripBooked(d) => Some(&d.metadata),
            TripEvent::TripBookingFailed(d) => Some(&d.metadata),
            TripEvent::TripBookingRejected(d) => Some(&d.metadata),
            TripEvent::TripCompensationStuck(d) => Some(&d.metadata),
        }
    }

    /// The detail as JSON.
    pub fn detail(&self) -> Value {
        let r = match self {
            TripEvent::TripBookingRequested(d) => serde_json::to_value(d),
            TripEvent::HotelBookingRequested(d) => serde_json::to_value(d),
            TripEvent::FlightBookingRequested(d) => serde_json::to_value(d),
            TripEvent::CarBookingRequested(d) => serde_json::to_value(d),
            TripEvent::Booked(d) => serde_json::to_value(d),
            TripEvent::BookingFailed(d) => serde_json::to_value(d),
            TripEvent::CancellationRequested(_, d) => serde_json::to_value(d),
            TripEvent::Cancelled(d) => serde_json::to_value(d),
            TripEvent::TripBooked(d) => serde_json::to_value(d),
            TripEvent::TripBookingFailed(d) => serde_json::to_value(d),
            TripEvent::TripBookingRejected(d) => serde_json::to_value(d),
            TripEvent::TripCompensationStuck(d) => serde_json::to_value(d),
        };
        // Serializing these plain structs into a Value cannot fail (string keys, no maps with
        // non-string keys, no custom Serialize impls).
        r.unwrap_or(Value::Null)
    }
}
