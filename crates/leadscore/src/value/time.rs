//! Times and durations. Scoring never reads the clock: every time is relative to the
//! caller's `as_of`.

use chrono::{DateTime, Utc};

/// Milliseconds since the Unix epoch.
pub type Millis = i64;

/// Parses an RFC 3339 time (`2026-03-01T12:00:00Z`) to milliseconds since the epoch.
pub fn parse_time(text: &str) -> Option<Millis> {
    // The fast path first: `trim` decodes characters from both ends, a third of the cost
    // of parsing, and times almost never have blanks around them.
    if let Some(at) = fast_rfc3339(text.as_bytes()) {
        return Some(at);
    }
    let text = text.trim();
    fast_rfc3339(text.as_bytes()).or_else(|| {
        DateTime::parse_from_rfc3339(text)
            .ok()
            .map(|t| t.with_timezone(&Utc).timestamp_millis())
    })
}

/// The shape event exports almost always use, `2026-03-01T12:00:00Z`, with a fraction
/// (`.123Z`) or an offset (`+02:00`, `-05:30`), parsed directly: every event's time is
/// parsed, and chrono's general RFC 3339 parser was 6% of scoring a JSON Lines file.
/// Anything else (lower-case `t` or `z`, a blank for `T`, leap seconds, out-of-range
/// fields, more than nine digits of fraction) returns `None` and goes to chrono, so the
/// answers are chrono's wherever this one gives one (`tests` below hold it to that).
#[inline]
fn fast_rfc3339(b: &[u8]) -> Option<Millis> {
    // `YYYY-MM-`, `DDT` and `HH:MM:SS`: the two words checked and read eight bytes at a
    // time (this runs for every event; byte by byte it was a sixth of scoring a lead).
    let (date, rest) = b.split_first_chunk::<8>()?;
    let (&[d1, d2, t], rest) = rest.split_first_chunk::<3>()?;
    let (time, rest) = rest.split_first_chunk::<8>()?;
    let (date, time) = (u64::from_le_bytes(*date), u64::from_le_bytes(*time));
    //                      byte: 7 6 5 4 3 2 1 0
    const DATE_DIGITS: u64 = 0x00FF_FF00_FFFF_FFFF; // `-MM-YYYY`, read backwards
    const DATE_SEPARATORS: u64 = 0x2D00_002D_0000_0000;
    const TIME_DIGITS: u64 = 0xFFFF_00FF_FF00_FFFF; // `SS:MM:HH`
    const TIME_SEPARATORS: u64 = 0x0000_3A00_003A_0000;
    if date & !DATE_DIGITS != DATE_SEPARATORS
        || time & !TIME_DIGITS != TIME_SEPARATORS
        || !all_digits(date, DATE_DIGITS)
        || !all_digits(time, TIME_DIGITS)
        || t != b'T'
    {
        return None;
    }
    let (date, time) = (pairs(date, DATE_DIGITS), pairs(time, TIME_DIGITS));
    let byte = |word: u64, i: u32| ((word >> (8 * i)) & 0xFF) as i64;
    let (year, month, day) = (byte(date, 0) * 100 + byte(date, 2), byte(date, 5), pair(d1, d2)?);
    let (hour, minute, second) = (byte(time, 0), byte(time, 3), byte(time, 6));
    let leap = is_leap(year);
    if !(1..=12).contains(&month)
        || day < 1
        || day > days_in_month(leap, month)
        || hour > 23
        || minute > 59
        || second > 59
    {
        return None;
    }
    // Most times end at once in `Z`.
    let (millis, offset) = match rest {
        [b'Z'] => (0, 0),
        _ => {
            let (millis, zone) = fraction(rest)?;
            (millis, offset(zone)?)
        }
    };
    let days = days_from_civil(year, leap, month, day);
    Some(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis - offset)
}

