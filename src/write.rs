//! The writes of materializers: their SQL, and running them.
//!
//! A run of writes of the same shape (table, kind, columns) shares one
//! prepared statement: an event inserting 10,000 rows prepares once, then
//! binds and steps. The SQL of each write is built into a reused buffer (no
//! allocation) only to tell whether its shape changed.
//!
//! `writes_from_json` decodes the compact form the JS layer hands over in one
//! boundary crossing: a JSON array of write descriptors (the builders' `desc`).

use crate::db::Db;
use crate::error::{Error, Result};
use crate::query::{where_sql, Bind, ConflictAction, Op, Sql, Where, WriteDesc};
use crate::schema::Table;
use crate::value::{encode, SqlValue, Val};
use rusqlite::CachedStatement;

/// Runs `writes` in order on the state database.
pub fn run_writes(db: &Db, writes: Vec<WriteDesc>) -> Result<()> {
    let mut runner = Runner { db, sql: String::new(), params: Vec::new(), current: None };
    for w in writes {
        runner.run(w)?;
    }
    Ok(())
}

struct Runner<'a> {
    db: &'a Db,
    sql: String,
    params: Vec<SqlValue>,
    /// The statement of the previous write, with its SQL.
    current: Option<(String, CachedStatement<'a>)>,
}

impl Runner<'_> {
    /// One write. Not inlined into the loop: a batch runs long enough for the
    /// engine to swap in optimized code for the calls, not for a running loop.
    #[inline(never)]
    fn run(&mut self, w: WriteDesc) -> Result<()> {
        if let WriteDesc::Sql { sql: text, bind } = w {
            self.current = None;
            self.db.execute(&Sql { text, params: bind })?;
            return Ok(());
        }
        self.sql.clear();
        self.params.clear();
        write_sql(self.db, w, &mut self.sql, &mut self.params)?;
        let stmt = match &mut self.current {
            Some((same, stmt)) if *same == self.sql => stmt,
            _ => {
                self.current = None;
                let stmt = self.db.conn.prepare_cached(&self.sql)?;
                &mut self.current.insert((self.sql.clone(), stmt)).1
            }
        };
        for (i, p) in self.params.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, p)?;
        }
        stmt.raw_execute()?;
        Ok(())
    }
}

/// The SQL of an insert, update or delete into `sql`, its values (encoded by
/// column type) into `params`.
#[inline(never)]
fn write_sql(db: &Db, w: WriteDesc, sql: &mut String, params: &mut Vec<SqlValue>) -> Result<()> {
    match w {
        WriteDesc::Insert { table, values, on_conflict } => {
            let t = db.schema.table(&table)?;
            let replace = matches!(on_conflict, Some((_, ConflictAction::Replace)));
            sql.push_str(if replace { "INSERT OR REPLACE INTO " } else { "INSERT INTO " });
            push_quoted(sql, &table);
            if values.is_empty() {
                sql.push_str(" DEFAULT VALUES");
            } else {
                sql.push_str(" (");
                for (i, (c, v)) in values.iter().enumerate() {
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    push_quoted(sql, c);
                    params.push(encode(&table, t.column(c)?, v)?);
                }
                sql.push_str(") VALUES (?");
                sql.push_str(&", ?".repeat(values.len() - 1));
                sql.push(')');
            }
            if let Some((target, action @ (ConflictAction::Ignore | ConflictAction::Update(_)))) = &on_conflict {
                sql.push_str(" ON CONFLICT (");
                for (i, c) in target.iter().enumerate() {
                    t.column(c)?;
                    if i > 0 {
                        sql.push_str(", ");
                    }
                    push_quoted(sql, c);
                }
                sql.push_str(") DO ");
                match action {
                    ConflictAction::Update(set) if !set.is_empty() => {
                        sql.push_str("UPDATE SET ");
                        set_sql(t, set, sql, params)?;
                    }
                    _ => sql.push_str("NOTHING"),
                }
            }
        }
        WriteDesc::Update { table, set, filter } => {
            let t = db.schema.table(&table)?;
            if set.is_empty() {
                return Err(Error::InvalidQuery(format!("update of '{table}' sets no column")));
            }
            sql.push_str("UPDATE ");
            push_quoted(sql, &table);
            sql.push_str(" SET ");
            set_sql(t, &set, sql, params)?;
            filter_sql(t, filter, sql, params)?;
        }
        WriteDesc::Delete { table, filter } => {
            let t = db.schema.table(&table)?;
            sql.push_str("DELETE FROM ");
            push_quoted(sql, &table);
            filter_sql(t, filter, sql, params)?;
        }
        WriteDesc::Sql { .. } => unreachable!("raw SQL writes run as they are"),
    }
    Ok(())
}

fn set_sql(t: &Table, set: &[(String, Val)], sql: &mut String, params: &mut Vec<SqlValue>) -> Result<()> {
    for (i, (c, v)) in set.iter().enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_quoted(sql, c);
        sql.push_str(" = ?");
        params.push(encode(t.name(), t.column(c)?, v)?);
    }
    Ok(())
}

fn filter_sql(t: &Table, filter: Option<Where>, sql: &mut String, params: &mut Vec<SqlValue>) -> Result<()> {
    if let Some(w) = filter {
        sql.push_str(" WHERE ");
        let mut values = Vec::new();
        where_sql(t, &w, sql, &mut values)?;
        params.extend(values.iter().map(Val::to_sql));
    }
    Ok(())
}

/// `"ident"`, with inner quotes doubled.
fn push_quoted(sql: &mut String, ident: &str) {
    sql.push('"');
    for part in ident.split_inclusive('"') {
        sql.push_str(part);
        if part.ends_with('"') {
            sql.push('"');
        }
    }
    sql.push('"');
}

// ---------------------------------------------------------------------------
// The JSON form

/// Decodes a JSON array of write descriptors (`{ kind, table, values, set,
/// where, onConflict, sql, bind }`); `args` (the event's) bind the named
/// parameters of SQL writes that give no bind values.
///
/// Parsed as a `serde_json::Value` and taken apart by hand: the decoder's code
/// is shared with every other JSON read, so the engine optimizes one copy.
pub fn writes_from_json(text: &str, args: &serde_json::Value) -> Result<Vec<WriteDesc>> {
    match serde_json::from_str(text) {
        Ok(serde_json::Value::Array(items)) => items.into_iter().map(|w| write_of(w, args)).collect(),
        Ok(_) => Err(Error::InvalidQuery("write descriptors: expected an array".into())),
        Err(e) => Err(Error::InvalidQuery(format!("write descriptors: {e}"))),
    }
}

#[inline(never)]
fn write_of(w: serde_json::Value, args: &serde_json::Value) -> Result<WriteDesc> {
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
        let writes = writes_from_json(text, &json!({ "id": "a" })).unwrap();
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
        let err = |text: &str| writes_from_json(text, &json!({})).unwrap_err().to_string();
        assert!(err(r#"[{"kind":"insert","table":"t"}]"#).contains("needs 'values'"));
        assert!(err(r#"[{"kind":"upsert","table":"t"}]"#).contains("unknown write kind"));
        assert!(err(r#"[{"kind":"delete","table":"t","where":{"id":{"op":"~","value":1}}}]"#).contains("operator"));
        assert!(err("{").contains("write descriptors"));
    }

    #[test]
    fn quotes_identifiers() {
        let mut sql = String::new();
        push_quoted(&mut sql, r#"a"b""#);
        assert_eq!(sql, r#""a""b""""#);
    }
}
