//! JSONPath as ASL uses it: reference paths (`$.a.b`, `$['a']`, `$.a[0]`) for `ResultPath` and
//! friends, and the general subset (`[*]`, `..x`, slices, unions) that `InputPath`, `OutputPath`
//! and `Parameters` accept. Also `Parameters`-style payload templates (`"key.$": path|intrinsic`).

use serde_json::{Map, Value};

use crate::error::Failure;
use crate::intrinsics::{self, RandomSource};

#[derive(Debug, Clone, PartialEq)]
pub enum Segment {
    Field(String),
    Index(i64),
    Wildcard,
    Descendant(String),
    DescendantWildcard,
    Slice(Option<i64>, Option<i64>, Option<i64>),
    Union(Vec<Segment>),
    /// `[?(...)]`: the elements of an array (or an object itself) that pass the filter.
    Filter(Box<crate::filter::Filter>),
}

/// A parsed JSONPath; `context` is true for `$$` (the context object).
#[derive(Debug, Clone, PartialEq)]
pub struct Path {
    pub context: bool,
    pub segments: Vec<Segment>,
    text: String,
}

impl std::fmt::Display for Path {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

fn is_name_char(c: char) -> bool {
    !matches!(
        c,
        '.' | '[' | ']' | ' ' | '\t' | '\n' | '\r' | ',' | '(' | ')' | '\'' | '"'
    )
}

impl Path {
    /// Parses `$...` or `$$...`.
    pub fn parse(text: &str) -> Result<Path, String> {
        let chars: Vec<char> = text.chars().collect();
        let mut i;
        let context;
        if text.starts_with("$$") {
            context = true;
            i = 2;
        } else if text.starts_with('$') {
            context = false;
            i = 1;
        } else {
            return Err(format!("path '{text}' must start with '$'"));
        }
        let mut segments = Vec::new();
        while i < chars.len() {
            let c = chars[i];
            if c == '.' {
                if chars.get(i + 1) == Some(&'.') {
                    i += 2;
                    if chars.get(i) == Some(&'*') {
                        segments.push(Segment::DescendantWildcard);
                        i += 1;
                    } else if chars.get(i) == Some(&'[') {
                        let (seg, next) = parse_bracket(&chars, i, text)?;
                        match seg {
                            Segment::Field(f) => segments.push(Segment::Descendant(f)),
                            Segment::Wildcard => segments.push(Segment::DescendantWildcard),
                            _ => {
                                return Err(format!("path '{text}': only names may follow '..'"));
                            }
                        }
                        i = next;
                    } else {
                        let start = i;
                        while i < chars.len() && is_name_char(chars[i]) {
                            i += 1;
                        }
                        if start == i {
                            return Err(format!("path '{text}': empty name after '..'"));
                        }
                        segments.push(Segment::Descendant(chars[start..i].iter().collect()));
                    }
                } else {
                    i += 1;
                    if chars.get(i) == Some(&'*') {
                        segments.push(Segment::Wildcard);
                        i += 1;
                        continue;
                    }
                    let start = i;
                    while i < chars.len() && is_name_char(chars[i]) {
                        i += 1;
                    }
                    if start == i {
                        return Err(format!("path '{text}': empty name after '.'"));
                    }
                    segments.push(Segment::Field(chars[start..i].iter().collect()));
                }
            } else if c == '[' {
                let (seg, next) = parse_bracket(&chars, i, text)?;
                segments.push(seg);
                i = next;
            } else {
                return Err(format!(
                    "path '{text}': unexpected character '{c}' at position {i}"
                ));
            }
        }
        Ok(Path {
            context,
            segments,
            text: text.to_string(),
        })
    }

    /// The root path `$`.
    pub fn root() -> Path {
        Path {
            context: false,
            segments: Vec::new(),
            text: "$".into(),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// A reference path names exactly one node: only names and non-negative indexes.
    pub fn is_reference(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Field(_)) || matches!(s, Segment::Index(i) if *i >= 0))
    }

