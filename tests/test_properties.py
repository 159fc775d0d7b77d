"""Property-based tests: generated exports, valid rows mixed with random corruption, through the
readers and the mapping layer. For any input the reconciliation invariant holds and nothing escapes
without a recorded reason."""

from __future__ import annotations

import csv
import io
import json
import tempfile
from decimal import Decimal
from pathlib import Path

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingest.loader import ingest
from ingest.spec import load_specs, parse_spec
from tests.conftest import REPO
from tests.test_ingest import CONTACT_HEADER

SPECS = load_specs([REPO / "ingest" / "specs"])
SETTINGS = settings(max_examples=int(__import__("os").environ.get("CXW_HYPOTHESIS_EXAMPLES", "40")), deadline=None, suppress_health_check=[HealthCheck.too_slow])

text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=30)
valid_date = st.datetimes(min_value=__import__("datetime").datetime(2001, 1, 1),
                          max_value=__import__("datetime").datetime(2030, 1, 1)).map(
    lambda d: d.strftime("%Y-%m-%d %H:%M"))
bad_date = st.sampled_from(["31/31/2025", "yesterday", "2025-13-01 10:00", "0000-00-00", "12:00"])


def run(files: dict[str, bytes]):
    """Ingest the files into a fresh in-memory warehouse; return the report and the connection."""
    tmp = tempfile.TemporaryDirectory()
    landing = Path(tmp.name) / "landing"
    for rel, data in files.items():
        (landing / rel).parent.mkdir(parents=True, exist_ok=True)
        (landing / rel).write_bytes(data)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    report = ingest(con, landing, SPECS)
    return report, con, tmp


def invariants(report, con):
    for f in report.files:
        assert f.status in ("loaded", "failed")
        if f.rows_read is not None:
            assert f.rows_read == f.rows_loaded + f.rows_rejected, f
        else:
            assert f.status == "failed" and f.error, f
    manifest = con.execute("SELECT count(*) FROM ops.load_manifest").fetchone()[0]
    assert manifest == len(report.files)
    missing_reason = con.execute("SELECT count(*) FROM ops.load_rejects WHERE reason IS NULL OR reason = '' "
                                 "OR source_row IS NULL").fetchone()[0]
    assert missing_reason == 0


@st.composite
def contact_rows(draw):
    """Rows written by a CSV writer (so well-formed), each valid or with one bad value."""
    rows, expected_bad = [], []
    n = draw(st.integers(0, 15))
    for i in range(n):
        bad = draw(st.booleans())
        row = dict.fromkeys(CONTACT_HEADER, "")
        row["Record ID"] = str(i + 1)
        row["First Name"] = draw(text)
        row["Email"] = draw(text)
        row["Create Date"] = draw(bad_date) if bad else draw(valid_date)
        rows.append([row[h] for h in CONTACT_HEADER])
        if bad:
            expected_bad.append(i + 2)  # record number, header row counted
    return rows, expected_bad


@SETTINGS
@given(contact_rows())
def test_well_formed_csv_loads_every_valid_row_and_rejects_each_bad_one_where_it_is(data):
    rows, bad = data
    buf = io.StringIO()
    # CRLF, so the writer quotes any field holding \r or \n (with "\n" alone, a bare \r in an unquoted
    # field would be a line break to most readers: a different file from the one intended).
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(CONTACT_HEADER)
    w.writerows(rows)
    report, con, tmp = run({"crm/hubspot_contacts_p.csv": buf.getvalue().encode()})
    with tmp:
        invariants(report, con)
        (f,) = report.files
        assert (f.rows_read, f.rows_loaded, f.rows_rejected) == (len(rows), len(rows) - len(bad), len(bad))
        assert sorted(r[0] for r in con.execute("SELECT source_row FROM ops.load_rejects").fetchall()) == bad
        names = [r[0] for r in con.execute("SELECT first_name FROM raw.crm_contacts ORDER BY _source_row").fetchall()]
        expected = [row[1] or None for i, row in enumerate(rows) if i + 2 not in bad]
        assert names == expected  # values survive quoting, commas, quotes and line breaks


