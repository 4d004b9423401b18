#!/usr/bin/env bash
# Coverage-guided fuzzing of cpd's input parsers with cargo-fuzz (libFuzzer).
#
# Usage:
#   scripts/fuzz.sh [TARGET|all] [SECONDS]
#   scripts/fuzz.sh --check [TARGET|all]   run every seed and every known
#                                          reproducer in tests/fuzz/regressions/
#                                          once; fails while any still crashes
#   scripts/fuzz.sh --build-only [TARGET|all]
#
#   TARGET   npy | npz | table | xyz | all        (default: all)
#   SECONDS  wall-clock budget per target          (default: 600)
#
# Targets (tests/fuzz/fuzz_targets/*.rs), each calls one parser on the raw
# input and ignores its Result; the property is "never panics, never aborts,
# never allocates absurdly":
#   npy    cpd::io::embeddings::parse_npy_bytes
#   npz    cpd::io::embeddings::parse_npz_bytes
#   table  cpd::io::table::parse_table           (CSV)
#   xyz    cpd::io::xyz::parse_compositions      (extended XYZ, UTF-8 only)
#
# Targets run one after another. To use two cores, start two invocations with
# different targets (after one `scripts/fuzz.sh --build-only`, so they do not
# both wait on the build):
#   scripts/fuzz.sh --build-only
#   scripts/fuzz.sh npy 600 & scripts/fuzz.sh table 600; wait
#
# Inputs:  tests/fuzz/seeds/<target>/  small committed seed corpus (read only;
#          regenerate with `python3 tests/fuzz/make_seeds.py`)
#          tests/fuzz/corpus/<target>/ scratch corpus libFuzzer grows (gitignored;
#          reused by later runs, delete it to start over)
# Outputs: tests/fuzz/artifacts/<target>/  crash-*, oom-*, timeout-*, leak-*
#          tests/fuzz/logs/<target>-<time>.log  full libFuzzer output
#
# Limits: -rss_limit_mb=2048 (also the per-malloc limit) so an absurd
# allocation is reported as an OOM crash; -max_len=65536; -timeout=10 s per
# input.
#
# Environment:
#   FUZZ_ARGS="..."    extra libFuzzer flags (appended, so they override)
#   FUZZ_KEEP_GOING=1  do not stop at the first crash/OOM/timeout: libFuzzer
#                      fork mode (-fork=1 -ignore_crashes=1 -ignore_ooms=1
#                      -ignore_timeouts=1) keeps fuzzing and saves every
#                      artifact; use it while a known crash is unfixed
#   FUZZ_NO_BUILD=1    skip `cargo fuzz build` and run the binaries already in
#                      tests/fuzz/target (e.g. while src/ is mid-edit)
#
# Needs cargo-fuzz (`cargo install cargo-fuzz`). On stable Rust the nightly
# flags cargo-fuzz uses are enabled with RUSTC_BOOTSTRAP=1 (set here).
#
# Reproduce / minimize a crash (the first form runs the binary as built):
#   tests/fuzz/target/x86_64-unknown-linux-gnu/release/TARGET tests/fuzz/artifacts/TARGET/crash-...
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir tests/fuzz TARGET tests/fuzz/artifacts/TARGET/crash-...
#   RUSTC_BOOTSTRAP=1 cargo fuzz tmin --fuzz-dir tests/fuzz TARGET tests/fuzz/artifacts/TARGET/crash-...
#
# Exit status: 0 if no target produced a new artifact, 1 if any did, 2 on
# usage or build errors.
set -euo pipefail

ALL_TARGETS=(npy npz table xyz)
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
FUZZ_DIR=tests/fuzz
export RUSTC_BOOTSTRAP="${RUSTC_BOOTSTRAP:-1}"

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"
}

build_only=0
check=0
case "${1:-}" in
-h | --help) usage; exit 0 ;;
--build-only) build_only=1; shift ;;
--check) check=1; shift ;;
esac

target="${1:-all}"
seconds="${2:-600}"
if ! [[ "$seconds" =~ ^[0-9]+$ ]] || [ "$seconds" -eq 0 ]; then
    echo "fuzz.sh: SECONDS must be a positive integer, got '$seconds'" >&2
    exit 2
fi
if [ "$target" = all ]; then
    targets=("${ALL_TARGETS[@]}")
elif [[ " ${ALL_TARGETS[*]} " == *" $target "* ]]; then
    targets=("$target")
