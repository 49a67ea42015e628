//! Calendar dates to event times, without a date-time dependency: the data sets
//! carry the race date only, so a nominal start at 12:00 UTC is all we need.

/// Milliseconds per day.
const DAY_MS: i64 = 86_400_000;
/// The nominal start of every race: noon UTC.
const NOON_MS: i64 = DAY_MS / 2;

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's
/// `days_from_civil`), valid for any `i64`-sized year we can meet.
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(month);
    let mp = if m > 2 { m - 3 } else { m + 9 };
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Days in `month` of `year`.
fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// The race start for a `YYYY-MM-DD` date: noon UTC, ms since the Unix epoch.
/// `None` unless the text is exactly a valid date in that form.
pub(crate) fn noon_utc_ms(date: &str) -> Option<i64> {
    let bytes = date.as_bytes();
    if bytes.len() != 10 || bytes[4] != b'-' || bytes[7] != b'-' {
        return None;
    }
    let digits = |s: &str| -> Option<u32> {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let year = i64::from(digits(date.get(0..4)?)?);
    let month = digits(date.get(5..7)?)?;
    let day = digits(date.get(8..10)?)?;
    if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
        return None;
    }
    Some(days_from_civil(year, month, day) * DAY_MS + NOON_MS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(1969, 12, 31), -1);
        // 2021-03-28T12:00:00Z, the 2021 Bahrain GP.
        assert_eq!(noon_utc_ms("2021-03-28"), Some(1_616_932_800_000));
        assert_eq!(noon_utc_ms("2020-02-29"), Some(1_582_977_600_000));
    }

    #[test]
    fn rejects_non_dates() {
        for bad in [
            "2021-02-29",
            "2021-13-01",
            "2021-1-01",
            "21-01-01",
            "2021/01/01",
            "+021-01-01",
            "",
        ] {
            assert_eq!(noon_utc_ms(bad), None, "{bad}");
        }
    }
}
