//! Network-shaped field checks shared by Service, Endpoints, EndpointSlice and Ingress: IPs,
//! CIDRs, ports, protocols and DNS names, with apimachinery's messages word for word, plus the
//! Go `%#v` renderings kube-apiserver prints for composite bad values.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::names;
use crate::field::{go_quote, BadValue, ErrorList, FieldError, Path};

/// Port protocols, in the order upstream lists them in `Unsupported value` errors.
pub const SUPPORTED_PROTOCOLS: &[&str] = &["SCTP", "TCP", "UDP"];

/// Parses an IP the way Go's `netutils.ParseIPSloppy` does: IPv4 fields may carry leading zeros.
pub fn parse_ip_sloppy(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        return s.parse::<Ipv6Addr>().ok().map(IpAddr::V6);
    }
    parse_ipv4_sloppy(s).map(IpAddr::V4)
}

fn parse_ipv4_sloppy(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut fields = s.split('.');
    for octet in &mut octets {
        *octet = u8::try_from(decimal(fields.next()?)?).ok()?;
    }
    fields.next().is_none().then_some(Ipv4Addr::from(octets))
}

fn decimal(s: &str) -> Option<u32> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.bytes().try_fold(0u32, |n, b| {
        n.checked_mul(10)?.checked_add(u32::from(b - b'0'))
    })
}

/// An IP as Go sees it: IPv4-mapped IPv6 addresses count as IPv4 (`ip.To4() != nil`).
fn unmapped(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Is `s` an IPv6 address (and not IPv4-mapped), as `netutils.IsIPv6String`?
pub fn is_ipv6_string(s: &str) -> bool {
    parse_ip_sloppy(s).is_some_and(|ip| unmapped(ip).is_ipv6())
}

/// Parses a CIDR the way `netutils.ParseCIDRSloppy` does.
pub fn parse_cidr_sloppy(s: &str) -> Option<(IpAddr, u8)> {
    let (addr, prefix) = s.split_once('/')?;
    let ip = parse_ip_sloppy(addr)?;
    let prefix = u8::try_from(decimal(prefix)?).ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((ip, prefix))
}

/// `validation.IsValidIP`.
pub fn validate_ip(path: &Path, value: &str) -> ErrorList {
    match parse_ip_sloppy(value) {
        Some(_) => Vec::new(),
        None => vec![FieldError::invalid(
            path,
            value,
            "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
        )],
    }
}

/// `validation.IsValidIPv4Address`.
pub fn validate_ipv4_address(path: &Path, value: &str) -> ErrorList {
    match parse_ip_sloppy(value).map(unmapped) {
        Some(IpAddr::V4(_)) => Vec::new(),
        _ => vec![FieldError::invalid(
            path,
            value,
            "must be a valid IPv4 address",
        )],
    }
}

/// `validation.IsValidIPv6Address`.
pub fn validate_ipv6_address(path: &Path, value: &str) -> ErrorList {
    match parse_ip_sloppy(value).map(unmapped) {
        Some(IpAddr::V6(_)) => Vec::new(),
        _ => vec![FieldError::invalid(
            path,
            value,
            "must be a valid IPv6 address",
        )],
    }
}

/// `validation.IsValidCIDR`.
pub fn validate_cidr(path: &Path, value: &str) -> ErrorList {
    match parse_cidr_sloppy(value) {
        Some(_) => Vec::new(),
        None => vec![FieldError::invalid(
            path,
            value,
            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
        )],
    }
}

/// `ValidateNonSpecialIP`: endpoint and external IPs may not be unspecified, loopback or
/// link-local, which only make sense on one node.
pub fn validate_non_special_ip(path: &Path, value: &str) -> ErrorList {
    let Some(ip) = parse_ip_sloppy(value).map(unmapped) else {
        return vec![FieldError::invalid(
            path,
            value,
            "must be a valid IP address",
        )];
    };
    let mut errs = Vec::new();
    let mut refuse = |detail: String| errs.push(FieldError::invalid(path, value, detail));
    if ip.is_unspecified() {
        refuse(format!("may not be unspecified ({value})"));
    }
    if ip.is_loopback() {
        refuse("may not be in the loopback range (127.0.0.0/8, ::1/128)".into());
    }
    if is_link_local_unicast(ip) {
        refuse("may not be in the link-local range (169.254.0.0/16, fe80::/10)".into());
    }
    if is_link_local_multicast(ip) {
        refuse("may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)".into());
    }
    errs
}

fn is_link_local_unicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.is_link_local(),
        IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
    }
}

