//! JSONPath filter expressions (`[?(@.status == 0)]`), as Jayway JsonPath - the library Step
//! Functions evaluates JSONPath with - reads them: `@` is the element under test, `$` the
//! document; operands are paths or JSON literals; the operators are `==`, `!=`, `<`, `<=`,
//! `>`, `>=`, `=~` (a `/regex/` that must match the whole string), `in`, `nin`, `subsetof`,
//! `anyof`, `noneof`, `size` and `empty`; conditions combine with `&&`, `||`, `!` and
//! parentheses, and a bare path tests that the property exists.

use regex::Regex;
use serde_json::Value;

use crate::path::Path;

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
    Exists(Operand),
    Compare(Operand, Op, Operand),
}

#[derive(Debug, Clone)]
pub enum Operand {
    /// `@...`: relative to the element under test, kept as the `$...` path it is equivalent to.
    Current(Path),
    /// `$...`: the whole document.
    Root(Path),
    Literal(Value),
    Regex(Regex),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Matches,
    In,
    Nin,
    SubsetOf,
    AnyOf,
    NoneOf,
    Size,
    Empty,
}

impl PartialEq for Operand {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Operand::Current(a), Operand::Current(b)) | (Operand::Root(a), Operand::Root(b)) => {
                a == b
            }
            (Operand::Literal(a), Operand::Literal(b)) => a == b,
            (Operand::Regex(a), Operand::Regex(b)) => a.as_str() == b.as_str(),
            _ => false,
        }
    }
}

/// Parses the text between `[?(` and `)]`.
pub fn parse(text: &str) -> Result<Filter, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut p = Parser {
        chars: &chars,
        pos: 0,
    };
    let f = p.or()?;
    p.ws();
    if p.pos != chars.len() {
        return Err(format!(
            "filter '{text}': unexpected '{}' at position {}",
            chars[p.pos], p.pos
        ));
    }
    Ok(f)
}

