//! The leader in a dedicated worker: eventlog and state on OPFS through the
//! SAH-pool VFS of sqlite-wasm-vfs.

use super::convert::{get, records_to_js, to_js_serde};
use super::error::{to_js, IntoJs};
use super::materialize::JsMaterializers;
use super::records_of;
use crate::error::Error;
use crate::event::SeqNum;
use crate::leader::{BootStatus, Leader, Push, Rewrite, UnknownEvents};
use crate::protocol::ServerMessage;
use crate::sync::{Outcome, Phase, SyncClient, SyncConfig, SyncError};
use js_sys::{Function, Object, Reflect, Uint8Array};
use rusqlite::{Connection, OpenFlags};
use sqlite_wasm_vfs::sahpool::{install, OpfsSAHError, OpfsSAHPoolCfgBuilder, OpfsSAHPoolUtil};
use std::future::{poll_fn, Future};
use std::task::Poll;
use wasm_bindgen::prelude::*;

/// The persisted eventlog and state of one store, in the leader worker.
#[wasm_bindgen]
pub struct WasmLeader {
    leader: Leader,
    materializers: JsMaterializers,
    pool: OpfsSAHPoolUtil,
    boot_report: JsValue,
    sync: Option<SyncClient>,
}

fn opfs_error(e: OpfsSAHError) -> JsValue {
    // Files held by another worker (a leader still shutting down) are
    // worth retrying; anything else means no OPFS here.
    let busy = matches!(e, OpfsSAHError::FileInUse(_) | OpfsSAHError::FilesInUse | OpfsSAHError::Busy)
        || matches!(&e, OpfsSAHError::Opfs { message, .. } if message.contains("NoModificationAllowed"));
    let (code, message) = if busy {
        ("OPFS_BUSY", format!("the store's OPFS files are in use by another worker ({e}); retry once it has closed"))
    } else {
        (
            "OPFS_UNAVAILABLE",
            format!("OPFS is not available here ({e}); the store cannot persist in this browser context"),
        )
    };
    let err = js_sys::Error::new(&message);
    err.set_name("LiveStoreError");
    let _ = Reflect::set(&err, &"code".into(), &code.into());
    err.into()
}

/// Installs (or reuses) the OPFS pool of a store: one directory per store.
async fn pool_of(store_id: &str) -> Result<OpfsSAHPoolUtil, JsValue> {
    if store_id.is_empty() || store_id.contains(['/', '\0']) {
        return Err(to_js(&Error::InvalidSchema(format!("invalid storeId {store_id:?}"))));
    }
    // Two databases with their WALs, room for temporary files, and for the
    // empty rollback journals left by stores made before WAL mode.
    let cfg = OpfsSAHPoolCfgBuilder::new()
        .vfs_name(&vfs_name(store_id))
        .directory(&format!(".livestore-rs/{store_id}"))
        .initial_capacity(8)
        .build();
    let pool = install::<sqlite_wasm_rs::WasmOsCallback>(&cfg, false).await.map_err(opfs_error)?;
    // A pool paused by an earlier `close` in this worker is reused as it is.
    if pool.is_paused() {
        pool.resume().await.map_err(opfs_error)?;
    }
    Ok(pool)
}

fn vfs_name(store_id: &str) -> String {
    format!("livestore-rs-{store_id}")
}

fn open_db(store_id: &str, file: &str) -> Result<Connection, JsValue> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags_and_vfs(format!("/{file}"), flags, vfs_name(store_id).as_str())
        .map_err(|e| to_js(&Error::from(e)))?;
    // Journal mode and syncs: `Leader::open`.
    Ok(conn)
}

fn status_to_js(s: &BootStatus) -> JsValue {
    let obj = Object::new();
    let set = |k: &str, v: JsValue| {
        let _ = Reflect::set(&obj, &k.into(), &v);
    };
    match s {
        BootStatus::Loading => set("stage", "loading".into()),
        BootStatus::Migrating => set("stage", "migrating".into()),
        BootStatus::Rehydrating { done, total } => {
            set("stage", "rehydrating".into());
            set("done", JsValue::from_f64(*done as f64));
            set("total", JsValue::from_f64(*total as f64));
        }
        BootStatus::Done => set("stage", "done".into()),
    }
    obj.into()
}

