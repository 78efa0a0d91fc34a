//! Hot reload: a file watcher → a rebuild of the whole pack on the watcher's thread → an
//! atomic swap, only when the new pack checks cleanly.
//!
//! The scoring path never waits for a rebuild: [`LivePack::current`] is one `arc-swap` load,
//! and the caller scores a lead start to finish with the pack it got.

use std::ops::Deref;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use arc_swap::ArcSwap;
use notify::event::{AccessKind, AccessMode, ModifyKind};
use notify::{Event, EventKind, PollWatcher, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{new_debouncer_opt, DebounceEventResult, Debouncer, NoCache, RecommendedCache};
use serde::Serialize;

use crate::eval::PackId;
use crate::pack::Error;
use crate::pack::{Loader, Pack};

/// How long a change is held before the pack is rebuilt, by default: 50 ms.
///
/// Every file event waits this long, so the rest of an editor's save (write a temp file,
/// rename it over, delete the backup: microseconds to a few milliseconds) joins it in one
/// batch and the pack is rebuilt once, from the finished files. Short enough that the whole
/// path from the save to the new version being live stays well under the 200 ms target
/// (50 ms, up to a quarter of that for the debouncer's tick, plus the rebuild: about 63 ms).
pub const DEFAULT_DEBOUNCE: Duration = Duration::from_millis(50);

/// How a [`LivePack`] watches its folder.
///
/// ```
/// use std::time::Duration;
/// let options = leadscore::reload::WatchOptions::new()
///     .debounce(Duration::from_millis(100))
///     .poll(Duration::from_secs(1)); // for network filesystems
/// assert_eq!(options.poll_interval(), Some(Duration::from_secs(1)));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WatchOptions {
    debounce: Duration,
    poll: Option<Duration>,
    published: bool,
}

impl Default for WatchOptions {
    fn default() -> Self {
        WatchOptions {
            debounce: DEFAULT_DEBOUNCE,
            poll: None,
            published: false,
        }
    }
}

impl WatchOptions {
    /// File-system events, [`DEFAULT_DEBOUNCE`].
    pub fn new() -> WatchOptions {
        WatchOptions::default()
    }

    /// Holds each change this long before rebuilding, so the rest of a save joins it
    /// (at least 1 ms).
    pub fn debounce(mut self, hold: Duration) -> WatchOptions {
        self.debounce = hold.max(Duration::from_millis(1));
        self
    }

    /// Polls the folders every `interval` (comparing file contents) instead of using
    /// file-system events, which network filesystems often do not deliver.
    pub fn poll(mut self, interval: Duration) -> WatchOptions {
        self.poll = Some(interval.max(Duration::from_millis(1)));
        self
    }

    /// Takes a new version only when it is published whole: when the folder's identity
    /// changes (a symbolic link flipped to another folder, another folder renamed into its
    /// place) or when [`LivePack::reload`] asks. Edits of files inside the live folder wait
    /// for an explicit reload, so a save caught half-way never goes live. For a service;
    /// the authoring loop (`watch`, the REPL, the language server) follows every edit.
    ///
    /// ```
    /// let options = leadscore::reload::WatchOptions::new().published_only();
    /// assert!(options.is_published_only());
    /// ```
    pub fn published_only(mut self) -> WatchOptions {
        self.published = true;
        self
    }

    /// Whether only published versions are taken.
    pub fn is_published_only(&self) -> bool {
        self.published
    }

    /// The debounce time.
    pub fn debounce_time(&self) -> Duration {
        self.debounce
    }

    /// The polling interval, when polling.
    pub fn poll_interval(&self) -> Option<Duration> {
        self.poll
    }
}

