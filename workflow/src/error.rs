//! The crate's one error enum, plus the small value types that carry an ASL error name
//! through an execution (`Failure`) or out of a task integration (`TaskError`).

use serde::{Deserialize, Serialize};

/// Everything the interpreter's API can refuse. The variants that mirror a Step Functions API
/// error carry AWS's error name in [`WorkflowError::aws_error_name`], so adapters can map them
/// one to one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkflowError {
    /// The definition cannot be loaded: `location` names the state and field.
    #[error("invalid state machine definition at {location}: {message}")]
    InvalidDefinition { location: String, message: String },
    #[error("state machine does not exist: {0}")]
    StateMachineDoesNotExist(String),
    #[error("state machine already exists with a different definition: {0}")]
    StateMachineAlreadyExists(String),
    #[error("execution already exists: {0}")]
    ExecutionAlreadyExists(String),
    #[error("execution does not exist: {0}")]
    ExecutionDoesNotExist(String),
    #[error("invalid name: {0}")]
    InvalidName(String),
    #[error("invalid execution input: {0}")]
    InvalidExecutionInput(String),
    #[error("task does not exist: {0}")]
    TaskDoesNotExist(String),
    #[error("invalid token: {0}")]
    InvalidToken(String),
    #[error("task timed out: {0}")]
    TaskTimedOut(String),
    #[error("invalid output: {0}")]
    InvalidOutput(String),
    /// A request parameter is out of AWS's bounds (error or cause too long, ...).
    #[error("validation error: {0}")]
    Validation(String),
    /// No task integration is registered for a resource the definition uses.
    #[error("state '{state}': no task integration is registered for resource '{resource}'")]
    UnknownResource { state: String, resource: String },
    #[error("store error: {0}")]
    Store(String),
}

impl WorkflowError {
    /// The error name Step Functions' API would answer with.
    pub fn aws_error_name(&self) -> &'static str {
        match self {
            WorkflowError::InvalidDefinition { .. } => "InvalidDefinition",
            WorkflowError::StateMachineDoesNotExist(_) => "StateMachineDoesNotExist",
            WorkflowError::StateMachineAlreadyExists(_) => "StateMachineAlreadyExists",
            WorkflowError::ExecutionAlreadyExists(_) => "ExecutionAlreadyExists",
            WorkflowError::ExecutionDoesNotExist(_) => "ExecutionDoesNotExist",
            WorkflowError::InvalidName(_) => "InvalidName",
            WorkflowError::InvalidExecutionInput(_) => "InvalidExecutionInput",
            WorkflowError::TaskDoesNotExist(_) => "TaskDoesNotExist",
            WorkflowError::InvalidToken(_) => "InvalidToken",
            WorkflowError::TaskTimedOut(_) => "TaskTimedOut",
            WorkflowError::InvalidOutput(_) => "InvalidOutput",
            WorkflowError::Validation(_) => "ValidationException",
            WorkflowError::UnknownResource { .. } => "InvalidDefinition",
            WorkflowError::Store(_) => "InternalError",
        }
    }

    /// A stale or unknown callback: expected after timeouts and replays, to be logged and dropped.
    pub fn is_stale_callback(&self) -> bool {
        matches!(
            self,
            WorkflowError::TaskDoesNotExist(_)
                | WorkflowError::TaskTimedOut(_)
                | WorkflowError::InvalidToken(_)
        )
    }

    pub(crate) fn definition(location: impl Into<String>, message: impl Into<String>) -> Self {
        WorkflowError::InvalidDefinition {
            location: location.into(),
            message: message.into(),
        }
    }
}

/// An error raised by a task integration or an event publisher: an ASL error name (matched by
/// `Retry`/`Catch` `ErrorEquals`) and a cause.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskError {
    pub error: String,
    pub cause: String,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskError {
            error: error.into(),
            cause: cause.into(),
        }
    }
}

/// An error inside a running execution (what `Retry`/`Catch` see).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub error: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
}

impl Failure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Failure {
            error: error.into(),
            cause: Some(cause.into()),
        }
    }

    pub fn runtime(cause: impl Into<String>) -> Self {
        Failure::new(names::RUNTIME, cause)
    }

    pub fn intrinsic(cause: impl Into<String>) -> Self {
        Failure::new(names::INTRINSIC_FAILURE, cause)
    }

    /// The `{"Error": ..., "Cause": ...}` object a `Catch` hands to its `ResultPath`.
    pub fn to_catch_output(&self) -> serde_json::Value {
        let mut m = serde_json::Map::new();
        m.insert("Error".into(), self.error.clone().into());
        if let Some(c) = &self.cause {
            m.insert("Cause".into(), c.clone().into());
        }
        serde_json::Value::Object(m)
    }
}

impl From<TaskError> for Failure {
    fn from(e: TaskError) -> Self {
        Failure {
            error: e.error,
            cause: Some(e.cause),
        }
    }
}

/// The error names the States language predefines.
pub mod names {
    pub const ALL: &str = "States.ALL";
    pub const TASK_FAILED: &str = "States.TaskFailed";
    pub const TIMEOUT: &str = "States.Timeout";
    pub const HEARTBEAT_TIMEOUT: &str = "States.HeartbeatTimeout";
    pub const RUNTIME: &str = "States.Runtime";
    pub const DATA_LIMIT_EXCEEDED: &str = "States.DataLimitExceeded";
    pub const NO_CHOICE_MATCHED: &str = "States.NoChoiceMatched";
    pub const INTRINSIC_FAILURE: &str = "States.IntrinsicFailure";
    pub const BRANCH_FAILED: &str = "States.BranchFailed";
    pub const PERMISSIONS: &str = "States.Permissions";
    pub const EXCEED_TOLERATED_FAILURE_THRESHOLD: &str = "States.ExceedToleratedFailureThreshold";
}
