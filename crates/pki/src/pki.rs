//! The cluster PKI in its data directory: created on first start, loaded afterwards, with the
//! serving and admin certificates re-issued from the same CA when they no longer fit.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::{Duration, OffsetDateTime};

use crate::authority::{CaFiles, CertificateAuthority, CertifiedKey};
use crate::certificate::{self, Profile, Subject, SubjectAltNames, Template, Validity};
use crate::error::PkiError;
use crate::files::{self, Contents};
use crate::parse::parse_certificate;
use crate::tls;

/// What the serving certificate must cover beyond the fixed names: the node's addresses and
/// host names.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PkiOptions {
    pub extra_ips: Vec<IpAddr>,
    pub extra_dns_names: Vec<String>,
}

/// The loaded PKI: the CA, the API serving certificate and the admin client certificate.
pub struct Pki {
    ca: CertificateAuthority,
    serving: CertifiedKey,
    admin: CertifiedKey,
}

impl Pki {
    /// Loads the PKI from `dir`, creating whatever is missing. The CA is never replaced once its
    /// certificate exists; the serving and admin certificates are re-issued from it when they
    /// are missing, unreadable, from another CA, within 90 days of expiry, or (serving) lack a
    /// name `opts` asks for.
    pub fn load_or_create(dir: &Path, opts: &PkiOptions) -> Result<Pki, PkiError> {
        files::create_dir(dir)?;
        let now = OffsetDateTime::now_utc();
        let ca = load_or_create_ca(dir, now)?;
        let alt_names = serving_alt_names(opts);
        let serving = ensure_leaf(
            &ca,
            &PairPaths::new(dir, SERVING_FILE_STEM),
            &Template {
                subject: SERVING_SUBJECT,
                profile: Profile::Server(&alt_names),
                validity: Validity::starting(now, LEAF_LIFETIME),
            },
            now,
        )?;
        let admin = ensure_leaf(
            &ca,
            &PairPaths::new(dir, ADMIN_FILE_STEM),
            &Template {
                subject: ADMIN_SUBJECT,
                profile: Profile::Client,
                validity: Validity::starting(now, LEAF_LIFETIME),
            },
            now,
        )?;
        Ok(Pki { ca, serving, admin })
    }

    /// Issues a client certificate: `common_name` is the Kubernetes user, each organization a
    /// group (e.g. `system:node:<name>` in `system:nodes`). Valid for one year.
    pub fn issue_client_cert(
        &self,
        common_name: &str,
        organizations: &[&str],
    ) -> Result<CertifiedKey, PkiError> {
        if common_name.is_empty() {
            return Err(PkiError::EmptyCommonName);
        }
        self.ca.issue(&Template {
            subject: Subject {
                common_name,
                organizations,
            },
            profile: Profile::Client,
            validity: Validity::starting(OffsetDateTime::now_utc(), LEAF_LIFETIME),
        })
    }

    /// Issues a serving certificate for a node's agent (the kubelet's serving certificate):
    /// subject `common_name` in `organizations`, valid for `ips` and `dns_names`, one year.
    pub fn issue_serving_cert(
        &self,
        common_name: &str,
        organizations: &[&str],
        ips: &[IpAddr],
        dns_names: &[String],
    ) -> Result<CertifiedKey, PkiError> {
        if common_name.is_empty() {
            return Err(PkiError::EmptyCommonName);
        }
        let alt_names = SubjectAltNames {
            dns_names: dns_names.iter().cloned().collect(),
            ips: ips.iter().copied().collect(),
        };
        self.ca.issue(&Template {
            subject: Subject {
                common_name,
                organizations,
            },
            profile: Profile::Server(&alt_names),
            validity: Validity::starting(OffsetDateTime::now_utc(), LEAF_LIFETIME),
        })
    }

    /// TLS for the API server: the serving certificate; client certificates verified against
    /// the CA but optional (anonymous requests get through to authorization); ALPN h2, then
    /// http/1.1.
    pub fn server_config(&self) -> Result<Arc<rustls::ServerConfig>, PkiError> {
        tls::server_config(self.ca.certified(), &self.serving)
    }

