//! The leader in a dedicated worker: eventlog and state on OPFS through the
//! SAH-pool VFS of sqlite-wasm-vfs.

use super::convert::{get, to_js_serde};
use super::error::{to_js, IntoJs};
use super::materialize::JsMaterializers;
use crate::error::Error;
use crate::event::{EventRecord, SeqNum};
use crate::leader::{BootStatus, Leader, Push, UnknownEvents};
use js_sys::{Function, Object, Reflect, Uint8Array};
use rusqlite::{Connection, OpenFlags};
use sqlite_wasm_vfs::sahpool::{install, OpfsSAHError, OpfsSAHPoolCfgBuilder, OpfsSAHPoolUtil};
use wasm_bindgen::prelude::*;

/// The persisted eventlog and state of one store, in the leader worker.
#[wasm_bindgen]
pub struct WasmLeader {
    leader: Leader,
    materializers: JsMaterializers,
    pool: OpfsSAHPoolUtil,
    boot_report: JsValue,
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
    let cfg = OpfsSAHPoolCfgBuilder::new()
        .vfs_name(&vfs_name(store_id))
        .directory(&format!(".livestore-rs/{store_id}"))
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
    // A rollback journal (the pool has no shared memory for WAL); fsync on commit.
    conn.execute_batch("PRAGMA journal_mode = TRUNCATE; PRAGMA synchronous = FULL;")
        .map_err(|e| to_js(&Error::from(e)))?;
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

fn records_of(v: JsValue) -> Result<Vec<EventRecord>, JsValue> {
    serde_wasm_bindgen::from_value(v)
        .map_err(|e| to_js(&Error::InvalidUpstream(format!("not a list of event records: {e}"))))
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
        let schema = super::schema_of(schema)?;
        let materializers = JsMaterializers::new(&materializers).js()?;
        let pool = pool_of(&store_id).await?;
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
        Ok(WasmLeader { leader, materializers, pool, boot_report: boot_report.into() })
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
    pub fn push(&mut self, batch: JsValue) -> Result<JsValue, JsValue> {
        let batch = records_of(batch)?;
        let pushed = self.leader.push(&batch, &self.materializers).js()?;
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
        Ok(to_js_serde(&self.leader.events_after(after, limit as usize).js()?))
    }

    /// The state database's bytes and the head they reflect: `{ bytes, head }`.
    pub fn snapshot(&mut self) -> Result<JsValue, JsValue> {
        let (bytes, head) = self.leader.snapshot().js()?;
        let out = Object::new();
        let _ = Reflect::set(&out, &"bytes".into(), &Uint8Array::from(&bytes[..]));
        let _ = Reflect::set(&out, &"head".into(), &to_js_serde(&head));
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

    /// Closes the databases and releases the OPFS files (for another leader).
    pub fn close(self) -> Result<(), JsValue> {
        drop(self.leader);
        self.pool.pause().map_err(opfs_error)
    }

    /// Deletes a store's local files. Call with no leader open on it.
    pub async fn reset(store_id: String) -> Result<(), JsValue> {
        use sqlite_wasm_rs::vfs::VfsFilesManager;
        pool_of(&store_id).await?.clear().map_err(opfs_error)
    }
}
