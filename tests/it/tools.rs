//! Hardening the tools (issue 24, items 7–19): files that are not files, CSV bounds,
//! escapes in rendered text, silent skips and typos, the language server. Each test runs
//! the real binary on one hostile input, killed (and failed) if it does not end in time.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::cli::Run;

const AS_OF: &str = "2026-03-01T00:00:00Z";
const LIMIT: Duration = Duration::from_secs(20);
const SECRET: &str = "tools-test-secret-4f1d";

/// `leadscore ARGS` in `dir` with `stdin`, `LEADSCORE_TEST_SECRET` in its environment,
/// killed and failed if it runs past [`LIMIT`].
fn leadscore(dir: &Path, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(args)
        .current_dir(dir)
        .env_remove("LEADSCORE_HISTORY")
        .env("LEADSCORE_TEST_SECRET", SECRET)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut input = child.stdin.take().unwrap();
    let stdin = stdin.to_string();
    let writer = std::thread::spawn(move || {
        let _ = input.write_all(stdin.as_bytes());
    });
    let drain = |mut from: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = from.read_to_end(&mut bytes);
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > LIMIT {
            child.kill().unwrap();
            let _ = child.wait();
            panic!("leadscore {args:?} did not finish within {LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    writer.join().unwrap();
    Run {
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
        code: status.code().unwrap_or(-1),
    }
}

/// A pack folder with `main.rules` holding `rules`.
fn pack(rules: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.rules"), rules).unwrap();
    dir
}

fn write(dir: &Path, rel: &str, text: &str) -> PathBuf {
    let path = dir.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

fn fifo(path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    assert!(Command::new("mkfifo").arg(path).status().unwrap().success());
}

fn link(target: &str, path: &Path) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(target, path).unwrap();
}

/// The run failed with exit 2, naming `name`, and nothing of the environment leaked.
#[track_caller]
fn refused(run: &Run, name: &str) {
    assert_eq!(run.code, 2, "stdout: {}\nstderr: {}", run.stdout, run.stderr);
    assert!(run.stderr.contains(name), "the error names {name}: {}", run.stderr);
    assert!(
        !run.stderr.contains(SECRET) && !run.stdout.contains(SECRET),
        "{}",
        run.stderr
    );
}

const RULES: &str = "threshold 10\nrule \"VP\": title ~ VP => +15\n";

mod files {
    use super::*;

    #[test]
    fn a_rule_file_linked_into_proc_is_refused_unread() {
        for target in ["/proc/self/environ", "/proc/kmsg"] {
            let dir = pack(RULES);
            link(target, &dir.path().join("env.rules"));
            let run = leadscore(dir.path(), &["check", "."], "");
            refused(&run, "env.rules");
            assert!(run.stderr.contains("under /proc"), "{}", run.stderr);
        }
    }

    #[test]
    fn a_fifo_rule_file_fails_check_without_hanging() {
        let dir = pack(RULES);
        fifo(&dir.path().join("pipe.rules"));
        let run = leadscore(dir.path(), &["check", "."], "");
        refused(&run, "pipe.rules");
        assert!(run.stderr.contains("not a regular file"), "{}", run.stderr);
    }

    #[test]
    fn a_plugin_linked_to_the_environment_is_refused() {
        let dir = pack("plugin \"env\"\nrule \"VP\": title ~ VP => +15\n");
        link("/proc/self/environ", &dir.path().join("plugins/env.rhai"));
        let run = leadscore(dir.path(), &["check", "."], "");
        refused(&run, "env");
        assert!(run.stderr.contains("under /proc"), "{}", run.stderr);
    }

    #[test]
    fn explain_refuses_devices_fifos_and_proc() {
        let dir = pack(RULES);
        fifo(&dir.path().join("lead.json"));
        link("/proc/self/environ", &dir.path().join("env.json"));
        for lead in ["/dev/zero", "lead.json", "env.json"] {
            let run = leadscore(dir.path(), &["explain", "--pack", ".", "--as-of", AS_OF, lead], "");
            refused(&run, lead);
        }
    }

    #[test]
    fn score_refuses_a_fifo_and_dev_zero_as_lead_files() {
        let dir = pack(RULES);
        fifo(&dir.path().join("leads.jsonl"));
        for input in ["leads.jsonl", "/dev/zero"] {
            let run = leadscore(dir.path(), &["score", "--pack", ".", "--as-of", AS_OF, input], "");
            refused(&run, input);
        }
        let csv = leadscore(
            dir.path(),
            &["score", "--pack", ".", "--format", "csv", "/dev/zero"],
            "",
        );
        refused(&csv, "/dev/zero");
    }

    #[test]
    fn a_test_case_whose_lead_is_dev_zero_fails_the_test_run() {
        let dir = pack(RULES);
        let case = "[[case]]\nname = \"zero\"\nlead = \"/dev/zero\"\nscore = 0\n";
        write(dir.path(), "tests/cases.toml", case);
        let run = leadscore(dir.path(), &["test", "."], "");
        assert_eq!(run.code, 2, "{}{}", run.stdout, run.stderr);
        assert!(format!("{}{}", run.stdout, run.stderr).contains("/dev/zero"));
    }

    #[test]
    fn repl_lead_and_save_refuse_what_is_not_a_file() {
        let dir = pack(RULES);
        fifo(&dir.path().join("pipe"));
        let script = ":lead /dev/zero\n:lead pipe\n:save pipe\n:save /dev/full\n";
        let run = leadscore(dir.path(), &["repl", "."], script);
        let all = format!("{}{}", run.stdout, run.stderr);
        assert_eq!(all.matches("not a regular file").count(), 2, "{all}");
        assert_eq!(all.matches("under /dev").count(), 2, "{all}");
        let start = leadscore(dir.path(), &["repl", ".", "--lead", "/dev/zero"], "");
        refused(&start, "/dev/zero");
    }

    #[test]
    fn watch_refuses_a_fifo_for_leads() {
        let dir = pack(RULES);
        fifo(&dir.path().join("leads.jsonl"));
        let run = leadscore(dir.path(), &["watch", "--pack", ".", "--leads", "leads.jsonl"], "");
        refused(&run, "leads.jsonl");
    }
}

mod csv {
    use super::*;

    /// Runs `leadscore score` with `input` written to a file named `leads.csv`.
    fn score_csv(dir: &Path, input: &[u8], extra: &[&str]) -> Run {
        std::fs::write(dir.join("leads.csv"), input).unwrap();
        let mut args = vec!["score", "--pack", ".", "--as-of", AS_OF];
        args.extend(extra);
        args.push("leads.csv");
        leadscore(dir, &args, "")
    }

    #[test]
    fn a_record_past_max_line_bytes_ends_the_read_naming_its_line() {
        let dir = pack(RULES);
        let mut input = b"id,title\n1,VP\n2,\"".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3 << 20));
        input.extend(b"\"\n3,VP\n");
        let run = score_csv(dir.path(), &input, &["--max-line-bytes", "1000000"]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("line 3") && run.stderr.contains("longer than 1000000 bytes"),
            "{}",
            run.stderr
        );
    }

    #[test]
    fn an_endless_record_on_stdin_is_bounded() {
        let dir = pack(RULES);
        let zeros = "\0".repeat(4 << 20);
        let args = ["score", "--pack", ".", "--format", "csv", "--max-line-bytes", "65536"];
        let run = leadscore(dir.path(), &args, &zeros);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.contains("line 1") && run.stderr.contains("longer than 65536 bytes"),
            "{}",
            run.stderr
        );
    }

    #[test]
    fn a_wide_file_is_read_in_linear_time_and_only_for_the_columns_used() {
        let dir = pack(RULES);
        let columns = 100_000;
        let mut input: Vec<u8> = (0..columns).map(|c| format!("c{c},")).collect::<String>().into_bytes();
        input.extend(b"title\n");
        let row = ",".repeat(columns);
        for n in 0..50 {
            input.extend(row.as_bytes());
            input.extend(if n % 2 == 0 {
                b"VP\n".as_slice()
            } else {
                b"CTO\n".as_slice()
            });
        }
        let started = Instant::now();
        let run = score_csv(dir.path(), &input, &[]);
        assert_eq!(run.code, 0, "{}", run.stderr);
        let scores: Vec<f64> = run
            .stdout
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).unwrap()["score"]
                    .as_f64()
                    .unwrap()
            })
            .collect();
        assert_eq!(scores.len(), 50);
        assert_eq!(scores.iter().filter(|s| **s == 15.0).count(), 25);
        assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
    }

    #[test]
    fn a_duplicate_header_names_both_columns() {
        let dir = pack(RULES);
        let run = score_csv(dir.path(), b"id,title,x,title\n1,VP,,CEO\n", &[]);
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains("`title` twice (columns 2 and 4)"), "{}", run.stderr);
    }
}