struct Parser<'a> {
    chars: &'a [char],
    pos: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.chars.get(self.pos).is_some_and(|c| c.is_whitespace()) {
            self.pos += 1;
        }
    }

    fn eat(&mut self, s: &str) -> bool {
        self.ws();
        let n = s.chars().count();
        if self.chars.len() >= self.pos + n
            && self.chars[self.pos..self.pos + n]
                .iter()
                .copied()
                .eq(s.chars())
        {
            self.pos += n;
            true
        } else {
            false
        }
    }

    fn or(&mut self) -> Result<Filter, String> {
        let mut left = self.and()?;
        while self.eat("||") {
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, String> {
        let mut left = self.unary()?;
        while self.eat("&&") {
            left = Filter::And(Box::new(left), Box::new(self.unary()?));
        }
        Ok(left)
    }

    fn unary(&mut self) -> Result<Filter, String> {
        if self.eat("!") {
            return Ok(Filter::Not(Box::new(self.unary()?)));
        }
        if self.eat("(") {
            let inner = self.or()?;
            if !self.eat(")") {
                return Err("filter: missing ')'".into());
            }
            return Ok(inner);
        }
        let left = self.operand()?;
        self.ws();
        let Some(op) = self.op() else {
            return match left {
                Operand::Current(_) | Operand::Root(_) => Ok(Filter::Exists(left)),
                _ => Err("filter: a literal alone is not a condition".into()),
            };
        };
        let right = self.operand()?;
        Ok(Filter::Compare(left, op, right))
    }

    fn op(&mut self) -> Option<Op> {
        // Longest first, so `<=` is not read as `<`.
        for (text, op) in [
            ("==", Op::Eq),
            ("!=", Op::Ne),
            ("<=", Op::Le),
            (">=", Op::Ge),
            ("=~", Op::Matches),
            ("<", Op::Lt),
            (">", Op::Gt),
        ] {
            if self.eat(text) {
                return Some(op);
            }
        }
        for (word, op) in [
            ("subsetof", Op::SubsetOf),
            ("anyof", Op::AnyOf),
            ("noneof", Op::NoneOf),
            ("size", Op::Size),
            ("empty", Op::Empty),
            ("nin", Op::Nin),
            ("in", Op::In),
        ] {
            let save = self.pos;
            if self.eat(word)
                && !self
                    .chars
                    .get(self.pos)
                    .is_some_and(|c| c.is_alphanumeric())
            {
                return Some(op);
            }
            self.pos = save;
        }
        None
    }

    fn operand(&mut self) -> Result<Operand, String> {
        self.ws();
        match self.chars.get(self.pos) {
            Some('@') | Some('$') => {
                let start = self.pos;
                let mut depth = 0i32;
                let mut quote: Option<char> = None;
                while let Some(&c) = self.chars.get(self.pos) {
                    if let Some(q) = quote {
                        if c == '\\' {
                            self.pos += 1;
                        } else if c == q {
                            quote = None;
                        }
                    } else if c == '\'' || c == '"' {
                        quote = Some(c);
                    } else if c == '[' {
                        depth += 1;
                    } else if c == ']' {
                        depth -= 1;
                    } else if depth == 0 && (c.is_whitespace() || "=!<>&|)".contains(c)) {
                        break;
                    }
                    self.pos += 1;
                }
                let text: String = self.chars[start..self.pos].iter().collect();
                if let Some(rest) = text.strip_prefix('@') {
                    Ok(Operand::Current(Path::parse(&format!("${rest}"))?))
                } else {
                    Ok(Operand::Root(Path::parse(&text)?))
                }
            }
            Some('/') => {
                self.pos += 1;
                let mut pattern = String::new();
                loop {
                    match self.chars.get(self.pos) {
                        None => return Err("filter: unterminated regex".into()),
                        Some('\\') if self.chars.get(self.pos + 1) == Some(&'/') => {
                            pattern.push('/');
                            self.pos += 2;
                        }
                        Some('/') => {
                            self.pos += 1;
                            break;
                        }
                        Some(&c) => {
                            pattern.push(c);
                            self.pos += 1;
                        }
                    }
                }
                let mut flags = String::new();
                while let Some(&c) = self.chars.get(self.pos) {
                    if !c.is_ascii_alphabetic() {
                        break;
                    }
                    if c == 'i' || c == 'm' || c == 's' || c == 'x' {
                        flags.push(c);
                    }
                    self.pos += 1;
                }
                let full = if flags.is_empty() {
                    format!("^(?:{pattern})$")
                } else {
                    format!("(?{flags})^(?:{pattern})$")
                };
                Regex::new(&full)
                    .map(Operand::Regex)
                    .map_err(|e| format!("filter: bad regex /{pattern}/: {e}"))
            }
            Some('\'') => {
                self.pos += 1;
                let mut s = String::new();
                loop {
                    match self.chars.get(self.pos) {
                        None => return Err("filter: unterminated string".into()),
                        Some('\\') => {
                            if let Some(&c) = self.chars.get(self.pos + 1) {
                                s.push(c);
                            }
                            self.pos += 2;
                        }
                        Some('\'') => {
                            self.pos += 1;
                            break;
                        }
                        Some(&c) => {
                            s.push(c);
                            self.pos += 1;
                        }
                    }
                }
                Ok(Operand::Literal(Value::String(s)))
            }
            Some('[') => {
                // A list; Jayway lets its strings be single-quoted too.
                self.pos += 1;
                let mut items = Vec::new();
                if self.eat("]") {
                    return Ok(Operand::Literal(Value::Array(items)));
                }
                loop {
                    match self.operand()? {
                        Operand::Literal(v) => items.push(v),
                        _ => return Err("filter: a list may only hold literals".into()),
                    }
                    if self.eat(",") {
                        continue;
                    }
                    if self.eat("]") {
                        break;
                    }
                    return Err(format!(
                        "filter: expected ',' or ']' at position {}",
                        self.pos
                    ));
                }
                Ok(Operand::Literal(Value::Array(items)))
            }
            Some(_) => {
                // A JSON literal: number, "string", true/false/null, or an object.
                let rest: String = self.chars[self.pos..].iter().collect();
                let mut stream = serde_json::Deserializer::from_str(&rest).into_iter::<Value>();
                match stream.next() {
                    Some(Ok(v)) => {
                        let used = rest[..stream.byte_offset()].chars().count();
                        self.pos += used;
                        Ok(Operand::Literal(v))
                    }
                    _ => Err(format!(
                        "filter: cannot read an operand at position {}",
                        self.pos
                    )),
                }
            }
            None => Err("filter: missing operand".into()),
        }
    }
}

/// Whether `item` (inside the document `root`) passes the filter.
pub fn test(filter: &Filter, item: &Value, root: &Value) -> bool {
    match filter {
        Filter::And(a, b) => test(a, item, root) && test(b, item, root),
        Filter::Or(a, b) => test(a, item, root) || test(b, item, root),
        Filter::Not(f) => !test(f, item, root),
        Filter::Exists(operand) => resolve(operand, item, root).is_some(),
        Filter::Compare(left, op, right) => {
            let Some(l) = resolve(left, item, root) else {
                return false;
            };
            if let (Op::Matches, Operand::Regex(re)) = (op, right) {
                return l.as_str().is_some_and(|s| re.is_match(s));
            }
            let Some(r) = resolve(right, item, root) else {
                return false;
            };
            compare(&l, *op, &r)
        }
    }
}

fn resolve(operand: &Operand, item: &Value, root: &Value) -> Option<Value> {
    match operand {
        Operand::Current(p) => p.select(item),
        Operand::Root(p) => p.select(root),
        Operand::Literal(v) => Some(v.clone()),
        Operand::Regex(_) => None,
    }
}

fn compare(l: &Value, op: Op, r: &Value) -> bool {
    match op {
        Op::Eq => equal(l, r),
        Op::Ne => !equal(l, r),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => {
            let ordering = match (l, r) {
                (Value::Number(a), Value::Number(b)) => a.as_f64().partial_cmp(&b.as_f64()),
                (Value::String(a), Value::String(b)) => Some(a.cmp(b)),
                _ => None,
            };
            ordering.is_some_and(|o| match op {
                Op::Lt => o.is_lt(),
                Op::Le => o.is_le(),
                Op::Gt => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        Op::Matches => false,
        Op::In => r.as_array().is_some_and(|a| a.iter().any(|x| equal(l, x))),
        Op::Nin => r.as_array().is_some_and(|a| !a.iter().any(|x| equal(l, x))),
        Op::SubsetOf => match (l.as_array(), r.as_array()) {
            (Some(a), Some(b)) => a.iter().all(|x| b.iter().any(|y| equal(x, y))),
            _ => false,
        },
        Op::AnyOf => match (l.as_array(), r.as_array()) {
            (Some(a), Some(b)) => a.iter().any(|x| b.iter().any(|y| equal(x, y))),
            _ => false,
        },
        Op::NoneOf => match (l.as_array(), r.as_array()) {
            (Some(a), Some(b)) => !a.iter().any(|x| b.iter().any(|y| equal(x, y))),
            _ => false,
        },
        Op::Size => {
            let len = match l {
                Value::String(s) => s.chars().count(),
                Value::Array(a) => a.len(),
                _ => return false,
            };
            r.as_u64()
                .is_some_and(|n| usize::try_from(n).ok() == Some(len))
        }
        Op::Empty => {
            let empty = match l {
                Value::String(s) => s.is_empty(),
                Value::Array(a) => a.is_empty(),
                _ => return false,
            };
            r.as_bool() == Some(empty)
        }
    }
}

/// Numbers are equal by value (`1 == 1.0`); everything else by JSON equality.
fn equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x.as_f64() == y.as_f64(),
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn passes(filter: &str, item: Value) -> bool {
        test(&parse(filter).unwrap(), &item, &json!({"limit": 10}))
    }

    #[test]
    fn comparisons_and_logic() {
        assert!(passes("@.status == 0", json!({"status": 0})));
        assert!(!passes("@.status == 0", json!({"status": "0"})));
        assert!(passes(
            "@.price < $.limit && @.name =~ /bo.*/i",
            json!({"price": 8, "name": "Book"})
        ));
        assert!(passes("!(@.a) || @.a > 2", json!({"b": 1})));
        assert!(passes("@.tag in ['x', 'y']", json!({"tag": "y"})));
        assert!(passes("@.tags size 2", json!({"tags": [1, 2]})));
        assert!(passes("@.isbn", json!({"isbn": "0-553"})));
        assert!(!passes("@.isbn", json!({"title": "x"})));
    }

    #[test]
    fn malformed_filters_are_refused() {
        for bad in ["", "@.a ==", "'x'", "(@.a == 1", "@.a =~ /unterminated"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
