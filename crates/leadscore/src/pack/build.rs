//! The build pipeline: a pack's sources → parse → resolve plugins → check → compile →
//! the pack, with its read plan and version.

use std::path::Path;
use std::sync::Arc;

use super::Error;
use super::{Inner, Loader, Pack};
use super::{PackError, PackErrors};
use crate::ast::Ast;
use crate::check;
use crate::compile::compile;
use crate::eval::{Names, PackId};
use crate::plugin::Plugins;
use crate::read::ReadPlan;
use crate::source::Sources;
use crate::syntax;

/// What the front of the pipeline (parse → resolve plugins → check) found in a pack's
/// sources: its syntax tree, its plugins, and what the compiler needs, or every error.
/// The language server stops here (it needs the tree and the errors, not a program).
pub struct Front {
    /// Every statement of every file.
    pub ast: Ast,
    /// The plugins found and compiled.
    pub plugins: Plugins,
    /// What checking learned, or every error of every stage (shown against the rule files
    /// and the plugin files they point into).
    pub checked: Result<check::Checked, PackErrors>,
}

/// Parse → resolve plugins → check. Every stage runs, and every error found is reported
/// together.
pub fn front(loader: &Loader, dir: Option<&Path>, sources: &Sources) -> Front {
    let (ast, errors) = parse(sources);
    resolve_and_check(loader, dir, sources, ast, errors)
}

/// Resolve plugins → check, on a tree parsed by [`parse`] (the loader may leave statements
/// out of the tree between the two), keeping the parse stage's `errors`.
fn resolve_and_check(
    loader: &Loader,
    dir: Option<&Path>,
    sources: &Sources,
    ast: Ast,
    mut errors: Vec<PackError>,
) -> Front {
    // Errors may point into plugin files too: they are shown, but are not rule sources.
    let mut shown = sources.clone();
    let (plugins, plugin_errors) = Plugins::resolve(
        &loader.plugin_path,
        &loader.plugin_scripts,
        &loader.limits,
        dir,
        &ast,
        &mut shown,
    );
    errors.extend(plugin_errors.into_iter().map(PackError::from));
    let checked = match check::check(&ast, sources, &plugins) {
        Ok(checked) if errors.is_empty() => Ok(checked),
        Ok(_) => Err(PackErrors::new(shown, errors)),
        Err(check_errors) => {
            // A plugin that failed to load would make every call to it "unknown" too.
            let noise = |e: &check::CheckError| {
                plugins.incomplete() && matches!(e.kind, check::CheckErrorKind::UnknownFunction(_))
            };
            errors.extend(check_errors.into_iter().filter(|e| !noise(e)).map(PackError::from));
            Err(PackErrors::new(shown, errors))
        }
    };
    Front { ast, plugins, checked }
}

/// Builds a pack from its sources, parsed by [`parse`]: [`resolve_and_check`], then
/// compile.
pub(super) fn build(
    loader: &Loader,
    name: &str,
    dir: Option<&Path>,
    sources: Sources,
    ast: Ast,
    errors: Vec<PackError>,
) -> Result<Pack, Error> {
    let Front { ast, plugins, checked } = resolve_and_check(loader, dir, &sources, ast, errors);
    let checked = checked?;
    let program = compile(&ast, &sources, checked, &plugins.function_names());
    let id = PackId {
        name: name.into(),
        version: version(&sources, &plugins).into(),
    };
    let plan = ReadPlan::new(&program, "id");
    let names = Arc::new(Names::new(&program, id));
    let inner = Inner {
        program,
        sources,
        names,
        plugins,
        plan,
    };
    Ok(Pack { inner: Arc::new(inner) })
}

/// The parse stage: every file into one syntax tree, with every syntax error.
pub(super) fn parse(sources: &Sources) -> (Ast, Vec<PackError>) {
    let mut ast = Ast::default();
    let mut errors = Vec::new();
    for (i, file) in sources.files().iter().enumerate() {
        syntax::parse_file(i as u32, &file.text, &mut ast, &mut errors);
    }
    (ast, errors.into_iter().map(PackError::from).collect())
}

/// The first 8 hex digits of an FNV-1a hash of every source and plugin file.
fn version(sources: &Sources, plugins: &Plugins) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut feed = |bytes: &[u8]| {
        for &b in bytes {
            hash = (hash ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3);
        }
        hash = (hash ^ 0xff).wrapping_mul(0x0000_0100_0000_01b3);
    };
    // An empty file held in memory (the REPL's `<session>` before anything is typed)
    // adds nothing: the pack is the same pack `check` and `score` name.
    let in_memory_and_empty = |f: &&crate::source::SourceFile| f.name.starts_with('<') && f.text.is_empty();
    for f in sources.files().iter().filter(|f| !in_memory_and_empty(f)) {
        feed(f.name.as_bytes());
        feed(f.text.as_bytes());
    }
    for text in plugins.sources() {
        feed(text.as_bytes());
    }
    format!("{:08x}", hash >> 32)
}