/// What happened after a change on disk. Every rebuild ends in exactly one event.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum ReloadEvent {
    /// A new version checked cleanly and is now live.
    Reloaded {
        /// The pack now live (score with it to see what the edit changed).
        pack: Pack,
        /// The version it replaced.
        previous: PackId,
    },
    /// Files changed on disk but the pack they form is byte-for-byte the live one (a file
    /// touched, saved without edits, or reverted after a rejection); nothing was swapped.
    Unchanged {
        /// The version still live.
        live: PackId,
    },
    /// The files on disk do not form a valid pack; the last good version stays live.
    Rejected(Rejection),
    /// The watcher itself reported a problem (for example, too many watched files);
    /// changes may be missed until the next event.
    WatchError {
        /// The watcher's message.
        message: String,
    },
}

/// A rebuild that failed: why, and which version is still live.
///
/// ```
/// # let dir = tempfile::tempdir()?;
/// # std::fs::write(dir.path().join("a.rules"), "title ~ CEO => +5")?;
/// # let loader = leadscore::Loader::new();
/// # let pack = loader.load(dir.path())?;
/// # std::fs::write(dir.path().join("a.rules"), "title ~ CEO => +5 fitt")?;
/// # let error = loader.load(dir.path()).unwrap_err();
/// let rejection = leadscore::reload::Rejection::new(pack.id().clone(), &error);
/// assert_eq!(rejection.errors[0].message, "unknown dimension `fitt`");
/// // Typed too: the kind to match on.
/// use leadscore::check::CheckErrorKind;
/// assert!(matches!(
///     &rejection.errors[0].error,
///     Some(leadscore::PackError::Check(e)) if matches!(&e.kind, CheckErrorKind::UnknownDimension(d) if d == "fitt")
/// ));
/// assert!(rejection.rendered.contains("1 error found"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Debug, Serialize)]
pub struct Rejection {
    /// The version that stays live.
    pub live: PackId,
    /// Every error found, in source order.
    pub errors: Vec<Problem>,
    /// The errors rendered as text, as `leadscore check` shows them (no colours).
    #[serde(skip)]
    pub rendered: String,
}

/// One reason a rebuilt pack was rejected.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Problem {
    /// The file (`pack/main.rules`, or the path that could not be read), when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    /// 1-based line, for errors in a source file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// 1-based column, for errors in a source file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<usize>,
    /// What is wrong.
    pub message: String,
    /// A hint such as "did you mean `intent`?".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
    /// The error itself, typed (its kind to match on), for an error in the pack's text;
    /// `None` for a file that could not be read or was caught empty.
    #[serde(skip)]
    pub error: Option<crate::PackError>,
}

impl Rejection {
    /// Describes why loading failed while `live` stays live.
    pub fn new(live: PackId, error: &Error) -> Rejection {
        match error {
            Error::Pack(errors) => Rejection {
                live,
                errors: errors
                    .errors()
                    .iter()
                    .map(|e| {
                        let at = errors.location(e);
                        Problem {
                            file: Some(at.file),
                            line: Some(at.line),
                            column: Some(at.column),
                            message: e.to_string(),
                            help: e.help().map(str::to_string),
                            error: Some(e.clone()),
                        }
                    })
                    .collect(),
                rendered: errors.render(false),
            },
            other => Rejection {
                live,
                errors: vec![problem(other)],
                rendered: format!("error: {other}\n"),
            },
        }
    }

    /// A rule file read empty: most likely caught between an editor's truncate and write.
    fn empty_file(live: PackId, file: &str) -> Rejection {
        let message = format!(
            "{file} is empty; a save may be in progress (to remove its rules, delete the file or leave a comment in it)"
        );
        let rendered = format!("error: {message}\n");
        let problem = Problem {
            file: Some(file.to_string()),
            line: None,
            column: None,
            message,
            help: None,
            error: None,
        };
        Rejection {
            live,
            errors: vec![problem],
            rendered,
        }
    }
}

/// The first empty rule or plugin file of a rebuilt pack. While watching, an empty file is
/// taken for a save in progress (truncated, not yet written), never as a reason to drop
/// its rules or its plugin's functions.
fn empty_file(pack: &Pack) -> Option<String> {
    let rules = pack.sources().files().iter().find(|f| f.text.is_empty());
    rules.map(|f| f.name.clone()).or_else(|| {
        pack.plugin_texts()
            .find(|(_, text)| text.is_empty())
            .map(|(path, _)| path.display().to_string())
    })
}

