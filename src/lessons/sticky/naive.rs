//! The naive receiver: the tutorials' `data = conn.recv(1024)`, with every read taken as one message.
//!
//! This is wrong on purpose. `recv(bufsize)` does not return "the next message"; it returns the
//! bytes that have arrived and not been read yet, at most `bufsize` of them, and blocks only when
//! there are none. So what one read returns depends on timing and on `bufsize`, never on how the
//! sender cut its data:
//!
//! - two writes that have both arrived before the read come back together (merged);
//! - a write larger than `bufsize`, or one that has only partly arrived, comes back in pieces
//!   (split), and the next read starts in the middle of it.

use std::io::{self, Read};
use std::time::Duration;

use super::pause;

/// Reads until the peer closes, pausing `read_delay` before each read (the tutorials'
/// `time.sleep`, which lets more data pile up), and hands every read to `on_message` as if it were
/// one message. Returns how many "messages" it saw.
pub fn receive(
    stream: &mut impl Read,
    bufsize: usize,
    read_delay: Duration,
    mut on_message: impl FnMut(&[u8]),
) -> io::Result<u64> {
    let mut buf = vec![0u8; bufsize.max(1)];
    let mut count = 0;
    loop {
        pause(read_delay);
        let n = match stream.read(&mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if n == 0 {
            // The peer closed its side: no more messages.
            return Ok(count);
        }
        count += 1;
        on_message(buf.get(..n).unwrap_or_default());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that returns its data in the given pieces, as a socket returns what has arrived.
    struct Arrivals(Vec<&'static [u8]>);

    impl Read for Arrivals {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if self.0.is_empty() {
                return Ok(0);
            }
            let piece = self.0.remove(0);
            let n = piece.len().min(buf.len());
            buf[..n].copy_from_slice(&piece[..n]);
            if n < piece.len() {
                self.0.insert(0, &piece[n..]);
            }
            Ok(n)
        }
    }

    fn messages(arrivals: Vec<&'static [u8]>, bufsize: usize) -> Vec<Vec<u8>> {
        let mut got = Vec::new();
        receive(&mut Arrivals(arrivals), bufsize, Duration::ZERO, |m| {
            got.push(m.to_vec())
        })
        .unwrap();
        got
    }

    #[test]
    fn whatever_arrived_together_is_one_message() {
        assert_eq!(messages(vec![b"helloworld"], 1024), vec![b"helloworld"]);
    }

    #[test]
    fn a_small_buffer_splits_a_message() {
        assert_eq!(
            messages(vec![b"helloworld"], 4),
            vec![&b"hell"[..], b"owor", b"ld"]
        );
    }
}