mod escapes {
    use super::*;

    const HOSTILE: &str = "\u{1b}]0;pwned\u{7}";

    /// Leads with outcomes, ids and a `--by` field holding `HOSTILE`.
    fn leads(dir: &Path, n: usize) {
        let lines: String = (0..n)
            .map(|i| {
                let lead = serde_json::json!({
                    "id": format!("{HOSTILE}{i}"),
                    "title": if i % 2 == 0 { "VP" } else { "CTO" },
                    "region": format!("{HOSTILE}{i}"),
                    "converted": i % 3 == 0,
                });
                format!("{lead}\n")
            })
            .collect();
        write(dir, "leads.jsonl", &lines);
    }

    #[track_caller]
    fn escaped(text: &str) {
        assert!(
            !text.contains('\u{1b}') && !text.contains('\u{7}'),
            "raw control characters: {text:?}"
        );
        assert!(text.contains(r"\u{1b}]0;pwned\u{7}"), "the escape is shown: {text}");
    }

    /// A pack whose names check (they cannot hold control characters) but whose strings
    /// (a tag, a disqualify reason, the condition naming an unnamed rule) hold `HOSTILE`.
    fn hostile_pack() -> tempfile::TempDir {
        pack(&format!(
            "threshold 10\nrule \"VP\": title ~ VP => +15, tag \"t{HOSTILE}\"\ntitle ~ \"{HOSTILE}\" => +1\n\
             rule \"Student\": title ~ CTO => disqualify \"s{HOSTILE}\"\n"
        ))
    }

