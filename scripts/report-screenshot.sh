#!/usr/bin/env bash
# docs/img/report.png, the README's screenshot, from a real `make demo` run: the README's first
# command runs in a scratch folder (so the checkout's gameday-reports/ and history stay as they
# are, and the report shows a first run, as a newcomer sees it), then Debian's headless Chromium
# takes the top of its report.html: the suite, then the first drill down to its timelines.
#
#   scripts/report-screenshot.sh                 # make demo, then the screenshot (~4 min)
#   scripts/report-screenshot.sh REPORT.html     # the screenshot of a report already written
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
out=$repo/docs/img/report.png
size=1280,2100

command -v chromium >/dev/null 2>&1 || { echo "needs Debian's chromium: apt-get install chromium" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
if (($#)); then
    report=$(realpath "$1")
else
    make --no-print-directory .venv/.installed
    # -o: the venv is the checkout's, made just above; the scratch folder has no pyproject.toml.
    make --no-print-directory -C "$work" -f "$repo/Makefile" -o "$repo/.venv/.installed" demo \
        VENV="$repo/.venv" SCENARIOS="$repo/scenarios/"
    report=$work/gameday-reports/report.html
fi
test -s "$report" || { echo "no report at $report" >&2; exit 1; }
mkdir -p "$(dirname "$out")"
# The report is one self-contained page: no network is needed, none is allowed.
chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --no-first-run \
    --disable-background-networking --user-data-dir="$work/profile" --window-size="$size" \
    --screenshot="$out" "file://$report" 2>/dev/null
echo "wrote $out from $report"
