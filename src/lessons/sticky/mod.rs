//! Lesson 09: sticky packets (粘包), the phenomenon itself, side by side.
//!
//! TCP carries a stream of bytes, not a sequence of messages. A `send` hands bytes to the kernel;
//! a `recv(bufsize)` takes out whatever has arrived and not been read yet, up to `bufsize`. Nothing
//! on the wire says where one `send` ended, so:
//!
//! - two small writes that have both arrived before the reader reads come back from *one* read
//!   (merged, 粘包). On the sender, Nagle's algorithm may also put them in one segment;
//! - one write larger than the reader's buffer, or one that has only partly arrived, needs *several*
//!   reads (split, 拆包). Above the path's MTU the sender's TCP cuts it into segments anyway.
//!
//! The lesson shows both with a receiver that believes "one read = one message" ([`naive`]) next to
//! one that reads length-headed frames ([`framed`]), and a proxy ([`proxy`]) that re-cuts any TCP
//! stream so naive code breaks on demand while framed code keeps working. One purpose per file:
//!
//! - [`naive`]: the tutorials' receiver, every `recv(bufsize)` taken as one message;
//! - [`framed`]: the cure, a 4-byte length before every message ([`crate::framing`]);
//! - [`server`]: `09-sticky server`, either receiver behind the thread-per-connection server;
//! - [`client`]: `09-sticky client`, writes messages back to back, with pauses, or framed;
//! - [`proxy`]: `09-sticky proxy`, forwards a byte stream unchanged but cut into other pieces;
//! - [`demo`]: `09-sticky demo` and the tour stage, the scenarios made deterministic, as a table.
//!
//! Tutorials: 004 (粘包现象: why, the two causes, splitting above the MTU, send vs sendall),
//! 001 §6 (recv(5) and the three fixes), 000 §4.

pub mod client;
pub mod demo;
pub mod framed;
pub mod naive;
pub mod proxy;
pub mod server;

use std::io;
use std::time::Duration;

use crate::escape::preview;
use crate::framing::{FrameError, LengthOrder};
use crate::net::NetError;
use crate::recording::MessageFormat;

pub use demo::tour;

/// How a receiver decides where one message ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ReceiverMode {
    /// Each `recv(bufsize)` is taken as one message (the tutorials' mistake).
    Naive,
    /// Each message is a 4-byte length and that many bytes (the cure).
    Framed,
}

impl ReceiverMode {
    /// How the sender's bytes divide into messages, for `--picture`'s colours.
    pub fn message_format(self) -> MessageFormat {
        match self {
            ReceiverMode::Naive => MessageFormat::Writes,
            ReceiverMode::Framed => MessageFormat::LengthPrefixed(LengthOrder::Little),
        }
    }
}

/// What can go wrong in this lesson.
#[derive(Debug, thiserror::Error)]
pub enum StickyError {
    #[error(transparent)]
    Net(#[from] NetError),
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A send waited `--timeout` for room: the server is not reading.
    #[error("timed out after {} s waiting for the server to take more bytes (--timeout): it is not reading", .0.as_secs_f64())]
    Stalled(std::time::Duration),
    /// A demo scenario did not show what the lesson says it shows.
    #[error("scenario {scenario}: {problem}")]
    Scenario { scenario: String, problem: String },
}

/// How many bytes of a message its report line shows before cutting it short.
pub const SHOWN_BYTES: usize = 200;

/// The line a receiver prints for each message it believes it received: `#N LEN bytes: TEXT`,
/// with TEXT escaped (`\n`, `\x00`, ...) so that binary bytes, such as a frame's length header,
/// show up instead of garbling the terminal. Messages over [`SHOWN_BYTES`] are cut short with
/// `… (+K bytes)`.
pub fn describe_message(number: u64, message: &[u8]) -> String {
    format!(
        "#{number} {} bytes: {}",
        message.len(),
        preview(message, SHOWN_BYTES)
    )
}

/// Sleeps for `delay` (nothing for zero): the tutorials' `time.sleep`.
fn pause(delay: Duration) {
    if !delay.is_zero() {
        std::thread::sleep(delay);
    }
}
