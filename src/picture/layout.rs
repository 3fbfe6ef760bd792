//! Which boxes a recording becomes, and where they go: one box per call, runs of equal calls
//! folded into one box in time order, rows as the order of calls, messages numbered as they first
//! appear.

use std::collections::HashMap;
use std::net::SocketAddr;

use super::order::{place, rank_by_first};
use super::pieces::{fill_gaps, push_overlap, Colour, Piece};
use crate::recording::{Direction, PartKind, Record, Recording, StreamKey, LANE_SEPARATOR};

/// A run of at least this many calls of the same size, one after the other, is drawn as its first
/// call and one box for the rest ("#2–10: 9 × 1 B"): ten one-byte reads say no more than two boxes.
const FOLD_RUN: usize = 3;
/// Most rows a panel has unless its picture needs fewer; the calls past it are folded, per
/// party, into one box each.
pub(super) const MAX_ROWS: usize = 40;
/// Fewest rows a panel is cut to.
pub(super) const MIN_ROWS: usize = 6;

/// A box of the timeline: one call, or several folded into one.
pub(super) struct Item {
    pub(super) lane: usize,
    pub(super) direction: Direction,
    pub(super) stream: usize,
    pub(super) from: u64,
    pub(super) to: u64,
    pub(super) row: usize,
    /// The call, or a stand-in for the calls folded here (their bytes as far as kept); `None`
    /// when nothing of them was kept (past [`crate::recording::KEPT_CALLS`]).
    pub(super) record: Option<Record>,
    /// 1 for a call.
    pub(super) calls: u64,
    pub(super) smallest: u64,
    pub(super) largest: u64,
    /// The number of its (first) call among its party's sends or receives on its connection.
    pub(super) number: u64,
}

impl Item {
    pub(super) fn len(&self) -> u64 {
        self.to - self.from
    }

    /// Did the connection break under this call (it moved no bytes)?
    pub(super) fn is_failed(&self) -> bool {
        self.record.as_ref().is_some_and(|r| r.failed.is_some())
    }

    pub(super) fn is_call(&self) -> bool {
        self.calls == 1 && self.record.is_some()
    }

    fn from_record(lane: usize, record: &Record, number: u64) -> Item {
        Item {
            lane,
            direction: record.direction,
            stream: record.stream,
            from: record.from,
            to: record.to(),
            row: 0,
            record: Some(record.clone()),
            calls: 1,
            smallest: record.len,
            largest: record.len,
            number,
        }
    }

    /// Folds `more` (which follows on the same stream, in the same direction) into this box.
    fn absorb(&mut self, more: &Item) {
        if let (Some(record), Some(next)) = (&mut self.record, &more.record) {
            let whole = record.preview.len() as u64 == record.len;
            if whole && next.from == record.to() {
                let room = crate::recording::PREVIEW_KEPT.saturating_sub(record.preview.len());
                record
                    .preview
                    .extend(next.preview.iter().take(room).copied());
            }
            record.len = more.to.max(self.to) - record.from;
        } else {
            self.record = None;
        }
        self.from = self.from.min(more.from);
        self.to = self.to.max(more.to);
        self.calls = self.calls.saturating_add(more.calls);
        self.smallest = self.smallest.min(more.smallest);
        self.largest = self.largest.max(more.largest);
    }
}

/// Where everything of one recording goes.
pub(super) struct Layout<'a> {
    pub(super) recording: &'a Recording,
    pub(super) lanes: Vec<String>,
    /// In drawing order: by row, then lane.
    pub(super) items: Vec<Item>,
    pub(super) rows: usize,
    /// Stream index in the recording → number in the picture.
    stream_numbers: Vec<usize>,
    /// The writes of each stream, in stream order: on a stream of plain writes, each is a message.
    writes: HashMap<usize, Vec<(u64, u64)>>,
    /// (stream whose bytes they are, message on that stream) → message number in the picture.
    numbers: HashMap<(usize, usize), usize>,
    /// A heading row above each connection's calls, when the picture holds several connections
    /// one after another (a server's clients): (row, heading).
    pub(super) headings: Vec<(usize, String)>,
}

