//! Lesson 09: sticky packets (粘包). See `socklab::lessons::sticky` and walkthrough.md.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use socklab::check;
use socklab::cli::{self, BufSize, Endpoint, Remote};
use socklab::lessons::sticky::client::{self, ClientConfig, SenderMode};
use socklab::lessons::sticky::proxy::{self, ProxyConfig, Rechunking, Split, Upstream};
use socklab::lessons::sticky::server::{self, ServerConfig};
use socklab::lessons::sticky::{demo, describe_message, ReceiverMode};
use socklab::log::Log;
use socklab::net;
use socklab::server::Shutdown;
use socklab::trace::Tracer;

/// Sticky packets (粘包): watch TCP merge and split messages, and framing put them back.
///
/// Run a server (naive or framed), send it messages with the client, and compare what was sent
/// with what the server believes it received. Put the proxy in between to cut the stream into
/// other pieces. `demo` shows everything at once.
#[derive(Parser)]
#[command(version)]
struct Args {
    #[command(subcommand)]
    role: Role,
}

#[derive(Subcommand)]
enum Role {
    /// Check your own framed server (`check server 127.0.0.1:9009`) or framed client
    /// (`check client -- python3 client.py {port}`); see walkthrough.md, 09.
    Check(check::CheckArgs),
    /// Receive messages; print one line per message the server believes it received,
    /// `#N LEN bytes: TEXT` (N counts from 1 on each connection).
    Server {
        #[command(flatten)]
        endpoint: Endpoint<9009>,
        #[command(flatten)]
        bufsize: BufSize,
        /// naive: every recv(bufsize) is taken as one message. framed: every message is a 4-byte
        /// little-endian length and then that many bytes.
        #[arg(long, value_enum, default_value_t = ReceiverMode::Naive)]
        mode: ReceiverMode,
        /// Pause this long before each read (naive) or each frame (framed), as the tutorials'
        /// time.sleep did, so that writes made back to back have all arrived and the merge shows
        /// every time. 0 shows how much it depends on timing.
        #[arg(long, value_name = "MS", default_value_t = 200,
              value_parser = clap::value_parser!(u64).range(0..=60_000))]
        read_delay: u64,
        /// Print one line per recv call on stderr: byte count and the bytes.
        #[arg(long)]
        trace: bool,
        /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
        /// a connection closes). See walkthrough.md, "the wire as a picture".
        #[arg(long, value_name = "FILE.svg")]
        picture: Option<PathBuf>,
    },
    /// Send messages, each with its own write call, back to back.
    Client {
        #[command(flatten)]
        endpoint: Remote<9009>,
        /// naive: raw bytes. sleep: raw bytes with --pause between writes (the tutorials' first
        /// "fix"). framed: each message as a 4-byte length and the bytes.
        #[arg(long, value_enum, default_value_t = SenderMode::Naive)]
        mode: SenderMode,
        /// When no MESSAGE is given: send this many generated messages, `message 1`,
        /// `message 2`, ...
        #[arg(long, default_value_t = 2, conflicts_with = "messages",
              value_parser = clap::value_parser!(u32).range(1..=10_000))]
        count: u32,
        /// When no MESSAGE is given: make each generated message exactly this many bytes
        /// (padded with abc...z). Try 5000 against a server with the default --bufsize 1024.
        #[arg(long, value_name = "BYTES", conflicts_with = "messages",
              value_parser = clap::value_parser!(u32).range(1..=1_048_576))]
        size: Option<u32>,
        /// Pause between writes in sleep mode. The "fix" holds only while this is longer than the
        /// server's --read-delay.
        #[arg(long, value_name = "MS", default_value_t = 500,
              value_parser = clap::value_parser!(u64).range(0..=60_000))]
        pause: u64,
        /// Turn off Nagle's algorithm (TCP_NODELAY), which may hold a small write back and send
        /// it together with the next one.
        #[arg(long)]
        nodelay: bool,
        /// How long a send may wait for the server to take more bytes (a server that reads
        /// nothing): seconds, or 30s, 5m.
        #[arg(long, default_value = "30", value_parser = socklab::units::parse_timeout)]
        timeout: Duration,
        /// Print one line per send call on stderr.
        #[arg(long)]
        trace: bool,
        /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
        /// a connection closes). See walkthrough.md, "the wire as a picture".
        #[arg(long, value_name = "FILE.svg")]
        picture: Option<PathBuf>,
        /// The messages, each sent with its own write call.
        messages: Vec<String>,
    },
    /// Forward a TCP byte stream unchanged, in both directions, but cut into other pieces.
    /// Prints `listening on IP:PORT` first.
    Proxy {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1")]
        host: String,
        /// Port to listen on (0 lets the operating system choose).
        #[arg(long, value_name = "PORT")]
        listen: u16,
        /// The real server to forward to.
        #[arg(long, value_name = "HOST:PORT", value_parser = Upstream::parse)]
        upstream: Upstream,
        /// Forward at most N bytes per write, or a random number between MIN and MAX for every
        /// write (see --seed). Without it, each read is forwarded whole.
        #[arg(long, value_name = "N|MIN-MAX", value_parser = Split::parse)]
        split: Option<Split>,
        /// Seed for --split MIN-MAX: the same seed cuts the same stream at the same places.
        /// Without it a seed is chosen and printed, so a run can be replayed.
        #[arg(long, value_name = "S", requires = "split")]
        seed: Option<u64>,
        /// Pause this long after every write.
        #[arg(long, value_name = "MS", default_value_t = 0,
              value_parser = clap::value_parser!(u64).range(0..=60_000))]
        delay: u64,
        /// Merge instead of split: after the first byte arrives, keep gathering for this long
        /// (or until 1 MiB), then forward everything in one write.
        #[arg(long, value_name = "MS", conflicts_with = "split",
              value_parser = clap::value_parser!(u64).range(1..=60_000))]
        coalesce: Option<u64>,
        /// Print one line per recv/send call on stderr, for both sockets of every connection.
        #[arg(long)]
        trace: bool,
        /// Also draw every send and recv as an SVG timeline into FILE.svg (rewritten each time
        /// a connection closes). See walkthrough.md, "the wire as a picture".
        #[arg(long, value_name = "FILE.svg")]
        picture: Option<PathBuf>,
    },
    /// Run the three scenarios (merge, split, split by the proxy) in-process with a naive and a
    /// framed receiver, and print them side by side. Exits non-zero if one does not show what it
    /// should.
    Demo {
        /// Also draw each scenario as a picture, DIR/09-sticky-SCENARIO.svg: every send and recv
        /// of the naive and the framed run side by side.
        #[arg(long, value_name = "DIR")]
        pictures: Option<PathBuf>,
    },
}

