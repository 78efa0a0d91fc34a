//! `leadscore watch`: follow a pack folder, print every reload or rejection and, with
//! `--leads`, what each reload changed for those leads. Runs until interrupted.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use leadscore::reload::{ReloadEvent, WatchOptions};
use leadscore::{LivePack, Pack, PackId};
use serde::Serialize;
use serde_json::{json, Value};

use super::{as_of, Exit, Failure, PackArgs};

/// Arguments of `watch`.
#[derive(clap::Args, Debug)]
pub struct WatchArgs {
    /// The pack folder.
    #[arg(long)]
    pack: PathBuf,
    /// Leads to re-score on every reload: JSON Lines, or a JSON object or array.
    #[arg(long, value_name = "FILE")]
    leads: Option<PathBuf>,
    /// Score as of this RFC 3339 time (default: the time the command started).
    #[arg(long = "as-of", value_name = "TIME")]
    as_of: Option<String>,
    /// One JSON object per event instead of text.
    #[arg(long)]
    json: bool,
    /// List every lead a reload changed (by default the first 10 and a count of the rest;
    /// `--json` always lists them all).
    #[arg(long)]
    list: bool,
    /// Poll the folder instead of using file-system events (for network filesystems);
    /// `--poll=MS` sets the interval (default 500).
    #[arg(long, value_name = "MS", num_args = 0..=1, require_equals = true, default_missing_value = "500",
          value_parser = poll_interval)]
    poll: Option<u64>,
    /// How long a change is held (so the rest of a save joins it) before the rebuild, in ms.
    #[arg(long, value_name = "MS", default_value_t = leadscore::reload::DEFAULT_DEBOUNCE.as_millis() as u64)]
    debounce: u64,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// One lead of `--leads`: its id and its last result (or why it could not be scored).
struct Lead {
    id: Value,
    lead: Value,
    last: Result<leadscore::Outcome, String>,
}

/// How one lead's result changed with a reload.
#[derive(Serialize)]
struct Change {
    id: Value,
    #[serde(serialize_with = "whole")]
    old_score: Option<f64>,
    #[serde(serialize_with = "whole")]
    new_score: Option<f64>,
    /// `gained` or `lost`, when MQL status changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    mql: Option<&'static str>,
    /// Why the new pack could not score the lead.
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
}

/// How many changed leads a reload lists without `--list`.
const LISTED: usize = 10;

/// A whole-number score as an integer (`12`, not `12.0`), as `leadscore score` prints it.
fn whole<S: serde::Serializer>(score: &Option<f64>, s: S) -> Result<S::Ok, S::Error> {
    match score {
        Some(x) if x.fract() == 0.0 && x.abs() < 9e15 => s.serialize_i64(*x as i64),
        Some(x) => s.serialize_f64(*x),
        None => s.serialize_none(),
    }
}

/// Watches until the process is interrupted.
pub fn run(args: &WatchArgs) -> Result<Exit, Failure> {
    let as_of = as_of(args.as_of.as_deref())?;
    let mut options = WatchOptions::new().debounce(Duration::from_millis(args.debounce));
    if let Some(ms) = args.poll {
        options = options.poll(Duration::from_millis(ms));
    }
    let (live, events) = LivePack::watch(&args.pack, args.pack_args.loader(), options).map_err(Failure::pack)?;
    let mut leads = match &args.leads {
        Some(path) => read_leads(path)?,
        None => Vec::new(),
    };
    let pack = Pack::clone(&live.current());
    for lead in &mut leads {
        lead.last = score(&pack, &lead.lead, as_of);
    }
    started(args, &pack, &leads);
    for event in events {
        match event {
            ReloadEvent::Reloaded { pack, previous } => {
                let changes = rescore(&pack, &mut leads, as_of);
                let summary = Summary::of(&changes, &leads);
                reloaded(args, pack.id(), &previous, &changes, &summary);
            }
            ReloadEvent::Unchanged { live } => emit(args.json, json!({"event": "unchanged", "pack": live}), || {
                format!("unchanged: {live} still live (the files on disk form the live version)")
            }),
            ReloadEvent::Rejected(r) => emit(
                args.json,
                json!({"event": "rejected", "live": r.live, "errors": r.errors}),
                || format!("rejected:\n{}previous version {} still live", r.rendered, r.live),
            ),
            ReloadEvent::WatchError { message } => {
                emit(args.json, json!({"event": "watch_error", "message": message}), || {
                    format!("watch error: {message}")
                })
            }
            _ => {}
        }
    }
    drop(live);
    Ok(Exit::Success)
}

/// Parses `--poll=MS`: at least 1 ms (0 would poll without pause, a core at full load).
fn poll_interval(text: &str) -> Result<u64, String> {
    match text.trim().parse::<u64>() {
        Ok(0) => Err("0 would poll without pause; give at least 1 (milliseconds)".to_string()),
        Ok(ms) => Ok(ms),
        Err(_) => Err(format!("{text:?} is not a number of milliseconds")),
    }
}

/// Prints one event: a JSON line, or the text `human` builds.
fn emit(json: bool, value: Value, human: impl FnOnce() -> String) {
    let mut out = super::stdout();
    let _ = if json {
        writeln!(out, "{value}")
    } else {
        writeln!(out, "{}", leadscore::show_rendered(&human()))
    };
    let _ = out.flush();
}

