//! Length-headed messages: the cure for sticky packets (粘包).
//!
//! TCP carries a stream of bytes, not a sequence of messages. Two `send`s may arrive in one `recv`
//! (merged), and one `send` may need several `recv`s (split). The receiver can only find where a
//! message ends if the sender tells it, so every message here is a *frame*:
//!
//! ```text
//! +-------------------+------------------------+
//! | length (4 bytes)  | payload (length bytes) |
//! +-------------------+------------------------+
//! ```
//!
//! The length is what Python's `struct.pack('i', n)` writes on every common machine: a signed
//! 32-bit integer, little-endian. That is what the tutorials use, so their Python code and socklab
//! understand each other. Real protocols usually choose big-endian ("network byte order",
//! `struct.pack('!I', n)`) because it does not depend on the sender's CPU; [`LengthOrder::Big`]
//! offers it.
//!
//! The tutorials' final version, the "custom header" (自定义报头), puts a JSON object in a frame
//! and lets that object describe a body that follows (`{"filesize": 1048576}` then the file). The
//! `*_header` and `*_body` functions below do that, streaming the body so that a file of any size
//! moves with bounded memory.
//!
//! Nothing read from the network is trusted: a length is checked against a maximum *before*
//! anything is read for it, memory then grows only with the bytes that really arrive (a peer
//! that announces 64 MiB and sends 10 bytes costs 10 bytes), and every way a frame can be wrong
//! is a distinct [`FrameError`].

use std::io::{self, Read, Write};

use byteorder::{BigEndian, ByteOrder as _, LittleEndian};
use serde::de::DeserializeOwned;
use serde::Serialize;
use serde_json::{Map, Value};

/// Default largest payload accepted by [`read_frame`]: 64 MiB.
pub const DEFAULT_MAX_FRAME: u32 = 64 * 1024 * 1024;
/// Default largest JSON header accepted by [`read_header`]: 64 KiB.
pub const DEFAULT_MAX_HEADER: u32 = 64 * 1024;

/// Size of the length prefix, in bytes.
pub const LENGTH_SIZE: usize = 4;

/// Payloads up to this size are copied behind their prefix and sent with one `write_all`;
/// larger ones are sent as two writes rather than copied.
const COALESCE_LIMIT: usize = 64 * 1024;

/// The most memory reserved for a payload before any of it has arrived.
const FIRST_RESERVATION: usize = 8 * 1024;

/// How the 4-byte length is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LengthOrder {
    /// Signed 32-bit little-endian: Python's `struct.pack('i', n)` on x86 and ARM. The default,
    /// because it is what the tutorials send.
    #[default]
    Little,
    /// Unsigned 32-bit big-endian ("network order"): `struct.pack('!I', n)`.
    Big,
}

/// Everything that can be wrong with a frame.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    #[error("i/o error: {0}")]
    Io(#[from] io::Error),
    #[error("the connection closed after {got} of the {expected} bytes of a {part}")]
    Truncated {
        part: &'static str,
        expected: u64,
        got: u64,
    },
    #[error("negative length {0} in a frame header (is the peer speaking another protocol?)")]
    NegativeLength(i32),
    #[error("a {part} of {len} bytes is over the limit of {max} bytes")]
    TooLong {
        part: &'static str,
        len: u64,
        max: u64,
    },
    #[error("the header is not valid JSON: {0}")]
    NotJson(serde_json::Error),
    #[error("the header cannot be written as JSON: {0}")]
    Unserializable(serde_json::Error),
    #[error("the header is JSON but not an object (got {0})")]
    NotObject(&'static str),
    #[error("the header does not have the expected fields: {0}")]
    BadFields(serde_json::Error),
    #[error("the body source ended after {got} of the {expected} bytes announced")]
    BodySourceShort { expected: u64, got: u64 },
}

/// Frame settings: byte order and size limits. `Framing::default()` is the tutorials' format
/// with socklab's limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Framing {
    pub order: LengthOrder,
    /// Largest payload [`Framing::read_frame`] accepts.
    pub max_frame: u32,
    /// Largest JSON header [`Framing::read_header`] accepts.
    pub max_header: u32,
}

impl Default for Framing {
    fn default() -> Self {
        Framing {
            order: LengthOrder::Little,
            max_frame: DEFAULT_MAX_FRAME,
            max_header: DEFAULT_MAX_HEADER,
        }
    }
}

