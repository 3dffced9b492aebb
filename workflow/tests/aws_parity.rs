//! Where the interpreter used to answer differently from Step Functions, each case with the
//! AWS page it follows. Error causes are compared word for word: the texts are AWS's as its
//! GetExecutionHistory shows them (the documentation names the errors, not their causes; see
//! tests/conformance/DIFFERENCES.md for the texts no AWS page gives).

use serde_json::{Value, json};
use trip_workflow::{ExecutionStatus, Responses, ScriptedResponse, ScriptedRun, run_scripted};

fn run(def: Value, input: Value) -> ScriptedRun {
    run_with(def, input, Responses::default())
}

fn run_with(def: Value, input: Value, r: Responses) -> ScriptedRun {
    run_scripted(&def.to_string(), &Default::default(), input, &r).unwrap()
}

fn loads(def: Value) -> Result<(), String> {
    trip_workflow::load_definition(&def.to_string(), &Default::default())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

fn runtime_cause(r: &ScriptedRun) -> &str {
    assert_eq!(r.status, ExecutionStatus::Failed, "{:?}", r.output);
    assert_eq!(r.error.as_deref(), Some("States.Runtime"), "{:?}", r.cause);
    r.cause.as_deref().unwrap_or_default()
}

const TASK: &str = "arn:aws:lambda:us-east-1:123456789012:function:work";

mod runtime_causes {
    use super::*;

    fn wait(field: &str, path: &str) -> Value {
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", field: path, "End": true}}})
    }

    /// States.Runtime: "An execution failed due to some exception that it couldn't process"
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
    /// Its cause names the state and the id of the event that entered it.
    #[test]
    fn a_cause_starts_with_the_state_and_the_event_that_entered_it() {
        let def = json!({"StartAt": "First", "States": {
            "First": {"Type": "Pass", "Next": "Second"},
            "Second": {"Type": "Pass", "InputPath": "$.Payload", "End": true}}});
        let r = run(def, json!({"StatusCode": 200}));
        // 1 ExecutionStarted, 2 PassStateEntered, 3 PassStateExited, 4 PassStateEntered (Second)
        assert_eq!(
            runtime_cause(&r),
            "An error occurred while executing the state 'Second' (entered at the event id #4). \
             Invalid path '$.Payload' : No results for path: $['Payload']"
        );
    }

    /// Jayway JsonPath's words, which Step Functions passes on: a missing step before the
    /// last is "Missing property in path".
    #[test]
    fn a_missing_intermediate_property_is_named() {
        let def = json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "OutputPath": "$.no.x", "End": true}}});
        assert_eq!(
            runtime_cause(&run(def, json!({"a": 1}))),
            "An error occurred while executing the state 'S' (entered at the event id #2). \
             Invalid path '$.no.x' : Missing property in path $['no']"
        );
        let def = json!({"StartAt": "S", "States": {"S": {"Type": "Pass", "InputPath": "$.a.x", "End": true}}});
        assert_eq!(
            runtime_cause(&run(def, json!({"a": {"y": 1}}))),
            "An error occurred while executing the state 'S' (entered at the event id #2). \
             Invalid path '$.a.x' : No results for path: $['a']['x']"
        );
    }

    /// Wait state, SecondsPath: "the value ... must be a positive integer"
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html).
    #[test]
    fn seconds_path_causes() {
        let prefix =
            "An error occurred while executing the state 'W' (entered at the event id #2). ";
        let r = run(wait("SecondsPath", "$.x"), json!({"x": -1}));
        assert_eq!(
            runtime_cause(&r),
            format!("{prefix}The SecondsPath parameter references a negative value: $.x == -1")
        );
        let r = run(wait("SecondsPath", "$.x"), json!({"x": "abc"}));
        assert_eq!(
            runtime_cause(&r),
            format!(
                "{prefix}The SecondsPath parameter cannot be parsed as a long value: $.x == abc"
            )
        );
        let r = run(wait("SecondsPath", "$.x"), json!({"x": 1.5}));
        assert_eq!(
            runtime_cause(&r),
            format!(
                "{prefix}The SecondsPath parameter cannot be parsed as a long value: $.x == 1.5"
            )
        );
        let r = run(wait("SecondsPath", "$.x"), json!({}));
        assert_eq!(
            runtime_cause(&r),
            format!("{prefix}The SecondsPath parameter does not reference an input value: $.x")
        );
    }

    /// TimestampPath: "Timestamps must conform to the RFC3339 profile of ISO 8601, with the
    /// further restrictions that an uppercase T must separate the date and time portions, and
    /// an uppercase Z must denote that a numeric time zone offset is not present"
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html). A time without
    /// an offset is refused.
    #[test]
    fn timestamp_path_causes() {
        let r = run(
            wait("TimestampPath", "$.at"),
            json!({"at": "2016-03-14T01:59:00"}),
        );
        assert_eq!(
            runtime_cause(&r),
            "An error occurred while executing the state 'W' (entered at the event id #2). \
             The TimestampPath parameter does not reference a valid ISO-8601 extended offset \
             date-time format string: $.at == 2016-03-14T01:59:00"
        );
        let r = run(
            wait("TimestampPath", "$.at"),
            json!({"at": "2016-03-14T01:59:00.0000000Z"}),
        );
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    }

    /// A Parameters path that selects nothing (the message of the Step Functions workshop's
    /// "Check Address" example: "The JSONPath '$.application.address' specified for the field
    /// 'address.$' could not be found in the input '{\"flagged\":false}'").
    #[test]
    fn a_parameters_path_names_the_field_and_the_input() {
        let def = json!({"StartAt": "Check Address", "States": {"Check Address": {"Type": "Pass",
            "Parameters": {"address.$": "$.application.address"}, "End": true}}});
        assert_eq!(
            runtime_cause(&run(def, json!({"flagged": false}))),
            "An error occurred while executing the state 'Check Address' (entered at the event id #2). \
             The JSONPath '$.application.address' specified for the field 'address.$' could not be found in the input '{\"flagged\":false}'"
        );
    }

    /// A timeout path that selects nothing.
    #[test]
    fn a_timeout_seconds_path_that_selects_nothing() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK,
            "TimeoutSecondsPath": "$.t", "End": true}}});
        assert_eq!(
            runtime_cause(&run(def, json!({}))),
            "An error occurred while executing the state 'T' (entered at the event id #2). \
             Invalid path '$.t' : No results for path: $['t']"
        );
    }

    /// A task's own error keeps its cause as the task gave it.
    #[test]
    fn task_errors_are_not_prefixed() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK, "End": true}}});
        let r = run_with(
            def,
            json!({}),
            Responses::default().with("T", ScriptedResponse::error("Trip.Failed", "sold out")),
        );
        assert_eq!(r.cause.as_deref(), Some("sold out"));
    }
}

