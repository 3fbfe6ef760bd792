//! `--trace`: show every `send` and `recv` as it happens.
//!
//! Sticky packets (粘包) are invisible in a program's normal output: you only see that a reply was
//! cut short or two messages came out glued together. Wrapping the socket in [`Traced`] prints one
//! line per system call (direction, byte count, preview), so a student sees that two `send`s
//! became one `recv`, or that a 4-byte header arrived before its body. The lessons wrap their
//! streams here, in one place, instead of sprinkling prints through their code.
//!
//! Each call becomes one [`Record`] (who, which way, which bytes by stream offset, a preview); the
//! trace line is printed from it, and with `--picture` a [`Recorder`] keeps it for
//! the picture code to draw when the program ends (for a server: when each connection closes).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::escape::escape_bytes;
use crate::log::Log;
use crate::recording::{
    program_of, Direction, MessageFormat, Record, Recorder, StreamKey, LANE_SEPARATOR,
};

/// How many bytes of each call a trace line shows.
const PREVIEW_BYTES: usize = 48;

/// Reports one side of a conversation: trace lines, records for a picture, both or nothing.
#[derive(Debug, Clone, Default)]
pub struct Tracer {
    log: Option<Log>,
    label: String,
    /// The picture's lane: the label without the peer's address.
    party: String,
    recorder: Option<Recorder>,
    /// How the bytes this side sends divide into messages, for the picture's colours.
    sends: MessageFormat,
    /// The same for the bytes it receives.
    receives: MessageFormat,
}

impl Tracer {
    /// No tracing.
    pub fn off() -> Tracer {
        Tracer::default()
    }

    /// Trace lines on stderr when `enabled`, each starting with `[label]`.
    pub fn stderr(label: &str, enabled: bool) -> Tracer {
        if enabled {
            Tracer::to_log(label, Log::stderr())
        } else {
            Tracer::off()
        }
    }

    /// Trace lines to any log (the tour and tests collect them).
    pub fn to_log(label: &str, log: Log) -> Tracer {
        Tracer {
            log: Some(log),
            label: label.to_string(),
            party: label.to_string(),
            ..Tracer::default()
        }
    }

    /// Records only, no lines: for a picture drawn by the program itself (the demo, the tour).
    pub fn recording(party: &str, recorder: &Recorder) -> Tracer {
        Tracer {
            label: party.to_string(),
            party: party.to_string(),
            recorder: Some(recorder.clone()),
            ..Tracer::default()
        }
    }

    /// Trace lines on stderr when `enabled`; either way the picture's lane is `party`. (A lesson
    /// binary's `--trace` and `--picture FILE.svg` together: `Tracer::for_cli`, in
    /// `picture`, which draws.)
    pub fn for_party(party: &str, enabled: bool) -> Tracer {
        Tracer {
            party: party.to_string(),
            label: party.to_string(),
            ..Tracer::stderr(party, enabled)
        }
    }

    /// Records calls into `recorder` as well (keeping any trace lines).
    pub fn and_record(mut self, recorder: &Recorder) -> Tracer {
        self.recorder = Some(recorder.clone());
        self
    }

    /// Says how the bytes this side writes and reads divide into messages, for the picture's
    /// colours: a framed protocol shows its length and JSON headers as such.
    pub fn with_format(self, format: MessageFormat) -> Tracer {
        self.with_formats(format, format)
    }

    /// [`Tracer::with_format`] for a protocol that frames one direction only (lesson 10: raw
    /// commands one way, framed answers the other).
    pub fn with_formats(mut self, sends: MessageFormat, receives: MessageFormat) -> Tracer {
        self.sends = sends;
        self.receives = receives;
        self
    }

    /// The same destination under another label. A server that talks to several clients at once
    /// gives each connection its own, `[server 127.0.0.1:52814]`, so that their lines, which
    /// interleave, can be told apart. Off stays off; the picture's lane stays the same.
    pub fn labelled(&self, label: &str) -> Tracer {
        Tracer {
            label: label.to_string(),
            ..self.clone()
        }
    }

