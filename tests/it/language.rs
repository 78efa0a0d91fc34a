//! The scoring language, one focused test per construct.

use leadscore::{Outcome, Pack};
use serde_json::{json, Value};

const AS_OF: &str = "2026-03-01T00:00:00Z";

fn as_of() -> chrono::DateTime<chrono::Utc> {
    leadscore::parse_time(AS_OF).unwrap()
}

fn pack(rules: &str) -> Pack {
    match Pack::from_source("test", rules) {
        Ok(pack) => pack,
        Err(e) => panic!("pack does not load:\n{e}"),
    }
}

/// Scores a lead through both the `serde_json::Value` path and the JSON-text path, and
/// requires them to agree.
fn score(rules: &str, lead: Value) -> Outcome {
    let pack = pack(rules);
    let from_value = pack.score(&lead, as_of()).unwrap();
    let from_text = pack.score_json(&lead.to_string(), as_of()).unwrap();
    assert_eq!(from_value, from_text, "the Value and JSON-text paths disagree");
    from_value
}

/// An event `days` (may be fractional) before `AS_OF`.
fn event(ty: &str, days_ago: f64, props: Value) -> Value {
    let at = as_of() - chrono::Duration::seconds((days_ago * 86_400.0) as i64);
    let mut e = json!({"type": ty, "at": at.to_rfc3339()});
    if let (Some(e), Some(p)) = (e.as_object_mut(), props.as_object()) {
        e.extend(p.clone());
    }
    e
}

fn visit(path: &str, days_ago: f64) -> Value {
    event("page_view", days_ago, json!({ "path": path }))
}

fn fired(o: &Outcome) -> Vec<&str> {
    o.fired().map(|f| f.rule()).collect()
}

#[test]
fn the_issue_example_parses_verbatim() {
    let o = score(
        "title ~ VP and visited /pricing => +20",
        json!({"title": "VP Sales", "events": [visit("/pricing", 1.0)]}),
    );
    assert_eq!(o.score, 20.0);
    assert_eq!(fired(&o), ["title ~ VP and visited /pricing"]);
}

#[test]
fn the_example_packs_load() {
    for name in ["b2b-saas", "agency", "fintech"] {
        let pack = Pack::load(format!("rules/{name}")).unwrap_or_else(|e| panic!("{name}:\n{e}"));
        assert_eq!(&*pack.id().name, name);
        assert_eq!(pack.id().version.len(), 8);
    }
}

#[test]
fn an_unnamed_rule_is_named_by_its_condition_with_blanks_collapsed() {
    let o = score(
        "title ~ VP\n    and company.size > 5 => +1",
        json!({"title": "VP", "company": {"size": 10}}),
    );
    assert_eq!(fired(&o), ["title ~ VP and company.size > 5"]);
}

#[test]
fn a_rule_fires_once_however_many_events_match() {
    let o = score(
        "visited /pricing => +5",
        json!({"events": [visit("/pricing", 1.0), visit("/pricing", 2.0)]}),
    );
    assert_eq!(o.score, 5.0);
}

#[test]
fn each_counts_matching_events_and_max_caps_the_rule() {
    let lead = json!({"events": [visit("/blog/a", 1.0), visit("/blog/b", 2.0), visit("/blog/c", 3.0)]});
    let o = score("dimension intent\nvisited /blog/* => +2 intent each", lead.clone());
    assert_eq!(o.score, 6.0);
    assert_eq!(o.fired().next().unwrap().count(), Some(3));
    let o = score("dimension intent\nvisited /blog/* => +2 intent each max 5", lead);
    assert_eq!(o.score, 5.0);
}

#[test]
fn each_counts_only_events_inside_the_window() {
    let lead = json!({"events": [visit("/blog/a", 1.0), visit("/blog/b", 40.0)]});
    let o = score("visited /blog/* within 30d => +2 each", lead);
    assert_eq!(o.score, 2.0);
}

#[test]
fn points_may_be_decimal_and_negative() {
    let o = score("title ~ a => +2.5\ntitle ~ b => -1.25", json!({"title": "a b"}));
    assert_eq!(o.score, 1.25);
}

