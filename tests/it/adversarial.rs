//! Hostile input: every case of the hardening issue gets a clear error or a correct result
//! in bounded time and memory, and never takes down anything else.
//!
//! Time bounds are generous (debug builds on a shared machine): they catch hangs and
//! quadratic blow-ups, not slowness. Deep-input cases run on a thread with a 2 MiB stack,
//! the size rayon's workers and test threads get.

use std::sync::mpsc;
use std::time::Duration;

use leadscore::read::ReadError;
use leadscore::{EvalError, Pack};
use serde_json::{json, Value};

/// Runs `f` on a fresh 2 MiB-stack thread and fails the test if it takes over `secs`.
fn bounded<T: Send + 'static>(secs: u64, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let _ = tx.send(f());
        })
        .unwrap();
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("did not finish within {secs}s"),
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("the thread panicked"),
    }
}

fn as_of() -> chrono::DateTime<chrono::Utc> {
    leadscore::parse_time("2026-03-01T00:00:00Z").unwrap()
}

/// Every rendered error of a pack that must not load.
fn rejected(text: &str) -> String {
    match Pack::from_source("adv", text) {
        Ok(_) => panic!("the pack loaded"),
        Err(leadscore::Error::Pack(errors)) => errors.render(false),
        Err(other) => panic!("unexpected error: {other}"),
    }
}

fn b2b() -> Pack {
    Pack::load("rules/b2b-saas").unwrap()
}

// ---- rule text -------------------------------------------------------------------------

#[test]
fn deeply_nested_parentheses_are_rejected() {
    for depth in [65, 1_000, 100_000] {
        let text = format!("{}title ~ VP{} => +1\n", "(".repeat(depth), ")".repeat(depth));
        let out = bounded(60, move || rejected(&text));
        assert!(out.contains("nests more than 64 deep"), "{out}");
    }
}

#[test]
fn nesting_at_the_limit_is_accepted_and_scores() {
    let text = format!("{}title ~ VP{} => +1\n", "(".repeat(64), ")".repeat(64));
    let pack = bounded(60, move || Pack::from_source("adv", &text).unwrap());
    let outcome = pack.score(&json!({"title": "VP Sales"}), as_of()).unwrap();
    assert_eq!(outcome.score, 1.0);
}

#[test]
fn long_not_chains_are_rejected_not_a_stack_overflow() {
    for n in [65, 10_000, 100_000] {
        let text = format!("{}title ~ VP => +1\n", "not ".repeat(n));
        let out = bounded(60, move || rejected(&text));
        assert!(out.contains("nests more than 64 deep"), "{out}");
    }
    // Also spread over lines, and inside parentheses and `where`.
    let text = format!("rule \"x\": (\n{}title ~ VP) => +1\n", "not\n".repeat(5_000));
    assert!(bounded(60, move || rejected(&text)).contains("nests more than 64 deep"));
    let text = format!("did x where {}a == 1 => +1\n", "not ".repeat(5_000));
    assert!(bounded(60, move || rejected(&text)).contains("nests more than 64 deep"));
}

#[test]
fn not_chains_within_the_limit_evaluate() {
    // 64 `not`s cancel out; 63 do not.
    let even = format!("rule \"even\": {}title ~ VP => +1\n", "not ".repeat(64));
    let odd = format!("rule \"odd\": {}title ~ VP => +10\n", "not ".repeat(63));
    let pack = bounded(60, move || Pack::from_source("adv", &format!("{even}{odd}")).unwrap());
    assert_eq!(pack.score(&json!({"title": "VP"}), as_of()).unwrap().score, 1.0);
    assert_eq!(pack.score(&json!({"title": "CEO"}), as_of()).unwrap().score, 10.0);
}

#[test]
fn many_nots_side_by_side_are_not_nesting() {
    let cond = vec!["not title ~ x"; 200].join(" and ");
    let text = format!("rule \"many\": {cond} => +1\nrule \"more\": {cond} and title ~ VP => +2\n");
    let pack = bounded(60, move || Pack::from_source("adv", &text).unwrap());
    assert_eq!(pack.score(&json!({"title": "VP"}), as_of()).unwrap().score, 3.0);
}

