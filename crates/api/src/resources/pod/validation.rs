//! Pod and pod template validation with kube-apiserver's messages (`ValidatePodSpec` and its
//! helpers in `pkg/apis/core/validation`), for the checks users meet: containers, images, names,
//! ports, probes, env, volumes, policies, tolerations, and what a pod update may change.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::core::v1::{
    Container, ContainerPort, EnvFromSource, EnvVar, HTTPGetAction, Lifecycle, LifecycleHandler,
    ObjectFieldSelector, Pod, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, SecurityContext,
    Toleration, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use serde_json::Value;

use super::gostring::go_string_map;
use crate::field::{go_quote, BadValue, ErrorList, ErrorType, FieldError, Path};
use crate::validation::meta::{validate_annotations, validate_labels};
use crate::validation::names;

/// `math.MaxInt32`, the upper bound of several second counts and IDs.
const MAX_INT32: i64 = 2_147_483_647;

/// The downward API fields an env var may name (`validEnvDownwardAPIFieldPathExpressions`).
const ENV_FIELD_PATHS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
    "spec.nodeName",
    "spec.serviceAccountName",
    "status.hostIP",
    "status.hostIPs",
    "status.podIP",
    "status.podIPs",
];

/// The downward API fields a volume file may name.
const VOLUME_FIELD_PATHS: &[&str] = &[
    "metadata.annotations",
    "metadata.labels",
    "metadata.name",
    "metadata.namespace",
    "metadata.uid",
];

/// The fields a pod update may change, as the Forbidden message lists them.
const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// `ValidatePodCreate` minus ObjectMeta, which the framework checks.
pub(in crate::resources) fn validate_pod_create(pod: &Pod) -> ErrorList {
    let path = Path::new("spec");
    let empty = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty);
    let mut errs = validate_pod_spec(spec, &path);
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            path.child("ephemeralContainers"),
            "cannot be set on create",
        ));
    }
    let gated = spec
        .scheduling_gates
        .as_ref()
        .is_some_and(|g| !g.is_empty());
    if !str_of(&spec.node_name).is_empty() && gated {
        errs.push(FieldError::forbidden(
            path.child("nodeName"),
            "cannot be set until all schedulingGates have been cleared",
        ));
    }
    errs
}

/// `ValidatePodUpdate` minus ObjectMeta: the new spec is valid, and only images, the active
/// deadline, added tolerations, a grace period going from negative to 1 and removed scheduling
/// gates differ from the old one.
pub(in crate::resources) fn validate_pod_update(new: &Pod, old: &Pod) -> ErrorList {
    let path = Path::new("spec");
    let empty = PodSpec::default();
    let new_spec = new.spec.as_ref().unwrap_or(&empty);
    let old_spec = old.spec.as_ref().unwrap_or(&empty);
    let mut errs = validate_pod_spec(new_spec, &path);

    let container_lists = [
        (
            "containers",
            new_spec.containers.as_slice(),
            old_spec.containers.as_slice(),
        ),
        (
            "initContainers",
            new_spec.init_containers.as_deref().unwrap_or(&[]),
            old_spec.init_containers.as_deref().unwrap_or(&[]),
        ),
    ];
    for (name, new_list, old_list) in container_lists {
        if new_list.len() != old_list.len() {
            errs.push(FieldError::forbidden(
                path.child(name),
                "pod updates may not add or remove containers",
            ));
            return errs;
        }
        for (i, c) in new_list.iter().enumerate() {
            if str_of(&c.image).is_empty() {
                errs.push(FieldError::required(
                    path.child(name).index(i).child("image"),
                    "",
                ));
            }
        }
    }

    if let Some(deadline) = new_spec.active_deadline_seconds {
        if !(0..=MAX_INT32).contains(&deadline) {
            errs.push(FieldError::invalid(
                path.child("activeDeadlineSeconds"),
                deadline,
                inclusive_range(0, MAX_INT32),
            ));
            return errs;
        }
        if old_spec
            .active_deadline_seconds
            .is_some_and(|old| old < deadline)
        {
            errs.push(FieldError::invalid(
                path.child("activeDeadlineSeconds"),
                deadline,
                "must be less than or equal to previous value",
            ));
            return errs;
        }
    } else if old_spec.active_deadline_seconds.is_some() {
        errs.push(FieldError::new(
            ErrorType::Invalid,
            path.child("activeDeadlineSeconds"),
            Some(BadValue::Raw("null".to_string())),
            "must not update from a positive integer to nil value",
        ));
    }

    errs.extend(only_added_tolerations(
        new_spec.tolerations.as_deref().unwrap_or(&[]),
        old_spec.tolerations.as_deref().unwrap_or(&[]),
        &path.child("tolerations"),
    ));

    let mut munged = new_spec.clone();
    for (c, old_c) in munged.containers.iter_mut().zip(&old_spec.containers) {
        c.image = old_c.image.clone();
    }
    if let (Some(new_init), Some(old_init)) = (
        munged.init_containers.as_mut(),
        old_spec.init_containers.as_ref(),
    ) {
        for (c, old_c) in new_init.iter_mut().zip(old_init) {
            c.image = old_c.image.clone();
        }
    }
    munged.active_deadline_seconds = old_spec.active_deadline_seconds;
    munged.tolerations = old_spec.tolerations.clone();
    munged.scheduling_gates = old_spec.scheduling_gates.clone();
    let negative_to_one = old_spec
        .termination_grace_period_seconds
        .is_some_and(|g| g < 0)
        && new_spec.termination_grace_period_seconds == Some(1);
    if negative_to_one {
        munged.termination_grace_period_seconds = old_spec.termination_grace_period_seconds;
    }
    if !semantically_equal(&munged, old_spec) {
        errs.push(FieldError::forbidden(
            path,
            format!("pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}"),
        ));
    }
    errs
}

