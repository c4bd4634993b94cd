//! PATCH bodies as kubectl 1.32 sends them (kubectl-protocol.md §7 and §8), applied to
//! realistic live objects, with the results kube-apiserver produces before decoding and
//! defaulting.

use ferry_api::patch::{apply_patch, PatchError, PatchKindRef, PatchType};
use serde_json::{json, Value};

const SERVICE: PatchKindRef<'static> = PatchKindRef::new("", "Service");
const DEPLOYMENT: PatchKindRef<'static> = PatchKindRef::new("apps", "Deployment");
const POD: PatchKindRef<'static> = PatchKindRef::new("", "Pod");

fn smp(kind: PatchKindRef<'_>, original: &Value, patch: Value) -> Result<Value, PatchError> {
    apply_patch(
        kind,
        original,
        PatchType::StrategicMerge,
        patch.to_string().as_bytes(),
    )
}

/// Applies a strategic merge patch that must succeed.
fn apply(kind: PatchKindRef<'_>, original: &Value, patch: Value) -> Value {
    match smp(kind, original, patch.clone()) {
        Ok(v) => v,
        Err(e) => panic!("patch {patch} failed: {e}"),
    }
}

/// Applies a strategic merge patch that must fail; returns (status code, message).
fn fail(kind: PatchKindRef<'_>, original: &Value, patch: Value) -> (u16, String) {
    match smp(kind, original, patch.clone()) {
        Ok(v) => panic!("patch {patch} succeeded: {v}"),
        Err(e) => (e.status_code(), e.to_string()),
    }
}

/// The last-applied annotation kubectl writes: the file's compact JSON, keys sorted.
fn last_applied(file: &Value) -> String {
    format!("{file}\n")
}

/// `svc.yaml` of the kubia examples.
fn svc_file() -> Value {
    json!({"apiVersion": "v1", "kind": "Service", "metadata": {"annotations": {}, "name": "kubia", "namespace": "default"},
           "spec": {"ports": [{"port": 80, "targetPort": 8080}], "selector": {"app": "kubia"}}})
}

/// The Service as stored after `kubectl apply -f svc.yaml` (defaulted, allocated).
fn live_service() -> Value {
    json!({
        "apiVersion": "v1", "kind": "Service",
        "metadata": {
            "name": "kubia", "namespace": "default", "uid": "0f3c1c8e-8a51-4a4b-9c51-0c5b0c1d2e3f",
            "resourceVersion": "412", "creationTimestamp": "2026-11-23T10:00:00Z",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": last_applied(&svc_file())}
        },
        "spec": {
            "ports": [{"protocol": "TCP", "port": 80, "targetPort": 8080}],
            "selector": {"app": "kubia"},
            "clusterIP": "10.96.0.17", "clusterIPs": ["10.96.0.17"], "type": "ClusterIP",
            "sessionAffinity": "None", "ipFamilies": ["IPv4"], "ipFamilyPolicy": "SingleStack",
            "internalTrafficPolicy": "Cluster"
        },
        "status": {"loadBalancer": {}}
    })
}

/// `kubectl apply -f svc-v2.yaml`: a label, named ports, a second port, session affinity.
fn svc_v2_patch(annotation: &str) -> Value {
    json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": annotation}, "labels": {"tier": "web"}},
           "spec": {"$setElementOrder/ports": [{"port": 80}, {"port": 443}],
                    "ports": [{"name": "http", "port": 80}, {"name": "https", "port": 443, "targetPort": 8443}],
                    "sessionAffinity": "ClientIP"}})
}

/// `kubectl apply -f svc.yaml` again: the three-way patch back.
fn svc_revert_patch(annotation: &str) -> Value {
    json!({"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": annotation}, "labels": null},
           "spec": {"$setElementOrder/ports": [{"port": 80}],
                    "ports": [{"name": null, "port": 80}, {"$patch": "delete", "port": 443}],
                    "sessionAffinity": null}})
}

#[test]
fn service_apply_v2_names_ports_and_adds_one() {
    let got = apply(SERVICE, &live_service(), svc_v2_patch("v2"));
    let mut want = live_service();
    want["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"] =
        json!("v2");
    want["metadata"]["labels"] = json!({"tier": "web"});
    want["spec"]["ports"] = json!([
        {"protocol": "TCP", "port": 80, "targetPort": 8080, "name": "http"},
        {"name": "https", "port": 443, "targetPort": 8443}
    ]);
    want["spec"]["sessionAffinity"] = json!("ClientIP");
    assert_eq!(got, want);
}

