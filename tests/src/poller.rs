//! Lambda's SQS event source, played by the test: receive a batch from each queue (up to the
//! routing table's `batchSize`), hand it to the real handlers of `trip-booking` with their real
//! AWS adapters (DynamoDB, EventBridge, Step Functions) pointed at moto, delete what succeeded
//! and leave the partial batch failures to come back after their visibility timeout (and to
//! reach the dead-letter queue after `maxReceiveCount` receives).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sqs::types::{
    DeleteMessageBatchRequestEntry, MessageSystemAttributeName, QueueAttributeName,
};
use trip_booking::adapters::dynamodb::DynamoBookingStore;
use trip_booking::adapters::eventbridge::EventBridgePublisher;
use trip_booking::adapters::sfn::StepFunctionsWorkflow;
use trip_booking::{BookingRecord, BookingStore, Handled, QueueMessage, Service};
use trip_booking::{handle_bridge_event, handle_service_event, process_sqs_batch};

use crate::moto::Clients;
use crate::stack::{Stack, StackQueue};

/// What one record came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub queue: String,
    pub detail_type: String,
    pub trip_id: Option<String>,
    /// How many times SQS has handed this message out (1 on first delivery).
    pub receive_count: u32,
    /// The handler's outcome, or its error's text.
    pub result: Result<Handled, String>,
}

/// Decides which received messages a consumer does not get to yet (by queue name and body).
pub type DeferRule = Box<dyn Fn(&str, &str) -> bool + Send + Sync>;

/// The event source mappings of the stack's four consumers.
pub struct Poller {
    clients: Clients,
    stack: Stack,
    stores: BTreeMap<Service, DynamoBookingStore>,
    publisher: EventBridgePublisher,
    workflow: StepFunctionsWorkflow,
    paused: BTreeSet<String>,
    defer: Option<DeferRule>,
    /// Receipt handles of deferred messages, per queue.
    deferred: BTreeMap<String, Vec<String>>,
    deliveries: Arc<Mutex<Vec<Delivery>>>,
}

impl Poller {
    /// The handlers' adapters, built once the way the Lambda `main`s build them.
    pub fn new(clients: &Clients, stack: &Stack) -> Poller {
        let stores = stack
            .tables
            .iter()
            .map(|(s, t)| (*s, DynamoBookingStore::new(clients.dynamodb.clone(), t)))
            .collect();
        Poller {
            clients: clients.clone(),
            stack: stack.clone(),
            stores,
            publisher: EventBridgePublisher::new(clients.eventbridge.clone(), &stack.bus),
            workflow: StepFunctionsWorkflow::new(clients.sfn.clone(), &stack.state_machine_arn),
            paused: BTreeSet::new(),
            defer: None,
            deferred: BTreeMap::new(),
            deliveries: Arc::default(),
        }
    }

    /// The service's booking store (the adapter under test).
    pub fn store(&self, service: Service) -> &DynamoBookingStore {
        &self.stores[&service]
    }

    /// A booking record as DynamoDB holds it.
    pub async fn booking(&self, service: Service, trip_id: &str) -> Result<Option<BookingRecord>> {
        Ok(self.store(service).get(service, trip_id).await?)
    }

    /// Stops (or resumes) a consumer: its messages wait in the queue.
    pub fn pause(&mut self, queue: &str, paused: bool) {
        if paused {
            self.paused.insert(queue.to_owned());
        } else {
            self.paused.remove(queue);
        }
    }

    /// Messages for which `rule(queue, body)` holds are received but not handled: their
    /// visibility is extended (a slow consumer), until [`Poller::release_deferred`].
    pub fn defer(&mut self, rule: DeferRule) {
        self.defer = Some(rule);
    }

    /// Makes every deferred message visible again, and stops deferring.
    pub async fn release_deferred(&mut self) -> Result<()> {
        self.defer = None;
        for (queue, handles) in std::mem::take(&mut self.deferred) {
            let url = self.stack.queue(&queue).url.clone();
            for handle in handles {
                self.clients
                    .sqs
                    .change_message_visibility()
                    .queue_url(&url)
                    .receipt_handle(handle)
                    .visibility_timeout(0)
                    .send()
                    .await
                    .context("ChangeMessageVisibility")?;
            }
        }
        Ok(())
    }

