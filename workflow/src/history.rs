//! Execution history events, shaped like Step Functions' `GetExecutionHistory` output.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// One history event. `details_key` is the AWS field holding `details`
/// (e.g. `taskScheduledEventDetails`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEvent {
    pub id: u64,
    pub previous_event_id: u64,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: i64,
    #[serde(rename = "type")]
    pub event_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details_key: Option<String>,
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub details: Value,
}

/// RFC 3339 with milliseconds, UTC (the AWS CLI's rendering of timestamps).
pub fn format_timestamp(ms: i64) -> String {
    match chrono::DateTime::<chrono::Utc>::from_timestamp_millis(ms) {
        Some(t) => t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        None => ms.to_string(),
    }
}

impl HistoryEvent {
    /// The event as GetExecutionHistory renders it.
    pub fn to_aws_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            "timestamp".into(),
            format_timestamp(self.timestamp_ms).into(),
        );
        m.insert("type".into(), self.event_type.clone().into());
        m.insert("id".into(), self.id.into());
        m.insert("previousEventId".into(), self.previous_event_id.into());
        if let Some(k) = &self.details_key {
            m.insert(k.clone(), self.details.clone());
        }
        Value::Object(m)
    }
}

/// `{"events": [...]}` as GetExecutionHistory returns it.
pub fn history_json(events: &[HistoryEvent]) -> Value {
    json!({ "events": events.iter().map(HistoryEvent::to_aws_json).collect::<Vec<_>>() })
}

/// The `{"truncated": false}` blocks AWS puts beside inputs and outputs.
pub(crate) fn not_truncated() -> Value {
    json!({ "truncated": false })
}

/// Splits a resource ARN into AWS's `resourceType` and `resource` history fields:
/// `arn:aws:states:::events:putEvents.waitForTaskToken` -> (`events`, `putEvents.waitForTaskToken`).
pub(crate) fn resource_parts(resource: &str) -> (String, String) {
    if let Some(rest) = resource.strip_prefix("arn:aws:states:::")
        && let Some((ty, r)) = rest.split_once(':')
    {
        return (ty.to_string(), r.to_string());
    }
    let parts: Vec<&str> = resource.split(':').collect();
    match (parts.get(2), parts.get(5), parts.get(6)) {
        (Some(svc), Some(kind), Some(name)) => (svc.to_string(), format!("{kind}:{name}")),
        _ => ("unknown".to_string(), resource.to_string()),
    }
}
