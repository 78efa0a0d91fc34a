//! `leadscore serve` (feature `serve`): the command line's side of the service — the
//! options, turned into `leadscore_service::Options`; everything else is in the library.

use std::path::PathBuf;
use std::time::Duration;

use leadscore_service::{Limits, Options, ServeError, Settings};

use super::{Exit, Failure, PackArgs};

/// Arguments of `serve`. Every limit has a default (see the manual's service chapters).
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The pack folder (or a link to it). A new version goes live only when published
    /// whole: the link flipped or the folder renamed into place, POST /v1/pack/reload, or
    /// SIGHUP; an edit that does not check never goes live.
    #[arg(long)]
    pack: PathBuf,
    /// A candidate pack that scores every write beside the live one, deciding nothing
    /// (GET /v1/shadow compares them); published like the live pack.
    #[arg(long, value_name = "PACK")]
    shadow: Option<PathBuf>,
    /// The data folder (created if missing): the database lives here.
    #[arg(long, value_name = "DIR", required_unless_present = "database_url")]
    data: Option<PathBuf>,
    /// Keep the data in PostgreSQL instead (postgres://USER@HOST/DB?sslmode=require);
    /// several instances may share one database.
    #[arg(
        long,
        value_name = "URL",
        env = "LEADSCORE_DATABASE_URL",
        hide_env_values = true,
        conflicts_with = "data"
    )]
    database_url: Option<String>,
    /// Address to listen on; anything but loopback needs --token-file.
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "IP:PORT")]
    listen: String,
    /// Bearer tokens, one per line: `TOKEN`, or `NAME TOKEN SCOPES` (read, write, sales,
    /// admin, comma-separated); every endpoint but /health then needs one.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// POST every transition here (repeatable): at least once, in order per lead.
    #[arg(long = "webhook", value_name = "URL")]
    webhooks: Vec<String>,
    /// Sign webhook bodies with HMAC-SHA256 under this file's contents.
    #[arg(long, value_name = "FILE")]
    webhook_secret_file: Option<PathBuf>,
    /// Seconds after which a lead whose result may change at any time (a plugin read
    /// as_of(), or scoring failed) is scored again; every other lead is scored again
    /// exactly when its result can change (a window ends, an SLA passes), and never
    /// otherwise.
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    reevaluate_every: u64,
    /// The fewest hand-offs in a target's divisor (those sales acted on for
    /// `acceptance`, all for `conversion`, those with an SLA acted on or past due for
    /// `sla`) for the target to be judged met or missed; below it, `insufficient`.
    #[arg(long, value_name = "N", default_value_t = leadscore_service::targets::MIN_SAMPLE)]
    target_min_sample: u64,
    /// Seconds between two judgements of the pack's targets (a change publishes an alert).
    #[arg(long, value_name = "SECS", default_value_t = leadscore_service::targets::EVERY.as_secs())]
    target_every: u64,
    /// Largest request body, in bytes.
    #[arg(long, value_name = "N", default_value_t = Limits::default().body_bytes)]
    max_body_bytes: usize,
    /// Most events per request, and lines per /v1/ingest request.
    #[arg(long, value_name = "N", default_value_t = Limits::default().items_per_request)]
    max_items_per_request: usize,
    /// Most fields a lead may have.
    #[arg(long, value_name = "N", default_value_t = Limits::default().fields_per_lead)]
    max_fields_per_lead: usize,
    /// Most events kept per lead; the earliest received beyond it are dropped.
    #[arg(long, value_name = "N", default_value_t = Limits::default().events_per_lead)]
    max_events_per_lead: u64,
    /// Most open connections (when all are taken, the one idle the longest is closed).
    #[arg(long, value_name = "N", default_value_t = Limits::default().connections)]
    max_connections: usize,
    /// How far in the future an event's `at` may be, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().clock_skew.as_secs())]
    clock_skew: u64,
    /// Most JSON values (objects, arrays, keys, scalars) one request body may hold.
    #[arg(long, value_name = "N", default_value_t = Limits::default().json_values)]
    max_json_values: usize,
    /// Seconds a request's headers may take to arrive.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().header_timeout.as_secs())]
    header_timeout: u64,
    /// Seconds a request's body may take to arrive.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().body_timeout.as_secs())]
    body_timeout: u64,
    /// Seconds a connection may stay open with no request in progress.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().idle_timeout.as_secs())]
    idle_timeout: u64,
    #[command(flatten)]
    pack_args: PackArgs,
}

/// Runs the service until SIGTERM or Ctrl-C.
pub fn run(args: &ServeArgs) -> Result<Exit, Failure> {
    let limits = Limits {
        body_bytes: args.max_body_bytes,
        items_per_request: args.max_items_per_request,
        fields_per_lead: args.max_fields_per_lead,
        events_per_lead: args.max_events_per_lead,
        connections: args.max_connections,
        clock_skew: Duration::from_secs(args.clock_skew),
        json_values: args.max_json_values,
        header_timeout: Duration::from_secs(args.header_timeout),
        body_timeout: Duration::from_secs(args.body_timeout),
        idle_timeout: Duration::from_secs(args.idle_timeout),
        ..Limits::default()
    };
    let options = Options {
        pack: args.pack.clone(),
        plugins: args.pack_args.plugins.clone(),
        data: args.data.clone().unwrap_or_default(),
        database_url: args.database_url.clone(),
        listen: args.listen.clone(),
        token_file: args.token_file.clone(),
        webhooks: args.webhooks.clone(),
        webhook_secret_file: args.webhook_secret_file.clone(),
        reevaluate_every: Duration::from_secs(args.reevaluate_every),
        limits,
        shadow: args.shadow.clone(),
        target_min_sample: args.target_min_sample,
        target_every: Duration::from_secs(args.target_every),
    };
    let settings = Settings::from_options(options).map_err(|e| Failure(format!("error: {e}")))?;
    match leadscore_service::run(settings) {
        Ok(()) => Ok(Exit::Success),
        Err(ServeError::Pack(error)) => Err(Failure::pack(error)),
        Err(e) => Err(Failure(e.to_string())),
    }
}
