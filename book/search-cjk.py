#!/usr/bin/env python3
"""Adds Chinese words to the search index mdBook built (book/build.sh runs it on both books).

mdBook 0.5 indexes only a-z and digits, so no Chinese text can be found. This cuts every run of
Chinese characters of every indexed section (title, body, breadcrumbs, which mdBook keeps in the
index's document store) into overlapping pairs of characters, as book/search-cjk.js cuts what
the reader types, and adds them to the index's word tree with elasticlunr's weights (tf = the
square root of the count; df = how many sections have the word).

Usage: python3 book/search-cjk.py book/build/html/en book/build/html/zh
"""

import json
import math
import re
import sys
from collections import Counter
from pathlib import Path

CHINESE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]+")
PREFIX = "window.search = Object.assign(window.search, JSON.parse('"
SUFFIX = "'));"


def pairs(run):
    return [run] if len(run) < 2 else [run[i : i + 2] for i in range(len(run) - 1)]


def chinese_words(text):
    return Counter(w for run in CHINESE.findall(text or "") for w in pairs(run))


def unescape(body):
    """mdBook wrote the JSON inside '...' with \\ and ' escaped by a backslash."""
    out, i = [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            out.append(body[i + 1])
            i += 2
        else:
            out.append(body[i])
            i += 1
    return "".join(out)


def add_words(index):
    store = index["documentStore"]
    added = 0
    for field in index["fields"]:
        root = index["index"][field]["root"]
        for ref, doc in store["docs"].items():
            words = chinese_words(doc.get(field, ""))
            for word, count in words.items():
                node = root
                for ch in word:
                    node = node.setdefault(ch, {"docs": {}, "df": 0})
                if ref not in node["docs"]:
                    node["df"] += 1
                node["docs"][ref] = {"tf": math.sqrt(count)}
                added += 1
            info = store["docInfo"].setdefault(ref, {})
            info[field] = info.get(field, 0) + sum(words.values())
    return added


def fix_book(book):
    for path in Path(book).glob("searchindex*.js"):
        text = path.read_text(encoding="utf-8").rstrip()
        if not (text.startswith(PREFIX) and text.endswith(SUFFIX)):
            sys.exit(f"search-cjk.py: {path} is not in the form mdBook 0.5 writes")
        data = json.loads(unescape(text[len(PREFIX) : -len(SUFFIX)]))
        added = add_words(data["index"])
        raw = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        path.write_text(PREFIX + raw.replace("\\", "\\\\").replace("'", "\\'") + SUFFIX + "\n", encoding="utf-8")
        json_twin = path.with_suffix(".json")
        if json_twin.exists():
            json_twin.write_text(raw, encoding="utf-8")
        print(f"search-cjk.py: {path}: {added} Chinese word entries added")


if __name__ == "__main__":
    for book in sys.argv[1:]:
        fix_book(book)
