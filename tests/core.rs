//! Native tests of the core: commit, queries, errors, live queries,
//! client documents, rollback and rebuild.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{materialize, session, todo_schema};
use livestore_rs::query::{Op, QueryDesc, ResultKind, Where};
use livestore_rs::schema::{Schema, SchemaDesc};
use livestore_rs::value::{SqlValue, Val};
use livestore_rs::{Error, EventInput, EventRecord, Session, SessionOptions};
use serde_json::json;

fn ev(name: &str, args: serde_json::Value) -> EventInput {
    EventInput::new(&format!("v1.{name}"), args)
}

fn created(id: &str, text: &str) -> EventInput {
    ev("TodoCreated", json!({ "id": id, "text": text }))
}

fn open_todos() -> QueryDesc {
    QueryDesc::Select {
        table: "todos".into(),
        select: None,
        filter: Some(Where::eq("completed", Val::Bool(false))),
        order_by: vec![livestore_rs::query::OrderBy { column: "text".into(), desc: false }],
        limit: None,
        offset: None,
        result: ResultKind::Rows,
    }
}

fn texts(s: &Session, q: &QueryDesc) -> Vec<String> {
    let r = s.query(q).unwrap();
    let col = r.columns.iter().position(|c| c.name == "text").unwrap();
    (0..r.rows.len())
        .map(|i| match r.cell(i, col) {
            Val::Text(t) => t,
            v => panic!("{v:?}"),
        })
        .collect()
}

#[test]
fn commit_materializes_and_queries_decode_by_column_type() {
    let mut s = session();
    s.commit(&[created("a", "Buy milk"), created("b", "Apples")], &materialize).unwrap();
    s.commit(&[ev("TodoCompleted", json!({ "id": "a" }))], &materialize).unwrap();
    assert_eq!(texts(&s, &open_todos()), ["Apples"]);

    let all = s.query(&QueryDesc::rows("todos", Some(Where::eq("id", Val::Text("a".into()))))).unwrap();
    assert_eq!(all.cell(0, 2), Val::Bool(true));
    assert_eq!(all.cell(0, 3), Val::Null);

    s.commit(&[ev("TodoClearedCompleted", json!({ "deletedAt": 1_700_000_000_000i64 }))], &materialize).unwrap();
    let a = s.query(&QueryDesc::rows("todos", Some(Where::eq("id", Val::Text("a".into()))))).unwrap();
    assert_eq!(a.cell(0, 3), Val::Date(1_700_000_000_000));
}

#[test]
fn sequence_numbers_count_synced_and_client_only_events_apart() {
    let mut s = session();
    s.commit(&[created("a", "x"), created("b", "y")], &materialize).unwrap();
    s.commit(&[EventInput::new("v1.Noted", json!({ "id": "a" }))], &materialize).unwrap();
    s.commit(&[EventInput::new("v1.Noted", json!({ "id": "b" })), created("c", "z")], &materialize).unwrap();
    let seqs: Vec<String> = s.eventlog().map(|r| r.seq_num.to_string()).collect();
    assert_eq!(seqs, ["e1", "e2", "e2.1", "e2.2", "e3"]);
    let parents: Vec<String> = s.eventlog().map(|r| r.parent_seq_num.to_string()).collect();
    assert_eq!(parents, ["e0", "e1", "e2", "e2.1", "e2.2"]);
    assert!(s.eventlog().all(|r| r.client_id == "c1" && r.session_id == "tab1"));
}

