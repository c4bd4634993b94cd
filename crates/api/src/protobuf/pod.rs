//! JSON for the core/v1 Pod tree: Pod, PodTemplateSpec, PodSpec with containers, probes,
//! volumes, scheduling constraints and security contexts, and PodStatus.
//!
//! Covers every field of the v1.32 API except the legacy in-tree volume plugins (gcePersistentDisk,
//! awsElasticBlockStore, rbd, cinder, ...), which ferry cannot mount; a volume using one decodes
//! without a source and fails validation like any volume without one.

use k8s_pb::api::core::v1::PersistentVolumeClaimSpec;
use k8s_pb::api::core::v1::{
    Affinity, AppArmorProfile, CSIVolumeSource, Capabilities, ClusterTrustBundleProjection,
    ConfigMapEnvSource, ConfigMapKeySelector, ConfigMapProjection, ConfigMapVolumeSource,
    Container, ContainerPort, ContainerResizePolicy, ContainerState, ContainerStateRunning,
    ContainerStateTerminated, ContainerStateWaiting, ContainerStatus, DownwardAPIProjection,
    DownwardAPIVolumeFile, DownwardAPIVolumeSource, EmptyDirVolumeSource, EnvFromSource, EnvVar,
    EnvVarSource, EphemeralContainer, EphemeralContainerCommon, EphemeralVolumeSource, ExecAction,
    GrpcAction, HostAlias, HostIp, HostPathVolumeSource, HttpGetAction, HttpHeader,
    ImageVolumeSource, KeyToPath, Lifecycle, LifecycleHandler, LocalObjectReference,
    NfsVolumeSource, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    ObjectFieldSelector, PersistentVolumeClaimTemplate, PersistentVolumeClaimVolumeSource, Pod,
    PodAffinity, PodAffinityTerm, PodAntiAffinity, PodCondition, PodDnsConfig, PodDnsConfigOption,
    PodIp, PodOs, PodReadinessGate, PodResourceClaim, PodSchedulingGate, PodSecurityContext,
    PodSpec, PodStatus, PodTemplateSpec, PreferredSchedulingTerm, Probe, ProbeHandler,
    ProjectedVolumeSource, ResourceClaim, ResourceFieldSelector, ResourceRequirements,
    SeLinuxOptions, SeccompProfile, SecretEnvSource, SecretKeySelector, SecretProjection,
    SecretVolumeSource, SecurityContext, ServiceAccountTokenProjection, SleepAction, Sysctl,
    TcpSocketAction, Toleration, TopologySpreadConstraint, Volume, VolumeDevice, VolumeMount,
    VolumeProjection, VolumeSource, WeightedPodAffinityTerm, WindowsSecurityContextOptions,
};
use k8s_pb::api::core::v1::{
    TypedLocalObjectReference, TypedObjectReference, VolumeResourceRequirements,
};
use serde_json::Value;

use super::json::{Fields, ToJson};

impl ToJson for Pod {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .message("status", &self.status)
            .build()
    }
}

impl ToJson for PodTemplateSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .build()
    }
}

