"""Incremental facts equal a full refresh on the same data, through the bad days: a new day of
exports, a re-sent export, a late release of a quarantined load, a corrected export superseding an
earlier one, a new record that merges two customers, and its correction that splits them again."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO, _Env, make_project_env
from tests.test_validation import write_survey

pytestmark = pytest.mark.slow

INCREMENTAL_MODELS = ["marts.touchpoints", "marts.support_tickets", "marts.survey_responses",
                      "intermediate.int_identifiers_clustered", "staging.stg_marketing__web_sessions",
                      "staging.stg_marketing__email_activities", "staging.stg_crm__contacts", "staging.stg_crm__deals",
                      "staging.stg_support__tickets", "staging.stg_survey__responses"]
DBT = str(Path(sys.executable).with_name("dbt"))


def dbt_run(warehouse: Path, target: Path, *extra: str) -> None:
    env = {**os.environ, "CXW_WAREHOUSE": str(warehouse)}
    done = subprocess.run([DBT, "run", "--profiles-dir", str(REPO / "dbt_project"), "--target-path", str(target),
                           "--log-path", str(target / "logs"), *extra], cwd=REPO / "dbt_project", env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-4000:]


def load_new_files(warehouse: Path) -> None:
    from expectations.runner import validate_pending
    from ingest.loader import ingest
    from ingest.settings import get_settings
    from ingest.spec import load_specs
    from ingest.warehouse import connect

    settings = get_settings()
    specs = load_specs(settings.specs_dirs)
    with connect(warehouse) as con:
        ingest(con, settings.landing_dir, specs)
        for spec in specs:
            validate_pending(con, spec.entity, warehouse)


def assert_incremental_equals_full_refresh(warehouse: Path, tmp: Path) -> None:
    copy = tmp / "full_refresh.duckdb"
    shutil.copy(warehouse, copy)
    dbt_run(copy, tmp / "target_full", "--full-refresh")
    with duckdb.connect(str(warehouse), read_only=True) as inc, duckdb.connect(str(copy), read_only=True) as full:
        for model in INCREMENTAL_MODELS:
            a = set(inc.execute(f"SELECT * FROM {model}").fetchall())
            b = set(full.execute(f"SELECT * FROM {model}").fetchall())
            assert a == b, (f"{model}: {len(a - b)} rows only in the incremental table, {len(b - a)} only in the "
                            f"full refresh; e.g. {sorted(a - b, key=str)[:2]} / {sorted(b - a, key=str)[:2]}")
            assert len(a) == inc.execute(f"SELECT count(*) FROM {model}").fetchone()[0], f"{model} duplicates"
    copy.unlink()


def test_incremental_models_match_full_refresh_through_reruns_late_rows_and_superseding_exports(tmp_path):
    from expectations.runner import release_load
    from ingest.generate import generate
    from ingest.warehouse import connect

    env = make_project_env(tmp_path)
    with _Env(env):
        landing, warehouse, target = Path(env["CXW_LANDING_DIR"]), Path(env["CXW_WAREHOUSE"]), tmp_path / "target"
        generate(landing, customers=300, seed=11)
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        before = duckdb.connect(str(warehouse), read_only=True)
        base_rows = before.execute("SELECT count(*) FROM marts.touchpoints").fetchone()[0]
        before.close()

        # 1. One more day of exports (the base files stay byte-identical and are skipped).
        generate(landing, customers=300, seed=11, extra_day=True)
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM marts.touchpoints").fetchone()[0] > base_rows
        assert_incremental_equals_full_refresh(warehouse, tmp_path)

        # 1b. A solved ticket is reopened: its ticket_solved touchpoint must go.
        with duckdb.connect(str(warehouse), read_only=True) as con:
            ticket_id, created, email = con.execute(
                "SELECT t.ticket_id, strftime(t.created_at, '%Y-%m-%dT%H:%M:%SZ'), s.requester_email "
                "FROM marts.support_tickets t JOIN staging.stg_support__tickets s USING (ticket_id) "
                "WHERE t.is_solved AND t.solved_at IS NOT NULL ORDER BY t.ticket_id LIMIT 1").fetchone()
        reopened = {"id": int(ticket_id), "created_at": created, "updated_at": "2026-11-02T09:00:00Z",
                    "status": "open", "via": {"channel": "email"}, "requester": {"email": email}}
        (landing / "support" / "zendesk_tickets_reopened.jsonl").write_text(json.dumps(reopened) + "\n")
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM marts.touchpoints WHERE record_key = ? "
                               "AND touchpoint_type = 'ticket_solved'", [ticket_id]).fetchone()[0] == 0
        assert_incremental_equals_full_refresh(warehouse, tmp_path)

        # 2. The same export sent again under another name: nothing may be counted twice.
        tickets = sorted((landing / "support").glob("zendesk_tickets_2026-*.jsonl"))[-1]
        shutil.copy(tickets, landing / "support" / "zendesk_tickets_resent.jsonl")
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        assert_incremental_equals_full_refresh(warehouse, tmp_path)

        # 3. A late release: a quarantined load becomes visible days after it landed. It also holds a
        # response without its id, which stays in raw and out of staging in both kinds of build.
        write_survey(landing / "survey" / "qualtrics_cx_2026-11-02_late.csv", [
            {"ResponseId": "R_late", "RecordedDate": "2026-10-20 10:00:00"},
            {"ResponseId": "R_late", "RecordedDate": "2026-10-20 10:00:00"},
            {"ResponseId": "", "RecordedDate": "2026-10-20 11:00:00"}])
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        with connect(warehouse) as con:
            load_id = con.execute("SELECT load_id FROM ops.load_manifest WHERE source_file LIKE '%_late.csv'"
                                  ).fetchone()[0]
            release_load(con, load_id, "test")
        dbt_run(warehouse, target)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM marts.survey_responses WHERE response_id = 'R_late'"
                               ).fetchone()[0] == 1
            assert con.execute("SELECT count(*) FROM raw.survey_responses WHERE response_id IS NULL AND _load_id = ?",
                               [load_id]).fetchone()[0] == 1
            assert con.execute("SELECT count(*) FROM staging.stg_survey__responses WHERE response_id IS NULL"
                               ).fetchone()[0] == 0
        assert_incremental_equals_full_refresh(warehouse, tmp_path)

        # 4. A corrected export supersedes an earlier one: a response changes, another disappears.
        survey = sorted((landing / "survey").glob("qualtrics_cx_2026-0*.csv"))[-1]
        lines = survey.read_text(encoding="utf-8").splitlines(keepends=True)
        import csv
        import io

        records = list(csv.reader(io.StringIO("".join(lines))))
        header, data = records[:3], records[3:]
        q1 = header[0].index("Q1")
        dropped = data[0][header[0].index("ResponseId")]
        data = data[1:]
        data[0][q1] = "0" if data[0][q1] != "0" else "10"
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows(header + data)
        survey.write_text(out.getvalue(), encoding="utf-8")
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM marts.survey_responses WHERE response_id = ?", [dropped]
                               ).fetchone()[0] == 0
        assert_incremental_equals_full_refresh(warehouse, tmp_path)

        # 4b. Corrected marketing exports (same file names, new content): a web session and an email
        # action disappear, another session changes.
        sessions = sorted((landing / "marketing").glob("ga4_sessions*.csv"))[-1]
        rows = list(csv.reader(io.StringIO(sessions.read_text(encoding="utf-8"))))
        head, body = rows[0], rows[1:]
        gone_session, changed_session = body[0][0], body[1][0]
        body = body[1:]
        body[0][head.index("pageviews")] = "977"
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([head] + body)
        sessions.write_text(out.getvalue(), encoding="utf-8")
        # An action re-sent in a small extra file, which is then corrected without it: the version in
        # the monthly file comes back.
        monthly = sorted((landing / "marketing").glob("mailchimp_activity_2026-??.csv"))[-1]
        act_head, resent, kept = monthly.read_text(encoding="utf-8").splitlines(keepends=True)[:3]
        extra = landing / "marketing" / "mailchimp_activity_resent.csv"
        extra.write_text(act_head + resent + kept, encoding="utf-8")
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        email, _, _, action, moment, _ = next(csv.reader([resent]))
        resent_row = ("SELECT s._source_file FROM staging.stg_marketing__email_activities s WHERE "
                      "email = lower(trim(?)) AND action = lower(trim(?)) AND occurred_at = ?::TIMESTAMP")
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute(resent_row, [email, action, moment]).fetchone()[0].endswith(extra.name)
        extra.write_text(act_head + kept, encoding="utf-8")
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM staging.stg_marketing__web_sessions WHERE session_id = ?",
                               [gone_session]).fetchone()[0] == 0
            assert con.execute("SELECT pageviews FROM staging.stg_marketing__web_sessions WHERE session_id = ?",
                               [changed_session]).fetchone()[0] == 977
            assert con.execute(resent_row, [email, action, moment]).fetchone()[0].endswith(monthly.name)
        assert_incremental_equals_full_refresh(warehouse, tmp_path)

        # 4c. A record with no touchpoint in its current version: a contact re-sent without its create
        # date has none. The re-sent file is then corrected without that contact; the earlier version
        # comes back from a load touchpoints has already seen, and so must its touchpoint.
        contacts_file = sorted((landing / "crm").glob("hubspot_contacts_*.csv"))[-1]
        rows = list(csv.reader(io.StringIO(contacts_file.read_text(encoding="utf-8"))))
        head, undated, other = rows[0], list(rows[1]), rows[2]
        undated[head.index("Create Date")] = ""
        resent_contacts = landing / "crm" / "hubspot_contacts_resent.csv"
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([head, undated, other])
        resent_contacts.write_text(out.getvalue(), encoding="utf-8")
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        created = ("SELECT count(*) FROM marts.touchpoints WHERE source_entity = 'crm_contacts' AND record_key = ? "
                   "AND touchpoint_type = 'contact_created'")
        contact_key = undated[head.index("Record ID")].strip()
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute(created, [contact_key]).fetchone()[0] == 0
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerows([head, other])
        resent_contacts.write_text(out.getvalue(), encoding="utf-8")
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute(created, [contact_key]).fetchone()[0] == 1
        assert_incremental_equals_full_refresh(warehouse, tmp_path)

        # 5. Identity: a ticket carrying one customer's email and another's CRM id merges them.
        with duckdb.connect(str(warehouse), read_only=True) as con:
            (email_a,), (contact_b,) = con.execute(
                "SELECT * FROM (SELECT email FROM marts.customer_360 WHERE crm_contact_id IS NULL AND email IS NOT "
                "NULL ORDER BY customer_id LIMIT 1) UNION ALL SELECT * FROM (SELECT cast(crm_contact_id AS VARCHAR) "
                "FROM marts.customer_360 WHERE crm_contact_id IS NOT NULL ORDER BY customer_id LIMIT 1)").fetchall()
            customers_before = con.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0]
        merge = {"id": 999999, "created_at": "2026-11-01T09:00:00Z", "updated_at": "2026-11-01T09:00:00Z",
                 "status": "open", "via": {"channel": "email"},
                 "requester": {"id": 777, "email": email_a, "external_id": contact_b}}
        (landing / "support" / "zendesk_tickets_merge.jsonl").write_text(json.dumps(merge) + "\n")
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0] == customers_before - 1
        assert_incremental_equals_full_refresh(warehouse, tmp_path)

        # 6. The merging ticket is corrected (same file, new version) without the CRM id: the two
        # customers split again, and the incremental clustering must drop the link too.
        merge["requester"] = {"id": 777, "email": email_a}
        (landing / "support" / "zendesk_tickets_merge.jsonl").write_text(json.dumps(merge) + "\n")
        load_new_files(warehouse)
        dbt_run(warehouse, target)
        with duckdb.connect(str(warehouse), read_only=True) as con:
            assert con.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0] == customers_before
            assert con.execute("SELECT count(*) FROM intermediate.int_identifiers_clustered WHERE identifier = ?",
                               [f"crm_id:{contact_b}"]).fetchone()[0] == 1
        assert_incremental_equals_full_refresh(warehouse, tmp_path)
