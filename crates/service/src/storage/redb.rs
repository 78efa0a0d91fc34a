//! The embedded backend: one redb file in the data folder, owned by one process. Writes
//! happen inside [`RedbStore::write`]: one transaction, committed with redb's default
//! `Immediate` durability (fsync) before it returns, or not at all. Reads take a
//! [`Snapshot`] that never blocks the writer. One writer at a time (redb's), so seqs are
//! given in commit order.
//!
//! After an I/O error (a full disk) redb refuses every later write ("previous I/O
//! error"); the store then drops the database and opens the file again on the next write,
//! which works once the disk has room (redb repairs the file from its last commit).
//!
//! | table | key | value |
//! |---|---|---|
//! | `leads` | lead id | [`LeadRecord`] |
//! | `events` | (lead id, event seq) | the event as received (JSON) |
//! | `event_keys` | (lead id, event `id`) | the event's seq (8 bytes, little-endian): retries are recognised; then the SHA-256 of the event as sent (32 bytes): a reused id with another payload is refused |
//! | `history` | (lead id, entry number) | [`HistoryEntry`] |
//! | `transitions` | seq (from 1) | [`Transition`]: the outbox |
//! | `due` | (due ms, lead id) | leads by the time they may change without new data |
//! | `cursors` | webhook URL | [`Cursor`] |
//! | `meta` | name | text (`instance`: this database's id; `schema`: its version; `rescore`: how far re-scoring with the live pack got) |
//! | `dead_letters` | (webhook URL, seq) | [`DeadLetter`]: transitions a webhook gave up on |
//! | `shadow` | shadow pack version | [`ShadowTally`]: the shadow report's counts |
//! | `handoffs` | (mql ms, lead id) | [`HandOff`]: the funnel's index of hand-offs |
//! | `open_handoffs` | (route, SLA due ms or `i64::MAX`, mql ms, lead id) | the hand-offs without a sales action yet |
//! | `target_states` | target name | [`TargetState`]: the status its last alert published |
//! | `alerts` | seq (from 1) | [`Alert`]: the alert log |
//! | `rule_fires` | (hour ms, rule name) | results computed in the hour in which the rule fired (the last 8 days) |
//! | `results_scored` | hour ms | results computed in the hour (the last 8 days) |

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use redb::{Database, ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition};

use super::backup::{self, Counts, Dump, Item};
use super::{decode, encode, new_id, Rescore, StorageError, StorageErrorKind, Txn};
use crate::model::{
    Alert, Cursor, DeadLetter, HandOff, HistoryEntry, LeadRecord, Millis, RuleFires, ShadowTally, TargetState,
    Transition,
};

const LEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("leads");
const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
/// Schema 4's event ids and digests, folded into `event_keys` by schema 5.
const OLD_EVENT_IDS: TableDefinition<(&str, &str), u64> = TableDefinition::new("event_ids");
const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");
const TRANSITIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("transitions");
const DUE: TableDefinition<(i64, &str), ()> = TableDefinition::new("due");
const CURSORS: TableDefinition<&str, &[u8]> = TableDefinition::new("cursors");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");
// Webhook operations and event payloads (issue 23).
const OLD_EVENT_DIGESTS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("event_digests");
/// Storage and scale (issue 22): an event id's seq and digest in one row, so a write of an
/// event with an id changes one table's pages, not two (see [`EventKey`]).
const EVENT_KEYS: TableDefinition<(&str, &str), &[u8]> = TableDefinition::new("event_keys");
const DEAD_LETTERS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("dead_letters");
/// Shadow packs (issue 27.5): the tally per shadow version.
const SHADOW: TableDefinition<&str, &[u8]> = TableDefinition::new("shadow");
const HANDOFFS: TableDefinition<(i64, &str), &[u8]> = TableDefinition::new("handoffs");
const OPEN_HANDOFFS: TableDefinition<(&str, i64, i64, &str), ()> = TableDefinition::new("open_handoffs");
/// Targets (issue 27.3): each target's last published state, and the alert log.
const TARGET_STATES: TableDefinition<&str, &[u8]> = TableDefinition::new("target_states");
const ALERTS: TableDefinition<u64, &[u8]> = TableDefinition::new("alerts");
// The console (issue 28): how often each rule fired, per hour.
const RULE_FIRES: TableDefinition<(i64, &str), u64> = TableDefinition::new("rule_fires");
const RESULTS_SCORED: TableDefinition<i64, u64> = TableDefinition::new("results_scored");
/// Schema 1's SLA index, folded into `due` by schema 2.
const OLD_SLA_DUE: TableDefinition<(i64, &str), ()> = TableDefinition::new("sla_due");

/// The database file inside the data folder.
pub const FILE_NAME: &str = "leadscore.redb";
/// The size of a readiness probe's record (see [`Txn::probe`]).
const PROBE_BYTES: usize = 1 << 20;
/// The schema this version writes: 2 added `due` (and dropped `sla_due`), 3 the
/// hand-offs (`handoffs`, `open_handoffs`), 4 the targets (`target_states`, `alerts`,
/// empty at first), 5 `event_keys` (folding `event_ids` and `event_digests`).
const SCHEMA: &str = "5";

/// The embedded store.
pub struct RedbStore {
    path: PathBuf,
    /// The open database; `None` after an I/O error until it is opened again.
    db: RwLock<Option<Arc<Database>>>,
    instance: String,
}

/// Maps redb's errors onto the interface's kinds, naming the file.
fn error(path: &Path, e: impl Into<redb::Error>) -> StorageError {
    let e: redb::Error = e.into();
    let kind = match &e {
        redb::Error::Corrupted(_)
        | redb::Error::TableTypeMismatch { .. }
        | redb::Error::TableIsMultimap(_)
        | redb::Error::TableIsNotMultimap(_)
        | redb::Error::TypeDefinitionChanged { .. }
        | redb::Error::UpgradeRequired(_) => StorageErrorKind::Damaged,
        redb::Error::DatabaseAlreadyOpen => StorageErrorKind::Config,
        _ => StorageErrorKind::Unavailable,
    };
    let what = match &e {
        redb::Error::DatabaseAlreadyOpen => "is open in another process (another `leadscore serve`?)".to_string(),
        redb::Error::Corrupted(m) => format!("is damaged: {m}"),
        other => format!("cannot be used: {other}"),
    };
    StorageError::new(kind, format!("database {} {what}", path.display()))
}

impl RedbStore {
    /// Opens (or creates) the database in `dir`, creating the folder and every table. A
    /// file that is empty, truncated or damaged is refused, naming the file.
    pub fn open(dir: &Path) -> Result<RedbStore, StorageError> {
        std::fs::create_dir_all(dir).map_err(|e| {
            StorageError::new(
                StorageErrorKind::Config,
                format!("cannot create data folder {}: {e}", dir.display()),
            )
        })?;
        let path = dir.join(FILE_NAME);
        check_file(&path)?;
        let db = open_file(&path, true)?;
        let instance = prepare(&path, &db)?;
        Ok(RedbStore {
            path,
            db: RwLock::new(Some(Arc::new(db))),
            instance,
        })
    }

    /// Opens the database in `dir`, which must hold one already (the command line reads
    /// a stopped service's folder; a missing one is an error, not a new database).
    pub fn open_existing(dir: &Path) -> Result<RedbStore, StorageError> {
        if !dir.join(FILE_NAME).is_file() {
            return Err(StorageError::new(
                StorageErrorKind::Config,
                format!("{} holds no leadscore database (no {FILE_NAME})", dir.display()),
            ));
        }
        RedbStore::open(dir)
    }

