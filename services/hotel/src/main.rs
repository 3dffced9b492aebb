//! The hotel service's Lambda: Hotel commands from SQS, outcomes to EventBridge.

#[tokio::main]
async fn main() -> Result<(), trip_booking::lambda::LambdaError> {
    trip_booking::lambda::run_service(trip_booking::Service::Hotel).await
}
