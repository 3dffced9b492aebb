//! Interpreter conformance: each state type and field, with cases modelled on the Amazon
//! States Language specification's and the Step Functions documentation's examples.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use trip_workflow::{
    Engine, ExecutionStatus, Responses, ScriptedResponse, ScriptedRun, TaskError, TaskIntegration,
    TaskOutcome, TaskRequest, VirtualClock, WorkflowError, run_scripted,
};

fn run(def: Value, input: Value) -> ScriptedRun {
    run_with(def, input, Responses::default())
}

fn run_with(def: Value, input: Value, r: Responses) -> ScriptedRun {
    run_scripted(&def.to_string(), &Default::default(), input, &r).unwrap()
}

fn events(run: &ScriptedRun) -> Vec<Value> {
    run.history["events"].as_array().unwrap().clone()
}

fn types(run: &ScriptedRun) -> Vec<String> {
    events(run)
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

fn entered(run: &ScriptedRun) -> Vec<String> {
    events(run)
        .iter()
        .filter(|e| e["type"].as_str().unwrap().ends_with("StateEntered"))
        .map(|e| {
            e["stateEnteredEventDetails"]["name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect()
}

fn load_error(def: Value) -> WorkflowError {
    trip_workflow::load_definition(&def.to_string(), &Default::default()).unwrap_err()
}

const TASK: &str = "arn:aws:lambda:us-east-1:123456789012:function:work";

// ----- Pass and the path fields -----

#[test]
fn pass_result_with_result_path_from_the_spec() {
    // Given the spec's example: a Pass writing a Result at $.result.of
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
        "Result": {"x-datum": 0.381018, "y-datum": 622.2269926397355}, "ResultPath": "$.coords", "End": true}}});
    // When it runs on some input
    let r = run(def, json!({"georefOf": "Home"}));
    // Then the result is merged into the input
    assert_eq!(
        r.output,
        Some(
            json!({"georefOf": "Home", "coords": {"x-datum": 0.381018, "y-datum": 622.2269926397355}})
        )
    );
}

#[test]
fn input_result_and_output_paths_compose_like_the_spec_example() {
    // Given InputPath $.numbers, a task adding them, ResultPath $.sum
    let def = json!({"StartAt": "Add", "States": {"Add": {"Type": "Task", "Resource": TASK,
        "InputPath": "$.numbers", "ResultPath": "$.sum", "End": true}}});
    let input = json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}});
    let r = run_with(
        def.clone(),
        input.clone(),
        Responses::default().with("Add", ScriptedResponse::output(json!(7))),
    );
    // Then the raw input gets the sum
    assert_eq!(
        r.output,
        Some(json!({"title": "Numbers to add", "numbers": {"val1": 3, "val2": 4}, "sum": 7}))
    );
    // And OutputPath then selects part of it
    let mut d2 = def;
    d2["States"]["Add"]["OutputPath"] = json!("$.sum");
    let r = run_with(
        d2,
        input,
        Responses::default().with("Add", ScriptedResponse::output(json!(7))),
    );
    assert_eq!(r.output, Some(json!(7)));
}

#[test]
fn result_path_null_discards_the_result_and_input_path_null_gives_an_empty_object() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Pass", "Result": "ignored", "ResultPath": null, "Next": "Q"},
        "Q": {"Type": "Pass", "InputPath": null, "End": true}}});
    let r = run(def, json!({"a": 1}));
    assert_eq!(r.output, Some(json!({})));
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": "ignored", "ResultPath": null, "End": true}}});
    assert_eq!(run(def, json!({"a": 1})).output, Some(json!({"a": 1})));
}

#[test]
fn output_path_null_gives_an_empty_object() {
    let def =
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "OutputPath": null, "End": true}}});
    assert_eq!(run(def, json!({"a": 1})).output, Some(json!({})));
}

#[test]
fn parameters_use_paths_context_and_intrinsics() {
    // Given Parameters with static values, input paths, context paths and intrinsic calls
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "static": "x",
        "first.$": "$.items[0]",
        "all.$": "$.items[*].id",
        "quoted.$": "$['odd key']",
        "state.$": "$$.State.Name",
        "exec.$": "$$.Execution.Name",
        "machine.$": "$$.StateMachine.Name",
        "execInput.$": "$$.Execution.Input.items[1].id",
        "greeting.$": "States.Format('Hi {}, {} items', $.name, States.ArrayLength($.items))",
        "nested": {"deep.$": "$.name", "list": [{"in.$": "$.name"}]}
    }, "End": true}}});
    let r = run(
        def,
        json!({"name": "Ada", "items": [{"id": 1}, {"id": 2}], "odd key": true}),
    );
    assert_eq!(
        r.output,
        Some(json!({
            "static": "x", "first": {"id": 1}, "all": [1, 2], "quoted": true, "state": "P",
            "exec": "scripted-run", "machine": "scripted", "execInput": 2,
            "greeting": "Hi Ada, 2 items", "nested": {"deep": "Ada", "list": [{"in": "Ada"}]}
        }))
    );
}

#[test]
fn a_missing_parameters_path_fails_with_states_runtime_which_catch_all_does_not_catch() {
    // Given a task whose Parameters read a missing field, with a catch-all Catch
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": TASK, "Parameters": {"x.$": "$.missing"},
              "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Caught"}], "End": true},
        "Caught": {"Type": "Succeed"}}});
    let r = run(def, json!({}));
    // Then the execution fails with States.Runtime anyway
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
    assert!(r.cause.unwrap().contains("$.missing"));
}

