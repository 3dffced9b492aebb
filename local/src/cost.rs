//! `trip cost`: what a million trips cost on AWS, from what the sagas actually do.
//!
//! Nothing here is guessed per saga by hand. Trips made by [`crate::bench::generate`] run
//! through the embedded runtime (memory store, virtual clock), and the bill is priced from what
//! the runtime counted while they ran:
//!
//! - Step Functions Standard state transitions: the engine's count per execution
//!   (`DescribeExecution`'s billing unit);
//! - EventBridge custom events: every PutEvents entry, i.e. every event of the log (the client's
//!   `TripBookingRequested`, the workflow's `putEvents` tasks, the services' answers), in 64 KB
//!   chunks;
//! - EventBridge deliveries: one per matched rule (same-account SQS and CloudWatch Logs
//!   targets: no charge);
//! - SQS requests: SendMessage per delivery to a queue, ReceiveMessage per batch handed to a
//!   consumer, DeleteMessageBatch per batch that acknowledged something
//!   ([`crate::runtime::QueueUsage`]);
//! - Lambda: one invocation per batch; GB-seconds from an assumed I/O time per batch plus the
//!   measured warm handler CPU per record ([`Assumptions`]);
//! - DynamoDB request units: the requests the AWS adapter
//!   (`trip_booking::adapters::dynamodb`) would have made for each booking and cancellation
//!   the local store applied ([`DynamoUsage`]);
//! - CloudWatch Logs ingestion: the catch-all rule's log group (bytes of every envelope), the
//!   state machine's log group (level ALL: every history event) and the Lambdas' JSON logs
//!   (estimated per invocation and per record).
//!
//! The original demo (`original-demo.asl.json`: Lambdas called synchronously, cancels retried
//! by a `Catch` that loops on itself, failing 60% of the time) is counted the same way, by
//! running its definition through [`trip_workflow::run_scripted`] with seeded answers.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::{Value, json};
use trip_booking::{BookDecision, BookRequest, BookingRecord, decide_book, decide_cancel};
use trip_workflow::{Responses, ScriptedResponse, run_scripted};

use crate::bench::generate;
use crate::runtime::{
    ClockChoice, QueueUsage, RunStats, Runtime, RuntimeError, RuntimeOptions, TripOutcome,
};

/// The original demo's state machine, shaped like its `stepfunc.json`.
pub const ORIGINAL_DEMO_ASL: &str = include_str!("original-demo.asl.json");

/// The rule whose target is the CloudWatch Logs group of every event (events/routing.json).
pub const CATCH_ALL_RULE: &str = "catch-all-log";

/// CloudWatch Logs meters each event as its message plus 26 bytes.
pub const LOG_EVENT_OVERHEAD_BYTES: u64 = 26;

/// EventBridge and SQS bill each 64 KB chunk of a payload as one event / request.
pub const CHUNK_BYTES: u64 = 64 * 1024;

const GB: f64 = 1_000_000_000.0;

// ----- prices -----

/// One list price.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Price {
    /// US dollars per `unit`.
    pub usd: f64,
    pub unit: &'static str,
    pub source: &'static str,
    /// `"confirmed <date>"` (read on the page named by `source`) or `"assumed"`.
    pub status: &'static str,
}

/// The prices the model uses, us-east-1.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PriceTable {
    pub sfn_transition: Price,
    pub eb_custom_event: Price,
    pub eb_same_account_delivery: Price,
    pub eb_archive_processed_gb: Price,
    pub eb_replayed_event: Price,
    pub sqs_request: Price,
    pub lambda_request: Price,
    pub lambda_gb_s_x86: Price,
    pub lambda_gb_s_arm64: Price,
    pub ddb_wru: Price,
    pub ddb_rru: Price,
    pub logs_ingest_gb: Price,
    pub vended_logs_ingest_gb: Price,
    pub xray_trace: Price,
}

