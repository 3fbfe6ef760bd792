//! Lesson 12: validating a client with an HMAC challenge. See `socklab::lessons::auth` and
//! walkthrough.md.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::cli::{self, Endpoint};
use socklab::lessons::auth::{
    run_server, ClientConfig, Digest, Key, Replies, ServerConfig, Session,
};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;

/// Client validation (验证合法性): the server sends 32 random bytes, the client answers
/// HMAC(key, challenge); only a client that knows the key gets a (framed) conversation.
///
/// The key comes from --key-file PATH or the SOCKLAB_KEY environment variable, never from the
/// command line, where `ps` would show it to every user of the machine.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

/// Where the key comes from, and which HMAC.
#[derive(clap::Args)]
struct Secret {
    /// File holding the shared key (one trailing newline is ignored). Without it, the key is
    /// the value of the SOCKLAB_KEY environment variable.
    #[arg(long, value_name = "PATH")]
    key_file: Option<PathBuf>,
    /// The hash inside the HMAC; server and client must agree. md5 is what the tutorial's
    /// hmac.new(key, msg) used on Python 2.
    #[arg(long, value_enum, default_value_t = Digest::Sha256)]
    digest: Digest,
}

#[derive(Subcommand)]
enum Role {
    /// Challenge every client; converse only with those that answer right.
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9012>,
        #[command(flatten)]
        secret: Secret,
        /// Seconds a client has to answer the challenge (decimals allowed) before it is refused.
        #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = seconds)]
        auth_timeout: Duration,
        /// Answer every line upper-cased instead of asking you to type each reply.
        #[arg(long)]
        echo: bool,
        /// Print one line per send/recv call on stderr.
        #[arg(long)]
        trace: bool,
    },
    /// Answer the challenge, then send lines (the arguments, or typed at the prompt) and print
    /// the replies.
    Client {
        #[command(flatten)]
        endpoint: Endpoint<9012>,
        #[command(flatten)]
        secret: Secret,
        /// Seconds to wait for the challenge and for the welcome (decimals allowed).
        #[arg(long, value_name = "SECONDS", default_value = "10", value_parser = seconds)]
        timeout: Duration,
        /// Print one line per send/recv call on stderr.
        #[arg(long)]
        trace: bool,
        /// Messages to send, one frame each. Without them, lines are read from standard input
        /// (`quit` ends).
        messages: Vec<String>,
    },
}

/// Parses a number of seconds such as `5` or `0.3` (more than 0, at most an hour).
fn seconds(text: &str) -> Result<Duration, String> {
    let value: f64 = text
        .parse()
        .map_err(|_| format!("'{text}' is not a number of seconds"))?;
    if !(value > 0.0 && value <= 3600.0) {
        return Err("must be more than 0 and at most 3600 seconds".into());
    }
    Duration::try_from_secs_f64(value).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Server {
            endpoint,
            secret,
            auth_timeout,
            echo,
            trace,
        } => {
            let key = Key::load(secret.key_file.as_deref())?;
            let listener = net::listen_tcp(&endpoint.host, endpoint.port, &Default::default())?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            let replies = if echo {
                Replies::Echo
            } else {
                Replies::typed(BufReader::new(std::io::stdin()))
            };
            let config = ServerConfig {
                key,
                digest: secret.digest,
                auth_timeout,
                replies,
                trace: trace.then(Log::stderr),
            };
            run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            secret,
            timeout,
            trace,
            messages,
        } => {
            let config = ClientConfig {
                key: Key::load(secret.key_file.as_deref())?,
                digest: secret.digest,
                timeout,
                trace: trace.then(Log::stderr),
            };
            let mut session = Session::connect(&endpoint.host, endpoint.port, &config)?;
            eprintln!(
                "authenticated with {}; the conversation is framed",
                secret.digest.name()
            );
            for message in cli::messages(messages) {
                let reply = session.ask(message.as_bytes())?;
                println!("{}", String::from_utf8_lossy(&reply));
            }
            Ok(())
        }
    })
}