    /// This database's id.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The open database, opening the file again if an I/O error closed it.
    fn db(&self) -> Result<Arc<Database>, StorageError> {
        if let Some(db) = self.db.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
            return Ok(Arc::clone(db));
        }
        let mut slot = self.db.write().unwrap_or_else(|e| e.into_inner());
        if let Some(db) = slot.as_ref() {
            return Ok(Arc::clone(db));
        }
        // Opened again after an I/O error: whatever stops it now (a full disk for the
        // repair, a reader still holding the old file) may pass; the caller retries.
        let db =
            open_file(&self.path, false).map_err(|e| StorageError::new(StorageErrorKind::Unavailable, e.message))?;
        let db = Arc::new(db);
        *slot = Some(Arc::clone(&db));
        Ok(db)
    }

    /// After an I/O error: let go of the database, so the next use opens it again.
    fn close_after(&self, e: &StorageError) {
        if e.kind == StorageErrorKind::Unavailable {
            *self.db.write().unwrap_or_else(|e| e.into_inner()) = None;
        }
    }

    /// Runs `f` in one write transaction and commits it durably.
    pub fn write<T>(&self, mut f: impl FnMut(&mut dyn Txn) -> Result<T, StorageError>) -> Result<T, StorageError> {
        let out = self.try_write(&mut f);
        if let Err(e) = &out {
            self.close_after(e);
        }
        out
    }

    fn try_write<T>(&self, f: &mut impl FnMut(&mut dyn Txn) -> Result<T, StorageError>) -> Result<T, StorageError> {
        let db = self.db()?;
        let e = |e: redb::Error| error(&self.path, e);
        let txn = db.begin_write().map_err(|x| e(x.into()))?;
        let out = {
            let mut tables = Tables {
                path: &self.path,
                leads: txn.open_table(LEADS).map_err(|x| e(x.into()))?,
                events: txn.open_table(EVENTS).map_err(|x| e(x.into()))?,
                event_keys: txn.open_table(EVENT_KEYS).map_err(|x| e(x.into()))?,
                history: txn.open_table(HISTORY).map_err(|x| e(x.into()))?,
                transitions: txn.open_table(TRANSITIONS).map_err(|x| e(x.into()))?,
                due: txn.open_table(DUE).map_err(|x| e(x.into()))?,
                cursors: txn.open_table(CURSORS).map_err(|x| e(x.into()))?,
                meta: txn.open_table(META).map_err(|x| e(x.into()))?,
                dead_letters: txn.open_table(DEAD_LETTERS).map_err(|x| e(x.into()))?,
                shadow: txn.open_table(SHADOW).map_err(|x| e(x.into()))?,
                handoffs: txn.open_table(HANDOFFS).map_err(|x| e(x.into()))?,
                open_handoffs: txn.open_table(OPEN_HANDOFFS).map_err(|x| e(x.into()))?,
                target_states: txn.open_table(TARGET_STATES).map_err(|x| e(x.into()))?,
                alerts: txn.open_table(ALERTS).map_err(|x| e(x.into()))?,
                rule_fires: txn.open_table(RULE_FIRES).map_err(|x| e(x.into()))?,
                results_scored: txn.open_table(RESULTS_SCORED).map_err(|x| e(x.into()))?,
            };
            f(&mut tables)?
        };
        txn.commit().map_err(|x| e(x.into()))?;
        Ok(out)
    }

    /// Writes a backup from one snapshot (storage and scale, issue 22).
    pub fn backup(&self, sink: &mut backup::Sink<'_>) -> Result<Counts, StorageError> {
        let snapshot = self.read()?;
        let mut dump = Dump::start(sink, "redb", &self.instance)?;
        snapshot.dump(&mut dump)?;
        dump.finish()
    }

    /// A consistent snapshot to read from.
    pub fn read(&self) -> Result<Snapshot, StorageError> {
        let db = self.db()?;
        let txn = db.begin_read().map_err(|e| error(&self.path, e));
        if let Err(e) = &txn {
            self.close_after(e);
        }
        Ok(Snapshot {
            txn: txn?,
            path: self.path.clone(),
        })
    }
}

/// Refuses a file that cannot be a redb database before redb reads it: an empty one
/// (redb would start it as a new, empty database) or one shorter than redb's header.
fn check_file(path: &Path) -> Result<(), StorageError> {
    let len = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => {
            return Err(StorageError::new(
                StorageErrorKind::Unavailable,
                format!("database {} cannot be read: {e}", path.display()),
            ))
        }
    };
    let refuse = |what: &str| {
        Err(StorageError::new(
            StorageErrorKind::Damaged,
            format!(
                "database {} is {what}; refusing to start on it (restore a backup, or move it away to start empty)",
                path.display()
            ),
        ))
    };
    // redb's header: a 9-byte magic number, then the god byte, then two commit slots.
    const HEADER: u64 = 320;
    const MAGIC: &[u8] = b"redb\x1A\x0A\xA9\x0D\x0A";
    if len == 0 {
        return refuse("empty (0 bytes)");
    }
    if len < HEADER {
        return refuse(&format!("truncated ({len} bytes, shorter than redb's header)"));
    }
    let mut start = [0u8; 9];
    let read = std::fs::File::open(path).and_then(|mut f| std::io::Read::read_exact(&mut f, &mut start));
    if read.is_err() || start != MAGIC {
        return refuse("not a redb database (its first bytes are not redb's magic number)");
    }
    Ok(())
}

/// Opens the file with redb. redb asserts some of its invariants on the file (a file
/// truncated past its header fails one): such a panic becomes the error that names the
/// file. At start (`quiet`) its message is kept off stderr too: the panic hook is
/// swapped for the call, before the service starts any thread that could panic.
fn open_file(path: &Path, quiet: bool) -> Result<Database, StorageError> {
    let hook = quiet.then(|| {
        let hook = std::panic::take_hook();
        std::panic::set_hook(Box::new(|_| {}));
        hook
    });
    let opened = std::panic::catch_unwind(|| redb::Builder::new().create_with_file_format_v3(true).create(path));
    if let Some(hook) = hook {
        std::panic::set_hook(hook);
    }
    match opened {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(e)) => Err(error(path, e)),
        Err(_) => Err(StorageError::new(
            StorageErrorKind::Damaged,
            format!(
                "database {} is damaged (redb could not read its structure); refusing to start on it (restore a backup, or move it away to start empty)",
                path.display()
            ),
        )),
    }
}

