use super::{new_backend_id, Append, Result, Storage, StorageError};
use livestore_rs::EventRecord;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

/// The events of every store in one SQLite file (embedded, nothing to set
/// up).
///
/// - WAL journal with `synchronous = FULL`: every commit is fsynced before
///   [`Storage::append_if_head`] returns, so an acknowledged event survives a
///   crash of the process *and* of the machine. (`NORMAL` would only survive
///   a process crash: the last commits could be lost on power loss, after the
///   client was told they were stored.) One push is one transaction, so the
///   fsync cost is per batch, not per event.
/// - One connection writes, another reads (WAL lets reads run beside a
///   write), each behind a mutex.
/// - A lock file (`<file>.lock`, an OS file lock) keeps a second server
///   process off the same file: the server keeps each store's head in
///   memory, so two writers would break the live fan-out.
pub struct SqliteStorage {
    writer: Mutex<Connection>,
    reader: Mutex<Connection>,
    backend_id: Mutex<String>,
    path: PathBuf,
    _lock: File,
}

/// Layout version, in `PRAGMA user_version`.
const SCHEMA_VERSION: i64 = 1;

const SCHEMA_SQL: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS stores (id INTEGER PRIMARY KEY, store_id TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS events (
  store INTEGER NOT NULL,
  seq_global INTEGER NOT NULL, seq_client INTEGER NOT NULL, rebase_generation INTEGER NOT NULL,
  parent_global INTEGER NOT NULL, parent_client INTEGER NOT NULL, parent_rebase_generation INTEGER NOT NULL,
  name TEXT NOT NULL, args TEXT NOT NULL, client_id TEXT NOT NULL, session_id TEXT NOT NULL,
  PRIMARY KEY (store, seq_global)
) WITHOUT ROWID;";

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // SQLite rolls back an unfinished transaction itself; the connection is
    // usable after a panic elsewhere.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(std::time::Duration::from_secs(5))?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    Ok(())
}

fn store_key(conn: &Connection, store_id: &str) -> rusqlite::Result<Option<i64>> {
    conn.prepare_cached("SELECT id FROM stores WHERE store_id = ?")?.query_row([store_id], |r| r.get(0)).optional()
}

fn head_of(conn: &Connection, key: i64) -> rusqlite::Result<u64> {
    let head: i64 = conn
        .prepare_cached("SELECT coalesce(max(seq_global), 0) FROM events WHERE store = ?")?
        .query_row([key], |r| r.get(0))?;
    Ok(head as u64)
}

impl SqliteStorage {
    /// Opens the file at `path`, creating it (and its directory) if needed.
    pub fn open(path: impl AsRef<Path>) -> Result<SqliteStorage> {
        let path = path.as_ref().to_path_buf();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)
                .map_err(|e| StorageError::Other(format!("cannot create the directory {}: {e}", dir.display())))?;
        }
        let lock_path = {
            let mut p = path.clone().into_os_string();
            p.push(".lock");
            PathBuf::from(p)
        };
        let lock_file = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .map_err(|e| StorageError::Other(format!("cannot open the lock file {}: {e}", lock_path.display())))?;
        match lock_file.try_lock() {
            Ok(()) => {}
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(StorageError::Other(format!(
                    "{} is in use by another server process (lock file {})",
                    path.display(),
                    lock_path.display()
                )))
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(StorageError::Other(format!("cannot lock {}: {e}", lock_path.display())))
            }
        }

        let writer = Connection::open(&path)?;
        configure(&writer)?;
        let version: i64 = writer.pragma_query_value(None, "user_version", |r| r.get(0))?;
        if version > SCHEMA_VERSION {
            return Err(StorageError::Other(format!(
                "{} was written by a newer server (layout {version}, this one knows {SCHEMA_VERSION})",
                path.display()
            )));
        }
        writer.execute_batch(SCHEMA_SQL)?;
        writer.pragma_update(None, "user_version", SCHEMA_VERSION)?;
        let backend_id: Option<String> =
            writer.query_row("SELECT value FROM meta WHERE key = 'backendId'", [], |r| r.get(0)).optional()?;
        let backend_id = match backend_id {
            Some(id) => id,
            None => {
                let id = new_backend_id();
                writer.execute("INSERT INTO meta (key, value) VALUES ('backendId', ?)", [&id])?;
                id
            }
        };

        let reader = Connection::open_with_flags(
            &path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX | OpenFlags::SQLITE_OPEN_URI,
        )?;
        reader.busy_timeout(std::time::Duration::from_secs(5))?;

        Ok(SqliteStorage {
            writer: Mutex::new(writer),
            reader: Mutex::new(reader),
            backend_id: Mutex::new(backend_id),
            path,
            _lock: lock_file,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Storage for SqliteStorage {
    fn backend_id(&self) -> String {
        lock(&self.backend_id).clone()
    }

    fn head(&self, store_id: &str) -> Result<u64> {
        let conn = lock(&self.reader);
        Ok(match store_key(&conn, store_id)? {
            Some(key) => head_of(&conn, key)?,
            None => 0,
        })
    }

    fn append_if_head(&self, store_id: &str, expected_head: u64, batch: &[EventRecord]) -> Result<Append> {
        let mut conn = lock(&self.writer);
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let key = match store_key(&tx, store_id)? {
            Some(key) => key,
            None => {
                tx.execute("INSERT INTO stores (store_id) VALUES (?)", [store_id])?;
                tx.last_insert_rowid()
            }
        };
        let head = head_of(&tx, key)?;
        if head != expected_head {
            return Ok(Append::Rejected { head });
        }
        {
            let mut insert = tx.prepare_cached("INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")?;
            for e in batch {
                let store = rusqlite::types::Value::Integer(key);
                insert.execute(rusqlite::params_from_iter(std::iter::once(store).chain(e.row_values())))?;
            }
        }
        // The durable point: with synchronous = FULL the commit is on disk
        // when this returns.
        tx.commit()?;
        Ok(Append::Appended { head: batch.last().map_or(head, |e| e.seq_num.global) })
    }

    fn read(&self, store_id: &str, after: u64, limit: usize) -> Result<Vec<EventRecord>> {
        let conn = lock(&self.reader);
        let Some(key) = store_key(&conn, store_id)? else { return Ok(Vec::new()) };
        let mut stmt = conn.prepare_cached(
            "SELECT seq_global, seq_client, rebase_generation, parent_global, parent_client, \
             parent_rebase_generation, name, args, client_id, session_id \
             FROM events WHERE store = ? AND seq_global > ? ORDER BY seq_global LIMIT ?",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let after = i64::try_from(after).unwrap_or(i64::MAX);
        // Only synced events reach the server.
        let rows = stmt.query_map(params![key, after, limit], |r| EventRecord::from_row(r, false))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn reset(&self) -> Result<()> {
        let mut conn = lock(&self.writer);
        let id = new_backend_id();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        tx.execute_batch("DELETE FROM events; DELETE FROM stores;")?;
        tx.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('backendId', ?)", [&id])?;
        tx.commit()?;
        *lock(&self.backend_id) = id;
        // Give the space back; not needed for correctness.
        let _ = conn.execute_batch("VACUUM; PRAGMA wal_checkpoint(TRUNCATE);");
        Ok(())
    }

    fn describe(&self) -> String {
        format!("sqlite {} (WAL, synchronous=FULL)", self.path.display())
    }
}