impl<'a> Layout<'a> {
    pub(super) fn new(recording: &'a Recording, max_rows: usize) -> Layout<'a> {
        let mut lanes: Vec<String> = Vec::new();
        let mut lane_of = |party: &str| match lanes.iter().position(|l| l == party) {
            Some(i) => i,
            None => {
                lanes.push(party.to_string());
                lanes.len() - 1
            }
        };
        // Calls are counted per connection, as a server's log counts them: its third client's
        // first command is `recv #1`, not the number of reads before it.
        let mut counters: HashMap<(usize, Direction, usize), u64> = HashMap::new();
        let mut calls: Vec<Item> = Vec::new();
        let sockets = socket_lanes(recording);
        let lane_name = |party: &'a str, stream: usize| -> String {
            sockets
                .get(&(party, stream))
                .cloned()
                .unwrap_or_else(|| party.to_string())
        };
        for record in &recording.records {
            let lane = lane_of(&lane_name(&record.party, record.stream));
            let counter = counters
                .entry((lane, record.direction, record.stream))
                .or_insert(0);
            // A failed call is drawn but not counted: the log counts only calls that returned.
            if record.failed.is_some() {
                calls.push(Item::from_record(lane, record, 0));
                continue;
            }
            *counter += 1;
            calls.push(Item::from_record(lane, record, *counter));
        }
        for folded in &recording.folded {
            let lane = lane_of(&lane_name(&folded.party, folded.stream));
            let counter = counters
                .entry((lane, folded.direction, folded.stream))
                .or_insert(0);
            calls.push(Item {
                lane,
                direction: folded.direction,
                stream: folded.stream,
                from: folded.from,
                to: folded.to,
                row: 0,
                record: None,
                calls: folded.calls,
                smallest: folded.smallest,
                largest: folded.largest,
                number: counter.saturating_add(1),
            });
            *counter = counter.saturating_add(folded.calls);
        }
        for (stream, read) in untraced_peers(recording, &calls) {
            calls.push(Item {
                lane: lane_of(PEER),
                direction: Direction::Send,
                stream,
                from: 0,
                to: read,
                row: 0,
                record: None,
                calls: 0,
                smallest: 0,
                largest: 0,
                number: 0,
            });
        }
        let mut items = fold_runs(calls, |item| plain_writes(recording, item));
        // Lanes of one program (`server`, `server · data`) keep its order of calls.
        let program_of_lane: Vec<usize> = lanes
            .iter()
            .map(|party| {
                let program = crate::recording::program_of(party);
                lanes
                    .iter()
                    .position(|l| l == program || crate::recording::program_of(l) == program)
                    .unwrap_or(0)
            })
            .collect();
        let rows = place(&mut items, &program_of_lane);
        let (mut items, rows) = fold_past(items, rows, max_rows.max(MIN_ROWS));
        let (headings, rows) = connection_blocks(recording, &mut items, rows);
        // Lanes left to right and streams by number in the order they first act in the picture,
        // not in the order threads happened to record them: the same run, the same picture.
        let lane_rank = rank_by_first(&items, lanes.len(), |item| (item.lane, (item.row, 0)));
        let mut ordered = vec![String::new(); lanes.len()];
        for (old, party) in lanes.into_iter().enumerate() {
            if let Some(slot) = lane_rank.get(old).and_then(|&new| ordered.get_mut(new)) {
                *slot = party;
            }
        }
        for item in &mut items {
            item.lane = lane_rank.get(item.lane).copied().unwrap_or(item.lane);
        }
        let stream_numbers = rank_by_first(&items, recording.streams.len(), |item| {
            (item.stream, (item.row, item.lane))
        });
        // Drawn in picture order, so the file does not depend on which thread recorded first.
        items.sort_by_key(|item| (item.row, item.lane));
        let mut writes: HashMap<usize, Vec<(u64, u64)>> = HashMap::new();
        for item in items.iter().filter(|i| i.direction == Direction::Send) {
            if item.is_call() {
                writes
                    .entry(item.stream)
                    .or_default()
                    .push((item.from, item.to));
            }
        }
        for list in writes.values_mut() {
            list.sort_unstable();
        }
        let mut layout = Layout {
            recording,
            lanes: ordered,
            items,
            rows,
            stream_numbers,
            writes,
            numbers: HashMap::new(),
            headings,
        };
        layout.number_messages();
        layout
    }

