//! The intrinsic functions (`States.Format(...)` and friends) and the injected randomness they,
//! task tokens and retry jitter draw from.

use base64::Engine as _;
use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Number, Value};

use crate::error::Failure;
use crate::path::{Path, TemplateScope};

/// Where every random choice of the interpreter comes from, so runs are reproducible.
pub trait RandomSource: Send {
    fn next_u64(&mut self) -> u64;
}

/// A seeded ChaCha8 stream: the same seed gives the same tokens, UUIDs and jitter.
pub struct SeededRandom(ChaCha8Rng);

impl SeededRandom {
    pub fn new(seed: u64) -> Self {
        SeededRandom(ChaCha8Rng::seed_from_u64(seed))
    }
}

impl RandomSource for SeededRandom {
    fn next_u64(&mut self) -> u64 {
        self.0.next_u64()
    }
}

/// A uniform float in `[0, 1)`.
pub(crate) fn unit_f64(rng: &mut dyn RandomSource) -> f64 {
    // 53 random bits: exact in an f64.
    (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64
}

pub(crate) fn uuid_v4(rng: &mut dyn RandomSource) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&rng.next_u64().to_le_bytes());
    bytes[8..].copy_from_slice(&rng.next_u64().to_le_bytes());
    uuid::Builder::from_random_bytes(bytes)
        .into_uuid()
        .hyphenated()
        .to_string()
}

/// A parsed intrinsic argument.
#[derive(Debug, Clone, PartialEq)]
pub enum Expr {
    Str(String),
    Num(Number),
    Bool(bool),
    Null,
    Path(Path),
    Call(String, Vec<Expr>),
}

const FUNCTIONS: &[&str] = &[
    "States.Format",
    "States.StringToJson",
    "States.JsonToString",
    "States.Array",
    "States.ArrayPartition",
    "States.ArrayContains",
    "States.ArrayRange",
    "States.ArrayGetItem",
    "States.ArrayLength",
    "States.ArrayUnique",
    "States.Base64Encode",
    "States.Base64Decode",
    "States.Hash",
    "States.JsonMerge",
    "States.MathRandom",
    "States.MathAdd",
    "States.StringSplit",
    "States.UUID",
];

