//! Checkers of lessons 03 and 11: a student's echo server (every byte back, ASCII letters
//! upper-cased, as Python's `bytes.upper()`), serving clients one after another (03, the link
//! loop) or many at once (11, a thread per client).
//!
//! Every connection the checker makes is closed with a reset, except in the last point, so that a
//! server that spins on `b''` (lesson 02's bug) fails only that point.

use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::Duration;

use rand::rngs::StdRng;

use super::{
    close_with_reset, connect, describe_cut, extra_after, quoted, read_expecting, read_to_close,
    write_cut, Checker, Cut, Ending, Lesson, Verdict,
};

pub const LESSON: Lesson = Lesson {
    binary: "11-threaded-echo",
    server: Some(check_server),
    client: None,
};

/// Lesson 03: the same points but the one about two clients at once.
pub const LINK_LOOP: Lesson = Lesson {
    binary: "03-echo-reconnect",
    server: Some(check_link_loop_server),
    client: None,
};

fn check_server(checker: &mut Checker, addr: SocketAddr) {
    check_echo_server(
        checker,
        addr,
        "11-threaded-echo, \"What the tutorial gets wrong\"",
        true,
    );
}

fn check_link_loop_server(checker: &mut Checker, addr: SocketAddr) {
    check_echo_server(
        checker,
        addr,
        "03-echo-reconnect, \"What it teaches\"",
        false,
    );
}

/// The points; `concurrent` adds the one that needs a thread per client.
fn check_echo_server(checker: &mut Checker, addr: SocketAddr, hint: &str, concurrent: bool) {
    let timeout = checker.timeout();
    checker.point("one message, one write", hint, |rng| {
        echo(addr, b"hello", Cut::Whole, rng, timeout)
    });
    checker.point("a message in 1-byte writes", hint, |rng| {
        echo(addr, b"sticky-packets", Cut::OneByte, rng, timeout)
    });
    checker.point(
        "spaces and a newline are echoed too",
        "11-threaded-echo, \"What the tutorial gets wrong\" (.strip() loses them)",
        |rng| echo(addr, b"  two spaces, a newline\n", Cut::Whole, rng, timeout),
    );
    checker.point(
        "Chinese text and binary bytes, random pieces",
        hint,
        |rng| {
            let mut message = "你好, sticky 粘包 ".as_bytes().to_vec();
            message.extend(0..=255u8);
            echo(addr, &message, Cut::Random, rng, timeout)
        },
    );
    if concurrent {
        checker.point(
            "two clients at once: the second is answered while the first is silent",
            "11-threaded-echo, \"What it teaches\" (a thread per client)",
            |rng| {
                let silent = match connect(addr) {
                    Ok(conn) => conn,
                    Err(e) => return Verdict::fail("nothing", format!("could not connect: {e}")),
                };
                // Let the server accept the silent one first, as a sequential server would.
                std::thread::sleep(Duration::from_millis(100));
                let verdict = echo(addr, b"are you there?", Cut::Whole, rng, timeout);
                close_with_reset(silent);
                verdict
            },
        );
    }
    checker.point(
        "a client vanishes mid-message (reset), the next one is served",
        "02-echo-loop (a reset is one of the two ways a client goes)",
        |rng| {
            if let Ok(mut vanishing) = connect(addr) {
                let _ = write_cut(&mut vanishing, b"half a mess", Cut::Whole, rng);
                std::thread::sleep(Duration::from_millis(50));
                close_with_reset(vanishing);
            }
            echo(addr, b"next", Cut::Whole, rng, timeout)
        },
    );
    checker.point(
        "a client closes normally (FIN): your server closes its side",
        "02-echo-loop, \"What the tutorial gets wrong\" (if not data: break)",
        |rng| closes_after_fin(addr, rng, timeout),
    );
}

/// Sends `message` on a new connection, cut as `cut`; the same bytes upper-cased must come back.
fn echo(
    addr: SocketAddr,
    message: &[u8],
    cut: Cut,
    rng: &mut StdRng,
    timeout: Duration,
) -> Verdict {
    let mut conn = match connect(addr) {
        Ok(conn) => conn,
        Err(e) => return Verdict::fail(quoted(message), format!("could not connect: {e}")),
    };
    let verdict = echo_on(&mut conn, message, cut, rng, timeout);
    close_with_reset(conn);
    verdict
}

fn echo_on(
    conn: &mut TcpStream,
    message: &[u8],
    cut: Cut,
    rng: &mut StdRng,
    timeout: Duration,
) -> Verdict {
    let sent = match write_cut(conn, message, cut, rng) {
        Ok(writes) => describe_cut(message, writes),
        Err(e) => return Verdict::fail(quoted(message), super::could_not_send(&e)),
    };
    let expected = message.to_ascii_uppercase();
    let (got, ending) = read_expecting(conn, &expected, timeout);
    match ending {
        _ if got == expected => {
            let extra = extra_after(conn);
            if extra.is_empty() {
                Verdict::pass(sent, quoted(&got))
            } else {
                let mut whole = got.clone();
                whole.extend_from_slice(&extra);
                super::transcript::difference(&expected, &whole);
                Verdict::fail(
                    sent,
                    format!(
                        "{}, then {} more: the answer is the message upper-cased, nothing added",
                        quoted(&got),
                        quoted(&extra)
                    ),
                )
            }
        }
        Ending::Complete => {
            Verdict::fail(sent, format!("{}, not {}", quoted(&got), quoted(&expected)))
        }
        _ => Verdict::fail(
            sent,
            format!("{} ({ending}), not {}", quoted(&got), quoted(&expected)),
        ),
    }
}

/// After an echo, the checker says it is done (FIN); the server must close its side too.
fn closes_after_fin(addr: SocketAddr, rng: &mut StdRng, timeout: Duration) -> Verdict {
    let mut conn = match connect(addr) {
        Ok(conn) => conn,
        Err(e) => return Verdict::fail("nothing", format!("could not connect: {e}")),
    };
    let echoed = echo_on(&mut conn, b"bye", Cut::Whole, rng, timeout);
    if !echoed.passed {
        close_with_reset(conn);
        return echoed;
    }
    let sent = "'bye', then the end of the stream (shutdown SHUT_WR)";
    let _ = conn.shutdown(Shutdown::Write);
    let (extra, ending) = read_to_close(&conn, 4096, timeout);
    let verdict = match ending {
        Ending::Complete | Ending::Reset if extra.is_empty() => {
            Verdict::pass(sent, "'BYE', then your server closed")
        }
        Ending::TimedOut => Verdict::fail(
            sent,
            format!(
                "'BYE', then {} more and no close in time (is it spinning on b''?)",
                quoted(&extra)
            ),
        ),
        other => Verdict::fail(sent, format!("'BYE', then {} ({other})", quoted(&extra))),
    };
    close_with_reset(conn);
    verdict
}