    /// Definite paths select at most one node; the others select a list.
    pub fn is_definite(&self) -> bool {
        self.segments
            .iter()
            .all(|s| matches!(s, Segment::Field(_) | Segment::Index(_)))
    }

    /// Selects from `root`. A definite path yields the node (or `None` when it is absent); an
    /// indefinite one yields an array of every match (possibly empty).
    pub fn select(&self, root: &Value) -> Option<Value> {
        if self.is_definite() {
            let mut cur = root;
            for seg in &self.segments {
                cur = match seg {
                    Segment::Field(f) => cur.as_object()?.get(f)?,
                    Segment::Index(i) => {
                        let arr = cur.as_array()?;
                        let idx = if *i < 0 {
                            let back = usize::try_from(i.unsigned_abs()).ok()?;
                            arr.len().checked_sub(back)?
                        } else {
                            usize::try_from(*i).ok()?
                        };
                        arr.get(idx)?
                    }
                    _ => return None,
                };
            }
            return Some(cur.clone());
        }
        let mut current: Vec<&Value> = vec![root];
        for seg in &self.segments {
            let mut next = Vec::new();
            for v in current {
                apply_segment(seg, v, root, &mut next);
            }
            current = next;
        }
        Some(Value::Array(current.into_iter().cloned().collect()))
    }

    /// Why a definite path selects nothing from `root`, in the words of the Jayway JsonPath
    /// library Step Functions evaluates paths with: a missing last step is
    /// `No results for path: $['a']['x']`, a missing step before it is
    /// `Missing property in path $['a']`.
    pub fn missing_reason(&self, root: &Value) -> String {
        let mut cur = Some(root);
        let mut walked = String::from("$");
        let last = self.segments.len().saturating_sub(1);
        for (i, seg) in self.segments.iter().enumerate() {
            let (step, next) = match seg {
                Segment::Field(f) => (
                    format!("['{f}']"),
                    cur.and_then(Value::as_object).and_then(|o| o.get(f)),
                ),
                Segment::Index(n) => (
                    format!("[{n}]"),
                    cur.and_then(Value::as_array).and_then(|a| {
                        let idx = if *n < 0 {
                            a.len().checked_sub(usize::try_from(n.unsigned_abs()).ok()?)
                        } else {
                            usize::try_from(*n).ok()
                        };
                        a.get(idx?)
                    }),
                ),
                _ => return format!("No results for path: {}", self.normalized()),
            };
            walked.push_str(&step);
            if next.is_none() {
                if i < last && matches!(seg, Segment::Field(_)) && cur.is_some_and(Value::is_object)
                {
                    return format!("Missing property in path {walked}");
                }
                return format!("No results for path: {}", self.normalized());
            }
            cur = next;
        }
        format!("No results for path: {}", self.normalized())
    }

    /// The path as Jayway prints it: `$['a'][0]['b']`.
    pub fn normalized(&self) -> String {
        let mut out = String::from(if self.context { "$$" } else { "$" });
        for seg in &self.segments {
            match seg {
                Segment::Field(f) => out.push_str(&format!("['{f}']")),
                Segment::Index(n) => out.push_str(&format!("[{n}]")),
                _ => return self.text.clone(),
            }
        }
        out
    }

