//! The embedded runtime: the whole trip saga in one process.
//!
//! One thread drives everything in steps. A step runs the workflow engine (new executions,
//! callbacks, due timers), then delivers one batch from each queue to its consumer — the real
//! handlers of `trip-booking`, called the way Lambda's SQS event source calls them — and routes
//! what they publish through the bus. At the end of a step every change (queues, bookings,
//! executions and their histories, the event log) goes to the store as one batch, committed in
//! one transaction by the store's writer thread while the loop runs the next step (group
//! commit, pipelined: see [`crate::store`]). The file always holds a prefix of the steps; a
//! crash loses the steps not yet on disk, which at-least-once delivery redoes. What the runtime
//! reports done — `put_events` returning, `run_until_idle` returning — is on disk by then.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use chrono::SecondsFormat;
use futures::executor::block_on;
use futures::future::join_all;
use serde::Serialize;
use serde_json::{Value, json};
use trip_booking::memory::InventoryLevel;
use trip_booking::{
    BookingRecord, BookingStatus, Error as HandlerError, Handled, MemoryState, handle_bridge_event,
    handle_service_record,
};
use trip_events::routing::{RoutingTable, Target};
use trip_events::{DetailType, EventEnvelope, FailureKind, PutEventsEntry, Service, TripEvent};
use trip_workflow::{
    Engine, EngineConfig, ExecutionDescription, ExecutionStatus, HistoryEvent, MemoryStore,
    SeededRandom, TRIP_SAGA_ASL, TRIP_SAGA_NAME, WorkflowError, WriteBatch,
    trip_saga_substitutions,
};

use crate::adapters::{
    EnginePublisher, EngineWorkflow, IdGen, LocalBookingStore, NS_EXECUTION, NS_HISTORY,
    NS_MACHINE, OutboxPublisher, SqliteExecStore, encode_history, history_key, lock,
};
use crate::bus::{Bus, BusError, PutEventsOutput, PutEventsResultEntry};
use crate::clock::RuntimeClock;
use crate::faults::{FaultRates, Faults};
use crate::queue::{Message, Queue, QueueChange};
use crate::store::{Durability, LogRow, Store, StoreError};
use crate::trip_faults::TripFaults;

/// How the runtime keeps time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClockChoice {
    /// The wall clock; with `fast_forward`, idle waits are skipped.
    Wall { fast_forward: bool },
    /// Virtual time from `start_ms`: deterministic.
    Virtual { start_ms: i64 },
}

#[derive(Debug, Clone)]
pub struct RuntimeOptions {
    /// The store file; `None` keeps everything in memory.
    pub store: Option<PathBuf>,
    pub clock: ClockChoice,
    /// Seeds event ids, task tokens, jitter and faults.
    pub seed: u64,
    pub faults: Option<FaultRates>,
    pub routing: Option<RoutingTable>,
    /// How hard each step's commit holds on (see [`Durability`]).
    pub durability: Durability,
    /// Read the store without writing it (or creating it): for the verbs that only look.
    /// Whatever the runtime changes is dropped with it.
    pub read_only: bool,
    /// The saga's state machine (ASL JSON); `None` runs the built-in `trip-saga.asl.json`.
    pub definition: Option<String>,
}

impl Default for RuntimeOptions {
    fn default() -> Self {
        RuntimeOptions {
            store: None,
            clock: ClockChoice::Wall { fast_forward: true },
            seed: 0x7219_5A6A,
            faults: None,
            routing: None,
            durability: Durability::default(),
            read_only: false,
            definition: None,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("workflow: {0}")]
    Workflow(#[from] WorkflowError),
    #[error("routing table: {0}")]
    Routing(#[from] trip_events::routing::RoutingError),
    #[error(transparent)]
    Bus(#[from] BusError),
    #[error("the store holds a record this build cannot read ({what}): {message}")]
    Corrupt { what: String, message: String },
    #[error("the routing table has no consumer named {0:?}")]
    UnknownConsumer(String),
    /// An option that would make a run fail or never end (a rate of 0, NaN, ...).
    #[error("{0}")]
    InvalidOption(String),
    /// What IAM answers a client whose PutEvents carries another source than `trip.client`.
    #[error(
        "AccessDeniedException: a client may put events with source {client} only, not {denied:?} \
         (on AWS the events:source condition of its PutEvents grant refuses the call)"
    )]
    AccessDenied {
        denied: String,
        client: &'static str,
    },
}

/// An event that crossed the bus.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoggedEvent {
    pub seq: i64,
    /// Shared with the queue messages that carry the event.
    pub envelope: Arc<EventEnvelope>,
    /// When it was put on the bus (ms).
    pub put_at: i64,
    /// When a target first received it (ms).
    pub delivered_at: Option<i64>,
    /// The rules it matched.
    pub rules: Vec<String>,
}

impl LoggedEvent {
    pub fn trip_id(&self) -> Option<&str> {
        self.envelope.trip_id()
    }

    /// One line of `trip export`: the envelope, as the CloudWatch catch-all log group holds it,
    /// plus a `delivery` block with the runtime's timestamps (ignored on replay).
    pub fn to_export_json(&self) -> Value {
        let mut v = serde_json::to_value(&*self.envelope).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut v {
            m.insert(
                "delivery".into(),
                json!({
                    "seq": self.seq,
                    "putAt": fmt_ms(self.put_at),
                    "deliveredAt": self.delivered_at.map(fmt_ms),
                    "rules": self.rules,
                }),
            );
        }
        v
    }
}

/// What a masked task token reads as.
pub const MASKED_TOKEN: &str = "****";

/// Replaces every `taskToken` in an event's JSON by [`MASKED_TOKEN`]: a token is a secret
/// (whoever holds it can answer the workflow), so what people read shows none.
pub fn mask_task_tokens(v: &mut Value) {
    match v {
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                if k == "taskToken" && x.is_string() {
                    *x = Value::String(MASKED_TOKEN.to_owned());
                } else {
                    mask_task_tokens(x);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(mask_task_tokens),
        _ => {}
    }
}

pub fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| ms.to_string())
}

/// How a trip ended, as its final event says.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(
    tag = "outcome",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum TripOutcome {
    Booked,
    Failed {
        failed_step: String,
        error: String,
        cause: Option<String>,
        undone: Vec<String>,
    },
    Rejected {
        reasons: Vec<trip_events::Reason>,
    },
    /// A compensation failed through all its retries: `still_held` may still be booked.
    Stuck {
        failed_step: String,
        stuck_step: String,
        still_held: Vec<String>,
        error: String,
    },
}

