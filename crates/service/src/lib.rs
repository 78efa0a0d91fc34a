//! `leadscore serve`: leads scored the moment they act, MQLs handed to sales with a route
//! and an SLA, state in an embedded database (redb) in the data folder, or in PostgreSQL
//! shared by several instances.
//!
//! The files, bottom up, each with its one job: the crate's `README.md`.

pub mod apply;
pub mod cache;
pub mod commit;
pub mod config;
pub mod console;
pub mod copy;
pub mod deliver;
pub mod error;
pub mod export;
pub mod funnel;
pub mod http;
pub mod input;
pub mod judge;
pub mod lifecycle;
pub mod listener;
pub mod metrics;
pub mod model;
pub mod pack;
pub mod report;
pub mod schedule;
pub mod shadow;
pub mod storage;
pub mod webhook;
pub mod webhook_api;
// Targets in the pack (issue 27.3).
pub mod targets;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

pub use config::{ConfigError, Limits, Options, Settings};

use commit::{Committer, Writer};
use http::App;
use metrics::Metrics;
use pack::PackStatus;
use storage::{Location, Storage, StorageError};

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
    Store(#[from] StorageError),
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
    let location = match &settings.database_url {
        Some(url) => Location::Postgres(url.clone()),
        None => Location::Folder(settings.data.clone()),
    };
    let store = Arc::new(Storage::open(&location).await?);
    let metrics = Arc::new(Metrics::new());
    metrics.set_leads(store.read().await?.lead_count().await?);
    let pack_status = Arc::new(PackStatus::default());
    let reloaded = Arc::new(Notify::new());
    let live = Arc::new(pack::watch(&settings, &metrics, &pack_status, &reloaded)?);
    let shadow = settings.shadow.clone().map(|dir| {
        Arc::new(shadow::Shadow::start(
            dir,
            settings.plugins.clone(),
            Arc::clone(&reloaded),
        ))
    });
    let outbox = Arc::new(Notify::new());
    let (committer, writer) = Committer::start(Writer {
        store: Arc::clone(&store),
        live: Arc::clone(&live),
        limits: settings.limits.clone(),
        metrics: Arc::clone(&metrics),
        outbox: Arc::clone(&outbox),
        // One thread per core, with the stack plugins need.
        pool: leadscore::batch::Pool::new(leadscore::batch::cores()).ok(),
        fallback: i64::try_from(settings.reevaluate_every.as_millis()).unwrap_or(i64::MAX),
        shadow: shadow.clone(),
    })?;
    let mut tasks = Vec::new();
    let client = reqwest::Client::builder()
        .timeout(webhook::TIMEOUT)
        .build()
        .map_err(std::io::Error::other)?;
    // A webhook never seen starts at the current end of the outbox (issue 23), and of
    // the alert log (issue 27.3).
    for stream in [webhook::Stream::Transitions, webhook::Stream::Alerts] {
        let end = stream.last(&store.read().await?).await?;
        for url in &settings.webhooks {
            let op = webhook::Op::Start {
                url: stream.key(url),
                next: end + 1,
            };
            committer.webhook(op).await.map_err(std::io::Error::other)?;
        }
    }
    for url in &settings.webhooks {
        for stream in [webhook::Stream::Transitions, webhook::Stream::Alerts] {
            let sender = deliver::Sender {
                url: url.clone(),
                client: client.clone(),
                secret: settings.webhook_secret.clone(),
                store: Arc::clone(&store),
                committer: committer.clone(),
                metrics: Arc::clone(&metrics),
                outbox: Arc::clone(&outbox),
                stream,
            };
            tasks.push(tokio::spawn(sender.run()));
        }
    }
    tasks.push(tokio::spawn(
        judge::Judge {
            store: Arc::clone(&store),
            live: Arc::clone(&live),
            committer: committer.clone(),
            metrics: Arc::clone(&metrics),
            min_sample: settings.target_min_sample,
            every: settings.target_every,
        }
        .run(),
    ));
    let scheduler = schedule::Scheduler {
        store: Arc::clone(&store),
        committer: committer.clone(),
        reloaded,
    };
    tasks.push(tokio::spawn(scheduler.run()));
    tasks.push(tokio::spawn(pack::reload_on_hangup(Arc::clone(&live), shadow.clone())));

    let settings = Arc::new(settings);
    let tcp = tokio::net::TcpListener::bind(settings.listen).await?;
    let address = tcp.local_addr()?;
    let bounds = listener::Bounds {
        connections: listener::fit_connections(settings.limits.connections),
        header: settings.limits.header_timeout,
        idle: settings.limits.idle_timeout,
    };
    let app = Arc::new(App {
        store: Arc::clone(&store),
        live: Arc::clone(&live),
        committer,
        settings: Arc::clone(&settings),
        metrics,
        pack_status,
        parsers: Arc::new(tokio::sync::Semaphore::new(http::parsers())),
        shadow,
    });
    eprintln!(
        "leadscore serve: listening on http://{address} (pack {}, {location})",
        live.current().id(),
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        shutdown_signal().await;
        let _ = stop_tx.send(true);
    });
    let server = listener::serve(
        tcp,
        http::router(Arc::clone(&app), webhook_api::routes(), console::router(app)),
        bounds,
        stop_rx.clone(),
    );
    let mut deadline = stop_rx;
    tokio::select! {
        () = server => {}
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