#[test]
fn a_failing_event_leaves_state_and_eventlog_as_before() {
    let mut s = session();
    s.commit(&[created("a", "first")], &materialize).unwrap();
    let before = s.db().unwrap().dump().unwrap();

    // Bad args in the second event: nothing of the first is kept either.
    let e = s.commit(&[created("b", "ok"), ev("TodoCreated", json!({ "id": "c", "text": 5 }))], &materialize);
    let e = e.unwrap_err();
    assert_eq!(e.code(), "INVALID_EVENT_ARGS");
    assert_eq!(e.to_string(), "invalid args for event 'v1.TodoCreated' at 'text': expected a string, got number 5");

    // A materializer's SQL error names the event and the constraint.
    let e = s.commit(&[created("b", "ok"), created("a", "dup")], &materialize).unwrap_err();
    assert_eq!(e.code(), "MATERIALIZER_FAILED");
    assert_eq!(e.event(), Some("v1.TodoCreated"));
    assert!(e.to_string().contains("UNIQUE constraint failed: todos.id"), "{e}");

    let e = s.commit(&[created("b", "ok"), ev("Nope", json!({}))], &materialize).unwrap_err();
    assert_eq!(e, Error::UnknownEvent("v1.Nope".into()));

    assert_eq!(s.db().unwrap().dump().unwrap(), before);
    assert_eq!(s.eventlog().len(), 1);
    assert_eq!(s.head().to_string(), "e1");
    // And the store keeps working.
    s.commit(&[created("b", "ok")], &materialize).unwrap();
    assert_eq!(s.head().to_string(), "e2");
}

#[test]
fn queries_report_unknown_tables_columns_and_closed_stores() {
    let mut s = session();
    let e = s.query(&QueryDesc::rows("nope", None)).unwrap_err();
    assert_eq!((e.code(), e.to_string().as_str()), ("UNKNOWN_TABLE", "unknown table 'nope'"));
    let e = s.query(&QueryDesc::rows("todos", Some(Where::eq("title", Val::Null)))).unwrap_err();
    assert_eq!(e.to_string(), "unknown column 'title' in table 'todos'");
    let e = s
        .query(&QueryDesc::Sql { sql: "SELECT * FROM nope".into(), bind: Default::default(), first: false })
        .unwrap_err();
    assert_eq!(e.code(), "SQL_ERROR");
    assert!(e.to_string().contains("no such table: nope"));
    s.close();
    assert_eq!(s.query(&open_todos()).unwrap_err(), Error::StoreClosed);
    assert_eq!(s.commit(&[created("a", "x")], &materialize).unwrap_err(), Error::StoreClosed);
}

#[test]
fn raw_sql_queries_only_read_state_changes_only_through_events() {
    let mut s = session();
    s.commit(&[created("a", "x")], &materialize).unwrap();
    let sql = |text: &str| QueryDesc::Sql { sql: text.into(), bind: Default::default(), first: false };
    let writes = [
        "DELETE FROM todos",
        "UPDATE todos SET text = 'y'",
        "INSERT INTO todos (id) VALUES ('b') RETURNING id",
        "CREATE TABLE t (x)",
        "CREATE TEMP TABLE t (x)",
        "DROP TABLE todos",
    ];
    for text in writes {
        let e = s.query(&sql(text)).unwrap_err();
        assert_eq!(e.code(), "INVALID_QUERY", "{text}: {e}");
        assert_eq!(e.to_string(), format!("invalid query: `{text}` writes: a query can only read; the state changes only through events (commit one)"));
    }
    for text in ["BEGIN", "ROLLBACK", "SAVEPOINT x", "ATTACH ':memory:' AS other", "PRAGMA foreign_keys = ON", " "] {
        let e = s.query(&sql(text)).unwrap_err();
        assert_eq!(e.code(), "INVALID_QUERY", "{text}: {e}");
        assert!(e.to_string().contains("returns no rows"), "{e}");
    }
    assert_eq!(texts(&s, &open_todos()), ["x"], "nothing was changed");
    assert_eq!(s.query(&sql("SELECT count(*) AS n FROM todos")).unwrap().rows.len(), 1);
    assert_eq!(s.query(&sql("PRAGMA table_info(todos)")).unwrap().rows.len(), 5);
    assert_eq!(s.query(&sql("WITH x AS (SELECT 1) SELECT * FROM x")).unwrap().rows.len(), 1);
    s.commit(&[created("b", "y")], &materialize).unwrap();
    assert_eq!(texts(&s, &open_todos()), ["x", "y"], "commits still work");
}

