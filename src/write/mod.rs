//! The writes of materializers: their SQL, and running them.
//!
//! A run of writes of the same shape (table, kind, columns) shares one
//! prepared statement: an event inserting 10,000 rows prepares once, then
//! binds and steps. The SQL of each write is built into a reused buffer (no
//! allocation) only to tell whether its shape changed; plain inserts decoded
//! from JSON (`json.rs`) are compared by table and columns instead, and bind
//! their text straight from the JSON.

mod json;

pub use json::{run_writes_json, writes_from_json};

use crate::db::Db;
use crate::error::{Error, Result};
use crate::query::{where_sql, ConflictAction, Sql, Where, WriteDesc};
use crate::schema::{ColumnDef, ColumnType, Table};
use crate::value::{encode, SqlValue, Val};
use rusqlite::CachedStatement;
use std::borrow::Cow;

/// Runs `writes` in order on the state database.
pub fn run_writes(db: &Db, writes: Vec<WriteDesc>) -> Result<()> {
    let mut runner = Runner::new(db);
    for w in writes {
        runner.run(w)?;
    }
    Ok(())
}

/// A value of a row decoded from JSON: text is borrowed from the JSON when
/// it has no escapes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Text(Cow<'a, str>),
    Val(Val),
}

/// Rows to insert into a table, each its values of `columns` in that order
/// (distinct names, in the order the JSON gave them).
pub(crate) struct Rows<'a> {
    pub table: Cow<'a, str>,
    pub columns: Vec<Cow<'a, str>>,
    pub rows: Vec<Vec<Cell<'a>>>,
}

struct Runner<'a> {
    db: &'a Db,
    sql: String,
    params: Vec<SqlValue>,
    /// The statement of the previous write, with its SQL.
    current: Option<(String, CachedStatement<'a>)>,
    /// The table and columns of `current` when a plain insert of a row set it.
    insert: Option<InsertShape<'a>>,
}

struct InsertShape<'a> {
    table: String,
    columns: Vec<String>,
    defs: Vec<&'a ColumnDef>,
}

impl<'a> Runner<'a> {
    fn new(db: &'a Db) -> Runner<'a> {
        Runner { db, sql: String::new(), params: Vec::new(), current: None, insert: None }
    }

    /// One write. Not inlined into the loop: a batch runs long enough for the
    /// engine to swap in optimized code for the calls, not for a running loop.
    #[inline(never)]
    fn run(&mut self, w: WriteDesc) -> Result<()> {
        self.insert = None;
        if let WriteDesc::Sql { sql: text, bind } = w {
            self.current = None;
            self.db.execute(&Sql { text, params: bind })?;
            return Ok(());
        }
        self.sql.clear();
        self.params.clear();
        write_sql(self.db, w, &mut self.sql, &mut self.params)?;
        let stmt = statement(self.db, &mut self.current, &self.sql)?;
        for (i, p) in self.params.iter().enumerate() {
            stmt.raw_bind_parameter(i + 1, p)?;
        }
        stmt.raw_execute()?;
        Ok(())
    }

    /// Plain inserts (no conflict clause): prepared once for their columns
    /// (or not at all if the last statement was for the same), then bound
    /// and stepped: `rows_per_statement` rows at a time while there are as
    /// many left, then row by row.
    fn insert_rows(&mut self, rows: &Rows<'_>) -> Result<()> {
        let Some(first) = rows.rows.first() else { return Ok(()) };
        let (table, columns) = (&*rows.table, &rows.columns);
        let same = self.insert.as_ref().is_some_and(|s| {
            s.table == table && s.columns.len() == columns.len() && s.columns.iter().zip(columns).all(|(a, b)| a == b)
        });
        if !same {
            self.prepare_insert(table, columns, first)?;
        }
        let mut rest = &rows.rows[..];
        let k = rows_per_statement(columns.len());
        if rest.len() >= k && k > 1 {
            self.sql.clear();
            insert_sql(&mut self.sql, table, columns.iter().map(|c| &**c), false);
            for _ in 1..k {
                self.sql.push_str(", (?");
                for _ in 1..columns.len() {
                    self.sql.push_str(", ?");
                }
                self.sql.push(')');
            }
            let mut stmt = self.db.conn.prepare_cached(&self.sql)?;
            while rest.len() >= k {
                let (chunk, tail) = rest.split_at(k);
                if !self.bind_rows(&mut stmt, chunk) {
                    break; // a wrong value: row by row, for the error of the first wrong row
                }
                stmt.raw_execute()?;
                rest = tail;
            }
        }
        for row in rest {
            self.insert_row(table, columns, row)?;
        }
        Ok(())
    }

    /// Binds `rows` to the parameters of a statement of as many rows; false
    /// (nothing run) if a value does not fit its column.
    fn bind_rows(&self, stmt: &mut CachedStatement<'_>, rows: &[Vec<Cell<'_>>]) -> bool {
        let Some(shape) = &self.insert else { return false };
        let n = shape.defs.len();
        rows.iter().enumerate().all(|(r, row)| bind_row(stmt, shape, row, r * n).is_ok())
    }

