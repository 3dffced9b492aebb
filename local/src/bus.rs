//! The event bus: PutEvents with EventBridge's entry checks, and rules from the routing table.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use trip_events::routing::{RoutingTable, Target};
use trip_events::{EventEnvelope, MAX_ENTRY_BYTES, PutEventsEntry};

use crate::pattern::{EventPattern, PatternError};

/// The account and region the embedded runtime pretends to be, so envelopes look like AWS's.
pub const LOCAL_ACCOUNT: &str = "000000000000";
pub const LOCAL_REGION: &str = "local";

/// A rule, compiled.
pub struct Rule {
    pub name: String,
    pub pattern: EventPattern,
    pub target: Target,
}

pub struct Bus {
    pub name: String,
    pub rules: Vec<Rule>,
}

#[derive(Debug, thiserror::Error)]
pub enum BusError {
    #[error("rule {rule}: {source}")]
    Pattern { rule: String, source: PatternError },
}

/// One entry of a PutEvents answer, in the AWS shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsResultEntry {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// The whole PutEvents answer.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutEventsOutput {
    pub failed_entry_count: usize,
    pub entries: Vec<PutEventsResultEntry>,
}

impl PutEventsResultEntry {
    pub fn ok(id: String) -> Self {
        PutEventsResultEntry {
            event_id: Some(id),
            error_code: None,
            error_message: None,
        }
    }

    pub fn failed(code: &str, message: impl Into<String>) -> Self {
        PutEventsResultEntry {
            event_id: None,
            error_code: Some(code.to_owned()),
            error_message: Some(message.into()),
        }
    }
}

impl Bus {
    pub fn from_routing(table: &RoutingTable) -> Result<Self, BusError> {
        let rules = table
            .rules
            .iter()
            .map(|r| {
                Ok(Rule {
                    name: r.name.clone(),
                    pattern: EventPattern::parse(&r.event_pattern).map_err(|source| {
                        BusError::Pattern {
                            rule: r.name.clone(),
                            source,
                        }
                    })?,
                    target: r.target.clone(),
                })
            })
            .collect::<Result<Vec<_>, BusError>>()?;
        Ok(Bus {
            name: table.event_bus_name.clone(),
            rules,
        })
    }

    /// Checks an entry the way EventBridge does before accepting it, and wraps it in the
    /// envelope every target will see. `Err` is the entry's (ErrorCode, ErrorMessage).
    pub fn accept(
        &self,
        entry: &PutEventsEntry,
        id: String,
        now: DateTime<Utc>,
    ) -> Result<EventEnvelope, (&'static str, String)> {
        if let Some(bus) = &entry.event_bus_name {
            // A bus may be named by name or ARN.
            let name = bus.rsplit('/').next().unwrap_or(bus);
            if name != self.name {
                return Err((
                    "InvalidArgument",
                    format!(
                        "Event bus {bus} does not exist (the local bus is {}).",
                        self.name
                    ),
                ));
            }
        }
        if entry.source.is_empty() || entry.source.len() > 256 {
            return Err(("InvalidArgument", "Parameter Source is not valid.".into()));
        }
        if entry.source.starts_with("aws.") {
            return Err((
                "NotAuthorizedForSourceException",
                "Not authorized for the source.".into(),
            ));
        }
        if entry.detail_type.is_empty() || entry.detail_type.len() > 128 {
            return Err((
                "InvalidArgument",
                "Parameter DetailType is not valid.".into(),
            ));
        }
        if entry.size() > MAX_ENTRY_BYTES {
            return Err((
                "InvalidArgument",
                format!(
                    "Total size of the entries in the request is over the limit ({} > {MAX_ENTRY_BYTES} bytes).",
                    entry.size()
                ),
            ));
        }
        match serde_json::from_str::<Value>(&entry.detail) {
            Ok(Value::Object(_)) => {}
            _ => return Err(("MalformedDetail", "Detail is malformed.".into())),
        }
        if let Some(t) = &entry.time
            && DateTime::parse_from_rfc3339(t).is_err()
        {
            return Err(("InvalidArgument", "Parameter Time is not valid.".into()));
        }
        EventEnvelope::from_entry(entry, id, now, LOCAL_ACCOUNT, LOCAL_REGION)
            .map_err(|e| ("MalformedDetail", e.to_string()))
    }

