//! One pod's life on the node: its sandbox, a loop per container (start, log, wait, restart
//! with the kubelet's back-off), graceful termination, and the status it reports.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Container, Pod, Service};
use tokio::sync::{watch, Notify, RwLock};
use tokio_util::sync::CancellationToken;

use ferry_sandbox::{ProcessSpec, Sandbox, SandboxSpec, Signal, Stdio, DEFAULT_GATEWAY};

use crate::clock::now_time;
use crate::node::{error_chain, resource};
use crate::pods::events::{self, Kind};
use crate::pods::image::{self, DEFAULT_PATH};
use crate::pods::{files, probe, service_env, status, Pods};
use crate::streaming::{LogStream, LogWriter, PodRef};

/// The kubelet's crash-loop back-off: 10 s doubling to 5 min, forgotten after 10 min of
/// running.
const BACKOFF_INITIAL: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
const BACKOFF_RESET: Duration = Duration::from_secs(600);

/// How long the status writer waits to batch changes.
pub(crate) const STATUS_BATCH: Duration = Duration::from_millis(50);

/// The kubelet's default when a pod gives no grace period.
const DEFAULT_GRACE_SECONDS: i64 = 30;

/// A pod on this node and everything its worker shares with the streaming server.
pub(crate) struct PodEntry {
    pub(crate) pod_ref: PodRef,
    pub(crate) uid: String,
    pub(crate) pod: Pod,
    pub(crate) ip: Ipv4Addr,
    pub(crate) start_time: String,
    /// The node's address, for `hostIP`.
    pub(crate) host_ip: Option<String>,
    pub(crate) logs_dir: PathBuf,
    pub(crate) sandbox: RwLock<Option<Sandbox>>,
    pub(crate) containers: Mutex<Vec<Slot>>,
    /// Conditions' last transition times, by type.
    pub(crate) transitions: Mutex<HashMap<String, (bool, String)>>,
    pub(crate) changed: Notify,
    stop: CancellationToken,
    /// The grace period the stop asked for (`None`: the pod's own).
    grace: Mutex<Option<i64>>,
    stopped: CancellationToken,
}

/// One container's state, as its status and the streaming server need it.
#[derive(Clone, Debug)]
pub(crate) struct Slot {
    pub(crate) name: String,
    pub(crate) image: String,
    pub(crate) state: State,
    pub(crate) last_state: Option<State>,
    pub(crate) restart_count: i32,
    pub(crate) ready: bool,
    pub(crate) started: bool,
    /// The environment its processes get (execs too).
    pub(crate) env: Vec<(String, String)>,
    /// Each instance's log, oldest first, with its "has exited and is fully logged" flag.
    pub(crate) instances: Vec<(PathBuf, watch::Receiver<bool>)>,
}

#[derive(Clone, Debug)]
pub(crate) enum State {
    Waiting {
        reason: String,
        message: Option<String>,
    },
    Running {
        started_at: String,
    },
    Terminated {
        exit_code: i32,
        reason: String,
        message: Option<String>,
        started_at: String,
        finished_at: String,
    },
}

impl PodEntry {
    pub(crate) fn new(
        uid: &str,
        pod: Pod,
        ip: Ipv4Addr,
        host_ip: Ipv4Addr,
        logs_root: &Path,
    ) -> PodEntry {
        let namespace = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        let containers = pod
            .spec
            .as_ref()
            .map(|s| s.containers.clone())
            .unwrap_or_default()
            .into_iter()
            .map(|c| Slot {
                name: c.name,
                image: c.image.unwrap_or_default(),
                state: State::Waiting {
                    reason: "ContainerCreating".to_string(),
                    message: None,
                },
                last_state: None,
                restart_count: 0,
                ready: false,
                started: false,
                env: Vec::new(),
                instances: Vec::new(),
            })
            .collect();
        PodEntry {
            logs_dir: logs_root.join(format!("{namespace}_{name}_{uid}")),
            pod_ref: PodRef { namespace, name },
            uid: uid.to_string(),
            pod,
            ip,
            start_time: now_time(),
            host_ip: Some(host_ip.to_string()),
            sandbox: RwLock::new(None),
            containers: Mutex::new(containers),
            transitions: Mutex::default(),
            changed: Notify::new(),
            stop: CancellationToken::new(),
            grace: Mutex::new(None),
            stopped: CancellationToken::new(),
        }
    }

