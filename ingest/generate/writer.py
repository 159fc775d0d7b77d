"""Writes the export files through DuckDB and injects the few malformed rows.

Each output line is assembled in SQL from a pandas DataFrame (numbers, codes
and pre-built strings) and written by `COPY ... (FORMAT csv, QUOTE '')`: with
quoting disabled DuckDB writes every line verbatim, so the generator has full
control of the CSV quoting (see the `csvq` macro) and can also write the rare
broken rows (an extra field, a bad date, a truncated JSON line).  DuckDB keeps
the row order of a plain scan, so the output is byte-for-byte reproducible.
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

from .common import DAMAGE_RATE, MACROS, rng

BAD_DATES = ["31/31/2025", "not a date", "2025-02-30 25:61", "13/45/2025 10:00"]


@dataclass
class Col:
    name: str                   # header name, exactly as in the export
    expr: str                   # SQL producing the (already CSV-safe) text or NULL
    bad: list[str] | None = None  # parse-breaking replacement values, if damageable
    kind: str | None = None       # "bad_date" | "bad_number" for damageable columns


def date_col(name: str, expr: str) -> Col:
    return Col(name, expr, BAD_DATES, "bad_date")


def num_col(name: str, expr: str, bad: list[str]) -> Col:
    return Col(name, expr, bad, "bad_number")


@dataclass
class Sink:
    out_dir: Path
    seed: int
    con: duckdb.DuckDBPyConnection = None
    files: dict = field(default_factory=dict)
    rows: dict = field(default_factory=dict)

    def __post_init__(self):
        if self.con is None:
            self.con = connect()

    # ------------------------------------------------------------ damage
    def _damage(self, rel: str, n: int, kinds: dict[str, float], cols: list[Col], force: bool):
        """Pick the broken records of one file: returns (codes, entries).

        code 0 = intact, 1 = ragged (extra field), 2 = truncated JSON,
        10 + 4*j + v = column j replaced by its bad value v.
        """
        codes = np.zeros(n, dtype=np.int16)
        r = rng(self.seed, "damage", rel)
        k = int(r.binomial(n, DAMAGE_RATE)) if n else 0
        if force and n >= 20:
            k = max(k, 1)
        if not k:
            return codes, []
        pos = np.sort(r.choice(n, size=k, replace=False))
        names = list(kinds)
        which = r.choice(len(names), size=k, p=np.array(list(kinds.values())) / sum(kinds.values()))
        damageable = {kd: [j for j, c in enumerate(cols) if c.kind == kd] for kd in ("bad_date", "bad_number")}
        out = []
        for p, w in zip(pos, which):
            kind = names[w]
            if kind in ("ragged", "bad_json"):
                codes[p] = 1 if kind == "ragged" else 2
                out.append((int(p), None, kind))
            else:
                j = int(r.choice(damageable[kind]))
                v = int(r.integers(0, len(cols[j].bad)))
                codes[p] = 10 + 4 * j + v
                out.append((int(p), cols[j].name, kind))
        return codes, out

    def _copy(self, rel: str, df: pd.DataFrame, line_sql: str, header: str | None):
        path = self.out_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        self.con.register("_src", df)
        alias = '"' + (header or "line").replace('"', '""') + '"'
        target = str(path).replace("'", "''")
        self.con.execute(
            f"COPY (SELECT {line_sql} AS {alias} FROM _src) TO '{target}' "
            f"(FORMAT csv, HEADER {'true' if header is not None else 'false'}, QUOTE '', DELIMITER '\x1f')")
        self.con.unregister("_src")

    def _record(self, rel, entity, n, entries, header_lines, nl):
        mal = []
        if entries:
            before = np.zeros(n + 1, dtype=np.int64)
            if nl is not None:
                before[1:] = np.cumsum(nl)
            for p, col, kind in entries:
                mal.append({"record": p + 1, "line": int(header_lines + 1 + p + before[p]),
                            "column": col, "kind": kind})
        self.files[rel] = {"entity": entity, "data_rows": int(n), "malformed_rows": len(mal), "malformed": mal}
        self.rows[entity] = self.rows.get(entity, 0) + int(n)

    # ------------------------------------------------------------ writers
    def csv(self, rel: str, entity: str, df: pd.DataFrame, cols: list[Col], *,
            header_rows: list[list[str]] | None = None, kinds: dict[str, float] | None = None,
            force: bool = False, nl: np.ndarray | None = None) -> np.ndarray:
        """Write one CSV export; returns the boolean mask of damaged rows."""
        n = len(df)
        kinds = kinds or {"ragged": 1.0}
        codes, entries = self._damage(rel, n, kinds, cols, force)
        parts = []
        for j, c in enumerate(cols):
            e = c.expr
            if c.bad:
                lo = 10 + 4 * j
                e = (f"CASE WHEN _dmg BETWEEN {lo} AND {lo + 3} THEN "
                     f"({_lit(c.bad)})[_dmg - {lo - 1}] ELSE {e} END")
            parts.append(f"coalesce({e}, '')")
        line = "concat_ws(',', " + ", ".join(parts) + ")"
        # A ragged record carries one field too many, as when a value held an unquoted comma. (A bare
        # trailing delimiter would not do: readers, DuckDB's included, accept an empty trailing field.)
        line = f"CASE WHEN _dmg = 1 THEN {line} || ',Inc.' ELSE {line} END"
        rows = header_rows or [[c.name for c in cols]]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows(rows)
        header = buf.getvalue()[:-1]
        self._copy(rel, df.assign(_dmg=codes), line, header)
        self._record(rel, entity, n, entries, len(rows), nl)
        return codes != 0

    def jsonl(self, rel: str, entity: str, df: pd.DataFrame, json_sql: str, force: bool = False) -> np.ndarray:
        n = len(df)
        codes, entries = self._damage(rel, n, {"bad_json": 1.0}, [], force)
        line = (f"CASE WHEN _dmg = 2 THEN left(({json_sql})::VARCHAR, length(({json_sql})::VARCHAR) // 2) "
                f"ELSE ({json_sql})::VARCHAR END")
        self._copy(rel, df.assign(_dmg=codes), line, None)
        self._record(rel, entity, n, entries, 0, None)
        return codes != 0


def _lit(values: list[str]) -> str:
    return "[" + ", ".join("'" + v.replace("'", "''") + "'" for v in values) + "]"


def connect() -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("SET memory_limit = '1536MB'")
    con.execute("SET preserve_insertion_order = true")
    con.execute("SET enable_progress_bar = false")
    for m in MACROS:
        con.execute(m)
    return con
