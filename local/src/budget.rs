//! The saga's retry budgets, derived from the two files that set them: the routing table
//! (each queue's visibility timeout and `maxReceiveCount`) and the state machine definition
//! (each wait's `TimeoutSeconds`, its `Retry`s, the execution's `TimeoutSeconds`).
//!
//! What they must agree on, so that a transient outage within the budget never changes a
//! trip's outcome (infra/README.md, "Retry budgets"):
//!
//! 1. A wait outlives both of its legs' redeliveries. SQS hands a message to its consumer at
//!    most `maxReceiveCount` (R) times, a visibility timeout (V) apart, so a message is answered
//!    or dead-lettered within R x V; the command goes through its service's queue and the
//!    answer through the bridge's, so `TimeoutSeconds >= R_cmd x V_cmd + R_bridge x V_bridge`.
//!    (Amazon SQS Developer Guide, "Visibility timeout" and "Using dead-letter queues":
//!    <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-visibility-timeout.html>,
//!    <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html>.)
//! 2. A booking wait retries forward before it compensates: `Trip.TransientError` (a service's
//!    last delivery failed transiently and said so) and `States.Timeout` (an answer was lost,
//!    or the outage outlasted one SQS budget) each get at least one retry, which sends the
//!    command again (a new token, a fresh SQS budget; the services are idempotent).
//! 3. The execution's own `TimeoutSeconds` is longer than the longest path through the
//!    definition with every retry exhausted, so the definition's own endings
//!    (`TripBookingFailed`, `TripCompensationStuck`) always come first and a timed-out execution
//!    means something the definition did not foresee (and its alarm fires).
//!
//! Retry arithmetic as the Amazon States Language defines it: defaults `IntervalSeconds` 1,
//! `MaxAttempts` 3, `BackoffRate` 2.0; the n-th retry waits `IntervalSeconds x BackoffRate^(n-1)`,
//! capped by `MaxDelaySeconds`; `JitterStrategy: FULL` only shortens waits; each retrier counts
//! its own attempts (<https://states-language.net/spec.html#retrying-after-error>,
//! <https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html>).

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;
use trip_events::routing::{RoutingTable, Target};

/// How long one attempt of a task that does not wait for a token is assumed to last at worst
/// (an API call with the SDK's retries; AWS states no bound).
pub const API_CALL_WORST_SECONDS: u64 = 60;

/// One queue's redelivery budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueBudget {
    pub visibility_timeout_seconds: u64,
    pub max_receive_count: u64,
}

impl QueueBudget {
    /// By then a message has been answered or dead-lettered.
    pub fn lifetime_seconds(&self) -> u64 {
        self.visibility_timeout_seconds * self.max_receive_count
    }

    /// The longest outage redelivery alone rides out: the last receive comes this long after
    /// the first.
    pub fn redelivery_window_seconds(&self) -> u64 {
        self.visibility_timeout_seconds * self.max_receive_count.saturating_sub(1)
    }
}

/// One `Retry` entry.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Retrier {
    pub error_equals: Vec<String>,
    pub interval_seconds: f64,
    pub max_attempts: u64,
    pub backoff_rate: f64,
    pub max_delay_seconds: Option<f64>,
}

impl Retrier {
    fn parse(v: &Value) -> Retrier {
        Retrier {
            error_equals: v["ErrorEquals"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            interval_seconds: v["IntervalSeconds"].as_f64().unwrap_or(1.0),
            max_attempts: v["MaxAttempts"].as_u64().unwrap_or(3),
            backoff_rate: v["BackoffRate"].as_f64().unwrap_or(2.0),
            max_delay_seconds: v["MaxDelaySeconds"].as_f64(),
        }
    }

    /// The wait before retry `n` (1-based).
    pub fn delay_seconds(&self, n: u64) -> f64 {
        let d = self.interval_seconds * self.backoff_rate.powi(n.saturating_sub(1) as i32);
        self.max_delay_seconds.map_or(d, |m| d.min(m))
    }

    /// Every wait between attempts, all retries used.
    pub fn total_delay_seconds(&self) -> f64 {
        (1..=self.max_attempts).map(|n| self.delay_seconds(n)).sum()
    }

    pub fn retries(&self, error: &str) -> bool {
        self.error_equals.iter().any(|e| e == error)
    }
}

/// One `.waitForTaskToken` state and the queues its command and answer go through.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaitBudget {
    pub state: String,
    /// The command's detail-type.
    pub command: String,
    /// The queue that carries the command, and its budget.
    pub queue: String,
    pub command_queue: QueueBudget,
    pub answer_queue: QueueBudget,
    pub timeout_seconds: Option<u64>,
    pub retry: Vec<Retrier>,
}

