//! Times and durations. Scoring never reads the clock: every time is relative to the
//! caller's `as_of`.

use chrono::{DateTime, Utc};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Parses an RFC 3339 time (`2026-03-01T12:00:00Z`) to milliseconds since the epoch.
pub fn parse_time(text: &str) -> Option<Millis> {
    DateTime::parse_from_rfc3339(text.trim())
        .ok()
        .map(|t| t.with_timezone(&Utc).timestamp_millis())
}

/// Formats milliseconds since the epoch as RFC 3339.
#[allow(dead_code, reason = "for explanations; drop this when it is used")]
pub fn show_time(ms: Millis) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.to_rfc3339())
}

/// `2d`, `12h`, `90m`: the largest unit that divides the duration.
pub fn show_duration(ms: Millis) -> String {
    const UNITS: [(i64, &str); 5] = [
        (604_800_000, "w"),
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
    ];
    for (size, unit) in UNITS {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}
