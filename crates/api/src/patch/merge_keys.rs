//! Strategic-merge metadata of the kinds ferry serves: the `patchStrategy` and `patchMergeKey`
//! struct tags of `k8s.io/api` v1.32, as a small static schema.
//!
//! Only fields that carry a tag, and the fields leading to them, are listed. Every other field
//! has the default strategy: maps merge, lists are replaced. A list's element type is the schema
//! of one element (list indices are not part of a path).

use super::PatchKindRef;

/// How a list merges under a strategic merge patch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ListMerge {
    /// No `patchStrategy:"merge"`: the patch's list replaces the live one.
    Replace,
    /// `patchStrategy:"merge"` on a list of strings (`metadata.finalizers`): set union.
    MergePrimitives,
    /// `patchStrategy:"merge"` with `patchMergeKey`: elements merge by that key.
    MergeByKey(&'static str),
}

/// The strategic-merge metadata of one field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PatchStrategy {
    pub list: ListMerge,
    /// `patchStrategy:"retainKeys"`: kubectl sends `$retainKeys` for this field. The server
    /// honours `$retainKeys` wherever it appears, so this only matters to clients and OpenAPI.
    pub retain_keys: bool,
}

impl PatchStrategy {
    const DEFAULT: PatchStrategy = PatchStrategy {
        list: ListMerge::Replace,
        retain_keys: false,
    };

    /// The `x-kubernetes-patch-strategy` value (`merge`, `retainKeys`, `merge,retainKeys`).
    pub fn tag(&self) -> Option<&'static str> {
        let merge = self.list != ListMerge::Replace;
        match (merge, self.retain_keys) {
            (true, true) => Some("merge,retainKeys"),
            (true, false) => Some("merge"),
            (false, true) => Some("retainKeys"),
            (false, false) => None,
        }
    }

    /// The `x-kubernetes-patch-merge-key` value.
    pub fn merge_key(&self) -> Option<&'static str> {
        match self.list {
            ListMerge::MergeByKey(key) => Some(key),
            ListMerge::Replace | ListMerge::MergePrimitives => None,
        }
    }
}

/// The strategy of the field at `path` (field names from the object root, list indices
/// skipped), e.g. `["spec", "template", "spec", "containers", "env"]`.
pub fn patch_strategy(kind: PatchKindRef<'_>, path: &[&str]) -> PatchStrategy {
    let mut ty = Some(root(kind));
    let mut strategy = PatchStrategy::DEFAULT;
    for name in path {
        let (child, field) = lookup(ty, name);
        ty = child;
        strategy = field;
    }
    strategy
}

/// The schema of an object type: its tagged fields and the fields that lead to them.
#[derive(Debug)]
pub(crate) struct TypeSchema {
    fields: &'static [FieldSchema],
}

#[derive(Debug)]
struct FieldSchema {
    name: &'static str,
    strategy: PatchStrategy,
    /// The field's type, or its element type for a list; `None` when nothing below is tagged.
    ty: Option<&'static TypeSchema>,
}

/// The schema and strategy of field `name` of type `ty`; unknown fields get the defaults.
pub(crate) fn lookup(
    ty: Option<&'static TypeSchema>,
    name: &str,
) -> (Option<&'static TypeSchema>, PatchStrategy) {
    ty.and_then(|t| t.fields.iter().find(|f| f.name == name))
        .map_or((None, PatchStrategy::DEFAULT), |f| (f.ty, f.strategy))
}

