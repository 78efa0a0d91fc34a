//! `fit` as a library function ([`fit`]): three passes over the labelled leads — fit the
//! points on the pack's rules (and suggested ones), choose the threshold with the new
//! points, score the rewritten pack once more to report it — and back come the report and
//! the rewritten rule files. Every pack in between is built in memory, so nothing is
//! written until the caller has a fitted pack that checks.

use std::path::Path;

use serde_json::Value;

use super::calibration;
use super::decay::{self, LearnedDecay};
use super::error::OutcomesError;
use super::leakage::{screen, Leaks};
use super::metrics::Recommended;
use super::refit::{new_threshold, FitOptions, FitReport, Gap, Holdout, Plan};
use super::rewrite::{numbers, rewrite, Numbers};
use super::rows::{Judgement, Lead, Reader, Rows, Rules, Setup, When};
use super::suggest::{rank, worth_points, Candidates};
use leadscore::ast::Millis;
use leadscore::{Loader, Pack};

/// A lead worked on by a pass of [`fit`]; a source only hands it back.
#[derive(Debug)]
pub struct Judged {
    judgement: Judgement,
    lead: Option<Value>,
}

/// The work a pass does on each lead (in parallel, where the source can).
pub type Work<'a> = dyn Fn(Lead<'_>) -> Result<Judged, String> + Sync + 'a;

/// What a source of leads can fail with (an unreadable file, a bad delimiter).
pub type SourceError = Box<dyn std::error::Error + Send + Sync>;

/// Labelled leads that [`fit`] reads once per pass, so a source must give the same leads
/// each time (files, not standard input).
pub trait Leads {
    /// Runs `work` on every lead and hands each result to `sink` in input order (`Err`
    /// for a lead that could not be read or worked on). `first` is the first pass: later
    /// passes read the same leads, so a source reports a lead's failure on the first only.
    /// Returns whether any lead failed.
    fn each(
        &self,
        first: bool,
        work: &Work<'_>,
        sink: &mut dyn FnMut(Result<Judged, String>),
    ) -> Result<bool, SourceError>;
}

/// Parsed leads in memory, worked on one after the other.
impl Leads for Vec<Value> {
    fn each(
        &self,
        _first: bool,
        work: &Work<'_>,
        sink: &mut dyn FnMut(Result<Judged, String>),
    ) -> Result<bool, SourceError> {
        let mut failed = false;
        for lead in self {
            let result = work(Lead::Value(lead));
            failed |= result.is_err();
            sink(result);
        }
        Ok(failed)
    }
}

/// What [`fit`] fits: a pack, where it came from, and its labelled leads.
pub struct FitInput<'a> {
    /// The pack as loaded.
    pub pack: &'a Pack,
    /// The loader it was loaded with (plugin path, limits): rewritten packs are built with it.
    pub loader: &'a Loader,
    /// The pack's folder, for its own plugins; `None` for a pack built from text.
    pub dir: Option<&'a Path>,
    /// How each lead's outcome, time and id are read.
    pub reader: &'a Reader,
    /// The labelled leads.
    pub leads: &'a dyn Leads,
    /// Where the caller will write the fitted pack, as the report names it.
    pub out_dir: &'a str,
}

/// A fitted pack: the report and the pack's rule files with the new numbers.
#[derive(Debug)]
pub struct Fitted {
    /// What fit did.
    pub report: FitReport,
    /// Every rule file of the fitted pack, `(file name, text)`: the pack's own with new
    /// numbers, and `suggested.rules` when rules were suggested.
    pub files: Vec<(String, String)>,
    /// Some lead could not be read or scored (reported by the source on the first pass).
    pub failed: bool,
}

/// The file suggested rules are written to.
pub const SUGGESTED_FILE: &str = "suggested.rules";

