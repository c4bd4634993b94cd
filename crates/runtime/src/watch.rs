//! A watch response read as a stream of events, one JSON object per line.

use bytes::{Buf, BytesMut};
use http_body_util::BodyExt;
use serde_json::Value;

use crate::client::{ClientError, ResponseBody};

/// One watch event.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchEvent {
    /// `ADDED`, `MODIFIED`, `DELETED`, `BOOKMARK` or `ERROR`.
    pub event_type: String,
    pub object: Value,
}

/// The events of a watch, in order; ends when the server closes the stream.
pub struct WatchStream {
    body: ResponseBody,
    buffer: BytesMut,
}

impl WatchStream {
    pub(crate) fn new(body: ResponseBody) -> Self {
        WatchStream {
            body,
            buffer: BytesMut::new(),
        }
    }

    /// The next event, `None` when the stream ended.
    pub async fn next(&mut self) -> Option<Result<WatchEvent, ClientError>> {
        loop {
            if let Some(pos) = self.buffer.iter().position(|b| *b == b'\n') {
                let line = self.buffer.split_to(pos + 1);
                let line = &line[..pos];
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                return Some(parse_event(line));
            }
            match self.body.frame().await? {
                Ok(frame) => {
                    if let Ok(mut data) = frame.into_data() {
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            self.buffer.extend_from_slice(chunk);
                            let n = chunk.len();
                            data.advance(n);
                        }
                    }
                }
                Err(e) => return Some(Err(ClientError::Transport(e))),
            }
        }
    }
}

fn parse_event(line: &[u8]) -> Result<WatchEvent, ClientError> {
    let v: Value = serde_json::from_slice(line).map_err(ClientError::Decode)?;
    Ok(WatchEvent {
        event_type: v
            .get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        object: v.get("object").cloned().unwrap_or(Value::Null),
    })
}
