//! The admin kubeconfig: one cluster, one user and one context, all named after the cluster,
//! with the CA and the admin certificate and key embedded, so that
//! `KUBECONFIG=<data-dir>/kubeconfig kubectl ...` works without other files.

use std::fmt::Write;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use crate::pki::Pki;

/// The cluster, context and user name `ferry` uses unless told otherwise.
pub const DEFAULT_CLUSTER_NAME: &str = "ferry";

/// A kubeconfig for the admin user against `server` (e.g. `https://127.0.0.1:6443`). It holds
/// the admin's private key, so write it readable by the owner only.
pub fn kubeconfig(server: &str, pki: &Pki, cluster_name: &str) -> String {
    let name = quote(cluster_name);
    let server = quote(server);
    let ca = STANDARD.encode(pki.ca_cert_pem());
    let cert = STANDARD.encode(pki.admin().cert_pem());
    let key = STANDARD.encode(pki.admin().key_pem());
    format!(
        "apiVersion: v1
kind: Config
clusters:
- cluster:
    certificate-authority-data: {ca}
    server: {server}
  name: {name}
contexts:
- context:
    cluster: {name}
    user: {name}
  name: {name}
current-context: {name}
preferences: {{}}
users:
- name: {name}
  user:
    client-certificate-data: {cert}
    client-key-data: {key}
"
    )
}

/// A YAML double-quoted scalar: safe for any text, whatever characters a name or URL holds.
fn quote(text: &str) -> String {
    let mut quoted = String::with_capacity(text.len() + 2);
    quoted.push('"');
    for c in text.chars() {
        match c {
            '"' => quoted.push_str("\\\""),
            '\\' => quoted.push_str("\\\\"),
            // YAML allows only printable characters literally; escape the rest.
            c if c.is_control()
                || matches!(
                    c,
                    '\u{2028}' | '\u{2029}' | '\u{feff}' | '\u{fffe}' | '\u{ffff}'
                ) =>
            {
                let _ = write!(quoted, "\\u{:04x}", u32::from(c));
            }
            c => quoted.push(c),
        }
    }
    quoted.push('"');
    quoted
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pki::PkiOptions;

    #[test]
    fn kubeconfig_embeds_the_ca_and_admin_credentials() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        let text = kubeconfig("https://127.0.0.1:6443", &pki, DEFAULT_CLUSTER_NAME);
        let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
        let field = |path: &[&str]| {
            let mut value = &doc;
            for key in path {
                value = match key.parse::<usize>() {
                    Ok(i) => &value[i],
                    Err(_) => &value[*key],
                };
            }
            value
                .as_str()
                .unwrap_or_else(|| panic!("{path:?} in {text}"))
                .to_owned()
        };
        let decode = |b64: String| String::from_utf8(STANDARD.decode(b64).unwrap()).unwrap();

        assert_eq!(field(&["apiVersion"]), "v1");
        assert_eq!(field(&["kind"]), "Config");
        assert_eq!(field(&["current-context"]), "ferry");
        assert_eq!(field(&["clusters", "0", "name"]), "ferry");
        assert_eq!(
            field(&["clusters", "0", "cluster", "server"]),
            "https://127.0.0.1:6443"
        );
        assert_eq!(field(&["contexts", "0", "name"]), "ferry");
        assert_eq!(field(&["contexts", "0", "context", "cluster"]), "ferry");
        assert_eq!(field(&["contexts", "0", "context", "user"]), "ferry");
        assert_eq!(field(&["users", "0", "name"]), "ferry");
        assert_eq!(
            decode(field(&[
                "clusters",
                "0",
                "cluster",
                "certificate-authority-data"
            ])),
            pki.ca_cert_pem()
        );
        let user = ["users", "0", "user"];
        assert_eq!(
            decode(field(&[&user[..], &["client-certificate-data"]].concat())),
            pki.admin().cert_pem()
        );
        assert_eq!(
            decode(field(&[&user[..], &["client-key-data"]].concat())),
            pki.admin().key_pem()
        );
    }

    #[test]
    fn the_cluster_name_is_a_parameter() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        let text = kubeconfig("https://[::1]:6443", &pki, "lab: #1");
        let doc: yaml_serde::Value = yaml_serde::from_str(&text).unwrap();
        assert_eq!(doc["current-context"].as_str(), Some("lab: #1"));
        assert_eq!(
            doc["clusters"][0]["cluster"]["server"].as_str(),
            Some("https://[::1]:6443")
        );
    }

    #[test]
    fn quoting_round_trips_through_a_yaml_parser() {
        for text in [
            "ferry",
            "https://127.0.0.1:6443",
            "a\"b\\c",
            "tab\there",
            "line\nbreak",
            "-: #&*!|>'%@`",
            "\u{2028}\u{7f}é",
        ] {
            let parsed: String = yaml_serde::from_str(&quote(text)).unwrap();
            assert_eq!(parsed, text);
        }
    }
}
