//! The leader: the one writer of a client's persisted eventlog and state
//! (in the browser: a dedicated worker on OPFS). Sessions push their events
//! to it; it appends them on top of its head or rejects them with the head,
//! and hands new sessions a snapshot of the state.
//!
//! Crash safety with two database files: a batch is first appended to the
//! eventlog (one transaction: the durable point), then materialized into the
//! state together with the state's own head marker (one transaction). On
//! open, a state behind the eventlog catches up, and a state made by another
//! schema (hash) is rebuilt from the eventlog in one transaction, so an
//! interrupted rebuild starts over on the next open.
//!
//! Both files are in WAL mode (see `configure`): a commit is atomic after a
//! crash or a power loss, and costs one sync or none.
//! - A commit of the eventlog that holds local events (a push, a rebase of
//!   pending events, an import) syncs: it survives a power loss, and it also
//!   makes every earlier commit of the file durable.
//! - The other eventlog commits (the server's events taken in while nothing
//!   is pending, the sync head) and the commits of the state do not sync
//!   (but for the mark that makes the state stale before an import): a
//!   power loss may take the last of them. What they held comes back: the
//!   server's events and the sync head on the next catch-up with the server,
//!   the state by catching up (or rebuilding) from the eventlog on open,
//!   since a state ahead of the eventlog (head or rebase generation) is rebuilt.

use crate::changes::RowChange;
use crate::db::{rollback_journal_image, Db};
use crate::error::{Error, Result};
use crate::event::{EventRecord, SeqNum};
use crate::schema::Schema;
use crate::session::{materialize_batch, materialize_event, Materialize};
use rusqlite::{params, Connection, OptionalExtension};
use std::rc::Rc;

/// What boot is doing, for progress display.
#[derive(Debug, Clone, PartialEq)]
pub enum BootStatus {
    Loading,
    /// The schema changed: the state is rebuilt from the eventlog.
    Migrating,
    Rehydrating {
        done: u64,
        total: u64,
    },
    Done,
}

/// What to do with events whose name this schema does not know (written by
/// a newer version of the app): they always stay in the eventlog.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum UnknownEvents {
    /// Skip them and report their names (the JS layer warns).
    #[default]
    Warn,
    /// Skip them silently.
    Ignore,
    /// Refuse to boot.
    Fail,
}

