#!/usr/bin/env bash
# Builds the socklab book in English and in Chinese into book/build/html/ (one folder: open
# book/build/html/index.html, or serve it: `python3 -m http.server -d book/build/html`).
#   1. book/cut.py cuts walkthrough.md into chapters (book/build/src/, generated, not committed)
#   2. mdbook builds the English book            -> book/build/html/en/
#   3. mdbook builds it again with po/zh.po       -> book/build/html/zh/
#      and book/search-cjk.py adds Chinese words to both search indexes
#   4. with --pot: mdbook-xgettext writes po/messages.pot, the English text to translate
#      (book/check-po.sh --update then merges it into po/zh.po).
# Tools: book/setup.sh installs them.
set -euo pipefail
cd "$(dirname "$0")/.."
export MDBOOK_LOG="${MDBOOK_LOG:-warn}"

python3 book/cut.py
out=book/build/html
rm -rf "$out"
mdbook build book -d book/build/html/en
MDBOOK_BOOK__LANGUAGE=zh mdbook build book -d book/build/html/zh
# mdBook's search finds no Chinese words: add them to both indexes (book/search-cjk.py).
python3 book/search-cjk.py "$out/en" "$out/zh" >/dev/null

cat > "$out/index.html" <<'HTML'
<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>socklab book</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: sans-serif; max-width: 40em; margin: 3em auto; line-height: 1.6">
<main>
<h1>socklab</h1>
<p><a href="en/index.html">The book in English</a></p>
<p lang="zh"><a href="zh/index.html">中文版</a></p>
</main>
</body></html>
HTML

if [ "${1:-}" = "--pot" ]; then
    # xgettext renders the English book (no language) into po/messages.pot.
    bash book/pot.sh
fi
echo "book: $out/index.html (English: $out/en, Chinese: $out/zh)"
