//! What a request asks for: the path parsed into a [`RequestInfo`] (as kube-apiserver's
//! `RequestInfoFactory` does), the query parameters, and the negotiated response format.

use std::collections::HashMap;

use ferry_api::ResourceInfo;

/// The parts of a resource request path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ResourcePath {
    pub group: String,
    pub version: String,
    pub namespace: Option<String>,
    pub resource: String,
    pub name: Option<String>,
    pub subresource: Option<String>,
    /// The legacy `/watch/` path prefix was used.
    pub watch_prefix: bool,
}

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Route {
    Version,
    Health(String),
    Metrics,
    CoreGroup,
    Groups,
    Group(String),
    GroupVersion { group: String, version: String },
    OpenApiV2,
    OpenApiV3Root,
    OpenApiV3 { group: String, version: String },
    Resource(ResourcePath),
    NotFound,
}

/// Subresources of namespaces, which look like resources inside a namespace otherwise.
const NAMESPACE_SUBRESOURCES: &[&str] = &["status", "finalize"];

/// Parses a request path.
pub(crate) fn route(path: &str) -> Route {
    let parts: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|p| !p.is_empty())
        .collect();
    match parts.as_slice() {
        ["version"] => Route::Version,
        [h @ ("healthz" | "livez" | "readyz"), ..] => Route::Health((*h).to_string()),
        ["metrics"] => Route::Metrics,
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Root,
        ["openapi", "v3", "api", "v1"] => Route::OpenApiV3 {
            group: String::new(),
            version: "v1".into(),
        },
        ["openapi", "v3", "apis", g, v] => Route::OpenApiV3 {
            group: (*g).into(),
            version: (*v).into(),
        },
        ["api"] => Route::CoreGroup,
        ["api", "v1"] => Route::GroupVersion {
            group: String::new(),
            version: "v1".into(),
        },
        ["api", "v1", rest @ ..] => resource_route("", "v1", rest),
        ["apis"] => Route::Groups,
        ["apis", g] => Route::Group((*g).into()),
        ["apis", g, v] => Route::GroupVersion {
            group: (*g).into(),
            version: (*v).into(),
        },
        ["apis", g, v, rest @ ..] => resource_route(g, v, rest),
        _ => Route::NotFound,
    }
}

fn resource_route(group: &str, version: &str, parts: &[&str]) -> Route {
    let (watch_prefix, parts) = match parts {
        ["watch", rest @ ..] => (true, rest),
        _ => (false, parts),
    };
    let mut namespace = None;
    let mut parts = parts;
    if let ["namespaces", ns, rest @ ..] = parts {
        let namespace_subresource = rest.len() == 1 && NAMESPACE_SUBRESOURCES.contains(&rest[0]);
        if !rest.is_empty() && !namespace_subresource {
            namespace = Some((*ns).to_string());
            parts = rest;
        }
    }
    let (resource, name, subresource) = match parts {
        [r] => (*r, None, None),
        [r, n] => (*r, Some(*n), None),
        [r, n, s] => (*r, Some(*n), Some(*s)),
        _ => return Route::NotFound,
    };
    Route::Resource(ResourcePath {
        group: group.to_string(),
        version: version.to_string(),
        namespace,
        resource: resource.to_string(),
        name: name.map(str::to_string),
        subresource: subresource.map(str::to_string),
        watch_prefix,
    })
}

/// Query parameters, decoded; repeated keys keep every value (exec's `command`).
#[derive(Debug, Default, Clone)]
pub(crate) struct Query {
    values: HashMap<String, Vec<String>>,
}

impl Query {
    pub fn parse(query: Option<&str>) -> Self {
        Query {
            values: ferry_api::query::parse_query(query),
        }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .and_then(|v| v.first())
            .map(String::as_str)
    }

    pub fn all(&self, key: &str) -> &[String] {
        self.values.get(key).map(Vec::as_slice).unwrap_or(&[])
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1"))
    }
}

/// How the client wants objects back.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Json,
    Table,
}

/// Picks Table when the client lists a Table media type before plain JSON.
pub(crate) fn negotiate(accept: Option<&str>) -> Format {
    for media in accept.unwrap_or("").split(',') {
        let params: Vec<&str> = media.split(';').map(str::trim).collect();
        if params.contains(&"as=Table") && params.contains(&"g=meta.k8s.io") {
            return Format::Table;
        }
        if matches!(params.first(), Some(&"application/json") | Some(&"*/*")) && params.len() == 1 {
            return Format::Json;
        }
    }
    Format::Json
}

/// Finds the resource a path names, accepting short names nowhere (kubectl expands them).
pub(crate) fn resource_for(path: &ResourcePath) -> Option<&'static ResourceInfo> {
    ferry_api::resource::find(&path.group, &path.version, &path.resource)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn res(path: &str) -> ResourcePath {
        match route(path) {
            Route::Resource(r) => r,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn paths_are_parsed_like_kube_apiserver() {
        let r = res("/api/v1/namespaces/default/services/kubia");
        assert_eq!(
            (
                r.namespace.as_deref(),
                r.resource.as_str(),
                r.name.as_deref()
            ),
            (Some("default"), "services", Some("kubia"))
        );
        let r = res("/api/v1/namespaces/default");
        assert_eq!(
            (r.namespace, r.resource.as_str(), r.name.as_deref()),
            (None, "namespaces", Some("default"))
        );
        let r = res("/api/v1/namespaces/kube-system/status");
        assert_eq!(
            (
                r.resource.as_str(),
                r.name.as_deref(),
                r.subresource.as_deref()
            ),
            ("namespaces", Some("kube-system"), Some("status"))
        );
        let r = res("/api/v1/namespaces/default/pods");
        assert_eq!(
            (r.namespace.as_deref(), r.resource.as_str(), r.name),
            (Some("default"), "pods", None)
        );
        let r = res("/apis/apps/v1/namespaces/ns1/deployments/web/scale");
        assert_eq!(
            (r.group.as_str(), r.subresource.as_deref()),
            ("apps", Some("scale"))
        );
        let r = res("/api/v1/watch/namespaces/default/services");
        assert!(r.watch_prefix);
        assert_eq!(route("/apis/apps"), Route::Group("apps".into()));
        assert_eq!(
            route("/openapi/v3/apis/apps/v1"),
            Route::OpenApiV3 {
                group: "apps".into(),
                version: "v1".into()
            }
        );
    }

    #[test]
    fn queries_decode_escapes() {
        let q = Query::parse(Some(
            "labelSelector=app%3Dkubia&command=sh&command=-c&command=exit+3",
        ));
        assert_eq!(q.get("labelSelector"), Some("app=kubia"));
        assert_eq!(q.all("command"), ["sh", "-c", "exit 3"]);
    }

    #[test]
    fn table_is_negotiated_from_kubectl_accept() {
        let get = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(negotiate(Some(get)), Format::Table);
        assert_eq!(negotiate(Some("application/json")), Format::Json);
        assert_eq!(negotiate(None), Format::Json);
    }
}
