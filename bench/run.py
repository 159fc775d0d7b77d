"""Benchmark the pipeline phase by phase against bare DuckDB (and, optionally, dlt).

    .venv/bin/python bench/run.py --customers 100000            # make bench SCALE=100000
    .venv/bin/python bench/run.py --customers 300 --repeat 1 --phases ingest bare_duckdb

Generates exports at the given scale, then measures, each in its own child process (so memory is
the phase's own): ingest of the landing folder into a fresh warehouse, validation of every pending
load, `dbt build`, then one more day of exports and the incremental ingest + validation + build.
Peers on the same files: bare DuckDB (CREATE TABLE AS SELECT * FROM read_csv/read_json per file)
and, with --with-dlt, dlt from a separate venv. Phases shorter than 30 s are repeated (--repeat)
and reported by their median. Prints a Markdown table and writes the whole result as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import sys
import tempfile
import time
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make the project importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.measure import REPO, Measurement, child_env, run_measured, run_phase_child, summarise  # noqa: E402
from bench.peers import dlt_python, dlt_versions, landing_files, subset  # noqa: E402
from bench.phases import PEERS, PIPELINE, GROUPS, Phase, WarehouseStates, expand, pipeline_chain  # noqa: E402
from bench.report import check_targets, compute_ratios, markdown  # noqa: E402

REPEAT_BELOW_S = 30.0
DEFAULT_PHASES = [p.name for p in PIPELINE] + ["bare_duckdb", "bare_duckdb_2"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--customers", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--workdir", type=Path, help="kept afterwards (default: a temporary folder under /tmp, removed)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each phase shorter than 30 s (median reported)")
    ap.add_argument("--phases", nargs="+", default=None,
                    help=f"subset of {', '.join([p.name for p in PIPELINE] + list(PEERS) + list(GROUPS))}")
    ap.add_argument("--with-dlt", action="store_true", help="add the dlt peers (installs dlt into /tmp/bench-venv)")
    ap.add_argument("--dlt-subset-mb", type=float, default=30.0,
                    help="bytes of exports for dlt's slow filesystem-source path (a slice of every entity)")
    ap.add_argument("--profile", action="store_true", help="add an instrumented ingest run: where the time goes")
    ap.add_argument("--cprofile", action="store_true", help="run cProfile in that ingest run too (slows it)")
    ap.add_argument("--dbt-args", default="", help="extra arguments for both dbt builds, e.g. "
                    "'--exclude assert_touchpoints_cover_staging' to time a build past a known failing test")
    ap.add_argument("--out", type=Path, help="JSON result (default bench/results/<timestamp>.json)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary workdir")
    ap.add_argument("--keep-snapshots", action="store_true",
                    help="keep the warehouse each phase leaves (snapshots/<phase>.duckdb), not only the last")
    return ap.parse_args(argv)


def machine_info() -> dict:
    import psutil

    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for dist in ("duckdb", "dbt-core", "dbt-duckdb", "great-expectations", "dagster", "psutil"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {"nproc": os.cpu_count(), "ram_gb": round(psutil.virtual_memory().total / 2**30, 1), "cpu": cpu,
            "platform": platform.platform(), "python": platform.python_version(), "versions": versions,
            "loadavg_start": [round(x, 2) for x in os.getloadavg()]}


def git_state() -> dict:
    """The commit measured, and the code files changed since (others edit the project meanwhile)."""
    import subprocess

    def git(*a):
        done = subprocess.run(["git", *a], cwd=REPO, capture_output=True, text=True)
        return done.stdout.rstrip() if done.returncode == 0 else None

    exported = REPO / ".bench-source-commit"  # a `git archive` export of one commit (see docs/BENCHMARKS.md)
    if exported.exists():
        return {"commit": exported.read_text().strip(), "uncommitted": [], "source": str(REPO)}
    dirty = git("status", "--porcelain", "--", "ingest", "expectations", "orchestration", "dbt_project")
    return {"commit": git("rev-parse", "--short", "HEAD"),
            "uncommitted": [line[3:] for line in (dirty or "").splitlines()], "source": str(REPO)}


class Bench:
    def __init__(self, args: argparse.Namespace, workdir: Path):
        self.args = args
        self.workdir = workdir
        self.landing = workdir / "landing"
        self.data = workdir / "data"
        self.runs = workdir / "runs"
        self.states = WarehouseStates(workdir, keep_all=args.keep_snapshots)
        self.env = child_env({
            "CXW_DATA_DIR": str(self.data), "CXW_LANDING_DIR": str(self.landing),
            "CXW_WAREHOUSE": str(self.states.working), "CXW_PUBLISH_DIR": str(self.data / "published")})
        self.phases: dict[str, dict] = {}
        self.setup: dict[str, dict] = {}
        self.base_files: list[dict] = []

    def say(self, msg: str) -> None:
        print(f"[bench {datetime.now():%H:%M:%S}] {msg}", file=sys.stderr, flush=True)

    # -- one child run -------------------------------------------------------------------------
    def _spec(self, kind: str, **extra) -> dict:
        dbt_dir = REPO / "dbt_project"
        return {"kind": kind, "warehouse": str(self.states.working), "landing": str(self.landing),
                "dbt_dir": str(dbt_dir), "dbt_target": str(self.workdir / "dbt_target"),
                "dbt_logs": str(self.workdir / "dbt_logs"), "publish_dir": str(self.data / "published"),
                "customers": self.args.customers, "seed": self.args.seed,
                "dbt_args": shlex.split(self.args.dbt_args), **extra}

    def run_child(self, phase: Phase, run: int) -> Measurement:
        tag = f"{phase.name}-{run}"
        if phase.kind == "dlt":
            return self._run_dlt(phase, tag)
        extra = dict(phase.extra)
        if phase.kind == "bare_duckdb":
            extra.update(db=str(self.workdir / "peers" / f"{phase.name}.duckdb"), files=self.base_files)
        elif phase.kind == "ingest_profile":
            extra.update(warehouse=str(self.workdir / "peers" / "profile.duckdb"), cprofile=self.args.cprofile)
            Path(extra["warehouse"]).unlink(missing_ok=True)
        (self.workdir / "peers").mkdir(parents=True, exist_ok=True)
        return run_phase_child(self._spec(phase.kind, **extra), self.runs, tag, self.env)

    def _run_dlt(self, phase: Phase, tag: str) -> Measurement:
        python = dlt_python()
        mode = dict(phase.extra)["mode"]
        files = self.base_files if mode == "arrow" else subset(self.base_files, int(self.args.dlt_subset_mb * 1e6))
        peers = self.workdir / "peers"
        args_path, result_path = self.runs / f"{tag}.args.json", self.runs / f"{tag}.result.json"
        self.runs.mkdir(parents=True, exist_ok=True)
        args_path.write_text(json.dumps({"mode": mode, "files": files, "landing": str(self.landing),
                                         "db": str(peers / f"{phase.name}.duckdb"),
                                         "pipelines_dir": str(peers / f"{phase.name}_pipelines"),
                                         "result_path": str(result_path)}))
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        m = run_measured([str(python), str(REPO / "bench" / "dlt_peer.py"), str(args_path)], env,
                         self.runs / f"{tag}.log", result_path)
        if m.returncode != 0 or not m.result:
            raise RuntimeError(f"{tag} failed (exit {m.returncode}):\n{m.log}")
        m.result["versions"] = dlt_versions(python)
        return m

    # -- phases, repeated and recorded -----------------------------------------------------------
    def measure(self, group: list[tuple[Phase, bool]]) -> None:
        """Run a group of phases round-robin (a peer interleaved with ours shares the machine's noise):
        once each, then up to --repeat runs for the selected phases that took under 30 s."""
        runs: dict[str, list[Measurement]] = {p.name: [] for p, _ in group}
        start = self.states.last
        for round_no in range(1, max(self.args.repeat, 1) + 1):
            for phase, selected in group:
                done = runs[phase.name]
                if round_no > 1 and (not selected or done[0].result["seconds"] >= REPEAT_BELOW_S):
                    continue
                chain = phase.stage in ("full", "incremental")
                if chain:
                    self.states.prepare(start)
                m = self.run_child(phase, round_no)
                done.append(m)
                r = m.result
                self.say(f"{phase.name} run {round_no}: {r['seconds']:.2f} s work, {m.process_seconds:.1f} s process, "
                         f"{r.get('rows', 0):,} rows, peak {m.peak_rss_mb:,.0f} MB")
        for phase, selected in group:
            if phase.stage in ("full", "incremental"):
                self.states.keep(phase.name)
            self.record(phase, runs[phase.name], selected)

    def record(self, phase: Phase, runs: list[Measurement], selected: bool) -> None:
        summary = summarise(runs)
        last = runs[-1].result
        rows = last.get("rows", 0)
        detail = {k: v for k, v in last.items() if k not in ("seconds", "rows", "cprofile_top_tottime")}
        if "cprofile_top_tottime" in last:
            detail["cprofile_top_tottime"] = last["cprofile_top_tottime"]
        failed = [r.result.get("failure") for r in runs if r.result.get("ok") is False]
        self.phases[phase.name] = {
            "stage": phase.stage, "kind": phase.kind, "ok": not failed, "failure": failed[0] if failed else None,
            **summary, "rows": rows,
            "rows_per_s": round(rows / summary["seconds"], 1) if summary["seconds"] else None,
            "prerequisite": not selected, "detail": detail}

    def generate(self, extra_day: bool) -> None:
        name = "generate_extra_day" if extra_day else "generate"
        self.say(f"{name}: {self.args.customers:,} customers, seed {self.args.seed}")
        m = run_phase_child(self._spec("generate", extra_day=extra_day), self.runs, name, self.env)
        self.setup[name] = {"seconds": round(m.result["seconds"], 2), "peak_rss_mb": round(m.peak_rss_mb, 1),
                            **{k: v for k, v in m.result.items() if k != "seconds"}}
        self.say(f"{name}: {m.result['seconds']:.1f} s, {m.result['rows']:,} rows, "
                 f"{m.result['bytes'] / 1e6:,.0f} MB in {m.result['files']} files")

    def dbt_parse(self) -> None:
        """Parse once before timing, as a deployed pipeline does (dbt then re-parses only what changed)."""
        import subprocess

        t0 = time.perf_counter()
        spec = self._spec("parse")
        subprocess.run([str(Path(sys.executable).with_name("dbt")), "parse", "--quiet", "--project-dir",
                        spec["dbt_dir"], "--profiles-dir", spec["dbt_dir"], "--target-path", spec["dbt_target"],
                        "--log-path", spec["dbt_logs"]], cwd=spec["dbt_dir"], env=self.env, check=True,
                       capture_output=True)
        self.setup["dbt_parse"] = {"seconds": round(time.perf_counter() - t0, 2)}

    def run(self, selected: list[str]) -> None:
        chain = pipeline_chain(selected)
        names = [p.name for p, _ in chain]
        self.generate(extra_day=False)
        self.base_files = landing_files(self.landing)
        if any(p.kind == "dbt_build" for p, _ in chain):
            self.dbt_parse()
        first = [(p, s) for p, s in chain if p.name == "ingest"]
        peers = [(PEERS[name], True) for name in ("bare_duckdb", "bare_duckdb_2") if name in selected]
        if first or peers:
            self.measure(first + peers)
        for name in ("dlt_arrow", "dlt_filesystem", "ingest_profile"):
            if name in selected:
                self.measure([(PEERS[name], True)])
        extra_day_done = False
        for phase, is_selected in chain:
            if phase.name == "ingest":
                continue
            if phase.stage == "incremental" and not extra_day_done:
                self.generate(extra_day=True)
                extra_day_done = True
            self.measure([(phase, is_selected)])
        skipped = [p.name for p in PIPELINE if p.name in selected and not p.available()]
        self.setup["skipped_phases"] = {n: "module not available" for n in skipped}
        self.setup["chain"] = names


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    selected = expand(args.phases or (DEFAULT_PHASES + (GROUPS["dlt"] if args.with_dlt else [])
                                      + (GROUPS["profile"] if args.profile or args.cprofile else [])))
    if args.with_dlt and args.phases:
        selected = expand(selected + GROUPS["dlt"])
    temporary = args.workdir is None
    workdir = Path(tempfile.mkdtemp(prefix=f"cxw-bench-{args.customers}-", dir="/tmp")) if temporary \
        else args.workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(timezone.utc)
    meta = {"started_at": started.isoformat(timespec="seconds"), "customers": args.customers, "seed": args.seed,
            "repeat": args.repeat, "command": " ".join([Path(sys.executable).name, *sys.argv]) if argv is None
            else "bench.run.main(" + " ".join(argv) + ")", "workdir": str(workdir), "machine": machine_info(),
            "code": git_state(),
            "selected": selected, "dbt_args": args.dbt_args}
    bench = Bench(args, workdir)
    try:
        bench.run(selected)
    finally:
        if temporary and not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    meta["machine"]["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    meta["seconds_total"] = round((datetime.now(timezone.utc) - started).total_seconds(), 1)
    if args.with_dlt or any(n.startswith("dlt") for n in selected):
        meta["machine"]["dlt_venv"] = dlt_versions(dlt_python(install=False))
    ratios = compute_ratios(bench.phases)
    result = {"meta": meta, "setup": bench.setup, "phases": bench.phases, "ratios": ratios,
              "targets": check_targets(ratios, bench.phases)}
    out = args.out or REPO / "bench" / "results" / f"{started:%Y%m%dT%H%M%SZ}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1, default=str))
    print(markdown(result))
    print(f"\nresult: {out}")
    return result


if __name__ == "__main__":
    main()
