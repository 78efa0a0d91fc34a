//! The writer's cache of leads (storage and scale, issue 22): each lead's record and its
//! kept events as the last commit left them, so the next write to the lead neither reads
//! nor decodes them again from the storage.
//!
//! An entry is current only if its lead's stored record still has the entry's stamp
//! (see [`crate::storage::Txn::lead_stamp`]): Postgres gives every write of a lead row a
//! new stamp, so a lead another instance wrote since is read again; redb has one writer,
//! the cache's owner, whose every commit puts back what it wrote. An entry is taken out
//! for the transaction that uses it and put back only after that transaction committed,
//! so a transaction rolled back (or run again after a conflict) never leaves behind what
//! it did not store.
//!
//! Bounded by an estimate of its bytes: past [`MAX_BYTES`], a random half of the entries
//! goes (a lead missing from the cache is read from the storage, as without it).

use std::collections::HashMap;

use super::model::LeadRecord;

/// The most bytes the entries may take, by [`Cached::bytes`].
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
    pub events: Option<Vec<String>>,
}

impl Cached {
    /// An estimate of the memory it takes.
    fn bytes(&self) -> usize {
        let events: usize = self.events.iter().flatten().map(|e| e.len() + 24).sum();
        RECORD_BYTES + events
    }
}

/// The cache: lead id → [`Cached`].
#[derive(Debug)]
pub struct LeadCache {
    entries: HashMap<String, Cached>,
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
            entries: HashMap::new(),
            bytes: 0,
            max_bytes,
        }
    }

    /// Takes the lead's entry out, if it is a copy of the stored record with `stamp`
    /// (`None`: the stamp is not known, so no entry can be trusted). A stale entry goes too.
    pub fn take(&mut self, id: &str, stamp: Option<i64>) -> Option<Cached> {
        let entry = self.entries.remove(id)?;
        self.bytes = self.bytes.saturating_sub(entry.bytes());
        (Some(entry.stamp) == stamp).then_some(entry)
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
            events: Some(vec!["x".repeat(1000); events]),
        }
    }

    #[test]
    fn an_entry_is_used_only_with_its_stamp_and_only_once() {
        let mut cache = LeadCache::default();
        cache.put("a".into(), entry(7, 1));
        assert!(cache.take("a", Some(8)).is_none(), "another instance wrote it since");
        assert!(cache.take("a", Some(7)).is_none(), "the stale entry went");
        cache.put("a".into(), entry(7, 1));
        assert!(cache.take("a", None).is_none(), "an unknown stamp trusts nothing");
        cache.put("a".into(), entry(7, 1));
        assert_eq!(cache.take("a", Some(7)).map(|c| c.stamp), Some(7));
        assert!(cache.take("a", Some(7)).is_none(), "taken out until put back");
        assert!(cache.is_empty());
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
        assert!(
            cache.take("big", Some(0)).is_none(),
            "an entry past a quarter is not kept"
        );
    }
}
