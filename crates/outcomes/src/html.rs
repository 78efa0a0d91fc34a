//! The backtest as one self-contained HTML page: inline CSS and inline SVG charts (the
//! score distribution of converted vs other leads; precision/recall/F1 by threshold with
//! the current and recommended thresholds marked, and the threshold table; the ROC and
//! cumulative gains curves; MQLs by week; the reliability of a calibrated pack; each
//! rule's lift with its interval; the `--by` breakdown), each with its numbers as a table
//! for screen readers, then the tables. Axis ticks are round numbers. No script, no
//! network. The charts are a few dozen SVG elements each, written here rather than through
//! a plotting crate so the default build gains no dependencies.

use std::fmt::Write;

use super::backtest::{opt, signed, Report};
pub(crate) use super::chart::esc;
use super::chart::scale;
use super::{num, pct};

const WIDTH: f64 = 820.0;
const HEIGHT: f64 = 260.0;
const LEFT: f64 = 48.0;
const BOTTOM: f64 = 34.0;
const TOP: f64 = 14.0;
const RIGHT: f64 = 16.0;

pub(crate) const STYLE: &str = "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px auto;max-width:820px;color:#1b1f24}\
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}\
.summary{display:flex;gap:12px;flex-wrap:wrap;margin:14px 0}.card{border:1px solid #d0d7de;border-radius:6px;padding:8px 12px;flex:1 1 0;min-width:0}\
.card b{display:block;font-size:20px}.muted{color:#57606a}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}th,td{padding:4px 8px;border-bottom:1px solid #eaeef2;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}\
tr.contradicts td{background:#ffebe9;color:#82071e}tr.flagged td{background:#fff8c5}\
svg{display:block;margin:4px 0;width:100%;height:auto}td small{display:block;color:#57606a;font-size:12px}.legend span{display:inline-block;margin-right:14px}.sw{display:inline-block;width:10px;height:10px;margin-right:4px}";

/// One line each on what the summary's numbers mean.
const DEFINITIONS: &str = "<p class=\"muted\"><b>AUC</b>: the chance a converted lead outscores one that did not (0.5 is a coin, 1 is perfect). \
<b>Precision</b>: the share of MQLs that converted. <b>Recall</b>: the share of converted leads that were MQLs. \
<b>Lift</b>: precision over the base rate (how many times better than picking leads at random).</p>";

/// The report as an HTML page.
///
/// ```
/// # use leadscore_outcomes::{backtest::{GoalSpec, Report, ReportOptions}, Rows, Rules};
/// # let pack = leadscore::Pack::from_source("demo", "threshold 10\ntitle ~ VP => +10")?;
/// # let options = ReportOptions { bands: 2, goal: GoalSpec::F1, threshold: Some(10.0), by: None, mql: Default::default() };
/// let report = Report::build("demo".into(), &Rows::default(), &Rules::of(&pack), &options);
/// let page = leadscore_outcomes::html::render(&report);
/// assert!(page.starts_with("<!DOCTYPE html>") && !page.contains("http"));
/// # Ok::<(), leadscore::Error>(())
/// ```
pub fn render(r: &Report) -> String {
    let mut h = String::new();
    let _ = write_page(&mut h, r);
    h
}

fn write_page(h: &mut String, r: &Report) -> std::fmt::Result {
    write!(h, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">")?;
    write!(
        h,
        "<title>Backtest: {}</title><style>{STYLE}</style></head><body>",
        esc(&r.pack)
    )?;
    write!(h, "<h1>Backtest of {}</h1>", esc(&r.pack))?;
    write!(
        h,
        "<p class=\"muted\">{} leads: {} labelled, {} unlabelled (left out), {} failed to score.</p>",
        r.leads, r.labelled, r.unlabelled, r.failed
    )?;
    h.push_str("<div class=\"summary\">");
    let cards = [
        ("AUC", opt(r.auc, 3)),
        ("base rate", pct(r.base_rate)),
        ("MQLs", r.mql.count.to_string()),
        ("MQL precision", pct(r.mql.precision)),
        ("MQL recall", pct(r.mql.recall)),
        ("MQL lift", opt(r.mql.lift, 2)),
    ];
    for (label, value) in cards {
        write!(
            h,
            "<div class=\"card\"><span class=\"muted\">{label}</span><b>{value}</b></div>"
        )?;
    }
    h.push_str("</div>");
    h.push_str(DEFINITIONS);
    let current = r
        .threshold
        .map_or_else(|| "none (the pack uses `mql when`)".to_string(), num);
    let recommended = r.recommended.threshold.map_or_else(|| "none".to_string(), num);
    write!(
        h,
        "<p>Current threshold <b>{}</b>; recommended <b>{}</b>: {}.</p>",
        esc(&current),
        recommended,
        esc(&r.recommended.reason)
    )?;
    h.push_str("<h2 id=\"distribution\">Score distribution</h2>");
    h.push_str("<div class=\"legend\"><span><i class=\"sw\" style=\"background:#1f883d\"></i>converted</span><span><i class=\"sw\" style=\"background:#8c959f\"></i>not converted</span><span class=\"muted\">share of each group per score bin</span></div>");
    distribution(h, r)?;
    h.push_str("<h2 id=\"curve\">Precision and recall by threshold</h2>");
    h.push_str("<div class=\"legend\"><span><i class=\"sw\" style=\"background:#0969da\"></i>precision</span><span><i class=\"sw\" style=\"background:#bf3989\"></i>recall</span><span><i class=\"sw\" style=\"background:#9a6700\"></i>F1</span><span>dashed: current · solid: recommended</span></div>");
    curve(h, r)?;
    thresholds(h, r)?;
    ranking(h, r)?;
    periods(h, r)?;
    bands(h, r)?;
    reliability(h, r)?;
    rules(h, r)?;
    disqualified(h, r)?;
    by(h, r)?;
    h.push_str("</body></html>\n");
    Ok(())
}

