//! Re-evaluation without new data: scores change with time (windows expire, decay,
//! `not visited ... within`, `as_of()` in plugins), and with the pack. Every lead is scored
//! again at start, every `--reevaluate-every` (default 60 s), and after every pack reload
//! that went live; MQLs whose SLA is due are evaluated within a second of it. The
//! transitions that follow are written like any other.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::commit::{now_millis, Committer};
use super::input::Op;
use super::store::Store;

/// Leads per transaction in a sweep: small enough not to hold back other writes.
const CHUNK: usize = 256;
/// How often pending SLAs are looked at.
const SLA_TICK: Duration = Duration::from_secs(1);

/// The scheduler's inputs.
pub struct Scheduler {
    /// The database (lead ids, the SLA index).
    pub store: Arc<Store>,
    /// Where re-evaluations are written.
    pub committer: Committer,
    /// The sweep interval.
    pub every: Duration,
    /// Woken when a pack edit went live.
    pub reloaded: Arc<Notify>,
}

impl Scheduler {
    /// Runs until the task is aborted at shutdown.
    pub async fn run(self) {
        let mut next_sweep = Instant::now();
        loop {
            if Instant::now() >= next_sweep {
                next_sweep = Instant::now() + self.every;
                self.sweep().await;
            }
            self.due_slas().await;
            let reloaded = self.reloaded.notified();
            tokio::select! {
                _ = reloaded => next_sweep = Instant::now(),
                _ = tokio::time::sleep(SLA_TICK) => {}
            }
        }
    }

    /// Every lead, in id order, a chunk per transaction.
    async fn sweep(&self) {
        let mut after: Option<String> = None;
        loop {
            let ids = match self.store.read().and_then(|r| r.lead_ids(after.as_deref(), CHUNK)) {
                Ok(ids) => ids,
                Err(e) => return eprintln!("re-evaluation: cannot list leads: {e}"),
            };
            let Some(last) = ids.last().cloned() else { return };
            if let Err(e) = self.evaluate(ids).await {
                return eprintln!("re-evaluation stopped: {e}");
            }
            after = Some(last);
        }
    }

    async fn due_slas(&self) {
        let due = self.store.read().and_then(|r| r.sla_due_by(now_millis(), CHUNK));
        match due {
            Ok(ids) if ids.is_empty() => {}
            Ok(ids) => {
                if let Err(e) = self.evaluate(ids).await {
                    eprintln!("SLA check: {e}");
                }
            }
            Err(e) => eprintln!("SLA check: cannot read the SLA index: {e}"),
        }
    }

    async fn evaluate(&self, ids: Vec<String>) -> Result<(), super::error::ApiError> {
        let items = ids.into_iter().map(|id| (id, Op::Evaluate)).collect();
        self.committer.write(items).await.map(|_| ())
    }
}
