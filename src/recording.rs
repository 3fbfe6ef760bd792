//! The records behind `--trace` and `--picture`: every `send` and `recv`, kept for drawing.
//!
//! A [`Tracer`](crate::trace::Tracer) turns each system call into one [`Record`]: who made it,
//! which way the bytes went, how many, and *which* bytes, as a range of stream offsets. `--trace`
//! prints the record as a line; a [`Recorder`] keeps it so that the picture code can draw the
//! whole conversation afterwards. Offsets are what make the picture right: the bytes 0..5 that the
//! sender wrote on a stream are the bytes 0..5 that the receiver read from it, so a picture can
//! tell which write fed which read without comparing contents.
//!
//! A stream is one direction of one connection, named by its two addresses (from, to): the
//! sender's write and the receiver's read of the same bytes name the same stream, even when the
//! two ends are wrapped separately (the demo, the tour and the tests run both in one process).
//!
//! Memory stays bounded: the first [`KEPT_CALLS`] calls are kept whole, later ones are only
//! counted, per party, direction and stream ([`Folded`]); a call keeps at most [`PREVIEW_KEPT`] of
//! its bytes.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::framing::{LengthOrder, LENGTH_SIZE};

mod file;
pub use file::{read_records, record_file, write_records, RecordFileError, MAX_FILE};

/// How many calls a recording keeps whole; later ones are folded into counts. A picture with a
/// few hundred boxes is already more than a person reads, and it stays well under 1 MiB.
pub const KEPT_CALLS: usize = 300;
/// How many bytes of each call a record keeps for previews.
pub const PREVIEW_KEPT: usize = 64;

/// Joins a program's name and a lane of its own in a party's name (`server · data`): the
/// picture keeps the calls of `server` and `server · data` in the order the program made them,
/// as it does within one lane (see [`crate::trace::Tracer::second_lane`]).
pub const LANE_SEPARATOR: &str = " · ";

/// The program a party belongs to: `server` for `server · data`, the party itself otherwise.
pub fn program_of(party: &str) -> &str {
    party
        .split_once(LANE_SEPARATOR)
        .map_or(party, |(program, _)| program)
}
/// How many message parts (frames, headers) a stream keeps; past that, bytes are left uncoloured.
const KEPT_PARTS: usize = 2_000;
/// Longest JSON header the frame scanner reads to find a body size.
const MAX_SCANNED_HEADER: usize = 64 * 1024;

/// Which way the bytes of a call went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    Send,
    Recv,
}

impl Direction {
    /// `send` or `recv`, as the trace line and the picture say it.
    pub fn name(self) -> &'static str {
        match self {
            Direction::Send => "send",
            Direction::Recv => "recv",
        }
    }
}

/// One direction of one connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum StreamKey {
    /// A TCP connection's bytes from one address to the other.
    Tcp { from: SocketAddr, to: SocketAddr },
    /// A stream whose addresses are not known (a test's `Vec`, a UDP socket): only its own
    /// wrapper's calls are on it.
    Unnamed { wrapper: u64, direction: Direction },
}

/// One `send` or `recv`: what `--trace` prints and `--picture` draws.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Who made the call: the picture's lane (`client`, `proxy`, `server`).
    pub party: String,
    pub direction: Direction,
    /// Index into [`Recording::streams`], in order of first appearance (never a port number,
    /// so that two runs of the same conversation give the same picture).
    pub stream: usize,
    /// Offset of the call's first byte in its stream.
    pub from: u64,
    /// Bytes moved by the call (0 for a `recv` that saw the end of the stream).
    pub len: u64,
    /// The first [`PREVIEW_KEPT`] bytes.
    pub preview: Vec<u8>,
    /// When the call returned, counted from the recording's first call. Pictures show the order
    /// of calls instead (the same on every run); the time is there for whoever wants it.
    pub at: Duration,
    /// Why the call failed, when the connection broke under it (`reset by peer`); it moved no
    /// bytes. The picture draws it as a marked row.
    pub failed: Option<String>,
}