    /// Every record handled so far.
    pub fn deliveries(&self) -> Vec<Delivery> {
        self.deliveries
            .lock()
            .map(|d| d.clone())
            .unwrap_or_default()
    }

    /// One receive on every running consumer's queue; returns how many records were handled.
    pub async fn pump_once(&mut self) -> Result<usize> {
        // Every event source mapping polls at once, as separate Lambdas do.
        let queues: Vec<StackQueue> = self
            .stack
            .queues
            .iter()
            .filter(|q| !self.paused.contains(&q.name))
            .cloned()
            .collect();
        let received = futures::future::join_all(queues.iter().map(|queue| {
            self.clients
                .sqs
                .receive_message()
                .queue_url(&queue.url)
                .max_number_of_messages(queue.batch_size as i32)
                .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
                .wait_time_seconds(0)
                .send()
        }))
        .await;
        let mut handled = 0;
        for (queue, out) in queues.iter().zip(received) {
            let out = out.context("ReceiveMessage")?;
            if !out.messages().is_empty() {
                handled += self.handle_batch(queue, out).await?;
            }
        }
        Ok(handled)
    }

    async fn handle_batch(
        &mut self,
        queue: &StackQueue,
        out: aws_sdk_sqs::operation::receive_message::ReceiveMessageOutput,
    ) -> Result<usize> {
        let mut messages = Vec::new();
        let mut receipts = BTreeMap::new();
        let mut receive_counts = BTreeMap::new();
        for m in out.messages() {
            let (Some(id), Some(body), Some(receipt)) =
                (m.message_id(), m.body(), m.receipt_handle())
            else {
                bail!("a message without id, body or receipt handle");
            };
            if self
                .defer
                .as_ref()
                .is_some_and(|rule| rule(&queue.name, body))
            {
                self.clients
                    .sqs
                    .change_message_visibility()
                    .queue_url(&queue.url)
                    .receipt_handle(receipt)
                    .visibility_timeout(300)
                    .send()
                    .await
                    .context("ChangeMessageVisibility")?;
                self.deferred
                    .entry(queue.name.clone())
                    .or_default()
                    .push(receipt.to_owned());
                continue;
            }
            let count = m
                .attributes()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok())
                .unwrap_or(1);
            let event_id = serde_json::from_str::<serde_json::Value>(body)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned))
                .unwrap_or_default();
            receive_counts.insert(event_id, count);
            receipts.insert(id.to_owned(), receipt.to_owned());
            // The same QueueMessage the Lambda glue builds from an SqsEvent record.
            messages.push(QueueMessage {
                receive_count: count,
                message_id: id.to_owned(),
                body: body.to_owned(),
            });
        }
        if messages.is_empty() {
            return Ok(0);
        }
        let deliveries = Arc::clone(&self.deliveries);
        let record = |queue: &str, body: &str, count: u32, result: Result<Handled, String>| {
            let envelope: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
            let delivery = Delivery {
                queue: queue.to_owned(),
                detail_type: envelope["detail-type"].as_str().unwrap_or("").to_owned(),
                trip_id: envelope["detail"]["tripId"].as_str().map(str::to_owned),
                receive_count: count,
                result,
            };
            if let Ok(mut d) = deliveries.lock() {
                d.push(delivery);
            }
        };
        let outcome = match queue.consumer.parse::<Service>() {
            Ok(service) => {
                let (store, publisher) = (&self.stores[&service], &self.publisher);
                process_sqs_batch(&messages, |envelope| {
                    let record = &record;
                    let count = receive_counts.get(&envelope.id).copied().unwrap_or(1);
                    async move {
                        let r = handle_service_event(service, store, publisher, &envelope).await;
                        let body = serde_json::to_string(&envelope).unwrap_or_default();
                        record(&queue.name, &body, count, summary(&r));
                        r
                    }
                })
                .await
            }
            Err(_) => {
                let (workflow, publisher) = (&self.workflow, &self.publisher);
                let now = chrono::Utc::now();
                process_sqs_batch(&messages, |envelope| {
                    let record = &record;
                    let count = receive_counts.get(&envelope.id).copied().unwrap_or(1);
                    async move {
                        let r = handle_bridge_event(workflow, publisher, &envelope, now).await;
                        let body = serde_json::to_string(&envelope).unwrap_or_default();
                        record(&queue.name, &body, count, summary(&r));
                        r
                    }
                })
                .await
            }
        };
        // Partial batch response: delete what succeeded, leave the failures to SQS.
        let entries: Vec<DeleteMessageBatchRequestEntry> = messages
            .iter()
            .filter(|m| !outcome.failed_message_ids.contains(&m.message_id))
            .enumerate()
            .map(|(i, m)| {
                DeleteMessageBatchRequestEntry::builder()
                    .id(format!("m{i}"))
                    .receipt_handle(&receipts[&m.message_id])
                    .build()
            })
            .collect::<Result<_, _>>()?;
        if !entries.is_empty() {
            let out = self
                .clients
                .sqs
                .delete_message_batch()
                .queue_url(&queue.url)
                .set_entries(Some(entries))
                .send()
                .await
                .context("DeleteMessageBatch")?;
            if !out.failed().is_empty() {
                bail!("DeleteMessageBatch failed: {:?}", out.failed());
            }
        }
        Ok(messages.len())
    }

    /// Messages waiting or in flight on a queue (deferred ones not counted).
    pub async fn depth(&self, queue: &str) -> Result<usize> {
        let q = self.stack.queue(queue);
        let waiting = queue_depth(&self.clients, &q.url).await?;
        let deferred = self.deferred.get(queue).map_or(0, Vec::len);
        Ok(waiting.saturating_sub(deferred))
    }

    /// Messages in a queue's dead-letter queue.
    pub async fn dead_letters(&self, queue: &str) -> Result<usize> {
        queue_depth(&self.clients, &self.stack.queue(queue).dlq_url).await
    }

    /// Pumps until nothing is left to do: no execution running, no message waiting or in
    /// flight on a running consumer's queue. Fails after `timeout`.
    pub async fn pump_until_quiet(&mut self, timeout: Duration) -> Result<()> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.pump_once().await? > 0 {
                continue;
            }
            if self.is_quiet().await? {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "not quiet after {timeout:?}; deliveries so far: {:#?}",
                    self.deliveries()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Pumps until `done` holds (checked after every idle round). Fails after `timeout`.
    pub async fn pump_until<F>(&mut self, timeout: Duration, mut done: F) -> Result<()>
    where
        F: AsyncFnMut(&Poller) -> Result<bool>,
    {
        let deadline = Instant::now() + timeout;
        loop {
            if self.pump_once().await? > 0 {
                continue;
            }
            if done(self).await? {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!(
                    "condition not met after {timeout:?}; deliveries: {:#?}",
                    self.deliveries()
                );
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn is_quiet(&self) -> Result<bool> {
        let running = self
            .clients
            .sfn
            .list_executions()
            .state_machine_arn(&self.stack.state_machine_arn)
            .status_filter(ExecutionStatus::Running)
            .send()
            .await
            .context("ListExecutions")?;
        if !running.executions().is_empty() {
            return Ok(false);
        }
        for q in &self.stack.queues {
            if !self.paused.contains(&q.name) && self.depth(&q.name).await? > 0 {
                return Ok(false);
            }
        }
        Ok(true)
    }

    pub fn stack(&self) -> &Stack {
        &self.stack
    }

    pub fn clients(&self) -> &Clients {
        &self.clients
    }
}

fn summary(r: &Result<Handled, trip_booking::Error>) -> Result<Handled, String> {
    r.clone().map_err(|e| e.to_string())
}

/// ApproximateNumberOfMessages + ApproximateNumberOfMessagesNotVisible.
pub async fn queue_depth(clients: &Clients, url: &str) -> Result<usize> {
    let out = clients
        .sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .context("GetQueueAttributes")?;
    let attrs = out.attributes().cloned().unwrap_or_default();
    let n = |k: QueueAttributeName| -> usize {
        attrs.get(&k).and_then(|v| v.parse().ok()).unwrap_or(0)
    };
    Ok(n(QueueAttributeName::ApproximateNumberOfMessages)
        + n(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
}
