"""The default sample data through the whole pipeline, reconciled with the generator's ground truth.

The ground truth is computed by the generator from what it wrote, never from the warehouse."""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from math import comb
from pathlib import Path

import duckdb
import pytest

pytestmark = pytest.mark.slow

HEADER_ROWS = {"survey_responses": 3, "support_tickets": 0}


@pytest.fixture
def wh(demo_run):
    con = duckdb.connect(str(demo_run.warehouse), read_only=True)
    yield con
    con.close()


@pytest.fixture(scope="module")
def truth(demo_run):
    return json.loads((demo_run.truth / "truth.json").read_text())


def test_pipeline_run_succeeded(demo_run):
    outcome = demo_run.outcome
    assert outcome.success, outcome
    assert not outcome.failed_steps and not outcome.skipped_steps
    assert not [c for c in outcome.failed_checks if "ERROR" in c], outcome.failed_checks


def test_the_run_log_has_a_line_per_published_mart(demo_run):
    import dagster as dg

    manifest = json.loads((Path(demo_run.env["CXW_PUBLISH_DIR"]) / "manifest.json").read_text())
    messages = [e.user_message for e in dg.DagsterInstance.get().all_logs(demo_run.outcome.run_id)]
    for mart, info in manifest["tables"].items():
        lines = [m for m in messages if m.startswith(f"published {mart} ({info['rows']:,} rows, ")]
        assert len(lines) == 1 and ": copy " in lines[0] and ", parquet " in lines[0], (mart, lines)


def test_every_file_reconciles_rows_read_loaded_and_rejected(demo_run, wh):
    files = json.loads((demo_run.truth / "files.json").read_text())
    manifest = {r[0]: r[1:] for r in wh.execute(
        "SELECT source_file, entity, status, rows_read, rows_loaded, rows_rejected FROM ops.load_manifest").fetchall()}
    assert set(manifest) == set(files), "every generated file is in the manifest, and nothing else"
    rejects = defaultdict(set)
    for source_file, row in wh.execute("SELECT source_file, source_row FROM ops.load_rejects").fetchall():
        rejects[source_file].add(row)
    for rel, expected in files.items():
        entity, status, read, loaded, rejected = manifest[rel]
        assert entity == expected["entity"] and status == "loaded", rel
        assert read == expected["data_rows"], rel
        assert read == loaded + rejected, rel
        assert rejected == expected["malformed_rows"], (rel, rejects[rel], expected["malformed"])
        header_rows = HEADER_ROWS.get(entity, 1)
        assert rejects[rel] == {m["record"] + header_rows for m in expected["malformed"]}, rel


def test_per_source_totals(demo_run, wh):
    files = json.loads((demo_run.truth / "files.json").read_text())
    expected = defaultdict(lambda: [0, 0])
    for v in files.values():
        expected[v["entity"]][0] += v["data_rows"] - v["malformed_rows"]
        expected[v["entity"]][1] += v["malformed_rows"]
    actual = {e: [l, r] for e, l, r in wh.execute(
        "SELECT entity, sum(rows_loaded), sum(rows_rejected) FROM ops.load_manifest GROUP BY entity").fetchall()}
    assert actual == dict(expected)
    for entity, (loaded, _) in expected.items():
        assert wh.execute(f'SELECT count(*) FROM raw."{entity}"').fetchone()[0] == loaded


