//! The leader on real database files: push, reopen, snapshot, catch-up after
//! a crash between the eventlog and the state, rebuild on schema change,
//! unknown events, interrupted rebuilds.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{materialize, todo_schema};
use livestore_rs::leader::{BootReport, BootStatus, Leader, Push, UnknownEvents};
use livestore_rs::schema::{Schema, SchemaDesc};
use livestore_rs::{EventInput, Session, SessionOptions};
use rusqlite::Connection;
use serde_json::json;
use std::path::Path;

fn open_with(
    dir: &Path,
    desc: SchemaDesc,
    unknown: UnknownEvents,
) -> livestore_rs::Result<(Leader, BootReport, Vec<BootStatus>)> {
    let mut statuses = Vec::new();
    let eventlog = Connection::open(dir.join("eventlog.db")).unwrap();
    let state = Connection::open(dir.join("state.db")).unwrap();
    let (leader, report) =
        Leader::open(eventlog, state, Schema::new(desc).unwrap(), &materialize, unknown, &mut |s| statuses.push(s))?;
    Ok((leader, report, statuses))
}

fn open(dir: &Path) -> (Leader, BootReport) {
    let (l, r, _) = open_with(dir, todo_schema(), UnknownEvents::Warn).unwrap();
    (l, r)
}

fn session_of(leader: &mut Leader, tab: &str) -> Session {
    let (bytes, head) = leader.snapshot().unwrap();
    let options = SessionOptions { store_id: "s".into(), client_id: "c".into(), session_id: tab.into() };
    Session::from_snapshot(Schema::new(todo_schema()).unwrap(), options, &bytes, head).unwrap()
}

fn created(id: &str) -> EventInput {
    EventInput::new("v1.TodoCreated", json!({ "id": id, "text": id }))
}

/// Commits in the session and pushes to the leader; the leader's answer.
fn commit_and_push(s: &mut Session, leader: &mut Leader, events: &[EventInput]) -> Push {
    s.commit(events, &materialize).unwrap();
    let pending: Vec<_> = s.pending().cloned().collect();
    let pushed = leader.push(&pending, &materialize).unwrap();
    if pushed == Push::Accepted {
        let echo = leader.events_after(s.upstream_head(), 10_000).unwrap();
        s.pull(&echo, &materialize).unwrap();
    }
    pushed
}

fn state_dump(leader: &Leader) -> String {
    leader.state().dump().unwrap()
}

#[test]
fn pushed_events_survive_a_reopen_and_new_sessions_start_from_the_snapshot() {
    let dir = tempfile::tempdir().unwrap();
    let (mut leader, report, statuses) = open_with(dir.path(), todo_schema(), UnknownEvents::Warn).unwrap();
    assert_eq!(report, BootReport::default(), "a new store has nothing to migrate");
    assert_eq!(statuses, [BootStatus::Loading, BootStatus::Done]);
    let mut tab = session_of(&mut leader, "tab1");
    assert_eq!(commit_and_push(&mut tab, &mut leader, &[created("a"), created("b")]), Push::Accepted);
    assert_eq!(
        commit_and_push(&mut tab, &mut leader, &[EventInput::new("v1.TodoCompleted", json!({ "id": "a" }))]),
        Push::Accepted
    );
    assert_eq!(tab.pending().len(), 0);
    assert_eq!(state_dump(&leader), tab.db().unwrap().dump().unwrap());
    drop(leader);

    let (mut leader, report) = open(dir.path());
    assert_eq!(report, BootReport::default(), "nothing to replay when nothing changed");
    assert_eq!(leader.head().to_string(), "e3");
    let fresh = session_of(&mut leader, "tab2");
    assert_eq!(fresh.db().unwrap().dump().unwrap(), tab.db().unwrap().dump().unwrap());
    assert_eq!(fresh.head().to_string(), "e3");
}

#[test]
fn events_before_pages_the_log_from_its_end_client_only_events_included() {
    let dir = tempfile::tempdir().unwrap();
    let (mut leader, _) = open(dir.path());
    let mut tab = session_of(&mut leader, "tab1");
    let noted = |id: &str| EventInput::new("v1.Noted", json!({ "id": id }));
    let events = [created("a"), noted("a"), noted("a"), created("b"), created("c"), noted("c")];
    assert_eq!(commit_and_push(&mut tab, &mut leader, &events), Push::Accepted);
    let seqs = |page: &[livestore_rs::EventRecord]| page.iter().map(|e| e.seq_num.to_string()).collect::<Vec<_>>();
    let newest = leader.events_before(None, 4).unwrap();
    assert_eq!(seqs(&newest), ["e3.1", "e3", "e2", "e1.2"]);
    let older = leader.events_before(Some(newest[3].seq_num), 4).unwrap();
    assert_eq!(seqs(&older), ["e1.1", "e1"]);
    assert!(leader.events_before(Some(older[1].seq_num), 4).unwrap().is_empty());
}

