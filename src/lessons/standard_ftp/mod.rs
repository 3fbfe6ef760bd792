//! Lesson 15: the homework's server speaking real FTP (RFC 959, with the extensions of RFC 2389,
//! 2428 and 3659), so that `curl`, Python's `ftplib`, lftp and FileZilla can use it.
//!
//! It serves the same accounts, homes, jail and quotas as lesson 14 ([`crate::accounts`]): a user
//! made with `14-ftp adduser` logs in to both. What changes is the protocol:
//!
//! - a **control connection** of text commands (`RETR a.txt`) and numbered replies (`226 ...`);
//! - a **data connection** per listing or file, opened after `PASV`/`EPSV` (the server listens) or
//!   `PORT`/`EPRT` (the server connects; off by default), closed at the end of the transfer;
//! - the password sent **in clear** with `PASS` (lesson 14's SCRAM login never sends it; here the
//!   server checks it against the same stored keys, see [`crate::accounts::password`]);
//! - resume (断点续传) with `REST` + `RETR`, `REST` + `STOR` and `APPE`, and lesson 14's md5 as
//!   `SITE MD5`.
//!
//! The parts, one purpose per file:
//! - [`server`]: settings and the thread-per-connection server;
//! - `session`: one control connection and the sequence rules (`USER`→`PASS`, `RNFR`→`RNTO`,
//!   `REST`→transfer); `login`: what `PASS` does (the brake, the password, the home);
//! - [`control`]: command lines in (capped), replies out, `ABOR` seen during a transfer;
//! - [`data`]: passive listeners (port range, peer check, deadline) and active connections;
//! - `commands`: the commands without data (`CWD`, `MKD`, `SIZE`, `SITE MD5`, ...);
//! - `transfers`: `RETR`, `STOR`, `APPE`, `LIST`, `NLST`, `MLSD`, with quota and whole files;
//! - [`listing`]: `ls -l` lines and RFC 3659 facts; [`reply`]: codes and what failures mean.
//!
//! Standards: RFC 959 (FTP), 2389 (FEAT, OPTS), 2428 (EPSV, EPRT), 3659 (SIZE, MDTM, REST, MLST).

mod commands;
pub mod control;
pub mod data;
pub mod listing;
mod login;
pub mod reply;
pub mod server;
mod session;
mod tour;
mod transfers;

pub use tour::tour;