/// us-east-1 list prices, read on 2026-11-26 through the pages named in each `source` (no free
/// tier is subtracted: these are marginal prices per million trips).
pub const US_EAST_1: PriceTable = PriceTable {
    // "$0.025 per 1,000 state transitions", US East (N. Virginia) row of the pricing table.
    sfn_transition: Price {
        usd: 0.025 / 1000.0,
        unit: "state transition",
        source: "https://aws.amazon.com/step-functions/pricing/",
        status: "confirmed 2026-11-26",
    },
    // Custom events $1.00/million (each 64 KB chunk is one event). The official page was not
    // reachable; read on a 2026 summary of it.
    eb_custom_event: Price {
        usd: 1.0 / 1e6,
        unit: "custom event (64 KB chunk)",
        source: "https://aws.amazon.com/eventbridge/pricing/ via https://cloudburn.io/blog/amazon-eventbridge-pricing (2026-03)",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    // Rule matching and delivery to same-account targets are not charged; cross-account
    // deliveries are ($1.00/million).
    eb_same_account_delivery: Price {
        usd: 0.0,
        unit: "delivery to a same-account target",
        source: "https://cloudburn.io/blog/amazon-eventbridge-pricing (2026-03): \"same-account delivery free\"",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    // Archive: $0.10 per GB of events archived (plus $0.023/GB-month storage); optional.
    eb_archive_processed_gb: Price {
        usd: 0.10,
        unit: "GB archived",
        source: "https://cloudburn.io/blog/amazon-eventbridge-pricing (2026-03)",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    // Replayed events are billed like published custom events; optional, only when replaying.
    eb_replayed_event: Price {
        usd: 1.0 / 1e6,
        unit: "replayed event",
        source: "https://cloudburn.io/blog/amazon-eventbridge-pricing (2026-03)",
        status: "assumed",
    },
    // Standard queues: $0.40 per million requests (first 100 billion a month), 64 KB chunks.
    sqs_request: Price {
        usd: 0.40 / 1e6,
        unit: "SQS request (64 KB chunk)",
        source: "https://aws.amazon.com/sqs/pricing/ via https://cloudburn.io/blog/amazon-sqs-pricing (2026-03)",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    lambda_request: Price {
        usd: 0.20 / 1e6,
        unit: "Lambda request",
        source: "https://aws.amazon.com/lambda/pricing/ via git.mcrn.ar lambda_local_runner docs/lambda-13-cost.md (2026-05)",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    lambda_gb_s_x86: Price {
        usd: 0.000_016_666_7,
        unit: "GB-second (x86_64)",
        source: "https://aws.amazon.com/lambda/pricing/ via git.mcrn.ar lambda_local_runner docs/lambda-13-cost.md (2026-05)",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    lambda_gb_s_arm64: Price {
        usd: 0.000_013_333_4,
        unit: "GB-second (arm64)",
        source: "https://aws.amazon.com/lambda/pricing/ via git.mcrn.ar lambda_local_runner docs/lambda-13-cost.md (2026-05)",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    // On-demand, after the November 2024 cut: $0.625 per million WRU, $0.125 per million RRU.
    ddb_wru: Price {
        usd: 0.625 / 1e6,
        unit: "write request unit",
        source: "https://aws.amazon.com/dynamodb/pricing/on-demand/ via https://airbyte.com/data-engineering-resources/dynamodb-pricing",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    ddb_rru: Price {
        usd: 0.125 / 1e6,
        unit: "read request unit",
        source: "https://aws.amazon.com/dynamodb/pricing/on-demand/ via https://airbyte.com/data-engineering-resources/dynamodb-pricing",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    // Standard log class: $0.50 per GB ingested ($0.03/GB-month storage, not counted).
    logs_ingest_gb: Price {
        usd: 0.50,
        unit: "GB ingested (Standard class)",
        source: "https://aws.amazon.com/cloudwatch/pricing/ via https://c3x.dev/blog/cloudwatch-logs-cost-optimization (2026-06)",
        status: "confirmed 2026-11-26 (secondary source)",
    },
    // Vended logs (Step Functions log delivery): first tier taken equal to standard ingestion.
    vended_logs_ingest_gb: Price {
        usd: 0.50,
        unit: "GB of vended logs delivered",
        source: "https://aws.amazon.com/cloudwatch/pricing/",
        status: "assumed",
    },
    xray_trace: Price {
        usd: 5.0 / 1e6,
        unit: "trace recorded",
        source: "https://aws.amazon.com/xray/pricing/",
        status: "assumed",
    },
};

// ----- what is counted -----

/// The DynamoDB requests the AWS adapter makes, counted by the local booking store from the
/// state each request finds (`services/booking/src/adapters/dynamodb.rs`):
///
/// - book: one `TransactWriteItems` (the booking put + one update per inventory hold); a
///   request refused without inventory (unknown hotel, ...) is one conditional `PutItem`
///   instead; when the transaction is cancelled because an inventory key is full, the
///   refusal is written with one more `PutItem`; a duplicate learns the recorded outcome from
///   the cancelled transaction (`ALL_OLD`), with no read;
/// - cancel: one strongly consistent `GetItem`, then a `PutItem` tombstone (nothing
///   recorded), an `UpdateItem` (a `FAILED` record) or a `TransactWriteItems` (the status flip
///   + one release per hold) for a `BOOKED` one; nothing for a tombstone.
///
/// Every item is far below 1 KB and 4 KB (a booking item holds a dozen short attributes), so a
/// write is 1 WRU, a transactional write 2 WRU per item and a consistent read 1 RRU. A
/// cancelled transaction is assumed to be billed like a completed one.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DynamoUsage {
    pub transact_writes: u64,
    pub transact_items: u64,
    pub puts: u64,
    pub updates: u64,
    pub consistent_reads: u64,
}

impl DynamoUsage {
    /// Counts a booking request, given the record it finds and the units held per key.
    pub fn count_book(
        &mut self,
        existing: Option<&BookingRecord>,
        request: &BookRequest,
        held: impl Fn(&str) -> u32,
    ) {
        // The adapter decides without reading: `decide_book(None, ..)`.
        match decide_book(None, request, |_| 0) {
            BookDecision::RecordFailure(_) => self.puts += 1,
            BookDecision::Replay(_) => {}
            BookDecision::Book(_) => {
                let Ok(plan) = &request.plan else { return };
                self.transact_writes += 1;
                self.transact_items += 1 + plan.holds.len() as u64;
                // No record yet but no room: the refusal is written next.
                if existing.is_none() && trip_booking::domain::first_full_hold(plan, held).is_some()
                {
                    self.puts += 1;
                }
            }
        }
    }

    /// Counts a cancellation, given the record it finds.
    pub fn count_cancel(&mut self, existing: Option<&BookingRecord>) {
        self.consistent_reads += 1;
        let (service, trip) = match existing {
            Some(r) => (r.service, r.trip_id.as_str()),
            // Only the decision's kind matters here.
            None => (trip_events::Service::Hotel, ""),
        };
        match decide_cancel(existing, service, trip) {
            trip_booking::CancelDecision::Tombstone(_) => self.puts += 1,
            trip_booking::CancelDecision::MarkCancelled(_) => self.updates += 1,
            trip_booking::CancelDecision::Release(r) => {
                self.transact_writes += 1;
                self.transact_items += 1 + r.holds.len() as u64;
            }
            trip_booking::CancelDecision::Replay(_) => {}
        }
    }

    pub fn wru(&self) -> u64 {
        2 * self.transact_items + self.puts + self.updates
    }

    pub fn rru(&self) -> u64 {
        self.consistent_reads
    }
}

/// Everything billable that a run of sagas did, as counted by the runtime.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SagaUsage {
    pub trips: u64,
    pub booked: u64,
    pub failed: u64,
    pub rejected: u64,
    /// Step Functions Standard state transitions, summed over executions.
    pub transitions: u64,
    /// Execution history events (each one a log record at level ALL).
    pub history_events: u64,
    /// Bytes of those history events as JSON (an upper bound of what level ALL logs).
    pub history_bytes: u64,
    /// PutEvents entries accepted by the bus.
    pub events: u64,
    /// The same, in billable 64 KB chunks.
    pub event_chunks: u64,
    /// Bytes of every event envelope.
    pub event_bytes: u64,
    /// Rule matches (deliveries to a target).
    pub deliveries: u64,
    /// Events the catch-all rule delivered to its log group.
    pub catch_all_events: u64,
    /// Bytes the catch-all log group ingests (envelope + 26 bytes each).
    pub catch_all_bytes: u64,
    /// Per queue (= per consumer Lambda).
    pub queues: BTreeMap<String, QueueUsage>,
    pub dynamo: DynamoUsage,
}

impl SagaUsage {
    pub fn sqs_sends(&self) -> u64 {
        self.queues.values().map(|q| q.sent).sum()
    }
    pub fn sqs_receives(&self) -> u64 {
        self.queues.values().map(|q| q.batches).sum()
    }
    pub fn sqs_deletes(&self) -> u64 {
        self.queues.values().map(|q| q.delete_calls).sum()
    }
    pub fn invocations(&self) -> u64 {
        self.sqs_receives()
    }
    pub fn records(&self) -> u64 {
        self.queues.values().map(|q| q.received).sum()
    }
}

/// How a run is made.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CostOptions {
    pub trips: usize,
    pub failure_rate: f64,
    /// Trips put on the bus together before the runtime runs them to the end: 1 gives every
    /// Lambda a batch of one record (a quiet system); more lets batches fill up.
    pub concurrency: usize,
    pub shape: crate::bench::TripShape,
    pub seed: u64,
}

fn chunks(bytes: u64) -> u64 {
    bytes.div_ceil(CHUNK_BYTES).max(1)
}

/// Runs the trips through a memory runtime on a virtual clock and counts what they did.
pub fn measure(options: &CostOptions) -> Result<SagaUsage, RuntimeError> {
    let mut rt = Runtime::open(RuntimeOptions {
        store: None,
        clock: ClockChoice::Virtual {
            start_ms: 1_893_456_000_000,
        },
        seed: options.seed,
        ..RuntimeOptions::default()
    })?;
    let entries = generate("cost", options.trips, options.failure_rate, options.shape);
    for wave in entries.chunks(options.concurrency.max(1)) {
        // PutEvents takes at most 10 entries a call.
        for call in wave.chunks(10) {
            rt.put_events(call)?;
        }
        let _: RunStats = rt.run_until_idle(None, |_| true)?;
    }
    Ok(usage_of(&rt))
}

/// What the runtime counted so far, as a bill's quantities.
pub fn usage_of(rt: &Runtime) -> SagaUsage {
    let mut u = SagaUsage {
        queues: rt.queue_usage().clone(),
        dynamo: rt.dynamo_usage(),
        ..SagaUsage::default()
    };
    for event in rt.log() {
        let bytes = serde_json::to_vec(&event.envelope).map_or(0, |b| b.len() as u64);
        u.events += 1;
        u.event_chunks += chunks(bytes);
        u.event_bytes += bytes;
        u.deliveries += event.rules.len() as u64;
        if event.rules.iter().any(|r| r == CATCH_ALL_RULE) {
            u.catch_all_events += 1;
            u.catch_all_bytes += bytes + LOG_EVENT_OVERHEAD_BYTES;
        }
    }
    for trip in rt.trip_ids() {
        u.trips += 1;
        match rt.trip_outcome(&trip) {
            Some(TripOutcome::Booked) => u.booked += 1,
            Some(TripOutcome::Failed { .. } | TripOutcome::Stuck { .. }) => u.failed += 1,
            Some(TripOutcome::Rejected { .. }) => u.rejected += 1,
            None => {}
        }
        if let Some(d) = rt.describe_execution(&trip) {
            u.transitions += d.transitions;
        }
        for h in rt.execution_history(&trip) {
            u.history_events += 1;
            u.history_bytes += h.to_aws_json().to_string().len() as u64 + LOG_EVENT_OVERHEAD_BYTES;
        }
    }
    u
}

// ----- assumptions -----

/// What the runtime cannot count: Lambda durations and log volumes. Every figure is either
/// measured (and says where) or assumed (and says so).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Assumptions {
    /// Memory of every function (infra/lib/trip-saga-stack.ts `FUNCTION_MEMORY_MB`).
    pub lambda_memory_mb: f64,
    /// The stack deploys arm64 unless its context says `arch=x86_64` (infra/lib/settings.ts).
    pub arm64: bool,
    /// Warm handler CPU per record: `cargo bench -p trip-booking --bench handler` measures
    /// ~0.017 ms with JSON logs (BENCHMARKS.md "## Lambdas"); 0.1 ms leaves room for a slower
    /// vCPU share at 256 MB. Billing rounds each invocation up to the millisecond anyway.
    pub service_cpu_ms_per_record: f64,
    pub bridge_cpu_ms_per_record: f64,
    /// AWS calls a booking record waits for (assumed p50, same region, warm connections): one
    /// DynamoDB write (~10 ms; a cancel adds a ~5 ms read) and one PutEvents (~15 ms). The
    /// records of a batch run concurrently, so a batch waits about as long as one record.
    pub service_io_ms_per_invocation: f64,
    /// The bridge's wait (assumed): one SendTaskSuccess/Failure or StartExecution (~20 ms).
    pub bridge_io_ms_per_invocation: f64,
    /// Runtime API round trips and batch response per invocation (assumed).
    pub overhead_ms_per_invocation: f64,
    /// Share of invocations that start a new execution environment (assumed), each billed its
    /// init (provided.al2023 bills the init phase).
    pub cold_start_ratio: f64,
    /// Init duration on AWS (assumed: ~7 ms measured locally, BENCHMARKS.md "## Lambdas",
    /// plus the platform's share; published Rust hello-worlds report ~19 ms).
    pub init_ms: f64,
    /// Lambda JSON logs (estimated): platform start/report lines per invocation, and the
    /// handler's lines (record span, outcome, EMF metric) per record.
    pub lambda_log_bytes_per_invocation: f64,
    pub lambda_log_bytes_per_record: f64,
}

impl Default for Assumptions {
    fn default() -> Self {
        Assumptions {
            lambda_memory_mb: 256.0,
            arm64: true,
            service_cpu_ms_per_record: 0.1,
            bridge_cpu_ms_per_record: 0.1,
            service_io_ms_per_invocation: 25.0,
            bridge_io_ms_per_invocation: 20.0,
            overhead_ms_per_invocation: 1.0,
            cold_start_ratio: 0.01,
            init_ms: 50.0,
            lambda_log_bytes_per_invocation: 750.0,
            lambda_log_bytes_per_record: 1200.0,
        }
    }
}

// ----- the bill -----

/// One line of a bill.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    pub service: &'static str,
    pub item: String,
    /// Billable units per trip.
    pub per_trip: f64,
    pub unit_usd: f64,
    pub usd_per_million_trips: f64,
    /// Core (the saga itself) or observability (logs, traces: configurable).
    pub core: bool,
}

/// Dollars per million trips, line by line.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Bill {
    pub lines: Vec<Line>,
}

impl Bill {
    fn add(&mut self, service: &'static str, item: impl Into<String>, per_trip: f64, p: &Price) {
        self.push(service, item, per_trip, p, true);
    }

    fn push(
        &mut self,
        service: &'static str,
        item: impl Into<String>,
        per_trip: f64,
        p: &Price,
        core: bool,
    ) {
        self.lines.push(Line {
            service,
            item: item.into(),
            per_trip,
            unit_usd: p.usd,
            usd_per_million_trips: per_trip * p.usd * 1e6,
            core,
        });
    }

    pub fn total(&self) -> f64 {
        self.lines.iter().map(|l| l.usd_per_million_trips).sum()
    }

    pub fn core_total(&self) -> f64 {
        self.lines
            .iter()
            .filter(|l| l.core)
            .map(|l| l.usd_per_million_trips)
            .sum()
    }

    /// Dollars per million trips by service.
    pub fn by_service(&self) -> BTreeMap<&'static str, f64> {
        let mut m = BTreeMap::new();
        for l in &self.lines {
            *m.entry(l.service).or_insert(0.0) += l.usd_per_million_trips;
        }
        m
    }

    pub fn to_json(&self) -> Value {
        json!({
            "usdPerMillionTrips": self.total(),
            "coreUsdPerMillionTrips": self.core_total(),
            "byService": self.by_service(),
            "lines": self.lines,
        })
    }
}

/// Billed milliseconds of one invocation (Lambda rounds up to the millisecond).
fn billed_ms(io: f64, overhead: f64, cpu_per_record: f64, records_per_batch: f64) -> f64 {
    (io + overhead + cpu_per_record * records_per_batch).ceil()
}

/// Prices a run of this design.
pub fn price(u: &SagaUsage, a: &Assumptions, p: &PriceTable) -> Bill {
    let n = u.trips.max(1) as f64;
    let per = |x: u64| x as f64 / n;
    let mut b = Bill { lines: Vec::new() };
    b.add(
        "Step Functions",
        "state transitions (Standard)",
        per(u.transitions),
        &p.sfn_transition,
    );
    b.add(
        "EventBridge",
        "custom events published (PutEvents entries)",
        per(u.event_chunks),
        &p.eb_custom_event,
    );
    b.add(
        "EventBridge",
        "deliveries to SQS and CloudWatch Logs (same account)",
        per(u.deliveries),
        &p.eb_same_account_delivery,
    );
    b.add(
        "SQS",
        "SendMessage (by EventBridge, one per delivery)",
        per(u.sqs_sends()),
        &p.sqs_request,
    );
    b.add(
        "SQS",
        "ReceiveMessage (one per batch)",
        per(u.sqs_receives()),
        &p.sqs_request,
    );
    b.add(
        "SQS",
        "DeleteMessageBatch (one per batch)",
        per(u.sqs_deletes()),
        &p.sqs_request,
    );
    b.add(
        "Lambda",
        "requests (one per batch)",
        per(u.invocations()),
        &p.lambda_request,
    );
    let gb = a.lambda_memory_mb / 1024.0;
    let mut gb_s = 0.0;
    for (name, q) in &u.queues {
        if q.batches == 0 {
            continue;
        }
        let per_batch = q.received as f64 / q.batches as f64;
        let (io, cpu) = if name == "bridge" {
            (a.bridge_io_ms_per_invocation, a.bridge_cpu_ms_per_record)
        } else {
            (a.service_io_ms_per_invocation, a.service_cpu_ms_per_record)
        };
        let ms = billed_ms(io, a.overhead_ms_per_invocation, cpu, per_batch)
            + a.cold_start_ratio * a.init_ms;
        gb_s += q.batches as f64 * ms / 1000.0 * gb;
    }
    let gb_s_price = if a.arm64 {
        &p.lambda_gb_s_arm64
    } else {
        &p.lambda_gb_s_x86
    };
    b.add(
        "Lambda",
        format!("duration ({} MB, GB-s)", a.lambda_memory_mb),
        gb_s / n,
        gb_s_price,
    );
    b.add(
        "DynamoDB",
        "write request units (on-demand)",
        per(u.dynamo.wru()),
        &p.ddb_wru,
    );
    b.add(
        "DynamoDB",
        "read request units (consistent reads)",
        per(u.dynamo.rru()),
        &p.ddb_rru,
    );
    b.push(
        "CloudWatch Logs",
        "catch-all event log group (GB)",
        u.catch_all_bytes as f64 / GB / n,
        &p.logs_ingest_gb,
        false,
    );
    b.push(
        "CloudWatch Logs",
        "state machine log group, level ALL (GB, upper bound)",
        u.history_bytes as f64 / GB / n,
        &p.vended_logs_ingest_gb,
        false,
    );
    let lambda_log_bytes = u.invocations() as f64 * a.lambda_log_bytes_per_invocation
        + u.records() as f64 * a.lambda_log_bytes_per_record;
    b.push(
        "CloudWatch Logs",
        "Lambda JSON logs (GB, estimated)",
        lambda_log_bytes / GB / n,
        &p.logs_ingest_gb,
        false,
    );
    // The stack turns tracing on for the state machine (tracingEnabled) and every function
    // (Tracing.ACTIVE). Upper bound: every execution and every invocation its own trace,
    // all of them sampled.
    b.push(
        "X-Ray",
        "traces, 100% sampled (upper bound: one per execution and per invocation)",
        (u.trips + u.invocations()) as f64 / n,
        &p.xray_trace,
        false,
    );
    b
}

/// Optional extras, priced per million trips but left out of the totals.
pub fn optional_extras(u: &SagaUsage, p: &PriceTable) -> Vec<Line> {
    let n = u.trips.max(1) as f64;
    let mut b = Bill { lines: Vec::new() };
    b.push(
        "EventBridge",
        "archive: events archived (GB; storage $0.023/GB-month extra)",
        u.event_bytes as f64 / GB / n,
        &p.eb_archive_processed_gb,
        false,
    );
    b.push(
        "EventBridge",
        "replaying every event once",
        u.event_chunks as f64 / n,
        &p.eb_replayed_event,
        false,
    );
    b.lines
}

/// The fixed cost of Lambda's SQS pollers on idle queues (not per trip): each event source
/// mapping keeps long-polling (assumed: 5 pollers, one 20-second ReceiveMessage each at a
/// time), whether or not trips come.
pub fn idle_polling_usd_per_month(queues: usize, p: &PriceTable) -> f64 {
    let receives_per_month = queues as f64 * 5.0 * (30.0 * 86_400.0 / 20.0);
    receives_per_month * p.sqs_request.usd
}

// ----- the original demo -----

/// What the original demo's shape does for the same trips.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoUsage {
    pub trips: u64,
    pub transitions: u64,
    /// Task attempts: each a synchronous Lambda invocation.
    pub invocations: u64,
    /// Of those, cancels that failed (and looped).
    pub failed_cancels: u64,
    /// PutItem per booking, DeleteItem per successful cancel: 1 WRU each.
    pub wru: u64,
}

/// Assumptions about the demo's Lambdas (Node.js, Serverless Framework's default 1024 MB).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DemoAssumptions {
    pub lambda_memory_mb: f64,
    /// A booking or successful cancel: one DynamoDB call from Node.js (assumed).
    pub ms_per_invocation: f64,
    /// A cancel that fails at once (`Math.random() < 0.6`) (assumed).
    pub ms_per_failed_cancel: f64,
    pub cancel_failure_rate: f64,
    pub lambda_log_bytes_per_invocation: f64,
}

