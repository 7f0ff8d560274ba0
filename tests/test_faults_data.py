"""The fault matrix, data rows: every stage loads the data the config names, or stops with an error.

Each fault is driven through the real command line (``resrepro.cli.main``) on tiny generated archives
(tests/archives.py). The API-level details of the same faults stay in tests/test_data.py.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import zlib
from pathlib import Path

import numpy as np
import pytest
from archives import make_arrays, official_files, write_tar

from resrepro import config, data
from resrepro.cli import main
from resrepro.data import archives as data_archives
from resrepro.io import file_digest

UNREACHABLE_URL = "http://127.0.0.1:9/cifar-10-python.tar.gz"  # discard port: connection refused at once


def sha(path: Path) -> str:
    return file_digest(path, "sha256")


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to reach the official host or the npm mirror fails the test."""

    def network(*a, **k):
        raise AssertionError("the network sources were tried although data.source is set")

    monkeypatch.setattr(data, "_from_network", network)


def cfg_for(src: Path, cache: Path, **train) -> dict:
    return config.validate(
        {
            "run": "faults",
            "models": ["resnet20"],
            "seeds": [0],
            "data": {"source": str(src), "sha256": sha(src), "cache_dir": str(cache), "val_size": 20},
            "train": {"epochs": 1, "batch_size": 40, "threads": 1, "device": "cpu", **train},
        }
    )


def train_args(cfg: dict, out: Path) -> list[str]:
    return [
        "train", "--model", "resnet20", "--seed", "0", "--cache", cfg["data"]["cache_dir"],
        "--data", json.dumps(cfg["data"]), "--recipe", json.dumps(config.recipe_for(cfg, "resnet20")),
        "--out-dir", str(out), "--checkpoint", str(out.parent / "ckpt.pt"), "--no-progress",
    ]  # fmt: skip


def evaluate_args(cfg: dict, weights: Path, out: Path) -> list[str]:
    return [
        "evaluate", "--model", "resnet20", "--cache", cfg["data"]["cache_dir"], "--data", json.dumps(cfg["data"]),
        "--weights", str(weights), "--out-dir", str(out), "--device", "cpu",
    ]  # fmt: skip