#[test]
fn where_operators_order_limit_offset_first_count() {
    let mut s = session();
    let events: Vec<_> = ["d", "a", "c", "b", "e"].iter().map(|t| created(t, t)).collect();
    s.commit(&events, &materialize).unwrap();
    s.commit(&[ev("TodoCompleted", json!({ "id": "c" }))], &materialize).unwrap();
    let select = |filter: Where, limit, offset, result| QueryDesc::Select {
        table: "todos".into(),
        select: Some(vec!["text".into()]),
        filter: Some(filter),
        order_by: vec![livestore_rs::query::OrderBy { column: "text".into(), desc: true }],
        limit,
        offset,
        result,
    };
    let cmp = |op, v: Val| Where::Cmp { column: "text".into(), op, value: v };
    assert_eq!(texts(&s, &select(cmp(Op::Gt, Val::Text("b".into())), None, None, ResultKind::Rows)), ["e", "d", "c"]);
    assert_eq!(
        texts(&s, &select(cmp(Op::In, Val::Json(json!(["a", "e", "z"]))), None, None, ResultKind::Rows)),
        ["e", "a"]
    );
    assert_eq!(
        texts(&s, &select(cmp(Op::NotIn, Val::Json(json!(["a", "e"]))), Some(1), Some(1), ResultKind::Rows)),
        ["c"]
    );
    assert_eq!(texts(&s, &select(cmp(Op::Like, Val::Text("%".into())), None, Some(4), ResultKind::Rows)), ["a"]);
    let or = Where::Or(vec![cmp(Op::Eq, Val::Text("a".into())), Where::eq("completed", Val::Bool(true))]);
    assert_eq!(texts(&s, &select(or.clone(), None, None, ResultKind::Rows)), ["c", "a"]);
    assert_eq!(texts(&s, &select(or.clone(), None, None, ResultKind::First)), ["c"]);
    assert_eq!(s.query(&select(or, None, None, ResultKind::Count)).unwrap().count(), 2);
    let none = select(cmp(Op::In, Val::Json(json!([]))), None, None, ResultKind::Count);
    assert_eq!(s.query(&none).unwrap().count(), 0);
}

#[test]
fn live_queries_report_only_changed_results() {
    let mut s = session();
    s.commit(&[created("a", "A"), created("b", "B")], &materialize).unwrap();
    s.refresh().unwrap();
    let open = s.subscribe(&open_todos()).unwrap();
    let by_id = |id: &str| QueryDesc::rows("todos", Some(Where::eq("id", Val::Text(id.into()))));
    let a = s.subscribe(&by_id("a")).unwrap();
    let b = s.subscribe(&by_id("b")).unwrap();
    let count = s
        .subscribe(&QueryDesc::Sql {
            sql: "SELECT COUNT(*) AS n FROM todos".into(),
            bind: Default::default(),
            first: true,
        })
        .unwrap();

    s.commit(&[ev("TodoCompleted", json!({ "id": "b" }))], &materialize).unwrap();
    assert_eq!(s.refresh().unwrap(), [open, b]);
    // Completing it again writes nothing new: no query changes.
    s.commit(&[ev("TodoCompleted", json!({ "id": "b" }))], &materialize).unwrap();
    assert_eq!(s.refresh().unwrap(), Vec::<u32>::new());
    s.commit(&[created("c", "C")], &materialize).unwrap();
    assert_eq!(s.refresh().unwrap(), [open, count]);
    s.commit(&[ev("TodoRenamed", json!({ "id": "a", "text": "A2" }))], &materialize).unwrap();
    assert_eq!(s.refresh().unwrap(), [open, a]);
    assert_eq!(texts(&s, &open_todos()), ["A2", "C"]);
    let live = s.live_result(open).unwrap();
    assert_eq!(live.rows.len(), 2);
    assert!(s.unsubscribe(open));
    assert!(s.live_result(open).is_err());
}

