//! Logs: JSON lines through `tracing`, with the trip and correlation ids of the record being
//! handled on every line (from its span). Task tokens are secrets that let anyone answer the
//! workflow: only a fingerprint is logged.

use sha2::{Digest, Sha256};

/// A short, stable stand-in for a task token in logs.
pub fn token_fingerprint(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    let hex: String = digest[..6].iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{hex}/{}B", token.len())
}

/// The JSON log format of every deployment: one object per line, the event's fields at the top
/// level, the record's span (`tripId`, `correlationId`, ...) under `span`.
pub fn json_subscriber<W>(writer: W, filter: &str) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> tracing_subscriber::fmt::MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(filter));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .with_writer(writer)
        .finish()
}

/// JSON logs on stdout; level from `RUST_LOG` (default `info`). Safe to call twice.
pub fn init_json_logging() {
    let _ = tracing::subscriber::set_global_default(json_subscriber(std::io::stdout, "info"));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fingerprint_never_contains_the_token() {
        let token = "AQCEAAAAKgAAAAMAAAAAAAAAAZsecret-token-material";
        let f = token_fingerprint(token);
        assert!(!f.contains("secret"));
        assert!(!f.contains(&token[..10]));
        assert_eq!(f, token_fingerprint(token));
        assert!(f.len() < 32, "{f}");
    }
}
