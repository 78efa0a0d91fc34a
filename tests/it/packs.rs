//! The example packs in rules/: every sample lead's explanation is an insta snapshot (so a
//! change to the language or evaluator that moves any example score shows up in
//! `cargo insta review`), and every pack's own tests pass with full rule coverage.

use std::path::{Path, PathBuf};
use std::process::Command;

use leadscore::packtest::PackTests;
use leadscore::Pack;

/// Every pack folder under rules/.
fn shipped_packs() -> Vec<PathBuf> {
    let rules = Path::new(env!("CARGO_MANIFEST_DIR")).join("rules");
    let mut packs: Vec<PathBuf> = std::fs::read_dir(rules)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    packs.sort();
    assert!(packs.len() >= 3, "{packs:?}");
    packs
}

#[test]
fn explanation() {
    insta::glob!("../../rules", "*/leads/*.json", |path| {
        let pack_dir = path.parent().and_then(Path::parent).unwrap();
        let pack = Pack::load(pack_dir).unwrap();
        let as_of = PackTests::load(pack_dir).samples_as_of();
        let lead: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
        let outcome = pack.score(&lead, as_of).unwrap();
        insta::assert_snapshot!(pack.explain(&outcome).to_string());
    });
}

/// `leadscore test` over every shipped pack: cases, snapshots, 100% coverage. On a
/// developer's machine a drifted snapshot is written as `.snap.new` for review; in CI
/// (`CI` set) nothing is written and the test fails.
#[test]
fn every_pack_passes_its_own_tests() {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(env!("CARGO_BIN_EXE_leadscore"))
        .current_dir(root)
        .args(["test", "--snapshots", "--coverage", "--min-coverage", "100"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "leadscore test failed:\n{stdout}\n{stderr}");
    for pack in ["rules/agency", "rules/b2b-saas", "rules/fintech"] {
        assert!(
            stdout.contains(&format!("{pack}\n")),
            "{pack} was not tested:\n{stdout}"
        );
    }
    assert_eq!(stdout.matches("coverage: ").count(), 3, "{stdout}");
    assert!(!stdout.contains("FAIL"), "{stdout}");
}

/// Each pack has cases, a snapshot per sample lead, and no case or rule left untested.
#[test]
fn every_pack_has_cases_and_snapshots_for_every_rule() {
    for dir in shipped_packs() {
        let pack = Pack::load(&dir).unwrap();
        let tests = PackTests::load(&dir);
        assert!(tests.errors().is_empty(), "{:?}", tests.errors());
        assert!(!tests.cases().is_empty() && !tests.samples().is_empty());
        let cases = tests.run_cases(&pack, None);
        let failed: Vec<_> = cases.iter().filter(|c| !c.passed()).map(|c| &c.case.name).collect();
        assert!(failed.is_empty(), "{}: failing cases {failed:?}", dir.display());
        // Coverage from the cases alone: sample leads are not a substitute for stated facts.
        let coverage =
            leadscore::packtest::Coverage::new(pack.program(), cases.iter().filter_map(|c| c.result.as_ref().ok()), []);
        assert_eq!(coverage.percent(), 100.0, "{}:\n{coverage}", dir.display());
        for sample in tests.samples() {
            let snap = dir.join("snapshots").join(format!("{}.snap", sample.name));
            assert!(snap.is_file(), "no snapshot for {}", sample.file);
        }
    }
}

/// The pack snapshots are insta files: insta itself reads them, and their body is what
/// `leadscore test` compares.
#[test]
fn shipped_snapshots_are_insta_snapshots() {
    let mut seen = 0;
    for dir in shipped_packs() {
        let pack = Pack::load(&dir).unwrap();
        let tests = PackTests::load(&dir);
        for report in tests.run_samples(&pack, None) {
            let path = dir.join("snapshots").join(format!("{}.snap", report.sample.name));
            let snapshot = insta::Snapshot::from_file(&path).unwrap();
            assert_eq!(snapshot.metadata().input_file(), Some(report.sample.file.as_str()));
            assert_eq!(snapshot.metadata().expression(), Some("explanation"));
            let body = snapshot.as_text().unwrap().to_string();
            assert_eq!(body, report.text.trim_end(), "{}", path.display());
            seen += 1;
        }
    }
    assert!(seen >= 16, "{seen}");
}

/// The manual's example of the case format (docs/src/testing.md) runs and passes against the
/// b2b-saas pack.
#[test]
fn manual_case_example_passes() {
    let chapter = include_str!("../../docs/src/testing.md");
    let section = &chapter[chapter.find("## The case format").unwrap()..];
    let start = section.find("```toml\n").unwrap() + "```toml\n".len();
    let example = &section[start..start + section[start..].find("```").unwrap()];
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let pack_dir = dir.path().join("b2b-saas");
    for sub in ["", "leads"] {
        std::fs::create_dir_all(pack_dir.join(sub)).unwrap();
        for entry in std::fs::read_dir(root.join("rules/b2b-saas").join(sub)).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() {
                std::fs::copy(&path, pack_dir.join(sub).join(path.file_name().unwrap())).unwrap();
            }
        }
    }
    std::fs::create_dir_all(pack_dir.join("tests")).unwrap();
    std::fs::write(pack_dir.join("tests/readme.toml"), example).unwrap();
    let pack = Pack::load(&pack_dir).unwrap();
    let tests = PackTests::load(&pack_dir);
    assert!(tests.errors().is_empty(), "{}", tests.errors()[0]);
    let reports = tests.run_cases(&pack, None);
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert!(r.passed(), "{}: {:?} {:?}", r.case.name, r.mismatches, r.result);
    }
}

#[test]
fn a_pack_rebuilt_from_its_texts_reads_no_file_and_is_the_same_pack() {
    let pack = leadscore::Loader::new()
        .plugin_path(["plugins"])
        .load("rules/agency")
        .unwrap();
    let scripts: Vec<(String, String)> = pack
        .plugin_texts()
        .map(|(path, text)| {
            (
                path.file_stem().unwrap().to_string_lossy().into_owned(),
                text.to_string(),
            )
        })
        .collect();
    assert!(!scripts.is_empty());
    let loader = leadscore::Loader::new()
        .plugin_path(Vec::<String>::new())
        .plugin_scripts(scripts);
    let copy = loader
        .from_files(&pack.id().name, pack.sources().files().to_vec())
        .unwrap();
    assert_eq!(copy.id(), pack.id(), "the same name and version");
    let lead = serde_json::json!({"id": 1, "title": "VP Marketing", "email": "a@gmail.com", "company": {"size": 80}});
    let as_of = leadscore::parse_time("2026-03-01T00:00:00Z").unwrap();
    assert_eq!(copy.score(&lead, as_of).unwrap(), pack.score(&lead, as_of).unwrap());
    // Without the scripts, nothing is found: no folder was looked in.
    let bare = leadscore::Loader::new().plugin_path(Vec::<String>::new());
    let err = bare
        .from_files(&pack.id().name, pack.sources().files().to_vec())
        .unwrap_err();
    assert!(err.to_string().contains("unknown plugin"), "{err}");
}
