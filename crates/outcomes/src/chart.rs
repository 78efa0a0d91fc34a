//! Small SVG charts drawn as text, shared by the backtest page (`html.rs`) and the
//! service's console (a lead's score over time, the funnel by period): the mapping of a
//! value onto pixels, and a line chart with labelled axes. Every label is escaped.

use std::fmt::Write;

/// Maps a value in `lo..=hi` onto `0..=len` pixels (the middle when the range is empty).
///
/// ```
/// assert_eq!(leadscore_outcomes::chart::scale(5.0, 0.0, 10.0, 100.0), 50.0);
/// assert_eq!(leadscore_outcomes::chart::scale(3.0, 3.0, 3.0, 100.0), 50.0);
/// ```
pub fn scale(x: f64, lo: f64, hi: f64, len: f64) -> f64 {
    if hi > lo {
        (x - lo) / (hi - lo) * len
    } else {
        len / 2.0
    }
}

/// One line of a [`lines`] chart: its name (shown in the legend and the tooltips), its
/// colour and its points `(x, y)`, in x order.
#[derive(Clone, Debug, PartialEq)]
pub struct Series {
    /// What it is, for the legend.
    pub name: String,
    /// A CSS colour.
    pub colour: &'static str,
    /// The points, in x order.
    pub points: Vec<(f64, f64)>,
}

const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 220.0;
const LEFT: f64 = 44.0;
const BOTTOM: f64 = 30.0;
const TOP: f64 = 12.0;
const RIGHT: f64 = 14.0;

/// A line chart (steps between points, as a score changes at an instant and then holds)
/// with a dot per point and its value as a tooltip; `label` is the chart's accessible
/// name and `x_label` shows an x value (a time, a period) on the axis and in tooltips.
///
/// ```
/// use leadscore_outcomes::chart::{lines, Series};
/// let s = Series { name: "score <b>".into(), colour: "#0969da", points: vec![(0.0, 10.0), (60.0, 35.0)] };
/// let svg = lines("score over time", &[s], |x| format!("{x}s"));
/// assert!(svg.starts_with("<svg role=\"img\" aria-label=\"score over time\""));
/// assert!(svg.contains("score &lt;b&gt;") && !svg.contains("<b>"));
/// ```
pub fn lines(label: &str, series: &[Series], x_label: impl Fn(f64) -> String) -> String {
    let mut h = String::new();
    // Writing to a String cannot fail.
    let _ = write_lines(&mut h, label, series, &x_label);
    h
}

fn write_lines(h: &mut String, label: &str, series: &[Series], x_label: &dyn Fn(f64) -> String) -> std::fmt::Result {
    let all = series.iter().flat_map(|s| s.points.iter());
    let (mut x_lo, mut x_hi, mut y_hi) = (f64::INFINITY, f64::NEG_INFINITY, 0.0f64);
    let mut y_lo = 0.0f64;
    for &(x, y) in all {
        (x_lo, x_hi) = (x_lo.min(x), x_hi.max(x));
        (y_lo, y_hi) = (y_lo.min(y), y_hi.max(y));
    }
    if !x_lo.is_finite() {
        (x_lo, x_hi) = (0.0, 1.0);
    }
    if y_hi <= y_lo {
        y_hi = y_lo + 1.0;
    }
    write!(
        h,
        "<svg role=\"img\" aria-label=\"{}\" width=\"{WIDTH}\" height=\"{HEIGHT}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-size=\"11\">",
        esc(label)
    )?;
    axes(h, (x_lo, x_hi), (y_lo, y_hi), x_label)?;
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let at = |x: f64, y: f64| (LEFT + scale(x, x_lo, x_hi, pw), TOP + ph - scale(y, y_lo, y_hi, ph));
    for s in series {
        let mut path = String::new();
        let mut last_y = None;
        for &(x, y) in &s.points {
            let (px, py) = at(x, y);
            match last_y {
                None => write!(path, "M{px:.1},{py:.1}")?,
                Some(ly) => write!(path, " L{px:.1},{ly:.1} L{px:.1},{py:.1}")?,
            }
            last_y = Some(py);
        }
        write!(
            h,
            "<path fill=\"none\" stroke=\"{}\" stroke-width=\"2\" d=\"{path}\"/>",
            s.colour
        )?;
        for &(x, y) in &s.points {
            let (px, py) = at(x, y);
            write!(
                h,
                "<circle cx=\"{px:.1}\" cy=\"{py:.1}\" r=\"3\" fill=\"{}\"><title>{}: {} at {}</title></circle>",
                s.colour,
                esc(&s.name),
                number(y),
                esc(&x_label(x))
            )?;
        }
    }
    h.push_str("</svg>");
    Ok(())
}

