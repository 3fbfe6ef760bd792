#!/usr/bin/env python3
"""Cuts walkthrough.md into the book's chapters (book/build/src/), never edits it.

walkthrough.md stays the single source of truth; everything here is a transformation made at
cut time, so the generated chapters can never go stale (they are rebuilt by book/build.sh and
not committed). What the cut does, in order:

1. The text before the first `## ` heading becomes the front page (index.md); every `## `
   section becomes one chapter, its headings raised one level (`## X` -> `# X {#x}`: the
   anchor is written out, so that the translated book keeps the English anchors). The
   walkthrough's own "Contents" section is left out: SUMMARY.md (written here) replaces it.
   Chapters named `NN-...` are lessons, grouped under "The lessons"; the others are shared
   chapters (before the lessons: setup, what every lesson has in common, the tutorials' terms;
   after them: whatever follows, such as checking your own programs).
2. Links `(#anchor)` to a heading in another chapter become `(chapter.md#anchor)`.
3. "What the tutorial gets wrong" passages (the bold lead paragraph and the list or
   paragraphs that belong to it) become warning admonitions (mdBook 0.5's warning box).
4. Pictures `![alt](pictures/x.svg)` become zoomable: the image links to its SVG, which the
   browser opens full size. pictures/ is copied next to the chapters.
5. Every block marked `<!-- example-test -->` shows its recorded transcript instead of the
   hand-written lines: `{{#include ../../../transcripts/NAME.txt}}`, when that transcript
   exists (book/refresh-transcripts.sh writes them; tests/walkthrough_examples.rs checks them
   against a fresh run). A block right after the line `<!-- transcript: FILE -->` shows
   `transcripts/FILE` the same way: output another program records (the benchmark writes
   its figures there); tests/walkthrough_examples.rs checks that the file exists and is not
   empty.
6. Long Python programs (40 lines or more) are folded into a <details> box: mdBook can hide
   lines (`# ` prefix) only in Rust code, and the long programs are mostly boilerplate a
   reader opens when they want to run them. The box's caption is a paragraph, so it is
   translated like any other (po/zh.po).
7. Every fenced code block is marked `<!-- i18n:skip -->`: commands, code and program output
   are not translated, so they never appear in po/messages.pot.

Run: python3 book/cut.py   (book/build.sh runs it for you)
"""

import re
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SOURCE = ROOT / "walkthrough.md"
OUT = ROOT / "book" / "build" / "src"
# From a chapter in book/build/src/ back to the checkout.
TO_ROOT = "../../.."

FOLD_PYTHON_AT = 40
SKIPPED_SECTIONS = {"Contents"}
WRONG_LEAD = "**What the tutorial gets wrong.**"


def slug(heading):
    """The anchor mdBook (and GitHub) gives a heading: lower case, spaces to '-', most
    punctuation gone, letters of any script kept."""
    text = re.sub(r"`", "", heading.strip()).lower()
    out = []
    for c in text:
        if c == " ":
            out.append("-")
        elif c in "-_" or c.isalnum():
            out.append(c)
    return "".join(out)


def file_name(heading):
    """`01-echo-once: the one-shot echo` -> `01-echo-once.md`; a shared chapter gets the slug of
    its title up to a colon (`Before you start: ...` -> `before-you-start.md`)."""
    lesson = re.match(r"(\d\d-[a-z0-9-]+)(:| in depth)", heading)
    if lesson:
        suffix = "-in-depth" if lesson.group(2) == " in depth" else ""
        return f"{lesson.group(1)}{suffix}.md"
    return slug(heading.split(":")[0])[:60].strip("-") + ".md"


def split_sections(lines):
    """[(heading or None, [lines])]: the front matter, then one entry per `## ` section.
    A `#` inside a fenced block (`# terminal 1`) is not a heading."""
    sections = [(None, [])]
    in_fence = False
    for line in lines:
        if line.startswith("```"):
            in_fence = not in_fence
        if not in_fence and line.startswith("## "):
            sections.append((line[3:].strip(), [line]))
        else:
            sections[-1][1].append(line)
    return sections


def raise_headings(lines):
    """`## X` -> `# X {#x}`: one level up, and the anchor written out, so that the Chinese book,
    whose headings are translated, keeps the English anchors every link points to (mdBook would
    otherwise make the anchor from the translated text). The id is not part of the text to
    translate (mdbook-xgettext leaves it out)."""
    out = []
    in_fence = False
    used = {}
    for line in lines:
        if line.startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else re.match(r"(#{2,6}) (.*)", line)
        if m and "{#" not in m.group(2):
            anchor = slug(m.group(2))
            n = used.get(anchor, 0)
            used[anchor] = n + 1
            if n:
                anchor = f"{anchor}-{n}"
            line = f"{m.group(1)[1:]} {m.group(2)} {{#{anchor}}}"
        out.append(line)
    return out


def anchors_of(lines):
    found = []
    in_fence = False
    for line in lines:
        if line.startswith("```"):
            in_fence = not in_fence
        m = None if in_fence else re.match(r"#{1,6} (.*?)(?: \{#([^}]*)\})?$", line)
        if m:
            found.append(m.group(2) or slug(m.group(1)))
    return found


def rewrite_links(text, own_file, anchor_file):
    def fix(m):
        anchor = m.group(1)
        target = anchor_file.get(anchor)
        if target is None or target == own_file:
            return m.group(0)
        return f"]({target}#{anchor})"

    return re.sub(r"\]\(#([^)\s]+)\)", fix, text)


