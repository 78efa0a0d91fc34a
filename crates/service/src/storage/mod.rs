//! The service's storage: one interface that everything above it uses, one module per
//! backend that owns its database and transactions.
//!
//! | backend | where | for |
//! |---|---|---|
//! | [`redb`] | one file in `--data DIR` | one instance; the default |
//! | [`postgres`] | `--database-url postgres://...` | several instances behind a load balancer |
//!
//! The interface is an enum over the two backends, not a trait object: its reads are
//! `async` (Postgres answers over the network; the HTTP handlers await them), and `async`
//! methods of a `dyn` trait would need a boxed future per call; the set of backends is
//! closed, so a `match` per call is all the dispatch there is. The write transaction is a
//! trait, [`Txn`]: it runs on the writer thread (synchronous, see `commit.rs`), and the
//! batch logic of `apply.rs` is written once against `&mut dyn Txn`.
//!
//! Every lead carries `due`, the next time its result may change without new data, in an
//! index: the scheduler takes the leads due by now from it ([`Txn::due_leads`]) instead of
//! sweeping every lead.

pub mod backup;
pub mod postgres;
pub mod redb;

use std::path::PathBuf;

use super::model::{
    Alert, Cursor, DeadLetter, HandOff, HistoryEntry, LeadRecord, Millis, RuleFires, ShadowTally, TargetState,
    Transition,
};

/// What kind of storage failure an error is: what the caller may do about it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum StorageErrorKind {
    /// The storage cannot store or read now (a full disk, an I/O error, a lost connection):
    /// nothing was stored; it may work again later.
    Unavailable,
    /// Two writers met (a deadlock, a serialization failure): nothing was stored; the
    /// transaction may be run again at once.
    Conflict,
    /// The database is damaged, truncated, empty or not a leadscore database: refused.
    Damaged,
    /// A stored record does not decode (a bug, or data written by another program).
    Decode,
    /// The location cannot be used (a folder that cannot be created, a bad URL).
    Config,
}

/// A storage failure: its kind and what happened, naming the file or server.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
#[non_exhaustive]
pub struct StorageError {
    /// What the caller may do about it.
    pub kind: StorageErrorKind,
    /// What happened, in words.
    pub message: String,
}

impl StorageError {
    /// An error of `kind`.
    pub fn new(kind: StorageErrorKind, message: impl Into<String>) -> StorageError {
        StorageError {
            kind,
            message: message.into(),
        }
    }

    /// A stored `what` that does not decode.
    pub fn decode(what: &str, message: impl std::fmt::Display) -> StorageError {
        StorageError::new(
            StorageErrorKind::Decode,
            format!("storage: a stored {what} does not decode: {message}"),
        )
    }
}

/// Where the data lives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// The embedded database in this folder.
    Folder(PathBuf),
    /// A PostgreSQL database (`postgres://...`, libpq's URL form, `sslmode` honoured).
    Postgres(String),
}

impl std::fmt::Display for Location {
    /// For logs: the folder, or the server and database without user or password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Location::Folder(dir) => write!(f, "data {}", dir.display()),
            Location::Postgres(url) => write!(f, "database {}", postgres::redacted(url)),
        }
    }
}

/// The storage the service runs on.
pub enum Storage {
    /// The embedded redb file.
    Redb(redb::RedbStore),
    /// A PostgreSQL database shared by every instance.
    Postgres(postgres::PgStore),
}

