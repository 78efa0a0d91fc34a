//! Hot reload: real files in a temporary folder, changed the ways editors change them; every
//! test waits on the event channel (with a generous timeout), never on a fixed sleep.

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

use leadscore::reload::{Rejection, ReloadEvent, WatchOptions};
use leadscore::{Error, LivePack, Loader, Pack};
use serde_json::{json, Value};

/// Long enough for a loaded CI machine; tests only wait this long when something is broken.
const TIMEOUT: Duration = Duration::from_secs(10);

/// A pack folder `pack/` (so diagnostics say `pack/main.rules`) in a temporary folder.
struct Fixture {
    root: tempfile::TempDir,
}

impl Fixture {
    fn new(files: &[(&str, &str)]) -> Fixture {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("pack")).unwrap();
        let fixture = Fixture { root };
        for (name, text) in files {
            fixture.write(name, text);
        }
        fixture
    }

    fn pack(&self) -> PathBuf {
        self.root.path().join("pack")
    }

    fn path(&self, name: &str) -> PathBuf {
        self.pack().join(name)
    }

    /// Writes in place, as `echo > file` or a simple editor does.
    fn write(&self, name: &str, text: &str) {
        let path = self.path(name);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).unwrap();
        }
        std::fs::write(path, text).unwrap();
    }

    /// Writes a temporary file beside the target and renames it over, as vim, `sed -i`
    /// and most IDEs save.
    fn rename_over(&self, name: &str, text: &str) {
        let temp = self.path(&format!("{name}.sedX4tq2"));
        std::fs::write(&temp, text).unwrap();
        std::fs::rename(temp, self.path(name)).unwrap();
    }

    /// A plugin search-path folder beside the pack.
    fn search_path(&self) -> PathBuf {
        let dir = self.root.path().join("shared-plugins");
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn loader(&self) -> Loader {
        Loader::new().plugin_path([self.search_path()])
    }

    fn watch(&self) -> (LivePack, Receiver<ReloadEvent>) {
        self.watch_with(WatchOptions::new())
    }

    fn watch_with(&self, options: WatchOptions) -> (LivePack, Receiver<ReloadEvent>) {
        LivePack::watch(self.pack(), self.loader(), options).unwrap()
    }
}

fn as_of() -> chrono::DateTime<chrono::Utc> {
    leadscore::parse_time("2026-03-01T00:00:00Z").unwrap()
}

fn ceo() -> Value {
    json!({"id": "L-1", "title": "CEO"})
}

fn score(pack: &Pack) -> f64 {
    pack.score(&ceo(), as_of()).unwrap().score
}

/// The next event that is not `Unchanged` (a redundant rebuild of the live files is
/// harmless, and whether one happens depends on how the kernel batches events).
fn next(events: &Receiver<ReloadEvent>) -> ReloadEvent {
    loop {
        match events.recv_timeout(TIMEOUT) {
            Ok(ReloadEvent::Unchanged { .. }) => continue,
            Ok(event) => return event,
            Err(e) => panic!("no reload event within {TIMEOUT:?}: {e}"),
        }
    }
}

/// The next reload. A rejection of an empty file is skipped: it is the designed answer to
/// a rebuild that caught an in-place write between its truncate and its write.
fn reloaded(events: &Receiver<ReloadEvent>) -> Pack {
    loop {
        match next(events) {
            ReloadEvent::Reloaded { pack, .. } => return pack,
            ReloadEvent::Rejected(r) if r.errors[0].message.contains(" is empty; ") => continue,
            other => panic!("expected a reload, got {}", describe(&other)),
        }
    }
}

fn rejected(events: &Receiver<ReloadEvent>) -> Rejection {
    match next(events) {
        ReloadEvent::Rejected(rejection) => rejection,
        other => panic!("expected a rejection, got {}", describe(&other)),
    }
}