/// A problem that is not in a source file: an unreadable file, an empty folder.
fn problem(error: &Error) -> Problem {
    let file = match error {
        Error::Io { path, .. } | Error::EmptyPack(path) | Error::Watch { path, .. } => Some(path.display().to_string()),
        Error::File(e) => Some(e.path.display().to_string()),
        _ => None,
    };
    Problem {
        file,
        line: None,
        column: None,
        message: error.to_string(),
        help: None,
        error: None,
    }
}

/// The live version at one moment: score a lead (or a batch) with it, start to finish.
///
/// Cheap to take (an `arc-swap` load, no lock, no reference-count contention) and meant to
/// be short-lived; clone the [`Pack`] inside (`Pack::clone(&snapshot)`) to keep it longer.
pub struct Snapshot(arc_swap::Guard<Arc<Pack>>);

impl Deref for Snapshot {
    type Target = Pack;
    fn deref(&self) -> &Pack {
        &self.0
    }
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("Snapshot").field(&**self).finish()
    }
}

/// A pack that follows its folder: edits that check go live, edits that do not are
/// reported and ignored. Share it between threads (`Arc<LivePack>`); dropping it stops
/// the watcher thread.
///
/// ```
/// use std::time::Duration;
/// use leadscore::{LivePack, Loader};
/// use leadscore::reload::{ReloadEvent, WatchOptions};
///
/// let dir = tempfile::tempdir()?;
/// let rules = dir.path().join("main.rules");
/// std::fs::write(&rules, "title ~ CEO => +5")?;
/// let (live, events) = LivePack::watch(dir.path(), Loader::new(), WatchOptions::new())?;
///
/// let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap();
/// let lead = serde_json::json!({"title": "CEO"});
/// assert_eq!(live.current().score(&lead, as_of)?.score, 5.0);
///
/// // An ops edit: write the new text beside the file, then rename it over (as editors do).
/// std::fs::write(dir.path().join("main.rules.tmp"), "title ~ CEO => +8")?;
/// std::fs::rename(dir.path().join("main.rules.tmp"), &rules)?;
/// loop {
///     match events.recv_timeout(Duration::from_secs(10))? {
///         ReloadEvent::Reloaded { .. } => break,
///         ReloadEvent::Rejected(r) => panic!("{}", r.rendered),
///         _ => {}
///     }
/// }
/// assert_eq!(live.current().score(&lead, as_of)?.score, 8.0);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct LivePack {
    live: Arc<ArcSwap<Pack>>,
    dir: PathBuf,
    tx: Sender<Message>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for LivePack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LivePack")
            .field("dir", &self.dir)
            .field("live", self.current().id())
            .finish()
    }
}

impl LivePack {
    /// Loads the pack in `dir` (an error if it does not load) and watches it; every
    /// rebuild's outcome arrives on the returned channel. Drop the receiver if you do not
    /// want events; a receiver kept but never read grows without bound.
    pub fn watch(
        dir: impl AsRef<Path>,
        loader: Loader,
        options: WatchOptions,
    ) -> Result<(LivePack, Receiver<ReloadEvent>), Error> {
        let (tx, rx) = mpsc::channel();
        let live = LivePack::watch_with(dir, loader, options, move |event| {
            let _ = tx.send(event);
        })?;
        Ok((live, rx))
    }

