"""`tools/device/run.sh train`: on the lent box, train as many missing (model, seed) jobs as fit, packed.

Steps: assemble the staged CIFAR-10 parts (each part and the whole file checked), prepare the cache with
`resrepro data`, optionally `resrepro bench --pack 1,2,3,4` into $OUT, then for each run (config.yaml, then the
degradation preset) list its missing jobs (resrepro.archive.missing_jobs), estimate each (resrepro.plan.plan) and
start, `pack` at a time per GPU, the pipeline's own `resrepro train` and `resrepro evaluate` with the rules'
arguments (jobs.py). A job starts only if its estimate ends before the budget's deadline; one still running at the
deadline is stopped and dropped: a job is kept only if both its steps finished. After each finished job its run's
bundle is rewritten with `resrepro archive export` ($OUT/<run>.tar.gz), so that $OUT holds what is done even if the
call is killed. $OUT gets at most 5 files: log.txt, summary.json, bench.json and one bundle per run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

import devlib
from jobs import Job, evaluate_args, train_args

from resrepro import ResreproError, config

DEFAULT_RUNS = ("config.yaml", "config.yaml,presets/degradation.yaml")
RETURN_LIMIT = 16 * devlib.MiB  # the device tool brings back files of at most 16 MiB


class Stop(Exception):
    """SIGTERM (the call's time limit): stop starting jobs, stop the running ones, write what is done."""


class Log:
    def __init__(self, out: Path):
        self.path, self.t0 = out / "log.txt", time.monotonic()
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def __call__(self, msg: str) -> None:
        line = f"[{time.monotonic() - self.t0:7.1f} s] {msg}"
        print(line, flush=True)
        with open(self.path, "a") as f:
            f.write(line + "\n")


def _resrepro(py: str, args: list[str]) -> list[str]:
    return [py, "-m", "resrepro", *args]


def prepare_data(py: str, caches: set[str], log: Log) -> None:
    archive = devlib.assemble()
    log(f"assembled {archive} ({archive.stat().st_size:,} bytes, every part and the whole sha256 checked)")
    for cache in sorted(caches):
        out = subprocess.run(
            _resrepro(py, ["data", "--cache", cache, "--source", str(archive)]), capture_output=True, text=True
        )
        if out.returncode:
            raise devlib.DeviceError(
                f"`resrepro data` failed: {out.stderr.strip()[-800:]}",
                "read the error above; the archive itself passed its checksum",
            )
        log(out.stdout.strip())


def bench(py: str, out: Path, timeout: float, extra: list[str], log: Log) -> dict | None:
    dest = out / "bench.json"
    cmd = _resrepro(
        py, ["bench", "--pack", "1,2,3,4", "--models", "resnet18", "--device", "cuda", "--json", str(dest), *extra]
    )
    log(f"bench: {' '.join(cmd[1:])}")
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        log(f"bench: stopped after {timeout:.0f} s; the plan uses the catalog's stated throughput")
        return None
    if res.returncode or not dest.is_file():
        log(f"bench failed (rc {res.returncode}): {res.stderr.strip()[-600:]}")
        return None
    log(res.stdout.strip()[-1500:])
    return json.loads(dest.read_text())


def best_pack(bench_json: dict | None, fallback: int) -> int:
    """The k of the highest aggregate img/s in `resrepro bench --pack` JSON (first model's), else ``fallback``."""
    if not bench_json:
        return fallback
    entry = bench_json["models"][0] if "models" in bench_json else bench_json
    rows = entry.get("pack") or []
    return max(rows, key=lambda r: r["aggregate_images_per_second"])["k"] if rows else fallback


def with_pack(cfg: dict, pack: int) -> dict:
    """The run's config with train.pack = ``pack`` where the schema has the key (issue 14, H1): the slot lock of
    each packed training then admits ``pack`` trainings per GPU."""
    if "pack" not in config.schema()["properties"]["train"]["properties"]:
        return cfg
    return config.validate(config.merge(cfg, {"train": {"pack": pack}}))


def missing(cfg: dict, log: Log) -> list[tuple[str, int]]:
    if importlib.util.find_spec("resrepro.archive") is None:
        log("resrepro.archive is missing: every job of the config counts as missing")
        return [(m, s) for m in cfg["models"] for s in cfg["seeds"]]
    from resrepro import archive

    return archive.missing_jobs(cfg, archive_dir=cfg.get("archive", {}).get("dir", "archive"))


def estimates(cfg: dict, pack: int, bench_files: list[str], overhead: float, log: Log) -> dict[str, float | None]:
    """Wall seconds of one job of each model when ``pack`` share a GPU: resrepro.plan's seconds per training x
    pack / pack speedup (the plan counts start-up and compilation), plus ``overhead`` (the evaluation job). None
    where there is no plan."""
    if importlib.util.find_spec("resrepro.plan") is None:
        log("resrepro.plan is missing: no estimates; jobs start while time is left and stop at the deadline")
        return dict.fromkeys(cfg["models"])
    from resrepro import plan

    log(plan.line(cfg))
    p = plan.plan(cfg, gpus=1, pack=pack, bench_files=bench_files)
    out = {}
    for m, row in p["models"].items():
        s = float(row.get("pack_speedup") or p.get("pack_speedup") or 1.0)  # per model where the plan has it
        out[m] = row["seconds_per_training"] * pack / max(s, 1e-9) + overhead
    log(f"plan: {json.dumps(p, sort_keys=True)[:1500]}")
    return out


class Runner(threading.Thread):
    """One job: `resrepro train`, then `resrepro evaluate`, as the rules run them (logs where the rules put them)."""

    def __init__(self, py: str, cfg: dict, job: Job):
        super().__init__(daemon=True)
        self.py, self.cfg, self.job = py, cfg, job
        self.proc: subprocess.Popen | None = None
        self.result, self.stopped, self.started = "running", False, time.monotonic()

    def run(self) -> None:
        for stage, args in (("train", train_args(self.cfg, self.job)), ("evaluate", evaluate_args(self.cfg, self.job))):
            log_path = Path(self.job.log(stage))
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "w") as f:
                if self.stopped:
                    break
                self.proc = subprocess.Popen(
                    _resrepro(self.py, args), stdout=f, stderr=subprocess.STDOUT, start_new_session=True
                )
                rc = self.proc.wait()
            if rc:
                tail = log_path.read_text(errors="replace").strip().splitlines()[-6:]
                self.result = "stopped" if self.stopped else f"{stage} failed (rc {rc}): " + " | ".join(tail)
                return
        done = all(Path(p).is_file() for p in self.job.outputs())
        self.result = "stopped" if self.stopped else ("finished" if done else "finished without all its files")

    def stop(self) -> None:
        self.stopped = True
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:  # it ended meanwhile
                pass


