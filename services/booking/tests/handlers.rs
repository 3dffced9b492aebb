//! The handlers on real SQS-wrapped EventBridge fixtures (tests/fixtures/, written by
//! make_fixtures.py), with the in-memory adapters.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, TimeZone, Utc};
use futures::executor::block_on;
use serde_json::{Value, json};
use trip_booking::handlers::{MAX_CAUSE_CHARS, failure_cause, truncate_chars};
use trip_booking::memory::WorkflowCall;
use trip_booking::{
    BatchOutcome, Delivery, Error, Handled, MemoryBookingStore, QueueMessage, RecordingPublisher,
    RecordingWorkflow, Service, handle_bridge_event, handle_service_event, handle_service_record,
    messages_of, process_sqs_batch,
};
use trip_events::{EventEnvelope, FailureKind, StepResult, TripEvent};

fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2030, 1, 1, 0, 0, 0).unwrap()
}

fn fixture(name: &str) -> SqsEvent {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn run_hotel(
    store: &MemoryBookingStore,
    publisher: &RecordingPublisher,
    messages: &[QueueMessage],
) -> BatchOutcome {
    block_on(process_sqs_batch(messages, |envelope| async move {
        handle_service_event(Service::Hotel, store, publisher, &envelope).await
    }))
}

fn run_bridge(
    workflow: &RecordingWorkflow,
    publisher: &RecordingPublisher,
    messages: &[QueueMessage],
) -> BatchOutcome {
    block_on(process_sqs_batch(messages, |envelope| async move {
        handle_bridge_event(workflow, publisher, &envelope, now()).await
    }))
}

#[test]
fn a_hotel_batch_fails_exactly_its_malformed_records() {
    // given the hotel queue's batch: a booking, its duplicate, a cancel of an unknown trip,
    // and six malformed records
    let store = MemoryBookingStore::new();
    let publisher = RecordingPublisher::new();
    let messages = messages_of(fixture("hotel-batch.json"));
    // when it is processed
    let outcome = run_hotel(&store, &publisher, &messages);
    // then exactly the malformed records fail, and the response says so in Lambda's shape
    assert_eq!(
        outcome.failed_message_ids,
        [
            "m-bad-json",
            "m-not-an-envelope",
            "m-wrong-queue",
            "m-missing-token",
            "m-wrong-types",
            "m-unknown-detail-type"
        ]
    );
    let response: SqsBatchResponse = outcome.into();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(
        json["batchItemFailures"][0],
        json!({"itemIdentifier": "m-bad-json"})
    );
    assert_eq!(json["batchItemFailures"].as_array().unwrap().len(), 6);

    // and the booking and its duplicate were answered alike, echoing correlation and token
    let events = publisher.events();
    assert_eq!(events.len(), 3, "{events:?}");
    let (TripEvent::Booked(a), TripEvent::Booked(b)) = (&events[0], &events[1]) else {
        panic!("{events:?}");
    };
    assert_eq!(a, b);
    assert_eq!(
        a.booking_id,
        trip_booking::booking_id(Service::Hotel, "trip-lisbon-0001")
    );
    assert_eq!(a.metadata.correlation_id, "corr-lisbon-0001");
    assert_eq!(
        a.metadata.task_token.as_deref(),
        Some("tok-hotel-lisbon-0001")
    );
    assert_eq!(store.held("INV#hotel#HTL-LIS-ALFAMA#2031-06-10"), 1);
    // and the unknown trip's cancel succeeded with nothing booked, leaving a tombstone
    let TripEvent::Cancelled(c) = &events[2] else {
        panic!("{events:?}")
    };
    assert!(!c.was_booked && c.booking_id.is_none());
    assert_eq!(c.metadata.task_token.as_deref(), Some("tok-cancel-never"));
    assert!(store.record(Service::Hotel, "trip-never-booked").is_some());
}

#[test]
fn a_transient_store_or_publisher_failure_fails_only_that_record() {
    let messages = messages_of(fixture("hotel-batch.json"));
    let booking = &messages[..1];
    // given a throttled store
    let store = MemoryBookingStore::new();
    let publisher = RecordingPublisher::new();
    store.fail_next(Error::Throttled("ProvisionedThroughputExceeded".into()));
    // when the booking is handled, it fails for SQS to redeliver
    assert_eq!(
        run_hotel(&store, &publisher, booking).failed_message_ids,
        ["m-book"]
    );
    assert!(publisher.events().is_empty());
    // given a publisher that fails once
    publisher.fail_next(1);
    assert_eq!(
        run_hotel(&store, &publisher, booking).failed_message_ids,
        ["m-book"]
    );
    // then the redelivery publishes the same booking, held once
    assert!(
        run_hotel(&store, &publisher, booking)
            .failed_message_ids
            .is_empty()
    );
    assert_eq!(publisher.events().len(), 1);
    assert_eq!(store.held("INV#hotel#HTL-LIS-ALFAMA#2031-06-10"), 1);
}

/// Issue 13, forward recovery: no handler used to send `Trip.TransientError`. A transient
/// failure on a record's last delivery (SQS's `ApproximateReceiveCount` has reached the queue's
/// `maxReceiveCount`; the next failure would dead-letter it) is answered as a transient
/// `HotelBookingFailed`, which the bridge sends as `Trip.TransientError`, which the workflow
/// retries: the command is not lost in the dead-letter queue.
#[test]
fn a_transient_failure_on_the_last_delivery_is_reported_for_the_workflow_to_retry() {
    let messages = messages_of(fixture("hotel-batch.json"));
    let booking = &messages[..1];
    let envelope: EventEnvelope = serde_json::from_str(&booking[0].body).unwrap();
    let (store, publisher) = (MemoryBookingStore::new(), RecordingPublisher::new());
    let handle = |receive_count| {
        block_on(handle_service_record(
            Service::Hotel,
            &store,
            &publisher,
            &envelope,
            Delivery {
                receive_count,
                max_receive_count: 5,
            },
        ))
    };
    // given a throttled store, on a delivery that SQS will redeliver: the record fails
    store.fail_next(Error::Throttled("ProvisionedThroughputExceeded".into()));
    assert!(handle(4).unwrap_err().is_transient());
    assert!(publisher.events().is_empty());
    // when it fails on the last delivery
    store.fail_next(Error::Throttled("ProvisionedThroughputExceeded".into()));
    let handled = handle(5).unwrap();
    // then the workflow is told, as a transient failure carrying the command's token
    assert_eq!(
        handled,
        Handled::TransientReported {
            error: "Throttled".into()
        }
    );
    let events = publisher.take();
    let [TripEvent::BookingFailed(f)] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(f.kind, FailureKind::Transient);
    assert!(f.metadata.task_token.is_some());
    // and the bridge turns it into Trip.TransientError, the error the booking states retry
    let answer = EventEnvelope::from_entry(
        &trip_events::PutEventsEntry::for_event(&events[0], "trip-saga"),
        "ev-answer",
        now(),
        "123456789012",
        "us-east-1",
    )
    .unwrap();
    let workflow = RecordingWorkflow::new();
    assert_eq!(
        block_on(handle_bridge_event(&workflow, &publisher, &answer, now())).unwrap(),
        Handled::TaskFailed {
            error: "Trip.TransientError".into()
        }
    );
    // nothing was booked: the retried command books afresh
    assert_eq!(store.held("INV#hotel#HTL-LIS-ALFAMA#2031-06-10"), 0);
    // a delivery of the receive count SQS reports, from the Lambda event
    assert_eq!(booking[0].receive_count, 1);
}

#[test]
fn a_refused_booking_is_an_event_not_a_failed_record() {
    let messages = messages_of(fixture("hotel-batch.json"));
    let mut envelope: EventEnvelope = serde_json::from_str(&messages[0].body).unwrap();
    envelope.detail["hotel"]["hotelId"] = json!("HTL-PAR-LOUVRE");
    let store = MemoryBookingStore::new();
    let publisher = RecordingPublisher::new();
    let handled = block_on(handle_service_event(
        Service::Hotel,
        &store,
        &publisher,
        &envelope,
    ))
    .unwrap();
    assert_eq!(
        handled,
        Handled::BookingFailed {
            reason: "SOLD_OUT".into()
        }
    );
    let TripEvent::BookingFailed(f) = &publisher.events()[0] else {
        panic!()
    };
    assert_eq!(f.kind, FailureKind::Business);
    assert_eq!(f.message, "Hotel Le Petit Louvre is fully booked");
    assert_eq!(
        f.metadata.task_token.as_deref(),
        Some("tok-hotel-lisbon-0001")
    );
}

#[test]
fn a_bridge_batch_starts_sagas_answers_tokens_and_fails_only_malformed_records() {
    let workflow = RecordingWorkflow::new();
    workflow.mark_stale("tok-stale");
    let publisher = RecordingPublisher::new();
    let messages = messages_of(fixture("bridge-batch.json"));
    // when the bridge's batch is processed
    let outcome = run_bridge(&workflow, &publisher, &messages);
    // then only the records that cannot be handled fail
    assert_eq!(
        outcome.failed_message_ids,
        [
            "b-missing-token",
            "b-bad-json",
            "b-command",
            "b-wrong-source"
        ]
    );
    let calls = workflow.calls();
    // the valid request started its execution, named after the trip, with metadata filled in
    let WorkflowCall::StartExecution { name, input } = &calls[0] else {
        panic!("{calls:?}")
    };
    assert_eq!(name, "trip-lisbon-0001");
    let input: Value = serde_json::from_str(input).unwrap();
    assert_eq!(input["metadata"]["correlationId"], "corr-lisbon-0001");
    assert_eq!(input["hotel"]["hotelId"], "HTL-LIS-ALFAMA");
    // its duplicate found the execution (a no-op), the request without metadata got the
    // event id as its correlation id
    assert!(
        matches!(&calls[1], WorkflowCall::StartExecution { name, .. } if name == "trip-lisbon-0001")
    );
    let WorkflowCall::StartExecution { name, input } = &calls[2] else {
        panic!("{calls:?}")
    };
    assert_eq!(name, "trip-lisbon-nometa");
    let input: Value = serde_json::from_str(input).unwrap();
    assert_eq!(
        input["metadata"],
        json!({"schemaVersion": "1", "correlationId": "6f7c2b1e-0000-4000-8000-000000000011"})
    );
    // outcomes answered their tokens
    assert_eq!(
        calls[3],
        WorkflowCall::SendTaskSuccess {
            token: "tok-hotel-lisbon-0001".into(),
            output: serde_json::to_string(&StepResult {
                service: Service::Hotel,
                booking_id: Some("HTL-0123456789AB".into()),
                status: "BOOKED".into()
            })
            .unwrap()
        }
    );
    assert_eq!(
        calls[4],
        WorkflowCall::SendTaskFailure {
            token: "tok-flight-madeira-0001".into(),
            error: "Trip.BusinessError".into(),
            cause: r#"{"reason":"FLIGHT_FULL","message":"flight LIS-FNC on 2031-12-30 is full"}"#
                .into()
        }
    );
    let WorkflowCall::SendTaskSuccess { token, output } = &calls[5] else {
        panic!("{calls:?}")
    };
    assert_eq!(token, "tok-car-lisbon-0002");
    assert_eq!(
        serde_json::from_str::<Value>(output).unwrap(),
        json!({"service": "car", "status": "CANCELLED"})
    );
    // stale and forged tokens were dropped without a call
    assert_eq!(calls.len(), 6, "{calls:?}");
    // and the invalid request was rejected with every reason
    let events = publisher.events();
    assert_eq!(events.len(), 1);
    let TripEvent::TripBookingRejected(r) = &events[0] else {
        panic!("{events:?}")
    };
    assert_eq!(r.trip_id.as_deref(), Some("trip-invalid-0001"));
    assert_eq!(r.metadata.correlation_id, "corr-invalid-0001");
    let paths: Vec<&str> = r.reasons.iter().map(|p| p.path.as_str()).collect();
    for expected in [
        "traveller.firstName",
        "traveller.email",
        "hotel.checkIn",
        "hotel.checkOut",
        "hotel.guests",
        "flight.to",
        "flight.return",
        "car.pickUpAt",
        "car.carClass",
    ] {
        assert!(
            paths.contains(&expected),
            "{expected} missing from {paths:?}"
        );
    }
}

#[test]
fn the_bridge_reports_what_it_did_with_each_callback() {
    let workflow = RecordingWorkflow::new();
    workflow.mark_stale("tok-stale");
    let publisher = RecordingPublisher::new();
    let messages = messages_of(fixture("bridge-batch.json"));
    let handle = |id: &str| {
        let m = messages.iter().find(|m| m.message_id == id).unwrap();
        let envelope: EventEnvelope = serde_json::from_str(&m.body).unwrap();
        block_on(handle_bridge_event(&workflow, &publisher, &envelope, now()))
    };
    assert_eq!(handle("b-stale-token"), Ok(Handled::StaleCallback));
    assert_eq!(handle("b-forged-token"), Ok(Handled::ForgedToken));
    assert_eq!(
        handle("b-request"),
        Ok(Handled::SagaStarted {
            execution: "trip-lisbon-0001".into()
        })
    );
    assert_eq!(
        handle("b-request"),
        Ok(Handled::SagaAlreadyStarted {
            execution: "trip-lisbon-0001".into()
        })
    );
    assert!(matches!(
        handle("b-missing-token"),
        Err(Error::Malformed(_))
    ));
    // a throttled callback fails the record, to be retried
    workflow.fail_next(Error::Throttled("ThrottlingException".into()));
    assert!(matches!(handle("b-hotel-booked"), Err(Error::Throttled(_))));
    assert_eq!(handle("b-hotel-booked"), Ok(Handled::TaskSucceeded));
}

#[test]
fn a_long_cause_is_cut_on_a_character_boundary_and_stays_json() {
    // given a message of multi-byte characters far beyond the limit
    let message = "é\u{1F600}\"".repeat(20_000);
    // when it becomes a task failure cause
    let cause = failure_cause("SOLD_OUT", &message);
    // then it fits and still parses, with its reason intact
    assert!(
        cause.chars().count() <= MAX_CAUSE_CHARS,
        "{}",
        cause.chars().count()
    );
    assert!(cause.chars().count() > MAX_CAUSE_CHARS - 16);
    let v: Value = serde_json::from_str(&cause).unwrap();
    assert_eq!(v["reason"], "SOLD_OUT");
    assert!(v["message"].as_str().unwrap().ends_with('…'));
    assert_eq!(truncate_chars("aé\u{1F600}b", 3), "aé\u{1F600}");
    assert_eq!(
        failure_cause("R", "short"),
        r#"{"reason":"R","message":"short"}"#
    );
}

#[test]
fn a_whole_saga_runs_through_the_handlers() {
    // given a trip request, the bridge starts the saga; the workflow (played here) sends the
    // hotel command built from the execution input; the hotel answers; the bridge completes
    // the task with the booking
    let workflow = RecordingWorkflow::new();
    let publisher = RecordingPublisher::new();
    let store = MemoryBookingStore::new();
    let messages = messages_of(fixture("bridge-batch.json"));
    assert!(
        run_bridge(&workflow, &publisher, &messages[..1])
            .failed_message_ids
            .is_empty()
    );
    let WorkflowCall::StartExecution { input, .. } = &workflow.calls()[0] else {
        panic!()
    };
    let input: Value = serde_json::from_str(input).unwrap();
    let command = EventEnvelope {
        version: "0".into(),
        id: "cmd-1".into(),
        detail_type: "HotelBookingRequested".into(),
        source: "trip.saga".into(),
        account: String::new(),
        time: "2030-01-01T00:00:00Z".into(),
        region: String::new(),
        replay_name: None,
        resources: vec![],
        detail: json!({
            "tripId": input["tripId"],
            "traveller": input["traveller"],
            "hotel": input["hotel"],
            "metadata": {"schemaVersion": "1", "correlationId": input["metadata"]["correlationId"], "taskToken": "tok-1"}
        }),
    };
    block_on(handle_service_event(
        Service::Hotel,
        &store,
        &publisher,
        &command,
    ))
    .unwrap();
    let answer = publisher.take().pop().unwrap();
    let entry = trip_events::PutEventsEntry::for_event(&answer, "trip-saga");
    let delivered =
        EventEnvelope::from_entry(&entry, "ev-2", now(), "123456789012", "us-east-1").unwrap();
    assert_eq!(
        block_on(handle_bridge_event(
            &workflow,
            &publisher,
            &delivered,
            now()
        )),
        Ok(Handled::TaskSucceeded)
    );
    let WorkflowCall::SendTaskSuccess { token, output } = &workflow.calls()[1] else {
        panic!()
    };
    assert_eq!(token, "tok-1");
    let result: StepResult = serde_json::from_str(output).unwrap();
    assert_eq!(
        result.booking_id,
        Some(trip_booking::booking_id(Service::Hotel, "trip-lisbon-0001"))
    );
}

#[derive(Clone, Default)]
struct LogBuffer(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogBuffer {
    type Writer = LogBuffer;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[test]
fn every_log_line_names_the_trip_and_correlation_and_never_the_token() {
    // given JSON logs captured from the bridge handling a callback and a stale callback
    let buffer = LogBuffer::default();
    let subscriber = trip_booking::telemetry::json_subscriber(buffer.clone(), "info");
    let workflow = RecordingWorkflow::new();
    workflow.mark_stale("tok-stale");
    let publisher = RecordingPublisher::new();
    let messages = messages_of(fixture("bridge-batch.json"));
    let picked: Vec<QueueMessage> = messages
        .into_iter()
        .filter(|m| {
            ["b-hotel-booked", "b-stale-token", "b-missing-token"].contains(&m.message_id.as_str())
        })
        .collect();
    tracing::subscriber::with_default(subscriber, || {
        run_bridge(&workflow, &publisher, &picked);
    });
    // then every line is JSON with the record's trip and correlation ids, and no token
    let text = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // (answered, stale, and the failed record's error)
    assert_eq!(lines.len(), 3, "{text}");
    assert!(
        lines
            .iter()
            .any(|l| l["level"] == "ERROR" && l["messageId"] == "b-missing-token")
    );
    for line in &lines {
        assert_eq!(line["span"]["tripId"], "trip-lisbon-0001", "{line}");
        assert_eq!(line["span"]["correlationId"], "corr-lisbon-0001", "{line}");
        let token = line["span"]["taskToken"].as_str().unwrap();
        assert!(token.is_empty() || token.starts_with("sha256:"), "{line}");
    }
    assert!(
        !text.contains("tok-hotel-lisbon-0001") && !text.contains("tok-stale"),
        "{text}"
    );
}

#[test]
fn outcomes_are_counted_as_emf_metrics() {
    static LINES: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());
    trip_booking::metrics::set_sink(|line| LINES.lock().unwrap().push(line.to_owned()));
    // given a sold-out booking handled by the hotel service
    let messages = messages_of(fixture("hotel-batch.json"));
    let mut envelope: EventEnvelope = serde_json::from_str(&messages[0].body).unwrap();
    envelope.detail["hotel"]["hotelId"] = json!("HTL-PAR-LOUVRE");
    let store = MemoryBookingStore::new();
    let publisher = RecordingPublisher::new();
    block_on(handle_service_event(
        Service::Hotel,
        &store,
        &publisher,
        &envelope,
    ))
    .unwrap();
    // then a BookingsFailed metric with its reason went out
    let lines = LINES.lock().unwrap();
    let failed = lines
        .iter()
        .map(|l| serde_json::from_str::<Value>(l).unwrap())
        .find(|v| v["BookingsFailed"] == 1.0 && v["Reason"] == "SOLD_OUT")
        .unwrap_or_else(|| panic!("{lines:?}"));
    assert_eq!(failed["Service"], "hotel");
    assert_eq!(
        failed["_aws"]["CloudWatchMetrics"][0]["Namespace"],
        "TripSaga"
    );
}
