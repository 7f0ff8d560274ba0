#!/usr/bin/env bash
# GPU check for issue 5, sized for a lent H100/H200 (about 7 minutes). Run from the repo root:
#   OUT=/some/dir bash scripts/gpu_check.sh        (the device tool sets $OUT)
# Needs: python3 with torch + torchvision (+ numpy, pyyaml, tqdm, pandas, jsonschema); .gpu/cifar_subset.npz
# made beforehand by scripts/make_gpu_subset.py (real CIFAR-10 subset, ~34 MB); on a machine without network and
# without jsonschema, wheels in .gpu/wheels (pip download jsonschema --only-binary=:all: -d .gpu/wheels).
# Every step writes its own files under $OUT as soon as it ends, most important first.
set -u
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT=${OUT:-gpu-out}; mkdir -p "$OUT"
py=${PYTHON:-python3}
# jsonschema (config validation) from wheels carried in .gpu/wheels when the machine lacks it (no network there)
if ! $py -c "import jsonschema" 2>/dev/null; then
  $py -m pip install -q --no-index --find-links .gpu/wheels --target /tmp/resrepro-pylib jsonschema && export PYTHONPATH="$PYTHONPATH:/tmp/resrepro-pylib"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$py -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" | tee -a "$OUT/gpu.txt"
# 1. the training loop itself on real CIFAR-10 (resnet18, 8,000 images, 10 epochs): eager bf16 vs CUDA graphs
#    (compiled before epoch 1 for both batch shapes; epoch times exclude compilation), and fp32
timeout 170 $py scripts/gpu_train_check.py --data .gpu/cifar_subset.npz --model resnet18 --epochs 10 \
  --variants bf16+cudagraphs,bf16,fp32 --json "$OUT/train_check.json" 2>&1 | grep -v Warning | tail -n 8 | tee "$OUT/train_check.txt"
# 2. CUDA graphs (torch.compile reduce-overhead) at the recipe's batch size (128): ours vs the DataLoader+PIL+fp32 loop
timeout 200 $py -m resrepro bench --models resnet18,resnet34,resnet50,vgg16 --device cuda --batch-size 128 --compile \
  --compile-mode reduce-overhead --rounds 1 --warmup 20 --steps 100 --json "$OUT/bench_cudagraphs_b128.json" 2>&1 | tee "$OUT/bench_cudagraphs.txt"
# 3. eager engine (no compilation) at batch 128, for comparison with step 2
timeout 70 $py -m resrepro bench --models resnet18,resnet34,resnet50,resnet110 --device cuda \
  --batch-size 128 --workers 2 --no-compile --rounds 1 --json "$OUT/bench_b128_eager.json" 2>&1 | tee "$OUT/bench_b128.txt"
echo "gpu check done"
