//! Timestamps of a forecast request: RFC 3339 text or integer epoch seconds in,
//! epoch seconds inside, RFC 3339 UTC out.
//!
//! Prophet works in whole seconds since the Unix epoch, so that is what the
//! model sees. Clients may send either form because a browser naturally has
//! ISO strings and a SQL client naturally has epoch numbers; the output is always
//! `YYYY-MM-DDTHH:MM:SSZ`, which both can read back. Hand-written (about a
//! hundred lines with the calendar maths) rather than pulling a date crate into
//! the serving layer for one format. Years are limited to 0000..=9999, the range
//! RFC 3339 can write, so every accepted or forecast timestamp can be printed.

use std::fmt;

use serde::de::{self, Deserializer, SeqAccess, Visitor};

/// 0000-01-01T00:00:00Z in epoch seconds.
pub(crate) const MIN_SECONDS: i64 = -62_167_219_200;
/// 9999-12-31T23:59:59Z in epoch seconds.
pub(crate) const MAX_SECONDS: i64 = 253_402_300_799;

const SECONDS_PER_DAY: i64 = 86_400;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, valid for every year an `i64` can hold here).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year.rem_euclid(400);
    let month_from_march = i64::from((month + 9) % 12);
    let day_of_year = (153 * month_from_march + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days.rem_euclid(146_097);
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    // Both casts are in range by construction: month is 1..=12, day 1..=31.
    (year, month as u32, day as u32)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 31,
    }
}

/// Formats epoch seconds as `YYYY-MM-DDTHH:MM:SSZ`.
///
/// Callers keep seconds within [`MIN_SECONDS`]..=[`MAX_SECONDS`]; outside it
/// the year would not have four digits and the text would not be RFC 3339.
pub(crate) fn format_rfc3339(seconds: i64) -> String {
    let (year, month, day) = civil_from_days(seconds.div_euclid(SECONDS_PER_DAY));
    let second_of_day = seconds.rem_euclid(SECONDS_PER_DAY);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day / 60 % 60,
        second_of_day % 60
    )
}

/// Reads `len` ASCII digits at `at` as a number.
fn digits(text: &[u8], at: usize, len: usize) -> Option<u32> {
    let slice = text.get(at..at + len)?;
    slice.iter().try_fold(0u32, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + u32::from(b - b'0'))
    })
}

fn expect_byte(text: &[u8], at: usize, allowed: &[u8]) -> Result<(), String> {
    match text.get(at) {
        Some(b) if allowed.contains(b) => Ok(()),
        _ => Err(format!(
            "expected {:?} at character {}",
            allowed[0] as char,
            at + 1
        )),
    }
}

/// Parses an RFC 3339 `date-time` (`2017-03-19T12:00:00Z`,
/// `2017-03-19 13:00:00+01:00`) into epoch seconds.
///
/// A fraction of a second is accepted only if it is zero, because Prophet's
/// timestamps are whole seconds and silently dropping precision would merge
/// distinct points. Leap seconds (`:60`) are refused for the same reason.
pub(crate) fn parse_rfc3339(text: &str) -> Result<i64, String> {
    let b = text.as_bytes();
    let number = |at, len, what: &str| {
        digits(b, at, len).ok_or_else(|| format!("expected {len} digits of the {what}"))
    };
    let year = i64::from(number(0, 4, "year")?);
    expect_byte(b, 4, b"-")?;
    let month = number(5, 2, "month")?;
    expect_byte(b, 7, b"-")?;
    let day = number(8, 2, "day")?;
    expect_byte(b, 10, b"Tt ")?;
    let hour = number(11, 2, "hour")?;
    expect_byte(b, 13, b":")?;
    let minute = number(14, 2, "minute")?;
    expect_byte(b, 16, b":")?;
    let second = number(17, 2, "second")?;
    if !(1..=12).contains(&month) {
        return Err(format!("month {month} is out of range"));
    }
    if day == 0 || day > days_in_month(year, month) {
        return Err(format!("day {day} does not exist in {year:04}-{month:02}"));
    }
    if hour > 23 || minute > 59 || second > 59 {
        return Err(format!(
            "time {hour:02}:{minute:02}:{second:02} is out of range"
        ));
    }
    let mut at = 19;
    if b.get(at) == Some(&b'.') {
        let fraction = b[at + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .count();
        if fraction == 0 {
            return Err("expected digits after the decimal point".to_owned());
        }
        if b[at + 1..at + 1 + fraction].iter().any(|&c| c != b'0') {
            return Err("has a fraction of a second; only whole seconds are supported".to_owned());
        }
        at += 1 + fraction;
    }
    let offset = match b.get(at) {
        Some(b'Z' | b'z') if b.len() == at + 1 => 0,
        Some(&sign @ (b'+' | b'-')) if b.len() == at + 6 => {
            expect_byte(b, at + 3, b":")?;
            let hours = number(at + 1, 2, "offset hours")?;
            let minutes = number(at + 4, 2, "offset minutes")?;
            if hours > 23 || minutes > 59 {
                return Err(format!("offset {hours:02}:{minutes:02} is out of range"));
            }
            let seconds = i64::from(hours * 3600 + minutes * 60);
            if sign == b'+' { seconds } else { -seconds }
        }
        _ => return Err("expected `Z` or an offset like `+01:00` at the end".to_owned()),
    };
    let local = days_from_civil(year, month, day) * SECONDS_PER_DAY
        + i64::from(hour * 3600 + minute * 60 + second);
    check_range(local - offset)
}

fn check_range(seconds: i64) -> Result<i64, String> {
    if (MIN_SECONDS..=MAX_SECONDS).contains(&seconds) {
        Ok(seconds)
    } else {
        Err(format!(
            "{seconds} s is outside years 0000..=9999 ({MIN_SECONDS}..={MAX_SECONDS} epoch seconds)"
        ))
    }
}

/// One element of `ds`: epoch seconds, whichever form the client sent.
struct EpochSeconds(i64);

impl<'de> de::Deserialize<'de> for EpochSeconds {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(EpochSecondsVisitor)
    }
}

