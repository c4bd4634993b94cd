//! `/version`: kubectl's dispatcher picks its client by the minor version reported here, so
//! ferry reports the Kubernetes release whose behaviour it implements.

use serde_json::{json, Value};

/// The Kubernetes version ferry serves the API of.
pub const GIT_VERSION: &str = "v1.32.4";

pub(crate) fn document() -> Value {
    json!({
        "major": "1",
        "minor": "32",
        "gitVersion": GIT_VERSION,
        "gitCommit": "ferry",
        "gitTreeState": "clean",
        "buildDate": "2026-11-23T00:00:00Z",
        "goVersion": concat!("ferry ", env!("CARGO_PKG_VERSION")),
        "compiler": "rustc",
        "platform": format!("linux/{}", go_arch()),
    })
}

/// The architecture under Go's name, as Kubernetes reports it.
fn go_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    }
}
