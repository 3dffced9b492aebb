//! The saga workflow on Step Functions.

use aws_sdk_sfn::Client;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::operation::describe_execution::DescribeExecutionError;
use aws_sdk_sfn::operation::send_task_failure::SendTaskFailureError;
use aws_sdk_sfn::operation::send_task_success::SendTaskSuccessError;
use aws_sdk_sfn::operation::start_execution::StartExecutionError;

use super::aws_error::map_sdk_error;
use crate::error::Error;
use crate::ports::{ExecutionState, ExecutionSummary, SagaWorkflow, StartOutcome};

/// Codes of a callback whose task no longer waits.
pub const STALE_TOKEN_CODES: &[&str] = &["TaskTimedOut", "InvalidToken", "TaskDoesNotExist"];

/// One state machine.
#[derive(Debug, Clone)]
pub struct StepFunctionsWorkflow {
    client: Client,
    state_machine_arn: String,
}

impl StepFunctionsWorkflow {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        StepFunctionsWorkflow {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }

    /// The ARN of this state machine's execution `name`: `arn:<partition>:states:<region>:
    /// <account>:execution:<stateMachineName>:<name>`.
    pub fn execution_arn(&self, name: &str) -> String {
        format!(
            "{}:{name}",
            self.state_machine_arn
                .replacen(":stateMachine:", ":execution:", 1)
        )
    }

    /// The state machine named by `STATE_MACHINE_ARN`.
    pub fn from_env(client: Client) -> Result<Self, Error> {
        let arn = std::env::var("STATE_MACHINE_ARN")
            .map_err(|_| Error::Config("STATE_MACHINE_ARN is not set".into()))?;
        Ok(Self::new(client, arn))
    }
}

type SdkError<E> = aws_sdk_sfn::error::SdkError<E, aws_sdk_sfn::config::http::HttpResponse>;

/// A stale token, told by the modeled error (`stale`) or, failing that, by its code.
fn callback_error<E>(operation: &str, err: &SdkError<E>, stale: Option<&'static str>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match (stale, err.code()) {
        (Some(code), _) => Error::StaleToken(code.to_owned()),
        (None, Some(code)) if STALE_TOKEN_CODES.contains(&code) => {
            Error::StaleToken(code.to_owned())
        }
        _ => map_sdk_error(operation, err),
    }
}

fn stale_success(err: &SdkError<SendTaskSuccessError>) -> Option<&'static str> {
    match err.as_service_error()? {
        SendTaskSuccessError::TaskTimedOut(_) => Some("TaskTimedOut"),
        SendTaskSuccessError::InvalidToken(_) => Some("InvalidToken"),
        SendTaskSuccessError::TaskDoesNotExist(_) => Some("TaskDoesNotExist"),
        _ => None,
    }
}

fn stale_failure(err: &SdkError<SendTaskFailureError>) -> Option<&'static str> {
    match err.as_service_error()? {
        SendTaskFailureError::TaskTimedOut(_) => Some("TaskTimedOut"),
        SendTaskFailureError::InvalidToken(_) => Some("InvalidToken"),
        SendTaskFailureError::TaskDoesNotExist(_) => Some("TaskDoesNotExist"),
        _ => None,
    }
}

impl SagaWorkflow for StepFunctionsWorkflow {
    async fn start_execution(&self, name: &str, input: &str) -> Result<StartOutcome, Error> {
        match self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name)
            .input(input)
            .send()
            .await
        {
            Ok(_) => Ok(StartOutcome::Started),
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(StartExecutionError::ExecutionAlreadyExists(_))
                ) || err.code() == Some("ExecutionAlreadyExists") =>
            {
                Ok(StartOutcome::AlreadyExists)
            }
            Err(err) => Err(map_sdk_error("StartExecution", &err)),
        }
    }

    /// `DescribeExecution` (IAM: `states:DescribeExecution` on the state machine's executions).
    async fn describe_execution(&self, name: &str) -> Result<Option<ExecutionSummary>, Error> {
        match self
            .client
            .describe_execution()
            .execution_arn(self.execution_arn(name))
            .send()
            .await
        {
            Ok(out) => {
                let state =
                    ExecutionState::parse(out.status().as_str()).ok_or_else(|| Error::Aws {
                        operation: "DescribeExecution".into(),
                        code: "UnknownStatus".into(),
                        message: format!("execution {name} has status {}", out.status().as_str()),
                    })?;
                Ok(Some(ExecutionSummary {
                    state,
                    input: out.input().unwrap_or("{}").to_owned(),
                    output: out.output().map(str::to_owned),
                    error: out.error().map(str::to_owned),
                    cause: out.cause().map(str::to_owned),
                }))
            }
            Err(err)
                if matches!(
                    err.as_service_error(),
                    Some(DescribeExecutionError::ExecutionDoesNotExist(_))
                ) || err.code() == Some("ExecutionDoesNotExist") =>
            {
                Ok(None)
            }
            Err(err) => Err(map_sdk_error("DescribeExecution", &err)),
        }
    }

    async fn send_task_success(&self, token: &str, output: &str) -> Result<(), Error> {
        self.client
            .send_task_success()
            .task_token(token)
            .output(output)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| callback_error("SendTaskSuccess", &e, stale_success(&e)))
    }

    async fn send_task_failure(&self, token: &str, error: &str, cause: &str) -> Result<(), Error> {
        self.client
            .send_task_failure()
            .task_token(token)
            .error(error)
            .cause(cause)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| callback_error("SendTaskFailure", &e, stale_failure(&e)))
    }
}
