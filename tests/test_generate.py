"""Tests of the sample-data generator (ingest.generate).

Everything is re-derived here from the written files with plain csv/json,
independently of the generator's own bookkeeping.
"""
from __future__ import annotations

import csv
import hashlib
import json
import statistics
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from ingest.generate import generate

CUSTOMERS = 400
END = datetime(2026, 10, 31, 23, 59, 59, tzinfo=timezone.utc)
XEND = datetime(2026, 11, 1, 23, 59, 59, tzinfo=timezone.utc)
NY, DENVER = ZoneInfo("America/New_York"), ZoneInfo("America/Denver")
CRM_FMT = [("%Y-%m-%d %H:%M", NY), ("%Y-%m-%dT%H:%M:%SZ", timezone.utc), ("%m/%d/%Y %H:%M", NY)]
UTC_SEC = [("%Y-%m-%d %H:%M:%S", timezone.utc)]

# entity -> (file prefix, header, date columns + formats, integer columns, decimal columns, header rows)
SPECS = {
    "crm_contacts": ("crm/hubspot_contacts_", [
        "Record ID", "First Name", "Last Name", "Email", "Phone Number", "Lifecycle Stage", "Lead Status",
        "Original Source", "Original Source Drill-Down 1", "Original Source Drill-Down 2", "Create Date",
        "Last Modified Date", "Became a Customer Date", "Cancellation Date"],
        {"Create Date": CRM_FMT, "Last Modified Date": CRM_FMT, "Became a Customer Date": CRM_FMT,
         "Cancellation Date": CRM_FMT}, ["Record ID"], [], 1),
    "crm_deals": ("crm/hubspot_deals_", [
        "Record ID", "Deal Name", "Pipeline", "Deal Stage", "Amount", "Create Date", "Close Date",
        "Last Modified Date", "Associated Contact IDs"],
        {"Create Date": CRM_FMT, "Close Date": CRM_FMT, "Last Modified Date": CRM_FMT},
        ["Record ID", "Associated Contact IDs"], ["Amount"], 1),
    "marketing_email_activity": ("marketing/mailchimp_activity_", [
        "Email Address", "Campaign ID", "Campaign Title", "Action", "Timestamp", "URL"],
        {"Timestamp": UTC_SEC}, [], [], 1),
    "marketing_web_sessions": ("marketing/ga4_sessions_", [
        "session_id", "client_id", "user_id", "user_email", "session_start", "utm_source", "utm_medium",
        "utm_campaign", "landing_page", "pageviews", "engaged", "conversions"],
        {"session_start": UTC_SEC + [("%Y-%m-%dT%H:%M:%S+00:00", timezone.utc)]},
        ["pageviews", "conversions"], [], 1),
    "marketing_ad_spend": ("marketing/ad_spend_", [
        "Day", "Platform", "Campaign ID", "Campaign", "Impressions", "Clicks", "Cost", "Currency"],
        {"Day": [("%Y-%m-%d", timezone.utc)]}, ["Impressions", "Clicks"], ["Cost"], 1),
    "survey_responses": ("survey/qualtrics_cx_", [
        "StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
        "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
        "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage",
        "Q1", "Q2", "Q3", "Q4", "survey_trigger"],
        {"StartDate": [("%Y-%m-%d %H:%M:%S", DENVER)], "EndDate": [("%Y-%m-%d %H:%M:%S", DENVER)],
         "RecordedDate": [("%Y-%m-%d %H:%M:%S", DENVER)]},
        ["Progress", "Duration (in seconds)", "Q1", "Q2", "Q3"], [], 3),
}


def parse_date(value: str, formats) -> datetime | None:
    for fmt, tz in formats:
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=tz).astimezone(timezone.utc)
        except ValueError:
            pass
    return None


def read_csv(path: Path, spec):
    """-> (good rows as dicts, malformed [(record, line, column, kind)], n records, header rows)."""
    _, header, dates, ints, decs, nhead = spec
    good, bad, heads = [], [], []
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        for _ in range(nhead):
            heads.append(next(reader))
        n, last_line = 0, reader.line_num
        for row in reader:
            n += 1
            first_line, last_line = last_line + 1, reader.line_num
            if len(row) != len(header):
                bad.append((n, first_line, None, "ragged"))
                continue
            rec = dict(zip(header, row))
            problem = None
            for col in header:
                v = rec[col]
                if not v:
                    continue
                if col in dates and parse_date(v, dates[col]) is None:
                    problem = (col, "bad_date")
                elif col in ints and not v.isdigit():
                    problem = (col, "bad_number")
                elif col in decs:
                    try:
                        Decimal(v)
                    except ArithmeticError:
                        problem = (col, "bad_number")
                if problem:
                    break
            if problem:
                bad.append((n, first_line, *problem))
            else:
                good.append(rec)
    return good, bad, n, heads


