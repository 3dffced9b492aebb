//! The execution engine: a deterministic, single-threaded, step-driven interpreter with an API
//! shaped like Step Functions'. It never sleeps and never reads the wall clock by itself: time
//! comes from a [`Clock`], and the caller calls [`Engine::run`] to do everything due at "now".

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use base64::Engine as _;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use crate::choice;
use crate::definition::{
    self, Jitter, MapSpec, Percentage, Seconds, State, StateKind, StateMachine, Text, WaitSpec,
    error_matches,
};
use crate::error::{Failure, WorkflowError, names};
use crate::history::{HistoryEvent, format_timestamp, not_truncated, resource_parts};
use crate::integrations::{
    EventPublisher, IntegrationPattern, PUT_EVENTS, PutEventsIntegration, TaskIntegration,
    TaskOutcome, TaskRequest, split_resource,
};
use crate::intrinsics::{self, RandomSource};
use crate::path::{self, PathField, TemplateScope};
use crate::store::{ExecutionStore, StoredStateMachine, WriteBatch};

/// Where time comes from: milliseconds since the Unix epoch.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The real clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        chrono::Utc::now().timestamp_millis()
    }
}

/// A clock that moves only when told to; clones share the same time.
#[derive(Debug, Clone, Default)]
pub struct VirtualClock(Arc<AtomicI64>);

impl VirtualClock {
    pub fn new(start_ms: i64) -> Self {
        VirtualClock(Arc::new(AtomicI64::new(start_ms)))
    }
    pub fn set(&self, ms: i64) {
        self.0.store(ms, Ordering::SeqCst);
    }
    pub fn advance(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
    pub fn now(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ExecutionStatus {
    Running,
    Succeeded,
    Failed,
    TimedOut,
    Aborted,
}

impl ExecutionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ExecutionStatus::Running => "RUNNING",
            ExecutionStatus::Succeeded => "SUCCEEDED",
            ExecutionStatus::Failed => "FAILED",
            ExecutionStatus::TimedOut => "TIMED_OUT",
            ExecutionStatus::Aborted => "ABORTED",
        }
    }
}

impl std::fmt::Display for ExecutionStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RetiredReason {
    Completed,
    TimedOut,
    Aborted,
}

/// A task attempt waiting for its result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TaskWait {
    pub token: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_seconds: Option<u64>,
    /// Set by `send_task_*`, consumed by the next `run`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Result<Value, Failure>>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Slot {
    Pending,
    Running(u32),
    Done(Value),
}

/// A Parallel or Map state waiting for its branches or iterations.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Children {
    pub effective: Value,
    pub slots: Vec<Slot>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<Value>>,
    pub next_item: usize,
    pub max_concurrency: usize,
    /// Failed iterations a Map tolerates (`ToleratedFailure...`); `None`: the first failure
    /// fails the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<Tolerance>,
    #[serde(default)]
    pub failures: usize,
    /// A Distributed Map: iterations are child executions, outside this history.
    #[serde(default)]
    pub distributed: bool,
    /// The items are already the children's inputs (ItemSelector and ItemBatcher applied).
    #[serde(default)]
    pub prepared: bool,
}

/// "ToleratedFailurePercentage ... ToleratedFailureCount": the Map fails with
/// States.ExceedToleratedFailureThreshold once either is exceeded
/// (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html,
/// "Setting failure thresholds for Distributed Map states").
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Tolerance {
    pub percentage: f64,
    pub count: u64,
}

impl Tolerance {
    fn exceeded(&self, failures: usize, total: usize) -> bool {
        let failures_u = u64::try_from(failures).unwrap_or(u64::MAX);
        let share = if total == 0 {
            0.0
        } else {
            failures as f64 * 100.0 / total as f64
        };
        failures_u > self.count || share > self.percentage
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Phase {
    Enter,
    Task(TaskWait),
    Backoff { until: i64 },
    Wait { until: i64, output: Value },
    Children(Children),
    Done(Result<Value, Failure>),
}

/// One line of control: the top level (id 0), a Parallel branch or a Map iteration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    pub id: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
    /// Which nested machine this thread runs: (Parallel/Map state name, branch index) pairs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scope: Vec<(String, usize)>,
    pub state: String,
    pub input: Value,
    pub entered_ms: i64,
    pub last_event: u64,
    /// The id of the current state's `...StateEntered` event, which AWS names in the cause
    /// of a `States.Runtime` error.
    #[serde(default)]
    pub entered_event: u64,
    /// A Distributed Map's child execution (or a thread inside one): its events belong to
    /// the child's own history, not this one; `last_event` counts them there.
    #[serde(default)]
    pub hidden: bool,
    pub phase: Phase,
    #[serde(default)]
    pub retry_counts: Vec<u32>,
    #[serde(default)]
    pub retry_total: u32,
}

/// The durable state of one execution (history is stored separately, append-only).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub input: Value,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cause: Option<String>,
    pub start_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_ms: Option<i64>,
    pub transitions: u64,
    pub next_event_id: u64,
    pub token_seq: u64,
    pub next_thread: u32,
    pub threads: BTreeMap<u32, Thread>,
    /// Recently finished tokens, so a late callback gets the right error.
    #[serde(default)]
    pub retired_tokens: VecDeque<(String, RetiredReason)>,
}

impl ExecutionRecord {
    /// Serializes for a store.
    pub fn to_json_bytes(&self) -> Result<Vec<u8>, WorkflowError> {
        serde_json::to_vec(self).map_err(|e| WorkflowError::Store(e.to_string()))
    }
    pub fn from_json_bytes(bytes: &[u8]) -> Result<Self, WorkflowError> {
        serde_json::from_slice(bytes).map_err(|e| WorkflowError::Store(e.to_string()))
    }
}

/// What DescribeExecution answers.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionDescription {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub status: ExecutionStatus,
    pub input: Value,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub start_ms: i64,
    pub stop_ms: Option<i64>,
    /// State transitions so far (what Standard workflows bill).
    pub transitions: u64,
}

impl ExecutionDescription {
    /// DescribeExecution's JSON shape.
    pub fn to_aws_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("executionArn".into(), self.execution_arn.clone().into());
        m.insert(
            "stateMachineArn".into(),
            self.state_machine_arn.clone().into(),
        );
        m.insert("name".into(), self.name.clone().into());
        m.insert("status".into(), self.status.as_str().into());
        m.insert("startDate".into(), format_timestamp(self.start_ms).into());
        if let Some(s) = self.stop_ms {
            m.insert("stopDate".into(), format_timestamp(s).into());
        }
        m.insert("input".into(), self.input.to_string().into());
        m.insert("inputDetails".into(), not_truncated());
        if let Some(o) = &self.output {
            m.insert("output".into(), o.to_string().into());
            m.insert("outputDetails".into(), not_truncated());
        }
        if let Some(e) = &self.error {
            m.insert("error".into(), e.clone().into());
        }
        if let Some(c) = &self.cause {
            m.insert("cause".into(), c.clone().into());
        }
        Value::Object(m)
    }
}

/// StartExecution's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StartedExecution {
    pub execution_arn: String,
    pub start_ms: i64,
    /// True when an identical running execution already existed (an idempotent repeat).
    pub already_running: bool,
}

/// What one [`Engine::run`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunReport {
    pub now_ms: i64,
    /// Executions that were advanced.
    pub advanced: usize,
    /// Executions that reached a final status during this run.
    pub finished: Vec<String>,
    /// When the next timer is due (Wait, Retry backoff, timeouts), if any.
    pub next_wakeup_ms: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct EngineConfig {
    pub region: String,
    pub account: String,
    pub role_arn: String,
    /// Write each call's changes to the store before it returns. Turn off to batch writes
    /// across calls, then call [`Engine::flush`].
    pub auto_flush: bool,
    /// Drop finished executions from memory on flush (they stay readable from the store).
    pub evict_finished: bool,
    /// Step Functions' per-execution history limit; past it the execution fails.
    pub max_history_events: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            region: "local".into(),
            account: "000000000000".into(),
            role_arn: "arn:aws:iam::000000000000:role/trip-saga-local".into(),
            auto_flush: true,
            evict_finished: false,
            max_history_events: 25_000,
        }
    }
}

struct LoadedMachine {
    stored: StoredStateMachine,
    def: StateMachine,
}

struct Exec {
    record: ExecutionRecord,
    unflushed: Vec<HistoryEvent>,
}

/// The interpreter. See the crate docs for how to drive it.
pub struct Engine {
    config: EngineConfig,
    clock: Arc<dyn Clock>,
    rng: Box<dyn RandomSource>,
    store: Box<dyn ExecutionStore>,
    machines: HashMap<String, Arc<LoadedMachine>>,
    integrations: HashMap<String, Box<dyn TaskIntegration>>,
    fallback: Option<Box<dyn TaskIntegration>>,
    execs: HashMap<String, Exec>,
    ready: VecDeque<String>,
    ready_set: HashSet<String>,
    wakeups: BTreeSet<(i64, String)>,
    wake_of: HashMap<String, i64>,
    dirty: BTreeSet<String>,
    pending_machines: Vec<StoredStateMachine>,
}

const MAX_TOKEN_LEN: usize = 2048;
const MAX_OUTPUT_BYTES: usize = 256 * 1024;
const MAX_ERROR_CHARS: usize = 256;
const MAX_CAUSE_CHARS: usize = 32_768;
const RETIRED_TOKENS_KEPT: usize = 64;

fn valid_name(name: &str) -> bool {
    let n = name.chars().count();
    (1..=80).contains(&n)
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || "<>{}[]?*\"#%\\^|~`$&,;:/".contains(c))
}

