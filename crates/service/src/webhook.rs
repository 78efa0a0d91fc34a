//! Webhooks: what is pushed to each `--webhook URL`, and a stream's state as stored (the
//! senders, in `deliver.rs`, push it): every transition, at least once, in `seq`
//! order (so in order per lead), one at a time. A delivery is a `POST` of the transition's
//! JSON with an `Idempotency-Key` (the same on every retry of it) and, with
//! `--webhook-secret-file`, `X-Leadscore-Signature: sha256=HEX` (HMAC-SHA256 of the body).
//! Any 2xx is success; anything else (or no answer in 10 s) is retried after 0.5 s, 1 s,
//! 2 s, ... up to 5 min between attempts. The cursor and the backoff are stored, so a
//! restart resumes where delivery stopped, waiting out a backoff in progress. With
//! several instances on one Postgres database, the instance that holds the webhook's
//! lease delivers; the others wait, and one takes over when the lease runs out.
//!
//! A refusal (a 4xx other than 408 and 429) is permanent: after [`PERMANENT_ATTEMPTS`]
//! refusals in a row (0.5 + 1 + 2 + 4 s apart, all within 8 s) the transition becomes a
//! dead letter and the stream goes on with the next one. Every failure is logged with the
//! status and a cut of the answer, naming the webhook by [`webhook_id`] and its URL
//! without credentials or query. An operator can retry the head now, skip it (it becomes
//! a dead letter), restart the stream from a seq, replay a dead letter or discard it
//! ([`Op`]): each is stored, and the instance that holds the lease acts on it. A webhook
//! never seen before starts at the current end of the outbox.

use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::error::ApiError;
use super::model::{Cursor, DeadLetter, Millis};
use super::storage::{Reader, StorageError, Txn};

/// How long one delivery may take.
pub const TIMEOUT: Duration = Duration::from_secs(10);
/// The first retry's delay; each further failure doubles it, up to [`MAX_BACKOFF`].
pub const FIRST_BACKOFF: Duration = Duration::from_millis(500);
/// The longest wait between attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(300);

/// The signature header.
pub const SIGNATURE_HEADER: &str = "x-leadscore-signature";
/// Refusals in a row (a 4xx other than 408 and 429) after which a transition is a dead letter.
pub const PERMANENT_ATTEMPTS: u32 = 5;
/// The log a sender delivers. Each webhook has one sender per stream, each with its own
/// cursor, lease and dead letters (stored under [`Stream::key`]), so an alert never waits
/// behind a transition that is backing off, nor the other way round.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stream {
    /// The outbox of lead transitions.
    Transitions,
    /// The alert log: targets that became missed or met again (body `"kind": "target"`).
    Alerts,
}

impl Stream {
    /// The name a webhook's cursor, lease and dead letters of this stream are stored
    /// under: the URL for transitions, `alerts URL` for alerts (never a URL itself).
    pub fn key(self, url: &str) -> String {
        match self {
            Stream::Transitions => url.to_string(),
            Stream::Alerts => format!("{}{url}", super::storage::ALERT_STREAM),
        }
    }

    /// Up to `limit` entries of the stream's log from `from` on.
    pub(crate) async fn read(self, r: &Reader, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        match self {
            Stream::Transitions => r.transitions(from, limit).await,
            Stream::Alerts => r.alerts(from, limit).await,
        }
    }

    /// The newest seq of the stream's log.
    pub async fn last(self, r: &Reader) -> Result<u64, StorageError> {
        match self {
            Stream::Transitions => r.last_transition().await,
            Stream::Alerts => r.last_alert().await,
        }
    }
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

/// A failed delivery: the receiver's status (none: no answer) and what happened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Failure {
    /// The receiver's status.
    pub status: Option<u16>,
    /// The status and a cut of the answer, or why there was no answer.
    pub message: String,
}

impl Failure {
    /// A refusal that retrying will not change: a 4xx other than 408 and 429.
    pub fn permanent(&self) -> bool {
        self.status
            .is_some_and(|s| (400..500).contains(&s) && s != 408 && s != 429)
    }
}

/// A webhook's URL for logs, metrics and the API: scheme, host, port and path, without
/// credentials, query or fragment (they may hold secrets).
pub fn redacted(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => {
            let port = u.port().map(|p| format!(":{p}")).unwrap_or_default();
            format!("{}://{}{port}{}", u.scheme(), u.host_str().unwrap_or(""), u.path())
        }
        Err(_) => "(a URL that does not parse)".into(),
    }
}

