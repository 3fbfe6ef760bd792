//! Record files: a recording written to disk and read back, so that two processes' recordings of
//! one conversation (a student's client in one terminal, the server in another) can be drawn as
//! one picture.
//!
//! The file is one JSON document: the caption, every stream (named by its two addresses, so the
//! writer's and the reader's files name the same TCP stream alike), the calls kept and the calls
//! folded. It is read like anything else that comes from outside: bounded in size, and every index,
//! offset and count checked, so that a damaged or hostile file gives a [`RecordFileError`], never a
//! panic and never a picture that cannot be drawn.

use std::collections::HashMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

use super::{
    Direction, Folded, Handshake, MessageFormat, Part, PartKind, Record, Recording, StreamInfo,
    StreamKey, KEPT_CALLS, KEPT_PARTS, PREVIEW_KEPT,
};
use crate::framing::LengthOrder;

/// What the first field of a record file says.
const MAGIC: &str = "socklab-records";
const VERSION: u32 = 1;
/// Largest record file read: a recording keeps at most [`KEPT_CALLS`] calls, so a real one is
/// far smaller.
pub const MAX_FILE: usize = 8 * 1024 * 1024;
/// Most streams and folded summaries a file may hold.
const MAX_STREAMS: usize = 10_000;
/// Longest party name.
const MAX_PARTY: usize = 200;
/// Calls a merged recording keeps: those of both sides.
const MERGED_CALLS: usize = 4 * KEPT_CALLS;

/// Why a record file could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum RecordFileError {
    #[error("the file is {0} bytes, over the limit of {MAX_FILE}")]
    TooLarge(usize),
    #[error("not a record file: {0}")]
    NotJson(String),
    #[error("not a socklab record file of version {VERSION}")]
    WrongKind,
    #[error("the record file is inconsistent: {0}")]
    Inconsistent(&'static str),
}

#[derive(Serialize, Deserialize)]
struct FileOut {
    kind: String,
    version: u32,
    caption: String,
    streams: Vec<StreamOut>,
    records: Vec<RecordOut>,
    folded: Vec<FoldedOut>,
}

#[derive(Serialize, Deserialize)]
struct StreamOut {
    /// The sender's and the receiver's address; absent for a stream without addresses.
    from: Option<SocketAddr>,
    to: Option<SocketAddr>,
    format: String,
    /// (from, to, kind, message).
    parts: Vec<(u64, u64, String, usize)>,
    relayed_from: Option<usize>,
}

#[derive(Serialize, Deserialize)]
struct RecordOut {
    party: String,
    direction: String,
    stream: usize,
    from: u64,
    len: u64,
    /// The kept bytes, in hex.
    preview: String,
    micros: u64,
    /// Why the call failed (absent for a call that worked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    failed: Option<String>,
}

#[derive(Serialize, Deserialize)]
struct FoldedOut {
    party: String,
    direction: String,
    stream: usize,
    calls: u64,
    from: u64,
    to: u64,
    smallest: u64,
    largest: u64,
}

/// A recording as a record file.
pub fn write_records(recording: &Recording) -> String {
    let mut keys: Vec<Option<StreamKey>> = vec![None; recording.streams.len()];
    for (key, &i) in &recording.stream_ids {
        if let Some(slot) = keys.get_mut(i) {
            *slot = Some(*key);
        }
    }
    let streams = recording
        .streams
        .iter()
        .zip(keys)
        .map(|(info, key)| {
            let (from, to) = match key {
                Some(StreamKey::Tcp { from, to }) => (Some(from), Some(to)),
                _ => (None, None),
            };
            StreamOut {
                from,
                to,
                format: format_name(info.format),
                parts: info
                    .parts
                    .iter()
                    .map(|p| (p.from, p.to, kind_name(p.kind).to_string(), p.message))
                    .collect(),
                relayed_from: info.relayed_from,
            }
        })
        .collect();
    let file = FileOut {
        kind: MAGIC.to_string(),
        version: VERSION,
        caption: recording.caption.clone(),
        streams,
        records: recording
            .records
            .iter()
            .map(|r| RecordOut {
                party: r.party.clone(),
                direction: r.direction.name().to_string(),
                stream: r.stream,
                from: r.from,
                len: r.len,
                preview: hex::encode(&r.preview),
                micros: u64::try_from(r.at.as_micros()).unwrap_or(u64::MAX),
                failed: r.failed.clone(),
            })
            .collect(),
        folded: recording
            .folded
            .iter()
            .map(|f| FoldedOut {
                party: f.party.clone(),
                direction: f.direction.name().to_string(),
                stream: f.stream,
                calls: f.calls,
                from: f.from,
                to: f.to,
                smallest: f.smallest,
                largest: f.largest,
            })
            .collect(),
    };
    // Plain data with string keys: serialising it cannot fail.
    serde_json::to_string(&file).unwrap_or_default() + "\n"
}

