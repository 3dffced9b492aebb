//! Queues that behave like SQS under a Lambda event source: at-least-once delivery, a
//! visibility timeout, a receive count, and a dead-letter queue after `maxReceiveCount`.

use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use trip_events::EventEnvelope;
use trip_events::routing::QueueSpec;

/// One message, as the queue keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    pub message_id: String,
    pub queue: String,
    /// The EventBridge envelope, JSON, as SQS carries it. Empty while `event` holds it.
    pub body: String,
    pub sent_at: i64,
    /// Receivable again at this time (ms).
    pub visible_at: i64,
    pub receive_count: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_received_at: Option<i64>,
    /// Why the last attempt failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// Set once the message is in the dead-letter queue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_lettered_at: Option<i64>,
    /// The wall-clock time it was dead-lettered (ms): the runtime's clock skips idle waits
    /// (visibility timeouts, backoff), so `dead_lettered_at` can lie ahead of the wall clock;
    /// this is what a person is shown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_lettered_wall_at: Option<i64>,
    /// The event this message carries, when the event log holds its body: the store then
    /// keeps the message without its body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    /// The event itself, shared with the event log, for a message the bus sent in this
    /// process: delivered as is, never rendered to JSON and parsed back. Not stored (the store
    /// keeps `event_id`, and the event log the body).
    #[serde(skip)]
    pub event: Option<Arc<EventEnvelope>>,
}

impl Message {
    /// The body as SQS would carry it.
    pub fn body_text(&self) -> Cow<'_, str> {
        match &self.event {
            Some(e) if self.body.is_empty() => {
                Cow::Owned(serde_json::to_string(&**e).unwrap_or_default())
            }
            _ => Cow::Borrowed(&self.body),
        }
    }
}

/// A change the queue made, for the store to persist.
#[derive(Debug, Clone, PartialEq)]
pub enum QueueChange {
    /// A new message (never stored before).
    Insert(Message),
    Upsert(Message),
    Remove {
        queue: String,
        message_id: String,
    },
}

/// A queue and its dead-letter queue.
#[derive(Debug, Clone)]
pub struct Queue {
    pub spec: QueueSpec,
    messages: HashMap<String, Message>,
    /// (visible_at, sequence) -> message id: receive in order of visibility, then of arrival.
    schedule: BTreeMap<(i64, u64), String>,
    seq: u64,
    dead: BTreeMap<(i64, u64), Message>,
    changes: Vec<QueueChange>,
}

impl Queue {
    pub fn new(spec: QueueSpec) -> Self {
        Queue {
            spec,
            messages: HashMap::new(),
            schedule: BTreeMap::new(),
            seq: 0,
            dead: BTreeMap::new(),
            changes: Vec::new(),
        }
    }

    pub fn name(&self) -> &str {
        &self.spec.name
    }

    fn schedule(&mut self, visible_at: i64, id: String) {
        self.seq += 1;
        self.schedule.insert((visible_at, self.seq), id);
    }

    /// Restores a persisted message (after a restart).
    pub fn restore(&mut self, m: Message) {
        if m.dead_lettered_at.is_some() {
            self.seq += 1;
            self.dead
                .insert((m.dead_lettered_at.unwrap_or(0), self.seq), m);
        } else {
            let (at, id) = (m.visible_at, m.message_id.clone());
            self.messages.insert(id.clone(), m);
            self.schedule(at, id);
        }
    }

    /// Sends a message, visible at once (or after `delay_ms`).
    pub fn send(&mut self, message_id: String, body: String, now: i64, delay_ms: i64) {
        self.push(message_id, None, body, now, delay_ms);
    }

    /// Sends a message carrying a logged event.
    pub fn send_event(
        &mut self,
        message_id: String,
        event: Arc<EventEnvelope>,
        now: i64,
        delay_ms: i64,
    ) {
        self.push(message_id, Some(event), String::new(), now, delay_ms);
    }