/// `apiequality.Semantic.DeepEqual` for specs: empty and missing lists are the same.
fn semantically_equal(a: &PodSpec, b: &PodSpec) -> bool {
    fn normalized(spec: &PodSpec) -> Value {
        let mut value = serde_json::to_value(spec).unwrap_or(Value::Null);
        drop_empty_lists(&mut value);
        value
    }
    normalized(a) == normalized(b)
}

fn drop_empty_lists(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !matches!(v, Value::Array(a) if a.is_empty()));
            map.values_mut().for_each(drop_empty_lists);
        }
        Value::Array(list) => list.iter_mut().for_each(drop_empty_lists),
        _ => {}
    }
}

/// `ValidatePodTemplateSpec`: template labels and annotations, the spec, no ephemeral
/// containers. Labels are reported at `<path>.labels`, as upstream does.
pub(in crate::resources) fn validate_pod_template(
    template: &PodTemplateSpec,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    if let Some(meta) = &template.metadata {
        if let Some(labels) = &meta.labels {
            errs.extend(validate_labels(labels, &path.child("labels")));
        }
        if let Some(annotations) = &meta.annotations {
            errs.extend(validate_annotations(
                annotations,
                &path.child("annotations"),
            ));
        }
    }
    let empty = PodSpec::default();
    let spec = template.spec.as_ref().unwrap_or(&empty);
    errs.extend(validate_pod_spec(spec, &path.child("spec")));
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        errs.push(FieldError::forbidden(
            path.child("spec").child("ephemeralContainers"),
            "ephemeral containers not allowed in pod template",
        ));
    }
    errs
}

/// Which workload owns a template, for the two messages that name it.
#[derive(Clone, Copy)]
pub(in crate::resources) enum TemplateOwner {
    ReplicaSet,
    ReplicationController,
}

/// `ValidatePodTemplateSpecForReplicaSet` / `ValidatePodTemplateSpecForRC`. `selector_matches`
/// is `None` when the selector is empty (nothing to compare), else whether it selects the
/// template's labels.
pub(in crate::resources) fn validate_template_for_replicas(
    template: Option<&PodTemplateSpec>,
    selector_matches: Option<bool>,
    owner: TemplateOwner,
    path: &Path,
) -> ErrorList {
    let Some(template) = template else {
        return vec![FieldError::required(path, "")];
    };
    let mut errs = Vec::new();
    if selector_matches == Some(false) {
        let labels = template.metadata.as_ref().and_then(|m| m.labels.as_ref());
        errs.push(FieldError::invalid(
            path.child("metadata").child("labels"),
            go_string_map(labels),
            "`selector` does not match template `labels`",
        ));
    }
    errs.extend(validate_pod_template(template, path));
    let spec_path = path.child("spec");
    let spec = template.spec.as_ref();
    let restart_policy = spec
        .and_then(|s| s.restart_policy.clone())
        .unwrap_or_default();
    if restart_policy != "Always" {
        errs.push(FieldError::not_supported(
            spec_path.child("restartPolicy"),
            restart_policy,
            &["Always"],
        ));
    }
    if let Some(deadline) = spec.and_then(|s| s.active_deadline_seconds) {
        let field = spec_path.child("activeDeadlineSeconds");
        errs.push(match owner {
            TemplateOwner::ReplicaSet => FieldError::invalid(
                field,
                deadline,
                "activeDeadlineSeconds in ReplicaSet is not Supported",
            ),
            TemplateOwner::ReplicationController => FieldError::forbidden(
                field,
                "activeDeadlineSeconds in ReplicationController is not Supported",
            ),
        });
    }
    errs
}

/// `ValidatePodSpec`, in upstream's order.
fn validate_pod_spec(spec: &PodSpec, path: &Path) -> ErrorList {
    let (volumes, mut errs) = validate_volumes(
        spec.volumes.as_deref().unwrap_or(&[]),
        &path.child("volumes"),
    );
    let grace_period = spec.termination_grace_period_seconds;
    errs.extend(validate_containers(
        &spec.containers,
        &volumes,
        grace_period,
        &path.child("containers"),
    ));
    errs.extend(validate_init_containers(
        spec.init_containers.as_deref().unwrap_or(&[]),
        &spec.containers,
        &volumes,
        grace_period,
        &path.child("initContainers"),
    ));
    errs.extend(validate_host_network_ports(spec, path));
    errs.extend(one_of(
        &spec.restart_policy,
        &["Always", "OnFailure", "Never"],
        &path.child("restartPolicy"),
    ));
    errs.extend(one_of(
        &spec.dns_policy,
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        &path.child("dnsPolicy"),
    ));
    if let Some(selector) = &spec.node_selector {
        errs.extend(validate_labels(selector, &path.child("nodeSelector")));
    }
    if let Some(context) = &spec.security_context {
        errs.extend(validate_pod_security_context(
            context,
            &path.child("securityContext"),
        ));
    }
    for (i, gate) in spec.readiness_gates.iter().flatten().enumerate() {
        let field = path.child("readinessGates").index(i).child("conditionType");
        errs.extend(qualified_name(&gate.condition_type, &field));
    }
    for (field, value) in [
        ("serviceAccountName", &spec.service_account_name),
        ("nodeName", &spec.node_name),
        ("priorityClassName", &spec.priority_class_name),
    ] {
        let value = str_of(value);
        if !value.is_empty() {
            for msg in names::dns1123_subdomain(value) {
                errs.push(FieldError::invalid(path.child(field), value, msg));
            }
        }
    }
    if let Some(deadline) = spec.active_deadline_seconds {
        if !(1..=MAX_INT32).contains(&deadline) {
            errs.push(FieldError::invalid(
                path.child("activeDeadlineSeconds"),
                deadline,
                inclusive_range(1, MAX_INT32),
            ));
        }
    }
    for (field, value) in [("hostname", &spec.hostname), ("subdomain", &spec.subdomain)] {
        let value = str_of(value);
        if !value.is_empty() {
            errs.extend(dns1123_label(value, &path.child(field)));
        }
    }
    errs.extend(validate_tolerations(
        spec.tolerations.as_deref().unwrap_or(&[]),
        &path.child("tolerations"),
    ));
    if let Some(policy) = &spec.preemption_policy {
        if policy != "PreemptLowerPriority" && policy != "Never" {
            errs.push(FieldError::not_supported(
                path.child("preemptionPolicy"),
                policy,
                &["PreemptLowerPriority", "Never"],
            ));
        }
    }
    errs
}

