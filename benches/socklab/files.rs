//! Big files: 14-ftp put and get (verified with MD5, durable) against the limit of a verified,
//! durable transfer on this machine, and 13-file-upload put and get against the tutorial's
//! Python client and server.
//!
//! ## What is measured: the whole command, as a user runs it
//!
//! Every transfer is one whole process, timed from start to exit: `14-ftp client ... -c "get
//! NAME LOCAL"` with its login, the transfer, and the final `fsync` and rename that make the file
//! durable under its name. A get writes a fresh file each run (removed afterwards, untimed).
//! Put and get run in both orders (put first on even runs, get first on odd ones).
//!
//! ## The limit: the slower of MD5 and the disk
//!
//! A verified, durable transfer cannot beat either of two things on the machine it runs on: one
//! core's MD5 (`md5sum` of the file, which is in the page cache) and the disk's durable-write
//! speed (`dd bs=1M conv=fsync` of a file of the same size). The slower of the two, run by run,
//! is the reference of the 14 rows: a ratio of 1.00x is a transfer that costs nothing beyond
//! what it cannot avoid.
//!
//! ## Why an earlier version of this benchmark and a whole-command harness disagreed (issue 19)
//!
//! They measured different work, not different speeds of socklab:
//!
//! - **Dirty pages left by another variant.** The tutorial's Python programs (13's reference)
//!   write without `fsync`: a 1 GiB upload leaves 1 GiB of dirty pages, which the kernel writes
//!   back later (after `vm.dirty_expire_centisecs`, 30 s), in the middle of whatever is measured
//!   then: often the next run's 14 put, whose own `fsync` then waits behind them (put 275-430
//!   MB/s in the same table). Now every timed command starts after a `sync` (untimed), so each
//!   pays for its own durability and nobody else's.
//! - **A second pass on the server.** A file the 14 server did not receive itself (copied into
//!   its root, as the outside harness did) has no recorded MD5, so the first get of it hashes the
//!   whole file before sending a byte: two passes, about 1.8 s more per GiB at 600 MB/s, which is
//!   just the gap between 493 and 273 MB/s. The row "14-ftp get, file copied in" measures that
//!   case (a fresh copy each run); the server now hashes such a file while sending it and sends
//!   the MD5 after the body, to a client that accepts a trailer.
//! - **The final flush of a get.** The 14 client used to write the whole download into the page
//!   cache and `fsync` it at the end: a transfer at MD5 speed, then a flush at disk speed, one
//!   after the other. On a machine whose disk is fast, or whose temporary folder is in memory,
//!   the flush is nearly free; on one whose disk is the slower limit, it is most of the time.
//!   The client now starts writeback every 8 MiB while the bytes arrive, as the server's put
//!   does (`transfer::Writeback`), so the disk works during the transfer.
//!
//! What is left is the CPU. A get of a file the server recorded is hashed once, by the client;
//! a put, and a get of a copied-in file, twice, by both sides at the same time. With client and
//! server on one 2-core machine, those two passes and the copies through the socket and to the
//! file share two cores, so these transfers stay below one `md5sum` however well they overlap.
//!
//! The same script outside the project (`benches/outside/files.py`) times the same commands the
//! same way; the two should now agree within the spread of their runs.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use md5::{Digest, Md5};

use crate::procs::{lesson, time_command, Server};
use crate::table::{Row, Samples, Table};
use crate::{Group, Options};

const PYTHON_SERVER: &str = include_str!("python/upload_server.py");
const PYTHON_CLIENT: &str = include_str!("python/upload_client.py");

/// No transfer of the benchmark's files takes longer than this on a working machine.
const LIMIT: Duration = Duration::from_secs(600);

const PASSWORD: &str = "bench-password";

#[derive(Default)]
struct Results {
    md5sum: Samples,
    md5_crate: Samples,
    durable_write: Samples,
    /// Run by run, the slower of `md5sum` and the durable write.
    limit: Samples,
    ftp_put: Samples,
    ftp_get: Samples,
    ftp_get_copied: Samples,
    upload_put: Samples,
    upload_get: Samples,
    python_put: Samples,
    python_get: Samples,
}

