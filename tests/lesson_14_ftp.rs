//! Lesson 14's file service over real loopback sockets: every command and error code, the home
//! jail, quotas and their races, transfers of every size, resuming, integrity, many users at
//! once, hostile frames, and the binary's client and server end to end.
//!
//! Most tests run the server in-process (`Background`, port 0) so they can read its log lines
//! through a channel and wait for an event instead of sleeping; a few run the real binary. Users
//! are created with 4096 PBKDF2 iterations (the fewest allowed) (real accounts get 600000) to keep logins fast.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant, SystemTime};

use crossbeam_channel::Receiver;
use md5::{Digest, Md5};
use serde_json::{json, Map, Value};
use socklab::framing;
use socklab::lessons::ftp::admin;
use socklab::lessons::ftp::client::{partial_path, ClientError, FtpClient};
use socklab::lessons::ftp::login::{client_login, LoginError};
use socklab::lessons::ftp::partials::PARTIAL_DIR;
use socklab::lessons::ftp::scram;
use socklab::lessons::ftp::server::{run_server, ServerConfig};
use socklab::log::Log;
use socklab::server::Background;

const BIN: &str = env!("CARGO_BIN_EXE_14-ftp");
const PASSWORD: &str = "correct horse";
const ITERATIONS: u32 = 4096;

// ------------------------------------------------------------------------------------------
// Helpers
// ------------------------------------------------------------------------------------------

/// A server running in-process on a temporary root. (Fields drop in order: the server stops
/// before its root is deleted.)
struct Lab {
    _server: Background,
    root: tempfile::TempDir,
    addr: SocketAddr,
    log: Receiver<String>,
}

impl Lab {
    fn start() -> Lab {
        Lab::start_with(|_| {})
    }

    fn start_with(adjust: impl FnOnce(&mut ServerConfig)) -> Lab {
        Lab::start_at(tempfile::tempdir().unwrap(), adjust)
    }

    /// A server whose root is `root` (a folder on a filesystem the test chose).
    fn start_at(root: tempfile::TempDir, adjust: impl FnOnce(&mut ServerConfig)) -> Lab {
        let mut config = ServerConfig::new(root.path());
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (log, lines) = Log::channel();
        let server =
            Background::tcp(listener, move |l, s| run_server(l, &config, &log, &s)).unwrap();
        Lab {
            root,
            addr,
            log: lines,
            _server: server,
        }
    }

    fn add_user(&self, name: &str, quota: u64) {
        admin::add_user(self.root.path(), name, PASSWORD, quota, ITERATIONS).unwrap();
    }

    fn home(&self, name: &str) -> PathBuf {
        self.root.path().join("home").join(name)
    }

    fn client(&self, name: &str) -> FtpClient {
        FtpClient::connect("127.0.0.1", self.addr.port(), name, PASSWORD)
            .unwrap()
            .0
    }

    fn raw(&self, name: &str) -> Raw {
        let mut raw = Raw::connect(self.addr);
        client_login(&mut raw.stream, name, PASSWORD).unwrap();
        raw
    }

    /// Waits for a server log line containing `needle`.
    fn wait_log(&self, needle: &str) -> String {
        common::wait_for_log_line(&self.log, needle)
    }
}

/// A connection driven frame by frame, the way a student's Python client would.
struct Raw {
    stream: TcpStream,
}

impl Raw {
    fn connect(addr: SocketAddr) -> Raw {
        Raw {
            stream: common::connect(addr),
        }
    }

    fn send(&mut self, header: Value) {
        framing::write_header(&mut self.stream, &header).unwrap();
    }

    fn recv(&mut self) -> Map<String, Value> {
        framing::read_header(&mut self.stream)
            .unwrap()
            .expect("a reply, not the end of the connection")
    }

    fn request(&mut self, header: Value) -> Map<String, Value> {
        self.send(header);
        self.recv()
    }

    /// Sends a request and asserts the reply is an error with `code`.
    fn expect_error(&mut self, header: Value, code: &str) -> String {
        let reply = self.request(header.clone());
        assert_eq!(reply["status"], "error", "{header} -> {reply:?}");
        assert_eq!(reply["code"], code, "{header} -> {reply:?}");
        reply["msg"].as_str().unwrap().to_string()
    }

    fn expect_ok(&mut self, header: Value) -> Map<String, Value> {
        let reply = self.request(header.clone());
        assert_eq!(reply["status"], "ok", "{header} -> {reply:?}");
        reply
    }

    /// A whole upload: header, `ready`, body, final reply.
    fn put(&mut self, name: &str, data: &[u8]) -> Map<String, Value> {
        let ready = self.request(put_header(name, data));
        assert_eq!(ready["status"], "ready", "{ready:?}");
        assert_eq!(ready["offset"], 0);
        self.stream.write_all(data).unwrap();
        self.recv()
    }

    /// A whole download: header and body.
    fn get(&mut self, name: &str) -> Vec<u8> {
        let reply = self.expect_ok(json!({"cmd": "get", "filename": name}));
        let size = reply["filesize"].as_u64().unwrap();
        let mut body = vec![0u8; size as usize];
        self.stream.read_exact(&mut body).unwrap();
        assert_eq!(reply["md5"], md5_hex(&body));
        body
    }

    /// Has the server closed the connection (after an optional last reply)?
    fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.stream.read(&mut buf), Ok(0) | Err(_))
    }

    /// Closes with a reset (RST) instead of a normal end: a client killed, or a cable pulled.
    fn reset(self) {
        socket2::SockRef::from(&self.stream)
            .set_linger(Some(Duration::ZERO))
            .unwrap();
        drop(self.stream);
    }
}

fn put_header(name: &str, data: &[u8]) -> Value {
    json!({"cmd": "put", "filename": name, "filesize": data.len(), "md5": md5_hex(data)})
}

fn md5_hex(data: &[u8]) -> String {
    hex::encode(Md5::digest(data))
}

/// Deterministic test bytes: every position has its own value, so a byte out of place shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).rotate_right(13) as u8 ^ seed)
        .collect()
}

