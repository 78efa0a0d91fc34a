//! The Postgres backend: every instance of `leadscore serve` given the same
//! `--database-url` shares one database, so any instance accepts any write.
//!
//! How several instances stay correct:
//! - **One writer per lead at a time.** A write transaction first takes a
//!   transaction-level advisory lock per lead id it writes (`hashtextextended(id, 0)`,
//!   all of them in one statement, in key order, so two transactions never wait on each
//!   other in a circle), then the rows of the leads that exist (`FOR UPDATE`, in id
//!   order). The advisory lock also covers a lead that does not exist yet, so two
//!   instances never both create it; the row lock keeps the scheduler's claims off it.
//! - **Due leads claimed once.** The scheduler's claim is
//!   `SELECT ... WHERE due <= now ... FOR UPDATE SKIP LOCKED`: a lead another instance is
//!   writing or evaluating is skipped, not evaluated twice. A claim never waits, and it
//!   comes after the transaction's own locks, so it closes no circle either.
//! - **Seqs in commit order.** `/v1/transitions?after=SEQ` must never skip: a transition
//!   that commits later must never get a lower seq than one a reader has been given. The
//!   seqs come from a counter row (`counters.transition`), updated as the transaction's
//!   last statement before `COMMIT`; the row lock it takes is held until the commit, so
//!   the next transaction that writes transitions waits for this one to commit (and be
//!   visible) before it reads the counter. Seqs are therefore given in commit order, and
//!   without gaps (a rolled-back transaction rolls its increment back too). Only
//!   transactions that write transitions queue on that row, for the length of a commit.
//! - **One deliverer per webhook.** A lease row per webhook URL (holder, until) is taken
//!   or renewed before each delivery; a cursor is stored only while its writer holds the
//!   lease. An instance that dies stops renewing it, and another takes over after
//!   [`LEASE_TTL_MS`] from the stored cursor (so at least once, in seq order).
//! - **Re-scoring once per pack.** After a reload (or at start) every lead is scored again
//!   with the new pack once, not once per instance: the progress is the `meta` row
//!   `rescore` (pack, last lead claimed), locked by each claim until commit, so the
//!   instances take the next chunk of leads in turn.
//! - **Target alerts once.** Publishing the targets' alerts (issue 27.3) first takes a
//!   transaction-level advisory lock (`TARGET_LOCK`), then reads each target's last
//!   published state: the second instance to judge a change waits for the first to commit
//!   and finds it published. The alert log's seqs come from a counter row of their own.
//! - **Migrations once.** At start, under a session advisory lock, each numbered
//!   migration not yet in `leadscore.migrations` runs in its own transaction.
//!
//! - **Few round trips per commit.** A transaction's writes are held until a read could
//!   see them or it commits, then sent as one multi-row statement per table, every
//!   statement of a step in one pipeline, `BEGIN` and `COMMIT` included (see `PgTxn`).
//!   When this instance wrote every lead of a transaction last (their stamps are the
//!   ones it saw), the locks go in the same pipeline as the writes and `COMMIT`, after a
//!   guard that fails the transaction if a stamp differs or an event id it expects new
//!   is stored: a commit of such writes is one round trip, and a transaction whose guard
//!   failed is run again the ordinary way (see [`Txn::lock_leads`]).
//! - **Few bytes read when another instance wrote a lead.** The ordinary way reads, in
//!   the pipeline of the locks (after them, so what it reads holds until the commit), the
//!   record of each lead whose stamp is not the one this process saw, and its events:
//!   only those from the seq this process's own last write of it left next, when the
//!   lead is still the one it wrote (the stamp the row was created with, `born`, is the
//!   same: a lead erased and created again numbers its events from 0 again, and is read
//!   whole). The writer's cache brings its copy up to date with them
//!   ([`Txn::events_since`]). Nothing else changes: the same locks in the same order
//!   come before anything is read or written.
//!
//! The transaction that finds itself in a deadlock or a serialization failure anyway is
//! rolled back and run again (`RETRIES` times: 8).

use std::future::Future;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod};
use rustls::pki_types::CertificateDer;
use tokio::runtime::Handle;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::backup::{self, Counts, Dump, Item};
use super::{decode, encode, new_id, Rescore, StorageError, StorageErrorKind, Txn};
use crate::model::{
    Alert, Cursor, DeadLetter, HandOff, HistoryEntry, LeadRecord, Millis, RuleFires, RuleTally, ShadowTally,
    TargetState, Transition,
};

/// How long a webhook lease lasts without renewal: longer than one delivery may take.
pub const LEASE_TTL_MS: Millis = 30_000;
/// How often a transaction that met another is run again.
const RETRIES: usize = 8;
/// Connections in the pool (reads from HTTP handlers; the writer takes one too).
const POOL_SIZE: usize = 16;
/// The key of the session lock migrations run under.
const MIGRATION_LOCK: i64 = 0x6c65_6164_7363_6f72; // "leadscor"

/// The schema, one migration per version, applied in order and recorded; never edited
/// once released (a change is a new version).
const MIGRATIONS: &[(i32, &str)] = &[
    (
        1,
    "CREATE TABLE leadscore.leads (id text PRIMARY KEY, record bytea NOT NULL, due bigint);
     CREATE INDEX leads_due ON leadscore.leads (due) WHERE due IS NOT NULL;
     CREATE TABLE leadscore.events (lead text NOT NULL, seq bigint NOT NULL, body bytea NOT NULL, PRIMARY KEY (lead, seq));
     CREATE TABLE leadscore.event_ids (lead text NOT NULL, event_id text NOT NULL, seq bigint NOT NULL, PRIMARY KEY (lead, event_id));
     CREATE TABLE leadscore.history (lead text NOT NULL, n bigint NOT NULL, entry bytea NOT NULL, PRIMARY KEY (lead, n));
     CREATE TABLE leadscore.transitions (seq bigint PRIMARY KEY, body bytea NOT NULL);
     CREATE TABLE leadscore.counters (name text PRIMARY KEY, value bigint NOT NULL);
     INSERT INTO leadscore.counters VALUES ('transition', 0);
     CREATE TABLE leadscore.cursors (url text PRIMARY KEY, cursor bytea NOT NULL);
     CREATE TABLE leadscore.leases (name text PRIMARY KEY, holder text NOT NULL, until_ms bigint NOT NULL);
     CREATE TABLE leadscore.meta (name text PRIMARY KEY, value text NOT NULL);
     INSERT INTO leadscore.meta VALUES ('instance', md5(random()::text || clock_timestamp()::text));",
), (
    // Webhook dead letters and the digest of each event id's payload (issue 23).
    2,
    "ALTER TABLE leadscore.event_ids ADD COLUMN digest bytea;
     CREATE TABLE leadscore.dead_letters (url text NOT NULL, seq bigint NOT NULL, replay boolean NOT NULL, letter bytea NOT NULL, PRIMARY KEY (url, seq));",
), (
    // Shadow packs (issue 27.5): the shadow report's counts per shadow version, added to
    // by increments (no read-modify-write, so instances never lose each other's counts).
    3,
    "CREATE TABLE leadscore.shadow_tallies (pack text PRIMARY KEY, leads bigint NOT NULL, mql_both bigint NOT NULL,
       mql_live_only bigint NOT NULL, mql_shadow_only bigint NOT NULL, route_changed bigint NOT NULL,
       score_change double precision NOT NULL);
     CREATE TABLE leadscore.shadow_rules (pack text NOT NULL, rule text NOT NULL, leads bigint NOT NULL,
       mql_live_only bigint NOT NULL, mql_shadow_only bigint NOT NULL, route_changed bigint NOT NULL,
       PRIMARY KEY (pack, rule));",
), (
    // The funnel (issue 27): one row per hand-off; `route` is '' for none; the partial
    // index is the sales queue. Existing hand-offs are rebuilt from the outbox after the
    // statements, in the same transaction (see `backfill_handoffs`).
    HANDOFF_MIGRATION,
    "CREATE TABLE leadscore.handoffs (mql_at bigint NOT NULL, lead text NOT NULL, route text NOT NULL, sla_due bigint, open boolean NOT NULL, body bytea NOT NULL, PRIMARY KEY (mql_at, lead));
     CREATE INDEX handoffs_open ON leadscore.handoffs (route, sla_due, mql_at, lead) WHERE open;",
), (
    // Targets (issue 27.3): each target's last published state, and the alert log with a
    // counter row of its own (seqs in commit order, as the transitions' are).
    TARGET_MIGRATION,
    "CREATE TABLE leadscore.target_states (name text PRIMARY KEY, state bytea NOT NULL);
     CREATE TABLE leadscore.alerts (seq bigint PRIMARY KEY, body bytea NOT NULL);
     INSERT INTO leadscore.counters VALUES ('alert', 0);",
), (
    // The console (issue 28): results computed and the rules that fired in them, per hour
    // and per writing process (`writer`: one writer thread each), so two instances never
    // update the same row; readers sum over the writers.
    6,
    "CREATE TABLE leadscore.rule_fires (hour bigint NOT NULL, writer text NOT NULL, rule text NOT NULL, n bigint NOT NULL, PRIMARY KEY (hour, writer, rule));
     CREATE TABLE leadscore.results_scored (hour bigint NOT NULL, writer text NOT NULL, n bigint NOT NULL, PRIMARY KEY (hour, writer));",
), (
    // Storage and scale (issue 22): a stamp per lead row, new at every write of it (a
    // sequence never gives a value twice, so a lead erased and created again gets a new
    // one too), so an instance's cache of a lead knows whether another instance wrote it.
    STAMP_MIGRATION,
    "CREATE SEQUENCE leadscore.lead_stamps;
     ALTER TABLE leadscore.leads ADD COLUMN stamp bigint NOT NULL DEFAULT nextval('leadscore.lead_stamps');",
), (
    // Storage and scale (issue 22): the stamp a lead row was created with, kept by its
    // later writes, so an instance whose cached copy of a lead is stale can tell the lead
    // another instance wrote since from one erased and created again under the id (its
    // events numbered from 0 again): only for the first are the events it added enough.
    // The rows of older schemas share 0, a lead created from now on never has it.
    BORN_MIGRATION,
    "ALTER TABLE leadscore.leads ADD COLUMN born bigint NOT NULL DEFAULT 0;
     ALTER TABLE leadscore.leads ALTER COLUMN born SET DEFAULT nextval('leadscore.lead_stamps');",
)];
/// The migration that adds the hand-offs.
const HANDOFF_MIGRATION: i32 = 4;
/// The migration that adds the targets' states and the alert log.
const TARGET_MIGRATION: i32 = 5;
/// The migration that stamps lead rows for the writers' caches.
const STAMP_MIGRATION: i32 = 7;
/// The migration that keeps each lead row's creation stamp.
const BORN_MIGRATION: i32 = 8;
/// The key of the transaction lock under which instances publish target alerts.
const TARGET_LOCK: i64 = 0x7461_7267_6574_7321; // "targets!"

/// The database's clock in ms, so leases do not depend on the instances' clocks.
const NOW_MS: &str = "(extract(epoch from clock_timestamp()) * 1000)::bigint";

/// The shared database.
pub struct PgStore {
    pool: Pool,
    runtime: Handle,
    instance: String,
    /// This process's id, for leases.
    holder: String,
    location: String,
    /// Storage and scale (issue 22): each lead's stamp as this process's last committed
    /// transaction saw or wrote it, as the writer's cache of leads holds it; a lead
    /// locked with another stamp was written by another instance since, and its record
    /// and events are read with the locks (see [`Txn::lock_leads`]): only the events
    /// added since, when the lead is the one this process wrote (see [`Seen`]). Emptied
    /// past [`SEEN_MAX`] leads (a lead missing here is read with the locks, as on the
    /// first write after a start); a lead this process erased leaves it.
    seen: std::sync::Mutex<std::collections::HashMap<String, Seen>>,
    /// Stamps taken from the sequence ahead of the writes that give them, so that a
    /// transaction that locks its leads in the pipeline of its writes has them (a
    /// sequence never gives a value twice: they are new whoever uses them first).
    stamps: std::sync::Mutex<Vec<i64>>,
    /// How many more transactions lock their leads first, in a round trip of their own,
    /// after one whose guard found a lead another instance wrote (so that instances
    /// writing the same leads in turn do not run most transactions twice).
    wary: std::sync::atomic::AtomicU32,
}

/// A lead's row as this process's last committed transaction of it left it (see
/// [`PgStore::seen`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Seen {
    /// Its stamp.
    stamp: i64,
    /// The stamp it was created with (`born`, the same until the lead is erased), and
    /// the seq its next event gets, when this process wrote the row: a later write of
    /// another instance to the same lead added the events from that seq on.
    wrote: Option<(i64, i64)>,
}

/// The most leads [`PgStore::seen`] keeps stamps of (about 80 bytes each).
const SEEN_MAX: usize = 1 << 20;
/// Stamps taken from the sequence at once for [`PgStore::stamps`].
const STAMPS_AT_ONCE: i64 = 1_024;
/// Transactions run the ordinary way after a guard failed (see [`PgStore::wary`]).
const WARY_FOR: u32 = 32;

