//! Re-evaluation without new data: scores change with time (windows expire, decay,
//! `not visited ... within`, `as_of()` in plugins), and with the pack. Each stored lead
//! carries `due`, the next time its result may change without new data (for now: its
//! pending SLA, or `--reevaluate-every` after its result, whichever is first), in an
//! index; every second the scheduler has the writer claim the leads due by now and score
//! them again (in Postgres each due lead is claimed by one instance). A lead that is not
//! due is not touched, however many leads there are. Every lead is scored again at start
//! and after every pack reload that went live, a chunk per transaction so writes go on
//! in between. The transitions that follow are written like any other.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::commit::Committer;
use super::input::Op;
use super::storage::Storage;

/// Leads per transaction in a sweep or a due claim: small enough not to hold back
/// other writes.
const CHUNK: usize = 256;
/// How often the due index is looked at.
const TICK: Duration = Duration::from_secs(1);

/// The scheduler's inputs.
pub struct Scheduler {
    /// The database (lead ids for a sweep).
    pub store: Arc<Storage>,
    /// Where re-evaluations are written.
    pub committer: Committer,
    /// Woken when a pack edit went live.
    pub reloaded: Arc<Notify>,
}

impl Scheduler {
    /// Runs until the task is aborted at shutdown.
    pub async fn run(self) {
        let mut sweep = true;
        loop {
            if std::mem::take(&mut sweep) {
                self.sweep().await;
            }
            self.due().await;
            let reloaded = self.reloaded.notified();
            tokio::select! {
                _ = reloaded => sweep = true,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// Every lead, in id order, a chunk per transaction.
    async fn sweep(&self) {
        let mut after: Option<String> = None;
        loop {
            let ids = match self.store.read().await {
                Ok(r) => r.lead_ids(after.as_deref(), CHUNK).await,
                Err(e) => Err(e),
            };
            let ids = match ids {
                Ok(ids) => ids,
                Err(e) => return eprintln!("re-evaluation: cannot list leads: {e}"),
            };
            let Some(last) = ids.last().cloned() else { return };
            let items = ids.into_iter().map(|id| (id, Op::Evaluate)).collect();
            if let Err(e) = self.committer.write(items).await {
                return eprintln!("re-evaluation stopped: {e}");
            }
            after = Some(last);
        }
    }

    /// The leads due by now, a chunk per transaction, until none is left. The index is
    /// read first, so an idle service writes nothing.
    async fn due(&self) {
        let now = super::commit::now_millis();
        let due = match self.store.read().await {
            Ok(r) => r.due_leads(now, 1).await,
            Err(e) => Err(e),
        };
        match due {
            Ok(ids) if ids.is_empty() => return,
            Ok(_) => {}
            Err(e) => return eprintln!("re-evaluation: cannot read the due index: {e}"),
        }
        loop {
            match self.committer.due(CHUNK).await {
                Ok(n) if n == CHUNK => continue,
                Ok(_) => return,
                Err(e) => return eprintln!("re-evaluation of due leads: {e}"),
            }
        }
    }
}