/// Opens a chart whose numbers are also in the table with id `table` (its text equivalent).
fn open_svg(h: &mut String, label: &str) -> std::fmt::Result {
    open_svg_sized(h, label, HEIGHT)
}

fn open_svg_sized(h: &mut String, label: &str, height: f64) -> std::fmt::Result {
    write!(
        h,
        "<svg role=\"img\" aria-label=\"{label}\" width=\"{WIDTH}\" height=\"{height}\" viewBox=\"0 0 {WIDTH} {height}\" font-size=\"11\">"
    )
}

/// Round tick values from `lo` to `hi`: steps of 1, 2 or 5 times a power of ten, about
/// `count` of them, every one inside the range.
///
/// ```
/// # use leadscore_outcomes::html::ticks;
/// assert_eq!(ticks(0.0, 1.0, 5), [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]);
/// assert_eq!(ticks(-13.0, 87.0, 5), [0.0, 20.0, 40.0, 60.0, 80.0], "-13 is no round number");
/// assert_eq!(ticks(0.0, 0.07, 5), [0.0, 0.02, 0.04, 0.06]);
/// ```
pub fn ticks(lo: f64, hi: f64, count: usize) -> Vec<f64> {
    if !(hi > lo && lo.is_finite() && hi.is_finite()) {
        return vec![lo];
    }
    let rough = (hi - lo) / count.max(1) as f64;
    let power = 10f64.powf(rough.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|s| *s >= rough)
        .unwrap_or(10.0 * power);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step + 1e-9).floor() as i64;
    // Multiples of the step, rounded so that 0.1 × 3 shows as 0.3.
    (first..=last)
        .map(|k| {
            let v = k as f64 * step;
            let digits = (-power.log10()).max(0.0) as i32 + 1;
            let m = 10f64.powi(digits);
            (v * m).round() / m
        })
        .collect()
}

/// How an axis labels its values.
#[derive(Clone, Copy)]
enum Unit {
    /// Plain numbers (scores).
    Number,
    /// Shares shown as percentages.
    Percent,
}

fn tick_label(v: f64, unit: Unit) -> String {
    match unit {
        Unit::Number => num(v),
        Unit::Percent => format!("{}%", num((v * 1000.0).round() / 10.0)),
    }
}

/// Axes with round ticks: a score from `lo` to `hi` across, a share from 0 to `ymax` up.
fn axes(h: &mut String, lo: f64, hi: f64, ymax: f64) -> std::fmt::Result {
    axes_for(h, (lo, hi, Unit::Number, "score"), ymax, HEIGHT)
}

/// Axes with round ticks: `x` (from, to, unit, name) across, a share from 0 to `ymax` up.
fn axes_for(h: &mut String, x: (f64, f64, Unit, &str), ymax: f64, height: f64) -> std::fmt::Result {
    let (lo, hi, unit, name) = x;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, height - TOP - BOTTOM);
    let y0 = TOP + ph;
    write!(h, "<g class=\"axes\" stroke=\"#57606a\" fill=\"#57606a\">")?;
    write!(h, "<line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{}\" y2=\"{y0}\"/>", LEFT + pw)?;
    write!(h, "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{y0}\"/>")?;
    for v in ticks(lo, hi, 8) {
        write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" stroke=\"none\">{}</text>",
            LEFT + scale(v, lo, hi, pw),
            y0 + 16.0,
            tick_label(v, unit)
        )?;
    }
    for v in ticks(0.0, ymax, 5) {
        let y = y0 - scale(v, 0.0, ymax, ph);
        write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" stroke=\"none\">{}</text>",
            LEFT - 6.0,
            y + 4.0,
            tick_label(v, Unit::Percent)
        )?;
        write!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/>",
            LEFT + pw
        )?;
    }
    write!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" stroke=\"none\">{}</text></g>",
        LEFT + pw / 2.0,
        height - 4.0,
        esc(name)
    )
}