/// The URL's server and database, without user or password, for logs and errors.
pub fn redacted(url: &str) -> String {
    let (url, _) = split_root_cert(url);
    match tokio_postgres::Config::from_str(&url) {
        Ok(config) => {
            let host = match config.get_hosts().first() {
                Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
                #[cfg(unix)]
                Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
                None => "localhost".into(),
            };
            let port = config.get_ports().first().copied().unwrap_or(5432);
            format!("postgres://{host}:{port}/{}", config.get_dbname().unwrap_or(""))
        }
        Err(_) => "(a Postgres URL that does not parse)".into(),
    }
}

/// An error and its sources, each once: the pool's error wraps the driver's, which
/// wraps the TLS layer's or the socket's.
fn chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}

fn pg_error(location: &str, e: &tokio_postgres::Error) -> StorageError {
    let kind = match e.code() {
        Some(c) if *c == SqlState::T_R_DEADLOCK_DETECTED || *c == SqlState::T_R_SERIALIZATION_FAILURE => {
            StorageErrorKind::Conflict
        }
        _ => StorageErrorKind::Unavailable,
    };
    let detail = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => chain(e),
    };
    StorageError::new(kind, format!("{location}: {detail}"))
}

/// The URL without its `sslrootcert` parameter (which tokio-postgres does not know),
/// and that parameter: a file of PEM certificates of a private certificate authority.
/// Both of libpq's forms: `postgres://...?sslrootcert=/ca.pem&...` (percent-encoded) and
/// `host=... sslrootcert=/ca.pem`.
fn split_root_cert(url: &str) -> (String, Option<PathBuf>) {
    let key = "sslrootcert=";
    if let Some((base, query)) = url.split_once('?') {
        let (certs, rest): (Vec<&str>, Vec<&str>) = query.split('&').partition(|p| p.starts_with(key));
        let path = certs.last().map(|p| PathBuf::from(percent_decode(&p[key.len()..])));
        let url = if rest.is_empty() {
            base.to_string()
        } else {
            format!("{base}?{}", rest.join("&"))
        };
        return (url, path);
    }
    if url.contains("://") {
        return (url.to_string(), None);
    }
    let (certs, rest): (Vec<&str>, Vec<&str>) = url.split_whitespace().partition(|p| p.starts_with(key));
    let path = certs.last().map(|p| PathBuf::from(&p[key.len()..]));
    (rest.join(" "), path)
}