#[derive(Debug, Default, Clone, PartialEq)]
pub struct BootReport {
    /// The state was rebuilt from the eventlog (new schema or new database).
    pub rebuilt: bool,
    /// Events materialized to bring the state up to the eventlog's head.
    pub caught_up: u64,
    /// Names of unknown events that were skipped.
    pub unknown: Vec<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Push {
    Accepted,
    /// The batch is not on top of the leader's head: pull, rebase, push again.
    Rejected {
        head: SeqNum,
    },
}

pub struct Leader {
    state: Rc<Db>,
    eventlog: Connection,
    head: SeqNum,
    unknown: UnknownEvents,
    /// The last event the sync server confirmed: everything up to here is
    /// final; the events after it are pending (client-only ones included).
    sync_head: SeqNum,
    backend_id: Option<String>,
    /// Row changes of pending events, to roll them back when the server's
    /// order differs; kept only while syncing.
    undo: Option<Undo>,
    rebase_generation: u32,
}

/// Row changes of every event after `from`, oldest first.
struct Undo {
    from: SeqNum,
    events: Vec<(SeqNum, Vec<RowChange>)>,
}

/// How the leader's log changed when it took in the sync server's events
/// (or a rejection): everything after `base` was replaced by `events`.
#[derive(Debug, Default)]
pub struct Rewrite {
    pub base: SeqNum,
    pub events: Vec<EventRecord>,
    /// Pending events that no longer apply after the server's, with why.
    pub dropped: Vec<(EventRecord, Error)>,
}

const EVENTLOG_SQL: &str = "
CREATE TABLE IF NOT EXISTS __livestore_events (
  seq_global INTEGER NOT NULL, seq_client INTEGER NOT NULL, rebase_generation INTEGER NOT NULL,
  parent_global INTEGER NOT NULL, parent_client INTEGER NOT NULL, parent_rebase_generation INTEGER NOT NULL,
  name TEXT NOT NULL, args TEXT NOT NULL, client_id TEXT NOT NULL, session_id TEXT NOT NULL,
  client_only INTEGER NOT NULL,
  PRIMARY KEY (seq_global, seq_client)
) WITHOUT ROWID;";

const SYNC_META_SQL: &str = "CREATE TABLE IF NOT EXISTS __livestore_sync (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

const STATE_META_SQL: &str =
    "CREATE TABLE IF NOT EXISTS __livestore_state (key TEXT PRIMARY KEY, value TEXT NOT NULL);";

/// Events after `seq` in `conn`'s eventlog table, oldest first.
fn read_events(conn: &Connection, seq: SeqNum, limit: usize) -> Result<Vec<EventRecord>> {
    let mut stmt = conn.prepare_cached(
        "SELECT seq_global, seq_client, rebase_generation, parent_global, parent_client, \
         parent_rebase_generation, name, args, client_id, session_id, client_only \
         FROM __livestore_events WHERE (seq_global, seq_client) > (?, ?) \
         ORDER BY seq_global, seq_client LIMIT ?",
    )?;
    let limit = i64::try_from(limit).unwrap_or(i64::MAX);
    let rows =
        stmt.query_map(params![seq.global as i64, seq.client, limit], |r| EventRecord::from_row(r, r.get(10)?))?;
    Ok(rows.collect::<rusqlite::Result<_>>()?)
}

fn insert_events(conn: &Connection, events: &[EventRecord]) -> Result<()> {
    let mut stmt = conn.prepare_cached("INSERT INTO __livestore_events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")?;
    for e in events {
        let client_only = rusqlite::types::Value::Integer(e.client_only.into());
        stmt.execute(rusqlite::params_from_iter(e.row_values().into_iter().chain([client_only])))?;
    }
    Ok(())
}

/// Puts both files in WAL mode with exclusive locking: the leader is their
/// only user, and without shared memory (OPFS) WAL needs it. The state never
/// syncs on commit; the eventlog does once open (`Leader::open`) unless
/// told otherwise (`unsynced`).
fn configure(eventlog: &Connection, state: &Connection) -> Result<()> {
    for conn in [eventlog, state] {
        conn.execute_batch("PRAGMA locking_mode = EXCLUSIVE")?;
        let mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
        // In-memory databases (tests, the simulator) have no file to journal.
        if mode != "wal" && mode != "memory" {
            return Err(Error::Sql(format!("could not put the database in WAL mode (journal mode is {mode})")));
        }
    }
    // Opening only creates tables, which the next open would create again.
    eventlog.execute_batch("PRAGMA synchronous = NORMAL")?;
    state.execute_batch("PRAGMA synchronous = NORMAL")?;
    Ok(())
}

/// Events read per page when replaying, so a long log is never all in memory.
const PAGE: usize = 1_000;

impl Leader {
    /// Opens (creating if new) the eventlog and the state, bringing the
    /// state up to the eventlog.
    pub fn open(
        eventlog: Connection,
        state: Connection,
        schema: Schema,
        m: &dyn Materialize,
        unknown: UnknownEvents,
        status: &mut dyn FnMut(BootStatus),
    ) -> Result<(Leader, BootReport)> {
        status(BootStatus::Loading);
        configure(&eventlog, &state)?;
        eventlog.execute_batch(EVENTLOG_SQL)?;
        eventlog.execute_batch(SYNC_META_SQL)?;
        state.execute_batch(STATE_META_SQL)?;
        let state = Rc::new(Db::new(state, Rc::new(schema), "")?);
        let mut leader = Leader {
            state,
            eventlog,
            head: SeqNum::ROOT,
            unknown,
            sync_head: SeqNum::ROOT,
            backend_id: None,
            undo: None,
            rebase_generation: 0,
        };
        leader.head = leader.read_head()?;
        if let Some(h) = leader.sync_meta("head")? {
            leader.sync_head = serde_json::from_str(&h).map_err(|e| Error::Sql(format!("bad sync head: {e}")))?;
        }
        leader.backend_id = leader.sync_meta("backendId")?;
        leader.rebase_generation = leader.sync_meta("rebaseGeneration")?.and_then(|g| g.parse().ok()).unwrap_or(0);
        let state_generation: u32 = leader.state_meta("rebaseGeneration")?.and_then(|g| g.parse().ok()).unwrap_or(0);

        let stored_hash = leader.state_meta("schemaHash")?;
        let state_head: SeqNum = match leader.state_meta("head")? {
            Some(h) => serde_json::from_str(&h).map_err(|e| Error::Sql(format!("bad state head: {e}")))?,
            None => SeqNum::ROOT,
        };
        let mut report = BootReport::default();
        if stored_hash.is_none() && leader.head == SeqNum::ROOT {
            // A new store: nothing to migrate, just the tables.
            leader.replay(SeqNum::ROOT, true, m, &mut report, &mut |_| {})?;
        } else if stored_hash.as_deref() != Some(leader.state.schema.hash()) {
            status(BootStatus::Migrating);
            report.rebuilt = true;
            leader.replay(SeqNum::ROOT, true, m, &mut report, status)?;
        } else if state_generation != leader.rebase_generation || state_head > leader.head {
            // The log was rewritten (a rebase) after the state last committed:
            // the state holds events that are no longer there.
            report.rebuilt = true;
            leader.replay(SeqNum::ROOT, true, m, &mut report, status)?;
        } else if state_head < leader.head {
            leader.replay(state_head, false, m, &mut report, status)?;
        }
        leader.eventlog.execute_batch("PRAGMA synchronous = FULL")?;
        status(BootStatus::Done);
        Ok((leader, report))
    }

