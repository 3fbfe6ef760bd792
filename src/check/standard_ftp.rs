//! Checker of lesson 15: a student's server speaking real FTP (RFC 959).
//!
//! It plays the command sequences real clients send (recorded from curl and Python's `ftplib`,
//! and FileZilla's `MLSD`) and checks what those clients act on: the reply *codes* (their first
//! digit decides what a client does next) and the *bytes* of files and listings. Reply texts are
//! never checked: RFC 959 leaves them to the server.
//!
//! - curl: `USER`, `PASS`, `PWD`, `EPSV` (and `PASV` when EPSV gets a 5xx), `TYPE I`, `STOR`;
//!   `SIZE`, `RETR`; a resumed download with `REST n` + `RETR`, a resumed upload with `SIZE` +
//!   `APPE`.
//! - ftplib: `PASV` (it uses the control connection's address, not the one in the 227 reply),
//!   `STOR` answered `150` before the data and `226` after it, `REST n` + `STOR`, `LIST`, `NLST`.
//! - FileZilla: `FEAT`, then `MLSD` with RFC 3659 facts.
//! - The homework's promises a client can see: a path with `..` does not leave the home, a
//!   wrong password is refused, a command line of 3000 bytes does not bring the server down.
//!
//! The account comes from `--user` and the environment variable SOCKLAB_PASSWORD, as for 14's
//! checker. Every file it makes is named `socklab-check-*` and deleted at the end. Every read has
//! a deadline (the point's time), and replies and data are read with a cap on their size.

use std::io::Write;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use super::{read_to_close, transcript, Checker, Lesson, Options, Verdict};
use crate::escape::preview;
use crate::net;
use crate::units;

pub const LESSON: Lesson = Lesson {
    binary: "15-ftp",
    server: None,
    client: None,
};

/// The walkthrough section every point points to.
const CHAPTER: &str = "15-ftp, \"What real clients send\"";

/// Longest reply line read, and most bytes of one (multi-line) reply.
const MAX_REPLY_LINE: usize = 4096;
const MAX_REPLY: usize = 64 * 1024;

/// Most bytes read from one data connection (the checker's files are far smaller).
const MAX_DATA: usize = 4 << 20;

/// `15-ftp check`: check your own RFC 959 server.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub target: Target,
    /// Accepted like every checker's, so that a failure's replay line works; this checker cuts
    /// nothing at random, so the seed changes nothing.
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// Run only the point of this name (the replay of one failure).
    #[arg(long, global = true, value_name = "NAME")]
    pub point: Option<String>,
    /// Print the results as one JSON object (for a teacher collecting a class's results).
    #[arg(long, global = true)]
    pub json: bool,
    /// How long one point may take before it counts as a failure (your server hangs).
    #[arg(long, global = true, default_value = "20", value_parser = units::parse_timeout)]
    pub timeout: Duration,
}

/// What to check.
#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// Play curl's, ftplib's and FileZilla's sequences against your server, which must already
    /// be running and know the account. The password is read from the environment variable
    /// SOCKLAB_PASSWORD. Files named socklab-check-* are made in the home and removed at the end.
    Server {
        /// Where your server listens, HOST:PORT (for example 127.0.0.1:9015).
        address: String,
        /// The account to log in as (its quota must have at least 1 MiB free).
        #[arg(long)]
        user: String,
    },
}

pub use super::ftp::{Account, PASSWORD_VARIABLE};

/// Runs `15-ftp check`.
pub fn run(args: CheckArgs) -> anyhow::Result<()> {
    let Target::Server { address, user } = args.target;
    let account = Account::from_environment(user)?;
    super::run_server_with_point(
        &LESSON,
        &address,
        args.seed,
        args.point,
        args.json,
        args.timeout,
        |checker, addr| check_server(checker, addr, &account),
    )
}

/// Checks the server at `addr` with `account` and returns the report (for the tests).
pub fn report(
    addr: SocketAddr,
    account: &Account,
    options: &Options,
) -> Result<super::Report, super::CheckError> {
    super::check_server_with(&LESSON, addr, options, |checker, addr| {
        check_server(checker, addr, account)
    })
}

// ---------------------------------------------------------------------------------------------
// A control connection with a deadline