/// Stands in for the API server's defaulting after a patch (ServiceSpec.sessionAffinity).
fn default_service(mut svc: Value) -> Value {
    if svc["spec"].get("sessionAffinity").is_none() {
        svc["spec"]["sessionAffinity"] = json!("None");
    }
    svc
}

#[test]
fn service_apply_change_and_revert_round_trips() {
    let original = live_service();
    let first = last_applied(&svc_file());
    let changed = apply(SERVICE, &original, svc_v2_patch("v2"));
    let reverted = default_service(apply(SERVICE, &changed, svc_revert_patch(&first)));
    assert_eq!(reverted, original);
    // The label map is gone, not left empty, and port 80 lost only its name.
    assert!(reverted["metadata"].get("labels").is_none());
    assert_eq!(
        reverted["spec"]["ports"],
        json!([{"protocol": "TCP", "port": 80, "targetPort": 8080}])
    );
}

fn live_deployment() -> Value {
    json!({
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "generation": 1,
                     "finalizers": ["example.com/a", "example.com/b"], "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
            "revisionHistoryLimit": 10, "progressDeadlineSeconds": 600,
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [{
                        "name": "web", "image": "luksa/kubia:v1",
                        "env": [{"name": "A", "value": "1"}],
                        "ports": [{"containerPort": 8080, "protocol": "TCP"}],
                        "volumeMounts": [{"name": "data", "mountPath": "/data"}],
                        "resources": {}, "terminationMessagePath": "/dev/termination-log",
                        "terminationMessagePolicy": "File", "imagePullPolicy": "IfNotPresent"
                    }],
                    "volumes": [{"name": "data", "emptyDir": {}}],
                    "restartPolicy": "Always", "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst", "securityContext": {}, "schedulerName": "default-scheduler"
                }
            }
        },
        "status": {"observedGeneration": 1, "replicas": 3,
                   "conditions": [{"type": "Available", "status": "True"}, {"type": "Progressing", "status": "True"}]}
    })
}

#[test]
fn deployment_image_and_env_change() {
    let patch = json!({"spec": {"template": {"spec": {
        "$setElementOrder/containers": [{"name": "web"}],
        "containers": [{"$setElementOrder/env": [{"name": "A"}], "env": [{"name": "A", "value": "2"}],
                        "image": "luksa/kubia:v2", "name": "web"}]}}}});
    let got = apply(DEPLOYMENT, &live_deployment(), patch);
    let mut want = live_deployment();
    let container = &mut want["spec"]["template"]["spec"]["containers"][0];
    container["image"] = json!("luksa/kubia:v2");
    container["env"] = json!([{"name": "A", "value": "2"}]);
    assert_eq!(got, want);
}

#[test]
fn deployment_strategy_volume_and_finalizer_with_retain_keys() {
    let patch = json!({
        "metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/b"], "$setElementOrder/finalizers": ["example.com/a"]},
        "spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": null, "type": "Recreate"},
                 "template": {"spec": {"$setElementOrder/volumes": [{"name": "data"}],
                    "volumes": [{"$retainKeys": ["hostPath", "name"], "emptyDir": null, "hostPath": {"path": "/data/web2"}, "name": "data"}]}}}});
    let got = apply(DEPLOYMENT, &live_deployment(), patch);
    let mut want = live_deployment();
    want["metadata"]["finalizers"] = json!(["example.com/a"]);
    want["spec"]["strategy"] = json!({"type": "Recreate"});
    want["spec"]["template"]["spec"]["volumes"] =
        json!([{"name": "data", "hostPath": {"path": "/data/web2"}}]);
    assert_eq!(got, want);
}

#[test]
fn retain_keys_alone_clears_unlisted_keys() {
    // `$retainKeys` works wherever it appears, whatever the field's tag.
    let patch = json!({"spec": {"strategy": {"$retainKeys": ["type"]}}});
    let got = apply(DEPLOYMENT, &live_deployment(), patch);
    assert_eq!(got["spec"]["strategy"], json!({"type": "RollingUpdate"}));
}

