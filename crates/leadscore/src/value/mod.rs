//! Values read from a lead, and the language's comparison rules: strings compare
//! case-insensitively, a numeric string compared with a number is a number, and a missing
//! value makes every comparison false.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;

pub mod escape;
pub mod hours;
pub(crate) mod keys;
pub mod path;
pub mod pattern;
pub mod time;

pub use time::Millis;

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CmpOp {
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
}

/// A string operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StrOp {
    /// `contains`: substring of a string, element of a list.
    Contains,
    /// `starts_with`.
    StartsWith,
    /// `ends_with`.
    EndsWith,
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CmpOp::Eq => "==",
            CmpOp::Ne => "!=",
            CmpOp::Lt => "<",
            CmpOp::Le => "<=",
            CmpOp::Gt => ">",
            CmpOp::Ge => ">=",
        })
    }
}

/// A value of a lead field or event property. Strings borrow from the input when they can.
#[derive(Clone, Debug, PartialEq)]
pub enum Value<'a> {
    /// JSON `null`: treated as missing.
    Null,
    /// `true` or `false`.
    Bool(bool),
    /// A number.
    Num(f64),
    /// A string.
    Str(Cow<'a, str>),
    /// An array of values.
    List(Vec<Value<'a>>),
    /// An object: present, but only `exists` can test it.
    Object,
}

impl Value<'_> {
    /// The value with every borrowed string copied.
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Null => Value::Null,
            Value::Bool(b) => Value::Bool(b),
            Value::Num(n) => Value::Num(n),
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::List(items) => Value::List(items.into_iter().map(Value::into_owned).collect()),
            Value::Object => Value::Object,
        }
    }

    /// Converts a JSON value, borrowing its strings; an error for arrays nested deeper
    /// than serde_json's own limit for text (a `Value` built in code can be any depth,
    /// and converting it must not exhaust the stack).
    #[inline]
    pub fn from_json_checked(v: &serde_json::Value) -> Result<Value<'_>, TooDeep> {
        // Scalars first, inline: this runs for every field and event property read.
        Ok(match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Num),
            serde_json::Value::String(s) => Value::Str(Cow::Borrowed(s)),
            serde_json::Value::Object(_) => Value::Object,
            serde_json::Value::Array(_) => return Value::from_json_array(v),
        })
    }

    #[cold]
    fn from_json_array(v: &serde_json::Value) -> Result<Value<'_>, TooDeep> {
        fn depth_ok(v: &serde_json::Value) -> bool {
            let mut level = vec![v];
            for _ in 0..MAX_DEPTH {
                level = level
                    .into_iter()
                    .flat_map(|v| v.as_array().map(|items| items.iter()).into_iter().flatten())
                    .collect();
                if level.is_empty() {
                    return true;
                }
            }
            false
        }
        if !depth_ok(v) {
            return Err(TooDeep);
        }
        Ok(Value::from_json(v))
    }

    /// Converts a JSON value, borrowing its strings. Recursive: see [`Value::from_json_checked`].
    pub fn from_json(v: &serde_json::Value) -> Value<'_> {
        match v {
            serde_json::Value::Null => Value::Null,
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => n.as_f64().map_or(Value::Null, Value::Num),
            serde_json::Value::String(s) => Value::Str(Cow::Borrowed(s)),
            serde_json::Value::Array(items) => Value::List(items.iter().map(Value::from_json).collect()),
            serde_json::Value::Object(_) => Value::Object,
        }
    }

    /// Back to JSON, for ids and plugin results.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Value::Null | Value::Object => serde_json::Value::Null,
            Value::Bool(b) => serde_json::Value::Bool(*b),
            Value::Num(n) => num_to_json(*n),
            Value::Str(s) => serde_json::Value::String(s.to_string()),
            Value::List(items) => serde_json::Value::Array(items.iter().map(Value::to_json).collect()),
        }
    }

    /// The number this value stands for: a number, or a string that parses as one.
    pub fn as_num(&self) -> Option<f64> {
        match self {
            Value::Num(n) => Some(*n),
            Value::Str(s) => s.trim().parse().ok().filter(|n: &f64| n.is_finite()),
            _ => None,
        }
    }

    /// The text of a string or number, for string tests.
    pub fn as_text(&self) -> Option<Cow<'_, str>> {
        match self {
            Value::Str(s) => Some(Cow::Borrowed(s)),
            Value::Num(n) => Some(Cow::Owned(n.to_string())),
            Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
            _ => None,
        }
    }

    fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            Value::Str(s) if s.eq_ignore_ascii_case("true") => Some(true),
            Value::Str(s) if s.eq_ignore_ascii_case("false") => Some(false),
            _ => None,
        }
    }

    /// Present and not null.
    pub fn exists(&self) -> bool {
        !matches!(self, Value::Null)
    }
}

