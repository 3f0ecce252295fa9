//! Kubernetes-style label selectors, used to choose the edge nodes a deployment targets.
//!
//! A [`Selector`] is a conjunction of [`Requirement`]s over a node's [`Labels`]. The textual syntax
//! is the one of Kubernetes (`labels.Parse`):
//!
//! | syntax               | operator                    | matches when                             |
//! |----------------------|-----------------------------|------------------------------------------|
//! | `key=value`, `key==value` | [`Operator::Equals`]   | the key is present with that value       |
//! | `key!=value`         | [`Operator::NotEquals`]     | the key is absent or has another value   |
//! | `key in (a,b)`       | [`Operator::In`]            | the key is present with one of the values |
//! | `key notin (a,b)`    | [`Operator::NotIn`]         | the key is absent or has none of them    |
//! | `key`                | [`Operator::Exists`]        | the key is present                       |
//! | `!key`               | [`Operator::DoesNotExist`]  | the key is absent                        |
//!
//! Requirements are separated by commas and all must hold; the empty selector matches everything.
//! `key=` (and `key!=`) compare with the empty value, as in Kubernetes. Unlike Kubernetes, value
//! lists may not contain empty values (`key in (a,)` is rejected as a dangling comma) and `()` is
//! rejected instead of meaning `("")`. The ordering operators `<` and `>` are not supported.
//!
//! A selector's [`Display`](fmt::Display) form is canonical: requirements sorted by key, then
//! operator, then values, duplicates removed, no whitespace except around `in`/`notin`. Parsing
//! the canonical form gives back an equal selector, and serde uses that form.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

/// A node's labels, key → value.
pub type Labels = BTreeMap<String, String>;

/// Longest allowed label name (the part of a key after the optional prefix) and label value.
pub const MAX_NAME_LEN: usize = 63;
/// Longest allowed label key prefix (a DNS subdomain).
pub const MAX_PREFIX_LEN: usize = 253;
/// Most labels a node may carry.
pub const MAX_LABELS: usize = 64;
/// Longest selector string [`Selector::parse`] accepts, in bytes.
pub const MAX_SELECTOR_LEN: usize = 4096;

/// Why a label, requirement or selector is invalid.
#[derive(Clone, Debug, thiserror::Error, PartialEq, Eq)]
#[error("{message}")]
pub struct SelectorError {
    /// Byte offset of the problem in the input, when it has one.
    pub position: Option<usize>,
    /// Human-readable description naming what is wrong and where.
    pub message: String,
}

impl SelectorError {
    fn at(position: usize, what: &str) -> Self {
        Self {
            position: Some(position),
            message: format!("{what} at position {position}"),
        }
    }

    fn general(message: String) -> Self {
        Self {
            position: None,
            message,
        }
    }
}

/// A rule violation found by the key/value checks, relative to the checked string.
struct Problem {
    offset: usize,
    reason: &'static str,
}

impl Problem {
    fn new(offset: usize, reason: &'static str) -> Self {
        Self { offset, reason }
    }

    /// Turns the problem into an error; `base` is where the checked string starts in the input.
    fn into_error(self, what: &str, base: usize) -> SelectorError {
        let position = base + self.offset;
        SelectorError {
            position: Some(position),
            message: format!("invalid {what} at position {position}: {}", self.reason),
        }
    }
}

/// Checks a label name or a non-empty label value: `[A-Za-z0-9]` at both ends, `[-_.A-Za-z0-9]`
/// inside, at most 63 characters.
fn check_name(name: &str) -> Result<(), Problem> {
    if name.is_empty() {
        return Err(Problem::new(0, "must not be empty"));
    }
    let bytes = name.as_bytes();
    let last = bytes.len() - 1;
    for (i, &b) in bytes.iter().enumerate() {
        if b.is_ascii_alphanumeric() {
            continue;
        }
        if !matches!(b, b'-' | b'_' | b'.') {
            return Err(Problem::new(
                i,
                "only letters, digits, '-', '_' and '.' are allowed",
            ));
        }
        if i == 0 || i == last {
            return Err(Problem::new(i, "must begin and end with a letter or digit"));
        }
    }
    if bytes.len() > MAX_NAME_LEN {
        return Err(Problem::new(MAX_NAME_LEN, "must be at most 63 characters"));
    }
    Ok(())
}