/// A webhook's id in the API: the first 12 hex digits of the SHA-256 of its URL (stable
/// across restarts and instances, and revealing nothing of the URL).
pub fn webhook_id(url: &str) -> String {
    use sha2::Digest;
    let digest = Sha256::digest(url.as_bytes());
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// An action on one webhook's stream, applied by the writer in one transaction.
#[derive(Clone, Debug)]
pub enum Op {
    /// A webhook never seen starts at `next` (the current end of the outbox); one with
    /// a stored cursor keeps it.
    Start {
        /// The webhook.
        url: String,
        /// The first seq it delivers.
        next: u64,
    },
    /// The sender's result for transition `seq`, read at cursor position `from` and
    /// `epoch`: stored only if the cursor is still there (an operator may have moved it).
    Record {
        /// The webhook.
        url: String,
        /// The cursor's `next` as the sender read it.
        from: u64,
        /// The cursor's `epoch` as the sender read it.
        epoch: u32,
        /// The transition tried.
        seq: u64,
        /// How it went.
        outcome: Result<(), Failure>,
        /// When (ms).
        now: Millis,
    },
    /// The sender's result for a dead letter it replayed.
    Replayed {
        /// The webhook.
        url: String,
        /// The dead letter's seq.
        seq: u64,
        /// How it went.
        outcome: Result<(), Failure>,
        /// When (ms).
        now: Millis,
    },
    /// Operator: try the transition at the head now, without waiting out the backoff.
    RetryNow {
        /// The webhook.
        url: String,
    },
    /// Operator: make the transition at the head a dead letter now and go on.
    Skip {
        /// The webhook.
        url: String,
        /// The newest seq.
        last: u64,
        /// When (ms).
        now: Millis,
    },
    /// Operator: deliver again from seq `from` on (1 to the newest + 1).
    ReplayFrom {
        /// The webhook.
        url: String,
        /// The first seq to deliver.
        from: u64,
        /// The newest seq.
        last: u64,
    },
    /// Operator: deliver a dead letter again (once; a failure keeps it dead).
    Replay {
        /// The webhook.
        url: String,
        /// The dead letter's seq.
        seq: u64,
    },
    /// Operator: drop a dead letter.
    Discard {
        /// The webhook.
        url: String,
        /// The dead letter's seq.
        seq: u64,
    },
}

impl Op {
    /// Applies the action in `t`. The outer error is the storage's; the inner one is the
    /// operator's request that cannot be done (a dead letter that is not there).
    pub fn apply(&self, t: &mut dyn Txn) -> Result<Result<(), ApiError>, StorageError> {
        match self {
            Op::Start { url, next } => {
                if t.stored_cursor(url)?.is_none() {
                    let cursor = Cursor {
                        next: *next,
                        ..Cursor::default()
                    };
                    t.set_cursor(url, &cursor)?;
                }
                Ok(Ok(()))
            }
            Op::Record {
                url,
                from,
                epoch,
                seq,
                outcome,
                now,
            } => record(t, url, (*from, *epoch), *seq, outcome, *now).map(Ok),
            Op::Replayed { url, seq, outcome, now } => replayed(t, url, *seq, outcome, *now).map(Ok),
            Op::RetryNow { url } => {
                let mut cursor = t.stored_cursor(url)?.unwrap_or_default();
                cursor.retry_at = 0;
                t.set_cursor(url, &cursor)?;
                Ok(Ok(()))
            }
            Op::Skip { url, last, now } => skip(t, url, *last, *now),
            Op::ReplayFrom { url, from, last } => {
                if *from < 1 || *from > last.saturating_add(1) {
                    return Ok(Err(ApiError::bad_request(format!(
                        "`from` must be a seq from 1 to {} (the newest + 1)",
                        last.saturating_add(1)
                    ))));
                }
                let mut cursor = t.stored_cursor(url)?.unwrap_or_default();
                moved(&mut cursor, *from);
                t.set_cursor(url, &cursor)?;
                Ok(Ok(()))
            }
            Op::Replay { url, seq } => {
                let Some(mut letter) = t.dead_letter(url, *seq)? else {
                    return Ok(Err(no_letter(*seq)));
                };
                if !letter.replay {
                    letter.replay = true;
                    let mut cursor = t.stored_cursor(url)?.unwrap_or_default();
                    cursor.replays = cursor.replays.saturating_add(1);
                    t.put_dead_letter(url, &letter)?;
                    t.set_cursor(url, &cursor)?;
                }
                Ok(Ok(()))
            }
            Op::Discard { url, seq } => {
                let Some(letter) = t.dead_letter(url, *seq)? else {
                    return Ok(Err(no_letter(*seq)));
                };
                let mut cursor = t.stored_cursor(url)?.unwrap_or_default();
                cursor.dead = cursor.dead.saturating_sub(1);
                if letter.replay {
                    cursor.replays = cursor.replays.saturating_sub(1);
                }
                t.delete_dead_letter(url, *seq)?;
                t.set_cursor(url, &cursor)?;
                Ok(Ok(()))
            }
        }
    }
}

fn no_letter(seq: u64) -> ApiError {
    ApiError::not_found(format!("this webhook has no dead letter {seq}"))
}

/// The cursor moved by an operator to `next`: a fresh start there, and a new epoch so a
/// result the sender is about to store for the old position is not stored over it.
fn moved(cursor: &mut Cursor, next: u64) {
    *cursor = Cursor {
        next,
        epoch: cursor.epoch.wrapping_add(1),
        dead: cursor.dead,
        replays: cursor.replays,
        ..Cursor::default()
    };
}

/// Stores the sender's result for the head, if it still holds the lease and the cursor
/// is where it read it.
fn record(
    t: &mut dyn Txn,
    url: &str,
    (from, epoch): (u64, u32),
    seq: u64,
    outcome: &Result<(), Failure>,
    now: Millis,
) -> Result<(), StorageError> {
    if !t.lease_held(url)? {
        return Ok(());
    }
    let mut cursor = t.stored_cursor(url)?.unwrap_or_default();
    if cursor.next != from || cursor.epoch != epoch {
        return Ok(());
    }
    match outcome {
        Ok(()) => moved_on(&mut cursor, seq),
        Err(failure) => {
            cursor.next = seq;
            cursor.attempts = cursor.attempts.saturating_add(1);
            cursor.last_error = Some(failure.message.clone());
            cursor.last_status = failure.status;
            cursor.refused = if failure.permanent() { cursor.refused + 1 } else { 0 };
            if cursor.refused >= PERMANENT_ATTEMPTS {
                let letter = DeadLetter {
                    seq,
                    attempts: cursor.attempts,
                    status: failure.status,
                    error: failure.message.clone(),
                    at: now,
                    replay: false,
                };
                eprintln!(
                    "webhook {}: transition {seq} refused {} times: now a dead letter; the stream goes on",
                    redacted(url),
                    cursor.refused
                );
                t.put_dead_letter(url, &letter)?;
                cursor.dead = cursor.dead.saturating_add(1);
                moved_on(&mut cursor, seq);
            } else {
                let tries = if failure.permanent() {
                    cursor.refused
                } else {
                    cursor.attempts
                };
                let delay = i64::try_from(backoff(tries).as_millis()).unwrap_or(i64::MAX);
                cursor.retry_at = now.saturating_add(delay);
            }
        }
    }
    t.put_cursor(url, &cursor)
}

/// Past `seq`: the next one has had no attempt yet (the last error stays for the API).
fn moved_on(cursor: &mut Cursor, seq: u64) {
    cursor.next = seq + 1;
    cursor.attempts = 0;
    cursor.refused = 0;
    cursor.retry_at = 0;
}

/// Stores how a replay went: delivered, the dead letter goes; failed, it stays (no
/// longer asked for) with the new error.
fn replayed(
    t: &mut dyn Txn,
    url: &str,
    seq: u64,
    outcome: &Result<(), Failure>,
    now: Millis,
) -> Result<(), StorageError> {
    if !t.lease_held(url)? {
        return Ok(());
    }
    let Some(mut letter) = t.dead_letter(url, seq)?.filter(|l| l.replay) else {
        return Ok(());
    };
    let mut cursor = t.stored_cursor(url)?.unwrap_or_default();
    cursor.replays = cursor.replays.saturating_sub(1);
    match outcome {
        Ok(()) => {
            cursor.dead = cursor.dead.saturating_sub(1);
            t.delete_dead_letter(url, seq)?;
        }
        Err(failure) => {
            letter.replay = false;
            letter.attempts = letter.attempts.saturating_add(1);
            letter.status = failure.status;
            letter.error = failure.message.clone();
            letter.at = now;
            t.put_dead_letter(url, &letter)?;
        }
    }
    t.put_cursor(url, &cursor)
}

/// The operator's skip: the head becomes a dead letter with what is known of its
/// failures, and the stream goes on.
fn skip(t: &mut dyn Txn, url: &str, last: u64, now: Millis) -> Result<Result<(), ApiError>, StorageError> {
    let mut cursor = t.stored_cursor(url)?.unwrap_or_default();
    let head = cursor.next.max(1);
    if head > last {
        return Ok(Err(ApiError::conflict(
            "nothing is waiting to be delivered to this webhook",
        )));
    }
    let letter = DeadLetter {
        seq: head,
        attempts: cursor.attempts,
        status: cursor.last_status.filter(|_| cursor.attempts > 0),
        error: match (&cursor.last_error, cursor.attempts) {
            (Some(e), 1..) => format!("skipped by an operator; last failure: {e}"),
            _ => "skipped by an operator before it failed".into(),
        },
        at: now,
        replay: false,
    };
    t.put_dead_letter(url, &letter)?;
    cursor.dead = cursor.dead.saturating_add(1);
    moved(&mut cursor, head + 1);
    t.set_cursor(url, &cursor)?;
    Ok(Ok(()))
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
    fn only_a_4xx_other_than_408_and_429_is_permanent() {
        let f = |status| Failure {
            status,
            message: String::new(),
        };
        assert!(f(Some(400)).permanent() && f(Some(410)).permanent());
        assert!(!f(Some(408)).permanent() && !f(Some(429)).permanent());
        assert!(!f(Some(500)).permanent() && !f(None).permanent());
        // Five refusals, 0.5 + 1 + 2 + 4 s apart: well within two minutes.
        let waits: Duration = (1..PERMANENT_ATTEMPTS).map(backoff).sum();
        assert!(waits < Duration::from_secs(120), "{waits:?}");
    }

    #[test]
    fn logs_see_no_credentials_or_query() {
        assert_eq!(
            redacted("https://user:pw@hooks.example.com:8443/in/x?token=s3cret#f"),
            "https://hooks.example.com:8443/in/x"
        );
        assert_eq!(webhook_id("http://a/").len(), 12);
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
