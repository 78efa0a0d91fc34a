//! The planted model `leadscore gen --outcomes` draws each lead's `converted` from, so
//! tests and demos know the truth a backtest or a fit should find.
//!
//! Each lead is judged (handed to sales) at `judged_at`, uniform over the 8 weeks before the
//! generator's `as_of`; only events up to then count. Its log-odds of converting are
//!
//! | term | when |
//! |---:|---|
//! | −3.2 | always (the intercept) |
//! | +1.0 | a senior title (VP, C-level, SVP, director, head of) |
//! | +0.7 | a company of 50 or more employees |
//! | +1.6 | submitted the `demo-request` form |
//! | +0.8 | 3 or more pricing page views in the 14 days before `judged_at` |
//! | +0.6 | attended a webinar in the 60 days before |
//! | −0.7 | opened 5 or more emails in the 30 days before (newsletter readers do not buy) |
//! | −1.2 | visited a careers page |
//! | −2.0 | a student: a student title or an `.edu` address |
//! | +1.5 | `Lead Source` is `Referral` (a signal the b2b-saas pack has no rule for) |
//! | +0.8 | started a chat (`chat_started`, also missing from the pack) |
//!
//! and `converted` is true with probability `1 / (1 + e^−log-odds)`, drawn from a random
//! stream of its own (seeded from the generator's seed), so the leads themselves are the
//! same with or without outcomes.

use super::SyntheticLead;

const DAY: i64 = 86_400_000;

/// The intercept and the weight of each planted term, in the order of the table above.
pub const WEIGHTS: [(&str, f64); 11] = [
    ("intercept", -3.2),
    ("senior title", 1.0),
    ("company size >= 50", 0.7),
    ("demo request", 1.6),
    ("3+ pricing views in 14d", 0.8),
    ("webinar in 60d", 0.6),
    ("5+ email opens in 30d", -0.7),
    ("careers page", -1.2),
    ("student", -2.0),
    ("Lead Source = Referral", 1.5),
    ("chat started", 0.8),
];

/// The planted terms that hold for a lead judged at `judged` (ms), as 0/1 in the order of
/// [`WEIGHTS`] (the intercept's is always 1).
pub fn terms(lead: &SyntheticLead, judged: i64) -> [f64; 11] {
    let before: Vec<_> = lead.events.iter().filter(|e| e.millis() <= judged).collect();
    let within = |days: i64| judged - days * DAY;
    let count = |kind: &str, from: i64, test: &dyn Fn(&super::SyntheticEvent) -> bool| {
        before
            .iter()
            .filter(|e| e.kind == kind && e.millis() >= from && test(e))
            .count()
    };
    let title = lead.title.to_lowercase();
    let senior = [
        "vp",
        "vice president",
        "ceo",
        "cfo",
        "cto",
        "chief",
        "svp",
        "director",
        "head of",
    ]
    .iter()
    .any(|w| title.split(|c: char| !c.is_alphanumeric()).any(|t| t == *w) || (w.contains(' ') && title.contains(w)));
    let size = match &lead.company.size {
        serde_json::Value::Number(n) => n.as_f64().unwrap_or(0.0),
        serde_json::Value::String(s) => s.parse().unwrap_or(0.0),
        _ => 0.0,
    };
    let path = |e: &super::SyntheticEvent, prefix: &str| {
        e.path.as_deref().is_some_and(|p| p.to_lowercase().starts_with(prefix))
    };
    let student = ["student", "intern"].iter().any(|w| title.contains(w)) || lead.email.ends_with(".edu");
    let flag = |b: bool| if b { 1.0 } else { 0.0 };
    [
        1.0,
        flag(senior),
        flag(size >= 50.0),
        flag(count("form_submit", i64::MIN, &|e| e.form == Some("demo-request")) > 0),
        flag(count("page_view", within(14), &|e| path(e, "/pricing")) >= 3),
        flag(count("webinar", within(60), &|_| true) > 0),
        flag(count("email_open", within(30), &|_| true) >= 5),
        flag(count("page_view", i64::MIN, &|e| path(e, "/careers")) > 0),
        flag(student),
        flag(lead.lead_source == "Referral"),
        flag(count("chat_started", i64::MIN, &|_| true) > 0),
    ]
}

/// The planted probability that a lead judged at `judged` converts.
pub fn probability(lead: &SyntheticLead, judged: i64) -> f64 {
    let z: f64 = terms(lead, judged).iter().zip(WEIGHTS).map(|(x, (_, w))| x * w).sum();
    1.0 / (1.0 + (-z).exp())
}

/// Draws a lead's judging time (ms) and outcome from two uniform draws in `[0, 1)`.
pub fn draw(lead: &SyntheticLead, as_of: i64, u_time: f64, u_outcome: f64) -> (i64, bool) {
    let judged = as_of - ((u_time * 56.0 * DAY as f64) as i64) / 1000 * 1000;
    (judged, u_outcome < probability(lead, judged))
}
