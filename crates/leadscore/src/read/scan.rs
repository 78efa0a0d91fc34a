//! The text reader's fast path: a lead's bytes walked once by a scanner that follows the
//! read plan, skips unread values without building anything, and fills the record by the
//! same rules as the serde reader (`text.rs`): the same `Fill`, event check and `exact_id`
//! (`plan.rs`).
//!
//! It validates what JSON requires of every value, read or skipped (the grammar, no
//! control characters in strings, escapes, numbers in `f64`'s range, nothing after the
//! lead), and gives up on anything it does not read itself: an error of any kind, a
//! `\u` escape, nesting deeper than [`DEPTH`], a key with an escape, an event that is
//! not an object, fails its check or has a `type` or `at` that is not a string, a key
//! read both as a value and as a parent. Giving up is `None`: the caller reads the line
//! again with the serde reader, so every error message and every unusual input is exactly
//! that reader's. A lead the scanner reads whole gives the record the serde reader gives
//! (`tests` below and the differential tests hold the two to it).
//!
//! Most leads have no `\` and no control character at all (checked once, a vector at a
//! time): in such a [`plain`] text every string ends at its next `"`, so strings and keys
//! are found by a search for that one byte, eight at a time.

use std::borrow::Cow;

use super::event::{self, Checked};
use super::plan::{exact_id, EventKeys, Fill, Node, ReadPlan, EVENTS_RESERVED};
use super::{Events, ReadEvents, Record};
use crate::program::Program;
use crate::value::time::Millis;
use crate::value::Value;

/// Nesting (objects and arrays, the lead itself counted) the scanner reads itself; deeper
/// input goes to the serde reader, whose limit (128) and message then apply.
const DEPTH: u32 = 64;

/// Reads `text` by `plan`, or `None` where the serde reader must (see the module docs).
pub(super) fn read<'t>(plan: &ReadPlan, program: &Program, text: &'t str, as_of: Millis) -> Option<Record<'t>> {
    let mut scan = Scan::new(text);
    let mut lead = Lead {
        fill: plan.fill(program),
        events: EventReader::new(program, plan.event_keys, as_of),
    };
    scan.blank();
    if scan.peek()? != b'{' {
        return None;
    }
    lead.object(&mut scan, &plan.root, true)?;
    scan.blank();
    if scan.pos != scan.bytes.len() {
        return None;
    }
    let mut record = lead.fill.finish();
    record.events = Events::Read(lead.events.events);
    Some(record)
}

/// Reads an `events` array given as JSON text of its own (an Arrow string column), as
/// [`read`] reads a lead's `events` key, or `None` where the serde reader must.
#[cfg(feature = "arrow")]
pub(super) fn read_events<'t>(program: &Program, text: &'t str, as_of: Millis) -> Option<ReadEvents<'t>> {
    let mut scan = Scan::new(text);
    let mut reader = EventReader::new(program, EventKeys::of(program), as_of);
    scan.blank();
    reader.array(&mut scan)?;
    scan.blank();
    (scan.pos == scan.bytes.len()).then_some(reader.events)
}

/// The lead being read: where its values go.
struct Lead<'p, 't> {
    fill: Fill<'t>,
    events: EventReader<'p, 't>,
}

/// The events being read, and what deciding which to keep takes.
struct EventReader<'p, 't> {
    program: &'p Program,
    keys: EventKeys,
    as_of: Millis,
    events: ReadEvents<'t>,
}

impl<'t> Lead<'_, 't> {
    /// An object (the scanner is at its `{`), its keys looked up in `node`: what
    /// `LeadSeed::visit_map` does, key by key.
    fn object(&mut self, scan: &mut Scan<'t>, node: &Node, root: bool) -> Option<()> {
        scan.open()?;
        if scan.close(b'}')? {
            return Some(());
        }
        let mut key = scan.key()?;
        loop {
            match node.get_raw(key) {
                None => scan.skip()?,
                Some(entry) if entry.events && root => self.events.array(scan)?,
                Some(entry) => match &entry.child {
                    // A key read both as a value and as a parent: rare, the serde reader's.
                    Some(_) if entry.wants_value() => return None,
                    Some(child) => {
                        // A key seen again replaces everything read under it.
                        self.fill.clear_under(child);
                        match scan.peek()? {
                            b'{' => self.object(scan, child, false)?,
                            _ => scan.skip()?,
                        }
                    }
                    None if entry.id => {
                        let start = scan.pos;
                        scan.skip()?;
                        let json = exact_id(&scan.text[start..scan.pos]).ok()?;
                        if !entry.slots.is_empty() || !entry.fallback.is_empty() {
                            self.fill.put(entry, Value::from_json(&json).into_owned());
                        }
                        self.fill.id(json);
                    }
                    None => {
                        let value = scan.value()?;
                        self.fill.put(entry, value);
                    }
                },
            }
            match scan.next_key(b'}')? {
                Some(next) => key = next,
                None => return Some(()),
            }
        }
    }
}

