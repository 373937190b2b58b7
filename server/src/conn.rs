//! One WebSocket connection: `hello` (auth), then push / pull / live until
//! either side closes.
//!
//! A connection is one task that handles its messages in order. Live events
//! come from the hub through a bounded queue, so a slow client never slows
//! an append; every write to the socket has a time limit, so a client that
//! stops reading is dropped.

use crate::hub::Live;
use crate::storage::Append;
use crate::validate::PushContext;
use crate::{AuthRequest, Shared};
use axum::extract::ws::{CloseFrame, Message, Utf8Bytes, WebSocket};
use livestore_rs::protocol::{check_batch, close, ClientMessage, ErrorCode, ServerMessage, PROTOCOL_VERSION};
use livestore_rs::EventRecord;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::OwnedSemaphorePermit;
use tracing::{debug, info, warn, Instrument};

/// Longest store id / client id accepted, in bytes.
const MAX_ID_BYTES: usize = 256;

/// How a connection ends.
enum End {
    /// Send this close frame (after an optional error message).
    Close(u16, String),
    /// The peer is gone or the socket failed: nothing more to send.
    Gone(String),
}

type Step = Result<(), End>;

struct Conn {
    shared: Arc<Shared>,
    socket: WebSocket,
    store_id: String,
    client_id: String,
    live: Option<Live>,
    last_seen: Instant,
}

pub(crate) async fn run(
    shared: Arc<Shared>,
    socket: WebSocket,
    peer: SocketAddr,
    permit: Option<OwnedSemaphorePermit>,
) {
    let span = tracing::info_span!("conn", %peer);
    async move {
        let mut conn = Conn {
            shared,
            socket,
            store_id: String::new(),
            client_id: String::new(),
            live: None,
            last_seen: Instant::now(),
        };
        let end = match permit {
            None => {
                warn!("refused: {} connections open (max_connections)", conn.shared.config.max_connections);
                conn.fail(ErrorCode::ServerFull, "the server has as many connections as it accepts; retry later").await;
                End::Close(close::TRY_AGAIN_LATER, "server full".into())
            }
            Some(_) => match conn.hello().await {
                Err(end) => end,
                Ok(()) => {
                    let span = tracing::info_span!("store", store = %conn.store_id, client = %conn.client_id);
                    conn.serve().instrument(span).await.err().unwrap_or(End::Close(close::NORMAL, String::new()))
                }
            },
        };
        // `permit` (if any) is held until here: shutdown waits for it.
        conn.finish(end).await;
        drop(conn);
        drop(permit);
    }
    .instrument(span)
    .await
}

fn text(msg: &ServerMessage) -> Utf8Bytes {
    Utf8Bytes::from(serde_json::to_string(msg).expect("server messages serialize"))
}

