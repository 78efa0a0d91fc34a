//! The writer's cache of leads (storage and scale, issue 22): each lead's record and its
//! kept events as the last commit left them, so the next write to the lead neither reads
//! nor decodes them again from the storage.
//!
//! An entry is current only if its lead's stored record still has the entry's stamp
//! (see [`crate::storage::Txn::lead_stamp`]): Postgres gives every write of a lead row a
//! new stamp, so for a lead another instance wrote since the record is read again, and
//! the entry's events are brought up to date with those the other instance added (see
//! [`crate::storage::Txn::events_since`]); redb has one writer, the cache's owner, whose
//! every commit puts back what it wrote. An entry is taken out
//! for the transaction that uses it and put back only after that transaction committed,
//! so a transaction rolled back (or run again after a conflict) never leaves behind what
//! it did not store.
//!
//! Bounded by an estimate of its bytes: past [`MAX_BYTES`], a random half of the entries
//! goes (a lead missing from the cache is read from the storage, as without it).

use std::collections::{HashMap, VecDeque};

use super::model::LeadRecord;

/// A map of leads by id: aHash, keyed at random per map (ids come from clients), faster
/// than the standard SipHash for the short ids the writer looks up several times a write.
pub type LeadMap<V> = HashMap<String, V, ahash::RandomState>;

/// The most bytes the entries may take, by `Cached::bytes`.
pub const MAX_BYTES: usize = 256 << 20;

/// Bytes counted for a record besides its events: the decoded fields, result and
/// standing of a typical lead.
const RECORD_BYTES: usize = 4 << 10;

/// One lead as the last commit left it.
#[derive(Clone, Debug)]
pub struct Cached {
    /// The stamp of the stored record it is a copy of.
    pub stamp: i64,
    /// The record.
    pub record: LeadRecord,
    /// The kept events (seq `record.events.first` on) as stored, when they were read.
    pub events: Option<KeptEvents>,
}

impl Cached {
    /// An estimate of the memory it takes.
    fn bytes(&self) -> usize {
        RECORD_BYTES + self.events.as_ref().map_or(0, KeptEvents::bytes)
    }
}

/// A lead's kept events, oldest first, as the text of a JSON array's items: each event's
/// text (checked UTF-8) and a comma between two. Held in one piece, so the lead's text
/// for scoring is one copy of it (the events of a lead are most of its text), not one
/// copy per event from wherever each was allocated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeptEvents {
    /// `e1,e2,...,en`.
    text: String,
    /// Each event's length in `text`, oldest first.
    lens: VecDeque<usize>,
}

impl KeptEvents {
    /// The events in order, each the text it was stored as.
    pub fn from_texts<T: AsRef<str>>(events: impl IntoIterator<Item = T>) -> KeptEvents {
        let events: Vec<T> = events.into_iter().collect();
        let mut kept = KeptEvents {
            text: String::with_capacity(events.iter().map(|e| e.as_ref().len() + 1).sum()),
            lens: VecDeque::with_capacity(events.len()),
        };
        for event in &events {
            kept.push(event.as_ref());
        }
        kept
    }

    /// Adds the newest event.
    pub fn push(&mut self, event: &str) {
        if !self.lens.is_empty() {
            self.text.push(',');
        }
        self.text.push_str(event);
        self.lens.push_back(event.len());
    }

    /// Drops the `n` oldest events (all of them if there are fewer).
    pub fn drop_oldest(&mut self, n: usize) {
        if n >= self.lens.len() {
            *self = KeptEvents::default();
            return;
        }
        let bytes: usize = self.lens.drain(..n).map(|len| len + 1).sum();
        self.text.drain(..bytes);
    }

    /// How many events it holds.
    pub fn len(&self) -> usize {
        self.lens.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.lens.is_empty()
    }

    /// The events as a JSON array's items: `e1,e2,...` (empty for none).
    pub fn as_items(&self) -> &str {
        &self.text
    }

