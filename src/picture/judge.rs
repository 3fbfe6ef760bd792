//! "What the program got": each read judged against the messages that were sent, and the panel's
//! verdict in words.
//!
//! A naive receiver takes every read for a message, so each of its reads is judged on its own:
//! exactly one write's bytes (✓), several writes' bytes merged (✗), or part of one (✗). A framed
//! receiver puts a message together from however many reads it takes: a brace spans those reads
//! and the message is judged where it is complete (✓).

use super::layout::{Item, Layout};
use super::pieces::kept_bytes;
use super::svg;
use crate::escape::escape_bytes;
use crate::recording::{Direction, Part, PartKind};

/// One line of the "what the program got" column.
pub(super) struct Got {
    pub(super) row: usize,
    /// The lane of the read.
    pub(super) lane: usize,
    /// A framed message: the row of the read where it starts, for the brace.
    pub(super) brace_from: Option<usize>,
    pub(super) ok: bool,
    pub(super) text: String,
}

/// What the receivers of a panel made of the messages sent.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Messages written on the judged streams.
    pub sent: u64,
    /// What the program took for messages: a naive receiver's reads, a framed one's frames.
    pub got: u64,
    pub merged: bool,
    pub split: bool,
}

impl Verdict {
    pub fn ok(&self) -> bool {
        !self.merged && !self.split && self.sent == self.got
    }

    /// `✓ right: 2 messages sent, 2 received whole` or `✗ wrong: 2 messages sent, the program
    /// got 1 (merged)`.
    pub fn words(&self) -> String {
        let sent = count(self.sent, "message");
        if self.ok() {
            return format!("✓ right: {sent} sent, {} received whole", self.got);
        }
        let how = match (self.merged, self.split) {
            (true, true) => " (merged and split)",
            (true, false) => " (merged)",
            (false, true) => " (split)",
            (false, false) => "",
        };
        format!("✗ wrong: {sent} sent, the program got {}{how}", self.got)
    }
}

/// How the messages of a stream are known.
enum Messages<'l> {
    /// Each write in the picture is one message.
    Writes(&'l [(u64, u64)]),
    /// The frames a scanner found.
    Frames(&'l [Part]),
}

/// What [`judge`] found: the column's lines, the verdict, and the streams whose reads it judged.
pub(super) struct Judged {
    pub(super) got: Vec<Got>,
    pub(super) verdict: Verdict,
    pub(super) streams: Vec<usize>,
}

/// Judges every read of the panel's receivers, or `None` when the panel has nothing to judge (no
/// read of bytes whose messages are known).
pub(super) fn judge(layout: &Layout) -> Option<Judged> {
    let mut got = Vec::new();
    let mut verdict = Verdict::default();
    let mut judged_streams: Vec<usize> = Vec::new();
    let mut streams: Vec<usize> = Vec::new();
    for item in layout.items.iter().filter(|i| is_judged(layout, i)) {
        let root = layout.root(item.stream, 0);
        let Some(messages) = messages_of(layout, root) else {
            continue;
        };
        if !streams.contains(&item.stream) {
            streams.push(item.stream);
        }
        if !judged_streams.contains(&root) {
            judged_streams.push(root);
            verdict.sent += match messages {
                Messages::Writes(writes) => writes.len() as u64,
                Messages::Frames(parts) => parts.last().map_or(0, |p| p.message as u64 + 1),
            };
        }
        match messages {
            Messages::Writes(writes) => naive(layout, item, root, writes, &mut got, &mut verdict),
            Messages::Frames(parts) => framed(layout, item, root, parts, &mut got, &mut verdict),
        }
    }
    (!judged_streams.is_empty()).then_some(Judged {
        got,
        verdict,
        streams,
    })
}

/// A read of bytes that reached the program (not a proxy's read, which it only passes on).
fn is_judged(layout: &Layout, item: &Item) -> bool {
    let relayed = layout
        .recording
        .streams
        .iter()
        .any(|s| s.relayed_from == Some(item.stream));
    item.direction == Direction::Recv && item.len() > 0 && !relayed
}

fn messages_of<'l>(layout: &'l Layout, root: usize) -> Option<Messages<'l>> {
    let parts = layout
        .recording
        .streams
        .get(root)
        .map(|s| s.parts.as_slice())
        .unwrap_or_default();
    if !parts.is_empty() {
        return Some(Messages::Frames(parts));
    }
    let writes = layout.writes_of(root);
    (!writes.is_empty()).then_some(Messages::Writes(writes))
}