    /// TLS for a client of the API server: trusts the CA and presents `user`'s certificate, or
    /// none when `user` is `None`. No ALPN protocols are set; the caller picks its HTTP version.
    pub fn client_config(
        &self,
        user: Option<&CertifiedKey>,
    ) -> Result<rustls::ClientConfig, PkiError> {
        tls::client_config(self.ca.certified(), user)
    }

    /// The CA certificate, PEM.
    pub fn ca_cert_pem(&self) -> &str {
        self.ca.certified().cert_pem()
    }

    /// The admin client certificate (`kubernetes-admin` in `system:masters`).
    pub fn admin(&self) -> &CertifiedKey {
        &self.admin
    }

    /// The API serving certificate.
    pub fn serving(&self) -> &CertifiedKey {
        &self.serving
    }
}

impl fmt::Debug for Pki {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pki")
            .field("ca", self.ca.certified())
            .field("serving", &self.serving)
            .field("admin", &self.admin)
            .finish()
    }
}

const CA_COMMON_NAME: &str = "ferry-ca";
const CA_LIFETIME: Duration = Duration::days(3650);
const LEAF_LIFETIME: Duration = Duration::days(365);
/// Leaf certificates closer than this to expiry are re-issued at start (as k3s does).
const RENEW_BEFORE: Duration = Duration::days(90);

const CA_FILE_STEM: &str = "ca";
const SERVING_FILE_STEM: &str = "apiserver";
const ADMIN_FILE_STEM: &str = "admin";

const SERVING_SUBJECT: Subject<'static> = Subject {
    common_name: "kube-apiserver",
    organizations: &[],
};
const ADMIN_SUBJECT: Subject<'static> = Subject {
    common_name: "kubernetes-admin",
    organizations: &["system:masters"],
};

/// The names every API server answers to: loopback, the `kubernetes` Service's cluster IP and
/// its DNS names.
const SERVING_IPS: [IpAddr; 2] = [
    IpAddr::V4(Ipv4Addr::LOCALHOST),
    IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1)),
];
const SERVING_DNS_NAMES: [&str; 5] = [
    "localhost",
    "kubernetes",
    "kubernetes.default",
    "kubernetes.default.svc",
    "kubernetes.default.svc.cluster.local",
];

/// A certificate file and its key file.
struct PairPaths {
    cert: PathBuf,
    key: PathBuf,
}

impl PairPaths {
    fn new(dir: &Path, stem: &str) -> Self {
        PairPaths {
            cert: dir.join(format!("{stem}.crt")),
            key: dir.join(format!("{stem}.key")),
        }
    }
}

/// Why a leaf certificate is (re-)issued.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Reissue {
    Missing,
    Unusable,
    OtherIssuer,
    OtherSubject,
    Expiring(OffsetDateTime),
    MissingAltName(String),
}

impl fmt::Display for Reissue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reissue::Missing => write!(f, "no certificate yet"),
            Reissue::Unusable => write!(f, "certificate or key unreadable, or not a pair"),
            Reissue::OtherIssuer => write!(f, "issued by another ca"),
            Reissue::OtherSubject => write!(f, "subject differs"),
            Reissue::Expiring(not_after) => write!(f, "expires {not_after}"),
            Reissue::MissingAltName(name) => write!(f, "lacks subject alternative name {name}"),
        }
    }
}

fn serving_alt_names(opts: &PkiOptions) -> SubjectAltNames {
    SubjectAltNames {
        dns_names: SERVING_DNS_NAMES
            .iter()
            .map(|name| (*name).to_owned())
            .chain(opts.extra_dns_names.iter().cloned())
            .collect(),
        ips: SERVING_IPS.iter().chain(&opts.extra_ips).copied().collect(),
    }
}

/// Loads the CA, or creates it when its certificate does not exist. The key is written before
/// the certificate, so an existing certificate always has its key; a key without a certificate
/// is left over from an interrupted first start and is replaced.
fn load_or_create_ca(dir: &Path, now: OffsetDateTime) -> Result<CertificateAuthority, PkiError> {
    let paths = PairPaths::new(dir, CA_FILE_STEM);
    let Some(cert_pem) = files::read_optional(&paths.cert)? else {
        let ca =
            CertificateAuthority::create(CA_COMMON_NAME, Validity::starting(now, CA_LIFETIME))?;
        tracing::info!(path = %paths.cert.display(), "created cluster ca");
        write_pair(&paths, ca.certified())?;
        return Ok(ca);
    };
    let key_pem = files::read_optional(&paths.key)?.ok_or_else(|| PkiError::CaKeyMissing {
        cert: paths.cert.clone(),
        key: paths.key.clone(),
    })?;
    let files = CaFiles {
        cert: &paths.cert,
        key: &paths.key,
    };
    CertificateAuthority::load(&cert_pem, &key_pem, &files)
}