/// One reply: its code and (for the report only) its first line.
#[derive(Debug, Clone)]
struct Reply {
    code: u16,
    line: String,
    /// The lines of a multi-line reply, the first and last included.
    lines: Vec<String>,
}

impl Reply {
    fn is(&self, first_digit: u16) -> bool {
        self.code / 100 == first_digit
    }
}

/// A control connection whose every read ends by the point's deadline.
struct Ftp {
    conn: TcpStream,
    pending: Vec<u8>,
    deadline: Instant,
    /// When the point began, for "timed out after N s".
    started: Instant,
    /// What was sent and received, for the report.
    said: Vec<String>,
}

impl Ftp {
    /// Connects and reads the greeting.
    fn connect(addr: SocketAddr, timeout: Duration) -> Result<(Ftp, Reply), String> {
        let conn = super::connect(addr).map_err(|e| format!("could not connect: {e}"))?;
        let mut ftp = Ftp {
            conn,
            pending: Vec::new(),
            deadline: net::deadline_after(timeout),
            started: Instant::now(),
            said: Vec::new(),
        };
        let greeting = ftp.reply()?;
        Ok((ftp, greeting))
    }

    /// Connects and logs in (USER, PASS): the 2xx of PASS is required.
    fn login(addr: SocketAddr, account: &Account, timeout: Duration) -> Result<Ftp, String> {
        let (mut ftp, greeting) = Ftp::connect(addr, timeout)?;
        if !greeting.is(2) {
            return Err(format!("greeting {}", greeting.line));
        }
        let user = ftp.cmd(&format!("USER {}", account.user))?;
        if user.is(2) {
            return Ok(ftp);
        }
        let pass = ftp.cmd_hidden("PASS", &account.password)?;
        if !pass.is(2) {
            code_differs(&pass, "230");
            return Err(format!("USER/PASS: {} (expected 230)", pass.line));
        }
        Ok(ftp)
    }

    /// Sends `line` and its CRLF; the transcript shows `shown` (the line, or the password
    /// hidden).
    fn send(&mut self, line: &str, shown: &str) -> Result<(), String> {
        self.conn
            .set_write_timeout(Some(self.left()?))
            .map_err(|e| e.to_string())?;
        self.conn
            .write_all(format!("{line}\r\n").as_bytes())
            .map_err(|e| {
                transcript::note(format!("sending {shown} failed: {e}"));
                format!("sending {shown}: {e}")
            })?;
        transcript::sent(format!("{shown}\r\n").as_bytes(), 1, "one write");
        Ok(())
    }

    fn cmd(&mut self, line: &str) -> Result<Reply, String> {
        self.said
            .push(format!("> {}", preview(line.as_bytes(), 60)));
        self.send(line, line)?;
        self.reply()
    }

    /// A command whose argument must not appear in the report (the password).
    fn cmd_hidden(&mut self, verb: &str, arg: &str) -> Result<Reply, String> {
        self.said.push(format!("> {verb} ****"));
        self.send(&format!("{verb} {arg}"), &format!("{verb} ****"))?;
        self.reply()
    }

    /// `cmd`, requiring a reply starting with `digit`.
    fn expect(&mut self, line: &str, digit: u16) -> Result<Reply, String> {
        let reply = self.cmd(line)?;
        if !reply.is(digit) {
            transcript::note(first_digit_differs(&reply, digit));
            return Err(format!("{line}: got {} (expected {digit}xx)", reply.line));
        }
        Ok(reply)
    }

