//! Keys with dots: EventBridge's matcher (`aws/event-ruler`) flattens an event into dotted
//! paths, so `{"state.status": "x"}` and `{"state": {"status": "x"}}` are the same field to
//! it. Events are rare to have such keys; when one does, it is expanded here into the nested
//! form once, and the matcher sees only nested objects.

use std::borrow::Cow;

use serde_json::{Map, Value};

/// Nesting deeper than this is left as it is (serde_json's parser stops at 128 levels).
const MAX_DEPTH: usize = 128;

/// `event` with every dotted key turned into nested objects; borrowed when it has none.
pub(crate) fn expand(event: &Value) -> Cow<'_, Value> {
    if has_dotted_key(event, 0) {
        Cow::Owned(expanded(event, 0))
    } else {
        Cow::Borrowed(event)
    }
}

fn has_dotted_key(value: &Value, depth: usize) -> bool {
    if depth >= MAX_DEPTH {
        return false;
    }
    match value {
        Value::Object(fields) => fields
            .iter()
            .any(|(name, inner)| name.contains('.') || has_dotted_key(inner, depth + 1)),
        Value::Array(items) => items.iter().any(|item| has_dotted_key(item, depth + 1)),
        _ => false,
    }
}

fn expanded(value: &Value, depth: usize) -> Value {
    if depth >= MAX_DEPTH {
        return value.clone();
    }
    match value {
        Value::Object(fields) => {
            let mut out = Map::new();
            for (name, inner) in fields {
                let inner = expanded(inner, depth + 1);
                insert_path(&mut out, name.split('.'), inner);
            }
            Value::Object(out)
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|item| expanded(item, depth + 1)).collect())
        }
        scalar => scalar.clone(),
    }
}

/// Puts `value` at the path `segments` below `target`. Two values meeting at one path (from
/// `"a.b"` and `"a": {"b"}`) become one array of both: Ruler then sees two values for the
/// field, and a pattern matches when either does.
fn insert_path<'a>(
    target: &mut Map<String, Value>,
    mut segments: impl Iterator<Item = &'a str>,
    value: Value,
) {
    let Some(first) = segments.next() else {
        return;
    };
    let rest: Vec<&str> = segments.collect();
    if rest.is_empty() {
        merge_into(target, first, value);
        return;
    }
    let mut nested = Map::new();
    insert_path(&mut nested, rest.into_iter(), value);
    merge_into(target, first, Value::Object(nested));
}

fn merge_into(target: &mut Map<String, Value>, name: &str, value: Value) {
    match target.get_mut(name) {
        None => {
            target.insert(name.to_owned(), value);
        }
        Some(existing) => match (existing, value) {
            (Value::Object(have), Value::Object(add)) => {
                for (key, inner) in add {
                    merge_into(have, &key, inner);
                }
            }
            (Value::Array(have), Value::Array(add)) => have.extend(add),
            (Value::Array(have), add) => have.push(add),
            (have, add) => {
                let first = std::mem::take(have);
                *have = Value::Array(vec![first, add]);
            }
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_event_without_dots_is_borrowed() {
        let event = json!({"detail": {"state": {"status": "running"}}, "list": [{"a": 1}]});
        assert!(matches!(expand(&event), Cow::Borrowed(_)));
    }

    #[test]
    fn dotted_keys_become_nested_objects_and_merge() {
        let event = json!({"detail": {"state.status": "running", "state": {"code": 16}}});
        assert_eq!(
            expand(&event).into_owned(),
            json!({"detail": {"state": {"status": "running", "code": 16}}})
        );
    }

    #[test]
    fn two_values_at_one_path_are_both_kept() {
        let event = json!({"a.b": 1, "a": {"b": 2}});
        assert_eq!(expand(&event).into_owned(), json!({"a": {"b": [1, 2]}}));
    }

    #[test]
    fn dotted_keys_inside_arrays_are_expanded() {
        let event = json!({"items": [{"x.y": true}]});
        assert_eq!(
            expand(&event).into_owned(),
            json!({"items": [{"x": {"y": true}}]})
        );
    }
}