#[test]
fn result_selector_shapes_the_task_result_before_result_path() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK,
        "ResultSelector": {"id.$": "$.Payload.id", "fixed": 1}, "ResultPath": "$.out", "End": true}}});
    let r = run_with(
        def,
        json!({"keep": true}),
        Responses::default().with(
            "T",
            ScriptedResponse::output(
                json!({"Payload": {"id": "abc", "noise": 1}, "StatusCode": 200}),
            ),
        ),
    );
    assert_eq!(
        r.output,
        Some(json!({"keep": true, "out": {"id": "abc", "fixed": 1}}))
    );
}

#[test]
fn result_path_into_a_scalar_is_a_runtime_error() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": 1, "ResultPath": "$.a.b", "End": true}}});
    let r = run(def, json!({"a": "scalar"}));
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
}

// ----- Choice -----

fn choice_machine(rules: Value, default: bool) -> Value {
    let mut states = json!({
        "C": {"Type": "Choice", "Choices": rules},
        "Yes": {"Type": "Pass", "Result": "yes", "End": true},
        "No": {"Type": "Pass", "Result": "no", "End": true}
    });
    if default {
        states["C"]["Default"] = json!("No");
    }
    json!({"StartAt": "C", "States": states})
}

#[test]
fn every_comparison_operator() {
    let ts = "2024-05-01T12:00:00Z";
    let cases: Vec<(&str, Value, Value, bool)> = vec![
        ("StringEquals", json!("a"), json!("a"), true),
        ("StringEquals", json!("a"), json!("b"), false),
        ("StringLessThan", json!("a"), json!("b"), true),
        ("StringGreaterThan", json!("b"), json!("a"), true),
        ("StringLessThanEquals", json!("a"), json!("a"), true),
        ("StringGreaterThanEquals", json!("a"), json!("b"), false),
        (
            "StringMatches",
            json!("log-2024.txt"),
            json!("log-*.txt"),
            true,
        ),
        ("StringMatches", json!("a*b"), json!("a\\*b"), true),
        ("StringMatches", json!("axb"), json!("a\\*b"), false),
        ("NumericEquals", json!(3), json!(3.0), true),
        ("NumericLessThan", json!(2), json!(3), true),
        ("NumericGreaterThan", json!(2.5), json!(2), true),
        ("NumericLessThanEquals", json!(3), json!(3), true),
        ("NumericGreaterThanEquals", json!(2), json!(3), false),
        ("NumericEquals", json!("3"), json!(3), false),
        ("BooleanEquals", json!(true), json!(true), true),
        ("BooleanEquals", json!(false), json!(true), false),
        (
            "TimestampEquals",
            json!("2024-05-01T14:00:00+02:00"),
            json!(ts),
            true,
        ),
        (
            "TimestampLessThan",
            json!("2024-05-01T11:59:59Z"),
            json!(ts),
            true,
        ),
        (
            "TimestampGreaterThan",
            json!("2024-05-01T12:00:01Z"),
            json!(ts),
            true,
        ),
        ("TimestampLessThanEquals", json!(ts), json!(ts), true),
        (
            "TimestampGreaterThanEquals",
            json!("2024-04-01T00:00:00Z"),
            json!(ts),
            false,
        ),
        ("TimestampEquals", json!("not a time"), json!(ts), false),
    ];
    for (op, value, operand, expected) in cases {
        // Given a one-rule Choice with a literal operand
        let def = choice_machine(
            json!([{"Variable": "$.v", op: operand.clone(), "Next": "Yes"}]),
            true,
        );
        let r = run(def, json!({"v": value.clone()}));
        assert_eq!(
            r.output,
            Some(json!(if expected { "yes" } else { "no" })),
            "{op} {value} {operand}"
        );
        // And the ...Path variant reads the operand from the input
        if op != "StringMatches" {
            let def = choice_machine(
                json!([{"Variable": "$.v", format!("{op}Path"): "$.o", "Next": "Yes"}]),
                true,
            );
            let r = run(def, json!({"v": value.clone(), "o": operand.clone()}));
            assert_eq!(
                r.output,
                Some(json!(if expected { "yes" } else { "no" })),
                "{op}Path {value} {operand}"
            );
        }
    }
}

#[test]
fn type_tests() {
    let cases: Vec<(&str, Value, bool)> = vec![
        ("IsNull", json!({"v": null}), true),
        ("IsNull", json!({"v": 0}), false),
        ("IsPresent", json!({"v": null}), true),
        ("IsPresent", json!({}), false),
        ("IsString", json!({"v": "s"}), true),
        ("IsString", json!({"v": 1}), false),
        ("IsNumeric", json!({"v": 1.5}), true),
        ("IsNumeric", json!({"v": "1"}), false),
        ("IsBoolean", json!({"v": false}), true),
        ("IsTimestamp", json!({"v": "2016-03-14T01:59:00Z"}), true),
        ("IsTimestamp", json!({"v": "yesterday"}), false),
    ];
    for (op, input, expected) in cases {
        let def = choice_machine(json!([{"Variable": "$.v", op: true, "Next": "Yes"}]), true);
        assert_eq!(
            run(def, input.clone()).output,
            Some(json!(if expected { "yes" } else { "no" })),
            "{op} {input}"
        );
    }
}