    /// Asks the worker to stop the pod: with `grace` seconds, or the pod's own grace period.
    pub(crate) fn stop(&self, grace: Option<i64>) {
        if self.stop.is_cancelled() {
            return;
        }
        *self.grace.lock().unwrap_or_else(|p| p.into_inner()) = grace;
        self.stop.cancel();
    }

    pub(crate) fn is_stopping(&self) -> bool {
        self.stop.is_cancelled()
    }

    pub(crate) async fn stopping(&self) {
        self.stop.cancelled().await;
    }

    pub(crate) async fn wait_stopped(&self) {
        self.stopped.cancelled().await;
    }

    fn grace_period(&self) -> Duration {
        let asked = *self.grace.lock().unwrap_or_else(|p| p.into_inner());
        let own = self
            .pod
            .metadata
            .deletion_grace_period_seconds
            .or_else(|| {
                self.pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds)
            })
            .unwrap_or(DEFAULT_GRACE_SECONDS);
        Duration::from_secs(u64::try_from(asked.unwrap_or(own)).unwrap_or(0))
    }

    pub(crate) fn update(&self, index: usize, change: impl FnOnce(&mut Slot)) {
        if let Some(slot) = self
            .containers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_mut(index)
        {
            change(slot);
        }
        self.changed.notify_one();
    }

    fn spec_containers(&self) -> Vec<Container> {
        self.pod
            .spec
            .as_ref()
            .map(|s| s.containers.clone())
            .unwrap_or_default()
    }
}

/// The worker: makes the sandbox, runs the containers until the pod stops, then tears it all
/// down and removes the pod's logs.
pub(crate) async fn run(pods: Arc<Pods>, entry: Arc<PodEntry>) {
    let status_task = tokio::spawn(status::write_loop(pods.client.clone(), entry.clone()));
    if let Some(sandbox) = make_sandbox(&pods, &entry).await {
        *entry.sandbox.write().await = Some(sandbox);
        let mut loops = Vec::new();
        for (index, container) in entry.spec_containers().into_iter().enumerate() {
            loops.push(tokio::spawn(run_container(
                pods.clone(),
                entry.clone(),
                index,
                container,
            )));
        }
        for task in loops {
            let _ = task.await;
        }
        entry.stop.cancelled().await;
        if let Some(sandbox) = entry.sandbox.write().await.take() {
            if let Err(e) = sandbox.destroy().await {
                tracing::warn!(pod = %entry.pod_ref, error = %error_chain(&e), "sandbox teardown");
            }
        }
    }
    entry.stop.cancel();
    let _ = status_task.await;
    let _ = tokio::fs::remove_dir_all(&entry.logs_dir).await;
    if deleting(&pods, &entry).await {
        finish_deletion(&pods.client, &entry.pod_ref, &entry.uid).await;
    }
    entry.stopped.cancel();
}

/// Whether the API still has the pod marked for deletion (the agent then completes it).
async fn deleting(pods: &Pods, entry: &PodEntry) -> bool {
    let got = pods
        .client
        .get(
            resource("pods"),
            Some(&entry.pod_ref.namespace),
            &entry.pod_ref.name,
        )
        .await;
    match got {
        Ok(pod) => {
            pod.pointer("/metadata/uid").and_then(|u| u.as_str()) == Some(entry.uid.as_str())
                && pod.pointer("/metadata/deletionTimestamp").is_some()
        }
        Err(_) => false,
    }
}

