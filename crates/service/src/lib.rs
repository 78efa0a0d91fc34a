//! `leadscore serve`: leads scored the moment they act, MQLs handed to sales with a route
//! and an SLA, state in an embedded database (redb) in the data folder.
//!
//! | file | one job |
//! |---|---|
//! | `config.rs` | options as given → checked settings; limits and their defaults |
//! | `lifecycle.rs` | stages, hand-off, SLA breach, cool-down: pure functions |
//! | `model.rs` | what is stored: lead records, transitions, history, cursors |
//! | `store.rs` | the only owner of the database and its transactions |
//! | `input.rs` | checking ids, fields, events and ingest lines before anything is stored |
//! | `apply.rs` | one batch of writes: apply, score, lifecycle, outbox, in one transaction |
//! | `commit.rs` | group commit: the writer thread, acknowledging after the commit is durable |
//! | `schedule.rs` | re-evaluation on an interval, on reload, and when SLAs fall due |
//! | `webhook.rs` | pushing the outbox: in order, at least once, signed, with stored backoff |
//! | `http.rs` | the API: parse, call the core, render |
//! | `listener.rs` | accepting connections, at most `--max-connections` |
//! | `metrics.rs` | Prometheus metrics |
//! | `error.rs` | `ApiError`: status, kind, message |

pub mod apply;
pub mod commit;
pub mod config;
pub mod error;
pub mod http;
pub mod input;
pub mod lifecycle;
pub mod listener;
pub mod metrics;
pub mod model;
pub mod schedule;
pub mod store;
pub mod webhook;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

pub use config::{ConfigError, Limits, Options, Settings};

use commit::{now_millis, Committer, Writer};
use http::{App, PackStatus};
use metrics::Metrics;
use store::{Store, StoreError};