/// `ValidateVolumes`: names are unique DNS labels and each volume has exactly one source.
/// Returns the names of the valid volumes, for the volume mounts.
fn validate_volumes(volumes: &[Volume], path: &Path) -> (BTreeSet<String>, ErrorList) {
    let mut names = BTreeSet::new();
    let mut errs = Vec::new();
    for (i, volume) in volumes.iter().enumerate() {
        let volume_path = path.index(i);
        let name_path = volume_path.child("name");
        let mut volume_errs = validate_volume_source(volume, &volume_path);
        if volume.name.is_empty() {
            volume_errs.push(FieldError::required(&name_path, ""));
        } else {
            volume_errs.extend(dns1123_label(&volume.name, &name_path));
        }
        if names.contains(&volume.name) {
            volume_errs.push(FieldError::duplicate(&name_path, &volume.name));
        }
        if volume_errs.is_empty() {
            names.insert(volume.name.clone());
        }
        errs.extend(volume_errs);
    }
    (names, errs)
}

/// `validateVolumeSource`: exactly one source (checked in upstream's order, so the second one
/// found is the one reported), plus the required fields of the sources ferry mounts.
fn validate_volume_source(v: &Volume, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let sources: Vec<&str> = [
        ("hostPath", v.host_path.is_some()),
        ("emptyDir", v.empty_dir.is_some()),
        ("gitRepo", v.git_repo.is_some()),
        ("gcePersistentDisk", v.gce_persistent_disk.is_some()),
        ("awsElasticBlockStore", v.aws_elastic_block_store.is_some()),
        ("secret", v.secret.is_some()),
        ("nfs", v.nfs.is_some()),
        ("iscsi", v.iscsi.is_some()),
        ("glusterfs", v.glusterfs.is_some()),
        ("flocker", v.flocker.is_some()),
        ("persistentVolumeClaim", v.persistent_volume_claim.is_some()),
        ("rbd", v.rbd.is_some()),
        ("quobyte", v.quobyte.is_some()),
        ("cinder", v.cinder.is_some()),
        ("cephfs", v.cephfs.is_some()),
        ("downwardAPI", v.downward_api.is_some()),
        ("fc", v.fc.is_some()),
        ("flexVolume", v.flex_volume.is_some()),
        ("configMap", v.config_map.is_some()),
        ("azureFile", v.azure_file.is_some()),
        ("vsphereVolume", v.vsphere_volume.is_some()),
        ("photonPersistentDisk", v.photon_persistent_disk.is_some()),
        ("portworxVolume", v.portworx_volume.is_some()),
        ("azureDisk", v.azure_disk.is_some()),
        ("storageos", v.storageos.is_some()),
        ("projected", v.projected.is_some()),
        ("scaleIO", v.scale_io.is_some()),
        ("csi", v.csi.is_some()),
        ("ephemeral", v.ephemeral.is_some()),
        ("image", v.image.is_some()),
    ]
    .into_iter()
    .filter_map(|(name, set)| set.then_some(name))
    .collect();
    match sources.as_slice() {
        [] => errs.push(FieldError::required(path, "must specify a volume type")),
        [_] => {}
        [_, rest @ ..] => {
            for name in rest {
                errs.push(FieldError::forbidden(
                    path.child(name),
                    "may not specify more than 1 volume type",
                ));
            }
        }
    }
    if let Some(host_path) = &v.host_path {
        if host_path.path.is_empty() {
            errs.push(FieldError::required(
                path.child("hostPath").child("path"),
                "",
            ));
        }
    }
    if let Some(secret) = &v.secret {
        let secret_path = path.child("secret");
        if str_of(&secret.secret_name).is_empty() {
            errs.push(FieldError::required(secret_path.child("secretName"), ""));
        }
        errs.extend(file_mode(
            secret.default_mode,
            &secret_path.child("defaultMode"),
        ));
    }
    if let Some(config_map) = &v.config_map {
        let config_map_path = path.child("configMap");
        if config_map.name.is_empty() {
            errs.push(FieldError::required(config_map_path.child("name"), ""));
        }
        errs.extend(file_mode(
            config_map.default_mode,
            &config_map_path.child("defaultMode"),
        ));
    }
    if let Some(claim) = &v.persistent_volume_claim {
        if claim.claim_name.is_empty() {
            errs.push(FieldError::required(
                path.child("persistentVolumeClaim").child("claimName"),
                "",
            ));
        }
    }
    if let Some(downward) = &v.downward_api {
        let downward_path = path.child("downwardAPI");
        errs.extend(file_mode(
            downward.default_mode,
            &downward_path.child("defaultMode"),
        ));
        for (i, item) in downward.items.iter().flatten().enumerate() {
            if let Some(field_ref) = &item.field_ref {
                errs.extend(validate_field_selector(
                    field_ref,
                    VOLUME_FIELD_PATHS,
                    &downward_path.child("items").index(i).child("fieldRef"),
                ));
            }
        }
    }
    if let Some(projected) = &v.projected {
        errs.extend(file_mode(
            projected.default_mode,
            &path.child("projected").child("defaultMode"),
        ));
    }
    errs
}