    /// The rules an event matches, in table order.
    pub fn route<'a>(&'a self, event: &'a Value) -> impl Iterator<Item = &'a Rule> + 'a {
        self.rules.iter().filter(move |r| r.pattern.matches(event))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn bus() -> Bus {
        Bus::from_routing(&RoutingTable::load().unwrap()).unwrap()
    }

    fn entry(source: &str, dt: &str, detail: &str) -> PutEventsEntry {
        PutEventsEntry {
            source: source.into(),
            detail_type: dt.into(),
            detail: detail.into(),
            event_bus_name: Some("trip-saga".into()),
            time: None,
            resources: vec![],
            trace_header: None,
        }
    }

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
    }

    fn routed(b: &Bus, e: &PutEventsEntry) -> Vec<String> {
        let env = b.accept(e, "id".into(), now()).unwrap();
        let v = serde_json::to_value(env).unwrap();
        b.route(&v).map(|r| r.name.clone()).collect()
    }

    #[test]
    fn the_routing_table_sends_each_event_to_its_consumer_and_the_log() {
        let b = bus();
        assert_eq!(
            routed(&b, &entry("trip.saga", "HotelBookingRequested", "{}")),
            ["hotel-commands", "catch-all-log"]
        );
        assert_eq!(
            routed(&b, &entry("trip.client", "TripBookingRequested", "{}")),
            ["saga-bridge", "catch-all-log"]
        );
        assert_eq!(
            routed(&b, &entry("trip.car", "CarCancelled", "{}")),
            ["saga-bridge", "catch-all-log"]
        );
        // a forged outcome from the wrong source reaches nobody but the log
        assert_eq!(
            routed(&b, &entry("trip.client", "HotelBooked", "{}")),
            ["catch-all-log"]
        );
        assert!(routed(&b, &entry("other.app", "HotelBooked", "{}")).is_empty());
    }

    /// PutEventsRequestEntry.Resources: "AWS resources, identified by Amazon Resource Name
    /// (ARN), which the event primarily concerns. Any number, including zero, may be present."
    /// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEventsRequestEntry.html)
    #[test]
    fn an_entry_without_resources_is_accepted_and_delivered_with_an_empty_list() {
        let b = bus();
        let e = entry("trip.client", "TripBookingRequested", "{}");
        assert!(e.resources.is_empty());
        let envelope = b.accept(&e, "id".into(), now()).expect("accepted");
        let value = serde_json::to_value(&envelope).unwrap();
        assert_eq!(value["resources"], serde_json::json!([]));
        assert_eq!(
            b.route(&value).map(|r| r.name.as_str()).collect::<Vec<_>>(),
            ["saga-bridge", "catch-all-log"]
        );
    }

    #[test]
    fn malformed_entries_are_refused_with_aws_error_codes() {
        let b = bus();
        let cases = [
            (entry("trip.client", "X", "not json"), "MalformedDetail"),
            (entry("trip.client", "X", "[1,2]"), "MalformedDetail"),
            (entry("", "X", "{}"), "InvalidArgument"),
            (
                entry("aws.s3", "X", "{}"),
                "NotAuthorizedForSourceException",
            ),
            (
                entry(
                    "trip.client",
                    "X",
                    &format!("{{\"a\":\"{}\"}}", "x".repeat(MAX_ENTRY_BYTES)),
                ),
                "InvalidArgument",
            ),
        ];
        for (e, code) in cases {
            let err = b.accept(&e, "id".into(), now()).unwrap_err();
            assert_eq!(err.0, code, "{}", err.1);
        }
        let mut wrong_bus = entry("trip.client", "X", "{}");
        wrong_bus.event_bus_name = Some("default".into());
        assert_eq!(
            b.accept(&wrong_bus, "i".into(), now()).unwrap_err().0,
            "InvalidArgument"
        );
    }
}