/// Fits a pack's points (and threshold) to the outcomes of its labelled leads.
///
/// ```
/// use leadscore_outcomes::refit::{FitOptions, Split};
/// use leadscore_outcomes::tune::{fit, FitInput};
/// use leadscore_outcomes::{backtest::GoalSpec, Labels, Reader, Setup, When};
/// let pack = leadscore::Pack::from_source("demo", "threshold 10\nrule \"VP\": title ~ VP => +10\nrule \"Student\": title ~ student => +10")?;
/// let leads: Vec<serde_json::Value> = (0..400)
///     .map(|i| serde_json::json!({"title": if i % 2 == 0 { "VP" } else { "student" }, "won": i % 2 == 0 && i % 8 != 0}))
///     .collect();
/// let reader = Reader::new(Setup {
///     outcome: Some("won".into()),
///     labels: Labels::default(),
///     when: When::At(leadscore::parse_time("2026-03-01T00:00:00Z").unwrap().timestamp_millis()),
///     by: None,
///     id_field: "id".into(),
/// });
/// let options = FitOptions { split: Split::Holdout { fraction: 0.3, seed: 1 }, lambda: 1.0, min_fired: 30, goal: GoalSpec::F1, suggest: 0, allow_columns: vec![], decay: false };
/// let input = FitInput { pack: &pack, loader: &leadscore::Loader::new(), dir: None, reader: &reader, leads: &leads, out_dir: "fitted" };
/// let fitted = fit(&input, &options)?;
/// let points = |rule: &str| fitted.report.rules.iter().find(|r| r.rule == rule).unwrap().new;
/// assert!(points("VP") > 0.0 && points("Student") < 0.0);
/// assert!(fitted.files[0].1.contains("rule \"VP\": title ~ VP => +"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn fit(input: &FitInput, options: &FitOptions) -> Result<Fitted, OutcomesError> {
    options.check()?;
    // Learned decay first: the points are then fitted with the half-lives found.
    let (learned, decay) = match options.decay {
        true => learn_decay(input, options)?,
        false => (None, Vec::new()),
    };
    let pack = learned.as_ref().unwrap_or(input.pack);
    let rules = Rules::of(pack);
    let setup = input.reader.setup();
    let mut candidates =
        (options.suggest > 0).then(|| Candidates::for_pack(pack, skipped(setup)).skip_object(outcome_object(setup)));
    let first = collect(input, pack, &rules, candidates.as_mut(), Pass::First)?;
    let mut failed = first.failed;
    let mut warnings: Vec<String> = first.rows.check_labelled(input.reader.setup())?.into_iter().collect();
    let found = numbers(pack.sources());
    // The pack as given, on the same leads: what the fitted one is compared with, and the
    // MQL volume the threshold keeps by default.
    let given_rows;
    let given = match &learned {
        Some(_) => {
            given_rows = collect(input, input.pack, &Rules::of(input.pack), None, Pass::Again)?.rows;
            &given_rows
        }
        None => &first.rows,
    };
    let current = given.rows.iter().filter(|r| r.mql && options.split.is_train(r)).count() as u64;
    let (plan, gap, leakage) = plan(&first.rows, &rules, &found, candidates, options)?;
    let suggested = (options.suggest > 0).then(|| plan.suggested_file());
    let (recommended, threshold_note) = match found.mql.bound {
        None => (
            Recommended {
                threshold: None,
                reason: "the MQL condition cannot be moved".to_string(),
            },
            found.mql.unmovable(),
        ),
        Some(bound) => {
            // Score with the new points (the bound released when other parts of the
            // condition must hold, so each lead says whether they do) to choose the
            // threshold on the training leads.
            let mut edits = plan.edits.clone();
            edits.extend((!bound.alone).then(|| (bound.at.span, RELEASED.to_string())));
            let refitted = input.build(files(pack, &edits, suggested.as_deref()))?;
            let pass = if bound.alone { Pass::Again } else { Pass::Released };
            let second = collect(input, &refitted, &Rules::of(&refitted), None, pass)?;
            failed |= second.failed;
            let choice = new_threshold(&second.rows, &options.split, options.goal, bound.above, current);
            (choice, None)
        }
    };
    let mut edits = plan.edits.clone();
    if let (Some(bound), Some(t)) = (found.mql.bound, recommended.threshold) {
        edits.push((bound.at.span, super::num(t)));
    }
    let written_files = files(pack, &edits, suggested.as_deref());
    let fitted = input.build(written_files.clone())?;
    let last = collect(input, &fitted, &Rules::of(&fitted), None, Pass::Again)?;
    // Calibration: what each fitted score means as a chance, written as `calibrate` (and
    // the pack built once more, so a fitted pack that does not check is never written).
    let calibration = calibration::fit(&last.rows, |r| options.split.is_train(r));
    let (written_files, calibrated) = match calibration.as_ref().and_then(|c| calibration::edit(pack.sources(), c)) {
        Some(edit) => {
            edits.push(edit);
            let calibrated = files(pack, &edits, suggested.as_deref());
            let built = input.build(calibrated.clone())?;
            (calibrated, Some(built))
        }
        None => (written_files, None),
    };
    let tests_note = copied_tests(input.dir, calibrated.as_ref().unwrap_or(&fitted), input.out_dir);
    let written = numbers(fitted.sources());
    let train = plan.train.iter().filter(|&&t| t).count() as u64;
    let old = Holdout::of(given, &options.split, found.threshold.map(|t| t.value));
    let new = Holdout::of(&last.rows, &options.split, written.threshold.map(|t| t.value));
    warnings.extend(volume_change(&old, &new));
    warnings.extend(tests_note);
    let report = FitReport {
        pack: pack.id().to_string(),
        out_dir: input.out_dir.to_string(),
        train,
        test: plan.train.len() as u64 - train,
        scale: plan.scale,
        points_to_double_odds: plan.scale * std::f64::consts::LN_2,
        rules: plan.points.clone(),
        suggested: plan.suggested.clone(),
        recommended,
        threshold_note,
        old,
        new,
        condition: written.mql.text,
        regression_auc: plan.holdout_auc(&first.rows),
        gap,
        warnings,
        leakage,
        calibration: calibration.map(|c| c.to_string()),
        decay,
    };
    Ok(Fitted {
        report,
        files: written_files,
        failed: failed || last.failed,
    })
}

