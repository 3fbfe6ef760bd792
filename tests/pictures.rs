//! `--picture` and `--pictures`: the SVG timelines tell the truth about the calls they draw.
//!
//! Looks are for people; these tests read the pictures back as XML (with roxmltree) and check
//! what they claim: which bytes each box carried (`data-stream`, `data-from`, `data-to`), that
//! every byte sent is in exactly one write box and one read box, that there is one box per traced
//! call, that a large conversation stays under 1 MiB, that the verdict a picture states is the one
//! the run printed, that the walkthrough's pictures are readable on a projector at their natural
//! size, and that they are the ones the documented command makes today.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::ServerProcess;

const TOUR: &str = env!("CARGO_BIN_EXE_00-tour");
const STICKY: &str = env!("CARGO_BIN_EXE_09-sticky");
const FRAMED: &str = env!("CARGO_BIN_EXE_10-remote-cmd-framed");
const REMOTE_CMD: &str = env!("CARGO_BIN_EXE_07-remote-cmd");
const PICTURE: &str = env!("CARGO_BIN_EXE_picture");

/// The walkthrough's pictures, and the command that makes them (walkthrough.md says the same).
const PICTURES: &str = "pictures";
const REGENERATE: &str = "cargo run --bin 00-tour -- --pictures pictures";

/// One box: a call (or the calls folded into a summary box).
#[derive(Debug, Clone)]
struct Box {
    direction: String,
    stream: u64,
    from: u64,
    to: u64,
    /// 1 for a call, N for "… N more reads".
    calls: u64,
}

/// The boxes of each panel of a picture, after checking that it is well-formed XML.
fn panels(svg: &str) -> Vec<Vec<Box>> {
    let doc = roxmltree::Document::parse(svg).expect("the picture is well-formed XML");
    let number = |node: &roxmltree::Node, name: &str| -> u64 {
        node.attribute(name)
            .unwrap_or_else(|| panic!("a box without {name}"))
            .parse()
            .unwrap_or_else(|_| panic!("{name} is not a number"))
    };
    doc.descendants()
        .filter(|n| n.attribute("class") == Some("panel"))
        .map(|panel| {
            panel
                .descendants()
                .filter(|n| matches!(n.attribute("class"), Some("call" | "more")))
                .map(|n| Box {
                    direction: n.attribute("data-direction").unwrap_or("").to_string(),
                    stream: number(&n, "data-stream"),
                    from: number(&n, "data-from"),
                    to: number(&n, "data-to"),
                    calls: n.attribute("data-calls").map_or(1, |c| c.parse().unwrap()),
                })
                .collect()
        })
        .collect()
}

