"""A bad load through Dagster: quarantined, blocks the marts, then released or superseded into them."""

from __future__ import annotations

import duckdb
import pytest

from tests.conftest import _Env, make_project_env
from tests.test_validation import write_survey

pytestmark = pytest.mark.slow


def survey_ids(warehouse) -> set[str]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return {r[0] for r in con.execute("SELECT response_id FROM marts.survey_responses").fetchall()}


def check_evaluations(instance, run_id):
    out = {}
    for record in instance.all_logs(run_id):
        event = record.dagster_event
        if event and event.event_type_value == "ASSET_CHECK_EVALUATION":
            data = event.event_specific_data
            out[data.asset_key.to_user_string()] = (data.passed, data.severity.value)
    return out


@pytest.fixture(scope="module")
def small_project(tmp_path_factory):
    import dagster as dg

    from ingest.generate import generate
    from orchestration.pipeline import run_job

    root = tmp_path_factory.mktemp("quarantine")
    env = make_project_env(root)
    with _Env(env):
        from ingest.settings import get_settings

        settings = get_settings()
        generate(settings.landing_dir, customers=300, seed=7)
        instance = dg.DagsterInstance.get()
        first = run_job("full_pipeline", instance=instance)
        assert first.success, first
        yield settings, instance, run_job


def test_failing_load_is_quarantined_blocks_the_marts_and_can_be_released(small_project):
    settings, instance, run_job = small_project
    before = survey_ids(settings.warehouse)
    # A duplicated ResponseId within one export breaks an `error` expectation (unique key).
    write_survey(settings.landing_dir / "survey" / "qualtrics_cx_2026-10-30_extra.csv", [
        {"ResponseId": "R_dup", "RecordedDate": "2026-10-30 10:00:00"},
        {"ResponseId": "R_dup", "RecordedDate": "2026-10-30 11:00:00"},
        {"ResponseId": "R_ok", "RecordedDate": "2026-10-30 12:00:00"}])
    blocked = run_job("full_pipeline", instance=instance)
    assert not blocked.success
    assert "raw__survey_responses" in blocked.failed_steps
    assert "cx_dbt_models" in blocked.skipped_steps
    assert not [k for k in blocked.materialized if k.startswith("marts/")]
    assert check_evaluations(instance, blocked.run_id)["raw/survey_responses"] == (False, "ERROR")
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        load_id, status, summary = con.execute(
            "SELECT load_id, validation_status, validation_summary FROM ops.load_manifest "
            "WHERE source_file = 'survey/qualtrics_cx_2026-10-30_extra.csv'").fetchone()
        assert con.execute("SELECT count(*) FROM raw.survey_responses WHERE _load_id = ?", [load_id]).fetchone()[0] == 3
    assert status == "quarantined" and "unique(response_id)" in summary

    # The next run (nothing new) builds the marts without the quarantined rows.
    again = run_job("full_pipeline", instance=instance)
    assert again.success and "cx_dbt_models" not in again.skipped_steps
    assert survey_ids(settings.warehouse) == before

    released = run_job("release_load_job", instance=instance,
                       run_config={"ops": {"release_quarantined_load": {"config": {"load_id": load_id,
                                                                                   "released_by": "test"}}}})
    assert released.success
    after = run_job("full_pipeline", instance=instance)
    assert after.success
    assert survey_ids(settings.warehouse) == before | {"R_dup", "R_ok"}


def test_corrected_file_under_the_same_name_supersedes_a_quarantined_load(small_project):
    settings, instance, run_job = small_project
    before = survey_ids(settings.warehouse)
    path = settings.landing_dir / "survey" / "qualtrics_cx_2026-10-31_extra.csv"
    write_survey(path, [{"ResponseId": "R_fix1", "Q1": "11", "RecordedDate": "2026-10-31 09:00:00"},
                        {"ResponseId": "R_fix2", "RecordedDate": "2026-10-31 09:30:00"}])
    blocked = run_job("full_pipeline", instance=instance)
    assert "raw__survey_responses" in blocked.failed_steps
    assert survey_ids(settings.warehouse) == before

    write_survey(path, [{"ResponseId": "R_fix1", "Q1": "10", "RecordedDate": "2026-10-31 09:00:00"},
                        {"ResponseId": "R_fix2", "RecordedDate": "2026-10-31 09:30:00"}])
    fixed = run_job("full_pipeline", instance=instance)
    assert fixed.success, fixed
    assert survey_ids(settings.warehouse) == before | {"R_fix1", "R_fix2"}
    with duckdb.connect(str(settings.warehouse), read_only=True) as con:
        versions = con.execute("SELECT load_id, validation_status, superseded_by FROM ops.load_manifest "
                               "WHERE source_file = ? ORDER BY load_id", [path.relative_to(settings.landing_dir)
                                                                          .as_posix()]).fetchall()
        assert versions[0][1] == "quarantined" and versions[1][1] in ("passed", "warned")  # tiny file: volume warning
        assert versions[0][2] == versions[1][0]
        assert con.execute("SELECT nps_score FROM marts.survey_responses WHERE response_id = 'R_fix1'"
                           ).fetchone()[0] == 10
