//! The exercise checkers (`NN-name check`), proved both ways:
//!
//! - each lesson's reference solution (`tests/solutions/`) passes every point;
//! - the tutorial's own naive program (`tests/tutorials/`, run unchanged by
//!   `tests/tutorials/run.py`) fails, at the point that tests what the walkthrough says it gets
//!   wrong, for each of 100 seeds. Two naive programs are copies held in this file (marked
//!   below): the tutorial's HMAC client cannot meet any checker unchanged (its key is in its
//!   source), and lesson 09's naive receiver is the exercise's own variant.
//!
//! The checkers run in-process (`socklab::check`), the programs as Python processes. The naive
//! runs stop at their first failure (`fail_fast`) and run on a few threads, to keep this file
//! quick.

mod common;

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use socklab::check::{self, Lesson, Options, Report, StudentClient};

/// Seeds each naive program is run with.
const SEEDS: u64 = 100;
/// Threads the seeds are shared among.
const WORKERS: u64 = 4;

fn repo(path: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(path)
        .to_string_lossy()
        .into_owned()
}

/// `python3 tests/solutions/SCRIPT {port} EXTRA...`
fn solution_client(script: &str, extra: &[&str]) -> StudentClient {
    let mut command = vec![
        "python3".to_string(),
        repo(&format!("tests/solutions/{script}")),
        "{port}".to_string(),
    ];
    command.extend(extra.iter().map(|s| s.to_string()));
    StudentClient::new(command).unwrap()
}

/// `python3 tests/tutorials/run.py tests/tutorials/PROGRAM`, in `dir` (run.py copies the
/// program there and gives it the checker's SOCKLAB_HOST/SOCKLAB_PORT).
fn tutorial_client(program: &str, dir: &Path) -> StudentClient {
    StudentClient::new(vec![
        "python3".to_string(),
        repo("tests/tutorials/run.py"),
        repo(&format!("tests/tutorials/{program}")),
    ])
    .unwrap()
    .in_dir(dir)
}

/// A Python program written into `dir` from this file.
fn copied_program(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path.to_string_lossy().into_owned()
}

fn lines(report: &Report) -> String {
    let mut text = format!("seed {}\n", report.seed);
    for point in &report.points {
        text.push_str(&format!("{point}\n"));
    }
    text
}

fn assert_all_pass(report: &Report) {
    assert!(!report.points.is_empty());
    assert_eq!(report.failed(), 0, "\n{}", lines(report));
}

/// The naive program must fail at `point`, for every seed: one full run (seed 0) shows that
/// `point` is its first failure (the points before it pass), then `point` alone is run for each
/// of 100 seeds, on a few threads.
fn fails_at_for_every_seed(point: &str, check: impl Fn(Options) -> Report + Sync) {
    fails_at_for_every_seed_on(WORKERS, point, check)
}

/// [`fails_at_for_every_seed`] on `workers` threads.
fn fails_at_for_every_seed_on(workers: u64, point: &str, check: impl Fn(Options) -> Report + Sync) {
    let full = check(Options {
        fail_fast: true,
        ..Options::quiet(0)
    });
    let first = full.first_failure().map(|p| p.name.as_str());
    assert_eq!(first, Some(point), "\n{}", lines(&full));
    thread::scope(|scope| {
        for worker in 0..workers {
            let check = &check;
            scope.spawn(move || {
                for seed in (worker..SEEDS).step_by(workers as usize) {
                    let options = Options {
                        only: Some(point.to_string()),
                        ..Options::quiet(seed)
                    };
                    let report = check(options);
                    assert_eq!(report.points.len(), 1, "no point named {point:?}");
                    assert_eq!(report.failed(), 1, "seed {seed}:\n{}", lines(&report));
                }
            });
        }
    });
}

/// Options for a reference run.
fn reference(seed: u64) -> Options {
    Options::quiet(seed)
}

/// A Python server: started, its address read from the line it prints, killed when dropped.
struct PythonServer {
    child: Child,
    addr: SocketAddr,
}

