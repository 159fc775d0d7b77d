"""Concurrent writers and readers, with real processes.

(a) Two `python -m orchestration.cli run` started at the same moment on one project (one warehouse, one
    Dagster instance): both end cleanly, every file is loaded once, the marts equal an uninterrupted
    run's, and no two writing steps of the two runs overlap in time (Dagster's event log and dbt's
    run_results.json say when each ran). Runs started with `cxw run` use execute_in_process, which skips
    the run queue (its `cxw/pipeline` tag limit); what serializes them is the project's run lock
    (orchestration/pipeline.py): the second run waits for the first to end. Behind it are the
    `duckdb_writer` pool (one slot per step) and the DuckDB file lock with the waiting `connect`.
    (The pool alone let the runs' steps alternate, and once let a step of each run start together.)
(b) Two BI-style reader processes query the published copy continuously while 10 consecutive pipeline
    runs write (each with a little new data, so the published version changes): the readers never get a
    lock or IO error and never see a mix of two runs, and no run fails because of them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import _Env
from tests.faults_helper import (
    POOL_BLOCKED,
    REFERENCE_CUSTOMERS,
    REFERENCE_SEED,
    REPO,
    PipelineProcess,
    cli_env,
    diff_snapshots,
    engine_messages,
    ensure_dbt_manifest,
    generate_project,
    init_instance,
    raw_consistency,
    reference_build,
    run_status,
    schema_snapshot,
    step_intervals,
)

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    ensure_dbt_manifest()
    return reference_build(tmp_path_factory, REFERENCE_CUSTOMERS, REFERENCE_SEED)


def _dbt_windows(run_id: str) -> list[tuple[float, float]]:
    """(start, end) of each dbt invocation of a run, from its run_results.json (dagster-dbt gives every
    invocation its own target folder, named after the run)."""
    from datetime import datetime, timezone

    out = []
    for path in (REPO / "dbt_project" / "target").glob(f"cx_dbt_models-{run_id[:7]}-*/run_results.json"):
        data = json.loads(path.read_text())
        end = datetime.fromisoformat(data["metadata"]["generated_at"].replace("Z", "+00:00"))
        end = end.replace(tzinfo=end.tzinfo or timezone.utc).timestamp()
        out.append((end - float(data["elapsed_time"]), end))
    return out


def _overlaps(a: dict[str, tuple], b: dict[str, tuple]) -> list[str]:
    found = []
    for ka, (sa, ea) in a.items():
        for kb, (sb, eb) in b.items():
            if sa is None or sb is None or ea is None or eb is None:
                continue
            if sa < eb and sb < ea:
                found.append(f"{ka} [{sa:.2f}, {ea:.2f}] overlaps {kb} [{sb:.2f}, {eb:.2f}]")
    return found


def test_two_runs_started_together_are_serialized_and_both_succeed(tmp_path, reference):
    ensure_dbt_manifest()
    env = generate_project(tmp_path / "project", REFERENCE_CUSTOMERS, REFERENCE_SEED)
    init_instance(env)  # an existing instance, as in any project that has run once (see init_instance)
    t0 = time.monotonic()
    first = PipelineProcess(env, tmp_path / "run_a.log")
    second = PipelineProcess(env, tmp_path / "run_b.log")
    rc = [first.wait(900), second.wait(900)]
    seconds = time.monotonic() - t0
    runs = [first.run_id(), second.run_id()]
    assert all(runs), f"a run never started:\n{first.tail()}\n{second.tail()}"
    status = [run_status(env, r) for r in runs]

    steps = [step_intervals(env, r) for r in runs]
    order = sorted((s, label, key) for label, st in zip("AB", steps) for key, (s, _) in st.items() if s)
    blocked = [len(engine_messages(env, r, POOL_BLOCKED)) for r in runs]
    dbt = [{f"dbt build #{i}": w for i, w in enumerate(_dbt_windows(r))} for r in runs]
    print(f"\ntwo runs started together: {seconds:.0f}s; exit codes {rc}; Dagster status {status}; "
          f"'blocked by limit for pool' events A/B: {blocked}")
    switches = sum(1 for x, y in zip(order, order[1:]) if x[1] != y[1])
    print(f"step order ({switches} switch(es) between the runs; 1 = one whole run after the other): "
          + " ".join(f"{label}:{key}" for _, label, key in order))
    for label, windows in zip("AB", dbt):
        print(f"dbt invocations of {label}: " + ", ".join(f"{s:.1f}-{e:.1f}" for s, e in windows.values()))

    # Serialized: no writing step of one run overlaps a writing step of the other (every step of
    # full_pipeline writes or reads the warehouse and takes the duckdb_writer pool).
    overlap = _overlaps(steps[0], steps[1]) + _overlaps(dbt[0], dbt[1])
    assert not overlap, f"the two runs wrote at the same time: {overlap[:5]}"
    assert switches == 1, f"the runs' steps interleaved ({switches} switches): {order}"
    assert any(blocked) or not _overlaps(
        {"A": (min(s for s, _ in steps[0].values()), max(e for _, e in steps[0].values()))},
        {"B": (min(s for s, _ in steps[1].values()), max(e for _, e in steps[1].values()))}), \
        "the runs overlapped in time, yet neither waited for the pool"

    ref = reference.result()
    warehouse = Path(env["CXW_WAREHOUSE"])
    problems = raw_consistency(warehouse, ref.files, complete=True)
    assert not problems, f"files not loaded exactly once: {problems[:10]}"
    # The two runs' steps interleave, so files get their load ids in another order than in the
    # reference run: `_load_id` (lineage) is the one column allowed to differ.
    lineage = ("_load_id",)
    diff = diff_snapshots(schema_snapshot(warehouse, exclude=lineage),
                          schema_snapshot(Path(ref.env["CXW_WAREHOUSE"]), exclude=lineage))
    assert not diff, f"marts differ from an uninterrupted run's: {diff}"
    published = Path(env["CXW_PUBLISH_DIR"]) / "cx_marts.duckdb"
    diff = diff_snapshots(schema_snapshot(published, exclude=lineage),
                          schema_snapshot(Path(ref.env["CXW_PUBLISH_DIR"]) / "cx_marts.duckdb", exclude=lineage))
    assert not diff, f"the published copy differs from an uninterrupted run's: {diff}"

    assert status == ["SUCCESS", "SUCCESS"], status
    assert rc == [0, 0], (f"exit codes {rc}\n--- A ---\n{first.tail(30)}\n--- B ---\n{second.tail(30)}")


READER = textwrap.dedent("""
    import json, os, sys, time
    import duckdb
    path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
    reads, errors, versions, tables_seen, max_s, waiting = 0, [], {}, None, 0.0, 0
    while not os.path.exists(stop):
        if reads == 0 and not os.path.exists(path):
            waiting += 1  # nothing published yet
            time.sleep(0.05)
            continue
        t = time.monotonic()
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                tables = sorted(r[0] for r in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'").fetchall())
                orders = con.execute("SELECT count(*), coalesce(sum(amount), 0) FROM marts.orders").fetchone()
                time.sleep(0.02)  # a BI query takes a moment; the snapshot must not change under it
                revenue = con.execute("SELECT coalesce(sum(revenue), 0) FROM marts.customer_360").fetchone()[0]
                tickets = con.execute("SELECT count(*) FROM marts.support_tickets").fetchone()[0]
                monthly = con.execute(
                    "SELECT coalesce(sum(tickets), 0) FROM marts.support_performance_monthly").fetchone()[0]
                customers = con.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0]
            finally:
                con.close()
            max_s = max(max_s, time.monotonic() - t)
            if tables_seen is None:
                tables_seen = tables
            if tables != tables_seen or len(tables) < 18:
                errors.append(f"marts {tables} instead of {tables_seen}")
            if abs(float(orders[1]) - float(revenue)) > 0.005:
                errors.append(f"mixed versions: orders sum {orders[1]} vs customer_360 revenue {revenue}")
            if tickets != monthly:
                errors.append(f"mixed versions: {tickets} tickets vs {monthly} in support_performance_monthly")
            key = f"{tickets}/{orders[0]}/{customers}"
            versions[key] = versions.get(key, 0) + 1
            reads += 1
        except Exception as exc:
            errors.append(f"{time.strftime('%H:%M:%S')} {exc!r}")
        time.sleep(0.1)
    json.dump({"reads": reads, "errors": errors[:50], "n_errors": len(errors), "versions": versions,
               "max_read_s": max_s, "tables": tables_seen}, open(out, "w"))