impl ToJson for PodSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .messages("volumes", &self.volumes)
            .messages("initContainers", &self.init_containers)
            .messages("containers", &self.containers)
            .messages("ephemeralContainers", &self.ephemeral_containers)
            .string("restartPolicy", &self.restart_policy)
            .int_ptr(
                "terminationGracePeriodSeconds",
                self.termination_grace_period_seconds,
            )
            .int_ptr("activeDeadlineSeconds", self.active_deadline_seconds)
            .string("dnsPolicy", &self.dns_policy)
            .string_map("nodeSelector", &self.node_selector)
            .string("serviceAccountName", &self.service_account_name)
            .string("serviceAccount", &self.service_account)
            .bool_ptr(
                "automountServiceAccountToken",
                self.automount_service_account_token,
            )
            .string("nodeName", &self.node_name)
            .bool("hostNetwork", self.host_network)
            .bool("hostPID", self.host_pid)
            .bool("hostIPC", self.host_ipc)
            .bool_ptr("shareProcessNamespace", self.share_process_namespace)
            .message("securityContext", &self.security_context)
            .messages("imagePullSecrets", &self.image_pull_secrets)
            .string("hostname", &self.hostname)
            .string("subdomain", &self.subdomain)
            .message("affinity", &self.affinity)
            .string("schedulerName", &self.scheduler_name)
            .messages("tolerations", &self.tolerations)
            .messages("hostAliases", &self.host_aliases)
            .string("priorityClassName", &self.priority_class_name)
            .int_ptr("priority", self.priority)
            .message("dnsConfig", &self.dns_config)
            .messages("readinessGates", &self.readiness_gates)
            .string_ptr("runtimeClassName", &self.runtime_class_name)
            .bool_ptr("enableServiceLinks", self.enable_service_links)
            .string_ptr("preemptionPolicy", &self.preemption_policy)
            .quantity_map("overhead", &self.overhead)
            .messages(
                "topologySpreadConstraints",
                &self.topology_spread_constraints,
            )
            .bool_ptr("setHostnameAsFQDN", self.set_hostname_as_fqdn)
            .message("os", &self.os)
            .bool_ptr("hostUsers", self.host_users)
            .messages("schedulingGates", &self.scheduling_gates)
            .messages("resourceClaims", &self.resource_claims)
            .message("resources", &self.resources)
            .build()
    }
}

/// The fields shared by Container and EphemeralContainerCommon.
macro_rules! container_fields {
    ($c:expr) => {
        Fields::new()
            .string("name", &$c.name)
            .string("image", &$c.image)
            .strings("command", &$c.command)
            .strings("args", &$c.args)
            .string("workingDir", &$c.working_dir)
            .messages("ports", &$c.ports)
            .messages("envFrom", &$c.env_from)
            .messages("env", &$c.env)
            .message("resources", &$c.resources)
            .messages("resizePolicy", &$c.resize_policy)
            .string_ptr("restartPolicy", &$c.restart_policy)
            .messages("volumeMounts", &$c.volume_mounts)
            .messages("volumeDevices", &$c.volume_devices)
            .message("livenessProbe", &$c.liveness_probe)
            .message("readinessProbe", &$c.readiness_probe)
            .message("startupProbe", &$c.startup_probe)
            .message("lifecycle", &$c.lifecycle)
            .string("terminationMessagePath", &$c.termination_message_path)
            .string("terminationMessagePolicy", &$c.termination_message_policy)
            .string("imagePullPolicy", &$c.image_pull_policy)
            .message("securityContext", &$c.security_context)
            .bool("stdin", $c.stdin)
            .bool("stdinOnce", $c.stdin_once)
            .bool("tty", $c.tty)
    };
}

impl ToJson for Container {
    fn to_json(&self) -> Value {
        container_fields!(self).build()
    }
}

impl ToJson for EphemeralContainer {
    fn to_json(&self) -> Value {
        Fields::new()
            .inline(&self.ephemeral_container_common)
            .string("targetContainerName", &self.target_container_name)
            .build()
    }
}

impl ToJson for EphemeralContainerCommon {
    fn to_json(&self) -> Value {
        container_fields!(self).build()
    }
}

impl ToJson for ContainerPort {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .int("hostPort", self.host_port)
            .int_ptr("containerPort", self.container_port)
            .string("protocol", &self.protocol)
            .string("hostIP", &self.host_ip)
            .build()
    }
}

impl ToJson for EnvVar {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .string("value", &self.value)
            .message("valueFrom", &self.value_from)
            .build()
    }
}

impl ToJson for EnvVarSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("fieldRef", &self.field_ref)
            .message("resourceFieldRef", &self.resource_field_ref)
            .message("configMapKeyRef", &self.config_map_key_ref)
            .message("secretKeyRef", &self.secret_key_ref)
            .build()
    }
}

impl ToJson for EnvFromSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("prefix", &self.prefix)
            .message("configMapRef", &self.config_map_ref)
            .message("secretRef", &self.secret_ref)
            .build()
    }
}

impl ToJson for ConfigMapEnvSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .inline(&self.local_object_reference)
            .bool_ptr("optional", self.optional)
            .build()
    }
}

impl ToJson for SecretEnvSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .inline(&self.local_object_reference)
            .bool_ptr("optional", self.optional)
            .build()
    }
}

