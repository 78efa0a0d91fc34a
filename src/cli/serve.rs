//! `leadscore serve` (feature `serve`): the command line's side of the service — the
//! options, turned into `leadscore_service::Options`; everything else is in the library.

use std::path::PathBuf;
use std::time::Duration;

use leadscore_service::{Limits, Options, ServeError, Settings};

use super::{Exit, Failure, PackArgs};

/// Arguments of `serve`. Every limit has a default (see the README's Service section).
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The pack folder; it hot-reloads, and an edit that does not check never goes live.
    #[arg(long)]
    pack: PathBuf,
    /// The data folder (created if missing): the database lives here.
    #[arg(long, value_name = "DIR")]
    data: PathBuf,
    /// Address to listen on; anything but loopback needs --token-file.
    #[arg(long, default_value = "127.0.0.1:7878", value_name = "IP:PORT")]
    listen: String,
    /// Bearer tokens, one per line: every endpoint but /health then needs one.
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,
    /// POST every transition here (repeatable): at least once, in order per lead.
    #[arg(long = "webhook", value_name = "URL")]
    webhooks: Vec<String>,
    /// Sign webhook bodies with HMAC-SHA256 under this file's contents.
    #[arg(long, value_name = "FILE")]
    webhook_secret_file: Option<PathBuf>,
    /// Score every lead again this often, in seconds (scores change with time).
    #[arg(long, value_name = "SECS", default_value_t = 60)]
    reevaluate_every: u64,
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
    /// Most open connections.
    #[arg(long, value_name = "N", default_value_t = Limits::default().connections)]
    max_connections: usize,
    /// How far in the future an event's `at` may be, in seconds.
    #[arg(long, value_name = "SECS", default_value_t = Limits::default().clock_skew.as_secs())]
    clock_skew: u64,
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
        ..Limits::default()
    };
    let options = Options {
        pack: args.pack.clone(),
        plugins: args.pack_args.plugins.clone(),
        data: args.data.clone(),
        listen: args.listen.clone(),
        token_file: args.token_file.clone(),
        webhooks: args.webhooks.clone(),
        webhook_secret_file: args.webhook_secret_file.clone(),
        reevaluate_every: Duration::from_secs(args.reevaluate_every),
        limits,
    };
    let settings = Settings::from_options(options).map_err(|e| Failure(format!("error: {e}")))?;
    match leadscore_service::run(settings) {
        Ok(()) => Ok(Exit::Success),
        Err(ServeError::Pack(leadscore::Error::Pack(errors))) => {
            use std::io::IsTerminal;
            Err(Failure(errors.render(std::io::stderr().is_terminal())))
        }
        Err(e) => Err(Failure(e.to_string())),
    }
}
