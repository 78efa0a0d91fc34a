//! `leadscore funnel` (feature `serve`): the funnel of `GET /v1/funnel` as a table, from a
//! running service (`--url`) or the data folder of a stopped one (`--data`); `--json`
//! prints the answer as the service gives it. Every value from a lead or a pack (routes,
//! field values, rule names, reasons) is escaped for the terminal.

use std::path::PathBuf;

use leadscore::show_text;
use leadscore_service::funnel::{Figures, Report};
use leadscore_service::report::{self, Source};

use super::{Exit, Failure};

/// Arguments of `funnel`.
#[derive(clap::Args, Debug)]
pub struct FunnelArgs {
    /// A running service's address (http://127.0.0.1:7878); a token with the `read`
    /// scope is taken from LEADSCORE_TOKEN when the service needs one.
    #[arg(long, value_name = "URL", required_unless_present = "data", conflicts_with = "data")]
    url: Option<String>,
    /// The data folder of a stopped service (the embedded store).
    #[arg(long, value_name = "DIR")]
    data: Option<PathBuf>,
    /// The hand-offs made from this time (RFC 3339; default: 30 days before --to).
    #[arg(long, value_name = "TIME")]
    from: Option<String>,
    /// ...up to this time, exclusive (default: now).
    #[arg(long, value_name = "TIME")]
    to: Option<String>,
    /// Figures per route (`route`) or per value of a lead field.
    #[arg(long, value_name = "route|FIELD")]
    by: Option<String>,
    /// Figures per period too: day, week or month (UTC).
    #[arg(long, value_name = "PERIOD")]
    every: Option<String>,
    /// With --data: the pack whose targets to judge (a service judges its live pack's).
    #[arg(long, value_name = "PACK", requires = "data")]
    pack: Option<PathBuf>,
    /// With --pack: the fewest hand-offs in a target's divisor for it to be judged.
    #[arg(long, value_name = "N", default_value_t = leadscore_service::targets::MIN_SAMPLE)]
    target_min_sample: u64,
    #[command(flatten)]
    pack_args: super::PackArgs,
    /// Print the answer as JSON, as GET /v1/funnel gives it.
    #[arg(long)]
    json: bool,
}

pub fn run(args: &FunnelArgs) -> Result<Exit, Failure> {
    let source = match (&args.url, &args.data) {
        (Some(url), _) => Source::Service {
            url: url.clone(),
            token: std::env::var("LEADSCORE_TOKEN").ok().filter(|t| !t.is_empty()),
        },
        (None, Some(dir)) => Source::Folder(dir.clone()),
        (None, None) => return Err(Failure("give --url or --data".into())),
    };
    let params: Vec<(String, String)> = [
        ("from", &args.from),
        ("to", &args.to),
        ("by", &args.by),
        ("every", &args.every),
    ]
    .into_iter()
    .filter_map(|(name, value)| Some((name.to_string(), value.clone()?)))
    .collect();
    let pack = args
        .pack
        .as_deref()
        .map(|dir| super::load_pack(dir, &args.pack_args))
        .transpose()?;
    let targets = pack.as_ref().map_or(&[][..], |p| p.program().targets());
    let report = report::funnel(&source, &params, targets, args.target_min_sample)
        .map_err(|e| Failure(format!("error: {}", show_text(&e.to_string()))))?;
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        outln!("{}", render(&report).trim_end());
    }
    Ok(Exit::Success)
}