/// The write transaction: everything `apply.rs` and `commit.rs` change, committed
/// together by [`Storage::write`] or not at all.
pub trait Txn {
    /// Serialises this transaction with every other writer of these leads (Postgres: a
    /// lock per lead id, taken in one order, held until commit). Called once, first.
    fn lock_leads(&mut self, ids: &[&str]) -> Result<(), StorageError>;
    /// Up to `limit` leads whose `due` is at or before `now`, earliest first. In
    /// Postgres they are claimed: locked for this transaction and skipped by the other
    /// instances' claims, so a due lead is evaluated once.
    fn due_leads(&mut self, now: Millis, limit: usize) -> Result<Vec<String>, StorageError>;
    /// A lead's record as stored (or as written so far in this transaction).
    fn lead(&mut self, id: &str) -> Result<Option<LeadRecord>, StorageError>;
    /// Writes a lead's record; `indexed_due` is the `due` it was stored with before.
    fn put_lead(&mut self, id: &str, record: &LeadRecord, indexed_due: Option<Millis>) -> Result<(), StorageError>;
    /// Erases a lead: its record, events, event ids, history and due entry
    /// (`indexed_due`, as stored). Transitions are kept.
    fn delete_lead(&mut self, id: &str, indexed_due: Option<Millis>) -> Result<(), StorageError>;
    /// Whether the lead already has an event with this `id`.
    fn has_event_id(&mut self, lead: &str, event_id: &str) -> Result<bool, StorageError>;
    /// Stores an event as received, under its seq, remembering its `id` if it has one.
    fn put_event(&mut self, lead: &str, seq: u64, event: &[u8], event_id: Option<&str>) -> Result<(), StorageError>;
    /// Removes a lead's events with seq in `from..to` (the oldest, past the limit). Their
    /// ids stay remembered, so a retry of a dropped event is still recognised.
    fn drop_events(&mut self, lead: &str, from: u64, to: u64) -> Result<(), StorageError>;
    /// A lead's events with seq from `from` on, in order, as stored.
    fn events_from(&mut self, lead: &str, from: u64) -> Result<Vec<Vec<u8>>, StorageError>;
    /// Appends a history entry as number `n`, dropping entry `n - keep` if there is one.
    fn push_history(&mut self, lead: &str, n: u64, entry: &HistoryEntry, keep: u64) -> Result<(), StorageError>;
    /// Gives the transitions the next seqs of the outbox, in order, and appends them.
    /// Called once per transaction, last: a transition that commits later never gets a
    /// lower seq than one already visible (see each backend for how).
    fn push_transitions(&mut self, transitions: &mut [Transition]) -> Result<(), StorageError>;
    /// Stores a small record (the time of the probe): whether writes can be stored.
    fn probe(&mut self, now: Millis) -> Result<(), StorageError>;
    /// Stores a webhook's cursor, if this instance still holds the webhook's lease
    /// ([`Storage::hold_lease`]); otherwise leaves it to the holder.
    fn put_cursor(&mut self, url: &str, cursor: &Cursor) -> Result<(), StorageError>;

    // Storage and scale (issue 22): re-scoring after a pack change, once across instances.

    /// Claims the next `limit` leads, in id order, that the re-scoring of every lead with
    /// pack `pack` (its id, `name@version`) has not reached yet, and records how far it
    /// got; none once it is done. The first claim for another pack than the recorded one
    /// starts over for it. Claimed leads are locked for this transaction (Postgres), so
    /// every instance that claims gets other leads and each lead is scored once per pack.
    fn rescore_claim(&mut self, pack: &str, limit: usize) -> Result<Vec<String>, StorageError>;

    // Storage and scale (issue 22): restoring a backup (see [`backup`]).

    /// Whether the database holds no lead and no transition: a restore goes only there.
    fn is_empty(&mut self) -> Result<bool, StorageError>;
    /// Stores one item of a backup, as it was (a lead with its `due`, an event as its
    /// text, a transition under its seq).
    fn restore(&mut self, item: &backup::Item) -> Result<(), StorageError>;
    /// Gives the database a new instance id, and returns it: a restored copy is not the
    /// database it was taken from, so its webhook `Idempotency-Key`s differ.
    fn renew_instance(&mut self) -> Result<String, StorageError>;
    // Webhook operations and event payloads (issue 23).

    /// A webhook's cursor as stored (`None`: never stored), locked until commit.
    fn stored_cursor(&mut self, url: &str) -> Result<Option<Cursor>, StorageError>;
    /// Stores a webhook's cursor whichever instance holds the lease: an operator's action.
    fn set_cursor(&mut self, url: &str, cursor: &Cursor) -> Result<(), StorageError>;
    /// Whether this instance holds the webhook's lease (Postgres: the lease row stays
    /// locked until commit, so it is not taken over meanwhile; redb: always).
    fn lease_held(&mut self, url: &str) -> Result<bool, StorageError>;
    /// A webhook's dead letter for the transition `seq`.
    fn dead_letter(&mut self, url: &str, seq: u64) -> Result<Option<DeadLetter>, StorageError>;
    /// Stores (or replaces) a dead letter.
    fn put_dead_letter(&mut self, url: &str, letter: &DeadLetter) -> Result<(), StorageError>;
    /// Removes a dead letter (none: nothing happens).
    fn delete_dead_letter(&mut self, url: &str, seq: u64) -> Result<(), StorageError>;
    /// The digest of the payload an event `id` of the lead was first stored with (`None`:
    /// no such id, or one stored before digests were kept). Erased with the lead.
    fn event_digest(&mut self, lead: &str, event_id: &str) -> Result<Option<Vec<u8>>, StorageError>;
    /// Remembers the digest of the payload the event `id` was stored with.
    fn put_event_digest(&mut self, lead: &str, event_id: &str, digest: &[u8]) -> Result<(), StorageError>;

