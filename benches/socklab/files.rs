//! Big files: 14-ftp put and get (verified with MD5, durable) against the limit of a verified,
//! durable transfer on this machine, and 13-file-upload put and get against the tutorial's
//! Python client and server.
//!
//! ## What is measured: the whole command, as a user runs it
//!
//! Every transfer is one whole process, timed from start to exit: `14-ftp client ... -c "get
//! NAME LOCAL"` with its login, the transfer, and the final `fsync` and rename that make the file
//! durable under its name. Every file a run writes has a fresh name (a put too: it sends a hard
//! link to the source under a new name, so no put replaces a stored file) and is removed only
//! after the run. Put and get run in both orders (put first on even runs, get first on odd ones).
//!
//! ## The limit: the slower of MD5 and the disk
//!
//! A verified, durable transfer cannot beat either of two things on the machine it runs on: one
//! core's MD5 (`md5sum` of the file, which is in the page cache) and the disk's durable-write
//! speed (`dd bs=1M conv=fsync` of a new file of the same size). The slower of the two, run by
//! run, is the reference of the 14 rows and of the second 13 rows: a ratio of 1.00x is a
//! transfer that costs nothing beyond what it cannot avoid.
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
//! - **Memory freed a moment before.** On the machine of issue 19, a virtual machine that hands
//!   free memory back to its host (virtio-balloon free page reporting), putting a new 1 GiB
//!   file into the page cache, with no disk involved (`dd bs=1M` without `fsync`), runs at
//!   320-335 MB/s, the speed at which the host gives the guest memory again; right after another
//!   big file was deleted it runs at 900-1700 MB/s, because the new file gets the memory the
//!   deleted one freed before the host has taken it back. (Overwriting a file in place, whose
//!   pages stay, runs at 2.5-3.2 GB/s with `fsync`.) Both harnesses deleted each output right
//!   after timing it, so whatever came next ran on recycled memory or not depending on the
//!   order, and the `dd` limit itself ranged 331-1833 MB/s in one session. Now every file of a
//!   run has a fresh name and stays until the run is over; then the run's files are deleted
//!   together, and the next run starts [`SETTLE`] later.
//!
//!
//! The same memory held socklab's transfers back: a 1 GiB get spent 3.9 s of its 5.2 s (under
//! `strace`) in `write` to the new file. The receiving side now releases the pages of the bytes
//! already on the disk (`transfer::Writeback`), so the next bytes go into memory just freed: a
//! 1 GiB get went from 220 to 360-530 MB/s on that machine.
//!
//! What is left is the CPU. A get of a file the server recorded is hashed once, by the client;
//! a put, and a get of a copied-in file, twice, by both sides at the same time. With client and
//! server on one 2-core machine, those two passes and the copies through the socket and to the
//! file share two cores. (Two `md5sum` and a `dd conv=fsync` started together, tried as a
//! reference in issue 19, ran at 393-515 MB/s.)
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

/// How long the machine is given, after a run's files are deleted, before the next run writes
/// (see "Memory freed a moment before" above): on the machine of issue 19 a new file written
/// 8-10 s after a delete no longer ran on the freed memory, most of the time.
const SETTLE: Duration = Duration::from_secs(10);

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

    // The files every get reads, stored once, untimed (each server records their MD5).
    let puts = dir.join("puts");
    std::fs::create_dir_all(&puts)?;
    if let Some(ftp) = &ftp {
        ftp_client(ftp, &format!("put {} big.bin", source.display()))?;
    }
    if let Some(upload) = &upload {
        time_command(upload_put(upload, &source), None, LIMIT)?;
    }
    if let (Some(server), Some(python)) = (&python_server, python) {
        time_command(python_put(server, python, dir, &source), None, LIMIT)?;
    }
    settle();

    let mut r = Results::default();
    for run in 0..options.runs() {
        // Everything this run writes gets a fresh name and stays until the run is over: a
        // file deleted during the run would hand its memory to the next write (see "Memory
        // freed a moment before" in the module comment).
        let mut written = RunFiles::default();

        // The limits every verified, durable transfer (13 and 14) is measured against.
        r.md5_crate
            .push(mb_per_s(settled(|| hash_with_crate(&source))?));
        let mut md5sum = Command::new("md5sum");
        md5sum.arg(&source);
        let md5sum = mb_per_s(settled(|| time_command(md5sum, None, LIMIT))?);
        let dd_out = written.fresh(&downloads, format!("dd-{run}.bin"));
        let durable = mb_per_s(settled(|| durable_write(&source, &dd_out))?);
        r.md5sum.push(md5sum);
        r.durable_write.push(durable);
        r.limit.push(md5sum.min(durable));

        // What a put sends: the source under a fresh name (a hard link: no copy), so that no
        // put replaces a file stored earlier.
        let put_name = format!("put-{run}.bin");
        let put_source = written.fresh(&puts, put_name.clone());
        std::fs::hard_link(&source, &put_source).with_context(|| {
            format!(
                "linking {} to {} (--dir must be on a filesystem with hard links)",
                source.display(),
                put_source.display()
            )
        })?;

        if let Some(ftp) = &ftp {
            let put = format!("put {} {put_name}", put_source.display());
            written.keep(ftp_home(dir).join(&put_name));
            let target = written.fresh(&downloads, format!("ftp-{run}.bin"));
            let get = format!("get big.bin {}", target.display());
            // Both orders: a put just before a get (or after it) must not decide the figure.
            if run % 2 == 0 {
                r.ftp_put.push(mb_per_s(settled(|| ftp_client(ftp, &put))?));
                r.ftp_get.push(mb_per_s(settled(|| ftp_client(ftp, &get))?));
            } else {
                r.ftp_get.push(mb_per_s(settled(|| ftp_client(ftp, &get))?));
                r.ftp_put.push(mb_per_s(settled(|| ftp_client(ftp, &put))?));
            }
            // A file the server did not receive itself: no recorded MD5.
            let copied = copy_into_root(&source, dir, run)?;
            written.keep(ftp_home(dir).join(&copied));
            let target = written.fresh(&downloads, format!("ftp-copied-{run}.bin"));
            let get = format!("get {copied} {}", target.display());
            r.ftp_get_copied
                .push(mb_per_s(settled(|| ftp_client(ftp, &get))?));
        }
        if let Some(upload) = &upload {
            written.keep(dir.join("uploads").join(&put_name));
            let put = upload_put(upload, &put_source);
            r.upload_put
                .push(mb_per_s(settled(|| time_command(put, None, LIMIT))?));
            let target = written.fresh(&downloads, format!("upload-{run}.bin"));
            let mut get = Command::new(lesson("13-file-upload"));
            get.args(["client", "get", "big.bin", "--no-progress", "--force"])
                .args(["--port", &upload.addr.port().to_string(), "--out"])
                .arg(&target);
            r.upload_get
                .push(mb_per_s(settled(|| time_command(get, None, LIMIT))?));
        }
        if let (Some(server), Some(python)) = (&python_server, python) {
            written.keep(dir.join("python-uploads").join(&put_name));
            let put = python_put(server, python, dir, &put_source);
            r.python_put
                .push(mb_per_s(settled(|| time_command(put, None, LIMIT))?));
            let target = written.fresh(&downloads, format!("python-{run}.bin"));
            let mut get = Command::new(python);
            get.arg(dir.join("upload_client.py"))
                .args([&server.addr.port().to_string(), "get", "big.bin"])
                .arg(&target);
            r.python_get
                .push(mb_per_s(settled(|| time_command(get, None, LIMIT))?));
        }
        written.remove_all()?;
        settle();
    }
    add_rows(r, size, table);
    Ok(())
}

