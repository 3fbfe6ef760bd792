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
pub mod standard_ftp;
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
        section: "01-echo-once: the one-shot echo",
        by_hand: &["01-echo-once server", "01-echo-once client hello world"],
        run: echo_once::tour,
    },
    Stop {
        number: "02",
        binary: "02-echo-loop",
        title: "communication loop: many messages, one client, end of stream vs reset",
        section: "02-echo-loop: the communication loop",
        by_hand: &[
            "02-echo-loop server",
            "02-echo-loop client   # type lines; quit ends",
        ],
        run: echo_loop::tour,
    },
    Stop {
        number: "03",
        binary: "03-echo-reconnect",
        title: "link loop: clients one after another; a reset does not stop the server; the phone call",
        section: "03-echo-reconnect: the link loop, the backlog, TIME_WAIT",
        by_hand: &[
            "03-echo-reconnect server",
            "03-echo-reconnect client   # type hi, then stay at the prompt",
            "03-echo-reconnect client second   # waits until terminal 2 quits",
        ],
        run: echo_reconnect::tour,
    },
    Stop {
        number: "04",
        binary: "04-udp-echo",
        title: "UDP echo: recv_from/send_to, one datagram per read, truncation",
        section: "04-udp-echo: datagrams",
        by_hand: &[
            "04-udp-echo server --bufsize 10",
            "04-udp-echo client hello \"a message of thirty bytes, ok.\"",
        ],
        run: udp_echo::tour,
    },
    Stop {
        number: "05",
        binary: "05-udp-chat",
        title: "UDP chat relay: remembered senders, nicknames, idle expiry",
        section: "05-udp-chat: a relay that remembers addresses",
        by_hand: &[
            "05-udp-chat server",
            "05-udp-chat client --nick ann   # type lines; quit leaves",
            "05-udp-chat client",
        ],
        run: udp_chat::tour,
    },
    Stop {
        number: "06",
        binary: "06-udp-time",
        title: "UDP time server: a request/response protocol, untrusted formats",
        section: "06-udp-time: a request/response protocol",
        by_hand: &[
            "06-udp-time server",
            "06-udp-time client \"\" \"%H:%M\" \"today is %A\" \"%Q\"",
        ],
        run: udp_time::tour,
    },
    Stop {
        number: "07",
        binary: "07-remote-cmd",
        title: "a naive remote shell: one recv per answer cuts it, the rest spills over",
        section: "07-remote-cmd: a remote shell whose answers stick",
        by_hand: &[
            "07-remote-cmd server",
            // cmd.exe has no `seq`; its `for /L` loop prints the same numbers.
            if cfg!(windows) {
                "07-remote-cmd client \"for /L %i in (1,1,5000) do @echo %i\" \"echo hi\""
            } else {
                "07-remote-cmd client \"seq 1 5000\" \"echo hi\""
            },
        ],
        run: remote_cmd::tour,
    },
    Stop {
        number: "08",
        binary: "08-remote-cmd-udp",
        title: "the remote shell over UDP: a short buffer loses the rest, nothing sticks",
        section: "08-remote-cmd-udp: the same shell over UDP",
        by_hand: &[
            "08-remote-cmd-udp server",
            if cfg!(windows) {
                "08-remote-cmd-udp client --bufsize 100 \"for /L %i in (1,1,5000) do @echo %i\" \"echo hi\""
            } else {
                "08-remote-cmd-udp client --bufsize 100 \"seq 1 5000\" \"echo hi\""
            },
        ],
        run: remote_cmd_udp::tour,
    },
    Stop {
        number: "09",
        binary: "09-sticky",
        title: "sticky packets (粘包): TCP merges and splits writes; frames do not care",
        section: "09-sticky: sticky packets, and a proxy that re-cuts streams",
        by_hand: &["09-sticky server", "09-sticky client hello world"],
        run: sticky::tour,
    },
    Stop {
        number: "10",
        binary: "10-remote-cmd-framed",
        title: "the remote shell with framed answers: size (sticks), ack, length header, JSON header",
        section: "10-remote-cmd-framed: the shell fixed with frames",
        by_hand: &[
            "10-remote-cmd-framed server",
            if cfg!(windows) {
                "10-remote-cmd-framed client \"for /L %i in (1,1,20000) do @echo %i\" \"echo next\""
            } else {
                "10-remote-cmd-framed client \"seq 1 200000\" \"echo next\""
            },
        ],
        run: remote_cmd_framed::tour,
    },
    Stop {
        number: "11",
        binary: "11-threaded-echo",
        title: "threaded echo (ThreadingTCPServer): many clients at once",
        section: "11-threaded-echo: a thread per client",
        by_hand: &[
            "11-threaded-echo server --max-clients 2",
            "11-threaded-echo client",
            "11-threaded-echo client   # answered at once, while terminal 2 is connected",
        ],
        run: threaded_echo::tour,
    },
    Stop {
        number: "12",
        binary: "12-auth",
        title: "validating a client (验证合法性): HMAC challenge, then a framed conversation",
        section: "12-auth: proving you hold the key",
        by_hand: &[
            "printf 'correct horse\\n' > key; 12-auth server --key-file key --echo",
            "SOCKLAB_KEY='correct horse' 12-auth client hello 你好",
        ],
        run: auth::tour,
    },
    Stop {
        number: "13",
        binary: "13-file-upload",
        title: "file upload/download: JSON header + exact body, safe names, atomic, md5-checked; older downloads",
        section: "13-file-upload: files with a JSON header",
        by_hand: &[
            "13-file-upload server",
            "echo hello > notes.txt; 13-file-upload client put notes.txt",
        ],
        run: file_upload::tour,
    },
    Stop {
        number: "14",
        binary: "14-ftp",
        title: "multi-user FTP: SCRAM login, home jail, quotas, resumable verified transfers",
        section: "14-ftp: the multi-user FTP homework",
        by_hand: &[
            "14-ftp adduser alice --quota 10MiB; 14-ftp server",
            "14-ftp client --user alice   # ftp> help",
        ],
        run: ftp::tour,
    },
    Stop {
        number: "15",
        binary: "15-ftp",
        title: "real FTP (RFC 959) on 14's accounts: control and data connections, PASV/EPSV, REST/APPE",
        section: "15-ftp: the homework server speaks real FTP",
        by_hand: &[
            "14-ftp adduser alice --quota 10MiB; 15-ftp server",
            "curl -v -u alice -T notes.txt ftp://127.0.0.1:9015/   # or Python's ftplib",
        ],
        run: standard_ftp::tour,
    },
];
