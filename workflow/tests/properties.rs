//! Property tests for path application and the interpreter's robustness.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use trip_workflow::path::{Path, PathField};

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i32>().prop_map(|n| json!(n)),
        "[a-z]{0,6}".prop_map(Value::String),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map("[a-z]{1,4}", inner, 0..4)
                .prop_map(|m| Value::Object(m.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

fn arb_field_path() -> impl Strategy<Value = Vec<String>> {
    prop::collection::vec("[a-z]{1,5}", 0..4)
}

fn to_path(fields: &[String], bracket: bool) -> Path {
    let mut s = String::from("$");
    for f in fields {
        if bracket {
            s.push_str(&format!("['{f}']"));
        } else {
            s.push('.');
            s.push_str(f);
        }
    }
    Path::parse(&s).unwrap()
}

proptest! {
    #[test]
    fn result_path_then_read_back_returns_the_result(
        input in prop::collection::btree_map("[a-z]{1,4}", arb_json(), 0..4),
        fields in arb_field_path(),
        result in arb_json(),
        bracket in any::<bool>(),
    ) {
        // Given an object input and a reference path made of names
        let input = Value::Object(input.into_iter().collect());
        let p = to_path(&fields, bracket);
        // When ResultPath writes the result there (if it can)
        if let Ok(merged) = PathField::Path(p.clone()).merge_result(&input, result.clone()) {
            // Then reading the same path gives the result back
            prop_assert_eq!(p.select(&merged), Some(result));
        } else {
            // A write can only fail when a prefix of the path holds a non-object
            let mut cur = &input;
            let mut blocked = false;
            for f in &fields[..fields.len().saturating_sub(1)] {
                match cur.get(f) {
                    Some(v) if v.is_object() => cur = v,
                    Some(_) => { blocked = true; break; }
                    None => break,
                }
            }
            prop_assert!(blocked);
        }
    }

    #[test]
    fn input_path_dollar_is_identity(v in arb_json()) {
        prop_assert_eq!(PathField::Path(Path::root()).select_input(&v, "InputPath").unwrap(), v.clone());
        prop_assert_eq!(PathField::Default.select_input(&v, "InputPath").unwrap(), v);
    }

    #[test]
    fn result_path_leaves_the_other_fields_alone(
        input in prop::collection::btree_map("[a-z]{1,4}", arb_json(), 1..5),
        key in "[A-Z]{1,4}",
        result in arb_json(),
    ) {
        let input = Value::Object(input.into_iter().collect());
        let p = Path::parse(&format!("$.{key}")).unwrap();
        let merged = PathField::Path(p).merge_result(&input, result).unwrap();
        for (k, v) in input.as_object().unwrap() {
            prop_assert_eq!(merged.get(k), Some(v));
        }
    }

    #[test]
    fn path_parsing_never_panics(s in "\\$[\\[\\]\\.'\"a-z0-9*:,?@$ -]{0,16}") {
        let _ = Path::parse(&s).map(|p| p.select(&json!({"a": [1, {"b": 2}]})));
    }

    #[test]
    fn intrinsic_parsing_never_panics(s in "States\\.[A-Za-z]{0,12}\\([\\$'a-z0-9,.() \\\\{}-]{0,24}") {
        let _ = trip_workflow::path::validate_dynamic(&s);
    }

    #[test]
    fn definitions_never_panic_the_loader(v in arb_json()) {
        let _ = trip_workflow::load_definition(&v.to_string(), &Default::default());
        let wrapped = json!({"StartAt": "A", "States": {"A": v}});
        let _ = trip_workflow::load_definition(&wrapped.to_string(), &Default::default());
    }
}
