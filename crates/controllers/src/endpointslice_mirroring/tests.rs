//! Table tests of mirroring hand-made Endpoints into EndpointSlices.

use serde_json::{json, Value};

use super::*;

fn endpoints(extra_meta: Value, subsets: Value) -> Endpoints {
    let mut meta = json!({"name": "external-service", "namespace": "default", "uid": "ep-uid", "resourceVersion": "4"});
    if let (Some(m), Some(e)) = (meta.as_object_mut(), extra_meta.as_object()) {
        m.extend(e.clone());
    }
    serde_json::from_value(json!({"metadata": meta, "subsets": subsets})).unwrap()
}

fn kia() -> Endpoints {
    endpoints(
        json!({}),
        json!([{"addresses": [{"ip": "11.11.11.11"}, {"ip": "22.22.22.22"}], "ports": [{"port": 80, "protocol": "TCP"}]}]),
    )
}

fn service(selector: Value) -> Service {
    serde_json::from_value(
        json!({"metadata": {"name": "external-service", "namespace": "default"},
        "spec": {"selector": selector, "ports": [{"port": 80}]}}),
    )
    .unwrap()
}

fn plan(ep: &Endpoints, existing: &[EndpointSlice]) -> MirrorPlan {
    mirror(
        Some(ep),
        Some(&service(Value::Null)),
        existing,
        MAX_ENDPOINTS_PER_SUBSET,
    )
}

/// What the API server holds after the plan's writes; new slices are named `<prefix><n>`.
fn apply(plan: &MirrorPlan, existing: &[EndpointSlice]) -> Vec<EndpointSlice> {
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
    for (i, s) in plan.create.iter().enumerate() {
        let mut s = s.clone();
        let name = format!(
            "{}{}",
            s.metadata.generate_name.clone().unwrap(),
            stored.len() + i
        );
        s.metadata.name = Some(name.clone());
        s.metadata.resource_version = Some("1".into());
        stored.insert(name, s);
    }
    stored.into_values().collect()
}

fn counts(plan: &MirrorPlan) -> (usize, usize, usize) {
    (plan.create.len(), plan.update.len(), plan.delete.len())
}

#[test]
fn hand_made_endpoints_are_mirrored_into_one_slice() {
    let p = plan(&kia(), &[]);
    assert_eq!(counts(&p), (1, 0, 0));
    assert_eq!(
        serde_json::to_value(&p.create[0]).unwrap(),
        json!({
            "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {
                "generateName": "external-service-", "namespace": "default",
                "labels": {"endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
                    "kubernetes.io/service-name": "external-service"},
                "ownerReferences": [{"apiVersion": "v1", "kind": "Endpoints", "name": "external-service",
                    "uid": "ep-uid", "controller": true, "blockOwnerDeletion": true}],
            },
            "addressType": "IPv4",
            "endpoints": [
                {"addresses": ["11.11.11.11"], "conditions": {"ready": true}},
                {"addresses": ["22.22.22.22"], "conditions": {"ready": true}},
            ],
            "ports": [{"name": "", "port": 80, "protocol": "TCP"}],
        })
    );
}

#[test]
fn mirrors_stay_put_until_the_endpoints_change() {
    let stored = apply(&plan(&kia(), &[]), &[]);
    assert_eq!(counts(&plan(&kia(), &stored)), (0, 0, 0));
    let more = endpoints(
        json!({"labels": {"team": "a"}, "annotations": {LAST_APPLIED: "{}", "note": "x"}}),
        json!([{"addresses": [{"ip": "11.11.11.11"}, {"ip": "33.33.33.33"}],
                "notReadyAddresses": [{"ip": "22.22.22.22", "hostname": "db-1", "nodeName": "node-1"}],
                "ports": [{"port": 80, "protocol": "TCP"}]}]),
    );
    let p = plan(&more, &stored);
    assert_eq!(counts(&p), (0, 1, 0));
    let slice = &p.update[0];
    assert_eq!(slice.metadata.name, stored[0].metadata.name);
    assert_eq!(slice.metadata.labels.as_ref().unwrap()["team"], "a");
    assert_eq!(
        serde_json::to_value(&slice.metadata.annotations).unwrap(),
        json!({"note": "x"})
    );
    assert_eq!(
        serde_json::to_value(&slice.endpoints).unwrap(),
        json!([
            {"addresses": ["11.11.11.11"], "conditions": {"ready": true}},
            {"addresses": ["22.22.22.22"], "conditions": {"ready": false}, "hostname": "db-1", "nodeName": "node-1"},
            {"addresses": ["33.33.33.33"], "conditions": {"ready": true}},
        ])
    );
    let stored = apply(&p, &stored);
    assert_eq!(counts(&plan(&more, &stored)), (0, 0, 0));
}

