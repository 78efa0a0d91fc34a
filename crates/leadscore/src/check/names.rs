//! Names that do not read as what they are: a character that hides, reorders or controls
//! text (a zero-width joiner in `t‍itle`, a right-to-left override in a rule name, a raw
//! ESC), or letters of two scripts that look alike (`sаnior` with a Cyrillic `а` beside
//! `senior`). Both are errors: a name the reader cannot see correctly is never intended.
//!
//! The scripts are told apart by a small table of Unicode blocks (Latin, Greek, Cyrillic,
//! Armenian: the scripts whose letters are confusable with each other), not a crate: any
//! other letter, digit or sign mixes freely.

use crate::value::escape::is_hidden;

/// What is wrong with a name.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Suspicion {
    /// It holds this invisible, bidirectional or control character.
    Hidden(char),
    /// It mixes letters of these two scripts.
    MixedScripts(&'static str, &'static str),
}

/// The script of a letter, for the scripts whose letters look alike.
fn script(c: char) -> Option<&'static str> {
    match c {
        'a'..='z' | 'A'..='Z' | '\u{c0}'..='\u{24f}' | '\u{1e00}'..='\u{1eff}' => Some("Latin"),
        '\u{370}'..='\u{3ff}' | '\u{1f00}'..='\u{1fff}' => Some("Greek"),
        '\u{400}'..='\u{52f}' | '\u{1c80}'..='\u{1c8f}' | '\u{2de0}'..='\u{2dff}' | '\u{a640}'..='\u{a69f}' => {
            Some("Cyrillic")
        }
        '\u{530}'..='\u{58f}' => Some("Armenian"),
        _ => None,
    }
}

/// What is wrong with `name`, if anything. `words` says whether the name is free text
/// (a rule or route name: words of different scripts may sit side by side, each word must
/// keep to one) or one identifier (a `let`, a dimension, a field path).
pub(super) fn suspicion(name: &str, words: bool) -> Option<Suspicion> {
    if let Some(c) = name.chars().find(|&c| is_hidden(c)) {
        return Some(Suspicion::Hidden(c));
    }
    let parts: Vec<&str> = if words {
        name.split(|c: char| !c.is_alphanumeric()).collect()
    } else {
        vec![name]
    };
    parts.into_iter().find_map(|part| {
        let mut scripts = part.chars().filter_map(script);
        let first = scripts.next()?;
        scripts
            .find(|&s| s != first)
            .map(|other| Suspicion::MixedScripts(first, other))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suspicions() {
        assert_eq!(
            suspicion("s\u{430}nior", false),
            Some(Suspicion::MixedScripts("Latin", "Cyrillic"))
        );
        assert_eq!(suspicion("t\u{200d}itle", false), Some(Suspicion::Hidden('\u{200d}')));
        assert_eq!(suspicion("VP \u{202e}A", true), Some(Suspicion::Hidden('\u{202e}')));
        assert_eq!(suspicion("senior", false), None);
        assert_eq!(suspicion("Директор VP", true), None, "words of one script each");
        assert_eq!(suspicion("Zoë_größe2", false), None);
        assert_eq!(suspicion("company.size", false), None);
    }
}
