//! `trip`: book trips through the saga, watch its events, inspect and replay it — on one
//! machine with no AWS (the embedded runtime, the default).

mod aws;
mod commands;
mod graph;
mod history;
mod interrupt;
mod output;
mod sources;
mod timeline;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::output::Output;

// The runtime allocates many small JSON values per saga; mimalloc handles that pattern markedly
// better than glibc's allocator (see BENCHMARKS.md).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Exit codes, documented in the README.
pub mod exit {
    /// Every trip was booked (or the command did what it was asked).
    pub const OK: u8 = 0;
    /// An error: unreadable input, a store that cannot be opened, ...
    pub const ERROR: u8 = 1;
    /// Bad command-line usage (clap's own code).
    pub const USAGE: u8 = 2;
    /// At least one trip failed and was compensated (`TripBookingFailed`).
    pub const TRIP_FAILED: u8 = 3;
    /// At least one trip was rejected (`TripBookingRejected`) or an entry was refused.
    pub const REJECTED: u8 = 4;
    /// A saga invariant does not hold.
    pub const INVARIANT: u8 = 5;
    /// A trip did not finish within `--timeout`.
    pub const TIMEOUT: u8 = 6;
    /// Ctrl-C stopped `trip book` or `trip resume` with sagas in flight (128 + SIGINT, as a
    /// shell reports it).
    pub const INTERRUPTED: u8 = 130;
}

#[derive(Parser)]
#[command(
    name = "trip",
    version,
    about = "Book trips through the saga (hotel, flight, car) and watch it work",
    long_about = "Book trips through the trip saga — hotel, then flight, then car, each with a \
                  compensating cancel — on this machine with no AWS: the embedded runtime runs \
                  the real handlers, the real state machine (workflow/trip-saga.asl.json) and \
                  the real routing table (events/routing.json), with a durable store.",
    after_help = "Exit codes: 0 ok · 1 error · 2 usage · 3 a trip failed (compensated) · \
                  4 rejected · 5 invariant violated · 6 timeout · 130 interrupted"
)]
struct Cli {
    /// The embedded runtime's store file (SQLite).
    #[arg(
        long,
        global = true,
        env = "TRIP_STORE",
        default_value = ".trip/trip.db"
    )]
    store: PathBuf,
    /// How hard each commit holds on: `full` fsyncs the store's log at every commit (a
    /// committed step survives a power loss or OS crash); `normal` survives the process
    /// crashing only, and is faster on slow disks.
    #[arg(long, global = true, env = "TRIP_DURABILITY", default_value_t = trip_local::Durability::Full)]
    durability: trip_local::Durability,
    /// Keep everything in memory (nothing survives the command).
    #[arg(long, global = true)]
    memory: bool,
    /// Machine-readable JSON output.
    #[arg(long, global = true)]
    json: bool,
    /// No colours (NO_COLOR is respected too).
    #[arg(long, global = true)]
    no_color: bool,
    /// The saga's state machine (ASL JSON) [default: workflow/trip-saga.asl.json of the
    /// checkout trip runs in, else the built-in copy].
    #[arg(long, global = true, value_name = "FILE", env = "TRIP_DEFINITION")]
    definition: Option<PathBuf>,
    /// The routing table [default: events/routing.json of the checkout trip runs in, else
    /// the built-in copy].
    #[arg(long, global = true, value_name = "FILE", env = "TRIP_ROUTING")]
    routing: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Put trip requests on the bus and wait for each saga's outcome, with a live timeline.
    Book(commands::book::BookArgs),
    /// PutEvents like the AWS CLI (`--entries file://...`), then let the sagas run.
    PutEvents(commands::book::PutEventsArgs),
    /// The events, coloured and grouped by trip (run it beside `trip book`).
    Watch(commands::watch::WatchArgs),
    /// A saga's state: outcome, bookings, events and execution history.
    Status(commands::status::StatusArgs),
    /// Every trip in the store with its outcome, like `aws stepfunctions list-executions`.
    List(commands::list::ListArgs),
    /// The built-in inventory: which hotels, flights and cars exist, with their capacities.
    Inventory(commands::inventory::InventoryArgs),
    /// Empty the store: every trip, booking, message and event.
    Reset(commands::reset::ResetArgs),
    /// Dead-letter queues: list what is in them, or redrive it.
    Dlq(commands::dlq::DlqArgs),
    /// Test an event pattern against an event, like `aws events test-event-pattern`.
    TestEventPattern(commands::pattern::TestEventPatternArgs),
    /// Run Amazon States Language definitions locally.
    States(commands::states::StatesArgs),
    /// Export the event log as JSON Lines (what the CloudWatch catch-all log group holds).
    Export(commands::export::ExportArgs),
    /// Replay an event log (from `trip export` or CloudWatch) into the runtime and check it.
    Replay(commands::export::ReplayArgs),
    /// Finish whatever is in flight in the store (after a crash), then check the invariants.
    Resume(commands::book::ResumeArgs),
    /// Seeded simulation: many generated sagas under injected faults, invariants checked.
    Simulate(commands::simulate::SimulateArgs),
    /// Completed sagas per second and saga latency of the embedded runtime (durable unless --memory).
    Bench(commands::bench::BenchArgs),
    /// Dollars per million trips on AWS, priced from what sagas do in the embedded runtime.
    Cost(commands::cost::CostArgs),
    /// A local web console: trips, each saga's graph, events, history and dead letters.
    Ui(commands::ui::UiArgs),
}

