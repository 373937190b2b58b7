//! Property tests on random event sequences: rolling back any suffix gives
//! the state of the prefix alone; replaying the eventlog gives the live state.
#![cfg(not(target_arch = "wasm32"))]

mod common;

use common::{materialize, session};
use livestore_rs::EventInput;
use proptest::prelude::*;
use serde_json::json;

fn event() -> impl Strategy<Value = EventInput> {
    let id = prop::sample::select(vec!["a", "b", "c", "d"]);
    prop_oneof![
        (id.clone(), "[a-z]{0,3}")
            .prop_map(|(id, t)| EventInput::new("v1.TodoCreated", json!({ "id": id, "text": t }))),
        id.clone().prop_map(|id| EventInput::new("v1.TodoCompleted", json!({ "id": id }))),
        (id.clone(), "[a-z]{0,3}")
            .prop_map(|(id, t)| EventInput::new("v1.TodoRenamed", json!({ "id": id, "text": t }))),
        id.clone().prop_map(|id| EventInput::new("v1.TodoDeleted", json!({ "id": id }))),
        id.clone().prop_map(|id| EventInput::new("v1.Noted", json!({ "id": id }))),
        (0i64..1000).prop_map(|t| EventInput::new("v1.TodoClearedCompleted", json!({ "deletedAt": t }))),
        (prop::sample::select(vec!["all", "active"]), "[a-z]{0,2}").prop_map(|(f, t)| {
            EventInput::new("uiStateSet", json!({ "id": "__session__", "value": { "filter": f, "newTodoText": t } }))
        }),
    ]
}

/// Commits each event alone (some fail, e.g. a duplicate id, and are skipped);
/// returns the accepted ones.
fn commit_all(s: &mut livestore_rs::Session, events: &[EventInput]) -> Vec<EventInput> {
    events.iter().filter(|e| s.commit(std::slice::from_ref(*e), &materialize).is_ok()).cloned().collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn rollback_of_any_suffix_equals_the_prefix(events in prop::collection::vec(event(), 0..40), cut in 0usize..40) {
        let mut live = session();
        let accepted = commit_all(&mut live, &events);
        let keep = cut.min(accepted.len());

        let mut prefix = session();
        prop_assert_eq!(commit_all(&mut prefix, &accepted[..keep]).len(), keep);

        let undone = live.rollback(accepted.len() - keep).unwrap();
        prop_assert_eq!(live.db().unwrap().dump().unwrap(), prefix.db().unwrap().dump().unwrap());
        prop_assert_eq!(live.head(), prefix.head());

        // Re-applying the undone events restores the full state.
        let mut full = session();
        commit_all(&mut full, &accepted);
        let inputs: Vec<EventInput> = undone.iter().map(|r| r.input()).collect();
        live.commit(&inputs, &materialize).unwrap();
        prop_assert_eq!(live.db().unwrap().dump().unwrap(), full.db().unwrap().dump().unwrap());
    }

    #[test]
    fn replaying_the_eventlog_equals_the_live_state(events in prop::collection::vec(event(), 0..40)) {
        let mut s = session();
        commit_all(&mut s, &events);
        let live = s.db().unwrap().dump().unwrap();
        s.rebuild(&materialize).unwrap();
        prop_assert_eq!(s.db().unwrap().dump().unwrap(), live);
    }
}
