"""Qualtrics CX survey responses: monthly exports with three header rows."""
from __future__ import annotations

import json

import numpy as np
import pandas as pd

from . import names as NM
from .common import (DAY, HOUR, XDAY, XEND, XSTART, lognormal, months, pick, rng,
                     scramble, sql_list, to_local, utc)
from .crm import WON, Crm
from .people import People
from .support import Support
from .writer import Col, Sink, date_col, num_col

COLUMNS = ["StartDate", "EndDate", "Status", "IPAddress", "Progress", "Duration (in seconds)", "Finished",
           "RecordedDate", "ResponseId", "RecipientLastName", "RecipientFirstName", "RecipientEmail",
           "ExternalReference", "LocationLatitude", "LocationLongitude", "DistributionChannel", "UserLanguage",
           "Q1", "Q2", "Q3", "Q4", "survey_trigger"]
QUESTIONS = ["Start Date", "End Date", "Response Type", "IP Address", "Progress", "Duration (in seconds)",
             "Finished", "Recorded Date", "Response ID", "Recipient Last Name", "Recipient First Name",
             "Recipient Email", "External Data Reference", "Location Latitude", "Location Longitude",
             "Distribution Channel", "User Language",
             "How likely are you to recommend Acme to a friend or colleague?",
             "Overall, how satisfied are you with Acme?",
             "Acme made it easy for me to handle my issue.",
             "What is the main reason for your score?", "survey_trigger"]
_TZ = {"timeZone": "America/Denver"}
IMPORT_IDS = [{"ImportId": "startDate", **_TZ}, {"ImportId": "endDate", **_TZ}, {"ImportId": "status"},
              {"ImportId": "ipAddress"}, {"ImportId": "progress"}, {"ImportId": "duration"},
              {"ImportId": "finished"}, {"ImportId": "recordedDate", **_TZ}, {"ImportId": "_recordId"},
              {"ImportId": "recipientLastName"}, {"ImportId": "recipientFirstName"},
              {"ImportId": "recipientEmail"}, {"ImportId": "externalDataReference"},
              {"ImportId": "locationLatitude"}, {"ImportId": "locationLongitude"},
              {"ImportId": "distributionChannel"}, {"ImportId": "userLanguage"}, {"ImportId": "QID1"},
              {"ImportId": "QID2"}, {"ImportId": "QID3"}, {"ImportId": "QID4_TEXT"}, {"ImportId": "survey_trigger"}]
HEADER_ROWS = [COLUMNS, QUESTIONS, [json.dumps(x, separators=(",", ":")) for x in IMPORT_IDS]]
TRIGGERS = ["post_purchase", "post_support", "relationship"]
CHANNELS = ["email", "anonymous", "sms"]
LANGS = ["EN", "ES", "FR"]
COMMENTS = NM.SURVEY_COMMENTS["detractor"] + NM.SURVEY_COMMENTS["passive"] + NM.SURVEY_COMMENTS["promoter"]
_NC = [len(NM.SURVEY_COMMENTS[k]) for k in ("detractor", "passive", "promoter")]
_B62 = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", dtype=np.uint8)
WAVES = [utc(y, m, 15, 16) for y in (2025, 2026) for m in (1, 4, 7, 10)]


def response_ids(r, n):
    """'R_' + 15 base-62 characters, unique (a scrambled counter) and random-looking."""
    x = scramble(np.arange(n, dtype=np.uint64))
    out = np.empty((n, 17), dtype=np.uint8)
    out[:, 0], out[:, 1] = ord("R"), ord("_")
    for i in range(11):
        out[:, 16 - i] = _B62[(x % np.uint64(62)).astype(np.int64)]
        x //= np.uint64(62)
    out[:, 2:6] = _B62[r.integers(0, 62, (n, 4))]
    return out.view("S17").ravel().astype(str).astype(object)