impl Engine {
    /// Builds an engine over a store, loading its state machines and resuming its running
    /// executions (their tokens stay valid and their timers fire on the next `run`).
    pub fn new(
        config: EngineConfig,
        mut store: Box<dyn ExecutionStore>,
        clock: Arc<dyn Clock>,
        rng: Box<dyn RandomSource>,
    ) -> Result<Engine, WorkflowError> {
        let mut machines = HashMap::new();
        for sm in store.load_state_machines()? {
            let def = definition::load(&sm.definition, &sm.substitutions)?;
            machines.insert(sm.arn.clone(), Arc::new(LoadedMachine { stored: sm, def }));
        }
        let running = store.load_running_executions()?;
        let mut engine = Engine {
            config,
            clock,
            rng,
            store,
            machines,
            integrations: HashMap::new(),
            fallback: None,
            execs: HashMap::new(),
            ready: VecDeque::new(),
            ready_set: HashSet::new(),
            wakeups: BTreeSet::new(),
            wake_of: HashMap::new(),
            dirty: BTreeSet::new(),
            pending_machines: Vec::new(),
        };
        for record in running {
            let arn = record.execution_arn.clone();
            engine.execs.insert(
                arn.clone(),
                Exec {
                    record,
                    unflushed: Vec::new(),
                },
            );
            engine.schedule(&arn);
            engine.mark_ready(&arn);
        }
        Ok(engine)
    }