    fn left(&self) -> Result<Duration, String> {
        let left = self.deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(self.no_answer());
        }
        Ok(left)
    }

    /// The point's time is up: says so in the transcript and in the verdict.
    fn no_answer(&self) -> String {
        transcript::timed_out(self.started.elapsed());
        format!(
            "no answer in time (timed out after {} s; --timeout)",
            self.started.elapsed().as_secs()
        )
    }

    /// One line, without its line end; capped at [`MAX_REPLY_LINE`].
    fn line(&mut self) -> Result<String, String> {
        loop {
            if let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
                let mut line: Vec<u8> = self.pending.drain(..=end).collect();
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                return Ok(String::from_utf8_lossy(&line).into_owned());
            }
            if self.pending.len() > MAX_REPLY_LINE {
                return Err(format!("a reply line longer than {MAX_REPLY_LINE} bytes"));
            }
            self.conn
                .set_read_timeout(Some(self.left()?))
                .map_err(|e| e.to_string())?;
            let mut buf = [0u8; 2048];
            match net::recv(&mut self.conn, &mut buf) {
                Ok(0) => {
                    transcript::note("then your server closed the connection (end of stream)");
                    return Err("the server closed the connection".into());
                }
                Ok(n) => {
                    let got = buf.get(..n).unwrap_or_default();
                    transcript::received(got);
                    self.pending.extend_from_slice(got);
                }
                Err(e) if net::is_timeout(&e) => return Err(self.no_answer()),
                Err(e) => {
                    transcript::note(format!("then reading failed: {e}"));
                    return Err(format!("reading the reply: {e}"));
                }
            }
        }
    }

    /// One reply, multi-line ones whole (`211-...` up to `211 ...`).
    fn reply(&mut self) -> Result<Reply, String> {
        let first = self.line()?;
        let code = reply_code(&first)
            .ok_or_else(|| format!("not a reply: '{}'", preview(first.as_bytes(), 60)))?;
        let mut lines = vec![first.clone()];
        if first.as_bytes().get(3) == Some(&b'-') {
            let end = format!("{code} ");
            let mut size = first.len();
            loop {
                let line = self.line()?;
                size += line.len();
                if size > MAX_REPLY {
                    return Err(format!("a reply longer than {MAX_REPLY} bytes"));
                }
                let last = line.starts_with(&end);
                lines.push(line);
                if last {
                    break;
                }
            }
        }
        self.said
            .push(format!("< {}", preview(first.as_bytes(), 60)));
        Ok(Reply {
            code,
            line: preview(first.as_bytes(), 60),
            lines,
        })
    }

    /// The address for a data connection, as curl asks: EPSV, and PASV if EPSV gets a 5xx.
    /// Like ftplib, the host is the control connection's, whatever the 227 reply says.
    fn passive(&mut self) -> Result<SocketAddr, String> {
        let host = self.conn.peer_addr().map_err(|e| e.to_string())?.ip();
        let epsv = self.cmd("EPSV")?;
        if epsv.code == 229 {
            return epsv_port(&epsv.line)
                .map(|port| SocketAddr::new(host, port))
                .ok_or_else(|| format!("EPSV: cannot read a port in {}", epsv.line));
        }
        if !epsv.is(5) {
            code_differs(&epsv, "229");
            return Err(format!(
                "EPSV: got {} (expected 229, or 5xx then PASV)",
                epsv.line
            ));
        }
        self.pasv()
    }

    /// ftplib's way on IPv4: PASV only.
    fn pasv(&mut self) -> Result<SocketAddr, String> {
        let host = self.conn.peer_addr().map_err(|e| e.to_string())?.ip();
        let pasv = self.cmd("PASV")?;
        if pasv.code != 227 {
            code_differs(&pasv, "227");
            return Err(format!("PASV: got {} (expected 227)", pasv.line));
        }
        pasv_port(&pasv.line)
            .map(|port| SocketAddr::new(host, port))
            .ok_or_else(|| format!("PASV: cannot read an address in {}", pasv.line))
    }

    /// A transfer that reads data: the data connection to `addr`, the command, `1xx`, the
    /// bytes until the server closes, `2xx`.
    fn download(&mut self, addr: SocketAddr, command: &str) -> Result<Vec<u8>, String> {
        let data = self.open_data(addr)?;
        self.expect(command, 1)?;
        let (bytes, ending) = read_to_close(&data, MAX_DATA, self.left()?);
        if ending != super::Ending::Complete {
            return Err(format!(
                "{command}: the data connection did not end normally ({ending})"
            ));
        }
        self.expect_after(command)?;
        Ok(bytes)
    }

    /// A transfer that sends data: the command, `1xx` before any byte, the bytes, the close,
    /// `2xx`.
    fn upload(&mut self, addr: SocketAddr, command: &str, bytes: &[u8]) -> Result<(), String> {
        let mut data = self.open_data(addr)?;
        self.expect(command, 1)?;
        data.set_write_timeout(Some(self.left()?))
            .map_err(|e| e.to_string())?;
        data.write_all(bytes).map_err(|e| {
            transcript::note(format!("sending the data failed: {e}"));
            format!("{command}: sending the data: {e}")
        })?;
        transcript::sent(bytes, 1, "on the data connection, then closed it");
        drop(data);
        self.expect_after(command)
    }

    fn expect_after(&mut self, command: &str) -> Result<(), String> {
        let done = self.reply()?;
        if !done.is(2) {
            transcript::note(first_digit_differs(&done, 2));
            return Err(format!(
                "{command}: after the data got {} (expected 226)",
                done.line
            ));
        }
        Ok(())
    }

    fn open_data(&self, addr: SocketAddr) -> Result<TcpStream, String> {
        let data = TcpStream::connect_timeout(&addr, self.left()?.min(net::CONNECT_TIMEOUT))
            .map_err(|e| {
                transcript::note(format!("connecting to the data port {addr} failed: {e}"));
                format!("data connection to {addr}: {e}")
            })?;
        transcript::connected(format!("{addr} (the data connection)"));
        Ok(data)
    }

    /// What was said, for a passing point's line: the commands sent and the codes of the
    /// replies (a failure shows every byte in its steps instead).
    fn transcript(&self) -> Said {
        let last = |items: Vec<&str>| {
            let start = items.len().saturating_sub(MAX_SAID);
            let mut shown = items.get(start..).unwrap_or_default().join(", ");
            if start > 0 {
                shown = format!("…, {shown}");
            }
            shown
        };
        let commands = self
            .said
            .iter()
            .filter_map(|line| line.strip_prefix("> "))
            .collect();
        let codes = self
            .said
            .iter()
            .filter_map(|line| line.strip_prefix("< "))
            .map(|line| line.get(..3).unwrap_or(line))
            .collect();
        Said {
            sent: last(commands),
            got: format!("replies {}", last(codes)),
        }
    }
}