/// `%XX` decoded (a URL's query value); anything else kept as it is.
fn percent_decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| u8::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The certificates of a `sslrootcert` file (PEM), named in errors.
fn root_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, StorageError> {
    use rustls::pki_types::pem::PemObject;
    let bad = |what: String| {
        StorageError::new(
            StorageErrorKind::Config,
            format!("sslrootcert {}: {what}", path.display()),
        )
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| bad(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad(e.to_string()))?;
    if certs.is_empty() {
        return Err(bad("holds no PEM certificate".into()));
    }
    Ok(certs)
}

/// The TLS connector: rustls with the Mozilla roots, and the certificates of the URL's
/// `sslrootcert` file (a private certificate authority, as managed services and
/// companies' own clusters use) besides them; used when the URL's `sslmode` asks for
/// TLS (`prefer`, the default, tries it; `require` insists; `disable` never).
fn tls(root_cert: Option<&Path>) -> Result<tokio_postgres_rustls::MakeRustlsConnect, StorageError> {
    let mut roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    if let Some(path) = root_cert {
        for cert in root_certs(path)? {
            roots.add(cert).map_err(|e| {
                StorageError::new(
                    StorageErrorKind::Config,
                    format!("sslrootcert {}: a certificate cannot be used: {e}", path.display()),
                )
            })?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
        .with_safe_default_protocol_versions()
        .map_err(|e| StorageError::new(StorageErrorKind::Config, format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(config))
}

impl PgStore {
    /// Connects, applies the migrations this version has and the database lacks, and
    /// reads the database's instance id.
    pub async fn open(url: &str) -> Result<PgStore, StorageError> {
        let location = redacted(url);
        let (url, root_cert) = split_root_cert(url);
        let mut config = tokio_postgres::Config::from_str(&url).map_err(|e| {
            StorageError::new(
                StorageErrorKind::Config,
                format!("--database-url is not a Postgres URL: {e}"),
            )
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        config.application_name("leadscore serve");
        let manager = Manager::from_config(
            config,
            tls(root_cert.as_deref())?,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .build()
            .map_err(|e| StorageError::new(StorageErrorKind::Config, format!("{location}: {e}")))?;
        let connect = |e: deadpool_postgres::PoolError| {
            StorageError::new(StorageErrorKind::Unavailable, format!("{location}: {}", chain(&e)))
        };
        migrate(&location, pool.get().await.map_err(connect)?).await?;
        let reader = PgReader {
            client: pool.get().await.map_err(connect)?,
            location: location.clone(),
        };
        let instance = reader
            .query_one("SELECT value FROM leadscore.meta WHERE name = 'instance'", &[])
            .await?
            .try_get::<_, String>(0)
            .map_err(|e| pg_error(&location, &e))?;
        Ok(PgStore {
            pool,
            runtime: Handle::current(),
            instance,
            holder: new_id(),
            location,
            seen: std::sync::Mutex::default(),
            stamps: std::sync::Mutex::default(),
            wary: std::sync::atomic::AtomicU32::new(0),
        })
    }

    /// The database's id, shared by every instance on it.
    pub fn instance(&self) -> &str {
        &self.instance
    }

    fn unavailable(&self, e: impl std::error::Error) -> StorageError {
        StorageError::new(
            StorageErrorKind::Unavailable,
            format!("{}: {}", self.location, chain(&e)),
        )
    }

    /// Runs `f` in one transaction and commits it; again after a deadlock or a
    /// serialization failure. Blocking (the writer thread).
    pub fn write<T>(&self, mut f: impl FnMut(&mut dyn Txn) -> Result<T, StorageError>) -> Result<T, StorageError> {
        let mut client = self
            .runtime
            .block_on(self.pool.get())
            .map_err(|e| self.unavailable(e))?;
        let mut attempt = 0;
        loop {
            match self.attempt(&mut client, &mut f, attempt == 0) {
                Err(e) if e.kind == StorageErrorKind::Conflict && attempt < RETRIES => attempt += 1,
                out => return out,
            }
        }
    }

    /// One run of `f`; `guess`: whether its leads may be locked in the pipeline of its
    /// writes (see [`Txn::lock_leads`]), not on a run after a conflict.
    fn attempt<T>(
        &self,
        client: &mut Object,
        f: &mut impl FnMut(&mut dyn Txn) -> Result<T, StorageError>,
        guess: bool,
    ) -> Result<T, StorageError> {
        let mut t = PgTxn {
            client,
            open: std::cell::Cell::new(false),
            guess,
            head: std::cell::RefCell::default(),
            store: self,
            stamps: std::collections::HashMap::new(),
            pending: Pending::default(),
            known_ids: std::collections::HashMap::new(),
            expected_ids: Vec::new(),
            spare_stamps: Vec::new(),
            fetched: std::collections::HashMap::new(),
            absent: std::collections::HashSet::new(),
            borns: std::collections::HashMap::new(),
            nexts: std::collections::HashMap::new(),
        };
        // On an error `t` is dropped, and with it the transaction: rolled back.
        let value = f(&mut t)?;
        t.commit()?;
        self.saw(&mut t);
        Ok(value)
    }

    /// Keeps what the committed transaction `t` saw and wrote of its leads in
    /// [`PgStore::seen`]: a lead whose stamp it did not change keeps its entry.
    fn saw(&self, t: &mut PgTxn<'_>) {
        let mut seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if seen.len() + t.stamps.len() > SEEN_MAX {
            seen.clear();
        }
        for (id, stamp) in t.stamps.drain() {
            if seen.get(&id).is_some_and(|s| s.stamp == stamp) {
                continue;
            }
            let wrote = t.borns.get(&id).copied().zip(t.nexts.get(&id).copied());
            seen.insert(id, Seen { stamp, wrote });
        }
        for id in &t.absent {
            seen.remove(id);
        }
    }

    /// `n` stamps for lead rows (see [`PgStore::stamps`]), more taken from the sequence
    /// on `client`, outside any transaction, when fewer are left.
    fn take_stamps(&self, client: &Object, n: usize) -> Result<Vec<i64>, StorageError> {
        let mut stamps = self.stamps.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if stamps.len() < n {
            let more = STAMPS_AT_ONCE.max(i64::try_from(n).unwrap_or(i64::MAX));
            let rows = self
                .runtime
                .block_on(client.query(
                    "SELECT nextval('leadscore.lead_stamps') FROM generate_series(1, $1::bigint)",
                    &[&more],
                ))
                .map_err(|e| pg_error(&self.location, &e))?;
            for row in &rows {
                stamps.push(row.try_get(0).map_err(|e| pg_error(&self.location, &e))?);
            }
        }
        let from = stamps.len().saturating_sub(n);
        Ok(stamps.split_off(from))
    }

    /// What this process saw of the leads `ids` (see [`PgStore::seen`]), `None` for a
    /// lead it has not seen.
    fn seen(&self, ids: &[&str]) -> Vec<Option<Seen>> {
        let seen = self.seen.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        ids.iter().map(|id| seen.get(*id).copied()).collect()
    }

    /// Whether a transaction may lock its leads in the pipeline of its writes: not for
    /// [`WARY_FOR`] transactions after a guard failed.
    fn may_guess(&self) -> bool {
        use std::sync::atomic::Ordering;
        self.wary
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_err()
    }

    /// A pooled connection to read with.
    pub async fn read(&self) -> Result<PgReader, StorageError> {
        let client = self.pool.get().await.map_err(|e| self.unavailable(e))?;
        Ok(PgReader {
            client,
            location: self.location.clone(),
        })
    }

    /// Takes or renews this process's lease on the webhook stream `url`.
    pub async fn hold_lease(&self, url: &str, ttl_ms: Millis) -> Result<bool, StorageError> {
        let reader = self.read().await?;
        let sql = format!(
            "INSERT INTO leadscore.leases AS l (name, holder, until_ms) VALUES ($1, $2, {NOW_MS} + $3)
             ON CONFLICT (name) DO UPDATE SET holder = EXCLUDED.holder, until_ms = EXCLUDED.until_ms
             WHERE l.holder = EXCLUDED.holder OR l.until_ms < {NOW_MS}
             RETURNING holder"
        );
        let rows = reader.query(&sql, &[&url, &self.holder, &ttl_ms]).await?;
        Ok(!rows.is_empty())
    }
}

// Storage and scale (issue 22): backups.
impl PgStore {
    /// Writes a backup from one `REPEATABLE READ` snapshot, each table read through a
    /// cursor a page at a time, in the byte order of the keys (`COLLATE "C"`, redb's
    /// order, so a backup lists the same data in the same order from either backend).
    /// Blocking (like [`PgStore::write`]).
    pub fn backup(&self, sink: &mut backup::Sink<'_>) -> Result<Counts, StorageError> {
        let e = |x: tokio_postgres::Error| pg_error(&self.location, &x);
        let mut client = self
            .runtime
            .block_on(self.pool.get())
            .map_err(|x| self.unavailable(x))?;
        let txn = self
            .runtime
            .block_on(
                client
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start(),
            )
            .map_err(e)?;
        let mut dump = Dump::start(sink, "postgres", &self.instance)?;
        let each = |sql: &str, f: &mut dyn FnMut(&Row) -> Result<Item, StorageError>, dump: &mut Dump<'_, '_>| {
            self.runtime
                .block_on(txn.batch_execute(&format!("DECLARE backup NO SCROLL CURSOR FOR {sql}")))
                .map_err(e)?;
            loop {
                let rows = self
                    .runtime
                    .block_on(txn.query("FETCH 500 FROM backup", &[]))
                    .map_err(e)?;
                if rows.is_empty() {
                    break;
                }
                for row in &rows {
                    dump.put(&f(row)?)?;
                }
            }
            self.runtime.block_on(txn.batch_execute("CLOSE backup")).map_err(e)
        };
        let get = |row: &Row, i: usize| -> Result<Vec<u8>, StorageError> { row.try_get(i).map_err(e) };
        let text = |row: &Row, i: usize| -> Result<String, StorageError> { row.try_get(i).map_err(e) };
        let int =
            |row: &Row, i: usize| -> Result<u64, StorageError> { row.try_get::<_, i64>(i).map(to_u64).map_err(e) };
        each(
            "SELECT id, record FROM leadscore.leads ORDER BY id COLLATE \"C\"",
            &mut |r| {
                let (id, record) = (text(r, 0)?, decode("lead", &get(r, 1)?)?);
                Ok(Item::Lead { id, record })
            },
            &mut dump,
        )?;
        each(
            "SELECT lead, seq, body FROM leadscore.events ORDER BY lead COLLATE \"C\", seq",
            &mut |r| {
                let (lead, seq, body) = (text(r, 0)?, int(r, 1)?, backup::text("event", get(r, 2)?)?);
                Ok(Item::Event { lead, seq, body })
            },
            &mut dump,
        )?;
        each(
            "SELECT lead, event_id, seq, digest FROM leadscore.event_ids ORDER BY lead COLLATE \"C\", event_id COLLATE \"C\"",
            &mut |r| {
                let (lead, id, seq) = (text(r, 0)?, text(r, 1)?, int(r, 2)?);
                let digest = r.try_get::<_, Option<&[u8]>>(3).map_err(e)?.map(backup::hex);
                Ok(Item::EventId { lead, id, seq, digest })
            },
            &mut dump,
        )?;
        each(
            "SELECT lead, n, entry FROM leadscore.history ORDER BY lead COLLATE \"C\", n",
            &mut |r| {
                let (lead, n, entry) = (text(r, 0)?, int(r, 1)?, decode("history entry", &get(r, 2)?)?);
                Ok(Item::History { lead, n, entry })
            },
            &mut dump,
        )?;
        each(
            "SELECT seq, body FROM leadscore.transitions ORDER BY seq",
            &mut |r| {
                let (seq, body) = (int(r, 0)?, backup::text("transition", get(r, 1)?)?);
                Ok(Item::Transition { seq, body })
            },
            &mut dump,
        )?;
        each(
            // Not the alert streams' (see `ALERT_STREAM`): the alert log is not backed up.
            "SELECT url, cursor FROM leadscore.cursors WHERE left(url, 7) <> 'alerts ' ORDER BY url COLLATE \"C\"",
            &mut |r| {
                let (url, cursor) = (text(r, 0)?, decode("cursor", &get(r, 1)?)?);
                Ok(Item::Cursor { url, cursor })
            },
            &mut dump,
        )?;
        each(
            "SELECT value FROM leadscore.meta WHERE name = 'rescore'",
            &mut |r| Ok(Item::Rescore(decode("re-scoring state", text(r, 0)?.as_bytes())?)),
            &mut dump,
        )?;
        each(
            "SELECT body FROM leadscore.handoffs ORDER BY mql_at, lead COLLATE \"C\"",
            &mut |r| Ok(Item::HandOff(decode("hand-off", &get(r, 0)?)?)),
            &mut dump,
        )?;
        each(
            "SELECT url, letter FROM leadscore.dead_letters ORDER BY url COLLATE \"C\", seq",
            &mut |r| {
                let (url, letter) = (text(r, 0)?, decode("dead letter", &get(r, 1)?)?);
                Ok(Item::DeadLetter { url, letter })
            },
            &mut dump,
        )?;
        for tally in self.runtime.block_on(shadow_tallies(&txn)).map_err(e)? {
            dump.put(&Item::Shadow(Box::new(tally)))?;
        }
        drop(txn);
        dump.finish()
    }
}

/// Every shadow tally, in the byte order of the packs' names (a backup's order).
async fn shadow_tallies(txn: &deadpool_postgres::Transaction<'_>) -> Result<Vec<ShadowTally>, tokio_postgres::Error> {
    let mut tallies = std::collections::BTreeMap::new();
    let rows = txn
        .query(
            "SELECT pack, leads, mql_both, mql_live_only, mql_shadow_only, route_changed, score_change
             FROM leadscore.shadow_tallies",
            &[],
        )
        .await?;
    for row in &rows {
        let pack: String = row.try_get(0)?;
        let mut tally = ShadowTally::new(&pack);
        tally.leads = row.try_get(1)?;
        tally.mql_both = row.try_get(2)?;
        tally.mql_live_only = row.try_get(3)?;
        tally.mql_shadow_only = row.try_get(4)?;
        tally.route_changed = row.try_get(5)?;
        tally.score_change = row.try_get(6)?;
        tallies.insert(pack, tally);
    }
    let rules = txn
        .query(
            "SELECT pack, rule, leads, mql_live_only, mql_shadow_only, route_changed
             FROM leadscore.shadow_rules WHERE leads <> 0",
            &[],
        )
        .await?;
    for r in &rules {
        let counts = RuleTally {
            leads: r.try_get(2)?,
            mql_live_only: r.try_get(3)?,
            mql_shadow_only: r.try_get(4)?,
            route_changed: r.try_get(5)?,
        };
        if let Some(tally) = tallies.get_mut(r.try_get::<_, &str>(0)?) {
            tally.rules.insert(r.try_get(1)?, counts);
        }
    }
    Ok(tallies.into_values().collect())
}

/// Applies the migrations the database lacks, under a session advisory lock, so two
/// instances starting at once apply each exactly once (the second waits, then finds it
/// done).
async fn migrate(location: &str, mut client: Object) -> Result<(), StorageError> {
    let e = |x: tokio_postgres::Error| pg_error(location, &x);
    client
        .execute("SELECT pg_advisory_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(e)?;
    let done = apply_migrations(location, &mut client).await;
    let unlocked = client
        .execute("SELECT pg_advisory_unlock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(e);
    done.and(unlocked.map(|_| ()))
}

async fn apply_migrations(location: &str, client: &mut Object) -> Result<(), StorageError> {
    let e = |x: tokio_postgres::Error| pg_error(location, &x);
    client
        .batch_execute(
            "CREATE SCHEMA IF NOT EXISTS leadscore;
             CREATE TABLE IF NOT EXISTS leadscore.migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());",
        )
        .await
        .map_err(e)?;
    let rows = client
        .query("SELECT version FROM leadscore.migrations", &[])
        .await
        .map_err(e)?;
    let applied = rows
        .iter()
        .map(|r| r.try_get::<_, i32>(0))
        .collect::<Result<std::collections::BTreeSet<i32>, _>>()
        .map_err(e)?;
    let have = applied.last().copied().unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |(v, _)| *v);
    if have > known {
        return Err(StorageError::new(
            StorageErrorKind::Config,
            format!("{location}: the database has schema version {have}, newer than this leadscore knows ({known}); run a newer leadscore"),
        ));
    }
    for (version, sql) in MIGRATIONS.iter().filter(|(v, _)| !applied.contains(v)) {
        let txn = client.transaction().await.map_err(e)?;
        txn.batch_execute(sql).await.map_err(e)?;
        if *version == HANDOFF_MIGRATION {
            backfill_handoffs(location, &txn).await?;
        }
        txn.execute("INSERT INTO leadscore.migrations (version) VALUES ($1)", &[version])
            .await
            .map_err(e)?;
        txn.commit().await.map_err(e)?;
    }
    Ok(())
}

/// The hand-offs the outbox records (see `funnel::replay`), and each lead's latest.
async fn backfill_handoffs(location: &str, txn: &deadpool_postgres::Transaction<'_>) -> Result<(), StorageError> {
    let e = |x: tokio_postgres::Error| pg_error(location, &x);
    let rows = txn
        .query("SELECT body FROM leadscore.transitions ORDER BY seq", &[])
        .await
        .map_err(e)?;
    let mut all = Vec::with_capacity(rows.len());
    for row in &rows {
        all.push(decode::<Transition>(
            "transition",
            row.try_get::<_, &[u8]>(0).map_err(e)?,
        )?);
    }
    let (list, latest) = crate::model::replay(all);
    for h in &list {
        let row = handoff_row(h);
        txn.execute(PUT_HANDOFF, &row.params()).await.map_err(e)?;
    }
    for (lead, mql_at) in latest {
        let rows = txn
            .query("SELECT record FROM leadscore.leads WHERE id = $1", &[&lead])
            .await
            .map_err(e)?;
        if let Some(row) = rows.first() {
            let mut record: LeadRecord = decode("lead", row.try_get::<_, &[u8]>(0).map_err(e)?)?;
            record.handoff = Some(mql_at);
            txn.execute(
                "UPDATE leadscore.leads SET record = $2 WHERE id = $1",
                &[&lead, &encode(&record)],
            )
            .await
            .map_err(e)?;
        }
    }
    Ok(())
}

const PUT_HANDOFF: &str =
    "INSERT INTO leadscore.handoffs (mql_at, lead, route, sla_due, open, body) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (mql_at, lead) DO UPDATE SET open = EXCLUDED.open, body = EXCLUDED.body";

/// The values of [`PUT_HANDOFF`].
struct HandOffRow {
    mql_at: i64,
    lead: String,
    route: String,
    sla_due: Option<i64>,
    open: bool,
    body: Vec<u8>,
}

fn handoff_row(h: &HandOff) -> HandOffRow {
    HandOffRow {
        mql_at: h.mql_at,
        lead: h.lead.clone(),
        route: h.route.clone().unwrap_or_default(),
        sla_due: h.sla_due,
        open: h.open(),
        body: encode(h),
    }
}

impl HandOffRow {
    fn params(&self) -> [&(dyn ToSql + Sync); 6] {
        [
            &self.mql_at,
            &self.lead,
            &self.route,
            &self.sla_due,
            &self.open,
            &self.body,
        ]
    }
}

fn to_i64(n: u64) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

fn to_u64(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// The stored ones of the event ids `$1` (leads) and `$2` (ids), with their digests: an
/// index lookup each, whatever the planner thinks of the table (a join would be planned
/// once per connection, as a scan of the whole table while it was small, and kept).
macro_rules! find_event_ids {
    () => {
        "SELECT x.lead, x.event_id, e.digest FROM unnest($1::text[], $2::text[]) AS x (lead, event_id),
           LATERAL (SELECT digest FROM leadscore.event_ids AS e WHERE e.lead = x.lead AND e.event_id = x.event_id LIMIT 1) AS e"
    };
}
const FIND_EVENT_IDS: &str = find_event_ids!();

/// One write transaction, driven from the writer thread.
///
/// Its blind writes (events, event ids and their digests, dropped events, history, lead
/// rows, hand-offs, rule counts, shadow tallies, transitions) wait in [`Pending`] and go
/// to the server together, a statement per table with every row (`unnest`), sent as one
/// pipeline ([`PgTxn::flush`]): before a read that could see them, when the transitions'
/// seqs are taken, and before `COMMIT`. The reads the logic needs are answered from what
/// is pending where they touch it (a lead written, an event id stored, a hand-off), so a
/// commit of many leads takes a handful of round trips instead of several per lead.
struct PgTxn<'a> {
    /// The writer's connection. `BEGIN` goes with the transaction's first statements and
    /// `COMMIT` with its last ones, in their pipelines; dropped before its commit, the
    /// transaction is rolled back ([`Drop`]).
    client: &'a Object,
    /// Whether `BEGIN` was sent and neither `COMMIT` nor `ROLLBACK` yet.
    open: std::cell::Cell<bool>,
    /// Whether this is the transaction's first run: only then may [`Txn::lock_leads`]
    /// leave its locks for the next pipeline (see it), and only then does the writer's
    /// cache hold the copies of its leads that [`PgStore::seen`] describes.
    guess: bool,
    /// The locks and the guard [`Txn::lock_leads`] left to go after `BEGIN`, in the
    /// transaction's first pipeline, whatever it is.
    head: std::cell::RefCell<Vec<Statement>>,
    store: &'a PgStore,
    /// The stamps of the leads this transaction locked or wrote (see [`Txn::lead_stamp`]).
    stamps: std::collections::HashMap<String, i64>,
    /// Writes not sent yet.
    pending: Pending,
    /// Event ids this transaction knows about: (lead, id) → whether stored, and the digest.
    known_ids: std::collections::HashMap<(String, String), Known>,
    /// The event ids [`Txn::expect_event_ids`] announced, read with the locks.
    expected_ids: Vec<(String, String)>,
    /// Stamps taken from the sequence with the locks, one per lead locked, for the lead
    /// rows this transaction writes: [`Txn::lead_stamp`] knows a written lead's new stamp
    /// without waiting for its row to be sent.
    spare_stamps: Vec<i64>,
    /// The leads locked that another writer changed since this process saw them (see
    /// [`PgStore::seen`]): record and events as stored, read with the locks, and kept up
    /// to date by this transaction's writes of events, so [`Txn::lead`] and
    /// [`Txn::events_from`] need no round trip of their own.
    fetched: std::collections::HashMap<String, Fetched>,
    /// The leads locked that have no row (the locks keep it so until the commit), or
    /// erased by this transaction: [`Txn::lead`] needs no round trip to say so.
    absent: std::collections::HashSet<String>,
    /// The creation stamps (`born`) of the leads locked, claimed or created.
    borns: std::collections::HashMap<String, i64>,
    /// The seq of the next event of each lead row written (see [`Seen::wrote`]).
    nexts: std::collections::HashMap<String, i64>,
}

/// A lead as [`Txn::lock_leads`] read it (see [`PgTxn::fetched`]).
#[derive(Default)]
struct Fetched {
    /// The record, until [`Txn::lead`] takes it.
    record: Option<Vec<u8>>,
    /// Its events by seq, with this transaction's appends and drops: those from seq
    /// `from` on.
    events: std::collections::BTreeMap<i64, Vec<u8>>,
    /// The first seq read: 0, or, for the lead this process wrote last with the stamp
    /// `since`, the seq of the first event written after it (see [`Seen::wrote`]).
    from: i64,
    /// The stamp of this process's copy the events from `from` on bring up to date.
    since: Option<i64>,
}

impl Drop for PgTxn<'_> {
    /// Rolls back a transaction not committed (an error, or a conflict to run again).
    fn drop(&mut self) {
        if self.open.get() {
            // A connection that fails here is broken: the server rolls back as it closes.
            let _ = self.store.runtime.block_on(self.client.batch_execute("ROLLBACK"));
        }
    }
}

/// What a transaction knows of an event id (see [`PgTxn::known_ids`]).
#[derive(Clone, Debug)]
enum Known {
    /// Not stored.
    Absent,
    /// Stored (or pending), with the digest of its payload if one was kept.
    Stored(Option<Vec<u8>>),
}

/// The blind writes of a transaction not sent yet (see [`PgTxn`]), in the order they are
/// sent: inserts before the deletes that may drop what they inserted (seqs and history
/// numbers only grow, so the result is that of running them one by one).
#[derive(Default)]
struct Pending {
    /// (lead, seq, body)
    events: Vec<(String, i64, Vec<u8>)>,
    /// (lead, event id, seq, digest)
    event_ids: Vec<(String, String, i64, Option<Vec<u8>>)>,
    /// New digests of event ids stored before this transaction.
    digests: std::collections::BTreeMap<(String, String), Vec<u8>>,
    /// (lead, from, to): events dropped past the limit.
    dropped: Vec<(String, i64, i64)>,
    /// (lead, n, entry)
    history: Vec<(String, i64, Vec<u8>)>,
    /// (lead, n): history entries dropped past the limit.
    history_dropped: Vec<(String, i64)>,
    /// Lead rows by id.
    leads: std::collections::BTreeMap<String, LeadRow>,
    /// Hand-offs by (mql_at, lead).
    handoffs: std::collections::BTreeMap<(Millis, String), HandOff>,
    /// (hour, counts, keep_from)
    rule_fires: Vec<(Millis, RuleFires, Millis)>,
    shadow: Vec<ShadowTally>,
    /// (seq, body), seqs given by [`Txn::push_transitions`].
    transitions: Vec<(i64, Vec<u8>)>,
}

/// A lead row waiting in [`Pending`].
struct LeadRow {
    record: Vec<u8>,
    due: Option<Millis>,
    /// `None`: the sequence's next, given when it is sent.
    stamp: Option<i64>,
}

/// A statement with its parameters, owned, for a pipeline.
struct Statement {
    sql: &'static str,
    params: Vec<Box<dyn ToSql + Sync>>,
}

impl Statement {
    fn new(sql: &'static str, params: Vec<Box<dyn ToSql + Sync>>) -> Statement {
        Statement { sql, params }
    }
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.event_ids.is_empty()
            && self.digests.is_empty()
            && self.dropped.is_empty()
            && self.history.is_empty()
            && self.history_dropped.is_empty()
            && self.leads.is_empty()
            && self.handoffs.is_empty()
            && self.rule_fires.is_empty()
            && self.shadow.is_empty()
            && self.transitions.is_empty()
    }

    /// Whether a write of `lead`'s events waits here.
    fn touches_events(&self, lead: &str) -> bool {
        self.events.iter().any(|(l, ..)| l == lead) || self.dropped.iter().any(|(l, ..)| l == lead)
    }

    /// Forgets the writes of `lead` that its erasure removes anyway.
    fn erase(&mut self, lead: &str) {
        self.events.retain(|(l, ..)| l != lead);
        self.event_ids.retain(|(l, ..)| l != lead);
        self.digests.retain(|(l, _), _| l != lead);
        self.dropped.retain(|(l, ..)| l != lead);
        self.history.retain(|(l, ..)| l != lead);
        self.history_dropped.retain(|(l, _)| l != lead);
        self.leads.remove(lead);
    }

    /// The statements that store it all, in order; the one for the lead rows returns
    /// `(id, stamp, born)` (its index is the second value).
    fn statements(self, holder: &str) -> (Vec<Statement>, Option<usize>) {
        let mut out = Vec::new();
        if !self.events.is_empty() {
            let (leads, seqs, bodies) = unzip3(self.events);
            out.push(Statement::new(
                "INSERT INTO leadscore.events (lead, seq, body)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])",
                vec![Box::new(leads), Box::new(seqs), Box::new(bodies)],
            ));
        }
        if !self.event_ids.is_empty() {
            let mut columns = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (lead, id, seq, digest) in self.event_ids {
                columns.0.push(lead);
                columns.1.push(id);
                columns.2.push(seq);
                columns.3.push(digest);
            }
            out.push(Statement::new(
                "INSERT INTO leadscore.event_ids (lead, event_id, seq, digest)
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[])",
                vec![
                    Box::new(columns.0),
                    Box::new(columns.1),
                    Box::new(columns.2),
                    Box::new(columns.3),
                ],
            ));
        }
        if !self.digests.is_empty() {
            let (leads, ids, digests) = unzip3(self.digests.into_iter().map(|((l, i), d)| (l, i, d)));
            out.push(Statement::new(
                "UPDATE leadscore.event_ids AS e SET digest = u.digest
                 FROM unnest($1::text[], $2::text[], $3::bytea[]) AS u (lead, event_id, digest)
                 WHERE e.lead = u.lead AND e.event_id = u.event_id",
                vec![Box::new(leads), Box::new(ids), Box::new(digests)],
            ));
        }
        if !self.dropped.is_empty() {
            let (leads, from, to) = unzip3(self.dropped);
            out.push(Statement::new(
                "DELETE FROM leadscore.events AS e
                 USING unnest($1::text[], $2::bigint[], $3::bigint[]) AS d (lead, from_seq, to_seq)
                 WHERE e.lead = d.lead AND e.seq >= d.from_seq AND e.seq < d.to_seq",
                vec![Box::new(leads), Box::new(from), Box::new(to)],
            ));
        }
        if !self.history.is_empty() {
            let (leads, ns, entries) = unzip3(self.history);
            out.push(Statement::new(
                "INSERT INTO leadscore.history (lead, n, entry)
                 SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])",
                vec![Box::new(leads), Box::new(ns), Box::new(entries)],
            ));
        }
        if !self.history_dropped.is_empty() {
            let (leads, ns): (Vec<String>, Vec<i64>) = self.history_dropped.into_iter().unzip();
            out.push(Statement::new(
                "DELETE FROM leadscore.history AS h USING unnest($1::text[], $2::bigint[]) AS d (lead, n)
                 WHERE h.lead = d.lead AND h.n = d.n",
                vec![Box::new(leads), Box::new(ns)],
            ));
        }
        let mut stamps = None;
        if !self.leads.is_empty() {
            let mut columns = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
            for (id, row) in self.leads {
                columns.0.push(id);
                columns.1.push(row.record);
                columns.2.push(row.due);
                columns.3.push(row.stamp);
            }
            stamps = Some(out.len());
            out.push(Statement::new(
                "INSERT INTO leadscore.leads (id, record, due, stamp, born)
                 SELECT id, record, due, stamp, stamp FROM
                   (SELECT id, record, due, coalesce(stamp, nextval('leadscore.lead_stamps')) AS stamp
                    FROM unnest($1::text[], $2::bytea[], $3::bigint[], $4::bigint[]) AS u (id, record, due, stamp)
                    OFFSET 0) AS u
                 ON CONFLICT (id) DO UPDATE SET record = EXCLUDED.record, due = EXCLUDED.due, stamp = EXCLUDED.stamp
                 RETURNING id, stamp, born",
                vec![
                    Box::new(columns.0),
                    Box::new(columns.1),
                    Box::new(columns.2),
                    Box::new(columns.3),
                ],
            ));
        }
        if !self.handoffs.is_empty() {
            out.push(handoffs_statement(self.handoffs.values()));
        }
        for (hour, fires, keep_from) in self.rule_fires {
            out.push(rule_fires_statement(hour, &fires, keep_from, holder));
        }
        for tally in &self.shadow {
            out.extend(shadow_statements(tally));
        }
        if !self.transitions.is_empty() {
            let (seqs, bodies): (Vec<i64>, Vec<Vec<u8>>) = self.transitions.into_iter().unzip();
            out.push(Statement::new(
                "INSERT INTO leadscore.transitions (seq, body) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
                vec![Box::new(seqs), Box::new(bodies)],
            ));
        }
        (out, stamps)
    }
}

fn unzip3<A, B, C>(rows: impl IntoIterator<Item = (A, B, C)>) -> (Vec<A>, Vec<B>, Vec<C>) {
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for (x, y, z) in rows {
        a.push(x);
        b.push(y);
        c.push(z);
    }
    (a, b, c)
}

/// Every hand-off given, upserted with one statement (as [`PUT_HANDOFF`] does one).
fn handoffs_statement<'h>(handoffs: impl Iterator<Item = &'h HandOff>) -> Statement {
    let rows: Vec<HandOffRow> = handoffs.map(handoff_row).collect();
    let column = |f: fn(&HandOffRow) -> i64| rows.iter().map(f).collect::<Vec<_>>();
    let mql_at = column(|r| r.mql_at);
    let leads: Vec<String> = rows.iter().map(|r| r.lead.clone()).collect();
    let routes: Vec<String> = rows.iter().map(|r| r.route.clone()).collect();
    let sla: Vec<Option<i64>> = rows.iter().map(|r| r.sla_due).collect();
    let open: Vec<bool> = rows.iter().map(|r| r.open).collect();
    let bodies: Vec<Vec<u8>> = rows.into_iter().map(|r| r.body).collect();
    Statement::new(
        "INSERT INTO leadscore.handoffs (mql_at, lead, route, sla_due, open, body)
         SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::bytea[])
         ON CONFLICT (mql_at, lead) DO UPDATE SET open = EXCLUDED.open, body = EXCLUDED.body",
        vec![
            Box::new(mql_at),
            Box::new(leads),
            Box::new(routes),
            Box::new(sla),
            Box::new(open),
            Box::new(bodies),
        ],
    )
}

