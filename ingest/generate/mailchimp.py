"""Mailchimp e-mail activity: monthly exports that overlap by two days."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import names as NM
from .campaigns import EMAIL, Campaigns
from .common import DAY, HOUR, XDAY, XEND, XSTART, lognormal, months, rng, sql_list
from .crm import Crm
from .people import People
from .writer import Col, Sink, date_col

ACTIONS = ["sent", "open", "click", "bounce", "unsubscribe"]
SENT, OPEN, CLICK, BOUNCE, UNSUB = range(5)
HEADER = ["Email Address", "Campaign ID", "Campaign Title", "Action", "Timestamp", "URL"]


class Mail:
    def __init__(self, P: People, crm: Crm, camps: Campaigns, seed: int):
        self.P, self.camps = P, camps
        r = rng(seed, "mailchimp")
        ep = np.flatnonzero(P.eml)
        ci = crm.of_person[ep]
        sub = np.where(ci >= 0, crm.create[np.maximum(ci, 0)], P.acq[ep])
        eng = r.beta(1.3, 3.2, len(ep))
        clickp = r.beta(1.5, 8.0, len(ep))
        active = np.ones(len(ep), dtype=bool)
        camp_idx = np.flatnonzero(camps.kind == EMAIL)
        camp_idx = camp_idx[np.argsort(camps.start[camp_idx], kind="stable")]
        parts = []
        for j in camp_idx:
            T = int(camps.start[j])
            seg = 0.6 if camps.name[j].startswith("newsletter") else 0.5
            if T > XSTART:            # the extra day's campaign goes to a small segment
                seg = 0.15
            sel = np.flatnonzero(active & (sub <= T - HOUR) & (r.random(len(ep)) < seg))
            k = len(sel)
            sent = T + r.integers(0, 1200, k)
            bounce = r.random(k) < 0.004
            opened = ~bounce & (r.random(k) < eng[sel])
            t_open = sent + np.minimum(lognormal(r, k, 3 * HOUR, 1.4), 14 * DAY).astype(np.int64) + 1
            clicked = opened & (r.random(k) < clickp[sel])
            t_click = t_open + r.integers(5, 900, k)
            unsub = opened & (r.random(k) < 0.015)
            t_unsub = np.where(clicked, t_click, t_open) + r.integers(10, 600, k)
            active[sel[bounce | unsub]] = False
            page = r.integers(0, len(NM.EMAIL_LINK_PAGES), k)
            for act, m, t in ((SENT, None, sent), (BOUNCE, bounce, sent + r.integers(1, 60, k)),
                              (OPEN, opened, t_open), (CLICK, clicked, t_click), (UNSUB, unsub, t_unsub)):
                w = slice(None) if m is None else m
                n = k if m is None else int(m.sum())
                parts.append((ep[sel[w]], np.full(n, j, dtype=np.int16), np.full(n, act, dtype=np.int8), t[w],
                              np.where(act == CLICK, page[w], -1).astype(np.int8)))
        who, camp, act, ts, page = (np.concatenate([p[i] for p in parts]) for i in range(5))
        keep = ts <= XEND
        order = np.argsort(ts[keep], kind="stable")
        self.who, self.camp, self.act = who[keep][order], camp[keep][order], act[keep][order]
        self.ts, self.page = ts[keep][order], page[keep][order]
        self.ok = np.zeros(len(self.ts), dtype=bool)   # written undamaged at least once

    def clicks(self):
        m = self.act == CLICK
        return self.who[m], self.ts[m], self.camp[m]

    def write(self, sink: Sink, emails: np.ndarray, extra_day: bool, progress) -> None:
        camps = self.camps
        periods = []
        for i, (label, ms, me) in enumerate(months()):
            periods.append((f"marketing/mailchimp_activity_{label}.csv", ms - 2 * DAY if i else ms, me))
        if extra_day:
            periods.append((f"marketing/mailchimp_activity_{XDAY}.csv", XSTART, XEND))
        cols = [Col("Email Address", "em"), Col("Campaign ID", f"({sql_list(camps.cid)})[camp + 1]"),
                Col("Campaign Title", f"({sql_list(camps.name)})[camp + 1]"),
                Col("Action", f"({sql_list(ACTIONS)})[act + 1]"),
                date_col("Timestamp", "ts_fmt(ts, '%Y-%m-%d %H:%M:%S')"),
                Col("URL", f"CASE WHEN pg >= 0 THEN 'https://www.acme.com' || ({sql_list(NM.EMAIL_LINK_PAGES)})[pg + 1]"
                    f" || '?utm_source=newsletter&utm_medium=email&utm_campaign=' || "
                    f"({sql_list(camps.name)})[camp + 1] END")]
        for rel, lo, hi in periods:
            a, b = np.searchsorted(self.ts, lo, "left"), np.searchsorted(self.ts, hi, "right")
            df = pd.DataFrame({"em": emails[self.who[a:b]], "camp": self.camp[a:b], "act": self.act[a:b],
                               "ts": self.ts[a:b], "pg": self.page[a:b]})
            bad = sink.csv(rel, "marketing_email_activity", df, cols, kinds={"ragged": 0.5, "bad_date": 0.5})
            self.ok[a:b] |= ~bad
        if progress:
            progress(f"marketing: {len(periods)} mailchimp files, {int(self.ok.sum())} activity rows")