    /// One row of `insert_rows`. Not inlined into its loop (see `run`).
    #[inline(never)]
    fn insert_row(&mut self, table: &str, columns: &[Cow<'_, str>], row: &[Cell<'_>]) -> Result<()> {
        let (Some(shape), Some((_, stmt))) = (&self.insert, &mut self.current) else {
            unreachable!("a prepared insert has its statement")
        };
        match bind_row(stmt, shape, row, 0) {
            Ok(()) => {}
            Err(None) => return Err(first_error(table, columns, &shape.defs, row)),
            Err(Some(e)) => return Err(e.into()),
        }
        stmt.raw_execute()?;
        Ok(())
    }

    /// The statement of an insert of `columns` into `table`. The first row's
    /// values are checked first, for the errors `write_sql` gives.
    #[inline(never)]
    fn prepare_insert(&mut self, table: &str, columns: &[Cow<'_, str>], first: &[Cell<'_>]) -> Result<()> {
        self.insert = None;
        let t = self.db.schema.table(table)?;
        let mut defs = vec![None; columns.len()];
        for i in by_name(columns) {
            let def = t.column(&columns[i])?;
            encode_cell(table, def, &first[i])?;
            defs[i] = Some(def);
        }
        let defs = defs.into_iter().map(|d| d.expect("every column looked up")).collect();
        self.sql.clear();
        insert_sql(&mut self.sql, table, columns.iter().map(|c| &**c), false);
        statement(self.db, &mut self.current, &self.sql)?;
        let columns = columns.iter().map(|c| c.to_string()).collect();
        self.insert = Some(InsertShape { table: table.to_string(), columns, defs });
        Ok(())
    }
}