/// One read = one message, as the naive receiver believes: is it one write's bytes?
fn naive(
    layout: &Layout,
    item: &Item,
    root: usize,
    writes: &[(u64, u64)],
    got: &mut Vec<Got>,
    verdict: &mut Verdict,
) {
    let number = |i: usize| layout.number(root, i).map_or(0, |n| n + 1);
    // Each read on its own, from the records (a folded box is several reads); past the kept
    // records, as reads of equal size.
    let party = layout.lanes.get(item.lane);
    let mut reads: Vec<(u64, u64)> = layout
        .recording
        .records
        .iter()
        .filter(|r| r.direction == Direction::Recv && r.stream == item.stream && r.len > 0)
        .filter(|r| Some(&r.party) == party && item.from <= r.from && r.to() <= item.to)
        .map(|r| (r.from, r.to()))
        .collect();
    if reads.is_empty() {
        let size = item.smallest.max(1);
        let mut at = item.from;
        while at < item.to && reads.len() < 10_000 {
            reads.push((at, at.saturating_add(size).min(item.to)));
            at = at.saturating_add(size);
        }
    }
    let (mut whole, mut merged, mut split) = (0u64, false, false);
    let mut touched: Vec<usize> = Vec::new();
    for (at, end) in reads {
        let overlapping: Vec<usize> = writes
            .iter()
            .enumerate()
            .filter(|(_, &(a, b))| a < end && at < b)
            .map(|(i, _)| i)
            .collect();
        match overlapping.as_slice() {
            [] => {}
            [one] if writes.get(*one) == Some(&(at, end)) => whole += 1,
            [_] => split = true,
            _ => merged = true,
        }
        touched.extend(overlapping);
    }
    touched.sort_unstable();
    touched.dedup();
    verdict.got = verdict.got.saturating_add(item.calls);
    verdict.merged |= merged;
    verdict.split |= split;
    let ok = !merged && !split && whole > 0;
    let which = match (touched.first(), touched.last()) {
        (Some(&a), Some(&b)) if a != b => format!("msgs {}–{}", number(a), number(b)),
        (Some(&a), _) => format!("msg {}", number(a)),
        _ => return,
    };
    let text = match (item.calls, ok, merged) {
        (1, true, _) => format!("✓ {which}: {}", preview(item, item.from, item.to)),
        (1, false, true) => format!("✗ {which} as one"),
        (1, false, false) => format!("✗ part of {which}"),
        (n, true, _) => format!("✓ ×{n}: {which}, each whole"),
        (n, false, true) if split => format!("✗ ×{n}: parts of {which}"),
        (n, false, true) => format!("✗ ×{n}: {which} merged"),
        (n, false, false) => format!("✗ ×{n}: parts of {which}"),
    };
    got.push(Got {
        row: item.row,
        lane: item.lane,
        brace_from: None,
        ok,
        text,
    });
}

/// The framed receiver puts each message together: judged at the read that completes it.
fn framed(
    layout: &Layout,
    item: &Item,
    root: usize,
    parts: &[Part],
    got: &mut Vec<Got>,
    verdict: &mut Verdict,
) {
    let mut ends: Vec<(usize, u64, u64)> = Vec::new();
    for part in parts {
        match ends.last_mut() {
            Some(last) if last.0 == part.message => last.2 = part.to,
            _ => ends.push((part.message, part.from, part.to)),
        }
    }
    let complete: Vec<&(usize, u64, u64)> = ends
        .iter()
        .filter(|&&(_, _, end)| item.from < end && end <= item.to)
        .collect();
    let (Some(&&(first, start, _)), Some(&&(last, _, _))) = (complete.first(), complete.last())
    else {
        return;
    };
    verdict.got += complete.len() as u64;
    let number = |m: usize| layout.number(root, m).map_or(0, |n| n + 1);
    let started_at = layout
        .items
        .iter()
        .filter(|i| i.direction == Direction::Recv && i.stream == item.stream)
        .find(|i| i.from <= start && start < i.to)
        .map_or(item.row, |i| i.row);
    let text = if first == last {
        let body = parts
            .iter()
            .find(|p| p.message == first && p.kind == PartKind::Body);
        let handshake = parts.iter().find_map(|p| match p.kind {
            PartKind::Handshake(h) if p.message == first => Some(h.name().to_string()),
            _ => None,
        });
        let shown = body.map_or_else(
            || handshake.unwrap_or_default(),
            |b| {
                let reader = layout
                    .items
                    .iter()
                    .filter(|i| i.direction == Direction::Recv && i.stream == item.stream)
                    .find(|i| i.from <= b.from && b.from < i.to);
                reader.map_or_else(String::new, |r| preview(r, b.from, b.to))
            },
        );
        format!("✓ msg {}: {shown}", number(first))
    } else {
        format!("✓ msgs {}–{}, each whole", number(first), number(last))
    };
    got.push(Got {
        row: item.row,
        lane: item.lane,
        brace_from: (started_at < item.row).then_some(started_at),
        ok: true,
        text,
    });
}

/// The kept bytes of `from..to` in an item, quoted.
fn preview(item: &Item, from: u64, to: u64) -> String {
    let Some(record) = &item.record else {
        return String::new();
    };
    let (bytes, cut) = kept_bytes(record, from, to);
    let mut text = format!("\"{}", escape_bytes(bytes));
    if cut {
        text.push('…');
    }
    text.push('"');
    svg::fit(&text, 24).unwrap_or_default()
}

/// `1 message`, `2 messages`.
fn count(n: u64, thing: &str) -> String {
    if n == 1 {
        format!("1 {thing}")
    } else {
        format!("{n} {thing}s")
    }
}
