//! Where the local matcher used to differ from what EventBridge does, each case with the AWS
//! page (or the event-ruler source EventBridge runs) that says so.

use std::str::FromStr;

use serde_json::{Value, json};
use trip_local::pattern::{EventPattern, PatternError, test_event_pattern};

const EC2_EVENT: &str = include_str!("fixtures/patterns/ec2-terminated.json");

fn ec2() -> Value {
    serde_json::from_str(EC2_EVENT).expect("fixture")
}

fn test(pattern: Value, event: &Value) -> Result<bool, PatternError> {
    test_event_pattern(&pattern.to_string(), &event.to_string())
}

fn matches(pattern: Value, event: &Value) -> bool {
    EventPattern::parse(&pattern)
        .unwrap_or_else(|e| panic!("{pattern} should compile: {e}"))
        .matches(event)
}

mod resources_are_optional {
    use super::*;

    /// https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html
    /// lists `resources` among the mandatory fields of `Event`, but the service accepts an
    /// event without it; https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html
    /// ("Minimum information needed for a valid custom event") names only `detail`,
    /// `detail-type` and `source` as needed for a custom event. The documented pattern
    /// examples (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html)
    /// are tested against events without `resources`.
    #[test]
    fn an_event_without_resources_is_tested() {
        let mut event = ec2();
        event.as_object_mut().expect("object").remove("resources");
        assert_eq!(
            test(
                json!({"source": ["aws.ec2"], "detail": {"state": ["terminated"]}}),
                &event
            ),
            Ok(true)
        );
        // and a pattern on resources then simply does not match
        assert_eq!(
            test(json!({"resources": [{"prefix": "arn:"}]}), &event),
            Ok(false)
        );
        assert_eq!(
            test(json!({"resources": [{"exists": false}]}), &event),
            Ok(true)
        );
    }
}

mod invalid_events {
    use super::*;

