//! What each event wrote, row by row, captured with SQLite's pre-update
//! hook: undone in reverse for rollback, and read for live-query
//! invalidation.
//!
//! SQLite's session extension does the same but sets itself up anew for
//! every session (a `PRAGMA table_xinfo` and a prepared SELECT per table),
//! which tripled the cost of a one-event commit; the hook costs a copy of
//! the changed rows.

use crate::error::{Error, Result};
use crate::query::row_key;
use crate::schema::{quote, Schema, Table};
use crate::value::{owned, SqlValue};
use rusqlite::hooks::PreUpdateCase;
use rusqlite::Connection;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

/// One row written: `old` is empty for an insert, `new` for a delete. An
/// insert's `new` holds its primary key only (the other columns null): that
/// is all undoing it (a delete by key) and live-query invalidation read.
#[derive(Debug, Clone, PartialEq)]
pub struct RowChange {
    pub table: Arc<str>,
    pub old: Vec<SqlValue>,
    pub new: Vec<SqlValue>,
}

/// Collects the row changes of the connection it is installed on.
pub struct Recorder {
    changes: Arc<Mutex<Vec<RowChange>>>,
}

impl Recorder {
    pub fn install(conn: &mut Connection, schema: &Schema) -> Result<Recorder> {
        // Each table with which of its columns an insert records.
        let tables: Vec<(Arc<str>, Vec<bool>)> = schema
            .tables()
            .iter()
            .map(|t| {
                let pk: Vec<bool> = t.columns().iter().map(|c| c.primary_key).collect();
                let keyed = pk.contains(&true);
                (Arc::from(t.name()), if keyed { pk } else { vec![true; pk.len()] })
            })
            .collect();
        let changes = Arc::new(Mutex::new(Vec::new()));
        let sink = changes.clone();
        conn.preupdate_hook(Some(move |_action, db: &str, table: &str, case: &PreUpdateCase| {
            if db != "main" {
                return;
            }
            let Some((name, inserted)) = tables.iter().find(|(t, _)| &**t == table) else {
                return;
            };
            let (old, new) = match case {
                PreUpdateCase::Insert(n) if n.get_column_count() as usize == inserted.len() => {
                    (vec![], inserted_row(inserted, |i| n.get_new_column_value(i)))
                }
                PreUpdateCase::Insert(n) => (vec![], row(n.get_column_count(), |i| n.get_new_column_value(i))),
                PreUpdateCase::Delete(o) => (row(o.get_column_count(), |i| o.get_old_column_value(i)), vec![]),
                PreUpdateCase::Update { old_value_accessor: o, new_value_accessor: n } => (
                    row(o.get_column_count(), |i| o.get_old_column_value(i)),
                    row(n.get_column_count(), |i| n.get_new_column_value(i)),
                ),
                PreUpdateCase::Unknown => return,
            };
            if let Ok(mut c) = sink.lock() {
                c.push(RowChange { table: name.clone(), old, new });
            }
        }))?;
        Ok(Recorder { changes })
    }

    /// Runs `f` and returns the rows it changed.
    pub fn record<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<(T, Vec<RowChange>)> {
        let (out, changes) = self.record_all(f);
        out.map(|o| (o, changes))
    }

    /// As `record`, also returning the rows changed when `f` fails part-way.
    pub fn record_all<T>(&self, f: impl FnOnce() -> Result<T>) -> (Result<T>, Vec<RowChange>) {
        self.take();
        let out = f();
        (out, self.take())
    }

    fn take(&self) -> Vec<RowChange> {
        self.changes.lock().map(|mut c| std::mem::take(&mut *c)).unwrap_or_default()
    }
}

fn inserted_row<'a>(
    recorded: &[bool],
    get: impl Fn(i32) -> rusqlite::Result<rusqlite::types::ValueRef<'a>>,
) -> Vec<SqlValue> {
    let value = |(i, &r)| if r { get(i as i32).map(owned).unwrap_or(SqlValue::Null) } else { SqlValue::Null };
    recorded.iter().enumerate().map(value).collect()
}

fn row<'a>(count: i32, get: impl Fn(i32) -> rusqlite::Result<rusqlite::types::ValueRef<'a>>) -> Vec<SqlValue> {
    (0..count).map(|i| get(i).map(owned).unwrap_or(SqlValue::Null)).collect()
}

/// Undoes row changes, newest first. Every undo must hit exactly one row:
/// anything else means the state is not what the changes left behind.
pub fn undo(conn: &Connection, schema: &Schema, changes: &[RowChange], recorder: &Recorder) -> Result<()> {
    let (_, _) = recorder.record(|| {
        for c in changes.iter().rev() {
            let t = schema.table(&c.table)?;
            let (sql, params): (String, Vec<&SqlValue>) = match (c.old.is_empty(), c.new.is_empty()) {
                (true, false) => (format!("DELETE FROM {} WHERE {}", quote(t.name()), pk_match(t)), pk_of(t, &c.new)),
                (false, true) => {
                    let marks = vec!["?"; c.old.len()].join(", ");
                    (format!("INSERT INTO {} VALUES ({marks})", quote(t.name())), c.old.iter().collect())
                }
                _ => {
                    let set: Vec<String> = t.columns().iter().map(|col| format!("{} = ?", quote(&col.name))).collect();
                    let sql = format!("UPDATE {} SET {} WHERE {}", quote(t.name()), set.join(", "), pk_match(t));
                    (sql, c.old.iter().chain(pk_of(t, &c.new)).collect())
                }
            };
            let mut stmt = conn.prepare_cached(&sql)?;
            for (i, p) in params.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, *p)?;
            }
            let n = stmt.raw_execute()?;
            if n != 1 {
                return Err(Error::Rollback(format!(
                    "undoing a change to '{}' matched {n} rows: the state diverged from the eventlog",
                    t.name()
                )));
            }
        }
        Ok(())
    })?;
    Ok(())
}