/// Checks a key prefix: a lowercase DNS-1123 subdomain of at most 253 characters.
fn check_prefix(prefix: &str) -> Result<(), Problem> {
    if prefix.is_empty() {
        return Err(Problem::new(0, "prefix before '/' must not be empty"));
    }
    let mut start = 0;
    for label in prefix.split('.') {
        let bytes = label.as_bytes();
        if bytes.is_empty() {
            return Err(Problem::new(
                start,
                "prefix must not contain empty DNS labels",
            ));
        }
        for (i, &b) in bytes.iter().enumerate() {
            let ok = b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || (b == b'-' && i != 0 && i != bytes.len() - 1);
            if !ok {
                let reason = if b.is_ascii_uppercase() {
                    "prefix must be lowercase"
                } else if b == b'-' {
                    "prefix DNS labels must begin and end with a letter or digit"
                } else {
                    "prefix may contain only lowercase letters, digits, '-' and '.'"
                };
                return Err(Problem::new(start + i, reason));
            }
        }
        start += bytes.len() + 1;
    }
    if prefix.len() > MAX_PREFIX_LEN {
        return Err(Problem::new(
            MAX_PREFIX_LEN,
            "prefix must be at most 253 characters",
        ));
    }
    Ok(())
}

fn check_key(key: &str) -> Result<(), Problem> {
    match key.split_once('/') {
        None => check_name(key),
        Some((prefix, name)) => {
            let name_start = prefix.len() + 1;
            if let Some(extra) = name.find('/') {
                return Err(Problem::new(
                    name_start + extra,
                    "a key may contain at most one '/'",
                ));
            }
            check_prefix(prefix)?;
            check_name(name).map_err(|p| Problem::new(name_start + p.offset, p.reason))
        }
    }
}

fn check_value(value: &str) -> Result<(), Problem> {
    if value.is_empty() {
        Ok(())
    } else {
        check_name(value)
    }
}

/// Checks a label key: an optional prefix (a lowercase DNS subdomain of at most 253 characters)
/// and `/`, then a name of 1 to 63 characters, `[A-Za-z0-9]` at both ends and `[-_.A-Za-z0-9]`
/// inside. The error's position is a byte offset into `key`.
pub fn validate_label_key(key: &str) -> Result<(), SelectorError> {
    check_key(key).map_err(|p| p.into_error("label key", 0))
}

/// Checks a label value: empty, or 1 to 63 characters with the same rules as a key's name.
/// The error's position is a byte offset into `value`.
pub fn validate_label_value(value: &str) -> Result<(), SelectorError> {
    check_value(value).map_err(|p| p.into_error("label value", 0))
}

/// Checks every key and value of a label set, and that it has at most 64 labels.
///
/// The error names the offending key; its position is `None`.
pub fn validate_labels(labels: &Labels) -> Result<(), SelectorError> {
    if labels.len() > MAX_LABELS {
        return Err(SelectorError::general(format!(
            "too many labels: {} (at most {MAX_LABELS})",
            labels.len()
        )));
    }
    for (key, value) in labels {
        let named = |e: SelectorError| {
            SelectorError::general(format!("label {:?}: {}", excerpt(key), e.message))
        };
        validate_label_key(key).map_err(named)?;
        validate_label_value(value).map_err(named)?;
    }
    Ok(())
}

/// At most 64 characters of `s`, for echoing untrusted input in error messages.
fn excerpt(s: &str) -> String {
    const MAX: usize = 64;
    match s.char_indices().nth(MAX) {
        Some((end, _)) => format!("{}...", &s[..end]),
        None => s.to_owned(),
    }
}

