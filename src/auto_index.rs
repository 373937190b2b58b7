//! Indexes that a session's in-memory state makes for the queries the app
//! runs. A builder query that SQLite answers again and again with a full
//! scan of a large table (e.g. `where({ completed: false, text: { op: '>',
//! value } }).orderBy('text').limit(100)` with a new value on every call)
//! gets an index on the columns it compares with `=` and sorts by; the
//! query then reads the few rows it returns instead of the whole table.
//!
//! SQLite's own counter decides, never a clock: `SQLITE_STMTSTATUS_VM_STEP`,
//! the bytecode instructions a run took (a full scan, or an index that
//! narrows little, takes many per row returned). An index is kept only if the
//! next run of the query takes at most half as many; else it is dropped and
//! that query is left alone. Indexes are made and dropped
//! only outside transactions (never in a commit), a few per table at most.
//!
//! Only a session's private state has them: the leader's state (persisted,
//! and the snapshot other tabs start from) never does. They change no
//! result, only how SQLite finds the rows (rows that tie on the sort order
//! may come in another order). Each costs memory and some time on every
//! write to its table.

use crate::query::{Op, OrderBy, Where};
use crate::schema::{quote, Table};
use rusqlite::Connection;
use std::collections::HashMap;

/// A run costs enough to count when it takes at least this many VM steps
/// (a scan of a thousand or so rows)...
const MIN_STEPS: i64 = 10_000;
/// ...and this many per row it returns (returning many rows costs anyway).
const STEPS_PER_ROW: i64 = 20;
/// Costly runs of a query before it gets an index: building one costs
/// about as much as a few scans.
const RUNS_BEFORE_INDEX: u32 = 3;
/// Bounds the cost on writes.
const MAX_INDEXES_PER_TABLE: usize = 3;
/// Bounds the bookkeeping of costly queries.
const MAX_TRACKED_QUERIES: usize = 256;

/// The index a builder query on one table could use instead of a full scan
/// (or of an index that narrows little).
#[derive(Debug, Clone, PartialEq)]
pub struct IndexHint {
    pub table: String,
    pub columns: Vec<OrderBy>,
}

/// The columns compared with `=` (a top-level conjunct), then the sort
/// columns; without a sort (or, with no limit, when a range is on another
/// column), the first column compared with a range. `None`: no column helps.
pub fn hint(table: &Table, filter: Option<&Where>, order_by: &[OrderBy], limit: Option<i64>) -> Option<IndexHint> {
    let mut conjuncts = Vec::new();
    if let Some(w) = filter {
        conjuncts_of(w, &mut conjuncts);
    }
    let mut equal: Vec<&str> = conjuncts.iter().filter(|(_, op)| *op == Op::Eq).map(|(c, _)| *c).collect();
    equal.sort_unstable();
    equal.dedup();
    let range = conjuncts.iter().find(|(c, op)| is_range(*op) && !equal.contains(c)).map(|(c, _)| *c);
    let mut sort: Vec<&OrderBy> = Vec::new();
    for o in order_by {
        if !equal.contains(&o.column.as_str()) && !sort.iter().any(|s| s.column == o.column) {
            sort.push(o);
        }
    }
    let mut columns: Vec<OrderBy> = equal.iter().map(|c| OrderBy { column: c.to_string(), desc: false }).collect();
    let sort_first = !sort.is_empty() && (limit.is_some() || range.is_none() || range == Some(&sort[0].column));
    if sort_first {
        // SQLite reads an index backwards too: one ascending index serves a sort all descending.
        let flip = sort.iter().all(|o| o.desc);
        columns.extend(sort.iter().map(|o| OrderBy { column: o.column.clone(), desc: o.desc != flip }));
    } else if let Some(c) = range {
        columns.push(OrderBy { column: c.to_string(), desc: false });
    }
    (!columns.is_empty()).then(|| IndexHint { table: table.name().to_string(), columns })
}

fn conjuncts_of<'a>(w: &'a Where, out: &mut Vec<(&'a str, Op)>) {
    match w {
        Where::Cmp { column, op, .. } => out.push((column, *op)),
        Where::And(parts) => parts.iter().for_each(|p| conjuncts_of(p, out)),
        Where::Or(_) => {}
    }
}

fn is_range(op: Op) -> bool {
    matches!(op, Op::Lt | Op::Gt | Op::Le | Op::Ge)
}