/// Deletes the terminated pod for good, as the kubelet does once its containers are gone.
pub(crate) async fn finish_deletion(client: &ferry_runtime::Client, pod: &PodRef, uid: &str) {
    let result = client
        .delete_now(resource("pods"), Some(&pod.namespace), &pod.name, uid)
        .await;
    if let Err(e) = result {
        if !e.is_not_found() && !e.is_conflict() {
            tracing::warn!(%pod, error = %error_chain(&e), "delete a terminated pod");
        }
    }
}

async fn make_sandbox(pods: &Pods, entry: &PodEntry) -> Option<Sandbox> {
    let spec = entry.pod.spec.clone().unwrap_or_default();
    let hostname = spec
        .hostname
        .clone()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| entry.pod_ref.name.clone());
    let node_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let sandbox_spec = SandboxSpec {
        id: entry.uid.clone(),
        hostname: hostname.chars().take(63).collect(),
        ip: entry.ip,
        gateway: DEFAULT_GATEWAY,
        hosts_file: files::hosts_file(
            &spec,
            &entry.pod_ref.namespace,
            &hostname,
            &entry.ip.to_string(),
        ),
        resolv_conf: files::resolv_conf(&spec, &entry.pod_ref.namespace, &node_resolv),
    };
    loop {
        match pods.runtime.create(sandbox_spec.clone()).await {
            Ok(sandbox) => return Some(sandbox),
            Err(e) => {
                let message = error_chain(&e);
                tracing::warn!(pod = %entry.pod_ref, error = %message, "create the pod sandbox");
                let count = entry
                    .containers
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .len();
                for index in 0..count {
                    entry.update(index, |slot| {
                        slot.state = State::Waiting {
                            reason: "ContainerCreating".to_string(),
                            message: Some(format!("failed to create the pod sandbox: {message}")),
                        };
                    });
                }
            }
        }
        tokio::select! {
            _ = entry.stop.cancelled() => return None,
            _ = tokio::time::sleep(BACKOFF_INITIAL) => {}
        }
    }
}

/// Runs one container until the pod stops or its restart policy says it is done.
async fn run_container(pods: Arc<Pods>, entry: Arc<PodEntry>, index: usize, container: Container) {
    let policy = entry
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.clone())
        .unwrap_or_else(|| "Always".to_string());
    let mut backoff = Duration::ZERO;
    loop {
        let started = Instant::now();
        let Some(exit_code) = run_instance(&pods, &entry, index, &container).await else {
            return;
        };
        if entry.stop.is_cancelled() {
            return;
        }
        let restart = match policy.as_str() {
            "Never" => false,
            "OnFailure" => exit_code != 0,
            _ => true,
        };
        if !restart {
            return;
        }
        if started.elapsed() >= BACKOFF_RESET {
            backoff = Duration::ZERO;
        }
        if !backoff.is_zero() {
            let message = format!(
                "back-off {} restarting failed container={} pod={}_{}({})",
                format_backoff(backoff),
                container.name,
                entry.pod_ref.name,
                entry.pod_ref.namespace,
                entry.uid
            );
            entry.update(index, |slot| {
                slot.last_state = Some(slot.state.clone());
                slot.state = State::Waiting {
                    reason: "CrashLoopBackOff".to_string(),
                    message: Some(message),
                };
            });
            tokio::select! {
                _ = entry.stop.cancelled() => return,
                _ = tokio::time::sleep(backoff) => {}
            }
        }
        backoff = if backoff.is_zero() {
            BACKOFF_INITIAL
        } else {
            (backoff * 2).min(BACKOFF_MAX)
        };
        entry.update(index, |slot| {
            if !matches!(slot.state, State::Waiting { .. }) {
                slot.last_state = Some(slot.state.clone());
            }
            slot.restart_count += 1;
        });
    }
}

