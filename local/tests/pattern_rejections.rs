//! Patterns EventBridge refuses are refused here too, with the field path in the message.

use std::str::FromStr;

use serde_json::{Value, json};
use trip_local::pattern::{EventPattern, MAX_PATTERN_CHARS, PatternError};

fn rejection(pattern: Value) -> PatternError {
    match EventPattern::parse(&pattern) {
        Ok(_) => panic!("pattern {pattern} should be rejected"),
        Err(error) => error,
    }
}

fn assert_rejected(pattern: Value, path: &str, reason_contains: &str) {
    let error = rejection(pattern.clone());
    match &error {
        PatternError::Invalid { path: got, reason } => {
            assert_eq!(got, path, "path for {pattern}: {error}");
            assert!(
                reason.contains(reason_contains),
                "reason for {pattern} should mention {reason_contains:?}: {error}"
            );
        }
        other => panic!("expected Invalid for {pattern}, got {other:?}"),
    }
}

#[test]
fn display_names_the_field_path() {
    let error = rejection(json!({"detail": {"price": [{"numeric": [">", "cheap"]}]}}));
    assert_eq!(
        error.to_string(),
        "invalid event pattern at detail.price: numeric expects a number after \">\", not a string"
    );
}

#[test]
fn pattern_must_be_an_object() {
    for pattern in [json!([]), json!("x"), json!(1), json!(null), json!(true)] {
        assert_rejected(pattern, "", "must be a JSON object");
    }
    assert_eq!(
        rejection(json!([])).to_string(),
        "invalid event pattern: the pattern must be a JSON object, not an array"
    );
}

#[test]
fn empty_objects_and_arrays() {
    assert_rejected(json!({}), "", "empty objects");
    assert_rejected(json!({"detail": {}}), "detail", "empty objects");
    assert_rejected(json!({"source": []}), "source", "empty arrays");
}

#[test]
fn leaves_must_be_arrays() {
    assert_rejected(json!({"source": "aws.ec2"}), "source", "object or an array");
    assert_rejected(
        json!({"detail": {"n": 5}}),
        "detail.n",
        "object or an array",
    );
    assert_rejected(
        json!({"detail": {"n": null}}),
        "detail.n",
        "object or an array",
    );
    assert_rejected(json!({"source": [["nested"]]}), "source", "not an array");
}

#[test]
fn match_expressions_have_one_known_operator() {
    assert_rejected(json!({"source": [{}]}), "source", "must name an operator");
    assert_rejected(
        json!({"source": [{"contains": "x"}]}),
        "source",
        "unrecognized match type \"contains\"",
    );
    assert_rejected(
        json!({"source": [{"prefix": "a", "suffix": "b"}]}),
        "source",
        "only one key",
    );
}

#[test]
fn operand_types() {
    assert_rejected(json!({"a": [{"prefix": 5}]}), "a", "prefix expects");
    assert_rejected(json!({"a": [{"suffix": null}]}), "a", "suffix expects");
    assert_rejected(
        json!({"a": [{"prefix": {"exists": true}}]}),
        "a",
        "unsupported prefix pattern",
    );
    assert_rejected(
        json!({"a": [{"prefix": {"equals-ignore-case": 1}}]}),
        "a",
        "expects a string",
    );
    assert_rejected(
        json!({"a": [{"equals-ignore-case": ["x"]}]}),
        "a",
        "equals-ignore-case expects a string",
    );
    assert_rejected(
        json!({"a": [{"wildcard": 1}]}),
        "a",
        "wildcard expects a string",
    );
    assert_rejected(json!({"a": [{"cidr": 10}]}), "a", "cidr expects a string");
    assert_rejected(
        json!({"a": [{"exists": "true"}]}),
        "a",
        "exists expects true or false",
    );
    assert_rejected(
        json!({"a": [{"exists": 1}]}),
        "a",
        "exists expects true or false",
    );
}

#[test]
fn numeric_expressions() {
    let reject = |terms: Value, reason: &str| {
        assert_rejected(
            json!({"detail": {"n": [{"numeric": terms}]}}),
            "detail.n",
            reason,
        )
    };
    reject(json!(5), "numeric expects an array");
    reject(json!([]), "at least an operator");
    reject(json!([">"]), "expects a number after");
    reject(json!([">", "0"]), "expects a number after");
    reject(json!([0, ">"]), "expects an operator");
    reject(json!(["!=", 0]), "unrecognized numeric operator");
    reject(json!(["=", 1, "<", 5]), "too many elements");
    reject(json!(["<", 5, ">", 0]), "too many elements");
    reject(json!([">", 0, ">", 5]), "must continue with");
    reject(json!([">", 5, "<", 5]), "bottom must be less than top");
    reject(json!([">=", 6, "<=", 5]), "bottom must be less than top");
    reject(json!([">", 0, "<", 5, "<", 6]), "too many elements");
    reject(json!([">", 5.0e9 + 1.0]), "out of range");
    reject(json!(["<", -6.0e9]), "out of range");
}

#[test]
fn numeric_range_limits_are_inclusive() {
    for terms in [json!(["<=", 5.0e9]), json!([">=", -5.0e9])] {
        assert!(EventPattern::parse(&json!({"n": [{"numeric": terms}]})).is_ok());
    }
}