/// See [`Txn::add_rule_fires`].
fn rule_fires_statement(hour: Millis, fires: &RuleFires, keep_from: Millis, holder: &str) -> Statement {
    let names: Vec<String> = fires.rules.keys().cloned().collect();
    let counts: Vec<i64> = fires.rules.values().map(|n| to_i64(*n)).collect();
    Statement::new(
        "WITH old_rules AS (DELETE FROM leadscore.rule_fires WHERE hour < $3),
              old_results AS (DELETE FROM leadscore.results_scored WHERE hour < $3),
              rules AS (INSERT INTO leadscore.rule_fires AS f
                          SELECT $1::bigint, $2::text, * FROM unnest($4::text[], $5::bigint[])
                        ON CONFLICT (hour, writer, rule) DO UPDATE SET n = f.n + EXCLUDED.n)
         INSERT INTO leadscore.results_scored AS r VALUES ($1, $2, $6)
         ON CONFLICT (hour, writer) DO UPDATE SET n = r.n + EXCLUDED.n",
        vec![
            Box::new(hour),
            Box::new(holder.to_string()),
            Box::new(keep_from),
            Box::new(names),
            Box::new(counts),
            Box::new(to_i64(fires.results)),
        ],
    )
}

/// See [`Txn::add_shadow`]: increments, so two instances' batches add up whatever their
/// order.
fn shadow_statements(delta: &ShadowTally) -> Vec<Statement> {
    let mut out = vec![Statement::new(
        "INSERT INTO leadscore.shadow_tallies AS t VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (pack) DO UPDATE SET leads = t.leads + EXCLUDED.leads, mql_both = t.mql_both + EXCLUDED.mql_both,
           mql_live_only = t.mql_live_only + EXCLUDED.mql_live_only,
           mql_shadow_only = t.mql_shadow_only + EXCLUDED.mql_shadow_only,
           route_changed = t.route_changed + EXCLUDED.route_changed,
           score_change = t.score_change + EXCLUDED.score_change",
        vec![
            Box::new(delta.pack.clone()),
            Box::new(delta.leads),
            Box::new(delta.mql_both),
            Box::new(delta.mql_live_only),
            Box::new(delta.mql_shadow_only),
            Box::new(delta.route_changed),
            Box::new(delta.score_change),
        ],
    )];
    if delta.rules.is_empty() {
        return out;
    }
    let names: Vec<String> = delta.rules.keys().cloned().collect();
    let column = |f: fn(&RuleTally) -> i64| delta.rules.values().map(f).collect::<Vec<i64>>();
    out.push(Statement::new(
        "INSERT INTO leadscore.shadow_rules AS r
           SELECT $1::text, * FROM unnest($2::text[], $3::bigint[], $4::bigint[], $5::bigint[], $6::bigint[])
         ON CONFLICT (pack, rule) DO UPDATE SET leads = r.leads + EXCLUDED.leads,
           mql_live_only = r.mql_live_only + EXCLUDED.mql_live_only,
           mql_shadow_only = r.mql_shadow_only + EXCLUDED.mql_shadow_only,
           route_changed = r.route_changed + EXCLUDED.route_changed",
        vec![
            Box::new(delta.pack.clone()),
            Box::new(names),
            Box::new(column(|r| r.leads)),
            Box::new(column(|r| r.mql_live_only)),
            Box::new(column(|r| r.mql_shadow_only)),
            Box::new(column(|r| r.route_changed)),
        ],
    ));
    out
}

