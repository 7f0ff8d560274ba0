"""The shipped measured reproduction: finished jobs' result files under ``archive/<run>/``, without weights.

Layout (the pipeline's own, minus ``weights.pt``)::

    archive/<run>/train/<model>/seed<s>/{history.csv,train.json,gradflow.json}
    archive/<run>/eval/<model>/seed<s>/{metrics.json,predictions.csv}
    archive/<run>/index.json    every job: its files' sha256, where and when it was imported, its device,
                                environment and commit, and the prepared data's sha256 it was trained on
    archive/<run>/data.json     the data manifest (data/cifar10.json) of the last import that had one

``index.json`` is written last, atomically: a job counts only once it is listed there, so an interrupted
import leaves the archive as it was. A bundle is a ``.tar.gz`` of the same relative layout (``export``),
plus ``data.json`` and the run's ``provenance.json`` when known.

Which archived jobs count for a config (:func:`archived_jobs`): those whose recorded recipe (train.json) equals
what the config would train (:func:`resrepro.config.recipe_for`, but for
:data:`resrepro.config.HOW_NOT_WHAT`), whose recorded engine (train.json's device type, precision and
compile state) equals what the config resolves to on a machine that trains it (:func:`resrepro.engines.resolved`:
CUDA for train.device auto / cuda / cuda:N, the CPU for cpu; a CPU fp32 eager job does not count for a GPU
recipe), and whose recorded data identity (train.json's ``data_key``: :func:`resrepro.checkpoints.data_identity`
over the prepared data's sha256, the split and the subsets) equals the config's. :func:`status` says why any does not.
Torch- and numpy-free: the workflow imports it at parse time.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import os
import shutil
import tarfile
import tempfile
import zlib
from pathlib import Path, PurePosixPath

from . import ResreproError, engines, io, jobset
from .config import what_trains
from .errors import InputError

FORMAT = "resrepro.archive/1"
FILES = {"train": ("history.csv", "train.json", "gradflow.json"), "eval": ("metrics.json", "predictions.csv")}
CSV_COLUMNS = {"history.csv": ("epoch", "val_acc", "epoch_seconds"), "predictions.csv": ()}
EXTRA = ("data.json", "provenance.json")  # the bundle's files beside the jobs
MAX_MEMBER_BYTES = 256 << 20  # a predictions.csv of the full test set is ~0.3 MB
_FIX_BUNDLE = "make the bundle with `resrepro archive export` (relative paths, regular files only)"


def job_files(model: str, seed: int) -> list[str]:
    """A job's files, relative to archive/<run>/ (or results/<run>/)."""
    return [f"{stage}/{model}/seed{seed}/{name}" for stage, names in FILES.items() for name in names]


def run_dir(archive_dir: str | os.PathLike, run: str) -> Path:
    return Path(archive_dir) / run


def read_index(folder: str | os.PathLike) -> dict:
    path = Path(folder) / "index.json"
    if not path.exists():
        return {"format": FORMAT, "jobs": {}}
    return io.read_json(path)


def _key(model: str, seed: int) -> str:
    return f"{model}/seed{seed}"


# --- which archived jobs count for a config ------------------------------------------------------------
_recipe = what_trains  # threads and pack decide how, not what: an archived job made with others still counts


def _data_key(cfg: dict, prepared_sha256: str | None) -> str | None:
    from .checkpoints import data_identity
    from .config import digest

    if not prepared_sha256:
        manifest = Path(cfg["data"]["cache_dir"]) / "cifar10.json"  # an archive made without it: the local data
        if not manifest.exists():
            return None
        prepared_sha256 = io.read_json(manifest)["prepared"]["sha256"]
    return digest(data_identity(cfg["data"], {"prepared": {"sha256": prepared_sha256}}))