pub fn rows(
    options: &Options,
    python: Option<&Path>,
    dir: &Path,
    table: &mut Table,
) -> anyhow::Result<()> {
    let size = options.file_size();
    println!(
        "files of {} MiB: generating, then reading once so that every variant finds it in the \
         page cache; every timed command starts after a sync",
        size >> 20
    );
    let source = dir.join("big.bin");
    generate(&source, size)?;
    let downloads = dir.join("downloads");
    std::fs::create_dir_all(&downloads)?;
    let mb_per_s = |took: Duration| size as f64 / took.as_secs_f64() / 1e6;

    let ftp = options
        .wants(Group::Ftp)
        .then(|| start_ftp(dir, size))
        .transpose()?;
    let upload = options
        .wants(Group::Upload)
        .then(|| start_upload(dir))
        .transpose()?;
    let python_server = match (options.wants(Group::Upload), python) {
        (true, Some(python)) => Some(start_python(python, dir)?),
        _ => None,
    };

    let mut r = Results::default();
    for run in 0..options.runs() {
        // The limits every verified, durable transfer (13 and 14) is measured against.
        r.md5_crate
            .push(mb_per_s(settled(|| hash_with_crate(&source))?));
        let mut md5sum = Command::new("md5sum");
        md5sum.arg(&source);
        let md5sum = mb_per_s(settled(|| time_command(md5sum, None, LIMIT))?);
        let dd_out = downloads.join(format!("dd-{run}.bin"));
        let durable = mb_per_s(settled(|| durable_write(&source, &dd_out))?);
        std::fs::remove_file(&dd_out)?;
        r.md5sum.push(md5sum);
        r.durable_write.push(durable);
        r.limit.push(md5sum.min(durable));

        if let Some(ftp) = &ftp {
            let put = format!("put {} big.bin", source.display());
            let target = downloads.join(format!("ftp-{run}.bin"));
            let get = format!("get big.bin {}", target.display());
            // Both orders: a put just before a get (or after it) must not decide the figure.
            if run % 2 == 0 {
                r.ftp_put.push(mb_per_s(settled(|| ftp_client(ftp, &put))?));
                r.ftp_get.push(mb_per_s(settled(|| ftp_client(ftp, &get))?));
            } else {
                r.ftp_get.push(mb_per_s(settled(|| ftp_client(ftp, &get))?));
                r.ftp_put.push(mb_per_s(settled(|| ftp_client(ftp, &put))?));
            }
            std::fs::remove_file(&target)?;
            // A file the server did not receive itself: no recorded MD5.
            let copied = copy_into_root(&source, dir, run)?;
            let get = format!("get {copied} {}", target.display());
            r.ftp_get_copied
                .push(mb_per_s(settled(|| ftp_client(ftp, &get))?));
            std::fs::remove_file(&target)?;
            std::fs::remove_file(ftp_home(dir).join(&copied))?;
        }
        if let Some(upload) = &upload {
            let port = upload.addr.port().to_string();
            let mut put = Command::new(lesson("13-file-upload"));
            put.args(["client", "put", "--no-progress", "--port", &port])
                .arg(&source);
            r.upload_put
                .push(mb_per_s(settled(|| time_command(put, None, LIMIT))?));
            let target = downloads.join(format!("upload-{run}.bin"));
            let mut get = Command::new(lesson("13-file-upload"));
            get.args(["client", "get", "big.bin", "--no-progress", "--force"])
                .args(["--port", &port, "--out"])
                .arg(&target);
            r.upload_get
                .push(mb_per_s(settled(|| time_command(get, None, LIMIT))?));
            std::fs::remove_file(&target)?;
        }
        if let (Some(server), Some(python)) = (&python_server, python) {
            let port = server.addr.port().to_string();
            let client = dir.join("upload_client.py");
            let mut put = Command::new(python);
            put.arg(&client).args([&port, "put"]).arg(&source);
            r.python_put
                .push(mb_per_s(settled(|| time_command(put, None, LIMIT))?));
            let target = downloads.join(format!("python-{run}.bin"));
            let mut get = Command::new(python);
            get.arg(&client)
                .args([&port, "get", "big.bin"])
                .arg(&target);
            r.python_get
                .push(mb_per_s(settled(|| time_command(get, None, LIMIT))?));
            std::fs::remove_file(&target)?;
        }
    }
    // The Python programs never fsync: what they left dirty is flushed here, not in a table row.
    sync();
    add_rows(r, size, table);
    Ok(())
}

