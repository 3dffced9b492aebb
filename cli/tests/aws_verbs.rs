//! The `trip --aws` verbs against moto server on 127.0.0.1 (offline): the stack is created on
//! moto from the routing table and the state machine (trip-tests' harness), a
//! `cdk-outputs.json` naming it is written in a temp dir, and the `trip` binary runs there
//! with `AWS_ENDPOINT_URL` pointing at moto.
//!
//! Needs the `aws` feature: `cargo nextest run -p trip --features aws --test aws_verbs`.
//!
//! moto gaps met here, worked around in the tests only:
//! - moto renders FilterLogEvents timestamps as floats (`1795693597067.008`) where the API has
//!   a long, and the SDK refuses the response: `trip watch --aws` (and `book --aws`'s check for
//!   rejected trips, which reads the same API) cannot read moto's log group. The watch test
//!   accepts either the event lines (real AWS, a fixed moto) or exactly that parse error, and
//!   reads the log group over raw HTTP to prove the event is there.
//! - there is no Lambda: the test pumps the queues into the real handlers (trip-tests' poller)
//!   while `trip book --aws` runs.
//! - StartReplay ignores the time window (every archived event is replayed).
#![cfg(feature = "aws")]

use std::collections::BTreeMap;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trip_tests::moto::{Clients, MotoServer};
use trip_tests::poller::Poller;
use trip_tests::saga::{MotoSaga, sample, trip_of};
use trip_tests::stack::StackOptions;

const STACK: &str = "TripSaga";

