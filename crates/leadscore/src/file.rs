//! The one bounded way to read a file the user named: a pack's `*.rules` files, plugins,
//! test cases and sample leads, a lead given to `explain`, `repl` or `watch`, the lead
//! files `score`, `stats`, `backtest`, `fit` and `diff` read.
//!
//! A file is read only when it is a regular file once its links are resolved, outside
//! `/proc`, `/sys` and `/dev` (whose "files" never end, block, or hold the process's
//! secrets), and no larger than a limit when it is read whole. It is opened without
//! blocking, so a FIFO is refused instead of waiting for a writer. Every refusal is a
//! [`FileError`] naming the file and never quoting it.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The most bytes a file read whole may have unless a caller allows more: 64 MiB, far
/// above any rule file, plugin, test case or lead, far below what would exhaust memory.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 64 << 20;

/// Folders whose entries are not files to read: kernel interfaces and devices.
const SYSTEM_FOLDERS: [&str; 3] = ["/proc", "/sys", "/dev"];

/// A file that could not be read, and why.
///
/// ```
/// let err = leadscore::file::read_text("/proc/self/environ".as_ref(), 1024).unwrap_err();
/// assert_eq!(err.to_string(), "cannot read /proc/self/environ: it is under /proc, which holds kernel interfaces and devices, not files");
/// ```
#[derive(Debug, thiserror::Error)]
#[error("cannot read {}: {kind}", path.display())]
#[non_exhaustive]
pub struct FileError {
    /// The file as it was named.
    pub path: PathBuf,
    /// Why it could not be read.
    pub kind: FileErrorKind,
}

/// Why a file could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileErrorKind {
    /// It is a folder.
    #[error("it is a folder")]
    Folder,
    /// It is a FIFO, socket or device.
    #[error("it is not a regular file (a FIFO, socket or device)")]
    NotRegular,
    /// It is (or links to) something under `/proc`, `/sys` or `/dev`.
    #[error("it is under {0}, which holds kernel interfaces and devices, not files")]
    System(&'static str),
    /// It is larger than the limit it was read under.
    #[error("it is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The limit, in bytes.
        limit: u64,
    },
    /// It is not UTF-8 text.
    #[error("it is not UTF-8 text")]
    NotUtf8,
    /// The system refused (missing, a dangling link, no permission, ...).
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

impl FileError {
    fn new(path: &Path, kind: impl Into<FileErrorKind>) -> FileError {
        FileError {
            path: path.to_path_buf(),
            kind: kind.into(),
        }
    }
}

/// Opens a regular file for reading (to stream it: no size limit).
///
/// ```
/// let err = leadscore::file::open("/dev/zero".as_ref()).unwrap_err();
/// assert!(matches!(err.kind, leadscore::file::FileErrorKind::System("/dev")));
/// ```
pub fn open(path: &Path) -> Result<std::fs::File, FileError> {
    let real = std::fs::canonicalize(path).map_err(|e| FileError::new(path, e))?;
    if let Some(folder) = SYSTEM_FOLDERS.into_iter().find(|f| real.starts_with(f)) {
        return Err(FileError::new(path, FileErrorKind::System(folder)));
    }
    let file = open_options(std::fs::OpenOptions::new().read(true))
        .open(&real)
        .map_err(|e| FileError::new(path, e))?;
    regular(path, &file)?;
    Ok(file)
}

/// Reads a regular file whole as UTF-8 text, refusing one larger than `max_bytes`.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("lead.json");
/// std::fs::write(&path, r#"{"title": "VP"}"#)?;
/// assert_eq!(leadscore::file::read_text(&path, 100)?, r#"{"title": "VP"}"#);
/// let err = leadscore::file::read_text(&path, 4).unwrap_err();
/// assert!(err.to_string().ends_with("it is larger than the limit of 4 bytes"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, FileError> {
    let file = open(path)?;
    let too_large = || FileError::new(path, FileErrorKind::TooLarge { limit: max_bytes });
    let len = file.metadata().map_err(|e| FileError::new(path, e))?.len();
    if len > max_bytes {
        return Err(too_large());
    }
    // The length was checked, but a file can grow while it is read: read one byte past
    // the limit to tell.
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(max_bytes.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(|e| FileError::new(path, e))?;
    if bytes.len() as u64 > max_bytes {
        return Err(too_large());
    }
    String::from_utf8(bytes).map_err(|_| FileError::new(path, FileErrorKind::NotUtf8))
}