/// Runs `measure` after a `sync`, so that it does not pay for the dirty pages of whatever ran
/// before it (the tutorial's Python writes without `fsync`; see the module comment).
fn settled<T>(measure: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    sync();
    measure()
}

/// `sync(1)`: every dirty page of the machine to the disk. Untimed.
fn sync() {
    let _ = Command::new("sync").status();
}

/// How long `dd bs=1M conv=fsync` takes to copy `source` to `out`: the disk's durable-write
/// speed for a file of this size, the second limit of a verified, durable transfer.
fn durable_write(source: &Path, out: &Path) -> anyhow::Result<Duration> {
    let mut dd = Command::new("dd");
    dd.arg(format!("if={}", source.display()))
        .arg(format!("of={}", out.display()))
        .args(["bs=1M", "conv=fsync"]);
    time_command(dd, None, LIMIT)
}

fn add_rows(r: Results, size: u64, table: &mut Table) {
    let mib = size >> 20;
    let row = |what: String, socklab: &Samples, name: &str, reference: &Samples, goal: &str| Row {
        what,
        unit: "MB/s",
        digits: 0,
        socklab: socklab.clone(),
        reference_name: name.into(),
        reference: reference.clone(),
        goal: goal.into(),
    };
    let limit = r.limit.median();
    table.add(row(
        format!("md-5 crate alone, {mib} MiB"),
        &r.md5_crate,
        "md5sum",
        &r.md5sum,
        "(limit)",
    ));
    table.add(row(
        format!("durable write, {mib} MiB (dd conv=fsync)"),
        &r.durable_write,
        "md5sum",
        &r.md5sum,
        "(limit)",
    ));
    let slower = if r.durable_write.median() < r.md5sum.median() {
        "the disk's durable write"
    } else {
        "MD5 (md5sum)"
    };
    table.note(format!(
        "the limit of a verified, durable transfer here: {limit:.0} MB/s, set by {slower} (md5sum \
         {}, dd conv=fsync {} MB/s)",
        r.md5sum.show(0),
        r.durable_write.show(0)
    ));
    if !r.ftp_put.values.is_empty() {
        table.add(row(
            format!("14-ftp get, {mib} MiB, verified, durable"),
            &r.ftp_get,
            "limit",
            &r.limit,
            ">= 0.85x",
        ));
        table.add(row(
            format!("14-ftp put, {mib} MiB, verified, durable"),
            &r.ftp_put,
            "limit",
            &r.limit,
            ">= 0.85x",
        ));
        table.add(row(
            format!("14-ftp get, {mib} MiB, file copied in (no recorded md5)"),
            &r.ftp_get_copied,
            "limit",
            &r.limit,
            ">= 0.85x",
        ));
        table.note(format!(
            "14 get reaches {:.2}x, put {:.2}x, get of a copied-in file {:.2}x of that limit",
            r.ftp_get.median() / limit,
            r.ftp_put.median() / limit,
            r.ftp_get_copied.median() / limit,
        ));
        // A third limit, of the CPU: a get of a recorded file is hashed once (by the client), a
        // put and a get of a copied-in file twice (by both sides, at the same time). With client
        // and server on one machine, both passes and the copies share its cores.
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        table.note(format!(
            "a put and a get of a copied-in file hash on both sides: two MD5 passes at once,              sharing this machine's {cores} cores with the copies (a get of a recorded file: one)"
        ));
    }
    if !r.upload_put.values.is_empty() {
        if r.python_put.values.is_empty() {
            table.note("13-file-upload: no python3, no reference");
        } else {
            table.add(row(
                format!("13-file-upload put, {mib} MiB, verified, durable"),
                &r.upload_put,
                "tutorial's Python",
                &r.python_put,
                ">= 1.2x",
            ));
            table.add(row(
                format!("13-file-upload get, {mib} MiB, verified, durable"),
                &r.upload_get,
                "tutorial's Python",
                &r.python_get,
                ">= 1.2x",
            ));
        }
        // A verified, durable transfer cannot beat the limit; the tutorial's programs neither
        // hash nor fsync, so 1.2x of them can be past it.
        table.note(format!(
            "13 put reaches {:.2}x and get {:.2}x of the limit ({limit:.0} MB/s); 1.2x the \
             tutorial's unverified, unsynced copy would need {:.0} and {:.0} MB/s",
            r.upload_put.median() / limit,
            r.upload_get.median() / limit,
            1.2 * r.python_put.median(),
            1.2 * r.python_get.median(),
        ));
    }
}

