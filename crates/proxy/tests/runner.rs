//! The runner against a fake API (lists and watch streams the test controls) and a fake
//! dataplane that reports every sync: the first sync is full and waits for both lists, a watch
//! event leads to an incremental sync, a failed sync is retried in full, and the snapshot
//! follows what was programmed.

use std::collections::{BTreeSet, HashMap};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::{Body, Frame};
use http_body_util::combinators::BoxBody;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot, Notify};
use tokio_util::sync::CancellationToken;

use ferry_proxy::{proxy, ChangedServices, Dataplane, ProxyConfig, ProxyModel};
use ferry_runtime::{Client, ClientError, Transport, TransportFuture};

const SERVICES: &str = "/api/v1/services";
const SLICES: &str = "/apis/discovery.k8s.io/v1/endpointslices";
/// Generous: a sync normally follows its event within milliseconds.
const DEADLINE: Duration = Duration::from_secs(10);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A response body fed by a channel: a list is one chunk, a watch is one chunk per event.
struct ChannelBody(mpsc::UnboundedReceiver<Bytes>);

impl Body for ChannelBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.0
            .poll_recv(cx)
            .map(|chunk| chunk.map(|c| Ok(Frame::data(c))))
    }
}

/// Serves one list per collection (the slices' one held back until released, if asked) and
/// one watch stream per collection that the test writes events into.
#[derive(Default)]
struct ApiState {
    lists: HashMap<&'static str, Value>,
    held_lists: Mutex<HashMap<&'static str, oneshot::Receiver<()>>>,
    watches: Mutex<HashMap<&'static str, mpsc::UnboundedReceiver<Bytes>>>,
    /// Keeps later watch streams open and silent.
    idle: Mutex<Vec<mpsc::UnboundedSender<Bytes>>>,
    watch_opened: Notify,
}

impl ApiState {
    fn body(&self, path: &str, watch: bool) -> ChannelBody {
        let taken = if watch {
            self.watches.lock().unwrap().remove(path)
        } else {
            None
        };
        if let Some(events) = taken {
            return ChannelBody(events);
        }
        let (tx, rx) = mpsc::unbounded_channel();
        if watch {
            self.idle.lock().unwrap().push(tx);
        } else {
            let list = &self.lists[path];
            tx.send(Bytes::from(list.to_string())).unwrap();
        }
        ChannelBody(rx)
    }
}

/// The transport over [`ApiState`].
struct FakeApi(Arc<ApiState>);

impl Transport for FakeApi {
    fn send(&self, request: Request<Bytes>) -> TransportFuture {
        let api = Arc::clone(&self.0);
        let path = [SERVICES, SLICES]
            .into_iter()
            .find(|p| *p == request.uri().path())
            .unwrap_or_else(|| panic!("unexpected request {}", request.uri()));
        let watch = request
            .uri()
            .query()
            .is_some_and(|q| q.contains("watch=true"));
        Box::pin(async move {
            let hold = api.held_lists.lock().unwrap().remove(path);
            if watch {
                api.watch_opened.notify_waiters();
            } else if let Some(hold) = hold {
                hold.await.ok();
            }
            let body: BoxBody<Bytes, BoxError> = BoxBody::new(api.body(path, watch));
            Ok::<_, ClientError>(Response::new(body))
        })
    }
}

#[derive(Debug, thiserror::Error)]
#[error("netlink said no")]
struct SyncFailed;

/// Reports every sync; fails the first `failures` of them.
struct FakeDataplane {
    synced: mpsc::UnboundedSender<(ProxyModel, ChangedServices)>,
    failures: usize,
}

impl Dataplane for FakeDataplane {
    type Error = SyncFailed;

    fn sync(&mut self, model: &ProxyModel, changed: &ChangedServices) -> Result<(), SyncFailed> {
        self.synced.send((model.clone(), changed.clone())).unwrap();
        if self.failures > 0 {
            self.failures -= 1;
            return Err(SyncFailed);
        }
        Ok(())
    }
}

fn list(items: Vec<Value>) -> Value {
    json!({"metadata": {"resourceVersion": "1"}, "items": items})
}