/// Creates every table, migrates an older schema, and reads (or makes) the instance id.
fn prepare(path: &Path, db: &Database) -> Result<String, StorageError> {
    let e = |x: redb::Error| error(path, x);
    let txn = db.begin_write().map_err(|x| e(x.into()))?;
    let instance = {
        let mut leads = txn.open_table(LEADS).map_err(|x| e(x.into()))?;
        for table in [EVENTS, HISTORY] {
            txn.open_table(table).map_err(|x| e(x.into()))?;
        }
        let mut keys = txn.open_table(EVENT_KEYS).map_err(|x| e(x.into()))?;
        txn.open_table(TRANSITIONS).map_err(|x| e(x.into()))?;
        txn.open_table(CURSORS).map_err(|x| e(x.into()))?;
        txn.open_table(DEAD_LETTERS).map_err(|x| e(x.into()))?;
        txn.open_table(SHADOW).map_err(|x| e(x.into()))?;
        txn.open_table(TARGET_STATES).map_err(|x| e(x.into()))?;
        txn.open_table(ALERTS).map_err(|x| e(x.into()))?;
        txn.open_table(RULE_FIRES).map_err(|x| e(x.into()))?;
        txn.open_table(RESULTS_SCORED).map_err(|x| e(x.into()))?;
        let mut due = txn.open_table(DUE).map_err(|x| e(x.into()))?;
        let mut meta = txn.open_table(META).map_err(|x| e(x.into()))?;
        let schema = meta
            .get("schema")
            .map_err(|x| e(x.into()))?
            .map(|v| v.value().to_string());
        refuse_newer(path, schema.as_deref())?;
        if matches!(schema.as_deref(), None | Some("1")) {
            index_due(path, &mut leads, &mut due)?;
        }
        if matches!(schema.as_deref(), None | Some("1" | "2" | "3" | "4")) {
            fold_event_keys(path, &txn, &mut keys)?;
        }
        if schema.as_deref() != Some(SCHEMA) {
            let transitions = txn.open_table(TRANSITIONS).map_err(|x| e(x.into()))?;
            let mut handoffs = txn.open_table(HANDOFFS).map_err(|x| e(x.into()))?;
            let mut open = txn.open_table(OPEN_HANDOFFS).map_err(|x| e(x.into()))?;
            if handoffs.is_empty().map_err(|x| e(x.into()))? {
                index_handoffs(path, &transitions, &mut leads, &mut handoffs, &mut open)?;
            }
            meta.insert("schema", SCHEMA).map_err(|x| e(x.into()))?;
        }
        let existing = meta
            .get("instance")
            .map_err(|x| e(x.into()))?
            .map(|v| v.value().to_string());
        match existing {
            Some(id) => id,
            None => {
                let id = new_id();
                meta.insert("instance", id.as_str()).map_err(|x| e(x.into()))?;
                id
            }
        }
    };
    txn.delete_table(OLD_SLA_DUE).map_err(|x| e(x.into()))?;
    txn.delete_table(OLD_EVENT_IDS).map_err(|x| e(x.into()))?;
    txn.delete_table(OLD_EVENT_DIGESTS).map_err(|x| e(x.into()))?;
    txn.commit().map_err(|x| e(x.into()))?;
    Ok(instance)
}

/// Refuses a database a later version wrote (its schema above [`SCHEMA`]): this one
/// would not know its tables, and would write without what they hold.
fn refuse_newer(path: &Path, schema: Option<&str>) -> Result<(), StorageError> {
    let newer = match (schema.map(str::parse::<u64>), SCHEMA.parse::<u64>()) {
        (Some(Ok(found)), Ok(known)) => found > known,
        (Some(Err(_)), _) => true,
        _ => false,
    };
    if !newer {
        return Ok(());
    }
    Err(StorageError::new(
        StorageErrorKind::Config,
        format!(
            "database {} has schema {}, newer than this version's ({SCHEMA}); refusing to start on it (run the version that wrote it, or restore a backup it took)",
            path.display(),
            schema.unwrap_or_default()
        ),
    ))
}

/// Schema 4 → 5: each event id's seq (`event_ids`) and digest (`event_digests`) into one
/// row of `event_keys`; the old tables are dropped by [`prepare`] after.
fn fold_event_keys(
    path: &Path,
    txn: &redb::WriteTransaction,
    keys: &mut Table<'_, (&'static str, &'static str), &'static [u8]>,
) -> Result<(), StorageError> {
    let e = |x: redb::Error| error(path, x);
    let ids = txn.open_table(OLD_EVENT_IDS).map_err(|x| e(x.into()))?;
    let digests = txn.open_table(OLD_EVENT_DIGESTS).map_err(|x| e(x.into()))?;
    for entry in ids.iter().map_err(|x| e(x.into()))? {
        let (k, seq) = entry.map_err(|x| e(x.into()))?;
        let (lead, id) = k.value();
        let digest = digests.get((lead, id)).map_err(|x| e(x.into()))?;
        let key = EventKey {
            seq: Some(seq.value()),
            digest: digest.as_ref().and_then(|d| <[u8; 32]>::try_from(d.value()).ok()),
        };
        keys.insert((lead, id), key.bytes().as_slice())
            .map_err(|x| e(x.into()))?;
    }
    // A digest without its id (never written by itself, but kept if there is one).
    for entry in digests.iter().map_err(|x| e(x.into()))? {
        let (k, digest) = entry.map_err(|x| e(x.into()))?;
        let (lead, id) = k.value();
        if ids.get((lead, id)).map_err(|x| e(x.into()))?.is_none() {
            if let Ok(digest) = <[u8; 32]>::try_from(digest.value()) {
                let key = EventKey {
                    seq: None,
                    digest: Some(digest),
                };
                keys.insert((lead, id), key.bytes().as_slice())
                    .map_err(|x| e(x.into()))?;
            }
        }
    }
    Ok(())
}

/// A row of `event_keys`: the seq of the event stored under the id (`None`: only a
/// digest was stored), and the digest of what was sent with it (`None`: stored before
/// digests were, or restored without one). Written as the seq's 8 bytes (little-endian),
/// then the digest's 32; a row of 32 bytes is a digest alone.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct EventKey {
    seq: Option<u64>,
    digest: Option<[u8; 32]>,
}

impl EventKey {
    fn read(bytes: &[u8]) -> EventKey {
        let seq = |b: &[u8]| <[u8; 8]>::try_from(b).ok().map(u64::from_le_bytes);
        let digest = |b: &[u8]| <[u8; 32]>::try_from(b).ok();
        match bytes.len() {
            8 => EventKey {
                seq: seq(bytes),
                digest: None,
            },
            32 => EventKey {
                seq: None,
                digest: digest(bytes),
            },
            _ => EventKey {
                seq: bytes.get(..8).and_then(seq),
                digest: bytes.get(8..).and_then(digest),
            },
        }
    }

    fn bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(40);
        if let Some(seq) = self.seq {
            out.extend_from_slice(&seq.to_le_bytes());
        }
        if let Some(digest) = &self.digest {
            out.extend_from_slice(digest);
        }
        out
    }
}

/// Schema 1 → 2: every lead is due now, so the scheduler scores it once and sets its
/// `due` (schema 1 swept every lead anyway).
fn index_due(
    path: &Path,
    leads: &mut Table<'_, &'static str, &'static [u8]>,
    due: &mut Table<'_, (i64, &'static str), ()>,
) -> Result<(), StorageError> {
    let e = |x: redb::StorageError| error(path, x);
    let mut all = Vec::new();
    for entry in leads.iter().map_err(e)? {
        let (k, v) = entry.map_err(e)?;
        let record: LeadRecord = decode("lead", v.value())?;
        all.push((k.value().to_string(), record));
    }
    for (id, mut record) in all {
        record.due = Some(record.as_of);
        leads.insert(id.as_str(), encode(&record).as_slice()).map_err(e)?;
        due.insert((record.as_of, id.as_str()), ()).map_err(e)?;
    }
    Ok(())
}