/// A chart's numbers as a table for screen readers (and anyone who wants the figures),
/// folded under the chart.
fn equivalent(h: &mut String, columns: &[&str], rows: &[Vec<String>]) -> std::fmt::Result {
    h.push_str("<details><summary>The chart's numbers</summary><table><thead><tr>");
    for c in columns {
        write!(h, "<th>{}</th>", esc(c))?;
    }
    h.push_str("</tr></thead><tbody>");
    for cells in rows {
        row(h, "", cells)?;
    }
    h.push_str("</tbody></table></details>");
    Ok(())
}

/// A vertical line at a threshold: dashed for the current one, solid for the recommended.
fn marker(h: &mut String, t: Option<f64>, lo: f64, hi: f64, dashed: bool, label: &str) -> std::fmt::Result {
    let Some(t) = t.filter(|t| (lo..=hi).contains(t)) else {
        return Ok(());
    };
    let x = LEFT + scale(t, lo, hi, WIDTH - LEFT - RIGHT);
    let dash = if dashed { " stroke-dasharray=\"5 4\"" } else { "" };
    let (y, anchor) = if dashed {
        (TOP + 10.0, "end")
    } else {
        (TOP + 22.0, "start")
    };
    let dx = if dashed { -4.0 } else { 4.0 };
    write!(
        h,
        "<g class=\"threshold {label}\"><line x1=\"{x:.1}\" y1=\"{TOP}\" x2=\"{x:.1}\" y2=\"{:.1}\" stroke=\"#cf222e\" stroke-width=\"1.5\"{dash}/><text x=\"{:.1}\" y=\"{y:.1}\" fill=\"#cf222e\" text-anchor=\"{anchor}\">{label} {}</text></g>",
        HEIGHT - BOTTOM,
        x + dx,
        num(t)
    )
}

fn distribution(h: &mut String, r: &Report) -> std::fmt::Result {
    let bins = &r.distribution;
    let (Some(first), Some(last)) = (bins.first(), bins.last()) else {
        h.push_str("<p class=\"muted\">No labelled leads.</p>");
        return Ok(());
    };
    let (lo, hi) = (first.min, last.max.max(first.min + 1.0));
    let pos: u64 = bins.iter().map(|b| b.positives).sum();
    let neg: u64 = bins.iter().map(|b| b.negatives).sum();
    let share = |n: u64, of: u64| if of == 0 { 0.0 } else { n as f64 / of as f64 };
    let ymax = bins
        .iter()
        .flat_map(|b| [share(b.positives, pos), share(b.negatives, neg)])
        .fold(0.0f64, f64::max)
        .max(0.01);
    let ymax = (ymax * 20.0).ceil() / 20.0;
    open_svg(
        h,
        "score distribution of converted and not converted leads; the numbers follow",
    )?;
    axes(h, lo, hi, ymax)?;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let slot = pw / bins.len() as f64;
    for (k, b) in bins.iter().enumerate() {
        let x = LEFT + k as f64 * slot;
        for (i, (n, of, colour, class)) in [
            (b.negatives, neg, "#8c959f", "negatives"),
            (b.positives, pos, "#1f883d", "positives"),
        ]
        .into_iter()
        .enumerate()
        {
            let height = scale(share(n, of), 0.0, ymax, ph);
            write!(
                h,
                "<rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{colour}\"><title>{} – {}: {n} leads ({})</title></rect>",
                x + 1.0 + i as f64 * (slot - 2.0) / 2.0,
                TOP + ph - height,
                (slot - 2.0) / 2.0,
                num(b.min),
                num(b.max),
                pct(Some(share(n, of)))
            )?;
        }
    }
    marker(h, r.threshold, lo, hi, true, "current")?;
    marker(h, r.recommended.threshold, lo, hi, false, "recommended")?;
    h.push_str("</svg>");
    let rows: Vec<Vec<String>> = bins
        .iter()
        .map(|b| {
            vec![
                format!("{} – {}", num(b.min), num(b.max)),
                format!("{} ({})", b.positives, pct(Some(share(b.positives, pos)))),
                format!("{} ({})", b.negatives, pct(Some(share(b.negatives, neg)))),
            ]
        })
        .collect();
    equivalent(h, &["score", "converted", "not converted"], &rows)
}

