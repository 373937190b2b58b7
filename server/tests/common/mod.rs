//! Test helpers: a real server on 127.0.0.1 (ephemeral port) and a real
//! WebSocket client speaking the protocol.
#![allow(dead_code)]

use futures_util::{SinkExt, StreamExt};
use livestore_rs::protocol::{ClientMessage, ErrorCode, ServerMessage};
use livestore_rs::{EventRecord, SeqNum};
use livestore_rs_server::{Config, MemoryStorage, RunningServer, Server, Storage};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

pub const WAIT: Duration = Duration::from_secs(10);

pub fn config() -> Config {
    Config { addr: "127.0.0.1:0".parse().unwrap(), ..Config::default() }
}

pub async fn start(config: Config, storage: Arc<dyn Storage>) -> RunningServer {
    Server::new(config, storage).bind().await.expect("server starts")
}

pub async fn start_memory() -> RunningServer {
    start(config(), Arc::new(MemoryStorage::new())).await
}

/// A synced event at `global`, right after `global - 1`.
pub fn ev(global: u64, client: &str) -> EventRecord {
    EventRecord {
        seq_num: SeqNum { global, client: 0, rebase_generation: 0 },
        parent_seq_num: SeqNum { global: global - 1, client: 0, rebase_generation: 0 },
        name: "v1.TodoCreated".into(),
        args: json!({ "id": format!("{client}-{global}"), "text": "x" }).into(),
        client_id: client.into(),
        session_id: format!("{client}-tab"),
        client_only: false,
    }
}

/// `n` contiguous events starting at `from`.
pub fn batch(from: u64, n: u64, client: &str) -> Vec<EventRecord> {
    (from..from + n).map(|g| ev(g, client)).collect()
}

pub struct Client {
    pub ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What a connection received: a message, or its end.
#[derive(Debug)]
pub enum Got {
    Msg(ServerMessage),
    Close(u16, String),
    Ended,
}

impl Client {
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("connects");
        Client { ws }
    }

    /// Connects and says hello; returns the client and the welcome.
    pub async fn hello(url: &str, store: &str, client: &str, token: Option<&str>) -> (Client, ServerMessage) {
        let mut c = Client::connect(url).await;
        c.send(&hello(store, client, token)).await;
        let welcome = c.msg().await;
        assert!(matches!(welcome, ServerMessage::Welcome { .. }), "expected welcome, got {welcome:?}");
        (c, welcome)
    }

    pub async fn send(&mut self, msg: &ClientMessage) {
        self.send_text(&serde_json::to_string(msg).unwrap()).await;
    }

    pub async fn send_text(&mut self, text: &str) {
        self.ws.send(Message::text(text)).await.expect("sends");
    }

    pub async fn send_raw(&mut self, msg: Message) {
        self.ws.send(msg).await.expect("sends");
    }

    /// The next message or the end of the connection (pings skipped).
    pub async fn next(&mut self) -> Got {
        loop {
            match tokio::time::timeout(WAIT, self.ws.next()).await.expect("an answer within the time limit") {
                Some(Ok(Message::Text(t))) => {
                    return Got::Msg(serde_json::from_str(&t).unwrap_or_else(|e| panic!("bad server JSON {t}: {e}")))
                }
                Some(Ok(Message::Close(frame))) => {
                    return match frame {
                        Some(f) => Got::Close(u16::from(f.code), f.reason.to_string()),
                        None => Got::Close(u16::from(CloseCode::Status), String::new()),
                    }
                }
                Some(Ok(Message::Ping(_) | Message::Pong(_) | Message::Frame(_))) => continue,
                Some(Ok(Message::Binary(b))) => panic!("unexpected binary message {b:?}"),
                Some(Err(_)) | None => return Got::Ended,
            }
        }
    }

    pub async fn msg(&mut self) -> ServerMessage {
        match self.next().await {
            Got::Msg(m) => m,
            other => panic!("expected a message, got {other:?}"),
        }
    }

    /// Expects an error message with `code`; returns its message text.
    pub async fn error(&mut self, code: ErrorCode) -> String {
        match self.msg().await {
            ServerMessage::Error { code: c, message, .. } if c == code => message,
            other => panic!("expected error {code}, got {other:?}"),
        }
    }

    /// Expects the connection to close with `code`; returns the reason.
    pub async fn closed(&mut self, code: u16) -> String {
        match self.next().await {
            Got::Close(c, reason) if c == code => reason,
            other => panic!("expected close {code}, got {other:?}"),
        }
    }

    /// Expects an error with `code`, then a close with `close`.
    pub async fn refused(&mut self, code: ErrorCode, close: u16) -> (String, String) {
        let message = self.error(code).await;
        let reason = self.closed(close).await;
        (message, reason)
    }

    pub async fn push(&mut self, batch: Vec<EventRecord>) -> ServerMessage {
        self.send(&ClientMessage::Push { batch }).await;
        self.msg().await
    }

    /// Pushes and skips `events` messages (a live connection's echo) until
    /// the answer.
    pub async fn push_answer(&mut self, batch: Vec<EventRecord>) -> ServerMessage {
        self.send(&ClientMessage::Push { batch }).await;
        loop {
            match self.msg().await {
                ServerMessage::Events { .. } => continue,
                other => return other,
            }
        }
    }

    pub async fn pull(&mut self, after: u64, limit: Option<u32>) -> (Vec<EventRecord>, u64, bool) {
        self.send(&ClientMessage::Pull { after, limit, live: false }).await;
        self.events().await
    }

    pub async fn events(&mut self) -> (Vec<EventRecord>, u64, bool) {
        match self.msg().await {
            ServerMessage::Events { events, head, more } => (events, head, more),
            other => panic!("expected events, got {other:?}"),
        }
    }

    /// Every event after `after`, page by page.
    pub async fn pull_all(&mut self, mut after: u64) -> Vec<EventRecord> {
        let mut all = Vec::new();
        loop {
            let (events, _head, more) = self.pull(after, None).await;
            if let Some(last) = events.last() {
                after = last.seq_num.global;
            }
            all.extend(events);
            if !more {
                return all;
            }
        }
    }
}

pub fn hello(store: &str, client: &str, token: Option<&str>) -> ClientMessage {
    ClientMessage::Hello {
        store_id: store.into(),
        client_id: client.into(),
        token: token.map(String::from),
        session_id: None,
        protocol_version: None,
    }
}

pub fn head_of(welcome: &ServerMessage) -> u64 {
    match welcome {
        ServerMessage::Welcome { head, .. } => *head,
        other => panic!("not a welcome: {other:?}"),
    }
}

pub fn backend_of(welcome: &ServerMessage) -> String {
    match welcome {
        ServerMessage::Welcome { backend_id, .. } => backend_id.clone(),
        other => panic!("not a welcome: {other:?}"),
    }
}

/// Globals of `events`.
pub fn globals(events: &[EventRecord]) -> Vec<u64> {
    events.iter().map(|e| e.seq_num.global).collect()
}

/// The store has exactly the events `1..=n` and each is the one pushed.
pub fn assert_log(events: &[EventRecord], expected: &[EventRecord]) {
    assert_eq!(globals(events), globals(expected));
    assert_eq!(events, expected);
}

pub fn json_of(msg: &ServerMessage) -> Value {
    serde_json::to_value(msg).unwrap()
}
