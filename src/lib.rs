//! livestore-rs: event sourcing + reactive SQLite, the core of a local-first
//! data layer for web apps.
//!
//! The core (everything but `bindings`) is plain Rust, tested natively; the
//! `bindings` module is the thin wasm-bindgen layer the npm package uses.

pub mod auto_index;
pub mod changes;
pub mod db;
pub mod error;
pub mod event;
pub mod leader;
pub mod live;
pub mod protocol;
pub mod query;
pub mod schema;
pub mod session;
pub mod sync;
pub mod value;
pub mod write;

#[cfg(target_arch = "wasm32")]
pub mod bindings;

pub use error::{Error, Result};
pub use event::{Args, EventInput, EventRecord, SeqNum};
pub use session::{Materialize, Session, SessionOptions, SqlOnly};
