//! The wasm-bindgen API the JS layer wraps (see docs/ARCHITECTURE.md).

mod convert;
mod error;
mod leader;
mod materialize;
mod rows;
mod text;

pub use leader::WasmLeader;

use crate::db::Image;
use crate::event::{Args, EventInput, EventRecord, SeqNum};
use crate::schema::{Materializer, Schema, SchemaDesc};
use crate::session::{Session, SessionOptions};
use convert::{get, query_desc, records_to_js, result_to_js, to_js_serde, to_json};
use error::{to_js, IntoJs};
use js_sys::{Array, Object, Reflect, Uint32Array, Uint8Array};
use materialize::JsMaterializers;
use std::cell::RefCell;
use std::collections::HashMap;
use wasm_bindgen::prelude::*;

thread_local! {
    /// The last schema descriptor parsed (the JS object, deep-frozen by
    /// makeSchema) and its schema: a persisted store parses it while it waits
    /// for the leader's snapshot (`prepareSchema`), not after.
    static PARSED: RefCell<Option<(JsValue, Schema)>> = const { RefCell::new(None) };
}

fn schema_of(desc: JsValue) -> Result<Schema, JsValue> {
    let known = |(d, s): &(JsValue, Schema)| js_sys::Object::is(d, &desc).then(|| s.clone());
    if let Some(schema) = PARSED.with_borrow(|p| p.as_ref().and_then(known)) {
        return Ok(schema);
    }
    let parsed: SchemaDesc = serde_wasm_bindgen::from_value(desc.clone())
        .map_err(|e| to_js(&crate::Error::InvalidSchema(format!("schema descriptor: {e}"))))?;
    let schema = Schema::new(parsed).js()?;
    PARSED.set(Some((desc, schema.clone())));
    Ok(schema)
}

/// Parses and checks a schema descriptor ahead of the session that needs it
/// (its errors are the session's).
#[wasm_bindgen(js_name = prepareSchema)]
pub fn prepare_schema(desc: JsValue) -> Result<(), JsValue> {
    schema_of(desc).map(drop)
}

/// Event records given as an array of objects, or as its JSON text (how the
/// leader hands over large batches: one string instead of a tree of values).
fn records_of(events: JsValue) -> Result<Vec<EventRecord>, JsValue> {
    let invalid = |e: String| to_js(&crate::Error::InvalidUpstream(format!("not a list of event records: {e}")));
    // Objects go through their JSON text too: args are kept as text.
    let text = match text::string_of(&events) {
        Some(text) => text,
        None => js_sys::JSON::stringify(&events).ok().and_then(|t| t.as_string()).unwrap_or_default(),
    };
    serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))
}

fn seq_of(seq: JsValue) -> Result<SeqNum, JsValue> {
    serde_wasm_bindgen::from_value(seq).map_err(|e| to_js(&crate::Error::InvalidUpstream(format!("not a seqNum: {e}"))))
}

fn session_options(options: &JsValue) -> SessionOptions {
    let option = |k: &str| get(options, k).as_string().unwrap_or_default();
    SessionOptions { store_id: option("storeId"), client_id: option("clientId"), session_id: option("sessionId") }
}

/// `[{ name, args }, ...]` as JSON text; each event's args stay text, taken
/// as the reader found them (not checked again, as `Args`' reader must).
fn events_of_json(text: &str) -> Result<Vec<EventInput>, String> {
    #[derive(serde::Deserialize)]
    struct Input {
        name: String,
        args: Option<Box<serde_json::value::RawValue>>,
    }
    let inputs: Vec<Input> = serde_json::from_str(text).map_err(|e| format!("not a list of events: {e}"))?;
    let input = |i: Input| EventInput { name: i.name, args: i.args.map_or_else(Args::null, Args::from_raw) };
    Ok(inputs.into_iter().map(input).collect())
}

/// One session's store: in-memory state, eventlog and live queries.
#[wasm_bindgen]
pub struct WasmSession {
    session: Session,
    materializers: JsMaterializers,
    results: RefCell<ResultCache>,
}

/// Decoded results of one-off queries, by SQL and bind values, valid while
/// the state's version stays the same: an app re-reading the same query
/// (e.g. on every render) gets the same result object back without SQLite.
#[derive(Default)]
struct ResultCache {
    version: u64,
    entries: HashMap<String, JsValue>,
}

/// Bounds the cache between commits (a commit empties it anyway).
const RESULT_CACHE_ENTRIES: usize = 256;

