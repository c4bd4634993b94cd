//! Watch streams: one JSON event per line, ADDED/MODIFIED/DELETED (and BOOKMARK when asked),
//! filtered by selectors, as objects or one-row Tables, open until the client leaves or the
//! timeout passes.

use std::time::Duration;

use bytes::Bytes;
use http::Response;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use ferry_api::ApiError;
use ferry_store::{EventKind, StoreError};

use crate::context::Ctx;
use crate::event_cache::{event_line, CachedObject, EventType};
use crate::object::{self, collection_prefix};
use crate::request::Format;
use crate::response::{self, Body};
use crate::rest::{decode_stored, table_row, Selectors};
use crate::ApiServer;

/// How long a watch without `timeoutSeconds` stays open (kube-apiserver: 30–60 minutes).
const DEFAULT_WATCH_SECONDS: u64 = 45 * 60;
/// How often a bookmark goes out when the client allows them.
const BOOKMARK_INTERVAL: Duration = Duration::from_secs(60);

pub(crate) async fn watch(srv: &ApiServer, ctx: Ctx) -> Result<Response<Body>, ApiError> {
    let selectors = Selectors::from_ctx(&ctx)?;
    let prefix = collection_prefix(ctx.info, ctx.namespace());
    let requested = ctx.query.get("resourceVersion").unwrap_or("");
    let mut initial = Vec::new();
    let start = match requested {
        "" | "0" => {
            let listed = srv
                .store
                .list(&prefix, None)
                .await
                .map_err(ApiError::internal)?;
            for kv in &listed.kvs {
                let object = decode_stored(kv)?;
                if selectors.matches(&ctx, &object) {
                    initial.push(object);
                }
            }
            listed.revision + 1
        }
        rv => {
            let rv: i64 = rv
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version: {rv}")))?;
            rv + 1
        }
    };
    let (tx, resp) = response::streamed("application/json");
    let stream = match srv.store.watch(&prefix, start).await {
        Ok(s) => s,
        Err(StoreError::Compacted {
            requested,
            compacted,
        }) => {
            let status = ApiError::expired(format!(
                "too old resource version: {} ({compacted})",
                requested - 1
            ));
            let line = event_line("ERROR", &status.to_status());
            let _ = tx.send(line).await;
            return Ok(resp);
        }
        Err(e) => return Err(ApiError::internal(e)),
    };
    let timeout = ctx
        .query
        .get("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(DEFAULT_WATCH_SECONDS);
    let task = Watcher {
        ctx,
        selectors,
        tx,
        first_table: true,
        last_revision: start - 1,
        cache: srv.event_cache.clone(),
    };
    tokio::spawn(task.run(initial, stream, Duration::from_secs(timeout)));
    Ok(resp)
}

struct Watcher {
    ctx: Ctx,
    selectors: Selectors,
    tx: mpsc::Sender<Bytes>,
    first_table: bool,
    last_revision: i64,
    cache: std::sync::Arc<crate::event_cache::EventCache>,
}

impl Watcher {
    async fn run(mut self, initial: Vec<Value>, mut stream: ferry_store::Watch, timeout: Duration) {
        for object in initial {
            let cached = CachedObject::from_listed(object);
            if !self.send(EventType::Added, &cached).await {
                return;
            }
        }
        let bookmarks = self.ctx.query.flag("allowWatchBookmarks");
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        let mut ticker = tokio::time::interval(BOOKMARK_INTERVAL);
        ticker.tick().await;
        loop {
            tokio::select! {
                _ = &mut deadline => return,
                _ = self.tx.closed() => return,
                _ = ticker.tick(), if bookmarks => {
                    if !self.bookmark().await { return; }
                }
                next = stream.next() => match next {
                    None | Some(Err(_)) => return,
                    Some(Ok(event)) => {
                        if !self.forward(event).await { return; }
                    }
                },
            }
        }
    }

    /// Sends one store event, turning selector transitions into ADDED/DELETED as upstream does.
    async fn forward(&mut self, event: ferry_store::Event) -> bool {
        self.last_revision = event.revision();
        let Ok(current) = self.cache.get(&event.kv) else {
            return true;
        };
        if self.selectors.is_everything() {
            let kind = match (event.kind, event.prev.is_some()) {
                (EventKind::Delete, _) => EventType::Deleted,
                (EventKind::Put, true) => EventType::Modified,
                (EventKind::Put, false) => EventType::Added,
            };
            return self.send(kind, &current).await;
        }
        let previous = event.prev.as_ref().and_then(|p| self.cache.get(p).ok());
        let matched_before = previous
            .as_ref()
            .is_some_and(|p| self.selectors.matches(&self.ctx, &p.object));
        let matches_now = self.selectors.matches(&self.ctx, &current.object);
        let kind = match event.kind {
            EventKind::Delete if matched_before || matches_now => EventType::Deleted,
            EventKind::Delete => return true,
            EventKind::Put => match (previous.is_some(), matched_before, matches_now) {
                (_, true, true) => EventType::Modified,
                (_, false, true) => EventType::Added,
                (true, true, false) => EventType::Deleted,
                _ => return true,
            },
        };
        self.send(kind, &current).await
    }

    async fn bookmark(&mut self) -> bool {
        let object = json!({
            "kind": self.ctx.info.kind,
            "apiVersion": self.ctx.info.api_version(),
            "metadata": {"resourceVersion": self.last_revision.to_string()},
        });
        self.tx.send(event_line("BOOKMARK", &object)).await.is_ok()
    }

    async fn send(&mut self, kind: EventType, cached: &CachedObject) -> bool {
        let line = match self.ctx.format {
            Format::Json => cached.json_line(kind),
            Format::Table => {
                let object = &cached.object;
                let Ok(row) = table_row(&self.ctx, object, ferry_api::table::now()) else {
                    return true;
                };
                let rv = object::meta_str(object, "resourceVersion")
                    .unwrap_or("")
                    .to_string();
                let with_columns = std::mem::replace(&mut self.first_table, false);
                let table = ferry_api::table::table(
                    self.ctx.info.ops.columns(),
                    vec![row],
                    &rv,
                    with_columns,
                );
                event_line(kind.wire_name(), &table)
            }
        };
        self.tx.send(line).await.is_ok()
    }
}
