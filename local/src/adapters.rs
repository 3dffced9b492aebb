//! The embedded runtime's adapters for the ports of `trip-booking` and `trip-workflow`: the
//! same handler code that runs in Lambda runs here against these.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use trip_booking::{
    BookOutcome, BookRequest, BookingRecord, BookingStore, CancelOutcome, Error, EventPublisher,
    ExecutionState, ExecutionSummary, MemoryState, SagaWorkflow, StartOutcome,
};
use trip_events::{PutEventsEntry, Service, TripEvent};
use trip_workflow::{
    Engine, ExecutionRecord, ExecutionStatus, ExecutionStore, HistoryEvent, StoredStateMachine,
    TaskError, WorkflowError, WriteBatch,
};

use crate::cost::DynamoUsage;
use crate::faults::Faults;

pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Every change under these locks is computed before it is applied, so a poisoned lock
    // still guards consistent data.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Keys changed since the last persist.
#[derive(Debug, Default)]
pub struct Dirty {
    pub bookings: BTreeSet<(Service, String)>,
    pub inventory: BTreeSet<String>,
}

/// All three services' booking tables, applying the domain's rules (`MemoryState`) and
/// remembering what changed so the runtime can persist it in the step's transaction.
#[derive(Debug, Default)]
pub struct LocalBookingStore {
    pub state: Mutex<MemoryState>,
    pub dirty: Mutex<Dirty>,
    pub faults: Option<Arc<Faults>>,
    /// The DynamoDB requests the AWS adapter would have made (for `trip cost`).
    pub usage: Mutex<DynamoUsage>,
}

impl LocalBookingStore {
    pub fn new(state: MemoryState, faults: Option<Arc<Faults>>) -> Self {
        LocalBookingStore {
            state: Mutex::new(state),
            dirty: Mutex::default(),
            faults,
            usage: Mutex::default(),
        }
    }

    fn inject(&self, service: Service) -> Result<(), Error> {
        match &self.faults {
            Some(f) => f.store_error(service),
            None => Ok(()),
        }
    }
}

impl BookingStore for LocalBookingStore {
    async fn book(&self, request: &BookRequest) -> Result<BookOutcome, Error> {
        self.inject(request.service)?;
        let mut state = lock(&self.state);
        let existing = state.record(request.service, &request.trip_id);
        lock(&self.usage).count_book(existing, request, |k| state.held(k));
        let outcome = state.apply_book(request);
        drop(state);
        let mut dirty = lock(&self.dirty);
        dirty
            .bookings
            .insert((request.service, request.trip_id.clone()));
        if let Ok(plan) = &request.plan {
            dirty
                .inventory
                .extend(plan.holds.iter().map(|h| h.key.clone()));
        }
        Ok(outcome)
    }

    async fn cancel(&self, service: Service, trip_id: &str) -> Result<CancelOutcome, Error> {
        self.inject(service)?;
        let mut state = lock(&self.state);
        lock(&self.usage).count_cancel(state.record(service, trip_id));
        let holds = state
            .record(service, trip_id)
            .map(|r| r.holds.clone())
            .unwrap_or_default();
        let outcome = state.apply_cancel(service, trip_id);
        drop(state);
        let mut dirty = lock(&self.dirty);
        dirty.bookings.insert((service, trip_id.to_owned()));
        dirty.inventory.extend(holds);
        Ok(outcome)
    }

    async fn get(&self, service: Service, trip_id: &str) -> Result<Option<BookingRecord>, Error> {
        Ok(lock(&self.state).record(service, trip_id).cloned())
    }
}

/// Collects what a service or the bridge publishes; the runtime puts it on the bus after the
/// batch.
#[derive(Debug, Default)]
pub struct OutboxPublisher {
    pub events: Mutex<Vec<TripEvent>>,
    pub faults: Option<Arc<Faults>>,
}

impl EventPublisher for OutboxPublisher {
    async fn publish(&self, events: &[TripEvent]) -> Result<(), Error> {
        if let Some(f) = &self.faults {
            f.publish_error()?;
        }
        // As the EventBridge adapter does: an entry the bus would refuse fails the record
        // (and so reaches the DLQ), instead of being dropped after the record was acknowledged.
        for event in events {
            let size = PutEventsEntry::for_event(event, trip_events::DEFAULT_BUS_NAME).size();
            if size > trip_events::MAX_ENTRY_BYTES {
                return Err(Error::EntryTooLarge {
                    size,
                    limit: trip_events::MAX_ENTRY_BYTES,
                });
            }
        }
        lock(&self.events).extend(events.iter().cloned());
        Ok(())
    }
}

