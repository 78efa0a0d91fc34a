//! Hardening, second round: each test is one hostile input that used to crash, exhaust
//! memory, take minutes or lose data without a word, run through the real binary where
//! it was seen through it.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::{leadscore_in, Run};

const AS_OF: &str = "2026-03-01T00:00:00Z";

/// A pack folder with `main.rules` and, when `script` is given, `plugins/probe.rhai`.
fn pack(rules: &str, script: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.rules"), rules).unwrap();
    if let Some(script) = script {
        std::fs::create_dir(dir.path().join("plugins")).unwrap();
        std::fs::write(dir.path().join("plugins/probe.rhai"), script).unwrap();
    }
    dir
}

/// `leadscore score --pack DIR` with `leads` on stdin, killed (and failed) after `limit`.
/// Its output is read while it runs, so a full pipe never stalls it.
fn score(dir: &Path, extra: &[&str], leads: &str, limit: Duration) -> (Run, Duration) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(["score", "--pack", ".", "--as-of", AS_OF])
        .args(extra)
        .current_dir(dir)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let leads = leads.to_string();
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(leads.as_bytes());
    });
    let drain = |mut from: Box<dyn std::io::Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            from.read_to_string(&mut text).unwrap();
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > limit {
            child.kill().unwrap();
            panic!("leadscore score did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let took = started.elapsed();
    writer.join().unwrap();
    let run = Run {
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        code: status.code().unwrap_or(-1),
    };
    (run, took)
}

/// The error lines of a `score` run's stderr, as JSON.
fn errors(stderr: &str) -> Vec<serde_json::Value> {
    stderr
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v.get("error").is_some())
        .collect()
}

// --- plugins: the sandbox bounds memory and time, however a script builds its values ---

/// A hook whose body is `body`, and a rule on what it sets, under the `limit` statements
/// `limits`; leads `{"id": N}`.
fn hook_pack(limits: &str, body: &str) -> tempfile::TempDir {
    let script = format!("fn enrich(lead) {{\n{body}\n}}\n");
    let rules = format!("{limits}plugin \"probe\"\nrule \"seen\": seen == true => +1\n");
    pack(&rules, Some(&script))
}

/// The first lead's error: a hook whose body is `body` on two leads. The time budget is
/// raised so that an unoptimized build reaches the limit tested before it.
fn one_error(body: &str) -> String {
    let dir = hook_pack("limit time_ms 5000\n", body);
    let leads = "{\"id\": 1}\n{\"id\": 2, \"fine\": true}\n";
    let (run, _) = score(dir.path(), &[], leads, Duration::from_secs(60));
    assert_eq!(run.code, 1, "{}", run.stderr);
    let errors = errors(&run.stderr);
    assert_eq!(errors.len(), 2, "{}", run.stderr);
    errors[0]["error"].as_str().unwrap().to_string()
}

#[test]
fn currying_big_strings_stops_at_the_memory_budget() {
    let message = one_error(
        "let s = \"xxxxxxxxxx\"; for k in 0..13 { s += s; }\nlet f = Fn(\"enrich\");\nfor i in 0..5000 { f = f.curry(s + i); }\n#{seen: true}",
    );
    assert!(
        message.starts_with("plugin `probe`, function `enrich` at 4:"),
        "{message}"
    );
    assert!(
        message.ends_with("used more than 64 MiB of memory (limit `memory`)"),
        "{message}"
    );
}

#[test]
fn filling_a_presized_array_by_index_stops_at_the_memory_budget() {
    let message = one_error(
        "let s = \"xxxxxxxxxx\"; for k in 0..16 { s += s; }\nlet a = []; a.pad(900, ());\nfor i in 0..900 { a[i] = s + i; }\n#{seen: true}",
    );
    assert!(
        message.starts_with("plugin `probe`, function `enrich` at 4:"),
        "{message}"
    );
    assert!(message.contains("(limit `memory`)"), "{message}");
}

