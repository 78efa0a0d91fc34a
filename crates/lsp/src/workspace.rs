//! The documents the editor has open and the pack folders they belong to: a pack is every
//! `*.rules` file in a folder, read from the open buffer when there is one, else from disk.
//! Each folder's analysis is cached until one of its files changes.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use super::adapter::{self, Analysis, FileText};
use super::samples::Samples;
use leadscore::Loader;

/// An open document.
struct Doc {
    text: String,
}

/// What is known about one pack folder.
#[derive(Default)]
struct Folder {
    analysis: Option<Arc<Analysis>>,
    /// When its diagnostics are due (a change waits for the debounce).
    due: Option<Instant>,
    /// The files diagnostics were last published for (to clear them when they go).
    published: Vec<PathBuf>,
    samples: Option<Arc<Samples>>,
    /// The code lens text, from the pack as saved.
    lens: Option<Arc<String>>,
    /// How many times a file of the folder was saved: a lens scored for an earlier
    /// generation is stale.
    generation: u64,
}

/// The open documents and their pack folders.
pub struct Workspace {
    docs: HashMap<PathBuf, Doc>,
    folders: HashMap<PathBuf, Folder>,
    loader: Loader,
}

impl Workspace {
    /// An empty workspace whose packs find plugins as `loader` says.
    pub fn new(loader: Loader) -> Workspace {
        Workspace {
            docs: HashMap::new(),
            folders: HashMap::new(),
            loader,
        }
    }

    /// The pack folder of a rule file.
    pub fn folder_of(path: &Path) -> PathBuf {
        path.parent().map_or_else(|| PathBuf::from("."), Path::to_path_buf)
    }

    /// Opens or replaces a document; its folder's analysis is out of date.
    pub fn set_text(&mut self, path: &Path, text: String) {
        self.docs.insert(path.to_path_buf(), Doc { text });
        self.invalidate(&Self::folder_of(path));
    }

    /// The text of a document (the open buffer's, else the file's).
    pub fn text(&self, path: &Path) -> Option<String> {
        match self.docs.get(path) {
            Some(doc) => Some(doc.text.clone()),
            None => leadscore::file::read_text(path, leadscore::file::DEFAULT_MAX_FILE_BYTES).ok(),
        }
    }

    /// Closes a document: the folder reads the file from disk again.
    pub fn close(&mut self, path: &Path) {
        self.docs.remove(path);
        self.invalidate(&Self::folder_of(path));
    }

    /// Forgets a folder's analysis (a file in it changed).
    pub fn invalidate(&mut self, folder: &Path) {
        self.folders.entry(folder.to_path_buf()).or_default().analysis = None;
    }

    /// A file was saved or changed on disk: the code lens and sample leads are read again.
    pub fn saved(&mut self, folder: &Path) {
        let f = self.folders.entry(folder.to_path_buf()).or_default();
        f.lens = None;
        f.samples = None;
        f.analysis = None;
        f.generation += 1;
    }

    /// Schedules the folder's diagnostics for `at`.
    pub fn schedule(&mut self, folder: &Path, at: Instant) {
        self.folders.entry(folder.to_path_buf()).or_default().due = Some(at);
    }

    /// The earliest time diagnostics are due.
    pub fn next_due(&self) -> Option<Instant> {
        self.folders.values().filter_map(|f| f.due).min()
    }

    /// The folders whose diagnostics are due by `now`; they are no longer scheduled.
    pub fn take_due(&mut self, now: Instant) -> Vec<PathBuf> {
        let mut due: Vec<PathBuf> = Vec::new();
        for (dir, f) in &mut self.folders {
            if f.due.is_some_and(|at| at <= now) {
                f.due = None;
                due.push(dir.clone());
            }
        }
        due.sort();
        due
    }

