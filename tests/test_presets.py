"""Every preset reads its vendor's layout, and the exports reach the marts with the right numbers."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from ingest.loader import ingest
from ingest.spec import BUILTIN_SPECS_DIR
from tests.conftest import _Env, make_project_env
from tests.vendor_fixtures import write_vendor_exports


def test_each_vendor_file_is_recognised_and_typed(con, landing, specs):
    expected = write_vendor_exports(landing)
    report = ingest(con, landing, specs)
    by_file = {f.source_file: f for f in report.files}
    assert {f.status for f in report.files} == {"loaded"}, [(f.source_file, f.error) for f in report.files
                                                             if f.status != "loaded"]
    layouts = dict(con.execute("SELECT source_file, entity FROM ops.load_manifest").fetchall())
    assert layouts["survey/qualtrics_legacy_2025-03.csv"] == "survey_responses"
    assert layouts["support/zendesk_satisfaction_ratings_2025-03.jsonl"] == "survey_responses"
    assert layouts["marketing/cleaned_members_export_abc.csv"] == "marketing_audience"
    # Report footers and total lines are recorded as rejected rows, with their reasons, never loaded.
    assert by_file["marketing/google_ads_campaigns_2025-03.csv"].rows_rejected == expected["google_ads_rejected_lines"]
    assert by_file["crm/salesforce_report_contacts_2025-03-31.csv"].rows_rejected \
        == expected["salesforce_report_rejected_lines"]
    assert sum(f.rows_rejected for f in report.files) == expected["google_ads_rejected_lines"] \
        + expected["salesforce_report_rejected_lines"]

    q = con.execute
    assert q("SELECT email, phone, account_id, created_at::VARCHAR FROM raw.crm_contacts WHERE first_name = 'Ann'"
             ).fetchone() == ("Ann.Archer@Example.com", "+1 415 555 0101", "0015g00000AcmeAA", "2025-03-01 10:00:00")
    # Salesforce report dates are the user's locale (Los Angeles here): 2:30 PM PST is 22:30 UTC.
    assert q("SELECT created_at::VARCHAR FROM raw.crm_contacts WHERE first_name = 'Cara'").fetchone()[0] \
        == "2025-03-04 22:30:00"
    assert q("SELECT deal_id, is_won, amount FROM raw.crm_deals ORDER BY deal_id").fetchall() == [
        ("0065g00000Lost", False, 500), ("0065g00000Won", True, 1000)]
    assert q("SELECT ticket_id, status, channel, satisfaction_score, first_reply_minutes, full_resolution_minutes "
             "FROM raw.support_tickets ORDER BY ticket_id").fetchall() == [
        ("1042", "solved", "email", "good", 90, 135),
        ("215467812", "closed", "chat", "bad", 10, 60),
        ("701", "solved", "email", "good", 30, 180),
        ("702", "open", "web", "offered", 90, None)]
    assert q("SELECT response_id, nps_score, csat_score, ticket_reference FROM raw.survey_responses "
             "ORDER BY response_id").fetchall() == [
        ("11800001", 9, 4, None), ("11800002", 3, 2, None), ("5550001", None, 5, "702"), ("5550002", None, 1, "701"),
        ("R_legacy1", 10, 5, None),
        ("ka8dc6zgkx0p2d7xka8dufzw1m7h3u2d", 7, None, None)]
    assert q("SELECT email, status FROM raw.marketing_audience ORDER BY email").fetchall() == [
        ("gina@gray.example", "subscribed"), ("hank@hill.example", "subscribed"), ("ivy@ives.example", "unsubscribed"),
        ("jack@jones.example", "cleaned")]
    assert q("SELECT platform, sum(cost), sum(impressions) FROM raw.marketing_ad_spend GROUP BY 1 ORDER BY 1"
             ).fetchall() == [("Google Ads", 1334.5, 13300), ("Meta Ads", 30.75, 11000)]


def test_a_file_no_pattern_claims_is_recognised_by_its_headers(con, landing, specs):
    write_vendor_exports(landing)
    for path in landing.rglob("*"):
        if path.is_file() and "freshdesk" not in path.name:
            path.unlink()
    (landing / "support" / "freshdesk_tickets_2025-03.csv").rename(landing / "support" / "Tickets export 31-03.csv")
    (f,) = ingest(con, landing, specs).files
    assert (f.status, f.entity, f.rows_loaded) == ("loaded", "support_tickets", 1)


def test_every_shipped_preset_is_exercised_by_a_fixture_or_the_generator(con, landing, specs):
    """A preset added without a fixture would go untested: the vendor fixtures and the sample-export
    generator together must load a file through every preset that ships."""
    from ingest.generate import generate

    write_vendor_exports(landing)
    generate(landing, customers=30, seed=3)
    report = ingest(con, landing, specs)
    assert not [f for f in report.files if f.status == "failed"]
    used = {r[0] for r in con.execute("SELECT DISTINCT layout FROM ops.load_manifest WHERE status = 'loaded'").fetchall()}
    shipped = {s.name for s in specs if BUILTIN_SPECS_DIR in Path(s.spec_file).parents}
    assert len(shipped) >= 24
    assert shipped - used == set(), f"presets no test loads a file through: {sorted(shipped - used)}"


@pytest.mark.slow
def test_vendor_exports_reach_the_marts_with_the_right_numbers(tmp_path):
    import dagster as dg

    from orchestration.pipeline import run_job

    env = make_project_env(tmp_path)
    with _Env(env):
        from ingest.settings import get_settings

        settings = get_settings()
        expected = write_vendor_exports(settings.landing_dir)
        outcome = run_job("full_pipeline", instance=dg.DagsterInstance.get())
        assert outcome.success, outcome
        with duckdb.connect(str(settings.warehouse), read_only=True) as con:
            q = con.execute
            assert q("SELECT count(*) FROM marts.customer_360").fetchone()[0] == expected["customers"]
            assert q("SELECT count(*), sum(amount) FROM marts.orders").fetchone() == (expected["orders"],
                                                                                     expected["revenue"])
            assert q("SELECT company_name, revenue, email FROM marts.customer_360 WHERE first_name = 'Ann'"
                     ).fetchone() == (expected["ann_company"], expected["revenue"], "ann.archer@example.com")
            tickets, median = q("SELECT count(*), median(first_reply_minutes) FROM marts.support_tickets").fetchone()
            assert (tickets, median) == (expected["tickets"], expected["median_first_reply_minutes"])
            satisfied, ratings = q("SELECT sum(satisfied), sum(ratings) FROM marts.csat_monthly "
                                   "WHERE dimension = 'all'").fetchone()
            assert (ratings, satisfied) == (expected["csat_ratings"], expected["csat_satisfied"])
            # The Zendesk rating names ticket 702: it reaches Dana through that ticket.
            rating_customer, rule = q("SELECT customer_id, match_rule FROM marts.customer_identity_map "
                                      "WHERE source_entity = 'survey_responses' AND record_key = '5550001'").fetchone()
            dana = q("SELECT customer_id FROM marts.support_tickets WHERE ticket_id = '702'").fetchone()[0]
            assert rating_customer == dana and rule == "ticket_ref"
            nps = q("SELECT responses, promoters, passives, detractors, nps FROM marts.nps_monthly "
                    "WHERE dimension = 'all' AND response_month = DATE '2025-03-01'").fetchone()
            e = expected["nps_2025_03"]
            assert nps == (e["responses"], e["promoters"], e["passives"], e["detractors"], e["nps"])
            assert float(q("SELECT sum(cost) FROM staging.stg_marketing__ad_spend").fetchone()[0]) \
                == pytest.approx(expected["ad_spend"])
