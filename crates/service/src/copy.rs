//! `leadscore backup` and `leadscore restore`: a backup in the portable format (see
//! `storage/backup.rs`) taken from a running service (`GET /v1/backup`, as the running
//! service holds its redb file locked) or from a store no service runs on, written to a
//! file that appears whole or not at all; and a restore of such a file into a new data
//! folder or an empty Postgres database, which gets a new instance id.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::storage::backup::{Counts, Items};
use super::storage::redb::{RedbStore, FILE_NAME};
use super::storage::{new_id, Location, Storage, StorageError, StorageErrorKind};

/// Where a backup is taken from.
#[derive(Clone, Debug)]
pub enum Source {
    /// A running service: its base URL, and a bearer token with the `admin` scope.
    Server {
        /// `http://HOST:PORT`.
        url: String,
        /// The bearer token, if the service asks for one.
        token: Option<String>,
    },
    /// A store no service is running on.
    Store(Location),
}

/// What a restore did.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Restored {
    /// What the backup held (all of it was restored).
    pub counts: Counts,
    /// The restored database's new instance id.
    pub instance: String,
}

fn unavailable(message: String) -> StorageError {
    StorageError::new(StorageErrorKind::Unavailable, message)
}

fn refused(message: String) -> StorageError {
    StorageError::new(StorageErrorKind::Config, message)
}

fn runtime() -> Result<tokio::runtime::Runtime, StorageError> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| unavailable(format!("cannot start: {e}")))
}

/// Takes a backup of `source` into the file `to`: written as `to.partial` beside it,
/// checked (its counts), synced, and renamed into place. What it holds.
pub fn backup(source: &Source, to: &Path) -> Result<Counts, StorageError> {
    let partial = PathBuf::from(format!("{}.partial", to.display()));
    let file =
        std::fs::File::create(&partial).map_err(|e| refused(format!("cannot write {}: {e}", partial.display())))?;
    let written = runtime().and_then(|rt| rt.block_on(write_backup(source, file, &partial)));
    let counts = written.and_then(|()| check(&partial));
    match counts {
        Ok(counts) => {
            std::fs::rename(&partial, to)
                .map_err(|e| unavailable(format!("cannot rename {} to {}: {e}", partial.display(), to.display())))?;
            Ok(counts)
        }
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            Err(e)
        }
    }
}

async fn write_backup(source: &Source, file: std::fs::File, path: &Path) -> Result<(), StorageError> {
    let mut out = std::io::BufWriter::new(file);
    let shown = path.display().to_string();
    let io = move |e: std::io::Error| unavailable(format!("cannot write {shown}: {e}"));
    let io_in_task = io.clone();
    match source {
        Source::Server { url, token } => fetch(url, token.as_deref(), &mut out).await?,
        Source::Store(location) => {
            let store = open_existing(location).await?;
            let copied = tokio::task::spawn_blocking(move || {
                {
                    let mut sink = |line: &[u8]| out.write_all(line).map_err(&io_in_task);
                    store.backup(&mut sink)?;
                }
                Ok::<_, StorageError>(out)
            });
            out = copied.await.map_err(|e| unavailable(e.to_string()))??;
        }
    }
    let file = out.into_inner().map_err(|e| io(e.into_error()))?;
    file.sync_all().map_err(io)
}

/// Streams `GET /v1/backup` of the service at `url` into `out`.
async fn fetch(url: &str, token: Option<&str>, out: &mut impl Write) -> Result<(), StorageError> {
    let endpoint = format!("{}/v1/backup", url.trim_end_matches('/'));
    let client = reqwest::Client::builder()
        .connect_timeout(std::time::Duration::from_secs(10))
        .build()
        .map_err(|e| unavailable(format!("{endpoint}: {e}")))?;
    let mut request = client.get(&endpoint);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let mut response = request
        .send()
        .await
        .map_err(|e| unavailable(format!("{endpoint}: {e}")))?;
    if !response.status().is_success() {
        let status = response.status();
        let body = response.text().await.unwrap_or_default();
        let message = serde_json::from_str::<serde_json::Value>(&body)
            .ok()
            .and_then(|v| v.get("error")?.get("message")?.as_str().map(str::to_string))
            .unwrap_or(body);
        return Err(refused(format!("{endpoint} answered {status}: {}", message.trim())));
    }
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| unavailable(format!("{endpoint}: the backup stopped: {e}")))?
    {
        out.write_all(&chunk)
            .map_err(|e| unavailable(format!("cannot write the backup: {e}")))?;
    }
    Ok(())
}

