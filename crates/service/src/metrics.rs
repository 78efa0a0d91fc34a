//! Prometheus metrics (`GET /metrics`), through `prometheus-client`: one registry owned
//! by the service, no globals; written as OpenMetrics, or as the older Prometheus text
//! format (0.0.4) for clients that do not ask for OpenMetrics.

use std::sync::atomic::AtomicU64;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use super::apply::Tally;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: String,
    method: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    webhook: String,
}

/// What a group commit held (see [`Held`]).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HeldLabels {
    held: &'static str,
}

/// How the writer's cache served a stored lead (see [`crate::apply::Loads`]).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    cache: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RuleLabels {
    rule: String,
}

type Histograms<L> = Family<L, Histogram, fn() -> Histogram>;

fn latency_histogram() -> Histogram {
    // 0.1 ms to ~3.3 s.
    Histogram::new(exponential_buckets(0.000_1, 2.0, 16))
}

/// What a group commit held, for the `held` label of its time: the costliest kind of
/// work among its commands (a group of writes that also claimed due leads is `Due`), so
/// that a slow commit can be told from the work that made it slow.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Held {
    /// Writes of leads only (events, fields, sales actions).
    Writes,
    /// A readiness probe's record (while writes could not be stored).
    Probe,
    /// A webhook's delivery result or an operator's action on a stream.
    Webhook,
    /// A lead's erasure.
    Erase,
    /// The targets' alerts.
    Targets,
    /// A claim of leads due by now, scored again.
    Due,
    /// A chunk of the re-scoring of every lead with a new pack.
    Rescore,
}

impl Held {
    /// The label's value.
    pub fn name(self) -> &'static str {
        match self {
            Held::Writes => "writes",
            Held::Probe => "probe",
            Held::Webhook => "webhook",
            Held::Erase => "erase",
            Held::Targets => "targets",
            Held::Due => "due",
            Held::Rescore => "rescore",
        }
    }
}

/// The service's metrics.
pub struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Histograms<RouteLabels>,
    leads: Gauge,
    events: Counter,
    duplicates: Counter,
    dropped: Counter,
    score_errors: Counter,
    transitions: Family<KindLabels, Counter>,
    reloads: Counter,
    rejections: Counter,
    outbox_depth: Family<WebhookLabels, Gauge>,
    deliveries: Family<WebhookLabels, Counter>,
    failures: Family<WebhookLabels, Counter>,
    commit_requests: Histogram,
    commit_seconds: Histograms<HeldLabels>,
    /// Storage and scale (issue 22).
    rescored: Counter,
    lead_loads: Family<CacheLabels, Counter>,
    // Webhook dead letters (issue 23).
    dead_letters: Family<WebhookLabels, Gauge>,
    funnel: FunnelGauges,
    // The console's pack page.
    rules_fired: Family<RuleLabels, Counter>,
    // Targets (issue 27.3).
    targets: TargetGauges,
}

impl Default for Metrics {
    fn default() -> Metrics {
        Metrics::new()
    }
}

