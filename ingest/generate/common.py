"""Shared constants and helpers of the sample-data generator.

All instants are int64 seconds since the Unix epoch (UTC).  Random numbers
come from numpy only (never from DuckDB), one independent stream per purpose,
so that adding draws to one part of the generator never shifts another part.
"""
from __future__ import annotations

import calendar
import zlib
from datetime import datetime, timezone

import numpy as np

DAY = 86_400
HOUR = 3_600
MINUTE = 60


def utc(y: int, m: int, d: int, hh: int = 0, mm: int = 0, ss: int = 0) -> int:
    return calendar.timegm((y, m, d, hh, mm, ss, 0, 0, 0))


START = utc(2024, 11, 1)                 # first instant of the data
END = utc(2026, 10, 31, 23, 59, 59)      # last instant of the base data
SNAP1 = utc(2025, 10, 31, 23, 59, 59)    # first CRM snapshot
XSTART = END + 1                         # the optional extra day
XEND = END + DAY
XDAY = "2026-11-01"
INF = np.iinfo(np.int64).max // 4        # "never" (still safe to add offsets)

# share of each kind of activity that lands on the extra day
XFRAC = 0.01
# malformed-row rate per file type (parse-level damage only)
DAMAGE_RATE = 0.00075


def months() -> list[tuple[str, int, int]]:
    """(label, first instant, last instant) of every month of the base span."""
    out = []
    y, m = 2024, 11
    while (y, m) <= (2026, 10):
        ny, nm = (y + 1, 1) if m == 12 else (y, m + 1)
        out.append((f"{y:04d}-{m:02d}", utc(y, m, 1), utc(ny, nm, 1) - 1))
        y, m = ny, nm
    return out