fn curve(h: &mut String, r: &Report) -> std::fmt::Result {
    let (Some(first), Some(last)) = (r.thresholds.first(), r.thresholds.last()) else {
        h.push_str("<p class=\"muted\">No thresholds to sweep.</p>");
        return Ok(());
    };
    let (lo, hi) = (first.threshold, last.threshold.max(first.threshold + 1.0));
    open_svg(
        h,
        "precision, recall and F1 by threshold; the threshold table below has the numbers",
    )?;
    axes(h, lo, hi, 1.0)?;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    type Value = fn(&super::metrics::ThresholdRow) -> Option<f64>;
    let series: [(&str, &str, Value); 3] = [
        ("precision", "#0969da", |t| t.precision),
        ("recall", "#bf3989", |t| t.recall),
        ("f1", "#9a6700", |t| t.f1),
    ];
    for (class, colour, value) in series {
        let points: Vec<String> = r
            .thresholds
            .iter()
            .filter_map(|t| value(t).map(|v| (t.threshold, v)))
            .map(|(t, v)| format!("{:.1},{:.1}", LEFT + scale(t, lo, hi, pw), TOP + ph - v * ph))
            .collect();
        write!(
            h,
            "<polyline class=\"{class}\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"2\" points=\"{}\"/>",
            points.join(" ")
        )?;
    }
    marker(h, r.threshold, lo, hi, true, "current")?;
    marker(h, r.recommended.threshold, lo, hi, false, "recommended")?;
    h.push_str("</svg>");
    Ok(())
}

/// The threshold table: the precision/recall chart's numbers, with MQLs (a week, where
/// judging times are known) at each threshold shown.
fn thresholds(h: &mut String, r: &Report) -> std::fmt::Result {
    let mut columns = vec!["threshold", "MQLs"];
    if r.weeks.is_some() {
        columns.push("MQLs a week");
    }
    columns.extend(["precision", "recall", "F1", "lift", ""]);
    let title = format!(
        "Thresholds ({} of {}; an MQL is {}, not disqualified)",
        r.shown_thresholds().len(),
        r.thresholds.len(),
        esc(&r.swept)
    );
    table_head(h, "thresholds", &title, &columns)?;
    for t in r.shown_thresholds() {
        let mut marks = Vec::new();
        if Some(t.threshold) == r.current {
            marks.push("current");
        }
        if Some(t.threshold) == r.recommended.threshold {
            marks.push("recommended");
        }
        let mut cells = vec![num(t.threshold), t.mql.to_string()];
        if let Some(w) = r.weeks {
            cells.push(format!("{:.1}", t.mql as f64 / w));
        }
        cells.extend([
            pct(t.precision),
            pct(t.recall),
            opt(t.f1, 3),
            opt(t.lift, 2),
            marks.join(", "),
        ]);
        row(h, if marks.is_empty() { "" } else { "flagged" }, &cells)?;
    }
    h.push_str("</tbody></table>");
    if let Some(c) = r.capacity {
        let unit = if r.weeks.is_some() { " a week" } else { "" };
        write!(
            h,
            "<p class=\"muted\">The recommendation keeps to at most {} MQLs{unit}.</p>",
            num((c * 10.0).round() / 10.0)
        )?;
    }
    Ok(())
}

/// The ROC curve beside the AUC, and the cumulative gains curve, each with the diagonal
/// of a random order and its numbers.
fn ranking(h: &mut String, r: &Report) -> std::fmt::Result {
    if r.roc.is_empty() || r.gains.is_empty() {
        return Ok(());
    }
    write!(
        h,
        "<h2 id=\"roc\">ROC curve (AUC {})</h2><p class=\"muted\">Each threshold as a point: the share of converted leads it makes MQLs (true positive rate) against the share of the others (false positive rate). The area under it is the AUC; the diagonal is a random order.</p>",
        opt(r.auc, 3)
    )?;
    let roc: Vec<(f64, f64)> = r.roc.iter().map(|p| (p.x, p.y)).collect();
    share_curve(
        h,
        "ROC curve: true positive rate against false positive rate; the numbers follow",
        "false positive rate",
        &roc,
    )?;
    let rows: Vec<Vec<String>> = (0..=10)
        .map(|k| {
            let x = f64::from(k) / 10.0;
            let y = r
                .roc
                .iter()
                .filter(|p| p.x <= x + 1e-12)
                .map(|p| p.y)
                .fold(0.0, f64::max);
            vec![pct(Some(x)), pct(Some(y))]
        })
        .collect();
    equivalent(h, &["false positive rate at most", "true positive rate"], &rows)?;
    h.push_str("<h2 id=\"gains\">Cumulative gains</h2><p class=\"muted\">Working leads from the highest score down: the share of all converted leads found after each share of leads. The diagonal is a random order; the lift is how many times better than it.</p>");
    let gains: Vec<(f64, f64)> = r.gains.iter().map(|p| (p.x, p.y)).collect();
    share_curve(
        h,
        "cumulative gains: share of converted leads found against share of leads worked; the numbers follow",
        "share of leads, highest score first",
        &gains,
    )?;
    let rows: Vec<Vec<String>> = r
        .gains
        .iter()
        .skip(1)
        .step_by(2)
        .map(|p| vec![pct(Some(p.x)), pct(Some(p.y)), opt((p.x > 0.0).then(|| p.y / p.x), 2)])
        .collect();
    equivalent(h, &["top share of leads", "converted leads found", "lift"], &rows)
}