    // Shadow packs (issue 27.5).

    /// Adds `delta`'s counts to the stored tally of the shadow version `delta.pack`
    /// (starting it at zero): see `shadow.rs`.
    fn add_shadow(&mut self, delta: &ShadowTally) -> Result<(), StorageError>;

    // The funnel (issue 27): the hand-off index.

    /// A lead's hand-off made at `mql_at` (as stored, or as written in this transaction).
    fn handoff(&mut self, lead: &str, mql_at: Millis) -> Result<Option<HandOff>, StorageError>;
    /// Writes a hand-off, and keeps it in the index of open hand-offs while it is open.
    fn put_handoff(&mut self, handoff: &HandOff) -> Result<(), StorageError>;

    // Targets (issue 27.3): the alert log and each target's last published state.

    /// Every target's last published state, locked until commit (Postgres: one advisory
    /// lock for all of them, so instances publish one after the other; redb: its writer).
    fn lock_target_states(&mut self) -> Result<Vec<TargetState>, StorageError>;
    /// Stores a target's state (by its name).
    fn put_target_state(&mut self, state: &TargetState) -> Result<(), StorageError>;
    /// Gives the alert the next seq of the alert log (from 1, in commit order, without
    /// gaps) and appends it.
    fn push_alert(&mut self, alert: &mut Alert) -> Result<(), StorageError>;
    // The console (issue 28): how often each rule fired recently.

    /// Adds a batch's counts to those of the hour starting at `hour` (ms), and drops the
    /// counts of hours before `keep_from`. Postgres keeps one row per hour, rule and
    /// process (a process has one writer), so instances never wait on each other's counts.
    fn add_rule_fires(&mut self, hour: Millis, fires: &RuleFires, keep_from: Millis) -> Result<(), StorageError>;
    // Storage and scale (issue 22): restoring in batches.

    /// Stores consecutive items of a backup, as [`Txn::restore`] does one by one (the
    /// default); Postgres stores each run of one kind with one statement.
    fn restore_many(&mut self, items: &[backup::Item]) -> Result<(), StorageError> {
        items.iter().try_for_each(|item| self.restore(item))
    }

    // Storage and scale (issue 22): the writer's cache of leads (see `cache.rs`).

    /// The stamp of the lead's stored record as this transaction sees it: it changes
    /// whenever any writer stores or erases the lead, so a copy with the same stamp is
    /// current. `None` when it is not known (Postgres: a lead this transaction neither
    /// locked with [`Txn::lock_leads`], claimed ([`Txn::due_leads`],
    /// [`Txn::rescore_claim`]) nor wrote). redb: always `Some(0)`, as the one
    /// writer of the file is the cache's owner and puts back every lead it commits.
    fn lead_stamp(&mut self, id: &str) -> Result<Option<i64>, StorageError>;
    /// The lead's events from seq `from` on, when a copy of it with `stamp` (no longer
    /// its stamp: another writer stored it since) is known to be a copy of this same
    /// lead, not of one erased since and created again under its id, so that the copy's
    /// events before `from` are still the stored ones (minus those dropped since);
    /// `None` when that is not known, and the lead's events are read whole. Postgres
    /// knows it for a lead this process wrote last before another instance did, and
    /// read those events with the locks; redb never needs it (the default: `None`).
    fn events_since(&mut self, _lead: &str, _stamp: i64, _from: u64) -> Result<Option<Vec<Vec<u8>>>, StorageError> {
        Ok(None)
    }

    // Storage and scale (issue 22): Postgres commits in a few round trips.

    /// The event ids (lead, id) this transaction's writes will look up with
    /// [`Txn::has_event_id`] and [`Txn::event_digest`], told before [`Txn::lock_leads`]
    /// (no I/O of its own). Postgres reads them all with the locks, in the same round
    /// trip; redb reads its own file and ignores them (the default).
    fn expect_event_ids(&mut self, _ids: &[(&str, &str)]) {}
}

impl Storage {
    /// Opens the storage at `location`: the redb file (created if missing, refused if
    /// damaged), or the Postgres database (migrated to this version's schema).
    pub async fn open(location: &Location) -> Result<Storage, StorageError> {
        match location {
            Location::Folder(dir) => {
                let dir = dir.clone();
                let store = tokio::task::spawn_blocking(move || redb::RedbStore::open(&dir))
                    .await
                    .map_err(|e| StorageError::new(StorageErrorKind::Unavailable, e.to_string()))??;
                Ok(Storage::Redb(store))
            }
            Location::Postgres(url) => Ok(Storage::Postgres(postgres::PgStore::open(url).await?)),
        }
    }