    /// Numbers the messages 1, 2, 3, ... in the order they first appear in the picture.
    fn number_messages(&mut self) {
        let mut numbers = HashMap::new();
        for item in &self.items {
            let (root, pieces) = self.local_pieces(item.stream, item.from, item.to, 0);
            for piece in pieces {
                if let Some(m) = piece.colour.message() {
                    let next = numbers.len();
                    numbers.entry((root, m)).or_insert(next);
                }
            }
        }
        self.numbers = numbers;
    }

    /// The number a stream has in this picture's attributes (`data-stream`).
    pub(super) fn stream_number(&self, stream: usize) -> usize {
        self.stream_numbers.get(stream).copied().unwrap_or(stream)
    }

    /// The message format of the bytes on `stream`.
    pub(super) fn format(&self, stream: usize) -> crate::recording::MessageFormat {
        self.recording
            .streams
            .get(stream)
            .map(|s| s.format)
            .unwrap_or_default()
    }

    /// The picture's number (from 0) of message `m` of `root`'s bytes.
    pub(super) fn number(&self, root: usize, m: usize) -> Option<usize> {
        self.numbers.get(&(root, m)).copied()
    }

    /// The pieces of `from..to` on `stream`, coloured by the picture's message numbers.
    pub(super) fn pieces(&self, stream: usize, from: u64, to: u64) -> Vec<Piece> {
        let (root, pieces) = self.local_pieces(stream, from, to, 0);
        pieces
            .into_iter()
            .map(|p| Piece {
                colour: match p.colour {
                    Colour::Message(m) => self
                        .number(root, m)
                        .map_or(Colour::Unknown, Colour::Message),
                    Colour::Json(m) => self.number(root, m).map_or(Colour::Unknown, Colour::Json),
                    Colour::Handshake(m, h) => self
                        .number(root, m)
                        .map_or(Colour::Unknown, |n| Colour::Handshake(n, h)),
                    other => other,
                },
                ..p
            })
            .collect()
    }

    /// The stream whose messages the bytes of `stream` are: itself, or the one a proxy relayed
    /// into it (a few hops at most).
    pub(super) fn root(&self, stream: usize, hops: usize) -> usize {
        let info = self.recording.streams.get(stream);
        match info.and_then(|s| s.relayed_from) {
            Some(source) if hops < 4 => self.root(source, hops + 1),
            _ => stream,
        }
    }

    /// The pieces of `from..to` on `stream` with each stream's own message numbers: by frame part
    /// for a framed stream, else by the write that put the bytes there (when that write is in the
    /// picture), following proxies back. Returns the stream the message numbers belong to.
    fn local_pieces(&self, stream: usize, from: u64, to: u64, hops: usize) -> (usize, Vec<Piece>) {
        let root = self.root(stream, hops);
        let mut cuts: Vec<Piece> = Vec::new();
        let parts = self
            .recording
            .streams
            .get(root)
            .map(|s| s.parts.as_slice())
            .unwrap_or_default();
        if parts.is_empty() {
            for (message, &(a, b)) in self.writes_of(root).iter().enumerate() {
                push_overlap(&mut cuts, from, to, a, b, Colour::Message(message));
            }
        } else {
            let first = parts.partition_point(|p| p.to <= from);
            for part in parts.iter().skip(first).take_while(|p| p.from < to) {
                let colour = match part.kind {
                    PartKind::Length => Colour::Length,
                    PartKind::Json => Colour::Json(part.message),
                    PartKind::Body => Colour::Message(part.message),
                    PartKind::Handshake(h) => Colour::Handshake(part.message, h),
                };
                push_overlap(&mut cuts, from, to, part.from, part.to, colour);
            }
        }
        (root, fill_gaps(cuts, from, to))
    }

