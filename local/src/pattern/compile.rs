//! Turns pattern JSON into matchers, refusing what EventBridge refuses.
//!
//! The refusals follow `aws/event-ruler`'s `JsonRuleCompiler` (the parser EventBridge runs):
//! empty objects and arrays, leaves that are not arrays, unknown or malformed match
//! expressions, `$or` that is not an array of at least two objects, and numbers outside the
//! comparable range.

use std::net::IpAddr;

use serde_json::{Map, Number, Value};

use super::{NUMERIC_LIMIT, PatternError};

/// Field names that `$or` branches may not use, because Ruler reserves them for operators.
const RESERVED_IN_OR: [&str; 25] = [
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
    "$or",
];

/// All `fields` must match and, for each entry of `any_of`, at least one branch must match.
#[derive(Debug, Clone)]
pub(crate) struct ObjectMatcher {
    pub(crate) fields: Vec<(Box<str>, FieldMatcher)>,
    pub(crate) any_of: Vec<Vec<ObjectMatcher>>,
}

#[derive(Debug, Clone)]
pub(crate) enum FieldMatcher {
    Leaf(LeafMatcher),
    Object(ObjectMatcher),
}

/// One leaf array: matches when any condition does.
#[derive(Debug, Clone, Default)]
pub(crate) struct LeafMatcher {
    pub(crate) conditions: Vec<Condition>,
    pub(crate) exists_true: bool,
    pub(crate) exists_false: bool,
}

/// A number as both Ruler forms: the comparable key (six decimal places, inside the numeric
/// limit) and the literal value for numbers outside it, such as account ids.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct NumberValue {
    pub(crate) key: Option<i64>,
    pub(crate) integer: Option<i128>,
    pub(crate) float: f64,
}

impl NumberValue {
    pub(crate) fn of(number: &Number) -> Self {
        let integer = number
            .as_i64()
            .map(i128::from)
            .or_else(|| number.as_u64().map(i128::from));
        let float = number.as_f64().unwrap_or(f64::NAN);
        Self {
            key: comparable_key(float),
            integer,
            float,
        }
    }

    pub(crate) fn equals(&self, other: &Self) -> bool {
        match (self.key, other.key) {
            (Some(a), Some(b)) => a == b,
            _ => match (self.integer, other.integer) {
                (Some(a), Some(b)) => a == b,
                _ => self.float == other.float,
            },
        }
    }
}

