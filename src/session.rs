//! The store of one session (a tab): eventlog, in-memory state, live queries.
//!
//! Mutations (`commit`, `rollback`, `rebuild`) gather what they touched;
//! `refresh` then re-runs the affected live queries once, so a batch of
//! mutations (e.g. a rebase) is seen by subscribers as one change.

use crate::changes::{self, RowChange, Touched};
use crate::db::{merge, Db, Image, QueryResult};
use crate::error::{Error, Result};
use crate::event::{Args, EventInput, EventRecord, SeqNum};
use crate::live::LiveQueries;
use crate::query::{resolve_session, Bind, QueryDesc, Sql, WriteDesc};
use crate::schema::{quote, EventDef, Materializer, Schema};
use crate::value::Val;
use std::rc::Rc;

/// Calls the app's materializer functions.
pub trait Materialize {
    /// The writes of `record`, whose definition has `Materializer::External`.
    /// `db` reads the state as the commit has left it so far.
    fn materialize(&self, def: &EventDef, record: &EventRecord, db: &Rc<Db>) -> Result<Vec<WriteDesc>>;

    /// Runs the writes of `record` on `db`. An implementation whose writes
    /// come encoded (the JS one: as JSON) runs them as it decodes them.
    fn apply(&self, def: &EventDef, record: &EventRecord, db: &Rc<Db>) -> Result<()> {
        crate::write::run_writes(db, self.materialize(def, record, db)?)
    }

    /// The app's conflict rule: called for each pending event about to be
    /// re-applied on top of events that came first upstream, with the state
    /// as it is at that point. The default keeps it (last write wins, in
    /// upstream's order).
    fn rebase(&self, _pending: &EventRecord, _db: &Rc<Db>) -> Result<Rebase> {
        Ok(Rebase::Keep)
    }

    /// Called before `events` are materialized one by one, so that an
    /// implementation can prepare them all at once (the JS one converts
    /// their args in one go).
    fn prepare(&self, _events: &[EventRecord], _schema: &Schema) {}

    /// The batch given to `prepare` is done (or failed): drop what is left of it.
    fn unprepare(&self) {}
}

/// Materializes `events` one by one after `m.prepare`, and `m.unprepare`s
/// whatever the outcome.
pub fn materialize_batch<T>(
    m: &dyn Materialize,
    events: &[EventRecord],
    schema: &Schema,
    mut each: impl FnMut(&EventRecord) -> Result<T>,
) -> Result<Vec<T>> {
    m.prepare(events, schema);
    let out = events.iter().map(&mut each).collect();
    m.unprepare();
    out
}

/// What the conflict rule does with a pending event during a rebase.
#[derive(Debug, Clone, PartialEq)]
pub enum Rebase {
    Keep,
    Drop,
    /// Re-apply this event instead (same origin, next position).
    Replace(EventInput),
}

impl<F> Materialize for F
where
    F: Fn(&EventDef, &EventRecord, &Rc<Db>) -> Result<Vec<WriteDesc>>,
{
    fn materialize(&self, def: &EventDef, record: &EventRecord, db: &Rc<Db>) -> Result<Vec<WriteDesc>> {
        self(def, record, db)
    }
}

/// For schemas without app functions (all SQL materializers).
pub struct SqlOnly;

impl Materialize for SqlOnly {
    fn materialize(&self, def: &EventDef, _: &EventRecord, _: &Rc<Db>) -> Result<Vec<WriteDesc>> {
        Err(Error::MaterializerFailed { event: def.name.clone(), message: "no materializer function was given".into() })
    }
}

#[derive(Debug, Clone)]
pub struct SessionOptions {
    pub store_id: String,
    pub client_id: String,
    pub session_id: String,
}

struct Logged {
    record: EventRecord,
    /// The rows the event wrote; undone to roll it back.
    changes: Vec<RowChange>,
}