    /// The writes on `stream` in the picture, in stream order.
    pub(super) fn writes_of(&self, stream: usize) -> &[(u64, u64)] {
        self.writes
            .get(&stream)
            .map(Vec::as_slice)
            .unwrap_or_default()
    }
}

/// The lane of the other process, when the picture has only one side of a conversation.
pub(super) const PEER: &str = "peer (not traced)";

/// The streams read in the picture whose writer is not in it (no write on them, not relayed by a
/// proxy in it), with how far they were read: their bytes come from [`PEER`]'s lane, one box per
/// stream, so that each read still shows where its bytes lie in the stream.
fn untraced_peers(recording: &Recording, calls: &[Item]) -> Vec<(usize, u64)> {
    let mut peers: Vec<(usize, u64)> = Vec::new();
    for (stream, info) in recording.streams.iter().enumerate() {
        let on = |direction: Direction| {
            calls
                .iter()
                .filter(move |c| c.stream == stream && c.direction == direction)
        };
        let read = on(Direction::Recv).map(|c| c.to).max().unwrap_or(0);
        if read > 0 && on(Direction::Send).next().is_none() && info.relayed_from.is_none() {
            peers.push((stream, read));
        }
    }
    peers
}

/// Is this call a write on a stream of plain writes, where each write is a message? Such writes
/// are never folded: every message keeps its box.
fn plain_writes(recording: &Recording, item: &Item) -> bool {
    let info = recording.streams.get(item.stream);
    item.direction == Direction::Send
        && info.is_some_and(|s| s.parts.is_empty() && s.relayed_from.is_none())
}

/// Folds runs of [`FOLD_RUN`] or more calls of one party, one after the other in its own order,
/// moving the same number of bytes on the same stream: the first call keeps its box, the rest
/// share one.
fn fold_runs(calls: Vec<Item>, keep: impl Fn(&Item) -> bool) -> Vec<Item> {
    let mut by_lane: Vec<Vec<Item>> = Vec::new();
    let mut order: Vec<usize> = Vec::new();
    for item in calls {
        if by_lane.len() <= item.lane {
            by_lane.resize_with(item.lane + 1, Vec::new);
        }
        order.push(item.lane);
        if let Some(lane) = by_lane.get_mut(item.lane) {
            lane.push(item);
        }
    }
    let same = |a: &Item, b: &Item| {
        a.is_call()
            && b.is_call()
            && a.direction == b.direction
            && a.stream == b.stream
            && a.len() == b.len()
            && a.len() > 0
            && a.to == b.from
    };
    let mut folded_lanes: Vec<std::collections::VecDeque<Item>> = Vec::new();
    for lane in by_lane {
        let mut out: Vec<Item> = Vec::new();
        let mut run: Vec<Item> = Vec::new();
        let flush = |run: &mut Vec<Item>, out: &mut Vec<Item>| {
            if run.len() >= FOLD_RUN {
                let mut rest = run.drain(1..);
                if let Some(mut fold) = rest.next() {
                    for more in rest {
                        fold.absorb(&more);
                    }
                    out.append(run);
                    out.push(fold);
                }
            }
            out.append(run);
        };
        for item in lane {
            let continues = run.last().is_some_and(|last| same(last, &item)) && !keep(&item);
            if !continues {
                flush(&mut run, &mut out);
            }
            run.push(item);
        }
        flush(&mut run, &mut out);
        folded_lanes.push(out.into());
    }
    // Back into the recording's order (what [`place`] expects), lane by lane.
    let mut items = Vec::new();
    for lane in order {
        if let Some(item) = folded_lanes.get_mut(lane).and_then(|l| l.pop_front()) {
            items.push(item);
        }
    }
    for lane in folded_lanes {
        items.extend(lane);
    }
    items
}

