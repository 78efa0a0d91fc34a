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

/// hyper's read buffer: a request head (line and headers) longer than this is answered
/// 431 by hyper itself (see [`Explained`]); shorter ones past the service's own bound
/// (`http::MAX_HEADER_BYTES`) get the service's 431.
pub const READ_BUFFER_BYTES: usize = 128 * 1024;
/// Most header fields hyper reads in one request (its default): more is a 431 too.
pub const MAX_HEADER_FIELDS: usize = 100;

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
        .max_buf_size(READ_BUFFER_BYTES)
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
        let connection = http.serve_connection(TokioIo::new(Explained::new(stream)), service);
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

type Connection = hyper::server::conn::http1::Connection<TokioIo<Explained<tokio::net::TcpStream>>, Tracked>;

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

/// A connection's socket, with the answers hyper writes by itself when it cannot read a
/// request head (a bare 400, 414 or 431 with an empty body, before any handler runs)
/// replaced by the service's JSON error naming the bound. hyper closes the connection
/// after such an answer, so the replacement is the last thing written.
pub struct Explained<S> {
    inner: S,
    /// The replacement still to be written.
    pending: Vec<u8>,
}

impl<S> Explained<S> {
    /// Wraps a socket.
    pub fn new(inner: S) -> Explained<S> {
        Explained {
            inner,
            pending: Vec::new(),
        }
    }
}

/// The service's answer for a response hyper wrote by itself, if `head` is one: a
/// whole response head of status 400, 414 or 431 with `content-length: 0` and no body.
pub fn explain_automatic(head: &[u8]) -> Option<Vec<u8>> {
    let end = head.windows(4).position(|w| w == b"\r\n\r\n")?;
    if end + 4 != head.len()
        || !head[..end]
            .to_ascii_lowercase()
            .windows(19)
            .any(|w| w == b"\r\ncontent-length: 0")
    {
        return None;
    }
    let (status, reason, kind, message) = match head.get(..13)? {
        b"HTTP/1.1 431 " | b"HTTP/1.0 431 " => (
            431,
            "Request Header Fields Too Large",
            "headers_too_large",
            format!("the request head is longer than {READ_BUFFER_BYTES} bytes or has more than {MAX_HEADER_FIELDS} header fields"),
        ),
        b"HTTP/1.1 414 " | b"HTTP/1.0 414 " => (
            414,
            "URI Too Long",
            "uri_too_long",
            "the request target is too long".to_string(),
        ),
        b"HTTP/1.1 400 " | b"HTTP/1.0 400 " => (
            400,
            "Bad Request",
            "bad_request",
            "the request head is not valid HTTP/1.1".to_string(),
        ),
        _ => return None,
    };
    let body = format!("{}\n", serde_json::json!({"error": message, "kind": kind}));
    Some(
        format!(
            "HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

impl<S: tokio::io::AsyncWrite + Unpin> Explained<S> {
    /// Writes what is left of the replacement; ready when nothing is.
    fn drain(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        while !self.pending.is_empty() {
            match Pin::new(&mut self.inner).poll_write(cx, &self.pending) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(std::io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => {
                    self.pending.drain(..n);
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: tokio::io::AsyncRead + Unpin> tokio::io::AsyncRead for Explained<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: tokio::io::AsyncWrite + Unpin> tokio::io::AsyncWrite for Explained<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        use std::task::Poll;
        match self.drain(cx) {
            Poll::Ready(Ok(())) => {}
            Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
            Poll::Pending => return Poll::Pending,
        }
        if let Some(answer) = explain_automatic(buf) {
            self.pending = answer;
            // Taken whole; written by `drain` (now, and on flush or shutdown).
            let _ = self.drain(cx);
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut std::task::Context<'_>) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_flush(cx),
            other => other,
        }
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        match self.drain(cx) {
            Poll::Ready(Ok(())) => Pin::new(&mut self.inner).poll_shutdown(cx),
            other => other,
        }
    }

    /// Whole writes only, so hyper's automatic answer arrives as one buffer.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hypers_own_bodyless_error_answers_are_replaced() {
        let bare = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: Mon, 07 Dec 2026 06:00:00 GMT\r\n\r\n";
        let answer = String::from_utf8(explain_automatic(bare).unwrap_or_default()).unwrap_or_default();
        assert!(answer.starts_with("HTTP/1.1 431 "), "{answer}");
        assert!(answer.contains("content-type: application/json"), "{answer}");
        assert!(answer.ends_with("\"kind\":\"headers_too_large\"}\n"), "{answer}");
        // The service's own 431 (a body), a 200, and a head with a body are left alone.
        let own = b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 80\r\n\r\n";
        assert_eq!(explain_automatic(own), None);
        assert_eq!(explain_automatic(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"), None);
        assert_eq!(
            explain_automatic(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\nx"),
            None
        );
    }
}