    pub fn head(&self) -> SeqNum {
        self.head
    }

    pub fn state(&self) -> &Rc<Db> {
        &self.state
    }

    /// Appends a batch on top of the head (durable when this returns) and
    /// materializes it; or rejects it with the head.
    pub fn push(&mut self, batch: &[EventRecord], m: &dyn Materialize) -> Result<Push> {
        let Some(first) = batch.first() else {
            return Ok(Push::Accepted);
        };
        if first.parent_seq_num != self.head {
            return Ok(Push::Rejected { head: self.head });
        }
        if let Some(w) = batch.windows(2).find(|w| w[1].parent_seq_num != w[0].seq_num || w[1].seq_num <= w[0].seq_num)
        {
            return Err(Error::InvalidUpstream(format!(
                "batch is not contiguous: {} follows {}",
                w[1].seq_num, w[0].seq_num
            )));
        }
        // Materialize first, in a state transaction left open: a batch that
        // does not apply is refused whole and nothing is stored. Then the
        // eventlog commit (the durable point), then the state commit; a crash
        // between the two is caught up on the next open.
        let tx = self.state.conn.unchecked_transaction()?;
        let mut report = BootReport::default();
        let changes = self.materialize_in_tx(batch, m, &mut report)?;
        let last = batch.last().expect("non-empty").seq_num;
        self.set_state_meta("head", &serde_json::to_string(&last).expect("seqnum"))?;
        self.append(batch)?;
        self.head = last;
        tx.commit()?;
        if let Some(undo) = &mut self.undo {
            undo.events.extend(batch.iter().map(|e| e.seq_num).zip(changes));
        }
        Ok(Push::Accepted)
    }

    /// `push` for a session that has taken in the leader's rewrites up to
    /// rebase `generation`: if the log was rewritten since, the session's
    /// view is stale even where its parent matches the head (a rewrite can
    /// move the head back), so the batch is rejected.
    pub fn push_seen(&mut self, batch: &[EventRecord], generation: u32, m: &dyn Materialize) -> Result<Push> {
        if generation != self.rebase_generation && !batch.is_empty() {
            return Ok(Push::Rejected { head: self.head });
        }
        self.push(batch, m)
    }

    /// The events after `seq`, oldest first.
    pub fn events_after(&self, seq: SeqNum, limit: usize) -> Result<Vec<EventRecord>> {
        read_events(&self.eventlog, seq, limit)
    }