#[test]
fn brackets_in_strings_regexes_paths_and_comments_do_not_count() {
    let open = "(".repeat(100);
    let text = format!(
        "# {open}\nrule \"s\": title == \"{open}\" => +1\nrule \"r\": title ~ /\\({{0}}x/ => +1 # {open}\n\
         rule \"p\": visited /a{open} => +1\nrule \"b\": `{open}` exists => +1\n"
    );
    bounded(60, move || Pack::from_source("adv", &text).unwrap());
}

#[test]
fn a_deep_statement_does_not_hide_the_errors_after_it() {
    let text = format!(
        "{}a == 1 => +1\nrule \"ok\": title ~ VP => +1\nrule \"bad\": title ~ VP => +1 nope\n",
        "(".repeat(500)
    );
    let out = bounded(60, move || rejected(&text));
    assert!(out.contains("nests more than 64 deep"), "{out}");
    assert!(out.contains("adv.rules:3:"), "{out}");
}

#[test]
fn deep_lists_are_rejected() {
    let text = format!("industry in {}\"a\"{} => +1\n", "[".repeat(10_000), "]".repeat(10_000));
    assert!(bounded(60, move || rejected(&text)).contains("nests more than 64 deep"));
}

#[test]
fn deep_call_nesting_is_rejected() {
    let text = format!("{}x{} == 1 => +1\n", "f(".repeat(10_000), ")".repeat(10_000));
    assert!(bounded(60, move || rejected(&text)).contains("nests more than 64 deep"));
}

#[test]
fn a_let_chain_10000_deep_is_evaluated_in_order() {
    let mut text = String::from("let l0 = title ~ VP\n");
    for i in 1..10_000 {
        text += &format!("let l{i} = l{}\n", i - 1);
    }
    text += "rule \"deep\": l9999 => +7\n";
    let pack = bounded(120, move || Pack::from_source("adv", &text).unwrap());
    let score = |title: &str| pack.score(&json!({ "title": title }), as_of()).unwrap().score;
    assert_eq!(score("VP Sales"), 7.0);
    assert_eq!(score("Engineer"), 0.0);
}

#[test]
fn a_let_chain_in_reverse_file_order_is_also_fine() {
    let mut text = String::from("rule \"deep\": l0 => +7\n");
    for i in 0..10_000 {
        text += &format!("let l{i} = l{}\n", i + 1);
    }
    text += "let l10000 = title ~ VP\n";
    let pack = bounded(120, move || Pack::from_source("adv", &text).unwrap());
    assert_eq!(pack.score(&json!({"title": "VP"}), as_of()).unwrap().score, 7.0);
}

#[test]
fn a_let_cycle_10000_long_is_one_error() {
    let mut text = String::new();
    for i in 0..10_000 {
        text += &format!("let l{i} = l{}\n", (i + 1) % 10_000);
    }
    let out = bounded(120, move || rejected(&text));
    assert!(
        out.contains("is defined in terms of itself"),
        "{}",
        &out[..out.len().min(500)]
    );
}

#[test]
fn a_hundred_thousand_lets() {
    let mut text = String::new();
    for i in 0..100_000 {
        text += &format!("let l{i} = title ~ \"w{i}\"\n");
    }
    text += "rule \"any\": l0 or l99999 => +1\n";
    let pack = bounded(300, move || Pack::from_source("adv", &text).unwrap());
    assert_eq!(pack.score(&json!({"title": "w99999"}), as_of()).unwrap().score, 1.0);
    assert_eq!(pack.score(&json!({"title": "w5"}), as_of()).unwrap().score, 0.0);
}

#[test]
fn a_regex_too_large_to_compile_is_a_check_error() {
    let out = rejected("rule \"huge\": title ~ /\\w{500}\\w{500}\\w{500}/ => +1\n");
    assert!(out.contains("too large"), "{out}");
    assert!(out.contains("adv.rules:1:"), "{out}");
}

