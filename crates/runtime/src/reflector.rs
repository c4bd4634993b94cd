//! A reflector: lists a collection, then watches it from the list's resourceVersion, and hands
//! every change to one consumer through a bounded channel. On a broken watch it resumes from the
//! last resourceVersion it saw; when that is too old (410 Gone, an `ERROR` event) it lists
//! again and says so with [`ReflectorEvent::Relisted`], so the consumer rebuilds its cache.

use std::time::Duration;

use serde_json::Value;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use ferry_api::ResourceInfo;

use crate::client::{Client, Selectors, WatchParams};
use crate::watch::WatchEvent;

/// How long to wait before trying again after a failed list or a watch that brought nothing;
/// doubled on each failure in a row up to [`MAX_RETRY`].
const RETRY: Duration = Duration::from_millis(500);
const MAX_RETRY: Duration = Duration::from_secs(10);
/// Watches are asked to end after a random time in this range (upstream's reflector uses 5–10
/// minutes), so a connection that died silently is replaced.
const WATCH_TIMEOUT_SECS: std::ops::RangeInclusive<u64> = 300..=600;
/// Events queued for a slow consumer before the reflector waits for it.
const QUEUE: usize = 1024;

/// What a consumer of a reflector is told.
#[derive(Debug, Clone, PartialEq)]
pub enum ReflectorEvent {
    /// The whole collection as of a fresh list: replaces everything known before.
    Relisted(Vec<Value>),
    /// An object was added or modified.
    Applied(Value),
    /// An object was deleted (its last state).
    Deleted(Value),
}

/// Starts reflecting `info` (all namespaces) into the returned channel until `shutdown`; the
/// first event is always a [`ReflectorEvent::Relisted`].
pub fn reflect(
    client: Client,
    info: &'static ResourceInfo,
    shutdown: CancellationToken,
) -> mpsc::Receiver<ReflectorEvent> {
    let (tx, rx) = mpsc::channel(QUEUE);
    tokio::spawn(run(client, info, tx, shutdown));
    rx
}

async fn run(
    client: Client,
    info: &'static ResourceInfo,
    tx: mpsc::Sender<ReflectorEvent>,
    shutdown: CancellationToken,
) {
    let mut resume_from: Option<String> = None;
    let mut retry = RETRY;
    while !shutdown.is_cancelled() && !tx.is_closed() {
        let rv = match resume_from.take() {
            Some(rv) => rv,
            None => match client.list(info, None, None).await {
                Ok((items, rv)) => {
                    if tx.send(ReflectorEvent::Relisted(items)).await.is_err() {
                        return;
                    }
                    rv
                }
                Err(e) => {
                    tracing::debug!(resource = info.plural, error = %e, "list failed");
                    if pause(&shutdown, &mut retry).await {
                        return;
                    }
                    continue;
                }
            },
        };
        let watched = watch_from(&client, info, rv, &tx, &shutdown).await;
        if watched.forwarded {
            retry = RETRY;
        } else if pause(&shutdown, &mut retry).await {
            // A watch that failed or ended without an event is not retried at once: the
            // server may be down, and a tight loop would spin.
            return;
        }
        resume_from = watched.resume_from;
    }
}

/// How a watch ended.
struct Watched {
    /// The resourceVersion to resume from; `None` when the reflector must list again.
    resume_from: Option<String>,
    /// Whether any event was passed on.
    forwarded: bool,
}

/// Watches from `rv` until the stream ends.
async fn watch_from(
    client: &Client,
    info: &'static ResourceInfo,
    mut rv: String,
    tx: &mpsc::Sender<ReflectorEvent>,
    shutdown: &CancellationToken,
) -> Watched {
    let mut watched = Watched {
        resume_from: None,
        forwarded: false,
    };
    let params = WatchParams {
        resource_version: &rv,
        selectors: Selectors::default(),
        timeout: Some(Duration::from_secs(rand::random_range(WATCH_TIMEOUT_SECS))),
    };
    let mut stream = match client.watch_selected(info, None, &params).await {
        Ok(stream) => stream,
        Err(e) if e.is_gone() => return watched,
        Err(e) => {
            tracing::debug!(resource = info.plural, error = %e, "watch failed");
            watched.resume_from = Some(rv);
            return watched;
        }
    };
    loop {
        let next = tokio::select! {
            _ = shutdown.cancelled() => return watched,
            next = stream.next() => next,
        };
        let event = match next {
            Some(Ok(event)) => event,
            Some(Err(_)) | None => {
                watched.resume_from = Some(rv);
                return watched;
            }
        };
        if event.event_type == "ERROR" {
            return watched;
        }
        if let Some(new_rv) = resource_version(&event) {
            rv = new_rv;
        }
        let forwarded = match event.event_type.as_str() {
            "ADDED" | "MODIFIED" => ReflectorEvent::Applied(event.object),
            "DELETED" => ReflectorEvent::Deleted(event.object),
            _ => continue,
        };
        if tx.send(forwarded).await.is_err() {
            return watched;
        }
        watched.forwarded = true;
    }
}

fn resource_version(event: &WatchEvent) -> Option<String> {
    event
        .object
        .pointer("/metadata/resourceVersion")
        .and_then(Value::as_str)
        .filter(|rv| !rv.is_empty())
        .map(str::to_string)
}

/// Waits `retry` and doubles it for next time; true when shutdown came first.
async fn pause(shutdown: &CancellationToken, retry: &mut Duration) -> bool {
    let wait = *retry;
    *retry = (*retry * 2).min(MAX_RETRY);
    tokio::select! {
        _ = shutdown.cancelled() => true,
        _ = tokio::time::sleep(wait) => false,
    }
}
