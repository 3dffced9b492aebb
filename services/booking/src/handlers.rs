//! The code every deployment runs: Lambda (through [`crate::lambda`]) and the embedded runtime
//! (with its own adapters) call these same functions.
//!
//! A record either succeeds (its outcome, including a business refusal, is an event) or fails
//! alone: transient errors so SQS redelivers it, malformed records so they end in the
//! dead-letter queue. Nothing here panics, spawns or sleeps.

use std::future::Future;

#[cfg(feature = "aws")]
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use chrono::{DateTime, Utc};
use futures::future::join_all;
use serde_json::{Value, json};
use tracing::{Instrument, error, info, info_span, warn};
use trip_events::{
    Booked, BookingFailed, Cancelled, DetailType, EventEnvelope, Service, StepResult, TripEvent,
};

use crate::domain::{BookOutcome, BookRequest};
use crate::error::{Error, ErrorKind};
use crate::inventory::{plan_car, plan_flight, plan_hotel};
use crate::metrics;
use crate::ports::{BookingStore, EventPublisher, SagaWorkflow};
use crate::telemetry::token_fingerprint;

/// Step Functions refuses longer task tokens; a longer one is forged.
pub const MAX_TOKEN_BYTES: usize = 2048;
/// `SendTaskSuccess` output limit (bytes).
pub const MAX_OUTPUT_BYTES: usize = 256 * 1024;
/// `SendTaskFailure` error limit (characters).
pub const MAX_ERROR_CHARS: usize = 256;
/// `SendTaskFailure` cause limit (characters).
pub const MAX_CAUSE_CHARS: usize = 32_768;
/// A rejection lists at most this many reasons, each at most [`MAX_REASON_CHARS`], so that it
/// always fits in one event whatever the request was.
pub const MAX_REJECT_REASONS: usize = 64;
pub const MAX_REASON_CHARS: usize = 512;

/// What handling one record came to (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Handled {
    /// `...Booked` published.
    Booked { booking_id: String },
    /// `...BookingFailed` published.
    BookingFailed { reason: String },
    /// `...Cancelled` published.
    Cancelled {
        booking_id: Option<String>,
        was_booked: bool,
    },
    /// The trip's saga was started.
    SagaStarted { execution: String },
    /// The trip's saga is running and this is its request again: nothing done (its outcome
    /// is on its way).
    SagaAlreadyStarted { execution: String },
    /// The trip's saga has ended and this is its request again: its outcome event was
    /// published again (marked as a repeat).
    OutcomeRepeated {
        execution: String,
        detail_type: String,
    },
    /// A replayed request for a trip whose saga exists: nothing done.
    ReplayIgnored { execution: String },
    /// `TripBookingRejected` published.
    Rejected { reasons: usize },
    /// A transient failure on the record's last delivery was answered as a transient
    /// `...BookingFailed` (the workflow retries the step).
    TransientReported { error: String },
    /// The workflow's task was completed (`SendTaskSuccess`).
    TaskSucceeded,
    /// The workflow's task was failed (`SendTaskFailure`).
    TaskFailed { error: String },
    /// The workflow no longer waited on the token: dropped.
    StaleCallback,
    /// The token cannot be a Step Functions token: dropped.
    ForgedToken,
}

