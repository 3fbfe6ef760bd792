#!/usr/bin/env python3
"""Opens every page of the built books (book/build/html/) in headless Chromium and checks them.

Not part of `cargo test` (it needs mdBook and Chromium: book/setup.sh --browser). Run it through
book/browser-check.sh, which builds the books first.

How: a small HTTP server on 127.0.0.1 (a free port) serves book/build/html/ and adds one
<script> (CHECK_JS below) to every HTML page it serves. Chromium opens each page with
`--dump-dom`; the script runs after the page has loaded and writes what it found into the page,
as JSON in <pre id="book-check">, which the dump carries back here. `--virtual-time-budget` lets
the page's own scripts (the search) finish first. Per page it checks:
  - the page loaded (it has the book's <main> and a title);
  - every image loaded (and its file answers 200);
  - every internal link answers 200, and its #fragment names an element of the target page;
  - nothing needs horizontal scrolling in a 1024 px wide window;
and, once per book, that search finds "sticky" (English) or 粘包 (Chinese).
Exit status 0 when everything passed; every failure is named.
Usage: python3 book/browser-check.py [PAGE ...]   (pages as en/09-sticky.html; default: all)
"""

import http.server
import json
import os
import re
import shutil
import socketserver
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "book" / "build" / "html"
WIDTH = 1024
SEARCHES = {"en": "sticky", "zh": "粘包"}

CHECK_JS = r"""
(function () {
  function head(url) {
    var x = new XMLHttpRequest();
    try { x.open('GET', url, false); x.send(); } catch (e) { return [0, '']; }
    return [x.status, x.responseText];
  }
  var pages = {};
  function page(url) {
    if (!(url in pages)) pages[url] = head(url);
    return pages[url];
  }
  function run() {
    var problems = [];
    if (!document.querySelector('main') || !document.title) problems.push('no <main> or no title');
    document.querySelectorAll('main img').forEach(function (img) {
      var ok = img.complete && img.naturalWidth > 0;
      if (!ok && page(img.src)[0] !== 200) problems.push('image does not load: ' + img.getAttribute('src'));
    });
    var here = location.href.split('#')[0];
    document.querySelectorAll('a[href]').forEach(function (a) {
      var url;
      try { url = new URL(a.getAttribute('href'), location.href); } catch (e) { problems.push('bad link: ' + a.getAttribute('href')); return; }
      if (url.origin !== location.origin) return;
      var target = url.href.split('#')[0];
      var frag = url.hash ? decodeURIComponent(url.hash.slice(1)) : '';
      if (target === here) {
        if (frag && !document.getElementById(frag)) problems.push('no #' + frag + ' on this page');
        return;
      }
      var got = page(target);
      if (got[0] !== 200) { problems.push('link answers ' + got[0] + ': ' + a.getAttribute('href')); return; }
      if (frag && /\.html$/.test(url.pathname)) {
        var doc = new DOMParser().parseFromString(got[1], 'text/html');
        if (!doc.getElementById(frag)) problems.push('no #' + frag + ' in ' + a.getAttribute('href'));
      }
    });
    // Horizontal scrolling: the page itself, or any element of the text reaching past the
    // window's right edge (mdBook's body hides overflow, so such text would be cut off). Code
    // blocks and tables scroll inside their own box, and that is fine.
    var wide = Math.max(document.documentElement.scrollWidth, document.body.scrollWidth);
    if (wide > window.innerWidth) problems.push('needs horizontal scrolling: ' + wide + ' px wide in a ' + window.innerWidth + ' px window');
    function scrollsItself(el) {
      for (var p = el.parentElement; p && p !== document.body; p = p.parentElement) {
        var o = getComputedStyle(p).overflowX;
        if ((o === 'auto' || o === 'scroll') && p.tagName !== 'MAIN' && !p.contains(document.querySelector('main'))) return true;
      }
      return false;
    }
    var past = 0;
    document.querySelectorAll('main *').forEach(function (el) {
      if (past >= 3) return;
      var right = el.getBoundingClientRect().right;
      if (right > window.innerWidth + 1 && !scrollsItself(el)) {
        past += 1;
        problems.push('reaches past the right edge (' + Math.round(right) + ' px): <' + el.tagName.toLowerCase() + '> ' + (el.textContent || '').slice(0, 40));
      }
    });
    var results = document.querySelectorAll('#searchresults li, #mdbook-searchresults li');
    var pre = document.createElement('pre');
    pre.id = 'book-check';
    pre.textContent = JSON.stringify({problems: problems, searchResults: results.length});
    document.body.appendChild(pre);
  }
  window.addEventListener('load', function () { setTimeout(run, 1500); });
})();
"""


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the site, with the checking script added to every HTML page."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=str(SITE), **kwargs)

    def log_message(self, *args):
        pass

    def do_GET(self):
        path = urllib.parse.urlparse(self.path).path
        if path == "/__book_check.js":
            return self.send_bytes(CHECK_JS.encode(), "text/javascript")
        local = Path(self.translate_path(path))
        if local.is_dir():
            local = local / "index.html"
        if local.suffix == ".html" and local.is_file():
            html = local.read_text(encoding="utf-8")
            html = html.replace("</body>", '<script src="/__book_check.js"></script></body>', 1)
            return self.send_bytes(html.encode("utf-8"), "text/html; charset=utf-8")
        return super().do_GET()

    def send_bytes(self, body, kind):
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    sys.exit("browser-check: no chromium (bash book/setup.sh --browser installs Debian's)")