/// An optional fraction of a second (`.` and one to nine digits) as milliseconds (the
/// first three digits, padded with zeros; finer digits truncate), and what follows it.
#[inline(always)]
fn fraction(rest: &[u8]) -> Option<(i64, &[u8])> {
    let Some((b'.', digits)) = rest.split_first() else {
        return Some((0, rest));
    };
    let n = digits.iter().take_while(|b| b.is_ascii_digit()).count();
    if !(1..=9).contains(&n) {
        return None;
    }
    let millis = (0..3).fold(0, |ms, i| {
        ms * 10 + digits[..n].get(i).map_or(0, |&d| i64::from(d - b'0'))
    });
    Some((millis, &digits[n..]))
}

/// The zone, `Z` or `±HH:MM` (hours to 23, minutes to 59), as milliseconds east of UTC.
#[inline(always)]
fn offset(zone: &[u8]) -> Option<i64> {
    let (sign, h1, h2, m1, m2) = match *zone {
        [b'Z'] => return Some(0),
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => (sign, h1, h2, m1, m2),
        _ => return None,
    };
    let (hours, minutes) = (pair(h1, h2)?, pair(m1, m2)?);
    if hours > 23 || minutes > 59 {
        return None;
    }
    let east = (hours * 60 + minutes) * 60_000;
    Some(if sign == b'+' { east } else { -east })
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

/// The ASCII digits of `word` under `mask` (checked by [`all_digits`]) read in pairs:
/// byte `i` of the answer is `10 × digit i + digit i + 1` (as far as both are digits).
/// Each byte of the digits is at most 9, so neither the product nor the sum carries
/// into the next byte.
fn pairs(word: u64, mask: u64) -> u64 {
    let digits = word & mask & 0x0F0F_0F0F_0F0F_0F0F;
    digits.wrapping_mul(10).wrapping_add(digits >> 8)
}

/// Two ASCII digits as a number.
fn pair(tens: u8, ones: u8) -> Option<i64> {
    let (t, o) = (tens.wrapping_sub(b'0'), ones.wrapping_sub(b'0'));
    (t < 10 && o < 10).then(|| i64::from(t * 10 + o))
}

fn is_leap(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(leap: bool, month: i64) -> i64 {
    match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a date of the proleptic Gregorian calendar in years 0 to
/// 9999 (what four digits write), `leap` telling whether its year is a leap year: the
/// days of the years before it (leap days counted in years shifted by 400, which add 97
/// leap days and keep the numbers positive), then of the months before it, then its day.
#[inline(always)]
fn days_from_civil(year: i64, leap: bool, month: i64, day: i64) -> i64 {
    /// Days before each month of a common year.
    const BEFORE: [i64; 12] = [0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334];
    /// The days from 0001-01-01 to 1970-01-01, and the 97 leap days that the shift by
    /// 400 years adds to `leap_days`.
    const EPOCH: i64 = 365 * 1969 + (1969 / 4 - 1969 / 100 + 1969 / 400) + 97;
    let shifted = (year + 399) as u64;
    let leap_days = (shifted / 4 - shifted / 100 + shifted / 400) as i64;
    let before = BEFORE.get((month - 1) as usize).copied().unwrap_or(0);
    365 * (year - 1) + leap_days + before + i64::from(leap && month > 2) + day - 1 - EPOCH
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
    use chrono::Datelike;

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
            if let Some(fast) = fast_rfc3339(case.as_bytes()) {
                assert_eq!(Some(fast), chrono(case), "{case}");
            }
            assert_eq!(parse_time(case), chrono(case.trim()), "{case}");
        }
        assert!(fast_rfc3339(b"2026-03-01T00:00:00Z").is_some() && fast_rfc3339(b"2026-03-01T00:00:00.250Z").is_some());
    }

    /// chrono's answer for a time: what `parse_time` must give.
    fn chrono(text: &str) -> Option<Millis> {
        DateTime::parse_from_rfc3339(text.trim())
            .ok()
            .map(|t| t.timestamp_millis())
    }

    /// Holds the fast path to chrono on `text`: the same answer wherever it gives one, and
    /// `parse_time` (fast path, then chrono) always chrono's. Returns whether the fast path
    /// answered.
    fn agrees(text: &str) -> bool {
        let fast = fast_rfc3339(text.as_bytes());
        if fast.is_some() {
            assert_eq!(fast, chrono(text), "{text:?}");
        }
        assert_eq!(parse_time(text), chrono(text), "{text:?}");
        fast.is_some()
    }

    /// Every day of four-digit years counts the days chrono counts from 1970-01-01.
    #[test]
    fn every_day_of_four_digit_years_is_chronos_day() {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let mut day = chrono::NaiveDate::from_ymd_opt(0, 1, 1).unwrap();
        let mut expected = day.signed_duration_since(epoch).num_days();
        while day.year() <= 9999 {
            let (year, month) = (i64::from(day.year()), i64::from(day.month()));
            assert_eq!(
                days_from_civil(year, is_leap(year), month, i64::from(day.day())),
                expected,
                "{day}"
            );
            day = day.succ_opt().unwrap();
            expected += 1;
        }
    }

    /// Every offset `±HH:MM` with two digits each, on times near the ends of days, months
    /// and years: the fast path reads those chrono reads (hours to 23, minutes to 59)
    /// and gives chrono's moment, and leaves the rest to it.
    #[test]
    fn offsets_agree_with_chrono() {
        for base in [
            "2026-03-01T00:00:00",
            "1999-12-31T23:59:59.999",
            "0000-01-01T00:00:00",
            "9999-12-31T23:59:59.5",
        ] {
            for sign in ['+', '-'] {
                for hours in 0..100 {
                    for minutes in 0..100 {
                        let text = format!("{base}{sign}{hours:02}:{minutes:02}");
                        assert_eq!(agrees(&text), hours <= 23 && minutes <= 59, "{text}");
                    }
                }
            }
        }
    }

    /// Times spread over four-digit years, with every length of fraction and a spread of
    /// zones: the fast path reads every one chrono's RFC 3339 writer makes, as chrono does.
    #[test]
    fn generated_times_agree_with_chrono() {
        let zones = [
            "Z", "+00:00", "-00:00", "+05:30", "-08:00", "+14:00", "-23:59", "+23:59",
        ];
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for i in 0..20_000 {
            let (year, month) = (next() % 10_000, next() % 12 + 1);
            let day = next() % days_in_month(is_leap(year as i64), month as i64) as u64 + 1;
            let (hour, minute, second) = (next() % 24, next() % 60, next() % 60);
            let digits = i % 11;
            let fraction = match digits {
                0 => String::new(),
                n => format!(".{:09}", next() % 1_000_000_000)[..=n.min(9)].to_string(),
            };
            let zone = zones[i % zones.len()];
            let text = format!("{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{fraction}{zone}");
            assert!(agrees(&text), "the fast path left {text:?} to chrono");
        }
    }

    /// Every one-byte change of a few times (a byte replaced by one that matters to the
    /// format, removed, or inserted): the fast path gives chrono's answer or leaves it to
    /// chrono, and `parse_time` always gives chrono's.
    #[test]
    fn malformed_times_agree_with_chrono() {
        let bytes = b"0123456789+-:.TtZz \x00\x7f";
        for time in [
            "2024-02-29T23:59:59.123+05:30",
            "1970-01-01T00:00:00Z",
            "2026-12-31T12:30:45.5-08:00",
        ] {
            let time = time.as_bytes();
            for i in 0..=time.len() {
                let mut changes = Vec::new();
                if i < time.len() {
                    let mut removed = time.to_vec();
                    removed.remove(i);
                    changes.push(removed);
                }
                for &b in bytes {
                    if i < time.len() {
                        let mut changed = time.to_vec();
                        changed[i] = b;
                        changes.push(changed);
                    }
                    let mut inserted = time.to_vec();
                    inserted.insert(i, b);
                    changes.push(inserted);
                }
                for change in changes {
                    if let Ok(text) = std::str::from_utf8(&change) {
                        agrees(text);
                    }
                }
            }
        }
        for text in [
            "",
            "Z",
            "2026-03-01T00:00:00",
            "2026-03-01T00:00:00+01",
            "2026-03-01T00:00:00+01:0",
            "2026-03-01T00:00:00+0100",
            "2026-03-01T00:00:00.Z",
            "2026-03-01T00:00:00.1234567890+01:00",
            " 2026-03-01T00:00:00+01:00 ",
        ] {
            agrees(text);
        }
    }
}