#[test]
fn the_spec_choice_example_with_and_not_and_paths() {
    let def = json!({"StartAt": "ChoiceStateX", "States": {
        "ChoiceStateX": {"Type": "Choice", "Choices": [
            {"Not": {"Variable": "$.type", "StringEquals": "Private"}, "Next": "Public"},
            {"And": [
                {"Variable": "$.value", "IsPresent": true},
                {"Variable": "$.value", "IsNumeric": true},
                {"Variable": "$.value", "NumericGreaterThanEquals": 20},
                {"Variable": "$.value", "NumericLessThan": 30}], "Next": "ValueInTwenties"},
            {"Or": [
                {"Variable": "$.rating", "NumericGreaterThanPath": "$.auditThreshold"},
                {"Variable": "$.forceAudit", "BooleanEquals": true}], "Next": "StartAudit"}
        ], "Default": "RecordEvent"},
        "Public": {"Type": "Pass", "Result": "Public", "End": true},
        "ValueInTwenties": {"Type": "Pass", "Result": "ValueInTwenties", "End": true},
        "StartAudit": {"Type": "Pass", "Result": "StartAudit", "End": true},
        "RecordEvent": {"Type": "Pass", "Result": "RecordEvent", "End": true}}});
    for (input, expected) in [
        (json!({"type": "Public"}), "Public"),
        (json!({"type": "Private", "value": 25}), "ValueInTwenties"),
        (
            json!({"type": "Private", "value": 35, "rating": 60, "auditThreshold": 50}),
            "StartAudit",
        ),
        (
            json!({"type": "Private", "value": "x", "rating": 10, "auditThreshold": 50, "forceAudit": true}),
            "StartAudit",
        ),
        (
            json!({"type": "Private", "value": 35, "rating": 10, "auditThreshold": 50, "forceAudit": false}),
            "RecordEvent",
        ),
    ] {
        let r = run(def.clone(), input.clone());
        assert_eq!(r.output, Some(json!(expected)), "{input}");
        assert_eq!(types(&r)[1..3], ["ChoiceStateEntered", "ChoiceStateExited"]);
    }
}

#[test]
fn no_matching_choice_without_default_fails_with_no_choice_matched() {
    let def = choice_machine(
        json!([{"Variable": "$.v", "StringEquals": "x", "Next": "Yes"}]),
        false,
    );
    let mut def = def;
    def["States"]["C"]["Choices"] = json!([{"Variable": "$.v", "StringEquals": "x", "Next": "Yes"}, {"Variable": "$.v", "StringEquals": "z", "Next": "No"}]);
    let r = run(def, json!({"v": "y"}));
    assert_eq!(r.error.as_deref(), Some("States.NoChoiceMatched"));
}

#[test]
fn choice_on_a_missing_variable_is_a_runtime_error() {
    let def = choice_machine(
        json!([{"Variable": "$.v", "StringEquals": "x", "Next": "Yes"}]),
        true,
    );
    assert_eq!(run(def, json!({})).error.as_deref(), Some("States.Runtime"));
}

#[test]
fn choice_definitions_are_validated() {
    for rule in [
        json!({"Variable": "$.v", "StringEquals": 1, "Next": "Yes"}),
        json!({"Variable": "$.v", "NumericEquals": "1", "Next": "Yes"}),
        json!({"Variable": "$.v", "TimestampEquals": "yesterday", "Next": "Yes"}),
        json!({"Variable": "$.v", "Bogus": 1, "Next": "Yes"}),
        json!({"StringEquals": "x", "Next": "Yes"}),
        json!({"Variable": "$.v", "StringEquals": "x"}),
        json!({"And": [{"Variable": "$.v", "StringEquals": "x", "Next": "Yes"}], "Next": "Yes"}),
    ] {
        let def = choice_machine(json!([rule.clone()]), true);
        match load_error(def) {
            WorkflowError::InvalidDefinition { location, .. } => {
                assert!(location.starts_with("state 'C'"), "{rule}: {location}")
            }
            other => panic!("{other:?}"),
        }
    }
}

// ----- Wait -----

#[test]
fn wait_variants_wait_in_virtual_time() {
    for (field, value, input, expected_ms) in [
        ("Seconds", json!(10), json!({}), 10_000),
        ("SecondsPath", json!("$.s"), json!({"s": 5}), 5_000),
        (
            "Timestamp",
            json!("2024-01-01T00:01:00Z"),
            json!({}),
            60_000,
        ),
        (
            "TimestampPath",
            json!("$.t"),
            json!({"t": "2024-01-01T00:00:30Z"}),
            30_000,
        ),
        ("Timestamp", json!("2023-01-01T00:00:00Z"), json!({}), 0),
    ] {
        let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", field: value, "Next": "D"}, "D": {"Type": "Succeed"}}});
        let r = run(def, input.clone());
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{field}");
        assert_eq!(r.elapsed_ms, expected_ms, "{field}");
        assert_eq!(r.output, Some(input));
        assert!(types(&r).contains(&"WaitStateExited".to_string()));
    }
}

#[test]
fn wait_with_a_bad_seconds_path_fails() {
    let def = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}});
    assert_eq!(
        run(def, json!({"s": "ten"})).error.as_deref(),
        Some("States.Runtime")
    );
}