/// Polls every future in turn, in their order, until all are done: a query sends its
/// request when first polled, so the requests reach the server in this order, all before
/// any answer is awaited (tokio-postgres pipelines them on the connection). Every output,
/// or the first error in order (after an error the server refuses the rest of the
/// transaction, so later ones only say that).
async fn in_order<T, E>(futures: Vec<Answer<'_, T, E>>) -> Result<Vec<T>, E> {
    use std::task::Poll;
    let mut futures: Vec<_> = futures.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<Result<T, E>>> = futures.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut waiting = false;
        for (slot, output) in futures.iter_mut().zip(outputs.iter_mut()) {
            if let Some(future) = slot {
                match future.as_mut().poll(cx) {
                    Poll::Ready(done) => {
                        *output = Some(done);
                        *slot = None;
                    }
                    Poll::Pending => waiting = true,
                }
            }
        }
        if waiting {
            Poll::Pending
        } else {
            Poll::Ready(())
        }
    })
    .await;
    outputs.into_iter().flatten().collect()
}

type Params<'p> = [&'p (dyn ToSql + Sync)];

/// A statement's answer to come, for [`in_order`].
type Answer<'f, T, E> = std::pin::Pin<Box<dyn Future<Output = Result<T, E>> + 'f>>;

/// A statement as [`PgTxn::send`] takes it: its text and its parameters.
type Borrowed<'s> = (&'s str, Vec<&'s (dyn ToSql + Sync)>);

/// The statements as [`PgTxn::send`] takes them.
fn borrowed(statements: &[Statement]) -> Vec<Borrowed<'_>> {
    statements
        .iter()
        .map(|s| (s.sql, s.params.iter().map(|p| &**p as &(dyn ToSql + Sync)).collect()))
        .collect()
}

