//! The booking side of the trip saga: the domain shared by the hotel, flight and car services,
//! the saga bridge, their ports and adapters, and the handlers that Lambda and the embedded
//! runtime both run.
//!
//! - [`inventory`]: what each service sells (built-in tables) and how a request becomes holds;
//! - [`domain`]: the booking rules as pure functions (keys, booking ids, decisions);
//! - [`ports`]: `BookingStore`, `EventPublisher`, `SagaWorkflow`;
//! - [`memory`]: in-memory adapters; [`adapters`]: DynamoDB, EventBridge, Step Functions;
//! - [`handlers`]: `handle_service_event`, `handle_bridge_event`, `process_sqs_batch`;
//! - [`requests`]: what the bridge does with a trip request (start, answer again, reject);
//! - [`lambda`]: the Lambda glue the four binaries call;
//! - [`metrics`] (CloudWatch EMF) and [`telemetry`] (JSON logs).

#[cfg(feature = "aws")]
pub mod adapters;
pub mod domain;
pub mod error;
pub mod handlers;
pub mod inventory;
#[cfg(feature = "aws")]
pub mod lambda;
pub mod memory;
pub mod metrics;
pub mod ports;
pub mod requests;
pub mod telemetry;

pub use domain::{
    BookDecision, BookOutcome, BookRequest, BookingRecord, BookingStatus, CancelDecision,
    CancelOutcome, ItemKey, booking_id, booking_key, decide_book, decide_cancel,
};
pub use error::{Error, ErrorKind, HandlerError, Refusal, reason};
#[cfg(feature = "aws")]
pub use handlers::messages_of;
pub use handlers::{
    BatchOutcome, Delivery, Handled, QueueMessage, handle_bridge_event, handle_service_event,
    handle_service_record, process_sqs_batch, process_sqs_records,
};
pub use memory::{MemoryBookingStore, MemoryState, RecordingPublisher, RecordingWorkflow};
pub use ports::{
    BookingStore, EventPublisher, ExecutionState, ExecutionSummary, SagaWorkflow, StartOutcome,
};
pub use trip_events::Service;
