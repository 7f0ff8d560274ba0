"""The loop users would otherwise write: kuangliu/pytorch-cifar style, kept as a yardstick.

A torchvision ``DataLoader`` over PIL images with ``RandomCrop(32, padding=4)``,
``RandomHorizontalFlip`` and ``ToTensor``/``Normalize`` transforms, fp32, contiguous (NCHW)
memory, and ``loss.item()`` / ``.sum().item()`` every step (a host synchronisation each time).
``resrepro bench`` times it against our engine; tests/test_bench.py checks that both reach the
same validation accuracy. It is never used by the pipeline.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from . import models
from .train import MEAN, STD, lr_at


class PILDataset(torch.utils.data.Dataset):
    """Like ``torchvision.datasets.CIFAR10``: uint8 HWC arrays served as PIL images through transforms."""

    def __init__(self, x: np.ndarray, y: np.ndarray, transform):
        self.x, self.y, self.transform = x, np.asarray(y, dtype=np.int64), transform

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i):
        from PIL import Image

        return self.transform(Image.fromarray(self.x[i])), int(self.y[i])


def loader(x, y, batch_size: int, train: bool, workers: int, seed: int = 0, padding: int = 4, flip: bool = True):
    from torchvision import transforms as T

    steps = ([T.RandomCrop(32, padding=padding)] if train and padding else []) + (
        [T.RandomHorizontalFlip()] if train and flip else []
    )
    transform = T.Compose([*steps, T.ToTensor(), T.Normalize(MEAN, STD)])
    return torch.utils.data.DataLoader(
        PILDataset(x, y, transform),
        batch_size=batch_size,
        shuffle=train,
        num_workers=workers,
        generator=torch.Generator().manual_seed(seed),
        persistent_workers=workers > 0,
    )


def make(name: str, recipe: dict, device: torch.device):
    model = models.create(name).to(device)
    optimizer = torch.optim.SGD(
        model.parameters(),
        lr=recipe["lr"],
        momentum=recipe["momentum"],
        weight_decay=recipe["weight_decay"],
        nesterov=recipe["nesterov"],
    )
    return model, optimizer


def step(model, optimizer, inputs, targets, device) -> tuple[float, int]:
    inputs, targets = inputs.to(device), targets.to(device)
    optimizer.zero_grad()
    outputs = model(inputs)
    loss = F.cross_entropy(outputs, targets)
    loss.backward()
    optimizer.step()
    return loss.item(), outputs.argmax(1).eq(targets).sum().item()


def train_reference(
    name: str, recipe: dict, train_set, val_set, seed: int, device: str = "cpu", workers: int = 0
) -> dict:
    """Train with the plain loop; returns the per-epoch validation accuracies."""
    dev = torch.device(device)
    torch.manual_seed(seed)
    model, optimizer = make(name, recipe, dev)
    train_loader = loader(*train_set, recipe["batch_size"], True, workers, seed, recipe["crop_padding"], recipe["flip"])
    val_loader = loader(*val_set, recipe["eval_batch_size"], False, workers)
    steps_per_epoch = math.ceil(len(train_set[0]) / recipe["batch_size"])
    val_acc = []
    for epoch in range(recipe["epochs"]):
        model.train()
        for i, (inputs, targets) in enumerate(train_loader):
            for g in optimizer.param_groups:
                g["lr"] = lr_at(epoch * steps_per_epoch + i, steps_per_epoch, recipe)
            step(model, optimizer, inputs, targets, dev)
        model.eval()
        correct = 0
        with torch.no_grad():
            for inputs, targets in val_loader:
                correct += model(inputs.to(dev)).argmax(1).eq(targets.to(dev)).sum().item()
        val_acc.append(correct / len(val_set[0]))
    return {"val_acc": val_acc}
