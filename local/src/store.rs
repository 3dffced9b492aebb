//! The durable store: one SQLite file holding every piece of the runtime's state.
//!
//! Why SQLite rather than redb: `trip watch` reads the event log from a second process while
//! `trip book` writes it, and SQLite in WAL mode lets readers in other processes see each commit
//! without blocking the writer; redb locks its file to one process.
//!
//! The runtime keeps its working state in memory and writes changes through this store. Writes
//! are buffered and committed together once per runtime step (group commit): a step is the unit
//! of durability, and a crash loses at most the steps not yet committed, which at-least-once
//! delivery then redoes.
//!
//! Commits are pipelined: [`Store::commit`] hands the step's writes to a writer thread, which
//! serializes the deferred values and runs the SQLite transaction while the runtime goes on
//! with the next step. Steps reach the file in order, whole (when the writer falls behind it
//! folds the steps waiting for it into one transaction), so the file always holds a prefix of
//! the steps; [`Store::sync`] waits until every handed-over step is on disk, and every read
//! through the store syncs first, so reads see every write made before them.

use std::path::{Path, PathBuf};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;

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
    #[error("store {path}: {source}{}", hint(source))]
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
    /// A pipelined commit failed: the steps not yet on disk when it failed are not in the
    /// file, and nothing more is written.
    #[error("store {path}: a commit failed; the steps not yet on disk are lost: {message}")]
    Write { path: PathBuf, message: String },
    /// Another process has the store open for writing.
    #[error(
        "store {path} is in use by another trip process ({holder}); one process writes a \
         store at a time: wait for it to finish, or give this command another --store \
         (status, export, watch and dlq list can read it meanwhile)"
    )]
    Locked { path: PathBuf, holder: String },
    /// A read-only verb found no store.
    #[error(
        "no store at {path}: nothing was booked into it yet (`trip book` creates it); check \
         --store or TRIP_STORE"
    )]
    Missing { path: PathBuf },
    #[error(
        "store {path} is an empty (0-byte) file, not a trip store: restore it from a copy if it \
         was one, or delete it to start a new store"
    )]
    Empty { path: PathBuf },
    #[error("{path} is not a trip store ({why}): check --store or TRIP_STORE")]
    NotAStore { path: PathBuf, why: String },
    /// The file says a writer had it open, and the write-ahead log holding that writer's
    /// commits is gone: the file alone is older than what was committed.
    #[error(
        "store {path} was not closed cleanly and its write-ahead log {wal} is missing, so the \
         file alone is older than what was committed; put {wal} back beside it (copy a store \
         together with its -wal file, or after the trip using it has exited). To carry on from \
         the older state anyway: sqlite3 {path} \"UPDATE meta SET value = 1 WHERE key = 'clean'\""
    )]
    WalMissing { path: PathBuf, wal: PathBuf },
}

/// What a user can do about an SQLite error, by its kind.
fn hint(e: &rusqlite::Error) -> &'static str {
    use rusqlite::ErrorCode as C;
    match e.sqlite_error_code() {
        Some(C::ReadOnly) => {
            " (the file or its directory is read-only: booking needs write access; status, \
             export, watch and dlq list only read)"
        }
        Some(C::CannotOpen) => " (check the path, and that its directory exists and is writable)",
        Some(C::DiskFull) => " (the disk is full: free some space, then `trip resume`)",
        Some(C::NotADatabase) => " (the file is not an SQLite database: check --store)",
        Some(C::DatabaseCorrupt) => " (the file is damaged: restore it from a copy)",
        Some(C::PermissionDenied) => " (permission denied: check the file's owner and mode)",
        _ => "",
    }
}

/// How hard a commit holds on before it counts as done.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Durability {
    /// `synchronous=FULL`: the write-ahead log is fsynced at every commit, so a committed step
    /// survives a power loss or an OS crash.
    #[default]
    Full,
    /// `synchronous=NORMAL`: a commit is in the write-ahead log (the OS's cache) when it
    /// returns, so it survives the process crashing, but a power loss or OS crash can take
    /// the last commits.
    Normal,
}

impl std::str::FromStr for Durability {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "full" => Ok(Durability::Full),
            "normal" => Ok(Durability::Normal),
            _ => Err(format!("{s:?}: expected full or normal")),
        }
    }
}

impl std::fmt::Display for Durability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Durability::Full => "full",
            Durability::Normal => "normal",
        })
    }
}

