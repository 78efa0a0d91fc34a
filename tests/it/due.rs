//! When a lead's result can next change with no new data (`score_with_next_change`): one
//! case per construct, checked by scoring the lead again just before and at the instant;
//! and on random packs (with decay, MQL conditions and routes over dimensions) that
//! nothing changes before the instant and that the instant is a real change for most.

use chrono::{DateTime, Utc};
use leadscore::{Loader, NextChange, Outcome, Pack};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use serde_json::{json, Value};

use crate::packgen::{self, AS_OF_MS, DAY};

const HOUR: i64 = 3_600_000;

fn at(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap()
}

fn time(ms: i64) -> String {
    at(ms).to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn pack(rules: &str) -> Pack {
    Loader::new()
        .plugin_path(["plugins", "tests/fixtures/plugins/lib"])
        .from_source("due", rules)
        .unwrap_or_else(|e| panic!("{e}"))
}

fn visit(path: &str, ms: i64) -> Value {
    json!({"type": "page_view", "path": path, "at": time(ms)})
}

fn lead(events: Vec<Value>) -> Value {
    json!({"id": "L", "events": events})
}

/// The next change of `lead` scored at `as_of`, the same whether the lead is read from
/// text or given parsed.
fn next(pack: &Pack, lead: &Value, as_of: i64) -> NextChange {
    let (outcome, next) = pack.score_with_next_change(lead, at(as_of)).unwrap();
    let (by_text, text_next) = pack.score_json_with_next_change(&lead.to_string(), at(as_of)).unwrap();
    assert_eq!(outcome, by_text);
    assert_eq!(next, text_next, "the text reader and the value reader disagree");
    assert_eq!(
        outcome,
        pack.score(lead, at(as_of)).unwrap(),
        "the result is not the plain score"
    );
    next
}

fn score(pack: &Pack, lead: &Value, ms: i64) -> Outcome {
    pack.score(lead, at(ms)).unwrap()
}

/// What a result decides: everything but the numbers that decay.
#[derive(Debug, PartialEq)]
struct Decisions {
    fired: Vec<(usize, Option<u64>, bool)>,
    tags: Vec<String>,
    disqualified: Option<String>,
    mql: bool,
    route: Option<String>,
    capped: Vec<String>,
}

fn decisions(o: &Outcome) -> Decisions {
    Decisions {
        fired: o.fired().map(|f| (f.index(), f.count(), f.decay().is_some())).collect(),
        tags: o.tags().map(str::to_string).collect(),
        disqualified: o.disqualified().map(str::to_string),
        mql: o.mql,
        route: o.route().map(str::to_string),
        capped: o.capped.iter().map(|c| c.dimension.clone()).collect(),
    }
}

/// Asserts that `next` is `change`, that the result decides the same one millisecond
/// before it, and differently at it.
fn changes_exactly_at(pack: &Pack, lead: &Value, as_of: i64, change: i64) {
    assert_eq!(next(pack, lead, as_of), NextChange::At(at(change)));
    assert_eq!(
        decisions(&score(pack, lead, change - 1)),
        decisions(&score(pack, lead, as_of))
    );
    assert_ne!(
        decisions(&score(pack, lead, change)),
        decisions(&score(pack, lead, as_of))
    );
}

const AS_OF: i64 = AS_OF_MS;

#[test]
fn a_visit_leaving_its_window_is_the_next_change() {
    let pack = pack("threshold 10\nvisited /pricing within 7d => +10");
    let lead = lead(vec![visit("/pricing", AS_OF - DAY)]);
    changes_exactly_at(&pack, &lead, AS_OF, AS_OF - DAY + 7 * DAY + 1);
}

#[test]
fn at_least_n_turns_false_when_the_nth_newest_leaves() {
    let pack = pack("threshold 10\nvisited /pricing at least 3 times within 2d => +10");
    let hours = [2, 12, 24, 36, 45];
    let lead = lead(hours.iter().map(|h| visit("/pricing", AS_OF - h * HOUR)).collect());
    // Five in the window; it holds until the third newest (24 h old) leaves.
    changes_exactly_at(&pack, &lead, AS_OF, AS_OF - 24 * HOUR + 2 * DAY + 1);
}

#[test]
fn not_within_turns_true_when_the_last_visit_leaves() {
    let pack = pack("rule \"Cold\": not visited /pricing within 3d => tag \"cold\"");
    let lead = lead(vec![
        visit("/pricing", AS_OF - 5 * DAY),
        visit("/pricing", AS_OF - HOUR),
    ]);
    changes_exactly_at(&pack, &lead, AS_OF, AS_OF - HOUR + 3 * DAY + 1);
    assert_eq!(
        score(&pack, &lead, AS_OF + 3 * DAY).tags().collect::<Vec<_>>(),
        ["cold"]
    );
}

#[test]
fn an_each_rule_changes_its_count_when_its_oldest_event_leaves() {
    let pack = pack("visited /blog/* within 7d => +2 each");
    let lead = lead(vec![visit("/blog/a", AS_OF - DAY), visit("/blog/b", AS_OF - 3 * DAY)]);
    changes_exactly_at(&pack, &lead, AS_OF, AS_OF - 3 * DAY + 7 * DAY + 1);
    assert_eq!(
        score(&pack, &lead, AS_OF + 4 * DAY + 1).fired().next().unwrap().count(),
        Some(1)
    );
}

#[test]
fn an_event_after_as_of_is_the_next_change_when_it_comes() {
    let pack = pack("threshold 5\nsubmitted demo-request => +5");
    let demo = json!({"type": "form_submit", "form": "demo-request", "at": time(AS_OF + 2 * HOUR)});
    let lead = lead(vec![demo, json!({"type": "unused", "at": time(AS_OF + HOUR)})]);
    changes_exactly_at(&pack, &lead, AS_OF, AS_OF + 2 * HOUR);
    assert!(score(&pack, &lead, AS_OF + 2 * HOUR).mql);
}

#[test]
fn decayed_points_falling_below_the_threshold_are_the_next_change() {
    let pack = pack("threshold 10\ndecay intent half-life 14d\nvisited /pricing => +20 intent");
    let lead = lead(vec![visit("/pricing", AS_OF)]);
    // 20 points halve to 10 in 14 days: an MQL until then, not after.
    let NextChange::At(change) = next(&pack, &lead, AS_OF) else {
        panic!("no change predicted")
    };
    let change = change.timestamp_millis();
    assert!(
        (AS_OF + 14 * DAY - 1000..=AS_OF + 14 * DAY).contains(&change),
        "{}",
        time(change)
    );
    assert!(score(&pack, &lead, change - 1).mql);
    assert!(!score(&pack, &lead, AS_OF + 14 * DAY + 1).mql);
}

#[test]
fn a_decaying_total_falling_under_its_cap_is_the_next_change() {
    let pack = pack("cap intent at 10\ndecay intent half-life 1d\nvisited /pricing => +40 intent");
    let lead = lead(vec![visit("/pricing", AS_OF)]);
    let NextChange::At(change) = next(&pack, &lead, AS_OF) else {
        panic!("no change predicted")
    };
    let change = change.timestamp_millis();
    assert!(
        (AS_OF + 2 * DAY - 1000..=AS_OF + 2 * DAY).contains(&change),
        "{}",
        time(change)
    );
    assert_eq!(score(&pack, &lead, change - 1).capped.len(), 1);
    assert!(score(&pack, &lead, AS_OF + 2 * DAY + 1).capped.is_empty());
}

#[test]
fn a_dimension_compared_with_a_field_crosses_the_field() {
    let pack = pack("mql when intent >= target\ndecay intent half-life 1d\nvisited /pricing => +8 intent");
    let mut lead = lead(vec![visit("/pricing", AS_OF)]);
    lead["target"] = json!("2");
    let NextChange::At(change) = next(&pack, &lead, AS_OF) else {
        panic!("no change predicted")
    };
    // 8 halves twice to 2.
    let change = change.timestamp_millis();
    assert!(
        (AS_OF + 2 * DAY - 1000..=AS_OF + 2 * DAY).contains(&change),
        "{}",
        time(change)
    );
    assert!(score(&pack, &lead, change - 1).mql && !score(&pack, &lead, AS_OF + 2 * DAY + 1).mql);
}

#[test]
fn decay_that_no_decision_reads_changes_nothing() {
    let pack = pack("decay intent half-life 14d\nvisited /pricing => +20 intent");
    let lead = lead(vec![visit("/pricing", AS_OF)]);
    assert_eq!(next(&pack, &lead, AS_OF), NextChange::Never);
    // A disqualified lead's MQL condition decides nothing either.
    let pack = pack_disqualified();
    let mut lead = lead;
    lead["email"] = json!("a@b.edu");
    assert_eq!(next(&pack, &lead, AS_OF), NextChange::Never);
}

fn pack_disqualified() -> Pack {
    pack("threshold 10\ndecay intent half-life 14d\nvisited /pricing => +20 intent\nemail ends_with \".edu\" => disqualify \"student\"")
}

#[test]
fn a_lead_without_anything_timed_never_changes() {
    let pack = pack("threshold 5\ntitle ~ CEO => +5\nvisited /pricing => +5");
    let mut lead = lead(vec![visit("/pricing", AS_OF - 400 * DAY)]);
    lead["title"] = json!("CEO");
    assert_eq!(next(&pack, &lead, AS_OF), NextChange::Never);
}

#[test]
fn a_text_test_of_a_decaying_score_is_unpredictable() {
    let pack = pack("decay intent half-life 1d\nmql when score contains \"5\"\nvisited /x => +3 intent");
    let lead = lead(vec![visit("/x", AS_OF)]);
    assert_eq!(next(&pack, &lead, AS_OF), NextChange::Unpredictable { at: None });
}

#[test]
fn a_function_that_reads_as_of_makes_the_change_unpredictable() {
    let rules = "plugin \"firmographics\"\ndays_since(funded) <= 180 => +15\nvisited /pricing within 7d => +1";
    let pack = pack(rules);
    let mut lead = lead(vec![visit("/pricing", AS_OF - DAY)]);
    lead["funded"] = json!("2026-01-01T00:00:00Z");
    let window = at(AS_OF + 6 * DAY + 1);
    let next = next(&pack, &lead, AS_OF);
    assert_eq!(next, NextChange::Unpredictable { at: Some(window) });
    let hour = std::time::Duration::from_secs(3600);
    assert_eq!(next.due(at(AS_OF), hour), Some(at(AS_OF + HOUR)));
    // A function that does not read `as_of()` answers the same at any time.
    let pack = self::pack("plugin \"firmographics\"\nsize_tier(size) == \"smb\" => +5");
    assert_eq!(self::next(&pack, &json!({"size": 20}), AS_OF), NextChange::Never);
}

#[test]
fn a_hook_that_reads_as_of_makes_the_change_unpredictable() {
    let pack = pack("plugin \"clock\"\n");
    assert_eq!(next(&pack, &json!({}), AS_OF), NextChange::Unpredictable { at: None });
    let pack = self::pack("plugin \"seniority\"\nseniority == \"vp\" => +5");
    assert_eq!(
        self::next(&pack, &json!({"title": "VP Sales"}), AS_OF),
        NextChange::Never
    );
}

// ---- random packs ------------------------------------------------------------------------

/// How a generated pack is varied so that time matters more: its MQL condition, a
/// half-life on `intent` (and maybe `fit`, which is capped), a route over `intent`.
#[derive(Clone, Debug)]
struct Timing {
    mql: u8,
    level: i64,
    intent_half_life: Option<i64>,
    fit_half_life: Option<i64>,
    route: Option<i64>,
}

fn timing() -> impl Strategy<Value = Timing> {
    let half_life = prop::option::of(prop::sample::select(vec![6 * HOUR, DAY, 3 * DAY, 14 * DAY]));
    (
        0u8..4,
        0i64..40,
        half_life.clone(),
        half_life,
        prop::option::of(0i64..30),
    )
        .prop_map(|(mql, level, intent_half_life, fit_half_life, route)| Timing {
            mql,
            level,
            intent_half_life,
            fit_half_life,
            route,
        })
}

fn duration(ms: i64) -> String {
    match ms % DAY {
        0 => format!("{}d", ms / DAY),
        _ => format!("{}h", ms / HOUR),
    }
}

/// The generated pack's text, varied by `timing`.
fn timed_pack(model: &packgen::Model, timing: &Timing, seed: u64) -> String {
    let text = packgen::render(model, seed);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let level = timing.level;
    let mql = match timing.mql {
        0 => None,
        1 => Some(format!("mql when intent >= {level}")),
        2 => Some(format!("mql when score > {level} or fit >= intent")),
        _ => Some(format!("mql when not (intent < {}) and fit >= 0", level / 2)),
    };
    for line in &mut lines {
        if let (Some(mql), true) = (&mql, line.starts_with("threshold ")) {
            *line = mql.clone();
        }
        if let (Some(h), true) = (timing.intent_half_life, line == "dimension intent") {
            *line = format!("decay intent half-life {}", duration(h));
        }
        if let (Some(h), true) = (timing.fit_half_life, line.starts_with("cap fit at")) {
            line.push_str(&format!("\ndecay fit half-life {}", duration(h)));
        }
    }
    if let Some(level) = timing.route {
        let route = format!("route \"hot\" when intent >= {level}");
        match lines.iter().position(|l| l.starts_with("route ")) {
            Some(first) => lines.insert(first, route),
            None => lines.push(route),
        }
    }
    lines.join("\n") + "\n"
}

/// A generated lead with its events moved by up to a day, so they leave windows at any
/// time of day.
fn timed_lead(lead: &packgen::Lead, shifts: &[u32]) -> Value {
    let mut json = packgen::lead_json(lead);
    if let Some(Value::Array(events)) = json.get_mut("events") {
        for (event, shift) in events.iter_mut().zip(shifts.iter().cycle()) {
            let ms = leadscore::parse_time(event["at"].as_str().unwrap())
                .unwrap()
                .timestamp_millis();
            event["at"] = json!(time(ms - i64::from(*shift % DAY as u32)));
        }
    }
    json
}

/// Scores `lead` at `as_of` and at sampled times before its next change: the result is
/// the same at each (whole, when nothing decays). Returns the instant, if one was
/// predicted, and whether the result had changed at it (or a millisecond after).
fn check_lead(pack: &Pack, text: &str, lead: &Value, fractions: &[f64]) -> Result<Option<bool>, TestCaseError> {
    let as_of = AS_OF;
    let (first, next) = pack.score_with_next_change(lead, at(as_of)).unwrap();
    let (_, by_text) = pack.score_json_with_next_change(&lead.to_string(), at(as_of)).unwrap();
    prop_assert_eq!(next, by_text, "the two readers disagree\n{}\n{}", text, lead);
    let decays = text.contains("half-life");
    let change = match next {
        NextChange::At(t) => Some(t.timestamp_millis()),
        NextChange::Never => None,
        NextChange::Unpredictable { .. } => {
            return Err(TestCaseError::fail(format!(
                "unpredictable without plugins\n{text}\n{lead}"
            )));
        }
    };
    prop_assert!(
        change.is_none_or(|c| c > as_of),
        "a change at or before as_of\n{}\n{}",
        text,
        lead
    );
    // Without a predicted change, look far ahead.
    let end = change.unwrap_or(as_of + 400 * DAY);
    let mut samples = vec![as_of + 1, end - 1, as_of + (end - as_of) / 2];
    samples.extend(
        fractions
            .iter()
            .map(|f| as_of + 1 + ((end - as_of - 2) as f64 * f) as i64),
    );
    for t in samples.into_iter().filter(|&t| t > as_of && t < end) {
        let later = pack.score(lead, at(t)).unwrap();
        let message = format!("changed at {} before the predicted {:?}\n{text}\n{lead}", time(t), next);
        match decays {
            true => prop_assert_eq!(decisions(&later), decisions(&first), "{}", message),
            false => prop_assert_eq!(&later, &first, "{}", message),
        }
    }
    Ok(change.map(|c| {
        [c, c + 1]
            .iter()
            .any(|&t| decisions(&pack.score(lead, at(t)).unwrap()) != decisions(&first))
    }))
}

/// A generated pack, its timing, its layout seed, leads with their shifts, and fractions of
/// the time to the next change to score them again at.
type Case = (packgen::Model, Timing, u64, Vec<(packgen::Lead, Vec<u32>)>, Vec<f64>);

fn cases() -> impl Strategy<Value = Case> {
    (
        packgen::model(),
        timing(),
        any::<u64>(),
        prop::collection::vec((packgen::lead(), prop::collection::vec(any::<u32>(), 1..8)), 1..6),
        prop::collection::vec(0.0f64..1.0, 8),
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Nothing changes before the predicted instant.
    #[test]
    fn nothing_changes_before_the_next_change((model, timing, seed, leads, fractions) in cases()) {
        let text = timed_pack(&model, &timing, seed);
        let pack = Pack::from_source("gen", &text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        for (lead, shifts) in &leads {
            check_lead(&pack, &text, &timed_lead(lead, shifts), &fractions)?;
        }
    }
}

/// Most predicted instants are real changes (the prediction is not just "soon"), on a
/// fixed sample of random packs and leads: nearly all for leads without events after
/// `as_of`; an event after `as_of` is followed by its type (the next change is when one
/// of a type a decision counts comes, whether or not it matches), so fewer of those are.
#[test]
fn most_predicted_changes_happen() {
    let rng = proptest::test_runner::TestRng::deterministic_rng(proptest::test_runner::RngAlgorithm::ChaCha);
    let mut runner = TestRunner::new_with_rng(Config::default(), rng);
    // (predicted, happened) for leads without and with events after as_of.
    let mut counts = [(0, 0); 2];
    for _ in 0..400 {
        let (model, timing, seed, leads, fractions) = cases().new_tree(&mut runner).unwrap().current();
        let text = timed_pack(&model, &timing, seed);
        let pack = Pack::from_source("gen", &text).unwrap();
        for (lead, shifts) in &leads {
            let json = timed_lead(lead, shifts);
            if let Some(changed) = check_lead(&pack, &text, &json, &fractions).unwrap() {
                let later = lead.events.iter().any(|e| e.days_ago < 0);
                let (predicted, happened) = &mut counts[usize::from(later)];
                *predicted += 1;
                *happened += usize::from(changed);
            }
        }
    }
    let [(predicted, happened), (predicted_later, happened_later)] = counts;
    println!("{happened} of {predicted} predicted changes happened ({happened_later} of {predicted_later} with events after as_of)");
    assert!(
        predicted >= 40 && predicted_later >= 20,
        "too few predicted changes: {counts:?}"
    );
    assert!(
        happened * 10 >= predicted * 9,
        "only {happened} of {predicted} predicted changes happened"
    );
    assert!(
        happened_later * 10 >= predicted_later * 3,
        "only {happened_later} of {predicted_later} predicted changes happened"
    );
}

/// The example of `docs/src/reevaluation.md`, as the chapter tells it.
#[test]
fn the_manual_example() {
    let pack = pack(
        "threshold 50\ndecay intent half-life 14d\nplugin \"firmographics\"\n\
         rule \"ICP\": company.size >= 50 => +25\n\
         rule \"Pricing\": visited /pricing at least 3 times within 2d => +30 intent\n\
         rule \"Gone quiet\": not visited /* within 30d => tag \"quiet\"\n\
         rule \"Funded\": days_since(company.last_funding_at) <= 180 => +10",
    );
    let visits = [1, 5, 30].iter().map(|h| visit("/pricing", AS_OF - h * HOUR)).collect();
    let mut lead = lead(visits);
    lead["company"] = json!({"size": 120});
    let first = score(&pack, &lead, AS_OF);
    assert!(first.mql);
    assert_eq!(first.score, 54.9382);
    let in_18_hours = AS_OF + 18 * HOUR + 1;
    changes_exactly_at(&pack, &lead, AS_OF, in_18_hours);
    assert!(!score(&pack, &lead, in_18_hours).mql);
    let quiet = AS_OF - HOUR + 30 * DAY + 1;
    assert_eq!(next(&pack, &lead, in_18_hours), NextChange::At(at(quiet)));
    assert_eq!(score(&pack, &lead, quiet).tags().collect::<Vec<_>>(), ["quiet"]);
    lead["company"]["last_funding_at"] = json!("2026-01-01T00:00:00Z");
    let next = next(&pack, &lead, AS_OF);
    assert_eq!(
        next,
        NextChange::Unpredictable {
            at: Some(at(in_18_hours))
        }
    );
    let every = std::time::Duration::from_secs(60);
    assert_eq!(next.due(at(AS_OF), every), Some(at(AS_OF + 60_000)));
}
