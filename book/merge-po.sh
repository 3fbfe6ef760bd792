#!/usr/bin/env bash
# Merges translations made in parts (each translator's PO file covers part of po/messages.pot)
# into po/zh.po:  bash book/merge-po.sh /work/trans/zh-part-*.po
# Only translated entries of the parts are taken; po/zh.po keeps its header and what it already
# has (a part's entry wins only where po/zh.po has none); the result holds exactly the messages of
# po/messages.pot, then code-only entries are filled in and book/check-po.sh tells what is left.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: $0 PART.po ..." >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
msgattrib --translated --no-obsolete --no-wrap -o "$work/0-current.po" po/zh.po
n=1
for part in "$@"; do
    part=$(realpath "$part")
    msgattrib --translated --no-fuzzy --no-obsolete --no-wrap -o "$work/$n-part.po" "$part"
    n=$((n + 1))
done
msgcat --use-first --no-wrap -o "$work/all.po" "$work"/*.po
msgmerge --quiet --no-wrap --no-fuzzy-matching -o po/zh.po "$work/all.po" po/messages.pot
python3 book/po-fill-code.py po/zh.po
msgfmt --statistics -o /dev/null po/zh.po
