//! Checker of lesson 14 (the homework): a student's FTP server speaking socklab's 14 protocol.
//!
//! What a checker can fairly require of a student's own FTP is what the core lesson documents:
//! the frames, the file commands and their error codes, put with resume (断点续传) and the quota.
//! The login is socklab's SCRAM exchange, done here exactly as socklab's own client does it
//! ([`client_login`], which also checks the server's signature): never a weaker login, so a
//! server that passes is one socklab's client can use. A student writing the server in Python
//! can build its login from the walkthrough's `scram_client.py` (the same computations, the
//! other side).
//!
//! Puts and gets of whole files use socklab's [`FtpClient`]; the login and every other request
//! go through [`Recorded`], so that a failed point shows its frames byte by byte, and raw frames
//! are written where cutting them is the point (1-byte and random pieces, a body cut by a reset). Every file it makes is named
//! `socklab-check-*` and removed at the end; a kept partial upload cannot be removed through the
//! protocol, but the resume point completes it, so nothing is left behind.
//!
//! Each point runs on its own connection, with a watchdog that cuts the connection when the
//! point's time is up: a deadline for the whole point, whatever the client's own timeouts.

use std::fs;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread;
use std::time::{Duration, Instant};

use md5::{Digest as _, Md5};
use rand::rngs::StdRng;
use rand::Rng;
use serde_json::{json, Map, Value};

use super::transcript::{self, Recorded};
use super::{close_with_reset, connect, write_cut, Checker, Cut, Lesson, Options, Verdict};
use crate::framing;
use crate::lessons::ftp::client::{ClientError, FtpClient};
use crate::lessons::ftp::login::{client_login, LoginError};
use crate::lessons::ftp::protocol::{check_reply, Code, Entry};
use crate::units;

pub const LESSON: Lesson = Lesson {
    binary: "14-ftp",
    server: None,
    client: None,
};

/// The environment variable that holds the password (never on the command line, where `ps`
/// and the shell's history would show it).
pub const PASSWORD_VARIABLE: &str = "SOCKLAB_PASSWORD";

const LOGIN: &str = "14-ftp, \"Logging in (用户加密认证), in brief\"";
const PROTOCOL: &str = "14-ftp, \"The file commands: the protocol\"";
const STEPS: &str = "14-ftp in depth, \"put and get, step by step\"";

/// `14-ftp check`: check your own FTP server.
#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    #[command(subcommand)]
    pub target: Target,
    /// Seed for the random cuts. Every run prints the seed it used; give it again to get the
    /// very same cuts while you debug.
    #[arg(long, global = true)]
    pub seed: Option<u64>,
    /// Run only the point of this name (with --seed: replay one failure exactly).
    #[arg(long, global = true, value_name = "NAME")]
    pub point: Option<String>,
    /// Print the results as one JSON object (for a teacher collecting a class's results).
    #[arg(long, global = true)]
    pub json: bool,
    /// How long one point may take before it counts as a failure (your server hangs).
    #[arg(long, global = true, default_value = "30", value_parser = units::parse_timeout)]
    pub timeout: Duration,
}

/// What to check.
#[derive(Debug, clap::Subcommand)]
pub enum Target {
    /// Play a demanding client against your server, which must already be running and know the
    /// account. The password is read from the environment variable SOCKLAB_PASSWORD, never from
    /// the command line. Files named socklab-check-* are made in the account's home and removed
    /// at the end.
    Server {
        /// Where your server listens, HOST:PORT (for example 127.0.0.1:9014).
        address: String,
        /// The account to log in as (its quota must have at least 2 MiB free).
        #[arg(long)]
        user: String,
    },
}

/// The account the checker logs in as.
#[derive(Debug, Clone)]
pub struct Account {
    pub user: String,
    pub password: String,
}

impl Account {
    /// `user` with the password from [`PASSWORD_VARIABLE`] (both FTP checkers take it from
    /// there), or the line that tells how to set it.
    pub fn from_environment(user: String) -> anyhow::Result<Account> {
        let password = std::env::var(PASSWORD_VARIABLE).map_err(|_| {
            anyhow::anyhow!(
                "set the password in the environment variable {PASSWORD_VARIABLE} \
                 (e.g. `read -rs {PASSWORD_VARIABLE}; export {PASSWORD_VARIABLE}`)"
            )
        })?;
        Ok(Account { user, password })
    }
}

