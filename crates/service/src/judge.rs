//! The targets' scheduler (issue 27.3): every `--target-every` it judges the live pack's
//! targets ([`super::targets`]), sets the `leadscore_target_status` gauges, and when a
//! target's status differs from the last one published, has the writer publish it
//! ([`Committer::targets`], which calls [`super::targets::publish`] in its transaction).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use leadscore::LivePack;

use super::commit::Committer;
use super::metrics::Metrics;
use super::model::{now_millis, TargetStatus};
use super::storage::Storage;
use super::targets::{change, read_evaluations};

/// The targets' scheduler: judges the live pack's targets every `every`.
pub struct Judge {
    /// The database (hand-offs, the states published).
    pub store: Arc<Storage>,
    /// The live pack, whose targets are judged.
    pub live: Arc<LivePack>,
    /// Where alerts are published.
    pub committer: Committer,
    /// The gauges.
    pub metrics: Arc<Metrics>,
    /// The fewest hand-offs in a divisor.
    pub min_sample: u64,
    /// How often.
    pub every: Duration,
}

impl Judge {
    /// Runs until the task is aborted at shutdown.
    pub async fn run(self) {
        loop {
            if let Err(e) = self.judge().await {
                eprintln!("targets: {e}");
            }
            tokio::time::sleep(self.every).await;
        }
    }

    /// Judges the targets once; publishes what changed.
    async fn judge(&self) -> Result<(), String> {
        let pack = self.live.current();
        let targets = pack.program().targets();
        if targets.is_empty() {
            self.metrics.set_targets(&[]);
            return Ok(());
        }
        let now = now_millis();
        let read = self.store.read().await.map_err(|e| e.to_string())?;
        let evaluations = read_evaluations(&read, targets, now, self.min_sample)
            .await
            .map_err(|e| format!("the hand-offs cannot be read: {e}"))?;
        self.metrics.set_targets(&evaluations);
        let stored: HashMap<String, TargetStatus> = read
            .target_states()
            .await
            .map_err(|e| format!("the published states cannot be read: {e}"))?
            .into_iter()
            .map(|s| (s.name, s.status))
            .collect();
        drop(read);
        // The writer is asked only when something may have changed: an idle service
        // whose targets stand as published writes nothing.
        if evaluations
            .iter()
            .all(|e| change(stored.get(&e.name).copied(), e.status).is_none())
        {
            return Ok(());
        }
        self.committer
            .targets(evaluations, pack.id().to_string(), now)
            .await
            .map(|_| ())
            .map_err(|e| format!("alerts not published: {}", e.message))
    }
}
