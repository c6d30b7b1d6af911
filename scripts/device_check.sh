#!/usr/bin/env bash
# The accelerator check: on one GPU, in at most 8 minutes, runs the tests that exercise the GPU
# paths (precision, cuDNN attention, remat, cached play), times the train steps at the `bench`
# shapes in float32 and bfloat16 with and without remat and at Genie's (`genie_shapes`, bfloat16
# with remat, its default there), and cached against uncached play; writes one JSON file.
#
#     pip install -e ".[dev,cuda]"      # JAX with its CUDA libraries
#     bash scripts/device_check.sh [out.json]
#
# Each part has its own time limit, so that one slow part cannot take the rest's time; a part
# that fails or runs out of time is recorded as such, and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
out=${1:-device_check.json}
parts=$(mktemp -d)
export XLA_PYTHON_CLIENT_PREALLOCATE=false  # peak memory as used, not as reserved

python - <<'EOF' > "$parts/device.json"
import json, jax
print(json.dumps({"backend": jax.default_backend(), "devices": [str(d) for d in jax.devices()],
                  "jax": jax.__version__}))
EOF

timeout 120 python -m pytest -n 0 -p no:cacheprovider tests/test_compute.py tests/test_layers.py \
  tests/test_dynamics.py tests/test_rollout.py > "$parts/tests.log" 2>&1
echo "{\"exit_code\": $?, \"summary\": $(tail -n 1 "$parts/tests.log" | python -c 'import json,sys; print(json.dumps(sys.stdin.read().strip()))')}" \
  > "$parts/tests.json"

run() {  # run NAME SECONDS ARGS...: one benchmark into $parts/NAME.json, or a record of its failure
  local name=$1 seconds=$2
  shift 2
  timeout "$seconds" python scripts/benchmark.py "$@" --json "$parts/$name.json" > "$parts/$name.log" 2>&1
  local code=$?  # 124: out of time
  if [ "$code" != 0 ]; then
    echo "{\"failed\": $(tail -c 1500 "$parts/$name.log" | python -c 'import json,sys; print(json.dumps(sys.stdin.read()))'), \"exit_code\": $code}" \
      > "$parts/$name.json"
  fi
}

for precision in float32 bfloat16; do
  for remat in False True; do
    run "train_bench_${precision}_remat${remat}" 45 train --config configs/bench.py --steps 10 \
      "--config.compute.precision=$precision" "--config.compute.remat=$remat"
  done
done
# Genie's shapes as an accelerator would train them, 4 clips a step (the benchmark estimates the
# largest batch that fits).
run train_genie_bfloat16_remat 80 train --config configs/genie_shapes.py --steps 5 --config.compute.remat=True \
  --config.train.tokenizer.batch_size=4 --config.train.lam.batch_size=4 --config.train.dynamics.batch_size=4
run play_bench 35 play --config configs/bench.py --seconds 5
run play_genie 40 play --config configs/genie_shapes.py --seconds 5

python - "$parts" "$out" <<'EOF'
import json, pathlib, sys
parts, out = pathlib.Path(sys.argv[1]), sys.argv[2]
report = {p.stem: json.loads(p.read_text()) for p in sorted(parts.glob("*.json"))}
pathlib.Path(out).write_text(json.dumps(report, indent=1) + "\n")
print(f"wrote {out}: " + ", ".join(f"{k}{' (failed)' if isinstance(v, dict) and 'failed' in v else ''}"
                                   for k, v in report.items()))
EOF