def open_page(browser, url, profile):
    """The page's DOM after its scripts ran, as Chromium dumps it."""
    command = [
        browser, "--headless", "--no-sandbox", "--disable-gpu",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--no-first-run", f"--user-data-dir={profile}", f"--window-size={WIDTH},800",
        "--virtual-time-budget=10000", "--dump-dom", url,
    ]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=60)
    except subprocess.TimeoutExpired:
        return None
    return done.stdout


def result_of(dom):
    m = re.search(r'<pre id="book-check">(.*?)</pre>', dom or "", re.S)
    if not m:
        return None
    raw = m.group(1).replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
    return json.loads(raw)


def chapters(language):
    """Every HTML page of one book except mdBook's 404 page and toc.html (the contents for
    browsers without JavaScript, a bare list that every page already shows)."""
    book = SITE / language
    return sorted(
        p.relative_to(SITE).as_posix()
        for p in book.rglob("*.html")
        if p.name not in ("404.html", "toc.html") and "pictures" not in p.parts
    )


def main():
    if not (SITE / "en" / "index.html").exists():
        sys.exit("browser-check: no book in book/build/html (run bash book/build.sh)")
    browser = chromium()
    server = Server(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    profile = tempfile.mkdtemp(prefix="book-check-")
    failures = []
    started = time.monotonic()
    try:
        # Pages named on the command line (en/09-sticky.html), or all of them.
        pages = sys.argv[1:] or ["index.html"] + chapters("en") + chapters("zh")
        for page in pages:
            found = result_of(open_page(browser, f"http://127.0.0.1:{port}/{page}", profile))
            if found is None:
                failures.append(f"{page}: did not load (no check result in the page)")
                continue
            failures += [f"{page}: {p}" for p in found["problems"]]
            print(f"  {page}: {'ok' if not found['problems'] else 'FAILED'}")
        for language, word in SEARCHES.items() if not sys.argv[1:] else ():
            query = urllib.parse.quote(word)
            url = f"http://127.0.0.1:{port}/{language}/index.html?search={query}"
            found = result_of(open_page(browser, url, profile))
            hits = found["searchResults"] if found else 0
            print(f"  search {language} {word!r}: {hits} results")
            if not hits:
                failures.append(f"{language}: search finds nothing for {word!r}")
    finally:
        server.shutdown()
        shutil.rmtree(profile, ignore_errors=True)
    seconds = time.monotonic() - started
    print(f"browser-check: {len(pages)} pages in {seconds:.0f} s")
    if failures:
        print("\n".join(failures))
        sys.exit(1)
    print("browser-check: every page, picture, link and search checks out")


if __name__ == "__main__":
    main()
