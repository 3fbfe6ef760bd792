//! Lesson 06: UDP time server. See `socklab::lessons::udp_time` and walkthrough.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::cli::{self, BufSize, Endpoint};
use socklab::lessons::udp_echo::UdpClient;
use socklab::lessons::udp_time::{ask, run_server, ServerConfig, ERROR_PREFIX};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;

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
        endpoint: Endpoint<9006>,
        /// Seconds to wait for each reply (UDP does not retransmit).
        #[arg(long, default_value_t = 2.0, value_parser = parse_seconds)]
        timeout: f64,
        /// strftime formats, one datagram each, e.g. '%H:%M:%S' or 'today is %A'.
        formats: Vec<String>,
    },
}

/// A positive number of seconds, at most an hour.
fn parse_seconds(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err("expected a number of seconds between 0 and 3600, such as 2 or 0.5".into()),
    }
}

fn main() -> ExitCode {
    let mut rejected = false;
    let code = cli::run(|| match Args::parse().role {
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
            let timeout = Duration::from_secs_f64(timeout);
            let client = UdpClient::new(&endpoint.host, endpoint.port, timeout)?;
            for format in cli::messages_keeping_empty(formats) {
                let reply = ask(&client, &format)?;
                if reply.starts_with(ERROR_PREFIX) {
                    // The server's own words, already one line starting with "error: ".
                    eprintln!("{reply}");
                    rejected = true;
                } else {
                    println!("{reply}");
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
