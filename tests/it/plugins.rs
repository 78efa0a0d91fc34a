//! Rhai plugins: enrichment hooks, functions in conditions, the checks on both, and the
//! sandbox that turns a misbehaving script into an error for one lead.

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use leadscore::{EvalError, Loader, Pack, PluginError};
use serde_json::json;

const LIB: &str = "tests/fixtures/plugins/lib";

fn as_of(text: &str) -> chrono::DateTime<chrono::Utc> {
    leadscore::parse_time(text).unwrap()
}

/// A pack from rule text, with plugins from the shipped `plugins/` and the test fixtures.
fn pack(rules: &str) -> Pack {
    loader().from_source("test", rules).unwrap_or_else(|e| panic!("{e}"))
}

fn loader() -> Loader {
    Loader::new().plugin_path(["plugins", LIB])
}

/// The rendered diagnostics of a pack that must not load.
fn rejected(rules: &str) -> String {
    match loader().from_source("test", rules) {
        Ok(_) => panic!("the pack loaded"),
        Err(leadscore::Error::Pack(errors)) => errors.render(false),
        Err(other) => panic!("not a pack error: {other}"),
    }
}

fn plugin_error(result: Result<leadscore::Outcome, EvalError>) -> PluginError {
    match result {
        Err(EvalError::Plugin(e)) => e,
        other => panic!("expected a plugin error, got {other:?}"),
    }
}

#[test]
fn enrichment_fields_are_read_by_rules_like_input_fields() {
    let pack = pack("dimension fit\nplugin \"seniority\"\nrule \"VP\": seniority == \"vp\" => +15 fit\n");
    let outcome = pack
        .score(
            &json!({"title": "Vice President, Sales"}),
            as_of("2026-03-01T00:00:00Z"),
        )
        .unwrap();
    assert_eq!(outcome.score, 15.0);
    assert_eq!(outcome.fired().next().unwrap().rule(), "VP");
    assert_eq!(outcome.enriched.len(), 1);
    assert_eq!(outcome.enriched[0].plugin, "seniority");
    assert_eq!(outcome.enriched[0].fields["seniority"], json!("vp"));
    let other = pack
        .score(&json!({"title": "SVP Operations"}), as_of("2026-03-01T00:00:00Z"))
        .unwrap();
    assert_eq!(other.score, 15.0, "svp is a vp title");
    let ic = pack
        .score(&json!({"title": "Staff Engineer"}), as_of("2026-03-01T00:00:00Z"))
        .unwrap();
    assert_eq!(ic.score, 0.0);
    assert_eq!(ic.enriched[0].fields["seniority"], json!("ic"));
}

