//! EventBridge event patterns: compile once, match every event cheaply.
//!
//! The semantics follow Amazon EventBridge and the open-source matcher it is built on
//! (`aws/event-ruler`): a pattern is a JSON object whose leaves are arrays of allowed values;
//! every field must match (AND), any value in a leaf array may match (OR), `$or` combines
//! sub-patterns, and an event array matches when any of its elements does.
//!
//! ```
//! use std::str::FromStr;
//! use trip_local::pattern::EventPattern;
//!
//! let pattern = EventPattern::from_str(r#"{"source": [{"prefix": "trip."}]}"#).unwrap();
//! let event = serde_json::json!({"source": "trip.hotel", "detail-type": "HotelBooked"});
//! assert!(pattern.matches(&event));
//! ```

mod compile;
mod complexity;
mod dotted;
mod eval;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

/// The longest pattern EventBridge accepts, in characters (`TestEventPattern` and `PutRule`
/// document `EventPattern` with a maximum length of 4096).
pub const MAX_PATTERN_CHARS: usize = 4096;

/// The numeric range EventBridge can compare ("limited to values between -5.0e9 and +5.0e9
/// inclusive, with 15 digits of precision, or six digits to the right of the decimal point").
pub const NUMERIC_LIMIT: f64 = 5.0e9;

/// Envelope fields an event handed to `TestEventPattern` must have. The API reference also
/// lists `resources`, but the service does not enforce it (nor does `PutEvents`), so neither
/// do we: a missing `resources` is simply a field the event does not have.
pub const REQUIRED_TEST_EVENT_FIELDS: [&str; 6] =
    ["id", "account", "source", "time", "region", "detail-type"];

/// What `TestEventPattern` answers for an event it refuses (a `ValidationException`).
pub const INVALID_EVENT_MESSAGE: &str = "Parameter Event is not valid.";

/// Why a pattern (or, for [`test_event_pattern`], the event) was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    /// The pattern text is not JSON at all.
    #[error("invalid event pattern: not valid JSON: {0}")]
    Syntax(String),
    /// The pattern is longer than EventBridge allows.
    #[error("invalid event pattern: {chars} characters, the limit is {limit}")]
    TooLong { chars: usize, limit: usize },
    /// The pattern is JSON but EventBridge would reject it; `path` names the field
    /// (dotted, `$or` branches as `$or[i]`), empty for the pattern itself.
    #[error("invalid event pattern{}: {reason}", at_path(.path))]
    Invalid { path: String, reason: String },
    /// The event handed to [`test_event_pattern`] is not one `TestEventPattern` accepts.
    /// Displays as AWS's message; `reason` says which check failed, for humans.
    #[error("{INVALID_EVENT_MESSAGE}")]
    InvalidEvent { reason: String },
}

impl PatternError {
    /// The error code EventBridge answers with: `ValidationException` for a refused event,
    /// `InvalidEventPatternException` for a refused pattern.
    pub fn aws_error_code(&self) -> &'static str {
        match self {
            PatternError::InvalidEvent { .. } => "ValidationException",
            _ => "InvalidEventPatternException",
        }
    }
}

fn at_path(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at {path}")
    }
}

/// A compiled event pattern. Compile once with [`EventPattern::parse`] or
/// [`EventPattern::from_str`], then call [`EventPattern::matches`] for every event.
#[derive(Debug, Clone)]
pub struct EventPattern {
    root: compile::ObjectMatcher,
    source: Value,
}

impl EventPattern {
    /// Compiles a pattern given as parsed JSON, refusing what EventBridge would refuse.
    pub fn parse(pattern: &Value) -> Result<Self, PatternError> {
        let chars = serde_json::to_string(pattern)
            .map(|text| text.chars().count())
            .unwrap_or(0);
        if chars > MAX_PATTERN_CHARS {
            return Err(PatternError::TooLong {
                chars,
                limit: MAX_PATTERN_CHARS,
            });
        }
        let root = compile::compile_root(pattern)?;
        complexity::check(pattern)?;
        Ok(Self {
            root,
            source: pattern.clone(),
        })
    }

    /// Whether `event` (a full EventBridge envelope: `source`, `detail-type`, `detail`, ...)
    /// matches this pattern. Never panics; allocates only for an event with dotted keys,
    /// which EventBridge reads as paths (`"state.status"` is `state` -> `status`).
    pub fn matches(&self, event: &Value) -> bool {
        match dotted::expand(event) {
            std::borrow::Cow::Borrowed(event) => eval::matches_root(&self.root, event),
            std::borrow::Cow::Owned(expanded) => eval::matches_root(&self.root, &expanded),
        }
    }

    /// The pattern as it was given, for display and for comparing with deployed rules.
    pub fn as_json(&self) -> &Value {
        &self.source
    }
}

impl FromStr for EventPattern {
    type Err = PatternError;

    /// Compiles a pattern from its JSON text (the form `PutRule` and the CLI take).
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let chars = text.chars().count();
        if chars > MAX_PATTERN_CHARS {
            return Err(PatternError::TooLong {
                chars,
                limit: MAX_PATTERN_CHARS,
            });
        }
        let value: Value =
            serde_json::from_str(text).map_err(|e| PatternError::Syntax(e.to_string()))?;
        Self::parse(&value)
    }
}

impl fmt::Display for EventPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.source)
    }
}

/// Like `aws events test-event-pattern`: compiles `pattern_json`, checks that `event_json` is
/// an event with the envelope fields `TestEventPattern` requires, and says whether it matches.
/// The pattern is checked first, as AWS does.
pub fn test_event_pattern(pattern_json: &str, event_json: &str) -> Result<bool, PatternError> {
    let pattern = EventPattern::from_str(pattern_json)?;
    let event: Value =
        serde_json::from_str(event_json).map_err(|e| PatternError::InvalidEvent {
            reason: format!("not valid JSON: {e}"),
        })?;
    check_test_event(&event)?;
    Ok(pattern.matches(&event))
}

fn check_test_event(event: &Value) -> Result<(), PatternError> {
    let Some(fields) = event.as_object() else {
        return Err(PatternError::InvalidEvent {
            reason: "the event must be a JSON object".to_owned(),
        });
    };
    for name in REQUIRED_TEST_EVENT_FIELDS {
        match fields.get(name) {
            None => {
                return Err(PatternError::InvalidEvent {
                    reason: format!("missing required field \"{name}\""),
                });
            }
            // AWS accepts an envelope field given as an array (of strings) and matches the
            // pattern against its elements, like any event array.
            Some(Value::String(_)) => {}
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {}
            Some(_) => {
                return Err(PatternError::InvalidEvent {
                    reason: format!("field \"{name}\" must be a string or an array of strings"),
                });
            }
        }
    }
    if let Some(resources) = fields.get("resources")
        && !matches!(resources, Value::Array(_))
    {
        return Err(PatternError::InvalidEvent {
            reason: "field \"resources\" must be an array".to_owned(),
        });
    }
    Ok(())
}
