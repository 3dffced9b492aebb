//! The compiled matcher against a deliberately naive reference evaluator: straight recursion
//! over the pattern JSON and the event JSON, written from the documented semantics.

use proptest::prelude::*;
use serde_json::{Map, Value, json};
use trip_local::pattern::EventPattern;

// ---------- reference evaluator ----------

fn reference_matches(pattern: &Value, event: &Value) -> bool {
    let pattern = pattern.as_object().expect("generated patterns are objects");
    reference_fields(pattern, event.as_object())
}

fn reference_fields(pattern: &Map<String, Value>, event: Option<&Map<String, Value>>) -> bool {
    pattern.iter().all(|(name, spec)| {
        if name == "$or" {
            let branches = spec.as_array().expect("$or is an array");
            return branches
                .iter()
                .any(|b| reference_fields(b.as_object().expect("branch object"), event));
        }
        let value = event.and_then(|e| e.get(name));
        match spec {
            Value::Object(inner) => reference_nested(inner, value),
            Value::Array(allowed) => reference_leaf(allowed, value),
            _ => unreachable!("generated fields are objects or arrays"),
        }
    })
}

/// All objects inside a (possibly nested) array.
fn objects_in<'a>(value: &'a Value, out: &mut Vec<&'a Map<String, Value>>) {
    match value {
        Value::Object(o) => out.push(o),
        Value::Array(items) => items.iter().for_each(|i| objects_in(i, out)),
        _ => {}
    }
}

fn reference_nested(pattern: &Map<String, Value>, value: Option<&Value>) -> bool {
    match value {
        Some(Value::Array(_)) => {
            let mut objects = Vec::new();
            if let Some(v) = value {
                objects_in(v, &mut objects);
            }
            if objects.is_empty() {
                reference_fields(pattern, None)
            } else {
                objects.iter().any(|o| reference_fields(pattern, Some(o)))
            }
        }
        Some(Value::Object(o)) => reference_fields(pattern, Some(o)),
        _ => reference_fields(pattern, None),
    }
}

fn scalars_in<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Object(_) => {}
        Value::Array(items) => items.iter().for_each(|i| scalars_in(i, out)),
        scalar => out.push(scalar),
    }
}

fn reference_leaf(allowed: &[Value], value: Option<&Value>) -> bool {
    let mut values = Vec::new();
    if let Some(v) = value {
        scalars_in(v, &mut values);
    }
    allowed.iter().any(|rule| match rule {
        Value::Object(expression) => {
            let (operator, operand) = expression.iter().next().expect("one operator");
            if operator == "exists" {
                return operand.as_bool() == Some(!values.is_empty());
            }
            values
                .iter()
                .any(|v| reference_operator(operator, operand, v))
        }
        literal => values.iter().any(|v| same_value(literal, v)),
    })
}

fn same_value(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

fn reference_operator(operator: &str, operand: &Value, value: &Value) -> bool {
    let text = value.as_str();
    match operator {
        "prefix" => match operand {
            Value::String(p) => text.is_some_and(|t| t.starts_with(p.as_str())),
            _ => {
                let p = operand["equals-ignore-case"]
                    .as_str()
                    .expect("string")
                    .to_lowercase();
                text.is_some_and(|t| t.to_lowercase().starts_with(&p))
            }
        },
        "suffix" => match operand {
            Value::String(p) => text.is_some_and(|t| t.ends_with(p.as_str())),
            _ => {
                let p = operand["equals-ignore-case"]
                    .as_str()
                    .expect("string")
                    .to_lowercase();
                text.is_some_and(|t| t.to_lowercase().ends_with(&p))
            }
        },
        "equals-ignore-case" => text
            .is_some_and(|t| t.to_lowercase() == operand.as_str().expect("string").to_lowercase()),
        "wildcard" => text.is_some_and(|t| glob(operand.as_str().expect("string"), t)),
        "numeric" => value.as_f64().is_some_and(|n| numeric_holds(operand, n)),
        "anything-but" => !anything_but_excludes(operand, value),
        other => unreachable!("generator never makes {other}"),
    }
}

/// Backtracking glob over characters: `*` matches any run (generated wildcards have no escapes).
fn glob(pattern: &str, text: &str) -> bool {
    fn go(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&p, &t)
}

fn numeric_holds(terms: &Value, n: f64) -> bool {
    let terms = terms.as_array().expect("array");
    terms.chunks(2).all(|pair| {
        let op = pair[0].as_str().expect("op");
        let bound = pair[1].as_f64().expect("number");
        match op {
            "=" => n == bound,
            "<" => n < bound,
            "<=" => n <= bound,
            ">" => n > bound,
            ">=" => n >= bound,
            _ => unreachable!(),
        }
    })
}

fn anything_but_excludes(operand: &Value, value: &Value) -> bool {
    match operand {
        Value::Array(list) => list.iter().any(|e| same_value(e, value)),
        Value::Object(inner) => {
            let (kind, arg) = inner.iter().next().expect("one key");
            let args: Vec<&str> = match arg {
                Value::Array(items) => items.iter().map(|i| i.as_str().expect("string")).collect(),
                other => vec![other.as_str().expect("string")],
            };
            let Some(text) = value.as_str() else {
                return false;
            };
            match kind.as_str() {
                "prefix" => args.iter().any(|a| text.starts_with(a)),
                "suffix" => args.iter().any(|a| text.ends_with(a)),
                "equals-ignore-case" => {
                    args.iter().any(|a| a.to_lowercase() == text.to_lowercase())
                }
                "wildcard" => args.iter().any(|a| glob(a, text)),
                _ => unreachable!(),
            }
        }
        single => same_value(single, value),
    }
}

// ---------- generators ----------

const NAMES: [&str; 3] = ["a", "b", "c"];
const WORDS: [&str; 7] = ["", "x", "xy", "yx", "X", "xyz", "Éx"];
const NUMBERS: [f64; 6] = [-2.0, 0.0, 1.0, 2.5, 3.0, 300.0];

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS.to_vec()).prop_map(str::to_owned)
}

