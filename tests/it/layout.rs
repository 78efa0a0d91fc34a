//! The layout the crates' READMEs describe, checked: every source file has a row in its
//! crate's table of files; the tables read bottom up (a file imports only from the rows
//! above it); and no module imports from another that imports it back, however long the
//! way round (an import circle; STYLE.md). Cargo already refuses a cycle between crates;
//! this is the same rule inside each crate.
//!
//! An import is a path that starts at `crate::`, `super::` or `self::` outside comments and
//! outside a file's `#[cfg(test)] mod tests` (a test may reach anywhere), taken to the
//! longest prefix of it that names a file of the crate. A module's paths into the children
//! it declares (`mod child;` then `child::x`) are not counted: a parent owns its children.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use regex::Regex;

/// Each crate's source folder, its root file and the README whose table lists its files.
const CRATES: [(&str, &str, &str); 5] = [
    ("crates/leadscore/src", "lib.rs", "crates/leadscore/README.md"),
    ("crates/outcomes/src", "lib.rs", "crates/outcomes/README.md"),
    ("crates/service/src", "lib.rs", "crates/service/README.md"),
    ("crates/lsp/src", "lib.rs", "crates/lsp/README.md"),
    ("src", "main.rs", "src/README.md"),
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `.rs` files under `dir`, as paths relative to it with `/` between folders.
fn sources(dir: &Path) -> Vec<String> {
    fn walk(dir: &Path, base: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, base, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let rel = path.strip_prefix(base).unwrap();
                out.push(
                    rel.components()
                        .map(|c| c.as_os_str().to_string_lossy())
                        .collect::<Vec<_>>()
                        .join("/"),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(dir, dir, &mut out);
    out.sort();
    out
}

/// The files a crate's README lists, in the order of its rows.
fn rows(readme: &str) -> Vec<String> {
    let row = Regex::new(r"(?m)^\| `([^`]+\.rs)`").unwrap();
    let text = std::fs::read_to_string(root().join(readme)).unwrap();
    row.captures_iter(&text).map(|c| c[1].to_string()).collect()
}

#[test]
fn every_source_file_has_a_row_in_its_crates_table() {
    for (src, _, readme) in CRATES {
        let rows = rows(readme);
        let rows: BTreeSet<&str> = rows.iter().map(String::as_str).collect();
        let files = sources(&root().join(src));
        let missing: Vec<&String> = files.iter().filter(|f| !rows.contains(f.as_str())).collect();
        assert!(missing.is_empty(), "{readme} has no row for {missing:?}");
        let gone: Vec<&&str> = rows
            .iter()
            .filter(|r| !r.starts_with("../") && !files.iter().any(|f| f == *r))
            .collect();
        assert!(gone.is_empty(), "{readme} lists files that are not in {src}: {gone:?}");
    }
}

/// A file's module path: `read/scan.rs` is `read::scan`, `read/mod.rs` is `read`.
fn module_of(file: &str) -> Vec<String> {
    let mut parts: Vec<String> = file.trim_end_matches(".rs").split('/').map(String::from).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "lib" || p == "main") {
        parts.pop();
    }
    parts
}

/// The file that defines module `path` in the crate, if there is one.
fn file_of(files: &BTreeSet<String>, path: &[String]) -> Option<String> {
    let joined = path.join("/");
    [format!("{joined}.rs"), format!("{joined}/mod.rs")]
        .into_iter()
        .find(|f| !path.is_empty() && files.contains(f))
}

/// The code of a file that counts: without its test module and its comments.
fn code(text: &str) -> String {
    let end = Regex::new(r"#\[cfg\(test\)\]\s*mod tests")
        .unwrap()
        .find(text)
        .map_or(text.len(), |m| m.start());
    text[..end]
        .lines()
        .filter(|l| !l.trim_start().starts_with("//"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every file of the crate in `src` with the files of the same crate it imports from.
fn imports(src: &Path, root_file: &str) -> BTreeMap<String, BTreeSet<String>> {
    let path = Regex::new(r"\b(crate|super|self)((?:::(?:super|[a-z_][a-z0-9_]*))*)(?:::\{([^}]*)\})?").unwrap();
    let files: BTreeSet<String> = sources(src).into_iter().collect();
    let mut graph = BTreeMap::new();
    for file in &files {
        let me = module_of(file);
        // `super::` of `a/b.rs` and of `a/b/mod.rs` is `a`; `self::` is the module itself.
        let parent: Vec<String> = me[..me.len().saturating_sub(1)].to_vec();
        let text = code(&std::fs::read_to_string(src.join(file)).unwrap());
        let mut to = BTreeSet::new();
        for c in path.captures_iter(&text) {
            let mut base = match &c[1] {
                "crate" => Vec::new(),
                "super" if file != root_file => parent.clone(),
                "super" => continue,
                _ => me.clone(),
            };
            let mut rest: Vec<String> = c[2].split("::").filter(|p| !p.is_empty()).map(String::from).collect();
            while rest.first().is_some_and(|p| p == "super") {
                base.pop();
                rest.remove(0);
            }
            let mut tails = vec![rest.clone()];
            if let Some(group) = c.get(3) {
                for item in group
                    .as_str()
                    .split(',')
                    .map(str::trim)
                    .filter(|i| !i.is_empty() && *i != "self")
                {
                    let first = item.split("::").next().unwrap_or(item).trim().to_string();
                    tails.push(rest.iter().cloned().chain([first]).collect());
                }
            }
            for tail in tails {
                let full: Vec<String> = base.iter().cloned().chain(tail).collect();
                let target = (1..=full.len()).rev().find_map(|k| file_of(&files, &full[..k]));
                if let Some(target) = target.filter(|t| t != file) {
                    to.insert(target);
                }
            }
        }
        graph.insert(file.clone(), to);
    }
    graph
}

/// The strongly connected components of more than one file (Tarjan's algorithm).
fn circles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct Walk<'g> {
        graph: &'g BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'g str, usize>,
        low: BTreeMap<&'g str, usize>,
        stack: Vec<&'g str>,
        found: Vec<Vec<String>>,
    }
    impl<'g> Walk<'g> {
        fn visit(&mut self, v: &'g str) {
            let n = self.index.len();
            self.index.insert(v, n);
            self.low.insert(v, n);
            self.stack.push(v);
            for w in self.graph.get(v).into_iter().flatten() {
                if !self.index.contains_key(w.as_str()) {
                    self.visit(w);
                    let low = self.low[v].min(self.low[w.as_str()]);
                    self.low.insert(v, low);
                } else if self.stack.contains(&w.as_str()) {
                    let low = self.low[v].min(self.index[w.as_str()]);
                    self.low.insert(v, low);
                }
            }
            if self.low[v] == self.index[v] {
                let at = self.stack.iter().rposition(|s| *s == v).unwrap();
                let component: Vec<String> = self.stack.drain(at..).map(String::from).collect();
                if component.len() > 1 {
                    self.found.push(component);
                }
            }
        }
    }
    let mut walk = Walk {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        found: Vec::new(),
    };
    for v in graph.keys() {
        if !walk.index.contains_key(v.as_str()) {
            walk.visit(v);
        }
    }
    walk.found
}

#[test]
fn no_module_imports_in_a_circle() {
    for (src, root_file, _) in CRATES {
        let graph = imports(&root().join(src), root_file);
        let found = circles(&graph);
        let shown: Vec<String> = found
            .iter()
            .map(|c| {
                let arrows: Vec<String> = c
                    .iter()
                    .flat_map(|f| {
                        graph[f]
                            .iter()
                            .filter(|t| c.contains(t))
                            .map(move |t| format!("{f} -> {t}"))
                    })
                    .collect();
                arrows.join(", ")
            })
            .collect();
        assert!(found.is_empty(), "import circles in {src}: {shown:#?}");
    }
}

#[test]
fn each_file_imports_only_from_the_rows_above_it() {
    for (src, root_file, readme) in CRATES {
        let rows = rows(readme);
        let row_of = |file: &str| rows.iter().position(|r| r == file);
        let graph = imports(&root().join(src), root_file);
        let upward: Vec<String> = graph
            .iter()
            .flat_map(|(file, to)| to.iter().map(move |t| (file, t)))
            .filter(|(file, to)| matches!((row_of(file), row_of(to)), (Some(f), Some(t)) if t > f))
            .map(|(file, to)| format!("{file} -> {to}"))
            .collect();
        assert!(
            upward.is_empty(),
            "{readme}: files import from rows below them: {upward:#?}"
        );
    }
}

#[test]
fn the_circle_check_sees_a_circle() {
    // Two files of a made-up crate that import each other, one through a group.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("lib.rs"), "mod a;\nmod b;\n").unwrap();
    std::fs::write(dir.path().join("a.rs"), "use super::{b::B, c};\npub struct A;\n").unwrap();
    std::fs::write(
        dir.path().join("b.rs"),
        "// super::c in a comment is no import\nuse crate::a::A;\npub struct B;\n",
    )
    .unwrap();
    std::fs::write(
        dir.path().join("c.rs"),
        "pub struct C;\n#[cfg(test)]\nmod tests {\n    use crate::a::A;\n}\n",
    )
    .unwrap();
    let graph = imports(dir.path(), "lib.rs");
    assert_eq!(graph["a.rs"], BTreeSet::from(["b.rs".to_string(), "c.rs".to_string()]));
    assert_eq!(graph["c.rs"], BTreeSet::new());
    assert_eq!(circles(&graph), vec![vec!["a.rs".to_string(), "b.rs".to_string()]]);
}
