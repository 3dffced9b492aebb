//! EventBridge's limit on wildcard patterns ("Rule is too complex").
//!
//! EventBridge refuses a rule whose wildcards make matching too non-deterministic
//! (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html,
//! "Wildcards and event pattern complexity": "If a rule is too complex, EventBridge returns an
//! InvalidEventPatternException when attempting to create the rule"). The measure is
//! event-ruler's `MachineComplexityEvaluator`: the largest number of wildcard-pattern prefixes
//! that one input value can be in at the same time, for the wildcards of one field. Each
//! pattern is a small automaton over the bytes of the quoted JSON string (Ruler matches values
//! with their quotes); the subsets of states reachable from the start are explored, and each
//! state counts once for its pattern.
//!
//! AWS does not publish the threshold. [`MAX_COMPLEXITY`] is the one public reports fix:
//! three `*:stack/NAME/*` alternatives on one field (complexity 9 by this measure) are
//! accepted and four (12) are refused "Rule is too complex"; `*:*:*:*:*:event-bus/*` (11)
//! is refused, `arn:aws:events:us-east-1:*:event-bus/*` (3) accepted.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde_json::{Map, Value};

use super::PatternError;

/// The highest complexity accepted.
pub const MAX_COMPLEXITY: usize = 10;

/// AWS's reason, as `PutRule` and `TestEventPattern` give it.
pub const TOO_COMPLEX: &str = "Rule is too complex - try using fewer wildcard characters or fewer repeating character sequences after a wildcard character";

/// A pathological pattern set could have very many reachable state sets; past this many the
/// rule is refused as too complex rather than explored further.
const MAX_EXPLORED_SETS: usize = 100_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Token {
    Byte(u8),
    Star,
}

/// Refuses `pattern` (already compiled, so well formed) when the wildcards of one of its
/// fields are too complex.
pub(crate) fn check(pattern: &Value) -> Result<(), PatternError> {
    let mut fields: BTreeMap<String, Vec<String>> = BTreeMap::new();
    if let Value::Object(root) = pattern {
        collect(root, &mut Vec::new(), &mut fields);
    }
    for (path, wildcards) in fields {
        if complexity(&wildcards) > MAX_COMPLEXITY {
            return Err(PatternError::Invalid {
                path,
                reason: TOO_COMPLEX.to_owned(),
            });
        }
    }
    Ok(())
}

/// Gathers the wildcard strings of every field, by dotted path; `$or` branches add to the
/// paths they name, as Ruler compiles them into the same machine.
fn collect(
    object: &Map<String, Value>,
    path: &mut Vec<String>,
    out: &mut BTreeMap<String, Vec<String>>,
) {
    for (name, value) in object {
        if name == "$or" {
            if let Value::Array(branches) = value {
                for branch in branches {
                    if let Value::Object(fields) = branch {
                        collect(fields, path, out);
                    }
                }
            }
            continue;
        }
        path.push(name.clone());
        match value {
            Value::Object(inner) => collect(inner, path, out),
            Value::Array(leaf) => {
                let wildcards: Vec<String> = leaf.iter().flat_map(wildcards_of).collect();
                if !wildcards.is_empty() {
                    let entry = out.entry(path.join(".")).or_default();
                    for wildcard in wildcards {
                        if !entry.contains(&wildcard) {
                            entry.push(wildcard);
                        }
                    }
                }
            }
            _ => {}
        }
        path.pop();
    }
}

