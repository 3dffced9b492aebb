//! The state machine as a graph, laid out from its ASL definition, with an execution's path.
//!
//! Drawn by the console itself (the browser turns this layout into SVG) rather than by a
//! graph library: an ASL definition is a small directed graph whose edges are `Next`,
//! `Default`, `Choices[].Next` and `Catch[].Next`, and a layered layout of it is a few dozen
//! lines, where Mermaid would add megabytes of vendored JavaScript to the binary and an npm
//! step to its build. States are placed in layers by longest path from `StartAt` (back edges
//! of loops ignored), so the happy path runs straight down the first column and each
//! failure branch beside it, as the Step Functions console draws them.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Serialize;
use serde_json::Value;
use trip_workflow::HistoryEvent;

pub const NODE_W: i64 = 200;
pub const NODE_H: i64 = 36;
const COL_GAP: i64 = 70;
const ROW_GAP: i64 = 34;
const MARGIN: i64 = 20;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mark {
    /// Not entered by this execution.
    Idle,
    /// Entered on the way forward.
    Visited,
    /// The state whose error was caught (or that ended the execution with one).
    Failed,
    /// Entered after the failure: the compensation.
    Compensation,
    /// Entered and not yet left: where a running execution is now.
    Current,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Node {
    pub name: String,
    pub state_type: String,
    pub comment: Option<String>,
    pub x: i64,
    pub y: i64,
    pub end: bool,
    pub mark: Mark,
    /// Tasks scheduled in this state (more than one: it was retried).
    pub attempts: usize,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Edge {
    pub from: String,
    pub to: String,
    /// `next`, `choice`, `default` or `catch`.
    pub kind: &'static str,
    pub label: Option<String>,
    /// SVG path data, in the graph's coordinates.
    pub path: String,
    /// Taken by this execution.
    pub taken: bool,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Graph {
    pub start_at: String,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    pub width: i64,
    pub height: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum GraphError {
    #[error("the definition is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    #[error("the definition has no {0}")]
    Missing(&'static str),
}

/// An edge out of a state: its target, its kind and its label.
type Out = (String, &'static str, Option<String>);
/// Every state's edges, by name.
type Adjacency<'a> = BTreeMap<&'a str, Vec<Out>>;

fn outgoing(state: &Value) -> Vec<Out> {
    let mut out = Vec::new();
    let s = |v: &Value| v.as_str().map(str::to_owned);
    if let Some(n) = state.get("Next").and_then(s) {
        out.push((n, "next", None));
    }
    for c in state
        .get("Choices")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(n) = c.get("Next").and_then(s) {
            out.push((n, "choice", None));
        }
    }
    if let Some(n) = state.get("Default").and_then(s) {
        out.push((n, "default", None));
    }
    for c in state
        .get("Catch")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        if let Some(n) = c.get("Next").and_then(s) {
            let errors = c
                .get("ErrorEquals")
                .and_then(Value::as_array)
                .map(|e| {
                    e.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .filter(|l| !l.is_empty());
            out.push((n, "catch", errors));
        }
    }
    out
}

/// Lays out a definition (ASL JSON text).
pub fn layout(definition: &str) -> Result<Graph, GraphError> {
    let def: Value = serde_json::from_str(definition)?;
    let start_at = def
        .get("StartAt")
        .and_then(Value::as_str)
        .ok_or(GraphError::Missing("StartAt"))?
        .to_owned();
    let states = def
        .get("States")
        .and_then(Value::as_object)
        .ok_or(GraphError::Missing("States"))?;
    let edges_of: Adjacency = states
        .iter()
        .map(|(name, st)| (name.as_str(), outgoing(st)))
        .collect();

    // Discovery order (depth first, `Next` before catches) and the back edges of loops.
    let mut order: Vec<&str> = Vec::new();
    let mut back: HashSet<(String, String)> = HashSet::new();
    let mut on_stack: HashSet<&str> = HashSet::new();
    let mut seen: HashSet<&str> = HashSet::new();
    fn dfs<'a>(
        n: &'a str,
        edges_of: &'a Adjacency<'a>,
        order: &mut Vec<&'a str>,
        seen: &mut HashSet<&'a str>,
        on_stack: &mut HashSet<&'a str>,
        back: &mut HashSet<(String, String)>,
    ) {
        let Some((key, out)) = edges_of.get_key_value(n) else {
            return;
        };
        seen.insert(key);
        on_stack.insert(key);
        order.push(key);
        for (to, _, _) in out {
            if on_stack.contains(to.as_str()) {
                back.insert(((*key).to_owned(), to.clone()));
            } else if !seen.contains(to.as_str()) {
                dfs(to, edges_of, order, seen, on_stack, back);
            }
        }
        on_stack.remove(key);
    }
    dfs(
        &start_at,
        &edges_of,
        &mut order,
        &mut seen,
        &mut on_stack,
        &mut back,
    );
    // States no path reaches still get drawn, after the others.
    for name in edges_of.keys() {
        if !seen.contains(name) {
            dfs(
                name,
                &edges_of,
                &mut order,
                &mut seen,
                &mut on_stack,
                &mut back,
            );
        }
    }

    // Longest-path layers over the forward edges, in discovery (a topological) order... the
    // depth-first order is not topological, so relax until nothing moves (n rounds at most).
    let mut layer: HashMap<&str, i64> = order.iter().map(|n| (*n, 0)).collect();
    for _ in 0..order.len() {
        let mut moved = false;
        for from in &order {
            for (to, _, _) in &edges_of[from] {
                if back.contains(&((*from).to_owned(), to.clone())) {
                    continue;
                }
                let want = layer[from] + 1;
                if let Some(l) = layer.get_mut(to.as_str())
                    && *l < want
                {
                    *l = want;
                    moved = true;
                }
            }
        }
        if !moved {
            break;
        }
    }

    // Columns: each state as near the mean column of its predecessors as a free slot allows.
    let mut preds: HashMap<&str, Vec<&str>> = HashMap::new();
    for from in &order {
        for (to, _, _) in &edges_of[from] {
            if let Some((key, _)) = edges_of.get_key_value(to.as_str()) {
                preds.entry(key).or_default().push(from);
            }
        }
    }
    let mut by_layer: BTreeMap<i64, Vec<&str>> = BTreeMap::new();
    for n in &order {
        by_layer.entry(layer[n]).or_default().push(n);
    }
    let mut column: HashMap<&str, i64> = HashMap::new();
    for names in by_layer.values() {
        let mut taken: HashSet<i64> = HashSet::new();
        for n in names {
            let placed: Vec<i64> = preds
                .get(n)
                .into_iter()
                .flatten()
                .filter_map(|p| column.get(p).copied())
                .collect();
            let want = if placed.is_empty() {
                0
            } else {
                (placed.iter().sum::<i64>() as f64 / placed.len() as f64).round() as i64
            };
            let mut c = want;
            while taken.contains(&c) {
                c += 1;
            }
            taken.insert(c);
            column.insert(n, c);
        }
    }

    let x_of = |n: &str| MARGIN + column[n] * (NODE_W + COL_GAP);
    // One row above the first state for the start marker.
    let y_of = |n: &str| MARGIN + (layer[n] + 1) * (NODE_H + ROW_GAP);
    let nodes: Vec<Node> = order
        .iter()
        .map(|n| {
            let st = &states[*n];
            let state_type = st
                .get("Type")
                .and_then(Value::as_str)
                .unwrap_or("?")
                .to_owned();
            Node {
                end: st.get("End").and_then(Value::as_bool).unwrap_or(false)
                    || matches!(state_type.as_str(), "Succeed" | "Fail"),
                name: (*n).to_owned(),
                comment: st.get("Comment").and_then(Value::as_str).map(str::to_owned),
                state_type,
                x: x_of(n),
                y: y_of(n),
                mark: Mark::Idle,
                attempts: 0,
            }
        })
        .collect();

    let mut edges = Vec::new();
    let mut side = 0;
    for from in &order {
        for (to, kind, label) in &edges_of[from] {
            if !layer.contains_key(to.as_str()) {
                continue; // a Next to a state that does not exist: validation's business
            }
            let (x1, y1) = (x_of(from) + NODE_W / 2, y_of(from) + NODE_H);
            let (x2, y2) = (x_of(to) + NODE_W / 2, y_of(to));
            let span = layer[to.as_str()] - layer[from];
            let path = if span == 1 || (span > 1 && x1 != x2) {
                let mid = (y1 + y2) / 2;
                format!("M{x1},{y1} C{x1},{mid} {x2},{mid} {x2},{y2}")
            } else {
                // Same column over several layers, or back up a loop: around the states
                // in between, on the right.
                side += 1;
                let bend = x1.max(x2) + NODE_W / 2 + 14 + 10 * (side % 3);
                let (ya, yb) = if span < 1 {
                    (y_of(from) + NODE_H / 2, y_of(to) + NODE_H / 2)
                } else {
                    (y1, y2)
                };
                let (sx, ex) = (x_of(from) + NODE_W, x_of(to) + NODE_W);
                if span < 1 {
                    format!("M{sx},{ya} C{bend},{ya} {bend},{yb} {ex},{yb}")
                } else {
                    format!("M{x1},{ya} C{bend},{ya} {bend},{yb} {x2},{yb}")
                }
            };
            edges.push(Edge {
                from: (*from).to_owned(),
                to: to.clone(),
                kind,
                label: label.clone(),
                path,
                taken: false,
            });
        }
    }
    let columns = column.values().max().copied().unwrap_or(0) + 1;
    let layers = layer.values().max().copied().unwrap_or(0) + 2;
    Ok(Graph {
        start_at,
        nodes,
        edges,
        width: 2 * MARGIN + columns * (NODE_W + COL_GAP) + 40,
        height: 2 * MARGIN + layers * (NODE_H + ROW_GAP),
    })
}

/// Marks the path an execution took (its history) on the graph.
pub fn mark(graph: &mut Graph, history: &[HistoryEvent]) {
    let mut entered: Vec<String> = Vec::new();
    let mut open: Option<String> = None;
    let mut attempts: HashMap<String, usize> = HashMap::new();
    let mut failed_at_end = None;
    for h in history {
        let name = h.details.get("name").and_then(Value::as_str);
        if h.event_type.ends_with("StateEntered")
            && let Some(n) = name
        {
            entered.push(n.to_owned());
            open = Some(n.to_owned());
        } else if h.event_type.ends_with("StateExited") {
            open = None;
        } else if h.event_type == "TaskScheduled"
            && let Some(n) = &open
        {
            *attempts.entry(n.clone()).or_default() += 1;
        } else if matches!(
            h.event_type.as_str(),
            "ExecutionFailed" | "ExecutionTimedOut" | "ExecutionAborted"
        ) {
            failed_at_end = open.take();
        } else if h.event_type == "ExecutionSucceeded" {
            open = None;
        }
    }
    let kind_of = |from: &str, to: &str| {
        graph
            .edges
            .iter()
            .find(|e| e.from == from && e.to == to)
            .map(|e| e.kind)
    };
    let mut failed: Vec<String> = Vec::new();
    let mut taken: HashSet<(String, String)> = HashSet::new();
    for pair in entered.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if kind_of(a, b) == Some("catch") {
            failed.push(a.clone());
        }
        taken.insert((a.clone(), b.clone()));
    }
    // An execution that failed without a caught error failed where it stood; one that
    // caught its error and then reached a Fail state ended its compensation there.
    if failed.is_empty() {
        failed.extend(failed_at_end);
    }
    let first_failure = entered
        .iter()
        .position(|n| failed.first() == Some(n))
        .unwrap_or(entered.len());
    let compensation: HashSet<&String> = entered.iter().skip(first_failure + 1).collect();
    for node in &mut graph.nodes {
        node.attempts = attempts.get(&node.name).copied().unwrap_or(0);
        node.mark = if failed.contains(&node.name) {
            Mark::Failed
        } else if open.as_ref() == Some(&node.name) {
            Mark::Current
        } else if compensation.contains(&node.name) {
            Mark::Compensation
        } else if entered.contains(&node.name) {
            Mark::Visited
        } else {
            Mark::Idle
        };
    }
    for e in &mut graph.edges {
        e.taken = taken.contains(&(e.from.clone(), e.to.clone()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const SAGA: &str = include_str!("../../workflow/trip-saga.asl.json");

    fn node<'a>(g: &'a Graph, name: &str) -> &'a Node {
        g.nodes.iter().find(|n| n.name == name).unwrap()
    }

    fn entered(id: u64, kind: &str, name: &str) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp_ms: id as i64,
            event_type: format!("{kind}StateEntered"),
            details_key: Some("stateEnteredEventDetails".into()),
            details: json!({ "name": name }),
        }
    }

    fn plain(id: u64, t: &str) -> HistoryEvent {
        HistoryEvent {
            id,
            previous_event_id: id - 1,
            timestamp_ms: id as i64,
            event_type: t.into(),
            details_key: None,
            details: Value::Null,
        }
    }

    #[test]
    fn the_happy_path_runs_down_the_first_column_and_failures_beside_it() {
        let g = layout(SAGA).unwrap();
        let states: serde_json::Value = serde_json::from_str(SAGA).unwrap();
        assert_eq!(
            g.nodes.len(),
            states["States"].as_object().unwrap().len(),
            "a node per state"
        );
        let x0 = node(&g, "BookHotel").x;
        for n in ["BookFlight", "BookCar", "NotifyTripBooked"] {
            assert_eq!(node(&g, n).x, x0, "{n} is on the happy path's column");
        }
        for n in [
            "BookHotelFailed",
            "CancelCar",
            "CancelHotel",
            "TripBookingFailed",
        ] {
            assert!(node(&g, n).x > x0, "{n} is beside the happy path");
        }
        // Each step below the one before it.
        let y = |n| node(&g, n).y;
        assert!(y("BookHotel") < y("BookFlight") && y("BookFlight") < y("BookCar"));
        assert!(y("CancelCar") < y("CancelFlight") && y("CancelFlight") < y("CancelHotel"));
        assert!(node(&g, "TripBookingFailed").end && node(&g, "NotifyTripBooked").end);
        let catch = g
            .edges
            .iter()
            .find(|e| e.from == "BookCar" && e.to == "BookCarFailed")
            .unwrap();
        assert_eq!(catch.kind, "catch");
        assert!(catch.label.as_deref().unwrap().contains("States.ALL"));
        // Nothing overlaps.
        let places: HashSet<(i64, i64)> = g.nodes.iter().map(|n| (n.x, n.y)).collect();
        assert_eq!(places.len(), g.nodes.len());
        assert!(
            g.nodes
                .iter()
                .all(|n| n.x + NODE_W <= g.width && n.y + NODE_H <= g.height)
        );
    }

    #[test]
    fn a_compensated_history_marks_the_failed_state_and_the_compensations() {
        let mut g = layout(SAGA).unwrap();
        let h = vec![
            plain(1, "ExecutionStarted"),
            entered(2, "Task", "BookHotel"),
            plain(3, "TaskScheduled"),
            plain(4, "TaskStateExited"),
            entered(5, "Task", "BookFlight"),
            plain(6, "TaskScheduled"),
            plain(7, "TaskFailed"),
            plain(8, "TaskScheduled"),
            plain(9, "TaskStateExited"),
            entered(10, "Pass", "BookFlightFailed"),
            plain(11, "PassStateExited"),
            entered(12, "Task", "CancelFlight"),
            plain(13, "TaskStateExited"),
            entered(14, "Task", "CancelHotel"),
        ];
        mark(&mut g, &h);
        assert_eq!(node(&g, "BookHotel").mark, Mark::Visited);
        assert_eq!(node(&g, "BookFlight").mark, Mark::Failed);
        assert_eq!(node(&g, "BookFlight").attempts, 2);
        assert_eq!(node(&g, "BookFlightFailed").mark, Mark::Compensation);
        assert_eq!(node(&g, "CancelFlight").mark, Mark::Compensation);
        assert_eq!(node(&g, "CancelHotel").mark, Mark::Current, "still running");
        assert_eq!(node(&g, "BookCar").mark, Mark::Idle);
        let taken: HashSet<(&str, &str)> = g
            .edges
            .iter()
            .filter(|e| e.taken)
            .map(|e| (e.from.as_str(), e.to.as_str()))
            .collect();
        assert_eq!(
            taken,
            HashSet::from([
                ("BookHotel", "BookFlight"),
                ("BookFlight", "BookFlightFailed"),
                ("BookFlightFailed", "CancelFlight"),
                ("CancelFlight", "CancelHotel"),
            ])
        );
    }

    #[test]
    fn loops_and_choices_lay_out_without_overlap() {
        let def = json!({
            "StartAt": "Poll",
            "States": {
                "Poll": {"Type": "Task", "Resource": "x", "Next": "Done?"},
                "Done?": {"Type": "Choice",
                          "Choices": [{"Variable": "$.done", "BooleanEquals": true, "Next": "Ok"}],
                          "Default": "Wait"},
                "Wait": {"Type": "Wait", "Seconds": 1, "Next": "Poll"},
                "Ok": {"Type": "Succeed"},
                "Orphan": {"Type": "Pass", "End": true}
            }
        });
        let g = layout(&def.to_string()).unwrap();
        assert_eq!(g.nodes.len(), 5);
        let places: HashSet<(i64, i64)> = g.nodes.iter().map(|n| (n.x, n.y)).collect();
        assert_eq!(places.len(), 5);
        let kinds: Vec<&str> = g.edges.iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&"choice") && kinds.contains(&"default"));
        assert!(
            node(&g, "Poll").y < node(&g, "Wait").y,
            "the loop's back edge is ignored"
        );
        assert!(layout("{}").is_err() && layout("not json").is_err());
    }
}
