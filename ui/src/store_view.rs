//! Read-only access to a store file that another `trip` process may be writing.
//!
//! The console never opens the runtime to read: opening it resumes what is in flight, and two
//! runtimes over one file would both drive the same sagas. It reads the file through read-only
//! SQLite connections instead, as `trip watch` does: in WAL mode each read sees the last
//! committed step of the writer, never half a step.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags, OptionalExtension};
use trip_booking::BookingRecord;
use trip_booking::memory::InventoryLevel;
use trip_local::adapters::{NS_EXECUTION, NS_HISTORY, NS_MACHINE, decode_history};
use trip_local::queue::Message;
use trip_local::store::{LogReader, LogRow, StoreError};
use trip_workflow::{ExecutionRecord, HistoryEvent, StoredStateMachine};

// The runtime's own namespaces for queue messages, bookings and inventory (runtime.rs).
const NS_MESSAGE: &str = "msg";
const NS_BOOKING: &str = "booking";
const NS_INVENTORY: &str = "inventory";

#[derive(Debug, thiserror::Error)]
pub enum ViewError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("store {path}: a {what} record cannot be read: {message}")]
    Corrupt {
        path: PathBuf,
        what: &'static str,
        message: String,
    },
}

/// Read-only views of one store file.
pub struct StoreView {
    log: LogReader,
    conn: Connection,
    path: PathBuf,
}