    /// A ready-to-use engine over a fresh in-memory store.
    pub fn in_memory(clock: Arc<dyn Clock>, seed: u64) -> Engine {
        Engine {
            config: EngineConfig::default(),
            clock,
            rng: Box::new(intrinsics::SeededRandom::new(seed)),
            store: Box::new(crate::store::MemoryStore::new()),
            machines: HashMap::new(),
            integrations: HashMap::new(),
            fallback: None,
            execs: HashMap::new(),
            ready: VecDeque::new(),
            ready_set: HashSet::new(),
            wakeups: BTreeSet::new(),
            wake_of: HashMap::new(),
            dirty: BTreeSet::new(),
            pending_machines: Vec::new(),
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    pub fn now_ms(&self) -> i64 {
        self.clock.now_ms()
    }

    /// Registers the integration for a base resource (without `.waitForTaskToken`/`.sync`).
    pub fn register_integration(
        &mut self,
        resource: impl Into<String>,
        integration: Box<dyn TaskIntegration>,
    ) {
        self.integrations.insert(resource.into(), integration);
    }

    /// The integration for every resource that has none registered.
    pub fn set_fallback_integration(&mut self, integration: Box<dyn TaskIntegration>) {
        self.fallback = Some(integration);
    }

    /// Registers the built-in `events:putEvents` integration over a publisher.
    pub fn register_event_publisher<P: EventPublisher + 'static>(&mut self, publisher: P) {
        self.register_integration(PUT_EVENTS, Box::new(PutEventsIntegration::new(publisher)));
    }

    fn has_integration(&self, resource: &str) -> bool {
        let (base, _) = split_resource(resource);
        self.fallback.is_some() || self.integrations.contains_key(base)
    }

    fn machine_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:states:{}:{}:stateMachine:{name}",
            self.config.region, self.config.account
        )
    }

    /// CreateStateMachine: validates the definition (and that every resource has an
    /// integration). Creating the same name with the same definition again is a no-op.
    pub fn create_state_machine(
        &mut self,
        name: &str,
        definition: &str,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<String, WorkflowError> {
        if !valid_name(name) {
            return Err(WorkflowError::InvalidName(name.to_string()));
        }
        let arn = self.machine_arn(name);
        if let Some(existing) = self.machines.get(&arn) {
            if existing.stored.definition == definition
                && &existing.stored.substitutions == substitutions
            {
                return Ok(arn);
            }
            return Err(WorkflowError::StateMachineAlreadyExists(arn));
        }
        self.install_machine(arn.clone(), name, definition, substitutions)?;
        Ok(arn)
    }

    /// UpdateStateMachine: replaces the definition; running executions continue on the new one.
    pub fn update_state_machine(
        &mut self,
        arn: &str,
        definition: &str,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<(), WorkflowError> {
        let name = self
            .machines
            .get(arn)
            .map(|m| m.stored.name.clone())
            .ok_or_else(|| WorkflowError::StateMachineDoesNotExist(arn.to_string()))?;
        self.install_machine(arn.to_string(), &name, definition, substitutions)
    }

    fn install_machine(
        &mut self,
        arn: String,
        name: &str,
        definition: &str,
        substitutions: &BTreeMap<String, String>,
    ) -> Result<(), WorkflowError> {
        let def = definition::load(definition, substitutions)?;
        for (state, resource) in def.resources() {
            if !self.has_integration(&resource) {
                return Err(WorkflowError::UnknownResource { state, resource });
            }
        }
        let stored = StoredStateMachine {
            arn: arn.clone(),
            name: name.to_string(),
            definition: definition.to_string(),
            substitutions: substitutions.clone(),
            created_ms: self.clock.now_ms(),
        };
        self.pending_machines.push(stored.clone());
        self.machines
            .insert(arn, Arc::new(LoadedMachine { stored, def }));
        self.auto_flush()
    }

    /// The loaded definition of a state machine.
    pub fn state_machine(&self, arn: &str) -> Option<&StateMachine> {
        self.machines.get(arn).map(|m| &m.def)
    }

    // ----- executions -----

    /// StartExecution. Idempotent by name: the same name and input while the execution runs
    /// returns it again; anything else with a used name is `ExecutionAlreadyExists`.
    pub fn start_execution(
        &mut self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: &str,
    ) -> Result<StartedExecution, WorkflowError> {
        if input.len() > MAX_OUTPUT_BYTES {
            return Err(WorkflowError::InvalidExecutionInput(
                "input is larger than 256 KiB".into(),
            ));
        }
        let input: Value = serde_json::from_str(input)
            .map_err(|e| WorkflowError::InvalidExecutionInput(e.to_string()))?;
        self.start_execution_value(state_machine_arn, name, input)
    }

    /// StartExecution with an already parsed input.
    pub fn start_execution_value(
        &mut self,
        state_machine_arn: &str,
        name: Option<&str>,
        input: Value,
    ) -> Result<StartedExecution, WorkflowError> {
        if exceeds_payload_limit(&input) {
            return Err(WorkflowError::InvalidExecutionInput(
                "input is larger than 256 KiB".into(),
            ));
        }
        let machine = self
            .machines
            .get(state_machine_arn)
            .cloned()
            .ok_or_else(|| WorkflowError::StateMachineDoesNotExist(state_machine_arn.into()))?;
        let name = match name {
            Some(n) => n.to_string(),
            None => intrinsics::uuid_v4(self.rng.as_mut()),
        };
        if !valid_name(&name) {
            return Err(WorkflowError::InvalidName(name));
        }
        let arn = format!(
            "arn:aws:states:{}:{}:execution:{}:{}",
            self.config.region, self.config.account, machine.stored.name, name
        );
        let existing = match self.execs.get(&arn) {
            Some(e) => Some(e.record.clone()),
            None => self.store.load_execution(&arn)?,
        };
        if let Some(rec) = existing {
            if rec.status == ExecutionStatus::Running && rec.input == input {
                return Ok(StartedExecution {
                    execution_arn: arn,
                    start_ms: rec.start_ms,
                    already_running: true,
                });
            }
            return Err(WorkflowError::ExecutionAlreadyExists(arn));
        }
        let now = self.clock.now_ms();
        let root = Thread {
            id: 0,
            parent: None,
            scope: Vec::new(),
            state: machine.def.start_at.clone(),
            input: input.clone(),
            entered_ms: now,
            last_event: 0,
            entered_event: 0,
            hidden: false,
            phase: Phase::Enter,
            retry_counts: Vec::new(),
            retry_total: 0,
        };
        let mut exec = Exec {
            record: ExecutionRecord {
                execution_arn: arn.clone(),
                state_machine_arn: state_machine_arn.to_string(),
                name: name.clone(),
                status: ExecutionStatus::Running,
                input: input.clone(),
                output: None,
                error: None,
                cause: None,
                start_ms: now,
                stop_ms: None,
                deadline_ms: machine
                    .def
                    .timeout_seconds
                    .map(|s| now.saturating_add(secs_to_ms(s))),
                transitions: 0,
                next_event_id: 0,
                token_seq: 0,
                next_thread: 1,
                threads: BTreeMap::from([(0, root)]),
                retired_tokens: VecDeque::new(),
            },
            unflushed: Vec::new(),
        };
        let details = json!({
            "input": input.to_string(),
            "inputDetails": not_truncated(),
            "roleArn": self.config.role_arn,
            "stateMachineArn": state_machine_arn,
        });
        let id = push_event(
            &mut exec,
            0,
            now,
            "ExecutionStarted",
            "executionStartedEventDetails",
            details,
        );
        if let Some(t) = exec.record.threads.get_mut(&0) {
            t.last_event = id;
        }
        self.execs.insert(arn.clone(), exec);
        self.dirty.insert(arn.clone());
        self.schedule(&arn);
        self.mark_ready(&arn);
        self.auto_flush()?;
        Ok(StartedExecution {
            execution_arn: arn,
            start_ms: now,
            already_running: false,
        })
    }

    /// DescribeExecution.
    pub fn describe_execution(
        &mut self,
        execution_arn: &str,
    ) -> Result<ExecutionDescription, WorkflowError> {
        let rec = match self.execs.get(execution_arn) {
            Some(e) => e.record.clone(),
            None => self
                .store
                .load_execution(execution_arn)?
                .ok_or_else(|| WorkflowError::ExecutionDoesNotExist(execution_arn.into()))?,
        };
        Ok(ExecutionDescription {
            execution_arn: rec.execution_arn,
            state_machine_arn: rec.state_machine_arn,
            name: rec.name,
            status: rec.status,
            input: rec.input,
            output: rec.output,
            error: rec.error,
            cause: rec.cause,
            start_ms: rec.start_ms,
            stop_ms: rec.stop_ms,
            transitions: rec.transitions,
        })
    }

    /// GetExecutionHistory: every event so far, oldest first.
    pub fn get_execution_history(
        &mut self,
        execution_arn: &str,
    ) -> Result<Vec<HistoryEvent>, WorkflowError> {
        let mut events = self.store.load_history(execution_arn)?;
        match self.execs.get(execution_arn) {
            Some(e) => events.extend(e.unflushed.iter().cloned()),
            None => {
                if events.is_empty() && self.store.load_execution(execution_arn)?.is_none() {
                    return Err(WorkflowError::ExecutionDoesNotExist(execution_arn.into()));
                }
            }
        }
        Ok(events)
    }

    /// Executions held in memory (running ones and, unless evicted, finished ones).
    pub fn executions_in_memory(&self) -> Vec<(String, ExecutionStatus)> {
        let mut v: Vec<_> = self
            .execs
            .values()
            .map(|e| (e.record.execution_arn.clone(), e.record.status))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// The tokens an execution is waiting on, with the state that waits (for tools and tests).
    pub fn pending_tasks(&self, execution_arn: &str) -> Vec<(String, String)> {
        let mut out = Vec::new();
        if let Some(e) = self.execs.get(execution_arn) {
            for t in e.record.threads.values() {
                if let Phase::Task(w) = &t.phase
                    && w.outcome.is_none()
                {
                    out.push((t.state.clone(), w.token.clone()));
                }
            }
        }
        out
    }

    /// StopExecution: the execution ends ABORTED; its tokens stop being valid.
    pub fn stop_execution(
        &mut self,
        execution_arn: &str,
        error: Option<&str>,
        cause: Option<&str>,
    ) -> Result<i64, WorkflowError> {
        let now = self.clock.now_ms();
        let ex = self
            .execs
            .get_mut(execution_arn)
            .ok_or_else(|| WorkflowError::ExecutionDoesNotExist(execution_arn.into()))?;
        if ex.record.status != ExecutionStatus::Running {
            return Ok(ex.record.stop_ms.unwrap_or(now));
        }
        let mut d = Map::new();
        if let Some(e) = error {
            d.insert("error".into(), e.into());
        }
        if let Some(c) = cause {
            d.insert("cause".into(), c.into());
        }
        let prev = ex.record.next_event_id;
        push_event(
            ex,
            prev,
            now,
            "ExecutionAborted",
            "executionAbortedEventDetails",
            Value::Object(d),
        );
        ex.record.error = error.map(str::to_string);
        ex.record.cause = cause.map(str::to_string);
        close(ex, ExecutionStatus::Aborted, now, RetiredReason::Aborted);
        self.dirty.insert(execution_arn.to_string());
        self.schedule(execution_arn);
        self.auto_flush()?;
        Ok(now)
    }

    // ----- callbacks -----

    fn decode_token(token: &str) -> Result<String, WorkflowError> {
        if token.is_empty() || token.len() > MAX_TOKEN_LEN {
            return Err(WorkflowError::InvalidToken(
                "a task token is 1 to 2048 characters".into(),
            ));
        }
        let mut parts = token.split('.');
        let (Some(arn), Some(_), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(WorkflowError::InvalidToken("malformed task token".into()));
        };
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(arn)
            .map_err(|_| WorkflowError::InvalidToken("malformed task token".into()))?;
        String::from_utf8(bytes)
            .map_err(|_| WorkflowError::InvalidToken("malformed task token".into()))
    }

    fn new_token(&mut self, rec: &mut ExecutionRecord) -> String {
        rec.token_seq += 1;
        let r = self.rng.next_u64();
        format!(
            "{}.{:x}.{:016x}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(rec.execution_arn.as_bytes()),
            rec.token_seq,
            r
        )
    }

    /// Finds the waiting task for a token, or the AWS error for a stale one.
    fn locate(&mut self, token: &str) -> Result<(String, u32), WorkflowError> {
        let arn = Self::decode_token(token)?;
        let stale = |rec: &ExecutionRecord| -> WorkflowError {
            match rec.retired_tokens.iter().find(|(t, _)| t == token) {
                Some((_, RetiredReason::TimedOut)) => {
                    WorkflowError::TaskTimedOut("the task for this token has timed out".into())
                }
                _ => WorkflowError::TaskDoesNotExist("no task is waiting for this token".into()),
            }
        };
        match self.execs.get(&arn) {
            Some(ex) => {
                for t in ex.record.threads.values() {
                    if let Phase::Task(w) = &t.phase
                        && w.token == token
                        && w.outcome.is_none()
                    {
                        return Ok((arn, t.id));
                    }
                }
                Err(stale(&ex.record))
            }
            None => match self.store.load_execution(&arn)? {
                Some(rec) => Err(stale(&rec)),
                None => Err(WorkflowError::TaskDoesNotExist(
                    "no task is waiting for this token".into(),
                )),
            },
        }
    }

    fn complete(
        &mut self,
        token: &str,
        outcome: Result<Value, Failure>,
    ) -> Result<(), WorkflowError> {
        let (arn, tid) = self.locate(token)?;
        if let Some(ex) = self.execs.get_mut(&arn)
            && let Some(t) = ex.record.threads.get_mut(&tid)
            && let Phase::Task(w) = &mut t.phase
        {
            w.outcome = Some(outcome);
        }
        self.dirty.insert(arn.clone());
        self.mark_ready(&arn);
        self.auto_flush()
    }

    /// SendTaskSuccess. The execution continues on the next `run`.
    pub fn send_task_success(&mut self, token: &str, output: &str) -> Result<(), WorkflowError> {
        if output.len() > MAX_OUTPUT_BYTES {
            return Err(WorkflowError::InvalidOutput(
                "output is larger than 256 KiB".into(),
            ));
        }
        let v: Value = serde_json::from_str(output)
            .map_err(|e| WorkflowError::InvalidOutput(format!("output is not JSON: {e}")))?;
        self.complete(token, Ok(v))
    }

    /// SendTaskFailure. The error is matched by the state's Retry and Catch.
    pub fn send_task_failure(
        &mut self,
        token: &str,
        error: &str,
        cause: &str,
    ) -> Result<(), WorkflowError> {
        if error.chars().count() > MAX_ERROR_CHARS {
            return Err(WorkflowError::Validation(
                "error is longer than 256 characters".into(),
            ));
        }
        if cause.chars().count() > MAX_CAUSE_CHARS {
            return Err(WorkflowError::Validation(
                "cause is longer than 32768 characters".into(),
            ));
        }
        self.complete(token, Err(Failure::new(error, cause)))
    }

    /// SendTaskHeartbeat: restarts the task's heartbeat timer.
    pub fn send_task_heartbeat(&mut self, token: &str) -> Result<(), WorkflowError> {
        let (arn, tid) = self.locate(token)?;
        let now = self.clock.now_ms();
        if let Some(ex) = self.execs.get_mut(&arn)
            && let Some(t) = ex.record.threads.get_mut(&tid)
            && let Phase::Task(w) = &mut t.phase
            && let Some(h) = w.heartbeat_seconds
        {
            w.heartbeat_at = Some(now.saturating_add(secs_to_ms(h)));
        }
        self.dirty.insert(arn.clone());
        self.schedule(&arn);
        self.auto_flush()
    }

    // ----- driving -----

    /// When the earliest timer is due, if any.
    pub fn next_wakeup(&self) -> Option<i64> {
        self.wakeups.iter().next().map(|(t, _)| *t)
    }

    /// True when some execution can make progress right now without time passing.
    pub fn has_ready_work(&self) -> bool {
        !self.ready.is_empty()
    }

    /// Runs everything that is runnable at the clock's now: new executions, delivered
    /// callbacks and due timers. Returns what happened and the next wake-up time.
    pub fn run(&mut self) -> Result<RunReport, WorkflowError> {
        let now = self.clock.now_ms();
        while let Some((t, arn)) = self.wakeups.iter().next().cloned() {
            if t > now {
                break;
            }
            self.wakeups.remove(&(t, arn.clone()));
            self.wake_of.remove(&arn);
            self.mark_ready(&arn);
        }
        let mut report = RunReport {
            now_ms: now,
            ..RunReport::default()
        };
        while let Some(arn) = self.ready.pop_front() {
            self.ready_set.remove(&arn);
            let Some(mut ex) = self.execs.remove(&arn) else {
                continue;
            };
            let was_running = ex.record.status == ExecutionStatus::Running;
            if was_running {
                match self.machines.get(&ex.record.state_machine_arn).cloned() {
                    Some(m) => self.advance(&mut ex, &m.def, now),
                    None => {
                        let prev = ex.record.next_event_id;
                        push_event(
                            &mut ex,
                            prev,
                            now,
                            "ExecutionFailed",
                            "executionFailedEventDetails",
                            json!({"error": names::RUNTIME, "cause": "the state machine no longer exists"}),
                        );
                        ex.record.error = Some(names::RUNTIME.into());
                        ex.record.cause = Some("the state machine no longer exists".into());
                        close(
                            &mut ex,
                            ExecutionStatus::Failed,
                            now,
                            RetiredReason::Aborted,
                        );
                    }
                }
                report.advanced += 1;
                if ex.record.status != ExecutionStatus::Running {
                    report.finished.push(arn.clone());
                }
            }
            self.execs.insert(arn.clone(), ex);
            self.dirty.insert(arn.clone());
            self.schedule(&arn);
        }
        self.auto_flush()?;
        report.next_wakeup_ms = self.next_wakeup();
        Ok(report)
    }

    /// Writes every change since the last flush to the store in one batch.
    pub fn flush(&mut self) -> Result<(), WorkflowError> {
        let mut batch = WriteBatch {
            state_machines: self.pending_machines.clone(),
            ..WriteBatch::default()
        };
        for arn in &self.dirty {
            if let Some(ex) = self.execs.get_mut(arn) {
                batch.executions.push(ex.record.clone());
                if !ex.unflushed.is_empty() {
                    // Moved, not cloned: histories are the bulk of what a flush writes.
                    batch
                        .history
                        .push((arn.clone(), std::mem::take(&mut ex.unflushed)));
                }
            }
        }
        if batch.is_empty() {
            return Ok(());
        }
        // A store that fails loses this flush's history events (the records are written again
        // on the next flush); both stores here only fail when their lock is poisoned.
        self.store.write(batch)?;
        self.pending_machines.clear();
        let dirty = std::mem::take(&mut self.dirty);
        for arn in dirty {
            let evict = match self.execs.get_mut(&arn) {
                Some(ex) => {
                    ex.unflushed.clear();
                    self.config.evict_finished && ex.record.status != ExecutionStatus::Running
                }
                None => false,
            };
            if evict {
                self.execs.remove(&arn);
            }
        }
        Ok(())
    }

    /// Hands back the store (e.g. to build a new engine over it, as after a restart).
    pub fn into_store(self) -> Box<dyn ExecutionStore> {
        self.store
    }

    fn auto_flush(&mut self) -> Result<(), WorkflowError> {
        if self.config.auto_flush {
            self.flush()
        } else {
            Ok(())
        }
    }

    fn mark_ready(&mut self, arn: &str) {
        if self.ready_set.insert(arn.to_string()) {
            self.ready.push_back(arn.to_string());
        }
    }

    fn schedule(&mut self, arn: &str) {
        if let Some(old) = self.wake_of.remove(arn) {
            self.wakeups.remove(&(old, arn.to_string()));
        }
        let Some(ex) = self.execs.get(arn) else {
            return;
        };
        if ex.record.status != ExecutionStatus::Running {
            return;
        }
        let mut next = ex.record.deadline_ms;
        let mut consider = |t: Option<i64>| {
            if let Some(t) = t {
                next = Some(next.map_or(t, |n: i64| n.min(t)));
            }
        };
        for th in ex.record.threads.values() {
            match &th.phase {
                Phase::Task(w) if w.outcome.is_none() => {
                    consider(w.timeout_at);
                    consider(w.heartbeat_at);
                }
                Phase::Backoff { until } | Phase::Wait { until, .. } => consider(Some(*until)),
                _ => {}
            }
        }
        if let Some(t) = next {
            self.wakeups.insert((t, arn.to_string()));
            self.wake_of.insert(arn.to_string(), t);
        }
    }

    // ----- the interpreter proper -----

    fn advance(&mut self, ex: &mut Exec, root: &StateMachine, now: i64) {
        loop {
            if ex.record.status != ExecutionStatus::Running {
                return;
            }
            if let Some(d) = ex.record.deadline_ms
                && now >= d
            {
                let prev = last_event(ex);
                push_event(
                    ex,
                    prev,
                    now,
                    "ExecutionTimedOut",
                    "executionTimedOutEventDetails",
                    json!({"error": names::TIMEOUT, "cause": "The execution timed out (TimeoutSeconds)."}),
                );
                ex.record.error = Some(names::TIMEOUT.into());
                ex.record.cause = Some("The execution timed out (TimeoutSeconds).".into());
                close(ex, ExecutionStatus::TimedOut, now, RetiredReason::TimedOut);
                return;
            }
            if ex.record.next_event_id > self.config.max_history_events {
                let cause = format!(
                    "The execution reached the limit of {} history events.",
                    self.config.max_history_events
                );
                let prev = last_event(ex);
                push_event(
                    ex,
                    prev,
                    now,
                    "ExecutionFailed",
                    "executionFailedEventDetails",
                    json!({"error": names::RUNTIME, "cause": cause}),
                );
                ex.record.error = Some(names::RUNTIME.into());
                ex.record.cause = Some(cause);
                close(ex, ExecutionStatus::Failed, now, RetiredReason::Aborted);
                return;
            }
            let ids: Vec<u32> = ex.record.threads.keys().copied().collect();
            let mut progressed = false;
            for tid in ids {
                if self.step(ex, root, tid, now) {
                    progressed = true;
                }
                if ex.record.status != ExecutionStatus::Running {
                    return;
                }
            }
            if !progressed {
                return;
            }
        }
    }

    /// One step of one thread; true if anything changed.
    fn step(&mut self, ex: &mut Exec, root: &StateMachine, tid: u32, now: i64) -> bool {
        let Some(mut th) = ex.record.threads.remove(&tid) else {
            return false;
        };
        let progressed = self.step_thread(ex, root, &mut th, now);
        // A finished top-level thread ends the execution.
        if th.parent.is_none()
            && let Phase::Done(result) = &th.phase
        {
            let result = result.clone();
            ex.record.threads.insert(tid, th);
            finish_execution(ex, result, now);
            return true;
        }
        ex.record.threads.insert(tid, th);
        progressed
    }

    fn step_thread(
        &mut self,
        ex: &mut Exec,
        root: &StateMachine,
        th: &mut Thread,
        now: i64,
    ) -> bool {
        let Some(machine) = resolve_scope(root, &th.scope) else {
            fail_thread(
                th,
                Failure::runtime("the thread's branch is not in the definition"),
            );
            return true;
        };
        let Some(st) = machine.states.get(&th.state) else {
            let f = Failure::runtime(format!("state '{}' is not in the definition", th.state));
            fail_thread(th, f);
            return true;
        };
        match &mut th.phase {
            Phase::Enter => {
                self.enter(ex, th, st, now);
                true
            }
            Phase::Task(w) => {
                if let Some(outcome) = w.outcome.take() {
                    let w = w.clone();
                    retire(&mut ex.record, &w.token, RetiredReason::Completed);
                    let (rtype, rname) = resource_parts(&w.resource);
                    match outcome {
                        Ok(v) => {
                            emit(
                                ex,
                                th,
                                now,
                                "TaskSucceeded",
                                "taskSucceededEventDetails",
                                json!({
                                "resourceType": rtype, "resource": rname,
                                "output": v.to_string(), "outputDetails": not_truncated()}),
                            );
                            self.finish_result(ex, th, st, v, now);
                        }
                        Err(f) => {
                            let mut d =
                                json!({"resourceType": rtype, "resource": rname, "error": f.error});
                            if let Some(c) = &f.cause {
                                d["cause"] = c.clone().into();
                            }
                            emit(ex, th, now, "TaskFailed", "taskFailedEventDetails", d);
                            self.handle_error(ex, th, st, f, now);
                        }
                    }
                    return true;
                }
                let timed_out = w.timeout_at.is_some_and(|t| now >= t);
                let heartbeat_lost = w.heartbeat_at.is_some_and(|t| now >= t);
                if !timed_out && !heartbeat_lost {
                    return false;
                }
                let w = w.clone();
                retire(&mut ex.record, &w.token, RetiredReason::TimedOut);
                let error = if timed_out {
                    names::TIMEOUT
                } else {
                    names::HEARTBEAT_TIMEOUT
                };
                let (rtype, rname) = resource_parts(&w.resource);
                emit(
                    ex,
                    th,
                    now,
                    "TaskTimedOut",
                    "taskTimedOutEventDetails",
                    json!({"resourceType": rtype, "resource": rname, "error": error}),
                );
                self.handle_error(
                    ex,
                    th,
                    st,
                    Failure {
                        error: error.into(),
                        cause: None,
                    },
                    now,
                );
                true
            }
            Phase::Backoff { until } => {
                if now < *until {
                    return false;
                }
                ex.record.transitions += 1;
                match &st.kind {
                    StateKind::Task(_) => self.start_task(ex, th, st, now),
                    StateKind::Parallel { .. } | StateKind::Map(_) => {
                        self.start_children(ex, th, st, now)
                    }
                    _ => fail_thread(
                        th,
                        Failure::runtime("only Task, Parallel and Map states retry"),
                    ),
                }
                true
            }
            Phase::Wait { until, output } => {
                if now < *until {
                    return false;
                }
                let output = output.clone();
                self.exit(ex, th, st, output, st.next.clone(), now);
                true
            }
            Phase::Children(_) => self.step_children(ex, th, st, now),
            Phase::Done(_) => false,
        }
    }

    /// `InputPath`, `OutputPath` or `ItemsPath` over `value`; a `$$` path reads the context
    /// object instead ("you can use a path that starts with $$ ... in InputPath, OutputPath,
    /// ItemsPath", https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html).
    fn pick(
        &self,
        ex: &Exec,
        th: &Thread,
        field: &PathField,
        value: &Value,
        name: &str,
    ) -> Result<Value, Failure> {
        match field {
            PathField::Path(p) if p.context => {
                let ctx = self.context(ex, th, None, None);
                field.select_input_with_context(value, &ctx, name)
            }
            _ => field.select_input(value, name),
        }
    }

    /// Whether the thread's current state can retry: only those states have
    /// `$$.State.RetryCount` in their context object.
    fn state_retries(&self, ex: &Exec, th: &Thread) -> bool {
        self.machines
            .get(&ex.record.state_machine_arn)
            .and_then(|m| resolve_scope(&m.def, &th.scope))
            .and_then(|m| m.states.get(&th.state))
            .is_some_and(|st| {
                matches!(
                    st.kind,
                    StateKind::Task(_) | StateKind::Parallel { .. } | StateKind::Map(_)
                )
            })
    }

    fn context(
        &self,
        ex: &Exec,
        th: &Thread,
        token: Option<&str>,
        item: Option<(usize, &Value)>,
    ) -> Value {
        let machine_name = self
            .machines
            .get(&ex.record.state_machine_arn)
            .map(|m| m.stored.name.clone())
            .unwrap_or_default();
        let mut ctx = json!({
            "Execution": {
                "Id": ex.record.execution_arn,
                "Input": ex.record.input,
                "Name": ex.record.name,
                "RoleArn": self.config.role_arn,
                "StartTime": format_timestamp(ex.record.start_ms),
                "RedriveCount": 0,
            },
            "State": {
                "EnteredTime": format_timestamp(th.entered_ms),
                "Name": th.state,
            },
            "StateMachine": {
                "Id": ex.record.state_machine_arn,
                "Name": machine_name,
            },
        });
        if self.state_retries(ex, th) {
            ctx["State"]["RetryCount"] = th.retry_total.into();
        }
        if let Some(t) = token {
            ctx["Task"] = json!({ "Token": t });
        }
        if let Some((i, v)) = item {
            ctx["Map"] = json!({ "Item": { "Index": i, "Value": v } });
        }
        ctx
    }

    fn enter(&mut self, ex: &mut Exec, th: &mut Thread, st: &State, now: i64) {
        th.entered_ms = now;
        th.retry_counts = vec![0; st.retry.len()];
        th.retry_total = 0;
        ex.record.transitions += 1;
        emit(
            ex,
            th,
            now,
            &format!("{}StateEntered", st.type_name()),
            "stateEnteredEventDetails",
            json!({"name": st.name, "input": th.input.to_string(), "inputDetails": not_truncated()}),
        );
        th.entered_event = th.last_event;
        let result = match &st.kind {
            StateKind::Pass { result } => self.run_pass(ex, th, st, result.as_ref()),
            StateKind::Task(_) => {
                self.start_task(ex, th, st, now);
                return;
            }
            StateKind::Parallel { .. } | StateKind::Map(_) => {
                self.start_children(ex, th, st, now);
                return;
            }
            StateKind::Choice { choices, default } => {
                let ctx = self.context(ex, th, None, None);
                (|| {
                    let effective = self.pick(ex, th, &st.input_path, &th.input, "InputPath")?;
                    let mut next = None;
                    for rule in choices {
                        if choice::evaluate(&rule.condition, &effective, &ctx)? {
                            next = Some(rule.next.clone());
                            break;
                        }
                    }
                    let next = next.or_else(|| default.clone()).ok_or_else(|| {
                        Failure::new(names::NO_CHOICE_MATCHED, format!(
                            "No Choice Rules matched and no Default was specified in state '{}'", st.name))
                    })?;
                    let output = self.pick(ex, th, &st.output_path, &effective, "OutputPath")?;
                    Ok((output, Some(next)))
                })()
            }
            StateKind::Wait(spec) => {
                let r = (|| {
                    let effective = self.pick(ex, th, &st.input_path, &th.input, "InputPath")?;
                    let until = wait_until(spec, &effective, now)?;
                    let output = self.pick(ex, th, &st.output_path, &effective, "OutputPath")?;
                    Ok((until, output))
                })();
                match r {
                    Ok((until, output)) => {
                        if until <= now {
                            self.exit(ex, th, st, output, st.next.clone(), now);
                        } else {
                            th.phase = Phase::Wait { until, output };
                        }
                    }
                    Err(f) => self.handle_error(ex, th, st, f, now),
                }
                return;
            }
            StateKind::Succeed => (|| {
                let effective = self.pick(ex, th, &st.input_path, &th.input, "InputPath")?;
                Ok((
                    self.pick(ex, th, &st.output_path, &effective, "OutputPath")?,
                    None,
                ))
            })(),
            StateKind::Fail { error, cause } => {
                let ctx = self.context(ex, th, None, None);
                let r = (|| {
                    let error = resolve_text(
                        error.as_ref(),
                        &th.input,
                        &ctx,
                        self.rng.as_mut(),
                        "ErrorPath",
                    )?;
                    let cause = resolve_text(
                        cause.as_ref(),
                        &th.input,
                        &ctx,
                        self.rng.as_mut(),
                        "CausePath",
                    )?;
                    Ok::<_, Failure>(Failure {
                        error: error.unwrap_or_default(),
                        cause,
                    })
                })();
                match r {
                    Ok(f) => fail_thread(th, f),
                    Err(f) => fail_thread(th, in_state(th, f)),
                }
                return;
            }
        };
        match result {
            Ok((output, next)) => self.exit(ex, th, st, output, next, now),
            Err(f) => self.handle_error(ex, th, st, f, now),
        }
    }

    fn run_pass(
        &mut self,
        ex: &Exec,
        th: &Thread,
        st: &State,
        result: Option<&Value>,
    ) -> Result<(Value, Option<String>), Failure> {
        let effective = self.pick(ex, th, &st.input_path, &th.input, "InputPath")?;
        let effective = match &st.parameters {
            Some(t) => {
                let ctx = self.context(ex, th, None, None);
                path::apply_template(
                    t,
                    &TemplateScope {
                        input: &effective,
                        context: &ctx,
                    },
                    self.rng.as_mut(),
                )?
            }
            None => effective,
        };
        let res = result.cloned().unwrap_or(effective);
        let merged = st.result_path.merge_result(&th.input, res)?;
        let output = self.pick(ex, th, &st.output_path, &merged, "OutputPath")?;
        Ok((output, st.next.clone()))
    }

    fn exit(
        &mut self,
        ex: &mut Exec,
        th: &mut Thread,
        st: &State,
        output: Value,
        next: Option<String>,
        now: i64,
    ) {
        if exceeds_payload_limit(&output) {
            let f = data_limit(&format!("state '{}'", st.name));
            self.handle_error(ex, th, st, f, now);
            return;
        }
        // Fail states never exit; Succeed and the others do.
        emit(
            ex,
            th,
            now,
            &format!("{}StateExited", st.type_name()),
            "stateExitedEventDetails",
            json!({"name": st.name, "output": output.to_string(), "outputDetails": not_truncated()}),
        );
        match next {
            Some(n) if !st.end => {
                th.state = n;
                th.input = output;
                th.phase = Phase::Enter;
            }
            _ => th.phase = Phase::Done(Ok(output)),
        }
    }

    /// ResultSelector, ResultPath and OutputPath over a result, then on to the next state.
    fn finish_result(
        &mut self,
        ex: &mut Exec,
        th: &mut Thread,
        st: &State,
        result: Value,
        now: i64,
    ) {
        if exceeds_payload_limit(&result) {
            let resource = match &st.kind {
                StateKind::Task(t) => t.resource.clone(),
                _ => st.name.clone(),
            };
            let f = data_limit(&format!("state/task '{resource}'"));
            self.handle_error(ex, th, st, f, now);
            return;
        }
        let r = (|| {
            let selected = match &st.result_selector {
                Some(t) => {
                    let ctx = self.context(ex, th, None, None);
                    path::apply_template(
                        t,
                        &TemplateScope {
                            input: &result,
                            context: &ctx,
                        },
                        self.rng.as_mut(),
                    )?
                }
                None => result,
            };
            let merged = st.result_path.merge_result(&th.input, selected)?;
            self.pick(ex, th, &st.output_path, &merged, "OutputPath")
        })();
        match r {
            Ok(output) => self.exit(ex, th, st, output, st.next.clone(), now),
            Err(f) => self.handle_error(ex, th, st, f, now),
        }
    }

    /// Retry, then Catch, then fail the thread.
    fn handle_error(
        &mut self,
        ex: &mut Exec,
        th: &mut Thread,
        st: &State,
        failure: Failure,
        now: i64,
    ) {
        let failure = in_state(th, failure);
        if let Some(idx) = st.retry.iter().position(|r| {
            r.error_equals
                .iter()
                .any(|p| error_matches(p, &failure.error))
        }) && let Some(r) = st.retry.get(idx)
        {
            let count = th.retry_counts.get(idx).copied().unwrap_or(0);
            if count < r.max_attempts {
                if let Some(c) = th.retry_counts.get_mut(idx) {
                    *c += 1;
                }
                th.retry_total += 1;
                let mut delay = r.interval_seconds as f64
                    * r.backoff_rate
                        .powi(i32::try_from(count).unwrap_or(i32::MAX));
                if let Some(max) = r.max_delay_seconds {
                    delay = delay.min(max as f64);
                }
                delay = delay.min(99_999_999.0);
                if r.jitter == Jitter::Full {
                    delay *= intrinsics::unit_f64(self.rng.as_mut());
                }
                let until = now.saturating_add((delay * 1000.0).round() as i64);
                th.phase = Phase::Backoff { until };
                return;
            }
        }
        if let Some(c) = st.catch.iter().find(|c| {
            c.error_equals
                .iter()
                .any(|p| error_matches(p, &failure.error))
        }) {
            match c
                .result_path
                .merge_result(&th.input, failure.to_catch_output())
            {
                Ok(output) => {
                    emit(
                        ex,
                        th,
                        now,
                        &format!("{}StateExited", st.type_name()),
                        "stateExitedEventDetails",
                        json!({"name": st.name, "output": output.to_string(), "outputDetails": not_truncated()}),
                    );
                    th.state = c.next.clone();
                    th.input = output;
                    th.phase = Phase::Enter;
                }
                Err(f) => fail_thread(th, in_state(th, f)),
            }
            return;
        }
        fail_thread(th, failure);
    }

    fn start_task(&mut self, ex: &mut Exec, th: &mut Thread, st: &State, now: i64) {
        let StateKind::Task(spec) = &st.kind else {
            return;
        };
        let token = self.new_token(&mut ex.record);
        let prepared = (|| {
            let effective = self.pick(ex, th, &st.input_path, &th.input, "InputPath")?;
            let ctx = self.context(ex, th, Some(&token), None);
            let params = match &st.parameters {
                Some(t) => path::apply_template(
                    t,
                    &TemplateScope {
                        input: &effective,
                        context: &ctx,
                    },
                    self.rng.as_mut(),
                )?,
                None => effective.clone(),
            };
            // The task's input after Parameters is a state input, under the same quota.
            if exceeds_payload_limit(&params) {
                return Err(data_limit(&format!("state '{}'", st.name)));
            }
            let timeout = resolve_seconds(spec.timeout.as_ref(), &effective, "TimeoutSecondsPath")?;
            let heartbeat =
                resolve_seconds(spec.heartbeat.as_ref(), &effective, "HeartbeatSecondsPath")?;
            Ok::<_, Failure>((params, timeout, heartbeat))
        })();
        let (params, timeout, heartbeat) = match prepared {
            Ok(p) => p,
            Err(f) => {
                self.handle_error(ex, th, st, f, now);
                return;
            }
        };
        let (rtype, rname) = resource_parts(&spec.resource);
        let mut sched = json!({
            "resourceType": rtype, "resource": rname, "region": self.config.region,
            "parameters": params.to_string(),
        });
        if let Some(t) = timeout {
            sched["timeoutInSeconds"] = t.into();
        }
        if let Some(h) = heartbeat {
            sched["heartbeatInSeconds"] = h.into();
        }
        emit(
            ex,
            th,
            now,
            "TaskScheduled",
            "taskScheduledEventDetails",
            sched,
        );
        emit(
            ex,
            th,
            now,
            "TaskStarted",
            "taskStartedEventDetails",
            json!({"resourceType": rtype, "resource": rname}),
        );
        let (base, pattern) = split_resource(&spec.resource);
        let request = TaskRequest {
            execution_arn: &ex.record.execution_arn,
            state_name: &st.name,
            resource: &spec.resource,
            base_resource: base,
            pattern,
            parameters: &params,
            task_token: &token,
            retry_count: th.retry_total,
            now_ms: now,
        };
        let integration = match self.integrations.get_mut(base) {
            Some(i) => Some(i),
            None => self.fallback.as_mut(),
        };
        let outcome = match integration {
            Some(i) => i.invoke(&request),
            None => {
                let f = Failure::runtime(format!(
                    "state '{}': no task integration is registered for resource '{}'",
                    st.name, spec.resource
                ));
                emit(
                    ex,
                    th,
                    now,
                    "TaskFailed",
                    "taskFailedEventDetails",
                    json!({"resourceType": rtype, "resource": rname, "error": f.error, "cause": f.cause}),
                );
                fail_thread(th, f);
                return;
            }
        };
        match outcome {
            Err(e) => {
                emit(
                    ex,
                    th,
                    now,
                    "TaskFailed",
                    "taskFailedEventDetails",
                    json!({"resourceType": rtype, "resource": rname, "error": e.error, "cause": e.cause}),
                );
                self.handle_error(ex, th, st, e.into(), now);
            }
            Ok(TaskOutcome::Completed(v)) if pattern != IntegrationPattern::WaitForTaskToken => {
                emit(
                    ex,
                    th,
                    now,
                    "TaskSucceeded",
                    "taskSucceededEventDetails",
                    json!({
                    "resourceType": rtype, "resource": rname,
                    "output": v.to_string(), "outputDetails": not_truncated()}),
                );
                self.finish_result(ex, th, st, v, now);
            }
            Ok(TaskOutcome::Completed(v)) | Ok(TaskOutcome::Pending(v)) => {
                if pattern == IntegrationPattern::WaitForTaskToken {
                    emit(
                        ex,
                        th,
                        now,
                        "TaskSubmitted",
                        "taskSubmittedEventDetails",
                        json!({
                        "resourceType": rtype, "resource": rname,
                        "output": v.to_string(), "outputDetails": not_truncated()}),
                    );
                }
                th.phase = Phase::Task(TaskWait {
                    token,
                    resource: spec.resource.clone(),
                    timeout_at: timeout.map(|s| now.saturating_add(secs_to_ms(s))),
                    heartbeat_at: heartbeat.map(|s| now.saturating_add(secs_to_ms(s))),
                    heartbeat_seconds: heartbeat,
                    outcome: None,
                });
            }
        }
    }

    fn start_children(&mut self, ex: &mut Exec, th: &mut Thread, st: &State, now: i64) {
        let prepared = (|| {
            let effective = self.pick(ex, th, &st.input_path, &th.input, "InputPath")?;
            match &st.kind {
                StateKind::Parallel { branches } => {
                    let effective = match &st.parameters {
                        Some(t) => {
                            let ctx = self.context(ex, th, None, None);
                            path::apply_template(
                                t,
                                &TemplateScope {
                                    input: &effective,
                                    context: &ctx,
                                },
                                self.rng.as_mut(),
                            )?
                        }
                        None => effective,
                    };
                    let n = branches.len();
                    Ok(Children {
                        effective,
                        slots: vec![Slot::Pending; n],
                        items: None,
                        next_item: 0,
                        max_concurrency: n,
                        tolerance: None,
                        failures: 0,
                        distributed: false,
                        prepared: false,
                    })
                }
                StateKind::Map(spec) => {
                    let items = self.pick(ex, th, &spec.items_path, &effective, "ItemsPath")?;
                    let Value::Array(items) = items else {
                        return Err(Failure::runtime(format!(
                            "state '{}': the ItemsPath does not select an array",
                            st.name
                        )));
                    };
                    let mc = match resolve_seconds(
                        spec.max_concurrency.as_ref(),
                        &effective,
                        "MaxConcurrencyPath",
                    )? {
                        None | Some(0) => usize::MAX,
                        Some(n) => usize::try_from(n).unwrap_or(usize::MAX),
                    };
                    let tolerance = self.tolerance(spec, &effective)?;
                    let (items, prepared) = if spec.distributed {
                        (self.child_inputs(ex, th, spec, &effective, items)?, true)
                    } else {
                        (items, false)
                    };
                    Ok(Children {
                        effective,
                        slots: vec![Slot::Pending; items.len()],
                        items: Some(items),
                        next_item: 0,
                        max_concurrency: mc,
                        tolerance,
                        failures: 0,
                        distributed: spec.distributed,
                        prepared,
                    })
                }
                _ => Err(Failure::runtime("not a Parallel or Map state")),
            }
        })();
        let children = match prepared {
            Ok(c) => c,
            Err(f) => {
                self.handle_error(ex, th, st, f, now);
                return;
            }
        };
        match &children.items {
            None => emit(ex, th, now, "ParallelStateStarted", "", Value::Null),
            Some(items) => {
                emit(
                    ex,
                    th,
                    now,
                    "MapStateStarted",
                    "mapStateStartedEventDetails",
                    json!({"length": items.len()}),
                );
                if children.distributed {
                    let map_run = format!(
                        "{}/{}:{}",
                        ex.record
                            .execution_arn
                            .replacen(":execution:", ":mapRun:", 1),
                        st.name,
                        ex.record.next_event_id
                    );
                    emit(
                        ex,
                        th,
                        now,
                        "MapRunStarted",
                        "mapRunStartedEventDetails",
                        json!({"mapRunArn": map_run}),
                    );
                }
            }
        }
        th.phase = Phase::Children(children);
        self.step_children(ex, th, st, now);
    }

    /// The Map's failure tolerance. A Distributed Map tolerates none unless told; an inline
    /// Map without the fields fails at the first failed iteration, as before.
    fn tolerance(&self, spec: &MapSpec, effective: &Value) -> Result<Option<Tolerance>, Failure> {
        let percentage = match &spec.tolerated_percentage {
            None => None,
            Some(Percentage::Fixed(p)) => Some(*p),
            Some(Percentage::Path(p)) => {
                let v = p.select(effective).ok_or_else(|| {
                    Failure::runtime(format!(
                        "Invalid path '{p}' : {}",
                        p.missing_reason(effective)
                    ))
                })?;
                Some(v.as_f64().filter(|x| (0.0..=100.0).contains(x)).ok_or_else(|| {
                    Failure::runtime(format!(
                        "The ToleratedFailurePercentagePath field refers to value '{}' which is not a valid percentage: {p}",
                        plain(&v)
                    ))
                })?)
            }
        };
        let count = resolve_seconds(
            spec.tolerated_count.as_ref(),
            effective,
            "ToleratedFailureCountPath",
        )?;
        Ok(match (percentage, count) {
            (None, None) if !spec.distributed => None,
            (None, None) => Some(Tolerance {
                percentage: 0.0,
                count: 0,
            }),
            (p, c) => Some(Tolerance {
                percentage: p.unwrap_or(100.0),
                count: c.unwrap_or(u64::MAX),
            }),
        })
    }

    /// A Distributed Map's child inputs: each item through ItemSelector, then, with an
    /// ItemBatcher, batches `{"Items": [...], "BatchInput": ...}`
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html).
    fn child_inputs(
        &mut self,
        ex: &Exec,
        th: &Thread,
        spec: &MapSpec,
        effective: &Value,
        items: Vec<Value>,
    ) -> Result<Vec<Value>, Failure> {
        let mut selected = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            selected.push(match &spec.item_selector {
                Some(t) => {
                    let ctx = self.context(ex, th, None, Some((i, item)));
                    path::apply_template(
                        t,
                        &TemplateScope {
                            input: effective,
                            context: &ctx,
                        },
                        self.rng.as_mut(),
                    )?
                }
                None => item.clone(),
            });
        }
        let Some(batcher) = &spec.item_batcher else {
            return Ok(selected);
        };
        let max_items = resolve_seconds(
            batcher.max_items.as_ref(),
            effective,
            "MaxItemsPerBatchPath",
        )?
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX)
        .max(1);
        let max_bytes = resolve_seconds(
            batcher.max_bytes.as_ref(),
            effective,
            "MaxInputBytesPerBatchPath",
        )?
        .and_then(|n| usize::try_from(n).ok())
        .unwrap_or(usize::MAX);
        let batch_input = match &batcher.batch_input {
            Some(t) => {
                let ctx = self.context(ex, th, None, None);
                Some(path::apply_template(
                    t,
                    &TemplateScope {
                        input: effective,
                        context: &ctx,
                    },
                    self.rng.as_mut(),
                )?)
            }
            None => None,
        };
        let mut batches = Vec::new();
        let mut current: Vec<Value> = Vec::new();
        let mut bytes = 0usize;
        for item in selected {
            let size = item.to_string().len();
            if !current.is_empty() && (current.len() >= max_items || bytes + size > max_bytes) {
                batches.push(std::mem::take(&mut current));
                bytes = 0;
            }
            bytes += size;
            current.push(item);
        }
        if !current.is_empty() {
            batches.push(current);
        }
        Ok(batches
            .into_iter()
            .map(|items| {
                let mut batch = json!({ "Items": items });
                if let Some(b) = &batch_input {
                    batch["BatchInput"] = b.clone();
                }
                batch
            })
            .collect())
    }

    #[allow(clippy::too_many_arguments)]
    fn spawn(
        &mut self,
        ex: &mut Exec,
        parent: &Thread,
        st: &State,
        branch: usize,
        start_at: &str,
        input: Value,
        now: i64,
    ) -> u32 {
        let id = ex.record.next_thread;
        ex.record.next_thread += 1;
        let mut scope = parent.scope.clone();
        scope.push((st.name.clone(), branch));
        let child = Thread {
            id,
            parent: Some(parent.id),
            scope,
            state: start_at.to_string(),
            input,
            entered_ms: now,
            last_event: parent.last_event,
            entered_event: 0,
            hidden: parent.hidden,
            phase: Phase::Enter,
            retry_counts: Vec::new(),
            retry_total: 0,
        };
        ex.record.threads.insert(id, child);
        id
    }

    fn step_children(&mut self, ex: &mut Exec, th: &mut Thread, st: &State, now: i64) -> bool {
        let Phase::Children(mut ch) = std::mem::replace(&mut th.phase, Phase::Enter) else {
            return false;
        };
        let is_map = ch.items.is_some();
        // A Distributed Map's history shows the map run, not its iterations.
        let iteration_events = is_map && !ch.distributed;
        let mut progressed = false;
        let mut failure: Option<Failure> = None;
        let total = ch.slots.len();
        // Collect finished children.
        for (i, slot) in ch.slots.iter_mut().enumerate() {
            let Slot::Running(cid) = slot else { continue };
            let cid = *cid;
            let done = match ex.record.threads.get(&cid).map(|c| &c.phase) {
                Some(Phase::Done(r)) => r.clone(),
                Some(_) => continue,
                None => Err(Failure::runtime("a branch thread went missing")),
            };
            if let Some(c) = ex.record.threads.remove(&cid)
                && !c.hidden
            {
                th.last_event = th.last_event.max(c.last_event);
            }
            progressed = true;
            match done {
                Ok(v) => {
                    if iteration_events {
                        emit(
                            ex,
                            th,
                            now,
                            "MapIterationSucceeded",
                            "mapIterationSucceededEventDetails",
                            json!({"name": st.name, "index": i}),
                        );
                    }
                    *slot = Slot::Done(v);
                }
                Err(f) => {
                    if iteration_events {
                        emit(
                            ex,
                            th,
                            now,
                            "MapIterationFailed",
                            "mapIterationFailedEventDetails",
                            json!({"name": st.name, "index": i}),
                        );
                    }
                    match ch.tolerance {
                        Some(tolerance) => {
                            ch.failures += 1;
                            *slot = Slot::Done(f.to_catch_output());
                            if failure.is_none() && tolerance.exceeded(ch.failures, total) {
                                failure = Some(Failure::new(
                                    names::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                                    "The specified tolerated failure threshold was exceeded",
                                ));
                            }
                        }
                        None => {
                            *slot = Slot::Pending;
                            if failure.is_none() {
                                failure = Some(f);
                            }
                        }
                    }
                }
            }
        }
        if let Some(f) = failure {
            // One failed branch or iteration fails the whole state; stop the others.
            for slot in &ch.slots {
                if let Slot::Running(cid) = slot {
                    abort_thread_tree(&mut ex.record, *cid);
                }
            }
            let (ty, key) = if is_map {
                ("MapStateFailed", "")
            } else {
                ("ParallelStateFailed", "")
            };
            if ch.distributed {
                emit(
                    ex,
                    th,
                    now,
                    "MapRunFailed",
                    "mapRunFailedEventDetails",
                    json!({
                    "error": f.error, "cause": f.cause}),
                );
            }
            emit(ex, th, now, ty, key, Value::Null);
            self.handle_error(ex, th, st, f, now);
            return true;
        }
        // Start what may start.
        let running = ch
            .slots
            .iter()
            .filter(|s| matches!(s, Slot::Running(_)))
            .count();
        let mut budget = ch.max_concurrency.saturating_sub(running);
        // Past the history limit the execution fails at the next turn of `advance`: starting
        // more iterations first would only build state (for a nested Map, millions of
        // threads) that is thrown away.
        while budget > 0
            && ch.next_item < ch.slots.len()
            && ex.record.next_event_id <= self.config.max_history_events
        {
            let i = ch.next_item;
            ch.next_item += 1;
            budget -= 1;
            progressed = true;
            match &st.kind {
                StateKind::Parallel { branches } => {
                    if let Some(b) = branches.get(i) {
                        let id = self.spawn(ex, th, st, i, &b.start_at, ch.effective.clone(), now);
                        if let Some(s) = ch.slots.get_mut(i) {
                            *s = Slot::Running(id);
                        }
                    }
                }
                StateKind::Map(spec) => {
                    let item = ch
                        .items
                        .as_ref()
                        .and_then(|it| it.get(i))
                        .cloned()
                        .unwrap_or(Value::Null);
                    let input = match &spec.item_selector {
                        _ if ch.prepared => Ok(item),
                        Some(t) => {
                            let ctx = self.context(ex, th, None, Some((i, &item)));
                            path::apply_template(
                                t,
                                &TemplateScope {
                                    input: &ch.effective,
                                    context: &ctx,
                                },
                                self.rng.as_mut(),
                            )
                        }
                        None => Ok(item),
                    };
                    match input {
                        Ok(input) => {
                            if iteration_events {
                                emit(
                                    ex,
                                    th,
                                    now,
                                    "MapIterationStarted",
                                    "mapIterationStartedEventDetails",
                                    json!({"name": st.name, "index": i}),
                                );
                            }
                            let start = spec.processor.start_at.clone();
                            let id = self.spawn(ex, th, st, 0, &start, input, now);
                            if ch.distributed
                                && let Some(child) = ex.record.threads.get_mut(&id)
                            {
                                // A child execution's history starts with its own
                                // ExecutionStarted (event 1).
                                child.hidden = true;
                                child.last_event = 1;
                            }
                            if let Some(s) = ch.slots.get_mut(i) {
                                *s = Slot::Running(id);
                            }
                        }
                        Err(f) => {
                            for slot in &ch.slots {
                                if let Slot::Running(cid) = slot {
                                    abort_thread_tree(&mut ex.record, *cid);
                                }
                            }
                            emit(ex, th, now, "MapStateFailed", "", Value::Null);
                            self.handle_error(ex, th, st, f, now);
                            return true;
                        }
                    }
                }
                _ => {}
            }
        }
        if ch.slots.iter().all(|s| matches!(s, Slot::Done(_))) {
            let results: Vec<Value> = ch
                .slots
                .into_iter()
                .map(|s| match s {
                    Slot::Done(v) => v,
                    _ => Value::Null,
                })
                .collect();
            let ty = if is_map {
                "MapStateSucceeded"
            } else {
                "ParallelStateSucceeded"
            };
            if ch.distributed {
                emit(ex, th, now, "MapRunSucceeded", "", Value::Null);
            }
            emit(ex, th, now, ty, "", Value::Null);
            self.finish_result(ex, th, st, Value::Array(results), now);
            return true;
        }
        th.phase = Phase::Children(ch);
        progressed
    }
}