/// Parses one intrinsic invocation, e.g. `States.Format('{} {}', $.a, States.UUID())`.
pub fn parse(text: &str) -> Result<Expr, String> {
    let chars: Vec<char> = text.trim().chars().collect();
    let mut p = Parser {
        chars: &chars,
        pos: 0,
        depth: 0,
    };
    let e = p.call()?;
    p.skip_ws();
    if p.pos != chars.len() {
        return Err(format!(
            "unexpected text after the intrinsic call at position {} in '{text}'",
            p.pos
        ));
    }
    Ok(e)
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
    depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }
    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }
    fn call(&mut self) -> Result<Expr, String> {
        self.depth += 1;
        if self.depth > 10 {
            return Err("intrinsic functions nest at most 10 deep".into());
        }
        let start = self.pos;
        while self
            .peek()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '.')
        {
            self.pos += 1;
        }
        let name: String = self.chars[start..self.pos].iter().collect();
        if !FUNCTIONS.contains(&name.as_str()) {
            return Err(format!("unknown intrinsic function '{name}'"));
        }
        self.skip_ws();
        if self.peek() != Some('(') {
            return Err(format!("expected '(' after '{name}'"));
        }
        self.pos += 1;
        let mut args = Vec::new();
        self.skip_ws();
        if self.peek() == Some(')') {
            self.pos += 1;
        } else {
            loop {
                self.skip_ws();
                args.push(self.arg()?);
                self.skip_ws();
                match self.peek() {
                    Some(',') => self.pos += 1,
                    Some(')') => {
                        self.pos += 1;
                        break;
                    }
                    _ => return Err(format!("expected ',' or ')' in the arguments of '{name}'")),
                }
            }
        }
        self.depth -= 1;
        Ok(Expr::Call(name, args))
    }

    fn arg(&mut self) -> Result<Expr, String> {
        match self.peek() {
            Some('\'') => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.peek() {
                        None => return Err("unterminated string literal".into()),
                        Some('\\') => {
                            let esc = self
                                .chars
                                .get(self.pos + 1)
                                .copied()
                                .ok_or("dangling '\\' in a string literal")?;
                            // Only the reserved characters ' { } \ may be escaped
                            // ("must be escaped using a backslash", intrinsic-functions.html,
                            // "Reserved characters in intrinsic functions"); AWS refuses a
                            // definition with any other escape.
                            if !matches!(esc, '\'' | '{' | '}' | '\\') {
                                return Err(format!(
                                    "illegal escape '\\{esc}' in a string literal: only \\' \\{{ \\}} and \\\\ are allowed"
                                ));
                            }
                            // Keep the backslash before braces so States.Format can tell an
                            // escaped brace from a placeholder.
                            if esc == '{' || esc == '}' {
                                s.push('\\');
                            }
                            s.push(esc);
                            self.pos += 2;
                        }
                        Some('\'') => {
                            self.pos += 1;
                            break;
                        }
                        Some(c) => {
                            s.push(c);
                            self.pos += 1;
                        }
                    }
                }
                Ok(Expr::Str(s))
            }
            Some('$') => {
                let start = self.pos;
                let mut bracket = 0i32;
                let mut quote: Option<char> = None;
                while let Some(c) = self.peek() {
                    if let Some(q) = quote {
                        if c == q {
                            quote = None;
                        }
                    } else if c == '\'' || c == '"' {
                        quote = Some(c);
                    } else if c == '[' {
                        bracket += 1;
                    } else if c == ']' {
                        bracket -= 1;
                    } else if bracket == 0 && (c == ',' || c == ')' || c.is_whitespace()) {
                        break;
                    }
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                Ok(Expr::Path(Path::parse(&text)?))
            }
            Some('S') => self.call(),
            Some(c) if c == '-' || c.is_ascii_digit() => {
                let start = self.pos;
                while self
                    .peek()
                    .is_some_and(|c| c.is_ascii_digit() || matches!(c, '-' | '+' | '.' | 'e' | 'E'))
                {
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                let v: Value =
                    serde_json::from_str(&text).map_err(|_| format!("bad number '{text}'"))?;
                match v {
                    Value::Number(n) => Ok(Expr::Num(n)),
                    _ => Err(format!("bad number '{text}'")),
                }
            }
            _ => {
                for (word, e) in [
                    ("null", Expr::Null),
                    ("true", Expr::Bool(true)),
                    ("false", Expr::Bool(false)),
                ] {
                    let end = self.pos + word.len();
                    if self.chars.len() >= end
                        && self.chars[self.pos..end].iter().collect::<String>() == word
                    {
                        self.pos = end;
                        return Ok(e);
                    }
                }
                Err(format!("unexpected argument at position {}", self.pos))
            }
        }
    }
}

fn fail(f: &str, msg: impl std::fmt::Display) -> Failure {
    Failure::intrinsic(format!("Invalid arguments in {f}: {msg}"))
}

/// Evaluates a parsed intrinsic against the input and context.
pub fn eval(
    expr: &Expr,
    scope: &TemplateScope<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Value, Failure> {
    match expr {
        Expr::Str(s) => Ok(Value::String(unescape_braces(s))),
        Expr::Num(n) => Ok(Value::Number(n.clone())),
        Expr::Bool(b) => Ok(Value::Bool(*b)),
        Expr::Null => Ok(Value::Null),
        Expr::Path(p) => {
            let root = if p.context {
                scope.context
            } else {
                scope.input
            };
            p.select(root).ok_or_else(|| {
                Failure::runtime(format!(
                    "The JsonPath argument for the field '{p}' could not be found in the input '{}'",
                    crate::path::truncate(&root.to_string())
                ))
            })
        }
        Expr::Call(name, args) => call(name, args, scope, rng),
    }
}

fn unescape_braces(s: &str) -> String {
    s.replace("\\{", "{").replace("\\}", "}")
}

fn as_int(f: &str, v: &Value) -> Result<i64, Failure> {
    match v {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|x| x.fract() == 0.0).map(|x| x as i64))
            .ok_or_else(|| fail(f, format!("{n} is not an integer"))),
        other => Err(fail(f, format!("{other} is not an integer"))),
    }
}

