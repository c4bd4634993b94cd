//! Table tests of the EndpointSlice reconciler: contents, splitting, churn, placeholders.

use serde_json::{json, Value};

use super::*;

fn service(extra: Value) -> Service {
    let mut spec = json!({"selector": {"app": "kubia"}, "clusterIP": "10.96.0.20", "ipFamilies": ["IPv4"],
        "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    serde_json::from_value(json!({
        "metadata": {"name": "kubia", "namespace": "default", "uid": "svc-uid", "labels": {"app": "kubia"}},
        "spec": spec,
    }))
    .unwrap()
}

/// A running pod on node-1; `extra` sections are merged into metadata, spec or status.
fn pod(name: &str, ip: &str, ready: bool, extra: Value) -> Pod {
    let mut p = json!({
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "labels": {"app": "kubia"}},
        "spec": {"nodeName": "node-1", "containers": [{"name": "c", "ports": [{"name": "http", "containerPort": 8080}]}]},
        "status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}]},
    });
    for (section, fields) in extra.as_object().cloned().unwrap_or_default() {
        if let (Some(target), Some(fields)) = (p[&section].as_object_mut(), fields.as_object()) {
            target.extend(fields.clone());
        }
    }
    serde_json::from_value(p).unwrap()
}

fn many(n: usize) -> Vec<Pod> {
    (0..n)
        .map(|i| {
            pod(
                &format!("p{i:03}"),
                &format!("10.244.{}.{}", i / 200, i % 200 + 1),
                true,
                json!({}),
            )
        })
        .collect()
}

fn nodes() -> BTreeMap<String, Option<String>> {
    BTreeMap::from([
        ("node-1".to_string(), Some("zone-a".to_string())),
        ("node-2".to_string(), None),
    ])
}

fn plan(svc: &Service, pods: &[Pod], existing: &[EndpointSlice]) -> SlicePlan {
    let refs: Vec<&Pod> = pods.iter().collect();
    let zones = nodes();
    let target = SliceTarget {
        service: svc,
        pods: &refs,
        nodes: &zones,
        max_endpoints_per_slice: MAX_ENDPOINTS_PER_SLICE,
        trigger_time: None,
    };
    desired_slices(&target, existing)
}

/// What the API server holds after the plan's writes; new slices are named `kubia-<n>`.
fn apply(plan: &SlicePlan, existing: &[EndpointSlice]) -> Vec<EndpointSlice> {
    let mut stored: BTreeMap<String, EndpointSlice> = existing
        .iter()
        .map(|s| (s.metadata.name.clone().unwrap(), s.clone()))
        .collect();
    for s in &plan.delete {
        stored.remove(s.metadata.name.as_ref().unwrap());
    }
    for s in &plan.update {
        stored.insert(s.metadata.name.clone().unwrap(), s.clone());
    }
    let mut next = stored.len();
    for s in &plan.create {
        let mut s = s.clone();
        while stored.contains_key(&format!("kubia-{next}")) {
            next += 1;
        }
        s.metadata.name = Some(format!("kubia-{next}"));
        s.metadata.resource_version = Some("1".into());
        stored.insert(s.metadata.name.clone().unwrap(), s);
    }
    stored.into_values().collect()
}

fn sizes(slices: &[EndpointSlice]) -> Vec<usize> {
    let mut sizes: Vec<usize> = slices.iter().map(|s| s.endpoints.len()).collect();
    sizes.sort_unstable();
    sizes
}

fn counts(plan: &SlicePlan) -> (usize, usize, usize) {
    (plan.create.len(), plan.update.len(), plan.delete.len())
}

#[test]
fn one_slice_holds_every_pod_with_its_conditions() {
    let deleting = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
    let pods = [
        pod(
            "a",
            "10.244.1.5",
            true,
            json!({"spec": {"hostname": "web-0", "subdomain": "kubia"}}),
        ),
        pod("b", "10.244.1.6", false, json!({})),
        pod("c", "10.244.1.7", true, deleting),
        pod(
            "d",
            "10.244.1.8",
            true,
            json!({"status": {"phase": "Failed"}}),
        ),
        pod(
            "e",
            "10.244.2.5",
            true,
            json!({"spec": {"nodeName": "node-2"}}),
        ),
    ];
    let p = plan(&service(json!({})), &pods, &[]);
    assert_eq!(counts(&p), (1, 0, 0));
    let target = |name: &str| json!({"kind": "Pod", "namespace": "default", "name": name, "uid": format!("uid-{name}")});
    assert_eq!(
        serde_json::to_value(&p.create[0]).unwrap(),
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {
                "generateName": "kubia-", "namespace": "default",
                "labels": {"app": "kubia", "endpointslice.kubernetes.io/managed-by": "endpointslice-controller.k8s.io",
                    "kubernetes.io/service-name": "kubia"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Service", "name": "kubia", "uid": "svc-uid",
                    "controller": true, "blockOwnerDeletion": true}],
            },
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["10.244.1.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
                 "hostname": "web-0", "nodeName": "node-1", "targetRef": target("a"), "zone": "zone-a"},
                {"addresses": ["10.244.1.6"], "conditions": {"ready": false, "serving": false, "terminating": false},
                 "nodeName": "node-1", "targetRef": target("b"), "zone": "zone-a"},
                {"addresses": ["10.244.1.7"], "conditions": {"ready": false, "serving": true, "terminating": true},
                 "nodeName": "node-1", "targetRef": target("c"), "zone": "zone-a"},
                {"addresses": ["10.244.2.5"], "conditions": {"ready": true, "serving": true, "terminating": false},
                 "nodeName": "node-2", "targetRef": target("e")},
            ],
            "ports": [{"name": "", "port": 8080, "protocol": "TCP"}],
        })
    );
}