    /// The events before `seq` (the newest ones when `None`), newest first:
    /// pages of the log from its end, for inspecting it.
    pub fn events_before(&self, seq: Option<SeqNum>, limit: usize) -> Result<Vec<EventRecord>> {
        let (global, client) = seq.map_or((i64::MAX, i64::MAX), |s| (s.global as i64, i64::from(s.client)));
        let mut stmt = self.eventlog.prepare_cached(
            "SELECT seq_global, seq_client, rebase_generation, parent_global, parent_client, \
             parent_rebase_generation, name, args, client_id, session_id, client_only \
             FROM __livestore_events WHERE (seq_global, seq_client) < (?, ?) \
             ORDER BY seq_global DESC, seq_client DESC LIMIT ?",
        )?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = stmt.query_map(params![global, client, limit], |r| EventRecord::from_row(r, r.get(10)?))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    /// Replaces the eventlog with the one in `bytes` (an exported
    /// `eventlog.db`) and rebuilds the state from it. Interrupted at any
    /// point, the next open rebuilds the state from whichever eventlog is there.
    pub fn import_eventlog(&mut self, bytes: &[u8], m: &dyn Materialize) -> Result<()> {
        let invalid = |why: String| Error::InvalidImport(why);
        let mut source = Connection::open_in_memory()?;
        let image = rollback_journal_image(bytes.to_vec());
        source
            .deserialize_read_exact(rusqlite::MAIN_DB, &image[..], image.len(), true)
            .map_err(|e| invalid(format!("not a SQLite database: {e}")))?;
        let events = read_events(&source, SeqNum::ROOT, usize::MAX)
            .map_err(|e| invalid(format!("not an eventlog of livestore-rs: {e}")))?;
        let mut parent = SeqNum::ROOT;
        for e in &events {
            if e.parent_seq_num != parent {
                return Err(invalid(format!("event {} has parent {}, expected {parent}", e.seq_num, e.parent_seq_num)));
            }
            parent = e.seq_num;
        }
        // Mark the state stale first: from here on, any open rebuilds it.
        // The state's commits do not sync, but this one must survive a power
        // loss that the imported eventlog survives.
        self.state.conn.execute_batch(
            "PRAGMA synchronous = FULL; DELETE FROM __livestore_state WHERE key = 'schemaHash'; \
             PRAGMA synchronous = NORMAL;",
        )?;
        let tx = self.eventlog.unchecked_transaction()?;
        tx.execute("DELETE FROM __livestore_events", [])?;
        // Which of these events a server has is unknown: all are pending again.
        tx.execute("DELETE FROM __livestore_sync", [])?;
        insert_events(&tx, &events)?;
        tx.commit()?;
        self.head = parent;
        self.sync_head = SeqNum::ROOT;
        self.backend_id = None;
        self.undo = None;
        self.rebase_generation = 0;
        self.replay(SeqNum::ROOT, true, m, &mut BootReport::default(), &mut |_| {})
    }

    /// The state database file, for a session to start from, and the head it reflects.
    pub fn snapshot(&mut self) -> Result<(Vec<u8>, SeqNum)> {
        self.snapshot_with(<[u8]>::to_vec)
    }

    /// `f` of the state database file (not copied first), and the head it reflects.
    pub fn snapshot_with<R>(&mut self, f: impl FnOnce(&[u8]) -> R) -> Result<(R, SeqNum)> {
        let db =
            Rc::get_mut(&mut self.state).ok_or_else(|| Error::Sql("the state is in use by a materializer".into()))?;
        Ok((db.serialize_with(f)?, self.head))
    }

    /// Copies of both database files: `(state, eventlog)`.
    pub fn export(&mut self) -> Result<(Vec<u8>, Vec<u8>)> {
        let (state, _) = self.snapshot()?;
        Ok((state, rollback_journal_image(self.eventlog.serialize(rusqlite::MAIN_DB)?.to_vec())))
    }

    fn read_head(&self) -> Result<SeqNum> {
        Ok(self
            .eventlog
            .query_row(
                "SELECT seq_global, seq_client, rebase_generation FROM __livestore_events \
                 ORDER BY seq_global DESC, seq_client DESC LIMIT 1",
                [],
                |r| Ok(SeqNum { global: r.get::<_, i64>(0)? as u64, client: r.get(1)?, rebase_generation: r.get(2)? }),
            )
            .optional()?
            .unwrap_or(SeqNum::ROOT))
    }

    fn sync_meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .eventlog
            .query_row("SELECT value FROM __livestore_sync WHERE key = ?", [key], |r| r.get(0))
            .optional()?)
    }