/// The value Ruler compares numbers by: inside ±5e9, to six digits after the decimal point.
pub(crate) fn comparable_key(value: f64) -> Option<i64> {
    if value.is_finite() && (-NUMERIC_LIMIT..=NUMERIC_LIMIT).contains(&value) {
        // |value * 1e6| <= 5e15 < 2^53, so the cast is exact and cannot saturate.
        Some((value * 1e6).round() as i64)
    } else {
        None
    }
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Bound {
    pub(crate) key: i64,
    pub(crate) inclusive: bool,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct NumericRange {
    pub(crate) low: Option<Bound>,
    pub(crate) high: Option<Bound>,
}

#[derive(Debug, Clone, Copy)]
pub(crate) struct Cidr {
    pub(crate) v6: bool,
    pub(crate) low: u128,
    pub(crate) high: u128,
}

/// `*` matches any run of characters; the pattern is kept as the literal pieces between stars.
#[derive(Debug, Clone)]
pub(crate) struct Wildcard {
    pub(crate) pieces: Vec<Box<str>>,
}

#[derive(Debug, Clone)]
pub(crate) enum Condition {
    String(Box<str>),
    /// A string pattern that is an IP address literal: Ruler compares it as an address.
    Ip(IpAddr),
    Number(NumberValue),
    Bool(bool),
    Null,
    Prefix(Box<str>),
    /// Stored lowercased.
    PrefixIgnoreCase(Box<str>),
    Suffix(Box<str>),
    SuffixIgnoreCase(Box<str>),
    EqualsIgnoreCase(Box<str>),
    Wildcard(Wildcard),
    Numeric(NumericRange),
    Cidr(Cidr),
    AnythingBut(AnythingBut),
}

#[derive(Debug, Clone)]
pub(crate) enum AnythingBut {
    Strings(Vec<Box<str>>),
    Numbers(Vec<i64>),
    Prefixes(Vec<Box<str>>),
    Suffixes(Vec<Box<str>>),
    /// Stored lowercased.
    EqualsIgnoreCase(Vec<Box<str>>),
    Wildcards(Vec<Wildcard>),
}

struct Compiler {
    path: Vec<String>,
}

fn invalid(path: &[String], reason: impl Into<String>) -> PatternError {
    PatternError::Invalid {
        path: path.join("."),
        reason: reason.into(),
    }
}

pub(crate) fn compile_root(pattern: &Value) -> Result<ObjectMatcher, PatternError> {
    let Value::Object(fields) = pattern else {
        return Err(invalid(
            &[],
            format!("the pattern must be a JSON object, not {}", kind(pattern)),
        ));
    };
    let mut compiler = Compiler { path: Vec::new() };
    compiler.object(fields, false)
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

impl Compiler {
    fn err(&self, reason: impl Into<String>) -> PatternError {
        invalid(&self.path, reason)
    }

    fn object(
        &mut self,
        fields: &Map<String, Value>,
        in_or: bool,
    ) -> Result<ObjectMatcher, PatternError> {
        if fields.is_empty() {
            return Err(self.err("empty objects are not allowed"));
        }
        let mut matcher = ObjectMatcher {
            fields: Vec::with_capacity(fields.len()),
            any_of: Vec::new(),
        };
        for (name, value) in fields {
            if name == "$or" {
                self.path.push(name.clone());
                let branches = self.or_branches(value)?;
                self.path.pop();
                matcher.any_of.push(branches);
                continue;
            }
            self.path.push(name.clone());
            if in_or && RESERVED_IN_OR.contains(&name.as_str()) {
                return Err(self.err(format!(
                    "\"{name}\" is a reserved operator name and cannot be a field inside $or"
                )));
            }
            let field = match value {
                Value::Object(inner) => FieldMatcher::Object(self.object(inner, in_or)?),
                Value::Array(values) => FieldMatcher::Leaf(self.leaf(values)?),
                other => {
                    return Err(self.err(format!(
                        "a field must be an object or an array of values, not {}",
                        kind(other)
                    )));
                }
            };
            self.path.pop();
            let (first, field) = split_dotted(name, field);
            matcher.fields.push((first.into(), field));
        }
        Ok(matcher)
    }

    fn or_branches(&mut self, value: &Value) -> Result<Vec<ObjectMatcher>, PatternError> {
        let Value::Array(items) = value else {
            return Err(self.err(format!(
                "$or must be an array of at least 2 objects, not {}",
                kind(value)
            )));
        };
        if items.len() < 2 {
            return Err(self.err(format!(
                "$or must have at least 2 objects, found {}",
                items.len()
            )));
        }
        let mut branches = Vec::with_capacity(items.len());
        for (index, item) in items.iter().enumerate() {
            if let Some(last) = self.path.last_mut() {
                "$or".clone_into(last);
            }
            let Value::Object(fields) = item else {
                return Err(self.err(format!(
                    "$or may only contain objects, element {index} is {}",
                    kind(item)
                )));
            };
            if let Some(last) = self.path.last_mut() {
                *last = format!("$or[{index}]");
            }
            branches.push(self.object(fields, true)?);
        }
        Ok(branches)
    }

    fn leaf(&mut self, values: &[Value]) -> Result<LeafMatcher, PatternError> {
        if values.is_empty() {
            return Err(self.err("empty arrays are not allowed"));
        }
        let mut leaf = LeafMatcher::default();
        for value in values {
            match value {
                Value::String(text) => leaf.conditions.push(match ip_literal(text) {
                    Some(ip) => Condition::Ip(ip),
                    None => Condition::String(text.as_str().into()),
                }),
                Value::Number(number) => {
                    leaf.conditions
                        .push(Condition::Number(NumberValue::of(number)));
                }
                Value::Bool(flag) => leaf.conditions.push(Condition::Bool(*flag)),
                Value::Null => leaf.conditions.push(Condition::Null),
                Value::Object(expression) => match self.expression(expression)? {
                    Expression::Exists(true) => leaf.exists_true = true,
                    Expression::Exists(false) => leaf.exists_false = true,
                    Expression::Condition(condition) => leaf.conditions.push(condition),
                },
                Value::Array(_) => {
                    return Err(self.err(
                        "match values must be strings, numbers, true, false, null or a match expression object, not an array",
                    ));
                }
            }
        }
        Ok(leaf)
    }

    fn expression(&self, expression: &Map<String, Value>) -> Result<Expression, PatternError> {
        let mut entries = expression.iter();
        let Some((operator, operand)) = entries.next() else {
            return Err(self.err("a match expression must name an operator, found {}"));
        };
        if entries.next().is_some() {
            return Err(self.err(format!(
                "only one key is allowed in a match expression, found {}",
                expression.len()
            )));
        }
        let condition = match operator.as_str() {
            "prefix" => match operand {
                Value::String(text) => Condition::Prefix(text.as_str().into()),
                Value::Object(inner) => Condition::PrefixIgnoreCase(lowercase(
                    self.ignore_case_operand("prefix", inner)?,
                )),
                other => {
                    return Err(self.err(format!(
                        "prefix expects a string or {{\"equals-ignore-case\": string}}, not {}",
                        kind(other)
                    )));
                }
            },
            "suffix" => match operand {
                Value::String(text) => Condition::Suffix(text.as_str().into()),
                Value::Object(inner) => Condition::SuffixIgnoreCase(lowercase(
                    self.ignore_case_operand("suffix", inner)?,
                )),
                other => {
                    return Err(self.err(format!(
                        "suffix expects a string or {{\"equals-ignore-case\": string}}, not {}",
                        kind(other)
                    )));
                }
            },
            "equals-ignore-case" => match operand {
                Value::String(text) => Condition::EqualsIgnoreCase(lowercase(text)),
                other => {
                    return Err(self.err(format!(
                        "equals-ignore-case expects a string, not {}",
                        kind(other)
                    )));
                }
            },
            "wildcard" => match operand {
                Value::String(text) => Condition::Wildcard(self.wildcard(text)?),
                other => {
                    return Err(self.err(format!("wildcard expects a string, not {}", kind(other))));
                }
            },
            "numeric" => Condition::Numeric(self.numeric(operand)?),
            "cidr" => match operand {
                Value::String(text) => Condition::Cidr(self.cidr(text)?),
                other => {
                    return Err(self.err(format!("cidr expects a string, not {}", kind(other))));
                }
            },
            "exists" => match operand {
                Value::Bool(flag) => return Ok(Expression::Exists(*flag)),
                other => {
                    return Err(
                        self.err(format!("exists expects true or false, not {}", kind(other)))
                    );
                }
            },
            "anything-but" => Condition::AnythingBut(self.anything_but(operand)?),
            other => {
                return Err(self.err(format!("unrecognized match type \"{other}\"")));
            }
        };
        Ok(Expression::Condition(condition))
    }

    fn ignore_case_operand<'v>(
        &self,
        operator: &str,
        inner: &'v Map<String, Value>,
    ) -> Result<&'v str, PatternError> {
        let mut entries = inner.iter();
        match (entries.next(), entries.next()) {
            (Some((name, Value::String(text))), None) if name == "equals-ignore-case" => Ok(text),
            (Some((name, other)), None) if name == "equals-ignore-case" => Err(self.err(format!(
                "{operator} equals-ignore-case expects a string, not {}",
                kind(other)
            ))),
            (Some((name, _)), None) => Err(self.err(format!(
                "unsupported {operator} pattern \"{name}\", only equals-ignore-case is allowed"
            ))),
            _ => Err(self.err(format!(
                "{operator} expects {{\"equals-ignore-case\": string}} with exactly one key"
            ))),
        }
    }

    fn wildcard(&self, text: &str) -> Result<Wildcard, PatternError> {
        let mut pieces = Vec::new();
        let mut current = String::new();
        let mut chars = text.chars().enumerate().peekable();
        while let Some((position, c)) = chars.next() {
            match c {
                '*' => {
                    if matches!(chars.peek(), Some((_, '*'))) {
                        return Err(self.err(format!(
                            "wildcard \"{text}\" has consecutive wildcard characters at position {position}"
                        )));
                    }
                    pieces.push(std::mem::take(&mut current).into_boxed_str());
                }
                '\\' => match chars.next() {
                    Some((_, escaped @ ('*' | '\\'))) => current.push(escaped),
                    _ => {
                        return Err(self.err(format!(
                            "wildcard \"{text}\" has an invalid escape at position {position}: only \\* and \\\\ are allowed"
                        )));
                    }
                },
                other => current.push(other),
            }
        }
        pieces.push(current.into_boxed_str());
        Ok(Wildcard { pieces })
    }

    fn numeric(&self, operand: &Value) -> Result<NumericRange, PatternError> {
        let Value::Array(terms) = operand else {
            return Err(self.err(format!(
                "numeric expects an array like [\">\", 0, \"<=\", 5], not {}",
                kind(operand)
            )));
        };
        let operator_at = |index: usize| -> Result<&str, PatternError> {
            match terms.get(index) {
                Some(Value::String(op)) => Ok(op.as_str()),
                Some(other) => Err(self.err(format!(
                    "numeric expects an operator (=, <, <=, >, >=) at position {index}, not {}",
                    kind(other)
                ))),
                None => Err(self.err("numeric expects at least an operator and a number")),
            }
        };
        let number_at = |index: usize, op: &str| -> Result<i64, PatternError> {
            match terms.get(index) {
                Some(Value::Number(number)) => {
                    let value = number.as_f64().unwrap_or(f64::NAN);
                    comparable_key(value).ok_or_else(|| {
                        self.err(format!(
                            "numeric {op} {number} is out of range: values must be between -5.0e9 and 5.0e9 inclusive"
                        ))
                    })
                }
                Some(other) => Err(self.err(format!(
                    "numeric expects a number after \"{op}\", not {}",
                    kind(other)
                ))),
                None => Err(self.err(format!("numeric expects a number after \"{op}\""))),
            }
        };
        let first = operator_at(0)?;
        let value = number_at(1, first)?;
        let (range, used) = match first {
            "=" => (
                NumericRange {
                    low: Some(Bound {
                        key: value,
                        inclusive: true,
                    }),
                    high: Some(Bound {
                        key: value,
                        inclusive: true,
                    }),
                },
                2,
            ),
            "<" | "<=" => (
                NumericRange {
                    low: None,
                    high: Some(Bound {
                        key: value,
                        inclusive: first == "<=",
                    }),
                },
                2,
            ),
            ">" | ">=" => {
                let low = Some(Bound {
                    key: value,
                    inclusive: first == ">=",
                });
                if terms.len() > 2 {
                    let second = operator_at(2)?;
                    if second != "<" && second != "<=" {
                        return Err(self.err(format!(
                            "numeric range after \"{first}\" must continue with \"<\" or \"<=\", not \"{second}\""
                        )));
                    }
                    let top = number_at(3, second)?;
                    if top <= value {
                        return Err(self.err(format!(
                            "numeric range bottom must be less than top, found {first} {} {second} {}",
                            display_term(terms.get(1)),
                            display_term(terms.get(3))
                        )));
                    }
                    (
                        NumericRange {
                            low,
                            high: Some(Bound {
                                key: top,
                                inclusive: second == "<=",
                            }),
                        },
                        4,
                    )
                } else {
                    (NumericRange { low, high: None }, 2)
                }
            }
            other => {
                return Err(self.err(format!(
                    "unrecognized numeric operator \"{other}\": use =, <, <=, > or >="
                )));
            }
        };
        if terms.len() > used {
            return Err(self.err(format!(
                "too many elements in numeric expression: {} given, at most {used} allowed here",
                terms.len()
            )));
        }
        Ok(range)
    }

    fn cidr(&self, text: &str) -> Result<Cidr, PatternError> {
        let Some((address, bits)) = text.split_once('/') else {
            return Err(self.err(format!("malformed cidr \"{text}\": one '/' is required")));
        };
        if bits.contains('/') {
            return Err(self.err(format!("malformed cidr \"{text}\": one '/' is required")));
        }
        let bits: u32 = bits.parse().map_err(|_| {
            self.err(format!(
                "malformed cidr \"{text}\": mask bits must be a non-negative integer"
            ))
        })?;
        let Some(ip) = ip_literal(address) else {
            return Err(self.err(format!(
                "malformed cidr \"{text}\": \"{address}\" is not an IP address"
            )));
        };
        // Ruler (CIDR.cidr) refuses /32 for IPv4 and /128 for IPv6: use an exact address instead.
        let (v6, base, width) = match ip {
            IpAddr::V4(v4) => (false, u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (true, u128::from(v6), 128),
        };
        if bits >= width {
            return Err(self.err(format!(
                "malformed cidr \"{text}\": {} mask bits must be less than {width}",
                if v6 { "IPv6" } else { "IPv4" }
            )));
        }
        let host_bits = width - bits;
        let host_mask = if host_bits >= 128 {
            u128::MAX
        } else {
            (1u128 << host_bits) - 1
        };
        // Ruler's range starts at the address as written, not at the masked network address.
        Ok(Cidr {
            v6,
            low: base,
            high: base | host_mask,
        })
    }

    fn anything_but(&self, operand: &Value) -> Result<AnythingBut, PatternError> {
        match operand {
            Value::String(text) => Ok(AnythingBut::Strings(vec![text.as_str().into()])),
            Value::Number(number) => Ok(AnythingBut::Numbers(vec![
                self.anything_but_number(number)?,
            ])),
            Value::Array(items) => {
                let strings: Vec<Box<str>> = items
                    .iter()
                    .filter_map(|item| item.as_str().map(Into::into))
                    .collect();
                if !items.is_empty() && strings.len() == items.len() {
                    return Ok(AnythingBut::Strings(strings));
                }
                if !items.is_empty() && items.iter().all(Value::is_number) {
                    let mut keys = Vec::with_capacity(items.len());
                    for item in items {
                        if let Value::Number(number) = item {
                            keys.push(self.anything_but_number(number)?);
                        }
                    }
                    return Ok(AnythingBut::Numbers(keys));
                }
                Err(self.err(
                    "anything-but list must contain only strings or only numbers (not empty, mixed, null, boolean or objects)",
                ))
            }
            Value::Object(inner) => {
                let mut entries = inner.iter();
                let (Some((name, value)), None) = (entries.next(), entries.next()) else {
                    return Err(self.err(
                        "anything-but object must have exactly one key: prefix, suffix, wildcard or equals-ignore-case",
                    ));
                };
                if !matches!(
                    name.as_str(),
                    "prefix" | "suffix" | "equals-ignore-case" | "wildcard"
                ) {
                    return Err(self.err(format!(
                        "unsupported anything-but pattern \"{name}\": use prefix, suffix, wildcard or equals-ignore-case"
                    )));
                }
                let texts = self.anything_but_strings(name, value)?;
                match name.as_str() {
                    "prefix" | "suffix" => {
                        if texts.iter().any(|t| t.is_empty()) {
                            return Err(self.err(format!(
                                "anything-but {name} must not be an empty string"
                            )));
                        }
                        let texts = texts.into_iter().map(Into::into).collect();
                        Ok(if name == "prefix" {
                            AnythingBut::Prefixes(texts)
                        } else {
                            AnythingBut::Suffixes(texts)
                        })
                    }
                    "equals-ignore-case" => Ok(AnythingBut::EqualsIgnoreCase(
                        texts.into_iter().map(lowercase).collect(),
                    )),
                    "wildcard" => {
                        let mut wildcards = Vec::with_capacity(texts.len());
                        for text in texts {
                            wildcards.push(self.wildcard(text)?);
                        }
                        Ok(AnythingBut::Wildcards(wildcards))
                    }
                    other => Err(self.err(format!(
                        "unsupported anything-but pattern \"{other}\": use prefix, suffix, wildcard or equals-ignore-case"
                    ))),
                }
            }
            other => Err(self.err(format!(
                "anything-but expects a string, a number, a list of them or an object, not {}",
                kind(other)
            ))),
        }
    }

    fn anything_but_strings<'v>(
        &self,
        name: &str,
        value: &'v Value,
    ) -> Result<Vec<&'v str>, PatternError> {
        match value {
            Value::String(text) => Ok(vec![text.as_str()]),
            Value::Array(items) => items
                .iter()
                .map(|item| {
                    item.as_str().ok_or_else(|| {
                        self.err(format!(
                            "anything-but {name} list may only contain strings, found {}",
                            kind(item)
                        ))
                    })
                })
                .collect(),
            other => Err(self.err(format!(
                "anything-but {name} expects a string or a list of strings, not {}",
                kind(other)
            ))),
        }
    }

    fn anything_but_number(&self, number: &Number) -> Result<i64, PatternError> {
        comparable_key(number.as_f64().unwrap_or(f64::NAN)).ok_or_else(|| {
            self.err(format!(
                "anything-but number {number} is out of range: values must be between -5.0e9 and 5.0e9 inclusive"
            ))
        })
    }
}

