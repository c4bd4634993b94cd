//! The measured phases: concurrent creates and gets, whole-collection lists (JSON and Table),
//! and sequential label updates whose send and acknowledgement times the watchers' arrivals
//! are compared with.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::Bytes;
use http::Request;
use http_body_util::BodyExt;
use serde_json::{json, Value};

use ferry_api::ResourceInfo;
use ferry_runtime::{Client, ClientError, HttpsTransport, Transport};

use crate::watchers::SEQ_LABEL;

/// The media type kubectl asks for when it prints a table.
pub(crate) const TABLE_ACCEPT: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// Latencies of one phase's requests and the phase's wall time.
pub(crate) struct Timed {
    pub(crate) latencies: Vec<Duration>,
    pub(crate) wall: Duration,
}

/// Durations of repeated lists, the size of one response, and how many items or rows it held.
pub(crate) struct Listed {
    pub(crate) durations: Vec<Duration>,
    pub(crate) bytes: usize,
    pub(crate) entries: usize,
}

/// When one update was sent and when its response arrived.
#[derive(Clone, Copy)]
pub(crate) struct UpdateTimes {
    pub(crate) sent: Instant,
    pub(crate) acknowledged: Instant,
}

/// The Service named for index `i`: `svc-00000`, `svc-00001`, …
pub(crate) fn service_name(i: usize) -> String {
    format!("svc-{i:05}")
}

pub(crate) fn services() -> anyhow::Result<&'static ResourceInfo> {
    ferry_api::resource::find("", "v1", "services").context("services are not a served resource")
}

/// Creates `count` Services with one client per element of `clients`, all at once.
pub(crate) async fn create(
    clients: &[Client],
    namespace: &str,
    count: usize,
    deadline: Instant,
) -> anyhow::Result<Timed> {
    let info = services()?;
    let namespace = namespace.to_string();
    concurrently(clients, count, deadline, move |client, i| {
        let namespace = namespace.clone();
        async move {
            let name = service_name(i);
            let object = json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {"selector": {"app": name}, "ports": [{"port": 80, "targetPort": 8080}]},
            });
            client
                .create(info, Some(&namespace), &object)
                .await
                .map(|_| ())
        }
    })
    .await
    .context("create services")
}

/// Gets `count` Services (cycling through the `existing` ones) with the given clients at once.
pub(crate) async fn get(
    clients: &[Client],
    namespace: &str,
    count: usize,
    existing: usize,
    deadline: Instant,
) -> anyhow::Result<Timed> {
    let info = services()?;
    let namespace = namespace.to_string();
    concurrently(clients, count, deadline, move |client, i| {
        let namespace = namespace.clone();
        async move {
            client
                .get(info, Some(&namespace), &service_name(i % existing))
                .await
                .map(|_| ())
        }
    })
    .await
    .context("get services")
}

/// Lists `path` `runs` times with `accept`, timing each from send to last byte.
pub(crate) async fn list(
    transport: &HttpsTransport,
    path: &str,
    accept: &str,
    runs: usize,
) -> anyhow::Result<Listed> {
    let mut listed = Listed {
        durations: Vec::with_capacity(runs),
        bytes: 0,
        entries: 0,
    };
    for run in 0..runs {
        let request = Request::get(path)
            .header("accept", accept)
            .body(Bytes::new())?;
        let started = Instant::now();
        let response = transport.send(request).await.context("list")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| anyhow::anyhow!(e))
            .context("read list")?
            .to_bytes();
        listed.durations.push(started.elapsed());
        if !status.is_success() {
            bail!("list answered {status}: {}", String::from_utf8_lossy(&body));
        }
        // Count once, outside the timing, so the response is known to hold everything.
        if run == 0 {
            let value: Value = serde_json::from_slice(&body).context("decode list")?;
            let entries = value
                .get("items")
                .or_else(|| value.get("rows"))
                .and_then(Value::as_array);
            listed.entries = entries.map_or(0, Vec::len);
            listed.bytes = body.len();
        }
    }
    Ok(listed)
}

/// Sets the `bench-seq` label of Service `i % existing` to `i`, one update at a time, for
/// `count` updates.
pub(crate) async fn update(
    client: &Client,
    namespace: &str,
    count: usize,
    existing: usize,
    deadline: Instant,
) -> anyhow::Result<(Vec<UpdateTimes>, Vec<Duration>)> {
    let info = services()?;
    let mut times = Vec::with_capacity(count);
    let mut latencies = Vec::with_capacity(count);
    for i in 0..count {
        if Instant::now() > deadline {
            bail!("updates passed their deadline after {i}");
        }
        let patch = json!({"metadata": {"labels": {SEQ_LABEL: i.to_string()}}});
        let sent = Instant::now();
        client
            .merge_patch(info, Some(namespace), &service_name(i % existing), &patch)
            .await
            .with_context(|| format!("update {}", service_name(i % existing)))?;
        let acknowledged = Instant::now();
        times.push(UpdateTimes { sent, acknowledged });
        latencies.push(acknowledged - sent);
    }
    Ok((times, latencies))
}

/// Runs `call(client, i)` for `i` in `0..count`, each client of `clients` taking the next
/// index as soon as its previous call returned.
async fn concurrently<F, Fut>(
    clients: &[Client],
    count: usize,
    deadline: Instant,
    call: F,
) -> anyhow::Result<Timed>
where
    F: Fn(Client, usize) -> Fut + Clone + Send + 'static,
    Fut: Future<Output = Result<(), ClientError>> + Send,
{
    let next = Arc::new(AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = Vec::with_capacity(clients.len());
    for client in clients {
        let (client, next, call) = (client.clone(), next.clone(), call.clone());
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    return Ok(latencies);
                }
                if Instant::now() > deadline {
                    bail!("passed the deadline at request {i}");
                }
                let t = Instant::now();
                call(client.clone(), i)
                    .await
                    .with_context(|| format!("request {i}"))?;
                latencies.push(t.elapsed());
            }
        }));
    }
    let mut latencies = Vec::with_capacity(count);
    for task in tasks {
        latencies.extend(task.await.context("client task")??);
    }
    Ok(Timed {
        latencies,
        wall: started.elapsed(),
    })
}