    /// Like [`LivePack::watch`], but calls `on_event` (on the watcher's thread) for every
    /// rebuild's outcome. The callback should return quickly: the next rebuild waits for it.
    pub fn watch_with(
        dir: impl AsRef<Path>,
        loader: Loader,
        options: WatchOptions,
        on_event: impl FnMut(ReloadEvent) + Send + 'static,
    ) -> Result<LivePack, Error> {
        let given = dir.as_ref();
        let dir = std::fs::canonicalize(given).map_err(|source| Error::Io {
            path: given.to_path_buf(),
            source,
        })?;
        let (tx, rx) = mpsc::channel();
        // Watch first, then load: an edit made during the first load is not missed.
        let backend = Backend::new(&dir, &options, tx.clone())?;
        let mut watcher = Watcher::new(dir.clone(), loader, backend, rx, Box::new(on_event));
        watcher.link = link_of(given);
        if options.published {
            watcher.published = Some(identity(watcher.link.as_deref().unwrap_or(&dir)));
        }
        watcher.watch_all()?;
        watcher.watch_targets();
        let pack = watcher.loader.load(&dir)?;
        let live = Arc::new(ArcSwap::from_pointee(pack));
        watcher.live = Some(Arc::clone(&live));
        let thread = std::thread::Builder::new()
            .name("leadscore-reload".into())
            .spawn(move || watcher.run())
            .map_err(|e| Error::Watch {
                path: dir.clone(),
                message: e.to_string(),
            })?;
        Ok(LivePack {
            live,
            dir: given.to_path_buf(),
            tx,
            thread: Some(thread),
        })
    }

    /// The live version now; cheap enough to call for every lead.
    pub fn current(&self) -> Snapshot {
        Snapshot(self.live.load())
    }

    /// Rebuilds the pack from the folder now (what the folder's link points to, the files
    /// as they are) and swaps it in if it checks: the explicit reload of a pack watched
    /// with [`WatchOptions::published_only`] (`POST /v1/pack/reload`, `SIGHUP`). The
    /// outcome also goes to the watch callback. An error if no answer came `within`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use leadscore::reload::{ReloadEvent, WatchOptions};
    /// let dir = tempfile::tempdir()?;
    /// std::fs::write(dir.path().join("main.rules"), "title ~ CEO => +5")?;
    /// let options = WatchOptions::new().published_only();
    /// let live = leadscore::LivePack::watch_with(dir.path(), leadscore::Loader::new(), options, |_| {})?;
    /// std::fs::write(dir.path().join("main.rules"), "title ~ CEO => +8")?;
    /// let event = live.reload(Duration::from_secs(10))?;
    /// assert!(matches!(event, ReloadEvent::Reloaded { .. }));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn reload(&self, within: Duration) -> Result<ReloadEvent, Error> {
        let (reply, answer) = mpsc::channel();
        let failed = |message: &str| Error::Watch {
            path: self.dir.clone(),
            message: message.to_string(),
        };
        self.tx
            .send(Message::Reload(reply))
            .map_err(|_| failed("the reload thread has stopped"))?;
        answer
            .recv_timeout(within)
            .map_err(|_| failed("no answer from the reload thread in time"))
    }

    /// The watched folder, as it was given: a symbolic link stays the link (the pack loads
    /// from its target, which a deploy may flip to another), so this stays true after a flip.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for LivePack {
    fn drop(&mut self) {
        let _ = self.tx.send(Message::Stop);
        if let Some(thread) = self.thread.take() {
            // Dropped from inside an event callback: the thread ends when the callback returns.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

/// What the watcher thread receives.
enum Message {
    Files(DebounceEventResult),
    /// An explicit reload; the outcome goes back on the sender.
    Reload(Sender<ReloadEvent>),
    Stop,
}

/// The debounced watcher: native file-system events, or polling.
enum Backend {
    Native(Debouncer<RecommendedWatcher, RecommendedCache>),
    Poll(Debouncer<PollWatcher, NoCache>),
}

impl Backend {
    fn new(dir: &Path, options: &WatchOptions, tx: Sender<Message>) -> Result<Backend, Error> {
        let handler = move |result| {
            let _ = tx.send(Message::Files(result));
        };
        let failed = |e: notify::Error| Error::Watch {
            path: dir.to_path_buf(),
            message: e.to_string(),
        };
        Ok(match options.poll {
            None => Backend::Native(
                new_debouncer_opt(
                    options.debounce,
                    None,
                    handler,
                    RecommendedCache::new(),
                    notify::Config::default(),
                )
                .map_err(failed)?,
            ),
            Some(interval) => {
                let config = notify::Config::default()
                    .with_poll_interval(interval)
                    .with_compare_contents(true);
                Backend::Poll(new_debouncer_opt(options.debounce, None, handler, NoCache, config).map_err(failed)?)
            }
        })
    }

    fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        match self {
            Backend::Native(d) => d.watch(path, mode),
            Backend::Poll(d) => d.watch(path, mode),
        }
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        match self {
            Backend::Native(d) => d.unwatch(path),
            Backend::Poll(d) => d.unwatch(path),
        }
    }

    /// Stops the debouncer and waits for its thread.
    fn stop(self) {
        match self {
            Backend::Native(d) => d.stop(),
            Backend::Poll(d) => d.stop(),
        }
    }
}

/// The watcher thread's state.
struct Watcher {
    /// The pack folder (canonical): where the pack loads from.
    dir: PathBuf,
    /// The folder as given, when that is a symbolic link (`current -> v1`), its parent
    /// canonical: a flip of the link (`current -> v2`) moves `dir` to the new target.
    link: Option<PathBuf>,
    /// The targets (canonical) of rule files that are symbolic links to files elsewhere,
    /// whose folders are watched too: an edit there is an edit of the pack.
    targets: Vec<PathBuf>,
    /// Plugin search-path folders that exist (canonical), outside the pack folder.
    plugin_dirs: Vec<PathBuf>,
    /// Search-path folders that did not exist yet (absolute), each with the nearest
    /// existing folder above it, which is watched to see it appear.
    awaited: Vec<(PathBuf, Option<PathBuf>)>,
    loader: Loader,
    live: Option<Arc<ArcSwap<Pack>>>,
    backend: Option<Backend>,
    rx: Receiver<Message>,
    on_event: Box<dyn FnMut(ReloadEvent) + Send>,
    /// Only published versions are taken: the identity of the folder last loaded.
    published: Option<Identity>,
    /// Explicit reloads waiting for the next rebuild's outcome.
    waiting: Vec<Sender<ReloadEvent>>,
}

/// What a published pack folder is: where its path leads and the folder found there.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Identity {
    target: Option<PathBuf>,
    inode: Option<(u64, u64)>,
}