/// The longest prefix of `s` with at most `max` characters.
pub fn truncate_chars(s: &str, max: usize) -> &str {
    match s.char_indices().nth(max) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

/// The cause of a `SendTaskFailure`: `{"reason", "message"}` as JSON, at most
/// [`MAX_CAUSE_CHARS`] characters, shortening the message (on a character boundary) so the
/// cause stays valid JSON.
pub fn failure_cause(reason: &str, message: &str) -> String {
    let reason = truncate_chars(reason, MAX_ERROR_CHARS);
    let cause = |message: &str| json!({"reason": reason, "message": message}).to_string();
    let whole = cause(message);
    if whole.chars().count() <= MAX_CAUSE_CHARS {
        return whole;
    }
    // The longest prefix of the message (plus an ellipsis) that fits once escaped.
    let (mut fits, mut too_long) = (0, message.chars().count());
    while too_long - fits > 1 {
        let mid = (fits + too_long) / 2;
        let candidate = format!("{}…", truncate_chars(message, mid));
        if cause(&candidate).chars().count() <= MAX_CAUSE_CHARS {
            fits = mid;
        } else {
            too_long = mid;
        }
    }
    cause(&format!("{}…", truncate_chars(message, fits)))
}

fn decode_for(
    envelope: &EventEnvelope,
    accepted: &[DetailType],
    who: &str,
) -> Result<TripEvent, Error> {
    let dt: DetailType = envelope
        .detail_type
        .parse()
        .map_err(|e: String| Error::malformed(e))?;
    if !accepted.contains(&dt) {
        return Err(Error::malformed(format!(
            "detail-type {dt} is not for the {who}"
        )));
    }
    if envelope.source != dt.source() {
        return Err(Error::malformed(format!(
            "{dt} must come from {}, not {:?}",
            dt.source(),
            envelope.source
        )));
    }
    envelope
        .decode()
        .map_err(|e| Error::malformed(e.to_string()))
}

fn record_span(envelope: &EventEnvelope) -> tracing::Span {
    let correlation = envelope
        .detail
        .pointer("/metadata/correlationId")
        .and_then(Value::as_str)
        .unwrap_or("");
    let token = envelope
        .detail
        .pointer("/metadata/taskToken")
        .and_then(Value::as_str)
        .map(token_fingerprint)
        .unwrap_or_default();
    info_span!(
        "record",
        tripId = envelope.trip_id().unwrap_or(""),
        correlationId = correlation,
        detailType = envelope.detail_type.as_str(),
        eventId = envelope.id.as_str(),
        taskToken = token.as_str(),
    )
}

/// Where a record stands in its queue's redelivery budget: SQS hands a message to the consumer
/// at most `maxReceiveCount` times (its `ApproximateReceiveCount` counts them), one visibility
/// timeout apart, then moves it to the dead-letter queue (Amazon SQS Developer Guide,
/// "Using dead-letter queues" and "Visibility timeout":
/// <https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-dead-letter-queues.html>).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Delivery {
    pub receive_count: u32,
    pub max_receive_count: u32,
}

impl Delivery {
    /// A delivery whose budget is not known: never treated as the last.
    pub const UNKNOWN: Delivery = Delivery {
        receive_count: 1,
        max_receive_count: u32::MAX,
    };

    /// No redelivery follows a failure of this one: it would go to the dead-letter queue.
    pub fn is_last(&self) -> bool {
        self.receive_count >= self.max_receive_count
    }
}

/// Handles one command for a booking service: `<Service>BookingRequested` or
/// `<Service>CancellationRequested`, answered with the outcome event carrying the same
/// correlation id and task token. (As [`handle_service_record`] with [`Delivery::UNKNOWN`].)
pub async fn handle_service_event<S: BookingStore, P: EventPublisher>(
    service: Service,
    store: &S,
    publisher: &P,
    envelope: &EventEnvelope,
) -> Result<Handled, Error> {
    handle_service_record(service, store, publisher, envelope, Delivery::UNKNOWN).await
}

