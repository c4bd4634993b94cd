//! End-to-end: workloads, scheduling and nodes with the real kubectl against `ferry server` in a
//! lab network namespace. There is no node agent here: the test plays the kubelet, creating
//! Nodes by hand, patching their status and Leases, and marking pods Ready through
//! `pods/status`, as the agent will.

mod support;

use std::collections::BTreeSet;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use support::Lab;

/// Long enough that hand-made nodes never go stale during a test.
const STEADY_NODES: &[&str] = &["--node-monitor-grace-period", "1h"];
/// `generateName` suffixes use apimachinery's alphabet.
const SUFFIX_ALPHABET: &str = "bcdfghjklmnpqrstvwxz2456789";
const WAIT: Duration = Duration::from_secs(30);

const KUBIA_RS: &str = "apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: kubia
spec:
  replicas: 3
  selector:
    matchLabels:
      app: kubia
  template:
    metadata:
      labels:
        app: kubia
    spec:
      containers:
      - name: kubia
        image: luksa/kubia
";

const KUBIA_RC: &str = "apiVersion: v1
kind: ReplicationController
metadata:
  name: kubia-rc
spec:
  replicas: 2
  selector:
    app: kubia-rc
  template:
    metadata:
      labels:
        app: kubia-rc
    spec:
      containers:
      - name: kubia
        image: luksa/kubia
";

