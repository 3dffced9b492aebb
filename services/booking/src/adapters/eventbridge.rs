//! The event publisher on EventBridge.
//!
//! `PutEvents` takes at most 10 entries and may accept some and refuse others
//! (`FailedEntryCount`); only the refused ones are sent again, with bounded exponential backoff.
//! An entry over the 256 KB limit is refused before anything is sent.

use std::time::Duration;

use aws_sdk_eventbridge::Client;
use aws_sdk_eventbridge::types::PutEventsRequestEntry;
use trip_events::{MAX_ENTRY_BYTES, PutEventsEntry, TripEvent};

use super::aws_error::map_sdk_error;
use crate::error::Error;
use crate::ports::EventPublisher;

/// `PutEvents` accepts at most this many entries.
pub const MAX_ENTRIES_PER_CALL: usize = 10;

/// Publishes on one custom bus.
#[derive(Debug, Clone)]
pub struct EventBridgePublisher {
    client: Client,
    bus: String,
    max_attempts: usize,
    backoff: Duration,
}

impl EventBridgePublisher {
    /// Up to 4 attempts per batch, backing off 50 ms, 100 ms, 200 ms.
    pub fn new(client: Client, bus: impl Into<String>) -> Self {
        EventBridgePublisher {
            client,
            bus: bus.into(),
            max_attempts: 4,
            backoff: Duration::from_millis(50),
        }
    }

    /// The bus named by `EVENT_BUS_NAME`.
    pub fn from_env(client: Client) -> Result<Self, Error> {
        let bus = std::env::var("EVENT_BUS_NAME")
            .map_err(|_| Error::Config("EVENT_BUS_NAME is not set".into()))?;
        Ok(Self::new(client, bus))
    }

    /// Attempts per batch (at least 1) and the first backoff (doubling; zero: no waiting).
    pub fn with_retries(mut self, max_attempts: usize, backoff: Duration) -> Self {
        self.max_attempts = max_attempts.max(1);
        self.backoff = backoff;
        self
    }

    /// The entry for an event, refused when EventBridge would refuse it for its size.
    pub fn entry(&self, event: &TripEvent) -> Result<PutEventsRequestEntry, Error> {
        let entry = PutEventsEntry::for_event(event, &self.bus);
        let size = entry.size();
        if size > MAX_ENTRY_BYTES {
            return Err(Error::EntryTooLarge {
                size,
                limit: MAX_ENTRY_BYTES,
            });
        }
        Ok(PutEventsRequestEntry::builder()
            .source(entry.source)
            .detail_type(entry.detail_type)
            .detail(entry.detail)
            .event_bus_name(&self.bus)
            .build())
    }

    async fn put_batch(&self, batch: &[PutEventsRequestEntry]) -> Result<(), Error> {
        let mut pending = batch.to_vec();
        let mut last_error = String::new();
        for attempt in 0..self.max_attempts {
            if attempt > 0 && !self.backoff.is_zero() {
                tokio::time::sleep(self.backoff * (1 << (attempt - 1).min(6))).await;
            }
            let out = match self
                .client
                .put_events()
                .set_entries(Some(pending.clone()))
                .send()
                .await
            {
                Ok(out) => out,
                Err(err) => {
                    let e = map_sdk_error("PutEvents", &err);
                    if !e.is_transient() {
                        return Err(e);
                    }
                    last_error = e.to_string();
                    continue;
                }
            };
            if out.failed_entry_count() == 0 {
                return Ok(());
            }
            let results = out.entries();
            if results.len() != pending.len() {
                // Cannot tell which failed: send them all again.
                last_error = format!("{} entries failed", out.failed_entry_count());
                continue;
            }
            let mut codes = Vec::new();
            pending = pending
                .into_iter()
                .zip(results)
                .filter_map(|(entry, result)| {
                    result.error_code().map(|code| {
                        codes.push(format!(
                            "{code}: {}",
                            result.error_message().unwrap_or_default()
                        ));
                        entry
                    })
                })
                .collect();
            if pending.is_empty() {
                return Ok(());
            }
            last_error = codes.join("; ");
        }
        Err(Error::PublishFailed {
            failed: pending.len(),
            total: batch.len(),
            message: last_error,
        })
    }
}

impl EventPublisher for EventBridgePublisher {
    async fn publish(&self, events: &[TripEvent]) -> Result<(), Error> {
        let entries = events
            .iter()
            .map(|e| self.entry(e))
            .collect::<Result<Vec<_>, _>>()?;
        for batch in entries.chunks(MAX_ENTRIES_PER_CALL) {
            self.put_batch(batch).await?;
        }
        Ok(())
    }
}
