"""The catalog of bad input (docs/RELIABILITY.md): each case, its expected outcome, and a test.

Outcomes: `error` (the file fails with a clear message, its records recorded as rejected when it can
be read at all), `reject` (the bad records are rejected with a reason, the rest load), `quarantine`
(the load lands but validation holds it back), `clean` (it loads), `refused`/`ignored`/`skipped`.
For every file the invariant holds: rows read = rows loaded + rows rejected.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pytest
import yaml

from expectations.runner import validate_pending
from ingest.loader import ingest
from ingest.spec import load_specs
from tests.conftest import REPO
from tests.test_ingest import CONTACT_HEADER

BUILTIN = REPO / "ingest" / "specs"


def rows_text(rows, header=CONTACT_HEADER, delimiter=",", newline="\n") -> str:
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delimiter, lineterminator=newline)
    w.writerow(header)
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def contact_row(record_id="1", first="Ann", email="ann@example.com", created="2025-01-02 10:00", stage="Lead"):
    row = dict.fromkeys(CONTACT_HEADER, "")
    row.update({"Record ID": record_id, "First Name": first, "Email": email, "Create Date": created,
                "Lifecycle Stage": stage})
    return [row[h] for h in CONTACT_HEADER]


CONTACTS = "crm/hubspot_contacts_case.csv"


@dataclass
class Case:
    id: str
    what: str
    files: Callable[[Path, Path], None]  # (landing, mappings folder) -> writes the input
    outcome: str
    loaded: int | None = None
    rejected: int | None = None
    message: str | None = None  # in the error / reject reason
    validation: str | None = None  # status after validation
    check: Callable | None = None


def write(landing: Path, rel: str, data: str | bytes, encoding="utf-8"):
    path = landing / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return path


def mapping(mappings: Path, doc: dict):
    mappings.mkdir(parents=True, exist_ok=True)
    (mappings / f"{doc['name']}.yml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")


def latin_mapping(mappings: Path, encoding: str):
    mapping(mappings, {"extends": "hubspot_contacts", "name": "contacts_legacy_encoding",
                       "files": ["crm/legacy_contacts*.csv"], "reader": {"encoding": encoding}})


CASES = [
    Case("empty-file", "a 0-byte file", lambda l, m: write(l, CONTACTS, b""), "error", message="empty"),
    Case("header-only", "a header and no rows", lambda l, m: write(l, CONTACTS, rows_text([])), "clean",
         loaded=0, rejected=0, validation="quarantined"),
    Case("utf8-bom", "UTF-8 with a byte-order mark", lambda l, m: write(l, CONTACTS, "\ufeff" + rows_text(
        [contact_row()])), "clean", loaded=1, rejected=0),
    Case("latin1-declared", "Latin-1 text, encoding set in a mapping", lambda l, m: (latin_mapping(m, "latin-1"), write(
        l, "crm/legacy_contacts_1.csv", rows_text([contact_row(first="Renée")]), encoding="latin-1")), "clean",
        loaded=1, rejected=0, check=lambda con: con.execute("SELECT first_name FROM raw.crm_contacts").fetchone()[0]
        == "Renée"),
    Case("latin1-undeclared", "Latin-1 bytes in a file read as UTF-8", lambda l, m: write(
        l, CONTACTS, rows_text([contact_row("1", first="Renée"), contact_row("2", first="Bob")]), encoding="latin-1"),
        "reject", loaded=1, rejected=1, message="not utf-8"),
    Case("cp1252", "Windows-1252 (curly quotes, euro sign), encoding set in a mapping", lambda l, m: (
        latin_mapping(m, "cp1252"), write(l, "crm/legacy_contacts_1.csv", rows_text(
            [contact_row(first="“Zoë” €")]), encoding="cp1252")), "clean", loaded=1, rejected=0,
        check=lambda con: con.execute("SELECT first_name FROM raw.crm_contacts").fetchone()[0] == "“Zoë” €"),
    Case("utf16", "UTF-16 with BOM, encoding set in a mapping", lambda l, m: (latin_mapping(m, "utf-16"), write(
        l, "crm/legacy_contacts_1.csv", rows_text([contact_row(first="Ünal")]), encoding="utf-16")), "clean",
        loaded=1, rejected=0),
    Case("wrong-delimiter", "semicolons where the layout expects commas", lambda l, m: write(
        l, CONTACTS, rows_text([contact_row()], delimiter=";")), "error", rejected=1, message="'Record ID'"),
    Case("quoted-newlines", "values with line breaks inside quotes", lambda l, m: write(
        l, CONTACTS, rows_text([contact_row("1", first="Ann\nMarie"), contact_row("2")])), "clean", loaded=2,
        rejected=0, check=lambda con: con.execute("SELECT _source_row FROM raw.crm_contacts WHERE contact_id = '2'"
                                                  ).fetchone()[0] == 3),
    Case("ragged-long", "a row with more fields than the header", lambda l, m: write(
        l, CONTACTS, rows_text([contact_row("1"), contact_row("2") + ["stray"]])), "reject", loaded=1, rejected=1,
        message="TOO MANY COLUMNS"),
    Case("ragged-short", "a row with fewer fields than the header", lambda l, m: write(
        l, CONTACTS, rows_text([contact_row("1"), ["2", "Bob"]])), "reject", loaded=1, rejected=1,
        message="MISSING COLUMNS"),
    Case("trailing-delimiter", "lines ending in an empty extra field (a trailing comma)", lambda l, m: write(
        l, CONTACTS, rows_text([contact_row("1")]).replace("\n", ",\n")), "clean", loaded=1, rejected=0),
    Case("extra-column", "a column no layout reads", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row() + ["x"]], header=CONTACT_HEADER + ["Favourite colour"])), "clean", loaded=1, rejected=0),
    Case("missing-required-column", "the Record ID column is missing", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row()[1:]], header=CONTACT_HEADER[1:])), "error", loaded=0, rejected=1,
        message="'Record ID' (field crm_contacts.contact_id) missing"),
    Case("missing-optional-column", "an optional column is missing", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row()[:-1]], header=CONTACT_HEADER[:-1])), "clean", loaded=1, rejected=0,
        check=lambda con: "cancelled_at" in con.execute("SELECT missing_columns FROM ops.load_manifest").fetchone()[0]),
    Case("renamed-column", "a column renamed by the vendor (E-mail for Email)", lambda l, m: write(
        l, CONTACTS, rows_text([contact_row()], header=[h if h != "Email" else "E-mail" for h in CONTACT_HEADER])),
        "clean", loaded=1, rejected=0,
        check=lambda con: "email" in con.execute("SELECT missing_columns FROM ops.load_manifest").fetchone()[0].split(", ")),
    Case("duplicated-column", "the Email column twice", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row() + ["b@example.com"]], header=CONTACT_HEADER + ["Email"])), "error", rejected=1,
        message="appears 2 times"),
    Case("wrong-type", "text in a date column", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row("1"), contact_row("2", created="next Tuesday")])), "reject", loaded=1, rejected=1,
        message="cannot read 'next Tuesday' as TIMESTAMP"),
    Case("score-out-of-range", "an NPS of 11", lambda l, m: write(l, "survey/qualtrics_case.csv", qualtrics_text(
        [{"ResponseId": "R1", "Q1": "11"}])), "quarantine", loaded=1, rejected=0, validation="quarantined"),
    Case("future-timestamp", "a contact created in 2099", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row(created="2099-01-01 00:00")])), "quarantine", loaded=1, validation="quarantined"),
    Case("ancient-timestamp", "a contact created in 1970", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row(created="1970-01-01 00:00")])), "quarantine", loaded=1, validation="quarantined"),
    Case("duplicate-key-in-file", "the same Record ID twice in one file", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row("1"), contact_row("1")])), "quarantine", loaded=2, validation="quarantined"),
    Case("duplicate-key-across-files", "the same Record ID in two exports", lambda l, m: (
        write(l, "crm/hubspot_contacts_a.csv", rows_text([contact_row("1", first="Old")])),
        write(l, "crm/hubspot_contacts_b.csv", rows_text([contact_row("1", first="New")]))), "clean",
        loaded=2, rejected=0, validation="passed"),
    Case("huge-field", "a 9 MB field", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row("1"), contact_row("2", first="x" * 9_000_000)])), "reject", loaded=1, rejected=1,
        message="LINE SIZE"),
    Case("binary-garbage", "random bytes under a .csv name", lambda l, m: write(
        l, CONTACTS, bytes(range(256)) * 64), "error", message="binary content"),
    Case("gzip", "a gzip-compressed export", lambda l, m: write(l, CONTACTS + ".gz", gzip.compress(
        rows_text([contact_row("1"), contact_row("2")]).encode())), "clean", loaded=2, rejected=0),
    Case("broken-gzip", "a truncated gzip file", lambda l, m: write(l, CONTACTS + ".gz", gzip.compress(
        rows_text([contact_row("1")] * 50).encode())[:60]), "error", message="cannot read"),
    Case("hostile-file-name", "a file name with quotes, semicolons and SQL", lambda l, m: write(
        l, "crm/hubspot_contacts_x'); DROP TABLE raw.crm_contacts;--.csv", rows_text([contact_row()])), "clean",
        loaded=1, rejected=0),
    Case("dotdot-file-name", "a file name with '..'", lambda l, m: write(
        l, "crm/hubspot_contacts_..evil...csv", rows_text([contact_row()])), "clean", loaded=1, rejected=0),
    Case("sql-in-header", "a header that is SQL", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row() + ["1"]], header=CONTACT_HEADER + ['x" VARCHAR); DROP TABLE ops.load_manifest; --'])),
        "clean", loaded=1, rejected=0),
    Case("symlink-outside", "a symlink to a file outside the landing folder", lambda l, m: symlink_out(l),
         "refused", message="outside the landing folder"),
    Case("formula-cells", "spreadsheet formulas in text (=HYPERLINK, +cmd, @SUM)", lambda l, m: write(
        l, CONTACTS, rows_text([contact_row("1", first='=HYPERLINK("http://x","y")'), contact_row("2", first="+cmd"),
                                contact_row("3", first="@SUM(A1)")])), "clean", loaded=3, rejected=0,
        check=lambda con: con.execute("SELECT count(*) FROM raw.crm_contacts WHERE first_name LIKE '=%' "
                                      "OR first_name LIKE '+%' OR first_name LIKE '@%'").fetchone()[0] == 3),
    Case("crlf-and-blank-lines", "Windows line endings and blank lines", lambda l, m: write(l, CONTACTS, rows_text(
        [contact_row("1"), contact_row("2")], newline="\r\n").replace("\r\n", "\r\n\r\n", 1)), "clean", loaded=2,
        rejected=0),
    Case("unterminated-quote", "a quote that never closes", lambda l, m: write(
        l, CONTACTS, rows_text([contact_row("1")]) + '2,"Bob,B,bob@example.com\n3,Cy,C,cy@example.com\n'),
        "reject", loaded=1, rejected=1, message="unterminated quote"),
    Case("invalid-json-line", "a truncated JSON line", lambda l, m: write(
        l, "support/zendesk_tickets_case.jsonl", json.dumps(ticket(1)) + "\n" + '{"id": 2, "created_at' + "\n"),
        "reject", loaded=1, rejected=1, message="not valid JSON"),
    Case("json-not-object", "a JSON line that is an array", lambda l, m: write(
        l, "support/zendesk_tickets_case.jsonl", json.dumps(ticket(1)) + "\n[1, 2]\n"), "reject", loaded=1,
        rejected=1, message="not a JSON object"),
    Case("unknown-file", "a spreadsheet no layout reads", lambda l, m: write(l, "crm/pipeline.xlsx", b"PK\x03\x04"),
         "error", message="no source spec matches"),
    Case("partial-download", "a file still downloading (.part, .crdownload)", lambda l, m: (
        write(l, CONTACTS + ".part", rows_text([contact_row()])),
        write(l, "crm/hubspot_contacts_2.csv.crdownload", b"Record")), "ignored"),
]


def qualtrics_text(rows):
    ids = ["StartDate", "EndDate", "RecordedDate", "ResponseId", "Q1", "Q2", "Q3"]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(ids)
    w.writerow(["Start", "End", "Recorded", "Response ID", "NPS?", "CSAT?", "CES?"])
    w.writerow([json.dumps({"ImportId": i}) for i in ids])
    for r in rows:
        base = {"StartDate": "2025-03-01 10:00:00", "EndDate": "2025-03-01 10:01:00",
                "RecordedDate": "2025-03-01 10:01:00"} | r
        w.writerow([base.get(i, "") for i in ids])
    return buf.getvalue()


def ticket(i):
    return {"id": i, "created_at": "2025-01-01T00:00:00Z", "status": "open", "via": {"channel": "email"},
            "requester": {"email": "a@example.com"}}


def symlink_out(landing: Path):
    outside = landing.parent / "outside.csv"
    outside.write_text(rows_text([contact_row()]))
    (landing / "crm").mkdir(parents=True, exist_ok=True)
    os.symlink(outside, landing / CONTACTS)


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input(case: Case, con, landing, tmp_path):
    mappings = tmp_path / "mappings"
    case.files(landing, mappings)
    specs = load_specs([BUILTIN, mappings])
    report = ingest(con, landing, specs)
    files = [f for f in report.files]
    if case.outcome == "ignored":
        assert files == []
        return
    assert files, "the file was not even recorded"
    for f in files:  # nothing is lost: every record is loaded or rejected with a reason
        if f.rows_read is not None:
            assert f.rows_read == f.rows_loaded + f.rows_rejected, f
    f = files[-1]
    if case.outcome in ("error", "refused"):
        assert f.status == "failed", f
        assert case.message.lower() in f.error.lower(), f.error
    else:
        assert f.status == "loaded", f
    if case.loaded is not None:
        assert sum(x.rows_loaded or 0 for x in files) == case.loaded, files
    if case.rejected is not None:
        assert sum(x.rows_rejected or 0 for x in files) == case.rejected, files
    if case.outcome == "reject":
        reasons = [r[0] for r in con.execute("SELECT reason FROM ops.load_rejects").fetchall()]
        assert any(case.message.lower() in r.lower() for r in reasons), reasons
    rejected_rows = con.execute("SELECT count(*), count(*) FILTER (WHERE reason IS NULL OR source_row IS NULL) "
                                "FROM ops.load_rejects").fetchone()
    assert rejected_rows[1] == 0, "every rejected row has a reason and a row number"
    if case.validation:
        for entity in {x.entity for x in files if x.entity}:
            validate_pending(con, entity)
        statuses = {r[0] for r in con.execute("SELECT validation_status FROM ops.load_manifest "
                                              "WHERE status = 'loaded'").fetchall()}
        assert case.validation in statuses, statuses
    if case.check:
        assert case.check(con)


def test_the_catalog_is_documented():
    doc = (REPO / "docs" / "RELIABILITY.md").read_text(encoding="utf-8")
    missing = [c.id for c in CASES if f"`{c.id}`" not in doc]
    assert not missing, f"docs/RELIABILITY.md lacks {missing}"
    assert len(CASES) >= 30