/// `13-file-upload client put FILE`: stored under FILE's name.
fn upload_put(server: &Server, file: &Path) -> Command {
    let mut put = Command::new(lesson("13-file-upload"));
    put.args(["client", "put", "--no-progress", "--port"])
        .arg(server.addr.port().to_string())
        .arg(file);
    put
}

/// The tutorial's Python client's put of FILE: stored under FILE's name.
fn python_put(server: &Server, python: &Path, dir: &Path, file: &Path) -> Command {
    let mut put = Command::new(python);
    put.arg(dir.join("upload_client.py"))
        .args([&server.addr.port().to_string(), "put"])
        .arg(file);
    put
}

/// The files one run writes, deleted together once it is over.
#[derive(Default)]
struct RunFiles {
    paths: Vec<PathBuf>,
}

impl RunFiles {
    /// `folder/name`, to be deleted at the end of the run.
    fn fresh(&mut self, folder: &Path, name: String) -> PathBuf {
        let path = folder.join(name);
        self.keep(path.clone());
        path
    }

    /// A file a server or a command will write, to be deleted at the end of the run.
    fn keep(&mut self, path: PathBuf) {
        self.paths.push(path);
    }

    fn remove_all(self) -> anyhow::Result<()> {
        for path in self.paths {
            match std::fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(e).with_context(|| format!("removing {}", path.display()));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

/// After a run's files are deleted: everything to the disk (`sync`, which also flushes what
/// the tutorial's Python left dirty), then [`SETTLE`] for the machine to take the freed memory
/// back, so that no write of the next run lands on it (see the module comment).
fn settle() {
    sync();
    std::thread::sleep(SETTLE);
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
    }
    if !r.upload_put.values.is_empty() {
        for (what, socklab, python) in [
            ("put", &r.upload_put, &r.python_put),
            ("get", &r.upload_get, &r.python_get),
        ] {
            let what = format!("13-file-upload {what}, {mib} MiB, verified, durable");
            if !python.values.is_empty() {
                table.add(row(
                    what.clone(),
                    socklab,
                    "tutorial's Python",
                    python,
                    ">= 1.2x",
                ));
            }
            table.add(row(what, socklab, "limit", &r.limit, ">= 0.85x"));
        }
        if r.python_put.values.is_empty() {
            table.note("13-file-upload: no python3, no reference");
        } else {
            // A verified, durable transfer cannot beat the limit; the tutorial's programs
            // neither hash nor fsync, so 1.2x of them can be past it.
            table.note(format!(
                "13 put reaches {:.2}x and get {:.2}x of the slower of MD5 and the disk \
                 ({limit:.0} MB/s); 1.2x the tutorial's unverified, unsynced copy would need \
                 {:.0} and {:.0} MB/s",
                r.upload_put.median() / limit,
                r.upload_get.median() / limit,
                1.2 * r.python_put.median(),
                1.2 * r.python_get.median(),
            ));
        }
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