/// A [`super::Saver`] that writes the recording into `file` as a record file (`--picture
/// FILE.json`). A failure is reported on stderr rather than ending the program: the file is a
/// by-product of the run.
pub fn record_file(file: std::path::PathBuf) -> super::Saver {
    std::sync::Arc::new(move |recording: &Recording| {
        let written = match file.parent().filter(|d| !d.as_os_str().is_empty()) {
            Some(dir) => std::fs::create_dir_all(dir),
            None => Ok(()),
        }
        .and_then(|()| std::fs::write(&file, write_records(recording)));
        if let Err(e) = written {
            eprintln!("cannot write the record file {}: {e}", file.display());
        }
    })
}

/// Reads a record file back into a recording.
pub fn read_records(bytes: &[u8]) -> Result<Recording, RecordFileError> {
    if bytes.len() > MAX_FILE {
        return Err(RecordFileError::TooLarge(bytes.len()));
    }
    let file: FileOut =
        serde_json::from_slice(bytes).map_err(|e| RecordFileError::NotJson(e.to_string()))?;
    if file.kind != MAGIC || file.version != VERSION {
        return Err(RecordFileError::WrongKind);
    }
    use RecordFileError::Inconsistent;
    if file.streams.len() > MAX_STREAMS || file.folded.len() > MAX_STREAMS {
        return Err(Inconsistent("too many streams"));
    }
    if file.records.len() > MERGED_CALLS {
        return Err(Inconsistent("too many calls"));
    }
    let n = file.streams.len();
    let mut recording = Recording {
        caption: file.caption,
        ..Recording::default()
    };
    for (i, stream) in file.streams.into_iter().enumerate() {
        let key = match (stream.from, stream.to) {
            (Some(from), Some(to)) => StreamKey::Tcp { from, to },
            (None, None) => unnamed(i),
            _ => return Err(Inconsistent("a stream with one address")),
        };
        if recording.stream_ids.insert(key, i).is_some() {
            return Err(Inconsistent("two streams with the same addresses"));
        }
        if stream.relayed_from.is_some_and(|r| r >= n || r == i) {
            return Err(Inconsistent("a stream relayed from no stream"));
        }
        if stream.parts.len() > KEPT_PARTS {
            return Err(Inconsistent("too many message parts"));
        }
        let mut parts = Vec::with_capacity(stream.parts.len());
        let (mut at, mut last) = (0, 0);
        for (from, to, kind, message) in stream.parts {
            // Parts follow each other; messages are counted 0, 1, 2, ... as a scanner does.
            if from < at || to <= from || message < last || message > last + 1 {
                return Err(Inconsistent("message parts out of order"));
            }
            (at, last) = (to, message);
            parts.push(Part {
                from,
                to,
                kind: kind_of(&kind).ok_or(Inconsistent("an unknown part kind"))?,
                message,
            });
        }
        recording.streams.push(StreamInfo {
            format: format_of(&stream.format).ok_or(Inconsistent("an unknown format"))?,
            parts,
            relayed_from: stream.relayed_from,
            ..StreamInfo::default()
        });
    }
    for r in file.records {
        let preview = hex::decode(&r.preview).map_err(|_| Inconsistent("a preview not in hex"))?;
        let to = r.from.checked_add(r.len);
        if r.stream >= n || to.is_none() || preview.len() > PREVIEW_KEPT {
            return Err(Inconsistent("a call out of range"));
        }
        if preview.len() as u64 > r.len || r.party.chars().count() > MAX_PARTY {
            return Err(Inconsistent("a call out of range"));
        }
        let failed_len = r.failed.as_ref().map(|why| why.chars().count());
        if failed_len.is_some_and(|n| n > MAX_PARTY) || (failed_len.is_some() && r.len > 0) {
            return Err(Inconsistent(
                "a failed call that moved bytes, or a long reason",
            ));
        }
        let record = Record {
            party: r.party,
            direction: direction_of(&r.direction).ok_or(Inconsistent("an unknown direction"))?,
            stream: r.stream,
            from: r.from,
            len: r.len,
            preview,
            at: std::time::Duration::from_micros(r.micros),
            failed: r.failed,
        };
        recording.note_offset(record.stream, record.direction, record.to());
        recording.records.push(record);
    }
    for f in file.folded {
        let bad = f.stream >= n
            || f.from > f.to
            || f.calls == 0
            || f.smallest > f.largest
            || f.party.chars().count() > MAX_PARTY;
        if bad {
            return Err(Inconsistent("a folded summary out of range"));
        }
        let folded = Folded {
            party: f.party,
            direction: direction_of(&f.direction).ok_or(Inconsistent("an unknown direction"))?,
            stream: f.stream,
            calls: f.calls,
            from: f.from,
            to: f.to,
            smallest: f.smallest,
            largest: f.largest,
        };
        recording.note_offset(folded.stream, folded.direction, folded.to);
        recording.folded.push(folded);
    }
    Ok(recording)
}

