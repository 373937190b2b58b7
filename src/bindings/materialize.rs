//! The app's materializer functions, called from the core during a commit.
//!
//! `ctx.query` must read the state while the session is mid-commit, so it
//! does not go through `WasmSession` (borrowed for the commit): the database
//! being materialized is put in a thread-local slot for the duration of the call.
//!
//! The functions `makeSchema` wraps (marked `encodesWrites`) speak JSON across
//! the boundary, one string each way instead of a call into JS per field:
//! `f(args, ctx, argsJson, seqGlobal, seqClient, seqGeneration, clientId,
//! sessionId)` gets the app's own args object, or else `argsJson` (the
//! eventlog's args as JSON text), and `ctx.event`'s parts (numbers and cached
//! strings: nothing is made per event on this side); it returns its writes as a
//! JSON array of write descriptors (or, when a value has no exact JSON form,
//! such as bytes, the descriptors themselves). Other functions are called
//! `f(args, ctx)` and may return descriptors, SQL text or arrays of these.

use super::convert::{args_to_js, get, json_to_js, query_desc, result_to_js, to_json, writes_of};
use super::error::to_js;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::event::{EventInput, EventRecord, SeqNum};
use crate::query::WriteDesc;
use crate::schema::{EventDef, Materializer, Schema};
use crate::session::{Materialize, Rebase};
use crate::write::{run_writes, run_writes_json, writes_from_json};
use js_sys::{Array, Function, Object, Reflect};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

