//! Lesson 05: UDP chat relay. See `socklab::lessons::udp_chat` and walkthrough.md.

use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::escape::escape_bytes;
use socklab::lessons::udp_chat::{run_server, ChatClient, ServerConfig};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::units;

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
        /// Forget a client that has sent nothing for this long: seconds (600) or 90s, 10m, 1h.
        #[arg(long, default_value = "600", value_parser = units::parse_timeout)]
        idle: Duration,
        /// Most clients remembered at once; a new one beyond that is told the chat is full.
        #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=100_000))]
        max_clients: u64,
    },
    /// Join the chat, print messages as they arrive, and send each message (the arguments, or
    /// lines of stdin until `quit`). Commands: /nick NAME, /leave.
    Client {
        #[command(flatten)]
        endpoint: Remote<9005>,
        /// Choose a nickname on joining (same as sending /nick NAME).
        #[arg(long)]
        nick: Option<String>,
        /// How long to wait for the server's welcome, and on leaving for its `* bye`: seconds
        /// (2, 0.5) or 90s, 1m.
        #[arg(long, default_value = "2", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// The messages to send, one datagram per argument. None: read lines from stdin.
        messages: Vec<String>,
    },
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
                idle,
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
            // Messages are printed by the receiving thread. Other people's text is escaped
            // (`\n`, `\x1b`): raw, a message could fake a line from the server or send escape
            // codes to our terminal. If our stdout is closed (`| head`), the thread raises this
            // flag and the main thread stops sending.
            let stdout_closed = Arc::new(AtomicBool::new(false));
            let flag = Arc::clone(&stdout_closed);
            let client = ChatClient::join(&endpoint.host, endpoint.port, timeout, move |data| {
                // Drawn above a fresh `>>: ` prompt when someone is typing at one.
                if cli::print_line_at_prompt(escape_bytes(data)).is_err() {
                    flag.store(true, Ordering::Relaxed);
                }
            })?;
            if let Some(nick) = nick {
                client.say(format!("/nick {nick}").as_bytes())?;
            }
            for message in cli::messages(messages) {
                if message.trim_end() == "/leave" || stdout_closed.load(Ordering::Relaxed) {
                    break;
                }
                client.say(message.as_bytes())?;
            }
            let socklab_server = client.is_socklab_server();
            let said_bye = client.leave(timeout)?;
            if stdout_closed.load(Ordering::Relaxed) {
                return Err(cli::StdoutClosed.into());
            }
            if !socklab_server {
                eprintln!(
                    "note: the server did not answer our joining with '* welcome', so it is not \
                     socklab's (a tutorial's chat server?) and knows no /leave: stopped \
                     listening after {} s",
                    timeout.as_secs_f32()
                );
            } else if !said_bye {
                anyhow::bail!(
                    "the server did not answer /leave within {} s",
                    timeout.as_secs_f32()
                );
            }
            Ok(())
        }
    })
}