impl Recording {
    /// Keeps the stream's offset past `to`, so that calls added later continue it.
    fn note_offset(&mut self, stream: usize, direction: Direction, to: u64) {
        let offset = self.offsets.entry((stream, direction)).or_insert(0);
        *offset = (*offset).max(to);
    }

    /// Adds another process's recording of the same conversation: streams with the same two
    /// addresses are the same stream (the client's writes and the server's reads of them), the
    /// others are added as they are.
    pub fn merge(&mut self, other: &Recording) {
        let mut keys: Vec<Option<StreamKey>> = vec![None; other.streams.len()];
        for (key, &i) in &other.stream_ids {
            if let Some(slot) = keys.get_mut(i) {
                *slot = Some(*key);
            }
        }
        let first_new = self.streams.len();
        let mut mapped: HashMap<usize, usize> = HashMap::new();
        for (i, (info, key)) in other.streams.iter().zip(keys).enumerate() {
            let key = match key {
                Some(key @ StreamKey::Tcp { .. }) => key,
                _ => unnamed(first_new + i),
            };
            let id = self.stream_id(key);
            mapped.insert(i, id);
            if let Some(mine) = self.streams.get_mut(id) {
                if mine.parts.is_empty() && !info.parts.is_empty() {
                    mine.parts = info.parts.clone();
                    mine.format = info.format;
                }
            }
        }
        for (i, info) in other.streams.iter().enumerate() {
            let from = info.relayed_from.and_then(|r| mapped.get(&r).copied());
            let to = mapped.get(&i).and_then(|&id| self.streams.get_mut(id));
            if let (Some(from), Some(to)) = (from, to) {
                to.relayed_from = Some(from);
            }
        }
        let map = |stream: usize| mapped.get(&stream).copied().unwrap_or(stream);
        for record in other
            .records
            .iter()
            .take(MERGED_CALLS - self.records.len().min(MERGED_CALLS))
        {
            let record = Record {
                stream: map(record.stream),
                ..record.clone()
            };
            self.note_offset(record.stream, record.direction, record.to());
            self.records.push(record);
        }
        for folded in &other.folded {
            let folded = Folded {
                stream: map(folded.stream),
                ..folded.clone()
            };
            self.note_offset(folded.stream, folded.direction, folded.to);
            self.folded.push(folded);
        }
        if !other.caption.is_empty() {
            if !self.caption.is_empty() {
                self.caption.push_str(" + ");
            }
            self.caption.push_str(&other.caption);
        }
    }
}

/// The key of a stream without addresses, `i`th of its file: it matches no other stream.
fn unnamed(i: usize) -> StreamKey {
    StreamKey::Unnamed {
        wrapper: u64::MAX - i as u64,
        direction: Direction::Send,
    }
}

fn format_name(format: MessageFormat) -> String {
    match format {
        MessageFormat::Writes => "writes".into(),
        MessageFormat::LengthPrefixed(LengthOrder::Little) => "length-le".into(),
        MessageFormat::LengthPrefixed(LengthOrder::Big) => "length-be".into(),
        MessageFormat::JsonHeader(LengthOrder::Little) => "json-le".into(),
        MessageFormat::JsonHeader(LengthOrder::Big) => "json-be".into(),
        MessageFormat::AfterHandshake(Handshake::Challenge, len) => format!("challenge-{len}"),
        MessageFormat::AfterHandshake(Handshake::Answer, len) => format!("answer-{len}"),
    }
}