/// Past `max_rows`, each party's remaining boxes on a stream and direction become one (a party
/// with several such boxes gets a row for each).
fn fold_past(items: Vec<Item>, rows: usize, max_rows: usize) -> (Vec<Item>, usize) {
    if rows <= max_rows {
        return (items, rows);
    }
    let last = max_rows - 1;
    let mut kept: Vec<Item> = Vec::new();
    let mut tails: Vec<Item> = Vec::new();
    for item in items {
        if item.row < last {
            kept.push(item);
            continue;
        }
        // The end of a stream (a read of 0 bytes) keeps a box of its own.
        let same = tails.iter_mut().find(|t| {
            t.lane == item.lane
                && t.direction == item.direction
                && t.stream == item.stream
                && (t.len() == 0) == (item.len() == 0)
                && !t.is_failed()
                && !item.is_failed()
        });
        match same {
            Some(tail) => tail.absorb(&item),
            None => tails.push(item),
        }
    }
    let mut rows = max_rows;
    let mut per_lane: HashMap<usize, usize> = HashMap::new();
    for tail in &mut tails {
        let k = per_lane.entry(tail.lane).or_insert(0);
        tail.row = last + *k;
        *k += 1;
        rows = rows.max(tail.row + 1);
    }
    kept.extend(tails);
    (kept, rows)
}

/// A proxy's two sockets, each in a lane of its own, so that the bands from its reads to the
/// writes that relay them run between two lanes like any other band. For every party that
/// forwards bytes from one of its connections into another (a stream `relayed_from` one it
/// reads), the lane of each (party, stream): `proxy · ↔ sender` for the socket whose other end
/// is the sender (named after the party there, when it is in the picture; else `client` for the
/// side that spoke first, `server` for the other). Other parties keep one lane.
fn socket_lanes(recording: &Recording) -> HashMap<(&str, usize), String> {
    let calls: Vec<(&str, usize, Direction)> = recording
        .records
        .iter()
        .map(|r| (r.party.as_str(), r.stream, r.direction))
        .chain(
            recording
                .folded
                .iter()
                .map(|f| (f.party.as_str(), f.stream, f.direction)),
        )
        .collect();
    let mut parties: Vec<&str> = Vec::new();
    for &(party, _, _) in &calls {
        if !parties.contains(&party) {
            parties.push(party);
        }
    }
    let mut lanes = HashMap::new();
    'parties: for party in parties {
        let own: Vec<(usize, Direction)> = calls
            .iter()
            .filter(|c| c.0 == party)
            .map(|c| (c.1, c.2))
            .collect();
        let uses = |stream: usize| own.iter().any(|&(s, _)| s == stream);
        let relays = own.iter().any(|&(stream, _)| {
            let source = recording.streams.get(stream).and_then(|s| s.relayed_from);
            source.is_some_and(|source| source != stream && uses(source))
        });
        if !relays {
            continue;
        }
        // Its connections in the order it first used them, with the way of that first call.
        let mut connections: Vec<((SocketAddr, SocketAddr), Direction)> = Vec::new();
        for &(stream, direction) in &own {
            let Some(connection) = connection_of(recording, stream) else {
                continue 'parties;
            };
            if !connections.iter().any(|c| c.0 == connection) {
                connections.push((connection, direction));
            }
        }
        let ways = |way: Direction| connections.iter().any(|c| c.1 == way);
        if connections.len() < 2 || !ways(Direction::Recv) || !ways(Direction::Send) {
            continue;
        }
        // The parties at the other end of a connection, when they are in the picture.
        let peers_on = |connection| {
            let mut peers: Vec<&str> = calls
                .iter()
                .filter(|c| c.0 != party && connection_of(recording, c.1) == Some(connection))
                .map(|c| c.0)
                .collect();
            peers.dedup();
            peers
        };
        let side_name = |first: Direction| {
            let peers: Vec<Vec<&str>> = connections
                .iter()
                .filter(|c| c.1 == first)
                .map(|c| peers_on(c.0))
                .collect();
            match peers.first().map(Vec::as_slice) {
                Some([one]) if peers.iter().all(|p| p.as_slice() == [*one]) => one.to_string(),
                _ if first == Direction::Recv => "client".to_string(),
                _ => "server".to_string(),
            }
        };
        let (mut spoke_first, mut other) = (side_name(Direction::Recv), side_name(Direction::Send));
        if spoke_first == other {
            spoke_first.push_str(" 1");
            other.push_str(" 2");
        }
        for &(stream, _) in &own {
            let first = connections
                .iter()
                .find(|c| connection_of(recording, stream) == Some(c.0))
                .map_or(Direction::Recv, |c| c.1);
            let side = match first {
                Direction::Recv => &spoke_first,
                Direction::Send => &other,
            };
            lanes.insert((party, stream), format!("{party}{LANE_SEPARATOR}↔ {side}"));
        }
    }
    lanes
}

