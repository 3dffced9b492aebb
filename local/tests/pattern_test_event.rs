//! `test_event_pattern`, the local `aws events test-event-pattern`.

use trip_local::pattern::{PatternError, REQUIRED_TEST_EVENT_FIELDS, test_event_pattern};

const EVENT: &str = include_str!("fixtures/patterns/ec2-terminated.json");

#[test]
fn documented_pattern_matches_documented_event() {
    let pattern = r#"{"source": ["aws.ec2"], "detail": {"state": ["terminated"]}}"#;
    assert_eq!(test_event_pattern(pattern, EVENT), Ok(true));
    let pattern = r#"{"source": ["aws.ec2"], "detail": {"state": ["running"]}}"#;
    assert_eq!(test_event_pattern(pattern, EVENT), Ok(false));
}

#[test]
fn every_required_envelope_field_is_checked() {
    for field in REQUIRED_TEST_EVENT_FIELDS {
        let mut event: serde_json::Value = serde_json::from_str(EVENT).expect("fixture");
        event.as_object_mut().expect("object").remove(field);
        let result = test_event_pattern(r#"{"source": ["aws.ec2"]}"#, &event.to_string());
        let Err(error) = result else {
            panic!("missing {field} should be refused, got {result:?}");
        };
        assert_eq!(error.aws_error_code(), "ValidationException");
        assert_eq!(error.to_string(), "Parameter Event is not valid.");
        assert_eq!(
            error,
            PatternError::InvalidEvent {
                reason: format!("missing required field \"{field}\"")
            }
        );
    }
}

#[test]
fn envelope_field_types_are_checked() {
    let mut event: serde_json::Value = serde_json::from_str(EVENT).expect("fixture");
    event["resources"] = serde_json::json!("arn");
    let result = test_event_pattern(r#"{"source": ["aws.ec2"]}"#, &event.to_string());
    assert!(matches!(result, Err(PatternError::InvalidEvent { .. })));
    let mut event: serde_json::Value = serde_json::from_str(EVENT).expect("fixture");
    event["source"] = serde_json::json!(7);
    let result = test_event_pattern(r#"{"source": ["aws.ec2"]}"#, &event.to_string());
    assert!(matches!(result, Err(PatternError::InvalidEvent { .. })));
}

#[test]
fn event_must_be_a_json_object() {
    for event in ["[]", "not json", "42"] {
        let result = test_event_pattern(r#"{"source": ["aws.ec2"]}"#, event);
        assert!(
            matches!(result, Err(PatternError::InvalidEvent { .. })),
            "{event}"
        );
    }
}

#[test]
fn a_bad_pattern_is_reported_before_the_event() {
    let result = test_event_pattern(r#"{"source": "aws.ec2"}"#, "[]");
    assert!(matches!(result, Err(PatternError::Invalid { .. })));
    let message = result.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(
        message.starts_with("invalid event pattern at source:"),
        "{message}"
    );
}

#[test]
fn detail_is_not_required() {
    let mut event: serde_json::Value = serde_json::from_str(EVENT).expect("fixture");
    event.as_object_mut().expect("object").remove("detail");
    assert_eq!(
        test_event_pattern(
            r#"{"detail": {"state": [{"exists": false}]}}"#,
            &event.to_string()
        ),
        Ok(true)
    );
}
