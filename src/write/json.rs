//! The JSON form of writes, what the JS layer hands over in one boundary
//! crossing: an array of write descriptors (the builders' `desc`).
//!
//! `run_writes_json` decodes the plain inserts (no `onConflict`) and the
//! `insertRows` (a run of them: a batch) into rows whose text borrows from
//! the JSON, and the rest, element by element, as `writes_from_json` does.
//! Whatever does not decode that way (malformed JSON, a write of the wrong
//! form) goes through `writes_from_json`, so errors are its own.

use super::{by_name, run_writes, Cell, Rows, Runner};
use crate::db::Db;
use crate::error::{Error, Result};
use crate::query::{Bind, ConflictAction, Op, Where, WriteDesc};
use crate::value::Val;
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// Runs a JSON array of write descriptors in order; all are decoded before
/// the first runs.
pub fn run_writes_json(db: &Db, text: &str, args: &crate::event::Args) -> Result<()> {
    let Some(writes) = decode_all(text, args) else {
        return run_writes(db, writes_from_json(text, args)?);
    };
    let mut runner = Runner::new(db);
    for w in writes {
        match w {
            Decoded::Inserts(rows) => runner.insert_rows(&rows)?,
            Decoded::Other(w) => runner.run(w)?,
        }
    }
    Ok(())
}

/// The writes of `text`; `None` where they do not decode this way (the
/// general decoder then tells why).
fn decode_all<'a>(text: &'a str, args: &crate::event::Args) -> Option<Vec<Decoded<'a>>> {
    let mut de = serde_json::Deserializer::from_str(text);
    let writes = DecodeAll { args }.deserialize(&mut de).ok()?;
    de.end().ok()?;
    Some(writes)
}

struct DecodeAll<'x> {
    args: &'x crate::event::Args,
}

impl<'de> DeserializeSeed<'de> for DecodeAll<'_> {
    type Value = Vec<Decoded<'de>>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Self::Value, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for DecodeAll<'_> {
    type Value = Vec<Decoded<'de>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of write descriptors")
    }

    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> std::result::Result<Self::Value, S::Error> {
        let mut writes = Vec::new();
        while let Some(w) = seq.next_element::<Wire<'de>>()? {
            w.decode_into(self.args, &mut writes).map_err(serde::de::Error::custom)?;
        }
        Ok(writes)
    }
}

enum Decoded<'a> {
    /// `{ kind: 'insert', table, values }` (one row) or an `insertRows`.
    Inserts(Rows<'a>),
    Other(WriteDesc),
}

/// A write descriptor as read in one pass: the parts of its inserts, and the
/// rest as JSON.
struct Wire<'a> {
    kind: Option<Cow<'a, str>>,
    table: Option<Cow<'a, str>>,
    /// An insert's, as its column names and values.
    values: Option<(Vec<Cow<'a, str>>, Vec<Cell<'a>>)>,
    /// Of an `insertRows`.
    columns: Option<Vec<Cow<'a, str>>>,
    rows: Option<Vec<Vec<Cell<'a>>>>,
    rest: serde_json::Map<String, serde_json::Value>,
}

impl<'a> Wire<'a> {
    /// Appends the write (an `insertRows`: its inserts) to `out`. The errors
    /// of an `insertRows` are told by `writes_from_json`.
    #[inline(never)]
    fn decode_into(self, args: &crate::event::Args, out: &mut Vec<Decoded<'a>>) -> Result<()> {
        match self {
            Wire { kind: Some(kind), table: Some(table), values: Some((columns, row)), rest, .. }
                if kind == "insert" && !rest.contains_key("onConflict") && distinct(&columns) =>
            {
                out.push(Decoded::Inserts(Rows { table, columns, rows: vec![row] }));
            }
            Wire { kind: Some(kind), table: Some(table), columns: Some(columns), rows: Some(rows), .. }
                if kind == "insertRows" =>
            {
                if !distinct(&columns) || rows.iter().any(|r| r.len() != columns.len()) {
                    return Err(Error::InvalidQuery(
                        "insertRows: columns named twice or rows of the wrong length".into(),
                    ));
                }
                out.push(Decoded::Inserts(Rows { table, columns, rows }));
            }
            Wire { kind, table, values, mut rest, .. } => {
                let text = |s: Cow<'_, str>| serde_json::Value::String(s.into_owned());
                rest.extend(kind.map(|k| ("kind".to_string(), text(k))));
                rest.extend(table.map(|t| ("table".to_string(), text(t))));
                if let Some((columns, row)) = values {
                    let mut object = serde_json::Map::new();
                    for (c, v) in columns.into_iter().zip(row) {
                        object.insert(c.into_owned(), cell_json(v));
                    }
                    rest.insert("values".into(), serde_json::Value::Object(object));
                }
                out.push(Decoded::Other(write_of(serde_json::Value::Object(rest), args)?));
            }
        }
        Ok(())
    }
}

