//! Sample-lead snapshots in insta's `.snap` format, so `cargo insta review` can review them:
//! a `---` header of `key: value` lines, a `---` line, then the body.

use std::fmt;
use std::path::{Path, PathBuf};

use similar::TextDiff;

/// What `check_snapshot` does with a snapshot that is new or changed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SnapshotUpdate {
    /// Only compare; write nothing (what CI wants).
    Compare,
    /// Write the new text beside the old as `NAME.snap.new` for review (insta's default).
    WriteNew,
    /// Write the new text as `NAME.snap`: accept it.
    Accept,
}

/// How a sample lead's text compared with its stored snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SnapshotStatus {
    /// The text matches the stored snapshot.
    Matched,
    /// No snapshot was stored yet.
    New,
    /// The text differs; `diff` is a unified diff from the stored text to the new one.
    Changed {
        /// The unified diff, with `-` lines from the snapshot and `+` lines from now.
        diff: String,
    },
}

/// The result of comparing one sample lead with its snapshot.
#[derive(Clone, Debug)]
pub struct SnapshotCheck {
    /// The stored snapshot's path (`PACK/snapshots/NAME.snap`).
    pub path: PathBuf,
    /// Matched, new or changed.
    pub status: SnapshotStatus,
    /// The file written, if any (`NAME.snap.new`, or `NAME.snap` when accepting).
    pub written: Option<PathBuf>,
}

impl SnapshotCheck {
    /// Whether the snapshot passes: it matched, or the new text was accepted.
    pub fn passed(&self) -> bool {
        self.status == SnapshotStatus::Matched || self.written.as_ref().is_some_and(|w| w == &self.path)
    }
}

/// Compares `body` with the snapshot at `path`, writing according to `update`.
/// `input_file` (the lead, relative to the pack) goes into the header.
pub(crate) fn check(
    path: &Path,
    input_file: &str,
    body: &str,
    update: SnapshotUpdate,
) -> std::io::Result<SnapshotCheck> {
    let body = normalize(body);
    let new_path = path.with_extension("snap.new");
    let status = match crate::file::read_text(path, crate::file::DEFAULT_MAX_FILE_BYTES) {
        Ok(text) => {
            let old = normalize(stored_body(&text));
            if old == body {
                SnapshotStatus::Matched
            } else {
                SnapshotStatus::Changed {
                    diff: diff(&old, &body, &display(path), &display(&new_path)),
                }
            }
        }
        Err(crate::file::FileError {
            kind: crate::file::FileErrorKind::Io(e),
            ..
        }) if e.kind() == std::io::ErrorKind::NotFound => SnapshotStatus::New,
        Err(e) => return Err(std::io::Error::other(e)),
    };
    let target = match (&status, update) {
        (SnapshotStatus::Matched, _) | (_, SnapshotUpdate::Compare) => None,
        (_, SnapshotUpdate::WriteNew) => Some(new_path.clone()),
        (_, SnapshotUpdate::Accept) => Some(path.to_path_buf()),
    };
    if let Some(target) = &target {
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(target, render(input_file, &body))?;
    }
    // A pending `.snap.new` is stale once the snapshot matches or is accepted.
    if target.as_deref() != Some(new_path.as_path()) && update != SnapshotUpdate::Compare {
        match std::fs::remove_file(&new_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
            _ => {}
        }
    }
    Ok(SnapshotCheck {
        path: path.to_path_buf(),
        status,
        written: target,
    })
}

/// A whole `.snap` file: the header insta writes (`source`, `expression`, `input_file`)
/// and the body. Nothing in the header changes unless the lead file is renamed.
pub(crate) fn render(input_file: &str, body: &str) -> String {
    format!(
        "---\nsource: {}\nexpression: {}\ninput_file: {}\n---\n{}\n",
        yaml_str("leadscore test --snapshots"),
        yaml_str("explanation"),
        yaml_str(input_file),
        normalize(body)
    )
}

/// The body of a stored snapshot: everything after the header's closing `---`
/// (or the whole text if it has no header).
fn stored_body(text: &str) -> &str {
    let Some(rest) = text.strip_prefix("---\n").or_else(|| text.strip_prefix("---\r\n")) else {
        return text;
    };
    let mut offset = 0;
    for line in rest.split_inclusive('\n') {
        offset += line.len();
        if line.trim_end() == "---" {
            return &rest[offset..];
        }
    }
    ""
}

/// Insta's normalization: no trailing whitespace at the end, `\n` line endings.
fn normalize(text: &str) -> String {
    text.trim_end().replace("\r\n", "\n")
}

/// A unified diff from `old` to `new`, three lines of context.
fn diff(old: &str, new: &str, old_name: &str, new_name: &str) -> String {
    let old = format!("{old}\n");
    let new = format!("{new}\n");
    TextDiff::from_lines(&old, &new)
        .unified_diff()
        .context_radius(3)
        .header(old_name, new_name)
        .to_string()
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

/// A YAML scalar as insta's emitter writes it: plain when safe, else double-quoted.
fn yaml_str(s: &str) -> String {
    let special =
        |c: char| matches!(c, ':' | '{' | '}' | '[' | ']' | ',' | '#' | '`' | '"' | '\'' | '\\') || c.is_control();
    let plain = !s.is_empty()
        && !s.starts_with([' ', '&', '*', '?', '|', '-', '<', '>', '=', '!', '%', '@', '.'])
        && !s.ends_with(' ')
        && !s.contains(special)
        && s.parse::<f64>().is_err()
        && !matches!(
            s.to_lowercase().as_str(),
            "yes" | "no" | "true" | "false" | "on" | "off" | "null" | "~"
        );
    if plain {
        s.to_string()
    } else {
        serde_json::Value::String(s.to_string()).to_string()
    }
}

impl fmt::Display for SnapshotStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotStatus::Matched => f.write_str("matches"),
            SnapshotStatus::New => f.write_str("new"),
            SnapshotStatus::Changed { .. } => f.write_str("changed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_after_header() {
        let text = render("leads/a.json", "score 5\n  line\n");
        assert_eq!(stored_body(&text), "score 5\n  line\n");
        assert!(text.contains("input_file: leads/a.json\n"));
        assert_eq!(yaml_str("a: b"), "\"a: b\"");
    }
}