impl Record {
    /// One past the offset of the call's last byte.
    pub fn to(&self) -> u64 {
        self.from + self.len
    }
}

/// Calls past [`KEPT_CALLS`] of one party, direction and stream, counted instead of kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Folded {
    pub party: String,
    pub direction: Direction,
    pub stream: usize,
    pub calls: u64,
    /// The byte range they covered (a party's calls on a stream follow each other).
    pub from: u64,
    pub to: u64,
    pub smallest: u64,
    pub largest: u64,
}

/// How the bytes of a stream divide into messages, as the program that wrote them meant them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum MessageFormat {
    /// Every write call is one message (what the naive programs believe).
    #[default]
    Writes,
    /// A 4-byte length, then that many bytes (lessons 09 framed, 10 length).
    LengthPrefixed(LengthOrder),
    /// A 4-byte length, a JSON header of that length announcing the body's size (in one of
    /// [`BODY_SIZE_KEYS`]), then the body (lesson 10 json, lesson 13).
    JsonHeader(LengthOrder),
    /// Lesson 12: a fixed-size handshake of `len` bytes (the server's random challenge, or the
    /// client's HMAC answer to it), then frames with a 4-byte little-endian length.
    AfterHandshake(Handshake, u64),
}

/// The fixed-size first bytes of lesson 12's streams, before any frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Handshake {
    /// The server's random bytes, which the client must answer.
    Challenge,
    /// The client's HMAC of the challenge under the shared key.
    Answer,
}

impl Handshake {
    /// What a picture calls it.
    pub fn name(self) -> &'static str {
        match self {
            Handshake::Challenge => "challenge",
            Handshake::Answer => "HMAC answer",
        }
    }
}

/// What a range of a framed stream is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PartKind {
    /// The 4-byte length header.
    Length,
    /// A JSON header.
    Json,
    /// A message's own bytes.
    Body,
    /// The handshake before the first frame (lesson 12); counts as message 0.
    Handshake(Handshake),
}

/// A range of a framed stream: which message it belongs to, and what it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Part {
    pub from: u64,
    pub to: u64,
    pub kind: PartKind,
    /// Counts from 0 on each stream.
    pub message: usize,
}

/// What is known about one stream.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StreamInfo {
    pub format: MessageFormat,
    /// Its frames, for a framed format, as scanned from the bytes of one side.
    pub parts: Vec<Part>,
    /// The stream whose bytes a proxy forwarded into this one, unchanged and at the same offsets:
    /// they belong to that stream's messages.
    pub relayed_from: Option<usize>,
    /// Which side's bytes the scanner reads (the first one that reported a framed format).
    scanned_by: Option<Direction>,
    scanner: Scanner,
}

/// Everything recorded so far.
#[derive(Debug, Clone, Default)]
pub struct Recording {
    /// One line: what the run was (lesson, mode, flags, seed).
    pub caption: String,
    /// The first [`KEPT_CALLS`] calls, in the order they were recorded.
    pub records: Vec<Record>,
    /// The later calls, counted.
    pub folded: Vec<Folded>,
    pub streams: Vec<StreamInfo>,
    stream_ids: HashMap<StreamKey, usize>,
    offsets: HashMap<(usize, Direction), u64>,
    started: Option<Instant>,
}

impl Recording {
    /// How many calls were recorded, kept or folded.
    pub fn calls(&self) -> u64 {
        self.records.len() as u64 + self.folded.iter().map(|f| f.calls).sum::<u64>()
    }

    /// How many bytes `party` moved in `direction`, over all its calls.
    pub fn bytes(&self, party: &str, direction: Direction) -> u64 {
        let kept = self
            .records
            .iter()
            .filter(|r| r.party == party && r.direction == direction)
            .map(|r| r.len);
        let folded = self
            .folded
            .iter()
            .filter(|f| f.party == party && f.direction == direction)
            .map(|f| f.to - f.from);
        kept.chain(folded).sum()
    }