fn nonempty_word() -> impl Strategy<Value = String> {
    prop::sample::select(WORDS[1..].to_vec()).prop_map(str::to_owned)
}

fn number() -> impl Strategy<Value = f64> {
    prop::sample::select(NUMBERS.to_vec())
}

fn scalar() -> impl Strategy<Value = Value> {
    prop_oneof![
        word().prop_map(Value::from),
        number().prop_map(|n| json!(n)),
        // Integers in the event against floats in the pattern: 300 must equal 3.0e2.
        prop::sample::select(vec![0i64, 1, 3, 300]).prop_map(|n| json!(n)),
        any::<bool>().prop_map(Value::from),
        Just(Value::Null),
    ]
}

fn event_value() -> impl Strategy<Value = Value> {
    scalar().prop_recursive(3, 24, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::btree_map(prop::sample::select(NAMES.to_vec()), inner, 0..3)
                .prop_map(|m| Value::Object(
                    m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
                )),
        ]
    })
}

fn event() -> impl Strategy<Value = Value> {
    prop::collection::btree_map(prop::sample::select(NAMES.to_vec()), event_value(), 0..4)
        .prop_map(|m| Value::Object(m.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()))
}

fn words_or_one() -> impl Strategy<Value = Value> {
    prop_oneof![
        nonempty_word().prop_map(Value::from),
        prop::collection::vec(nonempty_word(), 1..3).prop_map(|v| json!(v)),
    ]
}

fn glob_pattern() -> impl Strategy<Value = String> {
    prop::collection::vec(
        prop_oneof![Just("*"), Just("x"), Just("y"), Just("z")],
        0..5,
    )
    .prop_map(|parts| {
        let mut out = String::new();
        for part in parts {
            if !(part == "*" && out.ends_with('*')) {
                out.push_str(part);
            }
        }
        out
    })
}

fn numeric_terms() -> impl Strategy<Value = Value> {
    prop_oneof![
        (
            prop::sample::select(vec!["=", "<", "<=", ">", ">="]),
            number()
        )
            .prop_map(|(op, n)| json!([op, n])),
        (
            prop::sample::select(vec![">", ">="]),
            number(),
            prop::sample::select(vec!["<", "<="]),
            prop::sample::select(vec![0.5, 1.0, 4.0]),
        )
            .prop_map(|(lo_op, lo, hi_op, width)| json!([lo_op, lo, hi_op, lo + width])),
    ]
}