/// One strategic merge patch case on the Service: patch → expected `spec.ports`.
fn ports_after(patch: Value) -> Value {
    let mut svc = live_service();
    svc["spec"]["ports"] = json!([
        {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
        {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443},
        {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090}
    ]);
    apply(SERVICE, &svc, json!({"spec": patch}))["spec"]["ports"].clone()
}

#[test]
fn merge_list_cases() {
    let cases = [
        // A new port without $setElementOrder goes in front of the live ones (upstream's
        // best-effort order: patch items first unless the live order places them).
        (
            json!({"ports": [{"port": 53, "name": "dns", "protocol": "UDP"}]}),
            json!([{"port": 53, "name": "dns", "protocol": "UDP"},
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443},
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090}]),
        ),
        // With $setElementOrder it goes where kubectl says.
        (
            json!({"$setElementOrder/ports": [{"port": 80}, {"port": 443}, {"port": 9090}, {"port": 53}],
                "ports": [{"port": 53, "name": "dns"}]}),
            json!([{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443},
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090},
                {"port": 53, "name": "dns"}]),
        ),
        // Reordering only.
        (
            json!({"$setElementOrder/ports": [{"port": 9090}, {"port": 80}, {"port": 443}]}),
            json!([{"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090},
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443}]),
        ),
        // Server-only items keep their place relative to ordered ones.
        (
            json!({"$setElementOrder/ports": [{"port": 443}, {"port": 80}], "ports": [{"port": 443, "targetPort": 8444}]}),
            json!([{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8444},
                {"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090}]),
        ),
        // Deleting one port and adding another: upstream orders the server-only port by the
        // live list as its merge left it in place (deleted slot refilled by the new port), so
        // it lands before the new one.
        (
            json!({"$setElementOrder/ports": [{"port": 443}, {"port": 53}],
                "ports": [{"port": 53, "name": "dns"}, {"$patch": "delete", "port": 80}]}),
            json!([{"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443},
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090},
                {"port": 53, "name": "dns"}]),
        ),
        // An element merge: null deletes a key of that element only.
        (
            json!({"ports": [{"port": 443, "name": null}]}),
            json!([{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"protocol": "TCP", "port": 443, "targetPort": 8443},
                {"name": "metrics", "protocol": "TCP", "port": 9090, "targetPort": 9090}]),
        ),
        // $patch: delete removes the element; deleting a missing one is fine.
        (
            json!({"ports": [{"$patch": "delete", "port": 9090}, {"$patch": "delete", "port": 1}]}),
            json!([{"name": "http", "protocol": "TCP", "port": 80, "targetPort": 8080},
                {"name": "https", "protocol": "TCP", "port": 443, "targetPort": 8443}]),
        ),
        // $patch: replace makes the patch's elements the whole list.
        (
            json!({"ports": [{"port": 8080, "name": "alt"}, {"$patch": "replace"}]}),
            json!([{"port": 8080, "name": "alt"}]),
        ),
        (json!({"ports": [{"$patch": "replace"}]}), json!([])),
    ];
    for (patch, want) in cases {
        assert_eq!(ports_after(patch.clone()), want, "{patch}");
    }
}

#[test]
fn map_and_replace_list_cases() {
    let pod = json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "kubia-0", "namespace": "default", "labels": {"app": "kubia", "rel": "beta"},
                     "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "kubia-7d", "uid": "u1", "controller": true}]},
        "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia", "envFrom": [{"configMapRef": {"name": "a"}}]}],
                 "tolerations": [{"key": "a", "operator": "Exists"}], "nodeSelector": {"disk": "ssd"}},
        "status": {"phase": "Running", "podIPs": [{"ip": "10.244.0.5"}],
                   "conditions": [{"type": "Ready", "status": "True"}, {"type": "PodScheduled", "status": "True"}]}
    });
    let cases = [
        // Maps merge; null deletes.
        (
            json!({"metadata": {"labels": {"rel": null, "tier": "fe"}}}),
            "/metadata/labels",
            json!({"app": "kubia", "tier": "fe"}),
        ),
        // $patch: replace on a map takes the patch's map.
        (
            json!({"spec": {"nodeSelector": {"zone": "a", "$patch": "replace"}}}),
            "/spec/nodeSelector",
            json!({"zone": "a"}),
        ),
        // $patch: delete on a map leaves it empty.
        (
            json!({"spec": {"nodeSelector": {"$patch": "delete"}}}),
            "/spec/nodeSelector",
            json!({}),
        ),
        // Lists without a merge strategy are replaced (tolerations, envFrom).
        (
            json!({"spec": {"tolerations": [{"key": "b", "operator": "Exists"}]}}),
            "/spec/tolerations",
            json!([{"key": "b", "operator": "Exists"}]),
        ),
        (
            json!({"spec": {"containers": [{"name": "kubia", "envFrom": [{"secretRef": {"name": "s"}}]}]}}),
            "/spec/containers/0/envFrom",
            json!([{"secretRef": {"name": "s"}}]),
        ),
        // Status conditions merge by type; podIPs by ip; ownerReferences by uid.
        (
            json!({"status": {"conditions": [{"type": "Ready", "status": "False"}]}}),
            "/status/conditions",
            json!([{"type": "Ready", "status": "False"}, {"type": "PodScheduled", "status": "True"}]),
        ),
        (
            json!({"status": {"$setElementOrder/podIPs": [{"ip": "10.244.0.5"}, {"ip": "fd00::5"}], "podIPs": [{"ip": "fd00::5"}]}}),
            "/status/podIPs",
            json!([{"ip": "10.244.0.5"}, {"ip": "fd00::5"}]),
        ),
        (
            json!({"metadata": {"ownerReferences": [{"uid": "u1", "blockOwnerDeletion": true}]}}),
            "/metadata/ownerReferences",
            json!([{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "kubia-7d", "uid": "u1", "controller": true, "blockOwnerDeletion": true}]),
        ),
        // A value of another type replaces; new maps lose their nulls.
        (
            json!({"spec": {"hostname": "h", "dnsConfig": {"options": null, "searches": ["a"]}}}),
            "/spec/dnsConfig",
            json!({"searches": ["a"]}),
        ),
        // Finalizers are a set.
        (
            json!({"metadata": {"finalizers": ["b", "a"]}}),
            "/metadata/finalizers",
            json!(["b", "a"]),
        ),
        // Nulls for absent keys are ignored.
        (
            json!({"metadata": {"annotations": null}}),
            "/metadata/annotations",
            Value::Null,
        ),
    ];
    for (patch, pointer, want) in cases {
        let got = apply(POD, &pod, patch.clone());
        assert_eq!(
            got.pointer(pointer).cloned().unwrap_or(Value::Null),
            want,
            "{patch}"
        );
    }
}

