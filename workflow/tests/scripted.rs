//! The scripted runner behind `trip states run`.

use serde_json::{Value, json};
use trip_workflow::{
    ExecutionStatus, Responses, ScriptedResponse, TRIP_SAGA_ASL, run_scripted,
    trip_saga_substitutions,
};

fn input() -> Value {
    json!({"tripId": "t-9", "traveller": {}, "hotel": {}, "flight": {}, "car": {},
           "metadata": {"schemaVersion": "1", "correlationId": "c-9"}})
}

fn event_types(history: &Value) -> Vec<String> {
    history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn scripted_happy_path_returns_an_aws_shaped_history() {
    // Given responses for every booking
    let r = Responses::from_json(
        r#"{"BookHotel": [{"output": {"bookingId": "h"}}],
            "BookFlight": [{"output": {"bookingId": "f"}}],
            "BookCar": [{"output": {"bookingId": "c"}}]}"#,
    )
    .unwrap();
    // When the saga runs
    let run = run_scripted(TRIP_SAGA_ASL, &trip_saga_substitutions("bus"), input(), &r).unwrap();
    // Then it succeeds in 4 transitions with the usual events
    assert_eq!(run.status, ExecutionStatus::Succeeded);
    assert_eq!(run.transitions, 4);
    assert_eq!(
        run.published_detail_types(),
        [
            "HotelBookingRequested",
            "FlightBookingRequested",
            "CarBookingRequested",
            "TripBooked"
        ]
    );
    let types = event_types(&run.history);
    assert_eq!(types.first().map(String::as_str), Some("ExecutionStarted"));
    assert_eq!(types.last().map(String::as_str), Some("ExecutionSucceeded"));
    assert_eq!(
        &types[1..8],
        [
            "TaskStateEntered",
            "TaskScheduled",
            "TaskStarted",
            "TaskSubmitted",
            "TaskSucceeded",
            "TaskStateExited",
            "TaskStateEntered"
        ]
    );
    let first = &run.history["events"][0];
    assert_eq!(first["id"], 1);
    assert_eq!(first["previousEventId"], 0);
    assert_eq!(first["timestamp"], "2024-01-01T00:00:00.000Z");
    assert!(first["executionStartedEventDetails"]["input"].is_string());
    let sched = &run.history["events"][2]["taskScheduledEventDetails"];
    assert_eq!(sched["resourceType"], "events");
    assert_eq!(sched["resource"], "putEvents.waitForTaskToken");
    let definition: Value = serde_json::from_str(TRIP_SAGA_ASL).unwrap();
    assert_eq!(
        sched["timeoutInSeconds"],
        definition["States"]["BookHotel"]["TimeoutSeconds"]
    );
    let params: Value = serde_json::from_str(sched["parameters"].as_str().unwrap()).unwrap();
    assert_eq!(params["Entries"][0]["EventBusName"], "bus");
    assert_eq!(
        run.output.unwrap()["results"]["car"],
        json!({"bookingId": "c"})
    );
}

#[test]
fn scripted_attempts_follow_the_list_and_the_last_entry_repeats() {
    // Given a flight that fails transiently once, then succeeds; a car that never answers
    let r = Responses::default()
        .with(
            "BookFlight",
            ScriptedResponse::error("Trip.TransientError", "busy"),
        )
        .with(
            "BookFlight",
            ScriptedResponse::output(json!({"bookingId": "f"})),
        )
        .with("BookCar", ScriptedResponse::no_answer());
    // When the saga runs
    let run = run_scripted(TRIP_SAGA_ASL, &trip_saga_substitutions("bus"), input(), &r).unwrap();
    // Then the car times out, is asked again on each of its States.Timeout retries (3), times
    // out every time, and everything is compensated
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("TripBookingFailed"));
    assert_eq!(
        run.published_detail_types(),
        [
            "HotelBookingRequested",
            "FlightBookingRequested",
            "FlightBookingRequested",
            "CarBookingRequested",
            "CarBookingRequested",
            "CarBookingRequested",
            "CarBookingRequested",
            "CarCancellationRequested",
            "FlightCancellationRequested",
            "HotelCancellationRequested",
            "TripBookingFailed"
        ]
    );
    assert!(run.elapsed_ms >= 4 * 600_000, "{}", run.elapsed_ms);
    let failed = run.published.last().unwrap();
    assert_eq!(failed["Detail"]["failedStep"], "BookCar");
    assert_eq!(failed["Detail"]["error"]["Error"], "States.Timeout");
}

#[test]
fn scripted_request_response_tasks_use_input_or_script() {
    // Given a definition with a plain (Lambda-like) task and no script for it
    let def = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:eu-west-1:123456789012:function:work",
                  "Parameters": {"x.$": "$.x"}, "ResultPath": "$.work", "Next": "Done"},
        "Done": {"Type": "Succeed"}}});
    let run = run_scripted(
        &def.to_string(),
        &Default::default(),
        json!({"x": 1}),
        &Responses::default(),
    )
    .unwrap();
    // Then the task echoes its parameters
    assert_eq!(run.output, Some(json!({"x": 1, "work": {"x": 1}})));
    let sched = run.history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "TaskScheduled")
        .unwrap();
    assert_eq!(sched["taskScheduledEventDetails"]["resourceType"], "lambda");
    assert_eq!(
        sched["taskScheduledEventDetails"]["resource"],
        "function:work"
    );
    // And a scripted error without Catch fails the execution
    let r = Responses::default().with("Work", ScriptedResponse::error("Boom", "it broke"));
    let run = run_scripted(&def.to_string(), &Default::default(), json!({"x": 1}), &r).unwrap();
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("Boom"));
    assert_eq!(run.cause.as_deref(), Some("it broke"));
}

#[test]
fn responses_file_errors_are_reported() {
    assert!(Responses::from_json(r#"{"A": [{"output": 1, "error": "x"}]}"#).is_err());
    assert!(Responses::from_json(r#"{"A": [{"outptu": 1}]}"#).is_err());
    assert!(Responses::from_json(r#"[1]"#).is_err());
    let bad_def = run_scripted(
        "{\"StartAt\": 1}",
        &Default::default(),
        json!({}),
        &Responses::default(),
    );
    assert!(bad_def.is_err());
}
