//! Pod defaulting as the scheme's defaulters (`pkg/apis/core/v1/defaults.go`) do it: the PodSpec
//! defaults every pod template gets, and the Pod-only ones on top.

use k8s_openapi::api::core::v1::{
    Container, EphemeralContainer, HTTPGetAction, LifecycleHandler, Pod, PodSpec, PodTemplateSpec,
    Probe, Volume,
};

/// `DefaultTerminationGracePeriodSeconds`.
const TERMINATION_GRACE_PERIOD_SECONDS: i64 = 30;
/// `0644`, the default mode of secret, configMap, downwardAPI and projected volumes.
const VOLUME_DEFAULT_MODE: i32 = 0o644;
/// The default lifetime of a projected service account token.
const TOKEN_EXPIRATION_SECONDS: i64 = 3600;

/// `SetObjectDefaults_Pod`: the PodSpec defaults plus `SetDefaults_Pod`.
pub(in crate::resources) fn default_pod(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    default_pod_spec(spec);
    // Requests default to limits on Pods only, not on templates (a template's requests stay
    // as written so that a later change of the limits still moves them).
    for container in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        requests_from_limits(container);
    }
    if spec.enable_service_links.is_none() {
        spec.enable_service_links = Some(true);
    }
    if spec.host_network == Some(true) {
        for container in spec
            .containers
            .iter_mut()
            .chain(spec.init_containers.iter_mut().flatten())
        {
            host_ports_from_container_ports(container);
        }
    }
}

/// The defaults of a pod template (Deployment, ReplicaSet, ReplicationController).
pub(in crate::resources) fn default_pod_template(template: &mut PodTemplateSpec) {
    default_pod_spec(template.spec.get_or_insert_with(PodSpec::default));
}

/// `SetDefaults_PodSpec` and the defaulters of everything inside a PodSpec.
fn default_pod_spec(spec: &mut PodSpec) {
    set_if_empty(&mut spec.dns_policy, "ClusterFirst");
    set_if_empty(&mut spec.restart_policy, "Always");
    spec.security_context.get_or_insert_with(Default::default);
    spec.termination_grace_period_seconds
        .get_or_insert(TERMINATION_GRACE_PERIOD_SECONDS);
    set_if_empty(&mut spec.scheduler_name, "default-scheduler");
    for volume in spec.volumes.iter_mut().flatten() {
        default_volume(volume);
    }
    for container in spec
        .containers
        .iter_mut()
        .chain(spec.init_containers.iter_mut().flatten())
    {
        default_container(container);
    }
    for container in spec.ephemeral_containers.iter_mut().flatten() {
        default_ephemeral_container(container);
    }
}

fn default_container(c: &mut Container) {
    if is_empty(&c.image_pull_policy) {
        let policy = if image_tag_is_latest(c.image.as_deref().unwrap_or("")) {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.image_pull_policy = Some(policy.to_string());
    }
    set_if_empty(&mut c.termination_message_path, "/dev/termination-log");
    set_if_empty(&mut c.termination_message_policy, "File");
    for port in c.ports.iter_mut().flatten() {
        set_if_empty(&mut port.protocol, "TCP");
    }
    for env in c.env.iter_mut().flatten() {
        if let Some(field_ref) = env.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            set_if_empty(&mut field_ref.api_version, "v1");
        }
    }
    for probe in [
        c.liveness_probe.as_mut(),
        c.readiness_probe.as_mut(),
        c.startup_probe.as_mut(),
    ]
    .into_iter()
    .flatten()
    {
        default_probe(probe);
    }
    if let Some(lifecycle) = c.lifecycle.as_mut() {
        for handler in [lifecycle.post_start.as_mut(), lifecycle.pre_stop.as_mut()]
            .into_iter()
            .flatten()
        {
            default_lifecycle_handler(handler);
        }
    }
}

