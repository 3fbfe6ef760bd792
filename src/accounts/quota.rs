//! Quotas with reservations: why two uploads at once cannot together pass a quota.
//!
//! The naive check, "is `used + filesize <= quota`?", has a race. Two sessions of one user each
//! check, each see enough room, and each start writing: together they pass the quota. The cure is
//! to *reserve* the room at the moment of the check, under a lock, so that the second check
//! already counts the first upload:
//!
//! ```text
//! used = bytes stored under the home           (files and kept partial uploads, on disk now)
//!      + for each upload in flight: final size − bytes of its partial file already on disk
//! a put of N bytes resuming from K is accepted when  used + (N − K) <= quota
//! ```
//!
//! An upload in flight is counted at its final size, whatever it has written so far, so the true
//! disk usage never exceeds the quota. The old file a put replaces still counts until the rename
//! that replaces it (both are on disk until then), so replacing a file needs room for both: the
//! simple rule that keeps the promise. An upload that stops early gives its reservation back; the
//! bytes its partial file kept stay counted, because they are on disk.
//!
//! Files and directories are limited in number too (`--max-files`): each costs the disk an inode
//! even when empty, and a quota on bytes alone would let one user use up every inode with empty
//! directories. An upload in flight counts as the entry its partial file will be, from the moment
//! it is accepted.
//!
//! One lock per user ([`Ledgers::for_user`]) guards the check-and-reserve, and everything else
//! that must not interleave between two sessions of the same user (the rename that commits an
//! upload, recording its md5, removing a file). It is never held while a body crosses the network.

use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use super::users::{home_usage, Usage};

/// The quota check failed.
#[derive(Debug, thiserror::Error)]
pub enum QuotaError {
    #[error(
        "not enough room: this needs {need} bytes, and {} of your {quota}-byte quota are free \
         ({used} used, counting uploads in progress)",
        .quota.saturating_sub(*.used)
    )]
    Exceeded { used: u64, need: u64, quota: u64 },
    #[error(
        "too many files: you have {entries} files and directories, the most this server allows \
         per user (--max-files); remove some first"
    )]
    TooManyEntries { entries: u64 },
    #[error("i/o error while measuring the home: {0}")]
    Io(#[from] io::Error),
}

/// One lock and one set of reservations per user, shared by every session on the server.
#[derive(Debug, Default)]
pub struct Ledgers {
    users: Mutex<HashMap<String, Arc<UserLedger>>>,
}

impl Ledgers {
    pub fn new() -> Ledgers {
        Ledgers::default()
    }

    /// The ledger of `user` (created on first use; shared by all of that user's sessions).
    pub fn for_user(&self, user: &str) -> Arc<UserLedger> {
        let mut users = lock(&self.users);
        Arc::clone(users.entry(user.to_string()).or_default())
    }
}

/// Poisoning only says another thread panicked while holding the lock. Every change below is
/// one insert or one remove, never left half-done, so the data is still consistent.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Uploads in flight for one user: their partial file and the size it will reach.
#[derive(Debug, Default)]
pub struct UserLedger {
    in_flight: Mutex<InFlight>,
}

#[derive(Debug, Default)]
struct InFlight {
    uploads: HashMap<u64, Upload>,
    next_id: u64,
}

#[derive(Debug)]
struct Upload {
    partial: PathBuf,
    final_size: u64,
}

impl UserLedger {
    /// Takes the user's lock. Keep it for a check-and-change, never across network I/O.
    pub fn lock(self: &Arc<Self>) -> LedgerGuard<'_> {
        LedgerGuard {
            ledger: self,
            state: lock(&self.in_flight),
        }
    }
}

/// The user's lock, held.
pub struct LedgerGuard<'a> {
    ledger: &'a Arc<UserLedger>,
    state: MutexGuard<'a, InFlight>,
}

impl LedgerGuard<'_> {
    /// Bytes on disk under `home` plus the bytes still promised to uploads in flight.
    pub fn used(&self, home: &Path) -> io::Result<u64> {
        Ok(self.usage(home)?.bytes)
    }

    /// What is on disk under `home`, plus what uploads in flight still promise: the bytes they
    /// have yet to write, and the entry of each whose partial file does not exist yet.
    pub fn usage(&self, home: &Path) -> io::Result<Usage> {
        let mut usage = home_usage(home)?;
        for upload in self.state.uploads.values() {
            match std::fs::symlink_metadata(&upload.partial) {
                Ok(meta) => {
                    let promised = upload.final_size.saturating_sub(meta.len());
                    usage.bytes = usage.bytes.saturating_add(promised);
                }
                Err(_) => {
                    usage.bytes = usage.bytes.saturating_add(upload.final_size);
                    usage.entries = usage.entries.saturating_add(1);
                }
            }
        }
        Ok(usage)
    }

    /// Checks that one more file or directory fits under `max_entries`.
    pub fn check_new_entry(&self, home: &Path, max_entries: u64) -> Result<(), QuotaError> {
        let entries = self.usage(home)?.entries;
        if entries >= max_entries {
            return Err(QuotaError::TooManyEntries { entries });
        }
        Ok(())
    }

    /// Is an upload writing to this partial file right now?
    pub fn is_uploading(&self, partial: &Path) -> bool {
        self.state.uploads.values().any(|u| u.partial == partial)
    }

    /// Checks that an upload into `partial` (which holds `already` bytes) up to `final_size`
    /// bytes fits in the user's `limits`, and reserves the room if it does.
    pub fn reserve(
        &mut self,
        home: &Path,
        limits: Limits,
        partial: PathBuf,
        already: u64,
        final_size: u64,
    ) -> Result<Reservation, QuotaError> {
        let usage = self.usage(home)?;
        let (used, quota) = (usage.bytes, limits.bytes);
        let need = final_size.saturating_sub(already);
        if used.saturating_add(need) > quota {
            return Err(QuotaError::Exceeded { used, need, quota });
        }
        let new_entry = std::fs::symlink_metadata(&partial).is_err();
        if new_entry && usage.entries >= limits.entries {
            return Err(QuotaError::TooManyEntries {
                entries: usage.entries,
            });
        }
        let id = self.state.next_id;
        self.state.next_id = id.wrapping_add(1);
        self.state.uploads.insert(
            id,
            Upload {
                partial,
                final_size,
            },
        );
        Ok(Reservation {
            ledger: Arc::clone(self.ledger),
            id: Some(id),
        })
    }

    /// Gives a reservation back while the lock is already held (the commit of an upload renames
    /// the file and releases its reservation in one step, so no one sees both counted).
    pub fn release(&mut self, mut reservation: Reservation) {
        if let Some(id) = reservation.id.take() {
            self.state.uploads.remove(&id);
        }
    }
}

