"""Where a CPU training step of our engine spends its time (torch.profiler, two steps after two warm-up steps).

python benchmarks/profile_step.py resnet20
"""

import sys

import torch
from torch.profiler import ProfilerActivity, profile

from resrepro import bench, config, device, train

name = sys.argv[1] if len(sys.argv) > 1 else "resnet20"
recipe = dict(config.load("config.yaml")["train"], threads=2)
dev = torch.device("cpu")
device.set_cpu_threads(recipe["threads"])
x, y = train.to_device(*bench.synthetic(128 * 4), dev)
model = train.build_model(name, dev, recipe).train()
opt = train.build_optimizer(model, recipe, dev)
gen = torch.Generator().manual_seed(0)


def step(i):
    xb = train.to_input(train.augment(x[i * 128 : (i + 1) * 128], recipe["crop_padding"], recipe["flip"], gen))
    train.train_step(model, opt, xb, y[i * 128 : (i + 1) * 128], recipe)


step(0)
step(1)
with profile(activities=[ProfilerActivity.CPU]) as p:
    step(2)
    step(3)
print(p.key_averages().table(sort_by="self_cpu_time_total", row_limit=12))
