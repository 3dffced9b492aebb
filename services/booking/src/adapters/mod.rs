//! AWS adapters of the ports, one module each. Configuration comes from the environment
//! (`TABLE_NAME`, `EVENT_BUS_NAME`, `STATE_MACHINE_ARN`).

pub mod dynamodb;
pub mod eventbridge;
pub mod sfn;

mod aws_error;
