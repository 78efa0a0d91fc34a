//! Testing a rule pack: expectation cases (`tests/*.toml`), sample-lead snapshots
//! (`leads/*.json` against `snapshots/*.snap`) and rule coverage. `leadscore test` is a thin
//! shell over this module; the repo's own test suite uses it too.

mod cases;
mod coverage;
mod snapshot;

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

use chrono::{DateTime, SecondsFormat, Utc};

use crate::eval::EvalError;
use crate::eval::Outcome;
use crate::pack::Pack;

pub use cases::{Case, Mismatch};
pub use coverage::{Coverage, RuleCoverage};
pub use snapshot::{SnapshotCheck, SnapshotStatus, SnapshotUpdate};

/// The time cases and sample leads are scored as of when nothing else is said: fixed, so
/// results never depend on the day the tests run. A test file's `as_of` (for its cases) or
/// `[leads] as_of` (for the sample leads) changes it.
pub const DEFAULT_AS_OF: &str = "2026-03-01T00:00:00Z";

/// A pack folder's tests: the cases of its `tests/*.toml` files and its sample leads
/// `leads/*.json`, read once. A malformed file is kept as an error; the rest still run.
///
/// ```
/// use leadscore::Pack;
/// use leadscore::packtest::PackTests;
/// # std::env::set_current_dir("../..").unwrap(); // the repository root, where rules/ is
/// let pack = Pack::load("rules/agency")?;
/// let tests = PackTests::load("rules/agency");
/// assert!(tests.errors().is_empty());
/// let reports = tests.run_cases(&pack, None);
/// assert!(reports.iter().all(|r| r.passed()));
/// # Ok::<(), leadscore::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct PackTests {
    dir: PathBuf,
    cases: Vec<Case>,
    samples: Vec<Sample>,
    samples_as_of: DateTime<Utc>,
    errors: Vec<TestFileError>,
}

/// A sample lead of the pack (`leads/NAME.json`), snapshotted as `snapshots/NAME.snap`.
#[derive(Clone, Debug)]
pub struct Sample {
    /// The file name without `.json`: the snapshot's name.
    pub name: String,
    /// The file, relative to the pack folder (`leads/NAME.json`).
    pub file: String,
    /// The lead.
    pub lead: serde_json::Value,
}

/// A test file or sample lead that could not be read, with where and why.
///
/// Displays as a diagnostic: the message, `file:line:col`, the line and a caret.
///
/// ```
/// let dir = tempfile::tempdir()?;
/// std::fs::create_dir(dir.path().join("tests"))?;
/// std::fs::write(dir.path().join("tests/t.toml"), "[[case]]\nname = \"a\"\nlead = {}\nscroe = 3\n")?;
/// let tests = leadscore::packtest::PackTests::load(dir.path());
/// let error = &tests.errors()[0];
/// assert_eq!(error.line_col(), Some((4, 1)));
/// assert!(error.message.starts_with("unknown field `scroe`"));
/// # Ok::<(), std::io::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct TestFileError {
    /// The file, as given on the command line (`rules/b2b-saas/tests/leads.toml`).
    pub file: String,
    /// What is wrong.
    pub message: String,
    /// The file's text and the byte range of the mistake, when known.
    at: Option<(String, Range<usize>)>,
}

/// One case run: the result and every expectation it missed.
#[derive(Clone, Debug)]
pub struct CaseReport<'a> {
    /// The case.
    pub case: &'a Case,
    /// Its lead's outcome, or why the lead could not be scored.
    pub result: Result<Outcome, EvalError>,
    /// The expectations the outcome did not meet.
    pub mismatches: Vec<Mismatch>,
}

/// One sample lead scored: the outcome and the text its snapshot holds.
#[derive(Clone, Debug)]
pub struct SampleReport<'a> {
    /// The sample lead.
    pub sample: &'a Sample,
    /// Its outcome, or why it could not be scored.
    pub result: Result<Outcome, EvalError>,
    /// The snapshot text: the `as of` time, then the explanation (or the error).
    pub text: String,
}

impl CaseReport<'_> {
    /// The lead was scored and met every expectation.
    pub fn passed(&self) -> bool {
        self.result.is_ok() && self.mismatches.is_empty()
    }
}

impl PackTests {
    /// Reads `DIR/tests/*.toml` and `DIR/leads/*.json` (both optional), in file-name order.
    pub fn load(dir: impl AsRef<Path>) -> PackTests {
        let dir = dir.as_ref().to_path_buf();
        let default_as_of = crate::parse_time(DEFAULT_AS_OF).unwrap_or_default();
        let mut tests = PackTests {
            dir,
            cases: Vec::new(),
            samples: Vec::new(),
            samples_as_of: default_as_of,
            errors: Vec::new(),
        };
        tests.load_cases(default_as_of);
        tests.load_samples();
        tests
    }

