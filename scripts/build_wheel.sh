#!/usr/bin/env bash
# A wheel of the Python package that installs without Rust: builds crates/python
# with maturin into target/wheels/ as one manylinux_2_17 (manylinux2014) abi3
# wheel (cp39-abi3: every CPython >= 3.9), linked by zig (the `ziglang` PyPI
# package) against glibc 2.17's symbols, so it runs on any x86_64 Linux with
# glibc >= 2.17. Then:
#   1. `auditwheel show` must find it consistent with a manylinux_2_X tag
#      (X >= 17) no newer than the one in its name, and the name must say
#      cp39-abi3;
#   2. it is installed into a fresh venv (.venv-wheel/test, made anew each run)
#      and the Python test suite (crates/python/tests) runs against it on a
#      PATH without cargo or rustc (checked).
#
#   scripts/build_wheel.sh [--no-test] [PYTEST ARGS...]
#
# Profile: `release` (thin LTO, codegen-units 4; --strip drops its line tables
# from the library), not the tests' `ci`. The tests compare against the CLI
# (MMCLUST_CLI), built first with the `ci` profile as scripts/test_python.sh
# does (same code, same bits), while cargo is still on PATH. Slow, so it is not
# part of .ci/run: the release build of every crate the package uses took 6 min
# from scratch on a loaded 2-core machine (8 min for the whole script, tests
# included); a rerun with the build up to date takes 1.5 min.
#
# Needs python3 (>= 3.9) with venv and pip, a Rust toolchain (for the build
# only) and network access to PyPI the first time (maturin, ziglang,
# auditwheel into .venv-wheel/build; pins in scripts/pyreqs.sh and below).
# PYTHON picks the base interpreter (default: python3).
set -euo pipefail
cd "$(dirname "$0")/.."

run_tests=1
if [[ ${1:-} == --no-test ]]; then
    run_tests=0
    shift
fi

BASE_PY=${PYTHON:-python3}
BUILD_VENV=.venv-wheel/build
TEST_VENV=.venv-wheel/test
OUT=target/wheels
# shellcheck source=scripts/pyreqs.sh
source scripts/pyreqs.sh
venv_ensure "$BUILD_VENV" "$BASE_PY" "$MATURIN_REQ" "ziglang==0.15.2" "auditwheel==6.8.2"

export CARGO_TARGET_DIR="$PWD/target"
# maturin finds zig through `python -m ziglang` of the venv on PATH.
export PATH="$PWD/$BUILD_VENV/bin:$PATH"
mkdir -p "$OUT"
rm -f "$OUT"/mmclust-*.whl
start=$SECONDS
maturin build --release --strip --zig --compatibility manylinux2014 \
    --manifest-path crates/python/Cargo.toml --out "$OUT"
echo "build_wheel.sh: built in $((SECONDS - start)) s" >&2
wheels=("$OUT"/mmclust-*.whl)
if [[ ${#wheels[@]} -ne 1 || ! -f ${wheels[0]} ]]; then
    echo "build_wheel.sh: expected one wheel in $OUT, found: ${wheels[*]}" >&2
    exit 1
fi
wheel=${wheels[0]}
name=$(basename "$wheel")
echo "build_wheel.sh: $wheel ($(stat -c %s "$wheel") bytes)" >&2

# 1. The tags: abi3 for CPython >= 3.9, and a manylinux tag auditwheel agrees with.
show=$(auditwheel show "$wheel")
echo "$show"
if [[ $name != *-cp39-abi3-* ]]; then
    echo "build_wheel.sh: $name is not a cp39-abi3 wheel" >&2
    exit 1
fi
# The glibc minor version of the oldest manylinux_2_X tag in the wheel's name,
# and of the tag auditwheel finds its symbols consistent with.
# (auditwheel wraps its lines, so its answer is read as one line.)
claimed=$(grep -oE 'manylinux_2_[0-9]+_x86_64' <<<"$name" | sed -E 's/manylinux_2_([0-9]+)_.*/\1/' | sort -n | head -n1 || true)
needed=$(tr '\n' ' ' <<<"$show" | grep -oE 'consistent with the following platform tag:[[:space:]]*"manylinux_2_[0-9]+' | grep -oE '[0-9]+$' | head -n1 || true)
if [[ -z $claimed || -z $needed ]]; then
    echo "build_wheel.sh: no manylinux_2_X tag in the wheel's name ($name) or in auditwheel's answer" >&2
    exit 1
fi
if ((claimed < 17 || needed > claimed)); then
    echo "build_wheel.sh: $name claims manylinux_2_$claimed, auditwheel finds manylinux_2_$needed; want 2_17 or later, no older than auditwheel's" >&2
    exit 1
fi
echo "build_wheel.sh: tags ok: cp39-abi3, manylinux_2_$claimed (auditwheel: manylinux_2_$needed)" >&2
[[ $run_tests == 1 ]] || exit 0

# 2. The test suite against the installed wheel, without Rust. The CLI the tests
# compare against is built now, while cargo is on PATH.
cargo build --quiet --profile ci -p mmclust-cli
export MMCLUST_CLI="$CARGO_TARGET_DIR/ci/mmclust"
rm -rf "$TEST_VENV"
"$BASE_PY" -m venv "$TEST_VENV"
"$TEST_VENV/bin/python" -m pip install --quiet --upgrade pip
"$TEST_VENV/bin/python" -m pip install --quiet "$wheel" "${PY_TEST_REQS[@]}"

# PATH without any folder holding cargo or rustc, and no rustup/cargo variables.
clean_path=
IFS=: read -ra dirs <<<"$PATH"
for dir in "${dirs[@]}"; do
    [[ -n $dir && ! -e $dir/cargo && ! -e $dir/rustc ]] || continue
    clean_path=${clean_path:+$clean_path:}$dir
done
no_rust=(env -u CARGO_HOME -u RUSTUP_HOME -u CARGO_TARGET_DIR -u RUSTUP_TOOLCHAIN "PATH=$clean_path")
if "${no_rust[@]}" bash -c 'command -v cargo || command -v rustc'; then
    echo "build_wheel.sh: cargo or rustc is still on the tests' PATH" >&2
    exit 1
fi
py=$PWD/$TEST_VENV/bin/python
site=$("${no_rust[@]}" "$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
cd crates/python/tests
# The tests must import the installed wheel, not the source tree.
where=$("${no_rust[@]}" "$py" -c 'import mmclust, mmclust._native as n; print(n.__file__)')
if [[ $where != "$site"/* ]]; then
    echo "build_wheel.sh: the tests would import $where, not the wheel in $site" >&2
    exit 1
fi
echo "build_wheel.sh: testing $where without cargo or rustc on PATH" >&2
exec "${no_rust[@]}" "$py" -m pytest -q "$@"
