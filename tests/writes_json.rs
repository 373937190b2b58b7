//! The writes of JS materializers arrive as JSON: `run_writes_json` (plain
//! inserts decoded borrowed, on a shared statement) must do exactly what
//! decoding them with `writes_from_json` and running those does: the same
//! rows, the same errors, nothing changed on failure.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::session;
use livestore_rs::db::Db;
use livestore_rs::query::WriteDesc;
use livestore_rs::schema::EventDef;
use livestore_rs::write::{run_writes, run_writes_json, writes_from_json};
use livestore_rs::{EventInput, EventRecord, Materialize};
use serde_json::json;
use std::rc::Rc;

/// A materializer returning `text` as its writes, run by either path.
struct Writes {
    text: String,
    direct: bool,
}

impl Materialize for Writes {
    fn materialize(&self, _: &EventDef, rec: &EventRecord, _: &Rc<Db>) -> livestore_rs::Result<Vec<WriteDesc>> {
        writes_from_json(&self.text, &rec.args)
    }

    fn apply(&self, def: &EventDef, rec: &EventRecord, db: &Rc<Db>) -> livestore_rs::Result<()> {
        match self.direct {
            true => run_writes_json(db, &self.text, &rec.args),
            false => run_writes(db, self.materialize(def, rec, db)?),
        }
    }
}

/// The state after committing one event whose writes are `text`, or the error.
fn outcome(text: &str, direct: bool) -> Result<String, String> {
    let mut s = session();
    let seed = r#"[{"kind":"insert","table":"todos","values":{"id":"seed","text":"s"}}]"#;
    s.commit(&[created("seed")], &Writes { text: seed.into(), direct }).unwrap();
    let before = s.db().unwrap().dump().unwrap();
    match s.commit(&[created("x")], &Writes { text: text.into(), direct }) {
        Ok(_) => Ok(s.db().unwrap().dump().unwrap()),
        Err(e) => {
            assert_eq!(s.db().unwrap().dump().unwrap(), before, "a failed commit changed the state: {text}");
            Err(e.to_string())
        }
    }
}

fn created(id: &str) -> EventInput {
    EventInput::new("v1.TodoCreated", json!({ "id": id, "text": "from args" }))
}

