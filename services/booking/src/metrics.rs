//! CloudWatch Embedded Metric Format: a metric is one JSON line on stdout, which CloudWatch
//! Logs turns into a metric. Namespace `TripSaga`.
//!
//! The lines go to a process-wide sink: nothing by default (tests, embedded runtime), stdout in
//! Lambda ([`use_stdout`]).

use std::sync::{Arc, RwLock};

use serde_json::{Map, Value, json};

pub const NAMESPACE: &str = "TripSaga";

pub const BOOKINGS_SUCCEEDED: &str = "BookingsSucceeded";
pub const BOOKINGS_FAILED: &str = "BookingsFailed";
pub const COMPENSATIONS: &str = "Compensations";
pub const STALE_CALLBACKS: &str = "StaleCallbacks";
pub const HANDLER_DURATION: &str = "HandlerDuration";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    Count,
    Milliseconds,
}

impl Unit {
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Count => "Count",
            Unit::Milliseconds => "Milliseconds",
        }
    }
}

/// One EMF document: the metrics share one dimension set.
pub fn emf_line(
    timestamp_ms: i64,
    dimensions: &[(&str, &str)],
    metrics: &[(&str, Unit, f64)],
) -> String {
    let mut doc = Map::new();
    doc.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": NAMESPACE,
                "Dimensions": [dimensions.iter().map(|(k, _)| *k).collect::<Vec<_>>()],
                "Metrics": metrics
                    .iter()
                    .map(|(name, unit, _)| json!({"Name": name, "Unit": unit.as_str()}))
                    .collect::<Vec<_>>(),
            }]
        }),
    );
    for (k, v) in dimensions {
        doc.insert((*k).into(), Value::String((*v).into()));
    }
    for (name, _, value) in metrics {
        doc.insert((*name).into(), json!(value));
    }
    Value::Object(doc).to_string()
}

type Sink = Arc<dyn Fn(&str) + Send + Sync>;

static SINK: RwLock<Option<Sink>> = RwLock::new(None);

/// Sends every metric line to `sink`.
pub fn set_sink(sink: impl Fn(&str) + Send + Sync + 'static) {
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(sink));
}

/// Prints metric lines on stdout, where the Lambda agent picks them up.
pub fn use_stdout() {
    set_sink(|line| println!("{line}"));
}

fn emit(dimensions: &[(&str, &str)], metrics: &[(&str, Unit, f64)]) {
    let sink = SINK.read().unwrap_or_else(|e| e.into_inner()).clone();
    if let Some(sink) = sink {
        sink(&emf_line(
            chrono::Utc::now().timestamp_millis(),
            dimensions,
            metrics,
        ));
    }
}

pub fn booking_succeeded(service: &str) {
    emit(
        &[("Service", service)],
        &[(BOOKINGS_SUCCEEDED, Unit::Count, 1.0)],
    );
}

pub fn booking_failed(service: &str, reason: &str) {
    emit(
        &[("Service", service), ("Reason", reason)],
        &[(BOOKINGS_FAILED, Unit::Count, 1.0)],
    );
}

pub fn compensation(service: &str) {
    emit(
        &[("Service", service)],
        &[(COMPENSATIONS, Unit::Count, 1.0)],
    );
}

pub fn stale_callback(service: &str) {
    emit(
        &[("Service", service)],
        &[(STALE_CALLBACKS, Unit::Count, 1.0)],
    );
}

pub fn handler_duration(function: &str, millis: f64) {
    emit(
        &[("Function", function)],
        &[(HANDLER_DURATION, Unit::Milliseconds, millis)],
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_emf_line_has_the_exact_cloudwatch_shape() {
        // given a failed booking metric with two dimensions
        // when it is written
        let line = emf_line(
            1_700_000_000_000,
            &[("Service", "hotel"), ("Reason", "SOLD_OUT")],
            &[(BOOKINGS_FAILED, Unit::Count, 1.0)],
        );
        // then it is exactly the EMF document CloudWatch expects, on one line
        assert_eq!(
            line,
            r#"{"_aws":{"Timestamp":1700000000000,"CloudWatchMetrics":[{"Namespace":"TripSaga","Dimensions":[["Service","Reason"]],"Metrics":[{"Name":"BookingsFailed","Unit":"Count"}]}]},"Service":"hotel","Reason":"SOLD_OUT","BookingsFailed":1.0}"#
        );
    }

    #[test]
    fn durations_are_in_milliseconds() {
        let line = emf_line(
            5,
            &[("Function", "bridge")],
            &[(HANDLER_DURATION, Unit::Milliseconds, 12.5)],
        );
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(
            v["_aws"]["CloudWatchMetrics"][0]["Metrics"][0]["Unit"],
            "Milliseconds"
        );
        assert_eq!(v["HandlerDuration"], 12.5);
        assert_eq!(v["Function"], "bridge");
        assert!(!line.contains('\n'));
    }
}
