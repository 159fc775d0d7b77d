"""Each expectation kind fires on a crafted bad file, with the severity its suite gives it."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from expectations.runner import release_load, validate_pending
from expectations.suite import SuiteError, parse_suite
from ingest.loader import ingest
from tests.test_ingest import CONTACT_HEADER, contact, write_contacts

DEAL_HEADER = ["Record ID", "Deal Name", "Pipeline", "Deal Stage", "Amount", "Create Date", "Close Date",
               "Last Modified Date", "Associated Contact IDs"]
SURVEY_IDS = ["StartDate", "EndDate", "RecordedDate", "ResponseId", "RecipientEmail", "ExternalReference",
              "DistributionChannel", "Q1", "Q2", "Q3", "Q4", "survey_trigger"]


def write_survey(path: Path, rows: list[dict]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(SURVEY_IDS)
        w.writerow(["Start Date", "End Date", "Recorded Date", "Response ID", "Email", "External Reference",
                    "Distribution Channel", "NPS?", "CSAT?", "CES?", "Why?", "survey_trigger"])
        w.writerow([json.dumps({"ImportId": c}) for c in SURVEY_IDS])
        for r in rows:
            base = {"StartDate": "2025-03-01 10:00:00", "EndDate": "2025-03-01 10:01:00",
                    "RecordedDate": "2025-03-01 10:01:00", "RecipientEmail": "a@example.com",
                    "DistributionChannel": "email", "Q1": "9", "Q2": "5", "Q3": "6", "survey_trigger": "relationship"}
            base.update(r)
            w.writerow([base.get(c, "") for c in SURVEY_IDS])
    return path


def write_deals(path: Path, rows: list[list]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(DEAL_HEADER)
        w.writerows(rows)
    return path


def validate(con, landing, specs, entity, **kwargs):
    ingest(con, landing, specs)
    report = validate_pending(con, entity, **kwargs)
    assert len(report.loads) >= 1
    return report.loads[-1]


def failed(load) -> dict[str, tuple[str, int | None]]:
    return {c.expectation: (c.severity, c.unexpected_count) for c in load.failures}


def test_clean_file_passes(con, landing, specs):
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1"), contact("2", email="b@example.com")])
    load = validate(con, landing, specs, "crm_contacts")
    assert load.status == "passed", load.summary()
    status, summary = con.execute("SELECT validation_status, validation_summary FROM ops.load_manifest").fetchone()
    assert (status, summary) == ("passed", "all expectations passed")


def test_keys_not_null_and_unique_within_the_load_are_errors(con, landing, specs):
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1"), contact("1"), contact("")])
    load = validate(con, landing, specs, "crm_contacts")
    assert load.status == "quarantined"
    assert failed(load)["unique(contact_id)"][0] == "error"
    assert failed(load)["not_null(contact_id)"] == ("error", 1)


def test_scores_out_of_range_are_errors(con, landing, specs):
    write_survey(landing / "survey" / "qualtrics_cx_1.csv", [
        {"ResponseId": "R1", "Q1": "11"}, {"ResponseId": "R2", "Q2": "0"}, {"ResponseId": "R3", "Q3": "8"},
        {"ResponseId": "R4"}])
    load = validate(con, landing, specs, "survey_responses")
    assert load.status == "quarantined"
    assert failed(load) == {"between(nps_score)": ("error", 1), "between(csat_score)": ("error", 1),
                            "between(ces_score)": ("error", 1)}
    sample = {c.expectation: c.sample for c in load.failures}
    assert sample["between(nps_score)"] == [11]


def test_allowed_values_error_and_warn(con, landing, specs):
    # A lifecycle stage the suite does not know only warns: CRMs let teams define their own.
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1", **{"Lifecycle Stage": "Alien"})])
    load = validate(con, landing, specs, "crm_contacts")
    assert load.status == "warned" and failed(load) == {"in_set(lifecycle_stage)": ("warn", 1)}

    tickets = landing / "support" / "zendesk_tickets_1.jsonl"
    tickets.parent.mkdir(parents=True)
    tickets.write_text(json.dumps({"id": 1, "created_at": "2025-01-01T00:00:00Z", "status": "open",
                                   "via": {"channel": "carrier pigeon"}, "requester": {"email": "a@b.co"}}) + "\n"
                       + json.dumps({"id": 2, "created_at": "2025-01-01T00:00:00Z", "status": "vanished",
                                     "via": {"channel": "email"}, "requester": {"email": "a@b.co"}}) + "\n")
    load = validate(con, landing, specs, "support_tickets")
    assert load.status == "quarantined"
    assert failed(load) == {"in_set(channel)": ("warn", 1), "in_set(status)": ("error", 1)}


def test_timestamps_in_the_future_or_before_2000_are_errors(con, landing, specs):
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [
        contact("1", created="2099-01-01 00:00"), contact("2", created="1999-12-31 00:00"), contact("3")])
    load = validate(con, landing, specs, "crm_contacts")
    assert failed(load) == {"timestamp_window(created_at)": ("error", 2)}


def test_email_format_is_a_warning(con, landing, specs):
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1", email="not-an-email"), contact("2")])
    load = validate(con, landing, specs, "crm_contacts")
    assert load.status == "warned"
    assert failed(load) == {"email_format(email)": ("warn", 1)}
    assert "not-an-email" in json.dumps(load.failures[0].sample)


def test_reference_to_a_missing_contact_is_a_warning(con, landing, specs):
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1")])
    write_deals(landing / "crm" / "hubspot_deals_1.csv", [
        ["10", "d", "Sales Pipeline", "Closed Won", "100.00", "2025-01-01 00:00", "2025-01-02 00:00", "", "1"],
        ["11", "d", "Sales Pipeline", "Closed Won", "100.00", "2025-01-01 00:00", "2025-01-02 00:00", "", "999"]])
    ingest(con, landing, specs)
    validate_pending(con, "crm_contacts")
    load = validate_pending(con, "crm_deals").loads[0]
    assert load.status == "warned"
    assert failed(load) == {"reference(contact_id)": ("warn", 1)}


def test_empty_load_is_an_error_and_volume_anomaly_a_warning(con, landing, specs):
    write_contacts(landing / "crm" / "hubspot_contacts_0.csv", [])
    load = validate(con, landing, specs, "crm_contacts")
    assert load.status == "quarantined" and failed(load) == {"row_count": ("error", 1)}
    for i in range(1, 4):  # three loads of ten contacts set the usual volume
        write_contacts(landing / "crm" / f"hubspot_contacts_{i}.csv",
                       [contact(str(i * 100 + j), email=f"u{j}@example.com") for j in range(10)])
        assert validate(con, landing, specs, "crm_contacts").status == "passed"
    write_contacts(landing / "crm" / "hubspot_contacts_9.csv",
                   [contact(str(900 + j), email=f"u{j}@example.com") for j in range(40)])
    load = validate(con, landing, specs, "crm_contacts")
    assert load.status == "warned" and failed(load) == {"volume_anomaly": ("warn", 1)}


def test_columns_present_with_types(con, landing, specs, tmp_path):
    suites = tmp_path / "suites"
    suites.mkdir()
    (suites / "crm_contacts.yml").write_text(
        "suite: crm_contacts\nexpectations:\n"
        "  - {kind: columns_present, severity: error, columns: {contact_id: BIGINT, loyalty_tier: VARCHAR}}\n")
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1")])
    load = validate(con, landing, specs, "crm_contacts", suites_dir=suites)
    assert load.status == "quarantined"
    by_gx = {c.gx_expectation: c for c in load.failures}
    assert "loyalty_tier" in json.dumps(by_gx["expect_table_columns_to_match_set"].observed_value) or \
        by_gx["expect_table_columns_to_match_set"].success is False
    assert by_gx["unexpected_rows_expectation"].expectation == "column types"


def test_several_loads_validated_together_keep_per_load_results(con, landing, specs):
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1"), contact("2")])
    write_contacts(landing / "crm" / "hubspot_contacts_2.csv", [contact("1"), contact("2"), contact("2")])
    write_contacts(landing / "crm" / "hubspot_contacts_3.csv", [contact("1"), contact("3")])
    ingest(con, landing, specs)
    report = validate_pending(con, "crm_contacts")
    assert {o.source_file.rsplit("_", 1)[1]: o.status for o in report.loads} == {
        "1.csv": "passed", "2.csv": "quarantined", "3.csv": "passed"}
    rows = con.execute("SELECT load_id, count(*), count(*) FILTER (WHERE NOT success) FROM ops.validation_results "
                       "GROUP BY load_id ORDER BY load_id").fetchall()
    assert [r[2] for r in rows] == [0, 1, 0] and all(r[1] > 5 for r in rows)


def test_release_only_quarantined_loads(con, landing, specs):
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1"), contact("1")])
    write_contacts(landing / "crm" / "hubspot_contacts_2.csv", [contact("2")])
    ingest(con, landing, specs)
    validate_pending(con, "crm_contacts")
    with pytest.raises(ValueError, match="not quarantined"):
        release_load(con, 2)
    with pytest.raises(ValueError, match="no load 99"):
        release_load(con, 99)
    assert "released" in release_load(con, 1, "alice")
    assert con.execute("SELECT validation_status, released_by FROM ops.load_manifest WHERE load_id = 1"
                       ).fetchone() == ("released", "alice")


def test_suite_files_are_checked(tmp_path):
    with pytest.raises(SuiteError, match="unknown kind 'regex'"):
        parse_suite({"suite": "x", "expectations": [{"kind": "regex", "column": "a"}]}, tmp_path / "x.yml")
    with pytest.raises(SuiteError, match="severity must be"):
        parse_suite({"suite": "x", "expectations": [{"kind": "not_null", "column": "a", "severity": "fatal"}]},
                    tmp_path / "x.yml")
    with pytest.raises(SuiteError, match="missing option"):
        parse_suite({"suite": "x", "expectations": [{"kind": "between"}]}, tmp_path / "x.yml")


def test_every_entity_has_a_suite(specs):
    from expectations.suite import load_suite

    for spec in specs:
        suite = load_suite(spec.entity)
        assert suite is not None, f"no suite for {spec.entity}"
        kinds = {e.kind for e in suite.expectations}
        assert {"columns_present", "row_count", "volume_anomaly", "unique"} <= kinds, spec.entity


def test_data_docs_stay_bounded_and_link_to_real_pages(con, landing, specs, data_dir, monkeypatch):
    """GX rebuilt its Data Docs index after every validation, parsing every stored result: each day's
    validation was slower than the last. Now the store keeps the newest CXW_GX_DOCS_KEEP results, the
    run configurations are not kept, and every link recorded for a new load opens a page."""
    import re
    from urllib.parse import unquote, urlparse

    monkeypatch.setenv("CXW_GX_DOCS_KEEP", "3")
    gx_dir = data_dir / "gx"
    for day in range(1, 6):
        write_contacts(landing / "crm" / f"hubspot_contacts_{day}.csv", [contact(str(day)), contact(f"{day}0")])
        load = validate(con, landing, specs, "crm_contacts")
        assert load.status == "passed", load.summary()
        page = Path(unquote(urlparse(load.data_docs).path))
        assert page.is_file() and page.suffix == ".html", load.data_docs
        assert f"crm_contacts-loads-{load.load_id}-{load.load_id}" in page.read_text(encoding="utf-8")

    results = sorted((gx_dir / "uncommitted" / "validations").rglob("*.json"))
    assert len(results) == 3, results
    pages = sorted((gx_dir / "uncommitted" / "data_docs" / "local_site" / "validations").rglob("*.html"))
    assert len(pages) == 3, pages
    index = (gx_dir / "uncommitted" / "data_docs" / "local_site" / "index.html").read_text(encoding="utf-8")
    assert len(set(re.findall(r"crm_contacts-loads-(\d+)-\1", index))) == 3
    assert not list((gx_dir / "checkpoints").glob("*.json")) if (gx_dir / "checkpoints").exists() else True
    assert not list((gx_dir / "validation_definitions").glob("*.json")) \
        if (gx_dir / "validation_definitions").exists() else True
    # Our own record keeps every load's results, whatever the Data Docs keep.
    assert con.execute("SELECT count(DISTINCT load_id) FROM ops.validation_results").fetchone()[0] == 5