/// Go's `IsLinkLocalMulticast`: 224.0.0.0/24, or an IPv6 multicast address of link-local scope.
fn is_link_local_multicast(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => v4.octets()[..3] == [224, 0, 0],
        IpAddr::V6(v6) => {
            let o = v6.octets();
            o[0] == 0xff && o[1] & 0x0f == 0x02
        }
    }
}

/// `validation.IsValidPortNum`.
pub fn port_num_errors(port: i64) -> Vec<String> {
    if (1..=65535).contains(&port) {
        Vec::new()
    } else {
        vec!["must be between 1 and 65535, inclusive".to_string()]
    }
}

/// `validation.IsValidPortName`: an IANA service name (`http`, `dns-tcp`).
pub fn port_name_errors(name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if name.len() > 15 {
        errs.push("must be no more than 15 characters".to_string());
    }
    let charset_ok = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !charset_ok {
        errs.push(
            "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".to_string(),
        );
    }
    if !name.bytes().any(|b| b.is_ascii_lowercase()) {
        errs.push("must contain at least one letter (a-z)".to_string());
    }
    if name.contains("--") {
        errs.push("must not contain consecutive hyphens".to_string());
    }
    if name.starts_with('-') || name.ends_with('-') {
        errs.push("must not begin or end with a hyphen".to_string());
    }
    errs
}

/// `ValidatePortNumOrName`: a number in range, or an IANA service name.
pub fn validate_port_num_or_name(path: &Path, port: &IntOrString) -> ErrorList {
    match port {
        IntOrString::Int(n) => port_num_errors(i64::from(*n))
            .into_iter()
            .map(|msg| FieldError::invalid(path, *n, msg))
            .collect(),
        IntOrString::String(name) => port_name_errors(name)
            .into_iter()
            .map(|msg| FieldError::invalid(path, name, msg))
            .collect(),
    }
}

/// The protocol of a port: required, and one of TCP, UDP, SCTP.
pub fn validate_protocol(path: &Path, protocol: Option<&str>) -> ErrorList {
    match protocol.unwrap_or("") {
        "" => vec![FieldError::required(path, "")],
        p if SUPPORTED_PROTOCOLS.contains(&p) => Vec::new(),
        p => vec![FieldError::not_supported(path, p, SUPPORTED_PROTOCOLS)],
    }
}

/// `validation.IsDNS1123Label` of Kubernetes 1.32, which says "must not contain dots" for a
/// value that is a valid subdomain but not a label.
pub fn dns1123_label_errors(value: &str) -> Vec<String> {
    let mut errs = names::dns1123_label(value);
    let regex_error = errs
        .iter()
        .position(|e| e.starts_with("a lowercase RFC 1123 label"));
    if let Some(i) = regex_error {
        if is_dns1123_subdomain_shape(value) {
            errs[i] = "must not contain dots".to_string();
        }
    }
    errs
}

fn is_dns1123_subdomain_shape(value: &str) -> bool {
    !value.is_empty()
        && value.split('.').all(|label| {
            let b = label.as_bytes();
            let alnum = |c: u8| c.is_ascii_lowercase() || c.is_ascii_digit();
            !b.is_empty()
                && alnum(b[0])
                && alnum(b[b.len() - 1])
                && b.iter().all(|&c| alnum(c) || c == b'-')
        })
}