/// `0` to `0777`.
fn file_mode(mode: Option<i32>, path: &Path) -> ErrorList {
    match mode {
        Some(m) if !(0..=0o777).contains(&m) => vec![FieldError::invalid(
            path,
            m,
            "must be a number between 0 and 0777 (octal), both inclusive",
        )],
        _ => Vec::new(),
    }
}

/// `validateContainers`: at least one, unique names, probes and lifecycle allowed, no
/// container-level restartPolicy, no host port used twice.
fn validate_containers(
    containers: &[Container],
    volumes: &BTreeSet<String>,
    grace_period: Option<i64>,
    path: &Path,
) -> ErrorList {
    if containers.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let mut errs = Vec::new();
    let mut seen = BTreeSet::new();
    for (i, c) in containers.iter().enumerate() {
        let container_path = path.index(i);
        errs.extend(validate_container_common(c, volumes, &container_path));
        if !seen.insert(c.name.as_str()) {
            errs.push(FieldError::duplicate(container_path.child("name"), &c.name));
        }
        if let Some(lifecycle) = &c.lifecycle {
            errs.extend(validate_lifecycle(
                lifecycle,
                grace_period,
                &container_path.child("lifecycle"),
            ));
        }
        errs.extend(validate_probes(c, grace_period, &container_path));
        if c.restart_policy.is_some() {
            errs.push(FieldError::forbidden(
                container_path.child("restartPolicy"),
                "may not be set for non-init containers",
            ));
        }
    }
    errs.extend(host_port_conflicts(containers.iter().enumerate(), path));
    errs
}

/// `validateInitContainers`: names unique across init and regular containers, restartPolicy
/// only `Always` (a sidecar), probes and lifecycle only on sidecars.
fn validate_init_containers(
    containers: &[Container],
    regular: &[Container],
    volumes: &BTreeSet<String>,
    grace_period: Option<i64>,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let mut seen: BTreeSet<&str> = regular.iter().map(|c| c.name.as_str()).collect();
    for (i, c) in containers.iter().enumerate() {
        let container_path = path.index(i);
        errs.extend(validate_container_common(c, volumes, &container_path));
        let sidecar = match c.restart_policy.as_deref() {
            None => false,
            Some("Always") => true,
            Some(other) => {
                errs.push(FieldError::not_supported(
                    container_path.child("restartPolicy"),
                    other,
                    &["Always"],
                ));
                false
            }
        };
        if seen.contains(c.name.as_str()) {
            errs.push(FieldError::duplicate(container_path.child("name"), &c.name));
        } else if !c.name.is_empty() {
            seen.insert(c.name.as_str());
        }
        // Upstream checks each init container alone (they run one by one), always at index 0.
        errs.extend(host_port_conflicts(std::iter::once((0, c)), path));
        if sidecar {
            if let Some(lifecycle) = &c.lifecycle {
                errs.extend(validate_lifecycle(
                    lifecycle,
                    grace_period,
                    &container_path.child("lifecycle"),
                ));
            }
            errs.extend(validate_probes(c, grace_period, &container_path));
        } else {
            let forbidden = [
                (
                    "lifecycle",
                    c.lifecycle.is_some(),
                    "may not be set for init containers without restartPolicy=Always",
                ),
                (
                    "livenessProbe",
                    c.liveness_probe.is_some(),
                    "may not be set for init containers without restartPolicy=Always",
                ),
                (
                    "readinessProbe",
                    c.readiness_probe.is_some(),
                    "may not be set for init containers",
                ),
                (
                    "startupProbe",
                    c.startup_probe.is_some(),
                    "may not be set for init containers without restartPolicy=Always",
                ),
            ];
            for (field, set, message) in forbidden {
                if set {
                    errs.push(FieldError::forbidden(container_path.child(field), message));
                }
            }
        }
    }
    errs
}

