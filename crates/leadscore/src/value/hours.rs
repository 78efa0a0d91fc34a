//! Working time: an SLA clock that counts only the working hours of some days of the
//! week, in a time zone (`sla 4h business Mon-Fri 09:00-17:00 "America/New_York"`). The
//! zone's rules (daylight saving time included) come from the IANA database that
//! `chrono-tz` compiles in.

use std::fmt;

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// Days an SLA clock may look ahead for working time (a hundred years): an SLA longer
/// than the working time in that span ends there.
const MAX_DAYS: i64 = 36_525;

/// The days `Display` writes, Monday first.
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

/// Working hours: on the days from `first` to `last` (0 = Monday; the range may wrap, as
/// `Sun-Thu` does), from `from` until `until` minutes after local midnight, in `zone`.
#[derive(Clone, Debug, PartialEq)]
pub struct BusinessHours {
    first: u8,
    last: u8,
    from: u32,
    until: u32,
    zone: Tz,
}

/// What is wrong with working hours as written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HoursProblem {
    /// Not a time of day, or the end is not after the start.
    Hours,
    /// Not a time zone of the IANA database.
    Zone,
}

impl BusinessHours {
    /// Working hours from days (0 = Monday), from and until as (hours, minutes), and an
    /// IANA zone name.
    pub(crate) fn new(
        (first, last): (u8, u8),
        from: (u32, u32),
        until: (u32, u32),
        zone: &str,
    ) -> Result<BusinessHours, HoursProblem> {
        let minutes = |(h, m): (u32, u32)| (m < 60 && h * 60 + m <= 24 * 60).then_some(h * 60 + m);
        let (Some(from), Some(until)) = (minutes(from), minutes(until)) else {
            return Err(HoursProblem::Hours);
        };
        if until <= from || first > 6 || last > 6 {
            return Err(HoursProblem::Hours);
        }
        let zone: Tz = zone.parse().map_err(|_| HoursProblem::Zone)?;
        Ok(BusinessHours {
            first,
            last,
            from,
            until,
            zone,
        })
    }

    /// Whether `day` (0 = Monday) is a working day.
    fn works(&self, day: u8) -> bool {
        match self.first <= self.last {
            true => (self.first..=self.last).contains(&day),
            false => day >= self.first || day <= self.last,
        }
    }

    /// The moment `minutes` after midnight of the local `date`; in a gap of the clocks
    /// (spring forward), the first moment after it; when the clock repeats, the first.
    fn at(&self, date: NaiveDate, minutes: u32) -> Option<DateTime<Utc>> {
        let naive = date.and_hms_opt(0, 0, 0)? + Duration::minutes(i64::from(minutes));
        let local = self
            .zone
            .from_local_datetime(&naive)
            .earliest()
            .or_else(|| self.zone.from_local_datetime(&(naive + Duration::hours(1))).earliest())?;
        Some(local.with_timezone(&Utc))
    }

    /// The moment `work` of working time after `start`: the time left on each working
    /// day is counted from its opening (or from `start`, on the day it falls in working
    /// hours) to its close, day after day.
    ///
    /// ```
    /// # use chrono::{TimeZone, Utc, Duration};
    /// let pack = leadscore::Pack::from_source(
    ///     "demo",
    ///     "threshold 10\nroute \"ae\" sla 4h business Mon-Fri 09:00-17:00 \"America/New_York\"",
    /// )?;
    /// // Friday 16:00 in New York (20:00 UTC): one hour on Friday, three on Monday,
    /// // so Monday 12:00 (16:00 UTC).
    /// let friday = Utc.with_ymd_and_hms(2026, 3, 13, 20, 0, 0).unwrap();
    /// let due = pack.program().route_sla_due("ae", friday);
    /// assert_eq!(due, Some(Utc.with_ymd_and_hms(2026, 3, 16, 16, 0, 0).unwrap()));
    /// # Ok::<(), leadscore::Error>(())
    /// ```
    pub fn add(&self, start: DateTime<Utc>, work: Duration) -> DateTime<Utc> {
        let mut left = work;
        let mut date = start.with_timezone(&self.zone).date_naive();
        for _ in 0..MAX_DAYS {
            let day = u8::try_from(date.weekday().num_days_from_monday()).unwrap_or(0);
            if self.works(day) {
                if let (Some(open), Some(close)) = (self.at(date, self.from), self.at(date, self.until)) {
                    let begin = open.max(start);
                    if begin < close {
                        let available = close - begin;
                        if left <= available {
                            return begin + left;
                        }
                        left -= available;
                    }
                }
            }
            match date.succ_opt() {
                Some(next) => date = next,
                None => break,
            }
        }
        start + Duration::days(MAX_DAYS)
    }
}

