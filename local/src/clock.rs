//! Time for the runtime: the wall clock (optionally fast-forwarded over idle waits) or a
//! virtual clock that only moves when told, for deterministic tests and simulation. One clock
//! is shared by the queues, the handlers and the workflow engine.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Utc};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Wall { fast_forward: bool },
    Virtual,
}

#[derive(Debug)]
pub struct RuntimeClock {
    mode: Mode,
    /// Wall mode: time skipped so far. Virtual mode: the time itself.
    offset_ms: AtomicI64,
}

impl RuntimeClock {
    /// The wall clock. With `fast_forward`, idle waits (retry backoff, timeouts) are skipped,
    /// so a saga whose cancel is retried for minutes finishes at once, with every timestamp
    /// still consistent.
    pub fn wall(fast_forward: bool) -> Self {
        RuntimeClock {
            mode: Mode::Wall { fast_forward },
            offset_ms: AtomicI64::new(0),
        }
    }

    /// Time that moves only when skipped forward.
    pub fn virtual_at(start_ms: i64) -> Self {
        RuntimeClock {
            mode: Mode::Virtual,
            offset_ms: AtomicI64::new(start_ms),
        }
    }

    pub fn is_virtual(&self) -> bool {
        self.mode == Mode::Virtual
    }

    /// Milliseconds since the Unix epoch.
    pub fn now_ms(&self) -> i64 {
        let offset = self.offset_ms.load(Ordering::SeqCst);
        match self.mode {
            Mode::Wall { .. } => Utc::now().timestamp_millis() + offset,
            Mode::Virtual => offset,
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(self.now_ms()).unwrap_or_default()
    }

    /// Moves time forward to `at` when nothing can happen before it. Returns false when this
    /// clock cannot skip (a strict wall clock): the caller sleeps instead.
    pub fn skip_to(&self, at: i64) -> bool {
        match self.mode {
            Mode::Wall {
                fast_forward: false,
            } => false,
            Mode::Wall { fast_forward: true } => {
                let gap = at - self.now_ms();
                if gap > 0 {
                    self.offset_ms.fetch_add(gap, Ordering::SeqCst);
                }
                true
            }
            Mode::Virtual => {
                self.offset_ms.fetch_max(at, Ordering::SeqCst);
                true
            }
        }
    }

    /// Moves a virtual clock forward by `ms` (no effect on a wall clock).
    pub fn advance(&self, ms: i64) {
        if self.mode == Mode::Virtual {
            self.offset_ms.fetch_add(ms.max(0), Ordering::SeqCst);
        }
    }

    /// Wall time skipped so far (0 for a virtual clock).
    pub fn skipped_ms(&self) -> i64 {
        match self.mode {
            Mode::Wall { .. } => self.offset_ms.load(Ordering::SeqCst),
            Mode::Virtual => 0,
        }
    }
}

impl trip_workflow::Clock for RuntimeClock {
    fn now_ms(&self) -> i64 {
        RuntimeClock::now_ms(self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_virtual_clock_never_goes_back() {
        let c = RuntimeClock::virtual_at(1_000);
        assert!(c.skip_to(5_000));
        assert!(c.skip_to(2_000));
        assert_eq!(c.now_ms(), 5_000);
        c.advance(10);
        assert_eq!(c.now_ms(), 5_010);
    }

    #[test]
    fn a_strict_wall_clock_refuses_to_skip_and_a_fast_one_jumps() {
        let strict = RuntimeClock::wall(false);
        assert!(!strict.skip_to(strict.now_ms() + 60_000));
        let fast = RuntimeClock::wall(true);
        let before = fast.now_ms();
        assert!(fast.skip_to(before + 60_000));
        assert!(fast.now_ms() >= before + 60_000);
        assert!(fast.skipped_ms() > 59_000);
    }
}
