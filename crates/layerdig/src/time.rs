//! Time, for deadlines and expiry: a calendar [`Date`], a [`Timestamp`] in whole seconds (RFC
//! 3339 in reports), and the [`Clock`] they are read from — the system's, or a fixed one that
//! makes reports reproducible. A leaf: it imports nothing of layerdig's.

use std::fmt;
use std::time::Instant;

/// A calendar date, for allow entries' expiry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    year: i32,
    month: u8,
    day: u8,
}

impl Date {
    /// Parse `YYYY-MM-DD` (surrounding whitespace allowed); `None` when it is not a date.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.trim().splitn(3, '-');
        let year = parts.next()?.parse().ok()?;
        let month: u8 = parts.next()?.parse().ok()?;
        let day: u8 = parts.next()?.parse().ok()?;
        ((1..=12).contains(&month) && (1..=31).contains(&day)).then_some(Date { year, month, day })
    }

    /// Today, in UTC.
    #[must_use]
    pub fn today() -> Date {
        let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        Date::from_days((secs / 86_400) as i64)
    }

    /// The UTC date of a time given in seconds since 1970-01-01T00:00:00Z.
    #[must_use]
    pub fn from_unix(secs: i64) -> Date {
        Date::from_days(secs.div_euclid(86_400))
    }

    /// Days since 1970-01-01 (the inverse of `from_days`, Howard Hinnant's algorithm).
    pub(crate) fn days(self) -> i64 {
        let y = i64::from(self.year) - i64::from(self.month <= 2);
        let era = y.div_euclid(400);
        let yoe = y.rem_euclid(400);
        let m = i64::from(self.month);
        let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(self.day) - 1;
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
        era * 146_097 + doe - 719_468
    }

    /// The civil date `days` after 1970-01-01 (Howard Hinnant's algorithm).
    pub(crate) fn from_days(days: i64) -> Date {
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z.rem_euclid(146_097);
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u8;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

/// A moment, in whole seconds since 1970-01-01T00:00:00Z, written as RFC 3339 in UTC
/// (`2026-12-01T19:24:43Z`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

impl Timestamp {
    /// From seconds since the epoch.
    pub fn from_unix(secs: i64) -> Timestamp {
        Timestamp(secs)
    }

    /// Seconds since the epoch.
    pub fn unix(self) -> i64 {
        self.0
    }

    /// The UTC date.
    pub fn date(self) -> Date {
        Date::from_unix(self.0)
    }

    /// `self` plus `secs` seconds.
    #[must_use]
    pub fn plus(self, secs: u64) -> Timestamp {
        Timestamp(self.0.saturating_add(i64::try_from(secs).unwrap_or(i64::MAX)))
    }

    /// Parse RFC 3339 (`2026-12-01T19:24:43Z`, `…+02:00`, fractions of a second ignored) or a
    /// plain date (`2026-12-01`, meaning its midnight UTC). `None` when it is neither.
    pub fn parse(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        let (date, rest) = if text.len() > 10 { text.split_at(10) } else { (text, "") };
        if date.len() != 10 {
            return None;
        }
        let days = Date::parse(date)?.days();
        if rest.is_empty() {
            return Some(Timestamp(days * 86_400));
        }
        let rest = rest.strip_prefix(['T', 't', ' '])?;
        let field = |s: &str| -> Option<i64> {
            (s.len() == 2 && s.bytes().all(|b| b.is_ascii_digit())).then(|| s.parse().ok())?
        };
        let (h, m, s) = (field(rest.get(0..2)?)?, field(rest.get(3..5)?)?, field(rest.get(6..8)?)?);
        if rest.get(2..3) != Some(":") || rest.get(5..6) != Some(":") || h > 23 || m > 59 || s > 60 {
            return None;
        }
        let mut zone = &rest[8..];
        if let Some(fraction) = zone.strip_prefix('.') {
            zone = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
        }
        let offset = match zone {
            "Z" | "z" => 0,
            _ => {
                let sign = match zone.get(0..1)? {
                    "+" => 1,
                    "-" => -1,
                    _ => return None,
                };
                if zone.len() != 6 || zone.get(3..4) != Some(":") {
                    return None;
                }
                sign * (field(&zone[1..3])? * 3_600 + field(&zone[4..6])? * 60)
            }
        };
        Some(Timestamp(days * 86_400 + h * 3_600 + m * 60 + s - offset))
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.rem_euclid(86_400);
        write!(f, "{}T{:02}:{:02}:{:02}Z", self.date(), secs / 3_600, secs / 60 % 60, secs % 60)
    }
}

/// Where the time comes from: the system's clock, or a fixed moment (a clock that does not move:
/// deadlines and expiry are judged as of it and durations read 0, so a report is reproducible).
/// Tests use a fixed clock; so does `layerdig scan --now`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Clock {
    /// The system's clock.
    #[default]
    System,
    /// Always this moment.
    Fixed(Timestamp),
}

impl Clock {
    /// Now.
    pub fn now(self) -> Timestamp {
        match self {
            Clock::System => {
                let secs = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map(|d| d.as_secs())
                    .unwrap_or(0);
                Timestamp(i64::try_from(secs).unwrap_or(i64::MAX))
            }
            Clock::Fixed(t) => t,
        }
    }

    /// Milliseconds since `started` (0 on a fixed clock).
    pub fn elapsed_ms(self, started: Instant) -> u64 {
        match self {
            Clock::System => u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
            Clock::Fixed(_) => 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_print_and_parse() {
        let t = Timestamp::parse("2026-12-01T19:24:43Z").unwrap();
        assert_eq!(t.to_string(), "2026-12-01T19:24:43Z");
        assert_eq!(t.unix(), 1_796_153_083);
        assert_eq!(Timestamp::parse("2026-12-01T21:24:43.5+02:00"), Some(t));
        assert_eq!(Timestamp::parse("2026-12-01").unwrap().to_string(), "2026-12-01T00:00:00Z");
        assert_eq!(Timestamp::from_unix(0).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(t.plus(86_400).to_string(), "2026-12-02T19:24:43Z");
        for bad in ["", "2026-13-01", "2026-12-01T25:00:00Z", "2026-12-01T10:00:00", "yesterday", "2026-12-01T10:00Z"] {
            assert_eq!(Timestamp::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_fixed_clock_stands_still() {
        let t = Timestamp::parse("2026-01-02T03:04:05Z").unwrap();
        let clock = Clock::Fixed(t);
        let started = Instant::now();
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), t);
        assert_eq!(clock.elapsed_ms(started), 0);
        assert!(Clock::System.elapsed_ms(started) >= 5);
    }

    #[test]
    fn civil_dates_round_trip() {
        for days in [-1_000_000, -1, 0, 59, 60, 11_016, 19_723, 20_089, 2_932_896] {
            assert_eq!(Date::from_days(days).days(), days, "{days}");
        }
    }
}
