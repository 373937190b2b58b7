//! The sync protocol between a client (the leader of each browser client) and
//! the sync server (`server/`, crate `livestore-rs-server`).
//!
//! Plain serde types, compiled natively and for wasm32; the server and the
//! client both use them. One WebSocket per client and store; every message is
//! one **text** frame holding one JSON object whose `type` names the message.
//! Field names are camelCase; unknown fields are ignored (so either side may
//! add optional fields), unknown `type`s are answered with `BAD_MESSAGE`.
//!
//! ## Client → server
//!
//! | message | meaning |
//! |---|---|
//! | `{ type: 'hello', storeId, clientId, token?, sessionId?, protocolVersion? }` | must be the first message; `token` is checked by the server's auth (see below) |
//! | `{ type: 'push', batch: EventRecord[] }` | append `batch` on top of the store's head (compare-and-append) |
//! | `{ type: 'pull', after, limit?, live? }` | the events with `seqNum.global > after`, oldest first, in pages of at most `limit`; with `live: true` the server then keeps streaming new events |
//!
//! ## Server → client
//!
//! | message | meaning |
//! |---|---|
//! | `{ type: 'welcome', backendId, head, protocolVersion, limits }` | answer to a good `hello`; `head` is the store's last global number (0: empty) |
//! | `{ type: 'pushAck', head }` | the batch is durable; `head` is the global of its last event |
//! | `{ type: 'pushRejected', head }` | the batch's first event was not `head + 1`: pull, rebase, push again |
//! | `{ type: 'events', events, head, more }` | a page of a pull, or live events; `more`: further events are already there, pull again after the last one (in live mode they follow by themselves) |
//! | `{ type: 'error', code, message, event?, seqNum? }` | a request failed (`code`: [`ErrorCode`]); `event`/`seqNum` name the offending event |
//!
//! ## Rules
//!
//! - **Identity.** `welcome.backendId` is created with the server's storage and
//!   changes only when that storage is reset: a client that sees another
//!   `backendId` than the one its synced events came from must not push them
//!   again as if nothing happened (the server lost them); it starts over.
//! - **Push** is compare-and-append on the global sequence numbers. The batch
//!   holds synced events only (`clientOnly: false`, `seqNum.client = 0`), at
//!   most `limits.maxBatchEvents` of them in a message of at most
//!   `limits.maxMessageBytes`. It must be contiguous: each event's
//!   `seqNum.global` is the previous one's plus 1 and its
//!   `parentSeqNum.global` is the previous one's `seqNum.global` (for the
//!   first event: `seqNum.global - 1`); otherwise `NOT_CONTIGUOUS`. If the
//!   first event's global is the store's head + 1 the whole batch is stored,
//!   durably (committed to disk), and then acknowledged with `pushAck`;
//!   otherwise nothing is stored and the answer is `pushRejected { head }`.
//!   A batch that the server's validation refuses is answered with
//!   `error { code: 'EVENT_REJECTED', event, seqNum }` and nothing of it is
//!   stored. Events are stored as they are (`seqNum`, `parentSeqNum`, `name`,
//!   `args`, `clientId`, `sessionId`) and sent back with `clientOnly: false`.
//! - **Pull** answers with `events` pages. Without `live`, one page: at most
//!   `limit` events (capped by `limits.maxPullLimit` and by about
//!   `limits.maxMessageBytes` of JSON) after `after`, and `more: true` if the
//!   store has further events. With `live: true` the server sends every page
//!   up to its head (the last one with `more: false`) and then, as soon as
//!   events are appended and durable, sends them as further `events`
//!   messages (`more: false`) to every live connection of the store,
//!   including the pusher's. The `events` a connection receives in live mode
//!   are contiguous: each message's first event follows the previous
//!   message's last. A new `pull` with `live: true` replaces the previous
//!   live subscription of the connection. `after` beyond the head is refused
//!   with `CURSOR_AHEAD` (the server lost events: compare `backendId`).
//! - **Order on one connection.** Requests are answered in order. On a live
//!   connection, every event up to the `head` of a `pushAck` or
//!   `pushRejected` has been sent (as `events`) before that answer, so after
//!   a rejection the client can rebase on what it already received and push
//!   again without pulling.
//! - **Slow clients.** Live events wait in a bounded per-connection queue; a
//!   connection whose queue is full is closed with [`close::LAGGING`] and
//!   catches up by pulling after it reconnects. Appends never wait for a
//!   client.
//! - **Auth.** The `hello` carries the token (not the URL, so it does not
//!   land in access logs). The default check is a shared-secret token:
//!   `base64url(claims JSON) + "." + base64url(HMAC-SHA256(secret, first
//!   part))` (no padding), claims `{ "storeId": string, "exp"?: unix
//!   seconds }`; `livestore-rs-server token --store-id … ` mints one. A
//!   missing, malformed, badly signed or expired token is refused with
//!   `UNAUTHORIZED`, a token for another store with `STORE_MISMATCH`; both
//!   close the connection ([`close::POLICY`]). A server with no secret runs
//!   open (any token, or none, is accepted) and says so in its log.
//! - **Bad input.** Anything before `hello` other than a `hello` gets
//!   `NOT_HELLO` (or `BAD_MESSAGE`) and a close ([`close::POLICY`]), as does
//!   no `hello` within the server's hello timeout; a binary frame gets
//!   `BAD_MESSAGE` and a close ([`close::UNSUPPORTED_DATA`]); a text frame
//!   that is not UTF-8 likewise ([`close::INVALID_DATA`]); a message over
//!   `maxMessageBytes` gets `MESSAGE_TOO_LARGE` and a close
//!   ([`close::TOO_BIG`]). Malformed JSON, unknown types, missing fields,
//!   too large or non-contiguous batches get an `error` and the connection
//!   stays open. A connection silent for the server's idle timeout (it
//!   pings; browsers answer pings by themselves) is closed
//!   ([`close::POLICY`]). A server that shuts down closes with
//!   [`close::GOING_AWAY`] after finishing the request each connection is
//!   handling (a push in flight is stored and acknowledged first).
//!
//! The WebSocket endpoint is the server's root path (`ws://127.0.0.1:8787/`).
//! Pushed events are full [`EventRecord`]s (every field, `clientOnly`
//! included).
//!
//! A typical session:
//!
//! ```text
//! → { "type": "hello", "storeId": "todos", "clientId": "c1", "token": "eyJ…" }
//! ← { "type": "welcome", "backendId": "3f…", "head": 41, "protocolVersion": 1, "limits": { … } }
//! → { "type": "pull", "after": 40, "live": true }
//! ← { "type": "events", "events": [ { "seqNum": { "global": 41, … }, … } ], "head": 41, "more": false }
//! → { "type": "push", "batch": [ { "seqNum": { "global": 42, "client": 0, "rebaseGeneration": 0 },
//!                                   "parentSeqNum": { "global": 41, "client": 0, "rebaseGeneration": 0 }, … } ] }
//! ← { "type": "events", "events": [ { "seqNum": { "global": 42, … }, … } ], "head": 42, "more": false }
//! ← { "type": "pushAck", "head": 42 }
//! ```

