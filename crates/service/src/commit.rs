//! Group commit: one writer thread takes every write waiting in its queue, applies them
//! all in one transaction, commits it durably, and only then answers each request. Under
//! load many requests share one fsync; alone, a request waits for its own. The
//! scheduler's claims of due leads ride in the same transactions.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot, Notify};

use super::apply::{Applied, Batch, LeadView, Tally};
use super::cache::LeadCache;
use super::config::Limits;
use super::error::ApiError;
use super::input::Op;
use super::metrics::{Held, Metrics};
use super::model::now_millis;
use super::storage::{Storage, StorageError, StorageErrorKind, Txn};
use super::webhook;
use leadscore::LivePack;

/// Most requests in one transaction.
const MAX_BATCH: usize = 1_024;

/// Requests waiting for the writer; senders wait (asynchronously) when it is full.
const QUEUE: usize = 4_096;

/// What each write of a request did, and its leads after the transaction.
#[derive(Debug, Default)]
pub struct Reply {
    /// One entry per write, in order.
    pub items: Vec<Result<Applied, ApiError>>,
    /// The request's leads after the commit.
    pub leads: HashMap<String, LeadView>,
}

enum Command {
    Writes {
        items: Vec<(String, Op)>,
        reply: oneshot::Sender<Result<Reply, ApiError>>,
        /// Whether the reply lists the leads after the commit (`Reply::leads`).
        views: bool,
    },
    /// A webhook's delivery result or an operator's action on its stream.
    Webhook {
        op: webhook::Op,
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
    /// Erase a lead: its fields, events, ledger and due entry.
    Delete {
        lead: String,
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
    /// Store a small record, to learn whether writes can be stored again.
    Probe {
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
    /// Score again up to `limit` leads due by the transaction's time.
    Due {
        limit: usize,
        reply: oneshot::Sender<Result<usize, ApiError>>,
    },
    /// Score again the next `limit` leads the re-scoring with the live pack has not
    /// reached (storage and scale, issue 22).
    Rescore {
        limit: usize,
        reply: oneshot::Sender<Result<usize, ApiError>>,
    },
    /// Publish the targets whose status changed since their last alert (issue 27.3).
    Targets {
        evaluations: Vec<crate::model::Evaluation>,
        pack: String,
        at: i64,
        reply: oneshot::Sender<Result<usize, ApiError>>,
    },
}

impl Command {
    /// What kind of work it is, for the commit's metrics.
    fn held(&self) -> Held {
        match self {
            Command::Writes { .. } => Held::Writes,
            Command::Probe { .. } => Held::Probe,
            Command::Webhook { .. } => Held::Webhook,
            Command::Delete { .. } => Held::Erase,
            Command::Targets { .. } => Held::Targets,
            Command::Due { .. } => Held::Due,
            Command::Rescore { .. } => Held::Rescore,
        }
    }
}

/// The handle requests use to reach the writer. Cheap to clone.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Command>,
    /// Whether the last transaction was stored (false after the storage failed).
    ready: Arc<AtomicBool>,
}

/// What the writer needs.
pub struct Writer {
    /// The database.
    pub store: Arc<Storage>,
    /// The pack results are scored with.
    pub live: Arc<LivePack>,
    /// Bounds on leads.
    pub limits: Limits,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Woken after a commit that wrote transitions (the webhook senders wait on it).
    pub outbox: Arc<Notify>,
    /// Threads that score a batch's leads in parallel (`None`: on the writer thread).
    pub pool: Option<leadscore::batch::Pool>,
    /// The longest a lead goes without being scored again (`--reevaluate-every`, ms).
    pub fallback: i64,
    /// The shadow pack (`--shadow`), scoring every lead beside the live one.
    pub shadow: Option<Arc<super::shadow::Shadow>>,
}

impl Committer {
    /// Starts the writer thread. It ends when every `Committer` is dropped, after the
    /// requests already queued are committed.
    pub fn start(writer: Writer) -> std::io::Result<(Committer, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let ready = Arc::new(AtomicBool::new(true));
        let stored = Arc::clone(&ready);
        let thread = leadscore::batch::thread("leadscore-writer").spawn(move || writer.run(rx, &stored))?;
        Ok((Committer { tx, ready }, thread))
    }

    /// Applies writes (in order) in the next transaction; answers once it is durable.
    pub async fn write(&self, items: Vec<(String, Op)>) -> Result<Reply, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Writes {
            items,
            reply,
            views: true,
        })
        .await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Erases a lead in the next transaction (`not_found` if there is none); answers
    /// once that is durable.
    pub async fn delete(&self, lead: String) -> Result<(), ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Delete { lead, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Applies a webhook action in the next transaction; answers once it is durable.
    pub async fn webhook(&self, op: webhook::Op) -> Result<(), ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Webhook { op, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Scores again, in the next transaction, up to `limit` leads whose due time has
    /// come; how many there were.
    pub async fn due(&self, limit: usize) -> Result<usize, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Due { limit, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Scores again, in the next transaction, the next `limit` leads the re-scoring of
    /// every lead with the live pack has not reached (claimed through the storage, so
    /// several instances share the work); how many there were, 0 once it is done.
    pub async fn rescore(&self, limit: usize) -> Result<usize, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Rescore { limit, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Publishes, in the next transaction, an alert for each judged target whose status
    /// differs from the last one published (see `targets.rs`), judged at `at`; how many.
    pub async fn targets(
        &self,
        evaluations: Vec<crate::model::Evaluation>,
        pack: String,
        at: i64,
    ) -> Result<usize, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Targets {
            evaluations,
            pack,
            at,
            reply,
        })
        .await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Whether writes can be stored: true until a transaction fails for want of storage
    /// (a full disk, a lost database), then false until one is stored again. While it
    /// is false, this stores a small probe record to find out.
    pub async fn ready(&self) -> bool {
        if self.ready.load(Ordering::Relaxed) {
            return true;
        }
        let (reply, answer) = oneshot::channel();
        if self.send(Command::Probe { reply }).await.is_err() {
            return false;
        }
        matches!(answer.await, Ok(Ok(())))
    }

    async fn send(&self, command: Command) -> Result<(), ApiError> {
        self.tx.send(command).await.map_err(|_| stopped())
    }

    // Storage and scale (issue 22): a cheaper answer for bulk writes.

    /// [`Committer::write`] without the leads in the reply: what each write did only
    /// (`POST /v1/ingest?answer=counts`), so the writer copies no result out.
    pub async fn write_counts(&self, items: Vec<(String, Op)>) -> Result<Reply, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Writes {
            items,
            reply,
            views: false,
        })
        .await?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> ApiError {
    ApiError::unavailable("the service is shutting down; nothing was stored")
}

impl Writer {
    fn run(self, mut rx: mpsc::Receiver<Command>, ready: &AtomicBool) {
        let mut last = 0;
        // Leads as the last commits left them (storage and scale, issue 22).
        let mut cache = LeadCache::default();
        while let Some(first) = rx.blocking_recv() {
            let mut commands = vec![first];
            while commands.len() < MAX_BATCH {
                match rx.try_recv() {
                    Ok(c) => commands.push(c),
                    Err(_) => break,
                }
            }
            // Time never runs backwards for a lead, even if the clock does.
            last = now_millis().max(last);
            ready.store(self.commit(commands, last, &mut cache), Ordering::Relaxed);
        }
    }

    /// Commits the commands; whether the storage could store them (a write refused for
    /// its own reason does not count against it).
    fn commit(&self, commands: Vec<Command>, now: i64, cache: &mut LeadCache) -> bool {
        let started = std::time::Instant::now();
        let pack = self.live.current();
        let shadow = self.shadow.as_ref().and_then(|s| s.current());
        let outcome = self.store.write(|t| {
            let mut batch = Batch::new(&pack, &self.limits, now, self.fallback, self.pool.as_ref())
                .with_shadow(shadow.as_ref())
                .with_cache(&mut *cache);
            let done = apply_all(t, &mut batch, &commands, now)?;
            batch.finish(t)?;
            let views = commands
                .iter()
                .map(|c| match c {
                    Command::Writes { items, views: true, .. } => {
                        // A lead once, however many of the items write to it.
                        let mut views = HashMap::new();
                        for (lead, _) in items {
                            if !views.contains_key(lead) {
                                views.extend(batch.view(lead).map(|v| (lead.clone(), v)));
                            }
                        }
                        views
                    }
                    Command::Writes { views: false, .. }
                    | Command::Webhook { .. }
                    | Command::Probe { .. }
                    | Command::Delete { .. }
                    | Command::Due { .. }
                    | Command::Rescore { .. }
                    | Command::Targets { .. } => HashMap::new(),
                })
                .collect::<Vec<HashMap<String, LeadView>>>();
            let tally = std::mem::take(&mut batch.tally);
            Ok((done, views, tally, batch.into_cached()))
        });
        let held = commands.iter().map(Command::held).max().unwrap_or(Held::Writes);
        self.metrics.commit(commands.len(), held, started.elapsed());
        match outcome {
            Ok((done, views, tally, stored)) => {
                for (id, entry) in stored {
                    cache.put(id, entry);
                }
                self.answer(commands, done, views, tally);
                true
            }
            Err(e) => {
                eprintln!("leadscore serve: nothing stored: {e}");
                let storable = e.kind != StorageErrorKind::Unavailable;
                fail_all(commands, &e);
                storable
            }
        }
    }

    fn answer(
        &self,
        commands: Vec<Command>,
        done: Vec<Vec<Result<Applied, ApiError>>>,
        views: Vec<HashMap<String, LeadView>>,
        tally: Tally,
    ) {
        self.metrics.tally(&tally);
        if !tally.transitions.is_empty() {
            self.outbox.notify_waiters();
        }
        for ((command, items), leads) in commands.into_iter().zip(done).zip(views) {
            match command {
                Command::Writes { reply, .. } => {
                    let _ = reply.send(Ok(Reply { items, leads }));
                }
                Command::Probe { reply } => {
                    let _ = reply.send(Ok(()));
                }
                Command::Delete { reply, .. } | Command::Webhook { reply, .. } => {
                    let result = items.into_iter().next().unwrap_or_else(|| Ok(Applied::default()));
                    let _ = reply.send(result.map(|_| ()));
                }
                Command::Due { reply, .. } => {
                    let _ = reply.send(Ok(items.len()));
                }
                Command::Rescore { reply, .. } => {
                    self.metrics.rescored(items.len());
                    let _ = reply.send(Ok(items.len()));
                }
                Command::Targets { reply, .. } => {
                    let _ = reply.send(Ok(items.len()));
                }
            }
        }
    }
}

/// What a command did: per write its result; for a due claim, one entry per lead claimed.
type Done = Vec<Vec<Result<Applied, ApiError>>>;

/// Locks every lead the commands name, then applies them in order.
fn apply_all(t: &mut dyn Txn, batch: &mut Batch<'_>, commands: &[Command], now: i64) -> Result<Done, StorageError> {
    let mut named: Vec<&str> = commands
        .iter()
        .flat_map(|c| match c {
            Command::Writes { items, .. } => items.iter().map(|(lead, _)| lead.as_str()).collect(),
            Command::Delete { lead, .. } => vec![lead.as_str()],
            _ => Vec::new(),
        })
        .collect();
    named.sort_unstable();
    named.dedup();
    t.expect_event_ids(&event_ids(commands));
    t.lock_leads(&named)?;
    let mut done = Vec::with_capacity(commands.len());
    for command in commands {
        match command {
            Command::Writes { items, .. } => {
                let mut results = Vec::with_capacity(items.len());
                for (lead, op) in items {
                    results.push(batch.apply(t, lead, op)?);
                }
                done.push(results);
            }
            Command::Webhook { op, .. } => done.push(vec![op.apply(t)?.map(|()| Applied::default())]),
            Command::Probe { .. } => {
                t.probe(now)?;
                done.push(Vec::new());
            }
            Command::Delete { lead, .. } => done.push(vec![batch.delete(t, lead)?]),
            Command::Due { limit, .. } => {
                let ids = t.due_leads(now, *limit)?;
                batch.evaluate_due(t, &ids)?;
                done.push(ids.iter().map(|_| Ok(Applied::default())).collect());
            }
            Command::Rescore { limit, .. } => {
                let claimed = batch.rescore(t, *limit)?;
                done.push((0..claimed).map(|_| Ok(Applied::default())).collect());
            }
            Command::Targets {
                evaluations, pack, at, ..
            } => {
                let published = super::targets::publish(t, evaluations, pack, *at)?;
                done.push((0..published).map(|_| Ok(Applied::default())).collect());
            }
        }
    }
    Ok(done)
}

/// Storage and scale (issue 22): the (lead, event id) pairs the commands' events carry,
/// which the batch will look up (see [`Txn::expect_event_ids`]).
fn event_ids(commands: &[Command]) -> Vec<(&str, &str)> {
    let mut ids = Vec::new();
    for command in commands {
        if let Command::Writes { items, .. } = command {
            for (lead, op) in items {
                if let Op::Events(events) = op {
                    ids.extend(events.iter().filter_map(|e| Some((lead.as_str(), e.id.as_deref()?))));
                }
            }
        }
    }
    ids
}

fn fail_all(commands: Vec<Command>, e: &StorageError) {
    let error = ApiError::unavailable(format!("nothing was stored: {e}"));
    for command in commands {
        match command {
            Command::Writes { reply, .. } => {
                let _ = reply.send(Err(error.clone()));
            }
            Command::Webhook { reply, .. } | Command::Probe { reply } | Command::Delete { reply, .. } => {
                let _ = reply.send(Err(error.clone()));
            }
            Command::Due { reply, .. } | Command::Rescore { reply, .. } | Command::Targets { reply, .. } => {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
