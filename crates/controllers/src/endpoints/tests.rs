//! Table tests of the Endpoints controller's pure parts.

use serde_json::{json, Value};

use super::*;

fn service(spec: Value) -> Service {
    let mut spec = spec;
    if spec.get("clusterIP").is_none() {
        spec["clusterIP"] = json!("10.96.0.20");
    }
    serde_json::from_value(json!({
        "metadata": {"name": "kubia", "namespace": "default", "uid": "svc-uid",
            "labels": {"app": "kubia"}, "creationTimestamp": "2024-01-01T00:00:00Z"},
        "spec": spec,
    }))
    .unwrap()
}

fn kubia(extra: Value) -> Service {
    let mut spec = json!({"selector": {"app": "kubia"}, "ports": [{"port": 80, "targetPort": 8080, "protocol": "TCP"}]});
    if let (Some(s), Some(e)) = (spec.as_object_mut(), extra.as_object()) {
        s.extend(e.clone());
    }
    service(spec)
}

/// A running pod on node-1; `extra` is merged into the pod (metadata, spec or status keys).
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

fn subsets(svc: &Service, pods: &[Pod]) -> Value {
    let refs: Vec<&Pod> = pods.iter().collect();
    serde_json::to_value(desired_endpoints(svc, &refs).subsets).unwrap()
}

fn address(name: &str, ip: &str) -> Value {
    json!({"ip": ip, "nodeName": "node-1",
        "targetRef": {"kind": "Pod", "namespace": "default", "name": name, "uid": format!("uid-{name}")}})
}

#[test]
fn ready_and_not_ready_pods_split_and_terminating_pods_leave() {
    let deleting = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
    let pods = [
        pod("b", "10.244.1.6", false, json!({})),
        pod("a", "10.244.1.5", true, json!({})),
        pod("gone", "10.244.1.7", true, deleting),
        pod(
            "done",
            "10.244.1.8",
            true,
            json!({"status": {"phase": "Succeeded"}}),
        ),
        pod(
            "pending",
            "",
            false,
            json!({"status": {"podIP": null, "podIPs": null}}),
        ),
    ];
    assert_eq!(
        subsets(&kubia(json!({})), &pods),
        json!([{
            "addresses": [address("a", "10.244.1.5")],
            "notReadyAddresses": [address("b", "10.244.1.6")],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }])
    );
}

#[test]
fn publish_not_ready_addresses_lists_every_pod_as_ready() {
    let deleting = json!({"metadata": {"deletionTimestamp": "2024-01-01T00:00:00Z"}});
    let pods = [
        pod("a", "10.244.1.5", false, json!({})),
        pod("b", "10.244.1.6", true, deleting),
    ];
    let svc = kubia(json!({"publishNotReadyAddresses": true}));
    assert_eq!(
        subsets(&svc, &pods),
        json!([{
            "addresses": [address("a", "10.244.1.5"), address("b", "10.244.1.6")],
            "ports": [{"port": 8080, "protocol": "TCP"}],
        }])
    );
}

#[test]
fn the_old_tolerate_unready_annotation_does_nothing() {
    let mut svc = kubia(json!({}));
    svc.metadata.annotations = Some(BTreeMap::from([(
        "service.alpha.kubernetes.io/tolerate-unready-endpoints".to_string(),
        "true".to_string(),
    )]));
    let pods = [pod("a", "10.244.1.5", false, json!({}))];
    assert_eq!(
        subsets(&svc, &pods)[0]["notReadyAddresses"],
        json!([address("a", "10.244.1.5")])
    );
}

