//! The EventBridge envelope (what a rule's target receives) and the PutEvents entry (what a
//! publisher sends), in the exact JSON shapes AWS uses.

use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{DecodeError, TripEvent};

/// EventBridge refuses a PutEvents entry larger than this (256 KB, as AWS counts it).
pub const MAX_ENTRY_BYTES: usize = 256 * 1024;

/// One entry of `PutEvents`, in the AWS CLI's `--entries` JSON shape (`Detail` is a string).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
pub struct PutEventsEntry {
    pub source: String,
    pub detail_type: String,
    /// The detail, as a JSON string.
    pub detail: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_bus_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<String>,
}

impl PutEventsEntry {
    /// The entry that publishes `event` on `bus`.
    pub fn for_event(event: &TripEvent, bus: &str) -> Self {
        PutEventsEntry {
            source: event.source().to_owned(),
            detail_type: event.detail_type().as_str().to_owned(),
            detail: event.detail().to_string(),
            event_bus_name: Some(bus.to_owned()),
            time: None,
            resources: Vec::new(),
            trace_header: None,
        }
    }

    /// The detail parsed as JSON.
    pub fn detail_json(&self) -> Result<Value, EnvelopeError> {
        serde_json::from_str(&self.detail).map_err(|e| EnvelopeError::DetailNotJson(e.to_string()))
    }

    /// Size as EventBridge counts it against [`MAX_ENTRY_BYTES`].
    pub fn size(&self) -> usize {
        entry_size(
            &self.source,
            &self.detail_type,
            &self.detail,
            &self.resources,
            self.time.is_some(),
        )
    }

    /// Decodes the detail into the saga's types.
    pub fn decode(&self) -> Result<TripEvent, EnvelopeError> {
        Ok(TripEvent::decode(&self.detail_type, &self.detail_json()?)?)
    }
}

/// "Calculating PutEvents event entry size": UTF-8 bytes of Source, DetailType, Detail and each
/// resource, plus 14 bytes when Time is set.
pub fn entry_size(
    source: &str,
    detail_type: &str,
    detail: &str,
    resources: &[String],
    has_time: bool,
) -> usize {
    source.len()
        + detail_type.len()
        + detail.len()
        + resources.iter().map(String::len).sum::<usize>()
        + if has_time { 14 } else { 0 }
}

/// An event as a rule target receives it (and as SQS carries it in a message body).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventEnvelope {
    pub version: String,
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    #[serde(default)]
    pub account: String,
    pub time: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub resources: Vec<String>,
    pub detail: Value,
    /// Set by EventBridge on an event sent again by an archive replay: the replay's name
    /// ("EventBridge adds a replay-name field to replayed events", Amazon EventBridge User Guide,
    /// "Replaying archived events"). The bridge never lets such an event start, reject or change
    /// a saga that exists.
    #[serde(
        rename = "replay-name",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub replay_name: Option<String>,
}

impl EventEnvelope {
    /// Wraps an entry the way EventBridge delivers it.
    pub fn from_entry(
        entry: &PutEventsEntry,
        id: impl Into<String>,
        now: DateTime<Utc>,
        account: &str,
        region: &str,
    ) -> Result<Self, EnvelopeError> {
        let time = match &entry.time {
            Some(t) => t.clone(),
            None => now.to_rfc3339_opts(SecondsFormat::Secs, true),
        };
        Ok(EventEnvelope {
            version: "0".to_owned(),
            id: id.into(),
            detail_type: entry.detail_type.clone(),
            source: entry.source.clone(),
            account: account.to_owned(),
            time,
            region: region.to_owned(),
            resources: entry.resources.clone(),
            detail: entry.detail_json()?,
            replay_name: None,
        })
    }

    /// Decodes the detail into the saga's types.
    pub fn decode(&self) -> Result<TripEvent, DecodeError> {
        TripEvent::decode(&self.detail_type, &self.detail)
    }

    /// The `tripId` of the detail, if it has a readable one (also for undecodable details).
    pub fn trip_id(&self) -> Option<&str> {
        self.detail.get("tripId").and_then(Value::as_str)
    }
}

/// Problems with entries and envelopes.
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    #[error("Detail is not valid JSON: {0}")]
    DetailNotJson(String),
    #[error(transparent)]
    Decode(#[from] DecodeError),
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}:{column}: {message}")]
    EntriesFile {
        path: PathBuf,
        line: usize,
        column: usize,
        message: String,
    },
}

/// Reads a `put-events --entries` file (a JSON array of entries). Accepts `file://` paths like
/// the AWS CLI. Errors name the file, line and column.
pub fn read_entries_file(path: &str) -> Result<Vec<PutEventsEntry>, EnvelopeError> {
    let path = Path::new(path.strip_prefix("file://").unwrap_or(path));
    let text = std::fs::read_to_string(path).map_err(|source| EnvelopeError::Io {
        path: path.to_owned(),
        source,
    })?;
    let mut de = serde_json::Deserializer::from_str(&text);
    let parsed: Result<Vec<PutEventsEntry>, _> = serde_path_to_error::deserialize(&mut de);
    parsed.map_err(|e| {
        let at = e.path().to_string();
        let inner = e.into_inner();
        EnvelopeError::EntriesFile {
            path: path.to_owned(),
            line: inner.line(),
            column: inner.column(),
            message: if at == "." {
                inner.to_string()
            } else {
                format!("at {at}: {inner}")
            },
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_size_counts_like_eventbridge() {
        let e = PutEventsEntry {
            source: "trip.client".into(),
            detail_type: "TripBookingRequested".into(),
            detail: "{}".into(),
            event_bus_name: Some("bus".into()),
            time: Some("2030-01-01T00:00:00Z".into()),
            resources: vec!["arn:x".into()],
            trace_header: None,
        };
        assert_eq!(e.size(), 11 + 20 + 2 + 5 + 14);
    }

    #[test]
    fn entries_file_errors_name_file_line_and_column() {
        let dir = std::env::temp_dir().join(format!("trip-events-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let f = dir.join("bad.json");
        std::fs::write(
            &f,
            "[\n  {\"Source\": \"trip.client\", \"DetailType\": 3}\n]",
        )
        .unwrap();
        let err = read_entries_file(&format!("file://{}", f.display())).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("bad.json:2:"), "{msg}");
        assert!(msg.contains("DetailType"), "{msg}");
    }
}
