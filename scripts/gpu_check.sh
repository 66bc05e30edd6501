#!/usr/bin/env bash
# End-to-end check on a GPU machine: the full pipeline on CUDA (bf16 autocast where it helps),
# held-out evaluation of every stage and the benchmark, then one table. A few minutes on one GPU.
# Usage: bash scripts/gpu_check.sh [OUT_DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-/tmp/rlhf_gpu_check}"
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA GPU here'; print(torch.cuda.get_device_name(0))"
start=$(date +%s)
python3 -m rlhf_core pipeline --out "$out" --device cuda 2>"$out.pipeline.log" | tail -1 > "$out.summary.json"
end=$(date +%s)
python3 -m rlhf_core bench --json --device cuda 2>"$out.bench.log" | tail -1 > "$out.bench.json"
python3 - "$out" "$((end - start))" <<'PY'
import json, sys
out, wall = sys.argv[1], sys.argv[2]
m = json.load(open(f"{out}/metrics.json"))
print(f"pipeline wall time on CUDA: {wall} s")
print(f"{'stage':8s} {'gold':>6s} {'eos':>6s} {'refuse':>7s} {'overref':>8s} {'dist2':>6s} {'win/sft':>8s} {'KL':>6s}")
for name in ("base", "sft", "ppo", "dpo"):
    e = m.get(name, {}).get("eval")
    if not e:
        continue
    print(f"{name:8s} {e['gold_score']:6.3f} {e['eos_rate']:6.3f} {e['refusal_rate_harmful']:7.3f} "
          f"{e['overrefusal_rate_benign']:8.3f} {e['distinct_2']:6.3f} {e.get('win_rate_vs_sft', float('nan')):8.3f} "
          f"{e.get('kl_to_reference', float('nan')):6.2f}")
print(f"reward pair_accuracy: {m['reward']['pair_accuracy']:.3f}")
b = json.load(open(f"{out}.bench.json"))
for k, v in b.get("stages", {}).items():
    print(f"bench {k:8s} {v}")
PY