impl Metrics {
    /// Every metric, registered.
    pub fn new() -> Metrics {
        let mut m = Metrics {
            registry: Registry::with_prefix("leadscore"),
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            leads: Gauge::default(),
            events: Counter::default(),
            duplicates: Counter::default(),
            dropped: Counter::default(),
            score_errors: Counter::default(),
            transitions: Family::default(),
            reloads: Counter::default(),
            rejections: Counter::default(),
            outbox_depth: Family::default(),
            deliveries: Family::default(),
            failures: Family::default(),
            commit_requests: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            commit_seconds: Family::new_with_constructor(latency_histogram),
            rescored: Counter::default(),
            lead_loads: Family::default(),
            dead_letters: Family::default(),
            funnel: FunnelGauges::default(),
            rules_fired: Family::default(),
            targets: TargetGauges::default(),
        };
        let r = &mut m.registry;
        r.register(
            "http_requests",
            "HTTP requests by route, method and status",
            m.requests.clone(),
        );
        r.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            m.latency.clone(),
        );
        r.register("leads", "Leads stored", m.leads.clone());
        r.register("events", "Events stored", m.events.clone());
        r.register(
            "events_duplicate",
            "Events ignored: their id was seen before for the lead",
            m.duplicates.clone(),
        );
        r.register(
            "events_dropped",
            "Events dropped: the lead had more than --max-events-per-lead",
            m.dropped.clone(),
        );
        r.register(
            "score_errors",
            "Evaluations of a lead that failed (a plugin error, an unreadable event)",
            m.score_errors.clone(),
        );
        r.register(
            "transitions",
            "Transitions written to the outbox, by kind",
            m.transitions.clone(),
        );
        r.register(
            "pack_reloads",
            "Pack edits that checked and went live",
            m.reloads.clone(),
        );
        r.register(
            "pack_rejections",
            "Pack edits rejected (the live version stayed)",
            m.rejections.clone(),
        );
        r.register(
            "outbox_depth",
            "Transitions not yet delivered, by webhook",
            m.outbox_depth.clone(),
        );
        r.register(
            "webhook_deliveries",
            "Transitions delivered, by webhook",
            m.deliveries.clone(),
        );
        r.register(
            "webhook_failures",
            "Failed delivery attempts, by webhook",
            m.failures.clone(),
        );
        r.register(
            "commit_requests",
            "Requests per group commit",
            m.commit_requests.clone(),
        );
        r.register(
            "commit_duration_seconds",
            "Time to apply and durably commit one group, by the costliest kind of work it held (writes, erase, webhook, probe, targets, due, rescore)",
            m.commit_seconds.clone(),
        );
        r.register(
            "leads_rescored",
            "Leads this instance scored again for a new pack (at start or after a reload; instances on one database share them)",
            m.rescored.clone(),
        );
        r.register(
            "lead_loads",
            "Stored leads the writer loaded, by how its cache served them: cached (nothing read), caught_up (another instance wrote the lead since: its record and the events it added read), read (record and events read whole)",
            m.lead_loads.clone(),
        );
        r.register(
            "webhook_dead_letters",
            "Transitions a webhook gave up on, kept until replayed or discarded, by webhook",
            m.dead_letters.clone(),
        );
        m.funnel.register(r);
        m.targets.register(r);
        r.register(
            "rules_fired",
            "Results computed (writes and re-evaluations) in which the rule fired, by rule name",
            m.rules_fired.clone(),
        );
        m
    }

    /// The OpenMetrics exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String does not fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// The Prometheus text format 0.0.4: [`Metrics::render`] with each counter family
    /// named by its sample (`_total`) in `# HELP` and `# TYPE`, and no `# EOF`.
    pub fn render_text(&self) -> String {
        to_text_format(&self.render())
    }

    /// One HTTP request.
    pub fn request(&self, route: &str, method: &str, status: u16, took: Duration) {
        let labels = RequestLabels {
            route: route.to_string(),
            method: method.to_string(),
            status,
        };
        self.requests.get_or_create(&labels).inc();
        let route = RouteLabels {
            route: route.to_string(),
        };
        self.latency.get_or_create(&route).observe(took.as_secs_f64());
    }

    /// The number of leads, when it is known exactly (at start).
    pub fn set_leads(&self, n: u64) {
        self.leads.set(i64::try_from(n).unwrap_or(i64::MAX));
    }

    /// One group commit, which held `held`.
    pub fn commit(&self, requests: usize, held: Held, took: Duration) {
        self.commit_requests.observe(requests as f64);
        let labels = HeldLabels { held: held.name() };
        self.commit_seconds.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// Leads scored again for a new pack (storage and scale, issue 22).
    pub fn rescored(&self, n: usize) {
        self.rescored.inc_by(n as u64);
    }

    /// What a committed batch did.
    pub fn tally(&self, t: &Tally) {
        self.leads.inc_by(i64::try_from(t.new_leads).unwrap_or(0));
        self.events.inc_by(t.events);
        self.duplicates.inc_by(t.duplicates);
        self.dropped.inc_by(t.dropped);
        self.score_errors.inc_by(t.score_errors);
        let loads = [
            ("cached", t.loads.cached),
            ("caught_up", t.loads.caught_up),
            ("read", t.loads.read),
        ];
        for (cache, n) in loads {
            if n > 0 {
                self.lead_loads.get_or_create(&CacheLabels { cache }).inc_by(n);
            }
        }
        for kind in &t.transitions {
            self.transitions
                .get_or_create(&KindLabels { kind: kind.to_string() })
                .inc();
        }
        for rule in &t.fired {
            self.rules_fired
                .get_or_create(&RuleLabels { rule: rule.to_string() })
                .inc();
        }
    }

    /// A pack edit went live (`true`) or was rejected.
    pub fn reload(&self, live: bool) {
        if live { &self.reloads } else { &self.rejections }.inc();
    }

    /// A webhook's backlog.
    pub fn outbox_depth(&self, webhook: &str, depth: u64) {
        let labels = WebhookLabels {
            webhook: webhook.to_string(),
        };
        self.outbox_depth
            .get_or_create(&labels)
            .set(i64::try_from(depth).unwrap_or(i64::MAX));
    }

    /// A webhook's dead letters.
    pub fn dead_letters(&self, webhook: &str, count: u32) {
        let labels = WebhookLabels {
            webhook: webhook.to_string(),
        };
        self.dead_letters.get_or_create(&labels).set(i64::from(count));
    }

    /// One delivery attempt.
    pub fn delivery(&self, webhook: &str, ok: bool) {
        let labels = WebhookLabels {
            webhook: webhook.to_string(),
        };
        if ok { &self.deliveries } else { &self.failures }
            .get_or_create(&labels)
            .inc();
    }
}