/// An `events` message with as many of `events` (the events after `after`,
/// in order) as fit in about `budget` bytes (at least one), and how many
/// that is. `more` tells whether the store has events after the last one
/// sent, up to `head`.
pub(crate) fn encode_events(events: &[EventRecord], after: u64, head: u64, budget: usize) -> (String, usize) {
    let mut out = String::from(r#"{"type":"events","events":["#);
    let mut n = 0;
    for e in events {
        let json = serde_json::to_string(e).expect("events serialize");
        if n > 0 && out.len() + json.len() + 64 > budget {
            break;
        }
        if n > 0 {
            out.push(',');
        }
        out.push_str(&json);
        n += 1;
    }
    let last = if n > 0 { events[n - 1].seq_num.global } else { after };
    let head = head.max(last);
    let more = last < head;
    out.push_str(&format!(r#"],"head":{head},"more":{more}}}"#));
    (out, n)
}

/// How a read error ends the connection.
enum ReadError {
    TooBig,
    /// A broken frame: close with this code and reason.
    Invalid(u16, String),
    Gone(String),
}

fn read_error(e: axum::Error) -> ReadError {
    use tungstenite::Error as E;
    match e.into_inner().downcast::<E>().map(|e| *e) {
        Ok(E::Capacity(_)) => ReadError::TooBig,
        Ok(E::Utf8(_)) => ReadError::Invalid(close::INVALID_DATA, "a text frame is not valid UTF-8".into()),
        Ok(E::Protocol(p)) => ReadError::Invalid(close::PROTOCOL_ERROR, format!("WebSocket protocol error: {p}")),
        Ok(other) => ReadError::Gone(format!("read failed: {other}")),
        Err(other) => ReadError::Gone(format!("read failed: {other}")),
    }
}

impl Conn {
    async fn send(&mut self, msg: Utf8Bytes) -> Step {
        match tokio::time::timeout(self.shared.config.send_timeout, self.socket.send(Message::Text(msg))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(End::Gone(format!("send failed: {e}"))),
            Err(_) => Err(End::Gone(format!(
                "the client did not read a message within {:?} (send_timeout)",
                self.shared.config.send_timeout
            ))),
        }
    }

    async fn reply(&mut self, msg: &ServerMessage) -> Step {
        self.send(text(msg)).await
    }

    async fn error(&mut self, code: ErrorCode, message: impl Into<String>) -> Step {
        let message = message.into();
        debug!(%code, "error: {message}");
        self.reply(&ServerMessage::error(code, message)).await
    }

    /// Sends an error before closing; a failure to send does not matter then.
    async fn fail(&mut self, code: ErrorCode, message: impl Into<String>) {
        let _ = self.error(code, message).await;
    }

    async fn finish(&mut self, end: End) {
        match end {
            End::Gone(why) => debug!("connection gone: {why}"),
            End::Close(code, reason) => {
                if code == close::NORMAL {
                    debug!("closing")
                } else {
                    info!(code, "closing: {reason}")
                }
                let frame = CloseFrame { code, reason: Utf8Bytes::from(reason) };
                let t = Duration::from_secs(1);
                if let Ok(Ok(())) = tokio::time::timeout(t, self.socket.send(Message::Close(Some(frame)))).await {
                    // Wait (briefly) for the client's close reply so that it
                    // reads the close frame before the TCP connection goes.
                    let _ =
                        tokio::time::timeout(t, async { while let Some(Ok(_)) = self.socket.recv().await {} }).await;
                }
            }
        }
    }

    /// Receives the next message, seen through the protocol's rules for
    /// frames: `Ok(None)` for control frames, the text of a text frame, or
    /// how the connection ends.
    async fn frame(&mut self, frame: Option<Result<Message, axum::Error>>) -> Result<Option<Utf8Bytes>, End> {
        match frame {
            None => Err(End::Gone("the client closed the connection".into())),
            Some(Ok(Message::Text(t))) => {
                self.last_seen = Instant::now();
                Ok(Some(t))
            }
            Some(Ok(Message::Binary(_))) => {
                self.fail(ErrorCode::BadMessage, "binary frames are not supported: send JSON text frames").await;
                Err(End::Close(close::UNSUPPORTED_DATA, "binary frames are not supported".into()))
            }
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => {
                self.last_seen = Instant::now();
                Ok(None)
            }
            Some(Ok(Message::Close(_))) => Err(End::Gone("the client closed the connection".into())),
            Some(Err(e)) => match read_error(e) {
                ReadError::TooBig => {
                    let max = self.shared.config.max_message_bytes;
                    let message = format!("a message is larger than {max} bytes (maxMessageBytes)");
                    self.fail(ErrorCode::MessageTooLarge, message).await;
                    Err(End::Close(close::TOO_BIG, format!("message larger than {max} bytes")))
                }
                ReadError::Invalid(code, reason) => {
                    self.fail(ErrorCode::BadMessage, reason.clone()).await;
                    Err(End::Close(code, reason))
                }
                ReadError::Gone(why) => Err(End::Gone(why)),
            },
        }
    }

    /// Waits for the `hello`, checks it and answers with `welcome`.
    async fn hello(&mut self) -> Step {
        let timeout = self.shared.config.hello_timeout;
        let deadline = tokio::time::Instant::now() + timeout;
        let mut shutdown = self.shared.shutdown.subscribe();
        let text = loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.wait_for(|&s| s) => return Err(End::Close(close::GOING_AWAY, "server shutting down".into())),
                r = tokio::time::timeout_at(deadline, self.socket.recv()) => r,
            };
            let Ok(frame) = next else {
                self.fail(ErrorCode::NotHello, format!("no hello within {timeout:?}")).await;
                return Err(End::Close(close::POLICY, "no hello in time".into()));
            };
            if let Some(text) = self.frame(frame).await? {
                break text;
            }
        };
        let (store_id, client_id, token, version) = match serde_json::from_str::<ClientMessage>(&text) {
            Ok(ClientMessage::Hello { store_id, client_id, token, protocol_version, .. }) => {
                (store_id, client_id, token, protocol_version)
            }
            Ok(_) => {
                self.fail(ErrorCode::NotHello, "the first message must be a hello").await;
                return Err(End::Close(close::POLICY, "no hello first".into()));
            }
            Err(e) => {
                self.fail(ErrorCode::BadMessage, format!("the first message must be a hello: {e}")).await;
                return Err(End::Close(close::POLICY, "no hello first".into()));
            }
        };
        if let Some(v) = version.filter(|&v| v != PROTOCOL_VERSION) {
            self.fail(
                ErrorCode::UnsupportedProtocol,
                format!("protocol version {v} is not supported (this server speaks {PROTOCOL_VERSION})"),
            )
            .await;
            return Err(End::Close(close::POLICY, "unsupported protocol version".into()));
        }
        for (name, value) in [("storeId", &store_id), ("clientId", &client_id)] {
            if value.is_empty() || value.len() > MAX_ID_BYTES {
                self.fail(ErrorCode::BadMessage, format!("{name} must have 1 to {MAX_ID_BYTES} bytes")).await;
                return Err(End::Close(close::POLICY, format!("bad {name}")));
            }
        }
        let request = AuthRequest { store_id: &store_id, client_id: &client_id, token: token.as_deref() };
        if let Err(e) = self.shared.auth.check(&request) {
            warn!(store = %store_id, client = %client_id, code = %e.code, "refused: {}", e.message);
            self.fail(e.code, e.message).await;
            let reason = if e.code == ErrorCode::StoreMismatch { "wrong store" } else { "unauthorized" };
            return Err(End::Close(close::POLICY, reason.into()));
        }
        let head = match self.shared.hub.head(&store_id).await {
            Ok(head) => head,
            Err(e) => {
                warn!("storage failed: {e}");
                self.fail(ErrorCode::Internal, "storage failed; retry later").await;
                return Err(End::Close(close::INTERNAL, "storage failed".into()));
            }
        };
        info!(store = %store_id, client = %client_id, head, "hello");
        self.store_id = store_id;
        self.client_id = client_id;
        let welcome = ServerMessage::Welcome {
            backend_id: self.shared.backend_id.clone(),
            head,
            protocol_version: PROTOCOL_VERSION,
            limits: self.shared.config.limits(),
        };
        self.reply(&welcome).await
    }

    /// The main loop, after `welcome`.
    async fn serve(&mut self) -> Step {
        let idle = self.shared.config.idle_timeout;
        let mut ping = tokio::time::interval(idle / 3);
        ping.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        ping.tick().await;
        let mut shutdown = self.shared.shutdown.subscribe();
        enum Next {
            Frame(Option<Result<Message, axum::Error>>),
            Live(Option<Utf8Bytes>),
            Tick,
        }
        loop {
            let next = tokio::select! {
                biased;
                _ = shutdown.wait_for(|&s| s) => {
                    return Err(End::Close(close::GOING_AWAY, "server shutting down".into()));
                }
                frame = self.socket.recv() => Next::Frame(frame),
                item = recv_live(&mut self.live) => Next::Live(item),
                _ = ping.tick() => Next::Tick,
            };
            match next {
                Next::Frame(frame) => {
                    if let Some(text) = self.frame(frame).await? {
                        self.handle(&text).await?;
                    }
                }
                Next::Live(item) => self.forward_live(item).await?,
                Next::Tick => {
                    if self.last_seen.elapsed() >= idle {
                        return Err(End::Close(close::POLICY, format!("nothing received for {idle:?} (idle_timeout)")));
                    }
                    let ping = Message::Ping(Default::default());
                    let sent = tokio::time::timeout(self.shared.config.send_timeout, self.socket.send(ping)).await;
                    if !matches!(sent, Ok(Ok(()))) {
                        return Err(End::Gone("ping failed".into()));
                    }
                }
            }
        }
    }

    async fn handle(&mut self, text: &str) -> Step {
        let msg = match ClientMessage::from_json(text) {
            Ok(msg) => msg,
            Err(e) => {
                let hint = if text.trim_start().starts_with('{') { "" } else { " (expected a JSON object)" };
                return self.error(ErrorCode::BadMessage, format!("cannot read the message: {e}{hint}")).await;
            }
        };
        match msg {
            ClientMessage::Hello { store_id, .. } if store_id != self.store_id => {
                let message = format!("this connection is for store '{}', not '{store_id}'", self.store_id);
                self.error(ErrorCode::StoreMismatch, message).await
            }
            ClientMessage::Hello { .. } => self.error(ErrorCode::BadMessage, "hello was already sent").await,
            ClientMessage::Push { batch } => self.push(batch).await,
            ClientMessage::Pull { after, limit, live } => {
                let max = self.shared.config.max_pull_limit;
                let limit = limit.map_or(max, |l| (l as usize).clamp(1, max));
                if live {
                    self.pull_live(after, limit).await
                } else {
                    self.pull(after, limit).await
                }
            }
        }
    }

    async fn push(&mut self, batch: Vec<EventRecord>) -> Step {
        let max = self.shared.config.max_batch_events;
        if batch.len() > max {
            let message = format!("the batch has {} events; at most {max} are accepted (maxBatchEvents)", batch.len());
            return self.error(ErrorCode::BatchTooLarge, message).await;
        }
        if let Err(msg) = check_batch(&batch) {
            return self.reply(&msg).await;
        }
        let ctx = PushContext { store_id: &self.store_id, client_id: &self.client_id };
        for e in &batch {
            if let Err(reason) = self.shared.validator.validate(&ctx, e) {
                info!(event = %e.name, seq_num = %e.seq_num, "event rejected: {reason}");
                let message = format!("event {} ({}) was rejected: {reason}", e.seq_num, e.name);
                let msg = ServerMessage::Error {
                    code: ErrorCode::EventRejected,
                    message,
                    event: Some(e.name.clone()),
                    seq_num: Some(e.seq_num),
                };
                return self.reply(&msg).await;
            }
        }
        let (first, count) = (batch[0].seq_num.global, batch.len());
        let result = self
            .shared
            .hub
            .push(&self.store_id, batch, |events, head| encode_events(events, first - 1, head, usize::MAX).0)
            .await;
        match result {
            Ok(Append::Appended { head }) => {
                debug!(first, count, head, "appended");
                self.drain_live().await?;
                self.reply(&ServerMessage::PushAck { head }).await
            }
            Ok(Append::Rejected { head }) => {
                debug!(first, head, "push rejected: not on top of the head");
                self.drain_live().await?;
                self.reply(&ServerMessage::PushRejected { head }).await
            }
            Err(e) => {
                warn!("storage failed: {e}");
                self.error(ErrorCode::Internal, "storage failed; the batch may not be stored: pull, then push again")
                    .await
            }
        }
    }

    /// Sends what waits in the live queue, so that the answer that follows
    /// comes after every event up to its head.
    async fn drain_live(&mut self) -> Step {
        loop {
            let item = match &mut self.live {
                Some(live) => match live.rx.try_recv() {
                    Ok(item) => Some(item),
                    Err(tokio::sync::mpsc::error::TryRecvError::Empty) => return Ok(()),
                    Err(tokio::sync::mpsc::error::TryRecvError::Disconnected) => None,
                },
                None => return Ok(()),
            };
            self.forward_live(item).await?;
        }
    }

    async fn forward_live(&mut self, item: Option<Utf8Bytes>) -> Step {
        let lagged = self.live.as_ref().is_some_and(|l| l.lagged.load(Ordering::SeqCst));
        match item {
            Some(text) if !lagged => self.send(text).await,
            _ => {
                let queue = self.shared.config.conn_queue;
                warn!("live queue full ({queue} messages): disconnecting a lagging client");
                self.fail(
                    ErrorCode::Lagging,
                    format!("more than {queue} live messages waited for this connection: reconnect and pull"),
                )
                .await;
                Err(End::Close(close::LAGGING, "too far behind: reconnect and pull".into()))
            }
        }
    }

    async fn read(&mut self, after: u64, limit: usize) -> Result<(Vec<EventRecord>, u64), crate::StorageError> {
        let store = self.store_id.clone();
        let shared = self.shared.clone();
        shared
            .hub
            .blocking(move |s| {
                let events = s.read(&store, after, limit)?;
                let head = s.head(&store)?;
                Ok((events, head))
            })
            .await
    }

    async fn pull(&mut self, after: u64, limit: usize) -> Step {
        let (events, head) = match self.read(after, limit).await {
            Ok(r) => r,
            Err(e) => {
                warn!("storage failed: {e}");
                return self.error(ErrorCode::Internal, "storage failed; retry later").await;
            }
        };
        if after > head {
            return self.cursor_ahead(after, head).await;
        }
        let (text, _) = encode_events(&events, after, head, self.shared.config.max_message_bytes);
        self.send(Utf8Bytes::from(text)).await
    }

    async fn cursor_ahead(&mut self, after: u64, head: u64) -> Step {
        let message = format!(
            "after = {after} is beyond the store's head ({head}): this server does not have events the client saw"
        );
        self.error(ErrorCode::CursorAhead, message).await
    }

    async fn pull_live(&mut self, after: u64, limit: usize) -> Step {
        self.live = None;
        let (live_from, live) = match self.shared.hub.subscribe(&self.store_id, self.shared.config.conn_queue).await {
            Ok(r) => r,
            Err(e) => {
                warn!("storage failed: {e}");
                return self.error(ErrorCode::Internal, "storage failed; retry later").await;
            }
        };
        if after > live_from {
            return self.cursor_ahead(after, live_from).await;
        }
        debug!(after, head = live_from, "live pull");
        let lagged = live.lagged.clone();
        self.live = Some(live);
        // Catch up to `live_from` from storage; what is appended after it
        // waits in the live queue.
        let mut cursor = after;
        loop {
            if *self.shared.shutdown.borrow() {
                return Err(End::Close(close::GOING_AWAY, "server shutting down".into()));
            }
            if lagged.load(Ordering::SeqCst) {
                return self.forward_live(None).await;
            }
            let mut events = if cursor < live_from {
                match self.read(cursor, limit).await {
                    Ok((events, _)) => events,
                    Err(e) => {
                        warn!("storage failed: {e}");
                        self.live = None;
                        return self.error(ErrorCode::Internal, "storage failed; pull again").await;
                    }
                }
            } else {
                Vec::new()
            };
            events.retain(|e| e.seq_num.global <= live_from);
            let (text, n) = encode_events(&events, cursor, live_from, self.shared.config.max_message_bytes);
            let next = if n > 0 { events[n - 1].seq_num.global } else { cursor };
            let more = next < live_from;
            if n == 0 && more {
                warn!(cursor, head = live_from, "storage has no events below its head");
                self.live = None;
                return self.error(ErrorCode::Internal, "storage is missing events; retry later").await;
            }
            self.send(Utf8Bytes::from(text)).await?;
            if !more {
                return Ok(());
            }
            cursor = next;
        }
    }
}

async fn recv_live(live: &mut Option<Live>) -> Option<Utf8Bytes> {
    match live {
        Some(live) => live.rx.recv().await,
        None => std::future::pending().await,
    }
}
