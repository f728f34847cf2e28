#!/usr/bin/env bash
# Wall time, peak memory and CV figures of one training config on this CPU, then again as an AVX2-only machine
# (ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2: `training.precision: auto` resolves to fp32 there), then once
# more natively with the warm start loaded from the cache the first run wrote. Run it on a quiet machine:
#
#   bash experiments/bench_train.sh                          # configs/default.yaml: about an hour on 2 cores
#   bash experiments/bench_train.sh configs/tiny.yaml --set model.base_model=PATH   # a quick check it works
#
# Every run writes into its own throw-away MLflow store and warm-start cache (base models are shared from
# $TRAINER_CACHE/models), so nothing already cached makes a run look faster. BENCH_RUNS picks the runs
# (default "native avx2 native_cached"); BENCH_KEEP=1 keeps the stores and logs (their folder is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
config=${1:-configs/default.yaml}
shift || true
trainer=${TRAINER:-.venv/bin/trainer}
runs=${BENCH_RUNS:-native avx2 native_cached}
cache=${TRAINER_CACHE:-$HOME/.cache/trainer}
work=$(mktemp -d "${TMPDIR:-/tmp}/bench_train.XXXXXX")
[[ ${BENCH_KEEP:-0} == 1 ]] || trap 'rm -rf "$work"' EXIT
mkdir -p "$cache/models" "$work/cache"
ln -s "$(cd "$cache/models" && pwd)" "$work/cache/models"  # pulled base models only; warm starts stay in $work

run() {  # run NAME [ENV=VALUE ...]: one timed `trainer train` into its own store
  local name=$1
  shift
  mkdir -p "$work/$name"
  echo "== $name: $config $* ($(date '+%H:%M:%S'))" >&2
  if ! env "$@" TRAINER_CACHE="$work/cache" MLFLOW_TRACKING_URI="sqlite:///$work/$name/mlflow.db" \
    /usr/bin/time -v -o "$work/$name/time.txt" "$trainer" train "$config" --set tracking.run_name="bench_$name" \
    "${extra[@]}" >"$work/$name/out.txt" 2>"$work/$name/err.txt"; then
    echo "$name failed; last lines of its output:" >&2
    tail -n 5 "$work/$name/err.txt" >&2
    return 1
  fi
}

summary() {  # summary NAME: one markdown row
  local dir=$work/$1 wall rss precision cv cache_state
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$dir/time.txt")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$dir/time.txt")
  precision=$(sed -n 's/^  precision: \([a-z0-9]*\).*/\1/p' "$dir/out.txt" | head -n 1)
  cv=$(grep -E '^  micro-F1' "$dir/out.txt" | awk '{print $2 " / " $4}' || true)
  cache_state=$(grep -oE 'warm start(: cache hit| \(cache miss\)| \(not cached)' "$dir/out.txt" | head -n 1 || true)
  printf '| %s | %s | %s | %s MiB | %s | %s |\n' "$1" "${precision:--}" "$wall" "$((rss / 1024))" \
    "${cv:--}" "${cache_state:--}"
}

extra=("$@")
[[ ${#extra[@]} -gt 0 ]] || extra=()
for name in $runs; do
  case $name in
    native | native_cached) run "$name" ;;
    avx2) run avx2 ATEN_CPU_CAPABILITY=avx2 DNNL_MAX_CPU_ISA=AVX2 ;;
    *) echo "unknown run '$name' (native, avx2, native_cached)" >&2 && exit 2 ;;
  esac
done
echo
echo "trainer train $config ${extra[*]:-} on $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)"
echo
echo "| run | precision | wall (h:mm:ss) | peak RSS | CV micro / macro F1 | warm start |"
echo "|---|---|---|---|---|---|"
for name in $runs; do summary "$name"; done
[[ ${BENCH_KEEP:-0} != 1 ]] || echo "stores and logs kept in $work"
