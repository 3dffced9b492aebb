//! The AWS adapters against aws-smithy-mocks: the exact requests they send and how they map
//! AWS errors.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_sdk_dynamodb::operation::get_item::GetItemOutput;
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::put_item::PutItemOutput;
use aws_sdk_dynamodb::operation::transact_write_items::{
    TransactWriteItemsError, TransactWriteItemsInput, TransactWriteItemsOutput,
};
use aws_sdk_dynamodb::operation::update_item::{UpdateItemInput, UpdateItemOutput};
use aws_sdk_dynamodb::types::error::TransactionCanceledException;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, ReturnValuesOnConditionCheckFailure,
};
use aws_sdk_eventbridge::operation::put_events::{PutEventsInput, PutEventsOutput};
use aws_sdk_eventbridge::types::PutEventsResultEntry;
use aws_sdk_sfn::operation::send_task_failure::{
    SendTaskFailureError, SendTaskFailureInput, SendTaskFailureOutput,
};
use aws_sdk_sfn::operation::send_task_success::{SendTaskSuccessError, SendTaskSuccessOutput};
use aws_sdk_sfn::operation::start_execution::{
    StartExecutionError, StartExecutionInput, StartExecutionOutput,
};
use aws_sdk_sfn::types::error::{
    ExecutionAlreadyExists, InvalidToken, TaskDoesNotExist, TaskTimedOut,
};
use aws_smithy_mocks::{RuleMode, mock, mock_client};
use trip_booking::adapters::dynamodb::{
    BOOKING_ABSENT, DynamoBookingStore, ROOM_LEFT, STATUS_IS, item_to_record, record_to_item,
};
use trip_booking::adapters::eventbridge::EventBridgePublisher;
use trip_booking::adapters::sfn::StepFunctionsWorkflow;
use trip_booking::domain::{BookOutcome, BookRequest, BookingRecord, BookingStatus, CancelOutcome};
use trip_booking::inventory::plan_hotel;
use trip_booking::{
    BookingStore, Error, EventPublisher, Refusal, SagaWorkflow, Service, StartOutcome, booking_key,
    reason,
};
use trip_events::{BookingFailed, FailureKind, HotelStay, Metadata, TripEvent};

type Captured<T> = Arc<Mutex<Vec<T>>>;

fn captured<T>() -> Captured<T> {
    Arc::new(Mutex::new(Vec::new()))
}

fn stay(hotel: &str) -> HotelStay {
    HotelStay {
        hotel_id: hotel.into(),
        check_in: "2031-06-10".into(),
        check_out: "2031-06-12".into(),
        guests: 1,
    }
}

fn request(hotel: &str) -> BookRequest {
    BookRequest::new(Service::Hotel, "t1", plan_hotel(&stay(hotel)))
}

fn s(v: &str) -> AttributeValue {
    AttributeValue::S(v.into())
}

fn key_of(item: &std::collections::HashMap<String, AttributeValue>) -> (String, String) {
    (
        item["pk"].as_s().unwrap().clone(),
        item["sk"].as_s().unwrap().clone(),
    )
}

fn canceled(reasons: Vec<CancellationReason>) -> TransactWriteItemsError {
    let mut b = TransactionCanceledException::builder().message("Transaction cancelled");
    for r in reasons {
        b = b.cancellation_reasons(r);
    }
    TransactWriteItemsError::TransactionCanceledException(b.build())
}

fn reason_code(code: &str) -> CancellationReason {
    CancellationReason::builder().code(code).build()
}

fn existing(record: &BookingRecord) -> CancellationReason {
    let mut b = CancellationReason::builder().code("ConditionalCheckFailed");
    for (k, v) in record_to_item(record) {
        b = b.item(k, v);
    }
    b.build()
}

const TABLE: &str = "trip-hotel";

// --- DynamoDB: booking ---

