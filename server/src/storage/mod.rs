//! Where the events are kept: one total order per store behind a small trait,
//! so another engine can be added. [`SqliteStorage`] (one embedded file) is
//! the default; [`MemoryStorage`] keeps everything in memory (tests,
//! throw-away servers).
//!
//! The server calls these methods from blocking threads (they may block on
//! disk); it serializes the appends of one store itself, so an implementation
//! only has to make `append_if_head` atomic and durable.

mod memory;
mod sqlite;

pub use memory::MemoryStorage;
pub use sqlite::SqliteStorage;

use livestore_rs::EventRecord;

/// Outcome of [`Storage::append_if_head`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Append {
    /// The batch is stored durably; `head` is its last event's global number.
    Appended { head: u64 },
    /// The store's head was not the expected one; nothing was stored.
    Rejected { head: u64 },
}

#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("storage: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("storage: {0}")]
    Other(String),
}

pub type Result<T> = std::result::Result<T, StorageError>;

/// The eventlogs of all stores.
pub trait Storage: Send + Sync + 'static {
    /// A random id made when the storage was created; a new one after
    /// [`Storage::reset`]. Clients compare it to detect a server that lost
    /// its data.
    fn backend_id(&self) -> String;

    /// The global number of the store's last event (0 when it has none).
    fn head(&self, store_id: &str) -> Result<u64>;

    /// Appends `batch` if the store's head is `expected_head`, atomically and
    /// durably (committed before this returns). The caller has checked that
    /// `batch` is non-empty, contiguous and starts at `expected_head + 1`.
    fn append_if_head(&self, store_id: &str, expected_head: u64, batch: &[EventRecord]) -> Result<Append>;

    /// Up to `limit` events of the store with `seqNum.global > after`,
    /// oldest first.
    fn read(&self, store_id: &str, after: u64, limit: usize) -> Result<Vec<EventRecord>>;

    /// Deletes every store's events and makes a new backend id. For a
    /// stopped server (a running one keeps the heads it knows).
    fn reset(&self) -> Result<()>;

    /// What kind of storage this is, for the log (e.g. `sqlite:./data/sync.db`).
    fn describe(&self) -> String;
}

/// A new random backend id: 128 bits as 32 hex digits.
pub fn new_backend_id() -> String {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).expect("the OS random number generator is available");
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