/// Now as Kubernetes writes it, with `fraction` digits of sub-second precision.
fn timestamp(fraction: bool) -> String {
    let format = if fraction {
        "+%Y-%m-%dT%H:%M:%S.%6NZ"
    } else {
        "+%Y-%m-%dT%H:%M:%SZ"
    };
    let out = Command::new("date")
        .args(["-u", format])
        .output()
        .expect("date");
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Registers a Ready node, as a kubelet does: the Node, then its status.
fn add_node(lab: &Lab, name: &str, ip: &str, labels: &str) {
    lab.apply(&format!(
        "apiVersion: v1\nkind: Node\nmetadata:\n  name: {name}\n  labels:\n    kubernetes.io/hostname: {name}\n{labels}"
    ));
    post_node_status(lab, name, ip);
}

fn post_node_status(lab: &Lab, name: &str, ip: &str) {
    let now = timestamp(false);
    let status = format!(
        r#"{{"status":{{"conditions":[{{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status","lastHeartbeatTime":"{now}","lastTransitionTime":"{now}"}}],
        "addresses":[{{"type":"InternalIP","address":"{ip}"}},{{"type":"Hostname","address":"{name}"}}],
        "nodeInfo":{{"machineID":"m","systemUUID":"s","bootID":"b","kernelVersion":"6.1.0","osImage":"Debian GNU/Linux 12 (bookworm)","containerRuntimeVersion":"ferry://0.1.0","kubeletVersion":"v1.32.4","kubeProxyVersion":"v1.32.4","operatingSystem":"linux","architecture":"amd64"}}}}}}"#
    );
    lab.ok(&[
        "patch",
        "node",
        name,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}

/// Renews (or creates) a node's Lease in `kube-node-lease`.
fn renew_lease(lab: &Lab, node: &str) {
    lab.apply(&format!(
        "apiVersion: coordination.k8s.io/v1\nkind: Lease\nmetadata:\n  name: {node}\n  namespace: kube-node-lease\nspec:\n  holderIdentity: {node}\n  leaseDurationSeconds: 40\n  renewTime: \"{}\"\n",
        timestamp(true)
    ));
}

/// Marks a pod Running and Ready, as the kubelet does once its containers pass readiness.
fn mark_ready(lab: &Lab, pod: &str) {
    let now = timestamp(false);
    let status = format!(
        r#"{{"status":{{"phase":"Running","conditions":[{{"type":"PodScheduled","status":"True","lastTransitionTime":"{now}"}},{{"type":"Ready","status":"True","lastTransitionTime":"{now}"}}]}}}}"#
    );
    lab.ok(&[
        "patch",
        "pod",
        pod,
        "--subresource=status",
        "--type=merge",
        "-p",
        &status,
    ]);
}

fn lines(text: &str) -> Vec<String> {
    text.split_whitespace().map(str::to_string).collect()
}

/// The pods with `label`: name, and whether it is terminating.
fn pod_list(lab: &Lab, label: &str) -> Vec<(String, bool)> {
    let out = lab.ok(&[
        "get",
        "pods",
        "-l",
        label,
        "-o",
        "jsonpath={range .items[*]}{.metadata.name}={.metadata.deletionTimestamp}{\"\\n\"}{end}",
    ]);
    lines(&out)
        .into_iter()
        .filter_map(|line| {
            let (name, deleting) = line.split_once('=')?;
            Some((name.to_string(), !deleting.is_empty()))
        })
        .collect()
}

/// Names of the pods with `label`, not being deleted.
fn pods(lab: &Lab, label: &str) -> Vec<String> {
    pod_list(lab, label)
        .into_iter()
        .filter(|(_, deleting)| !deleting)
        .map(|(name, _)| name)
        .collect()
}

/// Finishes deleting terminating pods, as their node's kubelet does once their containers
/// have stopped (a DELETE with grace period 0).
fn finish_terminating(lab: &Lab, label: &str) {
    for (name, deleting) in pod_list(lab, label) {
        if deleting {
            lab.kubectl(&["delete", "pod", &name, "--grace-period=0", "--force"]);
        }
    }
}

fn field(lab: &Lab, kind: &str, name: &str, path: &str) -> String {
    lab.ok(&["get", kind, name, "-o", &format!("jsonpath={path}")])
}

fn generated_from(name: &str, prefix: &str) -> bool {
    name.strip_prefix(prefix)
        .is_some_and(|s| s.len() == 5 && s.chars().all(|c| SUFFIX_ALPHABET.contains(c)))
}

#[test]
fn replica_set_pods_are_named_owned_scheduled_and_replaced() {
    let lab = Lab::start_with(STEADY_NODES);
    add_node(&lab, "node1", "172.18.0.2", "");
    add_node(&lab, "node2", "172.18.0.3", "");
    lab.apply(KUBIA_RS);
    lab.eventually("3 scheduled kubia pods", WAIT, || {
        let names = pods(&lab, "app=kubia");
        names.len() == 3
            && names
                .iter()
                .all(|p| !field(&lab, "pod", p, "{.spec.nodeName}").is_empty())
    });
    let names = pods(&lab, "app=kubia");
    let mut nodes = BTreeSet::new();
    for p in &names {
        assert!(generated_from(p, "kubia-"), "{p}");
        let owner = field(
            &lab,
            "pod",
            p,
            "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name} {.metadata.ownerReferences[0].controller} {.metadata.ownerReferences[0].blockOwnerDeletion}",
        );
        assert_eq!(owner, "ReplicaSet/kubia true true");
        assert_eq!(
            field(
                &lab,
                "pod",
                p,
                "{.status.conditions[?(@.type==\"PodScheduled\")].status}"
            ),
            "True"
        );
        nodes.insert(field(&lab, "pod", p, "{.spec.nodeName}"));
    }
    assert_eq!(nodes.into_iter().collect::<Vec<_>>(), ["node1", "node2"]);
    let described = lab.ok(&["describe", "pod", &names[0]]);
    let node = field(&lab, "pod", &names[0], "{.spec.nodeName}");
    assert!(
        described.contains("Normal  Scheduled")
            && described.contains("default-scheduler")
            && described.contains(&format!(
                "Successfully assigned default/{} to {node}",
                names[0]
            )),
        "{described}"
    );
    let rs_events = lab.ok(&["describe", "rs", "kubia"]);
    assert!(
        rs_events.contains("SuccessfulCreate")
            && rs_events.contains(&format!("Created pod: {}", names[0])),
        "{rs_events}"
    );

    // A bound pod cannot be bound again.
    let binding = format!(
        r#"{{"apiVersion":"v1","kind":"Binding","metadata":{{"name":"{}"}},"target":{{"kind":"Node","name":"node9"}}}}"#,
        names[0]
    );
    let conflict = lab.kubectl_stdin(
        &[
            "create",
            "--raw",
            &format!("/api/v1/namespaces/default/pods/{}/binding", names[0]),
            "-f",
            "-",
        ],
        &binding,
    );
    let stderr = String::from_utf8_lossy(&conflict.stderr);
    assert!(
        stderr.contains(&format!("pod {} is already assigned to node", names[0])),
        "{stderr}"
    );

    for p in &names {
        mark_ready(&lab, p);
    }
    lab.eventually("3 ready replicas", WAIT, || {
        field(&lab, "rs", "kubia", "{.status.replicas} {.status.readyReplicas} {.status.availableReplicas} {.status.fullyLabeledReplicas}")
            == "3 3 3 3"
    });
    let row = support::columns(&lab.ok(&["get", "rs", "kubia", "--no-headers"]));
    assert_eq!(row[0][..4], ["kubia", "3", "3", "3"]);

    // A bound pod terminates gracefully: the kubelet (here, the test) finishes the deletion.
    lab.ok(&["delete", "pod", &names[0], "--wait=false"]);
    finish_terminating(&lab, "app=kubia");
    lab.eventually("a replacement pod", WAIT, || {
        let now = pods(&lab, "app=kubia");
        now.len() == 3 && !now.contains(&names[0])
    });

    lab.ok(&["scale", "rs", "kubia", "--replicas=5"]);
    lab.eventually("5 pods", WAIT, || pods(&lab, "app=kubia").len() == 5);
    lab.ok(&["scale", "rs", "kubia", "--replicas=1"]);
    lab.eventually("1 pod", WAIT, || pods(&lab, "app=kubia").len() == 1);
    // Not-ready pods go first: the survivor is one of the Ready ones.
    let survivor = pods(&lab, "app=kubia");
    assert!(
        names[1..].contains(&survivor[0]),
        "{survivor:?} of {names:?}"
    );
    let deleted = lab.ok(&["describe", "rs", "kubia"]);
    assert!(deleted.contains("SuccessfulDelete"), "{deleted}");

    lab.ok(&["delete", "rs", "kubia"]);
    lab.eventually("pods collected", WAIT, || {
        pods(&lab, "app=kubia").is_empty()
    });
}

#[test]
fn replication_controller_keeps_and_adopts_its_pods() {
    let mut lab = Lab::start_with(STEADY_NODES);
    add_node(&lab, "node1", "172.18.0.2", "");
    lab.apply(KUBIA_RC);
    lab.eventually("2 rc pods", WAIT, || pods(&lab, "app=kubia-rc").len() == 2);
    let names = pods(&lab, "app=kubia-rc");
    for p in &names {
        assert!(generated_from(p, "kubia-rc-"), "{p}");
        assert_eq!(
            field(
                &lab,
                "pod",
                p,
                "{.metadata.ownerReferences[0].kind}/{.metadata.ownerReferences[0].name}"
            ),
            "ReplicationController/kubia-rc"
        );
    }
    lab.eventually("rc status", WAIT, || {
        field(
            &lab,
            "rc",
            "kubia-rc",
            "{.status.replicas} {.status.observedGeneration}",
        ) == "2 1"
    });
    // Orphaned pods are adopted by the next controller that selects them, not replaced.
    lab.ok(&["delete", "rc", "kubia-rc", "--cascade=orphan"]);
    lab.eventually("orphaned pods", WAIT, || {
        names
            .iter()
            .all(|p| field(&lab, "pod", p, "{.metadata.ownerReferences}").is_empty())
    });
    lab.apply(KUBIA_RC);
    let uid = field(&lab, "rc", "kubia-rc", "{.metadata.uid}");
    lab.eventually("pods adopted", WAIT, || {
        names
            .iter()
            .all(|p| field(&lab, "pod", p, "{.metadata.ownerReferences[0].uid}") == uid)
    });
    assert_eq!(pods(&lab, "app=kubia-rc"), names);
    // Controllers keep nothing but what the objects say: after a restart the same pods stay.
    lab.restart();
    lab.ok(&["scale", "rc", "kubia-rc", "--replicas=3"]);
    lab.eventually("a third pod after the restart", WAIT, || {
        pods(&lab, "app=kubia-rc").len() == 3
    });
    let after = pods(&lab, "app=kubia-rc");
    assert!(
        names.iter().all(|p| after.contains(p)),
        "{after:?} lost some of {names:?}"
    );
}

#[test]
fn deployment_rolls_out_a_new_image_as_pods_become_ready() {
    let lab = Lab::start_with(STEADY_NODES);
    add_node(&lab, "node1", "172.18.0.2", "");
    add_node(&lab, "node2", "172.18.0.3", "");
    assert_eq!(
        lab.ok(&[
            "create",
            "deployment",
            "kubia",
            "--image=luksa/kubia",
            "--replicas=3"
        ]),
        "deployment.apps/kubia created\n"
    );
    lab.eventually("3 pods of the first ReplicaSet", WAIT, || {
        pods(&lab, "app=kubia").len() == 3
    });
    let first_rs = lab.ok(&[
        "get",
        "rs",
        "-l",
        "app=kubia",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ]);
    let hash = field(
        &lab,
        "rs",
        &first_rs,
        "{.metadata.labels.pod-template-hash}",
    );
    assert_eq!(first_rs, format!("kubia-{hash}"));
    assert!(
        !hash.is_empty() && hash.chars().all(|c| "456789bcdf".contains(c)),
        "{hash}"
    );
    assert_eq!(
        field(&lab, "rs", &first_rs, "{.spec.selector.matchLabels.pod-template-hash} {.metadata.ownerReferences[0].kind} {.metadata.annotations.deployment\\.kubernetes\\.io/revision}"),
        format!("{hash} Deployment 1")
    );
    for p in pods(&lab, "app=kubia") {
        assert!(generated_from(&p, &format!("{first_rs}-")), "{p}");
        mark_ready(&lab, &p);
    }
    let done = lab.ok(&["rollout", "status", "deployment/kubia", "--timeout=30s"]);
    assert_eq!(done, "deployment \"kubia\" successfully rolled out\n");

    lab.ok(&["set", "image", "deployment/kubia", "kubia=luksa/kubia:v2"]);
    let mut watcher =
        lab.kubectl_spawn(&["rollout", "status", "deployment/kubia", "--timeout=60s"]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut most_pods = 0;
    let status = loop {
        if let Some(status) = watcher.try_wait().expect("rollout status") {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "rollout did not finish; log:\n{}",
            lab.log()
        );
        let current = pods(&lab, "app=kubia");
        most_pods = most_pods.max(current.len());
        for p in current {
            if field(
                &lab,
                "pod",
                &p,
                "{.status.conditions[?(@.type==\"Ready\")].status}",
            ) != "True"
            {
                mark_ready(&lab, &p);
            }
        }
    };
    let mut output = String::new();
    if let Some(mut stdout) = watcher.stdout.take() {
        use std::io::Read;
        stdout.read_to_string(&mut output).expect("rollout output");
    }
    assert!(status.success(), "{output}\n{}", lab.log());
    assert!(
        output.ends_with("deployment \"kubia\" successfully rolled out\n"),
        "{output}"
    );
    // maxSurge 25% of 3 rounds up to 1: never more than 4 pods.
    assert!(most_pods <= 4, "{most_pods} pods during the rollout");
    assert_eq!(
        field(&lab, "deploy", "kubia", "{.metadata.annotations.deployment\\.kubernetes\\.io/revision} {.status.replicas} {.status.updatedReplicas} {.status.readyReplicas} {.status.availableReplicas}"),
        "2 3 3 3 3"
    );
    assert_eq!(
        field(&lab, "deploy", "kubia", "{.status.conditions[?(@.type==\"Available\")].reason} {.status.conditions[?(@.type==\"Progressing\")].reason}"),
        "MinimumReplicasAvailable NewReplicaSetAvailable"
    );
    assert_eq!(field(&lab, "rs", &first_rs, "{.spec.replicas}"), "0");
    for p in pods(&lab, "app=kubia") {
        assert_eq!(
            field(&lab, "pod", &p, "{.spec.containers[0].image}"),
            "luksa/kubia:v2"
        );
    }
    let events = lab.ok(&["describe", "deployment", "kubia"]);
    assert!(
        events.contains(&format!("Scaled down replica set {first_rs} from 1 to 0")),
        "{events}"
    );

    lab.ok(&["scale", "deployment", "kubia", "--replicas=5"]);
    lab.eventually("5 pods after scaling", WAIT, || {
        pods(&lab, "app=kubia").len() == 5
    });
}

#[test]
fn a_recreate_deployment_waits_for_the_old_pods_to_be_gone() {
    let lab = Lab::start_with(STEADY_NODES);
    add_node(&lab, "node1", "172.18.0.2", "");
    lab.apply(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 2\n  strategy:\n    type: Recreate\n  selector:\n    matchLabels:\n      app: web\n  template:\n    metadata:\n      labels:\n        app: web\n    spec:\n      containers:\n      - name: web\n        image: nginx\n",
    );
    lab.eventually("2 bound web pods", WAIT, || {
        let names = pods(&lab, "app=web");
        names.len() == 2
            && names
                .iter()
                .all(|p| !field(&lab, "pod", p, "{.spec.nodeName}").is_empty())
    });
    let old = pods(&lab, "app=web");
    lab.ok(&["set", "image", "deployment/web", "web=nginx:2"]);
    lab.eventually("the old pods terminating", WAIT, || {
        let list = pod_list(&lab, "app=web");
        old.iter().all(|p| list.contains(&(p.clone(), true)))
    });
    // Nothing new starts while old pods still run.
    assert!(
        pods(&lab, "app=web").is_empty(),
        "{:?}",
        pod_list(&lab, "app=web")
    );
    finish_terminating(&lab, "app=web");
    lab.eventually("2 new pods", WAIT, || {
        let names = pods(&lab, "app=web");
        names.len() == 2
            && names
                .iter()
                .all(|p| field(&lab, "pod", p, "{.spec.containers[0].image}") == "nginx:2")
    });
}

#[test]
fn nodes_get_pod_cidrs_and_go_unknown_without_heartbeats() {
    let lab = Lab::start_with(&["--node-monitor-grace-period", "3s"]);
    add_node(&lab, "alive", "172.18.0.2", "");
    renew_lease(&lab, "alive");
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        // The kubelet of `alive` keeps renewing its Lease; `quiet`'s stops after one renewal.
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                renew_lease(&lab, "alive");
                std::thread::sleep(Duration::from_millis(500));
            }
        });
        quiet_node_goes_unknown(&lab);
        stop.store(true, Ordering::Relaxed);
    });
}