/// How long shutdown waits for requests in flight before it stops anyway.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A setting cannot be used.
    #[error("error: {0}")]
    Config(#[from] ConfigError),
    /// The pack does not load (render it for the user).
    #[error("{0}")]
    Pack(#[from] leadscore::Error),
    /// The database cannot be opened or read.
    #[error("error: {0}")]
    Store(#[from] StoreError),
    /// Listening, threads, signals.
    #[error("error: {0}")]
    Io(#[from] std::io::Error),
}

/// Runs the service until SIGTERM or Ctrl-C, then stops accepting, finishes the requests
/// in flight (up to [`SHUTDOWN_GRACE`]), commits what was acknowledged, and returns.
pub fn run(settings: Settings) -> Result<(), ServeError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        // Scoring with plugins recurses (see `PLUGIN_STACK_SIZE`); `/v1/score` runs on these.
        .thread_stack_size(leadscore::PLUGIN_STACK_SIZE)
        .thread_name("leadscore-http")
        .build()?;
    runtime.block_on(serve(settings))
}

async fn serve(settings: Settings) -> Result<(), ServeError> {
    let store = Arc::new(Store::open(&settings.data)?);
    let metrics = Arc::new(Metrics::new());
    metrics.set_leads(store.read()?.lead_count()?);
    let pack_status = Arc::new(PackStatus::default());
    *pack_status.loaded_at.lock().unwrap_or_else(|e| e.into_inner()) = now_millis();
    let reloaded = Arc::new(Notify::new());
    let live = Arc::new(watch_pack(&settings, &metrics, &pack_status, &reloaded)?);
    let outbox = Arc::new(Notify::new());
    let (committer, writer) = Committer::start(Writer {
        store: Arc::clone(&store),
        live: Arc::clone(&live),
        limits: settings.limits.clone(),
        metrics: Arc::clone(&metrics),
        outbox: Arc::clone(&outbox),
        // One thread per core, with the stack plugins need.
        pool: rayon::ThreadPoolBuilder::new()
            .thread_name(|i| format!("leadscore-score-{i}"))
            .stack_size(leadscore::PLUGIN_STACK_SIZE)
            .build()
            .ok(),
    })?;
    let mut tasks = Vec::new();
    let client = reqwest::Client::builder()
        .timeout(webhook::TIMEOUT)
        .build()
        .map_err(std::io::Error::other)?;
    for url in &settings.webhooks {
        let sender = webhook::Sender {
            url: url.clone(),
            client: client.clone(),
            secret: settings.webhook_secret.clone(),
            store: Arc::clone(&store),
            committer: committer.clone(),
            metrics: Arc::clone(&metrics),
            outbox: Arc::clone(&outbox),
        };
        tasks.push(tokio::spawn(sender.run()));
    }
    let scheduler = schedule::Scheduler {
        store: Arc::clone(&store),
        committer: committer.clone(),
        every: settings.reevaluate_every,
        reloaded,
    };
    tasks.push(tokio::spawn(scheduler.run()));

    let settings = Arc::new(settings);
    let tcp = tokio::net::TcpListener::bind(settings.listen).await?;
    let address = tcp.local_addr()?;
    let listener = listener::Bounded::new(tcp, settings.limits.connections);
    let app = Arc::new(App {
        store: Arc::clone(&store),
        live: Arc::clone(&live),
        committer,
        settings: Arc::clone(&settings),
        metrics,
        pack_status,
    });
    eprintln!(
        "leadscore serve: listening on http://{address} (pack {}, data {})",
        live.current().id(),
        settings.data.display()
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let mut graceful = stop_rx.clone();
    let server = axum::serve(listener, http::router(app)).with_graceful_shutdown(async move {
        let _ = graceful.wait_for(|stop| *stop).await;
    });
    let mut deadline = stop_rx;
    tokio::select! {
        served = server => served?,
        _ = async move {
            let _ = deadline.wait_for(|stop| *stop).await;
            tokio::time::sleep(SHUTDOWN_GRACE).await;
        } => eprintln!("leadscore serve: requests still open after {}s; stopping anyway", SHUTDOWN_GRACE.as_secs()),
    }
    for task in &tasks {
        task.abort();
    }
    for task in tasks {
        let _ = task.await;
    }
    // Every `Committer` is gone now: the writer commits what is queued and ends.
    let _ = tokio::task::spawn_blocking(move || writer.join()).await;
    eprintln!("leadscore serve: stopped");
    Ok(())
}

/// The live pack; every reload or rejection is counted, remembered for `/v1/pack`, and
/// a reload wakes the scheduler to re-evaluate every lead.
fn watch_pack(
    settings: &Settings,
    metrics: &Arc<Metrics>,
    status: &Arc<PackStatus>,
    reloaded: &Arc<Notify>,
) -> Result<leadscore::LivePack, leadscore::Error> {
    let loader = if settings.plugins.is_empty() {
        leadscore::Loader::new()
    } else {
        leadscore::Loader::new().plugin_path(settings.plugins.clone())
    };
    let (metrics, status, reloaded) = (Arc::clone(metrics), Arc::clone(status), Arc::clone(reloaded));
    leadscore::LivePack::watch_with(
        &settings.pack,
        loader,
        leadscore::reload::WatchOptions::new(),
        move |event| match event {
            leadscore::reload::ReloadEvent::Reloaded { pack, previous } => {
                metrics.reload(true);
                *status.loaded_at.lock().unwrap_or_else(|e| e.into_inner()) = now_millis();
                eprintln!("leadscore serve: pack reloaded: {previous} → {}", pack.id());
                reloaded.notify_one();
            }
            leadscore::reload::ReloadEvent::Rejected(rejection) => {
                metrics.reload(false);
                eprintln!(
                    "leadscore serve: pack edit rejected, {} stays live:\n{}",
                    rejection.live, rejection.rendered
                );
                *status.rejection.lock().unwrap_or_else(|e| e.into_inner()) = Some((now_millis(), rejection));
            }
            _ => {}
        },
    )
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = ctrl_c.await;
                return;
            }
        };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}
