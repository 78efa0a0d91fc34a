//! Compiled patterns: globs for paths and names, word matches for `~`.
//! Both run in time linear in the text (times the pattern's pieces), never backtracking.

use std::borrow::Cow;
use std::fmt;

/// A text made ready for [`Glob::matches_prepared`]: without its query string, fragment
/// and trailing slash for path globs, and whether it is ASCII. The evaluator prepares an
/// event's property once for all the globs that test it.
#[derive(Debug)]
pub struct Prepared<'t> {
    text: Cow<'t, str>,
    ascii: bool,
}

impl<'t> Prepared<'t> {
    /// Prepares `text` for globs of one kind (`is_path`, see [`Glob::new`]).
    pub fn new(text: Cow<'t, str>, is_path: bool) -> Prepared<'t> {
        let text = match text {
            Cow::Borrowed(t) if is_path => Cow::Borrowed(normalize_path(t)),
            Cow::Owned(t) if is_path => Cow::Owned(normalize_path(&t).to_string()),
            text => text,
        };
        Prepared {
            ascii: text.is_ascii(),
            text,
        }
    }
}

/// A glob where `*` matches any run of characters; case-insensitive.
#[derive(Clone, Debug)]
pub struct Glob {
    source: String,
    /// The literal pieces between stars, lower-cased.
    pieces: Vec<String>,
    /// The common shapes, tested on ASCII text without walking the pieces.
    shape: Shape,
    /// Paths ignore a query string, a fragment and a trailing slash.
    is_path: bool,
}

/// What a glob's pieces amount to. Most globs in packs are a literal (`/pricing`) or a
/// prefix (`/blog/*`); each event property is tested against every glob on it, so
/// those two are decided with one length check and one comparison.
#[derive(Clone, Debug)]
enum Shape {
    /// No star: the whole text (lower-cased).
    Exact(Box<[u8]>),
    /// One trailing star: a prefix (lower-cased).
    Prefix(Box<[u8]>),
    /// Anything else: the pieces in turn.
    Pieces,
}

impl Glob {
    /// Compiles a glob; `is_path` makes it ignore `?query`, `#fragment` and a trailing `/`.
    pub fn new(source: &str, is_path: bool) -> Glob {
        let normalized = if is_path { normalize_path(source) } else { source };
        let lower = normalized.to_lowercase();
        let pieces: Vec<String> = lower.split('*').map(str::to_string).collect();
        let shape = match pieces.as_slice() {
            [exact] => Shape::Exact(exact.as_bytes().into()),
            [prefix, rest] if rest.is_empty() => Shape::Prefix(prefix.as_bytes().into()),
            _ => Shape::Pieces,
        };
        Glob {
            source: source.to_string(),
            pieces,
            shape,
            is_path,
        }
    }

    /// Whether `text` matches, decided on the text as it is when the glob is a literal or
    /// a prefix: compare the literal, then look only at what follows it for a query
    /// string or trailing slashes. Most tests fail on the first bytes, so most texts are
    /// never prepared. `None` when the text must be [prepared](Prepared::new) first (a
    /// non-ASCII byte where the literal is compared, or another shape of glob).
    #[inline]
    pub fn matches_raw(&self, text: &str) -> Option<bool> {
        let (literal, exact) = match &self.shape {
            Shape::Exact(literal) => (literal, true),
            Shape::Prefix(literal) => (literal, false),
            Shape::Pieces => return None,
        };
        let text = text.as_bytes();
        // A path only gets shorter when prepared: too short now is too short then.
        let Some(head) = text.get(..literal.len()) else {
            return Some(false);
        };
        if !same_lower(head, literal)? {
            return Some(false);
        }
        // The literal matched the start: how much of the text does preparing keep?
        let kept = if self.is_path {
            let rest = &text[literal.len()..];
            let mut end = literal.len() + rest.iter().position(|&b| b == b'?' || b == b'#').unwrap_or(rest.len());
            if end > 1 {
                while end > 0 && text[end - 1] == b'/' {
                    end -= 1;
                }
            }
            end
        } else {
            text.len()
        };
        Some(if exact {
            kept == literal.len()
        } else {
            kept >= literal.len()
        })
    }

