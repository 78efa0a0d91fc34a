//! The manual's examples run: every fenced block of `README.md` and `docs/**/*.md` is
//! checked by what its info string says, through the real binary.
//!
//! | info string | what the test does |
//! |---|---|
//! | `rules` | writes the block as `main.rules` of a fresh pack folder; `leadscore check` must exit 0 |
//! | `rules,fails` | the same, and `leadscore check` must exit 2 (a deliberate error) |
//! | `rules,plugins=DIR` | checks with `--plugins DIR` (relative to the repository root) |
//! | `rules,conditions` | each line (blank and `#` lines aside) is a condition: checked as `LINE => +1` |
//! | `rules,file=PATH` | writes the block to PATH in the chapter's scratch folder (later `sh` blocks use it) and checks the folder it is in |
//! | `sh` | run with bash (`-euo pipefail`) in the chapter's scratch folder, which holds copies of `rules/` and `plugins/`; `leadscore` is the binary under test, `cargo run [--release] --` is read as `leadscore`; must exit 0 within five minutes |
//! | `sh,no-run=WHY` | not run, for a reason in [`NO_RUN`] |
//! | `json,output` | the output of the nearest `sh` block above it: the same JSON values, in order (layout is free) |
//! | `json,no-run=WHY` | a result the test cannot produce, for a reason in [`NO_RUN`] |
//! | `text,repl` | a REPL transcript: `$ leadscore repl ARGS`, then `leadscore> ` lines typed and the lines answered; the commands are piped to `leadscore repl ARGS --echo` and its output must be the transcript |
//!
//! When a command's output changes on purpose, `LEADSCORE_BLESS_DOCS=1 cargo test --test it
//! docs::` writes the new output into the `json,output` blocks (review the diff).
//!
//! A chapter's `sh` and `rules,file=` blocks share one scratch folder and run in the order
//! they appear, so a walk-through's steps build on each other. Rust blocks are doctests of
//! the core crate (only `docs/src/library.md` is its documentation); Python blocks are run
//! by `python/tests/test_manual.py`. Every failure names the file and line of its block.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// Why a block is not run, and what each reason means.
const NO_RUN: [(&str, &str); 8] = [
    (
        "cargo",
        "builds with cargo: the tests run the binary cargo already built",
    ),
    ("install", "installs software on the reader's machine"),
    (
        "server",
        "starts a server and talks to it (tests/it/serve.rs runs the service)",
    ),
    (
        "python",
        "needs the Python package (python/tests runs the Python chapter's examples)",
    ),
    ("npm", "needs Node and npm (CI runs the extension's tests)"),
    ("fuzz", "runs the fuzzers for minutes, on nightly flags"),
    ("your-files", "names files the reader has and the repository does not"),
    ("slow", "takes minutes in a debug build"),
];

/// Set, this environment variable makes a `json,output` block that differs from its
/// command's output be rewritten with it (review the diff) instead of failing.
const BLESS: &str = "LEADSCORE_BLESS_DOCS";

/// The longest a shell block may run.
const SH_TIMEOUT_SECS: &str = "300";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// One fenced block: where it starts, its info string's words, its text.
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    lang: String,
    attrs: Vec<(String, Option<String>)>,
    text: String,
}

impl Block {
    fn flag(&self, name: &str) -> bool {
        self.attrs.iter().any(|(k, v)| k == name && v.is_none())
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .and_then(|(_, v)| v.as_deref())
    }
}

/// The fenced blocks of a markdown text. Fences are three backticks at the start of a line
/// (after any indentation); the info string's words are split at commas and blanks, as
/// mdBook and rustdoc split them.
fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, usize, String)> = None;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        match &mut open {
            None => {
                if let Some(info) = trimmed.strip_prefix("```") {
                    open = Some((
                        i + 1,
                        info.trim().to_string(),
                        line.len() - trimmed.len(),
                        String::new(),
                    ));
                }
            }
            Some((start, info, indent, body)) => {
                if trimmed == "```" {
                    let mut words = info.split([',', ' ', '\t']).filter(|w| !w.is_empty());
                    let lang = words.next().unwrap_or("").to_string();
                    let attrs = words
                        .map(|w| match w.split_once('=') {
                            Some((k, v)) => (k.to_string(), Some(v.to_string())),
                            None => (w.to_string(), None),
                        })
                        .collect();
                    out.push(Block {
                        line: *start,
                        lang,
                        attrs,
                        text: std::mem::take(body),
                    });
                    open = None;
                } else {
                    body.push_str(line.get(*indent..).unwrap_or(line.trim_start()));
                    body.push('\n');
                }
            }
        }
    }
    out
}

