//! `trip --aws`: the same verbs against the stack `cdk deploy` created, found through the
//! `cdk-outputs.json` it wrote (or explicit flags). Credentials and region come from the
//! standard AWS chain; `AWS_ENDPOINT_URL` is honoured (the tests point it at moto).
//!
//! The SDK is behind the cargo feature `aws`, off by default, so the local mode builds fast;
//! without it `--aws` says how to rebuild.

#[cfg(feature = "aws")]
mod book;
#[cfg(feature = "aws")]
mod history;
#[cfg(feature = "aws")]
mod outputs;
#[cfg(feature = "aws")]
mod replay;
#[cfg(feature = "aws")]
mod status;
#[cfg(feature = "aws")]
mod watch;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

#[cfg(feature = "aws")]
pub use outputs::{Deployed, pascal};

use crate::{Command, Ctx, exit};

/// The `--aws` switches, on the verbs that take them (book, put-events, watch, status, replay).
#[derive(Args, Debug, Clone)]
#[command(next_help_heading = "AWS (--aws, needs a build with `--features aws`)")]
pub struct AwsArgs {
    /// Run against the stack deployed by `cdk deploy` instead of the embedded runtime.
    #[arg(long)]
    pub aws: bool,
    /// The stack outputs written by `cdk deploy --outputs-file cdk-outputs.json`.
    #[arg(
        long,
        value_name = "FILE",
        env = "TRIP_CDK_OUTPUTS",
        default_value = "cdk-outputs.json"
    )]
    pub outputs: PathBuf,
    /// The stack to read in the outputs file (default: the first one).
    #[arg(long, value_name = "NAME")]
    pub stack: Option<String>,
    /// The event bus (overrides the outputs' EventBusName).
    #[arg(long, value_name = "NAME")]
    pub event_bus: Option<String>,
    /// The saga's state machine (overrides the outputs' StateMachineArn).
    #[arg(long, value_name = "ARN")]
    pub state_machine_arn: Option<String>,
    /// The catch-all events log group (overrides the outputs' EventsLogGroupName).
    #[arg(long, value_name = "NAME")]
    pub log_group: Option<String>,
    /// The events archive (overrides the outputs' ArchiveArn).
    #[arg(long, value_name = "ARN")]
    pub archive_arn: Option<String>,
    /// The AWS profile to use, as the AWS CLI's `--profile` (default: AWS_PROFILE, then
    /// `default`).
    #[arg(long, value_name = "NAME")]
    pub profile: Option<String>,
    /// The AWS region, as the AWS CLI's `--region` (default: AWS_REGION, then the profile's).
    #[arg(long, value_name = "REGION")]
    pub region: Option<String>,
}

/// Runs `command` against AWS and turns the result into the process's exit code.
pub fn main(ctx: &Ctx, args: &AwsArgs, command: Command) -> ExitCode {
    match run(ctx, args, command) {
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

#[cfg(not(feature = "aws"))]
fn run(_ctx: &Ctx, _args: &AwsArgs, _command: Command) -> anyhow::Result<u8> {
    anyhow::bail!(
        "this trip was built without AWS support: rebuild with the `aws` feature, e.g. \
         `cargo run --features aws -- <verb> --aws ...` (or `cargo install --path cli --features aws`)"
    )
}

#[cfg(feature = "aws")]
fn run(ctx: &Ctx, args: &AwsArgs, command: Command) -> anyhow::Result<u8> {
    let deployed = Deployed::load(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest());
        if let Some(p) = &args.profile {
            loader = loader.profile_name(p);
        }
        if let Some(r) = &args.region {
            loader = loader.region(aws_config::Region::new(r.clone()));
        }
        let config = loader.load().await;
        let aws = Aws {
            events: aws_sdk_eventbridge::Client::new(&config),
            sfn: aws_sdk_sfn::Client::new(&config),
            logs: aws_sdk_cloudwatchlogs::Client::new(&config),
            deployed,
        };
        match command {
            Command::Book(a) => book::book(ctx, &aws, a).await,
            Command::PutEvents(a) => book::put_events(ctx, &aws, a).await,
            Command::Watch(a) => watch::watch(ctx, &aws, a).await,
            Command::Status(a) => status::status(ctx, &aws, a).await,
            Command::Replay(a) => replay::replay(ctx, &aws, a).await,
            _ => anyhow::bail!(
                "--aws works with book, put-events, watch, status and replay; \
                 run this command without --aws (it uses the embedded runtime)"
            ),
        }
    })
}

/// The SDK clients and the deployed stack's names.
#[cfg(feature = "aws")]
pub struct Aws {
    pub events: aws_sdk_eventbridge::Client,
    pub sfn: aws_sdk_sfn::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    pub deployed: Deployed,
}

/// The execution the bridge starts for a trip: named after the trip id.
#[cfg(feature = "aws")]
pub fn execution_arn(state_machine_arn: &str, trip_id: &str) -> String {
    format!(
        "{}:{trip_id}",
        state_machine_arn.replacen(":stateMachine:", ":execution:", 1)
    )
}

/// An SDK error as one line: the service's error code and message, or what went wrong on
/// the way (no connection, a response that does not parse, ...).
#[cfg(feature = "aws")]
pub fn sdk_error<E, R>(e: aws_sdk_sfn::error::SdkError<E, R>) -> anyhow::Error
where
    E: aws_sdk_sfn::error::ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug + Send + Sync + 'static,
{
    use aws_sdk_sfn::error::DisplayErrorContext;
    match e.as_service_error() {
        Some(s) if s.code().is_some() => anyhow::anyhow!(
            "{}: {}",
            s.code().unwrap_or_default(),
            s.message().unwrap_or("(no message)")
        ),
        // A response the SDK cannot read, no connection, ...: the whole chain says why.
        _ => anyhow::anyhow!("{}", DisplayErrorContext(e)),
    }
}

#[cfg(all(test, feature = "aws"))]
mod tests {
    use super::*;

    #[test]
    fn execution_arn_is_named_after_the_trip() {
        assert_eq!(
            execution_arn(
                "arn:aws:states:us-east-1:123456789012:stateMachine:trip-saga",
                "T-1"
            ),
            "arn:aws:states:us-east-1:123456789012:execution:trip-saga:T-1"
        );
    }
}

#[cfg(all(test, not(feature = "aws")))]
mod without_the_feature {
    use super::*;
    use crate::output::Output;

    #[test]
    fn aws_says_how_to_rebuild() {
        let ctx = Ctx {
            store: None,
            store_given: false,
            durability: trip_local::Durability::default(),
            out: Output {
                color: false,
                json: false,
            },
            definition: None,
            routing: None,
        };
        let args = <crate::Cli as clap::Parser>::parse_from(["trip", "status", "--aws", "T"]);
        let aws = args.command.aws_args().cloned().unwrap();
        assert!(aws.aws);
        let err = run(&ctx, &aws, args.command).unwrap_err().to_string();
        assert!(err.contains("cargo run --features aws"), "{err}");
        assert!(
            err.contains("cargo install --path cli --features aws"),
            "{err}"
        );
    }
}