/// The wildcard strings of one leaf value: `{"wildcard": s}` and
/// `{"anything-but": {"wildcard": s | [s, ...]}}`. Both kinds are kept apart (a prefix
/// marks the kind), as they are different patterns to Ruler.
fn wildcards_of(value: &Value) -> Vec<String> {
    let Value::Object(operator) = value else {
        return Vec::new();
    };
    if let Some(Value::String(text)) = operator.get("wildcard") {
        return vec![format!("w{text}")];
    }
    match operator.get("anything-but") {
        Some(Value::Object(inner)) => match inner.get("wildcard") {
            Some(Value::String(text)) => vec![format!("a{text}")],
            Some(Value::Array(items)) => items
                .iter()
                .filter_map(Value::as_str)
                .map(|text| format!("a{text}"))
                .collect(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    }
}

/// The bytes Ruler's automaton reads for a wildcard value: the quoted string, with `\*` and
/// `\\` as literal characters.
fn tokens(kind_and_text: &str) -> Vec<Token> {
    let text = kind_and_text.get(1..).unwrap_or_default();
    let mut out = vec![Token::Byte(b'"')];
    let mut bytes = text.bytes();
    while let Some(byte) = bytes.next() {
        match byte {
            b'*' => out.push(Token::Star),
            b'\\' => out.push(Token::Byte(bytes.next().unwrap_or(b'\\'))),
            other => out.push(Token::Byte(other)),
        }
    }
    out.push(Token::Byte(b'"'));
    out
}

/// The largest number of wildcard-pattern prefixes one input can be in at once; past
/// [`MAX_COMPLEXITY`] the first figure found above it (the exact maximum is not needed).
/// Equal patterns count once, as in Ruler.
pub(crate) fn complexity(wildcards: &[String]) -> usize {
    let mut automata: Vec<Vec<Token>> = wildcards.iter().map(|w| tokens(w)).collect();
    automata.sort();
    automata.dedup();
    // Global state ids: automaton a's position i is offsets[a] + i.
    let mut offsets = Vec::with_capacity(automata.len());
    let mut total = 0usize;
    for automaton in &automata {
        offsets.push(total);
        total += automaton.len() + 1;
    }
    let locate = |state: usize| -> (usize, usize) {
        let a = offsets.partition_point(|&o| o <= state) - 1;
        (a, state - offsets[a])
    };
    let close = |set: &mut Vec<usize>| {
        let mut i = 0;
        while i < set.len() {
            let (a, pos) = locate(set[i]);
            if automata[a].get(pos) == Some(&Token::Star) && !set.contains(&(set[i] + 1)) {
                set.push(set[i] + 1);
            }
            i += 1;
        }
        set.sort_unstable();
        set.dedup();
    };
    let mut alphabet: Vec<u8> = automata
        .iter()
        .flatten()
        .filter_map(|t| match t {
            Token::Byte(b) => Some(*b),
            Token::Star => None,
        })
        .collect();
    alphabet.sort_unstable();
    alphabet.dedup();
    // One byte that no pattern names stands for all of them.
    if let Some(other) = (0..=u8::MAX).find(|b| alphabet.binary_search(b).is_err()) {
        alphabet.push(other);
    }

    let mut start: Vec<usize> = offsets.clone();
    close(&mut start);
    let mut seen: HashSet<Vec<usize>> = HashSet::new();
    let mut queue = VecDeque::from([start]);
    let mut highest = 0;
    while let Some(set) = queue.pop_front() {
        for &byte in &alphabet {
            let mut next = Vec::new();
            for &state in &set {
                let (a, pos) = locate(state);
                let automaton = &automata[a];
                if pos > 0 && automaton.get(pos - 1) == Some(&Token::Star) {
                    next.push(state); // a star takes any byte and stays
                }
                if automaton.get(pos) == Some(&Token::Byte(byte)) {
                    next.push(state + 1);
                }
            }
            if next.is_empty() {
                continue;
            }
            close(&mut next);
            highest = highest.max(next.len());
            if highest > MAX_COMPLEXITY {
                return highest;
            }
            if seen.len() > MAX_EXPLORED_SETS {
                return MAX_COMPLEXITY + 1;
            }
            if seen.insert(next.clone()) {
                queue.push_back(next);
            }
        }
    }
    highest
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The complexity of wildcard values given as plain strings.
    fn of(patterns: &[&str]) -> usize {
        complexity(&patterns.iter().map(|p| format!("w{p}")).collect::<Vec<_>>())
    }

    #[test]
    fn ruler_figures_for_single_patterns() {
        // The figures of aws/event-ruler's MachineComplexityEvaluatorTest: the opening quote
        // Ruler adds to string values never raises them.
        assert!(of(&["*a*a*a*a*a*a*a*a*"]) > MAX_COMPLEXITY); // Ruler: 17
        assert_eq!(of(&["a*bbb"]), 4); // "abbb": a*, a*b, a*bb, a*bbb
        assert_eq!(of(&["a*bc"]), 2);
        assert_eq!(of(&["*ab*b*b*"]), 7); // Ruler: 7 ("abbbab")
    }

    #[test]
    fn duplicate_patterns_count_once() {
        assert_eq!(of(&["ab*c", "ab*c"]), of(&["ab*c"]));
    }

    #[test]
    fn a_pattern_without_wildcards_has_one_prefix() {
        assert_eq!(of(&["abc"]), 1);
    }
}
