"""Operating it: the landing sensor (only changed sources, never twice), the schedule, freshness
policies on the marts, and waiting out another process's lock on the warehouse."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import dagster as dg
import duckdb
import pytest

from tests.test_ingest import contact, write_contacts
from tests.test_validation import write_survey


def evaluate_sensor(cursor, instance):
    from orchestration.automation import new_landing_files
    from orchestration.definitions import defs

    context = dg.build_sensor_context(cursor=cursor, instance=instance, definitions=defs)
    return new_landing_files(context), context.cursor


def test_sensor_runs_only_the_changed_sources_and_never_twice(landing):
    with dg.instance_for_test() as instance:
        write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1")])
        result, cursor = evaluate_sensor(None, instance)
        assert isinstance(result, dg.RunRequest)
        keys = {k.to_user_string() for k in result.asset_selection}
        assert {"landing/export_files", "raw/crm_contacts", "staging/stg_crm__contacts", "marts/customer_360",
                "published/cx_marts"} <= keys
        assert "raw/survey_responses" not in keys and "staging/stg_survey__responses" not in keys
        assert result.tags["cxw/changed_sources"] == "crm_contacts"

        again, cursor = evaluate_sensor(cursor, instance)
        assert isinstance(again, dg.SkipReason), "a file already seen started a second run"

        write_survey(landing / "survey" / "qualtrics_cx_1.csv", [{"ResponseId": "R1"}])
        third, cursor = evaluate_sensor(cursor, instance)
        keys = {k.to_user_string() for k in third.asset_selection}
        assert "raw/survey_responses" in keys and "raw/crm_contacts" not in keys
        assert third.run_key != result.run_key

        # The same name with new content is a new version: it runs again.
        time.sleep(0.01)
        write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1"), contact("2")])
        fourth, cursor = evaluate_sensor(cursor, instance)
        assert isinstance(fourth, dg.RunRequest) and "raw/crm_contacts" in {
            k.to_user_string() for k in fourth.asset_selection}
        assert set(json.loads(cursor)) == {"crm/hubspot_contacts_1.csv", "survey/qualtrics_cx_1.csv"}


def test_unrecognised_files_only_run_the_landing_asset(landing):
    with dg.instance_for_test() as instance:
        (landing / "crm").mkdir()
        (landing / "crm" / "notes.txt").write_text("hello")
        result, _ = evaluate_sensor(None, instance)
        assert [k.to_user_string() for k in result.asset_selection] == ["landing/export_files"]


def test_daily_schedule_and_mart_freshness():
    from orchestration.definitions import defs

    schedule = defs.resolve_schedule_def("daily_full_pipeline")
    assert schedule.cron_schedule == "0 6 * * *" and schedule.job_name == "full_pipeline"
    graph = defs.resolve_asset_graph()
    for name in ["customer_360", "nps_monthly", "support_tickets"]:
        policy = graph.get(dg.AssetKey(["marts", name])).freshness_policy
        assert policy is not None and policy.warn_window.to_timedelta().total_seconds() == 26 * 3600, name
    assert graph.get(dg.AssetKey(["staging", "stg_crm__contacts"])).freshness_policy is None


HOLD_LOCK = textwrap.dedent("""
    import sys, time, duckdb
    con = duckdb.connect(sys.argv[1])
    con.execute("CREATE TABLE IF NOT EXISTS held (x INT)")
    print("locked", flush=True)
    time.sleep(float(sys.argv[2]))
    con.close()
""")


def test_a_writer_waits_for_another_process_lock_instead_of_failing(tmp_path):
    from ingest.warehouse import connect, is_lock_error

    path = tmp_path / "w.duckdb"
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(path), "4"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with pytest.raises(duckdb.IOException) as refused:
        duckdb.connect(str(path))
    assert is_lock_error(refused.value)
    t0 = time.monotonic()
    with connect(path, wait_s=60) as con:  # waits with backoff until the holder lets go
        con.execute("SELECT count(*) FROM held").fetchone()
    assert time.monotonic() - t0 > 1
    holder.wait(timeout=30)


def test_a_step_blocked_by_a_lock_is_retried_with_backoff():
    from orchestration.resources import retry_on_lock

    class Context:
        retry_number = 2

        class log:
            @staticmethod
            def warning(message):
                pass

    with pytest.raises(dg.RetryRequested) as retry:
        retry_on_lock(Context, RuntimeError("IO Error: Could not set lock on file"), locked=True)
    assert retry.value.seconds_to_wait == 40 and retry.value.max_retries >= 3
    retry_on_lock(Context, RuntimeError("Binder Error"), locked=False)  # real errors are not retried
