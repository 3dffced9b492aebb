//! What the bridge does with a `TripBookingRequested`: start the trip's saga, answer a request
//! for a trip whose saga exists, or reject it with every reason.
//!
//! A saga is named after its `tripId`, so Step Functions itself tells whether the trip exists.
//! `StartExecution` with a used name answers `ExecutionAlreadyExists` for a closed execution
//! whatever the input, for 90 days, and succeeds only for a running one started with the same
//! input (AWS Step Functions API Reference, StartExecution:
//! <https://docs.aws.amazon.com/step-functions/latest/apireference/API_StartExecution.html>).
//! So on `ExecutionAlreadyExists` the bridge reads the execution back (`DescribeExecution`:
//! status, input, output, error, cause:
//! <https://docs.aws.amazon.com/step-functions/latest/apireference/API_DescribeExecution.html>)
//! and answers:
//!
//! - the same request (same detail, metadata aside) again: the trip's outcome event is published
//!   again, with its original content, `metadata.repeat: true` and the bridge's source; while
//!   the saga still runs nothing is published (its outcome is on its way);
//! - a different request under a used `tripId`: `TripBookingRejected`, naming how the trip that
//!   holds the id ended;
//! - a replayed event (`replay-name` set): nothing at all. A replay never starts, rejects or
//!   changes a saga that exists.
//!
//! Travel dates are checked against the request's own `time` (when the client put it), not the
//! moment the bridge reads it: a late SQS redelivery or a replay of a valid request stays valid.
//! An existing saga is looked for before any rejection, so a repeated request whose dates have
//! passed since still gets its trip's outcome.

use chrono::{DateTime, Utc};
use serde_json::Value;
use tracing::{info, warn};
use trip_events::{
    EventEnvelope, Metadata, Reason, SCHEMA_VERSION, TripBooked, TripBookingFailed,
    TripBookingRejected, TripCompensationStuck, TripEvent, validate_trip_request,
};

use crate::error::Error;
use crate::handlers::{Handled, MAX_REASON_CHARS, MAX_REJECT_REASONS, truncate_chars};
use crate::ports::{EventPublisher, ExecutionState, ExecutionSummary, SagaWorkflow, StartOutcome};

/// When the request was made: the envelope's `time` (set by PutEvents, or by the client's
/// `Time`), or `now` when it cannot be read.
pub fn request_time(envelope: &EventEnvelope, now: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&envelope.time)
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

/// The trip id, if it can name an execution (`^[A-Za-z0-9_-]{1,64}$`, as the schema says).
fn execution_name(envelope: &EventEnvelope) -> Option<&str> {
    envelope.trip_id().filter(|t| {
        (1..=64).contains(&t.len())
            && t.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    })
}

/// The request without its metadata (the correlation id differs between a client's retries).
fn request_body(v: &Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove("metadata");
    }
    v
}

/// Whether `detail` asks for the same trip as the execution's input.
pub fn same_request(detail: &Value, execution_input: &str) -> bool {
    serde_json::from_str::<Value>(execution_input)
        .is_ok_and(|input| request_body(&input) == request_body(detail))
}

/// How the saga that holds a trip id stands, in words for a rejection.
fn standing(e: &ExecutionSummary) -> String {
    match e.state {
        ExecutionState::Running => "whose saga is still running".to_owned(),
        ExecutionState::Succeeded => "that was booked".to_owned(),
        ExecutionState::Failed => match e.error.as_deref() {
            Some(error) => format!("whose saga failed ({error})"),
            None => "whose saga failed".to_owned(),
        },
        ExecutionState::TimedOut => "whose saga timed out".to_owned(),
        ExecutionState::Aborted => "whose saga was stopped".to_owned(),
    }
}

fn repeat_metadata(correlation_id: &str) -> Metadata {
    Metadata {
        repeat: true,
        ..Metadata::new(correlation_id)
    }
}

/// The outcome event the execution published, rebuilt from what `DescribeExecution` returns:
/// `TripBooked` from the output of a succeeded execution (the saga's state: `results.*`), the
/// failure event from the cause of a failed one (the definition's Fail states put the event's
/// detail there as JSON). `None` when the execution published no outcome.
pub fn outcome_again(e: &ExecutionSummary) -> Option<TripEvent> {
    match e.state {
        ExecutionState::Succeeded => {
            let out: Value = serde_json::from_str(e.output.as_deref()?).ok()?;
            let step = |s: &str| {
                serde_json::from_value(out.pointer(&format!("/results/{s}"))?.clone()).ok()
            };
            Some(TripEvent::TripBooked(TripBooked {
                trip_id: out.get("tripId")?.as_str()?.to_owned(),
                hotel: step("hotel")?,
                flight: step("flight")?,
                car: step("car")?,
                metadata: repeat_metadata(out.pointer("/metadata/correlationId")?.as_str()?),
            }))
        }
        ExecutionState::Failed if e.error.as_deref() == Some("TripCompensationStuck") => {
            let mut stuck: TripCompensationStuck =
                serde_json::from_str(e.cause.as_deref()?).ok()?;
            stuck.metadata = repeat_metadata(&stuck.metadata.correlation_id);
            Some(TripEvent::TripCompensationStuck(stuck))
        }
        ExecutionState::Failed => {
            let mut failed: TripBookingFailed = serde_json::from_str(e.cause.as_deref()?).ok()?;
            failed.metadata = repeat_metadata(&failed.metadata.correlation_id);
            Some(TripEvent::TripBookingFailed(failed))
        }
        _ => None,
    }
}