#[test]
fn dimensions_are_capped_and_loose_points_are_added() {
    let rules = "cap fit at 10\ndimension intent\n\
                 title ~ a => +8 fit\ntitle ~ b => +8 fit\ntitle ~ c => +3 intent\ntitle ~ d => +1";
    let o = score(rules, json!({"title": "a b c d"}));
    assert_eq!(o.dimension("fit").unwrap(), 10.0);
    assert_eq!(o.dimension("intent").unwrap(), 3.0);
    assert_eq!(o.score, 14.0);
    assert_eq!(o.capped.len(), 1);
    assert_eq!(o.capped[0].total, 16.0);
}

#[test]
fn disqualify_keeps_the_score_blocks_mql_and_reports_the_first_reason() {
    let rules = "threshold 5\ntitle ~ a => +10\n\
                 rule \"first\": title ~ b => disqualify \"student\"\n\
                 rule \"second\": title ~ c => disqualify \"competitor\"";
    let o = score(rules, json!({"title": "a b c"}));
    assert_eq!(o.score, 10.0);
    assert!(!o.mql);
    assert_eq!(o.disqualified(), Some("student"));
}

#[test]
fn tags_and_several_actions() {
    let o = score(
        "title ~ a => +1, tag \"x\", tag \"y\"\ntitle ~ a or title ~ b => tag \"x\"",
        json!({"title": "a"}),
    );
    assert_eq!(o.tags().collect::<Vec<_>>(), ["x", "y"]);
    assert_eq!(o.score, 1.0);
}

#[test]
fn rules_may_span_lines_and_actions_end_at_the_line() {
    let rules = "rule \"multi\":\n  title ~ a\n  and company.size > 1\n  => +3\ntitle ~ a => +1";
    let o = score(rules, json!({"title": "a", "company": {"size": 2}}));
    assert_eq!(o.score, 4.0);
}

#[test]
fn not_binds_tighter_than_and_which_binds_tighter_than_or() {
    // a or (b and c): true by a alone.
    assert_eq!(
        score("x == 1 or x == 2 and y == 3 => +1", json!({"x": 1, "y": 0})).score,
        1.0
    );
    // (not a) and b
    assert_eq!(score("not x == 1 and y == 1 => +1", json!({"x": 2, "y": 1})).score, 1.0);
    assert_eq!(score("not x == 1 and y == 1 => +1", json!({"x": 1, "y": 1})).score, 0.0);
    // parentheses override
    assert_eq!(
        score("(x == 1 or x == 2) and y == 3 => +1", json!({"x": 1, "y": 0})).score,
        0.0
    );
}

#[test]
fn comparisons() {
    let lead = json!({"n": 50});
    for (cond, expected) in [
        ("n == 50", true),
        ("n != 50", false),
        ("n < 51", true),
        ("n <= 50", true),
        ("n > 50", false),
        ("n >= 50", true),
    ] {
        let o = score(&format!("{cond} => +1"), lead.clone());
        assert_eq!(o.score == 1.0, expected, "{cond}");
    }
}

#[test]
fn string_equality_and_in_ignore_case() {
    assert_eq!(
        score("industry == \"saas\" => +1", json!({"industry": "SaaS"})).score,
        1.0
    );
    assert_eq!(
        score(
            "industry in [\"saas\", \"fintech\"] => +1",
            json!({"industry": "FinTech"})
        )
        .score,
        1.0
    );
    assert_eq!(
        score("industry in [\"saas\"] => +1", json!({"industry": "retail"})).score,
        0.0
    );
}

#[test]
fn string_operators_ignore_case_and_contains_tests_list_membership() {
    let lead = json!({"email": "Sam@MIT.EDU", "title": "Head of Sales", "skills": ["Rust", "SQL"]});
    assert_eq!(score("email ends_with \".edu\" => +1", lead.clone()).score, 1.0);
    assert_eq!(score("title starts_with \"head\" => +1", lead.clone()).score, 1.0);
    assert_eq!(score("title contains \"SALES\" => +1", lead.clone()).score, 1.0);
    assert_eq!(score("skills contains \"sql\" => +1", lead.clone()).score, 1.0);
    assert_eq!(score("skills contains \"go\" => +1", lead).score, 0.0);
}

#[test]
fn exists_and_is_missing_treat_null_as_missing() {
    let lead = json!({"phone": "123", "fax": null});
    assert_eq!(score("phone exists => +1", lead.clone()).score, 1.0);
    assert_eq!(score("fax exists => +1", lead.clone()).score, 0.0);
    assert_eq!(score("fax is missing => +1", lead.clone()).score, 1.0);
    assert_eq!(score("pager is missing => +1", lead).score, 1.0);
}

