"""Shared by tests/test_faults.py and tests/test_concurrency.py: run the real pipeline (`python -m
orchestration.cli run`) as a process in its own session, read its log as it happens, kill the whole
process group (dbt's child included) with SIGKILL, and inspect what the warehouse, the published copy
and the Dagster instance look like afterwards. Nothing here mocks the pipeline."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import duckdb

from tests.conftest import _Env, make_project_env

REPO = Path(__file__).resolve().parents[1]

# The data both test modules compare against one uninterrupted run of (built once per session).
REFERENCE_CUSTOMERS = 300
REFERENCE_SEED = 20261126

# Log lines that tell where a run is (dagster's event log lines and our own loggers, on stdout/stderr).
RUN_START = re.compile(r" - ([0-9a-f-]{36}) - \d+ - RUN_START - ")
LOADING = re.compile(r"cxw\.ingest: loading (\S+) into raw\.")
LOADED = re.compile(r"cxw\.ingest: loaded (\S+) into raw\.")
DBT_STEP_START = re.compile(r'STEP_START - Started execution of step "cx_dbt_models"')
DBT_RUNNING = re.compile(r"Running dbt command: `")
DBT_FINISHED = re.compile(r"Finished dbt command: `")
PUBLISH_START = re.compile(r'STEP_START - Started execution of step "published__cx_marts"')
PUBLISHED = re.compile(r"cxw\.publish: published \d+ marts")
PUBLISH_DONE = re.compile(r'STEP_SUCCESS - Finished execution of step "published__cx_marts"')
RUN_SUCCESS = re.compile(r"RUN_SUCCESS - Finished execution of run")
POOL_BLOCKED = re.compile(r"Step blocked by limit for pool (\S+)")
DBT_PROGRESS = re.compile(r"\b(\d+) of (\d+) (START|OK|PASS|WARN|ERROR|SKIP)\b")


def cli_env(env: dict[str, str]) -> dict[str, str]:
    """The environment of a pipeline process: the project's folders, this checkout first on the path."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, **env, "PYTHONPATH": str(REPO) + (os.pathsep + path if path else ""),
            "PYTHONUNBUFFERED": "1", "GX_ANALYTICS_ENABLED": "False", "DO_NOT_TRACK": "1",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}