    /// Records one call of `bytes` and returns its record.
    pub fn add(
        &mut self,
        party: &str,
        direction: Direction,
        key: StreamKey,
        format: MessageFormat,
        bytes: &[u8],
    ) -> Record {
        let stream = self.stream_id(key);
        let offset = self.offsets.entry((stream, direction)).or_insert(0);
        let from = *offset;
        *offset += bytes.len() as u64;
        if let Some(info) = self.streams.get_mut(stream) {
            info.scan(direction, format, from, bytes);
        }
        let record = Record {
            party: party.to_string(),
            direction,
            stream,
            from,
            len: bytes.len() as u64,
            preview: bytes.get(..PREVIEW_KEPT).unwrap_or(bytes).to_vec(),
            at: self.started.get_or_insert_with(Instant::now).elapsed(),
            failed: None,
        };
        if self.records.len() < KEPT_CALLS {
            self.records.push(record.clone());
        } else {
            self.fold(&record);
        }
        record
    }

    /// Records a call that failed because the connection broke (see [`Record::failed`]) and
    /// returns its record. Kept only while there is room: a broken connection ends the calls on
    /// it anyway.
    pub fn add_failure(
        &mut self,
        party: &str,
        direction: Direction,
        key: StreamKey,
        why: &str,
    ) -> Record {
        let stream = self.stream_id(key);
        let from = self.offsets.get(&(stream, direction)).copied().unwrap_or(0);
        let record = Record {
            party: party.to_string(),
            direction,
            stream,
            from,
            len: 0,
            preview: Vec::new(),
            at: self.started.get_or_insert_with(Instant::now).elapsed(),
            failed: Some(why.to_string()),
        };
        if self.records.len() < KEPT_CALLS {
            self.records.push(record.clone());
        }
        record
    }

    /// The key of stream `stream`: its two addresses, for a TCP stream.
    pub fn stream_key(&self, stream: usize) -> Option<StreamKey> {
        self.stream_ids
            .iter()
            .find(|&(_, &id)| id == stream)
            .map(|(key, _)| *key)
    }

    /// The index of a stream, given in order of first appearance.
    fn stream_id(&mut self, key: StreamKey) -> usize {
        let next_id = self.stream_ids.len();
        let stream = *self.stream_ids.entry(key).or_insert(next_id);
        if stream == self.streams.len() {
            self.streams.push(StreamInfo::default());
        }
        stream
    }

    /// Says that the bytes of stream `to` are those of stream `from`, forwarded.
    pub fn relay(&mut self, from: StreamKey, to: StreamKey) {
        let from = self.stream_id(from);
        let to = self.stream_id(to);
        if let Some(info) = self.streams.get_mut(to) {
            info.relayed_from = Some(from);
        }
    }

    fn fold(&mut self, record: &Record) {
        let same = |f: &&mut Folded| {
            f.party == record.party && f.direction == record.direction && f.stream == record.stream
        };
        match self.folded.iter_mut().find(|f| same(f)) {
            Some(f) => {
                f.calls += 1;
                f.from = f.from.min(record.from);
                f.to = f.to.max(record.to());
                f.smallest = f.smallest.min(record.len);
                f.largest = f.largest.max(record.len);
            }
            None => self.folded.push(Folded {
                party: record.party.clone(),
                direction: record.direction,
                stream: record.stream,
                calls: 1,
                from: record.from,
                to: record.to(),
                smallest: record.len,
                largest: record.len,
            }),
        }
    }
}

impl StreamInfo {
    fn scan(&mut self, direction: Direction, format: MessageFormat, from: u64, bytes: &[u8]) {
        if format == MessageFormat::Writes {
            return;
        }
        match self.scanned_by {
            None => {
                self.scanned_by = Some(direction);
                self.format = format;
                // A handshake of no bytes is no handshake: the frames start at once.
                if let MessageFormat::AfterHandshake(handshake, len @ 1..) = format {
                    self.scanner.state = ScanState::Handshake {
                        handshake,
                        left: len,
                    };
                }
            }
            Some(side) if side != direction => return,
            Some(_) => {}
        }
        self.scanner.feed(self.format, from, bytes, &mut self.parts);
    }
}