def why_not(cfg: dict, model: str, seed: int, archive_dir: str | os.PathLike = "archive") -> str | None:
    """None if the archived (model, seed) counts for ``cfg``; otherwise why not, in a few words."""
    from .config import recipe_for

    folder = run_dir(archive_dir, cfg["run"])
    entry = read_index(folder)["jobs"].get(_key(model, seed))
    if entry is None:
        return "not archived"
    missing = [f for f in job_files(model, seed) if not (folder / f).is_file()]
    if missing:
        return f"archive file {folder / missing[0]} is missing"
    t = io.read_json(folder / "train" / model / f"seed{seed}" / "train.json")
    want, got = _recipe(recipe_for(cfg, model)), _recipe(t["recipe"])
    if want != got:
        keys = sorted(k for k in set(want) | set(got) if want.get(k, "<unset>") != got.get(k, "<unset>"))
        shown = ", ".join(f"{k}: {got.get(k, '<unset>')!r} archived, {want.get(k, '<unset>')!r} here" for k in keys)
        return f"another recipe ({shown})"
    want, got = engines.resolved(recipe_for(cfg, model)), engines.recorded(t)
    if want != got:  # train.device auto / precision auto / compile cuda resolve otherwise on the CPU
        return f"another engine ({engines.describe(got)} archived; the config trains {engines.describe(want)})"
    key = _data_key(cfg, entry.get("prepared_sha256"))
    if key is None:
        return "its data is unknown (no data manifest archived, none in data.cache_dir): run `resrepro data` first"
    if t["data_key"] != key:
        return "other data (the prepared data's sha256, data.val_size, split_seed or the subsets differ)"
    return None


def archived_jobs(cfg: dict, archive_dir: str | os.PathLike = "archive") -> list[tuple[str, int]]:
    """The config's (model, seed) jobs that the archive holds for it (recipe, engine and data match), in order."""
    return [(m, s) for m, s in jobset.pairs(cfg["models"], cfg["seeds"]) if why_not(cfg, m, s, archive_dir) is None]


def missing_jobs(cfg: dict, archive_dir: str | os.PathLike = "archive") -> list[tuple[str, int]]:
    """The config's jobs that the archive does not hold for it, in config order."""
    have = set(archived_jobs(cfg, archive_dir))
    return [j for j in jobset.pairs(cfg["models"], cfg["seeds"]) if j not in have]


def status(cfg: dict, archive_dir: str | os.PathLike = "archive") -> dict:
    """{"line": "6 of 15 trainings measured (archive/paper): ...", "jobs": [{model, seed, counts, why}]}."""
    rows = []
    for m, s in jobset.pairs(cfg["models"], cfg["seeds"]):
        why = why_not(cfg, m, s, archive_dir)
        rows.append({"model": m, "seed": s, "counts": why is None, "why": why})
    have = [(r["model"], r["seed"]) for r in rows if r["counts"]]
    planned = jobset.pairs(cfg["models"], cfg["seeds"])
    where = str(run_dir(archive_dir, cfg["run"]))
    return {"line": jobset.describe(have, planned, where), "jobs": rows, "archived": have}


def check_only(cfg: dict, jobs: list) -> None:
    """``archive.only: true`` with nothing archived for the config: a clear error naming the fix."""
    if not jobs:
        where = run_dir(cfg["archive"]["dir"], cfg["run"])
        raise ResreproError(
            f"archive.only is true but {where}/ holds no job that matches this config (run `resrepro archive status`"
            f" to see why); fix: train (set archive.only: false), or import a bundle: "
            f"`resrepro archive import BUNDLE.tar.gz --run {cfg['run']}`"
        )


# --- reading a source: a results folder or a bundle ----------------------------------------------------
def _check_member(bundle: Path, m: tarfile.TarInfo) -> PurePosixPath | None:
    """A bundle member's relative path (None for a folder or a file outside the layout, which is not read), or an
    error: an absolute or '..' path, a link, a device, an oversized file."""
    p = PurePosixPath(m.name)
    if p.is_absolute() or ".." in p.parts or m.name.startswith("/"):
        raise InputError(f"refusing bundle member {m.name!r}: an absolute or '..' path", bundle, _FIX_BUNDLE)
    if m.isdir():
        return None
    if not m.isfile():
        raise InputError(f"refusing bundle member {m.name!r}: not a regular file (a link?)", bundle, _FIX_BUNDLE)
    if m.size > MAX_MEMBER_BYTES:
        raise InputError(f"refusing bundle member {m.name!r}: {m.size} bytes", bundle, _FIX_BUNDLE)
    p = PurePosixPath(*[part for part in p.parts if part != "."])
    in_job = len(p.parts) == 4 and p.parts[0] in FILES and p.name in FILES[p.parts[0]]
    return p if in_job or str(p) in EXTRA else None  # anything else (weights.pt, logs) is not read