fn describe(event: &ReloadEvent) -> String {
    match event {
        ReloadEvent::Reloaded { pack, .. } => format!("reloaded {}", pack.id()),
        ReloadEvent::Unchanged { live } => format!("unchanged {live}"),
        ReloadEvent::Rejected(r) => format!("rejected:\n{}", r.rendered),
        ReloadEvent::WatchError { message } => format!("watch error: {message}"),
        _ => "an unknown event".into(),
    }
}

#[test]
fn in_place_edit_goes_live_and_old_snapshots_keep_their_version() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    let before = live.current();
    let old = before.id().clone();
    f.write("main.rules", "title ~ CEO => +7");
    let pack = reloaded(&events);
    assert_ne!(pack.id(), &old);
    assert_eq!(score(&pack), 7.0);
    assert_eq!(live.current().id(), pack.id());
    assert_eq!(score(&live.current()), 7.0);
    // A lead scored with the snapshot taken before the edit is scored by the old version.
    assert_eq!(score(&before), 5.0);
    assert_eq!(before.score(&ceo(), as_of()).unwrap().pack(), &old);
}

#[test]
fn rename_over_edit_goes_live() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    f.rename_over("main.rules", "title ~ CEO => +11");
    assert_eq!(score(&reloaded(&events)), 11.0);
    assert_eq!(score(&live.current()), 11.0);
}

#[test]
fn added_rules_file_goes_live() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    f.write("extra.rules", "rule \"Chief\": title ~ CEO => +3");
    let pack = reloaded(&events);
    assert_eq!(pack.sources().files().len(), 2);
    assert_eq!(score(&live.current()), 8.0);
}

#[test]
fn removed_rules_file_goes_live() {
    let f = Fixture::new(&[
        ("main.rules", "title ~ CEO => +5"),
        ("extra.rules", "rule \"Chief\": title ~ CEO => +3"),
    ]);
    let (live, events) = f.watch();
    assert_eq!(score(&live.current()), 8.0);
    std::fs::remove_file(f.path("extra.rules")).unwrap();
    assert_eq!(score(&reloaded(&events)), 5.0);
    assert_eq!(live.current().sources().files().len(), 1);
}

