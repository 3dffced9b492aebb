//! Shared test support for the end-to-end, replay, simulation and conformance tests.
//!
//! - [`moto`]: a moto server (independent AWS emulator) per test, and SDK clients for it;
//! - [`stack`]: the deployed stack's resources, created on moto from the routing table and the
//!   state machine definition;
//! - [`poller`]: Lambda's SQS event source, feeding the real handlers and AWS adapters;
//! - [`saga`]: a whole saga on moto and on the embedded runtime, and what must agree;
//! - [`differential`]: one definition run on moto's Step Functions interpreter and on ours.

pub mod differential;
pub mod moto;
pub mod poller;
pub mod saga;
pub mod stack;
