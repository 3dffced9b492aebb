//! The durable store: one SQLite file holding every piece of the runtime's state.
//!
//! Why SQLite rather than redb: `trip watch` reads the event log from a second process while
//! `trip book` writes it, and SQLite in WAL mode lets readers in other processes see each commit
//! without blocking the writer; redb locks its file to one process.
//!
//! The runtime keeps its working state in memory and writes changes through this store. Writes
//! are buffered and committed together once per runtime step (group commit): a step is the unit
//! of durability, and a crash loses at most the step in flight, which at-least-once delivery
//! then redoes.

use std::path::{Path, PathBuf};

use rusqlite::{Connection, OptionalExtension, params};

/// A row of the event log as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct LogRow {
    pub seq: i64,
    pub event_id: String,
    pub trip_id: Option<String>,
    pub source: String,
    pub detail_type: String,
    /// When the event was put on the bus (ms since the epoch).
    pub put_at: i64,
    /// When a target first received it (ms since the epoch); set by a later write.
    pub delivered_at: Option<i64>,
    /// Names of the rules that matched.
    pub rules: Vec<String>,
    /// The full EventBridge envelope, JSON.
    pub envelope: String,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("store {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("store {path} was written by a newer trip (schema {found}, this build knows {known})")]
    SchemaTooNew {
        path: PathBuf,
        found: i64,
        known: i64,
    },
}

enum Op {
    Put {
        ns: &'static str,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        ns: &'static str,
        key: String,
    },
    Log(LogRow),
    Delivered {
        seq: i64,
        at: i64,
    },
}

/// 2: `event_log.event_id` is no longer unique (a replayed event keeps its id).
const SCHEMA_VERSION: i64 = 2;

/// Buffered, group-committed writes over an optional SQLite file (`None`: in-memory mode).
pub struct Store {
    conn: Option<Connection>,
    path: PathBuf,
    pending: Vec<Op>,
    commits: u64,
}