fn as_number(f: &str, v: &Value) -> Result<f64, Failure> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| fail(f, format!("{v} is not a number")))
}

/// Java's `Math.round`: half up, towards positive infinity.
fn round_half_up(x: f64) -> f64 {
    (x + 0.5).floor()
}

fn as_rounded(f: &str, v: &Value) -> Result<i64, Failure> {
    let x = round_half_up(as_number(f, v)?);
    if x.abs() > 9.0e15 {
        return Err(fail(f, format!("{v} is out of range")));
    }
    Ok(x as i64)
}

/// serde_json reads `-0` as the float `-0.0`; Jackson, which AWS parses with, reads it as the
/// integer `0`. Only an integer literal is an integer: `-0.0` stays a float.
fn jackson_number(text: &str, v: Value) -> Value {
    match &v {
        Value::Number(n) if n.is_f64() && n.as_f64() == Some(0.0) && text.trim() == "-0" => {
            Value::from(0)
        }
        _ => v,
    }
}

/// A value as Java's `toString` prints the parsed JSON that AWS formats: objects as
/// `{key=value, ...}`, arrays as `[a, b]`, strings without quotes.
fn java_string(v: &Value, out: &mut String) {
    match v {
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                java_string(item, out);
            }
            out.push(']');
        }
        Value::Object(fields) => {
            out.push('{');
            for (i, (k, item)) in fields.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(k);
                out.push('=');
                java_string(item, out);
            }
            out.push('}');
        }
        other => out.push_str(&other.to_string()),
    }
}

fn as_str<'a>(f: &str, v: &'a Value) -> Result<&'a str, Failure> {
    v.as_str()
        .ok_or_else(|| fail(f, format!("{v} is not a string")))
}

fn as_array<'a>(f: &str, v: &'a Value) -> Result<&'a Vec<Value>, Failure> {
    v.as_array()
        .ok_or_else(|| fail(f, format!("{v} is not an array")))
}

fn arity(f: &str, args: &[Value], min: usize, max: usize) -> Result<(), Failure> {
    if args.len() < min || args.len() > max {
        let want = if min == max {
            min.to_string()
        } else {
            format!("{min} to {max}")
        };
        return Err(fail(
            f,
            format!("expected {want} arguments, got {}", args.len()),
        ));
    }
    Ok(())
}

