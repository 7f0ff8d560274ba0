"""What train.test_curve costs: time per epoch with the test curve off and on, side by side in one process.

Each repeat trains the same model twice from the same seed, once without and once with the test pass after
every epoch, alternating which goes first; the figures are medians over repeats. The images are synthetic
(CIFAR shape; throughput does not depend on pixel values), split in CIFAR-10's proportions by default
(45k training : 10k test, here scaled down), on the CPU.

Printed per mode: wall seconds per epoch (the whole job, over its epochs), the training epoch alone
(``epoch_seconds``, Table 2's time per epoch, which excludes the test pass by construction) and the test
pass (``test_seconds``, from history.csv); then the ratio on / off (medians, and per repeat: on a busy machine
its spread is larger than the effect) and the test pass's share of the training epoch, measured within each
run (robust to the machine's load, which both parts of one epoch share).

    PYTHONPATH=src python benchmarks/test_curve_cost.py --model resnet20 --train-images 2250 --epochs 2 --repeats 3
"""

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from resrepro import config, train


def images(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 32, 32, 3), dtype=np.uint8), np.arange(n) % 10


def run_once(model: str, recipe: dict, data: dict, curve: bool) -> dict:
    """One training job; its wall seconds per epoch and the history's mean epoch and test seconds."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train.train(
            model,
            dict(recipe, test_curve=curve),
            data["train"],
            data["val"],
            0,
            tmp,
            Path(tmp) / "ckpt.pt",
            progress=False,
            test_set=data["test"] if curve else None,
        )
        wall = time.perf_counter() - t0
        h = pd.read_csv(Path(tmp) / "history.csv")
    return {
        "wall_per_epoch": wall / len(h),
        "epoch_seconds": float(h["epoch_seconds"].mean()),
        "test_seconds": float(h["test_seconds"].mean()) if "test_seconds" in h else 0.0,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="resnet20")
    p.add_argument("--train-images", type=int, default=2250)
    p.add_argument("--test-images", type=int, default=None, help="default: 10/45 of the training images")
    p.add_argument("--val-images", type=int, default=250)
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    n_test = a.test_images or round(a.train_images * 10 / 45)
    recipe = dict(config.load("config.yaml")["train"], epochs=a.epochs, threads=a.threads, device="cpu")
    data = {"train": images(a.train_images, 0), "val": images(a.val_images, 1), "test": images(n_test, 2)}
    runs = {False: [], True: []}
    for r in range(a.repeats):
        for curve in (False, True) if r % 2 == 0 else (True, False):  # interleaved: neither mode always first
            runs[curve].append(run_once(a.model, recipe, data, curve))
            m = runs[curve][-1]
            print(
                f"repeat {r + 1} test_curve {'on ' if curve else 'off'}: {m['wall_per_epoch']:.3f} s/epoch wall, "
                f"training {m['epoch_seconds']:.3f} s, test pass {m['test_seconds']:.3f} s",
                flush=True,
            )
    med = {c: {k: statistics.median(x[k] for x in runs[c]) for k in runs[c][0]} for c in runs}
    off, on = med[False], med[True]
    print(
        f"\n{a.model}, CPU {a.threads} threads, {a.train_images} training / {a.val_images} validation / {n_test} test "
        f"images, {a.epochs} epochs, {a.repeats} repeats (medians):"
    )
    for name, m in (("off", off), ("on", on)):
        print(
            f"  test_curve {name:<3}: {m['wall_per_epoch']:.3f} s per epoch (wall), training epoch "
            f"{m['epoch_seconds']:.3f} s, test pass {m['test_seconds']:.3f} s"
        )
    paired = sorted(b["wall_per_epoch"] / a["wall_per_epoch"] for a, b in zip(runs[False], runs[True]))
    print(
        f"  ratio on / off, wall per epoch: {on['wall_per_epoch'] / off['wall_per_epoch']:.3f} (medians); "
        f"per repeat {paired[0]:.3f} to {paired[-1]:.3f} (the spread is the machine's noise)"
    )
    print(f"  ratio on / off, training epoch (epoch_seconds): {on['epoch_seconds'] / off['epoch_seconds']:.3f}")
    shares = sorted(x["test_seconds"] / x["epoch_seconds"] for x in runs[True])
    print(
        f"  test pass / training epoch, within each run with the curve: median {100 * statistics.median(shares):.1f} %"
        f" ({100 * shares[0]:.1f} to {100 * shares[-1]:.1f} %): the cost test_curve adds per epoch"
    )


if __name__ == "__main__":
    main()
