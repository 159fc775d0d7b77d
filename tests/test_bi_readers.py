"""A BI tool reading the published copy in another process while pipeline runs write: it is never
blocked, never blocks a run, and every read sees one complete run."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import _Env, make_project_env

pytestmark = pytest.mark.slow

READER = textwrap.dedent("""
    import json, sys, time
    import duckdb
    path, stop, out = sys.argv[1], sys.argv[2], sys.argv[3]
    reads, errors, versions = 0, [], set()
    import os
    while not os.path.exists(stop):
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                tables = {r[0] for r in con.execute(
                    "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'").fetchall()}
                orders = con.execute("SELECT count(*), coalesce(sum(amount), 0) FROM marts.orders").fetchone()
                time.sleep(0.02)  # a BI query takes a moment; the snapshot must not change under it
                revenue = con.execute("SELECT coalesce(sum(revenue), 0) FROM marts.customer_360").fetchone()[0]
                tickets = con.execute("SELECT count(*) FROM marts.support_tickets").fetchone()[0]
                monthly = con.execute("SELECT coalesce(sum(tickets), 0) FROM marts.support_performance_monthly"
                                      ).fetchone()[0]
            finally:
                con.close()
            if len(tables) < 18:
                errors.append(f"only {len(tables)} marts")
            if abs(float(orders[1]) - float(revenue)) > 0.005 or tickets != monthly:
                errors.append(f"mixed versions: orders {orders} vs revenue {revenue}, tickets {tickets}/{monthly}")
            versions.add((orders[0], tickets))
            reads += 1
        except Exception as exc:
            errors.append(repr(exc))
        time.sleep(0.05)
    json.dump({"reads": reads, "errors": errors[:20], "versions": sorted(versions)}, open(out, "w"))
""")


def test_bi_reader_is_never_blocked_and_always_sees_one_complete_run(tmp_path):
    import dagster as dg

    from ingest.generate import generate
    from orchestration.pipeline import run_job

    env = make_project_env(tmp_path)
    with _Env(env):
        landing = Path(env["CXW_LANDING_DIR"])
        published = Path(env["CXW_PUBLISH_DIR"]) / "cx_marts.duckdb"
        generate(landing, customers=300, seed=21)
        instance = dg.DagsterInstance.get()
        assert run_job("full_pipeline", instance=instance).success
        stop, out = tmp_path / "stop", tmp_path / "reader.json"
        reader = subprocess.Popen([sys.executable, "-c", READER, str(published), str(stop), str(out)])
        try:
            time.sleep(1)
            # New data, two runs in a row, while the reader keeps reading.
            generate(landing, customers=300, seed=21, extra_day=True)
            first = run_job("full_pipeline", instance=instance)
            (landing / "support" / "zendesk_tickets_late.jsonl").write_text(json.dumps(
                {"id": 424242, "created_at": "2026-11-01T10:00:00Z", "status": "open", "via": {"channel": "web"},
                 "requester": {"email": "late@example.com"}}) + "\n")
            second = run_job("full_pipeline", instance=instance)
            time.sleep(1)
        finally:
            stop.touch()
            reader.wait(timeout=60)
        result = json.loads(out.read_text())
    assert first.success and second.success, (first, second)
    assert not result["errors"], result["errors"]
    assert result["reads"] > 20
    assert len(result["versions"]) >= 2, f"the reader saw only {result['versions']}; it never read across a publish"
