"""Zendesk tickets: monthly incremental exports (JSON Lines, metric_set sideloaded)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from . import names as NM
from .common import (DAY, HOUR, INF, MINUTE, XDAY, XEND, XSTART, lognormal, months, pick, poisson_times, rng,
                     sql_list, unique_draw)
from .crm import Crm
from .people import People
from .writer import Sink

CHANNELS = ["email", "web", "chat", "api", "voice", "mobile"]
TYPES = ["question", "incident", "problem", "task"]
PRIORITIES = ["low", "normal", "high", "urgent"]
STATUSES = ["new", "open", "pending", "hold", "solved", "closed"]
NEW, OPEN, PENDING, HOLD, SOLVED, CLOSED = range(6)
SCORES = ["unoffered", "offered", "good", "bad"]
COMMENTS = ["Thanks, quick help!", "Great support, solved in minutes", "Very friendly agent",
            "Took too long to get an answer", "Problem not solved", "Had to explain everything twice"]
OFFSETS = [2, -5, 1, -8, -4, 9]
# event columns: created, assigned, first reply, customer reply/hold, solved, reopened, solved again,
# rated, closed
C_, A_, R_, O_, S1, RO, S2, RT, CL = range(9)

_ZTS = ("CASE WHEN {s} IS NULL OR {s} < 0 THEN NULL WHEN off = 0 THEN ts_fmt({s}, '%Y-%m-%dT%H:%M:%SZ') "
        "ELSE ts_fmt({s} + off * 3600, '%Y-%m-%dT%H:%M:%S') || CASE WHEN off > 0 THEN '+' ELSE '-' END "
        "|| lpad(abs(off)::VARCHAR, 2, '0') || ':00' END")


def _z(col):
    return _ZTS.format(s=col)


def _n(col):
    return f"CASE WHEN {col} < 0 THEN NULL ELSE {col} END"


class Support:
    def __init__(self, P: People, crm: Crm, seed: int):
        self.P, self.crm = P, crm
        r = rng(seed, "support")
        sp = np.flatnonzero(P.sup)
        ci = crm.of_person[sp]
        incrm = ci >= 0
        tc = np.where(incrm, crm.st[np.maximum(ci, 0), 5], INF)
        create = np.where(incrm, crm.create[np.maximum(ci, 0)], P.acq[sp])
        start = np.where(tc < XEND - DAY, tc, create)
        first = start + 10 * MINUTE + r.exponential(45 * DAY, len(sp)).astype(np.int64)
        ok = first <= XEND
        rows, more = poisson_times(r, first[ok], 1.2)
        owner = np.concatenate([sp[ok], sp[ok][rows]])
        c = np.concatenate([first[ok], more])
        order = np.argsort(c, kind="stable")
        owner, c = owner[order], c[order]
        m = self.m = len(c)
        self.owner, self.id = owner, 1001 + np.arange(m, dtype=np.int64)
        self.tpl = r.integers(0, len(NM.TICKET_TEMPLATES), m).astype(np.int8)
        tpl_type = np.array([TYPES.index(t[1]) if t[1] else -1 for t in NM.TICKET_TEMPLATES])
        self.type = np.where(r.random(m) < 0.1, -1, tpl_type[self.tpl]).astype(np.int8)
        self.channel = pick(r, m, [50, 20, 15, 3, 8, 4])
        self.prio = (pick(r, m, [20, 20, 40, 15, 5]) - 1).astype(np.int8)
        cat = np.array([t[0] for t in NM.TICKET_TEMPLATES])[self.tpl]
        grp = np.where(cat == "billing", 1, np.where(cat == "bug", 2, 0))
        self.group = np.where(P.cust[owner] & (r.random(m) < 0.1), 3, grp).astype(np.int8)
        self.agent = r.integers(0, len(NM.AGENTS), m).astype(np.int8)
        self.off = np.where(r.random(m) < 0.05, np.array(OFFSETS)[r.integers(0, len(OFFSETS), m)], 0).astype(np.int8)
        # lifecycle
        E = np.full((m, 9), INF, dtype=np.int64)
        E[:, C_] = c
        spam = r.random(m) < 0.03
        reply = np.maximum(lognormal(r, m, 110 * MINUTE, 1.1).astype(np.int64), MINUTE)
        E[:, R_] = np.where(spam, INF, c + reply)
        E[:, A_] = np.where(spam, INF, c + (reply * r.uniform(0.05, 0.9, m)).astype(np.int64))
        one = ~spam & (r.random(m) < 0.4)
        res = np.where(one, r.integers(MINUTE, 30 * MINUTE, m), lognormal(r, m, 18 * HOUR, 1.3).astype(np.int64))
        res = np.where(~one & (r.random(m) < 0.05), lognormal(r, m, 12 * DAY, 0.6).astype(np.int64), res)
        s1 = np.where(spam, c + r.integers(5 * MINUTE, 2 * HOUR, m), E[:, R_] + res)
        E[:, A_] = np.where(spam, s1 - MINUTE, E[:, A_])
        E[:, S1] = s1
        multi = ~spam & ~one
        E[:, O_] = np.where(multi, E[:, R_] + ((s1 - E[:, R_]) * r.uniform(0.3, 0.7, m)).astype(np.int64), INF)
        self.hold = multi & (r.random(m) < 0.08)
        reopen = ~spam & (r.random(m) < 0.08)
        E[:, RO] = np.where(reopen, s1 + r.integers(HOUR, 3 * DAY, m), INF)
        E[:, S2] = np.where(reopen, E[:, RO] + lognormal(r, m, 6 * HOUR, 1.0).astype(np.int64) + MINUTE, INF)
        sf = np.where(reopen, E[:, S2], s1)
        rated = ~spam & (r.random(m) < 0.32)
        E[:, RT] = np.where(rated, sf + r.integers(30 * MINUTE, 3 * DAY, m), INF)
        E[:, CL] = sf + 4 * DAY
        self.E, self.sf, self.spam, self.one = E, sf, spam, one
        self.good = r.random(m) < 0.8
        self.comment = np.where(r.random(m) < 0.5, -1, np.where(self.good, r.integers(0, 3, m), r.integers(3, 6, m)))
        self.offered = r.random(m) < 0.6
        self.replies = np.where(spam, 0, np.where(one, 1, 2 + r.poisson(1.5, m)))
        self.bf = r.uniform(0.2, 0.6, m)
        self.ast = 1 + (r.random(m) < 0.2)
        self.gst = 1 + (r.random(m) < 0.1)
        # the requester (a Zendesk user per person)
        N = P.N
        self.user_id = 361_000_000_000 + unique_draw(r, N, 0, 10**11)
        self.name_mode = pick(r, N, [85, 10, 5])
        in_crm = crm.of_person >= 0
        self.second = in_crm & (r.random(N) < 0.05)
        self.unlinkable = self.second & (r.random(N) < 0.10)
        ext = in_crm & (r.random(N) < 0.30)
        show_phone = P.has_phone & (self.second | (r.random(N) < 0.15)) & ~self.unlinkable
        ext = (ext | (self.second & ~P.has_phone)) & ~self.unlinkable
        self.ext, self.show_phone = ext, show_phone
        crm_v = np.zeros(N, dtype=np.int64)
        crm_v[crm.cp] = crm.phone_v
        self.phone_v = ((crm_v + r.integers(1, 6, N)) % 6).astype(np.int8)
        self.versions: list[pd.DataFrame] = []

    def state(self, idx, T):
        E = self.E[idx]
        le = E <= T
        col = np.where(le[:, :], np.arange(9)[None, :], -1)
        col[:, RT] = -1                                   # a rating does not change the status
        last = col.max(1)
        hold = self.hold[idx]
        status_of = np.array([NEW, OPEN, PENDING, OPEN, SOLVED, OPEN, SOLVED, SOLVED, CLOSED])
        status = status_of[last]
        status = np.where((last == O_) & hold, HOLD, status)
        updated = np.where(le, E, 0).max(1)
        c = E[:, C_]
        rep = np.where(le[:, R_], np.maximum((E[:, R_] - c + 30) // 60, 1), -1)
        solved = (status == SOLVED) | (status == CLOSED)
        sat = np.where(le[:, S2], E[:, S2], E[:, S1])
        full = np.where(solved, np.maximum((sat - c + 30) // 60, 1), -1)
        bf = self.bf[idx]
        reps = self.replies[idx]
        prog = np.clip((T - E[:, R_]) / np.maximum(E[:, S1] - E[:, R_], 1), 0, 1)
        replies = np.where(~le[:, R_], 0, np.where(le[:, S1], reps, 1 + ((reps - 1) * prog).astype(np.int64)))
        replies = replies + le[:, S2]
        rated = le[:, RT]
        score = np.where(rated, np.where(self.good[idx], 2, 3), np.where(solved & self.offered[idx], 1, 0))
        return dict(status=status, updated=updated, rep=rep, repb=np.where(rep >= 0, (rep * bf).astype(np.int64), -1),
                    full=full, fullb=np.where(full >= 0, (full * bf).astype(np.int64), -1),
                    solved_at=np.where(solved, sat, -1), reopens=le[:, RO].astype(np.int64), replies=replies,
                    assigned=le[:, A_], score=score, comment=np.where(rated, self.comment[idx], -1))

    def write(self, sink: Sink, emails: np.ndarray, extra_day: bool, progress) -> None:
        P = self.P
        second = P.second_emails()
        rq_email = np.where(self.second, second, emails)
        del second
        rq_phone = np.where(self.show_phone, P.phones(self.phone_v), None)
        rid = self.crm.rid[np.maximum(self.crm.of_person, 0)] if self.crm.C else np.zeros(P.N, dtype=np.int64)
        rec = np.where(self.ext, rid.astype(str), None)
        periods = [(lab, ms, me) for lab, ms, me in months()] + ([(XDAY, XSTART, XEND)] if extra_day else [])
        last_label = months()[-1][0]
        for ver, (label, ms, me) in enumerate(periods):
            E = self.E
            idx = np.flatnonzero(((E >= ms) & (E <= me)).any(1))
            s = self.state(idx, me)
            o = self.owner[idx]
            df = pd.DataFrame({
                "id": self.id[idx], "ch": self.channel[idx], "cu": self.E[idx, C_], "uu": s["updated"],
                "off": self.off[idx], "ty": self.type[idx], "tpl": self.tpl[idx], "pr": self.prio[idx],
                "st": s["status"], "rq": self.user_id[o], "fn": P.first[o], "ln": P.last[o],
                "nm": self.name_mode[o], "em": rq_email[o], "ph": rq_phone[o], "ex": rec[o],
                "ag": np.where(s["assigned"], self.agent[idx], -1), "gr": self.group[idx], "sc": s["score"],
                "cm": s["comment"], "rc": s["rep"], "rb": s["repb"], "fc": s["full"], "fb": s["fullb"],
                "sa": s["solved_at"], "ro": s["reopens"], "rp": s["replies"],
                "ast": np.where(s["assigned"], self.ast[idx], 0), "gst": self.gst[idx]})
            bad = sink.jsonl(f"support/zendesk_tickets_{label}.jsonl", "support_tickets", df, self._json(),
                             force=(label == last_label))
            self.versions.append(pd.DataFrame({"t": idx, "ver": ver, "bad": bad, "status": s["status"],
                                               "rep": s["rep"], "score": s["score"]}))
            if progress and (label.endswith("-12") or label in (last_label, XDAY)):
                progress(f"support: tickets {label}: {len(idx)} lines")

    def _json(self) -> str:
        T = NM.TICKET_TEMPLATES
        agents = NM.AGENTS
        a_ids = [372_000_000_000 + 7919 * (k + 1) for k in range(len(agents))]
        a_mail = [a.lower().replace(" ", ".") + "@acme.com" for a in agents]
        return f"""json_object(
            'id', id, 'url', 'https://acme.zendesk.com/api/v2/tickets/' || id::VARCHAR || '.json',
            'external_id', NULL, 'via', json_object('channel', ({sql_list(CHANNELS)})[ch + 1]),
            'created_at', {_z('cu')}, 'updated_at', {_z('uu')},
            'type', CASE WHEN ty >= 0 THEN ({sql_list(TYPES)})[ty + 1] END,
            'subject', ({sql_list([t[2] for t in T])})[tpl + 1],
            'description', ({sql_list([t[3] for t in T])})[tpl + 1],
            'priority', CASE WHEN pr >= 0 THEN ({sql_list(PRIORITIES)})[pr + 1] END,
            'status', ({sql_list(STATUSES)})[st + 1], 'requester_id', rq,
            'requester', json_object('id', rq, 'name', CASE nm WHEN 0 THEN fn || ' ' || ln WHEN 1 THEN fn
                                                    ELSE lower(fn || ' ' || ln) END,
                                     'email', em, 'phone', ph, 'external_id', ex),
            'assignee_id', CASE WHEN ag >= 0 THEN ({a_ids})[ag + 1] END,
            'assignee', CASE WHEN ag >= 0 THEN json_object('id', ({a_ids})[ag + 1],
                'name', ({sql_list(agents)})[ag + 1], 'email', ({sql_list(a_mail)})[ag + 1]) END,
            'group_id', ({[g[0] for g in NM.GROUPS]})[gr + 1],
            'tags', to_json(string_split(({sql_list([t[4] for t in T])})[tpl + 1], ',')),
            'satisfaction_rating', json_object('score', ({sql_list(SCORES)})[sc + 1],
                'comment', CASE WHEN cm >= 0 THEN ({sql_list(COMMENTS)})[cm + 1] END),
            'metric_set', json_object(
                'reply_time_in_minutes', json_object('calendar', {_n('rc')}, 'business', {_n('rb')}),
                'full_resolution_time_in_minutes', json_object('calendar', {_n('fc')}, 'business', {_n('fb')}),
                'solved_at', {_z('sa')}, 'reopens', ro, 'replies', rp, 'assignee_stations', ast,
                'group_stations', gst))"""

    def latest(self) -> pd.DataFrame:
        v = pd.concat(self.versions, ignore_index=True)
        return v[~v.bad].sort_values(["t", "ver"], kind="stable").drop_duplicates("t", keep="last")
