//! Group commit: one writer thread takes every write waiting in its queue, applies them
//! all in one transaction, commits it durably, and only then answers each request. Under
//! load many requests share one fsync; alone, a request waits for its own.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;

use tokio::sync::{mpsc, oneshot, Notify};

use super::apply::{Applied, Batch, LeadView, Tally};
use super::config::Limits;
use super::error::ApiError;
use super::input::Op;
use super::metrics::Metrics;
use super::model::Cursor;
use super::store::{Store, StoreError};
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
    },
    Cursor {
        url: String,
        cursor: Cursor,
        reply: oneshot::Sender<Result<(), ApiError>>,
    },
}

/// The handle requests use to reach the writer. Cheap to clone.
#[derive(Clone)]
pub struct Committer {
    tx: mpsc::Sender<Command>,
}

/// What the writer needs.
pub struct Writer {
    /// The database.
    pub store: Arc<Store>,
    /// The pack results are scored with.
    pub live: Arc<LivePack>,
    /// Bounds on leads.
    pub limits: Limits,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Woken after a commit that wrote transitions (the webhook senders wait on it).
    pub outbox: Arc<Notify>,
    /// Threads that score a batch's leads in parallel (`None`: on the writer thread).
    pub pool: Option<rayon::ThreadPool>,
}

impl Committer {
    /// Starts the writer thread. It ends when every `Committer` is dropped, after the
    /// requests already queued are committed.
    pub fn start(writer: Writer) -> std::io::Result<(Committer, JoinHandle<()>)> {
        let (tx, rx) = mpsc::channel(QUEUE);
        let thread = std::thread::Builder::new()
            .name("leadscore-writer".into())
            .stack_size(leadscore::PLUGIN_STACK_SIZE)
            .spawn(move || writer.run(rx))?;
        Ok((Committer { tx }, thread))
    }

    /// Applies writes (in order) in the next transaction; answers once it is durable.
    pub async fn write(&self, items: Vec<(String, Op)>) -> Result<Reply, ApiError> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Writes { items, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    /// Stores a webhook's cursor in the next transaction.
    pub async fn cursor(&self, url: &str, cursor: Cursor) -> Result<(), ApiError> {
        let (reply, answer) = oneshot::channel();
        let url = url.to_string();
        self.send(Command::Cursor { url, cursor, reply }).await?;
        answer.await.map_err(|_| stopped())?
    }

    async fn send(&self, command: Command) -> Result<(), ApiError> {
        self.tx.send(command).await.map_err(|_| stopped())
    }
}

fn stopped() -> ApiError {
    ApiError::unavailable("the service is shutting down; nothing was stored")
}

/// The time now in ms.
pub fn now_millis() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl Writer {
    fn run(self, mut rx: mpsc::Receiver<Command>) {
        let mut last = 0;
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
            self.commit(commands, last);
        }
    }

    fn commit(&self, commands: Vec<Command>, now: i64) {
        let started = std::time::Instant::now();
        let pack = self.live.current();
        let outcome = self.store.write(|t| {
            let mut batch = Batch::new(t, &pack, &self.limits, now, self.pool.as_ref())?;
            let mut done: Vec<Vec<Result<Applied, ApiError>>> = Vec::with_capacity(commands.len());
            for command in &commands {
                match command {
                    Command::Writes { items, .. } => {
                        let mut results = Vec::with_capacity(items.len());
                        for (lead, op) in items {
                            results.push(batch.apply(t, lead, op)?);
                        }
                        done.push(results);
                    }
                    Command::Cursor { url, cursor, .. } => {
                        t.put_cursor(url, cursor)?;
                        done.push(Vec::new());
                    }
                }
            }
            batch.finish(t)?;
            let views = commands
                .iter()
                .zip(&done)
                .map(|(c, _)| match c {
                    Command::Writes { items, .. } => items
                        .iter()
                        .filter_map(|(lead, _)| Some((lead.clone(), batch.view(lead)?)))
                        .collect(),
                    Command::Cursor { .. } => HashMap::new(),
                })
                .collect::<Vec<HashMap<String, LeadView>>>();
            Ok((done, views, std::mem::take(&mut batch.tally)))
        });
        self.metrics.commit(commands.len(), started.elapsed());
        match outcome {
            Ok((done, views, tally)) => self.answer(commands, done, views, tally),
            Err(e) => fail_all(commands, &e),
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
                Command::Cursor { reply, .. } => {
                    let _ = reply.send(Ok(()));
                }
            }
        }
    }
}

fn fail_all(commands: Vec<Command>, e: &StoreError) {
    let error = ApiError::unavailable(format!("nothing was stored: {e}"));
    for command in commands {
        match command {
            Command::Writes { reply, .. } => {
                let _ = reply.send(Err(error.clone()));
            }
            Command::Cursor { reply, .. } => {
                let _ = reply.send(Err(error.clone()));
            }
        }
    }
}