/// Opens a store that must exist already (a backup never creates an empty one).
async fn open_existing(location: &Location) -> Result<Storage, StorageError> {
    if let Location::Folder(dir) = location {
        let file = dir.join(FILE_NAME);
        if !file.exists() {
            return Err(refused(format!(
                "there is no database in {} ({FILE_NAME})",
                dir.display()
            )));
        }
    }
    Storage::open(location).await.map_err(|e| match e.kind {
        StorageErrorKind::Config => refused(format!(
            "{e}; to back up a running service, give its address (--server URL)"
        )),
        _ => e,
    })
}

/// Reads a backup file through, checking its header and its counts.
pub fn check(path: &Path) -> Result<Counts, StorageError> {
    let file = std::fs::File::open(path).map_err(|e| refused(format!("cannot read {}: {e}", path.display())))?;
    let mut input = std::io::BufReader::new(file);
    let mut items = Items::new(&path.display().to_string(), &mut input);
    while items.next_item()?.is_some() {}
    items.finish()
}

/// Restores the backup `from` into `into`: a data folder without a database (the file
/// is built beside it and appears whole at the end), or an empty Postgres database (in
/// one transaction). Nothing is kept of a restore that fails.
pub fn restore(from: &Path, into: &Location) -> Result<Restored, StorageError> {
    match into {
        Location::Folder(dir) => restore_folder(from, dir),
        Location::Postgres(_) => {
            let rt = runtime()?;
            rt.block_on(async {
                let store = Arc::new(Storage::open(into).await?);
                let from = from.to_path_buf();
                tokio::task::spawn_blocking(move || restore_in_one(&store, &from))
                    .await
                    .map_err(|e| unavailable(e.to_string()))?
            })
        }
    }
}

/// Opens the backup file.
fn open_backup(from: &Path) -> Result<std::io::BufReader<std::fs::File>, StorageError> {
    let file = std::fs::File::open(from).map_err(|e| refused(format!("cannot read {}: {e}", from.display())))?;
    Ok(std::io::BufReader::new(file))
}

/// The whole backup in one transaction (Postgres: all or nothing; run again from the
/// start after a conflict).
fn restore_in_one(store: &Storage, from: &Path) -> Result<Restored, StorageError> {
    store.write(|t| {
        if !t.is_empty()? {
            return Err(refused(format!(
                "{} already holds leads or transitions; restore into an empty database",
                into_name(store)
            )));
        }
        let mut input = open_backup(from)?;
        let mut items = Items::new(&from.display().to_string(), &mut input);
        loop {
            let batch = items.next_batch(STATEMENT_ITEMS, STATEMENT_BYTES)?;
            if batch.is_empty() {
                break;
            }
            t.restore_many(&batch)?;
        }
        let counts = items.finish()?;
        let instance = t.renew_instance()?;
        Ok(Restored { counts, instance })
    })
}

fn into_name(store: &Storage) -> &'static str {
    match store {
        Storage::Redb(_) => "the data folder",
        Storage::Postgres(_) => "the database",
    }
}

/// Most items, and bytes of backup lines, stored with one statement (Postgres; see
/// [`super::storage::Txn::restore_many`]).
const STATEMENT_ITEMS: usize = 2_000;
const STATEMENT_BYTES: usize = 8 << 20;

/// Most items, and bytes of backup lines, per transaction of a restore into redb: few
/// commits (its file is not in place until the end), each bounded in memory.
const CHUNK_ITEMS: usize = 200_000;
const CHUNK_BYTES: usize = 64 << 20;

/// Builds the database in a folder beside the target, a chunk per transaction, then
/// links its file into the data folder (which must hold none: never over a database).
fn restore_folder(from: &Path, dir: &Path) -> Result<Restored, StorageError> {
    let target = dir.join(FILE_NAME);
    if target.exists() {
        return Err(refused(format!(
            "{} already holds a database; restore into a new data folder",
            dir.display()
        )));
    }
    let staging = dir.join(format!(".restore-{}", new_id()));
    let built = build(from, &staging);
    let linked = built.and_then(|restored| {
        std::fs::hard_link(staging.join(FILE_NAME), &target)
            .map(|()| restored)
            .map_err(|e| refused(format!("cannot put the database in {}: {e}", dir.display())))
    });
    let _ = std::fs::remove_dir_all(&staging);
    linked
}

fn build(from: &Path, staging: &Path) -> Result<Restored, StorageError> {
    let store = RedbStore::open(staging)?;
    let mut input = open_backup(from)?;
    let mut items = Items::new(&from.display().to_string(), &mut input);
    loop {
        let batch = items.next_batch(CHUNK_ITEMS, CHUNK_BYTES)?;
        if batch.is_empty() {
            break;
        }
        store.write(|t| t.restore_many(&batch))?;
    }
    let counts = items.finish()?;
    let instance = store.write(|t| t.renew_instance())?;
    Ok(Restored { counts, instance })
}
