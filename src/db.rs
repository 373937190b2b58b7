//! The state database: one SQLite connection plus the schema it follows.

use crate::auto_index::{AutoIndexes, IndexHint};
use crate::changes::Recorder;
use crate::error::{Error, Result};
use crate::query::{compile_query, Bind, CompiledQuery, QueryDesc, Shape, Sql};
use crate::schema::{quote, ColumnType, Schema};
use crate::value::{decode, owned, SqlValue, Val};
use rusqlite::serialize::{Data, OwnedData};
use rusqlite::{Connection, Statement, StatementStatus};
use std::cell::RefCell;
use std::ptr::NonNull;
use std::rc::Rc;

#[derive(Debug, Clone, PartialEq)]
pub struct OutColumn {
    pub name: String,
    pub ty: Option<ColumnType>,
}

/// Rows as SQLite returned them, with what is needed to decode them.
#[derive(Debug, Clone, PartialEq)]
pub struct QueryResult {
    pub columns: Rc<[OutColumn]>,
    pub rows: Vec<Vec<SqlValue>>,
    pub shape: Shape,
}

impl QueryResult {
    pub fn cell(&self, row: usize, col: usize) -> Val {
        decode(self.columns[col].ty, &self.rows[row][col])
    }

    pub fn count(&self) -> i64 {
        match self.rows.first().and_then(|r| r.first()) {
            Some(SqlValue::Integer(n)) => *n,
            _ => 0,
        }
    }

    /// A client document's value: its stored fields over the default's.
    pub fn document(&self) -> serde_json::Value {
        let Shape::Document { default, .. } = &self.shape else {
            return serde_json::Value::Null;
        };
        let stored = match self.rows.first().map(|r| &r[0]) {
            Some(SqlValue::Text(s)) => serde_json::from_str(s).unwrap_or(serde_json::Value::Null),
            _ => return default.clone(),
        };
        merge(default.clone(), stored)
    }
}

/// Shallow merge of `patch` over `base` when both are objects; else `patch`.
pub fn merge(base: serde_json::Value, patch: serde_json::Value) -> serde_json::Value {
    match (base, patch) {
        (serde_json::Value::Object(mut b), serde_json::Value::Object(p)) => {
            b.extend(p);
            serde_json::Value::Object(b)
        }
        (_, p) => p,
    }
}

pub struct Db {
    pub conn: Connection,
    pub recorder: Recorder,
    pub schema: Rc<Schema>,
    pub session_id: String,
    /// Indexes made for the queries run (a session's private state only).
    auto_indexes: Option<RefCell<AutoIndexes>>,
    /// No rollback journal outside savepoints (see `without_journal`).
    unjournaled: bool,
}

impl Db {
    /// Wraps a connection: statement cache, row-change recorder. Creates no table.
    pub fn new(mut conn: Connection, schema: Rc<Schema>, session_id: &str) -> Result<Db> {
        conn.set_prepared_statement_cache_capacity(256);
        let recorder = Recorder::install(&mut conn, &schema)?;
        Ok(Db { conn, recorder, schema, session_id: session_id.to_string(), auto_indexes: None, unjournaled: false })
    }

    /// Lets the queries run here index this database (see `auto_index`): for
    /// a session's private state, never for one that is persisted or shared.
    pub fn with_auto_indexes(mut self) -> Db {
        self.auto_indexes = Some(RefCell::default());
        self
    }

    /// Turns the rollback journal off, but for `in_savepoint`: for a
    /// session's in-memory state, where copying each page a commit changes
    /// into the journal was about a quarter of a commit's time. Without the
    /// journal SQLite undoes nothing, not even a statement that fails
    /// part-way; whoever writes outside a savepoint undoes a failed write
    /// from the row changes the recorder saw, which are then exactly what
    /// changed.
    pub fn without_journal(mut self) -> Result<Db> {
        self.set_journal(false)?;
        self.unjournaled = true;
        Ok(self)
    }

