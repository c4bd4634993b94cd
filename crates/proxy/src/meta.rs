//! Object metadata the tracker keys on: namespaced names, and the labels with which kube-proxy
//! leaves an object to another proxy.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// Set on Services (and their slices) that another service proxy implements.
const SERVICE_PROXY_NAME: &str = "service.kubernetes.io/service-proxy-name";
/// Set on the endpoints of headless Services, which no proxy programs.
const HEADLESS: &str = "service.kubernetes.io/headless";

/// `namespace/name` of an object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct NamespacedName {
    pub(crate) namespace: String,
    pub(crate) name: String,
}

impl NamespacedName {
    /// The object's namespace and name; `None` when either is missing.
    pub(crate) fn of(meta: &ObjectMeta) -> Option<NamespacedName> {
        let namespace = meta.namespace.as_deref().filter(|ns| !ns.is_empty())?;
        let name = meta.name.as_deref().filter(|n| !n.is_empty())?;
        Some(NamespacedName {
            namespace: namespace.to_string(),
            name: name.to_string(),
        })
    }
}

/// Whether kube-proxy's informers would see the object at all: they select
/// `!service.kubernetes.io/service-proxy-name,!service.kubernetes.io/headless` on both
/// Services and EndpointSlices, so an object with either label counts as absent.
pub(crate) fn selected_by_proxy(meta: &ObjectMeta) -> bool {
    meta.labels.as_ref().is_none_or(|labels| {
        !labels.contains_key(SERVICE_PROXY_NAME) && !labels.contains_key(HEADLESS)
    })
}