#[test]
fn a_glob_with_many_stars_stays_linear_on_a_long_path() {
    let pack = Pack::from_source("adv", "rule \"g\": visited /a*a*a*a*a*a*a*a*b => +1\n").unwrap();
    let long = format!("/{}", "a".repeat(100_000));
    let lead = |path: &str| json!({"events": [{"type": "page_view", "path": path, "at": "2026-02-01T00:00:00Z"}]});
    let (miss, hit) = (lead(&long), lead(&format!("{long}b")));
    let scores = bounded(60, move || {
        let as_of = as_of();
        let miss: Vec<f64> = (0..20).map(|_| pack.score(&miss, as_of).unwrap().score).collect();
        (miss, pack.score(&hit, as_of).unwrap().score)
    });
    assert!(scores.0.iter().all(|&s| s == 0.0));
    assert_eq!(scores.1, 1.0);
}

// ---- leads -------------------------------------------------------------------------------

/// Scores JSON text both ways (text fast path, and `Value` when it parses) and checks they
/// agree; returns the text path's result.
fn both(pack: &Pack, text: &str) -> Result<leadscore::Outcome, EvalError> {
    let fast = pack.score_json(text, as_of());
    if let Ok(value) = serde_json::from_str::<Value>(text) {
        let slow = pack.score(&value, as_of());
        match (&fast, &slow) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "{text}"),
            (Err(a), Err(b)) => assert_eq!(a, b, "{text}"),
            _ => panic!("the paths disagree on {text}: {fast:?} vs {slow:?}"),
        }
    }
    fast
}

fn deep_json(depth: usize) -> String {
    format!(
        "{{\"title\": \"VP\", \"junk\": {}1{}}}",
        "[".repeat(depth),
        "]".repeat(depth)
    )
}

#[test]
fn a_lead_nested_10000_deep_is_an_error_on_both_paths() {
    let pack = b2b();
    let text = deep_json(10_000);
    let (fast, parsed) = bounded(60, move || {
        let parsed = serde_json::from_str::<Value>(&text)
            .map(|_| ())
            .map_err(|e| e.to_string());
        (pack.score_json(&text, as_of()).map(|_| ()), parsed)
    });
    assert!(
        matches!(&fast, Err(e) if invalid_json(e).is_some_and(|m| m.contains("recursion limit"))),
        "{fast:?}"
    );
    assert!(parsed.unwrap_err().contains("recursion limit"));
}

#[test]
fn a_deep_value_built_in_code_is_an_error_not_a_stack_overflow() {
    let pack = Pack::from_source("adv", "rule \"t\": tags contains \"x\" => +1\n").unwrap();
    let out = bounded(60, move || {
        let mut deep = json!("x");
        for _ in 0..100_000 {
            deep = Value::Array(vec![deep]);
        }
        let mut lead = json!({});
        lead["tags"] = deep; // not `json!`: it would serialize the value, recursively
        let result = pack.score(&lead, as_of()).map(|o| o.score);
        // serde_json drops values recursively: take it apart by hand.
        let mut next = lead.get_mut("tags").map(Value::take);
        while let Some(Value::Array(mut items)) = next {
            next = items.pop();
        }
        result
    });
    assert!(
        matches!(&out, Err(e) if invalid_json(e).is_some_and(|m| m.contains("nested"))),
        "{out:?}"
    );
}

/// What an "invalid JSON" error says, whichever reader found it.
fn invalid_json(error: &EvalError) -> Option<String> {
    match error {
        EvalError::Read(ReadError::Json(message)) => Some(message.clone()),
        EvalError::Read(ReadError::TooDeep(deep)) => Some(deep.to_string()),
        _ => None,
    }
}

