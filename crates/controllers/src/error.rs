//! What a reconcile pass can fail at. A failed pass is logged and retried; nothing here is
//! fatal to a controller.

use ferry_runtime::ClientError;

/// Errors of the workload, scheduling and node controllers.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// The resource table has no such resource (a programming error, not an input error).
    #[error("resource {0} is not served")]
    UnknownResource(&'static str),
    #[error("list {resource}")]
    List {
        resource: &'static str,
        #[source]
        source: ClientError,
    },
    /// `object` is `namespace/name`, or `name` for cluster-scoped objects.
    #[error("{verb} {resource} {object}")]
    Write {
        verb: &'static str,
        resource: &'static str,
        object: String,
        #[source]
        source: ClientError,
    },
    #[error("encode {what}")]
    Encode {
        what: &'static str,
        #[source]
        source: serde_json::Error,
    },
}

impl Error {
    /// A write that lost a race (stale resourceVersion, or the object went away): the next
    /// pass sees the new state, so it is worth retrying soon and not worth a warning.
    pub(crate) fn is_race(&self) -> bool {
        matches!(self, Error::Write { source, .. } if source.is_conflict() || source.is_not_found())
    }
}

/// Builds the `Write` error of a failed call.
pub(crate) fn write_error(
    verb: &'static str,
    resource: &'static str,
    namespace: Option<&str>,
    name: &str,
) -> impl FnOnce(ClientError) -> Error {
    let object = match namespace {
        Some(ns) if !ns.is_empty() => format!("{ns}/{name}"),
        _ => name.to_string(),
    };
    move |source| Error::Write {
        verb,
        resource,
        object,
        source,
    }
}

/// The message of an API error as the server wrote it (what upstream puts in events and
/// conditions), or the error's own text for transport errors.
pub(crate) fn api_message(error: &ClientError) -> String {
    match error {
        ClientError::Api { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

/// An error with its sources, `update pods default/x: 409 Conflict: ...`, for logs.
pub(crate) fn report(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