/// `10s`, `1m20s`, `5m0s`, as Go prints a duration.
fn format_backoff(d: Duration) -> String {
    let secs = d.as_secs();
    if secs >= 60 {
        format!("{}m{}s", secs / 60, secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// Starts one instance of the container and waits for it; returns its exit code, or `None`
/// when the container cannot run at all.
async fn run_instance(
    pods: &Arc<Pods>,
    entry: &Arc<PodEntry>,
    index: usize,
    container: &Container,
) -> Option<i32> {
    let services = service_variables(pods, entry).await;
    let env = environment(entry, container, services);
    let lookup: HashMap<String, String> = env.iter().cloned().collect();
    let argv = match image::argv(container, &pods.config.ferry, &lookup) {
        Ok(argv) => argv,
        Err(cannot) => {
            entry.update(index, |slot| {
                slot.state = State::Waiting {
                    reason: cannot.reason.to_string(),
                    message: Some(cannot.message),
                };
            });
            entry.stop.cancelled().await;
            return None;
        }
    };
    let restart = entry
        .containers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(index)
        .map_or(0, |s| s.restart_count);
    let log_dir = entry.logs_dir.join(&container.name);
    let log_path = log_dir.join(format!("{restart}.log"));
    let writer = match tokio::fs::create_dir_all(&log_dir).await {
        Ok(()) => LogWriter::create(&log_path).await.ok(),
        Err(_) => None,
    };
    let spec = ProcessSpec {
        argv,
        env: env.clone(),
        cwd: PathBuf::from(
            container
                .working_dir
                .as_deref()
                .filter(|d| !d.is_empty())
                .unwrap_or("/"),
        ),
        stdin: Stdio::Null,
        stdout: Stdio::Pipe,
        stderr: Stdio::Pipe,
        tty: false,
    };
    let started_at = now_time();
    let spawned = match entry.sandbox.read().await.as_ref() {
        Some(sandbox) => sandbox.spawn(spec).await.map_err(|e| error_chain(&e)),
        None => Err("the pod has no sandbox".to_string()),
    };
    let (exit_tx, exited) = watch::channel(false);
    let mut process = match spawned {
        Ok(process) => process,
        Err(message) => {
            let _ = exit_tx.send(true);
            entry.update(index, |slot| {
                slot.instances.push((log_path.clone(), exited));
                slot.state = State::Terminated {
                    exit_code: 128,
                    reason: "StartError".to_string(),
                    message: Some(message),
                    started_at: started_at.clone(),
                    finished_at: now_time(),
                };
            });
            return Some(128);
        }
    };
    let (stdout, stderr) = (process.stdout.take(), process.stderr.take());
    tokio::spawn(async move {
        if let Some(writer) = writer {
            let out = async {
                if let Some(stdout) = stdout {
                    let _ = writer.copy_from(LogStream::Stdout, stdout).await;
                }
            };
            let err = async {
                if let Some(stderr) = stderr {
                    let _ = writer.copy_from(LogStream::Stderr, stderr).await;
                }
            };
            tokio::join!(out, err);
        }
        let _ = exit_tx.send(true);
    });
    entry.update(index, |slot| {
        slot.instances.push((log_path.clone(), exited));
        slot.env = env.clone();
        slot.state = State::Running {
            started_at: started_at.clone(),
        };
        slot.started = false;
        slot.ready = false;
    });
    let name = &container.name;
    events::record(
        pods,
        entry,
        name,
        Kind::Normal,
        "Created",
        &format!("Created container: {name}"),
    )
    .await;
    events::record(
        pods,
        entry,
        name,
        Kind::Normal,
        "Started",
        &format!("Started container {name}"),
    )
    .await;
    let kill = CancellationToken::new();
    let probes = tokio::spawn(probe::run(probe::Target {
        pods: pods.clone(),
        entry: entry.clone(),
        index,
        container: container.clone(),
        env,
        kill: kill.clone(),
    }));
    let status = tokio::select! {
        status = process.wait() => status,
        _ = kill.cancelled() => stop_gracefully(&mut process, entry.grace_period()).await,
        _ = entry.stop.cancelled() => stop_gracefully(&mut process, entry.grace_period()).await,
    };
    probes.abort();
    let exit_code = status.map(|s| s.code()).unwrap_or(137);
    entry.update(index, |slot| {
        slot.ready = false;
        slot.state = State::Terminated {
            exit_code,
            reason: if exit_code == 0 { "Completed" } else { "Error" }.to_string(),
            message: None,
            started_at,
            finished_at: now_time(),
        };
    });
    Some(exit_code)
}

/// The service variables for the pod: its namespace's services (unless
/// `enableServiceLinks: false`) and the `kubernetes` service of `default`. A failed read
/// leaves them out rather than keeping the container from starting.
async fn service_variables(pods: &Pods, entry: &PodEntry) -> Vec<(String, String)> {
    let services = resource("services");
    let namespace = entry.pod_ref.namespace.as_str();
    let links = entry
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.enable_service_links)
        .unwrap_or(true);
    let mut found: Vec<Service> = Vec::new();
    if links {
        if let Ok((items, _)) = pods.client.list(services, Some(namespace), None).await {
            found.extend(
                items
                    .into_iter()
                    .filter_map(|i| serde_json::from_value(i).ok()),
            );
        }
    }
    let has_master = found
        .iter()
        .any(|s| s.metadata.name.as_deref() == Some("kubernetes"));
    // A service of the pod's own namespace called `kubernetes` wins over the master's.
    if !has_master {
        if let Ok(master) = pods
            .client
            .get(services, Some("default"), "kubernetes")
            .await
        {
            found.extend(serde_json::from_value::<Service>(master).ok());
        }
    }
    found.iter().flat_map(service_env::service_env).collect()
}

/// SIGTERM, then SIGKILL once `grace` has passed.
async fn stop_gracefully(
    process: &mut ferry_sandbox::Process,
    grace: Duration,
) -> Result<ferry_sandbox::ExitStatus, ferry_sandbox::Error> {
    let _ = process.signal(Signal::SIGTERM);
    match tokio::time::timeout(grace, process.wait()).await {
        Ok(status) => status,
        Err(_) => {
            let _ = process.signal(Signal::SIGKILL);
            process.wait().await
        }
    }
}

/// The container's environment: what an image would set (PATH, HOSTNAME), the service
/// variables, then the container's `env` in order, each value expanded against the ones
/// before it (a container's variable replaces a service variable of the same name).
fn environment(
    entry: &PodEntry,
    container: &Container,
    services: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let spec = entry.pod.spec.clone().unwrap_or_default();
    let hostname = spec
        .hostname
        .clone()
        .unwrap_or_else(|| entry.pod_ref.name.clone());
    let mut env: Vec<(String, String)> = vec![
        ("PATH".to_string(), DEFAULT_PATH.to_string()),
        ("HOSTNAME".to_string(), hostname),
    ];
    env.extend(services);
    for var in container.env.as_deref().unwrap_or_default() {
        let lookup: HashMap<String, String> = env.iter().cloned().collect();
        let value = match (&var.value, &var.value_from) {
            (Some(value), _) => image::expand(value, &lookup),
            (None, Some(from)) => from
                .field_ref
                .as_ref()
                .map(|f| field_value(entry, &f.field_path))
                .unwrap_or_default(),
            (None, None) => String::new(),
        };
        env.retain(|(k, _)| k != &var.name);
        env.push((var.name.clone(), value));
    }
    env
}

/// The downward API's `fieldRef` values the agent knows.
fn field_value(entry: &PodEntry, path: &str) -> String {
    let spec = entry.pod.spec.as_ref();
    match path {
        "metadata.name" => entry.pod_ref.name.clone(),
        "metadata.namespace" => entry.pod_ref.namespace.clone(),
        "metadata.uid" => entry.uid.clone(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "status.podIP" | "status.podIPs" => entry.ip.to_string(),
        _ => String::new(),
    }
}
