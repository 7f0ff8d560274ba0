"""Measure one training epoch per model on this machine's GPU, to calibrate the SLURM time limits.

    PYTHONPATH=src python3 tools/slurm/gpu_epoch_time.py [--epochs 2] [--models resnet18,...]

Runs resrepro.train.train on random CIFAR-sized data (45,000 training and 5,000 validation
images, batch 128, the recipe of config.yaml): the time per epoch does not depend on the pixel
values. Prints one JSON line per model with the steady-state epoch time (the last epoch), the first
epoch (cuDNN autotuning included) and the job's wall time, and the effective training throughput
in TFLOP/s (3 x forward FLOPs per training image, 1 x per validation image): the figures to set
tflops and layer_step_ms of stated.slurm in src/resrepro/speeds.yaml from, for a given cluster's GPUs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

from resrepro import bench, config, models, train
from resrepro import device as devices

REPO = Path(__file__).resolve().parents[2]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=2)
    ap.add_argument("--models", default="resnet18,resnet34,resnet50,resnet110,vgg16")
    ap.add_argument("--n-train", type=int, default=45000)
    ap.add_argument("--n-val", type=int, default=5000)
    args = ap.parse_args()

    recipe = dict(
        config.load(REPO / "config.yaml")["train"], epochs=args.epochs, device="auto"
    )  # validated, defaults filled
    x_tr, y_tr = bench.synthetic(args.n_train)
    x_va, y_va = bench.synthetic(args.n_val, seed=1)
    device = devices.select_device("auto")
    print(json.dumps({"device": devices.device_name(device), "torch": torch.__version__}), flush=True)
    for name in args.models.split(","):
        flops = models.model_info(name)["flops_per_image"]
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.time()
            train.train(name, recipe, (x_tr, y_tr), (x_va, y_va), 0, tmp, Path(tmp) / "ckpt.pt", progress=False)
            wall = time.time() - t0
            hist = pd.read_csv(Path(tmp) / "history.csv")
        steady = float(hist["epoch_seconds"].iloc[-1])
        work = flops * (3 * args.n_train + args.n_val)
        print(
            json.dumps(
                {
                    "model": name,
                    "gflops_per_image": flops / 1e9,
                    "first_epoch_s": round(float(hist["epoch_seconds"].iloc[0]), 2),
                    "steady_epoch_s": round(steady, 2),
                    "wall_s": round(wall, 1),
                    "wall_per_epoch_s": round(wall / args.epochs, 2),
                    "effective_tflops": round(work / steady / 1e12, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