    /// The same destination, drawn in a second lane of this party's picture (`server · data`),
    /// its calls kept in order with the first lane's: a server with two connections per
    /// conversation (lesson 15's FTP: control and data) shows each kind in a lane of its own.
    pub fn second_lane(&self, name: &str) -> Tracer {
        Tracer {
            party: format!("{}{}{name}", program_of(&self.party), LANE_SEPARATOR),
            ..self.clone()
        }
    }

    /// Are trace lines printed? (Recording for a picture does not count.)
    pub fn is_on(&self) -> bool {
        self.log.is_some()
    }

    /// The picture's lane for this side.
    pub fn party(&self) -> String {
        self.party.clone()
    }

    /// The recorder behind `--picture`, if any.
    pub fn recorder(&self) -> Option<&Recorder> {
        self.recorder.as_ref()
    }

    /// Tells the picture that a proxy forwards what it reads from `client` to `upstream` and back,
    /// unchanged: the bytes it writes keep the colours of the messages they came from.
    pub fn relays<A, B>(&self, client: &Traced<A>, upstream: &Traced<B>) {
        if let Some(recorder) = &self.recorder {
            recorder.relay(client.incoming, upstream.outgoing);
            recorder.relay(upstream.incoming, client.outgoing);
        }
    }

    /// Reports one send of `bytes` on a socket with no stream of its own (UDP).
    pub fn sent(&self, bytes: &[u8]) {
        self.report(Direction::Send, unnamed(0, Direction::Send), bytes);
    }

    /// Reports one receive of `bytes` (empty: the peer closed the connection).
    pub fn received(&self, bytes: &[u8]) {
        self.report(Direction::Recv, unnamed(0, Direction::Recv), bytes);
    }

    fn report(&self, direction: Direction, key: StreamKey, bytes: &[u8]) {
        if self.log.is_none() && self.recorder.is_none() {
            return;
        }
        let record = match &self.recorder {
            Some(recorder) => {
                let format = match direction {
                    Direction::Send => self.sends,
                    Direction::Recv => self.receives,
                };
                recorder.add(&self.party, direction, key, format, bytes)
            }
            None => Record {
                party: self.party.clone(),
                direction,
                stream: 0,
                from: 0,
                len: bytes.len() as u64,
                preview: bytes.get(..PREVIEW_BYTES + 1).unwrap_or(bytes).to_vec(),
                at: Duration::ZERO,
                failed: None,
            },
        };
        if let Some(log) = &self.log {
            log.line(trace_line(&self.label, &record));
        }
    }

    /// Reports a call that failed because the connection broke: a trace line and a marked row
    /// in the picture, like the end of a stream. Other errors (a timeout, an interrupted read)
    /// leave the connection usable: neither printed nor drawn (the program reports them).
    fn failed(&self, direction: Direction, key: StreamKey, error: &io::Error) {
        let Some(why) = broken(error) else {
            return;
        };
        let record = match &self.recorder {
            Some(recorder) => recorder.add_failure(&self.party, direction, key, why),
            None if self.log.is_some() => Record {
                party: self.party.clone(),
                direction,
                stream: 0,
                from: 0,
                len: 0,
                preview: Vec::new(),
                at: Duration::ZERO,
                failed: Some(why.to_string()),
            },
            None => return,
        };
        if let Some(log) = &self.log {
            log.line(trace_line(&self.label, &record));
        }
    }

    /// Wraps a stream so that its reads and writes are reported.
    pub fn wrap<S: Ends>(&self, inner: S) -> Traced<S> {
        static WRAPPERS: AtomicU64 = AtomicU64::new(1);
        let wrapper = WRAPPERS.fetch_add(1, Ordering::Relaxed);
        let (outgoing, incoming) = match inner.ends() {
            Some((local, peer)) => (
                StreamKey::Tcp {
                    from: local,
                    to: peer,
                },
                StreamKey::Tcp {
                    from: peer,
                    to: local,
                },
            ),
            None => (
                unnamed(wrapper, Direction::Send),
                unnamed(wrapper, Direction::Recv),
            ),
        };
        Traced {
            inner,
            tracer: self.clone(),
            outgoing,
            incoming,
        }
    }
}

/// How a picture names an error that broke the connection; `None` for any other error.
fn broken(error: &io::Error) -> Option<&'static str> {
    match error.kind() {
        io::ErrorKind::ConnectionReset => Some("reset by peer"),
        io::ErrorKind::ConnectionAborted => Some("connection aborted"),
        io::ErrorKind::BrokenPipe => Some("broken pipe: peer closed"),
        _ => None,
    }
}