/// A curve over shares on both axes, with the diagonal.
fn share_curve(h: &mut String, label: &str, x_name: &str, points: &[(f64, f64)]) -> std::fmt::Result {
    open_svg(h, label)?;
    axes_for(h, (0.0, 1.0, Unit::Percent, x_name), 1.0, HEIGHT)?;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let at = |x: f64, y: f64| format!("{:.1},{:.1}", LEFT + x * pw, TOP + ph - y * ph);
    write!(
        h,
        "<polyline class=\"random\" fill=\"none\" stroke=\"#8c959f\" stroke-dasharray=\"4 3\" points=\"{} {}\"/>",
        at(0.0, 0.0),
        at(1.0, 1.0)
    )?;
    let line: Vec<String> = points.iter().map(|&(x, y)| at(x, y)).collect();
    write!(
        h,
        "<polyline class=\"curve\" fill=\"none\" stroke=\"#0969da\" stroke-width=\"2\" points=\"{}\"/></svg>",
        line.join(" ")
    )
}

/// MQLs per week (bars) and the MQLs' conversion (the table), where judging times differ.
fn periods(h: &mut String, r: &Report) -> std::fmt::Result {
    let Some(first) = r.periods.first() else {
        return Ok(());
    };
    let name = super::backtest::period_name(first.days);
    write!(
        h,
        "<h2 id=\"periods\">MQLs by {name}</h2><div class=\"legend\"><span><i class=\"sw\" style=\"background:#0969da\"></i>MQLs</span><span><i class=\"sw\" style=\"background:#1f883d\"></i>converted MQLs</span><span class=\"muted\">per {name} of judging time</span></div>"
    )?;
    let most = r.periods.iter().map(|p| p.mql).max().unwrap_or(0).max(1) as f64;
    let top = ticks(0.0, most * 1.25, 5)
        .last()
        .copied()
        .filter(|t| *t >= most)
        .unwrap_or(most);
    open_svg(h, &format!("MQLs and converted MQLs per {name}; the numbers follow"))?;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let y0 = TOP + ph;
    write!(h, "<g class=\"axes\" fill=\"#57606a\">")?;
    for v in ticks(0.0, top, 5) {
        let y = y0 - scale(v, 0.0, top, ph);
        write!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            LEFT + pw,
            LEFT - 6.0,
            y + 4.0,
            num(v)
        )?;
    }
    h.push_str("</g>");
    let slot = pw / r.periods.len() as f64;
    let label_every = r.periods.len().div_ceil(8).max(1);
    for (k, p) in r.periods.iter().enumerate() {
        let x = LEFT + k as f64 * slot;
        for (value, colour, class) in [
            (p.mql as f64, "#0969da", "mql"),
            (p.converted_mql as f64, "#1f883d", "converted"),
        ] {
            let height = scale(value, 0.0, top, ph);
            write!(
                h,
                "<rect class=\"{class}\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{height:.1}\" fill=\"{colour}\"/>",
                x + 1.0 + if class == "mql" { 0.0 } else { slot * 0.2 },
                y0 - height,
                (slot - 2.0) * if class == "mql" { 1.0 } else { 0.6 },
            )?;
        }
        if k % label_every == 0 {
            write!(
                h,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\">{}</text>",
                x + slot / 2.0,
                y0 + 16.0,
                esc(&p.start)
            )?;
        }
    }
    h.push_str("</svg>");
    let rows: Vec<Vec<String>> = r
        .periods
        .iter()
        .map(|p| {
            vec![
                p.start.clone(),
                p.leads.to_string(),
                p.mql.to_string(),
                p.converted_mql.to_string(),
                p.positives.to_string(),
                pct(p.precision),
            ]
        })
        .collect();
    equivalent(
        h,
        &[
            "from",
            "leads",
            "MQLs",
            "converted MQLs",
            "converted leads",
            "MQL precision",
        ],
        &rows,
    )
}