impl PgTxn<'_> {
    fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StorageError> {
        let mut rows = self.send(&[(sql, params.to_vec())], None)?;
        Ok(rows.pop().unwrap_or_default())
    }

    /// [`PgTxn::query`] for a statement run for its effect: how many rows it returned.
    fn execute(&self, sql: &str, params: &Params<'_>) -> Result<u64, StorageError> {
        let rows = self.query(sql, params)?;
        Ok(u64::try_from(rows.len()).unwrap_or(u64::MAX))
    }

    /// Runs the statements as one pipeline (see [`in_order`]): the rows of each.
    fn pipeline(&self, statements: &[Statement]) -> Result<Vec<Vec<Row>>, StorageError> {
        self.send(&borrowed(statements), None)
    }

    /// Sends the statements as one pipeline, after `BEGIN` if the transaction has not
    /// begun and before `end` (`COMMIT`) if given: the rows of each of `statements`.
    /// The locks and the guard [`Txn::lock_leads`] left go after `BEGIN`; a guard that
    /// fails is a conflict, and the transaction is run again the ordinary way.
    fn send(&self, statements: &[Borrowed<'_>], end: Option<&str>) -> Result<Vec<Vec<Row>>, StorageError> {
        let begin = !self.open.get();
        let head = if begin {
            std::mem::take(&mut *self.head.borrow_mut())
        } else {
            Vec::new()
        };
        let head = borrowed(&head);
        let all: Vec<(&str, &[&(dyn ToSql + Sync)])> = begin
            .then_some(("BEGIN", &[] as &Params<'_>))
            .into_iter()
            .chain(head.iter().map(|(sql, params)| (*sql, params.as_slice())))
            .chain(statements.iter().map(|(sql, params)| (*sql, params.as_slice())))
            .chain(end.map(|sql| (sql, &[] as &Params<'_>)))
            .collect();
        self.open.set(end.is_none());
        let sent = self.store.runtime.block_on(async {
            let mut prepared = Vec::with_capacity(all.len());
            for (sql, _) in &all {
                prepared.push(self.client.prepare_cached(sql).await.map_err(|e| (usize::MAX, e))?);
            }
            let futures = prepared
                .iter()
                .zip(&all)
                .enumerate()
                .map(|(i, (statement, (_, params)))| {
                    let answer = self.client.query(statement, params);
                    Box::pin(async move { answer.await.map_err(|e| (i, e)) }) as Answer<'_, Vec<Row>, _>
                })
                .collect();
            in_order(futures).await
        });
        let mut rows = sent.map_err(|(i, e)| self.failed(i, &e, !head.is_empty()))?;
        rows.drain(..usize::from(begin) + head.len());
        rows.truncate(statements.len());
        Ok(rows)
    }

    /// The error of statement `i` of a pipeline that began the transaction with the
    /// locks [`Txn::lock_leads`] left (`head`): a failed guard is a conflict, and the
    /// transaction is run again the ordinary way (for [`WARY_FOR`] transactions more
    /// when a lead's stamp differed, not for an event id stored: that is a client's
    /// repeat).
    fn failed(&self, i: usize, e: &tokio_postgres::Error, head: bool) -> StorageError {
        let guard = head && e.code() == Some(&SqlState::DIVISION_BY_ZERO);
        let what = match i {
            // `BEGIN`, the advisory locks, the rows' locks, then the guards.
            3 if guard => "a lead changed since this instance wrote it",
            4 if guard => "an event id the transaction took for new is stored",
            _ => return pg_error(&self.store.location, e),
        };
        if i == 3 {
            self.store.wary.store(WARY_FOR, std::sync::atomic::Ordering::Relaxed);
        }
        StorageError::new(StorageErrorKind::Conflict, format!("{}: {what}", self.store.location))
    }

    /// Sends every pending write and `COMMIT`, in one pipeline.
    fn commit(&mut self) -> Result<(), StorageError> {
        let pending = std::mem::take(&mut self.pending);
        let (statements, _) = pending.statements(&self.store.holder);
        self.send(&borrowed(&statements), Some("COMMIT")).map(drop)
    }

    /// Sends every pending write, and `then` after them in the same pipeline: its rows.
    fn flush_then(&mut self, then: Option<Statement>) -> Result<Vec<Row>, StorageError> {
        let pending = std::mem::take(&mut self.pending);
        let (mut statements, stamps) = pending.statements(&self.store.holder);
        let extra = then.is_some();
        statements.extend(then);
        if statements.is_empty() {
            return Ok(Vec::new());
        }
        let mut rows = self.pipeline(&statements)?;
        if let Some(stamped) = stamps.and_then(|i| rows.get(i)) {
            for row in stamped {
                let (id, stamp, born): (String, i64, i64) = (self.get(row, 0)?, self.get(row, 1)?, self.get(row, 2)?);
                self.stamps.insert(id.clone(), stamp);
                self.borns.insert(id, born);
            }
        }
        Ok(if extra {
            rows.pop().unwrap_or_default()
        } else {
            Vec::new()
        })
    }

    /// Sends every pending write (see [`PgTxn`]).
    fn flush(&mut self) -> Result<(), StorageError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        self.flush_then(None).map(drop)
    }

    fn get<'r, T: tokio_postgres::types::FromSql<'r>>(&self, row: &'r Row, i: usize) -> Result<T, StorageError> {
        row.try_get(i).map_err(|e| pg_error(&self.store.location, &e))
    }

    /// The statements that read, for the leads `ids` just locked, a new stamp each (for
    /// [`Txn::put_lead`]), and the record and events of those another writer changed
    /// since this process saw them (see [`PgStore::seen`]): of a lead this process
    /// wrote, if it is still the same lead (its `born` stamp), only the events from the
    /// seq its write left next on, the ones the other writers added. [`PgTxn::take_readings`]
    /// keeps their rows.
    fn readings(&self, ids: &[&str]) -> [Statement; 3] {
        // A transaction run again (after a conflict) lost the copies of its leads its
        // first run took from the writer's cache: all of them are read whole.
        let seen = match self.guess {
            true => self.store.seen(ids),
            false => vec![None; ids.len()],
        };
        let owned: Vec<String> = ids.iter().map(|id| (*id).to_string()).collect();
        let stamps: Vec<Option<i64>> = seen.iter().map(|s| s.map(|s| s.stamp)).collect();
        let wrote = seen.iter().map(|s| s.and_then(|s| s.wrote));
        let (borns, nexts): (Vec<Option<i64>>, Vec<Option<i64>>) =
            wrote.map(|w| (w.map(|w| w.0), w.map(|w| w.1))).unzip();
        [
            Statement::new(
                "SELECT nextval('leadscore.lead_stamps') FROM generate_series(1, $1::bigint)",
                vec![Box::new(i64::try_from(ids.len()).unwrap_or(i64::MAX))],
            ),
            Statement::new(
                "SELECT l.id, l.record, CASE WHEN l.born = u.born THEN u.stamp END, CASE WHEN l.born = u.born THEN u.next ELSE 0 END
                 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u (id, stamp, born, next)
                 JOIN leadscore.leads AS l ON l.id = u.id WHERE l.stamp IS DISTINCT FROM u.stamp",
                vec![
                    Box::new(owned.clone()),
                    Box::new(stamps.clone()),
                    Box::new(borns.clone()),
                    Box::new(nexts.clone()),
                ],
            ),
            Statement::new(
                // The events by index, lead by lead (`OFFSET 0` keeps the subquery a
                // subquery): a join would be planned once per connection, as a scan of
                // the whole table while it was small, and kept (see `FIND_EVENT_IDS`).
                "SELECT u.id, e.seq, e.body
                 FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[]) AS u (id, stamp, born, next)
                 JOIN leadscore.leads AS l ON l.id = u.id AND l.stamp IS DISTINCT FROM u.stamp,
                 LATERAL (SELECT e.seq, e.body FROM leadscore.events AS e
                          WHERE e.lead = u.id AND e.seq >= CASE WHEN l.born = u.born THEN u.next ELSE 0 END
                          OFFSET 0) AS e",
                vec![Box::new(owned), Box::new(stamps), Box::new(borns), Box::new(nexts)],
            ),
        ]
    }

    /// Keeps the rows of [`PgTxn::readings`]' statements; a lead read before in this
    /// transaction (locked, then claimed as due) keeps its first copy, which this
    /// transaction's writes kept current.
    fn take_readings(&mut self, rows: &[Vec<Row>]) -> Result<(), StorageError> {
        let mut each = rows.iter();
        for row in each.next().into_iter().flatten() {
            self.spare_stamps.push(self.get(row, 0)?);
        }
        let before: std::collections::HashSet<String> = self.fetched.keys().cloned().collect();
        for row in each.next().into_iter().flatten() {
            let (id, record): (String, Vec<u8>) = (self.get(row, 0)?, self.get(row, 1)?);
            let (since, from): (Option<i64>, i64) = (self.get(row, 2)?, self.get(row, 3)?);
            if !before.contains(&id) {
                let fetched = self.fetched.entry(id).or_default();
                fetched.record = Some(record);
                fetched.from = from;
                fetched.since = since;
            }
        }
        for row in each.next().into_iter().flatten() {
            let (lead, seq, body): (String, i64, Vec<u8>) = (self.get(row, 0)?, self.get(row, 1)?, self.get(row, 2)?);
            if !before.contains(&lead) {
                self.fetched.entry(lead).or_default().events.insert(seq, body);
            }
        }
        Ok(())
    }

    /// The ids of leads a claim locked (rows of `id, stamp, born`), their stamps kept
    /// and their [`PgTxn::readings`] read, in one pipeline.
    fn claimed(&mut self, rows: &[Row]) -> Result<Vec<String>, StorageError> {
        let mut ids = Vec::with_capacity(rows.len());
        for row in rows {
            let (id, stamp, born): (String, i64, i64) = (self.get(row, 0)?, self.get(row, 1)?, self.get(row, 2)?);
            self.stamps.entry(id.clone()).or_insert(stamp);
            self.borns.entry(id.clone()).or_insert(born);
            ids.push(id);
        }
        if !ids.is_empty() {
            let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
            let read = self.pipeline(&self.readings(&refs))?;
            self.take_readings(&read)?;
        }
        Ok(ids)
    }

    /// The locks of [`Txn::lock_leads`], and the guard, left for the next pipeline; the
    /// leads' stamps taken to be `seen`, the announced event ids not stored, and a stamp
    /// per lead for the rows [`Txn::put_lead`] will write taken from those put aside.
    fn lock_with_writes(&mut self, ids: &[&str], seen: Vec<Seen>) -> Result<(), StorageError> {
        self.spare_stamps = self.store.take_stamps(self.client, ids.len())?;
        let owned: Vec<String> = ids.iter().map(|id| (*id).to_string()).collect();
        for (id, seen) in owned.iter().zip(&seen) {
            self.stamps.insert(id.clone(), seen.stamp);
            if let Some((born, _)) = seen.wrote {
                self.borns.insert(id.clone(), born);
            }
        }
        let seen: Vec<i64> = seen.iter().map(|s| s.stamp).collect();
        let expected = std::mem::take(&mut self.expected_ids);
        let (leads, event_ids): (Vec<String>, Vec<String>) = expected.iter().cloned().unzip();
        for key in expected {
            self.known_ids.entry(key).or_insert(Known::Absent);
        }
        *self.head.borrow_mut() = vec![
            Statement::new(LOCK_ADVISORY, vec![Box::new(owned.clone())]),
            Statement::new(LOCK_ROWS, vec![Box::new(owned.clone())]),
            // The guards: 1 / 0, a division by zero, is the failure `send` knows as theirs.
            Statement::new(
                "SELECT 1 / ((SELECT count(DISTINCT l.id) FROM unnest($1::text[], $2::bigint[]) AS u (id, stamp)
                               JOIN leadscore.leads AS l ON l.id = u.id AND l.stamp = u.stamp)
                             = (SELECT count(DISTINCT id) FROM unnest($1::text[]) AS id))::int",
                vec![Box::new(owned), Box::new(seen)],
            ),
            Statement::new(
                concat!(
                    "SELECT 1 / (SELECT count(*) = 0 FROM (",
                    find_event_ids!(),
                    ") AS stored)::int"
                ),
                vec![Box::new(leads), Box::new(event_ids)],
            ),
        ];
        Ok(())
    }

    /// What is known of the event id, from the pending writes, the ids read with the
    /// locks, or the database.
    fn known_id(&mut self, lead: &str, event_id: &str) -> Result<Known, StorageError> {
        let key = (lead.to_string(), event_id.to_string());
        if let Some(known) = self.known_ids.get(&key) {
            return Ok(known.clone());
        }
        let rows = self.query(
            "SELECT digest FROM leadscore.event_ids WHERE lead = $1 AND event_id = $2",
            &[&lead, &event_id],
        )?;
        let known = match rows.first() {
            Some(row) => Known::Stored(self.get::<Option<Vec<u8>>>(row, 0)?),
            None => Known::Absent,
        };
        self.known_ids.insert(key, known.clone());
        Ok(known)
    }
}

/// The leads' advisory locks (see the module's documentation), in key order.
const LOCK_ADVISORY: &str = "SELECT count(pg_advisory_xact_lock(k)) FROM
   (SELECT DISTINCT hashtextextended(id, 0) AS k FROM unnest($1::text[]) AS id ORDER BY k) AS sorted";

/// The rows of the leads that exist, locked, with their stamps and creation stamps.
const LOCK_ROWS: &str = "SELECT id, stamp, born FROM leadscore.leads WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE";

impl Txn for PgTxn<'_> {
    /// One pipeline: the advisory locks, the rows' locks and stamps, the event ids
    /// [`Txn::expect_event_ids`] announced, and a new stamp per lead for the rows
    /// [`Txn::put_lead`] will write.
    ///
    /// Or none, when this process wrote each of the leads last as far as it knows (it
    /// has their stamps, [`PgStore::seen`]): then the locks go with the transaction's
    /// next pipeline, its writes and `COMMIT` if it reads nothing more, followed by a
    /// guard that fails it (before any write) unless every lead's stamp is the one this
    /// process saw and none of the announced event ids is stored. The guard reads after
    /// the locks, as the ordinary reads do, so what it checks holds until the commit.
    fn lock_leads(&mut self, ids: &[&str]) -> Result<(), StorageError> {
        if ids.is_empty() {
            return Ok(());
        }
        if self.guess && !self.open.get() && self.store.may_guess() {
            let seen: Option<Vec<Seen>> = self.store.seen(ids).into_iter().collect();
            if let Some(seen) = seen {
                return self.lock_with_writes(ids, seen);
            }
        }
        let owned: Vec<String> = ids.iter().map(|id| (*id).to_string()).collect();
        let mut statements = vec![
            Statement::new(LOCK_ADVISORY, vec![Box::new(owned.clone())]),
            Statement::new(LOCK_ROWS, vec![Box::new(owned)]),
        ];
        statements.extend(self.readings(ids));
        let expected = std::mem::take(&mut self.expected_ids);
        if !expected.is_empty() {
            let (leads, event_ids): (Vec<String>, Vec<String>) = expected.iter().cloned().unzip();
            statements.push(Statement::new(
                FIND_EVENT_IDS,
                vec![Box::new(leads), Box::new(event_ids)],
            ));
        }
        let rows = self.pipeline(&statements)?;
        for row in rows.get(1).into_iter().flatten() {
            let (id, stamp, born): (String, i64, i64) = (self.get(row, 0)?, self.get(row, 1)?, self.get(row, 2)?);
            self.stamps.insert(id.clone(), stamp);
            self.borns.insert(id, born);
        }
        let missing = ids.iter().filter(|id| !self.stamps.contains_key(**id));
        self.absent.extend(missing.map(|id| (*id).to_string()));
        for key in expected {
            self.known_ids.entry(key).or_insert(Known::Absent);
        }
        self.take_readings(rows.get(2..5).unwrap_or_default())?;
        for row in rows.get(5).into_iter().flatten() {
            let key = (self.get(row, 0)?, self.get(row, 1)?);
            let digest = self.get::<Option<Vec<u8>>>(row, 2)?;
            self.known_ids.insert(key, Known::Stored(digest));
        }
        Ok(())
    }

    /// The claimed leads' stamps, and what [`PgTxn::readings`] reads, in one more round
    /// trip: a claim of many leads costs two, not two per lead.
    fn due_leads(&mut self, now: Millis, limit: usize) -> Result<Vec<String>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(
            "SELECT id, stamp, born FROM leadscore.leads WHERE due <= $1 ORDER BY due LIMIT $2 FOR UPDATE SKIP LOCKED",
            &[&now, &limit],
        )?;
        self.claimed(&rows)
    }

    fn lead(&mut self, id: &str) -> Result<Option<LeadRecord>, StorageError> {
        if let Some(row) = self.pending.leads.get(id) {
            return Ok(Some(decode("lead", &row.record)?));
        }
        if let Some(record) = self.fetched.get_mut(id).and_then(|f| f.record.take()) {
            return Ok(Some(decode("lead", &record)?));
        }
        if self.absent.contains(id) {
            return Ok(None);
        }
        let rows = self.query("SELECT record FROM leadscore.leads WHERE id = $1", &[&id])?;
        match rows.first() {
            Some(row) => Ok(Some(decode("lead", self.get::<&[u8]>(row, 0)?)?)),
            None => Ok(None),
        }
    }

    /// Pending until the next flush, with one of the stamps taken with the locks (none
    /// left: the flush takes one, and [`Txn::lead_stamp`] waits for it).
    fn put_lead(&mut self, id: &str, record: &LeadRecord, _indexed_due: Option<Millis>) -> Result<(), StorageError> {
        let stamp = self.spare_stamps.pop();
        match stamp {
            Some(stamp) => self.stamps.insert(id.to_string(), stamp),
            None => self.stamps.remove(id),
        };
        // A lead created now is born with the stamp its row is inserted with (without
        // one yet: the insert's answer gives it).
        if self.absent.remove(id) {
            match stamp {
                Some(stamp) => self.borns.insert(id.to_string(), stamp),
                None => self.borns.remove(id),
            };
        }
        self.nexts.insert(id.to_string(), to_i64(record.events.next));
        let row = LeadRow {
            record: encode(record),
            due: record.due,
            stamp,
        };
        self.pending.leads.insert(id.to_string(), row);
        Ok(())
    }

    /// At once (one pipeline), after forgetting the lead's pending writes: a later write
    /// of the transaction starts a new lead under the id.
    fn delete_lead(&mut self, id: &str, _indexed_due: Option<Millis>) -> Result<(), StorageError> {
        self.stamps.remove(id);
        self.borns.remove(id);
        self.nexts.remove(id);
        self.fetched.remove(id);
        self.absent.insert(id.to_string());
        self.pending.erase(id);
        self.known_ids.retain(|(lead, _), _| lead != id);
        let statements: Vec<Statement> = [
            "DELETE FROM leadscore.leads WHERE id = $1",
            "DELETE FROM leadscore.events WHERE lead = $1",
            "DELETE FROM leadscore.event_ids WHERE lead = $1",
            "DELETE FROM leadscore.history WHERE lead = $1",
        ]
        .into_iter()
        .map(|sql| Statement::new(sql, vec![Box::new(id.to_string())]))
        .collect();
        self.pipeline(&statements).map(drop)
    }

    fn has_event_id(&mut self, lead: &str, event_id: &str) -> Result<bool, StorageError> {
        Ok(matches!(self.known_id(lead, event_id)?, Known::Stored(_)))
    }

    fn put_event(&mut self, lead: &str, seq: u64, event: &[u8], event_id: Option<&str>) -> Result<(), StorageError> {
        let seq = to_i64(seq);
        if let Some(fetched) = self.fetched.get_mut(lead) {
            fetched.events.insert(seq, event.to_vec());
        }
        self.pending.events.push((lead.to_string(), seq, event.to_vec()));
        if let Some(event_id) = event_id {
            let key = (lead.to_string(), event_id.to_string());
            self.known_ids.insert(key.clone(), Known::Stored(None));
            self.pending.event_ids.push((key.0, key.1, seq, None));
        }
        Ok(())
    }

    fn drop_events(&mut self, lead: &str, from: u64, to: u64) -> Result<(), StorageError> {
        if let Some(fetched) = self.fetched.get_mut(lead) {
            fetched
                .events
                .retain(|seq, _| *seq < to_i64(from) || *seq >= to_i64(to));
        }
        self.pending.dropped.push((lead.to_string(), to_i64(from), to_i64(to)));
        Ok(())
    }

    /// From what [`Txn::lock_leads`] read if it read that far back (for a lead this
    /// process wrote last before another instance did, only the events added since).
    fn events_from(&mut self, lead: &str, from: u64) -> Result<Vec<Vec<u8>>, StorageError> {
        if let Some(fetched) = self.fetched.get(lead).filter(|f| to_i64(from) >= f.from) {
            return Ok(fetched.events.range(to_i64(from)..).map(|(_, e)| e.clone()).collect());
        }
        if self.pending.touches_events(lead) {
            self.flush()?;
        }
        let rows = self.query(
            "SELECT body FROM leadscore.events WHERE lead = $1 AND seq >= $2 ORDER BY seq",
            &[&lead, &to_i64(from)],
        )?;
        rows.iter().map(|r| self.get::<Vec<u8>>(r, 0)).collect()
    }

    fn push_history(&mut self, lead: &str, n: u64, entry: &HistoryEntry, keep: u64) -> Result<(), StorageError> {
        self.pending.history.push((lead.to_string(), to_i64(n), encode(entry)));
        if let Some(old) = n.checked_sub(keep) {
            self.pending.history_dropped.push((lead.to_string(), to_i64(old)));
        }
        Ok(())
    }

    /// The counter row's lock, held from here to the commit, puts seqs in commit order
    /// (see the module's documentation). The counter is taken after every pending write,
    /// in the same pipeline, so it is held for as little as can be: the transitions
    /// themselves go with the last flush, just before `COMMIT`.
    fn push_transitions(&mut self, transitions: &mut [Transition]) -> Result<(), StorageError> {
        if transitions.is_empty() {
            return Ok(());
        }
        let n = i64::try_from(transitions.len()).unwrap_or(i64::MAX);
        let rows = self.flush_then(Some(Statement::new(
            "UPDATE leadscore.counters SET value = value + $1 WHERE name = 'transition' RETURNING value",
            vec![Box::new(n)],
        )))?;
        let last: i64 = match rows.first() {
            Some(row) => self.get(row, 0)?,
            None => return Err(StorageError::decode("transition counter", "the row is missing")),
        };
        for (i, t) in transitions.iter_mut().enumerate() {
            let seq = last - n + 1 + i64::try_from(i).unwrap_or(0);
            t.seq = to_u64(seq);
            self.pending.transitions.push((seq, encode(t)));
        }
        Ok(())
    }

    fn probe(&mut self, now: Millis) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO leadscore.meta (name, value) VALUES ('probe', $1)
             ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
            &[&now.to_string()],
        )?;
        Ok(())
    }

    // The funnel (issue 27).

    fn handoff(&mut self, lead: &str, mql_at: Millis) -> Result<Option<HandOff>, StorageError> {
        if let Some(pending) = self.pending.handoffs.get(&(mql_at, lead.to_string())) {
            return Ok(Some(pending.clone()));
        }
        let rows = self.query(
            "SELECT body FROM leadscore.handoffs WHERE mql_at = $1 AND lead = $2",
            &[&mql_at, &lead],
        )?;
        match rows.first() {
            Some(row) => Ok(Some(decode("hand-off", self.get::<&[u8]>(row, 0)?)?)),
            None => Ok(None),
        }
    }

    fn put_handoff(&mut self, handoff: &HandOff) -> Result<(), StorageError> {
        let key = (handoff.mql_at, handoff.lead.clone());
        self.pending.handoffs.insert(key, handoff.clone());
        Ok(())
    }

    fn put_cursor(&mut self, url: &str, cursor: &Cursor) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO leadscore.cursors (url, cursor)
               SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM leadscore.leases WHERE name = $1 AND holder = $3)
             ON CONFLICT (url) DO UPDATE SET cursor = EXCLUDED.cursor",
            &[&url, &encode(cursor), &self.store.holder],
        )?;
        Ok(())
    }

    // Storage and scale (issue 22): re-scoring after a pack change.

    /// The state is the `meta` row `rescore`, locked until commit: instances claim one
    /// after another, each the next leads, locked like a due claim (waiting for a writer
    /// of one, never skipping it).
    fn rescore_claim(&mut self, pack: &str, limit: usize) -> Result<Vec<String>, StorageError> {
        self.execute(
            "INSERT INTO leadscore.meta (name, value) VALUES ('rescore', $1) ON CONFLICT (name) DO NOTHING",
            &[&String::from_utf8(encode(&Rescore::default())).unwrap_or_default()],
        )?;
        let rows = self.query(
            "SELECT value FROM leadscore.meta WHERE name = 'rescore' FOR UPDATE",
            &[],
        )?;
        let stored: Rescore = match rows.first() {
            Some(row) => decode("re-scoring state", self.get::<&str>(row, 0)?.as_bytes())?,
            None => Rescore::default(),
        };
        let mut state = stored.for_pack(pack);
        if state.done {
            return Ok(Vec::new());
        }
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self.query(
            "SELECT id, stamp, born FROM leadscore.leads WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2 FOR UPDATE",
            &[&state.after, &limit],
        )?;
        let ids = self.claimed(&rows)?;
        state.claimed(&ids);
        self.execute(
            "UPDATE leadscore.meta SET value = $1 WHERE name = 'rescore'",
            &[&String::from_utf8(encode(&state)).unwrap_or_default()],
        )?;
        Ok(ids)
    }

    // Storage and scale (issue 22): restoring a backup.

    fn is_empty(&mut self) -> Result<bool, StorageError> {
        let rows = self.query(
            "SELECT NOT EXISTS (SELECT 1 FROM leadscore.leads) AND NOT EXISTS (SELECT 1 FROM leadscore.transitions)",
            &[],
        )?;
        match rows.first() {
            Some(row) => self.get(row, 0),
            None => Ok(false),
        }
    }

    fn restore(&mut self, item: &Item) -> Result<(), StorageError> {
        match item {
            Item::Lead { id, record } => self.execute(
                "INSERT INTO leadscore.leads (id, record, due) VALUES ($1, $2, $3)",
                &[id, &encode(record), &record.due],
            ),
            Item::Event { lead, seq, body } => self.execute(
                "INSERT INTO leadscore.events (lead, seq, body) VALUES ($1, $2, $3)",
                &[lead, &to_i64(*seq), &body.as_bytes()],
            ),
            Item::EventId { lead, id, seq, digest } => self.execute(
                "INSERT INTO leadscore.event_ids (lead, event_id, seq, digest) VALUES ($1, $2, $3, $4)",
                &[
                    lead,
                    id,
                    &to_i64(*seq),
                    &digest.as_deref().map(backup::unhex).transpose()?,
                ],
            ),
            Item::History { lead, n, entry } => self.execute(
                "INSERT INTO leadscore.history (lead, n, entry) VALUES ($1, $2, $3)",
                &[lead, &to_i64(*n), &encode(entry)],
            ),
            Item::Transition { seq, body } => {
                let seq = to_i64(*seq);
                self.execute(
                    "INSERT INTO leadscore.transitions (seq, body) VALUES ($1, $2)",
                    &[&seq, &body.as_bytes()],
                )?;
                self.execute(
                    "UPDATE leadscore.counters SET value = greatest(value, $1) WHERE name = 'transition'",
                    &[&seq],
                )
            }
            Item::Cursor { url, cursor } => self.execute(
                "INSERT INTO leadscore.cursors (url, cursor) VALUES ($1, $2)",
                &[url, &encode(cursor)],
            ),
            Item::Rescore(state) => self.execute(
                "INSERT INTO leadscore.meta (name, value) VALUES ('rescore', $1)
                 ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value",
                &[&String::from_utf8(encode(state)).unwrap_or_default()],
            ),
            Item::HandOff(handoff) => self.put_handoff(handoff).map(|()| 0),
            Item::DeadLetter { url, letter } => self.put_dead_letter(url, letter).map(|()| 0),
            Item::Shadow(tally) => self.add_shadow(tally).map(|()| 0),
            Item::Header(_) | Item::End(_) => Ok(0),
        }?;
        Ok(())
    }

    /// Leases go too: no instance of the copy holds one yet.
    fn renew_instance(&mut self) -> Result<String, StorageError> {
        let id = new_id();
        self.execute("UPDATE leadscore.meta SET value = $1 WHERE name = 'instance'", &[&id])?;
        self.execute("DELETE FROM leadscore.leases", &[])?;
        Ok(id)
    }

    // Webhook operations and event payloads (issue 23).

    fn stored_cursor(&mut self, url: &str) -> Result<Option<Cursor>, StorageError> {
        let rows = self.query(
            "SELECT cursor FROM leadscore.cursors WHERE url = $1 FOR UPDATE",
            &[&url],
        )?;
        rows.first()
            .map(|row| decode("cursor", self.get::<&[u8]>(row, 0)?))
            .transpose()
    }

    fn set_cursor(&mut self, url: &str, cursor: &Cursor) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO leadscore.cursors (url, cursor) VALUES ($1, $2)
             ON CONFLICT (url) DO UPDATE SET cursor = EXCLUDED.cursor",
            &[&url, &encode(cursor)],
        )?;
        Ok(())
    }

    fn lease_held(&mut self, url: &str) -> Result<bool, StorageError> {
        let sql = format!(
            "SELECT 1 FROM leadscore.leases WHERE name = $1 AND holder = $2 AND until_ms > {NOW_MS} FOR UPDATE"
        );
        Ok(!self.query(&sql, &[&url, &self.store.holder])?.is_empty())
    }

    fn dead_letter(&mut self, url: &str, seq: u64) -> Result<Option<DeadLetter>, StorageError> {
        let rows = self.query(
            "SELECT letter FROM leadscore.dead_letters WHERE url = $1 AND seq = $2",
            &[&url, &to_i64(seq)],
        )?;
        rows.first()
            .map(|row| decode("dead letter", self.get::<&[u8]>(row, 0)?))
            .transpose()
    }

    fn put_dead_letter(&mut self, url: &str, letter: &DeadLetter) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO leadscore.dead_letters (url, seq, replay, letter) VALUES ($1, $2, $3, $4)
             ON CONFLICT (url, seq) DO UPDATE SET replay = EXCLUDED.replay, letter = EXCLUDED.letter",
            &[&url, &to_i64(letter.seq), &letter.replay, &encode(letter)],
        )?;
        Ok(())
    }

    fn delete_dead_letter(&mut self, url: &str, seq: u64) -> Result<(), StorageError> {
        self.execute(
            "DELETE FROM leadscore.dead_letters WHERE url = $1 AND seq = $2",
            &[&url, &to_i64(seq)],
        )?;
        Ok(())
    }

    fn event_digest(&mut self, lead: &str, event_id: &str) -> Result<Option<Vec<u8>>, StorageError> {
        Ok(match self.known_id(lead, event_id)? {
            Known::Stored(digest) => digest,
            Known::Absent => None,
        })
    }

    fn put_event_digest(&mut self, lead: &str, event_id: &str, digest: &[u8]) -> Result<(), StorageError> {
        let key = (lead.to_string(), event_id.to_string());
        let pending = self
            .pending
            .event_ids
            .iter_mut()
            .rev()
            .find(|(l, id, ..)| *l == key.0 && *id == key.1);
        if let Some(row) = pending {
            row.3 = Some(digest.to_vec());
        } else if matches!(self.known_id(lead, event_id)?, Known::Absent) {
            // Like the `UPDATE` it stands for, it changes nothing for an id not stored.
            return Ok(());
        } else {
            self.pending.digests.insert(key.clone(), digest.to_vec());
        }
        self.known_ids.insert(key, Known::Stored(Some(digest.to_vec())));
        Ok(())
    }

    // Shadow packs (issue 27.5).

    /// Increments, so two instances' batches add up whatever their order; pending.
    fn add_shadow(&mut self, delta: &ShadowTally) -> Result<(), StorageError> {
        self.pending.shadow.push(delta.clone());
        Ok(())
    }

    // Targets (issue 27.3).

    /// The advisory lock first: the states are read only after the last publisher
    /// committed, so a change is published once whichever instances judge it.
    fn lock_target_states(&mut self) -> Result<Vec<TargetState>, StorageError> {
        self.execute("SELECT pg_advisory_xact_lock($1)", &[&TARGET_LOCK])?;
        let rows = self.query("SELECT state FROM leadscore.target_states ORDER BY name", &[])?;
        rows.iter()
            .map(|r| decode("target state", self.get::<&[u8]>(r, 0)?))
            .collect()
    }

    fn put_target_state(&mut self, state: &TargetState) -> Result<(), StorageError> {
        self.execute(
            "INSERT INTO leadscore.target_states (name, state) VALUES ($1, $2)
             ON CONFLICT (name) DO UPDATE SET state = EXCLUDED.state",
            &[&state.name, &encode(state)],
        )?;
        Ok(())
    }

    /// The counter row `alert`, locked until commit, puts seqs in commit order.
    fn push_alert(&mut self, alert: &mut Alert) -> Result<(), StorageError> {
        let rows = self.query(
            "UPDATE leadscore.counters SET value = value + 1 WHERE name = 'alert' RETURNING value",
            &[],
        )?;
        let seq: i64 = match rows.first() {
            Some(row) => self.get(row, 0)?,
            None => return Err(StorageError::decode("alert counter", "the row is missing")),
        };
        alert.seq = to_u64(seq);
        self.execute(
            "INSERT INTO leadscore.alerts (seq, body) VALUES ($1, $2)",
            &[&seq, &encode(alert)],
        )?;
        Ok(())
    }

    // The console (issue 28).

    /// One statement, pending: this process's rows of the hour added to, every process's
    /// hours before `keep_from` dropped (once an hour there are some; the first instance
    /// to drop them holds them until it commits, and another one waits that long).
    fn add_rule_fires(&mut self, hour: Millis, fires: &RuleFires, keep_from: Millis) -> Result<(), StorageError> {
        self.pending.rule_fires.push((hour, fires.clone(), keep_from));
        Ok(())
    }

    // Storage and scale (issue 22): the writer's cache of leads.

    /// The stamp [`Txn::lock_leads`] read or [`Txn::put_lead`] gave (a lead row pending
    /// without a stamp is sent first, with everything else pending).
    fn lead_stamp(&mut self, id: &str) -> Result<Option<i64>, StorageError> {
        if self.pending.leads.contains_key(id) && !self.stamps.contains_key(id) {
            self.flush()?;
        }
        Ok(self.stamps.get(id).copied())
    }

    /// What [`Txn::lock_leads`] read of a lead this process wrote with `stamp` and
    /// another instance wrote since: the events from `from` on.
    fn events_since(&mut self, lead: &str, stamp: i64, from: u64) -> Result<Option<Vec<Vec<u8>>>, StorageError> {
        if self.fetched.get(lead).and_then(|f| f.since) != Some(stamp) {
            return Ok(None);
        }
        self.events_from(lead, from).map(Some)
    }

    // Storage and scale (issue 22): Postgres commits in a few round trips.

    /// Kept for [`Txn::lock_leads`], which reads them in its pipeline.
    fn expect_event_ids(&mut self, ids: &[(&str, &str)]) {
        let unknown = ids
            .iter()
            .filter(|(lead, id)| !self.known_ids.contains_key(&(lead.to_string(), id.to_string())));
        self.expected_ids = unknown.map(|(lead, id)| (lead.to_string(), id.to_string())).collect();
    }

    // Storage and scale (issue 22): restoring in batches.

    /// Each run of leads, events, event ids, history entries, transitions or hand-offs
    /// with one `INSERT ... SELECT FROM unnest(...)`; the rest one by one.
    fn restore_many(&mut self, items: &[Item]) -> Result<(), StorageError> {
        let mut rest = items;
        while let Some(first) = rest.first() {
            let run = rest
                .iter()
                .take_while(|i| std::mem::discriminant(*i) == std::mem::discriminant(first))
                .count();
            let (these, after) = rest.split_at(run);
            self.restore_run(these)?;
            rest = after;
        }
        Ok(())
    }
}