fn quiet_node_goes_unknown(lab: &Lab) {
    add_node(lab, "quiet", "172.18.0.3", "    disk: ssd\n");
    renew_lease(lab, "quiet");
    lab.eventually("pod CIDRs", WAIT, || {
        let cidrs = lab.ok(&["get", "nodes", "-o", "jsonpath={.items[*].spec.podCIDR}"]);
        let mut cidrs = lines(&cidrs);
        cidrs.sort();
        cidrs == ["10.244.0.0/24", "10.244.1.0/24"]
    });
    assert_eq!(
        field(lab, "node", "alive", "{.spec.podCIDRs[0]}"),
        field(lab, "node", "alive", "{.spec.podCIDR}")
    );
    let wide = support::columns(&lab.ok(&["get", "nodes", "-o", "wide", "--no-headers"]));
    assert_eq!(wide[0][..2], ["alive", "Ready"]);
    assert_eq!(wide[0][4..7], ["v1.32.4", "172.18.0.2", "<none>"]);

    lab.eventually("the quiet node Unknown", WAIT, || {
        field(
            lab,
            "node",
            "quiet",
            "{.status.conditions[?(@.type==\"Ready\")].status}",
        ) == "Unknown"
    });
    assert_eq!(
        field(lab, "node", "quiet", "{.status.conditions[?(@.type==\"Ready\")].reason}/{.status.conditions[?(@.type==\"Ready\")].message}"),
        "NodeStatusUnknown/Kubelet stopped posting node status."
    );
    assert_eq!(
        field(
            lab,
            "node",
            "alive",
            "{.status.conditions[?(@.type==\"Ready\")].status}"
        ),
        "True"
    );
    let row = support::columns(&lab.ok(&["get", "node", "quiet", "--no-headers"]));
    assert_eq!(row[0][1], "NotReady");
    let described = lab.ok(&["describe", "node", "quiet"]);
    assert!(described.contains("NodeNotReady"), "{described}");

    // Only the quiet node has the label; it is unreachable now.
    lab.apply("apiVersion: v1\nkind: Pod\nmetadata:\n  name: picky\nspec:\n  nodeSelector:\n    disk: ssd\n  containers:\n  - name: c\n    image: nginx\n");
    let expected = "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, 1 node(s) had untolerated taint {node.kubernetes.io/unreachable: }. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling.";
    lab.eventually("picky unschedulable", WAIT, || {
        field(
            lab,
            "pod",
            "picky",
            "{.status.conditions[?(@.type==\"PodScheduled\")].message}",
        ) == expected
    });
    assert_eq!(
        field(lab, "pod", "picky", "{.status.conditions[?(@.type==\"PodScheduled\")].status} {.status.conditions[?(@.type==\"PodScheduled\")].reason}"),
        "False Unschedulable"
    );
    let described = lab.ok(&["describe", "pod", "picky"]);
    assert!(
        described.contains("Warning  FailedScheduling"),
        "{described}"
    );
}