impl<'de> Deserialize<'de> for Wire<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct WireVisitor;
        impl<'de> Visitor<'de> for WireVisitor {
            type Value = Wire<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a write descriptor")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> std::result::Result<Wire<'de>, M::Error> {
                let mut w = Wire {
                    kind: None,
                    table: None,
                    values: None,
                    columns: None,
                    rows: None,
                    rest: serde_json::Map::new(),
                };
                while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
                    match &*key {
                        "kind" => w.kind = Some(map.next_value::<Text<'de>>()?.0),
                        "table" => w.table = Some(map.next_value::<Text<'de>>()?.0),
                        "values" => {
                            let RowOf(columns, row) = map.next_value()?;
                            w.values = Some((columns, row));
                        }
                        "columns" => {
                            w.columns = Some(map.next_value::<Vec<Text<'de>>>()?.into_iter().map(|t| t.0).collect())
                        }
                        "rows" => w.rows = Some(map.next_value()?),
                        _ => {
                            w.rest.insert(key.into_owned(), map.next_value()?);
                        }
                    }
                }
                Ok(w)
            }
        }
        d.deserialize_map(WireVisitor)
    }
}

/// A column value back as JSON (for the writes `write_of` decodes).
fn cell_json(cell: Cell<'_>) -> serde_json::Value {
    use serde_json::Value as J;
    match cell {
        Cell::Text(s) => J::String(s.into_owned()),
        Cell::Val(Val::Null) => J::Null,
        Cell::Val(Val::Bool(b)) => J::Bool(b),
        Cell::Val(Val::Int(i) | Val::Date(i)) => J::from(i),
        Cell::Val(Val::Real(f)) => serde_json::Number::from_f64(f).map_or(J::Null, J::Number),
        Cell::Val(Val::Text(s)) => J::String(s),
        Cell::Val(Val::Json(v)) => v,
        Cell::Val(Val::Blob(b)) => J::from(b),
    }
}

/// Whether each column is named once (a decoded object keeps the last value
/// of a name given twice).
fn distinct(columns: &[Cow<'_, str>]) -> bool {
    by_name(columns).windows(2).all(|w| columns[w[0]] != columns[w[1]])
}

/// An object of column values as its names and values, in its order.
struct RowOf<'a>(Vec<Cow<'a, str>>, Vec<Cell<'a>>);

impl<'de> Deserialize<'de> for RowOf<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        d.deserialize_map(RowVisitor)
    }
}

struct RowVisitor;

impl<'de> Visitor<'de> for RowVisitor {
    type Value = RowOf<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object of column values")
    }
    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> std::result::Result<RowOf<'de>, M::Error> {
        let (mut columns, mut row) = (Vec::with_capacity(4), Vec::with_capacity(4));
        while let Some((Text(column), cell)) = map.next_entry::<Text<'de>, Cell<'de>>()? {
            columns.push(column);
            row.push(cell);
        }
        Ok(RowOf(columns, row))
    }
}

/// A string, borrowed from the JSON when it has no escapes.
struct Text<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Text<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct TextVisitor;
        impl<'de> Visitor<'de> for TextVisitor {
            type Value = Text<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> std::result::Result<Text<'de>, E> {
                Ok(Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> std::result::Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> std::result::Result<Text<'de>, E> {
                Ok(Text(Cow::Owned(s)))
            }
        }
        d.deserialize_str(TextVisitor)
    }
}