impl PgTxn<'_> {
    /// Stores items of one kind (see [`Txn::restore_many`]).
    fn restore_run(&mut self, items: &[Item]) -> Result<(), StorageError> {
        match items.first() {
            Some(Item::Lead { .. }) => {
                let (mut ids, mut records, mut dues) = (Vec::new(), Vec::new(), Vec::new());
                for item in items {
                    if let Item::Lead { id, record } = item {
                        ids.push(id.as_str());
                        records.push(encode(record));
                        dues.push(record.due);
                    }
                }
                self.execute(
                    "INSERT INTO leadscore.leads (id, record, due)
                     SELECT * FROM unnest($1::text[], $2::bytea[], $3::bigint[])",
                    &[&ids, &records, &dues],
                )?;
            }
            Some(Item::Event { .. }) => {
                let (mut leads, mut seqs, mut bodies) = (Vec::new(), Vec::new(), Vec::new());
                for item in items {
                    if let Item::Event { lead, seq, body } = item {
                        leads.push(lead.as_str());
                        seqs.push(to_i64(*seq));
                        bodies.push(body.as_bytes());
                    }
                }
                self.execute(
                    "INSERT INTO leadscore.events (lead, seq, body)
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])",
                    &[&leads, &seqs, &bodies],
                )?;
            }
            Some(Item::EventId { .. }) => {
                let (mut leads, mut ids, mut seqs, mut digests) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
                for item in items {
                    if let Item::EventId { lead, id, seq, digest } = item {
                        leads.push(lead.as_str());
                        ids.push(id.as_str());
                        seqs.push(to_i64(*seq));
                        digests.push(digest.as_deref().map(backup::unhex).transpose()?);
                    }
                }
                self.execute(
                    "INSERT INTO leadscore.event_ids (lead, event_id, seq, digest)
                     SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::bytea[])",
                    &[&leads, &ids, &seqs, &digests],
                )?;
            }
            Some(Item::History { .. }) => {
                let (mut leads, mut ns, mut entries) = (Vec::new(), Vec::new(), Vec::new());
                for item in items {
                    if let Item::History { lead, n, entry } = item {
                        leads.push(lead.as_str());
                        ns.push(to_i64(*n));
                        entries.push(encode(entry));
                    }
                }
                self.execute(
                    "INSERT INTO leadscore.history (lead, n, entry)
                     SELECT * FROM unnest($1::text[], $2::bigint[], $3::bytea[])",
                    &[&leads, &ns, &entries],
                )?;
            }
            Some(Item::Transition { .. }) => {
                let (mut seqs, mut bodies) = (Vec::new(), Vec::new());
                for item in items {
                    if let Item::Transition { seq, body } = item {
                        seqs.push(to_i64(*seq));
                        bodies.push(body.as_bytes());
                    }
                }
                self.execute(
                    "INSERT INTO leadscore.transitions (seq, body) SELECT * FROM unnest($1::bigint[], $2::bytea[])",
                    &[&seqs, &bodies],
                )?;
                let last = seqs.iter().copied().max().unwrap_or(0);
                self.execute(
                    "UPDATE leadscore.counters SET value = greatest(value, $1) WHERE name = 'transition'",
                    &[&last],
                )?;
            }
            Some(Item::HandOff(_)) => {
                let rows: Vec<HandOffRow> = items
                    .iter()
                    .filter_map(|i| match i {
                        Item::HandOff(h) => Some(handoff_row(h)),
                        _ => None,
                    })
                    .collect();
                let column = |f: fn(&HandOffRow) -> i64| rows.iter().map(f).collect::<Vec<_>>();
                let leads: Vec<&str> = rows.iter().map(|r| r.lead.as_str()).collect();
                let routes: Vec<&str> = rows.iter().map(|r| r.route.as_str()).collect();
                let sla: Vec<Option<i64>> = rows.iter().map(|r| r.sla_due).collect();
                let open: Vec<bool> = rows.iter().map(|r| r.open).collect();
                let bodies: Vec<&[u8]> = rows.iter().map(|r| r.body.as_slice()).collect();
                self.execute(
                    "INSERT INTO leadscore.handoffs (mql_at, lead, route, sla_due, open, body)
                     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[], $5::boolean[], $6::bytea[])",
                    &[&column(|r| r.mql_at), &leads, &routes, &sla, &open, &bodies],
                )?;
            }
            _ => items.iter().try_for_each(|item| self.restore(item))?,
        }
        Ok(())
    }
}