/// `ValidateDNS1123Label`.
pub fn validate_dns1123_label(path: &Path, value: &str) -> ErrorList {
    dns1123_label_errors(value)
        .into_iter()
        .map(|msg| FieldError::invalid(path, value, msg))
        .collect()
}

/// `ValidateDNS1123Subdomain`.
pub fn validate_dns1123_subdomain(path: &Path, value: &str) -> ErrorList {
    names::dns1123_subdomain(value)
        .into_iter()
        .map(|msg| FieldError::invalid(path, value, msg))
        .collect()
}

/// `ValidateQualifiedName` (label keys, `appProtocol`, load balancer classes).
pub fn validate_qualified_name(path: &Path, value: &str) -> ErrorList {
    names::qualified_name(value)
        .into_iter()
        .map(|msg| FieldError::invalid(path, value, msg))
        .collect()
}

const WILDCARD_SUBDOMAIN_FMT: &str =
    "\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

/// `validation.IsWildcardDNS1123Subdomain`: `*.example.com`.
pub fn wildcard_dns1123_subdomain_errors(value: &str) -> Vec<String> {
    let mut errs = Vec::new();
    if value.len() > 253 {
        errs.push("must be no more than 253 characters".to_string());
    }
    let ok = value
        .strip_prefix("*.")
        .is_some_and(is_dns1123_subdomain_shape);
    if !ok {
        errs.push(format!(
            "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '{WILDCARD_SUBDOMAIN_FMT}')"
        ));
    }
    errs
}

/// `validation.IsFullyQualifiedDomainName`: a subdomain of at least two labels, trailing dot
/// allowed.
pub fn validate_fully_qualified_domain_name(path: &Path, name: &str) -> ErrorList {
    if name.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let name = name.strip_suffix('.').unwrap_or(name);
    let errs = names::dns1123_subdomain(name);
    if !errs.is_empty() {
        return vec![FieldError::invalid(path, name, errs.join(","))];
    }
    if name.split('.').count() < 2 {
        return vec![FieldError::invalid(
            path,
            name,
            "should be a domain with at least two segments separated by dots",
        )];
    }
    for label in name.split('.') {
        let errs = dns1123_label_errors(label);
        if !errs.is_empty() {
            return vec![FieldError::invalid(path, label, errs.join(","))];
        }
    }
    Vec::new()
}

const HTTP_PATH_FMT: &str = "[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+";

/// `validation.IsDomainPrefixedPath`: `acme.io/foo`, as IngressClass controllers are named.
pub fn validate_domain_prefixed_path(path: &Path, value: &str) -> ErrorList {
    if value.is_empty() {
        return vec![FieldError::required(path, "")];
    }
    let Some((host, rest)) = value
        .split_once('/')
        .filter(|(h, r)| !h.is_empty() && !r.is_empty())
    else {
        return vec![FieldError::invalid(
            path,
            value,
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        )];
    };
    let mut errs: ErrorList = names::dns1123_subdomain(host)
        .into_iter()
        .map(|msg| FieldError::invalid(path, host, msg))
        .collect();
    let path_ok = rest
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"/-._~%!$&'()*+,;=:".contains(&b));
    if !path_ok {
        errs.push(FieldError::invalid(
            path,
            rest,
            format!("Invalid path (regex used for validation is '{HTTP_PATH_FMT}')"),
        ));
    }
    errs
}

/// Warnings for an IP kube-apiserver accepted but Go's strict parser would not
/// (`getWarningsForIP`).
pub fn ip_warnings(path: &Path, address: &str) -> Vec<String> {
    if let Some(err) = strict_addr_error(address) {
        return vec![format!(
            "{path}: IP address was accepted, but will be invalid in a future Kubernetes release: {err}"
        )];
    }
    non_canonical_ipv6(address)
        .map(|canonical| {
            format!(
                "{path}: IPv6 address {} is not in RFC 5952 canonical format ({}), which may cause controller apply-loops",
                go_quote(address),
                go_quote(&canonical)
            )
        })
        .into_iter()
        .collect()
}

