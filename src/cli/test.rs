//! `leadscore test [PACK ...]`: run each pack's expectation cases, compare its sample
//! leads with their snapshots, report rule coverage. One line per case; exit 0 only when
//! everything passes, 1 when something failed, 2 when a pack or test file could not be read.

use std::path::{Path, PathBuf};

use leadscore::packtest::{Coverage, PackTests, SampleReport, SnapshotStatus, SnapshotUpdate};
use leadscore::Pack;

use super::{load_pack, Exit, Failure, PackArgs};

/// Arguments of `test`.
#[derive(clap::Args, Debug)]
pub struct TestArgs {
    /// Pack folders (default: the current folder if it holds *.rules files, else every pack under ./rules).
    packs: Vec<PathBuf>,
    /// Run only the cases (and sample leads) whose name or file contains TEXT, ignoring case.
    #[arg(long, value_name = "TEXT")]
    filter: Option<String>,
    /// Also compare each sample lead's explanation with snapshots/NAME.snap; a new or changed
    /// one fails and is written beside it as NAME.snap.new (not when $CI is set).
    #[arg(long)]
    snapshots: bool,
    /// Accept new and changed snapshots: write NAME.snap (implies --snapshots).
    #[arg(long)]
    accept: bool,
    /// Report, per rule, whether any case or sample lead made it fire.
    #[arg(long)]
    coverage: bool,
    /// Fail when a pack's coverage is below N percent (implies --coverage).
    #[arg(long = "min-coverage", value_name = "N")]
    min_coverage: Option<f64>,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// What one pack's run counted.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    /// Packs that do not check.
    broken_packs: usize,
    /// Test files and sample leads that could not be read.
    broken_files: usize,
}

impl Tally {
    fn broken(&self) -> usize {
        self.broken_packs + self.broken_files
    }
}

/// Runs every pack's tests and prints the report.
pub fn run(args: &TestArgs) -> Result<Exit, Failure> {
    let packs = if args.packs.is_empty() {
        default_packs()?
    } else {
        args.packs.clone()
    };
    let mut total = Tally::default();
    for (i, dir) in packs.iter().enumerate() {
        if i > 0 {
            outln!("");
        }
        test_pack(dir, args, &mut total);
    }
    let verdict = if total.failed + total.broken() == 0 {
        "ok"
    } else {
        "FAIL"
    };
    let mut summary = format!("{} passed, {} failed", total.passed, total.failed);
    if total.broken_packs > 0 {
        summary += &format!("; {} did not check", plural(total.broken_packs, "pack"));
    }
    if total.broken_files > 0 {
        summary += &format!("; {} could not be read", plural(total.broken_files, "file"));
    }
    outln!("\ntest result: {verdict}. {summary}");
    if total.broken() > 0 {
        Err(Failure(String::new()))
    } else if total.failed > 0 {
        Ok(Exit::Partial)
    } else {
        Ok(Exit::Success)
    }
}

/// The current folder if it is a pack, else every pack folder under `./rules`.
fn default_packs() -> Result<Vec<PathBuf>, Failure> {
    if is_pack(Path::new(".")) {
        return Ok(vec![PathBuf::from(".")]);
    }
    let mut packs: Vec<PathBuf> = match std::fs::read_dir("rules") {
        Ok(entries) => entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| is_pack(p))
            .collect(),
        Err(_) => Vec::new(),
    };
    packs.sort();
    if packs.is_empty() {
        return Err(Failure(
            "error: no pack here: name pack folders, or run in a pack folder or beside rules/".into(),
        ));
    }
    Ok(packs)
}

fn is_pack(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|entries| {
        entries
            .filter_map(Result::ok)
            .any(|e| e.path().extension().is_some_and(|x| x == "rules"))
    })
}

