//! `09-sticky client`: writes messages the way the tutorials' clients do.
//!
//! Each message goes out with its own write call (`send`), back to back, in one of three ways:
//!
//! - `naive`: the raw bytes, nothing else. A naive server sees them merged;
//! - `sleep`: the raw bytes with a pause between writes, the tutorials' first "fix". It works only
//!   while the pause is longer than the receiver's own delay, and costs that pause every time;
//! - `framed`: each message as a frame (4-byte length, then the bytes). A framed server sees every
//!   message intact, whatever happened to the bytes on the way.
//!
//! Nagle's algorithm is left on by default (`set_nodelay(false)`, what Python does too): the
//! sender's TCP may hold a small write back while an earlier small segment is unacknowledged and
//! send both in one segment. `--nodelay` turns it off. On loopback the acknowledgement comes back
//! almost at once, so Nagle rarely merges there; the merge a student sees on one machine comes from
//! the receiver reading late.

use std::io::Write;
use std::time::Duration;

use super::{framed, pause, ReceiverMode, StickyError};
use crate::framing::FrameError;
use crate::net;
use crate::trace::Tracer;

/// How the client writes its messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SenderMode {
    /// One write per message, back to back, raw bytes.
    Naive,
    /// One write per message, raw bytes, with `--pause` between writes.
    Sleep,
    /// One frame (4-byte length + bytes) per message, back to back.
    Framed,
}

/// Client settings.
#[derive(Debug, Clone)]
pub struct ClientConfig {
    pub mode: SenderMode,
    /// Pause between writes in `sleep` mode.
    pub pause: Duration,
    /// Turn Nagle's algorithm off (TCP_NODELAY).
    pub nodelay: bool,
    /// `--timeout`: the longest a send may wait for room, against a server that reads nothing.
    pub timeout: Duration,
    /// `--trace`: one line per `send`.
    pub tracer: Tracer,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            mode: SenderMode::Naive,
            pause: Duration::from_millis(500),
            nodelay: false,
            timeout: Duration::from_secs(30),
            tracer: Tracer::off(),
        }
    }
}

/// How long the client waits, after sending, for the server to finish reading and close.
const LINGER: Duration = Duration::from_secs(5);

/// The messages the client sends when none are given: `message 1` .. `message COUNT`. With a
/// `size`, each is padded with `abc...z` (repeating) or cut to exactly `size` bytes, to show what
/// happens to messages bigger than the receiver's buffer.
pub fn generated_messages(count: usize, size: Option<usize>) -> Vec<Vec<u8>> {
    (1..=count)
        .map(|k| {
            let mut message = format!("message {k}").into_bytes();
            if let Some(size) = size {
                message.push(b' ');
                let filler = (b'a'..=b'z').cycle();
                message.extend(filler.take(size.saturating_sub(message.len())));
                message.truncate(size);
            }
            message
        })
        .collect()
}

/// Writes every message with its own write call, as `mode` says. `sleep` mode pauses between
/// writes (not after the last one).
pub fn send_messages(
    stream: &mut impl Write,
    messages: &[Vec<u8>],
    config: &ClientConfig,
) -> Result<(), StickyError> {
    for (i, message) in messages.iter().enumerate() {
        if i > 0 && config.mode == SenderMode::Sleep {
            pause(config.pause);
        }
        match config.mode {
            SenderMode::Naive | SenderMode::Sleep => {
                // write_all is Python's sendall: a plain send may take only part of a large
                // message, and the tutorials' `send` silently drops the rest when it does.
                stream.write_all(message)?;
            }
            SenderMode::Framed => framed::send(stream, message)?,
        }
    }
    stream.flush()?;
    Ok(())
}

/// Connects, sends the messages, says "no more from me" and waits (up to a few seconds) for the
/// server to finish reading and close. The server prints what it received; the client has nothing
/// to read.
pub fn run_client(
    host: &str,
    port: u16,
    messages: &[Vec<u8>],
    config: &ClientConfig,
) -> Result<(), StickyError> {
    let stream = net::connect_tcp_within(host, port, config.timeout)?;
    stream.set_nodelay(config.nodelay)?;
    // A server that never reads fills its receive buffer and our send buffer; a send then waits
    // for room, and without a bound it waits for ever.
    stream.set_write_timeout(Some(config.timeout))?;
    let receiver = match config.mode {
        SenderMode::Naive | SenderMode::Sleep => ReceiverMode::Naive,
        SenderMode::Framed => ReceiverMode::Framed,
    };
    let mut stream = config
        .tracer
        .clone()
        .with_format(receiver.message_format())
        .wrap(stream);
    match send_messages(&mut stream, messages, config) {
        Err(StickyError::Io(e)) if net::is_timeout(&e) => {
            return Err(StickyError::Stalled(config.timeout))
        }
        Err(StickyError::Frame(FrameError::Io(e))) if net::is_timeout(&e) => {
            return Err(StickyError::Stalled(config.timeout))
        }
        other => other?,
    }
    // Closing right away would lose nothing (the kernel still delivers what was sent), but waiting
    // for the server's close means that when the client exits, the server has printed everything.
    net::close_gracefully(stream.get_mut(), LINGER);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_messages_are_numbered_and_sized() {
        assert_eq!(
            generated_messages(2, None),
            vec![b"message 1".to_vec(), b"message 2".to_vec()]
        );
        let sized = generated_messages(1, Some(14));
        assert_eq!(sized, vec![b"message 1 abcd".to_vec()]);
        assert_eq!(generated_messages(1, Some(3)), vec![b"mes".to_vec()]);
        assert_eq!(generated_messages(1, Some(5000))[0].len(), 5000);
    }

    #[test]
    fn framed_mode_writes_frames() {
        let mut wire = Vec::new();
        let config = ClientConfig {
            mode: SenderMode::Framed,
            ..ClientConfig::default()
        };
        send_messages(&mut wire, &[b"hi".to_vec()], &config).unwrap();
        assert_eq!(wire, b"\x02\x00\x00\x00hi");
    }
}