#[test]
fn finalizers_union_and_delete() {
    let mut svc = live_service();
    svc["metadata"]["finalizers"] = json!(["a", "b"]);
    let cases = [
        (json!({"finalizers": ["c"]}), json!(["c", "a", "b"])),
        (
            json!({"$setElementOrder/finalizers": ["a", "b", "c"], "finalizers": ["c"]}),
            json!(["a", "b", "c"]),
        ),
        (json!({"finalizers": ["b"]}), json!(["a", "b"])),
        (
            json!({"$deleteFromPrimitiveList/finalizers": ["a", "z"]}),
            json!(["b"]),
        ),
        (
            json!({"$deleteFromPrimitiveList/finalizers": ["a"], "$setElementOrder/finalizers": ["b"]}),
            json!(["b"]),
        ),
        (
            json!({"$setElementOrder/finalizers": ["b", "a"]}),
            json!(["b", "a"]),
        ),
    ];
    for (patch, want) in cases {
        let got = apply(SERVICE, &svc, json!({"metadata": patch}));
        assert_eq!(got["metadata"]["finalizers"], want, "{patch}");
    }
}

#[test]
fn strategic_errors_match_upstream() {
    let svc = live_service();
    let cases = [
        (json!({"spec": {"ports": [{"name": "x"}]}}), 500, "map: map[name:x] does not contain declared merge key: port"),
        (json!({"spec": {"ports": [{"$patch": "delete", "name": "x"}]}}), 500, "map: map[$patch:delete name:x] does not contain declared merge key: port"),
        (json!({"spec": {"$patch": "merge"}}), 500, "unknown patch type: merge in map: map[$patch:merge]"),
        (json!({"spec": {"ports": [{"$patch": "merge", "port": 80}]}}), 500, "merging lists cannot yet be specified in the patch"),
        (json!({"spec": {"ports": [{"$patch": "frob", "port": 80}]}}), 500, "unknown patch type: frob in map: map[$patch:frob port:80]"),
        (json!({"spec": {"ports": [{"$patch": 1, "port": 80}]}}), 500, "unknown patch type: %!s(int64=1) in map: map[$patch:1 port:80]"),
        (json!({"spec": {"$retainKeys": ["type"], "clusterIP": "None"}}), 400, "invalid patch format of retainKeys"),
        (json!({"spec": {"$retainKeys": "type"}}), 400, "invalid patch format of retainKeys"),
        (json!({"spec": {"$setElementOrderports": []}}), 400, "invalid patch format of setElementOrder list"),
        (json!({"metadata": {"$deleteFromPrimitiveList": ["a"]}}), 400, "invalid patch format of primitive list"),
        (json!({"spec": {"$setElementOrder/ports": {"port": 80}}}), 500, "expected a []interface {}, but received a map[string]interface {}"),
        (json!({"spec": {"$setElementOrder/ports": [{"port": 443}], "ports": [{"port": 80}, {"port": 443}]}}), 500,
         "The order in patch list:\n[map[port:80] map[port:443]]\n doesn't match $setElementOrder list:\n[map[port:443]]\n"),
        (json!({"spec": {"ports": ["http"]}}), 500, "list element types are not identical: [[map[port:80 protocol:TCP targetPort:8080]] [http]]"),
    ];
    for (patch, code, message) in cases {
        assert_eq!(
            fail(SERVICE, &svc, patch.clone()),
            (code, message.to_string()),
            "{patch}"
        );
    }
    let mut svc = live_service();
    svc["metadata"]["finalizers"] = json!([]);
    let patch = json!({"metadata": {"finalizers": [["a"]]}});
    assert_eq!(
        fail(SERVICE, &svc, patch),
        (422, "lists of lists are not supported".to_string())
    );
}