/// The files in the user's hidden partial-upload folder, with their sizes.
fn partial_files(home: &Path) -> Vec<(PathBuf, u64)> {
    match fs::read_dir(home.join(PARTIAL_DIR)) {
        Ok(entries) => entries
            .flatten()
            .map(|e| (e.path(), e.metadata().unwrap().len()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Waits until the server has written exactly `len` bytes into a partial file, so a test can cut
/// a connection at a known point instead of hoping the bytes have arrived.
fn wait_partial_len(home: &Path, len: u64) -> PathBuf {
    let deadline = Instant::now() + common::WAIT;
    loop {
        if let Some((path, _)) = partial_files(home).into_iter().find(|(_, l)| *l == len) {
            return path;
        }
        assert!(
            Instant::now() < deadline,
            "no partial file of {len} bytes; have {:?}",
            partial_files(home)
        );
        thread::sleep(Duration::from_millis(5));
    }
}

// ------------------------------------------------------------------------------------------
// Login
// ------------------------------------------------------------------------------------------

#[test]
fn login_right_wrong_and_unknown_user() {
    let lab = Lab::start();
    lab.add_user("alice", 5000);
    fs::write(lab.home("alice").join("a"), b"12345").unwrap();

    let mut raw = Raw::connect(lab.addr);
    let ok = client_login(&mut raw.stream, "alice", PASSWORD).unwrap();
    assert_eq!((ok.cwd.as_str(), ok.used, ok.quota), ("/", 5, 5000));
    lab.wait_log("alice@127.0.0.1");

    let mut answers = Vec::new();
    for (user, password) in [("alice", "wrong"), ("mallory", PASSWORD)] {
        let mut raw = Raw::connect(lab.addr);
        match client_login(&mut raw.stream, user, password) {
            Err(LoginError::AuthFailed(msg)) => answers.push(msg),
            other => panic!("{user}: {other:?}"),
        }
        assert!(
            raw.is_closed(),
            "the connection is closed after auth_failed"
        );
    }
    // Nothing tells a wrong password from an unknown user.
    assert_eq!(answers[0], answers[1]);
}

#[test]
fn anything_before_login_is_not_logged_in() {
    let lab = Lab::start();
    lab.add_user("alice", 5000);
    let mut raw = Raw::connect(lab.addr);
    for header in [
        json!({"cmd": "pwd"}),
        json!({"cmd": "get", "filename": "/etc/passwd"}),
        json!({"cmd": "no_such_command"}),
        json!({"cmd": "proof", "proof": "00"}),
        json!({"nocmd": true}),
    ] {
        raw.expect_error(header, "not_logged_in");
    }
    // The connection is still usable: log in on it.
    client_login(&mut raw.stream, "alice", PASSWORD).unwrap();
    raw.expect_ok(json!({"cmd": "pwd"}));
    raw.expect_error(
        json!({"cmd": "login", "user": "alice", "nonce": "00"}),
        "bad_request",
    );
}

// ------------------------------------------------------------------------------------------
// Every command, every error
// ------------------------------------------------------------------------------------------

#[test]
fn every_command_works() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let mut raw = lab.raw("alice");

    assert_eq!(raw.expect_ok(json!({"cmd": "pwd"}))["cwd"], "/");
    raw.expect_ok(json!({"cmd": "mkdir", "path": "docs"}));
    assert_eq!(
        raw.expect_ok(json!({"cmd": "cd", "path": "docs"}))["cwd"],
        "/docs"
    );
    assert_eq!(raw.expect_ok(json!({"cmd": "pwd"}))["cwd"], "/docs");
    let done = raw.put("b.txt", b"bee");
    assert_eq!(done["status"], "ok", "{done:?}");
    assert_eq!(done["md5"], md5_hex(b"bee"));
    assert_eq!(
        (done["used"].as_u64(), done["quota"].as_u64()),
        (Some(3), Some(1 << 20))
    );
    raw.put("/docs/a.txt", b"a");
    raw.expect_ok(json!({"cmd": "mkdir", "path": "/docs/c"}));

    let listing = raw.expect_ok(json!({"cmd": "ls"}));
    assert_eq!(
        listing["entries"],
        json!([
            {"name": "a.txt", "type": "file", "size": 1},
            {"name": "b.txt", "type": "file", "size": 3},
            {"name": "c", "type": "dir", "size": 0},
        ])
    );
    assert_eq!(
        raw.expect_ok(json!({"cmd": "ls", "path": "/"}))["entries"],
        json!([{"name": "docs", "type": "dir", "size": 0}])
    );
    assert_eq!(raw.get("b.txt"), b"bee");
    assert_eq!(raw.get("../docs/./a.txt"), b"a");

    let quota = raw.expect_ok(json!({"cmd": "quota"}));
    assert_eq!(
        (quota["used"].as_u64(), quota["quota"].as_u64()),
        (Some(4), Some(1 << 20))
    );

    raw.expect_ok(json!({"cmd": "rm", "path": "a.txt"}));
    raw.expect_ok(json!({"cmd": "rm", "path": "c"}));
    raw.expect_ok(json!({"cmd": "cd", "path": ".."}));
    assert_eq!(
        raw.expect_ok(json!({"cmd": "ls", "path": "docs"}))["entries"],
        json!([{"name": "b.txt", "type": "file", "size": 3}])
    );
    raw.expect_ok(json!({"cmd": "quit"}));
    assert!(raw.is_closed());
    assert_eq!(
        fs::read(lab.home("alice").join("docs/b.txt")).unwrap(),
        b"bee"
    );
}

#[test]
fn every_error_code_has_its_case() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let mut raw = lab.raw("alice");
    raw.expect_ok(json!({"cmd": "mkdir", "path": "docs"}));
    raw.put("docs/f", b"file");
    raw.put("f", b"file");
    let md5 = md5_hex(b"x");

    let cases = [
        // not_found
        (json!({"cmd": "cd", "path": "nope"}), "not_found"),
        (json!({"cmd": "ls", "path": "nope"}), "not_found"),
        (json!({"cmd": "get", "filename": "nope"}), "not_found"),
        (json!({"cmd": "rm", "path": "nope"}), "not_found"),
        (json!({"cmd": "mkdir", "path": "nope/x"}), "not_found"),
        (
            json!({"cmd": "put", "filename": "nope/x", "filesize": 1, "md5": md5}),
            "not_found",
        ),
        (
            json!({"cmd": "get", "filename": "/etc/passwd"}),
            "not_found",
        ),
        // exists
        (json!({"cmd": "mkdir", "path": "docs"}), "exists"),
        (json!({"cmd": "mkdir", "path": "f"}), "exists"),
        (json!({"cmd": "mkdir", "path": "/"}), "exists"),
        // not_a_directory
        (json!({"cmd": "cd", "path": "f"}), "not_a_directory"),
        (json!({"cmd": "ls", "path": "f"}), "not_a_directory"),
        (json!({"cmd": "mkdir", "path": "f/x"}), "not_a_directory"),
        (
            json!({"cmd": "put", "filename": "f/x", "filesize": 1, "md5": md5}),
            "not_a_directory",
        ),
        // is_a_directory
        (json!({"cmd": "get", "filename": "docs"}), "is_a_directory"),
        (json!({"cmd": "get", "filename": "/"}), "is_a_directory"),
        (
            json!({"cmd": "put", "filename": "docs", "filesize": 1, "md5": md5}),
            "is_a_directory",
        ),
        (
            json!({"cmd": "put", "filename": "/", "filesize": 1, "md5": md5}),
            "is_a_directory",
        ),
        // not_empty
        (json!({"cmd": "rm", "path": "docs"}), "not_empty"),
        // denied
        (json!({"cmd": "rm", "path": "/"}), "denied"),
        (json!({"cmd": "cd", "path": "../"}), "denied"),
        (json!({"cmd": "ls", "path": "docs/../.."}), "denied"),
        (
            json!({"cmd": "get", "filename": "../../../etc/passwd"}),
            "denied",
        ),
        (
            json!({"cmd": "get", "filename": "..\\..\\etc\\passwd"}),
            "denied",
        ),
        (json!({"cmd": "get", "filename": "f\u{0}.txt"}), "denied"),
        (json!({"cmd": "ls", "path": ".socklab-partial"}), "denied"),
        // On a case-insensitive filesystem this would be the same folder.
        (json!({"cmd": "ls", "path": ".SOCKLAB-Partial"}), "denied"),
        (
            json!({"cmd": "put", "filename": "../x", "filesize": 1, "md5": md5}),
            "denied",
        ),
        // bad_request
        (json!({"cmd": "cd"}), "bad_request"),
        (json!({"cmd": "cd", "path": ""}), "bad_request"),
        (json!({"cmd": "cd", "path": 7}), "bad_request"),
        (
            json!({"cmd": "put", "filename": "x", "filesize": -1, "md5": md5}),
            "bad_request",
        ),
        (
            json!({"cmd": "put", "filename": "x", "filesize": 1, "md5": "nothex"}),
            "bad_request",
        ),
        (
            json!({"cmd": "put", "filename": "x", "filesize": 1}),
            "bad_request",
        ),
        (
            json!({"cmd": "get", "filename": "f", "offset": 5}),
            "bad_request",
        ),
        (
            json!({"cmd": "get", "filename": "f", "offset": -1}),
            "bad_request",
        ),
        (json!({"cmd": 3}), "bad_request"),
        // unknown_command
        (json!({"cmd": "format_disk"}), "unknown_command"),
    ];
    for (header, code) in cases {
        raw.expect_error(header, code);
    }
    // An offset at the very end is allowed: nothing left to send.
    let reply = raw.expect_ok(json!({"cmd": "get", "filename": "f", "offset": 4}));
    assert_eq!(
        (reply["filesize"].as_u64(), reply["offset"].as_u64()),
        (Some(4), Some(4))
    );
    // After all that, the session still works and nothing changed.
    assert_eq!(raw.get("docs/f"), b"file");
    assert_eq!(raw.expect_ok(json!({"cmd": "quota"}))["used"], 8);
}

#[test]
fn a_huge_directory_listing_is_cut_to_one_frame() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    let dir = lab.home("alice").join("many");
    fs::create_dir(&dir).unwrap();
    for i in 0..3000 {
        fs::write(dir.join(format!("file-number-{i:05}.txt")), b"").unwrap();
    }
    let mut raw = lab.raw("alice");
    let reply = raw.expect_ok(json!({"cmd": "ls", "path": "many"}));
    assert_eq!(reply["truncated"], true);
    let entries = reply["entries"].as_array().unwrap();
    assert!(
        entries.len() > 500 && entries.len() < 3000,
        "{}",
        entries.len()
    );
    assert_eq!(entries[0]["name"], "file-number-00000.txt");
}

#[test]
fn names_cannot_forge_log_lines() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    let mut raw = lab.raw("alice");
    let forged = json!({"cmd": "mkdir", "path": "x\nalice@evil logged in"});
    if cfg!(windows) {
        // Windows cannot store a newline in a name: refused before the disk, in words.
        let msg = raw.expect_error(forged, "bad_request");
        assert!(msg.contains("Windows cannot store"), "{msg}");
        return;
    }
    raw.expect_ok(forged);
    let line = lab.wait_log("mkdir x");
    assert!(line.contains("x\\nalice@evil"), "{line}");
}

#[test]
fn too_many_clients_gets_a_framed_error() {
    let lab = Lab::start_with(|c| c.max_clients = 1);
    lab.add_user("alice", 1000);
    let mut first = lab.raw("alice");
    first.expect_ok(json!({"cmd": "pwd"}));
    let mut second = Raw::connect(lab.addr);
    let reply = second.recv();
    assert_eq!(reply["code"], "too_many_clients", "{reply:?}");
    assert!(second.is_closed());
    // The first client never noticed.
    first.expect_ok(json!({"cmd": "pwd"}));
}

#[test]
fn idle_client_gets_timeout_and_is_disconnected() {
    let lab = Lab::start_with(|c| c.idle_timeout = Duration::from_millis(300));
    lab.add_user("alice", 1000);
    let mut raw = lab.raw("alice");
    // Send nothing: the server's read times out and it says so.
    let reply = raw.recv();
    assert_eq!(reply["code"], "timeout", "{reply:?}");
    assert!(raw.is_closed());
    lab.wait_log("idle");
}

