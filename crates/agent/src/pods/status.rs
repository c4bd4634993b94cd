//! A pod's status as the kubelet reports it (phase, conditions, container statuses, IPs), and
//! the task that writes it through `pods/<name>/status` whenever it changes.

use std::sync::Arc;

use serde_json::{json, Value};

use ferry_runtime::Client;

use crate::clock::now_time;
use crate::node::{error_chain, resource};
use crate::pods::worker::{PodEntry, Slot, State, STATUS_BATCH};

/// Writes the pod's status whenever its worker changes it, until the worker stops.
pub(crate) async fn write_loop(client: Client, entry: Arc<PodEntry>) {
    let mut written = Value::Null;
    loop {
        let stopping = entry.is_stopping();
        let status = pod_status(&entry);
        if status != written {
            let name = format!("{}/status", entry.pod_ref.name);
            let patch = json!({ "status": status });
            match client
                .merge_patch(
                    resource("pods"),
                    Some(&entry.pod_ref.namespace),
                    &name,
                    &patch,
                )
                .await
            {
                Ok(_) => written = status,
                Err(e) if e.is_not_found() => {}
                Err(e) => {
                    tracing::warn!(pod = %entry.pod_ref, error = %error_chain(&e), "update pod status")
                }
            }
        }
        if stopping {
            return;
        }
        tokio::select! {
            _ = entry.changed.notified() => {}
            _ = entry.stopping() => {}
            _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
        }
        tokio::time::sleep(STATUS_BATCH).await;
    }
}

/// The pod's status now.
pub(crate) fn pod_status(entry: &PodEntry) -> Value {
    let slots = entry
        .containers
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let policy = entry
        .pod
        .spec
        .as_ref()
        .and_then(|s| s.restart_policy.as_deref())
        .unwrap_or("Always")
        .to_string();
    let all_ready = !slots.is_empty() && slots.iter().all(|s| s.ready);
    let unready: Vec<&str> = slots
        .iter()
        .filter(|s| !s.ready)
        .map(|s| s.name.as_str())
        .collect();
    let ip = entry.ip.to_string();
    // The pod has its address once its sandbox exists (a writer holding the lock is about to
    // put it there).
    let sandbox_ready = entry.sandbox.try_read().map_or(true, |s| s.is_some());
    let conditions = vec![
        condition(entry, "PodReadyToStartContainers", sandbox_ready, None),
        condition(entry, "Initialized", true, None),
        condition(entry, "Ready", all_ready, not_ready_reason(&unready)),
        condition(
            entry,
            "ContainersReady",
            all_ready,
            not_ready_reason(&unready),
        ),
        condition(entry, "PodScheduled", true, None),
    ];
    let mut status = json!({
        "phase": phase(&slots, &policy),
        "conditions": conditions,
        "startTime": entry.start_time,
        "containerStatuses": slots.iter().map(|s| container_status(entry, s)).collect::<Vec<_>>(),
    });
    if sandbox_ready {
        status["podIP"] = json!(ip);
        status["podIPs"] = json!([{ "ip": ip }]);
    }
    if let Some(host_ip) = &entry.host_ip {
        status["hostIP"] = json!(host_ip);
        status["hostIPs"] = json!([{ "ip": host_ip }]);
    }
    status
}

/// `ContainersNotReady` with upstream's message, for the Ready and ContainersReady conditions.
fn not_ready_reason(unready: &[&str]) -> Option<(String, String)> {
    (!unready.is_empty()).then(|| {
        (
            "ContainersNotReady".to_string(),
            format!("containers with unready status: [{}]", unready.join(" ")),
        )
    })
}

fn condition(entry: &PodEntry, kind: &str, value: bool, why: Option<(String, String)>) -> Value {
    let since = {
        let mut transitions = entry.transitions.lock().unwrap_or_else(|p| p.into_inner());
        let current = transitions
            .entry(kind.to_string())
            .or_insert_with(|| (value, now_time()));
        if current.0 != value {
            *current = (value, now_time());
        }
        current.1.clone()
    };
    let mut condition = json!({
        "type": kind,
        "status": if value { "True" } else { "False" },
        "lastProbeTime": null,
        "lastTransitionTime": since,
    });
    if let Some((reason, message)) = why.filter(|_| !value) {
        condition["reason"] = json!(reason);
        condition["message"] = json!(message);
    }
    condition
}