impl Command {
    /// The `--aws` switches of a verb that takes them.
    pub fn aws_args(&self) -> Option<&aws::AwsArgs> {
        match self {
            Command::Book(a) => Some(&a.aws),
            Command::PutEvents(a) => Some(&a.aws),
            Command::Watch(a) => Some(&a.aws),
            Command::Status(a) => Some(&a.aws),
            Command::Replay(a) => Some(&a.aws),
            _ => None,
        }
    }
}

pub struct Ctx {
    pub store: Option<PathBuf>,
    /// Whether `--store` was given on the command line (not defaulted, not from TRIP_STORE).
    pub store_given: bool,
    pub durability: trip_local::Durability,
    pub out: Output,
    pub definition: Option<PathBuf>,
    pub routing: Option<PathBuf>,
}

impl Ctx {
    /// The state machine and routing table this command runs (see [`sources`]).
    pub fn sources(&self) -> anyhow::Result<sources::Sources> {
        sources::resolve(self.definition.as_deref(), self.routing.as_deref())
    }
}

fn main() -> ExitCode {
    // Like any Unix filter: `trip watch | head` ends quietly when the reader goes away,
    // instead of failing on a broken pipe.
    #[cfg(unix)]
    // SAFETY: restoring the default disposition of SIGPIPE before any thread starts.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    // `--no-color` and NO_COLOR reach clap's own messages (usage errors, help) too.
    let no_color = std::env::args_os().any(|a| a == "--no-color")
        || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    let mut command = <Cli as clap::CommandFactory>::command();
    if no_color {
        command = command.color(clap::ColorChoice::Never);
    }
    let matches = command.get_matches();
    let store_given = matches
        .value_source("store")
        .is_some_and(|s| s == clap::parser::ValueSource::CommandLine);
    let cli =
        <Cli as clap::FromArgMatches>::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    let ctx = Ctx {
        store: (!cli.memory).then_some(cli.store),
        store_given,
        durability: cli.durability,
        out: Output::new(cli.no_color, cli.json),
        definition: cli.definition,
        routing: cli.routing,
    };
    if let Some(aws) = cli.command.aws_args().filter(|a| a.aws).cloned() {
        return aws::main(&ctx, &aws, cli.command);
    }
    let result = match cli.command {
        Command::Book(a) => commands::book::book(&ctx, a),
        Command::PutEvents(a) => commands::book::put_events(&ctx, a),
        Command::Resume(a) => commands::book::resume(&ctx, a),
        Command::Watch(a) => commands::watch::watch(&ctx, a),
        Command::Status(a) => commands::status::status(&ctx, a),
        Command::List(a) => commands::list::list(&ctx, a),
        Command::Inventory(a) => commands::inventory::inventory(&ctx, a),
        Command::Reset(a) => commands::reset::reset(&ctx, a),
        Command::Dlq(a) => commands::dlq::dlq(&ctx, a),
        Command::TestEventPattern(a) => commands::pattern::test_event_pattern(&ctx, a),
        Command::States(a) => commands::states::states(&ctx, a),
        Command::Export(a) => commands::export::export(&ctx, a),
        Command::Replay(a) => commands::export::replay(&ctx, a),
        Command::Bench(a) => commands::bench::bench(&ctx, a),
        Command::Cost(a) => commands::cost::cost(&ctx, a),
        Command::Simulate(a) => commands::simulate::simulate(&ctx, a),
        Command::Ui(a) => commands::ui::ui(&ctx, a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!(
                "{} {}",
                ctx.out.bad("error:"),
                crate::output::error_text(&e)
            );
            ExitCode::from(exit::ERROR)
        }
    }
}