#[test]
fn a_push_not_on_top_of_the_head_is_rejected_and_the_rebased_one_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let (mut leader, _) = open(dir.path());
    let mut a = session_of(&mut leader, "a");
    let mut b = session_of(&mut leader, "b");
    assert_eq!(commit_and_push(&mut a, &mut leader, &[created("a")]), Push::Accepted);
    assert_eq!(commit_and_push(&mut b, &mut leader, &[created("b")]), Push::Rejected { head: leader.head() });
    let new = leader.events_after(b.upstream_head(), 100).unwrap();
    let pulled = b.pull(&new, &materialize).unwrap();
    assert!(pulled.rebased);
    let pending: Vec<_> = b.pending().cloned().collect();
    assert_eq!(leader.push(&pending, &materialize).unwrap(), Push::Accepted);
    assert_eq!(leader.events_after(livestore_rs::SeqNum::ROOT, 100).unwrap().len(), 2);

    let mut gap = pending.clone();
    gap[0].seq_num.global += 5;
    gap[0].parent_seq_num = leader.head();
    let mut second = gap[0].clone();
    second.parent_seq_num.global += 1;
    second.seq_num.global += 7;
    gap.push(second);
    assert_eq!(leader.push(&gap, &materialize).unwrap_err().code(), "INVALID_UPSTREAM");
}

#[test]
fn a_batch_that_does_not_apply_is_refused_whole_and_nothing_is_stored() {
    let dir = tempfile::tempdir().unwrap();
    let (mut leader, _) = open(dir.path());
    let mut tab = session_of(&mut leader, "tab");
    commit_and_push(&mut tab, &mut leader, &[created("a")]);
    let before = state_dump(&leader);
    // Two events whose second clashes with the state (as a buggy or changed
    // materializer would): the leader refuses the batch.
    let mut other = session_of(&mut leader, "other");
    other.commit(&[created("b")], &materialize).unwrap();
    let mut batch: Vec<_> = other.pending().cloned().collect();
    let mut clash = batch[0].clone();
    clash.parent_seq_num = clash.seq_num;
    clash.seq_num.global += 1;
    clash.args = json!({ "id": "a", "text": "dup" }).into();
    batch.push(clash);
    let e = leader.push(&batch, &materialize).unwrap_err();
    assert_eq!(e.code(), "MATERIALIZER_FAILED");
    assert_eq!(state_dump(&leader), before);
    assert_eq!(leader.head().to_string(), "e1");
    drop(leader);
    let (leader, report) = open(dir.path());
    assert_eq!(report, BootReport::default());
    assert_eq!(leader.events_after(livestore_rs::SeqNum::ROOT, 10).unwrap().len(), 1);
}

#[test]
fn a_state_behind_the_eventlog_catches_up_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let (mut leader, _) = open(dir.path());
    let mut tab = session_of(&mut leader, "tab");
    commit_and_push(&mut tab, &mut leader, &[created("a")]);
    drop(leader);
    // A crash after the eventlog committed and before the state did.
    let log = Connection::open(dir.path().join("eventlog.db")).unwrap();
    log.execute(
        "INSERT INTO __livestore_events VALUES (2, 0, 0, 1, 0, 0, 'v1.TodoCreated', '{\"id\":\"b\",\"text\":\"b\"}', 'c', 'tab', 0)",
        [],
    )
    .unwrap();
    drop(log);
    let (leader, report) = open(dir.path());
    assert_eq!((report.rebuilt, report.caught_up), (false, 1));
    assert!(state_dump(&leader).contains("Text(\"b\")"));
    assert_eq!(leader.head().to_string(), "e2");
}

#[test]
fn a_schema_change_rebuilds_the_state_from_the_eventlog_with_progress() {
    let dir = tempfile::tempdir().unwrap();
    let (mut leader, _) = open(dir.path());
    let mut tab = session_of(&mut leader, "tab");
    let events: Vec<_> = (0..2500).map(|i| created(&format!("t{i}"))).collect();
    commit_and_push(&mut tab, &mut leader, &events);
    drop(leader);

    // New version: renamed materializer SQL for deletes, a new column.
    let mut desc = todo_schema();
    desc.tables[0]
        .columns
        .push(serde_json::from_value(json!({ "name": "priority", "type": "integer", "default": 3 })).unwrap());
    let (leader, report, statuses) = open_with(dir.path(), desc, UnknownEvents::Warn).unwrap();
    assert!(report.rebuilt);
    assert_eq!(report.caught_up, 2500);
    assert_eq!(statuses.first(), Some(&BootStatus::Loading));
    assert!(statuses.contains(&BootStatus::Migrating));
    assert!(statuses.contains(&BootStatus::Rehydrating { done: 1000, total: 2500 }));
    assert!(statuses.contains(&BootStatus::Rehydrating { done: 2500, total: 2500 }));
    assert_eq!(statuses.last(), Some(&BootStatus::Done));
    let n: i64 =
        leader.state().conn.query_row("SELECT COUNT(*) FROM todos WHERE priority = 3", [], |r| r.get(0)).unwrap();
    assert_eq!(n, 2500);
}