/// A saga invariant that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    pub trip_id: String,
    pub invariant: &'static str,
    pub detail: String,
}

/// What one call of [`Runtime::run_until_idle`] saw.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RunStats {
    pub steps: u64,
    pub messages_delivered: u64,
    pub records_failed: u64,
    pub events_routed: u64,
    pub skipped_ms: i64,
}

/// What one queue and its consumer did since the runtime was opened, in the units SQS and
/// Lambda bill (read by [`crate::cost`]): messages sent to the queue (one SendMessage each, by
/// EventBridge or `send_raw`), batches handed to the consumer (one ReceiveMessage and one Lambda
/// invocation each), messages received, and messages acknowledged (deleted, in one
/// DeleteMessageBatch call per batch).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueUsage {
    pub sent: u64,
    pub batches: u64,
    pub received: u64,
    pub deleted: u64,
    /// DeleteMessageBatch calls: one per batch that acknowledged at least one message.
    pub delete_calls: u64,
}

/// The saga's status for `trip status`.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TripStatus {
    pub trip_id: String,
    pub outcome: Option<TripOutcome>,
    pub execution: Option<Value>,
    pub transitions: Option<u64>,
    pub bookings: BTreeMap<String, BookingRecord>,
    pub events: Vec<LoggedEvent>,
    pub history: Vec<Value>,
}

const NS_MESSAGE: &str = "msg";
const NS_BOOKING: &str = "booking";
const NS_INVENTORY: &str = "inventory";
const NS_META: &str = "meta";

pub struct Runtime {
    clock: Arc<RuntimeClock>,
    store: Store,
    bus: Bus,
    queues: BTreeMap<String, Queue>,
    engine: Mutex<Engine>,
    state_machine_arn: String,
    engine_outbox: Arc<Mutex<Vec<(String, PutEventsEntry)>>>,
    exec_batches: Arc<Mutex<Vec<WriteBatch>>>,
    bookings: LocalBookingStore,
    ids: Arc<IdGen>,
    log: Vec<LoggedEvent>,
    log_index: HashMap<String, usize>,
    /// Positions in the log of each trip's events, in order.
    trip_index: HashMap<String, Vec<usize>>,
    /// Each trip's latest final event.
    outcomes: HashMap<String, TripOutcome>,
    /// Trips in order of first appearance.
    trip_order: Vec<String>,
    faults: Option<Arc<Faults>>,
    restarts: u64,
    seed: u64,
    /// Messages handed to consumers since the runtime was opened.
    pub delivered: u64,
    /// Batches each queue may hand its consumer per step, like the concurrent pollers of
    /// Lambda's SQS event source.
    pub pollers: usize,
    /// Per queue: what SQS and Lambda would bill (see [`QueueUsage`]).
    queue_usage: BTreeMap<String, QueueUsage>,
    routing: RoutingTable,
    definition: Option<String>,
    /// Faults on chosen trips, for this process only (`trip book --fail ...`).
    trip_faults: Option<Arc<TripFaults>>,
}

fn corrupt(what: &str, e: impl std::fmt::Display) -> RuntimeError {
    RuntimeError::Corrupt {
        what: what.to_owned(),
        message: e.to_string(),
    }
}

fn to_json<T: Serialize>(v: &T) -> Vec<u8> {
    serde_json::to_vec(v).unwrap_or_default()
}

impl Runtime {
    /// Opens the runtime over its store, resuming whatever was in flight.
    pub fn open(options: RuntimeOptions) -> Result<Self, RuntimeError> {
        let faults = options
            .faults
            .map(|rates| Arc::new(Faults::new(options.seed, rates)));
        Self::open_with_faults(options, faults)
    }

