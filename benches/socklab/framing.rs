//! Length-prefixed frames (lessons 10, 12-14): socklab's `framing` against a Rust loop with the
//! same system calls and the tutorials' Python loop. One connection, one direction: a thread
//! sends COUNT frames, the other receives them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::Context;
use socklab::framing::Framing;

use crate::table::{Row, Samples, Table};
use crate::Options;

const PYTHON_LOOP: &str = include_str!("python/framing_loop.py");

/// Frames at most this long go out with their prefix in one `write`, as `Framing` does.
const COALESCE: usize = 1024;

#[derive(Clone, Copy, PartialEq)]
enum Variant {
    Socklab,
    Rust,
    Python,
}

pub fn rows(
    options: &Options,
    python: Option<&Path>,
    dir: &Path,
    table: &mut Table,
) -> anyhow::Result<()> {
    let script = dir.join("framing_loop.py");
    std::fs::write(&script, PYTHON_LOOP)?;
    let small = if options.quick { 50_000 } else { 200_000 };
    let large = if options.quick { 256 } else { 1024 };
    for (size, count) in [(16usize, small), (1 << 20, large)] {
        println!("framing, {count} frames of {size} bytes:");
        let mut samples = [Samples::default(), Samples::default(), Samples::default()];
        for _ in 0..options.runs() {
            for variant in [Variant::Socklab, Variant::Rust, Variant::Python] {
                let took = match (variant, python) {
                    (Variant::Python, None) => continue,
                    (Variant::Python, Some(python)) => run_python(python, &script, size, count)?,
                    _ => run_rust(variant == Variant::Socklab, size, count)?,
                };
                let rate = if size == 16 {
                    count as f64 / took.as_secs_f64() / 1000.0
                } else {
                    (size * count) as f64 / took.as_secs_f64() / 1e6
                };
                samples[variant as usize].push(rate);
            }
        }
        let unit = if size == 16 { "k frames/s" } else { "MB/s" };
        let what = if size == 16 {
            "framing, 16 B frames"
        } else {
            "framing, 1 MiB frames"
        };
        let [socklab, rust, py] = samples;
        table.add(Row {
            what: what.into(),
            unit,
            digits: 0,
            socklab: socklab.clone(),
            reference_name: "Rust loop, same syscalls".into(),
            reference: rust,
            goal: ">= 1x".into(),
        });
        if python.is_some() {
            table.add(Row {
                what: what.into(),
                unit,
                digits: 0,
                socklab,
                reference_name: "tutorials' Python loop".into(),
                reference: py,
                goal: ">= 1x".into(),
            });
        }
    }
    Ok(())
}

fn run_python(python: &Path, script: &Path, size: usize, count: usize) -> anyhow::Result<Duration> {
    let mut command = Command::new(python);
    command
        .arg(script)
        .args([size.to_string(), count.to_string()]);
    let out = crate::procs::short_output(command, Duration::from_secs(300))?;
    let seconds: f64 = out
        .trim()
        .parse()
        .context("framing_loop.py printed no time")?;
    Ok(Duration::from_secs_f64(seconds))
}

/// Sends and receives `count` frames of `size` bytes, with socklab's `Framing` or by hand.
fn run_rust(socklab: bool, size: usize, count: usize) -> anyhow::Result<Duration> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let began = Instant::now();
    let sender = thread::spawn(move || -> anyhow::Result<()> {
        let mut conn = TcpStream::connect(addr)?;
        conn.set_nodelay(true)?;
        conn.set_write_timeout(Some(Duration::from_secs(60)))?;
        let payload = vec![b'x'; size];
        let framing = Framing::default();
        let mut message = Vec::with_capacity(4 + size);
        for _ in 0..count {
            if socklab {
                framing.write_frame(&mut conn, &payload)?;
            } else if size <= COALESCE {
                message.clear();
                message.extend_from_slice(&(size as u32).to_le_bytes());
                message.extend_from_slice(&payload);
                conn.write_all(&message)?;
            } else {
                conn.write_all(&(size as u32).to_le_bytes())?;
                conn.write_all(&payload)?;
            }
        }
        Ok(())
    });
    let (mut conn, _) = listener.accept()?;
    conn.set_read_timeout(Some(Duration::from_secs(60)))?;
    let framing = Framing {
        max_frame: u32::MAX,
        ..Framing::default()
    };
    let mut buf = vec![0u8; size];
    for _ in 0..count {
        if socklab {
            let frame = framing.read_frame(&mut conn)?.context("early end")?;
            anyhow::ensure!(frame.len() == size, "short frame");
        } else {
            let mut prefix = [0u8; 4];
            conn.read_exact(&mut prefix)?;
            let n = u32::from_le_bytes(prefix) as usize;
            anyhow::ensure!(n == size, "bad length");
            conn.read_exact(&mut buf)?;
        }
    }
    let took = began.elapsed();
    sender
        .join()
        .map_err(|_| anyhow::anyhow!("sender panicked"))??;
    Ok(took)
}