/// How a [`Requirement`] compares a label with its values.
///
/// The declaration order is the canonical order of requirements on the same key.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Operator {
    /// `key=value`: present with exactly this value.
    Equals,
    /// `key!=value`: absent, or present with another value.
    NotEquals,
    /// `key in (a,b)`: present with one of the values.
    In,
    /// `key notin (a,b)`: absent, or present with none of the values.
    NotIn,
    /// `key`: present, with any value.
    Exists,
    /// `!key`: absent.
    DoesNotExist,
}

/// One condition of a [`Selector`] on one label key.
///
/// Field order gives the canonical ordering: by key, then operator, then values.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Requirement {
    key: String,
    op: Operator,
    values: BTreeSet<String>,
}

impl Requirement {
    /// Builds a requirement, checking the key, the values and their number: exactly one
    /// (possibly empty) value for `Equals`/`NotEquals`, one or more non-empty values for
    /// `In`/`NotIn`, none for `Exists`/`DoesNotExist`.
    pub fn new<S: Into<String>>(
        key: impl Into<String>,
        op: Operator,
        values: impl IntoIterator<Item = S>,
    ) -> Result<Self, SelectorError> {
        let key = key.into();
        let values: BTreeSet<String> = values.into_iter().map(Into::into).collect();
        validate_label_key(&key)?;
        for value in &values {
            validate_label_value(value)?;
        }
        let arity_ok = match op {
            Operator::Equals | Operator::NotEquals => values.len() == 1,
            Operator::In | Operator::NotIn => {
                !values.is_empty() && values.iter().all(|v| !v.is_empty())
            }
            Operator::Exists | Operator::DoesNotExist => values.is_empty(),
        };
        if !arity_ok {
            return Err(SelectorError::general(format!(
                "operator {op:?} on key {:?} takes {}",
                excerpt(&key),
                match op {
                    Operator::Equals | Operator::NotEquals => "exactly one value",
                    Operator::In | Operator::NotIn => "one or more non-empty values",
                    Operator::Exists | Operator::DoesNotExist => "no values",
                }
            )));
        }
        Ok(Self { key, op, values })
    }

    /// The label key this requirement is about.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// How the label is compared.
    pub fn operator(&self) -> Operator {
        self.op
    }

    /// The values compared with; empty for `Exists` and `DoesNotExist`.
    pub fn values(&self) -> &BTreeSet<String> {
        &self.values
    }

    /// Whether `labels` satisfy this requirement (Kubernetes semantics: the negative operators
    /// `NotEquals` and `NotIn` hold when the key is absent).
    pub fn matches(&self, labels: &Labels) -> bool {
        let value = labels.get(&self.key);
        let in_values = value.is_some_and(|v| self.values.contains(v));
        match self.op {
            Operator::Equals | Operator::In => in_values,
            Operator::NotEquals | Operator::NotIn => !in_values,
            Operator::Exists => value.is_some(),
            Operator::DoesNotExist => value.is_none(),
        }
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key = &self.key;
        let list = |f: &mut fmt::Formatter<'_>, word: &str| {
            write!(f, "{key} {word} (")?;
            for (i, value) in self.values.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                f.write_str(value)?;
            }
            f.write_str(")")
        };
        let first = self.values.first().map_or("", String::as_str);
        match self.op {
            Operator::Equals => write!(f, "{key}={first}"),
            Operator::NotEquals => write!(f, "{key}!={first}"),
            Operator::In => list(f, "in"),
            Operator::NotIn => list(f, "notin"),
            Operator::Exists => f.write_str(key),
            Operator::DoesNotExist => write!(f, "!{key}"),
        }
    }
}

/// A conjunction of label requirements; see the [module documentation](self) for the syntax.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash)]
pub struct Selector {
    /// Sorted and deduplicated.
    requirements: Vec<Requirement>,
}