impl Framing {
    /// The default framing with another byte order.
    pub fn with_order(order: LengthOrder) -> Framing {
        Framing {
            order,
            ..Framing::default()
        }
    }

    /// Encodes a length prefix.
    pub fn encode_length(&self, len: u32) -> Result<[u8; LENGTH_SIZE], FrameError> {
        let mut buf = [0u8; LENGTH_SIZE];
        match self.order {
            LengthOrder::Little => {
                // A signed prefix cannot say more than i32::MAX.
                let signed = i32::try_from(len).map_err(|_| FrameError::TooLong {
                    part: "frame",
                    len: len.into(),
                    max: i32::MAX as u64,
                })?;
                LittleEndian::write_i32(&mut buf, signed);
            }
            LengthOrder::Big => BigEndian::write_u32(&mut buf, len),
        }
        Ok(buf)
    }

    /// Decodes a length prefix, refusing negative lengths.
    pub fn decode_length(&self, buf: [u8; LENGTH_SIZE]) -> Result<u32, FrameError> {
        match self.order {
            LengthOrder::Little => {
                let signed = LittleEndian::read_i32(&buf);
                u32::try_from(signed).map_err(|_| FrameError::NegativeLength(signed))
            }
            LengthOrder::Big => Ok(BigEndian::read_u32(&buf)),
        }
    }

    /// Writes one length prefix.
    pub fn write_length(&self, w: &mut impl Write, len: u64) -> Result<(), FrameError> {
        let len = u32::try_from(len).map_err(|_| FrameError::TooLong {
            part: "frame",
            len,
            max: u32::MAX as u64,
        })?;
        w.write_all(&self.encode_length(len)?)?;
        Ok(())
    }

    /// Reads one length prefix. `Ok(None)` means the peer closed the connection cleanly *between*
    /// frames, which is how a conversation normally ends; closing in the middle of the 4 bytes is
    /// an error.
    pub fn read_length(&self, r: &mut impl Read) -> Result<Option<u32>, FrameError> {
        let mut buf = [0u8; LENGTH_SIZE];
        let got = read_fully(r, &mut buf)?;
        if got == 0 {
            return Ok(None);
        }
        if got < LENGTH_SIZE {
            return Err(FrameError::Truncated {
                part: "length prefix",
                expected: LENGTH_SIZE as u64,
                got: got as u64,
            });
        }
        self.decode_length(buf).map(Some)
    }

    /// Writes `payload` as one frame.
    ///
    /// A small frame goes out in a single `write_all`, prefix and payload together. Written
    /// separately, the 4-byte prefix would leave at once and Nagle's algorithm would hold the
    /// payload back until the peer acknowledged the prefix, which a peer that delays its ACKs
    /// does only after some 40 ms: every small message would pay that delay. A large payload is
    /// not worth copying for that; it is written after its prefix.
    pub fn write_frame(&self, w: &mut impl Write, payload: &[u8]) -> Result<(), FrameError> {
        let len = u32::try_from(payload.len()).map_err(|_| FrameError::TooLong {
            part: "frame",
            len: payload.len() as u64,
            max: u32::MAX as u64,
        })?;
        let prefix = self.encode_length(len)?;
        if payload.len() <= COALESCE_LIMIT {
            let mut message = Vec::with_capacity(LENGTH_SIZE + payload.len());
            message.extend_from_slice(&prefix);
            message.extend_from_slice(payload);
            w.write_all(&message)?;
        } else {
            w.write_all(&prefix)?;
            w.write_all(payload)?;
        }
        w.flush()?;
        Ok(())
    }

    /// Reads one frame. `Ok(None)` at a clean end of stream between frames.
    pub fn read_frame(&self, r: &mut impl Read) -> Result<Option<Vec<u8>>, FrameError> {
        self.read_sized(r, self.max_frame, "frame")
    }

