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

use super::convert::{get, json_to_js, query_desc, result_to_js, to_json, writes_of};
use super::error::to_js;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::event::{EventInput, EventRecord};
use crate::query::WriteDesc;
use crate::schema::EventDef;
use crate::session::{Materialize, Rebase};
use crate::write::writes_from_json;
use js_sys::{Function, Object, Reflect};
use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::rc::Rc;
use wasm_bindgen::prelude::*;

thread_local! {
    static CURRENT_DB: RefCell<Option<Rc<Db>>> = const { RefCell::new(None) };
    /// What the last failing materializer threw, kept as the `cause` of the
    /// commit's error so its own `code` is not lost.
    static LAST_THROWN: RefCell<Option<JsValue>> = const { RefCell::new(None) };
}

/// Takes what the last failing materializer threw.
pub fn take_thrown() -> Option<JsValue> {
    LAST_THROWN.with(|t| t.borrow_mut().take())
}

pub struct JsMaterializers {
    functions: HashMap<String, Materializer>,
    /// The app's own args objects of the events being committed that have a
    /// function materializer, in order: handed to the functions as they are
    /// instead of being converted back from JSON.
    given_args: RefCell<VecDeque<JsValue>>,
    ctx: Object,
    /// The app's conflict rule (`onRebase`), if any.
    rebase: Option<Function>,
    _query: Closure<dyn Fn(JsValue) -> Result<JsValue, JsValue>>,
    /// The JS strings of the last client and session ids given to `ctx.event`
    /// (a session's own commits all have the same).
    ids: RefCell<[Option<(String, JsValue)>; 2]>,
}

struct Materializer {
    f: Function,
    /// Speaks JSON (see the module's doc).
    json: bool,
    /// The event's name as a JS string.
    name: JsValue,
}

impl JsMaterializers {
    pub fn new(functions: &JsValue) -> Result<JsMaterializers> {
        let mut map = HashMap::new();
        if functions.is_object() {
            for key in Object::keys(functions.unchecked_ref::<Object>()).iter() {
                let f = Reflect::get(functions, &key).unwrap_or(JsValue::UNDEFINED);
                if let (Some(name), Some(f)) = (key.as_string(), f.dyn_ref::<Function>()) {
                    let json = get(f, "encodesWrites").is_truthy();
                    map.insert(name, Materializer { f: f.clone(), json, name: key });
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
        Ok(JsMaterializers {
            functions: map,
            given_args: RefCell::default(),
            ctx,
            rebase: None,
            _query: query,
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

    /// `ctx.event` for functions that do not speak JSON (those get its parts as arguments).
    fn set_event(&self, m: &Materializer, record: &EventRecord) {
        let set = |on: &JsValue, k: &str, v: &JsValue| {
            let _ = Reflect::set(on, &wasm_bindgen::intern(k).into(), v);
        };
        let event = Object::new();
        set(&event, "name", &m.name);
        set(&event, "seqNum", &record.seq_num.to_string().into());
        set(&event, "clientId", &self.id_string(0, &record.client_id));
        set(&event, "sessionId", &self.id_string(1, &record.session_id));
        set(&self.ctx, "event", &event);
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

    fn materialize(&self, def: &EventDef, record: &EventRecord, db: &Rc<Db>) -> Result<Vec<WriteDesc>> {
        let failed = |message: String| Error::MaterializerFailed { event: def.name.clone(), message };
        let m = self.functions.get(&def.name).ok_or_else(|| failed("no materializer function was given".into()))?;
        let given = self.given_args.borrow_mut().pop_front();
        CURRENT_DB.with(|slot| *slot.borrow_mut() = Some(db.clone()));
        let returned = if m.json {
            let (args, json) = match given {
                Some(args) => (args, JsValue::UNDEFINED),
                None => {
                    (JsValue::UNDEFINED, serde_json::to_string(&record.args).unwrap_or_else(|_| "null".into()).into())
                }
            };
            let seq = record.seq_num;
            m.f.call8(
                &JsValue::UNDEFINED,
                &args,
                &self.ctx,
                &json,
                &(seq.global as f64).into(),
                &seq.client.into(),
                &seq.rebase_generation.into(),
                &self.id_string(0, &record.client_id),
                &self.id_string(1, &record.session_id),
            )
        } else {
            self.set_event(m, record);
            let args = given.unwrap_or_else(|| json_to_js(&record.args, Some(&def.schema)));
            m.f.call2(&JsValue::UNDEFINED, &args, &self.ctx)
        };
        CURRENT_DB.with(|slot| *slot.borrow_mut() = None);
        let returned = returned.map_err(|e| {
            let message = js_message(&e);
            LAST_THROWN.with(|t| *t.borrow_mut() = Some(e));
            failed(message)
        })?;
        if m.json {
            if let Some(text) = returned.as_string() {
                return writes_from_json(&text, &record.args);
            }
        }
        let mut writes = Vec::new();
        writes_of(&returned, &record.args, &mut writes)?;
        Ok(writes)
    }
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
        set("args", json_to_js(&pending.args, schema));
        set("seqNum", pending.seq_num.to_string().into());
        set("clientId", pending.client_id.as_str().into());
        set("sessionId", pending.session_id.as_str().into());
        let _ = Reflect::set(&self.ctx, &"event".into(), &event);
        CURRENT_DB.with(|slot| *slot.borrow_mut() = Some(db.clone()));
        let decided = f.call2(&JsValue::UNDEFINED, &event, &self.ctx);
        CURRENT_DB.with(|slot| *slot.borrow_mut() = None);
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
                Ok(Rebase::Replace(EventInput { name, args }))
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
