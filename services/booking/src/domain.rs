//! The booking rules, as pure functions over (existing record, inventory levels, request).
//!
//! Every store (in memory, DynamoDB, the embedded runtime's file store) reads the trip's record
//! and the levels it needs, asks [`decide_book`] or [`decide_cancel`] what to do, and applies the
//! answer atomically. So the rules live here once:
//!
//! - one booking record per trip per service, keyed by [`booking_key`]; book and cancel use the
//!   same key;
//! - a repeated request re-emits the recorded outcome (same booking id, or same failure);
//! - a failed booking is recorded too, so its duplicates fail the same way;
//! - cancel is idempotent, succeeds when nothing was booked, and leaves a `CANCELLED` tombstone;
//!   units are released only when a `BOOKED` record turns `CANCELLED`, so exactly once;
//! - a booking that arrives after its cancel is refused (`CANCELLED`), never resurrected.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use trip_events::Service;

use crate::error::{Refusal, reason};
use crate::inventory::HoldPlan;

/// The key of a trip's booking record with one service (string `pk` / `sk`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ItemKey {
    pub pk: String,
    pub sk: String,
}

/// Sort key of every inventory item.
pub const INVENTORY_SK: &str = "INVENTORY";

/// The one key that both booking and cancelling a trip with a service read and write.
pub fn booking_key(service: Service, trip_id: &str) -> ItemKey {
    ItemKey {
        pk: format!("TRIP#{trip_id}"),
        sk: format!("BOOKING#{service}"),
    }
}

/// The key of an inventory item.
pub fn inventory_item_key(inventory_key: &str) -> ItemKey {
    ItemKey {
        pk: inventory_key.to_owned(),
        sk: INVENTORY_SK.to_owned(),
    }
}

/// The service's reference for a trip's booking: a prefix and a short hash of (service, trip),
/// so duplicates, replays and every store agree on it.
pub fn booking_id(service: Service, trip_id: &str) -> String {
    let prefix = match service {
        Service::Hotel => "HTL",
        Service::Flight => "FLT",
        Service::Car => "CAR",
    };
    let digest = Sha256::digest(format!("{service}\0{trip_id}").as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02X}")).collect();
    format!("{prefix}-{hex}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum BookingStatus {
    /// Units are held.
    Booked,
    /// Refused; nothing held. Kept so duplicates fail the same way.
    Failed,
    /// Tombstone: nothing held, and nothing will be.
    Cancelled,
}

impl BookingStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::Booked => "BOOKED",
            BookingStatus::Failed => "FAILED",
            BookingStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "BOOKED" => Some(BookingStatus::Booked),
            "FAILED" => Some(BookingStatus::Failed),
            "CANCELLED" => Some(BookingStatus::Cancelled),
            _ => None,
        }
    }
}

/// A trip's booking record with one service. Never deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BookingRecord {
    pub trip_id: String,
    pub service: Service,
    pub booking_id: String,
    pub status: BookingStatus,
    /// Units held on each of `holds` (while `BOOKED`; kept as history once cancelled).
    pub units: u32,
    /// Inventory keys.
    pub holds: Vec<String>,
    /// Why the booking failed, for `FAILED` records and tombstones of failed bookings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<Refusal>,
    /// On a tombstone: whether units were held (and released) when it was cancelled.
    pub was_booked: bool,
}

impl BookingRecord {
    pub fn key(&self) -> ItemKey {
        booking_key(self.service, &self.trip_id)
    }
}

/// A request to book, already turned into a hold plan (or a refusal) by the inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookRequest {
    pub service: Service,
    pub trip_id: String,
    pub booking_id: String,
    pub plan: Result<HoldPlan, Refusal>,
}

impl BookRequest {
    pub fn new(service: Service, trip_id: &str, plan: Result<HoldPlan, Refusal>) -> Self {
        BookRequest {
            service,
            trip_id: trip_id.to_owned(),
            booking_id: booking_id(service, trip_id),
            plan,
        }
    }

    pub fn key(&self) -> ItemKey {
        booking_key(self.service, &self.trip_id)
    }

    fn record(&self, status: BookingStatus, failure: Option<Refusal>) -> BookingRecord {
        let (units, holds) = match (&self.plan, status) {
            (Ok(plan), BookingStatus::Booked) => (
                plan.units,
                plan.holds.iter().map(|h| h.key.clone()).collect(),
            ),
            _ => (0, Vec::new()),
        };
        BookingRecord {
            trip_id: self.trip_id.clone(),
            service: self.service,
            booking_id: self.booking_id.clone(),
            status,
            units,
            holds,
            failure,
            was_booked: false,
        }
    }

    /// The record of this booking, held.
    pub fn booked_record(&self) -> BookingRecord {
        self.record(BookingStatus::Booked, None)
    }

    /// The record of this booking, refused.
    pub fn failed_record(&self, refusal: Refusal) -> BookingRecord {
        self.record(BookingStatus::Failed, Some(refusal))
    }
}

/// What a booking request comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookOutcome {
    Booked { booking_id: String },
    Failed(Refusal),
}

/// What a cancellation comes to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CancelOutcome {
    /// The booking that was released, if one was held.
    pub booking_id: Option<String>,
    pub was_booked: bool,
}

/// What a store must do with a booking request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BookDecision {
    /// Write the `BOOKED` record and add `units` to every key of `holds`, atomically.
    Book(BookingRecord),
    /// Write the `FAILED` record (nothing held).
    RecordFailure(BookingRecord),
    /// A record exists: write nothing, answer what it says.
    Replay(BookOutcome),
}

