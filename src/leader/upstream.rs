//! The leader's side of syncing with the server: which events are final,
//! what to push next, and rewriting the pending tail of the log when the
//! server's order differs (a rebase) or when it refuses an event.
//!
//! Events up to the sync head are final. The ones after it are pending:
//! synced ones wait for the server, client-only ones never leave the client
//! but are renumbered with the rest when a rebase moves them.

use super::{insert_events, BootReport, Leader, Rewrite, Undo, PAGE};
use crate::changes;
use crate::error::{Error, Result};
use crate::event::{EventRecord, SeqNum};
use crate::session::{reapply_event, same_event, Materialize};
use rusqlite::params;

/// What to push to the server next.
#[derive(Debug, PartialEq)]
pub enum NextPush {
    Nothing,
    /// Synced events after the sync head, each with the previous synced
    /// event as parent (client-only events between them stay on the client).
    Batch(Vec<EventRecord>),
    /// This pending event alone is larger than the server accepts.
    TooLarge(EventRecord),
}

/// Bytes of a push message besides its events.
const PUSH_OVERHEAD: usize = 64;

impl Leader {
    /// The last event the sync server confirmed.
    pub fn sync_head(&self) -> SeqNum {
        self.sync_head
    }

    /// The server this log synced with (its `backendId`), once known.
    pub fn backend_id(&self) -> Option<&str> {
        self.backend_id.as_deref()
    }

    pub fn set_backend_id(&mut self, id: &str) -> Result<()> {
        Self::set_sync_meta(&self.eventlog, "backendId", id)?;
        self.backend_id = Some(id.to_string());
        Ok(())
    }

    /// From now on keeps the row changes of pending events, so that a rebase
    /// undoes them instead of rebuilding the state.
    pub fn start_sync(&mut self) {
        if self.undo.is_none() {
            self.undo = Some(Undo { from: self.head, events: Vec::new() });
        }
    }

    /// Grows with every rewrite that renumbered pending events: a session
    /// that saw this generation has seen every rewrite.
    pub fn rebase_generation(&self) -> u32 {
        self.rebase_generation
    }

    /// Whether the eventlog holds an event at exactly this position.
    pub fn contains(&self, seq: SeqNum) -> Result<bool> {
        Ok(seq == SeqNum::ROOT || self.has_event(seq)?)
    }

    /// Synced events not yet confirmed by the server.
    pub fn pending_sync_count(&self) -> Result<u64> {
        // Asked on every status update: the statement is kept.
        let n: i64 = self
            .eventlog
            .prepare_cached(
                "SELECT COUNT(*) FROM __livestore_events WHERE (seq_global, seq_client) > (?, ?) AND client_only = 0",
            )?
            .query_row(params![self.sync_head.global as i64, self.sync_head.client], |r| r.get(0))?;
        Ok(n as u64)
    }