    /// `open`, with the fault source given (a restart keeps the one that was running, so the
    /// fault stream goes on and every injected fault is counted once, in one place).
    fn open_with_faults(
        options: RuntimeOptions,
        faults: Option<Arc<Faults>>,
    ) -> Result<Self, RuntimeError> {
        let routing = match options.routing {
            Some(r) => r,
            None => RoutingTable::load()?,
        };
        let mut store = match &options.store {
            Some(path) if options.read_only => Store::open_read_only(path)?,
            Some(path) => Store::open_with(path, options.durability)?,
            None => Store::in_memory(),
        };
        if faults.is_some() {
            // Injected process crashes then lose the last step handed to the writer, as a real
            // crash before its pipelined commit lands does.
            store.hold_back_last_commit();
        }
        let clock = Arc::new(match options.clock {
            ClockChoice::Wall { fast_forward } => RuntimeClock::wall(fast_forward),
            ClockChoice::Virtual { start_ms } => RuntimeClock::virtual_at(start_ms),
        });

        let meta: HashMap<String, u64> = store
            .load(NS_META)?
            .into_iter()
            .filter_map(|(k, v)| Some((k, serde_json::from_slice(&v).ok()?)))
            .collect();
        let restarts = meta.get("restarts").map_or(0, |r| r + 1);
        let ids = Arc::new(IdGen::new(
            options.seed ^ restarts.wrapping_mul(0x9E37_79B9),
            meta.get("ids").copied().unwrap_or(0),
        ));

        // Queues and their messages.
        let queues: BTreeMap<String, Queue> = routing
            .queues
            .iter()
            .map(|spec| (spec.name.clone(), Queue::new(spec.clone())))
            .collect();
        let mut messages = Vec::new();
        for (_, bytes) in store.load(NS_MESSAGE)? {
            let m: Message = serde_json::from_slice(&bytes).map_err(|e| corrupt("message", e))?;
            messages.push(m);
        }

        // Bookings and inventory.
        let mut state = MemoryState::default();
        for (_, bytes) in store.load(NS_BOOKING)? {
            let r: BookingRecord =
                serde_json::from_slice(&bytes).map_err(|e| corrupt("booking", e))?;
            let key = trip_booking::booking_key(r.service, &r.trip_id);
            state.bookings.insert(format!("{}|{}", key.pk, key.sk), r);
        }
        for (key, bytes) in store.load(NS_INVENTORY)? {
            let l: InventoryLevel =
                serde_json::from_slice(&bytes).map_err(|e| corrupt("inventory", e))?;
            state.inventory.insert(key, l);
        }
        let bookings = LocalBookingStore::new(state, faults.clone());

        // The workflow engine: in memory, over a MemoryStore; durable, over the file (its
        // writes join the step's transaction, its reads see what was committed).
        let exec_batches = Arc::new(Mutex::new(Vec::new()));
        let exec_store: Box<dyn trip_workflow::ExecutionStore> = match &options.store {
            Some(path) => Box::new(SqliteExecStore::open(
                path,
                exec_batches.clone(),
                store.sync_handle(),
                options.read_only,
            )?),
            None => Box::new(MemoryStore::new()),
        };
        let config = EngineConfig {
            auto_flush: false,
            ..EngineConfig::default()
        };
        let mut engine = Engine::new(
            config,
            exec_store,
            clock.clone(),
            Box::new(SeededRandom::new(
                options.seed ^ restarts.wrapping_mul(0x51_7CC1_B727_220A),
            )),
        )?;
        let engine_outbox = Arc::new(Mutex::new(Vec::new()));
        engine.register_event_publisher(EnginePublisher {
            outbox: engine_outbox.clone(),
            ids: ids.clone(),
            faults: faults.clone(),
        });
        let subs = trip_saga_substitutions(&routing.event_bus_name);
        let asl = options.definition.as_deref().unwrap_or(TRIP_SAGA_ASL);
        let state_machine_arn = match engine.create_state_machine(TRIP_SAGA_NAME, asl, &subs) {
            Ok(arn) => arn,
            // The definition changed since the store was written: running executions keep
            // the version they started with only on AWS; here the new one takes over.
            Err(WorkflowError::StateMachineAlreadyExists(arn)) => {
                engine.update_state_machine(&arn, asl, &subs)?;
                arn
            }
            Err(e) => return Err(e.into()),
        };

        let mut log: Vec<LoggedEvent> = Vec::new();
        let mut after = 0;
        loop {
            let rows = store.read_log(after, None, 10_000)?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for row in rows {
                let envelope: EventEnvelope =
                    serde_json::from_str(&row.envelope).map_err(|e| corrupt("event log", e))?;
                log.push(LoggedEvent {
                    seq: row.seq,
                    envelope: Arc::new(envelope),
                    put_at: row.put_at,
                    delivered_at: row.delivered_at,
                    rules: row.rules,
                });
            }
        }

        let bus = Bus::from_routing(&routing)?;
        for q in &routing.queues {
            if !matches!(q.consumer.as_str(), "hotel" | "flight" | "car" | "bridge") {
                return Err(RuntimeError::UnknownConsumer(q.consumer.clone()));
            }
        }
        let mut rt = Runtime {
            clock,
            store,
            bus,
            queues,
            engine: Mutex::new(engine),
            state_machine_arn,
            engine_outbox,
            exec_batches,
            bookings,
            ids,
            log: Vec::new(),
            log_index: HashMap::new(),
            trip_index: HashMap::new(),
            outcomes: HashMap::new(),
            trip_order: Vec::new(),
            faults,
            restarts,
            seed: options.seed,
            delivered: 0,
            pollers: 5,
            queue_usage: BTreeMap::new(),
            routing,
            definition: options.definition,
            trip_faults: None,
        };
        for (i, event) in log.into_iter().enumerate() {
            rt.log_index.insert(event.envelope.id.clone(), i);
            rt.index_event(&event);
            rt.log.push(event);
        }
        // Messages are stored without the body the event log already holds: they carry the
        // logged event again.
        for mut m in messages {
            if m.body.is_empty()
                && let Some(l) = m
                    .event_id
                    .as_deref()
                    .and_then(|id| rt.log_index.get(id))
                    .and_then(|&i| rt.log.get(i))
            {
                m.event = Some(Arc::clone(&l.envelope));
            }
            if let Some(q) = rt.queues.get_mut(&m.queue) {
                q.restore(m);
            }
        }
        rt.persist()?;
        Ok(rt)
    }

    /// Indexes an event about to be appended to the log.
    fn index_event(&mut self, event: &LoggedEvent) {
        let Some(trip) = event.trip_id() else { return };
        let at = self.log.len();
        match self.trip_index.get_mut(trip) {
            Some(v) => v.push(at),
            None => {
                self.trip_index.insert(trip.to_owned(), vec![at]);
                self.trip_order.push(trip.to_owned());
            }
        }
        // A forged outcome (a client cannot put one: see `put_events`, but a tampered log can
        // be replayed) never becomes the trip's outcome.
        // Nor does the rejection of a different request under a trip id in use: the trip's
        // own outcome stands.
        if outcome_source_ok(&event.envelope)
            && let Some(o) = outcome_of(&event.envelope)
        {
            let rejection_of_another = matches!(o, TripOutcome::Rejected { .. })
                && self
                    .outcomes
                    .get(trip)
                    .is_some_and(|had| !matches!(had, TripOutcome::Rejected { .. }));
            if !rejection_of_another {
                self.outcomes.insert(trip.to_owned(), o);
            }
        }
    }

    /// A trip's events, in order.
    pub fn trip_log(&self, trip_id: &str) -> Vec<&LoggedEvent> {
        self.trip_index
            .get(trip_id)
            .map(|v| v.iter().filter_map(|&i| self.log.get(i)).collect())
            .unwrap_or_default()
    }