/// A column value, as `Val::from_json` reads it from a decoded JSON value.
impl<'de> Deserialize<'de> for Cell<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct CellVisitor;
        type Out<'de, E> = std::result::Result<Cell<'de>, E>;
        impl<'de> Visitor<'de> for CellVisitor {
            type Value = Cell<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Out<'de, E> {
                Ok(Cell::Val(Val::Null))
            }
            fn visit_bool<E>(self, b: bool) -> Out<'de, E> {
                Ok(Cell::Val(Val::Bool(b)))
            }
            fn visit_i64<E>(self, i: i64) -> Out<'de, E> {
                Ok(Cell::Val(Val::Int(i)))
            }
            fn visit_u64<E>(self, u: u64) -> Out<'de, E> {
                Ok(Cell::Val(i64::try_from(u).map_or(Val::Real(u as f64), Val::Int)))
            }
            fn visit_f64<E>(self, f: f64) -> Out<'de, E> {
                Ok(Cell::Val(Val::Real(f)))
            }
            fn visit_borrowed_str<E>(self, s: &'de str) -> Out<'de, E> {
                Ok(Cell::Text(Cow::Borrowed(s)))
            }
            fn visit_str<E>(self, s: &str) -> Out<'de, E> {
                Ok(Cell::Text(Cow::Owned(s.to_string())))
            }
            fn visit_string<E>(self, s: String) -> Out<'de, E> {
                Ok(Cell::Text(Cow::Owned(s)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Out<'de, A::Error> {
                let v = serde_json::Value::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))?;
                Ok(Cell::Val(Val::Json(v)))
            }
            fn visit_map<M: MapAccess<'de>>(self, map: M) -> Out<'de, M::Error> {
                let v = serde_json::Value::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                Ok(Cell::Val(Val::Json(v)))
            }
        }
        d.deserialize_any(CellVisitor)
    }
}

/// Decodes a JSON array of write descriptors (`{ kind, table, values, set,
/// where, onConflict, sql, bind }`); `args` (the event's) bind the named
/// parameters of SQL writes that give no bind values.
///
/// Parsed as a `serde_json::Value` and taken apart by hand: the decoder's code
/// is shared with every other JSON read, so the engine optimizes one copy.
pub fn writes_from_json(text: &str, args: &crate::event::Args) -> Result<Vec<WriteDesc>> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Array(items)) => {
            let mut writes = Vec::with_capacity(items.len());
            for w in items {
                match w.get("kind").and_then(|k| k.as_str()) {
                    Some("insertRows") => writes.extend(inserts_of_rows(w)?),
                    _ => writes.push(write_of(w, args)?),
                }
            }
            Ok(writes)
        }
        Ok(_) => Err(Error::InvalidQuery("write descriptors: expected an array".into())),
        Err(e) => Err(Error::InvalidQuery(format!("write descriptors: {e}"))),
    }
}

#[inline(never)]
fn write_of(w: serde_json::Value, args: &crate::event::Args) -> Result<WriteDesc> {
    let serde_json::Value::Object(mut w) = w else {
        return Err(Error::InvalidQuery("a write must be an object".into()));
    };
    let missing = |what: &str| Error::InvalidQuery(format!("a write needs '{what}'"));
    let mut string = |k: &str| match w.remove(k) {
        Some(serde_json::Value::String(s)) => Ok(s),
        _ => Err(missing(k)),
    };
    let kind = string("kind")?;
    let table = if kind == "sql" { String::new() } else { string("table")? };
    let sql = if kind == "sql" { string("sql")? } else { String::new() };
    let mut take = |k: &str| w.remove(k);
    Ok(match kind.as_str() {
        "insert" => WriteDesc::Insert {
            table,
            values: pairs_of(take("values").ok_or_else(|| missing("values"))?)?,
            on_conflict: take("onConflict").map(conflict_of).transpose()?,
        },
        "update" => WriteDesc::Update {
            table,
            set: pairs_of(take("set").ok_or_else(|| missing("set"))?)?,
            filter: take("where").map(where_of).transpose()?.flatten(),
        },
        "delete" => WriteDesc::Delete { table, filter: take("where").map(where_of).transpose()?.flatten() },
        "sql" => WriteDesc::Sql {
            sql,
            // Absent: the event's args by name; null: none.
            bind: match take("bind") {
                None => crate::session::named_args(args),
                Some(b) => bind_of(b)?,
            },
        },
        other => return Err(Error::InvalidQuery(format!("unknown write kind '{other}'"))),
    })
}

