//! Synthetic leads for demos, load tests and benchmarks: realistic, and the same for the
//! same seed on every machine.
//!
//! A lead gets a persona (evaluating buyer, casual reader, job seeker, student, ...) that
//! shapes both who it is (title, company, email) and what it did (its events), so a pack
//! scores the generated leads over its whole range, not just at zero.

pub mod planted;

use chrono::{DateTime, Utc};
use serde::Serialize;

/// The `as_of` generated leads are spread before unless told otherwise: 2026-03-01T00:00:00Z,
/// the time the example packs' sample leads are scored as of.
pub const DEFAULT_AS_OF_MILLIS: i64 = 1_772_323_200_000;

/// How far back events go: 120 days.
const HISTORY_MILLIS: i64 = 120 * 86_400_000;

/// A deterministic stream of synthetic leads.
///
/// ```
/// let mut gen = leadscore::gen::Generator::new(7).events_per_lead(5);
/// let lead = gen.next_lead();
/// assert_eq!(lead.events.len(), 5);
/// // The same seed gives the same leads.
/// assert_eq!(lead, leadscore::gen::Generator::new(7).events_per_lead(5).next_lead());
/// ```
#[derive(Clone, Debug)]
pub struct Generator {
    rng: SplitMix64,
    as_of: i64,
    events: usize,
    next_id: u64,
    /// With outcomes: the random stream their draws come from (see `planted`).
    outcomes: Option<SplitMix64>,
}

/// One generated lead. Serializes to the JSON shape `leadscore score` reads.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyntheticLead {
    /// `L-000001`, `L-000002`, ...
    pub id: String,
    /// First name.
    pub first_name: &'static str,
    /// Last name.
    pub last_name: &'static str,
    /// Job title, as people type it (`VP Marketing`, `vp, sales`, `Student`, ...).
    pub title: &'static str,
    /// Work, free-mail or `.edu` address.
    pub email: String,
    /// The lead's company.
    pub company: Company,
    /// Industry, in the case CRMs store it.
    pub industry: &'static str,
    /// US state or other region code.
    pub region: &'static str,
    /// Country code.
    pub country: &'static str,
    /// Where the lead came from.
    #[serde(rename = "Lead Source")]
    pub lead_source: &'static str,
    /// What the lead did, oldest first.
    pub events: Vec<SyntheticEvent>,
    /// With outcomes: when the lead was judged (handed to sales), RFC 3339.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub judged_at: Option<String>,
    /// With outcomes: whether it converted, drawn from the planted model.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub converted: Option<bool>,
}

/// A generated lead's company.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Company {
    /// Company name.
    pub name: &'static str,
    /// Employees: a number, or (as CSV-fed CRMs store it) a numeric string.
    pub size: serde_json::Value,
}

/// One generated event. Only the properties its type has are set.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SyntheticEvent {
    /// `page_view`, `form_submit`, `download`, `email_open`, `email_click`, `webinar`,
    /// `video_play` or `chat_started`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// RFC 3339 time.
    pub at: String,
    /// Page path (`page_view`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// Form name (`form_submit`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub form: Option<&'static str>,
    /// Asset file (`download`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<&'static str>,
    /// Campaign (`email_open`, `email_click`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<&'static str>,
    /// Webinar name (`webinar`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<&'static str>,
    /// Video title (`video_play`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub video: Option<&'static str>,
    /// How much of the video was watched, 0-100 (`video_play`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub percent: Option<u32>,
    #[serde(skip)]
    millis: i64,
}

/// Who a lead is; shapes its fields and its behaviour.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Persona {
    /// A senior buyer comparing vendors: pricing, demo requests, case studies.
    Buyer,
    /// Someone on a team that is evaluating: docs, webinars, some pricing.
    Evaluator,
    /// Reads the blog and opens newsletters.
    Reader,
    /// Looks at the careers pages.
    JobSeeker,
    /// A student doing research.
    Student,
}