/// `validateContainerCommon`: what every kind of container must satisfy.
fn validate_container_common(c: &Container, volumes: &BTreeSet<String>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let name_path = path.child("name");
    if c.name.is_empty() {
        errs.push(FieldError::required(&name_path, ""));
    } else {
        errs.extend(dns1123_label(&c.name, &name_path));
    }
    if str_of(&c.image).is_empty() {
        errs.push(FieldError::required(path.child("image"), ""));
    }
    match str_of(&c.termination_message_policy) {
        "File" | "FallbackToLogsOnError" => {}
        "" => errs.push(FieldError::required(
            path.child("terminationMessagePolicy"),
            "must be 'File' or 'FallbackToLogsOnError'",
        )),
        other => errs.push(FieldError::not_supported(
            path.child("terminationMessagePolicy"),
            other,
            &["File", "FallbackToLogsOnError"],
        )),
    }
    errs.extend(validate_container_ports(
        c.ports.as_deref().unwrap_or(&[]),
        &path.child("ports"),
    ));
    errs.extend(validate_env(
        c.env.as_deref().unwrap_or(&[]),
        &path.child("env"),
    ));
    errs.extend(validate_env_from(
        c.env_from.as_deref().unwrap_or(&[]),
        &path.child("envFrom"),
    ));
    errs.extend(validate_volume_mounts(
        c.volume_mounts.as_deref().unwrap_or(&[]),
        volumes,
        &path.child("volumeMounts"),
    ));
    errs.extend(one_of(
        &c.image_pull_policy,
        &["Always", "IfNotPresent", "Never"],
        &path.child("imagePullPolicy"),
    ));
    if let Some(context) = &c.security_context {
        errs.extend(validate_security_context(
            context,
            &path.child("securityContext"),
        ));
    }
    errs
}

/// `validateContainerPorts`.
fn validate_container_ports(ports: &[ContainerPort], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let mut names = BTreeSet::new();
    for (i, port) in ports.iter().enumerate() {
        let port_path = path.index(i);
        let name = str_of(&port.name);
        if !name.is_empty() {
            let msgs = port_name_errors(name);
            if !msgs.is_empty() {
                for msg in msgs {
                    errs.push(FieldError::invalid(port_path.child("name"), name, msg));
                }
            } else if !names.insert(name) {
                errs.push(FieldError::duplicate(port_path.child("name"), name));
            }
        }
        if port.container_port == 0 {
            errs.push(FieldError::required(port_path.child("containerPort"), ""));
        } else {
            for msg in port_number_errors(port.container_port) {
                errs.push(FieldError::invalid(
                    port_path.child("containerPort"),
                    port.container_port,
                    msg,
                ));
            }
        }
        let host_port = port.host_port.unwrap_or(0);
        if host_port != 0 {
            for msg in port_number_errors(host_port) {
                errs.push(FieldError::invalid(
                    port_path.child("hostPort"),
                    host_port,
                    msg,
                ));
            }
        }
        match str_of(&port.protocol) {
            "TCP" | "UDP" | "SCTP" => {}
            "" => errs.push(FieldError::required(port_path.child("protocol"), "")),
            other => errs.push(FieldError::not_supported(
                port_path.child("protocol"),
                other,
                &["SCTP", "TCP", "UDP"],
            )),
        }
    }
    errs
}

/// `AccumulateUniqueHostPorts`: a `hostIP/protocol/hostPort` triple may appear once.
fn host_port_conflicts<'a>(
    containers: impl Iterator<Item = (usize, &'a Container)>,
    path: &Path,
) -> ErrorList {
    let mut seen = BTreeSet::new();
    let mut errs = Vec::new();
    for (i, c) in containers {
        for (j, port) in c.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port == 0 {
                continue;
            }
            let key = format!(
                "{}/{}/{host_port}",
                str_of(&port.host_ip),
                str_of(&port.protocol)
            );
            if seen.contains(&key) {
                errs.push(FieldError::duplicate(
                    path.index(i).child("ports").index(j).child("hostPort"),
                    key,
                ));
            } else {
                seen.insert(key);
            }
        }
    }
    errs
}

/// With `hostNetwork`, a set hostPort must equal the containerPort.
fn validate_host_network_ports(spec: &PodSpec, path: &Path) -> ErrorList {
    if spec.host_network != Some(true) {
        return Vec::new();
    }
    let mut errs = Vec::new();
    for (i, c) in spec.containers.iter().enumerate() {
        for (j, port) in c.ports.iter().flatten().enumerate() {
            let host_port = port.host_port.unwrap_or(0);
            if host_port != 0 && host_port != port.container_port {
                errs.push(FieldError::invalid(
                    path.child("containers")
                        .index(i)
                        .child("ports")
                        .index(j)
                        .child("hostPort"),
                    host_port,
                    "must match `containerPort` when `hostNetwork` is true",
                ));
            }
        }
    }
    errs
}

