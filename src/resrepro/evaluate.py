"""Evaluation: the test set, once, with the weights selected on validation.

Accuracy, macro and per-class precision / recall / F1, the confusion matrix, and the predictions.
Definitions (printed in the report): per-class precision = TP / (TP + FP), recall = TP / (TP + FN),
F1 = their harmonic mean (0 where undefined, which is flagged); "macro" = unweighted mean over the
10 classes. CIFAR-10's test set is balanced (1,000 per class), so macro recall equals accuracy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import io


def metrics(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int = 10) -> dict:
    y_true, y_pred = np.asarray(y_true, dtype=np.int64), np.asarray(y_pred, dtype=np.int64)
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)  # rows: true class, columns: predicted
    np.add.at(cm, (y_true, y_pred), 1)
    tp = np.diag(cm).astype(float)
    predicted, actual = cm.sum(0).astype(float), cm.sum(1).astype(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {
        "n": int(len(y_true)),
        "accuracy": float(tp.sum() / max(1, len(y_true))),
        "precision_macro": float(precision.mean()),
        "recall_macro": float(recall.mean()),
        "f1_macro": float(f1.mean()),
        "precision_per_class": precision.tolist(),
        "recall_per_class": recall.tolist(),
        "f1_per_class": f1.tolist(),
        "classes_never_predicted": [int(c) for c in np.flatnonzero(predicted == 0)],
        "confusion_matrix": cm.tolist(),
    }


def evaluate(
    model_name: str,
    weights: str | Path,
    test_set,
    test_index: np.ndarray,
    out_dir: str | Path,
    batch_size: int = 1000,
    device: str = "auto",
) -> dict:
    """Evaluate saved weights on the test images; write metrics.json and predictions.csv."""
    import torch

    from . import models
    from .checkpoints import load_weights
    from .device import select_device
    from .train import predict, to_device

    dev = select_device(device)
    model = models.create(model_name).to(dev, memory_format=torch.channels_last)
    load_weights(weights, dev, model)
    x, y = to_device(*test_set, dev)
    probs = torch.softmax(predict(model, x, batch_size), 1).cpu().numpy()
    pred = probs.argmax(1)
    result = {"model": model_name, "weights": str(weights), **metrics(test_set[1], pred)}
    out_dir = Path(out_dir)
    with io.atomic_path(out_dir / "predictions.csv") as tmp:
        rows = ["index,label,prediction,confidence"]
        rows += [f"{i},{t},{p},{c:.6f}" for i, t, p, c in zip(test_index, test_set[1], pred, probs.max(1))]
        tmp.write_text("\n".join(rows) + "\n")
    io.write_json(out_dir / "metrics.json", result)
    return result