/// Checks that the boxes of one direction of each stream cover its bytes 0..N, each byte once,
/// and returns N per stream.
fn coverage(boxes: &[Box], direction: &str) -> BTreeMap<u64, u64> {
    let mut by_stream: BTreeMap<u64, Vec<(u64, u64)>> = BTreeMap::new();
    for b in boxes.iter().filter(|b| b.direction == direction) {
        by_stream.entry(b.stream).or_default().push((b.from, b.to));
    }
    by_stream
        .into_iter()
        .map(|(stream, mut ranges)| {
            ranges.sort();
            let mut at = 0;
            for (from, to) in ranges {
                assert_eq!(
                    from, at,
                    "stream {stream}: {direction} boxes leave a gap or overlap at byte {at}"
                );
                at = to;
            }
            (stream, at)
        })
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn in_the_demo_pictures_every_byte_sent_is_in_one_write_box_and_one_read_box() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::run(
        STICKY,
        &["demo", "--pictures", dir.path().to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    let merged = read(&dir.path().join("09-sticky-a-merged.svg"));
    for name in [
        "09-sticky-a-merged.svg",
        "09-sticky-b-split.svg",
        "09-sticky-c-proxy-split-1.svg",
        "09-sticky-d-proxy-split-1-4-seed-7.svg",
        "09-sticky-e-proxy-coalesce.svg",
    ] {
        let svg = read(&dir.path().join(name));
        let panels = panels(&svg);
        assert_eq!(panels.len(), 2, "{name}: naive and framed side by side");
        for boxes in &panels {
            let sent = coverage(boxes, "send");
            let received = coverage(boxes, "recv");
            assert!(!sent.is_empty(), "{name}: no write boxes");
            assert_eq!(sent, received, "{name}: every byte written is read");
        }
    }
    // Scenario (a), naive: two writes, one read of both (and the end of the stream).
    let naive = &panels(&merged)[0];
    let count = |d: &str| naive.iter().filter(|b| b.direction == d).count();
    assert_eq!((count("send"), count("recv")), (2, 2));
    assert!(naive
        .iter()
        .any(|b| b.direction == "recv" && b.to - b.from == 10));
}

/// The numbers in a verdict: `2 messages sent, the program got 1` → (2, 1); `2 messages sent,
/// 2 received whole` → (2, 2).
fn verdict_numbers(verdict: &str) -> (u64, u64) {
    let numbers: Vec<u64> = verdict
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|n| n.parse().ok())
        .collect();
    match numbers.as_slice() {
        [sent, got, ..] => (*sent, *got),
        _ => panic!("no numbers in the verdict {verdict:?}"),
    }
}

#[test]
fn the_demo_pictures_state_the_verdict_the_demo_printed() {
    let dir = tempfile::tempdir().unwrap();
    let out = common::run(
        STICKY,
        &["demo", "--pictures", dir.path().to_str().unwrap()],
        "",
    );
    assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    // `=> merged: 2 writes, 1 read | => intact: 2 messages`, one line per scenario.
    let printed: Vec<(u64, u64, u64)> = out
        .stdout
        .lines()
        .filter(|l| l.contains("=>"))
        .map(|l| {
            let numbers: Vec<u64> = l
                .split(|c: char| !c.is_ascii_digit())
                .filter_map(|n| n.parse().ok())
                .collect();
            (numbers[0], numbers[1], numbers[2])
        })
        .collect();
    let names = [
        "09-sticky-a-merged.svg",
        "09-sticky-b-split.svg",
        "09-sticky-c-proxy-split-1.svg",
    ];
    assert_eq!(printed.len(), names.len(), "{}", out.stdout);
    for (name, (writes, reads, messages)) in names.iter().zip(printed) {
        let svg = read(&dir.path().join(name));
        let doc = roxmltree::Document::parse(&svg).unwrap();
        let verdicts: Vec<&str> = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("panel"))
            .map(|n| n.attribute("data-verdict").unwrap_or(""))
            .collect();
        let [naive, framed] = verdicts.as_slice() else {
            panic!("{name}: two panels, {verdicts:?}");
        };
        assert!(naive.starts_with("✗ wrong"), "{name}: {naive}");
        assert_eq!(verdict_numbers(naive), (writes, reads), "{name}: {naive}");
        assert!(framed.starts_with("✓ right"), "{name}: {framed}");
        assert_eq!(
            verdict_numbers(framed),
            (messages, messages),
            "{name}: {framed}"
        );
        let desc = doc
            .descendants()
            .find(|n| n.has_tag_name("desc"))
            .and_then(|n| n.text())
            .unwrap_or_default();
        assert!(
            desc.contains(naive) && desc.contains(framed),
            "{name}: {desc}"
        );
    }
}

/// The sizes of every text in a picture: the style's classes and any size given on an element.
fn font_sizes(svg: &str) -> Vec<f64> {
    let mut sizes = Vec::new();
    for (i, _) in svg.match_indices("font-size") {
        let rest = svg.get(i + "font-size".len()..).unwrap_or_default();
        let number: String = rest
            .trim_start_matches([':', '=', '"', ' '])
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '.')
            .collect();
        sizes.push(number.parse().unwrap_or(0.0));
    }
    sizes
}

