//! Live queries: each keeps its last result; after a change only the
//! queries that read a touched table (or, for `pk = value` queries, the
//! touched row) run again, and only those whose rows differ are reported.

use crate::changes::Touched;
use crate::db::{Db, QueryResult};
use crate::error::{Error, Result};
use crate::query::{CompiledQuery, QueryDesc};
use std::collections::{BTreeMap, HashMap};

struct LiveQuery {
    query: CompiledQuery,
    tables: Vec<String>,
    result: QueryResult,
}

#[derive(Default)]
pub struct LiveQueries {
    next_id: u32,
    queries: BTreeMap<u32, LiveQuery>,
    /// Table → how many queries read one row of it by key: only for those
    /// tables do mutations need to note which rows they changed.
    keyed: HashMap<String, usize>,
}

impl LiveQueries {
    pub fn add(&mut self, db: &Db, q: &QueryDesc) -> Result<u32> {
        let query = db.compile(q)?;
        let result = db.run(&query, None)?;
        let tables = match &query.table {
            Some(t) => vec![t.clone()],
            None => db.tables_read(&query.sql.text)?,
        };
        if query.row_key.is_some() {
            for t in &tables {
                *self.keyed.entry(t.clone()).or_default() += 1;
            }
        }
        self.next_id += 1;
        self.queries.insert(self.next_id, LiveQuery { query, tables, result });
        Ok(self.next_id)
    }

    pub fn remove(&mut self, id: u32) -> bool {
        let Some(q) = self.queries.remove(&id) else { return false };
        if q.query.row_key.is_some() {
            for t in &q.tables {
                if let Some(n) = self.keyed.get_mut(t) {
                    *n -= 1;
                    if *n == 0 {
                        self.keyed.remove(t);
                    }
                }
            }
        }
        true
    }

    /// Whether some query reads one row of `table` by key.
    pub fn keyed_on(&self, table: &str) -> bool {
        self.keyed.contains_key(table)
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