// ----- Succeed / Fail -----

#[test]
fn fail_with_error_and_cause_paths_and_intrinsics() {
    let def = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e",
        "CausePath": "States.Format('bad {} at {}', $.what, $$.State.Name)"}}});
    let r = run(def, json!({"e": "MyError", "what": "thing"}));
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("MyError"));
    assert_eq!(r.cause.as_deref(), Some("bad thing at F"));
    let t = types(&r);
    assert_eq!(t[t.len() - 2..], ["FailStateEntered", "ExecutionFailed"]);
}

#[test]
fn succeed_applies_input_and_output_paths() {
    let def = json!({"StartAt": "S", "States": {"S": {"Type": "Succeed", "InputPath": "$.a", "OutputPath": "$.b"}}});
    assert_eq!(run(def, json!({"a": {"b": 2}})).output, Some(json!(2)));
}

// ----- Retry and Catch -----

fn timestamps_of(run: &ScriptedRun, ty: &str) -> Vec<i64> {
    events(run)
        .iter()
        .filter(|e| e["type"] == ty)
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(e["timestamp"].as_str().unwrap())
                .unwrap()
                .timestamp_millis()
        })
        .collect()
}

#[test]
fn retry_backoff_follows_interval_rate_and_max_delay() {
    // Given a retrier without jitter: 1 s, x3, capped at 5 s, 4 attempts
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "End": true,
        "Retry": [{"ErrorEquals": ["Oops"], "IntervalSeconds": 1, "BackoffRate": 3, "MaxAttempts": 4, "MaxDelaySeconds": 5}]}}});
    // When the task fails every time
    let r = run_with(
        def,
        json!({}),
        Responses::default().with("T", ScriptedResponse::error("Oops", "again")),
    );
    // Then it was tried 5 times, 1 s, 3 s, 5 s, 5 s apart, then the execution failed
    let t = timestamps_of(&r, "TaskScheduled");
    let gaps: Vec<i64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps, [1_000, 3_000, 5_000, 5_000]);
    assert_eq!(r.error.as_deref(), Some("Oops"));
    // And each retry counts as a transition
    assert_eq!(r.transitions, 5);
}

#[test]
fn full_jitter_never_waits_longer_than_the_backoff() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "End": true,
        "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 10, "BackoffRate": 2, "MaxAttempts": 5, "JitterStrategy": "FULL"}]}}});
    let r = run_with(
        def,
        json!({}),
        Responses::default().with("T", ScriptedResponse::error("Oops", "")),
    );
    let t = timestamps_of(&r, "TaskScheduled");
    let gaps: Vec<i64> = t.windows(2).map(|w| w[1] - w[0]).collect();
    assert_eq!(gaps.len(), 5);
    for (i, g) in gaps.iter().enumerate() {
        assert!(
            *g >= 0 && *g <= 10_000 * 2i64.pow(i as u32),
            "gap {i} = {g}"
        );
    }
    assert!(
        gaps.iter().any(|g| *g != 10_000 * 2i64.pow(0)),
        "jitter changes the delays"
    );
}

#[test]
fn max_attempts_zero_never_retries_and_only_the_first_matching_retrier_counts() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "End": true,
        "Retry": [{"ErrorEquals": ["Oops"], "MaxAttempts": 0}, {"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}]}}});
    let r = run_with(
        def,
        json!({}),
        Responses::default().with("T", ScriptedResponse::error("Oops", "")),
    );
    assert_eq!(timestamps_of(&r, "TaskScheduled").len(), 1);
    assert_eq!(r.error.as_deref(), Some("Oops"));
}

#[test]
fn retry_count_is_visible_in_the_context_object() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "Parameters": {"n.$": "$$.State.RetryCount"}, "End": true,
        "Retry": [{"ErrorEquals": ["States.TaskFailed"]}]}}});
    let r = run_with(
        def,
        json!({}),
        Responses::default()
            .with("T", ScriptedResponse::error("Oops", ""))
            .with("T", ScriptedResponse::error("Oops", ""))
            .with("T", ScriptedResponse::output(json!("done"))),
    );
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(r.output, Some(json!("done")));
    let sched: Vec<Value> = events(&r)
        .into_iter()
        .filter(|e| e["type"] == "TaskScheduled")
        .collect();
    let last: Value = serde_json::from_str(
        sched[2]["taskScheduledEventDetails"]["parameters"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(last, json!({"n": 2}));
}

#[test]
fn catch_routes_by_error_name_with_error_output_at_result_path() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": TASK, "End": true, "Catch": [
            {"ErrorEquals": ["Specific"], "ResultPath": "$.err", "Next": "OnSpecific"},
            {"ErrorEquals": ["States.ALL"], "Next": "OnAny"}]},
        "OnSpecific": {"Type": "Pass", "End": true},
        "OnAny": {"Type": "Pass", "End": true}}});
    let r = run_with(
        def.clone(),
        json!({"in": 1}),
        Responses::default().with("T", ScriptedResponse::error("Specific", "why")),
    );
    assert_eq!(entered(&r), ["T", "OnSpecific"]);
    assert_eq!(
        r.output,
        Some(json!({"in": 1, "err": {"Error": "Specific", "Cause": "why"}}))
    );
    let r = run_with(
        def,
        json!({"in": 1}),
        Responses::default().with("T", ScriptedResponse::error("Other", "why")),
    );
    assert_eq!(entered(&r), ["T", "OnAny"]);
    assert_eq!(r.output, Some(json!({"Error": "Other", "Cause": "why"})));
}