#[test]
fn words_match_case_insensitively_on_word_boundaries() {
    let rules = "title ~ VP => +1";
    assert_eq!(score(rules, json!({"title": "VP Sales"})).score, 1.0);
    assert_eq!(score(rules, json!({"title": "vp, marketing"})).score, 1.0);
    assert_eq!(score(rules, json!({"title": "SVP"})).score, 0.0);
    assert_eq!(score(rules, json!({"title": "VPN admin"})).score, 0.0);
    let phrase = "title ~ \"vice president\" => +1";
    assert_eq!(
        score(phrase, json!({"title": "Senior Vice President, Sales"})).score,
        1.0
    );
    assert_eq!(score(phrase, json!({"title": "vice presidential"})).score, 0.0);
}

#[test]
fn regex_matches_ignore_case() {
    let rules = r"title ~ /\bc[eft]o\b/ => +1";
    assert_eq!(score(rules, json!({"title": "Co-founder & CEO"})).score, 1.0);
    assert_eq!(score(rules, json!({"title": "cfo"})).score, 1.0);
    assert_eq!(score(rules, json!({"title": "CTOx"})).score, 0.0);
}

#[test]
fn backticks_quote_field_names_with_spaces() {
    assert_eq!(
        score("`Lead Source` == \"Google\" => +1", json!({"Lead Source": "google"})).score,
        1.0
    );
}

#[test]
fn nested_fields_and_dotted_keys() {
    assert_eq!(
        score("company.size >= 50 => +1", json!({"company": {"size": 60}})).score,
        1.0
    );
    assert_eq!(
        score("company.size >= 50 => +1", json!({"company.size": "60"})).score,
        1.0
    );
}

#[test]
fn a_missing_field_makes_every_comparison_false_so_not_is_true() {
    assert_eq!(score("size >= 1 => +1", json!({})).score, 0.0);
    assert_eq!(score("size != 1 => +1", json!({})).score, 0.0);
    assert_eq!(score("not size >= 1 => +1", json!({})).score, 1.0);
    assert_eq!(score("title ~ VP => +1", json!({"title": null})).score, 0.0);
}

#[test]
fn a_numeric_string_compared_with_a_number_is_a_number() {
    assert_eq!(score("TotalVisits >= 5 => +1", json!({"TotalVisits": "12"})).score, 1.0);
    assert_eq!(score("TotalVisits >= 5 => +1", json!({"TotalVisits": "3"})).score, 0.0);
    assert_eq!(
        score("TotalVisits >= 5 => +1", json!({"TotalVisits": "many"})).score,
        0.0
    );
    assert_eq!(
        score("TotalVisits == 12 => +1", json!({"TotalVisits": " 12.0 "})).score,
        1.0
    );
}

#[test]
fn different_kinds_are_unequal() {
    assert_eq!(score("x != 5 => +1", json!({"x": "five"})).score, 1.0);
    assert_eq!(score("x == 5 => +1", json!({"x": true})).score, 0.0);
    assert_eq!(score("flag == true => +1", json!({"flag": "TRUE"})).score, 1.0);
}

#[test]
fn visited_ignores_query_strings_fragments_and_trailing_slashes() {
    let rules = "visited /pricing at least 3 times => +1";
    let lead =
        json!({"events": [visit("/pricing?plan=team", 1.0), visit("/pricing/", 1.0), visit("/Pricing#faq", 1.0)]});
    assert_eq!(score(rules, lead).score, 1.0);
}

#[test]
fn globs_match_any_run_of_characters() {
    let lead = json!({"events": [visit("/careers/engineering", 1.0)]});
    assert_eq!(score("visited /careers* => -30", lead.clone()).score, -30.0);
    assert_eq!(score("visited /*/engineering => +1", lead.clone()).score, 1.0);
    assert_eq!(score("visited /careers => +1", lead).score, 0.0);
}

