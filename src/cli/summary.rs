//! The summary `leadscore stats` and `score --summary` print: what an ops person checks after changing a
//! rule — how many leads became MQLs, who was disqualified and why, how scores spread,
//! which rules fire most, and where MQLs are routed.

use std::collections::{BTreeMap, HashMap};
use std::fmt;

/// Score buckets: `< 0`, then tens from 0 to 100, then `100+`.
const BUCKETS: usize = 12;

/// Rules listed under "top rules".
const TOP_RULES: usize = 10;

/// The widest histogram bar.
const BAR: u64 = 40;

/// Counts over a batch of results.
#[derive(Default)]
pub struct Stats {
    scored: u64,
    failed: u64,
    mqls: u64,
    disqualified: BTreeMap<String, u64>,
    buckets: [u64; BUCKETS],
    rules: HashMap<String, u64>,
    routes: BTreeMap<String, u64>,
}

impl Stats {
    /// Counts one result.
    pub fn add(&mut self, o: &leadscore::Outcome) {
        self.scored += 1;
        self.mqls += u64::from(o.mql);
        if let Some(reason) = o.disqualified() {
            *self.disqualified.entry(reason.to_string()).or_default() += 1;
        }
        self.buckets[bucket(o.score)] += 1;
        for f in o.fired() {
            *self.rules.entry(f.rule().to_string()).or_default() += 1;
        }
        if let Some(route) = o.route() {
            *self.routes.entry(route.to_string()).or_default() += 1;
        }
    }

    /// Counts a lead that could not be scored.
    pub fn fail(&mut self) {
        self.failed += 1;
    }
}

fn bucket(score: f64) -> usize {
    if score < 0.0 {
        0
    } else {
        ((score / 10.0).floor() as usize + 1).min(BUCKETS - 1)
    }
}

fn bucket_label(i: usize) -> String {
    match i {
        0 => "< 0".to_string(),
        i if i == BUCKETS - 1 => "100+".to_string(),
        i => format!("{}–{}", (i - 1) * 10, i * 10),
    }
}

impl fmt::Display for Stats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rate = if self.scored == 0 {
            0.0
        } else {
            100.0 * self.mqls as f64 / self.scored as f64
        };
        let disqualified: u64 = self.disqualified.values().sum();
        writeln!(f, "scored        {}", self.scored)?;
        writeln!(f, "failed        {}", self.failed)?;
        writeln!(f, "MQLs          {} ({rate:.1}%)", self.mqls)?;
        writeln!(f, "disqualified  {disqualified}")?;
        for (reason, n) in &self.disqualified {
            writeln!(f, "  {n:>6}  {reason}")?;
        }
        writeln!(
            f,
            "score distribution (each bucket from its first number up to its second)"
        )?;
        let most = self.buckets.iter().copied().max().unwrap_or(0).max(1);
        for (i, &n) in self.buckets.iter().enumerate() {
            let width = (n * BAR).div_ceil(most) as usize;
            let line = format!("  {:>7}  {:>6}  {}", bucket_label(i), n, "█".repeat(width));
            writeln!(f, "{}", line.trim_end())?;
        }
        let mut rules: Vec<(&String, &u64)> = self.rules.iter().collect();
        rules.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        writeln!(f, "top rules (leads they fired for)")?;
        if rules.is_empty() {
            writeln!(f, "  none fired")?;
        }
        for (rule, n) in rules.into_iter().take(TOP_RULES) {
            writeln!(f, "  {n:>6}  {rule}")?;
        }
        writeln!(f, "routes (MQLs per queue)")?;
        if self.routes.is_empty() {
            writeln!(f, "  none")?;
        }
        for (route, n) in &self.routes {
            writeln!(f, "  {n:>6}  {route}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets() {
        assert_eq!(bucket(-5.0), 0);
        assert_eq!(bucket(0.0), 1);
        assert_eq!(bucket(9.99), 1);
        assert_eq!(bucket(10.0), 2);
        assert_eq!(bucket(99.0), 10);
        assert_eq!(bucket(100.0), 11);
        assert_eq!(bucket(1e9), 11);
        assert_eq!(bucket_label(1), "0–10");
    }
}
