//! Sequence numbers and eventlog records.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Position of an event: `global` orders synced events; client-only events
/// share the global number of the event before them and count up `client`;
/// `rebase_generation` grows each time pending events are rebased.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SeqNum {
    pub global: u64,
    pub client: u32,
    pub rebase_generation: u32,
}

impl SeqNum {
    pub const ROOT: SeqNum = SeqNum { global: 0, client: 0, rebase_generation: 0 };

    /// The number of the next event after `self`.
    pub fn next(self, client_only: bool, rebase_generation: u32) -> SeqNum {
        if client_only {
            SeqNum { global: self.global, client: self.client + 1, rebase_generation }
        } else {
            SeqNum { global: self.global + 1, client: 0, rebase_generation }
        }
    }
}

impl fmt::Display for SeqNum {
    /// `e3`, `e3.1` (client-only), `e3r1` (rebased once).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "e{}", self.global)?;
        if self.client > 0 {
            write!(f, ".{}", self.client)?;
        }
        if self.rebase_generation > 0 {
            write!(f, "r{}", self.rebase_generation)?;
        }
        Ok(())
    }
}

/// An event as the app commits it: name and encoded args.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInput {
    pub name: String,
    pub args: serde_json::Value,
}

impl EventInput {
    pub fn new(name: &str, args: serde_json::Value) -> EventInput {
        EventInput { name: name.to_string(), args }
    }
}

/// One entry of the eventlog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub seq_num: SeqNum,
    pub parent_seq_num: SeqNum,
    pub name: String,
    pub args: serde_json::Value,
    pub client_id: String,
    pub session_id: String,
    pub client_only: bool,
}

impl EventRecord {
    pub fn input(&self) -> EventInput {
        EventInput { name: self.name.clone(), args: self.args.clone() }
    }
}

impl EventRecord {
    /// The ten column values `from_row` reads, in its order.
    pub fn row_values(&self) -> [rusqlite::types::Value; 10] {
        use rusqlite::types::Value::{Integer, Text};
        [
            Integer(self.seq_num.global as i64),
            Integer(self.seq_num.client.into()),
            Integer(self.seq_num.rebase_generation.into()),
            Integer(self.parent_seq_num.global as i64),
            Integer(self.parent_seq_num.client.into()),
            Integer(self.parent_seq_num.rebase_generation.into()),
            Text(self.name.clone()),
            Text(self.args.to_string()),
            Text(self.client_id.clone()),
            Text(self.session_id.clone()),
        ]
    }

    /// Reads a record from a row whose first ten columns are `seq_global,
    /// seq_client, rebase_generation, parent_global, parent_client,
    /// parent_rebase_generation, name, args (JSON text), client_id,
    /// session_id` (the eventlog tables of the leader and the sync server).
    pub fn from_row(r: &rusqlite::Row<'_>, client_only: bool) -> rusqlite::Result<EventRecord> {
        let args: String = r.get(7)?;
        Ok(EventRecord {
            seq_num: SeqNum { global: r.get::<_, i64>(0)? as u64, client: r.get(1)?, rebase_generation: r.get(2)? },
            parent_seq_num: SeqNum {
                global: r.get::<_, i64>(3)? as u64,
                client: r.get(4)?,
                rebase_generation: r.get(5)?,
            },
            name: r.get(6)?,
            // Written from a serde_json::Value, so it parses back.
            args: serde_json::from_str(&args).unwrap_or(serde_json::Value::Null),
            client_id: r.get(8)?,
            session_id: r.get(9)?,
            client_only,
        })
    }
}
