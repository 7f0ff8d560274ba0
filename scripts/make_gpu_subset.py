"""Write a small real CIFAR-10 subset (< 40 MiB) for the GPU check: scripts/gpu_check.sh.

    python scripts/make_gpu_subset.py --cache data --out .gpu/cifar_subset.npz

8,000 training and 1,000 validation images (stratified, from the 45k/5k split) and 2,000 test
images (stratified), uint8, in the layout resrepro.data.load returns.
"""

import argparse
from pathlib import Path

import numpy as np

from resrepro import data

p = argparse.ArgumentParser()
p.add_argument("--cache", default="data")
p.add_argument("--out", default=".gpu/cifar_subset.npz")
a = p.parse_args()
x_train, y_train, x_test, y_test = data.load(cache_dir=a.cache, progress=False)
sel = data.select(
    {"val_size": 5000, "split_seed": 0, "train_subset": 8000, "val_subset": 1000, "test_subset": 2000}, y_train, y_test
)
Path(a.out).parent.mkdir(parents=True, exist_ok=True)
np.savez(
    a.out,
    x_train=x_train[sel["train"]],
    y_train=y_train[sel["train"]],
    x_val=x_train[sel["val"]],
    y_val=y_train[sel["val"]],
    x_test=x_test[sel["test"]],
    y_test=y_test[sel["test"]],
)
print(f"wrote {a.out}")