fn secs_to_ms(s: u64) -> i64 {
    i64::try_from(s)
        .unwrap_or(i64::MAX / 1000)
        .saturating_mul(1000)
}

fn resolve_scope<'a>(
    root: &'a StateMachine,
    scope: &[(String, usize)],
) -> Option<&'a StateMachine> {
    let mut m = root;
    for (state, idx) in scope {
        m = match &m.states.get(state)?.kind {
            StateKind::Parallel { branches } => branches.get(*idx)?,
            StateKind::Map(spec) => &spec.processor,
            _ => return None,
        };
    }
    Some(m)
}

/// `TimeoutSecondsPath`, `HeartbeatSecondsPath` and `MaxConcurrencyPath`: a missing path is
/// Jayway's `Invalid path '$.x' : No results for path: $['x']`, as for the other path fields.
fn resolve_seconds(
    spec: Option<&Seconds>,
    effective: &Value,
    field: &str,
) -> Result<Option<u64>, Failure> {
    match spec {
        None => Ok(None),
        Some(Seconds::Fixed(n)) => Ok(Some(*n)),
        Some(Seconds::Path(p)) => {
            let v = p.select(effective).ok_or_else(|| {
                Failure::runtime(format!(
                    "Invalid path '{p}' : {}",
                    p.missing_reason(effective)
                ))
            })?;
            v.as_u64().map(Some).ok_or_else(|| {
                Failure::runtime(format!(
                    "The {field} field refers to value '{}' which is not a valid integer: {p}",
                    plain(&v)
                ))
            })
        }
    }
}

