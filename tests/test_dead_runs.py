"""A headless run frees what a killed run left: its STARTED status and its writer-pool slot.

The end-to-end case (a real SIGKILL mid-ingest, then a rerun that must not wait) is in
tests/test_faults.py; this checks which runs `fail_dead_runs` touches."""

from __future__ import annotations

import socket
import subprocess
import sys
import uuid

import dagster as dg
import psutil

from orchestration.pipeline import HOST_TAG, PID_TAG, STARTED_TAG, fail_dead_runs


def _add_run(instance, tags: dict[str, str]) -> str:
    run = dg.DagsterRun(job_name="full_pipeline", run_id=str(uuid.uuid4()), status=dg.DagsterRunStatus.STARTED,
                        tags=tags)
    instance.add_run(run)
    return run.run_id


def test_only_runs_whose_process_is_gone_are_failed_and_their_slots_freed(tmp_path):
    instance = dg.DagsterInstance.local_temp(str(tmp_path))
    host = socket.gethostname()
    me = psutil.Process()
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    live = {PID_TAG: str(me.pid), HOST_TAG: host, STARTED_TAG: f"{me.create_time():.2f}"}
    runs = {
        "alive": _add_run(instance, live),
        "dead": _add_run(instance, {PID_TAG: str(gone.pid), HOST_TAG: host, STARTED_TAG: "1.00"}),
        # The pid now belongs to a process started later: the run's own process is gone.
        "pid_reused": _add_run(instance, {**live, STARTED_TAG: f"{me.create_time() - 100:.2f}"}),
        "other_host": _add_run(instance, {PID_TAG: str(gone.pid), HOST_TAG: f"not-{host}", STARTED_TAG: "1.00"}),
        "untagged": _add_run(instance, {}),  # launched by the daemon or the UI: run monitoring's job
    }
    instance.event_log_storage.set_concurrency_slots("duckdb_writer", 1)
    claim = instance.event_log_storage.claim_concurrency_slot("duckdb_writer", runs["dead"], "raw__crm_contacts")
    assert claim.is_claimed

    failed = fail_dead_runs(instance)

    assert sorted(failed) == sorted([runs["dead"], runs["pid_reused"]])
    status = {name: instance.get_run_by_id(run_id).status for name, run_id in runs.items()}
    assert status == {"alive": dg.DagsterRunStatus.STARTED, "dead": dg.DagsterRunStatus.FAILURE,
                      "pid_reused": dg.DagsterRunStatus.FAILURE, "other_host": dg.DagsterRunStatus.STARTED,
                      "untagged": dg.DagsterRunStatus.STARTED}
    info = instance.event_log_storage.get_concurrency_info("duckdb_writer")
    assert info.active_slot_count == 0, "the dead run's pool slot was not freed"
    # The reason shows in the run's event log, where the UI displays it.
    messages = [r.dagster_event.message for r in instance.all_logs(runs["dead"]) if r.dagster_event]
    assert any("is gone" in (m or "") for m in messages), messages
    assert fail_dead_runs(instance) == []  # nothing left to do the second time