class PipelineProcess:
    """`python -m orchestration.cli run` in its own session; every output line is timestamped on arrival."""

    def __init__(self, env: dict[str, str], log_path: Path, argv: tuple[str, ...] = ("run",)):
        self.log_path = Path(log_path)
        self.lines: list[tuple[float, str]] = []
        self.eof = False
        self._cond = threading.Condition()
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "orchestration.cli", *argv], cwd=REPO, env=cli_env(env),
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", start_new_session=True)
        self.pgid = self.proc.pid  # start_new_session: the process leads its own group
        self._thread = threading.Thread(target=self._pump, daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        with open(self.log_path, "w", encoding="utf-8") as fh:
            for line in self.proc.stdout:
                now = time.monotonic()
                with self._cond:
                    self.lines.append((now, line))
                    self._cond.notify_all()
                fh.write(f"{now - self.t0:9.3f} {line}")
                fh.flush()
        with self._cond:
            self.eof = True
            self._cond.notify_all()

    def find(self, pattern: re.Pattern, start: int = 0) -> int | None:
        with self._cond:
            for i in range(start, len(self.lines)):
                if pattern.search(self.lines[i][1]):
                    return i
        return None

    def wait_for(self, pattern: re.Pattern, timeout: float, occurrence: int = 1,
                 stop: re.Pattern | None = None) -> tuple[int, float] | None:
        """Index and arrival time of the `occurrence`-th line matching pattern; None if the output ends,
        a `stop` line comes first, or the timeout passes."""
        deadline = time.monotonic() + timeout
        seen, i = 0, 0
        with self._cond:
            while True:
                while i < len(self.lines):
                    t, line = self.lines[i]
                    if pattern.search(line):
                        seen += 1
                        if seen == occurrence:
                            return i, t
                    elif stop is not None and stop.search(line):
                        return None
                    i += 1
                left = deadline - time.monotonic()
                if self.eof or left <= 0:
                    return None
                self._cond.wait(min(left, 0.5))

    def kill(self) -> float:
        """SIGKILL the whole process group; return when every process of the group is gone."""
        t = time.monotonic()
        os.killpg(self.pgid, signal.SIGKILL)
        self.proc.wait(timeout=60)
        deadline = time.monotonic() + 30
        while True:  # dbt, if it was running, was reparented and must die too
            try:
                os.killpg(self.pgid, 0)
            except ProcessLookupError:
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"processes of group {self.pgid} survived SIGKILL")
            time.sleep(0.05)
        self._thread.join(timeout=30)
        return t

    def wait(self, timeout: float) -> int:
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f"pipeline did not finish in {timeout:.0f}s; log: {self.log_path}\n{self.tail()}")
        self._thread.join(timeout=30)
        return rc

    def text(self) -> str:
        with self._cond:
            return "".join(line for _, line in self.lines)

    def tail(self, n: int = 40) -> str:
        with self._cond:
            return "".join(line for _, line in self.lines[-n:])

    def run_id(self) -> str | None:
        i = self.find(RUN_START)
        return RUN_START.search(self.lines[i][1]).group(1) if i is not None else None

    def span(self, start: re.Pattern, end: re.Pattern) -> float | None:
        """Seconds between the first `start` line and the first `end` line after it."""
        i = self.find(start)
        j = self.find(end, i) if i is not None else None
        return self.lines[j][0] - self.lines[i][0] if j is not None else None


def phase_at(proc: PipelineProcess, t: float) -> str:
    """Which phase the run was in at monotonic time t, from the markers it had logged by then."""
    with proc._cond:
        lines = [line for when, line in proc.lines if when <= t]
    last = "startup"
    for line in lines:
        if LOADING.search(line) and last in ("startup", "ingest"):
            last = "ingest"
        elif DBT_STEP_START.search(line):
            last = "dbt-start"
        elif DBT_RUNNING.search(line):
            last = "dbt"
        elif DBT_FINISHED.search(line):
            last = "dbt-end"
        elif PUBLISH_START.search(line):
            last = "publish"
        elif PUBLISHED.search(line):
            last = "publish"  # replaced, step not finished yet
        elif PUBLISH_DONE.search(line):
            last = "after-publish"
        elif 'STEP_START - Started execution of step "raw__' in line and last == "startup":
            last = "ingest"
    return last


def dbt_progress(proc: PipelineProcess, t: float) -> str | None:
    """dbt's last `N of M` progress line before t (nodes dbt had started or finished when it was killed)."""
    with proc._cond:
        lines = [line for when, line in proc.lines if when <= t]
    for line in reversed(lines):
        m = DBT_PROGRESS.search(line)
        if m:
            return f"dbt node {m.group(1)}/{m.group(2)} {m.group(3)}"
    return None


def in_flight_load(proc: PipelineProcess, t: float) -> str | None:
    """The file whose `loading` line came before t without its `loaded` line (killed mid-transaction)."""
    with proc._cond:
        lines = [line for when, line in proc.lines if when <= t]
    current = None
    for line in lines:
        m = LOADING.search(line)
        if m:
            current = m.group(1)
        elif LOADED.search(line) or "load " in line and " failed" in line:
            current = None
    return current


# --------------------------------------------------------------------------------------------------
# Dagster instance


def instance_for(env: dict[str, str]):
    import dagster as dg

    with _Env({"DAGSTER_HOME": env["DAGSTER_HOME"]}):
        return dg.DagsterInstance.get()