/// Each rule's lift with its 95% interval, as dots and whiskers against a lift of 1 (the
/// rules table below is its text equivalent).
fn lift_chart(h: &mut String, r: &Report) -> std::fmt::Result {
    let shown: Vec<&super::backtest::RuleRow> = r.rules.iter().filter(|x| x.lift.is_some()).collect();
    let Some(high) = shown.iter().filter_map(|x| x.lift_high).max_by(f64::total_cmp) else {
        return Ok(());
    };
    let top = ticks(0.0, high.max(1.0) * 1.1, 6)
        .last()
        .copied()
        .filter(|t| *t >= high)
        .unwrap_or(high.max(1.0));
    let label_width = 200.0;
    let line = 20.0;
    let height = TOP + line * shown.len() as f64 + BOTTOM;
    h.push_str("<p class=\"muted\">Each rule's lift (its conversion rate over the base rate) with its 95% interval; at 1 a rule does no better than chance.</p>");
    open_svg_sized(
        h,
        "lift of each rule with its 95% interval; the rules table below has the numbers",
        height,
    )?;
    let pw = WIDTH - label_width - RIGHT;
    let x = |v: f64| label_width + scale(v, 0.0, top, pw);
    let y0 = height - BOTTOM;
    for v in ticks(0.0, top, 6) {
        write!(
            h,
            "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{y0:.1}\" stroke=\"{1}\"/><text x=\"{0:.1}\" y=\"{2:.1}\" text-anchor=\"middle\" fill=\"#57606a\">{3}</text>",
            x(v),
            if v == 1.0 { "#8c959f" } else { "#eaeef2" },
            y0 + 16.0,
            num(v)
        )?;
    }
    for (k, rule) in shown.iter().enumerate() {
        let y = TOP + line * (k as f64 + 0.5);
        let name = short(&rule.rule);
        let colour = if rule.contradicts { "#cf222e" } else { "#0969da" };
        write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_width - 8.0,
            y + 4.0,
            esc(&name)
        )?;
        if let (Some(lo), Some(hi)) = (rule.lift_low, rule.lift_high) {
            write!(
                h,
                "<line x1=\"{:.1}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"{colour}\" stroke-width=\"2\"/>",
                x(lo),
                x(hi)
            )?;
        }
        write!(
            h,
            "<circle cx=\"{:.1}\" cy=\"{y:.1}\" r=\"4\" fill=\"{colour}\"/>",
            x(rule.lift.unwrap_or(0.0))
        )?;
    }
    write!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\">lift</text></svg>",
        label_width + pw / 2.0,
        height - 4.0
    )
}

fn table_head(h: &mut String, id: &str, title: &str, columns: &[&str]) -> std::fmt::Result {
    write!(h, "<h2 id=\"{id}\">{title}</h2><table class=\"{id}\"><thead><tr>")?;
    for c in columns {
        write!(h, "<th>{c}</th>")?;
    }
    h.push_str("</tr></thead><tbody>");
    Ok(())
}

fn row(h: &mut String, class: &str, cells: &[String]) -> std::fmt::Result {
    if class.is_empty() {
        h.push_str("<tr>");
    } else {
        write!(h, "<tr class=\"{class}\">")?;
    }
    for c in cells {
        write!(h, "<td>{}</td>", esc(c))?;
    }
    h.push_str("</tr>");
    Ok(())
}

fn bands(h: &mut String, r: &Report) -> std::fmt::Result {
    table_head(
        h,
        "bands",
        "Score bands (equal count, highest first)",
        &["score", "leads", "converted", "rate", "lift", "cumulative recall"],
    )?;
    for b in &r.bands {
        let range = if b.min == b.max {
            num(b.min)
        } else {
            format!("{} – {}", num(b.min), num(b.max))
        };
        let cells = [
            range,
            b.count.to_string(),
            b.positives.to_string(),
            pct(b.rate),
            opt(b.lift, 2),
            pct(b.cumulative_recall),
        ];
        row(h, "", &cells)?;
    }
    h.push_str("</tbody></table>");
    Ok(())
}