    /// Runs `f`, whose eventlog commits hold only what the server has too:
    /// they do not sync (see the module doc).
    fn unsynced<T>(&self, f: impl FnOnce(&Self) -> Result<T>) -> Result<T> {
        self.eventlog.execute_batch("PRAGMA synchronous = NORMAL")?;
        let out = f(self);
        self.eventlog.execute_batch("PRAGMA synchronous = FULL")?;
        out
    }

    fn set_sync_meta(conn: &Connection, key: &str, value: &str) -> Result<()> {
        conn.execute(
            "INSERT INTO __livestore_sync (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Whether the eventlog holds exactly this event (same rebase generation too).
    fn has_event(&self, seq: SeqNum) -> Result<bool> {
        Ok(self
            .eventlog
            .query_row(
                "SELECT rebase_generation FROM __livestore_events WHERE seq_global = ? AND seq_client = ?",
                params![seq.global as i64, seq.client],
                |r| r.get::<_, u32>(0),
            )
            .optional()?
            == Some(seq.rebase_generation))
    }

    fn state_meta(&self, key: &str) -> Result<Option<String>> {
        Ok(self
            .state
            .conn
            .query_row("SELECT value FROM __livestore_state WHERE key = ?", [key], |r| r.get(0))
            .optional()?)
    }

    fn append(&self, batch: &[EventRecord]) -> Result<()> {
        let tx = self.eventlog.unchecked_transaction()?;
        insert_events(&tx, batch)?;
        tx.commit()?;
        Ok(())
    }

    /// Materializes `events`; returns each one's row changes.
    fn materialize_in_tx(
        &self,
        events: &[EventRecord],
        m: &dyn Materialize,
        report: &mut BootReport,
    ) -> Result<Vec<Vec<RowChange>>> {
        materialize_batch(m, events, &self.state.schema, |e| match self.state.schema.event(&e.name) {
            Ok(def) => materialize_event(&self.state, def, e, m),
            Err(err) => match self.unknown {
                UnknownEvents::Fail => Err(err),
                UnknownEvents::Warn | UnknownEvents::Ignore => {
                    if !report.unknown.contains(&e.name) {
                        report.unknown.push(e.name.clone());
                    }
                    Ok(Vec::new())
                }
            },
        })
    }

    fn set_state_meta(&self, key: &str, value: &str) -> Result<()> {
        self.state.conn.execute(
            "INSERT INTO __livestore_state (key, value) VALUES (?, ?) \
             ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            [key, value],
        )?;
        Ok(())
    }

    /// Materializes the eventlog after `from` (from an empty state when
    /// `reset`), in one transaction, reporting progress.
    fn replay(
        &self,
        from: SeqNum,
        reset: bool,
        m: &dyn Materialize,
        report: &mut BootReport,
        status: &mut dyn FnMut(BootStatus),
    ) -> Result<()> {
        let total: i64 = self.eventlog.query_row(
            "SELECT COUNT(*) FROM __livestore_events WHERE (seq_global, seq_client) > (?, ?)",
            params![from.global as i64, from.client],
            |r| r.get(0),
        )?;
        let total = total as u64;
        let tx = self.state.conn.unchecked_transaction()?;
        if reset {
            self.state.reset_state()?;
        }
        let mut done = 0;
        let mut after = from;
        status(BootStatus::Rehydrating { done, total });
        loop {
            let page = self.events_after(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.seq_num;
            self.materialize_in_tx(&page, m, report)?;
            done += page.len() as u64;
            report.caught_up = done;
            status(BootStatus::Rehydrating { done, total });
        }
        self.set_state_meta("head", &serde_json::to_string(&after).expect("seqnum"))?;
        self.set_state_meta("schemaHash", self.state.schema.hash())?;
        self.set_state_meta("rebaseGeneration", &self.rebase_generation.to_string())?;
        tx.commit()?;
        Ok(())
    }
}

mod upstream;
pub use upstream::NextPush;