fn rejection(trip_id: Option<String>, reasons: Vec<Reason>, correlation_id: String) -> TripEvent {
    TripEvent::TripBookingRejected(TripBookingRejected {
        trip_id,
        reasons,
        metadata: Metadata::new(correlation_id),
    })
}

/// Publishes `TripBookingRejected` with one reason, on `tripId`.
async fn reject_trip_id<P: EventPublisher>(
    publisher: &P,
    trip_id: &str,
    reason: &str,
    correlation_id: String,
) -> Result<(), Error> {
    let reasons = vec![Reason {
        path: "tripId".into(),
        reason: reason.to_owned(),
    }];
    publisher
        .publish(&[rejection(Some(trip_id.to_owned()), reasons, correlation_id)])
        .await
}

/// Answers a request for a trip whose saga exists.
async fn answer_existing<P: EventPublisher>(
    publisher: &P,
    envelope: &EventEnvelope,
    name: &str,
    existing: &ExecutionSummary,
    correlation_id: String,
) -> Result<Handled, Error> {
    let execution = name.to_owned();
    if let Some(replay) = &envelope.replay_name {
        info!(
            execution = name,
            replay = replay.as_str(),
            status = existing.state.as_str(),
            "replayed trip request for an existing saga: nothing done"
        );
        return Ok(Handled::ReplayIgnored { execution });
    }
    if !same_request(&envelope.detail, &existing.input) {
        let reason = format!(
            "is already used by a different request, for a trip {}",
            standing(existing)
        );
        reject_trip_id(publisher, name, &reason, correlation_id).await?;
        info!(
            execution = name,
            reason = reason.as_str(),
            "trip id in use: rejected"
        );
        return Ok(Handled::Rejected { reasons: 1 });
    }
    if existing.state == ExecutionState::Running {
        info!(
            execution = name,
            "saga already running: duplicate request, its outcome will follow"
        );
        return Ok(Handled::SagaAlreadyStarted { execution });
    }
    match outcome_again(existing) {
        Some(event) => {
            let detail_type = event.detail_type().as_str().to_owned();
            publisher.publish(&[event]).await?;
            info!(
                execution = name,
                outcome = detail_type.as_str(),
                "repeated request for a finished saga: outcome published again"
            );
            Ok(Handled::OutcomeRepeated {
                execution,
                detail_type,
            })
        }
        // The saga ended without an outcome event (timed out, stopped, or failed outside
        // the definition's paths): the client still gets an answer, saying so.
        None => {
            let reason = format!(
                "is already used by this request, for a trip {}",
                standing(existing)
            );
            reject_trip_id(publisher, name, &reason, correlation_id).await?;
            warn!(
                execution = name,
                reason = reason.as_str(),
                "repeated request for a saga that ended without an outcome"
            );
            Ok(Handled::Rejected { reasons: 1 })
        }
    }
}

/// Handles one `TripBookingRequested` (its source already checked).
pub(crate) async fn start_saga<W: SagaWorkflow, P: EventPublisher>(
    workflow: &W,
    publisher: &P,
    envelope: &EventEnvelope,
    now: DateTime<Utc>,
) -> Result<Handled, Error> {
    let correlation_id = envelope
        .detail
        .pointer("/metadata/correlationId")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty() && c.chars().count() <= 128)
        .unwrap_or(&envelope.id)
        .to_owned();
    match validate_trip_request(&envelope.detail, request_time(envelope, now)) {
        Ok(mut request) => {
            request.metadata = Some(Metadata {
                schema_version: SCHEMA_VERSION.to_owned(),
                correlation_id: correlation_id.clone(),
                task_token: None,
                repeat: false,
            });
            let input =
                serde_json::to_string(&request).map_err(|e| Error::Malformed(e.to_string()))?;
            let name = request.trip_id.as_str();
            // A replay must not start a saga that exists, even one that ended long ago.
            if envelope.replay_name.is_some()
                && let Some(existing) = workflow.describe_execution(name).await?
            {
                return answer_existing(publisher, envelope, name, &existing, correlation_id).await;
            }
            match workflow.start_execution(name, &input).await? {
                StartOutcome::Started => {
                    info!(execution = name, "saga started");
                    Ok(Handled::SagaStarted {
                        execution: name.to_owned(),
                    })
                }
                StartOutcome::AlreadyExists => match workflow.describe_execution(name).await? {
                    Some(existing) => {
                        answer_existing(publisher, envelope, name, &existing, correlation_id).await
                    }
                    // DescribeExecution is eventually consistent: the record comes back.
                    None => Err(Error::Unavailable(format!(
                        "execution {name} exists but cannot be described yet"
                    ))),
                },
            }
        }
        Err(problems) => {
            // A saga that exists is answered, never rejected: a repeat whose dates have passed
            // since gets its outcome, a replay gets nothing.
            if let Some(name) = execution_name(envelope)
                && let Some(existing) = workflow.describe_execution(name).await?
            {
                return answer_existing(publisher, envelope, name, &existing, correlation_id).await;
            }
            let total = problems.len();
            let reasons: Vec<Reason> = problems
                .into_iter()
                .take(MAX_REJECT_REASONS)
                .map(|p| Reason {
                    path: truncate_chars(&p.path, MAX_REASON_CHARS).to_owned(),
                    reason: truncate_chars(&p.reason, MAX_REASON_CHARS).to_owned(),
                })
                .collect();
            let trip_id = envelope
                .trip_id()
                .filter(|t| t.chars().count() <= 128)
                .map(str::to_owned);
            let n = reasons.len();
            publisher
                .publish(&[rejection(trip_id, reasons, correlation_id)])
                .await?;
            info!(reasons = total, "trip request rejected");
            Ok(Handled::Rejected { reasons: n })
        }
    }
}