    /// TestEventPattern answers a refused event with `ValidationException` and the message
    /// "Parameter Event is not valid." (the errors common to all actions,
    /// https://docs.aws.amazon.com/eventbridge/latest/APIReference/CommonErrors.html:
    /// "ValidationException: The input fails to satisfy the constraints specified by an AWS
    /// service"); `InvalidEventPatternException` is for the pattern only
    /// (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_TestEventPattern.html).
    #[test]
    fn not_an_object_an_array_or_missing_fields_is_a_validation_exception() {
        let mut no_id = ec2();
        no_id.as_object_mut().expect("object").remove("id");
        for event in [
            "[]",
            "[1, 2]",
            "\"text\"",
            "42",
            "null",
            "not json",
            &no_id.to_string(),
        ] {
            let error = test_event_pattern(r#"{"source": ["aws.ec2"]}"#, event)
                .expect_err("the event should be refused");
            assert_eq!(error.aws_error_code(), "ValidationException", "{event}");
            assert_eq!(
                error.to_string(),
                "Parameter Event is not valid.",
                "{event}"
            );
        }
    }

    #[test]
    fn a_bad_pattern_is_still_an_invalid_event_pattern() {
        let error = test_event_pattern(r#"{"source": "aws.ec2"}"#, EC2_EVENT)
            .expect_err("the pattern should be refused");
        assert_eq!(error.aws_error_code(), "InvalidEventPatternException");
    }
}

mod envelope_arrays {
    use super::*;

    /// An event value that is an array matches "if the intersection of the event pattern
    /// array and the event array is non-empty"
    /// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns-arrays.html);
    /// TestEventPattern applies this to envelope fields too, such as `detail-type` given as
    /// an array.
    #[test]
    fn detail_type_as_an_array_is_accepted_and_matched_by_element() {
        let mut event = ec2();
        event["detail-type"] = json!(["Something Else", "EC2 Instance State-change Notification"]);
        assert_eq!(
            test(
                json!({"detail-type": ["EC2 Instance State-change Notification"]}),
                &event
            ),
            Ok(true)
        );
        assert_eq!(test(json!({"detail-type": ["Other"]}), &event), Ok(false));
        event["source"] = json!(["aws.ec2"]);
        assert_eq!(
            test(json!({"source": [{"prefix": "aws."}]}), &event),
            Ok(true)
        );
    }

    #[test]
    fn an_envelope_field_that_is_an_object_or_number_is_refused() {
        for bad in [json!({"a": 1}), json!(7)] {
            let mut event = ec2();
            event["source"] = bad.clone();
            let error = test(json!({"source": ["aws.ec2"]}), &event).expect_err("refused");
            assert_eq!(error.aws_error_code(), "ValidationException", "{bad}");
        }
    }
}

mod dotted_keys {
    use super::*;

    /// event-ruler (the matcher EventBridge runs, https://github.com/aws/event-ruler, README
    /// "Caveat: Compiled rules and JSON keys with dots"): "it uses dot (.) as the joining
    /// character ... it will compile the following two rules to the same internal
    /// representation" - `{"detail": {"state": {"status": ["running"]}}}` and
    /// `{"detail": {"state.status": ["running"]}}` - "these rules will match against
    /// following two events": `{"detail": {"state": {"status": "running"}}}` and
    /// `{"detail": {"state.status": "running"}}`.
    #[test]
    fn both_spellings_of_a_path_match_each_other() {
        let nested_event = json!({"detail": {"state": {"status": "running"}}});
        let dotted_event = json!({"detail": {"state.status": "running"}});
        let nested_pattern = json!({"detail": {"state": {"status": ["running"]}}});
        let dotted_pattern = json!({"detail": {"state.status": ["running"]}});
        for event in [&nested_event, &dotted_event] {
            assert!(matches(nested_pattern.clone(), event), "{event}");
            assert!(matches(dotted_pattern.clone(), event), "{event}");
            assert!(!matches(
                json!({"detail": {"state.status": ["stopped"]}}),
                event
            ));
        }
        // a dotted top-level key reaches into the detail
        assert!(matches(
            json!({"detail.state.status": ["running"]}),
            &nested_event
        ));
    }

    #[test]
    fn dotted_and_nested_fields_in_one_pattern_must_both_match() {
        let event = json!({"detail": {"state": {"status": "running", "code": 16}}});
        assert!(matches(
            json!({"detail": {"state.status": ["running"], "state": {"code": [16]}}}),
            &event
        ));
        assert!(!matches(
            json!({"detail": {"state.status": ["running"], "state": {"code": [48]}}}),
            &event
        ));
    }

    #[test]
    fn exists_false_sees_a_dotted_event_key() {
        let event = json!({"detail": {"state.status": "running"}});
        assert!(!matches(
            json!({"detail": {"state": {"status": [{"exists": false}]}}}),
            &event
        ));
        assert!(matches(
            json!({"detail": {"state": {"code": [{"exists": false}]}}}),
            &event
        ));
    }
}

mod wildcard_complexity {
    use super::*;

    const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character";

    fn refused_as_too_complex(pattern: Value) -> bool {
        match EventPattern::parse(&pattern) {
            Err(PatternError::Invalid { reason, .. }) => reason == TOO_COMPLEX,
            _ => false,
        }
    }

    /// https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html
    /// ("Wildcards and event pattern complexity"): "If a rule is too complex, EventBridge
    /// returns an InvalidEventPatternException when attempting to create the rule". The
    /// message is AWS's as users report it ("Event pattern is not valid. Reason: Rule is too
    /// complex - try using fewer wildcard characters or fewer repeating character sequences
    /// after a wildcard character").
    #[test]
    fn many_wildcards_with_repeating_separators_are_refused() {
        assert!(refused_as_too_complex(
            json!({"resources": [{"wildcard": "*:*:*:*:*:event-bus/*"}]})
        ));
        let error = EventPattern::from_str(
            r#"{"detail": {"arn": [{"wildcard": "*:*:*:*:*:event-bus/*"}]}}"#,
        )
        .expect_err("too complex");
        assert_eq!(error.aws_error_code(), "InvalidEventPatternException");
        assert_eq!(
            error.to_string(),
            format!("invalid event pattern at detail.arn: {TOO_COMPLEX}")
        );
    }

    /// The documented wildcard examples are accepted
    /// (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html#eb-filtering-wildcard-matching).
    #[test]
    fn documented_wildcards_are_accepted() {
        for wildcard in [
            "arn:aws:events:us-east-1:*:event-bus/*",
            "dir/*.png",
            "*/lib/*",
            "Simple*Service",
        ] {
            assert!(
                EventPattern::parse(&json!({"detail": {"f": [{"wildcard": wildcard}]}})).is_ok(),
                "{wildcard}"
            );
        }
    }

    /// Alternatives on one field add up: three `*:stack/NAME/*` wildcards deploy, a fourth
    /// makes EventBridge refuse the rule as too complex (reported by the vals-ai/Valkyrie
    /// project, pull request 278, "EventBridge rejected ... with "Rule is too complex" once
    /// MonitoringStack was added (3 -> 4 entries)").
    #[test]
    fn alternatives_on_one_field_add_up() {
        let stacks = |names: &[&str]| {
            let leaf: Vec<Value> = names
                .iter()
                .map(|n| json!({"wildcard": format!("*:stack/{n}/*")}))
                .collect();
            json!({"detail": {"stack-id": leaf}})
        };
        assert!(EventPattern::parse(&stacks(&["A", "B", "C"])).is_ok());
        assert!(refused_as_too_complex(stacks(&["A", "B", "C", "D"])));
        // ... also when the alternatives sit in $or branches naming the same field
        let or = json!({"$or": [
            {"detail": {"stack-id": [{"wildcard": "*:stack/A/*"}, {"wildcard": "*:stack/B/*"}]}},
            {"detail": {"stack-id": [{"wildcard": "*:stack/C/*"}, {"wildcard": "*:stack/D/*"}]}}
        ]});
        assert!(refused_as_too_complex(or));
        // ... but not across different fields
        assert!(
            EventPattern::parse(&json!({"detail": {
                "a": [{"wildcard": "*:stack/A/*"}, {"wildcard": "*:stack/B/*"}],
                "b": [{"wildcard": "*:stack/C/*"}, {"wildcard": "*:stack/D/*"}]
            }}))
            .is_ok()
        );
    }

    #[test]
    fn anything_but_wildcards_count_too() {
        assert!(refused_as_too_complex(
            json!({"detail": {"f": [{"anything-but": {"wildcard": ["*:*:*:*:*:x/*"]}}]}})
        ));
    }
}
