//! The booking store on DynamoDB: one table per service, string keys `pk` and `sk`.
//!
//! Items:
//!
//! | item | pk | sk | attributes |
//! | --- | --- | --- | --- |
//! | booking | `TRIP#<tripId>` | `BOOKING#<service>` | `entity`=`BOOKING`, `tripId`, `service`, `bookingId`, `status` (`BOOKED`/`FAILED`/`CANCELLED`), `units` (N), `holds` (L of S: inventory keys), `wasBooked` (BOOL), `failureReason`, `failureMessage` (when refused) |
//! | inventory | `INV#<service>#<resource>#<date>` | `INVENTORY` | `entity`=`INVENTORY`, `held` (N), `capacity` (N) |
//!
//! Booking is one `TransactWriteItems`: put the booking if `attribute_not_exists(pk)` (with
//! `ReturnValuesOnConditionCheckFailure=ALL_OLD`, so a duplicate learns the recorded outcome
//! without another read) and add the units to every inventory item if `held <= capacity -
//! units`. Its `CancellationReasons` tell a duplicate or tombstone (the put failed), no room
//! (an inventory condition failed) and a race (`TransactionConflict`, transient) apart.
//! Cancelling reads the record and applies [`decide_cancel`]: a `BOOKED` record turns
//! `CANCELLED` in the same transaction that releases its units, on condition that it is still
//! `BOOKED`, so units are released exactly once.

use std::collections::HashMap;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};
use trip_events::Service;

use super::aws_error::{classify, map_sdk_error};
use crate::domain::{
    BookDecision, BookOutcome, BookRequest, BookingRecord, BookingStatus, CancelDecision,
    CancelOutcome, ItemKey, booking_key, decide_book, decide_cancel, inventory_item_key,
    replay_book,
};
use crate::error::{Error, Refusal};
use crate::inventory::HoldPlan;
use crate::ports::BookingStore;

pub type Item = HashMap<String, AttributeValue>;

/// Condition of every write that creates a booking record.
pub const BOOKING_ABSENT: &str = "attribute_not_exists(pk)";
/// Condition of every inventory hold: room for the units (`:max` = capacity - units).
pub const ROOM_LEFT: &str = "attribute_not_exists(#held) OR #held <= :max";
/// Update of every inventory hold.
pub const HOLD_UNITS: &str = "SET #capacity = :capacity ADD #held :units";
/// Update of every inventory release (`:units` negative).
pub const RELEASE_UNITS: &str = "ADD #held :units";
/// Condition of a status flip.
pub const STATUS_IS: &str = "#status = :expected";
/// Update of a status flip to a tombstone.
pub const TO_TOMBSTONE: &str = "SET #status = :cancelled, #wasBooked = :wasBooked";

/// How often a cancel re-reads after losing a race before giving up (transiently).
const CANCEL_ATTEMPTS: usize = 3;

fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn n(v: impl ToString) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

/// The key attributes of an item.
pub fn key_attributes(key: &ItemKey) -> Item {
    HashMap::from([("pk".to_owned(), s(&key.pk)), ("sk".to_owned(), s(&key.sk))])
}

/// A booking record as a DynamoDB item.
pub fn record_to_item(r: &BookingRecord) -> Item {
    let mut item = key_attributes(&r.key());
    item.insert("entity".into(), s("BOOKING"));
    item.insert("tripId".into(), s(&r.trip_id));
    item.insert("service".into(), s(r.service.name()));
    item.insert("bookingId".into(), s(&r.booking_id));
    item.insert("status".into(), s(r.status.as_str()));
    item.insert("units".into(), n(r.units));
    item.insert(
        "holds".into(),
        AttributeValue::L(r.holds.iter().map(s).collect()),
    );
    item.insert("wasBooked".into(), AttributeValue::Bool(r.was_booked));
    if let Some(f) = &r.failure {
        item.insert("failureReason".into(), s(&f.reason));
        item.insert("failureMessage".into(), s(&f.message));
    }
    item
}

fn get_s<'a>(item: &'a Item, name: &str) -> Result<&'a str, Error> {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
        .ok_or_else(|| Error::Corrupt(format!("booking item has no string {name}")))
}