impl PythonServer {
    /// Starts `python3 ARGS...` in `dir` and waits for a line containing `listening on IP:PORT`
    /// on stdout (the solutions) or stderr (run.py).
    fn start(args: &[&str], dir: &Path) -> PythonServer {
        let mut child = Command::new("python3")
            .args(args)
            .current_dir(dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start python3");
        let (tx, rx) = mpsc::channel();
        for pipe in [
            child
                .stdout
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|p| Box::new(p) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        {
            let tx = tx.clone();
            // Reads to the end, so that a chatty server never blocks on a full pipe.
            thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    let _ = tx.send(line);
                }
            });
        }
        loop {
            match rx.recv_timeout(common::WAIT) {
                Ok(line) => {
                    if let Some((_, addr)) = line.split_once("listening on ") {
                        let addr = addr.trim().parse().expect("address after 'listening on'");
                        return PythonServer { child, addr };
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    panic!("python3 {args:?} did not say where it listens");
                }
            }
        }
    }
}

impl Drop for PythonServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn client_report(lesson: &Lesson, student: &StudentClient, options: Options) -> Report {
    check::check_client(lesson, student.clone(), &options).unwrap()
}

fn server_report(lesson: &Lesson, addr: SocketAddr, options: Options) -> Report {
    check::check_server(lesson, addr, &options).unwrap()
}

// ---------------------------------------------------------------------------------------------
// 01 and 02: the echo clients. The tutorials' clients take one recv(1024) for the whole reply.

#[test]
fn echo_once_client_reference_passes() {
    if !common::have_python() {
        return;
    }
    let student = solution_client("01_echo_once_client.py", &[]);
    for seed in [1, 2] {
        assert_all_pass(&client_report(
            &check::echo::ECHO_ONCE,
            &student,
            reference(seed),
        ));
    }
}

#[test]
fn echo_once_client_tutorial_fails_on_a_cut_reply_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let naive = tutorial_client("001_s5_1_echo_once_client.py", dir.path());
    fails_at_for_every_seed("reply in 1-byte writes", |options| {
        client_report(&check::echo::ECHO_ONCE, &naive, options)
    });
}

#[test]
fn echo_loop_client_reference_passes() {
    if !common::have_python() {
        return;
    }
    let student = solution_client("02_echo_loop_client.py", &[]);
    for seed in [1, 2] {
        assert_all_pass(&client_report(
            &check::echo::ECHO_LOOP,
            &student,
            reference(seed),
        ));
    }
}

#[test]
fn echo_loop_client_tutorial_fails_on_a_cut_reply_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let naive = tutorial_client("001_s5_2_fixed_client.py", dir.path());
    fails_at_for_every_seed("replies in 1-byte writes", |options| {
        client_report(&check::echo::ECHO_LOOP, &naive, options)
    });
}

// ---------------------------------------------------------------------------------------------
// 09: the framed receiver (server) and sender (client).

/// COPY, marked: the naive receiver of the walkthrough's 09 exercise ("replace `recv_exactly`
/// with a single `recv(n)`"): tests/solutions/09_sticky_server.py with every exact read replaced
/// by one `recv`, the way the tutorials' struct-header programs receive, and their
/// `except Exception: break` around each client.
const NAIVE_STICKY_SERVER: &str = r#"
import socket, struct, sys
server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
server.bind(('127.0.0.1', 0))
server.listen(5)
print('listening on 127.0.0.1:%d' % server.getsockname()[1], flush=True)
while True:
    conn, addr = server.accept()
    while True:
        try:
            head = conn.recv(4)
            if not head:
                break
            n = struct.unpack('<i', head)[0]
            message = conn.recv(n)
            conn.sendall(struct.pack('<i', len(message)) + message)
        except Exception:
            break
    conn.close()
"#;

#[test]
fn sticky_server_reference_passes() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = repo("tests/solutions/09_sticky_server.py");
    let server = PythonServer::start(&[&script, "0"], dir.path());
    for seed in [1, 2] {
        assert_all_pass(&server_report(
            &check::sticky::LESSON,
            server.addr,
            reference(seed),
        ));
    }
}

