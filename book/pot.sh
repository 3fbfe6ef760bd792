#!/usr/bin/env bash
# Writes po/messages.pot: every paragraph, heading, list item and table cell of the book, cut
# afresh from walkthrough.md (book/cut.py), in English; code blocks are left out (cut.py marks
# them `<!-- i18n:skip -->`). No line numbers (granularity 0), so an edit elsewhere in a chapter
# does not touch the other entries. Usage: book/pot.sh [DIR]   (default: po)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-po}
python3 book/cut.py >/dev/null
MDBOOK_LOG="${MDBOOK_LOG:-warn}" \
MDBOOK_OUTPUT='{"xgettext": {"pot-file": "messages.pot", "granularity": 0}}' \
    mdbook build book -d "$dir"
echo "$dir/messages.pot: $(grep -c '^msgid' "$dir/messages.pot") messages"
