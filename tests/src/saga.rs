//! Whole sagas on two substrates, compared: the deployed wiring on moto (real handlers, real
//! AWS adapters, moto's Step Functions interpreter running the product's ASL) and the embedded
//! runtime (`trip_local::Runtime`, virtual time). [`SagaResult`] is what must agree.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use serde_json::Value;
use trip_booking::BookingRecord;
use trip_events::{EventEnvelope, PutEventsEntry, Service};
use trip_local::runtime::outcome_of;
use trip_local::{ClockChoice, Runtime, RuntimeOptions, TripOutcome};

use crate::moto::{Clients, MotoServer};
use crate::poller::Poller;
use crate::stack::{Stack, StackOptions};

/// The virtual start of local runs: 2030-01-01T00:00:00Z (the samples travel in 2031).
pub const LOCAL_START_MS: i64 = 1_893_456_000_000;

/// How a trip ended, in the terms both substrates are compared on.
#[derive(Debug, Clone, PartialEq)]
pub struct SagaResult {
    /// The execution's final status (`None`: no execution, e.g. a rejected request).
    pub status: Option<String>,
    /// The trip's final event (TripBooked / TripBookingFailed / TripBookingRejected).
    pub outcome: Option<TripOutcome>,
    /// Its detail, without `error.Cause` (see [`SagaResult::cause`]).
    pub final_detail: Option<Value>,
    /// `error.Cause` of a TripBookingFailed: moto drops the cause of `SendTaskFailure`.
    pub cause: Option<Value>,
    /// Detail-types of every event of the trip, in the order they crossed the bus.
    pub events: Vec<String>,
    pub bookings: BTreeMap<Service, Option<BookingRecord>>,
}

impl SagaResult {
    fn from_parts(
        status: Option<String>,
        envelopes: &[EventEnvelope],
        trip_id: &str,
        bookings: BTreeMap<Service, Option<BookingRecord>>,
    ) -> SagaResult {
        let of_trip: Vec<&EventEnvelope> = envelopes
            .iter()
            .filter(|e| e.trip_id() == Some(trip_id))
            .collect();
        let last = of_trip.iter().rev().find(|e| outcome_of(e).is_some());
        let mut final_detail = last.map(|e| e.detail.clone());
        let cause = final_detail
            .as_mut()
            .and_then(|d| d.get_mut("error"))
            .and_then(Value::as_object_mut)
            .and_then(|e| e.remove("Cause"));
        let mut outcome = last.and_then(|e| outcome_of(e));
        if let Some(TripOutcome::Failed { cause, .. }) = &mut outcome {
            *cause = None;
        }
        SagaResult {
            status,
            outcome,
            final_detail,
            cause,
            events: of_trip.iter().map(|e| e.detail_type.clone()).collect(),
            bookings,
        }
    }

    /// Asserts the two agree. The cause of a failure is compared only where moto keeps one;
    /// where it does not, the local cause is printed.
    pub fn assert_same_as(&self, local: &SagaResult) {
        // moto drops the cause of SendTaskFailure (null), and gives a timed-out task an empty
        // one where ours has none: both count as "no cause" (tests/conformance/DIFFERENCES.md).
        let moto_cause = self
            .cause
            .clone()
            .filter(|c| !c.is_null() && c.as_str() != Some(""));
        assert!(
            moto_cause.is_none() || moto_cause == local.cause,
            "TripBookingFailed error.Cause: moto {moto_cause:?}, local {:?}",
            local.cause
        );
        if moto_cause.is_none() {
            eprintln!(
                "TripBookingFailed error.Cause not compared (moto: {:?}); local: {:?}",
                self.cause, local.cause
            );
        }
        let mut without_cause = self.clone();
        without_cause.cause = local.cause.clone();
        assert_eq!(
            &without_cause, local,
            "moto (left) and the embedded runtime (right) disagree"
        );
    }
}

/// The stack on a fresh moto server, with its event source mappings.
pub struct MotoSaga {
    pub server: MotoServer,
    pub clients: Clients,
    pub stack: Stack,
    pub poller: Poller,
}

impl MotoSaga {
    pub async fn deploy(options: &StackOptions) -> Result<MotoSaga> {
        let server = MotoServer::start();
        let clients = server.clients().await;
        let stack = Stack::create(&clients, options).await?;
        let poller = Poller::new(&clients, &stack);
        Ok(MotoSaga {
            server,
            clients,
            stack,
            poller,
        })
    }

