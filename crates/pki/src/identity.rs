//! The Kubernetes user a verified client certificate stands for: the subject's common name is
//! the user name and each organization a group, as kube-apiserver's x509 authenticator reads it.

use crate::certificate::oid;
use crate::parse::{name_attributes, parse_certificate};

/// An authenticated user and their groups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user: String,
    pub groups: Vec<String>,
}

/// The identity in a client certificate (DER), or `None` when it does not parse or has no
/// common name (kube-apiserver then treats the request as unauthenticated). Like Go's
/// `pkix.Name`, the last common name wins and attribute values that are not strings are
/// skipped. The caller has already verified the certificate.
pub fn identity_from_cert(der: &[u8]) -> Option<Identity> {
    identity_from_name(parse_certificate(der)?.subject)
}

fn identity_from_name(name: &[u8]) -> Option<Identity> {
    let mut user = String::new();
    let mut groups = Vec::new();
    for attribute in name_attributes(name)? {
        let Some(value) = attribute.value else {
            continue;
        };
        if attribute.oid == oid::COMMON_NAME {
            user = value;
        } else if attribute.oid == oid::ORGANIZATION {
            groups.push(value);
        }
    }
    (!user.is_empty()).then_some(Identity { user, groups })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::der::{self, tag};

    /// An attribute value with an explicit string tag.
    type Value<'a> = (u8, &'a [u8]);

    /// A `Name` from RDNs, each a list of (OID, value) pairs.
    fn name(rdns: &[&[(&[u8], Value<'_>)]]) -> Vec<u8> {
        let rdns: Vec<Vec<u8>> = rdns
            .iter()
            .map(|pairs| {
                let pairs: Vec<Vec<u8>> = pairs
                    .iter()
                    .map(|(oid, (value_tag, value))| {
                        der::constructed(
                            tag::SEQUENCE,
                            &[der::tlv(tag::OID, oid), der::tlv(*value_tag, value)],
                        )
                    })
                    .collect();
                der::constructed(tag::SET, &pairs)
            })
            .collect();
        der::constructed(tag::SEQUENCE, &rdns)
    }

    fn identity(user: &str, groups: &[&str]) -> Option<Identity> {
        Some(Identity {
            user: user.to_owned(),
            groups: groups.iter().map(|g| (*g).to_owned()).collect(),
        })
    }

    const CN: &[u8] = oid::COMMON_NAME;
    const O: &[u8] = oid::ORGANIZATION;
    const OU: &[u8] = &[0x55, 0x04, 0x0b];
    const UTF8: u8 = tag::UTF8_STRING;
    const PRINTABLE: u8 = tag::PRINTABLE_STRING;

    #[test]
    fn names() {
        let cases: Vec<(&str, Vec<u8>, Option<Identity>)> = vec![
            (
                "printable strings as Go writes them",
                name(&[
                    &[(O, (PRINTABLE, b"system:nodes"))],
                    &[(CN, (PRINTABLE, b"system:node:n1"))],
                ]),
                identity("system:node:n1", &["system:nodes"]),
            ),
            (
                "several organizations, other attributes ignored",
                name(&[
                    &[(O, (UTF8, b"a"))],
                    &[(OU, (UTF8, b"unit"))],
                    &[(O, (UTF8, b"b"))],
                    &[(CN, (UTF8, b"jane"))],
                ]),
                identity("jane", &["a", "b"]),
            ),
            (
                "multi-valued rdn",
                name(&[&[(O, (UTF8, b"g")), (CN, (UTF8, b"bob"))]]),
                identity("bob", &["g"]),
            ),
            (
                "last common name wins",
                name(&[&[(CN, (UTF8, b"first"))], &[(CN, (UTF8, b"second"))]]),
                identity("second", &[]),
            ),
            (
                "non-string organization skipped",
                name(&[&[(O, (tag::INTEGER, &[1]))], &[(CN, (UTF8, b"u"))]]),
                identity("u", &[]),
            ),
            ("no common name", name(&[&[(O, (UTF8, b"g"))]]), None),
            ("empty common name", name(&[&[(CN, (UTF8, b""))]]), None),
            ("not a name", der::tlv(tag::SET, &[]), None),
        ];
        for (case, encoded, want) in cases {
            assert_eq!(identity_from_name(&encoded), want, "{case}");
        }
    }

    #[test]
    fn garbage_is_no_identity() {
        assert_eq!(identity_from_cert(b""), None);
        assert_eq!(identity_from_cert(b"0\x03\x02\x01\x01"), None);
    }
}