#[test]
fn a_connection_that_never_logs_in_is_closed_even_if_it_keeps_talking() {
    let lab = Lab::start_with(|c| c.login_timeout = Duration::from_millis(300));
    lab.add_user("alice", 1000);
    let mut raw = Raw::connect(lab.addr);
    // A request every 20 ms keeps the connection from ever being idle; what ends it is the
    // login deadline, 300 ms after connecting. (The loop is bounded by common::WAIT.)
    let deadline = Instant::now() + common::WAIT;
    let reply = loop {
        assert!(Instant::now() < deadline, "never disconnected");
        let reply = raw.request(json!({"cmd": "pwd"}));
        if reply["code"] != "not_logged_in" {
            break reply;
        }
        thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(reply["code"], "timeout", "{reply:?}");
    assert!(raw.is_closed());
    lab.wait_log("no login in time");
    // A client that logs in is not affected, however long it stays afterwards.
    let mut raw = lab.raw("alice");
    thread::sleep(Duration::from_millis(400));
    raw.expect_ok(json!({"cmd": "pwd"}));
}

/// Sends the start of a 60 000-byte login frame, then one byte of a name every 50 ms, from a
/// thread that stops when the server closes (or after 20 s).
fn trickle(stream: &TcpStream) -> thread::JoinHandle<()> {
    let mut stream = stream.try_clone().unwrap();
    thread::spawn(move || {
        let mut start = 60_000i32.to_le_bytes().to_vec();
        start.extend_from_slice(br#"{"cmd":"login","user":""#);
        if stream.write_all(&start).is_err() {
            return;
        }
        let until = Instant::now() + common::WAIT;
        while Instant::now() < until && stream.write_all(b"a").is_ok() {
            thread::sleep(Duration::from_millis(50));
        }
    })
}

#[test]
fn a_trickled_login_frame_cannot_outlast_the_login_deadline() {
    // The 60 s deadline scaled down to 1 s; the idle timeout stays long, and every read is
    // quick: only a deadline for the whole frame ends this.
    let root = tempfile::tempdir().unwrap();
    let server = common::ServerProcess::start(
        BIN,
        &[
            "server",
            "--root",
            root.path().to_str().unwrap(),
            "--port",
            "0",
            "--login-timeout",
            "1",
        ],
    );
    let mut raw = Raw::connect(server.addr);
    let trickler = trickle(&raw.stream);
    let reply = raw.recv();
    assert_eq!(reply["code"], "timeout", "{reply:?}");
    server.expect_line("no login in time");
    assert!(raw.is_closed());
    trickler.join().unwrap();
}

#[test]
fn a_trickled_request_cannot_outlast_the_idle_timeout() {
    let lab = Lab::start_with(|c| c.idle_timeout = Duration::from_secs(1));
    lab.add_user("alice", 1000);
    let mut raw = lab.raw("alice");
    raw.stream.set_read_timeout(Some(common::WAIT)).unwrap();
    let trickler = trickle(&raw.stream);
    let reply = raw.recv();
    assert_eq!(reply["code"], "timeout", "{reply:?}");
    lab.wait_log("idle");
    trickler.join().unwrap();
}

// ------------------------------------------------------------------------------------------
// Accounts changed while their users are logged in
// ------------------------------------------------------------------------------------------

#[test]
fn a_deleted_account_is_logged_out_at_its_next_command() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    lab.add_user("bob", 1000);
    let mut alice = lab.raw("alice");
    let mut bob = lab.raw("bob");
    alice.expect_ok(json!({"cmd": "pwd"}));
    admin::delete_user(lab.root.path(), "alice").unwrap();
    let msg = alice.expect_error(json!({"cmd": "ls"}), "auth_failed");
    assert!(msg.contains("no longer exists"), "{msg}");
    assert!(alice.is_closed());
    lab.wait_log("logged out");
    // Nobody else notices, and alice cannot come back.
    bob.expect_ok(json!({"cmd": "pwd"}));
    let mut raw = Raw::connect(lab.addr);
    assert!(client_login(&mut raw.stream, "alice", PASSWORD).is_err());
}

#[test]
fn a_new_password_logs_old_sessions_out_and_a_new_quota_applies_at_once() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    let mut raw = lab.raw("alice");
    // adduser on an existing name sets a new password (with a new salt and keys): every session
    // opened with the old one is logged out at its next command.
    admin::add_user(lab.root.path(), "alice", "new password", 5000, ITERATIONS).unwrap();
    let msg = raw.expect_error(json!({"cmd": "quota"}), "auth_failed");
    assert!(msg.contains("password was changed"), "{msg}");
    assert!(raw.is_closed());

    let mut raw = Raw::connect(lab.addr);
    client_login(&mut raw.stream, "alice", "new password").unwrap();
    assert_eq!(raw.expect_ok(json!({"cmd": "quota"}))["quota"], 5000);
    // An administrator lowers the quota by editing users.json: the session sees it at once.
    let path = lab.root.path().join("users.json");
    let mut users: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
    users["users"]["alice"]["quota"] = json!(10);
    fs::write(&path, serde_json::to_vec(&users).unwrap()).unwrap();
    assert_eq!(raw.expect_ok(json!({"cmd": "quota"}))["quota"], 10);
    raw.expect_error(put_header("big", &pattern(11, 1)), "quota_exceeded");
}

// ------------------------------------------------------------------------------------------
// The home jail
// ------------------------------------------------------------------------------------------

#[cfg(unix)]
#[test]
fn planted_symlinks_lead_nowhere() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let outside = tempfile::tempdir().unwrap();
    let secret = outside.path().join("secret.txt");
    fs::write(&secret, b"top secret").unwrap();
    let home = lab.home("alice");
    std::os::unix::fs::symlink(outside.path(), home.join("out")).unwrap();
    std::os::unix::fs::symlink(&secret, home.join("link.txt")).unwrap();
    fs::create_dir(home.join("d")).unwrap();
    std::os::unix::fs::symlink(outside.path(), home.join("d/deeper")).unwrap();
    // The server's own hidden folder, replaced by a link to a folder holding an old file: the
    // expiry sweep at login must not delete it, and no upload may be written there.
    let elsewhere = tempfile::tempdir().unwrap();
    let old_file = elsewhere.path().join("old-but-precious");
    fs::write(&old_file, b"keep").unwrap();
    fs::File::options()
        .write(true)
        .open(&old_file)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(3 * 24 * 3600))
        .unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), home.join(PARTIAL_DIR)).unwrap();

    let mut raw = lab.raw("alice");
    raw.expect_error(put_header("new.txt", b"data"), "denied");
    assert_eq!(fs::read(&old_file).unwrap(), b"keep");
    assert_eq!(fs::read_dir(elsewhere.path()).unwrap().count(), 1);
    let md5 = md5_hex(b"evil");
    for header in [
        json!({"cmd": "ls", "path": "out"}),
        json!({"cmd": "ls", "path": "/d/deeper"}),
        json!({"cmd": "cd", "path": "out"}),
        json!({"cmd": "cd", "path": "d/deeper"}),
        json!({"cmd": "get", "filename": "out/secret.txt"}),
        json!({"cmd": "get", "filename": "link.txt"}),
        json!({"cmd": "put", "filename": "out/new.txt", "filesize": 4, "md5": md5}),
        json!({"cmd": "put", "filename": "out/secret.txt", "filesize": 4, "md5": md5}),
        json!({"cmd": "put", "filename": "link.txt", "filesize": 4, "md5": md5}),
        json!({"cmd": "mkdir", "path": "out/newdir"}),
        json!({"cmd": "rm", "path": "out/secret.txt"}),
        json!({"cmd": "rm", "path": "link.txt"}),
    ] {
        let msg = raw.expect_error(header, "denied");
        assert!(!msg.contains(outside.path().to_str().unwrap()), "{msg}");
    }
    // Listings do not show links (no command would accept them).
    assert_eq!(
        raw.expect_ok(json!({"cmd": "ls"}))["entries"],
        json!([{"name": "d", "type": "dir", "size": 0}])
    );
    // Nothing outside was read, created, changed or removed.
    assert_eq!(fs::read(&secret).unwrap(), b"top secret");
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 1);
    // A link does not count in the quota either.
    assert_eq!(raw.expect_ok(json!({"cmd": "quota"}))["used"], 0);
}

#[test]
fn one_user_cannot_reach_another() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    lab.add_user("bob", 1000);
    fs::write(lab.home("bob").join("diary"), b"dear diary").unwrap();
    let mut raw = lab.raw("alice");
    raw.expect_error(json!({"cmd": "get", "filename": "../bob/diary"}), "denied");
    raw.expect_error(json!({"cmd": "get", "filename": "/bob/diary"}), "not_found");
    raw.expect_error(
        json!({"cmd": "get", "filename": "/home/bob/diary"}),
        "not_found",
    );
}