def prepared(root: Path, arrays) -> tuple[Path, dict]:
    """A local archive, its config, and its cache prepared by the data stage (`resrepro data`)."""
    src = write_tar(root / "cifar-10-python.tar.gz", official_files(arrays))
    cfg = cfg_for(src, root / "cache")
    assert main(["data", "--cache", str(root / "cache"), "--source", str(src), "--sha256", sha(src)]) == 0
    return src, cfg


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A prepared cache and one tiny model trained on it (`resrepro train`)."""
    root = tmp_path_factory.mktemp("trained")
    arrays = make_arrays()
    src, cfg = prepared(root, arrays)
    assert main(train_args(cfg, root / "train")) == 0
    return root, src, cfg, arrays


def damage(cache: Path, how: str) -> None:
    npz, manifest = cache / data.PREPARED_NAME, cache / data.MANIFEST_NAME
    if how == "flipped":
        blob = bytearray(npz.read_bytes())
        blob[len(blob) // 2] ^= 0xFF
        npz.write_bytes(bytes(blob))
    elif how == "truncated":
        npz.write_bytes(npz.read_bytes()[:1000])
    elif how == "manifest_sha256":
        m = json.loads(manifest.read_text())
        m["prepared"]["sha256"] = "0" * 64
        manifest.write_text(json.dumps(m))
    elif how == "manifest_garbled":
        manifest.write_text("{not json")


# --------------------------------------------------------------------------------------------------
# a damaged cache: rebuilt from data.source, with a message; never from the network
# --------------------------------------------------------------------------------------------------


def test_a_damaged_cache_is_rebuilt_by_train_from_the_configured_source_with_a_message(tmp_path, capsys, no_network):
    src, cfg = prepared(tmp_path, make_arrays())
    damage(tmp_path / "cache", "flipped")
    capsys.readouterr()
    assert main(train_args(cfg, tmp_path / "train")) == 0
    err = capsys.readouterr().err
    assert "cannot be reused" in err and "damaged or truncated" in err
    assert f"rebuilding it from data.source {src}" in err
    manifest = data.read_manifest(tmp_path / "cache")
    assert manifest["source"]["location"] == str(src.resolve()) and manifest["source"]["sha256"] == sha(src)
    assert manifest["prepared"]["sha256"] == sha(tmp_path / "cache" / data.PREPARED_NAME)
    assert (tmp_path / "train" / "weights.pt").is_file()


@pytest.mark.parametrize("how", ["flipped", "truncated", "manifest_sha256", "manifest_garbled"])
def test_a_damaged_cache_is_rebuilt_by_evaluate_from_the_configured_source_to_the_same_result(
    trained, how, tmp_path, capsys, no_network
):
    root, src, cfg, arrays = trained
    cache = Path(cfg["data"]["cache_dir"])
    before = sha(cache / data.PREPARED_NAME)
    assert main(evaluate_args(cfg, root / "train" / "weights.pt", tmp_path / "intact")) == 0
    damage(cache, how)
    capsys.readouterr()
    assert main(evaluate_args(cfg, root / "train" / "weights.pt", tmp_path / "rebuilt")) == 0
    err = capsys.readouterr().err
    assert "cannot be reused" in err and f"rebuilding it from data.source {src}" in err
    assert sha(cache / data.PREPARED_NAME) == before, "the same bytes as the data stage prepared"
    assert data.read_manifest(cache)["source"]["location"] == str(src.resolve())
    for name in ("metrics.json", "predictions.csv"):
        assert (tmp_path / "rebuilt" / name).read_bytes() == (tmp_path / "intact" / name).read_bytes(), name


def test_a_damaged_cache_whose_configured_source_is_gone_stops_naming_that_source(tmp_path, capsys, no_network):
    src, cfg = prepared(tmp_path, make_arrays())
    damage(tmp_path / "cache", "truncated")
    src.unlink()
    capsys.readouterr()
    assert main(train_args(cfg, tmp_path / "train")) == 2
    err = capsys.readouterr().err
    assert f"data source {src} does not exist" in err and "fix" in err
    assert "not set" not in err, "data.source is set: the message must not say otherwise"
    assert not (tmp_path / "train" / "weights.pt").exists()


def test_a_cache_prepared_from_another_source_is_rebuilt_from_the_configured_one(trained, tmp_path, capsys):
    root, src, cfg, arrays = trained
    other_arrays = make_arrays(seed=1)
    other = write_tar(tmp_path / "other.tar.gz", official_files(other_arrays))
    cache = tmp_path / "cache"
    assert main(["data", "--cache", str(cache), "--source", str(other), "--sha256", sha(other)]) == 0
    capsys.readouterr()
    mine = dict(cfg, data=dict(cfg["data"], cache_dir=str(cache)))
    assert main(evaluate_args(mine, root / "train" / "weights.pt", tmp_path / "eval")) == 0
    assert f"not from data.source {src}" in capsys.readouterr().err
    assert data.read_manifest(cache)["source"]["location"] == str(src.resolve())
    x_test = data.load(src, cache, sha256=sha(src), progress=False)[2]
    np.testing.assert_array_equal(x_test, arrays[2])


# --------------------------------------------------------------------------------------------------
# bad archives given to `resrepro data`: refused before anything is unpickled, naming the file and the fix
# --------------------------------------------------------------------------------------------------


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def crc_flipped(path: Path, files: dict[str, bytes]) -> Path:
    """A gzip of stored (uncompressed) blocks with one pixel byte flipped: it inflates without an error,
    only its CRC trailer tells; the flipped copy's own sha256 is what a user would then supply."""
    tar = gzip.decompress(write_tar(path.with_suffix(".src.gz"), files).read_bytes())
    blob = bytearray(gzip.compress(tar, compresslevel=0, mtime=0))
    at = 10 + 5 + 2000  # gzip header, first stored-block header, then tar byte 2000: data_batch_1's pixels
    blob[at] ^= 0x01
    inflated = zlib.decompressobj(-zlib.MAX_WBITS).decompress(bytes(blob[10:]))
    assert len(inflated) == len(tar) and [i for i in range(len(tar)) if inflated[i] != tar[i]] == [2000]
    path.write_bytes(bytes(blob))
    return path


def bad_archive(tmp_path: Path, how: str) -> tuple[Path, str, str]:
    """(archive, the sha256 the user supplies, what the message must say)."""
    files = official_files(make_arrays())
    path = tmp_path / "cifar-10-python.tar.gz"
    if how == "corrupt":
        path.write_bytes(np.random.default_rng(1).bytes(50_000))
        return path, sha(path), "corrupt or truncated"
    if how == "truncated":
        blob = write_tar(path, files).read_bytes()
        path.write_bytes(blob[: int(len(blob) * 0.7)])
        return path, sha(path), "corrupt or truncated"
    if how == "wrong_checksum":
        return write_tar(path, files), "0" * 64, "checksum mismatch"
    if how == "crc_flipped":
        crc_flipped(path, files)
        return path, sha(path), "fails its gzip CRC check"
    if how == "malicious_pickle":
        evil = {b"data": _Evil(tmp_path / "PWNED"), b"labels": [0]}
        files["cifar-10-batches-py/data_batch_1"] = pickle.dumps(evil, protocol=2)
        says = "refusing to unpickle"
    else:  # path traversal
        files["../escape.txt"] = b"x"
        says = "absolute or '..' path"
    write_tar(path, files)
    return path, sha(path), says