def read_jsonl(path: Path):
    good, bad, n = [], [], 0
    with open(path) as fh:
        for n, line in enumerate(fh, 1):
            try:
                good.append(json.loads(line))
            except json.JSONDecodeError:
                bad.append((n, n, None, "bad_json"))
    return good, bad, n


def file_hashes(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def load(root: Path):
    """Parse every file; returns good rows per entity in file order, the malformed list and counts."""
    rows, malformed, counts = defaultdict(list), {}, {}
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if rel.startswith("support/"):
            good, bad, n = read_jsonl(path)
            ent = "support_tickets"
        else:
            ent = next(e for e, s in SPECS.items() if rel.startswith(s[0]))
            good, bad, n, heads = read_csv(path, SPECS[ent])
            assert heads[0] == SPECS[ent][1], rel
        rows[ent].append((rel, good))
        malformed[rel] = bad
        counts[rel] = (ent, n)
    return rows, malformed, counts


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("gen")
    out = {}
    variants = {"a": dict(seed=7), "b": dict(seed=7), "c": dict(seed=8), "x": dict(seed=7, extra_day=True)}
    for name, kw in variants.items():
        land = base / name / "landing"
        summary = generate(land, customers=CUSTOMERS, **kw)
        out[name] = (land, base / name / "ground_truth", summary)
    return out


@pytest.fixture(scope="module")
def parsed(runs):
    return {k: load(runs[k][0]) for k in ("a", "x")}


def test_layout_and_summary(runs):
    land, truth, summary = runs["a"]
    assert sorted(p.name for p in land.iterdir()) == ["crm", "marketing", "support", "survey"]
    assert not any("truth" in p.name or p.suffix == ".json" for p in land.rglob("*"))
    assert {p.name for p in truth.iterdir()} == {"files.json", "records.csv", "persons.csv", "truth.json"}
    assert summary["files"] == len(list(land.rglob("*.*")))
    assert all(v > 0 for v in summary["rows"].values())
    names = {p.relative_to(land).as_posix() for p in land.rglob("*.*")}
    assert {"crm/hubspot_contacts_2025-10-31.csv", "crm/hubspot_contacts_2026-10-31.csv",
            "crm/hubspot_deals_2025-10-31.csv", "crm/hubspot_deals_2026-10-31.csv",
            "support/zendesk_tickets_2024-11.jsonl", "support/zendesk_tickets_2026-10.jsonl",
            "marketing/mailchimp_activity_2026-10.csv", "marketing/ga4_sessions_2026-10.csv",
            "marketing/ad_spend_2026-10.csv", "survey/qualtrics_cx_2026-10.csv"} <= names
    assert not any("2026-11" in n for n in names)


def test_deterministic(runs):
    a, b, c = (file_hashes(runs[k][0]) for k in "abc")
    assert a == b
    assert file_hashes(runs["a"][1]) == file_hashes(runs["b"][1])
    # another seed changes every file that holds data (tiny runs may leave an early month empty)
    files = json.loads((runs["a"][1] / "files.json").read_text())
    assert a.keys() == c.keys()
    assert all(a[k] != c[k] for k in a if files[k]["data_rows"] > 1)


def test_extra_day_adds_delta_only(runs):
    a, x = file_hashes(runs["a"][0]), file_hashes(runs["x"][0])
    assert {k: x[k] for k in a} == a
    delta = set(x) - set(a)
    assert delta == {"crm/hubspot_contacts_2026-11-01.csv", "crm/hubspot_deals_2026-11-01.csv",
                     "support/zendesk_tickets_2026-11-01.jsonl", "marketing/mailchimp_activity_2026-11-01.csv",
                     "marketing/ga4_sessions_2026-11-01.csv", "marketing/ad_spend_2026-11-01.csv",
                     "survey/qualtrics_cx_2026-11-01.csv"}
    files = json.loads((runs["x"][1] / "files.json").read_text())
    assert all(files[d]["data_rows"] > 0 for d in delta)
    ta, tx = (json.loads((runs[k][1] / "truth.json").read_text()) for k in "ax")
    assert tx["crm_contacts"] > ta["crm_contacts"] and tx["sessions"] > ta["sessions"]
    assert tx["survey"]["responses"] > ta["survey"]["responses"]


@pytest.mark.parametrize("run", ["a", "x"])
def test_malformed_rows_match_files_json(runs, parsed, run):
    files = json.loads((runs[run][1] / "files.json").read_text())
    _, malformed, counts = parsed[run]
    assert set(files) == set(counts)
    for rel, (ent, n) in counts.items():
        info = files[rel]
        assert info["entity"] == ent and info["data_rows"] == n, rel
        listed = [(m["record"], m["line"], m["column"], m["kind"]) for m in info["malformed"]]
        assert sorted(listed) == sorted(malformed[rel]), rel
        assert info["malformed_rows"] == len(listed)
    per_entity = defaultdict(int)
    for rel, info in files.items():
        per_entity[info["entity"]] += info["malformed_rows"]
    for ent in ("crm_contacts", "crm_deals", "support_tickets", "survey_responses"):
        assert per_entity[ent] >= 1, ent


def test_qualtrics_headers_and_business_rules(runs, parsed):
    land = runs["a"][0]
    rows, _, _ = parsed["a"]
    for path in sorted((land / "survey").iterdir()):
        with open(path, newline="") as fh:
            r = csv.reader(fh)
            heads = [next(r), next(r), next(r)]
        assert heads[0] == SPECS["survey_responses"][1]
        assert heads[1][17] == "How likely are you to recommend Acme to a friend or colleague?"
        assert json.loads(heads[2][0]) == {"ImportId": "startDate", "timeZone": "America/Denver"}
        assert json.loads(heads[2][20]) == {"ImportId": "QID4_TEXT"}
    for rel, good in rows["survey_responses"]:
        for rec in good:
            assert rec["RecipientEmail"].strip() or rec["ExternalReference"], rel
            assert rec["Q1"] == "" or 0 <= int(rec["Q1"]) <= 10
            assert rec["Q2"] == "" or 1 <= int(rec["Q2"]) <= 5
            assert rec["Q3"] == "" or 1 <= int(rec["Q3"]) <= 7
            assert rec["DistributionChannel"] in {"email", "anonymous", "sms"}
            assert rec["survey_trigger"] in {"post_purchase", "post_support", "relationship"}
            assert parse_date(rec["RecordedDate"], SPECS["survey_responses"][2]["RecordedDate"]) <= END
    for ent in ("crm_contacts", "crm_deals"):
        for rel, good in rows[ent]:
            ids = [r["Record ID"] for r in good]
            assert len(ids) == len(set(ids)) and all(ids), rel
            for r in good:
                for col, fmts in SPECS[ent][2].items():
                    if r[col]:
                        assert parse_date(r[col], fmts) <= END, (rel, col)
    for rel, good in rows["crm_contacts"]:
        assert all("@" in r["Email"] for r in good)
        assert {r["Lifecycle Stage"] for r in good} <= {
            "Subscriber", "Lead", "Marketing Qualified Lead", "Sales Qualified Lead", "Opportunity", "Customer",
            "Evangelist", "Other"}
    keys = {"id", "url", "external_id", "via", "created_at", "updated_at", "type", "subject", "description",
            "priority", "status", "requester_id", "requester", "assignee_id", "assignee", "group_id", "tags",
            "satisfaction_rating", "metric_set"}
    for rel, good in rows["support_tickets"]:
        assert len({t["id"] for t in good}) == len(good)
        for t in good:
            assert set(t) == keys and t["status"] in {"new", "open", "pending", "hold", "solved", "closed"}
            assert datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00")) <= END
            assert t["satisfaction_rating"]["score"] in {"good", "bad", "offered", "unoffered"}
    for rel, good in rows["marketing_email_activity"]:
        assert {r["Action"] for r in good} <= {"sent", "open", "click", "bounce", "unsubscribe"}


def _latest(rows_by_file, key, order=None):
    latest = {}
    for _, good in rows_by_file:
        for r in good:
            k = key(r)
            if order is None or k not in latest or order(r) >= order(latest[k]):
                latest[k] = r
    return latest


def _ts(s: str) -> datetime:
    return datetime.fromisoformat(s.replace("Z", "+00:00"))


@pytest.mark.parametrize("run", ["a", "x"])
def test_truth_recomputed_from_files(runs, parsed, run):
    truth = json.loads((runs[run][1] / "truth.json").read_text())
    rows, _, _ = parsed[run]
    contacts = _latest(rows["crm_contacts"], lambda r: r["Record ID"])
    assert truth["crm_contacts"] == len(contacts)
    assert truth["churned_customers"] == sum(1 for r in contacts.values() if r["Cancellation Date"])
    deals = _latest(rows["crm_deals"], lambda r: r["Record ID"])
    won = [r for r in deals.values() if r["Deal Stage"] == "Closed Won"]
    assert truth["orders"] == len(won)
    assert Decimal(str(truth["revenue"])) == sum(Decimal(r["Amount"]) for r in won)
    tickets = _latest(rows["support_tickets"], lambda t: t["id"], lambda t: _ts(t["updated_at"]))
    assert truth["tickets"] == len(tickets)
    assert truth["tickets_solved"] == sum(t["status"] in ("solved", "closed") for t in tickets.values())
    replies = [t["metric_set"]["reply_time_in_minutes"]["calendar"] for t in tickets.values()]
    assert truth["median_first_reply_minutes"] == statistics.median([x for x in replies if x is not None])
    scores = [t["satisfaction_rating"]["score"] for t in tickets.values()]
    assert truth["support_csat"] == {"rated": sum(s in ("good", "bad") for s in scores),
                                     "good": scores.count("good")}
    resp = _latest(rows["survey_responses"], lambda r: r["ResponseId"])
    q1 = [int(r["Q1"]) for r in resp.values() if r["Q1"]]
    pro, det = sum(x >= 9 for x in q1), sum(x <= 6 for x in q1)
    s = truth["survey"]
    assert s["responses"] == len(resp) and s["nps_responses"] == len(q1)
    assert (s["promoters"], s["detractors"]) == (pro, det)
    assert s["nps"] == pytest.approx(100 * (pro - det) / len(q1), abs=1e-3)
    q3 = [int(r["Q3"]) for r in resp.values() if r["Q3"]]
    assert s["ces_mean"] == pytest.approx(statistics.mean(q3), abs=1e-5)
    assert s["csat_satisfied"] == sum(1 for r in resp.values() if r["Q2"] and int(r["Q2"]) >= 4)
    by_month = defaultdict(list)
    for r in resp.values():
        if r["Q1"]:
            rec = parse_date(r["RecordedDate"], [("%Y-%m-%d %H:%M:%S", DENVER)])
            by_month[rec.strftime("%Y-%m")].append(int(r["Q1"]))
    assert {m: v["responses"] for m, v in truth["nps_by_month"].items()} == {m: len(v) for m, v in by_month.items()}
    email_rows = {tuple(r.values()) for _, good in rows["marketing_email_activity"] for r in good}
    assert truth["email_activity_rows"] == len(email_rows)
    sessions = {r["session_id"] for _, good in rows["marketing_web_sessions"] for r in good}
    assert truth["sessions"] == len(sessions)
    spend = sum(Decimal(r["Cost"]) for _, good in rows["marketing_ad_spend"] for r in good)
    assert Decimal(str(truth["ad_spend_total"])) == spend


def test_records_and_persons(runs, parsed):
    land, tdir, _ = runs["a"]
    rows, _, _ = parsed["a"]
    rec = defaultdict(dict)
    with open(tdir / "records.csv", newline="") as fh:
        for r in csv.DictReader(fh):
            rec[r["entity"]][r["record_key"]] = r["person_id"]
    seen = {
        "crm_contacts": {r["Record ID"] for _, g in rows["crm_contacts"] for r in g},
        "crm_deals": {r["Record ID"] for _, g in rows["crm_deals"] for r in g},
        "support_tickets": {str(t["id"]) for _, g in rows["support_tickets"] for t in g},
        "survey_responses": {r["ResponseId"] for _, g in rows["survey_responses"] for r in g},
        "marketing_web_sessions": {r["session_id"] for _, g in rows["marketing_web_sessions"] for r in g
                                   if r["user_id"] or r["user_email"]},
        "marketing_email_activity": {r["Email Address"].strip().lower()
                                     for _, g in rows["marketing_email_activity"] for r in g},
    }
    for ent, keys in seen.items():
        assert set(rec[ent]) == keys, ent
    # a deal belongs to the person of its associated contact
    for _, good in rows["crm_deals"]:
        for r in good:
            if r["Associated Contact IDs"] in rec["crm_contacts"]:
                assert rec["crm_deals"][r["Record ID"]] == rec["crm_contacts"][r["Associated Contact IDs"]]
    # a contact's e-mail (normalised) is its person's primary e-mail
    with open(tdir / "persons.csv", newline="") as fh:
        persons = {p["person_id"]: p for p in csv.DictReader(fh)}
    assert len(persons) == CUSTOMERS
    assert len({p["email"] for p in persons.values()}) == CUSTOMERS
    for _, good in rows["crm_contacts"]:
        for r in good:
            assert persons[rec["crm_contacts"][r["Record ID"]]]["email"] == r["Email"].strip().lower()
    truth = json.loads((tdir / "truth.json").read_text())
    people = {p for d in rec.values() for p in d.values()}
    assert truth["customers"] == len(people)
    assert sum(p["churned"] == "1" for p in persons.values()) == truth["churned_customers"]


def test_truth_dir_must_stay_outside_landing(tmp_path):
    with pytest.raises(ValueError):
        generate(tmp_path / "landing", customers=5, truth_dir=tmp_path / "landing" / "truth")
