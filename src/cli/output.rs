//! Small formatting helpers shared by the commands' outputs.

/// A number as results show it: no trailing `.0`, at most 4 decimals.
pub fn num(x: f64) -> String {
    let s = format!("{x:.4}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}