corruption = st.one_of(
    st.binary(max_size=60),
    text.map(str.encode),
    st.sampled_from([b'"unterminated,quote\n', b",,,,,,,,,,,,,,,,,,,,\n", b"\n\n\n", b'1,"a""b",c\n', b"\r\n",
                     b"\xef\xbb\xbf", b"\xff\xfe"]),
)


@SETTINGS
@given(st.lists(st.one_of(contact_rows().map(lambda d: ("rows", d[0])), corruption.map(lambda b: ("raw", b))),
                max_size=6))
def test_any_corruption_is_recorded_never_raised(parts):
    data = ",".join(CONTACT_HEADER).encode() + b"\n"
    for kind, part in parts:
        if kind == "rows":
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(part)
            data += buf.getvalue().encode()
        else:
            data += part
    report, con, tmp = run({"crm/hubspot_contacts_p.csv": data, "support/zendesk_tickets_p.jsonl": data})
    with tmp:
        invariants(report, con)


@st.composite
def ticket_lines(draw):
    lines, good = [], 0
    for i in range(draw(st.integers(0, 12))):
        kind = draw(st.sampled_from(["ok", "ok", "truncated", "array", "bad_id", "garbage"]))
        obj = {"id": i, "created_at": "2025-01-01T00:00:00Z", "status": draw(text), "requester": {"email": draw(text)},
               "metric_set": {"reply_time_in_minutes": {"calendar": draw(st.integers(0, 10_000))}}}
        if kind == "ok":
            lines.append(json.dumps(obj))
            good += 1
        elif kind == "truncated":
            lines.append(json.dumps(obj)[: draw(st.integers(1, 20))])
        elif kind == "array":
            lines.append(json.dumps([obj]))
        elif kind == "bad_id":
            obj["metric_set"]["reply_time_in_minutes"]["calendar"] = "soon"
            lines.append(json.dumps(obj))
        else:
            lines.append(draw(text).replace("\n", " ").replace("\r", " ").replace("\x1f", " ") or "x")
    return lines, good


@SETTINGS
@given(ticket_lines())
def test_json_lines_load_every_valid_object_and_reject_the_rest(data):
    lines, good = data
    report, con, tmp = run({"support/zendesk_tickets_p.jsonl": ("\n".join(lines) + "\n").encode()})
    with tmp:
        invariants(report, con)
        (f,) = report.files
        nonblank = [line for line in lines if line.strip(" \t\r")]  # JSON whitespace only is a blank line
        assert (f.rows_read, f.rows_loaded) == (len(nonblank), good)


amounts = st.decimals(min_value=Decimal("-999999999.99"), max_value=Decimal("999999999.99"), places=2,
                      allow_nan=False, allow_infinity=False)


@SETTINGS
@given(st.lists(amounts, min_size=1, max_size=10), st.sampled_from([(",", "."), (".", ","), (",", " "), (".", "")]))
def test_mapped_numbers_read_back_exactly_in_any_locale(values, separators):
    decimal, thousands = separators
    spec = parse_spec({"name": "erp_orders", "entity": "crm_deals", "files": ["crm/erp*.csv"], "format": "csv",
                       "reader": {"delimiter": ";", "decimal": decimal, "thousands": thousands},
                       "columns": {"deal_id": "Id", "deal_stage": {"value": "Closed Won"}, "amount": "Betrag"}},
                      "property")

    def fmt(v: Decimal) -> str:
        whole, frac = f"{abs(v):,.2f}".split(".")
        return ("-" if v < 0 else "") + whole.replace(",", thousands) + decimal + frac

    body = "Id;Betrag\n" + "".join(f"{i};{fmt(v)}\n" for i, v in enumerate(values))
    tmp = tempfile.TemporaryDirectory()
    with tmp:
        landing = Path(tmp.name)
        (landing / "crm").mkdir()
        (landing / "crm" / "erp_1.csv").write_text(body, encoding="utf-8")
        con = duckdb.connect()
        report = ingest(con, landing, [spec])
        invariants(report, con)
        got = [r[0] for r in con.execute("SELECT amount FROM raw.crm_deals ORDER BY CAST(deal_id AS INT)").fetchall()]
        assert got == values
