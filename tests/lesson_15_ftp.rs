//! Lesson 15: the homework's server speaking RFC 959, driven by real FTP clients and by hand.
//!
//! - Python's `ftplib` is the client every test machine has (python3 is required here): login,
//!   listings, uploads, downloads, both resumes, ABOR.
//! - `curl` (Debian package `curl`) runs the sequences it really sends; its tests print a notice
//!   and pass when curl is not installed.
//! - A small hand-driven client plays the hostile inputs: long lines, jail escapes, floods of
//!   PASV, a data connection from another address (127.0.0.2), an upload cut by a reset.
//!
//! Accounts are made with the library function `14-ftp adduser` calls (and once with the binary
//! itself), with the fewest PBKDF2 iterations allowed (4096) to keep logins fast. Servers run in-process on port 0.

mod common;

use std::fs;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crossbeam_channel::Receiver;
use md5::{Digest, Md5};
use socklab::accounts::admin;
use socklab::check::standard_ftp;
use socklab::check::Options;
use socklab::lessons::standard_ftp::server::{run_server, ServerConfig};
use socklab::log::Log;
use socklab::server::Background;

const PASSWORD: &str = "correct horse";
const ITERATIONS: u32 = socklab::accounts::scram::MIN_ITERATIONS;

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
        let root = tempfile::tempdir().unwrap();
        let mut config = ServerConfig::new(root.path());
        config.login_policy.per_account = socklab::accounts::guard::GuardPolicy::off();
        config.login_policy.per_address = socklab::accounts::guard::GuardPolicy::off();
        adjust(&mut config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let (log, lines) = Log::channel();
        let server =
            Background::tcp(listener, move |l, s| run_server(l, &config, &log, &s)).unwrap();
        let lab = Lab {
            root,
            addr,
            log: lines,
            _server: server,
        };
        lab.add_user("alice", 10 * 1024 * 1024);
        lab
    }

    fn add_user(&self, name: &str, quota: u64) {
        admin::add_user(self.root.path(), name, PASSWORD, quota, ITERATIONS).unwrap();
    }

    fn home(&self, name: &str) -> PathBuf {
        self.root.path().join("home").join(name)
    }

    fn url(&self) -> String {
        format!(
            "ftp://alice:correct%20horse@127.0.0.1:{}/",
            self.addr.port()
        )
    }

    /// A logged-in hand-driven client.
    fn login(&self) -> Ftp {
        let mut ftp = Ftp::connect(self.addr);
        ftp.expect("USER alice", 331);
        ftp.expect(&format!("PASS {PASSWORD}"), 230);
        ftp
    }

    /// Waits for a server log line containing `needle`.
    fn wait_log(&self, needle: &str) -> String {
        common::wait_for_log_line(&self.log, needle)
    }

    /// Nothing but the finished files in the home: no partial upload left anywhere.
    fn assert_no_partials(&self, user: &str) {
        let partials = self.home(user).join(".socklab-partial");
        let left: Vec<_> = fs::read_dir(&partials)
            .map(|d| d.flatten().map(|e| e.file_name()).collect())
            .unwrap_or_default();
        assert!(left.is_empty(), "partial files left: {left:?}");
    }
}

/// A control connection driven line by line.
struct Ftp {
    reader: BufReader<TcpStream>,
    stream: TcpStream,
}

impl Ftp {
    fn connect(addr: SocketAddr) -> Ftp {
        let stream = common::connect(addr);
        let mut ftp = Ftp {
            reader: BufReader::new(stream.try_clone().unwrap()),
            stream,
        };
        assert_eq!(ftp.reply().0, 220);
        ftp
    }

    fn send(&mut self, line: &str) {
        self.stream
            .write_all(format!("{line}\r\n").as_bytes())
            .unwrap();
    }

    /// One reply (a multi-line one whole): its code and its text lines.
    fn reply(&mut self) -> (u16, String) {
        let mut first = String::new();
        self.reader.read_line(&mut first).unwrap();
        assert!(first.len() >= 4, "no reply, got {first:?}");
        let code: u16 = first[..3].parse().unwrap();
        let mut text = first.clone();
        if first.as_bytes()[3] == b'-' {
            loop {
                let mut line = String::new();
                assert!(self.reader.read_line(&mut line).unwrap() > 0);
                text.push_str(&line);
                if line.starts_with(&format!("{code} ")) {
                    break;
                }
            }
        }
        (code, text)
    }

    fn cmd(&mut self, line: &str) -> (u16, String) {
        self.send(line);
        self.reply()
    }

    fn expect(&mut self, line: &str, code: u16) -> String {
        let (got, text) = self.cmd(line);
        assert_eq!(got, code, "{line} -> {text}");
        text
    }

    /// PASV, and the address it names.
    fn pasv(&mut self) -> SocketAddr {
        let text = self.expect("PASV", 227);
        let inside = text.split(['(', ')']).nth(1).unwrap();
        let n: Vec<u16> = inside
            .split(',')
            .map(|n| n.parse::<u16>().unwrap())
            .collect();
        let ip = Ipv4Addr::new(n[0] as u8, n[1] as u8, n[2] as u8, n[3] as u8);
        SocketAddr::new(IpAddr::V4(ip), n[4] * 256 + n[5])
    }

