#!/usr/bin/env bash
# launch/gpu_check.sh — verify a GPU machine end to end, in one command, in under 8 minutes on 16
# cores, and print a compact report:
#   1. configure for this machine's GPU only (sm_90 on Hopper; no -Werror: the machine's compiler
#      may be newer) and build only the targets it needs;
#   2. the CUDA tests (every op against its CPU twin, the NCCL backend, the MoE layer on the GPU
#      against the CPU layer through every overlap form, np 1 and 2);
#   3. the GPU benchmarks: the all-to-all over NCCL; the MoE layer over NCCL (np 1, fp32 and bf16
#      mixed precision) and over host
#      MPI with 2 ranks sharing the GPU, beside the PyTorch peer (launch/torch_moe_peer.py) on the
#      same GPU and shapes; one training step's split per gradient reduction and its memory per
#      recompute setting (bench step: NCCL np 1, host MPI np 2 sharing the GPU); the M2 mixer;
#   4. a 30-step training run on the GPU and on the CPU with the same seed, losses compared;
#   5. compute-sanitizer --tool memcheck on the op tests.
# Everything lands in $OUT, at most 8 files: build.log ctest.log bench.log a2a_nccl.jsonl
# moe_nccl.jsonl peer.jsonl train.log sanitizer.log.
#
# On the lent GPU machine (no network; OpenMPI, Protobuf, GoogleTest and OpenBLAS come from the
# folder ../shared/device/prepare.sh fills, .devdeps/):
#   run(command="bash launch/gpu_check.sh", carry=[".devdeps"], timeout_s=570)
# Anywhere else it runs what the machine can (the CUDA build, the CPU training run, the CPU peer)
# and says what it skipped and why. It never calls launch/setup.sh (apt-get).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
T0=$SECONDS
OUT=${OUT:-${TMPDIR:-/var/tmp}/sy_gpu_check}
TMP=${TMPDIR:-/var/tmp}/sy_gpu_check_work
mkdir -p "$OUT" "$TMP"
section() { printf '\n=== %-58s [t=%3ss]\n' "$1" $((SECONDS - T0)); }
left() { [ $((SECONDS - T0)) -lt "$1" ]; }  # still under $1 seconds of wall time?
skip() { echo "SKIPPED: $*"; }

[ -f .devdeps/env.sh ] && source .devdeps/env.sh
command -v nvcc >/dev/null || export PATH=/usr/local/cuda/bin:$PATH
export OMPI_MCA_pml=ob1 OMPI_MCA_btl=self,vader OMPI_MCA_btl_vader_single_copy_mechanism=none \
  OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 NCCL_DEBUG=WARN NCCL_SOCKET_IFNAME=lo \
  OPENBLAS_NUM_THREADS=4 SY_COMM_TIMEOUT_S=60
MPIRUN=(mpirun --oversubscribe)
B=${SY_GPU_BUILD_DIR:-build-gpu}
X=$B/launch/switchyard

section "machine"
GPU=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  GPU=1
  nvidia-smi --query-gpu=name,driver_version,memory.total,compute_cap --format=csv,noheader
  ARCH=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader | head -1 | tr -d '.')
else
  ARCH=90
  echo "no GPU visible (nvidia-smi finds none): building for sm_90, running only the CPU parts"
fi
nvcc --version | tail -1
PY=""  # a Python with torch, for the peer
for p in python3 /usr/bin/python3; do
  "$p" -c 'import torch' 2>/dev/null && PY=$p && break
done
[ -n "$PY" ] && "$PY" -c 'import torch; print("torch", torch.__version__)' || echo "torch: not found"

section "configure (sm_$ARCH, no -Werror) and build 4 targets"
cmake -S . -B "$B" -G Ninja -DCMAKE_BUILD_TYPE=Release -DSY_CUDA=ON \
  -DCMAKE_CUDA_ARCHITECTURES="$ARCH" -DSY_WERROR=OFF > "$OUT/build.log" 2>&1 ||
  { tail -30 "$OUT/build.log"; echo "configure failed"; exit 1; }
