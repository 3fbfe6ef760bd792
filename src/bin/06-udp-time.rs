//! Lesson 06: UDP time server. See `socklab::lessons::udp_time` and walkthrough.md.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::udp_echo::UdpClient;
use socklab::lessons::udp_time::{ask, run_server, ServerConfig, ERROR_PREFIX};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::units;

/// UDP time server: send a strftime format (such as %H:%M), get the server's local time in that
/// format. An empty datagram gets %Y-%m-%d %H:%M:%S.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Check your own time server: `check server 127.0.0.1:9006` (see walkthrough.md, 06).
    Check(check::CheckArgs<check::ServerOnly>),
    /// Answer every datagram with the time, for ever (Ctrl-C stops it).
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9006>,
        #[command(flatten)]
        bufsize: BufSize,
    },
    /// Send each format (the arguments, or lines of stdin until `quit`; an empty line asks for
    /// the default format) and print each reply. Exits with status 1 if the server rejected a
    /// format.
    Client {
        #[command(flatten)]
        endpoint: Remote<9006>,
        /// How long to wait for each reply: seconds (2, 0.5) or 90s, 1m. UDP does not retransmit:
        /// if nothing comes back in time, the client says so and exits with status 1.
        #[arg(long, default_value = "2", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// strftime formats, one datagram each, e.g. '%H:%M:%S' or 'today is %A'.
        formats: Vec<String>,
    },
}

fn main() -> ExitCode {
    let mut rejected = false;
    let code = cli::run(|| match Args::parse().role {
        Role::Check(args) => check::run(&check::udp_time::LESSON, args),
        Role::Server { endpoint, bufsize } => {
            let socket = net::bind_udp(&endpoint.host, endpoint.port)?;
            let log = Log::stdout();
            net::announce_listening(socket.local_addr()?, &log);
            let config = ServerConfig {
                bufsize: bufsize.get(),
            };
            run_server(socket, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            timeout,
            formats,
        } => {
            let client = UdpClient::new(&endpoint.host, endpoint.port, timeout)?;
            for format in cli::messages_keeping_empty(formats) {
                let reply = ask(&client, &format)?;
                if reply.starts_with(ERROR_PREFIX) {
                    // The server's own words, already one line starting with "error: ".
                    let _ = writeln!(std::io::stderr().lock(), "{reply}");
                    rejected = true;
                } else {
                    cli::print_line(reply)?;
                }
            }
            Ok(())
        }
    });
    if rejected {
        ExitCode::FAILURE
    } else {
        code
    }
}
