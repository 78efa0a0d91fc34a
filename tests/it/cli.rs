//! The batch CLI through the real binary: input formats, output formats, `explain`,
//! `stats`, and the errors that stop a run.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

const AS_OF: &str = "2026-03-01T00:00:00Z";

/// Output of one run of the binary.
pub struct Run {
    pub stdout: String,
    pub stderr: String,
    pub code: i32,
}

/// Runs `leadscore` from the crate root with `args`, feeding `stdin`.
pub fn leadscore(args: &[&str], stdin: &str) -> Run {
    leadscore_in(Path::new(env!("CARGO_MANIFEST_DIR")), args, stdin)
}

/// Runs `leadscore` in `dir` with `args`, feeding `stdin`.
pub fn leadscore_in(dir: &Path, args: &[&str], stdin: &str) -> Run {
    let mut child = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .args(args)
        .current_dir(dir)
        .env_remove("LEADSCORE_HISTORY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary runs");
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    Run {
        stdout: String::from_utf8(out.stdout).unwrap(),
        stderr: String::from_utf8(out.stderr).unwrap(),
        code: out.status.code().unwrap_or(-1),
    }
}

fn results(stdout: &str) -> Vec<serde_json::Value> {
    stdout.lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const CRM: &str = "tests/fixtures/cli/crm";
const CRM_CSV: &str = "tests/fixtures/cli/crm/leads.csv";

#[test]
fn scores_several_json_files_in_order() {
    let mut files: Vec<String> = std::fs::read_dir("rules/b2b-saas/leads")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    let mut args = vec!["score", "--pack", "rules/b2b-saas", "--as-of", AS_OF];
    args.extend(files.iter().map(String::as_str));
    let run = leadscore(&args, "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ids: Vec<String> = results(&run.stdout)
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let expected: Vec<String> = files
        .iter()
        .map(|f| {
            serde_json::from_str::<serde_json::Value>(&std::fs::read_to_string(f).unwrap()).unwrap()["id"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(ids, expected);
}

#[test]
fn csv_with_semicolons_quotes_spaces_in_names_and_a_bad_row() {
    let run = leadscore(
        &[
            "score",
            "--pack",
            CRM,
            "--as-of",
            AS_OF,
            "--delimiter",
            ";",
            "--id-field",
            "Lead Id",
            CRM_CSV,
        ],
        "",
    );
    // The bad row (line 4) is reported; the rows after it are still scored.
    assert_eq!(run.code, 1);
    assert_eq!(
        run.stderr.trim(),
        r#"{"error":"the row has 4 field(s) but the header has 6","line":4}"#
    );
    let results = results(&run.stdout);
    let ids: Vec<&str> = results.iter().map(|r| r["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["L-1", "L-2", "L-4", "L-5"]);
    let fired = |i: usize| -> Vec<&str> {
        results[i]["fired"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["rule"].as_str().unwrap())
            .collect()
    };
    // `Lead Source` (a backticked name with a space), numeric strings, a quoted field with
    // `;` and `""` in it, a quoted field with a newline in it.
    assert_eq!(fired(0), ["Google", "Engaged", "Big company", "Decision maker"]);
    assert_eq!(
        fired(1),
        ["Decision maker"],
        "\"Referral\" and \"Director, Ops\" are unquoted"
    );
    // An empty cell is a missing field.
    assert_eq!(fired(2), ["Google", "Engaged", "Big company", "No title"]);
    assert_eq!(results[2]["route"], "enterprise");
    assert_eq!(fired(3), Vec::<&str>::new());
}

#[test]
fn csv_output() {
    let run = leadscore(
        &[
            "score",
            "--pack",
            CRM,
            "--as-of",
            AS_OF,
            "--format",
            "csv",
            "--delimiter",
            ";",
            "--id-field",
            "Lead Id",
            "--output",
            "csv",
            CRM_CSV,
        ],
        "",
    );
    assert_eq!(run.code, 1);
    insta::assert_snapshot!(run.stdout, @r"
    id,score,mql,disqualified,route,fit,fired
    L-1,35,true,,inbound,20,Google;Engaged;Big company;Decision maker
    L-2,10,false,,,0,Decision maker
    L-4,25,true,,enterprise,20,Google;Engaged;Big company;No title
    L-5,0,false,,,0,
    ");
}

#[test]
fn csv_from_stdin_with_format_flag() {
    let csv = "id,Lead Source,TotalVisits\nA,Google,9\nB,\"Google\",\n";
    let run = leadscore(&["score", "--pack", CRM, "--as-of", AS_OF, "--format", "csv"], csv);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let results = results(&run.stdout);
    assert_eq!(results[0]["score"], 15);
    assert_eq!(results[1]["score"], 5);
}

#[test]
fn json_array_and_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let array = dir.path().join("leads.json");
    std::fs::write(&array, r#"[{"id": "a", "TotalVisits": 6}, 42, {"TotalVisits": "1"}]"#).unwrap();
    let lines = dir.path().join("more.jsonl");
    std::fs::write(&lines, "{\"id\": \"c\", \"Lead Source\": \"google\"}\nnot json\n").unwrap();
    let run = leadscore(
        &[
            "score",
            "--pack",
            CRM,
            "--as-of",
            AS_OF,
            array.to_str().unwrap(),
            lines.to_str().unwrap(),
        ],
        "",
    );
    assert_eq!(run.code, 1);
    let ids: Vec<serde_json::Value> = results(&run.stdout).iter().map(|r| r["id"].clone()).collect();
    // A lead without an id gets its position: the index in an array, the line in a file.
    assert_eq!(
        ids,
        [serde_json::json!("a"), serde_json::json!(3), serde_json::json!("c")]
    );
    let errors: Vec<serde_json::Value> = results(&run.stderr);
    assert_eq!(errors.len(), 2);
    assert_eq!(errors[0]["index"], 2);
    assert_eq!(errors[0]["error"], "a lead must be a JSON object");
    assert!(errors[0]["file"].as_str().unwrap().ends_with("leads.json"));
    assert_eq!(errors[1]["line"], 2);
}

#[test]
fn explain_flag_adds_explanations() {
    let run = leadscore(
        &["score", "--pack", CRM, "--as-of", AS_OF, "--explain"],
        "{\"id\": 1, \"TotalVisits\": 5}\n",
    );
    assert_eq!(run.code, 0);
    let explanation = results(&run.stdout)[0]["explanation"].as_str().unwrap().to_string();
    assert!(explanation.starts_with("score 10 — not an MQL"), "{explanation}");
}

#[test]
fn explain_command() {
    let run = leadscore(
        &[
            "explain",
            "--pack",
            "rules/b2b-saas",
            "--as-of",
            AS_OF,
            "rules/b2b-saas/leads/capped-intent-cfo.json",
        ],
        "",
    );
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn stats_command() {
    let run = leadscore(
        &[
            "stats",
            "--pack",
            "rules/b2b-saas",
            "--as-of",
            AS_OF,
            "rules/b2b-saas/leads/",
        ],
        "",
    );
    assert_eq!(run.code, 2, "a folder is not a lead file");
    let mut args = vec!["stats", "--pack", "rules/b2b-saas", "--as-of", AS_OF];
    let mut files: Vec<String> = std::fs::read_dir("rules/b2b-saas/leads")
        .unwrap()
        .map(|e| e.unwrap().path().display().to_string())
        .collect();
    files.sort();
    args.extend(files.iter().map(String::as_str));
    let run = leadscore(&args, "");
    assert_eq!(run.code, 0, "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn summary_goes_to_stderr_and_counts_failures() {
    let input = "{\"id\": 1, \"TotalVisits\": 5, \"company\": {\"size\": 80}}\n{\"id\": 2}\nnope\n";
    let run = leadscore(&["score", "--pack", CRM, "--as-of", AS_OF, "--summary"], input);
    assert_eq!(run.code, 1);
    assert_eq!(results(&run.stdout).len(), 2);
    assert!(
        run.stderr
            .contains("scored        2\nfailed        1\nMQLs          1 (50.0%)"),
        "{}",
        run.stderr
    );
}

#[test]
fn errors_that_stop_the_run() {
    let run = leadscore(&["score", "--pack", CRM, "no/such/file.jsonl"], "");
    assert_eq!(run.code, 2);
    assert_eq!(run.stderr.lines().count(), 1);
    assert!(
        run.stderr.starts_with("error: cannot read no/such/file.jsonl"),
        "{}",
        run.stderr
    );

    let run = leadscore(&["score", "--pack", CRM, "leads.xlsx"], "");
    assert_eq!(run.code, 2);
    assert_eq!(
        run.stderr.trim(),
        "error: cannot tell the format of leads.xlsx from `.xlsx`; use --format jsonl, csv or json"
    );

    let run = leadscore(&["score", "--pack", CRM, "--format", "xml"], "");
    assert_eq!(run.code, 2);

    let run = leadscore(&["score", "--pack", CRM, "--delimiter", "::"], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--delimiter must be one ASCII character"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("bad.rules"), "rule \"x\": title ~ VP => +5 fitt\n").unwrap();
    let run = leadscore(&["stats", "--pack", dir.path().to_str().unwrap()], "");
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown dimension `fitt`"), "{}", run.stderr);
    assert!(run.stdout.is_empty());
}

#[test]
fn integer_ids_beyond_64_bits_keep_their_digits() {
    let input = "{\"id\": 18446744073709551617, \"title\": \"VP\"}\n{\"id\": 18446744073709551618}\n\
                 {\"id\": -1180591620717411303424}\n{\"id\": 18446744073709551615}\n{\"id\": 1e20}\n";
    let run = leadscore(&["score", "--pack", "rules/b2b-saas", "--as-of", AS_OF], input);
    assert_eq!(run.code, 0, "{}", run.stderr);
    let ids: Vec<serde_json::Value> = run
        .stdout
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["id"].clone())
        .collect();
    assert_eq!(
        ids,
        [
            serde_json::json!("18446744073709551617"),
            serde_json::json!("18446744073709551618"),
            serde_json::json!("-1180591620717411303424"),
            serde_json::json!(18446744073709551615u64),
            serde_json::json!(1e20),
        ]
    );
}