/// Most commands (and replies) a passing point's line names: the last ones.
const MAX_SAID: usize = 10;

/// A passing point's conversation in short: the commands, and the reply codes.
struct Said {
    sent: String,
    got: String,
}

/// The first digit of a reply's code is what a client acts on: marks it when it is not `digit`.
fn first_digit_differs(reply: &Reply, digit: u16) -> String {
    format!(
        "expected a reply starting '{digit}' ({digit}xx), got '{}': they differ first at byte 0: '>>{}'",
        reply.code / 100,
        reply.line
    )
}

/// Marks, in the point's transcript, where a reply's code differs from the `expected` one.
fn code_differs(reply: &Reply, expected: &str) {
    transcript::difference(expected.as_bytes(), reply.code.to_string().as_bytes());
}

/// The code of a reply line: three digits, then a space, a dash, or the end.
fn reply_code(line: &str) -> Option<u16> {
    let digits = line.get(..3)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match line.as_bytes().get(3) {
        None | Some(b' ') | Some(b'-') => digits.parse().ok(),
        _ => None,
    }
}

/// The port in `229 Entering Extended Passive Mode (|||6446|)`.
fn epsv_port(line: &str) -> Option<u16> {
    let inside = line.split_once('(')?.1.split_once(')')?.0;
    let delimiter = inside.chars().next()?;
    let parts: Vec<&str> = inside.split(delimiter).collect();
    parts.get(3)?.parse().ok()
}

/// The port in `227 Entering Passive Mode (h1,h2,h3,h4,p1,p2)` (the numbers may come without
/// parentheses: RFC 959 does not fix the text around them).
fn pasv_port(line: &str) -> Option<u16> {
    let text = line.get(4..)?;
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let numbers: Vec<u16> = text
        .get(start..)?
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(6)
        .map(|n| n.parse::<u16>().ok())
        .collect::<Option<_>>()?;
    let [_, _, _, _, p1, p2] = numbers.as_slice() else {
        return None;
    };
    (*p1 < 256 && *p2 < 256).then(|| p1 * 256 + p2)
}

// ---------------------------------------------------------------------------------------------
// The points

/// Test bytes: every position has its own value, so a byte out of place shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8 ^ seed)
        .collect()
}

/// The point that appears only when the checker cannot log in (and then stops).
const LOGIN_POINT: &str = "log in with the account (USER, PASS)";

const CURL_FILE: &str = "socklab-check-curl.bin";
const FTPLIB_FILE: &str = "socklab-check-ftplib.bin";
const RENAMED_FILE: &str = "socklab-check-renamed.bin";

