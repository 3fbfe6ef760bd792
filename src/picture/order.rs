//! Where each call goes in time: rows as the order of calls (a Lamport clock), lanes and streams
//! numbered as they first appear, so the same run gives the same picture.

use super::layout::Item;
use crate::recording::Direction;

/// Numbers `n` things (lanes, streams) in the order they first appear in the picture: `key` gives
/// an item's thing and its place; ties keep the recording's order. Returns new number by old.
pub(super) fn rank_by_first(
    items: &[Item],
    n: usize,
    key: impl Fn(&Item) -> (usize, (usize, usize)),
) -> Vec<usize> {
    let mut firsts: Vec<((usize, usize), usize)> = (0..n)
        .map(|thing| {
            let first = items
                .iter()
                .map(&key)
                .filter(|&(of, _)| of == thing)
                .map(|(_, place)| place)
                .min();
            (first.unwrap_or((usize::MAX, usize::MAX)), thing)
        })
        .collect();
    firsts.sort();
    let mut rank = vec![0; n];
    for (new, &(_, old)) in firsts.iter().enumerate() {
        if let Some(r) = rank.get_mut(old) {
            *r = new;
        }
    }
    rank
}

/// Gives every call its row: below the previous call of its program (its lane, or its lanes when
/// `program_of_lane` joins several), and below every write whose bytes it read. Returns the
/// number of rows.
pub(super) fn place(items: &mut [Item], program_of_lane: &[usize]) -> usize {
    // Writes a read depends on, found once.
    let suppliers: Vec<Vec<usize>> = items
        .iter()
        .map(|read| {
            if read.direction != Direction::Recv {
                return Vec::new();
            }
            items
                .iter()
                .enumerate()
                .filter(|(_, w)| {
                    w.direction == Direction::Send
                        && w.stream == read.stream
                        && w.lane != read.lane
                        && w.from < read.to
                        && read.from < w.to
                })
                .map(|(i, _)| i)
                .collect()
        })
        .collect();
    // Rows only grow, and each pass settles at least one more call, so this ends; the bound only
    // guards against records that contradict each other.
    for _ in 0..=items.len() {
        let mut changed = false;
        let mut last_in_lane: Vec<Option<usize>> = Vec::new();
        for i in 0..items.len() {
            let lane = items.get(i).map_or(0, |item| item.lane);
            let lane = program_of_lane.get(lane).copied().unwrap_or(lane);
            if last_in_lane.len() <= lane {
                last_in_lane.resize(lane + 1, None);
            }
            let after_own = last_in_lane
                .get(lane)
                .copied()
                .flatten()
                .map_or(0, |row| row + 1);
            let after_writes = suppliers
                .get(i)
                .into_iter()
                .flatten()
                .filter_map(|&w| items.get(w).map(|w| w.row + 1))
                .max()
                .unwrap_or(0);
            let Some(item) = items.get_mut(i) else {
                continue;
            };
            let row = after_own.max(after_writes);
            if row > item.row {
                item.row = row;
                changed = true;
            }
            if let Some(last) = last_in_lane.get_mut(lane) {
                *last = Some(item.row);
            }
        }
        if !changed {
            break;
        }
    }
    items.iter().map(|i| i.row + 1).max().unwrap_or(0)
}