    /// SQLite answers with the mode it is in: one it refused would make the
    /// undo of a failed commit wrong (it would undo what SQLite undid too).
    fn set_journal(&self, on: bool) -> Result<()> {
        let (sql, want) =
            if on { ("PRAGMA journal_mode = MEMORY", "memory") } else { ("PRAGMA journal_mode = OFF", "off") };
        let mode: String = self.conn.prepare_cached(sql)?.query_row([], |r| r.get(0))?;
        if !mode.eq_ignore_ascii_case(want) {
            return Err(Error::Sql(format!("SQLite kept journal_mode {mode} where {want} was asked")));
        }
        Ok(())
    }

    /// Runs `f` in a SQLite savepoint: all its writes or none. Nests. An
    /// unjournaled database has its journal back for the outermost one.
    pub fn in_savepoint<T>(&self, name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
        let journal = self.unjournaled && self.conn.is_autocommit();
        if journal {
            self.set_journal(true)?;
        }
        let run = |sql: String| -> Result<()> { Ok(self.conn.prepare_cached(&sql)?.execute([]).map(|_| ())?) };
        run(format!("SAVEPOINT {name}"))?;
        let out = f();
        if out.is_err() {
            run(format!("ROLLBACK TO {name}"))?;
        }
        run(format!("RELEASE {name}"))?;
        if journal {
            self.set_journal(false)?;
        }
        out
    }

    /// The indexes made for queries so far, as (table, columns).
    pub fn auto_indexes(&self) -> Vec<IndexHint> {
        self.auto_indexes.as_ref().map(|a| a.borrow().indexes().cloned().collect()).unwrap_or_default()
    }

    /// An in-memory state database with the schema's tables.
    pub fn open_in_memory(schema: Rc<Schema>, session_id: &str) -> Result<Db> {
        let db = Db::new(Connection::open_in_memory()?, schema, session_id)?;
        db.conn
            .execute_batch(&db.schema.create_sql())
            .map_err(|e| Error::InvalidSchema(format!("creating the tables failed: {e}")))?;
        Ok(db)
    }

    /// An in-memory state database holding a copy of `snapshot` (the bytes
    /// of a database file, from `serialize`).
    pub fn from_snapshot(schema: Rc<Schema>, session_id: &str, snapshot: &[u8]) -> Result<Db> {
        Db::from_image(schema, session_id, Image::filled(snapshot.len(), |buf| buf.copy_from_slice(snapshot))?)
    }

    /// An in-memory state database that takes over `image` (no copy).
    pub fn from_image(schema: Rc<Schema>, session_id: &str, image: Image) -> Result<Db> {
        let mut conn = Connection::open_in_memory()?;
        conn.deserialize(rusqlite::MAIN_DB, image.0, false)?;
        Db::new(conn, schema, session_id)
    }

    /// The bytes of the whole database file (as a rollback-journal file,
    /// whatever this one's journal mode: see `rollback_journal_image`).
    pub fn serialize(&mut self) -> Result<Vec<u8>> {
        self.serialize_with(<[u8]>::to_vec)
    }

    /// `f` of what `serialize` returns, without copying it first.
    pub fn serialize_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<R> {
        Ok(match self.conn.serialize(rusqlite::MAIN_DB)? {
            Data::Owned(mut image) => {
                mark_rollback_journal(&mut image);
                f(&image)
            }
            Data::Shared(image) => f(&rollback_journal_image(image.to_vec())),
        })
    }

    pub fn compile(&self, q: &QueryDesc) -> Result<CompiledQuery> {
        compile_query(&self.schema, q, &self.session_id)
    }

    pub fn query(&self, q: &QueryDesc) -> Result<QueryResult> {
        self.run(&self.compile(q)?, None)
    }

