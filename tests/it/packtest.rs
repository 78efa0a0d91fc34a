//! `leadscore test` itself: the real binary on packs written into temp folders.

use std::path::{Path, PathBuf};
use std::process::Command;

use tempfile::TempDir;

const RULES: &str = r#"dimension fit
dimension intent
threshold 20

rule "VP":      title ~ VP                 => +15 fit
rule "Pricing": visited /pricing within 30d => +10 intent
rule "Student": email ends_with ".edu"     => disqualify "student"

route "ae" when region == "NY"
route "sdr"
"#;

const CASES: &str = r#"as_of = "2026-03-01T00:00:00Z"

[[case]]
name = "VP on the pricing page"
lead = { title = "VP Sales", region = "NY", events = [{ type = "page_view", path = "/pricing", at = "2026-02-27T00:00:00Z" }] }
score = 25
mql = true
route = "ae"
dimensions.fit = 15
fired = ["VP", "Pricing"]

[[case]]
name = "student from a file"
lead = "../leads/student.json"
disqualified = "student"
mql = false
not_fired = ["Pricing"]
"#;

const STUDENT: &str = r#"{"id": "s-1", "title": "VP of the chess club", "email": "kim@uni.edu"}"#;

/// A folder holding one pack, `demo`, with rules, cases and a sample lead.
struct Fixture {
    root: TempDir,
}

impl Fixture {
    fn new() -> Fixture {
        let fixture = Fixture {
            root: tempfile::tempdir().unwrap(),
        };
        fixture.write("demo/demo.rules", RULES);
        fixture.write("demo/tests/cases.toml", CASES);
        fixture.write("demo/leads/student.json", STUDENT);
        fixture
    }

    fn path(&self, rel: &str) -> PathBuf {
        self.root.path().join(rel)
    }

    fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap()
    }

    /// Runs `leadscore test ARGS` in the fixture's root (outside CI unless asked).
    fn run(&self, args: &[&str]) -> Run {
        self.run_env(args, None)
    }

    fn run_env(&self, args: &[&str], ci: Option<&str>) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_leadscore"));
        cmd.current_dir(self.root.path())
            .arg("test")
            .args(args)
            .env_remove("CI");
        if let Some(ci) = ci {
            cmd.env("CI", ci);
        }
        let out = cmd.output().unwrap();
        Run {
            code: out.status.code().unwrap(),
            stdout: String::from_utf8(out.stdout).unwrap(),
            stderr: String::from_utf8(out.stderr).unwrap(),
        }
    }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