pub use super::metrics::VOLUME_WARNING;

/// The warning when the new pack multiplies or divides the held-out MQLs by more than
/// [`VOLUME_WARNING`].
fn volume_change(old: &Holdout, new: &Holdout) -> Option<String> {
    super::metrics::volume_jump(old.mql, new.mql).map(|_| {
        let ratio = new.mql as f64 / old.mql.max(1) as f64;
        format!(
            "the new pack makes {} MQLs where the old one made {} on the held-out leads ({}×): \
             make sure sales can take them, or choose the threshold with --capacity or --min-precision",
            new.mql,
            old.mql,
            super::num((ratio * 10.0).round() / 10.0)
        )
    })
}

/// Learns the half-life of each dimension with event-driven rules (see [`decay`]), one
/// dimension after the other, each searched with the half-lives already written for the
/// ones before it. Returns the pack with the learned `decay` statements (`None`: none
/// written) and what was found.
fn learn_decay(input: &FitInput, options: &FitOptions) -> Result<(Option<Pack>, Vec<LearnedDecay>), OutcomesError> {
    let pack = input.pack;
    let dims = decay::decayable(pack.sources());
    let mut written: Vec<(&decay::Decayable, Millis)> = Vec::new();
    let mut found = Vec::new();
    for dim in &dims {
        let evaluate = |half_life: Millis| {
            let mut set = written.clone();
            set.push((dim, half_life));
            let tried = input.build(files(pack, &decay::edits(pack.sources(), &set), None))?;
            let rules = Rules::of(&tried);
            let rows = collect(input, &tried, &rules, None, Pass::Again)?.rows;
            let plan = Plan::fit(&rows, &rules, &numbers(tried.sources()), Vec::new(), options)?;
            let fired = (0..rows.rows.len())
                .filter(|&i| plan.train[i] && rows.hits(i).iter().any(|(r, _)| dim.rules.contains(r)))
                .count() as u64;
            Ok::<_, OutcomesError>(decay::Tried {
                log_likelihood: plan.train_log_likelihood(&rows),
                fired,
            })
        };
        let learned = decay::learn(dim, options.min_fired, evaluate)?;
        if let Some(days) = learned.written.as_ref().and(learned.half_life_days) {
            written.push((dim, (days * 86_400_000.0).round() as Millis));
        }
        found.push(learned);
    }
    if written.is_empty() {
        return Ok((None, found));
    }
    let decayed = input.build(files(pack, &decay::edits(pack.sources(), &written), None))?;
    Ok((Some(decayed), found))
}

