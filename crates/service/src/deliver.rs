//! Pushing the outbox to each `--webhook URL` ([`super::webhook`] says what is delivered,
//! how it is retried and what an operator can do): one sender per webhook and stream,
//! delivering while its instance holds the stream's lease, storing each result through
//! the writer ([`Committer::webhook`]).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;

use super::commit::Committer;
use super::metrics::Metrics;
use super::model::{now_millis, Cursor};
use super::storage::{Storage, StorageError};
use super::webhook::{redacted, signature, Failure, Op, Stream, SIGNATURE_HEADER, TIMEOUT};

/// How often an idle sender looks at the outbox even without being woken.
const IDLE_POLL: Duration = Duration::from_secs(1);
/// Most bytes of a receiver's answer kept for the log and `last_error`.
const ANSWER_CUT: usize = 200;

/// One webhook's sender.
pub struct Sender {
    /// Where to POST.
    pub url: String,
    /// The HTTP client (shared).
    pub client: reqwest::Client,
    /// The HMAC key.
    pub secret: Option<Vec<u8>>,
    /// The database, for reading the outbox and the cursor.
    pub store: Arc<Storage>,
    /// For storing the cursor.
    pub committer: Committer,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Woken when a commit wrote transitions.
    pub outbox: Arc<Notify>,
    /// What it delivers: the transitions, or the target alerts (issue 27.3).
    pub stream: Stream,
}

impl Sender {
    /// Delivers forever (until the task is aborted at shutdown).
    pub async fn run(self) {
        let label = match self.stream {
            Stream::Transitions => redacted(&self.url),
            Stream::Alerts => format!("{} (alerts)", redacted(&self.url)),
        };
        loop {
            // Registered before the outbox is read, so a commit in between still wakes it.
            let woken = self.outbox.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.step(&label).await {
                Step::Delivered => continue,
                Step::Wait(d) => {
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(d) => {}
                    }
                }
                // A backoff is waited out a second at a time: an operator's "retry now"
                // (stored by any instance) is seen within a second.
                Step::Backoff(d) => tokio::time::sleep(d.min(IDLE_POLL)).await,
            }
        }
    }

    async fn step(&self, label: &str) -> Step {
        match self
            .store
            .hold_lease(&self.stream.key(&self.url), super::storage::postgres::LEASE_TTL_MS)
            .await
        {
            Ok(true) => {}
            Ok(false) => return Step::Backoff(IDLE_POLL),
            Err(e) => {
                eprintln!("webhook {label}: cannot take the delivery lease: {e}");
                return Step::Backoff(IDLE_POLL);
            }
        }
        let state = match self.read().await {
            Ok(state) => state,
            Err(e) => {
                eprintln!("webhook {label}: cannot read the outbox: {e}");
                return Step::Backoff(IDLE_POLL);
            }
        };
        let cursor = &state.cursor;
        let delivered = cursor.next.saturating_sub(1);
        self.metrics.outbox_depth(label, state.last.saturating_sub(delivered));
        self.metrics.dead_letters(label, cursor.dead);
        if let Some((seq, body)) = state.replay {
            return self.replay(label, seq, body).await;
        }
        let wait = cursor.retry_at - now_millis();
        if wait > 0 {
            return Step::Backoff(Duration::from_millis(wait.unsigned_abs()));
        }
        let Some((seq, body)) = state.next else {
            return Step::Wait(IDLE_POLL);
        };
        let outcome = self.deliver(seq, body).await;
        self.metrics.delivery(label, outcome.is_ok());
        if let Err(failure) = &outcome {
            let attempt = cursor.attempts.saturating_add(1);
            eprintln!("webhook {label}: transition {seq} not delivered (attempt {attempt}): {failure}");
        }
        let op = Op::Record {
            url: self.stream.key(&self.url),
            from: cursor.next,
            epoch: cursor.epoch,
            seq,
            outcome,
            now: now_millis(),
        };
        self.store(label, op, "the cursor").await
    }

    /// Delivers a dead letter an operator asked to replay, once.
    async fn replay(&self, label: &str, seq: u64, body: Option<Vec<u8>>) -> Step {
        let outcome = match body {
            Some(body) => self.deliver(seq, body).await,
            None => Err(Failure {
                status: None,
                message: "the transition is no longer stored".into(),
            }),
        };
        self.metrics.delivery(label, outcome.is_ok());
        match &outcome {
            Ok(()) => eprintln!("webhook {label}: dead letter {seq} replayed and delivered"),
            Err(failure) => eprintln!("webhook {label}: dead letter {seq} replayed, not delivered: {failure}"),
        }
        let op = Op::Replayed {
            url: self.stream.key(&self.url),
            seq,
            outcome,
            now: now_millis(),
        };
        self.store(label, op, "the dead letter").await
    }

    /// Stores a delivery's result through the writer; on failure (`what` it was) the
    /// sender backs off and reads its state again.
    async fn store(&self, label: &str, op: Op, what: &str) -> Step {
        match self.committer.webhook(op).await {
            Ok(()) => Step::Delivered,
            Err(e) => {
                eprintln!("webhook {label}: cannot store {what}: {e}");
                Step::Backoff(IDLE_POLL)
            }
        }
    }

    /// The cursor, a dead letter to replay (with its transition), the next transition
    /// to deliver, and the newest seq.
    async fn read(&self) -> Result<State, StorageError> {
        let r = self.store.read().await?;
        let key = self.stream.key(&self.url);
        let cursor = r.cursor(&key).await?;
        let mut replay = None;
        if cursor.replays > 0 {
            if let Some(letter) = r.dead_letters(&key, 0, 1, true).await?.into_iter().next() {
                let body = self.stream.read(&r, letter.seq, 1).await?.into_iter().next();
                replay = Some((letter.seq, body.filter(|(s, _)| *s == letter.seq).map(|(_, b)| b)));
            }
        }
        let next = self.stream.read(&r, cursor.next, 1).await?.into_iter().next();
        let last = self.stream.last(&r).await?;
        Ok(State {
            cursor,
            replay,
            next,
            last,
        })
    }

    async fn deliver(&self, seq: u64, body: Vec<u8>) -> Result<(), Failure> {
        let mut request = self
            .client
            .post(&self.url)
            .timeout(TIMEOUT)
            .header("content-type", "application/json")
            .header("idempotency-key", self.idempotency_key(seq))
            .header("x-leadscore-seq", seq.to_string());
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, &body));
        }
        // The error without the URL: it may carry credentials.
        let mut response = request.body(body).send().await.map_err(|e| Failure {
            status: None,
            message: format!("no answer: {}", e.without_url()),
        })?;
        let status = response.status();
        if status.is_success() {
            return Ok(());
        }
        let mut answer = Vec::new();
        while answer.len() < ANSWER_CUT {
            match response.chunk().await {
                Ok(Some(chunk)) => answer.extend_from_slice(&chunk),
                Ok(None) | Err(_) => break,
            }
        }
        Err(Failure {
            status: Some(status.as_u16()),
            message: format!("the receiver answered {status}: {}", cut(&answer)),
        })
    }
}

