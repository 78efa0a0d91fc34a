//! Every check error, rendered as the rule author sees it (one fixture per error family).

use leadscore::{Error, Pack};

#[test]
fn check_errors_render_with_location_caret_and_help() {
    insta::glob!("../fixtures/errors", "*.rules", |path| {
        let text = std::fs::read_to_string(path).unwrap();
        let name = path.file_stem().unwrap().to_string_lossy();
        match Pack::from_source(&name, &text) {
            Err(Error::Pack(errors)) => insta::assert_snapshot!(errors.render(false)),
            Err(other) => panic!("{name}: expected pack errors, got {other}"),
            Ok(_) => panic!("{name}: the pack loaded, but it should not"),
        }
    });
}

#[test]
fn errors_are_reported_in_source_order_and_all_of_them() {
    let text = "title ~ VP => +5 fti\nrule \"x\" title ~ CEO => +5\nsenoir => +1\n";
    let Err(Error::Pack(errors)) = Pack::from_source("p", text) else {
        panic!("should not load")
    };
    let lines: Vec<usize> = errors.errors().iter().map(|e| errors.location(e).line).collect();
    assert_eq!(lines, [1, 2, 3]);
}

#[test]
fn check_exits_2_with_diagnostics_on_stderr_and_0_when_clean() {
    let bin = env!("CARGO_BIN_EXE_leadscore");
    let ok = std::process::Command::new(bin)
        .args(["check", "rules/b2b-saas"])
        .output()
        .unwrap();
    assert_eq!(ok.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&ok.stdout).starts_with("b2b-saas@"));

    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.rules"), "title ~ VP => +5 fti\n").unwrap();
    let bad = std::process::Command::new(bin)
        .arg("check")
        .arg(dir.path())
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&bad.stderr);
    assert!(stderr.contains("error: unknown dimension `fti`"), "{stderr}");
    assert!(stderr.contains("a.rules:1:18"), "{stderr}");
}