#[test]
fn each_subset_and_address_type_gets_its_own_slice() {
    let ep = endpoints(
        json!({}),
        json!([
            {"addresses": [{"ip": "10.1.1.1"}, {"ip": "fd00::1"}], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]},
            {"addresses": [{"ip": "10.1.1.2"}], "ports": [{"name": "dns", "port": 53, "protocol": "UDP"}]},
        ]),
    );
    let p = plan(&ep, &[]);
    let mut made: Vec<(String, Value, usize)> = p
        .create
        .iter()
        .map(|s| {
            (
                s.address_type.clone(),
                serde_json::to_value(&s.ports).unwrap(),
                s.endpoints.len(),
            )
        })
        .collect();
    made.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.to_string().cmp(&b.1.to_string())));
    assert_eq!(
        made,
        [
            (
                "IPv4".to_string(),
                json!([{"name": "dns", "port": 53, "protocol": "UDP"}]),
                1
            ),
            (
                "IPv4".to_string(),
                json!([{"name": "http", "port": 80, "protocol": "TCP"}]),
                1
            ),
            (
                "IPv6".to_string(),
                json!([{"name": "http", "port": 80, "protocol": "TCP"}]),
                1
            ),
        ]
    );
    // The dns subset goes, and its slice with it.
    let stored = apply(&p, &[]);
    let fewer = endpoints(
        json!({}),
        json!([{"addresses": [{"ip": "10.1.1.1"}, {"ip": "fd00::1"}], "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]),
    );
    assert_eq!(counts(&plan(&fewer, &stored)), (0, 0, 1));
}

#[test]
fn oversized_subsets_and_bad_addresses_are_skipped() {
    let addresses: Vec<Value> = (0..1001)
        .map(|i| json!({"ip": format!("10.2.{}.{}", i / 250, i % 250 + 1)}))
        .collect();
    let ep = endpoints(
        json!({}),
        json!([{"addresses": addresses, "ports": [{"port": 80, "protocol": "TCP"}]},
               {"addresses": [{"ip": "not-an-ip"}, {"ip": "10.3.0.1"}], "ports": [{"port": 81, "protocol": "TCP"}]}]),
    );
    let p = plan(&ep, &[]);
    assert_eq!((p.invalid, p.skipped), (1, 2));
    let mut sizes: Vec<usize> = p.create.iter().map(|s| s.endpoints.len()).collect();
    sizes.sort_unstable();
    assert_eq!(sizes, [1, 1000]);
}

#[test]
fn mirrors_go_when_they_should_not_exist() {
    let stored = apply(&plan(&kia(), &[]), &[]);
    let skip = endpoints(json!({"labels": {SKIP_MIRROR: "true"}}), json!([]));
    let leader = endpoints(
        json!({"annotations": {membership::LEADER_ELECTION_ANNOTATION: "{}"}}),
        json!([]),
    );
    let with_selector = service(json!({"app": "kubia"}));
    let without = service(Value::Null);
    let cases: [(Option<&Endpoints>, Option<&Service>); 5] = [
        (None, Some(&without)),
        (Some(&kia()), None),
        (Some(&kia()), Some(&with_selector)),
        (Some(&skip), Some(&without)),
        (Some(&leader), Some(&without)),
    ];
    for (i, (ep, svc)) in cases.into_iter().enumerate() {
        let p = mirror(ep, svc, &stored, MAX_ENDPOINTS_PER_SUBSET);
        assert_eq!(counts(&p), (0, 0, 1), "case {i}");
        assert_eq!(
            counts(&mirror(ep, svc, &[], MAX_ENDPOINTS_PER_SUBSET)),
            (0, 0, 0),
            "case {i}"
        );
    }
    // An empty selector is no selector.
    assert_eq!(
        counts(&mirror(
            Some(&kia()),
            Some(&service(json!({}))),
            &stored,
            1000
        )),
        (0, 0, 0)
    );
}

#[test]
fn emptied_endpoints_leave_no_slices() {
    let stored = apply(&plan(&kia(), &[]), &[]);
    let empty = endpoints(json!({}), Value::Null);
    assert_eq!(counts(&plan(&empty, &stored)), (0, 0, 1));
}
