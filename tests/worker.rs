//! The leader's bindings on real OPFS, in a dedicated worker of headless
//! Chromium: open, push, reopen, snapshot into a session, export, reset.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Reflect, Uint8Array, JSON};
use livestore_rs::bindings::{WasmLeader, WasmSession};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_dedicated_worker);

fn js(source: &str) -> JsValue {
    Function::new_no_args(&format!("return ({source})")).call0(&JsValue::NULL).unwrap()
}

fn field(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

fn schema() -> JsValue {
    JSON::parse(
        r#"{ "tables": [{ "name": "todos", "columns": [
              { "name": "id", "type": "text", "primaryKey": true }, { "name": "text", "type": "text" } ] }],
             "events": [{ "name": "created", "schema": { "type": "struct", "fields": {
              "id": { "type": "string" }, "text": { "type": "string" } } } }],
             "materializers": { "created": { "sql": "INSERT INTO todos (id, text) VALUES (:id, :text)" } } }"#,
    )
    .unwrap()
}

async fn open(store: &str) -> WasmLeader {
    let options = js(&format!("{{ storeId: '{store}', onStatus: (s) => (self.statuses ??= []).push(s.stage) }}"));
    WasmLeader::open(schema(), JsValue::UNDEFINED, options).await.unwrap()
}

fn session_of(leader: &mut WasmLeader, tab: &str) -> WasmSession {
    let snap = leader.snapshot().unwrap();
    let bytes: Uint8Array = field(&snap, "bytes").unchecked_into();
    let options = js(&format!("{{ storeId: 's', clientId: 'c', sessionId: '{tab}' }}"));
    WasmSession::from_snapshot(schema(), JsValue::UNDEFINED, options, bytes, field(&snap, "head")).unwrap()
}

fn count(s: &WasmSession) -> f64 {
    s.query(js("{ kind: 'select', table: 'todos', result: 'count' }")).unwrap().as_f64().unwrap()
}

#[wasm_bindgen_test]
async fn events_pushed_to_the_leader_persist_across_reopen() {
    let store = format!("t{}", js_sys::Math::random().to_bits());
    let mut leader = open(&store).await;
    let mut tab = session_of(&mut leader, "tab");
    tab.commit(
        js("[{ name: 'created', args: { id: 'a', text: 'A' } }, { name: 'created', args: { id: 'b', text: 'B' } }]")
            .unchecked_into(),
    )
    .unwrap();
    let pending = tab.pending(None);
    assert_eq!(Array::from(&pending).length(), 2);
    let pushed = leader.push(pending, None).unwrap();
    assert_eq!(field(&pushed, "accepted"), JsValue::TRUE);
    let echo = leader.events_after(tab.upstream_head(), 100).unwrap();
    let pulled = tab.pull(echo).unwrap();
    assert_eq!(field(&pulled, "confirmed").as_f64(), Some(2.0));
    assert_eq!(Array::from(&tab.pending(None)).length(), 0);

    let files = leader.export_files().unwrap();
    let eventlog: Uint8Array = field(&files, "eventlog").unchecked_into();
    assert!(eventlog.length() > 0);
    assert_eq!(&eventlog.to_vec()[..16], b"SQLite format 3\0");
    leader.close().unwrap();

    let mut again = open(&store).await;
    assert_eq!(field(&again.head(), "global").as_f64(), Some(2.0));
    assert_eq!(field(&again.boot_report(), "rebuilt"), JsValue::FALSE);
    let fresh = session_of(&mut again, "tab2");
    assert_eq!(count(&fresh), 2.0);
    again.close().unwrap();

    WasmLeader::reset(store.clone()).await.unwrap();
    let mut empty = open(&store).await;
    assert_eq!(field(&empty.head(), "global").as_f64(), Some(0.0));
    assert_eq!(count(&session_of(&mut empty, "tab3")), 0.0);
    empty.close().unwrap();
}

/// A push crosses as JSON text (`pendingBatch`): the same records as
/// `pending`, taken by the leader, and echoed back to the session as they came.
#[wasm_bindgen_test]
async fn a_push_batch_as_json_text_is_the_pending_records() {
    let store = format!("t{}", js_sys::Math::random().to_bits());
    let mut leader = open(&store).await;
    let mut tab = session_of(&mut leader, "tab");
    tab.commit(
        js(r#"[{ name: 'created', args: { id: 'a', text: 'A \u2603 "q"' } }, { name: 'created', args: { id: 'b', text: 'B' } }, { name: 'created', args: { id: 'c', text: 'C' } }]"#)
            .unchecked_into(),
    )
    .unwrap();
    let batch = tab.pending_batch(2);
    let json = field(&batch, "json").as_string().unwrap();
    let as_values = js_sys::JSON::stringify(&tab.pending(Some(2))).unwrap();
    let reparsed = js_sys::JSON::stringify(&js_sys::JSON::parse(&json).unwrap()).unwrap();
    assert_eq!(reparsed, as_values);
    let second = Array::from(&tab.pending(None)).get(1);
    assert_eq!(
        js_sys::JSON::stringify(&field(&batch, "last")).unwrap(),
        js_sys::JSON::stringify(&field(&second, "seqNum")).unwrap()
    );

    assert_eq!(field(&leader.push(json.clone().into(), None).unwrap(), "accepted"), JsValue::TRUE);
    let pulled = tab.pull(json.into()).unwrap(); // the leader's `events` echo: the push's own text
    assert_eq!(field(&pulled, "confirmed").as_f64(), Some(2.0));
    let rest = tab.pending_batch(10);
    assert_eq!(Array::from(&js_sys::JSON::parse(&field(&rest, "json").as_string().unwrap()).unwrap()).length(), 1);
    let rest = field(&rest, "json");
    assert_eq!(field(&leader.push(rest.clone(), None).unwrap(), "accepted"), JsValue::TRUE);
    tab.pull(rest).unwrap();
    assert!(tab.pending_batch(10).is_undefined());
    assert_eq!(count(&session_of(&mut leader, "tab2")), 3.0);
    leader.close().unwrap();
}

#[wasm_bindgen_test]
async fn a_push_on_a_stale_head_is_rejected() {
    let store = format!("t{}", js_sys::Math::random().to_bits());
    let mut leader = open(&store).await;
    let mut a = session_of(&mut leader, "a");
    let mut b = session_of(&mut leader, "b");
    a.commit(js("[{ name: 'created', args: { id: 'a', text: 'A' } }]").unchecked_into()).unwrap();
    b.commit(js("[{ name: 'created', args: { id: 'b', text: 'B' } }]").unchecked_into()).unwrap();
    assert_eq!(field(&leader.push(a.pending(None), None).unwrap(), "accepted"), JsValue::TRUE);
    assert_eq!(field(&leader.push(b.pending(None), None).unwrap(), "accepted"), JsValue::FALSE);
    let pulled = b.pull(leader.events_after(b.upstream_head(), 100).unwrap()).unwrap();
    assert_eq!(field(&pulled, "rebased"), JsValue::TRUE);
    // On the head, but behind a rewrite of the log the session has not seen.
    let generation = leader.rebase_generation();
    assert_eq!(field(&leader.push(b.pending(None), Some(generation + 1)).unwrap(), "accepted"), JsValue::FALSE);
    assert_eq!(field(&leader.push(b.pending(None), Some(generation)).unwrap(), "accepted"), JsValue::TRUE);
    assert_eq!(count(&session_of(&mut leader, "c")), 2.0);
    leader.close().unwrap();
}
