//! `leadscore fmt [--check] PACK`: rewrite a pack's files in the canonical layout.

use std::path::{Path, PathBuf};

use super::{Exit, Failure};

/// Arguments of `fmt`.
#[derive(clap::Args, Debug)]
pub struct FmtArgs {
    /// Do not write; list the files that would change and exit 1 if there are any.
    #[arg(long)]
    check: bool,
    /// The pack folder (every `*.rules` file in it), or one `.rules` file.
    pack: PathBuf,
}

/// Formats every file first, then writes: a file with a syntax error stops the command
/// before anything is written.
pub fn run(args: &FmtArgs) -> Result<Exit, Failure> {
    let mut changed = Vec::new();
    for path in files(&args.pack)? {
        let text = leadscore::file::read_text(&path, leadscore::file::DEFAULT_MAX_FILE_BYTES)
            .map_err(|e| Failure(format!("error: {e}")))?;
        let name = path.display().to_string();
        let formatted = leadscore::format_named(&name, &text).map_err(Failure::pack)?;
        if formatted != text {
            changed.push((path, text, formatted));
        }
    }
    if args.check {
        // The files on standard output (for scripts), what would change on standard error.
        for (path, text, formatted) in &changed {
            outln!("{}", path.display());
            err!("{}", leadscore::show_rendered(&diff(path, text, formatted)));
        }
        return Ok(if changed.is_empty() {
            Exit::Success
        } else {
            Exit::Partial
        });
    }
    for (path, _, formatted) in &changed {
        leadscore::file::write_text(path, formatted)
            .map_err(|e| Failure(format!("error: cannot write {}: {}", path.display(), e.kind)))?;
    }
    Ok(Exit::Success)
}

/// The `*.rules` files of a folder in name order, or the one file given.
fn files(pack: &Path) -> Result<Vec<PathBuf>, Failure> {
    if !pack.is_dir() {
        return Ok(vec![pack.to_path_buf()]);
    }
    let entries =
        std::fs::read_dir(pack).map_err(|e| Failure(format!("error: cannot read {}: {e}", pack.display())))?;
    let mut files = Vec::new();
    for entry in entries {
        let path = entry?.path();
        // Every `*.rules` entry is read (a FIFO or dangling link is an error naming it).
        if path.extension().is_some_and(|e| e == "rules") {
            files.push(path);
        }
    }
    if files.is_empty() {
        return Err(Failure(format!("error: {} holds no *.rules files", pack.display())));
    }
    files.sort();
    Ok(files)
}

/// What formatting would change in a file, as a unified diff.
fn diff(path: &Path, text: &str, formatted: &str) -> String {
    let name = path.display().to_string();
    similar::TextDiff::from_lines(text, formatted)
        .unified_diff()
        .context_radius(1)
        .header(&name, &format!("{name} (formatted)"))
        .to_string()
}