/// A DynamoDB item as a booking record.
pub fn item_to_record(item: &Item) -> Result<BookingRecord, Error> {
    let service: Service = get_s(item, "service")?.parse().map_err(Error::Corrupt)?;
    let status = BookingStatus::parse(get_s(item, "status")?)
        .ok_or_else(|| Error::Corrupt("booking item has an unknown status".into()))?;
    let units = item
        .get("units")
        .and_then(|v| v.as_n().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let holds = match item.get("holds") {
        Some(AttributeValue::L(l)) => l.iter().filter_map(|v| v.as_s().ok().cloned()).collect(),
        _ => Vec::new(),
    };
    let failure = match (item.get("failureReason"), item.get("failureMessage")) {
        (Some(AttributeValue::S(reason)), message) => Some(Refusal {
            reason: reason.clone(),
            message: message
                .and_then(|m| m.as_s().ok())
                .cloned()
                .unwrap_or_default(),
        }),
        _ => None,
    };
    Ok(BookingRecord {
        trip_id: get_s(item, "tripId")?.to_owned(),
        service,
        booking_id: get_s(item, "bookingId")?.to_owned(),
        status,
        units,
        holds,
        failure,
        was_booked: matches!(item.get("wasBooked"), Some(AttributeValue::Bool(true))),
    })
}

/// A booking store on one DynamoDB table.
#[derive(Debug, Clone)]
pub struct DynamoBookingStore {
    client: Client,
    table: String,
}

impl DynamoBookingStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoBookingStore {
            client,
            table: table.into(),
        }
    }

    /// The table named by `TABLE_NAME`.
    pub fn from_env(client: Client) -> Result<Self, Error> {
        let table = std::env::var("TABLE_NAME")
            .map_err(|_| Error::Config("TABLE_NAME is not set".into()))?;
        Ok(Self::new(client, table))
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    fn put_new(&self, record: &BookingRecord) -> Result<Put, Error> {
        Put::builder()
            .table_name(&self.table)
            .set_item(Some(record_to_item(record)))
            .condition_expression(BOOKING_ABSENT)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| Error::Config(e.to_string()))
    }

    fn hold(&self, plan: &HoldPlan, index: usize) -> Result<Update, Error> {
        let hold = &plan.holds[index];
        let max = i64::from(hold.capacity) - i64::from(plan.units);
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&inventory_item_key(&hold.key))))
            .update_expression(HOLD_UNITS)
            .condition_expression(ROOM_LEFT)
            .expression_attribute_names("#held", "held")
            .expression_attribute_names("#capacity", "capacity")
            .expression_attribute_values(":units", n(plan.units))
            .expression_attribute_values(":capacity", n(hold.capacity))
            .expression_attribute_values(":max", n(max))
            .build()
            .map_err(|e| Error::Config(e.to_string()))
    }

    fn release(&self, inventory_key: &str, units: u32) -> Result<Update, Error> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&inventory_item_key(inventory_key))))
            .update_expression(RELEASE_UNITS)
            .expression_attribute_names("#held", "held")
            .expression_attribute_values(":units", n(-i64::from(units)))
            .build()
            .map_err(|e| Error::Config(e.to_string()))
    }

    fn to_tombstone(
        &self,
        record: &BookingRecord,
        expected: BookingStatus,
    ) -> Result<Update, Error> {
        Update::builder()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&record.key())))
            .update_expression(TO_TOMBSTONE)
            .condition_expression(STATUS_IS)
            .expression_attribute_names("#status", "status")
            .expression_attribute_names("#wasBooked", "wasBooked")
            .expression_attribute_values(":cancelled", s(BookingStatus::Cancelled.as_str()))
            .expression_attribute_values(":expected", s(expected.as_str()))
            .expression_attribute_values(":wasBooked", AttributeValue::Bool(record.was_booked))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| Error::Config(e.to_string()))
    }

    /// Writes a `FAILED` record, or replays the record that got there first.
    async fn record_failure(&self, record: &BookingRecord) -> Result<BookOutcome, Error> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(record_to_item(record)))
            .condition_expression(BOOKING_ABSENT)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(replay_book(record)),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(e)) => {
                    self.replay_existing(e.item(), record.service, &record.trip_id)
                        .await
                }
                _ => Err(map_sdk_error("PutItem", &err)),
            },
        }
    }

    /// The outcome of the record a conditional check found (read again if it was not returned).
    async fn replay_existing(
        &self,
        item: Option<&Item>,
        service: Service,
        trip_id: &str,
    ) -> Result<BookOutcome, Error> {
        let existing = match item {
            Some(item) => Some(item_to_record(item)?),
            None => self.read(service, trip_id).await?,
        };
        match existing {
            Some(r) => Ok(replay_book(&r)),
            None => Err(Error::Conflict(
                "the booking record changed while it was written".into(),
            )),
        }
    }

    async fn read(&self, service: Service, trip_id: &str) -> Result<Option<BookingRecord>, Error> {
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_attributes(&booking_key(service, trip_id))))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| map_sdk_error("GetItem", &e))?;
        out.item().map(item_to_record).transpose()
    }

    async fn cancel_once(
        &self,
        service: Service,
        trip_id: &str,
    ) -> Result<Option<CancelOutcome>, Error> {
        let existing = self.read(service, trip_id).await?;
        let decision = decide_cancel(existing.as_ref(), service, trip_id);
        let outcome = decision.outcome();
        match decision {
            CancelDecision::Replay(o) => Ok(Some(o)),
            CancelDecision::Tombstone(record) => {
                let result = self
                    .client
                    .put_item()
                    .table_name(&self.table)
                    .set_item(Some(record_to_item(&record)))
                    .condition_expression(BOOKING_ABSENT)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(Some(outcome)),
                    Err(err) => match err.as_service_error() {
                        Some(PutItemError::ConditionalCheckFailedException(_)) => Ok(None),
                        _ => Err(map_sdk_error("PutItem", &err)),
                    },
                }
            }
            CancelDecision::MarkCancelled(record) => {
                let u = self.to_tombstone(&record, BookingStatus::Failed)?;
                let result = self
                    .client
                    .update_item()
                    .table_name(&self.table)
                    .set_key(Some(u.key))
                    .update_expression(u.update_expression)
                    .set_condition_expression(u.condition_expression)
                    .set_expression_attribute_names(u.expression_attribute_names)
                    .set_expression_attribute_values(u.expression_attribute_values)
                    .return_values_on_condition_check_failure(
                        ReturnValuesOnConditionCheckFailure::AllOld,
                    )
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(Some(outcome)),
                    Err(err) => match err.as_service_error() {
                        Some(UpdateItemError::ConditionalCheckFailedException(_)) => Ok(None),
                        _ => Err(map_sdk_error("UpdateItem", &err)),
                    },
                }
            }
            CancelDecision::Release(record) => {
                let mut items = vec![
                    TransactWriteItem::builder()
                        .update(self.to_tombstone(&record, BookingStatus::Booked)?)
                        .build(),
                ];
                for key in &record.holds {
                    items.push(
                        TransactWriteItem::builder()
                            .update(self.release(key, record.units)?)
                            .build(),
                    );
                }
                let result = self
                    .client
                    .transact_write_items()
                    .set_transact_items(Some(items))
                    .send()
                    .await;
                match result {
                    Ok(_) => Ok(Some(outcome)),
                    Err(err) => match err.as_service_error() {
                        Some(TransactWriteItemsError::TransactionCanceledException(e)) => {
                            match first_reason(e.cancellation_reasons()) {
                                // The booking changed status under us: read it again.
                                Some((0, r)) if is_condition_failure(r) => Ok(None),
                                Some((_, r)) => Err(reason_error("TransactWriteItems", r)),
                                None => Err(map_sdk_error("TransactWriteItems", &err)),
                            }
                        }
                        _ => Err(map_sdk_error("TransactWriteItems", &err)),
                    },
                }
            }
        }
    }
}