use crate::event::{EventRecord, SeqNum};
use serde::{Deserialize, Serialize};

/// The protocol version this crate speaks; `welcome` carries it, and a
/// `hello` naming another one is refused with `UNSUPPORTED_PROTOCOL`.
pub const PROTOCOL_VERSION: u32 = 1;

/// A message from a client to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ClientMessage {
    /// The first message of a connection.
    Hello {
        store_id: String,
        client_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        token: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        session_id: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        protocol_version: Option<u32>,
    },
    /// Synced events to append on top of the store's head, oldest first.
    Push { batch: Vec<EventRecord> },
    /// The events after global number `after`.
    Pull {
        after: u64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        limit: Option<u32>,
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        live: bool,
    },
}

/// A message from the server to a client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase", rename_all_fields = "camelCase")]
pub enum ServerMessage {
    Welcome {
        backend_id: String,
        head: u64,
        protocol_version: u32,
        limits: Limits,
    },
    PushAck {
        head: u64,
    },
    PushRejected {
        head: u64,
    },
    Events {
        events: Vec<EventRecord>,
        head: u64,
        more: bool,
    },
    Error {
        code: ErrorCode,
        message: String,
        /// Name of the event the error is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        event: Option<String>,
        /// Position of the event the error is about.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        seq_num: Option<SeqNum>,
    },
}