fn set(obj: &Object, key: &str, v: &JsValue) {
    let _ = Reflect::set(obj, &key.into(), v);
}

pub(super) fn rewrite_to_js(r: &Rewrite) -> JsValue {
    let out = Object::new();
    set(&out, "base", &to_js_serde(&r.base));
    // JSON text: the worker passes it on to the sessions as it is.
    set(&out, "eventsJson", &serde_json::to_string(&r.events).expect("event records serialize").into());
    let dropped = js_sys::Array::new();
    for (event, error) in &r.dropped {
        let item = Object::new();
        set(&item, "event", &records_to_js(event));
        set(&item, "error", &to_js(error));
        dropped.push(&item);
    }
    set(&out, "dropped", &dropped);
    out.into()
}

fn sync_error_to_js(e: &SyncError) -> JsValue {
    let err = js_sys::Error::new(&e.message);
    err.set_name("LiveStoreError");
    set(&err, "code", &e.code.as_str().into());
    if let Some(event) = &e.event {
        set(&err, "event", &event.as_str().into());
    }
    if let Some(seq) = &e.seq_num {
        set(&err, "seqNum", &to_js_serde(seq));
    }
    err.into()
}

/// `{ send: string[], rewrites, errors, reconnect, stop }` for the worker's socket.
fn outcome_to_js(o: &Outcome) -> JsValue {
    let out = Object::new();
    let send = js_sys::Array::new();
    for m in &o.send {
        send.push(&serde_json::to_string(m).expect("client message").into());
    }
    set(&out, "send", &send);
    set(&out, "rewrites", &o.rewrites.iter().map(rewrite_to_js).collect::<js_sys::Array>());
    set(&out, "errors", &o.errors.iter().map(sync_error_to_js).collect::<js_sys::Array>());
    set(&out, "reconnect", &o.reconnect.into());
    set(&out, "stop", &o.stop.into());
    out.into()
}

#[wasm_bindgen]
impl WasmLeader {
    /// Opens the store's eventlog and state on OPFS, rebuilding or catching
    /// up the state as needed. Only in a dedicated worker.
    pub async fn open(schema: JsValue, materializers: JsValue, options: JsValue) -> Result<WasmLeader, JsValue> {
        let store_id = get(&options, "storeId").as_string().unwrap_or_default();
        let unknown = match get(&options, "unknownEvents").as_string().as_deref() {
            None | Some("warn") => UnknownEvents::Warn,
            Some("ignore") => UnknownEvents::Ignore,
            Some("fail") => UnknownEvents::Fail,
            Some(other) => {
                return Err(to_js(&Error::InvalidSchema(format!(
                    "unknownEvents must be 'warn', 'ignore' or 'fail', got '{other}'"
                ))))
            }
        };
        let on_status = get(&options, "onStatus").dyn_into::<Function>().ok();
        // The pool's first OPFS call goes out, then the schema is parsed while it runs.
        let mut pool = std::pin::pin!(pool_of(&store_id));
        let started = poll_fn(|cx| Poll::Ready(pool.as_mut().poll(cx))).await;
        let schema = super::schema_of(schema)?;
        let materializers = JsMaterializers::new(&materializers).js()?.with_rebase(&get(&options, "onRebase"));
        let pool = match started {
            Poll::Ready(pool) => pool,
            Poll::Pending => pool.await,
        }?;
        let eventlog = open_db(&store_id, "eventlog.db")?;
        let state = open_db(&store_id, "state.db")?;
        let mut report_status = |s: BootStatus| {
            if let Some(f) = &on_status {
                let _ = f.call1(&JsValue::UNDEFINED, &status_to_js(&s));
            }
        };
        let (leader, report) =
            Leader::open(eventlog, state, schema, &materializers, unknown, &mut report_status).js()?;
        let boot_report = Object::new();
        let _ = Reflect::set(&boot_report, &"rebuilt".into(), &report.rebuilt.into());
        let _ = Reflect::set(&boot_report, &"caughtUp".into(), &JsValue::from_f64(report.caught_up as f64));
        let _ = Reflect::set(&boot_report, &"unknown".into(), &to_js_serde(&report.unknown));
        Ok(WasmLeader { leader, materializers, pool, boot_report: boot_report.into(), sync: None })
    }