/// A value nested deeper than [`MAX_DEPTH`] arrays.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TooDeep;

impl fmt::Display for TooDeep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a value nested more than {MAX_DEPTH} levels deep")
    }
}

/// How deep arrays in a lead may nest: serde_json's recursion limit for text.
pub const MAX_DEPTH: usize = 128;

/// A number as results show it: no trailing `.0`, at most 4 decimals, never `-0`.
pub fn show_number(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A number as JSON: whole numbers without a fraction.
pub fn num_to_json(n: f64) -> serde_json::Value {
    match whole(n) {
        Some(whole) => serde_json::Value::from(whole),
        None => serde_json::Number::from_f64(n).map_or(serde_json::Value::Null, serde_json::Value::Number),
    }
}

/// A number JSON shows as a whole number (no `.0`): whole, and small enough that every
/// integer near it is exact in an `f64` (below 9e15).
pub(crate) fn whole(n: f64) -> Option<i64> {
    (n.fract() == 0.0 && n.abs() < 9e15).then_some(n as i64)
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Null => write!(f, "null"),
            Value::Bool(b) => write!(f, "{b}"),
            Value::Num(n) => write!(f, "{n}"),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::List(items) => {
                write!(f, "[")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        write!(f, ", ")?;
                    }
                    write!(f, "{v}")?;
                }
                write!(f, "]")
            }
            Value::Object => write!(f, "{{...}}"),
        }
    }
}

/// `a OP b` under the language's rules.
pub fn compare(a: &Value, op: CmpOp, b: &Value) -> bool {
    if !a.exists() || !b.exists() {
        return false;
    }
    if let Value::List(items) = a {
        let any = items.iter().any(|v| compare(v, CmpOp::Eq, b));
        return match op {
            CmpOp::Eq => any,
            CmpOp::Ne => !any,
            _ => false,
        };
    }
    op.holds(order(a, b))
}

impl CmpOp {
    /// Whether two values that order as `ord` (`None`: not comparable) pass this test.
    #[inline]
    fn holds(self, ord: Option<Ordering>) -> bool {
        match ord {
            Some(ord) => match self {
                CmpOp::Eq => ord == Ordering::Equal,
                CmpOp::Ne => ord != Ordering::Equal,
                CmpOp::Lt => ord == Ordering::Less,
                CmpOp::Le => ord != Ordering::Greater,
                CmpOp::Gt => ord == Ordering::Greater,
                CmpOp::Ge => ord != Ordering::Less,
            },
            // Values of different kinds are unequal and unordered.
            None => self == CmpOp::Ne,
        }
    }
}

/// A literal of a pack (`"saas"`, `50`), with what comparing a lead's value against it
/// needs worked out when the pack is compiled: whether a string literal reads as a
/// number, and its lower-cased text. The common tests (a string field equal to a word,
/// `in` a short list of words, a number against a number) are then one compare, with
/// the same answer as [`compare`] gives; the rest go through [`compare`].
///
/// ```
/// use leadscore::value::{compare, CmpOp, Literal, Value};
/// let saas = Literal::new(Value::Str("SaaS".into()));
/// assert!(saas.compare(&Value::Str("saas".into()), CmpOp::Eq));
/// assert!(!saas.compare(&Value::Str("saas2".into()), CmpOp::Eq));
/// assert!(!saas.compare(&Value::Null, CmpOp::Ne), "a missing value makes every test false");
/// let fifty = Literal::new(Value::Str("50".into()));
/// let size = Value::Num(120.0);
/// assert_eq!(fifty.compare(&size, CmpOp::Gt), compare(&size, CmpOp::Gt, fifty.value()));
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Literal {
    value: Value<'static>,
    /// For an ASCII string that does not read as a number: its text lower-cased. A lead's
    /// ASCII string then orders against it byte by byte, lower-cased (what [`compare`]
    /// does once it finds that both are not numbers).
    folded: Option<Box<[u8]>>,
}

impl Literal {
    /// A literal of this value.
    pub fn new(value: Value<'static>) -> Literal {
        let folded = match &value {
            Value::Str(s) if s.is_ascii() && value.as_num().is_none() => {
                Some(s.bytes().map(|b| b.to_ascii_lowercase()).collect())
            }
            _ => None,
        };
        Literal { value, folded }
    }