/// The indexes of `columns` in the order of their names: the order in which
/// `write_sql` meets them (a decoded object's), so the first error is the same.
/// An insertion sort: a few columns, and far less code than the library's sorts.
pub(crate) fn by_name(columns: &[Cow<'_, str>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..columns.len()).collect();
    for i in 1..order.len() {
        let mut j = i;
        while j > 0 && columns[order[j - 1]] > columns[order[j]] {
            order.swap(j - 1, j);
            j -= 1;
        }
    }
    order
}

/// Binds `row` to the parameters after the first `skip`; `Err(None)` if a
/// value does not fit its column.
#[inline(never)]
fn bind_row(
    stmt: &mut CachedStatement<'_>,
    shape: &InsertShape<'_>,
    row: &[Cell<'_>],
    skip: usize,
) -> std::result::Result<(), Option<rusqlite::Error>> {
    for (i, (cell, def)) in row.iter().zip(&shape.defs).enumerate() {
        let bound = match (def.ty, cell) {
            (ColumnType::Text, Cell::Text(s)) => stmt.raw_bind_parameter(skip + i + 1, &**s),
            _ => match encode_cell(&shape.table, def, cell) {
                Ok(v) => stmt.raw_bind_parameter(skip + i + 1, v),
                Err(_) => return Err(None),
            },
        };
        bound.map_err(Some)?;
    }
    Ok(())
}

/// The error of the first wrong value of `row`, by column name.
#[cold]
fn first_error(table: &str, columns: &[Cow<'_, str>], defs: &[&ColumnDef], row: &[Cell<'_>]) -> Error {
    by_name(columns)
        .into_iter()
        .find_map(|i| encode_cell(table, defs[i], &row[i]).err())
        .unwrap_or_else(|| Error::InvalidQuery("a value could not be encoded".into()))
}

/// Rows of a run of inserts per statement: SQLite opens and closes a table's
/// cursors once per run of a statement, a fifth of its work for a row of a
/// few columns. At most 64 rows and 999 parameters (the limit of SQLite's
/// most restrictive builds); inserts of no column (`DEFAULT VALUES`) one by one.
fn rows_per_statement(columns: usize) -> usize {
    999usize.checked_div(columns).map_or(1, |k| k.min(64))
}

/// The statement of `sql`: `current`'s if it has the same SQL, else a new current one.
fn statement<'s, 'a>(
    db: &'a Db,
    current: &'s mut Option<(String, CachedStatement<'a>)>,
    sql: &str,
) -> Result<&'s mut CachedStatement<'a>> {
    if !matches!(current, Some((same, _)) if same == sql) {
        *current = None;
        *current = Some((sql.to_string(), db.conn.prepare_cached(sql)?));
    }
    Ok(&mut current.as_mut().expect("just set").1)
}

fn encode_cell(table: &str, def: &ColumnDef, cell: &Cell<'_>) -> Result<SqlValue> {
    match cell {
        Cell::Text(s) => encode(table, def, &Val::Text(s.to_string())),
        Cell::Val(v) => encode(table, def, v),
    }
}

/// `INSERT [OR REPLACE] INTO "table" ("c", …) VALUES (?, …)`, or `DEFAULT VALUES` without columns.
fn insert_sql<'c>(sql: &mut String, table: &str, columns: impl ExactSizeIterator<Item = &'c str>, replace: bool) {
    sql.push_str(if replace { "INSERT OR REPLACE INTO " } else { "INSERT INTO " });
    push_quoted(sql, table);
    let n = columns.len();
    if n == 0 {
        sql.push_str(" DEFAULT VALUES");
        return;
    }
    sql.push_str(" (");
    for (i, c) in columns.enumerate() {
        if i > 0 {
            sql.push_str(", ");
        }
        push_quoted(sql, c);
    }
    sql.push_str(") VALUES (?");
    for _ in 1..n {
        sql.push_str(", ?");
    }
    sql.push(')');
}

/// The SQL of an insert, update or delete into `sql`, its values (encoded by
/// column type) into `params`.
#[inline(never)]
fn write_sql(db: &Db, w: WriteDesc, sql: &mut String, params: &mut Vec<SqlValue>) -> Result<()> {
    match w {
        WriteDesc::Insert { table, values, on_conflict } => {
            let t = db.schema.table(&table)?;
            let replace = matches!(on_conflict, Some((_, ConflictAction::Replace)));
            for (c, v) in &values {
                params.push(encode(&table, t.column(c)?, v)?);
            }
            insert_sql(sql, &table, values.iter().map(|(c, _)| c.as_str()), replace);
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

#[cfg(all(test, not(target_arch = "wasm32")))]
mod tests {
    use super::*;

    #[test]
    fn quotes_identifiers() {
        let mut sql = String::new();
        push_quoted(&mut sql, r#"a"b""#);
        assert_eq!(sql, r#""a""b""""#);
    }
}