#[test]
fn every_behaviour_verb_reads_its_event_type_and_property() {
    let lead = json!({"events": [
        event("form_submit", 1.0, json!({"form": "demo-request"})),
        event("download", 1.0, json!({"asset": "case-study-acme.pdf"})),
        event("email_open", 1.0, json!({"campaign": "q1-nurture"})),
        event("email_click", 1.0, json!({"campaign": "q1-launch"})),
        event("webinar", 1.0, json!({"name": "pricing-101"})),
        event("video_play", 1.0, json!({"video": "demo", "percent": 75})),
    ]});
    let cases = [
        ("submitted \"demo-request\"", true),
        ("submitted demo-request", true),
        ("submitted \"contact\"", false),
        ("downloaded \"case-study*\"", true),
        ("opened email", true),
        ("opened email \"q1-*\"", true),
        ("opened email \"q2-*\"", false),
        ("clicked email \"q1-launch\"", true),
        ("attended webinar", true),
        ("attended webinar \"pricing*\"", true),
        ("did video_play", true),
        ("did video_play where percent >= 50", true),
        ("did video_play where (video == \"demo\" and percent > 90)", false),
        ("did signup", false),
    ];
    for (cond, expected) in cases {
        let o = score(&format!("{cond} => +1"), lead.clone());
        assert_eq!(o.score == 1.0, expected, "{cond}");
    }
}

#[test]
fn at_least_and_within_count_events_in_the_window_inclusive() {
    let lead = json!({"events": [visit("/pricing", 0.5), visit("/pricing", 1.5), visit("/pricing", 2.0), visit("/pricing", 2.5)]});
    assert_eq!(
        score("visited /pricing at least 3 times within 2d => +1", lead.clone()).score,
        1.0
    );
    assert_eq!(
        score("visited /pricing at least 4 times within 2d => +1", lead.clone()).score,
        0.0
    );
    assert_eq!(
        score("visited /pricing at least 4 times => +1", lead.clone()).score,
        1.0
    );
    assert_eq!(score("visited /pricing within 12h => +1", lead.clone()).score, 1.0);
    assert_eq!(score("visited /pricing within 11h => +1", lead).score, 0.0);
}

#[test]
fn events_after_as_of_are_ignored() {
    let lead = json!({"events": [{"type": "page_view", "path": "/pricing", "at": "2026-03-01T00:00:01Z"}]});
    assert_eq!(score("visited /pricing => +1", lead).score, 0.0);
    let lead = json!({"events": [{"type": "page_view", "path": "/pricing", "at": AS_OF}]});
    assert_eq!(score("visited /pricing => +1", lead).score, 1.0);
}

#[test]
fn threshold_is_sugar_for_mql_when_score() {
    assert!(score("threshold 5\ntitle ~ a => +5", json!({"title": "a"})).mql);
    assert!(!score("threshold 6\ntitle ~ a => +5", json!({"title": "a"})).mql);
    assert!(
        !score("title ~ a => +5", json!({"title": "a"})).mql,
        "no threshold, no MQLs"
    );
}

#[test]
fn mql_when_reads_dimensions_the_score_and_fields() {
    let rules = "dimension fit\ndimension intent\nmql when fit >= 10 and intent >= 5 and region == \"EU\"\n\
                 title ~ a => +10 fit\ntitle ~ b => +5 intent";
    assert!(score(rules, json!({"title": "a b", "region": "eu"})).mql);
    assert!(!score(rules, json!({"title": "a", "region": "eu"})).mql);
    assert!(!score(rules, json!({"title": "a b", "region": "us"})).mql);
}

#[test]
fn decay_halves_event_points_every_half_life() {
    let rules = "dimension intent\ndecay intent half-life 7d\nsubmitted demo => +40 intent\ntitle ~ x => +10 intent";
    let lead = json!({"title": "x", "events": [event("form_submit", 7.0, json!({"form": "demo"}))]});
    let o = score(rules, lead);
    assert_eq!(o.fired().next().unwrap().points(), 20.0);
    assert_eq!(o.fired().next().unwrap().decay(), Some(0.5));
    assert_eq!(
        o.fired().nth(1).unwrap().points(),
        10.0,
        "rules without behaviours do not decay"
    );
    assert_eq!(o.score, 30.0);
}

#[test]
fn decay_of_each_rules_ages_every_event_on_its_own() {
    let rules = "dimension intent\ndecay intent half-life 1d\nvisited /blog/* => +8 intent each";
    let lead = json!({"events": [visit("/blog/a", 1.0), visit("/blog/b", 2.0)]});
    assert_eq!(score(rules, lead).score, 6.0); // 8·½ + 8·¼
}

