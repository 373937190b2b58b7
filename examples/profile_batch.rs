//! W3's batch natively: one event of 10,000 items whose materializer returns
//! its inserts as the JSON the JS layer hands over, for instruction counts
//! under callgrind:
//! `valgrind --tool=callgrind target/release/examples/profile_batch [descs]`
//! (add `--toggle-collect='livestore_rs::session::Session::commit_owned'`
//! to count the commits alone: the writes are made before each commit)
//! (`descs`: decode the writes into descriptors first, the general path;
//! `single`: 5,000 events of one item each instead, as W1 commits them).

use livestore_rs::db::Db;
use livestore_rs::schema::{EventDef, Schema};
use livestore_rs::write::{run_writes, run_writes_json, writes_from_json};
use livestore_rs::{Args, EventInput, EventRecord, Materialize, Session, SessionOptions};
use serde_json::json;
use std::cell::RefCell;
use std::rc::Rc;

/// As the benchmark's `items.map(({ id, text }) => todos.insert({ id, text, completed: false }))`.
struct Inserts {
    descs: bool,
    /// The writes of the next event, made before the commit so that
    /// making them (the JS layer's work in the browser) is not counted.
    ready: RefCell<Option<String>>,
}

impl Inserts {
    /// As the JS layer sends them: one insert, or a run of them as insertRows.
    fn json(args: &Args) -> String {
        let args = args.value();
        let items = args["items"].as_array().unwrap();
        let writes = match &items[..] {
            [i] => {
                json!([{ "kind": "insert", "table": "todos", "values": { "id": i["id"], "text": i["text"], "completed": false } }])
            }
            _ => {
                let rows: Vec<_> = items.iter().map(|i| json!([i["id"], i["text"], false])).collect();
                json!([{ "kind": "insertRows", "table": "todos", "columns": ["id", "text", "completed"], "rows": rows }])
            }
        };
        serde_json::to_string(&writes).unwrap()
    }
}

impl Materialize for Inserts {
    fn materialize(
        &self,
        _: &EventDef,
        record: &EventRecord,
        _: &Rc<Db>,
    ) -> livestore_rs::Result<Vec<livestore_rs::query::WriteDesc>> {
        writes_from_json(&self.writes(record), &record.args)
    }

    fn apply(&self, def: &EventDef, record: &EventRecord, db: &Rc<Db>) -> livestore_rs::Result<()> {
        if self.descs {
            return run_writes(db, self.materialize(def, record, db)?);
        }
        run_writes_json(db, &self.writes(record), &record.args)
    }
}

impl Inserts {
    fn writes(&self, record: &EventRecord) -> String {
        self.ready.borrow_mut().take().unwrap_or_else(|| Self::json(&record.args))
    }

    /// Makes the writes of the one event in `events` ahead of its commit.
    fn prepare(&self, events: &[EventInput]) {
        *self.ready.borrow_mut() = Some(Self::json(&events[0].args));
    }
}

fn main() {
    let schema = serde_json::from_value(json!({
        "tables": [{ "name": "todos", "columns": [
            { "name": "id", "type": "text", "primaryKey": true },
            { "name": "text", "type": "text", "default": "" },
            { "name": "completed", "type": "boolean", "default": false },
            { "name": "deletedAt", "type": "integer", "nullable": true } ] }],
        "events": [{ "name": "v1.TodosCreatedBatch", "schema": { "type": "struct", "fields": { "items": { "type": "array",
            "items": { "type": "struct", "fields": { "id": { "type": "string" }, "text": { "type": "string" } } } } } } }],
        "materializers": { "v1.TodosCreatedBatch": { "source": "({ items }) => items.map(…)" } }
    }))
    .unwrap();
    let options = SessionOptions { store_id: "s".into(), client_id: "c1".into(), session_id: "tab1".into() };
    let mut s = Session::new(Schema::new(schema).unwrap(), options).unwrap();
    let m = Inserts { descs: std::env::args().any(|a| a == "descs"), ready: Default::default() };
    let events = |n: usize, prefix: &str| {
        let items: Vec<_> =
            (0..n).map(|i| json!({ "id": format!("{prefix}{i}"), "text": format!("todo {i:010}") })).collect();
        let text =
            serde_json::to_string(&json!([{ "name": "v1.TodosCreatedBatch", "args": { "items": items } }])).unwrap();
        serde_json::from_str::<Vec<EventInput>>(&text).unwrap()
    };
    s.commit_owned(events(100, "w"), &m).unwrap();
    s.refresh().unwrap();
    if std::env::args().any(|a| a == "single") {
        for i in 0..5_000 {
            let events = events(1, &format!("s{i}_"));
            m.prepare(&events);
            s.commit_owned(events, &m).unwrap();
            s.refresh().unwrap();
        }
        return;
    }
    let batch = events(10_000, "b");
    m.prepare(&batch);
    s.commit_owned(batch, &m).unwrap();
    s.refresh().unwrap();
}