impl ToJson for ConfigMapKeySelector {
    fn to_json(&self) -> Value {
        Fields::new()
            .inline(&self.local_object_reference)
            .string("key", &self.key)
            .bool_ptr("optional", self.optional)
            .build()
    }
}

impl ToJson for SecretKeySelector {
    fn to_json(&self) -> Value {
        Fields::new()
            .inline(&self.local_object_reference)
            .string("key", &self.key)
            .bool_ptr("optional", self.optional)
            .build()
    }
}

impl ToJson for LocalObjectReference {
    fn to_json(&self) -> Value {
        Fields::new().string("name", &self.name).build()
    }
}

impl ToJson for ObjectFieldSelector {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("apiVersion", &self.api_version)
            .string("fieldPath", &self.field_path)
            .build()
    }
}

impl ToJson for ResourceFieldSelector {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("containerName", &self.container_name)
            .string("resource", &self.resource)
            .quantity("divisor", &self.divisor)
            .build()
    }
}

impl ToJson for ResourceRequirements {
    fn to_json(&self) -> Value {
        Fields::new()
            .quantity_map("limits", &self.limits)
            .quantity_map("requests", &self.requests)
            .messages("claims", &self.claims)
            .build()
    }
}

impl ToJson for ResourceClaim {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .string("request", &self.request)
            .build()
    }
}

impl ToJson for ContainerResizePolicy {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("resourceName", &self.resource_name)
            .string("restartPolicy", &self.restart_policy)
            .build()
    }
}

impl ToJson for VolumeMount {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .bool("readOnly", self.read_only)
            .string_ptr("recursiveReadOnly", &self.recursive_read_only)
            .string("mountPath", &self.mount_path)
            .string("subPath", &self.sub_path)
            .string_ptr("mountPropagation", &self.mount_propagation)
            .string("subPathExpr", &self.sub_path_expr)
            .build()
    }
}

impl ToJson for VolumeDevice {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .string("devicePath", &self.device_path)
            .build()
    }
}

impl ToJson for Probe {
    fn to_json(&self) -> Value {
        Fields::new()
            .inline(&self.handler)
            .int("initialDelaySeconds", self.initial_delay_seconds)
            .int("timeoutSeconds", self.timeout_seconds)
            .int("periodSeconds", self.period_seconds)
            .int("successThreshold", self.success_threshold)
            .int("failureThreshold", self.failure_threshold)
            .int_ptr(
                "terminationGracePeriodSeconds",
                self.termination_grace_period_seconds,
            )
            .build()
    }
}

impl ToJson for ProbeHandler {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("exec", &self.exec)
            .message("httpGet", &self.http_get)
            .message("tcpSocket", &self.tcp_socket)
            .message("grpc", &self.grpc)
            .build()
    }
}

impl ToJson for ExecAction {
    fn to_json(&self) -> Value {
        Fields::new().strings("command", &self.command).build()
    }
}

impl ToJson for HttpGetAction {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("path", &self.path)
            .int_or_string("port", &self.port)
            .string("host", &self.host)
            .string("scheme", &self.scheme)
            .messages("httpHeaders", &self.http_headers)
            .build()
    }
}

impl ToJson for HttpHeader {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .string_ptr("value", &self.value)
            .build()
    }
}

impl ToJson for TcpSocketAction {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_or_string("port", &self.port)
            .string("host", &self.host)
            .build()
    }
}

impl ToJson for GrpcAction {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("port", self.port)
            .string_ptr("service", &self.service)
            .build()
    }
}

impl ToJson for Lifecycle {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("postStart", &self.post_start)
            .message("preStop", &self.pre_stop)
            .build()
    }
}

impl ToJson for LifecycleHandler {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("exec", &self.exec)
            .message("httpGet", &self.http_get)
            .message("tcpSocket", &self.tcp_socket)
            .message("sleep", &self.sleep)
            .build()
    }
}

impl ToJson for SleepAction {
    fn to_json(&self) -> Value {
        Fields::new().int_ptr("seconds", self.seconds).build()
    }
}

