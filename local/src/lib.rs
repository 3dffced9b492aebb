//! The embedded runtime: the whole trip saga on one machine, no AWS.
//!
//! - [`bus`]: PutEvents with EventBridge's checks, rules from the routing table;
//! - [`pattern`]: EventBridge event patterns, full content filtering;
//! - [`queue`]: SQS-like queues (visibility timeout, receive count, dead-letter queue);
//! - [`store`]: one SQLite file, group-committed once per step;
//! - [`runtime`]: the step loop driving the real handlers and the workflow interpreter;
//! - [`invariants`]: the saga's invariants, checked after a run;
//! - [`budget`]: the retry budgets of the routing table and the definition, and where they disagree;
//! - [`faults`]: seeded fault injection for simulation;
//! - [`simulate`]: seeded simulations of many sagas under faults, checked against the invariants;
//! - [`cost`]: dollars per million trips on AWS, priced from what the runtime counted.

pub mod adapters;
pub mod bench;
pub mod budget;
pub mod bus;
pub mod clock;
pub mod cost;
pub mod faults;
pub mod invariants;
pub mod pattern;
pub mod queue;
pub mod runtime;
pub mod simulate;
pub mod store;
pub mod trip_faults;

pub use store::Durability;

pub use runtime::{
    ClockChoice, LoggedEvent, RunStats, Runtime, RuntimeError, RuntimeOptions, TripOutcome,
    TripStatus, Violation, outcome_of,
};