    /// Reads a length prefix and exactly that many bytes, checking the length against `max`
    /// before reading anything for it.
    ///
    /// Even a length under `max` is only the peer's claim, so the buffer is not allocated at that
    /// size up front: it starts small and grows as bytes arrive. Otherwise every connection
    /// could make the server reserve `max` bytes with four bytes of lies.
    fn read_sized(
        &self,
        r: &mut impl Read,
        max: u32,
        part: &'static str,
    ) -> Result<Option<Vec<u8>>, FrameError> {
        let Some(len) = self.read_length(r)? else {
            return Ok(None);
        };
        if len > max {
            return Err(FrameError::TooLong {
                part,
                len: len.into(),
                max: max.into(),
            });
        }
        let expected = u64::from(len);
        let first = usize::try_from(len).map_or(FIRST_RESERVATION, |n| n.min(FIRST_RESERVATION));
        let mut payload = Vec::with_capacity(first);
        // `take` stops at `len` bytes; `read_to_end` loops over short reads and retries
        // interrupted ones, growing `payload` only as data comes in.
        let got = r.take(expected).read_to_end(&mut payload)? as u64;
        if got < expected {
            return Err(FrameError::Truncated {
                part,
                expected,
                got,
            });
        }
        Ok(Some(payload))
    }

    /// Writes a JSON header frame (4-byte length, then the JSON text). Anything serde can
    /// serialize to a JSON object will do: a `serde_json::json!({...})` or a struct. Anything
    /// else is refused here, since [`Framing::read_header`] on the other side would refuse it.
    pub fn write_header(
        &self,
        w: &mut impl Write,
        header: &impl Serialize,
    ) -> Result<(), FrameError> {
        let value = serde_json::to_value(header).map_err(FrameError::Unserializable)?;
        if let Some(kind) = not_an_object(&value) {
            return Err(FrameError::NotObject(kind));
        }
        let json = serde_json::to_vec(&value).map_err(FrameError::Unserializable)?;
        if json.len() as u64 > u64::from(self.max_header) {
            return Err(FrameError::TooLong {
                part: "header",
                len: json.len() as u64,
                max: self.max_header.into(),
            });
        }
        self.write_frame(w, &json)
    }

    /// Reads a JSON header frame and checks that it holds a JSON object. `Ok(None)` at a clean end
    /// of stream.
    pub fn read_header(&self, r: &mut impl Read) -> Result<Option<Map<String, Value>>, FrameError> {
        let Some(bytes) = self.read_sized(r, self.max_header, "header")? else {
            return Ok(None);
        };
        parse_header(&bytes).map(Some)
    }

    /// Reads a JSON header and deserializes it into `T`.
    pub fn read_header_as<T: DeserializeOwned>(
        &self,
        r: &mut impl Read,
    ) -> Result<Option<T>, FrameError> {
        match self.read_header(r)? {
            None => Ok(None),
            Some(map) => serde_json::from_value(Value::Object(map))
                .map(Some)
                .map_err(FrameError::BadFields),
        }
    }

    /// Writes a header and then exactly `body_len` bytes copied from `body`, in chunks, so the
    /// body is never all in memory. Fails if `body` ends early (the peer would wait for ever for
    /// bytes that never come, so better to say so).
    pub fn write_header_and_body(
        &self,
        w: &mut impl Write,
        header: &impl Serialize,
        body: &mut impl Read,
        body_len: u64,
    ) -> Result<(), FrameError> {
        self.write_header(w, header)?;
        write_body(w, body, body_len)
    }
}

/// Copies exactly `len` bytes from `body` to `w`, in bounded chunks.
pub fn write_body(w: &mut impl Write, body: &mut impl Read, len: u64) -> Result<(), FrameError> {
    let copied = io::copy(&mut body.take(len), w)?;
    if copied < len {
        return Err(FrameError::BodySourceShort {
            expected: len,
            got: copied,
        });
    }
    w.flush()?;
    Ok(())
}

/// Reads exactly `len` body bytes from `r` into `w`, in bounded chunks. The connection closing
/// early is [`FrameError::Truncated`]. Returns the number of bytes copied (always `len`).
pub fn read_body(r: &mut impl Read, w: &mut impl Write, len: u64) -> Result<u64, FrameError> {
    let copied = io::copy(&mut r.take(len), w)?;
    if copied < len {
        return Err(FrameError::Truncated {
            part: "body",
            expected: len,
            got: copied,
        });
    }
    Ok(copied)
}

/// Checks that `bytes` is a JSON object and returns it.
pub fn parse_header(bytes: &[u8]) -> Result<Map<String, Value>, FrameError> {
    match serde_json::from_slice::<Value>(bytes).map_err(FrameError::NotJson)? {
        Value::Object(map) => Ok(map),
        other => Err(FrameError::NotObject(
            not_an_object(&other).unwrap_or("something else"),
        )),
    }
}