#[test]
fn a_statement_failing_part_way_leaves_nothing_behind() {
    // The session's state has no rollback journal: SQLite keeps the rows a
    // failing statement wrote before its error, and the session undoes them.
    use livestore_rs::write::writes_from_json;
    let copy_all = |_: &livestore_rs::schema::EventDef, rec: &EventRecord, _: &std::rc::Rc<livestore_rs::db::Db>| {
        writes_from_json(
            r#"[{"kind":"insert","table":"todos","values":{"id":"new","text":"first write"}},
                {"kind":"sql","sql":"UPDATE todos SET completed = 1"},
                {"kind":"sql","sql":"INSERT INTO todos (id, text) SELECT id || '-copy', text FROM todos ORDER BY id"}]"#,
            &rec.args,
        )
    };
    let items = [created("a", "A"), created("b", "B"), created("b-copy", "taken"), created("c", "C")];
    let mut fresh = session();
    fresh.commit(&items, &materialize).unwrap();
    // The same rows in a session started from a snapshot, as a tab of a persisted store is.
    let schema = || Schema::new(todo_schema()).unwrap();
    let mut db = livestore_rs::db::Db::open_in_memory(std::rc::Rc::new(schema()), "x").unwrap();
    db.conn
        .execute_batch("INSERT INTO todos (id, text) VALUES ('a', 'A'), ('b', 'B'), ('b-copy', 'taken'), ('c', 'C')")
        .unwrap();
    let options = SessionOptions { store_id: "s".into(), client_id: "c2".into(), session_id: "tab2".into() };
    let from_snapshot =
        Session::from_snapshot(schema(), options, &db.serialize().unwrap(), Default::default()).unwrap();
    for mut s in [fresh, from_snapshot] {
        fails_part_way_and_leaves_nothing(&mut s, &copy_all);
    }
}

fn fails_part_way_and_leaves_nothing(s: &mut Session, copy_all: &dyn livestore_rs::session::Materialize) {
    s.refresh().unwrap();
    let all = s.subscribe(&QueryDesc::rows("todos", None)).unwrap();
    let before = s.db().unwrap().dump().unwrap();
    // a-copy goes in, then b-copy conflicts.
    let logged = s.eventlog().len();
    let e = s.commit(&[created("x", "unused")], copy_all).unwrap_err();
    assert!(e.to_string().contains("UNIQUE constraint failed: todos.id"), "{e}");
    assert_eq!(s.db().unwrap().dump().unwrap(), before);
    assert_eq!(s.eventlog().len(), logged);
    assert_eq!(s.refresh().unwrap(), Vec::<u32>::new());
    let check = QueryDesc::Sql { sql: "PRAGMA integrity_check".into(), bind: Default::default(), first: false };
    assert_eq!(s.query(&check).unwrap().rows, [[SqlValue::Text("ok".into())]]);

    // The same writes succeed once nothing is in the way.
    s.commit(&[ev("TodoDeleted", json!({ "id": "b-copy" }))], &materialize).unwrap();
    s.commit(&[created("x", "unused")], copy_all).unwrap();
    assert_eq!(s.refresh().unwrap(), [all]);
    assert_eq!(s.live_result(all).unwrap().rows.len(), 8);
}

