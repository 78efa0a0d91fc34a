//! The REPL: a scripted session through the real binary (stdin is not a terminal, so
//! commands are read line by line and answered in plain text), and the library `Session`.

use std::path::Path;

use leadscore::session::{Entered, Session};

use crate::cli::leadscore_in;

const AS_OF: &str = "2026-03-01T00:00:00Z";

/// A temporary folder holding a copy of the b2b-saas pack and one of its leads.
fn workspace() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let pack = dir.path().join("b2b-saas");
    std::fs::create_dir(&pack).unwrap();
    for file in ["main.rules", "video.rules"] {
        std::fs::copy(Path::new("rules/b2b-saas").join(file), pack.join(file)).unwrap();
    }
    std::fs::copy(
        "rules/b2b-saas/leads/vp-pricing-demo-video.json",
        dir.path().join("lead.json"),
    )
    .unwrap();
    dir
}

/// Every command, conditions, each kind of statement, and errors along the way.
const SCRIPT: &str = r#"# a comment is ignored
:help
:as-of
:lead lead.json
:score
:events
:clear-events
:events
:event page_view path=/pricing at=-2h
:event page_view path=/pricing?utm=ad at=2026-02-28T12:00:00Z
:event form_submit form=demo-request
:event video_play video="product demo" percent=80 at=-1d
:event page_view at=yesterday
:events
title ~ VP and visited /pricing
senior and visited /pricing at least 3 times within 2d
not (industry in ["retail"]) and nosuchfield exists
:set title = Intern
:set company.size = 20
:set tags = ["a", "b"]
:unset tags
:unset nothing
:show
:score
let junior = title ~ intern or title ~ student
junior => -10
rule "Small company": company.size < 50 => -5 fit
threshold 20
threshold 30
cap fit at 10
route "juniors" when junior
route "sdr-queue" when region == "CA"
route "juniors" when junior
:rules
:score
:explain
junior and visted /pricing
senior2 => +5
:save session.rules
:reload
:as-of -1d
{"title": "VP Sales", "region": "NY"}
{
  "title": "CFO",
  "company": {"size": 500}, "industry": "fintech"
}
:score
:bogus
:quit
:score
"#;

#[test]
fn scripted_session_covers_every_command() {
    let dir = workspace();
    let run = leadscore_in(dir.path(), &["repl", "b2b-saas", "--as-of", AS_OF, "--echo"], SCRIPT);
    assert_eq!(run.code, 1, "some commands failed on purpose; stderr: {}", run.stderr);
    assert!(
        !run.stdout.contains('\x1b'),
        "plain output when stdout is not a terminal"
    );
    assert!(run.stderr.is_empty(), "{}", run.stderr);
    insta::assert_snapshot!(run.stdout);
    // Only the statements that were accepted are saved, and a later `threshold` replaced
    // the earlier one.
    insta::assert_snapshot!(std::fs::read_to_string(dir.path().join("session.rules")).unwrap(), @r#"
    # Saved from a leadscore repl session.
    let junior = title ~ intern or title ~ student
    junior => -10
    rule "Small company": company.size < 50 => -5 fit
    threshold 30
    cap fit at 10
    route "sdr-queue" when region == "CA"
    route "juniors" when junior
    "#);
}

#[test]
fn saved_session_is_a_rules_file_check_accepts() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mine")).unwrap();
    let script =
        "let vip = title ~ CEO\nvip => +10 fit\ndimension fit\nvip => +10 fit\nthreshold 5\n:save mine/session.rules\n";
    let run = leadscore_in(dir.path(), &["repl", "--as-of", AS_OF], script);
    assert_eq!(run.code, 1, "`fit` was unknown at first: {}", run.stdout);
    assert!(run.stdout.contains("unknown dimension `fit`"));
    let check = leadscore_in(dir.path(), &["check", "mine"], "");
    assert_eq!(check.code, 0, "{}{}", check.stdout, check.stderr);
    assert!(check.stdout.contains("(1 rule, 1 file)"), "{}", check.stdout);
}

#[test]
fn plain_pipe_example_from_the_issue() {
    let run = leadscore_in(
        Path::new(env!("CARGO_MANIFEST_DIR")),
        &["repl", "rules/b2b-saas", "--as-of", AS_OF],
        ":set title = \"VP\"\n:score\n",
    );
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(run.stdout, "title = \"VP\"\nscore 15 — not an MQL · fit 15, intent 0\n");
}