impl ToJson for SecurityContext {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("capabilities", &self.capabilities)
            .bool_ptr("privileged", self.privileged)
            .message("seLinuxOptions", &self.se_linux_options)
            .message("windowsOptions", &self.windows_options)
            .int_ptr("runAsUser", self.run_as_user)
            .int_ptr("runAsGroup", self.run_as_group)
            .bool_ptr("runAsNonRoot", self.run_as_non_root)
            .bool_ptr("readOnlyRootFilesystem", self.read_only_root_filesystem)
            .bool_ptr("allowPrivilegeEscalation", self.allow_privilege_escalation)
            .string_ptr("procMount", &self.proc_mount)
            .message("seccompProfile", &self.seccomp_profile)
            .message("appArmorProfile", &self.app_armor_profile)
            .build()
    }
}

impl ToJson for Capabilities {
    fn to_json(&self) -> Value {
        Fields::new()
            .strings("add", &self.add)
            .strings("drop", &self.drop)
            .build()
    }
}

impl ToJson for SeLinuxOptions {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("user", &self.user)
            .string("role", &self.role)
            .string("type", &self.r#type)
            .string("level", &self.level)
            .build()
    }
}

impl ToJson for WindowsSecurityContextOptions {
    fn to_json(&self) -> Value {
        Fields::new()
            .string_ptr("gmsaCredentialSpecName", &self.gmsa_credential_spec_name)
            .string_ptr("gmsaCredentialSpec", &self.gmsa_credential_spec)
            .string_ptr("runAsUserName", &self.run_as_user_name)
            .bool_ptr("hostProcess", self.host_process)
            .build()
    }
}

impl ToJson for SeccompProfile {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("type", &self.r#type)
            .string_ptr("localhostProfile", &self.localhost_profile)
            .build()
    }
}

impl ToJson for AppArmorProfile {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("type", &self.r#type)
            .string_ptr("localhostProfile", &self.localhost_profile)
            .build()
    }
}

impl ToJson for PodSecurityContext {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("seLinuxOptions", &self.se_linux_options)
            .message("windowsOptions", &self.windows_options)
            .int_ptr("runAsUser", self.run_as_user)
            .int_ptr("runAsGroup", self.run_as_group)
            .bool_ptr("runAsNonRoot", self.run_as_non_root)
            .ints("supplementalGroups", &self.supplemental_groups)
            .string_ptr("supplementalGroupsPolicy", &self.supplemental_groups_policy)
            .int_ptr("fsGroup", self.fs_group)
            .messages("sysctls", &self.sysctls)
            .string_ptr("fsGroupChangePolicy", &self.fs_group_change_policy)
            .message("seccompProfile", &self.seccomp_profile)
            .message("appArmorProfile", &self.app_armor_profile)
            .string_ptr("seLinuxChangePolicy", &self.se_linux_change_policy)
            .build()
    }
}

impl ToJson for Sysctl {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .string("value", &self.value)
            .build()
    }
}

impl ToJson for Volume {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .inline(&self.volume_source)
            .build()
    }
}

impl ToJson for VolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("hostPath", &self.host_path)
            .message("emptyDir", &self.empty_dir)
            .message("secret", &self.secret)
            .message("nfs", &self.nfs)
            .message("persistentVolumeClaim", &self.persistent_volume_claim)
            .message("downwardAPI", &self.downward_api)
            .message("configMap", &self.config_map)
            .message("projected", &self.projected)
            .message("csi", &self.csi)
            .message("ephemeral", &self.ephemeral)
            .message("image", &self.image)
            .build()
    }
}

impl ToJson for HostPathVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("path", &self.path)
            .string_ptr("type", &self.r#type)
            .build()
    }
}

impl ToJson for EmptyDirVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("medium", &self.medium)
            .quantity("sizeLimit", &self.size_limit)
            .build()
    }
}

impl ToJson for SecretVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("secretName", &self.secret_name)
            .messages("items", &self.items)
            .int_ptr("defaultMode", self.default_mode)
            .bool_ptr("optional", self.optional)
            .build()
    }
}

impl ToJson for ConfigMapVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .inline(&self.local_object_reference)
            .messages("items", &self.items)
            .int_ptr("defaultMode", self.default_mode)
            .bool_ptr("optional", self.optional)
            .build()
    }
}

