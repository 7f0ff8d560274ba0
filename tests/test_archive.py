"""The shipped measured reproduction (resrepro.archive, workflow/rules/archive.smk).

A real tiny run (`resrepro data`, `resrepro train` and `resrepro evaluate` through the command line, on a
generated archive: tests/archives.py) gives the result files; they are exported, imported and counted, bad
bundles are refused, and real Snakemake runs show that an archived job is restored instead of trained, that
a missing archive file makes the job train again, and that `archive.only: true` renders the report from the
archive alone, saying how many trainings were measured.
"""

from __future__ import annotations

import io as bytes_io
import json
import shutil
import tarfile
from pathlib import Path

import pytest
import yaml
from archives import make_arrays, official_files, write_tar
from test_pipeline import snakemake, stats_jobs

from resrepro import archive, config, jobset
from resrepro.cli import main
from resrepro.io import file_digest

RUN, MODEL, SEEDS = "tiny", "resnet20", (0, 1)


def tiny_config(root: Path, **train) -> dict:
    """train.device cpu: the jobs train here, on the CPU, and count for a CPU recipe (resrepro.engines)."""
    src = root / "tiny-cifar.tar.gz"
    return config.validate(
        {
            "run": RUN,
            "stamp": "tiny test run, not comparable with the paper",
            "models": [MODEL],
            "seeds": list(SEEDS),
            "data": {"source": str(src), "sha256": file_digest(src), "cache_dir": "data", "val_size": 20},
            "train": {"device": "cpu", "epochs": 1, "batch_size": 32, "threads": 1, "eval_batch_size": 64, **train},
            "overrides": {},
        }
    )


def write_config(workdir: Path, cfg: dict) -> None:
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg))


