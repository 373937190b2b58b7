//! The wasm-bindgen API the JS layer wraps (see docs/ARCHITECTURE.md).

mod convert;
mod error;
mod materialize;

use crate::event::EventInput;
use crate::schema::{Schema, SchemaDesc};
use crate::session::{Session, SessionOptions};
use convert::{get, query_desc, result_to_js, to_js_serde, to_json};
use error::{to_js, IntoJs};
use js_sys::{Array, Uint32Array};
use materialize::JsMaterializers;
use wasm_bindgen::prelude::*;

/// One session's store: in-memory state, eventlog and live queries.
#[wasm_bindgen]
pub struct WasmSession {
    session: Session,
    materializers: JsMaterializers,
}

#[wasm_bindgen]
impl WasmSession {
    /// Creates the state from a schema descriptor (from `makeSchema`).
    #[wasm_bindgen(constructor)]
    pub fn new(
        schema: JsValue,
        materializers: JsValue,
        options: JsValue,
    ) -> Result<WasmSession, JsValue> {
        let desc: SchemaDesc = serde_wasm_bindgen::from_value(schema).map_err(|e| {
            to_js(&crate::Error::InvalidSchema(format!(
                "schema descriptor: {e}"
            )))
        })?;
        let option = |k: &str| get(&options, k).as_string().unwrap_or_default();
        let options = SessionOptions {
            store_id: option("storeId"),
            client_id: option("clientId"),
            session_id: option("sessionId"),
        };
        let session = Schema::new(desc)
            .and_then(|s| Session::new(s, options))
            .js()?;
        let materializers = JsMaterializers::new(&materializers).js()?;
        Ok(WasmSession {
            session,
            materializers,
        })
    }

    #[wasm_bindgen(getter, js_name = schemaHash)]
    pub fn schema_hash(&self) -> String {
        self.session.schema().hash().to_string()
    }

    /// Commits events atomically; returns the ids of live queries whose
    /// result changed.
    pub fn commit(&mut self, events: Array) -> Result<Uint32Array, JsValue> {
        let mut inputs = Vec::with_capacity(events.length() as usize);
        for e in events.iter() {
            let name = get(&e, "name").as_string().ok_or_else(|| {
                to_js(&crate::Error::UnknownEvent(
                    "(missing name: commit takes events made by an event definition, e.g. events.todoCreated({...}))"
                        .into(),
                ))
            })?;
            let args =
                to_json(&get(&e, "args"), &mut String::new()).map_err(|(path, message)| {
                    to_js(&crate::Error::InvalidEventArgs {
                        event: name.clone(),
                        path,
                        message,
                    })
                })?;
            inputs.push(EventInput { name, args });
        }
        materialize::take_thrown();
        if let Err(e) = self.session.commit(&inputs, &self.materializers) {
            let err = to_js(&e);
            if let Some(thrown) = materialize::take_thrown() {
                let _ = js_sys::Reflect::set(&err, &"cause".into(), &thrown);
            }
            return Err(err);
        }
        let changed = self.session.refresh().js()?;
        Ok(Uint32Array::from(&changed[..]))
    }

    /// Runs a query once and returns its decoded result.
    pub fn query(&self, q: JsValue) -> Result<JsValue, JsValue> {
        let desc = query_desc(&q).js()?;
        let result = self.session.query(&desc).js()?;
        Ok(result_to_js(&result, self.session.schema()))
    }

    /// Registers a live query; its result is kept current on every commit.
    #[wasm_bindgen(js_name = subscribeQuery)]
    pub fn subscribe_query(&mut self, q: JsValue) -> Result<u32, JsValue> {
        let desc = query_desc(&q).js()?;
        self.session.subscribe(&desc).js()
    }

    #[wasm_bindgen(js_name = unsubscribeQuery)]
    pub fn unsubscribe_query(&mut self, id: u32) {
        self.session.unsubscribe(id);
    }

    /// The current decoded result of a live query.
    #[wasm_bindgen(js_name = liveResult)]
    pub fn live_result(&self, id: u32) -> Result<JsValue, JsValue> {
        let result = self.session.live_result(id).js()?;
        Ok(result_to_js(result, self.session.schema()))
    }

    /// The eventlog, oldest first.
    pub fn eventlog(&self) -> JsValue {
        let records: Vec<_> = self.session.eventlog().collect();
        to_js_serde(&records)
    }

    /// Undoes the last `count` events; returns the changed live-query ids.
    pub fn rollback(&mut self, count: u32) -> Result<Uint32Array, JsValue> {
        self.session.rollback(count as usize).js()?;
        Ok(Uint32Array::from(&self.session.refresh().js()?[..]))
    }

    /// Rebuilds the state from the eventlog; returns the changed live-query ids.
    pub fn rebuild(&mut self) -> Result<Uint32Array, JsValue> {
        self.session.rebuild(&self.materializers).js()?;
        Ok(Uint32Array::from(&self.session.refresh().js()?[..]))
    }

    /// Every state table's rows as text (equal text ⇔ equal state).
    #[wasm_bindgen(js_name = stateDump)]
    pub fn state_dump(&self) -> Result<String, JsValue> {
        self.session.db().js()?.dump().js()
    }

    pub fn close(&mut self) {
        self.session.close();
    }
}
