"""Run the whole pipeline headless through Dagster, on the persistent instance (runs show in the UI)."""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import sys
from dataclasses import dataclass
from pathlib import Path

from ingest.settings import PROJECT_ROOT

log = logging.getLogger(__name__)

# Tags that let the next headless run recognise a run whose process is gone (killed, host crash).
PID_TAG, HOST_TAG, STARTED_TAG = "cxw/pid", "cxw/host", "cxw/process_started"


@dataclass
class PipelineOutcome:
    success: bool
    run_id: str
    failed_steps: list[str]
    skipped_steps: list[str]  # steps that never started because something upstream failed
    failed_checks: list[str]
    materialized: list[str]


def dagster_instance():
    import dagster as dg

    # dagster.yaml sits at the project root; without DAGSTER_HOME runs would go to a throwaway instance.
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    return dg.DagsterInstance.get()


def run_job(job_name: str = "full_pipeline", run_config: dict | None = None, instance=None,
            tags: dict | None = None) -> PipelineOutcome:
    from .definitions import defs

    job = defs.resolve_job_def(job_name)
    instance = instance or dagster_instance()
    with _project_run_lock(instance):
        fail_dead_runs(instance)
        result = job.execute_in_process(instance=instance, run_config=run_config, raise_on_error=False,
                                        tags={**(tags or {}), **_process_tags()})
    failed, started, checks, materialized = [], set(), [], []
    for event in result.all_events:
        kind = event.event_type_value
        if kind == "STEP_START":
            started.add(event.step_key)
        elif kind == "STEP_FAILURE":
            failed.append(event.step_key)
        elif kind == "ASSET_MATERIALIZATION":
            materialized.append(event.asset_key.to_user_string())
        elif kind == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            data = event.event_specific_data
            checks.append(f"{data.asset_key.to_user_string()}:{data.check_name} ({data.severity.value})")
    # Dagster does not emit an event for a step it never starts because a blocking check failed.
    skipped = sorted({node.name for node in job.graph.node_defs} - started)
    return PipelineOutcome(result.success, result.run_id, failed, skipped, checks, materialized)


@contextlib.contextmanager
def _project_run_lock(instance):
    """One headless run at a time per project: a second `cxw run` waits for the first to end.

    Whole runs, not just steps: the writer pool alone lets two runs' steps alternate, and Dagster's
    sqlite slot bookkeeping once let a step of each run start together. The daemon's run queue does the
    same for scheduled and UI runs (dagster.yaml tag limit). The OS drops the lock when a process dies,
    so a killed run never blocks the next one.
    """
    from filelock import FileLock, Timeout

    root = Path(getattr(instance, "root_directory", None) or PROJECT_ROOT)
    lock = FileLock(str(root / ".cxw-run.lock"))
    try:
        lock.acquire(timeout=0)
    except Timeout:
        print(f"another headless run of this project is in progress (lock {lock.lock_file}); waiting for it "
              "to finish", file=sys.stderr, flush=True)
        log.warning("waiting for another headless run of this project to finish")
        lock.acquire()
    try:
        yield
    finally:
        lock.release()


def _process_tags() -> dict[str, str]:
    import psutil

    me = psutil.Process()
    return {PID_TAG: str(me.pid), HOST_TAG: socket.gethostname(), STARTED_TAG: f"{me.create_time():.2f}"}


def _process_alive(pid: int, started: str | None) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        # A reused pid belongs to a process created later than the one that ran the job.
        return started is None or f"{proc.create_time():.2f}" == started
    except psutil.NoSuchProcess:  # zombies included
        return False
    except psutil.AccessDenied:  # someone else's live process: leave its run alone
        return True


def fail_dead_runs(instance) -> list[str]:
    """Mark failed the headless runs of this host whose process is gone, and free their pool slots.

    An in-process run killed with SIGKILL stays STARTED and keeps its `duckdb_writer` slot; the daemon's
    run monitoring only frees it after max_runtime_seconds, and `cxw run` has no daemon at all, so
    without this every later run would wait on the dead one.
    """
    import dagster as dg

    dead = []
    host = socket.gethostname()
    runs = instance.get_runs(filters=dg.RunsFilter(
        statuses=[dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.STARTING], tags={HOST_TAG: host}))
    for run in runs:
        pid = run.tags.get(PID_TAG)
        if not pid or not pid.isdigit() or _process_alive(int(pid), run.tags.get(STARTED_TAG)):
            continue
        message = f"process {pid} on {host} that ran this run is gone (killed?); marked failed by the next run"
        log.warning("run %s: %s", run.run_id, message)
        instance.report_run_failed(run, message)
        instance.event_log_storage.free_concurrency_slots_for_run(run.run_id)
        dead.append(run.run_id)
    return dead