/// README.md and every markdown file under docs/, in a stable order.
fn manual_files() -> Vec<PathBuf> {
    let mut files = vec![root().join("README.md")];
    let mut dirs = vec![root().join("docs")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() && path.file_name().is_some_and(|n| n != "book") {
                dirs.push(path);
            } else if path.extension().is_some_and(|e| e == "md") {
                files.push(path);
            }
        }
    }
    files.sort();
    files
}

fn relative(path: &Path) -> String {
    path.strip_prefix(root()).unwrap_or(path).display().to_string()
}

/// Copies a folder tree (the scratch folder's `rules/` and `plugins/`).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// What one chapter's blocks share: the scratch folder, `leadscore` on the PATH, and the
/// last shell block's output.
struct Chapter {
    name: String,
    scratch: tempfile::TempDir,
    path_var: std::ffi::OsString,
    last_sh: Option<(usize, Option<String>)>,
    failures: Vec<String>,
    /// `json,output` blocks to rewrite with the actual output ([`BLESS`]): the fence's
    /// line, the block's line count, the new text.
    blessed: Vec<(usize, usize, String)>,
}

impl Chapter {
    fn new(file: &Path) -> Chapter {
        let scratch = tempfile::tempdir().unwrap();
        let bin = scratch.path().join(".bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_leadscore"), bin.join("leadscore")).unwrap();
        copy_tree(&root().join("rules"), &scratch.path().join("rules"));
        copy_tree(&root().join("plugins"), &scratch.path().join("plugins"));
        let mut paths = vec![bin];
        paths.extend(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default()));
        Chapter {
            name: relative(file),
            scratch,
            path_var: std::env::join_paths(paths).unwrap(),
            last_sh: None,
            failures: Vec::new(),
            blessed: Vec::new(),
        }
    }

    fn fail(&mut self, block: &Block, message: impl std::fmt::Display) {
        self.failures.push(format!("{}:{}: {message}", self.name, block.line));
    }

    fn run(&mut self, block: &Block) {
        match block.lang.as_str() {
            "rules" => self.rules(block),
            "sh" => self.sh(block),
            "json" => self.json(block),
            "text" if block.flag("repl") => self.repl(block),
            "rust" if !self.name.ends_with("library.md") && !block.flag("ignore") => self.fail(
                block,
                "a Rust block outside docs/src/library.md is run by nothing: move it there (the core crate's doctests) or tag it `rust,ignore`",
            ),
            _ => {}
        }
    }

    /// The `no-run` reason of a block, checked against [`NO_RUN`]; `None` when it runs.
    fn no_run(&mut self, block: &Block) -> Option<()> {
        let why = block.value("no-run")?;
        if !NO_RUN.iter().any(|(reason, _)| *reason == why) {
            let known: Vec<_> = NO_RUN.iter().map(|(r, _)| *r).collect();
            self.fail(block, format!("unknown `no-run={why}`: say why with one of {known:?}"));
        }
        Some(())
    }

    fn rules(&mut self, block: &Block) {
        let text = if block.flag("conditions") {
            conditions_as_rules(&block.text)
        } else {
            block.text.clone()
        };
        let pack = match block.value("file") {
            Some(file) => {
                let path = self.scratch.path().join(file);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(&path, &text).unwrap();
                path.parent().unwrap().to_path_buf()
            }
            None => {
                let dir = self.scratch.path().join(".pack").join(block.line.to_string());
                std::fs::create_dir_all(&dir).unwrap();
                std::fs::write(dir.join("main.rules"), &text).unwrap();
                dir
            }
        };
        let mut check = Command::new(env!("CARGO_BIN_EXE_leadscore"));
        check.arg("check").arg(&pack).current_dir(self.scratch.path());
        if let Some(plugins) = block.value("plugins") {
            check.arg("--plugins").arg(root().join(plugins));
        }
        let out = check.output().unwrap();
        let expected = if block.flag("fails") { 2 } else { 0 };
        if out.status.code() != Some(expected) {
            let stderr = String::from_utf8_lossy(&out.stderr);
            self.fail(
                block,
                format!(
                    "`leadscore check` exited {:?}, expected {expected}:\n{stderr}",
                    out.status.code()
                ),
            );
        }
    }

    fn sh(&mut self, block: &Block) {
        if self.no_run(block).is_some() {
            self.last_sh = Some((block.line, None));
            return;
        }
        let script = cargo_run_as_leadscore(&block.text);
        if script
            .lines()
            .any(|l| l.trim_start().starts_with("cargo ") || l.contains("&& cargo "))
        {
            self.fail(
                block,
                "this block runs cargo: tag it `sh,no-run=cargo` (the tests use the binary cargo built)",
            );
            return;
        }
        let out = self.bash(&script);
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        if !out.status.success() {
            let stderr = String::from_utf8_lossy(&out.stderr);
            let code = out
                .status
                .code()
                .map_or("a signal (or the time limit)".to_string(), |c| c.to_string());
            self.fail(block, format!("the shell block exited with {code}:\n{stderr}"));
        }
        self.last_sh = Some((block.line, Some(stdout)));
    }

    fn bash(&self, script: &str) -> Output {
        Command::new("timeout")
            .args([SH_TIMEOUT_SECS, "bash", "-euo", "pipefail", "-c", script])
            .current_dir(self.scratch.path())
            .env("PATH", &self.path_var)
            .env_remove("LEADSCORE_HISTORY")
            .env_remove("CI")
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn json(&mut self, block: &Block) {
        if self.no_run(block).is_some() {
            return;
        }
        if !block.flag("output") {
            self.fail(
                block,
                "a `json` block shows a result: tag it `json,output` (the output of the `sh` block above it) or say why it cannot be produced with `json,no-run=WHY`",
            );
            return;
        }
        let stdout = match self.last_sh.take() {
            Some((_, Some(stdout))) => stdout,
            Some((line, None)) => {
                return self.fail(
                    block,
                    format!("`json,output`: the `sh` block above it (line {line}) is not run"),
                )
            }
            None => return self.fail(block, "`json,output` needs a `sh` block above it"),
        };
        match (json_values(&block.text), json_values(&stdout)) {
            (Ok(shown), Ok(actual)) if shown == actual => {}
            (Err(e), _) => self.fail(block, format!("the block is not JSON: {e}")),
            (_, Ok(_)) if std::env::var_os(BLESS).is_some() => {
                self.blessed
                    .push((block.line, block.text.lines().count(), layout(&stdout)));
            }
            _ => self.fail(
                block,
                format!("the block differs from the command's output ({BLESS}=1 writes it in), which is:\n{stdout}"),
            ),
        }
    }

    /// Replays a REPL transcript through `leadscore repl --echo` (which echoes each
    /// command after `> ` when stdin is not a terminal).
    fn repl(&mut self, block: &Block) {
        let mut lines = block.text.lines();
        let Some(args) = lines.next().and_then(|l| l.strip_prefix("$ leadscore repl ")) else {
            return self.fail(block, "a `text,repl` block starts with `$ leadscore repl ARGS`");
        };
        let transcript: Vec<&str> = lines.collect();
        let typed: String = transcript
            .iter()
            .filter_map(|l| l.strip_prefix("leadscore> "))
            .map(|c| format!("{c}\n"))
            .collect();
        let script = format!("printf '%s' {} | leadscore repl {args} --echo", shell_quote(&typed));
        let out = self.bash(&script);
        let actual = String::from_utf8_lossy(&out.stdout);
        let expected: String = transcript
            .iter()
            .map(|l| format!("{}\n", l.replacen("leadscore> ", "> ", 1)))
            .collect();
        if !out.status.success() || actual != expected {
            let stderr = String::from_utf8_lossy(&out.stderr);
            self.fail(
                block,
                format!("the REPL answered otherwise ({}):\n{actual}{stderr}", out.status),
            );
        }
    }
}

