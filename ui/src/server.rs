//! The console's HTTP server: the page, its JSON routes, a live event stream, one action.
//!
//! Safety, as the issue asks: it listens on 127.0.0.1 only; every request must name this
//! server in its `Host` header (a page on another site that rebinds its DNS name to
//! 127.0.0.1 cannot read it); reads never change the store; the one action (redrive the
//! dead letters) needs the random token printed at start-up, in `X-Trip-Token`, and a
//! browser request must come from the console's own origin.

use std::io::{Cursor, Write};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::{Value, json};
use tiny_http::{Header, Method, Request, Response, Server, StatusCode};

use crate::assets;
use crate::graph;
use crate::index::{TripIndex, TripState};
use crate::store_view::{StoreView, ViewError};
use crate::trip::{self, DeadLetterView};

/// At most this many live streams at once (each holds a thread).
const MAX_STREAMS: usize = 32;
/// How often a stream looks at the store, and how often it says it is alive.
const STREAM_TICK: Duration = Duration::from_millis(200);
const KEEPALIVE: Duration = Duration::from_secs(15);
/// The most trips one list answer carries (the counts cover all of them).
const LIST_LIMIT: usize = 500;

#[derive(Debug, thiserror::Error)]
pub enum UiError {
    #[error("no store at {0} yet: run `trip book <entries.json>` first (or pass --store)")]
    NoStore(PathBuf),
    #[error(transparent)]
    View(#[from] ViewError),
    #[error("cannot listen on 127.0.0.1:{port}: {message}")]
    Listen { port: u16, message: String },
}

#[derive(Debug, Clone)]
pub struct Options {
    pub store: PathBuf,
    /// 0: any free port.
    pub port: u16,
}

struct State {
    view: StoreView,
    index: TripIndex,
}

struct Console {
    store: PathBuf,
    state: Mutex<State>,
    token: String,
    port: u16,
    stopping: AtomicBool,
    streams: AtomicUsize,
}

/// A running console; dropping it (or [`Running::stop`]) stops the server.
pub struct Running {
    console: Arc<Console>,
    server: Arc<Server>,
    thread: Option<JoinHandle<()>>,
}

impl Running {
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from((Ipv4Addr::LOCALHOST, self.console.port))
    }

    /// The console's address, `http://127.0.0.1:PORT/`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}/", self.console.port)
    }

    /// The address with the token, which lets the page offer the actions (as Jupyter's).
    pub fn url_with_token(&self) -> String {
        format!("{}?token={}", self.url(), self.console.token)
    }

    pub fn token(&self) -> &str {
        &self.console.token
    }

    /// Serves until the process ends.
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }

    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.console.stopping.store(true, Ordering::SeqCst);
        self.server.unblock();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn random_token() -> String {
    let bytes: [u8; 24] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Opens the store read-only and starts serving on 127.0.0.1.
pub fn start(options: Options) -> Result<Running, UiError> {
    if !options.store.exists() {
        return Err(UiError::NoStore(options.store));
    }
    let view = StoreView::open(&options.store)?;
    let mut index = TripIndex::default();
    index.refresh(&view)?;
    let listen = |message: String| UiError::Listen {
        port: options.port,
        message,
    };
    let server =
        Server::http((Ipv4Addr::LOCALHOST, options.port)).map_err(|e| listen(e.to_string()))?;
    let port = server
        .server_addr()
        .to_ip()
        .map(|a| a.port())
        .ok_or_else(|| listen("not an IP listener".into()))?;
    let server = Arc::new(server);
    let console = Arc::new(Console {
        store: options.store,
        state: Mutex::new(State { view, index }),
        token: random_token(),
        port,
        stopping: AtomicBool::new(false),
        streams: AtomicUsize::new(0),
    });
    let thread = {
        let (server, console) = (server.clone(), console.clone());
        std::thread::Builder::new()
            .name("trip-ui".into())
            .spawn(move || {
                for request in server.incoming_requests() {
                    if console.stopping.load(Ordering::SeqCst) {
                        break;
                    }
                    let console = console.clone();
                    let _ = std::thread::Builder::new()
                        .name("trip-ui-request".into())
                        .spawn(move || handle(&console, request));
                }
            })
            .map_err(|e| listen(e.to_string()))?
    };
    Ok(Running {
        console,
        server,
        thread: Some(thread),
    })
}

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("valid header")
}