#[test]
fn map_keys_inserted_by_index_count_toward_map_size() {
    let message = one_error("let m = #{};\nfor i in 0..5000 { m[\"k\" + i] = i; }\n#{seen: true}");
    assert!(
        message.starts_with("plugin `probe`, function `enrich` at 3:"),
        "{message}"
    );
    assert!(
        message.ends_with("a map grew larger than 1000 entries (limit `map_size`)"),
        "{message}"
    );
}

#[test]
fn a_lead_wider_than_map_size_names_the_limit_to_raise() {
    // A CSV or frame of more than 1,000 columns: the hook's lead did not grow, it came in wide.
    let wide: String = (0..1200).map(|i| format!(", \"c{i}\": {i}")).collect();
    let leads = format!("{{\"id\": 1{wide}}}\n");
    let dir = hook_pack("", "#{seen: true}");
    let (run, _) = score(dir.path(), &[], &leads, Duration::from_secs(60));
    let errors = errors(&run.stderr);
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    assert_eq!(
        errors[0]["error"],
        "plugin `probe`, function `enrich`: the lead has 1201 fields, more than a hook may take (limit \
         `map_size`, 1000): give the pack `limit map_size 2000` or leave out the fields it does not need"
    );
    let raised = hook_pack("limit map_size 2000\n", "#{seen: true}");
    let (run, _) = score(raised.path(), &[], &leads, Duration::from_secs(60));
    assert_eq!(run.code, 0, "{}", run.stderr);
    let result: serde_json::Value = serde_json::from_str(run.stdout.trim()).unwrap();
    assert_eq!(result["score"], 1, "the hook ran: {result}");
}

#[test]
fn costly_operations_stop_at_the_time_budget() {
    let dir = hook_pack(
        "",
        "let s = \"xxxxxxxxxx\"; for k in 0..16 { s += s; }\nlet n = 0;\nfor i in 0..30000 { n += s.index_of(\"z\"); }\n#{seen: true}",
    );
    let leads: String = (0..20).map(|i| format!("{{\"id\": {i}}}\n")).collect();
    let (run, took) = score(dir.path(), &[], &leads, Duration::from_secs(120));
    let errors = errors(&run.stderr);
    assert_eq!(errors.len(), 20, "{}", run.stderr);
    for e in &errors {
        let message = e["error"].as_str().unwrap();
        // Out of time, the call has no time left to find where it was: it names the function.
        assert!(
            message.starts_with("plugin `probe`, function `enrich`: ran longer than 50 ms (limit `time_ms`)"),
            "{message}"
        );
    }
    // 30,000 searches of a 1 MB string took a minute a lead; now 50 ms of CPU each.
    assert!(took < Duration::from_secs(30), "{took:?}");
}

#[test]
fn a_thousand_leads_that_each_hit_a_limit_finish_in_seconds() {
    // A tighter time budget than the default keeps the test short on a busy machine; the
    // point is that each lead costs at most its budget, whatever limit stops it.
    let dir = hook_pack(
        "limit time_ms 5\nlimit memory 16777216\n",
        "switch lead.trap {\n\
         0 => { let s = \"xxxxxxxxxx\"; for k in 0..16 { s += s; } let n = 0; for i in 0..30000 { n += s.index_of(\"z\"); } }\n\
         1 => { let s = \"xxxxxxxxxx\"; for k in 0..16 { s += s; } let a = []; a.pad(900, ()); for i in 0..900 { a[i] = s + i; } }\n\
         2 => { let m = #{}; for i in 0..5000 { m[\"k\" + i] = i; } }\n\
         _ => { let i = 0; loop { i += 1; } }\n\
         }\n#{seen: true}",
    );
    let leads: String = (0..1000)
        .map(|i| format!("{{\"id\": {i}, \"trap\": {}}}\n", i % 4))
        .collect();
    let (run, took) = score(dir.path(), &[], &leads, Duration::from_secs(300));
    let errors = errors(&run.stderr);
    assert_eq!(errors.len(), 1000, "{}", run.stderr);
    for e in &errors {
        let message = e["error"].as_str().unwrap();
        assert!(message.starts_with("plugin `probe`, function `enrich`"), "{message}");
        assert!(message.contains(" (limit `"), "{message}");
    }
    let by = |limit: &str| {
        errors
            .iter()
            .filter(|e| e["error"].as_str().unwrap().contains(limit))
            .count()
    };
    assert!(by("`time_ms`") >= 250, "the costly searches stop at the time budget");
    assert!(by("`map_size`") + by("`time_ms`") + by("`memory`") + by("`operations`") == 1000);
    eprintln!("1,000 leads each stopped by a limit: {took:?}");
    // Each lead costs at most 5 ms of CPU (and its rerun shares it): seconds in all.
    assert!(took < Duration::from_secs(120), "{took:?}");
}

