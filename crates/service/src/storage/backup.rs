//! The portable backup: one JSON object per line, the same whichever backend wrote it and
//! whichever it is restored into (so a backup of the embedded store restores into
//! Postgres, and back: a migration).
//!
//! ```text
//! {"header":{"format":2,"backend":"redb","instance":"…","taken_at":"…"}}
//! {"lead":{"id":"a","record":{…}}}
//! {"event":{"lead":"a","seq":0,"body":"{\"type\":…}"}}
//! {"event_id":{"lead":"a","id":"e1","seq":0,"digest":"9f86…"}}
//! {"history":{"lead":"a","n":0,"entry":{…}}}
//! {"transition":{"seq":1,"body":"{…}"}}
//! {"cursor":{"url":"…","cursor":{…}}}
//! {"rescore":{"pack":"…","after":null,"done":true}}
//! {"hand_off":{…}}
//! {"dead_letter":{"url":"…","letter":{"seq":3,…}}}
//! {"shadow":{"pack":"…","leads":1,…}}
//! {"end":{"leads":1,"events":1,…}}
//! ```
//!
//! A backup is one consistent snapshot (a redb read transaction; a Postgres `REPEATABLE
//! READ` transaction), taken while the service goes on writing. It ends with the counts
//! of what it holds: a backup cut short has no `end` line, or other counts, and is
//! refused by a restore, which stores nothing of it then. Events and transitions keep
//! the exact text they were stored as. Leases and the instance id are not in it: a
//! restored database gets a new instance id, so two copies never hand out webhook
//! `Idempotency-Key`s as if they were one.
//!
//! Format 2 (storage and scale, issue 22) holds everything acknowledged: the payload
//! digest of each event id, webhook dead letters and the shadow pack's tallies too. A
//! format 1 backup (without them) still restores: its event ids have no digest (a reused
//! id is then taken as a retry, as for ids stored before digests were kept), and its
//! leads' shadow marks are dropped, since no tally counts them.

use std::io::BufRead;

use serde::{Deserialize, Serialize};

use super::{Rescore, StorageError, StorageErrorKind};
use crate::model::{Cursor, DeadLetter, HandOff, HistoryEntry, LeadRecord, ShadowTally};

/// The version of the format this leadscore writes; it reads this one and 1.
pub const FORMAT: u32 = 2;
/// The longest line a restore reads (a lead with its fields is far smaller).
const MAX_LINE: u64 = 64 << 20;

/// One line of a backup.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Item {
    /// What the backup is, first.
    Header(Header),
    /// A lead's record.
    Lead { id: String, record: Box<LeadRecord> },
    /// An event as stored (JSON text).
    Event { lead: String, seq: u64, body: String },
    /// An event `id` remembered (also for events dropped past the limit), with the
    /// SHA-256 of the payload it was first stored with, in hex (none: stored before
    /// digests were kept, or a format 1 backup).
    EventId {
        lead: String,
        id: String,
        seq: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        digest: Option<String>,
    },
    /// A history entry.
    History {
        lead: String,
        n: u64,
        entry: Box<HistoryEntry>,
    },
    /// A transition of the outbox as stored (JSON text).
    Transition { seq: u64, body: String },
    /// A webhook's delivery cursor.
    Cursor { url: String, cursor: Cursor },
    /// How far re-scoring with the live pack got (so a copy served with the same pack
    /// does not score every lead again).
    Rescore(Rescore),
    /// A hand-off of the funnel's index, with the rules that made it (the outbox alone
    /// does not have them).
    HandOff(Box<HandOff>),
    /// A transition a webhook gave up on (format 2).
    DeadLetter { url: String, letter: DeadLetter },
    /// The shadow report's counts for one shadow pack version (format 2).
    Shadow(Box<ShadowTally>),
    /// The counts of everything above, last.
    End(Counts),
}

/// The first line.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    /// [`FORMAT`].
    pub format: u32,
    /// `redb` or `postgres`: where it was taken.
    pub backend: String,
    /// The instance id of the database it was taken from (for the record only).
    pub instance: String,
    /// When (RFC 3339).
    pub taken_at: String,
}

/// How many of each item a backup holds.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Counts {
    /// Leads.
    pub leads: u64,
    /// Events kept.
    pub events: u64,
    /// Event ids remembered.
    pub event_ids: u64,
    /// History entries.
    pub history: u64,
    /// Transitions.
    pub transitions: u64,
    /// Webhook cursors.
    pub cursors: u64,
    /// Hand-offs (absent in backups made before the funnel's index: then none).
    #[serde(default)]
    pub handoffs: u64,
    /// Webhook dead letters (format 2).
    #[serde(default)]
    pub dead_letters: u64,
    /// Shadow tallies (format 2).
    #[serde(default)]
    pub shadow_tallies: u64,
}

impl Counts {
    fn count(&mut self, item: &Item) {
        match item {
            Item::Lead { .. } => self.leads += 1,
            Item::Event { .. } => self.events += 1,
            Item::EventId { .. } => self.event_ids += 1,
            Item::History { .. } => self.history += 1,
            Item::Transition { .. } => self.transitions += 1,
            Item::Cursor { .. } => self.cursors += 1,
            Item::HandOff(_) => self.handoffs += 1,
            Item::DeadLetter { .. } => self.dead_letters += 1,
            Item::Shadow(_) => self.shadow_tallies += 1,
            Item::Header(_) | Item::Rescore(_) | Item::End(_) => {}
        }
    }
}