#[tokio::test]
async fn a_booking_is_one_transaction_guarding_the_record_and_every_night() {
    let seen: Captured<TransactWriteItemsInput> = captured();
    let sink = seen.clone();
    let rule =
        mock!(aws_sdk_dynamodb::Client::transact_write_items).then_compute_output(move |req| {
            sink.lock().unwrap().push(req.clone());
            TransactWriteItemsOutput::builder().build()
        });
    let store = DynamoBookingStore::new(mock_client!(aws_sdk_dynamodb, [&rule]), TABLE);
    // when a two-night stay is booked
    let outcome = store.book(&request("HTL-LIS-ALFAMA")).await.unwrap();
    // then it is booked with one transaction of three writes
    assert_eq!(
        outcome,
        BookOutcome::Booked {
            booking_id: trip_booking::booking_id(Service::Hotel, "t1")
        }
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    let items = seen[0].transact_items();
    assert_eq!(items.len(), 3);
    // the record, only if absent, returning the old item when it is not
    let put = items[0].put().unwrap();
    assert_eq!(put.table_name(), TABLE);
    assert_eq!(put.condition_expression(), Some(BOOKING_ABSENT));
    assert_eq!(BOOKING_ABSENT, "attribute_not_exists(pk)");
    assert_eq!(
        put.return_values_on_condition_check_failure(),
        Some(&ReturnValuesOnConditionCheckFailure::AllOld)
    );
    let item = put.item();
    assert_eq!(key_of(item), ("TRIP#t1".into(), "BOOKING#hotel".into()));
    assert_eq!(item["status"], s("BOOKED"));
    assert_eq!(item["units"], AttributeValue::N("1".into()));
    // and one room on each night, only while held stays within capacity
    for (i, night) in ["2031-06-10", "2031-06-11"].iter().enumerate() {
        let update = items[i + 1].update().unwrap();
        assert_eq!(update.table_name(), TABLE);
        assert_eq!(
            key_of(update.key()),
            (
                format!("INV#hotel#HTL-LIS-ALFAMA#{night}"),
                "INVENTORY".into()
            )
        );
        assert_eq!(update.condition_expression(), Some(ROOM_LEFT));
        assert_eq!(
            update.update_expression(),
            "SET #capacity = :capacity ADD #held :units"
        );
        let values = update.expression_attribute_values().unwrap();
        assert_eq!(values[":max"], AttributeValue::N("11".into()));
        assert_eq!(values[":units"], AttributeValue::N("1".into()));
        assert_eq!(values[":capacity"], AttributeValue::N("12".into()));
        assert_eq!(
            update.expression_attribute_names().unwrap()["#held"],
            "held"
        );
    }
}

#[tokio::test]
async fn a_duplicate_booking_replays_the_record_returned_by_the_failed_condition() {
    // given the record exists (ALL_OLD returns it with the cancellation reason)
    let req = request("HTL-LIS-ALFAMA");
    let record = req.booked_record();
    let reasons = vec![existing(&record), reason_code("None"), reason_code("None")];
    let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_error(move || canceled(reasons.clone()));
    let store = DynamoBookingStore::new(mock_client!(aws_sdk_dynamodb, [&rule]), TABLE);
    // when booked again, the same booking, with no further request
    let outcome = store.book(&req).await.unwrap();
    assert_eq!(
        outcome,
        BookOutcome::Booked {
            booking_id: record.booking_id.clone()
        }
    );
    assert_eq!(rule.num_calls(), 1);
}

#[tokio::test]
async fn a_booking_that_meets_a_tombstone_is_refused_as_cancelled() {
    let req = request("HTL-LIS-ALFAMA");
    let tombstone = match trip_booking::decide_cancel(None, Service::Hotel, "t1") {
        trip_booking::CancelDecision::Tombstone(r) => r,
        other => panic!("{other:?}"),
    };
    let reasons = vec![
        existing(&tombstone),
        reason_code("None"),
        reason_code("None"),
    ];
    let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_error(move || canceled(reasons.clone()));
    let store = DynamoBookingStore::new(mock_client!(aws_sdk_dynamodb, [&rule]), TABLE);
    let BookOutcome::Failed(refusal) = store.book(&req).await.unwrap() else {
        panic!("a tombstone must refuse the booking")
    };
    assert_eq!(refusal.reason, reason::CANCELLED);
}

#[tokio::test]
async fn a_full_night_records_the_failure_so_duplicates_fail_alike() {
    // given the second night's condition fails
    let tx = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_error(|| {
        canceled(vec![
            reason_code("None"),
            reason_code("None"),
            reason_code("ConditionalCheckFailed"),
        ])
    });
    let puts: Captured<PutItemInput> = captured();
    let sink = puts.clone();
    let put = mock!(aws_sdk_dynamodb::Client::put_item).then_compute_output(move |req| {
        sink.lock().unwrap().push(req.clone());
        PutItemOutput::builder().build()
    });
    let store = DynamoBookingStore::new(
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&tx, &put]),
        TABLE,
    );
    // when booked
    let outcome = store.book(&request("HTL-LIS-ALFAMA")).await.unwrap();
    // then refused as sold out on that night, and the refusal is recorded if no record exists
    let BookOutcome::Failed(refusal) = outcome else {
        panic!()
    };
    assert_eq!(refusal.reason, reason::SOLD_OUT);
    assert!(
        refusal.message.contains("2031-06-11"),
        "{}",
        refusal.message
    );
    let puts = puts.lock().unwrap();
    assert_eq!(puts.len(), 1);
    assert_eq!(puts[0].condition_expression(), Some(BOOKING_ABSENT));
    let item = puts[0].item().unwrap();
    assert_eq!(key_of(item), ("TRIP#t1".into(), "BOOKING#hotel".into()));
    assert_eq!(item["status"], s("FAILED"));
    assert_eq!(item["failureReason"], s("SOLD_OUT"));
    assert_eq!(item["holds"], AttributeValue::L(vec![]));
}

