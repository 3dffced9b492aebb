//! Durable storage of state machines, executions and their histories.
//!
//! The engine never writes on its own: it collects the changes of each call in a
//! [`WriteBatch`] and hands it to [`ExecutionStore::write`] when the caller calls
//! [`crate::Engine::flush`] (or after each call, with `auto_flush`). One batch holds at most one
//! record per changed execution plus the history events appended since the last flush, so a
//! store can commit it in one transaction.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};

use serde::{Deserialize, Serialize};

use crate::engine::ExecutionRecord;
use crate::error::WorkflowError;
use crate::history::HistoryEvent;

/// A registered state machine: its definition text and substitutions, so a new engine can
/// load it again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredStateMachine {
    pub arn: String,
    pub name: String,
    pub definition: String,
    pub substitutions: BTreeMap<String, String>,
    pub created_ms: i64,
}

/// The changes of one or more engine calls, to be committed together.
#[derive(Debug, Clone, Default)]
pub struct WriteBatch {
    pub state_machines: Vec<StoredStateMachine>,
    /// The current record of each changed execution (replaces the stored one).
    pub executions: Vec<ExecutionRecord>,
    /// History events to append, per execution ARN, in order.
    pub history: Vec<(String, Vec<HistoryEvent>)>,
}

impl WriteBatch {
    pub fn is_empty(&self) -> bool {
        self.state_machines.is_empty() && self.executions.is_empty() && self.history.is_empty()
    }
}

/// Where executions live between engine instances. `ExecutionRecord` and `HistoryEvent` are
/// serde types: a store may keep them as JSON (one small record per execution, plus an
/// append-only event list).
pub trait ExecutionStore: Send {
    fn load_state_machines(&mut self) -> Result<Vec<StoredStateMachine>, WorkflowError>;
    /// Executions whose status is RUNNING (to be resumed by a new engine).
    fn load_running_executions(&mut self) -> Result<Vec<ExecutionRecord>, WorkflowError>;
    fn load_execution(&mut self, arn: &str) -> Result<Option<ExecutionRecord>, WorkflowError>;
    fn load_history(&mut self, arn: &str) -> Result<Vec<HistoryEvent>, WorkflowError>;
    /// Commits a batch atomically.
    fn write(&mut self, batch: WriteBatch) -> Result<(), WorkflowError>;
}

#[derive(Debug, Default)]
struct MemoryInner {
    machines: BTreeMap<String, StoredStateMachine>,
    executions: HashMap<String, ExecutionRecord>,
    history: HashMap<String, Vec<HistoryEvent>>,
    batches: u64,
}

/// An in-memory store. Clones share the same data, so a test can build a second engine over
/// the first one's store (a restart).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    inner: Arc<Mutex<MemoryInner>>,
}

impl MemoryStore {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> Result<MutexGuard<'_, MemoryInner>, WorkflowError> {
        self.inner
            .lock()
            .map_err(|_| WorkflowError::Store("memory store lock poisoned".into()))
    }

    /// How many batches were committed (to check that writes are batched).
    pub fn batches_written(&self) -> u64 {
        self.lock().map(|g| g.batches).unwrap_or(0)
    }
}

impl ExecutionStore for MemoryStore {
    fn load_state_machines(&mut self) -> Result<Vec<StoredStateMachine>, WorkflowError> {
        Ok(self.lock()?.machines.values().cloned().collect())
    }

    fn load_running_executions(&mut self) -> Result<Vec<ExecutionRecord>, WorkflowError> {
        let g = self.lock()?;
        let mut v: Vec<ExecutionRecord> = g
            .executions
            .values()
            .filter(|e| e.status == crate::engine::ExecutionStatus::Running)
            .cloned()
            .collect();
        v.sort_by(|a, b| a.execution_arn.cmp(&b.execution_arn));
        Ok(v)
    }

    fn load_execution(&mut self, arn: &str) -> Result<Option<ExecutionRecord>, WorkflowError> {
        Ok(self.lock()?.executions.get(arn).cloned())
    }

    fn load_history(&mut self, arn: &str) -> Result<Vec<HistoryEvent>, WorkflowError> {
        Ok(self.lock()?.history.get(arn).cloned().unwrap_or_default())
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), WorkflowError> {
        let mut g = self.lock()?;
        g.batches += 1;
        for m in batch.state_machines {
            g.machines.insert(m.arn.clone(), m);
        }
        for e in batch.executions {
            g.executions.insert(e.execution_arn.clone(), e);
        }
        for (arn, events) in batch.history {
            g.history.entry(arn).or_default().extend(events);
        }
        Ok(())
    }
}