impl StoreView {
    /// Opens an existing store file read-only (it is never created or migrated here).
    pub fn open(path: impl AsRef<Path>) -> Result<Self, ViewError> {
        let path = path.as_ref().to_owned();
        let log = LogReader::open(&path)?;
        let conn = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| {
            c.busy_timeout(std::time::Duration::from_secs(5))?;
            Ok(c)
        })
        .map_err(|source| ViewError::Sqlite {
            path: path.clone(),
            source,
        })?;
        Ok(StoreView { log, conn, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn sqlite(&self, source: rusqlite::Error) -> ViewError {
        ViewError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn corrupt(&self, what: &'static str, e: impl std::fmt::Display) -> ViewError {
        ViewError::Corrupt {
            path: self.path.clone(),
            what,
            message: e.to_string(),
        }
    }

    /// Event-log rows after `after_seq`, at most `limit` of them, optionally for one trip.
    pub fn log_after(
        &self,
        after_seq: i64,
        trip_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<LogRow>, ViewError> {
        Ok(self.log.read(after_seq, trip_id, limit)?)
    }

    /// The last sequence number of the event log (0 when it is empty): what changes whenever
    /// anything visible changes, since every step that moves a saga logs an event.
    pub fn last_seq(&self) -> Result<i64, ViewError> {
        self.conn
            .query_row("SELECT COALESCE(MAX(seq), 0) FROM event_log", [], |r| {
                r.get(0)
            })
            .map_err(|e| self.sqlite(e))
    }

    fn value(&self, ns: &str, key: &str) -> Result<Option<Vec<u8>>, ViewError> {
        self.conn
            .prepare_cached("SELECT value FROM kv WHERE ns = ?1 AND key = ?2")
            .and_then(|mut s| s.query_row([ns, key], |r| r.get(0)).optional())
            .map_err(|e| self.sqlite(e))
    }

    fn values(&self, ns: &str, from: &str, to: &str) -> Result<Vec<Vec<u8>>, ViewError> {
        let run = || -> rusqlite::Result<Vec<Vec<u8>>> {
            let mut s = self.conn.prepare_cached(
                "SELECT value FROM kv WHERE ns = ?1 AND key >= ?2 AND key < ?3 ORDER BY key",
            )?;
            let rows = s.query_map([ns, from, to], |r| r.get(0))?;
            rows.collect()
        };
        run().map_err(|e| self.sqlite(e))
    }

    /// Every state machine the workflow engine registered in this store.
    pub fn state_machines(&self) -> Result<Vec<StoredStateMachine>, ViewError> {
        self.values(NS_MACHINE, "", "\u{10FFFF}")?
            .iter()
            .map(|b| serde_json::from_slice(b).map_err(|e| self.corrupt("state machine", e)))
            .collect()
    }

    pub fn execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, ViewError> {
        self.value(NS_EXECUTION, arn)?
            .map(|b| ExecutionRecord::from_json_bytes(&b).map_err(|e| self.corrupt("execution", e)))
            .transpose()
    }

    /// An execution's history, in order (stored in chunks keyed `{arn}#{first id}`).
    pub fn history(&self, arn: &str) -> Result<Vec<HistoryEvent>, ViewError> {
        let mut out = Vec::new();
        for chunk in self.values(NS_HISTORY, &format!("{arn}#"), &format!("{arn}$"))? {
            out.extend(decode_history(&chunk).map_err(|e| self.corrupt("history", e))?);
        }
        Ok(out)
    }

    /// The trip's booking records, one per service that has one.
    pub fn bookings(&self, trip_id: &str) -> Result<Vec<BookingRecord>, ViewError> {
        // Keys are `TRIP#{tripId}|BOOKING#{service}` (trip_booking::booking_key).
        let prefix = format!("TRIP#{trip_id}|");
        self.values(NS_BOOKING, &prefix, &format!("TRIP#{trip_id}}}"))?
            .iter()
            .map(|b| serde_json::from_slice(b).map_err(|e| self.corrupt("booking", e)))
            .collect()
    }

    pub fn inventory(&self, key: &str) -> Result<Option<InventoryLevel>, ViewError> {
        self.value(NS_INVENTORY, key)?
            .map(|b| serde_json::from_slice(&b).map_err(|e| self.corrupt("inventory", e)))
            .transpose()
    }

    fn dead_messages(&self) -> Result<Vec<Message>, ViewError> {
        let mut out = Vec::new();
        for b in self.values(NS_MESSAGE, "", "\u{10FFFF}")? {
            let m: Message = serde_json::from_slice(&b).map_err(|e| self.corrupt("message", e))?;
            if m.dead_lettered_at.is_some() {
                out.push(m);
            }
        }
        Ok(out)
    }

    /// How many messages wait in the dead-letter queues.
    pub fn dead_letter_count(&self) -> Result<usize, ViewError> {
        Ok(self.dead_messages()?.len())
    }

    /// Every message in a dead-letter queue, with its body (from the event log when the
    /// store keeps only the event's id: all of them fetched in one pass over the log, which
    /// has no index by event id).
    pub fn dead_letters(&self) -> Result<Vec<Message>, ViewError> {
        let mut out = self.dead_messages()?;
        let wanted: Vec<&str> = out
            .iter()
            .filter(|m| m.body.is_empty())
            .filter_map(|m| m.event_id.as_deref())
            .collect();
        let mut bodies: HashMap<String, String> = HashMap::new();
        if !wanted.is_empty() {
            let ids = serde_json::to_string(&wanted).unwrap_or_default();
            let run = || -> rusqlite::Result<()> {
                let mut s = self.conn.prepare_cached(
                    "SELECT event_id, envelope FROM event_log
                     WHERE event_id IN (SELECT value FROM json_each(?1)) ORDER BY seq",
                )?;
                let mut rows = s.query([ids])?;
                while let Some(r) = rows.next()? {
                    // The first row per id: a replayed event keeps its id.
                    bodies.entry(r.get(0)?).or_insert(r.get(1)?);
                }
                Ok(())
            };
            run().map_err(|e| self.sqlite(e))?;
        }
        for m in &mut out {
            if m.body.is_empty()
                && let Some(body) = m.event_id.as_ref().and_then(|id| bodies.get(id))
            {
                m.body.clone_from(body);
            }
        }
        out.sort_by_key(|m| (m.dead_lettered_at, m.message_id.clone()));
        Ok(out)
    }
}
