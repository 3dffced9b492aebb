//! `trip status <id> --graph`: the state machine as a Mermaid flowchart with the path the
//! execution took, like the Step Functions console's graph view — states entered in green, a
//! state whose error was caught in orange, where the execution failed in red, where a running
//! one waits in blue.

use std::collections::{BTreeSet, HashMap};

use serde_json::Value;

/// What an execution's history says about each state.
#[derive(Default)]
struct Path {
    /// States in the order they were entered (a state entered twice appears twice).
    entered: Vec<String>,
    /// States in which a task or the execution failed or timed out.
    failed: BTreeSet<String>,
    /// Whether the execution ended (succeeded, failed, timed out or aborted).
    ended: bool,
    /// Whether it ended in failure.
    execution_failed: bool,
}

fn path(history: &[Value]) -> Path {
    let mut p = Path::default();
    let mut current: Option<String> = None;
    for h in history {
        let kind = h["type"].as_str().unwrap_or_default();
        if let Some(name) = h
            .get("stateEnteredEventDetails")
            .and_then(|d| d["name"].as_str())
        {
            current = Some(name.to_owned());
            p.entered.push(name.to_owned());
        }
        let failure = kind.ends_with("Failed") || kind.ends_with("TimedOut");
        if failure && let Some(c) = &current {
            p.failed.insert(c.clone());
        }
        if kind.starts_with("Execution") && kind != "ExecutionStarted" {
            p.ended = true;
            p.execution_failed = kind != "ExecutionSucceeded";
        }
    }
    p
}

/// One arrow of the flowchart.
struct Edge {
    from: String,
    to: String,
    label: Option<String>,
    /// A Catch: drawn dotted.
    dashed: bool,
    /// The execution went this way.
    taken: bool,
}

/// Mermaid text in a quoted label: `"` and `#` are entity codes, line breaks `<br/>`.
fn label(text: &str) -> String {
    crate::output::printable(text)
        .replace('#', "#35;")
        .replace('"', "#quot;")
}