// The funnel (issue 27).

/// The funnel's headline figures per route over the trailing [`FUNNEL_DAYS`] days, set
/// from a report at each scrape (see `http.rs`).
#[derive(Default)]
struct FunnelGauges {
    mqls: Family<RouteLabels, Gauge>,
    accepted: Family<RouteLabels, Gauge>,
    rejected: Family<RouteLabels, Gauge>,
    won: Family<RouteLabels, Gauge>,
    open: Family<RouteLabels, Gauge>,
    sla_breached: Family<RouteLabels, Gauge>,
    acceptance_rate: Rates,
    conversion_rate: Rates,
    sla_met_rate: Rates,
}

/// A rate per route.
type Rates = Family<RouteLabels, Gauge<f64, AtomicU64>>;

/// The window of the funnel's gauges.
pub const FUNNEL_DAYS: i64 = 30;

impl FunnelGauges {
    fn counts(&self) -> [(&'static str, &'static str, &Family<RouteLabels, Gauge>); 6] {
        [
            ("funnel_mqls", "Hand-offs in the last 30 days, by route", &self.mqls),
            (
                "funnel_accepted",
                "Of those, accepted by sales at some point",
                &self.accepted,
            ),
            (
                "funnel_rejected",
                "Of those, rejected by sales at some point",
                &self.rejected,
            ),
            ("funnel_won", "Of those, won deals", &self.won),
            ("funnel_open", "Of those, without a sales action yet", &self.open),
            (
                "funnel_sla_breached",
                "Of those, SLA passed before the first sales action",
                &self.sla_breached,
            ),
        ]
    }

    fn rates(&self) -> [(&'static str, &'static str, &Rates); 3] {
        [
            (
                "funnel_acceptance_rate",
                "Accepted / acted on, hand-offs of the last 30 days (absent: none acted on)",
                &self.acceptance_rate,
            ),
            (
                "funnel_conversion_rate",
                "Won / hand-offs of the last 30 days",
                &self.conversion_rate,
            ),
            (
                "funnel_sla_met_rate",
                "Acted on before the SLA / acted on or past due, hand-offs of the last 30 days",
                &self.sla_met_rate,
            ),
        ]
    }

    fn register(&self, r: &mut Registry) {
        for (name, help, family) in self.counts() {
            r.register(name, help, family.clone());
        }
        for (name, help, family) in self.rates() {
            r.register(name, help, family.clone());
        }
    }
}