#[test]
fn limits_above_their_maximum_are_check_errors() {
    let dir = pack(
        "limit string_size 99999999999999\nlimit array_size 10000000\nlimit time_ms 0\nplugin \"probe\"\nprobe(title) => +1\n",
        Some("fn probe(t) { true }"),
    );
    let run = leadscore_in(dir.path(), &["check", "."], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("limit `string_size` is at most 67108864"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("limit `array_size` is at most 100000"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("limit `time_ms` must be at least 1"),
        "{}",
        run.stderr
    );
}

#[test]
fn loader_limits_above_their_maximum_are_check_errors() {
    let dir = pack("plugin \"probe\"\nprobe(title) => +1\n", Some("fn probe(t) { true }"));
    let limits = leadscore::Limits {
        array_size: 10_000_000,
        ..leadscore::Limits::default()
    };
    let err = leadscore::Loader::new()
        .limits(limits)
        .load(dir.path())
        .expect_err("too large a limit is refused");
    let text = err.to_string();
    assert!(
        text.contains("the loader's limit `array_size` is at most 100000"),
        "{text}"
    );
}

/// The next event other than `Unchanged`, within 10 s.
fn next_event(events: &std::sync::mpsc::Receiver<leadscore::reload::ReloadEvent>) -> leadscore::reload::ReloadEvent {
    loop {
        match events.recv_timeout(Duration::from_secs(10)) {
            Ok(leadscore::reload::ReloadEvent::Unchanged { .. }) => continue,
            Ok(event) => return event,
            Err(e) => panic!("no reload event within 10 s: {e}"),
        }
    }
}

fn tier_score(live: &leadscore::LivePack) -> f64 {
    let as_of = leadscore::parse_time(AS_OF).unwrap();
    live.current()
        .score(&serde_json::json!({"id": 1}), as_of)
        .unwrap()
        .score
}

#[test]
fn an_empty_plugin_file_never_goes_live() {
    let dir = pack(
        "plugin \"probe\"\ntier == \"a\" => +5\n",
        Some("fn enrich(lead) { #{ tier: \"a\" } }"),
    );
    let loader = leadscore::Loader::new();
    let (live, events) =
        leadscore::LivePack::watch(dir.path(), loader, leadscore::reload::WatchOptions::new()).unwrap();
    assert_eq!(tier_score(&live), 5.0);
    std::fs::write(dir.path().join("plugins/probe.rhai"), "").unwrap();
    match next_event(&events) {
        leadscore::reload::ReloadEvent::Rejected(r) => {
            assert!(
                r.rendered.contains("probe.rhai is empty; a save may be in progress"),
                "{}",
                r.rendered
            );
        }
        leadscore::reload::ReloadEvent::Reloaded { .. } => panic!("an empty plugin went live"),
        _ => panic!("expected a rejection"),
    }
    assert_eq!(tier_score(&live), 5.0, "the live pack keeps its plugin");
    std::fs::write(
        dir.path().join("plugins/probe.rhai"),
        "fn enrich(lead) { #{ tier: \"b\" } }",
    )
    .unwrap();
    loop {
        match next_event(&events) {
            leadscore::reload::ReloadEvent::Reloaded { .. } => break,
            leadscore::reload::ReloadEvent::Rejected(r) if r.rendered.contains(" is empty; ") => continue,
            _ => panic!("expected a reload"),
        }
    }
    assert_eq!(tier_score(&live), 0.0);
}

#[test]
fn bad_events_from_a_hook_name_the_plugin() {
    let dir = pack(
        "plugin \"probe\"\nvisited /pricing => +5\n",
        Some("fn enrich(lead) { #{ events: [#{ type: \"page_view\", time: \"yesterday\" }] } }"),
    );
    let (run, _) = score(
        dir.path(),
        &[],
        "{\"id\": 1, \"events\": []}\n",
        Duration::from_secs(60),
    );
    let errors = errors(&run.stderr);
    assert_eq!(errors.len(), 1, "{}", run.stderr);
    let message = errors[0]["error"].as_str().unwrap();
    assert!(
        message.starts_with("plugin `probe`, function `enrich`: returned `events` that cannot be read: events[0] "),
        "{message}"
    );
}

// --- inputs that silently lost rows or rules ---

/// A pack scoring `title ~ VP`, with `files` written beside it; runs `score` on `args`.
fn score_files(files: &[(&str, &[u8])], args: &[&str]) -> Run {
    let dir = pack("title ~ VP => +10\n", None);
    for (name, bytes) in files {
        std::fs::write(dir.path().join(name), bytes).unwrap();
    }
    let mut all = vec!["score", "--pack", ".", "--as-of", AS_OF];
    all.extend(args);
    leadscore_in(dir.path(), &all, "")
}

#[test]
fn a_csv_quote_never_closed_is_an_error_naming_its_line() {
    let run = score_files(&[("leads.csv", b"id,title\n1,\"VP\n2,VP\n3,VP\n")], &["leads.csv"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert_eq!(run.stdout, "", "no row is scored as if it were whole");
    assert!(
        run.stderr.contains(
            "a quoted field opened on line 2 is never closed, so lines 2 to 4 were read as one row; close the quote"
        ),
        "{}",
        run.stderr
    );
    // A quoted field over two lines that is closed is one row, as before.
    let run = score_files(
        &[("leads.csv", b"id,title\n1,\"VP\nof sales\"\n2,VP\n")],
        &["leads.csv"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2);
}

#[test]
fn a_csv_header_split_by_semicolons_or_tabs_asks_for_the_delimiter() {
    for (text, name) in [(&b"id;title\n1;VP\n"[..], "';'"), (&b"id\ttitle\n1\tVP\n"[..], "tab")] {
        let run = score_files(&[("leads.csv", text)], &["leads.csv"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        let expected = format!("split by {name}s; pass `--delimiter {name}`");
        assert!(run.stderr.contains(&expected), "{}", run.stderr);
    }
    let run = score_files(
        &[("leads.csv", b"id;title\n1;VP\n")],
        &["--delimiter", ";", "leads.csv"],
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"score\":10"), "{}", run.stdout);
}

#[test]
fn a_csv_header_naming_a_column_twice_is_an_error() {
    let run = score_files(&[("leads.csv", b"id,title,title\n1,VP,CEO\n")], &["leads.csv"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("the CSV header names `title` twice (columns 2 and 3)"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_byte_order_mark_is_accepted_in_rules_json_lines_and_json() {
    let dir = pack("\u{feff}title ~ VP => +10\n", None);
    std::fs::write(
        dir.path().join("leads.jsonl"),
        "\u{feff}{\"id\": 1, \"title\": \"VP\"}\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("leads.json"),
        "\u{feff}[{\"id\": 2, \"title\": \"VP\"}]",
    )
    .unwrap();
    let run = leadscore_in(
        dir.path(),
        &["score", "--pack", ".", "--as-of", AS_OF, "leads.jsonl", "leads.json"],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.matches("\"score\":10").count(), 2, "{}", run.stdout);
}

#[test]
fn a_byte_order_mark_on_standard_input_and_an_input_shorter_than_one_are_read() {
    let dir = pack("title ~ VP => +10\n", None);
    std::fs::write(dir.path().join("short.jsonl"), "{}").unwrap();
    let run = leadscore_in(
        dir.path(),
        &["score", "--pack", ".", "--as-of", AS_OF, "short.jsonl"],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "{}", run.stdout);
    let run = leadscore_in(
        dir.path(),
        &["score", "--pack", ".", "--as-of", AS_OF],
        "\u{feff}{\"id\": 3, \"title\": \"VP\"}\n{\"id\": 4}\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 2, "{}", run.stdout);
    assert_eq!(run.stdout.matches("\"score\":10").count(), 1, "{}", run.stdout);
}

#[test]
fn a_json_array_followed_by_garbage_is_an_error() {
    let run = score_files(
        &[("leads.json", b"[{\"id\": 1, \"title\": \"VP\"}] trailing")],
        &["leads.json"],
    );
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("invalid JSON after the array"), "{}", run.stderr);
    assert_eq!(run.stdout.lines().count(), 1, "the array's leads are scored");
}

#[cfg(unix)]
#[test]
fn a_rule_file_that_cannot_be_read_rejects_the_pack_naming_it() {
    let dir = pack("title ~ VP => +10\n", None);
    std::os::unix::fs::symlink(dir.path().join("gone.rules.target"), dir.path().join("shared.rules")).unwrap();
    for command in ["check", "score"] {
        let args: &[&str] = if command == "check" {
            &["check", "."]
        } else {
            &["score", "--pack", "."]
        };
        let run = leadscore_in(dir.path(), args, "");
        assert_eq!(run.code, 2, "{command}: {}", run.stderr);
        assert!(run.stderr.contains("shared.rules"), "{command}: {}", run.stderr);
    }
    std::fs::remove_file(dir.path().join("shared.rules")).unwrap();
    std::os::unix::fs::symlink("/dev/null", dir.path().join("device.rules")).unwrap();
    let run = leadscore_in(dir.path(), &["check", "."], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr.contains("device.rules") && run.stderr.contains("under /dev"),
        "{}",
        run.stderr
    );
    std::fs::remove_file(dir.path().join("device.rules")).unwrap();
    let status = Command::new("mkfifo")
        .arg(dir.path().join("pipe.rules"))
        .status()
        .unwrap();
    assert!(status.success());
    let run = leadscore_in(dir.path(), &["check", "."], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("pipe.rules"), "{}", run.stderr);
    assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    // and `watch` does not start on it either
    let err = leadscore::LivePack::watch(
        dir.path(),
        leadscore::Loader::new(),
        leadscore::reload::WatchOptions::new(),
    )
    .expect_err("refused");
    assert!(err.to_string().contains("pipe.rules"), "{err}");
}

/// Waits for the live pack to score `want` for a VP (polling; each step is cheap).
fn wait_for_score(live: &leadscore::LivePack, want: f64) {
    let as_of = leadscore::parse_time(AS_OF).unwrap();
    let lead = serde_json::json!({"id": 1, "title": "VP"});
    let started = Instant::now();
    loop {
        let got = live.current().score(&lead, as_of).unwrap().score;
        if got == want {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "score stayed {got}, wanted {want}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn watch_follows_the_target_of_a_linked_rule_file() {
    let shared = tempfile::tempdir().unwrap();
    std::fs::write(shared.path().join("common.rules"), "title ~ VP => +10\n").unwrap();
    let dir = pack("# the rules are shared\n", None);
    std::os::unix::fs::symlink(shared.path().join("common.rules"), dir.path().join("common.rules")).unwrap();
    let (live, _events) = leadscore::LivePack::watch(
        dir.path(),
        leadscore::Loader::new(),
        leadscore::reload::WatchOptions::new(),
    )
    .unwrap();
    wait_for_score(&live, 10.0);
    std::fs::write(shared.path().join("common.rules"), "title ~ VP => +20\n").unwrap();
    wait_for_score(&live, 20.0);
}

#[cfg(unix)]
#[test]
fn watch_follows_a_linked_pack_folder_flipped_to_a_new_version() {
    let root = tempfile::tempdir().unwrap();
    for (version, points) in [("v1", 10), ("v2", 20)] {
        std::fs::create_dir(root.path().join(version)).unwrap();
        std::fs::write(
            root.path().join(version).join("main.rules"),
            format!("title ~ VP => +{points}\n"),
        )
        .unwrap();
    }
    let current = root.path().join("current");
    std::os::unix::fs::symlink("v1", &current).unwrap();
    let (live, _events) = leadscore::LivePack::watch(
        &current,
        leadscore::Loader::new(),
        leadscore::reload::WatchOptions::new(),
    )
    .unwrap();
    wait_for_score(&live, 10.0);
    assert_eq!(live.dir(), current, "the folder as given, the link");
    // The usual deploy: a new link renamed over the old one, atomically.
    std::os::unix::fs::symlink("v2", root.path().join("current.new")).unwrap();
    std::fs::rename(root.path().join("current.new"), &current).unwrap();
    wait_for_score(&live, 20.0);
    assert_eq!(live.dir(), current, "still true after the flip");
    // Later edits are watched in the new target.
    std::fs::write(root.path().join("v2/main.rules"), "title ~ VP => +30\n").unwrap();
    wait_for_score(&live, 30.0);
}

// --- resources the command line hands out ---

#[test]
fn gen_bounds_the_events_per_lead() {
    let run = crate::cli::leadscore(&["gen", "--leads", "1", "--events-per-lead", "4294967296"], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("at most 1000000 events per lead"), "{}", run.stderr);
}

#[test]
fn score_bounds_the_threads_by_the_cores() {
    let dir = pack("title ~ VP => +10\n", None);
    let run = leadscore_in(dir.path(), &["score", "--pack", ".", "--threads", "99999"], "");
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("--threads 99999 is more than"), "{}", run.stderr);
    assert!(run.stderr.contains("4 per core"), "{}", run.stderr);
}

/// Runs `leadscore ARGS` in `dir` with the read end of its stdout and stderr closed before
/// it writes: every write fails with a broken pipe. Returns its exit code and whether it
/// panicked (a panic exits 101).
#[cfg(unix)]
fn with_closed_pipes(dir: &Path, args: &[&str]) -> i32 {
    let status = dir.join("status");
    let script = format!(
        "(sleep 0.3; \"$0\" \"$@\"; echo $? > '{}') 2>&1 | true",
        status.display()
    );
    let done = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg(env!("CARGO_BIN_EXE_leadscore"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .status()
        .unwrap();
    assert!(done.success());
    let started = Instant::now();
    loop {
        if let Ok(text) = std::fs::read_to_string(&status) {
            if let Ok(code) = text.trim().parse() {
                return code;
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the command did not finish"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[cfg(unix)]
#[test]
fn a_closed_pipe_ends_a_command_quietly() {
    let dir = pack("title ~ VP => +\n", None);
    assert_eq!(with_closed_pipes(dir.path(), &["check", "."]), 2);
    let good = pack("title ~ VP => +10\n", None);
    std::fs::write(
        good.path().join("leads.jsonl"),
        "{\"id\": 1, \"title\": \"VP\"}\n".repeat(5000),
    )
    .unwrap();
    for args in [
        &["score", "--pack", ".", "leads.jsonl"][..],
        &["gen", "--leads", "100"][..],
        &["test", "."][..],
        &["explain", "--pack", ".", "leads.jsonl"][..],
    ] {
        let code = with_closed_pipes(good.path(), args);
        assert_ne!(code, 101, "{args:?} panicked");
    }
}

// --- pack tests ---

/// Copies a folder tree (the example packs hold files and folders only).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}

#[test]
fn a_copy_of_a_pack_in_another_folder_passes_its_snapshots() {
    let root = tempfile::tempdir().unwrap();
    let copy = root.path().join("b2b-saas-copy");
    copy_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/b2b-saas"), &copy);
    let run = leadscore_in(root.path(), &["test", "--snapshots", "b2b-saas-copy"], "");
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    // `fired` locations in `score` output are relative to the pack too.
    let lead = std::fs::read_to_string(copy.join("leads/student.json")).unwrap();
    let run = leadscore_in(
        &copy,
        &["score", "--pack", ".", "--as-of", AS_OF],
        &lead.replace('\n', " "),
    );
    assert!(run.stdout.contains("\"location\":\"main.rules:12\""), "{}", run.stdout);
}

#[test]
fn a_non_finite_expectation_is_an_error_at_its_value() {
    let dir = pack("title ~ VP => +10 fit\ndimension fit\n", None);
    std::fs::create_dir(dir.path().join("tests")).unwrap();
    std::fs::write(
        dir.path().join("tests/cases.toml"),
        "[[case]]\nname = \"vp\"\nlead = { title = \"VP\" }\nscore = nan\n\n[[case]]\nname = \"fit\"\nlead = { title = \"VP\" }\ndimensions.fit = inf\n",
    )
    .unwrap();
    let run = leadscore_in(dir.path(), &["test", "."], "");
    assert_eq!(run.code, 2, "{}\n{}", run.stdout, run.stderr);
    let all = format!("{}{}", run.stdout, run.stderr);
    assert!(all.contains("`score = NaN` can never be met or fail"), "{all}");
    assert!(all.contains("cases.toml:4"), "{all}");
}

// --- diagnostics that misled ---

/// `leadscore check` on a one-file pack: its exit code and stderr.
fn check(rules: &str) -> (i32, String) {
    let dir = pack(rules, None);
    let run = leadscore_in(dir.path(), &["check", "."], "");
    (run.code, run.stderr)
}

#[test]
fn unicode_letters_make_bare_field_names() {
    let dir = pack("título ~ VP => +10\nStraße == \"Hauptstraße\" => +1\n", None);
    let run = leadscore_in(
        dir.path(),
        &["score", "--pack", ".", "--as-of", AS_OF],
        "{\"id\": 1, \"título\": \"VP Ventas\", \"Straße\": \"Hauptstraße\"}\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"score\":11"), "{}", run.stdout);
    let (code, stderr) = check("№seats > 5 => +1\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("quote other names with backticks"), "{stderr}");
}

#[test]
fn a_number_in_exponent_form_is_reported_where_it_goes_wrong() {
    let (code, stderr) = check("threshold 1e5\ntitle ~ VP => +10\n");
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("main.rules:1:12"), "{stderr}");
    assert!(stderr.contains("write numbers in digits"), "{stderr}");
}

#[test]
fn rules_that_cannot_mean_what_they_say_are_check_errors() {
    for (rules, expected) in [
        ("title ~ \"\" => +1\n", "`~ \"\"` matches nothing"),
        ("title == \"a\\qb\" => +1\n", "strings know the escapes"),
        (
            "title ~ VP => disqualify \"a\", disqualify \"b\"\n",
            "a second `disqualify`",
        ),
        ("title ~ VP => tag \"\"\n", "an empty tag name"),
        ("title ~ VP => disqualify \"\"\n", "an empty disqualify name"),
        ("rule \"\": title ~ VP => +1\n", "an empty rule name"),
        (
            "dimension fit\nlet fit = title ~ VP\nfit => +1\n",
            "`let fit` has the name of a dimension",
        ),
        (
            "let score = title ~ VP\nscore => +1\n",
            "`let score` has the name of the score",
        ),
        ("title ~ VP => +0.00001\n", "points smaller than 0.0001 print as 0"),
    ] {
        let (code, stderr) = check(rules);
        assert_eq!(code, 2, "{rules}: {stderr}");
        assert!(stderr.contains(expected), "{rules}: {stderr}");
    }
}

#[test]
fn event_types_ignore_case() {
    let dir = pack(
        "did page_view where path == \"/pricing\" => +10\ndid VIDEO_PLAY => +5\n",
        None,
    );
    let lead = "{\"id\": 1, \"events\": [{\"type\": \"PAGE_VIEW\", \"path\": \"/pricing\", \"at\": \"2026-02-27T00:00:00Z\"}, {\"type\": \"Video_Play\", \"at\": \"2026-02-27T00:00:00Z\"}]}\n";
    let run = leadscore_in(dir.path(), &["score", "--pack", ".", "--as-of", AS_OF], lead);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"score\":15"), "{}", run.stdout);
}

// --- exact ids and integers ---

#[test]
fn ids_come_back_exactly_as_given() {
    let dir = pack("title ~ VP => +10\n", None);
    let leads = "{\"id\": 9007199254740993, \"title\": \"VP\"}\n{\"id\": 12345678901234567, \"title\": \"VP\"}\n{\"id\": \"0042\"}\n{\"id\": [1, {\"crm\": 2}]}\n{\"id\": 1.16387427207385e48}\n";
    let run = leadscore_in(dir.path(), &["score", "--pack", ".", "--as-of", AS_OF], leads);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ids: Vec<&str> = run
        .stdout
        .lines()
        .map(|l| &l[..l.find(",\"score\"").unwrap()])
        .collect();
    assert_eq!(
        ids,
        [
            "{\"id\":9007199254740993",
            "{\"id\":12345678901234567",
            "{\"id\":\"0042\"",
            "{\"id\":[1,{\"crm\":2}]",
            // A long float keeps its digits (read as the nearest double, not one ulp off).
            "{\"id\":1.16387427207385e+48"
        ]
    );
    let run = leadscore_in(
        dir.path(),
        &[
            "score",
            "--pack",
            ".",
            "--as-of",
            AS_OF,
            "--output",
            "csv",
            "--id-field",
            "crm_id",
        ],
        "{\"crm_id\": 9007199254740993, \"title\": \"VP\"}\n",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stdout.lines().nth(1).unwrap().starts_with("9007199254740993,10,"),
        "{}",
        run.stdout
    );
    let hooked = pack(
        "plugin \"probe\"\ntitle ~ VP => +10\n",
        Some("fn enrich(lead) { #{ id: 9007199254740993 } }"),
    );
    let run = leadscore_in(
        hooked.path(),
        &["score", "--pack", ".", "--as-of", AS_OF],
        "{\"id\": 1}\n",
    );
    assert!(run.stdout.starts_with("{\"id\":9007199254740993,"), "{}", run.stdout);
}

#[test]
fn whole_numbers_print_as_integers_decay_too() {
    let dir = pack("decay intent half-life 7d\nvisited /pricing => +10 intent\n", None);
    let lead = "{\"id\": 1, \"events\": [{\"type\": \"page_view\", \"path\": \"/pricing\", \"at\": \"2026-03-01T00:00:00Z\"}]}\n";
    let run = leadscore_in(dir.path(), &["score", "--pack", ".", "--as-of", AS_OF], lead);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"decay\":1}"), "{}", run.stdout);
    assert!(!run.stdout.contains(".0"), "{}", run.stdout);
}

#[test]
fn an_each_rule_without_max_totals_at_most_the_points_bound() {
    let dir = pack("visited /x => +1000000000000 each\n", None);
    let events: Vec<String> = (0..10_001)
        .map(|_| "{\"type\": \"page_view\", \"path\": \"/x\", \"at\": \"2026-02-27T00:00:00Z\"}".to_string())
        .collect();
    let lead = format!("{{\"id\": 1, \"events\": [{}]}}\n", events.join(","));
    let run = leadscore_in(dir.path(), &["score", "--pack", ".", "--as-of", AS_OF], &lead);
    assert_eq!(run.code, 0, "{}", run.stderr);
    assert!(run.stdout.contains("\"score\":1000000000000,"), "{}", run.stdout);
}