impl<'p, 't> EventReader<'p, 't> {
    fn new(program: &'p Program, keys: EventKeys, as_of: Millis) -> Self {
        EventReader {
            program,
            keys,
            as_of,
            events: ReadEvents::default(),
        }
    }

    /// The root `events` key's value: an array of event objects, or `null` (no events);
    /// anything else is an error the serde reader reports.
    fn array(&mut self, scan: &mut Scan<'t>) -> Option<()> {
        self.events.clear();
        if scan.peek()? == b'n' {
            return scan.literal(b"null");
        }
        if scan.peek()? != b'[' {
            return None;
        }
        scan.open()?;
        self.events.reserve(EVENTS_RESERVED);
        if scan.close(b']')? {
            return Some(());
        }
        loop {
            self.event(scan)?;
            if scan.next_or_close(b']')? {
                return Some(());
            }
        }
    }

    /// One event: what `EventSeed::visit_map` does.
    fn event(&mut self, scan: &mut Scan<'t>) -> Option<()> {
        if scan.peek()? != b'{' {
            return None;
        }
        scan.open()?;
        let base = self.events.next_base();
        let (mut ty, mut at) = (None, None);
        let mut key = match scan.close(b'}')? {
            true => None,
            false => match scan.type_and_at() {
                // The usual event starts `"type":"…","at":"…"`: read in two byte compares
                // and two quote searches, then on as any event (a later key of either name
                // replacing it, as below).
                Some((t, a)) => {
                    ty = Some(self.noted(Cow::Borrowed(t), self.keys.ty, base));
                    at = Some(self.noted(Cow::Borrowed(a), self.keys.at, base));
                    scan.next_key(b'}')?
                }
                None => Some(scan.key()?),
            },
        };
        while let Some(name) = key {
            match name {
                b"type" => ty = Some(self.text(scan, self.keys.ty, base)?),
                b"at" => at = Some(self.text(scan, self.keys.at, base)?),
                name => self.prop(scan, name, base)?,
            }
            key = scan.next_key(b'}')?;
        }
        match event::check(self.program, ty.as_deref(), at.as_deref(), self.as_of).ok()? {
            Checked::Kept(ty, at) => self.events.push(ty, at, base),
            Checked::Later(ty, at) => {
                self.events.note_later(ty, at);
                self.events.discard(base);
            }
            Checked::Unused => self.events.discard(base),
        }
        Some(())
    }

    /// The value of an event's key other than `type` and `at`: a property the program
    /// reads, or skipped.
    #[inline(never)]
    fn prop(&mut self, scan: &mut Scan<'t>, key: &[u8], base: usize) -> Option<()> {
        match prop_slot(&self.program.event_props, key) {
            Some(p) => {
                // Most properties are strings: read here, not through the general value.
                let value = match scan.peek()? {
                    b'"' => Value::Str(scan.text()?),
                    _ => scan.value()?,
                };
                self.events.set_prop(base, p as u32, value);
            }
            None => scan.skip()?,
        }
        Some(())
    }

