//! The service's settings: [`Options`] as given (the command line fills them), checked
//! and read into [`Settings`] by [`Settings::from_options`]: addresses parsed, token and
//! secret files read, a non-loopback address refused without tokens, every limit bounded.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

/// How long an explicit reload of the live or the shadow pack may take before its caller
/// stops waiting.
pub const RELOAD_WAIT: Duration = Duration::from_secs(60);

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
    /// Most JSON values (objects, arrays, keys and scalars) one request body may build;
    /// parsing stops at the first past it, so a body's memory is bounded by this, not by
    /// its byte size alone.
    pub json_values: usize,
    /// How long a request's headers may take to arrive.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive.
    pub body_timeout: Duration,
    /// How long a connection may stay open with no request in progress.
    pub idle_timeout: Duration,
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
            json_values: 1_000_000,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(30),
            idle_timeout: Duration::from_secs(60),
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
    /// A Postgres URL: the data lives there instead of in the data folder.
    pub database_url: Option<String>,
    /// `IP:PORT` to listen on.
    pub listen: String,
    /// A file with one bearer token per line: `TOKEN` (every scope), or
    /// `NAME TOKEN SCOPE[,SCOPE...]`.
    pub token_file: Option<PathBuf>,
    /// Webhook URLs.
    pub webhooks: Vec<String>,
    /// A file holding the webhook signing secret.
    pub webhook_secret_file: Option<PathBuf>,
    /// How often every lead is re-evaluated (scores change with time).
    pub reevaluate_every: Duration,
    /// Request and lead bounds.
    pub limits: Limits,
    /// A candidate pack that scores every write beside the live one (`--shadow`).
    pub shadow: Option<PathBuf>,
    /// The fewest hand-offs in a target's divisor for it to be judged (`--target-min-sample`).
    pub target_min_sample: u64,
    /// How often the pack's targets are judged (`--target-every`).
    pub target_every: Duration,
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
    /// A Postgres URL: the data lives there instead of in the data folder.
    pub database_url: Option<String>,
    /// Where to listen.
    pub listen: SocketAddr,
    /// Accepted bearer tokens (empty: no authentication, loopback only).
    pub tokens: Vec<Token>,
    /// Webhook URLs (`http://` or `https://`).
    pub webhooks: Vec<String>,
    /// The HMAC-SHA256 key for webhook signatures.
    pub webhook_secret: Option<Vec<u8>>,
    /// How often every lead is re-evaluated.
    pub reevaluate_every: Duration,
    /// Request and lead bounds.
    pub limits: Limits,
    /// The shadow pack folder (`--shadow`).
    pub shadow: Option<PathBuf>,
    /// The fewest hand-offs in a target's divisor for it to be judged.
    pub target_min_sample: u64,
    /// How often the pack's targets are judged.
    pub target_every: Duration,
}

/// What a token may do. Each endpoint needs one scope.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Scope {
    /// Reading leads, history, transitions, the pack, metrics; scoring a lead without storing it.
    Read,
    /// Writing leads and events (event sources, the CRM).
    Write,
    /// Stage changes (sales' decisions).
    Sales,
    /// Publishing the pack (`POST /v1/pack/reload`).
    Admin,
}

impl Scope {
    /// Every scope, in order.
    pub const ALL: [Scope; 4] = [Scope::Read, Scope::Write, Scope::Sales, Scope::Admin];

    /// The scope's name in the token file.
    pub fn name(self) -> &'static str {
        match self {
            Scope::Read => "read",
            Scope::Write => "write",
            Scope::Sales => "sales",
            Scope::Admin => "admin",
        }
    }

    fn parse(name: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// A configured token: its name (what history records), the SHA-256 of its text (the
/// text itself is not kept, and digests of equal length compare in constant time), and
/// its scopes.
#[derive(Clone, PartialEq, Eq)]
pub struct Token {
    /// The name stage changes record as `by`.
    pub name: String,
    /// SHA-256 of the token.
    pub digest: [u8; 32],
    /// What it may do.
    pub scopes: Vec<Scope>,
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Token")
            .field("name", &self.name)
            .field("scopes", &self.scopes)
            .finish_non_exhaustive()
    }
}

/// SHA-256 of a token's text.
pub fn digest(token: &str) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(token.as_bytes()).into()
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
        if options.target_every < Duration::from_secs(1) {
            return Err(ConfigError("--target-every must be at least 1s".into()));
        }
        check_limits(&options.limits)?;
        Ok(Settings {
            pack: options.pack,
            plugins: options.plugins,
            data: options.data,
            database_url: options.database_url,
            listen,
            tokens,
            webhooks: options.webhooks,
            webhook_secret,
            reevaluate_every: options.reevaluate_every,
            limits: options.limits,
            shadow: options.shadow,
            target_min_sample: options.target_min_sample,
            target_every: options.target_every,
        })
    }
}

fn read_file(what: &str, path: &std::path::Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|e| ConfigError(format!("cannot read {what} {}: {e}", path.display())))
}