/// The report as tables: the headline figures (per group), rejection reasons, rules, and
/// the series.
pub fn render(report: &Report) -> String {
    let mut out = format!(
        "Funnel of the hand-offs from {} to {} (as of {})\n\n",
        report.from, report.to, report.as_of
    );
    let mut rows = vec![("all".to_string(), &report.figures)];
    for g in report.groups.iter().flatten() {
        rows.push((key_text(&g.key), &g.figures));
    }
    let by = report.by.as_deref().map_or("", |b| b);
    out.push_str(&headline(&show_text(by), &rows));
    if !report.figures.rejection_reasons.is_empty() {
        out.push_str("\nRejection reasons\n");
        let width = report
            .figures
            .rejection_reasons
            .keys()
            .map(|k| show_text(k).chars().count())
            .max()
            .unwrap_or(0);
        for (reason, n) in &report.figures.rejection_reasons {
            out.push_str(&format!("  {:<width$}  {n:>6}\n", show_text(reason)));
        }
    }
    if !report.figures.rules.is_empty() {
        let width = report
            .figures
            .rules
            .iter()
            .map(|r| show_text(&r.rule).chars().count())
            .max()
            .unwrap_or(0)
            .max(4);
        out.push_str(&format!(
            "\nRules (at the hand-off)\n  {:<width$}  {:>6}  {:>8}  {:>8}  {:>10}\n",
            "rule", "mqls", "accepted", "rejected", "acceptance"
        ));
        for r in &report.figures.rules {
            out.push_str(&format!(
                "  {:<width$}  {:>6}  {:>8}  {:>8}  {:>10}\n",
                show_text(&r.rule),
                r.mqls,
                r.accepted,
                r.rejected,
                percent(r.acceptance_rate)
            ));
        }
    }
    if !report.targets.is_empty() {
        out.push_str(&targets(&report.targets));
    }
    if let (Some(every), Some(series)) = (report.every, &report.series) {
        let rows: Vec<(String, &Figures)> = series
            .iter()
            .map(|p| (p.from.chars().take(10).collect(), &p.figures))
            .collect();
        out.push_str(&format!(
            "\nPer {}\n",
            serde_json::to_value(every)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default()
        ));
        out.push_str(&headline("from", &rows));
    }
    out
}

fn key_text(key: &serde_json::Value) -> String {
    match key {
        serde_json::Value::Null => "(none)".into(),
        serde_json::Value::String(s) => show_text(s).into_owned(),
        other => show_text(&other.to_string()).into_owned(),
    }
}

/// One line per row: the counts, the rates and the minutes to the first action.
fn headline(first: &str, rows: &[(String, &Figures)]) -> String {
    let width = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0)
        .max(first.chars().count())
        .max(3);
    let mut out = format!(
        "{first:<width$}  {:>6}  {:>8}  {:>8}  {:>8}  {:>5}  {:>5}  {:>5}  {:>8}  {:>10}  {:>10}  {:>7}  {:>10}  {:>7}\n",
        "mqls", "accepted", "rejected", "recycled", "won", "lost", "open", "breached", "acceptance", "conversion", "sla met", "median min", "p90 min"
    );
    for (key, f) in rows {
        out.push_str(&format!(
            "{key:<width$}  {:>6}  {:>8}  {:>8}  {:>8}  {:>5}  {:>5}  {:>5}  {:>8}  {:>10}  {:>10}  {:>7}  {:>10}  {:>7}\n",
            f.mqls,
            f.accepted,
            f.rejected,
            f.recycled,
            f.won,
            f.lost,
            f.open,
            f.sla_breached,
            percent(f.acceptance_rate),
            percent(f.conversion_rate),
            percent(f.sla_met_rate),
            minutes(f.minutes_to_first_action.median),
            minutes(f.minutes_to_first_action.p90),
        ));
    }
    out
}

/// The pack's targets: each one's status, measure against its value, and sample.
fn targets(targets: &[leadscore_service::model::Evaluation]) -> String {
    let names: Vec<String> = targets.iter().map(|t| show_text(&t.name).into_owned()).collect();
    let width = names.iter().map(|n| n.chars().count()).max().unwrap_or(0).max(6);
    let mut out = format!(
        "\nTargets (each over its own window ending now)\n  {:<width$}  {:<12}  {:>8}  {:<20}  {:>6}\n",
        "target", "status", "actual", "goal", "sample"
    );
    for (t, name) in targets.iter().zip(names) {
        let goal = format!("{} {} over {}", t.op, percent(Some(t.value)), show_text(&t.window));
        out.push_str(&format!(
            "  {name:<width$}  {:<12}  {:>8}  {goal:<20}  {:>6}\n",
            t.status.name(),
            percent(t.actual),
            t.sample
        ));
    }
    out
}

fn percent(rate: Option<f64>) -> String {
    rate.map_or_else(|| "-".into(), |r| format!("{:.1}%", r * 100.0))
}

fn minutes(m: Option<f64>) -> String {
    m.map_or_else(|| "-".into(), |m| format!("{m:.1}"))
}
