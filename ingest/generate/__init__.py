"""Deterministic generator of realistic customer-experience exports.

    from ingest.generate import generate
    summary = generate(Path("data/landing"), customers=5000, seed=42)

writes HubSpot, Zendesk, Mailchimp, GA4, ad-platform and Qualtrics exports
into `out_dir` (one folder per source) and the ground truth next to it (by
default `out_dir.parent / "ground_truth"`).  See docs/SAMPLE_DATA.md.
"""
from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Callable

from .campaigns import build as build_campaigns
from .common import XDAY
from .crm import Crm
from .mailchimp import Mail
from .people import People
from .support import Support
from .survey import Survey
from .truth import Truth
from .web import Web
from .writer import Sink, connect

__all__ = ["generate", "ENTITIES", "SOURCES"]

ENTITIES = ["crm_contacts", "crm_deals", "support_tickets", "marketing_email_activity", "marketing_web_sessions",
            "marketing_ad_spend", "survey_responses"]
SOURCES = ["crm", "support", "marketing", "survey"]
_OURS = re.compile(r"^(hubspot_(contacts|deals)_\d{4}-\d{2}-\d{2}\.csv|zendesk_tickets_[\d-]+\.jsonl|"
                   r"(mailchimp_activity|ga4_sessions|ad_spend|qualtrics_cx)_[\d-]+\.csv)$")


def generate(out_dir: Path, customers: int = 5000, seed: int = 42, truth_dir: Path | None = None,
             extra_day: bool = False, progress: Callable[[str], None] | None = None) -> dict:
    """Write the sample landing folder and its ground truth; return a summary.

    Same (customers, seed) -> byte-identical files.  With ``extra_day`` the
    same base files are written plus delta files for 2026-11-01, and the
    ground truth covers base + delta.
    """
    t0 = time.time()
    if customers < 1:
        raise ValueError("customers must be >= 1")
    out_dir = Path(out_dir)
    truth_dir = Path(truth_dir) if truth_dir is not None else out_dir.parent / "ground_truth"
    o, t = out_dir.resolve(), truth_dir.resolve()
    if t == o or o in t.parents:
        raise ValueError(f"truth_dir {truth_dir} must not be inside out_dir {out_dir}")
    say = progress or (lambda _msg: None)

    con = connect()
    try:
        sink = Sink(out_dir, seed, con)
        camps = build_campaigns(seed)
        P = People(customers, seed, camps, con)
        truth = Truth(P, camps, con)
        say(f"people: {customers} persons (+{P.nd} on the extra day)")

        crm = Crm(P, camps, seed)
        crm.write(sink, P.emails("crm", seed), extra_day, say)
        truth.add_crm(crm)

        sup = Support(P, crm, seed)
        sup.write(sink, P.emails("zendesk", seed), extra_day, say)
        truth.add_support(sup)

        mail = Mail(P, crm, camps, seed)
        mail.write(sink, P.emails("mailchimp", seed), extra_day, say)
        truth.add_mail(mail)

        web = Web(P, crm, camps, mail, seed)
        del mail
        web.write(sink, P.emails("ga4", seed), extra_day, say)
        ad_cents = web.write_ad_spend(sink, customers, seed, extra_day, say)
        truth.add_web(web, ad_cents)
        del web

        srv = Survey(P, crm, sup, seed)
        srv.write(sink, P.emails("qualtrics", seed), extra_day, say)
        truth.add_survey(srv)

        _remove_stale(out_dir, set(sink.files))
        meta = {"customers": customers, "seed": seed, "extra_day": extra_day,
                "start": "2024-11-01T00:00:00Z", "end": (XDAY + "T23:59:59Z") if extra_day else "2026-10-31T23:59:59Z"}
        truth.write(truth_dir, sink.files, P.N if extra_day else P.n, meta)
        say(f"ground truth written to {truth_dir}")
    finally:
        con.close()
    return {"out_dir": str(out_dir), "truth_dir": str(truth_dir), "customers": customers, "seed": seed,
            "extra_day": extra_day, "files": len(sink.files),
            "rows": {e: sink.rows.get(e, 0) for e in ENTITIES}, "seconds": round(time.time() - t0, 2)}


def _remove_stale(out_dir: Path, written: set[str]) -> None:
    """Delete generator files left by an earlier run that this run did not write."""
    for src in SOURCES:
        d = out_dir / src
        if not d.is_dir():
            continue
        for f in d.iterdir():
            if f.is_file() and _OURS.match(f.name) and f"{src}/{f.name}" not in written:
                f.unlink()