#[test]
fn the_explanation_says_which_fields_a_hook_set() {
    let pack = pack("threshold 15\nplugin \"seniority\"\nrule \"VP\": seniority == \"vp\" => +15\n");
    let outcome = pack
        .score(&json!({"title": "VP Marketing"}), as_of("2026-03-01T00:00:00Z"))
        .unwrap();
    insta::assert_snapshot!(pack.explain(&outcome).to_string(), @r#"
    score 15 — MQL
      enriched by seniority: seniority = "vp"
      rule   points  dimension  location
      VP        +15  -          test.rules:3
      mql when: score >= 15
    "#);
}

#[test]
fn a_dotted_key_sets_a_nested_field_and_a_plain_key_overwrites() {
    let pack =
        pack("plugin \"tier\"\ncompany.tier == \"big\" => +1\nregion == \"EMEA\" => +2\ncompany.size >= 50 => +4\n");
    let lead = json!({"region": "NY", "company": {"size": 80}});
    let outcome = pack.score(&lead, as_of("2026-03-01T00:00:00Z")).unwrap();
    assert_eq!(
        outcome.score, 7.0,
        "nested field set, region overwritten, company.size kept"
    );
    let from_text = pack
        .score_json(&lead.to_string(), as_of("2026-03-01T00:00:00Z"))
        .unwrap();
    assert_eq!(from_text, outcome);
    let flat = pack.score(&json!({"company": "Acme"}), as_of("2026-03-01T00:00:00Z"));
    let error = plugin_error(flat);
    assert_eq!(
        error.message,
        "returned the field `company.tier`, but the lead's `company` is not an object"
    );
}

#[test]
fn hooks_run_in_the_order_the_pack_names_them() {
    let pack = pack("plugin \"tier\"\nplugin \"second\"\ntier_seen == \"big\" => +1\n");
    let outcome = pack.score(&json!({}), as_of("2026-03-01T00:00:00Z")).unwrap();
    assert_eq!(outcome.score, 1.0);
    let plugins: Vec<&str> = outcome.enriched.iter().map(|e| e.plugin.as_str()).collect();
    assert_eq!(plugins, ["tier", "second"]);
}

#[test]
fn scoring_json_text_and_values_agree_with_hooks() {
    let pack = pack("plugin \"seniority\"\nseniority == \"director\" => +5\n");
    let text = r#"{"id": "L1", "title": "Director of Sales"}"#;
    let t = as_of("2026-03-01T00:00:00Z");
    let from_text = pack.score_json(text, t).unwrap();
    let from_value = pack.score(&serde_json::from_str(text).unwrap(), t).unwrap();
    assert_eq!(from_text, from_value);
    assert_eq!(from_text.score, 5.0);
    assert_eq!(from_text.id, Some(json!("L1")));
}

#[test]
fn a_custom_function_decides_a_condition() {
    let pack = pack("plugin \"email\"\nrule \"Competitor\": is_competitor(email) => disqualify \"competitor\"\n");
    let t = as_of("2026-03-01T00:00:00Z");
    let rival = pack.score(&json!({"email": "Sam@Sales.LeadRival.com"}), t).unwrap();
    assert_eq!(rival.disqualified(), Some("competitor"));
    let customer = pack.score(&json!({"email": "sam@acme.com"}), t).unwrap();
    assert_eq!(customer.disqualified(), None);
    let missing = pack.score(&json!({}), t).unwrap();
    assert_eq!(
        missing.disqualified(),
        None,
        "a missing field is passed as () and is no competitor"
    );
    assert!(customer.enriched.is_empty(), "functions are not hooks");
}

#[test]
fn a_function_value_is_compared_like_a_field() {
    let pack = pack("plugin \"firmographics\"\nsize_tier(company.size) == \"mid-market\" => +10\n");
    let t = as_of("2026-03-01T00:00:00Z");
    assert_eq!(pack.score(&json!({"company": {"size": "250"}}), t).unwrap().score, 10.0);
    assert_eq!(pack.score(&json!({"company": {"size": 2500}}), t).unwrap().score, 0.0);
    assert_eq!(pack.score(&json!({"company": {}}), t).unwrap().score, 0.0);
}

#[test]
fn days_since_counts_from_as_of_not_the_clock() {
    let pack = pack("plugin \"firmographics\"\nrule \"Funded\": days_since(funded_at) <= 180 => +10\nrule \"59 days\": days_since(funded_at) == 59 => +1\n");
    let lead = json!({"funded_at": "2026-01-01T00:00:00Z"});
    // Scored just after the funding: both rules.
    assert_eq!(pack.score(&lead, as_of("2026-03-01T00:00:00Z")).unwrap().score, 11.0);
    // A year later: neither, whatever the clock says today.
    assert_eq!(pack.score(&lead, as_of("2027-01-01T00:00:00Z")).unwrap().score, 0.0);
    // Far in the past (before the funding): a negative count, still <= 180.
    assert_eq!(pack.score(&lead, as_of("2020-01-01T00:00:00Z")).unwrap().score, 10.0);
}

#[test]
fn hooks_are_given_as_of() {
    let pack = pack("plugin \"clock\"\n");
    let t = as_of("2026-03-01T12:00:00Z");
    let outcome = pack.score(&json!({}), t).unwrap();
    assert_eq!(outcome.enriched[0].fields["scored_at"], json!(t.timestamp_millis()));
}

#[test]
fn a_hook_is_given_events_only_when_its_script_names_them() {
    let lead = json!({"title": "CEO", "events": [{"type": "page_view", "path": "/", "at": "2026-02-01T00:00:00Z"}]});
    let t = as_of("2026-03-01T00:00:00Z");
    let shape = pack("plugin \"shape\"\n").score(&lead, t).unwrap();
    assert_eq!(shape.enriched[0].fields["field_count"], json!(1), "events skipped");
    let counter = pack("plugin \"counter\"\n").score(&lead, t).unwrap();
    assert_eq!(counter.enriched[0].fields["event_count"], json!(1));
}

#[test]
fn a_thrown_error_fails_the_lead_with_plugin_function_and_place() {
    let pack = pack("plugin \"grumpy\"\ncheck_domain(domain) => +1\n");
    let t = as_of("2026-03-01T00:00:00Z");
    let error = plugin_error(pack.score(&json!({"domain": "bad.example"}), t));
    assert_eq!(
        error.to_string(),
        "plugin `grumpy`, function `check_domain` at 4:9, called by the rule at test.rules:2: threw: domain is on the block list"
    );
    assert_eq!(pack.score(&json!({"domain": "good.example"}), t).unwrap().score, 1.0);
}

#[test]
fn a_pack_limit_overrides_the_default_budget() {
    let t = as_of("2026-03-01T00:00:00Z");
    let roomy = pack("plugin \"busy\"\nspin(n) => +1\n");
    assert_eq!(roomy.score(&json!({"n": 2000}), t).unwrap().score, 1.0);
    let tight = pack("limit operations 1000\nplugin \"busy\"\nspin(n) => +1\n");
    assert_eq!(tight.limits().operations, 1000);
    let error = plugin_error(tight.score(&json!({"n": 2000}), t));
    assert_eq!(error.function, "spin");
    assert!(
        error
            .message
            .starts_with("stopped after 1000 operations (limit `operations`)"),
        "{}",
        error.message
    );
    assert!(error.at.is_some(), "a limit error still says where");
    assert_eq!(tight.score(&json!({"n": 10}), t).unwrap().score, 1.0);
}

#[test]
fn the_loader_limits_apply_when_the_pack_sets_none() {
    let limits = leadscore::Limits {
        operations: 500,
        ..leadscore::Limits::default()
    };
    let pack = loader()
        .limits(limits)
        .from_source("test", "plugin \"busy\"\nspin(n) => +1\n")
        .unwrap();
    let error = plugin_error(pack.score(&json!({"n": 2000}), as_of("2026-03-01T00:00:00Z")));
    assert!(
        error.message.starts_with("stopped after 500 operations"),
        "{}",
        error.message
    );
}

#[test]
fn a_pack_lists_its_plugin_files_and_hashes_them_into_its_version() {
    let with = pack("plugin \"email\"\nis_free_email(email) => -5\n");
    let files: Vec<_> = with.plugin_files().collect();
    assert_eq!(files, [std::path::Path::new("plugins/email.rhai")]);
    let other = loader()
        .plugin_path([LIB, "plugins"])
        .from_source("test", "plugin \"email\"\nis_free_email(email) => -5\n")
        .unwrap();
    assert_eq!(with.id(), other.id(), "same files, same version");
}

// --- check errors, as rendered ---

#[test]
fn an_unknown_function_is_rejected_with_a_suggestion() {
    insta::assert_snapshot!(rejected(
        "plugin \"email\"\nis_competiter(email) => disqualify \"competitor\"\n"
    ));
}

#[test]
fn a_call_with_the_wrong_number_of_arguments_is_rejected() {
    insta::assert_snapshot!(rejected(
        "plugin \"email\"\nis_competitor(email, title) => disqualify \"competitor\"\n"
    ));
}

#[test]
fn an_unknown_plugin_is_rejected_with_a_suggestion() {
    insta::assert_snapshot!(rejected("plugin \"senority\"\nplugin \"nothing-like-it\"\n"));
}

#[test]
fn plugin_names_that_leave_the_plugin_folders_are_rejected() {
    insta::assert_snapshot!(rejected(
        "plugin \"../secrets/x\"\nplugin \"/etc/passwd\"\nplugin \"..\"\n"
    ));
}

#[test]
fn a_plugin_named_twice_and_bad_limits_are_rejected() {
    insta::assert_snapshot!(rejected(
        "plugin \"email\"\nplugin \"email\"\nlimit operation 5000\nlimit call_depth 0\nlimit call_depth 1000\n"
    ));
}

#[test]
fn an_overloaded_function_is_rejected() {
    insta::assert_snapshot!(rejected("plugin \"overloaded\"\n"));
}

#[test]
fn a_plugin_syntax_error_is_shown_against_the_plugin_file() {
    let error = Loader::new().load("tests/fixtures/plugins/broken").unwrap_err();
    let leadscore::Error::Pack(errors) = error else {
        panic!("not a pack error: {error}")
    };
    let text = errors.render(false);
    assert!(
        !text.contains("unknown function"),
        "calls into a plugin that failed are not reported again"
    );
    insta::assert_snapshot!(text);
}

// --- the sandbox, through `leadscore score` ---

/// Runs `leadscore score` on the sandbox fixture pack with `leads` on stdin; gives up
/// (and fails) after a minute rather than hang the test run.
fn score_sandbox(leads: &str) -> (String, String, Option<i32>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args([
            "score",
            "--pack",
            "tests/fixtures/plugins/sandbox",
            "--as-of",
            "2026-03-01T00:00:00Z",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(leads.as_bytes()).unwrap();
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            child.kill().unwrap();
            panic!("leadscore score did not finish within a minute");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().unwrap();
    let text = |b: Vec<u8>| String::from_utf8(b).unwrap();
    (text(output.stdout), text(output.stderr), output.status.code())
}

#[test]
fn a_misbehaving_plugin_fails_only_its_lead() {
    let leads = [
        r#"{"id": "good-1", "trap": "none"}"#,
        r#"{"id": "loop", "trap": "loop"}"#,
        r#"{"id": "good-2", "trap": "none"}"#,
        r#"{"id": "recursion", "trap": "recursion"}"#,
        r#"{"id": "string", "trap": "string"}"#,
        r#"{"id": "throw", "trap": "throw"}"#,
        r#"{"id": "good-3", "trap": "none"}"#,
    ];
    let (stdout, stderr, code) = score_sandbox(&(leads.join("\n") + "\n"));
    assert_eq!(code, Some(1), "some leads failed: exit 1\n{stderr}");
    let scored: Vec<serde_json::Value> = stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let ids: Vec<&str> = scored.iter().map(|o| o["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["good-1", "good-2", "good-3"]);
    assert!(scored.iter().all(|o| o["mql"] == json!(true)));
    insta::assert_snapshot!(stderr);
}

/// Loads a one-plugin pack whose script is `script`, written to a temporary folder.
fn with_script(script: &str, rules: &str) -> Result<Pack, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("probe.rhai"), script).unwrap();
    let result = Loader::new()
        .plugin_path([dir.path()])
        .from_source("test", &format!("plugin \"probe\"\n{rules}"));
    result.map_err(|e| match e {
        leadscore::Error::Pack(errors) => errors
            .errors()
            .iter()
            .map(|e| e.to_string())
            .collect::<Vec<_>>()
            .join("\n"),
        other => other.to_string(),
    })
}

#[test]
fn the_sandbox_has_no_eval_import_or_sleep() {
    let eval = with_script("fn probe(x) { eval(\"1 + 1\") == 2 }", "probe(title) => +1").unwrap_err();
    assert!(eval.starts_with("plugin `probe` does not parse"), "{eval}");
    assert!(eval.contains("eval"), "{eval}");
    let import = with_script("import \"os\" as os;\nfn probe(x) { true }", "probe(title) => +1").unwrap_err();
    assert!(import.starts_with("plugin `probe` does not parse"), "{import}");
    let sleep = with_script("fn probe(x) { sleep(5); true }", "probe(title) => +1").unwrap();
    let error = plugin_error(sleep.score(&json!({"title": "x"}), as_of("2026-03-01T00:00:00Z")));
    assert!(
        error.message.starts_with("Function not found: sleep"),
        "{}",
        error.message
    );
}

#[test]
fn a_function_must_answer_a_test_with_true_or_false() {
    let pack = with_script("fn probe(x) { 42 }", "probe(title) => +1").unwrap();
    let result = pack.score(&json!({"title": "x"}), as_of("2026-03-01T00:00:00Z"));
    assert_eq!(
        result.unwrap_err().to_string(),
        "`probe` returned 42, not true or false, in the rule at test.rules:2"
    );
}

#[test]
fn a_hook_must_return_a_map() {
    let pack = with_script("fn enrich(lead) { \"vp\" }", "").unwrap();
    let error = plugin_error(pack.score(&json!({}), as_of("2026-03-01T00:00:00Z")));
    assert_eq!(
        error.message,
        "returned a string; it must return a map of fields, like #{seniority: \"vp\"}"
    );
}

#[test]
fn a_pack_s_own_plugins_folder_comes_before_the_search_path() {
    let pack = Pack::load("tests/fixtures/plugins/local").unwrap();
    let t = as_of("2026-03-01T00:00:00Z");
    let local = pack.score(&json!({"email": "jo@example.com"}), t).unwrap();
    assert_eq!(local.disqualified(), Some("competitor"));
    let shared = pack.score(&json!({"email": "jo@leadrival.com"}), t).unwrap();
    assert_eq!(shared.disqualified(), None, "the shared email.rhai is not used");
    assert_eq!(
        pack.plugin_files().collect::<Vec<_>>(),
        [std::path::Path::new("tests/fixtures/plugins/local/plugins/email.rhai")]
    );
}

#[test]
fn the_command_line_takes_a_plugin_search_path() {
    let run = |extra: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_leadscore"))
            .args(["check", "tests/fixtures/plugins/uses-lib"])
            .args(extra)
            .output()
            .unwrap()
    };
    let without = run(&[]);
    assert_eq!(without.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&without.stderr).contains("unknown plugin `tier`"));
    let with = run(&["--plugins", LIB]);
    assert_eq!(with.status.code(), Some(0), "{}", String::from_utf8_lossy(&with.stderr));
}

#[test]
fn the_seniority_plugin_reads_common_titles() {
    let pack = pack("plugin \"seniority\"\n");
    let t = as_of("2026-03-01T00:00:00Z");
    let level = |title: &str| {
        let outcome = pack.score(&json!({ "title": title }), t).unwrap();
        outcome.enriched[0].fields["seniority"].as_str().unwrap().to_string()
    };
    let cases = [
        ("Chief Revenue Officer", "c-level"),
        ("Co-Founder & CEO", "c-level"),
        ("Vice President, Marketing", "vp"),
        ("EVP Sales", "vp"),
        ("Head of Growth", "director"),
        ("Director of Operations", "director"),
        ("Marketing Manager", "manager"),
        ("Team Lead, Platform", "manager"),
        ("Staff Engineer", "ic"),
        ("Graduate Student", "student"),
        ("Finance Intern", "student"),
    ];
    for (title, expected) in cases {
        assert_eq!(level(title), expected, "{title}");
    }
    let none = pack.score(&json!({ "title": 42 }), t).unwrap();
    assert!(none.enriched.is_empty(), "no title, nothing set");
}

#[test]
fn a_hook_may_replace_the_events_rules_count() {
    let pack = pack("plugin \"replay\"\nvisited /pricing => +3\nvisited /blog => +100\n");
    let lead = json!({"events": [{"type": "page_view", "path": "/blog", "at": "2026-02-01T00:00:00Z"}]});
    let t = as_of("2026-03-01T00:00:00Z");
    assert_eq!(pack.score(&lead, t).unwrap().score, 3.0);
    assert_eq!(pack.score_json(&lead.to_string(), t).unwrap().score, 3.0);
}

#[test]
fn enriched_fields_sit_beside_flat_dotted_columns() {
    // A CSV export writes `company.size` as one key; the hook sets `company.tier` nested.
    let pack = pack("plugin \"tier\"\ncompany.size >= 50 => +1\ncompany.tier == \"big\" => +2\nid == 7 => +4\n");
    let outcome = pack
        .score(&json!({"id": 7, "company.size": "80"}), as_of("2026-03-01T00:00:00Z"))
        .unwrap();
    assert_eq!(outcome.score, 7.0);
    assert_eq!(outcome.id, Some(json!(7)));
    let text = r#"{"id": 7, "company.size": "80", "events": [{"type": "x", "at": "2026-01-01T00:00:00Z"}]}"#;
    let from_text = pack.score_json(text, as_of("2026-03-01T00:00:00Z")).unwrap();
    assert_eq!(
        from_text.score, 7.0,
        "the same from JSON text, where the hook is given the lead without events"
    );
}
