//! The backtest as one self-contained HTML page: inline CSS and two inline SVG charts (the
//! score distribution of converted vs other leads, and precision/recall/F1 by threshold
//! with the current and recommended thresholds marked), then the tables. No script, no
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
    bands(h, r)?;
    reliability(h, r)?;
    rules(h, r)?;
    disqualified(h, r)?;
    by(h, r)?;
    h.push_str("</body></html>\n");
    Ok(())
}

fn open_svg(h: &mut String, label: &str) -> std::fmt::Result {
    write!(
        h,
        "<svg role=\"img\" aria-label=\"{label}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-size=\"11\">"
    )
}

/// Axes with ticks: `x` from `lo` to `hi`, `y` from 0 to `ymax` (as percentages).
fn axes(h: &mut String, lo: f64, hi: f64, ymax: f64) -> std::fmt::Result {
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let y0 = TOP + ph;
    write!(h, "<g class=\"axes\" stroke=\"#57606a\" fill=\"#57606a\">")?;
    write!(h, "<line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{}\" y2=\"{y0}\"/>", LEFT + pw)?;
    write!(h, "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{y0}\"/>")?;
    for k in 0..=5 {
        let v = lo + (hi - lo) * k as f64 / 5.0;
        let x = LEFT + scale(v, lo, hi, pw);
        write!(
            h,
            "<text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\" stroke=\"none\">{}</text>",
            y0 + 16.0,
            num((v * 10.0).round() / 10.0)
        )?;
        let yv = ymax * k as f64 / 5.0;
        let y = y0 - scale(yv, 0.0, ymax, ph);
        write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" stroke=\"none\">{:.0}%</text>",
            LEFT - 6.0,
            y + 4.0,
            yv * 100.0
        )?;
        write!(
            h,
            "<line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/>",
            LEFT + pw
        )?;
    }
    write!(
        h,
        "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" stroke=\"none\">score</text></g>",
        LEFT + pw / 2.0,
        HEIGHT - 4.0
    )
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
    let ymax = (ymax * 10.0).ceil() / 10.0;
    open_svg(h, "score distribution of converted and not converted leads")?;
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
    Ok(())
}

fn curve(h: &mut String, r: &Report) -> std::fmt::Result {
    let (Some(first), Some(last)) = (r.thresholds.first(), r.thresholds.last()) else {
        h.push_str("<p class=\"muted\">No thresholds to sweep.</p>");
        return Ok(());
    };
    let (lo, hi) = (first.threshold, last.threshold.max(first.threshold + 1.0));
    open_svg(h, "precision, recall and F1 by threshold")?;
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
    table_head(
        h,
        "rules",
        "Rules against the outcomes",
        &[
            "rule",
            "points",
            "fired",
            "converted",
            "rate fired",
            "rate not fired",
            "lift",
        ],
    )?;
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
    let title = format!("By {}", esc(field));
    table_head(
        h,
        "by",
        &title,
        &["value", "leads", "MQLs", "converted", "precision", "recall"],
    )?;
    for b in rows {
        let cells = [
            b.label(),
            b.count.to_string(),
            b.mql.to_string(),
            b.positives.to_string(),
            pct(b.precision),
            pct(b.recall),
        ];
        row(h, "", &cells)?;
    }
    h.push_str("</tbody></table>");
    Ok(())
}