    #[wasm_bindgen(getter)]
    pub fn head(&self) -> JsValue {
        to_js_serde(&self.leader.head())
    }

    #[wasm_bindgen(getter, js_name = bootReport)]
    pub fn boot_report(&self) -> JsValue {
        self.boot_report.clone()
    }

    /// Appends a batch on top of the head (durable when this returns), or
    /// rejects it: `{ accepted, head }`.
    /// `generation`: the rebase generation of the last rewrite the session
    /// took in; a session behind a rewrite is rejected.
    pub fn push(&mut self, batch: JsValue, generation: Option<u32>) -> Result<JsValue, JsValue> {
        let batch = records_of(batch)?;
        let pushed = match generation {
            Some(g) => self.leader.push_seen(&batch, g, &self.materializers),
            None => self.leader.push(&batch, &self.materializers),
        }
        .js()?;
        let out = Object::new();
        let _ = Reflect::set(&out, &"accepted".into(), &(pushed == Push::Accepted).into());
        let _ = Reflect::set(&out, &"head".into(), &to_js_serde(&self.leader.head()));
        Ok(out.into())
    }

    /// Up to `limit` events after `after`, oldest first.
    #[wasm_bindgen(js_name = eventsAfter)]
    pub fn events_after(&self, after: JsValue, limit: u32) -> Result<JsValue, JsValue> {
        let after: SeqNum = serde_wasm_bindgen::from_value(after)
            .map_err(|e| to_js(&Error::InvalidUpstream(format!("not a seqNum: {e}"))))?;
        Ok(records_to_js(&self.leader.events_after(after, limit as usize).js()?))
    }

    /// Up to `limit` events before `before` (the newest when it is
    /// undefined), newest first: devtools pages through the log with it.
    #[wasm_bindgen(js_name = eventsBefore)]
    pub fn events_before(&self, before: JsValue, limit: u32) -> Result<JsValue, JsValue> {
        let before: Option<SeqNum> = if before.is_undefined() || before.is_null() {
            None
        } else {
            Some(
                serde_wasm_bindgen::from_value(before)
                    .map_err(|e| to_js(&Error::InvalidUpstream(format!("not a seqNum: {e}"))))?,
            )
        };
        Ok(records_to_js(&self.leader.events_before(before, limit as usize).js()?))
    }

    /// The state database's bytes and the head they reflect: `{ bytes, head }`.
    pub fn snapshot(&mut self) -> Result<JsValue, JsValue> {
        // Copied once, from SQLite's image straight into a JS array.
        let (bytes, head) = self.leader.snapshot_with(|image| Uint8Array::from(image)).js()?;
        let out = Object::new();
        let _ = Reflect::set(&out, &"bytes".into(), &bytes);
        let _ = Reflect::set(&out, &"head".into(), &to_js_serde(&head));
        let _ = Reflect::set(&out, &"syncHead".into(), &to_js_serde(&self.leader.sync_head()));
        Ok(out.into())
    }

    /// Copies of both database files: `{ eventlog, state }` (SQLite files).
    #[wasm_bindgen(js_name = exportFiles)]
    pub fn export_files(&mut self) -> Result<JsValue, JsValue> {
        let (state, eventlog) = self.leader.export().js()?;
        let out = Object::new();
        let _ = Reflect::set(&out, &"eventlog".into(), &Uint8Array::from(&eventlog[..]));
        let _ = Reflect::set(&out, &"state".into(), &Uint8Array::from(&state[..]));
        Ok(out.into())
    }

    /// Replaces the eventlog with an exported one (`exportFiles().eventlog`)
    /// and rebuilds the state from it.
    #[wasm_bindgen(js_name = importEventlog)]
    pub fn import_eventlog(&mut self, eventlog: Vec<u8>) -> Result<(), JsValue> {
        self.leader.import_eventlog(&eventlog, &self.materializers).js()
    }

    /// Starts syncing with a server: `{ storeId, clientId, token? }`. The
    /// worker owns the WebSocket and feeds the `sync*` methods.
    #[wasm_bindgen(js_name = startSync)]
    pub fn start_sync(&mut self, options: JsValue) {
        let option = |k: &str| get(&options, k).as_string();
        self.leader.start_sync();
        self.sync = Some(SyncClient::new(SyncConfig {
            store_id: option("storeId").unwrap_or_default(),
            client_id: option("clientId").unwrap_or_default(),
            token: option("token"),
        }));
    }