/// `ValidateEnv` with the relaxed (printable ASCII) names of v1.32.
fn validate_env(vars: &[EnvVar], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, var) in vars.iter().enumerate() {
        let var_path = path.index(i);
        if var.name.is_empty() {
            errs.push(FieldError::required(var_path.child("name"), ""));
        }
        for msg in env_var_name_errors(&var.name) {
            errs.push(FieldError::invalid(var_path.child("name"), &var.name, msg));
        }
        if let Some(source) = &var.value_from {
            let from_path = var_path.child("valueFrom");
            let mut count = 0;
            if let Some(field_ref) = &source.field_ref {
                count += 1;
                errs.extend(validate_field_selector(
                    field_ref,
                    ENV_FIELD_PATHS,
                    &from_path.child("fieldRef"),
                ));
            }
            if source.resource_field_ref.is_some() {
                count += 1;
            }
            if let Some(selector) = &source.config_map_key_ref {
                count += 1;
                errs.extend(key_selector(
                    &selector.name,
                    &selector.key,
                    &from_path.child("configMapKeyRef"),
                ));
            }
            if let Some(selector) = &source.secret_key_ref {
                count += 1;
                errs.extend(key_selector(
                    &selector.name,
                    &selector.key,
                    &from_path.child("secretKeyRef"),
                ));
            }
            if count == 0 {
                errs.push(FieldError::invalid(&from_path, "", "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
            } else if count > 1 {
                errs.push(FieldError::invalid(
                    &from_path,
                    "",
                    "may not have more than one field specified at a time",
                ));
            } else if !str_of(&var.value).is_empty() {
                errs.push(FieldError::invalid(
                    &from_path,
                    "",
                    "may not be specified when `value` is not empty",
                ));
            }
        }
    }
    errs
}

/// A configMapKeyRef or secretKeyRef: a valid object name and config key.
fn key_selector(name: &str, key: &str, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for msg in names::dns1123_subdomain(name) {
        errs.push(FieldError::invalid(path.child("name"), name, msg));
    }
    if key.is_empty() {
        errs.push(FieldError::required(path.child("key"), ""));
    } else {
        for msg in config_key_errors(key) {
            errs.push(FieldError::invalid(path.child("key"), key, msg));
        }
    }
    errs
}

/// `validateObjectFieldSelector`: an apiVersion and a supported field path (labels and
/// annotations also by key, `metadata.labels['app']`).
fn validate_field_selector(
    selector: &ObjectFieldSelector,
    supported: &[&str],
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    if str_of(&selector.api_version).is_empty() {
        errs.push(FieldError::required(path.child("apiVersion"), ""));
        return errs;
    }
    let field_path = selector.field_path.as_str();
    let subscripted = ["metadata.labels[", "metadata.annotations["]
        .iter()
        .any(|prefix| field_path.starts_with(prefix) && field_path.ends_with(']'));
    if !subscripted && !supported.contains(&field_path) {
        errs.push(FieldError::not_supported(
            path.child("fieldPath"),
            field_path,
            supported,
        ));
    }
    errs
}

/// `ValidateEnvFrom`: exactly one source, a valid prefix.
fn validate_env_from(sources: &[EnvFromSource], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, source) in sources.iter().enumerate() {
        let source_path = path.index(i);
        let prefix = str_of(&source.prefix);
        if !prefix.is_empty() {
            for msg in env_var_name_errors(prefix) {
                errs.push(FieldError::invalid(
                    source_path.child("prefix"),
                    prefix,
                    msg,
                ));
            }
        }
        let mut count = 0;
        for (field, name) in [
            (
                "configMapRef",
                source.config_map_ref.as_ref().map(|r| &r.name),
            ),
            ("secretRef", source.secret_ref.as_ref().map(|r| &r.name)),
        ] {
            let Some(name) = name else { continue };
            count += 1;
            for msg in names::dns1123_subdomain(name) {
                errs.push(FieldError::invalid(
                    source_path.child(field).child("name"),
                    name,
                    msg,
                ));
            }
        }
        if count == 0 {
            errs.push(FieldError::required(
                &source_path,
                "must specify one of: `configMapRef` or `secretRef`",
            ));
        } else if count > 1 {
            errs.push(FieldError::forbidden(
                &source_path,
                "may not have more than one field specified at a time",
            ));
        }
    }
    errs
}

/// `ValidateVolumeMounts`: a known volume, a unique, non-empty mount path.
fn validate_volume_mounts(
    mounts: &[VolumeMount],
    volumes: &BTreeSet<String>,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let mut mount_points = BTreeSet::new();
    for (i, mount) in mounts.iter().enumerate() {
        let mount_path = path.index(i);
        if mount.name.is_empty() {
            errs.push(FieldError::required(mount_path.child("name"), ""));
        }
        if !volumes.contains(&mount.name) {
            errs.push(FieldError::not_found(mount_path.child("name"), &mount.name));
        }
        if mount.mount_path.is_empty() {
            errs.push(FieldError::required(mount_path.child("mountPath"), ""));
        }
        if !mount_points.insert(mount.mount_path.as_str()) {
            errs.push(FieldError::invalid(
                mount_path.child("mountPath"),
                &mount.mount_path,
                "must be unique",
            ));
        }
    }
    errs
}

/// Liveness and startup probes need `successThreshold: 1`; readiness probes may not set a
/// termination grace period.
fn validate_probes(c: &Container, grace_period: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    let probes = [
        ("livenessProbe", c.liveness_probe.as_ref()),
        ("readinessProbe", c.readiness_probe.as_ref()),
        ("startupProbe", c.startup_probe.as_ref()),
    ];
    for (field, probe) in probes {
        let Some(probe) = probe else { continue };
        let probe_path = path.child(field);
        errs.extend(validate_probe(probe, grace_period, &probe_path));
        let success = probe.success_threshold.unwrap_or(0);
        if field != "readinessProbe" && success != 1 {
            errs.push(FieldError::invalid(
                probe_path.child("successThreshold"),
                success,
                "must be 1",
            ));
        }
        if let (true, Some(seconds)) = (
            field == "readinessProbe",
            probe.termination_grace_period_seconds,
        ) {
            errs.push(FieldError::invalid(
                probe_path.child("terminationGracePeriodSeconds"),
                seconds,
                "must not be set for readinessProbes",
            ));
        }
    }
    errs
}

