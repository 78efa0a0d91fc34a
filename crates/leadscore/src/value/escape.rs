//! Text from a lead or a pack as a terminal may show it: the characters that move the
//! cursor, retitle the window, hide text or reorder it (C0 and C1 controls, DEL, the
//! bidirectional controls, the invisible format characters) are written as escapes, so
//! `\e]0;pwned\a` in a rule name or a lead's value is seen, not obeyed.

use std::borrow::Cow;

/// Whether `c` controls the terminal or hides or reorders text: C0 controls, DEL, C1
/// controls, the bidirectional embeddings, overrides, isolates and marks, and the
/// zero-width and other invisible format characters.
pub fn is_hidden(c: char) -> bool {
    matches!(c,
        '\0'..='\x1f' | '\x7f'..='\u{9f}'
        | '\u{ad}' | '\u{61c}' | '\u{180e}'
        | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{206f}'
        | '\u{feff}' | '\u{fff9}'..='\u{fffb}')
}

/// One value (a name, an id, a lead's field) as text for a terminal: every [hidden]
/// character, line breaks included, written as an escape (`\n`, `\u{1b}`).
///
/// [hidden]: is_hidden
///
/// ```
/// assert_eq!(leadscore::show_text("a\u{1b}]0;pwned\u{7}b"), r"a\u{1b}]0;pwned\u{7}b");
/// assert_eq!(leadscore::show_text("VP\nSales"), r"VP\nSales");
/// assert_eq!(leadscore::show_text("Zoë"), "Zoë");
/// ```
pub fn show_text(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// Rendered text (a report, an explanation, a diagnostic without colours) for a terminal:
/// as [`show_text`], but its own line breaks and tabs are kept.
///
/// ```
/// assert_eq!(leadscore::show_rendered("rule\t\u{202e}A\nnext\n"), "rule\t\\u{202e}A\nnext\n");
/// ```
pub fn show_rendered(text: &str) -> Cow<'_, str> {
    escape(text, |c| matches!(c, '\n' | '\t'))
}

/// Source text as a diagnostic shows its lines: every [hidden](is_hidden) character
/// except line breaks and tabs replaced by as many `?` as it has bytes, so spans into the
/// text still point where they did.
pub(crate) fn mask_hidden(text: &str) -> Cow<'_, str> {
    let keep = |c: char| matches!(c, '\n' | '\t' | '\r');
    if !text.chars().any(|c| is_hidden(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if is_hidden(c) && !keep(c) {
            out.extend(std::iter::repeat_n('?', c.len_utf8()));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    if !text.chars().any(|c| is_hidden(c) && !keep(c)) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            c if !is_hidden(c) || keep(c) => out.push(c),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c => out.push_str(&format!("\\u{{{:x}}}", u32::from(c))),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masking_keeps_byte_offsets() {
        let text = "rule \"\u{202e}A\u{1b}\" => +1\r\n";
        let masked = mask_hidden(text);
        assert_eq!(masked.len(), text.len());
        assert_eq!(masked, "rule \"???A?\" => +1\r\n");
    }

    #[test]
    fn c1_and_del_are_escaped() {
        assert_eq!(show_text("a\u{9b}31mb\u{7f}"), r"a\u{9b}31mb\u{7f}");
    }
}