mod intrinsics {
    use super::*;

    fn pass(expr: &str, input: Value) -> ScriptedRun {
        run(
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
                "Parameters": {"v.$": expr}, "End": true}}}),
            input,
        )
    }

    fn value(expr: &str, input: Value) -> Value {
        let r = pass(expr, input);
        assert_eq!(
            r.status,
            ExecutionStatus::Succeeded,
            "{expr}: {:?}",
            r.cause
        );
        r.output.expect("output")["v"].clone()
    }

    /// States.MathAdd "returns the sum of two numbers"
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html,
    /// "Intrinsics for math operations"); AWS rounds a non-integer sum: 1.49 + 1.49 = 3.
    #[test]
    fn math_add_rounds_non_integer_arguments() {
        assert_eq!(
            value("States.MathAdd($.a, $.b)", json!({"a": 1.49, "b": 1.49})),
            json!(3)
        );
        assert_eq!(
            value("States.MathAdd($.a, $.b)", json!({"a": 111, "b": -1})),
            json!(110)
        );
        assert_eq!(value("States.MathAdd(1.2, 1.2)", json!({})), json!(2));
        assert_eq!(value("States.MathAdd(-1.5, 0)", json!({})), json!(-1));
    }

    /// States.MathRandom "returns a random number between the start (inclusive) and end
    /// (exclusive)" (same page); non-integer bounds are accepted.
    #[test]
    fn math_random_accepts_non_integer_bounds() {
        for _ in 0..20 {
            let v = value(
                "States.MathRandom($.start, $.end)",
                json!({"start": 1.2, "end": 3.7}),
            );
            let n = v.as_i64().expect("an integer");
            assert!((1..4).contains(&n), "{n}");
        }
    }

    /// States.StringToJson "takes an escaped JSON string as an argument and returns it as
    /// JSON" (same page, "Intrinsics for JSON data manipulation"); blank text is null and
    /// "-0" is 0 on AWS.
    #[test]
    fn string_to_json_of_blank_text_and_negative_zero() {
        assert_eq!(
            value("States.StringToJson($.s)", json!({"s": ""})),
            Value::Null
        );
        assert_eq!(
            value("States.StringToJson($.s)", json!({"s": " "})),
            Value::Null
        );
        let zero = value("States.StringToJson($.s)", json!({"s": "-0"}));
        assert_eq!(zero.to_string(), "0");
        assert_eq!(
            value(
                "States.StringToJson($.s)",
                json!({"s": "{\"foo\": \"bar\"}"})
            ),
            json!({"foo": "bar"})
        );
    }

    /// States.Format prints JSON objects and arrays the way AWS's Java runtime does:
    /// `{Arg1=1, Arg2=[]}`.
    #[test]
    fn format_prints_objects_and_arrays_java_style() {
        assert_eq!(
            value(
                "States.Format('x={}', $.o)",
                json!({"o": {"Arg1": 1, "Arg2": []}})
            ),
            json!("x={Arg1=1, Arg2=[]}")
        );
        assert_eq!(
            value(
                "States.Format('{} {}', $.a, $.s)",
                json!({"a": [1, "two", null, true], "s": "str"})
            ),
            json!("[1, two, null, true] str")
        );
        assert_eq!(
            value(
                "States.Format('{}', $.o)",
                json!({"o": {"n": {"deep": [{"k": "v"}]}}})
            ),
            json!("{n={deep=[{k=v}]}}")
        );
    }

    /// "The following characters are reserved for intrinsic functions, and must be escaped
    /// using a backslash ('\') if you want them to appear in the Value: ' { } and \"
    /// (intrinsic-functions.html, "Reserved characters in intrinsic functions"): any other
    /// escape makes the definition invalid.
    #[test]
    fn illegal_escapes_in_intrinsic_strings_are_refused() {
        let def = |expr: &str| {
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
                "Parameters": {"v.$": expr}, "End": true}}})
        };
        let err = loads(def("States.Format('a\\nb')")).expect_err("\\n is not an allowed escape");
        assert!(err.contains("illegal escape"), "{err}");
        assert!(loads(def("States.Format('a\\qb')")).is_err());
        assert!(loads(def("States.Format('it\\'s \\{\\} \\\\ ok')")).is_ok());
        assert_eq!(
            value("States.Format('it\\'s \\{\\} \\\\')", json!({})),
            json!("it's {} \\")
        );
    }
}