// ------------------------------------------------------------------------------------------
// Quotas
// ------------------------------------------------------------------------------------------

#[test]
fn quota_exact_fit_and_one_byte_over() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    let mut raw = lab.raw("alice");
    let full = pattern(1000, 1);

    // One byte over: refused at the header, before a single body byte is sent.
    let over = pattern(1001, 2);
    raw.expect_error(put_header("big", &over), "quota_exceeded");
    // Exactly the quota: accepted.
    let done = raw.put("full", &full);
    assert_eq!(
        (done["status"].as_str(), done["used"].as_u64()),
        (Some("ok"), Some(1000))
    );
    // Now even one byte is too much.
    raw.expect_error(put_header("one", b"1"), "quota_exceeded");
    // Replacing a file needs room for both until the new one is complete (documented rule):
    // the true disk usage never passes the quota.
    raw.expect_error(put_header("full", &pattern(1000, 3)), "quota_exceeded");
    raw.expect_ok(json!({"cmd": "rm", "path": "full"}));
    assert_eq!(raw.put("one", b"1")["used"], 1);
    assert_eq!(raw.expect_ok(json!({"cmd": "quota"}))["used"], 1);
}

#[test]
fn the_number_of_files_and_directories_is_limited_too() {
    let lab = Lab::start_with(|c| c.max_files = 3);
    lab.add_user("alice", 1 << 20);
    let mut raw = lab.raw("alice");
    raw.expect_ok(json!({"cmd": "mkdir", "path": "a"}));
    raw.put("a/empty", b"");
    raw.put("f", b"x");
    // Three entries: no fourth, whether a directory or a file, empty or not.
    let msg = raw.expect_error(json!({"cmd": "mkdir", "path": "b"}), "quota_exceeded");
    assert!(msg.contains("--max-files"), "{msg}");
    raw.expect_error(put_header("g", b""), "quota_exceeded");
    raw.expect_ok(json!({"cmd": "rm", "path": "a/empty"}));
    raw.expect_ok(json!({"cmd": "mkdir", "path": "b"}));
    assert_eq!(
        raw.expect_ok(json!({"cmd": "ls"}))["entries"],
        json!([
            {"name": "a", "type": "dir", "size": 0},
            {"name": "b", "type": "dir", "size": 0},
            {"name": "f", "type": "file", "size": 1},
        ])
    );
}

#[test]
fn two_uploads_racing_for_the_last_space() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    let mut first = lab.raw("alice");
    let mut second = lab.raw("alice");
    let a = pattern(600, 1);
    let b = pattern(600, 2);

    // The first upload reserves its 600 bytes the moment it is told `ready`...
    assert_eq!(first.request(put_header("a", &a))["status"], "ready");
    // ...so the second, checked while the first has not sent a byte, does not fit.
    second.expect_error(put_header("b", &b), "quota_exceeded");
    first.stream.write_all(&a).unwrap();
    assert_eq!(first.recv()["used"], 600);
    second.expect_error(put_header("b", &b), "quota_exceeded");
    assert_eq!(second.put("b", &pattern(400, 3))["used"], 1000);
}

#[test]
fn an_abandoned_upload_gives_its_reservation_back_but_its_bytes_stay_counted() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    let mut first = lab.raw("alice");
    let data = pattern(600, 1);
    assert_eq!(first.request(put_header("a", &data))["status"], "ready");
    first.stream.write_all(&data[..100]).unwrap();
    wait_partial_len(&lab.home("alice"), 100);
    first.reset();
    lab.wait_log("stopped");

    let mut second = lab.raw("alice");
    // 100 bytes kept for a resume + 900 = 1000: fits. 901 would not.
    second.expect_error(put_header("b", &pattern(901, 2)), "quota_exceeded");
    assert_eq!(second.put("b", &pattern(900, 2))["used"], 1000);
}

// ------------------------------------------------------------------------------------------
// Transfers
// ------------------------------------------------------------------------------------------

#[test]
fn empty_and_one_byte_files_round_trip_with_the_client() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    let mut client = lab.client("alice");
    let local = tempfile::tempdir().unwrap();
    for (name, data) in [("empty", &b""[..]), ("one", &b"\x00"[..])] {
        let src = local.path().join(name);
        fs::write(&src, data).unwrap();
        let put = client.put(&src, name).unwrap();
        assert_eq!((put.size, put.offset), (data.len() as u64, 0));
        assert_eq!(put.md5, md5_hex(data));
        let back = local.path().join(format!("{name}.back"));
        let got = client.get(name, &back).unwrap();
        assert_eq!(got.md5, md5_hex(data));
        assert_eq!(fs::read(&back).unwrap(), data);
        assert!(!partial_path(&back).exists());
    }
    assert_eq!(client.quota().unwrap(), (1, 1000));
}

/// 100 MB generated on the fly, twice (once for the md5 the header needs, once to send), and
/// compared on the fly when it comes back: the test never holds the file in memory.
#[test]
fn hundred_megabytes_round_trip_byte_exact() {
    const SIZE: u64 = 100_000_000;
    const BLOCK: usize = 1 << 20;
    let block = |index: u64| -> Vec<u8> {
        let mut b = pattern(BLOCK, index as u8);
        b[..8].copy_from_slice(&index.to_le_bytes());
        b
    };
    let chunks = || {
        (0..SIZE.div_ceil(BLOCK as u64)).map(move |i| {
            let mut b = block(i);
            b.truncate((SIZE - i * BLOCK as u64).min(BLOCK as u64) as usize);
            b
        })
    };
    let mut md5 = Md5::new();
    chunks().for_each(|c| md5.update(&c));
    let md5 = hex::encode(md5.finalize());

    let lab = Lab::start();
    lab.add_user("alice", 200_000_000);
    let mut raw = lab.raw("alice");
    let ready = raw.request(json!({"cmd": "put", "filename": "big", "filesize": SIZE, "md5": md5}));
    assert_eq!(ready["status"], "ready");
    for chunk in chunks() {
        raw.stream.write_all(&chunk).unwrap();
    }
    let done = raw.recv();
    assert_eq!(
        (done["status"].as_str(), done["md5"].as_str()),
        (Some("ok"), Some(md5.as_str()))
    );
    assert_eq!(
        fs::metadata(lab.home("alice").join("big")).unwrap().len(),
        SIZE
    );

    let reply = raw.expect_ok(json!({"cmd": "get", "filename": "big"}));
    assert_eq!(reply["filesize"], SIZE);
    assert_eq!(reply["md5"], md5);
    let mut buf = vec![0u8; BLOCK];
    for (i, expected) in chunks().enumerate() {
        let got = &mut buf[..expected.len()];
        raw.stream.read_exact(got).unwrap();
        assert!(got == &expected[..], "block {i} differs");
    }
    // The md5 came from the record made at upload, not from reading 100 MB again.
    lab.wait_log("(recorded)");
    raw.expect_ok(json!({"cmd": "quit"}));
}

#[test]
fn interrupted_put_resumes_and_the_old_file_survives_meanwhile() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let home = lab.home("alice");
    let old = b"the old version".to_vec();
    let new = pattern(200_000, 7);
    let mut raw = lab.raw("alice");
    raw.put("doc", &old);

    assert_eq!(raw.request(put_header("doc", &new))["status"], "ready");
    raw.stream.write_all(&new[..120_000]).unwrap();
    // Cut the connection only once the server has surely written the first 120 000 bytes.
    wait_partial_len(&home, 120_000);
    raw.reset();
    lab.wait_log("stopped");

    let mut raw = lab.raw("alice");
    // The old file is untouched and still served; the partial upload is hidden but counted.
    assert_eq!(raw.get("doc"), old);
    assert_eq!(
        raw.expect_ok(json!({"cmd": "ls"}))["entries"],
        json!([{"name": "doc", "type": "file", "size": old.len()}])
    );
    assert_eq!(
        raw.expect_ok(json!({"cmd": "quota"}))["used"],
        old.len() as u64 + 120_000
    );
    // A put of another file (or another version) does not get the offset.
    let other = raw.request(put_header("doc2", &new));
    assert_eq!(
        (other["status"].as_str(), other["offset"].as_u64()),
        (Some("ready"), Some(0))
    );
    raw.reset();
    lab.wait_log("stopped");

    // The same file again: the server asks only for the rest.
    let mut raw = lab.raw("alice");
    let ready = raw.request(put_header("doc", &new));
    assert_eq!(
        (ready["status"].as_str(), ready["offset"].as_u64()),
        (Some("ready"), Some(120_000))
    );
    raw.stream.write_all(&new[120_000..]).unwrap();
    let done = raw.recv();
    assert_eq!(done["md5"], md5_hex(&new), "{done:?}");
    assert_eq!(raw.get("doc"), new);
    assert_eq!(fs::read(home.join("doc")).unwrap(), new);
    assert!(
        partial_files(&home).is_empty(),
        "{:?}",
        partial_files(&home)
    );
    assert_eq!(raw.expect_ok(json!({"cmd": "quota"}))["used"], 200_000);
}