fn kubia() -> Value {
    json!({"metadata": {"namespace": "default", "name": "kubia", "resourceVersion": "1"},
           "spec": {"clusterIP": "10.96.12.34", "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}})
}

fn kubia_slice(ready: bool) -> Value {
    json!({"metadata": {"namespace": "default", "name": "kubia-abcde", "resourceVersion": "2",
                        "labels": {"kubernetes.io/service-name": "kubia"}},
           "addressType": "IPv4",
           "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
           "endpoints": [{"addresses": ["10.244.1.5"], "nodeName": "node-1", "conditions": {"ready": ready}}]})
}

fn event(kind: &str, object: Value) -> Bytes {
    Bytes::from(format!("{}\n", json!({"type": kind, "object": object})))
}

/// A fake API with the given lists; returns it and the senders of both watch streams.
fn fake_api(
    services: Vec<Value>,
    slices: Vec<Value>,
) -> (
    ApiState,
    mpsc::UnboundedSender<Bytes>,
    mpsc::UnboundedSender<Bytes>,
) {
    let (services_tx, services_rx) = mpsc::unbounded_channel();
    let (slices_tx, slices_rx) = mpsc::unbounded_channel();
    let api = ApiState {
        lists: HashMap::from([(SERVICES, list(services)), (SLICES, list(slices))]),
        watches: Mutex::new(HashMap::from([
            (SERVICES, services_rx),
            (SLICES, slices_rx),
        ])),
        ..ApiState::default()
    };
    (api, services_tx, slices_tx)
}

fn config() -> ProxyConfig {
    ProxyConfig {
        node_name: "node-1".to_string(),
        excluded_cluster_ips: BTreeSet::new(),
    }
}

async fn next_sync(
    synced: &mut mpsc::UnboundedReceiver<(ProxyModel, ChangedServices)>,
) -> (String, ChangedServices) {
    let (model, changes) = tokio::time::timeout(DEADLINE, synced.recv())
        .await
        .expect("a sync before the deadline")
        .expect("the dataplane is alive");
    (model.to_string(), changes)
}

fn names(changes: &ChangedServices) -> Vec<String> {
    changes.names.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn first_sync_is_full_then_watch_events_sync_incrementally() {
    let (api, _services_tx, slices_tx) = fake_api(vec![kubia()], vec![kubia_slice(false)]);
    let (synced_tx, mut synced) = mpsc::unbounded_channel();
    let dataplane = FakeDataplane {
        synced: synced_tx,
        failures: 0,
    };
    let shutdown = CancellationToken::new();
    let client = Client::new(Arc::new(FakeApi(Arc::new(api))));
    let (mut programmed, run) = proxy(client, config(), dataplane, shutdown.clone());
    let task = tokio::spawn(run);

    let (model, changes) = next_sync(&mut synced).await;
    assert_eq!(
        model,
        "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (not ready, local)\n"
    );
    assert!(changes.full);

    slices_tx
        .send(event("MODIFIED", kubia_slice(true)))
        .unwrap();
    let (model, changes) = next_sync(&mut synced).await;
    assert_eq!(
        model,
        "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (ready, local)\n"
    );
    assert!(!changes.full);
    assert_eq!(names(&changes), ["default/kubia:http/tcp"]);

    tokio::time::timeout(DEADLINE, programmed.wait_for(|m| m.to_string() == model))
        .await
        .expect("the snapshot follows the sync")
        .unwrap();

    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn first_sync_waits_for_both_lists() {
    let (mut api, services_tx, _slices_tx) = fake_api(vec![kubia()], vec![kubia_slice(true)]);
    let (release, held) = oneshot::channel();
    api.held_lists = Mutex::new(HashMap::from([(SLICES, held)]));
    let api = Arc::new(api);
    let (synced_tx, mut synced) = mpsc::unbounded_channel();
    let dataplane = FakeDataplane {
        synced: synced_tx,
        failures: 0,
    };
    let shutdown = CancellationToken::new();
    let watch_opened = api.watch_opened.notified();
    let (_programmed, run) = proxy(
        Client::new(Arc::new(FakeApi(Arc::clone(&api)))),
        config(),
        dataplane,
        shutdown.clone(),
    );
    let task = tokio::spawn(run);

    // Services are listed and watched, and change, while the slices' list is still pending.
    tokio::time::timeout(DEADLINE, watch_opened).await.unwrap();
    services_tx.send(event("DELETED", kubia())).unwrap();
    services_tx.send(event("ADDED", kubia())).unwrap();
    release.send(()).unwrap();

    let (model, changes) = next_sync(&mut synced).await;
    assert_eq!(
        model,
        "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (ready, local)\n"
    );
    assert!(changes.full);

    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn a_failed_sync_is_retried_in_full() {
    let (api, _services_tx, slices_tx) = fake_api(vec![kubia()], vec![kubia_slice(true)]);
    let (synced_tx, mut synced) = mpsc::unbounded_channel();
    let dataplane = FakeDataplane {
        synced: synced_tx,
        failures: 2,
    };
    let shutdown = CancellationToken::new();
    let (programmed, run) = proxy(
        Client::new(Arc::new(FakeApi(Arc::new(api)))),
        config(),
        dataplane,
        shutdown.clone(),
    );
    let task = tokio::spawn(run);

    let (first, changes) = next_sync(&mut synced).await;
    assert!(changes.full);
    // An event during the back-off waits for the retry, which includes it.
    slices_tx
        .send(event("MODIFIED", kubia_slice(false)))
        .unwrap();
    let (_, changes) = next_sync(&mut synced).await;
    assert!(changes.full, "second attempt");
    let (third, changes) = next_sync(&mut synced).await;
    assert!(changes.full, "third attempt");
    assert_ne!(third, first);
    assert_eq!(
        third,
        "default/kubia:http/tcp 10.96.12.34:80 -> 10.244.1.5:8080 (not ready, local)\n"
    );
    assert_eq!(programmed.borrow().to_string(), third);

    shutdown.cancel();
    task.await.unwrap().unwrap();
}