#[test]
fn the_walkthrough_pictures_read_on_a_projector_at_natural_size() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join(PICTURES);
    let mut checked = 0;
    for entry in std::fs::read_dir(&committed).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "svg") {
            continue;
        }
        let name = path.display().to_string();
        let svg = read(&path);
        let doc = roxmltree::Document::parse(&svg).expect("the picture is well-formed XML");
        let root = doc.root_element();
        let size = |a: &str| -> f64 { root.attribute(a).unwrap().parse().unwrap() };
        assert!(
            size("width") <= 1200.0 && size("height") <= 800.0,
            "{name} is {} x {}, over 1,200 x 800",
            size("width"),
            size("height")
        );
        let sizes = font_sizes(&svg);
        assert!(!sizes.is_empty());
        assert!(
            sizes.iter().all(|&s| s >= 12.0),
            "{name}: text under 12 px: {sizes:?}"
        );
        let text_of = |tag: &str| {
            doc.descendants()
                .find(|n| n.has_tag_name(tag))
                .and_then(|n| n.text())
                .unwrap_or_default()
                .to_string()
        };
        assert!(!text_of("title").is_empty(), "{name}: no <title>");
        assert!(
            text_of("desc").contains('✓') || text_of("desc").contains('✗'),
            "{name}: no verdict in <desc>"
        );
        let panel_nodes = doc
            .descendants()
            .filter(|n| n.attribute("class") == Some("panel"));
        for (boxes, panel) in panels(&svg).into_iter().zip(panel_nodes) {
            // Each direction of each stream is covered from byte 0, each byte once.
            let written = coverage(&boxes, "send");
            let read = coverage(&boxes, "recv");
            for (stream, n) in &read {
                assert!(
                    written.get(stream).is_none_or(|w| n <= w),
                    "{name}: stream {stream} read more than was written"
                );
            }
            // Each ruler's bytes add up: what was read of its stream, and what never was.
            let rulers: Vec<roxmltree::Node> = panel
                .descendants()
                .filter(|n| n.attribute("class") == Some("ruler"))
                .collect();
            assert!(!rulers.is_empty(), "{name}: a panel without a ruler");
            for ruler in rulers {
                let number = |a: &str| -> u64 { ruler.attribute(a).unwrap().parse().unwrap() };
                let stream = number("data-stream");
                assert_eq!(Some(&number("data-read")), read.get(&stream), "{name}");
                if let Some(w) = written.get(&stream) {
                    assert_eq!(number("data-written"), *w, "{name}");
                }
                assert_eq!(
                    number("data-unread"),
                    number("data-written") - number("data-read"),
                    "{name}"
                );
            }
        }
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} pictures");
}

