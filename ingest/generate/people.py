"""The real persons behind the exports, and their identifiers as typed.

Every person has one primary e-mail address (unique, built from the name),
maybe a phone number (unique), an acquisition instant with its marketing
source, and presence flags saying which systems will know them.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import names as N
from .campaigns import GOOGLE, META, Campaigns
from .common import DAY, END, START, XSTART, pick, rng, sql_list

SOURCES = ["Organic Search", "Paid Search", "Email Marketing", "Social Media", "Referrals",
           "Other Campaigns", "Direct Traffic", "Offline Sources", "Paid Social"]
SOURCE_P = [25, 15, 8, 10, 10, 4, 18, 4, 6]
ORGANIC, PAID_SEARCH, EMAIL_MKT, SOCIAL, REFERRALS, OTHER_CAMP, DIRECT, OFFLINE, PAID_SOCIAL = range(9)

UTM_SOURCES = ["google", "bing", "newsletter", "facebook", "instagram", "linkedin", "twitter", "g2.com",
               "capterra.com", "producthunt.com", "reddit.com", "partner", "(direct)"]
UTM_MEDIUMS = ["cpc", "paid_social", "email", "organic", "referral", "(none)"]
OFFLINE_DD1 = ["IMPORT", "CRM_UI", "INTEGRATION"]

# e-mail spellings: 0 canonical lower, 1 Cased, 2 Cased + Domain, 3 UPPER, 4 ' lower',
# 5 'Cased ', 6 ' Cased  ', 7 Upper-first
EMAIL_VARIANT_P = {
    "crm": [55, 25, 5, 2, 4, 4, 2, 3],
    "zendesk": [70, 10, 3, 2, 5, 5, 2, 3],
    "mailchimp": [75, 12, 2, 1, 4, 3, 1, 2],
    "ga4": [80, 10, 0, 1, 3, 3, 1, 2],
    "qualtrics": [65, 15, 3, 2, 5, 5, 2, 3],
}
EMAIL_VARIANT_SQL = """CASE v WHEN 0 THEN canon WHEN 1 THEN cased WHEN 2 THEN casedcap
 WHEN 3 THEN upper(canon) WHEN 4 THEN ' ' || canon WHEN 5 THEN cased || ' '
 WHEN 6 THEN ' ' || cased || '  ' ELSE upper(canon[1]) || canon[2:] END"""
# phone spellings (US): 0 +1 (AAA) EEE-LLLL, 1 AAA.EEE.LLLL, 2 1AAAEEELLLL, 3 (AAA) EEE-LLLL,
# 4 AAA-EEE-LLLL, 5 +1 AAA EEE LLLL.  Non-US numbers get international spellings.
PHONE_SQL = """CASE WHEN NOT has_phone THEN NULL
 WHEN country = 0 THEN CASE v % 6
   WHEN 0 THEN '+1 (' || d[2:4] || ') ' || d[5:7] || '-' || d[8:11]
   WHEN 1 THEN d[2:4] || '.' || d[5:7] || '.' || d[8:11]
   WHEN 2 THEN d
   WHEN 3 THEN '(' || d[2:4] || ') ' || d[5:7] || '-' || d[8:11]
   WHEN 4 THEN d[2:4] || '-' || d[5:7] || '-' || d[8:11]
   ELSE '+1 ' || d[2:4] || ' ' || d[5:7] || ' ' || d[8:11] END
 WHEN country = 1 THEN CASE v % 3 WHEN 0 THEN '+44 20 ' || d[5:8] || ' ' || d[9:12]
   WHEN 1 THEN '0044 20 ' || d[5:12] ELSE '+' || d END
 ELSE CASE v % 3 WHEN 0 THEN '+49 30 ' || d[5:12] WHEN 1 THEN '+49 (0)30 ' || d[5:8] || ' ' || d[9:12]
   ELSE '+' || d END END"""


class People:
    def __init__(self, customers: int, seed: int, camps: Campaigns, con):
        self.con = con
        self.n = n = int(customers)
        self.nd = nd = max(1, round(n * 0.01))           # new persons of the extra day
        self.N = N_ = n + nd
        r = rng(seed, "people")
        u = r.random(n)
        acq = START + (np.where(r.random(n) < 0.5, u, u ** 0.6) * (END - START - DAY)).astype(np.int64)
        acq_x = XSTART + r.integers(0, DAY - 4 * 3600, nd)
        self.acq = np.concatenate([acq, acq_x])
        self.fi = r.integers(0, len(N.FIRST), N_).astype(np.int16)
        self.li = r.integers(0, len(N.LAST), N_).astype(np.int16)
        pat = pick(r, N_, [30, 15, 15, 8, 15, 7, 10])
        yy = r.integers(0, 100, N_).astype(np.int16)
        dom = pick(r, N_, N.DOMAIN_P)
        # phones: 70 % have one; 97 % US, 2 % UK, 1 % DE; unique digits
        self.has_phone = r.random(N_) < 0.70
        self.country = pick(r, N_, [97, 2, 1])
        area = np.array(N.US_AREA, dtype=np.int64)[r.integers(0, len(N.US_AREA), N_)]
        local = np.zeros(N_, dtype=np.int64)
        us = self.country == 0
        key = np.zeros(N_, dtype=np.int64)
        key[us] = area[us] * 10_000_000
        local[us] = r.integers(2_000_000, 10_000_000, int(us.sum()))
        local[~us] = r.integers(20_000_000, 90_000_000, int((~us).sum()))
        key += local
        key[~us] += np.where(self.country[~us] == 1, 10**12, 2 * 10**12)
        while True:   # redraw duplicates until every number is unique
            _, first = np.unique(key, return_index=True)
            dup = np.ones(N_, dtype=bool)
            dup[first] = False
            if not dup.any():
                break
            local[dup] += r.integers(1, 1000, int(dup.sum()))
            local[dup & us] = 2_000_000 + local[dup & us] % 8_000_000
            local[dup & ~us] = 20_000_000 + local[dup & ~us] % 70_000_000
            key = np.where(us, area * 10_000_000, np.where(self.country == 1, 10**12, 2 * 10**12)) + local
        self.area, self.local = area, local

        # presence in the systems
        self.in_crm = r.random(N_) < 0.85
        self.cust = self.in_crm & (r.random(N_) < 0.45)
        crm_nc = self.in_crm & ~self.cust
        ur = r.random((5, N_))
        self.sup = np.where(self.cust, ur[0] < 0.70, np.where(crm_nc, ur[0] < 0.22, ur[0] < 0.50))
        self.eml = np.where(self.in_crm, ur[1] < 0.78, ur[1] < 0.48)
        self.web = np.where(self.in_crm, ur[2] < 0.65, ur[2] < 0.35)
        self.srv = np.where(self.cust, ur[3] < 0.62, np.where(crm_nc, ur[3] < 0.25, ur[3] < 0.33))
        lonely = ~(self.in_crm | self.sup | self.eml | self.web | self.srv)
        which = (ur[4] * 4).astype(int)
        for k, arr in enumerate((self.sup, self.eml, self.web, self.srv)):
            arr[lonely & (which == k)] = True

        # acquisition source, drill-down, campaign, first-session UTM
        src = pick(r, N_, SOURCE_P)
        self.acq_camp = np.full(N_, -1, dtype=np.int16)
        m = src == PAID_SEARCH
        self.acq_camp[m] = camps.choose(r, GOOGLE, self.acq[m])
        m = src == PAID_SOCIAL
        self.acq_camp[m] = camps.choose(r, META, self.acq[m])
        m = src == EMAIL_MKT
        self.acq_camp[m] = camps.last_email(self.acq[m])
        src[(src == EMAIL_MKT) & (self.acq_camp < 0)] = ORGANIC
        self.src = src
        us_ = np.full(N_, 12, dtype=np.int8)            # (direct)
        med = np.full(N_, 5, dtype=np.int8)             # (none)
        v = r.random(N_)
        sel = src == ORGANIC
        us_[sel], med[sel] = np.where(v[sel] < 0.85, 0, 1), 3
        sel = src == PAID_SEARCH
        us_[sel], med[sel] = 0, 0
        sel = src == EMAIL_MKT
        us_[sel], med[sel] = 2, 2
        sel = src == SOCIAL
        us_[sel], med[sel] = np.array([5, 3, 6, 4])[(v[sel] * 4).astype(int)], 4
        sel = src == REFERRALS
        us_[sel], med[sel] = np.array([7, 8, 9, 10])[(v[sel] * 4).astype(int)], 4
        sel = src == OTHER_CAMP
        us_[sel], med[sel] = 11, 4
        sel = src == PAID_SOCIAL
        us_[sel], med[sel] = np.where(v[sel] < 0.7, 3, 4), 1
        self.acq_utm_source, self.acq_utm_medium = us_, med
        self.offline_dd1 = (v * 3).astype(np.int8)

        # strings, built in DuckDB once
        self.first = np.array(N.FIRST, dtype=object)[self.fi]
        self.last = np.array(N.LAST, dtype=object)[self.li]
        con.register("_p", pd.DataFrame({"p": np.arange(N_), "fi": self.fi, "li": self.li, "pat": pat, "yy": yy,
                                         "dom": dom, "has_phone": self.has_phone, "country": self.country,
                                         "area": area, "local": local}))
        con.execute(f"""CREATE OR REPLACE TEMP TABLE _p1 AS
            SELECT *, regexp_replace(({sql_list(N.FIRST)})[fi + 1], '[^A-Za-z]', '', 'g') AS f,
                      regexp_replace(({sql_list(N.LAST)})[li + 1], '[^A-Za-z]', '', 'g') AS l,
                      ({sql_list(N.DOMAINS)})[dom + 1] AS domain,
                      CASE country WHEN 0 THEN '1' || area::VARCHAR || local::VARCHAR
                                   WHEN 1 THEN '4420' || local::VARCHAR ELSE '4930' || local::VARCHAR END AS d
            FROM _p""")
        con.execute("""CREATE OR REPLACE TEMP TABLE _p2 AS
            SELECT *, CASE pat WHEN 0 THEN f || '.' || l WHEN 1 THEN f || l WHEN 2 THEN f[1] || l
                WHEN 3 THEN f || '_' || l WHEN 4 THEN f || '.' || l || lpad(yy::VARCHAR, 2, '0')
                WHEN 5 THEN l || '.' || f ELSE f || lpad(yy::VARCHAR, 2, '0') END AS loc FROM _p1""")
        con.execute("""CREATE OR REPLACE TEMP TABLE people AS
            SELECT p, has_phone, country, d, f, l,
                   lower(loc2) || '@' || domain AS canon, loc2 || '@' || domain AS cased,
                   loc2 || '@' || upper(domain[1]) || domain[2:] AS casedcap
            FROM (SELECT *, loc || CASE WHEN row_number() OVER (PARTITION BY lower(loc), domain ORDER BY p) > 1
                                       THEN '_' || (p + 1)::VARCHAR ELSE '' END AS loc2 FROM _p2)
            ORDER BY p""")
        con.execute("DROP TABLE _p1; DROP TABLE _p2")
        con.unregister("_p")
        self.canon = self._fetch("canon", None)
        self.digits = self._fetch("CASE WHEN has_phone THEN d END", None)

    # --------------------------------------------------------------- strings
    def _fetch(self, expr: str, v: np.ndarray | None) -> np.ndarray:
        if v is None:
            v = np.zeros(self.N, dtype=np.int8)
        self.con.register("_v", pd.DataFrame({"p": np.arange(self.N), "v": v}))
        res = self.con.execute(f"SELECT {expr} AS x FROM people JOIN _v USING (p) ORDER BY p").fetchnumpy()["x"]
        self.con.unregister("_v")
        return _objects(res)

    def emails(self, system: str, seed: int) -> np.ndarray:
        """Every person's primary address as typed into `system` (fixed per person)."""
        v = pick(rng(seed, "email-variant", system), self.N, EMAIL_VARIANT_P[system])
        return self._fetch(EMAIL_VARIANT_SQL, v)

    def phones(self, v: np.ndarray) -> np.ndarray:
        """Phone numbers spelled with format code v (None where the person has none)."""
        return self._fetch(PHONE_SQL, v)

    def second_emails(self) -> np.ndarray:
        """A work address per person that no system other than the help desk knows."""
        res = self.con.execute(f"""SELECT loc || CASE WHEN row_number() OVER (PARTITION BY loc, dom ORDER BY p) > 1
                THEN (p + 1)::VARCHAR ELSE '' END || '@' || dom AS x
            FROM (SELECT p, CASE p % 3 WHEN 0 THEN lower(f) || '.' || lower(l) WHEN 1
                         THEN lower(f) || lower(l) ELSE lower(f[1] || l) END AS loc,
                         ({sql_list(N.WORK_DOMAINS)})[p % {len(N.WORK_DOMAINS)} + 1] AS dom FROM people)
            ORDER BY p""").fetchnumpy()["x"]
        return _objects(res)

    def pid(self, idx: np.ndarray) -> np.ndarray:
        return np.char.add("P", np.char.zfill((np.asarray(idx) + 1).astype(str), 7)).astype(object)


def _objects(res) -> np.ndarray:
    """A fetched DuckDB column as a plain object array (NULL -> None)."""
    if isinstance(res, np.ma.MaskedArray):
        out = np.asarray(res.data, dtype=object)
        out[np.ma.getmaskarray(res)] = None
        return out
    return np.asarray(res, dtype=object)
