//! The Lambda glue: build the AWS clients once, then hand every SQS batch to the handlers and
//! answer with the partial batch failures.

use std::time::Instant;

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use lambda_runtime::{LambdaEvent, service_fn};
use trip_events::Service;

use crate::adapters::dynamodb::DynamoBookingStore;
use crate::adapters::eventbridge::EventBridgePublisher;
use crate::adapters::sfn::StepFunctionsWorkflow;
use crate::handlers::{
    Delivery, handle_bridge_event, handle_service_record, messages_of, process_sqs_batch,
    process_sqs_records,
};
use crate::{metrics, telemetry};

pub use lambda_runtime::Error as LambdaError;

/// Runs the Lambda of a booking service (`TABLE_NAME`, `EVENT_BUS_NAME`, and
/// `MAX_RECEIVE_COUNT`: its queue's redrive policy, from `events/routing.json`).
pub async fn run_service(service: Service) -> Result<(), LambdaError> {
    telemetry::init_json_logging();
    metrics::use_stdout();
    // Without it no delivery counts as the last: transient failures are then left to the
    // dead-letter queue and the wait's timeout, which the workflow retries.
    let max_receive_count = std::env::var("MAX_RECEIVE_COUNT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(u32::MAX);
    let config = aws_config::load_from_env().await;
    let store = DynamoBookingStore::from_env(aws_sdk_dynamodb::Client::new(&config))?;
    let publisher = EventBridgePublisher::from_env(aws_sdk_eventbridge::Client::new(&config))?;
    let (store, publisher) = (&store, &publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let started = Instant::now();
        let messages = messages_of(event.payload);
        let outcome = process_sqs_records(&messages, |envelope, receive_count| async move {
            let delivery = Delivery {
                receive_count,
                max_receive_count,
            };
            handle_service_record(service, store, publisher, &envelope, delivery).await
        })
        .await;
        metrics::handler_duration(service.name(), started.elapsed().as_secs_f64() * 1000.0);
        Ok::<SqsBatchResponse, LambdaError>(outcome.into())
    }))
    .await
}

/// Runs the saga bridge's Lambda (`STATE_MACHINE_ARN`, `EVENT_BUS_NAME`).
pub async fn run_bridge() -> Result<(), LambdaError> {
    telemetry::init_json_logging();
    metrics::use_stdout();
    let config = aws_config::load_from_env().await;
    let workflow = StepFunctionsWorkflow::from_env(aws_sdk_sfn::Client::new(&config))?;
    let publisher = EventBridgePublisher::from_env(aws_sdk_eventbridge::Client::new(&config))?;
    let (workflow, publisher) = (&workflow, &publisher);
    lambda_runtime::run(service_fn(move |event: LambdaEvent<SqsEvent>| async move {
        let started = Instant::now();
        let now = chrono::Utc::now();
        let messages = messages_of(event.payload);
        let outcome = process_sqs_batch(&messages, |envelope| async move {
            handle_bridge_event(workflow, publisher, &envelope, now).await
        })
        .await;
        metrics::handler_duration("bridge", started.elapsed().as_secs_f64() * 1000.0);
        Ok::<SqsBatchResponse, LambdaError>(outcome.into())
    }))
    .await
}
