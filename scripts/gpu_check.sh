#!/usr/bin/env bash
# GPU check for issue 5, sized for a lent H100/H200 (about 8 minutes). Run from the repo root:
#   OUT=/some/dir bash scripts/gpu_check.sh        (the device tool sets $OUT)
# Needs: python3 with torch + torchvision (+ numpy, pyyaml, tqdm, pandas); .gpu/cifar_subset.npz
# made beforehand by scripts/make_gpu_subset.py (real CIFAR-10 subset, ~34 MB).
set -u
export PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
OUT=${OUT:-gpu-out}; mkdir -p "$OUT"
py=${PYTHON:-python3}
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
$py -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__)" | tee -a "$OUT/gpu.txt"
# 1. all five paper models at the recipe's batch size (128): ours vs the DataLoader+PIL+fp32 loop
timeout 180 $py -m resrepro bench --models resnet18,resnet34,resnet50,resnet110,vgg16 --device cuda \
  --batch-size 128 --workers 2 --no-compile --json "$OUT/bench_b128_eager.json" 2>&1 | tee "$OUT/bench_b128.txt"
# 2. a larger batch (changes the recipe: reported separately)
timeout 80 $py -m resrepro bench --models resnet18,resnet34,resnet50 --device cuda \
  --batch-size 512 --workers 2 --no-compile --rounds 1 --json "$OUT/bench_b512.json" 2>&1 | tee "$OUT/bench_b512.txt"
# 3. the pipeline's default on CUDA: torch.compile with CUDA graphs (compile time = warm-up time in the JSON)
timeout 240 $py -m resrepro bench --models resnet18,resnet34,resnet50 --device cuda --batch-size 128 --compile \
  --compile-mode reduce-overhead --rounds 1 --warmup 20 --steps 100 --json "$OUT/bench_cudagraphs_b128.json" 2>&1 | tee "$OUT/bench_cudagraphs.txt"
# 4. brief real training of resnet18: fp32, bf16, and bf16 + CUDA graphs (the pipeline's default)
timeout 150 $py scripts/gpu_train_check.py --data .gpu/cifar_subset.npz --model resnet18 --epochs 10 \
  --json "$OUT/train_check.json" 2>&1 | tail -n 5 | tee "$OUT/train_check.txt"
echo "gpu check done"