    /// An event's `type` or `at`: a string, or the event is the serde reader's (which
    /// reports it, unless a later key of the same name replaces it). Also property `also`
    /// of the event whose properties start at `base`, when the program reads it as one.
    #[inline(always)]
    fn text(&mut self, scan: &mut Scan<'t>, also: Option<u32>, base: usize) -> Option<Cow<'t, str>> {
        if scan.peek()? != b'"' {
            return None;
        }
        let text = scan.text()?;
        Some(self.noted(text, also, base))
    }

    /// An event's `type` or `at` read, kept as property `also` too when the program reads
    /// it as one.
    #[inline(always)]
    fn noted(&mut self, text: Cow<'t, str>, also: Option<u32>, base: usize) -> Cow<'t, str> {
        if let Some(p) = also {
            self.events.set_prop(base, p, Value::Str(text.clone()));
        }
        text
    }
}

/// A position in a lead's text, and how deep in it.
struct Scan<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    depth: u32,
    /// Whether the text has no `\` and no control character (the usual lead): every
    /// string then ends at its next `"`, found without looking at each byte.
    plain: bool,
}

impl<'t> Scan<'t> {
    fn new(text: &'t str) -> Self {
        Scan {
            text,
            bytes: text.as_bytes(),
            pos: 0,
            depth: 0,
            plain: plain(text.as_bytes()),
        }
    }

    /// JSON's four blank characters.
    #[inline(always)]
    fn blank(&mut self) {
        // Leads are mostly written without blanks: the usual next byte is no blank, told
        // by one comparison.
        if self.bytes.get(self.pos).is_some_and(|&b| b > b' ') {
            return;
        }
        while let Some(b' ' | b'\n' | b'\r' | b'\t') = self.bytes.get(self.pos) {
            self.pos += 1;
        }
    }

    /// The next byte (not consumed).
    #[inline(always)]
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    /// Past the `{` or `[` the scanner is at, one level deeper.
    #[inline(always)]
    fn open(&mut self) -> Option<()> {
        self.depth += 1;
        self.pos += 1;
        (self.depth <= DEPTH).then_some(())
    }

    /// After an opening bracket: whether `close` ends the object or array at once.
    #[inline(always)]
    fn close(&mut self, close: u8) -> Option<bool> {
        self.blank();
        if self.peek()? == close {
            self.pos += 1;
            self.depth -= 1;
            return Some(true);
        }
        Some(false)
    }

    /// After a member or element: `,` (more follow: `false`) or `close` (the end: `true`).
    #[inline(always)]
    fn next_or_close(&mut self, close: u8) -> Option<bool> {
        self.blank();
        let b = self.peek()?;
        self.pos += 1;
        if b == b',' {
            self.blank();
            Some(false)
        } else if b == close {
            self.depth -= 1;
            Some(true)
        } else {
            None
        }
    }

    /// A key (its bytes: the plan's keys are compared as bytes) and its `:`, the scanner
    /// then at the value. A key with an escape is left to the serde reader.
    #[inline(always)]
    fn key(&mut self) -> Option<&'t [u8]> {
        self.blank();
        if self.peek()? != b'"' {
            return None;
        }
        let (start, end, escaped) = self.string()?;
        if escaped {
            return None;
        }
        let key = self.bytes.get(start..end)?;
        self.blank();
        if self.peek()? != b':' {
            return None;
        }
        self.pos += 1;
        self.blank();
        Some(key)
    }