/// Ruler joins nested keys with dots, so a pattern key `"state.status"` is the path `state` ->
/// `status` (event-ruler README, "Compiled rules and JSON keys with dots"). The field is
/// wrapped in one object matcher per segment after the first; two spellings of one path are
/// then two entries that must both match.
fn split_dotted(name: &str, field: FieldMatcher) -> (&str, FieldMatcher) {
    let mut segments = name.split('.');
    let first = segments.next().unwrap_or(name);
    let rest: Vec<&str> = segments.collect();
    let field = rest.iter().rev().fold(field, |inner, segment| {
        FieldMatcher::Object(ObjectMatcher {
            fields: vec![((*segment).into(), inner)],
            any_of: Vec::new(),
        })
    });
    (first, field)
}

enum Expression {
    Exists(bool),
    Condition(Condition),
}

fn display_term(term: Option<&Value>) -> String {
    term.map(Value::to_string).unwrap_or_default()
}

pub(crate) fn lowercase(text: &str) -> Box<str> {
    text.chars()
        .flat_map(char::to_lowercase)
        .collect::<String>()
        .into_boxed_str()
}

/// Parses `text` as an IP address when it has the shape Ruler treats as one: dotted decimal
/// for IPv4, hex digits and colons for IPv6.
pub(crate) fn ip_literal(text: &str) -> Option<IpAddr> {
    let v4_shape = text.split('.').count() == 4
        && text
            .split('.')
            .all(|part| !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit()));
    let v6_shape = text.contains(':') && text.bytes().all(|b| b == b':' || b.is_ascii_hexdigit());
    if v4_shape || v6_shape {
        text.parse().ok()
    } else {
        None
    }
}
