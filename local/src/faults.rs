//! Fault injection: the things that go wrong in production, at seeded rates, so a run can be
//! reproduced from its seed.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::{Deserialize, Serialize};
use trip_booking::Error;
use trip_events::Service;

use crate::adapters::lock;

/// Probabilities (0.0 to 1.0) of each fault, per opportunity.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FaultRates {
    /// A delivered message is delivered twice.
    pub duplicate: f64,
    /// A message is delayed before it becomes visible (reordering it behind later ones).
    pub delay: f64,
    /// Longest such delay, ms.
    pub max_delay_ms: i64,
    /// A booking store call fails with a transient error.
    pub store_error: f64,
    /// A cancellation fails with a transient error (the original demo failed 60% of cancels).
    pub cancel_error: f64,
    /// A service's publish fails with a transient error.
    pub publish_error: f64,
    /// A callback to the workflow is lost (the task times out and is compensated).
    pub lost_callback: f64,
    /// The workflow's putEvents fails (retried by the state's Retry).
    pub workflow_publish_error: f64,
    /// A handler crashes in the middle of a batch: the rest of the batch is not processed and
    /// nothing is acknowledged (messages come back after their visibility timeout).
    pub crash_mid_batch: f64,
    /// The whole process crashes after a step and restarts from the store.
    pub process_crash: f64,
}

impl FaultRates {
    pub const NONE: FaultRates = FaultRates {
        duplicate: 0.0,
        delay: 0.0,
        max_delay_ms: 0,
        store_error: 0.0,
        cancel_error: 0.0,
        publish_error: 0.0,
        lost_callback: 0.0,
        workflow_publish_error: 0.0,
        crash_mid_batch: 0.0,
        process_crash: 0.0,
    };

    /// Defaults that exercise every kind of fault.
    pub const DEFAULT: FaultRates = FaultRates {
        duplicate: 0.05,
        delay: 0.05,
        max_delay_ms: 5_000,
        store_error: 0.02,
        cancel_error: 0.6,
        publish_error: 0.02,
        lost_callback: 0.02,
        workflow_publish_error: 0.01,
        crash_mid_batch: 0.01,
        process_crash: 0.002,
    };
}

/// A seeded source of faults that counts what it injected.
#[derive(Debug)]
pub struct Faults {
    pub rates: FaultRates,
    state: Mutex<u64>,
    injected: Mutex<BTreeMap<&'static str, u64>>,
}

impl Faults {
    pub fn new(seed: u64, rates: FaultRates) -> Self {
        Faults {
            rates,
            state: Mutex::new(seed ^ 0x5DEE_CE66_D1CE_5EED),
            injected: Mutex::default(),
        }
    }

    /// A uniform number in [0, 1).
    pub fn uniform(&self) -> f64 {
        let mut s = lock(&self.state);
        *s = s.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = *s;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 11) as f64 / (1u64 << 53) as f64
    }

    fn roll(&self, kind: &'static str, p: f64) -> bool {
        let hit = p > 0.0 && self.uniform() < p;
        if hit {
            *lock(&self.injected).entry(kind).or_default() += 1;
        }
        hit
    }

    pub fn duplicate(&self) -> bool {
        self.roll("duplicate delivery", self.rates.duplicate)
    }

    /// A delay to hold a message back by, if any.
    pub fn delay_ms(&self) -> Option<i64> {
        if self.roll("delayed delivery", self.rates.delay) {
            let max = self.rates.max_delay_ms.max(1);
            Some(1 + (self.uniform() * max as f64) as i64)
        } else {
            None
        }
    }

    pub fn store_error(&self, _service: Service) -> Result<(), Error> {
        if self.roll("transient store error", self.rates.store_error) {
            Err(Error::Throttled("injected fault: store throttled".into()))
        } else {
            Ok(())
        }
    }

    pub fn cancel_error(&self) -> Result<(), Error> {
        if self.roll("failed compensation", self.rates.cancel_error) {
            Err(Error::Unavailable(
                "injected fault: the cancellation failed".into(),
            ))
        } else {
            Ok(())
        }
    }

    pub fn publish_error(&self) -> Result<(), Error> {
        if self.roll("transient publish error", self.rates.publish_error) {
            Err(Error::PublishFailed {
                failed: 1,
                total: 1,
                message: "injected fault: the bus throttled".into(),
            })
        } else {
            Ok(())
        }
    }

    pub fn lose_callback(&self) -> bool {
        self.roll("lost callback", self.rates.lost_callback)
    }

    pub fn workflow_publish_error(&self) -> bool {
        self.roll(
            "workflow putEvents error",
            self.rates.workflow_publish_error,
        )
    }

    pub fn crash_mid_batch(&self) -> bool {
        self.roll("handler crash mid-batch", self.rates.crash_mid_batch)
    }

    pub fn process_crash(&self) -> bool {
        self.roll("process crash and restart", self.rates.process_crash)
    }

    /// Faults injected so far, by kind.
    pub fn injected(&self) -> BTreeMap<&'static str, u64> {
        lock(&self.injected).clone()
    }

    /// Counts a fault injected elsewhere (e.g. a restart the driver performed).
    pub fn count(&self, kind: &'static str) {
        *lock(&self.injected).entry(kind).or_default() += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_injects_the_same_faults() {
        let a = Faults::new(42, FaultRates::DEFAULT);
        let b = Faults::new(42, FaultRates::DEFAULT);
        let ra: Vec<bool> = (0..500).map(|_| a.duplicate()).collect();
        let rb: Vec<bool> = (0..500).map(|_| b.duplicate()).collect();
        assert_eq!(ra, rb);
        assert!(ra.iter().any(|x| *x) && !ra.iter().all(|x| *x));
        assert_eq!(a.injected(), b.injected());
    }

    #[test]
    fn rates_of_zero_and_one_are_exact() {
        let f = Faults::new(1, FaultRates::NONE);
        assert!((0..100).all(|_| !f.lose_callback()));
        let mut always = FaultRates::NONE;
        always.lost_callback = 1.0;
        let f = Faults::new(1, always);
        assert!((0..100).all(|_| f.lose_callback()));
        assert_eq!(f.injected().get("lost callback"), Some(&100));
    }
}