#[tokio::test]
async fn a_refusal_known_before_writing_needs_no_transaction() {
    let tx = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .then_output(|| TransactWriteItemsOutput::builder().build());
    let put =
        mock!(aws_sdk_dynamodb::Client::put_item).then_output(|| PutItemOutput::builder().build());
    let store = DynamoBookingStore::new(
        mock_client!(aws_sdk_dynamodb, RuleMode::MatchAny, [&tx, &put]),
        TABLE,
    );
    let BookOutcome::Failed(refusal) = store.book(&request("HTL-PAR-LOUVRE")).await.unwrap() else {
        panic!()
    };
    assert_eq!(refusal.message, "Hotel Le Petit Louvre is fully booked");
    assert_eq!(tx.num_calls(), 0);
    assert_eq!(put.num_calls(), 1);
}

#[tokio::test]
async fn a_transaction_conflict_is_transient() {
    let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_error(|| {
        canceled(vec![
            reason_code("None"),
            reason_code("TransactionConflict"),
            reason_code("None"),
        ])
    });
    let store = DynamoBookingStore::new(mock_client!(aws_sdk_dynamodb, [&rule]), TABLE);
    let err = store.book(&request("HTL-LIS-ALFAMA")).await.unwrap_err();
    assert!(matches!(err, Error::Conflict(_)), "{err:?}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn throttling_is_transient() {
    let rule = mock!(aws_sdk_dynamodb::Client::transact_write_items)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException","message":"slow down"}"#.into()),
        )
        .build();
    let client = mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&rule], |c| c
        .retry_config(aws_sdk_dynamodb::config::retry::RetryConfig::disabled()));
    let store = DynamoBookingStore::new(client, TABLE);
    let err = store.book(&request("HTL-LIS-ALFAMA")).await.unwrap_err();
    assert!(matches!(err, Error::Throttled(_)), "{err:?}");
}

// --- DynamoDB: cancelling ---

fn get_returning(record: Option<BookingRecord>) -> aws_smithy_mocks::Rule {
    mock!(aws_sdk_dynamodb::Client::get_item)
        .match_requests(|req| {
            req.consistent_read() == Some(true)
                && req.key().map(key_of) == Some(("TRIP#t1".into(), "BOOKING#hotel".into()))
        })
        .then_output(move || {
            GetItemOutput::builder()
                .set_item(record.as_ref().map(record_to_item))
                .build()
        })
}