/// Axes with three ticks on x and five on y.
fn axes(
    h: &mut String,
    (x_lo, x_hi): (f64, f64),
    (y_lo, y_hi): (f64, f64),
    x_label: &dyn Fn(f64) -> String,
) -> std::fmt::Result {
    let (pw, ph) = (WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM);
    let y0 = TOP + ph;
    write!(h, "<g stroke=\"#57606a\" fill=\"#57606a\">")?;
    write!(h, "<line x1=\"{LEFT}\" y1=\"{y0}\" x2=\"{}\" y2=\"{y0}\"/>", LEFT + pw)?;
    write!(h, "<line x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{y0}\"/>")?;
    for k in 0..=5 {
        let v = y_lo + (y_hi - y_lo) * f64::from(k) / 5.0;
        let y = y0 - scale(v, y_lo, y_hi, ph);
        write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" stroke=\"none\">{}</text><line x1=\"{LEFT}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#eaeef2\"/>",
            LEFT - 6.0,
            y + 4.0,
            number(v),
            LEFT + pw
        )?;
    }
    // A label that another tick shows too is left out (a range within one day, labelled
    // by day, would show one date three times): the middle one first, then the last.
    let ticks = [(0, "start"), (1, "middle"), (2, "end")]
        .map(|(k, anchor)| (x_lo + (x_hi - x_lo) * f64::from(k) / 2.0, anchor));
    let labels = ticks.map(|(v, _)| x_label(v));
    for (i, ((v, anchor), label)) in ticks.iter().zip(&labels).enumerate() {
        let repeated = match i {
            1 => labels[1] == labels[0] || labels[1] == labels[2],
            2 => labels[2] == labels[0],
            _ => false,
        };
        if repeated {
            continue;
        }
        write!(
            h,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{anchor}\" stroke=\"none\">{}</text>",
            LEFT + scale(*v, x_lo, x_hi, pw),
            y0 + 16.0,
            esc(label)
        )?;
    }
    h.push_str("</g>");
    Ok(())
}

/// A value with at most one decimal, without a trailing `.0`.
fn number(v: f64) -> String {
    let r = (v * 10.0).round() / 10.0;
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}

/// Escapes text for HTML (and SVG).
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(points: Vec<(f64, f64)>) -> Series {
        Series {
            name: "s".into(),
            colour: "#000",
            points,
        }
    }

    #[test]
    fn an_x_label_that_repeats_is_shown_once() {
        let day = |x: f64| if x < 10.0 { "day 1" } else { "day 2" }.to_string();
        let one_day = lines("l", &[series(vec![(0.0, 1.0), (4.0, 2.0)])], day);
        assert_eq!(one_day.matches(">day 1</text>").count(), 1, "{one_day}");
        // Start and end differ; the middle repeats the end: two labels.
        let two_days = lines("l", &[series(vec![(0.0, 1.0), (12.0, 2.0)])], day);
        assert_eq!(
            (
                two_days.matches(">day 1</text>").count(),
                two_days.matches(">day 2</text>").count()
            ),
            (1, 1),
            "{two_days}"
        );
        let all = lines("l", &[series(vec![(0.0, 1.0), (12.0, 2.0)])], |x| format!("x{x}"));
        for x in ["x0", "x6", "x12"] {
            assert!(all.contains(&format!(">{x}</text>")), "{x} in {all}");
        }
    }
}