def _unpack(bundle: Path, into: Path) -> None:
    """Extract a bundle into ``into``, member by member, after checking every member."""
    try:
        with tarfile.open(bundle, "r:gz") as tar:
            members = tar.getmembers()
            paths = [(m, _check_member(bundle, m)) for m in members]
            for m, rel in paths:
                if rel is not None:
                    (into / rel).parent.mkdir(parents=True, exist_ok=True)
                    with tar.extractfile(m) as f, open(into / rel, "wb") as out:
                        shutil.copyfileobj(f, out)
    except (tarfile.TarError, EOFError, gzip.BadGzipFile, zlib.error) as e:
        raise InputError(f"not a readable .tar.gz bundle ({e})", bundle, _FIX_BUNDLE) from None


def _jobs_in(folder: Path) -> list[tuple[str, int]]:
    """The (model, seed) folders under train/ and eval/ of a results or archive folder."""
    found = set()
    for stage in FILES:
        for d in sorted((folder / stage).glob("*/seed*")):
            if d.is_dir() and d.name[4:].isdigit():
                found.add((d.parent.name, int(d.name[4:])))
    return sorted(found)


def _validate_job(folder: Path, model: str, seed: int) -> dict:
    """A complete, readable job whose train.json names it; its train.json."""
    for rel in job_files(model, seed):
        path = folder / rel
        if not path.is_file():
            raise InputError(
                f"incomplete job {model} seed {seed}: {rel} is missing",
                path,
                "finish the job (or leave it out: `resrepro archive export --jobs model:seed,...`), then import",
            )
        if path.suffix == ".json":
            io.read_json(path)
        else:
            io.read_csv(path, CSV_COLUMNS[path.name])
    t = io.read_json(folder / "train" / model / f"seed{seed}" / "train.json")
    t["recipe"], t["data_key"]  # what decides whether it counts: a train.json without them is refused (named)
    if t["model"] != model or int(t["seed"]) != seed:
        raise InputError(
            f"train.json records {t['model']} seed {t['seed']}, but lies in the folder of {model} seed {seed}",
            folder / "train" / model / f"seed{seed}" / "train.json",
            "import the results folder as the pipeline wrote it",
        )
    return t


def _manifest(folder: Path, cache: str | os.PathLike | None) -> dict | None:
    """The data manifest the jobs were trained on: the bundle's data.json, the run's provenance, or the cache's."""
    if (folder / "data.json").is_file():
        return io.read_json(folder / "data.json")
    if (folder / "provenance.json").is_file() and io.read_json(folder / "provenance.json").get("data"):
        return io.read_json(folder / "provenance.json")["data"]
    if cache is not None and (Path(cache) / "cifar10.json").is_file():
        return io.read_json(Path(cache) / "cifar10.json")
    return None


def _sums(folder: Path, model: str, seed: int) -> dict[str, str]:
    return {rel: io.file_digest(folder / rel) for rel in job_files(model, seed)}


def _entry(folder: Path, model: str, seed: int, t: dict, source: str, manifest: dict | None) -> dict:
    """The index entry of one job: what is there, from where, when, on which device, commit and environment."""
    prov = io.read_json(folder / "provenance.json") if (folder / "provenance.json").is_file() else {}
    return {
        "model": model,
        "seed": seed,
        "files": _sums(folder, model, seed),
        "source": source,
        "imported_utc": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "device": t.get("device"),
        "device_name": t.get("device_name"),
        "environment": t.get("environment"),  # GPU model, driver, CUDA, cuDNN, torch, when train.json has it
        "pack": t.get("pack"),
        "epochs": t.get("epochs"),
        "recipe_digest": t.get("recipe_digest"),
        "data_key": t.get("data_key"),
        "prepared_sha256": ((manifest or {}).get("prepared") or {}).get("sha256"),
        "commit": (prov.get("git") or {}).get("commit"),
        "provenance_date": prov.get("date"),
    }


