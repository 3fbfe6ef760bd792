//! Lesson 03: link loop + communication loop. See `socklab::lessons::echo_reconnect` and
//! walkthrough.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::echo_loop::echo_each;
use socklab::lessons::echo_reconnect::{run_server, ServerConfig};
use socklab::log::Log;
use socklab::net::{self, ListenOptions};
use socklab::server::Shutdown;
use socklab::units;

/// TCP echo with a link loop: the server serves clients one after another, for ever, answering
/// every message upper-cased.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
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
        /// The messages to send, one per argument. None: read lines from stdin.
        messages: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Server {
            endpoint,
            bufsize,
            backlog,
            no_reuseaddr,
        } => {
            let options = ListenOptions {
                backlog,
                reuse_address: !no_reuseaddr,
            };
            let listener = net::listen_tcp(&endpoint.host, endpoint.port, &options)?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            let config = ServerConfig {
                bufsize: bufsize.get(),
            };
            run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            timeout,
            messages,
        } => {
            let messages = cli::messages(messages);
            echo_each(&endpoint.host, endpoint.port, timeout, messages, |reply| {
                cli::print_line(String::from_utf8_lossy(reply))
            })
        }
    })
}
