//! A moto server (PyPI `moto[server]`, pinned in `requirements-dev.txt`) as an independent AWS
//! API emulator on 127.0.0.1, started by the test that needs it and stopped when dropped.
//!
//! Each [`MotoServer`] is its own process on its own port, so tests never share state and run
//! the same under `cargo test` (threads) and `cargo nextest` (one process per test).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_config::BehaviorVersion;
use aws_config::Region;

/// How long a server may take to answer its first request.
const READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Ports tried before giving up (another process may grab the one we picked).
const START_ATTEMPTS: usize = 5;

/// How to install moto, for the failure message.
pub const INSTALL_HINT: &str = "moto_server was not found on PATH nor at \
    $CARGO_MANIFEST_DIR/../.venv/bin/moto_server. The conformance tests need it: run \
    `scripts/test.sh` (it installs it), or `python3 -m venv .venv && \
    .venv/bin/pip install -r requirements-dev.txt` at the repository root.";

/// A running moto server. Dropping it kills the server's whole process group.
#[derive(Debug)]
pub struct MotoServer {
    child: Child,
    port: u16,
}

/// Where `moto_server` is: on PATH, or in the repository's `.venv`.
pub fn find_moto_server() -> Option<PathBuf> {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/moto_server");
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file())
    });
    on_path.or_else(|| venv.is_file().then_some(venv))
}

