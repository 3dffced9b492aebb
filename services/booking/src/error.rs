//! The one error type of the booking services and the bridge.
//!
//! What matters to a saga is what to do next, so every error says which way it goes:
//! transient errors fail the SQS record and SQS redelivers it (forward recovery); business
//! refusals become `...BookingFailed` events and the workflow compensates (backward recovery);
//! a malformed record is dropped to its dead-letter queue and an alarm, since no retry can fix it.

use serde::{Deserialize, Serialize};

/// Which way an [`Error`] sends the saga.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Try again: SQS redelivers the record, the workflow retries the step.
    Transient,
    /// The booking cannot be made: the saga compensates.
    Business,
    /// A stale task token: the workflow has moved on, the callback is dropped.
    Stale,
    /// The record, request or configuration is wrong; retrying does not help.
    Terminal,
}

/// A business refusal: a machine-readable reason (`SOLD_OUT`, `FLIGHT_FULL`, ...) and a message
/// for people. It is what a `...BookingFailed` event carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Refusal {
    pub reason: String,
    pub message: String,
}

impl Refusal {
    pub fn new(reason: &str, message: impl Into<String>) -> Self {
        Refusal {
            reason: reason.to_owned(),
            message: message.into(),
        }
    }
}

/// Reasons of business refusals.
pub mod reason {
    pub const UNKNOWN_HOTEL: &str = "UNKNOWN_HOTEL";
    pub const SOLD_OUT: &str = "SOLD_OUT";
    pub const NO_SUCH_FLIGHT: &str = "NO_SUCH_FLIGHT";
    pub const FLIGHT_FULL: &str = "FLIGHT_FULL";
    pub const NO_CARS_AT_LOCATION: &str = "NO_CARS_AT_LOCATION";
    pub const NO_CAR_AVAILABLE: &str = "NO_CAR_AVAILABLE";
    pub const INVALID_REQUEST: &str = "INVALID_REQUEST";
    /// The trip's booking was cancelled before this request arrived.
    pub const CANCELLED: &str = "CANCELLED";
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    // --- transient ---
    #[error("throttled: {0}")]
    Throttled(String),
    #[error("timed out: {0}")]
    Timeout(String),
    /// A conditional check or transaction lost a race (`TransactionConflict`, a record that
    /// changed between read and write): the next attempt sees the winner's write.
    #[error("lost a race: {0}")]
    Conflict(String),
    #[error("unavailable: {0}")]
    Unavailable(String),
    #[error("{failed} of {total} events were not published: {message}")]
    PublishFailed {
        failed: usize,
        total: usize,
        message: String,
    },

    // --- business ---
    #[error("{}: {}", .0.reason, .0.message)]
    Business(Refusal),

    // --- stale callbacks ---
    /// `TaskTimedOut`, `InvalidToken`, `TaskDoesNotExist`: the workflow no longer waits.
    #[error("stale task token: {0}")]
    StaleToken(String),

    // --- terminal ---
    #[error("malformed record: {0}")]
    Malformed(String),
    #[error("event of {size} bytes exceeds the {limit} byte limit of an EventBridge entry")]
    EntryTooLarge { size: usize, limit: usize },
    #[error("misconfigured: {0}")]
    Config(String),
    /// Any other AWS error (validation, access denied, ...).
    #[error("{operation} failed with {code}: {message}")]
    Aws {
        operation: String,
        code: String,
        message: String,
    },
    /// The store holds something this code cannot read.
    #[error("corrupt record: {0}")]
    Corrupt(String),
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Error::Throttled(_)
            | Error::Timeout(_)
            | Error::Conflict(_)
            | Error::Unavailable(_)
            | Error::PublishFailed { .. } => ErrorKind::Transient,
            Error::Business(_) => ErrorKind::Business,
            Error::StaleToken(_) => ErrorKind::Stale,
            Error::Malformed(_)
            | Error::EntryTooLarge { .. }
            | Error::Config(_)
            | Error::Aws { .. }
            | Error::Corrupt(_) => ErrorKind::Terminal,
        }
    }

    pub fn is_transient(&self) -> bool {
        self.kind() == ErrorKind::Transient
    }

    /// A short name for logs and metrics.
    pub fn code(&self) -> &str {
        match self {
            Error::Throttled(_) => "Throttled",
            Error::Timeout(_) => "Timeout",
            Error::Conflict(_) => "Conflict",
            Error::Unavailable(_) => "Unavailable",
            Error::PublishFailed { .. } => "PublishFailed",
            Error::Business(r) => &r.reason,
            Error::StaleToken(_) => "StaleToken",
            Error::Malformed(_) => "Malformed",
            Error::EntryTooLarge { .. } => "EntryTooLarge",
            Error::Config(_) => "Config",
            Error::Aws { .. } => "Aws",
            Error::Corrupt(_) => "Corrupt",
        }
    }

    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Error::Malformed(message.into())
    }
}

/// What the handlers return on failure (the same enum: one per crate).
pub type HandlerError = Error;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_split_into_transient_business_stale_and_terminal() {
        assert!(Error::Throttled("x".into()).is_transient());
        assert!(Error::Conflict("x".into()).is_transient());
        assert!(
            Error::PublishFailed {
                failed: 1,
                total: 2,
                message: "x".into()
            }
            .is_transient()
        );
        assert_eq!(
            Error::Business(Refusal::new(reason::SOLD_OUT, "full")).kind(),
            ErrorKind::Business
        );
        assert_eq!(Error::StaleToken("x".into()).kind(), ErrorKind::Stale);
        assert_eq!(Error::Malformed("x".into()).kind(), ErrorKind::Terminal);
        assert!(!Error::Malformed("x".into()).is_transient());
    }
}