#[test]
fn the_same_upload_twice_at_once_is_busy() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let data = pattern(1000, 1);
    let mut first = lab.raw("alice");
    let mut second = lab.raw("alice");
    assert_eq!(first.request(put_header("f", &data))["status"], "ready");
    second.expect_error(put_header("f", &data), "busy");
    first.stream.write_all(&data).unwrap();
    assert_eq!(first.recv()["status"], "ok");
    assert_eq!(second.put("f", &data)["status"], "ok");
}

#[test]
fn interrupted_get_resumes_from_the_local_partial_file() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let data = pattern(300_000, 9);
    fs::write(lab.home("alice").join("data"), &data).unwrap();
    let local = tempfile::tempdir().unwrap();
    let target = local.path().join("data");

    // A download cut after 70 000 bytes: those bytes are what the client had written to
    // data.part before it was interrupted.
    let mut raw = lab.raw("alice");
    let reply = raw.expect_ok(json!({"cmd": "get", "filename": "data"}));
    assert_eq!(reply["filesize"], 300_000);
    let mut first = vec![0u8; 70_000];
    raw.stream.read_exact(&mut first).unwrap();
    raw.reset();
    fs::write(partial_path(&target), &first).unwrap();

    let mut client = lab.client("alice");
    let done = client.get("data", &target).unwrap();
    assert_eq!((done.offset, done.size), (70_000, 300_000));
    assert_eq!(done.md5, md5_hex(&data));
    assert_eq!(fs::read(&target).unwrap(), data);
    assert!(!partial_path(&target).exists());

    // A damaged partial file: the md5 of the whole does not match, and it is thrown away.
    let mut damaged = data[..70_000].to_vec();
    damaged[5] ^= 0xff;
    let other = local.path().join("other");
    fs::write(partial_path(&other), &damaged).unwrap();
    match client.get("data", &other).unwrap_err() {
        ClientError::Md5Mismatch { .. } => {}
        e => panic!("{e:?}"),
    }
    assert!(!other.exists() && !partial_path(&other).exists());
    // A retry starts from zero and succeeds; the connection stayed in step.
    assert_eq!(client.get("data", &other).unwrap().offset, 0);
    assert_eq!(fs::read(&other).unwrap(), data);

    // A partial file longer than the remote file: the remote changed; start again.
    fs::write(partial_path(&other), pattern(400_000, 1)).unwrap();
    assert_eq!(client.get("data", &other).unwrap().offset, 0);
    assert_eq!(fs::read(&other).unwrap(), data);
}

#[test]
fn a_corrupted_upload_is_discarded_and_the_old_file_kept() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let mut raw = lab.raw("alice");
    raw.put("doc", b"original");
    let intended = b"new text";
    let corrupted = b"new tExt";
    assert_eq!(raw.request(put_header("doc", intended))["status"], "ready");
    raw.stream.write_all(corrupted).unwrap();
    let reply = raw.recv();
    assert_eq!(reply["code"], "md5_mismatch", "{reply:?}");
    assert_eq!(raw.get("doc"), b"original");
    assert_eq!(raw.expect_ok(json!({"cmd": "quota"}))["used"], 8);
    assert!(partial_files(&lab.home("alice")).is_empty());
}

// ------------------------------------------------------------------------------------------
// The md5 in a trailer: `"md5": "trailer"` in the header, `{"md5": ...}` right after the body
// ------------------------------------------------------------------------------------------

fn trailer_header(name: &str, len: usize) -> Value {
    json!({"cmd": "put", "filename": name, "filesize": len, "md5": "trailer"})
}

impl Raw {
    /// A whole trailer upload: header, `ready`, body, trailer frame with `md5`, final reply.
    fn put_with_trailer(&mut self, name: &str, data: &[u8], md5: &str) -> Map<String, Value> {
        let ready = self.request(trailer_header(name, data.len()));
        assert_eq!(ready["status"], "ready", "{ready:?}");
        assert_eq!(ready["offset"], 0);
        self.stream.write_all(data).unwrap();
        self.request(json!({ "md5": md5 }))
    }
}

#[test]
fn a_trailer_put_stores_the_file_and_the_client_sends_one_by_default() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let mut raw = lab.raw("alice");
    let data = pattern(300_000, 4);
    let done = raw.put_with_trailer("raw.bin", &data, &md5_hex(&data));
    assert_eq!(done["status"], "ok", "{done:?}");
    assert_eq!(done["md5"], md5_hex(&data));
    assert_eq!(raw.get("raw.bin"), data);
    let note = lab.wait_log("stored 300000 bytes, md5");
    assert!(note.ends_with("(from the trailer)"), "{note}");

    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("client.bin");
    let data = pattern(200_000, 5);
    fs::write(&src, &data).unwrap();
    let mut client = lab.client("alice");
    let put = client.put(&src, "client.bin").unwrap();
    assert_eq!((put.offset, put.md5.as_str()), (0, md5_hex(&data).as_str()));
    let note = lab.wait_log("stored 200000 bytes, md5");
    assert!(note.ends_with("(from the trailer)"), "{note}");
    assert_eq!(
        fs::read(lab.home("alice").join("client.bin")).unwrap(),
        data
    );
    assert!(partial_files(&lab.home("alice")).is_empty());
}

#[test]
fn a_header_md5_put_still_works_from_the_client_too() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("known.bin");
    let data = pattern(150_000, 6);
    fs::write(&src, &data).unwrap();
    let mut client = lab.client("alice");
    let put = client
        .put_with_md5(&src, "known.bin", &md5_hex(&data))
        .unwrap();
    assert_eq!(put.md5, md5_hex(&data));
    let note = lab.wait_log("stored 150000 bytes, md5");
    assert!(note.ends_with("(from the header)"), "{note}");
    assert_eq!(fs::read(lab.home("alice").join("known.bin")).unwrap(), data);
}

#[test]
fn a_wrong_or_malformed_trailer_discards_the_upload_and_gives_the_room_back() {
    let lab = Lab::start();
    lab.add_user("alice", 1000);
    let mut raw = lab.raw("alice");
    raw.put("doc", b"original");
    let data = pattern(992, 8);
    let reply = raw.put_with_trailer("doc", &data, &md5_hex(b"something else"));
    assert_eq!(reply["code"], "md5_mismatch", "{reply:?}");
    assert_eq!(raw.get("doc"), b"original");
    assert!(partial_files(&lab.home("alice")).is_empty());
    assert_eq!(raw.expect_ok(json!({"cmd": "quota"}))["used"], 8);

    // A trailer without a usable md5: bad_request, same cleanup, and the session goes on.
    assert_eq!(
        raw.request(trailer_header("doc", data.len()))["status"],
        "ready"
    );
    raw.stream.write_all(&data).unwrap();
    raw.expect_error(json!({"md5": "not a digest"}), "bad_request");
    assert!(partial_files(&lab.home("alice")).is_empty());
    assert_eq!(raw.get("doc"), b"original");
    // A frame that is not even JSON: the same.
    assert_eq!(
        raw.request(trailer_header("doc", data.len()))["status"],
        "ready"
    );
    raw.stream.write_all(&data).unwrap();
    raw.stream.write_all(&framed(b"md5?")).unwrap();
    assert_eq!(raw.recv()["code"], "bad_request");
    assert!(partial_files(&lab.home("alice")).is_empty());

    // Nothing was left reserved: the rest of the quota (992 bytes) is still there to use.
    let done = raw.put_with_trailer("full", &data, &md5_hex(&data));
    assert_eq!(done["used"], 1000, "{done:?}");
}

#[test]
fn an_interrupted_trailer_put_resumes_and_a_changed_file_starts_again() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let home = lab.home("alice");
    let new = pattern(200_000, 9);
    let cut_after = |data: &[u8]| {
        let mut raw = lab.raw("alice");
        assert_eq!(
            raw.request(trailer_header("doc", data.len()))["status"],
            "ready"
        );
        raw.stream.write_all(&data[..120_000]).unwrap();
        wait_partial_len(&home, 120_000);
        raw.reset();
        lab.wait_log("stopped");
    };
    cut_after(&new);

    // The client's next (trailer) put of the same path and size sends only the rest, hashing
    // the 120 000 bytes the server kept from its own copy first.
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("doc");
    fs::write(&src, &new).unwrap();
    let mut client = lab.client("alice");
    let put = client.put(&src, "doc").unwrap();
    assert_eq!(
        (put.offset, put.md5.as_str()),
        (120_000, md5_hex(&new).as_str())
    );
    assert_eq!(fs::read(home.join("doc")).unwrap(), new);
    assert!(
        partial_files(&home).is_empty(),
        "{:?}",
        partial_files(&home)
    );

    // Kept bytes of another version of the same size: the md5 of the whole shows it, the
    // upload is discarded, and the next try starts from 0.
    let mut older = new.clone();
    if let Some(byte) = older.get_mut(10) {
        *byte ^= 0xff;
    }
    cut_after(&older);
    match client.put(&src, "doc") {
        Err(ClientError::Refused(refusal)) => assert_eq!(refusal.code.as_str(), "md5_mismatch"),
        other => panic!("expected md5_mismatch, got {other:?}"),
    }
    assert!(
        partial_files(&home).is_empty(),
        "{:?}",
        partial_files(&home)
    );
    let put = client.put(&src, "doc").unwrap();
    assert_eq!(put.offset, 0);
    assert_eq!(fs::read(home.join("doc")).unwrap(), new);
    assert_eq!(client.quota().unwrap().0, 200_000);
}