    /// Runs a compiled query; `columns` reuses the columns of an earlier run.
    pub fn run(&self, q: &CompiledQuery, columns: Option<&Rc<[OutColumn]>>) -> Result<QueryResult> {
        let mut stmt = self.conn.prepare_cached(&q.sql.text)?;
        // Raw SQL reaches here too: a write would change the state outside the eventlog.
        if !stmt.readonly() {
            return Err(Error::InvalidQuery(format!(
                "`{}` writes: a query can only read; the state changes only through events (commit one)",
                q.sql.text.trim()
            )));
        }
        // BEGIN, ROLLBACK, ATTACH, `PRAGMA x = y` are read-only to SQLite but
        // would change the session's connection under it; none returns rows.
        if stmt.column_count() == 0 {
            return Err(Error::InvalidQuery(format!(
                "`{}` returns no rows: a query must be a read such as SELECT",
                q.sql.text.trim()
            )));
        }
        bind(&mut stmt, &q.sql.params)?;
        let columns = match columns {
            Some(c) => c.clone(),
            None => result_columns(&stmt, q),
        };
        let n = columns.len();
        let mut rows = Vec::new();
        let mut raw = stmt.raw_query();
        while let Some(row) = raw.next()? {
            let mut cells = Vec::with_capacity(n);
            for i in 0..n {
                cells.push(owned(row.get_ref(i)?));
            }
            rows.push(cells);
        }
        drop(raw);
        if let (Some(auto), Some(hint)) = (&self.auto_indexes, &q.index_hint) {
            let steps = stmt.reset_status(StatementStatus::VmStep);
            drop(stmt);
            auto.borrow_mut().observe(&self.conn, &q.sql.text, hint, i64::from(steps), rows.len());
        }
        Ok(QueryResult { columns, rows, shape: q.shape.clone() })
    }

    /// Runs a write; returns the number of rows changed.
    pub fn execute(&self, sql: &Sql) -> Result<usize> {
        let mut stmt = self.conn.prepare_cached(&sql.text)?;
        bind(&mut stmt, &sql.params)?;
        Ok(stmt.raw_execute()?)
    }

    /// The tables a statement reads, found from its bytecode (`OpenRead`).
    pub fn tables_read(&self, sql: &str) -> Result<Vec<String>> {
        let mut roots = Vec::new();
        {
            let mut stmt = self.conn.prepare(&format!("EXPLAIN {sql}"))?;
            let mut rows = stmt.raw_query();
            while let Some(row) = rows.next()? {
                let opcode: String = row.get(1)?;
                if opcode == "OpenRead" && row.get::<_, i64>(4)? == 0 {
                    roots.push(row.get::<_, i64>(3)?);
                }
            }
        }
        let mut stmt = self.conn.prepare_cached("SELECT tbl_name FROM sqlite_schema WHERE rootpage = ?")?;
        let mut tables = Vec::new();
        for root in roots {
            if let Ok(name) = stmt.query_row([root], |r| r.get::<_, String>(0)) {
                if !tables.contains(&name) {
                    tables.push(name);
                }
            }
        }
        Ok(tables)
    }

