//! Changesets: what each event wrote, recorded with SQLite's session
//! extension, inverted for rollback, and read for live-query invalidation.

use crate::error::{Error, Result};
use crate::query::row_key;
use crate::value::owned;
use rusqlite::fallible_streaming_iterator::FallibleStreamingIterator;
use rusqlite::hooks::Action;
use rusqlite::session::{invert_strm, ChangesetIter, ConflictAction, Session};
use rusqlite::Connection;
use std::collections::{HashMap, HashSet};

/// Runs `f` and returns the changeset of everything it wrote.
pub fn record<T>(conn: &Connection, f: impl FnOnce() -> Result<T>) -> Result<(T, Vec<u8>)> {
    let mut session = Session::new(conn)?;
    session.attach(None::<&str>)?;
    let out = f()?;
    let mut bytes = Vec::new();
    session.changeset_strm(&mut bytes)?;
    Ok((out, bytes))
}

/// Undoes a changeset: applies its inverse. Any conflict means the state is
/// not what the changeset left behind, which is an error.
pub fn undo(conn: &Connection, changeset: &[u8]) -> Result<()> {
    if changeset.is_empty() {
        return Ok(());
    }
    let mut inverse = Vec::new();
    invert_strm(&mut &changeset[..], &mut inverse)?;
    let mut input: &[u8] = &inverse;
    conn.apply_strm(&mut input, None::<fn(&str) -> bool>, |conflict, _| {
        let _ = conflict;
        ConflictAction::SQLITE_CHANGESET_ABORT
    })
    .map_err(|e| Error::Rollback(e.to_string()))
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

    pub fn changeset(&mut self, changeset: &[u8]) -> Result<()> {
        if changeset.is_empty() {
            return Ok(());
        }
        let mut input: &[u8] = changeset;
        let reader: &mut dyn std::io::Read = &mut input;
        let mut it = ChangesetIter::start_strm(&reader)?;
        while let Some(item) = it.next()? {
            let op = item.op()?;
            let table = op.table_name().to_string();
            let pk = item.pk()?;
            let key = match pk.iter().filter(|&&b| b != 0).count() {
                1 => {
                    let col = pk.iter().position(|&b| b != 0).expect("one pk column");
                    let v = match op.code() {
                        Action::SQLITE_INSERT => item.new_value(col)?,
                        _ => item.old_value(col)?,
                    };
                    Some(row_key(&owned(v)))
                }
                _ => None,
            };
            match (
                self.tables
                    .entry(table)
                    .or_insert_with(|| Some(HashSet::new())),
                key,
            ) {
                (Some(keys), Some(k)) => {
                    keys.insert(k);
                }
                (slot, None) => *slot = None,
                (None, _) => {}
            }
        }
        Ok(())
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