    /// After an object's member: the next key (as [`Scan::key`] reads it), or `None` at
    /// `close`, the object's end. In a [`plain`] text the usual `,"key":` is read at
    /// once, without looking for blanks between its bytes; anything else, as
    /// [`Scan::next_or_close`] and [`Scan::key`] read it.
    #[inline(always)]
    fn next_key(&mut self, close: u8) -> Option<Option<&'t [u8]>> {
        if self.plain && self.bytes.get(self.pos..)?.first_chunk::<2>() == Some(b",\"") {
            let start = self.pos + 2;
            let end = quote(self.bytes, start)?;
            if self.bytes.get(end + 1) == Some(&b':') {
                let key = self.bytes.get(start..end)?;
                self.pos = end + 2;
                self.blank();
                return Some(Some(key));
            }
        }
        if self.next_or_close(close)? {
            return Some(None);
        }
        Some(Some(self.key()?))
    }

    /// The string the scanner is at (its `"`): where its raw text between the quotes starts
    /// and ends, and whether it has (valid, short) escapes. Control characters and `\u`
    /// escapes end the fast path.
    #[inline(always)]
    fn string(&mut self) -> Option<(usize, usize, bool)> {
        let start = self.pos + 1;
        if self.plain {
            let end = quote(self.bytes, start)?;
            self.pos = end + 1;
            return Some((start, end, false));
        }
        self.escaped_string(start)
    }

    /// [`Scan::string`] in a text that may have escapes and control characters.
    #[cold]
    #[inline(never)]
    fn escaped_string(&mut self, start: usize) -> Option<(usize, usize, bool)> {
        let mut i = start;
        let mut escaped = false;
        loop {
            i = special(self.bytes, i)?;
            if self.bytes[i] < 0x20 {
                return None;
            }
            if self.bytes[i] == b'"' {
                self.pos = i + 1;
                return Some((start, i, escaped));
            }
            match self.bytes.get(i + 1)? {
                b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't' => {}
                _ => return None,
            }
            escaped = true;
            i += 2;
        }
    }

    /// In a [`plain`] text, at an event's first key: `"type":"…","at":"…"` exactly (no
    /// blanks), read as [`Scan::key`] and [`Scan::text`] read it, the scanner then after
    /// the time; anything else leaves the scanner where it was.
    #[inline(always)]
    fn type_and_at(&mut self) -> Option<(&'t str, &'t str)> {
        const TYPE: &[u8; 8] = b"\"type\":\"";
        const AT: &[u8; 8] = b"\",\"at\":\"";
        if !self.plain || self.bytes.get(self.pos..)?.first_chunk::<8>()? != TYPE {
            return None;
        }
        let ty_end = quote(self.bytes, self.pos + 8)?;
        if self.bytes.get(ty_end..)?.first_chunk::<8>()? != AT {
            return None;
        }
        let at_end = quote(self.bytes, ty_end + 8)?;
        let (ty, at) = (self.text.get(self.pos + 8..ty_end)?, self.text.get(ty_end + 8..at_end)?);
        self.pos = at_end + 1;
        Some((ty, at))
    }

    /// A value the plan reads: what `ValueVisitor` makes of it.
    fn value(&mut self) -> Option<Value<'t>> {
        Some(match self.peek()? {
            b'"' => Value::Str(self.text()?),
            b'{' => {
                self.skip()?;
                Value::Object
            }
            b'[' => self.list()?,
            b't' => {
                self.literal(b"true")?;
                Value::Bool(true)
            }
            b'f' => {
                self.literal(b"false")?;
                Value::Bool(false)
            }
            b'n' => {
                self.literal(b"null")?;
                Value::Null
            }
            _ => Value::Num(self.number()?),
        })
    }

    /// The string the scanner is at, borrowed unless it has escapes.
    #[inline(always)]
    fn text(&mut self) -> Option<Cow<'t, str>> {
        let (start, end, escaped) = self.string()?;
        let text = self.text.get(start..end)?;
        Some(match escaped {
            false => Cow::Borrowed(text),
            true => Cow::Owned(unescape(text)),
        })
    }

    /// An array read as a list of values.
    fn list(&mut self) -> Option<Value<'t>> {
        self.open()?;
        let mut items = Vec::new();
        if !self.close(b']')? {
            loop {
                items.push(self.value()?);
                if self.next_or_close(b']')? {
                    break;
                }
            }
        }
        Some(Value::List(items))
    }

    /// Skips a value the plan does not read, checking it is JSON.
    fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.string().map(|_| ()),
            b'{' => {
                self.open()?;
                if self.close(b'}')? {
                    return Some(());
                }
                loop {
                    self.key()?;
                    self.skip()?;
                    if self.next_or_close(b'}')? {
                        return Some(());
                    }
                }
            }
            b'[' => {
                self.open()?;
                if self.close(b']')? {
                    return Some(());
                }
                loop {
                    self.skip()?;
                    if self.next_or_close(b']')? {
                        return Some(());
                    }
                }
            }
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            _ => self.number_checked(),
        }
    }

    /// `true`, `false` or `null`, exactly.
    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos + word.len();
        if self.bytes.get(self.pos..end)? != word {
            return None;
        }
        self.pos = end;
        Some(())
    }

    /// A number by JSON's grammar (`-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`),
    /// as the `f64` serde_json makes of it (correctly rounded, with `float_roundtrip`, as
    /// Rust's own parse is); one out of `f64`'s range is serde_json's error.
    fn number(&mut self) -> Option<f64> {
        let text = self.number_text()?;
        let n: f64 = text.parse().ok()?;
        n.is_finite().then_some(n)
    }

    /// A number skipped: checked as [`Scan::number`] checks it, but parsed only when it
    /// could be out of range (an exponent, or more digits than `f64` reaches).
    fn number_checked(&mut self) -> Option<()> {
        let text = self.number_text()?;
        if text.len() > 300 || text.bytes().any(|b| b == b'e' || b == b'E') {
            let n: f64 = text.parse().ok()?;
            return n.is_finite().then_some(());
        }
        Some(())
    }

    /// The text of the number the scanner is at, by JSON's grammar.
    fn number_text(&mut self) -> Option<&'t str> {
        let start = self.pos;
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        match self.peek()? {
            b'0' => self.pos += 1,
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.peek() == Some(b'.') {
            self.pos += 1;
            self.some_digits()?;
        }
        if let Some(b'e' | b'E') = self.peek() {
            self.pos += 1;
            if let Some(b'+' | b'-') = self.peek() {
                self.pos += 1;
            }
            self.some_digits()?;
        }
        self.text.get(start..self.pos)
    }

    fn digits(&mut self) {
        while let Some(b'0'..=b'9') = self.peek() {
            self.pos += 1;
        }
    }

    /// One digit or more.
    fn some_digits(&mut self) -> Option<()> {
        let start = self.pos;
        self.digits();
        (self.pos > start).then_some(())
    }
}