/// Follows a framed stream byte by byte (headers) and range by range (bodies) to find where each
/// length, JSON header and body lies. Needs no more memory than one JSON header.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct Scanner {
    state: ScanState,
    /// The message the next byte belongs to; `None` before the first.
    message: Option<usize>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
enum ScanState {
    /// Reading a length header: its bytes so far.
    #[default]
    Length,
    LengthSoFar(Vec<u8>),
    /// Inside a JSON header: its bytes so far and how many are left.
    Json {
        seen: Vec<u8>,
        left: u64,
    },
    /// Inside a body: how many bytes are left.
    Body {
        left: u64,
    },
    /// Inside the handshake that comes before the frames: how many bytes are left.
    Handshake {
        handshake: Handshake,
        left: u64,
    },
    /// The stream stopped making sense (a negative length): stop colouring it.
    Lost,
}

impl Scanner {
    fn feed(
        &mut self,
        format: MessageFormat,
        mut at: u64,
        mut bytes: &[u8],
        parts: &mut Vec<Part>,
    ) {
        let order = match format {
            MessageFormat::Writes => return,
            MessageFormat::LengthPrefixed(order) | MessageFormat::JsonHeader(order) => order,
            MessageFormat::AfterHandshake(..) => LengthOrder::Little,
        };
        while !bytes.is_empty() {
            let (taken, kind) = match std::mem::take(&mut self.state) {
                ScanState::Lost => {
                    self.state = ScanState::Lost;
                    return;
                }
                ScanState::Length => {
                    // A new message starts with its length.
                    self.message = Some(self.message.map_or(0, |m| m + 1));
                    self.length_byte(Vec::new(), bytes, order, format)
                }
                ScanState::LengthSoFar(so_far) => self.length_byte(so_far, bytes, order, format),
                ScanState::Json { mut seen, left } => {
                    let n = take_up_to(left, bytes);
                    if seen.len() < MAX_SCANNED_HEADER {
                        seen.extend_from_slice(bytes.get(..n).unwrap_or_default());
                    }
                    let left = left - n as u64;
                    self.state = match (left, body_size(&seen)) {
                        (0, Some(size)) if size > 0 => ScanState::Body { left: size },
                        (0, _) => ScanState::Length,
                        (left, _) => ScanState::Json { seen, left },
                    };
                    (n, PartKind::Json)
                }
                ScanState::Handshake { handshake, left } => {
                    // The handshake is message 0; the first frame is message 1.
                    self.message = Some(0);
                    let n = take_up_to(left, bytes);
                    let left = left - n as u64;
                    if left > 0 {
                        self.state = ScanState::Handshake { handshake, left };
                    }
                    (n, PartKind::Handshake(handshake))
                }
                ScanState::Body { left } => {
                    let n = take_up_to(left, bytes);
                    let left = left - n as u64;
                    if left > 0 {
                        self.state = ScanState::Body { left };
                    }
                    (n, PartKind::Body)
                }
            };
            add_part(parts, at, taken as u64, kind, self.message.unwrap_or(0));
            at += taken as u64;
            bytes = bytes.get(taken..).unwrap_or_default();
        }
    }

    /// Consumes one byte of a length header; at the fourth, decides what follows.
    fn length_byte(
        &mut self,
        mut so_far: Vec<u8>,
        bytes: &[u8],
        order: LengthOrder,
        format: MessageFormat,
    ) -> (usize, PartKind) {
        so_far.extend(bytes.first());
        let Ok(header) = <[u8; LENGTH_SIZE]>::try_from(so_far.as_slice()) else {
            self.state = ScanState::LengthSoFar(so_far);
            return (1, PartKind::Length);
        };
        let len: Option<u32> = match order {
            LengthOrder::Little => i32::from_le_bytes(header).try_into().ok(),
            LengthOrder::Big => Some(u32::from_be_bytes(header)),
        };
        self.state = match (len, format) {
            (None, _) => ScanState::Lost,
            (Some(0), _) => ScanState::Length,
            (Some(len), MessageFormat::JsonHeader(_)) => ScanState::Json {
                seen: Vec::new(),
                left: len.into(),
            },
            (Some(len), _) => ScanState::Body { left: len.into() },
        };
        (1, PartKind::Length)
    }
}