#[test]
fn decay_measures_age_from_the_most_recent_matching_event() {
    let rules = "dimension intent\ndecay intent half-life 2d\nvisited /pricing => +8 intent";
    let lead = json!({"events": [visit("/pricing", 8.0), visit("/pricing", 2.0)]});
    assert_eq!(score(rules, lead).score, 4.0);
}

#[test]
fn lets_are_reusable_and_may_be_defined_after_use() {
    let rules = "senior and icp => +5\nlet icp = size >= 50\nlet senior = title ~ VP or exec\nlet exec = title ~ CEO";
    assert_eq!(score(rules, json!({"title": "CEO", "size": 60})).score, 5.0);
    assert_eq!(score(rules, json!({"title": "CEO", "size": 6})).score, 0.0);
}

#[test]
fn routes_apply_to_mqls_and_the_first_match_wins() {
    let rules = "threshold 1\ntitle ~ a => +1\nroute \"east\" when region in [\"NY\"]\nroute \"big\" when score >= 1\nroute \"rest\"";
    assert_eq!(
        score(rules, json!({"title": "a", "region": "NY"})).route(),
        Some("east")
    );
    assert_eq!(score(rules, json!({"title": "a", "region": "CA"})).route(), Some("big"));
    assert_eq!(
        score(rules, json!({"title": "b", "region": "NY"})).route(),
        None,
        "not an MQL: no route"
    );
}

#[test]
fn the_lead_id_comes_from_the_id_field_or_a_chosen_one() {
    let pack = pack("title ~ a => +1");
    assert_eq!(pack.score(&json!({"id": 42}), as_of()).unwrap().id, Some(json!(42)));
    let o = pack
        .scorer(as_of())
        .id_field("lead_id")
        .score_json(r#"{"lead_id": "L-1"}"#)
        .unwrap();
    assert_eq!(o.id, Some(json!("L-1")));
}

#[test]
fn every_result_names_the_pack_that_produced_it() {
    let a = pack("title ~ a => +1").score(&json!({}), as_of()).unwrap();
    let b = pack("title ~ a => +2").score(&json!({}), as_of()).unwrap();
    assert_eq!(&*a.pack().name, "test");
    assert_ne!(a.pack().version, b.pack().version);
}

#[test]
fn a_lead_that_cannot_be_scored_is_an_error_for_that_lead() {
    let pack = pack("visited /x => +1");
    let bad = [
        (json!([1, 2]), "a lead must be a JSON object"),
        (json!({"events": "nope"}), "`events` must be an array of events"),
        (
            json!({"events": [{"type": "page_view", "at": "yesterday"}]}),
            "events[0] `at` is not an RFC 3339 time: \"yesterday\"",
        ),
        (json!({"events": [{"type": "page_view"}]}), "events[0] has no `at` time"),
        (json!({"events": [{"at": AS_OF}]}), "events[0] has no `type` string"),
        (json!({"events": [7]}), "events[0] is not an object"),
    ];
    for (lead, message) in bad {
        let from_value = pack.score(&lead, as_of()).unwrap_err().to_string();
        let from_text = pack.score_json(&lead.to_string(), as_of()).unwrap_err().to_string();
        assert_eq!(from_value, message, "{lead}");
        assert_eq!(from_text, from_value, "{lead}");
    }
}

#[test]
fn events_of_types_the_pack_never_tests_are_not_read() {
    let pack = pack("visited /x => +1");
    let lead = json!({"events": [{"type": "email_open", "at": "not a time"}, visit("/x", 1.0)]});
    assert_eq!(pack.score(&lead, as_of()).unwrap().score, 1.0);
}

#[test]
fn typed_leads_score_like_json() {
    #[derive(serde::Serialize)]
    struct Lead {
        title: String,
        events: Vec<Value>,
    }
    let pack = pack("title ~ VP and visited /pricing => +20");
    let lead = Lead {
        title: "VP".into(),
        events: vec![visit("/pricing", 1.0)],
    };
    assert_eq!(pack.score_typed(&lead, as_of()).unwrap().score, 20.0);
}

#[test]
fn the_value_and_text_paths_agree_on_every_sample_lead() {
    for name in ["b2b-saas", "agency", "fintech"] {
        let pack = Pack::load(format!("rules/{name}")).unwrap();
        for entry in std::fs::read_dir(format!("rules/{name}/leads")).unwrap() {
            let text = std::fs::read_to_string(entry.unwrap().path()).unwrap();
            let value: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(
                pack.score(&value, as_of()).unwrap(),
                pack.score_json(&text, as_of()).unwrap()
            );
        }
    }
}

#[test]
fn the_compiled_program_is_printable() {
    let pack = Pack::load("rules/b2b-saas").unwrap();
    insta::assert_snapshot!(pack.program().to_string());
}

#[test]
fn unused_lets_are_not_evaluated() {
    // Unused lets are marked in the program and skipped per lead (a plugin call in one
    // would otherwise cost time, or fail leads, for nothing).
    let pack = pack("let unused = title ~ a\nlet used = title ~ b\nused => +1");
    let listing = pack.program().to_string();
    assert!(listing.contains("let l0 unused (unused)"), "{listing}");
    assert!(listing.contains("let l1 used = "), "{listing}");
    assert_eq!(pack.score(&json!({"title": "b"}), as_of()).unwrap().score, 1.0);
}

#[test]
fn hidden_files_in_a_pack_folder_are_not_rules() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("main.rules"), "title ~ a => +1\n").unwrap();
    std::fs::write(dir.path().join(".#main.rules"), "this is an editor lock file\n").unwrap();
    let pack = Pack::load(dir.path()).unwrap();
    assert_eq!(pack.sources().files().len(), 1);
}

