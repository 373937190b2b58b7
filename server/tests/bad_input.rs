//! Bad input never takes the server down: each kind gets a clear error or a
//! close with a reason, the stored events stay, and other clients go on.

mod common;

use common::*;
use livestore_rs::protocol::{close, ClientMessage, ErrorCode, ServerMessage};
use livestore_rs_server::{Config, MemoryStorage, RunningServer, Storage};
use std::sync::Arc;
use std::time::Duration;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::Message;

/// A server whose store `s` holds events 1..=3.
async fn seeded(cfg: Config) -> (RunningServer, Arc<MemoryStorage>) {
    let storage = Arc::new(MemoryStorage::new());
    let server = start(cfg, storage.clone()).await;
    let (mut c, _) = Client::hello(&server.url(), "s", "seed", None).await;
    assert_eq!(c.push(batch(1, 3, "seed")).await, ServerMessage::PushAck { head: 3 });
    (server, storage)
}

/// Another client can still connect, read everything and push.
async fn still_serving(server: &RunningServer, storage: &MemoryStorage) {
    let head = storage.head("s").unwrap();
    let (mut c, welcome) = Client::hello(&server.url(), "s", "ok", None).await;
    assert_eq!(head_of(&welcome), head);
    let all = c.pull_all(0).await;
    assert_eq!(globals(&all), (1..=head).collect::<Vec<_>>(), "nothing stored is lost");
    assert_eq!(all[..3], batch(1, 3, "seed")[..]);
    assert_eq!(c.push(batch(head + 1, 1, "ok")).await, ServerMessage::PushAck { head: head + 1 });
}