/// How many of `bytes` a part with `left` bytes to go takes.
fn take_up_to(left: u64, bytes: &[u8]) -> usize {
    usize::try_from(left).map_or(bytes.len(), |left| left.min(bytes.len()))
}

/// The keys under which a JSON header announces the size of the body that follows it: lesson
/// 10's `data_size`, lesson 13's `filesize` (a put request, a get reply) and the `file_data_len`
/// of its name-header download. A header with none of them has no body (lesson 13's put reply
/// says `size`: the size of what was stored, not of bytes that follow).
pub const BODY_SIZE_KEYS: [&str; 3] = ["data_size", "filesize", "file_data_len"];

/// The body size a JSON header announces.
fn body_size(json: &[u8]) -> Option<u64> {
    let value: serde_json::Value = serde_json::from_slice(json).ok()?;
    BODY_SIZE_KEYS
        .iter()
        .find_map(|key| value.get(key))
        .and_then(serde_json::Value::as_u64)
}

/// Adds a part, or grows the last one when it continues it.
fn add_part(parts: &mut Vec<Part>, at: u64, len: u64, kind: PartKind, message: usize) {
    if len == 0 {
        return;
    }
    if let Some(last) = parts.last_mut() {
        if last.to == at && last.kind == kind && last.message == message {
            last.to += len;
            return;
        }
    }
    if parts.len() < KEPT_PARTS {
        parts.push(Part {
            from: at,
            to: at + len,
            kind,
            message,
        });
    }
}

/// What a recorder does with its recording each time a traced connection closes: the picture
/// code draws it into a file (`--picture FILE.svg`). The recording does not know how it is drawn:
/// the drawing code depends on the records, never the other way round.
pub type Saver = Arc<dyn Fn(&Recording) + Send + Sync>;

/// A shared place to keep records, cheap to clone: every tracer of one run holds the same one.
/// With a [`Saver`], the recording is handed over each time a traced connection closes, so that
/// a server stopped with Ctrl-C leaves the picture of every conversation it finished.
#[derive(Clone, Default)]
pub struct Recorder {
    inner: Arc<Mutex<Recording>>,
    saver: Option<Saver>,
}

impl fmt::Debug for Recorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Recorder")
            .field("calls", &self.lock().calls())
            .field("saves", &self.saver.is_some())
            .finish()
    }
}

impl Recorder {
    /// Records kept in memory, for a picture drawn by the caller.
    pub fn new(caption: impl Into<String>) -> Recorder {
        let recorder = Recorder::default();
        recorder.lock().caption = caption.into();
        recorder
    }

    /// Records handed to `saver` each time a traced connection closes (see
    /// `picture::svg_file`, behind `--picture FILE.svg`).
    pub fn saving_with(caption: impl Into<String>, saver: Saver) -> Recorder {
        Recorder {
            saver: Some(saver),
            ..Recorder::new(caption)
        }
    }

    /// A copy of everything recorded so far.
    pub fn recording(&self) -> Recording {
        self.lock().clone()
    }

    /// How many bytes `party` moved in `direction` so far.
    pub fn bytes(&self, party: &str, direction: Direction) -> u64 {
        self.lock().bytes(party, direction)
    }

    /// Adds to the caption (`seed 42`, known only after the recorder was made).
    pub fn add_to_caption(&self, more: &str) {
        let mut recording = self.lock();
        if !recording.caption.is_empty() {
            recording.caption.push_str(", ");
        }
        recording.caption.push_str(more);
    }

    pub(crate) fn add(
        &self,
        party: &str,
        direction: Direction,
        key: StreamKey,
        format: MessageFormat,
        bytes: &[u8],
    ) -> Record {
        self.lock().add(party, direction, key, format, bytes)
    }