/// The identity of the folder at `path` (followed through links) now.
fn identity(path: &Path) -> Identity {
    let target = std::fs::canonicalize(path).ok();
    let meta = target.as_deref().and_then(|t| std::fs::metadata(t).ok());
    #[cfg(unix)]
    let inode = meta.map(|m| {
        use std::os::unix::fs::MetadataExt;
        (m.dev(), m.ino())
    });
    #[cfg(not(unix))]
    let inode = meta
        .and_then(|m| m.created().ok())
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| (0, d.as_nanos() as u64));
    Identity { target, inode }
}

/// The thread was asked to stop.
struct Stopped;

impl Watcher {
    fn new(
        dir: PathBuf,
        loader: Loader,
        backend: Backend,
        rx: Receiver<Message>,
        on_event: Box<dyn FnMut(ReloadEvent) + Send>,
    ) -> Watcher {
        let (mut plugin_dirs, mut awaited) = (Vec::new(), Vec::new());
        for folder in &loader.plugin_path {
            match std::fs::canonicalize(folder) {
                Ok(found) if !found.starts_with(&dir) => plugin_dirs.push(found),
                Ok(_) => {}
                Err(_) => awaited.extend(std::path::absolute(folder).ok().map(|f| (f, None))),
            }
        }
        // A missing folder inside one that is watched whole is seen appearing already.
        let covered = |f: &Path| f.starts_with(&dir) || plugin_dirs.iter().any(|d: &PathBuf| f.starts_with(d));
        awaited.retain(|(folder, _): &(PathBuf, Option<PathBuf>)| !covered(folder));
        Watcher {
            dir,
            link: None,
            targets: Vec::new(),
            plugin_dirs,
            awaited,
            loader,
            live: None,
            backend: Some(backend),
            rx,
            on_event,
            published: None,
            waiting: Vec::new(),
        }
    }