fn free_port() -> std::io::Result<u16> {
    // Bind port 0, read the port, release it: moto binds it right after (a race we retry).
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

impl MotoServer {
    /// Starts a server with the Step Functions interpreter turned on.
    ///
    /// Panics (with how to install moto) when `moto_server` cannot be found: the conformance
    /// suite fails rather than skipping silently.
    pub fn start() -> MotoServer {
        let Some(program) = find_moto_server() else {
            panic!("{INSTALL_HINT}");
        };
        let mut last_error = String::new();
        for _ in 0..START_ATTEMPTS {
            match Self::start_on(&program) {
                Ok(server) => return server,
                Err(e) => last_error = e,
            }
        }
        panic!("moto server did not start after {START_ATTEMPTS} attempts: {last_error}");
    }

    fn start_on(program: &PathBuf) -> Result<MotoServer, String> {
        let port = free_port().map_err(|e| format!("no free port: {e}"))?;
        // A watchdog shell owns the server: if the test process dies without running Drop
        // (SIGKILL, abort), the shell notices within a second and kills moto, so no server
        // outlives its test. MOTO_PORT must equal the port: moto's Step Functions interpreter
        // calls EventBridge, SQS and DynamoDB back on localhost:$MOTO_PORT.
        let script = r#""$1" -H 127.0.0.1 -p "$2" & m=$!
trap 'kill $m 2>/dev/null; exit 0' TERM INT
while kill -0 "$3" 2>/dev/null && kill -0 $m 2>/dev/null; do sleep 1; done
kill $m 2>/dev/null"#;
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(script)
            .arg("moto-watchdog")
            .arg(program)
            .arg(port.to_string())
            .arg(std::process::id().to_string())
            .env("MOTO_PORT", port.to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(if std::env::var_os("TRIP_MOTO_LOG").is_some() {
                Stdio::inherit()
            } else {
                Stdio::null()
            });
        {
            use std::os::unix::process::CommandExt;
            // Its own process group, so Drop can kill the shell and moto together.
            command.process_group(0);
        }
        let child = command
            .spawn()
            .map_err(|e| format!("cannot run {}: {e}", program.display()))?;
        let mut server = MotoServer { child, port };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            if let Ok(Some(status)) = server.child.try_wait() {
                return Err(format!(
                    "moto server exited early ({status}) on port {port}"
                ));
            }
            // Accepting connections means serving: the config call below is the first request.
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            if Instant::now() > deadline {
                return Err(format!("moto server not ready on port {port} after 20 s"));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        server.enable_step_functions()?;
        Ok(server)
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Turns on moto's Step Functions interpreter (off by default: executions would stay
    /// RUNNING without doing anything).
    fn enable_step_functions(&self) -> Result<(), String> {
        let (status, body) = self
            .request(
                "POST",
                "/moto-api/config",
                r#"{"stepfunctions":{"execute_state_machine":true}}"#,
            )
            .map_err(|e| format!("cannot configure moto: {e}"))?;
        if !(200..300).contains(&status) {
            return Err(format!("moto config answered {status}: {body}"));
        }
        Ok(())
    }

    /// Forgets every resource (`POST /moto-api/reset`), keeping the interpreter on.
    pub fn reset(&self) {
        let (status, body) = self
            .request("POST", "/moto-api/reset", "")
            .expect("moto reset");
        assert!((200..300).contains(&status), "moto reset: {status} {body}");
        self.enable_step_functions()
            .expect("moto config after reset");
    }

    /// One HTTP/1.1 request to the server's own API (no HTTP client needed for three calls).
    pub fn request(&self, method: &str, path: &str, body: &str) -> std::io::Result<(u16, String)> {
        self.request_with(method, path, &[("Content-Type", "application/json")], body)
    }

    /// [`MotoServer::request`] with headers of one's own.
    pub fn request_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        let headers: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n{headers}\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.port,
            body.len()
        )?;
        let mut response = String::new();
        stream.read_to_string(&mut response)?;
        let status = response
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_owned())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Every message of a log group, oldest first, through `FilterLogEvents`.
    ///
    /// Read over raw HTTP rather than with aws-sdk-cloudwatchlogs: moto 5.2 renders an event's
    /// `timestamp` as a float (`1795693597067.008`) where the API has a long, and the SDK
    /// refuses the response ("invalid number"). A harness work-around, not a product change.
    pub fn log_messages(&self, group: &str) -> Result<Vec<String>, String> {
        let mut messages = Vec::new();
        let mut token = serde_json::Value::Null;
        loop {
            let body = serde_json::json!({"logGroupName": group, "nextToken": token});
            let (status, text) = self
                .request_with(
                    "POST",
                    "/",
                    &[
                        ("Content-Type", "application/x-amz-json-1.1"),
                        ("X-Amz-Target", "Logs_20140328.FilterLogEvents"),
                        (
                            "Authorization",
                            "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/logs/aws4_request, SignedHeaders=host, Signature=0",
                        ),
                    ],
                    &body.to_string(),
                )
                .map_err(|e| format!("FilterLogEvents: {e}"))?;
            if status != 200 {
                return Err(format!("FilterLogEvents answered {status}: {text}"));
            }
            let page: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| format!("FilterLogEvents: {e}: {text}"))?;
            let events = page["events"].as_array().cloned().unwrap_or_default();
            messages.extend(
                events
                    .iter()
                    .filter_map(|e| e["message"].as_str().map(str::to_owned)),
            );
            match &page["nextToken"] {
                serde_json::Value::String(t) if !events.is_empty() => token = t.clone().into(),
                _ => return Ok(messages),
            }
        }
    }

    /// An SDK configuration pointed at this server: region us-east-1, static dummy keys.
    pub async fn sdk_config(&self) -> aws_config::SdkConfig {
        aws_config::defaults(BehaviorVersion::latest())
            .endpoint_url(self.endpoint())
            .region(Region::new("us-east-1"))
            .credentials_provider(aws_sdk_sqs::config::Credentials::new(
                "testing", "testing", None, None, "moto",
            ))
            .load()
            .await
    }

    /// Every client the harness uses.
    pub async fn clients(&self) -> Clients {
        let config = self.sdk_config().await;
        Clients {
            dynamodb: aws_sdk_dynamodb::Client::new(&config),
            eventbridge: aws_sdk_eventbridge::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            sqs: aws_sdk_sqs::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        // The whole group: the watchdog shell and moto (and anything moto forked).
        let pgid = self.child.id();
        let _ = Command::new("kill")
            .args(["-KILL", "--", &format!("-{pgid}")])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The SDK clients of one server.
#[derive(Debug, Clone)]
pub struct Clients {
    pub dynamodb: aws_sdk_dynamodb::Client,
    pub eventbridge: aws_sdk_eventbridge::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub sqs: aws_sdk_sqs::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
}