fn as_of() -> chrono::DateTime<chrono::Utc> {
    leadscore::parse_time(AS_OF).unwrap()
}

#[test]
fn a_rejected_statement_is_not_added() {
    let mut session = Session::new(leadscore::Loader::new(), Some("rules/b2b-saas".into()), as_of()).unwrap();
    let rules = session.rules().len();
    let err = session.enter("rule \"x\": title ~ VP => +5 fitt").unwrap_err();
    let leadscore::session::SessionError::Error(leadscore::Error::Pack(errors)) = err else {
        panic!("{err}")
    };
    assert!(errors.render(false).contains("did you mean `fit`?"));
    assert!(session.statements().is_empty());
    assert_eq!(session.rules().len(), rules);
}

#[test]
fn a_condition_is_traced_in_the_packs_context() {
    let mut session = Session::new(leadscore::Loader::new(), Some("rules/b2b-saas".into()), as_of()).unwrap();
    session.set_field("title", "Chief Financial Officer, CFO").unwrap();
    session
        .add_event("page_view", &[("path", "/pricing")], Some("-3d"))
        .unwrap();
    let Entered::Condition(trace) = session.enter("senior and visited /pricing within 2d").unwrap() else {
        panic!()
    };
    assert!(!trace.value);
    insta::assert_snapshot!(trace.to_string(), @r#"
    false
      let senior = true
      page_view events with path "/pricing" within 2d: 0 (needs at least 1) → false
    "#);
    assert!(session.statements().is_empty(), "a condition does not join the pack");
}

#[test]
fn a_one_line_conditions_error_points_at_line_1_of_what_was_typed() {
    let mut session = Session::new(leadscore::Loader::new(), Some("rules/b2b-saas".into()), as_of()).unwrap();
    let err = session.enter("title ~ VP and visted /pricing").unwrap_err();
    let leadscore::session::SessionError::Error(leadscore::Error::Pack(errors)) = err else {
        panic!("{err}")
    };
    let rendered = errors.render(false);
    assert!(rendered.contains("--> <condition>:1:23\n"), "{rendered}");
    assert!(rendered.contains("did you mean `visited`?"), "{rendered}");
    assert!(rendered.contains("1 | title ~ VP and visted /pricing"), "{rendered}");
    assert!(
        !rendered.contains("__condition"),
        "the line the session adds stays hidden: {rendered}"
    );
    let location = errors.location(&errors.errors()[0]);
    assert_eq!((location.line, location.column), (1, 23));
    assert_eq!(errors.errors().len(), 1, "{rendered}");
}

#[test]
fn reload_reads_the_pack_again_and_keeps_session_statements() {
    let dir = workspace();
    let pack = dir.path().join("b2b-saas");
    let mut session = Session::new(leadscore::Loader::new(), Some(pack.clone()), as_of()).unwrap();
    session.set_field("title", "VP Sales").unwrap();
    session.enter("rule \"Tried\": title exists => +1").unwrap();
    assert_eq!(session.score().unwrap().score, 16.0);
    let main = pack.join("main.rules");
    let text = std::fs::read_to_string(&main).unwrap().replace(
        "senior                                      => +15 fit",
        "senior => +25 fit",
    );
    std::fs::write(&main, text).unwrap();
    session.reload().unwrap();
    assert_eq!(session.score().unwrap().score, 26.0);
    // A pack that no longer checks is reported and the session keeps the pack it had.
    std::fs::write(pack.join("zz.rules"), "threshold\n").unwrap();
    assert!(session.reload().is_err());
    assert_eq!(session.score().unwrap().score, 26.0);
}

#[test]
fn set_field_nests_and_parses_json_or_bare_words() {
    let mut session = Session::new(leadscore::Loader::new(), None, as_of()).unwrap();
    session.set_field("company.size", "120").unwrap();
    session.set_field("title", "VP of Sales").unwrap();
    session.set_field("flags", "[true, \"x\"]").unwrap();
    assert_eq!(
        session.lead(),
        &serde_json::json!({"company": {"size": 120}, "title": "VP of Sales", "flags": [true, "x"]})
    );
    assert!(
        session.set_field("title.first", "x").is_err(),
        "title is a string, not an object"
    );
    assert!(session.unset_field("company.size"));
    assert!(!session.unset_field("company.size"));
    assert_eq!(session.names(), ["company", "flags", "title"]);
}