/// Reads on a pooled connection; each sees what was committed when it ran.
pub struct PgReader {
    client: Object,
    location: String,
}

impl PgReader {
    async fn query(&self, sql: &str, params: &Params<'_>) -> Result<Vec<Row>, StorageError> {
        let statement = self
            .client
            .prepare_cached(sql)
            .await
            .map_err(|e| pg_error(&self.location, &e))?;
        self.client
            .query(&statement, params)
            .await
            .map_err(|e| pg_error(&self.location, &e))
    }

    async fn query_one(&self, sql: &str, params: &Params<'_>) -> Result<Row, StorageError> {
        let rows = self.query(sql, params).await?;
        rows.into_iter()
            .next()
            .ok_or_else(|| StorageError::decode("row", format!("no row from {sql}")))
    }

    fn get<'r, T: tokio_postgres::types::FromSql<'r>>(&self, row: &'r Row, i: usize) -> Result<T, StorageError> {
        row.try_get(i).map_err(|e| pg_error(&self.location, &e))
    }

    /// A lead's record.
    pub async fn lead(&self, id: &str) -> Result<Option<LeadRecord>, StorageError> {
        let rows = self
            .query("SELECT record FROM leadscore.leads WHERE id = $1", &[&id])
            .await?;
        match rows.first() {
            Some(row) => Ok(Some(decode("lead", self.get::<&[u8]>(row, 0)?)?)),
            None => Ok(None),
        }
    }

    /// How many leads there are.
    pub async fn lead_count(&self) -> Result<u64, StorageError> {
        let row = self.query_one("SELECT count(*) FROM leadscore.leads", &[]).await?;
        Ok(to_u64(self.get(&row, 0)?))
    }

    /// Up to `limit` lead ids after `after` (exclusive), in id order.
    pub async fn lead_ids(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT id FROM leadscore.leads WHERE $1::text IS NULL OR id > $1 ORDER BY id LIMIT $2",
                &[&after, &limit],
            )
            .await?;
        rows.iter().map(|r| self.get(r, 0)).collect()
    }

    /// Up to `limit` of a lead's events with seq ≥ `from`.
    pub async fn events(
        &self,
        lead: &str,
        from: u64,
        limit: usize,
    ) -> Result<Vec<(u64, serde_json::Value)>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT seq, body FROM leadscore.events WHERE lead = $1 AND seq >= $2 ORDER BY seq LIMIT $3",
                &[&lead, &to_i64(from), &limit],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((to_u64(self.get(r, 0)?), decode("event", self.get::<&[u8]>(r, 1)?)?)))
            .collect()
    }

    /// Up to `limit` of a lead's history entries with number ≥ `from`.
    pub async fn history(&self, lead: &str, from: u64, limit: usize) -> Result<Vec<(u64, HistoryEntry)>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT n, entry FROM leadscore.history WHERE lead = $1 AND n >= $2 ORDER BY n LIMIT $3",
                &[&lead, &to_i64(from), &limit],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok((
                    to_u64(self.get(r, 0)?),
                    decode("history entry", self.get::<&[u8]>(r, 1)?)?,
                ))
            })
            .collect()
    }

    /// Up to `limit` transitions with seq ≥ `from`, in seq order.
    pub async fn transitions(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT seq, body FROM leadscore.transitions WHERE seq >= $1 ORDER BY seq LIMIT $2",
                &[&to_i64(from), &limit],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((to_u64(self.get(r, 0)?), self.get::<Vec<u8>>(r, 1)?)))
            .collect()
    }

    /// The seq of the newest transition (0 when there is none).
    pub async fn last_transition(&self) -> Result<u64, StorageError> {
        let row = self
            .query_one("SELECT coalesce(max(seq), 0) FROM leadscore.transitions", &[])
            .await?;
        Ok(to_u64(self.get(&row, 0)?))
    }

    /// Up to `limit` leads due by `now`.
    pub async fn due_leads(&self, now: Millis, limit: usize) -> Result<Vec<String>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT id FROM leadscore.leads WHERE due <= $1 ORDER BY due LIMIT $2",
                &[&now, &limit],
            )
            .await?;
        rows.iter().map(|r| self.get(r, 0)).collect()
    }

    /// A webhook's cursor (the start, for a webhook never seen).
    pub async fn cursor(&self, url: &str) -> Result<Cursor, StorageError> {
        let rows = self
            .query("SELECT cursor FROM leadscore.cursors WHERE url = $1", &[&url])
            .await?;
        match rows.first() {
            Some(row) => decode("cursor", self.get::<&[u8]>(row, 0)?),
            None => Ok(Cursor::default()),
        }
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
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT letter FROM leadscore.dead_letters WHERE url = $1 AND seq > $2 AND (replay OR NOT $4)
                 ORDER BY seq LIMIT $3",
                &[&url, &to_i64(after), &limit, &replay],
            )
            .await?;
        rows.iter()
            .map(|r| decode("dead letter", self.get::<&[u8]>(r, 0)?))
            .collect()
    }

    // Shadow packs (issue 27.5).

    /// The tally of the shadow version `pack`.
    pub async fn shadow_tally(&self, pack: &str) -> Result<ShadowTally, StorageError> {
        let mut tally = ShadowTally::new(pack);
        let rows = self
            .query(
                "SELECT leads, mql_both, mql_live_only, mql_shadow_only, route_changed, score_change
                 FROM leadscore.shadow_tallies WHERE pack = $1",
                &[&pack],
            )
            .await?;
        let Some(row) = rows.first() else {
            return Ok(tally);
        };
        tally.leads = self.get(row, 0)?;
        tally.mql_both = self.get(row, 1)?;
        tally.mql_live_only = self.get(row, 2)?;
        tally.mql_shadow_only = self.get(row, 3)?;
        tally.route_changed = self.get(row, 4)?;
        tally.score_change = self.get(row, 5)?;
        let rules = self
            .query(
                "SELECT rule, leads, mql_live_only, mql_shadow_only, route_changed
                 FROM leadscore.shadow_rules WHERE pack = $1 AND leads <> 0",
                &[&pack],
            )
            .await?;
        for r in &rules {
            let counts = RuleTally {
                leads: self.get(r, 1)?,
                mql_live_only: self.get(r, 2)?,
                mql_shadow_only: self.get(r, 3)?,
                route_changed: self.get(r, 4)?,
            };
            tally.rules.insert(self.get(r, 0)?, counts);
        }
        Ok(tally)
    }

    // The funnel (issue 27).

    /// The hand-offs made in `[from, to)`, in `mql_at` order.
    pub async fn handoffs(&self, from: Millis, to: Millis) -> Result<Vec<HandOff>, StorageError> {
        let rows = self
            .query(
                "SELECT body FROM leadscore.handoffs WHERE mql_at >= $1 AND mql_at < $2 ORDER BY mql_at, lead",
                &[&from, &to],
            )
            .await?;
        rows.iter()
            .map(|r| decode("hand-off", self.get::<&[u8]>(r, 0)?))
            .collect()
    }

    // Targets (issue 27.3).

    /// Up to `limit` alerts with seq ≥ `from`, in seq order.
    pub async fn alerts(&self, from: u64, limit: usize) -> Result<Vec<(u64, Vec<u8>)>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT seq, body FROM leadscore.alerts WHERE seq >= $1 ORDER BY seq LIMIT $2",
                &[&to_i64(from), &limit],
            )
            .await?;
        rows.iter()
            .map(|r| Ok((to_u64(self.get(r, 0)?), self.get::<Vec<u8>>(r, 1)?)))
            .collect()
    }

    /// The seq of the newest alert (0 when there is none).
    pub async fn last_alert(&self) -> Result<u64, StorageError> {
        let row = self
            .query_one("SELECT coalesce(max(seq), 0) FROM leadscore.alerts", &[])
            .await?;
        Ok(to_u64(self.get(&row, 0)?))
    }

    /// Every target's last published state.
    pub async fn target_states(&self) -> Result<Vec<TargetState>, StorageError> {
        let rows = self
            .query("SELECT state FROM leadscore.target_states ORDER BY name", &[])
            .await?;
        rows.iter()
            .map(|r| decode("target state", self.get::<&[u8]>(r, 0)?))
            .collect()
    }

    /// Up to `limit` open hand-offs of `route`, the earliest `sla_due` first.
    pub async fn open_handoffs(&self, route: &str, limit: usize) -> Result<Vec<HandOff>, StorageError> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = self
            .query(
                "SELECT body FROM leadscore.handoffs WHERE open AND route = $1
                 ORDER BY sla_due NULLS LAST, mql_at, lead LIMIT $2",
                &[&route, &limit],
            )
            .await?;
        rows.iter()
            .map(|r| decode("hand-off", self.get::<&[u8]>(r, 0)?))
            .collect()
    }

    // The console (issue 28).

    /// The results computed in the hours starting in `[from, to)`, and per rule, summed
    /// over every process that wrote them.
    pub async fn rule_fires(&self, from: Millis, to: Millis) -> Result<RuleFires, StorageError> {
        let mut out = RuleFires::default();
        let rows = self
            .query(
                "SELECT rule, sum(n)::bigint FROM leadscore.rule_fires WHERE hour >= $1 AND hour < $2 GROUP BY rule",
                &[&from, &to],
            )
            .await?;
        for r in &rows {
            out.rules.insert(self.get(r, 0)?, to_u64(self.get(r, 1)?));
        }
        let rows = self
            .query(
                "SELECT coalesce(sum(n), 0)::bigint FROM leadscore.results_scored WHERE hour >= $1 AND hour < $2",
                &[&from, &to],
            )
            .await?;
        if let Some(r) = rows.first() {
            out.results = to_u64(self.get(r, 0)?);
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslrootcert_is_taken_out_of_either_form_of_url() {
        let (url, cert) = split_root_cert("postgres://u@h/db?sslmode=require&sslrootcert=%2Fetc%2Fca%20one.pem");
        assert_eq!(url, "postgres://u@h/db?sslmode=require");
        assert_eq!(cert, Some(PathBuf::from("/etc/ca one.pem")));
        let (url, cert) = split_root_cert("postgres://u@h/db?sslrootcert=/ca.pem");
        assert_eq!(
            (url.as_str(), cert),
            ("postgres://u@h/db", Some(PathBuf::from("/ca.pem")))
        );
        let (url, cert) = split_root_cert("host=h sslrootcert=/ca.pem sslmode=require");
        assert_eq!(
            (url.as_str(), cert),
            ("host=h sslmode=require", Some(PathBuf::from("/ca.pem")))
        );
        assert_eq!(split_root_cert("postgres://u@h/db").1, None);
        assert_eq!(
            redacted("postgres://u:secret@h:5433/db?sslrootcert=/ca.pem"),
            "postgres://h:5433/db"
        );
    }
}
