//! `GET /v1/export[?since=T]`: every lead as JSON Lines, in the shape `leadscore score`
//! reads (`id`, its fields, `events`), with `sales`: what sales did with its latest
//! hand-off. `backtest` and `fit` read it with `--outcome sales.accepted --as-of-field
//! sales.mql_at`, judging each lead as it was when it was handed off.
//!
//! The body is a stream: it reads one page of leads from the storage when the client is
//! ready for more (a fresh read per page, so no snapshot is held for the length of a long
//! export), so memory stays at one page whatever the number of leads.

use std::sync::Arc;

use axum::body::Bytes;
use serde_json::{json, Value};

use super::apply::lead_text;
use super::input::rfc3339;
use super::model::{LeadRecord, Millis};
use super::storage::{Reader, Storage, StorageError};

/// Leads read per page.
const PAGE: usize = 100;
/// Events read per query.
const EVENT_PAGE: usize = 1_000;

/// Where an export has got to.
pub struct Export {
    store: Arc<Storage>,
    /// Only leads a write changed at or after this time (ms).
    since: Option<Millis>,
    /// The last lead id written.
    after: Option<String>,
    done: bool,
}

impl Export {
    /// An export of every lead in `store`, or of those changed at or after `since`.
    pub fn new(store: Arc<Storage>, since: Option<Millis>) -> Export {
        Export {
            store,
            since,
            after: None,
            done: false,
        }
    }

    /// The next page of lines (`None` at the end).
    pub async fn next_page(mut self) -> Result<Option<(Bytes, Export)>, StorageError> {
        if self.done {
            return Ok(None);
        }
        let read = self.store.read().await?;
        let ids = read.lead_ids(self.after.as_deref(), PAGE).await?;
        self.done = ids.len() < PAGE;
        let Some(last) = ids.last().cloned() else {
            return Ok(None);
        };
        let mut out = Vec::new();
        for id in &ids {
            let Some(record) = read.lead(id).await? else { continue };
            if self.since.is_some_and(|t| record.updated.unwrap_or(record.created) < t) {
                continue;
            }
            let events = events(&read, id, &record).await?;
            out.extend_from_slice(line(id, &record, &events).as_bytes());
            out.push(b'\n');
        }
        self.after = Some(last);
        Ok(Some((Bytes::from(out), self)))
    }
}

/// Every event the lead keeps, as stored.
async fn events(read: &Reader, id: &str, record: &LeadRecord) -> Result<Vec<String>, StorageError> {
    let mut out = Vec::new();
    let mut from = record.events.first;
    while from < record.events.next {
        let page = read.events(id, from, EVENT_PAGE).await?;
        let Some((last, _)) = page.last() else { break };
        from = last + 1;
        out.extend(page.iter().map(|(_, e)| serde_json::to_string(e).unwrap_or_default()));
    }
    Ok(out)
}

/// One lead's line: as batch scoring reads it, with `sales` last (a field of the lead's
/// own named `sales` is left out: the export's `sales` replaces it).
pub fn line(id: &str, record: &LeadRecord, events: &[String]) -> String {
    let mut fields = record.fields.clone();
    fields.remove("sales");
    let mut text = lead_text(id, &fields, events);
    text.pop();
    text.push_str(",\"sales\":");
    text.push_str(&sales(record).to_string());
    text.push('}');
    text
}

/// What sales did with the lead's latest hand-off.
///
/// ```
/// use leadscore_service::model::LeadRecord;
/// let record = LeadRecord::new(0);
/// assert_eq!(
///     leadscore_service::export::sales(&record),
///     serde_json::json!({"stage": "lead", "mql_at": null, "accepted": null, "won": null,
///                        "rejection_reason": null, "acted_at": null})
/// );
/// ```
pub fn sales(record: &LeadRecord) -> Value {
    let h = record.sales.as_ref();
    json!({
        "stage": record.standing.stage,
        "mql_at": h.map(|h| rfc3339(h.mql_at)),
        "accepted": h.and_then(|h| h.accepted),
        "won": h.and_then(|h| h.won),
        "rejection_reason": h.and_then(|h| h.rejection_reason.clone()),
        "acted_at": h.and_then(|h| h.acted_at).map(rfc3339),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::Handoff;

    #[test]
    fn a_line_is_a_lead_with_its_sales_outcome() {
        let mut record = LeadRecord::new(0);
        record.fields.insert("title".into(), json!("VP"));
        record.fields.insert("sales".into(), json!("theirs"));
        record.sales = Some(Handoff {
            mql_at: 1_000,
            accepted: Some(false),
            won: Some(false),
            rejection_reason: Some("no budget".into()),
            acted_at: Some(2_000),
        });
        let events = vec![r#"{"type":"x","at":"2026-01-01T00:00:00Z"}"#.to_string()];
        let text = line("a", &record, &events);
        let value: Value = serde_json::from_str(&text).unwrap_or_default();
        assert_eq!(value["id"], json!("a"));
        assert_eq!(value["title"], json!("VP"));
        assert_eq!(value["events"][0]["type"], json!("x"));
        assert_eq!(
            value["sales"],
            json!({"stage": "lead", "mql_at": "1970-01-01T00:00:01.000Z", "accepted": false, "won": false,
                   "rejection_reason": "no budget", "acted_at": "1970-01-01T00:00:02.000Z"})
        );
        assert_eq!(text.matches("\"sales\"").count(), 1, "{text}");
    }
}