def train_jobs(root: Path, cfg: dict, seeds=SEEDS) -> Path:
    """Real one-epoch trainings and evaluations of ``cfg`` (resnet20) through the command line, on this CPU."""
    results = root / "results" / RUN
    for seed in seeds:
        job = ["--model", MODEL, "--cache", str(root / "data"), "--data", json.dumps(cfg["data"])]
        train_dir, eval_dir = results / "train" / MODEL / f"seed{seed}", results / "eval" / MODEL / f"seed{seed}"
        recipe = json.dumps(config.recipe_for(cfg, MODEL))
        ckpt = root / f"ckpt{seed}.pt"
        train = ["train", *job, "--seed", str(seed), "--recipe", recipe, "--out-dir", str(train_dir)]
        assert main([*train, "--checkpoint", str(ckpt), "--no-progress"]) == 0
        evaluate = ["evaluate", *job, "--weights", str(train_dir / "weights.pt"), "--out-dir", str(eval_dir)]
        assert main([*evaluate, "--batch-size", "64", "--device", cfg["train"]["device"]]) == 0
    return results


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A folder holding data/ and results/tiny/ of two real one-epoch trainings (resnet20, seeds 0 and 1)."""
    root = tmp_path_factory.mktemp("run")
    write_tar(root / "tiny-cifar.tar.gz", official_files(make_arrays(n_batch=20, n_test=40)))
    cfg = tiny_config(root)
    cfg["data"]["cache_dir"] = str(root / "data")
    src = cfg["data"]["source"]
    assert main(["data", "--cache", str(root / "data"), "--source", src, "--sha256", cfg["data"]["sha256"]]) == 0
    train_jobs(root, cfg)
    return root


def workdir_with(tmp_path: Path, tiny_run: Path, *, jobs=SEEDS, **train) -> Path:
    """A fresh working directory whose archive holds ``jobs`` (seeds of resnet20) of the tiny run."""
    shutil.copy(tiny_run / "tiny-cifar.tar.gz", tmp_path)
    write_config(tmp_path, tiny_config(tmp_path, **train))
    if jobs:
        bundle = tmp_path / "bundle.tar.gz"
        archive.export_jobs(tiny_run / "results" / RUN, bundle, [(MODEL, s) for s in jobs], tiny_run / "data")
        archive.import_jobs(bundle, RUN, tmp_path / "archive")
    return tmp_path


def counted(workdir: Path, cfg: dict | None = None) -> list:
    cfg = cfg or config.load(workdir / "config.yaml")
    return archive.archived_jobs(cfg, workdir / "archive")


# --- import, export, status ----------------------------------------------------------------------------------
def test_an_exported_bundle_imports_to_the_pipelines_own_files_without_weights(tiny_run, tmp_path):
    results = tiny_run / "results" / RUN
    bundle = tmp_path / "all.tar.gz"
    assert main(["archive", "export", "--results", str(results), "--out", str(bundle), "--cache", "nowhere"]) == 0
    names = tarfile.open(bundle).getnames()
    assert "provenance.json" not in names and "data.json" not in names  # no provenance, no cache given
    assert not any(n.endswith("weights.pt") for n in names)
    assert sorted(names) == sorted(f for s in SEEDS for f in archive.job_files(MODEL, s))

    bundle = tmp_path / "with-data.tar.gz"
    archive.export_jobs(results, bundle, cache=tiny_run / "data")
    assert main(["archive", "import", str(bundle), "--run", RUN, "--archive-dir", str(tmp_path / "archive")]) == 0
    dest = tmp_path / "archive" / RUN
    for seed in SEEDS:
        for rel in archive.job_files(MODEL, seed):
            assert (dest / rel).read_bytes() == (results / rel).read_bytes(), rel
        assert not (dest / "train" / MODEL / f"seed{seed}" / "weights.pt").exists()
    index = json.loads((dest / "index.json").read_text())
    entry = index["jobs"][f"{MODEL}/seed0"]
    assert entry["device"] == "cpu" and entry["source"] == str(bundle) and entry["imported_utc"].endswith("Z")
    assert (
        entry["prepared_sha256"] == json.loads((tiny_run / "data" / "cifar10.json").read_text())["prepared"]["sha256"]
    )
    assert entry["files"][f"train/{MODEL}/seed0/train.json"] == file_digest(
        dest / "train" / MODEL / "seed0" / "train.json"
    )
    # the workdir has no data cache: the archived manifest decides the data, so both jobs count
    cfg = tiny_config(tiny_run)
    cfg["data"]["cache_dir"] = str(tmp_path / "no-cache")
    assert archive.archived_jobs(cfg, tmp_path / "archive") == [(MODEL, 0), (MODEL, 1)]
    assert archive.missing_jobs(cfg, tmp_path / "archive") == []


def test_an_identical_import_is_skipped_and_a_different_one_refused_naming_both_unless_replace(
    tiny_run, tmp_path, capsys
):
    work = workdir_with(tmp_path, tiny_run, jobs=(0,))
    bundle, dest = work / "bundle.tar.gz", work / "archive" / RUN
    before = (dest / "index.json").read_bytes()
    assert main(["archive", "import", str(bundle), "--run", RUN, "--archive-dir", str(work / "archive")]) == 0
    assert f"skipped {MODEL} seed 0 (identical" in capsys.readouterr().out
    assert (dest / "index.json").read_bytes() == before

    other = work / "other"  # the same job, trained again differently (its history changed)
    shutil.copytree(tiny_run / "results" / RUN, other)
    hist = other / "train" / MODEL / "seed0" / "history.csv"
    hist.write_text(hist.read_text() + hist.read_text().splitlines()[-1] + "\n")
    shutil.rmtree(other / "train" / MODEL / "seed1")
    shutil.rmtree(other / "eval" / MODEL / "seed1")
    args = ["archive", "import", str(other), "--run", RUN, "--archive-dir", str(work / "archive")]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "archived already" in err and str(bundle) in err and str(other) in err and "--replace" in err
    assert (dest / "index.json").read_bytes() == before
    assert main([*args, "--replace"]) == 0
    assert (dest / "train" / MODEL / "seed0" / "history.csv").read_bytes() == hist.read_bytes()
    assert not list(dest.glob(".import-*")), "the staging folder is gone"


def test_an_incomplete_job_is_refused_naming_the_missing_file_and_nothing_is_written(tiny_run, tmp_path, capsys):
    src = tmp_path / "results"
    shutil.copytree(tiny_run / "results" / RUN, src)
    (src / "eval" / MODEL / "seed1" / "predictions.csv").unlink()
    assert main(["archive", "import", str(src), "--run", RUN, "--archive-dir", str(tmp_path / "archive")]) == 3
    err = capsys.readouterr().err
    assert f"incomplete job {MODEL} seed 1" in err and "predictions.csv" in err and "fix:" in err
    assert not (tmp_path / "archive" / RUN / "index.json").exists()
    assert not (tmp_path / "archive" / RUN / "train").exists()
    # export packs only the complete jobs by default
    archive.export_jobs(src, tmp_path / "b.tar.gz")
    assert {n.split("/")[2] for n in tarfile.open(tmp_path / "b.tar.gz").getnames() if "/" in n} == {"seed0"}


def test_a_train_json_of_another_job_is_refused(tiny_run, tmp_path, capsys):
    src = tmp_path / "results"
    shutil.copytree(tiny_run / "results" / RUN, src)
    shutil.copy(src / "train" / MODEL / "seed0" / "train.json", src / "train" / MODEL / "seed1" / "train.json")
    assert main(["archive", "import", str(src), "--run", RUN, "--archive-dir", str(tmp_path / "archive")]) == 3
    assert "records resnet20 seed 0, but lies in the folder of resnet20 seed 1" in capsys.readouterr().err


def _bundle(path: Path, members: list[tarfile.TarInfo | tuple[str, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for m in members:
            if isinstance(m, tarfile.TarInfo):
                tar.addfile(m)
            else:
                info = tarfile.TarInfo(m[0])
                info.size = len(m[1])
                tar.addfile(info, bytes_io.BytesIO(m[1]))
    return path


def _link(name: str, target: str) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    "members, says",
    [
        ([("/etc/evil", b"x")], "absolute or '..' path"),
        ([("train/../../evil", b"x")], "absolute or '..' path"),
        ([_link("train/resnet20/seed0/history.csv", "/etc/passwd")], "not a regular file"),
        ([("weights.pt", b"x"), ("train/resnet20/seed0/weights.pt", b"x")], "no job (train/<model>/seed<s>/) found"),
        ([("train/resnet20/seed0/train.json", b"{not json")], "incomplete job"),
        (None, "not a readable .tar.gz bundle"),
    ],
    ids=["absolute", "dotdot", "symlink", "foreign", "incomplete", "not-gzip"],
)
def test_a_bad_bundle_is_refused_naming_the_problem_and_nothing_is_written(tmp_path, capsys, members, says):
    bundle = tmp_path / "bad.tar.gz"
    if members is None:
        bundle.write_bytes(b"this is not a gzip file")
    else:
        _bundle(bundle, members)
    assert main(["archive", "import", str(bundle), "--run", RUN, "--archive-dir", str(tmp_path / "archive")]) == 3
    err = capsys.readouterr().err
    assert says in err and "fix:" in err and str(bundle) in err
    assert [p.name for p in (tmp_path / "archive" / RUN).iterdir()] == []
    assert not (tmp_path / "evil").exists() and not Path("/etc/evil").exists()


def test_an_archived_job_of_another_recipe_does_not_count_and_status_says_why(tiny_run, tmp_path, capsys):
    work = workdir_with(tmp_path, tiny_run, epochs=2)
    cfg = config.load(work / "config.yaml")
    assert counted(work, cfg) == [] and archive.missing_jobs(cfg, work / "archive") == [(MODEL, 0), (MODEL, 1)]
    st = archive.status(cfg, work / "archive")
    assert st["line"].startswith("0 of 2 trainings measured")
    assert st["jobs"][0]["why"] == "another recipe (epochs: 1 archived, 2 here)"
    # threads decide how, not what: the same jobs count
    assert counted(work, {**cfg, "train": {**cfg["train"], "epochs": 1, "threads": 3}}) == [(MODEL, 0), (MODEL, 1)]
    # other data (another split seed) does not count either
    other = {**cfg, "train": {**cfg["train"], "epochs": 1}, "data": {**cfg["data"], "split_seed": 1}}
    assert archive.why_not(other, MODEL, 0, work / "archive").startswith("other data")
    monkey = ["archive", "status", "--configfile", str(work / "config.yaml"), "--archive-dir", str(work / "archive")]
    assert main(monkey) == 0
    assert "resnet20 seed 0 does not count: another recipe" in capsys.readouterr().out


def test_an_archived_cpu_fp32_eager_job_does_not_count_for_the_gpu_recipe_and_status_says_why(
    tiny_run, tmp_path, capsys
):
    """train.device auto trained here (no GPU: the CPU, fp32, eager): the same recipe, another engine."""
    root = tmp_path / "auto"
    shutil.copytree(tiny_run / "data", root / "data")
    shutil.copy(tiny_run / "tiny-cifar.tar.gz", root)
    gpu_recipe = {"device": "auto", "precision": "auto", "compile": "cuda"}  # config.yaml's
    cfg = tiny_config(root, **gpu_recipe)
    cfg["data"]["cache_dir"] = str(root / "data")
    results = train_jobs(root, cfg, seeds=(0,))
    assert json.loads((results / "train" / MODEL / "seed0" / "train.json").read_text())["device"] == "cpu"
    archive.export_jobs(results, root / "b.tar.gz", [(MODEL, 0)], root / "data")
    archive.import_jobs(root / "b.tar.gz", RUN, tmp_path / "archive")
    why = archive.why_not(cfg, MODEL, 0, tmp_path / "archive")
    assert why == "another engine (cpu, fp32, eager archived; the config trains cuda, bf16-autocast, compiled)"
    assert archive.archived_jobs(cfg, tmp_path / "archive") == []
    write_config(tmp_path, cfg)
    cmd = ["archive", "status", "--configfile", str(tmp_path / "config.yaml")]
    assert main([*cmd, "--archive-dir", str(tmp_path / "archive")]) == 0
    assert "resnet20 seed 0 does not count: another engine (cpu, fp32, eager archived" in capsys.readouterr().out


def test_the_measured_line_names_the_seeds_of_each_model_and_what_was_not_measured():
    planned = jobset.pairs(["resnet18", "vgg16"], [0, 1, 2])
    line = jobset.describe([("resnet18", 0), ("resnet18", 1), ("resnet18", 2)], planned, "archive/paper")
    assert (
        line == "3 of 6 trainings measured (archive/paper): resnet18 seeds 0, 1, 2; not measured: vgg16 seeds 0, 1, 2"
    )
    spec = {"models": ["resnet18"], "seeds": {"resnet18": [0]}, "planned": planned, "archived": [["resnet18", 0]]}
    assert jobset.measured_line(spec).startswith("1 of 6 trainings measured (archive): resnet18 seed 0;")
    assert jobset.measured_line({"models": ["vgg16"], "seeds": [0], "planned": [("vgg16", 0)]}) is None


# --- the workflow ------------------------------------------------------------------------------------------
@pytest.mark.slow
def test_a_dry_run_restores_the_archived_job_trains_the_missing_one_and_falls_back_when_a_file_is_missing(
    tiny_run, tmp_path
):
    work = workdir_with(tmp_path, tiny_run, jobs=(0,))
    dry = snakemake(work, "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    out = dry.stdout + dry.stderr
    assert {"restore_train", "restore_eval", "train", "evaluate"} <= stats_jobs(out)
    assert f"train/{MODEL}/seed1/history.csv" in out and f"archive/{RUN}/train/{MODEL}/seed0/history.csv" in out
    assert "seed0/weights.pt" not in out, "an archived job never needs weights.pt"
    (work / "archive" / RUN / "eval" / MODEL / "seed0" / "predictions.csv").unlink()  # the job no longer counts
    dry = snakemake(work, "-n")
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert not {"restore_train", "restore_eval"} & stats_jobs(dry.stdout + dry.stderr)
    assert "seed0/weights.pt" in dry.stdout + dry.stderr


@pytest.mark.slow
def test_an_empty_archive_with_only_true_stops_naming_the_fix(tiny_run, tmp_path):
    work = workdir_with(tmp_path, tiny_run, jobs=())
    dry = snakemake(work, "-n", "--config", 'archive={"only": true}')
    assert dry.returncode != 0
    out = dry.stdout + dry.stderr
    assert "holds no job that matches this config" in out and "fix: train" in out and "resrepro archive import" in out


@pytest.mark.slow
def test_a_partial_archive_with_only_true_renders_the_report_saying_1_of_2_trainings_measured(tiny_run, tmp_path):
    from pypdf import PdfReader

    work = workdir_with(tmp_path, tiny_run, jobs=(1,))
    run = snakemake(work, "--cores", "2", "--config", 'archive={"only": true}')
    assert run.returncode == 0, run.stderr[-4000:]
    ran = stats_jobs(run.stdout + run.stderr)
    assert not {"train", "evaluate", "prepare_data"} & ran and {"restore_train", "report"} <= ran
    assert not (work / "data").exists(), "no data were prepared"
    assert not list((work / "results").rglob("weights.pt"))
    text = " ".join(" ".join(p.extract_text().split()) for p in PdfReader(work / "reports" / RUN / "report.pdf").pages)
    assert "1 of 2 trainings measured (archive/tiny): resnet20 seed 1; not measured: resnet20 seed 0" in text
    html = (work / "reports" / RUN / "report.html").read_text()
    assert "1 of 2 trainings measured (archive/tiny)" in html and "measured elsewhere: archive" in html
    measured = json.loads((work / "results" / RUN / "tables" / "measured.json").read_text())
    assert measured[MODEL]["accuracy"]["n"] == 1
    prov = json.loads((work / "results" / RUN / "provenance.json").read_text())
    assert prov["data"]["prepared"]["sha256"]  # the archive's data manifest


def test_the_degradation_study_of_archived_jobs_reads_each_models_seeds_and_checks_the_jacobian_untrained(tmp_path):
    from test_degradation import make_run

    from resrepro import degradation
    from resrepro.paper import load_context

    make_run(tmp_path, seeds=(0, 1))
    for weights in tmp_path.rglob("weights.pt"):  # archived jobs: finished (train.json), no weights
        weights.unlink()
        (weights.parent / "train.json").write_text("{}")
    seeds = {"plain20": [0, 1], "resnet20": [1], "plain32": [0], "resnet32": [0, 1]}
    context = load_context(Path(__file__).resolve().parents[1] / "reports" / "context.yaml")
    s = degradation.run(tmp_path, list(seeds), seeds, tmp_path / "out", context)
    assert s["jacobian"]["trained"] is False and len(s["jacobian"]["checks"]) == 3
    assert s["seeds"] == [0, 1] and s["kinds"]["resnet20"]["final_train_error"]["n"] == 1
    assert s["kinds"]["resnet32"]["final_train_error"]["n"] == 2
    (tmp_path / "train" / "resnet20" / "seed1" / "train.json").unlink()  # an unfinished job: its weights are needed
    with pytest.raises(degradation.ResreproError, match="weights.pt"):
        degradation.run(tmp_path, list(seeds), seeds, tmp_path / "out", context)