def test_ingest_again_changes_nothing(demo_run, wh):
    import os
    import subprocess
    import sys

    before = wh.execute("SELECT count(*), sum(rows_loaded) FROM ops.load_manifest").fetchone()
    raw_before = wh.execute("SELECT count(*) FROM raw.crm_contacts").fetchone()
    wh.close()  # DuckDB: one writer process, so step aside for the second ingest
    done = subprocess.run([sys.executable, "-m", "ingest.cli", "ingest"], env={**os.environ, **demo_run.env},
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "nothing new to load" in done.stdout
    with duckdb.connect(str(demo_run.warehouse), read_only=True) as con:
        assert con.execute("SELECT count(*), sum(rows_loaded) FROM ops.load_manifest").fetchone() == before
        assert con.execute("SELECT count(*) FROM raw.crm_contacts").fetchone() == raw_before


def test_identity_resolution_precision_and_recall(demo_run, wh):
    truth = {}
    with open(demo_run.truth / "records.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            truth[(r["entity"], r["record_key"])] = r["person_id"]
    predicted = {(e, k): c for e, k, c in wh.execute(
        "SELECT source_entity, record_key, customer_id FROM marts.customer_identity_map").fetchall()}
    missing = [k for k in truth if k not in predicted]
    assert not missing, f"{len(missing)} ground-truth records are not in the identity map, e.g. {missing[:3]}"
    both, per_truth, per_pred = defaultdict(int), defaultdict(int), defaultdict(int)
    for key, person in truth.items():
        customer = predicted[key]
        both[(person, customer)] += 1
        per_truth[person] += 1
        per_pred[customer] += 1
    true_pairs = sum(comb(n, 2) for n in both.values())
    precision = true_pairs / sum(comb(n, 2) for n in per_pred.values())
    recall = true_pairs / sum(comb(n, 2) for n in per_truth.values())
    print(f"\nidentity resolution on {len(truth):,} records: pairwise precision {precision:.4f}, recall {recall:.4f}")
    assert precision >= 0.98
    assert recall >= 0.98


def test_customer_360_counts_each_customers_records_systems_and_addresses(wh):
    # Counted here in Python from the identity map's rows; customer_360 counts systems from four flags.
    records, systems, emails = defaultdict(int), defaultdict(set), defaultdict(set)
    for customer, system, email in wh.execute(
            "SELECT customer_id, source_system, email FROM marts.customer_identity_map "
            "WHERE customer_id IS NOT NULL").fetchall():
        records[customer] += 1
        systems[customer].add(system)
        if email is not None:
            emails[customer].add(email)
    rows = wh.execute("SELECT customer_id, source_records, source_systems, email_addresses "
                      "FROM marts.customer_360").fetchall()
    assert {c for c, *_ in rows} == set(records)
    assert sum(1 for c, n, s, e in rows if len(systems[c]) > 1) > 0, "no customer spans two systems"
    wrong = [(c, n, s, e) for c, n, s, e in rows
             if (n, s, e) != (records[c], len(systems[c]), len(emails[c]))]
    assert not wrong, f"{len(wrong)} customers with other counts, e.g. {wrong[:3]}"


def test_customer_count(wh, truth):
    customers = wh.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0]
    # A person the data cannot link (a second email with nothing else in common) is two customers.
    assert truth["customers"] <= customers <= truth["customers"] + truth["unlinkable_persons"]


def test_orders_revenue_and_churn(wh, truth):
    orders, revenue = wh.execute("SELECT count(*), sum(amount) FROM marts.orders").fetchone()
    assert orders == truth["orders"]
    assert float(revenue) == pytest.approx(truth["revenue"], abs=0.005)
    assert wh.execute("SELECT sum(revenue) FROM marts.customer_360").fetchone()[0] == revenue
    churned = wh.execute("SELECT count(*) FROM marts.customer_360 WHERE is_churned").fetchone()[0]
    assert churned == truth["churned_customers"]


def test_nps_per_month(wh, truth):
    rows = wh.execute("SELECT strftime(response_month, '%Y-%m'), responses, promoters, passives, detractors, nps "
                      "FROM marts.nps_monthly WHERE dimension = 'all'").fetchall()
    actual = {m: (n, p, pa, d, nps) for m, n, p, pa, d, nps in rows}
    expected = truth["nps_by_month"]
    assert set(actual) == set(expected)
    for month, e in expected.items():
        n, p, pa, d, nps = actual[month]
        assert (n, p, pa, d) == (e["responses"], e["promoters"], e["passives"], e["detractors"]), month
        assert nps == pytest.approx(e["nps"], abs=0.001), month
    survey = truth["survey"]
    total = wh.execute("SELECT sum(responses), sum(promoters), sum(detractors) FROM marts.nps_monthly "
                       "WHERE dimension = 'all'").fetchone()
    assert total == (survey["nps_responses"], survey["promoters"], survey["detractors"])


def test_csat_and_ces(wh, truth):
    survey, support = truth["survey"], truth["support_csat"]
    satisfied, ratings = wh.execute("SELECT sum(satisfied), sum(ratings) FROM marts.csat_monthly "
                                    "WHERE dimension = 'all'").fetchone()
    assert ratings == survey["csat_responses"] + support["rated"]
    assert satisfied == survey["csat_satisfied"] + support["good"]
    by_source = dict(wh.execute("SELECT dimension_value, sum(ratings) FROM marts.csat_monthly "
                                "WHERE dimension = 'rating_source' GROUP BY 1").fetchall())
    assert by_source == {"survey": survey["csat_responses"], "support": support["rated"]}
    responses, easy, mean = wh.execute("SELECT sum(responses), sum(easy), sum(ces_mean * responses) / sum(responses) "
                                       "FROM marts.ces_monthly WHERE dimension = 'all'").fetchone()
    assert (responses, easy) == (survey["ces_responses"], survey["ces_easy"])
    assert mean == pytest.approx(survey["ces_mean"], abs=1e-4)


def test_support_numbers(wh, truth):
    tickets, solved, median_reply = wh.execute(
        "SELECT count(*), count(*) FILTER (WHERE is_solved), median(first_reply_minutes) FROM marts.support_tickets"
    ).fetchone()
    assert (tickets, solved) == (truth["tickets"], truth["tickets_solved"])
    assert median_reply == pytest.approx(truth["median_first_reply_minutes"])


def test_marketing_dedup(wh, truth):
    assert wh.execute("SELECT count(*) FROM staging.stg_marketing__email_activities").fetchone()[0] \
        == truth["email_activity_rows"]
    assert wh.execute("SELECT count(*) FROM staging.stg_marketing__web_sessions").fetchone()[0] == truth["sessions"]
    assert float(wh.execute("SELECT sum(cost) FROM staging.stg_marketing__ad_spend").fetchone()[0]) \
        == pytest.approx(truth["ad_spend_total"], abs=0.005)
