"""HubSpot contacts and deals: two full snapshots plus the optional delta day."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import names as NM
from .campaigns import Campaigns
from .common import (DAY, END, INF, MINUTE, SNAP1, XDAY, XEND, XSTART, lognormal, pick, poisson_times, rng,
                     sql_list, to_local)
from .people import OFFLINE, OFFLINE_DD1, SOURCES, UTM_SOURCES, People
from .writer import Col, Sink, date_col, num_col

STAGES = ["Subscriber", "Lead", "Marketing Qualified Lead", "Sales Qualified Lead", "Opportunity", "Customer",
          "Evangelist", "Other"]
LEAD = ["New", "Open", "In Progress", "Open Deal", "Unqualified", "Attempted to Contact", "Connected", "Bad Timing"]
_LEAD_BY_STAGE = [[-1], [0, 1, 5, 6, 4, 7], [1, 2, 5, 6], [2, 6], [3], [-1, -1, 6], [-1], [4, 7, -1]]
DEAL_STAGES = ["Appointment Scheduled", "Qualified To Buy", "Presentation Scheduled", "Decision Maker Bought-In",
               "Contract Sent", "Closed Won", "Closed Lost"]
WON, LOST = 5, 6
CONTACT_HEADER = ["Record ID", "First Name", "Last Name", "Email", "Phone Number", "Lifecycle Stage", "Lead Status",
                  "Original Source", "Original Source Drill-Down 1", "Original Source Drill-Down 2", "Create Date",
                  "Last Modified Date", "Became a Customer Date", "Cancellation Date"]


def _minute(t):
    return np.where(t >= INF, INF, (t // MINUTE) * MINUTE)


def _spread(r, c, x, reach):
    """Stage instants 0..4 between create c and close x (INF where not reached)."""
    n = len(c)
    fr = np.sort(r.random((n, 4)), axis=1)
    st = np.full((n, 5), INF, dtype=np.int64)
    st[:, 0] = c
    span = np.where(x >= INF, 0, x - c)
    st[:, 1:] = c[:, None] + (fr * span[:, None]).astype(np.int64)
    st[np.arange(5)[None, :] > reach[:, None]] = INF
    return _minute(st)


class Crm:
    def __init__(self, P: People, camps: Campaigns, seed: int):
        self.P, self.camps, self.seed = P, camps, seed
        r = rng(seed, "crm")
        cp = np.flatnonzero(P.in_crm)
        create = P.acq[cp] + np.where(P.src[cp] == OFFLINE, 0, r.integers(60, 1800, len(cp)))
        create = _minute(np.minimum(create, XEND - MINUTE))
        order = np.argsort(create, kind="stable")
        self.cp, self.create = cp[order], create[order]
        C = self.C = len(cp)
        self.rid = _ids(r, 1_000_001, C)
        cust = P.cust[self.cp]
        final = np.array([0, 1, 2, 3, 4, 7])[pick(r, C, [18, 34, 20, 10, 12, 6])]
        final = np.where(cust, np.where(r.random(C) < 0.12, 6, 5), final)
        start = np.minimum(np.where(r.random(C) < 0.35, 0, 1), np.where(final == 7, 1, final))
        st = np.full((C, 7), INF, dtype=np.int64)
        st[:, 0] = self.create
        mean_days = [0, 14, 8, 6, 5, 12, 150]
        for k in range(1, 7):
            reach = (k <= final) & (final != 7)
            step = np.where(k <= start, 0, (r.exponential(mean_days[k] * DAY, C)).astype(np.int64) + MINUTE)
            st[:, k] = np.where(reach, st[:, k - 1] + step, INF)
        self.st = _minute(np.minimum(st, INF))
        self.final = final
        self.other_t = np.where(final == 7, _minute(self.create + r.exponential(30 * DAY, C).astype(np.int64)), INF)
        tc = self.st[:, 5]
        churn = (tc < XEND - 14 * DAY) & (r.random(C) < 0.18)
        lo = tc + 14 * DAY
        self.cancel = np.where(churn, _minute(lo + ((XEND - lo) * r.random(C)).astype(np.int64)), INF)
        self.touch = _minute(self.create + r.exponential(200 * DAY, C).astype(np.int64))
        self.lead_u = r.random(C)
        self.fmt = pick(r, C, [95, 3, 2])
        self.phone_v = r.integers(0, 6, C).astype(np.int8)
        self.no_last = r.random(C) < 0.015
        # per person lookups
        self.of_person = np.full(P.N, -1, dtype=np.int64)
        self.of_person[self.cp] = np.arange(C)
        self._deals(r)
        self.contact_versions: list[pd.DataFrame] = []
        self.deal_versions: list[pd.DataFrame] = []

    # ------------------------------------------------------------------ deals
    def _deals(self, r):
        C = self.C
        first = np.flatnonzero(self.final >= 4)
        f = self.final[first]
        c1 = self.st[first, 4]
        won1 = f >= 5
        lost1 = ~won1 & (r.random(len(first)) < 0.45)
        x1 = np.where(won1, self.st[first, 5],
                      np.where(lost1, _minute(c1 + r.exponential(25 * DAY, len(first)).astype(np.int64)), INF))
        reach1 = np.where(won1, 4, np.where(lost1, r.integers(0, 4, len(first)), 0))
        st1 = _spread(r, c1, x1, reach1)
        # open deals progress on their own clock
        op = ~won1 & ~lost1
        steps = np.cumsum(r.exponential(6 * DAY, (int(op.sum()), 4)).astype(np.int64), axis=1)
        st_open = np.concatenate([c1[op][:, None], c1[op][:, None] + steps], axis=1)
        m = r.integers(0, 5, int(op.sum()))
        st_open[np.arange(5)[None, :] > m[:, None]] = INF
        st1[op] = _minute(st_open)
        # repeat purchases (and a few lost upsells) of customers
        cu = np.flatnonzero((self.final >= 5) & (self.st[:, 5] < XEND))
        rows, c2 = poisson_times(r, self.st[cu, 5] + 7 * DAY, r.gamma(0.8, 1.2, len(cu)))
        owner = cu[rows]
        keep = c2 < np.minimum(self.cancel[owner], XEND)
        owner, c2 = owner[keep], _minute(c2[keep])
        n2 = len(owner)
        won2 = r.random(n2) < 0.85
        x2 = _minute(c2 + r.exponential(6 * DAY, n2).astype(np.int64) + MINUTE)
        st2 = _spread(r, c2, x2, np.where(won2, 4, r.integers(3, 5, n2)))
        st2[:, :4] = np.where(r.random((n2, 1)) < 0.7, np.minimum(st2[:, :4], c2[:, None]), st2[:, :4])
        contact = np.concatenate([first, owner])
        c = np.concatenate([c1, c2])
        x = np.concatenate([x1, x2])
        outcome = np.concatenate([np.where(won1, WON, np.where(lost1, LOST, 0)), np.where(won2, WON, LOST)])
        stt = np.concatenate([st1, st2])
        amount = np.concatenate([lognormal(r, len(first), 900, 0.7), lognormal(r, n2, 350, 0.9)])
        cents = np.round(amount).astype(np.int64) * 100 + np.array([0, 0, 0, 50, 99, 0, 25])[r.integers(0, 7, len(c))]
        product = np.concatenate([pick(r, len(first), NM.PRODUCTS_FIRST_P),
                                  len(NM.PRODUCTS_FIRST) + r.integers(0, len(NM.PRODUCTS_REPEAT), n2)])
        order = np.argsort(c, kind="stable")
        D = self.D = len(c)
        self.d_contact, self.d_c, self.d_x, self.d_out = contact[order], c[order], x[order], outcome[order]
        self.d_st, self.d_cents, self.d_product = stt[order], cents[order], product[order].astype(np.int8)
        self.d_id = _ids(r, 3_000_000_001, D)
        self.d_fmt = pick(r, D, [95, 3, 2])

    # ----------------------------------------------------------------- states
    def contact_state(self, idx, T):
        st = self.st[idx]
        stage = (st <= T).sum(1) - 1
        stage = np.where(self.other_t[idx] <= T, 7, stage)
        became = np.where((stage == 5) | (stage == 6), st[:, 5], -1)
        cancel = np.where(self.cancel[idx] <= T, self.cancel[idx], -1)
        ev = np.concatenate([np.where(st <= T, st, 0), np.where(self.other_t[idx] <= T, self.other_t[idx], 0)[:, None],
                             cancel[:, None], np.where(self.touch[idx] <= T, self.touch[idx], 0)[:, None]], axis=1)
        opts = _LEAD_BY_STAGE
        lens = np.array([len(o) for o in opts])
        table = np.array([[o[i % len(o)] for i in range(6)] for o in opts])
        lead = table[stage, (self.lead_u[idx] * lens[stage]).astype(int)]
        return stage, lead, became, cancel, ev.max(1)

    def deal_state(self, idx, T):
        st = self.d_st[idx]
        closed = self.d_x[idx] <= T
        stage = np.where(closed, self.d_out[idx], (st <= T).sum(1) - 1)
        close = np.where(closed, self.d_x[idx], -1)
        lastmod = np.maximum(np.where(st <= T, st, 0).max(1), close)
        return stage, close, lastmod

    # ------------------------------------------------------------------ files
    def write(self, sink: Sink, emails: np.ndarray, extra_day: bool, progress) -> None:
        P = self.P
        phones = P.phones(np.zeros(P.N, dtype=np.int8) if self.C == 0 else _per_person(P.N, self.cp, self.phone_v))
        shots = [("2025-10-31", SNAP1), ("2026-10-31", END)] + ([(XDAY, XEND)] if extra_day else [])
        for ver, (label, T) in enumerate(shots):
            if label == XDAY:
                ev = np.concatenate([self.st, self.other_t[:, None], self.cancel[:, None], self.touch[:, None]], 1)
                cidx = np.flatnonzero(((ev >= XSTART) & (ev <= XEND)).any(1))
                dev = np.concatenate([self.d_st, self.d_x[:, None]], 1)
                didx = np.flatnonzero(((dev >= XSTART) & (dev <= XEND)).any(1))
            else:
                cidx = np.flatnonzero(self.create <= T)
                didx = np.flatnonzero(self.d_c <= T)
            self._write_contacts(sink, f"crm/hubspot_contacts_{label}.csv", cidx, T, ver, emails, phones,
                                 force=(label == "2026-10-31"))
            self._write_deals(sink, f"crm/hubspot_deals_{label}.csv", didx, T, ver, force=(label == "2026-10-31"))
            if progress:
                progress(f"crm: snapshot {label}: {len(cidx)} contacts, {len(didx)} deals")

    def _write_contacts(self, sink, rel, idx, T, ver, emails, phones, force):
        P = self.P
        p = self.cp[idx]
        stage, lead, became, cancel, lastmod = self.contact_state(idx, T)
        ny = lambda t: np.where(t >= 0, to_local(t, "America/New_York"), -1)  # noqa: E731
        df = pd.DataFrame({
            "rid": self.rid[idx], "first": P.first[p], "last": np.where(self.no_last[idx], None, P.last[p]),
            "email": emails[p], "phone": phones[p], "stage": stage, "lead": lead, "src": P.src[p],
            "us": P.acq_utm_source[p], "off": P.offline_dd1[p], "camp": P.acq_camp[p], "f": self.fmt[idx],
            "cu": self.create[idx], "cn": ny(self.create[idx]), "mu": lastmod, "mn": ny(lastmod),
            "bu": became, "bn": ny(became), "xu": cancel, "xn": ny(cancel)})
        cols = [Col("Record ID", "rid::VARCHAR"), Col("First Name", "csvq(first)"), Col("Last Name", "csvq(last)"),
                Col("Email", "email"), Col("Phone Number", "phone"),
                Col("Lifecycle Stage", f"({sql_list(STAGES)})[stage + 1]"),
                Col("Lead Status", f"CASE WHEN lead >= 0 THEN ({sql_list(LEAD)})[lead + 1] END"),
                Col("Original Source", f"({sql_list(SOURCES)})[src + 1]"),
                Col("Original Source Drill-Down 1", f"CASE src WHEN 6 THEN NULL WHEN 7 THEN "
                    f"({sql_list(OFFLINE_DD1)})[off + 1] ELSE ({sql_list(UTM_SOURCES)})[us + 1] END"),
                Col("Original Source Drill-Down 2",
                    f"CASE WHEN camp >= 0 THEN ({sql_list(self.camps.name)})[camp + 1] END"),
                date_col("Create Date", "crm_dt(cu, cn, f)"), date_col("Last Modified Date", "crm_dt(mu, mn, f)"),
                Col("Became a Customer Date", "crm_dt(bu, bn, f)"), Col("Cancellation Date", "crm_dt(xu, xn, f)")]
        bad = sink.csv(rel, "crm_contacts", df, cols, kinds={"ragged": 0.4, "bad_date": 0.6}, force=force)
        self.contact_versions.append(pd.DataFrame({"c": idx, "ver": ver, "bad": bad, "cancel": cancel}))

    def _write_deals(self, sink, rel, idx, T, ver, force):
        P = self.P
        stage, close, lastmod = self.deal_state(idx, T)
        ci = self.d_contact[idx]
        p = self.cp[ci]
        ny = lambda t: np.where(t >= 0, to_local(t, "America/New_York"), -1)  # noqa: E731
        cu = self.d_c[idx]
        df = pd.DataFrame({"id": self.d_id[idx], "first": P.first[p], "last": P.last[p], "prod": self.d_product[idx],
                           "stage": stage, "cents": self.d_cents[idx], "f": self.d_fmt[idx], "cu": cu, "cn": ny(cu),
                           "xu": close, "xn": ny(close), "mu": lastmod, "mn": ny(lastmod), "rid": self.rid[ci]})
        products = NM.PRODUCTS_FIRST + NM.PRODUCTS_REPEAT
        cols = [Col("Record ID", "id::VARCHAR"),
                Col("Deal Name", f"csvq(({sql_list(products)})[prod + 1] || ' - ' || first || ' ' || last)"),
                Col("Pipeline", "'Sales Pipeline'"), Col("Deal Stage", f"({sql_list(DEAL_STAGES)})[stage + 1]"),
                num_col("Amount", "money(cents)", ["N/A", "n/a", "TBD", "#VALUE!"]),
                date_col("Create Date", "crm_dt(cu, cn, f)"), date_col("Close Date", "crm_dt(xu, xn, f)"),
                Col("Last Modified Date", "crm_dt(mu, mn, f)"), Col("Associated Contact IDs", "rid::VARCHAR")]
        bad = sink.csv(rel, "crm_deals", df, cols, kinds={"ragged": 0.3, "bad_number": 0.4, "bad_date": 0.3},
                       force=force)
        self.deal_versions.append(pd.DataFrame({"d": idx, "ver": ver, "bad": bad, "stage": stage,
                                                "cents": self.d_cents[idx]}))

    # ------------------------------------------------------------------ truth
    def latest(self):
        """Latest undamaged version of each contact and deal that was written."""
        cv = pd.concat(self.contact_versions, ignore_index=True)
        cv = cv[~cv.bad].sort_values(["c", "ver"], kind="stable").drop_duplicates("c", keep="last")
        dv = pd.concat(self.deal_versions, ignore_index=True)
        dv = dv[~dv.bad].sort_values(["d", "ver"], kind="stable").drop_duplicates("d", keep="last")
        return cv, dv


def _ids(r, first: int, n: int) -> np.ndarray:
    """Increasing HubSpot-like ids with small random gaps."""
    return first + np.concatenate([[0], np.cumsum(r.integers(1, 40, max(n - 1, 0)))])[:n].astype(np.int64)


def _per_person(n, people_idx, values):
    out = np.zeros(n, dtype=values.dtype)
    out[people_idx] = values
    return out