/// Writes text to a file the user named, creating it or replacing a regular file's
/// contents; a folder, FIFO, device or anything under `/proc`, `/sys` or `/dev` is refused
/// before a byte is written (a FIFO never blocks the write).
///
/// ```
/// let err = leadscore::file::write_text("/dev/null".as_ref(), "x").unwrap_err();
/// assert!(matches!(err.kind, leadscore::file::FileErrorKind::System("/dev")));
/// ```
pub fn write_text(path: &Path, text: &str) -> Result<(), FileError> {
    use std::io::Write;
    if let Ok(real) = std::fs::canonicalize(path) {
        if let Some(folder) = SYSTEM_FOLDERS.into_iter().find(|f| real.starts_with(f)) {
            return Err(FileError::new(path, FileErrorKind::System(folder)));
        }
    }
    let mut file = open_options(std::fs::OpenOptions::new().write(true).create(true))
        .open(path)
        .map_err(|e| match e.raw_os_error() {
            // Opening a FIFO no one reads, without blocking, fails with ENXIO.
            Some(libc::ENXIO) => FileError::new(path, FileErrorKind::NotRegular),
            _ => FileError::new(path, e),
        })?;
    regular(path, &file)?;
    file.set_len(0)
        .and_then(|()| file.write_all(text.as_bytes()))
        .map_err(|e| FileError::new(path, e))
}

/// Refuses an opened file that is not a regular file.
fn regular(path: &Path, file: &std::fs::File) -> Result<(), FileError> {
    let kind = file.metadata().map_err(|e| FileError::new(path, e))?.file_type();
    match () {
        () if kind.is_file() => Ok(()),
        () if kind.is_dir() => Err(FileError::new(path, FileErrorKind::Folder)),
        () => Err(FileError::new(path, FileErrorKind::NotRegular)),
    }
}

/// Opens without blocking, so a FIFO without a writer is refused rather than waited on
/// (reads of a regular file are unaffected).
#[cfg(unix)]
fn open_options(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt;
    options.custom_flags(libc::O_NONBLOCK)
}

#[cfg(not(unix))]
fn open_options(options: &mut std::fs::OpenOptions) -> &mut std::fs::OpenOptions {
    options
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use super::*;

    fn fifo(dir: &Path) -> PathBuf {
        let path = dir.join("pipe");
        let status = std::process::Command::new("mkfifo").arg(&path).status().unwrap();
        assert!(status.success());
        path
    }

    #[test]
    fn a_fifo_is_refused_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let pipe = fifo(dir.path());
        assert!(matches!(
            read_text(&pipe, 10).unwrap_err().kind,
            FileErrorKind::NotRegular
        ));
        assert!(matches!(
            write_text(&pipe, "x").unwrap_err().kind,
            FileErrorKind::NotRegular
        ));
    }

    #[test]
    fn links_into_system_folders_are_refused_and_never_quoted() {
        let dir = tempfile::tempdir().unwrap();
        let link = dir.path().join("env.rules");
        std::os::unix::fs::symlink("/proc/self/environ", &link).unwrap();
        let err = read_text(&link, 1 << 20).unwrap_err();
        assert!(matches!(err.kind, FileErrorKind::System("/proc")));
        let zero = dir.path().join("zero.json");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        assert!(matches!(open(&zero).unwrap_err().kind, FileErrorKind::System("/dev")));
    }

    #[test]
    fn folders_and_dangling_links_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        assert!(matches!(
            read_text(dir.path(), 10).unwrap_err().kind,
            FileErrorKind::Folder
        ));
        let link = dir.path().join("gone");
        std::os::unix::fs::symlink(dir.path().join("missing"), &link).unwrap();
        assert!(matches!(read_text(&link, 10).unwrap_err().kind, FileErrorKind::Io(_)));
    }

    #[test]
    fn write_replaces_a_regular_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.rules");
        std::fs::write(&path, "a much longer text than what replaces it").unwrap();
        write_text(&path, "short").unwrap();
        assert_eq!(std::fs::read_to_string(&path).unwrap(), "short");
    }
}