/// The bridge's `SagaWorkflow`, over the embedded workflow engine.
pub struct EngineWorkflow<'a> {
    pub engine: &'a Mutex<Engine>,
    pub state_machine_arn: &'a str,
    pub faults: Option<Arc<Faults>>,
}

fn map_workflow_error(e: WorkflowError) -> Error {
    if e.is_stale_callback() {
        Error::StaleToken(e.to_string())
    } else {
        match e {
            WorkflowError::Store(m) => Error::Unavailable(m),
            other => Error::Aws {
                operation: "StepFunctions".into(),
                code: other.aws_error_name().into(),
                message: other.to_string(),
            },
        }
    }
}

impl SagaWorkflow for EngineWorkflow<'_> {
    async fn start_execution(&self, name: &str, input: &str) -> Result<StartOutcome, Error> {
        match lock(self.engine).start_execution(self.state_machine_arn, Some(name), input) {
            Ok(started) if started.already_running => Ok(StartOutcome::AlreadyExists),
            Ok(_) => Ok(StartOutcome::Started),
            Err(WorkflowError::ExecutionAlreadyExists(_)) => Ok(StartOutcome::AlreadyExists),
            Err(e) => Err(map_workflow_error(e)),
        }
    }

    async fn describe_execution(&self, name: &str) -> Result<Option<ExecutionSummary>, Error> {
        let arn = format!(
            "{}:{name}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        );
        match lock(self.engine).describe_execution(&arn) {
            Ok(d) => Ok(Some(ExecutionSummary {
                state: match d.status {
                    ExecutionStatus::Running => ExecutionState::Running,
                    ExecutionStatus::Succeeded => ExecutionState::Succeeded,
                    ExecutionStatus::Failed => ExecutionState::Failed,
                    ExecutionStatus::TimedOut => ExecutionState::TimedOut,
                    ExecutionStatus::Aborted => ExecutionState::Aborted,
                },
                input: d.input.to_string(),
                output: d.output.as_ref().map(Value::to_string),
                error: d.error,
                cause: d.cause,
            })),
            Err(WorkflowError::ExecutionDoesNotExist(_)) => Ok(None),
            Err(e) => Err(map_workflow_error(e)),
        }
    }

    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), Error> {
        if let Some(f) = &self.faults
            && f.lose_callback()
        {
            // The callback is lost on its way: the task will time out and be compensated.
            return Ok(());
        }
        lock(self.engine)
            .send_task_success(token, output)
            .map_err(map_workflow_error)
    }

    async fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> Result<(), Error> {
        if let Some(f) = &self.faults
            && f.lose_callback()
        {
            return Ok(());
        }
        lock(self.engine)
            .send_task_failure(token, error, cause)
            .map_err(map_workflow_error)
    }
}

/// Event ids: unique, shaped like EventBridge's UUIDs, and reproducible for a given seed.
#[derive(Debug)]
pub struct IdGen {
    seed: u64,
    next: std::sync::atomic::AtomicU64,
}

fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl IdGen {
    pub fn new(seed: u64, next: u64) -> Self {
        IdGen {
            seed,
            next: std::sync::atomic::AtomicU64::new(next),
        }
    }

    /// How many ids were handed out (persisted, so ids stay unique across restarts).
    pub fn position(&self) -> u64 {
        self.next.load(std::sync::atomic::Ordering::SeqCst)
    }

    /// An id whose text sorts in the order ids were handed out (48-bit counter first), so rows
    /// keyed by it are appended to the store's B-tree instead of scattered over its pages.
    pub fn next_sequential_id(&self) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let r = splitmix(self.seed ^ n);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            (n >> 16) as u32,
            (n & 0xffff) as u16,
            (r & 0x0fff) as u16,
            ((r >> 48) as u16 & 0x3fff) | 0x8000,
            (r >> 4) & 0xffff_ffff_ffff
        )
    }

    pub fn next_id(&self) -> String {
        let n = self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let a = splitmix(self.seed ^ n.rotate_left(17));
        let b = splitmix(a ^ n);
        format!(
            "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
            (a >> 32) as u32,
            (a >> 16) as u16,
            (a & 0x0fff) as u16,
            ((b >> 48) as u16 & 0x3fff) | 0x8000,
            b & 0xffff_ffff_ffff
        )
    }
}

/// The workflow's `events:putEvents` publisher: entries wait in an outbox, with their event
/// ids already assigned, until the runtime routes them.
#[derive(Debug, Clone)]
pub struct EnginePublisher {
    pub outbox: Arc<Mutex<Vec<(String, PutEventsEntry)>>>,
    pub ids: Arc<IdGen>,
    pub faults: Option<Arc<Faults>>,
}

