//! API clients for controllers and agents: a small typed-path client over a [`Transport`]
//! (in-process to the API server's handler in `ferry up`, HTTPS elsewhere), with list and watch,
//! and a reflector that keeps a consumer's cache in step with a collection.
//!
//! Knows the Kubernetes REST conventions, not the store and not the API server's internals.

mod client;
mod https;
mod reflector;
mod watch;

pub use client::{
    Client, ClientError, ResponseBody, Selectors, Transport, TransportFuture, WatchParams,
};
pub use https::{HttpsError, HttpsTransport};
pub use reflector::{reflect, ReflectorEvent};
pub use watch::{WatchEvent, WatchStream};