/// The same defaults for an ephemeral container, whose fields k8s-openapi lays out separately.
fn default_ephemeral_container(c: &mut EphemeralContainer) {
    if is_empty(&c.image_pull_policy) {
        let policy = if image_tag_is_latest(c.image.as_deref().unwrap_or("")) {
            "Always"
        } else {
            "IfNotPresent"
        };
        c.image_pull_policy = Some(policy.to_string());
    }
    set_if_empty(&mut c.termination_message_path, "/dev/termination-log");
    set_if_empty(&mut c.termination_message_policy, "File");
    for port in c.ports.iter_mut().flatten() {
        set_if_empty(&mut port.protocol, "TCP");
    }
}

/// `SetDefaults_Probe` and the HTTP handler defaults.
fn default_probe(probe: &mut Probe) {
    set_if_zero(&mut probe.timeout_seconds, 1);
    set_if_zero(&mut probe.period_seconds, 10);
    set_if_zero(&mut probe.success_threshold, 1);
    set_if_zero(&mut probe.failure_threshold, 3);
    if let Some(http) = probe.http_get.as_mut() {
        default_http_get(http);
    }
}

fn default_lifecycle_handler(handler: &mut LifecycleHandler) {
    if let Some(http) = handler.http_get.as_mut() {
        default_http_get(http);
    }
}

/// `SetDefaults_HTTPGetAction`.
fn default_http_get(http: &mut HTTPGetAction) {
    set_if_empty(&mut http.path, "/");
    set_if_empty(&mut http.scheme, "HTTP");
}

/// `SetDefaults_Volume` (a volume without a source is an emptyDir) and the per-source defaults.
fn default_volume(volume: &mut Volume) {
    if !has_source(volume) {
        volume.empty_dir = Some(Default::default());
    }
    if let Some(secret) = volume.secret.as_mut() {
        secret.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
    }
    if let Some(config_map) = volume.config_map.as_mut() {
        config_map.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
    }
    if let Some(downward) = volume.downward_api.as_mut() {
        downward.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
        for item in downward.items.iter_mut().flatten() {
            if let Some(field_ref) = item.field_ref.as_mut() {
                set_if_empty(&mut field_ref.api_version, "v1");
            }
        }
    }
    if let Some(projected) = volume.projected.as_mut() {
        projected.default_mode.get_or_insert(VOLUME_DEFAULT_MODE);
        for source in projected.sources.iter_mut().flatten() {
            if let Some(token) = source.service_account_token.as_mut() {
                token
                    .expiration_seconds
                    .get_or_insert(TOKEN_EXPIRATION_SECONDS);
            }
            let downward_items = source.downward_api.as_mut().and_then(|d| d.items.as_mut());
            for item in downward_items.into_iter().flatten() {
                if let Some(field_ref) = item.field_ref.as_mut() {
                    set_if_empty(&mut field_ref.api_version, "v1");
                }
            }
        }
    }
    if let Some(host_path) = volume.host_path.as_mut() {
        host_path.type_.get_or_insert_with(String::new);
    }
    let claim_spec = volume
        .ephemeral
        .as_mut()
        .and_then(|e| e.volume_claim_template.as_mut())
        .map(|t| &mut t.spec);
    if let Some(claim_spec) = claim_spec {
        set_if_empty(&mut claim_spec.volume_mode, "Filesystem");
    }
}

/// Whether any volume source is set (`AllPtrFieldsNil` on the VolumeSource).
fn has_source(v: &Volume) -> bool {
    v.host_path.is_some()
        || v.empty_dir.is_some()
        || v.gce_persistent_disk.is_some()
        || v.aws_elastic_block_store.is_some()
        || v.git_repo.is_some()
        || v.secret.is_some()
        || v.nfs.is_some()
        || v.iscsi.is_some()
        || v.glusterfs.is_some()
        || v.persistent_volume_claim.is_some()
        || v.rbd.is_some()
        || v.flex_volume.is_some()
        || v.cinder.is_some()
        || v.cephfs.is_some()
        || v.flocker.is_some()
        || v.downward_api.is_some()
        || v.fc.is_some()
        || v.azure_file.is_some()
        || v.config_map.is_some()
        || v.vsphere_volume.is_some()
        || v.quobyte.is_some()
        || v.azure_disk.is_some()
        || v.photon_persistent_disk.is_some()
        || v.projected.is_some()
        || v.portworx_volume.is_some()
        || v.scale_io.is_some()
        || v.storageos.is_some()
        || v.csi.is_some()
        || v.ephemeral.is_some()
        || v.image.is_some()
}