impl ToJson for KeyToPath {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("key", &self.key)
            .string("path", &self.path)
            .int_ptr("mode", self.mode)
            .build()
    }
}

impl ToJson for NfsVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("server", &self.server)
            .string("path", &self.path)
            .bool("readOnly", self.read_only)
            .build()
    }
}

impl ToJson for PersistentVolumeClaimVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("claimName", &self.claim_name)
            .bool("readOnly", self.read_only)
            .build()
    }
}

impl ToJson for DownwardAPIVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .messages("items", &self.items)
            .int_ptr("defaultMode", self.default_mode)
            .build()
    }
}

impl ToJson for DownwardAPIVolumeFile {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("path", &self.path)
            .message("fieldRef", &self.field_ref)
            .message("resourceFieldRef", &self.resource_field_ref)
            .int_ptr("mode", self.mode)
            .build()
    }
}

impl ToJson for ProjectedVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .messages("sources", &self.sources)
            .int_ptr("defaultMode", self.default_mode)
            .build()
    }
}

impl ToJson for VolumeProjection {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("secret", &self.secret)
            .message("downwardAPI", &self.downward_api)
            .message("configMap", &self.config_map)
            .message("serviceAccountToken", &self.service_account_token)
            .message("clusterTrustBundle", &self.cluster_trust_bundle)
            .build()
    }
}

impl ToJson for SecretProjection {
    fn to_json(&self) -> Value {
        Fields::new()
            .inline(&self.local_object_reference)
            .messages("items", &self.items)
            .bool_ptr("optional", self.optional)
            .build()
    }
}

impl ToJson for ConfigMapProjection {
    fn to_json(&self) -> Value {
        Fields::new()
            .inline(&self.local_object_reference)
            .messages("items", &self.items)
            .bool_ptr("optional", self.optional)
            .build()
    }
}

impl ToJson for DownwardAPIProjection {
    fn to_json(&self) -> Value {
        Fields::new().messages("items", &self.items).build()
    }
}

impl ToJson for ServiceAccountTokenProjection {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("audience", &self.audience)
            .int_ptr("expirationSeconds", self.expiration_seconds)
            .string("path", &self.path)
            .build()
    }
}

impl ToJson for ClusterTrustBundleProjection {
    fn to_json(&self) -> Value {
        Fields::new()
            .string_ptr("name", &self.name)
            .string_ptr("signerName", &self.signer_name)
            .message("labelSelector", &self.label_selector)
            .bool_ptr("optional", self.optional)
            .string("path", &self.path)
            .build()
    }
}

impl ToJson for CSIVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("driver", &self.driver)
            .bool_ptr("readOnly", self.read_only)
            .string_ptr("fsType", &self.fs_type)
            .string_map("volumeAttributes", &self.volume_attributes)
            .message("nodePublishSecretRef", &self.node_publish_secret_ref)
            .build()
    }
}

impl ToJson for EphemeralVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("volumeClaimTemplate", &self.volume_claim_template)
            .build()
    }
}

impl ToJson for PersistentVolumeClaimTemplate {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("metadata", &self.metadata)
            .message("spec", &self.spec)
            .build()
    }
}

impl ToJson for PersistentVolumeClaimSpec {
    fn to_json(&self) -> Value {
        Fields::new()
            .strings("accessModes", &self.access_modes)
            .message("selector", &self.selector)
            .message("resources", &self.resources)
            .string("volumeName", &self.volume_name)
            .string_ptr("storageClassName", &self.storage_class_name)
            .string_ptr("volumeMode", &self.volume_mode)
            .message("dataSource", &self.data_source)
            .message("dataSourceRef", &self.data_source_ref)
            .string_ptr(
                "volumeAttributesClassName",
                &self.volume_attributes_class_name,
            )
            .build()
    }
}

impl ToJson for VolumeResourceRequirements {
    fn to_json(&self) -> Value {
        Fields::new()
            .quantity_map("limits", &self.limits)
            .quantity_map("requests", &self.requests)
            .build()
    }
}

