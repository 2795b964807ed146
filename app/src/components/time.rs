//! Times as people read them: "5 min ago", with the exact UTC time on hover, from the RFC
//! 3339 strings the backend sends. Counted from the server's clock of the page
//! ([`wire::SessionInfo::now_unix`]), so the server's HTML and the hydrated page agree.

use leptos::prelude::*;
use wire::SessionInfo;

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (inverse of [`days_from_civil`]): (year, month, day).
fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

/// Unix seconds of `YYYY-MM-DDTHH:MM:SS[.fff](Z|+00:00)`; other offsets are not what the
/// backend sends, and give `None`.
#[must_use]
pub fn parse_utc(text: &str) -> Option<i64> {
    let field = |range: std::ops::Range<usize>| text.get(range)?.parse::<i64>().ok();
    let rest = text.get(19..)?;
    let rest = rest
        .strip_prefix('.')
        .map_or(rest, |r| r.trim_start_matches(|c: char| c.is_ascii_digit()));
    if !matches!(rest, "Z" | "+00:00") || text.get(10..11) != Some("T") {
        return None;
    }
    let (y, mo, d) = (field(0..4)?, field(5..7)?, field(8..10)?);
    let (h, mi, s) = (field(11..13)?, field(14..16)?, field(17..19)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || s > 60 {
        return None;
    }
    Some(days_from_civil(y, mo, d) * 86_400 + h * 3600 + mi * 60 + s)
}

/// `2026-12-07 14:05 UTC`.
#[must_use]
pub fn exact(unix: i64) -> String {
    let (y, m, d) = civil_from_days(unix.div_euclid(86_400));
    let secs = unix.rem_euclid(86_400);
    format!(
        "{y}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs / 60 % 60
    )
}

/// `14:05` (a chart's axis within a day).
#[must_use]
pub fn clock(unix: i64) -> String {
    let secs = unix.rem_euclid(86_400);
    format!("{:02}:{:02}", secs / 3600, secs / 60 % 60)
}

/// `12-07` (a chart's axis over a week).
#[must_use]
pub fn day(unix: i64) -> String {
    let (_, m, d) = civil_from_days(unix.div_euclid(86_400));
    format!("{m:02}-{d:02}")
}

/// "just now", "5 min ago", "3 h ago", "2 days ago"; "in 4 min" for the future (an expiry).
#[must_use]
pub fn relative(now: i64, then: i64) -> String {
    let delta = now - then;
    let (ahead, secs) = (delta < 0, delta.unsigned_abs());
    let amount = match secs {
        0..45 => return "just now".to_owned(),
        45..5_400 => format!("{} min", ((secs + 30) / 60).max(1)),
        5_400..172_800 => format!("{} h", (secs + 1800) / 3600),
        _ => format!("{} days", (secs + 43_200) / 86_400),
    };
    if ahead {
        format!("in {amount}")
    } else {
        format!("{amount} ago")
    }
}

/// The clock relative times count from: the server's when the page was made (the same in
/// the server's HTML and the hydrated page), then the browser's clock set to the server's
/// ([`Clock::tick`]): a timer sleeps in a background tab, the browser's clock does not.
#[derive(Clone, Copy)]
pub struct Clock {
    now: RwSignal<i64>,
    /// The server's clock minus the browser's, in seconds.
    #[cfg_attr(
        not(feature = "hydrate"),
        allow(dead_code, reason = "only the browser ticks")
    )]
    offset: i64,
}

/// The browser's clock, Unix seconds.
#[cfg(feature = "hydrate")]
#[allow(
    clippy::cast_possible_truncation,
    reason = "milliseconds since 1970 fit an i64"
)]
fn browser_now() -> i64 {
    (web_sys::js_sys::Date::now() / 1000.0) as i64
}

impl Clock {
    /// Puts the clock of `session` into context for the pages under it.
    pub fn provide(session: &SessionInfo) -> Self {
        #[cfg(feature = "hydrate")]
        let offset = session.now_unix - browser_now();
        #[cfg(not(feature = "hydrate"))]
        let offset = 0;
        let clock = Self {
            now: RwSignal::new(session.now_unix),
            offset,
        };
        provide_context(clock);
        clock
    }

    /// Sets the clock to now (a page's own timer calls it).
    #[cfg(feature = "hydrate")]
    pub fn tick(self) {
        self.now.set(browser_now() + self.offset);
    }
}

fn now() -> i64 {
    use_context::<Clock>().map_or(0, |c| c.now.get())
}

/// A time as "5 min ago", the exact UTC time on hover and in `datetime`. A text that does
/// not parse is shown as it is.
#[component]
pub fn When(#[prop(into)] at: String) -> impl IntoView {
    match parse_utc(&at) {
        Some(unix) => {
            let text = move || {
                let now = now();
                if now > 0 {
                    relative(now, unix)
                } else {
                    exact(unix)
                }
            };
            view! { <time datetime=at title=exact(unix)>{text}</time> }.into_any()
        }
        None => view! { <span>{at}</span> }.into_any(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_what_the_backend_sends() {
        assert_eq!(parse_utc("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(parse_utc("2026-12-07T08:01:02.123Z"), Some(1_796_630_462));
        assert_eq!(parse_utc("2026-12-07T08:01:02+00:00"), Some(1_796_630_462));
        assert_eq!(parse_utc("2000-02-29T12:00:00Z"), Some(951_825_600));
        for bad in [
            "",
            "2026-12-07",
            "2026-13-07T08:01:02Z",
            "2026-12-07T08:01:02+01:00",
            "garbage-in-here-now!",
        ] {
            assert_eq!(parse_utc(bad), None, "{bad}");
        }
    }

    #[test]
    fn dates_round_trip() {
        for unix in [0, 951_825_600, 1_796_630_462, 4_102_444_800] {
            let shown = exact(unix).trim_end_matches(" UTC").replace(' ', "T");
            assert_eq!(parse_utc(&format!("{shown}:00Z")), Some(unix - unix % 60));
        }
        assert_eq!(exact(1_796_630_462), "2026-12-07 08:01 UTC");
        assert_eq!(day(1_796_630_462), "12-07");
        assert_eq!(clock(1_796_630_462), "08:01");
    }

    #[test]
    fn relative_times_read_naturally() {
        let now = 1_796_630_462;
        assert_eq!(relative(now, now - 10), "just now");
        assert_eq!(relative(now, now - 300), "5 min ago");
        assert_eq!(relative(now, now - 61), "1 min ago");
        assert_eq!(relative(now, now - 89), "1 min ago");
        assert_eq!(relative(now, now - 3 * 3600), "3 h ago");
        assert_eq!(relative(now, now - 3 * 86_400), "3 days ago");
        assert_eq!(relative(now, now + 240), "in 4 min");
    }
}
