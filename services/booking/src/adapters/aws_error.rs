//! Mapping AWS SDK errors to the crate's error: what can be retried, what cannot.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

use crate::error::Error;

/// Classifies an AWS error code (and HTTP status) as throttling, a lost race, a server-side
/// blip, or something retrying cannot fix.
pub(crate) fn classify(operation: &str, code: &str, message: &str, status: Option<u16>) -> Error {
    let detail = format!("{operation}: {code}: {message}");
    match code {
        "ThrottlingException"
        | "Throttling"
        | "ThrottlingError"
        | "ProvisionedThroughputExceededException"
        | "ProvisionedThroughputExceeded"
        | "RequestLimitExceeded"
        | "TooManyRequestsException" => Error::Throttled(detail),
        "TransactionConflictException"
        | "TransactionConflict"
        | "TransactionInProgressException" => Error::Conflict(detail),
        "InternalServerError"
        | "InternalFailure"
        | "InternalException"
        | "ServiceUnavailable"
        | "ServiceUnavailableException" => Error::Unavailable(detail),
        _ => match status {
            Some(429) => Error::Throttled(detail),
            Some(s) if s >= 500 => Error::Unavailable(detail),
            _ => Error::Aws {
                operation: operation.to_owned(),
                code: code.to_owned(),
                message: message.to_owned(),
            },
        },
    }
}

/// Maps an SDK error of any AWS service.
pub(crate) fn map_sdk_error<E>(operation: &str, err: &SdkError<E, HttpResponse>) -> Error
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match err {
        SdkError::TimeoutError(_) => Error::Timeout(format!("{operation}: {err}")),
        SdkError::DispatchFailure(d) if d.is_timeout() => {
            Error::Timeout(format!("{operation}: {err}"))
        }
        SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            Error::Unavailable(format!("{operation}: {err}"))
        }
        SdkError::ConstructionFailure(_) => Error::Config(format!("{operation}: {err}")),
        _ => classify(
            operation,
            err.code().unwrap_or("Unknown"),
            err.message().unwrap_or(""),
            err.raw_response().map(|r| r.status().as_u16()),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_and_statuses_map_to_retry_or_not() {
        assert!(matches!(
            classify("op", "ThrottlingException", "", Some(400)),
            Error::Throttled(_)
        ));
        assert!(matches!(
            classify("op", "TransactionConflict", "", None),
            Error::Conflict(_)
        ));
        assert!(matches!(
            classify("op", "Whatever", "", Some(503)),
            Error::Unavailable(_)
        ));
        assert!(matches!(
            classify("op", "Whatever", "", Some(429)),
            Error::Throttled(_)
        ));
        assert!(matches!(
            classify("op", "ValidationException", "bad", Some(400)),
            Error::Aws { .. }
        ));
    }
}