/// For a calibrated pack: predicted against observed per band, as a chart (the diagonal is
/// a perfect calibration) and as a table (the chart's text equivalent), with the Brier score.
fn reliability(h: &mut String, r: &Report) -> std::fmt::Result {
    let Some(c) = &r.calibration else {
        return Ok(());
    };
    write!(
        h,
        "<h2 id=\"calibration\">Calibration</h2><p>The pack says <code>{}</code>. Each band's mean predicted chance against the share that converted: on the diagonal, the chances hold. Brier score (the mean squared gap between chance and outcome; lower is better) {}, against {} for the base rate alone.</p>",
        esc(&c.statement),
        c.brier.map_or_else(|| "—".to_string(), |b| format!("{b:.4}")),
        c.brier_base_rate.map_or_else(|| "—".to_string(), |b| format!("{b:.4}"))
    )?;
    let top = c
        .bands
        .iter()
        .flat_map(|b| [b.predicted, b.observed])
        .fold(0.05f64, f64::max);
    let step = if top > 0.3 { 0.1 } else { 0.05 };
    let max = (top / step).ceil() * step;
    let side = HEIGHT - TOP - BOTTOM;
    let at = |v: f64| v / max * side;
    write!(
        h,
        "<svg role=\"img\" aria-label=\"predicted against observed chance of converting per score band; the table below has the numbers\" width=\"{w}\" height=\"{HEIGHT}\" viewBox=\"0 0 {w} {HEIGHT}\" font-size=\"11\" style=\"max-width:{w}px\">",
        w = LEFT + side + RIGHT + 120.0
    )?;
    let y0 = TOP + side;
    for k in 0..=((max / step).round() as usize) {
        let v = step * k as f64;
        write!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{x2:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#57606a\">{p:.0}%</text><text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\">{p:.0}%</text>",
            LEFT - 6.0,
            y0 - at(v) + 4.0,
            y0 + 16.0,
            y = y0 - at(v),
            x2 = LEFT + side,
            x = LEFT + at(v),
            p = v * 100.0
        )?;
    }
    write!(
        h,
        "<line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{:.1}\" y2=\"{TOP}\" stroke=\"#8c959f\" stroke-dasharray=\"4 3\"/>",
        LEFT + side
    )?;
    for b in &c.bands {
        write!(
            h,
            "<circle cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\" fill=\"{}\"/>",
            LEFT + at(b.predicted),
            y0 - at(b.observed),
            if b.off { "#cf222e" } else { "#0969da" }
        )?;
    }
    write!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#57606a\">predicted</text><text x=\"{:.1}\" y=\"{:.1}\" fill=\"#57606a\">observed ↑</text></svg>",
        LEFT + side / 2.0,
        HEIGHT - 4.0,
        LEFT + side + 8.0,
        TOP + 10.0
    )?;
    table_head(
        h,
        "reliability",
        "Predicted and observed per band",
        &["score", "leads", "predicted", "observed"],
    )?;
    for b in &c.bands {
        let cells = [
            format!("{} – {}", num(b.min), num(b.max)),
            b.count.to_string(),
            pct(Some(b.predicted)),
            pct(Some(b.observed)),
        ];
        row(h, if b.off { "flagged" } else { "" }, &cells)?;
    }
    h.push_str("</tbody></table><p class=\"muted\">Highlighted bands are off by more than three standard errors.</p>");
    Ok(())
}

fn rules(h: &mut String, r: &Report) -> std::fmt::Result {
    h.push_str("<h2 id=\"rules\">Rules against the outcomes</h2>");
    lift_chart(h, r)?;
    h.push_str("<table class=\"rules\"><thead><tr>");
    for c in [
        "rule",
        "points",
        "fired",
        "converted",
        "rate fired",
        "rate not fired",
        "lift",
        "95% interval",
    ] {
        write!(h, "<th>{c}</th>")?;
    }
    h.push_str("</tr></thead><tbody>");
    for rule in &r.rules {
        let class = if rule.contradicts { " class=\"contradicts\"" } else { "" };
        write!(
            h,
            "<tr{class}><td>{}<small>{}</small></td>",
            esc(&rule.rule),
            esc(&rule.location)
        )?;
        let cells = [
            rule.points.map_or_else(|| "—".to_string(), signed),
            rule.fired.to_string(),
            rule.positives.to_string(),
            pct(rule.rate_fired),
            pct(rule.rate_not_fired),
            opt(rule.lift, 2),
            rule.lift_interval(),
        ];
        for c in cells {
            write!(h, "<td>{}</td>", esc(&c))?;
        }
        h.push_str("</tr>");
    }
    h.push_str("</tbody></table>");
    if r.rules.iter().any(|x| x.contradicts) {
        h.push_str("<p class=\"muted\">Highlighted rules contradict the data: their points' sign disagrees with the conversion rates, significantly at 95% (two-proportion test).</p>");
    }
    Ok(())
}

