//! Live queries: each keeps its last result; after a change only the
//! queries that read a touched table (or, for `pk = value` queries, the
//! touched row) run again, and only those whose rows differ are reported.

use crate::changes::Touched;
use crate::db::{Db, QueryResult};
use crate::error::{Error, Result};
use crate::query::{CompiledQuery, QueryDesc};
use std::collections::BTreeMap;

struct LiveQuery {
    query: CompiledQuery,
    tables: Vec<String>,
    result: QueryResult,
}

#[derive(Default)]
pub struct LiveQueries {
    next_id: u32,
    queries: BTreeMap<u32, LiveQuery>,
}

impl LiveQueries {
    pub fn add(&mut self, db: &Db, q: &QueryDesc) -> Result<u32> {
        let query = db.compile(q)?;
        let result = db.run(&query, None)?;
        let tables = match &query.table {
            Some(t) => vec![t.clone()],
            None => db.tables_read(&query.sql.text)?,
        };
        self.next_id += 1;
        self.queries.insert(self.next_id, LiveQuery { query, tables, result });
        Ok(self.next_id)
    }

    pub fn remove(&mut self, id: u32) -> bool {
        self.queries.remove(&id).is_some()
    }

    /// Whether some query reads one row of `table` by key: only for such
    /// tables do mutations need to note which rows they changed. (Asked
    /// once per table written between refreshes.)
    pub fn keyed_on(&self, table: &str) -> bool {
        self.queries.values().any(|q| q.query.row_key.is_some() && q.tables.iter().any(|t| t == table))
    }

    pub fn result(&self, id: u32) -> Result<&QueryResult> {
        self.queries.get(&id).map(|q| &q.result).ok_or(Error::UnknownLiveQuery(id))
    }

    pub fn len(&self) -> usize {
        self.queries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.queries.is_empty()
    }

    /// Re-runs the queries `touched` may affect; returns the ids whose result changed.
    pub fn refresh(&mut self, db: &Db, touched: &Touched) -> Result<Vec<u32>> {
        let mut changed = Vec::new();
        if touched.is_empty() {
            return Ok(changed);
        }
        for (id, q) in self.queries.iter_mut() {
            let key = q.query.row_key.as_deref();
            if !q.tables.iter().any(|t| touched.affects(t, key)) {
                continue;
            }
            let result = db.run(&q.query, Some(&q.result.columns))?;
            if result.rows != q.result.rows {
                q.result = result;
                changed.push(*id);
            }
        }
        Ok(changed)
    }
}
