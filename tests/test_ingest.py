"""Raw ingest on hand-made files: typing, rejects with reasons, idempotency, versions, hostile names."""

from __future__ import annotations

import csv
import time
import json
from pathlib import Path

import duckdb
import pytest

from ingest import loader
from ingest.loader import ingest

CONTACT_HEADER = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Lifecycle Stage", "Lead Status",
                  "Original Source", "Original Source Drill-Down 1", "Original Source Drill-Down 2", "Create Date",
                  "Last Modified Date", "Became a Customer Date", "Cancellation Date"]


def contact(record_id, email="a@example.com", created="2025-01-02 10:00", **extra):
    row = dict.fromkeys(CONTACT_HEADER, "")
    row.update({"Record ID": record_id, "Email": email, "Create Date": created, "Lifecycle Stage": "Lead"})
    row.update(extra)
    return row


def write_contacts(path: Path, rows, header=CONTACT_HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(h, "") for h in header] if isinstance(r, dict) else r)
    return path


def manifest(con):
    return con.execute("SELECT source_file, status, rows_read, rows_loaded, rows_rejected, error, superseded_by "
                       "FROM ops.load_manifest ORDER BY load_id").fetchall()


def test_types_timezones_and_lineage(con, landing, specs):
    write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [
        contact("101", created="2025-01-02 10:00"),  # New York wall-clock time -> 15:00 UTC
        contact("102", created="2025-07-02T10:00:00Z"),
        contact("103", created="2025-07-02T10:00:00+02:00", **{"Cancellation Date": "07/04/2025 09:30"}),
    ])
    report = ingest(con, landing, specs)
    assert [f.status for f in report.files] == ["loaded"]
    rows = con.execute("SELECT contact_id, strftime(created_at, '%Y-%m-%d %H:%M'), strftime(cancelled_at, "
                       "'%Y-%m-%d %H:%M'), _source_file, _source_row, _load_id FROM raw.crm_contacts "
                       "ORDER BY contact_id").fetchall()
    assert rows == [
        ("101", "2025-01-02 15:00", None, "crm/hubspot_contacts_1.csv", 2, 1),
        ("102", "2025-07-02 10:00", None, "crm/hubspot_contacts_1.csv", 3, 1),
        ("103", "2025-07-02 08:00", "2025-07-04 13:30", "crm/hubspot_contacts_1.csv", 4, 1),
    ]


def test_malformed_rows_are_rejected_with_reasons_and_good_rows_load(con, landing, specs):
    path = landing / "crm" / "hubspot_contacts_bad.csv"
    path.parent.mkdir(parents=True)
    header = ",".join(CONTACT_HEADER)
    path.write_text(
        header + "\n"
        "1,Ann,\"Lee\nJunior\",ann@example.com,,Lead,,,,,2025-01-02 10:00,,,\n"   # record 2, quoted newline
        "2,Bob,B,bob@example.com,,Lead,,,,,2025-01-02 10:00,,,,EXTRA\n"         # record 3, ragged
        "3,Cy,C,cy@example.com,,Lead,,,,,31/31/2025,,,\n"                      # record 4, bad date
        "4,Di,D,di@example.com,,Lead,,,,,2025-13-02 10:00,,,\n"               # record 5, month 13
        "5,Ed,E,ed@example.com,,Lead,,,,,2025-01-02 10:00,,,\n",               # record 6
        encoding="utf-8")
    report = ingest(con, landing, specs)
    f = report.files[0]
    assert (f.status, f.rows_read, f.rows_loaded, f.rows_rejected) == ("loaded", 5, 2, 3)
    assert con.execute("SELECT contact_id, _source_row FROM raw.crm_contacts ORDER BY 1").fetchall() == [("1", 2), ("5", 6)]
    rejects = con.execute("SELECT source_row, column_name, reason, raw_record FROM ops.load_rejects "
                          "ORDER BY source_row").fetchall()
    assert [r[0] for r in rejects] == [3, 4, 5]
    assert "TOO MANY COLUMNS" in rejects[0][2] and "EXTRA" in rejects[0][3]
    assert rejects[1][1] == "Create Date" and "'31/31/2025' as TIMESTAMP" in rejects[1][2]
    assert rejects[2][1] == "Create Date" and "'2025-13-02 10:00' as TIMESTAMP" in rejects[2][2]
    assert json.loads(rejects[2][3])["First Name"] == "Di"


