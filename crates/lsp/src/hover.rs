//! Hover: what a name means in this pack, in the rule author's words.

use std::fmt::Write;

use super::adapter::{Analysis, Item, Kind};
use super::samples::Samples;

/// How many distinct sample values a field's hover lists.
const MAX_VALUES: usize = 10;

/// The hover text (markdown) for an item.
pub fn text(analysis: &Analysis, item: &Item, samples: &Samples) -> String {
    match &item.kind {
        Kind::Rule => rule(item),
        Kind::Let => definition_of(analysis, item, "let"),
        Kind::Route => definition_of(analysis, item, "route"),
        Kind::Mql => format!(
            "**MQL condition**\n\n```leadscore\n{}\n```",
            item.detail.as_deref().unwrap_or("")
        ),
        Kind::Dimension => dimension(analysis, &item.name),
        Kind::Verb { event_type, property } => verb(&item.name, event_type, *property),
        Kind::Function => function(analysis, &item.name),
        Kind::Plugin => plugin(analysis, &item.name),
        Kind::Field { event } => field(&item.name, event.as_deref(), samples),
    }
}

fn rule(item: &Item) -> String {
    let actions = item.detail.as_deref().unwrap_or("");
    let mut text = format!("**rule** `{}`\n\n", item.name);
    for action in actions.split("; ") {
        let _ = writeln!(text, "- {action}");
    }
    text
}

/// A `let` or route: its definition, wherever the cursor is on it.
fn definition_of(analysis: &Analysis, item: &Item, what: &str) -> String {
    let defs: Vec<&Item> = analysis
        .items
        .iter()
        .filter(|d| d.defines && d.kind == item.kind && d.name == item.name)
        .collect();
    let Some(def) = defs.first() else {
        return format!("**{what}** `{}`: not defined in this pack", item.name);
    };
    let detail = def.detail.as_deref().unwrap_or("");
    let code = match item.kind {
        Kind::Route => format!("route \"{}\" {detail}", def.name),
        _ => detail.to_string(),
    };
    let mut text = format!("**{what}** `{}`\n\n```leadscore\n{}\n```", item.name, code.trim_end());
    let uses = analysis
        .items
        .iter()
        .filter(|u| !u.defines && u.kind == item.kind && u.name == item.name)
        .count();
    if item.kind == Kind::Let {
        let _ = write!(text, "\n\nused {uses} time{}", if uses == 1 { "" } else { "s" });
    }
    text
}

fn dimension(analysis: &Analysis, name: &str) -> String {
    let Some(d) = analysis.dimensions.iter().find(|d| d.name == name) else {
        return format!(
            "**dimension** `{name}`: not declared (declare it with `dimension {name}` or `cap {name} at N`)"
        );
    };
    let cap = d
        .cap
        .as_ref()
        .map_or("no cap".to_string(), |c| format!("capped at {c}"));
    let decay = d
        .half_life
        .as_ref()
        .map_or("no decay".to_string(), |h| format!("decays with a half-life of {h}"));
    let rules = analysis
        .items
        .iter()
        .filter(|i| !i.defines && i.kind == Kind::Dimension && i.name == name)
        .count();
    format!(
        "**dimension** `{name}`\n\n- {cap}\n- {decay}\n- named {rules} time{} in rules and conditions",
        if rules == 1 { "" } else { "s" }
    )
}

/// A behaviour verb, from the language reference (README "Behaviour").
fn verb(word: &str, event_type: &str, property: Option<&str>) -> String {
    let Some(property) = property else {
        return format!(
            "**did** `{event_type}`\n\nCounts events whose `type` is `{event_type}`; `where` tests the event's properties. \
             Add `at least N times` and/or `within DURATION`."
        );
    };
    format!(
        "**{word}**\n\nMatches events of type `{event_type}` whose `{property}` matches the pattern: a glob \
         (`*` is any run of characters), case ignored{}. Add `at least N times` and/or `within DURATION` \
         (`30m`, `12h`, `2d`, `3w`).",
        if property == "path" {
            "; a path's query string, fragment and trailing slash are ignored"
        } else {
            ""
        }
    )
}

fn function(analysis: &Analysis, name: &str) -> String {
    match analysis.functions.iter().find(|f| f.name == name) {
        Some(f) => {
            let file = analysis
                .plugins
                .iter()
                .find(|p| p.name == f.plugin)
                .and_then(|p| p.path.file_name())
                .map(|n| format!(" (`{}`)", n.to_string_lossy()))
                .unwrap_or_default();
            format!(
                "**function** `{}({})`\n\nfrom plugin `{}`{file}",
                f.name,
                f.params.join(", "),
                f.plugin
            )
        }
        None => format!("**function** `{name}`: no plugin named by this pack defines it"),
    }
}

fn plugin(analysis: &Analysis, name: &str) -> String {
    let Some(p) = analysis.plugins.iter().find(|p| p.name == name) else {
        return format!("**plugin** `{name}`: not found");
    };
    let mut text = format!("**plugin** `{name}`\n\n`{}`", p.path.display());
    let functions: Vec<String> = analysis
        .functions
        .iter()
        .filter(|f| f.plugin == name)
        .map(|f| format!("`{}({})`", f.name, f.params.join(", ")))
        .collect();
    if !functions.is_empty() {
        let _ = write!(text, "\n\nfunctions: {}", functions.join(", "));
    }
    text
}

fn field(path: &str, event: Option<&str>, samples: &Samples) -> String {
    let mut text = match event {
        Some(ty) => format!("**property** `{path}` of `{ty}` events"),
        None => format!("**field** `{path}`"),
    };
    if samples.len() == 0 {
        text += "\n\nno sample leads (`leads/*.json`) to show values from";
        return text;
    }
    let counts = samples.values(path, event);
    if counts.is_empty() {
        let _ = write!(text, "\n\nnot set in any of the {} sample leads", samples.len());
        return text;
    }
    let mut by_count: Vec<(&String, &usize)> = counts.iter().collect();
    by_count.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let _ = match event {
        Some(_) => write!(text, "\n\nvalues in the sample leads' events:\n"),
        None => write!(
            text,
            "\n\nset in {} of {} sample leads; values:\n",
            samples.present(path),
            samples.len()
        ),
    };
    for (value, n) in by_count.iter().take(MAX_VALUES) {
        let _ = writeln!(
            text,
            "- `{value}`{}",
            if **n > 1 { format!(" ×{n}") } else { String::new() }
        );
    }
    if by_count.len() > MAX_VALUES {
        let _ = writeln!(text, "- … {} more", by_count.len() - MAX_VALUES);
    }
    text
}
