#!/usr/bin/env bash
# The GPU checks of dsd in one call, for a machine with a CUDA GPU (see README, "Benchmarks"):
#
#   0. dsd doctor --compile: torch build, GPUs, bf16, torch.compile, threads;
#   1. the tests that need CUDA (bf16 fast path, the device column, ...);
#   2. the trainer against a plain DataLoader loop: fp32 vs bf16, NCHW vs channels_last,
#      torch.compile on and off (benchmarks/train_speed.py --device cuda --compile);
#   3. models per GPU: 1, 2, 4, 8, 16 CIFAR-scale models training at once on one GPU, in
#      models/hour (benchmarks/models_per_gpu.py).
#
# Usage, from the repository root (dsd need not be installed; python3 must hold torch with CUDA,
# numpy, scipy, pandas, pyarrow, scikit-learn, pyyaml, tqdm, pytest):
#
#   bash benchmarks/gpu_check.sh                 # about 6-8 minutes on one H200
#   OUT=/tmp/gpu bash benchmarks/gpu_check.sh    # logs and tables also saved under $OUT
#
# Every part runs even if one before it failed; the exit code is that of the first failure.
set -u
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 DSD_SKIP_SLURM=1
status=0
part() {  # part NAME LOG COMMAND...: run, keep the output in $OUT/LOG, remember a failure
  local name=$1 log=$2
  shift 2
  echo "== $name"
  "$@" 2>&1 | tee "$OUT/$log"
  local rc=${PIPESTATUS[0]}
  [ "$rc" -eq 0 ] || { echo "!! $name failed (exit $rc)"; [ "$status" -ne 0 ] || status=$rc; }
}

"$PY" - <<'PY' | tee "$OUT/machine.txt"
import platform, torch
ok = torch.cuda.is_available()
gpu = torch.cuda.get_device_name(0) if ok else "no CUDA GPU"
print(f"{gpu}; torch {torch.__version__}, CUDA {torch.version.cuda}, cudnn "
      f"{torch.backends.cudnn.version()}, python {platform.python_version()}")
raise SystemExit(0 if ok else 2)
PY
[ "${PIPESTATUS[0]}" -eq 0 ] || { echo "gpu_check: no CUDA GPU here" >&2; exit 2; }

part "0. dsd doctor" doctor.txt "$PY" -m dsd doctor --compile --timeout 300
part "1. CUDA tests" tests.log \
  "$PY" -m pytest -q -p no:cacheprovider -k "cuda or gpu" tests/test_trainer.py \
  tests/test_trainer_cli.py tests/test_sweep_store.py tests/test_doctor.py
part "2. trainer vs plain loop (bf16, channels_last, compile)" train_speed.txt \
  "$PY" benchmarks/train_speed.py --device cuda --compile --workers 8
part "3. models per GPU (CIFAR-scale, 32x32)" models_per_gpu.txt \
  "$PY" benchmarks/models_per_gpu.py --ks 1,2,4,8,16

echo
echo "== summary ($(cat "$OUT/machine.txt"))"
echo "doctor: $(tail -n 1 "$OUT/doctor.txt")"
echo "CUDA tests: $(tail -n 1 "$OUT/tests.log")"
cat "$OUT/train_speed.txt" "$OUT/models_per_gpu.txt"
echo "(logs in $OUT)"
exit $status
