//! Dates as CertCentral writes them (`2026-12-02`, `2026-12-02T10:00:00+00:00`, `...Z`) turned into
//! Unix seconds, and back, with the civil-calendar arithmetic done here rather than by a crate:
//! dcv-hook only compares expiry times with now. Also durations given as seconds ([`seconds_arg`]).

/// A duration flag's value: a positive number of seconds (fractions allowed, below 1e9), for clap,
/// so a bad value is refused where it was given (a flag: 64; the config file: 78 naming it).
pub fn seconds_arg(text: &str) -> std::result::Result<f64, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|v| v.is_finite() && *v > 0.0 && *v < 1e9)
        .ok_or_else(|| format!("must be a positive number of seconds, not {text}"))
}

/// Unix seconds of `text`: a date (its midnight UTC, the start of that day) or a date-time with a
/// `Z` or `+HH:MM` / `-HH:MM` offset (none means UTC). `None` when it is neither.
pub fn parse(text: &str) -> Option<i64> {
    let text = text.trim();
    let (date, time) = match text.split_once(['T', ' ']) {
        Some((d, t)) => (d, Some(t)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let y: i64 = parts.next()?.parse().ok()?;
    let m: u32 = parts.next()?.parse().ok()?;
    let d: u32 = parts.next()?.parse().ok()?;
    if parts.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    let days = days_from_civil(y, m, d);
    // 2026-02-31 is no date: a day past its month's end does not come back the same.
    if civil_from_days(days) != (y, m, d) {
        return None;
    }
    let mut seconds = days * 86_400;
    if let Some(time) = time {
        let (clock, offset) = split_offset(time)?;
        let mut hms = clock.split(':');
        let h: i64 = hms.next()?.parse().ok()?;
        let min: i64 = hms.next()?.parse().ok()?;
        let sec: f64 = hms.next().unwrap_or("0").parse().ok()?;
        if h > 23 || min > 59 || !(0.0..61.0).contains(&sec) {
            return None;
        }
        seconds += h * 3600 + min * 60 + sec as i64 - offset;
    }
    Some(seconds)
}

/// `2026-12-02` for Unix seconds `t` (UTC).
pub fn format_date(t: i64) -> String {
    let (y, m, d) = civil_from_days(t.div_euclid(86_400));
    format!("{y:04}-{m:02}-{d:02}")
}

/// Now, in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The clock part and the offset east of UTC in seconds.
fn split_offset(time: &str) -> Option<(&str, i64)> {
    if let Some(clock) = time.strip_suffix('Z').or_else(|| time.strip_suffix('z')) {
        return Some((clock, 0));
    }
    if let Some(i) = time.rfind(['+', '-']).filter(|&i| i >= 5) {
        let (clock, offset) = time.split_at(i);
        let sign = if offset.starts_with('-') { -1 } else { 1 };
        let digits: String = offset[1..].chars().filter(|c| c.is_ascii_digit()).collect();
        if digits.len() != 4 {
            return None;
        }
        let h: i64 = digits[..2].parse().ok()?;
        let m: i64 = digits[2..].parse().ok()?;
        return Some((clock, sign * (h * 3600 + m * 60)));
    }
    Some((time, 0))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_past_the_end_of_their_month_are_no_dates() {
        for bad in [
            "2026-02-29",
            "2026-02-31",
            "2026-04-31",
            "2100-02-29",
            "2026-11-31T00:00:00Z",
        ] {
            assert_eq!(parse(bad), None, "{bad}");
        }
        for good in ["2028-02-29", "2000-02-29", "2026-12-31", "2026-01-31"] {
            assert!(parse(good).is_some(), "{good}");
        }
    }

    #[test]
    fn dates_and_date_times_parse_to_unix_seconds() {
        let table = [
            ("1970-01-01", Some(0)),
            ("2026-12-02", Some(1_796_169_600)),
            ("2026-12-02T10:00:00+00:00", Some(1_796_169_600 + 36_000)),
            ("2026-12-02T10:00:00Z", Some(1_796_169_600 + 36_000)),
            ("2026-12-02T10:00:00+02:00", Some(1_796_169_600 + 28_800)),
            ("2026-12-02T10:00:00.5-01:30", Some(1_796_169_600 + 41_400)),
            ("2024-02-29", Some(1_709_164_800)),
            ("2026-13-01", None),
            ("soon", None),
            ("", None),
        ];
        for (text, want) in table {
            assert_eq!(parse(text), want, "{text}");
        }
        assert_eq!(format_date(1_796_169_600 + 36_000), "2026-12-02");
        for t in [0, 1_709_164_800, 4_102_444_800] {
            assert_eq!(parse(&format_date(t)), Some(t));
        }
    }
}