/// A pod pinned by label to `node`, with extra pod spec lines.
fn pinned_pod(name: &str, node: &str, extra: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  labels:\n    lost: \"yes\"\nspec:\n  nodeSelector:\n    kubernetes.io/hostname: {node}\n  containers:\n  - name: c\n    image: nginx\n{extra}"
    )
}

fn unreachable_toleration(seconds: &str) -> String {
    format!("  tolerations:\n  - key: node.kubernetes.io/unreachable\n    operator: Exists\n    effect: NoExecute\n{seconds}")
}

fn condition(lab: &Lab, pod: &str, kind: &str, field_name: &str) -> String {
    field(
        lab,
        "pod",
        pod,
        &format!("{{.status.conditions[?(@.type==\"{kind}\")].{field_name}}}"),
    )
}

fn terminating(lab: &Lab, pod: &str) -> bool {
    !field(lab, "pod", pod, "{.metadata.deletionTimestamp}").is_empty()
}

#[test]
fn a_lost_node_is_tainted_its_pods_evicted_and_collected_when_it_goes() {
    let lab = Lab::start_with(&["--node-monitor-grace-period", "3s"]);
    add_node(&lab, "alive", "172.18.0.2", "");
    add_node(&lab, "lost", "172.18.0.3", "");
    let (stop, lost_quiet) = (AtomicBool::new(false), AtomicBool::new(false));
    std::thread::scope(|scope| {
        // Both kubelets renew their Leases until `lost`'s goes quiet.
        scope.spawn(|| {
            while !stop.load(Ordering::Relaxed) {
                renew_lease(&lab, "alive");
                if !lost_quiet.load(Ordering::Relaxed) {
                    renew_lease(&lab, "lost");
                }
                std::thread::sleep(Duration::from_millis(300));
            }
        });
        lost_node_scenario(&lab, &lost_quiet);
        stop.store(true, Ordering::Relaxed);
    });
}

