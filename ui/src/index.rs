//! The trips list: one summary per trip, kept up to date from the event log incrementally.
//!
//! Each refresh reads only the log rows after the last one seen (as `trip watch --follow`
//! does), and reloads the execution records of the trips those rows touched and of the trips
//! still running; a finished trip's summary never changes again.

use std::collections::{BTreeMap, HashMap};

use serde::Serialize;
use trip_events::EventEnvelope;
use trip_local::TripOutcome;
use trip_local::runtime::{fmt_ms, outcome_of};
use trip_workflow::{ExecutionRecord, ExecutionStatus, TRIP_SAGA_NAME};

use crate::store_view::{StoreView, ViewError};

/// A trip still running with no event for this long is shown as stuck (nothing is driving
/// it: the `trip` that ran it died, or its messages wait in a dead-letter queue).
pub const STUCK_AFTER_MS: i64 = 60_000;

/// What the console calls a trip's state: its final event's word when it has one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TripState {
    Booked,
    /// Failed at a step and compensated (`TripBookingFailed`).
    Compensated,
    Rejected,
    Running,
    /// No event for a while although the saga has not ended, or its compensation ended stuck
    /// (`TripCompensationStuck`: something may still be held).
    Stuck,
    /// The execution failed without the saga's own failure event (an unexpected error).
    Failed,
}