/// What the fitted pack does to the pack's own tests, which the fitted copy holds as they
/// are: a warning with how many cases and stored sample snapshots the new numbers break
/// (their expectations were written for the old ones). Nothing is written.
fn copied_tests(dir: Option<&Path>, fitted: &Pack, out_dir: &str) -> Option<String> {
    use leadscore::packtest::{PackTests, SnapshotStatus, SnapshotUpdate};
    let tests = PackTests::load(dir?);
    let cases = tests.run_cases(fitted, None);
    let failed = cases.iter().filter(|c| !c.passed()).count();
    let (mut stored, mut changed) = (0, 0);
    for sample in tests.run_samples(fitted, None) {
        match tests.check_snapshot(&sample, SnapshotUpdate::Compare).map(|c| c.status) {
            Ok(SnapshotStatus::Matched) => stored += 1,
            Ok(SnapshotStatus::Changed { .. }) => {
                stored += 1;
                changed += 1;
            }
            Ok(SnapshotStatus::New) | Err(_) => {}
        }
    }
    (failed + changed > 0).then(|| {
        format!(
            "the pack's tests are copied as they are, written for the old numbers: with the new ones \
             {failed} of {} cases and {changed} of {stored} sample snapshots fail; review them with \
             `leadscore test --snapshots {out_dir}` and accept what the new points rightly changed (--accept)",
            cases.len()
        )
    })
}

/// The fields suggestions never test: the outcome, the judging time and the id.
fn skipped(setup: &Setup) -> Vec<&str> {
    let mut skip: Vec<&str> = setup.outcome.iter().map(String::as_str).collect();
    skip.push(&setup.id_field);
    if let When::Field(field) = &setup.when {
        skip.push(field);
    }
    skip
}

/// When the outcome and the judging time are two fields of one object (`sales.accepted`
/// and `sales.mql_at` in the service's export), that object: its other fields describe
/// the outcome too (`sales.stage`, `sales.won`) and would leak it into suggestions.
fn outcome_object(setup: &Setup) -> Option<&str> {
    let (When::Field(time), Some(outcome)) = (&setup.when, &setup.outcome) else {
        return None;
    };
    let (a, _) = time.split_once('.')?;
    let (b, _) = outcome.split_once('.')?;
    (a == b).then_some(a)
}

/// The points fitted on the pack's rules, with the suggested rules when asked for, and
/// what the suggestions are worth.
fn plan(
    rows: &Rows,
    rules: &Rules,
    found: &Numbers,
    candidates: Option<Candidates>,
    options: &FitOptions,
) -> Result<(Plan, Option<Gap>, Leaks), OutcomesError> {
    let fit = |suggestions| Plan::fit(rows, rules, found, suggestions, options);
    let Some(candidates) = candidates else {
        return Ok((fit(Vec::new())?, None, Leaks::default()));
    };
    let train: Vec<bool> = rows.rows.iter().map(|r| options.split.is_train(r)).collect();
    // Leakage guard: suspected columns are reported and left out (unless allowed).
    let (columns, leakage) = screen(candidates.columns(), rows, &options.allow_columns);
    let all = rank(columns.clone(), rows, &train, usize::MAX, options.min_fired);
    let gap = Gap {
        columns: all.len(),
        rules_only_auc: fit(Vec::new())?.holdout_auc(rows),
        all_columns_auc: fit(all)?.holdout_auc(rows),
    };
    let ranked = rank(columns, rows, &train, options.suggest, options.min_fired);
    let plan = fit(ranked.clone())?;
    // A suggestion fitted to nothing is dropped, and the rest fitted again.
    let points: Vec<f64> = plan.suggested.iter().map(|s| s.points).collect();
    let worth = worth_points(ranked, &points);
    let plan = if worth.len() < points.len() { fit(worth)? } else { plan };
    Ok((plan, Some(gap), leakage))
}