impl ServerMessage {
    pub fn error(code: ErrorCode, message: impl Into<String>) -> ServerMessage {
        ServerMessage::Error { code, message: message.into(), event: None, seq_num: None }
    }

    /// Reads a message. An `events` page, the large one, is read straight
    /// into its fields: serde reads a tagged enum through a buffer of generic
    /// values, where each event's args would be rebuilt from a value tree.
    pub fn from_json(text: &str) -> serde_json::Result<ServerMessage> {
        #[derive(Deserialize)]
        struct Page {
            events: Vec<EventRecord>,
            head: u64,
            more: bool,
        }
        if tag_of(text) == Some("events") {
            if let Ok(Page { events, head, more }) = serde_json::from_str(text) {
                return Ok(ServerMessage::Events { events, head, more });
            }
        }
        serde_json::from_str(text)
    }
}

impl ClientMessage {
    /// Reads a message; a `push` straight into its batch (see
    /// `ServerMessage::from_json`).
    pub fn from_json(text: &str) -> serde_json::Result<ClientMessage> {
        #[derive(Deserialize)]
        struct Push {
            batch: Vec<EventRecord>,
        }
        if tag_of(text) == Some("push") {
            if let Ok(Push { batch }) = serde_json::from_str(text) {
                return Ok(ClientMessage::Push { batch });
            }
        }
        serde_json::from_str(text)
    }
}

/// A message's `type`, read without building the rest (an unescaped one).
fn tag_of(text: &str) -> Option<&str> {
    #[derive(Deserialize)]
    struct Tag<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
    }
    serde_json::from_str::<Tag>(text).ok().map(|t| t.kind)
}

/// What the server accepts, sent in `welcome` so a client can size its
/// batches and pages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Limits {
    /// Largest message (text frame) accepted, in bytes of UTF-8.
    pub max_message_bytes: u64,
    /// Most events in one `push`.
    pub max_batch_events: u32,
    /// Most events in one `events` page.
    pub max_pull_limit: u32,
}

/// Stable error codes of `error` messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    /// Missing, malformed, badly signed or expired token.
    Unauthorized,
    /// The token is for another store, or a second `hello` named another store.
    StoreMismatch,
    /// Not JSON, not an object with a known `type`, missing or mistyped
    /// fields, a binary frame, an empty batch.
    BadMessage,
    /// A message other than `hello` before the `hello`.
    NotHello,
    /// The `hello` asked for a protocol version the server does not speak.
    UnsupportedProtocol,
    /// The message is larger than `limits.maxMessageBytes`.
    MessageTooLarge,
    /// The batch has more than `limits.maxBatchEvents` events.
    BatchTooLarge,
    /// The batch's sequence numbers are not contiguous.
    NotContiguous,
    /// An event that cannot be synced (client-only, or `seqNum.client != 0`).
    BadEvent,
    /// The server's validation refused an event; nothing of the batch was stored.
    EventRejected,
    /// `pull.after` is beyond the store's head.
    CursorAhead,
    /// The server has as many connections as it accepts.
    ServerFull,
    /// The connection's live queue overflowed (sent just before closing).
    Lagging,
    /// Storage or another server-side failure; the request may be retried.
    Internal,
    /// A code this version does not know (sent by a newer peer).
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::Unauthorized => "UNAUTHORIZED",
            ErrorCode::StoreMismatch => "STORE_MISMATCH",
            ErrorCode::BadMessage => "BAD_MESSAGE",
            ErrorCode::NotHello => "NOT_HELLO",
            ErrorCode::UnsupportedProtocol => "UNSUPPORTED_PROTOCOL",
            ErrorCode::MessageTooLarge => "MESSAGE_TOO_LARGE",
            ErrorCode::BatchTooLarge => "BATCH_TOO_LARGE",
            ErrorCode::NotContiguous => "NOT_CONTIGUOUS",
            ErrorCode::BadEvent => "BAD_EVENT",
            ErrorCode::EventRejected => "EVENT_REJECTED",
            ErrorCode::CursorAhead => "CURSOR_AHEAD",
            ErrorCode::ServerFull => "SERVER_FULL",
            ErrorCode::Lagging => "LAGGING",
            ErrorCode::Internal => "INTERNAL",
            ErrorCode::Unknown => "UNKNOWN",
        }
    }
}