@pytest.mark.parametrize(
    "how", ["corrupt", "truncated", "wrong_checksum", "crc_flipped", "malicious_pickle", "path_traversal"]
)
def test_a_bad_archive_is_refused_by_resrepro_data_naming_the_file_and_the_fix(
    tmp_path, how, capsys, monkeypatch, no_network
):
    path, digest, says = bad_archive(tmp_path, how)
    unpickled = []
    real = data_archives._unpickle_batch

    def spy(blob, where):
        unpickled.append(where)
        return real(blob, where)

    monkeypatch.setattr(data_archives, "_unpickle_batch", spy)
    cache = tmp_path / "cache"
    capsys.readouterr()
    assert main(["data", "--cache", str(cache), "--source", str(path), "--sha256", digest]) == 2
    err = capsys.readouterr().err
    assert says in err and str(path) in err and "fix" in err, err
    assert "Traceback" not in err
    if how == "malicious_pickle":  # the restricted unpickler is what refuses it, before any code runs
        assert not (tmp_path / "PWNED").exists()
    else:
        assert unpickled == [], f"unpickled before being refused: {unpickled}"
    assert not (cache / data.MANIFEST_NAME).exists() and not (cache / data.PREPARED_NAME).exists()
    assert not (tmp_path / "escape.txt").exists()


def test_an_intact_archive_stored_uncompressed_in_gzip_passes_the_crc_check(tmp_path):
    """The CRC test above fails only because of the flipped byte: the same archive intact is read."""
    arrays = make_arrays()
    tar = gzip.decompress(write_tar(tmp_path / "a.tar.gz", official_files(arrays)).read_bytes())
    path = tmp_path / "stored.tar.gz"
    path.write_bytes(gzip.compress(tar, compresslevel=0, mtime=0))
    assert main(["data", "--cache", str(tmp_path / "cache"), "--source", str(path), "--sha256", sha(path)]) == 0
    got = data.load(path, tmp_path / "cache", sha256=sha(path), progress=False)
    for g, w in zip(got, arrays):
        np.testing.assert_array_equal(g, w)


# --------------------------------------------------------------------------------------------------
# a NaN loss through `resrepro train`
# --------------------------------------------------------------------------------------------------


def test_a_nan_loss_stops_resrepro_train_naming_the_epoch_and_the_step(trained, tmp_path, capsys):
    root, src, cfg, arrays = trained
    blown = dict(cfg, train=dict(cfg["train"], lr=1e30))
    capsys.readouterr()
    assert main(train_args(blown, tmp_path / "train")) == 2
    err = capsys.readouterr().err
    assert "NaN or infinite" in err and "epoch 1, step" in err and "Lower train.lr" in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "train" / "weights.pt").exists() and not (tmp_path / "train" / "history.csv").exists()


# --------------------------------------------------------------------------------------------------
# the same through Snakemake: the rules hand the configured source to train and evaluate
# --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_a_damaged_cache_under_snakemake_is_rebuilt_from_the_configured_source_and_the_job_reruns(tmp_path):
    from test_pipeline import snakemake, tiny_config

    archive = write_tar(tmp_path / "tiny-cifar.tar.gz", official_files(make_arrays(n_batch=40, n_test=20)))
    cfg = tiny_config(tmp_path, archive)
    cfg["train"]["epochs"] = 1
    (tmp_path / "config.yaml").write_text(json.dumps(cfg))  # JSON is YAML
    target = "results/tiny/eval/resnet20/seed0/metrics.json"
    first = snakemake(tmp_path, "--cores", "1", target)
    assert first.returncode == 0, first.stderr[-4000:]
    metrics = (tmp_path / target).read_bytes()
    damage(tmp_path / "data", "truncated")
    second = snakemake(tmp_path, "--cores", "1", target)
    assert second.returncode == 0, second.stderr[-4000:]
    log = (tmp_path / "results" / "tiny" / "logs" / "train" / "resnet20-seed0.log").read_text()
    assert f"rebuilding it from data.source {archive}" in log and "damaged or truncated" in log
    assert data.read_manifest(tmp_path / "data")["source"]["location"] == str(archive.resolve())
    assert (tmp_path / target).read_bytes() == metrics, "the same result after the rebuild"
