//! Lesson 14: a multi-user FTP, the homework at the end of tutorial 000
//! (作业：开发一个支持多用户在线的FTP程序), built on the JSON-header frames of tutorial 004.
//!
//! Many users are logged in at once, one thread per connection. Each user has a home
//! (`ROOT/home/USER`) that it cannot leave, a quota, and an account in `ROOT/users.json` created
//! by the admin commands (`14-ftp adduser/deluser/users`).
//!
//! Logging in is a SCRAM-SHA-256-style exchange (用户加密认证): the password never crosses the
//! wire, and `users.json` holds nothing that lets anyone log in. After login the client sends one
//! JSON request frame per command (`ls`, `cd`, `put`, `get`, ...) and reads one reply frame, plus
//! a body where a file moves; uploads and downloads can be resumed (断点续传).
//!
//! The parts, one purpose per file (the ones shared with lesson 15 live in [`crate::accounts`]):
//! - [`users`]: users.json, user names, homes, sizes, disk usage;
//! - [`scram`]: the SCRAM computations, pure functions;
//! - [`login`]: the login exchange on a connection, and fake challenges for unknown users;
//! - [`guard`]: the brake on failed logins (per account and per address);
//! - [`admin`]: `adduser`, `deluser`, `users`.
//! - [`paths`]: virtual paths and the home jail (no `..`, no symlinks out);
//! - [`quota`]: quotas with reservations, one lock per user;
//! - [`protocol`]: requests, replies and error codes of the file commands;
//! - [`partials`]: interrupted uploads kept for resuming (断点续传);
//! - [`checksums`]: the md5 recorded for each stored file;
//! - [`server`]: settings and the thread-per-connection server; `session` serves one connection
//!   (login, then one request at a time) and `commands` runs each command;
//! - [`client`]: the client library; [`shell`]: the `ftp> ` shell on top of it.
//!
//! Tutorials: 000 (the homework), 004 (JSON header upload).

pub mod login;

// The file service.
pub mod client;
mod commands;
pub mod protocol;
pub mod server;
mod session;
pub mod shell;
mod tour;

pub use tour::tour;

// Accounts, homes, the jail and quotas are shared with lesson 15 (RFC 959 FTP on the same
// server root), so they live in `crate::accounts`; they keep their names here too.
pub use crate::accounts::{admin, checksums, guard, partials, paths, quota, scram, users};