""")

BI_CUSTOMERS = 100
BI_RUNS = 10


def _extra_ticket(landing: Path, i: int) -> None:
    """A one-ticket export, new each run: the ticket count (and a monthly support row) changes."""
    ticket = {"id": 9_000_000 + i, "created_at": f"2026-10-{10 + i:02d}T10:00:00Z", "status": "open",
              "via": {"channel": "web"}, "subject": f"late ticket {i}",
              "requester": {"email": f"reader-test-{i}@example.com"}}
    (landing / "support" / f"zendesk_tickets_extra_{i:02d}.jsonl").write_text(json.dumps(ticket) + "\n")


def test_bi_readers_during_ten_runs_are_never_blocked_and_see_whole_runs(tmp_path):
    import dagster as dg

    from orchestration.pipeline import run_job

    ensure_dbt_manifest()
    env = generate_project(tmp_path / "project", BI_CUSTOMERS, 5)
    landing = Path(env["CXW_LANDING_DIR"])
    published = Path(env["CXW_PUBLISH_DIR"]) / "cx_marts.duckdb"
    stop = tmp_path / "stop"
    # The readers start before anything is published and wait for the first copy.
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop), str(tmp_path / f"r{i}.json")],
                                env=cli_env(env), cwd=tmp_path) for i in range(2)]
    outcomes = []
    t0 = time.monotonic()
    try:
        with _Env(env):
            instance = dg.DagsterInstance.get()
            for i in range(BI_RUNS):
                if i:
                    _extra_ticket(landing, i)
                t = time.monotonic()
                outcome = run_job("full_pipeline", instance=instance)
                outcomes.append((i, round(time.monotonic() - t, 1)))
                assert outcome.success and not outcome.failed_steps and not outcome.skipped_steps, \
                    f"run {i} failed with BI readers on the published copy: {outcome}"
                assert all(r.poll() is None for r in readers), "a reader process died"
        time.sleep(1)
    finally:
        stop.touch()
        for r in readers:
            r.wait(timeout=120)
    seconds = time.monotonic() - t0
    results = [json.loads((tmp_path / f"r{i}.json").read_text()) for i in range(2)]
    print(f"\n{BI_RUNS} runs in {seconds:.0f}s: " + ", ".join(f"#{i} {s}s" for i, s in outcomes))
    for i, r in enumerate(results):
        print(f"reader {i}: {r['reads']} reads, {r['n_errors']} errors, slowest read {r['max_read_s']:.2f}s, "
              f"versions (tickets/orders/customers: reads) {r['versions']}")
    for r in results:
        assert not r["errors"], r["errors"]
        assert r["reads"] > 100
        assert r["max_read_s"] < 5, "a read waited: the published copy must never be locked"
        assert len(r["versions"]) >= BI_RUNS // 2, f"readers saw only {r['versions']}: they did not read across runs"
    tickets = sorted(int(v.split("/")[0]) for r in results for v in r["versions"])
    assert tickets[-1] - tickets[0] == BI_RUNS - 1, "the last version read has every extra ticket"


def test_run_summary_waits_for_the_warehouse_lock_like_every_other_reader(data_dir):
    """The summary `cxw run` prints after a run reads the warehouse; with another process writing it at
    that moment (two `cxw run`s started together end one after the other), it must wait, not crash."""
    from ingest.warehouse import connect, ensure_ops
    from orchestration.cli import _print_run_summary
    from orchestration.pipeline import PipelineOutcome

    warehouse = data_dir / "warehouse.duckdb"
    with connect(warehouse) as con:
        ensure_ops(con)
    holder = subprocess.Popen([sys.executable, "-c", (
        "import duckdb, sys, time; con = duckdb.connect(sys.argv[1]); print('holding', flush=True); "
        "time.sleep(3); con.close()"), str(warehouse)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        t = time.monotonic()
        _print_run_summary(PipelineOutcome(True, "test-run", [], [], [], []))  # a writer holds the file for 3 s
        assert time.monotonic() - t > 1, "the summary read the warehouse while another process held its write lock"
    finally:
        holder.wait(timeout=30)