    #[test]
    fn stats_explain_and_check_escape_names() {
        let dir = hostile_pack();
        leads(dir.path(), 4);
        let stats = leadscore(
            dir.path(),
            &["stats", "--pack", ".", "--as-of", AS_OF, "leads.jsonl"],
            "",
        );
        assert_eq!(stats.code, 0, "{}", stats.stderr);
        escaped(&stats.stdout);
        write(dir.path(), "one.json", r#"{"title": "VP"}"#);
        let explain = leadscore(
            dir.path(),
            &["explain", "--pack", ".", "--as-of", AS_OF, "one.json"],
            "",
        );
        escaped(&explain.stdout);
        let program = leadscore(dir.path(), &["check", ".", "--program"], "");
        escaped(&program.stdout);
    }

    #[test]
    fn diagnostics_mask_the_source_and_escape_messages() {
        let dir = pack(&format!("rule \"A\": ti{HOSTILE}tle ~ VP => +1\nlet x{HOSTILE} = 1\n"));
        let run = leadscore(dir.path(), &["check", "."], "");
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            !run.stderr.contains('\u{1b}') && !run.stderr.contains('\u{7}'),
            "{:?}",
            run.stderr
        );
    }

    #[test]
    fn backtest_by_and_diff_escape_values_and_ids() {
        let dir = hostile_pack();
        leads(dir.path(), 6);
        let args = [
            "backtest",
            "--pack",
            ".",
            "--outcome",
            "converted",
            "--as-of",
            AS_OF,
            "--by",
            "region",
            "leads.jsonl",
        ];
        let backtest = leadscore(dir.path(), &args, "");
        assert_eq!(backtest.code, 0, "{}", backtest.stderr);
        escaped(&backtest.stdout);
        let b = dir.path().join("b");
        write(&b, "main.rules", "threshold 100\nrule \"VP\": title ~ VP => +15\n");
        let diff = leadscore(
            dir.path(),
            &["diff", "--pack", ".", "--pack", "b", "--as-of", AS_OF, "leads.jsonl"],
            "",
        );
        assert_eq!(diff.code, 0, "{}", diff.stderr);
        escaped(&diff.stdout);
    }