/// The kubelet's `getPhase` for a pod without init containers.
fn phase(slots: &[Slot], policy: &str) -> &'static str {
    let (mut running, mut waiting, mut stopped, mut failed, mut succeeded) = (0, 0, 0, 0, 0);
    for slot in slots {
        match &slot.state {
            State::Running { .. } => running += 1,
            State::Terminated { exit_code, .. } => {
                stopped += 1;
                if *exit_code == 0 {
                    succeeded += 1;
                } else {
                    failed += 1;
                }
            }
            State::Waiting { .. } if slot.last_state.is_some() || slot.restart_count > 0 => {
                stopped += 1
            }
            State::Waiting { .. } => waiting += 1,
        }
    }
    let restarting = policy == "Always" || (failed > 0 && policy == "OnFailure");
    if waiting > 0 {
        "Pending"
    } else if running > 0 || (stopped > 0 && restarting) {
        "Running"
    } else if stopped > 0 && failed > 0 {
        "Failed"
    } else if stopped > 0 && succeeded == stopped {
        "Succeeded"
    } else {
        "Pending"
    }
}

fn container_status(entry: &PodEntry, slot: &Slot) -> Value {
    let mut status = json!({
        "name": slot.name,
        "image": slot.image,
        "imageID": "",
        "ready": slot.ready,
        "restartCount": slot.restart_count,
        "started": slot.started && matches!(slot.state, State::Running { .. }),
        "state": state_json(&slot.state),
        "lastState": slot.last_state.as_ref().map_or(json!({}), state_json),
    });
    if !slot.instances.is_empty() {
        status["containerID"] = json!(format!(
            "ferry://{}-{}-{}",
            entry.uid,
            slot.name,
            slot.instances.len() - 1
        ));
    }
    status
}

fn state_json(state: &State) -> Value {
    match state {
        State::Waiting { reason, message } => {
            let mut waiting = json!({ "reason": reason });
            if let Some(message) = message {
                waiting["message"] = json!(message);
            }
            json!({ "waiting": waiting })
        }
        State::Running { started_at } => json!({"running": {"startedAt": started_at}}),
        State::Terminated {
            exit_code,
            reason,
            message,
            started_at,
            finished_at,
        } => {
            let mut terminated = json!({
                "exitCode": exit_code,
                "reason": reason,
                "startedAt": started_at,
                "finishedAt": finished_at,
            });
            if let Some(message) = message {
                terminated["message"] = json!(message);
            }
            json!({ "terminated": terminated })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slot(state: State, restarts: i32) -> Slot {
        Slot {
            name: "main".into(),
            image: "busybox".into(),
            state,
            last_state: None,
            restart_count: restarts,
            ready: false,
            started: false,
            env: Vec::new(),
            instances: Vec::new(),
        }
    }

    fn waiting() -> State {
        State::Waiting {
            reason: "ContainerCreating".into(),
            message: None,
        }
    }

    fn running() -> State {
        State::Running {
            started_at: String::new(),
        }
    }

    fn exited(code: i32) -> State {
        State::Terminated {
            exit_code: code,
            reason: String::new(),
            message: None,
            started_at: String::new(),
            finished_at: String::new(),
        }
    }

    #[test]
    fn phases_follow_the_kubelet() {
        assert_eq!(phase(&[slot(waiting(), 0)], "Always"), "Pending");
        assert_eq!(
            phase(&[slot(running(), 0), slot(waiting(), 0)], "Always"),
            "Pending"
        );
        assert_eq!(phase(&[slot(running(), 0)], "Always"), "Running");
        assert_eq!(phase(&[slot(exited(0), 0)], "Never"), "Succeeded");
        assert_eq!(phase(&[slot(exited(1), 0)], "Never"), "Failed");
        assert_eq!(phase(&[slot(exited(1), 0)], "OnFailure"), "Running");
        assert_eq!(phase(&[slot(exited(0), 0)], "OnFailure"), "Succeeded");
        assert_eq!(phase(&[slot(exited(0), 0)], "Always"), "Running");
        // Waiting in back-off after a crash counts as stopped, not pending.
        assert_eq!(phase(&[slot(waiting(), 2)], "Always"), "Running");
    }

    #[test]
    fn unready_containers_are_named() {
        assert_eq!(
            not_ready_reason(&["a", "b"]),
            Some((
                "ContainersNotReady".to_string(),
                "containers with unready status: [a b]".to_string()
            ))
        );
        assert_eq!(not_ready_reason(&[]), None);
    }
}
