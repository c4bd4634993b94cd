//! Decodes and encodes each stored change once for every watcher that receives it.
//!
//! A write fans out to every watcher of its prefix within microseconds of each other; without
//! this cache each watcher parses the stored JSON and serializes its event line again, which
//! made 100 watchers cost more than the write itself (the role of kube-apiserver's cacher).

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use serde_json::{json, Value};

use ferry_api::ApiError;
use ferry_store::KeyValue;

use crate::rest::decode_stored;

/// How many decoded versions are kept; bursts from one write to all watchers hit well within.
const CAPACITY: usize = 4096;

/// A watch event's type, as it appears on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn wire_name(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One version of one object, decoded, with its JSON event lines made on first use.
pub(crate) struct CachedObject {
    pub object: Value,
    lines: [OnceLock<Bytes>; 3],
}

impl CachedObject {
    fn new(object: Value) -> Self {
        CachedObject {
            object,
            lines: Default::default(),
        }
    }

    /// An object from a list (a watch's initial events), not shared with other watchers.
    pub fn from_listed(object: Value) -> Self {
        Self::new(object)
    }

    /// `{"type":"MODIFIED","object":{...}}\n`, encoded once.
    pub fn json_line(&self, event: EventType) -> Bytes {
        self.lines[event.index()]
            .get_or_init(|| event_line(event.wire_name(), &self.object))
            .clone()
    }
}

/// A watch event line for any object (also Status errors and bookmarks).
pub(crate) fn event_line(kind: &str, object: &Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

#[derive(Default)]
struct Lru {
    map: HashMap<(String, i64), Arc<CachedObject>>,
    order: VecDeque<(String, i64)>,
}

/// The shared cache of decoded object versions, keyed by key and revision.
#[derive(Default)]
pub(crate) struct EventCache {
    inner: Mutex<Lru>,
}

impl EventCache {
    /// The decoded form of `kv`, from the cache or decoded now and remembered.
    pub fn get(&self, kv: &KeyValue) -> Result<Arc<CachedObject>, ApiError> {
        let id = (kv.key.clone(), kv.mod_revision);
        if let Some(hit) = self.lock().map.get(&id) {
            return Ok(hit.clone());
        }
        // Decoding happens outside the lock; two watchers racing on a miss both decode, and
        // the second insert simply replaces the first.
        let decoded = Arc::new(CachedObject::new(decode_stored(kv)?));
        let mut lru = self.lock();
        if lru.map.insert(id.clone(), decoded.clone()).is_none() {
            lru.order.push_back(id);
        }
        while lru.order.len() > CAPACITY {
            if let Some(old) = lru.order.pop_front() {
                lru.map.remove(&old);
            }
        }
        Ok(decoded)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Lru> {
        // The map holds only immutable decoded values; a panic elsewhere cannot leave it torn.
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kv(key: &str, rev: i64) -> KeyValue {
        KeyValue {
            key: key.to_string(),
            value: Bytes::from_static(
                br#"{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a"}}"#,
            ),
            create_revision: rev,
            mod_revision: rev,
            version: 1,
        }
    }

    #[test]
    fn one_decode_per_version_and_stamped_resource_version() {
        let cache = EventCache::default();
        let a = cache
            .get(&kv("/registry/configmaps/default/a", 7))
            .expect("decode");
        let b = cache
            .get(&kv("/registry/configmaps/default/a", 7))
            .expect("decode");
        assert!(Arc::ptr_eq(&a, &b));
        assert_eq!(a.object["metadata"]["resourceVersion"], "7");
        let line = a.json_line(EventType::Added);
        assert!(line.starts_with(br#"{"type":"ADDED","object":{"#) && line.ends_with(b"}\n"));
        let c = cache
            .get(&kv("/registry/configmaps/default/a", 8))
            .expect("decode");
        assert!(!Arc::ptr_eq(&a, &c));
    }
}