/// Runs every point against the server at `addr`.
pub fn check_server(checker: &mut Checker, addr: SocketAddr, account: &Account) {
    let timeout = checker.timeout();
    let body = pattern(300_000, 15);

    point(
        checker,
        "greeting: 220 on connect, 530 before login, 221 on QUIT",
        |_| {
            let (mut ftp, greeting) = Ftp::connect(addr, timeout)?;
            if greeting.code != 220 {
                code_differs(&greeting, "220");
                return Err(format!("greeting {} (expected 220)", greeting.line));
            }
            ftp.expect("PWD", 5)?;
            ftp.expect("QUIT", 2)?;
            Ok(ftp.transcript())
        },
    );

    point(checker, "a wrong password gets 530", |_| {
        let (mut ftp, _) = Ftp::connect(addr, timeout)?;
        ftp.expect(&format!("USER {}", account.user), 3)?;
        let reply = ftp.cmd_hidden("PASS", &format!("{}-wrong", account.password))?;
        if reply.code != 530 {
            code_differs(&reply, "530");
            return Err(format!("PASS (wrong): got {} (expected 530)", reply.line));
        }
        Ok(ftp.transcript())
    });

    // Every later point logs in: with a wrong SOCKLAB_PASSWORD (or an account your server does
    // not know) each would fail the same way. Say it once, and stop.
    if checker.runs_point(LOGIN_POINT) {
        if let Err(why) = Ftp::login(addr, account, timeout) {
            if why.contains(" 530 ") || why.starts_with("USER/PASS: 530") {
                let advice = format!(
                    "{why}: is {PASSWORD_VARIABLE} the password of '{}', and does your server \
                     know that account? The points that need a login were not run",
                    account.user
                );
                point(checker, LOGIN_POINT, |_| {
                    match Ftp::login(addr, account, timeout) {
                        Err(again) if again == why => Err(advice),
                        Err(other) => Err(other),
                        Ok(ftp) => Ok(ftp.transcript()),
                    }
                });
                return;
            }
        }
    }

    point(
        checker,
        "curl's upload: PWD, EPSV (or PASV), TYPE I, STOR, 150, 226",
        |_| {
            let mut ftp = Ftp::login(addr, account, timeout)?;
            ftp.expect("PWD", 2)?;
            let data = ftp.passive()?;
            ftp.expect("TYPE I", 2)?;
            ftp.upload(data, &format!("STOR {CURL_FILE}"), &body)?;
            Ok(ftp.transcript())
        },
    );

    point(
        checker,
        "curl's download: SIZE, RETR gives the same bytes",
        |_| {
            let mut ftp = Ftp::login(addr, account, timeout)?;
            let data = ftp.passive()?;
            ftp.expect("TYPE I", 2)?;
            let size = ftp.expect(&format!("SIZE {CURL_FILE}"), 2)?;
            if size.code != 213 || !size.line.ends_with(&format!(" {}", body.len())) {
                transcript::difference(
                    format!("213 {}", body.len()).as_bytes(),
                    size.line.as_bytes(),
                );
                return Err(format!(
                    "SIZE: got {} (expected 213 {})",
                    size.line,
                    body.len()
                ));
            }
            let got = ftp.download(data, &format!("RETR {CURL_FILE}"))?;
            same_bytes(&got, &body)?;
            Ok(ftp.transcript())
        },
    );

    point(
        checker,
        "curl's resumed download: REST 100000, RETR gives the rest",
        |_| {
            let mut ftp = Ftp::login(addr, account, timeout)?;
            let data = ftp.passive()?;
            ftp.expect("TYPE I", 2)?;
            ftp.expect("REST 100000", 3)?;
            let got = ftp.download(data, &format!("RETR {CURL_FILE}"))?;
            same_bytes(&got, body.get(100_000..).unwrap_or_default())?;
            Ok(ftp.transcript())
        },
    );

    point(
        checker,
        "curl's resumed upload: APPE adds to the stored file",
        |_| {
            let mut ftp = Ftp::login(addr, account, timeout)?;
            let tail = pattern(50_000, 16);
            let data = ftp.passive()?;
            ftp.expect("TYPE I", 2)?;
            ftp.upload(data, &format!("APPE {CURL_FILE}"), &tail)?;
            let data = ftp.passive()?;
            let got = ftp.download(data, &format!("RETR {CURL_FILE}"))?;
            let mut whole = body.clone();
            whole.extend_from_slice(&tail);
            same_bytes(&got, &whole)?;
            Ok(ftp.transcript())
        },
    );

    point(
        checker,
        "ftplib's storbinary and retrbinary: PASV, STOR, RETR",
        |_| {
            let mut ftp = Ftp::login(addr, account, timeout)?;
            ftp.expect("TYPE I", 2)?;
            let data = ftp.pasv()?;
            ftp.upload(data, &format!("STOR {FTPLIB_FILE}"), &body)?;
            let data = ftp.pasv()?;
            let got = ftp.download(data, &format!("RETR {FTPLIB_FILE}"))?;
            same_bytes(&got, &body)?;
            Ok(ftp.transcript())
        },
    );

    point(
        checker,
        "ftplib's resumed upload: REST 1000, STOR keeps the first bytes",
        |_| {
            let mut ftp = Ftp::login(addr, account, timeout)?;
            ftp.expect("TYPE I", 2)?;
            let data = ftp.pasv()?;
            ftp.upload(
                data,
                &format!("STOR {FTPLIB_FILE}"),
                body.get(..1000).unwrap_or_default(),
            )?;
            let data = ftp.pasv()?;
            ftp.expect("REST 1000", 3)?;
            ftp.upload(
                data,
                &format!("STOR {FTPLIB_FILE}"),
                body.get(1000..).unwrap_or_default(),
            )?;
            let data = ftp.pasv()?;
            let got = ftp.download(data, &format!("RETR {FTPLIB_FILE}"))?;
            same_bytes(&got, &body)?;
            Ok(ftp.transcript())
        },
    );

    point(checker, "listings: LIST and NLST name the files", |_| {
        let mut ftp = Ftp::login(addr, account, timeout)?;
        ftp.expect("TYPE A", 2)?;
        let data = ftp.pasv()?;
        let list = ftp.download(data, "LIST")?;
        let data = ftp.pasv()?;
        let names = ftp.download(data, "NLST")?;
        for (what, bytes) in [("LIST", &list), ("NLST", &names)] {
            let text = String::from_utf8_lossy(bytes);
            if !text.lines().any(|l| l.trim_end().ends_with(FTPLIB_FILE)) {
                return Err(format!(
                    "{what} does not name {FTPLIB_FILE}: '{}'",
                    preview(bytes, 80)
                ));
            }
        }
        Ok(ftp.transcript())
    });

    point(
        checker,
        "FileZilla's listing: FEAT says MLST, MLSD gives RFC 3659 facts",
        |_| {
            let mut ftp = Ftp::login(addr, account, timeout)?;
            let feat = ftp.expect("FEAT", 2)?;
            if !feat
                .lines
                .iter()
                .any(|l| l.trim_start().to_ascii_uppercase().starts_with("MLST"))
            {
                return Err("FEAT does not list MLST".into());
            }
            let data = ftp.passive()?;
            let listing = ftp.download(data, "MLSD")?;
            let text = String::from_utf8_lossy(&listing);
            let line = text
                .lines()
                .find(|l| l.ends_with(&format!(" {FTPLIB_FILE}")))
                .ok_or_else(|| {
                    format!(
                        "MLSD does not name {FTPLIB_FILE}: '{}'",
                        preview(&listing, 80)
                    )
                })?;
            let facts = line.to_ascii_lowercase();
            let size = format!("size={};", body.len());
            let modify_ok = facts.split(';').any(|f| {
                f.strip_prefix("modify=").is_some_and(|t| {
                    t.len() >= 14 && t.bytes().take(14).all(|b| b.is_ascii_digit())
                })
            });
            if !facts.contains("type=file;") || !facts.contains(&size) || !modify_ok {
                return Err(format!(
                    "MLSD line '{line}' lacks type=file, {size} or modify=YYYYMMDDHHMMSS"
                ));
            }
            Ok(ftp.transcript())
        },
    );

    point(
        checker,
        "the jail: CWD .. at the top and RETR ../.. stay in the home",
        |_| {
            let mut ftp = Ftp::login(addr, account, timeout)?;
            ftp.expect("CWD /", 2)?;
            let top = ftp.expect("PWD", 2)?.line;
            let _ = ftp.cmd("CWD ..")?;
            let after = ftp.expect("PWD", 2)?.line;
            if top != after {
                return Err(format!("CWD .. from the top moved: {top} then {after}"));
            }
            // The data connection is never made: a server that answers 150 found a file there.
            let _ = ftp.passive()?;
            let retr = ftp.cmd("RETR ../../../../../../../../etc/passwd")?;
            if !retr.is(5) {
                code_differs(&retr, "550");
                return Err(format!(
                    "RETR ../../etc/passwd: got {} (expected 550)",
                    retr.line
                ));
            }
            Ok(ftp.transcript())
        },
    );

    point(
        checker,
        "sequences: RNFR+RNTO rename, RNTO alone 503, DELE, unknown 500/502",
        |_| {
            let mut ftp = Ftp::login(addr, account, timeout)?;
            let alone = ftp.cmd(&format!("RNTO {RENAMED_FILE}"))?;
            if alone.code != 503 {
                code_differs(&alone, "503");
                return Err(format!(
                    "RNTO without RNFR: got {} (expected 503)",
                    alone.line
                ));
            }
            ftp.expect(&format!("RNFR {FTPLIB_FILE}"), 3)?;
            ftp.expect(&format!("RNTO {RENAMED_FILE}"), 2)?;
            ftp.expect(&format!("SIZE {RENAMED_FILE}"), 2)?;
            let unknown = ftp.cmd("XSOCKLAB")?;
            if unknown.code != 502 && unknown.code != 500 {
                code_differs(&unknown, "502");
                return Err(format!(
                    "an unknown command: got {} (expected 502 or 500)",
                    unknown.line
                ));
            }
            Ok(ftp.transcript())
        },
    );

    point(
        checker,
        "a 3000-byte command line does not bring the server down",
        |_| {
            let (mut ftp, _) = Ftp::connect(addr, timeout)?;
            let _ = ftp.send(&format!("USER {}", "x".repeat(3000)), "USER xxx… (3000 x)");
            // A refusal (5xx) or a closed connection are both fine; then the server must still
            // greet a new client.
            let _ = ftp.reply();
            let (_, greeting) = Ftp::connect(addr, timeout)?;
            if greeting.code != 220 {
                code_differs(&greeting, "220");
                return Err(format!(
                    "a new connection got {} (expected 220)",
                    greeting.line
                ));
            }
            Ok(Said {
                sent: "USER xxx… (3000 bytes), then a new connection".into(),
                got: "replies 220".into(),
            })
        },
    );

    // Tidy up, whatever passed: not a point.
    if let Ok(mut ftp) = Ftp::login(addr, account, timeout) {
        for name in [CURL_FILE, FTPLIB_FILE, RENAMED_FILE] {
            let _ = ftp.cmd(&format!("DELE {name}"));
        }
        let _ = ftp.cmd("QUIT");
    }
}