impl Selector {
    /// Parses the Kubernetes selector syntax. Whitespace around tokens is ignored; an empty or
    /// blank string is the selector that matches everything. Inputs over 4096 bytes are rejected.
    pub fn parse(input: &str) -> Result<Selector, SelectorError> {
        if input.len() > MAX_SELECTOR_LEN {
            return Err(SelectorError::general(format!(
                "selector is {} bytes long (at most {MAX_SELECTOR_LEN})",
                input.len()
            )));
        }
        Parser { input, pos: 0 }.selector().map(Selector::new)
    }

    /// Builds a selector from requirements, in canonical order and without duplicates.
    pub fn new(requirements: impl IntoIterator<Item = Requirement>) -> Selector {
        let mut requirements: Vec<Requirement> = requirements.into_iter().collect();
        requirements.sort();
        requirements.dedup();
        Selector { requirements }
    }

    /// The selector without requirements, which matches every label set.
    pub fn everything() -> Selector {
        Selector::default()
    }

    /// Whether every requirement holds for `labels`.
    pub fn matches(&self, labels: &Labels) -> bool {
        self.requirements.iter().all(|r| r.matches(labels))
    }

    /// Whether this selector has no requirements and so matches everything.
    pub fn is_everything(&self) -> bool {
        self.requirements.is_empty()
    }

    /// The requirements, in canonical order.
    pub fn requirements(&self) -> &[Requirement] {
        &self.requirements
    }
}

impl fmt::Display for Selector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, requirement) in self.requirements.iter().enumerate() {
            if i > 0 {
                f.write_str(",")?;
            }
            write!(f, "{requirement}")?;
        }
        Ok(())
    }
}

impl FromStr for Selector {
    type Err = SelectorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Selector::parse(s)
    }
}

impl serde::Serialize for Selector {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Selector {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(deserializer)?;
        Selector::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// A hand-written parser over the bytes of the input; every delimiter is ASCII, so slicing
/// between delimiters always falls on `char` boundaries.
struct Parser<'a> {
    input: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn peek(&self) -> Option<u8> {
        self.input.as_bytes().get(self.pos).copied()
    }

    fn eat(&mut self, byte: u8) -> bool {
        let found = self.peek() == Some(byte);
        if found {
            self.pos += 1;
        }
        found
    }

    fn skip_whitespace(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.pos += 1;
        }
    }