pub struct Session {
    db: Rc<Db>,
    options: SessionOptions,
    /// Known events: `eventlog[..pending_from]` are confirmed upstream,
    /// the rest are this session's own, not yet confirmed.
    eventlog: Vec<Logged>,
    pending_from: usize,
    /// Whether confirmed events stay in memory (an in-memory store's only
    /// eventlog) or are dropped once confirmed (the leader persists them).
    keep_history: bool,
    head: SeqNum,
    /// The last event confirmed upstream.
    upstream_head: SeqNum,
    /// Upstream will never rewrite its log up to here (synced with the server).
    final_head: SeqNum,
    /// Events up to here are in the state without their row changes (a
    /// snapshot's): they cannot be rolled back.
    floor: SeqNum,
    rebase_generation: u32,
    live: LiveQueries,
    touched: Touched,
    version: u64,
    closed: bool,
}

impl Session {
    pub fn new(schema: Schema, options: SessionOptions) -> Result<Session> {
        let db = Db::open_in_memory(Rc::new(schema), &options.session_id)?;
        Ok(Session::new_with(db.with_auto_indexes().without_journal()?, options))
    }

    fn new_with(db: Db, options: SessionOptions) -> Session {
        Session {
            db: Rc::new(db),
            options,
            eventlog: Vec::new(),
            pending_from: 0,
            keep_history: true,
            head: SeqNum::ROOT,
            upstream_head: SeqNum::ROOT,
            final_head: SeqNum::ROOT,
            floor: SeqNum::ROOT,
            rebase_generation: 0,
            live: LiveQueries::default(),
            touched: Touched::default(),
            version: 0,
            closed: false,
        }
    }

    /// A session starting from a state snapshot that reflects upstream's
    /// events up to `head` (from `Leader::snapshot`).
    pub fn from_snapshot(schema: Schema, options: SessionOptions, snapshot: &[u8], head: SeqNum) -> Result<Session> {
        let image = Image::filled(snapshot.len(), |buf| buf.copy_from_slice(snapshot))?;
        Session::from_image(schema, options, image, head)
    }

    /// `from_snapshot` taking over an image of the snapshot (no copy).
    pub fn from_image(schema: Schema, options: SessionOptions, image: Image, head: SeqNum) -> Result<Session> {
        let db = Db::from_image(Rc::new(schema), &options.session_id, image)?;
        let mut session = Session::new_with(db.with_auto_indexes().without_journal()?, options);
        session.head = head;
        session.upstream_head = head;
        session.floor = head;
        session.keep_history = false;
        Ok(session)
    }

    /// Starts over from a fresh snapshot of upstream's state (reflecting its
    /// events up to `head`), re-applying this session's pending events on
    /// top: for when upstream rewrote events this session cannot roll back.
    pub fn reset_to_snapshot(&mut self, snapshot: &[u8], head: SeqNum, m: &dyn Materialize) -> Result<Pulled> {
        self.check_open()?;
        let db = Rc::new(
            Db::from_snapshot(self.db.schema.clone(), &self.options.session_id, snapshot)?
                .with_auto_indexes()
                .without_journal()?,
        );
        let pending: Vec<EventRecord> = self.pending().cloned().collect();
        let generation = self.rebase_generation + 1;
        let mut reapplied = Vec::new();
        let mut dropped = Vec::new();
        let mut at = head;
        for p in &pending {
            match reapply_event(&db, p, at, generation, m) {
                Ok(Some((record, changes))) => {
                    at = record.seq_num;
                    reapplied.push(Logged { record, changes });
                }
                Ok(None) => {}
                Err(e) => dropped.push((p.clone(), e)),
            }
        }
        self.db = db;
        self.eventlog = reapplied;
        self.pending_from = 0;
        self.upstream_head = head;
        self.floor = head;
        self.final_head = self.final_head.min(head);
        self.head = at;
        self.rebase_generation = generation;
        for t in self.db.schema.tables() {
            self.touched.table(t.name());
        }
        Ok(Pulled { confirmed: 0, rebased: true, dropped })
    }