/// Runs `14-ftp check`.
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
// A logged-in connection with a deadline

/// Cuts a connection when its time is up (`shutdown`, so every read and write on it ends at
/// once), unless dropped first.
struct Watchdog {
    _stop: mpsc::Sender<()>,
    fired: Arc<AtomicBool>,
}

impl Watchdog {
    fn arm(conn: &TcpStream, deadline: Instant) -> io::Result<Watchdog> {
        let conn = conn.try_clone()?;
        let (stop, stopped) = mpsc::channel::<()>();
        let fired = Arc::new(AtomicBool::new(false));
        let fired_here = Arc::clone(&fired);
        thread::spawn(move || {
            let left = deadline.saturating_duration_since(Instant::now());
            // Dropping the Watchdog drops `stop`: Disconnected, and the connection is left alone.
            if stopped.recv_timeout(left) == Err(mpsc::RecvTimeoutError::Timeout) {
                fired_here.store(true, Ordering::SeqCst);
                let _ = conn.shutdown(Shutdown::Both);
            }
        });
        Ok(Watchdog { _stop: stop, fired })
    }
}

/// One point's logged-in connection: socklab's client, and the same socket for raw writes.
struct Session {
    client: FtpClient,
    raw: TcpStream,
    watchdog: Watchdog,
    timeout: Duration,
}

impl Session {
    fn open(addr: SocketAddr, account: &Account, timeout: Duration) -> Result<Session, String> {
        Session::open_as(addr, &account.user, &account.password, timeout)
            .map_err(|(e, late)| late.unwrap_or(format!("login: {e}")))
    }

    /// Logs in; on failure, the login error and, when the time was up, a note that says so.
    fn open_as(
        addr: SocketAddr,
        user: &str,
        password: &str,
        timeout: Duration,
    ) -> Result<Session, (LoginError, Option<String>)> {
        let io_error = |e: io::Error| {
            (
                LoginError::Protocol(format!("could not connect: {e}")),
                None,
            )
        };
        let mut conn = connect(addr).map_err(io_error)?;
        let watchdog = Watchdog::arm(&conn, Instant::now() + timeout).map_err(io_error)?;
        let raw = conn.try_clone().map_err(io_error)?;
        if let Err(e) = client_login(&mut Recorded(&mut conn), user, password) {
            let late = watchdog
                .fired
                .load(Ordering::SeqCst)
                .then(|| format!("login: no answer within {} s", timeout.as_secs()));
            return Err((e, late));
        }
        Ok(Session {
            client: FtpClient::logged_in(conn),
            raw,
            watchdog,
            timeout,
        })
    }

    /// An error of this session in a few words, saying so when the point's time was up.
    fn why(&self, what: &str, e: impl std::fmt::Display) -> String {
        if self.watchdog.fired.load(Ordering::SeqCst) {
            format!("{what}: no answer within {} s", self.timeout.as_secs())
        } else {
            format!("{what}: {e}")
        }
    }

    /// Sends one request frame and reads its reply, both recorded in the point's transcript; an
    /// error reply is [`ClientError::Refused`] (as socklab's client says it).
    fn request(&mut self, header: &Value) -> Result<Map<String, Value>, ClientError> {
        let mut stream = Recorded(&mut self.raw);
        framing::write_header(&mut stream, header)?;
        match framing::read_header(&mut stream) {
            Ok(Some(reply)) => Ok(check_reply(reply)?),
            Ok(None) => Err(ClientError::Closed),
            Err(e) => Err(e.into()),
        }
    }