#[tokio::test]
async fn cancelling_a_booking_flips_it_and_releases_its_units_in_one_transaction() {
    let req = request("HTL-LIS-ALFAMA");
    let get = get_returning(Some(req.booked_record()));
    let seen: Captured<TransactWriteItemsInput> = captured();
    let sink = seen.clone();
    let tx = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_compute_output(move |r| {
        sink.lock().unwrap().push(r.clone());
        TransactWriteItemsOutput::builder().build()
    });
    let store = DynamoBookingStore::new(
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&get, &tx]),
        TABLE,
    );
    let outcome = store.cancel(Service::Hotel, "t1").await.unwrap();
    assert_eq!(
        outcome,
        CancelOutcome {
            booking_id: Some(req.booking_id.clone()),
            was_booked: true
        }
    );
    let seen = seen.lock().unwrap();
    let items = seen[0].transact_items();
    assert_eq!(items.len(), 3);
    // the booking: the same key the booking was written under, only if still BOOKED
    let flip = items[0].update().unwrap();
    let key = booking_key(Service::Hotel, "t1");
    assert_eq!(key_of(flip.key()), (key.pk.clone(), key.sk.clone()));
    assert_eq!(
        key_of(&record_to_item(&req.booked_record())),
        (key.pk, key.sk)
    );
    assert_eq!(flip.condition_expression(), Some(STATUS_IS));
    let values = flip.expression_attribute_values().unwrap();
    assert_eq!(values[":expected"], s("BOOKED"));
    assert_eq!(values[":cancelled"], s("CANCELLED"));
    assert_eq!(values[":wasBooked"], AttributeValue::Bool(true));
    // and both nights get their room back
    for (i, night) in ["2031-06-10", "2031-06-11"].iter().enumerate() {
        let release = items[i + 1].update().unwrap();
        assert_eq!(
            key_of(release.key()).0,
            format!("INV#hotel#HTL-LIS-ALFAMA#{night}")
        );
        assert_eq!(release.update_expression(), "ADD #held :units");
        assert_eq!(
            release.expression_attribute_values().unwrap()[":units"],
            AttributeValue::N("-1".into())
        );
    }
}

#[tokio::test]
async fn cancelling_an_unknown_booking_writes_a_tombstone() {
    let get = get_returning(None);
    let puts: Captured<PutItemInput> = captured();
    let sink = puts.clone();
    let put = mock!(aws_sdk_dynamodb::Client::put_item).then_compute_output(move |r| {
        sink.lock().unwrap().push(r.clone());
        PutItemOutput::builder().build()
    });
    let store = DynamoBookingStore::new(
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&get, &put]),
        TABLE,
    );
    let outcome = store.cancel(Service::Hotel, "t1").await.unwrap();
    assert_eq!(
        outcome,
        CancelOutcome {
            booking_id: None,
            was_booked: false
        }
    );
    let puts = puts.lock().unwrap();
    assert_eq!(puts[0].condition_expression(), Some(BOOKING_ABSENT));
    let tombstone = item_to_record(puts[0].item().unwrap()).unwrap();
    assert_eq!(tombstone.status, BookingStatus::Cancelled);
    assert!(!tombstone.was_booked);
}

#[tokio::test]
async fn cancelling_a_failed_booking_flips_it_without_releasing_anything() {
    let req = request("HTL-LIS-ALFAMA");
    let get = get_returning(Some(
        req.failed_record(Refusal::new(reason::SOLD_OUT, "full")),
    ));
    let updates: Captured<UpdateItemInput> = captured();
    let sink = updates.clone();
    let update = mock!(aws_sdk_dynamodb::Client::update_item).then_compute_output(move |r| {
        sink.lock().unwrap().push(r.clone());
        UpdateItemOutput::builder().build()
    });
    let store = DynamoBookingStore::new(
        mock_client!(aws_sdk_dynamodb, RuleMode::Sequential, [&get, &update]),
        TABLE,
    );
    assert!(!store.cancel(Service::Hotel, "t1").await.unwrap().was_booked);
    let updates = updates.lock().unwrap();
    assert_eq!(updates[0].condition_expression(), Some(STATUS_IS));
    assert_eq!(
        updates[0].expression_attribute_values().unwrap()[":expected"],
        s("FAILED")
    );
}

