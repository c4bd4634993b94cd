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
            let line = event_line("ERROR", status.to_status());
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
    };
    tokio::spawn(task.run(initial, stream, Duration::from_secs(timeout)));
    Ok(resp)
}

fn event_line(kind: &str, object: Value) -> Bytes {
    let mut line = serde_json::to_vec(&json!({"type": kind, "object": object})).unwrap_or_default();
    line.push(b'\n');
    Bytes::from(line)
}

struct Watcher {
    ctx: Ctx,
    selectors: Selectors,
    tx: mpsc::Sender<Bytes>,
    first_table: bool,
    last_revision: i64,
}

impl Watcher {
    async fn run(mut self, initial: Vec<Value>, mut stream: ferry_store::Watch, timeout: Duration) {
        for object in initial {
            if !self.send("ADDED", &object).await {
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
        let Ok(mut current) = decode_stored(&event.kv) else {
            return true;
        };
        let previous = event.prev.as_ref().and_then(|p| decode_stored(p).ok());
        let matched_before = previous
            .as_ref()
            .is_some_and(|p| self.selectors.matches(&self.ctx, p));
        match event.kind {
            EventKind::Delete => {
                object::set_resource_version(&mut current, event.revision());
                if matched_before || self.selectors.matches(&self.ctx, &current) {
                    return self.send("DELETED", &current).await;
                }
                true
            }
            EventKind::Put => {
                let matches_now = self.selectors.matches(&self.ctx, &current);
                match (previous.is_some(), matched_before, matches_now) {
                    (_, true, true) => self.send("MODIFIED", &current).await,
                    (_, false, true) => self.send("ADDED", &current).await,
                    (true, true, false) => self.send("DELETED", &current).await,
                    _ => true,
                }
            }
        }
    }

    async fn bookmark(&mut self) -> bool {
        let object = json!({
            "kind": self.ctx.info.kind,
            "apiVersion": self.ctx.info.api_version(),
            "metadata": {"resourceVersion": self.last_revision.to_string()},
        });
        self.tx.send(event_line("BOOKMARK", object)).await.is_ok()
    }

    async fn send(&mut self, kind: &str, object: &Value) -> bool {
        let payload = match self.ctx.format {
            Format::Json => object.clone(),
            Format::Table => {
                let Ok(row) = table_row(&self.ctx, object, ferry_api::table::now()) else {
                    return true;
                };
                let rv = object::meta_str(object, "resourceVersion")
                    .unwrap_or("")
                    .to_string();
                let with_columns = std::mem::replace(&mut self.first_table, false);
                ferry_api::table::table(self.ctx.info.ops.columns(), vec![row], &rv, with_columns)
            }
        };
        self.tx.send(event_line(kind, payload)).await.is_ok()
    }
}