/// Limits without a matching request become the request.
fn requests_from_limits(container: &mut Container) {
    let Some(resources) = container.resources.as_mut() else {
        return;
    };
    let Some(limits) = resources.limits.as_ref() else {
        return;
    };
    let requests = resources.requests.get_or_insert_with(Default::default);
    for (name, quantity) in limits {
        requests
            .entry(name.clone())
            .or_insert_with(|| quantity.clone());
    }
}

/// With `hostNetwork`, a port's hostPort defaults to its containerPort.
fn host_ports_from_container_ports(container: &mut Container) {
    for port in container.ports.iter_mut().flatten() {
        if port.host_port.unwrap_or(0) == 0 {
            port.host_port = Some(port.container_port);
        }
    }
}

/// Whether the image reference has the tag `latest`, explicitly or because it names neither a
/// tag nor a digest (`parsers.ParseImageName`). An unparsable reference has no tag.
pub(in crate::resources) fn image_tag_is_latest(image: &str) -> bool {
    let (name, digest) = match image.split_once('@') {
        Some((name, digest)) => (name, Some(digest)),
        None => (image, None),
    };
    let last_slash = name.rfind('/').map_or(0, |i| i + 1);
    let (repository, tag) = match name[last_slash..].rfind(':') {
        Some(i) => (&name[..last_slash + i], Some(&name[last_slash + i + 1..])),
        None => (name, None),
    };
    if !is_valid_repository(repository)
        || tag.is_some_and(|t| !is_valid_tag(t))
        || digest.is_some_and(|d| !d.contains(':'))
    {
        return false;
    }
    match tag {
        Some(tag) => tag == "latest",
        None => digest.is_none(),
    }
}

/// The docker reference grammar: an optional domain, then lowercase path components.
fn is_valid_repository(repository: &str) -> bool {
    let mut components: Vec<&str> = repository.split('/').collect();
    let first = components.first().copied().unwrap_or("");
    let has_domain = components.len() > 1
        && (first.contains('.')
            || first.contains(':')
            || first == "localhost"
            || first.to_lowercase() != first);
    if has_domain {
        components.remove(0);
    }
    !components.is_empty() && components.iter().all(|c| is_valid_path_component(c))
}

fn is_valid_path_component(component: &str) -> bool {
    let bytes = component.as_bytes();
    let alnum = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    match (bytes.first(), bytes.last()) {
        (Some(first), Some(last)) => {
            alnum(first)
                && alnum(last)
                && bytes
                    .iter()
                    .all(|b| alnum(b) || matches!(b, b'.' | b'_' | b'-'))
        }
        _ => false,
    }
}

/// `[\w][\w.-]{0,127}`.
fn is_valid_tag(tag: &str) -> bool {
    let word = |b: &u8| b.is_ascii_alphanumeric() || *b == b'_';
    let bytes = tag.as_bytes();
    bytes.len() <= 128
        && bytes.first().is_some_and(word)
        && bytes.iter().all(|b| word(b) || matches!(b, b'.' | b'-'))
}

fn is_empty(value: &Option<String>) -> bool {
    value.as_deref().unwrap_or("").is_empty()
}

fn set_if_empty(value: &mut Option<String>, default: &str) {
    if is_empty(value) {
        *value = Some(default.to_string());
    }
}

fn set_if_zero(value: &mut Option<i32>, default: i32) {
    if value.unwrap_or(0) == 0 {
        *value = Some(default);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policy_follows_the_tag() {
        let latest = [
            "nginx",
            "luksa/kubia",
            "nginx:latest",
            "localhost:5000/kubia",
            "registry.example.com/team/app",
            "busybox:latest@sha256:abc",
        ];
        for image in latest {
            assert!(image_tag_is_latest(image), "{image}");
        }
        let pinned = [
            "nginx:1.25",
            "luksa/kubia:v1",
            "registry:5000/app:v1",
            "busybox@sha256:abc",
            "Nginx",
            "library/Nginx",
            "",
            "bad tag",
        ];
        for image in pinned {
            assert!(!image_tag_is_latest(image), "{image}");
        }
    }
}
