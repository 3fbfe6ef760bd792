//! The checkers are clients too, of a student's server that may be broken in any way (issue 15's
//! rule): against servers that flood, stall, reset and send terminal escapes, every server
//! checker ends within a bound of its `--timeout` per point, keeps its memory bounded, and shows
//! no raw escape byte in its lines or its `--json`.
//!
//! The hostile servers run in this process, on loopback port 0. The checkers get a short
//! `--timeout` so that the stalling server costs little.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use socklab::check::{self, ftp, Options, Report};

/// The `--timeout` the checkers get here.
const TIMEOUT: Duration = Duration::from_millis(300);

/// How a hostile server treats each connection.
#[derive(Clone, Copy, Debug)]
enum Hostile {
    /// Writes without end and never reads.
    Flood,
    /// Accepts, then neither reads nor writes nor closes.
    Stall,
    /// Accepts, then closes with a reset.
    Reset,
    /// Reads a little, answers terminal escapes and forged lines, then closes.
    Escapes,
}

const ESCAPES: &[u8] = b"\x1b]0;pwned\x07\x1b[2J\x1b[31mRED\r\nerror: forged line\n\x9b\xff";

/// A hostile server on a free port; stops (and drops its connections) when dropped.
struct Server {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
}

impl Server {
    fn start(how: Hostile) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        thread::spawn(move || {
            let mut held = Vec::new();
            while !stopping.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((conn, _)) => {
                        let _ = conn.set_nonblocking(false);
                        let stopping = Arc::clone(&stopping);
                        match how {
                            Hostile::Stall => held.push(conn),
                            _ => {
                                thread::spawn(move || serve(conn, how, &stopping));
                            }
                        }
                    }
                    Err(_) => thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Server { addr, stop }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

fn serve(mut conn: TcpStream, how: Hostile, stop: &AtomicBool) {
    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
    match how {
        Hostile::Flood => {
            let chunk = [b"\x1b[2J flood \xff\x00".as_slice(); 4096].concat();
            while !stop.load(Ordering::SeqCst) && conn.write_all(&chunk).is_ok() {}
        }
        Hostile::Reset => {
            let socket = socket2::Socket::from(conn);
            let _ = socket.set_linger(Some(Duration::ZERO));
        }
        Hostile::Escapes => {
            let _ = conn.set_read_timeout(Some(Duration::from_millis(100)));
            let mut buf = [0u8; 64];
            let _ = conn.read(&mut buf);
            let _ = conn.write_all(ESCAPES);
        }
        Hostile::Stall => {}
    }
}

/// Every server checker, run against `addr`.
fn every_server_check(addr: SocketAddr) -> Vec<Report> {
    let options = Options {
        timeout: TIMEOUT,
        ..Options::quiet(1)
    };
    let mut reports = Vec::new();
    for lesson in [
        &check::sticky::LESSON,
        &check::threaded_echo::LESSON,
        &check::threaded_echo::LINK_LOOP,
        &check::file_upload::LESSON,
    ] {
        reports.push(check::check_server(lesson, addr, &options).unwrap());
    }
    let account = ftp::Account {
        user: "alice".into(),
        password: "correct horse".into(),
    };
    reports.push(ftp::report(addr, &account, &options).unwrap());
    reports
}

/// Nothing in the report reaches a terminal raw: no ESC, no C1 control, no bare CR.
fn assert_escaped(report: &Report, how: Hostile) {
    let text: String = report.points.iter().map(|p| format!("{p}\n")).collect();
    let json = report.to_json().to_string();
    for shown in [&text, &json] {
        assert!(
            !shown
                .chars()
                .any(|c| c.is_control() && c != '\n' || ('\u{80}'..='\u{9f}').contains(&c)),
            "{how:?}, {}: a raw control character in\n{shown}",
            report.binary
        );
    }
}

fn check_against(how: Hostile) {
    let server = Server::start(how);
    let started = Instant::now();
    let reports = every_server_check(server.addr);
    let points: usize = reports.iter().map(|r| r.points.len()).sum();
    // Each point waits at most a few of its timeouts (a connect, a read, a second client); the
    // margin covers a loaded machine.
    let bound = TIMEOUT * 4 * points as u32 + Duration::from_secs(20);
    assert!(
        started.elapsed() < bound,
        "{how:?}: {points} points took {:?}",
        started.elapsed()
    );
    for report in &reports {
        assert!(
            report.failed() > 0,
            "{how:?}: {} passed everything",
            report.binary
        );
        assert!(report.error.is_none(), "{how:?}: {:?}", report.error);
        assert_escaped(report, how);
    }
}

#[test]
fn checkers_hold_against_a_server_that_stalls() {
    check_against(Hostile::Stall);
}

#[test]
fn checkers_hold_against_a_server_that_resets() {
    check_against(Hostile::Reset);
}

#[test]
fn checkers_show_no_raw_escape_from_a_server() {
    check_against(Hostile::Escapes);
}

/// The resident memory of this process, on Linux.
#[cfg(target_os = "linux")]
fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm
        .split_whitespace()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(0);
    pages * 4096
}

#[test]
fn checkers_hold_against_a_server_that_floods() {
    #[cfg(target_os = "linux")]
    let before = resident_bytes();
    check_against(Hostile::Flood);
    // The other tests of this file run at the same time, with little memory of their own; a
    // checker that kept what a flood sends would hold hundreds of MiB.
    #[cfg(target_os = "linux")]
    {
        let grown = resident_bytes().saturating_sub(before);
        assert!(grown < 128 << 20, "memory grew by {} MiB", grown >> 20);
    }
}
