//! The leader's side of sync on real files: confirming and rebasing pending
//! events on the server's log (with and without their recorded changes),
//! a crash in the middle of a rebase, push batches, refused events, the
//! conflict rule, and the protocol state machine's refusals to go on.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{materialize, todo_schema};
use livestore_rs::db::Db;
use livestore_rs::leader::{Leader, NextPush, Push, UnknownEvents};
use livestore_rs::protocol::{ClientMessage, Limits, ServerMessage};
use livestore_rs::query::WriteDesc;
use livestore_rs::schema::{EventDef, Schema};
use livestore_rs::session::{Materialize, Rebase};
use livestore_rs::sync::{SyncClient, SyncConfig};
use livestore_rs::{EventInput, EventRecord, SeqNum, Session, SessionOptions};
use rusqlite::Connection;
use serde_json::json;
use std::path::Path;
use std::rc::Rc;

fn open(dir: &Path, m: &dyn Materialize) -> Leader {
    let eventlog = Connection::open(dir.join("eventlog.db")).unwrap();
    let state = Connection::open(dir.join("state.db")).unwrap();
    let (mut leader, _) =
        Leader::open(eventlog, state, Schema::new(todo_schema()).unwrap(), m, UnknownEvents::Warn, &mut |_| {})
            .unwrap();
    leader.start_sync();
    leader
}

/// Commits `events` in a fresh session of `client` on top of the leader and pushes them.
fn commit(leader: &mut Leader, client: &str, events: &[EventInput]) -> Vec<EventRecord> {
    let (bytes, head) = leader.snapshot().unwrap();
    let options =
        SessionOptions { store_id: "s".into(), client_id: client.into(), session_id: format!("{client}-tab") };
    let mut session = Session::from_snapshot(Schema::new(todo_schema()).unwrap(), options, &bytes, head).unwrap();
    let records = session.commit(events, &materialize).unwrap();
    assert_eq!(leader.push(&records, &materialize).unwrap(), Push::Accepted);
    records
}

fn created(id: &str) -> EventInput {
    EventInput::new("v1.TodoCreated", json!({ "id": id, "text": id }))
}

/// An event of another client as the server sends it.
fn remote(global: u64, name: &str, args: serde_json::Value) -> EventRecord {
    EventRecord {
        seq_num: SeqNum { global, client: 0, rebase_generation: 0 },
        parent_seq_num: SeqNum { global: global - 1, client: 0, rebase_generation: 0 },
        name: name.into(),
        args: args.into(),
        client_id: "other".into(),
        session_id: "other-tab".into(),
        client_only: false,
    }
}

fn texts(leader: &Leader) -> Vec<(String, String)> {
    let sql = "SELECT id, text FROM todos ORDER BY id";
    let mut stmt = leader.state().conn.prepare(sql).unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?))).unwrap().collect::<Result<_, _>>().unwrap()
}

/// The state a fresh client gets by replaying `leader`'s whole log.
fn replayed(leader: &Leader) -> String {
    let events = leader.events_after(SeqNum::ROOT, usize::MAX).unwrap();
    let options = SessionOptions { store_id: "s".into(), client_id: "r".into(), session_id: "r".into() };
    let mut s = Session::new(Schema::new(todo_schema()).unwrap(), options).unwrap();
    s.pull(&events, &materialize).unwrap();
    s.db().unwrap().dump().unwrap()
}

fn names(leader: &Leader) -> Vec<String> {
    leader
        .events_after(SeqNum::ROOT, usize::MAX)
        .unwrap()
        .iter()
        .map(|e| format!("{} {}", e.seq_num, e.args.value()["id"]))
        .collect()
}

#[test]
fn own_events_coming_back_are_confirmed_and_others_first_rebase_the_pending_ones() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = open(dir.path(), &materialize);
    let mine = commit(&mut leader, "me", &[created("a"), created("b")]);
    // The server has our first event, then another client's, then nothing of our second.
    let first = EventRecord { client_only: false, ..mine[0].clone() };
    let other =
        EventRecord { parent_seq_num: first.seq_num, ..remote(2, "v1.TodoCreated", json!({ "id": "x", "text": "x" })) };
    let rewrite = leader.pull_upstream(&[first, other], &materialize).unwrap().expect("a rebase");
    assert_eq!(rewrite.base.to_string(), "e1", "the confirmed event stays");
    assert_eq!(names(&leader), ["e1 \"a\"", "e2 \"x\"", "e3r1 \"b\""]);
    assert_eq!(leader.sync_head().to_string(), "e2");
    assert_eq!(leader.pending_sync_count().unwrap(), 1);
    assert_eq!(leader.state().dump().unwrap(), replayed(&leader));
    match leader.next_push(100, 1 << 20).unwrap() {
        NextPush::Batch(b) => {
            assert_eq!(b.len(), 1);
            assert_eq!(b[0].parent_seq_num.to_string(), "e2");
        }
        other => panic!("expected a batch, got {other:?}"),
    }
}

