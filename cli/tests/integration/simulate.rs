//! `billabong simulate` as a script would run it: URLs read from standard
//! output, the feed read by a minimal websocket client written here from RFC
//! 6455 (so the wire format is checked independently of tungstenite), signals
//! for shutdown, exit statuses for bad flags.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use producer::race_data::{RaceDataset, load_races};

use crate::support::{billabong, rsvp_files, run, scratch, shared_data};

/// Generous bound on any wait, so a slow machine slows the test down instead
/// of failing it, and a hang still ends.
const PATIENCE: Duration = Duration::from_secs(60);

/// A running `billabong simulate`, killed if the test fails before it stops.
struct Simulate {
    child: Child,
    lines: mpsc::Receiver<String>,
    stderr: std::path::PathBuf,
}

impl Simulate {
    fn start(name: &str, args: &[&str]) -> Simulate {
        let stderr = scratch(&format!("simulate-{name}.log"));
        let log = std::fs::File::create(&stderr).expect("the log file is writable");
        let mut child = billabong()
            .arg("simulate")
            .args(args)
            .args(["--listen", "127.0.0.1:0"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout was piped");
        let (send, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Simulate {
            child,
            lines,
            stderr,
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// The next line of standard output.
    fn line(&self) -> String {
        self.lines
            .recv_timeout(PATIENCE)
            .unwrap_or_else(|err| panic!("no line on stdout ({err}); log:\n{}", self.log()))
    }

    /// Sends `signal` (`TERM`, `INT`) and returns the exit code.
    fn stop(mut self, signal: &str) -> i32 {
        let status = Command::new("kill")
            .args([&format!("-{signal}"), &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill -{signal} failed");
        let deadline = std::time::Instant::now() + PATIENCE;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return status
                    .code()
                    .unwrap_or_else(|| panic!("killed by a signal; log:\n{}", self.log()));
            }
            assert!(
                std::time::Instant::now() < deadline,
                "still running; log:\n{}",
                self.log()
            );
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Simulate {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(&self.stderr);
    }
}

/// A websocket frame as received: opcode and payload.
struct Frame {
    opcode: u8,
    payload: Vec<u8>,
}

/// The smallest websocket client that can read this feed.
struct WsClient {
    stream: TcpStream,
}

impl WsClient {
    /// Opens `url` (`ws://host:port/path?query`); a refused handshake returns
    /// its HTTP status and body.
    fn connect(url: &str) -> Result<WsClient, (u16, String)> {
        let rest = url.strip_prefix("ws://").expect("a ws:// URL");
        let (host, target) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
        let mut stream = TcpStream::connect(host).expect("the simulator accepts connections");
        stream.set_read_timeout(Some(PATIENCE)).expect("a timeout");
        write!(
            stream,
            "GET {target} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        )
        .expect("the request is sent");
        let (status, headers) = read_head(&mut stream);
        if status == 101 {
            assert!(
                headers.contains("s3pPLMBiTxaQ9kYGzzhZRbK+xOo="),
                "RFC 6455's accept key: {headers}"
            );
            return Ok(WsClient { stream });
        }
        let mut body = String::new();
        let _ = stream.read_to_string(&mut body);
        Err((status, body))
    }

    fn frame(&mut self) -> Frame {
        let mut head = [0_u8; 2];
        self.stream.read_exact(&mut head).expect("a frame header");
        assert_eq!(head[0] & 0x80, 0x80, "the server sends unfragmented frames");
        assert_eq!(head[1] & 0x80, 0, "server frames are not masked");
        let len = match head[1] & 0x7f {
            126 => {
                let mut len = [0_u8; 2];
                self.stream.read_exact(&mut len).expect("a 16-bit length");
                u64::from(u16::from_be_bytes(len))
            }
            127 => {
                let mut len = [0_u8; 8];
                self.stream.read_exact(&mut len).expect("a 64-bit length");
                u64::from_be_bytes(len)
            }
            len => u64::from(len),
        };
        let mut payload = vec![0_u8; usize::try_from(len).expect("a frame fits in memory")];
        self.stream.read_exact(&mut payload).expect("the payload");
        Frame {
            opcode: head[0] & 0x0f,
            payload,
        }
    }

    /// The next text or close frame (pings are skipped: the tests are far
    /// shorter than the 60 s after which a silent client is dropped).
    fn next(&mut self) -> Frame {
        loop {
            let frame = self.frame();
            if frame.opcode != 0x9 {
                return frame;
            }
        }
    }

    /// Answers the server's close with an empty, masked close frame.
    fn close(&mut self) {
        self.stream
            .write_all(&[0x88, 0x80, 0, 0, 0, 0])
            .expect("the close is sent");
    }
}

/// The status code and the header text of an HTTP response head.
fn read_head(stream: &mut TcpStream) -> (u16, String) {
    let mut head = Vec::new();
    let mut byte = [0_u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("an HTTP response");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).expect("an ASCII head");
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("a status line: {head}"));
    (status, head)
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("an address").port()
}

/// The Prometheus text at `http://127.0.0.1:PORT/metrics`.
fn scrape(port: u16) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("the metrics endpoint listens");
    stream.set_read_timeout(Some(PATIENCE)).expect("a timeout");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .expect("the request is sent");
    let mut text = String::new();
    stream
        .read_to_string(&mut text)
        .expect("the metrics are read");
    text
}

#[test]
fn rsvps_are_served_byte_for_byte_and_sigterm_closes_with_1001() {
    let file = rsvp_files().swap_remove(0);
    let lines: Vec<Vec<u8>> = std::fs::read(&file)
        .expect("the file is readable")
        .split(|&b| b == b'\n')
        .filter(|line| !line.is_empty())
        .map(<[u8]>::to_vec)
        .collect();
    let metrics_port = free_port();
    let metrics_addr = format!("127.0.0.1:{metrics_port}");
    let data = file.display().to_string();
    let sim = Simulate::start(
        "rsvps",
        &[
            "--feed",
            "rsvps",
            "--data",
            &data,
            "--speed",
            "max",
            "--metrics-addr",
            &metrics_addr,
        ],
    );
    let url = sim.line();
    let port = url
        .strip_prefix("ws://127.0.0.1:")
        .and_then(|rest| rest.strip_suffix("/2/rsvps"))
        .unwrap_or_else(|| panic!("unexpected URL line {url:?}"));
    assert!(port.parse::<u16>().is_ok_and(|port| port != 0), "{url}");

    let mut ws =
        WsClient::connect(&url).unwrap_or_else(|(status, body)| panic!("{status}: {body}"));
    for (i, line) in lines.iter().enumerate() {
        let frame = ws.next();
        assert_eq!(frame.opcode, 0x1, "record {i} is a text frame");
        assert!(frame.payload == *line, "record {i} differs from the file");
    }

    let (status, body) = WsClient::connect(&format!("{url}?since_mtime=soon"))
        .err()
        .expect("refused");
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("since_mtime"), "{body}");
    let base = url.trim_end_matches("/2/rsvps");
    let (status, body) = WsClient::connect(&format!("{base}/1/rsvps"))
        .err()
        .expect("refused");
    assert_eq!(status, 404, "{body}");

    let metrics = scrape(metrics_port);
    for expected in [
        r#"billabong_simulator_connections{feed="rsvps"} 1"#,
        r#"billabong_simulator_records_sent_total{feed="rsvps"} 1541"#,
    ] {
        assert!(metrics.contains(expected), "{expected} not in:\n{metrics}");
    }

    let log = sim.log();
    assert!(log.contains("Client connected."), "{log}");
    let stopper = thread::spawn(move || sim.stop("TERM"));
    let close = ws.next();
    assert_eq!(close.opcode, 0x8, "a close frame");
    assert_eq!(close.payload[..2], 1001_u16.to_be_bytes(), "going away");
    ws.close();
    assert_eq!(stopper.join().expect("the stopper does not panic"), 0);
}

#[test]
fn race_folder_prints_the_all_races_url_then_one_per_race() {
    let dir = shared_data().join("race");
    let races = load_races(&dir, RaceDataset::Ergast).expect("the race data loads");
    let data = dir.display().to_string();
    let sim = Simulate::start(
        "race",
        &[
            "--feed",
            "race",
            "--data",
            &data,
            "--dataset",
            "ergast",
            "--speed",
            "100",
        ],
    );
    let all = sim.line();
    let base = all
        .strip_suffix("/race")
        .unwrap_or_else(|| panic!("{all:?}"));
    for race in &races {
        assert_eq!(sim.line(), format!("{base}/race/{}", race.race_id));
    }
    // The first event of one race, as `race-feed` writes it.
    let race = &races[1];
    let mut ws = WsClient::connect(&format!("{base}/race/{}", race.race_id))
        .unwrap_or_else(|(status, body)| panic!("{status}: {body}"));
    let first = serde_json::to_vec(&race.events[0]).expect("events serialise");
    assert!(ws.next().payload == first);
    drop(ws);
    assert_eq!(sim.stop("INT"), 0);
}

#[test]
fn bad_flags_exit_2_naming_the_problem() {
    let rsvps = rsvp_files().swap_remove(0).display().to_string();
    let race = shared_data().join("race").display().to_string();
    let taken = TcpListener::bind("127.0.0.1:0").expect("a port to occupy");
    let taken = taken.local_addr().expect("an address").to_string();
    let missing = scratch("no-such-feed.jsonl").display().to_string();
    let cases: &[(&[&str], &str)] = &[
        (&["--feed", "tweets", "--data", &rsvps], "tweets"),
        (
            &["--feed", "rsvps", "--data", &rsvps, "--speed", "0"],
            "speed",
        ),
        (
            &["--feed", "rsvps", "--data", &rsvps, "--speed", "-3"],
            "speed",
        ),
        (
            &["--feed", "rsvps", "--data", &rsvps, "--speed", "fast"],
            "speed",
        ),
        (
            &["--feed", "rsvps", "--data", &rsvps, "--scale", "0"],
            "scale",
        ),
        (
            &["--feed", "rsvps", "--data", &rsvps, "--max-lag", "0"],
            "max-lag",
        ),
        (
            &["--feed", "rsvps", "--data", &rsvps, "--listen", "localhost"],
            "listen",
        ),
        (
            &["--feed", "rsvps", "--data", &rsvps, "--listen", &taken],
            &taken,
        ),
        (&["--feed", "rsvps", "--data", &missing], &missing),
        (&["--feed", "rsvps", "--data", &race], "folder"),
        (
            &["--feed", "rsvps", "--data", &rsvps, "--dataset", "fia"],
            "--dataset",
        ),
        (
            &["--feed", "race", "--data", &race, "--dataset", "indycar"],
            "indycar",
        ),
    ];
    for (args, named) in cases {
        let mut command = billabong();
        command.arg("simulate").args(*args);
        let out = run(command, None);
        assert_eq!(out.code(), 2, "{args:?}: {out:?}");
        assert!(
            out.stderr.contains(named),
            "{args:?} should name {named:?}: {out:?}"
        );
        assert!(!out.stderr.contains("panicked"), "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?} printed no URL: {out:?}");
    }
}