    /// An estimate of the memory it takes.
    fn bytes(&self) -> usize {
        self.text.capacity() + self.lens.capacity() * std::mem::size_of::<usize>()
    }
}

/// The cache: lead id → [`Cached`].
#[derive(Debug)]
pub struct LeadCache {
    entries: LeadMap<Cached>,
    bytes: usize,
    max_bytes: usize,
}

impl Default for LeadCache {
    fn default() -> Self {
        LeadCache::new(MAX_BYTES)
    }
}

impl LeadCache {
    /// An empty cache of at most about `max_bytes`.
    pub fn new(max_bytes: usize) -> LeadCache {
        LeadCache {
            entries: LeadMap::default(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Takes the lead's entry out: current if its stamp is the stored record's; if not,
    /// what it holds may still be brought up to date (see `apply.rs`'s `catch_up`).
    pub fn take(&mut self, id: &str) -> Option<Cached> {
        let entry = self.entries.remove(id)?;
        self.bytes = self.bytes.saturating_sub(entry.bytes());
        Some(entry)
    }

    /// Puts a lead's entry in (after the commit that stored it), making room if needed.
    pub fn put(&mut self, id: String, entry: Cached) {
        let bytes = entry.bytes();
        if bytes > self.max_bytes / 4 {
            return;
        }
        if let Some(old) = self.entries.insert(id, entry) {
            self.bytes = self.bytes.saturating_sub(old.bytes());
        }
        self.bytes += bytes;
        if self.bytes > self.max_bytes {
            self.evict_half();
        }
    }

    /// How many leads it holds.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Drops every other entry in the map's (random) order.
    fn evict_half(&mut self) {
        let mut keep = false;
        self.entries.retain(|_, _| {
            keep = !keep;
            keep
        });
        self.bytes = self.entries.values().map(Cached::bytes).sum();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(stamp: i64, events: usize) -> Cached {
        Cached {
            stamp,
            record: LeadRecord::new(0),
            events: Some(KeptEvents::from_texts(vec!["x".repeat(1000); events])),
        }
    }

    #[test]
    fn kept_events_are_the_items_of_an_array_oldest_first() {
        let mut kept = KeptEvents::from_texts(["{\"a\":1}".to_string(), "{\"b\":2}".to_string()]);
        kept.push("{\"c\":\"é\"}");
        assert_eq!(kept.as_items(), r#"{"a":1},{"b":2},{"c":"é"}"#);
        assert_eq!(kept.len(), 3);
        kept.drop_oldest(1);
        assert_eq!(kept.as_items(), r#"{"b":2},{"c":"é"}"#);
        kept.drop_oldest(5);
        assert!(kept.is_empty());
        assert_eq!(kept.as_items(), "");
        kept.push("{}");
        assert_eq!(kept.as_items(), "{}");
        assert_eq!(KeptEvents::from_texts(Vec::<String>::new()).as_items(), "");
    }

    #[test]
    fn an_entry_is_taken_out_until_put_back() {
        let mut cache = LeadCache::default();
        cache.put("a".into(), entry(7, 1));
        assert_eq!(cache.take("a").map(|c| c.stamp), Some(7));
        assert!(cache.take("a").is_none(), "taken out until put back");
        assert!(cache.is_empty());
        cache.put("a".into(), entry(8, 1));
        assert_eq!(cache.take("a").map(|c| c.stamp), Some(8), "the last put");
    }

    #[test]
    fn the_cache_stays_within_its_bytes() {
        let mut cache = LeadCache::new(100 * (RECORD_BYTES + 10 * 1024));
        for i in 0..1_000 {
            cache.put(format!("l{i}"), entry(0, 10));
            assert!(cache.bytes <= cache.max_bytes);
        }
        assert!(cache.len() >= 50 && cache.len() <= 100, "{}", cache.len());
        cache.put("big".into(), entry(0, 10_000));
        assert!(cache.take("big").is_none(), "an entry past a quarter is not kept");
    }
}
