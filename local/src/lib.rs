//! The embedded runtime: the whole trip saga on one machine, no AWS.

pub mod bus;
pub mod clock;
pub mod pattern;
pub mod queue;
pub mod store;