/// The headers every answer carries: no framing, no sniffing, no referrer, nothing loaded
/// from anywhere but the console itself.
fn secure(mut r: Response<Cursor<Vec<u8>>>) -> Response<Cursor<Vec<u8>>> {
    for (k, v) in [
        (
            "Content-Security-Policy",
            "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
             connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        ),
        ("X-Content-Type-Options", "nosniff"),
        ("Referrer-Policy", "no-referrer"),
        ("X-Frame-Options", "DENY"),
        ("Cache-Control", "no-store"),
    ] {
        r.add_header(header(k, v));
    }
    r
}

fn json_response(status: u16, body: &impl Serialize) -> Response<Cursor<Vec<u8>>> {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    secure(
        Response::from_data(bytes)
            .with_status_code(StatusCode(status))
            .with_header(header("Content-Type", "application/json; charset=utf-8")),
    )
}

fn error(status: u16, message: &str) -> Response<Cursor<Vec<u8>>> {
    json_response(status, &json!({ "error": message }))
}

fn request_header<'a>(req: &'a Request, name: &str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str())
}

impl Console {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Hosts a browser may use to reach this server (anything else is a rebound DNS name).
    fn host_ok(&self, host: Option<&str>) -> bool {
        let p = self.port;
        host.is_some_and(|h| h == format!("127.0.0.1:{p}") || h == format!("localhost:{p}"))
    }

    fn origin_ok(&self, origin: &str) -> bool {
        let p = self.port;
        origin == format!("http://127.0.0.1:{p}") || origin == format!("http://localhost:{p}")
    }

    fn token_ok(&self, given: Option<&str>) -> bool {
        // Compared in constant time: the token is the only secret.
        given.is_some_and(|g| {
            g.len() == self.token.len()
                && g.bytes()
                    .zip(self.token.bytes())
                    .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                    == 0
        })
    }
}

fn handle(console: &Console, request: Request) {
    if !console.host_ok(request_header(&request, "Host")) {
        let _ = request.respond(error(
            421,
            "this console answers only to http://127.0.0.1 and http://localhost on its own port",
        ));
        return;
    }
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((&url, ""));
    let segments: Vec<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_encoding::percent_decode_str(s)
                .decode_utf8_lossy()
                .into_owned()
        })
        .collect();
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let param = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let method = request.method().clone();

    if segs == ["api", "stream"] && method == Method::Get {
        stream(console, request);
        return;
    }
    let response = match (&method, segs.as_slice()) {
        (Method::Get, []) => asset("index.html"),
        (Method::Get, ["assets", name]) => asset(name),
        (Method::Get, ["api", "overview"]) => read(console, |s, now| overview(console, s, now)),
        (Method::Get, ["api", "trips"]) => read(console, |s, now| {
            trips(s, now, param("state"), param("q"), param("limit"))
        }),
        (Method::Get, ["api", "trips", id]) => read(console, |s, now| {
            match trip::detail(&s.view, &s.index, id, now)? {
                Some(d) => Ok(json_response(200, &d)),
                None => Ok(error(404, &format!("no trip {id:?} in this store"))),
            }
        }),
        (Method::Get, ["api", "trips", id, "graph"]) => read(console, |s, _| trip_graph(s, id)),
        (Method::Get, ["api", "dlq"]) => read(console, |s, _| {
            let dead: Vec<DeadLetterView> = s
                .view
                .dead_letters()?
                .into_iter()
                .map(DeadLetterView::from_message)
                .collect();
            Ok(json_response(200, &json!({ "deadLetters": dead })))
        }),
        (Method::Post, ["api", "dlq", "redrive"]) => redrive(console, &request, param("queue")),
        (_, ["api", ..]) if known_api_path(&segs) => error(405, "method not allowed"),
        (_, ["api", ..]) => error(404, &format!("no route {path}")),
        _ => secure(
            Response::from_string("not found")
                .with_status_code(StatusCode(404))
                .with_header(header("Content-Type", "text/plain; charset=utf-8")),
        ),
    };
    let _ = request.respond(response);
}

