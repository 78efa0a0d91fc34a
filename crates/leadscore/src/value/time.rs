//! Times and durations. Scoring never reads the clock: every time is relative to the
//! caller's `as_of`.

use chrono::{DateTime, Utc};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Parses an RFC 3339 time (`2026-03-01T12:00:00Z`) to milliseconds since the epoch.
pub fn parse_time(text: &str) -> Option<Millis> {
    // The fast path first: `trim` decodes characters from both ends, a third of the cost
    // of parsing, and times almost never have blanks around them.
    if let Some(at) = fast_utc(text.as_bytes()) {
        return Some(at);
    }
    let text = text.trim();
    fast_utc(text.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc).timestamp_millis())
    })
}

/// The shape event exports almost always use, `2026-03-01T12:00:00Z` or with a fraction
/// (`.123Z`), parsed directly: every event's time is parsed, and chrono's general RFC 3339
/// parser was 6% of scoring a JSON Lines file. Anything else (offsets, lower-case `t`,
/// leap seconds, out-of-range fields) returns `None` and goes to chrono.
fn fast_utc(b: &[u8]) -> Option<Millis> {
    // Eight bytes at a time: `YYYY-MM-` and `HH:MM:SS` are each checked and read as one
    // u64 (this runs for every event; byte by byte it was a sixth of scoring a lead).
    let date = u64::from_le_bytes(*b.first_chunk::<8>()?);
    let time = u64::from_le_bytes(*b.get(11..)?.first_chunk::<8>()?);
    //                      byte: 7 6 5 4 3 2 1 0
    const DATE_DIGITS: u64 = 0x00FF_FF00_FFFF_FFFF; // `-MM-YYYY`, read backwards
    const DATE_SEPARATORS: u64 = 0x2D00_002D_0000_0000;
    const TIME_DIGITS: u64 = 0xFFFF_00FF_FF00_FFFF; // `SS:MM:HH`
    const TIME_SEPARATORS: u64 = 0x0000_3A00_003A_0000;
    if date & !DATE_DIGITS != DATE_SEPARATORS
        || time & !TIME_DIGITS != TIME_SEPARATORS
        || !all_digits(date, DATE_DIGITS)
        || !all_digits(time, TIME_DIGITS)
        || b.get(10) != Some(&b'T')
    {
        return None;
    }
    let digit = |word: u64, i: u32| ((word >> (8 * i)) & 0x0F) as i64;
    let year = digit(date, 0) * 1000 + digit(date, 1) * 100 + digit(date, 2) * 10 + digit(date, 3);
    let month = digit(date, 5) * 10 + digit(date, 6);
    let day = pair(*b.get(8)?, *b.get(9)?)?;
    let (hour, minute, second) = (
        digit(time, 0) * 10 + digit(time, 1),
        digit(time, 3) * 10 + digit(time, 4),
        digit(time, 6) * 10 + digit(time, 7),
    );
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(year, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    let millis = match &b[19..] {
        [b'Z'] => 0,
        [b'.', fraction @ .., b'Z'] if (1..=9).contains(&fraction.len()) && fraction.iter().all(u8::is_ascii_digit) => {
            // Milliseconds: the first three digits, padded with zeros; finer digits truncate.
            fraction
                .iter()
                .chain(std::iter::repeat(&b'0'))
                .take(3)
                .fold(0i64, |n, &c| n * 10 + i64::from(c - b'0'))
        }
        _ => return None,
    };
    let days = days_from_civil(year, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

/// Whether the bytes of `word` under `mask` (whole bytes) are all ASCII digits: the high
/// nibble is 3, and adding 6 leaves it 3 (the low nibble is at most 9).
fn all_digits(word: u64, mask: u64) -> bool {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const THREES: u64 = 0x3030_3030_3030_3030;
    const SIXES: u64 = 0x0606_0606_0606_0606;
    let (high, threes) = (HIGH & mask, THREES & mask);
    word & high == threes && word.wrapping_add(SIXES & mask) & high == threes
}

/// Two ASCII digits as a number.
fn pair(tens: u8, ones: u8) -> Option<i64> {
    let (t, o) = (tens.wrapping_sub(b'0'), ones.wrapping_sub(b'0'));
    (t < 10 && o < 10).then(|| i64::from(t * 10 + o))
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The units of a duration as rule files and the REPL write them, largest first.
const UNITS: [(i64, char); 5] = [
    (604_800_000, 'w'),
    (86_400_000, 'd'),
    (3_600_000, 'h'),
    (60_000, 'm'),
    (1_000, 's'),
];

/// `2d`, `12h`, `90m`, `10s`, `1w` → milliseconds; `None` for any other text or a duration
/// beyond the range of [`Millis`]. The one duration reader: the grammar's durations and the
/// REPL's relative times both read through it.
pub fn parse_duration(text: &str) -> Option<Millis> {
    let unit = text.chars().last()?;
    let (_, size) = UNITS.iter().map(|&(size, u)| (u, size)).find(|&(u, _)| u == unit)?;
    let digits = &text[..text.len() - unit.len_utf8()];
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse::<i64>().ok()?.checked_mul(size)
}

/// `2d`, `12h`, `90m`: the largest unit that divides the duration.
pub fn show_duration(ms: Millis) -> String {
    for (size, unit) in UNITS {
        if ms != 0 && ms % size == 0 {
            return format!("{}{unit}", ms / size);
        }
    }
    format!("{ms}ms")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_back_as_they_show() {
        for ms in [1_000, 90 * 60_000, 12 * 3_600_000, 2 * 86_400_000, 3 * 604_800_000] {
            assert_eq!(parse_duration(&show_duration(ms)), Some(ms));
        }
        for bad in [
            "",
            "d",
            "5",
            "5y",
            "-5d",
            "+5d",
            "5 d",
            "1.5h",
            "99999999999999999999d",
            "9999999999999999w",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }

    /// The fast path agrees with chrono wherever it answers, and declines the rest.
    #[test]
    fn fast_path_agrees_with_chrono() {
        let chrono = |t: &str| DateTime::parse_from_rfc3339(t).ok().map(|t| t.timestamp_millis());
        let mut cases: Vec<String> = [
            "2026-03-01T00:00:00Z",
            "1970-01-01T00:00:00Z",
            "1969-12-31T23:59:59.999Z",
            "2024-02-29T12:30:45.5Z",
            "2023-02-29T12:30:45Z",
            "2026-13-01T00:00:00Z",
            "2026-03-01T24:00:00Z",
            "2026-03-01T00:00:60Z",
            "2026-03-01T00:00:00.123456789Z",
            "2026-03-01T00:00:00.Z",
            "2026-03-01T00:00:00.1234567890Z",
            "2026-03-01T00:00:00+01:00",
            "2026-03-01t00:00:00z",
            "2026-03-01 00:00:00Z",
            "0001-01-01T00:00:00Z",
            "2000-02-29T23:59:59.07Z",
            "1900-02-29T00:00:00Z",
            "2026-3-01T00:00:00Z",
            "2026-03-01T00:00:00ZZ",
            "2026-0:-01T00:00:00Z",
            "2026-03-01T0/:00:00Z",
            "202a-03-01T00:00:00Z",
            "2026-03-01T00:00:00",
            "2026-03-01X00:00:00Z",
            "2026-03-01T00-00-00Z",
            "2026:03:01T00:00:00Z",
            "2026-03-0?T00:00:00Z",
            "2026-03-01T00:00:0\u{7f}Z",
            "\u{ff}026-03-01T00:00:00Z",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for day in (0..3000).step_by(7) {
            let t = 1_700_000_000_000i64 - day * 86_400_000 * 20 + day * 3_601_001;
            cases.extend(
                DateTime::<Utc>::from_timestamp_millis(t)
                    .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
            );
        }
        for case in &cases {
            if let Some(fast) = fast_utc(case.as_bytes()) {
                assert_eq!(Some(fast), chrono(case), "{case}");
            }
            assert_eq!(parse_time(case), chrono(case.trim()), "{case}");
        }
        assert!(fast_utc(b"2026-03-01T00:00:00Z").is_some() && fast_utc(b"2026-03-01T00:00:00.250Z").is_some());
    }
}