    #[test]
    fn repl_rules_are_escaped() {
        let dir = hostile_pack();
        let run = leadscore(dir.path(), &["repl", "."], ":rules\n");
        escaped(&run.stdout);
    }

    #[test]
    fn diff_json_writes_null_for_no_route() {
        let dir = pack("threshold 10\nrule \"VP\": title ~ VP => +15\nroute \"ae\" when title ~ VP\n");
        write(
            dir.path(),
            "b/main.rules",
            "threshold 10\nrule \"VP\": title ~ VP => +15\n",
        );
        write(dir.path(), "leads.jsonl", "{\"id\": 1, \"title\": \"VP\"}\n");
        let run = leadscore(
            dir.path(),
            &[
                "diff",
                "--json",
                "--pack",
                ".",
                "--pack",
                "b",
                "--as-of",
                AS_OF,
                "leads.jsonl",
            ],
            "",
        );
        assert_eq!(run.code, 0, "{}", run.stderr);
        let report: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
        assert_eq!(
            report["routes"],
            serde_json::json!([{"from": "ae", "to": null, "count": 1}])
        );
    }

    #[test]
    fn by_folds_the_groups_past_the_cap() {
        let dir = pack("threshold 10\nrule \"VP\": title ~ VP => +15\n");
        leads(dir.path(), 300);
        let args = [
            "backtest",
            "--pack",
            ".",
            "--outcome",
            "converted",
            "--as-of",
            AS_OF,
            "--by",
            "region",
        ];
        let text = leadscore(dir.path(), &[&args[..], &["leads.jsonl"]].concat(), "");
        assert_eq!(text.code, 0, "{}", text.stderr);
        assert!(text.stdout.contains("(250 other values)"), "{}", text.stdout);
        assert!(text.stdout.lines().count() < 150, "{}", text.stdout);
        let json = leadscore(dir.path(), &[&args[..], &["--json", "leads.jsonl"]].concat(), "");
        let report: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let by = report["by"].as_array().unwrap();
        assert_eq!(by.len(), 51);
        assert_eq!(by[50]["values"], 250);
        assert_eq!(by.iter().map(|r| r["count"].as_u64().unwrap()).sum::<u64>(), 300);
    }
}

mod pipes {
    use super::*;