#[tokio::test]
async fn a_cancel_that_loses_a_race_reads_again_and_releases_nothing_twice() {
    // given the booking is cancelled by someone else between the read and the transaction
    let req = request("HTL-LIS-ALFAMA");
    let first_read = get_returning(Some(req.booked_record()));
    let tx = mock!(aws_sdk_dynamodb::Client::transact_write_items).then_error(|| {
        canceled(vec![
            reason_code("ConditionalCheckFailed"),
            reason_code("None"),
            reason_code("None"),
        ])
    });
    let mut tombstone = req.booked_record();
    tombstone.status = BookingStatus::Cancelled;
    tombstone.was_booked = true;
    let second_read = get_returning(Some(tombstone));
    let store = DynamoBookingStore::new(
        mock_client!(
            aws_sdk_dynamodb,
            RuleMode::Sequential,
            [&first_read, &tx, &second_read]
        ),
        TABLE,
    );
    // then the cancel answers what the winner did, without another transaction
    let outcome = store.cancel(Service::Hotel, "t1").await.unwrap();
    assert!(outcome.was_booked);
    assert_eq!(tx.num_calls(), 1);
    assert_eq!(second_read.num_calls(), 1);
}

#[test]
fn items_round_trip_to_records() {
    let req = request("HTL-LIS-ALFAMA");
    for r in [
        req.booked_record(),
        req.failed_record(Refusal::new(reason::SOLD_OUT, "full")),
    ] {
        assert_eq!(item_to_record(&record_to_item(&r)).unwrap(), r);
    }
}

// --- EventBridge ---

fn failed_event(i: usize, message: String) -> TripEvent {
    TripEvent::BookingFailed(BookingFailed {
        trip_id: format!("trip-{i}"),
        service: Service::Car,
        kind: FailureKind::Business,
        reason: "NO_CAR_AVAILABLE".into(),
        message,
        metadata: Metadata::new(format!("corr-{i}")).with_task_token(format!("tok-{i}")),
    })
}

fn ok_entry(i: usize) -> PutEventsResultEntry {
    PutEventsResultEntry::builder()
        .event_id(format!("ev-{i}"))
        .build()
}

#[tokio::test]
async fn events_go_out_in_batches_of_at_most_ten() {
    let seen: Captured<PutEventsInput> = captured();
    let sink = seen.clone();
    let rule = mock!(aws_sdk_eventbridge::Client::put_events).then_compute_output(move |req| {
        sink.lock().unwrap().push(req.clone());
        PutEventsOutput::builder()
            .failed_entry_count(0)
            .set_entries(Some((0..req.entries().len()).map(ok_entry).collect()))
            .build()
    });
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]);
    let publisher = EventBridgePublisher::new(client, "trip-saga");
    let events: Vec<TripEvent> = (0..23).map(|i| failed_event(i, "no car".into())).collect();
    publisher.publish(&events).await.unwrap();
    let seen = seen.lock().unwrap();
    let sizes: Vec<usize> = seen.iter().map(|r| r.entries().len()).collect();
    assert_eq!(sizes, [10, 10, 3]);
    let first = &seen[0].entries()[0];
    assert_eq!(first.source(), Some("trip.car"));
    assert_eq!(first.detail_type(), Some("CarBookingFailed"));
    assert_eq!(first.event_bus_name(), Some("trip-saga"));
    let detail: serde_json::Value = serde_json::from_str(first.detail().unwrap()).unwrap();
    assert_eq!(detail["metadata"]["taskToken"], "tok-0");
}

