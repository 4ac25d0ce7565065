#!/usr/bin/env bash
# Renders a conformance report page in headless Chromium and writes a PNG screenshot, to check
# by eye that the self-contained page displays (no external assets, nothing broken).
#   scripts/screenshot-report.sh [reports/latest/report.html] [out.png]
# Needs Debian's chromium (`apt-get install -y chromium`). Loads only the local file.
set -euo pipefail
page=${1:-reports/latest/report.html}
out=${2:-${page%.html}.png}
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
chromium --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$profile" --window-size=1280,2000 \
  --screenshot="$(realpath -m "$out")" "file://$(realpath "$page")" 2>/dev/null
echo "wrote $out"
