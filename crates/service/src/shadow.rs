//! The shadow pack (`serve --shadow PACK`): a candidate pack that scores every write
//! beside the live one, with the live pack's publishing rules (a link flipped or a folder
//! renamed into place, `POST /v1/shadow/reload`, `SIGHUP`), and never decides anything:
//! no transition, webhook or stage change comes from it. A shadow pack that does not load
//! is reported (the log, `GET /v1/shadow`) and the service runs on without one; the live
//! pack never depends on it.
//!
//! What `GET /v1/shadow` reports is kept as it is written: each lead's record holds its
//! shadow result and its [`ShadowMark`] (the comparison with the live result), and the
//! storage keeps one [`ShadowTally`] per shadow version, to which each batch adds its
//! leads' new marks and from which it takes their previous ones. The report reads that
//! one tally, never the leads.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::{json, Value};
use tokio::sync::Notify;

use super::input::rfc3339;
use super::model::now_millis;
use super::model::{ShadowMark, ShadowTally};
use leadscore::reload::{ReloadEvent, WatchOptions};
use leadscore::{LivePack, Outcome, Pack};

/// The live and the shadow result of one lead, compared.
///
/// ```
/// use leadscore::Pack;
/// let when = leadscore::parse_time("2026-01-01T00:00:00Z").unwrap_or_default();
/// let live = Pack::from_source("p", "threshold 20\nrule \"VP\": title ~ VP => +20")?;
/// let shadow = Pack::from_source("p", "threshold 20\nrule \"VP\": title ~ VP => +10")?;
/// let lead = serde_json::json!({"id": 1, "title": "VP"});
/// let mark = leadscore_service::shadow::compare(&live.score(&lead, when)?, &shadow.score(&lead, when)?);
/// assert_eq!((mark.live_mql, mark.shadow_mql, mark.score_change), (true, false, -10.0));
/// assert_eq!(mark.rules, ["VP"]);
/// # Ok::<(), leadscore::Error>(())
/// ```
pub fn compare(live: &Outcome, shadow: &Outcome) -> ShadowMark {
    let route_changed = live.mql && shadow.mql && live.route() != shadow.route();
    let mut mark = ShadowMark {
        live_mql: live.mql,
        shadow_mql: shadow.mql,
        route_changed,
        score_change: shadow.score - live.score,
        rules: Vec::new(),
    };
    if mark.differs() {
        mark.rules = differing_rules(live, shadow);
    }
    mark
}

