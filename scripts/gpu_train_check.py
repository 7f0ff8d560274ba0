"""Brief real training of one model on a GPU, fp32 and bf16, with the pipeline's own engine.

python scripts/gpu_train_check.py --data .gpu/cifar_subset.npz --model resnet18 --epochs 10 --json out.json
"""

import argparse
import json
import tempfile
import time

import numpy as np
import pandas as pd

from resrepro import config, evaluate, train

p = argparse.ArgumentParser()
p.add_argument("--data", required=True)
p.add_argument("--model", default="resnet18")
p.add_argument("--epochs", type=int, default=10)
p.add_argument(
    "--variants",
    default="fp32,bf16,bf16+cudagraphs",
    help="precision, optionally +cudagraphs (torch.compile reduce-overhead)",
)
p.add_argument("--json", default=None)
p.add_argument("--device", default="cuda")
a = p.parse_args()
d = np.load(a.data)
out = []
for variant in a.variants.split(","):
    precision, _, extra = variant.partition("+")
    # lr /10 at 50 % and 75 % of the epochs, so the final accuracy is not read off a noisy lr-0.1 plateau
    recipe = {
        "epochs": a.epochs,
        "precision": precision,
        "device": a.device,
        "milestones": [a.epochs // 2, (3 * a.epochs) // 4],
    }
    if extra == "cudagraphs":
        recipe.update(compile=True, compile_mode="reduce-overhead")
    cfg = config.validate({"run": "gpu", "models": [a.model], "seeds": [0], "data": {}, "train": recipe})
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.time()
        s = train.train(
            a.model,
            cfg["train"],
            (d["x_train"], d["y_train"]),
            (d["x_val"], d["y_val"]),
            0,
            tmp,
            f"{tmp}/ckpt.pt",
            progress=False,
        )
        epoch_seconds = [round(float(v), 4) for v in pd.read_csv(f"{tmp}/history.csv")["epoch_seconds"]]
        m = evaluate.evaluate(
            a.model, f"{tmp}/weights.pt", (d["x_test"], d["y_test"]), np.arange(len(d["y_test"])), tmp, device=a.device
        )
    rec = {
        "model": a.model,
        "variant": variant,
        "precision": s["precision"],
        "compile_seconds": s["compile_seconds"],
        "epochs": a.epochs,
        "train_images": s["train_images"],
        "device": s["device_name"],
        "selected_val_acc": s["selected_val_acc"],
        "test_acc": m["accuracy"],
        "mean_epoch_seconds": s["mean_epoch_seconds"],
        "epoch_seconds": epoch_seconds,
        "images_per_second": s["images_per_second"],
        "wall_seconds": time.time() - t0,
    }
    out.append(rec)
    print(json.dumps(rec), flush=True)
if a.json:
    with open(a.json, "w") as f:
        json.dump(out, f, indent=2)
