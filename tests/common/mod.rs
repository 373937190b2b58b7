//! The todo schema shared by the native tests.
#![allow(dead_code)] // each test binary uses part of it

use livestore_rs::db::Db;
use livestore_rs::query::{Where, WriteDesc};
use livestore_rs::schema::{EventDef, Schema, SchemaDesc};
use livestore_rs::value::Val;
use livestore_rs::{EventRecord, Session, SessionOptions};
use serde_json::json;
use std::rc::Rc;

pub fn todo_schema() -> SchemaDesc {
    serde_json::from_value(json!({
        "tables": [
            { "name": "todos", "columns": [
                { "name": "id", "type": "text", "primaryKey": true },
                { "name": "text", "type": "text", "default": "" },
                { "name": "completed", "type": "boolean", "default": false },
                { "name": "deletedAt", "type": "datetime", "nullable": true },
                { "name": "meta", "type": "json", "nullable": true }
              ],
              "indexes": [{ "name": "todos_completed", "columns": ["completed"] }] },
            { "name": "uiState", "columns": [], "clientDocument": {
                "default": { "newTodoText": "", "filter": "all" },
                "valueSchema": { "type": "struct", "fields": {
                    "newTodoText": { "type": "string" },
                    "filter": { "type": "literal", "values": ["all", "active", "completed"] } } } } }
        ],
        "events": [
            { "name": "v1.TodoCreated", "schema": { "type": "struct", "fields": {
                "id": { "type": "string" }, "text": { "type": "string" } } } },
            { "name": "v1.TodoCompleted", "schema": { "type": "struct", "fields": { "id": { "type": "string" } } } },
            { "name": "v1.TodoRenamed", "schema": { "type": "struct", "fields": {
                "id": { "type": "string" }, "text": { "type": "string" } } } },
            { "name": "v1.TodoDeleted", "schema": { "type": "struct", "fields": { "id": { "type": "string" } } } },
            { "name": "v1.TodoClearedCompleted", "schema": { "type": "struct", "fields": { "deletedAt": { "type": "date" } } } },
            { "name": "v1.Noted", "clientOnly": true, "schema": { "type": "struct", "fields": { "id": { "type": "string" } } } }
        ],
        "materializers": {
            "v1.TodoCreated": { "source": "({ id, text }) => todos.insert({ id, text })" },
            "v1.TodoCompleted": { "source": "({ id }) => todos.update({ completed: true }).where({ id })" },
            "v1.TodoRenamed": { "sql": "UPDATE todos SET text = :text WHERE id = :id" },
            "v1.TodoDeleted": { "sql": "DELETE FROM todos WHERE id = :id" },
            "v1.TodoClearedCompleted": { "sql": "UPDATE todos SET deletedAt = :deletedAt WHERE completed = 1" },
            "v1.Noted": { "sql": "UPDATE todos SET meta = json_object('noted', 1) WHERE id = :id" }
        }
    }))
    .unwrap()
}

/// The Rust stand-in for the app's materializer functions.
pub fn materialize(def: &EventDef, rec: &EventRecord, _db: &Rc<Db>) -> livestore_rs::Result<Vec<WriteDesc>> {
    let s = |k: &str| Val::Text(rec.args.value()[k].as_str().unwrap().to_string());
    Ok(match def.name.as_str() {
        "v1.TodoCreated" => vec![WriteDesc::Insert {
            table: "todos".into(),
            values: vec![("id".into(), s("id")), ("text".into(), s("text"))],
            on_conflict: None,
        }],
        "v1.TodoCompleted" => vec![WriteDesc::Update {
            table: "todos".into(),
            set: vec![("completed".into(), Val::Bool(true))],
            filter: Some(Where::eq("id", s("id"))),
        }],
        other => panic!("no function for {other}"),
    })
}

pub fn session() -> Session {
    let options = SessionOptions { store_id: "s".into(), client_id: "c1".into(), session_id: "tab1".into() };
    Session::new(Schema::new(todo_schema()).unwrap(), options).unwrap()
}
