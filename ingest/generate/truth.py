"""Ground truth: what a correct warehouse must find in the written files.

Everything here is computed over rows the generator wrote *undamaged*
(a malformed row is rejected by the warehouse), after the same
de-duplication the warehouse applies: latest version per contact, deal and
ticket; one row per survey ResponseId, per session and per e-mail event.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

from .campaigns import Campaigns
from .crm import WON, Crm
from .mailchimp import Mail
from .people import SOURCES, People
from .support import CLOSED, SOLVED, Support
from .survey import Survey
from .web import Web

ENTITIES = ["crm_contacts", "crm_deals", "support_tickets", "survey_responses", "marketing_web_sessions",
            "marketing_email_activity"]


class Truth:
    def __init__(self, P: People, camps: Campaigns, con):
        self.P, self.camps, self.con = P, camps, con
        self.records: dict[str, tuple] = {}
        self.m: dict = {}
        self.churn_at = np.full(P.N, -1, dtype=np.int64)
        self.crm_rid = np.full(P.N, -1, dtype=np.int64)

    def add_crm(self, crm: Crm) -> None:
        cv, dv = crm.latest()
        c = cv.c.to_numpy()
        p = crm.cp[c]
        self.records["crm_contacts"] = (crm.rid[c], p)
        self.crm_rid[p] = crm.rid[c]
        self.churn_at[p] = cv.cancel.to_numpy()
        d = dv.d.to_numpy()
        self.records["crm_deals"] = (crm.d_id[d], crm.cp[crm.d_contact[d]])
        won = dv.stage.to_numpy() == WON
        cents = int(dv.cents.to_numpy()[won].sum())
        self.m.update(crm_contacts=len(c), orders=int(won.sum()), revenue=round(cents / 100, 2),
                      churned_customers=int((cv.cancel.to_numpy() >= 0).sum()))

    def add_support(self, sup: Support) -> None:
        v = sup.latest()
        t = v.t.to_numpy()
        self.records["support_tickets"] = (sup.id[t], sup.owner[t])
        st, rep, sc = v.status.to_numpy(), v.rep.to_numpy(), v.score.to_numpy()
        self.unlinkable = sup.unlinkable
        self.m.update(tickets=len(t), tickets_solved=int(((st == SOLVED) | (st == CLOSED)).sum()),
                      median_first_reply_minutes=float(np.median(rep[rep >= 0])) if (rep >= 0).any() else None,
                      support_csat={"rated": int((sc >= 2).sum()), "good": int((sc == 2).sum())})

    def add_mail(self, mail: Mail) -> None:
        ok = mail.ok
        self.records["marketing_email_activity"] = (None, np.unique(mail.who[ok]))
        self.m["email_activity_rows"] = int(ok.sum())

    def add_web(self, web: Web, ad_cents: int) -> None:
        ident = web.ok & ((web.rid >= 0) | web.uem)
        self.records["marketing_web_sessions"] = (web.sid[ident], web.who[ident])
        self.m["sessions"] = int(web.ok.sum())
        self.m["ad_spend_total"] = round(ad_cents / 100, 2)

    def add_survey(self, srv: Survey) -> None:
        ok = srv.ok
        self.records["survey_responses"] = (srv.rid[ok], srv.who[ok])
        q1, q2, q3 = srv.q1[ok], srv.q2[ok], srv.q3[ok]
        month = pd.to_datetime(srv.rec[ok], unit="s").strftime("%Y-%m").to_numpy()
        s = _nps(q1)
        s.update(responses=int(ok.sum()), csat_responses=int((q2 >= 0).sum()),
                 csat_satisfied=int((q2 >= 4).sum()), ces_responses=int((q3 >= 0).sum()),
                 ces_mean=round(float(q3[q3 >= 0].mean()), 6) if (q3 >= 0).any() else None,
                 ces_easy=int((q3 >= 5).sum()))
        self.m["survey"] = s
        by = {}
        for mo in sorted(set(month[q1 >= 0])):
            x = _nps(q1[month == mo])
            by[mo] = {"responses": x["nps_responses"], "promoters": x["promoters"], "passives": x["passives"],
                      "detractors": x["detractors"], "nps": x["nps"]}
        self.m["nps_by_month"] = by

    # ------------------------------------------------------------------ write
    def write(self, truth_dir: Path, files: dict, scope: int, meta: dict) -> None:
        truth_dir.mkdir(parents=True, exist_ok=True)
        P, con = self.P, self.con
        (truth_dir / "files.json").write_text(json.dumps(dict(sorted(files.items())), indent=1) + "\n")
        present = {}
        frames = []
        for ent in ENTITIES:
            key, who = self.records.get(ent, (np.zeros(0), np.zeros(0, dtype=np.int64)))
            present[ent] = np.zeros(P.N, dtype=bool)
            present[ent][who] = True
            if ent == "marketing_email_activity":
                df = pd.DataFrame({"k": P.canon[who], "p": who})
                expr = "k"
            elif ent == "marketing_web_sessions":
                df, expr = pd.DataFrame({"k": key, "p": who}), "format('{:016x}', k)"
            else:
                df, expr = pd.DataFrame({"k": key, "p": who}), "k::VARCHAR"
            frames.append((ent, df, expr))
        out = truth_dir / "records.csv"
        with open(out, "wb") as fh:
            fh.write(b"entity,record_key,person_id\n")
            for i, (ent, df, expr) in enumerate(frames):
                part = truth_dir / f".records_{i}.csv"
                con.register("_r", df)
                con.execute(f"COPY (SELECT '{ent}', {expr}, 'P' || lpad((p + 1)::VARCHAR, 7, '0') FROM _r) "
                            f"TO '{_q(part)}' (FORMAT csv, HEADER false)")
                con.unregister("_r")
                with open(part, "rb") as src:
                    shutil.copyfileobj(src, fh, 1 << 20)
                part.unlink()
        # persons
        idx = np.arange(scope)
        in_any = np.zeros(P.N, dtype=bool)
        for v in present.values():
            in_any |= v
        churned = self.churn_at >= 0
        camp_names = np.array(self.camps.name + [""], dtype=object)
        persons = pd.DataFrame({
            "person_id": P.pid(idx), "email": P.canon[idx],
            "phone": np.where(P.digits[idx] == None, "", P.digits[idx]),  # noqa: E711
            "crm_record_id": np.where(self.crm_rid[idx] >= 0, self.crm_rid[idx].astype(str), ""),
            "in_crm": present["crm_contacts"][idx].astype(int),
            "in_support": present["support_tickets"][idx].astype(int),
            "in_email": present["marketing_email_activity"][idx].astype(int),
            "in_sessions": present["marketing_web_sessions"][idx].astype(int),
            "in_survey": present["survey_responses"][idx].astype(int),
            "linkable": (~(self.unlinkable[idx] & present["support_tickets"][idx])).astype(int),
            "churned": churned[idx].astype(int),
            "cancellation_at_utc": _iso_vec(self.churn_at[idx]),
            "acquisition_source": np.array(SOURCES, dtype=object)[P.src[idx]],
            "acquisition_campaign": camp_names[P.acq_camp[idx]]})
        con.register("_persons", persons)
        con.execute(f"COPY (SELECT * FROM _persons) TO '{_q(truth_dir / 'persons.csv')}' (FORMAT csv, HEADER true)")
        con.unregister("_persons")
        truth = {"generated_with": meta, "customers": int(in_any[:scope].sum())}
        for k in ("crm_contacts", "orders", "revenue", "churned_customers", "tickets", "tickets_solved",
                  "median_first_reply_minutes", "support_csat", "survey", "nps_by_month", "email_activity_rows",
                  "sessions", "ad_spend_total"):
            truth[k] = self.m.get(k)
        truth["unlinkable_persons"] = int((self.unlinkable[:scope] & present["support_tickets"][:scope]).sum())
        (truth_dir / "truth.json").write_text(json.dumps(truth, indent=1) + "\n")


def _nps(q1: np.ndarray) -> dict:
    q = q1[q1 >= 0]
    pro, pas, det = int((q >= 9).sum()), int(((q >= 7) & (q <= 8)).sum()), int((q <= 6).sum())
    n = len(q)
    return {"nps_responses": n, "promoters": pro, "passives": pas, "detractors": det,
            "nps": round(100 * (pro - det) / n, 4) if n else None}


def _iso_vec(ts: np.ndarray) -> np.ndarray:
    s = pd.to_datetime(np.maximum(ts, 0), unit="s").strftime("%Y-%m-%dT%H:%M:%SZ").to_numpy(dtype=object)
    return np.where(ts >= 0, s, "")



def _q(path: Path) -> str:
    return str(path).replace("'", "''")