/// Writes `size` bytes that do not compress (xorshift), then reads them once.
fn generate(path: &Path, size: u64) -> anyhow::Result<()> {
    let mut out = BufWriter::with_capacity(1 << 20, File::create(path)?);
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut block = vec![0u8; 1 << 20];
    let mut left = size;
    while left > 0 {
        for chunk in block.chunks_exact_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes());
        }
        let n = left.min(block.len() as u64) as usize;
        out.write_all(&block[..n])?;
        left -= n as u64;
    }
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    // Reading it once puts it in the page cache for every variant alike.
    hash_with_crate(path)?;
    Ok(())
}

/// How long the md-5 crate takes to hash the file (read 1 MiB at a time): the fastest any
/// verified transfer can be on one core.
fn hash_with_crate(path: &Path) -> anyhow::Result<Duration> {
    let began = Instant::now();
    let mut file = File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let _ = hasher.finalize();
    Ok(began.elapsed())
}

/// A 14-ftp server with one user, `bench`.
fn start_ftp(dir: &Path, size: u64) -> anyhow::Result<Server> {
    let root = dir.join("ftp-root");
    let mut adduser = Command::new(lesson("14-ftp"));
    adduser
        .args([
            "adduser",
            "bench",
            "--iterations",
            "4096",
            "--password-stdin",
        ])
        .arg("--root")
        .arg(&root)
        .args(["--quota", &(size * 4 + (1 << 20)).to_string()])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        // Its warning about the low --iterations (fine here) would clutter the output.
        .stderr(Stdio::null());
    let mut child = adduser.spawn()?;
    if let Some(mut stdin) = child.stdin.take() {
        writeln!(stdin, "{PASSWORD}")?;
    }
    if !child.wait()?.success() {
        bail!("14-ftp adduser failed");
    }
    let mut server = Command::new(lesson("14-ftp"));
    server.args(["server", "--port", "0", "--root"]).arg(&root);
    Server::start(server, &dir.join("ftp.log"))
}

/// The `bench` user's home folder in the 14 server's root.
fn ftp_home(dir: &Path) -> PathBuf {
    dir.join("ftp-root").join("home").join("bench")
}

/// Copies `source` into the `bench` user's home under a fresh name, as an administrator would
/// (the server never sees it arrive, so it has no recorded MD5), makes the copy durable and
/// reads it once into the page cache; returns its name.
fn copy_into_root(source: &Path, dir: &Path, run: u32) -> anyhow::Result<String> {
    let name = format!("copied-{run}.bin");
    let target = ftp_home(dir).join(&name);
    std::fs::copy(source, &target).with_context(|| format!("copying to {}", target.display()))?;
    File::open(&target)?.sync_all()?;
    hash_with_crate(&target)?;
    Ok(name)
}

/// Logs in as `bench` and runs one command; returns how long it all took.
fn ftp_client(server: &Server, command: &str) -> anyhow::Result<Duration> {
    let mut client = Command::new(lesson("14-ftp"));
    client
        .args([
            "client",
            "--user",
            "bench",
            "--password-stdin",
            "--no-progress",
        ])
        .args(["--port", &server.addr.port().to_string(), "-c", command]);
    time_command(client, Some(&format!("{PASSWORD}\n")), LIMIT)
}

fn start_upload(dir: &Path) -> anyhow::Result<Server> {
    let mut server = Command::new(lesson("13-file-upload"));
    server
        .args(["server", "--port", "0", "--dir"])
        .arg(dir.join("uploads"));
    Server::start(server, &dir.join("upload.log"))
}

fn start_python(python: &Path, dir: &Path) -> anyhow::Result<Server> {
    let folder: PathBuf = dir.join("python-uploads");
    std::fs::create_dir_all(&folder)?;
    let script = dir.join("upload_server.py");
    std::fs::write(&script, PYTHON_SERVER)?;
    std::fs::write(dir.join("upload_client.py"), PYTHON_CLIENT)?;
    let mut server = Command::new(python);
    server.arg(script).arg(folder);
    Server::start(server, &dir.join("python-upload.log")).context("starting upload_server.py")
}
