//! Accepting and serving connections (HTTP/1.1, hyper) so that no client can hold the
//! service: at most `--max-connections` open at once, and when they are all taken a new
//! connection closes the one idle the longest (a connection is idle while no request of
//! it is being answered, so a socket that never finishes its headers counts as idle);
//! the headers of a request must arrive within `--header-timeout`, and a connection with
//! no request in progress is closed after `--idle-timeout`. Only connections in the
//! middle of an answer keep their slot, and their bodies have `--body-timeout` to arrive.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{watch, Notify};

/// How long a server waits before accepting again after `accept` failed (out of file
/// descriptors and the like), as axum's own loop does.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// Bounds on connections.
#[derive(Clone, Copy, Debug)]
pub struct Bounds {
    /// Most open connections.
    pub connections: usize,
    /// How long a request's headers may take to arrive.
    pub header: Duration,
    /// How long a connection may stay open with no request in progress.
    pub idle: Duration,
}

/// One open connection, as the accept loop sees it.
struct Slot {
    /// Requests of the connection being answered now.
    busy: usize,
    /// When it last had no request in progress (or was accepted).
    idle_since: Instant,
    /// Tells the connection to close.
    close: Arc<Notify>,
    /// Told to close to make room; it no longer counts.
    closing: bool,
}

/// Every open connection.
#[derive(Default)]
struct Slots {
    open: Mutex<HashMap<u64, Slot>>,
    /// Woken when a connection closes.
    freed: Notify,
}

impl Slots {
    fn lock(&self) -> MutexGuard<'_, HashMap<u64, Slot>> {
        self.open.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes room for one more connection: tells the one idle the longest to close if
    /// all are taken; `false` if every one is answering a request (then wait for `freed`).
    fn make_room(&self, max: usize) -> bool {
        let mut open = self.lock();
        if open.values().filter(|s| !s.closing).count() < max {
            return true;
        }
        let idle = open
            .values_mut()
            .filter(|s| !s.closing && s.busy == 0)
            .min_by_key(|s| s.idle_since);
        match idle {
            Some(slot) => {
                slot.closing = true;
                slot.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn add(&self, id: u64) -> Arc<Notify> {
        let close = Arc::new(Notify::new());
        let slot = Slot {
            busy: 0,
            idle_since: Instant::now(),
            close: Arc::clone(&close),
            closing: false,
        };
        self.lock().insert(id, slot);
        close
    }

    fn remove(&self, id: u64) {
        self.lock().remove(&id);
        self.freed.notify_waiters();
    }

    /// A request of `id` started (`true`) or was answered.
    fn busy(&self, id: u64, started: bool) {
        if let Some(slot) = self.lock().get_mut(&id) {
            match started {
                true => slot.busy += 1,
                false => {
                    slot.busy = slot.busy.saturating_sub(1);
                    slot.idle_since = Instant::now();
                }
            }
        }
    }

    /// Since when `id` has been idle (`None`: busy or gone).
    fn idle_since(&self, id: u64) -> Option<Instant> {
        self.lock().get(&id).filter(|s| s.busy == 0).map(|s| s.idle_since)
    }

    fn count(&self) -> usize {
        self.lock().len()
    }
}

/// The router as a hyper service that tells the slots when each request starts and ends.
#[derive(Clone)]
struct Tracked {
    inner: TowerToHyperService<Router>,
    slots: Arc<Slots>,
    id: u64,
}

/// Marks the request answered when dropped (also when the connection goes mid-request).
struct Answering {
    slots: Arc<Slots>,
    id: u64,
}

impl Drop for Answering {
    fn drop(&mut self) {
        self.slots.busy(self.id, false);
    }
}

impl hyper::service::Service<Request<Incoming>> for Tracked {
    type Response = axum::response::Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.slots.busy(self.id, true);
        let answering = Answering {
            slots: Arc::clone(&self.slots),
            id: self.id,
        };
        let answer = self.inner.call(request);
        Box::pin(async move {
            let response = answer.await;
            drop(answering);
            response
        })
    }
}

/// File descriptors kept for everything but connections: the database, the pack
/// watcher, webhooks, logs.
const RESERVED_FDS: u64 = 128;

/// Raises the open-file limit so `wanted` connections fit, as far as the hard limit
/// allows; the connections that fit.
pub fn fit_connections(wanted: usize) -> usize {
    #[cfg(unix)]
    {
        use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
        let needed = (wanted as u64).saturating_add(RESERVED_FDS);
        let limit = getrlimit(Resource::Nofile);
        let current = limit.current.unwrap_or(u64::MAX);
        if current >= needed {
            return wanted;
        }
        let raised = limit.maximum.map_or(needed, |max| max.min(needed));
        let now = match setrlimit(
            Resource::Nofile,
            Rlimit {
                current: Some(raised),
                maximum: limit.maximum,
            },
        ) {
            Ok(()) => raised,
            Err(_) => current,
        };
        let fit = usize::try_from(now.saturating_sub(RESERVED_FDS))
            .unwrap_or(wanted)
            .clamp(1, wanted);
        if fit < wanted {
            eprintln!(
                "leadscore serve: the open-file limit ({now}) allows {fit} connections, not --max-connections {wanted}"
            );
        }
        fit
    }
    #[cfg(not(unix))]
    wanted
}

/// Serves `router` on `tcp` until `stop` turns true, then lets the requests in flight
/// finish and returns when every connection has closed.
pub async fn serve(tcp: TcpListener, router: Router, bounds: Bounds, mut stop: watch::Receiver<bool>) {
    let slots = Arc::new(Slots::default());
    let ids = AtomicU64::new(0);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(bounds.header)
        .keep_alive(true);
    loop {
        let accepted = tokio::select! {
            accepted = tcp.accept() => accepted,
            _ = stop.wait_for(|s| *s) => break,
        };
        let Ok((stream, _)) = accepted else {
            tokio::time::sleep(ACCEPT_BACKOFF).await;
            continue;
        };
        while !slots.make_room(bounds.connections) {
            let freed = slots.freed.notified();
            tokio::select! {
                _ = freed => {}
                _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
            }
        }
        let _ = stream.set_nodelay(true);
        let id = ids.fetch_add(1, Ordering::Relaxed);
        let close = slots.add(id);
        let service = Tracked {
            inner: TowerToHyperService::new(router.clone()),
            slots: Arc::clone(&slots),
            id,
        };
        let connection = http.serve_connection(TokioIo::new(stream), service);
        let (slots, stop) = (Arc::clone(&slots), stop.clone());
        tokio::spawn(async move {
            run(connection, &slots, id, &close, bounds.idle, stop).await;
            slots.remove(id);
        });
    }
    while slots.count() > 0 {
        let freed = slots.freed.notified();
        tokio::select! {
            _ = freed => {}
            _ = tokio::time::sleep(ACCEPT_BACKOFF) => {}
        }
    }
}

type Connection = hyper::server::conn::http1::Connection<TokioIo<tokio::net::TcpStream>, Tracked>;

/// Drives one connection until it ends, is told to close (room for another, or idle too
/// long), or the service stops (then it finishes the request in progress).
async fn run(
    connection: Connection,
    slots: &Slots,
    id: u64,
    close: &Notify,
    idle: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut connection = std::pin::pin!(connection);
    let mut stopping = false;
    loop {
        let idle_check = tokio::time::sleep(idle / 4);
        tokio::select! {
            _ = connection.as_mut() => return,
            _ = close.notified() => return,
            _ = idle_check => {
                if slots.idle_since(id).is_some_and(|since| since.elapsed() >= idle) {
                    return;
                }
            }
            _ = stop.wait_for(|s| *s), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}