#[wasm_bindgen]
impl WasmSession {
    /// Creates the state from a schema descriptor (from `makeSchema`).
    #[wasm_bindgen(constructor)]
    pub fn new(schema: JsValue, materializers: JsValue, options: JsValue) -> Result<WasmSession, JsValue> {
        let session = Session::new(schema_of(schema)?, session_options(&options)).js()?;
        let materializers = JsMaterializers::new(&materializers).js()?.with_rebase(&get(&options, "onRebase"));
        Ok(WasmSession { session, materializers, results: RefCell::default() })
    }

    /// A session of a persisted store: starts from the leader's snapshot of
    /// the state (`bytes`), which reflects the events up to `head`.
    #[wasm_bindgen(js_name = fromSnapshot)]
    pub fn from_snapshot(
        schema: JsValue,
        materializers: JsValue,
        options: JsValue,
        bytes: Uint8Array,
        head: JsValue,
    ) -> Result<WasmSession, JsValue> {
        let head: SeqNum = serde_wasm_bindgen::from_value(head)
            .map_err(|e| to_js(&crate::Error::InvalidUpstream(format!("not a seqNum: {e}"))))?;
        // Copied once, from the JS array straight into the memory SQLite takes over.
        let image = Image::filled(bytes.length() as usize, |buf| bytes.copy_to(buf)).js()?;
        let mut session = Session::from_image(schema_of(schema)?, session_options(&options), image, head).js()?;
        if let Ok(final_head) = serde_wasm_bindgen::from_value::<SeqNum>(get(&options, "syncHead")) {
            session.set_final(final_head);
        }
        let materializers = JsMaterializers::new(&materializers).js()?.with_rebase(&get(&options, "onRebase"));
        Ok(WasmSession { session, materializers, results: RefCell::default() })
    }

    /// This session's events not yet confirmed by the leader, oldest first
    /// (at most `limit` of them), as JS values: what a closing page saves.
    /// Pushes take `pendingBatch`.
    pub fn pending(&self, limit: Option<u32>) -> JsValue {
        let limit = limit.map_or(usize::MAX, |l| l as usize);
        let records: Vec<_> = self.session.pending().take(limit).collect();
        records_to_js(&records)
    }

    /// A push batch: `pending(limit)` as one JSON text, with the seqNum of
    /// its last event, `{ json, last }`; `undefined` when nothing is pending.
    /// The text goes to the leader and back to every session as it is: one
    /// string to copy between threads, parsed once in wasm on each side,
    /// instead of a tree of JS values built here and taken apart there.
    #[wasm_bindgen(js_name = pendingBatch)]
    pub fn pending_batch(&self, limit: u32) -> JsValue {
        let records: Vec<_> = self.session.pending().take(limit as usize).collect();
        let Some(last) = records.last() else {
            return JsValue::UNDEFINED;
        };
        let out = Object::new();
        let json = serde_json::to_string(&records).expect("event records serialize");
        let _ = Reflect::set(&out, &"json".into(), &json.into());
        let _ = Reflect::set(&out, &"last".into(), &to_js_serde(&last.seq_num));
        out.into()
    }

    /// How many of this session's events the leader has not confirmed yet.
    #[wasm_bindgen(getter, js_name = pendingCount)]
    pub fn pending_count(&self) -> u32 {
        self.session.pending().len() as u32
    }

    /// The last event the leader confirmed.
    #[wasm_bindgen(getter, js_name = upstreamHead)]
    pub fn upstream_head(&self) -> JsValue {
        to_js_serde(&self.session.upstream_head())
    }

    /// Takes in events the leader appended (after `upstreamHead`): confirms
    /// own ones, rebases pending ones on top of others'. Returns
    /// `{ changed, confirmed, rebased, dropped: [{ event, error }] }`.
    pub fn pull(&mut self, events: JsValue) -> Result<JsValue, JsValue> {
        let events = records_of(events)?;
        let pulled = self.session.pull(&events, &self.materializers).js()?;
        self.pulled(pulled)
    }

    /// The leader rewrote its log after `base` (it rebased on the sync
    /// server's events): `events` is its whole log after `base`.
    #[wasm_bindgen(js_name = pullReplacing)]
    pub fn pull_replacing(&mut self, base: JsValue, events: JsValue) -> Result<JsValue, JsValue> {
        let events = records_of(events)?;
        let pulled = self.session.pull_replacing(seq_of(base)?, &events, &self.materializers).js()?;
        self.pulled(pulled)
    }

    /// Starts over from a fresh snapshot of the leader's state, re-applying
    /// the pending events on top; same result as `pull`.
    #[wasm_bindgen(js_name = resetToSnapshot)]
    pub fn reset_to_snapshot(&mut self, bytes: Vec<u8>, head: JsValue) -> Result<JsValue, JsValue> {
        let pulled = self.session.reset_to_snapshot(&bytes, seq_of(head)?, &self.materializers).js()?;
        self.pulled(pulled)
    }

