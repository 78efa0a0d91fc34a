//! Compiled patterns: globs for paths and names, word matches for `~`.
//! Both run in time linear in the text (times the pattern's pieces), never backtracking.

use std::borrow::Cow;
use std::fmt;

/// A text made ready for [`Glob::matches_prepared`] by [`Glob::prepare`].
#[derive(Debug)]
pub struct Prepared<'t> {
    text: Cow<'t, str>,
    ascii: bool,
}

/// A glob where `*` matches any run of characters; case-insensitive.
#[derive(Clone, Debug)]
pub struct Glob {
    source: String,
    /// The literal pieces between stars, lower-cased.
    pieces: Vec<String>,
    /// Paths ignore a query string, a fragment and a trailing slash.
    is_path: bool,
}

impl Glob {
    /// Compiles a glob; `is_path` makes it ignore `?query`, `#fragment` and a trailing `/`.
    pub fn new(source: &str, is_path: bool) -> Glob {
        let normalized = if is_path { normalize_path(source) } else { source };
        let lower = normalized.to_lowercase();
        Glob {
            source: source.to_string(),
            pieces: lower.split('*').map(str::to_string).collect(),
            is_path,
        }
    }

    /// `text` as [`Glob::matches_prepared`] takes it: without its query string, fragment
    /// and trailing slash for a path glob, and whether it is ASCII. The evaluator prepares
    /// an event's property once for all the globs that test it.
    pub fn prepare<'t>(&self, text: Cow<'t, str>) -> Prepared<'t> {
        let text = match text {
            Cow::Borrowed(t) if self.is_path => Cow::Borrowed(normalize_path(t)),
            Cow::Owned(t) if self.is_path => Cow::Owned(normalize_path(&t).to_string()),
            text => text,
        };
        Prepared {
            ascii: text.is_ascii(),
            text,
        }
    }

    /// Whether this glob is for paths (see [`Glob::prepare`]).
    pub fn is_path(&self) -> bool {
        self.is_path
    }

    /// Whether `text`, [prepared](Glob::prepare) for a glob of the same kind, matches.
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
#[derive(Clone, Debug)]
pub struct Words {
    source: String,
    lower: String,
}

impl Words {
    /// Compiles a word or phrase.
    pub fn new(words: &str) -> Words {
        Words {
            source: words.to_string(),
            lower: words.to_lowercase(),
        }
    }

    /// Whether `text` contains the words with a boundary on both sides.
    pub fn matches(&self, text: &str) -> bool {
        let needle = self.lower.as_bytes();
        if needle.is_empty() {
            return false;
        }
        if !text.is_ascii() || !self.lower.is_ascii() {
            return self.matches_unicode(text);
        }
        let hay = text.as_bytes();
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

    fn matches_unicode(&self, text: &str) -> bool {
        let lower = text.to_lowercase();
        let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
        lower
            .match_indices(self.lower.as_str())
            .any(|(i, m)| !is_word(lower[..i].chars().next_back()) && !is_word(lower[i + m.len()..].chars().next()))
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