impl trip_workflow::EventPublisher for EnginePublisher {
    fn put_events(&mut self, entries: &[Value]) -> Result<Value, TaskError> {
        if let Some(f) = &self.faults
            && f.workflow_publish_error()
        {
            return Err(TaskError::new(
                "EventBridge.InternalException",
                "injected fault: the event bus is unavailable",
            ));
        }
        let mut parsed = Vec::with_capacity(entries.len());
        for e in entries {
            // The engine hands Detail as a JSON object (Step Functions serializes it); the
            // AWS wire format carries a string.
            let mut e = e.clone();
            if let Some(d) = e.get_mut("Detail")
                && !d.is_string()
            {
                *d = Value::String(d.to_string());
            }
            let entry: PutEventsEntry = serde_json::from_value(e).map_err(|err| {
                TaskError::new(
                    "EventBridge.ValidationException",
                    format!("entry is not a PutEvents entry: {err}"),
                )
            })?;
            parsed.push(entry);
        }
        let mut out = Vec::with_capacity(parsed.len());
        let mut outbox = lock(&self.outbox);
        for entry in parsed {
            let id = self.ids.next_id();
            out.push(json!({ "EventId": id }));
            outbox.push((id, entry));
        }
        Ok(json!({ "Entries": out, "FailedEntryCount": 0 }))
    }
}

/// The engine's store in durable mode: every batch goes to the runtime, which writes it in the
/// step's transaction (no copy is kept in memory); reads go back to the committed file through
/// a read-only connection.
pub struct SqliteExecStore {
    reader: rusqlite::Connection,
    pub outbox: Arc<Mutex<Vec<WriteBatch>>>,
    /// Waits for the runtime store's pipelined commits before a read.
    sync: Option<crate::store::SyncHandle>,
    /// Every execution ARN the file holds or the engine has written: a StartExecution with a
    /// new name (every new saga) needs no read to know it is new.
    known: std::collections::HashSet<String>,
}

/// Store namespaces of the engine's records.
pub const NS_MACHINE: &str = "sm";
pub const NS_EXECUTION: &str = "exec";
pub const NS_HISTORY: &str = "hist";

fn store_err(e: impl std::fmt::Display) -> WorkflowError {
    WorkflowError::Store(e.to_string())
}

impl SqliteExecStore {
    pub fn open(
        path: &std::path::Path,
        outbox: Arc<Mutex<Vec<WriteBatch>>>,
        sync: Option<crate::store::SyncHandle>,
        read_only: bool,
    ) -> Result<Self, WorkflowError> {
        // Beside the runtime's own writer, a read-write connection (that only reads): if it
        // is the last to close, SQLite can still fold the write-ahead log into the file.
        let mode = if read_only {
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
        } else {
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE
        };
        let reader = rusqlite::Connection::open_with_flags(
            path,
            mode | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(store_err)?;
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(store_err)?;
        let mut store = SqliteExecStore {
            reader,
            outbox,
            sync,
            known: std::collections::HashSet::new(),
        };
        store.wait_for_writes()?;
        let known = {
            let mut stmt = store
                .reader
                .prepare("SELECT key FROM kv WHERE ns = ?1")
                .map_err(store_err)?;
            let rows = stmt
                .query_map([NS_EXECUTION], |r| r.get::<_, String>(0))
                .map_err(store_err)?;
            rows.collect::<Result<_, _>>().map_err(store_err)?
        };
        store.known = known;
        Ok(store)
    }

    fn wait_for_writes(&self) -> Result<(), WorkflowError> {
        match &self.sync {
            Some(s) => s.sync().map_err(store_err),
            None => Ok(()),
        }
    }

    fn values(&self, ns: &str, from: &str, to: &str) -> Result<Vec<Vec<u8>>, WorkflowError> {
        self.wait_for_writes()?;
        let mut stmt = self
            .reader
            .prepare_cached(
                "SELECT value FROM kv WHERE ns = ?1 AND key >= ?2 AND key < ?3 ORDER BY key",
            )
            .map_err(store_err)?;
        let rows = stmt
            .query_map(rusqlite::params![ns, from, to], |r| r.get(0))
            .map_err(store_err)?;
        rows.collect::<Result<_, _>>().map_err(store_err)
    }
}

impl ExecutionStore for SqliteExecStore {
    fn load_state_machines(&mut self) -> Result<Vec<StoredStateMachine>, WorkflowError> {
        self.values(NS_MACHINE, "", "\u{10FFFF}")?
            .iter()
            .map(|b| serde_json::from_slice(b).map_err(store_err))
            .collect()
    }