/// `validateProbe`: one handler, non-negative timings.
fn validate_probe(probe: &Probe, grace_period: Option<i64>, path: &Path) -> ErrorList {
    let handler = LifecycleHandler {
        exec: probe.exec.clone(),
        http_get: probe.http_get.clone(),
        tcp_socket: probe.tcp_socket.clone(),
        sleep: None,
    };
    let mut errs = validate_handler(
        &handler,
        probe.grpc.as_ref().map(|g| g.port),
        grace_period,
        path,
    );
    for (field, value) in [
        ("initialDelaySeconds", probe.initial_delay_seconds),
        ("timeoutSeconds", probe.timeout_seconds),
        ("periodSeconds", probe.period_seconds),
        ("successThreshold", probe.success_threshold),
        ("failureThreshold", probe.failure_threshold),
    ] {
        errs.extend(non_negative(
            i64::from(value.unwrap_or(0)),
            &path.child(field),
        ));
    }
    if let Some(seconds) = probe.termination_grace_period_seconds.filter(|s| *s <= 0) {
        errs.push(FieldError::invalid(
            path.child("terminationGracePeriodSeconds"),
            seconds,
            "must be greater than 0",
        ));
    }
    errs
}

fn validate_lifecycle(lifecycle: &Lifecycle, grace_period: Option<i64>, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (field, handler) in [
        ("postStart", lifecycle.post_start.as_ref()),
        ("preStop", lifecycle.pre_stop.as_ref()),
    ] {
        if let Some(handler) = handler {
            errs.extend(validate_handler(
                handler,
                None,
                grace_period,
                &path.child(field),
            ));
        }
    }
    errs
}

/// `validateHandler`: exactly one of exec, httpGet, tcpSocket, grpc (probes), sleep (hooks).
fn validate_handler(
    handler: &LifecycleHandler,
    grpc_port: Option<i32>,
    grace_period: Option<i64>,
    path: &Path,
) -> ErrorList {
    let mut errs = Vec::new();
    let mut count = 0;
    let mut claim = |field: &str, errs: &mut ErrorList| -> bool {
        if count > 0 {
            errs.push(FieldError::forbidden(
                path.child(field),
                "may not specify more than 1 handler type",
            ));
            false
        } else {
            count += 1;
            true
        }
    };
    if let Some(exec) = &handler.exec {
        if claim("exec", &mut errs) && exec.command.as_ref().is_none_or(|c| c.is_empty()) {
            errs.push(FieldError::required(
                path.child("exec").child("command"),
                "",
            ));
        }
    }
    if let Some(http) = &handler.http_get {
        if claim("httpGet", &mut errs) {
            errs.extend(validate_http_get(http, &path.child("httpGet")));
        }
    }
    if let Some(tcp) = &handler.tcp_socket {
        if claim("tcpSocket", &mut errs) {
            errs.extend(port_num_or_name(
                &tcp.port,
                &path.child("tcpSocket").child("port"),
            ));
        }
    }
    if let Some(port) = grpc_port {
        if claim("grpc", &mut errs) {
            for msg in port_number_errors(port) {
                errs.push(FieldError::invalid(
                    path.child("grpc").child("port"),
                    port,
                    msg,
                ));
            }
        }
    }
    if let Some(sleep) = &handler.sleep {
        if claim("sleep", &mut errs) {
            if let Some(grace) = grace_period {
                if sleep.seconds <= 0 || sleep.seconds > grace {
                    errs.push(FieldError::invalid(
                        path.child("sleep").child("seconds"),
                        sleep.seconds,
                        format!("must be greater than 0 and less than terminationGracePeriodSeconds ({grace})"),
                    ));
                }
            }
        }
    }
    if count == 0 {
        errs.push(FieldError::required(path, "must specify a handler type"));
    }
    errs
}

fn validate_http_get(http: &HTTPGetAction, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    if str_of(&http.path).is_empty() {
        errs.push(FieldError::required(path.child("path"), ""));
    }
    errs.extend(port_num_or_name(&http.port, &path.child("port")));
    let scheme = str_of(&http.scheme);
    if scheme != "HTTP" && scheme != "HTTPS" {
        errs.push(FieldError::not_supported(
            path.child("scheme"),
            scheme,
            &["HTTP", "HTTPS"],
        ));
    }
    errs
}

/// `ValidatePortNumOrName`.
fn port_num_or_name(port: &IntOrString, path: &Path) -> ErrorList {
    match port {
        IntOrString::Int(n) => port_number_errors(*n)
            .into_iter()
            .map(|msg| FieldError::invalid(path, *n, msg))
            .collect(),
        IntOrString::String(s) => port_name_errors(s)
            .into_iter()
            .map(|msg| FieldError::invalid(path, s.as_str(), msg))
            .collect(),
    }
}

/// User and group IDs of the pod: `0` to `2147483647`.
fn validate_pod_security_context(context: &PodSecurityContext, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (field, value) in [
        ("fsGroup", context.fs_group),
        ("runAsUser", context.run_as_user),
        ("runAsGroup", context.run_as_group),
    ] {
        if let Some(id) = value {
            errs.extend(id_range(id, &path.child(field)));
        }
    }
    for (i, gid) in context.supplemental_groups.iter().flatten().enumerate() {
        errs.extend(id_range(*gid, &path.child("supplementalGroups").index(i)));
    }
    errs
}

fn validate_security_context(context: &SecurityContext, path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (field, value) in [
        ("runAsUser", context.run_as_user),
        ("runAsGroup", context.run_as_group),
    ] {
        if let Some(id) = value {
            errs.extend(id_range(id, &path.child(field)));
        }
    }
    errs
}

fn id_range(id: i64, path: &Path) -> ErrorList {
    if (0..=MAX_INT32).contains(&id) {
        Vec::new()
    } else {
        vec![FieldError::invalid(path, id, inclusive_range(0, MAX_INT32))]
    }
}