else
    echo "fuzz.sh: unknown target '$target' (expected one of: ${ALL_TARGETS[*]} all)" >&2
    exit 2
fi

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz.sh: cargo-fuzz not found: cargo install cargo-fuzz" >&2
    exit 2
fi

cd "$ROOT"
host="$(rustc -vV | sed -n 's/^host: //p')"
bin_dir="$FUZZ_DIR/target/$host/release"
if [ "${FUZZ_NO_BUILD:-0}" != 1 ]; then
    echo "== building fuzz targets: ${targets[*]}"
    for t in "${targets[@]}"; do
        cargo fuzz build --fuzz-dir "$FUZZ_DIR" "$t" || exit 2
    done
fi
[ "$build_only" -eq 1 ] && exit 0
for t in "${targets[@]}"; do
    if [ ! -x "$bin_dir/$t" ]; then
        echo "fuzz.sh: $bin_dir/$t missing: build it (drop FUZZ_NO_BUILD)" >&2
        exit 2
    fi
done

if [ "$check" -eq 1 ]; then
    export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"
    failed=0
    for t in "${targets[@]}"; do
        for f in "$FUZZ_DIR/seeds/$t"/* "$FUZZ_DIR/regressions/$t"/*; do
            [ -f "$f" ] || continue
            if "$bin_dir/$t" -rss_limit_mb=2048 -timeout=10 "$f" >/dev/null 2>&1; then
                echo "ok    $t $f"
            else
                echo "FAIL  $t $f   (details: $bin_dir/$t -rss_limit_mb=2048 $f)"
                failed=1
            fi
        done
    done
    exit "$failed"
fi

fork_args=()
if [ "${FUZZ_KEEP_GOING:-0}" = 1 ]; then
    fork_args=(-fork=1 -ignore_crashes=1 -ignore_ooms=1 -ignore_timeouts=1)
fi
# As `cargo fuzz run` does; the binary is run directly so that a concurrent
# edit of src/ cannot trigger a rebuild in the middle of a session.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_odr_violation=0}"

mkdir -p "$FUZZ_DIR/logs"
status=0
summary=()
for t in "${targets[@]}"; do
    corpus="$FUZZ_DIR/corpus/$t"
    seeds="$FUZZ_DIR/seeds/$t"
    artifacts="$FUZZ_DIR/artifacts/$t"
    mkdir -p "$corpus" "$artifacts"
    log="$FUZZ_DIR/logs/$t-$(date +%Y%m%d-%H%M%S).log"
    marker="$(mktemp)"
    echo "== fuzzing $t for ${seconds}s (log: $log)"
    start=$(date +%s)
    # The scratch corpus comes first: libFuzzer writes new inputs there only.
    # shellcheck disable=SC2086
    "$bin_dir/$t" -artifact_prefix="$artifacts/" \
        -max_total_time="$seconds" -rss_limit_mb=2048 -max_len=65536 \
        -timeout=10 -print_final_stats=1 "${fork_args[@]}" ${FUZZ_ARGS:-} \
        "$corpus" "$seeds" >"$log" 2>&1 || true
    elapsed=$(($(date +%s) - start))
    execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
    if [ -z "$execs" ]; then # no final stats (crashed): last status line
        execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#' || true)
    fi
    cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
    new_artifacts=$(find "$artifacts" -type f -newer "$marker" \
        \( -name 'crash-*' -o -name 'oom-*' -o -name 'timeout-*' -o -name 'leak-*' \) | sort)
    rm -f "$marker"
    if [ -n "$new_artifacts" ]; then
        status=1
        n=$(echo "$new_artifacts" | wc -l)
        result="$n ARTIFACT(S): $(echo "$new_artifacts" | head -3 | tr '\n' ' ')"
        [ "$n" -gt 3 ] && result+="..."
        echo "-- $t: crash/oom/timeout reports (first lines; see the log):"
        { grep -E 'panicked at|ERROR: libFuzzer|==[0-9]+==ERROR|Test unit written' "$log" || true; } |
            sort | uniq -c | sort -rn | head -10 | sed 's/^/   /'
    else
        result="no crash"
    fi
    line=$(printf '%-6s %5ss  execs=%-10s %-22s %s' "$t" "$elapsed" "${execs:-?}" "${cov:-cov: ?}" "$result")
    echo "-- $line"
    summary+=("$line")
done

echo "== summary (target, wall time, executions, coverage, result)"
printf '%s\n' "${summary[@]}"
exit "$status"
