//! Choice state rules: parsing (at load) and evaluation (at run).

use chrono::{DateTime, FixedOffset};
use serde_json::{Map, Value};

use crate::error::Failure;
use crate::path::{Path, truncate};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    String,
    Numeric,
    Boolean,
    Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Equals,
    LessThan,
    GreaterThan,
    LessThanEquals,
    GreaterThanEquals,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TypeTest {
    IsNull,
    IsPresent,
    IsString,
    IsNumeric,
    IsBoolean,
    IsTimestamp,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Literal(Value),
    Path(Path),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    And(Vec<Condition>),
    Or(Vec<Condition>),
    Not(Box<Condition>),
    Compare {
        variable: Path,
        kind: Kind,
        cmp: Cmp,
        operand: Operand,
    },
    Matches {
        variable: Path,
        pattern: String,
    },
    Test {
        variable: Path,
        test: TypeTest,
        expected: bool,
    },
}

/// A top-level rule: a condition and where it goes.
#[derive(Debug, Clone, PartialEq)]
pub struct ChoiceRule {
    pub condition: Condition,
    pub next: String,
}

const COMPARISONS: &[(&str, Kind, Cmp)] = &[
    ("StringEquals", Kind::String, Cmp::Equals),
    ("StringLessThan", Kind::String, Cmp::LessThan),
    ("StringGreaterThan", Kind::String, Cmp::GreaterThan),
    ("StringLessThanEquals", Kind::String, Cmp::LessThanEquals),
    (
        "StringGreaterThanEquals",
        Kind::String,
        Cmp::GreaterThanEquals,
    ),
    ("NumericEquals", Kind::Numeric, Cmp::Equals),
    ("NumericLessThan", Kind::Numeric, Cmp::LessThan),
    ("NumericGreaterThan", Kind::Numeric, Cmp::GreaterThan),
    ("NumericLessThanEquals", Kind::Numeric, Cmp::LessThanEquals),
    (
        "NumericGreaterThanEquals",
        Kind::Numeric,
        Cmp::GreaterThanEquals,
    ),
    ("BooleanEquals", Kind::Boolean, Cmp::Equals),
    ("TimestampEquals", Kind::Timestamp, Cmp::Equals),
    ("TimestampLessThan", Kind::Timestamp, Cmp::LessThan),
    ("TimestampGreaterThan", Kind::Timestamp, Cmp::GreaterThan),
    (
        "TimestampLessThanEquals",
        Kind::Timestamp,
        Cmp::LessThanEquals,
    ),
    (
        "TimestampGreaterThanEquals",
        Kind::Timestamp,
        Cmp::GreaterThanEquals,
    ),
];

const TESTS: &[(&str, TypeTest)] = &[
    ("IsNull", TypeTest::IsNull),
    ("IsPresent", TypeTest::IsPresent),
    ("IsString", TypeTest::IsString),
    ("IsNumeric", TypeTest::IsNumeric),
    ("IsBoolean", TypeTest::IsBoolean),
    ("IsTimestamp", TypeTest::IsTimestamp),
];

