//! Lesson 12: validating a client with an HMAC challenge. See `socklab::lessons::auth` and
//! walkthrough.md.

use std::io::{BufReader, ErrorKind, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, Endpoint, Remote};
use socklab::lessons::auth::{
    run_server, ClientConfig, Digest, Key, Replies, ServerConfig, Session,
};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::trace::Tracer;
use socklab::units;

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
    /// socklab's extension, for both sides or neither: the server confirms a right answer with
    /// a `welcome` frame, so the client knows at once that it got in. Without it (tutorial 003's
    /// protocol) a refused client finds out when its first message meets a closed connection.
    #[arg(long)]
    welcome: bool,
}

#[derive(Subcommand)]
enum Role {
    /// Check your own client: `check client -- python3 client.py {port}` (see walkthrough.md, 12).
    Check {
        /// Check a client of the `--welcome` extension: the checker's server sends the
        /// `welcome` frame after a right answer. Without it, the tutorial's protocol (no frame).
        #[arg(long)]
        welcome: bool,
        #[command(flatten)]
        check: check::CheckArgs<check::ClientOnly>,
    },
    /// Challenge every client; converse only with those that answer right.
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9012>,
        #[command(flatten)]
        secret: Secret,
        /// How long a client has to answer the challenge before it is refused: seconds (5, 0.3)
        /// or with a unit (90s).
        #[arg(long, value_name = "DURATION", default_value = "5", value_parser = units::parse_timeout)]
        auth_timeout: Duration,
        /// Answer every line upper-cased instead of asking you to type each reply.
        #[arg(long)]
        echo: bool,
        /// Print one line per send/recv call on stderr.
        #[arg(long)]
        trace: bool,
        /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
        /// a connection closes). See walkthrough.md, "the wire as a picture".
        #[arg(long, value_name = "FILE.svg")]
        picture: Option<PathBuf>,
    },
    /// Answer the challenge, then send lines (the arguments, or typed at the prompt) and print
    /// the replies.
    Client {
        #[command(flatten)]
        endpoint: Remote<9012>,
        #[command(flatten)]
        secret: Secret,
        /// How long to wait for the server: the challenge, (with --welcome) the welcome, each
        /// reply (a person may be typing it), room to send: seconds (60, 0.5) or with a unit
        /// (90s, 10m).
        #[arg(long, value_name = "DURATION", default_value = "60", value_parser = units::parse_timeout)]
        timeout: Duration,
        /// Print one line per send/recv call on stderr.
        #[arg(long)]
        trace: bool,
        /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
        /// a connection closes). See walkthrough.md, "the wire as a picture".
        #[arg(long, value_name = "FILE.svg")]
        picture: Option<PathBuf>,
        /// Messages to send, one frame each. Without them, lines are read from standard input
        /// (`quit` ends).
        messages: Vec<String>,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Check {
            welcome: false,
            check,
        } => check::run(&check::auth::LESSON, check),
        Role::Check {
            welcome: true,
            check,
        } => check::run(&check::auth::WITH_WELCOME, check),
        Role::Server {
            endpoint,
            secret,
            auth_timeout,
            echo,
            trace,
            picture,
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
                welcome: secret.welcome,
                tracer: Tracer::for_cli("server", trace, picture),
            };
            run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            secret,
            timeout,
            trace,
            picture,
            messages,
        } => {
            let config = ClientConfig {
                key: Key::load(secret.key_file.as_deref())?,
                digest: secret.digest,
                timeout,
                welcome: secret.welcome,
                tracer: Tracer::for_cli("client", trace, picture),
            };
            let mut session = Session::connect(&endpoint.host, endpoint.port, &config)?;
            if secret.welcome {
                eprintln!(
                    "authenticated with {}; the conversation is framed",
                    secret.digest.name()
                );
            } else {
                eprintln!(
                    "answered the challenge with {}; a server that refuses us closes the \
                     connection, which shows on our first message",
                    secret.digest.name()
                );
            }
            let mut out = std::io::stdout();
            for message in cli::messages(messages) {
                let reply = session.ask(message.as_bytes())?;
                match writeln!(out, "{}", String::from_utf8_lossy(&reply)) {
                    // Our reader went away (`... | head`): no one is left to print for.
                    Err(e) if e.kind() == ErrorKind::BrokenPipe => break,
                    printed => printed?,
                }
            }
            Ok(())
        }
    })
}
