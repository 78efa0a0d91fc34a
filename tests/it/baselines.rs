//! The benchmark baselines are honest: the hand-written Rust and the Rhai script give the
//! b2b-saas pack's results on generated leads. Also: the generator and generated packs.

#[allow(
    clippy::unreachable,
    reason = "the benchmarks' setup stops, saying why, when it cannot run"
)]
#[path = "../../benches/common/mod.rs"]
mod common;

use common::handwritten::{Handwritten, Summary};
use common::rhai_baseline::RhaiBaseline;
use leadscore::Outcome;

fn summary(o: &Outcome) -> Summary {
    let dim = |name: &str| o.dimension(name).unwrap_or(0.0);
    Summary {
        score: o.score,
        mql: o.mql,
        disqualified: o.disqualified().map(str::to_string),
        route: o.route().map(str::to_string),
        tags: o.tags().map(str::to_string).collect(),
        fit: dim("fit"),
        intent: dim("intent"),
        fired: o.fired().map(|f| (f.rule().to_string(), f.points())).collect(),
    }
}

#[test]
fn handwritten_and_rhai_give_the_packs_results() {
    let pack = common::b2b_saas();
    let hand = Handwritten::new();
    let rhai = RhaiBaseline::new().unwrap();
    let mut fired = std::collections::BTreeMap::<String, usize>::new();
    let mut mqls = 0;
    for (seed, events) in [(1, 20), (2, 60)] {
        let generator = leadscore::gen::Generator::new(seed).events_per_lead(events);
        for lead in generator.take(1000) {
            let value = serde_json::to_value(&lead).unwrap();
            let expected = pack.score(&value, common::as_of()).unwrap();
            let from_text = pack.score_json(&value.to_string(), common::as_of()).unwrap();
            assert_eq!(summary(&from_text), summary(&expected), "score_json, lead {}", lead.id);
            let expected = summary(&expected);
            assert_eq!(
                hand.score(&value, common::AS_OF).unwrap().summary(),
                expected,
                "handwritten, lead {}",
                lead.id
            );
            let map = rhai.score(&value, common::AS_OF).unwrap();
            assert_eq!(
                RhaiBaseline::summary(&map),
                Some(expected.clone()),
                "rhai, lead {}",
                lead.id
            );
            mqls += usize::from(expected.mql);
            for (rule, _) in expected.fired {
                *fired.entry(rule).or_default() += 1;
            }
        }
    }
    // The comparison means something only if the leads make every rule fire, and some MQLs.
    assert_eq!(pack.program().rule_count(), common::handwritten::RULES.len());
    for rule in common::handwritten::RULES {
        assert!(fired.contains_key(rule), "no generated lead fired {rule:?}: {fired:?}");
    }
    assert!(mqls > 30, "only {mqls} MQLs");
}

#[test]
fn baselines_report_malformed_events_like_the_pack() {
    let pack = common::b2b_saas();
    let hand = Handwritten::new();
    let rhai = RhaiBaseline::new().unwrap();
    for bad in [
        serde_json::json!({"events": [{"at": "2026-01-01T00:00:00Z"}]}),
        serde_json::json!({"events": [{"type": "page_view", "path": "/pricing", "at": "yesterday"}]}),
        serde_json::json!({"events": {"type": "page_view"}}),
    ] {
        assert!(pack.score(&bad, common::as_of()).is_err(), "{bad}");
        assert!(hand.score(&bad, common::AS_OF).is_err(), "{bad}");
        assert!(rhai.score(&bad, common::AS_OF).is_err(), "{bad}");
    }
}

#[test]
fn generated_packs_check_and_share_behaviours() {
    for n in [10, 1000] {
        let text = common::packs::pack(n);
        assert_eq!(text, common::packs::pack(n), "deterministic");
        let pack = leadscore::Pack::from_source("generated", &text).unwrap();
        assert_eq!(pack.program().rule_count(), n);
    }
    let big = leadscore::Pack::from_source("generated", &common::packs::pack(1000)).unwrap();
    let listing = big.program().to_string();
    let behaviours = listing.lines().filter(|l| l.starts_with("behaviour ")).count();
    assert!(behaviours < 300, "1000 rules should share behaviours, got {behaviours}");
}

/// Statements are parsed in windows ending at the next statement keyword (for speed on
/// big packs); statements spanning lines, comments and continuation lines in column 0
/// must parse as before, and errors must still be found where they are.
#[test]
fn windowed_parsing_keeps_multi_line_statements_and_errors() {
    let spread = "threshold 10\n\n# a comment\nrule \"a\": title ~ VP\n  and visited /pricing\n=> +5\nrule \"b\": title ~ CEO => +5,\ntag \"x\"\nlet l = industry in [\n\"saas\", \"software\"]\nl => +1\n";
    let compact = "threshold 10\nrule \"a\": title ~ VP and visited /pricing => +5\nrule \"b\": title ~ CEO => +5, tag \"x\"\nlet l = industry in [\"saas\", \"software\"]\nl => +1\n";
    let spread = leadscore::Pack::from_source("p", spread).unwrap();
    let compact = leadscore::Pack::from_source("p", compact).unwrap();
    let strip = |p: &leadscore::Pack| {
        p.program()
            .to_string()
            .lines()
            .map(|l| l.split(" (p.rules:").next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&spread), strip(&compact));
    let err = leadscore::Pack::from_source(
        "p",
        "threshold 10\nrule \"a\": title ~ VP\n  => +5\nrule \"b\": => +1\nrule \"c\": title ~ CEO => +2\n",
    )
    .unwrap_err();
    let text = match err {
        leadscore::Error::Pack(errors) => errors.render(false),
        other => panic!("{other}"),
    };
    assert!(text.contains("p.rules:4:"), "{text}");
    assert!(text.contains("1 error found"), "{text}");
}
