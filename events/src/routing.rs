//! The routing table: which events reach which consumer. One JSON file (`events/routing.json`),
//! read here and by the CDK app, so what runs locally is what deploys.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The routing table as checked in.
pub const ROUTING_JSON: &str = include_str!("../routing.json");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RoutingTable {
    pub event_bus_name: String,
    pub queues: Vec<QueueSpec>,
    pub rules: Vec<Rule>,
}

/// A queue between a rule and its consumer, as Lambda's SQS event source uses it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueSpec {
    pub name: String,
    /// The function that consumes it: `hotel`, `flight`, `car` or `bridge`.
    pub consumer: String,
    pub description: String,
    pub visibility_timeout_seconds: u32,
    /// Receives before a message moves to the queue's dead-letter queue.
    pub max_receive_count: u32,
    pub batch_size: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Rule {
    pub name: String,
    pub description: String,
    /// An EventBridge event pattern.
    pub event_pattern: Value,
    pub target: Target,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Target {
    /// One of the table's queues.
    Queue { name: String },
    /// A log of every matching event (CloudWatch Logs on AWS, the event log locally).
    Log { name: String },
}

#[derive(Debug, thiserror::Error)]
pub enum RoutingError {
    #[error("routing table is not valid: {0}")]
    Parse(#[from] serde_json::Error),
    #[error("rule {rule:?} targets queue {queue:?}, which the table does not define")]
    UnknownQueue { rule: String, queue: String },
    #[error("{what} {name:?} is defined twice")]
    Duplicate { what: &'static str, name: String },
    #[error("queue {0:?} has no rule that targets it")]
    Unreachable(String),
    #[error("queue {queue:?}: {reason}")]
    BadQueue { queue: String, reason: String },
}

impl RoutingTable {
    /// The checked-in table.
    pub fn load() -> Result<Self, RoutingError> {
        Self::from_json(ROUTING_JSON)
    }

    /// Parses and checks a table: every target exists, names are unique, every queue is fed.
    pub fn from_json(json: &str) -> Result<Self, RoutingError> {
        let table: RoutingTable = serde_json::from_str(json)?;
        table.check()?;
        Ok(table)
    }

    fn check(&self) -> Result<(), RoutingError> {
        let mut seen = std::collections::BTreeSet::new();
        for q in &self.queues {
            if !seen.insert(("queue", q.name.as_str())) {
                return Err(RoutingError::Duplicate {
                    what: "queue",
                    name: q.name.clone(),
                });
            }
            // Lambda's SQS event source: batch 1..=10 for standard queues without a batching
            // window; SQS: maxReceiveCount 1..=1000, visibility timeout at most 12 hours.
            let bad = |reason: &str| RoutingError::BadQueue {
                queue: q.name.clone(),
                reason: reason.to_owned(),
            };
            if !(1..=10).contains(&q.batch_size) {
                return Err(bad("batchSize must be 1 to 10"));
            }
            if !(1..=1000).contains(&q.max_receive_count) {
                return Err(bad("maxReceiveCount must be 1 to 1000"));
            }
            if q.visibility_timeout_seconds > 43_200 {
                return Err(bad("visibilityTimeoutSeconds must be at most 43200"));
            }
        }
        for r in &self.rules {
            if !seen.insert(("rule", r.name.as_str())) {
                return Err(RoutingError::Duplicate {
                    what: "rule",
                    name: r.name.clone(),
                });
            }
            if let Target::Queue { name } = &r.target
                && self.queue(name).is_none()
            {
                return Err(RoutingError::UnknownQueue {
                    rule: r.name.clone(),
                    queue: name.clone(),
                });
            }
        }
        for q in &self.queues {
            let fed = self
                .rules
                .iter()
                .any(|r| matches!(&r.target, Target::Queue { name } if *name == q.name));
            if !fed {
                return Err(RoutingError::Unreachable(q.name.clone()));
            }
        }
        Ok(())
    }

    pub fn queue(&self, name: &str) -> Option<&QueueSpec> {
        self.queues.iter().find(|q| q.name == name)
    }

    pub fn rule(&self, name: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_checked_in_table_loads_and_feeds_every_consumer() {
        let t = RoutingTable::load().unwrap();
        let consumers: Vec<_> = t.queues.iter().map(|q| q.consumer.as_str()).collect();
        assert_eq!(consumers, ["hotel", "flight", "car", "bridge"]);
        assert!(
            t.rules
                .iter()
                .any(|r| matches!(r.target, Target::Log { .. }))
        );
    }

    #[test]
    fn a_rule_to_an_unknown_queue_is_refused() {
        let mut v: Value = serde_json::from_str(ROUTING_JSON).unwrap();
        v["rules"][0]["target"]["name"] = "nowhere".into();
        let err = RoutingTable::from_json(&v.to_string()).unwrap_err();
        assert!(matches!(err, RoutingError::UnknownQueue { .. }), "{err}");
    }

    #[test]
    fn a_queue_nobody_feeds_is_refused() {
        let mut v: Value = serde_json::from_str(ROUTING_JSON).unwrap();
        v["rules"].as_array_mut().unwrap().remove(0);
        let err = RoutingTable::from_json(&v.to_string()).unwrap_err();
        assert!(
            matches!(err, RoutingError::Unreachable(ref q) if q == "hotel"),
            "{err}"
        );
    }
}