fn started(args: &WatchArgs, pack: &Pack, leads: &[Lead]) {
    let mql = leads.iter().filter(|l| l.last.as_ref().is_ok_and(|o| o.mql)).count();
    let value = json!({"event": "started", "pack": pack.id(), "leads": leads.len(), "mql": mql});
    emit(args.json, value, || {
        let mut text = format!("watching {}: {} live", args.pack.display(), pack.id());
        if args.leads.is_some() {
            text.push_str(&format!(" ({} leads, {mql} MQL)", leads.len()));
        }
        text
    });
}

/// The totals of a reload over `--leads`.
struct Summary {
    leads: usize,
    gained: usize,
    lost: usize,
    /// MQLs with the new pack.
    mql: usize,
}

impl Summary {
    fn of(changes: &[Change], leads: &[Lead]) -> Summary {
        let count = |what: &str| changes.iter().filter(|c| c.mql == Some(what)).count();
        Summary {
            leads: leads.len(),
            gained: count("gained"),
            lost: count("lost"),
            mql: leads.iter().filter(|l| l.last.as_ref().is_ok_and(|o| o.mql)).count(),
        }
    }
}

/// `reloaded: b2b@1 live (was 0), 102 of 1000 leads changed; MQLs: 3 gained, 1 lost, 58 now`
/// and the changes, the first [`LISTED`] unless `--list`.
fn reloaded(args: &WatchArgs, pack: &PackId, previous: &PackId, changes: &[Change], sum: &Summary) {
    let value = json!({
        "event": "reloaded", "pack": pack, "previous": previous, "changes": changes,
        "mql_gained": sum.gained, "mql_lost": sum.lost, "mql": sum.mql,
    });
    emit(args.json, value, || {
        let mut text = format!("reloaded: {pack} live (was {})", previous.version);
        if sum.leads > 0 {
            text.push_str(&format!(
                ", {} of {} leads changed; MQLs: {} gained, {} lost, {} now",
                changes.len(),
                sum.leads,
                sum.gained,
                sum.lost,
                sum.mql
            ));
        }
        let shown = if args.list { changes.len() } else { LISTED };
        for c in changes.iter().take(shown) {
            text.push_str(&format!("\n  {}", describe(c)));
        }
        if changes.len() > shown {
            let more = changes.len() - shown;
            text.push_str(&format!("\n  … and {more} more (--list shows every change)"));
        }
        text
    });
}

/// `b2b-001: 40 → 80, MQL gained`.
fn describe(change: &Change) -> String {
    let score = |s: Option<f64>| s.map_or_else(|| "error".to_string(), |s| s.to_string());
    let id = match &change.id {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    let mut text = format!("{id}: {} → {}", score(change.old_score), score(change.new_score));
    if let Some(mql) = change.mql {
        text.push_str(&format!(", MQL {mql}"));
    }
    if let Some(error) = &change.error {
        text.push_str(&format!(" ({error})"));
    }
    text
}

/// Scores every lead with the new pack; the leads whose score, MQL status or error changed.
fn rescore(pack: &Pack, leads: &mut [Lead], as_of: chrono::DateTime<chrono::Utc>) -> Vec<Change> {
    let mut changes = Vec::new();
    for lead in leads {
        let new = score(pack, &lead.lead, as_of);
        let (old_score, old_mql) = summary(&lead.last);
        let (new_score, new_mql) = summary(&new);
        let error = new.as_ref().err().cloned();
        if old_score != new_score || old_mql != new_mql || error != lead.last.as_ref().err().cloned() {
            let mql = match (old_mql, new_mql) {
                (false, true) => Some("gained"),
                (true, false) => Some("lost"),
                _ => None,
            };
            changes.push(Change {
                id: lead.id.clone(),
                old_score,
                new_score,
                mql,
                error,
            });
        }
        lead.last = new;
    }
    changes
}

fn summary(result: &Result<leadscore::Outcome, String>) -> (Option<f64>, bool) {
    match result {
        Ok(o) => (Some(o.score), o.mql),
        Err(_) => (None, false),
    }
}

fn score(pack: &Pack, lead: &Value, as_of: chrono::DateTime<chrono::Utc>) -> Result<leadscore::Outcome, String> {
    pack.score(lead, as_of).map_err(|e| e.to_string())
}

/// Reads `--leads`: one JSON object, a JSON array of objects, or JSON Lines.
fn read_leads(path: &Path) -> Result<Vec<Lead>, Failure> {
    let text = leadscore::file::read_text(path, leadscore::file::DEFAULT_MAX_FILE_BYTES)
        .map_err(|e| Failure(format!("error: {e}")))?;
    let values = match serde_json::from_str::<Value>(&text) {
        Ok(Value::Array(items)) => items,
        Ok(one) => vec![one],
        Err(_) => json_lines(path, &text)?,
    };
    Ok(values
        .into_iter()
        .enumerate()
        .map(|(i, lead)| {
            let id = lead.get("id").cloned().unwrap_or_else(|| Value::from(i + 1));
            Lead {
                id,
                lead,
                last: Err(String::new()),
            }
        })
        .collect())
}

fn json_lines(path: &Path, text: &str) -> Result<Vec<Value>, Failure> {
    let mut leads = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let lead = serde_json::from_str(line)
            .map_err(|e| Failure(format!("error: {}:{}: not a JSON lead: {e}", path.display(), i + 1)))?;
        leads.push(lead);
    }
    Ok(leads)
}