/// The schema of a kind's top-level object; kinds without tagged fields still have
/// `ObjectMeta`'s.
pub(crate) fn root(kind: PatchKindRef<'_>) -> &'static TypeSchema {
    match (kind.group, kind.kind) {
        ("", "Pod") => &POD,
        ("", "Service") => &SERVICE,
        ("", "Node") => &NODE,
        ("", "Namespace") => &NAMESPACE,
        ("", "ReplicationController") => &REPLICATION_CONTROLLER,
        ("apps", "Deployment") => &DEPLOYMENT,
        ("apps", "ReplicaSet") => &REPLICA_SET,
        // Endpoints, Event, Secret, ConfigMap, EndpointSlice, Ingress, IngressClass and any
        // other kind: nothing tagged outside ObjectMeta (Ingress rules, Endpoints subsets and
        // EndpointSlice endpoints are replaced whole upstream too).
        _ => &METADATA_ONLY,
    }
}

const fn nested(name: &'static str, ty: &'static TypeSchema) -> FieldSchema {
    FieldSchema {
        name,
        strategy: PatchStrategy::DEFAULT,
        ty: Some(ty),
    }
}

const fn keyed(name: &'static str, key: &'static str) -> FieldSchema {
    keyed_type(name, key, None)
}

const fn keyed_type(
    name: &'static str,
    key: &'static str,
    ty: Option<&'static TypeSchema>,
) -> FieldSchema {
    FieldSchema {
        name,
        strategy: PatchStrategy {
            list: ListMerge::MergeByKey(key),
            retain_keys: false,
        },
        ty,
    }
}

const fn keyed_retain(name: &'static str, key: &'static str) -> FieldSchema {
    FieldSchema {
        name,
        strategy: PatchStrategy {
            list: ListMerge::MergeByKey(key),
            retain_keys: true,
        },
        ty: None,
    }
}

const fn primitives(name: &'static str) -> FieldSchema {
    FieldSchema {
        name,
        strategy: PatchStrategy {
            list: ListMerge::MergePrimitives,
            retain_keys: false,
        },
        ty: None,
    }
}

const fn retain(name: &'static str) -> FieldSchema {
    FieldSchema {
        name,
        strategy: PatchStrategy {
            list: ListMerge::Replace,
            retain_keys: true,
        },
        ty: None,
    }
}

/// `metav1.ObjectMeta`.
static OBJECT_META: TypeSchema = TypeSchema {
    fields: &[primitives("finalizers"), keyed("ownerReferences", "uid")],
};

static METADATA_ONLY: TypeSchema = TypeSchema {
    fields: &[nested("metadata", &OBJECT_META)],
};

/// `Container`, and `EphemeralContainerCommon` whose tags are the same.
static CONTAINER: TypeSchema = TypeSchema {
    fields: &[
        keyed("ports", "containerPort"),
        keyed("env", "name"),
        keyed("volumeMounts", "mountPath"),
        keyed("volumeDevices", "devicePath"),
    ],
};

static POD_SPEC: TypeSchema = TypeSchema {
    fields: &[
        keyed_retain("volumes", "name"),
        keyed_type("initContainers", "name", Some(&CONTAINER)),
        keyed_type("containers", "name", Some(&CONTAINER)),
        keyed_type("ephemeralContainers", "name", Some(&CONTAINER)),
        keyed("imagePullSecrets", "name"),
        keyed("hostAliases", "ip"),
        keyed("topologySpreadConstraints", "topologyKey"),
        keyed("schedulingGates", "name"),
        keyed_retain("resourceClaims", "name"),
    ],
};

static POD_STATUS: TypeSchema = TypeSchema {
    fields: &[
        keyed("conditions", "type"),
        keyed("hostIPs", "ip"),
        keyed("podIPs", "ip"),
        keyed_retain("resourceClaimStatuses", "name"),
    ],
};

static POD: TypeSchema = TypeSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &POD_SPEC),
        nested("status", &POD_STATUS),
    ],
};

static POD_TEMPLATE_SPEC: TypeSchema = TypeSchema {
    fields: &[nested("metadata", &OBJECT_META), nested("spec", &POD_SPEC)],
};

/// A status whose only tagged field is `conditions` merged by `type` (Namespace,
/// ReplicationController, Deployment, ReplicaSet, and Service's `metav1.Condition`s).
static CONDITIONS_STATUS: TypeSchema = TypeSchema {
    fields: &[keyed("conditions", "type")],
};

static SERVICE: TypeSchema = TypeSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested(
            "spec",
            &TypeSchema {
                // Upstream's merge key for Service ports is `port` alone, not (port, protocol).
                fields: &[keyed("ports", "port")],
            },
        ),
        nested("status", &CONDITIONS_STATUS),
    ],
};

static NODE: TypeSchema = TypeSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested(
            "spec",
            &TypeSchema {
                fields: &[primitives("podCIDRs")],
            },
        ),
        nested(
            "status",
            &TypeSchema {
                fields: &[keyed("conditions", "type"), keyed("addresses", "type")],
            },
        ),
    ],
};

static NAMESPACE: TypeSchema = TypeSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("status", &CONDITIONS_STATUS),
    ],
};

/// The spec of a ReplicationController or ReplicaSet: only the pod template is tagged.
static TEMPLATE_SPEC: TypeSchema = TypeSchema {
    fields: &[nested("template", &POD_TEMPLATE_SPEC)],
};

static REPLICATION_CONTROLLER: TypeSchema = TypeSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &TEMPLATE_SPEC),
        nested("status", &CONDITIONS_STATUS),
    ],
};

static REPLICA_SET: TypeSchema = TypeSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested("spec", &TEMPLATE_SPEC),
        nested("status", &CONDITIONS_STATUS),
    ],
};

