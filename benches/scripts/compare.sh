#!/usr/bin/env bash
# Side-by-side comparison of accel with its peers (gemm, faer, matrixmultiply, onnxruntime)
# on the suites of the CPU-speed targets, printed as markdown tables.
#
#   benches/scripts/compare.sh                      # every suite (long: about an hour)
#   benches/scripts/compare.sh f32-gemm resnet50    # some suites
#   THREADS=1 MAX_SIZE=1024 benches/scripts/compare.sh f32-gemm   # a subset of a suite
#
# The suites, their shapes and runs live in benches/src/suites.rs (`accel-bench suite` lists
# them; `accel-bench suite NAME` prints the runs). Each run prints one JSON line, collected
# in $OUT/<suite>.jsonl; `accel-bench table` renders $OUT/<suite>.md from it.
#
# Environment:
#   THREADS     keep runs with these thread counts, comma-separated (default: all)
#   MAX_SIZE    keep runs whose largest matmul dimension / conv batch is at most this
#   EXTRA       extra arguments for every run (e.g. "--min-time 1 --reps 10")
#   ORT_PYTHON  python with onnxruntime, onnx, numpy (default /tmp/ortvenv/bin/python;
#               onnxruntime runs are skipped with a message when it is missing)
#   OUT         output directory (default bench-results)
#   CARGO_TARGET_DIR  where accel-bench is built (default target)
#   ACCEL_CPU_ISA     forces accel's ISA path (recorded in every line)
# Run it on an otherwise idle machine: every figure is a best-of-runs time.
set -uo pipefail
cd "$(dirname "$0")/../.."

ALL="f32-gemm int8-gemm lowp-gemm small-gemm resnet50 mobilenet-dw epilogue"
SUITES=${*:-$ALL}
ORT_PYTHON=${ORT_PYTHON:-/tmp/ortvenv/bin/python}
OUT=${OUT:-bench-results}
EXTRA=${EXTRA:-}
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-target}

cargo build --release -q -p accel-bench || exit 1
BIN=$CARGO_TARGET_DIR/release/accel-bench
ORT_SCRIPT=benches/scripts/onnxruntime_bench.py
have_ort=1
if ! "$ORT_PYTHON" -c "import onnxruntime, onnx, numpy" 2>/dev/null; then
  echo "compare.sh: $ORT_PYTHON lacks onnxruntime/onnx/numpy: onnxruntime runs are skipped" >&2
  echo "  (python3 -m venv /tmp/ortvenv && /tmp/ortvenv/bin/pip install onnxruntime onnx numpy)" >&2
  have_ort=0
fi

filter=()
[ -n "${THREADS:-}" ] && filter+=(--threads "$THREADS")
[ -n "${MAX_SIZE:-}" ] && filter+=(--max-size "$MAX_SIZE")

mkdir -p "$OUT"
echo "# accel-bench comparison, $(date -u +%Y-%m-%dT%H:%MZ), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2-)"
echo
"$BIN" probe --threads 1 --peaks-only
failed=0
for suite in $SUITES; do
  runs=$("$BIN" suite "$suite" "${filter[@]}") || exit 1
  results="$OUT/$suite.jsonl"
  : > "$results"
  while read -r tool args; do
    [ -z "$tool" ] && continue
    # shellcheck disable=SC2086 # args and EXTRA are word lists
    case $tool in
      bin) "$BIN" $args $EXTRA --json < /dev/null >> "$results" || { echo "FAILED: accel-bench $args" >&2; failed=1; } ;;
      ort)
        if [ $have_ort = 1 ]; then
          "$ORT_PYTHON" "$ORT_SCRIPT" $args $EXTRA --probe "$BIN" --json < /dev/null >> "$results" \
            || { echo "FAILED: $ORT_SCRIPT $args" >&2; failed=1; }
        fi ;;
    esac
  done <<< "$runs"
  echo
  "$BIN" table --suite "$suite" "$results" | tee "$OUT/$suite.md"
done
exit $failed