/// [`handle_service_event`], knowing where the record is in its redelivery budget.
///
/// Forward recovery: a booking that fails transiently is left to SQS redelivery (the record
/// fails) while redeliveries remain; on the last one, instead of letting the command die in the
/// dead-letter queue, the service answers `<Service>BookingFailed` with kind `transient`, which
/// the bridge sends as `Trip.TransientError`, and the workflow's Retry on it sends the command
/// again with a fresh budget. Only if that answer cannot be published either does the record
/// fail for good; the wait's `TimeoutSeconds` (retried on `States.Timeout`) covers that.
pub async fn handle_service_record<S: BookingStore, P: EventPublisher>(
    service: Service,
    store: &S,
    publisher: &P,
    envelope: &EventEnvelope,
    delivery: Delivery,
) -> Result<Handled, Error> {
    let span = record_span(envelope);
    async {
        let accepted = [
            service.booking_requested(),
            service.cancellation_requested(),
        ];
        let event = decode_for(envelope, &accepted, &format!("{service} service"))?;
        let Some(metadata) = event.metadata().cloned() else {
            return Err(Error::malformed("the command has no metadata"));
        };
        match metadata.task_token.as_deref() {
            None | Some("") => {
                return Err(Error::malformed(
                    "the command has no task token to answer with",
                ));
            }
            // Step Functions never issues such a token, and the bridge drops answers that carry
            // one: booking on it would hold inventory that no saga can ever release.
            Some(t) if t.len() > MAX_TOKEN_BYTES => {
                return Err(Error::malformed(format!(
                    "the command's task token is {} bytes; Step Functions tokens are at most {MAX_TOKEN_BYTES}",
                    t.len()
                )));
            }
            Some(_) => {}
        }
        let (trip_id, plan) = match &event {
            TripEvent::HotelBookingRequested(r) => (r.trip_id.clone(), plan_hotel(&r.hotel)),
            TripEvent::FlightBookingRequested(r) => (r.trip_id.clone(), plan_flight(&r.flight)),
            TripEvent::CarBookingRequested(r) => (r.trip_id.clone(), plan_car(&r.car)),
            TripEvent::CancellationRequested(_, c) => {
                let outcome = store.cancel(service, &c.trip_id).await?;
                publisher
                    .publish(&[TripEvent::Cancelled(Cancelled {
                        trip_id: c.trip_id.clone(),
                        service,
                        booking_id: outcome.booking_id.clone(),
                        was_booked: outcome.was_booked,
                        metadata,
                    })])
                    .await?;
                metrics::compensation(service.name());
                info!(
                    wasBooked = outcome.was_booked,
                    bookingId = outcome.booking_id.as_deref().unwrap_or(""),
                    "cancelled"
                );
                return Ok(Handled::Cancelled {
                    booking_id: outcome.booking_id,
                    was_booked: outcome.was_booked,
                });
            }
            other => {
                return Err(Error::malformed(format!(
                    "{} is not a command for the {service} service",
                    other.detail_type()
                )));
            }
        };
        let request = BookRequest::new(service, &trip_id, plan);
        let outcome = match store.book(&request).await {
            Ok(outcome) => outcome,
            Err(e) if e.is_transient() && delivery.is_last() => {
                let answer = TripEvent::BookingFailed(BookingFailed {
                    trip_id,
                    service,
                    kind: trip_events::FailureKind::Transient,
                    reason: e.code().to_owned(),
                    message: e.to_string(),
                    metadata,
                });
                return match publisher.publish(&[answer]).await {
                    Ok(()) => {
                        warn!(
                            error = %e,
                            receiveCount = delivery.receive_count,
                            "transient failure on the last delivery: reported to the workflow to retry"
                        );
                        Ok(Handled::TransientReported {
                            error: e.code().to_owned(),
                        })
                    }
                    Err(_) => Err(e),
                };
            }
            Err(e) => return Err(e),
        };
        match outcome {
            BookOutcome::Booked { booking_id } => {
                publisher
                    .publish(&[TripEvent::Booked(Booked {
                        trip_id,
                        service,
                        booking_id: booking_id.clone(),
                        metadata,
                    })])
                    .await?;
                metrics::booking_succeeded(service.name());
                info!(bookingId = booking_id.as_str(), "booked");
                Ok(Handled::Booked { booking_id })
            }
            BookOutcome::Failed(refusal) => {
                publisher
                    .publish(&[TripEvent::BookingFailed(BookingFailed {
                        trip_id,
                        service,
                        kind: trip_events::FailureKind::Business,
                        reason: refusal.reason.clone(),
                        message: refusal.message.clone(),
                        metadata,
                    })])
                    .await?;
                metrics::booking_failed(service.name(), &refusal.reason);
                info!(
                    reason = refusal.reason.as_str(),
                    message = refusal.message.as_str(),
                    "booking refused"
                );
                Ok(Handled::BookingFailed {
                    reason: refusal.reason,
                })
            }
        }
    }
    .instrument(span)
    .await
}