impl Store {
    /// Opens (or creates) the store file.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(dir);
        }
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(wrap)?;
        // WAL: readers in other processes (trip watch) never block the writer. NORMAL
        // synchronous in WAL mode survives a process crash (every commit is in the WAL before
        // commit returns); only an OS crash or power loss can drop the last commits.
        conn.execute_batch(
            "PRAGMA journal_mode=WAL;
             PRAGMA synchronous=NORMAL;
             PRAGMA busy_timeout=5000;
             PRAGMA cache_size=-65536;
             PRAGMA wal_autocheckpoint=1000;
             CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS kv (
                 ns TEXT NOT NULL, key TEXT NOT NULL, value BLOB NOT NULL,
                 PRIMARY KEY (ns, key)) WITHOUT ROWID;
             CREATE TABLE IF NOT EXISTS event_log (
                 seq INTEGER PRIMARY KEY,
                 event_id TEXT NOT NULL,
                 trip_id TEXT,
                 source TEXT NOT NULL,
                 detail_type TEXT NOT NULL,
                 put_at INTEGER NOT NULL,
                 delivered_at INTEGER,
                 rules TEXT NOT NULL,
                 envelope TEXT NOT NULL);
             CREATE INDEX IF NOT EXISTS event_log_trip ON event_log (trip_id, seq);",
        )
        .map_err(wrap)?;
        let found: Option<i64> = conn
            .query_row("SELECT value FROM meta WHERE key = 'schema'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(wrap)?;
        match found {
            None => {
                conn.execute(
                    "INSERT INTO meta (key, value) VALUES ('schema', ?1)",
                    [SCHEMA_VERSION],
                )
                .map_err(wrap)?;
            }
            Some(1) => {
                // Version 1 kept event ids unique; rebuild the log without that constraint.
                conn.execute_batch(
                    "BEGIN;
                     CREATE TABLE event_log_v2 (
                         seq INTEGER PRIMARY KEY, event_id TEXT NOT NULL, trip_id TEXT,
                         source TEXT NOT NULL, detail_type TEXT NOT NULL, put_at INTEGER NOT NULL,
                         delivered_at INTEGER, rules TEXT NOT NULL, envelope TEXT NOT NULL);
                     INSERT INTO event_log_v2 SELECT * FROM event_log;
                     DROP TABLE event_log;
                     ALTER TABLE event_log_v2 RENAME TO event_log;
                     CREATE INDEX IF NOT EXISTS event_log_trip ON event_log (trip_id, seq);
                     UPDATE meta SET value = 2 WHERE key = 'schema';
                     COMMIT;",
                )
                .map_err(wrap)?;
            }
            Some(v) if v > SCHEMA_VERSION => {
                return Err(StoreError::SchemaTooNew {
                    path,
                    found: v,
                    known: SCHEMA_VERSION,
                });
            }
            Some(_) => {}
        }
        Ok(Store {
            conn: Some(conn),
            path,
            pending: Vec::new(),
            commits: 0,
        })
    }

    /// A store that keeps nothing: for tests and `--memory` runs.
    pub fn in_memory() -> Self {
        Store {
            conn: None,
            path: PathBuf::from(":memory:"),
            pending: Vec::new(),
            commits: 0,
        }
    }

    pub fn is_durable(&self) -> bool {
        self.conn.is_some()
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, source: rusqlite::Error) -> StoreError {
        StoreError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    pub fn put(&mut self, ns: &'static str, key: impl Into<String>, value: Vec<u8>) {
        if self.conn.is_some() {
            self.pending.push(Op::Put {
                ns,
                key: key.into(),
                value,
            });
        }
    }

    pub fn delete(&mut self, ns: &'static str, key: impl Into<String>) {
        if self.conn.is_some() {
            self.pending.push(Op::Delete {
                ns,
                key: key.into(),
            });
        }
    }

    pub fn append_log(&mut self, row: LogRow) {
        if self.conn.is_some() {
            self.pending.push(Op::Log(row));
        }
    }

    /// Records when the event logged as `seq` first reached a target.
    pub fn mark_delivered(&mut self, seq: i64, at: i64) {
        if self.conn.is_some() {
            self.pending.push(Op::Delivered { seq, at });
        }
    }

    /// Writes buffered since the last commit.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// Transactions committed so far.
    pub fn commits(&self) -> u64 {
        self.commits
    }

    /// Commits every buffered write in one transaction.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let ops = std::mem::take(&mut self.pending);
        let Some(conn) = self.conn.as_mut() else {
            return Ok(());
        };
        let result = (|| -> rusqlite::Result<()> {
            let tx = conn.transaction()?;
            {
                let mut put = tx.prepare_cached(
                    "INSERT INTO kv (ns, key, value) VALUES (?1, ?2, ?3)
                     ON CONFLICT (ns, key) DO UPDATE SET value = excluded.value",
                )?;
                let mut del = tx.prepare_cached("DELETE FROM kv WHERE ns = ?1 AND key = ?2")?;
                let mut log = tx.prepare_cached(
                    "INSERT INTO event_log
                     (seq, event_id, trip_id, source, detail_type, put_at, delivered_at, rules, envelope)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                )?;
                let mut delivered = tx.prepare_cached(
                    "UPDATE event_log SET delivered_at = ?2
                     WHERE seq = ?1 AND delivered_at IS NULL",
                )?;
                for op in &ops {
                    match op {
                        Op::Put { ns, key, value } => {
                            put.execute(params![ns, key, value])?;
                        }
                        Op::Delete { ns, key } => {
                            del.execute(params![ns, key])?;
                        }
                        Op::Log(r) => {
                            log.execute(params![
                                r.seq,
                                r.event_id,
                                r.trip_id,
                                r.source,
                                r.detail_type,
                                r.put_at,
                                r.delivered_at,
                                r.rules.join(","),
                                r.envelope
                            ])?;
                        }
                        Op::Delivered { seq, at } => {
                            delivered.execute(params![seq, at])?;
                        }
                    }
                }
            }
            tx.commit()
        })();
        result.map_err(|e| self.err(e))?;
        self.commits += 1;
        Ok(())
    }

    /// Every value of a namespace, by key order.
    pub fn load(&self, ns: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let Some(conn) = &self.conn else {
            return Ok(Vec::new());
        };
        let run = || -> rusqlite::Result<Vec<(String, Vec<u8>)>> {
            let mut stmt = conn.prepare("SELECT key, value FROM kv WHERE ns = ?1 ORDER BY key")?;
            let rows = stmt.query_map([ns], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        };
        run().map_err(|e| self.err(e))
    }

    /// The event log from `after_seq` on (exclusive), optionally for one trip.
    pub fn read_log(
        &self,
        after_seq: i64,
        trip_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<LogRow>, StoreError> {
        let Some(conn) = &self.conn else {
            return Ok(Vec::new());
        };
        read_log(conn, after_seq, trip_id, limit).map_err(|e| self.err(e))
    }
}

fn read_log(
    conn: &Connection,
    after_seq: i64,
    trip_id: Option<&str>,
    limit: usize,
) -> rusqlite::Result<Vec<LogRow>> {
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let mut stmt = conn.prepare_cached(
        "SELECT seq, event_id, trip_id, source, detail_type, put_at, delivered_at, rules, envelope
         FROM event_log WHERE seq > ?1 AND (?2 IS NULL OR trip_id = ?2) ORDER BY seq LIMIT ?3",
    )?;
    let rows = stmt.query_map(params![after_seq, trip_id, limit], |r| {
        let rules: String = r.get(7)?;
        Ok(LogRow {
            seq: r.get(0)?,
            event_id: r.get(1)?,
            trip_id: r.get(2)?,
            source: r.get(3)?,
            detail_type: r.get(4)?,
            put_at: r.get(5)?,
            delivered_at: r.get(6)?,
            rules: rules
                .split(',')
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
                .collect(),
            envelope: r.get(8)?,
        })
    })?;
    rows.collect()
}

/// A read-only view of a store file another process is writing (for `trip watch`).
pub struct LogReader {
    conn: Connection,
    path: PathBuf,
}

impl LogReader {
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let conn = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .and_then(|c| {
            c.busy_timeout(std::time::Duration::from_secs(5))?;
            Ok(c)
        })
        .map_err(|source| StoreError::Sqlite {
            path: path.clone(),
            source,
        })?;
        Ok(LogReader { conn, path })
    }

    pub fn read(
        &self,
        after_seq: i64,
        trip_id: Option<&str>,
        limit: usize,
    ) -> Result<Vec<LogRow>, StoreError> {
        read_log(&self.conn, after_seq, trip_id, limit).map_err(|source| StoreError::Sqlite {
            path: self.path.clone(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, trip: &str) -> LogRow {
        LogRow {
            seq,
            event_id: format!("e{seq}"),
            trip_id: Some(trip.to_owned()),
            source: "trip.client".into(),
            detail_type: "TripBookingRequested".into(),
            put_at: 1000 + seq,
            delivered_at: None,
            rules: vec!["saga-bridge".into(), "catch-all-log".into()],
            envelope: "{}".into(),
        }
    }

    #[test]
    fn writes_are_invisible_until_commit_and_survive_reopening() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trip.db");
        let mut s = Store::open(&path).unwrap();
        s.put("bookings", "t1", b"one".to_vec());
        s.put("bookings", "t2", b"two".to_vec());
        s.append_log(row(1, "t1"));
        assert!(s.load("bookings").unwrap().is_empty());
        s.commit().unwrap();
        s.delete("bookings", "t2");
        s.mark_delivered(1, 2000);
        s.commit().unwrap();
        drop(s);

        let s = Store::open(&path).unwrap();
        assert_eq!(
            s.load("bookings").unwrap(),
            vec![("t1".into(), b"one".to_vec())]
        );
        let log = s.read_log(0, Some("t1"), 10).unwrap();
        assert_eq!(log.len(), 1);
        assert_eq!(log[0].delivered_at, Some(2000));
        assert_eq!(log[0].rules, ["saga-bridge", "catch-all-log"]);
        assert_eq!(s.commits(), 0, "a reopened store counts its own commits");
    }

    #[test]
    fn a_reader_in_another_connection_sees_each_commit() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trip.db");
        let mut s = Store::open(&path).unwrap();
        s.append_log(row(1, "a"));
        s.commit().unwrap();
        let reader = LogReader::open(&path).unwrap();
        assert_eq!(reader.read(0, None, 100).unwrap().len(), 1);
        s.append_log(row(2, "b"));
        s.commit().unwrap();
        let after = reader.read(1, None, 100).unwrap();
        assert_eq!(after.iter().map(|r| r.seq).collect::<Vec<_>>(), [2]);
        assert!(reader.read(0, Some("zzz"), 100).unwrap().is_empty());
    }

    #[test]
    fn memory_mode_keeps_nothing() {
        let mut s = Store::in_memory();
        s.put("x", "k", vec![1]);
        assert_eq!(s.pending(), 0);
        s.commit().unwrap();
        assert!(s.load("x").unwrap().is_empty());
    }
}