    pub fn schema(&self) -> &Schema {
        &self.db.schema
    }

    pub fn options(&self) -> &SessionOptions {
        &self.options
    }

    pub fn head(&self) -> SeqNum {
        self.head
    }

    pub fn db(&self) -> Result<&Rc<Db>> {
        self.check_open()?;
        Ok(&self.db)
    }

    pub fn eventlog(&self) -> impl ExactSizeIterator<Item = &EventRecord> {
        self.eventlog.iter().map(|l| &l.record)
    }

    fn check_open(&self) -> Result<()> {
        if self.closed {
            Err(Error::StoreClosed)
        } else {
            Ok(())
        }
    }

    /// Validates, numbers, materializes and appends `events`, all or none:
    /// on any error the state and the eventlog are as before.
    pub fn commit(&mut self, events: &[EventInput], m: &dyn Materialize) -> Result<Vec<EventRecord>> {
        let n = self.commit_owned(events.to_vec(), m)?;
        Ok(self.eventlog[self.eventlog.len() - n..].iter().map(|l| l.record.clone()).collect())
    }

    /// As `commit`, taking the events (their args move into the eventlog,
    /// uncopied); returns how many were committed.
    pub fn commit_owned(&mut self, events: Vec<EventInput>, m: &dyn Materialize) -> Result<usize> {
        self.check_open()?;
        let mut head = self.head;
        let mut logged = Vec::with_capacity(events.len());
        let this = &*self;
        // No savepoint: the session's state has no rollback journal (see
        // `Db::without_journal`); a failed event is undone from its row changes.
        // The transaction is needed even for one write: in autocommit mode a
        // statement failing part-way rolls back a journal-less transaction,
        // which leaves its rows changed in a new in-memory database but
        // reverts them in one loaded from a snapshot (SQLite drops its page
        // cache), so the row changes recorded would no longer match.
        this.run_cached("BEGIN")?;
        let run = || -> Result<()> {
            for input in events {
                let def = this.db.schema.event(&input.name)?;
                let args = this.prepare_args(def, input.args)?;
                let seq_num = head.next(def.client_only, this.rebase_generation);
                let record = EventRecord {
                    seq_num,
                    parent_seq_num: head,
                    name: input.name,
                    args,
                    client_id: this.options.client_id.clone(),
                    session_id: this.options.session_id.clone(),
                    client_only: def.client_only,
                };
                let (out, changes) = materialize_recording(&this.db, def, &record, m);
                logged.push(Logged { record, changes });
                out?;
                head = seq_num;
            }
            Ok(())
        };
        let result = run();
        let undone = match result {
            Ok(()) => Ok(()),
            Err(_) => logged
                .iter()
                .rev()
                .try_for_each(|l| changes::undo(&this.db.conn, &this.db.schema, &l.changes, &this.db.recorder)),
        };
        this.run_cached("COMMIT")?;
        undone?;
        result?;
        for l in &logged {
            self.touched.changes(&self.db.schema, &l.changes, &|t| self.live.keyed_on(t));
        }
        self.head = head;
        let n = logged.len();
        self.eventlog.extend(logged);
        Ok(n)
    }

    /// Checks args against the event's schema; resolves the session
    /// placeholder of client-document ids.
    fn prepare_args(&self, def: &EventDef, args: Args) -> Result<Args> {
        let args = match def.materializer {
            Materializer::ClientDocumentSet { .. } => self.resolve_document_id(args),
            _ => args,
        };
        def.schema.validate_json(args.text()).map_err(|m| Error::InvalidEventArgs {
            event: def.name.clone(),
            path: m.path,
            message: m.message,
        })?;
        Ok(args)
    }

