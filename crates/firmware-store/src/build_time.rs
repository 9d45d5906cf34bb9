//! The build time that C compilers put in `__DATE__ " " __TIME__`.

use serde::{Deserialize, Serialize};

/// A firmware build time as written by the compiler, e.g. `Aug 14 2017 20:31:49` or
/// `May  8 2018 19:30:18` (the day is space-padded).
///
/// The compiler writes the build machine's local time without a zone, so
/// [`BuildTime::unix_timestamp`] reads it as if it were UTC: good for ordering builds
/// of one project, not an exact instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct BuildTime {
    /// Year, e.g. 2026.
    pub year: u16,
    /// Month, 1 to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 59.
    pub second: u8,
}

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

impl BuildTime {
    /// Parses `Mmm dd yyyy hh:mm:ss`. Fields may be separated by any run of ASCII
    /// spaces (the compiler pads single-digit days with a space). Returns `None` for
    /// anything else, including impossible dates such as `Feb 30`.
    pub fn parse(text: &str) -> Option<Self> {
        let mut parts = text.split(' ').filter(|p| !p.is_empty());
        let month_name = parts.next()?;
        let day = parts.next()?;
        let year = parts.next()?;
        let time = parts.next()?;
        if parts.next().is_some() {
            return None;
        }
        let month = MONTHS.iter().position(|m| *m == month_name)? + 1;
        let month = u8::try_from(month).ok()?;
        let day: u8 = digits(day, 1, 2)?;
        let year: u16 = digits(year, 4, 4)?;
        let mut hms = time.split(':');
        let hour: u8 = digits(hms.next()?, 2, 2)?;
        let minute: u8 = digits(hms.next()?, 2, 2)?;
        let second: u8 = digits(hms.next()?, 2, 2)?;
        if hms.next().is_some() {
            return None;
        }
        let valid = day >= 1
            && day <= days_in_month(year, month)
            && hour < 24
            && minute < 60
            && second < 60;
        valid.then_some(BuildTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
        })
    }

    /// Seconds since 1970-01-01 00:00:00, reading the build time as UTC (may be
    /// negative for builds before 1970).
    pub fn unix_timestamp(&self) -> i64 {
        days_from_civil(
            i64::from(self.year),
            i64::from(self.month),
            i64::from(self.day),
        ) * 86_400
            + i64::from(self.hour) * 3_600
            + i64::from(self.minute) * 60
            + i64::from(self.second)
    }
}

/// Parses an ASCII decimal number of `min..=max` digits.
fn digits<T: std::str::FromStr>(text: &str, min: usize, max: usize) -> Option<T> {
    let ok = (min..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| text.parse().ok()).flatten()
}

fn days_in_month(year: u16, month: u8) -> u8 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (the well-known era-based
/// conversion: years start in March so the leap day is the last day of a year).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let shifted_month = (month + 9) % 12; // March = 0
    let day_of_year = (153 * shifted_month + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_compiler_strings() {
        let t = BuildTime::parse("Aug 14 2017 20:31:49").unwrap();
        assert_eq!(
            t,
            BuildTime {
                year: 2017,
                month: 8,
                day: 14,
                hour: 20,
                minute: 31,
                second: 49
            }
        );
        // `date -u -d '2017-08-14 20:31:49' +%s`
        assert_eq!(t.unix_timestamp(), 1_502_742_709);
        let t = BuildTime::parse("May  8 2018 19:30:18").unwrap();
        assert_eq!((t.month, t.day), (5, 8));
        assert_eq!(t.unix_timestamp(), 1_525_807_818);
        let t = BuildTime::parse("Dec  4 2026 14:51:12").unwrap();
        assert_eq!(t.unix_timestamp(), 1_796_395_872);
    }

    #[test]
    fn known_epoch_points() {
        let epoch = BuildTime::parse("Jan  1 1970 00:00:00").unwrap();
        assert_eq!(epoch.unix_timestamp(), 0);
        assert_eq!(
            BuildTime::parse("Feb 29 2000 00:00:00")
                .unwrap()
                .unix_timestamp(),
            951_782_400
        );
        assert_eq!(
            BuildTime::parse("Dec 31 1969 23:59:59")
                .unwrap()
                .unix_timestamp(),
            -1
        );
    }

    #[test]
    fn rejects_non_dates() {
        for bad in [
            "",
            "Aug 14 2017",
            "Aug 14 2017 20:31",
            "Aug 14 2017 20:31:49 extra",
            "Foo 14 2017 20:31:49",
            "aug 14 2017 20:31:49",
            "Feb 29 2019 00:00:00",
            "Feb 30 2020 00:00:00",
            "Apr 31 2020 00:00:00",
            "Aug  0 2017 20:31:49",
            "Aug 14 2017 24:00:00",
            "Aug 14 2017 20:60:00",
            "Aug 14 2017 20:31:60",
            "Aug 14 17 20:31:49",
            "Aug +4 2017 20:31:49",
            "Aug 14 2017 2:31:49",
            "Aug\t14 2017 20:31:49",
        ] {
            assert_eq!(BuildTime::parse(bad), None, "{bad:?}");
        }
    }
}
