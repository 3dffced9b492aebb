//! Task integrations: how a Task state's `Resource` is carried out.

use serde_json::{Value, json};

use crate::error::TaskError;

/// The resource of the built-in EventBridge integration.
pub const PUT_EVENTS: &str = "arn:aws:states:::events:putEvents";

/// The service integration pattern, from the resource's suffix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IntegrationPattern {
    RequestResponse,
    WaitForTaskToken,
    /// `.sync` / `.sync:2`: run the job and wait; integrations may answer `Pending` and
    /// complete later through `send_task_success`.
    Sync,
}

/// Splits `arn:...:putEvents.waitForTaskToken` into the base resource and its pattern.
pub fn split_resource(resource: &str) -> (&str, IntegrationPattern) {
    if let Some(base) = resource.strip_suffix(".waitForTaskToken") {
        (base, IntegrationPattern::WaitForTaskToken)
    } else if let Some(base) = resource.strip_suffix(".sync:2") {
        (base, IntegrationPattern::Sync)
    } else if let Some(base) = resource.strip_suffix(".sync") {
        (base, IntegrationPattern::Sync)
    } else {
        (resource, IntegrationPattern::RequestResponse)
    }
}

/// What a task integration is asked to do for one attempt of a Task state.
#[derive(Debug, Clone)]
pub struct TaskRequest<'a> {
    pub execution_arn: &'a str,
    pub state_name: &'a str,
    /// The full `Resource` of the state.
    pub resource: &'a str,
    /// The resource without its pattern suffix (the key integrations are registered under).
    pub base_resource: &'a str,
    pub pattern: IntegrationPattern,
    /// The resolved `Parameters` (or the effective input when there are none); for
    /// `.waitForTaskToken` it holds the token wherever the definition put `$$.Task.Token`.
    pub parameters: &'a Value,
    /// This attempt's token: `send_task_success(token, ..)` completes the attempt.
    pub task_token: &'a str,
    /// 0 for the first attempt of this state entry, then 1, 2, ... for retries.
    pub retry_count: u32,
    pub now_ms: i64,
}

/// How an attempt went.
#[derive(Debug, Clone, PartialEq)]
pub enum TaskOutcome {
    /// The result, right away (request-response).
    Completed(Value),
    /// The work was submitted; the result comes later through `send_task_*` with the token.
    /// The value is what the submission returned (recorded in `TaskSubmitted`).
    Pending(Value),
}

/// A pluggable implementation of Task resources. For `.waitForTaskToken` a `Completed` answer
/// is taken as the submission's response and the task still waits for its token.
pub trait TaskIntegration: Send {
    fn invoke(&mut self, request: &TaskRequest<'_>) -> Result<TaskOutcome, TaskError>;
}

/// Where `events:putEvents` tasks send their entries. `entries` are the `Entries` of the
/// resolved Parameters, as written in the definition (`Detail` is a JSON object, not a string).
/// Returns the PutEvents response: `{"Entries":[{"EventId":..}],"FailedEntryCount":0}`.
pub trait EventPublisher: Send {
    fn put_events(&mut self, entries: &[Value]) -> Result<Value, TaskError>;
}

/// The built-in `arn:aws:states:::events:putEvents` integration (request-response and
/// `.waitForTaskToken`).
pub struct PutEventsIntegration<P: EventPublisher> {
    publisher: P,
}

impl<P: EventPublisher> PutEventsIntegration<P> {
    pub fn new(publisher: P) -> Self {
        PutEventsIntegration { publisher }
    }

    pub fn publisher(&self) -> &P {
        &self.publisher
    }

    pub fn publisher_mut(&mut self) -> &mut P {
        &mut self.publisher
    }
}

/// Checks the `Entries` of a putEvents task the way EventBridge would.
pub fn validate_entries(parameters: &Value) -> Result<&Vec<Value>, TaskError> {
    let entries = parameters
        .get("Entries")
        .and_then(Value::as_array)
        .ok_or_else(|| {
            TaskError::new(
                "EventBridge.ValidationException",
                "putEvents parameters need an Entries array",
            )
        })?;
    if entries.is_empty() || entries.len() > 10 {
        return Err(TaskError::new(
            "EventBridge.ValidationException",
            "Entries must hold 1 to 10 entries",
        ));
    }
    for (i, e) in entries.iter().enumerate() {
        for field in ["Source", "DetailType", "Detail"] {
            if e.get(field).is_none() {
                return Err(TaskError::new(
                    "EventBridge.ValidationException",
                    format!("Entries[{i}] has no {field}"),
                ));
            }
        }
    }
    Ok(entries)
}

impl<P: EventPublisher> TaskIntegration for PutEventsIntegration<P> {
    fn invoke(&mut self, request: &TaskRequest<'_>) -> Result<TaskOutcome, TaskError> {
        let entries = validate_entries(request.parameters)?;
        let response = self.publisher.put_events(entries)?;
        let failed = response
            .get("FailedEntryCount")
            .and_then(Value::as_u64)
            .unwrap_or(0);
        if failed > 0 {
            return Err(TaskError::new(
                "EventBridge.FailedEntry",
                response.to_string(),
            ));
        }
        Ok(match request.pattern {
            IntegrationPattern::RequestResponse => TaskOutcome::Completed(response),
            _ => TaskOutcome::Pending(response),
        })
    }
}

/// A publisher that keeps every entry in memory and answers with sequential fake event ids.
#[derive(Debug, Default, Clone)]
pub struct RecordingPublisher {
    pub published: Vec<Value>,
}

impl EventPublisher for RecordingPublisher {
    fn put_events(&mut self, entries: &[Value]) -> Result<Value, TaskError> {
        let mut ids = Vec::new();
        for e in entries {
            self.published.push(e.clone());
            ids.push(
                json!({"EventId": format!("00000000-0000-0000-0000-{:012}", self.published.len())}),
            );
        }
        Ok(json!({"Entries": ids, "FailedEntryCount": 0}))
    }
}

/// Lets a shared publisher (e.g. `Arc<Mutex<Bus>>`) be handed to the engine.
impl<P: EventPublisher> EventPublisher for std::sync::Arc<std::sync::Mutex<P>> {
    fn put_events(&mut self, entries: &[Value]) -> Result<Value, TaskError> {
        let mut g = self.lock().map_err(|_| {
            TaskError::new("EventBridge.InternalException", "publisher lock poisoned")
        })?;
        g.put_events(entries)
    }
}
