# Sourced (not run) by scripts/test_python.sh and scripts/build_wheel.sh: the
# pins of the Python package's build and test environments, and the venv
# maker they share. Run from the repository root.

# pin NAME: NAME's pinned line (NAME==VERSION) in scripts/requirements-peers.txt.
pin() { grep -E "^$1==" scripts/requirements-peers.txt; }

# What the Python tests import beside mmclust (crates/python/tests).
# pyarrow, pandas: Tables, DataFrames and Parquet paths as inputs (test_dataframes.py);
# test-only, the package itself never needs them.
PY_TEST_REQS=("$(pin numpy)" "$(pin scipy)" "$(pin scikit-learn)" "$(pin pyarrow)" "$(pin pandas)" "pytest==9.2.0")
# The build backend (crates/python/pyproject.toml asks for maturin>=1.9,<2).
MATURIN_REQ="maturin==1.16.0"

# venv_ensure VENV BASE_PY REQ...: VENV (made with BASE_PY if missing) holding
# REQ.... A stamp keyed on the requirements and the interpreter's version makes
# reruns instant; delete VENV to start over.
venv_ensure() {
    local venv=$1 base_py=$2
    shift 2
    local key stamp
    key=$( { printf '%s\n' "$@"; "$base_py" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)
    stamp="$venv/.requirements-$key"
    if [[ -f "$stamp" && -x "$venv/bin/python" ]]; then
        return 0
    fi
    echo "$(basename "$0"): preparing $venv with $("$base_py" --version)" >&2
    [[ -x "$venv/bin/python" ]] || "$base_py" -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet "$@"
    rm -f "$venv"/.requirements-*
    touch "$stamp"
}