#[test]
fn sticky_server_naive_fails_on_split_frames_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = copied_program(dir.path(), "naive_09_server.py", NAIVE_STICKY_SERVER);
    let server = PythonServer::start(&[&script], dir.path());
    fails_at_for_every_seed("two frames in 1-byte writes (split)", |options| {
        server_report(&check::sticky::LESSON, server.addr, options)
    });
}

#[test]
fn sticky_client_reference_passes() {
    if !common::have_python() {
        return;
    }
    let student = solution_client("09_sticky_client.py", &[]);
    for seed in [1, 2] {
        assert_all_pass(&client_report(
            &check::sticky::LESSON,
            &student,
            reference(seed),
        ));
    }
}

#[test]
fn sticky_client_tutorial_fails_without_frames_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let naive = tutorial_client("001_s6_3_sticky_client.py", dir.path());
    fails_at_for_every_seed("two lines", |options| {
        client_report(&check::sticky::LESSON, &naive, options)
    });
}

// ---------------------------------------------------------------------------------------------
// 10: the framed remote-shell client, json and length. The tutorials read the header with one
// recv(4).

#[test]
fn framed_cmd_client_reference_passes_json_and_length() {
    if !common::have_python() {
        return;
    }
    let json = solution_client("10_remote_cmd_framed_client.py", &[]);
    let length = solution_client("10_remote_cmd_framed_client.py", &["length"]);
    for seed in [1, 2] {
        assert_all_pass(&client_report(
            &check::remote_cmd_framed::JSON,
            &json,
            reference(seed),
        ));
        assert_all_pass(&client_report(
            &check::remote_cmd_framed::LENGTH,
            &length,
            reference(seed),
        ));
    }
}

#[test]
fn framed_cmd_client_tutorial_json_fails_on_a_cut_header_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let naive = tutorial_client("004_s4_json_cmd_client.py", dir.path());
    fails_at_for_every_seed("length and answer in 1-byte writes", |options| {
        client_report(&check::remote_cmd_framed::JSON, &naive, options)
    });
}

#[test]
fn framed_cmd_client_tutorial_length_fails_on_a_cut_header_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let naive = tutorial_client("003_s2_struct_cmd_client.py", dir.path());
    fails_at_for_every_seed("length and answer in 1-byte writes", |options| {
        client_report(&check::remote_cmd_framed::LENGTH, &naive, options)
    });
}

// ---------------------------------------------------------------------------------------------
// 12: the authenticating client.

/// COPY, marked: tutorial 003 §4's HMAC client (tests/tutorials/003_s4_hmac_client.py), changed
/// only so that it can meet a checker at all: the key comes from SOCKLAB_KEY instead of its
/// source and the digest is SHA-256 (lesson 12's default) instead of MD5. Its bugs are kept: the challenge is one `recv(32)`, the
/// length is `struct.pack('i', len(msg))` of the text, the reply's length one `recv(4)`.
const NAIVE_AUTH_CLIENT: &str = r#"
import hashlib, hmac, os, socket, struct
AUTO_KEY = os.environ['SOCKLAB_KEY'].encode('utf-8')
client = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
client.connect((os.environ['SOCKLAB_HOST'], int(os.environ['SOCKLAB_PORT'])))
msg = client.recv(32)
client.sendall(hmac.new(AUTO_KEY, msg, hashlib.sha256).digest())
while True:
    msg = input('>>').strip()
    if not msg: continue
    client.send(struct.pack('i', len(msg)))
    client.send(msg.encode('utf-8'))
    content_length = struct.unpack('i', client.recv(4))[0]
    recv_size = 0
    recv_msg = b''
    while recv_size < content_length:
        recv_msg += client.recv(1024)
        recv_size = len(recv_msg)
    print("<< %s" % (recv_msg.decode('utf-8')))
"#;

#[test]
fn auth_client_reference_passes() {
    if !common::have_python() {
        return;
    }
    let student = solution_client("12_auth_client.py", &[]);
    for seed in [1, 2] {
        assert_all_pass(&client_report(
            &check::auth::LESSON,
            &student,
            reference(seed),
        ));
    }
}