    fn push(
        &mut self,
        message_id: String,
        event: Option<Arc<EventEnvelope>>,
        body: String,
        now: i64,
        delay_ms: i64,
    ) {
        let m = Message {
            event_id: event.as_ref().map(|e| e.id.clone()),
            event,
            message_id: message_id.clone(),
            queue: self.spec.name.clone(),
            body,
            sent_at: now,
            visible_at: now + delay_ms.max(0),
            receive_count: 0,
            first_received_at: None,
            last_error: None,
            dead_lettered_at: None,
            dead_lettered_wall_at: None,
        };
        self.changes.push(QueueChange::Insert(m.clone()));
        let at = m.visible_at;
        self.messages.insert(message_id.clone(), m);
        self.schedule(at, message_id);
    }

    /// Receives up to `max` visible messages. Each receive counts; a message received more than
    /// `maxReceiveCount` times moves to the dead-letter queue instead of being delivered, the
    /// way SQS applies a redrive policy.
    pub fn receive(&mut self, now: i64, max: usize) -> Vec<Message> {
        let mut out = Vec::new();
        while out.len() < max {
            let Some((&(at, seq), _)) = self.schedule.first_key_value() else {
                break;
            };
            if at > now {
                break;
            }
            let Some(id) = self.schedule.remove(&(at, seq)) else {
                break;
            };
            let Some(m) = self.messages.get_mut(&id) else {
                continue; // deleted while scheduled
            };
            if m.visible_at != at {
                continue; // a stale schedule entry
            }
            if m.receive_count >= self.spec.max_receive_count {
                let mut m = match self.messages.remove(&id) {
                    Some(m) => m,
                    None => continue,
                };
                m.dead_lettered_at = Some(now);
                m.dead_lettered_wall_at = Some(chrono::Utc::now().timestamp_millis());
                if m.last_error.is_none() {
                    m.last_error = Some("maxReceiveCount exceeded".to_owned());
                }
                self.changes.push(QueueChange::Upsert(m.clone()));
                self.seq += 1;
                self.dead.insert((now, self.seq), m);
                continue;
            }
            m.receive_count += 1;
            m.first_received_at.get_or_insert(now);
            m.visible_at = now + i64::from(self.spec.visibility_timeout_seconds) * 1000;
            // The lease itself is not persisted: after a crash an in-flight message comes back
            // at once rather than when its visibility timeout would have run out (SQS allows
            // either: delivery is at least once). A failure, which carries the receive count
            // toward the dead-letter queue, is persisted by `fail`.
            let (at, copy) = (m.visible_at, m.clone());
            self.schedule(at, id);
            out.push(copy);
        }
        out
    }

    /// Deletes a message after its successful processing.
    pub fn delete(&mut self, message_id: &str) -> bool {
        let removed = self.messages.remove(message_id).is_some();
        if removed {
            self.changes.push(QueueChange::Remove {
                queue: self.spec.name.clone(),
                message_id: message_id.to_owned(),
            });
        }
        removed
    }

    /// Records why processing failed; the message stays invisible until its timeout runs out.
    pub fn fail(&mut self, message_id: &str, reason: &str) {
        if let Some(m) = self.messages.get_mut(message_id) {
            m.last_error = Some(reason.to_owned());
            self.changes.push(QueueChange::Upsert(m.clone()));
        }
    }

    /// Makes an in-flight message visible again now (a crashed consumer's lease is lost only
    /// when the timeout runs out; this is for tests and `trip dlq redrive`).
    pub fn make_visible(&mut self, message_id: &str, now: i64) {
        if let Some(m) = self.messages.get_mut(message_id) {
            m.visible_at = now;
            self.changes.push(QueueChange::Upsert(m.clone()));
            self.schedule(now, message_id.to_owned());
        }
    }

    /// Messages still in the queue (visible or in flight).
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    pub fn in_flight(&self, now: i64) -> usize {
        self.messages
            .values()
            .filter(|m| m.visible_at > now)
            .count()
    }

    /// When the next message becomes visible.
    pub fn next_visible_at(&self) -> Option<i64> {
        self.schedule
            .iter()
            .find(|(_, id)| self.messages.contains_key(*id))
            .map(|((at, _), _)| *at)
    }