impl WaitBudget {
    /// What rule 1 asks of `TimeoutSeconds`.
    pub fn required_timeout_seconds(&self) -> u64 {
        self.command_queue.lifetime_seconds() + self.answer_queue.lifetime_seconds()
    }

    /// Retries sent for `error` before the state gives up on it.
    pub fn retries_on(&self, error: &str) -> u64 {
        self.retry
            .iter()
            .find(|r| r.retries(error) || r.retries("States.ALL"))
            .map_or(0, |r| r.max_attempts)
    }

    fn is_booking(&self) -> bool {
        self.command.ends_with("BookingRequested")
    }
}

/// Every budget of the stack, and where they disagree.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Budget {
    pub queues: BTreeMap<String, QueueBudget>,
    pub waits: Vec<WaitBudget>,
    /// The definition's top-level `TimeoutSeconds`.
    pub execution_timeout_seconds: Option<u64>,
    /// The longest path through the definition with every retry used and every wait timing
    /// out.
    pub worst_case_seconds: u64,
    pub problems: Vec<String>,
}

impl Budget {
    /// The wait of a state.
    pub fn wait(&self, state: &str) -> Option<&WaitBudget> {
        self.waits.iter().find(|w| w.state == state)
    }
}

fn queue_of(routing: &RoutingTable, detail_type: &str) -> Option<String> {
    routing.rules.iter().find_map(|r| {
        let Target::Queue { name } = &r.target else {
            return None;
        };
        let mut patterns = vec![&r.event_pattern];
        if let Some(alts) = r.event_pattern["$or"].as_array() {
            patterns.extend(alts);
        }
        patterns
            .iter()
            .any(|p| {
                p["detail-type"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|d| d == detail_type))
            })
            .then(|| name.clone())
    })
}

/// Worst duration of one state, alone.
fn state_worst_seconds(state: &Value) -> f64 {
    if state["Type"] != "Task" {
        return 0.0;
    }
    let retriers: Vec<Retrier> = state["Retry"]
        .as_array()
        .map(|a| a.iter().map(Retrier::parse).collect())
        .unwrap_or_default();
    let attempts = 1 + retriers.iter().map(|r| r.max_attempts).sum::<u64>();
    let waits = state["Resource"]
        .as_str()
        .is_some_and(|r| r.ends_with(".waitForTaskToken"));
    let per_attempt = match state["TimeoutSeconds"].as_u64() {
        Some(t) if waits => t,
        Some(t) => t.min(API_CALL_WORST_SECONDS),
        // A wait without a timeout waits for ever: rule 1 reports it.
        None if waits => 0,
        None => API_CALL_WORST_SECONDS,
    };
    attempts as f64 * per_attempt as f64
        + retriers
            .iter()
            .map(Retrier::total_delay_seconds)
            .sum::<f64>()
}

fn successors(state: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut push = |v: &Value| {
        if let Some(n) = v.as_str() {
            out.push(n.to_owned());
        }
    };
    push(&state["Next"]);
    push(&state["Default"]);
    for c in state["Catch"].as_array().into_iter().flatten() {
        push(&c["Next"]);
    }
    for c in state["Choices"].as_array().into_iter().flatten() {
        push(&c["Next"]);
    }
    out
}

fn longest(
    states: &serde_json::Map<String, Value>,
    name: &str,
    memo: &mut BTreeMap<String, f64>,
    path: &mut Vec<String>,
    problems: &mut Vec<String>,
) -> f64 {
    if let Some(&v) = memo.get(name) {
        return v;
    }
    if path.iter().any(|p| p == name) {
        problems.push(format!(
            "the definition loops through {name}: no execution timeout bounds a loop"
        ));
        return 0.0;
    }
    let Some(state) = states.get(name) else {
        problems.push(format!("state {name} is named but not defined"));
        return 0.0;
    };
    path.push(name.to_owned());
    let own = state_worst_seconds(state);
    let after = successors(state)
        .iter()
        .map(|n| longest(states, n, memo, path, problems))
        .fold(0.0, f64::max);
    path.pop();
    memo.insert(name.to_owned(), own + after);
    own + after
}