#[tokio::test]
async fn only_the_entries_eventbridge_refused_are_sent_again() {
    let seen: Captured<PutEventsInput> = captured();
    let sink = seen.clone();
    let rule = mock!(aws_sdk_eventbridge::Client::put_events).then_compute_output(move |req| {
        let mut calls = sink.lock().unwrap();
        calls.push(req.clone());
        let entries: Vec<PutEventsResultEntry> = if calls.len() == 1 {
            // the second of three entries is refused the first time
            vec![
                ok_entry(0),
                PutEventsResultEntry::builder()
                    .error_code("InternalFailure")
                    .error_message("try again")
                    .build(),
                ok_entry(2),
            ]
        } else {
            (0..req.entries().len()).map(ok_entry).collect()
        };
        let failed = entries.iter().filter(|e| e.error_code().is_some()).count() as i32;
        PutEventsOutput::builder()
            .failed_entry_count(failed)
            .set_entries(Some(entries))
            .build()
    });
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]);
    let publisher = EventBridgePublisher::new(client, "trip-saga").with_retries(3, Duration::ZERO);
    let events: Vec<TripEvent> = (0..3).map(|i| failed_event(i, "no car".into())).collect();
    publisher.publish(&events).await.unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[1].entries().len(), 1);
    let resent: serde_json::Value =
        serde_json::from_str(seen[1].entries()[0].detail().unwrap()).unwrap();
    assert_eq!(resent["tripId"], "trip-1");
}

#[tokio::test]
async fn entries_refused_every_time_fail_the_publish_transiently() {
    let rule = mock!(aws_sdk_eventbridge::Client::put_events).then_compute_output(|req| {
        let mut entries: Vec<PutEventsResultEntry> =
            (0..req.entries().len()).map(ok_entry).collect();
        entries[0] = PutEventsResultEntry::builder()
            .error_code("ThrottlingException")
            .build();
        PutEventsOutput::builder()
            .failed_entry_count(1)
            .set_entries(Some(entries))
            .build()
    });
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]);
    let publisher = EventBridgePublisher::new(client, "trip-saga").with_retries(3, Duration::ZERO);
    let events: Vec<TripEvent> = (0..3).map(|i| failed_event(i, "x".into())).collect();
    let err = publisher.publish(&events).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::PublishFailed {
                failed: 1,
                total: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.is_transient());
    assert_eq!(rule.num_calls(), 3);
}

#[tokio::test]
async fn an_oversize_entry_is_refused_before_anything_is_sent() {
    let rule = mock!(aws_sdk_eventbridge::Client::put_events)
        .then_output(|| PutEventsOutput::builder().failed_entry_count(0).build());
    let client = mock_client!(aws_sdk_eventbridge, RuleMode::MatchAny, [&rule]);
    let publisher = EventBridgePublisher::new(client, "trip-saga");
    let events = vec![
        failed_event(0, "ok".into()),
        failed_event(1, "x".repeat(300 * 1024)),
    ];
    let err = publisher.publish(&events).await.unwrap_err();
    assert!(
        matches!(err, Error::EntryTooLarge { limit: 262_144, .. }),
        "{err:?}"
    );
    assert!(!err.is_transient());
    assert_eq!(rule.num_calls(), 0);
}

// --- Step Functions ---

const ARN: &str = "arn:aws:states:us-east-1:123456789012:stateMachine:trip-saga";

fn no_retries(c: aws_sdk_sfn::config::Builder) -> aws_sdk_sfn::config::Builder {
    c.retry_config(aws_sdk_sfn::config::retry::RetryConfig::disabled())
}

