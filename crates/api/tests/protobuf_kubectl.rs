//! Protobuf bodies captured from a real kubectl v1.32 (`kubectl create ...` against a recording
//! server), decoded and compared with the JSON the same command sends with `-o json`.

use base64::Engine as _;
use ferry_api::protobuf::decode_protobuf;
use ferry_api::resource::find_kind;
use serde_json::{json, Value};

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/protobuf/{name}.pb",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

/// Decodes a fixture and checks that the served kind accepts the JSON without unknown fields.
fn decode(name: &str) -> Value {
    let value = decode_protobuf(&fixture(name)).unwrap();
    let api_version = value["apiVersion"].as_str().unwrap();
    let kind = value["kind"].as_str().unwrap();
    let resource = find_kind(api_version, kind).unwrap();
    let (_, unknown) = resource.ops.decode(&value).unwrap();
    assert!(unknown.is_empty(), "{name}: unknown fields {unknown:?}");
    value
}

#[test]
fn create_secret_generic() {
    // kubectl create secret generic s2 --from-literal=a=b --from-literal=c=d
    assert_eq!(
        decode("secret-generic"),
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s2"},
               "data": {"a": "Yg==", "c": "ZA=="}})
    );
}

#[test]
fn create_secret_tls() {
    // kubectl create secret tls tls-secret --cert=tls.crt --key=tls.key
    let secret = decode("secret-tls");
    assert_eq!(secret["metadata"], json!({"name": "tls-secret"}));
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let data = secret["data"].as_object().unwrap();
    let keys: Vec<&String> = data.keys().collect();
    assert_eq!(keys, ["tls.crt", "tls.key"]);
    let engine = base64::engine::general_purpose::STANDARD;
    let cert = engine.decode(data["tls.crt"].as_str().unwrap()).unwrap();
    let key = engine.decode(data["tls.key"].as_str().unwrap()).unwrap();
    assert!(cert.starts_with(b"-----BEGIN CERTIFICATE-----\n"));
    assert!(key.starts_with(b"-----BEGIN PRIVATE KEY-----\n"));
}

#[test]
fn create_secret_docker_registry() {
    let secret = decode("secret-docker-registry");
    assert_eq!(secret["type"], "kubernetes.io/dockerconfigjson");
    let encoded = secret["data"][".dockerconfigjson"].as_str().unwrap();
    let config = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .unwrap();
    let config: Value = serde_json::from_slice(&config).unwrap();
    assert_eq!(config["auths"]["r.io"]["username"], "u");
}

#[test]
fn create_configmap() {
    // kubectl create configmap cm1 --from-literal=k=v --from-file=greeting.txt --from-file=blob.bin
    assert_eq!(
        decode("configmap"),
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cm1"},
               "data": {"greeting.txt": "hello\n", "k": "v"},
               "binaryData": {"blob.bin": "AP8BYmlu"}})
    );
}

#[test]
fn create_namespace() {
    assert_eq!(
        decode("namespace"),
        json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1"},
               "spec": {}, "status": {}})
    );
}

#[test]
fn create_deployment() {
    // kubectl create deployment kubia --image=luksa/kubia:v1 --replicas=3 --port=8080
    assert_eq!(
        decode("deployment"),
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
               "metadata": {"name": "kubia", "labels": {"app": "kubia"}},
               "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "kubia"}},
                        "template": {"metadata": {"labels": {"app": "kubia"}},
                                     "spec": {"containers": [{"name": "kubia", "image": "luksa/kubia:v1",
                                                              "ports": [{"containerPort": 8080}],
                                                              "resources": {}}]}},
                        "strategy": {}},
               "status": {}})
    );
    // kubectl create deployment multi --image=nginx --image=busybox:1.36
    let multi = decode("deployment-multi");
    assert_eq!(
        multi["spec"]["template"]["spec"]["containers"],
        json!([{"name": "nginx", "image": "nginx", "resources": {}},
               {"name": "busybox", "image": "busybox:1.36", "resources": {}}])
    );
    // kubectl create deployment sleeper --image=busybox -- sleep 3600
    let command = decode("deployment-command");
    assert_eq!(
        command["spec"]["template"]["spec"]["containers"][0]["command"],
        json!(["sleep", "3600"])
    );
}

#[test]
fn create_service() {
    // kubectl create service nodeport kubia-np --tcp=80:8080 --node-port=30123
    assert_eq!(
        decode("service-nodeport"),
        json!({"apiVersion": "v1", "kind": "Service",
               "metadata": {"name": "kubia-np", "labels": {"app": "kubia-np"}},
               "spec": {"ports": [{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080,
                                   "nodePort": 30123}],
                        "selector": {"app": "kubia-np"}, "type": "NodePort"},
               "status": {"loadBalancer": {}}})
    );
    // kubectl create service clusterip headless --clusterip=None
    assert_eq!(
        decode("service-headless")["spec"],
        json!({"selector": {"app": "headless"}, "clusterIP": "None", "type": "ClusterIP"})
    );
    // kubectl create service externalname ext --external-name=api.example.com
    assert_eq!(
        decode("service-externalname")["spec"],
        json!({"selector": {"app": "ext"}, "type": "ExternalName", "externalName": "api.example.com"})
    );
    // kubectl create service loadbalancer lb --tcp=80:8080,443:https: a named target port.
    assert_eq!(
        decode("service-loadbalancer")["spec"]["ports"],
        json!([{"name": "80-8080", "protocol": "TCP", "port": 80, "targetPort": 8080},
               {"name": "443-https", "protocol": "TCP", "port": 443, "targetPort": "https"}])
    );
}

#[test]
fn create_ingress() {
    // kubectl create ingress kubia --class=nginx --rule='kubia.example.com/*=kubia:80,tls=tls-secret'
    //   --rule='foo.com/bar=svc2:http' --default-backend=def:8080 --annotation=a=b
    assert_eq!(
        decode("ingress"),
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
               "metadata": {"name": "kubia", "annotations": {"a": "b"}},
               "spec": {"ingressClassName": "nginx",
                        "defaultBackend": {"service": {"name": "def", "port": {"number": 8080}}},
                        "tls": [{"hosts": ["kubia.example.com"], "secretName": "tls-secret"}],
                        "rules": [
                            {"host": "kubia.example.com", "http": {"paths": [{"path": "/", "pathType": "Prefix",
                                "backend": {"service": {"name": "kubia", "port": {"number": 80}}}}]}},
                            {"host": "foo.com", "http": {"paths": [{"path": "/bar", "pathType": "Exact",
                                "backend": {"service": {"name": "svc2", "port": {"name": "http"}}}}]}}]},
               "status": {"loadBalancer": {}}})
    );
}

#[test]
fn created_objects_pass_defaulting_and_validation() {
    for name in [
        "secret-generic",
        "secret-tls",
        "secret-docker-registry",
        "configmap",
        "deployment",
        "deployment-multi",
        "deployment-command",
    ] {
        let mut value = decode(name);
        value["metadata"]["namespace"] = json!("default");
        let resource = find_kind(
            value["apiVersion"].as_str().unwrap(),
            value["kind"].as_str().unwrap(),
        )
        .unwrap();
        let (mut object, _) = resource.ops.decode(&value).unwrap();
        resource.ops.set_defaults(&mut object).unwrap();
        let errs = resource.ops.validate_create(&object, true).unwrap();
        assert!(errs.is_empty(), "{name}: {errs:?}");
    }
}