/// A flowchart of `definition` (ASL JSON), with the path of `history` (GetExecutionHistory
/// events in AWS's JSON shape) drawn over it.
pub fn flowchart(definition: &Value, history: &[Value]) -> anyhow::Result<String> {
    let states = definition["States"]
        .as_object()
        .ok_or_else(|| anyhow::anyhow!("the definition has no States"))?;
    let start = definition["StartAt"].as_str().unwrap_or_default();
    let ids: HashMap<&str, String> = states
        .keys()
        .enumerate()
        .map(|(i, k)| (k.as_str(), format!("s{i}")))
        .collect();
    let id = |name: &str| ids.get(name).cloned();
    let taken = path(history);
    let mut steps: BTreeSet<(String, String)> = BTreeSet::new();
    for w in taken.entered.windows(2) {
        steps.insert((w[0].clone(), w[1].clone()));
    }

    let mut s = String::from("flowchart TD\n");
    s.push_str("    start((Start))\n    stop((End))\n");
    for (name, state) in states {
        let kind = state["Type"].as_str().unwrap_or("State");
        let shape = match kind {
            "Choice" => ("{", "}"),
            "Fail" | "Succeed" => ("([", "])"),
            _ => ("[", "]"),
        };
        s.push_str(&format!(
            "    {}{}\"{}<br/>{}\"{}\n",
            ids[name.as_str()],
            shape.0,
            label(name),
            label(kind),
            shape.1
        ));
    }

    // Edges, in order, remembering which ones the execution took (for linkStyle).
    let mut edges: Vec<Edge> = Vec::new();
    let mut edge = |from: &str, to: String, label: Option<String>, dashed: bool, taken: bool| {
        edges.push(Edge {
            from: from.to_owned(),
            to,
            label,
            dashed,
            taken,
        });
    };
    if let Some(first) = id(start) {
        edge("start", first, None, false, !taken.entered.is_empty());
    }
    for (name, state) in states {
        let from = ids[name.as_str()].clone();
        let was_taken = |to: &str| steps.contains(&(name.clone(), to.to_owned()));
        if let Some(next) = state["Next"].as_str()
            && let Some(to) = id(next)
        {
            edge(&from, to, None, false, was_taken(next));
        }
        for c in state["Choices"].as_array().into_iter().flatten() {
            if let Some(next) = c["Next"].as_str()
                && let Some(to) = id(next)
            {
                edge(&from, to, None, false, was_taken(next));
            }
        }
        if let Some(next) = state["Default"].as_str()
            && let Some(to) = id(next)
        {
            edge(&from, to, Some("Default".into()), false, was_taken(next));
        }
        for c in state["Catch"].as_array().into_iter().flatten() {
            if let Some(next) = c["Next"].as_str()
                && let Some(to) = id(next)
            {
                let errors: Vec<&str> = c["ErrorEquals"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .collect();
                edge(
                    &from,
                    to,
                    Some(format!("Catch {}", errors.join(", "))),
                    true,
                    was_taken(next),
                );
            }
        }
        let ends = state["End"].as_bool() == Some(true)
            || matches!(state["Type"].as_str(), Some("Succeed" | "Fail"));
        if ends {
            let last = taken.ended && taken.entered.last() == Some(name);
            edge(&from, "stop".into(), None, false, last);
        }
    }
    for e in &edges {
        let arrow = if e.dashed { "-.->" } else { "-->" };
        let (from, to) = (&e.from, &e.to);
        match &e.label {
            Some(t) => s.push_str(&format!("    {from} {arrow}|\"{}\"| {to}\n", label(t))),
            None => s.push_str(&format!("    {from} {arrow} {to}\n")),
        }
    }

    s.push_str("    classDef visited fill:#d8f3dc,stroke:#2d6a4f,stroke-width:2px\n");
    s.push_str("    classDef caught fill:#ffe8cc,stroke:#e8590c,stroke-width:2px\n");
    s.push_str("    classDef failed fill:#ffe3e3,stroke:#c92a2a,stroke-width:3px\n");
    s.push_str("    classDef current fill:#d0ebff,stroke:#1864ab,stroke-width:3px\n");
    let entered: BTreeSet<&String> = taken.entered.iter().collect();
    let last = taken.entered.last();
    let mut classes: HashMap<&str, Vec<String>> = HashMap::new();
    for name in states.keys() {
        if !entered.contains(name) {
            continue;
        }
        let class = if !taken.ended && last == Some(name) {
            "current"
        } else if taken.failed.contains(name) {
            let fatal = taken.execution_failed && last == Some(name);
            if fatal { "failed" } else { "caught" }
        } else if taken.execution_failed && last == Some(name) && states[name]["Type"] == "Fail" {
            "failed"
        } else {
            "visited"
        };
        classes
            .entry(class)
            .or_default()
            .push(ids[name.as_str()].clone());
    }
    for class in ["visited", "caught", "failed", "current"] {
        if let Some(nodes) = classes.get(class) {
            s.push_str(&format!("    class {} {class}\n", nodes.join(",")));
        }
    }
    let taken_edges: Vec<String> = edges
        .iter()
        .enumerate()
        .filter(|(_, e)| e.taken)
        .map(|(i, _)| i.to_string())
        .collect();
    if !taken_edges.is_empty() {
        s.push_str(&format!(
            "    linkStyle {} stroke:#2d6a4f,stroke-width:3px\n",
            taken_edges.join(",")
        ));
    }
    Ok(s)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn entered(name: &str) -> Value {
        json!({"type": "TaskStateEntered", "stateEnteredEventDetails": {"name": name}})
    }

    #[test]
    fn the_path_taken_the_caught_error_and_the_fail_state_are_marked() {
        let def = json!({"StartAt": "A", "States": {
            "A": {"Type": "Task", "Next": "B", "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "Undo"}]},
            "B": {"Type": "Succeed"},
            "Undo": {"Type": "Pass", "Next": "Failed"},
            "Failed": {"Type": "Fail"}
        }});
        let history = vec![
            entered("A"),
            json!({"type": "TaskFailed"}),
            entered("Undo"),
            json!({"type": "FailStateEntered", "stateEnteredEventDetails": {"name": "Failed"}}),
            json!({"type": "ExecutionFailed"}),
        ];
        let g = flowchart(&def, &history).unwrap();
        // States are s0.. in the definition's order: A s0, B s1, Undo s2, Failed s3.
        assert!(g.contains("class s0 caught"), "{g}");
        assert!(g.contains("class s3 failed"), "{g}");
        assert!(g.contains("class s2 visited"), "{g}");
        assert!(!g.contains("s1 visited") && !g.contains("s1,"), "{g}");
        assert!(g.contains("s0 -.->|\"Catch States.ALL\"| s2"), "{g}");
        // Edges: start->A (0), A->B (1), A-.->Undo (2), B->stop (3), Undo->Failed (4),
        // Failed->stop (5); taken: 0, 2, 4, 5.
        assert!(g.contains("linkStyle 0,2,4,5 "), "{g}");
    }
}
