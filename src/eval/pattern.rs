//! Compiled patterns: globs for paths and names, word matches for `~`.
//! Both run in time linear in the text (times the pattern's pieces), never backtracking.

use std::fmt;

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

    /// Whether `text` matches.
    pub fn matches(&self, text: &str) -> bool {
        let text = if self.is_path { normalize_path(text) } else { text };
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

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.source)
    }
}

/// A path without its query string, fragment and trailing slash.
pub fn normalize_path(path: &str) -> &str {
    let end = path.find(['?', '#']).unwrap_or(path.len());
    let path = &path[..end];
    if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    }
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
        (0..=hay.len() - needle.len()).any(|i| {
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