#[test]
fn kinds_without_tags_replace_lists() {
    let slice = json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice", "metadata": {"name": "kubia-abc"},
                       "addressType": "IPv4", "endpoints": [{"addresses": ["10.244.0.5"]}, {"addresses": ["10.244.0.6"]}]});
    let kind = PatchKindRef::new("discovery.k8s.io", "EndpointSlice");
    let got = apply(
        kind,
        &slice,
        json!({"endpoints": [{"addresses": ["10.244.0.7"]}]}),
    );
    assert_eq!(got["endpoints"], json!([{"addresses": ["10.244.0.7"]}]));
}

fn merge(original: &Value, patch: &str) -> Result<Value, (u16, String)> {
    apply_patch(SERVICE, original, PatchType::Merge, patch.as_bytes())
        .map_err(|e| (e.status_code(), e.to_string()))
}

fn json_patch(original: &Value, patch: Value) -> Result<Value, (u16, String)> {
    apply_patch(
        SERVICE,
        original,
        PatchType::Json,
        patch.to_string().as_bytes(),
    )
    .map_err(|e| (e.status_code(), e.to_string()))
}

#[test]
fn merge_patch_as_kubectl_label_and_scale_send_it() {
    let svc = live_service();
    let labelled = merge(&svc, r#"{"metadata":{"labels":{"enabled":"true"}}}"#).unwrap();
    assert_eq!(labelled["metadata"]["labels"], json!({"enabled": "true"}));
    let unlabelled = merge(&labelled, r#"{"metadata":{"labels":{"enabled":null}}}"#).unwrap();
    assert_eq!(unlabelled["metadata"]["labels"], json!({}));
    // Merge patch replaces lists whole, merge keys or not.
    let ports = merge(&svc, r#"{"spec":{"ports":[{"port":81}]}}"#).unwrap();
    assert_eq!(ports["spec"]["ports"], json!([{"port": 81}]));
    assert_eq!(
        merge(&svc, "not json"),
        Err((400, "Invalid JSON Patch".to_string()))
    );
}

#[test]
fn json_patch_cases() {
    let svc = live_service();
    let scaled = json_patch(&svc, json!([{"op": "replace", "path": "/spec/ports/0/port", "value": 81},
                                         {"op": "add", "path": "/metadata/labels", "value": {"a": "b"}}])).unwrap();
    assert_eq!(scaled["spec"]["ports"][0]["port"], json!(81));
    assert_eq!(scaled["metadata"]["labels"], json!({"a": "b"}));
    let cases = [
        (json!([{"op": "test", "path": "/spec/type", "value": "NodePort"}]), (422, "testing value /spec/type failed: test failed")),
        (json!([{"op": "remove", "path": "/spec/ports/5"}]), (422, "error in remove for path: '/spec/ports/5': Unable to access invalid index: 5: invalid index referenced")),
        (json!([{"op": "add", "path": "/spec/nope/x", "value": 1}]), (422, "add operation does not apply: doc is missing path: \"/spec/nope/x\": missing value")),
        (json!([{"op": "remove", "path": "/metadata/labels"}]), (422, "error in remove for path: '/metadata/labels': Unable to remove nonexistent key: labels: missing value")),
        (json!({"op": "add"}), (400, "json: cannot unmarshal object into Go value of type jsonpatch.Patch")),
    ];
    for (patch, (code, message)) in cases {
        assert_eq!(
            json_patch(&svc, patch.clone()),
            Err((code, message.to_string())),
            "{patch}"
        );
    }
    // A failing test leaves the earlier operations unapplied (the original is untouched).
    let patch = json!([{"op": "add", "path": "/metadata/labels", "value": {}}, {"op": "test", "path": "/spec/type", "value": "x"}]);
    assert!(json_patch(&svc, patch).is_err());
    assert!(svc["metadata"].get("labels").is_none());
}