impl Generator {
    /// A generator with 20 events per lead, spread over the 120 days before
    /// [`DEFAULT_AS_OF_MILLIS`].
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: SplitMix64(seed),
            as_of: DEFAULT_AS_OF_MILLIS,
            events: 20,
            next_id: 1,
            outcomes: None,
        }
    }

    /// Also gives each lead a `judged_at` time and a `converted` outcome drawn from the
    /// planted model documented in [`planted`]; the leads are otherwise
    /// the same.
    ///
    /// ```
    /// let lead = leadscore::gen::Generator::new(7).outcomes(7).next_lead();
    /// assert!(lead.converted.is_some() && lead.judged_at.is_some());
    /// assert_eq!(lead.events, leadscore::gen::Generator::new(7).next_lead().events);
    /// ```
    pub fn outcomes(mut self, seed: u64) -> Generator {
        self.outcomes = Some(SplitMix64(seed ^ 0x6f75_7463_6f6d_6573));
        self
    }

    /// Exactly `n` events per lead.
    pub fn events_per_lead(mut self, n: usize) -> Generator {
        self.events = n;
        self
    }

    /// Spreads events over the 120 days before `as_of` instead.
    ///
    /// ```
    /// let as_of = leadscore::parse_time("2025-01-01T00:00:00Z").unwrap();
    /// let lead = leadscore::gen::Generator::new(1).as_of(as_of).next_lead();
    /// assert!(lead.events.iter().all(|e| e.at.as_str() <= "2025-01-01T00:00:00Z"));
    /// ```
    pub fn as_of(mut self, as_of: DateTime<Utc>) -> Generator {
        self.as_of = as_of.timestamp_millis();
        self
    }

    /// The next lead.
    pub fn next_lead(&mut self) -> SyntheticLead {
        let id = format!("L-{:06}", self.next_id);
        self.next_id += 1;
        let persona = self.persona();
        let (first_name, last_name) = (self.pick(FIRST_NAMES), self.pick(LAST_NAMES));
        let title = self.title(persona);
        let company = self.pick(COMPANIES);
        let email = self.email(persona, first_name, last_name, company.1);
        let size = self.company_size();
        let mut events: Vec<SyntheticEvent> = (0..self.events).map(|_| self.event(persona)).collect();
        events.sort_by_key(|e| e.millis);
        let mut lead = SyntheticLead {
            id,
            first_name,
            last_name,
            title,
            email,
            company: Company { name: company.0, size },
            industry: self.pick(INDUSTRIES),
            region: self.pick(REGIONS),
            country: "US",
            lead_source: self.pick(SOURCES),
            events,
            judged_at: None,
            converted: None,
        };
        if let Some(rng) = &mut self.outcomes {
            let (u_time, u_outcome) = (rng.unit(), rng.unit());
            let (judged, converted) = planted::draw(&lead, self.as_of, u_time, u_outcome);
            lead.judged_at = Some(show_time(judged));
            lead.converted = Some(converted);
        }
        lead
    }

    fn persona(&mut self) -> Persona {
        match self.rng.below(100) {
            0..=14 => Persona::Buyer,
            15..=39 => Persona::Evaluator,
            40..=84 => Persona::Reader,
            85..=93 => Persona::JobSeeker,
            _ => Persona::Student,
        }
    }

    fn title(&mut self, persona: Persona) -> &'static str {
        match persona {
            Persona::Buyer => self.pick(SENIOR_TITLES),
            Persona::Student => self.pick(STUDENT_TITLES),
            Persona::Evaluator | Persona::Reader | Persona::JobSeeker => self.pick(OTHER_TITLES),
        }
    }

    fn email(&mut self, persona: Persona, first: &str, last: &str, domain: &str) -> String {
        let (first, last) = (first.to_lowercase(), last.to_lowercase());
        let domain = match (persona, self.rng.below(100)) {
            (Persona::Student, 0..=69) => self.pick(EDU_DOMAINS),
            (Persona::JobSeeker, 0..=79) | (Persona::Student, _) | (_, 0..=11) => self.pick(FREE_DOMAINS),
            _ => domain,
        };
        match self.rng.below(3) {
            0 => format!("{first}.{last}@{domain}"),
            1 => format!("{}{last}@{domain}", first.get(..1).unwrap_or("")),
            _ => format!("{first}@{domain}"),
        }
    }

    /// Log-uniform from 1 to ~20,000 employees; one in five as a string.
    fn company_size(&mut self) -> serde_json::Value {
        let size = 10f64.powf(self.rng.unit() * 4.3).round() as u64;
        if self.rng.below(5) == 0 {
            serde_json::Value::from(size.to_string())
        } else {
            serde_json::Value::from(size)
        }
    }

    fn event(&mut self, persona: Persona) -> SyntheticEvent {
        let kind = self.event_kind(persona);
        let millis = self.event_time(persona);
        let mut event = SyntheticEvent {
            kind,
            at: show_time(millis),
            path: None,
            form: None,
            asset: None,
            campaign: None,
            name: None,
            video: None,
            percent: None,
            millis,
        };
        match kind {
            "page_view" => event.path = Some(self.path(persona)),
            "form_submit" => event.form = Some(self.form(persona)),
            "download" => event.asset = Some(self.pick(ASSETS)),
            "email_open" | "email_click" => event.campaign = Some(self.pick(CAMPAIGNS)),
            "webinar" => event.name = Some(self.pick(WEBINARS)),
            "video_play" => {
                event.video = Some(self.pick(VIDEOS));
                event.percent = Some(self.rng.below(101) as u32);
            }
            _ => {}
        }
        event
    }

    fn event_kind(&mut self, persona: Persona) -> &'static str {
        let weights: &[(&'static str, u64)] = match persona {
            Persona::Buyer => &BUYER_EVENTS,
            Persona::Evaluator => &EVALUATOR_EVENTS,
            Persona::Reader | Persona::Student => &READER_EVENTS,
            Persona::JobSeeker => &JOB_SEEKER_EVENTS,
        };
        self.weighted(weights)
    }

    /// Recent-heavy for buyers (they are in a buying cycle), uniform for everyone else.
    fn event_time(&mut self, persona: Persona) -> i64 {
        let u = self.rng.unit();
        let age = match persona {
            Persona::Buyer => u * u * u,
            _ => u,
        };
        // Whole seconds: exports rarely carry milliseconds.
        let ms = (age * HISTORY_MILLIS as f64) as i64;
        self.as_of - ms / 1000 * 1000
    }

    fn path(&mut self, persona: Persona) -> String {
        let section = match persona {
            Persona::JobSeeker if self.rng.below(2) == 0 => "careers",
            Persona::Buyer if self.rng.below(3) == 0 => "pricing",
            _ => self.weighted(&PAGE_SECTIONS),
        };
        match section {
            "pricing" => self.pick(PRICING_PATHS).to_string(),
            "blog" => format!("/blog/{}", self.pick(BLOG_POSTS)),
            "careers" => self.pick(CAREERS_PATHS).to_string(),
            "docs" => format!("/docs/{}", self.pick(DOC_PAGES)),
            _ => self.pick(OTHER_PATHS).to_string(),
        }
    }

    fn form(&mut self, persona: Persona) -> &'static str {
        if persona == Persona::Buyer && self.rng.below(2) == 0 {
            "demo-request"
        } else {
            self.pick(FORMS)
        }
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.rng.below(items.len() as u64) as usize]
    }

    fn weighted(&mut self, items: &[(&'static str, u64)]) -> &'static str {
        let total: u64 = items.iter().map(|(_, w)| w).sum();
        let mut roll = self.rng.below(total);
        for &(item, weight) in items {
            if roll < weight {
                return item;
            }
            roll -= weight;
        }
        items.last().map_or("page_view", |(item, _)| item)
    }
}

impl Iterator for Generator {
    type Item = SyntheticLead;

    /// Never ends: take as many leads as you need.
    fn next(&mut self) -> Option<SyntheticLead> {
        Some(self.next_lead())
    }
}

/// The column names of [`SyntheticLead::csv_record`].
pub const CSV_HEADER: [&str; 16] = [
    "id",
    "first_name",
    "last_name",
    "title",
    "email",
    "company.name",
    "company.size",
    "industry",
    "region",
    "country",
    "Lead Source",
    "TotalVisits",
    "pricing_visits",
    "downloads",
    "email_opens",
    "last_activity",
];

impl SyntheticLead {
    /// The lead as a flat CSV row (see [`CSV_HEADER`]): a CRM export has no event history,
    /// so events are summarised as counts and the time of the last one.
    ///
    /// ```
    /// let lead = leadscore::gen::Generator::new(3).next_lead();
    /// let row = lead.csv_record();
    /// assert_eq!(row.len(), leadscore::gen::CSV_HEADER.len());
    /// assert_eq!(row[0], "L-000001");
    /// ```
    pub fn csv_record(&self) -> Vec<String> {
        let count = |pred: &dyn Fn(&SyntheticEvent) -> bool| self.events.iter().filter(|e| pred(e)).count().to_string();
        let size = match &self.company.size {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        vec![
            self.id.clone(),
            self.first_name.to_string(),
            self.last_name.to_string(),
            self.title.to_string(),
            self.email.clone(),
            self.company.name.to_string(),
            size,
            self.industry.to_string(),
            self.region.to_string(),
            self.country.to_string(),
            self.lead_source.to_string(),
            count(&|e| e.kind == "page_view"),
            count(&|e| e.path.as_deref().is_some_and(|p| p.starts_with("/pricing"))),
            count(&|e| e.kind == "download"),
            count(&|e| e.kind == "email_open"),
            self.events.last().map_or_else(String::new, |e| e.at.clone()),
        ]
    }
}

impl SyntheticEvent {
    /// Its time in milliseconds since the epoch.
    pub fn millis(&self) -> i64 {
        self.millis
    }
}

/// RFC 3339 in UTC with a `Z`, the way event exports write it.
fn show_time(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(
        || ms.to_string(),
        |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
    )
}

/// SplitMix64 (Steele, Lea and Flood 2014): tiny, fast, and plenty for synthetic data.
#[derive(Clone, Debug)]
struct SplitMix64(u64);

impl SplitMix64 {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`); the modulo bias is far below what synthetic data notices.
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
}

const FIRST_NAMES: &[&str] = &[
    "Ana", "Ben", "Chloe", "Dev", "Elena", "Farid", "Grace", "Hiro", "Ines", "Jamal", "Kira", "Liam", "Maya", "Noah",
    "Olga", "Priya", "Quinn", "Ravi", "Sofia", "Tom", "Uma", "Victor", "Wen", "Yusuf", "Zoe",
];

const LAST_NAMES: &[&str] = &[
    "Adams", "Baker", "Chen", "Diaz", "Evans", "Fischer", "Garcia", "Hughes", "Ito", "Jones", "Kowalski", "Lopez",
    "Murphy", "Nguyen", "Okafor", "Patel", "Rossi", "Smith", "Tanaka", "Weber",
];

const SENIOR_TITLES: &[&str] = &[
    "VP Marketing",
    "VP of Sales",
    "vp, revenue operations",
    "Vice President, Growth",
    "CEO",
    "Founder & CEO",
    "CFO",
    "CTO",
    "Chief Marketing Officer",
    "SVP Sales",
    "Director of Marketing",
    "Head of Demand Generation",
];

const OTHER_TITLES: &[&str] = &[
    "Marketing Manager",
    "Marketing Operations Manager",
    "Demand Gen Specialist",
    "Software Engineer",
    "Senior Software Engineer",
    "Data Analyst",
    "Account Executive",
    "Sales Development Rep",
    "Product Manager",
    "Customer Success Manager",
    "Consultant",
    "Office Manager",
    "Recruiter",
    "Controller",
];

const STUDENT_TITLES: &[&str] = &[
    "Student",
    "Graduate Student",
    "MBA student",
    "Intern",
    "Research Assistant",
];

/// (company name, its web domain)
const COMPANIES: &[(&str, &str)] = &[
    ("Acme Corp", "acme.com"),
    ("Globex", "globex.com"),
    ("Initech", "initech.com"),
    ("Umbrella Health", "umbrella-health.com"),
    ("Stark Fintech", "starkfin.io"),
    ("Wayne Logistics", "waynelogistics.com"),
    ("Hooli", "hooli.com"),
    ("Pied Piper", "piedpiper.io"),
    ("Vandelay Industries", "vandelay.com"),
    ("Soylent Foods", "soylent.co"),
    ("Cyberdyne Systems", "cyberdyne.ai"),
    ("Tyrell Software", "tyrell.dev"),
    ("Massive Dynamic", "massivedynamic.com"),
    ("Oscorp Retail", "oscorp.shop"),
    ("Bluth Agency", "bluth.agency"),
];

const FREE_DOMAINS: &[&str] = &[
    "gmail.com",
    "yahoo.com",
    "outlook.com",
    "hotmail.com",
    "icloud.com",
    "proton.me",
];

const EDU_DOMAINS: &[&str] = &["mit.edu", "stanford.edu", "umich.edu", "nyu.edu", "utexas.edu"];

const INDUSTRIES: &[&str] = &[
    "SaaS",
    "saas",
    "Software",
    "Fintech",
    "FinTech",
    "Healthcare",
    "Retail",
    "Manufacturing",
    "Education",
    "Marketing Agency",
    "Media",
    "Logistics",
    "Government",
];

const REGIONS: &[&str] = &[
    "NY", "NJ", "MA", "CT", "PA", "CA", "CA", "TX", "WA", "IL", "FL", "GA", "CO", "OR", "NC", "VA", "MN", "AZ",
];

const SOURCES: &[&str] = &[
    "Google",
    "LinkedIn",
    "Organic Search",
    "Referral",
    "Event",
    "Direct",
    "Partner",
];

const BUYER_EVENTS: [(&str, u64); 8] = [
    ("page_view", 50),
    ("form_submit", 8),
    ("download", 8),
    ("email_open", 14),
    ("email_click", 5),
    ("webinar", 4),
    ("video_play", 8),
    ("chat_started", 3),
];

const EVALUATOR_EVENTS: [(&str, u64); 8] = [
    ("page_view", 55),
    ("form_submit", 4),
    ("download", 7),
    ("email_open", 16),
    ("email_click", 5),
    ("webinar", 5),
    ("video_play", 6),
    ("chat_started", 2),
];

const READER_EVENTS: [(&str, u64); 7] = [
    ("page_view", 55),
    ("form_submit", 2),
    ("download", 5),
    ("email_open", 28),
    ("email_click", 5),
    ("webinar", 2),
    ("video_play", 3),
];

const JOB_SEEKER_EVENTS: [(&str, u64); 4] = [
    ("page_view", 80),
    ("form_submit", 5),
    ("email_open", 10),
    ("video_play", 5),
];

const PAGE_SECTIONS: [(&str, u64); 5] = [
    ("pricing", 10),
    ("blog", 35),
    ("careers", 1),
    ("docs", 16),
    ("other", 35),
];

const PRICING_PATHS: &[&str] = &[
    "/pricing",
    "/pricing",
    "/pricing/",
    "/pricing?plan=pro",
    "/Pricing",
    "/pricing#enterprise",
];

const BLOG_POSTS: &[&str] = &[
    "lead-scoring-101",
    "mql-vs-sql",
    "intent-data",
    "abm-playbook",
    "pipeline-velocity",
    "revops-metrics",
    "2026-benchmarks",
    "customer-story-globex",
];

const CAREERS_PATHS: &[&str] = &[
    "/careers",
    "/careers/",
    "/careers/engineering",
    "/careers/sales-development",
    "/careers?team=marketing",
];

const DOC_PAGES: &[&str] = &[
    "getting-started",
    "api",
    "integrations/salesforce",
    "integrations/hubspot",
    "security",
    "sso",
];

const OTHER_PATHS: &[&str] = &[
    "/",
    "/",
    "/product",
    "/product/analytics",
    "/integrations",
    "/customers",
    "/about",
    "/contact",
    "/security",
    "/compare/competitor-x",
];

const FORMS: &[&str] = &[
    "demo-request",
    "contact-us",
    "newsletter-signup",
    "trial-signup",
    "webinar-registration",
    "ebook-gate",
];

const ASSETS: &[&str] = &[
    "case-study-acme.pdf",
    "case-study-globex.pdf",
    "Case-Study-Initech.pdf",
    "whitepaper-lead-scoring.pdf",
    "ebook-revops-guide.pdf",
    "datasheet-platform.pdf",
    "roi-calculator.xlsx",
];

const CAMPAIGNS: &[&str] = &[
    "nurture-q1",
    "product-update-feb",
    "newsletter-jan",
    "newsletter-feb",
    "webinar-invite",
    "event-followup",
];

const WEBINARS: &[&str] = &[
    "pricing-strategy",
    "scoring-workshop",
    "product-tour-live",
    "customer-panel",
];

const VIDEOS: &[&str] = &[
    "Product demo",
    "Demo: reporting in 5 minutes",
    "Customer story: Globex",
    "Founder keynote",
    "How scoring works",
];