#[test]
fn auth_client_reference_passes_the_welcome_extension() {
    if !common::have_python() {
        return;
    }
    let student = solution_client("12_auth_client.py", &["welcome"]);
    assert_all_pass(&client_report(
        &check::auth::WITH_WELCOME,
        &student,
        reference(1),
    ));
    // A client of the default protocol takes the welcome frame for a reply: caught.
    let plain = solution_client("12_auth_client.py", &[]);
    let report = client_report(&check::auth::WITH_WELCOME, &plain, reference(1));
    assert!(report.failed() > 0, "\n{}", lines(&report));
}

/// The walkthrough's 12 client, with the changes its exercise asks for (the key from
/// SOCKLAB_KEY, the lines from standard input, the port as the first argument): it must pass
/// `12-auth check client` and work against `12-auth server --key-file key --echo`, the server
/// the same exercise names.
fn walkthrough_auth_client(dir: &Path) -> String {
    let text = common::walkthrough_python("## 12-auth");
    let changed = [
        (
            "KEY = b'correct horse'",
            "KEY = os.environ['SOCKLAB_KEY'].encode()",
        ),
        ("('127.0.0.1', 9012)", "('127.0.0.1', int(sys.argv[1]))"),
        (
            "for line in ['hello', '你好']:",
            "for line in sys.stdin.read().splitlines():",
        ),
        ("import socket,", "import os, sys, socket,"),
    ];
    let mut script = text.clone();
    for (from, to) in changed {
        assert!(
            script.contains(from),
            "walkthrough's 12 client lacks {from:?}"
        );
        script = script.replacen(from, to, 1);
    }
    copied_program(dir, "walkthrough_12_client.py", &script)
}

#[test]
fn auth_client_from_the_walkthrough_passes_the_checker_and_talks_to_the_server() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = walkthrough_auth_client(dir.path());
    let student = StudentClient::new(vec!["python3".into(), script.clone(), "{port}".into()])
        .unwrap()
        .in_dir(dir.path());
    assert_all_pass(&client_report(&check::auth::LESSON, &student, reference(3)));

    let key = dir.path().join("key");
    std::fs::write(&key, "correct horse\n").unwrap();
    let server = common::ServerProcess::start(
        env!("CARGO_BIN_EXE_12-auth"),
        &[
            "server",
            "--port",
            "0",
            "--key-file",
            &key.to_string_lossy(),
            "--echo",
        ],
    );
    let run = student.run_against(
        server.addr,
        "hello\n你好\n",
        &[("SOCKLAB_KEY", "correct horse")],
        common::WAIT,
    );
    assert_eq!(run.exit_code, Some(0), "{}", run.ending());
    assert_eq!(run.output(), "HELLO\n你好\n", "{}", run.ending());
}

#[test]
fn auth_client_tutorial_fails_on_a_cut_challenge_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = copied_program(dir.path(), "naive_12_client.py", NAIVE_AUTH_CLIENT);
    let naive = StudentClient::new(vec!["python3".into(), script])
        .unwrap()
        .in_dir(dir.path());
    fails_at_for_every_seed("challenge and replies in 1-byte writes", |options| {
        client_report(&check::auth::LESSON, &naive, options)
    });
}

// ---------------------------------------------------------------------------------------------
// 13: the file server. The tutorial's server never answers a put.

#[test]
fn upload_server_reference_passes() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = repo("tests/solutions/13_file_upload_server.py");
    let server = PythonServer::start(&[&script, "0", "uploads"], dir.path());
    for seed in [1, 2] {
        assert_all_pass(&server_report(
            &check::file_upload::LESSON,
            server.addr,
            reference(seed),
        ));
    }
    let stored: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(
        stored,
        vec![dir.path().join("uploads")],
        "nothing escaped the folder"
    );
}

#[test]
fn upload_server_tutorial_fails_without_a_reply_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The tutorial stores into file_upload/ next to itself and never creates it.
    std::fs::create_dir(dir.path().join("file_upload")).unwrap();
    let runner = repo("tests/tutorials/run.py");
    let program = repo("tests/tutorials/004_threaded_upload_server.py");
    let server = PythonServer::start(&[&runner, &program], dir.path());
    // It never answers, so each run waits for its first reply until the timeout: a short one.
    fails_at_for_every_seed("put and get a small file, whole writes", |options| {
        let options = Options {
            timeout: Duration::from_millis(500),
            ..options
        };
        server_report(&check::file_upload::LESSON, server.addr, options)
    });
}

