//! Push, pull, live fan-out, compare-and-append, pagination, backend
//! identity and graceful shutdown, through real WebSocket connections.

mod common;

use common::*;
use livestore_rs::protocol::{close, ClientMessage, ServerMessage};
use livestore_rs_server::{Append, MemoryStorage, Server, SqliteStorage, Storage};
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn push_pull_and_live_fan_out_to_two_clients() {
    let server = start_memory().await;
    let url = server.url();
    let (mut a, welcome) = Client::hello(&url, "todos", "a", None).await;
    assert_eq!(head_of(&welcome), 0);
    let (mut b, _) = Client::hello(&url, "todos", "b", None).await;
    for c in [&mut a, &mut b] {
        c.send(&ClientMessage::Pull { after: 0, limit: None, live: true }).await;
        assert_eq!(c.events().await, (vec![], 0, false), "catch-up of an empty store: one empty page");
    }

    // a pushes: both live connections get the events, a's before its ack.
    let first = batch(1, 3, "a");
    b.send(&ClientMessage::Pull { after: 0, limit: None, live: true }).await; // re-subscribing is allowed
    assert_eq!(b.events().await, (vec![], 0, false));
    a.send(&ClientMessage::Push { batch: first.clone() }).await;
    assert_eq!(a.events().await, (first.clone(), 3, false));
    assert_eq!(a.msg().await, ServerMessage::PushAck { head: 3 });
    assert_eq!(b.events().await, (first.clone(), 3, false));

    // b pushes on top: a sees it live.
    let second = batch(4, 2, "b");
    assert_eq!(b.push_answer(second.clone()).await, ServerMessage::PushAck { head: 5 });
    assert_eq!(a.events().await, (second.clone(), 5, false));

    // A third client pulls (not live) everything.
    let (mut c, welcome) = Client::hello(&url, "todos", "c", None).await;
    assert_eq!(head_of(&welcome), 5);
    let all: Vec<_> = first.iter().chain(&second).cloned().collect();
    assert_eq!(c.pull(0, None).await, (all.clone(), 5, false));
    assert_eq!(c.pull(3, None).await, (second, 5, false));
    assert_eq!(c.pull(5, None).await, (vec![], 5, false));

    // Another store is separate.
    let (mut other, welcome) = Client::hello(&url, "other", "a", None).await;
    assert_eq!(head_of(&welcome), 0);
    assert_eq!(other.push(batch(1, 1, "a")).await, ServerMessage::PushAck { head: 1 });
    assert_eq!(c.pull(0, None).await.0, all, "a push to another store is not seen here");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn compare_and_append_rejects_and_the_retry_after_pull_succeeds() {
    let server = start_memory().await;
    let url = server.url();
    let (mut a, _) = Client::hello(&url, "s", "a", None).await;
    let (mut b, _) = Client::hello(&url, "s", "b", None).await;
    assert_eq!(a.push(batch(1, 2, "a")).await, ServerMessage::PushAck { head: 2 });
    // b had not seen a's events: its batch starts at 1.
    let mine = batch(1, 3, "b");
    assert_eq!(b.push(mine.clone()).await, ServerMessage::PushRejected { head: 2 });
    // Too far ahead is rejected as well.
    assert_eq!(b.push(batch(5, 1, "b")).await, ServerMessage::PushRejected { head: 2 });
    // Pull, rebase (renumber on top of the head), push again.
    let (theirs, head, more) = b.pull(0, None).await;
    assert_eq!((globals(&theirs), head, more), (vec![1, 2], 2, false));
    let rebased: Vec<_> = mine
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let mut e = e.clone();
            e.seq_num.global = head + 1 + i as u64;
            e.parent_seq_num.global = head + i as u64;
            e.seq_num.rebase_generation = 1;
            e.parent_seq_num.rebase_generation = if i == 0 { 0 } else { 1 };
            e
        })
        .collect();
    assert_eq!(b.push(rebased.clone()).await, ServerMessage::PushAck { head: 5 });
    let all = a.pull_all(0).await;
    assert_eq!(globals(&all), vec![1, 2, 3, 4, 5]);
    assert_eq!(all[2..], rebased[..], "stored as pushed (rebase generation included)");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn on_a_live_connection_a_rejection_comes_after_the_events_it_missed() {
    let server = start_memory().await;
    let url = server.url();
    let (mut a, _) = Client::hello(&url, "s", "a", None).await;
    let (mut b, _) = Client::hello(&url, "s", "b", None).await;
    b.send(&ClientMessage::Pull { after: 0, limit: None, live: true }).await;
    assert_eq!(b.events().await.1, 0);
    assert_eq!(a.push(batch(1, 2, "a")).await, ServerMessage::PushAck { head: 2 });
    // b pushes without having read the live events: they come first.
    b.send(&ClientMessage::Push { batch: batch(1, 1, "b") }).await;
    let (events, head, _) = b.events().await;
    assert_eq!((globals(&events), head), (vec![1, 2], 2));
    assert_eq!(b.msg().await, ServerMessage::PushRejected { head: 2 });
    // So it can rebase at once.
    b.send(&ClientMessage::Push { batch: batch(3, 1, "b") }).await;
    assert_eq!(globals(&b.events().await.0), vec![3]);
    assert_eq!(b.msg().await, ServerMessage::PushAck { head: 3 });
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn pull_pages_with_limit_and_more() {
    let mut cfg = config();
    cfg.max_pull_limit = 12;
    let server = start(cfg, Arc::new(MemoryStorage::new())).await;
    let url = server.url();
    let (mut a, _) = Client::hello(&url, "s", "a", None).await;
    let mut pushed = Vec::new();
    for from in (1..=25).step_by(5) {
        let b = batch(from, 5, "a");
        pushed.extend(b.clone());
        assert_eq!(a.push(b).await, ServerMessage::PushAck { head: from + 4 });
    }
    let (page, head, more) = a.pull(0, Some(10)).await;
    assert_eq!((globals(&page), head, more), ((1..=10).collect(), 25, true));
    let (page, _, more) = a.pull(10, Some(10)).await;
    assert_eq!((globals(&page), more), ((11..=20).collect(), true));
    let (page, _, more) = a.pull(20, Some(10)).await;
    assert_eq!((globals(&page), more), ((21..=25).collect(), false));
    // Without a limit, or above the server's maximum: pages of max_pull_limit.
    let (page, _, more) = a.pull(0, None).await;
    assert_eq!((page.len(), more), (12, true));
    let (page, _, more) = a.pull(0, Some(1000)).await;
    assert_eq!((page.len(), more), (12, true));
    let (page, _, more) = a.pull(0, Some(0)).await;
    assert_eq!((page.len(), more), (1, true), "limit 0 is read as 1");
    assert_eq!(a.pull_all(0).await, pushed);

    // A live pull catches up page by page, then streams.
    let (mut b, _) = Client::hello(&url, "s", "b", None).await;
    b.send(&ClientMessage::Pull { after: 3, limit: Some(10), live: true }).await;
    let mut seen = Vec::new();
    loop {
        let (events, head, more) = b.events().await;
        assert_eq!(head, 25);
        seen.extend(globals(&events));
        if !more {
            break;
        }
    }
    assert_eq!(seen, (4..=25).collect::<Vec<_>>());
    assert_eq!(a.push(batch(26, 1, "a")).await, ServerMessage::PushAck { head: 26 });
    assert_eq!(globals(&b.events().await.0), vec![26]);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn pages_are_cut_to_the_message_size_limit() {
    let mut cfg = config();
    cfg.max_message_bytes = 4096;
    let server = start(cfg, Arc::new(MemoryStorage::new())).await;
    let url = server.url();
    let (mut a, _) = Client::hello(&url, "s", "a", None).await;
    let mut big = batch(1, 3, "a");
    for e in &mut big {
        e.args = serde_json::json!({ "text": "y".repeat(1500) }).into();
    }
    for e in big.clone() {
        let g = e.seq_num.global;
        assert_eq!(a.push(vec![e]).await, ServerMessage::PushAck { head: g });
    }
    let (page, head, more) = a.pull(0, None).await;
    assert_eq!((globals(&page), head, more), (vec![1, 2], 3, true));
    assert_eq!(a.pull_all(0).await, big);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn backend_id_is_stable_across_restarts_and_new_after_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("data/sync.db");
    let start_sqlite = || async { start(config(), Arc::new(SqliteStorage::open(&path).unwrap())).await };

    let server = start_sqlite().await;
    let (mut a, welcome) = Client::hello(&server.url(), "s", "a", None).await;
    let id = backend_of(&welcome);
    assert_eq!(id.len(), 32);
    assert_eq!(a.push(batch(1, 4, "a")).await, ServerMessage::PushAck { head: 4 });
    server.shutdown().await.unwrap();
    assert_eq!(a.closed(close::GOING_AWAY).await, "server shutting down");

    let server = start_sqlite().await;
    let (mut a, welcome) = Client::hello(&server.url(), "s", "a", None).await;
    assert_eq!((backend_of(&welcome), head_of(&welcome)), (id.clone(), 4));
    assert_eq!(a.pull_all(0).await, batch(1, 4, "a"));
    server.shutdown().await.unwrap();

    // A second process (here: a second open) cannot use the file while it is open.
    let held = SqliteStorage::open(&path).unwrap();
    let err = SqliteStorage::open(&path).err().expect("the file is locked").to_string();
    assert!(err.contains("in use by another server process"), "{err}");
    held.reset().unwrap();
    assert_ne!(held.backend_id(), id);
    drop(held);

    let server = start_sqlite().await;
    let (_, welcome) = Client::hello(&server.url(), "s", "a", None).await;
    assert_ne!(backend_of(&welcome), id, "a reset server has a new backend id");
    assert_eq!(head_of(&welcome), 0);
    server.shutdown().await.unwrap();
}

/// The `Storage` contract, on both implementations.
#[test]
fn storages_keep_one_order_per_store() {
    let dir = tempfile::tempdir().unwrap();
    let storages: Vec<Box<dyn Storage>> =
        vec![Box::new(MemoryStorage::new()), Box::new(SqliteStorage::open(dir.path().join("s.db")).unwrap())];
    for s in storages {
        let id = s.backend_id();
        assert_eq!(s.head("x").unwrap(), 0);
        assert_eq!(s.append_if_head("x", 0, &batch(1, 3, "a")).unwrap(), Append::Appended { head: 3 });
        assert_eq!(s.append_if_head("x", 0, &batch(1, 1, "b")).unwrap(), Append::Rejected { head: 3 });
        assert_eq!(s.append_if_head("y", 0, &batch(1, 1, "b")).unwrap(), Append::Appended { head: 1 });
        assert_eq!(s.head("x").unwrap(), 3);
        assert_eq!(s.read("x", 0, 100).unwrap(), batch(1, 3, "a"));
        assert_eq!(s.read("x", 1, 1).unwrap(), batch(2, 1, "a"));
        assert_eq!(s.read("x", 3, 10).unwrap(), vec![]);
        assert_eq!(s.read("nope", 0, 10).unwrap(), vec![]);
        assert_eq!(s.backend_id(), id);
        s.reset().unwrap();
        assert_ne!(s.backend_id(), id, "{}", s.describe());
        assert_eq!((s.head("x").unwrap(), s.head("y").unwrap()), (0, 0));
    }
}

#[tokio::test]
async fn shutdown_finishes_the_push_in_flight_then_closes_with_going_away() {
    let (entered_tx, entered_rx) = std::sync::mpsc::channel::<()>();
    let entered_tx = std::sync::Mutex::new(entered_tx);
    // A slow validation hook stands for a slow write in flight.
    let validator = move |_: &livestore_rs_server::PushContext<'_>, e: &livestore_rs::EventRecord| {
        if e.name == "slow" {
            let _ = entered_tx.lock().unwrap().send(());
            std::thread::sleep(Duration::from_millis(300));
        }
        Ok(())
    };
    let storage = Arc::new(MemoryStorage::new());
    let server = Server::new(config(), storage.clone()).validator(validator).bind().await.unwrap();
    let (mut a, _) = Client::hello(&server.url(), "s", "a", None).await;
    let (mut idle, _) = Client::hello(&server.url(), "s", "idle", None).await;
    let mut slow = batch(1, 2, "a");
    slow[0].name = "slow".into();
    a.send(&ClientMessage::Push { batch: slow.clone() }).await;
    tokio::task::spawn_blocking(move || entered_rx.recv().unwrap()).await.unwrap();
    let stopping = tokio::spawn(server.shutdown());
    assert_eq!(a.msg().await, ServerMessage::PushAck { head: 2 });
    assert_eq!(a.closed(close::GOING_AWAY).await, "server shutting down");
    assert_eq!(idle.closed(close::GOING_AWAY).await, "server shutting down");
    stopping.await.unwrap().unwrap();
    assert_eq!(storage.read("s", 0, 10).unwrap(), slow);
}

#[tokio::test]
async fn a_live_clients_pushes_are_acknowledged_without_waiting_for_a_delayed_ack() {
    // On a live connection each push is answered with two small writes (the
    // `events` echo, then `pushAck`). With Nagle's algorithm on the server's
    // socket the second one waits for the client's delayed ACK (~40 ms on
    // Linux): one push per 40 ms at best for a client with one push in flight.
    let server = start_memory().await;
    let (mut a, _) = Client::hello(&server.url(), "s", "a", None).await;
    a.send(&ClientMessage::Pull { after: 0, limit: None, live: true }).await;
    assert_eq!(a.events().await, (vec![], 0, false));
    let n = 20u64;
    let started = std::time::Instant::now();
    for g in 1..=n {
        assert_eq!(a.push_answer(batch(g, 1, "a")).await, ServerMessage::PushAck { head: g });
    }
    let per_push = started.elapsed() / n as u32;
    assert!(
        per_push < Duration::from_millis(20),
        "{per_push:?} per push: acknowledgments are held back (TCP_NODELAY?)"
    );
    server.shutdown().await.unwrap();
}
