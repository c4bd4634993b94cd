//! URL query strings as Go's `url.ParseQuery` reads them (what kube-apiserver and the kubelet
//! see): `&`-separated pairs, `%XX` escapes and `+` as a space, repeated keys keeping every
//! value in order.

use std::collections::HashMap;

/// The pairs of `query` (the part after `?`), decoded; a key without `=` has an empty value.
pub fn parse_query(query: Option<&str>) -> HashMap<String, Vec<String>> {
    let mut values: HashMap<String, Vec<String>> = HashMap::new();
    for pair in query.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        values
            .entry(percent_decode(k))
            .or_default()
            .push(percent_decode(v));
    }
    values
}

/// Decodes `%XX` escapes and `+` as a space; a `%` not followed by two hex digits stays.
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).ok();
                match hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                    Some(b) => {
                        out.push(b);
                        i += 2;
                    }
                    None => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs_are_decoded_and_repeated_keys_kept() {
        let q = parse_query(Some(
            "command=ls&command=-l%20%2Ftmp&labelSelector=app%3Dkubia&stdin&x=a+b",
        ));
        assert_eq!(q["command"], ["ls", "-l /tmp"]);
        assert_eq!(q["labelSelector"], ["app=kubia"]);
        assert_eq!(q["stdin"], [""]);
        assert_eq!(q["x"], ["a b"]);
        assert!(parse_query(None).is_empty());
    }

    #[test]
    fn bad_escapes_stay_as_they_are() {
        assert_eq!(percent_decode("100%"), "100%");
        assert_eq!(percent_decode("%zz"), "%zz");
        assert_eq!(percent_decode("%4"), "%4");
        assert_eq!(percent_decode("%41"), "A");
    }
}