/// Where a backup's lines go: bytes, a line at a time (each ends with `\n`).
pub type Sink<'a> = dyn FnMut(&[u8]) -> Result<(), StorageError> + 'a;

/// Writes a backup's lines, counting them; [`Dump::finish`] writes the `end` line.
pub struct Dump<'s, 'a> {
    sink: &'s mut Sink<'a>,
    counts: Counts,
    line: Vec<u8>,
}

impl<'s, 'a> Dump<'s, 'a> {
    /// Starts a backup of a `backend` database with id `instance`: writes the header.
    pub fn start(sink: &'s mut Sink<'a>, backend: &str, instance: &str) -> Result<Self, StorageError> {
        let mut dump = Dump {
            sink,
            counts: Counts::default(),
            line: Vec::new(),
        };
        dump.put(&Item::Header(Header {
            format: FORMAT,
            backend: backend.to_string(),
            instance: instance.to_string(),
            taken_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }))?;
        Ok(dump)
    }

    /// Writes one item.
    pub fn put(&mut self, item: &Item) -> Result<(), StorageError> {
        self.counts.count(item);
        self.line.clear();
        serde_json::to_writer(&mut self.line, item).map_err(|e| StorageError::decode("backup line", e))?;
        self.line.push(b'\n');
        (self.sink)(&self.line)
    }

    /// Writes the `end` line; what the backup holds.
    pub fn finish(mut self) -> Result<Counts, StorageError> {
        let counts = self.counts.clone();
        self.put(&Item::End(counts.clone()))?;
        Ok(counts)
    }
}

/// A payload digest as a backup holds it: lowercase hex.
pub fn hex(digest: &[u8]) -> String {
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// A digest from its hex form, checked.
pub fn unhex(text: &str) -> Result<Vec<u8>, StorageError> {
    let bad = || StorageError::decode("event id digest", format!("{text:?} is not hex"));
    if text.len() % 2 != 0 || !text.is_ascii() {
        return Err(bad());
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&text[i..i + 2], 16).map_err(|_| bad()))
        .collect()
}

/// An event or a transition as a backup holds it: the text it was stored as.
pub fn text(what: &str, bytes: Vec<u8>) -> Result<String, StorageError> {
    String::from_utf8(bytes).map_err(|e| StorageError::decode(what, e))
}

/// Reads a backup's items in order: the header is checked first, and
/// [`Items::finish`] checks the `end` line's counts against what was read, so a restore
/// that stores what it read can refuse (roll back) a backup cut short.
pub struct Items<'r> {
    source: String,
    input: &'r mut dyn BufRead,
    counts: Counts,
    line: Vec<u8>,
    number: u64,
    ended: Option<Counts>,
    /// The header's format.
    format: u32,
}

