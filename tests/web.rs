//! The wasm bindings in headless Chromium: JS values in, JS values and JS
//! errors out, JS materializer functions called with a working `ctx.query`.
#![cfg(target_arch = "wasm32")]

use js_sys::{Array, Function, Reflect, JSON};
use livestore_rs::bindings::{prepare_schema, WasmSession};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

fn js(source: &str) -> JsValue {
    Function::new_no_args(&format!("return ({source})")).call0(&JsValue::NULL).unwrap()
}

fn schema() -> JsValue {
    JSON::parse(
        r#"{
        "tables": [{ "name": "todos", "columns": [
            { "name": "id", "type": "text", "primaryKey": true },
            { "name": "text", "type": "text", "default": "" },
            { "name": "completed", "type": "boolean", "default": false },
            { "name": "due", "type": "datetime", "nullable": true },
            { "name": "tags", "type": "json", "nullable": true } ] },
          { "name": "uiState", "columns": [], "clientDocument": { "default": { "filter": "all" },
            "valueSchema": { "type": "struct", "fields": { "filter": { "type": "string" } } } } }],
        "events": [
          { "name": "created", "schema": { "type": "struct", "fields": {
              "id": { "type": "string" }, "text": { "type": "string" },
              "due": { "type": "optional", "inner": { "type": "date" } } } } },
          { "name": "completed", "schema": { "type": "struct", "fields": { "id": { "type": "string" } } } },
          { "name": "copied", "schema": { "type": "struct", "fields": { "from": { "type": "string" }, "to": { "type": "string" } } } },
          { "name": "noted", "schema": { "type": "struct", "fields": { "id": { "type": "string" } } } }
        ],
        "materializers": {
          "created": { "source": "f" }, "completed": { "source": "f" }, "copied": { "source": "f" }, "noted": { "source": "f" } }
    }"#,
    )
    .unwrap()
}

fn materializers() -> JsValue {
    js(r#"{
        created: ({ id, text, due }) => ({ kind: 'insert', table: 'todos',
            values: { id, text, due: due ?? null, tags: due instanceof Date ? ['dated'] : [] } }),
        completed: ({ id }) => 'UPDATE todos SET completed = 1 WHERE id = :id',
        copied: ({ from, to }, ctx) => {
            const row = ctx.query({ kind: 'select', table: 'todos', where: { id: from }, result: 'first' })
            if (!row) throw new Error('no todo ' + from)
            return [{ kind: 'insert', table: 'todos', values: { id: to, text: row.text + ' (copy)' } }]
        },
        noted: ({ id }, ctx) => ({ kind: 'update', table: 'todos',
            set: { text: `${ctx.event.name} ${ctx.event.seqNum} by ${ctx.event.clientId}/${ctx.event.sessionId}` }, where: { id } }),
    }"#)
}

fn session() -> WasmSession {
    WasmSession::new(schema(), materializers(), js("{ storeId: 's', clientId: 'c', sessionId: 'tab' }")).unwrap()
}

fn events(source: &str) -> Array {
    js(source).unchecked_into()
}

fn field(v: &JsValue, k: &str) -> JsValue {
    Reflect::get(v, &k.into()).unwrap()
}

fn stringify(v: &JsValue) -> String {
    JSON::stringify(v).unwrap().as_string().unwrap()
}

