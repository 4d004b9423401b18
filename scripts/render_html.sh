#!/usr/bin/env bash
# Render report.html of the bundled demo run to a PNG with headless Chromium,
# to look at the page as a person would.
#
# Usage:
#   scripts/render_html.sh [DIR]      (default DIR: reports)
#
# Runs `cargo run --release -- analyze --out DIR` (the demo on data/), then
# screenshots DIR/report.html into DIR/report.png, 1400 px wide and tall
# enough for the whole page. Installs Debian's `chromium` package with
# apt-get when /usr/bin/chromium is missing (needs root).
set -euo pipefail
cd "$(dirname "$0")/.."

dir="${1:-reports}"
chromium=/usr/bin/chromium

if [ ! -x "$chromium" ]; then
    echo "installing Debian's chromium package ..." >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
fi

cargo run --release --quiet -- analyze --out "$dir" >/dev/null

html="$dir/report.html"
png="$dir/report.png"
[ -f "$html" ] || { echo "error: $html was not written" >&2; exit 1; }

# Headless screenshots capture the window only, so size the window to the
# page: about 500 px per figure (440 px SVG, caption, margins), 30 px per
# table row, 700 px for headings, lead text and footer; the surplus is
# white space at the bottom.
figures=$(grep -o '<figure>' "$html" | wc -l)
rows=$(grep -o '<tr>' "$html" | wc -l)
height=$((700 + 500 * figures + 30 * rows))

log="$dir/.chromium.log"
if ! "$chromium" --headless --no-sandbox --disable-gpu --hide-scrollbars \
    --screenshot="$PWD/$png" --window-size="1400,$height" \
    "file://$PWD/$html" >"$log" 2>&1; then
    cat "$log" >&2
    exit 1
fi
rm -f "$log"
[ -s "$png" ] || { echo "error: chromium wrote no $png" >&2; exit 1; }
echo "wrote $png (1400 x $height px: $figures figures, $rows table rows)"