/// Whether `bytes` has no `\` and no control character, so that no string in it has an
/// escape or a character JSON refuses.
fn plain(bytes: &[u8]) -> bool {
    // Each chunk folded whole, without stopping at the first byte found: the loop then
    // runs a vector at a time.
    bytes.chunks(64).all(|chunk| {
        chunk
            .iter()
            .fold(0, |found, &b| found | u8::from(b < 0x20) | u8::from(b == b'\\'))
            == 0
    })
}

/// The slot of the event property named `key`, if the program reads it (a plain loop,
/// inlined: through `position` the search was a call).
#[inline(always)]
fn prop_slot(props: &[String], key: &[u8]) -> Option<usize> {
    for (slot, prop) in props.iter().enumerate() {
        if same_key(prop.as_bytes(), key) {
            return Some(slot);
        }
    }
    None
}

/// Whether two keys are the same bytes: the lengths compared first, then a key of up to
/// sixteen bytes (almost every key) as its first and last four or eight, overlapping,
/// without a call to compare them whole (which a key that matched, or shares a length
/// with one, paid: ~20 instructions a call, ~30 calls a usual lead).
#[inline(always)]
pub(super) fn same_key(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    match a.len() {
        0 => true,
        // The first, middle and last bytes are every byte of a key this short.
        n @ 1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
        4..=7 => a.first_chunk::<4>() == b.first_chunk::<4>() && a.last_chunk::<4>() == b.last_chunk::<4>(),
        8..=16 => a.first_chunk::<8>() == b.first_chunk::<8>() && a.last_chunk::<8>() == b.last_chunk::<8>(),
        _ => a == b,
    }
}

/// Where the first `"` at or after `i` is: eight bytes at a time, as [`special`] looks
/// (in a [`plain`] text, the end of the string `i` is in).
#[inline(always)]
fn quote(bytes: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        // Zero where a byte is `"`; the lowest byte found is exact (as in `special`).
        let word = u64::from_le_bytes(*chunk) ^ (ONES * 0x22);
        let found = word.wrapping_sub(ONES) & !word & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes.get(i..)?.iter().position(|&b| b == b'"').map(|n| i + n)
}

/// Where the first `"`, `\` or control character at or after `i` is: eight bytes at a
/// time (a lead's strings are mostly ten to forty bytes, too short for `memchr`'s setup
/// to pay, and a string needs all three found). These are the bytes a JSON string must
/// escape: the result writer (`eval/json.rs`) finds them with this too.
pub(crate) fn special(bytes: &[u8], mut i: usize) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(i..).and_then(|rest| rest.first_chunk::<8>()) {
        let word = u64::from_le_bytes(*chunk);
        // A byte's high bit is set where it is below 0x20, or equal to `"` or `\`
        // (`x ^ c` is zero there); the lowest such byte is exact, borrows only carry
        // upwards into later bytes.
        let zero = |x: u64| x.wrapping_sub(ONES) & !x;
        let found =
            (word.wrapping_sub(ONES * 0x20) & !word | zero(word ^ (ONES * 0x22)) | zero(word ^ (ONES * 0x5c))) & HIGH;
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    bytes
        .get(i..)?
        .iter()
        .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
        .map(|n| i + n)
}

