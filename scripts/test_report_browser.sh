#!/usr/bin/env bash
# The report page tested in a real browser: builds `mmclust report` pages for
# Old Faithful (`demo`) and a generated 10^6-row file, as SVG and --format png,
# loads each in headless Chromium through its remote debugging protocol
# (scripts/browser_check.py, websocket-client + Pillow in .venv-browser/,
# gitignored) and fails, naming the page and the plot, on:
#   - a console error, an uncaught exception, an error log entry, a failed load;
#   - an <img> that did not decode (naturalWidth 0: a broken-image icon);
#   - a plot (<img>, inline <svg>) whose box in the full-page screenshot is
#     blank (under 0.5 % of its pixels differ from its background) or empty.
# The page holds its plots inline; the plot files written beside it (.svg or
# .png) are checked as <img> on a page that lists them.
# First it proves the checks can fail: broken copies of the demo page (a JS
# exception, a console.error, an <img> of a missing file, a plot emptied to its
# background) must each be caught, and the page itself must pass.
#
# Installs Debian's `chromium` when missing (root or sudo); CHROMIUM=PATH
# picks another browser. Where it cannot be installed, or does not start, it
# prints "skipped: ..." and exits 0.
#
# Usage: scripts/test_report_browser.sh [SHOTS_DIR]   (keeps the screenshots)
set -euo pipefail
cd "$(dirname "$0")/.."
shots=${1:-}
t_start=$SECONDS

# shellcheck source=scripts/debian_packages.sh
source scripts/debian_packages.sh
skip() { echo "skipped: $*"; exit 0; }
CHROMIUM=${CHROMIUM:-$(command -v chromium || true)}
if [ -z "$CHROMIUM" ]; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo -n true 2> /dev/null || skip "chromium is not installed and installing it needs root or sudo"
        SUDO="sudo -n"
    fi
    echo "installing chromium"
    $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq \
        && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${BROWSER_PACKAGES[@]}" > /dev/null \
        || skip "apt-get could not install chromium"
    CHROMIUM=$(command -v chromium || true)
    [ -n "$CHROMIUM" ] || skip "chromium installed but not on PATH"
fi

# The checker's venv (pins: Pillow as scripts/requirements-peers.txt).
VENV=.venv-browser
BASE_PY=${PYTHON:-python3}
REQS=("websocket-client==1.9.2" "$(grep -E '^pillow==' scripts/requirements-peers.txt)")
key=$( { printf '%s\n' "${REQS[@]}"; "$BASE_PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
if [[ ! -f "$VENV/.requirements-$key" || ! -x "$VENV/bin/python" ]]; then
    echo "test_report_browser.sh: preparing $VENV" >&2
    [[ -x "$VENV/bin/python" ]] || "$BASE_PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet "${REQS[@]}" || skip "could not install ${REQS[*]} from PyPI"
    rm -f "$VENV"/.requirements-*
    touch "$VENV/.requirements-$key"
fi
PY="$PWD/$VENV/bin/python"
CHECK="$PWD/scripts/browser_check.py"

# The CLI: MMCLUST_CLI when the caller gives one (.ci/run passes the test
# build's), else built here.
if [[ -n "${MMCLUST_CLI:-}" ]]; then
    BIN=$MMCLUST_CLI
else
    cargo build --quiet --profile ci -p mmclust-cli
    BIN="$PWD/target/ci/mmclust"
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$BIN" demo --out "$work/faithful-svg" -q > /dev/null
# First, on the demo's page: Chromium starts (else skip), and the checks catch
# broken copies of it.
set +e
"$PY" "$CHECK" --chromium "$CHROMIUM" --self-test "$work/faithful-svg/index.html"
rc=$?
set -e
[ $rc = 3 ] && skip "chromium did not start"
[ $rc = 0 ] || { echo "FAIL: the browser checks did not catch a broken page"; exit 1; }
t_reports=$SECONDS
"$BIN" report data/faithful.csv -k 1..=6 --standardize --format png --out "$work/faithful-png" -q > /dev/null
# 10^6 rows × 8: kept short (two k, one k-means++ run, two covariance types,
# silhouettes sampled from 2000 rows).
"$BIN" generate blobs -o "$work/blobs.npy" --n 1000000 --d 8 --k 3 --seed 7 -q
big=(-k 2..=3 --n-init 1 --covariance full,diag --gmm-max-iter 30 --sample 2000 -q)
"$BIN" report "$work/blobs.npy" "${big[@]}" --out "$work/blobs-svg" > /dev/null
"$BIN" report "$work/blobs.npy" "${big[@]}" --format png --out "$work/blobs-png" > /dev/null
echo "reports built in $((SECONDS - t_reports)) s"
t_check=$SECONDS

# The plot files beside each page, as <img>.
pages=()
for d in faithful-svg faithful-png blobs-svg blobs-png; do
    pages+=("$work/$d/index.html")
    {
        echo '<!DOCTYPE html><html><head><meta charset="utf-8"><title>plot files</title></head><body>'
        n=0
        for f in "$work/$d"/*.svg "$work/$d"/*.png; do
            [ -e "$f" ] || continue
            echo "<figure><img alt=\"$(basename "$f")\" src=\"$(basename "$f")\"></figure>"
            n=$((n + 1))
        done
        echo '</body></html>'
    } > "$work/$d/files.html"
    [ "$n" = 6 ] || { echo "FAIL $d: $n plot files beside the page, expected 6"; exit 1; }
    pages+=("$work/$d/files.html")
done

set +e
"$PY" "$CHECK" --chromium "$CHROMIUM" ${shots:+--shots "$shots"} "${pages[@]}"
rc=$?
set -e
[ $rc = 3 ] && skip "chromium did not start"
[ $rc = 0 ] || { echo "report browser tests FAILED"; exit 1; }
echo "report browser tests passed ($((SECONDS - t_start)) s, of which the browser checks $((SECONDS - t_check)) s)"