/// Where one query (by its SQL) stands.
enum Verdict {
    /// Costly runs so far and their VM steps.
    Costly {
        runs: u32,
        steps: i64,
    },
    /// An index was made for it; the next run tells whether it helps.
    Trying {
        index: u32,
        steps_before: i64,
    },
    Helped,
    /// No index (more) for this query.
    LeftAlone,
}

struct AutoIndex {
    id: u32,
    hint: IndexHint,
    /// Queries it helped.
    helped: u32,
}

/// The session's indexes and what its queries taught.
#[derive(Default)]
pub struct AutoIndexes {
    queries: HashMap<String, Verdict>,
    indexes: Vec<AutoIndex>,
    next_id: u32,
}

impl AutoIndexes {
    /// Takes in one run of `sql` (a builder query with `hint`): its VM steps
    /// and the rows it returned; makes or drops an index when that is due.
    pub fn observe(&mut self, conn: &Connection, sql: &str, hint: &IndexHint, steps: i64, rows: usize) {
        let idle = conn.is_autocommit();
        let costly = steps >= MIN_STEPS && steps >= STEPS_PER_ROW * (rows as i64 + 1);
        let next = match self.queries.get_mut(sql) {
            None if costly => {
                if self.queries.len() >= MAX_TRACKED_QUERIES {
                    // What is forgotten is at worst learned again.
                    self.queries.retain(|_, v| matches!(v, Verdict::Trying { .. } | Verdict::Helped));
                    if self.queries.len() >= MAX_TRACKED_QUERIES {
                        self.queries.retain(|_, v| matches!(v, Verdict::Trying { .. }));
                    }
                }
                self.queries.insert(sql.to_string(), Verdict::Costly { runs: 1, steps });
                return;
            }
            Some(Verdict::Costly { runs, steps: total }) if costly => {
                *runs += 1;
                *total += steps;
                if *runs < RUNS_BEFORE_INDEX || !idle {
                    return;
                }
                let steps_before = *total / i64::from(*runs);
                match self.index_for(conn, hint) {
                    Some(index) => Verdict::Trying { index, steps_before },
                    None => Verdict::LeftAlone,
                }
            }
            Some(Verdict::Trying { index, steps_before }) if idle => {
                let index = *index;
                if steps.saturating_mul(2) <= *steps_before {
                    if let Some(i) = self.indexes.iter_mut().find(|i| i.id == index) {
                        i.helped += 1;
                    }
                    Verdict::Helped
                } else {
                    self.queries.insert(sql.to_string(), Verdict::LeftAlone);
                    self.drop_if_unused(conn, index);
                    return;
                }
            }
            _ => return,
        };
        self.queries.insert(sql.to_string(), next);
    }

    /// The id of an index for `hint`: an existing one, or a new one.
    fn index_for(&mut self, conn: &Connection, hint: &IndexHint) -> Option<u32> {
        if let Some(i) = self.indexes.iter().find(|i| i.hint == *hint) {
            return Some(i.id);
        }
        if self.indexes.iter().filter(|i| i.hint.table == hint.table).count() >= MAX_INDEXES_PER_TABLE {
            return None;
        }
        let id = self.next_id;
        let columns: Vec<String> =
            hint.columns.iter().map(|c| format!("{}{}", quote(&c.column), if c.desc { " DESC" } else { "" })).collect();
        let sql = format!("CREATE INDEX {} ON {} ({})", quote(&index_name(id)), quote(&hint.table), columns.join(", "));
        conn.execute_batch(&sql).ok()?;
        self.next_id += 1;
        self.indexes.push(AutoIndex { id, hint: hint.clone(), helped: 0 });
        Some(id)
    }

    fn drop_if_unused(&mut self, conn: &Connection, id: u32) {
        let trying = self.queries.values().any(|v| matches!(v, Verdict::Trying { index, .. } if *index == id));
        let Some(pos) = self.indexes.iter().position(|i| i.id == id && i.helped == 0) else {
            return;
        };
        if !trying && conn.execute_batch(&format!("DROP INDEX IF EXISTS {}", quote(&index_name(id)))).is_ok() {
            self.indexes.remove(pos);
        }
    }

    /// The state's tables were dropped and created again (with their indexes):
    /// start over.
    pub fn forget(&mut self) {
        *self = AutoIndexes { next_id: self.next_id, ..AutoIndexes::default() };
    }

    /// The indexes made so far, as (table, columns).
    pub fn indexes(&self) -> impl Iterator<Item = &IndexHint> {
        self.indexes.iter().map(|i| &i.hint)
    }
}

/// In the reserved `__livestore` namespace, apart from the app's names.
fn index_name(id: u32) -> String {
    format!("__livestore_auto_{id}")
}