impl ToJson for TypedLocalObjectReference {
    fn to_json(&self) -> Value {
        Fields::new()
            .string_ptr("apiGroup", &self.api_group)
            .string("kind", &self.kind)
            .string("name", &self.name)
            .build()
    }
}

impl ToJson for TypedObjectReference {
    fn to_json(&self) -> Value {
        Fields::new()
            .string_ptr("apiGroup", &self.api_group)
            .string("kind", &self.kind)
            .string("name", &self.name)
            .string_ptr("namespace", &self.namespace)
            .build()
    }
}

impl ToJson for ImageVolumeSource {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("reference", &self.reference)
            .string("pullPolicy", &self.pull_policy)
            .build()
    }
}

impl ToJson for Toleration {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("key", &self.key)
            .string("operator", &self.operator)
            .string("value", &self.value)
            .string("effect", &self.effect)
            .int_ptr("tolerationSeconds", self.toleration_seconds)
            .build()
    }
}

impl ToJson for Affinity {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("nodeAffinity", &self.node_affinity)
            .message("podAffinity", &self.pod_affinity)
            .message("podAntiAffinity", &self.pod_anti_affinity)
            .build()
    }
}

impl ToJson for NodeAffinity {
    fn to_json(&self) -> Value {
        Fields::new()
            .message(
                "requiredDuringSchedulingIgnoredDuringExecution",
                &self.required_during_scheduling_ignored_during_execution,
            )
            .messages(
                "preferredDuringSchedulingIgnoredDuringExecution",
                &self.preferred_during_scheduling_ignored_during_execution,
            )
            .build()
    }
}

impl ToJson for NodeSelector {
    fn to_json(&self) -> Value {
        Fields::new()
            .messages("nodeSelectorTerms", &self.node_selector_terms)
            .build()
    }
}

impl ToJson for NodeSelectorTerm {
    fn to_json(&self) -> Value {
        Fields::new()
            .messages("matchExpressions", &self.match_expressions)
            .messages("matchFields", &self.match_fields)
            .build()
    }
}

impl ToJson for NodeSelectorRequirement {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("key", &self.key)
            .string("operator", &self.operator)
            .strings("values", &self.values)
            .build()
    }
}

impl ToJson for PreferredSchedulingTerm {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("weight", self.weight)
            .message("preference", &self.preference)
            .build()
    }
}

impl ToJson for PodAffinity {
    fn to_json(&self) -> Value {
        Fields::new()
            .messages(
                "requiredDuringSchedulingIgnoredDuringExecution",
                &self.required_during_scheduling_ignored_during_execution,
            )
            .messages(
                "preferredDuringSchedulingIgnoredDuringExecution",
                &self.preferred_during_scheduling_ignored_during_execution,
            )
            .build()
    }
}

impl ToJson for PodAntiAffinity {
    fn to_json(&self) -> Value {
        Fields::new()
            .messages(
                "requiredDuringSchedulingIgnoredDuringExecution",
                &self.required_during_scheduling_ignored_during_execution,
            )
            .messages(
                "preferredDuringSchedulingIgnoredDuringExecution",
                &self.preferred_during_scheduling_ignored_during_execution,
            )
            .build()
    }
}

impl ToJson for PodAffinityTerm {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("labelSelector", &self.label_selector)
            .strings("namespaces", &self.namespaces)
            .string("topologyKey", &self.topology_key)
            .message("namespaceSelector", &self.namespace_selector)
            .strings("matchLabelKeys", &self.match_label_keys)
            .strings("mismatchLabelKeys", &self.mismatch_label_keys)
            .build()
    }
}

impl ToJson for WeightedPodAffinityTerm {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("weight", self.weight)
            .message("podAffinityTerm", &self.pod_affinity_term)
            .build()
    }
}

impl ToJson for TopologySpreadConstraint {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("maxSkew", self.max_skew)
            .string("topologyKey", &self.topology_key)
            .string("whenUnsatisfiable", &self.when_unsatisfiable)
            .message("labelSelector", &self.label_selector)
            .int_ptr("minDomains", self.min_domains)
            .string_ptr("nodeAffinityPolicy", &self.node_affinity_policy)
            .string_ptr("nodeTaintsPolicy", &self.node_taints_policy)
            .strings("matchLabelKeys", &self.match_label_keys)
            .build()
    }
}

