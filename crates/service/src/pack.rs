//! The live pack of the service: only published versions go live (a link flipped or a
//! folder renamed into place, `POST /v1/pack/reload`, `SIGHUP`), never an edit of the
//! live folder's files caught half-way. Every reload or rejection is counted, logged and
//! remembered for `GET /v1/pack`, with the rules and routes a new version dropped.

use std::sync::{Arc, Mutex};

use serde::Serialize;
use tokio::sync::Notify;

use super::config::{Settings, RELOAD_WAIT};
use super::metrics::Metrics;
use super::model::now_millis;
use leadscore::reload::{Rejection, ReloadEvent, WatchOptions};
use leadscore::{LivePack, Pack};

/// What a new version no longer has that the one before it had.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Removed {
    /// The version it replaced (`name@version`).
    pub from: String,
    /// The version that dropped them.
    pub to: String,
    /// Rules (by name) the previous version had and this one does not.
    pub rules: Vec<String>,
    /// Routes (by queue) the previous version had and this one does not.
    pub routes: Vec<String>,
}

impl Removed {
    /// What `new` dropped of `old`.
    pub fn between(old: &Pack, new: &Pack) -> Removed {
        let rules = |p: &Pack| p.program().rules().into_iter().map(|r| r.name).collect::<Vec<_>>();
        let routes = |p: &Pack| {
            p.program()
                .route_names()
                .into_iter()
                .map(str::to_string)
                .collect::<Vec<_>>()
        };
        Removed {
            from: old.id().to_string(),
            to: new.id().to_string(),
            rules: missing(&rules(old), &rules(new)),
            routes: missing(&routes(old), &routes(new)),
        }
    }

    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.routes.is_empty()
    }
}

/// The names in `old` that are not in `new`, in `old`'s order, each once.
fn missing(old: &[String], new: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for name in old {
        if !new.contains(name) && !out.contains(name) {
            out.push(name.clone());
        }
    }
    out
}