    /// The value.
    pub fn value(&self) -> &Value<'static> {
        &self.value
    }

    /// `a OP literal`: the same as [`compare`]`(a, op, self.value())`.
    #[inline]
    pub fn compare(&self, a: &Value, op: CmpOp) -> bool {
        match (a, &self.folded, &self.value) {
            (Value::Str(s), Some(folded), _) if s.is_ascii() => op.holds(Some(cmp_folded(s.as_bytes(), folded))),
            (Value::Num(x), _, Value::Num(y)) => op.holds(x.partial_cmp(y)),
            _ => compare(a, op, &self.value),
        }
    }

    /// `a OP literal` for `contains`, `starts_with` and `ends_with`: the same as
    /// [`str_test`]`(op, a, self.value())`, without lower-casing a copy of an ASCII text.
    ///
    /// ```
    /// use leadscore::value::{Literal, StrOp, Value};
    /// let edu = Literal::new(Value::Str(".EDU".into()));
    /// assert!(edu.str_test(StrOp::EndsWith, &Value::Str("kim@uni.edu".into())));
    /// assert!(!edu.str_test(StrOp::StartsWith, &Value::Str("kim@uni.edu".into())));
    /// ```
    #[inline]
    pub fn str_test(&self, op: StrOp, a: &Value) -> bool {
        let (Value::Str(text), Some(folded)) = (a, &self.folded) else {
            return str_test(op, a, &self.value);
        };
        if !text.is_ascii() {
            return str_test(op, a, &self.value);
        }
        let (text, n) = (text.as_bytes(), folded.len());
        match op {
            StrOp::StartsWith => text.get(..n).is_some_and(|head| head.eq_ignore_ascii_case(folded)),
            StrOp::EndsWith => (text.len().checked_sub(n))
                .and_then(|start| text.get(start..))
                .is_some_and(|tail| tail.eq_ignore_ascii_case(folded)),
            StrOp::Contains => n == 0 || text.windows(n).any(|w| w.eq_ignore_ascii_case(folded)),
        }
    }
}

/// The list of an `in` test (`industry in ["saas", "software"]`): a value is in it when
/// it equals one of the items ([`Literal::compare`] with `==`). When every item is a word
/// (an ASCII string that does not read as a number), an ASCII string is looked up in one
/// probe of an index of them instead of compared with each in turn.
///
/// ```
/// use leadscore::value::{Literal, Literals, Value};
/// let list = Literals::new(["saas", "SOFTWARE"].map(|w| Literal::new(Value::Str(w.into()))).into());
/// assert!(list.contains(&Value::Str("Software".into())));
/// assert!(!list.contains(&Value::Str("soft".into())));
/// assert!(!list.contains(&Value::Null));
/// assert_eq!(list.len(), 2);
/// ```
#[derive(Clone, Debug)]
pub struct Literals {
    items: Box<[Literal]>,
    /// The items' lower-cased texts, when every item is a word.
    words: Option<keys::KeyIndex>,
}

impl Literals {
    /// The list of these items.
    pub fn new(items: Box<[Literal]>) -> Literals {
        let folded: Option<Vec<&str>> = items
            .iter()
            .map(|item| item.folded.as_deref().and_then(|f| std::str::from_utf8(f).ok()))
            .collect();
        let words = folded.filter(|f| !f.is_empty()).map(|mut folded| {
            // Equal words are one entry (the index's names are distinct).
            folded.sort_unstable();
            folded.dedup();
            keys::KeyIndex::ignoring_ascii_case(folded)
        });
        Literals { items, words }
    }

    /// Whether `a` equals an item: the same as `items.iter().any(|i| i.compare(a, CmpOp::Eq))`.
    #[inline]
    pub fn contains(&self, a: &Value) -> bool {
        match (a, &self.words) {
            (Value::Str(s), Some(words)) if s.is_ascii() => words.find_ignore_ascii_case(s.as_bytes()).is_some(),
            _ => self.items.iter().any(|item| item.compare(a, CmpOp::Eq)),
        }
    }
}

impl std::ops::Deref for Literals {
    type Target = [Literal];

    fn deref(&self) -> &[Literal] {
        &self.items
    }
}

impl fmt::Display for Literal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.value.fmt(f)
    }
}

/// How ASCII `text` lower-cased orders against `folded` (lower-case already): the order
/// [`cmp_ignore_case`] gives for ASCII text.
#[inline]
fn cmp_folded(text: &[u8], folded: &[u8]) -> Ordering {
    // Equal lengths first: most tests are equality, decided here without a walk.
    if text.len() == folded.len() {
        return match text.eq_ignore_ascii_case(folded) {
            true => Ordering::Equal,
            false => text.iter().map(u8::to_ascii_lowercase).cmp(folded.iter().copied()),
        };
    }
    text.iter().map(u8::to_ascii_lowercase).cmp(folded.iter().copied())
}

