use super::{new_backend_id, Append, Result, Storage};
use livestore_rs::EventRecord;
use std::collections::HashMap;
use std::sync::Mutex;

/// Everything in memory: gone when the process ends (each new instance has a
/// new backend id, as a reset server would).
pub struct MemoryStorage {
    inner: Mutex<Inner>,
}

struct Inner {
    backend_id: String,
    stores: HashMap<String, Vec<EventRecord>>,
}

impl MemoryStorage {
    pub fn new() -> MemoryStorage {
        MemoryStorage { inner: Mutex::new(Inner { backend_id: new_backend_id(), stores: HashMap::new() }) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-appended batch
        // (the append is one `extend`), so a poisoned lock is still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Default for MemoryStorage {
    fn default() -> Self {
        MemoryStorage::new()
    }
}

fn head_of(log: Option<&Vec<EventRecord>>) -> u64 {
    log.and_then(|l| l.last()).map_or(0, |e| e.seq_num.global)
}

impl Storage for MemoryStorage {
    fn backend_id(&self) -> String {
        self.lock().backend_id.clone()
    }

    fn head(&self, store_id: &str) -> Result<u64> {
        Ok(head_of(self.lock().stores.get(store_id)))
    }

    fn append_if_head(&self, store_id: &str, expected_head: u64, batch: &[EventRecord]) -> Result<Append> {
        let mut inner = self.lock();
        let head = head_of(inner.stores.get(store_id));
        if head != expected_head {
            return Ok(Append::Rejected { head });
        }
        let log = inner.stores.entry(store_id.to_string()).or_default();
        log.extend(batch.iter().map(|e| EventRecord { client_only: false, ..e.clone() }));
        Ok(Append::Appended { head: head_of(Some(log)) })
    }

    fn read(&self, store_id: &str, after: u64, limit: usize) -> Result<Vec<EventRecord>> {
        let inner = self.lock();
        let Some(log) = inner.stores.get(store_id) else { return Ok(Vec::new()) };
        // Globals are contiguous from 1, so event `g` is at index `g - 1`.
        let start = usize::try_from(after).unwrap_or(usize::MAX).min(log.len());
        Ok(log[start..].iter().take(limit).cloned().collect())
    }

    fn reset(&self) -> Result<()> {
        let mut inner = self.lock();
        inner.stores.clear();
        inner.backend_id = new_backend_id();
        Ok(())
    }

    fn describe(&self) -> String {
        "memory (nothing is kept when the server stops)".into()
    }
}
