//! 5,000 single-event commits, for instruction counts under callgrind:
//! `valgrind --tool=callgrind target/release/examples/profile_commit`.

#[path = "../tests/common/mod.rs"]
mod common;

use serde_json::json;

fn main() {
    let mut s = common::session();
    for i in 0..5_000 {
        let e = livestore_rs::EventInput::new("v1.TodoCreated", json!({ "id": format!("t{i}"), "text": "x" }));
        s.commit(&[e], &common::materialize).unwrap();
        s.refresh().unwrap();
    }
}
