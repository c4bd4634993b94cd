//! The per-request context handed to every resource handler.

use http::HeaderMap;

use ferry_api::ResourceInfo;

use crate::request::{Format, Query, ResourcePath};

/// A resource request after routing: which resource, where, and how to answer.
pub(crate) struct Ctx {
    pub info: &'static ResourceInfo,
    pub path: ResourcePath,
    pub query: Query,
    pub format: Format,
    pub headers: HeaderMap,
}

impl Ctx {
    pub fn namespace(&self) -> Option<&str> {
        if self.info.namespaced {
            self.path.namespace.as_deref()
        } else {
            None
        }
    }

    pub fn name(&self) -> &str {
        self.path.name.as_deref().unwrap_or("")
    }

    pub fn dry_run(&self) -> bool {
        self.query.all("dryRun").iter().any(|v| v == "All")
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl Ctx {
    /// The same request aimed at the parent object in JSON (for subresources written through it).
    pub fn clone_for_parent(&self) -> Ctx {
        let mut path = self.path.clone();
        path.subresource = None;
        Ctx {
            info: self.info,
            path,
            query: self.query.clone(),
            format: crate::request::Format::Json,
            headers: self.headers.clone(),
        }
    }
}
