//! Auth (shared-secret tokens) and the event validation hook.

mod common;

use common::*;
use livestore_rs::protocol::{close, ClientMessage, ErrorCode, ServerMessage};
use livestore_rs::EventRecord;
use livestore_rs_server::{mint_token, Claims, MemoryStorage, PushContext, Server, SharedSecretAuth, Storage};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

const SECRET: &str = "a test secret of enough length";

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn token(store: &str, exp: Option<u64>) -> String {
    mint_token(SECRET.as_bytes(), &Claims { store_id: store.into(), exp })
}

#[tokio::test]
async fn tokens_are_checked_on_hello() {
    let storage = Arc::new(MemoryStorage::new());
    let auth = SharedSecretAuth::new(SECRET).unwrap();
    let server = Server::new(config(), storage).auth(auth).bind().await.unwrap();
    let url = server.url();

    let refused = |token: Option<String>, store: &'static str| {
        let url = url.clone();
        async move {
            let mut c = Client::connect(&url).await;
            c.send(&hello(store, "c", token.as_deref())).await;
            let code = match c.msg().await {
                ServerMessage::Error { code, message, .. } => {
                    assert!(!message.is_empty());
                    code
                }
                other => panic!("expected an error, got {other:?}"),
            };
            let reason = c.closed(close::POLICY).await;
            (code, reason)
        }
    };
    assert_eq!(refused(None, "todos").await, (ErrorCode::Unauthorized, "unauthorized".into()), "missing");
    assert_eq!(refused(Some("nonsense".into()), "todos").await.0, ErrorCode::Unauthorized, "malformed");
    let forged = mint_token(b"some other secret, long enough", &Claims { store_id: "todos".into(), exp: None });
    assert_eq!(refused(Some(forged), "todos").await.0, ErrorCode::Unauthorized, "bad signature");
    let expired = token("todos", Some(now() - 10));
    assert_eq!(refused(Some(expired), "todos").await.0, ErrorCode::Unauthorized, "expired");
    assert_eq!(
        refused(Some(token("other", None)), "todos").await,
        (ErrorCode::StoreMismatch, "wrong store".into()),
        "token for another store"
    );

    // Good tokens (with and without expiry) are accepted.
    let (mut c, _) = Client::hello(&url, "todos", "c", Some(&token("todos", Some(now() + 3600)))).await;
    assert_eq!(c.push(batch(1, 1, "c")).await, ServerMessage::PushAck { head: 1 });
    let (mut d, welcome) = Client::hello(&url, "todos", "d", Some(&token("todos", None))).await;
    assert_eq!(head_of(&welcome), 1);
    // The connection is for its store only: a second hello for another store is refused.
    d.send(&hello("other", "d", Some(&token("other", None)))).await;
    d.error(ErrorCode::StoreMismatch).await;
    assert_eq!(d.pull(0, None).await.0, batch(1, 1, "c"));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn open_mode_accepts_any_token() {
    let server = start_memory().await;
    Client::hello(&server.url(), "s", "c", None).await;
    Client::hello(&server.url(), "s", "c", Some("anything")).await;
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rejected_event_reaches_the_pusher_and_nothing_of_its_batch_is_stored() {
    let validator = |ctx: &PushContext<'_>, e: &EventRecord| {
        assert_eq!(ctx.store_id, "s");
        if e.args.value().get("text").and_then(|t| t.as_str()) == Some("forbidden") {
            return Err(format!("'forbidden' is not allowed (client {})", ctx.client_id));
        }
        Ok(())
    };
    let storage = Arc::new(MemoryStorage::new());
    let server = Server::new(config(), storage.clone()).validator(validator).bind().await.unwrap();
    let url = server.url();
    let (mut a, _) = Client::hello(&url, "s", "a", None).await;
    let (mut watcher, _) = Client::hello(&url, "s", "w", None).await;
    watcher.send(&ClientMessage::Pull { after: 0, limit: None, live: true }).await;
    watcher.events().await;

    let mut bad = batch(1, 3, "a");
    bad[1].args = serde_json::json!({ "text": "forbidden" }).into();
    bad[1].name = "v1.TodoRenamed".into();
    a.send(&ClientMessage::Push { batch: bad }).await;
    match a.msg().await {
        ServerMessage::Error { code: ErrorCode::EventRejected, message, event, seq_num } => {
            assert_eq!(event.as_deref(), Some("v1.TodoRenamed"));
            assert_eq!(seq_num.unwrap().global, 2);
            assert!(message.contains("'forbidden' is not allowed (client a)"), "{message}");
            assert!(message.contains("e2"), "{message}");
        }
        other => panic!("expected EVENT_REJECTED, got {other:?}"),
    }
    assert_eq!(storage.head("s").unwrap(), 0, "nothing of the batch is stored");
    // The connection goes on; a good batch is accepted and fanned out.
    assert_eq!(a.push(batch(1, 2, "a")).await, ServerMessage::PushAck { head: 2 });
    assert_eq!(globals(&watcher.events().await.0), vec![1, 2], "the watcher saw only the good batch");
    server.shutdown().await.unwrap();
}