fn is_condition_failure(r: &CancellationReason) -> bool {
    r.code() == Some("ConditionalCheckFailed")
}

/// The first reason that is not `None`, with its index in the transaction.
fn first_reason(reasons: &[CancellationReason]) -> Option<(usize, &CancellationReason)> {
    reasons
        .iter()
        .enumerate()
        .find(|(_, r)| !matches!(r.code(), None | Some("None")))
}

fn reason_error(operation: &str, r: &CancellationReason) -> Error {
    classify(
        operation,
        r.code().unwrap_or("Unknown"),
        r.message().unwrap_or(""),
        None,
    )
}

impl BookingStore for DynamoBookingStore {
    async fn book(&self, request: &BookRequest) -> Result<BookOutcome, Error> {
        // Refusals that need no inventory (unknown hotel, a key with less capacity than the
        // units) are recorded without a transaction, still only if no record exists.
        let record = match decide_book(None, request, |_| 0) {
            BookDecision::Book(record) => record,
            BookDecision::RecordFailure(record) => return self.record_failure(&record).await,
            BookDecision::Replay(outcome) => return Ok(outcome),
        };
        let Ok(plan) = &request.plan else {
            return Err(Error::Corrupt("a booked decision without a plan".into()));
        };
        let mut items = vec![
            TransactWriteItem::builder()
                .put(self.put_new(&record)?)
                .build(),
        ];
        for index in 0..plan.holds.len() {
            items.push(
                TransactWriteItem::builder()
                    .update(self.hold(plan, index)?)
                    .build(),
            );
        }
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        let err = match result {
            Ok(_) => {
                return Ok(BookOutcome::Booked {
                    booking_id: record.booking_id,
                });
            }
            Err(err) => err,
        };
        let Some(TransactWriteItemsError::TransactionCanceledException(e)) = err.as_service_error()
        else {
            return Err(map_sdk_error("TransactWriteItems", &err));
        };
        let reasons = e.cancellation_reasons();
        // A record exists: duplicate, earlier failure or tombstone.
        if let Some(r) = reasons.first()
            && is_condition_failure(r)
        {
            return self
                .replay_existing(r.item(), request.service, &request.trip_id)
                .await;
        }
        // No room on an inventory key.
        if let Some(index) = reasons.iter().skip(1).position(is_condition_failure) {
            return self
                .record_failure(&request.failed_record(plan.full_refusal(index)))
                .await;
        }
        match first_reason(reasons) {
            Some((_, r)) => Err(reason_error("TransactWriteItems", r)),
            None => Err(map_sdk_error("TransactWriteItems", &err)),
        }
    }

    async fn cancel(&self, service: Service, trip_id: &str) -> Result<CancelOutcome, Error> {
        for _ in 0..CANCEL_ATTEMPTS {
            if let Some(outcome) = self.cancel_once(service, trip_id).await? {
                return Ok(outcome);
            }
        }
        Err(Error::Conflict(format!(
            "the {service} booking of trip {trip_id} kept changing while it was cancelled"
        )))
    }

    async fn get(&self, service: Service, trip_id: &str) -> Result<Option<BookingRecord>, Error> {
        self.read(service, trip_id).await
    }
}
