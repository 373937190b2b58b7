//! Indexes a session makes for the queries it runs (src/auto_index.rs):
//! made after a few costly runs, kept only when they help, never inside a
//! commit, never in a database that is not a session's own.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{materialize, session, todo_schema};
use livestore_rs::auto_index::{hint, IndexHint};
use livestore_rs::db::{Db, QueryResult};
use livestore_rs::query::{Op, OrderBy, QueryDesc, ResultKind, Where, WriteDesc};
use livestore_rs::schema::{EventDef, Schema};
use livestore_rs::value::Val;
use livestore_rs::{EventInput, EventRecord, Session, SessionOptions};
use serde_json::json;
use std::rc::Rc;

const ROWS: usize = 3000;

fn created(i: usize) -> EventInput {
    // Texts in another order than the ids, all different.
    EventInput::new(
        "v1.TodoCreated",
        json!({ "id": format!("t{i:05}"), "text": format!("todo {:05}", (i * 7919) % ROWS) }),
    )
}

fn filled() -> Session {
    let mut s = session();
    let events: Vec<EventInput> = (0..ROWS).map(created).collect();
    s.commit(&events, &materialize).unwrap();
    s
}

fn order(column: &str, desc: bool) -> OrderBy {
    OrderBy { column: column.into(), desc }
}

/// Open todos after `text`, by text, 50 at most: a full scan and a sort without an index.
fn open_after(text: &str) -> QueryDesc {
    QueryDesc::Select {
        table: "todos".into(),
        select: None,
        filter: Some(Where::And(vec![
            Where::eq("completed", Val::Bool(false)),
            Where::Cmp { column: "text".into(), op: Op::Gt, value: Val::Text(text.into()) },
        ])),
        order_by: vec![order("text", false)],
        limit: Some(50),
        offset: None,
        result: ResultKind::Rows,
    }
}

fn plan(db: &Db, q: &QueryDesc) -> String {
    let compiled = db.compile(q).unwrap();
    let sql = format!("EXPLAIN QUERY PLAN {}", compiled.sql.text);
    let mut stmt = db.conn.prepare(&sql).unwrap();
    let n = stmt.parameter_count();
    let rows = stmt.query_map(rusqlite::params_from_iter(vec![rusqlite::types::Null; n]), |r| r.get::<_, String>(3));
    rows.unwrap().map(|r| r.unwrap()).collect::<Vec<_>>().join("; ")
}

fn texts(r: &QueryResult) -> Vec<Val> {
    (0..r.rows.len()).map(|i| r.cell(i, 1)).collect()
}

fn auto_index_names(db: &Db) -> Vec<String> {
    let mut stmt = db
        .conn
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND name LIKE '__livestore_auto%'")
        .unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(|r| r.unwrap()).collect()
}

#[test]
fn a_query_run_again_and_again_over_a_large_table_gets_an_index_and_the_same_rows() {
    let s = filled();
    let db = s.db().unwrap().clone();
    assert!(plan(&db, &open_after("")).contains("TEMP B-TREE"), "{}", plan(&db, &open_after("")));
    let before: Vec<_> =
        (0..3).map(|i| texts(&s.query(&open_after(&format!("todo {:05}", i * 700))).unwrap())).collect();
    assert_eq!(
        db.auto_indexes(),
        vec![IndexHint { table: "todos".into(), columns: vec![order("completed", false), order("text", false)] }]
    );
    let p = plan(&db, &open_after(""));
    assert!(p.contains("__livestore_auto") && !p.contains("TEMP B-TREE"), "{p}");
    for (i, rows) in before.iter().enumerate() {
        assert_eq!(&texts(&s.query(&open_after(&format!("todo {:05}", i * 700))).unwrap()), rows);
        assert_eq!(rows.len(), 50);
    }
    // Kept: it helped (checked on the run after it was made).
    assert_eq!(auto_index_names(&db).len(), 1);
}

#[test]
fn an_index_that_does_not_make_the_query_cheaper_is_dropped() {
    // Counting the todos after '' reads them all, with or without an index.
    let s = filled();
    let db = s.db().unwrap().clone();
    let open = QueryDesc::Select {
        table: "todos".into(),
        select: None,
        filter: Some(Where::Cmp { column: "text".into(), op: Op::Gt, value: Val::Text(String::new()) }),
        order_by: vec![],
        limit: None,
        offset: None,
        result: ResultKind::Count,
    };
    for _ in 0..3 {
        assert_eq!(s.query(&open).unwrap().count(), ROWS as i64);
    }
    assert_eq!(auto_index_names(&db).len(), 1, "made after the third run");
    for _ in 0..5 {
        assert_eq!(s.query(&open).unwrap().count(), ROWS as i64);
    }
    assert!(auto_index_names(&db).is_empty());
    assert!(db.auto_indexes().is_empty());
}

#[test]
fn queries_inside_a_commit_make_no_index() {
    // A materializer that reads the state with a costly query, many times.
    let reads = |def: &EventDef, rec: &EventRecord, db: &Rc<Db>| -> livestore_rs::Result<Vec<WriteDesc>> {
        for _ in 0..5 {
            db.query(&open_after(""))?;
        }
        materialize(def, rec, db)
    };
    let mut s = filled();
    s.commit(&[EventInput::new("v1.TodoCreated", json!({ "id": "x", "text": "x" }))], &reads).unwrap();
    let db = s.db().unwrap().clone();
    assert!(auto_index_names(&db).is_empty());
    // Outside the commit, the next costly run is the one that makes it.
    s.query(&open_after("")).unwrap();
    assert_eq!(auto_index_names(&db).len(), 1);
}

