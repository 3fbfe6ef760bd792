#!/usr/bin/env bash
# Installs the tools the book needs, and nothing else:
#   mdBook 0.5.4          the newest mdBook that mdbook-i18n-helpers 0.4 works with (it needs mdbook 0.5.x)
#   mdbook-i18n-helpers   mdbook-xgettext (writes po/messages.pot) and mdbook-gettext (the Chinese book)
#   gettext               msgfmt / msgmerge / msginit (Debian package), for po/zh.po and its check
#   chromium              only with --browser: Debian's headless browser for book/browser-check.sh
# Safe to run twice: tools already at the right version are skipped.
set -euo pipefail

MDBOOK_VERSION=0.5.4
I18N_VERSION=0.4.0

have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }

if ! have_version mdbook "$MDBOOK_VERSION"; then
    cargo install --locked mdbook --version "$MDBOOK_VERSION"
fi
if ! command -v mdbook-gettext >/dev/null 2>&1 || ! command -v mdbook-xgettext >/dev/null 2>&1; then
    cargo install --locked mdbook-i18n-helpers --version "$I18N_VERSION"
fi

apt_install() {
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get install -y "$@" || { $sudo apt-get update && $sudo apt-get install -y "$@"; }
}
command -v msgfmt >/dev/null 2>&1 || apt_install gettext
if [ "${1:-}" = "--browser" ]; then
    command -v chromium >/dev/null 2>&1 || apt_install chromium
fi
echo "book tools ready: $(mdbook --version), mdbook-gettext, $(msgfmt --version | head -1)"
