//! The code lens on a rule file's first line: how many of the pack's sample leads are
//! MQLs, scored with the pack as saved (so it changes on save, not on every keystroke).

use lsp_types::{CodeLens, Command, Range};

/// The lens with `text`.
pub fn mql_lens(text: &str) -> CodeLens {
    CodeLens {
        range: Range::default(),
        command: Some(Command {
            title: text.to_string(),
            command: String::new(),
            arguments: None,
        }),
        data: None,
    }
}