    /// Writes `value` at this reference path inside `root`, creating missing objects on the way
    /// (`ResultPath` semantics).
    pub fn set(&self, root: Value, value: Value) -> Result<Value, String> {
        if !self.is_reference() {
            return Err(format!("'{}' is not a reference path", self.text));
        }
        if self.segments.is_empty() {
            return Ok(value);
        }
        let mut root = root;
        set_in(&mut root, &self.segments, value, &self.text)?;
        Ok(root)
    }
}

fn set_in(node: &mut Value, segs: &[Segment], value: Value, text: &str) -> Result<(), String> {
    let Some((first, rest)) = segs.split_first() else {
        *node = value;
        return Ok(());
    };
    match first {
        Segment::Field(f) => {
            if node.is_null() && !rest.is_empty() {
                *node = Value::Object(Map::new());
            }
            let obj = node.as_object_mut().ok_or_else(|| {
                format!("cannot set '{text}': field '{f}' is not inside an object")
            })?;
            if rest.is_empty() {
                obj.insert(f.clone(), value);
                Ok(())
            } else {
                let child = obj
                    .entry(f.clone())
                    .or_insert_with(|| Value::Object(Map::new()));
                set_in(child, rest, value, text)
            }
        }
        Segment::Index(i) => {
            let arr = node.as_array_mut().ok_or_else(|| {
                format!("cannot set '{text}': index [{i}] is not inside an array")
            })?;
            let idx = usize::try_from(*i).map_err(|_| format!("cannot set '{text}': bad index"))?;
            let slot = arr
                .get_mut(idx)
                .ok_or_else(|| format!("cannot set '{text}': index [{i}] is out of bounds"))?;
            set_in(slot, rest, value, text)
        }
        _ => Err(format!("'{text}' is not a reference path")),
    }
}

fn parse_bracket(chars: &[char], open: usize, text: &str) -> Result<(Segment, usize), String> {
    let mut i = open + 1;
    let mut parts: Vec<Segment> = Vec::new();
    loop {
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        let c = *chars
            .get(i)
            .ok_or_else(|| format!("path '{text}': unclosed '['"))?;
        if c == '\'' || c == '"' {
            let quote = c;
            i += 1;
            let mut s = String::new();
            loop {
                let ch = *chars
                    .get(i)
                    .ok_or_else(|| format!("path '{text}': unclosed quote"))?;
                if ch == '\\' {
                    let esc = *chars
                        .get(i + 1)
                        .ok_or_else(|| format!("path '{text}': dangling escape"))?;
                    s.push(esc);
                    i += 2;
                } else if ch == quote {
                    i += 1;
                    break;
                } else {
                    s.push(ch);
                    i += 1;
                }
            }
            parts.push(Segment::Field(s));
        } else if c == '*' {
            parts.push(Segment::Wildcard);
            i += 1;
        } else if c == '?' {
            let (filter, next) = parse_filter(chars, i, text)?;
            parts.push(Segment::Filter(Box::new(filter)));
            i = next;
        } else {
            let start = i;
            while chars
                .get(i)
                .is_some_and(|c| c.is_ascii_digit() || *c == '-' || *c == ':' || c.is_whitespace())
            {
                i += 1;
            }
            let raw: String = chars[start..i].iter().collect();
            let raw = raw.trim();
            if raw.is_empty() {
                return Err(format!("path '{text}': bad subscript at position {start}"));
            }
            if raw.contains(':') {
                let nums: Vec<&str> = raw.split(':').collect();
                if nums.len() > 3 {
                    return Err(format!("path '{text}': bad slice '{raw}'"));
                }
                let parse = |s: &str| -> Result<Option<i64>, String> {
                    let s = s.trim();
                    if s.is_empty() {
                        Ok(None)
                    } else {
                        s.parse::<i64>()
                            .map(Some)
                            .map_err(|_| format!("path '{text}': bad slice '{raw}'"))
                    }
                };
                let a = parse(nums.first().copied().unwrap_or(""))?;
                let b = parse(nums.get(1).copied().unwrap_or(""))?;
                let c = parse(nums.get(2).copied().unwrap_or(""))?;
                if c == Some(0) {
                    return Err(format!("path '{text}': slice step cannot be 0"));
                }
                parts.push(Segment::Slice(a, b, c));
            } else {
                let n = raw
                    .parse::<i64>()
                    .map_err(|_| format!("path '{text}': bad index '{raw}'"))?;
                parts.push(Segment::Index(n));
            }
        }
        while chars.get(i).is_some_and(|c| c.is_whitespace()) {
            i += 1;
        }
        match chars.get(i) {
            Some(']') => {
                i += 1;
                break;
            }
            Some(',') => {
                i += 1;
            }
            _ => return Err(format!("path '{text}': expected ']' at position {i}")),
        }
    }
    let seg = if parts.len() == 1 {
        parts.pop().unwrap_or(Segment::Wildcard)
    } else {
        Segment::Union(parts)
    };
    Ok((seg, i))
}

/// Reads `?(...)` starting at the `?`; returns the filter and the position after the `)`.
fn parse_filter(
    chars: &[char],
    question: usize,
    text: &str,
) -> Result<(crate::filter::Filter, usize), String> {
    if chars.get(question + 1) != Some(&'(') {
        return Err(format!("path '{text}': expected '(' after '?'"));
    }
    let start = question + 2;
    let mut i = start;
    let mut depth = 1usize;
    let mut quote: Option<char> = None;
    while let Some(&c) = chars.get(i) {
        if let Some(q) = quote {
            if c == '\\' {
                i += 1;
            } else if c == q {
                quote = None;
            }
        } else if c == '\'' || c == '"' {
            quote = Some(c);
        } else if c == '(' {
            depth += 1;
        } else if c == ')' {
            depth -= 1;
            if depth == 0 {
                let inner: String = chars[start..i].iter().collect();
                let filter =
                    crate::filter::parse(&inner).map_err(|e| format!("path '{text}': {e}"))?;
                return Ok((filter, i + 1));
            }
        }
        i += 1;
    }
    Err(format!("path '{text}': unclosed filter expression"))
}

fn apply_segment<'a>(seg: &Segment, v: &'a Value, root: &Value, out: &mut Vec<&'a Value>) {
    match seg {
        Segment::Filter(filter) => match v {
            Value::Array(items) => out.extend(
                items
                    .iter()
                    .filter(|item| crate::filter::test(filter, item, root)),
            ),
            Value::Object(_) if crate::filter::test(filter, v, root) => out.push(v),
            _ => {}
        },
        Segment::Field(f) => {
            if let Some(x) = v.as_object().and_then(|o| o.get(f)) {
                out.push(x);
            }
        }
        Segment::Index(i) => {
            if let Some(arr) = v.as_array() {
                let idx = if *i < 0 {
                    usize::try_from(i.unsigned_abs())
                        .ok()
                        .and_then(|b| arr.len().checked_sub(b))
                } else {
                    usize::try_from(*i).ok()
                };
                if let Some(x) = idx.and_then(|i| arr.get(i)) {
                    out.push(x);
                }
            }
        }
        Segment::Wildcard => match v {
            Value::Object(o) => out.extend(o.values()),
            Value::Array(a) => out.extend(a.iter()),
            _ => {}
        },
        Segment::Descendant(name) => descend(v, &mut |x| {
            if let Some(y) = x.as_object().and_then(|o| o.get(name)) {
                out.push(y);
            }
        }),
        Segment::DescendantWildcard => {
            let mut all = Vec::new();
            descend(v, &mut |x| match x {
                Value::Object(o) => all.extend(o.values()),
                Value::Array(a) => all.extend(a.iter()),
                _ => {}
            });
            out.extend(all);
        }
        Segment::Slice(a, b, c) => {
            if let Some(arr) = v.as_array() {
                let len = i64::try_from(arr.len()).unwrap_or(i64::MAX);
                let step = c.unwrap_or(1);
                let norm = |x: i64| if x < 0 { (len + x).max(0) } else { x.min(len) };
                if step > 0 {
                    let mut k = norm(a.unwrap_or(0));
                    let end = norm(b.unwrap_or(len));
                    while k < end {
                        if let Some(x) = usize::try_from(k).ok().and_then(|k| arr.get(k)) {
                            out.push(x);
                        }
                        k += step;
                    }
                } else {
                    let mut k = a.map(norm).unwrap_or(len - 1).min(len - 1);
                    let end = b.map(norm).unwrap_or(-1);
                    while k > end {
                        if let Some(x) = usize::try_from(k).ok().and_then(|k| arr.get(k)) {
                            out.push(x);
                        }
                        k += step;
                    }
                }
            }
        }
        Segment::Union(parts) => {
            for p in parts {
                apply_segment(p, v, root, out);
            }
        }
    }
}