fn lost_node_scenario(lab: &Lab, lost_quiet: &AtomicBool) {
    // Admission gives a pod without tolerations the default ones.
    lab.apply(&pinned_pod("defaults", "lost", ""));
    assert_eq!(
        field(lab, "pod", "defaults", "{range .spec.tolerations[*]}{.key} {.operator} {.effect} {.tolerationSeconds};{end}"),
        "node.kubernetes.io/not-ready Exists NoExecute 300;node.kubernetes.io/unreachable Exists NoExecute 300;"
    );
    lab.apply(&pinned_pod(
        "brief",
        "lost",
        &unreachable_toleration("    tolerationSeconds: 2\n"),
    ));
    lab.apply(&pinned_pod("forever", "lost", &unreachable_toleration("")));
    lab.apply(&pinned_pod("intolerant", "alive", ""));
    let all = ["defaults", "brief", "forever", "intolerant"];
    lab.eventually("every pod bound", WAIT, || {
        all.iter()
            .all(|p| !field(lab, "pod", p, "{.spec.nodeName}").is_empty())
    });
    for p in all {
        mark_ready(lab, p);
    }

    // A NoExecute taint nothing tolerates evicts at once; the controller keeps other taints.
    lab.ok(&["taint", "node", "alive", "dedicated=db:NoExecute"]);
    lab.eventually("intolerant evicted", WAIT, || {
        terminating(lab, "intolerant")
    });
    assert_eq!(
        condition(lab, "intolerant", "DisruptionTarget", "reason"),
        "DeletionByTaintManager"
    );
    let events = lab.ok(&[
        "get",
        "events",
        "--field-selector",
        "reason=TaintManagerEviction",
    ]);
    assert!(
        events.contains("Marking for deletion Pod default/intolerant"),
        "{events}"
    );
    lab.ok(&["taint", "node", "alive", "dedicated=db:NoExecute-"]);

    // The lost node's kubelet stops: Unknown, both unreachable taints, pods not Ready.
    lost_quiet.store(true, Ordering::Relaxed);
    lab.eventually("the lost node's unreachable taints", WAIT, || {
        field(
            lab,
            "node",
            "lost",
            "{range .spec.taints[*]}{.key}:{.effect};{end}",
        ) == "node.kubernetes.io/unreachable:NoSchedule;node.kubernetes.io/unreachable:NoExecute;"
    });
    assert_eq!(
        field(
            lab,
            "node",
            "lost",
            "{.status.conditions[?(@.type==\"Ready\")].status}"
        ),
        "Unknown"
    );
    assert!(!field(
        lab,
        "node",
        "lost",
        "{.spec.taints[?(@.effect==\"NoExecute\")].timeAdded}"
    )
    .is_empty());
    assert_eq!(field(lab, "node", "alive", "{.spec.taints}"), "");
    for p in ["defaults", "brief", "forever"] {
        lab.eventually(&format!("{p} not Ready"), WAIT, || {
            condition(lab, p, "Ready", "status") == "False"
        });
    }

    // Two seconds of toleration, then eviction; the others tolerate longer or for ever.
    lab.eventually("brief evicted", WAIT, || terminating(lab, "brief"));
    assert_eq!(
        condition(lab, "brief", "DisruptionTarget", "message"),
        "Taint manager: deleting due to NoExecute taint"
    );
    assert!(!terminating(lab, "defaults") && !terminating(lab, "forever"));

    // The Node goes: after pod GC's quarantine its pods are force-deleted, Terminating or not.
    lab.ok(&["delete", "node", "lost"]);
    lab.eventually("the lost node's pods gone", Duration::from_secs(90), || {
        let left = lab.ok(&["get", "pods", "-o", "name"]);
        !["defaults", "brief", "forever"]
            .iter()
            .any(|p| left.contains(&format!("pod/{p}\n")))
    });
}