/// Warnings for a CIDR kube-apiserver accepted but Go's strict parser would not
/// (`getWarningsForCIDR`).
pub fn cidr_warnings(path: &Path, cidr: &str) -> Vec<String> {
    let addr = cidr.split_once('/').map_or(cidr, |(a, _)| a);
    if let Some(err) = strict_addr_error(addr) {
        return vec![format!(
            "{path}: IP prefix was accepted, but will be invalid in a future Kubernetes release: netip.ParsePrefix({}): {err}",
            go_quote(cidr)
        )];
    }
    match (non_canonical_ipv6(addr), cidr.split_once('/')) {
        (Some(canonical), Some((_, bits))) => vec![format!(
            "{path}: IPv6 prefix {} is not in RFC 5952 canonical format ({}), which may cause controller apply-loops",
            go_quote(cidr),
            go_quote(&format!("{canonical}/{bits}"))
        )],
        _ => Vec::new(),
    }
}

/// The error Go's `netip.ParseAddr` gives for an IPv4 address the sloppy parser took: the only
/// difference between the two is octets with leading zeros.
fn strict_addr_error(address: &str) -> Option<String> {
    let leading_zero = !address.contains(':')
        && parse_ipv4_sloppy(address).is_some()
        && address
            .split('.')
            .any(|f| f.len() > 1 && f.starts_with('0'));
    leading_zero.then(|| {
        format!(
            "ParseAddr({}): IPv4 field has octet with leading zero",
            go_quote(address)
        )
    })
}

fn non_canonical_ipv6(address: &str) -> Option<String> {
    let v6 = address.parse::<Ipv6Addr>().ok()?;
    let canonical = v6.to_string();
    (canonical != address).then_some(canonical)
}

/// Go's `%#v` of a `[]string`: `[]string{"a", "b"}`, `[]string{}`, or `[]string(nil)`.
pub fn go_string_slice(type_name: &str, values: Option<&[String]>) -> BadValue {
    BadValue::Raw(match values {
        None => format!("{type_name}(nil)"),
        Some(values) => {
            let quoted: Vec<String> = values.iter().map(|v| go_quote(v)).collect();
            format!("{type_name}{{{}}}", quoted.join(", "))
        }
    })
}