#[tokio::test]
async fn an_execution_is_started_under_the_trip_id() {
    let seen: Captured<StartExecutionInput> = captured();
    let sink = seen.clone();
    let rule = mock!(aws_sdk_sfn::Client::start_execution).then_compute_output(move |req| {
        sink.lock().unwrap().push(req.clone());
        StartExecutionOutput::builder()
            .execution_arn(format!("{ARN}:x"))
            .start_date(aws_sdk_sfn::primitives::DateTime::from_secs(0))
            .build()
            .unwrap()
    });
    let wf = StepFunctionsWorkflow::new(mock_client!(aws_sdk_sfn, [&rule]), ARN);
    assert_eq!(
        wf.start_execution("trip-1", r#"{"tripId":"trip-1"}"#)
            .await
            .unwrap(),
        StartOutcome::Started
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].state_machine_arn(), Some(ARN));
    assert_eq!(seen[0].name(), Some("trip-1"));
    assert_eq!(seen[0].input(), Some(r#"{"tripId":"trip-1"}"#));
}

#[tokio::test]
async fn an_existing_execution_is_not_an_error() {
    let rule = mock!(aws_sdk_sfn::Client::start_execution).then_error(|| {
        StartExecutionError::ExecutionAlreadyExists(ExecutionAlreadyExists::builder().build())
    });
    let wf = StepFunctionsWorkflow::new(mock_client!(aws_sdk_sfn, [&rule]), ARN);
    assert_eq!(
        wf.start_execution("trip-1", "{}").await.unwrap(),
        StartOutcome::AlreadyExists
    );
}

#[tokio::test]
async fn callbacks_on_tokens_the_workflow_forgot_are_stale() {
    let timed_out = mock!(aws_sdk_sfn::Client::send_task_success)
        .then_error(|| SendTaskSuccessError::TaskTimedOut(TaskTimedOut::builder().build()));
    let invalid = mock!(aws_sdk_sfn::Client::send_task_success)
        .then_error(|| SendTaskSuccessError::InvalidToken(InvalidToken::builder().build()));
    let gone = mock!(aws_sdk_sfn::Client::send_task_failure)
        .then_error(|| SendTaskFailureError::TaskDoesNotExist(TaskDoesNotExist::builder().build()));
    let client = mock_client!(
        aws_sdk_sfn,
        RuleMode::Sequential,
        [&timed_out, &invalid, &gone]
    );
    let wf = StepFunctionsWorkflow::new(client, ARN);
    assert_eq!(
        wf.send_task_success("t", "{}").await,
        Err(Error::StaleToken("TaskTimedOut".into()))
    );
    assert_eq!(
        wf.send_task_success("t", "{}").await,
        Err(Error::StaleToken("InvalidToken".into()))
    );
    assert_eq!(
        wf.send_task_failure("t", "Trip.BusinessError", "{}").await,
        Err(Error::StaleToken("TaskDoesNotExist".into()))
    );
}

#[tokio::test]
async fn throttled_or_failing_step_functions_is_transient() {
    let throttled = mock!(aws_sdk_sfn::Client::send_task_success)
        .sequence()
        .http_status(
            400,
            Some(r#"{"__type":"ThrottlingException","message":"Rate exceeded"}"#.into()),
        )
        .build();
    let broken = mock!(aws_sdk_sfn::Client::send_task_success)
        .sequence()
        .http_status(500, Some(r#"{"__type":"InternalFailure"}"#.into()))
        .build();
    let client = mock_client!(
        aws_sdk_sfn,
        RuleMode::Sequential,
        [&throttled, &broken],
        no_retries
    );
    let wf = StepFunctionsWorkflow::new(client, ARN);
    let err = wf.send_task_success("t", "{}").await.unwrap_err();
    assert!(matches!(err, Error::Throttled(_)), "{err:?}");
    let err = wf.send_task_success("t", "{}").await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn a_task_failure_carries_the_error_name_and_cause() {
    let seen: Captured<SendTaskFailureInput> = captured();
    let sink = seen.clone();
    let rule = mock!(aws_sdk_sfn::Client::send_task_failure).then_compute_output(move |req| {
        sink.lock().unwrap().push(req.clone());
        SendTaskFailureOutput::builder().build()
    });
    let wf = StepFunctionsWorkflow::new(mock_client!(aws_sdk_sfn, [&rule]), ARN);
    wf.send_task_failure(
        "tok",
        trip_events::ERROR_TRANSIENT,
        r#"{"reason":"X","message":"m"}"#,
    )
    .await
    .unwrap();
    let seen = seen.lock().unwrap();
    assert_eq!(seen[0].task_token(), Some("tok"));
    assert_eq!(seen[0].error(), Some("Trip.TransientError"));
    assert_eq!(seen[0].cause(), Some(r#"{"reason":"X","message":"m"}"#));
    let _ = SendTaskSuccessOutput::builder().build();
}