fn known_api_path(segs: &[&str]) -> bool {
    matches!(
        segs,
        ["api", "overview" | "trips" | "dlq" | "stream"]
            | ["api", "trips", _]
            | ["api", "trips", _, "graph"]
            | ["api", "dlq", "redrive"]
    )
}

fn asset(name: &str) -> Response<Cursor<Vec<u8>>> {
    match assets::get(name) {
        Some((body, content_type)) => secure(
            Response::from_data(body.as_bytes().to_vec())
                .with_header(header("Content-Type", content_type)),
        ),
        None => secure(
            Response::from_string("not found")
                .with_status_code(StatusCode(404))
                .with_header(header("Content-Type", "text/plain; charset=utf-8")),
        ),
    }
}

/// Runs a read against the store, refreshed first; a store error answers 500 with its text.
fn read(
    console: &Console,
    f: impl FnOnce(&State, i64) -> Result<Response<Cursor<Vec<u8>>>, ViewError>,
) -> Response<Cursor<Vec<u8>>> {
    let mut state = console.lock();
    let state = &mut *state;
    let result = state
        .index
        .refresh(&state.view)
        .and_then(|()| f(state, now_ms()));
    result.unwrap_or_else(|e| error(500, &e.to_string()))
}

fn counts_json(s: &State, now: i64) -> Value {
    let counts = s.index.counts(now);
    let total: usize = counts.values().sum();
    let mut m = serde_json::Map::new();
    m.insert("total".into(), total.into());
    for (state, n) in counts {
        m.insert(state.as_str().into(), n.into());
    }
    Value::Object(m)
}

fn overview(
    console: &Console,
    s: &State,
    now: i64,
) -> Result<Response<Cursor<Vec<u8>>>, ViewError> {
    let dead = s.view.dead_letter_count()?;
    Ok(json_response(
        200,
        &json!({
            "store": console.store.display().to_string(),
            "lastSeq": s.index.last_seq(),
            "counts": counts_json(s, now),
            "deadLetters": dead,
            "stuckAfterMs": crate::index::STUCK_AFTER_MS,
        }),
    ))
}

fn trips(
    s: &State,
    now: i64,
    state: Option<&str>,
    q: Option<&str>,
    limit: Option<&str>,
) -> Result<Response<Cursor<Vec<u8>>>, ViewError> {
    let wanted = match state.filter(|s| !s.is_empty() && *s != "all") {
        Some(name) => match TripState::parse(name) {
            Some(st) => Some(st),
            None => {
                return Ok(error(
                    400,
                    &format!(
                        "unknown state {name:?}: one of all, {}",
                        TripState::ALL.map(TripState::as_str).join(", ")
                    ),
                ));
            }
        },
        None => None,
    };
    let limit = match limit.map(str::parse::<usize>) {
        None => LIST_LIMIT,
        Some(Ok(n)) => n.min(LIST_LIMIT),
        Some(Err(_)) => return Ok(error(400, "limit must be a whole number")),
    };
    let needle = q.unwrap_or("").trim().to_lowercase();
    let matching: Vec<_> = s
        .index
        .summaries(now)
        .into_iter()
        .filter(|t| wanted.is_none_or(|w| t.state == w))
        .filter(|t| needle.is_empty() || t.trip_id.to_lowercase().contains(&needle))
        .collect();
    let total = matching.len();
    let trips: Vec<_> = matching.into_iter().take(limit).collect();
    Ok(json_response(
        200,
        &json!({
            "counts": counts_json(s, now),
            "matching": total,
            "trips": trips,
            "lastSeq": s.index.last_seq(),
        }),
    ))
}

