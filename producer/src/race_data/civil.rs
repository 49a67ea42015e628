//! Calendar dates to event times, without a date-time dependency: the data sets
//! carry the race date only, so a nominal start at 12:00 UTC is all we need.

use schemas::civil::{days_from_civil, days_in_month};

/// Milliseconds per day.
const DAY_MS: i64 = 86_400_000;
/// The nominal start of every race: noon UTC.
const NOON_MS: i64 = DAY_MS / 2;

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