    /// Watches the pack folder (recursively: its `plugins/` too), its parent (to see the
    /// folder itself replaced) and the plugin search path.
    fn watch_all(&mut self) -> Result<(), Error> {
        let Some(backend) = self.backend.as_mut() else {
            return Ok(());
        };
        let failed = |path: &Path, e: notify::Error| Error::Watch {
            path: path.to_path_buf(),
            message: e.to_string(),
        };
        backend
            .watch(&self.dir, RecursiveMode::Recursive)
            .map_err(|e| failed(&self.dir, e))?;
        if let Some(parent) = self.dir.parent() {
            backend
                .watch(parent, RecursiveMode::NonRecursive)
                .map_err(|e| failed(parent, e))?;
        }
        if let Some(parent) = self.link.as_deref().and_then(Path::parent) {
            backend
                .watch(parent, RecursiveMode::NonRecursive)
                .map_err(|e| failed(parent, e))?;
        }
        for dir in &self.plugin_dirs {
            backend
                .watch(dir, RecursiveMode::Recursive)
                .map_err(|e| failed(dir, e))?;
        }
        self.await_plugin_dirs();
        Ok(())
    }

    /// Watches each awaited search-path folder that has appeared (`true` if one did: its
    /// plugins may be what the pack was missing), and for the others the nearest folder
    /// above them that exists. Folders watched above are never unwatched: one may be the
    /// pack folder's parent, watched for the folder being replaced, and their other
    /// events are not about rule or plugin files.
    fn await_plugin_dirs(&mut self) -> bool {
        let Some(backend) = self.backend.as_mut() else {
            return false;
        };
        let mut appeared = false;
        let mut waiting = Vec::new();
        for (folder, watched) in std::mem::take(&mut self.awaited) {
            if let Ok(found) = std::fs::canonicalize(&folder) {
                if let Err(e) = backend.watch(&found, RecursiveMode::Recursive) {
                    (self.on_event)(ReloadEvent::WatchError {
                        message: format!("cannot watch {}: {e}", found.display()),
                    });
                }
                self.plugin_dirs.push(found);
                appeared = true;
                continue;
            }
            let above = folder.ancestors().skip(1).find(|a| a.is_dir()).map(Path::to_path_buf);
            if above != watched {
                if let Some(new) = &above {
                    let _ = backend.watch(new, RecursiveMode::NonRecursive);
                }
            }
            waiting.push((folder, above));
        }
        self.awaited = waiting;
        appeared
    }

    /// Waits for changes and rebuilds until told to stop.
    fn run(mut self) {
        loop {
            let changed = match self.rx.recv() {
                Ok(Message::Files(result)) => self.relevant(result),
                Ok(Message::Reload(reply)) => {
                    self.waiting.push(reply);
                    true
                }
                Ok(Message::Stop) | Err(_) => break,
            };
            if self.handle(changed).is_err() {
                break;
            }
        }
        if let Some(backend) = self.backend.take() {
            backend.stop();
        }
    }

    /// Handles one message (`changed`: it called for a rebuild), and any queued behind
    /// it, with one rebuild.
    fn handle(&mut self, mut changed: bool) -> Result<(), Stopped> {
        loop {
            changed |= self.drain()?;
            if !changed {
                return Ok(());
            }
            self.follow_link();
            let built = self.loader.load(&self.dir);
            self.watch_targets();
            // A change that arrived during the build (the second half of a save) makes
            // this build stale: rebuild rather than publish a half-saved pack.
            changed = self.drain()?;
            if !changed {
                self.publish(built);
                return Ok(());
            }
        }
    }

    /// Takes every queued batch: whether any touched the pack.
    fn drain(&mut self) -> Result<bool, Stopped> {
        let mut changed = false;
        loop {
            match self.rx.try_recv() {
                Ok(Message::Files(result)) => changed |= self.relevant(result),
                Ok(Message::Reload(reply)) => {
                    self.waiting.push(reply);
                    changed = true;
                }
                Ok(Message::Stop) | Err(TryRecvError::Disconnected) => return Err(Stopped),
                Err(TryRecvError::Empty) => return Ok(changed),
            }
        }
    }