    pub(crate) fn add_failure(
        &self,
        party: &str,
        direction: Direction,
        key: StreamKey,
        why: &str,
    ) -> Record {
        self.lock().add_failure(party, direction, key, why)
    }

    /// Says that the bytes of stream `to` are those of stream `from`, forwarded by a proxy.
    pub fn relay(&self, from: StreamKey, to: StreamKey) {
        self.lock().relay(from, to);
    }

    /// Hands the recording so far to the recorder's saver, if it has one.
    pub fn save(&self) {
        if let Some(saver) = &self.saver {
            saver(&self.recording());
        }
    }

    fn lock(&self) -> MutexGuard<'_, Recording> {
        // A thread that panicked while holding the lock left a recording that is still whole
        // (every update is a push or an addition): keep using it.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u64) -> StreamKey {
        StreamKey::Unnamed {
            wrapper: n,
            direction: Direction::Send,
        }
    }

    #[test]
    fn offsets_count_per_stream_and_direction() {
        let mut r = Recording::default();
        let a = r.add(
            "client",
            Direction::Send,
            key(1),
            MessageFormat::Writes,
            b"hello",
        );
        let b = r.add(
            "client",
            Direction::Send,
            key(1),
            MessageFormat::Writes,
            b"world",
        );
        let c = r.add(
            "server",
            Direction::Recv,
            key(1),
            MessageFormat::Writes,
            b"hellowor",
        );
        let d = r.add(
            "client",
            Direction::Send,
            key(2),
            MessageFormat::Writes,
            b"x",
        );
        assert_eq!((a.from, a.to(), b.from, b.to()), (0, 5, 5, 10));
        assert_eq!((c.stream, c.from, c.to()), (0, 0, 8));
        assert_eq!((d.stream, d.from), (1, 0));
    }

    #[test]
    fn calls_past_the_limit_are_folded() {
        let mut r = Recording::default();
        for _ in 0..KEPT_CALLS + 10 {
            r.add(
                "server",
                Direction::Recv,
                key(1),
                MessageFormat::Writes,
                b"ab",
            );
        }
        assert_eq!(r.records.len(), KEPT_CALLS);
        assert_eq!(r.calls(), KEPT_CALLS as u64 + 10);
        let folded = &r.folded[0];
        assert_eq!((folded.calls, folded.smallest, folded.largest), (10, 2, 2));
        assert_eq!(
            (folded.from, folded.to),
            (2 * KEPT_CALLS as u64, 2 * KEPT_CALLS as u64 + 20)
        );
    }

    #[test]
    fn frames_are_found_across_calls() {
        let mut r = Recording::default();
        let format = MessageFormat::LengthPrefixed(LengthOrder::Little);
        // "hello" and "world" as frames, cut at awkward places.
        let wire = b"\x05\x00\x00\x00hello\x05\x00\x00\x00world";
        for piece in [&wire[..2], &wire[2..7], &wire[7..12], &wire[12..]] {
            r.add("server", Direction::Recv, key(1), format, piece);
        }
        let parts: Vec<(u64, u64, PartKind, usize)> = r.streams[0]
            .parts
            .iter()
            .map(|p| (p.from, p.to, p.kind, p.message))
            .collect();
        assert_eq!(
            parts,
            vec![
                (0, 4, PartKind::Length, 0),
                (4, 9, PartKind::Body, 0),
                (9, 13, PartKind::Length, 1),
                (13, 18, PartKind::Body, 1),
            ]
        );
    }

    #[test]
    fn a_handshake_comes_before_the_frames_as_message_0() {
        let mut r = Recording::default();
        let format = MessageFormat::AfterHandshake(Handshake::Challenge, 3);
        // A 3-byte challenge and the frame "hi", read in pieces that cut across both.
        let wire = b"abc\x02\x00\x00\x00hi";
        for piece in [&wire[..2], &wire[2..5], &wire[5..]] {
            r.add("client", Direction::Recv, key(1), format, piece);
        }
        let parts: Vec<(u64, u64, PartKind, usize)> = r.streams[0]
            .parts
            .iter()
            .map(|p| (p.from, p.to, p.kind, p.message))
            .collect();
        assert_eq!(
            parts,
            vec![
                (0, 3, PartKind::Handshake(Handshake::Challenge), 0),
                (3, 7, PartKind::Length, 1),
                (7, 9, PartKind::Body, 1),
            ]
        );
    }

    #[test]
    fn a_json_header_announces_its_body() {
        let mut r = Recording::default();
        let json = br#"{"data_size":3}"#;
        let mut wire = (json.len() as i32).to_le_bytes().to_vec();
        wire.extend_from_slice(json);
        wire.extend_from_slice(b"hi\n");
        let format = MessageFormat::JsonHeader(LengthOrder::Little);
        r.add("client", Direction::Recv, key(1), format, &wire);
        let kinds: Vec<(PartKind, u64)> = r.streams[0]
            .parts
            .iter()
            .map(|p| (p.kind, p.to - p.from))
            .collect();
        assert_eq!(
            kinds,
            vec![
                (PartKind::Length, 4),
                (PartKind::Json, json.len() as u64),
                (PartKind::Body, 3)
            ]
        );
    }

    #[test]
    fn lesson_13s_filesize_announces_a_body_and_its_size_does_not() {
        let mut r = Recording::default();
        let mut wire = Vec::new();
        for json in [
            &br#"{"cmd":"put","filename":"a","filesize":2}"#[..],
            br#"{"status":"ok","size":2}"#,
        ] {
            wire.extend_from_slice(&(json.len() as i32).to_le_bytes());
            wire.extend_from_slice(json);
            wire.extend_from_slice(b"hi");
        }
        let format = MessageFormat::JsonHeader(LengthOrder::Little);
        r.add("client", Direction::Send, key(1), format, &wire);
        let kinds: Vec<(PartKind, usize)> = r.streams[0]
            .parts
            .iter()
            .map(|p| (p.kind, p.message))
            .collect();
        // The put's header and body, then the reply, whose "hi" starts a message of its own.
        assert_eq!(
            kinds,
            vec![
                (PartKind::Length, 0),
                (PartKind::Json, 0),
                (PartKind::Body, 0),
                (PartKind::Length, 1),
                (PartKind::Json, 1),
                (PartKind::Length, 2),
            ]
        );
    }

    #[test]
    fn a_gigabyte_body_keeps_the_recording_small() {
        // Lesson 13's put of 1 GiB, read 64 KiB at a time: 16,384 calls.
        let mut r = Recording::default();
        let format = MessageFormat::JsonHeader(LengthOrder::Little);
        let json = br#"{"cmd":"put","filename":"big","filesize":1073741824}"#;
        r.add(
            "server",
            Direction::Recv,
            key(1),
            format,
            &(json.len() as i32).to_le_bytes(),
        );
        r.add("server", Direction::Recv, key(1), format, json);
        let chunk = vec![7u8; 64 * 1024];
        for _ in 0..(1 << 30) / chunk.len() {
            r.add("server", Direction::Recv, key(1), format, &chunk);
        }
        assert_eq!(r.records.len(), KEPT_CALLS);
        assert_eq!(r.folded.len(), 1);
        assert_eq!(r.folded[0].to, 4 + json.len() as u64 + (1 << 30));
        let kinds: Vec<PartKind> = r.streams[0].parts.iter().map(|p| p.kind).collect();
        assert_eq!(
            kinds,
            vec![PartKind::Length, PartKind::Json, PartKind::Body]
        );
    }

    #[test]
    fn a_negative_length_stops_the_colouring() {
        let mut r = Recording::default();
        let format = MessageFormat::LengthPrefixed(LengthOrder::Little);
        r.add(
            "server",
            Direction::Recv,
            key(1),
            format,
            b"\xff\xff\xff\xffabc",
        );
        assert_eq!(r.streams[0].parts.len(), 1);
    }
}