impl std::fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// WebSocket close codes the server uses (the close reason is a short
/// human-readable text).
pub mod close {
    /// The client closed, or the server is done with the connection.
    pub const NORMAL: u16 = 1000;
    /// The server is shutting down: reconnect later.
    pub const GOING_AWAY: u16 = 1001;
    /// A broken WebSocket frame.
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A binary frame (the protocol is text only).
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A text frame that is not UTF-8.
    pub const INVALID_DATA: u16 = 1007;
    /// Refused: no `hello` first, bad token, wrong store, idle or silent too long.
    pub const POLICY: u16 = 1008;
    /// A message over `maxMessageBytes`.
    pub const TOO_BIG: u16 = 1009;
    /// A server-side failure.
    pub const INTERNAL: u16 = 1011;
    /// The server has as many connections as it accepts: retry later.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The connection's live queue overflowed: reconnect and pull.
    pub const LAGGING: u16 = 4000;
}

/// Checks that `batch` is a contiguous run of synced events starting right
/// after some head: returns the error to send otherwise. Does not look at
/// the store's head (that is the compare of compare-and-append).
pub fn check_batch(batch: &[EventRecord]) -> Result<(), ServerMessage> {
    let Some(first) = batch.first() else {
        return Err(ServerMessage::error(ErrorCode::BadMessage, "push: the batch is empty"));
    };
    let mut prev = first.seq_num.global.checked_sub(1).ok_or_else(|| {
        event_error(ErrorCode::NotContiguous, first, "the first synced event has global number 1, not 0".into())
    })?;
    for e in batch {
        if e.client_only {
            return Err(event_error(
                ErrorCode::BadEvent,
                e,
                format!("event {} ({}) is client-only: client-only events are never synced", e.seq_num, e.name),
            ));
        }
        if e.seq_num.client != 0 {
            return Err(event_error(
                ErrorCode::BadEvent,
                e,
                format!("event {} ({}) has a client number: synced events have seqNum.client = 0", e.seq_num, e.name),
            ));
        }
        if prev.checked_add(1) != Some(e.seq_num.global) || e.parent_seq_num.global != prev {
            return Err(event_error(
                ErrorCode::NotContiguous,
                e,
                format!(
                    "event {} ({}) with parent {} does not follow global {prev}: a batch must be contiguous",
                    e.seq_num, e.name, e.parent_seq_num
                ),
            ));
        }
        prev = e.seq_num.global;
    }
    Ok(())
}