    /// Whether this glob is for paths (see [`Prepared::new`]).
    pub fn is_path(&self) -> bool {
        self.is_path
    }

    /// Whether `text`, [prepared](Prepared::new) for a glob of the same kind, matches.
    #[inline]
    pub fn matches_prepared(&self, text: &Prepared) -> bool {
        if text.ascii {
            return self.matches_ascii(text.text.as_bytes());
        }
        let text = &*text.text;
        let folded;
        let text = if text.chars().any(char::is_uppercase) {
            folded = text.to_lowercase();
            folded.as_str()
        } else {
            text
        };
        let [first, middle @ .., last] = self.pieces.as_slice() else {
            return self.pieces.first().is_some_and(|p| p == text);
        };
        // Several pieces: the first anchors the start, the last the end, and each middle
        // piece is found leftmost in what remains (leftmost is never worse for `*`).
        if !text.starts_with(first.as_str()) {
            return false;
        }
        let mut rest = &text[first.len()..];
        for piece in middle {
            match rest.find(piece.as_str()) {
                Some(i) => rest = &rest[i + piece.len()..],
                None => return false,
            }
        }
        rest.ends_with(last.as_str())
    }
}

impl Glob {
    /// [`Glob::matches_prepared`] for ASCII text, comparing case-insensitively in place instead of
    /// lower-casing a copy (the pieces are lower-case already).
    fn matches_ascii(&self, text: &[u8]) -> bool {
        match &self.shape {
            Shape::Exact(exact) => return text.len() == exact.len() && eq_lower(text, exact),
            Shape::Prefix(prefix) => return text.get(..prefix.len()).is_some_and(|head| eq_lower(head, prefix)),
            Shape::Pieces => {}
        }
        self.matches_pieces(text)
    }