#[test]
fn task_failed_does_not_match_timeouts_but_timeout_does() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": format!("{TASK}"), "TimeoutSeconds": 5, "End": true, "Catch": [
            {"ErrorEquals": ["States.TaskFailed"], "Next": "Failed"},
            {"ErrorEquals": ["States.Timeout"], "Next": "TimedOut"}]},
        "Failed": {"Type": "Pass", "End": true},
        "TimedOut": {"Type": "Pass", "End": true}}});
    let r = run_with(
        def,
        json!({}),
        Responses::default().with("T", ScriptedResponse::no_answer()),
    );
    assert_eq!(entered(&r), ["T", "TimedOut"]);
    assert_eq!(r.elapsed_ms, 5_000);
    assert!(types(&r).contains(&"TaskTimedOut".to_string()));
}

#[test]
fn timeout_seconds_path_is_read_from_the_input() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "TimeoutSecondsPath": "$.limit", "End": true}}});
    let r = run_with(
        def,
        json!({"limit": 42}),
        Responses::default().with("T", ScriptedResponse::no_answer()),
    );
    assert_eq!(r.error.as_deref(), Some("States.Timeout"));
    assert_eq!(r.elapsed_ms, 42_000);
}

#[test]
fn execution_timeout_seconds_times_the_execution_out() {
    let def = json!({"TimeoutSeconds": 3, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}});
    let r = run(def, json!({}));
    assert_eq!(r.status, ExecutionStatus::TimedOut);
    assert_eq!(r.elapsed_ms, 3_000);
    assert_eq!(
        types(&r).last().map(String::as_str),
        Some("ExecutionTimedOut")
    );
}

// ----- Parallel -----

#[test]
fn parallel_collects_branch_outputs_in_order() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "ResultPath": "$.both", "End": true, "Branches": [
        {"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 5, "Next": "A2"}, "A2": {"Type": "Pass", "Result": "a", "End": true}}},
        {"StartAt": "B", "States": {"B": {"Type": "Pass", "InputPath": "$.x", "End": true}}}]}}});
    let r = run(def, json!({"x": 1}));
    assert_eq!(r.output, Some(json!({"x": 1, "both": ["a", 1]})));
    let t = types(&r);
    assert!(t.contains(&"ParallelStateStarted".to_string()));
    assert!(t.contains(&"ParallelStateSucceeded".to_string()));
    assert_eq!(r.transitions, 4);
}

#[test]
fn a_failing_branch_fails_the_parallel_state_with_its_error_and_can_be_caught() {
    let def = json!({"StartAt": "P", "States": {
        "P": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "Slow", "States": {"Slow": {"Type": "Task", "Resource": TASK, "End": true}}},
            {"StartAt": "Boom", "States": {"Boom": {"Type": "Fail", "Error": "BranchBroke", "Cause": "b"}}}],
         "Catch": [{"ErrorEquals": ["BranchBroke"], "ResultPath": "$.e", "Next": "Handled"}]},
        "Handled": {"Type": "Succeed"}}});
    let r = run_with(
        def,
        json!({}),
        Responses::default().with("Slow", ScriptedResponse::no_answer()),
    );
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(
        r.output,
        Some(json!({"e": {"Error": "BranchBroke", "Cause": "b"}}))
    );
    assert!(types(&r).contains(&"ParallelStateFailed".to_string()));
}

#[test]
fn parallel_is_retried_as_a_whole() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true,
        "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "MaxAttempts": 2}],
        "Branches": [{"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "End": true}}}]}}});
    let r = run_with(
        def,
        json!({"v": 1}),
        Responses::default()
            .with("T", ScriptedResponse::error("Flaky", ""))
            .with("T", ScriptedResponse::output(json!("ok"))),
    );
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(r.output, Some(json!(["ok"])));
}

// ----- Map -----

#[test]
fn map_with_items_path_item_selector_and_context() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.detail.shipped",
        "ItemSelector": {"parcel.$": "$$.Map.Item.Value", "index.$": "$$.Map.Item.Index", "courier.$": "$.detail.courier"},
        "MaxConcurrency": 0, "ResultPath": "$.detail.shipped", "End": true,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Ship", "States": {
            "Ship": {"Type": "Pass", "Parameters": {"id.$": "$.parcel.prod", "i.$": "$.index", "by.$": "$.courier"}, "End": true}}}}}});
    let r = run(
        def,
        json!({"detail": {"courier": "UQS", "shipped": [{"prod": "R31"}, {"prod": "S39"}]}}),
    );
    assert_eq!(
        r.output,
        Some(json!({"detail": {"courier": "UQS", "shipped": [
        {"id": "R31", "i": 0, "by": "UQS"}, {"id": "S39", "i": 1, "by": "UQS"}]}}))
    );
    let t = types(&r);
    assert_eq!(t.iter().filter(|x| *x == "MapIterationStarted").count(), 2);
    assert_eq!(
        t.iter().filter(|x| *x == "MapIterationSucceeded").count(),
        2
    );
    let started = events(&r)
        .into_iter()
        .find(|e| e["type"] == "MapStateStarted")
        .unwrap();
    assert_eq!(started["mapStateStartedEventDetails"]["length"], 2);
}