#[test]
fn after_a_reopen_the_pending_events_are_rebased_by_rebuilding_the_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = open(dir.path(), &materialize);
    commit(&mut leader, "me", &[created("a"), EventInput::new("v1.TodoRenamed", json!({ "id": "a", "text": "mine" }))]);
    drop(leader);
    // No row changes were recorded for these events in this process.
    let mut leader = open(dir.path(), &materialize);
    let theirs = [
        remote(1, "v1.TodoCreated", json!({ "id": "a", "text": "theirs" })),
        remote(2, "v1.TodoCreated", json!({ "id": "z", "text": "z" })),
    ];
    let rewrite = leader.pull_upstream(&theirs, &materialize).unwrap().unwrap();
    // Our TodoCreated of 'a' fails on the primary key now and is dropped; the rename still applies.
    assert_eq!(rewrite.dropped.len(), 1, "{:?}", rewrite.dropped);
    assert_eq!(texts(&leader), [("a".into(), "mine".into()), ("z".into(), "z".into())]);
    assert_eq!(names(&leader), ["e1 \"a\"", "e2 \"z\"", "e3r1 \"a\""]);
    assert_eq!(leader.state().dump().unwrap(), replayed(&leader));
}

#[test]
fn a_crash_after_the_eventlog_rewrite_and_before_the_state_commit_rebuilds_the_state_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = open(dir.path(), &materialize);
    commit(&mut leader, "me", &[created("a")]);
    drop(leader);
    let before = std::fs::read(dir.path().join("state.db")).unwrap();
    let mut leader = open(dir.path(), &materialize);
    leader.pull_upstream(&[remote(1, "v1.TodoCreated", json!({ "id": "x", "text": "x" }))], &materialize).unwrap();
    drop(leader);
    // The state as it was before the rebase: its head (e1, ours) is no longer in the log.
    std::fs::write(dir.path().join("state.db"), before).unwrap();
    let eventlog = Connection::open(dir.path().join("eventlog.db")).unwrap();
    let state = Connection::open(dir.path().join("state.db")).unwrap();
    let schema = Schema::new(todo_schema()).unwrap();
    let (leader, report) =
        Leader::open(eventlog, state, schema, &materialize, UnknownEvents::Warn, &mut |_| {}).unwrap();
    assert!(report.rebuilt);
    assert_eq!(texts(&leader), [("a".into(), "a".into()), ("x".into(), "x".into())]);
    assert_eq!(leader.state().dump().unwrap(), replayed(&leader));
}

#[test]
fn a_power_loss_that_takes_the_servers_events_from_the_eventlog_but_not_the_state_rebuilds_the_state() {
    let dir = tempfile::tempdir().unwrap();
    drop(open(dir.path(), &materialize));
    let empty_log = std::fs::read(dir.path().join("eventlog.db")).unwrap();
    let mut leader = open(dir.path(), &materialize);
    let mode: String = leader.state().conn.query_row("PRAGMA journal_mode", [], |r| r.get(0)).unwrap();
    assert_eq!(mode, "wal");
    let theirs = [
        remote(1, "v1.TodoCreated", json!({ "id": "x", "text": "x" })),
        remote(2, "v1.TodoCreated", json!({ "id": "y", "text": "y" })),
    ];
    leader.pull_upstream(&theirs, &materialize).unwrap();
    drop(leader);
    // The eventlog's commit of the server's events did not sync; the power
    // loss took it, and the state's commit made it to the disk.
    std::fs::write(dir.path().join("eventlog.db"), empty_log).unwrap();
    let eventlog = Connection::open(dir.path().join("eventlog.db")).unwrap();
    let state = Connection::open(dir.path().join("state.db")).unwrap();
    let schema = Schema::new(todo_schema()).unwrap();
    let (mut leader, report) =
        Leader::open(eventlog, state, schema, &materialize, UnknownEvents::Warn, &mut |_| {}).unwrap();
    assert!(report.rebuilt);
    assert_eq!(texts(&leader), []);
    assert_eq!(leader.sync_head(), SeqNum::ROOT);
    // The next catch-up brings them back.
    leader.start_sync();
    leader.pull_upstream(&theirs, &materialize).unwrap();
    assert_eq!(texts(&leader), [("x".into(), "x".into()), ("y".into(), "y".into())]);
    assert_eq!(leader.state().dump().unwrap(), replayed(&leader));
}

#[test]
fn a_push_skips_client_only_events_and_chains_parents_over_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = open(dir.path(), &materialize);
    let records = commit(
        &mut leader,
        "me",
        &[created("a"), EventInput::new("v1.Noted", json!({ "id": "a" })), created("b"), created("c")],
    );
    assert_eq!(records[2].parent_seq_num.to_string(), "e1.1", "locally b follows the client-only event");
    let NextPush::Batch(batch) = leader.next_push(2, 1 << 20).unwrap() else { panic!("a batch") };
    let shown: Vec<String> = batch.iter().map(|e| format!("{}<-{}", e.seq_num, e.parent_seq_num)).collect();
    assert_eq!(shown, ["e1<-e0", "e2<-e1"], "at most 2, client-only left out");
    match leader.next_push(10, 100).unwrap() {
        NextPush::TooLarge(e) => assert_eq!(e.seq_num.to_string(), "e1"),
        other => panic!("expected TooLarge, got {other:?}"),
    }
}