/// A value as AWS quotes it in a cause: strings without their JSON quotes.
fn plain(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The Wait state's times, with AWS's causes ("The SecondsPath parameter references a
/// negative value: $.x == -1" and its siblings).
fn wait_until(spec: &WaitSpec, effective: &Value, now: i64) -> Result<i64, Failure> {
    match spec {
        WaitSpec::Seconds(s) => Ok(now.saturating_add(secs_to_ms(*s))),
        WaitSpec::Timestamp(t) => choice::parse_timestamp(t)
            .map(|t| t.timestamp_millis())
            .ok_or_else(|| Failure::runtime(format!("The Timestamp '{t}' is not valid"))),
        WaitSpec::SecondsPath(p) => {
            let v = p.select(effective).ok_or_else(|| {
                Failure::runtime(format!(
                    "The SecondsPath parameter does not reference an input value: {p}"
                ))
            })?;
            match &v {
                Value::Number(n) if n.as_u64().is_some() => {
                    Ok(now.saturating_add(secs_to_ms(n.as_u64().unwrap_or_default())))
                }
                Value::Number(n) if n.as_i64().is_some() => Err(Failure::runtime(format!(
                    "The SecondsPath parameter references a negative value: {p} == {n}"
                ))),
                other => Err(Failure::runtime(format!(
                    "The SecondsPath parameter cannot be parsed as a long value: {p} == {}",
                    plain(other)
                ))),
            }
        }
        WaitSpec::TimestampPath(p) => {
            let v = p.select(effective).ok_or_else(|| {
                Failure::runtime(format!(
                    "The TimestampPath parameter does not reference an input value: {p}"
                ))
            })?;
            v.as_str()
                .and_then(choice::parse_timestamp)
                .map(|t| t.timestamp_millis())
                .ok_or_else(|| {
                    Failure::runtime(format!(
                        "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {p} == {}",
                        plain(&v)
                    ))
                })
        }
    }
}

fn resolve_text(
    t: Option<&Text>,
    input: &Value,
    ctx: &Value,
    rng: &mut dyn RandomSource,
    field: &str,
) -> Result<Option<String>, Failure> {
    match t {
        None => Ok(None),
        Some(Text::Literal(s)) => Ok(Some(s.clone())),
        Some(Text::Dynamic(d)) => {
            let v = path::eval_dynamic(
                d,
                field,
                &TemplateScope {
                    input,
                    context: ctx,
                },
                rng,
            )?;
            match v {
                Value::String(s) => Ok(Some(s)),
                other => Err(Failure::runtime(format!(
                    "The {field} '{d}' does not select a string: {other}"
                ))),
            }
        }
    }
}

/// AWS's `States.Runtime` causes name the state and the event that entered it:
/// "An error occurred while executing the state 'S' (entered at the event id #N). ..."
/// (recorded on AWS, e.g. https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html
/// lists States.Runtime; the cause text is what GetExecutionHistory shows).
fn in_state(th: &Thread, mut f: Failure) -> Failure {
    const PREFIX: &str = "An error occurred while executing the state '";
    if f.error == names::RUNTIME {
        let cause = f.cause.take().unwrap_or_default();
        f.cause = Some(if cause.starts_with(PREFIX) {
            cause
        } else {
            format!(
                "{PREFIX}{}' (entered at the event id #{}). {cause}",
                th.state, th.entered_event
            )
        });
    }
    f
}

/// "The maximum input or output size for a task, state, or execution is 256 KiB of data as a
/// UTF-8 encoded string" (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html,
/// "Quotas related to state throttling" / payload size). Counted without building the text.
fn exceeds_payload_limit(v: &Value) -> bool {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            if self.0 > MAX_OUTPUT_BYTES {
                // Stop serializing as soon as the answer is known.
                return Err(std::io::Error::other("over the limit"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    serde_json::to_writer(&mut count, v).is_err()
}

/// States.DataLimitExceeded, in the words AWS uses for an oversized task result (the
/// documentation names the error, not its cause; DIFFERENCES.md says so).
fn data_limit(what: &str) -> Failure {
    Failure::new(
        names::DATA_LIMIT_EXCEEDED,
        format!(
            "The {what} returned a result with a size exceeding the maximum number of bytes service limit."
        ),
    )
}

fn fail_thread(th: &mut Thread, f: Failure) {
    th.phase = Phase::Done(Err(f));
}

fn last_event(ex: &Exec) -> u64 {
    ex.record.next_event_id
}

fn push_event(ex: &mut Exec, previous: u64, now: i64, ty: &str, key: &str, details: Value) -> u64 {
    ex.record.next_event_id += 1;
    let id = ex.record.next_event_id;
    ex.unflushed.push(HistoryEvent {
        id,
        previous_event_id: previous,
        timestamp_ms: now,
        event_type: ty.to_string(),
        details_key: if key.is_empty() {
            None
        } else {
            Some(key.to_string())
        },
        details: if key.is_empty() { Value::Null } else { details },
    });
    id
}

fn emit(ex: &mut Exec, th: &mut Thread, now: i64, ty: &str, key: &str, details: Value) {
    if th.hidden {
        th.last_event += 1;
        return;
    }
    let id = push_event(ex, th.last_event, now, ty, key, details);
    th.last_event = id;
}

fn retire(rec: &mut ExecutionRecord, token: &str, reason: RetiredReason) {
    rec.retired_tokens.push_back((token.to_string(), reason));
    while rec.retired_tokens.len() > RETIRED_TOKENS_KEPT {
        rec.retired_tokens.pop_front();
    }
}

fn abort_thread_tree(rec: &mut ExecutionRecord, root: u32) {
    let mut doomed = vec![root];
    let mut i = 0;
    while let Some(&id) = doomed.get(i) {
        for t in rec.threads.values() {
            if t.parent == Some(id) {
                doomed.push(t.id);
            }
        }
        i += 1;
    }
    for id in doomed {
        if let Some(t) = rec.threads.remove(&id)
            && let Phase::Task(w) = t.phase
        {
            retire(rec, &w.token, RetiredReason::Aborted);
        }
    }
}

fn close(ex: &mut Exec, status: ExecutionStatus, now: i64, reason: RetiredReason) {
    let tokens: Vec<String> = ex
        .record
        .threads
        .values()
        .filter_map(|t| match &t.phase {
            Phase::Task(w) => Some(w.token.clone()),
            _ => None,
        })
        .collect();
    for t in tokens {
        retire(&mut ex.record, &t, reason);
    }
    ex.record.threads.clear();
    ex.record.status = status;
    ex.record.stop_ms = Some(now);
}

fn finish_execution(ex: &mut Exec, result: Result<Value, Failure>, now: i64) {
    let prev = ex
        .record
        .threads
        .get(&0)
        .map(|t| t.last_event)
        .unwrap_or(ex.record.next_event_id);
    match result {
        Ok(output) => {
            push_event(
                ex,
                prev,
                now,
                "ExecutionSucceeded",
                "executionSucceededEventDetails",
                json!({"output": output.to_string(), "outputDetails": not_truncated()}),
            );
            ex.record.output = Some(output);
            close(
                ex,
                ExecutionStatus::Succeeded,
                now,
                RetiredReason::Completed,
            );
        }
        Err(f) => {
            let mut d = Map::new();
            if !f.error.is_empty() {
                d.insert("error".into(), f.error.clone().into());
            }
            if let Some(c) = &f.cause {
                d.insert("cause".into(), c.clone().into());
            }
            push_event(
                ex,
                prev,
                now,
                "ExecutionFailed",
                "executionFailedEventDetails",
                Value::Object(d),
            );
            ex.record.error = if f.error.is_empty() {
                None
            } else {
                Some(f.error)
            };
            ex.record.cause = f.cause;
            close(ex, ExecutionStatus::Failed, now, RetiredReason::Completed);
        }
    }
}

#[allow(dead_code)]
fn _assert_send() {
    fn is_send<T: Send>() {}
    is_send::<Engine>();
}