/// The store's companion files.
fn sibling(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

/// Whether the write-ahead log beside `path` holds anything.
fn wal_holds_frames(path: &Path) -> bool {
    std::fs::metadata(sibling(path, "-wal")).is_ok_and(|m| m.len() > 0)
}

/// Refuses what SQLite would silently take for a new database: a directory, a 0-byte file.
fn check_file(path: &Path, must_exist: bool) -> Result<bool, StoreError> {
    match std::fs::metadata(path) {
        Ok(m) if m.is_dir() => Err(StoreError::NotAStore {
            path: path.to_owned(),
            why: "it is a directory".into(),
        }),
        Ok(m) if m.len() == 0 => Err(StoreError::Empty {
            path: path.to_owned(),
        }),
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !must_exist => Ok(false),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(StoreError::Missing {
            path: path.to_owned(),
        }),
        Err(e) => Err(StoreError::NotAStore {
            path: path.to_owned(),
            why: format!("cannot read it: {e}"),
        }),
    }
}

/// An existing file must hold the trip schema (an SQLite file of something else is refused
/// rather than having tables added to it).
fn check_schema(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let tables: Vec<String> = conn
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table'")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|source| match source.sqlite_error_code() {
            Some(rusqlite::ErrorCode::NotADatabase) => StoreError::NotAStore {
                path: path.to_owned(),
                why: "not an SQLite database".into(),
            },
            _ => StoreError::Sqlite {
                path: path.to_owned(),
                source,
            },
        })?;
    if !tables.iter().any(|t| t == "meta") {
        return Err(StoreError::NotAStore {
            path: path.to_owned(),
            why: if tables.is_empty() {
                "an SQLite database with no tables".into()
            } else {
                format!(
                    "an SQLite database with other tables: {}",
                    tables.join(", ")
                )
            },
        });
    }
    Ok(())
}

/// `meta.clean`: 1 once the last writer closed the store, its log folded into the file; 0
/// while a writer has it open (or crashed with it open). Stores older than the marker have
/// none.
fn clean_marker(conn: &Connection, path: &Path) -> Result<Option<i64>, StoreError> {
    conn.query_row("SELECT value FROM meta WHERE key = 'clean'", [], |r| {
        r.get(0)
    })
    .optional()
    .map_err(|source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    })
}

/// The writer's lock: `<store>.lock`, held (flock) while a process has the store open for
/// writing, and naming that process for whoever finds it taken. The OS drops the lock when
/// the process ends, however it ends.
struct WriterLock {
    _file: std::fs::File,
}

impl WriterLock {
    fn take(path: &Path) -> Result<Self, StoreError> {
        use std::io::{Read, Seek, Write};
        let lock_path = sibling(path, ".lock");
        let io_err = |e: std::io::Error| StoreError::NotAStore {
            path: path.to_owned(),
            why: format!("cannot open its lock file {}: {e}", lock_path.display()),
        };
        let mut file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&lock_path)
            .map_err(io_err)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(StoreError::Locked {
                    path: path.to_owned(),
                    holder: if holder.is_empty() {
                        "a process that has not said who it is yet".into()
                    } else {
                        holder.to_owned()
                    },
                });
            }
            Err(std::fs::TryLockError::Error(e)) => return Err(io_err(e)),
        }
        let me = format!(
            "pid {}: {}",
            std::process::id(),
            std::env::args().collect::<Vec<_>>().join(" ")
        );
        let _ = file
            .set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(me.as_bytes()));
        Ok(WriterLock { _file: file })
    }
}

/// A value serialized on the writer thread, off the runtime's loop.
pub type Deferred = Box<dyn FnOnce() -> Vec<u8> + Send>;

enum Value {
    Ready(Vec<u8>),
    Deferred(Deferred),
}

impl Value {
    fn into_bytes(self) -> Vec<u8> {
        match self {
            Value::Ready(b) => b,
            Value::Deferred(f) => f(),
        }
    }
}

enum Op {
    Put {
        ns: &'static str,
        key: String,
        value: Value,
    },
    Delete {
        ns: &'static str,
        key: String,
    },
    Log(LogRow),
    /// A log row whose envelope JSON the writer renders.
    LogDeferred(LogRow, Deferred),
    Delivered {
        seq: i64,
        at: i64,
    },
}

