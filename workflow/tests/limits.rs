//! The service limits the interpreter enforces, and the work it does before it enforces them.

use serde_json::{Value, json};
use trip_workflow::{ExecutionStatus, Responses, WorkflowError, run_scripted};

fn load_error(def: Value) -> (String, String) {
    match trip_workflow::load_definition(&def.to_string(), &Default::default()) {
        Err(WorkflowError::InvalidDefinition { location, message }) => (location, message),
        other => panic!("expected an invalid definition, got {other:?}"),
    }
}

fn wait(seconds: Value) -> Value {
    json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": seconds, "End": true}}})
}

/// The Step Functions Developer Guide, "Wait workflow state"
/// (https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html): Seconds is "a
/// positive, integer value from 0 up to 99999999".
#[test]
fn a_wait_takes_0_to_99999999_seconds_and_says_so_when_refused() {
    for ok in [0u64, 1, 99_999_999] {
        trip_workflow::load_definition(&wait(json!(ok)).to_string(), &Default::default())
            .unwrap_or_else(|e| panic!("{ok} refused: {e}"));
    }
    // One past the limit, ten years, a negative number and a fraction: each refused with the
    // range, not only "non-negative".
    for bad in [
        json!(100_000_000u64),
        json!(315_360_000u64),
        json!(-1),
        json!(1.5),
    ] {
        let (location, message) = load_error(wait(bad.clone()));
        assert!(location.contains("Seconds"), "{bad}: {location}");
        assert!(
            message.contains("from 0 to 99999999"),
            "{bad}: {message} should give the range"
        );
    }
}

/// Peak resident memory of this process, from /proc (nextest runs each test in a process of
/// its own).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

#[test]
fn a_huge_nested_map_fails_on_the_history_limit_without_building_it_first() {
    // given a Map of 1,000 items, each a Map of 1,000 (a million iterations, far past the
    // 25,000 history events an execution may have)
    // (the inner items are made by an intrinsic: a million-cell input would be over the
    // 256 KiB an execution input may have, and StartExecution refuses it)
    let def = json!({"StartAt": "Outer", "States": {"Outer": {
        "Type": "Map", "ItemsPath": "$.rows", "End": true,
        "ItemSelector": {"cells.$": "States.ArrayRange(1, 1000, 1)"},
        "ItemProcessor": {"StartAt": "Inner", "States": {"Inner": {
            "Type": "Map", "ItemsPath": "$.cells", "End": true,
            "ItemProcessor": {"StartAt": "Cell", "States": {"Cell": {"Type": "Pass", "End": true}}}
        }}}
    }}});
    let input = json!({"rows": vec![0; 1000]});
    let before = peak_rss_bytes();
    // when it runs
    let run = run_scripted(
        &def.to_string(),
        &Default::default(),
        input,
        &Responses::default(),
    )
    .unwrap();
    // then it fails on the limit
    assert_eq!(run.status, ExecutionStatus::Failed);
    assert_eq!(run.error.as_deref(), Some("States.Runtime"));
    assert!(
        run.cause
            .as_deref()
            .unwrap_or_default()
            .contains("25000 history events"),
        "{:?}",
        run.cause
    );
    // having held no more than a bounded amount of memory (it took 4.4 GB when every
    // iteration was started before the limit was looked at)
    if let (Some(before), Some(after)) = (before, peak_rss_bytes()) {
        assert!(
            after < before + 1024 * 1024 * 1024,
            "peak memory grew by {} MB",
            (after - before) / (1024 * 1024)
        );
    }
}