    /// A client document's args with the session placeholder of its id resolved.
    fn resolve_document_id(&self, args: Args) -> Args {
        let mut value = args.value();
        match value.get_mut("id") {
            Some(serde_json::Value::String(id)) => {
                *id = resolve_session(id, &self.options.session_id).to_string();
                value.into()
            }
            _ => args,
        }
    }

    /// Runs the event's materializer; returns the rows it changed.
    fn materialize(&self, def: &EventDef, record: &EventRecord, m: &dyn Materialize) -> Result<Vec<RowChange>> {
        materialize_event(&self.db, def, record, m)
    }

    /// Runs `f` in a SQLite savepoint: all its writes or none. Nests.
    fn in_savepoint<T>(&self, f: impl FnOnce() -> Result<T>) -> Result<T> {
        self.db.in_savepoint("livestore", f)
    }

    /// Runs a constant statement through the statement cache (no parsing per commit).
    fn run_cached(&self, sql: &str) -> Result<()> {
        self.db.conn.prepare_cached(sql)?.execute([])?;
        Ok(())
    }

    /// Undoes the last `count` events (their row changes, newest first) and
    /// removes them from the eventlog; returns them, oldest first.
    pub fn rollback(&mut self, count: usize) -> Result<Vec<EventRecord>> {
        self.check_open()?;
        let keep = self.eventlog.len().saturating_sub(count);
        if keep < self.pending_from {
            return Err(Error::Rollback(format!(
                "only the {} events not yet confirmed upstream can be rolled back",
                self.eventlog.len() - self.pending_from
            )));
        }
        self.in_savepoint(|| self.undo(keep))?;
        let removed = self.eventlog.split_off(keep);
        for l in &removed {
            self.touched.changes(&self.db.schema, &l.changes, &|t| self.live.keyed_on(t));
        }
        self.head = self.eventlog.last().map_or(self.upstream_head, |l| l.record.seq_num);
        Ok(removed.into_iter().map(|l| l.record).collect())
    }

    /// Rebuilds the state from the eventlog alone.
    pub fn rebuild(&mut self, m: &dyn Materialize) -> Result<()> {
        self.check_open()?;
        let mut changes = Vec::with_capacity(self.eventlog.len());
        self.in_savepoint(|| {
            self.db.reset_state()?;
            for l in &self.eventlog {
                let def = self.db.schema.event(&l.record.name)?;
                changes.push(self.materialize(def, &l.record, m)?);
            }
            Ok(())
        })?;
        for (l, c) in self.eventlog.iter_mut().zip(changes) {
            l.changes = c;
        }
        for t in self.db.schema.tables() {
            self.touched.table(t.name());
        }
        Ok(())
    }

    /// Undoes the events from `keep` on, newest first.
    fn undo(&self, keep: usize) -> Result<()> {
        for l in self.eventlog[keep..].iter().rev() {
            changes::undo(&self.db.conn, &self.db.schema, &l.changes, &self.db.recorder)?;
        }
        Ok(())
    }

    /// This session's events not yet confirmed upstream, oldest first.
    pub fn pending(&self) -> impl ExactSizeIterator<Item = &EventRecord> {
        self.eventlog[self.pending_from..].iter().map(|l| &l.record)
    }

    pub fn upstream_head(&self) -> SeqNum {
        self.upstream_head
    }