#[test]
fn booleans_are_equal_or_not_but_never_ordered() {
    assert_eq!(score("flag != false => +1", json!({"flag": true})).score, 1.0);
    assert_eq!(score("flag < false => +1", json!({"flag": true})).score, 0.0);
    assert_eq!(score("flag > false => +1", json!({"flag": true})).score, 0.0);
    assert_eq!(
        score("flag <= true => +1", json!({"flag": true})).score,
        1.0,
        "equal, so <= holds"
    );
}

#[test]
fn a_comment_between_condition_and_arrow_is_not_part_of_the_rule_name() {
    let o = score(
        "(title ~ a)   # senior people\n  # more notes\n  => +1",
        json!({"title": "a"}),
    );
    assert_eq!(fired(&o), ["(title ~ a)"]);
}

#[test]
fn sla_and_requalify_are_read_by_the_service_and_ignored_by_scoring() {
    let with = "threshold 1\nrequalify after 30d\ntitle ~ a => +1\nroute \"east\" when region in [\"NY\"] sla 2h\nroute \"rest\"";
    let without = "threshold 1\ntitle ~ a => +1\nroute \"east\" when region in [\"NY\"]\nroute \"rest\"";
    let lead = json!({"title": "a", "region": "NY"});
    let (a, b) = (score(with, lead.clone()), score(without, lead));
    assert_eq!((a.score, a.mql, a.route()), (b.score, b.mql, b.route()));
    let program = pack(with);
    assert_eq!(
        program.program().route_sla("east"),
        Some(std::time::Duration::from_secs(7200))
    );
    assert_eq!(program.program().route_sla("rest"), None);
    assert_eq!(
        program.program().requalify_after(),
        Some(std::time::Duration::from_secs(30 * 86_400))
    );
    assert_eq!(pack(without).program().requalify_after(), None);
    let listing = program.program().to_string();
    assert!(
        listing.contains("sla 2h\n") && listing.contains("requalify after 30d\n"),
        "{listing}"
    );
}

#[test]
fn sla_and_after_are_field_names_and_requalify_is_reserved() {
    let rules = "threshold 1\nsla > 1 => +1\n`requalify` == true => +1\nafter exists => +1";
    let out = score(rules, json!({"sla": 2, "requalify": true, "after": 1}));
    assert_eq!(out.score, 3.0);
}

#[test]
fn target_over_and_the_measures_are_field_names() {
    let rules = "threshold 1\nover > 1 => +1\ntarget == true => +1\nacceptance exists => +1\ntarget sla >= 90% over 7d";
    let out = score(rules, json!({"over": 2, "target": true, "acceptance": 1}));
    assert_eq!(out.score, 3.0, "a target changes no score");
    assert!(leadscore::Pack::from_source("p", "title ~ target => +1\nlet target = title ~ VP").is_ok());
}