    /// Runs `leadscore ARGS` in `dir` with its standard output already closed: every
    /// write fails with a broken pipe.
    fn closed_stdout(dir: &Path, args: &[&str]) -> (i32, String) {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadscore"))
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    #[test]
    fn every_command_ends_quietly_on_a_closed_stdout() {
        let dir = pack("threshold 10\nrule \"VP\": title ~ VP => +15\n");
        let leads: String = (0..3000)
            .map(|i| format!("{{\"id\": {i}, \"title\": \"VP\", \"won\": {}}}\n", i % 2 == 0))
            .collect();
        write(dir.path(), "leads.jsonl", &leads);
        write(
            dir.path(),
            "b/main.rules",
            "threshold 20\nrule \"VP\": title ~ VP => +15\n",
        );
        let runs: [&[&str]; 6] = [
            &["score", "--pack", ".", "--as-of", AS_OF, "leads.jsonl"],
            &[
                "score",
                "--pack",
                ".",
                "--as-of",
                AS_OF,
                "--output",
                "csv",
                "leads.jsonl",
            ],
            &[
                "backtest",
                "--json",
                "--pack",
                ".",
                "--outcome",
                "won",
                "--as-of",
                AS_OF,
                "leads.jsonl",
            ],
            &[
                "backtest",
                "--pack",
                ".",
                "--outcome",
                "won",
                "--as-of",
                AS_OF,
                "leads.jsonl",
            ],
            &[
                "diff",
                "--json",
                "--pack",
                ".",
                "--pack",
                "b",
                "--as-of",
                AS_OF,
                "leads.jsonl",
            ],
            &["stats", "--pack", ".", "--as-of", AS_OF, "leads.jsonl"],
        ];
        for args in runs {
            let (code, stderr) = closed_stdout(dir.path(), args);
            assert_eq!(code, 2, "{args:?}: {stderr}");
            assert!(
                !stderr.contains("Broken pipe") && !stderr.contains("os error"),
                "{args:?}: {stderr}"
            );
        }
    }
}

mod fmt {
    use super::*;

    #[test]
    fn crlf_files_stay_crlf() {
        let dir = pack("threshold   10\r\nrule \"VP\":  title ~ VP => +15\r\n");
        let run = leadscore(dir.path(), &["fmt", "."], "");
        assert_eq!(run.code, 0, "{}", run.stderr);
        let text = std::fs::read_to_string(dir.path().join("main.rules")).unwrap();
        assert_eq!(text, "threshold 10\r\nrule \"VP\": title ~ VP => +15\r\n");
    }

    #[test]
    fn the_example_packs_are_fmt_clean() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        for pack in ["rules/b2b-saas", "rules/agency", "rules/fintech"] {
            let run = leadscore(root, &["fmt", "--check", pack], "");
            assert_eq!(run.code, 0, "{pack}: {}{}", run.stdout, run.stderr);
        }
    }
}

mod packtests {
    use super::*;

    #[test]
    fn unreadable_test_files_and_sample_leads_are_errors() {
        let dir = pack(RULES);
        link("gone.toml", &dir.path().join("tests/dangling.toml"));
        fifo(&dir.path().join("tests/pipe.toml"));
        std::fs::create_dir_all(dir.path().join("tests/folder.toml")).unwrap();
        link("gone.json", &dir.path().join("leads/dangling.json"));
        fifo(&dir.path().join("leads/pipe.json"));
        let run = leadscore(dir.path(), &["test", "."], "");
        let all = format!("{}{}", run.stdout, run.stderr);
        assert_eq!(run.code, 2, "{all}");
        for name in [
            "dangling.toml",
            "pipe.toml",
            "folder.toml",
            "dangling.json",
            "pipe.json",
        ] {
            assert!(all.contains(name), "{name} is reported: {all}");
        }
    }
}

mod options {
    use super::*;

    #[track_caller]
    fn refused_with(run: &Run, words: &str) {
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(run.stderr.contains(words), "{}", run.stderr);
    }

    #[test]
    fn nonsense_options_are_refused_with_a_reason() {
        let dir = pack(RULES);
        write(
            dir.path(),
            "leads.jsonl",
            "{\"id\": 1, \"title\": \"VP\", \"won\": true}\n",
        );
        let d = dir.path();
        refused_with(
            &leadscore(d, &["watch", "--pack", ".", "--poll=0"], ""),
            "without pause",
        );
        for p in ["2", "nan", "0", "inf"] {
            let backtest = [
                "backtest",
                "--pack",
                ".",
                "--outcome",
                "won",
                "--min-precision",
                p,
                "leads.jsonl",
            ];
            refused_with(&leadscore(d, &backtest, ""), "is not a precision");
            let fit = [
                "fit",
                "--pack",
                ".",
                "--outcome",
                "won",
                "--min-precision",
                p,
                "-o",
                "out",
                "leads.jsonl",
            ];
            refused_with(&leadscore(d, &fit, ""), "is not a precision");
        }
        for delimiter in ["\"", "\n"] {
            let score = [
                "score",
                "--pack",
                ".",
                "--format",
                "csv",
                "--delimiter",
                delimiter,
                "leads.jsonl",
            ];
            refused_with(&leadscore(d, &score, ""), "cannot separate fields");
        }
        let capacity = [
            "backtest",
            "--pack",
            ".",
            "--outcome",
            "won",
            "--capacity",
            "5",
            "leads.jsonl",
        ];
        refused_with(&leadscore(d, &capacity, ""), "--as-of-field");
        let split = [
            "fit",
            "--pack",
            ".",
            "--outcome",
            "won",
            "--split-at",
            AS_OF,
            "-o",
            "out",
            "leads.jsonl",
        ];
        refused_with(&leadscore(d, &split, ""), "--as-of-field");
    }