/// `text` in single quotes for bash.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// A `rules,conditions` block as a pack: each condition becomes an unnamed rule.
fn conditions_as_rules(text: &str) -> String {
    let mut out = String::new();
    for line in text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
    {
        writeln!(out, "{line} => +1").unwrap();
    }
    out
}

/// `cargo run --release -- ARGS` (or `cargo run -- ARGS`) as the reader would run it, with
/// the binary the tests built.
fn cargo_run_as_leadscore(script: &str) -> String {
    script
        .replace("cargo run --release -- ", "leadscore ")
        .replace("cargo run -- ", "leadscore ")
}

/// Every JSON value in a text, in order.
fn json_values(text: &str) -> Result<Vec<serde_json::Value>, serde_json::Error> {
    serde_json::Deserializer::from_str(text).into_iter().collect()
}

/// Runs one file's blocks in order and returns its failures.
fn run_file(file: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(file).unwrap();
    let mut chapter = Chapter::new(file);
    for block in blocks(&text) {
        chapter.run(&block);
    }
    if !chapter.blessed.is_empty() {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        for (fence, count, new) in chapter.blessed.iter().rev() {
            lines.splice(*fence..fence + count, new.lines().map(str::to_string));
        }
        std::fs::write(file, lines.join("\n") + "\n").unwrap();
    }
    chapter.failures
}

