//! Typed errors of the core. Each has a stable `code` that the wasm layer
//! puts on the JS `Error`, so apps can branch on it.

use thiserror::Error;

#[derive(Debug, Error, Clone, PartialEq)]
pub enum Error {
    #[error("invalid schema: {0}")]
    InvalidSchema(String),

    #[error("unknown event '{0}': it is not in the schema")]
    UnknownEvent(String),

    #[error("invalid args for event '{event}'{}: {message}", at(path))]
    InvalidEventArgs { event: String, path: String, message: String },

    #[error("materializer of event '{event}' failed: {message}")]
    MaterializerFailed { event: String, message: String },

    #[error("unknown table '{0}'")]
    UnknownTable(String),

    #[error("unknown column '{column}' in table '{table}'")]
    UnknownColumn { table: String, column: String },

    #[error("invalid value for {table}.{column}: {message}")]
    InvalidValue { table: String, column: String, message: String },

    #[error("invalid query: {0}")]
    InvalidQuery(String),

    #[error("SQL error: {0}")]
    Sql(String),

    #[error("rollback failed: {0}")]
    Rollback(String),

    #[error("invalid events from upstream: {0}")]
    InvalidUpstream(String),

    #[error("cannot import: {0}")]
    InvalidImport(String),

    #[error("upstream rewrote events this session cannot roll back ({0}); it needs a fresh snapshot")]
    SnapshotNeeded(String),

    #[error("sync failed: {message}")]
    Sync { code: &'static str, message: String },

    #[error("the store is closed")]
    StoreClosed,

    #[error("unknown live query {0}")]
    UnknownLiveQuery(u32),
}

fn at(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!(" at '{path}'")
    }
}

impl Error {
    /// Stable machine-readable code, e.g. `INVALID_EVENT_ARGS`.
    pub fn code(&self) -> &'static str {
        match self {
            Error::InvalidSchema(_) => "INVALID_SCHEMA",
            Error::UnknownEvent(_) => "UNKNOWN_EVENT",
            Error::InvalidEventArgs { .. } => "INVALID_EVENT_ARGS",
            Error::MaterializerFailed { .. } => "MATERIALIZER_FAILED",
            Error::UnknownTable(_) => "UNKNOWN_TABLE",
            Error::UnknownColumn { .. } => "UNKNOWN_COLUMN",
            Error::InvalidValue { .. } => "INVALID_VALUE",
            Error::InvalidQuery(_) => "INVALID_QUERY",
            Error::Sql(_) => "SQL_ERROR",
            Error::Rollback(_) => "ROLLBACK_FAILED",
            Error::InvalidUpstream(_) => "INVALID_UPSTREAM",
            Error::InvalidImport(_) => "INVALID_IMPORT",
            Error::SnapshotNeeded(_) => "SNAPSHOT_NEEDED",
            Error::Sync { code, .. } => code,
            Error::StoreClosed => "STORE_CLOSED",
            Error::UnknownLiveQuery(_) => "UNKNOWN_LIVE_QUERY",
        }
    }

    /// The event this error is about, if any.
    pub fn event(&self) -> Option<&str> {
        match self {
            Error::UnknownEvent(e) => Some(e),
            Error::InvalidEventArgs { event, .. } | Error::MaterializerFailed { event, .. } => Some(event),
            _ => None,
        }
    }

    /// Attributes an error raised while materializing to its event, keeping
    /// errors that already name an event as they are.
    pub fn in_event(self, event: &str) -> Error {
        match self {
            Error::UnknownEvent(_)
            | Error::InvalidEventArgs { .. }
            | Error::MaterializerFailed { .. }
            | Error::StoreClosed => self,
            other => Error::MaterializerFailed { event: event.to_string(), message: other.to_string() },
        }
    }
}

impl From<rusqlite::Error> for Error {
    fn from(e: rusqlite::Error) -> Self {
        Error::Sql(e.to_string())
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