    #[test]
    fn an_id_field_no_lead_has_is_a_warning() {
        let dir = pack(RULES);
        write(
            dir.path(),
            "leads.jsonl",
            "{\"lead_id\": \"a\", \"title\": \"VP\"}\n{\"title\": \"CTO\"}\n",
        );
        let args = [
            "score",
            "--pack",
            ".",
            "--as-of",
            AS_OF,
            "--id-field",
            "nope",
            "leads.jsonl",
        ];
        let run = leadscore(dir.path(), &args, "");
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stderr.contains("no lead has the field `nope`"), "{}", run.stderr);
        let args = [
            "score",
            "--pack",
            ".",
            "--as-of",
            AS_OF,
            "--id-field",
            "lead_id",
            "leads.jsonl",
        ];
        let run = leadscore(dir.path(), &args, "");
        assert!(!run.stderr.contains("warning"), "{}", run.stderr);
    }
}

mod syntax {
    use super::*;

    #[test]
    fn a_bare_path_ends_at_the_arrow() {
        let dir = pack("threshold 5\nvisited /pricing=>+5\n");
        let events =
            r#"{"id": 1, "events": [{"type": "page_view", "path": "/pricing", "at": "2026-02-27T00:00:00Z"}]}"#;
        let run = leadscore(dir.path(), &["score", "--pack", ".", "--as-of", AS_OF], events);
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains(r#""score":5"#), "{}", run.stdout);
    }

    #[test]
    fn a_condition_missing_at_the_end_of_a_file_is_shown_on_its_last_line() {
        let dir = pack("threshold 10\nrule \"A\": title ~ VP and\n");
        let run = leadscore(dir.path(), &["check", "."], "");
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains("main.rules:2:25"), "{}", run.stderr);
    }
}

mod confusables {
    use super::*;

    #[test]
    fn mixed_scripts_and_hidden_characters_in_names_are_errors() {
        let rules = "threshold 10\nlet senior = title ~ VP\nlet s\u{430}nior = title ~ CEO\n\
                     rule \"VP\": t\u{200d}itle ~ VP => +15\nrule \"\u{202e}A\": senior => +1\n\
                     rule \"B\u{1b}\": senior => +1\nrule \"Директор\": title ~ \"директор\" => +1\n";
        let dir = pack(rules);
        let run = leadscore(dir.path(), &["check", "."], "");
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("the let `s\u{430}nior` mixes Latin and Cyrillic letters"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(r"the field `t\u{200d}itle` holds an invisible"),
            "{}",
            run.stderr
        );
        assert!(
            run.stderr.contains(r"the rule name `\u{202e}A` holds"),
            "{}",
            run.stderr
        );
        assert!(run.stderr.contains(r"the rule name `B\u{1b}` holds"), "{}", run.stderr);
        assert!(
            run.stderr.contains("4 errors found"),
            "a Cyrillic rule name is fine: {}",
            run.stderr
        );
    }
}

mod typos {
    use super::*;