def admonish_wrong(lines):
    """A "what the tutorial gets wrong" passage -> a warning box. The passage is its lead
    paragraph plus what hangs from it: list items and their continuation lines. It ends at a
    blank line followed by anything else (the next `**Exercise.**`, a heading, a paragraph), or
    at a code block.

    The box is mdBook's own warning admonition written as HTML, not the `> [!WARNING]` Markdown
    that renders the same: mdbook-gettext would glue `[!WARNING]` into the translated paragraph
    and the Chinese book would show it as text."""
    out = []
    i = 0
    while i < len(lines):
        if not lines[i].startswith(WRONG_LEAD):
            out.append(lines[i])
            i += 1
            continue
        out += ['<blockquote class="blockquote-tag blockquote-tag-warning">', ""]
        while i < len(lines) and not lines[i].startswith("```"):
            line = lines[i]
            if line.strip() == "":
                nxt = lines[i + 1] if i + 1 < len(lines) else ""
                if not re.match(r"(\s+|- |\d+\. )", nxt):
                    break
            out.append(line)
            i += 1
        out += ["", "</blockquote>"]
    return out


def zoomable_pictures(text):
    return re.sub(
        r"(?<!\[)!\[([^\]]*)\]\((pictures/[^)\s]+\.svg)\)(?!\]\()",
        r"[![\1](\2)](\2)",
        text,
    )


class TranscriptNames:
    """The recorder's names (tests/transcript/mod.rs): the block's first lesson binary and a
    count, in document order (`01-echo-once-2.txt`: the second block that runs 01)."""

    def __init__(self):
        self.seen = {}

    def name(self, block):
        binary = "example"
        for line in block:
            if line.startswith("$ "):
                words = [w for w in line[2:].split() if re.fullmatch(r"\d\d-\S+", w)]
                if words:
                    binary = words[0]
                    break
        self.seen[binary] = self.seen.get(binary, 0) + 1
        return f"{binary}-{self.seen[binary]}.txt"


def fence_blocks(lines, names):
    """Marks code blocks untranslatable, swaps example blocks for their transcripts, folds
    long Python programs."""
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line.startswith("```"):
            out.append(line)
            i += 1
            continue
        end = i + 1
        while end < len(lines) and not lines[end].startswith("```"):
            end += 1
        block = lines[i : end + 1]
        marker = out[-1].strip() if out else ""
        shown_file = re.fullmatch(r"<!-- transcript: ([A-Za-z0-9._-]+) -->", marker)
        if shown_file:
            name = shown_file.group(1)
            if (ROOT / "transcripts" / name).exists():
                block = [block[0], f"{{{{#include {TO_ROOT}/transcripts/{name}}}}}", "```"]
            else:
                print(f"cut.py: no transcripts/{name}: shown as written", file=sys.stderr)
        elif marker.startswith("<!-- example-test"):
            name = names.name(block[1:-1])
            if (ROOT / "transcripts" / name).exists():
                block = [block[0], f"{{{{#include {TO_ROOT}/transcripts/{name}}}}}", "```"]
            else:
                print(f"cut.py: no transcripts/{name}: shown as written "
                      "(record it: bash book/refresh-transcripts.sh)", file=sys.stderr)
        body = len(block) - 2
        fold = block[0].strip() == "```python" and body >= FOLD_PYTHON_AT
        if fold:
            # The caption is a Markdown paragraph of its own (blank lines around it), so that
            # mdbook-xgettext extracts it and the Chinese book shows it translated; book.css
            # keeps it on the line of the summary's triangle.
            out += ["<details>", "<summary>", "", f"The Python program ({body} lines): open it",
                    "", "</summary>", ""]
        out.append("<!-- i18n:skip -->")
        out += block
        if fold:
            out += ["", "</details>"]
        i = end + 1
    return out


def main():
    lines = SOURCE.read_text(encoding="utf-8").split("\n")
    sections = split_sections(lines)
    chapters = []  # (title, file, lines)
    front = sections[0][1]
    chapters.append(("Introduction", "index.md", front))
    for heading, sec in sections[1:]:
        if heading in SKIPPED_SECTIONS:
            continue
        chapters.append((heading, file_name(heading), raise_headings(sec)))

    names = [f for _, f, _ in chapters]
    if len(set(names)) != len(names):
        sys.exit(f"cut.py: two chapters would share a file name: {names}")

    anchor_file = {}
    for _, f, sec in chapters:
        for a in anchors_of(sec):
            anchor_file.setdefault(a, f)

    if OUT.exists():
        shutil.rmtree(OUT)
    OUT.mkdir(parents=True)
    shutil.copytree(ROOT / "pictures", OUT / "pictures")

    names = TranscriptNames()
    for _, f, sec in chapters:
        sec = admonish_wrong(sec)
        sec = fence_blocks(sec, names)
        text = "\n".join(sec).rstrip("\n") + "\n"
        text = rewrite_links(text, f, anchor_file)
        text = zoomable_pictures(text)
        (OUT / f).write_text(text, encoding="utf-8")

    summary = ["# Summary", "", "[Introduction](index.md)", "", "# Before the lessons", ""]
    in_lessons = False
    for title, f, _ in chapters[1:]:
        is_lesson = re.match(r"\d\d-", title) is not None
        if is_lesson and not in_lessons:
            summary += ["", "# The lessons", ""]
        elif not is_lesson and in_lessons:
            summary += ["", "# After the lessons", ""]
        in_lessons = is_lesson
        summary.append(f"- [{title.replace('`', '')}]({f})")
    (OUT / "SUMMARY.md").write_text("\n".join(summary) + "\n", encoding="utf-8")
    print(f"cut.py: {len(chapters)} chapters into {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