#[test]
fn a_body_without_its_trailer_is_kept_and_the_resume_sends_only_the_trailer() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let home = lab.home("alice");
    let data = pattern(50_000, 3);
    let mut raw = lab.raw("alice");
    assert_eq!(
        raw.request(trailer_header("doc", data.len()))["status"],
        "ready"
    );
    raw.stream.write_all(&data).unwrap();
    wait_partial_len(&home, 50_000);
    raw.reset();
    lab.wait_log("stopped before its md5 trailer");

    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("doc");
    fs::write(&src, &data).unwrap();
    let put = lab.client("alice").put(&src, "doc").unwrap();
    assert_eq!(
        (put.offset, put.md5.as_str()),
        (50_000, md5_hex(&data).as_str())
    );
    assert_eq!(fs::read(home.join("doc")).unwrap(), data);
    assert!(
        partial_files(&home).is_empty(),
        "{:?}",
        partial_files(&home)
    );
}

#[test]
fn recorded_md5_is_used_until_the_file_changes_behind_the_servers_back() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let mut raw = lab.raw("alice");
    raw.put("f", b"version one");
    raw.get("f");
    lab.wait_log("(recorded)");
    // An administrator edits the file in place.
    let path = lab.home("alice").join("f");
    fs::write(&path, b"version two").unwrap();
    fs::File::options()
        .write(true)
        .open(&path)
        .unwrap()
        .set_modified(SystemTime::now() + Duration::from_secs(10))
        .unwrap();
    assert_eq!(raw.get("f"), b"version two");
    lab.wait_log("(computed)");
    raw.get("f");
    lab.wait_log("(recorded)");
}

#[test]
fn expired_partial_uploads_are_removed_at_login() {
    let lab = Lab::start_with(|c| c.partial_ttl = Duration::from_secs(3600));
    lab.add_user("alice", 1 << 20);
    let dir = lab.home("alice").join(PARTIAL_DIR);
    fs::create_dir_all(&dir).unwrap();
    let stale = dir.join("stale.part");
    let fresh = dir.join("fresh.part");
    fs::write(&stale, pattern(500, 1)).unwrap();
    fs::write(&fresh, pattern(30, 1)).unwrap();
    fs::File::options()
        .write(true)
        .open(&stale)
        .unwrap()
        .set_modified(SystemTime::now() - Duration::from_secs(7200))
        .unwrap();
    let mut client = lab.client("alice");
    assert!(!stale.exists() && fresh.exists());
    assert_eq!(client.quota().unwrap().0, 30);
}

/// Twenty students behind one NAT router: twenty accounts log in at the same moment from one
/// address (127.0.0.1), and all of them get in, then transfer at once. (A brake that counted
/// every attempt in progress against the address would refuse the eleventh.)
#[test]
fn twenty_users_log_in_and_transfer_at_once() {
    let lab = Lab::start();
    let names: Vec<String> = (0..20).map(|i| format!("user{i:02}")).collect();
    for name in &names {
        lab.add_user(name, 1 << 20);
    }
    let local = tempfile::tempdir().unwrap();
    let local = local.path();
    let challenged = AtomicUsize::new(0);
    let (challenged, addr, together) = (&challenged, lab.addr, names.len());
    thread::scope(|scope| {
        for (i, name) in names.iter().enumerate() {
            scope.spawn(move || {
                let stream = login_together(addr, name, challenged, together);
                let mut client = FtpClient::logged_in(stream);
                let data = pattern(50_000 + i * 1000, i as u8);
                let src = local.join(format!("{name}.src"));
                fs::write(&src, &data).unwrap();
                client.mkdir("in").unwrap();
                client.put(&src, "in/file").unwrap();
                let back = local.join(format!("{name}.back"));
                client.get("in/file", &back).unwrap();
                assert_eq!(fs::read(&back).unwrap(), data, "{name}");
                assert_eq!(client.quota().unwrap().0, data.len() as u64);
                client.quit().unwrap();
            });
        }
    });
    for (i, name) in names.iter().enumerate() {
        assert_eq!(
            fs::read(lab.home(name).join("in/file")).unwrap(),
            pattern(50_000 + i * 1000, i as u8)
        );
    }
}

/// Logs in as `name`, but sends the proof only once all `together` logins have received their
/// challenge, so that every one of them is surely in progress at the same moment (no timing luck).
fn login_together(
    addr: SocketAddr,
    name: &str,
    challenged: &AtomicUsize,
    together: usize,
) -> TcpStream {
    let mut raw = Raw::connect(addr);
    let cnonce = scram::new_nonce();
    let challenge = raw.request(json!({"cmd": "login", "user": name, "nonce": cnonce}));
    assert_eq!(challenge["status"], "challenge", "{name}: {challenge:?}");
    challenged.fetch_add(1, Ordering::SeqCst);
    let deadline = Instant::now() + common::WAIT;
    while challenged.load(Ordering::SeqCst) < together {
        assert!(Instant::now() < deadline, "not every login got a challenge");
        thread::sleep(Duration::from_millis(2));
    }
    let salt = challenge["salt"].as_str().unwrap();
    let iterations = challenge["iterations"].as_u64().unwrap() as u32;
    let snonce = challenge["nonce"].as_str().unwrap();
    let message = scram::auth_message(name, &cnonce, snonce, salt, iterations);
    let (proof, signature) = scram::client_proof(PASSWORD, salt, iterations, &message).unwrap();
    let ok = raw.request(json!({"cmd": "proof", "proof": proof}));
    assert_eq!(ok["status"], "ok", "{name}: {ok:?}");
    assert_eq!(ok["server_signature"], signature.as_str());
    raw.stream
}

// ------------------------------------------------------------------------------------------
// Hostile and broken clients
// ------------------------------------------------------------------------------------------

#[test]
fn malformed_frames_and_vanished_clients_leave_the_server_serving() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);

    let bad_frames: Vec<Vec<u8>> = vec![
        framed(b"{not json"),
        framed(b"[1, 2, 3]"),
        framed(b"\"just a string\""),
        (-5i32).to_le_bytes().to_vec(),
        (100 * 1024i32).to_le_bytes().to_vec(), // a 100 KiB header: over the 64 KiB limit
    ];
    for frame in bad_frames {
        for logged_in in [false, true] {
            let mut raw = if logged_in {
                lab.raw("alice")
            } else {
                Raw::connect(lab.addr)
            };
            raw.stream.write_all(&frame).unwrap();
            let reply = raw.recv();
            assert_eq!(reply["code"], "bad_request", "{reply:?}");
            assert!(raw.is_closed());
        }
    }

    // Vanishing in the middle of a header, of a login, and of a body.
    let mut raw = Raw::connect(lab.addr);
    raw.stream.write_all(&[10, 0, 0, 0, b'{']).unwrap();
    raw.reset();
    let mut raw = Raw::connect(lab.addr);
    raw.send(json!({"cmd": "login", "user": "alice", "nonce": "0123456789abcdef0123456789abcdef"}));
    assert_eq!(raw.recv()["status"], "challenge");
    raw.reset();
    let mut raw = lab.raw("alice");
    assert_eq!(
        raw.request(put_header("x", &pattern(5000, 1)))["status"],
        "ready"
    );
    raw.stream.write_all(&pattern(10, 1)).unwrap();
    drop(raw);
    lab.wait_log("stopped");

    // Everyone else is still served.
    let mut raw = lab.raw("alice");
    assert_eq!(raw.put("ok.txt", b"fine")["status"], "ok");
    assert_eq!(raw.get("ok.txt"), b"fine");
}

fn framed(payload: &[u8]) -> Vec<u8> {
    let mut frame = (payload.len() as i32).to_le_bytes().to_vec();
    frame.extend_from_slice(payload);
    frame
}

// ------------------------------------------------------------------------------------------
// The binary: server and client end to end
// ------------------------------------------------------------------------------------------

fn bin_adduser(root: &Path, name: &str, quota: &str) {
    let out = common::run(
        BIN,
        &[
            "adduser",
            name,
            "--root",
            root.to_str().unwrap(),
            "--quota",
            quota,
            "--iterations",
            "4096",
            "--password-stdin",
        ],
        &format!("{PASSWORD}\n"),
    );
    assert!(out.status.success(), "{out:?}");
}

fn bin_server(root: &Path) -> common::ServerProcess {
    common::ServerProcess::start(
        BIN,
        &["server", "--root", root.to_str().unwrap(), "--port", "0"],
    )
}