const BRIDGE_ACCEPTS: &[DetailType] = &[
    DetailType::TripBookingRequested,
    DetailType::HotelBooked,
    DetailType::HotelBookingFailed,
    DetailType::HotelCancelled,
    DetailType::FlightBooked,
    DetailType::FlightBookingFailed,
    DetailType::FlightCancelled,
    DetailType::CarBooked,
    DetailType::CarBookingFailed,
    DetailType::CarCancelled,
];

/// Handles one record for the saga bridge: a `TripBookingRequested` starts (or rejects) a saga;
/// a service's outcome answers the workflow's task token.
pub async fn handle_bridge_event<W: SagaWorkflow, P: EventPublisher>(
    workflow: &W,
    publisher: &P,
    envelope: &EventEnvelope,
    now: DateTime<Utc>,
) -> Result<Handled, Error> {
    let span = record_span(envelope);
    async {
        if envelope.detail_type == DetailType::TripBookingRequested.as_str() {
            if envelope.source != DetailType::TripBookingRequested.source() {
                return Err(Error::malformed(format!(
                    "TripBookingRequested must come from {}, not {:?}",
                    DetailType::TripBookingRequested.source(),
                    envelope.source
                )));
            }
            return crate::requests::start_saga(workflow, publisher, envelope, now).await;
        }
        let event = decode_for(envelope, BRIDGE_ACCEPTS, "saga bridge")?;
        let (service, metadata, answer) = match &event {
            TripEvent::Booked(b) => (
                b.service,
                &b.metadata,
                Answer::Success(StepResult {
                    service: b.service,
                    booking_id: Some(b.booking_id.clone()),
                    status: "BOOKED".into(),
                }),
            ),
            TripEvent::Cancelled(c) => (
                c.service,
                &c.metadata,
                Answer::Success(StepResult {
                    service: c.service,
                    booking_id: c.booking_id.clone(),
                    status: "CANCELLED".into(),
                }),
            ),
            TripEvent::BookingFailed(f) => (
                f.service,
                &f.metadata,
                Answer::Failure {
                    error: truncate_chars(f.kind.error_name(), MAX_ERROR_CHARS).to_owned(),
                    cause: failure_cause(&f.reason, &f.message),
                },
            ),
            other => {
                return Err(Error::malformed(format!(
                    "{} is not an outcome the bridge answers",
                    other.detail_type()
                )));
            }
        };
        let Some(token) = metadata.task_token.as_deref().filter(|t| !t.is_empty()) else {
            return Err(Error::malformed("the outcome carries no task token"));
        };
        if token.len() > MAX_TOKEN_BYTES {
            warn!(
                tokenBytes = token.len(),
                "task token longer than Step Functions issues: forged, dropped"
            );
            return Ok(Handled::ForgedToken);
        }
        let sent = match answer {
            Answer::Failure { error, cause } => workflow
                .send_task_failure(token, &error, &cause)
                .await
                .map(|()| Handled::TaskFailed { error }),
            Answer::Success(result) => {
                let output =
                    serde_json::to_string(&result).map_err(|e| Error::malformed(e.to_string()))?;
                if output.len() > MAX_OUTPUT_BYTES {
                    return Err(Error::malformed(format!(
                        "task output of {} bytes exceeds {MAX_OUTPUT_BYTES}",
                        output.len()
                    )));
                }
                workflow
                    .send_task_success(token, &output)
                    .await
                    .map(|()| Handled::TaskSucceeded)
            }
        };
        match sent {
            Ok(h) => {
                info!(service = service.name(), outcome = ?h, "answered the workflow");
                Ok(h)
            }
            Err(Error::StaleToken(why)) => {
                metrics::stale_callback(service.name());
                warn!(
                    service = service.name(),
                    why = why.as_str(),
                    "stale task token: the workflow no longer waits, dropped"
                );
                Ok(Handled::StaleCallback)
            }
            Err(e) => Err(e),
        }
    }
    .instrument(span)
    .await
}