    /// Consumes the longest run of bytes that are neither whitespace nor punctuation.
    fn word(&mut self) -> &'a str {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if matches!(
                b,
                b' ' | b'\t' | b'\r' | b'\n' | b'!' | b'=' | b',' | b'(' | b')' | b'<' | b'>'
            ) {
                break;
            }
            self.pos += 1;
        }
        &self.input[start..self.pos]
    }

    fn error(&self, what: &str) -> SelectorError {
        SelectorError::at(self.pos, what)
    }

    fn selector(mut self) -> Result<Vec<Requirement>, SelectorError> {
        let mut requirements = Vec::new();
        self.skip_whitespace();
        if self.peek().is_none() {
            return Ok(requirements);
        }
        loop {
            requirements.push(self.requirement()?);
            self.skip_whitespace();
            match self.peek() {
                None => return Ok(requirements),
                Some(b',') => {
                    self.pos += 1;
                    self.skip_whitespace();
                    if self.peek().is_none() {
                        return Err(self.error("expected a requirement after ','"));
                    }
                }
                Some(_) => return Err(self.error("expected ',' or end of input")),
            }
        }
    }

    fn requirement(&mut self) -> Result<Requirement, SelectorError> {
        if self.eat(b'!') {
            self.skip_whitespace();
            let key = self.key()?;
            return Ok(Requirement {
                key,
                op: Operator::DoesNotExist,
                values: BTreeSet::new(),
            });
        }
        let key = self.key()?;
        self.skip_whitespace();
        let op = match self.peek() {
            None | Some(b',') => {
                return Ok(Requirement {
                    key,
                    op: Operator::Exists,
                    values: BTreeSet::new(),
                });
            }
            Some(b'=') => {
                self.pos += 1;
                self.eat(b'=');
                Operator::Equals
            }
            Some(b'!') => {
                self.pos += 1;
                if !self.eat(b'=') {
                    return Err(self.error("expected '=' after '!'"));
                }
                Operator::NotEquals
            }
            Some(_) => {
                let start = self.pos;
                match self.word() {
                    "in" => Operator::In,
                    "notin" => Operator::NotIn,
                    _ => {
                        return Err(SelectorError::at(
                            start,
                            "expected one of '=', '==', '!=', 'in', 'notin', ',' or end of input",
                        ));
                    }
                }
            }
        };
        let values = if matches!(op, Operator::In | Operator::NotIn) {
            self.value_list()?
        } else {
            self.skip_whitespace();
            BTreeSet::from([self.value()?])
        };
        Ok(Requirement { key, op, values })
    }

    fn key(&mut self) -> Result<String, SelectorError> {
        let start = self.pos;
        let key = self.word();
        if key.is_empty() {
            return Err(self.error("expected a label key"));
        }
        check_key(key).map_err(|p| p.into_error("label key", start))?;
        Ok(key.to_owned())
    }

    fn value(&mut self) -> Result<String, SelectorError> {
        let start = self.pos;
        let value = self.word();
        check_value(value).map_err(|p| p.into_error("label value", start))?;
        Ok(value.to_owned())
    }

    fn value_list(&mut self) -> Result<BTreeSet<String>, SelectorError> {
        self.skip_whitespace();
        if !self.eat(b'(') {
            return Err(self.error("expected '('"));
        }
        let mut values = BTreeSet::new();
        loop {
            self.skip_whitespace();
            let value = self.value()?;
            if value.is_empty() {
                return Err(match self.peek() {
                    Some(b')') if values.is_empty() => self.error("empty value list"),
                    Some(b')') => self.error("dangling ',' before ')'"),
                    _ => self.error("expected a label value"),
                });
            }
            values.insert(value);
            self.skip_whitespace();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b')') => {
                    self.pos += 1;
                    return Ok(values);
                }
                None => return Err(self.error("expected ')'")),
                Some(_) => return Err(self.error("expected ',' or ')'")),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|&(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    /// `expected` is the canonical form on success, or the error message on failure.
    fn check(input: &str, expected: Result<&str, &str>) {
        let actual = Selector::parse(input);
        match (&actual, expected) {
            (Ok(selector), Ok(canonical)) => {
                assert_eq!(
                    selector.to_string(),
                    canonical,
                    "canonical form of {input:?}"
                );
                assert_eq!(
                    Selector::parse(canonical).as_ref(),
                    Ok(selector),
                    "{input:?}"
                );
            }
            (Err(error), Err(message)) => assert_eq!(error.message, message, "{input:?}"),
            _ => panic!("{input:?}: expected {expected:?}, got {actual:?}"),
        }
    }

    #[test]
    fn parse_valid() {
        check("", Ok(""));
        check("  \t\n ", Ok(""));
        check("a=b", Ok("a=b"));
        check("a==b", Ok("a=b"));
        check(" a = b ", Ok("a=b"));
        check("a!=b", Ok("a!=b"));
        check("a != b", Ok("a!=b"));
        check("a=", Ok("a="));
        check("a=,b", Ok("a=,b"));
        check("a!=", Ok("a!="));
        check("a in (y,x)", Ok("a in (x,y)"));
        check("a in(x , y,x)", Ok("a in (x,y)"));
        check("a notin (x)", Ok("a notin (x)"));
        check("a", Ok("a"));
        check("!a", Ok("!a"));
        check("! a", Ok("!a"));
        check("b=1,a=2", Ok("a=2,b=1"));
        check(
            "!a,a,a notin (x),a in (x),a!=x,a=x",
            Ok("a=x,a!=x,a in (x),a notin (x),a,!a"),
        );
        check("a=b,a=b", Ok("a=b"));
        check("example.com/tier=edge", Ok("example.com/tier=edge"));
        check("in in (in)", Ok("in in (in)"));
        check("A_b.c-D=V-1.x_Y", Ok("A_b.c-D=V-1.x_Y"));
    }

    #[test]
    fn parse_invalid() {
        check(",", Err("expected a label key at position 0"));
        check(
            "a=b,",
            Err("expected a requirement after ',' at position 4"),
        );
        check("a=b,,c", Err("expected a label key at position 4"));
        check("a=b c", Err("expected ',' or end of input at position 4"));
        check("a in ()", Err("empty value list at position 6"));
        check("a in (x,)", Err("dangling ',' before ')' at position 8"));
        check("a in (,x)", Err("expected a label value at position 6"));
        check("a in (x", Err("expected ')' at position 7"));
        check("a in (x y)", Err("expected ',' or ')' at position 8"));
        check("a in x", Err("expected '(' at position 5"));
        check(
            "a in (x))",
            Err("expected ',' or end of input at position 8"),
        );
        check("a notin", Err("expected '(' at position 7"));
        check("a ! b", Err("expected '=' after '!' at position 3"));
        check(
            "a b",
            Err(
                "expected one of '=', '==', '!=', 'in', 'notin', ',' or end of input at position 2",
            ),
        );
        check(
            "a>1",
            Err(
                "expected one of '=', '==', '!=', 'in', 'notin', ',' or end of input at position 1",
            ),
        );
        check("!a=b", Err("expected ',' or end of input at position 2"));
        check("!", Err("expected a label key at position 1"));
        check("=b", Err("expected a label key at position 0"));
        check("a=(b)", Err("expected ',' or end of input at position 2"));
        check("a===b", Err("expected ',' or end of input at position 3"));
        check(
            "-a=b",
            Err("invalid label key at position 0: must begin and end with a letter or digit"),
        );
        check(
            "x,Ex.com/a",
            Err("invalid label key at position 2: prefix must be lowercase"),
        );
        check(
            "/a",
            Err("invalid label key at position 0: prefix before '/' must not be empty"),
        );
        check(
            "a/b/c",
            Err("invalid label key at position 3: a key may contain at most one '/'"),
        );
        check(
            "a/",
            Err("invalid label key at position 2: must not be empty"),
        );
        check(
            "a=b$",
            Err(
                "invalid label value at position 3: only letters, digits, '-', '_' and '.' are allowed",
            ),
        );
        check(
            "a in (x,-y)",
            Err("invalid label value at position 8: must begin and end with a letter or digit"),
        );
        check(
            "é=1",
            Err(
                "invalid label key at position 0: only letters, digits, '-', '_' and '.' are allowed",
            ),
        );
        let long = "a".repeat(64);
        check(
            &format!("k={long}"),
            Err("invalid label value at position 65: must be at most 63 characters"),
        );
        let too_long = format!("a={}", "b".repeat(MAX_SELECTOR_LEN));
        check(&too_long, Err("selector is 4098 bytes long (at most 4096)"));
    }

    #[test]
    fn error_positions() {
        let error = Selector::parse("tier in (edge, core").unwrap_err();
        assert_eq!(error.position, Some(19));
        assert_eq!(error.to_string(), "expected ')' at position 19");
        assert_eq!(
            Selector::parse(&"a".repeat(5000)).unwrap_err().position,
            None
        );
    }

    #[test]
    fn label_keys() {
        let max_prefix = format!("{}.com", "a".repeat(MAX_PREFIX_LEN - 4));
        let ok = [
            "a",
            "A",
            "a-b_c.d",
            "kubernetes.io/os",
            "a-1.b/C",
            &"n".repeat(63),
            &format!("{max_prefix}/x"),
        ];
        for key in ok {
            assert_eq!(validate_label_key(key), Ok(()), "{key}");
        }
        let bad = [
            ("", "invalid label key at position 0: must not be empty"),
            (
                "a.",
                "invalid label key at position 1: must begin and end with a letter or digit",
            ),
            (
                "_a",
                "invalid label key at position 0: must begin and end with a letter or digit",
            ),
            (
                "a b",
                "invalid label key at position 1: only letters, digits, '-', '_' and '.' are allowed",
            ),
            (
                &"n".repeat(64),
                "invalid label key at position 63: must be at most 63 characters",
            ),
            (
                "a..b/c",
                "invalid label key at position 2: prefix must not contain empty DNS labels",
            ),
            (
                "-a/c",
                "invalid label key at position 0: prefix DNS labels must begin and end with a letter or digit",
            ),
            (
                "a_b/c",
                "invalid label key at position 1: prefix may contain only lowercase letters, digits, '-' and '.'",
            ),
            (
                &format!("a{max_prefix}/x"),
                "invalid label key at position 253: prefix must be at most 253 characters",
            ),
        ];
        for (key, message) in bad {
            assert_eq!(
                validate_label_key(key).map_err(|e| e.message),
                Err(message.to_owned())
            );
        }
    }

    #[test]
    fn label_values_and_sets() {
        assert_eq!(validate_label_value(""), Ok(()));
        assert_eq!(validate_label_value("v1.2_x-y"), Ok(()));
        assert!(validate_label_value("a/b").is_err());
        assert!(validate_label_value(&"v".repeat(64)).is_err());

        let mut set: Labels = (0..MAX_LABELS)
            .map(|i| (format!("k{i}"), String::new()))
            .collect();
        assert_eq!(validate_labels(&set), Ok(()));
        set.insert("one-too-many".into(), "x".into());
        assert_eq!(
            validate_labels(&set).map_err(|e| e.message),
            Err("too many labels: 65 (at most 64)".to_owned())
        );
        assert_eq!(
            validate_labels(&labels(&[("ok", "-bad")])).map_err(|e| e.message),
            Err("label \"ok\": invalid label value at position 0: must begin and end with a letter or digit".to_owned())
        );
        assert!(validate_labels(&labels(&[("Bad/x", "v")])).is_err());
    }

    #[test]
    fn matching() {
        let node = labels(&[("region", "eu"), ("tier", "edge"), ("gpu", "")]);
        let cases = [
            ("", true),
            ("region=eu", true),
            ("region=us", false),
            ("region!=us", true),
            ("region!=eu", false),
            ("zone!=a", true),
            ("zone notin (a)", true),
            ("region in (us,eu)", true),
            ("region in (us)", false),
            ("region notin (us,eu)", false),
            ("zone in (a)", false),
            ("zone=", false),
            ("gpu=", true),
            ("gpu", true),
            ("!gpu", false),
            ("!zone", true),
            ("zone", false),
            ("region=eu,tier=edge", true),
            ("region=eu,tier=core", false),
        ];
        for (selector, expected) in cases {
            let parsed = Selector::parse(selector).unwrap();
            assert_eq!(parsed.matches(&node), expected, "{selector}");
        }
        assert!(Selector::everything().is_everything());
        assert!(Selector::everything().matches(&Labels::new()));
        assert!(!Selector::parse("a").unwrap().is_everything());
    }

    #[test]
    fn requirement_constructor() {
        let r = Requirement::new("a", Operator::In, ["y", "x"]).unwrap();
        assert_eq!(r.to_string(), "a in (x,y)");
        assert_eq!(r.key(), "a");
        assert_eq!(r.operator(), Operator::In);
        assert_eq!(r.values().len(), 2);
        assert!(Requirement::new("a", Operator::In, [""]).is_err());
        assert!(Requirement::new("a", Operator::In, Vec::<String>::new()).is_err());
        assert!(Requirement::new("a", Operator::Equals, ["x", "y"]).is_err());
        assert!(Requirement::new("a", Operator::Exists, ["x"]).is_err());
        assert!(Requirement::new("a!", Operator::Exists, [""; 0]).is_err());
        assert!(Requirement::new("a", Operator::Equals, ["$"]).is_err());
        let selector = Selector::new([
            Requirement::new("b", Operator::Exists, [""; 0]).unwrap(),
            Requirement::new("a", Operator::Equals, [""]).unwrap(),
        ]);
        assert_eq!(selector.to_string(), "a=,b");
        assert_eq!(selector.requirements().len(), 2);
    }

    #[test]
    fn serde_form() {
        let selector: Selector = "b in (2,1), a".parse().unwrap();
        let json = serde_json::to_string(&selector).unwrap();
        assert_eq!(json, r#""a,b in (1,2)""#);
        assert_eq!(serde_json::from_str::<Selector>(&json).unwrap(), selector);
        let error = serde_json::from_str::<Selector>(r#""a in (""#).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("expected a label value at position 6"),
            "{error}"
        );
        assert!(serde_json::from_str::<Selector>("3").is_err());
    }

    const KEYS: &[&str] = &["a", "b", "x.io/c"];
    const VALUES: &[&str] = &["1", "2", "v-3"];

    fn requirement() -> impl Strategy<Value = Requirement> {
        let key = proptest::sample::select(KEYS);
        let value = proptest::sample::select(VALUES);
        let op = proptest::sample::select(
            &[
                Operator::Equals,
                Operator::NotEquals,
                Operator::In,
                Operator::NotIn,
                Operator::Exists,
                Operator::DoesNotExist,
            ][..],
        );
        let values = proptest::collection::btree_set(value.clone(), 1..=3);
        let equals_value = prop_oneof![Just(""), value];
        (key, op, values, equals_value).prop_map(|(key, op, values, single)| {
            let values: Vec<&str> = match op {
                Operator::Equals | Operator::NotEquals => vec![single],
                Operator::In | Operator::NotIn => values.into_iter().collect(),
                Operator::Exists | Operator::DoesNotExist => vec![],
            };
            Requirement::new(key, op, values).unwrap()
        })
    }

    fn selector() -> impl Strategy<Value = Selector> {
        proptest::collection::vec(requirement(), 0..6).prop_map(Selector::new)
    }

    fn label_set() -> impl Strategy<Value = Labels> {
        let key = proptest::sample::select(KEYS).prop_map(str::to_owned);
        let value = prop_oneof![Just(""), proptest::sample::select(VALUES)].prop_map(str::to_owned);
        proptest::collection::btree_map(key, value, 0..=3)
    }

    /// Reference semantics written independently of `Requirement::matches`.
    fn naive_matches(selector: &Selector, labels: &Labels) -> bool {
        for r in selector.requirements() {
            let present = labels.contains_key(r.key());
            let hit = r.values().iter().any(|v| labels.get(r.key()) == Some(v));
            let ok = match r.operator() {
                Operator::Exists => present,
                Operator::DoesNotExist => !present,
                Operator::Equals | Operator::In => present && hit,
                Operator::NotEquals | Operator::NotIn => !present || !hit,
            };
            if !ok {
                return false;
            }
        }
        true
    }

    proptest! {
        #[test]
        fn display_round_trips(selector in selector()) {
            let text = selector.to_string();
            prop_assert_eq!(Selector::parse(&text), Ok(selector.clone()));
            // Whitespace around every token is tolerated.
            let spaced = text
                .replace(',', " , ")
                .replace('(', " ( ")
                .replace(')', " ) ")
                .replace("!=", "\0")
                .replace('=', " == ")
                .replace('\0', " != ");
            prop_assert_eq!(Selector::parse(&format!(" {spaced} ")), Ok(selector));
        }

        #[test]
        fn serde_round_trips(selector in selector()) {
            let json = serde_json::to_string(&selector).unwrap();
            prop_assert_eq!(serde_json::from_str::<Selector>(&json).unwrap(), selector);
        }

        #[test]
        fn matches_agrees_with_reference(selector in selector(), labels in label_set()) {
            prop_assert_eq!(selector.matches(&labels), naive_matches(&selector, &labels));
        }

        #[test]
        fn parse_never_panics(input in any::<String>()) {
            let _ = Selector::parse(&input);
        }

        #[test]
        fn parse_never_panics_on_selector_like_input(input in "[a-c!=,() \tnotiéx./-]{0,40}") {
            if let Ok(selector) = Selector::parse(&input) {
                prop_assert_eq!(Selector::parse(&selector.to_string()), Ok(selector));
            }
        }
    }
}