/// The two addresses of the connection a stream belongs to (both directions give the same pair).
fn connection_of(recording: &Recording, stream: usize) -> Option<(SocketAddr, SocketAddr)> {
    match recording.stream_key(stream)? {
        StreamKey::Tcp { from, to } => Some((from.min(to), from.max(to))),
        StreamKey::Unnamed { .. } => None,
    }
}

/// When the calls of several connections to one address follow each other without overlapping
/// in time (a server serving its clients one after another), gives each its own block: a heading row naming
/// the client above its calls. Returns the headings and the new number of rows. Connections that
/// overlap (a proxy's two sides) stay as they are.
fn connection_blocks(
    recording: &Recording,
    items: &mut [Item],
    rows: usize,
) -> (Vec<(usize, String)>, usize) {
    let mut spans: Vec<((SocketAddr, SocketAddr), usize, usize)> = Vec::new();
    // The untraced peer's boxes follow the calls of their connection (below).
    for item in items.iter().filter(|item| item.calls > 0) {
        let Some(connection) = connection_of(recording, item.stream) else {
            return (Vec::new(), rows);
        };
        match spans.iter_mut().find(|s| s.0 == connection) {
            Some(span) => {
                span.1 = span.1.min(item.row);
                span.2 = span.2.max(item.row);
            }
            None => spans.push((connection, item.row, item.row)),
        }
    }
    spans.sort_by_key(|s| s.1);
    let apart = spans.windows(2).all(|w| match w {
        [a, b] => a.2 < b.1,
        _ => true,
    });
    if spans.len() < 2 || !apart {
        return (Vec::new(), rows);
    }
    // The client is the address no other connection has; the server's is shared. Only a
    // server's clients share an address: a proxy's two sides do not, and keep their rows.
    let shared = |connection: (SocketAddr, SocketAddr), addr: SocketAddr| {
        spans
            .iter()
            .any(|other| other.0 != connection && (other.0 .0 == addr || other.0 .1 == addr))
    };
    let mut clients = Vec::new();
    for &((a, b), _, _) in &spans {
        match (shared((a, b), a), shared((a, b), b)) {
            (true, false) => clients.push(b),
            (false, true) => clients.push(a),
            _ => return (Vec::new(), rows),
        }
    }
    let mut headings = Vec::new();
    for (k, (&(connection, first, _), client)) in spans.iter().zip(clients).enumerate() {
        headings.push((first + k, format!("connection {} · client {client}", k + 1)));
        for item in items.iter_mut() {
            if connection_of(recording, item.stream) == Some(connection) {
                item.row = if item.calls == 0 {
                    first + k + 1
                } else {
                    item.row + k + 1
                };
            }
        }
    }
    // Rows above the first call held only the peer's boxes, which moved into the blocks.
    let unused = spans.first().map_or(0, |s| s.1);
    for item in items.iter_mut() {
        item.row -= unused.min(item.row);
    }
    for heading in &mut headings {
        heading.0 -= unused.min(heading.0);
    }
    (headings, rows + spans.len() - unused.min(rows))
}