/// `ValidateTolerations`.
fn validate_tolerations(tolerations: &[Toleration], path: &Path) -> ErrorList {
    let mut errs = Vec::new();
    for (i, t) in tolerations.iter().enumerate() {
        let t_path = path.index(i);
        let key = str_of(&t.key);
        let operator = str_of(&t.operator);
        let effect = str_of(&t.effect);
        if !key.is_empty() {
            errs.extend(qualified_name(key, &t_path.child("key")));
        }
        if key.is_empty() && operator != "Exists" {
            errs.push(FieldError::invalid(
                t_path.child("operator"),
                operator,
                "operator must be Exists when `key` is empty, which means \"match all values and all keys\"",
            ));
        }
        if t.toleration_seconds.is_some() && effect != "NoExecute" {
            errs.push(FieldError::invalid(
                t_path.child("effect"),
                effect,
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
        match operator {
            "Equal" | "" => {
                let value = str_of(&t.value);
                let msgs = names::label_value(value);
                if !msgs.is_empty() {
                    errs.push(FieldError::invalid(
                        t_path.child("operator"),
                        value,
                        msgs.join(";"),
                    ));
                }
            }
            "Exists" => {
                if !str_of(&t.value).is_empty() {
                    errs.push(FieldError::invalid(
                        t_path.child("operator"),
                        BadValue::Raw(go_toleration(t)),
                        "value must be empty when `operator` is 'Exists'",
                    ));
                }
            }
            other => errs.push(FieldError::not_supported(
                t_path.child("operator"),
                other,
                &["Equal", "Exists"],
            )),
        }
        if !effect.is_empty() && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&effect)
        {
            errs.push(FieldError::not_supported(
                t_path.child("effect"),
                effect,
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
            ));
        }
    }
    errs
}

/// `core.Toleration{...}` as Go's `%#v` prints it; a set tolerationSeconds is a pointer whose
/// address Go prints, which is shown as `0x0` here.
fn go_toleration(t: &Toleration) -> String {
    let seconds = match t.toleration_seconds {
        Some(_) => "(*int64)(0x0)".to_string(),
        None => "(*int64)(nil)".to_string(),
    };
    format!(
        "core.Toleration{{Key:{}, Operator:{}, Value:{}, Effect:{}, TolerationSeconds:{seconds}}}",
        go_quote(str_of(&t.key)),
        go_quote(str_of(&t.operator)),
        go_quote(str_of(&t.value)),
        go_quote(str_of(&t.effect))
    )
}

/// `validateOnlyAddedTolerations`: every old toleration is still there (its
/// tolerationSeconds may change).
fn only_added_tolerations(new: &[Toleration], old: &[Toleration], path: &Path) -> ErrorList {
    for old_t in old {
        let kept = new.iter().any(|new_t| {
            let mut clone = old_t.clone();
            clone.toleration_seconds = new_t.toleration_seconds;
            clone == *new_t
        });
        if !kept {
            return vec![FieldError::forbidden(
                path,
                "existing toleration can not be modified except its tolerationSeconds",
            )];
        }
    }
    Vec::new()
}

/// A required enum field: `Required` when empty, `Unsupported value` when unknown.
fn one_of(value: &Option<String>, supported: &[&str], path: &Path) -> ErrorList {
    match str_of(value) {
        "" => vec![FieldError::required(path, "")],
        v if supported.contains(&v) => Vec::new(),
        v => vec![FieldError::not_supported(path, v, supported)],
    }
}

fn non_negative(value: i64, path: &Path) -> ErrorList {
    if value < 0 {
        vec![FieldError::invalid(
            path,
            value,
            "must be greater than or equal to 0",
        )]
    } else {
        Vec::new()
    }
}

fn dns1123_label(value: &str, path: &Path) -> ErrorList {
    names::dns1123_label(value)
        .into_iter()
        .map(|msg| FieldError::invalid(path, value, msg))
        .collect()
}

fn qualified_name(value: &str, path: &Path) -> ErrorList {
    names::qualified_name(value)
        .into_iter()
        .map(|msg| FieldError::invalid(path, value, msg))
        .collect()
}

/// `validation.InclusiveRangeError`.
fn inclusive_range(low: i64, high: i64) -> String {
    format!("must be between {low} and {high}, inclusive")
}

/// `IsValidPortNum`.
pub(in crate::resources) fn port_number_errors(port: i32) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec![inclusive_range(1, 65535)]
    }
}

/// `IsValidPortName`: an IANA service name.
pub(in crate::resources) fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        || name.is_empty()
    {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// `IsRelaxedEnvVarName`: printable ASCII other than `=`.
fn env_var_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.is_empty() {
        errs.push("environment variable name must be non-empty".to_string());
    }
    if name.chars().any(|c| !(' '..='~').contains(&c) || c == '=') {
        errs.push(
            "a valid environment variable name must consist only of printable ASCII characters other than '='"
                .to_string(),
        );
    }
    errs
}

/// `IsConfigMapKey`: the keys of ConfigMap and Secret data.
pub(in crate::resources) fn config_key_errors(key: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if key.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    let valid_chars = !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if !valid_chars {
        errs.push("a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')".to_string());
    }
    if key == "." {
        errs.push("must not be '.'".to_string());
    } else if key == ".." {
        errs.push("must not be '..'".to_string());
    } else if key.starts_with("..") {
        errs.push("must not start with '..'".to_string());
    }
    errs
}

/// Label selection of a plain map selector (`labels.SelectorFromSet`).
pub(in crate::resources) fn map_selects(
    selector: &BTreeMap<String, String>,
    labels: Option<&BTreeMap<String, String>>,
) -> bool {
    selector
        .iter()
        .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v))
}

fn str_of(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("")
}