    /// A text field of a reply that must have it.
    fn text_of(reply: &Map<String, Value>, field: &str) -> Result<String, ClientError> {
        reply
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_string)
            .ok_or_else(|| ClientError::Protocol(format!("the reply has no text \"{field}\"")))
    }

    fn pwd(&mut self) -> Result<String, String> {
        self.request(&json!({"cmd": "pwd"}))
            .and_then(|reply| Session::text_of(&reply, "cwd"))
            .map_err(|e| self.why("pwd", e))
    }

    fn cd(&mut self, path: &str) -> Result<String, String> {
        self.request(&json!({"cmd": "cd", "path": path}))
            .and_then(|reply| Session::text_of(&reply, "cwd"))
            .map_err(|e| self.why(&format!("cd {path}"), e))
    }

    fn mkdir(&mut self, path: &str) -> Result<(), String> {
        self.request(&json!({"cmd": "mkdir", "path": path}))
            .map(|_| ())
            .map_err(|e| self.why(&format!("mkdir {path}"), e))
    }

    /// The entries of the current folder.
    fn ls(&mut self) -> Result<Vec<Entry>, String> {
        let reply = self
            .request(&json!({"cmd": "ls"}))
            .map_err(|e| self.why("ls", e))?;
        let entries = reply.get("entries").cloned().unwrap_or(Value::Null);
        serde_json::from_value(entries)
            .map_err(|e| format!("ls: bad \"entries\" in the reply: {e}"))
    }

    /// `(used, quota)` in bytes.
    fn quota(&mut self) -> Result<(u64, u64), String> {
        let reply = self
            .request(&json!({"cmd": "quota"}))
            .map_err(|e| self.why("quota", e))?;
        let number = |field: &str| {
            reply
                .get(field)
                .and_then(Value::as_u64)
                .ok_or_else(|| format!("quota: the reply has no number \"{field}\""))
        };
        Ok((number("used")?, number("quota")?))
    }

    /// Sends one request frame cut as `cut`; returns the number of writes.
    fn send_cut(&mut self, header: &Value, cut: Cut, rng: &mut StdRng) -> Result<usize, String> {
        let mut frame = Vec::new();
        framing::write_header(&mut frame, header).map_err(|e| e.to_string())?;
        write_cut(&mut self.raw, &frame, cut, rng).map_err(|e| self.why("sending", e))
    }

    /// Reads one reply frame; an error reply is an `Err` with its code first.
    fn reply(&mut self) -> Result<Map<String, Value>, String> {
        match framing::read_header(&mut Recorded(&mut self.raw)) {
            Ok(Some(reply)) => check_reply(reply).map_err(|r| format!("{}: {}", r.code, r.msg)),
            Ok(None) => Err(self.why("reply", "the server closed the connection")),
            Err(e) => Err(self.why("reply", e)),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The points

fn md5_hex(bytes: &[u8]) -> String {
    hex::encode(Md5::digest(bytes))
}

fn put_header(name: &str, body: &[u8]) -> Value {
    json!({"cmd": "put", "filename": name, "filesize": body.len(), "md5": md5_hex(body)})
}

/// What is left to remove at the end: files first, then the folder.
struct Made {
    files: Vec<String>,
    dirs: Vec<String>,
}

fn check_server(checker: &mut Checker, addr: SocketAddr, account: &Account) {
    let timeout = checker.timeout();
    // A name of this run's own, so two checkers on one account do not meet.
    let run = format!("socklab-check-{:08x}", rand::random::<u32>());
    let local = match tempfile::tempdir() {
        Ok(dir) => dir,
        Err(e) => {
            checker.point("a local scratch folder", PROTOCOL, |_| {
                Verdict::fail("nothing", format!("cannot make a temporary folder: {e}"))
            });
            return;
        }
    };
    let local = local.path();
    let mut made = Made {
        files: Vec::new(),
        dirs: Vec::new(),
    };

    checker.point(
        "login (SCRAM, the server's signature checked)",
        LOGIN,
        |_| {
            let sent = format!("login as {} with SCRAM, then pwd", account.user);
            let result = Session::open(addr, account, timeout).and_then(|mut s| s.pwd());
            match result {
                Ok(cwd) if cwd == "/" => Verdict::pass(sent, "ok, signature verified; pwd /"),
                Ok(cwd) => Verdict::fail(sent, format!("pwd {cwd:?} right after login, not \"/\"")),
                Err(e) => Verdict::fail(sent, e),
            }
        },
    );
    checker.point(
        "a wrong password is refused and the server still serves",
        LOGIN,
        |_| wrong_password(addr, account, timeout),
    );
    checker.point("put and get a small text file", PROTOCOL, |_| {
        let name = format!("{run}-small.txt");
        made.files.push(name.clone());
        let body = "hello from the checker\n你好，世界\n".as_bytes();
        put_and_get(addr, account, local, &name, body, timeout)
    });
    checker.point("put and get 1 MiB of binary bytes", PROTOCOL, |rng| {
        let name = format!("{run}-big.bin");
        made.files.push(name.clone());
        let body: Vec<u8> = (0..1 << 20).map(|_| rng.gen::<u8>()).collect();
        put_and_get(addr, account, local, &name, &body, timeout)
    });
    checker.point("a put request and body in 1-byte writes", STEPS, |rng| {
        let name = format!("{run}-bytes.txt");
        made.files.push(name.clone());
        put_cut(
            addr,
            account,
            &name,
            b"one byte at a time\n",
            Cut::OneByte,
            rng,
            timeout,
        )
    });
    checker.point("a put request and body in random pieces", STEPS, |rng| {
        let name = format!("{run}-pieces.bin");
        made.files.push(name.clone());
        let body: Vec<u8> = (0..64 * 1024).map(|_| rng.gen::<u8>()).collect();
        put_cut(addr, account, &name, &body, Cut::Random, rng, timeout)
    });
    checker.point("mkdir, cd, pwd and ls", PROTOCOL, |_| {
        let dir = format!("{run}-dir");
        made.dirs.push(dir.clone());
        made.files.push(format!("{dir}/inside.txt"));
        directories(addr, account, &dir, timeout)
    });
    checker.point("hostile paths get the documented codes", PROTOCOL, |_| {
        hostile_paths(addr, account, &run, timeout)
    });
    checker.point(
        "a put cut by a reset resumes at the ready offset",
        "14-ftp, \"The file commands: the protocol\" (put with resume, 断点续传)",
        |rng| {
            let name = format!("{run}-resumed.bin");
            made.files.push(name.clone());
            resume(addr, account, local, &name, rng, timeout)
        },
    );
    checker.point(
        "a put over the quota is refused with quota_exceeded",
        "14-ftp, \"The file commands: the protocol\" (quota_exceeded before any body byte)",
        |_| over_quota(addr, account, &run, timeout),
    );
    clean_up(addr, account, &made, timeout);
}

fn wrong_password(addr: SocketAddr, account: &Account, timeout: Duration) -> Verdict {
    let sent = format!(
        "login as {} with a wrong password, then the right one",
        account.user
    );
    let wrong = format!("{}-not-the-password", account.password);
    match Session::open_as(addr, &account.user, &wrong, timeout) {
        Err((LoginError::AuthFailed(_), _)) => {}
        Ok(_) => return Verdict::fail(sent, "the wrong password was accepted"),
        Err((e, late)) => {
            let got = late.unwrap_or_else(|| e.to_string());
            return Verdict::fail(sent, format!("{got} (expected {})", Code::AuthFailed));
        }
    }
    match Session::open(addr, account, timeout).and_then(|mut s| s.pwd()) {
        Ok(_) => Verdict::pass(sent, "auth_failed, then ok"),
        Err(e) => Verdict::fail(sent, format!("auth_failed, then {e}")),
    }
}

/// Puts `body` as `name` with socklab's client, gets it back, and compares.
fn put_and_get(
    addr: SocketAddr,
    account: &Account,
    local: &Path,
    name: &str,
    body: &[u8],
    timeout: Duration,
) -> Verdict {
    let sent = format!(
        "put {name} ({} bytes, md5 {}), get it back",
        body.len(),
        md5_hex(body)
    );
    let source = local.join("put");
    if let Err(e) = fs::write(&source, body) {
        return Verdict::fail(sent, format!("cannot write a local file: {e}"));
    }
    let result = Session::open(addr, account, timeout).and_then(|mut s| {
        transcript::note(format!(
            "put {name} with socklab's client: the request, {} body bytes, the md5 in a trailer frame",
            body.len()
        ));
        let done = s.client.put(&source, name).map_err(|e| s.why("put", e))?;
        transcript::note(format!(
            "answered: ready at offset {}, then ok with md5 {}",
            done.offset, done.md5
        ));
        if done.offset != 0 || done.md5 != md5_hex(body) {
            return Err(format!(
                "put: ready offset {} and md5 {} (expected 0 and {})",
                done.offset,
                done.md5,
                md5_hex(body)
            ));
        }
        get_back(&mut s, local, name, body)
    });
    match result {
        Ok(()) => Verdict::pass(sent, "stored with the right md5; the same bytes back"),
        Err(e) => Verdict::fail(sent, e),
    }
}

/// Gets `name` with socklab's client (which checks the md5) and compares it with `body`.
fn get_back(s: &mut Session, local: &Path, name: &str, body: &[u8]) -> Result<(), String> {
    let target = local.join("got");
    let _ = fs::remove_file(&target);
    transcript::note(format!(
        "get {name} with socklab's client (it checks the md5)"
    ));
    s.client
        .get(name, &target)
        .map_err(|e| s.why(&format!("get {name}"), e))?;
    let got = fs::read(&target).map_err(|e| format!("reading what get wrote: {e}"))?;
    transcript::note(format!(
        "received {} bytes, md5 {}",
        got.len(),
        md5_hex(&got)
    ));
    if got != body {
        super::transcript::difference(body, &got);
        return Err(format!(
            "get {name}: {} bytes with md5 {}, not the {} put",
            got.len(),
            md5_hex(&got),
            body.len()
        ));
    }
    Ok(())
}

/// Puts `body` as `name` with the request frame and the body cut as `cut`, then gets it back.
fn put_cut(
    addr: SocketAddr,
    account: &Account,
    name: &str,
    body: &[u8],
    cut: Cut,
    rng: &mut StdRng,
    timeout: Duration,
) -> Verdict {
    let mut sent = format!("put {name} ({} bytes) in {cut}", body.len());
    let result = Session::open(addr, account, timeout).and_then(|mut s| {
        let mut writes = s.send_cut(&put_header(name, body), cut, rng)?;
        let ready = s.reply()?;
        if ready.get("status").and_then(Value::as_str) != Some("ready")
            || ready.get("offset").and_then(Value::as_u64) != Some(0)
        {
            return Err(format!(
                "{} (expected ready, offset 0)",
                Value::Object(ready)
            ));
        }
        writes += write_cut(&mut s.raw, body, cut, rng).map_err(|e| s.why("body", e))?;
        sent = format!("{sent} ({writes} writes), then get it back");
        let done = s.reply()?;
        if done.get("md5").and_then(Value::as_str) != Some(md5_hex(body).as_str()) {
            return Err(format!("after the body: {}", Value::Object(done)));
        }
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        get_back(&mut s, dir.path(), name, body)
    });
    match result {
        Ok(()) => Verdict::pass(sent, "ready 0, ok with the right md5; the same bytes back"),
        Err(e) => Verdict::fail(sent, e),
    }
}

fn directories(addr: SocketAddr, account: &Account, dir: &str, timeout: Duration) -> Verdict {
    let sent = format!("mkdir {dir}, cd {dir}, pwd, put inside.txt, ls, cd .., ls");
    let inside = b"in a folder\n";
    let result = Session::open(addr, account, timeout).and_then(|mut s| {
        s.mkdir(dir)?;
        let cwd = s.cd(dir)?;
        let pwd = s.pwd()?;
        let expected = format!("/{dir}");
        if cwd != expected || pwd != expected {
            return Err(format!(
                "cd answered {cwd:?}, pwd {pwd:?} (expected {expected:?})"
            ));
        }
        s.request(&put_header("inside.txt", inside))
            .map_err(|e| s.why("put inside.txt", e))?;
        io::Write::write_all(&mut Recorded(&mut s.raw), inside).map_err(|e| s.why("body", e))?;
        s.reply()?;
        let listing = s.ls()?;
        let file_listed = listing
            .iter()
            .any(|e| e.name == "inside.txt" && e.kind == "file" && e.size == inside.len() as u64);
        if !file_listed {
            return Err(format!(
                "ls in {dir} does not show inside.txt, a file of {} bytes: {listing:?}",
                inside.len()
            ));
        }
        let up = s.cd("..")?;
        let listing = s.ls()?;
        let dir_listed = listing.iter().any(|e| e.name == dir && e.kind == "dir");
        if up != "/" || !dir_listed {
            return Err(format!(
                "cd .. answered {up:?}; ls shows the folder: {dir_listed}"
            ));
        }
        Ok(())
    });
    match result {
        Ok(()) => Verdict::pass(sent, "each answered as documented"),
        Err(e) => Verdict::fail(sent, e),
    }
}

fn hostile_paths(addr: SocketAddr, account: &Account, run: &str, timeout: Duration) -> Verdict {
    // (request, path, the documented code): `..` above the home is denied; `/etc/passwd` is
    // the file etc/passwd in the home, which does not exist.
    let escape = format!("../{run}-escape.txt");
    let escape_deeper = format!("a/../../{run}-escape.txt");
    let cases = [
        ("put", escape.as_str(), Code::Denied),
        ("get", "/etc/passwd", Code::NotFound),
        ("put", escape_deeper.as_str(), Code::Denied),
        ("get", "../../../../etc/passwd", Code::Denied),
    ];
    let sent = cases
        .iter()
        .map(|(cmd, path, _)| format!("{cmd} {path:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    let result = Session::open(addr, account, timeout).and_then(|mut s| {
        for (cmd, path, code) in cases {
            let header = match cmd {
                "put" => put_header(path, b"x"),
                _ => json!({"cmd": "get", "filename": path, "offset": 0}),
            };
            match s.request(&header) {
                Err(ClientError::Refused(r)) if r.code == code => {}
                Err(ClientError::Refused(r)) => {
                    transcript::difference(
                        code.to_string().as_bytes(),
                        r.code.to_string().as_bytes(),
                    );
                    return Err(format!("{cmd} {path:?}: {} (expected {code})", r.code));
                }
                Ok(reply) => {
                    let status = reply.get("status").and_then(Value::as_str).unwrap_or("?");
                    transcript::difference(code.to_string().as_bytes(), status.as_bytes());
                    // The server now waits for, or sends, a body: this connection is done.
                    return Err(format!(
                        "{cmd} {path:?}: {} (expected {code})",
                        Value::Object(reply)
                    ));
                }
                Err(e) => return Err(s.why(&format!("{cmd} {path:?}"), e)),
            }
        }
        s.pwd().map_err(|e| format!("after the refusals: {e}"))
    });
    match result {
        Ok(_) => Verdict::pass(
            sent,
            "denied, not_found, denied, denied; then pwd still works",
        ),
        Err(e) => Verdict::fail(sent, e),
    }
}

/// Most bytes sent before the reset in the resume point, and how long the server gets to read
/// them before it: long enough on a loaded machine, and a server that has read them keeps them.
const RESUME_SIZE: usize = 512 * 1024;
const READ_PAUSE: Duration = Duration::from_millis(500);

fn resume(
    addr: SocketAddr,
    account: &Account,
    local: &Path,
    name: &str,
    rng: &mut StdRng,
    timeout: Duration,
) -> Verdict {
    let body: Vec<u8> = (0..RESUME_SIZE).map(|_| rng.gen::<u8>()).collect();
    let half = RESUME_SIZE / 2;
    let sent = format!(
        "put {name} ({RESUME_SIZE} bytes), {half} body bytes then a reset; the same put again"
    );
    let first = Session::open(addr, account, timeout).and_then(|mut s| {
        s.send_cut(&put_header(name, &body), Cut::Whole, rng)?;
        let ready = s.reply()?;
        if ready.get("offset").and_then(Value::as_u64) != Some(0) {
            return Err(format!(
                "first put: {} (expected ready, offset 0)",
                Value::Object(ready)
            ));
        }
        io::Write::write_all(
            &mut Recorded(&mut s.raw),
            body.get(..half).unwrap_or_default(),
        )
        .map_err(|e| s.why("body", e))?;
        thread::sleep(READ_PAUSE);
        Ok(s.raw)
    });
    match first {
        Ok(raw) => close_with_reset(raw),
        Err(e) => return Verdict::fail(sent, e),
    }
    let source = local.join("resumed");
    if let Err(e) = fs::write(&source, &body) {
        return Verdict::fail(sent, format!("cannot write a local file: {e}"));
    }
    let result = Session::open(addr, account, timeout).and_then(|mut s| {
        let done = put_when_free(&mut s, &source, name, &md5_hex(&body))?;
        if done.offset == 0 {
            return Err(
                "the second put was answered ready with offset 0: the bytes received before the \
                 reset were not kept"
                    .to_string(),
            );
        }
        get_back(&mut s, local, name, &body)?;
        Ok(done.offset)
    });
    match result {
        Ok(offset) => Verdict::pass(sent, format!("ready offset {offset}; the whole file back")),
        Err(e) => Verdict::fail(sent, e),
    }
}

/// The server may still be finishing the interrupted upload (`busy`) for a moment: try again
/// until the point's deadline, which the watchdog enforces. The md5 goes in the header, as in
/// the first put: a server keeps an interrupted upload for the next put of the same path, size
/// and md5 (socklab's `put` would send it after the body, which resumes only a trailer put).
fn put_when_free(
    s: &mut Session,
    source: &Path,
    name: &str,
    md5: &str,
) -> Result<crate::lessons::ftp::client::PutDone, String> {
    transcript::note(format!(
        "put {name} again with socklab's client, the md5 {md5} in the header"
    ));
    loop {
        match s.client.put_with_md5(source, name, md5) {
            Err(ClientError::Refused(r)) if r.code == Code::Busy => {
                thread::sleep(Duration::from_millis(100));
            }
            other => return other.map_err(|e| s.why("second put", e)),
        }
    }
}

fn over_quota(addr: SocketAddr, account: &Account, run: &str, timeout: Duration) -> Verdict {
    let name = format!("{run}-too-big.bin");
    let mut sent = format!("quota, then a put header of {name} one byte larger than what is free");
    let result = Session::open(addr, account, timeout).and_then(|mut s| {
        let (used, quota) = s.quota()?;
        let size = quota.saturating_sub(used) + 1;
        sent = format!("quota (used {used} of {quota}), then a put header of {name}, {size} bytes");
        let header = json!({"cmd": "put", "filename": name, "filesize": size,
                            "md5": "0123456789abcdef0123456789abcdef"});
        match s.request(&header) {
            Err(ClientError::Refused(r)) if r.code == Code::QuotaExceeded => {}
            Err(ClientError::Refused(r)) => {
                transcript::difference(
                    Code::QuotaExceeded.to_string().as_bytes(),
                    r.code.to_string().as_bytes(),
                );
                return Err(format!("{} (expected {})", r.code, Code::QuotaExceeded));
            }
            Ok(reply) => {
                return Err(format!(
                    "{} (expected {} before any body byte)",
                    Value::Object(reply),
                    Code::QuotaExceeded
                ))
            }
            Err(e) => return Err(s.why("put", e)),
        }
        s.pwd().map_err(|e| format!("after the refusal: {e}"))
    });
    match result {
        Ok(_) => Verdict::pass(sent, "quota_exceeded; then pwd still works"),
        Err(e) => Verdict::fail(sent, e),
    }
}

/// Removes what the points made (what is not there was never made, or a point failed).
fn clean_up(addr: SocketAddr, account: &Account, made: &Made, timeout: Duration) {
    if let Ok(mut s) = Session::open(addr, account, timeout) {
        for path in made.files.iter().chain(&made.dirs) {
            let _ = s.client.rm(path);
        }
        let _ = s.client.quit();
    }
}
