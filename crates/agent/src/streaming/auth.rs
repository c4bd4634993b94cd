//! Who may use the streaming server: the identity in a verified client certificate, checked
//! against the users and groups the agent allows (the kubelet asks the API server; ferry's
//! agent allows the API server's own identity).

use ferry_pki::Identity;

/// Users and groups whose client certificates may open streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedClients {
    pub users: Vec<String>,
    pub groups: Vec<String>,
}

impl Default for AllowedClients {
    /// The API server's client certificate: `kube-apiserver-kubelet-client` in
    /// `system:masters`, as kubeadm issues it.
    fn default() -> Self {
        AllowedClients {
            users: vec!["kube-apiserver-kubelet-client".to_string()],
            groups: vec!["system:masters".to_string()],
        }
    }
}

/// The outcome of checking a caller.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Access {
    Allowed,
    /// No usable identity in the certificate: 401.
    Unauthenticated,
    /// A known user that may not do this: 403 with the kubelet's message.
    Forbidden(String),
}

impl AllowedClients {
    /// Checks `identity` for a request with `method` (the kubelet maps every streaming path to
    /// `nodes/proxy` and its verb from the method).
    pub(crate) fn check(&self, identity: Option<&Identity>, method: &http::Method) -> Access {
        let Some(id) = identity else {
            return Access::Unauthenticated;
        };
        let allowed =
            self.users.contains(&id.user) || id.groups.iter().any(|g| self.groups.contains(g));
        if allowed {
            return Access::Allowed;
        }
        let verb = if method == http::Method::POST {
            "create"
        } else {
            "get"
        };
        Access::Forbidden(format!(
            "Forbidden (user={}, verb={verb}, resource=nodes, subresource=proxy)",
            id.user
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(user: &str, groups: &[&str]) -> Identity {
        Identity {
            user: user.to_string(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
        }
    }

    #[test]
    fn identities() {
        let allowed = AllowedClients::default();
        let get = http::Method::GET;
        let cases = [
            (
                Some(id("kube-apiserver-kubelet-client", &[])),
                Access::Allowed,
            ),
            (Some(id("anyone", &["system:masters"])), Access::Allowed),
            (
                Some(id("system:node:n1", &["system:nodes"])),
                Access::Forbidden(
                    "Forbidden (user=system:node:n1, verb=get, resource=nodes, subresource=proxy)"
                        .into(),
                ),
            ),
            (None, Access::Unauthenticated),
        ];
        for (identity, want) in cases {
            assert_eq!(allowed.check(identity.as_ref(), &get), want, "{identity:?}");
        }
        assert_eq!(
            allowed.check(Some(&id("jane", &[])), &http::Method::POST),
            Access::Forbidden(
                "Forbidden (user=jane, verb=create, resource=nodes, subresource=proxy)".into()
            )
        );
    }
}