def init_instance(env: dict[str, str]) -> None:
    """Create the Dagster instance's storage (sqlite files, schema) once. Two processes creating a fresh
    instance at the same moment race on it: one can die with `UNIQUE constraint failed:
    alembic_version.version_num` before its run starts (Dagster's sqlite storage, not the pipeline)."""
    with instance_for(env) as instance:
        instance.get_runs(limit=1)
        instance.event_log_storage.get_concurrency_keys()


def run_status(env: dict[str, str], run_id: str) -> str:
    with instance_for(env) as instance:
        run = instance.get_run_by_id(run_id)
        return run.status.value if run else "MISSING"


def slots_held(env: dict[str, str]) -> list[tuple[str, str, str]]:
    """(pool, run_id, step_key) of every claimed concurrency slot in the instance."""
    import sqlite3

    index = Path(env["DAGSTER_HOME"]) / "history" / "runs" / "index.db"
    if not index.exists():
        return []
    with sqlite3.connect(index) as db:
        return db.execute("SELECT concurrency_key, run_id, step_key FROM concurrency_slots "
                          "WHERE run_id IS NOT NULL").fetchall()


def recover_dead_run(env: dict[str, str], run_id: str) -> None:
    """What Dagster's run monitoring does for a run whose process died (dagster.yaml: after
    max_runtime_seconds, then free_slots_after_run_end_seconds), done at once: mark it failed and
    free the pool slots it held. See test_faults.test_rerun_after_sigkill_is_not_blocked_by_the_dead_run."""
    with instance_for(env) as instance:
        run = instance.get_run_by_id(run_id)
        if run is not None and not run.is_finished:
            instance.report_run_failed(run, "process killed with SIGKILL by the fault test")
        instance.event_log_storage.free_concurrency_slots_for_run(run_id)


def step_intervals(env: dict[str, str], run_id: str) -> dict[str, tuple[float, float]]:
    """step key -> (start, end) timestamps from the run's event log in the instance."""
    from dagster import DagsterEventType

    out: dict[str, list[float]] = {}
    with instance_for(env) as instance:
        for record in instance.all_logs(run_id):
            event = record.dagster_event
            if event is None or not event.step_key:
                continue
            if event.event_type == DagsterEventType.STEP_START:
                out.setdefault(event.step_key, [record.timestamp, None])[0] = record.timestamp
            elif event.event_type in (DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE):
                out.setdefault(event.step_key, [None, None])[1] = record.timestamp
    return {k: (v[0], v[1]) for k, v in out.items()}


def engine_messages(env: dict[str, str], run_id: str, pattern: re.Pattern) -> list[str]:
    with instance_for(env) as instance:
        return [r.user_message for r in instance.all_logs(run_id) if r.user_message and pattern.search(r.user_message)]


# --------------------------------------------------------------------------------------------------
# Warehouse and published copy


def _norm(value):
    """Rows compare as values; floats to 10 significant digits (sums of doubles depend on thread order)."""
    if isinstance(value, float):
        return float(f"{value:.10g}")
    if isinstance(value, (list, tuple)):
        return tuple(_norm(v) for v in value)
    if isinstance(value, dict):
        return tuple(sorted((k, _norm(v)) for k, v in value.items()))
    if isinstance(value, (Decimal, date, datetime, str, int, bool)) or value is None:
        return value
    return repr(value)


def schema_snapshot(db: Path, schema: str = "marts", exclude: tuple[str, ...] = ()) -> dict[str, Counter]:
    """Every table and view of `schema` as a multiset of rows (columns in name order, `exclude` left out)."""
    with duckdb.connect(str(db), read_only=True) as con:
        catalog = con.execute("SELECT current_database()").fetchone()[0]
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_catalog = ? AND table_schema = ?",
            [catalog, schema]).fetchall()]
        out = {}
        for table in tables:
            cols = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_catalog = ? AND table_schema = ? "
                "AND table_name = ? ORDER BY column_name", [catalog, schema, table]).fetchall()
                    if r[0] not in exclude]
            col_sql = ", ".join(f'"{c}"' for c in cols)
            rows = con.execute(f'SELECT {col_sql} FROM "{schema}"."{table}"').fetchall()
            out[table] = Counter(_norm(r) for r in rows)
    return out