fn sample_path(name: &str) -> String {
    format!("{}/../events/samples/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// A deployed stack on moto, and a directory whose `cdk-outputs.json` names it.
struct Deployed {
    saga: MotoSaga,
    dir: tempfile::TempDir,
    outputs: BTreeMap<String, String>,
}

impl Deployed {
    /// Bus, queues, rules (the catch-all one into a log group), tables, state machine (the
    /// product's ASL with `${EventBusName}` substituted), plus the archive the CDK app adds.
    async fn start() -> Deployed {
        let saga = MotoSaga::deploy(&StackOptions::product().expect("routing and ASL load"))
            .await
            .expect("the stack deploys on moto");
        let c = &saga.clients;
        let bus = saga.stack.bus.clone();
        let bus_arn = c
            .eventbridge
            .describe_event_bus()
            .name(&bus)
            .send()
            .await
            .expect("DescribeEventBus")
            .arn()
            .expect("bus arn")
            .to_owned();
        let archive_name = format!("{bus}-archive");
        let archive_arn = c
            .eventbridge
            .create_archive()
            .archive_name(&archive_name)
            .event_source_arn(&bus_arn)
            .event_pattern(json!({"source": [{"prefix": "trip."}]}).to_string())
            .send()
            .await
            .expect("CreateArchive")
            .archive_arn()
            .expect("archive arn")
            .to_owned();
        let mut outputs = BTreeMap::from([
            ("EventBusName".to_owned(), bus.clone()),
            ("EventBusArn".to_owned(), bus_arn),
            (
                "StateMachineArn".to_owned(),
                saga.stack.state_machine_arn.clone(),
            ),
            (
                "EventsLogGroupName".to_owned(),
                saga.stack.log_groups[0].clone(),
            ),
            ("ArchiveName".to_owned(), archive_name),
            ("ArchiveArn".to_owned(), archive_arn),
        ]);
        // Like the stack: `<Rule>RuleArn` per rule, except hotel-commands, left out so that
        // replay resolves it by name on the bus (DescribeRule).
        let routing = trip_events::routing::RoutingTable::load().expect("routing table");
        for rule in routing.rules.iter().filter(|r| r.name != "hotel-commands") {
            let arn = c
                .eventbridge
                .describe_rule()
                .name(&rule.name)
                .event_bus_name(&bus)
                .send()
                .await
                .expect("DescribeRule")
                .arn()
                .expect("rule arn")
                .to_owned();
            outputs.insert(format!("{}RuleArn", pascal(&rule.name)), arn);
        }
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::write(
            dir.path().join("cdk-outputs.json"),
            serde_json::to_string_pretty(&json!({ STACK: outputs })).expect("json"),
        )
        .expect("write cdk-outputs.json");
        Deployed { saga, dir, outputs }
    }

    fn server(&self) -> &MotoServer {
        &self.saga.server
    }

    fn clients(&self) -> &Clients {
        &self.saga.clients
    }

    fn poller(&mut self) -> &mut Poller {
        &mut self.saga.poller
    }

    fn log_group(&self) -> &str {
        &self.outputs["EventsLogGroupName"]
    }

    /// `trip <args>` in the outputs' directory, against moto, with nothing from the user's
    /// own AWS configuration.
    fn trip(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_trip"));
        cmd.args(args)
            .current_dir(self.dir.path())
            .env("AWS_ENDPOINT_URL", self.server().endpoint())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.dir.path().join("no-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.dir.path().join("no-credentials"),
            )
            .env("NO_COLOR", "1")
            .env_remove("AWS_PROFILE")
            .env_remove("AWS_SESSION_TOKEN")
            .env_remove("TRIP_CDK_OUTPUTS");
        cmd
    }

    fn run(&self, args: &[&str]) -> Output {
        self.trip(args).output().expect("trip runs")
    }

    /// `trip put-events --aws` with a sample, as profile `saga` of the AWS config file
    /// `config`, with no keys in the environment.
    fn put_as_profile(&self, config: &std::path::Path) -> Command {
        let entries = format!("file://{}", sample_path("book-trip.json"));
        let mut cmd = self.trip(&["put-events", "--aws", "--entries", &entries]);
        cmd.env_remove("AWS_ACCESS_KEY_ID")
            .env_remove("AWS_SECRET_ACCESS_KEY")
            .env("AWS_CONFIG_FILE", config)
            .env("AWS_PROFILE", "saga");
        cmd
    }

    /// Runs `trip` while the queues are pumped into the handlers (what Lambda does on AWS).
    async fn run_with_handlers(&mut self, args: &[&str]) -> Output {
        let mut child = self
            .trip(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("trip starts");
        let deadline = Instant::now() + Duration::from_secs(120);
        while child.try_wait().expect("trip's status").is_none() {
            assert!(Instant::now() < deadline, "trip did not end within 120 s");
            self.poller().pump_once().await.expect("handlers run");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        child.wait_with_output().expect("trip's output")
    }
}

fn pascal(name: &str) -> String {
    name.split('-')
        .map(|w| w[..1].to_uppercase() + &w[1..])
        .collect()
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn code(out: &Output) -> i32 {
    out.status.code().expect("exit code")
}

#[tokio::test(flavor = "multi_thread")]
async fn put_events_aws_answers_like_the_aws_cli() {
    // Given the deployed stack
    let d = Deployed::start().await;
    // When a sample is put with --entries file://, as with `aws events put-events`
    let entries = format!("file://{}", sample_path("book-trip.json"));
    let out = d.run(&["put-events", "--aws", "--entries", &entries]);
    // Then the answer has the AWS CLI's shape, and the event is on the bus (the log group)
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    let answer: Value = serde_json::from_str(&stdout).expect("JSON answer");
    assert_eq!(answer["FailedEntryCount"], 0, "{answer}");
    let entries = answer["Entries"].as_array().expect("Entries");
    assert_eq!(entries.len(), 1);
    assert!(
        entries[0]["EventId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );
    let logged = d.server().log_messages(d.log_group()).expect("log group");
    let trip = trip_of(&sample("book-trip.json"));
    assert!(
        logged
            .iter()
            .any(|m| m.contains(&trip) && m.contains("TripBookingRequested")),
        "{logged:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn put_events_aws_sends_to_the_deployed_bus_in_batches_of_ten() {
    // Given a deployed bus and 23 entries naming another bus
    let d = Deployed::start().await;
    let mut entries: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(sample_path("book-trip.json")).unwrap())
            .unwrap();
    let one = entries.remove(0);
    let many: Vec<Value> = (0..23)
        .map(|i| {
            let mut e = one.clone();
            e["EventBusName"] = json!("some-other-bus");
            let mut detail: Value = serde_json::from_str(e["Detail"].as_str().unwrap()).unwrap();
            detail["tripId"] = json!(format!("trip-batch-{i:02}"));
            e["Detail"] = json!(detail.to_string());
            e
        })
        .collect();
    let file = d.dir.path().join("many.json");
    std::fs::write(&file, serde_json::to_string(&many).unwrap()).unwrap();
    // When they are put
    let out = d.run(&[
        "put-events",
        "--aws",
        "--entries",
        &format!("file://{}", file.display()),
    ]);
    // Then all 23 land on the deployed bus (three PutEvents calls), none refused
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    let answer: Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(answer["FailedEntryCount"], 0);
    assert_eq!(answer["Entries"].as_array().unwrap().len(), 23);
    assert!(stderr.contains("deployed bus"), "{stderr}");
    let logged = d.server().log_messages(d.log_group()).unwrap();
    assert_eq!(
        logged.iter().filter(|m| m.contains("trip-batch-")).count(),
        23
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn book_aws_follows_each_saga_to_its_outcome() {
    // Given the deployed stack with its handlers running
    let mut d = Deployed::start().await;
    // When a trip is booked
    let out = d
        .run_with_handlers(&[
            "book",
            "--aws",
            &sample_path("book-trip.json"),
            "--timeout",
            "90",
        ])
        .await;
    // Then the timeline follows the execution and the trip is booked (exit 0)
    let (stdout, stderr) = text(&out);
    let trip = trip_of(&sample("book-trip.json"));
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    for expected in [
        "put 1 event(s), 0 refused",
        "ExecutionStarted",
        "TaskStateEntered",
        "HotelBookingRequested",
        "FlightBookingRequested",
        "CarBookingRequested",
        "TaskSucceeded",
        "ExecutionSucceeded",
        "BOOKED",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }
    assert!(stdout.contains(&trip));
}

#[tokio::test(flavor = "multi_thread")]
async fn book_aws_reports_a_compensated_trip() {
    // Given the deployed stack with its handlers running
    let mut d = Deployed::start().await;
    // When a trip whose car step fails is booked
    let out = d
        .run_with_handlers(&[
            "book",
            "--aws",
            &sample_path("book-trip-car-fails.json"),
            "--timeout",
            "90",
            "--json",
        ])
        .await;
    // Then it is compensated: exit 3, and the JSON says what was undone
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 3, "{stdout}\n{stderr}");
    let answer: Value = serde_json::from_str(&stdout).expect("JSON");
    let t = &answer["trips"][0];
    assert_eq!(t["status"], "FAILED", "{answer}");
    assert_eq!(t["outcome"]["outcome"], "failed", "{answer}");
    assert_eq!(t["outcome"]["failedStep"], "BookCar", "{answer}");
}

#[tokio::test(flavor = "multi_thread")]
async fn book_aws_gives_up_at_the_timeout() {
    // Given the deployed stack but no handlers (nothing answers the saga's commands)
    let d = Deployed::start().await;
    // When a trip is booked with a short timeout
    let out = d.run(&[
        "book",
        "--aws",
        &sample_path("book-trip.json"),
        "--timeout",
        "3",
    ]);
    // Then it reports the trip unfinished with the timeout's exit code
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 6, "{stdout}\n{stderr}");
    assert!(stdout.contains("NOT FINISHED"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread")]
async fn status_aws_shows_an_execution_started_directly() {
    // Given an execution started by name (as the bridge does), its hotel step answered
    // with SendTaskSuccess
    let d = Deployed::start().await;
    let entries = sample("book-trip.json");
    let trip = trip_of(&entries);
    let c = d.clients();
    c.sfn
        .start_execution()
        .state_machine_arn(&d.outputs["StateMachineArn"])
        .name(&trip)
        .input(&entries[0].detail)
        .send()
        .await
        .expect("StartExecution");
    let hotel_queue = d.saga.stack.queue("hotel").url.clone();
    let token = wait_for_task_token(c, &hotel_queue).await;
    c.sfn
        .send_task_success()
        .task_token(token)
        .output(json!({"bookingId": "HTL-1", "status": "BOOKED"}).to_string())
        .send()
        .await
        .expect("SendTaskSuccess");

    // When its status is asked
    let out = d.run(&["status", "--aws", &trip]);
    // Then it is in progress, past the hotel, waiting on the flight
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    for expected in [
        "IN PROGRESS",
        "RUNNING",
        "HotelBookingRequested",
        "TaskSucceeded",
        "FlightBookingRequested",
    ] {
        assert!(stdout.contains(expected), "no {expected:?} in:\n{stdout}");
    }

    // And --json gives the execution and every history event
    let out = d.run(&["status", "--aws", &trip, "--json"]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stderr}");
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["execution"]["status"], "RUNNING");
    assert_eq!(v["execution"]["name"], trip.as_str());
    let history = v["history"].as_array().expect("history");
    assert!(
        history
            .iter()
            .any(|h| h["type"] == "TaskSucceeded" && h["state"] == "BookHotel")
    );
    assert!(
        history
            .iter()
            .any(|h| h["detailType"] == "FlightBookingRequested")
    );

    // And --mermaid draws the hotel's command and answer
    let out = d.run(&["status", "--aws", &trip, "--mermaid"]);
    let (stdout, _) = text(&out);
    assert!(stdout.starts_with("sequenceDiagram"), "{stdout}");
    assert!(
        stdout.contains("Workflow->>Hotel: HotelBookingRequested"),
        "{stdout}"
    );
    assert!(
        stdout.contains("Hotel-->>Workflow: task succeeded"),
        "{stdout}"
    );

    // And a trip with no execution is an error that says why there may be none
    let out = d.run(&["status", "--aws", "trip-never-put"]);
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 1);
    assert!(stderr.contains("rejected"), "{stderr}");
}

/// The task token of the first command on a service's queue.
async fn wait_for_task_token(c: &Clients, queue_url: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let out = c
            .sqs
            .receive_message()
            .queue_url(queue_url)
            .wait_time_seconds(1)
            .send()
            .await
            .expect("ReceiveMessage");
        for m in out.messages() {
            let body: Value = serde_json::from_str(m.body().unwrap_or("{}")).expect("envelope");
            if let Some(t) = body["detail"]["metadata"]["taskToken"].as_str() {
                return t.to_owned();
            }
        }
        assert!(Instant::now() < deadline, "no command with a task token");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn watch_aws_reads_the_catch_all_log_group() {
    // Given a trip request on the bus
    let d = Deployed::start().await;
    let entries = sample("book-trip.json");
    let trip = trip_of(&entries);
    d.saga.put_events(&entries).await.expect("PutEvents");
    assert!(
        d.server()
            .log_messages(d.log_group())
            .unwrap()
            .iter()
            .any(|m| m.contains(&trip)),
        "the catch-all rule logs the event"
    );
    // When the log group is watched for that trip
    let out = d.run(&["watch", "--aws", "--trip", &trip, "--since", "1d"]);
    let (stdout, stderr) = text(&out);
    // Then the event is printed like the local watch — or, on moto 5.2, FilterLogEvents'
    // float timestamps are refused by the SDK (a moto gap, not worked around in the product).
    if code(&out) == 0 {
        assert!(stdout.contains(&trip), "{stdout}");
        assert!(stdout.contains("TripBookingRequested"), "{stdout}");
    } else {
        assert_eq!(code(&out), 1, "{stdout}\n{stderr}");
        assert!(
            stderr.contains("FilterLogEvents") && stderr.contains("invalid number"),
            "not moto's known float-timestamp gap:\n{stderr}"
        );
        eprintln!("moto gap: FilterLogEvents timestamps are floats, the SDK refuses them");
    }

    // Work-around for that gap, in the test only: the same envelopes EventBridge delivered,
    // written with PutLogEvents (whole-millisecond timestamps, which moto returns as such) into
    // a second group, plus another trip's event, and watched there.
    let group = "/aws/events/watch-test";
    let logs = &d.clients().logs;
    logs.create_log_group()
        .log_group_name(group)
        .send()
        .await
        .unwrap();
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name("s")
        .send()
        .await
        .unwrap();
    let mut messages = d.server().log_messages(d.log_group()).unwrap();
    let other = messages[0].replace(&trip, "trip-other-0001");
    messages.push(other);
    messages.push("not an envelope".to_owned());
    let now = chrono::Utc::now().timestamp_millis();
    let events: Vec<_> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| {
            aws_sdk_cloudwatchlogs::types::InputLogEvent::builder()
                .timestamp(now - 1_000 + i as i64)
                .message(m)
                .build()
                .unwrap()
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("s")
        .set_log_events(Some(events))
        .send()
        .await
        .unwrap();

    // When every trip is watched: grouped by trip, like the local watch
    let out = d.run(&["watch", "--aws", "--log-group", group]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    let first = stdout.find(&trip).expect("the trip's group");
    let second = stdout
        .find("trip-other-0001")
        .expect("the other trip's group");
    assert!(first < second, "{stdout}");
    assert_eq!(
        stdout.matches("TripBookingRequested").count(),
        2,
        "{stdout}"
    );
    assert!(stdout.contains("trip.client"), "{stdout}");

    // When one trip is followed until idle (moto ignores the filter pattern: the CLI filters too)
    let out = d.run(&[
        "watch",
        "--aws",
        "--log-group",
        group,
        "--trip",
        &trip,
        "--follow",
        "--idle-exit",
        "2",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    assert_eq!(stdout.lines().count(), 1, "{stdout}");
    assert!(
        stdout.contains(&trip) && !stdout.contains("trip-other-0001"),
        "{stdout}"
    );

    // And --json prints the envelopes, one per line
    let out = d.run(&["watch", "--aws", "--log-group", group, "--json"]);
    let (stdout, _) = text(&out);
    let envelopes: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("an envelope per line"))
        .collect();
    assert_eq!(envelopes.len(), 2);
    assert_eq!(envelopes[0]["detail-type"], "TripBookingRequested");
}

#[tokio::test(flavor = "multi_thread")]
async fn replay_aws_replays_the_archive_to_the_chosen_rules() {
    // Given an archived event
    let d = Deployed::start().await;
    let entries = sample("book-trip.json");
    let trip = trip_of(&entries);
    d.saga.put_events(&entries).await.expect("PutEvents");
    let count = |d: &Deployed| {
        d.server()
            .log_messages(d.log_group())
            .unwrap()
            .iter()
            .filter(|m| m.contains(&trip))
            .count()
    };
    assert_eq!(count(&d), 1);
    let to = chrono::Utc::now() + chrono::Duration::hours(1);
    let to = to.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);

    // When it is replayed to the catch-all rule only (its ARN from the outputs)
    let out = d.run(&[
        "replay",
        "--aws",
        "--from",
        "2020-01-01T00:00:00Z",
        "--to",
        &to,
        "--rule",
        "catch-all-log",
        "--json",
    ]);
    // Then the replay completes, aimed at that rule, and the event is logged again
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(v["State"], "COMPLETED", "{v}");
    assert!(
        v["ReplayName"]
            .as_str()
            .unwrap()
            .starts_with("trip-replay-")
    );
    assert_eq!(
        v["Destination"]["FilterArns"],
        json!([d.outputs["CatchAllLogRuleArn"]])
    );
    assert_eq!(v["Destination"]["Arn"], d.outputs["EventBusArn"].as_str());
    assert_eq!(count(&d), 2, "the replayed event reaches the log group");

    // When a rule missing from the outputs is named, it is found on the bus by name
    let out = d.run(&[
        "replay",
        "--aws",
        "--from",
        "2020-01-01T00:00:00Z",
        "--to",
        &to,
        "--rule",
        "hotel-commands",
        "--no-wait",
        "--json",
    ]);
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    let v: Value = serde_json::from_str(&stdout).expect("JSON");
    let arn = v["Destination"]["FilterArns"][0]
        .as_str()
        .unwrap_or_default();
    assert!(arn.ends_with("/hotel-commands"), "{v}");

    // And an unknown rule is an error, no replay started
    let out = d.run(&[
        "replay",
        "--aws",
        "--from",
        "2020-01-01T00:00:00Z",
        "--to",
        &to,
        "--rule",
        "nope",
    ]);
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 1);
    assert!(stderr.contains("no rule \"nope\""), "{stderr}");
}

#[test]
fn aws_verbs_name_what_is_missing_from_the_outputs() {
    // Given no cdk-outputs.json (no server needed: nothing is called)
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_trip"))
            .args(args)
            .current_dir(dir.path())
            .env("AWS_REGION", "us-east-1")
            .env("AWS_ACCESS_KEY_ID", "testing")
            .env("AWS_SECRET_ACCESS_KEY", "testing")
            .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
            .env_remove("TRIP_CDK_OUTPUTS")
            .output()
            .unwrap()
    };
    // Then each verb says which file or flag it needs
    let out = run(&["status", "--aws", "T"]);
    let (_, stderr) = text(&out);
    assert_eq!(code(&out), 1);
    assert!(
        stderr.contains("cdk-outputs.json") && stderr.contains("--state-machine-arn"),
        "{stderr}"
    );
    let out = run(&["watch", "--aws", "--outputs", "missing.json"]);
    let (_, stderr) = text(&out);
    assert!(
        stderr.contains("missing.json") && stderr.contains("--log-group"),
        "{stderr}"
    );
    // And verbs without an AWS form do not take --aws (a usage error, as for any unknown flag)
    let out = run(&["resume", "--aws"]);
    assert_eq!(code(&out), 2);
    assert!(
        text(&out).1.contains("unexpected argument '--aws'"),
        "{}",
        text(&out).1
    );
}

/// A profile whose credentials come from `credential_process` (as with many SSO helpers and
/// vaults) works: the process runs, and its keys sign the calls.
#[tokio::test(flavor = "multi_thread")]
async fn aws_verbs_take_credentials_from_a_credential_process_profile() {
    let d = Deployed::start().await;
    let dir = d.dir.path();
    let marker = dir.join("credential-process-ran");
    let script = dir.join("credentials.sh");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\ntouch '{}'\necho '{{\"Version\": 1, \"AccessKeyId\": \"AKIDFROMPROCESS\", \"SecretAccessKey\": \"secret\"}}'\n",
            marker.display()
        ),
    )
    .unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let config = dir.join("profile-config");
    std::fs::write(
        &config,
        format!(
            "[profile saga]\nregion = us-east-1\ncredential_process = {}\n",
            script.display()
        ),
    )
    .unwrap();
    let out = d.put_as_profile(&config).output().expect("trip runs");
    let (stdout, stderr) = text(&out);
    assert_eq!(code(&out), 0, "{stdout}\n{stderr}");
    assert!(marker.exists(), "the credential process ran");
    let answer: Value = serde_json::from_str(&stdout).expect("JSON answer");
    assert_eq!(answer["FailedEntryCount"], 0, "{answer}");
}

/// An SSO profile (`aws configure sso`) is understood: without a cached token from
/// `aws sso login` the error says so, rather than that this build cannot do SSO.
#[tokio::test(flavor = "multi_thread")]
async fn aws_verbs_understand_sso_profiles() {
    let d = Deployed::start().await;
    let dir = d.dir.path();
    let config = dir.join("sso-config");
    std::fs::write(
        &config,
        "[profile saga]\nsso_session = corp\nsso_account_id = 123456789012\nsso_role_name = Developer\nregion = us-east-1\n\n[sso-session corp]\nsso_start_url = https://corp.awsapps.com/start\nsso_region = us-east-1\n",
    )
    .unwrap();
    let out = d
        .put_as_profile(&config)
        // No cached SSO token anywhere.
        .env("HOME", dir)
        .output()
        .expect("trip runs");
    let (stdout, stderr) = text(&out);
    assert_ne!(code(&out), 0, "no token, no credentials: {stdout}");
    assert!(
        !stderr.contains("cargo feature"),
        "this build has the SSO provider: {stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("sso"),
        "the error names SSO: {stderr}"
    );
}