impl<'r> Items<'r> {
    /// A reader of the backup `input` (`source` names it in errors).
    pub fn new(source: &str, input: &'r mut dyn BufRead) -> Items<'r> {
        Items {
            source: source.to_string(),
            input,
            counts: Counts::default(),
            line: Vec::new(),
            number: 0,
            ended: None,
            format: FORMAT,
        }
    }

    /// The next item to store (never the header or the end), `None` after the last.
    pub fn next_item(&mut self) -> Result<Option<Item>, StorageError> {
        loop {
            self.line.clear();
            let read = std::io::Read::take(&mut *self.input, MAX_LINE + 1)
                .read_until(b'\n', &mut self.line)
                .map_err(|e| StorageError::new(StorageErrorKind::Unavailable, format!("{}: {e}", self.source)))?;
            if read == 0 {
                return Ok(None);
            }
            self.number += 1;
            let number = self.number;
            if self.line.len() as u64 > MAX_LINE {
                return Err(self.refused(format!("line {number} is longer than {MAX_LINE} bytes")));
            }
            if self.ended.is_some() {
                return Err(self.refused(format!("line {number} follows the `end` line")));
            }
            let item: Item = serde_json::from_slice(&self.line)
                .map_err(|e| self.refused(format!("line {number} is not a backup line: {e}")))?;
            match (item, number) {
                (Item::Header(h), 1) if h.format == FORMAT || h.format == 1 => self.format = h.format,
                (Item::Header(h), 1) => {
                    let format = h.format;
                    return Err(self.refused(format!(
                        "it is in backup format {format}, this leadscore reads 1 to {FORMAT}"
                    )));
                }
                (_, 1) => return Err(self.refused("it does not start with a backup header")),
                (Item::Header(_), _) => return Err(self.refused(format!("line {number} is a second header"))),
                (Item::End(end), _) => self.ended = Some(end),
                (mut item, _) => {
                    self.counts.count(&item);
                    match &mut item {
                        // A format 1 backup holds no shadow tallies: a restored copy
                        // starts its shadow comparison afresh, so no lead carries a mark
                        // the copy's tally never counted.
                        Item::Lead { record, .. } if self.format == 1 => record.shadow = None,
                        Item::EventId { digest: Some(d), .. } => {
                            unhex(d).map_err(|e| self.refused(format!("line {number}: {e}")))?;
                        }
                        _ => {}
                    }
                    return Ok(Some(item));
                }
            }
        }
    }

    /// Up to `items` next items, fewer once their lines hold `bytes` bytes (storage and
    /// scale, issue 22: a restore stores them together); none after the last.
    pub fn next_batch(&mut self, items: usize, bytes: usize) -> Result<Vec<Item>, StorageError> {
        let (mut batch, mut size) = (Vec::new(), 0);
        while batch.len() < items && size < bytes {
            let Some(item) = self.next_item()? else {
                break;
            };
            size += self.line.len();
            batch.push(item);
        }
        Ok(batch)
    }

    /// After the last item: what the backup held, if its `end` line agrees.
    pub fn finish(self) -> Result<Counts, StorageError> {
        match &self.ended {
            Some(end) if *end == self.counts => Ok(self.counts),
            Some(end) => Err(self.refused(format!("it holds {:?} where its end line says {end:?}", self.counts))),
            None if self.number == 0 => Err(self.refused("it is empty")),
            None => Err(self.refused("it has no `end` line (it was cut short)")),
        }
    }

    /// Why the backup cannot be restored, naming it.
    fn refused(&self, what: impl std::fmt::Display) -> StorageError {
        StorageError::new(
            StorageErrorKind::Config,
            format!("{} cannot be restored: {what}; nothing was restored", self.source),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn backup(items: &[Item]) -> Vec<u8> {
        let mut out = Vec::new();
        let mut sink = |line: &[u8]| {
            out.extend_from_slice(line);
            Ok(())
        };
        let mut dump = Dump::start(&mut sink, "redb", "abc").unwrap();
        for item in items {
            dump.put(item).unwrap();
        }
        dump.finish().unwrap();
        out
    }

    fn restore(mut bytes: &[u8]) -> Result<(Counts, usize), StorageError> {
        let mut items = Items::new("backup.jsonl", &mut bytes);
        let mut seen = 0;
        while items.next_item()?.is_some() {
            seen += 1;
        }
        Ok((items.finish()?, seen))
    }

    #[test]
    fn a_backup_reads_back_with_its_counts() {
        let items = [
            Item::Event {
                lead: "a".into(),
                seq: 0,
                body: r#"{"type":"x"}"#.into(),
            },
            Item::Transition {
                seq: 1,
                body: "{}".into(),
            },
        ];
        let bytes = backup(&items);
        let (counts, seen) = restore(&bytes).unwrap();
        assert_eq!((counts.events, counts.transitions, seen), (1, 1, 2));
    }

    #[test]
    fn a_format_1_backup_still_restores_and_digests_travel_as_hex() {
        let digest = [0u8, 15, 16, 255];
        assert_eq!(hex(&digest), "000f10ff");
        assert_eq!(unhex("000f10ff").unwrap(), digest);
        assert!(unhex("0g").is_err() && unhex("abc").is_err());
        let items = [Item::EventId {
            lead: "a".into(),
            id: "e1".into(),
            seq: 0,
            digest: Some(hex(&digest)),
        }];
        let text = String::from_utf8(backup(&items)).unwrap();
        assert!(text.contains(r#""digest":"000f10ff""#), "{text}");
        // What format 1 wrote: no digest, no dead letters or tallies in its counts.
        let old = text
            .replacen("\"format\":2", "\"format\":1", 1)
            .replace(r#","digest":"000f10ff""#, "")
            .replace(r#","dead_letters":0,"shadow_tallies":0"#, "");
        let (counts, seen) = restore(old.as_bytes()).unwrap();
        assert_eq!((counts.event_ids, seen), (1, 1));
        let bad = text.replace("000f10ff", "zz");
        let error = restore(bad.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("line 2") && error.contains("not hex"), "{error}");
    }

    #[test]
    fn a_backup_cut_short_or_altered_is_refused() {
        let items = [Item::Transition {
            seq: 1,
            body: "{}".into(),
        }];
        let bytes = backup(&items);
        let text = String::from_utf8(bytes.clone()).unwrap();
        let cut = &text[..text.rfind("{\"end\"").unwrap()];
        let error = restore(cut.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("no `end` line"), "{error}");
        let doubled = text.replacen(
            "{\"transition\"",
            "{\"transition\":{\"seq\":2,\"body\":\"{}\"}}\n{\"transition\"",
            1,
        );
        let error = restore(doubled.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("where its end line says"), "{error}");
        let error = restore(b"{\"lead\":1}\n").unwrap_err().to_string();
        assert!(error.contains("line 1 is not a backup line"), "{error}");
        let error = restore(b"").unwrap_err().to_string();
        assert!(error.contains("it is empty"), "{error}");
        let future = text.replacen("\"format\":2", "\"format\":9", 1);
        let error = restore(future.as_bytes()).unwrap_err().to_string();
        assert!(error.contains("backup format 9"), "{error}");
    }
}