#[test]
fn pack_plugin_edit_goes_live() {
    let f = Fixture::new(&[
        ("plugins/tiers.rhai", r#"fn enrich(lead) { #{ "tier": "a" } }"#),
        ("main.rules", "plugin \"tiers\"\ntier == \"a\" => +5"),
    ]);
    let (live, events) = f.watch();
    assert_eq!(score(&live.current()), 5.0);
    f.write("plugins/tiers.rhai", r#"fn enrich(lead) { #{ "tier": "b" } }"#);
    assert_eq!(score(&reloaded(&events)), 0.0);
    assert_eq!(score(&live.current()), 0.0);
}

#[test]
fn search_path_plugin_edit_goes_live() {
    let f = Fixture::new(&[("main.rules", "plugin \"tiers\"\ntier == \"a\" => +5")]);
    let plugin = f.search_path().join("tiers.rhai");
    std::fs::write(&plugin, r#"fn enrich(lead) { #{ "tier": "a" } }"#).unwrap();
    let (live, events) = f.watch();
    assert_eq!(score(&live.current()), 5.0);
    std::fs::write(&plugin, r#"fn enrich(lead) { #{ "tier": "b" } }"#).unwrap();
    assert_eq!(score(&reloaded(&events)), 0.0);
    assert_eq!(score(&live.current()), 0.0);
}

/// A search-path folder that does not exist when watching starts is watched once it
/// appears: a pack edit that named a plugin from it was rejected, and goes live when the
/// folder arrives, without touching the pack again.
#[test]
fn a_search_path_folder_that_appears_later_is_watched() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let later = f.root.path().join("later-plugins");
    let loader = Loader::new().plugin_path([&later]);
    let (live, events) = LivePack::watch(f.pack(), loader, WatchOptions::new()).unwrap();
    f.rename_over("main.rules", "plugin \"tiers\"\ntier == \"a\" => +7");
    let rejection = rejected(&events);
    assert!(
        rejection.errors[0].message.contains("tiers"),
        "{}",
        rejection.errors[0].message
    );
    assert_eq!(score(&live.current()), 5.0);
    // The folder arrives whole (written aside, then renamed into place).
    let staging = f.root.path().join("staging");
    std::fs::create_dir(&staging).unwrap();
    std::fs::write(staging.join("tiers.rhai"), r#"fn enrich(lead) { #{ "tier": "a" } }"#).unwrap();
    std::fs::rename(&staging, &later).unwrap();
    assert_eq!(score(&reloaded(&events)), 7.0);
    // And it is watched from then on.
    std::fs::write(later.join("tiers.rhai"), r#"fn enrich(lead) { #{ "tier": "b" } }"#).unwrap();
    assert_eq!(score(&reloaded(&events)), 0.0);
}

/// The next event, `Unchanged` included.
fn any_event(events: &Receiver<ReloadEvent>) -> ReloadEvent {
    events
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|e| panic!("no reload event within {TIMEOUT:?}: {e}"))
}

#[test]
fn plugin_files_in_the_pack_and_on_the_search_path_are_watched() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    let old = live.current().id().clone();
    // The pack names no plugin, so the rebuild is the live pack: `Unchanged`, but a rebuild.
    f.write("plugins/unused.rhai", "fn f(x) { x }");
    assert!(matches!(any_event(&events), ReloadEvent::Unchanged { live } if live == old));
    std::fs::write(f.search_path().join("shared.rhai"), "fn g(x) { x }").unwrap();
    assert!(matches!(any_event(&events), ReloadEvent::Unchanged { live } if live == old));
}

#[test]
fn syntax_error_is_rejected_and_the_old_version_keeps_scoring() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    let old = live.current().id().clone();
    f.write("main.rules", "title ~ CEO => +5\ntitle ~ => +3\n");
    let rejection = rejected(&events);
    assert_eq!(rejection.live, old);
    assert_eq!(rejection.errors.len(), 1);
    assert_eq!(rejection.errors[0].file.as_deref(), Some("pack/main.rules"));
    assert_eq!(rejection.errors[0].line, Some(2));
    insta::assert_snapshot!(rejection.rendered);
    assert_eq!(live.current().id(), &old);
    assert_eq!(score(&live.current()), 5.0);
}

#[test]
fn check_error_is_rejected_and_the_old_version_keeps_scoring() {
    let f = Fixture::new(&[("main.rules", "cap fit at 10\ntitle ~ CEO => +5 fit")]);
    let (live, events) = f.watch();
    let old = live.current().id().clone();
    f.rename_over("main.rules", "cap fit at 10\ntitle ~ CEO => +5 fitt");
    let rejection = rejected(&events);
    assert_eq!(rejection.live, old);
    let error = &rejection.errors[0];
    assert_eq!(
        (error.message.as_str(), error.help.as_deref()),
        ("unknown dimension `fitt`", Some("did you mean `fit`?"))
    );
    assert_eq!((error.line, error.column), (Some(2), Some(19)));
    insta::assert_snapshot!(rejection.rendered);
    assert_eq!(live.current().id(), &old);
    assert_eq!(score(&live.current()), 5.0);
}

#[test]
fn a_fix_after_a_rejection_goes_live() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    f.write("main.rules", "title ~ CEO => ");
    rejected(&events);
    f.write("main.rules", "title ~ CEO => +9");
    let pack = reloaded(&events);
    assert_eq!(score(&pack), 9.0);
    assert_eq!(live.current().id(), pack.id());
}

#[test]
fn reverting_a_rejected_edit_reports_the_live_version_unchanged() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    let old = live.current().id().clone();
    f.write("main.rules", "title ~ CEO => +");
    rejected(&events);
    f.write("main.rules", "title ~ CEO => +5");
    match events.recv_timeout(TIMEOUT).unwrap() {
        ReloadEvent::Unchanged { live } => assert_eq!(live, old),
        other => panic!("expected unchanged, got {}", describe(&other)),
    }
}