    /// A data connection after PASV.
    fn data(&mut self) -> TcpStream {
        let addr = self.pasv();
        common::connect(addr)
    }

    /// `RETR` (or LIST...): the whole data, and the final code.
    fn download(&mut self, command: &str) -> (Vec<u8>, u16) {
        let mut data = self.data();
        self.expect(command, 150);
        let mut bytes = Vec::new();
        data.read_to_end(&mut bytes).unwrap();
        (bytes, self.reply().0)
    }

    /// `STOR`/`APPE` with `bytes`, and the final code.
    fn upload(&mut self, command: &str, bytes: &[u8]) -> u16 {
        let mut data = self.data();
        let (code, text) = self.cmd(command);
        if code != 150 {
            return code;
        }
        assert!(text.starts_with("150"));
        // The server may stop reading (quota): a failed write is its answer, not ours.
        let _ = data.write_all(bytes);
        drop(data);
        self.reply().0
    }

    fn is_closed(&mut self) -> bool {
        let mut line = String::new();
        matches!(self.reader.read_line(&mut line), Ok(0) | Err(_))
    }
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

/// Runs a Python script with `args`; python3 is required (ftplib is the mandatory client).
fn python(script: &str, args: &[&str]) -> common::Finished {
    assert!(
        common::have_python(),
        "python3 is needed for lesson 15's ftplib tests"
    );
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("client.py");
    fs::write(&path, script).unwrap();
    let mut all = vec![path.to_str().unwrap()];
    all.extend_from_slice(args);
    let finished = common::run("python3", &all, "");
    assert!(
        finished.status.success(),
        "python failed:\n{}\n{}",
        finished.stdout,
        finished.stderr
    );
    finished
}

/// Is `tool` installed? If not, says so (the test then passes without it).
fn have(tool: &str) -> bool {
    let found = Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        eprintln!("NOTICE: {tool} is not installed; skipping this lesson 15 test (apt-get install {tool})");
    }
    found
}

