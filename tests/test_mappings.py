"""Mapping files: any CSV or JSON export onto an entity without code, including real third-party data
(skipped cleanly when ../shared/reference-data is absent)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
import yaml

from ingest.loader import ingest
from ingest.spec import SpecError, load_specs
from tests.conftest import REPO, _Env, make_project_env, reference_file

BUILTIN = REPO / "ingest" / "specs"
EXAMPLES = REPO / "docs" / "mappings"


def mapping_dir(tmp_path: Path, **files: dict) -> Path:
    d = tmp_path / "mappings"
    d.mkdir(parents=True, exist_ok=True)
    for name, doc in files.items():
        (d / f"{name}.yml").write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return d


def test_every_mapping_option(con, landing, tmp_path):
    """Title lines, Latin-1, semicolons, decimal commas, value maps, constants, composite keys,
    per-column date formats and time zones."""
    d = mapping_dir(tmp_path, crm_export={
        "name": "erp_customers", "entity": "crm_contacts", "files": ["crm/erp_*.csv"], "format": "csv",
        "reader": {"skip_lines": 2, "delimiter": ";", "encoding": "latin-1", "decimal": ",", "thousands": "."},
        "columns": {
            "contact_id": {"from": ["Mandant", "Kundennr"], "join": "-"},
            "last_name": "Name",
            "email": {"from_any": ["E-Mail", "Email"]},
            "contract_type": {"from": "Vertrag", "map": {"Monatlich": "Month-to-month", "Jährlich": "One year"}},
            "is_churned": {"from": "Gekündigt", "map": {"ja": True, "nein": False}},
            "lifecycle_stage": {"value": "Customer"},
            "created_at": {"from": "Angelegt", "formats": ["%d.%m.%Y %H:%M"], "timezone": "Europe/Berlin"},
        }}, erp_orders={
        "name": "erp_orders", "entity": "crm_deals", "files": ["crm/erp_orders*.csv"], "format": "csv",
        "reader": {"delimiter": ";", "encoding": "latin-1", "decimal": ",", "thousands": "."},
        "columns": {"deal_id": "Auftrag", "contact_id": {"from": ["Mandant", "Kundennr"], "join": "-"},
                    "deal_stage": {"value": "Closed Won"}, "amount": "Betrag",
                    "created_at": {"from": "Datum", "formats": ["%d.%m.%Y"]}}})
    (landing / "crm").mkdir()
    (landing / "crm" / "erp_kunden_2025.csv").write_bytes(
        "Kundenexport\nStand: 31.03.2025\n"
        "Mandant;Kundennr;Name;E-Mail;Vertrag;Gekündigt;Angelegt\n"
        "01;1001;Müller;mueller@example.de;Monatlich;ja;05.03.2025 14:30\n"
        "01;1002;Weiß;;Jährlich;nein;06.03.2025 09:00\n"
        "01;1003;Groß;gross@example.de;Quartal;vielleicht;07.03.2025 09:00\n".encode("latin-1"))
    (landing / "crm" / "erp_orders_2025.csv").write_bytes(
        "Auftrag;Mandant;Kundennr;Betrag;Datum\nA-1;01;1001;1.234,50;10.03.2025\n".encode("latin-1"))
    report = ingest(con, landing, load_specs([BUILTIN, d]))
    by_file = {f.source_file: f for f in report.files}
    kunden = by_file["crm/erp_kunden_2025.csv"]
    assert (kunden.rows_read, kunden.rows_loaded, kunden.rows_rejected) == (3, 2, 1)
    assert con.execute("SELECT contact_id, last_name, email, contract_type, is_churned, lifecycle_stage, "
                       "strftime(created_at, '%Y-%m-%d %H:%M') FROM raw.crm_contacts ORDER BY 1").fetchall() == [
        ("01-1001", "Müller", "mueller@example.de", "Month-to-month", True, "Customer", "2025-03-05 13:30"),
        ("01-1002", "Weiß", None, "One year", False, "Customer", "2025-03-06 08:00")]
    # An unmapped value that does not fit the type is rejected with the value and the column named;
    # an unmapped text value passes through as written.
    row, column, reason = con.execute("SELECT source_row, column_name, reason FROM ops.load_rejects").fetchone()
    assert (row, column) == (6, "Gekündigt") and "'vielleicht' as BOOLEAN" in reason
    assert con.execute("SELECT deal_id, contact_id, amount FROM raw.crm_deals").fetchone() == ("A-1", "01-1001", 1234.5)


def test_required_field_without_mapping_names_file_entity_and_field(tmp_path):
    d = mapping_dir(tmp_path, broken={"name": "broken", "entity": "support_tickets", "files": ["support/x*.csv"],
                                      "format": "csv", "columns": {"ticket_id": "Id", "status": "State"}})
    with pytest.raises(SpecError) as err:
        load_specs([BUILTIN, d])
    message = str(err.value)
    assert "broken.yml" in message and "support_tickets" in message and "'created_at'" in message


def test_unknown_field_and_unknown_option_are_clear_errors(tmp_path):
    d = mapping_dir(tmp_path, typo={"name": "typo", "entity": "crm_contacts", "files": ["crm/y*.csv"],
                                    "format": "csv", "columns": {"contact_id": "Id", "emial": "Email"}})
    with pytest.raises(SpecError, match="'emial' is not a field of entity crm_contacts"):
        load_specs([BUILTIN, d])
    d2 = mapping_dir(tmp_path / "b", opt={"name": "opt", "entity": "crm_contacts", "files": ["crm/y*.csv"],
                                          "format": "csv", "columns": {"contact_id": {"from": "Id", "fmt": "x"}}})
    with pytest.raises(SpecError, match="unknown option"):
        load_specs([BUILTIN, d2])


def test_extends_a_preset_and_replaces_it_for_its_files(con, landing, tmp_path):
    d = mapping_dir(tmp_path, my_hubspot={"extends": "hubspot_contacts", "name": "my_hubspot",
                                          "timestamps": {"timezone": "Europe/Paris"},
                                          "columns": {"contract_type": "Plan"}})
    from tests.test_ingest import CONTACT_HEADER, contact, write_contacts

    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1") | {"Plan": "Pro"}],
                   header=CONTACT_HEADER + ["Plan"])
    (f,) = ingest(con, landing, load_specs([BUILTIN, d])).files
    assert f.status == "loaded"
    assert con.execute("SELECT contract_type, strftime(created_at, '%H:%M') FROM raw.crm_contacts").fetchone() \
        == ("Pro", "09:00")  # 10:00 in Paris in January


def test_real_qualtrics_exports_current_and_legacy(con, landing, tmp_path):
    current = reference_file("qualtrics_export_qualtRics", "sample.csv")
    legacy = reference_file("qualtrics_export_qualtRics", "sample_legacy.csv")
    (landing / "survey").mkdir()
    shutil.copy(current, landing / "survey" / "qualtrics_sample.csv")
    shutil.copy(legacy, landing / "survey" / "qualtrics_legacy_sample.csv")
    # This survey's Q1 is a multiple-choice question and Q2 free text: not NPS/CSAT. A mapping says so.
    d = mapping_dir(tmp_path,
                    q={"extends": "qualtrics_responses", "name": "qualtrics_sample",
                       "files": ["survey/qualtrics_sample*.csv"],
                       "columns": {"nps_score": {"value": None}, "csat_score": {"value": None},
                                   "comment": "Q2"}},
                    ql={"extends": "qualtrics_responses_legacy", "name": "qualtrics_legacy_sample",
                        "files": ["survey/qualtrics_legacy_sample*.csv"],
                        "columns": {"nps_score": {"value": None}, "csat_score": {"value": None}}})
    report = ingest(con, landing, load_specs([BUILTIN, d]))
    assert [(f.status, f.rows_read, f.rows_rejected) for f in report.files] == [("loaded", 1, 0), ("loaded", 1, 0)]
    rows = {f: (r, d, n) for f, r, d, n in con.execute(
        "SELECT _source_file, response_id, strftime(recorded_at, '%Y-%m-%d'), _source_row FROM raw.survey_responses"
    ).fetchall()}
    legacy_id, legacy_day, legacy_row = rows["survey/qualtrics_legacy_sample.csv"]
    assert (legacy_id, legacy_day, legacy_row) == ("R_2YPOQ602ER1jkf1", "2017-07-18", 3)  # BOM, trailing commas
    current_id, current_day, current_row = rows["survey/qualtrics_sample.csv"]
    assert current_id.startswith("R_") and current_day is not None and current_row == 4  # 3 header rows


def test_real_zendesk_api_records(con, landing, specs):
    records = reference_file("zendesk_api_airbyte_sandbox", "expected_records_subset.jsonl")
    (landing / "support").mkdir()
    streams = {"tickets": "zendesk_tickets_sandbox.jsonl", "satisfaction_ratings": "zendesk_satisfaction_ratings_x.jsonl"}
    out = {name: [] for name in streams}
    for line in records.read_text(encoding="utf-8").splitlines():
        record = json.loads(line)
        if record["stream"] in out:  # the API objects, without the connector's envelope
            out[record["stream"]].append(json.dumps(record["data"]))
    for stream, name in streams.items():
        (landing / "support" / name).write_text("\n".join(out[stream]) + "\n", encoding="utf-8")
    report = ingest(con, landing, specs)
    assert {f.source_file: (f.rows_loaded, f.rows_rejected) for f in report.files} == {
        "support/zendesk_tickets_sandbox.jsonl": (len(out["tickets"]), 0),
        "support/zendesk_satisfaction_ratings_x.jsonl": (len(out["satisfaction_ratings"]), 0)}
    ticket_ids = {r[0] for r in con.execute("SELECT ticket_id FROM raw.support_tickets").fetchall()}
    assert ticket_ids == {str(json.loads(t)["id"]) for t in out["tickets"]}
    assert con.execute("SELECT count(*) FROM raw.survey_responses WHERE ticket_reference IS NOT NULL "
                       "AND recorded_at IS NOT NULL").fetchone()[0] == len(out["satisfaction_ratings"])


def _run_with_mappings(tmp_path, files: dict[str, Path], mappings: list[str]):
    import dagster as dg

    from orchestration.pipeline import run_job

    env = make_project_env(tmp_path)
    with _Env(env):
        from ingest.settings import get_settings

        settings = get_settings()
        (settings.data_dir / "mappings").mkdir(parents=True)
        for m in mappings:
            shutil.copy(EXAMPLES / m, settings.data_dir / "mappings" / m)
        for rel, src in files.items():
            (settings.landing_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(src, settings.landing_dir / rel)
        outcome = run_job("full_pipeline", instance=dg.DagsterInstance.get())
        assert outcome.success, outcome
        return duckdb.connect(str(settings.warehouse), read_only=True)


@pytest.mark.slow
def test_churn_export_with_only_a_flag_gives_the_churn_rate_it_implies(tmp_path):
    telco = reference_file("ibm_telco_churn", "Telco-Customer-Churn.csv")
    with _run_with_mappings(tmp_path, {"crm/Telco-Customer-Churn.csv": telco}, ["ibm_telco_churn.yml"]) as con:
        rows = {(d, v): (n, c, rate) for d, v, n, c, rate in con.execute(
            "SELECT dimension, dimension_value, paying_customers, churned_customers, churn_rate "
            "FROM marts.churn_summary").fetchall()}
        # PROVENANCE.md: 1869 of 7043 churned (26.537%); by contract 42.71 / 11.27 / 2.83 %.
        assert rows[("all", "all")][:2] == (7043, 1869)
        assert rows[("all", "all")][2] == pytest.approx(26.537, abs=0.001)
        assert round(rows[("contract_type", "Month-to-month")][2], 2) == 42.71
        assert round(rows[("contract_type", "One year")][2], 2) == 11.27
        assert round(rows[("contract_type", "Two year")][2], 2) == 2.83
        assert con.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0] == 7043


@pytest.mark.slow
def test_reviews_that_name_orders_give_the_csat_the_data_implies(tmp_path):
    folder = reference_file("olist_sample_3000", "olist_orders_dataset.csv").parent
    files = {"crm/olist_customers_dataset.csv": folder / "olist_customers_dataset.csv",
             "crm/olist_orders_dataset.csv": folder / "olist_orders_dataset.csv",
             "survey/olist_order_reviews_dataset.csv": folder / "olist_order_reviews_dataset.csv"}
    with _run_with_mappings(tmp_path, files, ["olist_customers.yml", "olist_orders.yml", "olist_reviews.yml"]) as con:
        # PROVENANCE.md: 2,993 reviews, share of 4-5 = 76.6121%; 2,995 distinct customer_unique_id.
        satisfied, ratings = con.execute("SELECT sum(satisfied), sum(ratings) FROM marts.csat_monthly "
                                         "WHERE dimension = 'all'").fetchone()
        assert ratings == 2993
        assert 100.0 * satisfied / ratings == pytest.approx(76.6121, abs=0.0001)
        assert con.execute("SELECT count(*) FROM marts.customer_360").fetchone()[0] == 2995
        # Every review reached a customer through its order, and the order through the per-order id.
        unresolved = con.execute("SELECT count(*) FROM marts.survey_responses WHERE customer_id IS NULL").fetchone()
        assert unresolved == (0,)
        rules = dict(con.execute("SELECT match_rule, count(*) FROM marts.customer_identity_map "
                                 "WHERE source_entity = 'survey_responses' GROUP BY 1").fetchall())
        assert set(rules) == {"order_ref"}