mod jsonpath {
    use super::*;

    fn select(path: &str, input: Value) -> ScriptedRun {
        run(
            json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "InputPath": path, "End": true}}}),
            input,
        )
    }

    /// Step Functions paths are JsonPath as Jayway implements it ("Step Functions uses the
    /// Jayway Java implementation of JsonPath" hints at it; the filter examples follow
    /// https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html,
    /// "Reference paths" and "Paths", and Jayway's README operators).
    #[test]
    fn filter_expressions_select_the_matching_elements() {
        let input = json!({"users": [
            {"name": "a", "status": 0, "age": 30},
            {"name": "b", "status": 1, "age": 17},
            {"name": "c", "status": 0, "age": 12}
        ], "min": 18});
        let r = select("$.users[?(@.status == 0)]", input.clone());
        assert_eq!(
            r.output,
            Some(
                json!([{"name": "a", "status": 0, "age": 30}, {"name": "c", "status": 0, "age": 12}])
            )
        );
        let r = select("$.users[?(@.age >= $.min)].name", input.clone());
        assert_eq!(r.output, Some(json!(["a"])));
        let r = select(
            "$.users[?(@.name in ['b', 'c'] && @.age < 15)].name",
            input.clone(),
        );
        assert_eq!(r.output, Some(json!(["c"])));
        let r = select("$.users[?(@.name =~ /[AB]/i)].name", input);
        assert_eq!(r.output, Some(json!(["a", "b"])));
    }

    /// A filter in a Parameters path (a payload template's `.$` value takes any path).
    #[test]
    fn a_filter_works_in_parameters() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "Parameters": {"kept.$": "$.items[?(@.keep)].n"}, "End": true}}});
        let r = run(def, json!({"items": [{"keep": true, "n": 1}, {"n": 2}]}));
        assert_eq!(r.output, Some(json!({"kept": [1]})));
    }

    /// Quoted keys take backslash escapes: `$['Test\"Name\"']` names the key `Test"Name"`.
    #[test]
    fn quoted_keys_with_escapes() {
        let r = select("$['Test\\\"Name\\\"']", json!({"Test\"Name\"": 7}));
        assert_eq!(r.output, Some(json!(7)), "{:?}", r.cause);
        let r = select("$['it\\'s']", json!({"it's": 8}));
        assert_eq!(r.output, Some(json!(8)), "{:?}", r.cause);
        let r = select("$[\"a.b\"]", json!({"a.b": 9}));
        assert_eq!(r.output, Some(json!(9)), "{:?}", r.cause);
    }

    #[test]
    fn a_malformed_filter_is_refused_at_load() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "InputPath": "$.a[?(@.b ==)]", "End": true}}});
        assert!(loads(def).is_err());
    }
}

