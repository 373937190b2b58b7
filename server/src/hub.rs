//! The stores as the running server sees them: each store's head, its
//! appends (one at a time, in the order they reach the store's lock), and its
//! live subscribers, which get every appended batch after it is durable.
//!
//! Fan-out never waits for a subscriber: each has a bounded queue, and one
//! whose queue is full is dropped and flagged as lagging (its connection then
//! closes with `LAGGING`).

use crate::storage::{Append, Storage, StorageError};
use axum::extract::ws::Utf8Bytes;
use livestore_rs::EventRecord;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

type Result<T> = std::result::Result<T, StorageError>;

/// A live subscription as its connection holds it.
pub(crate) struct Live {
    pub rx: mpsc::Receiver<Utf8Bytes>,
    /// Set when the hub dropped this subscriber because its queue was full.
    pub lagged: Arc<AtomicBool>,
}

struct Subscriber {
    tx: mpsc::Sender<Utf8Bytes>,
    lagged: Arc<AtomicBool>,
}

struct StoreState {
    /// The global number of the last appended (durable and fanned-out) event.
    head: u64,
    subscribers: Vec<Subscriber>,
}

/// `None` until first used: then loaded from storage under the lock.
type Slot = tokio::sync::Mutex<Option<StoreState>>;

pub(crate) struct Hub {
    storage: Arc<dyn Storage>,
    stores: Mutex<HashMap<String, Arc<Slot>>>,
}

impl Hub {
    pub fn new(storage: Arc<dyn Storage>) -> Hub {
        Hub { storage, stores: Mutex::new(HashMap::new()) }
    }

    /// Runs `f` on a blocking thread (storage calls may wait on the disk).
    pub async fn blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&dyn Storage) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        let storage = self.storage.clone();
        tokio::task::spawn_blocking(move || f(&*storage))
            .await
            .map_err(|e| StorageError::Other(format!("storage task failed: {e}")))?
    }

    fn slot(&self, store_id: &str) -> Arc<Slot> {
        let mut stores = self.stores.lock().unwrap_or_else(|e| e.into_inner());
        stores.entry(store_id.to_string()).or_default().clone()
    }

    async fn load<'a>(&self, state: &'a mut Option<StoreState>, store_id: &str) -> Result<&'a mut StoreState> {
        if state.is_none() {
            let id = store_id.to_string();
            let head = self.blocking(move |s| s.head(&id)).await?;
            *state = Some(StoreState { head, subscribers: Vec::new() });
        }
        Ok(state.as_mut().expect("loaded"))
    }

    /// The store's head.
    pub async fn head(&self, store_id: &str) -> Result<u64> {
        let slot = self.slot(store_id);
        let mut guard = slot.lock().await;
        Ok(self.load(&mut guard, store_id).await?.head)
    }

    /// Compare-and-append `batch` (checked contiguous by the caller), then
    /// fan it out to the live subscribers, encoded by `encode(batch, head)`.
    pub async fn push(
        &self,
        store_id: &str,
        batch: Vec<EventRecord>,
        encode: impl FnOnce(&[EventRecord], u64) -> String,
    ) -> Result<Append> {
        let slot = self.slot(store_id);
        let mut guard = slot.lock().await;
        let state = self.load(&mut guard, store_id).await?;
        let expected = state.head;
        if batch[0].seq_num.global != expected + 1 {
            return Ok(Append::Rejected { head: expected });
        }
        let id = store_id.to_string();
        let result = self
            .blocking(move |s| {
                let r = s.append_if_head(&id, expected, &batch);
                r.map(|r| (r, batch))
            })
            .await;
        let (append, batch) = match result {
            Ok(ok) => ok,
            Err(e) => {
                // The outcome is unknown (e.g. the disk failed mid-commit):
                // read the head again next time.
                *guard = None;
                return Err(e);
            }
        };
        match append {
            Append::Appended { head } => {
                state.head = head;
                let text = Utf8Bytes::from(encode(&batch, head));
                state.subscribers.retain(|sub| match sub.tx.try_send(text.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        sub.lagged.store(true, Ordering::SeqCst);
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                });
            }
            // Only if something else wrote to the storage; believe it.
            Append::Rejected { head } => state.head = head,
        }
        Ok(append)
    }

    /// Subscribes to the store's appends: every batch appended after the
    /// returned head is queued on the returned `Live` (at most `queue`
    /// messages).
    pub async fn subscribe(&self, store_id: &str, queue: usize) -> Result<(u64, Live)> {
        let slot = self.slot(store_id);
        let mut guard = slot.lock().await;
        let state = self.load(&mut guard, store_id).await?;
        let (tx, rx) = mpsc::channel(queue);
        let lagged = Arc::new(AtomicBool::new(false));
        state.subscribers.retain(|s| !s.tx.is_closed());
        state.subscribers.push(Subscriber { tx, lagged: lagged.clone() });
        Ok((state.head, Live { rx, lagged }))
    }
}
