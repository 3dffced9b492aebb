//! Matching a compiled pattern against an event: no allocation, no panics.
//!
//! An event array is "crushed" the way Ruler does it: a leaf matches when any scalar inside the
//! array (at any nesting) matches, and an object pattern matches when one object element
//! satisfies all of its fields, so two fields never match in different elements of one array.

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::compile::{
    AnythingBut, Cidr, Condition, FieldMatcher, LeafMatcher, NumberValue, NumericRange,
    ObjectMatcher, Wildcard, comparable_key, ip_literal,
};

/// Event arrays nested deeper than this are treated as holding no values; serde_json's parser
/// stops at 128 levels anyway, this only guards values built in code.
const MAX_ARRAY_DEPTH: usize = 128;

pub(crate) fn matches_root(root: &ObjectMatcher, event: &Value) -> bool {
    match event {
        Value::Object(fields) => object_matches(root, Some(fields)),
        _ => object_matches(root, None),
    }
}

fn object_matches(matcher: &ObjectMatcher, fields: Option<&Map<String, Value>>) -> bool {
    matcher.fields.iter().all(|(name, field)| {
        let value = fields.and_then(|f| f.get(&**name));
        match field {
            FieldMatcher::Leaf(leaf) => leaf_matches(leaf, value),
            FieldMatcher::Object(inner) => nested_matches(inner, value),
        }
    }) && matcher
        .any_of
        .iter()
        .all(|branches| branches.iter().any(|branch| object_matches(branch, fields)))
}

/// An object pattern against whatever the event has at that field.
fn nested_matches(matcher: &ObjectMatcher, value: Option<&Value>) -> bool {
    match value {
        Some(Value::Object(fields)) => object_matches(matcher, Some(fields)),
        Some(Value::Array(items)) => {
            let mut saw_object = false;
            if any_object_in(items, 0, &mut saw_object, &mut |fields| {
                object_matches(matcher, Some(fields))
            }) {
                return true;
            }
            // With no object inside, the event simply has no fields below this one.
            !saw_object && object_matches(matcher, None)
        }
        _ => object_matches(matcher, None),
    }
}

fn any_object_in(
    items: &[Value],
    depth: usize,
    saw_object: &mut bool,
    test: &mut impl FnMut(&Map<String, Value>) -> bool,
) -> bool {
    if depth >= MAX_ARRAY_DEPTH {
        return false;
    }
    items.iter().any(|item| match item {
        Value::Object(fields) => {
            *saw_object = true;
            test(fields)
        }
        Value::Array(inner) => any_object_in(inner, depth + 1, saw_object, test),
        _ => false,
    })
}

/// Calls `test` on every scalar at this field (arrays flattened) until it returns true.
fn any_scalar(
    value: &Value,
    depth: usize,
    saw_scalar: &mut bool,
    test: &mut impl FnMut(&Value) -> bool,
) -> bool {
    match value {
        Value::Object(_) => false,
        Value::Array(items) => {
            depth < MAX_ARRAY_DEPTH
                && items
                    .iter()
                    .any(|item| any_scalar(item, depth + 1, saw_scalar, test))
        }
        scalar => {
            *saw_scalar = true;
            test(scalar)
        }
    }
}

fn leaf_matches(leaf: &LeafMatcher, value: Option<&Value>) -> bool {
    let Some(value) = value else {
        return leaf.exists_false;
    };
    let mut saw_scalar = false;
    if !leaf.conditions.is_empty()
        && any_scalar(value, 0, &mut saw_scalar, &mut |scalar| {
            leaf.conditions.iter().any(|c| condition_matches(c, scalar))
        })
    {
        return true;
    }
    if leaf.exists_true || leaf.exists_false {
        if leaf.conditions.is_empty() {
            any_scalar(value, 0, &mut saw_scalar, &mut |_| true);
        }
        return if saw_scalar {
            leaf.exists_true
        } else {
            leaf.exists_false
        };
    }
    false
}

