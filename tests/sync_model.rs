//! Model test of push/pull with rebase: sessions commit at random, push to
//! an upstream that accepts a batch only on top of its head, and pull (with
//! rebase) in random order. At the end every session holds the upstream's
//! eventlog and the same state as a fresh replay of it.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{materialize, todo_schema};
use livestore_rs::schema::Schema;
use livestore_rs::{EventInput, EventRecord, SeqNum, Session, SessionOptions};
use proptest::prelude::*;
use serde_json::json;

/// The upstream: one total order, compare-and-append on its head.
#[derive(Default)]
struct Upstream {
    log: Vec<EventRecord>,
}

impl Upstream {
    fn head(&self) -> SeqNum {
        self.log.last().map_or(SeqNum::ROOT, |e| e.seq_num)
    }

    fn push(&mut self, batch: &[EventRecord]) -> bool {
        match batch.first() {
            Some(first) if first.parent_seq_num == self.head() => {
                self.log.extend_from_slice(batch);
                true
            }
            _ => false,
        }
    }

    fn after(&self, seq: SeqNum) -> Vec<EventRecord> {
        self.log.iter().filter(|e| e.seq_num > seq).cloned().collect()
    }
}

fn session(i: usize) -> Session {
    let options =
        SessionOptions { store_id: "s".into(), client_id: format!("client{i}"), session_id: format!("tab{i}") };
    Session::new(Schema::new(todo_schema()).unwrap(), options).unwrap()
}

#[derive(Debug, Clone)]
enum Step {
    Commit(usize, EventInput),
    Push(usize),
    Pull(usize),
}

fn event() -> impl Strategy<Value = EventInput> {
    let id = prop::sample::select(vec!["a", "b", "c"]);
    prop_oneof![
        (id.clone(), "[a-z]{1,2}")
            .prop_map(|(id, t)| EventInput::new("v1.TodoCreated", json!({ "id": id, "text": t }))),
        id.clone().prop_map(|id| EventInput::new("v1.TodoCompleted", json!({ "id": id }))),
        (id.clone(), "[a-z]{1,2}")
            .prop_map(|(id, t)| EventInput::new("v1.TodoRenamed", json!({ "id": id, "text": t }))),
        id.clone().prop_map(|id| EventInput::new("v1.TodoDeleted", json!({ "id": id }))),
        id.prop_map(|id| EventInput::new("v1.Noted", json!({ "id": id }))),
    ]
}

fn step(sessions: usize) -> impl Strategy<Value = Step> {
    let who = 0..sessions;
    prop_oneof![
        3 => (who.clone(), event()).prop_map(|(s, e)| Step::Commit(s, e)),
        1 => who.clone().prop_map(Step::Push),
        1 => who.prop_map(Step::Pull),
    ]
}

fn push(s: &mut Session, up: &mut Upstream) {
    let pending: Vec<EventRecord> = s.pending().cloned().collect();
    if !pending.is_empty() {
        up.push(&pending);
    }
}

fn pull(s: &mut Session, up: &Upstream) {
    let new = up.after(s.upstream_head());
    s.pull(&new, &materialize).unwrap();
    s.refresh().unwrap();
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(150))]

    #[test]
    fn sessions_converge(steps in prop::collection::vec(step(3), 0..60)) {
        let mut up = Upstream::default();
        let mut sessions: Vec<Session> = (0..3).map(session).collect();
        for st in steps {
            match st {
                Step::Commit(i, e) => { let _ = sessions[i].commit(&[e], &materialize); }
                Step::Push(i) => push(&mut sessions[i], &mut up),
                Step::Pull(i) => pull(&mut sessions[i], &up),
            }
        }
        // Settle: each in turn pulls and pushes until nothing is pending.
        for _ in 0..4 {
            for s in sessions.iter_mut() {
                pull(s, &up);
                push(s, &mut up);
            }
        }
        for s in sessions.iter_mut() {
            pull(s, &up);
            prop_assert_eq!(s.pending().len(), 0);
        }
        let mut fresh = session(9);
        pull(&mut fresh, &up);
        let expected = fresh.db().unwrap().dump().unwrap();
        for s in &sessions {
            prop_assert_eq!(s.eventlog().cloned().collect::<Vec<_>>(), up.log.clone());
            prop_assert_eq!(s.db().unwrap().dump().unwrap(), expected.clone());
        }
    }
}

#[test]
fn a_rebase_renumbers_pending_events_on_top_of_upstream() {
    let mut up = Upstream::default();
    let (mut a, mut b) = (session(1), session(2));
    let created = |id: &str| EventInput::new("v1.TodoCreated", json!({ "id": id, "text": id }));
    a.commit(&[created("a")], &materialize).unwrap();
    b.commit(&[created("b")], &materialize).unwrap();
    push(&mut a, &mut up);
    push(&mut b, &mut up); // rejected: b's e1 is not on top of upstream's e1
    assert_eq!(up.log.len(), 1);

    let new = up.after(b.upstream_head());
    let pulled = b.pull(&new, &materialize).unwrap();
    assert!(pulled.rebased);
    let pending: Vec<EventRecord> = b.pending().cloned().collect();
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0].seq_num.to_string(), "e2r1");
    assert_eq!(pending[0].parent_seq_num.to_string(), "e1");
    push(&mut b, &mut up);
    assert_eq!(up.log.len(), 2);

    // a's own event comes back confirmed, then b's is applied: no rebase.
    let new = up.after(a.upstream_head());
    let pulled = a.pull(&new, &materialize).unwrap();
    assert_eq!((pulled.confirmed, pulled.rebased), (1, false));
    assert_eq!(a.db().unwrap().dump().unwrap(), b.db().unwrap().dump().unwrap());
    // Confirmed events cannot be rolled back.
    assert_eq!(a.rollback(1).unwrap_err().code(), "ROLLBACK_FAILED");
}