/// Go's rendering of an optional string field handed to `field.Invalid` as a pointer: the
/// quoted string, or `null`.
pub fn go_optional_string(value: Option<&str>) -> BadValue {
    match value {
        Some(v) => BadValue::Str(v.to_string()),
        None => BadValue::Raw("null".to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Path {
        Path::new("x")
    }

    fn texts(errs: ErrorList) -> Vec<String> {
        errs.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn ips_are_parsed_sloppily() {
        assert_eq!(
            parse_ip_sloppy("010.096.0.1"),
            Some(IpAddr::V4(Ipv4Addr::new(10, 96, 0, 1)))
        );
        assert!(parse_ip_sloppy("fd00::1").is_some());
        assert!(parse_ip_sloppy("1.2.3.256").is_none());
        assert!(is_ipv6_string("2001:db8::1"));
        assert!(!is_ipv6_string("::ffff:1.2.3.4"));
        assert_eq!(parse_cidr_sloppy("10.0.0.0/33"), None);
        assert!(parse_cidr_sloppy("2001:db8::/64").is_some());
    }

    #[test]
    fn special_ips_are_named() {
        let cases = [
            ("127.0.0.1", vec!["x: Invalid value: \"127.0.0.1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"]),
            ("0.0.0.0", vec!["x: Invalid value: \"0.0.0.0\": may not be unspecified (0.0.0.0)"]),
            ("169.254.169.254", vec!["x: Invalid value: \"169.254.169.254\": may not be in the link-local range (169.254.0.0/16, fe80::/10)"]),
            ("224.0.0.251", vec!["x: Invalid value: \"224.0.0.251\": may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"]),
            ("fe80::1", vec!["x: Invalid value: \"fe80::1\": may not be in the link-local range (169.254.0.0/16, fe80::/10)"]),
            ("::1", vec!["x: Invalid value: \"::1\": may not be in the loopback range (127.0.0.0/8, ::1/128)"]),
            ("10.1.2.3", vec![]),
        ];
        for (ip, want) in cases {
            assert_eq!(texts(validate_non_special_ip(&p(), ip)), want, "{ip}");
        }
    }

    #[test]
    fn port_names_follow_iana() {
        assert!(port_name_errors("http").is_empty());
        assert_eq!(
            port_name_errors("8080"),
            vec!["must contain at least one letter (a-z)"]
        );
        assert_eq!(
            port_name_errors("-Web--"),
            vec![
                "must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)",
                "must not contain consecutive hyphens",
                "must not begin or end with a hyphen"
            ]
        );
        assert_eq!(port_name_errors("a-very-long-port-name").len(), 1);
    }

    #[test]
    fn labels_with_dots_say_so() {
        assert_eq!(dns1123_label_errors("a.b"), vec!["must not contain dots"]);
        assert_eq!(dns1123_label_errors("A").len(), 1);
        assert_ne!(dns1123_label_errors("A"), vec!["must not contain dots"]);
    }

    #[test]
    fn domains_and_paths() {
        assert!(validate_fully_qualified_domain_name(&p(), "api.example.com.").is_empty());
        assert_eq!(
            texts(validate_fully_qualified_domain_name(&p(), "localhost")),
            vec!["x: Invalid value: \"localhost\": should be a domain with at least two segments separated by dots"]
        );
        assert!(validate_domain_prefixed_path(&p(), "k8s.io/ingress-nginx").is_empty());
        assert_eq!(
            texts(validate_domain_prefixed_path(&p(), "nginx")),
            vec!["x: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"]
        );
        assert_eq!(
            texts(validate_domain_prefixed_path(&p(), "acme.io/a b")),
            vec!["x: Invalid value: \"a b\": Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')"]
        );
        assert!(wildcard_dns1123_subdomain_errors("*.example.com").is_empty());
        assert_eq!(wildcard_dns1123_subdomain_errors("*.*.com").len(), 1);
    }

    #[test]
    fn leading_zeros_and_uncanonical_ipv6_warn() {
        assert_eq!(
            ip_warnings(&Path::new("spec").child("clusterIPs").index(0), "192.012.2.2"),
            vec!["spec.clusterIPs[0]: IP address was accepted, but will be invalid in a future Kubernetes release: ParseAddr(\"192.012.2.2\"): IPv4 field has octet with leading zero"]
        );
        assert_eq!(
            ip_warnings(&p(), "2001:db8:0:0::1"),
            vec!["x: IPv6 address \"2001:db8:0:0::1\" is not in RFC 5952 canonical format (\"2001:db8::1\"), which may cause controller apply-loops"]
        );
        assert!(ip_warnings(&p(), "10.96.0.10").is_empty());
        assert_eq!(
            cidr_warnings(&p(), "010.0.0.0/8"),
            vec!["x: IP prefix was accepted, but will be invalid in a future Kubernetes release: netip.ParsePrefix(\"010.0.0.0/8\"): ParseAddr(\"010.0.0.0\"): IPv4 field has octet with leading zero"]
        );
    }

    #[test]
    fn go_renderings() {
        let ips = vec!["10.0.0.1".to_string(), "10.0.0.2".to_string()];
        assert_eq!(
            go_string_slice("[]string", Some(&ips)).to_string(),
            "[]string{\"10.0.0.1\", \"10.0.0.2\"}"
        );
        assert_eq!(
            go_string_slice("[]string", None).to_string(),
            "[]string(nil)"
        );
        assert_eq!(go_optional_string(None).to_string(), "null");
    }
}