#[test]
fn huge_and_negative_zero_numbers() {
    let pack = Pack::from_source(
        "adv",
        "rule \"zero\": n == 0 => +1\nrule \"neg\": n < 0 => +10\nrule \"big\": n > 1000 => +100\n",
    )
    .unwrap();
    // 1e400 is beyond f64: an error on the text path, and serde_json refuses it too.
    let err = both(&pack, r#"{"n": 1e400}"#).unwrap_err();
    assert!(
        invalid_json(&err).is_some_and(|m| m.contains("number out of range")),
        "{err:?}"
    );
    assert!(serde_json::from_str::<Value>(r#"{"n": 1e400}"#).is_err());
    // Also in a field the pack never reads: the text path must not be laxer than `Value`.
    let err = both(&pack, r#"{"junk": [1e400], "n": 0}"#).unwrap_err();
    assert!(
        invalid_json(&err).is_some_and(|m| m.contains("number out of range")),
        "{err:?}"
    );
    // As a string it is not a finite number: not comparable, no rule fires.
    assert_eq!(both(&pack, r#"{"n": "1e400"}"#).unwrap().score, 0.0);
    assert_eq!(both(&pack, r#"{"n": 1e300}"#).unwrap().score, 100.0);
    // -0 equals 0 and is not below it, as a number and as a string.
    for text in [r#"{"n": -0}"#, r#"{"n": -0.0}"#, r#"{"n": "-0"}"#] {
        assert_eq!(both(&pack, text).unwrap().score, 1.0, "{text}");
    }
}

#[test]
fn duplicate_keys_last_one_wins_on_both_paths() {
    let pack = b2b();
    let text = r#"{"title": "Student", "title": "VP Sales", "events": [{"type": "page_view", "path": "/careers", "at": "2026-02-01T00:00:00Z"}], "events": [{"type": "page_view", "path": "/pricing", "at": "2026-02-01T00:00:00Z"}]}"#;
    let outcome = both(&pack, text).unwrap();
    assert_eq!(outcome.disqualified(), None);
    let fired: Vec<&str> = outcome.fired().map(|f| f.rule()).collect();
    assert!(
        fired.contains(&"Senior title") && fired.contains(&"Pricing page"),
        "{fired:?}"
    );
    assert!(!fired.contains(&"Job seeker"), "{fired:?}");
}

#[test]
fn events_that_are_not_an_array_are_an_error() {
    let pack = b2b();
    for events in [r#"{"type": "page_view"}"#, r#""page_view""#, "5", "true"] {
        let text = format!(r#"{{"title": "VP", "events": {events}}}"#);
        assert_eq!(
            both(&pack, &text).unwrap_err(),
            EvalError::Read(ReadError::EventsNotArray),
            "{text}"
        );
    }
    // `null` is no events.
    assert_eq!(both(&pack, r#"{"title": "VP", "events": null}"#).unwrap().score, 15.0);
}

#[test]
fn event_times_that_do_not_parse_are_an_error_for_that_lead() {
    let pack = b2b();
    for at in [
        r#""yesterday""#,
        r#""2026-02-30T00:00:00Z""#,
        r#""+10000-01-01T00:00:00Z""#,
        "1700000000",
        "null",
    ] {
        let text = format!(r#"{{"events": [{{"type": "page_view", "path": "/pricing", "at": {at}}}]}}"#);
        let err = both(&pack, &text).unwrap_err();
        assert!(
            matches!(err, EvalError::Read(ReadError::BadEvent { index: 0, .. })),
            "{at}: {err:?}"
        );
    }
    // An event of a type the pack never tests is not read at all.
    let text = r#"{"events": [{"type": "chat", "at": "yesterday"}]}"#;
    assert_eq!(both(&pack, text).unwrap().score, 0.0);
}

#[test]
fn events_far_in_the_future_are_ignored() {
    let pack = b2b();
    let text = r#"{"title": "VP", "events": [
        {"type": "page_view", "path": "/pricing", "at": "9999-12-31T23:59:59Z"},
        {"type": "page_view", "path": "/pricing", "at": "2026-03-01T00:00:01Z"},
        {"type": "form_submit", "form": "demo-request", "at": "0001-01-01T00:00:00Z"}]}"#;
    let outcome = both(&pack, text).unwrap();
    let fired: Vec<&str> = outcome.fired().map(|f| f.rule()).collect();
    assert_eq!(fired, ["Senior title", "Demo request"]);
}

#[test]
fn escaped_surrogates_and_control_characters() {
    let pack = b2b();
    // A lone surrogate is not a string serde_json accepts: an error on both paths.
    assert!(matches!(both(&pack, r#"{"title": "\ud800"}"#), Err(e) if invalid_json(&e).is_some()));
    // NUL and other escapes are just characters.
    assert_eq!(both(&pack, r#"{"title": "VP\u0000\n"}"#).unwrap().score, 15.0);
}

// ---- batch mode: one bad lead never costs the others ----------------------------------------

fn score_file(path: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(["score", "--pack", "rules/b2b-saas", "--as-of", "2026-03-01T00:00:00Z"])
        .arg(path)
        .output()
        .unwrap()
}

fn stderr_lines(out: &std::process::Output) -> Vec<Value> {
    String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn in_a_batch_every_hostile_lead_fails_alone() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leads.jsonl");
    let good = r#"{"id": "good", "title": "VP Sales"}"#;
    let mut bytes = Vec::new();
    let bad: Vec<Vec<u8>> = vec![
        deep_json(10_000).into_bytes(),
        br#"{"id": "big", "n": 1e400}"#.to_vec(),
        b"{\"id\": \"latin1\", \"title\": \"caf\xe9\"}".to_vec(),
        br#"{"id": "ev", "events": {"type": "page_view"}}"#.to_vec(),
        br#"{"id": "time", "events": [{"type": "page_view", "path": "/x", "at": "soon"}]}"#.to_vec(),
        br#"["not", "an", "object"]"#.to_vec(),
        br#"{"id": "cut"#.to_vec(),
    ];
    for b in &bad {
        bytes.extend_from_slice(good.as_bytes());
        bytes.push(b'\n');
        bytes.extend_from_slice(b);
        bytes.push(b'\n');
    }
    bytes.extend_from_slice(good.as_bytes());
    std::fs::write(&path, bytes).unwrap();
    let out = score_file(&path);
    assert_eq!(out.status.code(), Some(1));
    let scored: Vec<Value> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(scored.len(), bad.len() + 1);
    assert!(scored.iter().all(|r| r["id"] == "good" && r["score"] == 15));
    let errors = stderr_lines(&out);
    let lines: Vec<u64> = errors.iter().map(|e| e["line"].as_u64().unwrap()).collect();
    assert_eq!(lines, [2, 4, 6, 8, 10, 12, 14]);
    let messages: Vec<&str> = errors.iter().map(|e| e["error"].as_str().unwrap()).collect();
    assert!(messages[0].contains("recursion limit"), "{messages:?}");
    assert!(messages[1].contains("number out of range"), "{messages:?}");
    assert!(messages[2].contains("not valid UTF-8"), "{messages:?}");
    assert!(messages[3].contains("`events` must be an array"), "{messages:?}");
    assert!(messages[4].contains("RFC 3339"), "{messages:?}");
    assert!(messages[5].contains("JSON object"), "{messages:?}");
    assert!(messages[6].contains("EOF"), "{messages:?}");
}

#[test]
fn a_100_mb_line_is_scored_and_so_are_its_neighbours() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leads.jsonl");
    let mut text = String::with_capacity(101 << 20);
    text += "{\"id\": \"before\", \"title\": \"VP\"}\n";
    // 100 MB in a field the pack reads (title, matched by words and a regex) ...
    text += "{\"id\": \"huge\", \"title\": \"";
    text.extend(std::iter::repeat_n("abcdefghi ", 10 << 20));
    text += "VP\"}\n";
    text += "{\"id\": \"after\", \"title\": \"VP\"}\n";
    std::fs::write(&path, &text).unwrap();
    drop(text);
    let out = bounded(300, move || score_file(&path));
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let ids: Vec<(String, i64)> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .map(|r| (r["id"].as_str().unwrap().to_string(), r["score"].as_i64().unwrap()))
        .collect();
    assert_eq!(ids, [("before".into(), 15), ("huge".into(), 15), ("after".into(), 15)]);
}

/// `--max-line-bytes`: a line over the limit is that line's error and is read past, in a
/// chunk, across chunks (the line is longer than the reader's 256 KiB chunk) and at the
/// end of the file without a line break; the lines around them are scored.
#[test]
fn a_line_over_the_limit_fails_alone_wherever_it_ends() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("leads.jsonl");
    let lead =
        |id: &str, title_len: usize| format!("{{\"id\": \"{id}\", \"title\": \"VP {}\"}}", "x".repeat(title_len));
    let text = [
        lead("a", 10),
        lead("short-over", 2_000),
        lead("b", 10),
        lead("chunks-over", 700_000),
        lead("c", 10),
        lead("at-the-limit", 1_000 - 38),
        lead("one-over", 1_000 - 34 + 1),
        lead("end-over", 5_000),
    ]
    .join("\n");
    assert_eq!(lead("at-the-limit", 1_000 - 38).len(), 1_000);
    assert_eq!(lead("one-over", 1_000 - 34 + 1).len(), 1_001);
    std::fs::write(&path, text).unwrap();
    let out = bounded(60, move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_leadscore"))
            .args(["score", "--pack", "rules/b2b-saas", "--as-of", "2026-03-01T00:00:00Z"])
            .args(["--max-line-bytes", "1000"])
            .arg(&path)
            .output()
            .unwrap()
    });
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, ["a", "b", "c", "at-the-limit"]);
    let errors = stderr_lines(&out);
    let lines: Vec<i64> = errors.iter().map(|e| e["line"].as_i64().unwrap()).collect();
    assert_eq!(lines, [2, 4, 7, 8], "{errors:?}");
    assert!(errors.iter().all(|e| e["error"]
        .as_str()
        .unwrap()
        .contains("longer than 1000 bytes (see --max-line-bytes)")));
}

/// A 50 MB pack: about 570,000 rules. Ignored in the normal run (about 3 minutes in a debug
/// build); `a_hundred_thousand_lets` guards the same linear behaviour at 3 MB. Run with
/// `cargo test --test it -- --ignored fifty --nocapture` (timings in docs/src/hardening.md).
#[test]
#[ignore]
fn a_rules_file_of_fifty_megabytes() {
    let mut text = String::from("dimension fit\n");
    let mut i = 0;
    while text.len() < 50 << 20 {
        text += &format!("rule \"r{i}\": title ~ \"w{i}\" and visited /p{i}/* at least 2 times => +1 fit # {i}\n");
        i += 1;
    }
    let started = std::time::Instant::now();
    let pack = bounded(3_600, move || Pack::from_source("big", &text).unwrap());
    eprintln!("{i} rules, 50 MB: loaded in {:?}", started.elapsed());
    assert_eq!(pack.program().rule_count(), i);
    let lead = json!({"title": "w7", "events": [
        {"type": "page_view", "path": "/p7/a", "at": "2026-02-01T00:00:00Z"},
        {"type": "page_view", "path": "/p7/b", "at": "2026-02-02T00:00:00Z"}]});
    let started = std::time::Instant::now();
    assert_eq!(pack.score(&lead, as_of()).unwrap().score, 1.0);
    eprintln!("scored one lead in {:?}", started.elapsed());
}

/// Each unknown name is compared with every known one for a "did you mean"; with thousands
/// of them that took seconds. The first 100 get a suggestion, the rest are reported bare.
#[test]
fn only_the_first_hundred_unknown_names_get_a_suggestion() {
    let mut text = String::from("dimension fit\n");
    for i in 0..150 {
        text += &format!("let customer_tier_{i:03} = title ~ w{i}\n");
    }
    for i in 0..150 {
        text += &format!("rule \"r{i}\": customer_tire_{i:03} => +1 fit\n");
    }
    let out = rejected(&text);
    assert_eq!(out.matches("unknown name `customer_tire_").count(), 150, "{out}");
    assert_eq!(out.matches("did you mean `customer_tier_").count(), 100, "{out}");
    assert!(out.contains("did you mean `customer_tier_000`?"), "{out}");
    assert!(!out.contains("did you mean `customer_tier_149`?"), "{out}");
}

#[test]
fn numbers_past_the_range_of_f64_in_rules_are_check_errors() {
    let big = format!("1{}", "0".repeat(400));
    let text = format!(
        "threshold {big}\ncap fit at {big}\nrule \"a\": n > {big} => +1\nrule \"b\": n in [{big}] => +1\n\
         rule \"c\": title ~ VP => +{big} fit\nrule \"d\": visited /x => +1 each max {big}\n"
    );
    let out = rejected(&text);
    assert_eq!(out.matches("this number is too large").count(), 6, "{out}");
}

// ---- found by fuzzing (reproducers in tests/it/fuzz_found/) --------------------------------

/// `score_lead`: a parent key given twice (`company` with `size`, then `company` without):
/// the text path kept `company.size` from the first, the `Value` path (last wins) did not.
#[test]
fn fuzz_duplicate_parent_key_last_one_wins() {
    let text = std::fs::read_to_string("tests/it/fuzz_found/score_lead-duplicate-parent-key.json").unwrap();
    let agency = Pack::load("rules/agency").unwrap();
    both(&agency, &text).unwrap();
    let pack = Pack::from_source("adv", "rule \"big\": company.size >= 50 => +1\n").unwrap();
    for (text, score) in [
        (r#"{"company": {"size": 100}, "company": {"name": "x"}}"#, 0.0),
        (r#"{"company": {"size": 100}, "company": 5}"#, 0.0),
        (r#"{"company": {"name": "x"}, "company": {"size": 100}}"#, 1.0),
        // The nested path wins over a key with the dots in it, in any order ...
        (r#"{"company": {"size": 1}, "company.size": 100}"#, 0.0),
        (r#"{"company.size": 100, "company": {"size": 1}}"#, 0.0),
        (r#"{"company": {"size": null}, "company.size": 100}"#, 0.0),
        // ... which is used when the nested path is not there.
        (r#"{"company": {"name": "x"}, "company.size": 100}"#, 1.0),
        (r#"{"company.size": 1, "company.size": 100}"#, 1.0),
        (r#"{"company": {"size": 100}, "company": {}, "company.size": 100}"#, 1.0),
    ] {
        assert_eq!(both(&pack, text).unwrap().score, score, "{text}");
    }
}

/// `score_lead`: `events` given twice, first not an array: the text path failed on the
/// first, the `Value` path (last wins) scored the second. Errors in an `events` value
/// now count only if no later `events` key replaces it.
#[test]
fn fuzz_duplicate_events_key_last_one_wins() {
    let text = std::fs::read_to_string("tests/it/fuzz_found/score_lead-duplicate-events-key.json").unwrap();
    let b2b = b2b();
    assert_eq!(both(&b2b, &text).unwrap().disqualified(), Some("student"));
    let good = r#"[{"type": "page_view", "path": "/pricing", "at": "2026-02-01T00:00:00Z"}]"#;
    let bad = r#"[{"type": "page_view", "path": "/x", "at": "soon"}, {"type": 5}]"#;
    for first in ["\"US\"", "{}", "5", bad] {
        let text = format!(r#"{{"events": {first}, "events": {good}}}"#);
        assert_eq!(
            both(&b2b, &text).unwrap().tags().collect::<Vec<_>>(),
            ["pricing"],
            "{text}"
        );
        let text = format!(r#"{{"events": {good}, "events": {first}}}"#);
        assert!(both(&b2b, &text).is_err(), "{text}");
    }
    // Within one array the first bad event is the error, as on the `Value` path.
    let err = both(&b2b, &format!(r#"{{"events": {bad}}}"#)).unwrap_err();
    assert!(
        matches!(err, EvalError::Read(ReadError::BadEvent { index: 0, .. })),
        "{err:?}"
    );
}

#[test]
fn rule_locations_come_from_the_line_index() {
    let text = "rule \"a\": title ~ VP => +1\n\n# c\nrule \"b\":\n  title ~ VP => +1\r\nrule \"c\": title ~ VP => +1";
    let pack = Pack::from_source("adv", text).unwrap();
    let outcome = pack.score(&json!({"title": "VP"}), as_of()).unwrap();
    let at: Vec<&str> = outcome.fired().map(|f| f.location()).collect();
    assert_eq!(at, ["adv.rules:1", "adv.rules:4", "adv.rules:6"]);
}

#[test]
fn a_csv_given_as_rules_stops_after_100_errors() {
    let text: String = (0..100_000).map(|i| format!("{i},VP Sales,acme,{}\n", i * 7)).collect();
    let out = bounded(120, move || rejected(&text));
    assert!(
        out.contains("more than 100 syntax errors: the rest of this file was not read"),
        "{out}"
    );
    assert!(
        out.ends_with("101 errors found\n"),
        "{}",
        &out[out.len().saturating_sub(200)..]
    );
}