/// The inserts of `{ kind: 'insertRows', table, columns, rows }` (a run of
/// inserts of the same columns, each row its values in the columns' order).
fn inserts_of_rows(w: serde_json::Value) -> Result<Vec<WriteDesc>> {
    use serde_json::Value as J;
    let invalid = |what: &str| Error::InvalidQuery(format!("insertRows needs {what}"));
    let (Some(J::String(table)), Some(J::Array(columns)), Some(J::Array(rows))) =
        (w.get("table"), w.get("columns"), w.get("rows"))
    else {
        return Err(invalid("'table', 'columns' and 'rows'"));
    };
    let columns: Vec<&str> =
        columns.iter().map(J::as_str).collect::<Option<_>>().ok_or_else(|| invalid("column names"))?;
    let insert = |row: &J| match row {
        J::Array(cells) if cells.len() == columns.len() => {
            // Inserted one by one: the last of a column named twice counts, as in an object.
            let mut values = serde_json::Map::new();
            for (c, v) in columns.iter().zip(cells) {
                values.insert(c.to_string(), v.clone());
            }
            Ok(WriteDesc::Insert { table: table.clone(), values: pairs_of(J::Object(values))?, on_conflict: None })
        }
        _ => Err(invalid("rows of one value per column")),
    };
    rows.iter().map(insert).collect()
}

/// An object of column values, in key order.
fn pairs_of(v: serde_json::Value) -> Result<Vec<(String, Val)>> {
    match v {
        serde_json::Value::Object(map) => Ok(map.into_iter().map(|(k, v)| (k, Val::from_json_owned(v))).collect()),
        _ => Err(Error::InvalidQuery("expected an object of column values".into())),
    }
}

fn conflict_of(c: serde_json::Value) -> Result<(Vec<String>, ConflictAction)> {
    let serde_json::Value::Object(mut c) = c else {
        return Err(Error::InvalidQuery("onConflict must be an object".into()));
    };
    let target = match c.remove("target") {
        Some(serde_json::Value::String(t)) => vec![t],
        Some(serde_json::Value::Array(ts)) => ts.into_iter().filter_map(|t| t.as_str().map(str::to_string)).collect(),
        _ => vec![],
    };
    let action = match c.remove("action").as_ref().and_then(|a| a.as_str()) {
        Some("ignore") => ConflictAction::Ignore,
        Some("replace") => ConflictAction::Replace,
        Some("update") => ConflictAction::Update(c.remove("update").map(pairs_of).transpose()?.unwrap_or_default()),
        other => {
            return Err(Error::InvalidQuery(format!(
                "onConflict action must be 'ignore', 'replace' or 'update', got {other:?}"
            )))
        }
    };
    Ok((target, action))
}

fn bind_of(v: serde_json::Value) -> Result<Bind> {
    match v {
        serde_json::Value::Null => Ok(Bind::None),
        serde_json::Value::Array(items) => Ok(Bind::Positional(items.into_iter().map(Val::from_json_owned).collect())),
        serde_json::Value::Object(map) => {
            Ok(Bind::Named(map.into_iter().map(|(k, v)| (k, Val::from_json_owned(v))).collect()))
        }
        _ => Err(Error::InvalidQuery("bind values must be an array or an object".into())),
    }
}

