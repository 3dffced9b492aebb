//! Faults on chosen trips, on demand (`trip book --fail BookCar`, `--no-answer BookFlight`,
//! `--transient BookHotel:2`, `--duplicate`, `--delay`): so one saga shows a retry, a
//! timeout, a compensation or an idempotent duplicate, through the same paths the seeded
//! faults of [`crate::faults`] take. They last as long as the runtime that was given them (one
//! `trip` command); a trip finished later by `trip resume` runs without them.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use trip_events::{Service, TripEvent};

use crate::adapters::lock;

/// What goes wrong, and for which trips.
#[derive(Debug, Default)]
pub struct TripFaults {
    /// The trips the faults apply to.
    pub trips: BTreeSet<String>,
    /// These services refuse the booking (a business failure: the saga compensates).
    pub fail: Vec<Service>,
    /// These services book but their answer is lost: the task times out and is compensated,
    /// starting with the step whose outcome is unknown.
    pub no_answer: Vec<Service>,
    /// These services answer this many times with a transient failure (`THROTTLED`,
    /// `Trip.TransientError`) before they book: the state's Retry tries again with backoff.
    pub transient: BTreeMap<Service, u32>,
    /// Every message of these trips is delivered twice.
    pub duplicate: bool,
    /// Every message of these trips becomes visible this much later (ms).
    pub delay_ms: i64,
    /// Throttled attempts so far, per trip and service.
    throttled: Mutex<BTreeMap<(String, Service), u32>>,
}

impl TripFaults {
    /// The service of a booking step named as the state machine names it (`BookCar`), or as
    /// the service is named (`car`).
    pub fn service_of_step(step: &str) -> Result<Service, String> {
        Service::ALL
            .into_iter()
            .find(|s| s.book_step() == step || s.name() == step)
            .ok_or_else(|| {
                let steps: Vec<&str> = Service::ALL.iter().map(|s| s.book_step()).collect();
                format!(
                    "no booking step {step:?}: the steps are {}",
                    steps.join(", ")
                )
            })
    }

    fn applies(&self, trip: Option<&str>) -> bool {
        trip.is_some_and(|t| self.trips.contains(t))
    }

    /// Whether `service` refuses this trip's booking.
    pub fn refuses(&self, trip: Option<&str>, service: Service) -> bool {
        self.applies(trip) && self.fail.contains(&service)
    }

    /// Whether this attempt at the trip's booking is throttled (counts it).
    pub fn throttles(&self, trip: Option<&str>, service: Service) -> bool {
        let Some(trip) = trip.filter(|t| self.trips.contains(*t)) else {
            return false;
        };
        let Some(&times) = self.transient.get(&service) else {
            return false;
        };
        let mut seen = lock(&self.throttled);
        let n = seen.entry((trip.to_owned(), service)).or_default();
        if *n < times {
            *n += 1;
            true
        } else {
            false
        }
    }

    /// Whether an event a service published is an answer to be lost.
    pub fn loses(&self, event: &TripEvent) -> bool {
        let (trip, service) = match event {
            TripEvent::Booked(b) => (b.trip_id.as_str(), b.service),
            TripEvent::BookingFailed(f) => (f.trip_id.as_str(), f.service),
            _ => return false,
        };
        self.applies(Some(trip)) && self.no_answer.contains(&service)
    }

    pub fn duplicates(&self, trip: Option<&str>) -> bool {
        self.duplicate && self.applies(trip)
    }

    pub fn delay_ms(&self, trip: Option<&str>) -> i64 {
        if self.applies(trip) {
            self.delay_ms.max(0)
        } else {
            0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transient_faults_throttle_the_named_trip_n_times_then_let_it_through() {
        let f = TripFaults {
            trips: BTreeSet::from(["t1".to_owned()]),
            transient: BTreeMap::from([(Service::Hotel, 2)]),
            ..TripFaults::default()
        };
        let hits: Vec<bool> = (0..4)
            .map(|_| f.throttles(Some("t1"), Service::Hotel))
            .collect();
        assert_eq!(hits, [true, true, false, false]);
        assert!(!f.throttles(Some("t2"), Service::Hotel));
        assert!(!f.throttles(Some("t1"), Service::Car));
    }

    #[test]
    fn steps_are_named_as_the_state_machine_names_them() {
        assert_eq!(TripFaults::service_of_step("BookCar"), Ok(Service::Car));
        assert_eq!(TripFaults::service_of_step("flight"), Ok(Service::Flight));
        assert!(
            TripFaults::service_of_step("BookTrain")
                .unwrap_err()
                .contains("BookHotel, BookFlight, BookCar")
        );
    }
}