impl Default for DemoAssumptions {
    fn default() -> Self {
        DemoAssumptions {
            lambda_memory_mb: 1024.0,
            ms_per_invocation: 40.0,
            ms_per_failed_cancel: 5.0,
            cancel_failure_rate: 0.6,
            lambda_log_bytes_per_invocation: 750.0,
        }
    }
}

/// A small seeded generator (splitmix64) for the demo's coin flips.
struct Coin(u64);

impl Coin {
    fn uniform(&mut self) -> f64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// The step each trip fails at, as [`generate`] spreads them (hotel, flight, car in turn).
pub fn failing_steps(n: usize, failure_rate: f64) -> Vec<Option<usize>> {
    let mut failures = 0usize;
    (0..n)
        .map(|i| {
            let due = ((i + 1) as f64 * failure_rate).floor() as usize;
            (due > failures).then(|| {
                failures += 1;
                failures % 3
            })
        })
        .collect()
}

const DEMO_BOOK: [&str; 3] = ["BookHotel", "BookFlight", "BookRental"];
const DEMO_CANCEL: [&str; 3] = ["CancelHotel", "CancelFlight", "CancelRental"];

/// Runs the demo's definition once per trip with scripted Lambda answers: the failing step
/// throws, every cancel fails with probability `cancel_failure_rate` until it succeeds.
pub fn measure_demo(
    trips: usize,
    failure_rate: f64,
    cancel_failure_rate: f64,
    seed: u64,
) -> Result<DemoUsage, trip_workflow::WorkflowError> {
    let mut coin = Coin(seed);
    let mut u = DemoUsage::default();
    for fail_at in failing_steps(trips, failure_rate) {
        let mut responses = Responses::default();
        if let Some(k) = fail_at {
            responses = responses.with(
                DEMO_BOOK[k],
                ScriptedResponse::error("BookingFailed", "no room"),
            );
            for cancel in DEMO_CANCEL.iter().take(k + 1) {
                while coin.uniform() < cancel_failure_rate {
                    responses = responses.with(cancel, ScriptedResponse::error("error", "error"));
                }
                responses = responses.with(cancel, ScriptedResponse::output(json!("ok")));
            }
        }
        let run = run_scripted(
            ORIGINAL_DEMO_ASL,
            &BTreeMap::new(),
            json!({"trip_id": "demo"}),
            &responses,
        )?;
        u.trips += 1;
        u.transitions += run.transitions;
        let events = run.history["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let scheduled = |e: &Value| e["type"] == "TaskScheduled";
        u.invocations += events.iter().filter(|e| scheduled(e)).count() as u64;
        // Bookings that succeeded wrote one item; cancels that succeeded deleted one.
        let succeeded = events
            .iter()
            .filter(|e| e["type"] == "TaskSucceeded")
            .count() as u64;
        u.wru += succeeded;
        let failed_cancels = responses
            .0
            .iter()
            .filter(|(state, _)| state.starts_with("Cancel"))
            .map(|(_, list)| list.iter().filter(|r| r.error.is_some()).count() as u64)
            .sum::<u64>();
        u.failed_cancels += failed_cancels;
    }
    Ok(u)
}

/// Prices the demo's shape.
pub fn price_demo(u: &DemoUsage, a: &DemoAssumptions, p: &PriceTable) -> Bill {
    let n = u.trips.max(1) as f64;
    let mut b = Bill { lines: Vec::new() };
    b.add(
        "Step Functions",
        "state transitions (Standard)",
        u.transitions as f64 / n,
        &p.sfn_transition,
    );
    b.add(
        "Lambda",
        "requests (one per Task attempt, synchronous)",
        u.invocations as f64 / n,
        &p.lambda_request,
    );
    let ok = u.invocations.saturating_sub(u.failed_cancels) as f64;
    let ms = ok * a.ms_per_invocation + u.failed_cancels as f64 * a.ms_per_failed_cancel;
    b.add(
        "Lambda",
        format!("duration ({} MB, GB-s)", a.lambda_memory_mb),
        ms / 1000.0 * (a.lambda_memory_mb / 1024.0) / n,
        &p.lambda_gb_s_x86,
    );
    b.add(
        "DynamoDB",
        "write request units (PutItem / DeleteItem)",
        u.wru as f64 / n,
        &p.ddb_wru,
    );
    b.push(
        "CloudWatch Logs",
        "Lambda logs (GB, estimated)",
        u.invocations as f64 * a.lambda_log_bytes_per_invocation / GB / n,
        &p.logs_ingest_gb,
        false,
    );
    b
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_trip(failure_rate: f64) -> SagaUsage {
        measure(&CostOptions {
            trips: 1,
            failure_rate,
            concurrency: 1,
            shape: crate::bench::TripShape::Small,
            seed: 1,
        })
        .unwrap()
    }

    #[test]
    fn the_bill_prices_what_the_stack_deploys_x_ray_and_arm64_included() {
        // given the README's trip (10 holds) and the default assumptions
        let u = measure(&CostOptions {
            trips: 1,
            failure_rate: 0.0,
            concurrency: 1,
            shape: crate::bench::TripShape::Readme,
            seed: 1,
        })
        .unwrap();
        // 3 transactions of a booking and its holds (4 + 2 + 4), 2 WRU an item
        assert_eq!(u.dynamo.wru(), 2 * (3 + 10), "{u:#?}");
        let a = Assumptions::default();
        assert!(a.arm64, "the stack deploys arm64 (infra/lib/settings.ts)");
        let bill = price(&u, &a, &US_EAST_1);
        let duration = bill
            .lines
            .iter()
            .find(|l| l.service == "Lambda" && l.item.starts_with("duration"))
            .unwrap();
        assert_eq!(duration.unit_usd, US_EAST_1.lambda_gb_s_arm64.usd);
        // X-Ray: on in the stack, so in the total (as observability, not core)
        let xray = bill
            .lines
            .iter()
            .find(|l| l.service == "X-Ray")
            .expect("an X-Ray line in the bill");
        assert!(!xray.core && xray.usd_per_million_trips > 0.0);
        // one trace per execution and per invocation: 1 + 7 per trip, $5 per million traces
        assert!(
            (xray.usd_per_million_trips - 8.0 * 5.0).abs() < 1e-9,
            "{xray:?}"
        );
        assert!(bill.total() >= bill.core_total() + xray.usd_per_million_trips - 1e-9);
        let extras = optional_extras(&u, &US_EAST_1);
        assert!(
            extras.iter().all(|l| l.service != "X-Ray"),
            "X-Ray counted twice"
        );
    }

    #[test]
    fn a_happy_saga_does_exactly_this() {
        let u = one_trip(0.0);
        assert_eq!((u.trips, u.booked), (1, 1));
        let counts = json!({
            "transitions": u.transitions,
            "events": u.events,
            "deliveries": u.deliveries,
            "catchAll": u.catch_all_events,
            "sqsSends": u.sqs_sends(),
            "batches": u.invocations(),
            "deletes": u.sqs_deletes(),
            "wru": u.dynamo.wru(),
            "rru": u.dynamo.rru(),
        });
        // BookHotel, BookFlight, BookCar and the TripBooked put; 8 events (the request, three
        // commands, three answers, TripBooked), each logged by the catch-all rule, 7 of them
        // routed to a queue; 3 bookings of one hold each: 3 transactions of 2 items.
        let want = json!({
            "transitions": 4,
            "events": 8,
            "deliveries": 15,
            "catchAll": 8,
            "sqsSends": 7,
            "batches": 7,
            "deletes": 7,
            "wru": 12,
            "rru": 0,
        });
        assert_eq!(counts, want, "{u:#?}");
    }

    #[test]
    fn a_saga_compensated_at_the_flight_does_exactly_this() {
        // One trip with failure rate 1.0 fails at the flight (failures % 3 == 1).
        let u = one_trip(1.0);
        assert_eq!((u.trips, u.failed), (1, 1));
        let counts = json!({
            "transitions": u.transitions,
            "events": u.events,
            "sqsSends": u.sqs_sends(),
            "batches": u.invocations(),
            "wru": u.dynamo.wru(),
            "rru": u.dynamo.rru(),
        });
        // The hotel booked (a transaction of 2 items), the full flight refused (a PutItem),
        // then the flight's FAILED record marked cancelled (a read and an UpdateItem) and the
        // hotel released (a read and a transaction of 2 items).
        // Transitions: BookHotel, BookFlight, BookFlightFailed, CancelFlight, CancelHotel,
        // DescribeTripFailure, NotifyTripBookingFailed, TripBookingFailed.
        let want = json!({
            "transitions": 8,
            "events": 10,
            "sqsSends": 9,
            "batches": 9,
            "wru": 10,
            "rru": 2,
        });
        assert_eq!(counts, want, "{u:#?}");
    }

    #[test]
    fn the_dollar_arithmetic_matches_a_hand_computed_case() {
        // Given 2 trips, 10 transitions, 8 events, one bridge queue with 4 batches of 1 record,
        // 6 WRU and 2 RRU, 1 GB of catch-all log.
        let mut queues = BTreeMap::new();
        queues.insert(
            "bridge".to_owned(),
            QueueUsage {
                sent: 4,
                batches: 4,
                received: 4,
                deleted: 4,
                delete_calls: 4,
            },
        );
        let u = SagaUsage {
            trips: 2,
            transitions: 10,
            events: 8,
            event_chunks: 8,
            deliveries: 12,
            catch_all_bytes: 1_000_000_000,
            queues,
            dynamo: DynamoUsage {
                transact_writes: 1,
                transact_items: 2,
                puts: 2,
                updates: 0,
                consistent_reads: 2,
            },
            ..SagaUsage::default()
        };
        let a = Assumptions {
            lambda_memory_mb: 512.0,
            bridge_cpu_ms_per_record: 0.4,
            bridge_io_ms_per_invocation: 9.0,
            overhead_ms_per_invocation: 0.5,
            cold_start_ratio: 0.0,
            lambda_log_bytes_per_invocation: 0.0,
            lambda_log_bytes_per_record: 0.0,
            ..Assumptions::default()
        };
        let bill = price(&u, &a, &US_EAST_1);
        let by = bill.by_service();
        // Per trip: 5 transitions x $0.000025 = $0.000125 -> $125 per million trips.
        assert!((by["Step Functions"] - 125.0).abs() < 1e-9, "{by:?}");
        // 4 events x $1/M -> $4 per million trips; deliveries are free.
        assert!((by["EventBridge"] - 4.0).abs() < 1e-9, "{by:?}");
        // (4 sends + 4 receives + 4 deletes) / 2 = 6 requests x $0.40/M -> $2.40.
        assert!((by["SQS"] - 2.4).abs() < 1e-9, "{by:?}");
        // 2 requests x $0.20/M = $0.40; each invocation bills ceil(9 + 0.5 + 0.4) = 10 ms, so
        // 2 x 0.010 s x 0.5 GB = 0.01 GB-s per trip x $0.0000166667 -> $0.166667.
        assert!((by["Lambda"] - (0.4 + 0.166_667)).abs() < 1e-6, "{by:?}");
        // (2 x 2 + 2) / 2 = 3 WRU x $0.625/M = $1.875; 1 RRU x $0.125/M = $0.125.
        assert!((by["DynamoDB"] - 2.0).abs() < 1e-9, "{by:?}");
        // 0.5 GB per trip x $0.50 -> $250,000 per million trips.
        assert!((by["CloudWatch Logs"] - 250_000.0).abs() < 1e-6, "{by:?}");
        assert!((bill.core_total() - (125.0 + 4.0 + 2.4 + 0.566_667 + 2.0)).abs() < 1e-5);
    }

    #[test]
    fn the_demo_books_in_three_invocations_and_loops_on_failing_cancels() {
        let happy = measure_demo(1, 0.0, 0.6, 7).unwrap();
        assert_eq!(
            (happy.transitions, happy.invocations, happy.wru),
            (3, 3, 3),
            "{happy:?}"
        );
        // Cancels that never fail: BookHotel, BookFlight (throws), CancelFlight, CancelHotel,
        // Fail; the hotel's PutItem and two DeleteItems.
        let failed = measure_demo(1, 1.0, 0.0, 7).unwrap();
        assert_eq!(
            (failed.transitions, failed.invocations, failed.wru),
            (5, 4, 3),
            "{failed:?}"
        );
        // Every failing cancel adds one invocation (and its transition).
        let looping = measure_demo(1, 1.0, 0.6, 7).unwrap();
        assert_eq!(
            looping.invocations,
            failed.invocations + looping.failed_cancels
        );
    }

    #[test]
    fn failing_steps_match_what_generate_makes() {
        let steps = failing_steps(100, 0.3);
        assert_eq!(steps.iter().flatten().count(), 30);
        let entries = generate("t", 100, 0.3, crate::bench::TripShape::Small);
        for (step, e) in steps.iter().zip(&entries) {
            let luxury = e.detail.contains("\"luxury\"");
            let louvre = e.detail.contains("HTL-PAR-LOUVRE");
            let fnc = e.detail.contains("\"to\":\"FNC\"");
            assert_eq!(*step, [louvre, fnc, luxury].iter().position(|b| *b));
        }
    }
}