thread_local! {
    static CURRENT_DB: RefCell<Option<Rc<Db>>> = const { RefCell::new(None) };
    /// The event being materialized, for `ctx.event`: built only when a
    /// materializer reads it (most never do), then kept for the call.
    static CURRENT_EVENT: RefCell<CurrentEvent> = const { RefCell::new(CurrentEvent::None) };
    /// What the last failing materializer threw, kept as the `cause` of the
    /// commit's error so its own `code` is not lost.
    static LAST_THROWN: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

/// Takes what the last failing materializer threw.
pub fn take_thrown() -> Option<JsValue> {
    LAST_THROWN.with(|t| t.borrow_mut().take())
}

enum CurrentEvent {
    None,
    Record { name: String, seq_num: SeqNum, client_id: String, session_id: String },
    Built(JsValue),
}

/// `ctx.event`'s getter.
fn current_event() -> JsValue {
    CURRENT_EVENT.with(|slot| {
        let mut slot = slot.borrow_mut();
        let built = match &*slot {
            CurrentEvent::None => return JsValue::UNDEFINED,
            CurrentEvent::Built(event) => return event.clone(),
            CurrentEvent::Record { name, seq_num, client_id, session_id } => {
                let event = Object::new();
                let seq_num = seq_num.to_string();
                for (k, v) in [("name", name), ("seqNum", &seq_num), ("clientId", client_id), ("sessionId", session_id)]
                {
                    let _ = Reflect::set(&event, &k.into(), &v.as_str().into());
                }
                JsValue::from(event)
            }
        };
        *slot = CurrentEvent::Built(built.clone());
        built
    })
}

pub struct JsMaterializers {
    functions: HashMap<String, MaterializerFn>,
    /// The app's own args objects of the events being committed that have a
    /// function materializer, in order: handed to the functions as they are
    /// instead of being converted back from JSON.
    given_args: RefCell<VecDeque<JsValue>>,
    /// Args of the events about to be materialized, converted all at once
    /// (`prepare`), with each event's position to match them.
    prepared_args: RefCell<VecDeque<(SeqNum, JsValue)>>,
    ctx: Object,
    /// The app's conflict rule (`onRebase`), if any.
    rebase: Option<Function>,
    _query: Closure<dyn Fn(JsValue) -> Result<JsValue, JsValue>>,
    /// The JS strings of the last client and session ids given to `ctx.event`
    /// (a session's own commits all have the same).
    ids: RefCell<[Option<(String, JsValue)>; 2]>,
    _event: Closure<dyn Fn() -> JsValue>,
}

struct MaterializerFn {
    f: Function,
    /// Speaks JSON (see the module's doc).
    json: bool,
}

impl JsMaterializers {
    pub fn new(functions: &JsValue) -> Result<JsMaterializers> {
        let mut map = HashMap::new();
        if functions.is_object() {
            for key in Object::keys(functions.unchecked_ref::<Object>()).iter() {
                let f = Reflect::get(functions, &key).unwrap_or(JsValue::UNDEFINED);
                if let (Some(name), Some(f)) = (key.as_string(), f.dyn_ref::<Function>()) {
                    let json = get(f, "encodesWrites").is_truthy();
                    map.insert(name, MaterializerFn { f: f.clone(), json });
                }
            }
        }
        let query = Closure::<dyn Fn(JsValue) -> Result<JsValue, JsValue>>::new(|q: JsValue| {
            CURRENT_DB.with(|slot| {
                let slot = slot.borrow();
                let db = slot.as_ref().ok_or_else(|| {
                    to_js(&Error::InvalidQuery("ctx.query can only be used inside a materializer".into()))
                })?;
                let result = query_desc(&q).and_then(|d| db.query(&d)).map_err(|e| to_js(&e))?;
                Ok(result_to_js(&result, &db.schema))
            })
        });
        let ctx = Object::new();
        let _ = Reflect::set(&ctx, &"query".into(), query.as_ref());
        let event = Closure::<dyn Fn() -> JsValue>::new(current_event);
        let getter = Object::new();
        let _ = Reflect::set(&getter, &"get".into(), event.as_ref());
        let _ = Reflect::set(&getter, &"enumerable".into(), &true.into());
        Object::define_property(&ctx, &"event".into(), &getter);
        Ok(JsMaterializers {
            functions: map,
            given_args: RefCell::default(),
            prepared_args: RefCell::default(),
            ctx,
            rebase: None,
            _query: query,
            _event: event,
            ids: RefCell::default(),
        })
    }
}

impl JsMaterializers {
    /// Adds the app's conflict rule: `(event, ctx) => undefined | 'keep' |
    /// 'drop' | { name, args }` (an event to re-apply instead).
    pub fn with_rebase(mut self, f: &JsValue) -> JsMaterializers {
        self.rebase = f.dyn_ref::<Function>().cloned();
        self
    }

    /// Queues the args object of the next event with a function materializer.
    pub fn give_args(&self, args: JsValue) {
        self.given_args.borrow_mut().push_back(args);
    }

    pub fn clear_given_args(&self) {
        self.given_args.borrow_mut().clear();
    }

    /// `id` as a JS string, made once while it stays the same (`slot` 0:
    /// client ids, 1: session ids).
    fn id_string(&self, slot: usize, id: &str) -> JsValue {
        let mut ids = self.ids.borrow_mut();
        match &ids[slot] {
            Some((same, js)) if same == id => js.clone(),
            _ => {
                let js = JsValue::from_str(id);
                ids[slot] = Some((id.to_string(), js.clone()));
                js
            }
        }
    }
}

impl Materialize for JsMaterializers {
    fn rebase(&self, pending: &EventRecord, db: &Rc<Db>) -> Result<Rebase> {
        match &self.rebase {
            Some(f) => self.decide(f, pending, db),
            None => Ok(Rebase::Keep),
        }
    }

    /// One `JSON.parse` for the args of all the events that go to a function
    /// (and have no `Date` to revive), instead of one conversion each.
    fn prepare(&self, events: &[EventRecord], schema: &Schema) {
        let mut prepared = self.prepared_args.borrow_mut();
        prepared.clear();
        let mut seqs = Vec::new();
        let mut text = String::from("[");
        for e in events {
            let Ok(def) = schema.event(&e.name) else { continue };
            if def.materializer != Materializer::External || def.args_have_dates {
                continue;
            }
            if !seqs.is_empty() {
                text.push(',');
            }
            text.push_str(e.args.text());
            seqs.push(e.seq_num);
        }
        if seqs.len() < 2 {
            return;
        }
        text.push(']');
        let Ok(parsed) = js_sys::JSON::parse(&text) else { return };
        let parsed: Array = parsed.unchecked_into();
        prepared.extend(seqs.into_iter().zip(parsed.iter()));
    }

    fn unprepare(&self) {
        self.prepared_args.borrow_mut().clear();
    }

    fn materialize(&self, def: &EventDef, record: &EventRecord, db: &Rc<Db>) -> Result<Vec<WriteDesc>> {
        match self.call(def, record, db)? {
            Returned::Json(text) => writes_from_json(&text, &record.args),
            Returned::Descs(writes) => Ok(writes),
        }
    }

    fn apply(&self, def: &EventDef, record: &EventRecord, db: &Rc<Db>) -> Result<()> {
        match self.call(def, record, db)? {
            Returned::Json(text) => run_writes_json(db, &text, &record.args),
            Returned::Descs(writes) => run_writes(db, writes),
        }
    }
}

#[wasm_bindgen]
extern "C" {
    /// A materializer function that speaks JSON, given the parts of its
    /// event's seqNum as numbers (no JS value made for each on every call).
    type JsonMaterializer;
    #[wasm_bindgen(method, catch, js_name = call)]
    #[allow(clippy::too_many_arguments)]
    fn call_json(
        this: &JsonMaterializer,
        this_arg: &JsValue,
        args: &JsValue,
        ctx: &JsValue,
        json: &JsValue,
        seq_global: f64,
        seq_client: u32,
        seq_generation: u32,
        client_id: &JsValue,
        session_id: &JsValue,
    ) -> std::result::Result<JsValue, JsValue>;
}

/// What a materializer function returned: its writes as JSON text, or decoded.
enum Returned {
    Json(String),
    Descs(Vec<WriteDesc>),
}

impl JsMaterializers {
    /// Calls the event's function.
    fn call(&self, def: &EventDef, record: &EventRecord, db: &Rc<Db>) -> Result<Returned> {
        let failed = |message: String| Error::MaterializerFailed { event: def.name.clone(), message };
        let m = self.functions.get(&def.name).ok_or_else(|| failed("no materializer function was given".into()))?;
        let given = self.given_args.borrow_mut().pop_front().or_else(|| self.prepared_args_of(record));
        CURRENT_DB.with(|slot| *slot.borrow_mut() = Some(db.clone()));
        let returned = if m.json {
            let (args, json) = match given {
                Some(args) => (args, JsValue::UNDEFINED),
                None => (JsValue::UNDEFINED, record.args.text().into()),
            };
            let seq = record.seq_num;
            m.f.unchecked_ref::<JsonMaterializer>().call_json(
                &JsValue::UNDEFINED,
                &args,
                &self.ctx,
                &json,
                seq.global as f64,
                seq.client,
                seq.rebase_generation,
                &self.id_string(0, &record.client_id),
                &self.id_string(1, &record.session_id),
            )
        } else {
            set_current_event(CurrentEvent::Record {
                name: def.name.clone(),
                seq_num: record.seq_num,
                client_id: record.client_id.clone(),
                session_id: record.session_id.clone(),
            });
            let args = given.unwrap_or_else(|| args_to_js(&record.args, def));
            m.f.call2(&JsValue::UNDEFINED, &args, &self.ctx)
        };
        CURRENT_DB.with(|slot| *slot.borrow_mut() = None);
        set_current_event(CurrentEvent::None);
        let returned = returned.map_err(|e| {
            let message = js_message(&e);
            LAST_THROWN.with(|t| *t.borrow_mut() = Some(e));
            failed(message)
        })?;
        if m.json {
            if let Some(text) = super::text::string_of(&returned) {
                return Ok(Returned::Json(text));
            }
        }
        let mut writes = Vec::new();
        writes_of(&returned, &record.args, &mut writes)?;
        Ok(Returned::Descs(writes))
    }
}

impl JsMaterializers {
    /// The prepared args of `record`, if it is the next one prepared.
    fn prepared_args_of(&self, record: &EventRecord) -> Option<JsValue> {
        let mut prepared = self.prepared_args.borrow_mut();
        while let Some((seq, _)) = prepared.front() {
            // Events before this one that were not materialized (skipped) are passed over.
            if *seq == record.seq_num {
                return prepared.pop_front().map(|(_, args)| args);
            }
            if *seq > record.seq_num {
                return None;
            }
            prepared.pop_front();
        }
        None
    }
}

fn set_current_event(event: CurrentEvent) {
    CURRENT_EVENT.with(|slot| *slot.borrow_mut() = event);
}

impl JsMaterializers {
    fn decide(&self, f: &Function, pending: &EventRecord, db: &Rc<Db>) -> Result<Rebase> {
        let failed = |message: String| Error::MaterializerFailed { event: pending.name.clone(), message };
        let schema = db.schema.event(&pending.name).ok().map(|d| &d.schema);
        let event = Object::new();
        let set = |k: &str, v: JsValue| {
            let _ = Reflect::set(&event, &k.into(), &v);
        };
        set("name", pending.name.as_str().into());
        set("args", json_to_js(&pending.args.value(), schema));
        set("seqNum", pending.seq_num.to_string().into());
        set("clientId", pending.client_id.as_str().into());
        set("sessionId", pending.session_id.as_str().into());
        set_current_event(CurrentEvent::Built(event.clone().into()));
        CURRENT_DB.with(|slot| *slot.borrow_mut() = Some(db.clone()));
        let decided = f.call2(&JsValue::UNDEFINED, &event, &self.ctx);
        CURRENT_DB.with(|slot| *slot.borrow_mut() = None);
        set_current_event(CurrentEvent::None);
        let decided = decided.map_err(|e| failed(format!("the onRebase rule threw: {}", js_message(&e))))?;
        if decided.is_undefined() || decided.as_string().as_deref() == Some("keep") {
            return Ok(Rebase::Keep);
        }
        if decided.as_string().as_deref() == Some("drop") {
            return Ok(Rebase::Drop);
        }
        let name = get(&decided, "name").as_string();
        match name {
            Some(name) => {
                let mut path = String::new();
                let args = to_json(&get(&decided, "args"), &mut path)
                    .map_err(|(p, m)| failed(format!("onRebase returned an event with bad args at '{p}': {m}")))?;
                Ok(Rebase::Replace(EventInput { name, args: args.into() }))
            }
            None => Err(failed(
                "onRebase must return undefined, 'keep', 'drop' or an event (e.g. events.todoUpdated({...}))".into(),
            )),
        }
    }
}

fn js_message(e: &JsValue) -> String {
    if let Some(err) = e.dyn_ref::<js_sys::Error>() {
        return String::from(err.message());
    }
    e.as_string().unwrap_or_else(|| format!("{e:?}"))
}
