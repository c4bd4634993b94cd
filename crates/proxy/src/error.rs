//! What can stop the proxy. Dataplane sync failures are not here: they are logged and retried.

/// Why the proxy stopped before its shutdown was asked for.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API table does not serve a resource the proxy reflects.
    #[error("resource {0} is not served")]
    UnknownResource(&'static str),
    /// A reflector's channel closed although the proxy is still running.
    #[error("the {0} reflector stopped")]
    ReflectorStopped(&'static str),
    /// The blocking task running `Dataplane::sync` panicked or was cancelled.
    #[error("run dataplane sync")]
    SyncTask(#[source] tokio::task::JoinError),
}
