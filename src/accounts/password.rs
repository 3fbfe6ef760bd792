//! Checking a password that arrives in clear (lesson 15's `PASS`) against the SCRAM keys stored
//! in users.json.
//!
//! users.json never holds a password, only SCRAM's `StoredKey = SHA-256(ClientKey)` (see
//! [`super::scram`]). A server that is *given* the password can still check it: derive the keys
//! from it with the account's salt and iteration count, exactly as `adduser` did, and compare the
//! StoredKey it gets with the stored one. So the same accounts work for lesson 14 (where the
//! password never crosses the wire) and for RFC 959's `USER`/`PASS` (where it does, in clear).
//!
//! Two costs come with it. The slow part (PBKDF2, hundreds of thousands of HMACs) now runs on the
//! *server*, once per attempt, so anyone can make it work hard by sending `PASS` lines: checks
//! take turns ([`PasswordChecker`] runs one at a time), and the failed-login brake
//! ([`super::guard`]) slows repeated failures. And an unknown user must take as long as a known
//! one, or the time of the answer tells which names exist: an unknown name is checked against a
//! made-up record with the usual iteration count, and fails.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use super::scram::{self, DEFAULT_ITERATIONS, SALT_LEN};
use super::users::{UserRecord, UserStore};

/// Checks plaintext passwords, one at a time (see the module doc).
#[derive(Debug, Default)]
pub struct PasswordChecker {
    turn: Mutex<()>,
}

impl PasswordChecker {
    pub fn new() -> PasswordChecker {
        PasswordChecker::default()
    }

    /// The record of `user` if `password` is its password. Takes the same time for a user who
    /// does not exist (its answer is then always `None`).
    pub fn check<'a>(
        &self,
        store: &'a UserStore,
        user: &str,
        password: &str,
    ) -> Option<&'a UserRecord> {
        let real = store.user(user);
        let stand_in = stand_in_record(store);
        let record = real.unwrap_or(&stand_in);
        let matches = {
            let _turn = self.turn.lock().unwrap_or_else(PoisonError::into_inner);
            password_matches(record, password)
        };
        real.filter(|_| matches)
    }
}

/// Does `password` derive the record's StoredKey? Compared in constant time; a damaged record
/// (salt or key not hex, iterations out of range) never matches.
pub fn password_matches(record: &UserRecord, password: &str) -> bool {
    let Ok(salt) = hex::decode(&record.salt) else {
        return false;
    };
    let Ok(stored_key) = hex::decode(&record.stored_key) else {
        return false;
    };
    if scram::check_iterations(record.iterations.into()).is_err() {
        return false;
    }
    let keys = scram::derive_keys(password, &salt, record.iterations);
    scram::constant_time_eq(&keys.stored_key, &stored_key)
}

/// The record an unknown user is checked against: the iteration count most accounts have (so
/// the check takes as long as a real one), a salt and key no password derives in practice.
fn stand_in_record(store: &UserStore) -> UserRecord {
    let mut counts: HashMap<u32, usize> = HashMap::new();
    for record in store.records() {
        *counts.entry(record.iterations).or_default() += 1;
    }
    let iterations = counts
        .into_iter()
        .max_by_key(|&(iterations, count)| (count, iterations))
        .map_or(DEFAULT_ITERATIONS, |(iterations, _)| iterations);
    UserRecord {
        salt: "00".repeat(SALT_LEN),
        iterations,
        stored_key: "00".repeat(32),
        server_key: "00".repeat(32),
        quota: 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_password_derives_the_stored_key() {
        let record = scram::record_with_salt(
            "correct horse",
            b"0123456789abcdef",
            scram::MIN_ITERATIONS,
            1,
        );
        assert!(password_matches(&record, "correct horse"));
        assert!(!password_matches(&record, "correct horse "));
        assert!(!password_matches(&record, ""));
    }

    #[test]
    fn a_damaged_record_never_matches() {
        let mut record =
            scram::record_with_salt("pw", b"0123456789abcdef", scram::MIN_ITERATIONS, 1);
        record.salt = "not hex".into();
        assert!(!password_matches(&record, "pw"));
        let mut record =
            scram::record_with_salt("pw", b"0123456789abcdef", scram::MIN_ITERATIONS, 1);
        record.iterations = 0;
        assert!(!password_matches(&record, "pw"));
    }
}
