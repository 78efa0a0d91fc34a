//! Generated rule packs of any size, for `compile/N` and `eval/rules-N`.
//!
//! A big real pack is not a thousand different ideas: it is the same few fields (title,
//! company size, industry, region, email) and the same event conditions (pricing visits,
//! demo requests, case-study downloads, email opens, webinars, demo videos) combined with
//! different thresholds, windows and points. These packs are built the same way, from
//! small pools, so rules share fields and behaviours the way real ones do. The same `n`
//! always gives the same text.

use std::fmt::Write;

const WORDS: &[&str] = &[
    "VP",
    "\"vice president\"",
    "director",
    "head",
    "manager",
    "CEO",
    "CFO",
    "CTO",
    "founder",
    "engineer",
    "analyst",
    "student",
];
const INDUSTRY_LISTS: &[&str] = &[
    r#"["saas", "software"]"#,
    r#"["fintech", "banking", "insurance"]"#,
    r#"["healthcare", "biotech"]"#,
    r#"["retail", "ecommerce"]"#,
    r#"["saas", "software", "fintech"]"#,
];
const REGION_LISTS: &[&str] = &[
    r#"["NY", "NJ", "MA", "CT", "PA"]"#,
    r#"["CA", "WA", "OR"]"#,
    r#"["TX", "FL", "GA"]"#,
];
const SIZES: &[u32] = &[10, 50, 200, 1000, 5000];
const PATHS: &[&str] = &[
    "/pricing",
    "/blog/*",
    "/docs/*",
    "/careers*",
    "/product*",
    "/customers",
    "/integrations",
    "/compare/*",
];
const FORMS: &[&str] = &[
    "\"demo-request\"",
    "\"contact-us\"",
    "\"trial-signup\"",
    "\"newsletter-signup\"",
];
const ASSETS: &[&str] = &["\"case-study*\"", "\"whitepaper*\"", "\"ebook*\"", "\"datasheet*\""];
const CAMPAIGNS: &[&str] = &["", " \"nurture-q1\"", " \"newsletter-*\"", " \"webinar-invite\""];
const WINDOWS: &[&str] = &["", " within 7d", " within 30d", " within 90d"];
const COUNTS: &[&str] = &["", " at least 2 times", " at least 3 times"];

/// A pack of `n` rules (plus a header of caps, lets, a threshold and routes) that checks.
pub fn pack(n: usize) -> String {
    let mut rng = SplitMix64(n as u64);
    let mut text = String::from(
        "threshold 75\ncap fit at 40\ncap intent at 80\n\
         let senior = title ~ VP or title ~ \"vice president\" or title ~ /\\bc[eft]o\\b/\n\
         let icp = company.size >= 50 and industry in [\"saas\", \"software\", \"fintech\"]\n\n",
    );
    for i in 0..n {
        let rule = rule(&mut rng);
        let _ = writeln!(text, "rule \"r{i}\": {rule}");
    }
    text.push_str(
        "\nroute \"east-coast-ae\" when region in [\"NY\", \"NJ\", \"MA\", \"CT\", \"PA\"]\nroute \"sdr-queue\"\n",
    );
    text
}

fn rule(rng: &mut SplitMix64) -> String {
    let points = 1 + rng.below(20);
    match rng.below(14) {
        0 => format!("title ~ {} => +{points} fit", rng.pick(WORDS)),
        1 => format!(
            "company.size >= {} and industry in {} => +{points} fit",
            rng.pick(SIZES),
            rng.pick(INDUSTRY_LISTS)
        ),
        2 => format!("region in {} => +{points}", rng.pick(REGION_LISTS)),
        3 => format!("senior and icp => +{points} fit"),
        4 | 5 => format!(
            "visited {}{}{} => +{points} intent",
            rng.pick(PATHS),
            rng.pick(COUNTS),
            rng.pick(WINDOWS)
        ),
        6 => format!("submitted {}{} => +{points} intent", rng.pick(FORMS), rng.pick(WINDOWS)),
        7 => format!(
            "downloaded {}{} => +{points} intent",
            rng.pick(ASSETS),
            rng.pick(WINDOWS)
        ),
        8 => format!(
            "opened email{}{}{} => +{points} intent",
            rng.pick(CAMPAIGNS),
            rng.pick(COUNTS),
            rng.pick(WINDOWS)
        ),
        9 => format!(
            "did video_play where (video ~ demo and percent >= {}){} => +{points} intent",
            25 * (1 + rng.below(3)),
            rng.pick(WINDOWS)
        ),
        10 => format!(
            "title ~ {} and visited {} => +{points}",
            rng.pick(WORDS),
            rng.pick(PATHS)
        ),
        11 => format!(
            "visited {}{} => +1 intent each max {}",
            rng.pick(PATHS),
            rng.pick(WINDOWS),
            2 + rng.below(9)
        ),
        12 => format!("email ends_with \".edu\" or title ~ {} => -{points}", rng.pick(WORDS)),
        _ => format!(
            "attended webinar{} and not visited /careers* => +{points} intent, tag \"webinar\"",
            rng.pick(WINDOWS)
        ),
    }
}

/// SplitMix64: a tiny deterministic generator, so a size always gives the same pack.
struct SplitMix64(u64);

impl SplitMix64 {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        (z ^ (z >> 31)) % n
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}
