//! Lesson 05: UDP chat relay. See `socklab::lessons::udp_chat` and walkthrough.md.

use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::cli::{self, BufSize, Endpoint};
use socklab::lessons::udp_chat::{run_server, ChatClient, ServerConfig};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;

/// UDP chat: the server relays every message to everyone who has written to it, labelled with
/// the sender's address or nickname (/nick NAME).
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Relay messages between everyone who sends a datagram, for ever (Ctrl-C stops it).
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9005>,
        #[command(flatten)]
        bufsize: BufSize,
        /// Forget a client that has sent nothing for this many seconds.
        #[arg(long, default_value_t = 600, value_parser = clap::value_parser!(u64).range(1..=86_400))]
        idle: u64,
        /// Most clients remembered at once; a new one beyond that is told the chat is full.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        max_clients: u64,
    },
    /// Join the chat, print messages as they arrive, and send each message (the arguments, or
    /// lines of stdin until `quit`). Commands: /nick NAME, /leave.
    Client {
        #[command(flatten)]
        endpoint: Endpoint<9005>,
        /// Choose a nickname on joining (same as sending /nick NAME).
        #[arg(long)]
        nick: Option<String>,
        /// Seconds to wait for the server's welcome, and on leaving for the last messages.
        #[arg(long, default_value_t = 2.0, value_parser = parse_seconds)]
        timeout: f64,
        /// The messages to send, one datagram per argument. None: read lines from stdin.
        messages: Vec<String>,
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
    cli::run(|| match Args::parse().role {
        Role::Server {
            endpoint,
            bufsize,
            idle,
            max_clients,
        } => {
            let socket = net::bind_udp(&endpoint.host, endpoint.port)?;
            let log = Log::stdout();
            net::announce_listening(socket.local_addr()?, &log);
            let config = ServerConfig {
                bufsize: bufsize.get(),
                idle: Duration::from_secs(idle),
                max_clients: usize::try_from(max_clients)?,
            };
            run_server(socket, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            nick,
            timeout,
            messages,
        } => {
            let timeout = Duration::from_secs_f64(timeout);
            let client = ChatClient::join(&endpoint.host, endpoint.port, timeout, |data| {
                println!("{}", String::from_utf8_lossy(data));
            })?;
            if let Some(nick) = nick {
                client.say(format!("/nick {nick}").as_bytes())?;
            }
            for message in cli::messages(messages) {
                if message.trim_end() == "/leave" {
                    break;
                }
                client.say(message.as_bytes())?;
            }
            if !client.leave(timeout)? {
                anyhow::bail!(
                    "the server did not answer /leave within {} s",
                    timeout.as_secs_f32()
                );
            }
            Ok(())
        }
    })
}
