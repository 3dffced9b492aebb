//! The trip saga's event contract.
//!
//! Everything that crosses the event bus is defined here once: the sources and detail-types,
//! the detail payloads, the EventBridge envelope and PutEvents entry, the validation of a trip
//! request, the JSON Schemas generated from these types, and the routing table (rule -> pattern
//! -> target) that both the CDK app and the embedded runtime deploy.

mod catalogue;
mod envelope;
mod model;
pub mod routing;
pub mod schema;
mod validate;

pub use catalogue::{DetailType, Service, source};
pub use envelope::{
    EnvelopeError, EventEnvelope, MAX_ENTRY_BYTES, PutEventsEntry, entry_size, read_entries_file,
};
pub use model::*;
pub use validate::{Problem, validate_trip_request};

/// Version of every detail's schema, carried in `metadata.schemaVersion`.
pub const SCHEMA_VERSION: &str = "1";

/// Name of the custom event bus, unless a deployment overrides it.
pub const DEFAULT_BUS_NAME: &str = "trip-saga";
