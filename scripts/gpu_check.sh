#!/usr/bin/env bash
# End-to-end check on a GPU machine: the CUDA tests, the full pipeline on CUDA (fp32: bf16 autocast
# measured slower at this size, BENCHMARKS.md),
# held-out evaluation of every stage (inside the pipeline) and the benchmark, then one table.
# A few minutes on one GPU. Each step writes its log and JSON as soon as it ends, so a run cut
# short still leaves what it measured.
#
# Usage: bash scripts/gpu_check.sh [OUT_DIR]
#   DEVICE=cpu PRESET=tiny BENCH_ARGS=--quick bash scripts/gpu_check.sh /tmp/x   # dry run, no GPU
set -uo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/rlhf_gpu_check}"
device="${DEVICE:-cuda}"
preset="${PRESET:-full}"
models="${MODELS_DIR:-$out/models}"  # checkpoints: keep them out of a folder that must stay small
mkdir -p "$out"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1

python3 - "$device" <<'PY'
import sys, torch, transformers
print(f"torch {torch.__version__}, transformers {transformers.__version__}")
if sys.argv[1] == "cuda":
    assert torch.cuda.is_available(), "no CUDA GPU here"
    print(f"GPU: {torch.cuda.get_device_name(0)}, bf16 {torch.cuda.is_bf16_supported()}")
try:
    import trl
    print(f"trl {trl.__version__}")
except ImportError:
    print("trl: not installed (no TRL comparisons)")
PY
[ $? = 0 ] || exit 1

# The CUDA tests (skipped without a GPU): recorded logits, greedy answers, a tiny pipeline.
python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py tests/test_packed.py >"$out/pytest_cuda.log" 2>&1
echo "tests/test_cuda.py + test_packed.py: $(tail -1 "$out/pytest_cuda.log")"

start=$(date +%s)
timeout "${PIPELINE_TIMEOUT:-300}" python3 -m rlhf_core pipeline --out "$models" --preset "$preset" --device "$device" \
    >"$out/pipeline.log" 2>&1
pipeline_rc=$?
echo "pipeline exit $pipeline_rc, $(( $(date +%s) - start )) s"
cp "$models/metrics.json" "$out/metrics.json" 2>/dev/null

start=$(date +%s)
# shellcheck disable=SC2086  # BENCH_ARGS is a list of flags
timeout "${BENCH_TIMEOUT:-300}" python3 -m rlhf_core bench --json --device "$device" --sft "$models/sft" --reward "$models/reward" \
    ${BENCH_ARGS:-} 2>"$out/bench.log" | tail -1 >"$out/bench.json"
bench_rc=${PIPESTATUS[0]}
echo "bench exit $bench_rc, $(( $(date +%s) - start )) s"

python3 - "$out" <<'PY' | tee "$out/table.txt"
import json, math, sys
out = sys.argv[1]
try:
    m = json.load(open(f"{out}/metrics.json"))
except (OSError, ValueError) as exc:
    m = {}
    print(f"no pipeline metrics: {exc}")
if m:
    w = m.get("wall_seconds", {})
    print(f"pipeline ({m.get('preset')}, {m.get('device')}): " + ", ".join(f"{k} {v:.1f} s" if isinstance(v, float) else f"{k} {v}" for k, v in w.items()))
    print(f"{'stage':8s} {'gold':>6s} {'eos':>6s} {'refuse':>7s} {'overref':>8s} {'dist2':>6s} {'win/sft':>8s} {'KL':>6s}")
    for name in ("base", "sft", "ppo", "dpo"):
        e = m.get(name, {}).get("eval")
        if not e:
            continue
        print(f"{name:8s} {e['gold_score']:6.3f} {e['eos_rate']:6.3f} {e['refusal_rate_harmful']:7.3f} "
              f"{e['overrefusal_rate_benign']:8.3f} {e['distinct_2']:6.3f} {e.get('win_rate_vs_sft', math.nan):8.3f} "
              f"{e.get('kl_to_reference', math.nan):6.2f}")
    if "pair_accuracy" in m.get("reward", {}):
        print(f"reward pair_accuracy: {m['reward']['pair_accuracy']:.3f}")
try:
    b = json.load(open(f"{out}/bench.json"))
except (OSError, ValueError) as exc:
    print(f"no bench result: {exc}")
    sys.exit(0)
print(f"bench machine: {b['machine']}")
for k, v in b.get("stages", {}).items():
    print(f"bench {k:6s} {v['seconds_per_step']*1000:8.1f} ms/step {v['tokens_per_second']:10.0f} tok/s "
          f"lesson estimate {v['lesson_seconds_estimate']:6.1f} s")
for k, v in b.get("vs_trl", {}).items():
    if "speedup" in v:
        print(f"vs trl {v.get('trl_version', '')} {k}: ours {v['ours_s']*1000:.1f} ms, trl {v['trl_s']*1000:.1f} ms, "
              f"speedup {v['speedup']:.2f}x")
    else:
        print(f"vs trl {k}: {v.get('unavailable')}")
PY
exit $(( pipeline_rc || bench_rc ))
