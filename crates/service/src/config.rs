//! The service's settings: [`Options`] as given (the command line fills them), checked
//! and read into [`Settings`] by [`Settings::from_options`]: addresses parsed, token and
//! secret files read, a non-loopback address refused without tokens, every limit bounded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// Bounds on what one request or one lead may hold. Every one has a default.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes.
    pub body_bytes: usize,
    /// Most events in one `POST /v1/leads/{id}/events`, and lines in one `POST /v1/ingest`.
    pub items_per_request: usize,
    /// Most top-level fields of a lead.
    pub fields_per_lead: usize,
    /// Most events kept per lead; beyond it the earliest received are dropped (and counted).
    pub events_per_lead: u64,
    /// Most score-ledger entries kept per lead; beyond it the oldest are dropped.
    pub history_per_lead: u64,
    /// Most open connections; further ones wait to be accepted.
    pub connections: usize,
    /// How far in the future an event's `at` may be (the clients' clock skew).
    pub clock_skew: Duration,
    /// Longest lead id or event id, in bytes.
    pub id_bytes: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            body_bytes: 16 * 1024 * 1024,
            items_per_request: 10_000,
            fields_per_lead: 500,
            events_per_lead: 1_000,
            history_per_lead: 1_000,
            connections: 1_024,
            clock_skew: Duration::from_secs(300),
            id_bytes: 256,
        }
    }
}

/// The settings as given, before they are checked.
#[derive(Clone, Debug)]
pub struct Options {
    /// The pack folder.
    pub pack: PathBuf,
    /// Plugin search path (empty: `./plugins`).
    pub plugins: Vec<PathBuf>,
    /// The data folder.
    pub data: PathBuf,
    /// `IP:PORT` to listen on.
    pub listen: String,
    /// A file with one bearer token per line.
    pub token_file: Option<PathBuf>,
    /// Webhook URLs.
    pub webhooks: Vec<String>,
    /// A file holding the webhook signing secret.
    pub webhook_secret_file: Option<PathBuf>,
    /// How often every lead is re-evaluated (scores change with time).
    pub reevaluate_every: Duration,
    /// Request and lead bounds.
    pub limits: Limits,
}

/// Checked settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// The pack folder.
    pub pack: PathBuf,
    /// Plugin search path (empty: `./plugins`).
    pub plugins: Vec<PathBuf>,
    /// The data folder.
    pub data: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Accepted bearer tokens (empty: no authentication, loopback only).
    pub tokens: Vec<String>,
    /// Webhook URLs (`http://` or `https://`).
    pub webhooks: Vec<String>,
    /// The HMAC-SHA256 key for webhook signatures.
    pub webhook_secret: Option<Vec<u8>>,
    /// How often every lead is re-evaluated.
    pub reevaluate_every: Duration,
    /// Request and lead bounds.
    pub limits: Limits,
}

/// A setting that cannot be used.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl Settings {
    /// Checks `options` and reads the files they name.
    pub fn from_options(options: Options) -> Result<Settings, ConfigError> {
        let listen: SocketAddr = options.listen.parse().map_err(|_| {
            ConfigError(format!(
                "--listen {:?} is not IP:PORT (like 127.0.0.1:7878)",
                options.listen
            ))
        })?;
        let tokens = match &options.token_file {
            Some(path) => read_tokens(path)?,
            None => Vec::new(),
        };
        if !listen.ip().is_loopback() && tokens.is_empty() {
            return Err(ConfigError(format!(
                "refusing to listen on {listen} without authentication: give --token-file, or listen on 127.0.0.1"
            )));
        }
        for url in &options.webhooks {
            check_url(url)?;
        }
        let webhook_secret = match &options.webhook_secret_file {
            Some(path) => Some(read_secret(path)?),
            None => None,
        };
        if options.reevaluate_every < Duration::from_secs(1) {
            return Err(ConfigError("--reevaluate-every must be at least 1s".into()));
        }
        check_limits(&options.limits)?;
        Ok(Settings {
            pack: options.pack,
            plugins: options.plugins,
            data: options.data,
            listen,
            tokens,
            webhooks: options.webhooks,
            webhook_secret,
            reevaluate_every: options.reevaluate_every,
            limits: options.limits,
        })
    }
}