    fn load_running_executions(&mut self) -> Result<Vec<ExecutionRecord>, WorkflowError> {
        let mut out = Vec::new();
        for b in self.values(NS_EXECUTION, "", "\u{10FFFF}")? {
            let r = ExecutionRecord::from_json_bytes(&b)?;
            if r.status == trip_workflow::ExecutionStatus::Running {
                out.push(r);
            }
        }
        Ok(out)
    }

    fn load_execution(&mut self, arn: &str) -> Result<Option<ExecutionRecord>, WorkflowError> {
        if !self.known.contains(arn) {
            return Ok(None);
        }
        self.wait_for_writes()?;
        let mut stmt = self
            .reader
            .prepare_cached("SELECT value FROM kv WHERE ns = ?1 AND key = ?2")
            .map_err(store_err)?;
        let mut rows = stmt
            .query(rusqlite::params![NS_EXECUTION, arn])
            .map_err(store_err)?;
        match rows.next().map_err(store_err)? {
            Some(row) => {
                let b: Vec<u8> = row.get(0).map_err(store_err)?;
                Ok(Some(ExecutionRecord::from_json_bytes(&b)?))
            }
            None => Ok(None),
        }
    }

    fn load_history(&mut self, arn: &str) -> Result<Vec<HistoryEvent>, WorkflowError> {
        // One row per flush: `{arn}#{first event id}` holding that flush's events.
        let mut out = Vec::new();
        for b in self.values(NS_HISTORY, &format!("{arn}#"), &format!("{arn}$"))? {
            out.extend(decode_history(&b)?);
        }
        Ok(out)
    }

    fn write(&mut self, batch: WriteBatch) -> Result<(), WorkflowError> {
        for ex in &batch.executions {
            if !self.known.contains(&ex.execution_arn) {
                self.known.insert(ex.execution_arn.clone());
            }
        }
        lock(&self.outbox).push(batch);
        Ok(())
    }
}

/// A chunk of history events as stored: LZ4-compressed JSON. Histories repeat the saga's
/// input in most events, so they compress about fivefold, and they are the bulk of what a
/// saga writes.
pub fn encode_history(events: &[HistoryEvent]) -> Vec<u8> {
    let json = serde_json::to_vec(events).unwrap_or_default();
    lz4_flex::compress_prepend_size(&json)
}

pub fn decode_history(bytes: &[u8]) -> Result<Vec<HistoryEvent>, WorkflowError> {
    let json = lz4_flex::decompress_size_prepended(bytes).map_err(store_err)?;
    serde_json::from_slice(&json).map_err(store_err)
}

/// The history row key of a chunk of events.
pub fn history_key(arn: &str, first_event_id: u64) -> String {
    format!("{arn}#{first_event_id:010}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_uuid_shaped_and_reproducible() {
        let a = IdGen::new(7, 0);
        let b = IdGen::new(7, 0);
        let ids: Vec<String> = (0..1000).map(|_| a.next_id()).collect();
        let again: Vec<String> = (0..1000).map(|_| b.next_id()).collect();
        assert_eq!(ids, again);
        let unique: BTreeSet<&String> = ids.iter().collect();
        assert_eq!(unique.len(), 1000);
        assert!(
            ids.iter()
                .all(|id| id.len() == 36 && id.as_bytes()[14] == b'4')
        );
        assert_ne!(IdGen::new(8, 0).next_id(), ids[0]);
    }

    /// Found by the hostile corpus: an answer larger than an EventBridge entry used to be
    /// dropped after its record was acknowledged. As on AWS, the record must fail instead.
    #[test]
    fn an_event_too_large_for_the_bus_fails_the_publish() {
        let publisher = OutboxPublisher::default();
        let event = TripEvent::BookingFailed(trip_events::BookingFailed {
            trip_id: "t".into(),
            service: Service::Hotel,
            kind: trip_events::FailureKind::Business,
            reason: "UNKNOWN_HOTEL".into(),
            message: "x".repeat(trip_events::MAX_ENTRY_BYTES),
            metadata: trip_events::Metadata::new("c"),
        });
        let err = futures::executor::block_on(publisher.publish(&[event])).unwrap_err();
        assert!(matches!(err, Error::EntryTooLarge { .. }), "{err}");
        assert!(lock(&publisher.events).is_empty());
    }

    #[test]
    fn sequential_ids_sort_in_the_order_they_were_made() {
        let g = IdGen::new(7, 65_530);
        let ids: Vec<String> = (0..20).map(|_| g.next_sequential_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
        assert!(ids.iter().all(|id| id.len() == 36));
    }
}