// ---------------------------------------------------------------------------------------------
// 06: the UDP time server. The tutorial's server decodes every datagram without a `try`.

#[test]
fn udp_time_server_reference_passes() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = repo("tests/solutions/06_udp_time_server.py");
    let server = PythonServer::start(&[&script, "0"], dir.path());
    assert_all_pass(&server_report(
        &check::udp_time::LESSON,
        server.addr,
        reference(1),
    ));
}

#[test]
fn udp_time_server_tutorial_dies_on_bytes_that_are_not_utf8_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runner = repo("tests/tutorials/run.py");
    let program = repo("tests/tutorials/002_udp_time_server.py");
    // The datagram kills it, so every seed gets a server of its own, in a folder of its own
    // (run.py copies the program into its working folder).
    fails_at_for_every_seed("bytes that are not UTF-8 (b'\\xff'), then %Y", |options| {
        let own = tempfile::tempdir_in(dir.path()).unwrap();
        let server = PythonServer::start(&[&runner, &program], own.path());
        server_report(&check::udp_time::LESSON, server.addr, options)
    });
}

// ---------------------------------------------------------------------------------------------
// 11: the threaded echo server. Tutorial 000's socketserver example strips what it echoes.

#[test]
fn threaded_echo_server_reference_passes() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = repo("tests/solutions/11_threaded_echo_server.py");
    let server = PythonServer::start(&[&script, "0"], dir.path());
    for seed in [1, 2] {
        assert_all_pass(&server_report(
            &check::threaded_echo::LESSON,
            server.addr,
            reference(seed),
        ));
    }
}

#[test]
fn threaded_echo_server_tutorial_strips_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runner = repo("tests/tutorials/run.py");
    let program = repo("tests/tutorials/000_s2_socketserver_server.py");
    let server = PythonServer::start(&[&runner, &program], dir.path());
    fails_at_for_every_seed("spaces and a newline are echoed too", |options| {
        server_report(&check::threaded_echo::LESSON, server.addr, options)
    });
}

// ---------------------------------------------------------------------------------------------
// 03: the link-loop echo server. Tutorial 001's server answers data.upper() + b'sb'.

#[test]
fn link_loop_server_reference_passes() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = repo("tests/solutions/03_echo_reconnect_server.py");
    let server = PythonServer::start(&[&script, "0"], dir.path());
    assert_all_pass(&server_report(
        &check::threaded_echo::LINK_LOOP,
        server.addr,
        reference(1),
    ));
}

#[test]
fn link_loop_server_tutorial_adds_bytes_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let runner = repo("tests/tutorials/run.py");
    let program = repo("tests/tutorials/001_s5_3_link_loop_server.py");
    let server = PythonServer::start(&[&runner, &program], dir.path());
    // The first answer already holds the added b'sb' (it comes in the same segment).
    fails_at_for_every_seed("one message, one write", |options| {
        server_report(&check::threaded_echo::LINK_LOOP, server.addr, options)
    });
}

// ---------------------------------------------------------------------------------------------
// The command line: the report's lines, the exit status, --seed, --json.