def iso(ts: int) -> str:
    return datetime.fromtimestamp(int(ts), tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def rng(seed: int, *keys: str) -> np.random.Generator:
    """An independent, reproducible random stream per (seed, purpose)."""
    return np.random.default_rng([int(seed) & 0xFFFFFFFF] + [zlib.crc32(k.encode()) for k in keys])


def pick(r: np.random.Generator, n: int, probs) -> np.ndarray:
    """Categorical codes 0..k-1 drawn with the given probabilities."""
    p = np.asarray(probs, dtype=float)
    c = np.cumsum(p / p.sum())
    c[-1] = 1.0
    return np.searchsorted(c, r.random(n), side="right").astype(np.int8)


def lognormal(r: np.random.Generator, n: int, median: float, sigma: float) -> np.ndarray:
    return np.exp(np.log(median) + sigma * r.standard_normal(n))


def activity_times(r: np.random.Generator, lo: np.ndarray, frac: float = XFRAC) -> np.ndarray:
    """Instants uniform in [lo, END]; a share `frac` falls on the extra day.

    Rows whose lower bound is already past END (people who only appear on the
    extra day) are drawn uniformly between lo and XEND.
    """
    lo = np.asarray(lo, dtype=np.int64)
    n = len(lo)
    u, v = r.random(n), r.random(n)
    span = np.maximum(END - lo, 0)
    t = lo + (span * v).astype(np.int64)
    xday = XSTART + (v * (DAY - 1)).astype(np.int64)
    t = np.where((u < frac) & (lo <= XSTART), np.maximum(xday, lo), t)
    late = lo > END
    t[late] = lo[late] + ((XEND - lo[late]) * v[late]).astype(np.int64)
    return np.minimum(t, XEND)


def poisson_times(r: np.random.Generator, lo: np.ndarray, per_year: float | np.ndarray):
    """A Poisson number of instants per row, at `per_year` over [lo, END].

    Returns (row index of each instant, instants); see activity_times.
    """
    lo = np.asarray(lo, dtype=np.int64)
    k = r.poisson(np.asarray(per_year) * np.maximum(END - lo, 0) / (365 * DAY))
    rows = np.repeat(np.arange(len(lo)), k)
    return rows, activity_times(r, lo[rows])


# ---------------------------------------------------------------- time zones
def _dst_bounds(std_hours: int) -> np.ndarray:
    """UTC instants where US daylight saving starts/ends, 2023-2028."""
    out = []
    for y in range(2023, 2029):
        # second Sunday of March, 02:00 local standard time
        d = 1 + (6 - calendar.weekday(y, 3, 1)) % 7 + 7
        out.append(utc(y, 3, d, 2) - std_hours * HOUR)
        # first Sunday of November, 02:00 local daylight time
        d = 1 + (6 - calendar.weekday(y, 11, 1)) % 7
        out.append(utc(y, 11, d, 2) - (std_hours + 1) * HOUR)
    return np.array(out, dtype=np.int64)


_ZONES = {"America/New_York": (-5, _dst_bounds(-5)), "America/Denver": (-7, _dst_bounds(-7))}


def to_local(ts: np.ndarray, zone: str) -> np.ndarray:
    """Wall-clock seconds in `zone` for UTC instants (negative stays negative)."""
    std, bounds = _ZONES[zone]
    ts = np.asarray(ts, dtype=np.int64)
    dst = (np.searchsorted(bounds, ts, side="right") % 2) == 1
    return ts + (std + dst.astype(np.int64)) * HOUR


def scramble(i: np.ndarray, bits: int = 64) -> np.ndarray:
    """A bijection on [0, 2**bits): unique ids that do not look sequential."""
    x = np.asarray(i, dtype=np.uint64)
    mask = np.uint64((1 << bits) - 1) if bits < 64 else np.uint64(0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        x = (x * np.uint64(0x9E3779B97F4A7C15)) & mask
        x ^= x >> np.uint64(bits // 2)
        x = (x * np.uint64(0xBF58476D1CE4E5B9)) & mask
        x ^= x >> np.uint64(bits // 3)
    return x


def unique_draw(r: np.random.Generator, n: int, low: int, high: int) -> np.ndarray:
    """n distinct integers in [low, high), drawn reproducibly."""
    x = r.integers(low, high, n)
    while True:
        _, first = np.unique(x, return_index=True)
        dup = np.ones(n, dtype=bool)
        dup[first] = False
        if not dup.any():
            return x
        x[dup] = r.integers(low, high, int(dup.sum()))


def sql_list(values) -> str:
    """A DuckDB list literal of strings (index it 1-based: list[code + 1])."""
    return "[" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in values) + "]"


# SQL macros shared by all writers (installed on every connection we open).
MACROS = [
    # format epoch seconds (already shifted to the wanted wall clock)
    "CREATE OR REPLACE MACRO ts_fmt(s, f) AS "
    "CASE WHEN s IS NULL OR s < 0 THEN NULL ELSE strftime(make_timestamp(s::BIGINT * 1000000), f) END",
    # RFC 4180 quoting for free-text fields
    "CREATE OR REPLACE MACRO csvq(x) AS CASE WHEN x IS NULL THEN NULL "
    "WHEN contains(x, ',') OR contains(x, '\"') OR contains(x, chr(10)) OR contains(x, chr(13)) "
    "THEN '\"' || replace(x, '\"', '\"\"') || '\"' ELSE x END",
    # integer cents -> 1234.50
    "CREATE OR REPLACE MACRO money(c) AS "
    "CASE WHEN c IS NULL OR c < 0 THEN NULL ELSE (c // 100)::VARCHAR || '.' || lpad((c % 100)::VARCHAR, 2, '0') END",
    # HubSpot date: 0 = New York 'YYYY-MM-DD HH:MM', 1 = ISO UTC, 2 = New York 'MM/DD/YYYY HH:MM'
    "CREATE OR REPLACE MACRO crm_dt(u, ny, f) AS CASE WHEN u IS NULL OR u < 0 THEN NULL "
    "WHEN f = 1 THEN ts_fmt(u, '%Y-%m-%dT%H:%M:%SZ') WHEN f = 2 THEN ts_fmt(ny, '%m/%d/%Y %H:%M') "
    "ELSE ts_fmt(ny, '%Y-%m-%d %H:%M') END",
]
