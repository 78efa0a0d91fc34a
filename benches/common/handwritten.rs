//! The `b2b-saas` pack (`rules/b2b-saas/main.rules` and `video.rules`) written by hand in
//! Rust over a `serde_json::Value` lead: what a competent engineer would write without the
//! rule language. One pass over the events collects every count the rules need; the rules
//! are then plain `if`s.
//!
//! It keeps the language's semantics so the comparison is honest (a test checks it gives
//! the pack's scores on generated leads): case-insensitive matching, `~` on word
//! boundaries, paths without query string or trailing slash, numeric strings compared as
//! numbers, events after `as_of` ignored, windows `as_of - d <= at <= as_of`, caps, `each`
//! with `max`, and the same errors for malformed events.

use regex::{Regex, RegexBuilder};
use serde_json::Value;

const DAY: i64 = 86_400_000;

/// The pack's rules, in file order.
pub const RULES: [&str; 13] = [
    "title ~ VP and visited /pricing",
    "Senior title",
    "ICP company",
    "Demo request",
    "Pricing urgency",
    "Case study",
    "Engaged reader",
    "Blog reader",
    "Job seeker",
    "Student",
    "Pricing page",
    "Webinar",
    "Demo video",
];

/// The hand-written pack: its one regex compiled once.
pub struct Handwritten {
    c_level: Regex,
}

/// What the hand-written pack says about a lead: the same facts as the pack's `Outcome`.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct HandOutcome {
    pub score: f64,
    pub mql: bool,
    pub disqualified: Option<&'static str>,
    pub route: Option<&'static str>,
    pub tags: Vec<&'static str>,
    pub fit: f64,
    pub intent: f64,
    /// Rules that fired, in file order, with the points each gave.
    pub fired: Vec<(&'static str, f64)>,
}

/// The facts both baselines and the pack report, in one comparable shape.
#[derive(Clone, Debug, PartialEq)]
pub struct Summary {
    pub score: f64,
    pub mql: bool,
    pub disqualified: Option<String>,
    pub route: Option<String>,
    pub tags: Vec<String>,
    pub fit: f64,
    pub intent: f64,
    pub fired: Vec<(String, f64)>,
}

impl HandOutcome {
    pub fn summary(&self) -> Summary {
        Summary {
            score: self.score,
            mql: self.mql,
            disqualified: self.disqualified.map(str::to_string),
            route: self.route.map(str::to_string),
            tags: self.tags.iter().map(|t| t.to_string()).collect(),
            fit: self.fit,
            intent: self.intent,
            fired: self.fired.iter().map(|(n, p)| (n.to_string(), *p)).collect(),
        }
    }
}

/// Everything the rules read from the events, collected in one pass.
#[derive(Default)]
struct Counts {
    pricing: u32,
    pricing_2d: u32,
    blog_30d: u32,
    careers: u32,
    demo_request: u32,
    case_study_90d: u32,
    opens_30d: u32,
    webinar_60d: u32,
    demo_video_30d: u32,
}

impl Default for Handwritten {
    fn default() -> Self {
        Self::new()
    }
}

impl Handwritten {
    pub fn new() -> Handwritten {
        let c_level = RegexBuilder::new(r"\bc[eft]o\b").case_insensitive(true).build();
        Handwritten {
            c_level: c_level.unwrap_or_else(|e| unreachable!("a valid regex: {e}")),
        }
    }

    /// Scores a lead as of `as_of` (milliseconds since the epoch).
    pub fn score(&self, lead: &Value, as_of: i64) -> Result<HandOutcome, String> {
        let Value::Object(obj) = lead else {
            return Err("a lead must be a JSON object".into());
        };
        let title = obj.get("title").and_then(Value::as_str);
        let email = obj.get("email").and_then(Value::as_str);
        let industry = obj.get("industry").and_then(Value::as_str);
        let region = obj.get("region").and_then(Value::as_str);
        let size = obj
            .get("company")
            .and_then(|c| c.get("size"))
            .or_else(|| obj.get("company.size"))
            .and_then(number);
        let c = match obj.get("events") {
            None | Some(Value::Null) => Counts::default(),
            Some(Value::Array(events)) => count_events(events, as_of)?,
            Some(_) => return Err("`events` must be an array of events".into()),
        };

        let vp = title.is_some_and(|t| has_word(t, "vp"));
        let senior = vp || title.is_some_and(|t| has_word(t, "vice president") || self.c_level.is_match(t));
        let icp = size.is_some_and(|s| s >= 50.0)
            && industry.is_some_and(|i| {
                ["saas", "software", "fintech"]
                    .iter()
                    .any(|x| i.eq_ignore_ascii_case(x))
            });

        let mut out = HandOutcome {
            fired: Vec::with_capacity(16),
            ..HandOutcome::default()
        };
        let (mut loose, mut fit, mut intent) = (0.0f64, 0.0f64, 0.0f64);
        let fire = |out: &mut HandOutcome, name: &'static str, points: f64| out.fired.push((name, points));
        if vp && c.pricing > 0 {
            loose += 20.0;
            fire(&mut out, "title ~ VP and visited /pricing", 20.0);
        }
        if senior {
            fit += 15.0;
            fire(&mut out, "Senior title", 15.0);
        }
        if icp {
            fit += 10.0;
            fire(&mut out, "ICP company", 10.0);
        }
        if c.demo_request > 0 {
            intent += 40.0;
            fire(&mut out, "Demo request", 40.0);
        }
        if c.pricing_2d >= 3 {
            intent += 15.0;
            fire(&mut out, "Pricing urgency", 15.0);
        }
        if c.case_study_90d > 0 {
            intent += 10.0;
            fire(&mut out, "Case study", 10.0);
        }
        if c.opens_30d >= 5 {
            intent += 5.0;
            fire(&mut out, "Engaged reader", 5.0);
        }
        if c.blog_30d > 0 {
            let points = (2.0 * f64::from(c.blog_30d)).min(10.0);
            intent += points;
            fire(&mut out, "Blog reader", points);
        }
        if c.careers > 0 {
            loose -= 30.0;
            fire(&mut out, "Job seeker", -30.0);
        }
        if title.is_some_and(|t| has_word(t, "student")) || email.is_some_and(|e| ends_with_ignore_case(e, ".edu")) {
            out.disqualified = Some("student");
            fire(&mut out, "Student", 0.0);
        }
        if c.pricing > 0 {
            out.tags.push("pricing");
            fire(&mut out, "Pricing page", 0.0);
        }
        if c.webinar_60d > 0 {
            intent += 10.0;
            out.tags.push("webinar");
            fire(&mut out, "Webinar", 10.0);
        }
        if c.demo_video_30d > 0 {
            intent += 30.0;
            fire(&mut out, "Demo video", 30.0);
        }

        out.fit = fit.min(40.0);
        out.intent = intent.min(80.0);
        out.score = out.fit + out.intent + loose;
        out.mql = out.score >= 75.0 && out.disqualified.is_none();
        if out.mql {
            let east = region.is_some_and(|r| ["NY", "NJ", "MA", "CT", "PA"].iter().any(|x| r.eq_ignore_ascii_case(x)));
            out.route = Some(if east { "east-coast-ae" } else { "sdr-queue" });
        }
        Ok(out)
    }
}