/// What the writer thread has done, shared with the store and with [`SyncHandle`]s.
#[derive(Default)]
struct Progress {
    /// Tickets of the batches handed over, and of those committed.
    sent: u64,
    committed: u64,
    /// SQLite transactions run (a transaction may carry several batches).
    transactions: u64,
    /// Rows written (inserted, updated or deleted) by those transactions, after coalescing.
    rows: u64,
    /// The first failure; once set, nothing more is written.
    failed: Option<String>,
}

type Batch = (u64, Vec<Op>);

struct Shared {
    progress: Mutex<Progress>,
    changed: Condvar,
    /// To the writer thread; `None` once the store is closed (the writer then finishes).
    tx: Mutex<Option<Sender<Batch>>>,
    /// With [`Store::hold_back_last_commit`]: the last batch, kept until the next one (or a
    /// sync) so that a simulated crash can lose it.
    held: Mutex<Option<Batch>>,
}

fn lock_ignoring_poison<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Progress> {
        lock_ignoring_poison(&self.progress)
    }

    /// Hands a batch to the writer thread.
    fn send(&self, batch: Batch) -> Result<(), String> {
        let sent = lock_ignoring_poison(&self.tx)
            .as_ref()
            .is_some_and(|tx| tx.send(batch).is_ok());
        if sent {
            return Ok(());
        }
        let message = "the writer thread is gone".to_owned();
        self.lock().failed.get_or_insert(message.clone());
        self.changed.notify_all();
        Err(message)
    }

    /// Hands over the held-back batch, if any.
    fn release_held(&self) -> Result<(), String> {
        let held = lock_ignoring_poison(&self.held).take();
        match held {
            Some(batch) => self.send(batch),
            None => Ok(()),
        }
    }

    /// Waits until every batch handed over is committed (or the writer failed).
    fn wait(&self, path: &Path) -> Result<(), StoreError> {
        if let Err(message) = self.release_held() {
            return Err(StoreError::Write {
                path: path.to_owned(),
                message,
            });
        }
        let mut p = self.lock();
        while p.committed < p.sent && p.failed.is_none() {
            p = self
                .changed
                .wait(p)
                .unwrap_or_else(std::sync::PoisonError::into_inner);
        }
        match &p.failed {
            Some(message) => Err(StoreError::Write {
                path: path.to_owned(),
                message: message.clone(),
            }),
            None => Ok(()),
        }
    }
}

/// Lets another reader of the file (the workflow engine's) wait for the pipelined commits.
#[derive(Clone)]
pub struct SyncHandle {
    shared: Arc<Shared>,
    path: PathBuf,
}

impl SyncHandle {
    /// Waits until everything handed to the writer so far is in the file.
    pub fn sync(&self) -> Result<(), StoreError> {
        self.shared.wait(&self.path)
    }
}

struct Writer {
    thread: Option<JoinHandle<()>>,
    shared: Arc<Shared>,
    /// Keep each batch until the next one is committed (see [`Store::hold_back_last_commit`]).
    hold_back: bool,
    /// Released after the writer thread has finished (fields drop after `Drop::drop`).
    _lock: WriterLock,
}

/// 2: `event_log.event_id` is no longer unique (a replayed event keeps its id).
const SCHEMA_VERSION: i64 = 2;

/// Buffered, group-committed writes over an optional SQLite file (`None`: in-memory mode).
pub struct Store {
    /// Reads (after a sync); the writer thread has its own connection.
    conn: Option<Connection>,
    writer: Option<Writer>,
    path: PathBuf,
    pending: Vec<Op>,
    /// Opened with [`Store::open_read_only`]: writes are dropped.
    read_only: bool,
    durability: Durability,
}