#[test]
fn anything_but_forms() {
    let reject = |operand: Value, reason: &str| {
        assert_rejected(json!({"a": [{"anything-but": operand}]}), "a", reason)
    };
    reject(json!(null), "anything-but expects");
    reject(json!(true), "anything-but expects");
    reject(json!([]), "only strings or only numbers");
    reject(json!(["a", 1]), "only strings or only numbers");
    reject(json!([null]), "only strings or only numbers");
    reject(json!([1.0e10]), "out of range");
    reject(json!({"prefix": ""}), "must not be an empty string");
    reject(json!({"suffix": [""]}), "must not be an empty string");
    reject(json!({"prefix": 1}), "expects a string or a list");
    reject(
        json!({"equals-ignore-case": [1]}),
        "may only contain strings",
    );
    reject(
        json!({"numeric": [">", 1]}),
        "unsupported anything-but pattern",
    );
    reject(json!({"prefix": "a", "suffix": "b"}), "exactly one key");
    reject(json!({"wildcard": "a**b"}), "consecutive wildcard");
}

#[test]
fn wildcard_syntax() {
    assert_rejected(
        json!({"a": [{"wildcard": "a**"}]}),
        "a",
        "consecutive wildcard characters at position 1",
    );
    assert_rejected(json!({"a": [{"wildcard": "a\\b"}]}), "a", "invalid escape");
    assert_rejected(
        json!({"a": [{"wildcard": "trailing\\"}]}),
        "a",
        "invalid escape",
    );
    for ok in ["a\\**", "\\\\", "*a*b*", ""] {
        assert!(
            EventPattern::parse(&json!({"a": [{"wildcard": ok}]})).is_ok(),
            "{ok}"
        );
    }
}

#[test]
fn cidr_syntax() {
    let reject =
        |cidr: &str, reason: &str| assert_rejected(json!({"ip": [{"cidr": cidr}]}), "ip", reason);
    reject("10.0.0.0", "one '/' is required");
    reject("10.0.0.0/8/8", "one '/' is required");
    reject("10.0.0.0/x", "mask bits");
    reject("10.0.0.0/-1", "mask bits");
    reject("host/8", "not an IP address");
    reject("10.0.0.0/32", "less than 32");
    reject("::/128", "less than 128");
    assert!(EventPattern::parse(&json!({"ip": [{"cidr": "10.0.0.0/31"}]})).is_ok());
}

#[test]
fn or_forms() {
    assert_rejected(json!({"$or": {"a": ["x"]}}), "$or", "must be an array");
    assert_rejected(json!({"$or": []}), "$or", "at least 2");
    assert_rejected(json!({"$or": [{"a": ["x"]}]}), "$or", "at least 2");
    assert_rejected(
        json!({"$or": [{"a": ["x"]}, "b"]}),
        "$or",
        "only contain objects",
    );
    assert_rejected(
        json!({"$or": [{"a": ["x"]}, {}]}),
        "$or[1]",
        "empty objects",
    );
    assert_rejected(
        json!({"detail": {"$or": [{"a": ["x"]}, {"b": [{"prefix": 1}]}]}}),
        "detail.$or[1].b",
        "prefix expects",
    );
    assert_rejected(
        json!({"$or": [{"numeric": [1]}, {"prefix": ["abc"]}]}),
        "$or[0].numeric",
        "reserved operator name",
    );
}

#[test]
fn too_long_patterns() {
    let long = "x".repeat(MAX_PATTERN_CHARS);
    let text = format!("{{\"source\": [\"{long}\"]}}");
    assert!(matches!(
        EventPattern::from_str(&text),
        Err(PatternError::TooLong {
            limit: MAX_PATTERN_CHARS,
            ..
        })
    ));
    let value: Value = serde_json::from_str(&text).expect("json");
    assert!(matches!(
        EventPattern::parse(&value),
        Err(PatternError::TooLong { .. })
    ));
    let fits = "x".repeat(MAX_PATTERN_CHARS - 20);
    assert!(EventPattern::from_str(&format!("{{\"source\":[\"{fits}\"]}}")).is_ok());
}

#[test]
fn not_json() {
    assert!(matches!(
        EventPattern::from_str("{\"source\": [\"a\""),
        Err(PatternError::Syntax(_))
    ));
}

#[test]
fn accepted_forms_compile() {
    for pattern in [
        json!({"a": ["x", 1, 2.5, true, false, null, ""]}),
        json!({"a": [{"prefix": ""}, {"suffix": "x"}, {"equals-ignore-case": "X"}]}),
        json!({"a": [{"anything-but": {"prefix": ["a", "b"]}}]}),
        json!({"a": [{"anything-but": {"equals-ignore-case": "x"}}]}),
        json!({"a": [{"exists": true}, {"exists": false}]}),
        json!({"a": {"$or": [{"b": ["x"]}, {"$or": [{"c": ["y"]}, {"d": ["z"]}]}]}}),
    ] {
        assert!(EventPattern::parse(&pattern).is_ok(), "{pattern}");
    }
}