    /// The rule files of a folder: those on disk and open buffers not saved yet, by name;
    /// and the files that could not be read (a FIFO, a dangling link: read as empty),
    /// by index, with why.
    fn files(&self, folder: &Path) -> (Vec<FileText>, Vec<(usize, String)>) {
        let mut paths = adapter::rule_files(folder);
        for path in self.docs.keys() {
            let rules = path.extension().is_some_and(|e| e == "rules");
            if rules && Self::folder_of(path) == folder && !paths.contains(path) {
                paths.push(path.clone());
            }
        }
        paths.sort_by(|a, b| a.file_name().cmp(&b.file_name()));
        let mut unreadable = Vec::new();
        let files = paths
            .into_iter()
            .enumerate()
            .map(|(i, path)| {
                let text = match self.docs.get(&path) {
                    Some(doc) => doc.text.clone(),
                    None => {
                        leadscore::file::read_text(&path, leadscore::file::DEFAULT_MAX_FILE_BYTES).unwrap_or_else(|e| {
                            unreadable.push((i, format!("cannot read this file: {}", e.kind)));
                            String::new()
                        })
                    }
                };
                FileText { text, path }
            })
            .collect();
        (files, unreadable)
    }

    /// The folder's analysis, computed if out of date.
    pub fn analysis(&mut self, folder: &Path) -> Arc<Analysis> {
        if let Some(a) = self.folders.get(folder).and_then(|f| f.analysis.clone()) {
            return a;
        }
        let (files, unreadable) = self.files(folder);
        let samples = self.samples(folder);
        let mut analysis = adapter::analyse(folder, files, &self.loader_for(folder), &samples.leads());
        for (file, message) in unreadable {
            analysis.problems.push(adapter::Problem {
                at: adapter::Loc { file, start: 0, end: 0 },
                message,
                help: None,
                fix: None,
                warning: false,
            });
        }
        let analysis = Arc::new(analysis);
        self.folders.entry(folder.to_path_buf()).or_default().analysis = Some(Arc::clone(&analysis));
        analysis
    }

    /// The loader for a pack folder: a relative plugin folder (`plugins`, the default) is
    /// looked up from the pack's folder up through the folders above it (the pack's
    /// repository), not in the server's working directory, which is the editor's.
    pub fn loader_for(&self, folder: &Path) -> Loader {
        let dirs: Vec<PathBuf> = self
            .loader
            .plugin_folders()
            .iter()
            .map(|dir| {
                let found = (dir.is_relative())
                    .then(|| folder.ancestors().map(|a| a.join(dir)).find(|d| d.is_dir()))
                    .flatten();
                found.unwrap_or_else(|| dir.clone())
            })
            .collect();
        self.loader.clone().plugin_path(dirs)
    }

    /// Whether a document may be formatted: one the editor opened, or a rule file of a
    /// pack folder the editor has a document open in. Never any other file by URI.
    pub fn may_format(&self, path: &Path) -> bool {
        let rules = path.extension().is_some_and(|e| e == "rules");
        self.docs.contains_key(path) || (rules && self.folders.contains_key(&Self::folder_of(path)))
    }

    /// The folder's sample leads.
    pub fn samples(&mut self, folder: &Path) -> Arc<Samples> {
        let f = self.folders.entry(folder.to_path_buf()).or_default();
        Arc::clone(f.samples.get_or_insert_with(|| Arc::new(Samples::load(folder))))
    }

    /// The code lens text of a folder, if it was scored since the last save.
    pub fn lens(&self, folder: &Path) -> Option<Arc<String>> {
        self.folders.get(folder).and_then(|f| f.lens.clone())
    }

    /// The folder's save generation (see [`Workspace::saved`]).
    pub fn generation(&self, folder: &Path) -> u64 {
        self.folders.get(folder).map_or(0, |f| f.generation)
    }

    /// Keeps a lens scored for `generation`; `false` (and nothing kept) if the folder was
    /// saved since, which makes the lens stale.
    pub fn set_lens(&mut self, folder: &Path, generation: u64, text: Arc<String>) -> bool {
        let f = self.folders.entry(folder.to_path_buf()).or_default();
        let current = f.generation == generation;
        if current {
            f.lens = Some(text);
        }
        current
    }

    /// Records the files diagnostics were published for; returns those published before
    /// and not now (their diagnostics must be cleared).
    pub fn published(&mut self, folder: &Path, now: Vec<PathBuf>) -> Vec<PathBuf> {
        let f = self.folders.entry(folder.to_path_buf()).or_default();
        let before = std::mem::replace(&mut f.published, now);
        before.into_iter().filter(|p| !f.published.contains(p)).collect()
    }
}
