#!/usr/bin/env python3
"""Fills in the messages of a PO file that are code only: msgstr = msgid.

Fenced code blocks never reach po/messages.pot (book/cut.py marks them `<!-- i18n:skip -->`),
but a table cell or a list item can be nothing but inline code (`01-echo-once`, `--port 0`),
numbers and punctuation. Such a message reads the same in Chinese: this copies it, so that a
translator never has to, and the check (book/check-po.sh) does not count it as untranslated.
Only empty translations are filled; nothing a translator wrote is touched.

Usage: python3 book/po-fill-code.py po/zh.po [more.po ...]
"""

import re
import sys


def text_of(lines, keyword):
    """The (still escaped) string of `keyword` ("msgid" / "msgstr") in one entry."""
    parts, inside = [], False
    for line in lines:
        if line.startswith(keyword + " "):
            inside = True
            parts.append(line[len(keyword) + 1 :].strip()[1:-1])
        elif inside and line.startswith('"'):
            parts.append(line.strip()[1:-1])
        elif inside:
            break
    return "".join(parts)


def is_code_only(msgid):
    text = re.sub(r"`[^`]*`", "", msgid)  # inline code spans
    text = re.sub(r"\\[nt\"\\]", " ", text)
    return msgid != "" and not re.search(r"[^\W\d_]", text)  # no letters left


def fill(path):
    with open(path, encoding="utf-8") as f:
        entries = f.read().split("\n\n")
    filled = 0
    out = []
    for entry in entries:
        lines = entry.split("\n")
        msgid = text_of(lines, "msgid")
        msgstr = text_of(lines, "msgstr")
        if msgstr == "" and is_code_only(msgid) and not any(l.startswith("#, fuzzy") for l in lines):
            start = next(i for i, l in enumerate(lines) if l.startswith("msgstr "))
            id_start = next(i for i, l in enumerate(lines) if l.startswith("msgid "))
            id_lines = lines[id_start:start]
            lines = lines[:start] + ["msgstr " + id_lines[0][len("msgid ") :]] + id_lines[1:] + [
                l for l in lines[start + 1 :] if not l.startswith('"')
            ]
            filled += 1
        out.append("\n".join(lines))
    with open(path, "w", encoding="utf-8") as f:
        f.write("\n\n".join(out))
    print(f"{path}: {filled} code-only messages filled in (msgstr = msgid)")


if __name__ == "__main__":
    for p in sys.argv[1:]:
        fill(p)