mod data_limit {
    use super::*;

    /// "The maximum input or output size for a task, state, or execution is 256 KiB of data
    /// as a UTF-8 encoded string" (https://docs.aws.amazon.com/step-functions/latest/dg/service-quotas.html);
    /// going over is States.DataLimitExceeded
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/concepts-error-handling.html).
    const OVER: usize = 256 * 1024 + 1;

    fn big() -> Value {
        json!({"blob": "x".repeat(OVER)})
    }

    #[test]
    fn a_result_over_the_limit_is_caught_by_name_and_by_states_all() {
        for catcher in ["States.DataLimitExceeded", "States.ALL"] {
            let def = json!({"StartAt": "Grow", "States": {
                "Grow": {"Type": "Task", "Resource": TASK, "ResultPath": "$.big", "Next": "Done",
                    "Catch": [{"ErrorEquals": [catcher], "ResultPath": "$.error", "Next": "Caught"}]},
                "Done": {"Type": "Succeed"},
                "Caught": {"Type": "Pass", "End": true}}});
            let r = run_with(
                def,
                json!({"small": true}),
                Responses::default().with("Grow", ScriptedResponse::output(big())),
            );
            assert_eq!(
                r.status,
                ExecutionStatus::Succeeded,
                "{catcher}: {:?}",
                r.cause
            );
            let out = r.output.expect("output");
            assert_eq!(
                out["error"]["Error"], "States.DataLimitExceeded",
                "{catcher}"
            );
            assert_eq!(out["small"], true);
        }
    }

    #[test]
    fn a_parallel_output_over_the_limit_is_caught() {
        let branch = json!({"StartAt": "B", "States": {"B": {"Type": "Pass", "Result": big(), "End": true}}});
        let def = json!({"StartAt": "Par", "States": {
            "Par": {"Type": "Parallel", "Branches": [branch], "Next": "Done",
                "Catch": [{"ErrorEquals": ["States.DataLimitExceeded"], "Next": "Caught"}]},
            "Done": {"Type": "Succeed"},
            "Caught": {"Type": "Pass", "End": true}}});
        let r = run(def, json!({}));
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
        assert_eq!(
            r.output.expect("output")["Error"],
            "States.DataLimitExceeded"
        );
    }

    #[test]
    fn an_uncaught_one_fails_the_execution() {
        let def = json!({"StartAt": "Grow", "States": {
            "Grow": {"Type": "Pass", "Result": big(), "End": true}}});
        let r = run(def, json!({}));
        assert_eq!(r.status, ExecutionStatus::Failed);
        assert_eq!(r.error.as_deref(), Some("States.DataLimitExceeded"));
    }

    #[test]
    fn a_task_result_over_the_limit() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK,
            "ResultPath": null, "End": true}}});
        let r = run_with(
            def,
            json!({}),
            Responses::default().with("T", ScriptedResponse::output(big())),
        );
        assert_eq!(
            r.error.as_deref(),
            Some("States.DataLimitExceeded"),
            "{:?}",
            r.cause
        );
        assert_eq!(
            r.cause.as_deref(),
            Some(format!("The state/task '{TASK}' returned a result with a size exceeding the maximum number of bytes service limit.").as_str())
        );
    }

    #[test]
    fn a_task_input_over_the_limit_after_parameters() {
        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK,
            "Parameters": {"a.$": "$.half", "b.$": "$.half"}, "End": true}}});
        let half = "y".repeat(OVER / 2 + 10);
        let r = run(def, json!({"half": half}));
        assert_eq!(
            r.error.as_deref(),
            Some("States.DataLimitExceeded"),
            "{:?}",
            r.cause
        );
    }

    #[test]
    fn an_execution_input_over_the_limit_is_refused() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
        let result = run_scripted(
            &def.to_string(),
            &Default::default(),
            big(),
            &Responses::default(),
        );
        assert!(result.is_err(), "StartExecution refuses input over 256 KiB");
    }
}

