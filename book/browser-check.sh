#!/usr/bin/env bash
# Builds both books, then opens every page in headless Chromium (book/browser-check.py): every
# chapter loads, every picture and internal link resolves, search finds "sticky" (English) and
# 粘包 (Chinese), no page needs horizontal scrolling at 1024 px. Needs book/setup.sh --browser.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash book/build.sh
python3 book/browser-check.py
echo "browser-check: $(( $(date +%s) - start )) s in all"
