//! `fit`'s OUT_DIR: checked before any lead is read, then written whole in a temporary
//! sibling folder and renamed into place, so nobody sees half a pack, a stale file never
//! becomes part of a fitted one, and a failed write leaves the folder as it was.

use std::path::{Path, PathBuf};

use super::Failure;

/// The file that marks a folder as `fit`'s output, so a later fit may replace it.
pub const MARKER: &str = ".leadscore-fit";

const MARKER_TEXT: &str = "Written by `leadscore fit`: a later fit into this folder replaces it whole.\n";

/// A checked OUT_DIR.
pub struct OutDir {
    /// The folder, resolved (links followed where it exists).
    path: PathBuf,
    /// It is an earlier fit's output, replaced whole.
    replace: bool,
}

impl OutDir {
    /// Refuses the pack itself, a folder inside the pack or holding it, and a folder that
    /// is neither empty nor an earlier fit's output.
    pub fn check(pack: &Path, out: &Path) -> Result<OutDir, Failure> {
        let cannot = |e: std::io::Error, p: &Path| Failure(format!("error: cannot read {}: {e}", p.display()));
        let pack = std::fs::canonicalize(pack).map_err(|e| cannot(e, pack))?;
        let path = resolve(out).map_err(|e| cannot(e, out))?;
        if path == pack {
            return Err(Failure("error: OUT_DIR must not be the pack itself".into()));
        }
        if path.starts_with(&pack) {
            return Err(Failure(format!(
                "error: OUT_DIR {} is inside the pack {}: the copy would hold itself; choose a folder outside it",
                out.display(),
                pack.display()
            )));
        }
        if pack.starts_with(&path) {
            return Err(Failure(format!("error: OUT_DIR {} holds the pack", out.display())));
        }
        let replace = match std::fs::read_dir(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(cannot(e, out)),
            Ok(mut entries) => {
                let empty = entries.next().is_none();
                if !empty && !path.join(MARKER).is_file() {
                    return Err(Failure(format!(
                        "error: OUT_DIR {} is not empty and is not an earlier fit's output (it has no {MARKER}); \
                         choose a new or empty folder",
                        out.display()
                    )));
                }
                !empty
            }
        };
        Ok(OutDir { path, replace })
    }

    /// Writes the pack's folder with `files` (name, text) in place of its own, in a
    /// temporary sibling renamed into place.
    pub fn write(&self, pack: &Path, files: &[(String, String)]) -> Result<(), Failure> {
        let parent = self.path.parent().unwrap_or(Path::new("/"));
        let name = self
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let sibling = |what: &str| parent.join(format!(".{name}.{what}-{}", std::process::id()));
        let failed = |e: std::io::Error| Failure(format!("error: cannot write {}: {e}", self.path.display()));
        std::fs::create_dir_all(parent).map_err(failed)?;
        let temporary = sibling("fit");
        let written = fill(&temporary, pack, files).and_then(|()| self.swap(&temporary, &sibling("old")));
        if written.is_err() {
            let _ = std::fs::remove_dir_all(&temporary);
        }
        written.map_err(failed)
    }

    /// Puts the written folder in OUT_DIR's place.
    fn swap(&self, written: &Path, old: &Path) -> std::io::Result<()> {
        if !self.replace {
            if self.path.is_dir() {
                std::fs::remove_dir(&self.path)?;
            }
            return std::fs::rename(written, &self.path);
        }
        std::fs::rename(&self.path, old)?;
        if let Err(e) = std::fs::rename(written, &self.path) {
            let _ = std::fs::rename(old, &self.path);
            return Err(e);
        }
        std::fs::remove_dir_all(old)
    }
}

/// A path with its existing part resolved: `out` need not exist yet.
fn resolve(out: &Path) -> std::io::Result<PathBuf> {
    let absolute = std::path::absolute(out)?;
    let mut missing = Vec::new();
    let mut at = absolute.as_path();
    loop {
        match std::fs::canonicalize(at) {
            Ok(mut found) => {
                found.extend(missing.iter().rev());
                return Ok(found);
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => match (at.parent(), at.file_name()) {
                (Some(parent), Some(name)) => {
                    missing.push(name.to_os_string());
                    at = parent;
                }
                _ => return Err(e),
            },
            Err(e) => return Err(e),
        }
    }
}

/// The pack's folder copied into `to`, then `files` and the marker written over it.
fn fill(to: &Path, pack: &Path, files: &[(String, String)]) -> std::io::Result<()> {
    if to.exists() {
        std::fs::remove_dir_all(to)?;
    }
    copy_dir(pack, to)?;
    for (file, text) in files {
        std::fs::write(to.join(file), text)?;
    }
    std::fs::write(to.join(MARKER), MARKER_TEXT)
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