/// One token per line; blank lines and `#` comments are skipped. A line is `TOKEN`
/// alone (every scope, named `line-N`) or `NAME TOKEN SCOPES`, the scopes
/// comma-separated (`read,write`).
fn read_tokens(path: &std::path::Path) -> Result<Vec<Token>, ConfigError> {
    let text = read_file("--token-file", path)?;
    let mut tokens: Vec<Token> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let at = || format!("--token-file {} line {}", path.display(), i + 1);
        let token = token_line(line, i + 1).map_err(|e| ConfigError(format!("{}: {e}", at())))?;
        if tokens.iter().any(|t| t.name == token.name) {
            return Err(ConfigError(format!(
                "{}: the name `{}` is given twice",
                at(),
                token.name
            )));
        }
        if tokens.iter().any(|t| t.digest == token.digest) {
            return Err(ConfigError(format!("{}: the token is given twice", at())));
        }
        tokens.push(token);
    }
    if tokens.is_empty() {
        return Err(ConfigError(format!("--token-file {} holds no token", path.display())));
    }
    Ok(tokens)
}

/// One line of the token file (never quoting the token in an error).
fn token_line(line: &str, number: usize) -> Result<Token, String> {
    let words: Vec<&str> = line.split_whitespace().collect();
    let (name, token, scopes) = match words.as_slice() {
        [token] => (format!("line-{number}"), *token, Scope::ALL.to_vec()),
        [name, token, scopes] => (name.to_string(), *token, scope_list(scopes)?),
        _ => {
            return Err(format!(
                "a line is `TOKEN` or `NAME TOKEN SCOPES` (scopes comma-separated from {}); this one has {} words",
                scope_names(),
                words.len()
            ))
        }
    };
    Ok(Token {
        name,
        digest: digest(token),
        scopes,
    })
}

fn scope_list(text: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for name in text.split(',').filter(|n| !n.is_empty()) {
        let scope =
            Scope::parse(name).ok_or_else(|| format!("unknown scope `{name}` (the scopes are {})", scope_names()))?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.sort();
    match scopes.is_empty() {
        true => Err(format!("no scope given (the scopes are {})", scope_names())),
        false => Ok(scopes),
    }
}

fn scope_names() -> String {
    Scope::ALL.map(Scope::name).join(", ")
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
        ("--max-json-values", limits.json_values == 0),
        ("--header-timeout", limits.header_timeout < Duration::from_secs(1)),
        ("--body-timeout", limits.body_timeout < Duration::from_secs(1)),
        ("--idle-timeout", limits.idle_timeout < Duration::from_secs(1)),
    ];
    match zero.iter().find(|(_, z)| *z) {
        Some((name, _)) if name.ends_with("-timeout") => Err(ConfigError(format!("{name} must be at least 1s"))),
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
            database_url: None,
            listen: listen.into(),
            token_file: None,
            webhooks: Vec::new(),
            webhook_secret_file: None,
            reevaluate_every: Duration::from_secs(60),
            limits: Limits::default(),
            shadow: None,
            target_min_sample: 20,
            target_every: Duration::from_secs(60),
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
        std::fs::write(&file, "# ops\nabc\n\n  crm  def  write,read \n")?;
        let mut o = options("0.0.0.0:0");
        o.token_file = Some(file.clone());
        let tokens = Settings::from_options(o)?.tokens;
        let read = |t: &Token| (t.name.clone(), t.digest, t.scopes.clone());
        assert_eq!(
            tokens.iter().map(read).collect::<Vec<_>>(),
            [
                ("line-2".to_string(), digest("abc"), Scope::ALL.to_vec()),
                ("crm".to_string(), digest("def"), vec![Scope::Read, Scope::Write]),
            ]
        );
        for (text, expected) in [
            ("a b\n", "line 1: a line is `TOKEN` or `NAME TOKEN SCOPES`"),
            (
                "a b root\n",
                "line 1: unknown scope `root` (the scopes are read, write, sales, admin)",
            ),
            ("a b read\na c read\n", "line 2: the name `a` is given twice"),
            ("x\ny\nx\n", "line 3: the token is given twice"),
        ] {
            std::fs::write(&file, text)?;
            let mut o = options("127.0.0.1:0");
            o.token_file = Some(file.clone());
            let err = Settings::from_options(o)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(expected), "{err}");
            assert!(
                !err.contains(" b ") && !err.contains("`b`"),
                "the token is quoted: {err}"
            );
        }
        std::fs::write(&file, "# nothing\n")?;
        let mut o = options("127.0.0.1:0");
        o.token_file = Some(file);
        assert!(Settings::from_options(o).is_err_and(|e| e.to_string().ends_with("holds no token")));
        Ok(())
    }

    #[test]
    fn bad_values_are_named() {
        type Edit = fn(&mut Options);
        let cases: [(&str, Edit); 5] = [
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
            ("--target-every must be at least 1s", |o| {
                o.target_every = Duration::ZERO
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