#[test]
fn map_legacy_iterator_and_parameters_still_work() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "Parameters": {"v.$": "$$.Map.Item.Value"},
        "Iterator": {"StartAt": "X", "States": {"X": {"Type": "Pass", "InputPath": "$.v", "End": true}}}, "End": true}}});
    assert_eq!(run(def, json!([1, 2, 3])).output, Some(json!([1, 2, 3])));
}

#[test]
fn map_max_concurrency_limits_running_iterations() {
    // Given 4 items that each wait 10 s, at most 2 at a time
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "MaxConcurrency": 2, "End": true,
        "ItemProcessor": {"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 10, "End": true}}}}}});
    let r = run(def, json!([1, 2, 3, 4]));
    // Then it takes two rounds of 10 s
    assert_eq!(r.elapsed_ms, 20_000);
    assert_eq!(r.output, Some(json!([1, 2, 3, 4])));
}

#[test]
fn map_over_an_empty_array_and_a_non_array() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "X", "States": {"X": {"Type": "Pass", "End": true}}}}}});
    assert_eq!(run(def.clone(), json!([])).output, Some(json!([])));
    assert_eq!(
        run(def, json!({"not": "array"})).error.as_deref(),
        Some("States.Runtime")
    );
}

#[test]
fn a_failing_iteration_fails_the_map() {
    let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "C", "States": {
            "C": {"Type": "Choice", "Choices": [{"Variable": "$", "NumericEquals": 2, "Next": "Bad"}], "Default": "Ok"},
            "Bad": {"Type": "Fail", "Error": "TwoIsBad"},
            "Ok": {"Type": "Succeed"}}}}}});
    let r = run(def, json!([1, 2, 3]));
    assert_eq!(r.error.as_deref(), Some("TwoIsBad"));
    assert!(types(&r).contains(&"MapIterationFailed".to_string()));
}

// ----- intrinsics through a Pass state -----

#[test]
fn intrinsics_from_the_docs_in_a_pass_state() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "json.$": "States.StringToJson($.s)",
        "str.$": "States.JsonToString($.o)",
        "arr.$": "States.Array('a', 1, true, null, $.o)",
        "parts.$": "States.ArrayPartition(States.ArrayRange(1, 9, 1), 4)",
        "has.$": "States.ArrayContains($.list, 3)",
        "item.$": "States.ArrayGetItem($.list, 1)",
        "len.$": "States.ArrayLength($.list)",
        "uniq.$": "States.ArrayUnique($.list)",
        "b64.$": "States.Base64Encode('Data to encode')",
        "plain.$": "States.Base64Decode('RGF0YSB0byBlbmNvZGU=')",
        "md5.$": "States.Hash('input data', 'MD5')",
        "sha256.$": "States.Hash('input data', 'SHA-256')",
        "merged.$": "States.JsonMerge($.o, States.StringToJson('{\"b\": 2}'), false)",
        "sum.$": "States.MathAdd(111, -1)",
        "split.$": "States.StringSplit('a,b,,c', ',')",
        "escaped.$": "States.Format('\\{\\} {} \\'{}\\'', 'x', 'y')"
    }, "End": true}}});
    let out = run(
        def,
        json!({"s": "{\"foo\": \"bar\"}", "o": {"a": 1}, "list": [1, 2, 3, 3]}),
    )
    .output
    .unwrap();
    assert_eq!(out["json"], json!({"foo": "bar"}));
    assert_eq!(out["str"], json!("{\"a\":1}"));
    assert_eq!(out["arr"], json!(["a", 1, true, null, {"a": 1}]));
    assert_eq!(out["parts"], json!([[1, 2, 3, 4], [5, 6, 7, 8], [9]]));
    assert_eq!(out["has"], json!(true));
    assert_eq!(out["item"], json!(2));
    assert_eq!(out["len"], json!(4));
    assert_eq!(out["uniq"], json!([1, 2, 3]));
    assert_eq!(out["b64"], json!("RGF0YSB0byBlbmNvZGU="));
    assert_eq!(out["plain"], json!("Data to encode"));
    assert_eq!(out["md5"], json!("812f45842bc6d66ee14572ce20db8e86"));
    assert_eq!(
        out["sha256"],
        json!("b4a697a057313163aee33cd8d40c66e9f0f177e00cac2de32475ffff6169c3e3")
    );
    assert_eq!(out["merged"], json!({"a": 1, "b": 2}));
    assert_eq!(out["sum"], json!(110));
    assert_eq!(out["split"], json!(["a", "b", "c"]));
    assert_eq!(out["escaped"], json!("{} x 'y'"));
}

#[test]
fn random_intrinsics_are_reproducible_across_runs() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {
        "r.$": "States.MathRandom(1, 1000)", "u.$": "States.UUID()"}, "End": true}}});
    let a = run(def.clone(), json!({})).output.unwrap();
    let b = run(def, json!({})).output.unwrap();
    assert_eq!(a, b);
}