/// Tests one pack, adding to the tally. A pack that does not check counts as broken.
fn test_pack(dir: &Path, args: &TestArgs, total: &mut Tally) {
    outln!("{}", dir.display());
    let pack = match load_pack(dir, &args.pack_args) {
        Ok(pack) => pack,
        Err(Failure(message)) => {
            errln!("{}", message.trim_end());
            outln!("  the pack does not check; no test ran");
            total.broken_packs += 1;
            return;
        }
    };
    let tests = PackTests::load(dir);
    for error in tests.errors() {
        err!("{error}");
        total.broken_files += 1;
    }
    let filter = args.filter.as_deref();
    let cases = tests.run_cases(&pack, filter);
    let width = cases.iter().map(|c| place(c.case).len()).max().unwrap_or(0);
    for report in &cases {
        print_case(&pack, report, width, total);
    }
    let snapshots = args.snapshots || args.accept;
    let wants_coverage = args.coverage || args.min_coverage.is_some();
    let samples = if snapshots || wants_coverage {
        tests.run_samples(&pack, filter)
    } else {
        Vec::new()
    };
    if snapshots {
        let update = if args.accept {
            SnapshotUpdate::Accept
        } else if std::env::var_os("CI").is_some() {
            SnapshotUpdate::Compare
        } else {
            SnapshotUpdate::WriteNew
        };
        for sample in &samples {
            print_snapshot(&tests, sample, update, total);
        }
        if filter.is_none() {
            for orphan in tests.orphan_snapshots() {
                outln!("  note  snapshots/{orphan} has no sample lead in leads/ (delete it if the lead is gone)");
            }
        }
    }
    if cases.is_empty() && !snapshots {
        match filter {
            Some(text) => outln!("  no case matches --filter {text:?}"),
            None => outln!("  no test cases (add tests/*.toml)"),
        }
    }
    if wants_coverage {
        let coverage = Coverage::new(
            pack.program(),
            cases.iter().filter_map(|c| c.result.as_ref().ok()),
            samples.iter().filter_map(|s| s.result.as_ref().ok()),
        );
        print_coverage(&coverage, args.min_coverage, total);
    }
}

/// `tests/FILE.toml:LINE` of a case.
fn place(case: &leadscore::packtest::Case) -> String {
    format!("{}:{}", case.file, case.line)
}

fn print_case(pack: &Pack, report: &leadscore::packtest::CaseReport<'_>, width: usize, total: &mut Tally) {
    let case = report.case;
    let place = place(case);
    if report.passed() {
        total.passed += 1;
        outln!("  ok    {place:<width$}  {}", case.name);
        return;
    }
    total.failed += 1;
    outln!("  FAIL  {place:<width$}  {}", case.name);
    match &report.result {
        Ok(outcome) => {
            for m in &report.mismatches {
                outln!("          {m}");
            }
            outln!("        actual result:");
            print_indented(&pack.explain(outcome).to_string(), "          ");
        }
        Err(e) => outln!("          cannot score the lead: {e}"),
    }
}

fn print_snapshot(tests: &PackTests, sample: &SampleReport<'_>, update: SnapshotUpdate, total: &mut Tally) {
    let name = &sample.sample.file;
    let check = match tests.check_snapshot(sample, update) {
        Ok(check) => check,
        Err(e) => {
            total.failed += 1;
            outln!("  FAIL  {name}  snapshot could not be read or written: {e}");
            return;
        }
    };
    let written = match &check.written {
        Some(path) if check.passed() => format!(" (accepted: wrote {})", path.display()),
        Some(path) => format!(" (wrote {})", path.display()),
        None => String::new(),
    };
    if check.passed() {
        total.passed += 1;
        let what = if check.status == SnapshotStatus::Matched {
            "snapshot matches"
        } else {
            "snapshot"
        };
        outln!("  ok    {name}  {what}{written}");
        return;
    }
    total.failed += 1;
    match &check.status {
        SnapshotStatus::Changed { diff } => {
            outln!("  FAIL  {name}  snapshot changed{written}");
            print_indented(diff, "          ");
        }
        _ => {
            outln!("  FAIL  {name}  new snapshot{written}");
            print_indented(&sample.text, "          + ");
        }
    }
}

fn print_coverage(coverage: &Coverage, min: Option<f64>, total: &mut Tally) {
    outln!("  rule coverage:");
    print_indented(&coverage.to_string(), "  ");
    if let Some(min) = min {
        if coverage.percent() + 1e-9 < min {
            total.failed += 1;
            outln!("  FAIL  coverage is below --min-coverage {min}%");
        }
    }
}

fn print_indented(text: &str, indent: &str) {
    for line in text.trim_end().lines() {
        outln!("{indent}{line}");
    }
}

fn plural(n: usize, what: &str) -> String {
    if n == 1 {
        format!("1 {what}")
    } else {
        format!("{n} {what}s")
    }
}