/// A command's JSON output laid out for reading, keys in the order printed: each line's
/// top-level entries on a line of their own, and an array of objects one element a line.
fn layout(stdout: &str) -> String {
    let mut out = String::new();
    for line in stdout.lines() {
        let mut open: Vec<(char, usize)> = Vec::new(); // bracket, its column
        let (mut in_string, mut escaped, mut line_start) = (false, false, out.len());
        let chars: Vec<char> = line.chars().collect();
        for (i, &c) in chars.iter().enumerate() {
            if in_string {
                (escaped, in_string) = (!escaped && c == '\\', escaped || c != '"');
                out.push(c);
                continue;
            }
            match c {
                '"' => in_string = true,
                '{' | '[' => open.push((c, out.len() - line_start)),
                '}' | ']' => drop(open.pop()),
                ',' if open.len() == 1 => {
                    out.push_str(",\n");
                    line_start = out.len();
                    out.push(' ');
                    continue;
                }
                ',' if open.len() == 2 && open[1].0 == '[' && chars.get(i + 1) == Some(&'{') => {
                    out.push_str(",\n");
                    line_start = out.len();
                    out.push_str(&" ".repeat(open[1].1 + 1));
                    continue;
                }
                _ => {}
            }
            out.push(c);
        }
        out.push('\n');
    }
    out
}