#[test]
fn an_intrinsic_failure_is_catchable() {
    let def = json!({"StartAt": "T", "States": {
        "T": {"Type": "Task", "Resource": TASK, "Parameters": {"x.$": "States.ArrayGetItem($.a, 9)"}, "End": true,
              "Catch": [{"ErrorEquals": ["States.IntrinsicFailure"], "Next": "C"}]},
        "C": {"Type": "Succeed"}}});
    let r = run(def, json!({"a": [1]}));
    assert_eq!(entered(&r), ["T", "C"]);
}

// ----- definition errors -----

#[test]
fn definition_errors_name_the_state_and_field() {
    let cases = [
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "End": true}}}),
            "state 'A' field 'Resource'",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "End": true}}}),
            "state 'A'",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Bogus": 1}}}),
            "state 'A' field 'Bogus'",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "nope"}}}}),
            "state 'A' field 'Parameters'",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true, "Parameters": {"x.$": "States.Nope()"}}}}),
            "state 'A' field 'Parameters'",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "End": true, "Catch": [{"ErrorEquals": ["X"]}]}}}),
            "state 'A' field 'Catch[0]'.Next",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Parallel", "End": true, "Branches": [{"StartAt": "B", "States": {"B": {"Type": "Pass"}}}]}}}),
            "state 'A' field 'Branches[0]' / state 'B'",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "r", "TimeoutSeconds": 5, "HeartbeatSeconds": 5, "End": true}}}),
            "state 'A' field 'HeartbeatSeconds'",
        ),
        (
            json!({"StartAt": "A", "States": {"A": {"Type": "Map", "End": true, "ItemProcessor": {"ProcessorConfig": {"Mode": "PARALLEL"}, "StartAt": "X", "States": {"X": {"Type": "Succeed"}}}}}}),
            "ProcessorConfig",
        ),
        (
            json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {"A": {"Type": "Succeed"}}}),
            "QueryLanguage",
        ),
    ];
    for (def, expected) in cases {
        match load_error(def.clone()) {
            WorkflowError::InvalidDefinition { location, .. } => assert!(
                location.contains(expected),
                "{location} should contain {expected}"
            ),
            other => panic!("{other:?}"),
        }
    }
    assert!(matches!(
        trip_workflow::load_definition("not json", &Default::default()),
        Err(WorkflowError::InvalidDefinition { .. })
    ));
}

// ----- the engine API -----

type Calls = Arc<Mutex<Vec<(String, String)>>>;

struct Manual {
    calls: Calls,
}

impl TaskIntegration for Manual {
    fn invoke(&mut self, req: &TaskRequest<'_>) -> Result<TaskOutcome, TaskError> {
        self.calls
            .lock()
            .unwrap()
            .push((req.state_name.to_string(), req.task_token.to_string()));
        if req.parameters.get("fail").is_some() {
            return Err(TaskError::new("Integration.Down", "down"));
        }
        Ok(TaskOutcome::Pending(Value::Null))
    }
}

fn manual_engine(def: Value) -> (Engine, VirtualClock, String, Calls) {
    let clock = VirtualClock::new(0);
    let mut e = Engine::in_memory(Arc::new(clock.clone()), 3);
    let calls = Arc::new(Mutex::new(Vec::new()));
    e.register_integration(
        "arn:aws:states:::manual",
        Box::new(Manual {
            calls: Arc::clone(&calls),
        }),
    );
    let sm = e
        .create_state_machine("m", &def.to_string(), &Default::default())
        .unwrap();
    (e, clock, sm, calls)
}

#[test]
fn unknown_resources_are_refused_when_the_machine_is_created() {
    let clock = VirtualClock::new(0);
    let mut e = Engine::in_memory(Arc::new(clock), 3);
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::nowhere", "End": true}}});
    let err = e
        .create_state_machine("m", &def.to_string(), &Default::default())
        .unwrap_err();
    assert!(
        matches!(err, WorkflowError::UnknownResource { ref state, .. } if state == "T"),
        "{err:?}"
    );
}

#[test]
fn heartbeats_keep_a_task_alive_and_missing_ones_time_it_out() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::manual.waitForTaskToken",
        "HeartbeatSeconds": 10, "TimeoutSeconds": 100, "End": true}}});
    let (mut e, clock, sm, calls) = manual_engine(def);
    let arn = e
        .start_execution(&sm, Some("hb"), "{}")
        .unwrap()
        .execution_arn;
    e.run().unwrap();
    let token = calls.lock().unwrap()[0].1.clone();
    // Given heartbeats every 8 s, the task survives past 10 s
    for _ in 0..3 {
        clock.advance(8_000);
        e.send_task_heartbeat(&token).unwrap();
        e.run().unwrap();
    }
    assert_eq!(
        e.describe_execution(&arn).unwrap().status,
        ExecutionStatus::Running
    );
    // When heartbeats stop, Then it fails with States.HeartbeatTimeout
    clock.advance(10_000);
    e.run().unwrap();
    let d = e.describe_execution(&arn).unwrap();
    assert_eq!(d.error.as_deref(), Some("States.HeartbeatTimeout"));
    assert!(matches!(
        e.send_task_heartbeat(&token),
        Err(WorkflowError::TaskTimedOut(_))
    ));
}

