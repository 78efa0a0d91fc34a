//! Pushing the outbox to each `--webhook URL`: every transition, at least once, in `seq`
//! order (so in order per lead), one at a time. A delivery is a `POST` of the transition's
//! JSON with an `Idempotency-Key` (the same on every retry of it) and, with
//! `--webhook-secret-file`, `X-Leadscore-Signature: sha256=HEX` (HMAC-SHA256 of the body).
//! Any 2xx is success; anything else (or no answer in 10 s) is retried after 0.5 s, 1 s,
//! 2 s, ... up to 5 min between attempts. The cursor and the backoff are stored, so a
//! restart resumes where delivery stopped, waiting out a backoff in progress.

use std::sync::Arc;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use tokio::sync::Notify;

use super::commit::{now_millis, Committer};
use super::metrics::Metrics;
use super::model::Cursor;
use super::store::Store;

/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry's delay; each further failure doubles it, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);
/// How often an idle sender looks at the outbox even without being woken.
const IDLE_POLL: Duration = Duration::from_secs(1);

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-leadscore-signature";

/// One webhook's sender.
pub struct Sender {
    /// Where to POST.
    pub url: String,
    /// The HTTP client (shared).
    pub client: reqwest::Client,
    /// The HMAC key.
    pub secret: Option<Vec<u8>>,
    /// The database, for reading the outbox and the cursor.
    pub store: Arc<Store>,
    /// For storing the cursor.
    pub committer: Committer,
    /// Counters.
    pub metrics: Arc<Metrics>,
    /// Woken when a commit wrote transitions.
    pub outbox: Arc<Notify>,
}

/// The wait before attempt `attempts + 1` after `attempts` failures.
pub fn backoff(attempts: u32) -> Duration {
    let factor = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
    FIRST_BACKOFF.saturating_mul(factor).min(MAX_BACKOFF)
}

/// `sha256=HEX` of the body under `secret`.
pub fn signature(secret: &[u8], body: &[u8]) -> String {
    // HMAC takes a key of any length.
    let mut mac = match Hmac::<Sha256>::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256={hex}")
}

impl Sender {
    /// Delivers forever (until the task is aborted at shutdown).
    pub async fn run(self) {
        loop {
            // Registered before the outbox is read, so a commit in between still wakes it.
            let woken = self.outbox.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            match self.step().await {
                Step::Delivered => continue,
                Step::Wait(d) => {
                    tokio::select! {
                        _ = woken => {}
                        _ = tokio::time::sleep(d) => {}
                    }
                }
                Step::Backoff(d) => tokio::time::sleep(d).await,
            }
        }
    }

    async fn step(&self) -> Step {
        let (cursor, next, last) = match self.read() {
            Ok(state) => state,
            Err(e) => {
                eprintln!("webhook {}: cannot read the outbox: {e}", self.url);
                return Step::Backoff(IDLE_POLL);
            }
        };
        let delivered = cursor.next.saturating_sub(1);
        self.metrics.outbox_depth(&self.url, last.saturating_sub(delivered));
        let wait = cursor.retry_at - now_millis();
        if wait > 0 {
            return Step::Backoff(Duration::from_millis(wait.unsigned_abs()));
        }
        let Some((seq, body)) = next else {
            return Step::Wait(IDLE_POLL);
        };
        let outcome = self.deliver(seq, body).await;
        self.metrics.delivery(&self.url, outcome.is_ok());
        let cursor = match outcome {
            Ok(()) => Cursor {
                next: seq + 1,
                ..Cursor::default()
            },
            Err(error) => {
                let attempts = cursor.attempts.saturating_add(1);
                let delay = i64::try_from(backoff(attempts).as_millis()).unwrap_or(i64::MAX);
                Cursor {
                    next: seq,
                    attempts,
                    retry_at: now_millis().saturating_add(delay),
                    last_error: Some(error),
                }
            }
        };
        if let Err(e) = self.committer.cursor(&self.url, cursor).await {
            eprintln!("webhook {}: cannot store the cursor: {e}", self.url);
            return Step::Backoff(IDLE_POLL);
        }
        Step::Delivered
    }

    /// The cursor, the next transition to deliver, and the newest seq.
    #[expect(clippy::type_complexity, reason = "a private triple read in one snapshot")]
    fn read(&self) -> Result<(Cursor, Option<(u64, Vec<u8>)>, u64), super::store::StoreError> {
        let r = self.store.read()?;
        let cursor = r.cursor(&self.url)?;
        let next = r.transitions(cursor.next.., 1)?.into_iter().next();
        Ok((cursor, next, r.last_transition()?))
    }

    async fn deliver(&self, seq: u64, body: Vec<u8>) -> Result<(), String> {
        let mut request = self
            .client
            .post(&self.url)
            .timeout(TIMEOUT)
            .header("content-type", "application/json")
            .header("idempotency-key", format!("{}-{seq}", self.store.instance()))
            .header("x-leadscore-seq", seq.to_string());
        if let Some(secret) = &self.secret {
            request = request.header(SIGNATURE_HEADER, signature(secret, &body));
        }
        let response = request.body(body).send().await.map_err(|e| e.to_string())?;
        let status = response.status();
        if status.is_success() {
            Ok(())
        } else {
            Err(format!("the receiver answered {status}"))
        }
    }
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
    fn backoff_doubles_up_to_five_minutes() {
        let ms: Vec<u128> = (1..=4).map(|a| backoff(a).as_millis()).collect();
        assert_eq!(ms, [500, 1000, 2000, 4000]);
        assert_eq!(backoff(40), MAX_BACKOFF);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_the_body() {
        // RFC 4231, test case 2.
        assert_eq!(
            signature(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