    /// Whether a batch touched the pack; re-watches the folder if it was replaced.
    fn relevant(&mut self, result: DebounceEventResult) -> bool {
        let events = match result {
            Ok(events) => events,
            Err(errors) => {
                for e in errors {
                    (self.on_event)(ReloadEvent::WatchError { message: e.to_string() });
                }
                return true;
            }
        };
        let mut changed = self.follow_link();
        for event in &events {
            if replaces(event) && event.paths.iter().any(|p| p == &self.dir) {
                self.rewatch();
                changed = true;
            }
            changed |= self.is_relevant(event);
        }
        if !self.awaited.is_empty() {
            changed |= self.await_plugin_dirs();
        }
        match self.published.is_some() {
            true => self.republished(),
            false => changed,
        }
    }

    /// Whether the folder's identity moved since it was last loaded: a new version was
    /// published. While the path leads nowhere (between the two renames of a swap), the
    /// live version stays and nothing is rebuilt.
    fn republished(&mut self) -> bool {
        let now = identity(self.link.as_deref().unwrap_or(&self.dir));
        if now.inode.is_none() || self.published.as_ref() == Some(&now) {
            return false;
        }
        self.published = Some(now);
        true
    }

    /// Whether an event may change what the pack loads. Reads are not changes: the
    /// rebuild's own reads must not trigger another rebuild.
    fn is_relevant(&self, event: &Event) -> bool {
        if event.need_rescan() {
            return true;
        }
        match event.kind {
            EventKind::Access(AccessKind::Close(AccessMode::Write)) => {}
            EventKind::Access(_) => return false,
            _ => {}
        }
        event.paths.iter().any(|p| self.is_source(p))
    }

    /// A rule file or plugin in a watched folder, not an editor's swap, backup or lock file.
    fn is_source(&self, path: &Path) -> bool {
        if self.targets.iter().any(|t| t == path) {
            return true;
        }
        let in_pack = path.starts_with(&self.dir);
        if !in_pack && !self.plugin_dirs.iter().any(|d| path.starts_with(d)) {
            return false;
        }
        if in_pack && path == self.dir.join("plugins") {
            return true;
        }
        is_source_name(path)
    }

    /// When the pack folder was given as a link that now points elsewhere, watches the new
    /// target instead of the old: `true` if it moved (the pack is rebuilt from there).
    fn follow_link(&mut self) -> bool {
        let Some(link) = &self.link else {
            return false;
        };
        let Ok(target) = std::fs::canonicalize(link) else {
            return false;
        };
        if target == self.dir {
            return false;
        }
        if let Some(backend) = self.backend.as_mut() {
            let _ = backend.unwatch(&self.dir);
            if let Err(e) = backend.watch(&target, RecursiveMode::Recursive) {
                (self.on_event)(ReloadEvent::WatchError {
                    message: format!("cannot watch {}: {e}", target.display()),
                });
            }
            if let Some(parent) = target.parent() {
                let _ = backend.watch(parent, RecursiveMode::NonRecursive);
            }
        }
        self.dir = target;
        true
    }

    /// Finds the rule files that link to files outside the pack folder and watches the
    /// folders they are in (their own events name the target, not the link).
    fn watch_targets(&mut self) {
        let targets: Vec<PathBuf> = crate::pack::rule_files(&self.dir)
            .unwrap_or_default()
            .iter()
            .filter(|f| f.symlink_metadata().is_ok_and(|m| m.file_type().is_symlink()))
            .filter_map(|f| std::fs::canonicalize(f).ok())
            .filter(|t| !t.starts_with(&self.dir))
            .collect();
        if let Some(backend) = self.backend.as_mut() {
            for target in &targets {
                let watched = self.targets.iter().any(|t| t.parent() == target.parent());
                if let (false, Some(parent)) = (watched, target.parent()) {
                    let _ = backend.watch(parent, RecursiveMode::NonRecursive);
                }
            }
        }
        self.targets = targets;
    }

