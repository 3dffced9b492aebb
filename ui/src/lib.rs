//! `trip ui`: a local web console over the embedded runtime's store, like the Step Functions
//! console's execution view or the web UIs that ship with Temporal's and Restate's dev servers.
//!
//! It reads the store file read-only ([`store_view`]) while `trip book`, `trip resume` or
//! `trip simulate --store` write it, keeps a list of every trip up to date from the event log
//! ([`index`]), shows one trip with its events, history, bookings and dead letters
//! ([`trip`]) and its state machine drawn from the ASL definition that ran it ([`graph`]), and
//! serves all of it on 127.0.0.1 ([`server`]) to a page whose files are compiled in
//! ([`assets`]).

pub mod assets;
pub mod graph;
pub mod index;
pub mod server;
pub mod store_view;
pub mod trip;

pub use server::{Options, Running, UiError, start};