    pub fn clock(&self) -> &RuntimeClock {
        &self.clock
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    pub fn is_durable(&self) -> bool {
        self.store.is_durable()
    }

    pub fn bus_name(&self) -> &str {
        &self.bus.name
    }

    pub fn faults(&self) -> Option<&Faults> {
        self.faults.as_deref()
    }

    /// How many times this store has been opened before (0 on a fresh store).
    pub fn restarts(&self) -> u64 {
        self.restarts
    }

    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Transactions committed to the store since it was opened.
    pub fn commits(&self) -> u64 {
        self.store.commits()
    }

    /// PutEvents, as a client calls it: every entry is checked, accepted ones are routed and
    /// committed before this returns (so they survive a crash right after).
    ///
    /// A client may only put `trip.client` events, as the `events:source` condition of its
    /// grant enforces on AWS: a call with any other source is refused whole, before anything
    /// is put, so no client can forge a command (`HotelBookingRequested`) or an outcome
    /// (`TripBooked`).
    pub fn put_events(
        &mut self,
        entries: &[PutEventsEntry],
    ) -> Result<PutEventsOutput, RuntimeError> {
        if let Some(e) = entries
            .iter()
            .find(|e| e.source != trip_events::source::CLIENT)
        {
            return Err(RuntimeError::AccessDenied {
                denied: e.source.clone(),
                client: trip_events::source::CLIENT,
            });
        }
        let out = self.submit_events(entries)?;
        self.sync()?;
        Ok(out)
    }

    /// PutEvents with the rights of whichever identity the entries' sources belong to (a
    /// service, the workflow): for tests that play one of them, as a test with that role on
    /// AWS would. Users' puts go through [`Runtime::put_events`].
    pub fn put_events_as_owner(
        &mut self,
        entries: &[PutEventsEntry],
    ) -> Result<PutEventsOutput, RuntimeError> {
        let out = self.submit_events(entries)?;
        self.sync()?;
        Ok(out)
    }

    /// [`Runtime::put_events_as_owner`] without waiting for the disk: the accepted entries are routed
    /// and handed to the store's writer, and are durable once [`Runtime::durable_ticket`]
    /// reaches [`Runtime::last_ticket`] (a crash before that loses them, as if never put).
    /// For a client that pipelines its puts, like `trip bench`.
    pub fn submit_events(
        &mut self,
        entries: &[PutEventsEntry],
    ) -> Result<PutEventsOutput, RuntimeError> {
        let out = self.accept_and_route(entries);
        self.persist()?;
        Ok(out)
    }

    fn accept_and_route(&mut self, entries: &[PutEventsEntry]) -> PutEventsOutput {
        let now = self.clock.now_ms();
        let mut out = PutEventsOutput::default();
        for entry in entries {
            let id = self.ids.next_id();
            match self.bus.accept(entry, id, self.clock.now()) {
                Ok(envelope) => {
                    out.entries
                        .push(PutEventsResultEntry::ok(envelope.id.clone()));
                    self.route(envelope, now);
                }
                Err((code, message)) => {
                    out.failed_entry_count += 1;
                    out.entries
                        .push(PutEventsResultEntry::failed(code, message));
                }
            }
        }
        out
    }

    /// Puts recorded events back on the bus as they were (same id, same detail, same time),
    /// the way an EventBridge replay does, marked with a `replay-name` as EventBridge marks
    /// replayed events; `rules` limits which rules receive them (all when empty). The
    /// catch-all log records them again.
    pub fn replay(
        &mut self,
        envelopes: Vec<EventEnvelope>,
        rules: &[String],
    ) -> Result<usize, RuntimeError> {
        let now = self.clock.now_ms();
        let name = format!("trip-replay-{}", fmt_ms(now).replace([':', '.'], "-"));
        let mut n = 0;
        for mut env in envelopes {
            if env.replay_name.is_none() {
                env.replay_name = Some(name.clone());
            }
            self.route_filtered(env, now, rules);
            n += 1;
        }
        self.persist()?;
        self.sync()?;
        Ok(n)
    }

    /// Sends a raw message body straight to a queue, bypassing the bus (as anything with
    /// `sqs:SendMessage` on it can): for hostile-input tests. Returns the message id.
    pub fn send_raw(
        &mut self,
        queue: &str,
        body: impl Into<String>,
    ) -> Result<String, RuntimeError> {
        let now = self.clock.now_ms();
        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| RuntimeError::UnknownConsumer(queue.to_owned()))?;
        let id = self.ids.next_id();
        q.send(id.clone(), body.into(), now, 0);
        self.queue_usage.entry(queue.to_owned()).or_default().sent += 1;
        self.persist()?;
        self.sync()?;
        Ok(id)
    }

    fn route(&mut self, envelope: EventEnvelope, now: i64) {
        self.route_filtered(envelope, now, &[]);
    }

    fn route_filtered(&mut self, mut envelope: EventEnvelope, now: i64, only: &[String]) {
        // Patterns match the envelope as JSON; the detail is moved in and back out rather
        // than copied.
        let detail = std::mem::take(&mut envelope.detail);
        let mut value = serde_json::to_value(&envelope).unwrap_or(Value::Null);
        if let Value::Object(m) = &mut value {
            m.insert("detail".to_owned(), detail);
        }
        let matched: Vec<(String, Target)> = self
            .bus
            .route(&value)
            .filter(|r| only.is_empty() || only.contains(&r.name))
            .map(|r| (r.name.clone(), r.target.clone()))
            .collect();
        if let Some(d) = value.get_mut("detail") {
            envelope.detail = d.take();
        }
        let envelope = Arc::new(envelope);
        for (_, target) in &matched {
            if let Target::Queue { name } = target
                && let Some(q) = self.queues.get_mut(name)
            {
                let trip = envelope.trip_id();
                let delay = self.faults.as_ref().and_then(|f| f.delay_ms()).unwrap_or(0)
                    + self.trip_faults.as_ref().map_or(0, |f| f.delay_ms(trip));
                q.send_event(self.ids.next_id(), Arc::clone(&envelope), now, delay);
                let usage = self.queue_usage.entry(name.clone()).or_default();
                usage.sent += 1;
                if self.faults.as_ref().is_some_and(|f| f.duplicate())
                    || self
                        .trip_faults
                        .as_ref()
                        .is_some_and(|f| f.duplicates(trip))
                {
                    // At-least-once: the same event delivered twice, as two messages.
                    q.send_event(self.ids.next_id(), Arc::clone(&envelope), now, delay + 1);
                    usage.sent += 1;
                }
            }
        }
        let seq = self.log.last().map_or(1, |l| l.seq + 1);
        let rules: Vec<String> = matched.into_iter().map(|(n, _)| n).collect();
        let logged = Arc::clone(&envelope);
        self.store.append_log_deferred(
            LogRow {
                seq,
                event_id: envelope.id.clone(),
                trip_id: envelope.trip_id().map(str::to_owned),
                source: envelope.source.clone(),
                detail_type: envelope.detail_type.clone(),
                put_at: now,
                delivered_at: None,
                rules: rules.clone(),
                envelope: String::new(),
            },
            Box::new(move || serde_json::to_vec(&*logged).unwrap_or_default()),
        );
        // A replayed event keeps its id: the log indexes its latest appearance.
        self.log_index.insert(envelope.id.clone(), self.log.len());
        let event = LoggedEvent {
            seq,
            envelope,
            put_at: now,
            delivered_at: None,
            rules,
        };
        self.index_event(&event);
        self.log.push(event);
    }

