//! A small Server-Sent Events client over a raw HTTP/1.1 connection, for
//! tests and benchmarks of `GET /api/stream`: what a browser's EventSource
//! does, minus the reconnecting (tests do that themselves, on purpose).
//! It decodes chunked transfer encoding and the SSE fields; a frame of
//! comments only (a keep-alive) comes back as an event with no fields.

use std::net::SocketAddr;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

/// One dispatched frame.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SseEvent {
    /// `id:`
    pub id: Option<String>,
    /// `event:`
    pub event: Option<String>,
    /// `data:` lines joined by `\n`.
    pub data: String,
    /// `retry:` in ms.
    pub retry: Option<u64>,
    /// Comment lines (`:` lines), without the colon.
    pub comments: Vec<String>,
}

/// An open event stream.
#[derive(Debug)]
pub struct SseStream {
    io: BufReader<TcpStream>,
    chunked: bool,
    /// Bytes left in the current chunk.
    left: usize,
    buf: Vec<u8>,
    start: usize,
}

/// A response that is not an event stream.
#[derive(Debug)]
pub struct Refused {
    /// The HTTP status.
    pub status: u16,
    /// The body.
    pub body: String,
}

/// Opens `path` on `addr` with `Last-Event-ID` when given. `Ok(Err(..))`:
/// the server answered with another status (the body says why).
pub async fn connect(
    addr: SocketAddr,
    path: &str,
    last_event_id: Option<&str>,
) -> std::io::Result<Result<SseStream, Refused>> {
    let mut stream = TcpStream::connect(addr).await?;
    stream.set_nodelay(true)?;
    let resume = last_event_id.map_or(String::new(), |id| format!("Last-Event-ID: {id}\r\n"));
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: text/event-stream\r\n{resume}\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut io = BufReader::new(stream);
    let mut line = String::new();
    io.read_line(&mut line).await?;
    let status: u16 = line
        .get(9..12)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("status line {line:?}"),
            )
        })?;
    let (mut chunked, mut length) = (false, None);
    loop {
        line.clear();
        if io.read_line(&mut line).await? == 0 || line.trim().is_empty() {
            break;
        }
        let lower = line.to_ascii_lowercase();
        if lower.starts_with("transfer-encoding:") && lower.contains("chunked") {
            chunked = true;
        }
        if let Some(v) = lower.strip_prefix("content-length:") {
            length = v.trim().parse::<usize>().ok();
        }
    }
    let mut sse = SseStream {
        io,
        chunked,
        left: 0,
        buf: Vec::new(),
        start: 0,
    };
    if status == 200 {
        return Ok(Ok(sse));
    }
    let mut body = Vec::new();
    match length {
        Some(n) => {
            body.resize(n, 0);
            sse.io.read_exact(&mut body).await?;
        }
        None => while sse.read_body(&mut body).await? {},
    }
    Ok(Err(Refused {
        status,
        body: String::from_utf8_lossy(&body).into_owned(),
    }))
}

impl SseStream {
    /// Appends the next bytes of the body to `out`; false at its end.
    async fn read_body(&mut self, out: &mut Vec<u8>) -> std::io::Result<bool> {
        let mut block = [0u8; 16 * 1024];
        if !self.chunked {
            let n = self.io.read(&mut block).await?;
            out.extend_from_slice(&block[..n]);
            return Ok(n > 0);
        }
        if self.left == 0 {
            let mut size = String::new();
            if self.io.read_line(&mut size).await? == 0 {
                return Ok(false);
            }
            let hex = size.trim().split(';').next().unwrap_or("");
            self.left = usize::from_str_radix(hex, 16).map_err(|_| {
                std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    format!("chunk size {size:?}"),
                )
            })?;
            if self.left == 0 {
                return Ok(false);
            }
        }
        let want = self.left.min(block.len());
        let n = self.io.read(&mut block[..want]).await?;
        if n == 0 {
            return Ok(false);
        }
        out.extend_from_slice(&block[..n]);
        self.left -= n;
        if self.left == 0 {
            let mut crlf = [0u8; 2];
            self.io.read_exact(&mut crlf).await?;
        }
        Ok(true)
    }

    /// The next frame; `None` when the server ended the stream.
    pub async fn next(&mut self) -> std::io::Result<Option<SseEvent>> {
        let mut event = SseEvent::default();
        let mut any = false;
        loop {
            while let Some(end) = self.buf[self.start..].iter().position(|b| *b == b'\n') {
                let line = &self.buf[self.start..self.start + end];
                let line = line.strip_suffix(b"\r").unwrap_or(line);
                let line = String::from_utf8_lossy(line).into_owned();
                self.start += end + 1;
                if line.is_empty() {
                    if any {
                        return Ok(Some(event));
                    }
                    continue;
                }
                any = true;
                if let Some(comment) = line.strip_prefix(':') {
                    event.comments.push(comment.to_owned());
                    continue;
                }
                let (field, value) = line.split_once(':').unwrap_or((&line, ""));
                let value = value.strip_prefix(' ').unwrap_or(value);
                match field {
                    "id" => event.id = Some(value.to_owned()),
                    "event" => event.event = Some(value.to_owned()),
                    "retry" => event.retry = value.parse().ok(),
                    "data" => {
                        if !event.data.is_empty() {
                            event.data.push('\n');
                        }
                        event.data.push_str(value);
                    }
                    _ => {}
                }
            }
            if self.start > 0 {
                self.buf.drain(..self.start);
                self.start = 0;
            }
            let mut buf = std::mem::take(&mut self.buf);
            let more = self.read_body(&mut buf).await;
            self.buf = buf;
            if !more? {
                return Ok(None);
            }
        }
    }
}
