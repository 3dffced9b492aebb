//! The ports the handlers run against. Adapters: [`crate::memory`] (tests, embedded runtime),
//! [`crate::adapters`] (AWS).
//!
//! Plain `async fn` in traits, used through generics: the Lambda adapters run on tokio, and the
//! embedded runtime polls the same handler futures on one thread with its own adapters.
#![allow(async_fn_in_trait)]

use trip_events::{Service, TripEvent};

use crate::domain::{BookOutcome, BookRequest, BookingRecord, CancelOutcome};
use crate::error::Error;

/// One service's booking table. Each call is atomic: the record and the inventory change
/// together or not at all, following [`crate::domain::decide_book`] and
/// [`crate::domain::decide_cancel`].
pub trait BookingStore {
    /// Books (or replays the recorded outcome). Business refusals are `Ok(BookOutcome::Failed)`;
    /// `Err` is transient or terminal.
    async fn book(&self, request: &BookRequest) -> Result<BookOutcome, Error>;
    /// Cancels whatever the trip holds with `service`, leaving a tombstone.
    async fn cancel(&self, service: Service, trip_id: &str) -> Result<CancelOutcome, Error>;
    /// The trip's booking record, if any.
    async fn get(&self, service: Service, trip_id: &str) -> Result<Option<BookingRecord>, Error>;
}

/// Puts events on the bus.
pub trait EventPublisher {
    /// Publishes every event, or fails (transient: the caller's record is retried, and the
    /// events it already published are published again, which consumers tolerate).
    async fn publish(&self, events: &[TripEvent]) -> Result<(), Error>;
}

/// What `start_execution` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartOutcome {
    Started,
    /// An execution with this name exists: the trip's saga already runs (or ran).
    AlreadyExists,
}

/// Where an execution is, as `DescribeExecution` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExecutionState {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionState {
    /// `DescribeExecution`'s `status` (RUNNING, SUCCEEDED, FAILED, TIMED_OUT, ABORTED;
    /// PENDING_REDRIVE counts as failed: the execution is closed until someone redrives it).
    pub fn parse(status: &str) -> Option<Self> {
        Some(match status {
            "RUNNING" => ExecutionState::Running,
            "SUCCEEDED" => ExecutionState::Succeeded,
            "FAILED" | "PENDING_REDRIVE" => ExecutionState::Failed,
            "TIMED_OUT" => ExecutionState::TimedOut,
            "ABORTED" => ExecutionState::Aborted,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionState::Running => "RUNNING",
            ExecutionState::Succeeded => "SUCCEEDED",
            ExecutionState::Failed => "FAILED",
            ExecutionState::TimedOut => "TIMED_OUT",
            ExecutionState::Aborted => "ABORTED",
        }
    }
}

/// What the bridge needs of an existing execution to answer a request for its trip again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecutionSummary {
    pub state: ExecutionState,
    /// The JSON input the execution started with.
    pub input: String,
    /// The JSON output (set only when it succeeded).
    pub output: Option<String>,
    pub error: Option<String>,
    pub cause: Option<String>,
}

/// The saga's workflow engine (Step Functions on AWS).
///
/// Errors: [`Error::StaleToken`] for `TaskTimedOut`/`InvalidToken`/`TaskDoesNotExist`;
/// transient errors ([`Error::Throttled`], [`Error::Unavailable`], ...); anything else is
/// [`Error::Aws`] (terminal).
pub trait SagaWorkflow {
    /// Starts the execution `name` with a JSON `input`.
    async fn start_execution(&self, name: &str, input: &str) -> Result<StartOutcome, Error>;
    /// The execution `name`, if it exists (`DescribeExecution`; `ExecutionDoesNotExist` is
    /// `None`).
    async fn describe_execution(&self, name: &str) -> Result<Option<ExecutionSummary>, Error>;
    /// Completes the task waiting on `token` with a JSON `output`.
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), Error>;
    /// Fails the task waiting on `token`.
    async fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> Result<(), Error>;
}

// Shared adapters (the embedded runtime keeps them in `Arc`s) are adapters too.

impl<T: BookingStore> BookingStore for std::sync::Arc<T> {
    async fn book(&self, request: &BookRequest) -> Result<BookOutcome, Error> {
        (**self).book(request).await
    }
    async fn cancel(&self, service: Service, trip_id: &str) -> Result<CancelOutcome, Error> {
        (**self).cancel(service, trip_id).await
    }
    async fn get(&self, service: Service, trip_id: &str) -> Result<Option<BookingRecord>, Error> {
        (**self).get(service, trip_id).await
    }
}

impl<T: EventPublisher> EventPublisher for std::sync::Arc<T> {
    async fn publish(&self, events: &[TripEvent]) -> Result<(), Error> {
        (**self).publish(events).await
    }
}

impl<T: SagaWorkflow> SagaWorkflow for std::sync::Arc<T> {
    async fn start_execution(&self, name: &str, input: &str) -> Result<StartOutcome, Error> {
        (**self).start_execution(name, input).await
    }
    async fn describe_execution(&self, name: &str) -> Result<Option<ExecutionSummary>, Error> {
        (**self).describe_execution(name).await
    }
    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), Error> {
        (**self).send_task_success(token, output).await
    }
    async fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> Result<(), Error> {
        (**self).send_task_failure(token, error, cause).await
    }
}