    fn load_cases(&mut self, default_as_of: DateTime<Utc>) {
        let mut leads_as_of: Option<String> = None;
        for path in self.files_in("tests", "toml") {
            let shown = path.display().to_string();
            let relative = relative(&path, &self.dir);
            match cases::parse_file(&path, &shown, &relative, default_as_of) {
                Ok(parsed) => {
                    self.cases.extend(parsed.cases);
                    if let Some((time, span)) = parsed.leads_as_of {
                        if let Some(first) = &leads_as_of {
                            let text =
                                crate::file::read_text(&path, crate::file::DEFAULT_MAX_FILE_BYTES).unwrap_or_default();
                            let message = format!("`[leads] as_of` is already set in {first}; set it in one file");
                            self.errors.push(TestFileError::at(&shown, &text, span, message));
                        } else {
                            leads_as_of = Some(relative);
                            self.samples_as_of = time;
                        }
                    }
                }
                Err(e) => self.errors.push(e),
            }
        }
    }

    fn load_samples(&mut self) {
        for path in self.files_in("leads", "json") {
            let shown = path.display().to_string();
            let lead = crate::file::read_text(&path, crate::file::DEFAULT_MAX_FILE_BYTES)
                .map_err(|e| format!("cannot read it: {}", e.kind))
                .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("not valid JSON: {e}")));
            match lead {
                Ok(lead) => {
                    let name = path
                        .file_stem()
                        .map(|s| s.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    self.samples.push(Sample {
                        name,
                        file: relative(&path, &self.dir),
                        lead,
                    });
                }
                Err(message) => self.errors.push(TestFileError::plain(&shown, message)),
            }
        }
    }

    /// The files `DIR/sub/*.ext`, sorted by name; a missing folder holds none. Every
    /// entry named so is listed, so a dangling link, a FIFO or a folder is reported when it
    /// is read, never skipped.
    fn files_in(&mut self, sub: &str, ext: &str) -> Vec<PathBuf> {
        let folder = self.dir.join(sub);
        let entries = match std::fs::read_dir(&folder) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Vec::new(),
            Err(e) => {
                self.errors.push(TestFileError::plain(
                    &folder.display().to_string(),
                    format!("cannot read it: {e}"),
                ));
                return Vec::new();
            }
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == ext))
            .collect();
        files.sort();
        files
    }

    /// The pack folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Files that could not be read, in the order found.
    pub fn errors(&self) -> &[TestFileError] {
        &self.errors
    }

    /// Every case, in file then source order.
    pub fn cases(&self) -> &[Case] {
        &self.cases
    }

    /// Every sample lead, by file name.
    pub fn samples(&self) -> &[Sample] {
        &self.samples
    }

    /// Every lead the pack's tests hold: the sample leads, then each case's lead (what
    /// [`crate::Pack::field_warnings`] goes by).
    pub fn leads(&self) -> Vec<&serde_json::Value> {
        let samples = self.samples.iter().map(|s| &s.lead);
        samples.chain(self.cases.iter().map(|c| &c.lead)).collect()
    }

    /// The time sample leads are scored as of.
    pub fn samples_as_of(&self) -> DateTime<Utc> {
        self.samples_as_of
    }

    /// Runs the cases whose name or file contains `filter` (ignoring case), or all.
    pub fn run_cases<'a>(&'a self, pack: &Pack, filter: Option<&str>) -> Vec<CaseReport<'a>> {
        let filter = filter.map(str::to_lowercase);
        self.cases
            .iter()
            .filter(|c| matches(filter.as_deref(), &format!("{} {}", c.file, c.name)))
            .map(|case| {
                let result = pack.score(&case.lead, case.as_of);
                let mismatches = match &result {
                    Ok(outcome) => case.expect.check(outcome, pack.program()),
                    Err(_) => Vec::new(),
                };
                CaseReport {
                    case,
                    result,
                    mismatches,
                }
            })
            .collect()
    }

    /// Scores the sample leads whose file contains `filter` (ignoring case), or all.
    pub fn run_samples<'a>(&'a self, pack: &Pack, filter: Option<&str>) -> Vec<SampleReport<'a>> {
        let filter = filter.map(str::to_lowercase);
        let as_of = self.samples_as_of.to_rfc3339_opts(SecondsFormat::Secs, true);
        self.samples
            .iter()
            .filter(|s| matches(filter.as_deref(), &s.file))
            .map(|sample| {
                let result = pack.score(&sample.lead, self.samples_as_of);
                let body = match &result {
                    Ok(outcome) => pack.explain(outcome).to_string(),
                    Err(e) => format!("cannot score this lead: {e}"),
                };
                SampleReport {
                    sample,
                    result,
                    text: format!("as of {as_of}\n{body}"),
                }
            })
            .collect()
    }

    /// Snapshots in `snapshots/` whose sample lead is gone (renamed or deleted), by file name.
    ///
    /// ```
    /// # std::env::set_current_dir("../..").unwrap(); // the repository root, where rules/ is
    /// let tests = leadscore::packtest::PackTests::load("rules/b2b-saas");
    /// assert!(tests.orphan_snapshots().is_empty());
    /// ```
    pub fn orphan_snapshots(&self) -> Vec<String> {
        let Ok(entries) = std::fs::read_dir(self.dir.join("snapshots")) else {
            return Vec::new();
        };
        let mut orphans: Vec<String> = entries
            .filter_map(Result::ok)
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|name| {
                name.strip_suffix(".snap")
                    .is_some_and(|stem| !self.samples.iter().any(|s| s.name == stem))
            })
            .collect();
        orphans.sort();
        orphans
    }

    /// Compares a sample's text with `snapshots/NAME.snap`, writing `NAME.snap.new` or
    /// `NAME.snap` as `update` says.
    ///
    /// ```
    /// use leadscore::Pack;
    /// use leadscore::packtest::{PackTests, SnapshotStatus, SnapshotUpdate};
    /// # std::env::set_current_dir("../..").unwrap(); // the repository root, where rules/ is
    /// let pack = Pack::load("rules/fintech")?;
    /// let tests = PackTests::load("rules/fintech");
    /// let samples = tests.run_samples(&pack, Some("intern.json"));
    /// assert_eq!(samples.len(), 1);
    /// assert!(samples[0].text.starts_with("as of 2026-03-01T00:00:00Z\nscore 38.5509 — disqualified (student)"));
    /// let check = tests.check_snapshot(&samples[0], SnapshotUpdate::Compare)?;
    /// assert_eq!(check.status, SnapshotStatus::Matched);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn check_snapshot(&self, report: &SampleReport<'_>, update: SnapshotUpdate) -> std::io::Result<SnapshotCheck> {
        let path = self.dir.join("snapshots").join(format!("{}.snap", report.sample.name));
        snapshot::check(&path, &report.sample.file, &report.text, update)
    }
}