mod context_object {
    use super::*;

    /// "you can use a path that starts with $$ ... to select a node in the context object"
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-contextobject.html,
    /// "Accessing the Context object"): InputPath, OutputPath and ItemsPath read it too.
    #[test]
    fn input_output_and_items_paths_read_the_context_object() {
        let def = json!({"StartAt": "In", "States": {
            "In": {"Type": "Pass", "InputPath": "$$.Execution.Input.order", "Next": "Out"},
            "Out": {"Type": "Pass", "OutputPath": "$$.State.Name", "End": true}}});
        let r = run(def, json!({"order": {"id": 1}}));
        assert_eq!(r.output, Some(json!("Out")), "{:?}", r.cause);

        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map",
            "ItemsPath": "$$.Execution.Input.items",
            "ItemProcessor": {"StartAt": "I", "States": {"I": {"Type": "Pass", "End": true}}},
            "End": true}}});
        let r = run(def, json!({"items": [1, 2, 3]}));
        assert_eq!(r.output, Some(json!([1, 2, 3])), "{:?}", r.cause);
    }

    /// The context object's `State.RetryCount` is "the number of retries" of a state that
    /// retries; a Pass state, which has no Retry, has no RetryCount (same page, "Context
    /// object contents").
    #[test]
    fn retry_count_only_where_a_state_can_retry() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "Parameters": {"state.$": "$$.State"}, "End": true}}});
        let out = run(def, json!({})).output.expect("output");
        assert!(out["state"].get("RetryCount").is_none(), "{out}");
        assert_eq!(out["state"]["Name"], "P");

        let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": TASK,
            "Parameters": {"retries.$": "$$.State.RetryCount"}, "End": true}}});
        let out = run(def, json!({})).output.expect("output");
        assert_eq!(out["retries"], 0);
    }

    /// A `$$` ResultPath stays refused: the result goes into the state's output.
    #[test]
    fn a_context_result_path_is_refused() {
        let def = json!({"StartAt": "P", "States": {"P": {"Type": "Pass",
            "ResultPath": "$$.State", "End": true}}});
        assert!(loads(def).is_err());
    }
}

mod map {
    use super::*;

    /// Items whose `fail` is true fail their iteration (a Fail state in the processor).
    fn processor() -> Value {
        json!({"StartAt": "Check", "States": {
            "Check": {"Type": "Choice", "Choices": [{"Variable": "$.fail", "BooleanEquals": true, "Next": "Boom"}],
                "Default": "Ok"},
            "Boom": {"Type": "Fail", "Error": "Item.Failed", "Cause": "bad item"},
            "Ok": {"Type": "Pass", "End": true}}})
    }

    fn items(failing: usize, total: usize) -> Value {
        json!({"items": (0..total).map(|i| json!({"n": i, "fail": i < failing})).collect::<Vec<_>>()})
    }

    fn map(extra: Value, distributed: bool) -> Value {
        let mut processor = processor();
        if distributed {
            processor["ProcessorConfig"] =
                json!({"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"});
        }
        let mut state =
            json!({"Type": "Map", "ItemsPath": "$.items", "ItemProcessor": processor, "End": true});
        for (k, v) in extra.as_object().expect("object") {
            state[k] = v.clone();
        }
        json!({"StartAt": "M", "States": {"M": state}})
    }

