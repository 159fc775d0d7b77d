"""Run one phase in a child process and measure it: wall time and the peak RSS of the whole process tree.

Each phase runs in its own process so its memory is its own (DuckDB's buffer pool, GX, a dbt
subprocess). A sampler thread sums the resident memory of the child and all its descendants every
50 ms and keeps the peak. The child writes its own result (rows, the seconds of the work itself
without interpreter start-up and imports) to a JSON file the parent reads back.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]
SAMPLE_EVERY_S = 0.05


class PhaseFailed(RuntimeError):
    pass


@dataclass
class Measurement:
    process_seconds: float  # the whole child: interpreter start, imports, work, exit
    peak_rss_mb: float  # the child and every descendant, summed, at the worst 50 ms sample
    result: dict = field(default_factory=dict)  # what the child reported
    returncode: int = 0
    log: str = ""


def tree_rss(proc: psutil.Process) -> int:
    """Resident bytes of a process and all its descendants (processes that vanish meanwhile count 0)."""
    total = 0
    try:
        procs = [proc, *proc.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for p in procs:
        try:
            total += p.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            pass
    return total


def child_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {**os.environ, **(extra or {})}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    env.setdefault("GX_ANALYTICS_ENABLED", "False")
    env.setdefault("DO_NOT_TRACK", "1")
    env.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")
    env.setdefault("PYTHONUNBUFFERED", "1")
    return env


def run_measured(cmd: list[str], env: dict[str, str], log_path: Path, result_path: Path | None = None,
                 cwd: Path = REPO, timeout_s: float | None = None) -> Measurement:
    """Run `cmd`, sampling its process tree's memory; return the measurement and the child's JSON result."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if result_path is not None and result_path.exists():
        result_path.unlink()
    peak = 0
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = psutil.Popen(cmd, env=env, cwd=str(cwd), stdout=log, stderr=subprocess.STDOUT)
        stop = threading.Event()

        def sample():
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, tree_rss(proc))
                stop.wait(SAMPLE_EVERY_S)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        try:
            returncode = proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            for p in [*proc.children(recursive=True), proc]:
                try:
                    p.kill()
                except psutil.NoSuchProcess:
                    pass
            returncode = proc.wait()
        finally:
            stop.set()
            sampler.join()
        seconds = time.perf_counter() - t0
    result = {}
    if result_path is not None and result_path.exists():
        result = json.loads(result_path.read_text())
    tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-30:])
    return Measurement(seconds, peak / 2**20, result, returncode, tail)


def run_phase_child(spec: dict, runs_dir: Path, tag: str, env: dict[str, str]) -> Measurement:
    """Run `bench.child` with one phase spec (a JSON-able dict) and raise if it failed."""
    runs_dir.mkdir(parents=True, exist_ok=True)
    args_path = runs_dir / f"{tag}.args.json"
    result_path = runs_dir / f"{tag}.result.json"
    args_path.write_text(json.dumps({**spec, "result_path": str(result_path)}, indent=1))
    m = run_measured([sys.executable, "-m", "bench.child", str(args_path)], env, runs_dir / f"{tag}.log",
                     result_path)
    if m.returncode != 0 or not m.result:
        raise PhaseFailed(f"phase {tag} failed (exit {m.returncode}); log {runs_dir / f'{tag}.log'}:\n{m.log}")
    return m


def summarise(runs: list[Measurement], key: str = "seconds") -> dict:
    """Median of the repeated runs (the machine is shared and noisy), plus every value for the record."""
    seconds = [r.result[key] for r in runs]
    return {
        "seconds": statistics.median(seconds),
        "seconds_all": [round(s, 3) for s in seconds],
        "process_seconds": statistics.median(r.process_seconds for r in runs),
        "peak_rss_mb": round(max(r.peak_rss_mb for r in runs), 1),
        "peak_rss_mb_all": [round(r.peak_rss_mb, 1) for r in runs],
        "repeats": len(runs),
    }