fn event_error(code: ErrorCode, e: &EventRecord, message: String) -> ServerMessage {
    ServerMessage::Error { code, message, event: Some(e.name.clone()), seq_num: Some(e.seq_num) }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use crate::event::Args;
    use serde_json::json;

    fn ev(global: u64, parent: u64) -> EventRecord {
        EventRecord {
            seq_num: SeqNum { global, client: 0, rebase_generation: 0 },
            parent_seq_num: SeqNum { global: parent, client: 0, rebase_generation: 0 },
            name: "v1.TodoCreated".into(),
            args: json!({ "id": "a" }).into(),
            client_id: "c".into(),
            session_id: "s".into(),
            client_only: false,
        }
    }

    #[test]
    fn pages_and_pushes_are_read_with_their_args_text() {
        let mut e = ev(1, 0);
        e.args = Args::from_json(r#"{ "id": "a",  "n": 1.50 }"#.into()).unwrap();
        let page = ServerMessage::Events { events: vec![e.clone()], head: 1, more: false };
        let push = ClientMessage::Push { batch: vec![e.clone()] };
        // Also with `type` last, as another writer may put it.
        let text = serde_json::to_string(&page).unwrap();
        let last =
            format!(r#"{{"more":false,"head":1,"events":[{}],"type":"events"}}"#, serde_json::to_string(&e).unwrap());
        for text in [text, last] {
            let read = ServerMessage::from_json(&text).unwrap();
            assert_eq!(read, page);
            let ServerMessage::Events { events, .. } = read else { panic!() };
            assert_eq!(events[0].args.text(), e.args.text());
        }
        let ClientMessage::Push { batch } = ClientMessage::from_json(&serde_json::to_string(&push).unwrap()).unwrap()
        else {
            panic!()
        };
        assert_eq!(batch[0].args.text(), e.args.text());
        // Other messages, and bad ones, read as before.
        let ack = ServerMessage::PushAck { head: 3 };
        assert_eq!(ServerMessage::from_json(&serde_json::to_string(&ack).unwrap()).unwrap(), ack);
        assert!(ServerMessage::from_json(r#"{"type":"events","events":[],"head":"x","more":false}"#).is_err());
        assert!(ClientMessage::from_json(r#"{"type":"push","batch":{}}"#).is_err());
    }

    #[test]
    fn messages_are_tagged_camel_case_json() {
        let hello: ClientMessage =
            serde_json::from_value(json!({ "type": "hello", "storeId": "s", "clientId": "c", "token": "t" })).unwrap();
        assert_eq!(
            hello,
            ClientMessage::Hello {
                store_id: "s".into(),
                client_id: "c".into(),
                token: Some("t".into()),
                session_id: None,
                protocol_version: None
            }
        );
        let pull: ClientMessage = serde_json::from_str(r#"{"type":"pull","after":3}"#).unwrap();
        assert_eq!(pull, ClientMessage::Pull { after: 3, limit: None, live: false });
        let ack = serde_json::to_value(ServerMessage::PushAck { head: 4 }).unwrap();
        assert_eq!(ack, json!({ "type": "pushAck", "head": 4 }));
        let err = serde_json::to_value(ServerMessage::error(ErrorCode::NotContiguous, "x")).unwrap();
        assert_eq!(err, json!({ "type": "error", "code": "NOT_CONTIGUOUS", "message": "x" }));
        let welcome = ServerMessage::Welcome {
            backend_id: "b".into(),
            head: 0,
            protocol_version: PROTOCOL_VERSION,
            limits: Limits { max_message_bytes: 1, max_batch_events: 2, max_pull_limit: 3 },
        };
        let v = serde_json::to_value(&welcome).unwrap();
        assert_eq!(v["backendId"], "b");
        assert_eq!(v["limits"]["maxBatchEvents"], 2);
        assert_eq!(serde_json::from_value::<ServerMessage>(v).unwrap(), welcome);
        let unknown: ErrorCode = serde_json::from_value(json!("SOMETHING_NEW")).unwrap();
        assert_eq!(unknown, ErrorCode::Unknown);
        assert!(serde_json::from_str::<ClientMessage>(r#"{"type":"nope"}"#).is_err());
    }

    #[test]
    fn batches_must_be_contiguous_synced_events() {
        assert!(check_batch(&[ev(5, 4), ev(6, 5), ev(7, 6)]).is_ok());
        let code = |b: &[EventRecord]| match check_batch(b) {
            Err(ServerMessage::Error { code, .. }) => code,
            other => panic!("{other:?}"),
        };
        assert_eq!(code(&[]), ErrorCode::BadMessage);
        assert_eq!(code(&[ev(5, 4), ev(7, 6)]), ErrorCode::NotContiguous);
        assert_eq!(code(&[ev(5, 4), ev(6, 4)]), ErrorCode::NotContiguous);
        assert_eq!(code(&[ev(5, 3)]), ErrorCode::NotContiguous);
        assert_eq!(code(&[ev(0, 0)]), ErrorCode::NotContiguous);
        assert_eq!(code(&[ev(u64::MAX, u64::MAX - 1), ev(0, u64::MAX)]), ErrorCode::NotContiguous);
        let mut client_only = ev(5, 4);
        client_only.client_only = true;
        assert_eq!(code(&[client_only]), ErrorCode::BadEvent);
        let mut numbered = ev(5, 4);
        numbered.seq_num.client = 1;
        assert_eq!(code(&[numbered]), ErrorCode::BadEvent);
    }
}