grep 'switchyard:' "$OUT/build.log"
timeout 330 cmake --build "$B" -j "$(nproc)" --target switchyard ops_cuda_test nccl_test \
  moe_cuda_test >> "$OUT/build.log" 2>&1 ||
  { grep -m 25 -E 'error|FAILED' "$OUT/build.log"; tail -5 "$OUT/build.log"; exit 1; }
echo "built in $((SECONDS - T0)) s"

section "CUDA tests (ctest -L cuda)"
if [ $GPU = 1 ]; then
  (cd "$B" && timeout 240 ctest -L cuda -j 2 -V --timeout 200) > "$OUT/ctest.log" 2>&1
  echo "ctest rc=$?"
  grep -E 'Test +#|tests passed|\[  FAILED  \]|Failure$|NCCL WARN|fatal|deadline' \
    "$OUT/ctest.log" | awk '!seen[$0]++' | head -30
else
  skip "no GPU: the CUDA tests would only skip"
fi

# The MoE layer shapes of the comparison: Switchyard and the PyTorch peer on the same ones.
MOE=(--tokens 16384 --set model.d_model=1024 --set model.moe.d_expert=2048
     --set model.moe.num_experts=16)
PEER=(--tokens 16384 --d-model 1024 --d-expert 2048 --experts 16 --top-k 2 -n 10 -w 3)
# A token shard for the runs that train (bench step, the 30-step comparison).
"${MPIRUN[@]}" -np 1 "$X" prepare --out "$TMP/data" README.md docs experts comm launch models \
  runtime tests > /dev/null 2>&1
DATA=(--set data.train_path="$TMP/data/train.bin" --set data.val_path="$TMP/data/val.bin")
section "GPU benchmarks"
if [ $GPU = 1 ]; then
  {
    echo "--- bench alltoall, NCCL np 1 (a self exchange: software overhead only)"
    timeout 90 "${MPIRUN[@]}" -np 1 "$X" bench alltoall --backend nccl -b 1M -e 1G -f 8 -n 20 \
      -w 5 -r 2 --json "$OUT/a2a_nccl.jsonl" 2>&1 | tail -8
    echo "--- bench moe-layer, GPU + NCCL np 1, fp32"
    timeout 150 "${MPIRUN[@]}" -np 1 "$X" bench moe-layer --set parallel.device=CUDA \
      --set parallel.comm_backend=NCCL "${MOE[@]}" -n 10 -w 3 --overlap 2,4,auto --rounds 2 \
      --json "$TMP/moe_fp32.json" 2>&1 | grep -v '^$' | tail -27
    echo "--- bench moe-layer, GPU + NCCL np 1, bf16 (mixed precision)"
    timeout 90 "${MPIRUN[@]}" -np 1 "$X" bench moe-layer --set parallel.device=CUDA \
      --set parallel.comm_backend=NCCL --set precision=BF16 "${MOE[@]}" -n 10 -w 3 \
      --json "$TMP/moe_bf16.json" 2>&1 | grep -v '^$' | tail -16
    cat "$TMP"/moe_fp32.json "$TMP"/moe_bf16.json > "$OUT/moe_nccl.jsonl" 2>/dev/null
    echo "--- the PyTorch peer, same GPU and shapes"
    : > "$OUT/peer.jsonl"
    for dt in fp32 bf16; do
      timeout 60 "${PY:-python3}" launch/torch_moe_peer.py --device cuda --dtype $dt "${PEER[@]}" \
        --json "$TMP/peer_$dt.json" 2>&1 | tail -2 && cat "$TMP/peer_$dt.json" >> "$OUT/peer.jsonl"
    done
    left 330 && {
      echo "--- bench moe-layer, GPU + host MPI np 2 (two ranks share the GPU)"
      timeout 120 "${MPIRUN[@]}" -np 2 "$X" bench moe-layer --set parallel.device=CUDA \
        --tokens 4096 --set model.d_model=1024 --set model.moe.d_expert=2048 -n 5 -w 2 \
        --overlap 2,auto --rounds 1 2>&1 | grep -v '^$' | tail -20; }
    left 340 && {
      echo "--- bench step, GPU + NCCL np 1, then GPU + host MPI np 2 (two ranks share the GPU)"
      timeout 60 "${MPIRUN[@]}" -np 1 "$X" bench step launch/configs/transformer_moe_small.pbtxt \
        --set parallel.ep=1 --set parallel.device=CUDA --set parallel.comm_backend=NCCL \
        --set parallel.grad_bucket_mb=4 "${DATA[@]}" -n 5 -w 2 2>&1 | grep -v '^$' | tail -11
      timeout 60 "${MPIRUN[@]}" -np 2 "$X" bench step launch/configs/transformer_moe_small.pbtxt \
        --set parallel.ep=2 --set parallel.device=CUDA --set parallel.grad_bucket_mb=4 \
        "${DATA[@]}" -n 5 -w 2 2>&1 | grep -v '^$' | tail -11; }
    left 370 && {
      echo "--- bench mixer, CUDA"
      timeout 60 "${MPIRUN[@]}" -np 1 "$X" bench mixer --device cuda -b 512 -e 8192 -n 2 \
        --dim 256 --heads 8 2>&1 | tail -8; }
  } > "$OUT/bench.log" 2>&1
  grep -E '^---|layer forward|ratio|efficiency|auto vs|torch peer|crossover|Avg bus|host sync|per parameter|buckets|NONE|MOE_EXPERTS|BLOCK|FAILED|fatal' \
    "$OUT/bench.log" | head -56