/// Runs one point whose body says `Ok(what was said)` or `Err(what went wrong)`.
fn point(
    checker: &mut Checker,
    name: &str,
    body: impl FnOnce(&mut rand::rngs::StdRng) -> Result<Said, String>,
) {
    checker.point(name, CHAPTER, |rng| match body(rng) {
        Ok(said) => Verdict::pass(said.sent, said.got),
        Err(why) => Verdict::fail("the commands in the steps below", why),
    });
}

fn same_bytes(got: &[u8], want: &[u8]) -> Result<(), String> {
    if got == want {
        return Ok(());
    }
    let at = got
        .iter()
        .zip(want)
        .position(|(a, b)| a != b)
        .unwrap_or(got.len().min(want.len()));
    transcript::difference(want, got);
    Err(format!(
        "got {} bytes, expected {}; they differ from byte {at}",
        got.len(),
        want.len()
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_replies_are_read_as_clients_read_them() {
        assert_eq!(
            epsv_port("229 Entering Extended Passive Mode (|||6446|)"),
            Some(6446)
        );
        assert_eq!(
            pasv_port("227 Entering Passive Mode (127,0,0,1,195,80)"),
            Some(50000)
        );
        assert_eq!(pasv_port("227 =127,0,0,1,195,80"), Some(50000));
        assert_eq!(pasv_port("227 (127,0,0,1,300,80)"), None);
        assert_eq!(reply_code("226 done"), Some(226));
        assert_eq!(reply_code("211-Features"), Some(211));
        assert_eq!(reply_code("22x"), None);
    }
}
