"""Marketing campaigns shared by HubSpot, Mailchimp, GA4 and the ad platforms.

A campaign name is one string everywhere: HubSpot "Original Source
Drill-Down 2", GA4 `utm_campaign`, the ad-spend `Campaign` column and the
Mailchimp `Campaign Title`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .common import HOUR, START, XEND, XSTART, months, rng, utc

EMAIL, GOOGLE, META = 0, 1, 2
PLATFORM = {GOOGLE: "Google Ads", META: "Meta Ads"}

_PROMO = {11: "black_friday", 12: "holiday_gift_guide", 1: "new_year_kickoff", 2: "valentines_offer",
          3: "spring_launch", 4: "webinar_invite", 5: "product_update", 6: "summer_sale",
          7: "customer_stories", 8: "back_to_school", 9: "fall_release", 10: "halloween_deals"}


@dataclass
class Campaigns:
    name: list[str]
    kind: np.ndarray        # EMAIL / GOOGLE / META
    cid: list[str]          # platform campaign id
    start: np.ndarray       # email: send instant; paid: first active instant
    end: np.ndarray         # paid: last active instant (email: = start)
    weight: np.ndarray      # share of traffic among active campaigns of a platform
    cpc: np.ndarray         # median cost per click, USD
    ctr: np.ndarray         # click-through rate

    def active(self, kind: int, t: np.ndarray) -> np.ndarray:
        """(len(t), n_campaigns) weights of campaigns of `kind` active at t."""
        k = (self.kind == kind)
        w = np.where(k, self.weight, 0.0)[None, :]
        on = (self.start[None, :] <= t[:, None]) & (t[:, None] <= self.end[None, :])
        return w * on

    def choose(self, r: np.random.Generator, kind: int, t: np.ndarray) -> np.ndarray:
        """A campaign active at each instant (weighted), -1 if none."""
        if len(t) == 0:
            return np.zeros(0, dtype=np.int16)
        w = self.active(kind, t)
        tot = w.sum(1)
        c = np.cumsum(w, 1)
        u = r.random(len(t)) * tot
        idx = (c <= u[:, None]).sum(1)
        return np.where(tot > 0, np.minimum(idx, len(self.name) - 1), -1).astype(np.int16)

    def last_email(self, t: np.ndarray) -> np.ndarray:
        """The most recent e-mail campaign sent at or before t, -1 if none."""
        e = np.flatnonzero(self.kind == EMAIL)
        order = e[np.argsort(self.start[e], kind="stable")]
        pos = np.searchsorted(self.start[order], t, side="right") - 1
        return np.where(pos >= 0, order[np.maximum(pos, 0)], -1).astype(np.int16)


def build(seed: int) -> Campaigns:
    r = rng(seed, "campaigns")
    rows = []  # (name, kind, start, end, weight, cpc, ctr)
    for label, ms, _ in months():
        y, m = int(label[:4]), int(label[5:])
        rows.append((f"newsletter_{y}_{m:02d}", EMAIL, utc(y, m, 6, 15), None, 1, 0, 0))
        rows.append((f"{_PROMO[m]}_{y}", EMAIL, utc(y, m, 20, 16), None, 1, 0, 0))
    rows.append(("cyber_week_preview_2026", EMAIL, XSTART + 14 * HOUR, None, 1, 0, 0))
    paid = [
        ("search_brand", GOOGLE, START, XEND, 3.0, 1.2, 0.09),
        ("search_generic", GOOGLE, START, XEND, 2.0, 3.1, 0.035),
        ("search_competitor", GOOGLE, utc(2025, 5, 1), XEND, 1.0, 4.2, 0.025),
        ("search_black_friday_2024", GOOGLE, START, utc(2024, 12, 2, 23, 59, 59), 2.0, 2.4, 0.04),
        ("search_spring_promo_2025", GOOGLE, utc(2025, 3, 1), utc(2025, 4, 30, 23, 59, 59), 1.5, 2.2, 0.04),
        ("search_black_friday_2025", GOOGLE, utc(2025, 11, 1), utc(2025, 12, 1, 23, 59, 59), 2.0, 2.6, 0.04),
        ("search_spring_promo_2026", GOOGLE, utc(2026, 3, 1), utc(2026, 4, 30, 23, 59, 59), 1.5, 2.3, 0.04),
        ("search_fall_release_2026", GOOGLE, utc(2026, 9, 1), XEND, 1.5, 2.5, 0.04),
        ("meta_retargeting", META, START, XEND, 1.0, 0.8, 0.012),
    ]
    quarters = [("2024q4", START, utc(2025, 1, 1) - 1)]
    for y in (2025, 2026):
        for q in range(4):
            s = utc(y, 3 * q + 1, 1)
            e = utc(y + (q == 3), 1 if q == 3 else 3 * q + 4, 1) - 1
            quarters.append((f"{y}q{q + 1}", s, min(e, XEND)))
    for lab, s, e in quarters:
        paid.append((f"meta_prospecting_{lab}", META, s, e, 2.0, 0.9, 0.009))
    rows += paid
    kind = np.array([x[1] for x in rows], dtype=np.int8)
    start = np.array([x[2] for x in rows], dtype=np.int64)
    end = np.array([x[3] if x[3] is not None else x[2] for x in rows], dtype=np.int64)
    cids = []
    for k in kind:
        if k == EMAIL:
            cids.append("%010x" % int(r.integers(0, 16 ** 10)))
        elif k == GOOGLE:
            cids.append(str(int(r.integers(20_000_000_000, 23_000_000_000))))
        else:
            cids.append(str(int(r.integers(120_200_000_000_000_000, 120_230_000_000_000_000))))
    return Campaigns(
        name=[x[0] for x in rows], kind=kind, cid=cids, start=start, end=end,
        weight=np.array([x[4] for x in rows], dtype=float),
        cpc=np.array([x[5] for x in rows], dtype=float), ctr=np.array([x[6] for x in rows], dtype=float))