impl TripState {
    pub const ALL: [TripState; 6] = [
        TripState::Booked,
        TripState::Compensated,
        TripState::Rejected,
        TripState::Running,
        TripState::Stuck,
        TripState::Failed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TripState::Booked => "booked",
            TripState::Compensated => "compensated",
            TripState::Rejected => "rejected",
            TripState::Running => "running",
            TripState::Stuck => "stuck",
            TripState::Failed => "failed",
        }
    }

    pub fn parse(s: &str) -> Option<TripState> {
        TripState::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One row of the trips list.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TripSummary {
    pub trip_id: String,
    pub state: TripState,
    /// When its first event was put on the bus (ms since the epoch), and as RFC 3339.
    pub started_ms: i64,
    pub started: String,
    pub last_event_ms: i64,
    pub last_event: String,
    /// From the first event to the final one; `None` while the trip runs.
    pub duration_ms: Option<i64>,
    /// State transitions of its execution (what Standard workflows bill).
    pub transitions: Option<u64>,
    pub events: usize,
    pub execution_status: Option<&'static str>,
    pub failed_step: Option<String>,
}

#[derive(Debug, Clone, Copy)]
struct ExecBrief {
    status: ExecutionStatus,
    transitions: u64,
}

#[derive(Debug, Clone)]
struct Entry {
    first_ms: i64,
    last_ms: i64,
    last_type: String,
    events: usize,
    outcome: Option<(TripOutcome, i64)>,
    exec: Option<ExecBrief>,
    touched: bool,
}

/// Every trip of the store, in order of first appearance.
#[derive(Default)]
pub struct TripIndex {
    after: i64,
    order: Vec<String>,
    trips: HashMap<String, Entry>,
    machine_arn: Option<String>,
}

/// The execution ARN the runtime gives a trip's saga (the execution is named by the tripId).
pub fn execution_arn(machine_arn: &str, trip_id: &str) -> String {
    machine_arn.replacen(":stateMachine:", ":execution:", 1) + ":" + trip_id
}

impl TripIndex {
    /// The sequence number of the last log row read.
    pub fn last_seq(&self) -> i64 {
        self.after
    }

    pub fn machine_arn(&self) -> Option<&str> {
        self.machine_arn.as_deref()
    }

    /// Reads what the store gained since the last refresh.
    pub fn refresh(&mut self, view: &StoreView) -> Result<(), ViewError> {
        loop {
            let rows = view.log_after(self.after, None, 5_000)?;
            let Some(last) = rows.last() else { break };
            self.after = last.seq;
            for row in rows {
                let Some(trip) = row.trip_id.clone() else {
                    continue;
                };
                let entry = match self.trips.get_mut(&trip) {
                    Some(e) => e,
                    None => {
                        self.order.push(trip.clone());
                        self.trips.entry(trip).or_insert(Entry {
                            first_ms: row.put_at,
                            last_ms: row.put_at,
                            last_type: String::new(),
                            events: 0,
                            outcome: None,
                            exec: None,
                            touched: true,
                        })
                    }
                };
                entry.events += 1;
                entry.last_ms = entry.last_ms.max(row.put_at);
                entry.last_type.clone_from(&row.detail_type);
                entry.touched = true;
                if row.detail_type.starts_with("Trip") && row.detail_type != "TripBookingRequested"
                {
                    let envelope: Option<EventEnvelope> = serde_json::from_str(&row.envelope).ok();
                    if let Some(o) = envelope.as_ref().and_then(outcome_of) {
                        entry.outcome = Some((o, row.put_at));
                    }
                }
            }
        }
        if self.machine_arn.is_none() {
            let machines = view.state_machines()?;
            self.machine_arn = machines
                .iter()
                .find(|m| m.name == TRIP_SAGA_NAME)
                .or(machines.first())
                .map(|m| m.arn.clone());
        }
        if let Some(machine) = &self.machine_arn {
            for (trip, entry) in &mut self.trips {
                let running = entry
                    .exec
                    .is_none_or(|e| e.status == ExecutionStatus::Running);
                if entry.touched || (running && entry.outcome.is_none()) {
                    entry.exec = view
                        .execution(&execution_arn(machine, trip))?
                        .as_ref()
                        .map(brief);
                    entry.touched = false;
                }
            }
        }
        Ok(())
    }

    /// Summaries, newest first. `now_ms` decides which running trips are stuck.
    pub fn summaries(&self, now_ms: i64) -> Vec<TripSummary> {
        self.order
            .iter()
            .rev()
            .filter_map(|id| Some(summary(id, self.trips.get(id)?, now_ms)))
            .collect()
    }

    pub fn summary(&self, trip_id: &str, now_ms: i64) -> Option<TripSummary> {
        Some(summary(trip_id, self.trips.get(trip_id)?, now_ms))
    }

    /// How many trips are in each state.
    pub fn counts(&self, now_ms: i64) -> BTreeMap<TripState, usize> {
        let mut counts: BTreeMap<TripState, usize> =
            TripState::ALL.into_iter().map(|s| (s, 0)).collect();
        for (id, e) in &self.trips {
            *counts.entry(summary(id, e, now_ms).state).or_default() += 1;
        }
        counts
    }
}

fn brief(r: &ExecutionRecord) -> ExecBrief {
    ExecBrief {
        status: r.status,
        transitions: r.transitions,
    }
}

fn summary(trip_id: &str, e: &Entry, now_ms: i64) -> TripSummary {
    let state = match (&e.outcome, e.exec.map(|x| x.status)) {
        (Some((TripOutcome::Booked, _)), _) => TripState::Booked,
        (Some((TripOutcome::Failed { .. }, _)), _) => TripState::Compensated,
        (Some((TripOutcome::Rejected { .. }, _)), _) => TripState::Rejected,
        // A compensation that never succeeded ended the saga holding what it did not undo.
        (Some((TripOutcome::Stuck { .. }, _)), _) => TripState::Stuck,
        (None, Some(ExecutionStatus::Succeeded)) => TripState::Booked,
        (
            None,
            Some(ExecutionStatus::Failed | ExecutionStatus::TimedOut | ExecutionStatus::Aborted),
        ) => TripState::Failed,
        (None, _) if now_ms - e.last_ms >= STUCK_AFTER_MS => TripState::Stuck,
        (None, _) => TripState::Running,
    };
    let failed_step = match &e.outcome {
        Some((
            TripOutcome::Failed { failed_step, .. } | TripOutcome::Stuck { failed_step, .. },
            _,
        )) => Some(failed_step.clone()),
        _ => None,
    };
    TripSummary {
        trip_id: trip_id.to_owned(),
        state,
        started_ms: e.first_ms,
        started: fmt_ms(e.first_ms),
        last_event_ms: e.last_ms,
        last_event: e.last_type.clone(),
        duration_ms: e.outcome.as_ref().map(|(_, at)| at - e.first_ms),
        transitions: e.exec.map(|x| x.transitions),
        events: e.events,
        execution_status: e.exec.map(|x| x.status.as_str()),
        failed_step,
    }
}