def test_jsonl_bad_lines_are_rejected_by_line_number(con, landing, specs):
    path = landing / "support" / "zendesk_tickets_2025-01.jsonl"
    path.parent.mkdir(parents=True)
    good = {"id": 1, "created_at": "2025-01-01T00:00:00Z", "status": "open", "via": {"channel": "email"},
            "requester": {"email": " A@Example.com"}, "metric_set": {"reply_time_in_minutes": {"calendar": 42}}}
    path.write_text("\n".join([
        json.dumps(good),
        '{"id": 2, "created_at": "2025-01-0',                         # truncated
        json.dumps({**good, "id": 3, "metric_set": {"reply_time_in_minutes": {"calendar": "soon"}}}),
        "[1, 2]",                                                      # not an object
        json.dumps({**good, "id": 5, "created_at": "2025-01-01T03:00:00-05:00"}),
    ]) + "\n", encoding="utf-8")
    f = ingest(con, landing, specs).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (5, 2, 3)
    assert con.execute("SELECT ticket_id, requester_email, first_reply_minutes, strftime(created_at, '%H:%M'), "
                       "_source_row FROM raw.support_tickets ORDER BY 1").fetchall() == [
        ("1", " A@Example.com", 42, "00:00", 1), ("5", " A@Example.com", 42, "08:00", 5)]
    assert con.execute("SELECT source_row, reason FROM ops.load_rejects ORDER BY 1").fetchall() == [
        (2, "line is not valid JSON"), (3, "column $.metric_set.reply_time_in_minutes.calendar: cannot read "
                                           "'soon' as BIGINT"),
        (4, "line is not a JSON object")]


def test_second_run_loads_nothing_and_changed_file_is_a_new_version(con, landing, specs):
    path = write_contacts(landing / "crm" / "hubspot_contacts_1.csv", [contact("1"), contact("2")])
    ingest(con, landing, specs)
    before = manifest(con)
    report = ingest(con, landing, specs)
    assert [f.status for f in report.files] == ["skipped"]
    assert manifest(con) == before
    assert con.execute("SELECT count(*) FROM raw.crm_contacts").fetchone()[0] == 2

    write_contacts(path, [contact("1"), contact("2"), contact("3")])
    report = ingest(con, landing, specs)
    assert [f.status for f in report.files] == ["loaded"]
    assert manifest(con) == [
        ("crm/hubspot_contacts_1.csv", "loaded", 2, 2, 0, None, 2),
        ("crm/hubspot_contacts_1.csv", "loaded", 3, 3, 0, None, None),
    ]
    # Raw keeps both versions (nothing is deleted); staging reads only the newest.
    assert con.execute("SELECT _load_id, count(*) FROM raw.crm_contacts GROUP BY 1 ORDER BY 1").fetchall() == [
        (1, 2), (2, 3)]


def test_missing_required_column_fails_the_file_names_the_column_and_keeps_other_files(con, landing, specs):
    header = [h for h in CONTACT_HEADER if h != "Create Date"]
    write_contacts(landing / "crm" / "hubspot_contacts_a.csv", [contact("1"), contact("2")], header=header)
    write_contacts(landing / "crm" / "hubspot_contacts_b.csv", [contact("3")])
    (landing / "crm" / "mystery_export.xlsx").write_bytes(b"PK\x03\x04not really")
    report = ingest(con, landing, specs)
    by_file = {f.source_file: f for f in report.files}
    bad = by_file["crm/hubspot_contacts_a.csv"]
    assert bad.status == "failed"
    assert "hubspot_contacts_a.csv" in bad.error and "'Create Date' (field crm_contacts.created_at)" in bad.error
    # Nothing is lost: both records are recorded as rejected with the file-level reason.
    assert (bad.rows_read, bad.rows_loaded, bad.rows_rejected) == (2, 0, 2)
    assert by_file["crm/hubspot_contacts_b.csv"].status == "loaded"
    unknown = by_file["crm/mystery_export.xlsx"]
    assert unknown.status == "failed" and "no source spec matches" in unknown.error
    assert con.execute("SELECT count(*) FROM raw.crm_contacts").fetchone()[0] == 1