#[test]
fn named_target_ports_resolve_per_pod_into_separate_subsets() {
    let svc = kubia(json!({"ports": [
        {"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"},
        {"name": "admin", "port": 81, "targetPort": "admin", "protocol": "TCP"}]}));
    let ports = |http: i32| json!({"spec": {"containers": [{"name": "c", "ports": [{"name": "http", "containerPort": http}]}]}});
    let pods = [
        pod("a", "10.244.1.5", true, ports(8080)),
        pod("b", "10.244.2.5", true, ports(9090)),
        pod(
            "c",
            "10.244.3.5",
            true,
            json!({"spec": {"containers": [{"name": "c", "ports": [
                {"name": "http", "containerPort": 8080}, {"name": "admin", "containerPort": 7000}]}]}}),
        ),
    ];
    assert_eq!(
        subsets(&svc, &pods),
        json!([
            {"addresses": [address("a", "10.244.1.5"), address("c", "10.244.3.5")],
             "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}]},
            {"addresses": [address("b", "10.244.2.5")],
             "ports": [{"name": "http", "port": 9090, "protocol": "TCP"}]},
            {"addresses": [address("c", "10.244.3.5")],
             "ports": [{"name": "admin", "port": 7000, "protocol": "TCP"}]},
        ])
    );
}

#[test]
fn hostnames_only_for_pods_in_the_service_subdomain() {
    let named = |subdomain: &str| json!({"spec": {"hostname": "web-0", "subdomain": subdomain}});
    let pods = [
        pod("a", "10.244.1.5", true, named("kubia")),
        pod("b", "10.244.1.6", true, named("other")),
    ];
    let got = subsets(&kubia(json!({})), &pods);
    assert_eq!(got[0]["addresses"][0]["hostname"], "web-0");
    assert_eq!(got[0]["addresses"][1].get("hostname"), None);
}

#[test]
fn headless_services_are_labelled_and_may_have_no_ports() {
    let svc = service(json!({"selector": {"app": "kubia"}, "clusterIP": "None"}));
    let pods = [pod("a", "10.244.1.5", true, json!({}))];
    let refs: Vec<&Pod> = pods.iter().collect();
    let e = desired_endpoints(&svc, &refs);
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": "kubia", "namespace": "default",
                "labels": {"app": "kubia", "service.kubernetes.io/headless": ""}},
            "subsets": [{"addresses": [address("a", "10.244.1.5")]}]})
    );
    // A Service with a cluster IP and no ports gets no addresses at all.
    let portless = service(json!({"selector": {"app": "kubia"}}));
    assert_eq!(subsets(&portless, &pods), Value::Null);
}

/// The object a first write creates.
fn created(svc: &Service, pods: &[&Pod]) -> Endpoints {
    match endpoints_write(svc, desired_endpoints(svc, pods), None, None) {
        Some(EndpointsWrite::Create(e)) => e,
        other => panic!("expected a create, got {other:?}"),
    }
}

#[test]
fn more_than_a_thousand_addresses_are_truncated_ready_first() {
    let mut pods = Vec::new();
    for i in 0..1100 {
        let ip = format!("10.244.{}.{}", i / 250, i % 250 + 1);
        pods.push(pod(&format!("p{i}"), &ip, i % 10 != 0, json!({})));
    }
    let refs: Vec<&Pod> = pods.iter().collect();
    let svc = kubia(json!({}));
    assert_eq!(
        desired_endpoints(&svc, &refs).subsets.unwrap()[0]
            .not_ready_addresses
            .as_ref()
            .unwrap()
            .len(),
        110
    );
    let e = created(&svc, &refs);
    let subset = &e.subsets.as_ref().unwrap()[0];
    assert_eq!(subset.addresses.as_ref().unwrap().len(), 990);
    assert_eq!(subset.not_ready_addresses.as_ref().unwrap().len(), 10);
    assert_eq!(
        e.metadata
            .annotations
            .as_ref()
            .unwrap()
            .get(OVER_CAPACITY)
            .map(String::as_str),
        Some("truncated")
    );
    // Stored truncated, it stays as it is; back under capacity, the annotation goes.
    let mut stored = e;
    stored.metadata.resource_version = Some("3".into());
    assert_eq!(
        endpoints_write(&svc, desired_endpoints(&svc, &refs), Some(&stored), None),
        None
    );
    let Some(EndpointsWrite::Update(under)) = endpoints_write(
        &svc,
        desired_endpoints(&svc, &refs[..5]),
        Some(&stored),
        None,
    ) else {
        panic!("expected an update");
    };
    assert_eq!(under.metadata.annotations, None);
    // Only ready ones overflow: every not-ready address goes.
    let all_ready: Vec<Pod> = (0..1001)
        .map(|i| {
            pod(
                &format!("r{i}"),
                &format!("10.245.{}.{}", i / 250, i % 250 + 1),
                true,
                json!({}),
            )
        })
        .collect();
    let refs: Vec<&Pod> = all_ready.iter().chain(pods.iter().take(10)).collect();
    let subsets = created(&svc, &refs).subsets.unwrap();
    let held: usize = subsets
        .iter()
        .map(|s| s.addresses.as_ref().map_or(0, Vec::len))
        .sum();
    assert_eq!(held, 1000);
    assert!(subsets.iter().all(|s| s.not_ready_addresses.is_none()));
}