#[test]
fn a_two_terminal_run_of_07_draws_both_sides_from_their_record_files() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let server = ServerProcess::start(
        REMOTE_CMD,
        &["server", "--port", "0", "--picture", &file("server.json")],
    );
    let out = common::run(
        REMOTE_CMD,
        &[
            "client",
            "--port",
            &server.port_arg(),
            "--picture",
            &file("client.json"),
            "seq 1 5000",
            "echo hi",
        ],
        "",
    );
    assert!(out.status.success(), "{}", out.stderr);
    // The server writes its file when the connection closes: wait for both of its reads.
    let deadline = Instant::now() + common::WAIT;
    loop {
        let text = std::fs::read_to_string(file("server.json")).unwrap_or_default();
        if text.matches(r#""direction":"recv""#).count() >= 2 {
            break;
        }
        assert!(Instant::now() < deadline, "no record file from the server");
        std::thread::sleep(Duration::from_millis(50));
    }
    let drawn = common::run(
        PICTURE,
        &[
            &file("client.json"),
            &file("server.json"),
            "--out",
            &file("both.svg"),
        ],
        "",
    );
    assert!(drawn.status.success(), "{}", drawn.stderr);
    let svg = read(&dir.path().join("both.svg"));
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let parties: Vec<&str> = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("party"))
        .filter_map(|n| n.text())
        .collect();
    assert!(
        parties.contains(&"client") && parties.contains(&"server"),
        "{parties:?}"
    );
    // Joined across the two processes: the client's commands to the server's reads, and the
    // server's first answer to both of the client's reads (the cut and the spill-over).
    let bands = doc
        .descendants()
        .filter(|n| n.attribute("class") == Some("band"))
        .count();
    assert!(bands >= 4, "{bands} bands");
    // The cut and the spill-over, as in the tour's picture: the server's one write of the first
    // answer feeds the client's first read (bytes 0..1024) and its second, the "answer" to
    // `echo hi` (bytes 1024..2048).
    for (from, to) in [("0", "1024"), ("1024", "2048")] {
        assert!(
            doc.descendants()
                .any(|n| n.attribute("class") == Some("band")
                    && n.attribute("data-stream") == Some("1")
                    && n.attribute("data-from") == Some(from)
                    && n.attribute("data-to") == Some(to)),
            "no band of the answer's bytes {from}..{to}"
        );
    }
    let boxes = &panels(&svg)[0];
    let written = coverage(boxes, "send");
    let read = coverage(boxes, "recv");
    assert_eq!(read.get(&0), written.get(&0), "every command read");
    assert_eq!(
        read.get(&1),
        Some(&2048),
        "two reads of 1024 bytes of the answers"
    );
    assert!(svg.contains("never read"), "the unread answer bytes");
    let verdict = doc
        .descendants()
        .find(|n| n.has_tag_name("desc"))
        .and_then(|n| n.text())
        .unwrap_or_default();
    assert!(verdict.starts_with("✗ wrong"), "{verdict}");
    // A damaged file is one clear error, not a panic.
    std::fs::write(file("bad.json"), b"{\"kind\":").unwrap();
    let bad = common::run(PICTURE, &[&file("bad.json")], "");
    assert!(!bad.status.success());
    assert!(bad.stderr.contains("bad.json"), "{}", bad.stderr);
}

