//! The framed receiver and sender: the cure for sticky packets.
//!
//! Every message goes out as a 4-byte length (Python's `struct.pack('i', len(data))`) followed by
//! the message, and the receiver reads exactly 4 bytes, then exactly that many bytes, however many
//! `recv` calls that takes ([`crate::framing`]). Reads may still merge or split the bytes; the
//! receiver no longer cares, because the sender told it where each message ends.

use std::io::{Read, Write};
use std::time::Duration;

use super::pause;
use crate::framing::{FrameError, Framing};

/// Largest message this lesson accepts: 1 MiB. A frame header announcing more is refused before
/// anything is allocated for it.
pub const MAX_MESSAGE: u32 = 1024 * 1024;

/// The tutorials' frame format with this lesson's size limit.
pub fn framing() -> Framing {
    Framing {
        max_frame: MAX_MESSAGE,
        ..Framing::default()
    }
}

/// Reads frames until the peer closes between two frames, pausing `read_delay` before each frame
/// (as the naive receiver does, so the two can be compared), and hands each payload to
/// `on_message`. Returns how many messages it received.
pub fn receive(
    stream: &mut impl Read,
    read_delay: Duration,
    mut on_message: impl FnMut(&[u8]),
) -> Result<u64, FrameError> {
    let framing = framing();
    let mut count = 0;
    loop {
        pause(read_delay);
        match framing.read_frame(stream)? {
            None => return Ok(count),
            Some(message) => {
                count += 1;
                on_message(&message);
            }
        }
    }
}

/// Sends one message as one frame (length and payload in a single write).
pub fn send(stream: &mut impl Write, message: &[u8]) -> Result<(), FrameError> {
    framing().write_frame(stream, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merged_frames_come_apart() {
        let mut wire = Vec::new();
        send(&mut wire, b"hello").unwrap();
        send(&mut wire, b"world").unwrap();
        let mut got = Vec::new();
        let count = receive(&mut &wire[..], Duration::ZERO, |m| got.push(m.to_vec())).unwrap();
        assert_eq!(count, 2);
        assert_eq!(got, vec![b"hello".to_vec(), b"world".to_vec()]);
    }

    #[test]
    fn an_oversized_length_is_refused() {
        let wire = (MAX_MESSAGE + 1).to_le_bytes();
        let err = receive(&mut &wire[..], Duration::ZERO, |_| {}).unwrap_err();
        assert!(matches!(err, FrameError::TooLong { .. }), "{err}");
    }
}
