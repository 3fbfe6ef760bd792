//! The lessons, one module each, in the order the tutorials teach them.
//!
//! Every lesson module has the same shape, so that once you have read one you can find your way
//! in all of them:
//!
//! - a doc comment: what the stage teaches and which tutorial it follows;
//! - `ServerConfig` / `ClientConfig`: plain structs the binary fills from its flags (tests and
//!   the tour fill them directly);
//! - `run_server(listener_or_socket, &config, &log, &shutdown)`: the server loop; it never prints
//!   by itself, it says what happens through the [`Log`](crate::log::Log) it is given, and it
//!   returns when its work is done or the [`Shutdown`](crate::server::Shutdown) is requested;
//! - `run_client(...)` or smaller client functions that return what came back, so the binary
//!   prints it and a test can check it;
//! - an error enum (`thiserror`) for what can go wrong;
//! - `tour(&mut Tour)`: the lesson's stage in `00-tour`.
//!
//! The binary `src/bin/NN-name.rs` only parses flags and calls these.

pub mod auth;
pub mod echo_loop;
pub mod echo_once;
pub mod echo_reconnect;
pub mod file_upload;
pub mod ftp;
pub mod greeting;
pub mod phone_chat;
pub mod remote_cmd;
pub mod remote_cmd_framed;
pub mod remote_cmd_udp;
pub mod sticky;
pub mod threaded_echo;
pub mod udp_chat;
pub mod udp_echo;
pub mod udp_time;

use crate::tour::Stop;

/// Every lesson in the tour, in order.
pub const TOUR: &[Stop] = &[
    Stop {
        number: "01",
        binary: "01-echo-once",
        title: "one-shot TCP echo: socket, bind, listen, accept, recv, send; a server that speaks first",
        run: echo_once::tour,
    },
    Stop {
        number: "02",
        binary: "02-echo-loop",
        title: "communication loop: many messages, one client, end of stream vs reset",
        run: echo_loop::tour,
    },
    Stop {
        number: "03",
        binary: "03-echo-reconnect",
        title: "link loop: clients one after another; a reset does not stop the server; the phone call",
        run: echo_reconnect::tour,
    },
    Stop {
        number: "04",
        binary: "04-udp-echo",
        title: "UDP echo: recv_from/send_to, one datagram per read, truncation",
        run: udp_echo::tour,
    },
    Stop {
        number: "05",
        binary: "05-udp-chat",
        title: "UDP chat relay: remembered senders, nicknames, idle expiry",
        run: udp_chat::tour,
    },
    Stop {
        number: "06",
        binary: "06-udp-time",
        title: "UDP time server: a request/response protocol, untrusted formats",
        run: udp_time::tour,
    },
    Stop {
        number: "07",
        binary: "07-remote-cmd",
        title: "a naive remote shell: one recv per answer cuts it, the rest spills over",
        run: remote_cmd::tour,
    },
    Stop {
        number: "08",
        binary: "08-remote-cmd-udp",
        title: "the remote shell over UDP: a short buffer loses the rest, nothing sticks",
        run: remote_cmd_udp::tour,
    },
    Stop {
        number: "09",
        binary: "09-sticky",
        title: "sticky packets (粘包): TCP merges and splits writes; frames do not care",
        run: sticky::tour,
    },
    Stop {
        number: "10",
        binary: "10-remote-cmd-framed",
        title: "the remote shell with framed answers: size (sticks), ack, length header, JSON header",
        run: remote_cmd_framed::tour,
    },
    Stop {
        number: "11",
        binary: "11-threaded-echo",
        title: "threaded echo (ThreadingTCPServer): many clients at once",
        run: threaded_echo::tour,
    },
    Stop {
        number: "12",
        binary: "12-auth",
        title: "validating a client (验证合法性): HMAC challenge, then a framed conversation",
        run: auth::tour,
    },
    Stop {
        number: "13",
        binary: "13-file-upload",
        title: "file upload/download: JSON header + exact body, safe names, atomic, md5-checked; older downloads",
        run: file_upload::tour,
    },
    Stop {
        number: "14",
        binary: "14-ftp",
        title: "multi-user FTP: SCRAM login, home jail, quotas, resumable verified transfers",
        run: ftp::tour,
    },
];