#[test]
fn a_refused_event_is_removed_and_the_later_ones_stay() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = open(dir.path(), &materialize);
    let records = commit(&mut leader, "me", &[created("a"), created("b"), created("c")]);
    let rewrite = leader.reject(records[1].seq_num, Some("v1.TodoCreated"), &materialize).unwrap().unwrap();
    assert_eq!(rewrite.base, SeqNum::ROOT);
    assert_eq!(names(&leader), ["e1r1 \"a\"", "e2r1 \"c\""]);
    assert_eq!(texts(&leader).len(), 2);
    assert_eq!(leader.state().dump().unwrap(), replayed(&leader));
}

/// A conflict rule: pending renames of a todo someone else deleted are
/// dropped; pending creations of a taken id are created under another id.
struct Rule;

impl Materialize for Rule {
    fn materialize(&self, def: &EventDef, rec: &EventRecord, db: &Rc<Db>) -> livestore_rs::Result<Vec<WriteDesc>> {
        materialize(def, rec, db)
    }

    fn rebase(&self, pending: &EventRecord, db: &Rc<Db>) -> livestore_rs::Result<Rebase> {
        let exists = |id: &serde_json::Value| {
            db.conn
                .query_row("SELECT count(*) FROM todos WHERE id = ?", [id.as_str().unwrap()], |r| r.get::<_, i64>(0))
                .unwrap()
                > 0
        };
        Ok(match pending.name.as_str() {
            "v1.TodoRenamed" if !exists(&pending.args.value()["id"]) => Rebase::Drop,
            "v1.TodoCreated" if exists(&pending.args.value()["id"]) => Rebase::Replace(EventInput::new(
                "v1.TodoCreated",
                json!({ "id": format!("{}-2", pending.args.value()["id"].as_str().unwrap()), "text": pending.args.value()["text"] }),
            )),
            _ => Rebase::Keep,
        })
    }
}

#[test]
fn the_conflict_rule_keeps_drops_or_replaces_pending_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = open(dir.path(), &Rule);
    leader.pull_upstream(&[remote(1, "v1.TodoCreated", json!({ "id": "k", "text": "k" }))], &Rule).unwrap();
    commit(
        &mut leader,
        "me",
        &[EventInput::new("v1.TodoRenamed", json!({ "id": "k", "text": "renamed" })), created("n")],
    );
    let theirs = [
        EventRecord { parent_seq_num: leader.sync_head(), ..remote(2, "v1.TodoDeleted", json!({ "id": "k" })) },
        remote(3, "v1.TodoCreated", json!({ "id": "n", "text": "theirs" })),
    ];
    let rewrite = leader.pull_upstream(&theirs, &Rule).unwrap().unwrap();
    assert!(rewrite.dropped.is_empty(), "{:?}", rewrite.dropped);
    assert_eq!(texts(&leader), [("n".into(), "theirs".into()), ("n-2".into(), "n".into())]);
    assert_eq!(names(&leader), ["e1 \"k\"", "e2 \"k\"", "e3 \"n\"", "e4r1 \"n-2\""]);
}

fn welcome(backend: &str, head: u64) -> ServerMessage {
    ServerMessage::Welcome {
        backend_id: backend.into(),
        head,
        protocol_version: 1,
        limits: Limits { max_message_bytes: 1 << 20, max_batch_events: 100, max_pull_limit: 100 },
    }
}

#[test]
fn syncing_stops_when_the_server_was_reset_or_lost_events() {
    let dir = tempfile::tempdir().unwrap();
    let mut leader = open(dir.path(), &materialize);
    let config = SyncConfig { store_id: "s".into(), client_id: "me".into(), token: None };
    let mut client = SyncClient::new(config.clone());
    client.connected();
    let out = client.receive(&mut leader, welcome("b1", 0), &materialize).unwrap();
    assert!(matches!(out.send[..], [ClientMessage::Pull { after: 0, live: true, .. }]));
    // Nothing synced yet: a new backend is just adopted.
    client.connected();
    client.receive(&mut leader, welcome("b2", 0), &materialize).unwrap();
    assert_eq!(leader.backend_id(), Some("b2"));

    leader.pull_upstream(&[remote(1, "v1.TodoCreated", json!({ "id": "a", "text": "a" }))], &materialize).unwrap();
    let mut client = SyncClient::new(config.clone());
    client.connected();
    let out = client.receive(&mut leader, welcome("b2", 0), &materialize).unwrap();
    assert!(out.stop);
    assert_eq!(out.errors[0].code, "SERVER_BEHIND");

    let mut client = SyncClient::new(config);
    client.connected();
    let out = client.receive(&mut leader, welcome("b3", 5), &materialize).unwrap();
    assert!(out.stop && out.send.is_empty());
    assert_eq!(out.errors[0].code, "BACKEND_RESET");
    assert!(client.stopped().is_some());
}