/// How two present values order, if they are comparable.
fn order(a: &Value, b: &Value) -> Option<Ordering> {
    match (a, b) {
        (Value::Num(x), Value::Num(y)) => x.partial_cmp(y),
        (Value::Str(x), Value::Str(y)) => match (a.as_num(), b.as_num()) {
            (Some(x), Some(y)) => x.partial_cmp(&y),
            _ => Some(cmp_ignore_case(x, y)),
        },
        (Value::Num(_), Value::Str(_)) | (Value::Str(_), Value::Num(_)) => a.as_num()?.partial_cmp(&b.as_num()?),
        // true and false are equal or not, never less or greater.
        (Value::Bool(_), _) | (_, Value::Bool(_)) => (a.as_bool()? == b.as_bool()?).then_some(Ordering::Equal),
        _ => None,
    }
}

/// Case-insensitive ordering of two strings (ASCII fast path).
pub fn cmp_ignore_case(a: &str, b: &str) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.bytes()
            .map(|c| c.to_ascii_lowercase())
            .cmp(b.bytes().map(|c| c.to_ascii_lowercase()))
    } else {
        a.to_lowercase().cmp(&b.to_lowercase())
    }
}

/// `a contains b`, `a starts_with b`, `a ends_with b`, case-insensitive.
pub fn str_test(op: StrOp, a: &Value, b: &Value) -> bool {
    if let (StrOp::Contains, Value::List(items)) = (op, a) {
        return items.iter().any(|v| compare(v, CmpOp::Eq, b));
    }
    let (Some(a), Some(b)) = (a.as_text(), b.as_text()) else {
        return false;
    };
    let (a, b) = (fold(&a), fold(&b));
    match op {
        StrOp::Contains => a.contains(&*b),
        StrOp::StartsWith => a.starts_with(&*b),
        StrOp::EndsWith => a.ends_with(&*b),
    }
}

/// Lower-cases a string, borrowing when it is already lower-case.
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.chars().any(char::is_uppercase) {
        Cow::Owned(s.to_lowercase())
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A compiled literal answers every test as [`compare`] does, on values of every kind.
    #[test]
    fn literals_compare_as_values_do() {
        let text = |s: &'static str| Value::Str(Cow::Borrowed(s));
        let scalars = [
            Value::Null,
            Value::Bool(true),
            Value::Bool(false),
            Value::Num(0.0),
            Value::Num(50.0),
            Value::Num(-1.5),
            text(""),
            text("saas"),
            text("SaaS"),
            text("saas "),
            text("saasx"),
            text("sa"),
            text("Software"),
            text("50"),
            text(" 50 "),
            text("5e1"),
            text("true"),
            text("FALSE"),
            text("ä"),
            text("Ä"),
            text("\u{212a}"),
            text("k"),
            Value::Object,
        ];
        let mut values = scalars.to_vec();
        values.push(Value::List(vec![text("x"), text("SAAS"), Value::Num(50.0)]));
        values.push(Value::List(Vec::new()));
        let ops = [CmpOp::Eq, CmpOp::Ne, CmpOp::Lt, CmpOp::Le, CmpOp::Gt, CmpOp::Ge];
        for literal in scalars.iter().filter(|v| !matches!(v, Value::Object)) {
            let literal = Literal::new(literal.clone().into_owned());
            for value in &values {
                for op in ops {
                    assert_eq!(
                        literal.compare(value, op),
                        compare(value, op, literal.value()),
                        "{value} {op} {literal}"
                    );
                }
            }
        }
        for literal in scalars.iter().filter(|v| !matches!(v, Value::Object)) {
            let literal = Literal::new(literal.clone().into_owned());
            for value in &values {
                for op in [StrOp::Contains, StrOp::StartsWith, StrOp::EndsWith] {
                    assert_eq!(
                        literal.str_test(op, value),
                        str_test(op, value, literal.value()),
                        "{value} {op:?} {literal}"
                    );
                }
            }
        }
        // `in` lists: of words only (looked up), with repeated and mixed items (compared).
        let lists: [&[Value<'static>]; 6] = [
            &[text("saas"), text("Software"), text("k")],
            &[text("saas"), text("SAAS")],
            &[text("saas"), text("50")],
            &[text("saas"), Value::Num(50.0)],
            &[text("ä"), text("saas")],
            &[],
        ];
        for (list, indexed) in lists.into_iter().zip([true, true, false, false, false, false]) {
            let literals = Literals::new(list.iter().map(|v| Literal::new(v.clone())).collect());
            assert_eq!(literals.words.is_some(), indexed, "{list:?}");
            for value in &values {
                let any = literals.iter().any(|l| compare(value, CmpOp::Eq, l.value()));
                assert_eq!(literals.contains(value), any, "{value} in {list:?}");
            }
        }
    }
}