fn unnamed(wrapper: u64, direction: Direction) -> StreamKey {
    StreamKey::Unnamed { wrapper, direction }
}

/// The `--trace` line of a record: `[client] send      6 bytes  hello\n`; a call that met the end
/// of the stream or a broken connection says so in parentheses, as the picture does in its box:
/// `[client] send      0 bytes  (failed: broken pipe: peer closed)`.
pub fn trace_line(label: &str, record: &Record) -> String {
    let what = if let Some(why) = &record.failed {
        format!("(failed: {why})")
    } else if record.len == 0 && record.direction == Direction::Recv {
        "(end of stream)".to_string()
    } else if record.len as usize <= PREVIEW_BYTES {
        escape_bytes(&record.preview)
    } else {
        let shown = record
            .preview
            .get(..PREVIEW_BYTES)
            .unwrap_or(&record.preview);
        format!(
            "{}… (+{} bytes)",
            escape_bytes(shown),
            record.len - shown.len() as u64
        )
    };
    format!(
        "[{label}] {} {:>6} bytes  {what}",
        record.direction.name(),
        record.len
    )
}

/// What a traced stream knows about the connection under it: (local, peer) addresses, so that the
/// writer's and the reader's records of the same bytes name the same stream.
pub trait Ends {
    fn ends(&self) -> Option<(SocketAddr, SocketAddr)> {
        None
    }
}

impl Ends for TcpStream {
    fn ends(&self) -> Option<(SocketAddr, SocketAddr)> {
        Some((self.local_addr().ok()?, self.peer_addr().ok()?))
    }
}

impl<T: Ends + ?Sized> Ends for &T {
    fn ends(&self) -> Option<(SocketAddr, SocketAddr)> {
        (**self).ends()
    }
}

impl<T: Ends + ?Sized> Ends for &mut T {
    fn ends(&self) -> Option<(SocketAddr, SocketAddr)> {
        (**self).ends()
    }
}

impl Ends for [u8] {}
impl Ends for Vec<u8> {}
impl<T> Ends for io::Cursor<T> {}

/// A stream whose every `read` and `write` call is reported to a [`Tracer`].
#[derive(Debug)]
pub struct Traced<S> {
    inner: S,
    tracer: Tracer,
    outgoing: StreamKey,
    incoming: StreamKey,
}

impl<S> Traced<S> {
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }
}

/// A connection that closes draws the picture again, so the file always shows every finished
/// conversation, even if the program is then stopped with Ctrl-C.
impl<S> Drop for Traced<S> {
    fn drop(&mut self) {
        if let Some(recorder) = &self.tracer.recorder {
            recorder.save();
        }
    }
}

impl<S: Read> Read for Traced<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self
            .inner
            .read(buf)
            .inspect_err(|e| self.tracer.failed(Direction::Recv, self.incoming, e))?;
        self.tracer.report(
            Direction::Recv,
            self.incoming,
            buf.get(..n).unwrap_or_default(),
        );
        Ok(n)
    }
}