/// A string's text with its short escapes (`\"`, `\\`, `\/`, `\b`, `\f`, `\n`, `\r`,
/// `\t`: the only ones [`Scan::string`] lets through) replaced.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        out.push(match chars.next() {
            Some('b') => '\u{8}',
            Some('f') => '\u{c}',
            Some('n') => '\n',
            Some('r') => '\r',
            Some('t') => '\t',
            Some(other) => other,
            None => break,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::super::text::read_serde;
    use super::*;
    use crate::value::time::parse_time;

    const RULES: &str = r#"
title ~ VP and visited /pricing => +20
company.size >= 50 and industry in ["saas", "software"] => +10
"company.name" == acme => +1
tags contains hot => +3
did video_play where (video ~ demo and percent >= 50) within 30d => +30
submitted "demo-request" => +40
did page_view where type == page_view and path exists => +1
"#;

    const LEAD: &str = r#" {"id": "L-1", "title": "VP \"Sales\"\tx", "company": {"size": 120, "name": "n", "x": [1, 2.5e3, {"a": null}]},
 "company.name": "acme", "industry": "SaaS", "tags": ["hot", 1, true, null, [2], {"k": "v"}], "skip": {"a": [true, false, -0.0, 1E-5, "\/\\"]},
 "events": [{"type": "page_view", "path": "/pricing", "at": "2026-02-20T10:00:00Z"},
  {"type": "video_play", "video": "demo-1", "percent": 75, "at": "2026-02-25T00:00:00Z"},
  {"type": "unused", "at": "nonsense"}, {"at": "2026-03-05T00:00:00Z", "type": "form_submit", "form": "demo-request"}],
 "n": 18446744073709551617, "m": -12345678901234567890123} "#;

    /// [`LEAD`] without escapes or control characters: a [`plain`] text, whose strings end
    /// at their next quote.
    const PLAIN_LEAD: &str = concat!(
        r#"{"id":"L-2","title":"VP Sales é","company":{"size":120,"name":"n","x":[1,2.5e3,{"a":null}]},"#,
        r#""company.name":"acme","industry":"SaaS","tags":["hot",1,true,null,[2],{"k":"v"}],"#,
        r#""skip":{"a":[true,false,-0.0,1E-5,"/"]}, "events":[{"type":"page_view","path":"/pricing","#,
        r#""at":"2026-02-20T10:00:00Z"},{"type":"PAGE_VIEW","path":"/x","at":"2026-02-21T10:00:00Z"},"#,
        r#"{"type":"video_play","video":"demo-1","percent":75,"at":"2026-02-25T00:00:00Z"},"#,
        r#"{"type":"vidéo","at":"x"},{"type":"unused","at":"nonsense"},"#,
        r#"{"at":"2026-03-05T00:00:00Z","type":"form_submit","form":"demo-request"}],"#,
        r#""n":18446744073709551617,"m":-12345678901234567890123}"#
    );

    /// A plain lead whose events start `"type":"…","at":"…"`, as generated and exported
    /// leads' do (read by [`Scan::type_and_at`]), with a later key of the same name too.
    const USUAL_LEAD: &str = concat!(
        r#"{"id":"L-3","title":"VP","events":[{"type":"page_view","at":"2026-02-20T10:00:00Z","path":"/pricing"},"#,
        r#"{"type":"video_play","at":"2026-02-25T00:00:00+01:00","video":"demo-1","percent":75},"#,
        r#"{"type":"form_submit","at":"2026-02-26T00:00:00.5Z","form":"demo-request","type":"page_view"},"#,
        r#"{"type":"unused","at":"x"},{"type":"","at":""},{"type":"PAGE_VIEW","at":"2026-02-27T00:00:00Z","at":"2026-03-05T00:00:00Z"}]}"#
    );

    fn pack() -> crate::Pack {
        crate::Pack::from_source("scan", RULES).unwrap()
    }

    /// Where the scanner reads a text, it gives the serde reader's record; where the serde
    /// reader fails, the scanner gave up (so the serde reader's error is the one shown).
    fn agree(pack: &crate::Pack, text: &str) -> bool {
        let program = pack.program();
        let as_of = parse_time("2026-03-01T00:00:00Z").unwrap();
        for id in ["id", "title", "company.size", "company"] {
            let plan = ReadPlan::new(program, id);
            let serde = read_serde(&plan, program, text, as_of);
            match (read(&plan, program, text, as_of), serde) {
                (Some(fast), Ok(slow)) => assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{text}"),
                (Some(fast), Err(e)) => panic!("the scanner read what serde refuses ({e}): {text}\n{fast:?}"),
                (None, _) if id == "id" => return false,
                (None, _) => {}
            }
        }
        true
    }

    #[test]
    fn the_scanner_reads_the_usual_lead_as_serde_does() {
        let pack = pack();
        assert!(agree(&pack, LEAD));
        assert!(plain(PLAIN_LEAD.as_bytes()) && !plain(LEAD.as_bytes()));
        assert!(agree(&pack, PLAIN_LEAD));
        assert!(plain(USUAL_LEAD.as_bytes()) && agree(&pack, USUAL_LEAD));
        for text in [
            "{}",
            r#"{"events": null}"#,
            r#"{"events": []}"#,
            r#"{"events": [], "events": [{"type": "page_view", "path": "/pricing", "at": "2026-02-20T10:00:00Z"}]}"#,
            r#"{"title": "a", "title": "VP"}"#,
            r#"{"company": {"size": 1}, "company": 7}"#,
            r#"{"company": {"size": 1}, "company": {"name": "x"}}"#,
            r#"{"id": 12, "id": {"a": [1]}}"#,
            r#"{"id": "a\"b", "tags": []}"#,
            r#"{"events": [{"type": "Page_View", "path": "/pricing", "at": "2026-02-20T10:00:00Z"}]}"#,
            r#"{"industry": 1.5e300, "x": 1e-400}"#,
            "\t{\"title\":\"VP\"}\r\n",
        ] {
            assert!(agree(&pack, text), "the scanner gave up on {text}");
        }
    }

    #[test]
    fn the_scanner_gives_up_where_serde_fails_or_differs() {
        let pack = pack();
        for text in [
            "",
            "[]",
            "1",
            "null",
            "{",
            "{}x",
            "{} {}",
            r#"{"a" 1}"#,
            r#"{"a": 1,}"#,
            r#"{"a": [1,]}"#,
            r#"{"a": 01}"#,
            r#"{"a": 1.}"#,
            r#"{"a": -}"#,
            r#"{"a": .5}"#,
            r#"{"a": 1e}"#,
            r#"{"a": 1e400}"#,
            r#"{"title": 1e400}"#,
            r#"{"a": tru}"#,
            r#"{"a": "\x"}"#,
            r#"{"a": "\ud800"}"#,
            r#"{"title": "\u0041"}"#,
            "{\"a\": \"\u{1}\"}",
            r#"{"a\n": 1}"#,
            r#"{"events": 1}"#,
            r#"{"events": [1]}"#,
            r#"{"events": [{"type": "page_view"}]}"#,
            r#"{"events": [{"type": 1, "at": "2026-01-01T00:00:00Z"}]}"#,
            r#"{"events": [{"type": "page_view", "at": "yesterday"}]}"#,
            r#"{"a": NaN}"#,
            r#"{"a": +1}"#,
            r#"{"a": 'x'}"#,
            "{\"a\": 1}\u{a0}",
        ] {
            assert!(!agree(&pack, text), "the scanner read {text:?}");
        }
        let deep = format!("{{\"a\": {}1{}}}", "[".repeat(200), "]".repeat(200));
        assert!(!agree(&pack, &deep));
        let deep = format!("{{\"tags\": {}1{}}}", "[".repeat(100), "]".repeat(100));
        assert!(!agree(&pack, &deep));
    }

    /// An `events` array as text of its own (an Arrow column): the scanner reads it as
    /// the serde reader does, or leaves it to it, for every one-byte change too.
    #[cfg(feature = "arrow")]
    #[test]
    fn events_text_reads_as_serde_reads_it() {
        use super::super::text::read_events_serde;
        let pack = pack();
        let program = pack.program();
        let as_of = parse_time("2026-03-01T00:00:00Z").unwrap();
        let events = &LEAD[LEAD.find("[{\"type").unwrap()..LEAD.rfind("}],").unwrap() + 2];
        let agree = |text: &str| match (
            read_events(program, text, as_of),
            read_events_serde(program, text, as_of),
        ) {
            (Some(fast), Ok(slow)) => {
                assert_eq!(format!("{fast:?}"), format!("{slow:?}"), "{text}");
                true
            }
            (Some(fast), Err(e)) => panic!("the scanner read what serde refuses ({e}): {text}\n{fast:?}"),
            (None, _) => false,
        };
        for text in [events, "null", "[]", " [ ] "] {
            assert!(agree(text), "{text}");
        }
        for text in ["", "{}", "1", "[1]", "[] []"] {
            assert!(!agree(text), "{text}");
        }
        for i in 0..events.len() {
            for b in [b'"', b'{', b'}', b']', b',', b' ', b'0', b'x'] {
                let mut changed = events.as_bytes().to_vec();
                changed[i] = b;
                if let Ok(text) = std::str::from_utf8(&changed) {
                    agree(text);
                }
            }
        }
    }

    #[test]
    fn special_finds_the_first_quote_backslash_or_control_character() {
        let naive = |bytes: &[u8], i: usize| {
            bytes[i..]
                .iter()
                .position(|&b| b == b'"' || b == b'\\' || b < 0x20)
                .map(|n| i + n)
        };
        for len in 0..20 {
            for at in 0..len {
                for b in (0u8..=255).step_by(1) {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    if at + 1 < len {
                        bytes[at + 1] = 0x1f;
                    }
                    for start in 0..=len.min(3) {
                        assert_eq!(special(&bytes, start), naive(&bytes, start), "{bytes:?} from {start}");
                    }
                }
            }
        }
    }

    /// Keys compared in parts are equal exactly when their bytes are: every length up to
    /// 20, a byte changed at every place.
    #[test]
    fn same_key_is_byte_equality() {
        for len in 0..20usize {
            let key: Vec<u8> = (b'a'..).take(len).collect();
            assert!(same_key(&key, &key.clone()));
            if len > 0 {
                assert!(!same_key(&key, &key[..len - 1]));
            }
            for at in 0..len {
                let mut other = key.clone();
                other[at] ^= 0x20;
                assert!(!same_key(&key, &other), "{key:?} {other:?}");
            }
        }
    }

    #[test]
    fn quote_finds_the_first_quote() {
        for len in 0..20 {
            for at in 0..len {
                for b in [b'"', b'\\', 0, 0x21, 0x23, 0xa2, b'a'] {
                    let mut bytes = vec![b'a'; len];
                    bytes[at] = b;
                    if at + 1 < len {
                        bytes[at + 1] = b'"';
                    }
                    for start in 0..=len.min(3) {
                        let naive = bytes[start..].iter().position(|&b| b == b'"').map(|n| start + n);
                        assert_eq!(quote(&bytes, start), naive, "{bytes:?} from {start}");
                    }
                }
            }
        }
    }

    /// Every one-byte change of a lead (a byte replaced by one that matters to JSON, or
    /// removed): the scanner gives the serde reader's record or gives up; for the plain
    /// lead too, most of whose changes stay plain.
    #[test]
    fn every_one_byte_change_reads_as_serde_reads_it_or_is_left_to_it() {
        let pack = pack();
        for lead in [LEAD, PLAIN_LEAD, USUAL_LEAD] {
            every_one_byte_change(&pack, lead.as_bytes());
        }
    }

    fn every_one_byte_change(pack: &crate::Pack, lead: &[u8]) {
        let bytes = b"\"\\{}[],: 0-+.eE\n\x01xtu/";
        for i in 0..lead.len() {
            let mut removed = lead.to_vec();
            removed.remove(i);
            if let Ok(text) = std::str::from_utf8(&removed) {
                agree(pack, text);
            }
            for &b in bytes {
                let mut changed = lead.to_vec();
                changed[i] = b;
                if let Ok(text) = std::str::from_utf8(&changed) {
                    agree(pack, text);
                }
            }
        }
    }
}