#[test]
fn an_empty_rule_file_is_taken_for_a_save_in_progress() {
    let f = Fixture::new(&[
        ("main.rules", "title ~ CEO => +5"),
        ("extra.rules", "rule \"Chief\": title ~ CEO => +3"),
    ]);
    let (live, events) = f.watch();
    f.write("extra.rules", "");
    let rejection = rejected(&events);
    insta::assert_snapshot!(rejection.rendered, @"error: pack/extra.rules is empty; a save may be in progress (to remove its rules, delete the file or leave a comment in it)");
    assert_eq!(score(&live.current()), 8.0);
    f.write("extra.rules", "# nothing here for now\n");
    assert_eq!(score(&reloaded(&events)), 5.0);
}

#[test]
fn an_emptied_folder_is_rejected_and_the_next_good_state_goes_live() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    std::fs::remove_file(f.path("main.rules")).unwrap();
    let rejection = rejected(&events);
    assert!(
        rejection.errors[0].message.ends_with("holds no *.rules files"),
        "{}",
        rejection.rendered
    );
    assert_eq!(score(&live.current()), 5.0);
    f.write("other.rules", "title ~ CEO => +4");
    assert_eq!(score(&reloaded(&events)), 4.0);
}

#[test]
fn editor_swap_backup_and_lock_files_are_ignored() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    for name in [".main.rules.swp", "main.rules~", "4913", "#main.rules#", "notes.md"] {
        f.write(name, "this is not a rule");
    }
    // Emacs's lock file: a symbolic link to nowhere.
    #[cfg(unix)]
    std::os::unix::fs::symlink("user@host.1234:1700000000", f.path(".#main.rules")).unwrap();
    std::fs::remove_file(f.path("4913")).unwrap();
    // Nothing to rebuild: no event at all. (This wait can only let a bug through on a very
    // slow machine, never fail a correct build.)
    match events.recv_timeout(Duration::from_secs(1)) {
        Err(RecvTimeoutError::Timeout) => {}
        Ok(event) => panic!("an editor file caused {}", describe(&event)),
        Err(e) => panic!("{e}"),
    }
    f.write("main.rules", "title ~ CEO => +6");
    assert_eq!(score(&reloaded(&events)), 6.0);
    assert_eq!(score(&live.current()), 6.0);
}

#[test]
fn polling_mode_picks_up_edits() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let options = WatchOptions::new()
        .poll(Duration::from_millis(50))
        .debounce(Duration::from_millis(20));
    let (live, events) = f.watch_with(options);
    f.rename_over("main.rules", "title ~ CEO => +12");
    assert_eq!(score(&reloaded(&events)), 12.0);
    f.write("main.rules", "title ~ CEO => +");
    rejected(&events);
    assert_eq!(score(&live.current()), 12.0);
}

#[test]
fn a_replaced_pack_folder_is_followed() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (live, events) = f.watch();
    let fresh = f.root.path().join("pack.new");
    std::fs::create_dir(&fresh).unwrap();
    std::fs::write(fresh.join("main.rules"), "title ~ CEO => +21").unwrap();
    std::fs::rename(f.pack(), f.root.path().join("pack.old")).unwrap();
    std::fs::rename(&fresh, f.pack()).unwrap();
    // The folder may be seen missing for a moment (a rejection); the new one goes live.
    let pack = loop {
        match next(&events) {
            ReloadEvent::Reloaded { pack, .. } => break pack,
            ReloadEvent::Rejected(_) => continue,
            other => panic!("{}", describe(&other)),
        }
    };
    assert_eq!(score(&pack), 21.0);
    // The new folder is watched, not only noticed.
    f.write("main.rules", "title ~ CEO => +22");
    assert_eq!(score(&reloaded(&events)), 22.0);
    assert_eq!(score(&live.current()), 22.0);
}

