//! The only owner of the service's database (redb, one file in the data folder) and its
//! transactions. Writes happen inside [`Store::write`]: one transaction, committed with
//! redb's default `Immediate` durability (fsync) before it returns, or not at all. Reads
//! take a [`Reader`], a consistent snapshot that never blocks the writer.
//!
//! | table | key | value |
//! |---|---|---|
//! | `leads` | lead id | [`LeadRecord`] |
//! | `events` | (lead id, event seq) | the event as received (JSON) |
//! | `event_ids` | (lead id, event `id`) | the event's seq: retries are recognised |
//! | `history` | (lead id, entry number) | [`HistoryEntry`] |
//! | `transitions` | seq (from 1) | [`Transition`]: the outbox |
//! | `sla_due` | (due ms, lead id) | MQLs whose SLA is pending, by due time |
//! | `cursors` | webhook URL | [`Cursor`] |
//! | `meta` | name | text (`instance`: this database's id, for `Idempotency-Key`s) |

use std::ops::RangeBounds;
use std::path::{Path, PathBuf};

use redb::{Database, ReadTransaction, ReadableTable, ReadableTableMetadata, Table, TableDefinition};
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::model::{Cursor, HistoryEntry, LeadRecord, Transition};

const LEADS: TableDefinition<&str, &[u8]> = TableDefinition::new("leads");
const EVENTS: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("events");
const EVENT_IDS: TableDefinition<(&str, &str), u64> = TableDefinition::new("event_ids");
const HISTORY: TableDefinition<(&str, u64), &[u8]> = TableDefinition::new("history");
const TRANSITIONS: TableDefinition<u64, &[u8]> = TableDefinition::new("transitions");
const SLA_DUE: TableDefinition<(i64, &str), ()> = TableDefinition::new("sla_due");
const CURSORS: TableDefinition<&str, &[u8]> = TableDefinition::new("cursors");
const META: TableDefinition<&str, &str> = TableDefinition::new("meta");

/// The database file inside the data folder.
pub const FILE_NAME: &str = "leadscore.redb";

/// A storage failure: the disk, the file, or a record that does not decode.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The data folder could not be created.
    #[error("cannot create data folder {}: {source}", path.display())]
    Folder {
        /// The folder.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// redb reported an error (boxed: redb's error is large, and this one travels far).
    #[error("storage: {0}")]
    Db(Box<redb::Error>),
    /// A stored record did not decode (a bug, or a file written by another program).
    #[error("storage: a stored {what} does not decode: {message}")]
    Decode {
        /// Which kind of record.
        what: &'static str,
        /// serde's message.
        message: String,
    },
}

macro_rules! db_error {
    ($($t:ty),*) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> StoreError {
                StoreError::Db(Box::new(e.into()))
            }
        }
    )*};
}
db_error!(
    redb::DatabaseError,
    redb::TransactionError,
    redb::TableError,
    redb::StorageError,
    redb::CommitError
);

/// The service's database.
pub struct Store {
    db: Database,
    instance: String,
}

impl Store {
    /// Opens (or creates) the database in `dir`, creating the folder and every table.
    pub fn open(dir: &Path) -> Result<Store, StoreError> {
        std::fs::create_dir_all(dir).map_err(|source| StoreError::Folder {
            path: dir.to_path_buf(),
            source,
        })?;
        let db = redb::Builder::new()
            .create_with_file_format_v3(true)
            .create(dir.join(FILE_NAME))?;
        let txn = db.begin_write()?;
        let instance = {
            txn.open_table(LEADS)?;
            txn.open_table(EVENTS)?;
            txn.open_table(EVENT_IDS)?;
            txn.open_table(HISTORY)?;
            txn.open_table(TRANSITIONS)?;
            txn.open_table(SLA_DUE)?;
            txn.open_table(CURSORS)?;
            let mut meta = txn.open_table(META)?;
            let existing = meta.get("instance")?.map(|v| v.value().to_string());
            match existing {
                Some(id) => id,
                None => {
                    let id = new_instance_id();
                    meta.insert("instance", id.as_str())?;
                    id
                }
            }
        };
        txn.commit()?;
        Ok(Store { db, instance })
    }

