"""CIFAR-10's sizes and classes (Krizhevsky 2009), numpy-free: what the config's validation and the Snakefile
need, so that parsing the workflow loads no array library. :mod:`resrepro.data.constants` re-exports them."""

CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
TRAIN_SIZE = 50_000
TEST_SIZE = 10_000