    fn publish_trip_events(&mut self, events: Vec<TripEvent>, now: i64) {
        for event in events {
            let entry = PutEventsEntry::for_event(&event, &self.bus.name);
            let id = self.ids.next_id();
            match self.bus.accept(&entry, id, self.clock.now()) {
                Ok(env) => self.route(env, now),
                Err((code, message)) => {
                    tracing::error!(
                        code,
                        message,
                        "the bus refused an event a handler published"
                    );
                }
            }
        }
    }

    fn route_engine_outbox(&mut self, now: i64) -> usize {
        let entries = std::mem::take(&mut *lock(&self.engine_outbox));
        let n = entries.len();
        for (id, entry) in entries {
            match self.bus.accept(&entry, id, self.clock.now()) {
                Ok(env) => self.route(env, now),
                Err((code, message)) => {
                    tracing::error!(code, message, "the bus refused an event the workflow put");
                }
            }
        }
        n
    }

    fn run_engine(&mut self) -> Result<usize, RuntimeError> {
        let now = self.clock.now_ms();
        let mut routed = 0;
        loop {
            lock(&self.engine).run()?;
            let n = self.route_engine_outbox(now);
            routed += n;
            if n == 0 && !lock(&self.engine).has_ready_work() {
                return Ok(routed);
            }
        }
    }

    /// Delivers one batch of `queue` to its consumer. Returns (delivered, failed).
    fn deliver(&mut self, queue: &str) -> Result<(usize, usize), RuntimeError> {
        let now = self.clock.now_ms();
        let Some(q) = self.queues.get_mut(queue) else {
            return Ok((0, 0));
        };
        let batch_size = q.spec.batch_size as usize;
        let consumer = q.spec.consumer.clone();
        let max_receive_count = q.spec.max_receive_count;
        let messages = q.receive(now, batch_size);
        if messages.is_empty() {
            return Ok((0, 0));
        }
        self.delivered += messages.len() as u64;
        let usage = self.queue_usage.entry(queue.to_owned()).or_default();
        usage.batches += 1;
        usage.received += messages.len() as u64;

        // A crash mid-batch: the first records ran (their effects stand), nothing was
        // acknowledged, and the batch comes back after its visibility timeout.
        let crash_after = match &self.faults {
            Some(f) if f.crash_mid_batch() => Some((f.uniform() * messages.len() as f64) as usize),
            _ => None,
        };
        let runnable = &messages[..crash_after.unwrap_or(messages.len())];

        let envelopes: Vec<Result<Arc<EventEnvelope>, String>> = runnable
            .iter()
            .map(|m| match &m.event {
                Some(event) => Ok(Arc::clone(event)),
                None => serde_json::from_str::<EventEnvelope>(&m.body)
                    .map(Arc::new)
                    .map_err(|e| {
                        format!("malformed record: body is not an EventBridge event: {e}")
                    }),
            })
            .collect();
        for env in envelopes.iter().flatten() {
            if let Some(&i) = self.log_index.get(&env.id)
                && let Some(l) = self.log.get_mut(i)
                && l.delivered_at.is_none()
            {
                l.delivered_at = Some(now);
                self.store.mark_delivered(l.seq, now);
            }
        }

        let publisher = OutboxPublisher {
            events: Mutex::default(),
            faults: self.faults.clone(),
        };
        let results: Vec<Result<Handled, String>> = {
            let bookings = &self.bookings;
            let engine = &self.engine;
            let sm = self.state_machine_arn.as_str();
            let faults = self.faults.clone();
            let trip_faults = self.trip_faults.as_deref();
            let clock_now = self.clock.now();
            let publisher = &publisher;
            let service: Option<Service> = consumer.parse().ok();
            block_on(join_all(envelopes.iter().zip(runnable).map(|(env, m)| {
                let faults = faults.clone();
                let delivery = trip_booking::Delivery {
                    receive_count: m.receive_count,
                    max_receive_count,
                };
                async move {
                    let env = env.as_ref().map_err(Clone::clone)?;
                    let r: Result<Handled, HandlerError> = match service {
                        Some(s) => {
                            if let Some(f) = &faults
                                && env.detail_type == s.cancellation_requested().as_str()
                            {
                                f.cancel_error().map_err(|e| e.to_string())?;
                            }
                            if let Some(tf) = trip_faults
                                && env.detail_type == s.booking_requested().as_str()
                            {
                                if tf.throttles(env.trip_id(), s) {
                                    return refuse(s, FailureKind::Transient, publisher, env).await;
                                }
                                if tf.refuses(env.trip_id(), s) {
                                    return refuse(s, FailureKind::Business, publisher, env).await;
                                }
                            }
                            handle_service_record(s, bookings, publisher, env, delivery).await
                        }
                        None => {
                            let workflow = EngineWorkflow {
                                engine,
                                state_machine_arn: sm,
                                faults,
                            };
                            handle_bridge_event(&workflow, publisher, env, clock_now).await
                        }
                    };
                    r.map_err(|e| e.to_string())
                }
            })))
        };

        let q = self
            .queues
            .get_mut(queue)
            .ok_or_else(|| RuntimeError::UnknownConsumer(queue.to_owned()))?;
        let mut failed = 0;
        let mut acked = 0;
        if crash_after.is_none() {
            for (m, r) in messages.iter().zip(&results) {
                match r {
                    Ok(_) => {
                        q.delete(&m.message_id);
                        acked += 1;
                    }
                    Err(reason) => {
                        failed += 1;
                        q.fail(&m.message_id, reason);
                    }
                }
            }
        } else {
            for m in &messages {
                q.fail(
                    &m.message_id,
                    "the handler crashed before acknowledging the batch",
                );
            }
            failed = messages.len();
        }
        if acked > 0 {
            let usage = self.queue_usage.entry(queue.to_owned()).or_default();
            usage.deleted += acked;
            usage.delete_calls += 1;
        }
        let mut events = std::mem::take(&mut *lock(&publisher.events));
        if let Some(tf) = &self.trip_faults {
            events.retain(|e| !tf.loses(e));
        }
        self.publish_trip_events(events, now);
        Ok((messages.len(), failed))
    }