fn read_file(what: &str, path: &std::path::Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError(format!("cannot read {what} {}: {e}", path.display())))
}

/// One token per line; blank lines and `#` comments are skipped.
fn read_tokens(path: &std::path::Path) -> Result<Vec<String>, ConfigError> {
    let text = read_file("--token-file", path)?;
    let tokens: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_string)
        .collect();
    if tokens.is_empty() {
        return Err(ConfigError(format!("--token-file {} holds no token", path.display())));
    }
    Ok(tokens)
}

/// The file's bytes without a trailing newline.
fn read_secret(path: &std::path::Path) -> Result<Vec<u8>, ConfigError> {
    let text = read_file("--webhook-secret-file", path)?;
    let secret = text.trim_end_matches(['\n', '\r']);
    if secret.is_empty() {
        return Err(ConfigError(format!(
            "--webhook-secret-file {} is empty",
            path.display()
        )));
    }
    Ok(secret.as_bytes().to_vec())
}

fn check_url(url: &str) -> Result<(), ConfigError> {
    let parsed = reqwest::Url::parse(url).map_err(|e| ConfigError(format!("--webhook {url:?} is not a URL: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host().is_none() {
        return Err(ConfigError(format!(
            "--webhook {url:?} must be an http:// or https:// URL"
        )));
    }
    Ok(())
}

fn check_limits(limits: &Limits) -> Result<(), ConfigError> {
    let zero = [
        ("--max-body-bytes", limits.body_bytes == 0),
        ("--max-items-per-request", limits.items_per_request == 0),
        ("--max-fields-per-lead", limits.fields_per_lead == 0),
        ("--max-events-per-lead", limits.events_per_lead == 0),
        ("--max-connections", limits.connections == 0),
    ];
    match zero.iter().find(|(_, z)| *z) {
        Some((name, _)) => Err(ConfigError(format!("{name} must be at least 1"))),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(listen: &str) -> Options {
        Options {
            pack: "p".into(),
            plugins: Vec::new(),
            data: "d".into(),
            listen: listen.into(),
            token_file: None,
            webhooks: Vec::new(),
            webhook_secret_file: None,
            reevaluate_every: Duration::from_secs(60),
            limits: Limits::default(),
        }
    }

    #[test]
    fn a_public_address_needs_tokens() {
        let err = Settings::from_options(options("0.0.0.0:7878"))
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "refusing to listen on 0.0.0.0:7878 without authentication: give --token-file, or listen on 127.0.0.1"
            )
        );
        assert!(Settings::from_options(options("127.0.0.1:0")).is_ok());
        assert!(Settings::from_options(options("[::1]:0")).is_ok());
    }

    #[test]
    fn tokens_are_read_one_per_line() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let file = dir.path().join("tokens");
        std::fs::write(&file, "# ops\nabc\n\n  def  \n")?;
        let mut o = options("0.0.0.0:0");
        o.token_file = Some(file.clone());
        assert_eq!(Settings::from_options(o)?.tokens, ["abc", "def"]);
        std::fs::write(&file, "# nothing\n")?;
        let mut o = options("127.0.0.1:0");
        o.token_file = Some(file);
        assert!(Settings::from_options(o).is_err_and(|e| e.to_string().ends_with("holds no token")));
        Ok(())
    }

    #[test]
    fn bad_values_are_named() {
        type Edit = fn(&mut Options);
        let cases: [(&str, Edit); 4] = [
            ("--listen \"nowhere\" is not IP:PORT", |o| o.listen = "nowhere".into()),
            ("--webhook \"ftp://x\" must be an http", |o| {
                o.webhooks = vec!["ftp://x".into()]
            }),
            ("--max-events-per-lead must be at least 1", |o| {
                o.limits.events_per_lead = 0
            }),
            ("--reevaluate-every must be at least 1s", |o| {
                o.reevaluate_every = Duration::from_millis(10)
            }),
        ];
        for (expected, edit) in cases {
            let mut o = options("127.0.0.1:0");
            edit(&mut o);
            let err = Settings::from_options(o)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.starts_with(expected), "{err}");
        }
    }
}
