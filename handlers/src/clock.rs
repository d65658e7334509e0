//! The one source of time for everything berth records or decides (push and pull times,
//! token and URL expiry, upload expiry, and later lifecycle, scans, replication).
//!
//! Behaviour that happens later is tested by moving this clock and running the job now,
//! never by sleeping: `--admin-api` exposes `POST /_berth/admin/clock/advance`, unit tests
//! use [`Clock::fixed`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock time plus an offset that only moves forward; cheap to clone (clones share
/// the offset).
#[derive(Debug, Clone)]
pub struct Clock {
    base: Base,
    /// Seconds added by [`Clock::advance`], as the bits of an `f64`.
    offset: Arc<AtomicU64>,
}

#[derive(Debug, Clone, Copy)]
enum Base {
    System,
    /// Frozen at these epoch seconds: only `advance` moves it.
    Fixed(f64),
}

impl Clock {
    /// The machine's clock.
    pub fn system() -> Self {
        Clock { base: Base::System, offset: Arc::new(AtomicU64::new(0f64.to_bits())) }
    }

    /// A clock that stands still at `epoch_seconds` until advanced, for deterministic tests.
    pub fn fixed(epoch_seconds: f64) -> Self {
        Clock { base: Base::Fixed(epoch_seconds), offset: Arc::new(AtomicU64::new(0f64.to_bits())) }
    }

    /// Seconds since the epoch, as ECR timestamps are.
    pub fn now(&self) -> f64 {
        let base = match self.base {
            Base::System => {
                SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
            }
            Base::Fixed(at) => at,
        };
        base + f64::from_bits(self.offset.load(Ordering::SeqCst))
    }

    /// Whole seconds since the epoch, for expiry claims.
    pub fn now_secs(&self) -> u64 {
        self.now().max(0.0) as u64
    }

    /// Moves time forward by `seconds` (negative or non-finite values are ignored: time
    /// never goes back, so nothing recorded ever lies in the future).
    pub fn advance(&self, seconds: f64) {
        if !seconds.is_finite() || seconds <= 0.0 {
            return;
        }
        let _ = self.offset.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |bits| {
            Some((f64::from_bits(bits) + seconds).to_bits())
        });
    }
}

/// `epoch` seconds as RFC 3339 UTC (`2026-11-30T01:02:03Z`), as signatures date themselves.
pub fn rfc3339(epoch: f64) -> String {
    let seconds = epoch.floor() as i64;
    let (days, of_day) = (seconds.div_euclid(86400), seconds.rem_euclid(86400));
    // Howard Hinnant's civil-from-days.
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        of_day / 3600,
        of_day % 3600 / 60,
        of_day % 60
    )
}

/// Epoch seconds of an RFC 3339 time (`2024-05-01T12:00:00Z`, fractions and offsets
/// ignored), as OSV advisories date themselves.
pub fn parse_rfc3339(text: &str) -> Option<f64> {
    let (date, time) = text.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let time = time.trim_end_matches('Z');
    let time = time.split(['+', '.']).next()?;
    let mut t = time.split(':').map(|p| p.parse::<i64>());
    let (h, min, s) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    // Days from 1970-01-01 (Howard Hinnant's days-from-civil).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some((days * 86400 + h * 3600 + min * 60 + s) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_both_ways() {
        for (epoch, text) in [
            (0.0, "1970-01-01T00:00:00Z"),
            (1717200000.0, "2024-06-01T00:00:00Z"),
            (1772845323.5, "2026-03-07T01:02:03Z"),
        ] {
            assert_eq!(rfc3339(epoch), text);
            assert_eq!(parse_rfc3339(text), Some(epoch.floor()));
        }
    }

    #[test]
    fn a_fixed_clock_moves_only_when_advanced_and_clones_share_it() {
        let clock = Clock::fixed(1000.0);
        let other = clock.clone();
        assert_eq!(clock.now(), 1000.0);
        other.advance(86_400.0);
        assert_eq!(clock.now(), 87_400.0);
        clock.advance(-5.0);
        clock.advance(f64::NAN);
        assert_eq!(other.now(), 87_400.0);
        assert_eq!(other.now_secs(), 87_400);
    }

    #[test]
    fn the_system_clock_is_ahead_by_what_was_advanced() {
        let clock = Clock::system();
        let before = clock.now();
        clock.advance(3600.0);
        let after = clock.now();
        assert!(after - before >= 3600.0, "{before} -> {after}");
        assert!(after - before < 3600.0 + 60.0, "{before} -> {after}");
    }
}