    /// One step: the engine, then one batch per queue, then one commit. Returns whether
    /// anything happened.
    pub fn step(&mut self, stats: &mut RunStats) -> Result<bool, RuntimeError> {
        let mut progressed = self.run_engine()? > 0;
        let names: Vec<String> = self.queues.keys().cloned().collect();
        for name in names {
            for _ in 0..self.pollers.max(1) {
                let (delivered, failed) = self.deliver(&name)?;
                stats.messages_delivered += delivered as u64;
                stats.records_failed += failed as u64;
                progressed |= delivered > 0;
                if delivered == 0 {
                    break;
                }
            }
        }
        progressed |= self.run_engine()? > 0;
        self.persist()?;
        stats.steps += 1;
        Ok(progressed)
    }

    /// When something will next be able to happen without new input: a message becoming
    /// visible or a workflow timer.
    pub fn next_due(&self) -> Option<i64> {
        let q = self
            .queues
            .values()
            .filter_map(Queue::next_visible_at)
            .min();
        let e = lock(&self.engine).next_wakeup();
        match (q, e) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Runs steps until nothing is left to do before `until_ms` (or at all), skipping idle
    /// time when the clock allows it, sleeping otherwise. `on_step` sees the runtime after
    /// every step (for live output); returning false from it stops the run.
    pub fn run_until_idle(
        &mut self,
        until_ms: Option<i64>,
        mut on_step: impl FnMut(&Runtime) -> bool,
    ) -> Result<RunStats, RuntimeError> {
        let mut stats = RunStats::default();
        let skipped_before = self.clock.skipped_ms();
        loop {
            if self.faults.as_ref().is_some_and(|f| f.process_crash()) {
                self.crash_and_restart()?;
            }
            let progressed = self.step(&mut stats)?;
            if !on_step(self) {
                break;
            }
            if progressed {
                continue;
            }
            let Some(due) = self.next_due() else { break };
            if until_ms.is_some_and(|u| due > u) {
                break;
            }
            let now = self.clock.now_ms();
            if due > now && !self.clock.skip_to(due) {
                let wait = (due - now).clamp(1, 200);
                std::thread::sleep(std::time::Duration::from_millis(wait as u64));
            }
        }
        stats.skipped_ms = self.clock.skipped_ms() - skipped_before;
        // Whoever reads the outcome next may tell a user: it is on disk by then.
        self.sync()?;
        Ok(stats)
    }

    /// Simulates a process crash: everything not committed is lost (with fault injection on,
    /// that includes the last step handed to the store's writer), and the runtime is rebuilt
    /// from the store. In memory mode there is nothing to rebuild from, so it is a no-op.
    pub fn crash_and_restart(&mut self) -> Result<(), RuntimeError> {
        let Some(path) = self.store.path().to_str().map(PathBuf::from) else {
            return Ok(());
        };
        if !self.store.is_durable() {
            return Ok(());
        }
        let rates = self.faults.as_ref().map(|f| f.rates);
        let start_ms = self.clock.now_ms();
        let old_faults = self.faults.clone();
        let options = RuntimeOptions {
            store: Some(path),
            clock: if self.clock.is_virtual() {
                ClockChoice::Virtual { start_ms }
            } else {
                ClockChoice::Wall { fast_forward: true }
            },
            seed: self.seed,
            faults: rates,
            routing: Some(self.routing.clone()),
            durability: self.store.durability(),
            read_only: false,
            definition: self.definition.clone(),
        };
        // Close the old store before reopening (one writer at a time).
        let placeholder = Store::in_memory();
        std::mem::replace(&mut self.store, placeholder).crash();
        // Keep counting faults across the restart, and keep the fault stream going (the
        // workflow's publisher too: it is wired in at open).
        let mut fresh = Runtime::open_with_faults(options, old_faults)?;
        fresh.trip_faults = self.trip_faults.take();
        *self = fresh;
        Ok(())
    }

    /// Waits until every step so far is on disk (in memory mode: returns at once).
    pub fn sync(&self) -> Result<(), RuntimeError> {
        Ok(self.store.sync()?)
    }

    /// The commit ticket of the last step (or put) handed to the store.
    pub fn last_ticket(&self) -> u64 {
        self.store.last_ticket()
    }

    /// The ticket of the last step on disk: a step is durable once this reaches its ticket.
    /// In memory mode both are always 0: every step counts as durable at once.
    pub fn durable_ticket(&self) -> u64 {
        self.store.committed()
    }

    /// Hands every change since the last persist to the store, to be written in one
    /// transaction (pipelined: see [`crate::store`]); JSON and compression run on the store's
    /// writer thread.
    fn persist(&mut self) -> Result<(), RuntimeError> {
        lock(&self.engine).flush()?;
        let batches = std::mem::take(&mut *lock(&self.exec_batches));
        for batch in batches {
            for sm in batch.state_machines {
                self.store.put(NS_MACHINE, sm.arn.clone(), to_json(&sm));
            }
            for ex in batch.executions {
                let key = ex.execution_arn.clone();
                self.store
                    .put_deferred(NS_EXECUTION, key, Box::new(move || to_json(&ex)));
            }
            for (arn, events) in batch.history {
                if let Some(first) = events.first() {
                    let key = history_key(&arn, first.id);
                    self.store.put_deferred(
                        NS_HISTORY,
                        key,
                        Box::new(move || encode_history(&events)),
                    );
                }
            }
        }
        for q in self.queues.values_mut() {
            // Coalesce the step's changes per message: only the last state is written, and a
            // message sent and consumed within the step is never written at all.
            let mut last: HashMap<String, (bool, Option<Message>)> = HashMap::new();
            let mut order = Vec::new();
            for change in q.take_changes() {
                let (key, created, state) = match change {
                    QueueChange::Insert(m) => {
                        (format!("{}/{}", m.queue, m.message_id), true, Some(m))
                    }
                    QueueChange::Upsert(m) => {
                        (format!("{}/{}", m.queue, m.message_id), false, Some(m))
                    }
                    QueueChange::Remove { queue, message_id } => {
                        (format!("{queue}/{message_id}"), false, None)
                    }
                };
                match last.get_mut(&key) {
                    Some(entry) => entry.1 = state,
                    None => {
                        order.push(key.clone());
                        last.insert(key, (created, state));
                    }
                }
            }
            for key in order {
                match last.remove(&key) {
                    Some((_, Some(mut m))) => {
                        if m.event_id.is_some() {
                            // The event log holds the body.
                            m.body.clear();
                        }
                        self.store
                            .put_deferred(NS_MESSAGE, key, Box::new(move || to_json(&m)));
                    }
                    // Born and gone within the step: nothing to write.
                    Some((true, None)) | None => {}
                    Some((false, None)) => self.store.delete(NS_MESSAGE, key),
                }
            }
        }
        let dirty = std::mem::take(&mut *lock(&self.bookings.dirty));
        if !dirty.bookings.is_empty() || !dirty.inventory.is_empty() {
            let state = lock(&self.bookings.state);
            for (service, trip) in dirty.bookings {
                if let Some(r) = state.record(service, &trip) {
                    let key = trip_booking::booking_key(service, &trip);
                    self.store
                        .put(NS_BOOKING, format!("{}|{}", key.pk, key.sk), to_json(r));
                }
            }
            for key in dirty.inventory {
                if let Some(l) = state.inventory.get(&key) {
                    self.store.put(NS_INVENTORY, key, to_json(l));
                }
            }
        }
        if self.store.pending() > 0 {
            self.store
                .put(NS_META, "ids", to_json(&self.ids.position()));
            self.store.put(NS_META, "restarts", to_json(&self.restarts));
        }
        self.store.commit()?;
        Ok(())
    }

    // ----- reading -----

    /// Every event that crossed the bus, in order.
    pub fn log(&self) -> &[LoggedEvent] {
        &self.log
    }

    /// Faults on chosen trips from now on, in this process (see [`TripFaults`]).
    pub fn set_trip_faults(&mut self, faults: TripFaults) {
        self.trip_faults = Some(Arc::new(faults));
    }

    /// The saga's state machine definition (ASL JSON) this runtime runs.
    pub fn definition(&self) -> &str {
        self.definition.as_deref().unwrap_or(TRIP_SAGA_ASL)
    }

    /// The routing table the bus runs.
    pub fn routing(&self) -> &RoutingTable {
        &self.routing
    }

    /// The trips named by the log, in order of first appearance.
    pub fn trip_ids(&self) -> Vec<String> {
        self.trip_order.clone()
    }

    /// How a trip ended, if it has: its execution's status (never whatever event last claimed
    /// an outcome), or, for a trip whose request was rejected before any saga started, the
    /// bridge's `TripBookingRejected`.
    pub fn trip_outcome(&self, trip_id: &str) -> Option<TripOutcome> {
        match self.describe_execution(trip_id) {
            Some(d) => outcome_of_execution(&d),
            None => match self.outcomes.get(trip_id) {
                Some(o @ TripOutcome::Rejected { .. }) => Some(o.clone()),
                _ => None,
            },
        }
    }

    /// The trip's last outcome event in the log from who may announce it (what clients saw).
    pub fn announced_outcome(&self, trip_id: &str) -> Option<TripOutcome> {
        self.outcomes.get(trip_id).cloned()
    }

    /// Trips whose saga ended in `TripCompensationStuck`, with what may still be held.
    pub fn stuck_compensations(&self) -> Vec<(String, TripOutcome)> {
        self.trip_order
            .iter()
            .filter_map(|t| match self.outcomes.get(t) {
                Some(o @ TripOutcome::Stuck { .. }) => Some((t.clone(), o.clone())),
                _ => None,
            })
            .collect()
    }

    /// Whether a trip has ended (cheaper than [`Runtime::trip_outcome`]).
    pub fn trip_finished(&self, trip_id: &str) -> bool {
        self.outcomes.contains_key(trip_id)
    }

    pub fn booking(&self, service: Service, trip_id: &str) -> Option<BookingRecord> {
        lock(&self.bookings.state).record(service, trip_id).cloned()
    }

    /// Units held on an inventory key.
    pub fn held(&self, inventory_key: &str) -> u32 {
        lock(&self.bookings.state).held(inventory_key)
    }

    pub fn execution_arn(&self, trip_id: &str) -> String {
        self.state_machine_arn
            .replacen(":stateMachine:", ":execution:", 1)
            + ":"
            + trip_id
    }

    pub fn describe_execution(&self, trip_id: &str) -> Option<ExecutionDescription> {
        lock(&self.engine)
            .describe_execution(&self.execution_arn(trip_id))
            .ok()
    }

    pub fn execution_history(&self, trip_id: &str) -> Vec<HistoryEvent> {
        lock(&self.engine)
            .get_execution_history(&self.execution_arn(trip_id))
            .unwrap_or_default()
    }

    pub fn status(&self, trip_id: &str) -> TripStatus {
        let description = self.describe_execution(trip_id);
        let bookings = Service::ALL
            .iter()
            .filter_map(|s| Some((s.name().to_owned(), self.booking(*s, trip_id)?)))
            .collect();
        TripStatus {
            trip_id: trip_id.to_owned(),
            outcome: self.trip_outcome(trip_id),
            transitions: description.as_ref().map(|d| d.transitions),
            execution: description.as_ref().map(ExecutionDescription::to_aws_json),
            bookings,
            events: self.trip_log(trip_id).into_iter().cloned().collect(),
            history: self
                .execution_history(trip_id)
                .iter()
                .map(HistoryEvent::to_aws_json)
                .collect(),
        }
    }

    /// Per queue, what SQS and Lambda would bill since the runtime was opened.
    pub fn queue_usage(&self) -> &BTreeMap<String, QueueUsage> {
        &self.queue_usage
    }

    /// The DynamoDB requests the booking tables would have served (see [`crate::cost`]).
    pub fn dynamo_usage(&self) -> crate::cost::DynamoUsage {
        *lock(&self.bookings.usage)
    }

    /// Dead letters of every queue.
    pub fn dead_letters(&self) -> Vec<Message> {
        self.queues
            .values()
            .flat_map(|q| q.dead_letters())
            .map(|m| Message {
                body: m.body_text().into_owned(),
                ..m.clone()
            })
            .collect()
    }

    /// Messages still waiting or in flight, per queue.
    pub fn queue_depths(&self) -> BTreeMap<String, (usize, usize)> {
        self.queues
            .iter()
            .map(|(n, q)| (n.clone(), (q.len(), q.dead_letters().count())))
            .collect()
    }

    /// Moves dead letters back to their queues (all queues when `queue` is None).
    pub fn redrive(&mut self, queue: Option<&str>) -> Result<usize, RuntimeError> {
        let now = self.clock.now_ms();
        let mut n = 0;
        for (name, q) in &mut self.queues {
            if queue.is_none_or(|want| want == name) {
                n += q.redrive(now);
            }
        }
        self.persist()?;
        self.sync()?;
        Ok(n)
    }

    /// Deletes dead letters for good (all queues when `queue` is None).
    pub fn purge_dead_letters(&mut self, queue: Option<&str>) -> Result<usize, RuntimeError> {
        let mut n = 0;
        for (name, q) in &mut self.queues {
            if queue.is_none_or(|want| want == name) {
                n += q.purge_dead_letters();
            }
        }
        self.persist()?;
        self.sync()?;
        Ok(n)
    }

    /// Statuses of every execution the engine holds.
    pub fn executions(&self) -> Vec<(String, ExecutionStatus)> {
        lock(&self.engine).executions_in_memory()
    }

    /// Checks the saga's invariants (DESIGN.md) over everything the runtime holds.
    pub fn check_invariants(&self) -> Vec<Violation> {
        crate::invariants::check(self)
    }

    pub(crate) fn booking_state(&self) -> MemoryState {
        lock(&self.bookings.state).clone()
    }
}

/// A service's refusal of a booking, injected by `trip book --fail` (business: the saga
/// compensates) or `--transient` (the workflow's Retry on `Trip.TransientError` tries the step
/// again): the `...BookingFailed` the service publishes, with the command's correlation id and
/// task token.
async fn refuse(
    service: Service,
    kind: FailureKind,
    publisher: &OutboxPublisher,
    env: &EventEnvelope,
) -> Result<Handled, String> {
    use trip_booking::EventPublisher;
    let metadata = serde_json::from_value(env.detail["metadata"].clone())
        .map_err(|e| format!("malformed record: the command's metadata: {e}"))?;
    let (reason, flag, what) = match kind {
        FailureKind::Business => ("INJECTED_FAILURE", "--fail", "refuses"),
        FailureKind::Transient => ("THROTTLED", "--transient", "is throttled"),
    };
    let reason = reason.to_owned();
    publisher
        .publish(&[TripEvent::BookingFailed(trip_events::BookingFailed {
            trip_id: env.trip_id().unwrap_or_default().to_owned(),
            service,
            kind,
            reason: reason.clone(),
            message: format!(
                "injected by `trip book {flag} {}`: the {service} service {what}",
                service.book_step()
            ),
            metadata,
        })])
        .await
        .map_err(|e| e.to_string())?;
    Ok(Handled::BookingFailed { reason })
}

/// Whether an outcome event came from who may announce it: the workflow (`trip.saga`) for
/// `TripBooked`, `TripBookingFailed` and `TripCompensationStuck`, the bridge (`trip.bridge`)
/// for `TripBookingRejected` and for outcomes it publishes again for a repeated request.
pub fn outcome_source_ok(envelope: &EventEnvelope) -> bool {
    let Ok(dt) = envelope.detail_type.parse::<DetailType>() else {
        return false;
    };
    let repeat = envelope
        .detail
        .pointer("/metadata/repeat")
        .and_then(Value::as_bool)
        == Some(true);
    envelope.source == dt.source() || (repeat && envelope.source == trip_events::source::BRIDGE)
}

/// The outcome an event announces, if it is a trip's final event (whoever sent it: see
/// [`outcome_source_ok`]).
pub fn outcome_of(envelope: &EventEnvelope) -> Option<TripOutcome> {
    let dt: DetailType = envelope.detail_type.parse().ok()?;
    outcome_of_detail(dt, &envelope.detail)
}

fn outcome_of_detail(dt: DetailType, d: &Value) -> Option<TripOutcome> {
    let text = |ptr: &str| {
        d.pointer(ptr)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    match dt {
        DetailType::TripBooked => Some(TripOutcome::Booked),
        DetailType::TripBookingFailed => {
            let undone = d
                .get("undone")
                .and_then(Value::as_object)
                .map(|m| m.keys().cloned().collect())
                .unwrap_or_default();
            Some(TripOutcome::Failed {
                failed_step: text("/failedStep"),
                error: text("/error/Error"),
                cause: d
                    .pointer("/error/Cause")
                    .and_then(Value::as_str)
                    .map(str::to_owned),
                undone,
            })
        }
        DetailType::TripCompensationStuck => Some(TripOutcome::Stuck {
            failed_step: text("/failedStep"),
            stuck_step: text("/stuckStep"),
            still_held: d
                .get("stillHeld")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            error: text("/error/Error"),
        }),
        DetailType::TripBookingRejected => {
            let reasons = d
                .get("reasons")
                .and_then(|r| serde_json::from_value(r.clone()).ok())
                .unwrap_or_default();
            Some(TripOutcome::Rejected { reasons })
        }
        _ => None,
    }
}

/// A trip's outcome from its execution, as `DescribeExecution` reports it: succeeded is booked;
/// a failure's cause is the detail of the outcome event the definition published (its Fail
/// states say so); a timed-out or stopped execution failed with that status. `None` while it
/// runs.
pub fn outcome_of_execution(d: &ExecutionDescription) -> Option<TripOutcome> {
    match d.status {
        ExecutionStatus::Running => None,
        ExecutionStatus::Succeeded => Some(TripOutcome::Booked),
        ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted => {
            let from_cause = d
                .cause
                .as_deref()
                .and_then(|c| serde_json::from_str::<Value>(c).ok())
                .and_then(|detail| {
                    let dt = match d.error.as_deref() {
                        Some("TripCompensationStuck") => DetailType::TripCompensationStuck,
                        _ => DetailType::TripBookingFailed,
                    };
                    outcome_of_detail(dt, &detail)
                });
            Some(from_cause.unwrap_or_else(|| {
                TripOutcome::Failed {
                    failed_step: String::new(),
                    error: d
                        .error
                        .clone()
                        .unwrap_or_else(|| d.status.as_str().to_owned()),
                    cause: d.cause.clone(),
                    undone: Vec::new(),
                }
            }))
        }
    }
}

/// Statuses a booking can be in, for display.
pub fn booking_status_name(s: BookingStatus) -> &'static str {
    s.as_str()
}