class Survey:
    def __init__(self, P: People, crm: Crm, sup: Support, seed: int):
        self.P, self.crm = P, crm
        r = rng(seed, "qualtrics")
        sv = P.srv
        parts = []                                    # (person, RecordedDate, trigger)
        won = np.flatnonzero(crm.d_out == WON)
        pw = crm.cp[crm.d_contact[won]]
        m = sv[pw] & (r.random(len(won)) < 0.35)
        parts.append((pw[m], crm.d_x[won][m] + r.integers(DAY, 10 * DAY, int(m.sum())), 0))
        m = sv[sup.owner] & ~sup.spam & (r.random(sup.m) < 0.2)
        parts.append((sup.owner[m], sup.sf[m] + r.integers(2 * HOUR, 3 * DAY, int(m.sum())), 1))
        for w in WAVES + [XSTART + 2 * HOUR]:        # quarterly relationship waves and the extra day's pulse
            pulse = w > XEND - DAY
            m = np.flatnonzero(sv & (P.acq < w - 7 * DAY) & (r.random(P.N) < (0.015 if pulse else 0.1)))
            parts.append((m, w + r.integers(0, 20 * HOUR if pulse else 6 * DAY, len(m)), 2))
        got = np.zeros(P.N, dtype=bool)
        for x, tt, _ in parts:
            got[x[tt <= XEND]] = True
        lone = np.flatnonzero(sv & ~got)              # everyone in the survey panel answers at least once
        parts.append((lone, P.acq[lone] + DAY + r.exponential(90 * DAY, len(lone)).astype(np.int64), 2))
        who = np.concatenate([x for x, _, _ in parts])
        t = np.concatenate([x for _, x, _ in parts])
        trig = np.concatenate([np.full(len(x), k, dtype=np.int8) for x, _, k in parts])
        keep = t <= XEND
        order = np.argsort(t[keep], kind="stable")
        self.who, self.rec, self.trig = who[keep][order], t[keep][order], trig[keep][order]
        n = self.n = len(self.rec)
        self.rid = response_ids(r, n)
        fin = r.random(n) < 0.94
        self.progress = np.where(fin, 100, np.array([14, 29, 43, 57, 71, 86])[r.integers(0, 6, n)])
        self.finished = fin
        self.dur = np.where(fin, lognormal(r, n, 95, 0.6), lognormal(r, n, 40, 0.8)).astype(np.int64) + 5
        self.end = self.rec - r.integers(0, 4, n)
        self.start = self.end - self.dur
        has_phone = P.has_phone[self.who]
        ch = pick(r, n, [70, 18, 12])
        self.channel = np.where((ch == 2) & ~has_phone, 0, ch).astype(np.int8)
        in_crm = crm.of_person[self.who] >= 0
        anon = self.channel == 1
        self.ext = in_crm & (r.random(n) < np.where(anon, 0.85, 0.6))
        self.has_email = ~self.ext | (~anon & (r.random(n) < 0.75))
        self.ip = r.integers(16_777_216, 3_758_096_383, n)
        self.lat = np.where(r.random(n) < 0.9, r.integers(250_000, 485_000, n), -1)
        self.lon = r.integers(710_000, 1_230_000, n)
        self.lang = pick(r, n, [90, 6, 4])
        # answers
        base = np.array([[3, 2, 2, 3, 3, 5, 7, 10, 15, 20, 30], [6, 4, 4, 5, 5, 7, 8, 10, 14, 17, 20],
                         [3, 2, 2, 3, 3, 5, 8, 12, 17, 20, 25]], dtype=float)
        q1 = np.empty(n, dtype=np.int64)
        for k in range(3):
            m = self.trig == k
            q1[m] = pick(r, int(m.sum()), base[k])
        p = self.progress
        self.q1 = np.where(fin & (r.random(n) < 0.03), -1, q1)
        q2 = np.clip(np.round(1 + q1 * 0.4 + r.normal(0, 0.6, n)), 1, 5).astype(np.int64)
        self.q2 = np.where((r.random(n) < 0.06) | (p < 43), -1, q2)
        q3 = np.clip(np.round(1.5 + q1 * 0.5 + r.normal(0, 0.9, n)), 1, 7).astype(np.int64)
        shown = (self.trig == 1) | (r.random(n) < 0.35)
        self.q3 = np.where(~shown | (r.random(n) < 0.05) | (p < 71), -1, q3)
        grp = np.where(q1 <= 6, 0, np.where(q1 <= 8, 1, 2))
        off = np.array([0, _NC[0], _NC[0] + _NC[1]])[grp]
        self.q4 = np.where((r.random(n) < 0.4) & fin, off + (r.random(n) * np.array(_NC)[grp]).astype(np.int64), -1)
        self.repeat = r.random(n) < 0.03
        self.ok = np.zeros(n, dtype=bool)

    def write(self, sink: Sink, emails: np.ndarray, extra_day: bool, progress) -> None:
        P = self.P
        periods = list(months()) + ([(XDAY, XSTART, XEND)] if extra_day else [])
        rid = self.crm.rid[np.maximum(self.crm.of_person[self.who], 0)] if self.crm.C else np.zeros(self.n, np.int64)
        nl = np.array([c.count("\n") for c in COMMENTS])
        den = lambda t: to_local(t, "America/Denver")  # noqa: E731
        cols = [date_col("StartDate", "ts_fmt(sl, '%Y-%m-%d %H:%M:%S')"),
                date_col("EndDate", "ts_fmt(el, '%Y-%m-%d %H:%M:%S')"), Col("Status", "'0'"),
                Col("IPAddress", "(ip >> 24)::VARCHAR || '.' || ((ip >> 16) & 255)::VARCHAR || '.' || "
                    "((ip >> 8) & 255)::VARCHAR || '.' || (ip & 255)::VARCHAR"),
                Col("Progress", "prog::VARCHAR"), Col("Duration (in seconds)", "dur::VARCHAR"),
                Col("Finished", "CASE WHEN fin THEN '1' ELSE '0' END"),
                date_col("RecordedDate", "ts_fmt(rl, '%Y-%m-%d %H:%M:%S')"), Col("ResponseId", "rid"),
                Col("RecipientLastName", "csvq(ln)"), Col("RecipientFirstName", "csvq(fn)"),
                Col("RecipientEmail", "em"),
                Col("ExternalReference", "ext"),
                Col("LocationLatitude", "CASE WHEN lat >= 0 THEN (lat // 10000)::VARCHAR || '.' || "
                    "lpad((lat % 10000)::VARCHAR, 4, '0') END"),
                Col("LocationLongitude", "CASE WHEN lat >= 0 THEN '-' || (lon // 10000)::VARCHAR || '.' || "
                    "lpad((lon % 10000)::VARCHAR, 4, '0') END"),
                Col("DistributionChannel", f"({sql_list(CHANNELS)})[ch + 1]"),
                Col("UserLanguage", f"({sql_list(LANGS)})[lang + 1]"),
                num_col("Q1", "CASE WHEN q1 >= 0 THEN q1::VARCHAR END", ["ten", "N/A", "nine", "10/10"]),
                Col("Q2", "CASE WHEN q2 >= 0 THEN q2::VARCHAR END"),
                Col("Q3", "CASE WHEN q3 >= 0 THEN q3::VARCHAR END"),
                Col("Q4", f"CASE WHEN q4 >= 0 THEN csvq(({sql_list(COMMENTS)})[q4 + 1]) END"),
                Col("survey_trigger", f"({sql_list(TRIGGERS)})[trig + 1]")]
        prev = np.zeros(0, dtype=np.int64)
        last_label = months()[-1][0]
        for label, ms, me in periods:
            a, b = np.searchsorted(self.rec, ms, "left"), np.searchsorted(self.rec, me, "right")
            idx = np.concatenate([prev, np.arange(a, b)])
            prev = np.arange(a, b)[self.repeat[a:b]] if label < last_label else np.zeros(0, dtype=np.int64)
            w = self.who[idx]
            named = self.channel[idx] != 1
            df = pd.DataFrame({
                "sl": den(self.start[idx]), "el": den(self.end[idx]), "rl": den(self.rec[idx]), "ip": self.ip[idx],
                "prog": self.progress[idx], "dur": self.dur[idx], "fin": self.finished[idx], "rid": self.rid[idx],
                "ln": np.where(named, P.last[w], None), "fn": np.where(named, P.first[w], None),
                "em": np.where(self.has_email[idx], emails[w], None),
                "ext": np.where(self.ext[idx], rid[idx].astype(str), None), "lat": self.lat[idx],
                "lon": self.lon[idx], "ch": self.channel[idx], "lang": self.lang[idx], "q1": self.q1[idx],
                "q2": self.q2[idx], "q3": self.q3[idx], "q4": self.q4[idx], "trig": self.trig[idx]})
            bad = sink.csv(f"survey/qualtrics_cx_{label}.csv", "survey_responses", df, cols, header_rows=HEADER_ROWS,
                           kinds={"ragged": 0.3, "bad_number": 0.4, "bad_date": 0.3}, force=(label == last_label),
                           nl=np.where(self.q4[idx] >= 0, nl[np.maximum(self.q4[idx], 0)], 0))
            self.ok[idx] |= ~bad
        if progress:
            progress(f"survey: {len(periods)} files, {int(self.ok.sum())} responses")