fn format_of(name: &str) -> Option<MessageFormat> {
    Some(match name {
        "writes" => MessageFormat::Writes,
        "length-le" => MessageFormat::LengthPrefixed(LengthOrder::Little),
        "length-be" => MessageFormat::LengthPrefixed(LengthOrder::Big),
        "json-le" => MessageFormat::JsonHeader(LengthOrder::Little),
        "json-be" => MessageFormat::JsonHeader(LengthOrder::Big),
        _ => {
            let (handshake, len) = match name.split_once('-')? {
                ("challenge", len) => (Handshake::Challenge, len),
                ("answer", len) => (Handshake::Answer, len),
                _ => return None,
            };
            MessageFormat::AfterHandshake(handshake, len.parse().ok()?)
        }
    })
}

fn kind_name(kind: PartKind) -> &'static str {
    match kind {
        PartKind::Length => "length",
        PartKind::Json => "json",
        PartKind::Body => "body",
        PartKind::Handshake(Handshake::Challenge) => "challenge",
        PartKind::Handshake(Handshake::Answer) => "answer",
    }
}

fn kind_of(name: &str) -> Option<PartKind> {
    Some(match name {
        "length" => PartKind::Length,
        "json" => PartKind::Json,
        "body" => PartKind::Body,
        "challenge" => PartKind::Handshake(Handshake::Challenge),
        "answer" => PartKind::Handshake(Handshake::Answer),
        _ => return None,
    })
}