/// Schema 2 → 3: the hand-offs the outbox records (see `funnel::replay`), and each
/// lead's latest.
fn index_handoffs(
    path: &Path,
    transitions: &Table<'_, u64, &'static [u8]>,
    leads: &mut Table<'_, &'static str, &'static [u8]>,
    handoffs: &mut Table<'_, (i64, &'static str), &'static [u8]>,
    open: &mut Table<'_, (&'static str, i64, i64, &'static str), ()>,
) -> Result<(), StorageError> {
    let e = |x: redb::StorageError| error(path, x);
    let mut all = Vec::new();
    for entry in transitions.iter().map_err(e)? {
        let (_, v) = entry.map_err(e)?;
        all.push(decode::<Transition>("transition", v.value())?);
    }
    let (list, latest) = crate::model::replay(all);
    for h in &list {
        put_handoff(path, handoffs, open, h)?;
    }
    for (lead, mql_at) in latest {
        let found = leads.get(lead.as_str()).map_err(e)?.map(|v| v.value().to_vec());
        if let Some(bytes) = found {
            let mut record: LeadRecord = decode("lead", &bytes)?;
            record.handoff = Some(mql_at);
            leads.insert(lead.as_str(), encode(&record).as_slice()).map_err(e)?;
        }
    }
    Ok(())
}

/// The key of a hand-off in `open_handoffs`.
fn open_key(h: &HandOff) -> (&str, i64, i64, &str) {
    (
        h.route.as_deref().unwrap_or(""),
        h.sla_due.unwrap_or(i64::MAX),
        h.mql_at,
        h.lead.as_str(),
    )
}

fn put_handoff(
    path: &Path,
    handoffs: &mut Table<'_, (i64, &'static str), &'static [u8]>,
    open: &mut Table<'_, (&'static str, i64, i64, &'static str), ()>,
    h: &HandOff,
) -> Result<(), StorageError> {
    let e = |x: redb::StorageError| error(path, x);
    handoffs
        .insert((h.mql_at, h.lead.as_str()), encode(h).as_slice())
        .map_err(e)?;
    if h.open() {
        open.insert(open_key(h), ()).map_err(e)?;
    } else {
        open.remove(open_key(h)).map_err(e)?;
    }
    Ok(())
}

/// The tables, open in one write transaction.
struct Tables<'t> {
    path: &'t Path,
    leads: Table<'t, &'static str, &'static [u8]>,
    events: Table<'t, (&'static str, u64), &'static [u8]>,
    event_keys: Table<'t, (&'static str, &'static str), &'static [u8]>,
    history: Table<'t, (&'static str, u64), &'static [u8]>,
    transitions: Table<'t, u64, &'static [u8]>,
    due: Table<'t, (i64, &'static str), ()>,
    cursors: Table<'t, &'static str, &'static [u8]>,
    meta: Table<'t, &'static str, &'static str>,
    dead_letters: Table<'t, (&'static str, u64), &'static [u8]>,
    shadow: Table<'t, &'static str, &'static [u8]>,
    handoffs: Table<'t, (i64, &'static str), &'static [u8]>,
    open_handoffs: Table<'t, (&'static str, i64, i64, &'static str), ()>,
    target_states: Table<'t, &'static str, &'static [u8]>,
    alerts: Table<'t, u64, &'static [u8]>,
    rule_fires: Table<'t, (i64, &'static str), u64>,
    results_scored: Table<'t, i64, u64>,
}

impl Tables<'_> {
    fn e(&self, x: redb::StorageError) -> StorageError {
        error(self.path, x)
    }

    /// The `event_keys` row of a lead's event id (an empty one when there is none).
    fn event_key(&self, lead: &str, event_id: &str) -> Result<EventKey, StorageError> {
        let found = self.event_keys.get((lead, event_id)).map_err(|x| self.e(x))?;
        Ok(found.map(|v| EventKey::read(v.value())).unwrap_or_default())
    }

    fn put_event_key(&mut self, lead: &str, event_id: &str, key: EventKey) -> Result<(), StorageError> {
        self.event_keys
            .insert((lead, event_id), key.bytes().as_slice())
            .map_err(|x| error(self.path, x))?;
        Ok(())
    }
}