fn descend<'a>(v: &'a Value, f: &mut dyn FnMut(&'a Value)) {
    f(v);
    match v {
        Value::Object(o) => {
            for x in o.values() {
                descend(x, f);
            }
        }
        Value::Array(a) => {
            for x in a {
                descend(x, f);
            }
        }
        _ => {}
    }
}

/// What a path-valued field (`InputPath`, `OutputPath`, `ResultPath`) holds.
#[derive(Debug, Clone, PartialEq)]
pub enum PathField {
    /// Field absent: `$`.
    Default,
    /// Field set to `null`.
    Null,
    Path(Path),
}

impl PathField {
    /// `InputPath`/`OutputPath`: select, or `{}` for null.
    /// `_field` names the field for the caller's reading; AWS's cause does not repeat it.
    pub fn select_input(&self, value: &Value, _field: &str) -> Result<Value, Failure> {
        match self {
            PathField::Default => Ok(value.clone()),
            PathField::Null => Ok(Value::Object(Map::new())),
            PathField::Path(p) => p.select(value).ok_or_else(|| invalid_path(p, value)),
        }
    }

    /// `InputPath`/`OutputPath`/`ItemsPath` that may read the context object (`$$...`).
    pub fn select_input_with_context(
        &self,
        value: &Value,
        context: &Value,
        field: &str,
    ) -> Result<Value, Failure> {
        match self {
            PathField::Path(p) if p.context => {
                p.select(context).ok_or_else(|| invalid_path(p, context))
            }
            other => other.select_input(value, field),
        }
    }