/// A read-only connection to an existing store, checked: a missing, empty or foreign file, or
/// one whose write-ahead log went missing, is an error naming it.
fn open_reader(path: &Path) -> Result<Connection, StoreError> {
    check_file(path, true)?;
    let wrap = |source| StoreError::Sqlite {
        path: path.to_owned(),
        source,
    };
    let conn = Connection::open_with_flags(
        path,
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(wrap)?;
    conn.busy_timeout(std::time::Duration::from_secs(5))
        .map_err(wrap)?;
    check_schema(&conn, path)?;
    // A writer marks the file open and keeps a non-empty log beside it until it closes, when
    // it marks it clean and empties the log; a reader racing that close can see the marker
    // from before and the log from after, so it looks twice before it calls the log lost.
    for attempt in 0..2 {
        if clean_marker(&conn, path)? != Some(0) || wal_holds_frames(path) {
            return Ok(conn);
        }
        if attempt == 0 {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
    }
    Err(StoreError::WalMissing {
        path: path.to_owned(),
        wal: sibling(path, "-wal"),
    })
}

impl Store {
    /// Opens (or creates) the store file for writing, at the default durability.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        Self::open_with(path, Durability::default())
    }

    /// Opens (or creates) the store file for writing: takes the writer's lock, checks that
    /// an existing file is a whole trip store, and marks it open until the store is dropped.
    pub fn open_with(path: impl AsRef<Path>, durability: Durability) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let existed = check_file(&path, false)?;
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            let _ = std::fs::create_dir_all(dir);
        }
        let lock = WriterLock::take(&path)?;
        // Looked at before SQLite opens (and creates) the log.
        let wal_present = wal_holds_frames(&path);
        let wrap = |source| StoreError::Sqlite {
            path: path.clone(),
            source,
        };
        let conn = Connection::open(&path).map_err(wrap)?;
        if existed {
            check_schema(&conn, &path)?;
            if clean_marker(&conn, &path)? == Some(0) && !wal_present {
                return Err(StoreError::WalMissing {
                    wal: sibling(&path, "-wal"),
                    path,
                });
            }
        }
        // WAL: readers in other processes (trip watch) never block the writer. In WAL mode
        // FULL fsyncs the log at every commit (a committed step survives a power loss);
        // NORMAL leaves it to the OS (it survives the process crashing, not the machine).
        let synchronous = match durability {
            Durability::Full => "FULL",
            Durability::Normal => "NORMAL",
        };
        conn.execute_batch(&format!(
            "PRAGMA page_size=16384;
             PRAGMA journal_mode=WAL;
             PRAGMA synchronous={synchronous};
             PRAGMA busy_timeout=5000;
             PRAGMA cache_size=-8000;
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
             CREATE INDEX IF NOT EXISTS event_log_trip ON event_log (trip_id, seq);"
        ))
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
        // The file itself (not only its log) says a writer has it open, so that a copy of the
        // file without its log, or a lost log, is recognised as such. A FULL checkpoint
        // leaves the log's frames in place: a crash from here on always leaves a non-empty
        // log beside a file marked open.
        conn.execute(
            "INSERT INTO meta (key, value) VALUES ('clean', 0)
             ON CONFLICT (key) DO UPDATE SET value = 0",
            [],
        )
        .map_err(wrap)?;
        conn.query_row("PRAGMA wal_checkpoint(FULL)", [], |_| Ok(()))
            .map_err(wrap)?;
        // Reads go through a second connection (read-write, though it only reads, so that
        // if it closes last SQLite still folds the log into the file); the first becomes the
        // writer's.
        let reader = Connection::open_with_flags(
            &path,
            rusqlite::OpenFlags::SQLITE_OPEN_READ_WRITE | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(wrap)?;
        reader
            .busy_timeout(std::time::Duration::from_secs(5))
            .map_err(wrap)?;
        let (tx, rx) = channel();
        let shared = Arc::new(Shared {
            progress: Mutex::default(),
            changed: Condvar::new(),
            tx: Mutex::new(Some(tx)),
            held: Mutex::default(),
        });
        let thread = {
            let shared = shared.clone();
            let file = path.clone();
            std::thread::Builder::new()
                .name("trip-store-writer".into())
                .spawn(move || write_loop(conn, rx, &shared, &file))
                .map_err(|e| StoreError::Write {
                    path: path.clone(),
                    message: format!("cannot start the writer thread: {e}"),
                })?
        };
        Ok(Store {
            conn: Some(reader),
            writer: Some(Writer {
                thread: Some(thread),
                shared,
                hold_back: false,
                _lock: lock,
            }),
            path,
            pending: Vec::new(),
            read_only: false,
            durability,
        })
    }

    /// Opens an existing store to read it: creates nothing, writes nothing, takes no lock
    /// (a writer may be running). Writes made through it are dropped.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let conn = open_reader(&path)?;
        Ok(Store {
            conn: Some(conn),
            writer: None,
            path,
            pending: Vec::new(),
            read_only: true,
            durability: Durability::default(),
        })
    }

    /// A store that keeps nothing: for tests and `--memory` runs.
    pub fn in_memory() -> Self {
        Store {
            conn: None,
            writer: None,
            path: PathBuf::from(":memory:"),
            pending: Vec::new(),
            read_only: false,
            durability: Durability::default(),
        }
    }

    pub fn durability(&self) -> Durability {
        self.durability
    }

    /// Whether writes reach a file (not in memory, not read-only).
    pub fn is_durable(&self) -> bool {
        self.writer.is_some()
    }

    /// Whether the store reads a file without writing it.
    pub fn is_read_only(&self) -> bool {
        self.read_only
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
        if self.writer.is_some() {
            self.pending.push(Op::Put {
                ns,
                key: key.into(),
                value: Value::Ready(value),
            });
        }
    }

    /// `put`, with the value serialized on the writer thread when it commits.
    pub fn put_deferred(&mut self, ns: &'static str, key: impl Into<String>, value: Deferred) {
        if self.writer.is_some() {
            self.pending.push(Op::Put {
                ns,
                key: key.into(),
                value: Value::Deferred(value),
            });
        }
    }

    pub fn delete(&mut self, ns: &'static str, key: impl Into<String>) {
        if self.writer.is_some() {
            self.pending.push(Op::Delete {
                ns,
                key: key.into(),
            });
        }
    }

    pub fn append_log(&mut self, row: LogRow) {
        if self.writer.is_some() {
            self.pending.push(Op::Log(row));
        }
    }

    /// `append_log`, with the envelope JSON rendered on the writer thread.
    pub fn append_log_deferred(&mut self, row: LogRow, envelope: Deferred) {
        if self.writer.is_some() {
            self.pending.push(Op::LogDeferred(row, envelope));
        }
    }

    /// Records when the event logged as `seq` first reached a target.
    pub fn mark_delivered(&mut self, seq: i64, at: i64) {
        if self.writer.is_some() {
            self.pending.push(Op::Delivered { seq, at });
        }
    }

    /// Writes buffered since the last commit.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// SQLite transactions committed so far (the writer folds batches that queue up behind
    /// each other into one).
    pub fn commits(&self) -> u64 {
        self.writer
            .as_ref()
            .map_or(0, |w| w.shared.lock().transactions)
    }

    /// Rows the writer has written so far (after coalescing).
    pub fn rows_written(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.shared.lock().rows)
    }

    /// Hands every buffered write to the writer thread, to be committed in one transaction
    /// after the batches before it. Returns the batch's ticket ([`Store::committed`] reaches
    /// it once the batch is on disk). Fails if an earlier commit failed.
    pub fn commit(&mut self) -> Result<u64, StoreError> {
        let Some(w) = &self.writer else {
            self.pending.clear();
            return Ok(0);
        };
        let ticket = {
            let mut p = w.shared.lock();
            if let Some(message) = &p.failed {
                return Err(StoreError::Write {
                    path: self.path.clone(),
                    message: message.clone(),
                });
            }
            if self.pending.is_empty() {
                return Ok(p.sent);
            }
            p.sent += 1;
            p.sent
        };
        let mut batch = (ticket, std::mem::take(&mut self.pending));
        if w.hold_back {
            // Commit the batch held so far, and hold this one in its place.
            match lock_ignoring_poison(&w.shared.held).replace(batch) {
                Some(earlier) => batch = earlier,
                None => return Ok(ticket),
            }
        }
        w.shared.send(batch).map_err(|message| StoreError::Write {
            path: self.path.clone(),
            message,
        })?;
        Ok(ticket)
    }

    /// For fault injection: from now on the store keeps each batch back until the next one is
    /// committed (or a sync), so that [`Store::crash`] loses the last step handed over, as a
    /// process that dies before its pipelined commit lands does. Syncs still wait for
    /// everything.
    pub fn hold_back_last_commit(&mut self) {
        if let Some(w) = &mut self.writer {
            w.hold_back = true;
        }
    }

    /// Stops the store as a crash would: a batch not yet handed to the writer (see
    /// [`Store::hold_back_last_commit`]) and the writes not yet committed are lost; what the
    /// writer already holds is finished, as if the crash came just after.
    pub fn crash(mut self) {
        self.pending.clear();
        if let Some(w) = &self.writer {
            lock_ignoring_poison(&w.shared.held).take();
        }
    }

    /// The ticket of the last batch handed over by [`Store::commit`] (0 in memory mode).
    pub fn last_ticket(&self) -> u64 {
        self.writer.as_ref().map_or(0, |w| w.shared.lock().sent)
    }

    /// The ticket of the last batch committed to the file (0 in memory mode).
    pub fn committed(&self) -> u64 {
        self.writer
            .as_ref()
            .map_or(0, |w| w.shared.lock().committed)
    }

    /// Waits until every batch handed to the writer is in the file.
    pub fn sync(&self) -> Result<(), StoreError> {
        match &self.writer {
            Some(w) => w.shared.wait(&self.path),
            None => Ok(()),
        }
    }

    /// For another reader of the file that must see every commit handed over before it reads.
    pub fn sync_handle(&self) -> Option<SyncHandle> {
        self.writer.as_ref().map(|w| SyncHandle {
            shared: w.shared.clone(),
            path: self.path.clone(),
        })
    }

    /// Every value of a namespace, by key order.
    pub fn load(&self, ns: &str) -> Result<Vec<(String, Vec<u8>)>, StoreError> {
        let Some(conn) = &self.conn else {
            return Ok(Vec::new());
        };
        self.sync()?;
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
        self.sync()?;
        read_log(conn, after_seq, trip_id, limit).map_err(|e| self.err(e))
    }
}