    /// This database's id: part of every webhook `Idempotency-Key`, so keys from two data
    /// folders never collide.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// Runs `f` in one write transaction and commits it durably; on an error nothing
    /// `f` wrote is kept.
    pub fn write<T>(&self, f: impl FnOnce(&mut Tables<'_>) -> Result<T, StoreError>) -> Result<T, StoreError> {
        let txn = self.db.begin_write()?;
        let out = {
            let mut tables = Tables {
                leads: txn.open_table(LEADS)?,
                events: txn.open_table(EVENTS)?,
                event_ids: txn.open_table(EVENT_IDS)?,
                history: txn.open_table(HISTORY)?,
                transitions: txn.open_table(TRANSITIONS)?,
                sla_due: txn.open_table(SLA_DUE)?,
                cursors: txn.open_table(CURSORS)?,
            };
            f(&mut tables)?
        };
        txn.commit()?;
        Ok(out)
    }

    /// A consistent snapshot to read from.
    pub fn read(&self) -> Result<Reader, StoreError> {
        Ok(Reader {
            txn: self.db.begin_read()?,
        })
    }
}

/// An id unlikely to repeat: the creation time and a random hash seed.
fn new_instance_id() -> String {
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

fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    // Serializing these plain records to a Vec cannot fail: string keys, finite numbers.
    serde_json::to_vec(value).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(what: &'static str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Decode {
        what,
        message: e.to_string(),
    })
}

/// The tables, open in one write transaction.
pub struct Tables<'t> {
    leads: Table<'t, &'static str, &'static [u8]>,
    events: Table<'t, (&'static str, u64), &'static [u8]>,
    event_ids: Table<'t, (&'static str, &'static str), u64>,
    history: Table<'t, (&'static str, u64), &'static [u8]>,
    transitions: Table<'t, u64, &'static [u8]>,
    sla_due: Table<'t, (i64, &'static str), ()>,
    cursors: Table<'t, &'static str, &'static [u8]>,
}

impl Tables<'_> {
    /// A lead's record, as written so far in this transaction.
    pub fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StoreError> {
        self.leads.get(id)?.map(|v| decode("lead", v.value())).transpose()
    }

    /// Writes a lead's record.
    pub fn put_lead(&mut self, id: &str, record: &LeadRecord) -> Result<(), StoreError> {
        self.leads.insert(id, encode(record).as_slice())?;
        Ok(())
    }

    /// Whether the lead already has an event with this `id`.
    pub fn has_event_id(&self, lead: &str, event_id: &str) -> Result<bool, StoreError> {
        Ok(self.event_ids.get((lead, event_id))?.is_some())
    }

    /// Stores an event as received, under its seq, remembering its `id` if it has one.
    pub fn put_event(&mut self, lead: &str, seq: u64, event: &[u8], event_id: Option<&str>) -> Result<(), StoreError> {
        self.events.insert((lead, seq), event)?;
        if let Some(event_id) = event_id {
            self.event_ids.insert((lead, event_id), seq)?;
        }
        Ok(())
    }

    /// Removes a lead's events with seq in `from..to` (the oldest, past the limit). Their
    /// ids stay remembered, so a retry of a dropped event is still recognised.
    pub fn drop_events(&mut self, lead: &str, from: u64, to: u64) -> Result<(), StoreError> {
        for seq in from..to {
            self.events.remove((lead, seq))?;
        }
        Ok(())
    }

    /// A lead's events with seq from `from` on, in order, as stored.
    pub fn events_from(&self, lead: &str, from: u64) -> Result<Vec<Vec<u8>>, StoreError> {
        let mut out = Vec::new();
        for entry in self.events.range((lead, from)..=(lead, u64::MAX))? {
            out.push(entry?.1.value().to_vec());
        }
        Ok(out)
    }

    /// Appends a history entry as number `n`, dropping entry `n - keep` if there is one.
    pub fn push_history(&mut self, lead: &str, n: u64, entry: &HistoryEntry, keep: u64) -> Result<(), StoreError> {
        self.history.insert((lead, n), encode(entry).as_slice())?;
        if let Some(old) = n.checked_sub(keep) {
            self.history.remove((lead, old))?;
        }
        Ok(())
    }

    /// The seq the next transition gets.
    pub fn next_transition(&self) -> Result<u64, StoreError> {
        Ok(self.transitions.last()?.map_or(1, |(k, _)| k.value() + 1))
    }

    /// Appends a transition to the outbox (its `seq` must be [`Tables::next_transition`]).
    pub fn push_transition(&mut self, transition: &Transition) -> Result<(), StoreError> {
        self.transitions.insert(transition.seq, encode(transition).as_slice())?;
        Ok(())
    }

    /// Moves a lead's entry in the SLA index: from `old` due time to `new`.
    pub fn move_sla(&mut self, lead: &str, old: Option<i64>, new: Option<i64>) -> Result<(), StoreError> {
        if old == new {
            return Ok(());
        }
        if let Some(old) = old {
            self.sla_due.remove((old, lead))?;
        }
        if let Some(new) = new {
            self.sla_due.insert((new, lead), ())?;
        }
        Ok(())
    }

    /// Stores a webhook's cursor.
    pub fn put_cursor(&mut self, url: &str, cursor: &Cursor) -> Result<(), StoreError> {
        self.cursors.insert(url, encode(cursor).as_slice())?;
        Ok(())
    }
}