    /// `ResultPath`: combine the raw input and the result.
    pub fn merge_result(&self, raw_input: &Value, result: Value) -> Result<Value, Failure> {
        match self {
            PathField::Default => Ok(result),
            PathField::Null => Ok(raw_input.clone()),
            PathField::Path(p) => p.set(raw_input.clone(), result).map_err(|e| {
                Failure::runtime(format!(
                    "Invalid path '{p}': The ResultPath could not be applied: {e}"
                ))
            }),
        }
    }
}

/// AWS's cause for a path field that selects nothing
/// (`Invalid path '$.Payload' : No results for path: $['Payload']`).
fn invalid_path(p: &Path, root: &Value) -> Failure {
    Failure::runtime(format!("Invalid path '{p}' : {}", p.missing_reason(root)))
}

pub(crate) fn truncate(s: &str) -> String {
    if s.len() <= 512 {
        s.to_string()
    } else {
        let mut end = 512;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    }
}

/// Everything a payload template's `.$` value may read.
pub struct TemplateScope<'a> {
    pub input: &'a Value,
    pub context: &'a Value,
}

/// Checks a payload template at load time: every `.$` value must be a path or an intrinsic.
pub fn validate_template(template: &Value) -> Result<(), String> {
    match template {
        Value::Object(o) => {
            for (k, v) in o {
                if k.ends_with(".$") {
                    let s = v
                        .as_str()
                        .ok_or_else(|| format!("the value of '{k}' must be a string"))?;
                    validate_dynamic(s).map_err(|e| format!("field '{k}': {e}"))?;
                } else {
                    validate_template(v)?;
                }
            }
            Ok(())
        }
        Value::Array(a) => a.iter().try_for_each(validate_template),
        _ => Ok(()),
    }
}

/// A dynamic value: a path (`$...`, `$$...`) or an intrinsic call (`States.X(...)`).
pub fn validate_dynamic(s: &str) -> Result<(), String> {
    if s.starts_with('$') {
        Path::parse(s).map(|_| ())
    } else if s.starts_with("States.") {
        intrinsics::parse(s).map(|_| ())
    } else {
        Err(format!(
            "'{s}' is neither a JSONPath nor an intrinsic function"
        ))
    }
}