impl Metrics {
    /// The funnel's gauges from a report grouped by route (a route's label is `(none)`
    /// for hand-offs without one); routes no longer in the window disappear.
    pub fn set_funnel(&self, report: &crate::funnel::Report) {
        let f = &self.funnel;
        for (_, _, family) in f.counts() {
            family.clear();
        }
        for (_, _, family) in f.rates() {
            family.clear();
        }
        for group in report.groups.iter().flatten() {
            let labels = RouteLabels {
                route: group.key.as_str().unwrap_or("(none)").to_string(),
            };
            let g = &group.figures;
            let counts = [g.mqls, g.accepted, g.rejected, g.won, g.open, g.sla_breached];
            for ((_, _, family), n) in f.counts().into_iter().zip(counts) {
                family.get_or_create(&labels).set(i64::try_from(n).unwrap_or(i64::MAX));
            }
            let rates = [g.acceptance_rate, g.conversion_rate, g.sla_met_rate];
            for ((_, _, family), rate) in f.rates().into_iter().zip(rates) {
                if let Some(rate) = rate {
                    family.get_or_create(&labels).set(rate);
                }
            }
        }
    }
}

// Targets (issue 27.3).

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetLabels {
    target: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TargetName {
    target: String,
}

/// The longest target name in a label, in characters (longer ones are cut, with `…`).
const TARGET_LABEL_CHARS: usize = 128;

/// The live pack's targets as the scheduler last judged them: one series per target and
/// status (1 for the status it has, 0 for the others), and the measure.
#[derive(Default)]
struct TargetGauges {
    status: Family<TargetLabels, Gauge>,
    actual: Family<TargetName, Gauge<f64, AtomicU64>>,
}

impl TargetGauges {
    fn register(&self, r: &mut Registry) {
        r.register(
            "target_status",
            "The pack's targets as last judged: 1 for the status each has (met, missed, insufficient), 0 for the others",
            self.status.clone(),
        );
        r.register(
            "target_actual",
            "The measure of each target over its window, 0 to 1 (absent: no hand-off in its divisor)",
            self.actual.clone(),
        );
    }
}

impl Metrics {
    /// The targets' gauges from a judgement of the live pack's targets; targets no longer
    /// in the pack disappear.
    pub fn set_targets(&self, evaluations: &[crate::model::Evaluation]) {
        use crate::model::TargetStatus;
        let t = &self.targets;
        t.status.clear();
        t.actual.clear();
        for e in evaluations {
            let mut target: String = e.name.chars().take(TARGET_LABEL_CHARS).collect();
            if e.name.chars().count() > TARGET_LABEL_CHARS {
                target.push('…');
            }
            for status in [TargetStatus::Met, TargetStatus::Missed, TargetStatus::Insufficient] {
                let labels = TargetLabels {
                    target: target.clone(),
                    status: status.name().to_string(),
                };
                t.status.get_or_create(&labels).set(i64::from(status == e.status));
            }
            if let Some(actual) = e.actual {
                t.actual.get_or_create(&TargetName { target }).set(actual);
            }
        }
    }
}

/// OpenMetrics text as the 0.0.4 format reads it: the two differ, for what this
/// registry writes, only in how counters are named and in the closing `# EOF`.
fn to_text_format(open: &str) -> String {
    let counters: Vec<&str> = open
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(open.len() + counters.len() * 16);
    for line in open.lines() {
        if line == "# EOF" {
            continue;
        }
        let renamed = ["# HELP ", "# TYPE "].into_iter().find_map(|prefix| {
            let rest = line.strip_prefix(prefix)?;
            let (name, tail) = rest.split_once(' ')?;
            counters.contains(&name).then(|| format!("{prefix}{name}_total {tail}"))
        });
        out.push_str(renamed.as_deref().unwrap_or(line));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_text_format_names_counters_by_their_samples() {
        let open = "# HELP a_events Events.\n# TYPE a_events counter\na_events_total 3\n# HELP a_leads Leads.\n# TYPE a_leads gauge\na_leads 2\n# EOF\n";
        assert_eq!(
            to_text_format(open),
            "# HELP a_events_total Events.\n# TYPE a_events_total counter\na_events_total 3\n# HELP a_leads Leads.\n# TYPE a_leads gauge\na_leads 2\n"
        );
    }
}