/// Parses one rule object. `top` rules need `Next`; nested ones must not have it.
pub fn parse_condition(obj: &Map<String, Value>, at: &str) -> Result<Condition, String> {
    let list = |key: &str, v: &Value| -> Result<Vec<Condition>, String> {
        let arr = v
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or_else(|| format!("{at}.{key} must be a non-empty array of rules"))?;
        arr.iter()
            .enumerate()
            .map(|(i, r)| {
                let o = r
                    .as_object()
                    .ok_or_else(|| format!("{at}.{key}[{i}] must be an object"))?;
                if o.contains_key("Next") {
                    return Err(format!("{at}.{key}[{i}] is nested and cannot have Next"));
                }
                parse_condition(o, &format!("{at}.{key}[{i}]"))
            })
            .collect()
    };
    let ops: Vec<&String> = obj
        .keys()
        .filter(|k| !matches!(k.as_str(), "Variable" | "Next" | "Comment"))
        .collect();
    if ops.len() != 1 {
        return Err(format!(
            "{at} must have exactly one operator (found {:?})",
            ops
        ));
    }
    let op = ops[0].as_str();
    let value = &obj[op];
    match op {
        "And" => return Ok(Condition::And(list("And", value)?)),
        "Or" => return Ok(Condition::Or(list("Or", value)?)),
        "Not" => {
            let o = value
                .as_object()
                .ok_or_else(|| format!("{at}.Not must be a rule object"))?;
            if o.contains_key("Next") {
                return Err(format!("{at}.Not is nested and cannot have Next"));
            }
            return Ok(Condition::Not(Box::new(parse_condition(
                o,
                &format!("{at}.Not"),
            )?)));
        }
        _ => {}
    }
    let variable = obj
        .get("Variable")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{at}: operator '{op}' needs a string Variable"))?;
    let variable = Path::parse(variable).map_err(|e| format!("{at}.Variable: {e}"))?;
    if let Some((_, test)) = TESTS.iter().find(|(n, _)| *n == op) {
        let expected = value
            .as_bool()
            .ok_or_else(|| format!("{at}.{op} must be true or false"))?;
        return Ok(Condition::Test {
            variable,
            test: *test,
            expected,
        });
    }
    if op == "StringMatches" {
        let pattern = value
            .as_str()
            .ok_or_else(|| format!("{at}.StringMatches must be a string"))?;
        return Ok(Condition::Matches {
            variable,
            pattern: pattern.to_string(),
        });
    }
    let (base, is_path) = match op.strip_suffix("Path") {
        Some(b) => (b, true),
        None => (op, false),
    };
    let (_, kind, cmp) = COMPARISONS
        .iter()
        .find(|(n, _, _)| *n == base)
        .ok_or_else(|| format!("{at}: unknown comparison operator '{op}'"))?;
    let operand = if is_path {
        let s = value
            .as_str()
            .ok_or_else(|| format!("{at}.{op} must be a path string"))?;
        Operand::Path(Path::parse(s).map_err(|e| format!("{at}.{op}: {e}"))?)
    } else {
        let ok = match kind {
            Kind::String => value.is_string(),
            Kind::Numeric => value.is_number(),
            Kind::Boolean => value.is_boolean(),
            Kind::Timestamp => value.as_str().and_then(parse_timestamp).is_some(),
        };
        if !ok {
            return Err(format!("{at}.{op} has a value of the wrong type: {value}"));
        }
        Operand::Literal(value.clone())
    };
    Ok(Condition::Compare {
        variable,
        kind: *kind,
        cmp: *cmp,
        operand,
    })
}

/// RFC 3339 timestamps, as the spec requires (an uppercase `T`, a zone designator).
pub fn parse_timestamp(s: &str) -> Option<DateTime<FixedOffset>> {
    if !s.contains('T') {
        return None;
    }
    DateTime::parse_from_rfc3339(s).ok()
}

fn read(variable: &Path, input: &Value, context: &Value) -> Option<Value> {
    variable.select(if variable.context { context } else { input })
}

fn missing(variable: &Path, input: &Value) -> Failure {
    Failure::runtime(format!(
        "Invalid path '{variable}': The choice state's condition path references an invalid value in the input '{}'",
        truncate(&input.to_string())
    ))
}

fn order<T: PartialOrd>(a: T, b: T, cmp: Cmp) -> bool {
    match cmp {
        Cmp::Equals => a == b,
        Cmp::LessThan => a < b,
        Cmp::GreaterThan => a > b,
        Cmp::LessThanEquals => a <= b,
        Cmp::GreaterThanEquals => a >= b,
    }
}

fn compare(kind: Kind, cmp: Cmp, left: &Value, right: &Value) -> bool {
    match kind {
        Kind::String => match (left.as_str(), right.as_str()) {
            (Some(a), Some(b)) => order(a, b, cmp),
            _ => false,
        },
        Kind::Numeric => match (left, right) {
            (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
                (Some(x), Some(y)) => order(x, y, cmp),
                _ => match (a.as_f64(), b.as_f64()) {
                    (Some(x), Some(y)) => order(x, y, cmp),
                    _ => false,
                },
            },
            _ => false,
        },
        Kind::Boolean => match (left.as_bool(), right.as_bool()) {
            (Some(a), Some(b)) => cmp == Cmp::Equals && a == b,
            _ => false,
        },
        Kind::Timestamp => match (
            left.as_str().and_then(parse_timestamp),
            right.as_str().and_then(parse_timestamp),
        ) {
            (Some(a), Some(b)) => order(a, b, cmp),
            _ => false,
        },
    }
}