    /// "ToleratedFailurePercentage ... ToleratedFailureCount ... If the failure threshold is
    /// breached, the Map state fails with the States.ExceedToleratedFailureThreshold error"
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html,
    /// "Setting failure thresholds for Distributed Map states").
    #[test]
    fn tolerated_failure_count() {
        let r = run(map(json!({"ToleratedFailureCount": 2}), false), items(2, 5));
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
        let out = r.output.expect("output");
        assert_eq!(out[0]["Error"], "Item.Failed");
        assert_eq!(out[4], json!({"n": 4, "fail": false}));
        let r = run(map(json!({"ToleratedFailureCount": 2}), false), items(3, 5));
        assert_eq!(
            r.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
    }

    #[test]
    fn tolerated_failure_percentage_and_the_path_forms() {
        let r = run(
            map(json!({"ToleratedFailurePercentage": 40}), false),
            items(2, 5),
        );
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
        let r = run(
            map(json!({"ToleratedFailurePercentage": 40}), false),
            items(3, 5),
        );
        assert_eq!(
            r.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );

        let mut input = items(3, 5);
        input["pct"] = json!(60);
        input["count"] = json!(3);
        let r = run(
            map(json!({"ToleratedFailurePercentagePath": "$.pct"}), false),
            input.clone(),
        );
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
        let r = run(
            map(json!({"ToleratedFailureCountPath": "$.count"}), false),
            input.clone(),
        );
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
        input["count"] = json!(1);
        let r = run(
            map(json!({"ToleratedFailureCountPath": "$.count"}), false),
            input,
        );
        assert_eq!(
            r.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
    }

    #[test]
    fn the_threshold_error_is_catchable() {
        let mut def = map(json!({"ToleratedFailureCount": 0}), false);
        def["States"]["M"]["Catch"] =
            json!([{"ErrorEquals": ["States.ExceedToleratedFailureThreshold"], "Next": "Caught"}]);
        def["States"]["M"]
            .as_object_mut()
            .expect("object")
            .remove("End");
        def["States"]["M"]["Next"] = json!("Done");
        def["States"]["Done"] = json!({"Type": "Succeed"});
        def["States"]["Caught"] = json!({"Type": "Pass", "End": true});
        let r = run(def, items(1, 3));
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
        assert_eq!(
            r.output.expect("output")["Error"],
            "States.ExceedToleratedFailureThreshold"
        );
    }

    #[test]
    fn bad_thresholds_are_refused_at_load() {
        assert!(loads(map(json!({"ToleratedFailurePercentage": 101}), false)).is_err());
        assert!(loads(map(json!({"ToleratedFailureCount": -1}), false)).is_err());
        assert!(
            loads(map(
                json!({"ToleratedFailureCount": 1, "ToleratedFailureCountPath": "$.c"}),
                false
            ))
            .is_err()
        );
    }

    /// A Distributed Map over items given inline (no ItemReader): each item runs as a child
    /// execution; the parent's history shows the map run (MapRunStarted, MapRunSucceeded),
    /// not the iterations (https://docs.aws.amazon.com/step-functions/latest/dg/state-map-distributed.html,
    /// https://docs.aws.amazon.com/step-functions/latest/dg/concepts-examine-map-run.html).
    #[test]
    fn distributed_map_over_inline_items() {
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
            "Label": "Items", "MaxConcurrency": 2,
            "ItemSelector": {"value.$": "$$.Map.Item.Value.n", "index.$": "$$.Map.Item.Index"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true}}});
        let r = run(def, items(0, 3));
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
        assert_eq!(
            r.output,
            Some(
                json!([{"value": 0, "index": 0}, {"value": 1, "index": 1}, {"value": 2, "index": 2}])
            )
        );
        let types: Vec<&str> = r.history["events"]
            .as_array()
            .expect("events")
            .iter()
            .map(|e| e["type"].as_str().unwrap_or_default())
            .collect();
        assert_eq!(
            types,
            [
                "ExecutionStarted",
                "MapStateEntered",
                "MapStateStarted",
                "MapRunStarted",
                "MapRunSucceeded",
                "MapStateSucceeded",
                "MapStateExited",
                "ExecutionSucceeded"
            ]
        );
    }

    /// "ItemBatcher ... groups items into batches ... each batch is passed as an object with
    /// the Items key, and BatchInput" (https://docs.aws.amazon.com/step-functions/latest/dg/input-output-itembatcher.html).
    #[test]
    fn distributed_map_batches_items() {
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items",
            "ItemBatcher": {"MaxItemsPerBatch": 2, "BatchInput": {"factor.$": "$.factor"}},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true}}});
        let r = run(def, json!({"items": [1, 2, 3], "factor": 10}));
        assert_eq!(
            r.output,
            Some(json!([
                {"Items": [1, 2], "BatchInput": {"factor": 10}},
                {"Items": [3], "BatchInput": {"factor": 10}}
            ])),
            "{:?}",
            r.cause
        );
    }

    /// A failed child execution fails a Distributed Map with no tolerance set.
    #[test]
    fn a_failed_child_fails_a_distributed_map_with_the_threshold_error() {
        let r = run(map(json!({}), true), items(1, 3));
        assert_eq!(
            r.error.as_deref(),
            Some("States.ExceedToleratedFailureThreshold")
        );
        let r = run(
            map(json!({"ToleratedFailurePercentage": 50}), true),
            items(1, 3),
        );
        assert_eq!(r.status, ExecutionStatus::Succeeded, "{:?}", r.cause);
    }

    #[test]
    fn item_reader_and_result_writer_are_refused_with_a_reason() {
        let err = loads(map(
            json!({"ItemReader": {"Resource": "arn:aws:states:::s3:getObject"}}),
            true,
        ))
        .expect_err("no S3 here");
        assert!(err.contains("S3"), "{err}");
        assert!(loads(map(json!({"ItemBatcher": {"MaxItemsPerBatch": 2}}), false)).is_err());
    }
}