/// The pack's reload history, for `GET /v1/pack`.
#[derive(Default)]
pub struct PackStatus {
    /// When the live version was loaded (ms).
    pub loaded_at: Mutex<i64>,
    /// The last rejected version and when (ms).
    pub rejection: Mutex<Option<(i64, Rejection)>>,
    /// What the last reload removed (`None` until a reload removed something).
    pub removed: Mutex<Option<Removed>>,
    /// The version live before the last reload, to compare the next one with.
    previous: Mutex<Option<Pack>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl PackStatus {
    /// The last rejection.
    pub fn rejection(&self) -> Option<(i64, Rejection)> {
        lock(&self.rejection).clone()
    }

    /// What the last reload that removed anything removed.
    pub fn removed(&self) -> Option<Removed> {
        lock(&self.removed).clone()
    }

    /// When the live version went live (ms).
    pub fn loaded_at(&self) -> i64 {
        *lock(&self.loaded_at)
    }

    /// Counts, logs and remembers one rebuild's outcome.
    fn record(&self, event: &ReloadEvent, metrics: &Metrics) {
        match event {
            ReloadEvent::Reloaded { pack, previous } => {
                metrics.reload(true);
                *lock(&self.loaded_at) = now_millis();
                let before = lock(&self.previous).replace(pack.clone());
                let removed = before.map(|old| Removed::between(&old, pack)).unwrap_or_default();
                eprintln!(
                    "leadscore serve: pack reloaded: {previous} → {}{}",
                    pack.id(),
                    describe(&removed)
                );
                if !removed.is_empty() {
                    *lock(&self.removed) = Some(removed);
                }
            }
            ReloadEvent::Rejected(rejection) => {
                metrics.reload(false);
                eprintln!(
                    "leadscore serve: published pack rejected, {} stays live:\n{}",
                    rejection.live, rejection.rendered
                );
                *lock(&self.rejection) = Some((now_millis(), rejection.clone()));
            }
            ReloadEvent::Unchanged { live } => {
                eprintln!("leadscore serve: pack reload: no change, {live} stays live");
            }
            ReloadEvent::WatchError { message } => eprintln!("leadscore serve: pack watch: {message}"),
            #[allow(unreachable_patterns, reason = "`ReloadEvent` is non-exhaustive outside the core")]
            _ => {}
        }
    }
}

/// `; removed rules: "a", "b"; removed routes: "east"` (nothing when nothing was removed).
fn describe(removed: &Removed) -> String {
    let list = |names: &[String]| names.iter().map(|n| format!("{n:?}")).collect::<Vec<_>>().join(", ");
    let mut out = String::new();
    if !removed.rules.is_empty() {
        out.push_str(&format!("; removed rules: {}", list(&removed.rules)));
    }
    if !removed.routes.is_empty() {
        out.push_str(&format!("; removed routes: {}", list(&removed.routes)));
    }
    out
}

/// How long the pack watcher lets file events settle (storage and scale, issue 22). A
/// publish is one link flip or rename, so the core's 50 ms (for editors' saves) buys
/// nothing here; its debouncer wakes four times per period even when nothing happens,
/// which was most of an idle service's CPU (see BENCHMARKS.md, "Issue 22"). A published
/// version goes live about 0.6 s after the flip instead of 60 ms.
const WATCH_DEBOUNCE: std::time::Duration = std::time::Duration::from_millis(500);

/// Loads the pack and follows its published versions; a reload wakes the scheduler to
/// re-evaluate every lead.
pub fn watch(
    settings: &Settings,
    metrics: &Arc<Metrics>,
    status: &Arc<PackStatus>,
    reloaded: &Arc<Notify>,
) -> Result<LivePack, leadscore::Error> {
    let loader = if settings.plugins.is_empty() {
        leadscore::Loader::new()
    } else {
        leadscore::Loader::new().plugin_path(settings.plugins.clone())
    };
    let (metrics, on_status, reloaded) = (Arc::clone(metrics), Arc::clone(status), Arc::clone(reloaded));
    let live = LivePack::watch_with(
        &settings.pack,
        loader,
        WatchOptions::new().published_only().debounce(WATCH_DEBOUNCE),
        move |event| {
            on_status.record(&event, &metrics);
            if matches!(event, ReloadEvent::Reloaded { .. }) {
                reloaded.notify_one();
            }
        },
    )?;
    *lock(&status.previous) = Some(Pack::clone(&live.current()));
    *lock(&status.loaded_at) = now_millis();
    Ok(live)
}

/// Reloads the pack from its folder as it is now, off the async workers.
pub async fn reload(live: &Arc<LivePack>) -> Result<ReloadEvent, leadscore::Error> {
    let live = Arc::clone(live);
    match tokio::task::spawn_blocking(move || live.reload(RELOAD_WAIT)).await {
        Ok(outcome) => outcome,
        Err(e) => Err(leadscore::Error::Watch {
            path: std::path::PathBuf::new(),
            message: e.to_string(),
        }),
    }
}

/// Reloads on every `SIGHUP`, and the shadow pack too when there is one (each outcome is
/// logged like any reload).
pub async fn reload_on_hangup(live: Arc<LivePack>, shadow: Option<Arc<super::shadow::Shadow>>) {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let Ok(mut hangup) = signal(SignalKind::hangup()) else {
            eprintln!("leadscore serve: cannot listen for SIGHUP; reload with POST /v1/pack/reload");
            return;
        };
        while hangup.recv().await.is_some() {
            if let Err(e) = reload(&live).await {
                eprintln!("leadscore serve: SIGHUP reload failed: {e}");
            }
            if let Some(shadow) = &shadow {
                if let super::shadow::Reload::Failed(e) = shadow.reload().await {
                    eprintln!("leadscore serve: SIGHUP reload of the shadow pack failed: {e}");
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = (live, shadow);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_names_the_rules_and_routes_a_version_dropped() -> Result<(), leadscore::Error> {
        let old = Pack::from_source(
            "p",
            "threshold 10\nrule \"A\": title ~ VP => +5\nrule \"B\": title ~ CEO => +9\nroute \"east\" when region in [\"NY\"]\nroute \"rest\"",
        )?;
        let new = Pack::from_source("p", "threshold 10\nrule \"B\": title ~ CEO => +9\nroute \"rest\"")?;
        let removed = Removed::between(&old, &new);
        assert_eq!(
            (removed.rules.as_slice(), removed.routes.as_slice()),
            (&["A".to_string()][..], &["east".to_string()][..])
        );
        assert_eq!(describe(&removed), "; removed rules: \"A\"; removed routes: \"east\"");
        assert!(Removed::between(&new, &old).is_empty());
        Ok(())
    }
}
