//! `PASS`: the login brake, then the password checked against lesson 14's stored keys, then the
//! user's home, jail and quota made ready.
//!
//! The password arrives in clear (RFC 959 has nothing better), so the check is the one in
//! [`crate::accounts::password`]: derive the SCRAM keys from it and compare StoredKeys. The
//! brake is lesson 14's ([`crate::accounts::guard`]): failures are slowed, never locked out.

use std::io;
use std::net::IpAddr;
use std::path::Path;

use super::commands::User;
use super::reply::Reply;
use super::server::Shared;
use crate::accounts::checksums::Checksums;
use crate::accounts::guard::GuardVerdict;
use crate::accounts::partials::{Partials, DEFAULT_TTL};
use crate::accounts::paths::{Jail, VirtualPath};
use crate::accounts::quota::Limits;
use crate::accounts::users::{create_private_dir_all, home_dir, valid_user_name};

/// How a `PASS` ended.
pub(super) enum Verdict {
    LoggedIn(User),
    /// A wrong user name or password (the two are never told apart).
    Wrong,
    /// The server answers `reply` and closes the connection (the brake, or the server's own
    /// trouble); `why` is for the log.
    Closing {
        reply: Reply,
        why: String,
    },
}

/// Logs `name` in with `password`, from `ip`.
pub(super) fn log_in(shared: &Shared, ip: IpAddr, name: &str, password: &str) -> Verdict {
    match shared.guard.begin(ip, name) {
        GuardVerdict::Allow => {}
        // Only this connection's thread sleeps.
        GuardVerdict::Delay(delay) => std::thread::sleep(delay),
        GuardVerdict::Refuse(wait) => {
            let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            return Verdict::Closing {
                reply: Reply::new(
                    421,
                    format!(
                        "Earlier failed logins to this account from your address are still \
                         being slowed down; try again in {seconds} s"
                    ),
                ),
                why: "the brake holds this account's turns".into(),
            };
        }
    }
    let store = match shared.accounts.current() {
        Ok(store) => store,
        Err(e) => {
            return Verdict::Closing {
                reply: Reply::new(
                    421,
                    "The server cannot read its accounts; tell its administrator",
                ),
                why: format!("cannot read the accounts: {e}"),
            }
        }
    };
    let record = if valid_user_name(name) {
        shared.passwords.check(&store, name, password).cloned()
    } else {
        // Same time as a real check, same answer as a wrong password.
        let _ = shared.passwords.check(&store, "", password);
        None
    };
    let Some(record) = record else {
        shared.guard.failed(ip);
        return Verdict::Wrong;
    };
    shared.guard.succeeded(ip, name);
    let home = home_dir(&shared.config.root, name);
    if let Err(e) = prepare_home(&home) {
        return Verdict::Closing {
            reply: Reply::new(
                421,
                "Your home directory is unusable; tell the administrator",
            ),
            why: format!("home unusable: {e}"),
        };
    }
    Verdict::LoggedIn(User {
        stored_key: record.stored_key.clone(),
        jail: Jail::new(&home),
        cwd: VirtualPath::root(),
        limits: Limits {
            bytes: record.quota,
            entries: shared.config.max_files,
        },
        ledger: shared.ledgers.for_user(name),
        partials: Partials::new(&home, DEFAULT_TTL),
        checksums: Checksums::new(&shared.config.root, name),
        name: name.to_string(),
    })
}

/// Makes sure the home is a real directory: created (owner-only) if missing, refused if it is a
/// symlink or a file (as lesson 14 does).
fn prepare_home(home: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(home) {
        Ok(meta) if meta.is_dir() => Ok(()),
        Ok(_) => Err(io::Error::other("it is not a directory")),
        Err(e) if e.kind() == io::ErrorKind::NotFound => create_private_dir_all(home),
        Err(e) => Err(e),
    }
}
