//! Timestamps as the Kubernetes API writes them.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

/// `metav1.Time`: RFC 3339 in UTC with whole seconds.
pub(crate) fn now_time() -> String {
    format_time(OffsetDateTime::now_utc())
}

pub(crate) fn format_time(at: OffsetDateTime) -> String {
    let at = at.replace_nanosecond(0).unwrap_or(at);
    at.format(&Rfc3339).unwrap_or_default()
}

/// `metav1.MicroTime`: RFC 3339 in UTC with six fractional digits.
pub(crate) fn now_micro() -> String {
    let at = OffsetDateTime::now_utc();
    let whole = format_time(at);
    let micros = at.microsecond();
    match whole.strip_suffix('Z') {
        Some(seconds) => format!("{seconds}.{micros:06}Z"),
        None => whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_have_the_api_precision() {
        let at = OffsetDateTime::from_unix_timestamp_nanos(1_700_000_000_123_456_789).unwrap();
        assert_eq!(format_time(at), "2023-11-14T22:13:20Z");
        assert!(now_micro().len() == "2023-11-14T22:13:20.123456Z".len());
    }
}