/// Runs curl with a time limit; returns (exit code, stdout bytes, stderr text).
fn curl(args: &[&str]) -> (i32, Vec<u8>, String) {
    let output = Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20"])
        .args(args)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        output.stdout,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

// ------------------------------------------------------------------------------------------
// ftplib
// ------------------------------------------------------------------------------------------

const FTPLIB_SESSION: &str = r#"
import ftplib, hashlib, io, sys
port = int(sys.argv[1])
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", port, timeout=20)
assert ftp.login("alice", "correct horse").startswith("230")
assert "EPSV" in ftp.sendcmd("FEAT")
assert ftp.sendcmd("OPTS UTF8 ON").startswith("200")
assert ftp.pwd() == "/"
ftp.mkd("docs")
ftp.cwd("docs")
assert ftp.pwd() == "/docs"
data = bytes((i * 7919) % 251 for i in range(300000))
assert ftp.storbinary("STOR a.bin", io.BytesIO(data)).startswith("226")
assert ftp.size("a.bin") == len(data)
got = io.BytesIO()
assert ftp.retrbinary("RETR a.bin", got.write).startswith("226")
assert got.getvalue() == data
# resume a download from byte 100000 (REST + RETR)
tail = io.BytesIO()
ftp.retrbinary("RETR a.bin", tail.write, rest=100000)
assert tail.getvalue() == data[100000:]
# resume an upload: the first 1000 bytes stored, then REST 1000 + STOR the rest
ftp.storbinary("STOR b.bin", io.BytesIO(data[:1000]))
ftp.storbinary("STOR b.bin", io.BytesIO(data[1000:]), rest=1000)
assert ftp.size("b.bin") == len(data)
# and with APPE
ftp.storbinary("STOR c.bin", io.BytesIO(data[:5000]))
ftp.storbinary("APPE c.bin", io.BytesIO(data[5000:]))
md5 = ftp.sendcmd("SITE MD5 c.bin").split()[1]
assert md5 == hashlib.md5(data).hexdigest(), md5
assert sorted(ftp.nlst()) == ["a.bin", "b.bin", "c.bin"]
facts = dict(ftp.mlsd())
assert facts["a.bin"]["type"] == "file" and facts["a.bin"]["size"] == str(len(data))
assert len(facts["a.bin"]["modify"]) == 14
lines = []
ftp.retrlines("LIST -la", lines.append)
assert any(l.startswith("-rw") and l.endswith(" a.bin") for l in lines), lines
assert ftp.sendcmd("MDTM a.bin").startswith("213 ")
ftp.rename("c.bin", "d.bin")
ftp.delete("b.bin")
ftp.cwd("..")
try:
    ftp.rmd("docs")
    raise SystemExit("a directory that is not empty was removed")
except ftplib.error_perm as e:
    assert str(e).startswith("550")
print(ftp.quit())
"#;

#[test]
fn ftplib_lists_uploads_downloads_and_resumes_both_ways() {
    let lab = Lab::start();
    let done = python(FTPLIB_SESSION, &[&lab.addr.port().to_string()]);
    assert!(done.stdout.starts_with("221"), "{}", done.stdout);
    let home = lab.home("alice");
    let data: Vec<u8> = (0..300_000u64).map(|i| ((i * 7919) % 251) as u8).collect();
    assert_eq!(fs::read(home.join("docs/a.bin")).unwrap(), data);
    assert_eq!(fs::read(home.join("docs/d.bin")).unwrap(), data);
    assert!(!home.join("docs/b.bin").exists());
    lab.assert_no_partials("alice");
}

const FTPLIB_ABORT: &str = r#"
import ftplib, sys
port, mode = int(sys.argv[1]), sys.argv[2]
ftp = ftplib.FTP()
ftp.connect("127.0.0.1", port, timeout=20)
ftp.login("alice", "correct horse")
ftp.voidcmd("TYPE I")
if mode == "download":
    conn = ftp.transfercmd("RETR big.bin")
    assert len(conn.recv(1000)) > 0
else:
    conn = ftp.transfercmd("STOR new.bin")
    conn.sendall(b"x" * 100000)
first = ftp.abort()
assert first[:3] in ("426", "225", "226"), first
if first.startswith("426"):
    second = ftp.getresp()
    assert second.startswith("226"), second
conn.close()
# the session goes on
assert ftp.sendcmd("NOOP").startswith("200")
print(first[:3], ftp.quit())
"#;

#[test]
fn ftplib_abort_stops_a_download_and_an_upload_leaves_nothing() {
    let lab = Lab::start();
    fs::create_dir_all(lab.home("alice")).unwrap();
    // Far more than the socket buffers hold, so the download is still running at the ABOR
    // (a sparse file: no time spent writing it).
    fs::File::create(lab.home("alice").join("big.bin"))
        .unwrap()
        .set_len(256 << 20)
        .unwrap();
    let port = lab.addr.port().to_string();
    let done = python(FTPLIB_ABORT, &[&port, "download"]);
    assert!(done.stdout.starts_with("426 221"), "{}", done.stdout);
    // Its 256 MiB count against the quota: room for the upload.
    fs::remove_file(lab.home("alice").join("big.bin")).unwrap();
    let done = python(FTPLIB_ABORT, &[&port, "upload"]);
    assert!(done.stdout.starts_with("426 221"), "{}", done.stdout);
    assert!(!lab.home("alice").join("new.bin").exists());
    lab.assert_no_partials("alice");
}

// ------------------------------------------------------------------------------------------
// curl
// ------------------------------------------------------------------------------------------

#[test]
fn curl_uploads_lists_downloads_and_resumes() {
    if !have("curl") {
        return;
    }
    let lab = Lab::start();
    let local = tempfile::tempdir().unwrap();
    let data = pattern(700_000, 7);
    let file = local.path().join("data.bin");
    fs::write(&file, &data).unwrap();
    let url = lab.url();
    let file_arg = file.to_str().unwrap();

    // Upload into a directory curl creates (MKD), list, download.
    let (code, _, err) = curl(&[
        "--ftp-create-dirs",
        "-T",
        file_arg,
        &format!("{url}d/data.bin"),
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, listing, err) = curl(&[&format!("{url}d/")]);
    assert_eq!(code, 0, "{err}");
    let listing = String::from_utf8(listing).unwrap();
    assert!(
        listing.contains(" 700000 ") && listing.trim_end().ends_with(" data.bin"),
        "{listing}"
    );
    let (code, body, err) = curl(&[&format!("{url}d/data.bin")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body, data);

    // Resume a download: the local file has its first 300000 bytes (SIZE, REST, RETR).
    let partial = local.path().join("partial.bin");
    fs::write(&partial, &data[..300_000]).unwrap();
    let (code, _, err) = curl(&[
        "-C",
        "-",
        "-o",
        partial.to_str().unwrap(),
        &format!("{url}d/data.bin"),
    ]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(fs::read(&partial).unwrap(), data);

    // Resume an upload: the server has the first 200000 bytes (SIZE, APPE).
    fs::write(lab.home("alice").join("up.bin"), &data[..200_000]).unwrap();
    let (code, _, err) = curl(&["-C", "-", "-T", file_arg, &format!("{url}up.bin")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(fs::read(lab.home("alice").join("up.bin")).unwrap(), data);
    lab.assert_no_partials("alice");
}

#[test]
fn curl_falls_back_to_pasv_when_epsv_is_refused() {
    if !have("curl") {
        return;
    }
    let lab = Lab::start_with(|c| c.epsv = false);
    fs::create_dir_all(lab.home("alice")).unwrap();
    fs::write(lab.home("alice").join("a.txt"), b"hello\n").unwrap();
    let (code, body, err) = curl(&["-v", &format!("{}a.txt", lab.url())]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(body, b"hello\n");
    assert!(err.contains("> EPSV") && err.contains("< 502"), "{err}");
    assert!(err.contains("> PASV") && err.contains("< 227"), "{err}");
}

#[test]
fn curl_upload_over_quota_is_refused_and_leaves_nothing() {
    if !have("curl") {
        return;
    }
    let lab = Lab::start();
    lab.add_user("bob", 100_000);
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("big.bin");
    fs::write(&file, pattern(3 << 20, 3)).unwrap();
    let url = format!(
        "ftp://bob:correct%20horse@127.0.0.1:{}/big.bin",
        lab.addr.port()
    );
    let (code, _, err) = curl(&["-T", file.to_str().unwrap(), &url]);
    assert_ne!(code, 0, "an upload over the quota succeeded");
    assert!(
        err.contains("552") || code == 25 || code == 55,
        "curl {code}: {err}"
    );
    assert!(!lab.home("bob").join("big.bin").exists());
    lab.assert_no_partials("bob");
    // The room is given back: a small file fits.
    fs::write(&file, b"small").unwrap();
    let (code, _, err) = curl(&["-T", file.to_str().unwrap(), &url]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn the_binaries_work_together_adduser_then_server_then_curl() {
    if !have("curl") {
        return;
    }
    let root = tempfile::tempdir().unwrap();
    let root_arg = root.path().to_str().unwrap();
    let made = common::run(
        env!("CARGO_BIN_EXE_14-ftp"),
        &[
            "adduser",
            "carol",
            "--root",
            root_arg,
            "--quota",
            "1MiB",
            "--iterations",
            "4096",
            "--password-stdin",
        ],
        "secret pw\n",
    );
    assert!(made.status.success(), "{}", made.stderr);
    let server = common::ServerProcess::start(
        env!("CARGO_BIN_EXE_15-ftp"),
        &["server", "--root", root_arg, "--port", "0"],
    );
    let url = format!("ftp://carol:secret%20pw@127.0.0.1:{}/", server.port());
    let local = tempfile::tempdir().unwrap();
    let file = local.path().join("n.txt");
    fs::write(&file, b"notes\n").unwrap();
    let (code, _, err) = curl(&["-T", file.to_str().unwrap(), &url]);
    assert_eq!(code, 0, "{err}");
    let (code, body, err) = curl(&[&format!("{url}n.txt")]);
    assert_eq!((code, body.as_slice()), (0, &b"notes\n"[..]), "{err}");
    let (code, _, _) = curl(&[&url.replace("secret%20pw", "wrong")]);
    assert_eq!(
        code, 67,
        "a wrong password must be refused (curl's 67: login denied)"
    );
}

#[test]
fn lftp_uploads_lists_downloads_and_resumes() {
    if !have("lftp") {
        return;
    }
    let lab = Lab::start();
    let local = tempfile::tempdir().unwrap();
    let data = pattern(500_000, 11);
    fs::write(local.path().join("up.bin"), &data).unwrap();
    // The server holds the first 100000 bytes of `resumed.bin`; the client the first 200000
    // of `back.bin`.
    fs::write(local.path().join("resumed.bin"), &data).unwrap();
    fs::write(lab.home("alice").join("resumed.bin"), &data[..100_000]).unwrap();
    fs::write(lab.home("alice").join("back.bin"), &data).unwrap();
    fs::write(local.path().join("back.bin"), &data[..200_000]).unwrap();
    let script = "set net:max-retries 1; set net:timeout 10; set cmd:fail-exit yes; \
                  put up.bin; reput resumed.bin; get -c back.bin; cls -l; mkdir d; rmdir d; bye";
    // Killed after common::WAIT if it hangs.
    let user = format!("alice,{PASSWORD}");
    let port = lab.addr.port().to_string();
    let args = ["-u", &user, "-p", &port, "-e", script, "127.0.0.1"];
    let done = common::run_in("lftp", &args, "", &[], Some(local.path()));
    let stdout = &done.stdout;
    assert!(done.status.success(), "{stdout}{}", done.stderr);
    assert!(stdout.contains("up.bin"), "{stdout}");
    for name in ["up.bin", "resumed.bin"] {
        assert_eq!(
            fs::read(lab.home("alice").join(name)).unwrap(),
            data,
            "{name}"
        );
    }
    assert_eq!(fs::read(local.path().join("back.bin")).unwrap(), data);
    lab.assert_no_partials("alice");
}

// ------------------------------------------------------------------------------------------
// Replies, sequences, login
// ------------------------------------------------------------------------------------------

#[test]
fn before_login_only_login_commands_work() {
    let lab = Lab::start();
    let mut ftp = Ftp::connect(lab.addr);
    ftp.expect("SYST", 215);
    ftp.expect("FEAT", 211);
    ftp.expect("RETR a", 530);
    ftp.expect("PASS x", 503);
    let (code, _) = ftp.cmd("AUTH TLS");
    assert!(
        (500..600).contains(&code),
        "AUTH TLS must get a 5xx, got {code}"
    );
    ftp.expect("USER alice", 331);
    ftp.expect("PASS wrong", 530);
    ftp.expect("USER nobody", 331);
    ftp.expect("PASS wrong", 530);
    ftp.expect("USER alice", 331);
    ftp.expect("PASS still wrong", 530);
    assert!(
        ftp.is_closed(),
        "three failed logins on one connection close it"
    );
    let mut ftp = lab.login();
    ftp.expect("XYZZY", 502);
    ftp.expect("RNTO b", 503);
    ftp.expect("USER alice", 503);
    ftp.expect("QUIT", 221);
}

#[test]
fn rest_past_the_end_and_transfers_without_pasv_are_refused() {
    let lab = Lab::start();
    let mut ftp = lab.login();
    assert_eq!(ftp.upload("STOR a.txt", b"12345"), 226);
    // PASV first: REST applies to the very next command only.
    let _data = ftp.data();
    ftp.expect("REST 10", 350);
    ftp.expect("RETR a.txt", 554);
    let _data = ftp.data();
    ftp.expect("REST 10", 350);
    ftp.expect("STOR a.txt", 554);
    ftp.expect("REST x", 501);
    // No PASV (the refused RETR used up the last one): 425.
    ftp.expect("RETR a.txt", 425);
    ftp.expect("PORT 127,0,0,1,200,10", 502);
    ftp.expect("SIZE a.txt", 213);
    ftp.expect("SIZE nothing", 550);
}

#[test]
fn port_works_only_when_allowed_and_only_to_the_client() {
    let lab = Lab::start_with(|c| c.allow_port = true);
    let mut ftp = lab.login();
    assert_eq!(ftp.upload("STOR a.txt", b"active"), 226);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    ftp.expect(
        &format!("PORT 127,0,0,1,{},{}", port >> 8, port & 0xff),
        200,
    );
    ftp.expect("RETR a.txt", 150);
    let mut data = common::accept(&listener);
    let mut body = Vec::new();
    data.read_to_end(&mut body).unwrap();
    assert_eq!(body, b"active");
    assert_eq!(ftp.reply().0, 226);
    ftp.expect("EPRT |1|10.9.8.7|5000|", 504);
    ftp.expect("PORT 127,0,0,1,0,21", 504);
}

#[test]
fn an_idle_client_is_told_and_disconnected() {
    let lab = Lab::start_with(|c| c.idle_timeout = Duration::from_millis(500));
    let mut ftp = lab.login();
    assert_eq!(ftp.reply().0, 421);
    assert!(ftp.is_closed());
}

// ------------------------------------------------------------------------------------------
// Hostile inputs
// ------------------------------------------------------------------------------------------

#[test]
fn a_long_line_is_refused_and_the_connection_closed() {
    let lab = Lab::start();
    let mut ftp = Ftp::connect(lab.addr);
    ftp.send(&format!("USER {}", "a".repeat(3000)));
    assert_eq!(ftp.reply().0, 500);
    assert!(ftp.is_closed());
    // A line with no end at all is cut at the limit too.
    let mut ftp = Ftp::connect(lab.addr);
    ftp.stream.write_all(&vec![b'x'; 5000]).unwrap();
    assert_eq!(ftp.reply().0, 500);
    lab.wait_log("line too long");
}

#[test]
#[cfg(unix)]
fn no_path_argument_leaves_the_home() {
    let lab = Lab::start();
    let mut ftp = lab.login();
    let home = lab.home("alice");
    fs::write(lab.root.path().join("secret.txt"), b"outside").unwrap();
    std::os::unix::fs::symlink(lab.root.path(), home.join("link")).unwrap();
    std::os::unix::fs::symlink(lab.root.path().join("secret.txt"), home.join("s.txt")).unwrap();
    for path in [
        "../secret.txt",
        "../../secret.txt",
        "/../secret.txt",
        "a/../../secret.txt",
        "link/secret.txt",
        "s.txt",
        "..\\secret.txt",
        ".socklab-partial/x",
    ] {
        let (code, text) = ftp.cmd(&format!("SIZE {path}"));
        assert_eq!(code, 550, "SIZE {path} -> {text}");
        let (code, _) = ftp.cmd(&format!("MDTM {path}"));
        assert_eq!(code, 550, "MDTM {path}");
        let (code, _) = ftp.cmd(&format!("SITE MD5 {path}"));
        assert_eq!(code, 550, "SITE MD5 {path}");
        let _data = ftp.data();
        let (code, _) = ftp.cmd(&format!("RETR {path}"));
        assert_eq!(code, 550, "RETR {path}");
        let _data = ftp.data();
        let (code, _) = ftp.cmd(&format!("STOR {path}"));
        assert_eq!(code, 550, "STOR {path}");
        let (code, _) = ftp.cmd(&format!("DELE {path}"));
        assert_eq!(code, 550, "DELE {path}");
        let (code, _) = ftp.cmd(&format!("RNFR {path}"));
        assert_eq!(code, 550, "RNFR {path}");
    }
    for dir in ["..", "/..", "link", "../home"] {
        let (code, _) = ftp.cmd(&format!("CWD {dir}"));
        assert!(
            code == 550 || (dir == ".." && code == 250),
            "CWD {dir} -> {code}"
        );
        let _data = ftp.data();
        let (code, _) = ftp.cmd(&format!("LIST {dir}"));
        assert_eq!(code, 550, "LIST {dir}");
        assert_eq!(
            ftp.expect("PWD", 257),
            "257 \"/\" is the current directory\r\n"
        );
    }
    ftp.expect("MKD .socklab-partial", 550);
    ftp.expect("MKD d", 257);
    ftp.expect("RNFR d", 350);
    ftp.expect("RNTO ../moved", 550);
    assert_eq!(
        fs::read(lab.root.path().join("secret.txt")).unwrap(),
        b"outside"
    );
}

#[test]
fn a_flood_of_pasv_holds_one_port() {
    let lab = Lab::start();
    let mut ftp = lab.login();
    let mut ports = Vec::new();
    for _ in 0..200 {
        ports.push(ftp.pasv());
    }
    // Every port but the last is closed again.
    let refused = ports[..ports.len() - 1]
        .iter()
        .filter(|addr| TcpStream::connect_timeout(addr, Duration::from_secs(2)).is_err())
        .count();
    assert!(
        refused >= 190,
        "only {refused} of 199 earlier passive ports were closed"
    );
    let (listing, code) = ftp.download("LIST");
    assert_eq!((listing.len(), code), (0, 226));
}

/// A connection to `to` from the loopback address `from` (127.0.0.2 is loopback on Linux).
fn connect_from(from: Ipv4Addr, to: SocketAddr) -> std::io::Result<TcpStream> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    socket.bind(&SocketAddr::new(IpAddr::V4(from), 0).into())?;
    socket.connect_timeout(&to.into(), Duration::from_secs(5))?;
    Ok(socket.into())
}

#[test]
fn a_data_connection_from_another_address_is_refused() {
    let lab = Lab::start_with(|c| c.data_timeout = Duration::from_secs(1));
    let mut ftp = lab.login();
    assert_eq!(ftp.upload("STOR a.txt", b"mine"), 226);
    let addr = ftp.pasv();
    let Ok(mut intruder) = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr) else {
        eprintln!("NOTICE: 127.0.0.2 is not usable here; skipping the other-address test");
        return;
    };
    ftp.expect("RETR a.txt", 150);
    lab.wait_log("data connection from 127.0.0.2");
    let mut got = Vec::new();
    let _ = intruder.read_to_end(&mut got);
    assert!(got.is_empty(), "the intruder got {got:?}");
    assert_eq!(
        ftp.reply().0,
        425,
        "no data connection from the client: 425"
    );
    // The client's own connection, after the intruder's, gets the file.
    let addr = ftp.pasv();
    let _intruder = connect_from(Ipv4Addr::new(127, 0, 0, 2), addr).unwrap();
    let mut data = common::connect(addr);
    ftp.expect("RETR a.txt", 150);
    let mut body = Vec::new();
    data.read_to_end(&mut body).unwrap();
    assert_eq!((body.as_slice(), ftp.reply().0), (&b"mine"[..], 226));
}

#[test]
fn an_upload_cut_by_a_reset_leaves_nothing_and_the_old_file_whole() {
    let lab = Lab::start();
    let mut ftp = lab.login();
    assert_eq!(ftp.upload("STOR a.bin", b"old version"), 226);
    let mut data = ftp.data();
    ftp.expect("STOR a.bin", 150);
    data.write_all(&pattern(200_000, 2)).unwrap();
    socket2::SockRef::from(&data)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(data);
    let (code, text) = ftp.reply();
    assert_eq!(code, 426, "{text}");
    assert_eq!(
        fs::read(lab.home("alice").join("a.bin")).unwrap(),
        b"old version"
    );
    lab.assert_no_partials("alice");
}

#[test]
fn quota_holds_for_two_uploads_at_once() {
    let lab = Lab::start();
    lab.add_user("bob", 3 << 20);
    let login = |lab: &Lab| {
        let mut ftp = Ftp::connect(lab.addr);
        ftp.expect("USER bob", 331);
        ftp.expect(&format!("PASS {PASSWORD}"), 230);
        ftp
    };
    let (mut one, mut two) = (login(&lab), login(&lab));
    let mut data_one = one.data();
    one.expect("STOR one.bin", 150);
    let mut data_two = two.data();
    two.expect("STOR two.bin", 150);
    // 2 MiB each, in turns: together they would pass the 3 MiB quota. Each reserves its room
    // as its bytes arrive, so at most one can finish (maybe neither: both may be stopped
    // half-way), and what is stored never passes the quota.
    let chunk = pattern(256 * 1024, 5);
    for _ in 0..8 {
        let _ = data_one.write_all(&chunk);
        let _ = data_two.write_all(&chunk);
        std::thread::sleep(Duration::from_millis(20));
    }
    drop((data_one, data_two));
    let codes = [one.reply().0, two.reply().0];
    assert!(codes.contains(&552), "{codes:?}");
    assert!(codes.iter().all(|&c| c == 226 || c == 552), "{codes:?}");
    let used: u64 = ["one.bin", "two.bin"]
        .iter()
        .filter_map(|n| fs::metadata(lab.home("bob").join(n)).ok())
        .map(|m| m.len())
        .sum();
    assert!(used <= 3 << 20, "{used} bytes stored");
    // One after the other, the first fits and the second does not.
    for name in ["one.bin", "two.bin"] {
        let _ = one.cmd(&format!("DELE {name}"));
    }
    assert_eq!(one.upload("STOR one.bin", &pattern(2 << 20, 6)), 226);
    assert_eq!(two.upload("STOR two.bin", &pattern(2 << 20, 7)), 552);
    assert!(!lab.home("bob").join("two.bin").exists());
    lab.assert_no_partials("bob");
}

#[test]
fn an_upload_is_invisible_until_whole() {
    let lab = Lab::start();
    let mut ftp = lab.login();
    let mut data = ftp.data();
    ftp.expect("STOR growing.bin", 150);
    data.write_all(&pattern(100_000, 9)).unwrap();
    let mut other = lab.login();
    other.expect("SIZE growing.bin", 550);
    let (names, _) = other.download("NLST");
    assert!(names.is_empty(), "{:?}", String::from_utf8_lossy(&names));
    drop(data);
    assert_eq!(ftp.reply().0, 226);
    other.expect("SIZE growing.bin", 213);
    let text = other.expect("SITE MD5 growing.bin", 213);
    assert!(text.contains(&md5_hex(&pattern(100_000, 9))), "{text}");
}

// ------------------------------------------------------------------------------------------
// The checker
// ------------------------------------------------------------------------------------------

#[test]
fn the_checker_passes_socklab_server() {
    let lab = Lab::start();
    let account = standard_ftp::Account {
        user: "alice".into(),
        password: PASSWORD.into(),
    };
    let report = standard_ftp::report(lab.addr, &account, &Options::quiet(1)).unwrap();
    let failed: Vec<_> = report.points.iter().filter(|p| !p.passed).collect();
    assert!(failed.is_empty(), "{failed:#?}");
    assert!(report.points.len() >= 12);
    // It tidies up after itself.
    let left: Vec<_> = fs::read_dir(lab.home("alice"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("socklab-check"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// A naive server: a greeting, then `200 OK` to every line, whatever it says.
fn naive_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || {
                let mut writer = conn.try_clone().unwrap();
                let _ = writer.write_all(b"220 hello\r\n");
                for line in BufReader::new(conn).lines() {
                    if line.is_err() || writer.write_all(b"200 OK\r\n").is_err() {
                        break;
                    }
                }
            });
        }
    });
    addr
}

#[test]
fn the_checker_fails_a_naive_server() {
    let account = standard_ftp::Account {
        user: "alice".into(),
        password: PASSWORD.into(),
    };
    let mut options = Options::quiet(1);
    options.timeout = Duration::from_secs(3);
    let report = standard_ftp::report(naive_server(), &account, &options).unwrap();
    assert!(report.failed() >= 10, "{:#?}", report.points);
}

#[test]
fn the_check_binary_needs_the_password_in_the_environment() {
    let lab = Lab::start();
    let addr = lab.addr.to_string();
    let args = ["check", "server", addr.as_str(), "--user", "alice"];
    let done = common::run(env!("CARGO_BIN_EXE_15-ftp"), &args, "");
    assert!(!done.status.success());
    assert!(done.stderr.contains("SOCKLAB_PASSWORD"), "{}", done.stderr);
    let done = common::run_with_env(
        env!("CARGO_BIN_EXE_15-ftp"),
        &args,
        "",
        &[("SOCKLAB_PASSWORD", PASSWORD)],
    );
    assert!(done.status.success(), "{}{}", done.stdout, done.stderr);
    assert!(done.stdout.contains("PASS"), "{}", done.stdout);
}

#[test]
fn passive_ports_come_from_the_configured_range() {
    // A free range: ports the system just handed out and released.
    let free: Vec<u16> = (0..3)
        .map(|_| TcpListener::bind("127.0.0.1:0").unwrap())
        .collect::<Vec<_>>()
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    let (low, high) = (*free.iter().min().unwrap(), *free.iter().max().unwrap());
    let lab = Lab::start_with(|c| c.passive_ports = Some(low..=high));
    let mut ftp = lab.login();
    for _ in 0..5 {
        let (code, text) = ftp.cmd("PASV");
        if code == 227 {
            let port = text.split(['(', ')']).nth(1).unwrap();
            let n: Vec<u16> = port.split(',').map(|n| n.parse::<u16>().unwrap()).collect();
            let port = n[4] * 256 + n[5];
            assert!((low..=high).contains(&port), "{port} not in {low}-{high}");
        } else {
            // Something else took every port of the range meanwhile: said, not hidden.
            assert_eq!(code, 425, "{text}");
        }
    }
}

#[test]
fn mlst_stat_help_and_cdup_answer_on_the_control_connection() {
    let lab = Lab::start();
    let mut ftp = lab.login();
    assert_eq!(ftp.upload("STOR a.txt", b"12345"), 226);
    let mlst = ftp.expect("MLST a.txt", 250);
    assert!(
        mlst.contains(" type=file;size=5;modify=") && mlst.contains("; /a.txt\r\n"),
        "{mlst}"
    );
    ftp.expect("MKD d", 257);
    ftp.expect("CWD d", 250);
    ftp.expect("CDUP", 250);
    assert!(ftp.expect("PWD", 257).starts_with("257 \"/\""));
    ftp.expect("STAT", 211);
    assert!(ftp.expect("HELP", 214).contains("RETR"));
    ftp.expect("TYPE X", 504);
    ftp.expect("MODE S", 200);
    ftp.expect("OPTS UTF8 ON", 200);
    ftp.expect("EPSV ALL", 200);
    ftp.expect("PASV", 503);
    ftp.expect("ABOR", 225);
}

#[test]
fn an_upload_whose_client_vanishes_leaves_nothing() {
    let lab = Lab::start();
    let mut ftp = lab.login();
    let mut data = ftp.data();
    ftp.expect("STOR gone.bin", 150);
    data.write_all(&pattern(100_000, 4)).unwrap();
    // The control connection goes first (the client was killed), the data connection stays
    // open a moment.
    drop(ftp);
    lab.wait_log("STOR gone.bin");
    drop(data);
    assert!(!lab.home("alice").join("gone.bin").exists());
    lab.assert_no_partials("alice");
}

#[test]
fn failed_logins_are_slowed_as_in_lesson_14() {
    let lab = Lab::start_with(|c| c.login_policy = Default::default());
    // Three free failures (one connection holds three attempts), then the brake: 1 s.
    let mut ftp = Ftp::connect(lab.addr);
    for _ in 0..3 {
        ftp.expect("USER alice", 331);
        ftp.expect("PASS wrong", 530);
    }
    assert!(ftp.is_closed());
    let mut ftp = Ftp::connect(lab.addr);
    ftp.expect("USER alice", 331);
    let started = Instant::now();
    ftp.expect("PASS wrong", 530);
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "the fourth failure came back in {:?}",
        started.elapsed()
    );
    // Slowed, never locked out: the right password still logs in (after its own wait).
    ftp.expect("USER alice", 331);
    ftp.expect(&format!("PASS {PASSWORD}"), 230);
}

// ------------------------------------------------------------------------------------------
// --picture
// ------------------------------------------------------------------------------------------

/// `--picture FILE.svg` draws a session's two connections as two lanes of one conversation: the
/// control connection's `150`, the file's bytes in the data lane, then `226`.
#[test]
fn the_picture_shows_the_control_and_data_connections_as_two_lanes() {
    let folder = tempfile::tempdir().unwrap();
    let file = folder.path().join("ftp.svg");
    let picture = file.clone();
    let lab = Lab::start_with(move |config| {
        config.tracer = socklab::trace::Tracer::for_cli("server", false, Some(picture));
    });
    let body = pattern(1234, 7);
    let mut ftp = lab.login();
    assert_eq!(ftp.upload("STOR small.bin", &body), 226);
    assert_eq!(ftp.download("RETR small.bin"), (body.clone(), 226));
    ftp.expect("QUIT", 221);
    assert!(ftp.is_closed());

    // The picture is drawn again each time a connection closes, the control's before the log
    // says the client is gone.
    lab.wait_log("gone");
    let svg = fs::read_to_string(&file).unwrap();
    let doc = roxmltree::Document::parse(&svg).expect("the picture is well-formed XML");
    let lanes: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("party"))
        .filter_map(|n| n.text())
        .collect();
    assert!(lanes.contains(&"server"), "{lanes:?}");
    assert!(lanes.contains(&"server · data"), "{lanes:?}");
    // Each lane keeps to its own connections: the data lane has the two data streams, each
    // carrying the whole file, and the control lane none of them.
    let boxes = |party: &str| -> Vec<(String, u64, u64, u64)> {
        doc.descendants()
            .filter(|n| n.attribute("data-party") == Some(party))
            .map(|n| {
                let number = |name| n.attribute(name).unwrap().parse::<u64>().unwrap();
                let direction = n.attribute("data-direction").unwrap().to_string();
                (
                    direction,
                    number("data-stream"),
                    number("data-from"),
                    number("data-to"),
                )
            })
            .collect()
    };
    let data = boxes("server · data");
    let control = boxes("server");
    let data_streams: std::collections::BTreeSet<u64> = data.iter().map(|b| b.1).collect();
    assert_eq!(data_streams.len(), 2, "{data:?}");
    for stream in &data_streams {
        let end = data.iter().filter(|b| b.1 == *stream).map(|b| b.3).max();
        assert_eq!(end, Some(body.len() as u64), "{data:?}");
        assert!(control.iter().all(|b| b.1 != *stream), "{control:?}");
    }
    assert!(!control.is_empty());
    // Time goes down: the upload's bytes sit below the control lane's first 150 and above its
    // first 226.
    let y = |node: roxmltree::Node| -> f64 {
        let rect = node.descendants().find(|n| n.has_tag_name("rect")).unwrap();
        rect.attribute("y").unwrap().parse().unwrap()
    };
    let reply_y = |code: &str| {
        doc.descendants()
            .filter(|n| n.attribute("data-party") == Some("server"))
            .find(|n| {
                n.descendants()
                    .find(|t| t.has_tag_name("title"))
                    .and_then(|t| t.text())
                    .is_some_and(|t| t.starts_with(code))
            })
            .map(y)
            .unwrap_or_else(|| panic!("no {code:?} reply in the picture"))
    };
    let (opening, complete) = (reply_y("150 "), reply_y("226 "));
    let upload_stream = data.first().unwrap().1.to_string();
    for node in doc.descendants().filter(|n| {
        n.attribute("data-party") == Some("server · data")
            && n.attribute("data-stream") == Some(upload_stream.as_str())
    }) {
        let at = y(node);
        assert!(
            opening < at && at < complete,
            "{opening} < {at} < {complete}"
        );
    }
}