#[test]
fn keyed_live_queries_added_or_removed_between_commits() {
    let mut s = session();
    let by_id = |id: &str| QueryDesc::rows("todos", Some(Where::eq("id", Val::Text(id.into()))));
    s.commit(&[created("a", "A"), created("b", "B")], &materialize).unwrap();
    s.refresh().unwrap();
    // No query reads one row yet when this commit runs; `a` subscribes before the refresh.
    s.commit(&[ev("TodoCompleted", json!({ "id": "b" }))], &materialize).unwrap();
    let a = s.subscribe(&by_id("a")).unwrap();
    assert_eq!(s.refresh().unwrap(), Vec::<u32>::new());
    let b = s.subscribe(&by_id("b")).unwrap();
    s.commit(&[ev("TodoRenamed", json!({ "id": "a", "text": "A2" }))], &materialize).unwrap();
    assert_eq!(s.refresh().unwrap(), [a]);
    assert!(s.unsubscribe(a));
    s.commit(&[ev("TodoRenamed", json!({ "id": "b", "text": "B2" }))], &materialize).unwrap();
    assert_eq!(s.refresh().unwrap(), [b]);
    assert!(s.unsubscribe(b));
    let a2 = s.subscribe(&by_id("a")).unwrap();
    s.commit(&[ev("TodoRenamed", json!({ "id": "b", "text": "B3" }))], &materialize).unwrap();
    assert_eq!(s.refresh().unwrap(), Vec::<u32>::new());
    s.commit(&[ev("TodoRenamed", json!({ "id": "a", "text": "A3" }))], &materialize).unwrap();
    assert_eq!(s.refresh().unwrap(), [a2]);
}

#[test]
fn client_documents_merge_partial_updates_per_session() {
    let mut s = session();
    let doc = |id: &str| QueryDesc::Document { table: "uiState".into(), id: id.into() };
    assert_eq!(s.query(&doc("__session__")).unwrap().document(), json!({ "newTodoText": "", "filter": "all" }));
    let set = |id: &str, value| EventInput::new("uiStateSet", json!({ "id": id, "value": value }));
    s.commit(&[set("__session__", json!({ "filter": "active" }))], &materialize).unwrap();
    s.commit(&[set("__session__", json!({ "newTodoText": "hi" }))], &materialize).unwrap();
    assert_eq!(s.query(&doc("tab1")).unwrap().document(), json!({ "newTodoText": "hi", "filter": "active" }));
    assert_eq!(s.query(&doc("other")).unwrap().document(), json!({ "newTodoText": "", "filter": "all" }));
    assert_eq!(s.eventlog().last().unwrap().args.value()["id"], "tab1");
    assert!(s.eventlog().all(|r| r.client_only));
    let e = s.commit(&[set("x", json!({ "filter": "done" }))], &materialize).unwrap_err();
    assert_eq!(e.code(), "INVALID_EVENT_ARGS");
    assert!(e.to_string().contains("at 'value.filter'"), "{e}");
}

#[test]
fn rollback_undoes_a_suffix_and_rebuild_replays_the_log() {
    let mut s = session();
    s.commit(&[created("a", "A"), created("b", "B")], &materialize).unwrap();
    let after_two = s.db().unwrap().dump().unwrap();
    s.commit(&[ev("TodoCompleted", json!({ "id": "a" })), ev("TodoDeleted", json!({ "id": "b" }))], &materialize)
        .unwrap();
    s.commit(&[ev("TodoClearedCompleted", json!({ "deletedAt": 5 }))], &materialize).unwrap();
    let live = s.db().unwrap().dump().unwrap();
    s.rebuild(&materialize).unwrap();
    assert_eq!(s.db().unwrap().dump().unwrap(), live);

    let undone = s.rollback(3).unwrap();
    let names: Vec<&str> = undone.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(names, ["v1.TodoCompleted", "v1.TodoDeleted", "v1.TodoClearedCompleted"]);
    assert_eq!(s.db().unwrap().dump().unwrap(), after_two);
    assert_eq!(s.head().to_string(), "e2");
    // Re-applied on top they give the same state again.
    let inputs: Vec<EventInput> = undone.iter().map(|r| r.input()).collect();
    s.commit(&inputs, &materialize).unwrap();
    assert_eq!(s.db().unwrap().dump().unwrap(), live);
}