/// The budgets of a routing table and a definition (ASL JSON), and every rule they break.
pub fn budget(routing: &RoutingTable, definition: &Value) -> Budget {
    let queues: BTreeMap<String, QueueBudget> = routing
        .queues
        .iter()
        .map(|q| {
            (
                q.name.clone(),
                QueueBudget {
                    visibility_timeout_seconds: u64::from(q.visibility_timeout_seconds),
                    max_receive_count: u64::from(q.max_receive_count),
                },
            )
        })
        .collect();
    let mut problems = Vec::new();
    let answer_queue = routing
        .queues
        .iter()
        .find(|q| q.consumer == "bridge")
        .and_then(|q| queues.get(&q.name).copied());
    let empty = serde_json::Map::new();
    let states = definition["States"].as_object().unwrap_or(&empty);
    let mut waits = Vec::new();
    for (name, state) in states {
        let waits_for_token = state["Resource"]
            .as_str()
            .is_some_and(|r| r.ends_with(".waitForTaskToken"));
        if !waits_for_token {
            continue;
        }
        let command = state
            .pointer("/Parameters/Entries/0/DetailType")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let Some(queue) = queue_of(routing, &command) else {
            problems.push(format!(
                "{name} sends {command:?}, which no rule of the routing table sends to a queue"
            ));
            continue;
        };
        let (Some(command_queue), Some(answer_queue)) = (queues.get(&queue).copied(), answer_queue)
        else {
            problems.push(format!("{name}: the routing table has no bridge queue"));
            continue;
        };
        let wait = WaitBudget {
            state: name.clone(),
            command,
            queue,
            command_queue,
            answer_queue,
            timeout_seconds: state["TimeoutSeconds"].as_u64(),
            retry: state["Retry"]
                .as_array()
                .map(|a| a.iter().map(Retrier::parse).collect())
                .unwrap_or_default(),
        };
        match wait.timeout_seconds {
            None => problems.push(format!("{name} waits for a token with no TimeoutSeconds")),
            Some(t) if t < wait.required_timeout_seconds() => problems.push(format!(
                "{name}: TimeoutSeconds {t} < {} (queue {}: {} x {} s, bridge: {} x {} s): the \
                 wait gives up while SQS still redelivers",
                wait.required_timeout_seconds(),
                wait.queue,
                command_queue.max_receive_count,
                command_queue.visibility_timeout_seconds,
                answer_queue.max_receive_count,
                answer_queue.visibility_timeout_seconds
            )),
            Some(_) => {}
        }
        if wait.is_booking() {
            for error in ["Trip.TransientError", "States.Timeout"] {
                if wait.retries_on(error) == 0 {
                    problems.push(format!(
                        "{name} does not retry {error}: a transient failure compensates a trip \
                         that would have booked"
                    ));
                }
            }
        } else if wait.retries_on("States.ALL") == 0 {
            problems.push(format!("{name} (a compensation) does not retry States.ALL"));
        }
        waits.push(wait);
    }
    let mut memo = BTreeMap::new();
    let start = definition["StartAt"].as_str().unwrap_or_default();
    let worst = longest(states, start, &mut memo, &mut Vec::new(), &mut problems).ceil() as u64;
    let execution_timeout_seconds = definition["TimeoutSeconds"].as_u64();
    match execution_timeout_seconds {
        None => problems.push(
            "the definition has no top-level TimeoutSeconds: a stuck execution never times out"
                .into(),
        ),
        Some(t) if t < worst => problems.push(format!(
            "the execution's TimeoutSeconds {t} < {worst}, the longest path with every retry \
             used: the execution would time out before the definition's own ending"
        )),
        Some(_) => {}
    }
    Budget {
        queues,
        waits,
        execution_timeout_seconds,
        worst_case_seconds: worst,
        problems,
    }
}

/// The budgets of the checked-in routing table and definition.
pub fn stack_budget() -> Result<Budget, String> {
    let routing = RoutingTable::load().map_err(|e| e.to_string())?;
    let definition: Value =
        serde_json::from_str(trip_workflow::TRIP_SAGA_ASL).map_err(|e| e.to_string())?;
    Ok(budget(&routing, &definition))
}