struct EpochSecondsVisitor;

impl Visitor<'_> for EpochSecondsVisitor {
    type Value = EpochSeconds;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an RFC 3339 timestamp string or integer epoch seconds")
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<EpochSeconds, E> {
        check_range(v).map(EpochSeconds).map_err(E::custom)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<EpochSeconds, E> {
        let v = i64::try_from(v).unwrap_or(i64::MAX);
        self.visit_i64(v)
    }

    /// `1489924800.0` (what a float-typed client column sends) is accepted;
    /// a real fraction is not, for the reason given at [`parse_rfc3339`].
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<EpochSeconds, E> {
        let in_range = (MIN_SECONDS as f64..=MAX_SECONDS as f64).contains(&v);
        if in_range && v.fract() == 0.0 {
            // Exact: an integral f64 within ±2^53 converts without rounding.
            self.visit_i64(v as i64)
        } else {
            Err(E::custom(format!(
                "{v} is not whole epoch seconds within years 0000..=9999"
            )))
        }
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<EpochSeconds, E> {
        parse_rfc3339(v)
            .map(EpochSeconds)
            .map_err(|why| E::custom(format!("{v:?} is not an RFC 3339 timestamp: {why}")))
    }
}

/// Deserializes an optional list of timestamps (the `ds` field) into epoch seconds.
pub(crate) fn deserialize_opt_seconds<'de, D>(deserializer: D) -> Result<Option<Vec<i64>>, D::Error>
where
    D: Deserializer<'de>,
{
    struct ListVisitor;

    impl<'de> Visitor<'de> for ListVisitor {
        type Value = Vec<i64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of RFC 3339 timestamp strings or integer epoch seconds")
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Vec<i64>, A::Error> {
            let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0).min(4096));
            while let Some(EpochSeconds(s)) = seq.next_element()? {
                out.push(s);
            }
            Ok(out)
        }
    }

    struct OptionVisitor;

    impl<'de> Visitor<'de> for OptionVisitor {
        type Value = Option<Vec<i64>>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a list of timestamps or null")
        }

        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(None)
        }

        fn visit_some<D2: Deserializer<'de>>(self, d: D2) -> Result<Self::Value, D2::Error> {
            d.deserialize_seq(ListVisitor).map(Some)
        }
    }

    deserializer.deserialize_option(OptionVisitor)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_and_parses_the_ends_of_the_range() {
        assert_eq!(format_rfc3339(MIN_SECONDS), "0000-01-01T00:00:00Z");
        assert_eq!(format_rfc3339(MAX_SECONDS), "9999-12-31T23:59:59Z");
        assert_eq!(parse_rfc3339("0000-01-01T00:00:00Z"), Ok(MIN_SECONDS));
        assert_eq!(parse_rfc3339("9999-12-31T23:59:59Z"), Ok(MAX_SECONDS));
        assert!(parse_rfc3339("0000-01-01T00:00:00+00:01").is_err());
    }

    #[test]
    fn known_instants() {
        assert_eq!(parse_rfc3339("1970-01-01T00:00:00Z"), Ok(0));
        // The last RSVP hour of the recorded feed (mtime 1489926608318 ms).
        assert_eq!(parse_rfc3339("2017-03-19T12:00:00Z"), Ok(1_489_924_800));
        assert_eq!(
            parse_rfc3339("2017-03-19 13:00:00+01:00"),
            Ok(1_489_924_800)
        );
        assert_eq!(
            parse_rfc3339("2017-03-19t11:30:00.000-00:30"),
            Ok(1_489_924_800)
        );
        assert_eq!(format_rfc3339(1_489_924_800), "2017-03-19T12:00:00Z");
        assert_eq!(parse_rfc3339("2016-02-29T00:00:00Z"), Ok(1_456_704_000));
        assert_eq!(format_rfc3339(-1), "1969-12-31T23:59:59Z");
    }

    #[test]
    fn every_day_round_trips() {
        // Every day from 1600 to 2500 (leap rules for 1700/1800/1900/2000/2100).
        let start = days_from_civil(1600, 1, 1);
        let end = days_from_civil(2500, 1, 1);
        let mut expected = (1600, 1, 1);
        for days in start..end {
            assert_eq!(civil_from_days(days), expected);
            assert_eq!(days_from_civil(expected.0, expected.1, expected.2), days);
            let (y, m, d) = expected;
            expected = if d < days_in_month(y, m) {
                (y, m, d + 1)
            } else if m < 12 {
                (y, m + 1, 1)
            } else {
                (y + 1, 1, 1)
            };
        }
    }

    #[test]
    fn rejects_what_is_not_rfc3339() {
        for bad in [
            "2017-03-19",
            "2017-03-19T12:00:00",
            "2017-13-01T00:00:00Z",
            "2017-02-29T00:00:00Z",
            "2017-03-19T24:00:00Z",
            "2016-12-31T23:59:60Z",
            "2017-03-19T12:00:00.5Z",
            "2017-03-19T12:00:00.Z",
            "2017-03-19T12:00:00+0100",
            "2017-03-19T12:00:00Zjunk",
            "17-03-19T12:00:00Z",
            "",
        ] {
            assert!(parse_rfc3339(bad).is_err(), "{bad:?} was accepted");
        }
    }
}
