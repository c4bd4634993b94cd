//! Reading a container log for `kubectl logs`, as the kubelet's `ReadLogs` does: start at the
//! last `tailLines` lines, skip records before `sinceSeconds`/`sinceTime`, prefix timestamps,
//! stop after `limitBytes`, and with `follow` keep reading until the container exits.

use std::io::SeekFrom;
use std::path::PathBuf;
use std::time::Duration;

use bytes::Bytes;
use time::OffsetDateTime;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, BufReader};
use tokio::sync::{mpsc, watch};

use crate::streaming::log_format::{format_time, parse_record};
use crate::streaming::options::LogOptions;
use crate::streaming::{LogUnavailable, StreamError};

/// How often a followed log is checked for new records when nothing else wakes the reader.
const FOLLOW_POLL: Duration = Duration::from_millis(100);

/// The kubelet's message for a container without a log (its `validateContainerLogStatus`).
pub(crate) fn unavailable_message(why: &LogUnavailable, container: &str, pod: &str) -> String {
    let (c, p) = (go_quote(container), go_quote(pod));
    match why {
        LogUnavailable::NoStatus => format!("container {c} in pod {p} is not available"),
        LogUnavailable::NoPreviousInstance => {
            format!("previous terminated container {c} in pod {p} not found")
        }
        LogUnavailable::Terminated => format!("container {c} in pod {p} is terminated"),
        LogUnavailable::Waiting(reason) => match reason.as_str() {
            "ErrImagePull" => {
                format!("container {c} in pod {p} is waiting to start: image can't be pulled")
            }
            "ImagePullBackOff" => format!(
                "container {c} in pod {p} is waiting to start: trying and failing to pull image"
            ),
            other => format!("container {c} in pod {p} is waiting to start: {other}"),
        },
        LogUnavailable::NoLogsYet => {
            format!("container {c} in pod {p} is waiting to start - no logs yet")
        }
    }
}

/// A string as Go's `%q` prints a plain name.
pub(crate) fn go_quote(s: &str) -> String {
    format!("{s:?}")
}

/// An open log and where its reader stands.
pub(crate) struct LogReader {
    pub(crate) path: PathBuf,
    pub(crate) file: tokio::fs::File,
    pub(crate) exited: watch::Receiver<bool>,
}

/// Sends the log to `out` as `options` ask; returns when done or when the receiver is gone.
pub(crate) async fn stream(
    reader: LogReader,
    options: LogOptions,
    out: mpsc::Sender<Bytes>,
) -> Result<(), StreamError> {
    let LogReader {
        path,
        mut file,
        mut exited,
    } = reader;
    let read_error = |source| StreamError::ReadLog {
        path: path.clone(),
        source,
    };
    if let Some(n) = options.tail_lines {
        let start = tail_start(&mut file, n).await.map_err(read_error)?;
        file.seek(SeekFrom::Start(start))
            .await
            .map_err(read_error)?;
    }
    let mut output = Output::new(&options, OffsetDateTime::now_utc());
    let mut lines = BufReader::new(file);
    let mut line = Vec::new();
    let mut drained_after_exit = false;
    loop {
        lines
            .read_until(b'\n', &mut line)
            .await
            .map_err(read_error)?;
        if line.last() == Some(&b'\n') {
            let record = &line[..line.len() - 1];
            let keep_going = match output.render(record) {
                Some(bytes) => out.send(bytes).await.is_ok() && !output.exhausted(),
                None => true,
            };
            if !keep_going {
                return Ok(());
            }
            line.clear();
            continue;
        }
        // At the end of what is written so far (`line` may hold a record being written).
        if !options.follow || drained_after_exit {
            return Ok(());
        }
        if has_exited(&exited) {
            // Everything the instance wrote is in the file now: read it to the end once more.
            drained_after_exit = true;
            continue;
        }
        tokio::select! {
            _ = exited.changed() => {}
            _ = tokio::time::sleep(FOLLOW_POLL) => {}
            _ = out.closed() => return Ok(()),
        }
    }
}

fn has_exited(exited: &watch::Receiver<bool>) -> bool {
    *exited.borrow() || exited.has_changed().is_err()
}

/// Turns records into output bytes: time filter, timestamps, byte limit.
struct Output {
    since: Option<OffsetDateTime>,
    timestamps: bool,
    remaining: Option<u64>,
    at_line_start: bool,
}

impl Output {
    fn new(options: &LogOptions, now: OffsetDateTime) -> Output {
        Output {
            since: options.since.map(|s| s.instant(now)),
            timestamps: options.timestamps,
            remaining: options.limit_bytes,
            at_line_start: true,
        }
    }

    /// The bytes for one record, or `None` when it is filtered out or unreadable (the kubelet
    /// skips lines it cannot parse).
    fn render(&mut self, line: &[u8]) -> Option<Bytes> {
        let record = parse_record(line)?;
        if self.since.is_some_and(|since| record.time < since) {
            return None;
        }
        let mut bytes = Vec::with_capacity(record.content.len() + 32);
        if self.timestamps && self.at_line_start {
            bytes.extend_from_slice(format_time(record.time).as_bytes());
            bytes.push(b' ');
        }
        bytes.extend_from_slice(record.content);
        if !record.partial {
            bytes.push(b'\n');
        }
        self.at_line_start = !record.partial;
        if let Some(remaining) = self.remaining.as_mut() {
            let keep = usize::try_from(*remaining)
                .unwrap_or(usize::MAX)
                .min(bytes.len());
            bytes.truncate(keep);
            *remaining -= keep as u64;
        }
        Some(Bytes::from(bytes))
    }