fn pk_match(t: &Table) -> String {
    let parts: Vec<String> =
        t.columns().iter().filter(|c| c.primary_key).map(|c| format!("{} = ?", quote(&c.name))).collect();
    parts.join(" AND ")
}

fn pk_of<'a>(t: &Table, row: &'a [SqlValue]) -> Vec<&'a SqlValue> {
    t.columns().iter().zip(row).filter(|(c, _)| c.primary_key).map(|(_, v)| v).collect()
}

/// Beyond this many rows written to a table, its queries restricted to one
/// row all run again: cheaper than keeping the key of every row a batch wrote.
const MAX_ROW_KEYS: usize = 256;

/// Adds the keys (column `i`) of the rows of `run` to `keys`; whether there
/// came too many (the table is then wholly changed).
fn note_keys(keys: &mut HashSet<String>, run: &[RowChange], i: usize) -> bool {
    for c in run {
        if keys.len() >= MAX_ROW_KEYS {
            return true;
        }
        for row in [&c.old, &c.new] {
            if let Some(v) = row.get(i) {
                keys.insert(row_key(v));
            }
        }
    }
    false
}

/// Tables and rows written since the live queries last ran.
#[derive(Debug, Default, Clone)]
pub struct Touched {
    /// Table → keys of changed rows; `None`: any row may have changed.
    tables: HashMap<String, Option<HashSet<String>>>,
}

impl Touched {
    pub fn is_empty(&self) -> bool {
        self.tables.is_empty()
    }

    pub fn clear(&mut self) {
        self.tables.clear();
    }

    pub fn table(&mut self, name: &str) {
        self.tables.insert(name.to_string(), None);
    }

    /// Notes `changes`; the keys of changed rows only for tables where
    /// `keyed(table)` (a query reads one row of it), else the whole table.
    pub fn changes(&mut self, schema: &Schema, changes: &[RowChange], keyed: &dyn Fn(&str) -> bool) {
        // A batch's changes come table by table: each run looks its table up once.
        let same_table = |a: &RowChange, b: &RowChange| Arc::ptr_eq(&a.table, &b.table) || a.table == b.table;
        for run in changes.chunk_by(same_table) {
            let table = &*run[0].table;
            if !self.tables.contains_key(table) {
                let keys = keyed(table).then(HashSet::new);
                self.tables.insert(table.to_string(), keys);
            }
            let Some(slot) = self.tables.get_mut(table) else { continue };
            let pk = schema.table(table).ok().and_then(|t| t.single_pk);
            let whole = match (slot.as_mut(), pk) {
                (None, _) => continue,
                (Some(_), None) => true,
                (Some(keys), Some(i)) => note_keys(keys, run, i),
            };
            if whole {
                *slot = None;
            }
        }
    }

    /// Whether a change may affect a query reading `table` (restricted to
    /// one row when `row` is given).
    pub fn affects(&self, table: &str, row: Option<&str>) -> bool {
        match (self.tables.get(table), row) {
            (None, _) => false,
            (Some(None), _) | (Some(Some(_)), None) => true,
            (Some(Some(keys)), Some(k)) => keys.contains(k),
        }
    }
}

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    fn schema() -> Schema {
        let desc = serde_json::from_value(serde_json::json!({
            "tables": [{ "name": "todos", "columns": [{ "name": "id", "type": "text", "primaryKey": true }] }],
            "events": [], "materializers": {}
        }));
        Schema::new(desc.unwrap()).unwrap()
    }

    fn inserts(table: &Arc<str>, ids: impl Iterator<Item = usize>) -> Vec<RowChange> {
        ids.map(|i| RowChange { table: table.clone(), old: vec![], new: vec![SqlValue::Text(format!("r{i}"))] })
            .collect()
    }

    #[test]
    fn touched_keeps_the_keys_of_rows_written_until_a_table_has_many() {
        let (schema, todos): (_, Arc<str>) = (schema(), Arc::from("todos"));
        let key = |i: usize| row_key(&SqlValue::Text(format!("r{i}")));
        let mut t = Touched::default();
        t.changes(&schema, &inserts(&todos, 0..3), &|_| true);
        assert!(t.affects("todos", Some(&key(2))) && !t.affects("todos", Some(&key(3))) && t.affects("todos", None));
        assert!(!t.affects("other", None));
        // Beyond MAX_ROW_KEYS rows (here over two calls), every row may have changed.
        t.changes(&schema, &inserts(&todos, 3..MAX_ROW_KEYS + 10), &|_| true);
        assert!(t.affects("todos", Some(&key(100_000))));
        t.clear();
        assert!(t.is_empty() && !t.affects("todos", None));
    }
}