#[test]
fn publish_not_ready_addresses_makes_every_endpoint_ready() {
    let deleting = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
    let pods = [pod("a", "10.244.1.5", false, deleting)];
    let p = plan(
        &service(json!({"publishNotReadyAddresses": true})),
        &pods,
        &[],
    );
    assert_eq!(
        serde_json::to_value(&p.create[0].endpoints[0].conditions).unwrap(),
        json!({"ready": true, "serving": false, "terminating": true})
    );
}

#[test]
fn pods_on_unknown_nodes_wait_unless_everything_is_published() {
    let pods = [pod(
        "a",
        "10.244.9.5",
        true,
        json!({"spec": {"nodeName": "node-9"}}),
    )];
    let p = plan(&service(json!({})), &pods, &[]);
    assert_eq!(p.missing_nodes, [("a".to_string(), "node-9".to_string())]);
    assert!(p.create[0].endpoints.is_empty());
    let p = plan(
        &service(json!({"publishNotReadyAddresses": true})),
        &pods,
        &[],
    );
    assert!(p.missing_nodes.is_empty());
    assert_eq!(p.create[0].endpoints[0].zone, None);
}

#[test]
fn more_than_a_hundred_endpoints_split_and_stay_put() {
    let svc = service(json!({}));
    let pods = many(250);
    let first = plan(&svc, &pods, &[]);
    assert_eq!(counts(&first), (3, 0, 0));
    let stored = apply(&first, &[]);
    assert_eq!(sizes(&stored), [50, 100, 100]);
    // Nothing changed: nothing to write.
    assert_eq!(counts(&plan(&svc, &pods, &stored)), (0, 0, 0));
    // One pod more: into the slice with room, in place.
    let more = many(251);
    let p = plan(&svc, &more, &stored);
    assert_eq!(counts(&p), (0, 1, 0));
    assert_eq!(p.update[0].endpoints.len(), 51);
    // One pod fewer: only its slice is rewritten.
    let p = plan(&svc, &pods[1..], &stored);
    assert_eq!(counts(&p), (0, 1, 0));
    assert_eq!(sizes(&apply(&p, &stored)), [50, 99, 100]);
    // A pod turning not ready updates its endpoint where it is.
    let mut flipped = pods.clone();
    flipped[120] = pod("p120", "10.244.0.121", false, json!({}));
    let p = plan(&svc, &flipped, &stored);
    assert_eq!(counts(&p), (0, 1, 0));
    assert_eq!(sizes(&apply(&p, &stored)), [50, 100, 100]);
}

#[test]
fn pods_mapping_a_named_port_differently_get_separate_slices() {
    let svc = service(
        json!({"ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}),
    );
    let ports = |n: i32| json!({"spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": n}]}]}});
    let pods = [
        pod("a", "10.244.1.5", true, ports(8080)),
        pod("b", "10.244.1.6", true, ports(9090)),
        pod("c", "10.244.1.7", true, ports(8080)),
    ];
    let p = plan(&svc, &pods, &[]);
    let mut by_port: Vec<(Value, usize)> = p
        .create
        .iter()
        .map(|s| (serde_json::to_value(&s.ports).unwrap(), s.endpoints.len()))
        .collect();
    by_port.sort_by_key(|(_, n)| *n);
    assert_eq!(
        by_port,
        [
            (
                json!([{"name": "http", "port": 9090, "protocol": "TCP"}]),
                1
            ),
            (
                json!([{"name": "http", "port": 8080, "protocol": "TCP"}]),
                2
            ),
        ]
    );
    // The 9090 pod goes: its slice is deleted, the other is left alone.
    let stored = apply(&p, &[]);
    let p = plan(&svc, &[pods[0].clone(), pods[2].clone()], &stored);
    assert_eq!(counts(&p), (0, 0, 1));
    assert_eq!(p.delete[0].endpoints.len(), 1);
}