/// What the bridge tells the workflow.
enum Answer {
    Success(StepResult),
    Failure { error: String, cause: String },
}

/// One SQS message as the handlers see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueueMessage {
    pub message_id: String,
    pub body: String,
    /// SQS's `ApproximateReceiveCount` (1 on the first delivery).
    pub receive_count: u32,
}

/// The messages of a Lambda SQS event.
#[cfg(feature = "aws")]
pub fn messages_of(event: SqsEvent) -> Vec<QueueMessage> {
    event
        .records
        .into_iter()
        .map(|m| QueueMessage {
            receive_count: m
                .attributes
                .get("ApproximateReceiveCount")
                .and_then(|c| c.parse().ok())
                .unwrap_or(1),
            message_id: m.message_id.unwrap_or_default(),
            body: m.body.unwrap_or_default(),
        })
        .collect()
}

/// Which messages of a batch failed (to be redelivered, eventually dead-lettered).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BatchOutcome {
    pub failed_message_ids: Vec<String>,
}

#[cfg(feature = "aws")]
impl From<BatchOutcome> for SqsBatchResponse {
    fn from(outcome: BatchOutcome) -> Self {
        let mut response = SqsBatchResponse::default();
        response.set_failures(outcome.failed_message_ids);
        response
    }
}

/// Handles every message of a batch concurrently; only failed messages are reported. A body
/// that is not an EventBridge envelope fails that message alone.
pub async fn process_sqs_batch<H, F>(messages: &[QueueMessage], handler: H) -> BatchOutcome
where
    H: Fn(EventEnvelope) -> F,
    F: Future<Output = Result<Handled, Error>>,
{
    process_sqs_records(messages, |envelope, _| handler(envelope)).await
}

/// [`process_sqs_batch`], handing the handler each message's receive count too.
pub async fn process_sqs_records<H, F>(messages: &[QueueMessage], handler: H) -> BatchOutcome
where
    H: Fn(EventEnvelope, u32) -> F,
    F: Future<Output = Result<Handled, Error>>,
{
    let results = join_all(messages.iter().map(|m| {
        let parsed = serde_json::from_str::<EventEnvelope>(&m.body);
        // The record's failure is logged in its span, with its trip and correlation ids.
        let span = match &parsed {
            Ok(envelope) => record_span(envelope),
            Err(_) => tracing::Span::current(),
        };
        let handled = parsed.map(|envelope| handler(envelope, m.receive_count));
        async move {
            let result = match handled {
                Err(e) => Err(Error::malformed(format!(
                    "body is not an EventBridge event: {e}"
                ))),
                Ok(fut) => fut.await,
            };
            if let Err(e) = &result {
                let id = m.message_id.as_str();
                span.in_scope(|| match e.kind() {
                    ErrorKind::Transient => {
                        warn!(messageId = id, error = %e, code = e.code(), "record failed, will be retried")
                    }
                    _ => error!(messageId = id, error = %e, code = e.code(), "record failed"),
                });
            }
            (m.message_id.as_str(), result.is_ok())
        }
    }))
    .await;
    let mut outcome = BatchOutcome::default();
    for (id, ok) in results {
        if !ok {
            outcome.failed_message_ids.push(id.to_owned());
        }
    }
    outcome
}