    pub fn dead_letters(&self) -> impl Iterator<Item = &Message> {
        self.dead.values()
    }

    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        self.messages.values()
    }

    /// Moves every dead letter back into the queue with a fresh receive count.
    pub fn redrive(&mut self, now: i64) -> usize {
        let dead = std::mem::take(&mut self.dead);
        let n = dead.len();
        for (_, mut m) in dead {
            m.dead_lettered_at = None;
            m.dead_lettered_wall_at = None;
            m.receive_count = 0;
            m.visible_at = now;
            m.last_error = None;
            self.changes.push(QueueChange::Upsert(m.clone()));
            let id = m.message_id.clone();
            self.messages.insert(id.clone(), m);
            self.schedule(now, id);
        }
        n
    }

    /// Deletes every dead letter (PurgeQueue on the dead-letter queue).
    pub fn purge_dead_letters(&mut self) -> usize {
        let dead = std::mem::take(&mut self.dead);
        for m in dead.values() {
            self.changes.push(QueueChange::Remove {
                queue: self.spec.name.clone(),
                message_id: m.message_id.clone(),
            });
        }
        dead.len()
    }

    /// Changes since the last call, for the store.
    pub fn take_changes(&mut self) -> Vec<QueueChange> {
        std::mem::take(&mut self.changes)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(max_receive: u32) -> Queue {
        Queue::new(QueueSpec {
            name: "hotel".into(),
            consumer: "hotel".into(),
            description: String::new(),
            visibility_timeout_seconds: 30,
            max_receive_count: max_receive,
            batch_size: 10,
        })
    }

    #[test]
    fn a_received_message_is_invisible_until_its_timeout_then_comes_back() {
        let mut q = queue(5);
        q.send("m1".into(), "{}".into(), 0, 0);
        let got = q.receive(0, 10);
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].receive_count, 1);
        assert!(q.receive(29_999, 10).is_empty());
        let again = q.receive(30_000, 10);
        assert_eq!(again[0].receive_count, 2, "at least once: redelivered");
    }

    #[test]
    fn a_deleted_message_is_not_redelivered() {
        let mut q = queue(5);
        q.send("m1".into(), "{}".into(), 0, 0);
        q.receive(0, 10);
        assert!(q.delete("m1"));
        assert!(q.receive(60_000, 10).is_empty());
        assert!(q.is_empty());
    }

    #[test]
    fn after_max_receive_count_the_message_moves_to_the_dead_letter_queue_with_its_reason() {
        let mut q = queue(2);
        q.send("m1".into(), "{}".into(), 0, 0);
        q.receive(0, 1);
        q.fail("m1", "detail.tripId: missing field");
        q.receive(30_000, 1);
        assert!(
            q.receive(60_000, 1).is_empty(),
            "third receive goes to the DLQ"
        );
        let dead: Vec<_> = q.dead_letters().collect();
        assert_eq!(dead.len(), 1);
        assert_eq!(
            dead[0].last_error.as_deref(),
            Some("detail.tripId: missing field")
        );
        assert_eq!(q.redrive(70_000), 1);
        assert_eq!(q.receive(70_000, 1)[0].receive_count, 1);
    }

    #[test]
    fn batches_respect_the_maximum_and_arrival_order() {
        let mut q = queue(5);
        for i in 0..15 {
            q.send(format!("m{i:02}"), "{}".into(), i, 0);
        }
        let first = q.receive(100, 10);
        assert_eq!(first.len(), 10);
        assert_eq!(first[0].message_id, "m00");
        assert_eq!(q.receive(100, 10).len(), 5);
        assert_eq!(q.in_flight(100), 15);
        assert_eq!(q.next_visible_at(), Some(30_100));
    }

    #[test]
    fn changes_replay_into_an_identical_queue() {
        let mut q = queue(5);
        q.send("a".into(), "1".into(), 0, 0);
        q.send("b".into(), "2".into(), 0, 0);
        q.receive(0, 1);
        q.delete("b");
        let mut state: HashMap<String, Message> = HashMap::new();
        for c in q.take_changes() {
            match c {
                QueueChange::Insert(m) | QueueChange::Upsert(m) => {
                    state.insert(m.message_id.clone(), m);
                }
                QueueChange::Remove { message_id, .. } => {
                    state.remove(&message_id);
                }
            }
        }
        let mut restored = queue(5);
        for m in state.into_values() {
            restored.restore(m);
        }
        assert_eq!(restored.len(), 1);
        assert_eq!(restored.receive(30_000, 10)[0].message_id, "a");
    }
}
