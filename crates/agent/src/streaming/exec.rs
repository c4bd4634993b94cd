//! One exec or attach session over WebSocket `v5.channel.k8s.io`: every binary message is a
//! channel byte and a payload. The client sends stdin (0), terminal sizes (4, JSON) and close
//! signals (255, payload: the closed channel); the server sends stdout (1), stderr (2), then
//! the final `Status` on the error channel (3) and a close frame.

use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use crate::streaming::{status, ByteSink, ByteSource, ExecSession, StreamError, Streams};
use crate::streaming::{TerminalResize, TerminalSize};

/// The only subprotocol served: v5 adds the close signal that carries stdin's EOF.
pub(crate) const PROTOCOL_V5: &str = "v5.channel.k8s.io";

const STDIN: u8 = 0;
const STDOUT: u8 = 1;
const STDERR: u8 = 2;
const ERROR: u8 = 3;
const RESIZE: u8 = 4;
const CLOSE: u8 = 255;

/// How long output may still arrive after the process exited (a background child may hold
/// the pipes open forever).
const DRAIN_AFTER_EXIT: Duration = Duration::from_secs(2);
/// How long the client has to close the connection after the status (it does so once it
/// has read everything).
const CLIENT_CLOSE: Duration = Duration::from_secs(30);

/// What the session runs, for its final status.
pub(crate) enum SessionKind {
    Exec(Vec<String>),
    Attach,
}

/// Runs a session on an upgraded connection until the process ends or the client leaves.
pub(crate) async fn run<S>(
    ws: WebSocketStream<S>,
    session: Result<ExecSession, StreamError>,
    kind: SessionKind,
    streams: Streams,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, mut source) = ws.split();
    let (out, out_rx) = mpsc::channel::<Message>(32);
    let writer = tokio::spawn(write_messages(sink, out_rx));
    // An empty message on the lowest writable channel tells the client the session is up.
    let first = if streams.stdout {
        STDOUT
    } else if streams.stderr {
        STDERR
    } else {
        ERROR
    };
    let _ = out.send(frame(first, &[])).await;
    let status = match session {
        Ok(session) => match pump(session, &mut source, &out).await {
            Some(result) => final_status(&kind, result),
            // The client is gone: dropping the session ends the process.
            None => return,
        },
        Err(e) => {
            ferry_api::status::stream_internal_error(&format!("{}: {}", kind.failure(), e.chain()))
        }
    };
    let _ = out.send(frame(ERROR, status.to_string().as_bytes())).await;
    let _ = out
        .send(Message::Close(Some(CloseFrame {
            code: CloseCode::Normal,
            reason: "".into(),
        })))
        .await;
    drop(out);
    let _ = writer.await;
    // Wait for the client's close: closing first could reset the connection while output is
    // still in flight to a slow reader.
    let _ = tokio::time::timeout(CLIENT_CLOSE, async {
        while let Some(Ok(msg)) = source.next().await {
            if matches!(msg, Message::Close(_)) {
                break;
            }
        }
    })
    .await;
}

impl SessionKind {
    fn failure(&self) -> &'static str {
        match self {
            SessionKind::Exec(_) => "error executing command in container",
            SessionKind::Attach => "error attaching to container",
        }
    }
}

fn final_status(kind: &SessionKind, result: Result<i32, StreamError>) -> Value {
    match (kind, result) {
        (SessionKind::Exec(_), Ok(0)) | (SessionKind::Attach, Ok(_)) => status::success(),
        (SessionKind::Exec(command), Ok(code)) => status::exit_code(command, code),
        (kind, Err(e)) => {
            ferry_api::status::stream_internal_error(&format!("{}: {}", kind.failure(), e.chain()))
        }
    }
}

async fn write_messages<S>(
    mut sink: SplitSink<WebSocketStream<S>, Message>,
    mut rx: mpsc::Receiver<Message>,
) where
    S: AsyncRead + AsyncWrite + Unpin,
{
    while let Some(msg) = rx.recv().await {
        if sink.send(msg).await.is_err() {
            return;
        }
    }
}

/// Moves bytes until the process exits; `None` when the client went away first.
async fn pump<S>(
    session: ExecSession,
    source: &mut SplitStream<WebSocketStream<S>>,
    out: &mpsc::Sender<Message>,
) -> Option<Result<i32, StreamError>>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let ExecSession {
        stdin,
        stdout,
        stderr,
        terminal,
        exit,
    } = session;
    let mut readers = JoinSet::new();
    for (channel, output) in [(STDOUT, stdout), (STDERR, stderr)] {
        if let Some(output) = output {
            readers.spawn(forward_output(channel, output, out.clone()));
        }
    }
    let mut input = Input { stdin, terminal };
    tokio::pin!(exit);
    let result = loop {
        tokio::select! {
            result = &mut exit => break result,
            msg = source.next() => match msg {
                Some(Ok(Message::Binary(data))) => input.handle(&data).await,
                Some(Ok(Message::Close(_)) | Err(_)) | None => return None,
                Some(Ok(_)) => {}
            },
        }
    };
    drop(input);
    let drained = tokio::time::timeout(DRAIN_AFTER_EXIT, async {
        while readers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        readers.abort_all();
    }
    Some(result)
}

/// Copies one output of the process to its channel until it ends.
async fn forward_output(channel: u8, mut output: ByteSource, out: mpsc::Sender<Message>) {
    let mut chunk = vec![0u8; 32 * 1024];
    // A read error ends the output like EOF: a terminal reports EIO once the process exits.
    while let Ok(n) = output.read(&mut chunk).await {
        if n == 0 || out.send(frame(channel, &chunk[..n])).await.is_err() {
            return;
        }
    }
}

/// The client's side of the session: stdin, resizes, close signals.
struct Input {
    stdin: Option<ByteSink>,
    terminal: Option<Box<dyn TerminalResize>>,
}

impl Input {
    async fn handle(&mut self, message: &[u8]) {
        let Some((channel, payload)) = message.split_first() else {
            return;
        };
        match *channel {
            STDIN => self.write_stdin(payload).await,
            RESIZE => self.resize(payload),
            CLOSE if payload.first() == Some(&STDIN) => self.stdin = None,
            _ => {}
        }
    }

    async fn write_stdin(&mut self, data: &[u8]) {
        let Some(stdin) = self.stdin.as_mut() else {
            return;
        };
        let written = match stdin.write_all(data).await {
            Ok(()) => stdin.flush().await,
            Err(e) => Err(e),
        };
        if written.is_err() {
            // The process closed its stdin; what the client still sends is dropped.
            self.stdin = None;
        }
    }

    fn resize(&mut self, payload: &[u8]) {
        let (Some(terminal), Ok(size)) = (
            self.terminal.as_mut(),
            serde_json::from_slice::<TerminalSize>(payload),
        ) else {
            return;
        };
        if let Err(e) = terminal.resize(size) {
            tracing::debug!(error = %e, "resize terminal");
        }
    }
}

fn frame(channel: u8, payload: &[u8]) -> Message {
    let mut bytes = Vec::with_capacity(payload.len() + 1);
    bytes.push(channel);
    bytes.extend_from_slice(payload);
    Message::Binary(bytes.into())
}