fn condition_matches(condition: &Condition, value: &Value) -> bool {
    match condition {
        Condition::String(expected) => value.as_str() == Some(&**expected),
        Condition::Ip(expected) => value
            .as_str()
            .and_then(ip_literal)
            .is_some_and(|ip| ip == *expected),
        Condition::Number(expected) => match value {
            Value::Number(n) => NumberValue::of(n).equals(expected),
            _ => false,
        },
        Condition::Bool(expected) => value.as_bool() == Some(*expected),
        Condition::Null => value.is_null(),
        Condition::Prefix(prefix) => value.as_str().is_some_and(|s| s.starts_with(&**prefix)),
        Condition::PrefixIgnoreCase(prefix) => value
            .as_str()
            .is_some_and(|s| starts_with_ignore_case(s, prefix)),
        Condition::Suffix(suffix) => value.as_str().is_some_and(|s| s.ends_with(&**suffix)),
        Condition::SuffixIgnoreCase(suffix) => value
            .as_str()
            .is_some_and(|s| ends_with_ignore_case(s, suffix)),
        Condition::EqualsIgnoreCase(expected) => value
            .as_str()
            .is_some_and(|s| equals_ignore_case(s, expected)),
        Condition::Wildcard(wildcard) => value
            .as_str()
            .is_some_and(|s| wildcard_matches(wildcard, s)),
        Condition::Numeric(range) => match value {
            Value::Number(n) => n
                .as_f64()
                .and_then(comparable_key)
                .is_some_and(|key| in_range(range, key)),
            _ => false,
        },
        Condition::Cidr(cidr) => value
            .as_str()
            .and_then(ip_literal)
            .is_some_and(|ip| in_cidr(cidr, ip)),
        Condition::AnythingBut(excluded) => !anything_but_excludes(excluded, value),
    }
}

/// Whether `value` is one of the values an anything-but leaves out. Values of another type
/// (a number against a string list, say) are never left out.
fn anything_but_excludes(excluded: &AnythingBut, value: &Value) -> bool {
    match excluded {
        AnythingBut::Numbers(keys) => match value {
            Value::Number(n) => n
                .as_f64()
                .and_then(comparable_key)
                .is_some_and(|key| keys.contains(&key)),
            _ => false,
        },
        AnythingBut::Strings(list) => value
            .as_str()
            .is_some_and(|s| list.iter().any(|e| **e == *s)),
        AnythingBut::Prefixes(list) => value
            .as_str()
            .is_some_and(|s| list.iter().any(|p| s.starts_with(&**p))),
        AnythingBut::Suffixes(list) => value
            .as_str()
            .is_some_and(|s| list.iter().any(|p| s.ends_with(&**p))),
        AnythingBut::EqualsIgnoreCase(list) => value
            .as_str()
            .is_some_and(|s| list.iter().any(|e| equals_ignore_case(s, e))),
        AnythingBut::Wildcards(list) => value
            .as_str()
            .is_some_and(|s| list.iter().any(|w| wildcard_matches(w, s))),
    }
}

fn in_range(range: &NumericRange, key: i64) -> bool {
    let above = range.low.is_none_or(|low| {
        if low.inclusive {
            key >= low.key
        } else {
            key > low.key
        }
    });
    let below = range.high.is_none_or(|high| {
        if high.inclusive {
            key <= high.key
        } else {
            key < high.key
        }
    });
    above && below
}

fn in_cidr(cidr: &Cidr, ip: IpAddr) -> bool {
    let (v6, bits) = match ip {
        IpAddr::V4(v4) => (false, u128::from(u32::from(v4))),
        IpAddr::V6(v6) => (true, u128::from(v6)),
    };
    v6 == cidr.v6 && cidr.low <= bits && bits <= cidr.high
}

/// `expected` is already lowercased.
fn equals_ignore_case(actual: &str, expected: &str) -> bool {
    if actual.is_ascii() && expected.is_ascii() {
        return actual.eq_ignore_ascii_case(expected);
    }
    actual
        .chars()
        .flat_map(char::to_lowercase)
        .eq(expected.chars())
}

fn starts_with_ignore_case(actual: &str, prefix: &str) -> bool {
    if actual.is_ascii() && prefix.is_ascii() {
        return actual
            .as_bytes()
            .get(..prefix.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(prefix.as_bytes()));
    }
    let mut lowered = actual.chars().flat_map(char::to_lowercase);
    prefix.chars().all(|c| lowered.next() == Some(c))
}

fn ends_with_ignore_case(actual: &str, suffix: &str) -> bool {
    if actual.is_ascii() && suffix.is_ascii() {
        return actual
            .len()
            .checked_sub(suffix.len())
            .and_then(|start| actual.as_bytes().get(start..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case(suffix.as_bytes()));
    }
    let mut lowered = actual.chars().rev().flat_map(|c| c.to_lowercase().rev());
    suffix.chars().rev().all(|c| lowered.next() == Some(c))
}

fn wildcard_matches(wildcard: &Wildcard, text: &str) -> bool {
    let Some((first, rest)) = wildcard.pieces.split_first() else {
        return text.is_empty();
    };
    let Some((last, middle)) = rest.split_last() else {
        // No star at all: the whole text must be the literal.
        return text == &**first;
    };
    if text.len() < first.len() + last.len()
        || !text.starts_with(&**first)
        || !text.ends_with(&**last)
    {
        return false;
    }
    let Some(mut window) = text.get(first.len()..text.len() - last.len()) else {
        return false;
    };
    for piece in middle {
        match window.find(&**piece) {
            Some(at) => match window.get(at + piece.len()..) {
                Some(after) => window = after,
                None => return false,
            },
            None => return false,
        }
    }
    true
}