impl ToJson for HostAlias {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("ip", &self.ip)
            .strings("hostnames", &self.hostnames)
            .build()
    }
}

impl ToJson for PodDnsConfig {
    fn to_json(&self) -> Value {
        Fields::new()
            .strings("nameservers", &self.nameservers)
            .strings("searches", &self.searches)
            .messages("options", &self.options)
            .build()
    }
}

impl ToJson for PodDnsConfigOption {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .string_ptr("value", &self.value)
            .build()
    }
}

impl ToJson for PodReadinessGate {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("conditionType", &self.condition_type)
            .build()
    }
}

impl ToJson for PodOs {
    fn to_json(&self) -> Value {
        Fields::new().string("name", &self.name).build()
    }
}

impl ToJson for PodSchedulingGate {
    fn to_json(&self) -> Value {
        Fields::new().string("name", &self.name).build()
    }
}

impl ToJson for PodResourceClaim {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .string_ptr("resourceClaimName", &self.resource_claim_name)
            .string_ptr(
                "resourceClaimTemplateName",
                &self.resource_claim_template_name,
            )
            .build()
    }
}

impl ToJson for PodStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("phase", &self.phase)
            .messages("conditions", &self.conditions)
            .string("message", &self.message)
            .string("reason", &self.reason)
            .string("nominatedNodeName", &self.nominated_node_name)
            .string("hostIP", &self.host_ip)
            .messages("hostIPs", &self.host_ips)
            .string("podIP", &self.pod_ip)
            .messages("podIPs", &self.pod_ips)
            .time("startTime", &self.start_time)
            .messages("initContainerStatuses", &self.init_container_statuses)
            .messages("containerStatuses", &self.container_statuses)
            .string("qosClass", &self.qos_class)
            .messages(
                "ephemeralContainerStatuses",
                &self.ephemeral_container_statuses,
            )
            .string("resize", &self.resize)
            .build()
    }
}

impl ToJson for PodCondition {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("type", &self.r#type)
            .string("status", &self.status)
            .time("lastProbeTime", &self.last_probe_time)
            .time("lastTransitionTime", &self.last_transition_time)
            .string("reason", &self.reason)
            .string("message", &self.message)
            .build()
    }
}

impl ToJson for PodIp {
    fn to_json(&self) -> Value {
        Fields::new().string("ip", &self.ip).build()
    }
}

impl ToJson for HostIp {
    fn to_json(&self) -> Value {
        Fields::new().string("ip", &self.ip).build()
    }
}

impl ToJson for ContainerStatus {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("name", &self.name)
            .message("state", &self.state)
            .message("lastState", &self.last_state)
            .bool_ptr("ready", self.ready)
            .int_ptr("restartCount", self.restart_count)
            .string("image", &self.image)
            .string("imageID", &self.image_id)
            .string("containerID", &self.container_id)
            .bool_ptr("started", self.started)
            .quantity_map("allocatedResources", &self.allocated_resources)
            .message("resources", &self.resources)
            .build()
    }
}

impl ToJson for ContainerState {
    fn to_json(&self) -> Value {
        Fields::new()
            .message("waiting", &self.waiting)
            .message("running", &self.running)
            .message("terminated", &self.terminated)
            .build()
    }
}

impl ToJson for ContainerStateWaiting {
    fn to_json(&self) -> Value {
        Fields::new()
            .string("reason", &self.reason)
            .string("message", &self.message)
            .build()
    }
}

impl ToJson for ContainerStateRunning {
    fn to_json(&self) -> Value {
        Fields::new().time("startedAt", &self.started_at).build()
    }
}

impl ToJson for ContainerStateTerminated {
    fn to_json(&self) -> Value {
        Fields::new()
            .int_ptr("exitCode", self.exit_code)
            .int("signal", self.signal)
            .string("reason", &self.reason)
            .string("message", &self.message)
            .time("startedAt", &self.started_at)
            .time("finishedAt", &self.finished_at)
            .string("containerID", &self.container_id)
            .build()
    }
}