fn rows(columns: &str, rows: &str) -> String {
    format!(r#"[{{"kind":"insertRows","table":"todos","columns":{columns},"rows":{rows}}}]"#)
}

fn insert(values: &str) -> String {
    format!(r#"{{"kind":"insert","table":"todos","values":{values}}}"#)
}

#[test]
fn plain_inserts_decoded_borrowed_run_as_the_general_decoder_does() {
    let mut cases: Vec<String> = vec![
        // escapes, unicode, key orders, a run sharing one statement
        format!(
            "[{},{},{}]",
            insert(r#"{"id":"a","text":"q\"\\\n\u00e9"}"#),
            insert(r#"{"text":"é ✓","id":"b"}"#),
            insert(r#"{"id":"c"}"#)
        ),
        // every column type: booleans, integers and floats, datetimes, nested JSON, nulls
        format!(
            "[{}]",
            insert(r#"{"id":"a","completed":1,"deletedAt":1700000000123,"meta":{"b":[1,2.5,null],"a":"x"}}"#)
        ),
        format!("[{}]", insert(r#"{"id":"a","deletedAt":3.0,"meta":"text as json"}"#)),
        format!("[{}]", insert(r#"{"id":"a","meta":18446744073709551615,"deletedAt":-5}"#)),
        format!("[{}]", insert(r#"{"id":"a","meta":[true,{"z":1}],"deletedAt":null}"#)),
        // a duplicate key: the last one counts
        format!("[{}]", insert(r#"{"id":"a","text":"first","text":"last"}"#)),
        // mixed with every other kind of write, the shape changing in between
        format!(
            "[{},{},{},{},{},{},{}]",
            insert(r#"{"id":"a","text":"1"}"#),
            r#"{"kind":"insert","table":"todos","values":{"id":"a","text":"2"},"onConflict":{"target":["id"],"action":"update","update":{"text":"up"}}}"#,
            insert(r#"{"id":"b","text":"3"}"#),
            r#"{"kind":"update","table":"todos","set":{"completed":true},"where":{"id":"b"}}"#,
            insert(r#"{"id":"c","completed":false}"#),
            r#"{"kind":"sql","sql":"UPDATE todos SET text = :text WHERE id = 'c'"}"#,
            r#"{"table":"todos","kind":"delete","where":{"id":"seed"}}"#
        ),
        // errors: of the values, of the columns, of the form, of SQLite
        format!("[{},{}]", insert(r#"{"id":"a"}"#), insert(r#"{"id":"b","completed":"yes"}"#)),
        format!("[{}]", insert(r#"{"id":"a","nope":1,"completed":"yes"}"#)),
        format!("[{}]", insert(r#"{"id":"a","completed":"yes","nope":1}"#)),
        format!("[{}]", insert(r#"{"id":"a","text":[1]}"#)),
        format!("[{},{}]", insert(r#"{"id":"a"}"#), insert(r#"{"id":"a"}"#)),
        r#"[{"kind":"insert","table":"nope","values":{"id":"a"}}]"#.into(),
        r#"[{"kind":"insert","table":"todos","values":[1]}]"#.into(),
        r#"[{"kind":"insert","table":"todos"}]"#.into(),
        r#"[{"kind":"insert","values":{"id":"a"}}]"#.into(),
        r#"[{"kind":7,"table":"todos","values":{"id":"a"}}]"#.into(),
        r#"[{"kind":"upsert","table":"todos","values":{"id":"a"}}]"#.into(),
        r#"[{"kind":"insert","table":"todos","values":{"id":"a"},"onConflict":null}]"#.into(),
        format!("[{},5]", insert(r#"{"id":"a"}"#)),
        format!("[{}", insert(r#"{"id":"a"}"#)),
        r#"{"kind":"insert"}"#.into(),
        "[]".into(),
        format!("[{}]", insert("{}")),
        // runs of inserts as insertRows (how the JS layer sends a batch)
        rows(r#"["text","id","completed"]"#, r#"[["q\"1","a",true],["é","b",0],["x","c",false]]"#),
        format!(
            "[{},{},{}]",
            insert(r#"{"id":"a"}"#),
            &rows(r#"["id"]"#, r#"[["b"],["c"]]"#)[1..].trim_end_matches(']'),
            insert(r#"{"id":"d"}"#)
        ),
        rows(r#"["id","meta"]"#, r#"[["a",{"k":[1]}],["b",[2.5]]]"#),
        rows(r#"["id","id"]"#, r#"[["a","b"]]"#),
        rows(r#"["id","text"]"#, r#"[["a","x"],["b"]]"#),
        rows(r#"["id","completed"]"#, r#"[["a",true],["b","yes"]]"#),
        rows(r#"["id","nope"]"#, r#"[["a",1]]"#),
        rows(r#"["nope","id","completed"]"#, r#"[[1,"a","yes"]]"#),
        rows(r#"["text","id","completed"]"#, r#"[["ok","a",true],[[1],"b","yes"]]"#),
        rows(r#"["id",5]"#, r#"[["a",1]]"#),
        rows(r#"["id"]"#, r#"[["a"],["a"]]"#),
        rows(r#"["id"]"#, r#"[]"#),
        r#"[{"kind":"insertRows","table":"todos","columns":["id"]}]"#.into(),
        r#"[{"kind":"insertRows","table":"todos","columns":["id"],"rows":[5]}]"#.into(),
        r#"[{"kind":"insertRows","columns":["id"],"rows":[["a"]]}]"#.into(),
    ];
    // in a long run, a key taken before a wrong value gives the error it
    // gives row by row
    let taken: Vec<String> = (0..40)
        .map(|i| match i {
            5 => r#"["seed",true]"#.to_string(),
            10 => r#"["x10","yes"]"#.to_string(),
            i => format!(r#"["x{i}",false]"#),
        })
        .collect();
    cases.push(rows(r#"["id","completed"]"#, &format!("[{}]", taken.join(","))));
    cases.push(rows(r#"["id","completed"]"#, &format!("[{}]", taken[6..].join(","))));
    // runs long enough to go 64 rows per statement: the same errors, from
    // the same rows, when the wrong value or the taken key is in a later chunk
    let long = |bad: &[(usize, &str)]| {
        let row = |i| bad.iter().find(|(at, _)| *at == i).map_or(format!(r#"["y{i}",false]"#), |(_, r)| r.to_string());
        rows(r#"["id","completed"]"#, &format!("[{}]", (0..150).map(row).collect::<Vec<_>>().join(",")))
    };
    cases.push(long(&[(70, r#"["seed",true]"#), (75, r#"["y75","yes"]"#)]));
    cases.push(long(&[(75, r#"["y75","yes"]"#), (140, r#"["seed",true]"#)]));
    cases.push(long(&[(100, r#"["y3",true]"#)]));
    cases.push(long(&[]));
    // a batch of 300 rows with a bad one last: all or nothing
    let rows: Vec<String> = (0..300).map(|i| insert(&format!(r#"{{"id":"r{i}","text":"t{i}"}}"#))).collect();
    cases.push(format!("[{}]", rows.join(",")));
    cases.push(format!("[{},{}]", rows.join(","), insert(r#"{"id":"r7"}"#)));
    for text in &cases {
        assert_eq!(outcome(text, true), outcome(text, false), "{text}");
    }
    let ok = cases.iter().filter(|t| outcome(t, true).is_ok()).count();
    assert_eq!(ok, 16, "cases that commit");
    let end = cases.len();
    assert!(outcome(&cases[end - 8], true).unwrap_err().contains("UNIQUE"));
    assert!(outcome(&cases[end - 7], true).unwrap_err().contains("expected a boolean"));
    assert!(outcome(&cases[end - 6], true).unwrap_err().contains("UNIQUE"));
    assert!(outcome(&cases[end - 5], true).unwrap_err().contains("expected a boolean"));
    assert!(outcome(&cases[end - 4], true).unwrap_err().contains("UNIQUE"));
    assert!(outcome(&cases[end - 3], true).unwrap().contains("y149"));
    assert!(outcome(&cases[end - 2], true).unwrap().contains("r299"));
    assert!(outcome(&cases[end - 1], true).unwrap_err().contains("UNIQUE"));
}