/// The leaf certificate at `paths` if it still fits `template`, otherwise a new one, written.
fn ensure_leaf(
    ca: &CertificateAuthority,
    paths: &PairPaths,
    template: &Template<'_>,
    now: OffsetDateTime,
) -> Result<CertifiedKey, PkiError> {
    let reason = match load_leaf(paths)? {
        Ok(certified) => match reissue_reason(ca, &certified, template, now) {
            None => return Ok(certified),
            Some(reason) => reason,
        },
        Err(reason) => reason,
    };
    tracing::info!(path = %paths.cert.display(), %reason, "issuing certificate");
    let certified = ca.issue(template)?;
    write_pair(paths, &certified)?;
    Ok(certified)
}

/// The pair on disk, or why there is none to use.
fn load_leaf(paths: &PairPaths) -> Result<Result<CertifiedKey, Reissue>, PkiError> {
    let cert_pem = files::read_optional(&paths.cert)?;
    let key_pem = files::read_optional(&paths.key)?;
    let (Some(cert_pem), Some(key_pem)) = (cert_pem, key_pem) else {
        return Ok(Err(Reissue::Missing));
    };
    Ok(CertifiedKey::from_pem(&cert_pem, &key_pem).ok_or(Reissue::Unusable))
}

/// Why `certified` no longer fits `template`, if it does not.
fn reissue_reason(
    ca: &CertificateAuthority,
    certified: &CertifiedKey,
    template: &Template<'_>,
    now: OffsetDateTime,
) -> Option<Reissue> {
    let Some(parsed) = parse_certificate(certified.cert_der()) else {
        return Some(Reissue::Unusable);
    };
    if !ca.is_issuer_of(&parsed) {
        return Some(Reissue::OtherIssuer);
    }
    if parsed.subject != certificate::encode_name(&template.subject).as_slice() {
        return Some(Reissue::OtherSubject);
    }
    if parsed.not_after - now < RENEW_BEFORE {
        return Some(Reissue::Expiring(parsed.not_after));
    }
    let Profile::Server(wanted) = template.profile else {
        return None;
    };
    missing_alt_name(wanted, &parsed.alt_names).map(Reissue::MissingAltName)
}

/// The first name in `wanted` that `present` lacks.
fn missing_alt_name(wanted: &SubjectAltNames, present: &SubjectAltNames) -> Option<String> {
    let dns = wanted
        .dns_names
        .difference(&present.dns_names)
        .next()
        .cloned();
    dns.or_else(|| {
        wanted
            .ips
            .difference(&present.ips)
            .next()
            .map(IpAddr::to_string)
    })
}

/// Writes the key first: a crash in between leaves a certificate-less key, which is re-issued.
fn write_pair(paths: &PairPaths, certified: &CertifiedKey) -> Result<(), PkiError> {
    files::write(&paths.key, certified.key_pem(), Contents::PrivateKey)?;
    files::write(&paths.cert, certified.cert_pem(), Contents::Certificate)
}

#[cfg(test)]
mod tests {
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    use super::*;
    use crate::identity::{identity_from_cert, Identity};

    fn opts(ips: &[&str], dns_names: &[&str]) -> PkiOptions {
        PkiOptions {
            extra_ips: ips.iter().map(|ip| ip.parse().unwrap()).collect(),
            extra_dns_names: dns_names.iter().map(|n| (*n).to_owned()).collect(),
        }
    }

    fn alt_names(certified: &CertifiedKey) -> SubjectAltNames {
        parse_certificate(certified.cert_der()).unwrap().alt_names
    }

