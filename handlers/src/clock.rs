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
        Clock {
            base: Base::System,
            offset: Arc::new(AtomicU64::new(0f64.to_bits())),
        }
    }

    /// A clock that stands still at `epoch_seconds` until advanced, for deterministic tests.
    pub fn fixed(epoch_seconds: f64) -> Self {
        Clock {
            base: Base::Fixed(epoch_seconds),
            offset: Arc::new(AtomicU64::new(0f64.to_bits())),
        }
    }

    /// Seconds since the epoch, as ECR timestamps are.
    pub fn now(&self) -> f64 {
        let base = match self.base {
            Base::System => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map(|d| d.as_secs_f64())
                .unwrap_or(0.0),
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
        let _ = self
            .offset
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |bits| {
                Some((f64::from_bits(bits) + seconds).to_bits())
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