impl Txn for Tables<'_> {
    /// One writer at a time already (redb's write lock).
    fn lock_leads(&mut self, _ids: &[&str]) -> Result<(), StorageError> {
        Ok(())
    }

    fn due_leads(&mut self, now: Millis, limit: usize) -> Result<Vec<String>, StorageError> {
        let mut out = Vec::new();
        let range = self.due.range((i64::MIN, "")..(now.saturating_add(1), ""));
        for entry in range.map_err(|x| self.e(x))?.take(limit) {
            out.push(entry.map_err(|x| self.e(x))?.0.value().1.to_string());
        }
        Ok(out)
    }

    fn lead(&mut self, id: &str) -> Result<Option<LeadRecord>, StorageError> {
        let found = self.leads.get(id).map_err(|x| self.e(x))?;
        found.map(|v| decode("lead", v.value())).transpose()
    }

    fn put_lead(&mut self, id: &str, record: &LeadRecord, indexed_due: Option<Millis>) -> Result<(), StorageError> {
        self.leads
            .insert(id, encode(record).as_slice())
            .map_err(|x| error(self.path, x))?;
        if indexed_due != record.due {
            if let Some(old) = indexed_due {
                self.due.remove((old, id)).map_err(|x| error(self.path, x))?;
            }
            if let Some(new) = record.due {
                self.due.insert((new, id), ()).map_err(|x| error(self.path, x))?;
            }
        }
        Ok(())
    }

    fn delete_lead(&mut self, id: &str, indexed_due: Option<Millis>) -> Result<(), StorageError> {
        let e = |x| error(self.path, x);
        self.leads.remove(id).map_err(e)?;
        if let Some(due) = indexed_due {
            self.due.remove((due, id)).map_err(e)?;
        }
        self.events
            .retain_in((id, 0)..=(id, u64::MAX), |_, _| false)
            .map_err(e)?;
        self.history
            .retain_in((id, 0)..=(id, u64::MAX), |_, _| false)
            .map_err(e)?;
        // Every (id, event id) key sorts between (id, "") and (id + "\0", "").
        let next = format!("{id}\0");
        self.event_keys
            .retain_in((id, "")..(next.as_str(), ""), |_, _| false)
            .map_err(e)?;
        Ok(())
    }

    fn has_event_id(&mut self, lead: &str, event_id: &str) -> Result<bool, StorageError> {
        Ok(self.event_key(lead, event_id)?.seq.is_some())
    }

    fn put_event(&mut self, lead: &str, seq: u64, event: &[u8], event_id: Option<&str>) -> Result<(), StorageError> {
        self.events
            .insert((lead, seq), event)
            .map_err(|x| error(self.path, x))?;
        if let Some(event_id) = event_id {
            let key = EventKey {
                seq: Some(seq),
                ..self.event_key(lead, event_id)?
            };
            self.put_event_key(lead, event_id, key)?;
        }
        Ok(())
    }

    fn drop_events(&mut self, lead: &str, from: u64, to: u64) -> Result<(), StorageError> {
        for seq in from..to {
            self.events.remove((lead, seq)).map_err(|x| error(self.path, x))?;
        }
        Ok(())
    }

    fn events_from(&mut self, lead: &str, from: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        let mut out = Vec::new();
        let range = self.events.range((lead, from)..=(lead, u64::MAX));
        for entry in range.map_err(|x| self.e(x))? {
            out.push(entry.map_err(|x| self.e(x))?.1.value().to_vec());
        }
        Ok(out)
    }

    fn push_history(&mut self, lead: &str, n: u64, entry: &HistoryEntry, keep: u64) -> Result<(), StorageError> {
        self.history
            .insert((lead, n), encode(entry).as_slice())
            .map_err(|x| error(self.path, x))?;
        if let Some(old) = n.checked_sub(keep) {
            self.history.remove((lead, old)).map_err(|x| error(self.path, x))?;
        }
        Ok(())
    }

    /// redb has one writer at a time and readers see only commits: the next seq after
    /// the newest stored is the next in commit order.
    fn push_transitions(&mut self, transitions: &mut [Transition]) -> Result<(), StorageError> {
        let last = self.transitions.last().map_err(|x| self.e(x))?;
        let mut seq = last.map_or(0, |(k, _)| k.value());
        for t in transitions {
            seq += 1;
            t.seq = seq;
            self.transitions
                .insert(seq, encode(t).as_slice())
                .map_err(|x| error(self.path, x))?;
        }
        Ok(())
    }

    /// Stores [`PROBE_BYTES`] under `probe` (replacing the last probe's): a write of
    /// that size needs room on the disk, where a few bytes could fit in the file's free
    /// pages while real writes fail.
    fn probe(&mut self, now: Millis) -> Result<(), StorageError> {
        let mut value = now.to_string();
        value.extend(std::iter::repeat_n(' ', PROBE_BYTES));
        self.meta
            .insert("probe", value.as_str())
            .map_err(|x| error(self.path, x))?;
        Ok(())
    }

    fn put_cursor(&mut self, url: &str, cursor: &Cursor) -> Result<(), StorageError> {
        self.cursors
            .insert(url, encode(cursor).as_slice())
            .map_err(|x| error(self.path, x))?;
        Ok(())
    }

    // Storage and scale (issue 22): re-scoring after a pack change.

    /// The state is `meta["rescore"]`; one writer at a time, so a claim is this
    /// transaction's alone.
    fn rescore_claim(&mut self, pack: &str, limit: usize) -> Result<Vec<String>, StorageError> {
        let stored: Rescore = match self.meta.get("rescore").map_err(|x| self.e(x))? {
            Some(v) => decode("re-scoring state", v.value().as_bytes())?,
            None => Rescore::default(),
        };
        let mut state = stored.for_pack(pack);
        if state.done {
            return Ok(Vec::new());
        }
        let range = match state.after.as_deref() {
            Some(a) => self
                .leads
                .range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => self.leads.range::<&str>(..),
        };
        let mut ids = Vec::new();
        for entry in range.map_err(|x| self.e(x))?.take(limit) {
            ids.push(entry.map_err(|x| self.e(x))?.0.value().to_string());
        }
        state.claimed(&ids);
        let text = String::from_utf8(encode(&state)).unwrap_or_default();
        self.meta
            .insert("rescore", text.as_str())
            .map_err(|x| error(self.path, x))?;
        Ok(ids)
    }

    // Storage and scale (issue 22): restoring a backup.

    fn is_empty(&mut self) -> Result<bool, StorageError> {
        let leads = self.leads.len().map_err(|x| self.e(x))?;
        let transitions = self.transitions.len().map_err(|x| self.e(x))?;
        Ok(leads == 0 && transitions == 0)
    }

    fn restore(&mut self, item: &Item) -> Result<(), StorageError> {
        let e = |x| error(self.path, x);
        match item {
            Item::Lead { id, record } => {
                self.leads.insert(id.as_str(), encode(record).as_slice()).map_err(e)?;
                if let Some(due) = record.due {
                    self.due.insert((due, id.as_str()), ()).map_err(e)?;
                }
            }
            Item::Event { lead, seq, body } => {
                self.events.insert((lead.as_str(), *seq), body.as_bytes()).map_err(e)?;
            }
            Item::EventId { lead, id, seq, digest } => {
                let key = EventKey {
                    seq: Some(*seq),
                    ..self.event_key(lead, id)?
                };
                self.put_event_key(lead, id, key)?;
                if let Some(digest) = digest {
                    self.put_event_digest(lead, id, &backup::unhex(digest)?)?;
                }
            }
            Item::History { lead, n, entry } => {
                self.history
                    .insert((lead.as_str(), *n), encode(entry).as_slice())
                    .map_err(e)?;
            }
            Item::Transition { seq, body } => {
                self.transitions.insert(*seq, body.as_bytes()).map_err(e)?;
            }
            Item::Cursor { url, cursor } => {
                self.cursors
                    .insert(url.as_str(), encode(cursor).as_slice())
                    .map_err(e)?;
            }
            Item::Rescore(state) => {
                let text = String::from_utf8(encode(state)).unwrap_or_default();
                self.meta.insert("rescore", text.as_str()).map_err(e)?;
            }
            Item::HandOff(handoff) => self.put_handoff(handoff)?,
            Item::DeadLetter { url, letter } => self.put_dead_letter(url, letter)?,
            Item::Shadow(tally) => self.add_shadow(tally)?,
            Item::Header(_) | Item::End(_) => {}
        }
        Ok(())
    }

    fn renew_instance(&mut self) -> Result<String, StorageError> {
        let id = new_id();
        self.meta
            .insert("instance", id.as_str())
            .map_err(|x| error(self.path, x))?;
        Ok(id)
    }

    // Webhook operations and event payloads (issue 23).

    fn stored_cursor(&mut self, url: &str) -> Result<Option<Cursor>, StorageError> {
        let found = self.cursors.get(url).map_err(|x| self.e(x))?;
        found.map(|v| decode("cursor", v.value())).transpose()
    }

    fn set_cursor(&mut self, url: &str, cursor: &Cursor) -> Result<(), StorageError> {
        self.put_cursor(url, cursor)
    }

    /// One instance owns the file.
    fn lease_held(&mut self, _url: &str) -> Result<bool, StorageError> {
        Ok(true)
    }

    fn dead_letter(&mut self, url: &str, seq: u64) -> Result<Option<DeadLetter>, StorageError> {
        let found = self.dead_letters.get((url, seq)).map_err(|x| self.e(x))?;
        found.map(|v| decode("dead letter", v.value())).transpose()
    }

    fn put_dead_letter(&mut self, url: &str, letter: &DeadLetter) -> Result<(), StorageError> {
        self.dead_letters
            .insert((url, letter.seq), encode(letter).as_slice())
            .map_err(|x| error(self.path, x))?;
        Ok(())
    }

    fn delete_dead_letter(&mut self, url: &str, seq: u64) -> Result<(), StorageError> {
        self.dead_letters.remove((url, seq)).map_err(|x| error(self.path, x))?;
        Ok(())
    }

    fn event_digest(&mut self, lead: &str, event_id: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(self.event_key(lead, event_id)?.digest.map(|d| d.to_vec()))
    }

    fn put_event_digest(&mut self, lead: &str, event_id: &str, digest: &[u8]) -> Result<(), StorageError> {
        let digest = <[u8; 32]>::try_from(digest)
            .map_err(|_| StorageError::decode("event digest", format!("{} bytes, not 32", digest.len())))?;
        let key = EventKey {
            digest: Some(digest),
            ..self.event_key(lead, event_id)?
        };
        self.put_event_key(lead, event_id, key)
    }

    // Shadow packs (issue 27.5).

    /// One writer at a time: read, add, write back.
    fn add_shadow(&mut self, delta: &ShadowTally) -> Result<(), StorageError> {
        let stored = self
            .shadow
            .get(delta.pack.as_str())
            .map_err(|x| error(self.path, x))?
            .map(|v| decode::<ShadowTally>("shadow tally", v.value()));
        let mut tally = stored.transpose()?.unwrap_or_else(|| ShadowTally::new(&delta.pack));
        tally.merge(delta);
        self.shadow
            .insert(delta.pack.as_str(), encode(&tally).as_slice())
            .map_err(|x| error(self.path, x))?;
        Ok(())
    }

    // The funnel (issue 27).

    fn handoff(&mut self, lead: &str, mql_at: Millis) -> Result<Option<HandOff>, StorageError> {
        let found = self.handoffs.get((mql_at, lead)).map_err(|x| self.e(x))?;
        found.map(|v| decode("hand-off", v.value())).transpose()
    }

    fn put_handoff(&mut self, handoff: &HandOff) -> Result<(), StorageError> {
        put_handoff(self.path, &mut self.handoffs, &mut self.open_handoffs, handoff)
    }

    // Targets (issue 27.3).

    /// One writer at a time already (redb's write lock).
    fn lock_target_states(&mut self) -> Result<Vec<TargetState>, StorageError> {
        let mut out = Vec::new();
        for entry in self.target_states.iter().map_err(|x| self.e(x))? {
            out.push(decode("target state", entry.map_err(|x| self.e(x))?.1.value())?);
        }
        Ok(out)
    }

    fn put_target_state(&mut self, state: &TargetState) -> Result<(), StorageError> {
        self.target_states
            .insert(state.name.as_str(), encode(state).as_slice())
            .map_err(|x| error(self.path, x))?;
        Ok(())
    }

    fn push_alert(&mut self, alert: &mut Alert) -> Result<(), StorageError> {
        let last = self.alerts.last().map_err(|x| self.e(x))?.map_or(0, |(k, _)| k.value());
        alert.seq = last + 1;
        self.alerts
            .insert(alert.seq, encode(alert).as_slice())
            .map_err(|x| error(self.path, x))?;
        Ok(())
    }

    // The console (issue 28).

    /// One writer at a time: read, add, write back; hours past `keep_from` dropped.
    fn add_rule_fires(&mut self, hour: Millis, fires: &RuleFires, keep_from: Millis) -> Result<(), StorageError> {
        let e = |x| error(self.path, x);
        self.rule_fires
            .retain_in((i64::MIN, "")..(keep_from, ""), |_, _| false)
            .map_err(e)?;
        self.results_scored.retain_in(..keep_from, |_, _| false).map_err(e)?;
        for (rule, n) in &fires.rules {
            let stored = self
                .rule_fires
                .get((hour, rule.as_str()))
                .map_err(e)?
                .map(|v| v.value());
            self.rule_fires
                .insert((hour, rule.as_str()), stored.unwrap_or(0) + n)
                .map_err(e)?;
        }
        let stored = self.results_scored.get(hour).map_err(e)?.map(|v| v.value());
        self.results_scored
            .insert(hour, stored.unwrap_or(0) + fires.results)
            .map_err(e)?;
        Ok(())
    }

    // Storage and scale (issue 22): the writer's cache of leads.

    /// One writer, the cache's owner: what it holds is what the file holds.
    fn lead_stamp(&mut self, _id: &str) -> Result<Option<i64>, StorageError> {
        Ok(Some(0))
    }
}