/// The pack's rule files with `edits` applied, by file name, and the suggested rules.
fn files(pack: &Pack, edits: &[(leadscore::Span, String)], suggested: Option<&str>) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = rewrite(pack.sources(), edits)
        .into_iter()
        .map(|(name, text)| (name.rsplit('/').next().unwrap_or(&name).to_string(), text))
        .collect();
    if let Some(text) = suggested {
        files.retain(|(name, _)| name != SUGGESTED_FILE);
        files.push((SUGGESTED_FILE.to_string(), text.to_string()));
    }
    files
}

impl FitInput<'_> {
    /// The pack with these rule files instead of its own.
    fn build(&self, files: Vec<(String, String)>) -> Result<Pack, OutcomesError> {
        self.loader
            .load_files(self.dir, &self.pack.id().name, files)
            .map_err(OutcomesError::Refitted)
    }
}

/// The number a released score bound is written with: below every score, so the bound
/// holds for every lead and the pack's MQL verdict says whether the other parts hold.
const RELEASED: &str = "-1000000000000000";

/// The pack with its MQL condition's score bound released, when the condition has other
/// parts: scoring a lead with it says whether they hold ([`super::Reader::judge`]), so a
/// threshold sweep holds them as the pack does. `None` when the bound is the whole
/// condition (or there is none).
pub fn holding_pack(pack: &Pack, loader: &Loader, dir: Option<&Path>) -> Result<Option<Pack>, leadscore::Error> {
    let Some(bound) = numbers(pack.sources()).mql.bound.filter(|b| !b.alone) else {
        return Ok(None);
    };
    let files = files(pack, &[(bound.at.span, RELEASED.to_string())], None);
    loader.load_files(dir, &pack.id().name, files).map(Some)
}

/// One pass's rows, and whether a lead failed.
struct Collected {
    rows: Rows,
    failed: bool,
}

/// Which pass over the leads.
#[derive(Clone, Copy, PartialEq)]
enum Pass {
    /// The first: a source reports failed leads.
    First,
    /// With the score bound released: each lead's MQL verdict is whether the other parts
    /// of the condition hold.
    Released,
    /// Another pass over the same leads.
    Again,
}

/// Scores every lead with `pack`, keeping rows (and candidates, when collecting them).
fn collect(
    input: &FitInput,
    pack: &Pack,
    rules: &Rules,
    mut candidates: Option<&mut Candidates>,
    pass: Pass,
) -> Result<Collected, OutcomesError> {
    let keep_lead = candidates.is_some();
    let reader = input.reader;
    let work = |lead: Lead| {
        let mut judgement = reader.judge(pack, None, lead)?;
        if pass == Pass::Released {
            judgement.held = Some(judgement.outcome.mql);
        }
        let lead = match (keep_lead, lead) {
            (false, _) => None,
            (true, Lead::Text(text)) => Some(serde_json::from_str(text).map_err(|e| format!("invalid JSON: {e}"))?),
            (true, Lead::Value(value)) => Some(value.clone()),
        };
        Ok(Judged { judgement, lead })
    };
    let mut rows = Rows::default();
    let mut sink = |result: Result<Judged, String>| match result {
        Ok(Judged { judgement, lead }) => {
            let before = rows.rows.len();
            rows.add_judged(rules, &judgement);
            if let (Some(c), Some(v), true) = (candidates.as_deref_mut(), lead, rows.rows.len() > before) {
                c.add(&v, judgement.facts.at);
            }
        }
        Err(_) => rows.fail(),
    };
    let failed = input
        .leads
        .each(pass == Pass::First, &work, &mut sink)
        .map_err(OutcomesError::Leads)?;
    Ok(Collected { rows, failed })
}