#[test]
fn every_example_of_the_manual_runs() {
    let files = manual_files();
    assert!(files.len() > 10, "{files:?}");
    let failures: Vec<String> = std::thread::scope(|s| {
        let handles: Vec<_> = files.iter().map(|f| s.spawn(|| run_file(f))).collect();
        handles.into_iter().flat_map(|h| h.join().unwrap()).collect()
    });
    assert!(
        failures.is_empty(),
        "{} example(s) of the manual fail:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// The blocks the test would skip are few and named: every `no-run` says why, and the
/// manual has runnable blocks of each kind.
#[test]
fn the_manual_has_runnable_examples_of_each_kind() {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for file in manual_files() {
        for block in blocks(&std::fs::read_to_string(&file).unwrap()) {
            let kind = match (block.lang.as_str(), block.value("no-run")) {
                ("rules", _) if block.flag("fails") => "rules,fails",
                ("rules", _) => "rules",
                ("sh", None) => "sh",
                ("json", None) if block.flag("output") => "json,output",
                ("text", _) if block.flag("repl") => "text,repl",
                _ => continue,
            };
            *counts.entry(kind).or_default() += 1;
        }
    }
    for kind in ["rules", "rules,fails", "sh", "json,output", "text,repl"] {
        assert!(
            counts.get(kind).is_some_and(|&n| n > 0),
            "no `{kind}` block in the manual: {counts:?}"
        );
    }
}

/// Every chapter file is in SUMMARY.md, and every link between chapters (and from the
/// README) points at a file that exists.
#[test]
fn the_summary_lists_every_chapter_and_links_resolve() {
    let src = root().join("docs/src");
    let summary = std::fs::read_to_string(src.join("SUMMARY.md")).unwrap();
    let mut problems = Vec::new();
    for file in manual_files() {
        let text = std::fs::read_to_string(&file).unwrap();
        for (line, target) in links(&text) {
            if !file.parent().unwrap().join(&target).exists() {
                problems.push(format!(
                    "{}:{line}: the link to `{target}` points at no file",
                    relative(&file)
                ));
            }
        }
        if file.starts_with(&src) && file.file_name().is_some_and(|n| n != "SUMMARY.md") {
            let name = file.strip_prefix(&src).unwrap().display().to_string();
            if !summary.contains(&format!("]({name})")) {
                problems.push(format!(
                    "{}: not in docs/src/SUMMARY.md: link it there (a draft entry `[Title]()` becomes `[Title]({name})`)",
                    relative(&file)
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The targets of `[text](target)` links to local files (no scheme, no bare anchor), with
/// their 1-based line, outside code blocks and code spans.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    let mut in_block = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim_start().starts_with("```") {
            in_block = !in_block;
        }
        if in_block {
            continue;
        }
        let prose: String = line.split('`').step_by(2).collect::<Vec<_>>().join(" ");
        for (start, _) in prose.match_indices("](") {
            let rest = &prose[start + 2..];
            let Some(end) = rest.find(')') else { continue };
            let target = rest[..end].split('#').next().unwrap_or("");
            if !target.is_empty() && !target.contains("://") && !target.starts_with("mailto:") {
                out.push((i + 1, target.to_string()));
            }
        }
    }
    out
}

/// Each kind of wrong example is a failure naming its file and line.
#[test]
fn a_wrong_example_fails_with_its_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("chapter.md");
    let text = [
        "```rules", // 1: an unknown dimension
        "rule \"a\": x == 1 => +1 fitt",
        "```",
        "```rules,fails", // 4: a clean pack said to fail
        "threshold 1",
        "```",
        "```sh", // 7: a command that fails
        "leadscore check no-such-pack",
        "```",
        "```sh", // 10: runs, and its output is shown wrong below
        "echo '{\"id\": 1}' | leadscore score --pack rules/b2b-saas --as-of 2026-03-01T00:00:00Z",
        "```",
        "```json,output", // 13
        "{\"id\": 1, \"score\": 99}",
        "```",
        "```json", // 16: a result with no tag
        "{}",
        "```",
        "```sh,no-run=because", // 19: a reason nobody knows
        "true",
        "```",
        "```sh", // 22: cargo, untagged
        "cargo build",
        "```",
        "```text,repl", // 25: an answer the REPL does not give
        "$ leadscore repl rules/b2b-saas --as-of 2026-03-01T00:00:00Z",
        "leadscore> title ~ VP",
        "true",
        "```",
    ]
    .join("\n");
    std::fs::write(&file, text).unwrap();
    let failures = run_file(&file);
    let lines: Vec<&str> = failures.iter().map(|f| f.split(": ").next().unwrap()).collect();
    let at = |n: usize| format!("{}:{n}", file.display());
    let expected: Vec<String> = [1, 4, 7, 13, 16, 19, 22, 25].into_iter().map(at).collect();
    assert_eq!(lines, expected, "{failures:#?}");
    assert!(failures[0].contains("unknown dimension `fitt`"), "{}", failures[0]);
    assert!(
        failures[3].contains("\"score\":0"),
        "the actual output is shown: {}",
        failures[3]
    );
}

#[test]
fn blocks_are_read_with_their_line_and_attributes() {
    let text = "intro\n\n```rules,file=demo/main.rules\nthreshold 1\n```\n\n  ```json output\n  {}\n  ```\n";
    let found = blocks(text);
    assert_eq!(found.len(), 2);
    assert_eq!((found[0].line, found[0].lang.as_str()), (3, "rules"));
    assert_eq!(found[0].value("file"), Some("demo/main.rules"));
    assert_eq!(found[0].text, "threshold 1\n");
    assert!(found[1].flag("output"));
    assert_eq!(found[1].text, "{}\n");
    assert_eq!(
        conditions_as_rules("a\n\n# c\nb within 2d\n"),
        "a => +1\nb within 2d => +1\n"
    );
    assert_eq!(
        cargo_run_as_leadscore("cargo run --release -- score x"),
        "leadscore score x"
    );
    let laid_out = layout("{\"a\":1,\"b\":[{\"x\":\"1,]\"},{\"y\":2}],\"c\":[1,2]}\n");
    assert_eq!(
        laid_out,
        "{\"a\":1,\n \"b\":[{\"x\":\"1,]\"},\n      {\"y\":2}],\n \"c\":[1,2]}\n"
    );
}