static DEPLOYMENT: TypeSchema = TypeSchema {
    fields: &[
        nested("metadata", &OBJECT_META),
        nested(
            "spec",
            &TypeSchema {
                fields: &[nested("template", &POD_TEMPLATE_SPEC), retain("strategy")],
            },
        ),
        nested("status", &CONDITIONS_STATUS),
    ],
};

#[cfg(test)]
mod tests {
    use super::*;

    fn check(group: &str, kind: &str, path: &str) -> (Option<&'static str>, Option<&'static str>) {
        let path: Vec<&str> = path.split('.').collect();
        let s = patch_strategy(PatchKindRef::new(group, kind), &path);
        (s.tag(), s.merge_key())
    }

    #[test]
    fn tags_match_k8s_api_v1_32() {
        let merge = Some("merge");
        let cases = [
            ("", "Service", "spec.ports", (merge, Some("port"))),
            ("", "Service", "spec.externalIPs", (None, None)),
            ("", "Service", "metadata.finalizers", (merge, None)),
            (
                "",
                "Service",
                "metadata.ownerReferences",
                (merge, Some("uid")),
            ),
            ("", "Service", "status.conditions", (merge, Some("type"))),
            ("", "Pod", "spec.containers", (merge, Some("name"))),
            (
                "",
                "Pod",
                "spec.initContainers.ports",
                (merge, Some("containerPort")),
            ),
            (
                "",
                "Pod",
                "spec.ephemeralContainers.env",
                (merge, Some("name")),
            ),
            (
                "",
                "Pod",
                "spec.containers.volumeMounts",
                (merge, Some("mountPath")),
            ),
            (
                "",
                "Pod",
                "spec.containers.volumeDevices",
                (merge, Some("devicePath")),
            ),
            ("", "Pod", "spec.containers.envFrom", (None, None)),
            (
                "",
                "Pod",
                "spec.volumes",
                (Some("merge,retainKeys"), Some("name")),
            ),
            ("", "Pod", "spec.imagePullSecrets", (merge, Some("name"))),
            ("", "Pod", "spec.hostAliases", (merge, Some("ip"))),
            (
                "",
                "Pod",
                "spec.topologySpreadConstraints",
                (merge, Some("topologyKey")),
            ),
            ("", "Pod", "spec.tolerations", (None, None)),
            ("", "Pod", "status.conditions", (merge, Some("type"))),
            ("", "Pod", "status.podIPs", (merge, Some("ip"))),
            ("", "Pod", "status.containerStatuses", (None, None)),
            ("", "Node", "status.addresses", (merge, Some("type"))),
            ("", "Node", "status.conditions", (merge, Some("type"))),
            ("", "Node", "spec.podCIDRs", (merge, None)),
            ("", "Node", "spec.taints", (None, None)),
            ("", "Namespace", "status.conditions", (merge, Some("type"))),
            ("", "Namespace", "spec.finalizers", (None, None)),
            (
                "",
                "ReplicationController",
                "spec.template.spec.containers",
                (merge, Some("name")),
            ),
            (
                "",
                "ReplicationController",
                "status.conditions",
                (merge, Some("type")),
            ),
            (
                "apps",
                "Deployment",
                "spec.strategy",
                (Some("retainKeys"), None),
            ),
            (
                "apps",
                "Deployment",
                "spec.template.spec.containers.env",
                (merge, Some("name")),
            ),
            (
                "apps",
                "Deployment",
                "spec.template.metadata.finalizers",
                (merge, None),
            ),
            (
                "apps",
                "Deployment",
                "status.conditions",
                (merge, Some("type")),
            ),
            (
                "apps",
                "ReplicaSet",
                "spec.template.spec.volumes",
                (Some("merge,retainKeys"), Some("name")),
            ),
            (
                "apps",
                "ReplicaSet",
                "status.conditions",
                (merge, Some("type")),
            ),
            ("networking.k8s.io", "Ingress", "spec.rules", (None, None)),
            (
                "networking.k8s.io",
                "Ingress",
                "metadata.finalizers",
                (merge, None),
            ),
            (
                "discovery.k8s.io",
                "EndpointSlice",
                "endpoints",
                (None, None),
            ),
            ("", "Endpoints", "subsets", (None, None)),
            // The same field name in another group is another kind.
            ("extensions", "Deployment", "spec.strategy", (None, None)),
        ];
        for (group, kind, path, want) in cases {
            assert_eq!(check(group, kind, path), want, "{group}/{kind} {path}");
        }
    }
}