    /// This database's id: part of every webhook `Idempotency-Key`, so keys from two
    /// databases never collide (every instance on one Postgres database shares it).
    pub fn instance(&self) -> &str {
        match self {
            Storage::Redb(s) => s.instance(),
            Storage::Postgres(s) => s.instance(),
        }
    }

    /// Runs `f` in one write transaction and commits it durably; on an error nothing `f`
    /// wrote is kept. Blocking: call it from the writer thread. `f` may run more than
    /// once (Postgres runs it again after a [`StorageErrorKind::Conflict`]).
    pub fn write<T>(&self, f: impl FnMut(&mut dyn Txn) -> Result<T, StorageError>) -> Result<T, StorageError> {
        match self {
            Storage::Redb(s) => s.write(f),
            Storage::Postgres(s) => s.write(f),
        }
    }

    /// A reader: a consistent snapshot for redb; for Postgres a connection from the
    /// pool, each read seeing what was committed when it ran.
    pub async fn read(&self) -> Result<Reader, StorageError> {
        match self {
            Storage::Redb(s) => Ok(Reader::Redb(s.read()?)),
            Storage::Postgres(s) => Ok(Reader::Postgres(s.read().await?)),
        }
    }

    /// Whether this instance may deliver the webhook stream `url` now: takes or renews
    /// a lease on it (Postgres: a row, for `ttl_ms`; redb: one instance owns the file).
    pub async fn hold_lease(&self, url: &str, ttl_ms: Millis) -> Result<bool, StorageError> {
        match self {
            Storage::Redb(_) => Ok(true),
            Storage::Postgres(s) => s.hold_lease(url, ttl_ms).await,
        }
    }
}

// Storage and scale (issue 22): backups.
impl Storage {
    /// Writes a backup of the whole database to `sink`, from one consistent snapshot
    /// taken while writes go on (see [`backup`]); what it holds. Blocking: call it off
    /// the async workers.
    pub fn backup(&self, sink: &mut backup::Sink<'_>) -> Result<backup::Counts, StorageError> {
        match self {
            Storage::Redb(s) => s.backup(sink),
            Storage::Postgres(s) => s.backup(sink),
        }
    }
}

/// Reads, outside the writer.
pub enum Reader {
    /// A redb read transaction.
    Redb(redb::Snapshot),
    /// A pooled Postgres connection.
    Postgres(postgres::PgReader),
}

macro_rules! read {
    ($self:ident, $r:ident => $call:expr) => {
        match $self {
            Reader::Redb($r) => $call,
            Reader::Postgres($r) => $call.await,
        }
    };
}

impl Reader {
    /// A lead's record.
    pub async fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StorageError> {
        read!(self, r => r.lead(id))
    }

    /// How many leads there are.
    pub async fn lead_count(&self) -> Result<u64, StorageError> {
        read!(self, r => r.lead_count())
    }

