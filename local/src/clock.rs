//! Time for the runtime: the wall clock (optionally fast-forwarded over idle waits) or a
//! virtual clock that only moves when told, for deterministic tests and simulation.

use chrono::{DateTime, Utc};

pub trait Clock: Send {
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;

    /// Moves time forward to `at` when nothing can happen before it. A virtual clock jumps; a
    /// fast-forwarding wall clock adds the gap to its offset; a strict wall clock refuses
    /// (returns false) and the caller sleeps instead.
    fn skip_to(&mut self, at: i64) -> bool;

    fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_default()
    }
}

/// The wall clock. With `fast_forward`, idle waits (retry backoff, timeouts) are skipped, so a
/// saga whose cancel is retried for minutes finishes at once while every timestamp stays
/// consistent.
#[derive(Debug, Default)]
pub struct SystemClock {
    pub fast_forward: bool,
    offset_ms: i64,
}

impl SystemClock {
    pub fn new(fast_forward: bool) -> Self {
        SystemClock {
            fast_forward,
            offset_ms: 0,
        }
    }

    /// Time skipped so far.
    pub fn skipped_ms(&self) -> i64 {
        self.offset_ms
    }
}

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        Utc::now().timestamp_millis() + self.offset_ms
    }

    fn skip_to(&mut self, at: i64) -> bool {
        if !self.fast_forward {
            return false;
        }
        let now = self.now_ms();
        if at > now {
            self.offset_ms += at - now;
        }
        true
    }
}

/// Time that moves only when skipped forward.
#[derive(Debug, Clone)]
pub struct VirtualClock {
    now_ms: i64,
}

impl VirtualClock {
    pub fn starting_at(now_ms: i64) -> Self {
        VirtualClock { now_ms }
    }

    pub fn advance(&mut self, ms: i64) {
        self.now_ms += ms.max(0);
    }
}

impl Clock for VirtualClock {
    fn now_ms(&self) -> i64 {
        self.now_ms
    }

    fn skip_to(&mut self, at: i64) -> bool {
        self.now_ms = self.now_ms.max(at);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_clock_never_goes_back() {
        let mut c = VirtualClock::starting_at(1_000);
        assert!(c.skip_to(5_000));
        assert!(c.skip_to(2_000));
        assert_eq!(c.now_ms(), 5_000);
    }

    #[test]
    fn a_strict_wall_clock_refuses_to_skip() {
        let mut c = SystemClock::new(false);
        assert!(!c.skip_to(c.now_ms() + 60_000));
        let mut f = SystemClock::new(true);
        let before = f.now_ms();
        assert!(f.skip_to(before + 60_000));
        assert!(f.now_ms() >= before + 60_000);
        assert!(f.skipped_ms() > 59_000);
    }
}