    /// Events up to `seq` are synced with the server: never rewritten.
    #[wasm_bindgen(js_name = setFinal)]
    pub fn set_final(&mut self, seq: JsValue) -> Result<(), JsValue> {
        self.session.set_final(seq_of(seq)?);
        Ok(())
    }

    fn pulled(&mut self, pulled: crate::session::Pulled) -> Result<JsValue, JsValue> {
        let changed = self.session.refresh().js()?;
        let dropped = Array::new();
        for (event, error) in &pulled.dropped {
            let item = js_sys::Object::new();
            let _ = js_sys::Reflect::set(&item, &"event".into(), &records_to_js(event));
            let _ = js_sys::Reflect::set(&item, &"error".into(), &to_js(error));
            dropped.push(&item);
        }
        let out = js_sys::Object::new();
        let set = |k: &str, v: &JsValue| {
            let _ = js_sys::Reflect::set(&out, &k.into(), v);
        };
        set("changed", &Uint32Array::from(&changed[..]).into());
        set("confirmed", &JsValue::from_f64(pulled.confirmed as f64));
        set("rebased", &pulled.rebased.into());
        set("dropped", &dropped.into());
        Ok(out.into())
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
            let given = get(&e, "args");
            let args = to_json(&given, &mut String::new()).map_err(|(path, message)| {
                self.materializers.clear_given_args();
                to_js(&crate::Error::InvalidEventArgs { event: name.clone(), path, message })
            })?;
            self.give_args_if_function(&name, given);
            inputs.push(EventInput { name, args: args.into() });
        }
        Ok(Uint32Array::from(&self.commit_inputs(inputs)?[..]))
    }

    /// `commit` with the events as JSON text, `[{ name, args }, ...]` (args
    /// encoded as the core encodes them: Dates as epoch ms), and the app's
    /// args objects in the same order (handed to function materializers as
    /// they are): one crossing of the boundary for all of it. Returns
    /// `undefined` when no live query's result changed.
    #[wasm_bindgen(js_name = commitJson)]
    pub fn commit_json(&mut self, events: js_sys::JsString, args: Array) -> Result<Option<Uint32Array>, JsValue> {
        let events = text::string_of(&events).unwrap_or_default();
        let inputs = events_of_json(&events).map_err(|message| {
            to_js(&crate::Error::InvalidEventArgs { event: String::new(), path: String::new(), message })
        })?;
        for (i, input) in inputs.iter().enumerate() {
            self.give_args_if_function(&input.name, args.get(i as u32));
        }
        let changed = self.commit_inputs(inputs)?;
        Ok((!changed.is_empty()).then(|| Uint32Array::from(&changed[..])))
    }

    /// Queues the app's args object for the event's materializer if it is a function.
    fn give_args_if_function(&self, name: &str, given: JsValue) {
        if self.session.schema().event(name).is_ok_and(|d| d.materializer == Materializer::External) {
            self.materializers.give_args(given);
        }
    }

    /// Commits; returns the ids of the live queries whose result changed.
    fn commit_inputs(&mut self, inputs: Vec<EventInput>) -> Result<Vec<u32>, JsValue> {
        materialize::take_thrown();
        let committed = self.session.commit_owned(inputs, &self.materializers);
        self.materializers.clear_given_args();
        if let Err(e) = committed {
            let err = to_js(&e);
            if let Some(thrown) = materialize::take_thrown() {
                let _ = js_sys::Reflect::set(&err, &"cause".into(), &thrown);
            }
            return Err(err);
        }
        self.session.refresh().js()
    }

    /// Runs a query once and returns its decoded result.
    ///
    /// The same query (SQL and bind values) returns the same result object
    /// until the state changes: treat results as read-only.
    pub fn query(&self, q: JsValue) -> Result<JsValue, JsValue> {
        let desc = query_desc(&q).js()?;
        let db = self.session.db().js()?;
        let compiled = db.compile(&desc).js()?;
        // The same SQL can be read as rows or as its first row (raw SQL with
        // `result: 'first'`), with or without the columns' types: all are in the key.
        let key = format!(
            "{:?}\0{:?}\0{}\0{:?}",
            compiled.shape, compiled.column_types, compiled.sql.text, compiled.sql.params
        );
        let mut cache = self.results.borrow_mut();
        if cache.version != self.session.version() || cache.entries.len() >= RESULT_CACHE_ENTRIES {
            cache.version = self.session.version();
            cache.entries.clear();
        }
        if let Some(hit) = cache.entries.get(&key) {
            return Ok(hit.clone());
        }
        let result = result_to_js(&db.run(&compiled, None).js()?, self.session.schema());
        cache.entries.insert(key, result.clone());
        Ok(result)
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
        records_to_js(&records)
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
