//! Warm handler CPU per record, with in-memory ports (no I/O): what a Lambda spends on a
//! record besides waiting for DynamoDB, EventBridge and Step Functions.
//!
//! `cargo bench -p trip-booking --bench handler` (figures in BENCHMARKS.md, "## Lambdas").

use std::hint::black_box;

use chrono::{TimeZone, Utc};
use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use futures::executor::block_on;
use serde_json::Value;
use trip_booking::{
    MemoryBookingStore, QueueMessage, RecordingPublisher, RecordingWorkflow, Service,
    handle_bridge_event, handle_service_event, process_sqs_batch,
};
use trip_events::EventEnvelope;

/// The body of a fixture record (real SQS-wrapped EventBridge events, tests/fixtures/).
fn body(fixture: &str, message_id: &str) -> String {
    let path = format!("{}/tests/fixtures/{fixture}", env!("CARGO_MANIFEST_DIR"));
    let batch: Value = serde_json::from_str(&std::fs::read_to_string(path).expect("fixture"))
        .expect("fixture JSON");
    batch["Records"]
        .as_array()
        .and_then(|r| r.iter().find(|m| m["messageId"] == message_id))
        .and_then(|m| m["body"].as_str())
        .expect("fixture record")
        .to_owned()
}

fn handlers(c: &mut Criterion) {
    let booking: EventEnvelope =
        serde_json::from_str(&body("hotel-batch.json", "m-book")).expect("envelope");
    let booked: EventEnvelope =
        serde_json::from_str(&body("bridge-batch.json", "b-hotel-booked")).expect("envelope");
    let now = Utc
        .with_ymd_and_hms(2030, 1, 1, 0, 0, 0)
        .single()
        .expect("time");

    // A fresh store per iteration: every record is a first booking (a transaction), not a
    // replay of the previous iteration's.
    c.bench_function("handle_service_event/HotelBookingRequested", |b| {
        b.iter_batched(
            || (MemoryBookingStore::new(), RecordingPublisher::new()),
            |(store, publisher)| {
                block_on(handle_service_event(
                    Service::Hotel,
                    &store,
                    &publisher,
                    black_box(&booking),
                ))
            },
            BatchSize::SmallInput,
        )
    });

    c.bench_function("handle_bridge_event/HotelBooked", |b| {
        b.iter_batched(
            || (RecordingWorkflow::new(), RecordingPublisher::new()),
            |(workflow, publisher)| {
                block_on(handle_bridge_event(
                    &workflow,
                    &publisher,
                    black_box(&booked),
                    now,
                ))
            },
            BatchSize::SmallInput,
        )
    });

    // Ten bookings of ten trips, from raw SQS bodies (parsing included), on a fresh store.
    let template = body("hotel-batch.json", "m-book");
    let batch: Vec<QueueMessage> = (0..10)
        .map(|i| QueueMessage {
            receive_count: 1,
            message_id: format!("m-{i}"),
            body: template
                .replace("trip-lisbon-0001", &format!("trip-lisbon-{i:04}"))
                .replace("-000000000001", &format!("-0000000001{i:02}")),
        })
        .collect();
    let run_batch = |b: &mut criterion::Bencher| {
        b.iter_batched(
            || (MemoryBookingStore::new(), RecordingPublisher::new()),
            |(store, publisher)| {
                let (store, publisher) = (&store, &publisher);
                block_on(process_sqs_batch(
                    black_box(&batch),
                    |envelope| async move {
                        handle_service_event(Service::Hotel, store, publisher, &envelope).await
                    },
                ))
            },
            BatchSize::SmallInput,
        )
    };
    c.bench_function("process_sqs_batch/10 HotelBookingRequested", run_batch);

    // The same batch with the Lambda's JSON logs on (written to a sink): what logging adds.
    let subscriber = trip_booking::telemetry::json_subscriber(std::io::sink, "info");
    let _guard = tracing::subscriber::set_default(subscriber);
    c.bench_function(
        "process_sqs_batch/10 HotelBookingRequested, JSON logs",
        run_batch,
    );
}

criterion_group!(benches, handlers);
criterion_main!(benches);