#[test]
fn a_pack_that_does_not_load_at_start_is_an_error() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +")]);
    match LivePack::watch(f.pack(), f.loader(), WatchOptions::new()) {
        Err(Error::Pack(errors)) => assert_eq!(errors.errors().len(), 1),
        other => panic!("expected pack errors, got {other:?}"),
    }
    let missing = f.root.path().join("missing");
    assert!(matches!(
        LivePack::watch(missing, f.loader(), WatchOptions::new()),
        Err(Error::Io { .. })
    ));
}

#[test]
fn dropping_the_handle_stops_the_watcher_thread() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5")]);
    let (tx, events) = mpsc::channel();
    let live = LivePack::watch_with(f.pack(), f.loader(), WatchOptions::new(), move |event| {
        let _ = tx.send(event);
    })
    .unwrap();
    f.write("main.rules", "title ~ CEO => +6");
    assert_eq!(score(&reloaded(&events)), 6.0);
    drop(live);
    // The thread has ended and dropped the callback (and its sender) before `drop` returned.
    assert_eq!(events.try_recv().err(), Some(mpsc::TryRecvError::Disconnected));
    f.write("main.rules", "title ~ CEO => +7");
    assert_eq!(events.recv_timeout(TIMEOUT).err(), Some(RecvTimeoutError::Disconnected));
}

#[test]
fn concurrent_scoring_during_hundreds_of_reloads_only_sees_valid_versions() {
    const SCORERS: usize = 4;
    const ROUNDS: u32 = 150; // a good and a broken edit each: 300 reloads
    let f = Fixture::new(&[("main.rules", "rule \"v\": title ~ CEO => +1000")]);
    let (live, events) = f.watch_with(WatchOptions::new().debounce(Duration::from_millis(10)));
    let mut valid: HashMap<String, f64> = HashMap::new();
    valid.insert(live.current().id().version.to_string(), 1000.0);
    let done = AtomicBool::new(false);
    let scored = AtomicUsize::new(0);
    let seen: Vec<HashSet<(String, u64)>> = std::thread::scope(|s| {
        let scorers: Vec<_> = (0..SCORERS)
            .map(|_| {
                s.spawn(|| {
                    let mut seen = HashSet::new();
                    let lead = ceo();
                    while !done.load(Ordering::Relaxed) {
                        let pack = live.current();
                        let outcome = pack.score(&lead, as_of()).expect("a score call failed");
                        seen.insert((outcome.pack().version.to_string(), outcome.score.to_bits()));
                        scored.fetch_add(1, Ordering::Relaxed);
                    }
                    seen
                })
            })
            .collect();
        for round in 1..=ROUNDS {
            f.rename_over("main.rules", &format!("rule \"v\": title ~ CEO => +{round}"));
            // A late duplicate of the previous rejection may come first; the reload follows.
            let pack = loop {
                match next(&events) {
                    ReloadEvent::Reloaded { pack, .. } => break pack,
                    ReloadEvent::Rejected(_) => continue,
                    other => panic!("{}", describe(&other)),
                }
            };
            valid.insert(pack.id().version.to_string(), f64::from(round));
            f.rename_over("main.rules", &format!("rule \"v\": title ~ CEO => +{round} nope"));
            rejected(&events);
        }
        done.store(true, Ordering::Relaxed);
        scorers.into_iter().map(|t| t.join().unwrap()).collect()
    });
    assert!(scored.load(Ordering::Relaxed) > SCORERS, "the scorers barely ran");
    let mut versions = HashSet::new();
    for (version, bits) in seen.iter().flatten() {
        let expected = valid
            .get(version)
            .unwrap_or_else(|| panic!("scored by {version}, which never went live"));
        assert_eq!(
            f64::from_bits(*bits),
            *expected,
            "version {version} gave the score of another version"
        );
        versions.insert(version.clone());
    }
    assert!(versions.len() > 1, "the scorers never saw a reload");
}

/// A `leadscore watch` child process, killed when dropped (also when a test fails).
struct WatchProcess {
    child: Child,
    lines: Receiver<String>,
}