#[test]
fn writes_only_what_changed_and_takes_over_hand_made_endpoints() {
    let svc = kubia(json!({}));
    let pods = [pod("a", "10.244.1.5", true, json!({}))];
    let refs: Vec<&Pod> = pods.iter().collect();
    let at: Timestamp = "2024-01-01T00:00:00Z".parse().unwrap();
    let Some(EndpointsWrite::Create(created)) =
        endpoints_write(&svc, desired_endpoints(&svc, &refs), None, Some(at))
    else {
        panic!("expected a create");
    };
    assert_eq!(
        created.metadata.annotations.as_ref().unwrap()[membership::LAST_CHANGE_TRIGGER_TIME],
        "2024-01-01T00:00:00Z"
    );
    let mut stored = created.clone();
    stored.metadata.resource_version = Some("5".into());
    // Nothing changed: no write, whatever the trigger time says.
    assert_eq!(
        endpoints_write(&svc, desired_endpoints(&svc, &refs), Some(&stored), None),
        None
    );
    // A pod became not ready: an update of the stored object, other annotations kept.
    stored
        .metadata
        .annotations
        .as_mut()
        .unwrap()
        .insert("note".into(), "kept".into());
    let not_ready = [pod("a", "10.244.1.5", false, json!({}))];
    let refs: Vec<&Pod> = not_ready.iter().collect();
    let Some(EndpointsWrite::Update(updated)) =
        endpoints_write(&svc, desired_endpoints(&svc, &refs), Some(&stored), None)
    else {
        panic!("expected an update");
    };
    assert_eq!(updated.metadata.resource_version.as_deref(), Some("5"));
    assert_eq!(
        serde_json::to_value(&updated.metadata.annotations).unwrap(),
        json!({"note": "kept"})
    );
    assert!(updated.subsets.unwrap()[0].addresses.is_none());
    // Hand-made Endpoints of a Service that gained a selector are overwritten.
    let hand_made: Endpoints = serde_json::from_value(json!({
        "metadata": {"name": "kubia", "namespace": "default", "resourceVersion": "9"},
        "subsets": [{"addresses": [{"ip": "11.11.11.11"}], "ports": [{"port": 80, "protocol": "TCP"}]}]}))
    .unwrap();
    let Some(EndpointsWrite::Update(taken)) =
        endpoints_write(&svc, desired_endpoints(&svc, &refs), Some(&hand_made), None)
    else {
        panic!("expected an update");
    };
    assert_eq!(
        serde_json::to_value(&taken.metadata.labels).unwrap(),
        json!({"app": "kubia"})
    );
    assert_eq!(
        serde_json::to_value(&taken.subsets).unwrap(),
        json!([{"notReadyAddresses": [address("a", "10.244.1.5")], "ports": [{"port": 8080, "protocol": "TCP"}]}])
    );
}

#[test]
fn services_without_selector_or_of_type_external_name_are_not_managed() {
    let cases = [
        (kubia(json!({})), true),
        (service(json!({"ports": [{"port": 80}]})), false),
        (
            service(json!({"selector": {}, "ports": [{"port": 80}]})),
            false,
        ),
        (
            service(
                json!({"type": "ExternalName", "externalName": "example.com", "selector": {"app": "kubia"}}),
            ),
            false,
        ),
    ];
    for (i, (svc, want)) in cases.iter().enumerate() {
        assert_eq!(manages(svc), *want, "case {i}");
    }
}

#[test]
fn endpoints_go_with_their_service_and_leftovers_at_start() {
    let ep = |name: &str, annotations: Value| -> Endpoints {
        serde_json::from_value(
            json!({"metadata": {"name": name, "namespace": "default", "annotations": annotations}}),
        )
        .unwrap()
    };
    let endpoints = [
        ep("live", json!({})),
        ep("deleted", json!({})),
        ep("hand-made", json!({})),
        ep(
            "leader",
            json!({membership::LEADER_ELECTION_ANNOTATION: "{}"}),
        ),
    ];
    let key = |n: &str| ("default".to_string(), n.to_string());
    let services: HashSet<ServiceKey> = [key("live")].into();
    let names = |list: Vec<&Endpoints>| -> Vec<String> {
        list.iter()
            .map(|e| e.metadata.name.clone().unwrap())
            .collect()
    };
    assert_eq!(
        names(orphaned_endpoints(&endpoints, &services, None)),
        ["deleted", "hand-made"]
    );
    let known: HashSet<ServiceKey> = [key("live"), key("deleted"), key("leader")].into();
    assert_eq!(
        names(orphaned_endpoints(&endpoints, &services, Some(&known))),
        ["deleted", "leader"]
    );
}
