//! Lesson 03: link loop + communication loop. See `socklab::lessons::echo_reconnect` and
//! walkthrough.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::echo_loop::{any_reply_each, echo_each};
use socklab::lessons::echo_reconnect::{run_server, ServerConfig};
use socklab::lessons::phone_chat;
use socklab::log::Log;
use socklab::net::{self, ListenOptions};
use socklab::server::Shutdown;
use socklab::units;

/// TCP echo with a link loop: the server serves clients one after another, for ever, answering
/// every message upper-cased. Second stage (tutorial 002's "phone call"): `server --typed` and
/// `client --any-reply`, where the person at the server types the replies.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Check your own link-loop echo server: `check server 127.0.0.1:9003` (see walkthrough.md, 03).
    Check(check::CheckArgs<check::ServerOnly>),
    /// Serve clients one at a time, for ever (Ctrl-C stops it).
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9003>,
        #[command(flatten)]
        bufsize: BufSize,
        /// The listen() backlog: how many connections the kernel may hold, fully connected,
        /// waiting for the server to accept them (Linux holds one more than this). When the
        /// queue is full, Linux ignores new connection attempts and the clients retry; it does
        /// not refuse them.
        #[arg(long, default_value_t = 128, value_parser = clap::value_parser!(i32).range(0..=65535))]
        backlog: i32,
        /// Do not set SO_REUSEADDR (Python's default). A server restarted while connections of
        /// the previous one sit in TIME_WAIT then fails with "address already in use".
        #[arg(long)]
        no_reuseaddr: bool,
        /// The "phone call" (tutorial 002): instead of upper-casing, show each message and send
        /// back the line you type (empty lines are not sent). Clients need --any-reply.
        #[arg(long)]
        typed: bool,
    },
    /// Send each message (the arguments, or lines of stdin until `quit`) on one connection and
    /// print each reply on its own line.
    Client {
        #[command(flatten)]
        endpoint: Remote<9003>,
        /// How long to wait for each reply before giving up: seconds (2, 0.5) or 90s, 10m. A
        /// client waiting in the backlog is answered only when the clients before it have left.
        #[arg(long, default_value = "30", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// Print whatever one recv(1024) brings back instead of checking that it is the echo:
        /// for `server --typed` (the phone call) and servers whose replies are not the message
        /// upper-cased (tutorial 001's add b'sb').
        #[arg(long)]
        any_reply: bool,
        /// The messages to send, one per argument. None: read lines from stdin.
        messages: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Check(args) => check::run(&check::threaded_echo::LINK_LOOP, args),
        Role::Server {
            endpoint,
            bufsize,
            backlog,
            no_reuseaddr,
            typed,
        } => {
            let options = ListenOptions {
                backlog,
                reuse_address: !no_reuseaddr,
            };
            let listener = net::listen_tcp(&endpoint.host, endpoint.port, &options)?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            if typed {
                let mut typist = std::io::stdin().lock();
                phone_chat::run_server(
                    listener,
                    bufsize.get(),
                    &mut typist,
                    &log,
                    &Shutdown::new(),
                )?;
                return Ok(());
            }
            let config = ServerConfig {
                bufsize: bufsize.get(),
            };
            run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            timeout,
            any_reply,
            messages,
        } => {
            let messages = cli::messages(messages);
            let print = |reply: &[u8]| cli::print_line(String::from_utf8_lossy(reply));
            if any_reply {
                any_reply_each(&endpoint.host, endpoint.port, timeout, messages, print)
            } else {
                echo_each(&endpoint.host, endpoint.port, timeout, messages, print)
            }
        }
    })
}