impl<S: Write> Write for Traced<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self
            .inner
            .write(buf)
            .inspect_err(|e| self.tracer.failed(Direction::Send, self.outgoing, e))?;
        self.tracer.report(
            Direction::Send,
            self.outgoing,
            buf.get(..n).unwrap_or_default(),
        );
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_per_call() {
        let (log, lines) = Log::channel();
        let tracer = Tracer::to_log("client", log);
        let mut stream = tracer.wrap(Vec::new());
        stream.write_all(b"hello\n").unwrap();
        let mut reader = tracer.wrap(&b"abc"[..]);
        let mut buf = [0u8; 2];
        reader.read_exact(&mut buf).unwrap();
        let got: Vec<String> = lines.try_iter().collect();
        assert_eq!(
            got,
            vec![
                "[client] send      6 bytes  hello\\n",
                "[client] recv      2 bytes  ab"
            ]
        );
    }

    #[test]
    fn the_picture_records_what_the_trace_prints() {
        let (log, lines) = Log::channel();
        let recorder = Recorder::new("test");
        let tracer = Tracer::to_log("client", log).and_record(&recorder);
        let mut stream = tracer.wrap(Vec::new());
        stream.write_all(b"hello").unwrap();
        stream.write_all(&[b'x'; 100]).unwrap();
        let recording = recorder.recording();
        let printed: Vec<String> = lines.try_iter().collect();
        let from_records: Vec<String> = recording
            .records
            .iter()
            .map(|r| trace_line("client", r))
            .collect();
        assert_eq!(printed, from_records);
        let ranges: Vec<(u64, u64)> = recording.records.iter().map(|r| (r.from, r.to())).collect();
        assert_eq!(ranges, vec![(0, 5), (5, 105)]);
    }

    /// A reader whose peer reset the connection.
    struct Reset;

    impl Read for Reset {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            Err(io::ErrorKind::ConnectionReset.into())
        }
    }

    impl Ends for Reset {}

    #[test]
    fn a_reset_is_recorded_for_the_picture_and_a_timeout_is_not() {
        let recorder = Recorder::new("test");
        let mut stream = Tracer::recording("client", &recorder).wrap(Reset);
        let mut buf = [0u8; 4];
        assert!(stream.read(&mut buf).is_err());
        let records = recorder.recording().records;
        let failed: Vec<Option<&str>> = records.iter().map(|r| r.failed.as_deref()).collect();
        assert_eq!(failed, vec![Some("reset by peer")]);
        // A timeout leaves the connection usable: not drawn as a break.
        assert_eq!(broken(&io::ErrorKind::TimedOut.into()), None);
        assert_eq!(
            broken(&io::ErrorKind::BrokenPipe.into()),
            Some("broken pipe: peer closed")
        );
    }

    /// A writer whose peer has gone, or that times out.
    struct Broken(io::ErrorKind);

    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> io::Result<usize> {
            Err(self.0.into())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Ends for Broken {}

    #[test]
    fn a_failed_send_is_printed_and_drawn_alike_and_a_timeout_is_neither() {
        let (log, lines) = Log::channel();
        let recorder = Recorder::new("test");
        let tracer = Tracer::to_log("client", log).and_record(&recorder);
        let mut gone = tracer.wrap(Broken(io::ErrorKind::BrokenPipe));
        assert!(gone.write(b"hello").is_err());
        let mut slow = tracer.wrap(Broken(io::ErrorKind::TimedOut));
        assert!(slow.write(b"hello").is_err());
        let printed: Vec<String> = lines.try_iter().collect();
        assert_eq!(
            printed,
            vec!["[client] send      0 bytes  (failed: broken pipe: peer closed)"]
        );
        let records = recorder.recording().records;
        let from_records: Vec<String> = records.iter().map(|r| trace_line("client", r)).collect();
        assert_eq!(printed, from_records);
        // Printed without a recorder too (`--trace` alone).
        let (log, lines) = Log::channel();
        let mut reset = Tracer::to_log("server", log).wrap(Reset);
        assert!(reset.read(&mut [0u8; 4]).is_err());
        let printed: Vec<String> = lines.try_iter().collect();
        assert_eq!(
            printed,
            vec!["[server] recv      0 bytes  (failed: reset by peer)"]
        );
    }

    #[test]
    fn both_ends_of_a_connection_name_the_same_stream() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        let recorder = Recorder::new("test");
        let mut sender = Tracer::recording("client", &recorder).wrap(&client);
        let mut receiver = Tracer::recording("server", &recorder).wrap(&server);
        sender.write_all(b"hi").unwrap();
        let mut buf = [0u8; 2];
        receiver.read_exact(&mut buf).unwrap();
        let records = recorder.recording().records;
        assert_eq!(records.len(), 2);
        assert_eq!(records[0].stream, records[1].stream);
        assert_eq!((records[1].from, records[1].to()), (0, 2));
    }

    #[test]
    fn a_relabelled_tracer_writes_to_the_same_place() {
        let (log, lines) = Log::channel();
        let server = Tracer::to_log("server", log).labelled("server 127.0.0.1:5000");
        server.sent(b"x");
        assert!(!Tracer::off().labelled("server").is_on());
        let got: Vec<String> = lines.try_iter().collect();
        assert_eq!(got, vec!["[server 127.0.0.1:5000] send      1 bytes  x"]);
    }
}