fn direction_of(name: &str) -> Option<Direction> {
    match name {
        "send" => Some(Direction::Send),
        "recv" => Some(Direction::Recv),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn tcp(from: u16, to: u16) -> StreamKey {
        StreamKey::Tcp {
            from: SocketAddr::from(([127, 0, 0, 1], from)),
            to: SocketAddr::from(([127, 0, 0, 1], to)),
        }
    }

    /// Everything of a recording a file keeps: the caption, each stream's addresses, format,
    /// parts and relay, each call (its time to the microsecond, as the file keeps it) and the
    /// folded calls.
    fn essence(r: &Recording) -> String {
        let records: Vec<String> = r
            .records
            .iter()
            .map(|c| {
                format!(
                    "{} {:?} {} {} {} {:?} {} {:?}",
                    c.party,
                    c.direction,
                    c.stream,
                    c.from,
                    c.len,
                    c.preview,
                    c.at.as_micros(),
                    c.failed
                )
            })
            .collect();
        let streams: Vec<String> = r
            .streams
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let addresses = match r.stream_key(i) {
                    Some(StreamKey::Tcp { from, to }) => Some((from, to)),
                    _ => None,
                };
                format!(
                    "{addresses:?} {:?} {:?} {:?}",
                    s.format, s.parts, s.relayed_from
                )
            })
            .collect();
        format!("{}|{records:?}|{:?}|{streams:?}", r.caption, r.folded)
    }

    /// One call a property test makes: who, which way, on which stream (some without
    /// addresses), in which message format (every one a file can name), and whether it failed.
    #[derive(Debug, Clone)]
    struct Call {
        party: usize,
        send: bool,
        stream: u16,
        format: MessageFormat,
        bytes: Vec<u8>,
        failed: Option<String>,
    }

    fn format() -> impl Strategy<Value = MessageFormat> {
        let order = prop_oneof![Just(LengthOrder::Little), Just(LengthOrder::Big)];
        let handshake = prop_oneof![Just(Handshake::Challenge), Just(Handshake::Answer)];
        prop_oneof![
            Just(MessageFormat::Writes),
            order.clone().prop_map(MessageFormat::LengthPrefixed),
            order.prop_map(MessageFormat::JsonHeader),
            (handshake, 0..40u64).prop_map(|(h, len)| MessageFormat::AfterHandshake(h, len)),
        ]
    }

    fn call() -> impl Strategy<Value = Call> {
        let failed = prop_oneof![
            4 => Just(None),
            1 => "[a-z :]{0,30}".prop_map(Some),
        ];
        (
            0..3usize,
            any::<bool>(),
            0..6u16,
            format(),
            prop::collection::vec(any::<u8>(), 0..80),
            failed,
        )
            .prop_map(|(party, send, stream, format, bytes, failed)| Call {
                party,
                send,
                stream,
                format,
                bytes,
                failed,
            })
    }

    /// Streams 0 to 3 have addresses, 4 and 5 (a test's `Vec`, a UDP socket) have none.
    fn key_of(stream: u16) -> StreamKey {
        if stream < 4 {
            tcp(stream, 9000)
        } else {
            StreamKey::Unnamed {
                wrapper: stream.into(),
                direction: Direction::Send,
            }
        }
    }

    /// A recording of `calls`, after `padding` one-byte calls (enough to fold calls past
    /// [`KEPT_CALLS`]), with the relays given as (from, to) streams.
    fn recorded_with(calls: &[Call], padding: usize, relays: &[(u16, u16)]) -> Recording {
        let mut r = Recording {
            caption: "a 'run' <&>".into(),
            ..Recording::default()
        };
        for _ in 0..padding {
            r.add(
                "client",
                Direction::Send,
                tcp(7, 9000),
                MessageFormat::Writes,
                b"x",
            );
        }
        for c in calls {
            let direction = if c.send {
                Direction::Send
            } else {
                Direction::Recv
            };
            let party = ["client", "server", "proxy"][c.party];
            match &c.failed {
                Some(why) => {
                    r.add_failure(party, direction, key_of(c.stream), why);
                }
                None => {
                    r.add(party, direction, key_of(c.stream), c.format, &c.bytes);
                }
            }
        }
        for &(from, to) in relays {
            if from != to {
                r.relay(key_of(from), key_of(to));
            }
        }
        r
    }

    fn recorded(calls: &[Call]) -> Recording {
        recorded_with(calls, 0, &[])
    }

    #[test]
    fn a_recording_reads_back_to_itself() {
        let mut r = recorded(&[]);
        r.add(
            "client",
            Direction::Send,
            tcp(1, 2),
            MessageFormat::Writes,
            b"hello",
        );
        r.relay(tcp(1, 2), tcp(3, 4));
        let back = read_records(write_records(&r).as_bytes()).unwrap();
        assert_eq!(essence(&back), essence(&r));
    }

    #[test]
    fn two_sides_merge_by_their_addresses() {
        let mut client = Recording::default();
        client.add(
            "client",
            Direction::Send,
            tcp(5000, 9007),
            MessageFormat::Writes,
            b"ls",
        );
        let mut server = Recording::default();
        server.add(
            "server",
            Direction::Send,
            tcp(9007, 5000),
            MessageFormat::Writes,
            b"x",
        );
        server.add(
            "server",
            Direction::Recv,
            tcp(5000, 9007),
            MessageFormat::Writes,
            b"ls",
        );
        client.merge(&server);
        assert_eq!(client.streams.len(), 2);
        let streams: Vec<(&str, usize)> = client
            .records
            .iter()
            .map(|r| (r.party.as_str(), r.stream))
            .collect();
        assert_eq!(streams, vec![("client", 0), ("server", 1), ("server", 0)]);
    }

    #[test]
    fn bad_files_are_typed_errors() {
        assert!(matches!(
            read_records(b"{"),
            Err(RecordFileError::NotJson(_))
        ));
        let wrong =
            br#"{"kind":"x","version":1,"caption":"","streams":[],"records":[],"folded":[]}"#;
        assert!(matches!(
            read_records(wrong),
            Err(RecordFileError::WrongKind)
        ));
        let out_of_range = r#"{"kind":"socklab-records","version":1,"caption":"","streams":[],"records":[{"party":"a","direction":"send","stream":0,"from":0,"len":1,"preview":"","micros":0}],"folded":[]}"#;
        assert!(matches!(
            read_records(out_of_range.as_bytes()),
            Err(RecordFileError::Inconsistent(_))
        ));
    }

    proptest! {
        #[test]
        fn every_written_recording_reads_back_to_itself(
            calls in prop::collection::vec(call(), 0..60),
            padding in prop_oneof![Just(0), Just(KEPT_CALLS - 3)],
            relays in prop::collection::vec((0..6u16, 0..6u16), 0..3),
        ) {
            let r = recorded_with(&calls, padding, &relays);
            let back = read_records(write_records(&r).as_bytes());
            prop_assert!(back.is_ok(), "{:?}", back.err());
            prop_assert_eq!(essence(&back.unwrap_or_default()), essence(&r));
        }

        #[test]
        fn any_bytes_give_a_recording_or_an_error(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
            let _ = read_records(&bytes);
        }

        #[test]
        fn a_damaged_file_gives_a_recording_or_an_error(
            calls in prop::collection::vec(call(), 1..20),
            at in any::<prop::sample::Index>(),
            byte in any::<u8>(),
        ) {
            let mut file = write_records(&recorded(&calls)).into_bytes();
            let i = at.index(file.len());
            if let Some(b) = file.get_mut(i) {
                *b = byte;
            }
            let _ = read_records(&file);
        }
    }
}