#[wasm_bindgen_test]
fn commit_and_query_round_trip_js_values() {
    let mut s = session();
    s.commit(events("[{ name: 'created', args: { id: 'a', text: 'Milk', due: new Date(86400000) } }, { name: 'created', args: { id: 'b', text: 'Eggs' } }]")).unwrap();
    s.commit(events("[{ name: 'completed', args: { id: 'b' } }]")).unwrap();
    let rows = s
        .query(js("{ kind: 'select', table: 'todos', orderBy: [{ column: 'id', direction: 'asc' }], result: 'rows' }"))
        .unwrap();
    let rows: Array = rows.unchecked_into();
    assert_eq!(rows.length(), 2);
    let a = rows.get(0);
    assert!(field(&a, "due").is_instance_of::<js_sys::Date>());
    assert_eq!(field(&a, "completed"), JsValue::FALSE);
    assert_eq!(stringify(&field(&a, "tags")), r#"["dated"]"#);
    assert_eq!(field(&rows.get(1), "completed"), JsValue::TRUE);
    let n = s.query(js("{ kind: 'select', table: 'todos', where: { completed: true }, result: 'count' }")).unwrap();
    assert_eq!(n.as_f64(), Some(1.0));
    let first = s
        .query(js("{ kind: 'sql', sql: 'SELECT text FROM todos WHERE id = ?', bind: ['b'], result: 'first' }"))
        .unwrap();
    assert_eq!(stringify(&first), r#"{"text":"Eggs"}"#);
}

#[wasm_bindgen_test]
fn errors_are_js_errors_with_a_code() {
    let mut s = session();
    let e = s.commit(events("[{ name: 'created', args: { id: 'a', text: 1 } }]")).unwrap_err();
    assert!(e.is_instance_of::<js_sys::Error>());
    assert_eq!(field(&e, "code").as_string().unwrap(), "INVALID_EVENT_ARGS");
    assert_eq!(field(&e, "event").as_string().unwrap(), "created");
    assert_eq!(field(&e, "field").as_string().unwrap(), "text");
    assert_eq!(field(&e, "name").as_string().unwrap(), "LiveStoreError");

    let e = s.commit(events("[{ name: 'copied', args: { from: 'x', to: 'y' } }]")).unwrap_err();
    assert_eq!(field(&e, "code").as_string().unwrap(), "MATERIALIZER_FAILED");
    let message = field(&e, "message").as_string().unwrap();
    assert!(message.contains("no todo x"), "{message}");
    let cause = field(&e, "cause");
    assert_eq!(field(&cause, "message").as_string().unwrap(), "no todo x");

    let e = s.query(js("{ kind: 'select', table: 'todos', where: { nope: 1 } }")).unwrap_err();
    assert_eq!(field(&e, "code").as_string().unwrap(), "UNKNOWN_COLUMN");
    let e = s.query(js("{ kind: 'select', table: 'todos', where: { completed: 'yes' } }")).unwrap_err();
    assert_eq!(field(&e, "code").as_string().unwrap(), "INVALID_VALUE");

    s.close();
    let e = s.query(js("{ kind: 'select', table: 'todos' }")).unwrap_err();
    assert_eq!(field(&e, "code").as_string().unwrap(), "STORE_CLOSED");
}

#[wasm_bindgen_test]
fn pulled_events_reach_the_materializers_with_their_args_and_ctx_event() {
    let mut s = session();
    // Another session's events, as the leader hands them over: their args are
    // converted together (except where a Date is revived or SQL materializes).
    let record = |n: u32, name: &str, args: &str| {
        format!(
            "{{ seqNum: {{ global: {n}, client: 0, rebaseGeneration: 0 }}, \
             parentSeqNum: {{ global: {}, client: 0, rebaseGeneration: 0 }}, \
             name: '{name}', args: {args}, clientId: 'other', sessionId: 'o-tab', clientOnly: false }}",
            n - 1
        )
    };
    let upstream = [
        record(1, "created", "{ id: 'a', text: 'A', due: 86400000 }"),
        record(2, "created", "{ id: 'b', text: 'B' }"),
        record(3, "noted", "{ id: 'a' }"),
        record(4, "completed", "{ id: 'b' }"),
        record(5, "noted", "{ id: 'b' }"),
        record(6, "copied", "{ from: 'a', to: 'c' }"),
    ];
    s.pull(events(&format!("[{}]", upstream.join(","))).into()).map_err(|e| field(&e, "message")).unwrap();
    let rows = s
        .query(js("{ kind: 'select', table: 'todos', orderBy: [{ column: 'id', direction: 'asc' }], result: 'rows' }"))
        .unwrap();
    let rows: Array = rows.unchecked_into();
    let texts: Vec<String> = rows.iter().map(|r| field(&r, "text").as_string().unwrap()).collect();
    assert_eq!(texts, ["noted e3 by other/o-tab", "noted e5 by other/o-tab", "noted e3 by other/o-tab (copy)"]);
    assert_eq!(stringify(&field(&rows.get(0), "tags")), r#"["dated"]"#);
    assert_eq!(field(&rows.get(1), "completed"), JsValue::TRUE);
}

#[wasm_bindgen_test]
fn a_schema_prepared_ahead_serves_the_session_and_a_bad_one_fails_with_its_error() {
    let desc = schema();
    prepare_schema(desc.clone()).unwrap();
    let options = js("{ storeId: 's', clientId: 'c', sessionId: 'tab' }");
    let mut s = WasmSession::new(desc.clone(), materializers(), options.clone()).unwrap();
    s.commit(events("[{ name: 'created', args: { id: 'a', text: 'A' } }]")).unwrap();
    let count = js("{ kind: 'select', table: 'todos', result: 'count' }");
    assert_eq!(s.query(count.clone()).unwrap().as_f64(), Some(1.0));

    // Another descriptor (the same content, another object) is parsed again; a bad one fails as it would unprepared.
    let bad = js("{ tables: [{ name: 'todos', columns: [] }], events: [], materializers: {} }");
    let e = prepare_schema(bad.clone()).unwrap_err();
    assert_eq!(field(&e, "code").as_string().unwrap(), "INVALID_SCHEMA");
    assert!(WasmSession::new(bad, materializers(), options.clone()).is_err());
    let again = WasmSession::new(schema(), materializers(), options).unwrap();
    assert_eq!(again.query(count).unwrap().as_f64(), Some(0.0));
}

#[wasm_bindgen_test]
fn materializers_read_the_state_of_the_commit_so_far() {
    let mut s = session();
    s.commit(events(
        "[{ name: 'created', args: { id: 'a', text: 'Milk' } }, { name: 'copied', args: { from: 'a', to: 'b' } }]",
    ))
    .unwrap();
    let b = s
        .query(js("{ kind: 'select', table: 'todos', select: ['text'], where: { id: 'b' }, result: 'first' }"))
        .unwrap();
    assert_eq!(stringify(&b), r#"{"text":"Milk (copy)"}"#);
}

#[wasm_bindgen_test]
fn live_queries_and_rollback() {
    let mut s = session();
    let open = s
        .subscribe_query(js("{ kind: 'select', table: 'todos', where: { completed: false }, result: 'count' }"))
        .unwrap();
    let doc = s.subscribe_query(js("{ kind: 'document', table: 'uiState', id: '__session__' }")).unwrap();
    let changed = s.commit(events("[{ name: 'created', args: { id: 'a', text: 'Milk' } }]")).unwrap();
    assert_eq!(changed.to_vec(), vec![open]);
    assert_eq!(s.live_result(open).unwrap().as_f64(), Some(1.0));
    let changed =
        s.commit(events("[{ name: 'uiStateSet', args: { id: '__session__', value: { filter: 'active' } } }]")).unwrap();
    assert_eq!(changed.to_vec(), vec![doc]);
    assert_eq!(stringify(&s.live_result(doc).unwrap()), r#"{"filter":"active"}"#);
    let changed = s.rollback(2).unwrap();
    assert_eq!(changed.to_vec(), vec![open, doc]);
    assert_eq!(s.live_result(open).unwrap().as_f64(), Some(0.0));
    assert_eq!(Array::from(&s.eventlog()).length(), 0);
}

#[wasm_bindgen_test]
fn a_repeated_query_returns_the_cached_result_until_the_state_changes() {
    let mut s = session();
    s.commit(events("[{ name: 'created', args: { id: 'a', text: 'Milk' } }]")).unwrap();
    let q = "{ kind: 'select', table: 'todos', where: { completed: false }, result: 'rows' }";
    let first = s.query(js(q)).unwrap();
    assert!(js_sys::Object::is(&first, &s.query(js(q)).unwrap()), "same query, same state: same object");
    let other = s.query(js("{ kind: 'select', table: 'todos', where: { completed: true }, result: 'rows' }")).unwrap();
    assert_eq!(Array::from(&other).length(), 0);
    s.commit(events("[{ name: 'created', args: { id: 'b', text: 'Eggs' } }]")).unwrap();
    let after = s.query(js(q)).unwrap();
    assert!(!js_sys::Object::is(&first, &after));
    assert_eq!(Array::from(&after).length(), 2);
    // A commit that fails changes nothing, and the cache stays valid.
    assert!(s.commit(events("[{ name: 'created', args: { id: 'b', text: 'again' } }]")).is_err());
    assert!(js_sys::Object::is(&after, &s.query(js(q)).unwrap()));
}

#[wasm_bindgen_test]
fn the_same_sql_read_as_rows_and_as_first_row_are_cached_apart() {
    let mut s = session();
    s.commit(events("[{ name: 'created', args: { id: 'a', text: 'Milk' } }]")).unwrap();
    let first = s.query(js("{ kind: 'sql', sql: 'SELECT id FROM todos', result: 'first' }")).unwrap();
    assert_eq!(js_sys::Reflect::get(&first, &"id".into()).unwrap(), "a");
    let rows = s.query(js("{ kind: 'sql', sql: 'SELECT id FROM todos' }")).unwrap();
    assert!(Array::is_array(&rows), "rows after first: {rows:?}");
    let again = s.query(js("{ kind: 'sql', sql: 'SELECT id FROM todos', result: 'first' }")).unwrap();
    assert!(!Array::is_array(&again), "first after rows: {again:?}");
}

/// The SQLite built into the wasm keeps full-text search (FTS5), the JSON
/// functions and the math functions (`.cargo/config.toml` drops other parts).
#[wasm_bindgen_test]
fn the_wasm_sqlite_has_fts5_json_and_math_functions() {
    let materializers = js(r#"{
        created: () => [
            'CREATE VIRTUAL TABLE IF NOT EXISTS notes USING fts5(body)',
            'INSERT INTO notes(body) VALUES (:text)',
        ],
        completed: () => [], copied: () => [], noted: () => [],
    }"#);
    let mut s =
        WasmSession::new(schema(), materializers, js("{ storeId: 's', clientId: 'c', sessionId: 'tab' }")).unwrap();
    s.commit(events("[{ name: 'created', args: { id: 'a', text: 'buy oat milk' } }, { name: 'created', args: { id: 'b', text: 'walk the dog' } }]"))
        .unwrap();
    let found = s
        .query(js("{ kind: 'sql', sql: \"SELECT body FROM notes WHERE notes MATCH 'milk'\", result: 'rows' }"))
        .unwrap();
    assert_eq!(stringify(&found), r#"[{"body":"buy oat milk"}]"#);
    let row = s
        .query(js(r#"{ kind: 'sql', sql: "SELECT json_extract('{\"a\":[1,2]}', '$.a[1]') AS j, sqrt(16.0) AS r, pi() > 3 AS p", result: 'first' }"#))
        .unwrap();
    assert_eq!(stringify(&row), r#"{"j":2,"r":4,"p":1}"#);
}