impl WatchProcess {
    fn spawn(args: &[&str]) -> WatchProcess {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadscore"))
            .arg("watch")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        WatchProcess { child, lines }
    }

    /// The next JSON event line that is not `unchanged`.
    fn next(&self) -> Value {
        loop {
            let line = self
                .lines
                .recv_timeout(TIMEOUT)
                .expect("no output from leadscore watch");
            let value: Value = serde_json::from_str(&line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}"));
            if value["event"] != "unchanged" {
                return value;
            }
        }
    }
}

impl Drop for WatchProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn write_leads(path: &Path) {
    let leads = [
        json!({"id": "ceo", "title": "CEO"}),
        json!({"id": "vp", "title": "VP Sales"}),
        json!({"id": "intern", "title": "Intern"}),
    ];
    let text: Vec<String> = leads.iter().map(Value::to_string).collect();
    std::fs::write(path, text.join("\n")).unwrap();
}

#[test]
fn cli_watch_json_reports_reloads_with_changes_and_rejections() {
    let f = Fixture::new(&[(
        "main.rules",
        "threshold 10\nrule \"CEO\": title ~ CEO => +10\nrule \"VP\": title ~ VP => +5",
    )]);
    let leads = f.root.path().join("leads.jsonl");
    write_leads(&leads);
    let pack = f.pack();
    let watch = WatchProcess::spawn(&[
        "--pack",
        pack.to_str().unwrap(),
        "--leads",
        leads.to_str().unwrap(),
        "--as-of",
        "2026-03-01T00:00:00Z",
        "--json",
    ]);
    let started = watch.next();
    assert_eq!(started["event"], "started");
    assert_eq!((started["leads"].clone(), started["mql"].clone()), (json!(3), json!(1)));
    let first = started["pack"]["version"].clone();

    f.rename_over(
        "main.rules",
        "threshold 10\nrule \"CEO\": title ~ CEO => +10\nrule \"VP\": title ~ VP => +12",
    );
    let reloaded = watch.next();
    assert_eq!(reloaded["event"], "reloaded", "{reloaded}");
    assert_eq!(reloaded["previous"]["version"], first);
    assert_ne!(reloaded["pack"]["version"], first);
    assert_eq!(
        reloaded["changes"],
        json!([{"id": "vp", "old_score": 5, "new_score": 12, "mql": "gained"}])
    );

    f.write("main.rules", "threshold 10\nrule \"CEO\": title ~ CEO => +10 fit");
    let rejected = watch.next();
    assert_eq!(rejected["event"], "rejected", "{rejected}");
    assert_eq!(rejected["live"], reloaded["pack"]);
    assert_eq!(rejected["errors"][0]["message"], "unknown dimension `fit`");
    assert_eq!(rejected["errors"][0]["file"], "pack/main.rules");
}

#[test]
fn cli_watch_of_a_pack_that_does_not_check_exits_2_with_the_diagnostics() {
    let f = Fixture::new(&[("main.rules", "title ~ CEO => +5 fitt")]);
    let output = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(["watch", "--poll=50", "--pack"])
        .arg(f.pack())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(
        stderr.contains("unknown dimension `fitt`") && stderr.contains("pack/main.rules:1:19"),
        "{stderr}"
    );
}

