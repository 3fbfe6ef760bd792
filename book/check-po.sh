#!/usr/bin/env bash
# Is the Chinese book complete? Run before a release (exits non-zero when it is not).
#   1. messages.pot is made afresh from walkthrough.md (book/pot.sh, into a temporary folder),
#      and po/zh.po is merged with it into a temporary copy: English changed since the
#      translation shows up as fuzzy (changed) or untranslated (new) entries.
#   2. msgfmt --statistics counts them; every one is named (its English text, shortened).
# With --update the merged po/zh.po is written back (then translate what it names, and remove
# the "#, fuzzy" marks of entries you have checked).
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bash book/pot.sh "$work" >/dev/null
merged="$work/zh.po"
msgmerge --quiet --no-wrap -o "$merged" po/zh.po "$work/messages.pot"
python3 book/po-fill-code.py "$merged" >/dev/null

msgfmt --check --statistics -o /dev/null "$merged" 2>&1 | sed 's/^/po\/zh.po: /'
name_entries() {  # $1: what, $2...: msgattrib filter
    local what=$1; shift
    msgattrib "$@" --no-obsolete --no-wrap "$merged" \
        | awk -v what="$what" '/^#: /{src=$2} /^msgid "/{id=substr($0,8,length($0)-8); if (id!="") printf "  %s %s: %.90s\n", what, src, id}'
}
untranslated=$(name_entries untranslated --untranslated)
fuzzy=$(name_entries fuzzy --only-fuzzy)
[ -n "$untranslated" ] && echo "$untranslated"
[ -n "$fuzzy" ] && echo "$fuzzy"
if [ "${1:-}" = "--update" ]; then
    cp "$merged" po/zh.po
    cp "$work/messages.pot" po/messages.pot
    echo "po/zh.po and po/messages.pot updated from walkthrough.md"
fi
if [ -n "$untranslated$fuzzy" ]; then
    echo "po/zh.po: entries: $(printf '%s\n%s\n' "$untranslated" "$fuzzy" | grep -c .) to translate or check again (named above)"
    exit 1
fi
echo "po/zh.po: complete"