/// Resolves a dynamic value (path or intrinsic) against the scope.
pub fn eval_dynamic(
    s: &str,
    key: &str,
    scope: &TemplateScope<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Value, Failure> {
    if s.starts_with('$') {
        let p = Path::parse(s).map_err(Failure::runtime)?;
        let root = if p.context {
            scope.context
        } else {
            scope.input
        };
        p.select(root).ok_or_else(|| {
            Failure::runtime(format!(
                "The JSONPath '{s}' specified for the field '{key}' could not be found in the input '{}'",
                truncate(&root.to_string())
            ))
        })
    } else {
        let expr = intrinsics::parse(s).map_err(Failure::intrinsic)?;
        // AWS names the whole call around a missing argument: "The function
        // 'States.Array($.x)' had the following error: The JsonPath argument for the field
        // '$.x' could not be found in the input '...'".
        intrinsics::eval(&expr, scope, rng).map_err(|mut f| {
            if f.error == crate::error::names::RUNTIME
                && let Some(cause) = &f.cause
                && cause.starts_with("The JsonPath argument")
            {
                f.cause = Some(format!(
                    "The function '{s}' had the following error: {cause}"
                ));
            }
            f
        })
    }
}

/// Applies a payload template (`Parameters`, `ResultSelector`, `ItemSelector`).
pub fn apply_template(
    template: &Value,
    scope: &TemplateScope<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Value, Failure> {
    match template {
        Value::Object(o) => {
            let mut out = Map::new();
            for (k, v) in o {
                if let Some(name) = k.strip_suffix(".$") {
                    let s = v.as_str().ok_or_else(|| {
                        Failure::runtime(format!("the value of '{k}' must be a string"))
                    })?;
                    out.insert(name.to_string(), eval_dynamic(s, k, scope, rng)?);
                } else {
                    out.insert(k.clone(), apply_template(v, scope, rng)?);
                }
            }
            Ok(Value::Object(out))
        }
        Value::Array(a) => a
            .iter()
            .map(|v| apply_template(v, scope, rng))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array),
        other => Ok(other.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn parses_and_selects_reference_paths() {
        let doc = json!({"a": {"b": [1, {"c": "x"}]}, "we ird": 2});
        assert_eq!(
            Path::parse("$.a.b[1].c").unwrap().select(&doc),
            Some(json!("x"))
        );
        assert_eq!(
            Path::parse("$['we ird']").unwrap().select(&doc),
            Some(json!(2))
        );
        assert_eq!(Path::parse("$.a.b[5]").unwrap().select(&doc), None);
        assert!(Path::parse("$.a.b[0]").unwrap().is_reference());
        assert!(!Path::parse("$.a[*]").unwrap().is_reference());
    }

    #[test]
    fn indefinite_paths_return_lists() {
        let doc = json!({"items": [{"id": 1}, {"id": 2}, {"x": 3}], "n": {"id": 9}});
        assert_eq!(
            Path::parse("$.items[*].id").unwrap().select(&doc),
            Some(json!([1, 2]))
        );
        assert_eq!(
            Path::parse("$..id").unwrap().select(&doc),
            Some(json!([1, 2, 9]))
        );
        assert_eq!(
            Path::parse("$.items[0:2].id").unwrap().select(&doc),
            Some(json!([1, 2]))
        );
        assert_eq!(
            Path::parse("$.items[0,2]").unwrap().select(&doc),
            Some(json!([{"id": 1}, {"x": 3}]))
        );
    }

    #[test]
    fn set_creates_nested_objects() {
        let p = Path::parse("$.results.hotel").unwrap();
        let out = p
            .set(json!({"tripId": "t"}), json!({"bookingId": "b"}))
            .unwrap();
        assert_eq!(
            out,
            json!({"tripId": "t", "results": {"hotel": {"bookingId": "b"}}})
        );
    }

    #[test]
    fn set_refuses_to_write_through_a_scalar() {
        let p = Path::parse("$.a.b").unwrap();
        assert!(p.set(json!({"a": 1}), json!(2)).is_err());
    }

    #[test]
    fn rejects_malformed_paths() {
        for bad in [
            "a.b",
            "$.",
            "$[",
            "$['x'",
            "$.a[?(@.b ==)]",
            "$.a[?(@.b)",
            "$.a]",
        ] {
            assert!(Path::parse(bad).is_err(), "{bad} should not parse");
        }
    }
}