def diff_snapshots(actual: dict[str, Counter], expected: dict[str, Counter], only_present: bool = False) -> list[str]:
    """Human-readable differences; with only_present, tables missing from `actual` are not reported."""
    problems = []
    for table in sorted(set(actual) - set(expected)):
        problems.append(f"unexpected table {table} ({sum(actual[table].values())} rows)")
    for table in sorted(expected):
        if table not in actual:
            if not only_present:
                problems.append(f"missing table {table}")
            continue
        if actual[table] != expected[table]:
            extra = actual[table] - expected[table]
            missing = expected[table] - actual[table]
            problems.append(f"{table}: {sum(actual[table].values())} rows vs {sum(expected[table].values())} "
                            f"expected; {sum(extra.values())} unexpected e.g. {list(extra)[:1]}, "
                            f"{sum(missing.values())} missing e.g. {list(missing)[:1]}")
    return problems


def leftover_dbt_relations(db: Path) -> list[str]:
    with duckdb.connect(str(db), read_only=True) as con:
        return [f"{s}.{t}" for s, t in con.execute(
            "SELECT table_schema, table_name FROM information_schema.tables "
            "WHERE table_name LIKE '%__dbt_tmp%' OR table_name LIKE '%__dbt_backup%'").fetchall()]


def raw_consistency(db: Path, files: dict, complete: bool) -> list[str]:
    """(a) no partial load: raw rows per _load_id equal the manifest's rows_loaded, and rejects its
    rows_rejected; no raw row without a manifest row. (b) every recorded file reconciles with the
    generator's ground truth (rows read = loaded + rejected = data_rows; rejected = malformed_rows), is
    recorded once; with `complete`, every generated file is there."""
    problems = []
    if not db.exists():
        return [] if not complete else [f"{db} does not exist"]
    with duckdb.connect(str(db), read_only=True) as con:
        has_ops = con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ops' "
                              "AND table_name = 'load_manifest'").fetchone()[0]
        if not has_ops:
            return [] if not complete else ["ops.load_manifest does not exist"]
        manifest = con.execute(
            "SELECT load_id, entity, source_file, status, rows_read, rows_loaded, rows_rejected, superseded_by "
            "FROM ops.load_manifest ORDER BY load_id").fetchall()
        raw_tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'raw'").fetchall()]
        raw_counts: Counter = Counter()
        for table in raw_tables:
            for load_id, n in con.execute(f'SELECT _load_id, count(*) FROM raw."{table}" GROUP BY _load_id').fetchall():
                raw_counts[(table, load_id)] += n
        reject_counts = dict(con.execute("SELECT load_id, count(*) FROM ops.load_rejects GROUP BY load_id").fetchall())
    by_id = {m[0]: m for m in manifest}
    for (table, load_id), n in raw_counts.items():
        m = by_id.get(load_id)
        if m is None:
            problems.append(f"raw.{table}: {n} rows of load {load_id}, which the manifest does not know")
        elif m[1] != table:
            problems.append(f"raw.{table}: rows of load {load_id}, a load of {m[1]}")
    for load_id in set(reject_counts) - set(by_id):
        problems.append(f"ops.load_rejects: {reject_counts[load_id]} rows of unknown load {load_id}")
    seen: Counter = Counter()
    for load_id, entity, source_file, status, read, loaded, rejected, superseded_by in manifest:
        seen[source_file] += 1
        n_raw = raw_counts.get((entity, load_id), 0)
        if n_raw != (loaded or 0):
            problems.append(f"load {load_id} ({source_file}): {n_raw} raw rows, manifest says {loaded}")
        if reject_counts.get(load_id, 0) != (rejected or 0):
            problems.append(f"load {load_id} ({source_file}): {reject_counts.get(load_id, 0)} rejects, "
                            f"manifest says {rejected}")
        truth = files.get(source_file)
        if truth is None:
            problems.append(f"load {load_id}: {source_file} is not a generated file")
            continue
        if status != "loaded" or superseded_by is not None:
            problems.append(f"load {load_id} ({source_file}): status {status}, superseded_by {superseded_by}")
        if entity != truth["entity"] or read != truth["data_rows"] or read != (loaded or 0) + (rejected or 0) \
                or rejected != truth["malformed_rows"]:
            problems.append(f"load {load_id} ({source_file}): read {read} = loaded {loaded} + rejected {rejected}; "
                            f"truth {truth['data_rows']} rows, {truth['malformed_rows']} malformed")
    for source_file, n in seen.items():
        if n > 1:
            problems.append(f"{source_file} recorded {n} times")
    if complete:
        for source_file in sorted(set(files) - set(seen)):
            problems.append(f"{source_file} was never loaded")
    return problems