/// The rules (by name) that fired in one result and not the other, or gave other points;
/// in the live result's order, then the shadow's.
fn differing_rules(live: &Outcome, shadow: &Outcome) -> Vec<String> {
    let points = |o: &Outcome, name: &str| o.fired().find(|f| f.rule() == name).map(|f| f.points());
    let mut out: Vec<String> = Vec::new();
    for fired in live.fired().chain(shadow.fired()) {
        let name = fired.rule();
        if points(live, name) != points(shadow, name) && !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    out
}

/// The report of `GET /v1/shadow` from a tally: the counts, the mean score change, and
/// the rules behind the differences, the most frequent first.
pub fn report(tally: &ShadowTally, loaded_at: i64) -> Value {
    let mut rules: Vec<(&String, &super::model::RuleTally)> = tally.rules.iter().filter(|(_, r)| r.leads > 0).collect();
    rules.sort_by(|a, b| b.1.leads.cmp(&a.1.leads).then_with(|| a.0.cmp(b.0)));
    let mean = (tally.leads > 0).then(|| leadscore::value::num_to_json(tally.score_change / tally.leads as f64));
    json!({
        "pack": tally.pack,
        "loaded_at": rfc3339(loaded_at),
        "leads": tally.leads,
        "mql_both": tally.mql_both,
        "mql_live_only": tally.mql_live_only,
        "mql_shadow_only": tally.mql_shadow_only,
        "route_changed": tally.route_changed,
        "mean_score_change": mean,
        "rules": rules.into_iter().map(|(name, r)| json!({
            "rule": name,
            "leads": r.leads,
            "mql_live_only": r.mql_live_only,
            "mql_shadow_only": r.mql_shadow_only,
            "route_changed": r.route_changed,
        })).collect::<Vec<_>>(),
    })
}

/// The shadow pack: loaded (and following its published versions), or why not.
pub struct Shadow {
    dir: PathBuf,
    plugins: Vec<PathBuf>,
    live: RwLock<Option<Arc<LivePack>>>,
    status: Arc<Mutex<Status>>,
    reloaded: Arc<Notify>,
}

/// What happened to the shadow pack last.
#[derive(Clone, Debug, Default)]
struct Status {
    /// When the current shadow version was loaded (ms).
    loaded_at: i64,
    /// Why the shadow pack does not load, or why its last published version was
    /// rejected (the shadow version before it stays), rendered.
    error: Option<String>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shadow {
    /// Loads the shadow pack in `dir` and follows its published versions; a reload wakes
    /// `reloaded` (the scheduler scores every lead again). If it does not load, the error
    /// is logged and kept for `GET /v1/shadow`, and the service runs without a shadow
    /// until a reload loads it.
    pub fn start(dir: PathBuf, plugins: Vec<PathBuf>, reloaded: Arc<Notify>) -> Shadow {
        let shadow = Shadow {
            dir,
            plugins,
            live: RwLock::new(None),
            status: Arc::new(Mutex::new(Status::default())),
            reloaded,
        };
        shadow.load();
        shadow
    }

    /// Starts watching the folder, if it is not watched yet; whether a pack is loaded.
    fn load(&self) -> bool {
        if self.live.read().unwrap_or_else(|e| e.into_inner()).is_some() {
            return true;
        }
        let loader = if self.plugins.is_empty() {
            leadscore::Loader::new()
        } else {
            leadscore::Loader::new().plugin_path(self.plugins.clone())
        };
        let (status, reloaded) = (Arc::clone(&self.status), Arc::clone(&self.reloaded));
        let watched = LivePack::watch_with(&self.dir, loader, WatchOptions::new().published_only(), move |event| {
            record(&status, &event);
            if matches!(event, ReloadEvent::Reloaded { .. }) {
                reloaded.notify_one();
            }
        });
        match watched {
            Ok(live) => {
                eprintln!("leadscore serve: shadow pack {} loaded", live.current().id());
                *lock(&self.status) = Status {
                    loaded_at: now_millis(),
                    error: None,
                };
                *self.live.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(live));
                self.reloaded.notify_one();
                true
            }
            Err(e) => {
                let rendered = render(&e);
                eprintln!(
                    "leadscore serve: the shadow pack {} does not load; serving without a shadow:\n{rendered}",
                    self.dir.display()
                );
                lock(&self.status).error = Some(rendered);
                false
            }
        }
    }

    /// The shadow pack version now (`None` while none is loaded).
    pub fn current(&self) -> Option<Pack> {
        let live = self.live.read().unwrap_or_else(|e| e.into_inner());
        live.as_ref().map(|l| Pack::clone(&l.current()))
    }

    /// When the current version was loaded (ms).
    pub fn loaded_at(&self) -> i64 {
        lock(&self.status).loaded_at
    }

    /// Why the shadow pack does not load, or why its last published version was rejected.
    pub fn error(&self) -> Option<String> {
        lock(&self.status).error.clone()
    }

    /// The folder given to `--shadow`.
    pub fn dir(&self) -> &std::path::Path {
        &self.dir
    }

    /// Loads the folder as it is now, off the async workers: the first load if none
    /// loaded yet, else a reload (a version that does not check is rejected, and the
    /// shadow version before it stays).
    pub async fn reload(self: &Arc<Self>) -> Reload {
        let shadow = Arc::clone(self);
        let run = move || {
            let live = shadow.live.read().unwrap_or_else(|e| e.into_inner()).clone();
            match live {
                Some(live) => match live.reload(super::config::RELOAD_WAIT) {
                    Ok(event) => Reload::Event(event),
                    Err(e) => Reload::Failed(render(&e)),
                },
                None if shadow.load() => {
                    Reload::Loaded(shadow.current().map(|p| p.id().to_string()).unwrap_or_default())
                }
                None => Reload::Failed(shadow.error().unwrap_or_default()),
            }
        };
        tokio::task::spawn_blocking(run)
            .await
            .unwrap_or_else(|e| Reload::Failed(e.to_string()))
    }
}

/// What `POST /v1/shadow/reload` did.
#[derive(Debug)]
pub enum Reload {
    /// No shadow pack was loaded; now this version is.
    Loaded(String),
    /// A reload of the loaded shadow pack: reloaded, unchanged or rejected.
    Event(ReloadEvent),
    /// It still does not load, or the reload failed: why.
    Failed(String),
}

/// Logs and remembers one rebuild's outcome.
fn record(status: &Mutex<Status>, event: &ReloadEvent) {
    match event {
        ReloadEvent::Reloaded { pack, previous } => {
            eprintln!("leadscore serve: shadow pack reloaded: {previous} → {}", pack.id());
            *lock(status) = Status {
                loaded_at: now_millis(),
                error: None,
            };
        }
        ReloadEvent::Rejected(rejection) => {
            eprintln!(
                "leadscore serve: published shadow pack rejected, {} stays the shadow:\n{}",
                rejection.live, rejection.rendered
            );
            lock(status).error = Some(rejection.rendered.clone());
        }
        ReloadEvent::Unchanged { live } => {
            eprintln!("leadscore serve: shadow pack reload: no change, {live} stays the shadow");
        }
        ReloadEvent::WatchError { message } => eprintln!("leadscore serve: shadow pack watch: {message}"),
        #[allow(unreachable_patterns, reason = "`ReloadEvent` is non-exhaustive outside the core")]
        _ => {}
    }
}

/// A load error as the log and the API show it: the pack's diagnostics rendered, without
/// colour.
fn render(error: &leadscore::Error) -> String {
    match error {
        leadscore::Error::Pack(errors) => errors.render(false),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mark(live_mql: bool, shadow_mql: bool, change: f64, rules: &[&str]) -> ShadowMark {
        ShadowMark {
            live_mql,
            shadow_mql,
            route_changed: false,
            score_change: change,
            rules: rules.iter().map(|r| r.to_string()).collect(),
        }
    }

    #[test]
    fn a_tally_counts_each_lead_once_by_its_latest_mark() {
        let mut tally = ShadowTally::new("p@2");
        let first = mark(true, false, -10.0, &["VP"]);
        tally.add(&first, 1);
        // Scored again: the old mark out, the new one in.
        let second = mark(true, true, 5.0, &[]);
        tally.add(&first, -1);
        tally.add(&second, 1);
        tally.add(&mark(false, true, 15.0, &["Pricing", "VP"]), 1);
        let report = report(&tally, 0);
        assert_eq!(
            (
                &report["leads"],
                &report["mql_both"],
                &report["mql_live_only"],
                &report["mql_shadow_only"]
            ),
            (&json!(2), &json!(1), &json!(0), &json!(1))
        );
        assert_eq!(report["mean_score_change"], json!(10));
        let rules: Vec<&str> = report["rules"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|r| r["rule"].as_str())
            .collect();
        assert_eq!(rules, ["Pricing", "VP"]);
    }
}