def export(py: str, run: str, finished: list[Job], cache: str, out: Path, log: Log) -> dict:
    """Rewrite $OUT/<run>.tar.gz with the run's finished jobs (resrepro archive export; a plain tar before it)."""
    dest = out / f"{run}.tar.gz"
    names = ",".join(j.name for j in finished)
    if importlib.util.find_spec("resrepro.archive") is not None:
        args = [
            "archive",
            "export",
            "--results",
            f"results/{run}",
            "--out",
            str(dest),
            "--jobs",
            names,
            "--cache",
            cache,
        ]
        cmd = _resrepro(py, args)
        res = subprocess.run(cmd, capture_output=True, text=True)
        if res.returncode:
            log(f"export of {run} failed: {res.stderr.strip()[-600:]}")
            return {"bundle": None}
    else:
        tmp = dest.with_name(f".{dest.name}.tmp")
        with tarfile.open(tmp, "w:gz") as tar:
            for j in finished:
                for f in j.outputs():
                    tar.add(f, arcname=str(Path(f).relative_to(j.results)))
        os.replace(tmp, dest)
    size = dest.stat().st_size
    fits = size < RETURN_LIMIT
    log(
        f"bundle {dest.name}: {len(finished)} jobs ({names}), {size:,} bytes"
        + ("" if fits else " -- OVER the 16 MiB a returned file may have: it will not come back")
    )
    return {"bundle": dest.name, "bytes": size, "under_16_MiB": fits}


