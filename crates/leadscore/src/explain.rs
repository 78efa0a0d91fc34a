//! The readable explanation of a result ([`Outcome`]).

use std::fmt;

use crate::eval::{Fired, Outcome};

use crate::value::show_number as num;

/// A readable breakdown of an [`Outcome`]: each rule that fired with its points, the
/// dimensions and caps, the MQL condition and the route.
pub struct Explanation<'a> {
    pub(crate) outcome: &'a Outcome,
    /// The MQL condition's text, if the pack has one.
    pub(crate) mql_rule: Option<&'a str>,
    /// The program that produced the outcome: what each fired rule tags or disqualifies
    /// is read from it (an outcome lists points, not those).
    pub(crate) program: &'a crate::Program,
}

impl fmt::Display for Explanation<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = self.outcome;
        let verdict = match (o.disqualified(), o.mql) {
            (Some(reason), _) => format!("disqualified ({reason})"),
            (None, true) => "MQL".to_string(),
            (None, false) => "not an MQL".to_string(),
        };
        writeln!(f, "score {} — {verdict}", num(o.score))?;
        if let Some(p) = o.probability {
            writeln!(f, "  chance of converting {:.1}% (the pack's calibration)", 100.0 * p)?;
        }
        for e in &o.enriched {
            let fields: Vec<String> = e.fields.iter().map(|(k, v)| format!("{k} = {v}")).collect();
            writeln!(f, "  enriched by {}: {}", e.plugin, fields.join(", "))?;
        }
        let rule_width = o
            .fired()
            .map(|r| r.rule().chars().count())
            .max()
            .unwrap_or(0)
            .clamp(4, 48);
        let dim_width = o
            .fired()
            .filter_map(|r| r.dimension())
            .map(|d| d.len())
            .max()
            .unwrap_or(0)
            .max(9);
        let points: Vec<String> = o.fired().map(|r| points_text(&r)).collect();
        let points_width = points.iter().map(|p| p.chars().count()).max().unwrap_or(0).max(7);
        if o.fired().len() == 0 {
            writeln!(f, "  no rule fired")?;
        } else {
            writeln!(
                f,
                "  {:<rule_width$}  {:>points_width$}  {:<dim_width$}  location",
                "rule", "points", "dimension"
            )?;
        }
        for (r, points) in o.fired().zip(&points) {
            let dim = r.dimension().unwrap_or("-");
            write!(
                f,
                "  {:<rule_width$}  {points:>points_width$}  {dim:<dim_width$}  {}",
                truncate(r.rule(), rule_width),
                r.location()
            )?;
            if let Some(d) = r.decay() {
                write!(f, "  (decayed ×{d})")?;
            }
            if let Some(marks) = self.program.marks(r.index(), r.location()) {
                write!(f, "  {marks}")?;
            }
            writeln!(f)?;
        }
        if o.dimensions().len() > 0 {
            let dims: Vec<String> = o
                .dimensions()
                .map(|(name, v)| match o.capped.iter().find(|c| c.dimension == name) {
                    Some(c) => format!("{name} {} (capped from {})", num(v), num(c.total)),
                    None => format!("{name} {}", num(v)),
                })
                .collect();
            writeln!(f, "  dimensions: {}", dims.join(", "))?;
        }
        match self.mql_rule {
            Some(rule) => writeln!(f, "  mql when: {rule}")?,
            None => writeln!(f, "  mql when: (the pack sets no threshold)")?,
        }
        if o.tags().len() > 0 {
            writeln!(f, "  tags: {}", o.tags().collect::<Vec<_>>().join(", "))?;
        }
        if let Some(route) = o.route() {
            writeln!(f, "  route: {route}")?;
        }
        Ok(())
    }
}

/// `+15`, `-30`, `+10 (7×)` for `each` rules, and nothing for a rule that only tags or
/// disqualifies (it gives no points; "+0" would suggest it gave some).
fn points_text(r: &Fired) -> String {
    if r.points() == 0.0 && r.dimension().is_none() && r.count().is_none() {
        return String::new();
    }
    match r.count() {
        Some(n) => format!("{} ({n}×)", signed(r.points())),
        None => signed(r.points()),
    }
}

fn signed(x: f64) -> String {
    if x >= 0.0 {
        format!("+{}", num(x))
    } else {
        num(x)
    }
}

fn truncate(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(width.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}