    /// Takes in what upstream (the leader, or the sync backend through it)
    /// appended after `upstream_head`, in its order. Own pending events that
    /// come back unchanged are confirmed. If others' events come first, the
    /// pending ones are rolled back, the upstream events applied, and the
    /// pending ones re-applied on top with new sequence numbers and the next
    /// rebase generation (git's pull --rebase). All of it is one SQLite
    /// savepoint: on error the state is as before.
    pub fn pull(&mut self, upstream: &[EventRecord], m: &dyn Materialize) -> Result<Pulled> {
        self.check_open()?;
        // Upstream's log is in order: what this session has not seen is a suffix (no copies on the commit path).
        let new = &upstream[upstream.iter().position(|e| e.seq_num > self.upstream_head).unwrap_or(upstream.len())..];
        let confirmed =
            self.eventlog[self.pending_from..].iter().zip(new).take_while(|(l, e)| same_event(&l.record, e)).count();
        let foreign = &new[confirmed..];
        if let Some(first) = foreign.first() {
            let expected = new[..confirmed].last().map_or(self.upstream_head, |e| e.seq_num);
            if first.parent_seq_num != expected {
                return Err(Error::InvalidUpstream(format!(
                    "event {} has parent {} but the last known upstream event is {expected}",
                    first.seq_num, first.parent_seq_num
                )));
            }
        }
        let keep = self.pending_from + confirmed;
        let mut pulled = self.replace_after(keep, foreign, m)?;
        pulled.confirmed = confirmed;
        Ok(pulled)
    }

    /// Takes in upstream's whole log after `base` when upstream rewrote it
    /// (the leader rebased its own events on the sync server's): the events
    /// after `base` this session took from upstream are replaced by
    /// `upstream` from the first one that differs, and the pending ones are
    /// re-applied on top. Events that are the same are kept as they are.
    pub fn pull_replacing(&mut self, base: SeqNum, upstream: &[EventRecord], m: &dyn Materialize) -> Result<Pulled> {
        self.check_open()?;
        if base > self.upstream_head {
            return Err(Error::InvalidUpstream(format!(
                "upstream rewrote its log after {base}, beyond {} that this session has",
                self.upstream_head
            )));
        }
        if base < self.final_head {
            return Err(Error::InvalidUpstream(format!(
                "upstream rewrote its log after {base}, before {} that it had reported as final",
                self.final_head
            )));
        }
        if base < self.floor {
            return Err(Error::SnapshotNeeded(format!("after {base}, before {} of its snapshot", self.floor)));
        }
        let start = self.eventlog[..self.pending_from].partition_point(|l| l.record.seq_num <= base);
        let same = self.eventlog[start..self.pending_from]
            .iter()
            .zip(upstream)
            .take_while(|(l, e)| identical(&l.record, e))
            .count();
        if start + same == self.pending_from {
            return self.pull(&upstream[same..], m);
        }
        self.replace_after(start + same, &upstream[same..], m)
    }

    /// Events up to `seq` are final upstream (synced): they will never be
    /// rolled back, so a session that does not keep its history forgets them.
    pub fn set_final(&mut self, seq: SeqNum) {
        let seq = seq.min(self.upstream_head);
        if seq <= self.final_head {
            return;
        }
        self.final_head = seq;
        if !self.keep_history {
            let n = self.eventlog[..self.pending_from].partition_point(|l| l.record.seq_num <= seq);
            self.eventlog.drain(..n);
            self.pending_from -= n;
        }
    }

