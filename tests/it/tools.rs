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