#[tokio::test]
async fn bad_messages_after_hello_get_errors_and_the_connection_goes_on() {
    let mut cfg = config();
    cfg.max_batch_events = 5;
    let (server, storage) = seeded(cfg).await;
    let (mut c, _) = Client::hello(&server.url(), "s", "c", None).await;

    c.send_text("{not json").await;
    let m = c.error(ErrorCode::BadMessage).await;
    assert!(m.contains("cannot read the message"), "{m}");
    c.send_text("42").await;
    assert!(c.error(ErrorCode::BadMessage).await.contains("expected a JSON object"));
    c.send_text(r#"{"type":"subscribe","storeId":"s"}"#).await;
    let m = c.error(ErrorCode::BadMessage).await;
    assert!(m.contains("unknown variant `subscribe`"), "{m}");
    c.send_text(r#"{"type":"push"}"#).await;
    assert!(c.error(ErrorCode::BadMessage).await.contains("missing field `batch`"));
    c.send_text(r#"{"type":"pull","after":-1}"#).await;
    c.error(ErrorCode::BadMessage).await;
    c.send_text(r#"{"type":"push","batch":[{"seqNum":1}]}"#).await;
    c.error(ErrorCode::BadMessage).await;
    c.send(&ClientMessage::Push { batch: vec![] }).await;
    assert!(c.error(ErrorCode::BadMessage).await.contains("empty"));

    // Too large a batch.
    let m = c.error_after_push(batch(4, 6, "c")).await;
    assert_eq!(m.0, ErrorCode::BatchTooLarge);
    assert!(m.1.contains("at most 5"), "{}", m.1);
    // Not contiguous: a gap, a wrong parent.
    let mut gap = batch(4, 3, "c");
    gap[2].seq_num.global = 8;
    gap[2].parent_seq_num.global = 7;
    let (code, message) = c.error_after_push(gap).await;
    assert_eq!(code, ErrorCode::NotContiguous);
    assert!(message.contains("e8"), "{message}");
    let mut parent = batch(4, 2, "c");
    parent[1].parent_seq_num.global = 3;
    assert_eq!(c.error_after_push(parent).await.0, ErrorCode::NotContiguous);
    // Client-only events are never synced.
    let mut client_only = batch(4, 1, "c");
    client_only[0].client_only = true;
    assert_eq!(c.error_after_push(client_only).await.0, ErrorCode::BadEvent);
    // A cursor beyond the head.
    c.send(&ClientMessage::Pull { after: 99, limit: None, live: false }).await;
    assert!(c.error(ErrorCode::CursorAhead).await.contains("beyond the store's head (3)"));
    c.send(&ClientMessage::Pull { after: 99, limit: None, live: true }).await;
    c.error(ErrorCode::CursorAhead).await;
    // A second hello.
    c.send(&hello("s", "c", None)).await;
    assert!(c.error(ErrorCode::BadMessage).await.contains("already"));
    c.send(&hello("elsewhere", "c", None)).await;
    c.error(ErrorCode::StoreMismatch).await;

    // The same connection still works, and nothing bad was stored.
    assert_eq!(storage.head("s").unwrap(), 3);
    assert_eq!(c.push(batch(4, 5, "c")).await, ServerMessage::PushAck { head: 8 });
    still_serving(&server, &storage).await;
    server.shutdown().await.unwrap();
}

trait PushError {
    async fn error_after_push(&mut self, batch: Vec<livestore_rs::EventRecord>) -> (ErrorCode, String);
}

impl PushError for Client {
    async fn error_after_push(&mut self, batch: Vec<livestore_rs::EventRecord>) -> (ErrorCode, String) {
        match self.push(batch).await {
            ServerMessage::Error { code, message, .. } => (code, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn bad_starts_binary_frames_and_oversized_messages_close_with_a_reason() {
    let mut cfg = config();
    cfg.max_message_bytes = 4096;
    cfg.hello_timeout = Duration::from_millis(200);
    let (server, storage) = seeded(cfg).await;
    let url = server.url();

    // Pushing before hello.
    let mut c = Client::connect(&url).await;
    c.send(&ClientMessage::Push { batch: batch(4, 1, "c") }).await;
    let (message, reason) = c.refused(ErrorCode::NotHello, close::POLICY).await;
    assert!(message.contains("first message must be a hello"), "{message}");
    assert_eq!(reason, "no hello first");
    // Garbage before hello.
    let mut c = Client::connect(&url).await;
    c.send_text("hello?").await;
    c.refused(ErrorCode::BadMessage, close::POLICY).await;
    // No hello at all.
    let mut c = Client::connect(&url).await;
    let (message, reason) = c.refused(ErrorCode::NotHello, close::POLICY).await;
    assert!(message.contains("no hello within"), "{message}");
    assert_eq!(reason, "no hello in time");
    // An empty store id; another protocol version.
    let mut c = Client::connect(&url).await;
    c.send(&hello("", "c", None)).await;
    c.refused(ErrorCode::BadMessage, close::POLICY).await;
    let mut c = Client::connect(&url).await;
    c.send_text(r#"{"type":"hello","storeId":"s","clientId":"c","protocolVersion":99}"#).await;
    c.refused(ErrorCode::UnsupportedProtocol, close::POLICY).await;

    // A binary frame, before and after hello.
    let mut c = Client::connect(&url).await;
    c.send_raw(Message::binary(b"{}".to_vec())).await;
    let (message, reason) = c.refused(ErrorCode::BadMessage, close::UNSUPPORTED_DATA).await;
    assert!(message.contains("binary"), "{message}");
    assert_eq!(reason, "binary frames are not supported");
    let (mut c, _) = Client::hello(&url, "s", "c", None).await;
    c.send_raw(Message::binary(vec![0u8; 10])).await;
    c.refused(ErrorCode::BadMessage, close::UNSUPPORTED_DATA).await;

    // A text frame that is not UTF-8.
    let (mut c, _) = Client::hello(&url, "s", "c", None).await;
    let frame = Frame::message(vec![b'{', 0xff, 0xfe, b'}'], OpCode::Data(Data::Text), true);
    c.send_raw(Message::Frame(frame)).await;
    let (_, reason) = c.refused(ErrorCode::BadMessage, close::INVALID_DATA).await;
    assert_eq!(reason, "a text frame is not valid UTF-8");

    // A message over the limit.
    let (mut c, _) = Client::hello(&url, "s", "c", None).await;
    let mut huge = batch(4, 1, "c");
    huge[0].args = serde_json::json!({ "text": "z".repeat(10_000) }).into();
    c.send(&ClientMessage::Push { batch: huge }).await;
    let (message, reason) = c.refused(ErrorCode::MessageTooLarge, close::TOO_BIG).await;
    assert!(message.contains("4096"), "{message}");
    assert!(reason.contains("4096"), "{reason}");
    // Also before hello.
    let mut c = Client::connect(&url).await;
    c.send_text(&"x".repeat(5000)).await;
    c.refused(ErrorCode::MessageTooLarge, close::TOO_BIG).await;

    assert_eq!(storage.head("s").unwrap(), 3);
    still_serving(&server, &storage).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn vanishing_silent_and_surplus_clients() {
    let mut cfg = config();
    cfg.idle_timeout = Duration::from_millis(300);
    cfg.max_connections = 3;
    let (server, storage) = seeded(cfg).await;
    let url = server.url();

    // A client that vanishes mid-push (the TCP connection just goes).
    let (mut c, _) = Client::hello(&url, "s", "gone", None).await;
    c.send(&ClientMessage::Push { batch: batch(4, 2, "gone") }).await;
    drop(c);
    // A client that never answers the server's pings is closed as idle.
    let (mut silent, _) = Client::hello(&url, "s", "silent", None).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(silent.closed(close::POLICY).await.contains("idle_timeout"));
    // A client that reads (so answers pings) stays.
    let (mut alive, _) = Client::hello(&url, "s", "alive", None).await;
    let deadline = tokio::time::Instant::now() + Duration::from_millis(800);
    while let Ok(Some(Ok(m))) = tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut alive.ws)).await {
        assert!(m.is_ping(), "{m:?}");
    }
    // The vanished client's push was either stored whole or not at all.
    let head = storage.head("s").unwrap();
    assert!(head == 3 || head == 5, "{head}");

    // max_connections = 3: `alive` and two more; the fourth is refused.
    let (_b, _) = Client::hello(&url, "s", "b", None).await;
    let (_c, _) = Client::hello(&url, "s", "c", None).await;
    let mut full = Client::connect(&url).await;
    let (message, reason) = full.refused(ErrorCode::ServerFull, close::TRY_AGAIN_LATER).await;
    assert!(message.contains("retry later"), "{message}");
    assert_eq!(reason, "server full");
    drop(alive);
    // Once one leaves, a new one gets in (the server notices the close quickly).
    let mut tries = 0;
    loop {
        let mut c = Client::connect(&url).await;
        c.send(&hello("s", "late", None)).await;
        match c.next().await {
            Got::Msg(ServerMessage::Welcome { .. }) => break,
            _ if tries < 50 => {
                tries += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("still refused: {other:?}"),
        }
    }
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_client_too_far_behind_is_disconnected_and_catches_up_by_pulling() {
    let mut cfg = config();
    cfg.conn_queue = 2;
    cfg.max_message_bytes = 1 << 20;
    // Long enough that the blocked write to `slow` outlasts the pushes.
    cfg.send_timeout = Duration::from_secs(60);
    let (server, storage) = seeded(cfg).await;
    let url = server.url();
    let (mut slow, _) = Client::hello(&url, "s", "slow", None).await;
    slow.send(&ClientMessage::Pull { after: 3, limit: None, live: true }).await;
    assert_eq!(slow.events().await, (vec![], 3, false));

    // `slow` reads nothing while ~16 MB of events are appended: its socket
    // buffers fill, its queue overflows. Appends are not slowed down.
    let (mut pusher, _) = Client::hello(&url, "s", "pusher", None).await;
    let text = "w".repeat(400_000);
    let started = std::time::Instant::now();
    for g in 4..44 {
        let mut b = batch(g, 1, "pusher");
        b[0].args = serde_json::json!({ "text": text }).into();
        assert_eq!(pusher.push(b).await, ServerMessage::PushAck { head: g });
    }
    assert!(started.elapsed() < Duration::from_secs(20));

    // Now `slow` reads: some live events (contiguous), then the LAGGING
    // error and the close.
    let mut next = 4;
    loop {
        match slow.next().await {
            Got::Msg(ServerMessage::Events { events, .. }) => {
                assert_eq!(globals(&events), vec![next]);
                next += 1;
            }
            Got::Msg(ServerMessage::Error { code: ErrorCode::Lagging, message, .. }) => {
                assert!(message.contains("reconnect and pull"), "{message}");
                break;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    eprintln!("lagging client got events 4..{next} before the close; pushes took {:?}", started.elapsed());
    assert!(next < 44, "the queue overflowed before everything was sent");
    assert_eq!(slow.closed(close::LAGGING).await, "too far behind: reconnect and pull");

    // It reconnects and catches up by pulling.
    let (mut again, _) = Client::hello(&url, "s", "slow", None).await;
    let rest = again.pull_all(next - 1).await;
    assert_eq!(globals(&rest), (next..44).collect::<Vec<_>>());
    assert_eq!(storage.head("s").unwrap(), 43);
    server.shutdown().await.unwrap();
}