    /// Undoes the events from `keep` on, applies `foreign` (upstream's) in
    /// their place and re-applies this session's pending events after them.
    /// Pending events that no longer apply are dropped.
    fn replace_after(&mut self, keep: usize, foreign: &[EventRecord], m: &dyn Materialize) -> Result<Pulled> {
        let pending_start = keep.max(self.pending_from);
        let undo = keep < self.pending_from || (!foreign.is_empty() && keep < self.eventlog.len());
        let reapply = undo && pending_start < self.eventlog.len();
        let generation = self.rebase_generation + reapply as u32;
        let base = self.head_before(keep);
        let mut applied = Vec::new();
        let mut reapplied = Vec::new();
        let mut dropped = Vec::new();
        if undo || !foreign.is_empty() {
            self.in_savepoint(|| {
                if undo {
                    self.undo(keep)?;
                }
                applied = materialize_batch(m, foreign, &self.db.schema, |e| {
                    let def = self.db.schema.event(&e.name)?;
                    Ok(Logged { record: e.clone(), changes: self.materialize(def, e, m)? })
                })?;
                let mut head = foreign.last().map_or(base, |e| e.seq_num);
                for l in self.eventlog[pending_start..].iter().filter(|_| reapply) {
                    match reapply_event(&self.db, &l.record, head, generation, m) {
                        Ok(Some((record, changes))) => {
                            head = record.seq_num;
                            reapplied.push(Logged { record, changes });
                        }
                        Ok(None) => {}
                        Err(e) => dropped.push((l.record.clone(), e)),
                    }
                }
                Ok(())
            })?;
        }

        let schema = self.db.schema.clone();
        if undo {
            for l in &self.eventlog[keep..] {
                self.touched.changes(&schema, &l.changes, &|t| self.live.keyed_on(t));
            }
            self.rebase_generation = generation;
        }
        for l in applied.iter().chain(&reapplied) {
            self.touched.changes(&schema, &l.changes, &|t| self.live.keyed_on(t));
        }
        let applied_len = applied.len();
        if undo {
            self.eventlog.truncate(keep);
            self.eventlog.extend(applied);
            self.eventlog.extend(reapplied);
        } else {
            // Nothing was undone: the pending events stay where they are, as
            // they were (no copy of a long backlog on every confirmation).
            self.eventlog.splice(keep..keep, applied);
        }
        self.pending_from = keep + applied_len;
        self.upstream_head = self.eventlog[..self.pending_from].last().map_or(base, |l| l.record.seq_num);
        self.head = self.eventlog.last().map_or(self.upstream_head, |l| l.record.seq_num);
        Ok(Pulled { confirmed: 0, rebased: reapply, dropped })
    }

    /// The sequence number of the event before `eventlog[index]`.
    fn head_before(&self, index: usize) -> SeqNum {
        match (self.eventlog.get(index), index.checked_sub(1)) {
            (Some(l), _) => l.record.parent_seq_num,
            (None, Some(i)) => self.eventlog[i].record.seq_num,
            (None, None) => self.upstream_head,
        }
    }

    /// Re-runs the live queries the mutations since the last refresh may
    /// affect; returns the ids of those whose result changed.
    pub fn refresh(&mut self) -> Result<Vec<u32>> {
        if !self.touched.is_empty() {
            self.version += 1;
        }
        let changed = self.live.refresh(&self.db, &self.touched);
        self.touched.clear();
        changed
    }

    /// Grows with every refresh after a change of the state: a query result
    /// is still current while this stays the same.
    pub fn version(&self) -> u64 {
        self.version
    }

    pub fn query(&self, q: &QueryDesc) -> Result<QueryResult> {
        self.check_open()?;
        self.db.query(q)
    }

    pub fn subscribe(&mut self, q: &QueryDesc) -> Result<u32> {
        self.check_open()?;
        self.live.add(&self.db, q)
    }

    pub fn unsubscribe(&mut self, id: u32) -> bool {
        self.live.remove(id)
    }

    pub fn live_result(&self, id: u32) -> Result<&QueryResult> {
        self.check_open()?;
        self.live.result(id)
    }

    pub fn live_count(&self) -> usize {
        self.live.len()
    }

    pub fn close(&mut self) {
        self.closed = true;
        self.live = LiveQueries::default();
    }

    pub fn is_closed(&self) -> bool {
        self.closed
    }
}

/// The outcome of `Session::pull`.
#[derive(Debug)]
pub struct Pulled {
    /// Own pending events that upstream confirmed as they were.
    pub confirmed: usize,
    /// Whether pending events were rolled back and re-applied on top.
    pub rebased: bool,
    /// Pending events that no longer apply on the new state (their
    /// materializer failed), with why; they are dropped.
    pub dropped: Vec<(EventRecord, Error)>,
}

/// Whether upstream's record is this one: same position, origin and content.
/// A rebase generation alone does not tell events apart (the leader and a tab
/// number their rebases independently), but two events that agree on all of
/// this leave the same state behind.
pub fn same_event(a: &EventRecord, b: &EventRecord) -> bool {
    a.seq_num == b.seq_num
        && a.client_id == b.client_id
        && a.session_id == b.session_id
        && a.name == b.name
        && a.args == b.args
}