def files_not_loaded(db: Path, files: dict) -> int:
    """How many generated files the manifest does not hold yet (all of them before the first load)."""
    if not db.exists():
        return len(files)
    with duckdb.connect(str(db), read_only=True) as con:
        if not con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ops' "
                           "AND table_name = 'load_manifest'").fetchone()[0]:
            return len(files)
        seen = {r[0] for r in con.execute("SELECT source_file FROM ops.load_manifest").fetchall()}
    return len(set(files) - seen)


def file_digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass
class PublishedState:
    exists: bool
    inode: int | None = None
    digest: str | None = None
    mtime_ns: int | None = None


def published_state(publish_dir: Path) -> PublishedState:
    db = publish_dir / "cx_marts.duckdb"
    try:
        st = db.stat()
    except FileNotFoundError:
        return PublishedState(False)
    return PublishedState(True, st.st_ino, file_digest(db), st.st_mtime_ns)


PUBLISH_TEMP = re.compile(r"^\.(cx_marts\.[0-9a-f]+\.tmp\.duckdb(\.wal)?|manifest\.[0-9a-f]+\.tmp\.json|publish\.lock)$")
PARQUET_TEMP = re.compile(r"^\..+\.[0-9a-f]+\.tmp\.parquet$")
PUBLISHED_NAMES = {"cx_marts.duckdb", "manifest.json", "cx_report.html", "parquet"}


def published_problems(publish_dir: Path, before: PublishedState, expected: dict[str, Counter]) -> tuple[str, list[str]]:
    """(d) The published copy is the previous complete version or a new complete one, never half-written;
    anything else in the folder is a hidden temp file no reader would take for it. Returns the verdict."""
    problems: list[str] = []
    if not publish_dir.exists():
        return ("none", [] if not before.exists else [f"{publish_dir} disappeared"])
    for p in publish_dir.iterdir():
        if p.name not in PUBLISHED_NAMES and not PUBLISH_TEMP.match(p.name):
            problems.append(f"unexpected file in the publish folder: {p.name}")
    for p in (publish_dir / "parquet").glob("*") if (publish_dir / "parquet").exists() else []:
        if not (p.name.endswith(".parquet") and not p.name.startswith(".")) and not PARQUET_TEMP.match(p.name):
            problems.append(f"unexpected file in the parquet folder: {p.name}")
    manifest = publish_dir / "manifest.json"
    if manifest.exists():
        try:
            json.loads(manifest.read_text(encoding="utf-8"))
        except ValueError as exc:
            problems.append(f"manifest.json is not valid JSON: {exc}")
    now = published_state(publish_dir)
    if not now.exists:
        if before.exists:
            problems.append("cx_marts.duckdb disappeared")
        return ("none", problems)
    if before.exists and now.inode == before.inode and now.digest == before.digest:
        verdict = "previous"
    else:
        verdict = "new"
    try:
        snapshot = schema_snapshot(publish_dir / "cx_marts.duckdb")
    except duckdb.Error as exc:
        problems.append(f"cx_marts.duckdb ({verdict}) does not open read-only: {exc}")
        return (verdict, problems)
    diff = diff_snapshots(snapshot, expected)
    if diff:
        problems.append(f"cx_marts.duckdb ({verdict}) is not a complete published run: " + "; ".join(diff[:5]))
    if (publish_dir / "cx_marts.duckdb.wal").exists():
        problems.append("cx_marts.duckdb has a WAL beside it: not a finished, checkpointed file")
    return (verdict, problems)