#[test]
fn bin_client_runs_commands_from_c_and_from_stdin() {
    let root = tempfile::tempdir().unwrap();
    let server = bin_server(root.path());
    // Added while the server runs: it reads users.json at every login.
    bin_adduser(root.path(), "alice", "1M");
    let local = tempfile::tempdir().unwrap();
    let src = local.path().join("hello.txt");
    fs::write(&src, b"hello, ftp\n").unwrap();
    let back = local.path().join("back.txt");
    let port = server.port_arg();
    let login = [
        "client",
        "--port",
        &port,
        "--user",
        "alice",
        "--password-stdin",
    ];

    let mut args = login.to_vec();
    let put = format!("put {} docs/hello.txt", src.display());
    let get = format!("get docs/hello.txt {}", back.display());
    args.extend([
        "-c",
        "mkdir docs",
        "-c",
        &put,
        "-c",
        "ls docs",
        "-c",
        &get,
        "-c",
        "quota",
    ]);
    let out = common::run(BIN, &args, &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{out:?}");
    assert!(
        out.stdout.contains("file           11  hello.txt"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("md5 ") && out.stdout.contains("verified"),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("used 11 of 1048576 bytes"),
        "{}",
        out.stdout
    );
    assert_eq!(fs::read(&back).unwrap(), b"hello, ftp\n");
    server.expect_line("alice@");

    // A second get to the same local file is refused, as in lesson 13; --force replaces it.
    let mut again = login.to_vec();
    again.extend(["-c", &get]);
    let out = common::run(BIN, &again, &format!("{PASSWORD}\n"));
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stderr
            .contains("already exists (get --force to replace it)"),
        "{out:?}"
    );
    let forced = format!("get --force docs/hello.txt {}", back.display());
    let mut again = login.to_vec();
    again.extend(["-c", &forced]);
    let out = common::run(BIN, &again, &format!("{PASSWORD}\n"));
    assert!(out.status.success(), "{out:?}");
    assert_eq!(fs::read(&back).unwrap(), b"hello, ftp\n");

    // Commands on stdin after the password line; one fails, the others still run.
    let script = format!("{PASSWORD}\ncd docs\npwd\nget nope.txt\nrm hello.txt\nls\n");
    let out = common::run(BIN, &login, &script);
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_eq!(out.stdout, "/docs\n");
    assert_eq!(
        out.stderr,
        "error: not_found: /docs/nope.txt does not exist\n"
    );
}

#[test]
fn bin_client_wrong_password_is_one_line() {
    let root = tempfile::tempdir().unwrap();
    bin_adduser(root.path(), "alice", "1M");
    let server = bin_server(root.path());
    let port = server.port_arg();
    let out = common::run(
        BIN,
        &[
            "client",
            "--port",
            &port,
            "--user",
            "alice",
            "--password-stdin",
            "-c",
            "ls",
        ],
        "not the password\n",
    );
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        out.stderr,
        "error: login failed: wrong user name or password\n"
    );
}

#[cfg(unix)]
#[test]
fn the_servers_files_are_private_and_loose_permissions_are_reported() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let root = tempfile::tempdir().unwrap();
    bin_adduser(root.path(), "alice", "1M");
    let users = root.path().join("users.json");
    fs::set_permissions(&users, fs::Permissions::from_mode(0o644)).unwrap();
    let server = bin_server(root.path());
    let warning = server.expect_line("warning:");
    assert!(
        warning.contains("users.json can be read by other users (mode 644)"),
        "{warning}"
    );
    let mut raw = Raw::connect(server.addr);
    client_login(&mut raw.stream, "alice", PASSWORD).unwrap();
    raw.put("diary", b"dear diary");
    for dir in ["home", "home/alice", "md5", "md5/alice"] {
        assert_eq!(mode(&root.path().join(dir)), 0o700, "{dir}");
    }
    assert_eq!(mode(&root.path().join(".server-secret")), 0o600);
}

#[test]
fn server_killed_mid_upload_keeps_the_old_file_and_resumes_after_restart() {
    let root = tempfile::tempdir().unwrap();
    bin_adduser(root.path(), "alice", "10M");
    let home = root.path().join("home/alice");
    let old = b"old contents".to_vec();
    let new = pattern(300_000, 4);

    let server = bin_server(root.path());
    let mut raw = Raw::connect(server.addr);
    client_login(&mut raw.stream, "alice", PASSWORD).unwrap();
    raw.put("doc", &old);
    assert_eq!(raw.request(put_header("doc", &new))["status"], "ready");
    raw.stream.write_all(&new[..100_000]).unwrap();
    wait_partial_len(&home, 100_000);
    drop(server); // SIGKILL: no chance to tidy up
    drop(raw);

    // No truncated file under the finished name; the old one is intact; the partial is kept.
    assert_eq!(fs::read(home.join("doc")).unwrap(), old);
    assert_eq!(partial_files(&home).len(), 1);

    let server = bin_server(root.path());
    let mut raw = Raw::connect(server.addr);
    client_login(&mut raw.stream, "alice", PASSWORD).unwrap();
    let ready = raw.request(put_header("doc", &new));
    assert_eq!(ready["offset"], 100_000, "{ready:?}");
    raw.stream.write_all(&new[100_000..]).unwrap();
    assert_eq!(raw.recv()["md5"], md5_hex(&new));
    assert_eq!(raw.get("doc"), new);
}

// ------------------------------------------------------------------------------------------
// The walkthrough's Python client, run for real
// ------------------------------------------------------------------------------------------

/// Drives the Python functions of walkthrough.md's 14-ftp section (saved next to it as
/// `scram_client.py` and `ftp_files.py`, as the walkthrough says). Phase `start` uploads a file, then starts a second upload and drops
/// the connection half-way; phase `finish` resumes that upload and a half-done download.
const PYTHON_DRIVER: &str = r#"
import os, socket, sys
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ftp_files import *