# --- import -------------------------------------------------------------------------------------------------
def import_jobs(
    src: str | os.PathLike,
    run: str,
    archive_dir: str | os.PathLike = "archive",
    replace: bool = False,
    cache: str | os.PathLike | None = "data",
) -> dict:
    """Import every job of ``src`` (a results folder or a bundle) into archive/<run>/; {"imported", "skipped"}.

    Refuses an incomplete or unreadable job, and a job that differs from an archived one unless ``replace``;
    skips an identical one. Staged beside the archive and renamed into place; index.json is written last.
    """
    src, dest = Path(src), run_dir(archive_dir, run)
    if not src.exists():
        raise InputError("no such results folder or bundle", src, "give a results/<run> folder or a .tar.gz bundle")
    dest.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".import-", dir=dest))
    try:
        folder = src if src.is_dir() else staging / "bundle"
        if not src.is_dir():
            folder.mkdir()
            _unpack(src, folder)
        return _import_folder(folder, str(src), dest, staging, replace, cache)
    except InputError as e:  # a bundle's member is named inside the bundle, not in the staging folder
        if not src.is_dir():
            e.args = (str(e).replace(f"{folder}{os.sep}", f"{src}:").replace(str(folder), str(src)),)
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _import_folder(folder: Path, source: str, dest: Path, staging: Path, replace: bool, cache) -> dict:
    jobs = _jobs_in(folder)
    if not jobs:
        raise InputError("no job (train/<model>/seed<s>/) found", folder, "give a results/<run> folder or a bundle")
    summaries = {j: _validate_job(folder, *j) for j in jobs}  # every job checked before anything is written
    index = read_index(dest)
    new, skipped = [], []
    for model, seed in jobs:
        old = index["jobs"].get(_key(model, seed))
        if old is None:
            new.append((model, seed))
        elif old["files"] == _sums(folder, model, seed) and all((dest / f).is_file() for f in old["files"]):
            skipped.append((model, seed))
        elif replace:
            new.append((model, seed))
        else:
            raise ResreproError(
                f"{model} seed {seed} is archived already ({dest / 'train' / model / f'seed{seed}'}, from "
                f"{old['source']}) and differs from {source}; fix: pass --replace to replace it, or import "
                "into another --run"
            )
    manifest = _manifest(folder, cache)
    for model, seed in new:  # stage: copy into the staging folder, then one rename per job folder
        for rel in job_files(model, seed):
            (staging / "new" / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(folder / rel, staging / "new" / rel)
    entries = {_key(*j): _entry(folder, *j, summaries[j], source, manifest) for j in new}
    for model, seed in new:
        for stage in FILES:
            target = dest / stage / model / f"seed{seed}"
            if target.exists():  # replaced, or left by an interrupted import (not in the index)
                os.replace(target, staging / f"old-{stage}-{model}-{seed}")
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / "new" / stage / model / f"seed{seed}", target)
    index = {"format": FORMAT, "run": dest.name, "jobs": {**index["jobs"], **entries}}
    index["jobs"] = dict(sorted(index["jobs"].items()))
    if manifest is not None and new:
        io.write_json(dest / "data.json", manifest)
    io.write_json(dest / "index.json", index)  # the commit point: only now do the new jobs count
    return {"imported": new, "skipped": skipped, "archive": str(dest)}


# --- export -------------------------------------------------------------------------------------------------
def complete_jobs(results: str | os.PathLike) -> list[tuple[str, int]]:
    """The jobs of a results folder whose every archived file exists."""
    results = Path(results)
    return [j for j in _jobs_in(results) if all((results / f).is_file() for f in job_files(*j))]


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    import io as _bytes

    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644
    tar.addfile(info, _bytes.BytesIO(data))


