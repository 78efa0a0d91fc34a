//! The drift report as one self-contained HTML page: the score bands of baseline and
//! current side by side as an inline SVG chart (with the same numbers as a table, its text
//! equivalent), then the rules and the fields that moved. No script, no network.

use std::fmt::Write;

use super::drift::{band_text, DriftReport, MAJOR, MODERATE};
use super::html::{esc, STYLE};
use super::{num, pct};

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 240.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 40.0;
const TOP: f64 = 14.0;
const RIGHT: f64 = 16.0;

/// The report as an HTML page.
///
/// ```
/// use leadscore_outcomes::drift::{DriftReport, Side};
/// let pack = leadscore::Pack::from_source("demo", "threshold 10\ntitle ~ VP => +10")?;
/// let rules = leadscore_outcomes::Rules::of(&pack);
/// let report = DriftReport::build("demo".into(), &rules, ("a", &Side::default()), ("b", &Side::default()));
/// let page = leadscore_outcomes::drift_html::render(&report);
/// assert!(page.starts_with("<!DOCTYPE html>") && !page.contains("http"));
/// # Ok::<(), leadscore::Error>(())
/// ```
pub fn render(r: &DriftReport) -> String {
    let mut h = String::new();
    let _ = write_page(&mut h, r);
    h
}

fn write_page(h: &mut String, r: &DriftReport) -> std::fmt::Result {
    write!(
        h,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Drift: {}</title><style>{STYLE}</style></head><body>",
        esc(&r.pack)
    )?;
    write!(
        h,
        "<h1>Drift of {}</h1><p class=\"muted\">From {} ({} leads) to {} ({} leads).</p>",
        esc(&r.pack),
        esc(&r.baseline.source),
        r.baseline.leads,
        esc(&r.current.source),
        r.current.leads
    )?;
    h.push_str("<div class=\"summary\">");
    let cards = [
        ("score PSI", format!("{:.3}", r.psi)),
        ("reading", r.shift.to_string()),
        ("MQL rate before", pct(r.baseline.mql_rate)),
        ("MQL rate now", pct(r.current.mql_rate)),
    ];
    for (label, value) in cards {
        write!(
            h,
            "<div class=\"card\"><span class=\"muted\">{label}</span><b>{}</b></div>",
            esc(&value)
        )?;
    }
    h.push_str("</div>");
    write!(
        h,
        "<p>The population stability index compares the share of leads in each score band (cut at the baseline's deciles): below {} stable, {} to {} a moderate shift, above {} a major one.{}</p>",
        num(MODERATE),
        num(MODERATE),
        num(MAJOR),
        num(MAJOR),
        if r.mql_significant { " The MQL rate moved significantly (95%)." } else { "" }
    )?;
    h.push_str("<h2 id=\"bands\">Score bands</h2>");
    h.push_str("<div class=\"legend\"><span><i class=\"sw\" style=\"background:#8c959f\"></i>baseline</span><span><i class=\"sw\" style=\"background:#0969da\"></i>current</span></div>");
    chart(h, r)?;
    bands_table(h, r)?;
    rules_table(h, r)?;
    fields_table(h, r)?;
    h.push_str("</body></html>\n");
    Ok(())
}

fn chart(h: &mut String, r: &DriftReport) -> std::fmt::Result {
    let top = r
        .bands
        .iter()
        .flat_map(|b| [b.baseline, b.current])
        .fold(0.01f64, f64::max);
    // Round ticks: the axis ends at the next 5% (or 10% above 50%).
    let step = if top > 0.5 { 0.1 } else { 0.05 };
    let ymax = (top / step).ceil() * step;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let y0 = TOP + ph;
    write!(
        h,
        "<svg role=\"img\" aria-label=\"share of baseline and current leads per score band; the table below has the numbers\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-size=\"11\">"
    )?;
    let ticks = (ymax / step).round() as usize;
    for k in 0..=ticks {
        let v = step * k as f64;
        let y = y0 - v / ymax * ph;
        write!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#57606a\">{:.0}%</text>",
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            v * 100.0
        )?;
    }
    let slot = pw / r.bands.len().max(1) as f64;
    for (k, b) in r.bands.iter().enumerate() {
        let x = LEFT + k as f64 * slot;
        for (i, (share, colour)) in [(b.baseline, "#8c959f"), (b.current, "#0969da")]
            .into_iter()
            .enumerate()
        {
            let height = share / ymax * ph;
            write!(
                h,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{colour}\"/>",
                x + slot * (0.1 + 0.4 * i as f64),
                y0 - height,
                slot * 0.4
            )?;
        }
        write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\">{}</text>",
            x + slot / 2.0,
            y0 + 16.0,
            esc(&band_text(b))
        )?;
    }
    write!(
        h,
        "<line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{:.1}\" y2=\"{y0}\" stroke=\"#57606a\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\">score band</text></svg>",
        LEFT + pw,
        LEFT + pw / 2.0,
        HEIGHT - 4.0
    )
}

fn bands_table(h: &mut String, r: &DriftReport) -> std::fmt::Result {
    h.push_str("<table><thead><tr><th>score band</th><th>baseline</th><th>current</th></tr></thead><tbody>");
    for b in &r.bands {
        write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&band_text(b)),
            pct(Some(b.baseline)),
            pct(Some(b.current))
        )?;
    }
    h.push_str("</tbody></table>");
    Ok(())
}

fn rules_table(h: &mut String, r: &DriftReport) -> std::fmt::Result {
    h.push_str("<h2 id=\"rules\">Rules</h2><p class=\"muted\">The share of leads each rule fired for; highlighted when it moved significantly (a two-proportion test at 95%).</p>");
    h.push_str("<table><thead><tr><th>rule</th><th>baseline</th><th>current</th><th>z</th></tr></thead><tbody>");
    for rule in &r.rules {
        write!(
            h,
            "<tr{}><td>{}<small>{}</small></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if rule.significant { " class=\"flagged\"" } else { "" },
            esc(&rule.rule),
            esc(&rule.location),
            pct(rule.baseline_rate),
            pct(rule.current_rate),
            rule.z.map_or_else(|| "—".to_string(), |z| format!("{z:.2}"))
        )?;
    }
    h.push_str("</tbody></table>");
    Ok(())
}

fn fields_table(h: &mut String, r: &DriftReport) -> std::fmt::Result {
    h.push_str("<h2 id=\"fields\">Fields that moved most</h2>");
    h.push_str("<table><thead><tr><th>field</th><th>kind</th><th>PSI</th><th>reading</th></tr></thead><tbody>");
    for f in &r.fields {
        write!(
            h,
            "<tr><td>{}</td><td>{}</td><td>{:.3}</td><td>{}</td></tr>",
            esc(&f.field),
            f.kind,
            f.psi,
            f.shift
        )?;
    }
    h.push_str("</tbody></table>");
    Ok(())
}