#[test]
fn check_command_prints_one_line_per_point_and_a_total() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let script = repo("tests/solutions/09_sticky_server.py");
    let server = PythonServer::start(&[&script, "0"], dir.path());
    let addr = server.addr.to_string();
    let bin = env!("CARGO_BIN_EXE_09-sticky");

    // In a folder of its own: each check run writes the progress file there.
    let here = tempfile::tempdir().unwrap();
    let passed = common::run_in(
        bin,
        &["check", "server", &addr, "--seed", "7"],
        "",
        &[],
        Some(here.path()),
    );
    assert!(
        passed.status.success(),
        "{}{}",
        passed.stdout,
        passed.stderr
    );
    let lines: Vec<&str> = passed.stdout.lines().collect();
    assert!(
        lines.first().is_some_and(|l| l.contains("seed 7")),
        "{lines:?}"
    );
    assert_eq!(lines.last(), Some(&"7 passed, 0 failed"), "{lines:?}");
    let points = lines.get(1..lines.len() - 1).unwrap_or_default();
    assert_eq!(points.len(), 7);
    assert!(points.iter().all(|l| l.starts_with("PASS ")), "{points:?}");
    let progress = std::fs::read_to_string(here.path().join(".socklab-progress.json")).unwrap();
    let progress: serde_json::Value = serde_json::from_str(&progress).unwrap();
    assert_eq!(progress["exercises"]["09-sticky server"]["passed"], true);
    let listed = common::run_in(
        env!("CARGO_BIN_EXE_00-tour"),
        &["exercises"],
        "",
        &[],
        Some(here.path()),
    );
    assert!(listed.status.success(), "{}", listed.stderr);
    assert!(
        listed
            .stdout
            .contains("09  09-sticky server  [PASSED (7/7 points"),
        "{}",
        listed.stdout
    );
    assert!(listed
        .stdout
        .contains("solution:  tests/solutions/09_sticky_server.py"));
    assert!(listed
        .stdout
        .contains("09  09-sticky client  [not checked yet]"));

    // Nobody listening: said once, exit status 2, in text and in --json.
    let port = common::closed_port();
    let closed = format!("127.0.0.1:{port}");
    let nothing = common::run_in(
        bin,
        &["check", "--seed", "7", "server", &closed],
        "",
        &[],
        Some(here.path()),
    );
    assert_eq!(nothing.status.code(), Some(2), "{}", nothing.stdout);
    assert_eq!(
        nothing.stderr.trim(),
        format!("error: nothing listens on {closed}: start your server first")
    );
    assert!(!nothing.stdout.contains("FAIL"), "{}", nothing.stdout);
    let failed = common::run_in(
        bin,
        &["check", "--json", "--seed", "7", "server", &closed],
        "",
        &[],
        Some(here.path()),
    );
    assert_eq!(failed.status.code(), Some(2));
    assert!(failed.stderr.is_empty(), "{}", failed.stderr);
    let report: serde_json::Value = serde_json::from_str(&failed.stdout).expect("one JSON object");
    assert_eq!(report["seed"], 7);
    assert_eq!(report["status"], "error");
    assert!(report["message"]
        .as_str()
        .is_some_and(|e| e.contains("nothing listens")));

    // A side the lesson does not check is not offered.
    let help = common::run(env!("CARGO_BIN_EXE_01-echo-once"), &["check", "--help"], "");
    assert!(help.stdout.contains("client"), "{}", help.stdout);
    assert!(
        !help
            .stdout
            .lines()
            .any(|l| l.trim_start().starts_with("server")),
        "{}",
        help.stdout
    );
    let wrong = common::run(
        env!("CARGO_BIN_EXE_01-echo-once"),
        &["check", "server", &addr],
        "",
    );
    assert!(!wrong.status.success());
}

// ---------------------------------------------------------------------------------------------
// 04: the UDP echo client. The tutorials' clients call recvfrom with no timeout.

#[test]
fn udp_echo_client_reference_passes() {
    if !common::have_python() {
        return;
    }
    let student = solution_client("04_udp_echo_client.py", &[]);
    assert_all_pass(&client_report(
        &check::udp_echo::LESSON,
        &student,
        reference(1),
    ));
}

#[test]
fn udp_echo_client_tutorial_waits_for_ever_for_a_lost_datagram_for_every_seed() {
    if !common::have_python() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let naive = tutorial_client("001_s7_2_udp_echo_client.py", dir.path());
    // It fails by hanging until it is killed: a short time limit for the runs of that one point,
    // and more threads (each run has a checker server of its own).
    fails_at_for_every_seed_on(
        10,
        "the first datagram is lost: your client sends it again",
        |options| {
            let options = match options.only {
                Some(_) => Options {
                    timeout: Duration::from_millis(1500),
                    ..options
                },
                None => options,
            };
            client_report(&check::udp_echo::LESSON, &naive, options)
        },
    );
}
