//! User accounts and their homes, shared by the two FTP lessons (14's JSON protocol and 15's
//! RFC 959): who may log in, and what each user may store where.
//!
//! Both servers run on the same server root, so a user made with `14-ftp adduser` logs in to
//! either, finds the same files, and is held by the same jail and the same quota:
//!
//! - [`users`]: users.json, user names, homes, sizes, disk usage;
//! - [`scram`]: the SCRAM-SHA-256 key computations, pure functions;
//! - [`password`]: checking a password sent in clear (15's `PASS`) against the stored keys;
//! - [`guard`]: the brake on failed logins (per account and per address);
//! - [`admin`]: `adduser`, `deluser`, `users`;
//! - [`paths`]: virtual paths and the home jail (no `..`, no symlinks out);
//! - [`quota`]: quotas with reservations, one lock per user;
//! - [`partials`]: interrupted uploads kept for resuming (断点续传);
//! - [`checksums`]: the md5 recorded for each stored file.

pub mod admin;
pub mod checksums;
pub mod guard;
pub mod partials;
pub mod password;
pub mod paths;
pub mod quota;
pub mod scram;
pub mod users;