fn call(
    name: &str,
    raw_args: &[Expr],
    scope: &TemplateScope<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Value, Failure> {
    // States.Format needs to see its template before brace unescaping.
    if name == "States.Format" {
        return format(raw_args, scope, rng);
    }
    let args = raw_args
        .iter()
        .map(|a| eval(a, scope, rng))
        .collect::<Result<Vec<_>, _>>()?;
    let a = |i: usize| args.get(i).unwrap_or(&Value::Null);
    match name {
        "States.StringToJson" => {
            arity(name, &args, 1, 1)?;
            let s = as_str(name, a(0))?;
            // AWS parses with Jackson: blank text is null, and -0 is the integer 0.
            if s.trim().is_empty() {
                return Ok(Value::Null);
            }
            let v: Value =
                serde_json::from_str(s).map_err(|e| fail(name, format!("not JSON text: {e}")))?;
            Ok(jackson_number(s, v))
        }
        "States.JsonToString" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::String(a(0).to_string()))
        }
        "States.Array" => Ok(Value::Array(args)),
        "States.ArrayPartition" => {
            arity(name, &args, 2, 2)?;
            let arr = as_array(name, a(0))?;
            let size = as_int(name, a(1))?;
            if size <= 0 {
                return Err(fail(name, "chunk size must be positive"));
            }
            let size = usize::try_from(size).map_err(|e| fail(name, e))?;
            Ok(Value::Array(
                arr.chunks(size).map(|c| Value::Array(c.to_vec())).collect(),
            ))
        }
        "States.ArrayContains" => {
            arity(name, &args, 2, 2)?;
            Ok(Value::Bool(as_array(name, a(0))?.contains(a(1))))
        }
        "States.ArrayRange" => {
            arity(name, &args, 3, 3)?;
            let (first, last, step) = (
                as_int(name, a(0))?,
                as_int(name, a(1))?,
                as_int(name, a(2))?,
            );
            if step == 0 {
                return Err(fail(name, "step cannot be 0"));
            }
            let mut out = Vec::new();
            let mut k = first;
            while (step > 0 && k <= last) || (step < 0 && k >= last) {
                if out.len() >= 1000 {
                    return Err(fail(name, "the range has more than 1000 items"));
                }
                out.push(Value::from(k));
                k = match k.checked_add(step) {
                    Some(k) => k,
                    None => break,
                };
            }
            Ok(Value::Array(out))
        }
        "States.ArrayGetItem" => {
            arity(name, &args, 2, 2)?;
            let arr = as_array(name, a(0))?;
            let i = as_int(name, a(1))?;
            usize::try_from(i)
                .ok()
                .and_then(|i| arr.get(i))
                .cloned()
                .ok_or_else(|| fail(name, format!("index {i} is out of bounds")))
        }
        "States.ArrayLength" => {
            arity(name, &args, 1, 1)?;
            Ok(Value::from(as_array(name, a(0))?.len()))
        }
        "States.ArrayUnique" => {
            arity(name, &args, 1, 1)?;
            let mut out: Vec<Value> = Vec::new();
            for v in as_array(name, a(0))? {
                if !out.contains(v) {
                    out.push(v.clone());
                }
            }
            Ok(Value::Array(out))
        }
        "States.Base64Encode" => {
            arity(name, &args, 1, 1)?;
            let s = as_str(name, a(0))?;
            if s.len() > 10_000 {
                return Err(fail(name, "input is longer than 10000 characters"));
            }
            Ok(Value::String(
                base64::engine::general_purpose::STANDARD.encode(s.as_bytes()),
            ))
        }
        "States.Base64Decode" => {
            arity(name, &args, 1, 1)?;
            let s = as_str(name, a(0))?;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(s.as_bytes())
                .map_err(|e| fail(name, format!("not base64: {e}")))?;
            String::from_utf8(bytes)
                .map(Value::String)
                .map_err(|_| fail(name, "decoded data is not UTF-8"))
        }
        "States.Hash" => {
            arity(name, &args, 2, 2)?;
            let data = match a(0) {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            let alg = as_str(name, a(1))?;
            Ok(Value::String(hash(name, &data, alg)?))
        }
        "States.JsonMerge" => {
            arity(name, &args, 3, 3)?;
            let left = a(0)
                .as_object()
                .ok_or_else(|| fail(name, "the first argument is not an object"))?;
            let right = a(1)
                .as_object()
                .ok_or_else(|| fail(name, "the second argument is not an object"))?;
            let deep = a(2)
                .as_bool()
                .ok_or_else(|| fail(name, "the third argument must be a boolean"))?;
            let mut out = left.clone();
            merge(&mut out, right, deep);
            Ok(Value::Object(out))
        }
        "States.MathRandom" => {
            arity(name, &args, 2, 3)?;
            // Non-integer bounds are accepted and rounded, as in States.MathAdd.
            let start = as_rounded(name, a(0))?;
            let end = as_rounded(name, a(1))?;
            if end <= start {
                return Err(fail(name, "end must be greater than start"));
            }
            let span = end.abs_diff(start);
            let draw = if args.len() == 3 {
                // A given seed makes the draw a pure function of it.
                let seed = as_int(name, a(2))?;
                SeededRandom::new(seed as u64).next_u64()
            } else {
                rng.next_u64()
            };
            let offset = i64::try_from(draw % span).map_err(|e| fail(name, e))?;
            Ok(Value::from(start + offset))
        }
        "States.MathAdd" => {
            arity(name, &args, 2, 2)?;
            // AWS adds the numbers and rounds the sum half up: 1.49 + 1.49 = 3.
            let x = as_number(name, a(0))?;
            let y = as_number(name, a(1))?;
            let sum = round_half_up(x + y);
            if !(-2_147_483_648.0..=2_147_483_647.0).contains(&sum) {
                return Err(fail(name, "the sum is outside the 32-bit integer range"));
            }
            Ok(Value::from(sum as i64))
        }
        "States.StringSplit" => {
            arity(name, &args, 2, 2)?;
            let s = as_str(name, a(0))?;
            let delims: Vec<char> = as_str(name, a(1))?.chars().collect();
            Ok(Value::Array(
                s.split(|c| delims.contains(&c))
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            ))
        }
        "States.UUID" => {
            arity(name, &args, 0, 0)?;
            Ok(Value::String(uuid_v4(rng)))
        }
        other => Err(fail(other, "unknown intrinsic function")),
    }
}

