//! The flight service's Lambda: Flight commands from SQS, outcomes to EventBridge.

#[tokio::main]
async fn main() -> Result<(), trip_booking::lambda::LambdaError> {
    trip_booking::lambda::run_service(trip_booking::Service::Flight).await
}