/// A consistent read-only snapshot.
pub struct Snapshot {
    txn: ReadTransaction,
    path: PathBuf,
}

impl Snapshot {
    fn e(&self, x: impl Into<redb::Error>) -> StorageError {
        error(&self.path, x)
    }

    /// A lead's record.
    pub fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StorageError> {
        let t = self.txn.open_table(LEADS).map_err(|x| self.e(x))?;
        let found = t.get(id).map_err(|x| self.e(x))?;
        found.map(|v| decode("lead", v.value())).transpose()
    }

    /// How many leads there are.
    pub fn lead_count(&self) -> Result<u64, StorageError> {
        let t = self.txn.open_table(LEADS).map_err(|x| self.e(x))?;
        t.len().map_err(|x| self.e(x))
    }

    /// Up to `limit` lead ids after `after` (exclusive), in id order.
    pub fn lead_ids(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StorageError> {
        let t = self.txn.open_table(LEADS).map_err(|x| self.e(x))?;
        let range = match after {
            Some(a) => t.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
            None => t.range::<&str>(..),
        };
        let mut out = Vec::new();
        for entry in range.map_err(|x| self.e(x))?.take(limit) {
            out.push(entry.map_err(|x| self.e(x))?.0.value().to_string());
        }
        Ok(out)
    }

    /// Up to `limit` of a lead's events with seq ≥ `from`, with their seqs.
    pub fn events(&self, lead: &str, from: u64, limit: usize) -> Result<Vec<(u64, serde_json::Value)>, StorageError> {
        let t = self.txn.open_table(EVENTS).map_err(|x| self.e(x))?;
        let mut out = Vec::new();
        for entry in t
            .range((lead, from)..=(lead, u64::MAX))
            .map_err(|x| self.e(x))?
            .take(limit)
        {
            let (k, v) = entry.map_err(|x| self.e(x))?;
            out.push((k.value().1, decode("event", v.value())?));
        }
        Ok(out)
    }

    /// Up to `limit` of a lead's history entries with number ≥ `from`.
    pub fn history(&self, lead: &str, from: u64, limit: usize) -> Result<Vec<(u64, HistoryEntry)>, StorageError> {
        let t = self.txn.open_table(HISTORY).map_err(|x| self.e(x))?;
        let mut out = Vec::new();
        for entry in t
            .range((lead, from)..=(lead, u64::MAX))
            .map_err(|x| self.e(x))?
            .take(limit)
        {
            let (k, v) = entry.map_err(|x| self.e(x))?;
            out.push((k.value().1, decode("history entry", v.value())?));
        }
        Ok(out)
    }

    /// Up to `limit` transitions with seq ≥ `from`, in seq order, as stored (JSON).
    pub fn transitions(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let t = self.txn.open_table(TRANSITIONS).map_err(|x| self.e(x))?;
        let mut out = Vec::new();
        for entry in t.range(from..).map_err(|x| self.e(x))?.take(limit) {
            let (k, v) = entry.map_err(|x| self.e(x))?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The seq of the newest transition (0 when there is none).
    pub fn last_transition(&self) -> Result<u64, StorageError> {
        let t = self.txn.open_table(TRANSITIONS).map_err(|x| self.e(x))?;
        let last = t.last().map_err(|x| self.e(x))?;
        Ok(last.map_or(0, |(k, _)| k.value()))
    }

    /// Up to `limit` leads due by `now`.
    pub fn due_leads(&self, now: Millis, limit: usize) -> Result<Vec<String>, StorageError> {
        let t = self.txn.open_table(DUE).map_err(|x| self.e(x))?;
        let mut out = Vec::new();
        let range = t.range((i64::MIN, "")..(now.saturating_add(1), ""));
        for entry in range.map_err(|x| self.e(x))?.take(limit) {
            out.push(entry.map_err(|x| self.e(x))?.0.value().1.to_string());
        }
        Ok(out)
    }

    /// Every table but the leases and the instance id, as backup items (storage and
    /// scale, issue 22).
    fn dump(&self, dump: &mut Dump<'_, '_>) -> Result<(), StorageError> {
        let e = |x: redb::StorageError| error(&self.path, x);
        let leads = self.txn.open_table(LEADS).map_err(|x| self.e(x))?;
        for entry in leads.iter().map_err(e)? {
            let (k, v) = entry.map_err(e)?;
            let record = decode("lead", v.value())?;
            dump.put(&Item::Lead {
                id: k.value().to_string(),
                record,
            })?;
        }
        let events = self.txn.open_table(EVENTS).map_err(|x| self.e(x))?;
        for entry in events.iter().map_err(e)? {
            let (k, v) = entry.map_err(e)?;
            let (lead, seq) = k.value();
            let body = backup::text("event", v.value().to_vec())?;
            dump.put(&Item::Event {
                lead: lead.to_string(),
                seq,
                body,
            })?;
        }
        let keys = self.txn.open_table(EVENT_KEYS).map_err(|x| self.e(x))?;
        for entry in keys.iter().map_err(e)? {
            let (k, v) = entry.map_err(e)?;
            let (lead, id) = k.value();
            let key = EventKey::read(v.value());
            // As before the tables were one: a digest without its id is not backed up.
            let Some(seq) = key.seq else { continue };
            let digest = key.digest.map(|d| backup::hex(&d));
            let (lead, id) = (lead.to_string(), id.to_string());
            dump.put(&Item::EventId { lead, id, seq, digest })?;
        }
        let history = self.txn.open_table(HISTORY).map_err(|x| self.e(x))?;
        for entry in history.iter().map_err(e)? {
            let (k, v) = entry.map_err(e)?;
            let (lead, n) = k.value();
            let entry = decode("history entry", v.value())?;
            dump.put(&Item::History {
                lead: lead.to_string(),
                n,
                entry,
            })?;
        }
        let transitions = self.txn.open_table(TRANSITIONS).map_err(|x| self.e(x))?;
        for entry in transitions.iter().map_err(e)? {
            let (k, v) = entry.map_err(e)?;
            let body = backup::text("transition", v.value().to_vec())?;
            dump.put(&Item::Transition { seq: k.value(), body })?;
        }
        let cursors = self.txn.open_table(CURSORS).map_err(|x| self.e(x))?;
        for entry in cursors.iter().map_err(e)? {
            let (k, v) = entry.map_err(e)?;
            // Not the alert streams': the alert log is not backed up.
            if k.value().starts_with(super::ALERT_STREAM) {
                continue;
            }
            let cursor = decode("cursor", v.value())?;
            dump.put(&Item::Cursor {
                url: k.value().to_string(),
                cursor,
            })?;
        }
        let meta = self.txn.open_table(META).map_err(|x| self.e(x))?;
        if let Some(state) = meta.get("rescore").map_err(e)? {
            dump.put(&Item::Rescore(decode("re-scoring state", state.value().as_bytes())?))?;
        }
        let handoffs = self.txn.open_table(HANDOFFS).map_err(|x| self.e(x))?;
        for entry in handoffs.iter().map_err(e)? {
            let (_, v) = entry.map_err(e)?;
            dump.put(&Item::HandOff(decode("hand-off", v.value())?))?;
        }
        let letters = self.txn.open_table(DEAD_LETTERS).map_err(|x| self.e(x))?;
        for entry in letters.iter().map_err(e)? {
            let (k, v) = entry.map_err(e)?;
            let (url, letter) = (k.value().0.to_string(), decode("dead letter", v.value())?);
            dump.put(&Item::DeadLetter { url, letter })?;
        }
        let shadow = self.txn.open_table(SHADOW).map_err(|x| self.e(x))?;
        for entry in shadow.iter().map_err(e)? {
            let (_, v) = entry.map_err(e)?;
            dump.put(&Item::Shadow(decode("shadow tally", v.value())?))?;
        }
        Ok(())
    }

    /// A webhook's cursor (the start, for a webhook never seen).
    pub fn cursor(&self, url: &str) -> Result<Cursor, StorageError> {
        let t = self.txn.open_table(CURSORS).map_err(|x| self.e(x))?;
        let found = t.get(url).map_err(|x| self.e(x))?;
        Ok(found
            .map(|v| decode("cursor", v.value()))
            .transpose()?
            .unwrap_or_default())
    }

    // Webhook operations (issue 23).

    /// Up to `limit` of a webhook's dead letters with seq > `after`, in seq order; only
    /// those an operator asked to replay when `replay` is set.
    pub fn dead_letters(
        &self,
        url: &str,
        after: u64,
        limit: usize,
        replay: bool,
    ) -> Result<Vec<DeadLetter>, StorageError> {
        let t = self.txn.open_table(DEAD_LETTERS).map_err(|x| self.e(x))?;
        let mut out = Vec::new();
        for entry in t
            .range((url, after.saturating_add(1))..=(url, u64::MAX))
            .map_err(|x| self.e(x))?
        {
            if out.len() >= limit {
                break;
            }
            let letter: DeadLetter = decode("dead letter", entry.map_err(|x| self.e(x))?.1.value())?;
            if letter.replay || !replay {
                out.push(letter);
            }
        }
        Ok(out)
    }

    // The funnel (issue 27).

    /// The hand-offs made in `[from, to)`, in `mql_at` order.
    pub fn handoffs(&self, from: Millis, to: Millis) -> Result<Vec<HandOff>, StorageError> {
        let t = self.txn.open_table(HANDOFFS).map_err(|x| self.e(x))?;
        let mut out = Vec::new();
        if from >= to {
            return Ok(out);
        }
        for entry in t.range((from, "")..(to, "")).map_err(|x| self.e(x))? {
            out.push(decode("hand-off", entry.map_err(|x| self.e(x))?.1.value())?);
        }
        Ok(out)
    }

    // Shadow packs (issue 27.5).

    /// The tally of the shadow version `pack`.
    pub fn shadow_tally(&self, pack: &str) -> Result<ShadowTally, StorageError> {
        let t = self.txn.open_table(SHADOW).map_err(|x| self.e(x))?;
        let found = t.get(pack).map_err(|x| self.e(x))?;
        Ok(found
            .map(|v| decode("shadow tally", v.value()))
            .transpose()?
            .unwrap_or_else(|| ShadowTally::new(pack)))
    }

    // Targets (issue 27.3).

    /// Up to `limit` alerts with seq ≥ `from`, in seq order, as stored (JSON).
    pub fn alerts(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let t = self.txn.open_table(ALERTS).map_err(|x| self.e(x))?;
        let mut out = Vec::new();
        for entry in t.range(from..).map_err(|x| self.e(x))?.take(limit) {
            let (k, v) = entry.map_err(|x| self.e(x))?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The seq of the newest alert (0 when there is none).
    pub fn last_alert(&self) -> Result<u64, StorageError> {
        let t = self.txn.open_table(ALERTS).map_err(|x| self.e(x))?;
        let last = t.last().map_err(|x| self.e(x))?;
        Ok(last.map_or(0, |(k, _)| k.value()))
    }

    /// Every target's last published state.
    pub fn target_states(&self) -> Result<Vec<TargetState>, StorageError> {
        let t = self.txn.open_table(TARGET_STATES).map_err(|x| self.e(x))?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(|x| self.e(x))? {
            out.push(decode("target state", entry.map_err(|x| self.e(x))?.1.value())?);
        }
        Ok(out)
    }

    // The console (issue 28).

    /// The results computed in the hours starting in `[from, to)`, and per rule.
    pub fn rule_fires(&self, from: Millis, to: Millis) -> Result<RuleFires, StorageError> {
        let mut out = RuleFires::default();
        if from >= to {
            return Ok(out);
        }
        let rules = self.txn.open_table(RULE_FIRES).map_err(|x| self.e(x))?;
        for entry in rules.range((from, "")..(to, "")).map_err(|x| self.e(x))? {
            let (k, v) = entry.map_err(|x| self.e(x))?;
            *out.rules.entry(k.value().1.to_string()).or_default() += v.value();
        }
        let results = self.txn.open_table(RESULTS_SCORED).map_err(|x| self.e(x))?;
        for entry in results.range(from..to).map_err(|x| self.e(x))? {
            out.results += entry.map_err(|x| self.e(x))?.1.value();
        }
        Ok(out)
    }

    /// Up to `limit` open hand-offs of `route`, the earliest `sla_due` first.
    pub fn open_handoffs(&self, route: &str, limit: usize) -> Result<Vec<HandOff>, StorageError> {
        let open = self.txn.open_table(OPEN_HANDOFFS).map_err(|x| self.e(x))?;
        let all = self.txn.open_table(HANDOFFS).map_err(|x| self.e(x))?;
        let range = open.range((route, i64::MIN, i64::MIN, "")..);
        let mut out = Vec::new();
        for entry in range.map_err(|x| self.e(x))? {
            let key = entry.map_err(|x| self.e(x))?.0;
            let (of, _, mql_at, lead) = key.value();
            if of != route || out.len() == limit {
                break;
            }
            if let Some(v) = all.get((mql_at, lead)).map_err(|x| self.e(x))? {
                out.push(decode("hand-off", v.value())?);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::{Kind, Stage};

    /// Rewrites `store`'s file as a version of schema `schema` would have left it (`change`
    /// then undoes what later schemas added), and closes it, to be opened again.
    fn as_schema(store: RedbStore, schema: &str, change: impl FnOnce(&redb::WriteTransaction)) {
        let db = store.db().unwrap();
        let txn = db.begin_write().unwrap();
        change(&txn);
        txn.open_table(META).unwrap().insert("schema", schema).unwrap();
        txn.commit().unwrap();
        drop((db, store));
    }

    fn transition(lead: &str, kind: Kind, at: &str, acted_at: Option<&str>, reason: &str) -> Transition {
        Transition {
            seq: 0,
            lead: lead.into(),
            kind,
            from: Stage::Lead,
            to: Stage::Mql,
            at: at.into(),
            score: Some(35.0),
            route: Some("east".into()),
            sla_due: Some("2026-03-01T02:00:00.000Z".into()),
            pack: "p@1".into(),
            reason: reason.into(),
            acted_at: acted_at.map(str::to_string),
            by: None,
        }
    }

    #[test]
    fn a_database_without_hand_offs_gets_them_from_the_outbox_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        // What a schema-2 database holds: leads and the outbox, no hand-offs.
        store
            .write(|t| {
                t.put_lead("a", &LeadRecord::new(0), None)?;
                t.put_lead("b", &LeadRecord::new(0), None)?;
                t.push_transitions(&mut [
                    transition(
                        "a",
                        Kind::Stage(Stage::Mql),
                        "2026-03-01T00:00:00Z",
                        None,
                        "the MQL condition holds",
                    ),
                    transition(
                        "b",
                        Kind::Stage(Stage::Mql),
                        "2026-03-01T00:01:00Z",
                        None,
                        "the MQL condition holds",
                    ),
                    transition(
                        "a",
                        Kind::Stage(Stage::Rejected),
                        "2026-03-01T00:10:00Z",
                        Some("2026-03-01T00:09:00Z"),
                        "no budget",
                    ),
                    transition("b", Kind::SlaBreached, "2026-03-01T02:01:00Z", None, "late"),
                ])
            })
            .unwrap();
        as_schema(store, "2", |txn| {
            txn.delete_table(HANDOFFS).unwrap();
            txn.delete_table(OPEN_HANDOFFS).unwrap();
        });

        let store = RedbStore::open(dir.path()).unwrap();
        let read = store.read().unwrap();
        let all = read.handoffs(i64::MIN, i64::MAX).unwrap();
        let at = |t: &str| crate::model::leadscore_time(t).unwrap();
        assert_eq!(all.len(), 2);
        assert_eq!((all[0].lead.as_str(), all[0].mql_at), ("a", at("2026-03-01T00:00:00Z")));
        assert_eq!(all[0].first_action, Some((Stage::Rejected, at("2026-03-01T00:09:00Z"))));
        assert_eq!(all[0].rejection_reason.as_deref(), Some("no budget"));
        assert!(all[1].open());
        assert_eq!(
            read.lead("b").unwrap().unwrap().handoff,
            Some(at("2026-03-01T00:01:00Z"))
        );
        let queue: Vec<String> = read
            .open_handoffs("east", 10)
            .unwrap()
            .into_iter()
            .map(|h| h.lead)
            .collect();
        assert_eq!(queue, ["b"]);
    }

    #[test]
    fn a_schema_4_database_gets_its_event_ids_and_digests_in_one_table_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        // What a schema-4 database holds: ids and digests in two tables.
        as_schema(store, "4", |txn| {
            txn.delete_table(EVENT_KEYS).unwrap();
            let mut ids = txn.open_table(OLD_EVENT_IDS).unwrap();
            ids.insert(("a", "e1"), 0).unwrap();
            ids.insert(("a", "e2"), 1).unwrap();
            ids.insert(("b", "e1"), 7).unwrap();
            let mut digests = txn.open_table(OLD_EVENT_DIGESTS).unwrap();
            digests.insert(("a", "e1"), [1u8; 32].as_slice()).unwrap();
            digests.insert(("b", "e1"), [2u8; 32].as_slice()).unwrap();
        });

        let store = RedbStore::open(dir.path()).unwrap();
        let found = store
            .write(|t| {
                let mut out = Vec::new();
                for (lead, id) in [("a", "e1"), ("a", "e2"), ("b", "e1"), ("b", "e2")] {
                    out.push((t.has_event_id(lead, id)?, t.event_digest(lead, id)?));
                }
                // A new event with an id and a digest, and the lead erased.
                t.put_event("c", 0, b"{}", Some("x"))?;
                t.put_event_digest("c", "x", &[3u8; 32])?;
                Ok(out)
            })
            .unwrap();
        assert_eq!(
            found,
            [
                (true, Some(vec![1u8; 32])),
                (true, None),
                (true, Some(vec![2u8; 32])),
                (false, None)
            ]
        );
        let db = store.db().unwrap();
        let read = db.begin_read().unwrap();
        assert!(read.open_table(OLD_EVENT_IDS).is_err(), "the old tables are gone");
        assert!(read.open_table(OLD_EVENT_DIGESTS).is_err());
        let keys = read.open_table(EVENT_KEYS).unwrap();
        let c = EventKey::read(keys.get(("c", "x")).unwrap().unwrap().value());
        assert_eq!(
            c,
            EventKey {
                seq: Some(0),
                digest: Some([3u8; 32])
            }
        );
        drop((keys, read, db));
        store.write(|t| t.delete_lead("c", None)).unwrap();
        let gone = store.write(|t| t.has_event_id("c", "x")).unwrap();
        assert!(!gone, "erased with its lead");
    }

    #[test]
    fn a_database_of_a_later_schema_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let store = RedbStore::open(dir.path()).unwrap();
        as_schema(store, "99", |_| {});
        let Err(e) = RedbStore::open(dir.path()) else {
            panic!("a database of schema 99 was opened");
        };
        assert_eq!(e.kind, StorageErrorKind::Config);
        assert!(
            e.message
                .contains("leadscore.redb has schema 99, newer than this version's (5)"),
            "{}",
            e.message
        );
    }

    #[test]
    fn an_event_key_reads_back_as_written() {
        for key in [
            EventKey {
                seq: Some(5),
                digest: None,
            },
            EventKey {
                seq: None,
                digest: Some([9u8; 32]),
            },
            EventKey {
                seq: Some(u64::MAX),
                digest: Some([0u8; 32]),
            },
        ] {
            assert_eq!(EventKey::read(&key.bytes()), key);
        }
    }
}