def test_empty_and_header_only_files(con, landing, specs):
    (landing / "crm").mkdir()
    (landing / "crm" / "hubspot_contacts_empty.csv").write_bytes(b"")
    write_contacts(landing / "crm" / "hubspot_contacts_header.csv", [])
    by_file = {f.source_file: f for f in ingest(con, landing, specs).files}
    assert by_file["crm/hubspot_contacts_empty.csv"].status == "failed"
    assert "empty" in by_file["crm/hubspot_contacts_empty.csv"].error
    assert (by_file["crm/hubspot_contacts_header.csv"].status, by_file["crm/hubspot_contacts_header.csv"].rows_read) \
        == ("loaded", 0)


@pytest.mark.parametrize("name", [
    "hubspot_contacts_x'); DROP TABLE raw.crm_contacts;--.csv",
    'hubspot_contacts_"quoted";.csv',
])
def test_hostile_file_names_and_headers_are_just_names(con, landing, specs, name):
    write_contacts(landing / "crm" / "hubspot_contacts_0.csv", [contact("1")])
    header = CONTACT_HEADER + ["x\"); DROP TABLE raw.crm_contacts; --"]
    write_contacts(landing / "crm" / name, [contact("2") | {header[-1]: "'; DELETE FROM ops.load_manifest; --"}],
                   header=header)
    report = ingest(con, landing, specs)
    assert {f.status for f in report.files} == {"loaded"}
    assert con.execute("SELECT count(*) FROM raw.crm_contacts").fetchone()[0] == 2
    assert con.execute("SELECT count(*) FROM ops.load_manifest").fetchone()[0] == 2
    assert con.execute("SELECT _source_file FROM raw.crm_contacts WHERE contact_id = '2'").fetchone()[0] == f"crm/{name}"


def test_symlink_outside_landing_is_refused(con, landing, specs, tmp_path):
    outside = write_contacts(tmp_path / "elsewhere.csv", [contact("1")])
    (landing / "crm").mkdir()
    (landing / "crm" / "hubspot_contacts_link.csv").symlink_to(outside)
    f = ingest(con, landing, specs).files[0]
    assert f.status == "failed" and "outside the landing folder" in f.error
    assert con.execute("SELECT count(*) FROM raw.crm_contacts").fetchone()[0] == 0