impl Drop for Store {
    /// Finishes the commits handed over (a clean stop loses nothing) and stops the writer.
    fn drop(&mut self) {
        if let Some(mut w) = self.writer.take() {
            let _ = w.shared.release_held();
            lock_ignoring_poison(&w.shared.tx).take();
            if let Some(t) = w.thread.take() {
                let _ = t.join();
            }
            if let Some(message) = &w.shared.lock().failed {
                tracing::error!(path = %self.path.display(), message, "the store's last commits failed");
            }
        }
    }
}

/// Most operations the writer folds into one transaction when batches queue up behind it.
const MAX_OPS_PER_TRANSACTION: usize = 50_000;

/// The writer thread: commits batches in ticket order until the store is dropped (and the
/// channel closes); after a failure it writes nothing more.
fn write_loop(mut conn: Connection, rx: Receiver<Batch>, shared: &Shared, path: &Path) {
    /// If the thread unwinds (a deferred value's serializer panicked), waiters are told
    /// instead of waiting forever.
    struct Stopped<'a>(&'a Shared);
    impl Drop for Stopped<'_> {
        fn drop(&mut self) {
            if std::thread::panicking() {
                self.0
                    .lock()
                    .failed
                    .get_or_insert_with(|| "the writer thread stopped".to_owned());
                self.0.changed.notify_all();
            }
        }
    }
    let _stopped = Stopped(shared);
    while let Ok((mut last, mut ops)) = rx.recv() {
        // Fold in whatever queued up meanwhile: one transaction, one WAL commit, for several
        // steps.
        while ops.len() < MAX_OPS_PER_TRANSACTION {
            match rx.try_recv() {
                Ok((ticket, more)) => {
                    last = ticket;
                    ops.extend(more);
                }
                Err(_) => break,
            }
        }
        if shared.lock().failed.is_some() {
            continue;
        }
        let result = write_ops(&mut conn, ops);
        let mut p = shared.lock();
        match result {
            Ok(rows) => {
                p.committed = last;
                p.transactions += 1;
                p.rows += rows;
            }
            Err(e) => {
                p.failed = Some(e.to_string());
            }
        }
        drop(p);
        shared.changed.notify_all();
    }
    close_cleanly(&conn, path);
}