def export_jobs(
    results: str | os.PathLike,
    out: str | os.PathLike,
    jobs: list[tuple[str, int]] | None = None,
    cache: str | os.PathLike | None = "data",
) -> list[tuple[str, int]]:
    """Pack ``jobs`` of a results folder (default: every complete one) into one .tar.gz bundle; the jobs packed."""
    results = Path(results)
    jobs = complete_jobs(results) if jobs is None else jobs
    if not jobs:
        raise InputError("no complete job to export", results, "finish at least one training and its evaluation")
    for j in jobs:
        _validate_job(results, *j)
    manifest = _manifest(results, cache)
    with io.atomic_path(out) as tmp, tarfile.open(tmp, "w:gz") as tar:
        for j in jobs:
            for rel in job_files(*j):
                _add(tar, rel, (results / rel).read_bytes())
        if manifest is not None:
            _add(tar, "data.json", (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())
        if (results / "provenance.json").is_file():
            _add(tar, "provenance.json", (results / "provenance.json").read_bytes())
    return jobs


def restore(archive_dir: str | os.PathLike, run: str, model: str, seed: int, stage: str, out_dir: str) -> None:
    """Copy one archived job's files of ``stage`` (train or eval) into the run's results, checked by sha256."""
    folder = run_dir(archive_dir, run)
    sums = read_index(folder)["jobs"][_key(model, seed)]["files"]
    for name in FILES[stage]:
        rel = f"{stage}/{model}/seed{seed}/{name}"
        if io.file_digest(folder / rel) != sums[rel]:
            raise InputError(
                "an archived file differs from its sha256 in index.json", folder / rel, "import its bundle again"
            )
        io.write_bytes(Path(out_dir) / name, (folder / rel).read_bytes())


# --- the command line ---------------------------------------------------------------------------------------
def _jobs_arg(text: str) -> list[tuple[str, int]]:
    out = []
    for item in filter(None, (t.strip() for t in text.split(","))):
        model, _, seed = item.partition(":")
        if not seed.isdigit():
            raise ResreproError(f"--jobs: {item!r} is not model:seed; fix: write e.g. --jobs resnet18:0,resnet18:1")
        out.append((model, int(seed)))
    return out


def _cmd(a) -> None:
    from .config import load

    if a.action == "import":
        done = import_jobs(a.src, a.run, a.archive_dir, a.replace, a.cache)
        for what in ("imported", "skipped"):
            note = " (identical to the archived one)" if what == "skipped" else ""
            for m, s in done[what]:
                print(f"{what} {m} seed {s}{note}")
        print(f"archive: {done['archive']}")
    elif a.action == "export":
        jobs = export_jobs(a.results, a.out, _jobs_arg(a.jobs) if a.jobs else None, a.cache)
        print(f"exported {len(jobs)} job(s) to {a.out}: " + ", ".join(f"{m}:{s}" for m, s in jobs))
    elif a.action == "restore":
        restore(a.archive_dir, a.run, a.model, a.seed, a.stage, a.out_dir)
    else:
        cfg = load(*a.configfile)
        st = status(cfg, a.archive_dir or cfg["archive"]["dir"])
        print(st["line"])
        for r in st["jobs"]:
            if not r["counts"] and r["why"] != "not archived":
                print(f"  {r['model']} seed {r['seed']} does not count: {r['why']}")


def add_command(sub) -> None:
    """`resrepro archive import|export|status` (and `restore`, the workflow's restore rules)."""
    p = sub.add_parser("archive", help="the shipped measured jobs (archive/<run>/): import, export, status")
    acts = p.add_subparsers(dest="action", required=True)
    s = acts.add_parser("import", help="import a results folder or a .tar.gz bundle into archive/<run>/")
    s.add_argument("src", help="results/<run> or a bundle made by `resrepro archive export`")
    s.add_argument("--run", required=True, help="the run it belongs to: archive/<run>/")
    s.add_argument("--archive-dir", default="archive")
    s.add_argument("--replace", action="store_true", help="replace archived jobs that differ")
    s.add_argument("--cache", default="data", help="data cache whose manifest to record if the source has none")
    s = acts.add_parser("export", help="pack a results folder's complete jobs into one .tar.gz bundle")
    s.add_argument("--results", required=True, help="results/<run>")
    s.add_argument("--out", required=True, help="FILE.tar.gz")
    s.add_argument("--jobs", default=None, help="model:seed,... (default: every complete job)")
    s.add_argument("--cache", default="data", help="data cache whose manifest to pack if the run has no provenance")
    s = acts.add_parser("status", help="which of the config's trainings the archive holds, and why not the rest")
    s.add_argument("--configfile", nargs="+", default=["config.yaml"])
    s.add_argument("--archive-dir", default=None, help="default: the config's archive.dir")
    s = acts.add_parser("restore", help="copy one archived job's files into results (the workflow's restore rules)")
    s.add_argument("--archive-dir", default="archive")
    s.add_argument("--run", required=True)
    s.add_argument("--model", required=True)
    s.add_argument("--seed", type=int, required=True)
    s.add_argument("--stage", choices=sorted(FILES), required=True)
    s.add_argument("--out-dir", required=True)
    p.set_defaults(func=_cmd)
