#!/usr/bin/env bash
# Coverage-guided fuzzing of every input parser (cargo-fuzz / libFuzzer).
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
# Runs each target for SECONDS (default 600) with the corpus in
# fuzz/corpus/<target>/ (committed seeds are the seed-* files; new inputs stay
# there, ignored by git) and leaves a log per target in fuzz/logs/. A crash,
# hang (-timeout, 10 s) or out-of-memory (-rss_limit_mb, 2048) is written to
# fuzz/artifacts/<target>/ and the script exits non-zero; every one found so
# far is fixed and kept as a regression test in
# crates/core/tests/fuzz_regressions.rs (fixtures in crates/core/tests/fixtures/fuzz/).
#
# Needs a nightly toolchain and cargo-fuzz (`cargo install cargo-fuzz`).
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
SECONDS_PER_TARGET=${1:-600}
shift || true
TARGETS=("$@")
if [ ${#TARGETS[@]} -eq 0 ]; then
    TARGETS=(npy vecs csv model_json checkpoint)
fi
mkdir -p logs
cargo +nightly fuzz build -O
status=0
for t in "${TARGETS[@]}"; do
    mkdir -p "corpus/$t" "artifacts/$t"
    echo "== $t: ${SECONDS_PER_TARGET} s"
    if ! cargo +nightly fuzz run -O "$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        -max_len=65536 -print_final_stats=1 >"logs/$t.log" 2>&1; then
        echo "!! $t found a problem; see fuzz/logs/$t.log and fuzz/artifacts/$t/"
        status=1
    fi
    grep -E '^stat::number_of_executed_units|^Done [0-9]+ runs' "logs/$t.log" | tail -2 || true
done
exit $status