/// Folds the write-ahead log into the file and marks the file clean, so that the file alone
/// holds every commit once the store is closed (SQLite folds it only when the last connection
/// to close can write, and another process's reader may close last).
fn close_cleanly(conn: &Connection, path: &Path) {
    let marked = conn.execute(
        "INSERT INTO meta (key, value) VALUES ('clean', 1)
         ON CONFLICT (key) DO UPDATE SET value = 1",
        [],
    );
    // (busy, log frames, frames checkpointed): busy = 1 while a reader in another process
    // holds an old snapshot; its busy handler waits for it (up to busy_timeout).
    let folded = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| {
        r.get::<_, i64>(0)
    });
    match (marked, folded) {
        (Ok(_), Ok(0)) => {}
        (marked, folded) => tracing::warn!(
            path = %path.display(),
            ?marked,
            ?folded,
            "the store's write-ahead log could not be folded into the file on close; it stays \
             beside the file and the next open replays it"
        ),
    }
}

/// Drops what a later operation of the same transaction overwrites: of the writes to one key
/// only the last is made (a message sent and consumed within the transaction costs one
/// delete; a deferred value never written is never serialized), and a delivery mark for an
/// event logged in the same transaction is written with the event.
fn coalesce(mut ops: Vec<Op>) -> Vec<Op> {
    let mut keep = vec![true; ops.len()];
    let mut folds = Vec::new();
    {
        let mut last: std::collections::HashMap<(&str, &str), usize> =
            std::collections::HashMap::with_capacity(ops.len());
        let mut logged: std::collections::HashMap<i64, usize> = std::collections::HashMap::new();
        for (i, op) in ops.iter().enumerate() {
            match op {
                Op::Put { ns, key, .. } | Op::Delete { ns, key } => {
                    if let Some(before) = last.insert((ns, key.as_str()), i) {
                        keep[before] = false;
                    }
                }
                Op::Log(r) | Op::LogDeferred(r, _) => {
                    logged.insert(r.seq, i);
                }
                Op::Delivered { seq, at } => {
                    if let Some(&row) = logged.get(seq) {
                        folds.push((row, *at));
                        keep[i] = false;
                    }
                }
            }
        }
    }
    for (row, at) in folds {
        if let Op::Log(r) | Op::LogDeferred(r, _) = &mut ops[row] {
            // The first delivery counts, as with `delivered_at IS NULL` in the update.
            r.delivered_at.get_or_insert(at);
        }
    }
    ops.into_iter()
        .zip(keep)
        .filter_map(|(op, keep)| keep.then_some(op))
        .collect()
}

