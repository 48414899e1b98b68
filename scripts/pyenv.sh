#!/usr/bin/env bash
# Create or update the Python venv used by the fixture and benchmark scripts.
#
#   scripts/pyenv.sh            # prints the venv's python path on stdout (last line)
#
# The venv lives at .venv-py/ (gitignored). Packages come from
# scripts/requirements-peers.txt (pinned). A stamp file keyed on the hash of that
# file and the interpreter version makes reruns instant; delete .venv-py/ to rebuild
# from scratch. PYTHON picks the base interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-py
REQ=scripts/requirements-peers.txt
BASE_PY=${PYTHON:-python3}

key=$( { cat "$REQ"; "$BASE_PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
stamp="$VENV/.requirements-$key"

if [[ -f "$stamp" && -x "$VENV/bin/python" ]]; then
    echo "$VENV/bin/python"
    exit 0
fi

if [[ ! -x "$VENV/bin/python" ]]; then
    echo "pyenv.sh: creating $VENV with $("$BASE_PY" --version)" >&2
    "$BASE_PY" -m venv "$VENV"
fi
echo "pyenv.sh: installing $REQ into $VENV" >&2
"$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
"$VENV/bin/python" -m pip install --quiet -r "$REQ" >&2
rm -f "$VENV"/.requirements-*
touch "$stamp"
echo "pyenv.sh: ready" >&2
echo "$VENV/bin/python"