    #[test]
    fn a_swapped_letter_in_a_dimension_gets_a_did_you_mean() {
        let dir = pack("dimension fit\ntitle ~ VP => +5 fit\ntitle ~ CEO => +5 fti\n");
        let run = leadscore(dir.path(), &["check", "."], "");
        assert_eq!(run.code, 2);
        assert!(run.stderr.contains("did you mean `fit`?"), "{}", run.stderr);
    }

    #[test]
    fn check_says_one_rule_one_file() {
        let dir = pack("rule \"VP\": title ~ VP => +15\n");
        let run = leadscore(dir.path(), &["check", "."], "");
        assert!(run.stdout.contains("ok (1 rule, 1 file)"), "{}", run.stdout);
    }

    #[test]
    fn a_new_repl_session_names_the_pack_as_check_does() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules/b2b-saas");
        let loader = leadscore::Loader::new().plugin_path([Path::new(env!("CARGO_MANIFEST_DIR")).join("plugins")]);
        let pack = loader.load(&root).unwrap();
        let as_of = leadscore::parse_time(AS_OF).unwrap();
        let session = leadscore::session::Session::new(loader, Some(root), as_of).unwrap();
        assert_eq!(session.pack().id().version, pack.id().version);
    }
}

mod fields {
    use super::*;

    const TYPO: &str = "threshold 10\nrule \"VP\": titel ~ VP => +15\nrule \"Big\": company.size >= 50 => +5\n";

    #[test]
    fn a_field_no_sample_lead_or_case_has_is_a_warning_not_a_failure() {
        let dir = pack(TYPO);
        write(dir.path(), "leads/vp.json", r#"{"id": "vp", "title": "VP Sales"}"#);
        write(
            dir.path(),
            "tests/cases.toml",
            "[[case]]\nname = \"big\"\nlead = { company = { size = 80 } }\nscore = 5\n",
        );
        let run = leadscore(dir.path(), &["check", "."], "");
        assert_eq!(run.code, 0, "{}", run.stderr);
        assert!(run.stdout.contains("ok (2 rules, 1 file, 1 warning)"), "{}", run.stdout);
        assert!(
            run.stderr
                .contains("warning: no sample lead or test case (of 2) has the field `titel`")
                && run.stderr.contains("main.rules:2:12")
                && run.stderr.contains("help: did you mean `title`?"),
            "{}",
            run.stderr
        );
        assert!(
            !run.stderr.contains("company.size"),
            "a test case has it: {}",
            run.stderr
        );
        let denied = leadscore(dir.path(), &["check", "--deny-warnings", "."], "");
        assert_eq!(denied.code, 2, "{}", denied.stderr);
        assert!(
            denied.stderr.contains("1 warning (--deny-warnings)"),
            "{}",
            denied.stderr
        );
    }

    #[test]
    fn a_declared_pack_rejects_an_undeclared_field_with_a_did_you_mean() {
        let dir = pack(&format!("fields title, company\n{TYPO}"));
        let run = leadscore(dir.path(), &["check", "."], "");
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr
                .contains("the field `titel` is not declared in the pack's `fields`")
                && run.stderr.contains("did you mean `title`?")
                && run.stderr.contains("1 error found"),
            "company covers company.size: {}",
            run.stderr
        );
        let fixed = pack(&format!("fields title, company\n{}", TYPO.replace("titel", "title")));
        let run = leadscore(fixed.path(), &["check", "--deny-warnings", "."], "");
        assert_eq!(run.code, 0, "{}", run.stderr);
    }
}

mod repl_typos {
    use super::*;

    #[test]
    fn the_repl_suggests_the_leads_keys_and_its_commands() {
        let dir = pack(RULES);
        let run = leadscore(dir.path(), &["repl", "."], ":set title = VP\ntitel ~ VP\n:sett x = 1\n");
        assert!(
            run.stdout.contains("the lead has no `titel`; did you mean `title`?"),
            "{}",
            run.stdout
        );
        let all = format!("{}{}", run.stdout, run.stderr);
        assert!(all.contains("unknown command `:sett`; did you mean `:set`?"), "{all}");
    }
}
