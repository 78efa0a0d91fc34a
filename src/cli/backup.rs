//! `leadscore backup` and `leadscore restore` (feature `serve`): the options; the work is
//! `leadscore_service::copy`'s.

use std::path::PathBuf;

use leadscore_service::copy::{self, Source};
use leadscore_service::storage::Location;

use super::{Exit, Failure};

/// Arguments of `backup`: where from (one of three) and the file to write.
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("from").required(true).args(["server", "data", "database_url"])))]
pub struct BackupArgs {
    /// A running service's address (http://HOST:PORT): it takes the backup from one
    /// consistent snapshot while it goes on writing (GET /v1/backup, the `admin` scope).
    #[arg(long, value_name = "URL")]
    server: Option<String>,
    /// A data folder no service is running on.
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// A PostgreSQL database (read in one consistent snapshot; services may go on
    /// writing to it).
    #[arg(long, value_name = "URL", env = "LEADSCORE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
    /// A file holding the bearer token for --server (or the LEADSCORE_TOKEN environment
    /// variable).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// The backup file to write (it appears whole, or not at all).
    #[arg(long, value_name = "FILE")]
    to: PathBuf,
}

/// Arguments of `restore`: the backup and where to restore it (one of two).
#[derive(clap::Args, Debug)]
#[command(group(clap::ArgGroup::new("into").required(true).args(["data", "database_url"])))]
pub struct RestoreArgs {
    /// The backup file (from `leadscore backup`).
    #[arg(long, value_name = "FILE")]
    from: PathBuf,
    /// A data folder without a database (created if missing).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// An empty PostgreSQL database (its schema is created if missing).
    #[arg(long, value_name = "URL", env = "LEADSCORE_DATABASE_URL", hide_env_values = true)]
    database_url: Option<String>,
}

fn location(data: Option<&PathBuf>, url: Option<&String>) -> Option<Location> {
    match (data, url) {
        (Some(dir), _) => Some(Location::Folder(dir.clone())),
        (None, Some(url)) => Some(Location::Postgres(url.clone())),
        (None, None) => None,
    }
}

/// Takes a backup.
pub fn backup(args: &BackupArgs) -> Result<Exit, Failure> {
    let source = match (&args.server, location(args.data.as_ref(), args.database_url.as_ref())) {
        (Some(url), _) => Source::Server {
            url: url.clone(),
            token: token(args.token_file.as_ref())?,
        },
        (None, Some(location)) => Source::Store(location),
        (None, None) => return Err(Failure("error: give --server, --data or --database-url".into())),
    };
    let counts = copy::backup(&source, &args.to).map_err(|e| Failure(format!("error: {e}")))?;
    errln!(
        "backed up {} leads, {} events, {} history entries and {} transitions to {}",
        counts.leads,
        counts.events,
        counts.history,
        counts.transitions,
        args.to.display()
    );
    Ok(Exit::Success)
}

/// The bearer token: the file's contents, or `LEADSCORE_TOKEN`, trimmed.
fn token(file: Option<&PathBuf>) -> Result<Option<String>, Failure> {
    let text = match file {
        Some(path) => {
            std::fs::read_to_string(path).map_err(|e| Failure(format!("error: cannot read {}: {e}", path.display())))?
        }
        None => match std::env::var("LEADSCORE_TOKEN") {
            Ok(token) => token,
            Err(_) => return Ok(None),
        },
    };
    let token = text.trim();
    Ok((!token.is_empty()).then(|| token.to_string()))
}

/// Restores a backup.
pub fn restore(args: &RestoreArgs) -> Result<Exit, Failure> {
    let Some(into) = location(args.data.as_ref(), args.database_url.as_ref()) else {
        return Err(Failure("error: give --data or --database-url".into()));
    };
    let restored = copy::restore(&args.from, &into).map_err(|e| Failure(format!("error: {e}")))?;
    errln!(
        "restored {} leads, {} events, {} history entries and {} transitions into {into}; its new instance id is {}",
        restored.counts.leads,
        restored.counts.events,
        restored.counts.history,
        restored.counts.transitions,
        restored.instance
    );
    Ok(Exit::Success)
}
