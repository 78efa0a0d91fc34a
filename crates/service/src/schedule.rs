//! Re-evaluation without new data: scores change with time (windows expire, decay,
//! `not visited ... within`, `as_of()` in plugins), and with the pack. Each stored lead
//! carries `due`, the next time its result may change without new data (the core's
//! prediction of its next change, `--reevaluate-every` after its result for what cannot
//! be predicted, its pending SLA, the end of a cool-down), in an index; every second the
//! scheduler has the writer claim the leads due by now and score them again (in Postgres
//! each due lead is claimed by one instance). A lead that is not due is not touched,
//! however many leads there are, and a lead that only new data can change is never due.
//!
//! Every lead is scored again once per pack: at start and after a reload, the scheduler
//! claims chunks of the re-scoring with the live pack through the storage, which records
//! how far it got for which pack. Instances on one database share the chunks, a restart
//! with the same pack finds it done, and writes go on between the chunks. The
//! transitions that follow are written like any other.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::commit::Committer;
use super::storage::Storage;

/// Leads per transaction in a sweep or a due claim: small enough not to hold back
/// other writes.
const CHUNK: usize = 256;
/// How often the due index is looked at.
const TICK: Duration = Duration::from_secs(1);

/// The scheduler's inputs.
pub struct Scheduler {
    /// The database (the due index, read before a claim).
    pub store: Arc<Storage>,
    /// Where re-evaluations are written.
    pub committer: Committer,
    /// Woken when a pack edit went live.
    pub reloaded: Arc<Notify>,
}

impl Scheduler {
    /// Runs until the task is aborted at shutdown.
    pub async fn run(self) {
        let mut rescore = true;
        loop {
            if std::mem::take(&mut rescore) {
                self.rescore().await;
            }
            self.due().await;
            let reloaded = self.reloaded.notified();
            tokio::select! {
                _ = reloaded => rescore = true,
                _ = tokio::time::sleep(TICK) => {}
            }
        }
    }

    /// The re-scoring of every lead with the live pack, a chunk per transaction, until
    /// the storage says it is done (by this instance or another).
    async fn rescore(&self) {
        loop {
            match self.committer.rescore(CHUNK).await {
                Ok(0) => return,
                Ok(_) => {}
                Err(e) => return eprintln!("re-evaluation after a pack change stopped: {e}"),
            }
        }
    }

    /// The leads due by now, a chunk per transaction, until none is left. The index is
    /// read first, so an idle service writes nothing.
    async fn due(&self) {
        let now = super::model::now_millis();
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