fn main() -> ExitCode {
    cli::run(|| match Args::parse().role {
        Role::Check(args) => check::run(&check::sticky::LESSON, args),
        Role::Server {
            endpoint,
            bufsize,
            mode,
            read_delay,
            trace,
            picture,
        } => {
            let listener = net::listen_tcp(&endpoint.host, endpoint.port, &Default::default())?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            let config = ServerConfig {
                mode,
                read_delay: Duration::from_millis(read_delay),
                bufsize: bufsize.get(),
                tracer: Tracer::for_cli("server", trace, picture),
            };
            server::run_server(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Client {
            endpoint,
            mode,
            count,
            size,
            pause,
            nodelay,
            timeout,
            trace,
            picture,
            messages,
        } => {
            let messages: Vec<Vec<u8>> = if messages.is_empty() {
                client::generated_messages(count as usize, size.map(|s| s as usize))
            } else {
                messages.into_iter().map(String::into_bytes).collect()
            };
            let config = ClientConfig {
                mode,
                pause: Duration::from_millis(pause),
                nodelay,
                timeout,
                tracer: Tracer::for_cli("client", trace, picture),
            };
            client::run_client(&endpoint.host, endpoint.port, &messages, &config)?;
            // `writeln!`, not `println!`, which panics when the reader (`| head`) has gone.
            let mut out = std::io::stdout();
            for (number, message) in (1..).zip(&messages) {
                let _ = writeln!(out, "sent {}", describe_message(number, message));
            }
            Ok(())
        }
        Role::Proxy {
            host,
            listen,
            upstream,
            split,
            seed,
            delay,
            coalesce,
            trace,
            picture,
        } => {
            let random_split = matches!(split, Some(Split::Range { .. }));
            if seed.is_some() && !random_split {
                anyhow::bail!("--seed only matters with --split MIN-MAX");
            }
            let seed = seed.unwrap_or_else(|| u64::from(rand::random::<u32>()));
            let listener = net::listen_tcp(&host, listen, &Default::default())?;
            let log = Log::stdout();
            net::announce_listening(listener.local_addr()?, &log);
            if random_split {
                log.line(format!("seed {seed} (replay with --seed {seed})"));
            }
            let config = ProxyConfig {
                upstream,
                rechunking: Rechunking {
                    split,
                    seed,
                    delay: Duration::from_millis(delay),
                    coalesce: coalesce.map(Duration::from_millis),
                },
                tracer: Tracer::for_cli("proxy", trace, picture),
            };
            if let (true, Some(recorder)) = (random_split, config.tracer.recorder()) {
                recorder.add_to_caption(&format!("seed {seed}"));
            }
            proxy::run_proxy(listener, &config, &log, &Shutdown::new())?;
            Ok(())
        }
        Role::Demo { pictures } => {
            let outcomes = demo::run_demo()?;
            let mut out = std::io::stdout();
            let _ = writeln!(out, "{}", demo::table(&outcomes));
            if let Some(dir) = pictures {
                for file in demo::write_pictures(&outcomes, &dir)? {
                    let _ = writeln!(out, "wrote {}", file.display());
                }
            }
            for outcome in &outcomes {
                outcome.check()?;
            }
            let _ = writeln!(
                out,
                "Every scenario showed what it should: the naive receiver's messages are not the \
                 ones sent; the framed receiver's are."
            );
            Ok(())
        }
    })
}