def publish_temps(publish_dir: Path) -> list[str]:
    out = [p.name for p in publish_dir.glob(".cx_marts.*")] if publish_dir.exists() else []
    if (publish_dir / "parquet").exists():
        out += [f"parquet/{p.name}" for p in (publish_dir / "parquet").glob(".*.tmp.parquet")]
    return sorted(out)


# --------------------------------------------------------------------------------------------------
# The reference: the same generated data through one uninterrupted run


@dataclass
class Reference:
    root: Path
    env: dict[str, str]
    files: dict
    marts: dict[str, Counter]
    published: dict[str, Counter]
    durations: dict[str, float]
    seconds: float
    log: Path
    extra: dict = field(default_factory=dict)


class ReferenceBuild:
    """An uninterrupted `cxw run` on freshly generated data, started in the background."""

    def __init__(self, root: Path, customers: int, seed: int):
        from ingest.generate import generate

        self.root = root
        self.env = make_project_env(root)
        generate(Path(self.env["CXW_LANDING_DIR"]), customers=customers, seed=seed)
        self.t0 = time.monotonic()
        self.proc = PipelineProcess(self.env, root / "reference.log")
        self._result: Reference | None = None
        self._lock = threading.Lock()

    def result(self, timeout: float = 600) -> Reference:
        with self._lock:
            return self._result_locked(timeout)

    def _result_locked(self, timeout: float) -> Reference:
        if self._result is None:
            rc = self.proc.wait(timeout)
            seconds = time.monotonic() - self.t0
            assert rc == 0, f"the reference run failed (exit {rc}):\n{self.proc.tail()}"
            p = self.proc
            durations = {
                "ingest": p.span(LOADING, DBT_STEP_START),
                "dbt": p.span(DBT_RUNNING, DBT_FINISHED),
                "publish": p.span(PUBLISH_START, PUBLISH_DONE),
            }
            data = Path(self.env["CXW_DATA_DIR"])
            files = json.loads((data / "ground_truth" / "files.json").read_text())
            warehouse = Path(self.env["CXW_WAREHOUSE"])
            problems = raw_consistency(warehouse, files, complete=True)
            assert not problems, f"the reference run itself does not reconcile: {problems[:10]}"
            self._result = Reference(
                root=self.root, env=self.env, files=files, marts=schema_snapshot(warehouse),
                published=schema_snapshot(Path(self.env["CXW_PUBLISH_DIR"]) / "cx_marts.duckdb"),
                durations=durations, seconds=seconds, log=p.log_path)
        return self._result


_REFERENCES: dict[tuple[int, int], ReferenceBuild] = {}


def reference_build(tmp_path_factory, customers: int, seed: int) -> ReferenceBuild:
    """One reference per (customers, seed) per pytest session, shared by the test modules."""
    key = (customers, seed)
    if key not in _REFERENCES:
        _REFERENCES[key] = ReferenceBuild(tmp_path_factory.mktemp(f"reference_{customers}_{seed}"), customers, seed)
    return _REFERENCES[key]


def generate_project(root: Path, customers: int, seed: int) -> dict[str, str]:
    from ingest.generate import generate

    env = make_project_env(root)
    generate(Path(env["CXW_LANDING_DIR"]), customers=customers, seed=seed)
    return env


def ensure_dbt_manifest() -> None:
    """Parse the dbt project once here, so that pipeline processes started together do not all do it."""
    from orchestration.assets.dbt import ensure_manifest  # noqa: F401  (importing it parses when stale)

    ensure_manifest()