impl Sender {
    /// The same on every retry of one entry, different for every entry of either stream
    /// of every database: `INSTANCE-SEQ` for a transition, `INSTANCE-alert-SEQ` for an alert.
    fn idempotency_key(&self, seq: u64) -> String {
        match self.stream {
            Stream::Transitions => format!("{}-{seq}", self.store.instance()),
            Stream::Alerts => format!("{}-alert-{seq}", self.store.instance()),
        }
    }
}

/// What the sender read.
struct State {
    cursor: Cursor,
    replay: Option<(u64, Option<Vec<u8>>)>,
    next: Option<(u64, Vec<u8>)>,
    last: u64,
}

/// The first [`ANSWER_CUT`] bytes of an answer as text on one line: control characters
/// shown as `?`, `…` when cut.
fn cut(answer: &[u8]) -> String {
    let text = String::from_utf8_lossy(&answer[..answer.len().min(ANSWER_CUT)]);
    let mut out: String = text.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    if answer.len() > ANSWER_CUT {
        out.push('…');
    }
    if out.trim().is_empty() {
        out = "(no body)".into();
    }
    out
}

enum Step {
    Delivered,
    Wait(Duration),
    Backoff(Duration),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_cut_to_one_line() {
        assert_eq!(cut(b"bad\nrequest\x1b[31m"), "bad?request?[31m");
        assert_eq!(cut(&[b'a'; 300]).chars().count(), ANSWER_CUT + 1);
        assert_eq!(cut(b""), "(no body)");
    }
}
