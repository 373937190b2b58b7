//! The client side of the sync protocol (`protocol.rs`), run by the leader:
//! a state machine without I/O. The caller (the leader worker's WebSocket,
//! or a simulated network in tests) feeds it what the connection does and
//! sends what it returns.
//!
//! After `welcome` it pulls live from its sync head; once caught up it
//! pushes pending events, one batch in flight. Server events are taken in
//! by `Leader::pull_upstream` (confirm, or rebase the pending ones). A
//! refused event is rolled back on this client and reported.

use crate::error::{Error, Result};
use crate::event::SeqNum;
use crate::leader::{Leader, NextPush, Rewrite};
use crate::protocol::{ClientMessage, ErrorCode, Limits, ServerMessage, PROTOCOL_VERSION};
use crate::session::Materialize;

#[derive(Debug, Clone)]
pub struct SyncConfig {
    pub store_id: String,
    pub client_id: String,
    pub token: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Offline,
    /// Connected, `hello` sent.
    Hello,
    /// Pulling what the server has.
    CatchingUp,
    /// Up to date: new events stream in, pending ones are pushed.
    Live,
}

/// What the caller must do after feeding the state machine.
#[derive(Debug, Default)]
pub struct Outcome {
    /// Messages to send, in order.
    pub send: Vec<ClientMessage>,
    /// How the leader's log changed (tell the sessions).
    pub rewrites: Vec<Rewrite>,
    /// Problems to report to the app; the client keeps going unless `stop`.
    pub errors: Vec<SyncError>,
    /// Close the connection and reconnect later (with backoff).
    pub reconnect: bool,
    /// Close the connection and do not reconnect: syncing cannot go on.
    pub stop: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SyncError {
    pub code: String,
    pub message: String,
    pub event: Option<String>,
    pub seq_num: Option<SeqNum>,
}

impl SyncError {
    fn new(code: &str, message: impl Into<String>) -> SyncError {
        SyncError { code: code.to_string(), message: message.into(), event: None, seq_num: None }
    }
}

pub struct SyncClient {
    config: SyncConfig,
    phase: Phase,
    in_flight: bool,
    limits: Option<Limits>,
    /// Why syncing stopped for good (until the app resets the store).
    stopped: Option<SyncError>,
}

impl SyncClient {
    pub fn new(config: SyncConfig) -> SyncClient {
        SyncClient { config, phase: Phase::Offline, in_flight: false, limits: None, stopped: None }
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn stopped(&self) -> Option<&SyncError> {
        self.stopped.as_ref()
    }

    /// The connection opened: the `hello` to send.
    pub fn connected(&mut self) -> ClientMessage {
        self.phase = Phase::Hello;
        self.in_flight = false;
        ClientMessage::Hello {
            store_id: self.config.store_id.clone(),
            client_id: self.config.client_id.clone(),
            token: self.config.token.clone(),
            session_id: None,
            protocol_version: Some(PROTOCOL_VERSION),
        }
    }

    /// The connection closed (or failed): whatever was in flight is unknown
    /// until the next catch-up tells.
    pub fn disconnected(&mut self) {
        self.phase = Phase::Offline;
        self.in_flight = false;
    }

    /// New local events were appended: push them if nothing is in flight.
    pub fn local_events(&mut self, leader: &mut Leader, m: &dyn Materialize) -> Result<Outcome> {
        let mut out = Outcome::default();
        self.push_next(leader, m, &mut out)?;
        Ok(out)
    }

    /// A message from the server. An `Err` is a local failure (storage);
    /// the connection should be closed and retried.
    pub fn receive(&mut self, leader: &mut Leader, msg: ServerMessage, m: &dyn Materialize) -> Result<Outcome> {
        let mut out = Outcome::default();
        if self.stopped.is_some() {
            out.stop = true;
            return Ok(out);
        }
        match msg {
            ServerMessage::Welcome { backend_id, head, limits, .. } => {
                if self.phase != Phase::Hello {
                    return Ok(self.protocol_error(out, "a second welcome"));
                }
                match leader.backend_id() {
                    Some(known) if known != backend_id && leader.sync_head() != SeqNum::ROOT => {
                        return Ok(self.stop(out, SyncError::new(
                            "BACKEND_RESET",
                            format!(
                                "the sync server's data was reset (backend {backend_id}, was {known}): the events this client synced are gone from it; reset this client's local data (resetPersistence) to start over from the server"
                            ),
                        )));
                    }
                    Some(known) if known == backend_id => {}
                    _ => leader.set_backend_id(&backend_id)?,
                }
                if head < leader.sync_head().global {
                    return Ok(self.stop(out, SyncError::new(
                        "SERVER_BEHIND",
                        format!(
                            "the sync server's log ends at e{head}, before e{} that this client synced: the server lost events",
                            leader.sync_head().global
                        ),
                    )));
                }
                self.limits = Some(limits);
                self.phase = Phase::CatchingUp;
                out.send.push(ClientMessage::Pull { after: leader.sync_head().global, limit: None, live: true });
            }
            ServerMessage::Events { events, more, .. } => {
                if matches!(self.phase, Phase::Offline | Phase::Hello) {
                    return Ok(self.protocol_error(out, "events before welcome"));
                }
                match leader.pull_upstream(&events, m) {
                    Ok(rewrite) => out.rewrites.extend(rewrite),
                    Err(e @ Error::InvalidUpstream(_)) => {
                        // A gap or a malformed page: pull again from the sync head.
                        out.errors.push(SyncError::new("INVALID_UPSTREAM", e.to_string()));
                        out.reconnect = true;
                        return Ok(out);
                    }
                    Err(e) => {
                        return Ok(self.stop(
                            out,
                            SyncError::new(
                                "SYNC_FAILED",
                                format!("the server's events could not be applied on this client: {e}"),
                            ),
                        ))
                    }
                }
                if !more && self.phase == Phase::CatchingUp {
                    self.phase = Phase::Live;
                }
                self.push_next(leader, m, &mut out)?;
            }
            ServerMessage::PushAck { .. } | ServerMessage::PushRejected { .. } => {
                // Rejected: the server sent the events that came first before
                // saying so, and the pending ones are rebased on them already.
                self.in_flight = false;
                self.push_next(leader, m, &mut out)?;
            }
            ServerMessage::Error { code, message, event, seq_num } => {
                self.server_error(leader, m, &mut out, code, message, event, seq_num)?
            }
        }
        Ok(out)
    }

    #[allow(clippy::too_many_arguments)]
    fn server_error(
        &mut self,
        leader: &mut Leader,
        m: &dyn Materialize,
        out: &mut Outcome,
        code: ErrorCode,
        message: String,
        event: Option<String>,
        seq_num: Option<SeqNum>,
    ) -> Result<()> {
        let error = SyncError { code: code.as_str().to_string(), message, event, seq_num };
        match code {
            ErrorCode::EventRejected => {
                self.in_flight = false;
                if let Some(seq) = seq_num {
                    out.rewrites.extend(leader.reject(seq, error.event.as_deref(), m)?);
                }
                out.errors.push(SyncError {
                    message: format!(
                        "the sync server refused event {}: {}",
                        error.event.as_deref().unwrap_or("?"),
                        error.message
                    ),
                    ..error
                });
                self.push_next(leader, m, out)?;
            }
            ErrorCode::Internal | ErrorCode::ServerFull | ErrorCode::Lagging => {
                out.errors.push(error);
                out.reconnect = true;
            }
            ErrorCode::CursorAhead => {
                let e = SyncError::new(
                    "SERVER_BEHIND",
                    format!("the sync server lost events this client synced: {}", error.message),
                );
                *out = self.stop(std::mem::take(out), e);
            }
            _ => {
                // Refused credentials, or a message this client should not
                // have sent: retrying would loop.
                *out = self.stop(std::mem::take(out), error);
            }
        }
        Ok(())
    }

    fn push_next(&mut self, leader: &mut Leader, m: &dyn Materialize, out: &mut Outcome) -> Result<()> {
        if self.phase != Phase::Live || self.in_flight || self.stopped.is_some() {
            return Ok(());
        }
        let limits = self.limits.expect("live after welcome");
        loop {
            match leader.next_push(limits.max_batch_events as usize, limits.max_message_bytes as usize)? {
                NextPush::Nothing => return Ok(()),
                NextPush::Batch(batch) => {
                    self.in_flight = true;
                    out.send.push(ClientMessage::Push { batch });
                    return Ok(());
                }
                NextPush::TooLarge(e) => {
                    out.errors.push(SyncError {
                        code: "EVENT_TOO_LARGE".into(),
                        message: format!(
                            "event {} ({}) is larger than the sync server accepts ({} bytes) and was rolled back",
                            e.name, e.seq_num, limits.max_message_bytes
                        ),
                        event: Some(e.name.clone()),
                        seq_num: Some(e.seq_num),
                    });
                    out.rewrites.extend(leader.reject(e.seq_num, Some(&e.name), m)?);
                }
            }
        }
    }

    fn protocol_error(&mut self, mut out: Outcome, what: &str) -> Outcome {
        out.errors.push(SyncError::new("PROTOCOL_ERROR", format!("the sync server sent {what}")));
        out.reconnect = true;
        out
    }

    fn stop(&mut self, mut out: Outcome, error: SyncError) -> Outcome {
        self.stopped = Some(error.clone());
        self.phase = Phase::Offline;
        out.errors.push(error);
        out.stop = true;
        out
    }
}