/// Same event with the same parent: nothing about it was rewritten.
fn identical(a: &EventRecord, b: &EventRecord) -> bool {
    same_event(a, b) && a.parent_seq_num == b.parent_seq_num
}

/// Re-applies a pending event after a rebase as the event after `head`,
/// as the app's conflict rule decides: `None` when the rule dropped it, an
/// error (and nothing written) when it no longer applies.
pub fn reapply_event(
    db: &Rc<Db>,
    pending: &EventRecord,
    head: SeqNum,
    generation: u32,
    m: &dyn Materialize,
) -> Result<Option<(EventRecord, Vec<RowChange>)>> {
    let (name, args) = match m.rebase(pending, db)? {
        Rebase::Keep => (pending.name.clone(), pending.args.clone()),
        Rebase::Drop => return Ok(None),
        Rebase::Replace(input) => (input.name, input.args),
    };
    let def = db.schema.event(&name)?;
    if name != pending.name || args != pending.args {
        def.schema.validate_json(args.text()).map_err(|e| Error::InvalidEventArgs {
            event: name.clone(),
            path: e.path,
            message: e.message,
        })?;
    }
    let seq_num = head.next(def.client_only, generation);
    let record =
        EventRecord { seq_num, parent_seq_num: head, name, args, client_only: def.client_only, ..pending.clone() };
    let changes = db.in_savepoint("livestore_reapply", || materialize_event(db, def, &record, m))?;
    Ok(Some((record, changes)))
}

/// Runs an event's materializer on `db`; returns the rows it changed.
pub fn materialize_event(
    db: &Rc<Db>,
    def: &EventDef,
    record: &EventRecord,
    m: &dyn Materialize,
) -> Result<Vec<RowChange>> {
    let (out, changes) = materialize_recording(db, def, record, m);
    out.map(|_| changes)
}

/// As `materialize_event`, also returning the rows changed when it fails
/// part-way (they stay changed where the database has no rollback journal).
fn materialize_recording(
    db: &Rc<Db>,
    def: &EventDef,
    record: &EventRecord,
    m: &dyn Materialize,
) -> (Result<()>, Vec<RowChange>) {
    let run = || -> Result<()> {
        match &def.materializer {
            Materializer::Sql(sql) => {
                db.execute(&Sql { text: sql.clone(), params: named_args(&record.args) })?;
            }
            Materializer::External => {
                m.apply(def, record, db)?;
            }
            Materializer::ClientDocumentSet { table } => {
                set_client_document(db, table, &record.args)?;
            }
        }
        Ok(())
    };
    let (out, changes) = db.recorder.record_all(run);
    (out.map_err(|e| e.in_event(&def.name)), changes)
}

/// Top-level args as named SQL parameters.
pub fn named_args(args: &Args) -> Bind {
    match args.value().as_object() {
        Some(o) => Bind::Named(o.iter().map(|(k, v)| (k.clone(), Val::from_json(v))).collect()),
        None => Bind::None,
    }
}

/// Merges a partial value into a client document's row (or its default).
fn set_client_document(db: &Db, table: &str, args: &Args) -> Result<()> {
    let args = args.value();
    let id = args["id"].as_str().unwrap_or_default().to_string();
    let current = db.query(&QueryDesc::Document { table: table.into(), id: id.clone() })?.document();
    let value = merge(current, args["value"].clone());
    db.execute(&Sql {
        text: format!(
            "INSERT INTO {} (\"id\", \"value\") VALUES (?, ?) \
             ON CONFLICT (\"id\") DO UPDATE SET \"value\" = excluded.\"value\"",
            quote(table)
        ),
        params: Bind::Positional(vec![Val::Text(id), Val::Text(value.to_string())]),
    })?;
    Ok(())
}