def schedule(py: str, queue: list, slots: int, deadline: float, out: Path, log: Log, report: dict) -> None:
    """Start jobs into ``slots`` while their estimates fit before ``deadline``; keep those that finished."""
    running: list[Runner] = []
    finished: dict[str, list[Job]] = {}
    try:
        while queue or running:
            for r in [r for r in running if not r.is_alive()]:
                running.remove(r)
                run = report[r.job.run]
                spent = time.monotonic() - r.started
                log(f"{r.job.run} {r.job.name}: {r.result} after {spent:.0f} s")
                if r.result == "finished":
                    run["finished"].append(r.job.name)
                    finished.setdefault(r.job.run, []).append(r.job)
                    run.update(export(py, r.job.run, finished[r.job.run], r.cfg["data"]["cache_dir"], out, log))
                else:
                    run["failed"].append(f"{r.job.name}: {r.result}")
            now = time.monotonic()
            if now >= deadline:
                for r in running:
                    log(f"{r.job.run} {r.job.name}: still running at the deadline: stopped, not kept")
                    r.stop()
                break
            while queue and len(running) < slots:
                cfg, job, est = queue.pop(0)
                if est is not None and now + est > deadline:
                    log(f"{job.run} {job.name}: not started (estimated {est:.0f} s, {deadline - now:.0f} s left)")
                    report[job.run]["skipped"].append(job.name)
                    continue
                log(f"{job.run} {job.name}: started" + (f" (estimated {est:.0f} s)" if est is not None else ""))
                running.append(Runner(py, cfg, job))
                running[-1].start()
            time.sleep(0.5)
    finally:
        for r in running:
            r.stop()
        for r in running:
            r.join(timeout=30)
        for cfg, job, _ in queue:
            report[job.run]["skipped"].append(job.name)


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="tools/device/run.sh train", description=__doc__.split("\n")[0])
    p.add_argument("--budget", type=float, default=510, help="seconds for this whole step (default 510)")
    p.add_argument("--margin", type=float, default=20, help="seconds kept at the end to stop and bundle")
    p.add_argument("--pack", type=int, help="trainings per GPU (default: the best of the bench, else train.pack)")
    p.add_argument(
        "--run",
        action="append",
        dest="runs",
        help=f"comma-separated config files of one run, in order (repeatable; default: {' then '.join(DEFAULT_RUNS)})",
    )
    p.add_argument("--no-bench", action="store_true", help="skip `resrepro bench --pack 1,2,3,4`")
    p.add_argument("--bench-file", help="a `resrepro bench --pack` JSON of an earlier session: used, not measured")
    p.add_argument("--bench-timeout", type=float, default=150)
    p.add_argument("--bench-args", default="", help="extra arguments for resrepro bench (one string)")
    p.add_argument(
        "--no-plan",
        action="store_true",
        help="no estimates: start jobs while time is left (each is still stopped at the deadline)",
    )
    p.add_argument("--job-overhead", type=float, default=30, help="seconds added to each job's estimate (evaluation)")
    p.add_argument("--out", default=os.environ.get("OUT", "device-out"), help="results folder (default $OUT)")
    return p.parse_args(argv)


def main(argv: list[str]) -> int:
    a = parse(argv)
    t0, out, py = time.monotonic(), Path(a.out), sys.executable
    deadline = t0 + a.budget - a.margin
    log = Log(out)
    signal.signal(signal.SIGTERM, _stop)
    cfgs = [config.load(*files.split(",")) for files in (a.runs or DEFAULT_RUNS)]
    report: dict = {"budget_s": a.budget, "runs": {}}
    try:
        prepare_data(py, {c["data"]["cache_dir"] for c in cfgs}, log)
        if a.bench_file:
            bench_json = json.loads(Path(a.bench_file).read_text())
            log(f"bench: {a.bench_file} (not measured again)")
        else:
            bench_json = None if a.no_bench else bench(py, out, a.bench_timeout, a.bench_args.split(), log)
        bench_files = [a.bench_file] if a.bench_file else [str(out / "bench.json")] if bench_json else []
        pack = a.pack or best_pack(bench_json, cfgs[0]["train"].get("pack", 1))
        gpus = _gpus(cfgs[0])
        report.update(pack=pack, gpus=gpus, slots=pack * gpus)
        log(f"pack {pack} per GPU x {gpus} GPU(s) = {pack * gpus} trainings at once")
        queue = []
        for cfg in (with_pack(c, pack) for c in cfgs):
            todo = missing(cfg, log)
            est = dict.fromkeys(cfg["models"]) if a.no_plan else estimates(cfg, pack, bench_files, a.job_overhead, log)
            report["runs"][cfg["run"]] = {
                "missing": [f"{m}:{s}" for m, s in todo],
                "finished": [],
                "failed": [],
                "skipped": [],
                "bundle": None,
            }
            log(f"run {cfg['run']}: {len(todo)} missing jobs: {', '.join(f'{m}:{s}' for m, s in todo) or 'none'}")
            queue += [(cfg, Job(cfg["run"], m, s), est.get(m)) for m, s in todo]
        schedule(py, queue, pack * gpus, deadline, out, log, report["runs"])
    except Stop:
        log("SIGTERM: stopped; what finished is bundled")
    except (devlib.DeviceError, ResreproError) as e:
        log(f"error: {e}")
        report["error"] = str(e)
    finally:
        report["elapsed_s"] = round(time.monotonic() - t0, 1)
        devlib.write_atomic(out / "summary.json", (json.dumps(report, indent=2) + "\n").encode())
        log(
            f"done in {report['elapsed_s']} s: summary.json, log.txt"
            + (", bench.json" if (out / "bench.json").exists() else "")
        )
    return 1 if "error" in report else 0


def _stop(signum, frame) -> None:
    raise Stop()


def _gpus(cfg: dict) -> int:
    if cfg["train"]["device"] == "cpu" or importlib.util.find_spec("resrepro.gpus") is None:
        return 1
    from resrepro import gpus

    return max(1, len(gpus.visible()))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