    /// Up to `limit` lead ids after `after` (exclusive), in id order.
    pub async fn lead_ids(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StorageError> {
        read!(self, r => r.lead_ids(after, limit))
    }

    /// Up to `limit` of a lead's events with seq ≥ `from`, with their seqs.
    pub async fn events(
        &self,
        lead: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, serde_json::Value)>, StorageError> {
        read!(self, r => r.events(lead, from, limit))
    }

    /// Up to `limit` of a lead's history entries with number ≥ `from`, with numbers.
    pub async fn history(&self, lead: &str, from: u64, limit: usize) -> Result<Vec<(u64, HistoryEntry)>, StorageError> {
        read!(self, r => r.history(lead, from, limit))
    }

    /// Up to `limit` transitions with seq ≥ `from`, in seq order, as stored (JSON).
    pub async fn transitions(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        read!(self, r => r.transitions(from, limit))
    }

    /// The seq of the newest transition (0 when there is none).
    pub async fn last_transition(&self) -> Result<u64, StorageError> {
        read!(self, r => r.last_transition())
    }

    /// Up to `limit` leads whose `due` is at or before `now` (read only; the scheduler
    /// claims them with [`Txn::due_leads`]).
    pub async fn due_leads(&self, now: Millis, limit: usize) -> Result<Vec<String>, StorageError> {
        read!(self, r => r.due_leads(now, limit))
    }

    /// A webhook's cursor (the start, for a webhook never seen).
    pub async fn cursor(&self, url: &str) -> Result<Cursor, StorageError> {
        read!(self, r => r.cursor(url))
    }

    // Webhook operations (issue 23).

    /// Up to `limit` of a webhook's dead letters with seq > `after`, in seq order; with
    /// `replay`, only those an operator asked to replay.
    pub async fn dead_letters(
        &self,
        url: &str,
        after: u64,
        limit: usize,
        replay: bool,
    ) -> Result<Vec<DeadLetter>, StorageError> {
        read!(self, r => r.dead_letters(url, after, limit, replay))
    }

    // Shadow packs (issue 27.5).

    /// The tally of the shadow version `pack` (empty when nothing was scored with it).
    pub async fn shadow_tally(&self, pack: &str) -> Result<ShadowTally, StorageError> {
        read!(self, r => r.shadow_tally(pack))
    }

    // The funnel (issue 27).

    /// The hand-offs made in `[from, to)`, in `mql_at` order (then lead id).
    pub async fn handoffs(&self, from: Millis, to: Millis) -> Result<Vec<HandOff>, StorageError> {
        read!(self, r => r.handoffs(from, to))
    }

    /// Up to `limit` open hand-offs (no sales action yet) of `route` (`""`: hand-offs
    /// without a route), the earliest `sla_due` first, those without an SLA last (then by
    /// `mql_at`, then lead id): the sales queue.
    pub async fn open_handoffs(&self, route: &str, limit: usize) -> Result<Vec<HandOff>, StorageError> {
        read!(self, r => r.open_handoffs(route, limit))
    }

    // Targets (issue 27.3).

    /// Up to `limit` alerts with seq ≥ `from`, in seq order, as stored (JSON).
    pub async fn alerts(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        read!(self, r => r.alerts(from, limit))
    }

    /// The seq of the newest alert (0 when there is none).
    pub async fn last_alert(&self) -> Result<u64, StorageError> {
        read!(self, r => r.last_alert())
    }

    /// Every target's last published state.
    pub async fn target_states(&self) -> Result<Vec<TargetState>, StorageError> {
        read!(self, r => r.target_states())
    }

    // The console (issue 28).

    /// The results computed in the hours starting in `[from, to)` (ms), and how many of
    /// them each rule fired in, summed over every instance.
    pub async fn rule_fires(&self, from: Millis, to: Millis) -> Result<RuleFires, StorageError> {
        read!(self, r => r.rule_fires(from, to))
    }
}

/// Targets (issue 27.3): the start of the name a webhook's alert stream keeps its cursor,
/// lease and dead letters under (`alerts URL`, never a URL). A backup leaves them out, as
/// it leaves out the alert log they point into.
pub const ALERT_STREAM: &str = "alerts ";

/// An id unlikely to repeat: the time and a random hash seed.
pub(crate) fn new_id() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    h.write_u32(std::process::id());
    format!("{:016x}", h.finish())
}

fn encode<T: serde::Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain records to a Vec cannot fail: string keys, finite numbers.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: serde::de::DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StorageError> {
    serde_json::from_slice(bytes).map_err(|e| StorageError::decode(what, e))
}

/// How far the re-scoring of every lead with one pack got (see [`Txn::rescore_claim`]):
/// stored by both backends under the name `rescore`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Rescore {
    /// The pack the leads are scored again with (`name@version`).
    pack: String,
    /// The last lead id claimed.
    after: Option<String>,
    /// Every lead was claimed.
    done: bool,
}

impl Rescore {
    /// The state for `pack`: this one, or a new start if it was for another pack.
    fn for_pack(self, pack: &str) -> Rescore {
        if self.pack == pack {
            return self;
        }
        Rescore {
            pack: pack.to_string(),
            after: None,
            done: false,
        }
    }

    /// Records a claim of `ids` (the next leads after `after`; none: the end).
    fn claimed(&mut self, ids: &[String]) {
        match ids.last() {
            Some(last) => self.after = Some(last.clone()),
            None => self.done = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Rescore;

    #[test]
    fn a_rescoring_goes_on_for_its_pack_and_starts_over_for_another() {
        let mut state = Rescore::default().for_pack("p@1");
        assert_eq!((state.after.as_deref(), state.done), (None, false));
        state.claimed(&["a".into(), "b".into()]);
        state = state.for_pack("p@1");
        assert_eq!(state.after.as_deref(), Some("b"));
        state.claimed(&[]);
        assert!(state.clone().for_pack("p@1").done);
        let other = state.for_pack("p@2");
        assert_eq!((other.after, other.done), (None, false));
    }
}