/// One pass over the events, counting what each rule needs.
fn count_events(events: &[Value], as_of: i64) -> Result<Counts, String> {
    let mut c = Counts::default();
    for (index, event) in events.iter().enumerate() {
        let Value::Object(event) = event else {
            return Err(format!("events[{index}] not an object"));
        };
        let Some(kind) = event.get("type").and_then(Value::as_str) else {
            return Err(format!("events[{index}] has no `type` string"));
        };
        if !matches!(
            kind,
            "page_view" | "form_submit" | "download" | "email_open" | "webinar" | "video_play"
        ) {
            continue;
        }
        let Some(at) = event.get("at").and_then(Value::as_str) else {
            return Err(format!("events[{index}] has no `at` time"));
        };
        let Ok(at) = chrono::DateTime::parse_from_rfc3339(at.trim()) else {
            return Err(format!("events[{index}] `at` is not an RFC 3339 time: {at:?}"));
        };
        let at = at.timestamp_millis();
        if at > as_of {
            continue;
        }
        let age = as_of - at;
        let text = |key: &str| event.get(key).and_then(Value::as_str);
        match kind {
            "page_view" => {
                let Some(path) = text("path").map(normalize_path) else {
                    continue;
                };
                if path.eq_ignore_ascii_case("/pricing") {
                    c.pricing += 1;
                    c.pricing_2d += u32::from(age <= 2 * DAY);
                } else if starts_with_ignore_case(path, "/blog/") {
                    c.blog_30d += u32::from(age <= 30 * DAY);
                }
                c.careers += u32::from(starts_with_ignore_case(path, "/careers"));
            }
            "form_submit" => {
                c.demo_request += u32::from(text("form").is_some_and(|f| f.eq_ignore_ascii_case("demo-request")))
            }
            "download" => {
                let case_study = text("asset").is_some_and(|a| starts_with_ignore_case(a, "case-study"));
                c.case_study_90d += u32::from(case_study && age <= 90 * DAY);
            }
            "email_open" => c.opens_30d += u32::from(age <= 30 * DAY),
            "webinar" => c.webinar_60d += u32::from(age <= 60 * DAY),
            _ => {
                let demo = text("video").is_some_and(|v| has_word(v, "demo"));
                let watched = event.get("percent").and_then(number).is_some_and(|p| p >= 50.0);
                c.demo_video_30d += u32::from(demo && watched && age <= 30 * DAY);
            }
        }
    }
    Ok(c)
}

/// A number, or a string holding one.
fn number(v: &Value) -> Option<f64> {
    match v {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok().filter(|n: &f64| n.is_finite()),
        _ => None,
    }
}

/// A path without `?query`, `#fragment` and trailing `/`.
fn normalize_path(path: &str) -> &str {
    let path = &path[..path.find(['?', '#']).unwrap_or(path.len())];
    if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    }
}

fn starts_with_ignore_case(text: &str, prefix: &str) -> bool {
    text.len() >= prefix.len() && text.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
}

fn ends_with_ignore_case(text: &str, suffix: &str) -> bool {
    text.len() >= suffix.len() && text.as_bytes()[text.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
}

/// `needle` (lower-case ASCII) in `text` with a word boundary on both sides.
fn has_word(text: &str, needle: &str) -> bool {
    let (hay, needle) = (text.as_bytes(), needle.as_bytes());
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    hay.len() >= needle.len()
        && (0..=hay.len() - needle.len()).any(|i| {
            hay[i..i + needle.len()].eq_ignore_ascii_case(needle)
                && (i == 0 || !is_word(hay[i - 1]))
                && hay.get(i + needle.len()).is_none_or(|&b| !is_word(b))
        })
}
