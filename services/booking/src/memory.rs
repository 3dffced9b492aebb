//! In-memory adapters: a booking store, a publisher and a workflow that record what happens.
//! Used by the tests and by the embedded runtime (the store's state serializes, so it can be
//! snapshotted and restored).

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::{Mutex, MutexGuard};

use serde::{Deserialize, Serialize};
use trip_events::{Service, TripEvent};

use crate::domain::{
    BookDecision, BookOutcome, BookRequest, BookingRecord, CancelDecision, CancelOutcome, ItemKey,
    booking_key, decide_book, decide_cancel,
};
use crate::error::Error;
use crate::ports::{
    BookingStore, EventPublisher, ExecutionState, ExecutionSummary, SagaWorkflow, StartOutcome,
};

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the state half-written: every change is
    // computed first and applied without anything that can panic in between.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Units held on an inventory key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct InventoryLevel {
    pub held: u32,
    pub capacity: u32,
}

/// Everything a booking table holds: booking records by key, inventory levels by key.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct MemoryState {
    /// By `"{pk}|{sk}"` of [`booking_key`].
    pub bookings: BTreeMap<String, BookingRecord>,
    /// By inventory key.
    pub inventory: BTreeMap<String, InventoryLevel>,
}

fn map_key(key: &ItemKey) -> String {
    format!("{}|{}", key.pk, key.sk)
}

impl MemoryState {
    pub fn record(&self, service: Service, trip_id: &str) -> Option<&BookingRecord> {
        self.bookings.get(&map_key(&booking_key(service, trip_id)))
    }

    pub fn held(&self, inventory_key: &str) -> u32 {
        self.inventory.get(inventory_key).map_or(0, |l| l.held)
    }

    /// Applies a booking request (the rules of [`decide_book`]) to this state.
    pub fn apply_book(&mut self, request: &BookRequest) -> BookOutcome {
        let key = map_key(&request.key());
        let decision = decide_book(self.bookings.get(&key), request, |k| self.held(k));
        let outcome = decision.outcome();
        match decision {
            BookDecision::Book(record) => {
                if let Ok(plan) = &request.plan {
                    for hold in &plan.holds {
                        let level = self.inventory.entry(hold.key.clone()).or_default();
                        level.held += plan.units;
                        level.capacity = hold.capacity;
                    }
                }
                self.bookings.insert(key, record);
            }
            BookDecision::RecordFailure(record) => {
                self.bookings.insert(key, record);
            }
            BookDecision::Replay(_) => {}
        }
        outcome
    }

    /// Applies a cancellation (the rules of [`decide_cancel`]) to this state.
    pub fn apply_cancel(&mut self, service: Service, trip_id: &str) -> CancelOutcome {
        let key = map_key(&booking_key(service, trip_id));
        let decision = decide_cancel(self.bookings.get(&key), service, trip_id);
        let outcome = decision.outcome();
        match decision {
            CancelDecision::Release(record) => {
                for hold in &record.holds {
                    let level = self.inventory.entry(hold.clone()).or_default();
                    level.held = level.held.saturating_sub(record.units);
                }
                self.bookings.insert(key, record);
            }
            CancelDecision::Tombstone(record) | CancelDecision::MarkCancelled(record) => {
                self.bookings.insert(key, record);
            }
            CancelDecision::Replay(_) => {}
        }
        outcome
    }
}

/// A booking store in memory. One instance may serve all three services (keys include the
/// service).
#[derive(Debug, Default)]
pub struct MemoryBookingStore {
    state: Mutex<MemoryState>,
    faults: Mutex<VecDeque<Error>>,
}

impl MemoryBookingStore {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn from_state(state: MemoryState) -> Self {
        MemoryBookingStore {
            state: Mutex::new(state),
            faults: Mutex::default(),
        }
    }

    /// A copy of everything the store holds.
    pub fn snapshot(&self) -> MemoryState {
        lock(&self.state).clone()
    }

    /// Units held on an inventory key.
    pub fn held(&self, inventory_key: &str) -> u32 {
        lock(&self.state).held(inventory_key)
    }

    pub fn record(&self, service: Service, trip_id: &str) -> Option<BookingRecord> {
        lock(&self.state).record(service, trip_id).cloned()
    }

    /// Makes the next call fail with `error` (fault injection for tests and simulations).
    pub fn fail_next(&self, error: Error) {
        lock(&self.faults).push_back(error);
    }