/// A picture with its run's addresses and ports taken out: two runs of one conversation
/// differ only in them.
fn without_addresses(svg: &str, port: &str) -> String {
    let svg = svg.replace(&format!("--port {port}"), "--port P");
    let mut out = String::new();
    let mut rest = svg.as_str();
    while let Some(at) = rest.find("127.0.0.1:") {
        let (before, after) = rest.split_at(at + "127.0.0.1:".len());
        out.push_str(before);
        out.push('P');
        rest = after.trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

#[test]
fn a_servers_record_file_draws_the_picture_it_would_have_drawn_live() {
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let live = ServerProcess::start(
        REMOTE_CMD,
        &["server", "--port", "0", "--picture", &file("live.svg")],
    );
    let recorded = ServerProcess::start(
        REMOTE_CMD,
        &["server", "--port", "0", "--picture", &file("server.json")],
    );
    // Two clients, one after the other; answers read whole, so both runs go the same way.
    for server in [&live, &recorded] {
        for commands in [&["echo one", "echo two"][..], &["echo three"]] {
            let mut args = vec!["client", "--port"];
            let port = server.port_arg();
            args.push(&port);
            args.extend_from_slice(commands);
            let out = common::run(REMOTE_CMD, &args, "");
            assert!(out.status.success(), "{}", out.stderr);
        }
    }
    // Each server rewrites its file as each connection closes: wait until both show the same.
    let deadline = Instant::now() + common::WAIT;
    loop {
        let now = std::fs::read_to_string(file("live.svg")).unwrap_or_default();
        let drawn = common::run(
            PICTURE,
            &[&file("server.json"), "--out", &file("drawn.svg")],
            "",
        );
        let from_file = std::fs::read_to_string(file("drawn.svg")).unwrap_or_default();
        let (a, b) = (
            without_addresses(&now, &live.port_arg()),
            without_addresses(&from_file, &recorded.port_arg()),
        );
        if drawn.status.success() && a == b && a.contains("connection 2 · client") {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the picture from the record file differs from the live one:\n{a}\n----\n{b}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_large_conversation_is_summarised_with_one_box_per_traced_call() {
    let server = ServerProcess::start(FRAMED, &["server", "--port", "0"]);
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("client.svg");
    let out = common::run(
        FRAMED,
        &[
            "client",
            "--port",
            &server.port_arg(),
            "--trace",
            "--picture",
            picture.to_str().unwrap(),
            "seq 1 200000",
            "echo next",
        ],
        "",
    );
    assert!(out.status.success(), "{}", out.stderr);
    let traced: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.starts_with("[client]"))
        .collect();
    let received: u64 = traced
        .iter()
        .filter(|l| l.starts_with("[client] recv"))
        .map(|l| l.split_whitespace().nth(2).unwrap().parse::<u64>().unwrap())
        .sum();
    let svg = read(&picture);
    assert!(
        svg.len() < 1024 * 1024,
        "the picture is {} bytes, over 1 MiB",
        svg.len()
    );
    assert!(
        svg.contains("more reads of"),
        "no summary in a large picture"
    );
    let panels = panels(&svg);
    let boxes = panels.first().expect("one panel");
    let calls: u64 = boxes.iter().map(|b| b.calls).sum();
    assert_eq!(calls, traced.len() as u64, "one box per traced call");
    // The answers (stream 1) were read, each byte once, 1,288,895 + 5 bytes and their headers.
    let read_streams = coverage(boxes, "recv");
    assert_eq!(read_streams.values().sum::<u64>(), received);
    assert!(received > 1_288_900, "{received}");
    coverage(boxes, "send");
}

#[test]
fn a_server_draws_its_picture_when_a_connection_closes() {
    let dir = tempfile::tempdir().unwrap();
    let picture = dir.path().join("server.svg");
    let server = ServerProcess::start(
        FRAMED,
        &[
            "server",
            "--port",
            "0",
            "--picture",
            picture.to_str().unwrap(),
        ],
    );
    let out = common::run(
        FRAMED,
        &["client", "--port", &server.port_arg(), "echo '<b>&你好'"],
        "",
    );
    assert!(out.status.success(), "{}", out.stderr);
    // The server writes the file after the connection's last call: wait for a whole one.
    let deadline = Instant::now() + common::WAIT;
    let svg = loop {
        let text = std::fs::read_to_string(&picture).unwrap_or_default();
        if roxmltree::Document::parse(&text).is_ok() && text.contains("end of stream") {
            break text;
        }
        assert!(Instant::now() < deadline, "no picture from the server");
        std::thread::sleep(Duration::from_millis(50));
    };
    let boxes = &panels(&svg)[0];
    // The command's bytes came in, the JSON header and the answer went out.
    assert!(boxes.iter().any(|b| b.direction == "recv"));
    assert!(
        svg.contains("{&quot;data_size&quot;"),
        "the JSON header's preview"
    );
    assert!(svg.contains("&lt;b&gt;&amp;"), "previews are escaped");
    // A second connection counts its calls from 1 again, as the server's log counts commands.
    let again = common::run(
        FRAMED,
        &["client", "--port", &server.port_arg(), "echo 2"],
        "",
    );
    assert!(again.status.success(), "{}", again.stderr);
    let deadline = Instant::now() + common::WAIT;
    let svg = loop {
        let text = std::fs::read_to_string(&picture).unwrap_or_default();
        if roxmltree::Document::parse(&text).is_ok() && text.matches("end of stream").count() >= 2 {
            break text;
        }
        assert!(
            Instant::now() < deadline,
            "no picture of the second connection"
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(svg.matches(">recv #1<").count() >= 2, "{svg}");
}

/// The pictures `00-tour --pictures` makes today, in a temporary folder.
fn fresh_pictures() -> (tempfile::TempDir, Vec<PathBuf>) {
    let dir = tempfile::tempdir().unwrap();
    for lesson in ["07", "09", "10"] {
        let out = common::run(
            TOUR,
            &[lesson, "--pictures", dir.path().to_str().unwrap()],
            "",
        );
        assert!(out.status.success(), "{}{}", out.stdout, out.stderr);
    }
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    (dir, files)
}

#[test]
fn the_walkthrough_pictures_are_up_to_date() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join(PICTURES);
    let (_dir, fresh) = fresh_pictures();
    assert!(fresh.len() >= 7, "the tour drew {} pictures", fresh.len());
    for file in &fresh {
        let name = file.file_name().unwrap();
        let now = read(file);
        let before = std::fs::read_to_string(committed.join(name)).unwrap_or_default();
        assert!(
            now == before,
            "{PICTURES}/{} is missing or out of date; regenerate the walkthrough's pictures \
             with `{REGENERATE}`",
            name.to_string_lossy()
        );
    }
    let mut names: Vec<String> = std::fs::read_dir(&committed)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".svg"))
        .collect();
    names.sort();
    let made: Vec<String> = fresh
        .iter()
        .map(|f| f.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    assert_eq!(
        names, made,
        "{PICTURES}/ holds pictures the tour no longer makes"
    );
    let walkthrough = read(&Path::new(env!("CARGO_MANIFEST_DIR")).join("walkthrough.md"));
    for name in &made {
        assert!(
            walkthrough.contains(&format!("({PICTURES}/{name})")),
            "walkthrough.md does not show {PICTURES}/{name}"
        );
    }
}

const UPLOAD: &str = env!("CARGO_BIN_EXE_13-file-upload");

/// A run's `[client]` trace lines, with the bytes each moved.
fn client_calls(stderr: &str) -> Vec<(&str, u64)> {
    stderr
        .lines()
        .filter(|l| l.starts_with("[client]"))
        .map(|l| {
            let bytes = l.split_whitespace().nth(2).unwrap().parse().unwrap();
            (l, bytes)
        })
        .collect()
}

/// The bytes moved by the calls of one direction whose line contains `needle` ("" for all).
fn bytes_of(calls: &[(&str, u64)], direction: &str, needle: &str) -> u64 {
    let prefix = format!("[client] {direction}");
    calls
        .iter()
        .filter(|(l, _)| l.starts_with(&prefix) && l.contains(needle))
        .map(|(_, n)| n)
        .sum()
}

/// Checks a client's picture against its trace: one box per call, and the boxes of each
/// direction cover exactly the bytes the calls moved.
fn assert_drawn_as_traced(svg: &str, calls: &[(&str, u64)]) {
    let panels = panels(svg);
    let boxes = panels.first().expect("one panel");
    let drawn: u64 = boxes.iter().map(|b| b.calls).sum();
    assert_eq!(drawn, calls.len() as u64, "one box per traced call");
    for direction in ["send", "recv"] {
        let covered: u64 = coverage(boxes, direction).values().sum();
        assert_eq!(covered, bytes_of(calls, direction, ""), "{direction} boxes");
    }
}

/// Waits for a server's picture to show `bytes` received in all (it is rewritten as each
/// connection closes) and returns it.
fn server_picture(path: &Path, bytes: u64) -> String {
    let deadline = Instant::now() + common::WAIT;
    loop {
        let text = std::fs::read_to_string(path).unwrap_or_default();
        if roxmltree::Document::parse(&text).is_ok() {
            let received: u64 = coverage(&panels(&text)[0], "recv").values().sum();
            if received == bytes {
                return text;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no whole picture from the server"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn lesson_13_put_and_get_trace_their_header_and_body_calls_and_draw_every_byte() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    let server_svg = dir.path().join("server.svg");
    let server = ServerProcess::start(
        UPLOAD,
        &[
            "server",
            "--port",
            "0",
            "--dir",
            &path("uploads"),
            "--picture",
            &path("server.svg"),
        ],
    );
    let port = server.port_arg();
    let body: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
    std::fs::write(path("big.bin"), &body).unwrap();
    std::fs::write(path("small.txt"), b"hello\n").unwrap();

    let put = common::run(
        UPLOAD,
        &[
            "client",
            "put",
            &path("big.bin"),
            &path("small.txt"),
            "--port",
            &port,
            "--trace",
            "--picture",
            &path("put.svg"),
        ],
        "",
    );
    assert!(put.status.success(), "{}", put.stderr);
    let calls = client_calls(&put.stderr);
    // Each put's header goes out in one call, its body in calls of their own; the replies come
    // back as a 4-byte length and a JSON header each.
    assert!(
        calls
            .iter()
            .any(|(l, _)| l.contains(r#"{"cmd":"put","filename":"big.bin""#)),
        "{}",
        put.stderr
    );
    let headers = bytes_of(&calls, "send", r#"{"cmd":"put""#);
    assert_eq!(bytes_of(&calls, "send", "") - headers, 300_000 + 6);
    assert!(bytes_of(&calls, "recv", r#"{"md5":"#) > 0, "{}", put.stderr);
    let put_svg = read(&dir.path().join("put.svg"));
    assert_drawn_as_traced(&put_svg, &calls);
    assert!(
        put_svg.contains("&quot;filename&quot;:&quot;big.bin&quot;"),
        "the JSON header's preview"
    );
    let put_sent = bytes_of(&calls, "send", "");

    let get = common::run(
        UPLOAD,
        &[
            "client",
            "get",
            "big.bin",
            "--out",
            &path("copy.bin"),
            "--port",
            &port,
            "--trace",
            "--picture",
            &path("get.svg"),
        ],
        "",
    );
    assert!(get.status.success(), "{}", get.stderr);
    assert!(std::fs::read(path("copy.bin")).unwrap() == body);
    let calls = client_calls(&get.stderr);
    assert!(bytes_of(&calls, "send", r#"{"cmd":"get","filename":"big.bin"}"#) > 0);
    let length_and_header = 4 + bytes_of(&calls, "recv", r#"{"filesize":300000"#);
    assert_eq!(bytes_of(&calls, "recv", "") - length_and_header, 300_000);
    assert_drawn_as_traced(&read(&dir.path().join("get.svg")), &calls);

    // The server drew both connections: every byte the two clients sent, in its read boxes.
    let svg = server_picture(&server_svg, put_sent + bytes_of(&calls, "send", ""));
    let boxes = &panels(&svg)[0];
    assert_eq!(
        coverage(boxes, "send").len(),
        2,
        "a reply stream per client"
    );
}

#[test]
fn lesson_13s_name_header_download_is_traced_and_drawn_too() {
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| dir.path().join(name).to_str().unwrap().to_string();
    std::fs::create_dir(path("files")).unwrap();
    std::fs::write(dir.path().join("files").join("a.txt"), b"abc\n").unwrap();
    let server = ServerProcess::start(
        UPLOAD,
        &[
            "server",
            "--port",
            "0",
            "--dir",
            &path("files"),
            "--protocol",
            "name-header",
        ],
    );
    let get = common::run(
        UPLOAD,
        &[
            "client",
            "get",
            "a.txt",
            "--protocol",
            "name-header",
            "--out",
            &path("copy.txt"),
            "--port",
            &server.port_arg(),
            "--trace",
            "--picture",
            &path("get.svg"),
        ],
        "",
    );
    assert!(get.status.success(), "{}", get.stderr);
    let calls = client_calls(&get.stderr);
    assert_eq!(calls.first().map(|c| c.1), Some(5), "the bare name first");
    assert!(
        bytes_of(&calls, "recv", "file_data_len") > 0,
        "{}",
        get.stderr
    );
    assert_drawn_as_traced(&read(&dir.path().join("get.svg")), &calls);
}