def test_qualtrics_three_header_rows(con, landing, specs):
    path = landing / "survey" / "qualtrics_cx_2025-01.csv"
    path.parent.mkdir(parents=True)
    ids = ["StartDate", "EndDate", "RecordedDate", "ResponseId", "RecipientEmail", "ExternalReference", "Q1", "Q2",
           "Q3", "Q4", "Finished"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(ids)
        w.writerow(["Start Date", "End Date", "Recorded Date", "Response ID", "Recipient Email", "External Data",
                    "How likely are you to recommend Acme?", "How satisfied?", "Easy?", "Why, \"really\"?\n",
                    "Finished"])
        w.writerow([json.dumps({"ImportId": i}) for i in ids])
        w.writerow(["2025-01-05 10:00:00", "2025-01-05 10:05:00", "2025-01-05 10:05:00", "R_1", "a@b.co", "", "9",
                    "5", "6", "fine, thanks", "1"])
        w.writerow(["2025-01-31 23:00:00", "2025-01-31 23:05:00", "2025-01-31 23:05:00", "R_2", "", "77", "ten", "",
                    "", "", "1"])
    f = ingest(con, landing, specs).files[0]
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (2, 1, 1)
    # Denver wall-clock time to UTC; record numbers count the three header rows.
    assert con.execute("SELECT response_id, nps_score, csat_score, ces_score, strftime(recorded_at, '%Y-%m-%d %H:%M'), "
                       "_source_row FROM raw.survey_responses").fetchall() == [
        ("R_1", 9, 5, 6, "2025-01-05 17:05", 4)]
    assert con.execute("SELECT source_row, column_name FROM ops.load_rejects").fetchall() == [(5, "Q1")]


@pytest.mark.parametrize("batch_mb", ["512", "0"])
def test_a_file_duckdb_fails_on_mid_read_is_recorded_and_the_rest_of_its_batch_loads(
        con, landing, specs, tmp_path, monkeypatch, batch_mb):
    """Files of one entity share a transaction; a gzip export cut off after its header passes planning
    and fails inside DuckDB's reader. The batch rolls back and is retried file by file: the good files
    load once each, the broken one is recorded as failed with DuckDB's reason."""
    import gzip

    monkeypatch.setenv("CXW_INGEST_BATCH_MB", batch_mb)
    write_contacts(landing / "crm" / "hubspot_contacts_a.csv", [contact(str(i), f"a{i}@x.com") for i in range(1, 4)])
    full = write_contacts(tmp_path / "big.csv", [contact(str(i), f"b{i}@x.com") for i in range(10, 20_000)])
    data = gzip.compress(full.read_bytes())
    (landing / "crm" / "hubspot_contacts_b.csv.gz").write_bytes(data[: len(data) * 2 // 3])
    write_contacts(landing / "crm" / "hubspot_contacts_c.csv", [contact(str(i), f"c{i}@x.com") for i in range(30, 35)])

    report = ingest(con, landing, specs)
    assert [(f.source_file, f.status) for f in report.files] == [
        ("crm/hubspot_contacts_a.csv", "loaded"), ("crm/hubspot_contacts_b.csv.gz", "failed"),
        ("crm/hubspot_contacts_c.csv", "loaded")]
    rows = manifest(con)
    assert [r[:5] for r in rows] == [
        ("crm/hubspot_contacts_a.csv", "loaded", 3, 3, 0), ("crm/hubspot_contacts_b.csv.gz", "failed", None, None, None),
        ("crm/hubspot_contacts_c.csv", "loaded", 5, 5, 0)]
    assert "hubspot_contacts_b.csv.gz" in rows[1][5] and "GZIP" in rows[1][5]
    assert con.execute("SELECT _source_file, count(*) FROM raw.crm_contacts GROUP BY ALL ORDER BY 1").fetchall() == [
        ("crm/hubspot_contacts_a.csv", 3), ("crm/hubspot_contacts_c.csv", 5)]
    assert con.execute("SELECT count(*) FROM ops.load_rejects").fetchone()[0] == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_one_entity_s_files_share_a_transaction_up_to_the_batch_size(con, landing, specs, monkeypatch, workers):
    """Batching is by entity and size: a commit per batch, never a file split across two. With batches
    loading at once (each on its own connection), they still commit in file order."""
    commits = []

    class Counting:
        def __init__(self, c):
            self._c = c

        def commit(self):  # the newest load the committing transaction sees: its own last file
            commits.append(self._c.execute("SELECT max(load_id) FROM ops.load_manifest").fetchone()[0])
            return self._c.commit()

        def cursor(self):  # the connections the batches load on
            return Counting(self._c.cursor())

        def __getattr__(self, name):
            return getattr(self._c, name)

    for i in range(4):  # each ~1 KB
        write_contacts(landing / "crm" / f"hubspot_contacts_{i}.csv", [contact(str(10 * i + j), f"{i}{j}@x.com")
                                                                       for j in range(5)])
    write_contacts(landing / "crm" / "hubspot_deals_x.csv", [["1", "d", "1", "closedwon", "10", "2025-01-01"]],
                   header=["Record ID", "Deal Name", "Associated Contact IDs", "Deal Stage", "Amount", "Create Date"])
    sizes = sorted((landing / "crm").glob("hubspot_contacts_*.csv"))
    monkeypatch.setenv("CXW_INGEST_BATCH_MB", str(2.5 * sizes[0].stat().st_size / 1e6))  # two contact files per batch
    real_append = loader._append_file

    def slow_first_file(c, item, *args):  # the first batch finishes last unless the commits wait for it
        if item.load_id == 1:
            time.sleep(1.0)
        return real_append(c, item, *args)

    monkeypatch.setattr(loader, "_append_file", slow_first_file)
    report = ingest(Counting(con), landing, specs, workers=workers)
    assert [f.status for f in report.files] == ["loaded"] * 5, report.files
    # batches in commit order: 2 contacts files, 2 more, then the deals file alone
    assert commits == [2, 4, 5]
    assert [(f.source_file, f.load_id) for f in report.files] == con.execute(
        "SELECT source_file, load_id FROM ops.load_manifest ORDER BY load_id").fetchall()
    assert [f.load_id for f in report.files] == [1, 2, 3, 4, 5]


@pytest.mark.parametrize("inline_limit", [1024, 0])
def test_record_numbers_count_structurally_rejected_lines_before_them(con, landing, specs, monkeypatch,
                                                                      inline_limit):
    """200 ragged lines among good ones: every loaded row and every reject keeps its own record number,
    whether the count of rejects before a row comes from the inline search (few rejects) or the ASOF join."""
    from ingest import loader

    monkeypatch.setattr(loader, "INLINE_THRESHOLDS", inline_limit)
    rows, expected_good, expected_bad = [], {}, []
    for i in range(600):
        record_no = len(rows) + 2  # the header is record 1
        if i % 3 == 1:  # one extra field: a structural reject
            rows.append([str(i), "F", "L", f"u{i}@x.com"] + [""] * (len(CONTACT_HEADER) - 4) + ["extra"])
            expected_bad.append(record_no)
        else:
            rows.append(contact(str(i), f"u{i}@x.com"))
            expected_good[str(i)] = record_no
    write_contacts(landing / "crm" / "hubspot_contacts_ragged.csv", rows)
    (f,) = ingest(con, landing, specs).files
    assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (600, 400, 200)
    assert dict(con.execute("SELECT contact_id, _source_row FROM raw.crm_contacts").fetchall()) == expected_good
    assert [r[0] for r in con.execute("SELECT source_row FROM ops.load_rejects ORDER BY 1").fetchall()] == expected_bad


def test_inline_count_of_rejects_before_a_record_matches_a_plain_count():
    """The unrolled binary search counts the thresholds below each value, with repeated thresholds (runs of
    consecutive bad records) and values on, before and past every threshold."""
    import random

    import duckdb

    from ingest.loader import _count_below

    rng = random.Random(7)
    con = duckdb.connect()
    for n in (1, 2, 3, 7, 64, 1000):
        thresholds = sorted(rng.choice(range(0, 300)) for _ in range(n))
        expr = _count_below(thresholds, "v")
        got = con.execute(f"SELECT v, {expr} FROM range(-1, 302) t(v) ORDER BY v").fetchall()
        assert got == [(v, sum(t < v for t in thresholds)) for v in range(-1, 302)], n


def test_a_batch_failing_with_a_warehouse_error_keeps_the_ones_before_and_stops_the_ones_after(
        con, landing, specs, monkeypatch):
    """Two batches at once, one file each: the second fails with an error that is not the file's. The
    first still commits, the third rolls back, and the run raises the second's own error."""
    for i in range(3):
        write_contacts(landing / "crm" / f"hubspot_contacts_{i}.csv", [contact(str(10 * i + j)) for j in range(3)])
    monkeypatch.setenv("CXW_INGEST_BATCH_MB", "0")
    real_append = loader._append_file

    def failing(c, item, *args):
        if item.load_id == 1:
            time.sleep(0.5)  # the second batch fails while the first is still loading
        if item.load_id == 2:
            raise RuntimeError("disk on fire")
        return real_append(c, item, *args)

    monkeypatch.setattr(loader, "_append_file", failing)
    with pytest.raises(RuntimeError, match="disk on fire"):
        ingest(con, landing, specs, workers=2)
    assert con.execute("SELECT load_id, source_file, status FROM ops.load_manifest").fetchall() == [
        (1, "crm/hubspot_contacts_0.csv", "loaded")]
    assert con.execute("SELECT count(*) FROM raw.crm_contacts").fetchone()[0] == 3

    monkeypatch.setattr(loader, "_append_file", real_append)  # the next run loads the rest, in file order
    assert [f.status for f in ingest(con, landing, specs, workers=2).files] == ["skipped", "loaded", "loaded"]
    assert con.execute("SELECT load_id, source_file FROM ops.load_manifest ORDER BY 1").fetchall() == [
        (1, "crm/hubspot_contacts_0.csv"), (2, "crm/hubspot_contacts_1.csv"), (3, "crm/hubspot_contacts_2.csv")]


@pytest.mark.parametrize("workers", [1, 2])
def test_out_of_memory_fails_the_run_instead_of_the_file(con, landing, specs, monkeypatch, workers):
    """The memory limit is the warehouse's problem, not the file's: the file is not recorded as failed
    (which would skip it on later runs), and the next run loads it."""
    write_contacts(landing / "crm" / "hubspot_contacts_0.csv", [contact("1")])
    real_append = loader._append_file

    def out_of_memory(*args):
        raise duckdb.OutOfMemoryException("Out of Memory Error: could not allocate block of size 256 KiB")

    monkeypatch.setattr(loader, "_append_file", out_of_memory)
    with pytest.raises(duckdb.OutOfMemoryException):
        ingest(con, landing, specs, workers=workers)
    assert con.execute("SELECT count(*) FROM ops.load_manifest").fetchone()[0] == 0
    monkeypatch.setattr(loader, "_append_file", real_append)
    assert [f.status for f in ingest(con, landing, specs, workers=workers).files] == ["loaded"]
