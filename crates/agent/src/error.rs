//! What can go wrong in the agent outside the streaming server.

use ferry_runtime::ClientError;

/// An agent failure: talking to the API, building a pod's sandbox, or bad configuration.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    #[error("{operation}")]
    Api {
        operation: String,
        #[source]
        source: ClientError,
    },
    #[error("{operation}")]
    Sandbox {
        operation: String,
        #[source]
        source: Box<ferry_sandbox::Error>,
    },
    #[error("invalid pod CIDR {text:?}: want an IPv4 prefix like 10.244.0.0/24")]
    PodCidr { text: String },
    #[error("pod CIDR {cidr} has no free address")]
    PodCidrFull { cidr: String },
    #[error("node {node} has no pod CIDR (spec.podCIDR) and none was given with --pod-cidr")]
    NoPodCidr { node: String },
    #[error("decode {what}")]
    Decode {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("streaming server")]
    Streaming(#[source] crate::streaming::StreamError),
    #[error("{operation} {}", path.display())]
    File {
        operation: &'static str,
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
}

impl AgentError {
    pub(crate) fn api(operation: impl Into<String>) -> impl FnOnce(ClientError) -> AgentError {
        let operation = operation.into();
        move |source| AgentError::Api { operation, source }
    }

    pub(crate) fn sandbox(
        operation: impl Into<String>,
    ) -> impl FnOnce(ferry_sandbox::Error) -> AgentError {
        let operation = operation.into();
        move |source| AgentError::Sandbox {
            operation,
            source: Box::new(source),
        }
    }
}