    /// The first pending synced events, at most `max_events` of them and
    /// `max_bytes` of JSON.
    pub fn next_push(&self, max_events: usize, max_bytes: usize) -> Result<NextPush> {
        let mut batch: Vec<EventRecord> = Vec::new();
        let mut bytes = PUSH_OVERHEAD;
        let mut parent = self.sync_head;
        let mut after = self.sync_head;
        'pages: loop {
            let page = self.events_after(after, PAGE)?;
            let Some(last) = page.last() else { break };
            after = last.seq_num;
            for mut e in page.into_iter().filter(|e| !e.client_only) {
                let size = serde_json::to_string(&e).map(|s| s.len() + 1).unwrap_or(usize::MAX);
                if batch.len() == max_events || bytes + size > max_bytes {
                    if batch.is_empty() {
                        return Ok(NextPush::TooLarge(e));
                    }
                    break 'pages;
                }
                bytes += size;
                e.parent_seq_num = parent;
                parent = e.seq_num;
                batch.push(e);
            }
        }
        Ok(if batch.is_empty() { NextPush::Nothing } else { NextPush::Batch(batch) })
    }

    /// Takes in events of the server's log (oldest first, continuing from
    /// the sync head; ones already known are skipped). Own pending events
    /// that come back are confirmed; if others' come first, the pending ones
    /// are rolled back and re-applied after them with new numbers. Returns
    /// the rewrite when the log changed beyond confirmations.
    pub fn pull_upstream(&mut self, events: &[EventRecord], m: &dyn Materialize) -> Result<Option<Rewrite>> {
        let new: Vec<&EventRecord> = events.iter().filter(|e| e.seq_num.global > self.sync_head.global).collect();
        let Some(first) = new.first() else { return Ok(None) };
        if first.seq_num.global != self.sync_head.global + 1 {
            return Err(Error::InvalidUpstream(format!(
                "the server sent {} but this client's last synced event is {}",
                first.seq_num, self.sync_head
            )));
        }
        if let Some(w) = new.windows(2).find(|w| w[1].seq_num.global != w[0].seq_num.global + 1) {
            return Err(Error::InvalidUpstream(format!("the server sent {} after {}", w[1].seq_num, w[0].seq_num)));
        }
        if let Some(e) = new.iter().find(|e| e.client_only || e.seq_num.client != 0) {
            return Err(Error::InvalidUpstream(format!("the server sent a client-only event {}", e.seq_num)));
        }

        // Own pending events, confirmed one by one as the server's log repeats them.
        let mut pending = self.events_after(self.sync_head, new.len() + PAGE)?;
        let mut complete = pending.len() < new.len() + PAGE;
        let (mut i, mut j) = (0, 0);
        let mut confirmed = None;
        while j < new.len() {
            while i < pending.len() && pending[i].client_only {
                i += 1;
            }
            if i == pending.len() && !complete {
                complete = self.read_more(&mut pending)?;
                continue;
            }
            if i < pending.len() && same_event(&pending[i], new[j]) {
                confirmed = Some(i);
                i += 1;
                j += 1;
            } else {
                break;
            }
        }
        let keep = confirmed.map_or(0, |c| c + 1);
        let base = confirmed.map_or(self.sync_head, |c| pending[c].seq_num);
        if j == new.len() {
            self.set_sync_head(base)?;
            return Ok(None);
        }
        while !complete {
            complete = self.read_more(&mut pending)?;
        }
        let foreign: Vec<EventRecord> = new[j..].iter().map(|e| (*e).clone()).collect();
        self.rewrite(base, &pending[keep..], &foreign, None, m).map(Some)
    }

    /// The server refused pending event `seq` (its validation, or the
    /// event is too large): it is removed and the pending events after it
    /// re-applied without it.
    /// `name`, when given, must match: the event at `seq` may be another
    /// one by now, if a rebase renumbered the pending events since.
    pub fn reject(&mut self, seq: SeqNum, name: Option<&str>, m: &dyn Materialize) -> Result<Option<Rewrite>> {
        if seq <= self.sync_head || !self.has_event(seq)? {
            return Ok(None);
        }
        let mut pending = self.events_after(self.sync_head, PAGE)?;
        let mut complete = pending.len() < PAGE;
        while !complete {
            complete = self.read_more(&mut pending)?;
        }
        if name.is_some_and(|n| pending.iter().any(|e| e.seq_num == seq && e.name != n)) {
            return Ok(None);
        }
        let base = self.sync_head;
        self.rewrite(base, &pending, &[], Some(seq), m).map(Some)
    }

    /// Appends the next page of the log to `pending`; true when the log ended.
    fn read_more(&self, pending: &mut Vec<EventRecord>) -> Result<bool> {
        let after = pending.last().map_or(self.sync_head, |e| e.seq_num);
        let page = self.events_after(after, PAGE)?;
        let done = page.len() < PAGE;
        pending.extend(page);
        Ok(done)
    }

    fn set_sync_head(&mut self, head: SeqNum) -> Result<()> {
        if head == self.sync_head {
            return Ok(());
        }
        let value = serde_json::to_string(&head).expect("seqnum");
        self.unsynced(|l| Self::set_sync_meta(&l.eventlog, "head", &value))?;
        self.sync_head = head;
        if let Some(undo) = &mut self.undo {
            let n = undo.events.partition_point(|(s, _)| *s <= head);
            undo.events.drain(..n);
            undo.from = undo.from.max(head);
        }
        Ok(())
    }

    /// Replaces the log after `base` (the sync head to be): `pending` (the
    /// events there now) are rolled back, `foreign` (the server's) applied,
    /// and `pending` but `rejected` re-applied on top with the next rebase
    /// generation, as the conflict rule decides. The eventlog commit is the
    /// durable point; a crash before the state commits makes the next open
    /// rebuild the state (its rebase generation is behind the log's).
    fn rewrite(
        &mut self,
        base: SeqNum,
        pending: &[EventRecord],
        foreign: &[EventRecord],
        rejected: Option<SeqNum>,
        m: &dyn Materialize,
    ) -> Result<Rewrite> {
        // Renumbered events get a new generation; it also marks the rewrite
        // in both files, so that a state not committed with it is rebuilt.
        // Above every generation in sight: a tab numbers its own rebases, and
        // a renumbered event must not take the number of one it replaces.
        let newest = pending.iter().chain(foreign).map(|e| e.seq_num.rebase_generation).max().unwrap_or(0);
        let generation =
            if pending.is_empty() { self.rebase_generation } else { self.rebase_generation.max(newest) + 1 };
        let tx = self.state.conn.unchecked_transaction()?;
        if !self.undo_after(base, pending.len())? {
            self.rebuild_until(base, m)?;
        }
        let mut report = BootReport::default();
        self.materialize_in_tx(foreign, m, &mut report)?;
        let sync_head = foreign.last().map_or(base, |e| e.seq_num);
        let mut head = sync_head;
        let mut reapplied = Vec::new();
        let mut changes = Vec::new();
        let mut dropped = Vec::new();
        for p in pending.iter().filter(|p| Some(p.seq_num) != rejected) {
            if self.state.schema.event(&p.name).is_err() {
                // Written by a newer app: kept in the log, not materialized.
                let seq_num = head.next(p.client_only, generation);
                reapplied.push(EventRecord { seq_num, parent_seq_num: head, ..p.clone() });
                changes.push(Vec::new());
                head = seq_num;
                continue;
            }
            match reapply_event(&self.state, p, head, generation, m) {
                Ok(Some((record, c))) => {
                    head = record.seq_num;
                    reapplied.push(record);
                    changes.push(c);
                }
                Ok(None) => {}
                Err(e) => dropped.push((p.clone(), e)),
            }
        }
        let write_log = |l: &Self| {
            let etx = l.eventlog.unchecked_transaction()?;
            etx.execute(
                "DELETE FROM __livestore_events WHERE (seq_global, seq_client) > (?, ?)",
                params![base.global as i64, base.client],
            )?;
            insert_events(&etx, foreign)?;
            insert_events(&etx, &reapplied)?;
            Self::set_sync_meta(&etx, "head", &serde_json::to_string(&sync_head).expect("seqnum"))?;
            Self::set_sync_meta(&etx, "rebaseGeneration", &generation.to_string())?;
            etx.commit()?;
            Ok(())
        };
        // Only the server's events: if a power loss takes them, they are
        // pulled again. Rewritten pending events must be durable before they
        // are pushed under their new numbers.
        if pending.is_empty() {
            self.unsynced(write_log)?;
        } else {
            write_log(self)?;
        }
        self.set_state_meta("head", &serde_json::to_string(&head).expect("seqnum"))?;
        self.set_state_meta("rebaseGeneration", &generation.to_string())?;
        tx.commit()?;
        self.head = head;
        self.sync_head = sync_head;
        self.rebase_generation = generation;
        if self.undo.is_some() {
            self.undo =
                Some(Undo { from: sync_head, events: reapplied.iter().map(|e| e.seq_num).zip(changes).collect() });
        }
        let mut events = foreign.to_vec();
        events.extend(reapplied);
        Ok(Rewrite { base, events, dropped })
    }

    /// Undoes the `count` events after `base` from their recorded row
    /// changes; false when they were not recorded (then the state must be rebuilt).
    fn undo_after(&self, base: SeqNum, count: usize) -> Result<bool> {
        let Some(undo) = &self.undo else { return Ok(count == 0) };
        if undo.from > base {
            return Ok(count == 0);
        }
        let start = undo.events.partition_point(|(s, _)| *s <= base);
        if undo.events.len() - start != count {
            return Ok(false);
        }
        for (_, c) in undo.events[start..].iter().rev() {
            changes::undo(&self.state.conn, &self.state.schema, c, &self.state.recorder)?;
        }
        Ok(true)
    }

    /// Rebuilds the state from the events up to `base`.
    fn rebuild_until(&self, base: SeqNum, m: &dyn Materialize) -> Result<()> {
        self.state.reset_state()?;
        let mut after = SeqNum::ROOT;
        let mut report = BootReport::default();
        loop {
            let mut page = self.events_after(after, PAGE)?;
            page.retain(|e| e.seq_num <= base);
            let Some(last) = page.last() else { break };
            after = last.seq_num;
            self.materialize_in_tx(&page, m, &mut report)?;
        }
        Ok(())
    }
}