#[test]
fn unknown_events_stay_in_the_log_under_the_chosen_policy() {
    let dir = tempfile::tempdir().unwrap();
    let (mut leader, _) = open(dir.path());
    let mut tab = session_of(&mut leader, "tab");
    commit_and_push(&mut tab, &mut leader, &[created("a")]);
    drop(leader);
    let log = Connection::open(dir.path().join("eventlog.db")).unwrap();
    log.execute("INSERT INTO __livestore_events VALUES (2, 0, 0, 1, 0, 0, 'v2.FromTheFuture', '{}', 'c2', 't', 0)", [])
        .unwrap();
    drop(log);

    let e = open_with(dir.path(), todo_schema(), UnknownEvents::Fail).err().unwrap();
    assert_eq!(e, livestore_rs::Error::UnknownEvent("v2.FromTheFuture".into()));
    let (leader, report, _) = open_with(dir.path(), todo_schema(), UnknownEvents::Warn).unwrap();
    assert_eq!(report.unknown, ["v2.FromTheFuture"]);
    assert_eq!(leader.head().to_string(), "e2");
    assert_eq!(leader.events_after(livestore_rs::SeqNum::ROOT, 10).unwrap().len(), 2);
}

#[test]
fn an_interrupted_rebuild_starts_over_on_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    let (mut leader, _) = open(dir.path());
    let mut tab = session_of(&mut leader, "tab");
    commit_and_push(&mut tab, &mut leader, &[created("a"), created("b"), created("c")]);
    let before = state_dump(&leader);
    drop(leader);

    let mut desc = todo_schema();
    desc.tables[0].columns[1].default = Some(json!("untitled"));
    let failing = |def: &livestore_rs::schema::EventDef,
                   rec: &livestore_rs::EventRecord,
                   db: &std::rc::Rc<livestore_rs::db::Db>| {
        if rec.args.value()["id"] == "c" {
            return Err(livestore_rs::Error::Sql("disk I/O error".into()));
        }
        materialize(def, rec, db)
    };
    let eventlog = Connection::open(dir.path().join("eventlog.db")).unwrap();
    let state = Connection::open(dir.path().join("state.db")).unwrap();
    let crashed =
        Leader::open(eventlog, state, Schema::new(desc.clone()).unwrap(), &failing, UnknownEvents::Warn, &mut |_| {});
    assert!(crashed.is_err());
    // Still the old, consistent state (the rebuild was one transaction).
    let state = Connection::open(dir.path().join("state.db")).unwrap();
    let rows: i64 = state.query_row("SELECT COUNT(*) FROM todos", [], |r| r.get(0)).unwrap();
    assert_eq!(rows, 3);
    drop(state);

    let (leader, report, _) = open_with(dir.path(), desc, UnknownEvents::Warn).unwrap();
    assert!(report.rebuilt);
    assert_eq!(report.caught_up, 3);
    assert_eq!(state_dump(&leader), before);
}

#[test]
fn an_exported_eventlog_imports_into_another_store_and_rebuilds_its_state() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let (mut a, _) = open(a_dir.path());
    let mut tab = session_of(&mut a, "tab");
    commit_and_push(&mut tab, &mut a, &[created("a"), created("b")]);
    commit_and_push(&mut tab, &mut a, &[EventInput::new("v1.TodoCompleted", json!({ "id": "b" }))]);
    let (_, eventlog) = a.export().unwrap();

    let (mut b, _) = open(b_dir.path());
    let mut other = session_of(&mut b, "other");
    commit_and_push(&mut other, &mut b, &[created("z")]);
    let before = state_dump(&b);
    let e = b.import_eventlog(b"not a database at all", &materialize).unwrap_err();
    assert_eq!(e.code(), "INVALID_IMPORT");
    assert_eq!(state_dump(&b), before);

    b.import_eventlog(&eventlog, &materialize).unwrap();
    assert_eq!(state_dump(&b), state_dump(&a));
    assert_eq!(b.head().to_string(), "e3");
    drop(b);
    let (b, report) = open(b_dir.path());
    assert_eq!(report, BootReport::default());
    assert_eq!(state_dump(&b), state_dump(&a));
}