    /// The socket opened: the `hello` to send.
    #[wasm_bindgen(js_name = syncConnected)]
    pub fn sync_connected(&mut self) -> Result<String, JsValue> {
        let hello = self.client()?.connected();
        Ok(serde_json::to_string(&hello).expect("client message"))
    }

    #[wasm_bindgen(js_name = syncDisconnected)]
    pub fn sync_disconnected(&mut self) {
        if let Some(s) = &mut self.sync {
            s.disconnected();
        }
    }

    /// A text frame from the server; returns what to do.
    #[wasm_bindgen(js_name = syncReceive)]
    pub fn sync_receive(&mut self, text: &str) -> Result<JsValue, JsValue> {
        let sync = self.sync.as_mut().ok_or_else(not_syncing)?;
        let outcome = match ServerMessage::from_json(text) {
            Ok(msg) => sync.receive(&mut self.leader, msg, &self.materializers).js()?,
            Err(e) => Outcome {
                errors: vec![SyncError {
                    code: "PROTOCOL_ERROR".into(),
                    message: format!("the sync server sent a message this client does not understand: {e}"),
                    event: None,
                    seq_num: None,
                }],
                reconnect: true,
                ..Outcome::default()
            },
        };
        Ok(outcome_to_js(&outcome))
    }

    /// Sessions' events were appended: push them if nothing is in flight.
    #[wasm_bindgen(js_name = syncLocal)]
    pub fn sync_local(&mut self) -> Result<JsValue, JsValue> {
        let sync = self.sync.as_mut().ok_or_else(not_syncing)?;
        Ok(outcome_to_js(&sync.local_events(&mut self.leader, &self.materializers).js()?))
    }

    /// `{ phase, pending, head, syncHead, backendId, stopped? }`.
    #[wasm_bindgen(getter, js_name = syncStatus)]
    pub fn sync_status(&self) -> Result<JsValue, JsValue> {
        let out = Object::new();
        let phase = match self.sync.as_ref().map(|s| s.phase()) {
            None => "disabled",
            Some(Phase::Offline) => "offline",
            Some(Phase::Hello | Phase::CatchingUp) => "connecting",
            Some(Phase::Live) => "live",
        };
        set(&out, "phase", &phase.into());
        set(&out, "pending", &JsValue::from_f64(self.leader.pending_sync_count().js()? as f64));
        set(&out, "head", &to_js_serde(&self.leader.head()));
        set(&out, "syncHead", &to_js_serde(&self.leader.sync_head()));
        if let Some(id) = self.leader.backend_id() {
            set(&out, "backendId", &id.into());
        }
        if let Some(e) = self.sync.as_ref().and_then(|s| s.stopped()) {
            set(&out, "stopped", &sync_error_to_js(e));
        }
        Ok(out.into())
    }

    /// Grows with every rewrite of the log that renumbered pending events.
    #[wasm_bindgen(getter, js_name = rebaseGeneration)]
    pub fn rebase_generation(&self) -> u32 {
        self.leader.rebase_generation()
    }

    /// Whether the eventlog holds an event at exactly this position.
    pub fn contains(&self, seq: JsValue) -> Result<bool, JsValue> {
        let seq: SeqNum = serde_wasm_bindgen::from_value(seq)
            .map_err(|e| to_js(&Error::InvalidUpstream(format!("not a seqNum: {e}"))))?;
        self.leader.contains(seq).js()
    }

    /// Closes the databases and releases the OPFS files (for another leader).
    pub fn close(self) -> Result<(), JsValue> {
        drop(self.leader);
        self.pool.pause().map_err(opfs_error)
    }

    fn client(&mut self) -> Result<&mut SyncClient, JsValue> {
        self.sync.as_mut().ok_or_else(not_syncing)
    }

    /// Deletes a store's local files. Call with no leader open on it.
    pub async fn reset(store_id: String) -> Result<(), JsValue> {
        use sqlite_wasm_rs::vfs::VfsFilesManager;
        pool_of(&store_id).await?.clear().map_err(opfs_error)
    }
}

fn not_syncing() -> JsValue {
    to_js(&Error::Sync { code: "SYNC_DISABLED", message: "startSync was not called".into() })
}
