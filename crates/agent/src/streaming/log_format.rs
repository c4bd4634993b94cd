//! Container logs in the CRI logging format the kubelet reads: one record per line,
//! `<RFC 3339 time with nanoseconds> <stdout|stderr> <F|P> <content>`, where `P` marks a part
//! of a line whose rest follows in later records. [`LogWriter`] is what a runtime uses to
//! keep a container's output that way.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::sync::Mutex;

use crate::streaming::StreamError;

/// Which output of the container a record came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogStream {
    Stdout,
    Stderr,
}

impl LogStream {
    fn name(self) -> &'static str {
        match self {
            LogStream::Stdout => "stdout",
            LogStream::Stderr => "stderr",
        }
    }
}

/// Lines longer than this are split into partial records, as containerd does.
const MAX_RECORD: usize = 16 * 1024;

/// Appends a container's output to its log file. Cloned writers share the file, so stdout and
/// stderr records never interleave inside a record.
#[derive(Clone, Debug)]
pub struct LogWriter {
    path: PathBuf,
    file: Arc<Mutex<tokio::fs::File>>,
}

impl LogWriter {
    /// Opens `path` for appending, creating it if needed.
    pub async fn create(path: &Path) -> Result<LogWriter, StreamError> {
        let file = tokio::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .await
            .map_err(|source| StreamError::WriteLog {
                path: path.to_path_buf(),
                source,
            })?;
        Ok(LogWriter {
            path: path.to_path_buf(),
            file: Arc::new(Mutex::new(file)),
        })
    }

    /// Copies `source` into the log as `stream` until it ends. Every complete line becomes a
    /// full record as soon as it is read; a final line without newline is kept as a partial
    /// record, so the log holds exactly the bytes the container wrote.
    pub async fn copy_from<R>(&self, stream: LogStream, mut source: R) -> Result<(), StreamError>
    where
        R: AsyncRead + Unpin,
    {
        let mut pending = Vec::new();
        let mut chunk = vec![0u8; 8192];
        loop {
            // A read error ends the output like EOF: a terminal reports EIO once the process
            // side is closed.
            let n = source.read(&mut chunk).await.unwrap_or(0);
            if n == 0 {
                if !pending.is_empty() {
                    self.write_record(stream, true, &pending).await?;
                }
                return Ok(());
            }
            pending.extend_from_slice(&chunk[..n]);
            loop {
                let newline = pending
                    .iter()
                    .take(MAX_RECORD + 1)
                    .position(|b| *b == b'\n');
                match newline {
                    Some(end) => {
                        self.write_record(stream, false, &pending[..end]).await?;
                        pending.drain(..=end);
                    }
                    None if pending.len() >= MAX_RECORD => {
                        self.write_record(stream, true, &pending[..MAX_RECORD])
                            .await?;
                        pending.drain(..MAX_RECORD);
                    }
                    None => break,
                }
            }
        }
    }

    async fn write_record(
        &self,
        stream: LogStream,
        partial: bool,
        content: &[u8],
    ) -> Result<(), StreamError> {
        let record = encode_record(OffsetDateTime::now_utc(), stream, partial, content);
        let mut file = self.file.lock().await;
        let written = match file.write_all(&record).await {
            Ok(()) => file.flush().await,
            Err(e) => Err(e),
        };
        written.map_err(|source| StreamError::WriteLog {
            path: self.path.clone(),
            source,
        })
    }
}

/// One record, newline included.
pub(crate) fn encode_record(
    time: OffsetDateTime,
    stream: LogStream,
    partial: bool,
    content: &[u8],
) -> Vec<u8> {
    let tag = if partial { "P" } else { "F" };
    let mut record = format!("{} {} {tag} ", format_time(time), stream.name()).into_bytes();
    record.extend_from_slice(content);
    record.push(b'\n');
    record
}

/// A parsed record (the line without its newline).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record<'a> {
    pub(crate) time: OffsetDateTime,
    pub(crate) partial: bool,
    pub(crate) content: &'a [u8],
}

pub(crate) fn parse_record(line: &[u8]) -> Option<Record<'_>> {
    let mut fields = line.splitn(4, |b| *b == b' ');
    let time = std::str::from_utf8(fields.next()?).ok()?;
    let time = OffsetDateTime::parse(time, &Rfc3339).ok()?;
    match fields.next()? {
        b"stdout" | b"stderr" => {}
        _ => return None,
    }
    let partial = match fields.next()? {
        b"P" => true,
        b"F" => false,
        _ => return None,
    };
    Some(Record {
        time,
        partial,
        content: fields.next().unwrap_or(b""),
    })
}

/// A time in UTC with nine fraction digits, as the kubelet prints `--timestamps` (fixed width,
/// so lines sort).
pub(crate) fn format_time(time: OffsetDateTime) -> String {
    let t = time.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.nanosecond()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip() {
        let t = OffsetDateTime::parse("2024-05-06T07:08:09.5Z", &Rfc3339).unwrap();
        let line = encode_record(t, LogStream::Stderr, true, b"half a line");
        assert_eq!(
            String::from_utf8_lossy(&line),
            "2024-05-06T07:08:09.500000000Z stderr P half a line\n"
        );
        let parsed = parse_record(&line[..line.len() - 1]).unwrap();
        assert_eq!(
            parsed,
            Record {
                time: t,
                partial: true,
                content: b"half a line"
            }
        );
        assert_eq!(
            parse_record(b"2024-05-06T07:08:09Z stdout F ").map(|r| r.content),
            Some(&b""[..])
        );
        assert_eq!(parse_record(b"not a record"), None);
        assert_eq!(parse_record(b"2024-05-06T07:08:09Z other F x"), None);
    }

    #[tokio::test]
    async fn output_becomes_full_and_partial_records() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.log");
        let writer = LogWriter::create(&path).await.unwrap();
        let long = "x".repeat(MAX_RECORD + 3);
        let input = format!("one\ntwo\n{long}\nlast");
        writer
            .copy_from(LogStream::Stdout, input.as_bytes())
            .await
            .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        // (partial, content length, first bytes) per record, to keep failures readable.
        let records: Vec<(bool, usize, String)> = text
            .lines()
            .map(|l| {
                let r = parse_record(l.as_bytes()).unwrap();
                let head = String::from_utf8_lossy(&r.content[..r.content.len().min(4)]);
                (r.partial, r.content.len(), head.into_owned())
            })
            .collect();
        assert_eq!(
            records,
            [
                (false, 3, "one".to_string()),
                (false, 3, "two".to_string()),
                (true, MAX_RECORD, "xxxx".to_string()),
                (false, 3, "xxx".to_string()),
                (true, 4, "last".to_string()),
            ]
        );
    }
}
