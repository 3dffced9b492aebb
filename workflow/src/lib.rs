//! The trip saga's state machine and an Amazon States Language (JSONPath mode) interpreter
//! with Step Functions semantics: deterministic, single-threaded and step-driven.
//!
//! Driving it:
//! 1. build an [`Engine`] over an [`ExecutionStore`], a [`Clock`] and a [`RandomSource`];
//! 2. register task integrations ([`Engine::register_event_publisher`] for
//!    `arn:aws:states:::events:putEvents`, [`Engine::register_integration`] for others);
//! 3. [`Engine::create_state_machine`], [`Engine::start_execution`];
//! 4. call [`Engine::run`] whenever something may have happened (a start, a callback through
//!    [`Engine::send_task_success`] and friends, or time reaching [`Engine::next_wakeup`]).

pub mod choice;
pub mod definition;
pub mod engine;
pub mod error;
pub mod filter;
pub mod history;
pub mod integrations;
pub mod intrinsics;
pub mod path;
pub mod scripted;
pub mod store;

use std::collections::BTreeMap;

pub use definition::StateMachine;
pub use engine::{
    Clock, Engine, EngineConfig, ExecutionDescription, ExecutionRecord, ExecutionStatus, RunReport,
    StartedExecution, SystemClock, VirtualClock,
};
pub use error::{Failure, TaskError, WorkflowError};
pub use history::{HistoryEvent, history_json};
pub use integrations::{
    EventPublisher, IntegrationPattern, PUT_EVENTS, PutEventsIntegration, RecordingPublisher,
    TaskIntegration, TaskOutcome, TaskRequest,
};
pub use intrinsics::{RandomSource, SeededRandom};

pub use scripted::{Responses, ScriptedResponse, ScriptedRun, run_scripted};
pub use store::{ExecutionStore, MemoryStore, StoredStateMachine, WriteBatch};

/// The trip saga's definition (JSONPath ASL, with a `${EventBusName}` substitution).
pub const TRIP_SAGA_ASL: &str = include_str!("../trip-saga.asl.json");

/// The state machine's name wherever the saga is deployed or run locally.
pub const TRIP_SAGA_NAME: &str = "trip-saga";

/// The substitutions the trip saga needs.
pub fn trip_saga_substitutions(event_bus_name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([("EventBusName".to_string(), event_bus_name.to_string())])
}

/// Loads and validates the trip saga for an event bus.
pub fn load_trip_saga(event_bus_name: &str) -> Result<StateMachine, WorkflowError> {
    definition::load(TRIP_SAGA_ASL, &trip_saga_substitutions(event_bus_name))
}

/// Parses and validates any definition with substitutions.
pub fn load_definition(
    definition_json: &str,
    substitutions: &BTreeMap<String, String>,
) -> Result<StateMachine, WorkflowError> {
    definition::load(definition_json, substitutions)
}