/// What one user may store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The quota, in bytes.
    pub bytes: u64,
    /// Most files and directories (`--max-files`).
    pub entries: u64,
}

/// Room promised to one upload. Dropping it (the upload failed or was abandoned) gives the room
/// back.
#[derive(Debug)]
pub struct Reservation {
    ledger: Arc<UserLedger>,
    id: Option<u64>,
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if let Some(id) = self.id.take() {
            lock(&self.ledger.in_flight).uploads.remove(&id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(bytes: u64) -> Limits {
        Limits {
            bytes,
            entries: 1000,
        }
    }

    #[test]
    fn entries_are_limited_and_uploads_in_flight_count_as_one() {
        let home = tempfile::tempdir().unwrap();
        std::fs::create_dir(home.path().join("d")).unwrap();
        std::fs::write(home.path().join("d/f"), b"x").unwrap();
        let ledger = Ledgers::new().for_user("carol");
        let mut guard = ledger.lock();
        let three = Limits {
            bytes: 1000,
            entries: 3,
        };
        assert!(guard.check_new_entry(home.path(), 3).is_ok());
        let upload = guard
            .reserve(home.path(), three, home.path().join("p"), 0, 5)
            .unwrap();
        // d, d/f and the upload's future partial file: full.
        assert!(matches!(
            guard.check_new_entry(home.path(), 3),
            Err(QuotaError::TooManyEntries { entries: 3 })
        ));
        assert!(matches!(
            guard.reserve(home.path(), three, home.path().join("q"), 0, 5),
            Err(QuotaError::TooManyEntries { .. })
        ));
        guard.release(upload);
        assert!(guard.check_new_entry(home.path(), 3).is_ok());
    }

    #[test]
    fn reservations_count_until_released() {
        let home = tempfile::tempdir().unwrap();
        std::fs::write(home.path().join("old"), [0u8; 40]).unwrap();
        let ledgers = Ledgers::new();
        let ledger = ledgers.for_user("alice");
        let partial = home.path().join("p1");

        let mut guard = ledger.lock();
        assert_eq!(guard.used(home.path()).unwrap(), 40);
        let first = guard
            .reserve(home.path(), limits(100), partial.clone(), 0, 60)
            .unwrap();
        assert_eq!(guard.used(home.path()).unwrap(), 100);
        assert!(guard.is_uploading(&partial));
        // The quota is full: even one byte more is refused.
        let err = guard
            .reserve(home.path(), limits(100), home.path().join("p2"), 0, 1)
            .unwrap_err();
        assert!(matches!(
            err,
            QuotaError::Exceeded {
                used: 100,
                need: 1,
                quota: 100
            }
        ));
        drop(guard);

        // Bytes written to the partial move from "promised" to "stored": the total stays put.
        std::fs::write(&partial, [0u8; 25]).unwrap();
        assert_eq!(ledger.lock().used(home.path()).unwrap(), 100);

        // Abandoned: the reservation goes, the kept partial bytes stay counted.
        drop(first);
        let guard = ledger.lock();
        assert_eq!(guard.used(home.path()).unwrap(), 65);
        assert!(!guard.is_uploading(&partial));
    }

    #[test]
    fn a_resumed_upload_needs_only_the_rest() {
        let home = tempfile::tempdir().unwrap();
        let partial = home.path().join("p");
        std::fs::write(&partial, [0u8; 30]).unwrap();
        let ledger = Ledgers::new().for_user("bob");
        let mut guard = ledger.lock();
        let reservation = guard
            .reserve(home.path(), limits(50), partial.clone(), 30, 50)
            .unwrap();
        assert_eq!(guard.used(home.path()).unwrap(), 50);
        guard.release(reservation);
        assert_eq!(guard.used(home.path()).unwrap(), 30);
    }

    #[test]
    fn each_user_has_one_shared_ledger() {
        let ledgers = Ledgers::new();
        assert!(Arc::ptr_eq(&ledgers.for_user("a"), &ledgers.for_user("a")));
        assert!(!Arc::ptr_eq(&ledgers.for_user("a"), &ledgers.for_user("b")));
    }
}