    fn exhausted(&self) -> bool {
        self.remaining == Some(0)
    }
}

/// The offset where the last `n` lines of the file start.
async fn tail_start(file: &mut tokio::fs::File, n: u64) -> std::io::Result<u64> {
    const BLOCK: u64 = 64 * 1024;
    let len = file.metadata().await?.len();
    if n == 0 {
        return Ok(len);
    }
    let mut end = len;
    let mut newlines = 0;
    while end > 0 {
        let start = end.saturating_sub(BLOCK);
        file.seek(SeekFrom::Start(start)).await?;
        let mut block = vec![0u8; usize::try_from(end - start).unwrap_or(0)];
        file.read_exact(&mut block).await?;
        for (i, byte) in block.iter().enumerate().rev() {
            let offset = start + i as u64;
            // The newline that ends the last line does not start another one.
            if *byte != b'\n' || offset + 1 == len {
                continue;
            }
            newlines += 1;
            if newlines == n {
                return Ok(offset + 1);
            }
        }
        end = start;
    }
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::streaming::log_format::{encode_record, LogStream};
    use crate::streaming::options::Since;

    fn at(seconds: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000 + seconds).unwrap()
    }

    /// A log of `(second, partial, content)` records.
    fn log(records: &[(i64, bool, &str)]) -> Vec<u8> {
        records
            .iter()
            .flat_map(|(s, partial, content)| {
                encode_record(at(*s), LogStream::Stdout, *partial, content.as_bytes())
            })
            .collect()
    }

    async fn read(contents: &[u8], options: LogOptions) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log");
        std::fs::write(&path, contents).unwrap();
        let (_exit_tx, exited) = watch::channel(true);
        let reader = LogReader {
            file: tokio::fs::File::open(&path).await.unwrap(),
            path,
            exited,
        };
        let (tx, mut rx) = mpsc::channel(100);
        stream(reader, options, tx).await.unwrap();
        let mut text = Vec::new();
        while let Some(chunk) = rx.recv().await {
            text.extend_from_slice(&chunk);
        }
        String::from_utf8(text).unwrap()
    }

    #[tokio::test]
    async fn options_shape_the_output() {
        let contents = log(&[
            (0, false, "one"),
            (1, true, "tw"),
            (2, false, "o"),
            (3, false, "three"),
        ]);
        let partial_tail = {
            let mut c = contents.clone();
            c.extend_from_slice(b"2023-11-14T22:13:24Z stdout F being writ");
            c
        };
        let cases: Vec<(&str, &[u8], LogOptions, &str)> = vec![
            ("all", &contents, LogOptions::default(), "one\ntwo\nthree\n"),
            (
                "tail counts records",
                &contents,
                LogOptions {
                    tail_lines: Some(2),
                    ..LogOptions::default()
                },
                "o\nthree\n",
            ),
            (
                "tail zero",
                &contents,
                LogOptions {
                    tail_lines: Some(0),
                    ..LogOptions::default()
                },
                "",
            ),
            (
                "tail beyond the start",
                &contents,
                LogOptions {
                    tail_lines: Some(10),
                    ..LogOptions::default()
                },
                "one\ntwo\nthree\n",
            ),
            (
                "limit",
                &contents,
                LogOptions {
                    limit_bytes: Some(6),
                    ..LogOptions::default()
                },
                "one\ntw",
            ),
            (
                "timestamps at line starts",
                &contents,
                LogOptions {
                    timestamps: true,
                    tail_lines: Some(3),
                    ..LogOptions::default()
                },
                "2023-11-14T22:13:21.000000000Z two\n2023-11-14T22:13:23.000000000Z three\n",
            ),
            (
                "since",
                &contents,
                LogOptions {
                    since: Some(Since::Time(at(2))),
                    ..LogOptions::default()
                },
                "o\nthree\n",
            ),
            (
                "a record being written is not shown",
                &partial_tail,
                LogOptions::default(),
                "one\ntwo\nthree\n",
            ),
        ];
        for (case, contents, options, want) in cases {
            assert_eq!(read(contents, options).await, want, "{case}");
        }
    }

    #[test]
    fn kubelet_messages() {
        let m = |why| unavailable_message(&why, "c", "p");
        assert_eq!(
            m(LogUnavailable::Waiting("ContainerCreating".into())),
            r#"container "c" in pod "p" is waiting to start: ContainerCreating"#
        );
        assert_eq!(
            m(LogUnavailable::Waiting("ErrImagePull".into())),
            r#"container "c" in pod "p" is waiting to start: image can't be pulled"#
        );
        assert_eq!(
            m(LogUnavailable::NoPreviousInstance),
            r#"previous terminated container "c" in pod "p" not found"#
        );
        assert_eq!(
            m(LogUnavailable::NoLogsYet),
            r#"container "c" in pod "p" is waiting to start - no logs yet"#
        );
        assert_eq!(
            m(LogUnavailable::Terminated),
            r#"container "c" in pod "p" is terminated"#
        );
        assert_eq!(
            m(LogUnavailable::NoStatus),
            r#"container "c" in pod "p" is not available"#
        );
    }
}
