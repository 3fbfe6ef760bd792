#!/usr/bin/env bash
# Is the Chinese book complete? Run before a release (exits non-zero when it is not).
#   1. po/messages.pot is made afresh from walkthrough.md (book/pot.sh), and po/zh.po is
#      merged with it into a temporary copy: English changed since the translation shows up as
#      fuzzy (changed) or untranslated (new) entries.
#   2. msgfmt --statistics counts them; every one is named (its English text, shortened).
# With --update the merged po/zh.po is written back (then translate what it names, and remove
# the "#, fuzzy" marks of entries you have checked).
set -euo pipefail
cd "$(dirname "$0")/.."

bash book/pot.sh
merged=$(mktemp --suffix=.po)
trap 'rm -f "$merged"' EXIT
msgmerge --quiet --no-wrap -o "$merged" po/zh.po po/messages.pot
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
    echo "po/zh.po updated from po/messages.pot"
fi
if [ -n "$untranslated$fuzzy" ]; then
    echo "po/zh.po: $(printf '%s\n%s\n' "$untranslated" "$fuzzy" | grep -c .) entries need translating (see above)"
    exit 1
fi
echo "po/zh.po: complete"