    fn fault(&self) -> Result<(), Error> {
        match lock(&self.faults).pop_front() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

impl BookingStore for MemoryBookingStore {
    async fn book(&self, request: &BookRequest) -> Result<BookOutcome, Error> {
        self.fault()?;
        Ok(lock(&self.state).apply_book(request))
    }

    async fn cancel(&self, service: Service, trip_id: &str) -> Result<CancelOutcome, Error> {
        self.fault()?;
        Ok(lock(&self.state).apply_cancel(service, trip_id))
    }

    async fn get(&self, service: Service, trip_id: &str) -> Result<Option<BookingRecord>, Error> {
        self.fault()?;
        Ok(lock(&self.state).record(service, trip_id).cloned())
    }
}

/// A publisher that keeps what it is given.
#[derive(Debug, Default)]
pub struct RecordingPublisher {
    events: Mutex<Vec<TripEvent>>,
    failures: Mutex<usize>,
}

impl RecordingPublisher {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything published so far.
    pub fn events(&self) -> Vec<TripEvent> {
        lock(&self.events).clone()
    }

    /// Everything published so far, emptying the record.
    pub fn take(&self) -> Vec<TripEvent> {
        std::mem::take(&mut *lock(&self.events))
    }

    /// Makes the next `n` calls fail (transiently) without publishing.
    pub fn fail_next(&self, n: usize) {
        *lock(&self.failures) += n;
    }
}

impl EventPublisher for RecordingPublisher {
    async fn publish(&self, events: &[TripEvent]) -> Result<(), Error> {
        {
            let mut failures = lock(&self.failures);
            if *failures > 0 {
                *failures -= 1;
                return Err(Error::PublishFailed {
                    failed: events.len(),
                    total: events.len(),
                    message: "injected failure".into(),
                });
            }
        }
        lock(&self.events).extend_from_slice(events);
        Ok(())
    }
}

/// A call the bridge made on the workflow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkflowCall {
    StartExecution {
        name: String,
        input: String,
    },
    SendTaskSuccess {
        token: String,
        output: String,
    },
    SendTaskFailure {
        token: String,
        error: String,
        cause: String,
    },
}

/// A workflow that records calls. Executions are remembered by name (a second start is
/// `AlreadyExists`); tokens marked stale answer [`Error::StaleToken`].
#[derive(Debug, Default)]
pub struct RecordingWorkflow {
    calls: Mutex<Vec<WorkflowCall>>,
    executions: Mutex<BTreeMap<String, ExecutionSummary>>,
    stale: Mutex<BTreeSet<String>>,
    faults: Mutex<VecDeque<Error>>,
}

impl RecordingWorkflow {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn calls(&self) -> Vec<WorkflowCall> {
        lock(&self.calls).clone()
    }

    /// Callbacks with this token will be refused as stale.
    pub fn mark_stale(&self, token: &str) {
        lock(&self.stale).insert(token.to_owned());
    }

    /// Ends the execution `name` as Step Functions would report it (for the bridge's answers
    /// to repeated requests).
    pub fn finish(
        &self,
        name: &str,
        state: ExecutionState,
        output: Option<&str>,
        cause: Option<&str>,
    ) {
        if let Some(e) = lock(&self.executions).get_mut(name) {
            e.state = state;
            e.output = output.map(str::to_owned);
            e.error = (state == ExecutionState::Failed).then(|| "TripBookingFailed".to_owned());
            e.cause = cause.map(str::to_owned);
        }
    }

    /// Makes the next call fail with `error`.
    pub fn fail_next(&self, error: Error) {
        lock(&self.faults).push_back(error);
    }

    fn check(&self, token: Option<&str>) -> Result<(), Error> {
        if let Some(e) = lock(&self.faults).pop_front() {
            return Err(e);
        }
        if let Some(t) = token
            && lock(&self.stale).contains(t)
        {
            return Err(Error::StaleToken("TaskTimedOut".into()));
        }
        Ok(())
    }
}

impl SagaWorkflow for RecordingWorkflow {
    async fn start_execution(&self, name: &str, input: &str) -> Result<StartOutcome, Error> {
        self.check(None)?;
        lock(&self.calls).push(WorkflowCall::StartExecution {
            name: name.to_owned(),
            input: input.to_owned(),
        });
        let mut executions = lock(&self.executions);
        Ok(match executions.get(name) {
            Some(_) => StartOutcome::AlreadyExists,
            None => {
                executions.insert(
                    name.to_owned(),
                    ExecutionSummary {
                        state: ExecutionState::Running,
                        input: input.to_owned(),
                        output: None,
                        error: None,
                        cause: None,
                    },
                );
                StartOutcome::Started
            }
        })
    }

    async fn describe_execution(&self, name: &str) -> Result<Option<ExecutionSummary>, Error> {
        self.check(None)?;
        Ok(lock(&self.executions).get(name).cloned())
    }

    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), Error> {
        self.check(Some(token))?;
        lock(&self.calls).push(WorkflowCall::SendTaskSuccess {
            token: token.to_owned(),
            output: output.to_owned(),
        });
        Ok(())
    }

    async fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> Result<(), Error> {
        self.check(Some(token))?;
        lock(&self.calls).push(WorkflowCall::SendTaskFailure {
            token: token.to_owned(),
            error: error.to_owned(),
            cause: cause.to_owned(),
        });
        Ok(())
    }
}
