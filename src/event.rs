//! Sequence numbers and eventlog records.

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;
use std::sync::Arc;

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

/// An event's args as JSON text, in their encoded form (Dates as epoch ms).
///
/// Kept as text from the commit to the eventlog, the leader and the sync
/// server: a batch of 10,000 items is checked against its schema as it is
/// read and copied once, instead of becoming a tree of maps and strings that
/// is written out as text again on every hop. The few readers that need a
/// value (SQL materializers' named parameters, client documents, onRebase)
/// parse it when they run.
///
/// Serializes as the JSON it holds, so only to JSON (serde_json): records
/// cross to JS as JSON text (`JSON.parse`), not through serde-wasm-bindgen.
#[derive(Clone, Serialize)]
#[serde(transparent)]
pub struct Args(Arc<RawValue>);

/// The name under which serde_json's reader hands over a value's text as it
/// is (what `RawValue` asks for). Readers that do not know it (a message
/// buffered to find its `type` tag, serde-wasm-bindgen) hand over the value,
/// which is written out as text: slower, same args.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

impl<'de> Deserialize<'de> for Args {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Args, D::Error> {
        d.deserialize_newtype_struct(RAW_VALUE_TOKEN, ArgsVisitor)
    }
}

struct ArgsVisitor;

impl<'de> serde::de::Visitor<'de> for ArgsVisitor {
    type Value = Args;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("event args (any JSON value)")
    }

    /// serde_json's reader: one entry, the token and the text.
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Args, A::Error> {
        let text = match map.next_key::<serde::de::IgnoredAny>()? {
            Some(_) => map.next_value::<String>()?,
            None => return Err(serde::de::Error::custom("event args: no value")),
        };
        Args::from_json(text).map_err(serde::de::Error::custom)
    }

    fn visit_newtype_struct<D: serde::Deserializer<'de>>(self, d: D) -> Result<Args, D::Error> {
        serde_json::Value::deserialize(d).map(Args::from)
    }
}

impl Args {
    /// JSON text, checked to be one JSON value.
    pub fn from_json(text: String) -> serde_json::Result<Args> {
        RawValue::from_string(text).map(|raw| Args(raw.into()))
    }

    /// Text serde_json has already read as one JSON value.
    pub fn from_raw(raw: Box<RawValue>) -> Args {
        Args(raw.into())
    }

    pub fn null() -> Args {
        Args::from(&serde_json::Value::Null)
    }

    pub fn text(&self) -> &str {
        self.0.get()
    }

    /// The args as a JSON value (parsed on each call).
    pub fn value(&self) -> serde_json::Value {
        serde_json::from_str(self.text()).expect("args hold valid JSON")
    }
}

impl From<&serde_json::Value> for Args {
    fn from(v: &serde_json::Value) -> Args {
        Args::from_json(v.to_string()).expect("a JSON value serializes to JSON")
    }
}

impl From<serde_json::Value> for Args {
    fn from(v: serde_json::Value) -> Args {
        Args::from(&v)
    }
}

/// The same args: the same text, or texts of the same value (key order,
/// spacing or number spelling may differ between writers).
impl PartialEq for Args {
    fn eq(&self, other: &Args) -> bool {
        self.text() == other.text() || self.value() == other.value()
    }
}

impl PartialEq<serde_json::Value> for Args {
    fn eq(&self, other: &serde_json::Value) -> bool {
        self.value() == *other
    }
}

impl fmt::Debug for Args {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.text())
    }
}

/// An event as the app commits it: name and encoded args.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EventInput {
    pub name: String,
    #[serde(default = "Args::null")]
    pub args: Args,
}

impl EventInput {
    pub fn new(name: &str, args: serde_json::Value) -> EventInput {
        EventInput { name: name.to_string(), args: args.into() }
    }
}

/// One entry of the eventlog.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventRecord {
    pub seq_num: SeqNum,
    pub parent_seq_num: SeqNum,
    pub name: String,
    pub args: Args,
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
            Text(self.args.text().to_owned()),
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
            // Written from `Args`, so it parses back.
            args: Args::from_json(args).unwrap_or_else(|_| Args::null()),
            client_id: r.get(8)?,
            session_id: r.get(9)?,
            client_only,
        })
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::protocol::ServerMessage;
    use serde_json::json;

    const TEXT: &str = r#"{ "text": "caf\u00e9", "n": 1.50 }"#;

    fn record_json(args: &str) -> String {
        format!(
            r#"{{"seqNum":{{"global":1,"client":0,"rebaseGeneration":0}},"parentSeqNum":{{"global":0,"client":0,"rebaseGeneration":0}},"name":"e","args":{args},"clientId":"c","sessionId":"s","clientOnly":false}}"#
        )
    }

    #[test]
    fn args_keep_their_text_from_json_to_json() {
        let record: EventRecord = serde_json::from_str(&record_json(TEXT)).unwrap();
        assert_eq!(record.args.text(), TEXT);
        assert!(serde_json::to_string(&record).unwrap().contains(r#""args":{ "text": "caf\u00e9", "n": 1.50 },"#));
        assert_eq!(record.args.value(), json!({ "text": "café", "n": 1.5 }));
    }

    #[test]
    fn args_read_from_a_value_or_a_tagged_message_are_the_same_args() {
        // A message is buffered to find its `type`: its args arrive as a value.
        let message = format!(r#"{{"type":"events","events":[{}],"head":1,"more":false}}"#, record_json(TEXT));
        let ServerMessage::Events { events, .. } = serde_json::from_str(&message).unwrap() else { panic!() };
        let from_value: EventRecord =
            serde_json::from_value(serde_json::from_str(&record_json(TEXT)).unwrap()).unwrap();
        for args in [&events[0].args, &from_value.args] {
            assert_eq!(*args, json!({ "text": "café", "n": 1.5 }));
            assert_eq!(args, &Args::from_json(TEXT.into()).unwrap());
        }
        assert_ne!(events[0].args, Args::from(json!({ "text": "cafe", "n": 1.5 })));
    }

    #[test]
    fn missing_args_are_null_and_bad_json_is_refused() {
        let input: EventInput = serde_json::from_str(r#"{"name":"e"}"#).unwrap();
        assert_eq!(input.args.text(), "null");
        assert!(serde_json::from_str::<EventInput>(r#"{"name":"e","args":{"a":}}"#).is_err());
        assert!(Args::from_json("{} {}".into()).is_err());
    }
}
