//! Native micro-benchmarks of the core: `cargo bench --bench core`.
//! Commit, rollback + re-apply of 1,000 pending events (a rebase), and
//! replay of 100,000 events.

#[path = "../tests/common/mod.rs"]
mod common;

use common::{materialize, session};
use livestore_rs::EventInput;
use serde_json::json;
use std::time::{Duration, Instant};

fn created(i: usize) -> EventInput {
    EventInput::new("v1.TodoCreated", json!({ "id": format!("todo-{i}"), "text": format!("Task {i}") }))
}

fn report(name: &str, total: Duration, count: usize) {
    let per = total.as_secs_f64() * 1e6 / count as f64;
    println!("{name:<44} {:>10.2} ms total {per:>9.2} µs/event", total.as_secs_f64() * 1e3);
}

fn main() {
    // Commit: 100,000 single-event commits; first vs last 10,000 show whether cost grows.
    let mut s = session();
    let mut chunks = Vec::new();
    for chunk in 0..10 {
        let start = Instant::now();
        for i in chunk * 10_000..(chunk + 1) * 10_000 {
            s.commit(&[created(i)], &materialize).unwrap();
            s.refresh().unwrap();
        }
        chunks.push(start.elapsed());
    }
    report("commit, events 1..10,000", chunks[0], 10_000);
    report("commit, events 90,001..100,000", chunks[9], 10_000);

    // Rebase: roll back 1,000 pending events and re-apply them on top.
    let start = Instant::now();
    let undone = s.rollback(1_000).unwrap();
    let rolled = start.elapsed();
    let inputs: Vec<EventInput> = undone.iter().map(|r| r.input()).collect();
    let start = Instant::now();
    s.commit(&inputs, &materialize).unwrap();
    let reapplied = start.elapsed();
    report("rollback of 1,000 pending events", rolled, 1_000);
    report("re-apply of 1,000 events (one commit)", reapplied, 1_000);

    // Replay: rebuild the state from the 100,000-event log.
    let start = Instant::now();
    s.rebuild(&materialize).unwrap();
    report("replay of 100,000 events", start.elapsed(), 100_000);
}