#[test]
fn callback_validation_follows_aws_limits() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::manual.waitForTaskToken", "End": true}}});
    let (mut e, _clock, sm, calls) = manual_engine(def);
    e.start_execution(&sm, Some("v"), "{}").unwrap();
    e.run().unwrap();
    let token = calls.lock().unwrap()[0].1.clone();
    assert!(matches!(
        e.send_task_success(&token, "not json"),
        Err(WorkflowError::InvalidOutput(_))
    ));
    let big = format!("\"{}\"", "x".repeat(256 * 1024));
    assert!(matches!(
        e.send_task_success(&token, &big),
        Err(WorkflowError::InvalidOutput(_))
    ));
    assert!(matches!(
        e.send_task_failure(&token, &"e".repeat(257), ""),
        Err(WorkflowError::Validation(_))
    ));
    assert!(matches!(
        e.send_task_failure(&token, "e", &"c".repeat(32_769)),
        Err(WorkflowError::Validation(_))
    ));
    assert!(matches!(
        e.send_task_success(&"t".repeat(2049), "{}"),
        Err(WorkflowError::InvalidToken(_))
    ));
    // A valid answer is accepted once; the second is TaskDoesNotExist
    e.send_task_success(&token, "{\"ok\":1}").unwrap();
    assert!(matches!(
        e.send_task_success(&token, "{}"),
        Err(WorkflowError::TaskDoesNotExist(_))
    ));
    e.run().unwrap();
    assert!(matches!(
        e.send_task_success(&token, "{}"),
        Err(WorkflowError::TaskDoesNotExist(_))
    ));
}

#[test]
fn integration_errors_are_task_failures_and_can_be_retried() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::manual", "Parameters": {"fail": true}, "End": true,
        "Retry": [{"ErrorEquals": ["Integration.Down"], "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 1}]}}});
    let (mut e, clock, sm, calls) = manual_engine(def);
    let arn = e.start_execution(&sm, None, "{}").unwrap().execution_arn;
    e.run().unwrap();
    for _ in 0..2 {
        clock.advance(1_000);
        e.run().unwrap();
    }
    assert_eq!(calls.lock().unwrap().len(), 3);
    let d = e.describe_execution(&arn).unwrap();
    assert_eq!(d.error.as_deref(), Some("Integration.Down"));
    assert_eq!(d.to_aws_json()["status"], "FAILED");
}

#[test]
fn stop_execution_aborts_and_invalidates_tokens() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::manual.waitForTaskToken", "End": true}}});
    let (mut e, _clock, sm, calls) = manual_engine(def);
    let arn = e
        .start_execution(&sm, Some("s"), "{}")
        .unwrap()
        .execution_arn;
    e.run().unwrap();
    let token = calls.lock().unwrap()[0].1.clone();
    e.stop_execution(&arn, Some("Stopped"), Some("by test"))
        .unwrap();
    let d = e.describe_execution(&arn).unwrap();
    assert_eq!(d.status, ExecutionStatus::Aborted);
    assert!(
        e.send_task_success(&token, "{}")
            .unwrap_err()
            .is_stale_callback()
    );
    let h = e.get_execution_history(&arn).unwrap();
    assert_eq!(h.last().unwrap().event_type, "ExecutionAborted");
    assert_eq!(e.next_wakeup(), None);
}

#[test]
fn start_execution_validates_names_and_input() {
    let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let (mut e, _clock, sm, _) = manual_engine(def);
    assert!(matches!(
        e.start_execution(&sm, Some("has space"), "{}"),
        Err(WorkflowError::InvalidName(_))
    ));
    assert!(matches!(
        e.start_execution(&sm, Some(&"n".repeat(81)), "{}"),
        Err(WorkflowError::InvalidName(_))
    ));
    assert!(matches!(
        e.start_execution(&sm, Some("ok"), "{"),
        Err(WorkflowError::InvalidExecutionInput(_))
    ));
    assert!(matches!(
        e.start_execution("arn:nope", Some("ok"), "{}"),
        Err(WorkflowError::StateMachineDoesNotExist(_))
    ));
    // A finished execution's name cannot be reused, even with the same input
    e.start_execution(&sm, Some("once"), "{}").unwrap();
    e.run().unwrap();
    assert!(matches!(
        e.start_execution(&sm, Some("once"), "{}"),
        Err(WorkflowError::ExecutionAlreadyExists(_))
    ));
}

#[test]
fn an_endless_loop_stops_at_the_history_limit() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Pass", "Next": "A"}}});
    let r = run(def, json!({}));
    assert_eq!(r.status, ExecutionStatus::Failed);
    assert_eq!(r.error.as_deref(), Some("States.Runtime"));
}

#[test]
fn history_events_chain_previous_ids() {
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Next": "B"}, "B": {"Type": "Succeed"}}});
    let r = run(def, json!({}));
    let ev = events(&r);
    assert_eq!(
        types(&r),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    for (i, e) in ev.iter().enumerate() {
        assert_eq!(e["id"], i as u64 + 1);
        assert_eq!(e["previousEventId"], i as u64);
    }
    assert_eq!(ev[2]["stateExitedEventDetails"]["name"], "A");
    assert_eq!(ev[2]["stateExitedEventDetails"]["output"], "{}");
}

#[test]
fn huge_numbers_in_a_definition_do_not_overflow() {
    let def = json!({"TimeoutSeconds": 9_223_372_036_854_775_807u64, "StartAt": "W", "States": {
        "W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}});
    let r = run(def, json!({"s": 1}));
    assert_eq!(r.status, ExecutionStatus::Succeeded);
    assert_eq!(r.elapsed_ms, 1_000);
}