    /// [`Glob::matches_ascii`] by walking the pieces, whatever the shape.
    fn matches_pieces(&self, text: &[u8]) -> bool {
        let [first, middle @ .., last] = self.pieces.as_slice() else {
            return self
                .pieces
                .first()
                .is_some_and(|p| text.eq_ignore_ascii_case(p.as_bytes()));
        };
        let Some(mut rest) = strip_prefix_ignore_case(text, first.as_bytes()) else {
            return false;
        };
        for piece in middle {
            let piece = piece.as_bytes();
            match find_ignore_case(rest, piece) {
                Some(i) => rest = &rest[i + piece.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest[rest.len() - last.len()..].eq_ignore_ascii_case(last.as_bytes())
    }
}

/// Whether `text` lower-cased is `lower` (lower-case, of the same length), both ASCII:
/// compared eight bytes at a time, every word lower-cased at once, so that where the two
/// first differ (which is data) decides no branch. `None` when either is not ASCII (the
/// caller prepares the text instead).
#[inline]
fn same_lower(text: &[u8], lower: &[u8]) -> Option<bool> {
    let (mut differ, mut high) = (0u64, 0u64);
    let mut compare = |t: u64, l: u64| {
        high |= t | l;
        differ |= lower_word(t) ^ l;
    };
    let half = |b: &[u8; 4]| u64::from(u32::from_le_bytes(*b));
    match (
        text.first_chunk::<8>(),
        text.last_chunk::<8>(),
        lower.first_chunk::<8>(),
        lower.last_chunk::<8>(),
    ) {
        // The first and the last eight bytes (overlapping up to 16), and any between.
        (Some(t_first), Some(t_last), Some(l_first), Some(l_last)) => {
            compare(u64::from_le_bytes(*t_first), u64::from_le_bytes(*l_first));
            compare(u64::from_le_bytes(*t_last), u64::from_le_bytes(*l_last));
            for (t, l) in text.chunks_exact(8).zip(lower.chunks_exact(8)).skip(1) {
                compare(word(t), word(l));
            }
        }
        // Four to seven bytes: the first and the last four.
        _ => match (
            text.first_chunk::<4>(),
            text.last_chunk::<4>(),
            lower.first_chunk::<4>(),
            lower.last_chunk::<4>(),
        ) {
            (Some(t_first), Some(t_last), Some(l_first), Some(l_last)) => {
                compare(half(t_first) | half(t_last) << 32, half(l_first) | half(l_last) << 32);
            }
            // Up to three bytes, each in a byte of its own word.
            _ => {
                let pack = |bytes: &[u8]| bytes.iter().fold(0u64, |w, &b| w << 8 | u64::from(b));
                compare(pack(text), pack(lower));
            }
        },
    }
    (high & HIGH_BITS == 0).then_some(differ == 0)
}

/// Eight bytes as a word (`chunk` is eight bytes long).
#[inline]
fn word(chunk: &[u8]) -> u64 {
    chunk.first_chunk::<8>().map_or(0, |c| u64::from_le_bytes(*c))
}

/// Each ASCII upper-case letter of a word of ASCII bytes lower-cased: a byte's high bit
/// is set by adding `0x80 - b'A'` when it is at least `A`, and by adding `0x80 - b'Z' - 1`
/// when it is past `Z` (no byte carries into the next: each is under `0x80`).
#[inline]
fn lower_word(w: u64) -> u64 {
    w | in_range(w, b'A', b'Z') >> 2
}

/// Each byte's high bit.
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;
/// Each byte's low bit.
const ONES: u64 = 0x0101_0101_0101_0101;

/// The high bit of each byte of a word of ASCII bytes that is `b`.
#[inline]
fn eq_bytes(w: u64, b: u8) -> u64 {
    let z = w ^ (ONES * u64::from(b));
    !((z & !HIGH_BITS).wrapping_add(!HIGH_BITS) | z) & HIGH_BITS
}

/// The high bit of each byte of a word of ASCII bytes that is from `lo` to `hi`
/// (both ASCII, `lo` not zero).
#[inline]
fn in_range(w: u64, lo: u8, hi: u8) -> u64 {
    let from_lo = w.wrapping_add(ONES * (0x80 - u64::from(lo)));
    let past_hi = w.wrapping_add(ONES * (0x80 - u64::from(hi) - 1));
    from_lo & !past_hi & HIGH_BITS
}

/// The high bits of a word's bytes as eight bits, byte `i`'s as bit `i`.
#[inline]
fn bits(high: u64) -> u64 {
    (high >> 7).wrapping_mul(0x0102_0408_1020_4080) >> 56
}

/// Whether ASCII `text` lower-cased is `lower` (of the same length).
fn eq_lower(text: &[u8], lower: &[u8]) -> bool {
    text.iter().zip(lower).all(|(t, l)| t.to_ascii_lowercase() == *l)
}

fn strip_prefix_ignore_case<'t>(text: &'t [u8], prefix: &[u8]) -> Option<&'t [u8]> {
    let (head, tail) = text.split_at_checked(prefix.len())?;
    head.eq_ignore_ascii_case(prefix).then_some(tail)
}

/// The leftmost position of `needle` in `hay`, ignoring ASCII case.
fn find_ignore_case(hay: &[u8], needle: &[u8]) -> Option<usize> {
    if needle.len() > hay.len() {
        return None;
    }
    (0..=hay.len() - needle.len()).find(|&i| hay[i..i + needle.len()].eq_ignore_ascii_case(needle))
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

/// A path without its query string, fragment and trailing slash.
pub fn normalize_path(path: &str) -> &str {
    // Bytes, not chars: `?`, `#` and `/` are ASCII, so cutting at them keeps the text
    // valid UTF-8, and a byte search (memchr) is several times faster.
    let bytes = path.as_bytes();
    let mut end = memchr::memchr2(b'?', b'#', bytes).unwrap_or(bytes.len());
    if end > 1 {
        while end > 0 && bytes[end - 1] == b'/' {
            end -= 1;
        }
    }
    &path[..end]
}

/// A word or phrase matched case-insensitively on word boundaries:
/// `VP` matches "VP Sales" and "vp, marketing" but not "SVP".
#[derive(Clone, Debug, PartialEq)]
pub struct Words {
    source: String,
    lower: String,
    /// Whether `lower` is ASCII (texts are then searched byte by byte).
    ascii: bool,
}

impl Words {
    /// Compiles a word or phrase.
    pub fn new(words: &str) -> Words {
        let lower = words.to_lowercase();
        Words {
            source: words.to_string(),
            ascii: lower.is_ascii(),
            lower,
        }
    }

    /// Whether `text` contains the words with a boundary on both sides.
    pub fn matches(&self, text: &str) -> bool {
        let needle = self.lower.as_bytes();
        if needle.is_empty() {
            return false;
        }
        if !self.ascii {
            return self.matches_unicode(text);
        }
        let hay = text.as_bytes();
        if hay.len() <= 64 {
            return self.matches_short(hay).unwrap_or_else(|| self.matches_unicode(text));
        }
        if !text.is_ascii() {
            return self.matches_unicode(text);
        }
        if hay.len() < needle.len() {
            return false;
        }
        // Candidates are where the first byte occurs in either case (memchr finds them
        // several bytes at a time); only those are compared in full.
        let (lower, upper) = (needle[0], needle[0].to_ascii_uppercase());
        let starts = &hay[..=hay.len() - needle.len()];
        memchr::memchr2_iter(lower, upper, starts).any(|i| {
            hay[i..i + needle.len()].eq_ignore_ascii_case(needle)
                && (i == 0 || !is_word_byte(hay[i - 1]))
                && hay.get(i + needle.len()).is_none_or(|&b| !is_word_byte(b))
        })
    }

    /// [`Words::matches`] for a text of up to 64 bytes (most names and titles), `None` if
    /// it is not ASCII (or longer): see [`Words::matches_short_text`].
    fn matches_short(&self, hay: &[u8]) -> Option<bool> {
        Some(self.matches_short_text(&ShortText::new(hay)?))
    }

    /// Which of `set` (at most 64) match `text`, bit `i` for `set[i]`: each the answer of
    /// [`Words::matches`], with a short ASCII text lower-cased once for all of them (the
    /// word tests a pack makes on one field of a lead).
    ///
    /// ```
    /// use leadscore::value::pattern::Words;
    /// let set = ["vp", "vice president", "student"].map(Words::new);
    /// assert_eq!(Words::matches_each(&set, "VP, Sales"), 0b001);
    /// assert_eq!(Words::matches_each(&set, "Vice President / student"), 0b110);
    /// ```
    pub fn matches_each(set: &[Words], text: &str) -> u64 {
        let short = ShortText::new(text.as_bytes());
        let mut found = 0;
        for (i, words) in set.iter().enumerate().take(64) {
            let hit = match &short {
                Some(short) if words.ascii && !words.lower.is_empty() => words.matches_short_text(short),
                _ => words.matches(text),
            };
            found |= u64::from(hit) << i;
        }
        found
    }

    /// Whether an ASCII text of up to 64 bytes, lower-cased, contains the (ASCII) words:
    /// each of its bytes is a bit in two masks (where the first letter of the words is,
    /// where the last is), and the places the words can start are where both are, the
    /// words' length apart. Only such a place (rare) is compared in full, with its
    /// boundaries; which letter of the text first differs, or where a candidate is,
    /// decides no branch.
    fn matches_short_text(&self, text: &ShortText<'_>) -> bool {
        let (needle, hay) = (self.lower.as_bytes(), text.hay);
        let (Some(&first), Some(&last)) = (needle.first(), needle.last()) else {
            return false;
        };
        let (mut at_first, mut at_last) = (0u64, 0u64);
        for (k, &w) in text.lowered.iter().take(hay.len().div_ceil(8)).enumerate() {
            let shift = 8 * k as u32;
            at_first |= bits(eq_bytes(w, first)) << shift;
            at_last |= bits(eq_bytes(w, last)) << shift;
        }
        // Bits past the end are zero bytes of the last word: a zero in the words would
        // find them.
        let valid = u64::MAX.checked_shr(64 - hay.len() as u32).unwrap_or(0);
        let n = needle.len() as u32;
        let mut starts = (at_first & valid) & (at_last & valid).checked_shr(n - 1).unwrap_or(0);
        while starts != 0 {
            let i = starts.trailing_zeros() as usize;
            if hay
                .get(i..i + needle.len())
                .is_some_and(|w| w.eq_ignore_ascii_case(needle))
                && (i == 0 || !is_word_byte(hay[i - 1]))
                && hay.get(i + needle.len()).is_none_or(|&b| !is_word_byte(b))
            {
                return true;
            }
            starts &= starts - 1;
        }
        false
    }

    fn matches_unicode(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        lower
            .match_indices(self.lower.as_str())
            .any(|(i, m)| !is_word(lower[..i].chars().next_back()) && !is_word(lower[i + m.len()..].chars().next()))
    }
}

/// A text of up to 64 ASCII bytes lower-cased eight bytes at a time: what word matches
/// on it read, made once for every word tested on it.
struct ShortText<'t> {
    hay: &'t [u8],
    lowered: [u64; 8],
}

impl<'t> ShortText<'t> {
    /// `None` for a text longer than 64 bytes or not ASCII.
    fn new(hay: &'t [u8]) -> Option<ShortText<'t>> {
        if hay.len() > 64 {
            return None;
        }
        let (mut lowered, mut high) = ([0u64; 8], 0u64);
        for (slot, chunk) in lowered.iter_mut().zip(hay.chunks(8)) {
            let w = match chunk.first_chunk::<8>() {
                Some(whole) => u64::from_le_bytes(*whole),
                None => chunk.iter().rev().fold(0, |w, &b| w << 8 | u64::from(b)),
            };
            high |= w;
            *slot = lower_word(w);
        }
        (high & HIGH_BITS == 0).then_some(ShortText { hay, lowered })
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl fmt::Display for Words {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deciding on the raw text agrees with preparing it, wherever it decides.
    #[test]
    fn raw_texts_agree_with_prepared() {
        let globs = [
            "/pricing",
            "/blog/*",
            "/careers*",
            "/",
            "",
            "*",
            "/a*b",
            "case-study*",
            "k",
            "/prïcing",
            "/blog/",
        ];
        let texts = [
            "",
            "/",
            "//",
            "/pricing",
            "/Pricing/",
            "/pricing//",
            "/pricing?x=1",
            "/pricing/?x",
            "/pricing#top",
            "/pricingx",
            "/pric",
            "/blog",
            "/blog/",
            "/blog//",
            "/blog/?q",
            "/blog/a",
            "/BLOG/Post?x",
            "/careers",
            "/careers-eng/",
            "/careers?",
            "?",
            "#",
            "/PRÏCING",
            "/prïcing",
            "/pricing/ä",
            "/pricingä",
            "\u{212a}",
            "K",
            "case-study-ä",
            "/blog/ä",
        ];
        for glob in globs {
            for is_path in [true, false] {
                let glob = Glob::new(glob, is_path);
                for text in texts {
                    if let Some(raw) = glob.matches_raw(text) {
                        let prepared = Prepared::new(Cow::Borrowed(text), is_path);
                        assert_eq!(
                            raw,
                            glob.matches_prepared(&prepared),
                            "{glob} (path: {is_path}) on {text:?}"
                        );
                    }
                }
            }
        }
        assert_eq!(Glob::new("/pricing", true).matches_raw("/blog/x"), Some(false));
        assert_eq!(Glob::new("/pricing", true).matches_raw("/PRÏCING"), None);
    }

    /// Comparing a word at a time agrees with comparing byte by byte, at every length
    /// and wherever the texts differ, and leaves non-ASCII texts to the caller.
    #[test]
    fn words_compare_as_bytes_do() {
        let lower = b"/pricing-and-plans/for-teams@[`{";
        for len in 0..=lower.len() {
            let lower = &lower[..len];
            let upper = lower.to_ascii_uppercase();
            assert_eq!(same_lower(lower, lower), Some(true));
            assert_eq!(same_lower(&upper, lower), Some(true), "{upper:?}");
            for at in 0..len {
                for b in [b'_', b'@', b'[', b'`', b'{', b'A', b'Z', b'a', b'z', 0, 0x7f] {
                    let mut other = upper.clone();
                    other[at] = b;
                    let want = other.iter().zip(lower).all(|(t, l)| t.to_ascii_lowercase() == *l);
                    assert_eq!(same_lower(&other, lower), Some(want), "{other:?} at {at}");
                }
                let mut other = lower.to_vec();
                other[at] = 0xc3;
                assert_eq!(same_lower(&other, lower), None);
            }
        }
    }

    /// Word matches on short texts (masks) agree with the long texts' search, with
    /// boundaries at either end, candidates that fail, and upper case.
    #[test]
    fn short_texts_match_as_long_ones_do() {
        let words = ["vp", "VP", "vice president", "student", "c", "_", "a_b", "x9", "sales"];
        let texts = [
            "",
            "vp",
            "VP Sales",
            "SVP Sales",
            "vps",
            "Sales, vp",
            "Sales vp_",
            "the Vice President of sales",
            "vice-president",
            "Graduate Student",
            "students",
            "c",
            "a c b",
            "a_c_b",
            "_",
            "a _ b",
            "a_b",
            "xa_b",
            "x9",
            "x99 x9",
            "Sales Sales sales",
            "0123456789012345678901234567890123456789012345678901234567890 vp",
            "0123456789012345678901234567890123456789012345678901234567890 vpx",
            "9 vp 01234567890123456789012345678901234567890123456789012345678",
        ];
        for words in words {
            let w = Words::new(words);
            for text in texts {
                let padded = format!("{text}{}", " ".repeat(70));
                assert!(padded.len() > 64);
                let short = (text.len() <= 64).then(|| w.matches(&padded));
                assert_eq!(w.matches_short(text.as_bytes()), short, "{words:?} in {text:?}");
                let brute = (0..text.len()).any(|i| {
                    let hay = text.as_bytes();
                    let n = words.len();
                    hay.get(i..i + n)
                        .is_some_and(|h| h.eq_ignore_ascii_case(words.as_bytes()))
                        && (i == 0 || !is_word_byte(hay[i - 1]))
                        && hay.get(i + n).is_none_or(|&b| !is_word_byte(b))
                });
                assert_eq!(w.matches(text), brute, "{words:?} in {text:?}");
            }
        }
        assert_eq!(Words::new("vp").matches_short("VP Ünïted".as_bytes()), None);
        assert!(Words::new("ünïted").matches("VP Ünïted"));
    }

    /// Several words made at once on a text answer as each made alone, on short and
    /// long, ASCII and other texts, with words that are not ASCII or empty among them.
    #[test]
    fn word_sets_match_as_each_word_does() {
        let set = [
            "vp",
            "VP",
            "vice president",
            "student",
            "",
            "ünïted",
            "a_b",
            "x9",
            "sales",
        ]
        .map(Words::new);
        let texts = [
            "",
            "VP Sales",
            "SVP Sales",
            "the Vice President of sales",
            "Graduate Student",
            "VP Ünïted",
            "a_b x9",
            "0123456789012345678901234567890123456789012345678901234567890 vp",
            "0123456789012345678901234567890123456789012345678901234567890 vpx sales",
        ];
        for text in texts {
            let each = (set.iter().enumerate()).fold(0, |found, (i, w)| found | u64::from(w.matches(text)) << i);
            assert_eq!(Words::matches_each(&set, text), each, "{text:?}");
        }
    }

    /// The shortcuts for literal and prefix globs agree with walking the pieces.
    #[test]
    fn shapes_agree_with_pieces() {
        let globs = [
            "/pricing",
            "/blog/*",
            "/careers*",
            "*",
            "",
            "/a*b",
            "*.pdf",
            "case-study*",
            "K",
            "/ÄB*",
        ];
        let texts = [
            "",
            "/",
            "/pricing",
            "/PRICING",
            "/pricing/x",
            "/pricin",
            "/blog/",
            "/blog",
            "/Blog/Post",
            "/careers",
            "/careers-eng",
            "/ab",
            "/axxb",
            "x.pdf",
            "case-study-1",
            "Case-Study",
            "k",
            "/äb",
        ];
        assert!(matches!(Glob::new("/pricing", true).shape, Shape::Exact(_)));
        assert!(matches!(Glob::new("/blog/*", true).shape, Shape::Prefix(_)));
        for glob in globs {
            let glob = Glob::new(glob, false);
            for text in texts.iter().filter(|t| t.is_ascii()) {
                let text = text.as_bytes();
                assert_eq!(
                    glob.matches_ascii(text),
                    glob.matches_pieces(text),
                    "{glob} on {text:?}"
                );
            }
        }
    }
}