#[test]
fn a_service_without_endpoints_keeps_one_placeholder() {
    let svc = service(json!({}));
    let p = plan(&svc, &[], &[]);
    assert_eq!(counts(&p), (1, 0, 0));
    assert_eq!(p.create[0].endpoints.len(), 0);
    assert_eq!(serde_json::to_value(&p.create[0].ports).unwrap(), json!([]));
    let stored = apply(&p, &[]);
    assert_eq!(counts(&plan(&svc, &[], &stored)), (0, 0, 0));
    // Pods arrive: the placeholder is recycled in place, not deleted and recreated.
    let p = plan(&svc, &many(3), &stored);
    assert_eq!(counts(&p), (0, 1, 0));
    assert_eq!(p.update[0].metadata.name, stored[0].metadata.name);
    assert_eq!(p.update[0].endpoints.len(), 3);
    // And when they all go, the slice becomes the placeholder again.
    let stored = apply(&p, &stored);
    let p = plan(&svc, &[], &stored);
    assert_eq!(counts(&p), (0, 1, 0));
    assert!(p.update[0].endpoints.is_empty());
}

#[test]
fn slices_of_a_namesake_are_replaced_and_label_drift_is_fixed() {
    let svc = service(json!({}));
    let pods = many(2);
    let stored = apply(&plan(&svc, &pods, &[]), &[]);
    let mut foreign = stored.clone();
    foreign[0].metadata.owner_references.as_mut().unwrap()[0].uid = "old-uid".into();
    let p = plan(&svc, &pods, &foreign);
    // Not recycled (owned by someone else): a new slice, the old one deleted.
    assert_eq!(counts(&p), (1, 0, 1));
    let mut relabelled = svc.clone();
    relabelled.metadata.labels = Some(BTreeMap::from([("app".into(), "kubia-v2".into())]));
    let p = plan(&relabelled, &pods, &stored);
    assert_eq!(counts(&p), (0, 1, 0));
    assert_eq!(
        p.update[0].metadata.labels.as_ref().unwrap()["app"],
        "kubia-v2"
    );
}

#[test]
fn headless_services_are_labelled_and_may_have_no_ports() {
    let svc = service(json!({"clusterIP": "None", "ports": null}));
    let p = plan(&svc, &many(1), &[]);
    let slice = &p.create[0];
    assert_eq!(
        slice.metadata.labels.as_ref().unwrap()[membership::HEADLESS_LABEL],
        ""
    );
    assert_eq!(slice.ports.as_deref(), Some(&[][..]));
    assert_eq!(slice.endpoints.len(), 1);
}

#[test]
fn prefer_close_hints_each_ready_endpoint_with_its_zone() {
    let svc = service(json!({"trafficDistribution": "PreferClose"}));
    let pods = [
        pod("a", "10.244.1.5", true, json!({})),
        pod("b", "10.244.1.6", false, json!({})),
    ];
    let p = plan(&svc, &pods, &[]);
    let hints: Vec<Value> = p.create[0]
        .endpoints
        .iter()
        .map(|e| serde_json::to_value(&e.hints).unwrap())
        .collect();
    assert_eq!(
        hints,
        [json!({"forZones": [{"name": "zone-a"}]}), Value::Null]
    );
    // Dropping the preference rewrites the slice without hints.
    let stored = apply(&p, &[]);
    let p = plan(&service(json!({})), &pods, &stored);
    assert_eq!(counts(&p), (0, 1, 0));
    assert!(p.update[0].endpoints.iter().all(|e| e.hints.is_none()));
}

#[test]
fn nothing_is_created_for_a_service_being_deleted() {
    let mut svc = service(json!({}));
    svc.metadata.deletion_timestamp = Some(clock::time("2024-01-01T00:00:00Z".parse().unwrap()));
    assert_eq!(counts(&plan(&svc, &many(3), &[])), (0, 0, 0));
}

#[test]
fn written_slices_carry_the_trigger_time() {
    let svc = service(json!({}));
    let pods = many(1);
    let refs: Vec<&Pod> = pods.iter().collect();
    let zones = nodes();
    let target = SliceTarget {
        service: &svc,
        pods: &refs,
        nodes: &zones,
        max_endpoints_per_slice: MAX_ENDPOINTS_PER_SLICE,
        trigger_time: Some("2024-01-01T00:00:00Z".parse().unwrap()),
    };
    let p = desired_slices(&target, &[]);
    assert_eq!(
        p.create[0].metadata.annotations.as_ref().unwrap()[membership::LAST_CHANGE_TRIGGER_TIME],
        "2024-01-01T00:00:00Z"
    );
}