/// A where descriptor: `{ column: value }`, `{ column: { op, value } }`,
/// `{ $and: [...] }`, `{ $or: [...] }` (several keys are ANDed).
fn where_of(v: serde_json::Value) -> Result<Option<Where>> {
    let map = match v {
        serde_json::Value::Null => return Ok(None),
        serde_json::Value::Object(map) => map,
        _ => return Err(Error::InvalidQuery("'where' must be an object".into())),
    };
    let mut parts = Vec::with_capacity(map.len());
    for (name, item) in map {
        if name == "$and" || name == "$or" {
            let serde_json::Value::Array(list) = item else {
                return Err(Error::InvalidQuery(format!("'{name}' must be an array")));
            };
            let subs = list
                .into_iter()
                .map(|w| where_of(w).map(|o| o.unwrap_or(Where::And(vec![]))))
                .collect::<Result<Vec<_>>>()?;
            parts.push(if name == "$and" { Where::And(subs) } else { Where::Or(subs) });
            continue;
        }
        match item {
            serde_json::Value::Object(mut cmp) if cmp.contains_key("op") => {
                let op = match cmp.remove("op") {
                    Some(serde_json::Value::String(op)) => Op::parse(&op)?,
                    _ => return Err(Error::InvalidQuery(format!("'op' of '{name}' must be a string"))),
                };
                let value = cmp.remove("value").map_or(Val::Null, Val::from_json_owned);
                parts.push(Where::Cmp { column: name, op, value });
            }
            item => parts.push(Where::Cmp { column: name, op: Op::Eq, value: Val::from_json_owned(item) }),
        }
    }
    Ok(Some(if parts.len() == 1 { parts.pop().unwrap() } else { Where::And(parts) }))
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn decodes_every_kind_of_write() {
        let text = r#"[
            {"kind":"insert","table":"todos","values":{"id":"a","text":"x \"q\"","done":false,"tags":["t"]},
             "onConflict":{"target":["id"],"action":"update","update":{"text":"y"}}},
            {"kind":"update","table":"todos","set":{"done":true},"where":{"id":"a","n":{"op":">","value":1.5}}},
            {"kind":"delete","table":"todos","where":{"$or":[{"id":"a"},{"id":null}]}},
            {"kind":"sql","sql":"DELETE FROM todos WHERE id = :id"},
            {"kind":"sql","sql":"DELETE FROM todos","bind":null}
        ]"#;
        let writes = writes_from_json(text, &json!({ "id": "a" }).into()).unwrap();
        assert_eq!(
            writes,
            vec![
                WriteDesc::Insert {
                    table: "todos".into(),
                    values: vec![
                        ("done".into(), Val::Bool(false)),
                        ("id".into(), Val::Text("a".into())),
                        ("tags".into(), Val::Json(json!(["t"]))),
                        ("text".into(), Val::Text("x \"q\"".into())),
                    ],
                    on_conflict: Some((
                        vec!["id".into()],
                        ConflictAction::Update(vec![("text".into(), Val::Text("y".into()))])
                    )),
                },
                WriteDesc::Update {
                    table: "todos".into(),
                    set: vec![("done".into(), Val::Bool(true))],
                    filter: Some(Where::And(vec![
                        Where::eq("id", Val::Text("a".into())),
                        Where::Cmp { column: "n".into(), op: Op::Gt, value: Val::Real(1.5) },
                    ])),
                },
                WriteDesc::Delete {
                    table: "todos".into(),
                    filter: Some(Where::Or(vec![Where::eq("id", Val::Text("a".into())), Where::eq("id", Val::Null)])),
                },
                WriteDesc::Sql {
                    sql: "DELETE FROM todos WHERE id = :id".into(),
                    bind: Bind::Named(vec![("id".into(), Val::Text("a".into()))]),
                },
                WriteDesc::Sql { sql: "DELETE FROM todos".into(), bind: Bind::None },
            ]
        );
    }

    #[test]
    fn rejects_malformed_writes() {
        let err = |text: &str| writes_from_json(text, &json!({}).into()).unwrap_err().to_string();
        assert!(err(r#"[{"kind":"insert","table":"t"}]"#).contains("needs 'values'"));
        assert!(err(r#"[{"kind":"upsert","table":"t"}]"#).contains("unknown write kind"));
        assert!(err(r#"[{"kind":"delete","table":"t","where":{"id":{"op":"~","value":1}}}]"#).contains("operator"));
        assert!(err("{").contains("write descriptors"));
    }
}