mod validation {
    use super::*;

    fn task(resource: &str) -> Value {
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": resource, "End": true}}})
    }

    /// Each optimized integration has a fixed set of actions
    /// (https://docs.aws.amazon.com/step-functions/latest/dg/connect-ddb.html: "Supported
    /// Amazon DynamoDB APIs: GetItem, PutItem, UpdateItem, DeleteItem"); CreateStateMachine
    /// refuses another one.
    #[test]
    fn an_unknown_action_of_a_known_integration_is_refused() {
        let err = loads(task("arn:aws:states:::dynamodb:foo")).expect_err("no such action");
        assert!(
            err.contains("The resource provided arn:aws:states:::dynamodb:foo is not recognized"),
            "{err}"
        );
        assert!(loads(task("arn:aws:states:::lambda:call")).is_err());
        assert!(loads(task("arn:aws:states:::sqs:sendMessage.waitForTaskToken")).is_ok());
        assert!(loads(task("arn:aws:states:::dynamodb:putItem")).is_ok());
        assert!(loads(task("arn:aws:states:::states:startExecution.sync:2")).is_ok());
        assert!(loads(task("arn:aws:states:::events:putEvents.waitForTaskToken")).is_ok());
        // the SDK integrations take any action
        assert!(loads(task("arn:aws:states:::aws-sdk:dynamodb:describeTable")).is_ok());
    }

    /// What AWS accepts is accepted: the Map fields of a Distributed Map, Label, and the
    /// context object in InputPath.
    #[test]
    fn what_aws_accepts_loads() {
        let def = json!({"StartAt": "M", "States": {"M": {"Type": "Map", "Label": "Orders",
            "InputPath": "$$.Execution.Input", "ItemsPath": "$.orders",
            "ToleratedFailurePercentage": 5, "ToleratedFailureCount": 1,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}},
            "End": true}}});
        assert_eq!(loads(def), Ok(()));
    }
}

mod intrinsic_arguments {
    use super::*;

    /// A path argument of an intrinsic that selects nothing fails the state with AWS's
    /// "The function '...' had the following error: The JsonPath argument for the field
    /// '...' could not be found in the input '...'" (the intrinsic-functions page,
    /// https://docs.aws.amazon.com/step-functions/latest/dg/intrinsic-functions.html,
    /// describes the arguments; the text is AWS's execution history's).
    #[test]
    fn a_missing_path_argument_names_the_call() {
        let def = json!({"StartAt": "Transform", "States": {"Transform": {"Type": "Pass",
            "Parameters": {"values.$": "States.Array($.optional)"}, "End": true}}});
        let r = run(def, json!({"required": 1}));
        assert_eq!(
            runtime_cause(&r),
            "An error occurred while executing the state 'Transform' (entered at the event id #2). \
             The function 'States.Array($.optional)' had the following error: The JsonPath \
             argument for the field '$.optional' could not be found in the input '{\"required\":1}'"
        );
    }
}
