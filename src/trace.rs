//! `--trace`: show every `send` and `recv` as it happens.
//!
//! Sticky packets (粘包) are invisible in a program's normal output: you only see that a reply was
//! cut short or two messages came out glued together. Wrapping the socket in [`Traced`] prints one
//! line per system call (direction, byte count, preview), so a student sees that two `send`s
//! became one `recv`, or that a 4-byte header arrived before its body. The lessons wrap their
//! streams here, in one place, instead of sprinkling prints through their code.

use std::io::{self, Read, Write};

use crate::escape::preview;
use crate::log::Log;

/// How many bytes of each call a trace line shows.
const PREVIEW_BYTES: usize = 48;

/// Writes trace lines for one side of a conversation, or nothing when tracing is off.
#[derive(Debug, Clone, Default)]
pub struct Tracer {
    log: Option<Log>,
    label: String,
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
        }
    }

    /// The same destination under another label. A server that talks to several clients at once
    /// gives each connection its own, `[server 127.0.0.1:52814]`, so that their lines, which
    /// interleave, can be told apart. Off stays off.
    pub fn labelled(&self, label: &str) -> Tracer {
        Tracer {
            log: self.log.clone(),
            label: label.to_string(),
        }
    }

    pub fn is_on(&self) -> bool {
        self.log.is_some()
    }

    /// Reports one send of `bytes`.
    pub fn sent(&self, bytes: &[u8]) {
        self.report("send", bytes);
    }

    /// Reports one receive of `bytes` (empty: the peer closed the connection).
    pub fn received(&self, bytes: &[u8]) {
        self.report("recv", bytes);
    }

    fn report(&self, direction: &str, bytes: &[u8]) {
        if let Some(log) = &self.log {
            let what = if bytes.is_empty() && direction == "recv" {
                "(end of stream)".to_string()
            } else {
                preview(bytes, PREVIEW_BYTES)
            };
            log.line(format!(
                "[{}] {direction} {:>6} bytes  {what}",
                self.label,
                bytes.len()
            ));
        }
    }

    /// Wraps a stream so that its reads and writes are reported.
    pub fn wrap<S>(&self, inner: S) -> Traced<S> {
        Traced {
            inner,
            tracer: self.clone(),
        }
    }
}

/// A stream whose every `read` and `write` call is reported to a [`Tracer`].
#[derive(Debug)]
pub struct Traced<S> {
    inner: S,
    tracer: Tracer,
}

impl<S> Traced<S> {
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    pub fn into_inner(self) -> S {
        self.inner
    }

    pub fn tracer(&self) -> &Tracer {
        &self.tracer
    }
}

impl<S: Read> Read for Traced<S> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tracer.received(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
}

impl<S: Write> Write for Traced<S> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.tracer.sent(buf.get(..n).unwrap_or_default());
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
    fn a_relabelled_tracer_writes_to_the_same_place() {
        let (log, lines) = Log::channel();
        let server = Tracer::to_log("server", log).labelled("server 127.0.0.1:5000");
        server.sent(b"x");
        assert!(!Tracer::off().labelled("server").is_on());
        let got: Vec<String> = lines.try_iter().collect();
        assert_eq!(got, vec!["[server 127.0.0.1:5000] send      1 bytes  x"]);
    }
}
