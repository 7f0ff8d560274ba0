"""Our engine's training step against a bare channels_last loop (same model, batch 128, SGD foreach),
alternating in one process.

Equal rates mean the engine adds no overhead on the CPU beyond the model itself.

    python benchmarks/engine_vs_bare.py resnet18 3
"""

import sys
import time

import torch
import torch.nn.functional as F

from resrepro import bench, config, device, models

name, steps = (sys.argv[1] if len(sys.argv) > 1 else "resnet20"), int(sys.argv[2]) if len(sys.argv) > 2 else 4
recipe = dict(config.load("config.yaml")["train"], threads=2)
dev = torch.device("cpu")
device.set_cpu_threads(recipe["threads"])


def bare() -> float:
    torch.manual_seed(0)
    m = models.create(name).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(
        m.parameters(), lr=recipe["lr"], momentum=recipe["momentum"], weight_decay=recipe["weight_decay"], foreach=True
    )
    x = torch.randn(128, 3, 32, 32).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (128,))
    for i in range(steps + 2):
        if i == 2:
            t0 = time.perf_counter()
        loss = F.cross_entropy(m(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return 128 * steps / (time.perf_counter() - t0)


for r in range(3):
    b = bare()
    e, _ = bench.time_ours(name, recipe, dev, 128, 2, steps)
    print(f"round {r + 1}: bare loop {b:.1f} img/s, engine {e:.1f} img/s, engine/bare {e / b:.2f}", flush=True)
