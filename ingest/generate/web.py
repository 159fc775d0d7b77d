"""GA4 sessions and the daily ad spend of the paid campaigns behind them."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import names as NM
from .campaigns import GOOGLE, META, PLATFORM, Campaigns
from .common import (DAY, START, XDAY, XEND, XSTART, activity_times, lognormal, months, pick, poisson_times, rng,
                     scramble,
                     sql_list)
from .crm import Crm
from .mailchimp import Mail
from .people import UTM_MEDIUMS, UTM_SOURCES, People
from .writer import Col, Sink, date_col, num_col

SESSION_HEADER = ["session_id", "client_id", "user_id", "user_email", "session_start", "utm_source", "utm_medium",
                  "utm_campaign", "landing_page", "pageviews", "engaged", "conversions"]
AD_HEADER = ["Day", "Platform", "Campaign ID", "Campaign", "Impressions", "Clicks", "Cost", "Currency"]
CPC, PAID_SOCIAL, EMAIL_M, ORGANIC_M, REFERRAL_M, NONE_M = range(6)
_REFERRERS = [7, 8, 9, 10, 5, 11]   # g2.com, capterra.com, producthunt.com, reddit.com, linkedin, partner


class Web:
    def __init__(self, P: People, crm: Crm, camps: Campaigns, mail: Mail, seed: int):
        self.P, self.camps = P, camps
        r = rng(seed, "ga4")
        N = P.N
        wp = np.flatnonzero(P.web)
        # every web person's first (acquisition) session: a form fill that agrees with the CRM source
        t0 = np.maximum(P.acq[wp] - r.integers(0, 600, len(wp)), START)
        # later sessions
        rows, t1 = poisson_times(r, P.acq[wp] + 3600, r.gamma(2.0, 6.0, len(wp)))
        who1 = wp[rows]
        src1, med1, camp1 = self._utm(r, t1, P.eml[who1])
        # sessions that follow an e-mail click
        cw, ct, cc = mail.clicks()
        m = r.random(len(cw)) < 0.6
        cw, ct, cc = cw[m], ct[m] + r.integers(2, 20, int(m.sum())), cc[m]
        # anonymous visitors who never identify themselves
        n_anon = int(0.04 * (len(wp) + len(who1) + len(cw)))
        n_vis = max(1, N // 3)
        vis = r.integers(0, n_vis, n_anon)
        t3 = activity_times(r, np.full(n_anon, START))
        src3, med3, camp3 = self._utm(r, t3, np.zeros(n_anon, dtype=bool))
        who = np.concatenate([wp, who1, cw, np.full(n_anon, -1)])
        t = np.concatenate([t0, t1, ct, t3])
        src = np.concatenate([P.acq_utm_source[wp], src1, np.full(len(cw), 2), src3]).astype(np.int8)
        med = np.concatenate([P.acq_utm_medium[wp], med1, np.full(len(cw), EMAIL_M), med3]).astype(np.int8)
        camp = np.concatenate([P.acq_camp[wp], camp1, cc, camp3]).astype(np.int16)
        kind = np.concatenate([np.zeros(len(wp)), np.ones(len(who1)), np.full(len(cw), 2),
                               np.full(n_anon, 3)]).astype(np.int8)
        n = len(t)
        # identification: logged in (user_id = HubSpot Record ID) and/or a form fill (user_email)
        ci = np.where(who >= 0, crm.of_person[np.maximum(who, 0)], -1)
        known = (who >= 0) & P.web[np.maximum(who, 0)]
        logged_in_ok = (ci >= 0) & (t >= np.where(ci >= 0, crm.create[np.maximum(ci, 0)], 0))
        u, u2 = r.random(n), r.random(n)
        first = kind == 0
        uid = known & ~first & logged_in_ok & (u < 0.70)           # logged in
        uem = known & first                                          # the acquisition form fill
        uem |= known & ~first & (ci >= 0) & (u >= 0.70) & (u < 0.82)  # a form fill while logged out
        uem |= uid & (u2 < 0.08)                                     # a form fill while logged in
        uem |= known & ~first & (ci < 0) & (u < 0.5)                 # people unknown to the CRM
        self.rid = np.where(uid, crm.rid[np.maximum(ci, 0)] if crm.C else 0, -1)
        self.uem = uem
        order = np.argsort(t, kind="stable")
        keep = order[t[order] <= XEND]
        vis = np.concatenate([np.full(n - n_anon, -1), vis])
        for name, arr in (("who", who), ("t", t), ("src", src), ("med", med), ("camp", camp), ("kind", kind),
                          ("rid", self.rid), ("uem", self.uem), ("vis", vis)):
            setattr(self, name, arr[keep])
        n = self.n = len(keep)
        self.sid = scramble(np.arange(n, dtype=np.uint64))
        self.landing = np.where(self.kind == 0, np.array([1, 6, 10, 7])[r.integers(0, 4, n)],
                                r.integers(0, len(NM.LANDING_PAGES), n)).astype(np.int8)
        self.pv = (r.geometric(0.35, n)).astype(np.int16)
        self.engaged = (self.pv > 1) | (r.random(n) < 0.25)
        self.conv = np.where(self.kind == 0, 1, (r.random(n) < 0.03).astype(np.int8) * (1 + (r.random(n) < 0.2)))
        self.iso = r.random(n) < 0.1
        self.dev = (r.random(n) < 0.3).astype(np.int64)
        self.cid_rand = r.integers(1_000_000_000, 2_147_483_647, (N + n_vis, 2))
        # client_id = random part + first-visit instant (never after the browser's first session)
        first_vis = np.full(n_vis, XEND, dtype=np.int64)
        np.minimum.at(first_vis, vis[kind == 3], t[kind == 3])
        self.cid_first = np.concatenate([np.maximum(P.acq - 600, START), first_vis])
        self.ok = np.zeros(n, dtype=bool)

    def _utm(self, r, t, email_ok):
        """Source / medium / campaign of a returning visit."""
        n = len(t)
        ch = pick(r, n, [33, 27, 10, 14, 6, 10])   # organic, direct, email, cpc, paid social, referral
        src = np.full(n, 12, dtype=np.int8)
        med = np.full(n, NONE_M, dtype=np.int8)
        camp = np.full(n, -1, dtype=np.int16)
        v = r.random(n)
        m = ch == 0
        src[m], med[m] = np.where(v[m] < 0.85, 0, 1), ORGANIC_M
        m = ch == 2
        last = self.camps.last_email(t[m])
        ok = email_ok[m] & (last >= 0)
        sub = np.flatnonzero(m)[ok]
        src[sub], med[sub], camp[sub] = 2, EMAIL_M, last[ok]
        m = np.flatnonzero(ch == 3)
        c = self.camps.choose(r, GOOGLE, t[m])
        src[m], med[m], camp[m] = 0, CPC, c
        m = np.flatnonzero(ch == 4)
        c = self.camps.choose(r, META, t[m])
        src[m], med[m], camp[m] = np.where(v[m] < 0.7, 3, 4), PAID_SOCIAL, c
        m = ch == 5
        src[m], med[m] = np.array(_REFERRERS)[(v[m] * len(_REFERRERS)).astype(int)], REFERRAL_M
        return src, med, camp

    def write(self, sink: Sink, emails: np.ndarray, extra_day: bool, progress) -> None:
        camps = self.camps
        periods = [(f"marketing/ga4_sessions_{lab}.csv", ms, me) for lab, ms, me in months()]
        if extra_day:
            periods.append((f"marketing/ga4_sessions_{XDAY}.csv", XSTART, XEND))
        cols = [Col("session_id", "format('{:016x}', sid)"),
                Col("client_id", "cr::VARCHAR || '.' || cf::VARCHAR"),
                Col("user_id", "CASE WHEN rid >= 0 THEN rid::VARCHAR END"), Col("user_email", "em"),
                date_col("session_start", "CASE WHEN iso THEN ts_fmt(ts, '%Y-%m-%dT%H:%M:%S') || '+00:00' "
                         "ELSE ts_fmt(ts, '%Y-%m-%d %H:%M:%S') END"),
                Col("utm_source", f"({sql_list(UTM_SOURCES)})[src + 1]"),
                Col("utm_medium", f"({sql_list(UTM_MEDIUMS)})[med + 1]"),
                Col("utm_campaign", f"CASE WHEN camp >= 0 THEN ({sql_list(camps.name)})[camp + 1] END"),
                Col("landing_page", f"({sql_list(NM.LANDING_PAGES)})[lp + 1]"),
                num_col("pageviews", "pv::VARCHAR", ["n/a", "NaN pages", "-", "?"]),
                Col("engaged", "CASE WHEN eng THEN 'true' ELSE 'false' END"), Col("conversions", "conv::VARCHAR")]
        P = self.P
        for rel, lo, hi in periods:
            a, b = np.searchsorted(self.t, lo, "left"), np.searchsorted(self.t, hi, "right")
            w = self.who[a:b]
            dev = np.where(w >= 0, np.maximum(w, 0), P.N + np.maximum(self.vis[a:b], 0))
            d = self.dev[a:b] * (w >= 0)
            df = pd.DataFrame({
                "sid": self.sid[a:b], "cr": self.cid_rand[dev, d], "cf": self.cid_first[dev], "rid": self.rid[a:b],
                "em": np.where(self.uem[a:b], emails[np.maximum(w, 0)], None), "ts": self.t[a:b],
                "iso": self.iso[a:b], "src": self.src[a:b], "med": self.med[a:b], "camp": self.camp[a:b],
                "lp": self.landing[a:b], "pv": self.pv[a:b], "eng": self.engaged[a:b], "conv": self.conv[a:b]})
            bad = sink.csv(rel, "marketing_web_sessions", df, cols,
                           kinds={"ragged": 0.5, "bad_date": 0.3, "bad_number": 0.2})
            self.ok[a:b] = ~bad
        if progress:
            progress(f"marketing: {len(periods)} GA4 files, {self.n} sessions")

    # -------------------------------------------------------------- ad spend
    def write_ad_spend(self, sink: Sink, n_customers: int, seed: int, extra_day: bool, progress) -> int:
        """Daily cost rows of every active paid campaign; returns the undamaged total in cents."""
        camps = self.camps
        r = rng(seed, "ad-spend")
        ndays = (XEND - START) // DAY + 1
        paid = np.flatnonzero(camps.kind != 0)
        sess = (self.med <= PAID_SOCIAL) & (self.camp >= 0)
        cnt = np.bincount(self.camp[sess].astype(np.int64) * ndays + (self.t[sess] - START) // DAY,
                          minlength=len(camps.name) * ndays).reshape(len(camps.name), ndays)
        days = np.arange(ndays)
        rows = []
        for j in paid:
            d = days[(START + days * DAY >= (camps.start[j] // DAY) * DAY) & (START + days * DAY <= camps.end[j])]
            rows.append((np.full(len(d), j), d))
        camp = np.concatenate([x[0] for x in rows]).astype(np.int16)
        day = np.concatenate([x[1] for x in rows]).astype(np.int64)
        order = np.lexsort((camp, day))
        camp, day = camp[order], day[order]
        s = cnt[camp, day]
        base = camps.weight[camp] * max(n_customers, 1) / 5000 * 0.3
        clicks = s + r.poisson(0.12 * s + base)
        ctr = camps.ctr[camp] * lognormal(r, len(camp), 1.0, 0.2)
        impressions = np.round(clicks / ctr).astype(np.int64) + r.poisson(3 + base * 10)
        cents = np.round(clicks * camps.cpc[camp] * lognormal(r, len(camp), 1.0, 0.25) * 100).astype(np.int64)
        self.ad = dict(camp=camp, day=day, cents=cents)
        cols = [date_col("Day", "ts_fmt(dts, '%Y-%m-%d')"),
                Col("Platform", f"CASE WHEN kind = {GOOGLE} THEN '{PLATFORM[GOOGLE]}' ELSE '{PLATFORM[META]}' END"),
                Col("Campaign ID", f"({sql_list(camps.cid)})[camp + 1]"),
                Col("Campaign", f"({sql_list(camps.name)})[camp + 1]"), Col("Impressions", "imp::VARCHAR"),
                num_col("Clicks", "clicks::VARCHAR", ["N/A", "--", "n/a", "twelve"]),
                num_col("Cost", "money(cents)", ["N/A", "$--", "n/a", "#ERROR"]), Col("Currency", "'USD'")]
        periods = [(lab, ms, me) for lab, ms, me in months()] + ([(XDAY, XSTART, XEND)] if extra_day else [])
        dts = START + day * DAY
        total = 0
        for label, ms, me in periods:
            m = (dts >= ms) & (dts <= me)
            df = pd.DataFrame({"dts": dts[m], "kind": camps.kind[camp[m]], "camp": camp[m], "imp": impressions[m],
                               "clicks": clicks[m], "cents": cents[m]})
            bad = sink.csv(f"marketing/ad_spend_{label}.csv", "marketing_ad_spend", df, cols,
                           kinds={"ragged": 0.3, "bad_number": 0.7})
            total += int(cents[m][~bad].sum())
        if progress:
            progress(f"marketing: {len(periods)} ad spend files")
        return total