    /// Drops every table but SQLite's and livestore's own, and creates the
    /// schema's tables: an empty state, also after a schema change.
    pub fn reset_state(&self) -> Result<()> {
        let tables: Vec<String> = self
            .conn
            .prepare(
                "SELECT name FROM sqlite_schema WHERE type = 'table' \
                 AND substr(name, 1, 7) != 'sqlite_' AND substr(name, 1, 11) != '__livestore'",
            )?
            .query_map([], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        let drops: String = tables.iter().map(|t| format!("DROP TABLE {};", quote(t))).collect();
        self.conn.execute_batch(&drops)?;
        if let Some(auto) = &self.auto_indexes {
            auto.borrow_mut().forget();
        }
        self.conn.execute_batch(&self.schema.create_sql())?;
        Ok(())
    }

    /// Every state table's rows in key order, as text: equal dumps mean equal state.
    pub fn dump(&self) -> Result<String> {
        let mut out = String::new();
        for t in self.schema.tables() {
            let pk: Vec<String> = t.columns().iter().filter(|c| c.primary_key).map(|c| quote(&c.name)).collect();
            let mut stmt =
                self.conn.prepare(&format!("SELECT * FROM {} ORDER BY {}", quote(t.name()), pk.join(", ")))?;
            let n = stmt.column_count();
            let mut rows = stmt.raw_query();
            out.push_str(t.name());
            out.push('\n');
            while let Some(row) = rows.next()? {
                for i in 0..n {
                    out.push_str(&format!("{:?}\t", owned(row.get_ref(i)?)));
                }
                out.push('\n');
            }
        }
        Ok(out)
    }
}

fn result_columns(stmt: &Statement<'_>, q: &CompiledQuery) -> Rc<[OutColumn]> {
    stmt.columns()
        .enumerate()
        .map(|(i, c)| OutColumn {
            name: c.name().to_string(),
            ty: match &q.column_types {
                Some(types) => types.get(i).copied().flatten(),
                None => c.decl_type().and_then(ColumnType::from_decl),
            },
        })
        .collect()
}

fn bind(stmt: &mut Statement<'_>, params: &Bind) -> Result<()> {
    let expected = stmt.parameter_count();
    match params {
        Bind::None if expected == 0 => Ok(()),
        Bind::None => {
            Err(Error::InvalidQuery(format!("the SQL has {expected} parameter(s) but no bind values were given")))
        }
        Bind::Positional(values) => {
            if values.len() != expected {
                return Err(Error::InvalidQuery(format!(
                    "the SQL has {expected} parameter(s) but {} bind value(s) were given",
                    values.len()
                )));
            }
            for (i, v) in values.iter().enumerate() {
                stmt.raw_bind_parameter(i + 1, v.to_sql())?;
            }
            Ok(())
        }
        Bind::Named(values) => {
            for i in 1..=expected {
                let name = stmt.parameter_name(i).unwrap_or("?").to_string();
                let key = name.trim_start_matches([':', '$', '@']);
                let v = values
                    .iter()
                    .find(|(k, _)| k == key)
                    .ok_or_else(|| Error::InvalidQuery(format!("no bind value for parameter {name}")))?;
                stmt.raw_bind_parameter(i, v.1.to_sql())?;
            }
            Ok(())
        }
    }
}

/// Marks a database file image as a rollback-journal database: an image of
/// a WAL database (its pages already include the WAL's) would otherwise make
/// SQLite look for a WAL that an in-memory copy cannot have.
pub fn rollback_journal_image(mut image: Vec<u8>) -> Vec<u8> {
    mark_rollback_journal(&mut image);
    image
}

fn mark_rollback_journal(image: &mut [u8]) {
    // Bytes 18 and 19 of the header: file format write and read versions, 2 for WAL.
    if image.len() >= 100 && image[18] == 2 && image[19] == 2 {
        image[18] = 1;
        image[19] = 1;
    }
}

/// The bytes of a database file in memory that SQLite allocated, so that an
/// in-memory connection takes them over as they are (`Db::from_image`).
pub struct Image(OwnedData);

impl Image {
    /// `len` bytes written by `fill` (e.g. copied from a JS array, once).
    pub fn filled(len: usize, fill: impl FnOnce(&mut [u8])) -> Result<Image> {
        let size = u64::try_from(len).map_err(|_| Error::Sql("database image too large".into()))?;
        // SAFETY: a fresh allocation of `len` bytes from sqlite3_malloc64, as OwnedData requires.
        let ptr = NonNull::new(unsafe { rusqlite::ffi::sqlite3_malloc64(size) }.cast::<u8>())
            .ok_or_else(|| Error::Sql(format!("out of memory for a database image of {len} bytes")))?;
        let mut data = unsafe { OwnedData::from_raw_nonnull(ptr, len) };
        fill(&mut data);
        Ok(Image(data))
    }
}
