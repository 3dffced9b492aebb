//! The saga bridge's Lambda: trip requests start sagas, service outcomes answer task tokens.

#[tokio::main]
async fn main() -> Result<(), trip_booking::lambda::LambdaError> {
    trip_booking::lambda::run_bridge().await
}