fn disqualified(h: &mut String, r: &Report) -> std::fmt::Result {
    if r.disqualified.is_empty() {
        return Ok(());
    }
    table_head(
        h,
        "disqualified",
        "Disqualified",
        &["reason", "leads", "converted", "rate"],
    )?;
    for d in &r.disqualified {
        let cells = [
            d.reason.clone(),
            d.count.to_string(),
            d.positives.to_string(),
            pct(d.rate),
        ];
        row(h, if d.above_base_rate { "flagged" } else { "" }, &cells)?;
    }
    h.push_str("</tbody></table>");
    if r.disqualified.iter().any(|d| d.above_base_rate) {
        h.push_str("<p class=\"muted\">Highlighted reasons convert above the base rate: the filter throws away good leads.</p>");
    }
    Ok(())
}

fn by(h: &mut String, r: &Report) -> std::fmt::Result {
    let (Some(rows), Some(field)) = (&r.by, &r.by_field) else {
        return Ok(());
    };
    write!(h, "<h2 id=\"by\">By {}</h2>", esc(field))?;
    by_chart(h, rows)?;
    h.push_str("<table class=\"by\"><thead><tr>");
    for c in [
        "value",
        "leads",
        "MQLs",
        "converted",
        "conversion",
        "precision",
        "recall",
    ] {
        write!(h, "<th>{c}</th>")?;
    }
    h.push_str("</tr></thead><tbody>");
    for b in rows {
        let cells = [
            b.label(),
            b.count.to_string(),
            b.mql.to_string(),
            b.positives.to_string(),
            pct(metrics_ratio(b.positives, b.count)),
            pct(b.precision),
            pct(b.recall),
        ];
        row(h, "", &cells)?;
    }
    h.push_str("</tbody></table>");
    Ok(())
}

use super::metrics::ratio as metrics_ratio;

/// The most `--by` values the chart shows (the table has them all).
const BY_CHART_ROWS: usize = 20;

/// Per `--by` value: the conversion rate of its leads and the precision of its MQLs, as
/// paired bars (the table below is its text equivalent).
fn by_chart(h: &mut String, rows: &[super::backtest::ByRow]) -> std::fmt::Result {
    let shown = &rows[..rows.len().min(BY_CHART_ROWS)];
    if shown.is_empty() {
        return Ok(());
    }
    let rate = |b: &super::backtest::ByRow| metrics_ratio(b.positives, b.count).unwrap_or(0.0);
    let high = shown
        .iter()
        .flat_map(|b| [rate(b), b.precision.unwrap_or(0.0)])
        .fold(0.01f64, f64::max);
    let top = ticks(0.0, high * 1.2, 5)
        .last()
        .copied()
        .filter(|t| *t >= high)
        .unwrap_or(high);
    let (label_width, line) = (200.0, 24.0);
    let height = TOP + line * shown.len() as f64 + BOTTOM;
    let pw = WIDTH - label_width - RIGHT;
    let x = |v: f64| label_width + scale(v, 0.0, top, pw);
    h.push_str("<div class=\"legend\"><span><i class=\"sw\" style=\"background:#8c959f\"></i>conversion of its leads</span><span><i class=\"sw\" style=\"background:#0969da\"></i>precision of its MQLs</span></div>");
    open_svg_sized(
        h,
        "conversion and MQL precision per value; the table below has the numbers",
        height,
    )?;
    let y0 = height - BOTTOM;
    for v in ticks(0.0, top, 5) {
        write!(
            h,
            "<line x1=\"{0:.1}\" y1=\"{TOP}\" x2=\"{0:.1}\" y2=\"{y0:.1}\" stroke=\"#eaeef2\"/><text x=\"{0:.1}\" y=\"{1:.1}\" text-anchor=\"middle\" fill=\"#57606a\">{2}</text>",
            x(v),
            y0 + 16.0,
            tick_label(v, Unit::Percent)
        )?;
    }
    for (k, b) in shown.iter().enumerate() {
        let y = TOP + line * k as f64;
        let name = short(&b.label());
        write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            label_width - 8.0,
            y + line / 2.0 + 4.0,
            esc(&name)
        )?;
        for (i, (v, colour)) in [(rate(b), "#8c959f"), (b.precision.unwrap_or(0.0), "#0969da")]
            .into_iter()
            .enumerate()
        {
            write!(
                h,
                "<rect x=\"{label_width}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{colour}\"/>",
                y + 3.0 + i as f64 * (line - 6.0) / 2.0,
                x(v) - label_width,
                (line - 6.0) / 2.0
            )?;
        }
    }
    h.push_str("</svg>");
    Ok(())
}

/// A chart label: at most 30 characters, `…` where cut.
fn short(text: &str) -> String {
    match text.char_indices().nth(29) {
        Some((at, _)) if text.chars().count() > 30 => format!("{}…", &text[..at]),
        _ => text.to_string(),
    }
}
