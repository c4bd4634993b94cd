//! The Pod table: Ready `1/1`, the Status reason kubectl users know (`ContainerCreating`,
//! `CrashLoopBackOff`, `Init:0/1`, `Terminating`, ...) and Restarts with the last restart's age.

use k8s_openapi::api::core::v1::{Container, ContainerStatus, Pod, PodCondition, PodStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use k8s_openapi::jiff::Timestamp;

use super::{name, since};
use crate::kind::Printer;
use crate::table::{age, Cell, Column};

/// The reason the node lifecycle controller gives pods of a lost node (`NodeUnreachablePodReason`).
const NODE_UNREACHABLE_POD_REASON: &str = "NodeLost";

static COLUMNS: &[Column] = &[
    Column::NAME,
    Column::text(
        "Ready",
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    Column::text(
        "Status",
        "The aggregate status of the containers in this pod.",
    ),
    Column::text(
        "Restarts",
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    Column::AGE,
    Column::wide(
        "IP",
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    ),
    Column::wide(
        "Node",
        "NodeName indicates in which node this pod is scheduled. If empty, this pod is a candidate for scheduling by the scheduler defined in schedulerName.",
    ),
    Column::wide(
        "Nominated Node",
        "nominatedNodeName is set only when this pod preempts other pods on the node, but it cannot be scheduled right away as preemption victims receive their graceful termination periods.",
    ),
    Column::wide(
        "Readiness Gates",
        "If specified, all readiness gates will be evaluated for pod readiness. A pod is ready when all its containers are ready AND all conditions specified in the readiness gates have status equal to \"True\"",
    ),
];

impl Printer for Pod {
    fn columns() -> &'static [Column] {
        COLUMNS
    }

    fn cells(&self, now: Timestamp) -> Vec<Cell> {
        let summary = summarize(self);
        let restarts = match summary.last_restart.filter(|_| summary.restarts != 0) {
            Some(at) => format!("{} ({} ago)", summary.restarts, since(Some(&Time(at)), now)),
            None => summary.restarts.to_string(),
        };
        let status = self.status.as_ref();
        let spec = self.spec.as_ref();
        vec![
            name(&self.metadata),
            Cell::Text(format!("{}/{}", summary.ready, summary.total)),
            Cell::Text(summary.reason),
            Cell::Text(restarts),
            age(self.metadata.creation_timestamp.as_ref(), now),
            Cell::Text(or_none(status.and_then(|s| s.pod_ip.as_deref()))),
            Cell::Text(or_none(spec.and_then(|s| s.node_name.as_deref()))),
            Cell::Text(or_none(
                status.and_then(|s| s.nominated_node_name.as_deref()),
            )),
            Cell::Text(readiness_gates(self)),
        ]
    }
}

/// What `printPod` derives from the container statuses.
struct Summary {
    ready: usize,
    total: usize,
    reason: String,
    restarts: i64,
    last_restart: Option<Timestamp>,
}

/// Restart counts and the latest restart time over a set of container statuses.
#[derive(Default)]
struct Restarts {
    count: i64,
    last: Option<Timestamp>,
}

impl Restarts {
    fn add(&mut self, status: &ContainerStatus) {
        self.count += i64::from(status.restart_count);
        let finished = status
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .and_then(|t| t.finished_at.as_ref())
            .map(|t| t.0);
        if let Some(at) = finished {
            if self.last.is_none_or(|last| last < at) {
                self.last = Some(at);
            }
        }
    }
}

fn summarize(pod: &Pod) -> Summary {
    let empty = PodStatus::default();
    let status = pod.status.as_ref().unwrap_or(&empty);
    let containers = pod.spec.as_ref().map(|s| s.containers.as_slice());
    let init_containers = pod
        .spec
        .as_ref()
        .and_then(|s| s.init_containers.as_deref())
        .unwrap_or(&[]);
    let sidecars = init_containers.iter().filter(|c| is_sidecar(c)).count();
    let mut summary = Summary {
        ready: 0,
        total: containers.map_or(0, <[Container]>::len) + sidecars,
        reason: initial_reason(status),
        restarts: 0,
        last_restart: None,
    };

    let mut all = Restarts::default();
    let mut sidecar_restarts = Restarts::default();
    let mut initializing = false;
    let init_statuses = status.init_container_statuses.as_deref().unwrap_or(&[]);
    for (i, container) in init_statuses.iter().enumerate() {
        all.add(container);
        let sidecar = init_containers
            .iter()
            .find(|c| c.name == container.name)
            .is_some_and(is_sidecar);
        if sidecar {
            sidecar_restarts.add(container);
        }
        let state = container.state.as_ref();
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let waiting_reason = state
            .and_then(|s| s.waiting.as_ref())
            .and_then(|w| w.reason.as_deref())
            .filter(|r| !r.is_empty());
        if terminated.is_some_and(|t| t.exit_code == 0) {
            continue;
        }
        if sidecar && container.started == Some(true) {
            if container.ready {
                summary.ready += 1;
            }
            continue;
        }
        initializing = true;
        summary.reason = match (terminated, waiting_reason) {
            (Some(t), _) => match t.reason.as_deref().filter(|r| !r.is_empty()) {
                Some(reason) => format!("Init:{reason}"),
                None => match t.signal.filter(|s| *s != 0) {
                    Some(signal) => format!("Init:Signal:{signal}"),
                    None => format!("Init:ExitCode:{}", t.exit_code),
                },
            },
            (None, Some(reason)) if reason != "PodInitializing" => format!("Init:{reason}"),
            _ => format!("Init:{i}/{}", init_containers.len()),
        };
        break;
    }
    summary.restarts = all.count;
    summary.last_restart = all.last;

    if !initializing || has_condition(status, "Initialized") {
        let mut restarts = sidecar_restarts;
        let mut has_running = false;
        let statuses = status.container_statuses.as_deref().unwrap_or(&[]);
        // Upstream walks the statuses backwards, so the first container's reason wins.
        for container in statuses.iter().rev() {
            restarts.add(container);
            if let Some(reason) = container_reason(container) {
                summary.reason = reason;
            } else if container.ready
                && container
                    .state
                    .as_ref()
                    .is_some_and(|s| s.running.is_some())
            {
                has_running = true;
                summary.ready += 1;
            }
        }
        summary.restarts = restarts.count;
        summary.last_restart = restarts.last;
        if summary.reason == "Completed" && has_running {
            summary.reason = if has_condition(status, "Ready") {
                "Running".to_string()
            } else {
                "NotReady".to_string()
            };
        }
    }

    if pod.metadata.deletion_timestamp.is_some() {
        let phase = status.phase.as_deref().unwrap_or("");
        if status.reason.as_deref() == Some(NODE_UNREACHABLE_POD_REASON) {
            summary.reason = "Unknown".to_string();
        } else if phase != "Succeeded" && phase != "Failed" {
            summary.reason = "Terminating".to_string();
        }
    }
    summary
}

/// The phase, overridden by `status.reason`, overridden by a scheduling gate.
fn initial_reason(status: &PodStatus) -> String {
    let mut reason = status
        .reason
        .clone()
        .filter(|r| !r.is_empty())
        .or_else(|| status.phase.clone())
        .unwrap_or_default();
    let gated = conditions(status)
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"));
    if gated {
        reason = "SchedulingGated".to_string();
    }
    reason
}

/// The reason a regular container's state shows, if it is not simply running.
fn container_reason(container: &ContainerStatus) -> Option<String> {
    let state = container.state.as_ref()?;
    if let Some(reason) = state
        .waiting
        .as_ref()
        .and_then(|w| w.reason.as_deref())
        .filter(|r| !r.is_empty())
    {
        return Some(reason.to_string());
    }
    let terminated = state.terminated.as_ref()?;
    if let Some(reason) = terminated.reason.as_deref().filter(|r| !r.is_empty()) {
        return Some(reason.to_string());
    }
    Some(match terminated.signal.filter(|s| *s != 0) {
        Some(signal) => format!("Signal:{signal}"),
        None => format!("ExitCode:{}", terminated.exit_code),
    })
}

/// A restartable init container (`restartPolicy: Always`), counted like a regular container.
fn is_sidecar(container: &Container) -> bool {
    container.restart_policy.as_deref() == Some("Always")
}

fn conditions(status: &PodStatus) -> &[PodCondition] {
    status.conditions.as_deref().unwrap_or(&[])
}

fn has_condition(status: &PodStatus, condition: &str) -> bool {
    conditions(status)
        .iter()
        .any(|c| c.type_ == condition && c.status == "True")
}

/// `true/total` over the readiness gates, or `<none>`.
fn readiness_gates(pod: &Pod) -> String {
    let gates = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or(&[]);
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let status_conditions = pod.status.as_ref().map(conditions).unwrap_or(&[]);
    let passed = gates
        .iter()
        .filter(|gate| {
            status_conditions
                .iter()
                .find(|c| c.type_ == gate.condition_type)
                .is_some_and(|c| c.status == "True")
        })
        .count();
    format!("{passed}/{}", gates.len())
}

fn or_none(value: Option<&str>) -> String {
    match value {
        Some(v) if !v.is_empty() => v.to_string(),
        _ => "<none>".to_string(),
    }
}