impl fmt::Display for BusinessHours {
    /// As written in a pack: `Mon-Fri 09:00-17:00 "America/New_York"`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let day = |d: u8| DAYS[usize::from(d.min(6))];
        match self.first == self.last {
            true => write!(f, "{}", day(self.first))?,
            false => write!(f, "{}-{}", day(self.first), day(self.last))?,
        }
        let clock = |m: u32| format!("{:02}:{:02}", m / 60, m % 60);
        write!(f, " {}-{} {:?}", clock(self.from), clock(self.until), self.zone.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).single().unwrap_or_default()
    }

    fn new_york() -> BusinessHours {
        BusinessHours::new((0, 4), (9, 0), (17, 0), "America/New_York").unwrap()
    }

    #[test]
    fn the_clock_stops_over_the_weekend_and_at_night() {
        let ny = new_york();
        // Friday 2026-03-13 16:00 EDT = 20:00 UTC: one hour Friday, three Monday → 12:00 EDT.
        assert_eq!(
            ny.add(utc(2026, 3, 13, 20, 0), Duration::hours(4)),
            utc(2026, 3, 16, 16, 0)
        );
        // Saturday: starts Monday 09:00.
        assert_eq!(
            ny.add(utc(2026, 3, 14, 15, 0), Duration::minutes(30)),
            utc(2026, 3, 16, 13, 30)
        );
        // Tuesday 20:00 local (after the close): Wednesday 09:00 + 2h.
        assert_eq!(
            ny.add(utc(2026, 3, 18, 0, 0), Duration::hours(2)),
            utc(2026, 3, 18, 15, 0)
        );
        // Inside working hours: plain addition.
        assert_eq!(
            ny.add(utc(2026, 3, 17, 14, 0), Duration::hours(1)),
            utc(2026, 3, 17, 15, 0)
        );
        // 16 working hours from Monday 09:00 end Tuesday 17:00.
        assert_eq!(
            ny.add(utc(2026, 3, 16, 13, 0), Duration::hours(16)),
            utc(2026, 3, 17, 21, 0)
        );
    }

    #[test]
    fn daylight_saving_time_moves_the_working_day_in_utc() {
        let ny = new_york();
        // Friday 2026-03-06 16:00 EST (21:00 UTC); clocks spring forward on Sunday the
        // 8th, so Monday's 12:00 EDT is 16:00 UTC, not 17:00.
        assert_eq!(
            ny.add(utc(2026, 3, 6, 21, 0), Duration::hours(4)),
            utc(2026, 3, 9, 16, 0)
        );
        // And back in November: Friday 10-30 16:00 EDT (20:00 UTC) → Monday 11-02 12:00 EST.
        assert_eq!(
            ny.add(utc(2026, 10, 30, 20, 0), Duration::hours(4)),
            utc(2026, 11, 2, 17, 0)
        );
    }

    #[test]
    fn a_day_range_may_wrap_and_zones_differ() {
        // Sunday to Thursday in Dubai (UTC+4, no DST): Friday 10:00 UTC → Sunday 08:00 local + 1h.
        let dubai = BusinessHours::new((6, 3), (8, 0), (16, 0), "Asia/Dubai").unwrap();
        assert_eq!(
            dubai.add(utc(2026, 3, 13, 10, 0), Duration::hours(1)),
            utc(2026, 3, 15, 5, 0)
        );
        // The same UTC moment is Saturday morning in Tokyo: working time starts Monday.
        let tokyo = BusinessHours::new((0, 4), (9, 0), (18, 0), "Asia/Tokyo").unwrap();
        assert_eq!(
            tokyo.add(utc(2026, 3, 13, 20, 0), Duration::hours(1)),
            utc(2026, 3, 16, 1, 0)
        );
        assert_eq!(dubai.to_string(), "Sun-Thu 08:00-16:00 \"Asia/Dubai\"");
    }

    #[test]
    fn bad_hours_and_unknown_zones_are_refused() {
        let bad = |from, until, zone| BusinessHours::new((0, 4), from, until, zone).err();
        assert_eq!(bad((17, 0), (9, 0), "UTC"), Some(HoursProblem::Hours));
        assert_eq!(bad((9, 60), (17, 0), "UTC"), Some(HoursProblem::Hours));
        assert_eq!(bad((9, 0), (24, 1), "UTC"), Some(HoursProblem::Hours));
        assert_eq!(bad((9, 0), (24, 0), "Mars/Olympus"), Some(HoursProblem::Zone));
        assert_eq!(bad((0, 0), (24, 0), "Europe/Paris"), None);
    }
}