    /// Watches the pack folder again after it was replaced (moved away, deleted, recreated).
    fn rewatch(&mut self) {
        let Some(backend) = self.backend.as_mut() else {
            return;
        };
        let _ = backend.unwatch(&self.dir);
        if let Err(e) = backend.watch(&self.dir, RecursiveMode::Recursive) {
            // Gone for now; its parent is watched, so its return is seen.
            if self.dir.exists() {
                (self.on_event)(ReloadEvent::WatchError {
                    message: format!("cannot watch {}: {e}", self.dir.display()),
                });
            }
        }
    }

    /// Swaps in a pack that loaded (unless it is the live one) and says what happened, to
    /// the callback and to the explicit reloads waiting for it.
    fn publish(&mut self, built: Result<Pack, Error>) {
        if self.published.is_some() {
            // The folder loaded now is the one an explicit reload read.
            self.published = Some(identity(self.link.as_deref().unwrap_or(&self.dir)));
        }
        let Some(live) = self.live.as_ref() else {
            return;
        };
        let current = live.load_full();
        let event = match built {
            Ok(pack) if same_pack(&current, &pack) => ReloadEvent::Unchanged {
                live: current.id().clone(),
            },
            Ok(pack) if empty_file(&pack).is_some() => {
                let file = empty_file(&pack).unwrap_or_default();
                ReloadEvent::Rejected(Rejection::empty_file(current.id().clone(), &file))
            }
            Ok(pack) => {
                live.store(Arc::new(pack.clone()));
                ReloadEvent::Reloaded {
                    pack,
                    previous: current.id().clone(),
                }
            }
            Err(error) => ReloadEvent::Rejected(Rejection::new(current.id().clone(), &error)),
        };
        // The callback first: whoever asked for the reload then finds what it recorded
        // (the service's last rejection, shown by the console after `POST .../reload`).
        (self.on_event)(event.clone());
        for reply in self.waiting.drain(..) {
            let _ = reply.send(event.clone());
        }
    }
}

/// `given` as an absolute path in a canonical folder, when it is a symbolic link.
fn link_of(given: &Path) -> Option<PathBuf> {
    if !given.symlink_metadata().ok()?.file_type().is_symlink() {
        return None;
    }
    let absolute = std::path::absolute(given).ok()?;
    let parent = std::fs::canonicalize(absolute.parent()?).ok()?;
    Some(parent.join(absolute.file_name()?))
}

/// An entry created, removed or renamed (for the pack folder itself: replaced).
fn replaces(event: &Event) -> bool {
    matches!(
        event.kind,
        EventKind::Create(_) | EventKind::Remove(_) | EventKind::Modify(ModifyKind::Name(_))
    )
}

/// A `*.rules` or `*.rhai` file name, not an editor's lock file (`.#main.rules`); swap and
/// backup files (`.main.rules.swp`, `main.rules~`, vim's `4913`) never end in those.
fn is_source_name(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    !name.starts_with(".#") && (name.ends_with(".rules") || name.ends_with(".rhai"))
}

/// Same version and byte-identical rule files (the version also covers plugin sources).
fn same_pack(a: &Pack, b: &Pack) -> bool {
    let (fa, fb) = (a.sources().files(), b.sources().files());
    a.id() == b.id() && fa.len() == fb.len() && fa.iter().zip(fb).all(|(x, y)| x.name == y.name && x.text == y.text)
}

#[cfg(test)]
mod tests {
    use super::is_source_name;
    use std::path::Path;

    #[test]
    fn editor_files_are_not_sources() {
        for name in ["main.rules", "x.rhai", ".hidden.rules"] {
            assert!(is_source_name(Path::new(name)), "{name}");
        }
        for name in [
            ".main.rules.swp",
            "main.rules~",
            "4913",
            ".#main.rules",
            "#main.rules#",
            "main.rules.tmp",
            "notes.md",
        ] {
            assert!(!is_source_name(Path::new(name)), "{name}");
        }
    }
}