/// What kind of JSON value `value` is, if it is not an object.
fn not_an_object(value: &Value) -> Option<&'static str> {
    match value {
        Value::Object(_) => None,
        Value::Array(_) => Some("an array"),
        Value::String(_) => Some("a string"),
        Value::Number(_) => Some("a number"),
        Value::Bool(_) => Some("a boolean"),
        Value::Null => Some("null"),
    }
}

/// Reads until `buf` is full or the stream ends, and returns how many bytes were read.
///
/// This loop is the whole answer to "my `recv` returned half a message": a single `read` returns
/// whatever has arrived so far, which may be less than asked for. `Read::read_exact` would do the
/// same loop but cannot tell us how far it got before the stream ended, and the error messages
/// want that number.
pub fn read_fully(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let Some(rest) = buf.get_mut(filled..) else {
            break;
        };
        match r.read(rest) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

/// [`Framing::write_frame`] with the default framing.
pub fn write_frame(w: &mut impl Write, payload: &[u8]) -> Result<(), FrameError> {
    Framing::default().write_frame(w, payload)
}

/// [`Framing::read_frame`] with the default framing.
pub fn read_frame(r: &mut impl Read) -> Result<Option<Vec<u8>>, FrameError> {
    Framing::default().read_frame(r)
}

/// [`Framing::write_header`] with the default framing.
pub fn write_header(w: &mut impl Write, header: &impl Serialize) -> Result<(), FrameError> {
    Framing::default().write_header(w, header)
}

/// [`Framing::read_header`] with the default framing.
pub fn read_header(r: &mut impl Read) -> Result<Option<Map<String, Value>>, FrameError> {
    Framing::default().read_header(r)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A reader that hands out its data in chunks of the given sizes, the way a TCP socket hands
    /// out whatever has arrived.
    struct Chunked {
        data: Vec<u8>,
        pos: usize,
        chunks: Vec<usize>,
        next: usize,
    }

    impl Read for Chunked {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let want = self.chunks.get(self.next).copied().unwrap_or(usize::MAX);
            self.next += 1;
            let n = want.min(buf.len()).min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    fn encoded(framing: &Framing, payloads: &[&[u8]]) -> Vec<u8> {
        let mut wire = Vec::new();
        for p in payloads {
            framing.write_frame(&mut wire, p).unwrap();
        }
        wire
    }

    fn decode_all(framing: &Framing, r: &mut impl Read) -> Vec<Vec<u8>> {
        let mut out = Vec::new();
        while let Some(frame) = framing.read_frame(r).unwrap() {
            out.push(frame);
        }
        out
    }

    #[test]
    fn matches_python_struct_pack_i() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"hello").unwrap();
        // struct.pack('i', 5) + b'hello'
        assert_eq!(wire, b"\x05\x00\x00\x00hello");
        let mut wire = Vec::new();
        Framing::with_order(LengthOrder::Big)
            .write_frame(&mut wire, b"hello")
            .unwrap();
        // struct.pack('!I', 5) + b'hello'
        assert_eq!(wire, b"\x00\x00\x00\x05hello");
    }

    #[test]
    fn decodes_the_same_split_at_every_byte_boundary() {
        for framing in [Framing::default(), Framing::with_order(LengthOrder::Big)] {
            let payloads: [&[u8]; 4] = [b"first", b"", b"\x00\x01binary", "第四".as_bytes()];
            let wire = encoded(&framing, &payloads);
            for cut in 0..=wire.len() {
                let mut r = Chunked {
                    data: wire.clone(),
                    pos: 0,
                    chunks: vec![cut.max(1), usize::MAX],
                    next: 0,
                };
                assert_eq!(decode_all(&framing, &mut r), payloads, "cut at {cut}");
            }
            // One byte per read: the worst a network can do.
            let mut r = Chunked {
                data: wire.clone(),
                pos: 0,
                chunks: vec![1; wire.len()],
                next: 0,
            };
            assert_eq!(decode_all(&framing, &mut r), payloads);
        }
    }

    #[test]
    fn decodes_several_frames_arriving_in_one_read() {
        let framing = Framing::default();
        let payloads: [&[u8]; 3] = [b"a", b"bb", b"ccc"];
        let wire = encoded(&framing, &payloads);
        let mut r = Chunked {
            data: wire,
            pos: 0,
            chunks: vec![usize::MAX],
            next: 0,
        };
        assert_eq!(decode_all(&framing, &mut r), payloads);
    }

    #[test]
    fn clean_end_between_frames_is_none() {
        assert!(read_frame(&mut &b""[..]).unwrap().is_none());
    }

    #[test]
    fn end_inside_length_is_truncated() {
        let err = read_frame(&mut &b"\x05\x00"[..]).unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated {
                part: "length prefix",
                expected: 4,
                got: 2
            }
        ));
    }

    #[test]
    fn end_inside_payload_is_truncated() {
        let err = read_frame(&mut &b"\x05\x00\x00\x00hel"[..]).unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated {
                part: "frame",
                expected: 5,
                got: 3
            }
        ));
    }

    #[test]
    fn negative_length_is_refused() {
        let err = read_frame(&mut &b"\xff\xff\xff\xffxx"[..]).unwrap_err();
        assert!(matches!(err, FrameError::NegativeLength(-1)));
    }

    #[test]
    fn length_over_maximum_is_refused_before_allocating() {
        let framing = Framing {
            max_frame: 10,
            ..Framing::default()
        };
        let err = framing
            .read_frame(&mut &b"\x0b\x00\x00\x00"[..])
            .unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLong {
                len: 11,
                max: 10,
                ..
            }
        ));
        // i32::MAX would be a 2 GiB allocation if it were trusted.
        let err = read_frame(&mut &b"\xff\xff\xff\x7f"[..]).unwrap_err();
        assert!(matches!(err, FrameError::TooLong { .. }));
    }

    #[test]
    fn header_round_trip_and_body_streaming() {
        let mut wire = Vec::new();
        let body = b"file contents";
        Framing::default()
            .write_header_and_body(
                &mut wire,
                &json!({"cmd": "put", "filesize": body.len()}),
                &mut &body[..],
                body.len() as u64,
            )
            .unwrap();
        let mut r = &wire[..];
        let header = read_header(&mut r).unwrap().unwrap();
        assert_eq!(header["cmd"], "put");
        let size = header["filesize"].as_u64().unwrap();
        let mut out = Vec::new();
        read_body(&mut r, &mut out, size).unwrap();
        assert_eq!(out, body);
    }

    #[test]
    fn header_that_is_not_json_or_not_an_object_is_refused() {
        let mut wire = Vec::new();
        write_frame(&mut wire, b"{not json").unwrap();
        assert!(matches!(
            read_header(&mut &wire[..]).unwrap_err(),
            FrameError::NotJson(_)
        ));
        let mut wire = Vec::new();
        write_frame(&mut wire, b"[1,2]").unwrap();
        assert!(matches!(
            read_header(&mut &wire[..]).unwrap_err(),
            FrameError::NotObject("an array")
        ));
    }

    #[test]
    fn header_over_its_maximum_is_refused() {
        let mut wire = Vec::new();
        write_frame(&mut wire, &vec![b' '; 70 * 1024]).unwrap();
        assert!(matches!(
            read_header(&mut &wire[..]).unwrap_err(),
            FrameError::TooLong { part: "header", .. }
        ));
    }

    #[test]
    fn typed_header_with_wrong_fields_is_refused() {
        #[derive(serde::Deserialize, Debug)]
        struct Put {
            #[allow(dead_code)]
            filesize: u64,
        }
        let mut wire = Vec::new();
        write_header(&mut wire, &json!({"filesize": -3})).unwrap();
        let err = Framing::default()
            .read_header_as::<Put>(&mut &wire[..])
            .unwrap_err();
        assert!(matches!(err, FrameError::BadFields(_)));
    }

    #[test]
    fn short_body_is_truncated_and_short_source_is_reported() {
        let mut out = Vec::new();
        assert!(matches!(
            read_body(&mut &b"abc"[..], &mut out, 5).unwrap_err(),
            FrameError::Truncated {
                part: "body",
                expected: 5,
                got: 3
            }
        ));
        let mut wire = Vec::new();
        assert!(matches!(
            write_body(&mut wire, &mut &b"abc"[..], 5).unwrap_err(),
            FrameError::BodySourceShort {
                expected: 5,
                got: 3
            }
        ));
    }
    /// Header + streamed body + another header: the whole "custom header" conversation.
    fn header_body_wire(framing: &Framing) -> Vec<u8> {
        let mut wire = Vec::new();
        let body = b"0123456789 body bytes";
        framing
            .write_header_and_body(
                &mut wire,
                &json!({"cmd": "put", "filename": "a.txt", "filesize": body.len()}),
                &mut &body[..],
                body.len() as u64,
            )
            .unwrap();
        framing
            .write_header(&mut wire, &json!({"cmd": "quit"}))
            .unwrap();
        wire
    }

    /// Reads what [`header_body_wire`] wrote: (filename, body, second command).
    fn read_header_body(framing: &Framing, r: &mut impl Read) -> (String, Vec<u8>, String) {
        let header = framing.read_header(r).unwrap().unwrap();
        let size = header["filesize"].as_u64().unwrap();
        let mut body = Vec::new();
        read_body(r, &mut body, size).unwrap();
        let next = framing.read_header(r).unwrap().unwrap();
        assert!(
            framing.read_header(r).unwrap().is_none(),
            "then a clean end"
        );
        (
            header["filename"].as_str().unwrap().to_string(),
            body,
            next["cmd"].as_str().unwrap().to_string(),
        )
    }

    #[test]
    fn header_and_body_decode_the_same_split_at_every_byte_boundary() {
        for framing in [Framing::default(), Framing::with_order(LengthOrder::Big)] {
            let wire = header_body_wire(&framing);
            let whole = read_header_body(&framing, &mut &wire[..]);
            assert_eq!(whole.0, "a.txt");
            assert_eq!(whole.1, b"0123456789 body bytes");
            assert_eq!(whole.2, "quit");
            for cut in 1..wire.len() {
                let mut r = Chunked {
                    data: wire.clone(),
                    pos: 0,
                    chunks: vec![cut, usize::MAX],
                    next: 0,
                };
                assert_eq!(read_header_body(&framing, &mut r), whole, "cut at {cut}");
            }
            let mut r = Chunked {
                data: wire.clone(),
                pos: 0,
                chunks: vec![1; wire.len()],
                next: 0,
            };
            assert_eq!(read_header_body(&framing, &mut r), whole);
        }
    }

    /// The same over a real loopback connection: several frames written with one `write_all`
    /// (so they can only arrive merged), then one frame written a byte at a time.
    #[test]
    fn frames_cross_a_real_tcp_connection_merged_or_split() {
        use std::net::{TcpListener, TcpStream};
        use std::time::Duration;

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let payloads: [&[u8]; 3] = [b"one", b"", "三".as_bytes()];
        let wire = encoded(&Framing::default(), &payloads);
        // Connected before `accept`, so that `accept` cannot wait for a writer that failed.
        let mut conn = TcpStream::connect(addr).unwrap();
        let writer = std::thread::spawn(move || {
            conn.write_all(&wire).unwrap();
            for byte in encoded(&Framing::default(), &[b"split"]) {
                conn.write_all(&[byte]).unwrap();
                conn.flush().unwrap();
            }
        });
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let got = decode_all(&Framing::default(), &mut conn);
        writer.join().unwrap();
        let expected: Vec<&[u8]> = vec![b"one", b"", "三".as_bytes(), b"split"];
        assert_eq!(got, expected);
    }

    /// A reader that announces a huge frame and then sends little, and remembers the largest
    /// buffer it was asked to fill: how much memory the reader set aside at once.
    struct Liar {
        data: Vec<u8>,
        pos: usize,
        largest_request: usize,
    }

    impl Read for Liar {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.largest_request = self.largest_request.max(buf.len());
            let n = buf.len().min(self.data.len() - self.pos);
            buf[..n].copy_from_slice(&self.data[self.pos..self.pos + n]);
            self.pos += n;
            Ok(n)
        }
    }

    #[test]
    fn a_lying_length_costs_only_the_bytes_that_arrive() {
        let mut data = (60u32 * 1024 * 1024).to_le_bytes().to_vec();
        data.extend_from_slice(b"only ten b");
        let mut liar = Liar {
            data,
            pos: 0,
            largest_request: 0,
        };
        let err = read_frame(&mut liar).unwrap_err();
        assert!(matches!(
            err,
            FrameError::Truncated {
                part: "frame",
                expected: 62_914_560,
                got: 10
            }
        ));
        assert!(
            liar.largest_request <= 64 * 1024,
            "asked for {} bytes at once",
            liar.largest_request
        );
    }

    #[test]
    fn every_negative_length_is_refused() {
        for bytes in [[0x00, 0x00, 0x00, 0x80], [0xfe, 0xff, 0xff, 0xff]] {
            let err = read_frame(&mut &bytes[..]).unwrap_err();
            assert!(
                matches!(err, FrameError::NegativeLength(n) if n < 0),
                "{err}"
            );
        }
        // Big-endian lengths are unsigned: the same bytes are a (too) long frame instead.
        let err = Framing::with_order(LengthOrder::Big)
            .read_frame(&mut &[0xff, 0xff, 0xff, 0xff][..])
            .unwrap_err();
        assert!(matches!(
            err,
            FrameError::TooLong {
                len: 4_294_967_295,
                ..
            }
        ));
    }

    #[test]
    fn lengths_that_cannot_be_encoded_are_refused() {
        assert!(matches!(
            Framing::default().encode_length(u32::MAX).unwrap_err(),
            FrameError::TooLong { .. }
        ));
        assert_eq!(
            Framing::with_order(LengthOrder::Big)
                .encode_length(u32::MAX)
                .unwrap(),
            [0xff; 4]
        );
        assert!(matches!(
            Framing::default()
                .write_length(&mut Vec::new(), u64::from(u32::MAX) + 1)
                .unwrap_err(),
            FrameError::TooLong { .. }
        ));
    }

    #[test]
    fn every_non_object_header_is_refused_with_its_kind() {
        for (json, kind) in [
            (&b"[1]"[..], "an array"),
            (b"\"put\"", "a string"),
            (b"42", "a number"),
            (b"true", "a boolean"),
            (b"null", "null"),
        ] {
            let mut wire = Vec::new();
            write_frame(&mut wire, json).unwrap();
            let err = read_header(&mut &wire[..]).unwrap_err();
            assert!(
                matches!(err, FrameError::NotObject(k) if k == kind),
                "{err}"
            );
        }
        let mut wire = Vec::new();
        write_frame(&mut wire, b"\xff\xfe").unwrap();
        assert!(matches!(
            read_header(&mut &wire[..]).unwrap_err(),
            FrameError::NotJson(_)
        ));
    }

    #[test]
    fn writing_a_header_that_is_not_an_object_is_refused() {
        let mut wire = Vec::new();
        assert!(matches!(
            write_header(&mut wire, &json!(["put"])).unwrap_err(),
            FrameError::NotObject("an array")
        ));
        assert!(wire.is_empty(), "nothing was sent");
        let too_big = json!({"pad": "x".repeat(DEFAULT_MAX_HEADER as usize)});
        assert!(matches!(
            write_header(&mut wire, &too_big).unwrap_err(),
            FrameError::TooLong { part: "header", .. }
        ));
        assert!(wire.is_empty(), "nothing was sent");
    }

    #[test]
    fn end_inside_a_header_is_truncated() {
        let mut wire = Vec::new();
        write_header(&mut wire, &json!({"cmd": "get"})).unwrap();
        wire.truncate(wire.len() - 3);
        assert!(matches!(
            read_header(&mut &wire[..]).unwrap_err(),
            FrameError::Truncated { part: "header", .. }
        ));
        assert!(read_header(&mut &b""[..]).unwrap().is_none());
        assert!(Framing::default()
            .read_header_as::<Map<String, Value>>(&mut &b""[..])
            .unwrap()
            .is_none());
    }

    /// A reader that fails the way a socket does, after an interruption the reader must retry.
    struct Failing {
        interrupted: bool,
    }

    impl Read for Failing {
        fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
            if !self.interrupted {
                self.interrupted = true;
                return Err(io::ErrorKind::Interrupted.into());
            }
            Err(io::ErrorKind::ConnectionReset.into())
        }
    }

    #[test]
    fn socket_errors_are_io_errors_and_interruptions_are_retried() {
        let err = read_frame(&mut Failing { interrupted: false }).unwrap_err();
        assert!(
            matches!(&err, FrameError::Io(e) if e.kind() == io::ErrorKind::ConnectionReset),
            "{err}"
        );
    }

    #[test]
    fn large_frames_round_trip() {
        let big = vec![7u8; COALESCE_LIMIT * 2 + 3];
        let mut wire = Vec::new();
        write_frame(&mut wire, &big).unwrap();
        assert_eq!(wire.len(), LENGTH_SIZE + big.len());
        assert_eq!(read_frame(&mut &wire[..]).unwrap().unwrap(), big);
    }
}