impl BookDecision {
    pub fn outcome(&self) -> BookOutcome {
        match self {
            BookDecision::Book(r) => BookOutcome::Booked {
                booking_id: r.booking_id.clone(),
            },
            BookDecision::RecordFailure(r) => BookOutcome::Failed(
                r.failure
                    .clone()
                    .unwrap_or_else(|| Refusal::new(reason::INVALID_REQUEST, "booking refused")),
            ),
            BookDecision::Replay(o) => o.clone(),
        }
    }
}

/// The outcome an existing record stands for, when the same trip asks to book again.
pub fn replay_book(existing: &BookingRecord) -> BookOutcome {
    match existing.status {
        BookingStatus::Booked => BookOutcome::Booked {
            booking_id: existing.booking_id.clone(),
        },
        BookingStatus::Failed => BookOutcome::Failed(
            existing
                .failure
                .clone()
                .unwrap_or_else(|| Refusal::new(reason::INVALID_REQUEST, "booking refused")),
        ),
        BookingStatus::Cancelled => BookOutcome::Failed(Refusal::new(
            reason::CANCELLED,
            format!(
                "the {} booking of trip {} was cancelled; it is not booked again",
                existing.service, existing.trip_id
            ),
        )),
    }
}

/// Decides a booking. `held(key)` is the number of units currently held on an inventory key.
pub fn decide_book(
    existing: Option<&BookingRecord>,
    request: &BookRequest,
    held: impl Fn(&str) -> u32,
) -> BookDecision {
    if let Some(existing) = existing {
        return BookDecision::Replay(replay_book(existing));
    }
    match &request.plan {
        Err(refusal) => BookDecision::RecordFailure(request.failed_record(refusal.clone())),
        Ok(plan) => match first_full_hold(plan, held) {
            Some(index) => {
                BookDecision::RecordFailure(request.failed_record(plan.full_refusal(index)))
            }
            None => BookDecision::Book(request.booked_record()),
        },
    }
}

/// The first hold of the plan without room for its units, if any.
pub fn first_full_hold(plan: &HoldPlan, held: impl Fn(&str) -> u32) -> Option<usize> {
    plan.holds
        .iter()
        .position(|h| u64::from(held(&h.key)) + u64::from(plan.units) > u64::from(h.capacity))
}

/// What a store must do with a cancellation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CancelDecision {
    /// Nothing recorded: write a tombstone (`CANCELLED`, `wasBooked=false`).
    Tombstone(BookingRecord),
    /// A `FAILED` record: turn it into a tombstone; nothing to release.
    MarkCancelled(BookingRecord),
    /// A `BOOKED` record: turn it into a tombstone and subtract `units` from every key of
    /// `holds`, atomically, only if it is still `BOOKED`.
    Release(BookingRecord),
    /// Already a tombstone: write nothing, answer what it says.
    Replay(CancelOutcome),
}

impl CancelDecision {
    pub fn outcome(&self) -> CancelOutcome {
        match self {
            CancelDecision::Tombstone(_) | CancelDecision::MarkCancelled(_) => CancelOutcome {
                booking_id: None,
                was_booked: false,
            },
            CancelDecision::Release(r) => CancelOutcome {
                booking_id: Some(r.booking_id.clone()),
                was_booked: true,
            },
            CancelDecision::Replay(o) => o.clone(),
        }
    }
}

/// Decides a cancellation of the trip's booking with `service`.
pub fn decide_cancel(
    existing: Option<&BookingRecord>,
    service: Service,
    trip_id: &str,
) -> CancelDecision {
    match existing {
        None => CancelDecision::Tombstone(BookingRecord {
            trip_id: trip_id.to_owned(),
            service,
            booking_id: booking_id(service, trip_id),
            status: BookingStatus::Cancelled,
            units: 0,
            holds: Vec::new(),
            failure: None,
            was_booked: false,
        }),
        Some(r) => match r.status {
            BookingStatus::Failed => CancelDecision::MarkCancelled(BookingRecord {
                status: BookingStatus::Cancelled,
                was_booked: false,
                ..r.clone()
            }),
            BookingStatus::Booked => CancelDecision::Release(BookingRecord {
                status: BookingStatus::Cancelled,
                was_booked: true,
                ..r.clone()
            }),
            BookingStatus::Cancelled => CancelDecision::Replay(CancelOutcome {
                booking_id: r.was_booked.then(|| r.booking_id.clone()),
                was_booked: r.was_booked,
            }),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn booking_ids_are_deterministic_and_distinct_per_service_and_trip() {
        let a = booking_id(Service::Hotel, "trip-1");
        assert_eq!(a, booking_id(Service::Hotel, "trip-1"));
        assert!(a.starts_with("HTL-") && a.len() == 16, "{a}");
        assert_ne!(a, booking_id(Service::Hotel, "trip-2"));
        assert!(booking_id(Service::Flight, "trip-1").starts_with("FLT-"));
        assert!(booking_id(Service::Car, "trip-1").starts_with("CAR-"));
    }

    #[test]
    fn status_names_round_trip() {
        for s in [
            BookingStatus::Booked,
            BookingStatus::Failed,
            BookingStatus::Cancelled,
        ] {
            assert_eq!(BookingStatus::parse(s.as_str()), Some(s));
            assert_eq!(
                serde_json::to_value(s).unwrap(),
                serde_json::json!(s.as_str())
            );
        }
    }
}