fn condition() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => scalar(),
        1 => word().prop_map(|w| json!({"prefix": w})),
        1 => word().prop_map(|w| json!({"suffix": w})),
        1 => word().prop_map(|w| json!({"prefix": {"equals-ignore-case": w}})),
        1 => word().prop_map(|w| json!({"suffix": {"equals-ignore-case": w}})),
        1 => word().prop_map(|w| json!({"equals-ignore-case": w})),
        1 => glob_pattern().prop_map(|g| json!({"wildcard": g})),
        1 => numeric_terms().prop_map(|t| json!({"numeric": t})),
        4 => any::<bool>().prop_map(|b| json!({"exists": b})),
        1 => word().prop_map(|w| json!({"anything-but": w})),
        1 => number().prop_map(|n| json!({"anything-but": n})),
        1 => prop::collection::vec(word(), 1..3).prop_map(|v| json!({"anything-but": v})),
        1 => prop::collection::vec(number(), 1..3).prop_map(|v| json!({"anything-but": v})),
        1 => words_or_one().prop_map(|w| json!({"anything-but": {"prefix": w}})),
        1 => words_or_one().prop_map(|w| json!({"anything-but": {"suffix": w}})),
        1 => words_or_one().prop_map(|w| json!({"anything-but": {"equals-ignore-case": w}})),
        1 => glob_pattern().prop_map(|g| json!({"anything-but": {"wildcard": g}})),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop::collection::vec(condition(), 1..4).prop_map(Value::Array)
}

fn pattern_object() -> impl Strategy<Value = Value> {
    let fields = |field: BoxedStrategy<Value>| {
        prop::collection::btree_map(prop::sample::select(NAMES.to_vec()), field, 1..3).prop_map(
            |m| {
                m.into_iter()
                    .map(|(k, v)| (k.to_owned(), v))
                    .collect::<Map<_, _>>()
            },
        )
    };
    fields(leaf().boxed())
        .prop_map(Value::Object)
        .prop_recursive(3, 16, 3, move |inner| {
            let field = prop_oneof![3 => leaf(), 1 => inner.clone()].boxed();
            (
                fields(field),
                prop::option::of(prop::collection::vec(inner, 2..4)),
            )
                .prop_map(|(mut map, or)| {
                    if let Some(branches) = or {
                        map.insert("$or".to_owned(), Value::Array(branches));
                    }
                    Value::Object(map)
                })
        })
}

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let key = prop_oneof![
        prop::sample::select(vec![
            "a",
            "$or",
            "prefix",
            "suffix",
            "numeric",
            "exists",
            "anything-but",
            "wildcard",
            "cidr",
            "equals-ignore-case",
            ">",
            "=",
            ""
        ])
        .prop_map(str::to_owned),
        ".{0,4}",
    ];
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(|f| json!(f)),
        any::<i64>().prop_map(Value::from),
        prop::sample::select(vec![
            "*",
            "**",
            "\\",
            "10.0.0.0/8",
            "::1",
            ">",
            "<=",
            "1.2.3.4"
        ])
        .prop_map(Value::from),
        ".{0,6}".prop_map(Value::from),
    ];
    leaf.prop_recursive(5, 48, 5, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..5)
                .prop_map(|pairs| Value::Object(pairs.into_iter().collect())),
        ]
    })
}

// ---------- properties ----------

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn compiled_matcher_agrees_with_reference(pattern in pattern_object(), event in event()) {
        let compiled = EventPattern::parse(&pattern)
            .map_err(|e| TestCaseError::fail(format!("generated pattern refused: {e}")))?;
        prop_assert_eq!(
            compiled.matches(&event),
            reference_matches(&pattern, &event),
            "pattern {} event {}", pattern, event
        );
    }

    #[test]
    fn never_panics_on_arbitrary_json(pattern in arbitrary_json(), event in arbitrary_json()) {
        if let Ok(compiled) = EventPattern::parse(&pattern) {
            let _ = compiled.matches(&event);
            let _ = compiled.matches(&pattern);
        }
        let _ = trip_local::pattern::test_event_pattern(&pattern.to_string(), &event.to_string());
    }

    #[test]
    fn a_pattern_built_from_an_event_matches_it(event in event()) {
        // Every scalar leaf of the event, as an exact-value pattern, must match the event.
        fn to_pattern(value: &Value) -> Option<Value> {
            match value {
                Value::Object(fields) => {
                    let map: Map<String, Value> = fields
                        .iter()
                        .filter_map(|(k, v)| to_pattern(v).map(|p| (k.clone(), p)))
                        .collect();
                    (!map.is_empty()).then_some(Value::Object(map))
                }
                Value::Array(_) => None,
                scalar => Some(json!([scalar])),
            }
        }
        if let Some(pattern) = to_pattern(&event) {
            let compiled = EventPattern::parse(&pattern)
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert!(compiled.matches(&event));
        }
    }
}