/// Returns the rows changed.
fn write_ops(conn: &mut Connection, ops: Vec<Op>) -> rusqlite::Result<u64> {
    let ops = coalesce(ops);
    let mut rows = 0u64;
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
        for op in ops {
            match op {
                Op::Put { ns, key, value } => {
                    rows += put.execute(params![ns, key, value.into_bytes()])? as u64;
                }
                Op::Delete { ns, key } => {
                    rows += del.execute(params![ns, key])? as u64;
                }
                Op::Log(_) | Op::LogDeferred(..) => {
                    let r = match op {
                        Op::LogDeferred(mut r, render) => {
                            r.envelope = String::from_utf8(render()).unwrap_or_default();
                            r
                        }
                        Op::Log(r) => r,
                        _ => continue,
                    };
                    rows += log.execute(params![
                        r.seq,
                        r.event_id,
                        r.trip_id,
                        r.source,
                        r.detail_type,
                        r.put_at,
                        r.delivered_at,
                        r.rules.join(","),
                        r.envelope
                    ])? as u64;
                }
                Op::Delivered { seq, at } => {
                    rows += delivered.execute(params![seq, at])? as u64;
                }
            }
        }
    }
    tx.commit()?;
    Ok(rows)
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
        let conn = open_reader(&path)?;
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
        s.sync().unwrap();
        let reader = LogReader::open(&path).unwrap();
        assert_eq!(reader.read(0, None, 100).unwrap().len(), 1);
        s.append_log(row(2, "b"));
        s.commit().unwrap();
        s.sync().unwrap();
        let after = reader.read(1, None, 100).unwrap();
        assert_eq!(after.iter().map(|r| r.seq).collect::<Vec<_>>(), [2]);
        assert!(reader.read(0, Some("zzz"), 100).unwrap().is_empty());
    }

    #[test]
    fn commits_are_pipelined_in_order_and_a_sync_waits_for_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trip.db");
        let mut s = Store::open(&path).unwrap();
        let reader = LogReader::open(&path).unwrap();
        let mut last = 0;
        for seq in 1..=200 {
            s.append_log(row(seq, "t"));
            s.put("exec", "arn", seq.to_string().into_bytes());
            let ticket = s.commit().unwrap();
            assert!(ticket > last, "tickets grow: {ticket} after {last}");
            last = ticket;
            // Whatever another reader sees is a prefix of the commits, never a gap.
            let seen = reader.read(0, None, 1000).unwrap();
            assert!(
                seen.iter().map(|r| r.seq).eq(1..=seen.len() as i64),
                "a prefix of the log"
            );
        }
        s.sync().unwrap();
        assert_eq!(s.committed(), last);
        assert_eq!(reader.read(0, None, 1000).unwrap().len(), 200);
        // Reads through the store itself sync first.
        s.put("exec", "arn", b"last".to_vec());
        s.commit().unwrap();
        assert_eq!(
            s.load("exec").unwrap(),
            vec![("arn".into(), b"last".to_vec())]
        );
        assert!(s.commits() >= 1 && s.commits() <= 201, "{}", s.commits());
    }

    #[test]
    fn a_transaction_writes_only_the_last_value_of_a_key() {
        use std::sync::atomic::{AtomicUsize, Ordering};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trip.db");
        let mut s = Store::open(&path).unwrap();
        let rendered = Arc::new(AtomicUsize::new(0));
        for v in ["one", "two", "three"] {
            let rendered = rendered.clone();
            s.put_deferred(
                "exec",
                "arn",
                Box::new(move || {
                    rendered.fetch_add(1, Ordering::SeqCst);
                    v.as_bytes().to_vec()
                }),
            );
        }
        // A message sent and consumed in one transaction: only the delete is made.
        s.put("msg", "q/1", b"m".to_vec());
        s.delete("msg", "q/1");
        // An event delivered in the transaction that logs it is written delivered.
        s.append_log(row(1, "t"));
        s.mark_delivered(1, 5000);
        s.mark_delivered(1, 6000);
        s.commit().unwrap();
        s.sync().unwrap();
        assert_eq!(
            rendered.load(Ordering::SeqCst),
            1,
            "overwritten values are never rendered"
        );
        assert_eq!(
            s.load("exec").unwrap(),
            vec![("arn".into(), b"three".to_vec())]
        );
        assert!(s.load("msg").unwrap().is_empty());
        let log = s.read_log(0, None, 10).unwrap();
        assert_eq!(log[0].delivered_at, Some(5000), "the first delivery counts");
    }

    #[test]
    fn a_failed_commit_is_reported_and_nothing_after_it_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trip.db");
        let mut s = Store::open(&path).unwrap();
        s.append_log(row(1, "t"));
        s.commit().unwrap();
        s.sync().unwrap();
        // The same sequence number twice breaks the log's primary key.
        s.append_log(row(1, "t"));
        s.commit().unwrap();
        let err = s.sync().unwrap_err();
        assert!(matches!(err, StoreError::Write { .. }), "{err}");
        assert!(err.to_string().contains("UNIQUE"), "{err}");
        s.put("exec", "after", b"x".to_vec());
        assert!(s.commit().is_err(), "later commits are refused");
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.read_log(0, None, 10).unwrap().len(), 1);
        assert!(s.load("exec").unwrap().is_empty());
    }

    #[test]
    fn a_crash_with_the_last_commit_held_back_loses_that_step_only() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trip.db");
        let mut s = Store::open(&path).unwrap();
        s.hold_back_last_commit();
        s.append_log(row(1, "t"));
        let first = s.commit().unwrap();
        s.append_log(row(2, "t"));
        s.commit().unwrap();
        // The second step is held: a sync would hand it over, a crash loses it.
        let reader = LogReader::open(&path).unwrap();
        while s.committed() < first {
            std::thread::yield_now();
        }
        assert_eq!(reader.read(0, None, 10).unwrap().len(), 1);
        s.crash();
        let mut s = Store::open(&path).unwrap();
        let log = s.read_log(0, None, 10).unwrap();
        assert_eq!(log.iter().map(|r| r.seq).collect::<Vec<_>>(), [1]);

        // Held back, a sync still waits for everything.
        s.hold_back_last_commit();
        s.append_log(row(2, "t"));
        s.commit().unwrap();
        s.sync().unwrap();
        assert_eq!(reader.read(0, None, 10).unwrap().len(), 2);
        // And a clean stop loses nothing.
        s.append_log(row(3, "t"));
        s.commit().unwrap();
        drop(s);
        assert_eq!(reader.read(0, None, 10).unwrap().len(), 3);
    }

    #[test]
    fn a_writer_that_dies_does_not_leave_a_sync_waiting() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trip.db");
        let mut s = Store::open(&path).unwrap();
        s.put_deferred("exec", "arn", Box::new(|| panic!("a serializer bug")));
        s.commit().unwrap();
        let err = s.sync().unwrap_err();
        assert!(err.to_string().contains("writer"), "{err}");
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
