//! The guard that keeps pest's recursive descent off deep input.
//!
//! pest recurses once per open parenthesis, list bracket and `not`, so `((((…` or
//! `not not not …` a hundred thousand deep would overflow the stack. Before a statement is
//! parsed, [`Guard::safe_end`] finds how far the text can be handed to pest: up to the first
//! point where the nesting, counted from the statement's start, passes [`MAX_NESTING`].
//!
//! The count uses a small lexer that skips strings, `/regex/`es, paths, backtick names and
//! comments, so brackets inside them are not counted. A `not` stays open until the
//! `and`, `or`, `)`, `]` or `=>` that ends its operand.
//!
//! The scan is linear over the whole file: a scan from `s` that found nothing deep before
//! `x` also proves every later start `p` in `s..x` clean up to `x`, because pest only
//! ever descends into brackets it opened itself, where the nesting seen from `p` is never
//! more than the nesting seen from `s`.

use super::MAX_NESTING;

/// What earlier scans proved about a file.
#[derive(Debug, Default)]
pub(super) struct Guard {
    /// A scan from `.0` found no excess before `.1` (the file's length when there is none).
    clean: Option<(usize, usize)>,
}

impl Guard {
    /// The end of the text pest may see for a statement starting at `pos`: the first
    /// point where nesting passes [`MAX_NESTING`], or the end of the file.
    pub(super) fn safe_end(&mut self, text: &str, pos: usize) -> usize {
        if let Some((from, until)) = self.clean {
            if from <= pos && pos < until {
                return until;
            }
        }
        self.fresh_end(text, pos)
    }

    /// [`Guard::safe_end`] measured from `pos` itself, ignoring what earlier scans proved.
    pub(super) fn fresh_end(&mut self, text: &str, pos: usize) -> usize {
        let end = pos + excess(&text[pos..]).unwrap_or(text.len() - pos);
        self.clean = Some((pos, end));
        end
    }
}

/// The byte offset in `text` where nesting first passes [`MAX_NESTING`], if it does.
pub(super) fn excess(text: &str) -> Option<usize> {
    let b = text.as_bytes();
    // Open `not`s per bracket level; the depth is the levels above the first plus every `not`.
    let mut nots: Vec<usize> = vec![0];
    let mut depth = 0usize;
    let mut after_tilde = false;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let tilde = c == b'~';
        match c {
            b'"' => i = skip_quoted(b, i + 1, b'"', true),
            b'`' => i = skip_quoted(b, i + 1, b'`', false),
            b'#' => i = skip_line(b, i),
            b'/' if after_tilde => i = skip_quoted(b, i + 1, b'/', true),
            b'/' => i = skip_path(b, i),
            b'(' | b'[' => {
                nots.push(0);
                depth += 1;
                i += 1;
            }
            b')' | b']' => {
                if nots.len() > 1 {
                    depth -= 1 + nots.pop().unwrap_or(0);
                }
                i += 1;
            }
            b'=' if b.get(i + 1) == Some(&b'>') => {
                depth -= close_nots(&mut nots);
                i += 2;
            }
            // A name: bytes of non-ASCII letters belong to it (`énot` is not `not`).
            c if c.is_ascii_alphabetic() || c == b'_' || c >= 0x80 => {
                let start = i;
                while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-' || b[i] >= 0x80) {
                    i += 1;
                }
                match &b[start..i] {
                    b"not" => {
                        if let Some(top) = nots.last_mut() {
                            *top += 1;
                        }
                        depth += 1;
                    }
                    b"and" | b"or" | b"let" | b"rule" | b"route" | b"mql" | b"when" => {
                        depth -= close_nots(&mut nots);
                    }
                    _ => {}
                }
                if depth > MAX_NESTING {
                    return Some(start);
                }
            }
            _ => i += 1,
        }
        if depth > MAX_NESTING {
            return Some(i.saturating_sub(1));
        }
        if !c.is_ascii_whitespace() && c != b'#' {
            after_tilde = tilde;
        }
    }
    None
}

/// Closes the open `not`s of the innermost level; returns how many there were.
fn close_nots(nots: &mut [usize]) -> usize {
    nots.last_mut().map_or(0, std::mem::take)
}

/// Past a string, backtick name or regex body that started before `i`: to the closing
/// `quote` or the end of the line (the grammar lets none of them span lines, so every
/// line starts outside them, whatever the scan started from). With `escapes`, a
/// backslash escapes the next character.
pub(crate) fn skip_quoted(b: &[u8], mut i: usize, quote: u8, escapes: bool) -> usize {
    while i < b.len() {
        match b[i] {
            b'\\' if escapes && b.get(i + 1).is_some_and(|&c| c != b'\n') => i += 2,
            b'\n' => return i,
            c if c == quote => return i + 1,
            _ => i += 1,
        }
    }
    b.len()
}

/// To the end of the line (a comment).
pub(crate) fn skip_line(b: &[u8], i: usize) -> usize {
    b[i..].iter().position(|&c| c == b'\n').map_or(b.len(), |n| i + n)
}

/// Past a bare path: up to a blank, `)`, `,`, `]` or `=>`, as the grammar reads it.
pub(crate) fn skip_path(b: &[u8], mut i: usize) -> usize {
    i += 1;
    while i < b.len()
        && !matches!(b[i], b' ' | b'\t' | b'\r' | b'\n' | b')' | b',' | b']')
        && !b[i..].starts_with(b"=>")
    {
        i += 1;
    }
    i
}