fn merge(left: &mut Map<String, Value>, right: &Map<String, Value>, deep: bool) {
    for (k, v) in right {
        match (left.get_mut(k), v) {
            (Some(Value::Object(l)), Value::Object(r)) if deep => merge(l, r, deep),
            _ => {
                left.insert(k.clone(), v.clone());
            }
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn hash(f: &str, data: &str, alg: &str) -> Result<String, Failure> {
    use sha2::Digest;
    let d = data.as_bytes();
    Ok(match alg {
        "MD5" => hex(&md5::Md5::digest(d)),
        "SHA-1" => hex(&sha1::Sha1::digest(d)),
        "SHA-256" => hex(&sha2::Sha256::digest(d)),
        "SHA-384" => hex(&sha2::Sha384::digest(d)),
        "SHA-512" => hex(&sha2::Sha512::digest(d)),
        other => {
            return Err(fail(
                f,
                format!("unsupported algorithm '{other}' (MD5, SHA-1, SHA-256, SHA-384, SHA-512)"),
            ));
        }
    })
}

fn format(
    raw_args: &[Expr],
    scope: &TemplateScope<'_>,
    rng: &mut dyn RandomSource,
) -> Result<Value, Failure> {
    let f = "States.Format";
    let Some((tmpl_expr, rest)) = raw_args.split_first() else {
        return Err(fail(f, "expected a template argument"));
    };
    // A literal template keeps its escapes; a template read from a path is taken as is.
    let template: String = match tmpl_expr {
        Expr::Str(s) => s.clone(),
        other => match eval(other, scope, rng)? {
            Value::String(s) => s,
            v => return Err(fail(f, format!("template {v} is not a string"))),
        },
    };
    let values = rest
        .iter()
        .map(|a| eval(a, scope, rng))
        .collect::<Result<Vec<_>, _>>()?;
    let mut out = String::new();
    let mut next = values.iter();
    let chars: Vec<char> = template.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match (chars[i], chars.get(i + 1)) {
            ('\\', Some(c)) if *c == '{' || *c == '}' || *c == '\\' => {
                out.push(*c);
                i += 2;
            }
            ('{', Some('}')) => {
                let v = next
                    .next()
                    .ok_or_else(|| fail(f, "more placeholders than arguments"))?;
                java_string(v, &mut out);
                i += 2;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    if next.next().is_some() {
        return Err(fail(f, "more arguments than placeholders"));
    }
    Ok(Value::String(out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(text: &str, input: Value) -> Result<Value, Failure> {
        let ctx = json!({});
        let scope = TemplateScope {
            input: &input,
            context: &ctx,
        };
        eval(
            &parse(text).map_err(Failure::intrinsic)?,
            &scope,
            &mut SeededRandom::new(7),
        )
    }

    #[test]
    fn format_with_escapes_and_paths() {
        assert_eq!(
            run(
                "States.Format('Hello, my name is {}.', $.name)",
                json!({"name": "Arnav"})
            )
            .unwrap(),
            json!("Hello, my name is Arnav.")
        );
        assert_eq!(
            run("States.Format('\\{\\} {} \\'q\\'', 42)", json!({})).unwrap(),
            json!("{} 42 'q'")
        );
        assert!(run("States.Format('{} {}', 1)", json!({})).is_err());
    }

    #[test]
    fn docs_examples() {
        assert_eq!(
            run(
                "States.ArrayPartition($.inputArray, 4)",
                json!({"inputArray": [1,2,3,4,5,6,7,8,9]})
            )
            .unwrap(),
            json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]])
        );
        assert_eq!(
            run("States.ArrayRange(1, 9, 2)", json!({})).unwrap(),
            json!([1, 3, 5, 7, 9])
        );
        assert_eq!(
            run(
                "States.ArrayGetItem($.inputArray, $.index)",
                json!({"inputArray": [1,2,3,4,5,6,7,8,9], "index": 5})
            )
            .unwrap(),
            json!(6)
        );
        assert_eq!(
            run(
                "States.ArrayUnique($.inputArray)",
                json!({"inputArray": [1,2,3,3,3,3,3,3,4]})
            )
            .unwrap(),
            json!([1, 2, 3, 4])
        );
        assert_eq!(
            run(
                "States.Base64Encode($.input)",
                json!({"input": "Data to encode"})
            )
            .unwrap(),
            json!("RGF0YSB0byBlbmNvZGU=")
        );
        assert_eq!(
            run(
                "States.Base64Decode($.base64)",
                json!({"base64": "RGF0YSB0byBlbmNvZGU="})
            )
            .unwrap(),
            json!("Data to encode")
        );
        assert_eq!(
            run(
                "States.Hash($.Data, $.Algorithm)",
                json!({"Data": "input data", "Algorithm": "SHA-1"})
            )
            .unwrap(),
            json!("aaff4a450a104cd177d28d18d74485e8cae074b7")
        );
        assert_eq!(
            run(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "1,2,3,4,5", "splitter": ","})
            )
            .unwrap(),
            json!(["1", "2", "3", "4", "5"])
        );
        assert_eq!(
            run(
                "States.StringSplit($.inputString, $.splitter)",
                json!({"inputString": "This.is+a,test=string", "splitter": ".+,="})
            )
            .unwrap(),
            json!(["This", "is", "a", "test", "string"])
        );
        assert_eq!(
            run(
                "States.MathAdd($.value1, $.step)",
                json!({"value1": 111, "step": -1})
            )
            .unwrap(),
            json!(110)
        );
        assert_eq!(
            run("States.JsonMerge($.json1, $.json2, false)", json!({"json1": {"a": {"a1": 1, "a2": 2}, "b": 2}, "json2": {"a": {"a3": 1, "a4": 2}, "c": 3}})).unwrap(),
            json!({"a": {"a3": 1, "a4": 2}, "b": 2, "c": 3})
        );
        assert_eq!(
            run(
                "States.StringToJson($.escapedJsonString)",
                json!({"escapedJsonString": "{\"foo\": \"bar\"}"})
            )
            .unwrap(),
            json!({"foo": "bar"})
        );
        assert_eq!(
            run(
                "States.JsonToString($.unescapedJson)",
                json!({"unescapedJson": {"foo": "bar"}})
            )
            .unwrap(),
            json!("{\"foo\":\"bar\"}")
        );
        assert_eq!(
            run(
                "States.ArrayContains($.inputArray, $.lookingFor)",
                json!({"inputArray": [1,2,3,4,5,6,7,8,9], "lookingFor": 5})
            )
            .unwrap(),
            json!(true)
        );
        assert_eq!(
            run(
                "States.ArrayLength(States.Array(1, 'a', null, true))",
                json!({})
            )
            .unwrap(),
            json!(4)
        );
    }

    #[test]
    fn random_and_uuid_are_reproducible() {
        let a = run("States.MathRandom(1, 999)", json!({})).unwrap();
        let b = run("States.MathRandom(1, 999)", json!({})).unwrap();
        assert_eq!(a, b);
        let n = a.as_i64().unwrap();
        assert!((1..999).contains(&n));
        let u = run("States.UUID()", json!({})).unwrap();
        assert_eq!(u.as_str().unwrap().len(), 36);
        assert_eq!(&u.as_str().unwrap()[14..15], "4");
    }

    #[test]
    fn parse_errors_are_reported_not_panicked() {
        for bad in [
            "States.Nope()",
            "States.Format('x'",
            "States.Format('x',)",
            "States.Array(1 2)",
            "States.Format('unterminated)",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