#[test]
fn schema_hash_is_stable_and_follows_tables_and_materializers() {
    let h = |d: SchemaDesc| Schema::new(d).unwrap().hash().to_string();
    let base = h(todo_schema());
    assert_eq!(base, h(todo_schema()));
    let mut d = todo_schema();
    d.materializers.insert(
        "v1.TodoDeleted".into(),
        serde_json::from_value(json!({ "sql": "UPDATE todos SET deletedAt = 1 WHERE id = :id" })).unwrap(),
    );
    assert_ne!(base, h(d));
    let mut d = todo_schema();
    d.tables[0].columns[1].default = Some(json!("untitled"));
    assert_ne!(base, h(d));
}

#[test]
fn schema_errors_are_clear() {
    let mut d = todo_schema();
    d.materializers.remove("v1.TodoDeleted");
    assert_eq!(Schema::new(d).unwrap_err().to_string(), "invalid schema: event 'v1.TodoDeleted' has no materializer");
    let mut d = todo_schema();
    d.tables[0].columns[0].primary_key = false;
    assert!(Schema::new(d).unwrap_err().to_string().contains("needs a primary key"));
}

#[test]
fn a_batch_of_writes_of_changing_shapes_runs_in_order_and_fails_as_a_whole() {
    use livestore_rs::write::writes_from_json;
    // Runs of the same shape share a statement; a change of shape (columns,
    // conflict clause, kind) in between must not reuse it.
    let batch = |fail: bool| {
        move |_: &livestore_rs::schema::EventDef,
              rec: &livestore_rs::EventRecord,
              _: &std::rc::Rc<livestore_rs::db::Db>| {
            let mut text = String::from("[");
            for i in 0..5 {
                text += &format!(r#"{{"kind":"insert","table":"todos","values":{{"id":"r{i}","text":"t{i}"}}}},"#);
            }
            text += r#"{"kind":"insert","table":"todos","values":{"id":"m","meta":{"tags":["x"]}}},"#;
            text += r#"{"kind":"insert","table":"todos","values":{"id":"r0","text":"again"},"onConflict":{"target":["id"],"action":"update","update":{"text":"upserted"}}},"#;
            text += r#"{"kind":"update","table":"todos","set":{"completed":true},"where":{"id":{"op":"IN","value":["r1","r2"]}}},"#;
            text += r#"{"kind":"delete","table":"todos","where":{"id":"r4"}},"#;
            text += r#"{"kind":"sql","sql":"UPDATE todos SET text = :text WHERE id = 'r3'"}"#;
            if fail {
                text += r#",{"kind":"insert","table":"todos","values":{"id":"r1"}}"#;
            }
            text += "]";
            writes_from_json(&text, &rec.args)
        }
    };
    let mut s = session();
    let before = s.db().unwrap().dump().unwrap();
    let e = s.commit(&[created("x", "sql text")], &batch(true)).unwrap_err();
    assert!(e.to_string().contains("UNIQUE"), "{e}");
    assert_eq!(s.db().unwrap().dump().unwrap(), before);
    assert_eq!(s.eventlog().len(), 0);

    s.commit(&[created("x", "sql text")], &batch(false)).unwrap();
    let rows = s
        .query(&QueryDesc::Sql {
            sql: "SELECT id, text, completed, meta FROM todos ORDER BY id".into(),
            bind: Default::default(),
            first: false,
        })
        .unwrap();
    let row = |i: usize| (0..4).map(|c| rows.cell(i, c)).collect::<Vec<_>>();
    let t = |s: &str| Val::Text(s.into());
    assert_eq!(rows.rows.len(), 5);
    assert_eq!(row(0), [t("m"), t(""), Val::Bool(false), Val::Json(json!({ "tags": ["x"] }))]);
    assert_eq!(row(1), [t("r0"), t("upserted"), Val::Bool(false), Val::Null]);
    assert_eq!(row(2)[2], Val::Bool(true));
    assert_eq!(row(3)[2], Val::Bool(true));
    assert_eq!(row(4), [t("r3"), t("sql text"), Val::Bool(false), Val::Null]);
}