phase, port, user, password, work = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
data = bytes((i * 7919 + i // 251) % 256 for i in range(300000))
other = data[::-1]
src, src2 = os.path.join(work, 'data.bin'), os.path.join(work, 'other.bin')
with socket.create_connection(('127.0.0.1', port), timeout=20) as sock:
    login(sock, user, password)
    if phase == 'start':
        open(src, 'wb').write(data)
        open(src2, 'wb').write(other)
        print('put', put(sock, src, 'data.bin')['md5'])
        md5 = hashlib.md5(other).hexdigest()
        ready = request(sock, {'cmd': 'put', 'filename': 'other.bin', 'filesize': len(other), 'md5': md5})
        sock.sendall(other[:150000])   # and then the connection is lost
    else:
        print('resumed', put(sock, src2, 'other.bin')['md5'])
        back = os.path.join(work, 'data.back')
        open(back + '.part', 'wb').write(data[:100000])
        print('get', get(sock, 'data.bin', back)['offset'])
        assert open(back, 'rb').read() == data and not os.path.exists(back + '.part')
        try:
            request(sock, {'cmd': 'cd', 'path': '../..'})
        except RuntimeError as e:
            print('refused', e)
        request(sock, {'cmd': 'quit'})
"#;

/// The two ```python files of walkthrough.md's `## 14-ftp in depth` section: the login script and
/// the put/get functions that import it.
fn walkthrough_python() -> (String, String) {
    let blocks = common::walkthrough_python_blocks("## 14-ftp in depth");
    let [login, files] = blocks.as_slice() else {
        panic!("expected two python blocks in 14-ftp, got {blocks:#?}");
    };
    assert!(login.contains("def login("), "{login}");
    assert!(
        files.contains("def put(") && files.contains("from scram_client import"),
        "{files}"
    );
    (login.clone(), files.clone())
}

#[test]
fn the_walkthrough_python_client_puts_and_gets_with_resume() {
    if !common::have_python() {
        return;
    }
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let work = tempfile::tempdir().unwrap();
    let (login, files) = walkthrough_python();
    fs::write(work.path().join("scram_client.py"), login).unwrap();
    fs::write(work.path().join("ftp_files.py"), files).unwrap();
    let driver = work.path().join("driver.py");
    fs::write(&driver, PYTHON_DRIVER).unwrap();
    let port = lab.addr.port().to_string();
    let args = |phase: &'static str| {
        [
            driver.to_str().unwrap().to_string(),
            phase.to_string(),
            port.clone(),
            "alice".to_string(),
            PASSWORD.to_string(),
            work.path().to_str().unwrap().to_string(),
        ]
    };
    let run = |phase| {
        let args = args(phase);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = common::run("python3", &args, "");
        assert!(out.status.success(), "{out:?}");
        out.stdout
    };

    let out = run("start");
    assert!(out.lines().any(|l| l.starts_with("put ")), "{out}");
    // The server has noticed the lost connection and kept the 150 000 bytes.
    lab.wait_log("stopped");
    let out = run("finish");
    lab.wait_log("resumed at 150000");
    assert!(
        out.contains("ready: sending from offset 150000 of 300000"),
        "put shows the resume: {out}"
    );
    lab.wait_log("get data.bin (from 100000)");
    assert!(out.contains("get 100000"), "{out}");
    assert!(out.contains("refused denied: "), "{out}");
    let data = fs::read(work.path().join("data.bin")).unwrap();
    let mut reversed = data.clone();
    reversed.reverse();
    assert_eq!(
        fs::read(lab.home("alice").join("other.bin")).unwrap(),
        reversed
    );
}

// ------------------------------------------------------------------------------------------
// Failures leave nothing behind; no writing through links
// ------------------------------------------------------------------------------------------

/// The hidden partial file a put of `name` with `data` would use.
#[cfg(unix)] // only the hard-link test uses it
fn partial_path_for(home: &Path, name: &str, data: &[u8]) -> PathBuf {
    use socklab::lessons::ftp::partials::{Partials, DEFAULT_TTL};
    use socklab::lessons::ftp::paths::VirtualPath;
    let path = VirtualPath::parse(&VirtualPath::root(), name).unwrap();
    Partials::new(home, DEFAULT_TTL).file_for(&path, data.len() as u64, &md5_hex(data))
}

#[cfg(unix)]
#[test]
fn a_hard_link_planted_at_a_partial_path_is_never_written_through() {
    let lab = Lab::start();
    lab.add_user("alice", 1 << 20);
    let mut raw = lab.raw("alice");
    let home = lab.home("alice");
    let outside = tempfile::tempdir().unwrap();
    let precious = outside.path().join("precious.txt");
    fs::write(&precious, b"sixteen bytes!!\n").unwrap();
    let data = pattern(100, 7);
    fs::create_dir_all(home.join(PARTIAL_DIR)).unwrap();
    fs::hard_link(&precious, partial_path_for(&home, "doc", &data)).unwrap();

    // Not resumed: the offset is 0 (the outside file's size does not leak), and the upload
    // goes to a new file of its own.
    let reply = raw.put("doc", &data);
    assert_eq!(reply["status"], "ok", "{reply:?}");
    assert_eq!(fs::read(&precious).unwrap(), b"sixteen bytes!!\n");
    assert_eq!(raw.get("doc"), data);
    assert!(partial_files(&home).is_empty());
}

/// Runs the server binary with a file size limit of `limit` bytes (`RLIMIT_FSIZE`), SIGXFSZ
/// ignored, so a write past it fails with `EFBIG` the way a full disk fails with `ENOSPC`.
#[cfg(unix)]
fn bin_server_with_file_size_limit(root: &Path, limit: u64) -> common::ServerProcess {
    use std::os::unix::process::CommandExt;
    let mut command = std::process::Command::new(BIN);
    command
        .args(["server", "--root", root.to_str().unwrap(), "--port", "0"])
        .stdin(std::process::Stdio::null());
    // SAFETY: between fork and exec only async-signal-safe calls (signal, setrlimit).
    unsafe {
        command.pre_exec(move || {
            libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
            let rlimit = libc::rlimit {
                rlim_cur: limit as libc::rlim_t,
                rlim_max: limit as libc::rlim_t,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &rlimit) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    common::ServerProcess::start_command(command)
}

#[cfg(unix)]
#[test]
fn a_write_that_fails_mid_body_leaves_nothing_and_everyone_keeps_working() {
    let root = tempfile::tempdir().unwrap();
    bin_adduser(root.path(), "alice", "10M");
    bin_adduser(root.path(), "bob", "10M");
    let server = bin_server_with_file_size_limit(root.path(), 1 << 20);
    let home = root.path().join("home/alice");
    let mut alice = Raw::connect(server.addr);
    client_login(&mut alice.stream, "alice", PASSWORD).unwrap();

    // The disk has room (statvfs says yes), but the second MiB cannot be written: EFBIG.
    let big = pattern(3 << 20, 1);
    let reply = alice.put("big", &big);
    assert_eq!(reply["code"], "no_space", "{reply:?}");
    assert!(
        partial_files(&home).is_empty(),
        "{:?}",
        partial_files(&home)
    );
    assert!(!home.join("big").exists());

    // The session goes on, the reservation was given back, and the same user and another
    // can still upload.
    let small = pattern(1000, 2);
    assert_eq!(alice.put("small", &small)["status"], "ok");
    assert_eq!(alice.expect_ok(json!({"cmd": "quota"}))["used"], 1000);
    let mut bob = Raw::connect(server.addr);
    client_login(&mut bob.stream, "bob", PASSWORD).unwrap();
    assert_eq!(bob.put("small", &small)["status"], "ok");
    assert_eq!(bob.get("small"), small);
}

/// A 4 MiB tmpfs mounted for the test and unmounted when dropped (needs root).
struct SmallDisk {
    mount: tempfile::TempDir,
}

impl SmallDisk {
    fn mount() -> Option<SmallDisk> {
        #[cfg(unix)]
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            eprintln!("skipped: mounting a small tmpfs needs root");
            return None;
        }
        let mount = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", "size=4m", "socklab-test"])
            .arg(mount.path())
            .stderr(std::process::Stdio::null())
            .status();
        if !status.is_ok_and(|s| s.success()) {
            eprintln!("skipped: cannot mount a tmpfs here");
            return None;
        }
        Some(SmallDisk { mount })
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg(self.mount.path())
            .status();
    }
}

#[test]
fn a_put_that_cannot_fit_on_the_disk_is_refused_before_its_body() {
    let Some(disk) = SmallDisk::mount() else {
        return;
    };
    {
        let lab = Lab::start_at(tempfile::tempdir_in(disk.mount.path()).unwrap(), |_| {});
        lab.add_user("alice", 100 << 20);
        let mut raw = lab.raw("alice");
        let home = lab.home("alice");

        // Over the quota's room, but not the disk's: refused at once, no body expected.
        let big = pattern(8 << 20, 3);
        let msg = raw.expect_error(put_header("big", &big), "no_space");
        assert!(msg.contains("free"), "{msg}");
        assert!(partial_files(&home).is_empty());

        // The disk fills while a body arrives (2 MiB free, then a 3 MiB file takes room).
        let filler = pattern(1 << 20, 4);
        let middle = pattern((3 << 20) / 2, 5);
        assert_eq!(raw.put("filler", &filler)["status"], "ok");
        let mut other = lab.raw("alice");
        let ready = other.request(put_header("middle", &middle));
        assert_eq!(ready["status"], "ready", "{ready:?}");
        let hog = pattern(2 << 20, 6);
        let hog_file = lab.home("alice").join("hog");
        let _ = fs::write(&hog_file, &hog); // the "other writer" may itself run out of room
        other.stream.write_all(&middle).unwrap();
        let reply = other.recv();
        assert_eq!(reply["code"], "no_space", "{reply:?}");
        assert!(partial_files(&home).is_empty());
        let _ = fs::remove_file(&hog_file);

        // Room again: uploads work.
        assert_eq!(other.put("middle", &middle)["status"], "ok");
        assert_eq!(raw.get("middle"), middle);
    }
}

// ------------------------------------------------------------------------------------------
// Load: many users at once, nothing left over
// ------------------------------------------------------------------------------------------

/// How many threads and open files the process `pid` has now.
#[cfg(target_os = "linux")] // reads /proc
fn threads_and_fds(pid: u32) -> (usize, usize) {
    let count = |what: &str| {
        fs::read_dir(format!("/proc/{pid}/{what}"))
            .map(|d| d.count())
            .unwrap_or(0)
    };
    (count("task"), count("fd"))
}

#[cfg(target_os = "linux")]
#[test]
fn fifty_users_put_and_get_a_mebibyte_each_and_leave_no_thread_or_fd_behind() {
    const USERS: usize = 50;
    let root = tempfile::tempdir().unwrap();
    for i in 0..USERS {
        admin::add_user(
            root.path(),
            &format!("user{i:02}"),
            PASSWORD,
            4 << 20,
            ITERATIONS,
        )
        .unwrap();
    }
    let server = bin_server(root.path());
    // The server settles first: its start-up sweep of the homes is done once it has served a
    // client, and that client's thread is gone once only the accept loop's thread is left.
    let mut warm_up = Raw::connect(server.addr);
    client_login(&mut warm_up.stream, "user00", PASSWORD).unwrap();
    warm_up.expect_ok(json!({"cmd": "quit"}));
    drop(warm_up);
    let deadline = Instant::now() + common::WAIT;
    while threads_and_fds(server.pid()).0 > 1 && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
    }
    let before = threads_and_fds(server.pid());

    let clients: Vec<_> = (0..USERS)
        .map(|i| {
            let addr = server.addr;
            thread::spawn(move || {
                let data = pattern(1 << 20, i as u8);
                let mut raw = Raw::connect(addr);
                client_login(&mut raw.stream, &format!("user{i:02}"), PASSWORD).unwrap();
                let reply = raw.put("data.bin", &data);
                assert_eq!(reply["md5"], md5_hex(&data), "{reply:?}");
                assert_eq!(raw.get("data.bin"), data); // Raw::get checks the md5 too
                raw.expect_ok(json!({"cmd": "quit"}));
            })
        })
        .collect();
    for client in clients {
        client.join().expect("a client failed");
    }

    // The connection threads end (and close their sockets) just after their clients quit.
    let deadline = Instant::now() + common::WAIT;
    let mut after = threads_and_fds(server.pid());
    while after != before && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(20));
        after = threads_and_fds(server.pid());
    }
    assert_eq!(after, before, "(threads, fds) after and before");
}
