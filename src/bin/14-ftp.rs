//! Lesson 14: the multi-user FTP. See `socklab::lessons::ftp` and walkthrough.md.

use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Args, Parser, Subcommand};
use socklab::cli;
use socklab::lessons::ftp::admin;
use socklab::lessons::ftp::scram::DEFAULT_ITERATIONS;
use socklab::lessons::ftp::users::{format_size, parse_size, users_file, UserStore};

/// A multi-user FTP: accounts with SCRAM-style login, a home and a quota per user.
///
/// Create users with `adduser` first (no server needed), then run the server and log in with the
/// client.
#[derive(Parser)]
#[command(version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// One variant per subcommand; each has its own argument struct and its own function below.
#[derive(Subcommand)]
enum Command {
    /// Create a user, or update its password and quota; creates its home ROOT/home/NAME.
    Adduser(AdduserArgs),
    /// Delete a user's account. Its home and files are kept: remove ROOT/home/NAME yourself.
    Deluser(DeluserArgs),
    /// List users with their quota and the space they use.
    Users(UsersArgs),
}

/// `--root`, shared by every subcommand.
#[derive(Args, Debug, Clone)]
struct Root {
    /// The server's folder: users in ROOT/users.json, homes in ROOT/home/NAME.
    #[arg(long, default_value = "./ftp-root")]
    root: PathBuf,
}

#[derive(Args)]
struct AdduserArgs {
    /// User name: 1 to 32 letters, digits, '_', '.' or '-', not starting with '.' or '-'.
    name: String,
    #[command(flatten)]
    root: Root,
    /// Most bytes the user may store: 512K, 10MiB, 2G, 1.5G or plain bytes (K/M/G/T are
    /// binary: K = KB = KiB = 1024).
    #[arg(long, value_parser = parse_quota)]
    quota: u64,
    /// PBKDF2 iterations: each password guess costs this many HMACs. Keep the default for real
    /// accounts; a low value (e.g. 1000) makes tests fast.
    #[arg(long, default_value_t = DEFAULT_ITERATIONS)]
    iterations: u32,
    /// Read the password from the first line of stdin instead of asking for it (for scripts).
    #[arg(long)]
    password_stdin: bool,
}

#[derive(Args)]
struct DeluserArgs {
    /// The user to delete.
    name: String,
    #[command(flatten)]
    root: Root,
}

#[derive(Args)]
struct UsersArgs {
    #[command(flatten)]
    root: Root,
}

fn main() -> ExitCode {
    cli::run(|| match Cli::parse().command {
        Command::Adduser(args) => adduser(args),
        Command::Deluser(args) => deluser(args),
        Command::Users(args) => users(args),
    })
}

fn parse_quota(text: &str) -> Result<u64, String> {
    parse_size(text).map_err(|e| e.to_string())
}

fn adduser(args: AdduserArgs) -> anyhow::Result<()> {
    let root = &args.root.root;
    let existed = UserStore::load(root)?.user(&args.name).is_some();
    let password = read_password(&args.name, args.password_stdin)?;
    if args.iterations < 100_000 {
        eprintln!(
            "warning: {} iterations is far below the default {DEFAULT_ITERATIONS}: \
             fine for tests, weak for real passwords",
            args.iterations
        );
    }
    admin::add_user(root, &args.name, &password, args.quota, args.iterations)?;
    println!(
        "{} user {} (quota {}, {} iterations) in {}",
        if existed { "updated" } else { "created" },
        args.name,
        format_size(args.quota),
        args.iterations,
        users_file(root).display()
    );
    Ok(())
}

fn deluser(args: DeluserArgs) -> anyhow::Result<()> {
    let root = &args.root.root;
    admin::delete_user(root, &args.name)?;
    println!(
        "deleted user {}; its files are kept in {}",
        args.name,
        socklab::lessons::ftp::users::home_dir(root, &args.name).display()
    );
    Ok(())
}

fn users(args: UsersArgs) -> anyhow::Result<()> {
    let root = &args.root.root;
    let users = admin::list_users(root)?;
    if users.is_empty() {
        println!(
            "no users in {} (add one with `14-ftp adduser NAME --quota SIZE`)",
            users_file(root).display()
        );
        return Ok(());
    }
    let width = users.iter().map(|u| u.name.len()).max().unwrap_or(0).max(4);
    println!("{:<width$}  {:>22}  {:>22}", "USER", "QUOTA", "USED");
    for user in users {
        println!(
            "{:<width$}  {:>22}  {:>22}",
            user.name,
            format!("{} ({})", format_size(user.quota), user.quota),
            format!("{} ({})", format_size(user.used), user.used),
        );
    }
    Ok(())
}

/// Longest password line read from stdin.
const MAX_PASSWORD: u64 = 4096;

/// The password: the first line of stdin with `--password-stdin`, otherwise typed twice at the
/// terminal without echo.
fn read_password(name: &str, from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .take(MAX_PASSWORD + 1)
            .read_line(&mut line)
            .context("cannot read the password from stdin")?;
        if line.len() as u64 > MAX_PASSWORD {
            bail!("the password line is longer than {MAX_PASSWORD} bytes");
        }
        let password = line.trim_end_matches(['\r', '\n']).to_string();
        if password.is_empty() {
            bail!("no password on stdin (give it as the first line)");
        }
        return Ok(password);
    }
    if !std::io::stdin().is_terminal() {
        bail!("stdin is not a terminal: use --password-stdin to read the password from it");
    }
    let first = rpassword::prompt_password(format!("password for {name}: "))
        .context("cannot read the password")?;
    let second =
        rpassword::prompt_password("again, to confirm: ").context("cannot read the password")?;
    if first != second {
        bail!("the two passwords differ; nothing changed");
    }
    if first.is_empty() {
        bail!("the password is empty; nothing changed");
    }
    Ok(first)
}