#[test]
fn live_queries_refreshed_by_commits_get_an_index_too() {
    let mut s = filled();
    let id = s.subscribe(&open_after("todo 01000")).unwrap();
    for i in 0..4 {
        s.commit(&[EventInput::new("v1.TodoCompleted", json!({ "id": format!("t{i:05}") }))], &materialize).unwrap();
        s.refresh().unwrap();
    }
    let db = s.db().unwrap().clone();
    assert_eq!(auto_index_names(&db).len(), 1);
    assert_eq!(texts(s.live_result(id).unwrap()), texts(&s.query(&open_after("todo 01000")).unwrap()));
}

#[test]
fn the_leaders_state_and_its_snapshots_never_get_one() {
    let schema = || Rc::new(Schema::new(todo_schema()).unwrap());
    let plain = Db::open_in_memory(schema(), "").unwrap();
    let s = filled();
    let snapshot = {
        // The leader's state is a plain Db: the same data, queried the same way.
        for i in 0..ROWS {
            let text = format!("todo {:05}", (i * 7919) % ROWS);
            plain
                .conn
                .execute("INSERT INTO todos (id, text, completed) VALUES (?, ?, 0)", (format!("t{i:05}"), text))
                .unwrap();
        }
        for _ in 0..10 {
            plain.query(&open_after("")).unwrap();
            s.query(&open_after("")).unwrap();
        }
        assert!(auto_index_names(&plain).is_empty());
        let mut plain = plain;
        plain.serialize().unwrap()
    };
    assert_eq!(auto_index_names(s.db().unwrap()).len(), 1);
    let options = SessionOptions { store_id: "s".into(), client_id: "c".into(), session_id: "tab2".into() };
    let tab =
        Session::from_snapshot(Schema::new(todo_schema()).unwrap(), options, &snapshot, Default::default()).unwrap();
    assert!(auto_index_names(tab.db().unwrap()).is_empty());
}

#[test]
fn a_rebuilt_state_starts_over() {
    let mut s = filled();
    for _ in 0..4 {
        s.query(&open_after("")).unwrap();
    }
    assert_eq!(s.db().unwrap().auto_indexes().len(), 1);
    s.rebuild(&materialize).unwrap();
    let db = s.db().unwrap().clone();
    assert!(auto_index_names(&db).is_empty() && db.auto_indexes().is_empty());
    for _ in 0..3 {
        s.query(&open_after("")).unwrap();
    }
    assert_eq!(auto_index_names(&db).len(), 1);
}

#[test]
fn the_hint_is_the_equality_columns_then_the_sort_or_else_the_range() {
    let schema = Schema::new(todo_schema()).unwrap();
    let t = schema.table("todos").unwrap();
    let cols = |h: Option<IndexHint>| -> Vec<(String, bool)> {
        h.map(|h| h.columns.into_iter().map(|c| (c.column, c.desc)).collect()).unwrap_or_default()
    };
    let eq = |c: &str| Where::eq(c, Val::Int(1));
    let gt = |c: &str| Where::Cmp { column: c.into(), op: Op::Gt, value: Val::Int(1) };
    let and = |w: Vec<Where>| Some(Where::And(w));
    let c = |s: &str, d: bool| (s.to_string(), d);
    // Equality columns (by name), then the sort.
    let w = and(vec![eq("text"), eq("completed")]);
    assert_eq!(
        cols(hint(t, w.as_ref(), &[order("deletedAt", false)], None)),
        [c("completed", false), c("text", false), c("deletedAt", false)]
    );
    // A sort all descending uses an ascending index; a mixed one keeps its directions.
    assert_eq!(
        cols(hint(t, None, &[order("text", true), order("id", true)], None)),
        [c("text", false), c("id", false)]
    );
    assert_eq!(
        cols(hint(t, None, &[order("text", false), order("id", true)], None)),
        [c("text", false), c("id", true)]
    );
    // A sort on a column compared with `=` adds nothing.
    assert_eq!(cols(hint(t, Some(&eq("text")), &[order("text", false)], None)), [c("text", false)]);
    // A range: after the equality columns, unless a limited sort comes first.
    let w = and(vec![eq("completed"), gt("deletedAt")]);
    assert_eq!(cols(hint(t, w.as_ref(), &[], None)), [c("completed", false), c("deletedAt", false)]);
    assert_eq!(
        cols(hint(t, w.as_ref(), &[order("text", false)], None)),
        [c("completed", false), c("deletedAt", false)]
    );
    assert_eq!(cols(hint(t, w.as_ref(), &[order("text", false)], Some(10))), [c("completed", false), c("text", false)]);
    // Nothing to index: no filter nor sort, or only alternatives.
    assert_eq!(hint(t, None, &[], None), None);
    assert_eq!(hint(t, Some(&Where::Or(vec![eq("text"), eq("completed")])), &[], None), None);
}