/// `*` matches any run of characters; `\*` is a literal star and `\\` a literal backslash.
pub fn string_matches(s: &str, pattern: &str) -> bool {
    #[derive(PartialEq)]
    enum Tok {
        Lit(char),
        Star,
    }
    let mut toks = Vec::new();
    let mut it = pattern.chars();
    while let Some(c) = it.next() {
        match c {
            '\\' => match it.next() {
                Some(n) => toks.push(Tok::Lit(n)),
                None => toks.push(Tok::Lit('\\')),
            },
            '*' => toks.push(Tok::Star),
            c => toks.push(Tok::Lit(c)),
        }
    }
    let text: Vec<char> = s.chars().collect();
    // Classic wildcard matching with backtracking to the last star.
    let (mut t, mut p) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match toks.get(p) {
            Some(Tok::Lit(c)) if *c == text[t] => {
                t += 1;
                p += 1;
            }
            Some(Tok::Star) => {
                star = Some((p, t));
                p += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    while toks.get(p) == Some(&Tok::Star) {
        p += 1;
    }
    p == toks.len()
}

/// Evaluates a condition against the Choice state's effective input.
pub fn evaluate(cond: &Condition, input: &Value, context: &Value) -> Result<bool, Failure> {
    Ok(match cond {
        Condition::And(cs) => {
            for c in cs {
                if !evaluate(c, input, context)? {
                    return Ok(false);
                }
            }
            true
        }
        Condition::Or(cs) => {
            for c in cs {
                if evaluate(c, input, context)? {
                    return Ok(true);
                }
            }
            false
        }
        Condition::Not(c) => !evaluate(c, input, context)?,
        Condition::Test {
            variable,
            test,
            expected,
        } => {
            let v = read(variable, input, context);
            let actual = match test {
                TypeTest::IsPresent => v.is_some(),
                _ => {
                    let v = v.ok_or_else(|| missing(variable, input))?;
                    match test {
                        TypeTest::IsNull => v.is_null(),
                        TypeTest::IsString => v.is_string(),
                        TypeTest::IsNumeric => v.is_number(),
                        TypeTest::IsBoolean => v.is_boolean(),
                        TypeTest::IsTimestamp => v.as_str().and_then(parse_timestamp).is_some(),
                        TypeTest::IsPresent => true,
                    }
                }
            };
            actual == *expected
        }
        Condition::Matches { variable, pattern } => {
            let v = read(variable, input, context).ok_or_else(|| missing(variable, input))?;
            v.as_str().is_some_and(|s| string_matches(s, pattern))
        }
        Condition::Compare {
            variable,
            kind,
            cmp,
            operand,
        } => {
            let v = read(variable, input, context).ok_or_else(|| missing(variable, input))?;
            let right = match operand {
                Operand::Literal(l) => l.clone(),
                Operand::Path(p) => read(p, input, context).ok_or_else(|| missing(p, input))?,
            };
            compare(*kind, *cmp, &v, &right)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn string_matches_wildcards_and_escapes() {
        assert!(string_matches("log-2024.txt", "log-*.txt"));
        assert!(string_matches("anything", "*"));
        assert!(!string_matches("log.csv", "log-*.txt"));
        assert!(string_matches("a*b", "a\\*b"));
        assert!(!string_matches("axb", "a\\*b"));
        assert!(string_matches("a\\b", "a\\\\b"));
        assert!(string_matches("abcbc", "a*bc"));
    }

    #[test]
    fn type_mismatch_is_false_not_an_error() {
        let c = parse_condition(
            json!({"Variable": "$.x", "NumericEquals": 1})
                .as_object()
                .unwrap(),
            "t",
        )
        .unwrap();
        assert!(!evaluate(&c, &json!({"x": "1"}), &json!({})).unwrap());
        assert!(evaluate(&c, &json!({"x": 1.0}), &json!({})).unwrap());
    }

    #[test]
    fn missing_variable_is_a_runtime_error_except_is_present() {
        let c = parse_condition(
            json!({"Variable": "$.x", "StringEquals": "a"})
                .as_object()
                .unwrap(),
            "t",
        )
        .unwrap();
        assert_eq!(
            evaluate(&c, &json!({}), &json!({})).unwrap_err().error,
            "States.Runtime"
        );
        let p = parse_condition(
            json!({"Variable": "$.x", "IsPresent": false})
                .as_object()
                .unwrap(),
            "t",
        )
        .unwrap();
        assert!(evaluate(&p, &json!({}), &json!({})).unwrap());
    }
}
