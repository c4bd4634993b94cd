//! Query parameters of the kubelet's streaming endpoints, read as the kubelet reads them:
//! `stdin=1`-style flags for exec and attach, `PodLogOptions` for logs.

use std::collections::HashMap;

use time::OffsetDateTime;

use crate::streaming::Streams;

/// A decoded query string; repeated keys keep every value (exec's `command`).
#[derive(Debug, Default)]
pub(crate) struct Query(HashMap<String, Vec<String>>);

impl Query {
    pub(crate) fn parse(query: Option<&str>) -> Query {
        Query(ferry_api::query::parse_query(query))
    }

    fn first(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.first()).map(String::as_str)
    }

    pub(crate) fn all(&self, key: &str) -> Vec<String> {
        self.0.get(key).cloned().unwrap_or_default()
    }
}

/// Why the kubelet refuses a stream request's options.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum OptionsError {
    /// 400: no stream asked for, as remotecommand's `NewOptions` says.
    NoStreams,
    /// 400: a log option that does not parse.
    Undecodable,
    /// 422: log options that parse but are invalid.
    Invalid,
}

impl OptionsError {
    pub(crate) fn message(&self) -> &'static str {
        match self {
            OptionsError::NoStreams => "you must specify at least 1 of stdin, stdout, stderr",
            OptionsError::Undecodable => r#"{"message": "Unable to decode query."}"#,
            OptionsError::Invalid => r#"{"message": "Invalid request."}"#,
        }
    }
}

/// The streams of an exec or attach request; the kubelet takes only `1` as true and drops
/// stderr when a terminal is asked for.
pub(crate) fn streams(query: &Query) -> Result<Streams, OptionsError> {
    let flag = |key: &str| query.first(key) == Some("1");
    let tty = flag("tty");
    let streams = Streams {
        stdin: flag("stdin"),
        stdout: flag("stdout"),
        stderr: flag("stderr") && !tty,
        tty,
    };
    if !streams.stdin && !streams.stdout && !streams.stderr {
        return Err(OptionsError::NoStreams);
    }
    Ok(streams)
}

/// `PodLogOptions` as the kubelet decodes them.
#[derive(Debug, Default, Clone, PartialEq)]
pub(crate) struct LogOptions {
    pub(crate) follow: bool,
    pub(crate) previous: bool,
    pub(crate) timestamps: bool,
    pub(crate) tail_lines: Option<u64>,
    pub(crate) limit_bytes: Option<u64>,
    pub(crate) since: Option<Since>,
}

/// Where a log read starts in time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Since {
    Seconds(u64),
    Time(OffsetDateTime),
}

impl Since {
    pub(crate) fn instant(self, now: OffsetDateTime) -> OffsetDateTime {
        match self {
            Since::Seconds(s) => {
                now - time::Duration::seconds(i64::try_from(s).unwrap_or(i64::MAX))
            }
            Since::Time(t) => t,
        }
    }
}

pub(crate) fn log_options(query: &Query) -> Result<LogOptions, OptionsError> {
    let int = |key: &str| -> Result<Option<i64>, OptionsError> {
        query
            .first(key)
            .map(|v| v.parse::<i64>().map_err(|_| OptionsError::Undecodable))
            .transpose()
    };
    // The kubelet still takes the old `tail` parameter; `all` means no limit.
    let tail = match query.first("tail") {
        Some("all") => None,
        Some(t) => Some(t.parse::<i64>().map_err(|_| OptionsError::Undecodable)?),
        None => int("tailLines")?,
    };
    let limit = int("limitBytes")?;
    let since_seconds = int("sinceSeconds")?;
    let since_time = query
        .first("sinceTime")
        .map(|t| {
            OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339)
                .map_err(|_| OptionsError::Undecodable)
        })
        .transpose()?;
    let since = match (since_seconds, since_time) {
        (Some(_), Some(_)) => return Err(OptionsError::Invalid),
        (Some(s), None) => Some(Since::Seconds(positive(s)?)),
        (None, Some(t)) => Some(Since::Time(t)),
        (None, None) => None,
    };
    Ok(LogOptions {
        follow: bool_param(query.first("follow")),
        previous: bool_param(query.first("previous")),
        timestamps: bool_param(query.first("timestamps")),
        tail_lines: tail
            .map(|t| u64::try_from(t).map_err(|_| OptionsError::Invalid))
            .transpose()?,
        limit_bytes: limit.map(positive).transpose()?,
        since,
    })
}

fn positive(v: i64) -> Result<u64, OptionsError> {
    u64::try_from(v)
        .ok()
        .filter(|v| *v > 0)
        .ok_or(OptionsError::Invalid)
}

/// A boolean query parameter as apimachinery converts it: absent, empty, `false` or `0` is
/// false, anything else true.
fn bool_param(value: Option<&str>) -> bool {
    !matches!(
        value.map(str::to_ascii_lowercase).as_deref(),
        None | Some("" | "false" | "0")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exec_streams_are_read_as_the_kubelet_reads_them() {
        let cases = [
            ("stdout=1&stderr=1", Ok((false, true, true, false))),
            (
                "stdin=1&stdout=1&stderr=1&tty=1",
                Ok((true, true, false, true)),
            ),
            ("stdout=true", Err(OptionsError::NoStreams)),
            ("tty=1&stderr=1", Err(OptionsError::NoStreams)),
        ];
        for (query, want) in cases {
            let got =
                streams(&Query::parse(Some(query))).map(|s| (s.stdin, s.stdout, s.stderr, s.tty));
            assert_eq!(got, want, "{query}");
        }
        let q = Query::parse(Some("command=sh&command=-c&command=exit+3&command=a%26b"));
        assert_eq!(q.all("command"), ["sh", "-c", "exit 3", "a&b"]);
    }

    #[test]
    fn log_options() {
        let ok = |q: &str| super::log_options(&Query::parse(Some(q))).unwrap();
        let err = |q: &str| super::log_options(&Query::parse(Some(q))).unwrap_err();
        assert_eq!(ok(""), LogOptions::default());
        let o = ok("follow=true&tailLines=2&previous=1&timestamps=x&limitBytes=10");
        assert!(o.follow && o.previous && o.timestamps);
        assert_eq!((o.tail_lines, o.limit_bytes), (Some(2), Some(10)));
        assert_eq!(ok("follow=false&tail=all").tail_lines, None);
        assert_eq!(ok("tail=3").tail_lines, Some(3));
        assert_eq!(ok("sinceSeconds=5").since, Some(Since::Seconds(5)));
        assert!(matches!(
            ok("sinceTime=2024-01-02T03:04:05Z").since,
            Some(Since::Time(_))
        ));
        assert_eq!(err("tailLines=x"), OptionsError::Undecodable);
        assert_eq!(err("tailLines=-1"), OptionsError::Invalid);
        assert_eq!(err("limitBytes=0"), OptionsError::Invalid);
        assert_eq!(err("sinceSeconds=0"), OptionsError::Invalid);
        assert_eq!(
            err("sinceSeconds=1&sinceTime=2024-01-02T03:04:05Z"),
            OptionsError::Invalid
        );
    }
}