    /// `aws events put-events --entries file://...`, as a client does.
    pub async fn put_events(&self, entries: &[PutEventsEntry]) -> Result<()> {
        let entries = entries
            .iter()
            .map(|e| {
                PutEventsRequestEntry::builder()
                    .source(&e.source)
                    .detail_type(&e.detail_type)
                    .detail(&e.detail)
                    .event_bus_name(e.event_bus_name.as_deref().unwrap_or(&self.stack.bus))
                    .build()
            })
            .collect();
        let out = self
            .clients
            .eventbridge
            .put_events()
            .set_entries(Some(entries))
            .send()
            .await
            .context("PutEvents")?;
        anyhow::ensure!(
            out.failed_entry_count() == 0,
            "PutEvents refused entries: {:?}",
            out.entries()
        );
        Ok(())
    }

    pub async fn pump_until_quiet(&mut self) -> Result<()> {
        self.poller.pump_until_quiet(Duration::from_secs(40)).await
    }

    /// Every event the catch-all rule logged, as envelopes.
    pub async fn logged(&self) -> Result<Vec<EventEnvelope>> {
        let group = self.stack.log_groups.first().context("no log group")?;
        self.server
            .log_messages(group)
            .map_err(anyhow::Error::msg)?
            .iter()
            .map(|m| serde_json::from_str(m).with_context(|| format!("log message {m}")))
            .collect()
    }

    pub async fn execution_status(&self, trip_id: &str) -> Result<Option<String>> {
        match self
            .clients
            .sfn
            .describe_execution()
            .execution_arn(self.stack.execution_arn(trip_id))
            .send()
            .await
        {
            Ok(d) => Ok(Some(d.status().as_str().to_owned())),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_execution_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(e) => Err(e).context("DescribeExecution"),
        }
    }

    /// Executions of the state machine (any status).
    pub async fn execution_count(&self) -> Result<usize> {
        Ok(self
            .clients
            .sfn
            .list_executions()
            .state_machine_arn(&self.stack.state_machine_arn)
            .send()
            .await?
            .executions()
            .len())
    }

    pub async fn result(&self, trip_id: &str) -> Result<SagaResult> {
        let mut bookings = BTreeMap::new();
        for s in Service::ALL {
            bookings.insert(s, self.poller.booking(s, trip_id).await?);
        }
        Ok(SagaResult::from_parts(
            self.execution_status(trip_id).await?,
            &self.logged().await?,
            trip_id,
            bookings,
        ))
    }

    /// Messages left in any dead-letter queue.
    pub async fn dead_letters(&self) -> Result<usize> {
        let mut n = 0;
        for q in &self.stack.queues {
            n += self.poller.dead_letters(&q.name).await?;
        }
        Ok(n)
    }
}

/// The embedded runtime in virtual time (optionally with another routing table).
pub fn local_runtime(routing: Option<trip_events::routing::RoutingTable>) -> Runtime {
    Runtime::open(RuntimeOptions {
        clock: ClockChoice::Virtual {
            start_ms: LOCAL_START_MS,
        },
        routing,
        ..RuntimeOptions::default()
    })
    .expect("the embedded runtime opens")
}

/// What the embedded runtime holds about a trip.
pub fn local_result(rt: &Runtime, trip_id: &str) -> SagaResult {
    let envelopes: Vec<EventEnvelope> = rt.log().iter().map(|l| (*l.envelope).clone()).collect();
    let bookings = Service::ALL
        .iter()
        .map(|s| (*s, rt.booking(*s, trip_id)))
        .collect();
    SagaResult::from_parts(
        rt.describe_execution(trip_id)
            .map(|d| d.status.as_str().to_owned()),
        &envelopes,
        trip_id,
        bookings,
    )
}

/// A sample of `events/samples/`.
pub fn sample(name: &str) -> Vec<PutEventsEntry> {
    trip_events::read_entries_file(&format!(
        "{}/../events/samples/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("sample reads")
}

/// The trip id of a sample's first entry.
pub fn trip_of(entries: &[PutEventsEntry]) -> String {
    let detail: Value = serde_json::from_str(&entries[0].detail).expect("detail is JSON");
    detail["tripId"].as_str().expect("tripId").to_owned()
}