#[test]
fn cli_watch_summarises_a_reload_that_changes_many_leads() {
    let f = Fixture::new(&[("main.rules", "threshold 10\nrule \"CEO\": title ~ CEO => +10")]);
    let leads = f.root.path().join("leads.jsonl");
    let mut text = String::new();
    for i in 0..30 {
        let title = if i < 12 { "CEO" } else { "VP" };
        text += &format!("{}\n", json!({"id": format!("l{i:02}"), "title": title}));
    }
    std::fs::write(&leads, text).unwrap();
    let pack = f.pack();
    let args = |list: bool| {
        let mut args = vec![
            "--pack",
            pack.to_str().unwrap(),
            "--leads",
            leads.to_str().unwrap(),
            "--as-of",
            "2026-03-01T00:00:00Z",
        ];
        if list {
            args.push("--list");
        }
        args
    };
    let line = |w: &WatchProcess| w.lines.recv_timeout(TIMEOUT).expect("no output from leadscore watch");
    let reload = |w: &WatchProcess| {
        let mut reload = line(w);
        while !reload.starts_with("reloaded") {
            reload = line(w);
        }
        reload
    };
    let watch = WatchProcess::spawn(&args(false));
    assert!(line(&watch).ends_with(" live (30 leads, 12 MQL)"));
    // CEOs lose 6 points (12 MQLs lost), VPs gain 10 (18 gained).
    f.write(
        "main.rules",
        "threshold 10\nrule \"CEO\": title ~ CEO => +4\nrule \"VP\": title ~ VP => +10",
    );
    assert!(
        reload(&watch).ends_with(", 30 of 30 leads changed; MQLs: 18 gained, 12 lost, 18 now"),
        "the totals"
    );
    let listed: Vec<String> = (0..11).map(|_| line(&watch)).collect();
    assert_eq!(listed[0], "  l00: 10 → 4, MQL lost");
    assert_eq!(listed[10], "  … and 20 more (--list shows every change)");
    drop(watch);

    f.write("main.rules", "threshold 10\nrule \"CEO\": title ~ CEO => +10");
    let watch = WatchProcess::spawn(&args(true));
    assert!(line(&watch).ends_with(" live (30 leads, 12 MQL)"));
    f.write("main.rules", "threshold 10\nrule \"CEO\": title ~ CEO => +4");
    assert!(reload(&watch).ends_with(", 12 of 30 leads changed; MQLs: 0 gained, 12 lost, 0 now"));
    let listed: Vec<String> = (0..12).map(|_| line(&watch)).collect();
    assert_eq!(listed[11], "  l11: 10 → 4, MQL lost", "--list lists all 12");
}

#[test]
fn cli_watch_text_says_what_changed_and_what_stays_live() {
    let f = Fixture::new(&[("main.rules", "threshold 10\nrule \"CEO\": title ~ CEO => +10")]);
    let leads = f.root.path().join("leads.json");
    std::fs::write(
        &leads,
        json!([{"id": "ceo", "title": "CEO"}, {"title": "VP"}]).to_string(),
    )
    .unwrap();
    let pack = f.pack();
    let watch = WatchProcess::spawn(&[
        "--pack",
        pack.to_str().unwrap(),
        "--leads",
        leads.to_str().unwrap(),
        "--as-of",
        "2026-03-01T00:00:00Z",
    ]);
    let line = |w: &WatchProcess| w.lines.recv_timeout(TIMEOUT).expect("no output from leadscore watch");
    let started = line(&watch);
    assert!(
        started.starts_with("watching ") && started.ends_with(" live (2 leads, 1 MQL)"),
        "{started}"
    );
    f.write("main.rules", "threshold 10\nrule \"CEO\": title ~ CEO => +4");
    let mut reload = line(&watch);
    while reload.starts_with("unchanged") {
        reload = line(&watch);
    }
    assert!(
        reload.starts_with("reloaded: pack@")
            && reload.ends_with(", 1 of 2 leads changed; MQLs: 0 gained, 1 lost, 0 now"),
        "{reload}"
    );
    assert_eq!(line(&watch), "  ceo: 10 → 4, MQL lost");
    f.write("main.rules", "threshold 10\nrule \"CEO\": title ~ => +4");
    let mut text = Vec::new();
    loop {
        let l = line(&watch);
        let last = l.starts_with("previous version pack@");
        text.push(l);
        if last {
            break;
        }
    }
    assert_eq!(text[0], "rejected:");
    assert!(text.iter().any(|l| l.contains("pack/main.rules:2:")), "{text:#?}");
    assert!(text.last().unwrap().ends_with(" still live"));
}