#[test]
fn a_passing_pack_exits_0_with_one_line_per_case() {
    let fx = Fixture::new();
    let run = fx.run(&["demo"]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    insta::assert_snapshot!(run.stdout, @r"
    demo
      ok    tests/cases.toml:3   VP on the pricing page
      ok    tests/cases.toml:12  student from a file

    test result: ok. 2 passed, 0 failed
    ");
}

#[test]
fn a_failing_case_shows_expected_actual_and_the_explanation() {
    let fx = Fixture::new();
    fx.write(
        "demo/tests/wrong.toml",
        r#"
[[case]]
name = "wrong on every count"
lead = { title = "VP Sales", region = "CA", events = [{ type = "page_view", path = "/pricing", at = 2026-02-27T00:00:00Z }] }
score = 30
mql = false
route = "ae"
tags = ["pricing"]
dimensions.intent = 5
dimensions.fitt = 15
fired = ["Student", "Pricng"]
not_fired = ["VP"]
"#,
    );
    let run = fx.run(&["demo"]);
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    insta::assert_snapshot!(run.stdout);
}

#[test]
fn filter_runs_only_matching_cases() {
    let fx = Fixture::new();
    let run = fx.run(&["demo", "--filter", "STUDENT"]);
    assert_eq!(run.code, 0);
    assert!(run.stdout.contains("student from a file"));
    assert!(!run.stdout.contains("VP on the pricing page"), "{}", run.stdout);
    assert!(run.stdout.contains("1 passed, 0 failed"));
    let none = fx.run(&["demo", "--filter", "nothing like this"]);
    assert!(
        none.stdout.contains("no case matches --filter \"nothing like this\""),
        "{}",
        none.stdout
    );
}

#[test]
fn a_new_snapshot_fails_and_is_written_as_snap_new() {
    let fx = Fixture::new();
    let run = fx.run(&["demo", "--snapshots"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("FAIL  leads/student.json  new snapshot (wrote demo/snapshots/student.snap.new)"),
        "{}",
        run.stdout
    );
    assert!(!fx.path("demo/snapshots/student.snap").exists());
    insta::assert_snapshot!(fx.read("demo/snapshots/student.snap.new"), @r#"
    ---
    source: leadscore test --snapshots
    expression: explanation
    input_file: leads/student.json
    ---
    as of 2026-03-01T00:00:00Z
    score 15 — disqualified (student)
      rule      points  dimension  location
      VP           +15  fit        demo.rules:5
      Student           -          demo.rules:7  disqualify "student"
      dimensions: fit 15, intent 0
      mql when: score >= 20
    "#);
}

#[test]
fn a_changed_snapshot_fails_with_a_diff_and_a_snap_new_until_accepted() {
    let fx = Fixture::new();
    assert_eq!(fx.run(&["demo", "--accept"]).code, 0);
    let accepted = fx.read("demo/snapshots/student.snap");
    assert_eq!(fx.run(&["demo", "--snapshots"]).code, 0);

    // A rule change moves the sample lead's score.
    fx.write("demo/demo.rules", &RULES.replace("=> +15 fit", "=> +12 fit"));
    fx.write(
        "demo/tests/cases.toml",
        &CASES
            .replace("score = 25", "score = 22")
            .replace("fit = 15", "fit = 12"),
    );
    let run = fx.run(&["demo", "--snapshots"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    insta::assert_snapshot!(run.stdout);
    assert_eq!(
        fx.read("demo/snapshots/student.snap"),
        accepted,
        "the accepted snapshot must stay until --accept"
    );
    assert!(fx
        .read("demo/snapshots/student.snap.new")
        .contains("score 12 — disqualified (student)"));

    // --accept takes the new text and removes the pending file.
    let run = fx.run(&["demo", "--accept"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("ok    leads/student.json  snapshot (accepted: wrote demo/snapshots/student.snap)"),
        "{}",
        run.stdout
    );
    assert!(fx
        .read("demo/snapshots/student.snap")
        .contains("score 12 — disqualified (student)"));
    assert!(!fx.path("demo/snapshots/student.snap.new").exists());
    let run = fx.run(&["demo", "--snapshots"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(run.stdout.contains("ok    leads/student.json  snapshot matches"));
}

#[test]
fn in_ci_a_changed_snapshot_fails_without_writing() {
    let fx = Fixture::new();
    let run = fx.run_env(&["demo", "--snapshots"], Some("true"));
    assert_eq!(run.code, 1);
    assert!(
        run.stdout.contains("FAIL  leads/student.json  new snapshot\n"),
        "{}",
        run.stdout
    );
    assert!(!fx.path("demo/snapshots").exists());
}

#[test]
fn a_matching_snapshot_removes_a_stale_snap_new() {
    let fx = Fixture::new();
    assert_eq!(fx.run(&["demo", "--accept"]).code, 0);
    fx.write("demo/snapshots/student.snap.new", "---\n---\nleft over\n");
    assert_eq!(fx.run(&["demo", "--snapshots"]).code, 0);
    assert!(!fx.path("demo/snapshots/student.snap.new").exists());
}

#[test]
fn leads_as_of_sets_the_time_sample_leads_are_scored_at() {
    let fx = Fixture::new();
    fx.write(
        "demo/leads/pricing.json",
        r#"{"events": [{"type": "page_view", "path": "/pricing", "at": "2026-06-01T00:00:00Z"}]}"#,
    );
    fx.run(&["demo", "--accept"]);
    assert!(fx
        .read("demo/snapshots/pricing.snap")
        .contains("as of 2026-03-01T00:00:00Z\nscore 0"));
    fx.write("demo/tests/leads.toml", "[leads]\nas_of = 2026-06-02T00:00:00Z\n");
    let run = fx.run(&["demo", "--snapshots"]);
    assert_eq!(run.code, 1);
    assert!(run.stdout.contains("+as of 2026-06-02T00:00:00Z"), "{}", run.stdout);
    assert!(run.stdout.contains("+score 10 — not an MQL"), "{}", run.stdout);
}

#[test]
fn coverage_lists_every_rule_and_the_ones_nothing_exercises() {
    let fx = Fixture::new();
    fx.write(
        "demo/tests/cases.toml",
        &CASES.replace("\"../leads/student.json\"", "{ title = \"intern\" }"),
    );
    std::fs::remove_file(fx.path("demo/leads/student.json")).unwrap();
    let run = fx.run(&["demo", "--coverage"]);
    assert_eq!(run.code, 1, "the case about the student now fails: {}", run.stdout);
    let coverage = run.stdout.split("  rule coverage:\n").nth(1).unwrap();
    insta::assert_snapshot!(coverage, @r"
        demo.rules:5  VP       1 case, 0 sample leads
        demo.rules:6  Pricing  1 case, 0 sample leads
        demo.rules:7  Student  NOT EXERCISED
        not exercised:
          Student (demo.rules:7)
        coverage: 2 of 3 rules (66.7%)

    test result: FAIL. 1 passed, 1 failed
    ");
}

#[test]
fn coverage_counts_sample_leads() {
    let fx = Fixture::new();
    fx.write("demo/tests/cases.toml", "");
    let run = fx.run(&["demo", "--coverage"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout.contains("demo.rules:7  Student  0 cases, 1 sample lead"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("coverage: 2 of 3 rules (66.7%)"), "{}", run.stdout);
}

#[test]
fn min_coverage_fails_below_the_percentage() {
    let fx = Fixture::new();
    assert_eq!(fx.run(&["demo", "--min-coverage", "100"]).code, 0);
    // Only the student case is left: nothing visits /pricing any more.
    let student_only = &CASES[CASES.find("[[case]]\nname = \"student").unwrap()..];
    fx.write("demo/tests/cases.toml", student_only);
    let at_60 = fx.run(&["demo", "--min-coverage", "60"]);
    assert_eq!(at_60.code, 0, "{}", at_60.stdout);
    assert!(at_60.stdout.contains("Pricing  NOT EXERCISED"), "{}", at_60.stdout);
    let run = fx.run(&["demo", "--min-coverage", "100"]);
    assert_eq!(run.code, 1, "{}", run.stdout);
    assert!(
        run.stdout.contains("FAIL  coverage is below --min-coverage 100%"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains("test result: FAIL. 1 passed, 1 failed"),
        "{}",
        run.stdout
    );
}

#[test]
fn a_malformed_test_file_is_reported_with_file_and_line() {
    let fx = Fixture::new();
    fx.write(
        "demo/tests/typo.toml",
        "[[case]]\nname = \"typo\"\nlead = {}\nscroe = 3\n",
    );
    let run = fx.run(&["demo"]);
    assert_eq!(run.code, 2);
    insta::assert_snapshot!(run.stderr, @r"
    error: unknown field `scroe`, expected one of `name`, `lead`, `as_of`, `score`, `mql`, `disqualified`, `route`, `tags`, `dimensions`, `fired`, `not_fired`
      --> demo/tests/typo.toml:4:1
      |
    4 | scroe = 3
      | ^^^^^
    ");
    // The other file's cases still ran.
    assert!(
        run.stdout.contains("ok    tests/cases.toml:3   VP on the pricing page"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("1 file could not be read"), "{}", run.stdout);
}

#[test]
fn bad_values_in_a_test_file_point_at_the_value() {
    let fx = Fixture::new();
    let cases = [
        (
            "[[case]]\nname = \"a\"\nlead = \"../leads/missing.json\"\n",
            "demo/tests/t.toml:3:8",
            "cannot read lead file `../leads/missing.json`",
        ),
        (
            "[[case]]\nname = \"a\"\nlead = {}\nas_of = \"yesterday\"\n",
            "demo/tests/t.toml:4:9",
            "`yesterday` is not an RFC 3339 time",
        ),
        (
            "[[case]]\nname = \"a\"\nlead = {}\ndisqualified = true\n",
            "demo/tests/t.toml:4:16",
            "`true` is not a value here",
        ),
        (
            "[[case]]\nname = \"a\"\nlead = {}\nmql = \"yes\"\n",
            "demo/tests/t.toml:4:7",
            "invalid type: string \"yes\", expected a boolean",
        ),
        (
            "[[case]]\nname = \"a\"\n",
            "demo/tests/t.toml:1:1",
            "missing field `lead`",
        ),
        (
            "[[case]\nname = \"a\"\n",
            "demo/tests/t.toml:1:8",
            "unclosed array table, expected `]`",
        ),
    ];
    for (text, location, message) in cases {
        fx.write("demo/tests/t.toml", text);
        let run = fx.run(&["demo"]);
        assert_eq!(run.code, 2, "{text}");
        assert!(run.stderr.contains(location), "{text}\n{}", run.stderr);
        assert!(run.stderr.contains(message), "{text}\n{}", run.stderr);
    }
}

#[test]
fn a_pack_that_does_not_check_exits_2_and_other_packs_still_run() {
    let fx = Fixture::new();
    fx.write("broken/broken.rules", "rule \"x\": title ~ VP => +1 fitt\n");
    let run = fx.run(&["broken", "demo"]);
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("unknown dimension `fitt`"), "{}", run.stderr);
    assert!(run.stdout.contains("the pack does not check; no test ran"));
    assert!(
        run.stdout.contains("2 passed, 0 failed; 1 pack did not check"),
        "{}",
        run.stdout
    );
}

#[test]
fn without_arguments_every_pack_under_rules_is_tested() {
    let fx = Fixture::new();
    fx.write("rules/one/one.rules", "rule \"A\": title ~ A => +1\n");
    fx.write(
        "rules/one/tests/t.toml",
        "[[case]]\nname = \"a\"\nlead = { title = \"A\" }\nscore = 1\n",
    );
    fx.write("rules/two/two.rules", "rule \"B\": title ~ B => +1\n");
    let run = fx.run(&[]);
    assert_eq!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stdout
            .starts_with("rules/one\n  ok    tests/t.toml:1  a\n\nrules/two\n  no test cases"),
        "{}",
        run.stdout
    );
    let in_pack = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .current_dir(fx.path("rules/one"))
        .arg("test")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&in_pack.stdout).starts_with(".\n  ok    tests/t.toml:1  a"));
}

#[test]
fn library_reports_cases_with_their_mismatches() {
    let fx = Fixture::new();
    let pack = leadscore::Pack::load(fx.path("demo")).unwrap();
    let tests = leadscore::packtest::PackTests::load(fx.path("demo"));
    assert!(tests.errors().is_empty());
    assert_eq!(
        tests.samples_as_of(),
        leadscore::parse_time(leadscore::packtest::DEFAULT_AS_OF).unwrap()
    );
    let reports = tests.run_cases(&pack, None);
    assert_eq!(reports.len(), 2);
    assert!(reports.iter().all(|r| r.passed()));
    assert_eq!(reports[1].case.lead["id"], "s-1");
    assert_eq!(Path::new(&reports[1].case.file), Path::new("tests/cases.toml"));
}

#[test]
fn a_snapshot_without_its_lead_is_noted() {
    let fx = Fixture::new();
    assert_eq!(fx.run(&["demo", "--accept"]).code, 0);
    std::fs::rename(fx.path("demo/leads/student.json"), fx.path("demo/leads/uni.json")).unwrap();
    fx.write("demo/tests/cases.toml", &CASES.replace("student.json", "uni.json"));
    let run = fx.run(&["demo", "--accept"]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(
        run.stdout
            .contains("  note  snapshots/student.snap has no sample lead in leads/"),
        "{}",
        run.stdout
    );
}