    #[test]
    fn node_serving_certificates_cover_the_node_address() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        let ip: IpAddr = "172.18.0.2".parse().unwrap();
        let cert = pki
            .issue_serving_cert(
                "system:node:n1",
                &["system:nodes"],
                &[ip],
                &["n1".to_string()],
            )
            .unwrap();
        let names = alt_names(&cert);
        assert!(names.ips.contains(&ip));
        assert!(names.dns_names.contains("n1"));
    }

    #[test]
    fn creation_then_reload_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        let second = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        assert_eq!(first.ca_cert_pem(), second.ca_cert_pem());
        assert_eq!(first.serving().cert_pem(), second.serving().cert_pem());
        assert_eq!(first.admin().cert_pem(), second.admin().cert_pem());
        assert_eq!(first.admin().key_pem(), second.admin().key_pem());

        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|entry| entry.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        let want = [
            "admin.crt",
            "admin.key",
            "apiserver.crt",
            "apiserver.key",
            "ca.crt",
            "ca.key",
        ];
        assert_eq!(names, want);
        for name in want {
            let mode = fs::metadata(dir.path().join(name))
                .unwrap()
                .permissions()
                .mode()
                & 0o777;
            let expected = if name.ends_with(".key") { 0o600 } else { 0o644 };
            assert_eq!(mode, expected, "{name}");
        }
    }

    #[test]
    fn certificates_carry_the_kubernetes_names() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &opts(&["192.0.2.7"], &["node-a"])).unwrap();
        let ca = parse_certificate(pki.ca.certified().cert_der()).unwrap();
        assert_eq!(
            identity_from_cert(pki.ca.certified().cert_der()),
            Some(Identity {
                user: "ferry-ca".into(),
                groups: vec![]
            })
        );
        let ca_lifetime = ca.not_after - OffsetDateTime::now_utc();
        assert!(ca_lifetime > Duration::days(3649), "{ca_lifetime}");
        assert_eq!(
            identity_from_cert(pki.admin().cert_der()),
            Some(Identity {
                user: "kubernetes-admin".into(),
                groups: vec!["system:masters".into()],
            })
        );
        let names = alt_names(pki.serving());
        let dns: Vec<&str> = names.dns_names.iter().map(String::as_str).collect();
        assert_eq!(
            dns,
            [
                "kubernetes",
                "kubernetes.default",
                "kubernetes.default.svc",
                "kubernetes.default.svc.cluster.local",
                "localhost",
                "node-a",
            ]
        );
        let ips: Vec<String> = names.ips.iter().map(IpAddr::to_string).collect();
        assert_eq!(ips, ["10.96.0.1", "127.0.0.1", "192.0.2.7"]);
    }

    #[test]
    fn a_new_address_reissues_the_serving_certificate_from_the_same_ca() {
        let dir = tempfile::tempdir().unwrap();
        let before = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        let wider = opts(&["192.0.2.7", "2001:db8::7"], &["node-a"]);
        let after = Pki::load_or_create(dir.path(), &wider).unwrap();
        assert_eq!(before.ca_cert_pem(), after.ca_cert_pem());
        assert_eq!(before.admin().cert_pem(), after.admin().cert_pem());
        assert_ne!(before.serving().cert_pem(), after.serving().cert_pem());
        assert_ne!(before.serving().key_pem(), after.serving().key_pem());
        let names = alt_names(after.serving());
        assert!(names.ips.contains(&"2001:db8::7".parse().unwrap()));
        assert!(names.dns_names.contains("node-a"));
        let parsed = parse_certificate(after.serving().cert_der()).unwrap();
        assert!(before.ca.is_issuer_of(&parsed));

        // Asking for the same names again, or fewer, keeps the certificate.
        let again = Pki::load_or_create(dir.path(), &wider).unwrap();
        assert_eq!(after.serving().cert_pem(), again.serving().cert_pem());
        let fewer = Pki::load_or_create(dir.path(), &opts(&["192.0.2.7"], &[])).unwrap();
        assert_eq!(after.serving().cert_pem(), fewer.serving().cert_pem());
    }

    #[test]
    fn damaged_leaves_are_reissued_but_a_ca_without_key_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();

        fs::write(dir.path().join("apiserver.crt"), "garbage").unwrap();
        // A key that is not the certificate's, as after a crash between the two writes.
        fs::write(dir.path().join("admin.key"), first.serving().key_pem()).unwrap();
        let second = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        assert_eq!(first.ca_cert_pem(), second.ca_cert_pem());
        assert_ne!(first.serving().cert_pem(), second.serving().cert_pem());
        assert_ne!(first.admin().cert_pem(), second.admin().cert_pem());

        fs::remove_file(dir.path().join("ca.key")).unwrap();
        let err = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap_err();
        assert!(matches!(err, PkiError::CaKeyMissing { .. }), "{err}");
    }

    #[test]
    fn a_ca_key_from_elsewhere_is_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let first = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        fs::write(dir.path().join("ca.key"), first.admin().key_pem()).unwrap();
        let err = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap_err();
        assert!(matches!(err, PkiError::CaKeyMismatch { .. }), "{err}");
    }

    #[test]
    fn a_key_left_from_an_interrupted_first_start_is_replaced() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("ca.key"), "half written").unwrap();
        let pki = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        let key = fs::read_to_string(dir.path().join("ca.key")).unwrap();
        assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"), "{key}");
        assert!(!pki.ca_cert_pem().is_empty());
    }

    #[test]
    fn reissue_reasons() {
        let now = OffsetDateTime::now_utc();
        let ca = CertificateAuthority::create("ca", Validity::starting(now, CA_LIFETIME)).unwrap();
        let other_ca =
            CertificateAuthority::create("ca", Validity::starting(now, CA_LIFETIME)).unwrap();
        let wanted = serving_alt_names(&opts(&["192.0.2.7"], &[]));
        let serving = |validity| Template {
            subject: SERVING_SUBJECT,
            profile: Profile::Server(&wanted),
            validity,
        };
        let year = Validity::starting(now, LEAF_LIFETIME);
        let cert = ca.issue(&serving(year)).unwrap();
        let fewer_names = SubjectAltNames::default();
        let narrow = ca
            .issue(&Template {
                profile: Profile::Server(&fewer_names),
                ..serving(year)
            })
            .unwrap();
        let short = ca
            .issue(&serving(Validity::starting(now, Duration::days(30))))
            .unwrap();
        let foreign = other_ca.issue(&serving(year)).unwrap();
        let admin = Template {
            subject: ADMIN_SUBJECT,
            profile: Profile::Client,
            validity: year,
        };

        let cases = [
            ("fits", &cert, serving(year), None),
            (
                "another ca with the same name",
                &foreign,
                serving(year),
                Some(Reissue::OtherIssuer),
            ),
            ("subject", &cert, admin, Some(Reissue::OtherSubject)),
            (
                "missing name",
                &narrow,
                serving(year),
                Some(Reissue::MissingAltName("kubernetes".into())),
            ),
        ];
        for (case, certified, template, want) in cases {
            assert_eq!(
                reissue_reason(&ca, certified, &template, now),
                want,
                "{case}"
            );
        }
        assert!(matches!(
            reissue_reason(&ca, &short, &serving(year), now),
            Some(Reissue::Expiring(_))
        ));
        assert!(matches!(
            reissue_reason(&ca, &cert, &serving(year), now + Duration::days(300)),
            Some(Reissue::Expiring(_))
        ));
        let renamed =
            CertificateAuthority::create("other", Validity::starting(now, CA_LIFETIME)).unwrap();
        assert_eq!(
            reissue_reason(&renamed, &cert, &serving(year), now),
            Some(Reissue::OtherIssuer)
        );
    }

    #[test]
    fn client_certificates_carry_every_group() {
        let dir = tempfile::tempdir().unwrap();
        let pki = Pki::load_or_create(dir.path(), &PkiOptions::default()).unwrap();
        let node = pki
            .issue_client_cert("system:node:n1", &["system:nodes", "extra:group"])
            .unwrap();
        assert_eq!(
            identity_from_cert(node.cert_der()),
            Some(Identity {
                user: "system:node:n1".into(),
                groups: vec!["system:nodes".into(), "extra:group".into()],
            })
        );
        let err = pki.issue_client_cert("", &["system:nodes"]).unwrap_err();
        assert!(matches!(err, PkiError::EmptyCommonName), "{err}");
    }
}