else
  skip "no GPU: GPU benchmarks"
  if [ -n "$PY" ]; then
    timeout 120 "$PY" launch/torch_moe_peer.py --device cpu --tokens 2048 -n 2 -w 1 \
      --json "$OUT/peer.jsonl" 2>&1 | tail -2
  else
    skip "the PyTorch peer: no Python with torch here"
  fi
fi

section "train 30 steps, GPU vs CPU (same seed)"
if left 420; then
  : > "$OUT/train.log"
  for dev in CUDA CPU; do
    if [ $dev = CUDA ] && [ $GPU = 0 ]; then skip "no GPU: the GPU training run"; continue; fi
    be=MPI && [ $dev = CUDA ] && be=NCCL
    rm -rf "$TMP/runs_$dev"
    timeout 90 "${MPIRUN[@]}" -np 1 "$X" train launch/configs/transformer_moe_tiny.pbtxt \
      --set parallel.ep=1 --set parallel.device=$dev --set parallel.comm_backend=$be \
      --set schedule.steps=30 --set schedule.warmup_steps=5 --set schedule.eval_every=0 \
      "${DATA[@]}" --set logging.dir="$TMP/runs_$dev" >> "$OUT/train.log" 2>&1
    echo "$dev rc=$?"
  done
  python3 - "$TMP" <<'PY' | tee -a "$OUT/train.log"
import json, pathlib, sys
runs = {}
for dev in ("CUDA", "CPU"):
    f = next(pathlib.Path(sys.argv[1], f"runs_{dev}").glob("*/log.jsonl"), None)
    if f: runs[dev] = [json.loads(l)["loss"] for l in open(f)]
for dev, l in runs.items(): print(f"{dev}: loss step 1 {l[0]:.4f} -> step {len(l)} {l[-1]:.4f}")
if len(runs) == 2:
    worst = max(abs(a - b) / abs(b) for a, b in zip(runs["CUDA"], runs["CPU"]))
    print(f"GPU vs CPU losses: max relative difference {worst:.2e} over {len(runs['CPU'])} steps "
          "(fp32: expect < 1e-3)")
PY
else
  skip "out of time budget"
fi

section "compute-sanitizer memcheck: ops_cuda_test"
if [ $GPU = 1 ] && left 440 && command -v compute-sanitizer >/dev/null; then
  timeout 100 "${MPIRUN[@]}" -np 1 compute-sanitizer --tool memcheck --print-limit 5 \
    "$B/tests/ops_cuda_test" > "$OUT/sanitizer.log" 2>&1
  echo "rc=$?"
  grep -E 'ERROR SUMMARY|PASSED|FAILED|Invalid' "$OUT/sanitizer.log" | head -8
else
  skip "memcheck (needs a GPU, compute-sanitizer and time left)"
fi

section "done: $(ls "$OUT" | wc -l) files in $OUT"
ls "$OUT"