fn matches(filter: Option<&str>, text: &str) -> bool {
    filter.is_none_or(|f| text.to_lowercase().contains(f))
}

/// `path` relative to `dir`, with `/` separators (`tests/leads.toml`).
fn relative(path: &Path, dir: &Path) -> String {
    let rel = path.strip_prefix(dir).unwrap_or(path);
    rel.components()
        .map(|c| c.as_os_str().to_string_lossy())
        .collect::<Vec<_>>()
        .join("/")
}

impl TestFileError {
    pub(crate) fn plain(file: &str, message: String) -> TestFileError {
        TestFileError {
            file: file.to_string(),
            message,
            at: None,
        }
    }

    pub(crate) fn at(file: &str, text: &str, span: Range<usize>, message: String) -> TestFileError {
        TestFileError {
            file: file.to_string(),
            message,
            at: Some((text.to_string(), span)),
        }
    }

    pub(crate) fn from_toml(file: &str, text: &str, error: &toml::de::Error) -> TestFileError {
        let message = error.message().trim_end().to_string();
        match error.span() {
            Some(span) => TestFileError::at(file, text, span, message),
            None => TestFileError::plain(file, message),
        }
    }

    /// The 1-based line and column of the mistake, when known.
    pub fn line_col(&self) -> Option<(usize, usize)> {
        self.at
            .as_ref()
            .map(|(text, span)| crate::source::line_col(text, span.start))
    }

    /// The error rendered as a diagnostic; `color` adds terminal colours.
    pub fn render(&self, color: bool) -> String {
        use codespan_reporting::diagnostic::{Diagnostic, Label};
        use codespan_reporting::files::SimpleFile;
        let Some((text, span)) = &self.at else {
            return format!("error: {}: {}\n", self.file, self.message);
        };
        let file = SimpleFile::new(self.file.as_str(), text.as_str());
        let diagnostic = Diagnostic::error()
            .with_message(&self.message)
            .with_labels(vec![Label::primary((), span.clone())]);
        let mut out = crate::diagnostic::Renderer::new(color);
        if !out.emit(&file, &diagnostic) {
            let (line, column) = self.line_col().unwrap_or((0, 0));
            return format!("error: {}\n  --> {}:{line}:{column}\n", self.message, self.file);
        }
        out.finish()
    }
}

impl fmt::Display for TestFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.render(false))
    }
}

impl std::error::Error for TestFileError {}