fn trip_graph(s: &State, id: &str) -> Result<Response<Cursor<Vec<u8>>>, ViewError> {
    if s.index.summary(id, now_ms()).is_none() {
        return Ok(error(404, &format!("no trip {id:?} in this store")));
    }
    let machines = s.view.state_machines()?;
    let Some(arn) = s.index.machine_arn() else {
        return Ok(error(404, "no state machine in this store yet"));
    };
    let exec_arn = crate::index::execution_arn(arn, id);
    // The definition of the state machine that ran this execution, as the store keeps it.
    let machine_arn = s
        .view
        .execution(&exec_arn)?
        .map_or_else(|| arn.to_owned(), |r| r.state_machine_arn);
    let Some(machine) = machines.iter().find(|m| m.arn == machine_arn) else {
        return Ok(error(404, &format!("no state machine {machine_arn}")));
    };
    let mut g = match graph::layout(&machine.definition) {
        Ok(g) => g,
        Err(e) => return Ok(error(500, &format!("{}: {e}", machine.name))),
    };
    graph::mark(&mut g, &s.view.history(&exec_arn)?);
    Ok(json_response(
        200,
        &json!({ "stateMachine": machine.name, "stateMachineArn": machine.arn, "graph": g }),
    ))
}

fn redrive(console: &Console, request: &Request, queue: Option<&str>) -> Response<Cursor<Vec<u8>>> {
    // A browser names the page that sent a request: only the console's own may act. A
    // client that is no browser sends no Origin, and the token alone must do.
    if let Some(origin) = request_header(request, "Origin")
        && !console.origin_ok(origin)
    {
        return error(403, "cross-origin requests may not act on this console");
    }
    if !console.token_ok(request_header(request, "X-Trip-Token")) {
        return error(
            403,
            "this action needs the token `trip ui` printed (header X-Trip-Token)",
        );
    }
    // Redrive as `trip dlq redrive` does: through the runtime, which then runs the redriven
    // messages. The view's lock is held so the console reads nothing half-done meanwhile.
    let _state = console.lock();
    let run = || -> Result<Value, trip_local::RuntimeError> {
        let mut rt = trip_local::Runtime::open(trip_local::RuntimeOptions {
            store: Some(console.store.clone()),
            ..trip_local::RuntimeOptions::default()
        })?;
        let n = rt.redrive(queue)?;
        rt.run_until_idle(None, |_| true)?;
        Ok(json!({ "redriven": n, "deadLettersLeft": rt.dead_letters().len() }))
    };
    match run() {
        Ok(v) => json_response(200, &v),
        Err(e) => error(409, &format!("cannot redrive: {e}")),
    }
}

/// `GET /api/stream`: server-sent events, one `change` event (with the log's last sequence
/// number) whenever the store gains events, a comment now and then to keep the line open.
fn stream(console: &Console, request: Request) {
    if console.streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
        console.streams.fetch_sub(1, Ordering::SeqCst);
        let _ = request.respond(error(503, "too many live streams"));
        return;
    }
    let mut out = request.into_writer();
    let mut send = |text: &str| -> std::io::Result<()> {
        out.write_all(text.as_bytes())?;
        out.flush()
    };
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
                X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\nretry: 1000\n\n";
    let mut last = -1;
    let mut beat = Instant::now();
    let mut result = send(head);
    while result.is_ok() && !console.stopping.load(Ordering::SeqCst) {
        let seq = console.lock().view.last_seq();
        match seq {
            Ok(seq) if seq != last => {
                last = seq;
                beat = Instant::now();
                result = send(&format!("event: change\ndata: {{\"lastSeq\":{seq}}}\n\n"));
            }
            Ok(_) if beat.elapsed() >= KEEPALIVE => {
                beat = Instant::now();
                result = send(": keepalive\n\n");
            }
            Ok(_) => {}
            Err(e) => {
                let msg = serde_json::to_string(&e.to_string()).unwrap_or_default();
                result = send(&format!(
                    "event: store-error\ndata: {{\"error\":{msg}}}\n\n"
                ));
            }
        }
        std::thread::sleep(STREAM_TICK);
    }
    console.streams.fetch_sub(1, Ordering::SeqCst);
}
