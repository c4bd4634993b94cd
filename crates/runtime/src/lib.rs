//! API clients for controllers and agents: a small typed-path client over a [`Transport`]
//! (in-process to the API server's handler in `ferry up`, HTTPS elsewhere), with list and watch.
//!
//! Knows the Kubernetes REST conventions, not the store and not the API server's internals.

mod client;
mod https;
mod watch;

pub use client::{Client, ClientError, ResourceRef, ResponseBody, Transport, TransportFuture};
pub use https::{HttpsError, HttpsTransport};
pub use watch::{WatchEvent, WatchStream};