/// A consistent read-only snapshot.
pub struct Reader {
    txn: ReadTransaction,
}

impl Reader {
    /// A lead's record.
    pub fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StoreError> {
        let t = self.txn.open_table(LEADS)?;
        let found = t.get(id)?;
        found.map(|v| decode("lead", v.value())).transpose()
    }

    /// How many leads there are.
    pub fn lead_count(&self) -> Result<u64, StoreError> {
        Ok(self.txn.open_table(LEADS)?.len()?)
    }

    /// Up to `limit` lead ids after `after` (exclusive), in id order.
    pub fn lead_ids(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StoreError> {
        let t = self.txn.open_table(LEADS)?;
        let range = match after {
            Some(a) => t.range::<&str>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded))?,
            None => t.range::<&str>(..)?,
        };
        let mut out = Vec::new();
        for entry in range.take(limit) {
            out.push(entry?.0.value().to_string());
        }
        Ok(out)
    }

    /// Up to `limit` of a lead's events with seq ≥ `from`, with their seqs.
    pub fn events(&self, lead: &str, from: u64, limit: usize) -> Result<Vec<(u64, serde_json::Value)>, StoreError> {
        let t = self.txn.open_table(EVENTS)?;
        let mut out = Vec::new();
        for entry in t.range((lead, from)..=(lead, u64::MAX))?.take(limit) {
            let (k, v) = entry?;
            out.push((k.value().1, decode("event", v.value())?));
        }
        Ok(out)
    }

    /// Up to `limit` of a lead's history entries with number ≥ `from`, with their numbers.
    pub fn history(&self, lead: &str, from: u64, limit: usize) -> Result<Vec<(u64, HistoryEntry)>, StoreError> {
        let t = self.txn.open_table(HISTORY)?;
        let mut out = Vec::new();
        for entry in t.range((lead, from)..=(lead, u64::MAX))?.take(limit) {
            let (k, v) = entry?;
            out.push((k.value().1, decode("history entry", v.value())?));
        }
        Ok(out)
    }

    /// Up to `limit` transitions with seq in `range`, in seq order, as stored (JSON).
    pub fn transitions(&self, range: impl RangeBounds<u64>, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        let t = self.txn.open_table(TRANSITIONS)?;
        let mut out = Vec::new();
        for entry in t.range(range)?.take(limit) {
            let (k, v) = entry?;
            out.push((k.value(), v.value().to_vec()));
        }
        Ok(out)
    }

    /// The seq of the newest transition (0 when there is none).
    pub fn last_transition(&self) -> Result<u64, StoreError> {
        let t = self.txn.open_table(TRANSITIONS)?;
        let last = t.last()?.map_or(0, |(k, _)| k.value());
        Ok(last)
    }

    /// Up to `limit` leads whose SLA is due by `now`.
    pub fn sla_due_by(&self, now: i64, limit: usize) -> Result<Vec<String>, StoreError> {
        let t = self.txn.open_table(SLA_DUE)?;
        let mut out = Vec::new();
        for entry in t.range((i64::MIN, "")..(now.saturating_add(1), ""))?.take(limit) {
            out.push(entry?.0.value().1.to_string());
        }
        Ok(out)
    }

    /// A webhook's cursor (the start, for a webhook never seen).
    pub fn cursor(&self, url: &str) -> Result<Cursor, StoreError> {
        let t = self.txn.open_table(CURSORS)?;
        let found = t.get(url)?;
        Ok(found
            .map(|v| decode("cursor", v.value()))
            .transpose()?
            .unwrap_or_default())
    }
}
