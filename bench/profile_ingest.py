"""Where the ingest's time goes: hashing, planning, DuckDB parse+typing, inserts, bookkeeping, checkpoint.

Runs the real `ingest.loader.ingest` on a fresh warehouse with two harmless instruments and no change
to the ingest code: the connection handed to `ingest` is a proxy that times every statement and files
it under a bucket by what the statement does, and `file_sha256` / `build_parse_plan` are wrapped with
timers (the hash runs in the loader's background thread beside the loads, so its time is reported
apart, as `hash_sha256_background`, and not added to the sum). With --cprofile, cProfile runs around the whole call too (its stats file lands beside the
result) for the Python side; it slows Python-heavy code 2-3x, so take bucket times from runs without
it. DuckDB work shows up in cProfile only as `execute`, hence the proxy.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import re
import time
from collections import defaultdict
from pathlib import Path

BUCKETS = [  # first match wins; patterns on the statement text with whitespace collapsed
    ("parse_type_check", r"^CREATE TEMP TABLE \"?_cxw_parsed"),
    ("structural_rejects", r"^CREATE TEMP TABLE \"?_cxw_structural|^SELECT count\(DISTINCT line\) FROM temp\."),
    ("insert_raw", r"^INSERT INTO \"?raw\"?\."),
    ("insert_rejects", r"^INSERT INTO \"?ops\"?\.\"?load_rejects"),
    ("drop_temp", r"^DROP TABLE IF EXISTS temp\."),
    ("manifest", r"ops\"?\.\"?load_manifest"),
    ("ddl", r"^CREATE|^ALTER|information_schema"),
]


def classify(sql: str) -> str:
    text = " ".join(sql.split())
    for name, pattern in BUCKETS:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return name
    return "other_sql"


class TimedConnection:
    """Passes everything to a DuckDB connection, adding each statement's time to a bucket."""

    def __init__(self, con, seconds: dict[str, float], per_entity: dict, current: dict):
        self._con = con
        self._seconds = seconds
        self._per_entity = per_entity
        self._current = current

    def _timed(self, bucket: str, fn, *args):
        t = time.perf_counter()
        try:
            return fn(*args)
        finally:
            spent = time.perf_counter() - t
            self._seconds[bucket] += spent
            self._per_entity[self._current.get("entity")][bucket] += spent

    def execute(self, sql, params=None):
        args = (sql,) if params is None else (sql, params)
        return self._timed(classify(sql), self._con.execute, *args)

    def begin(self):
        return self._timed("transaction", self._con.begin)

    def commit(self):
        return self._timed("commit", self._con.commit)

    def rollback(self):
        return self._timed("transaction", self._con.rollback)

    def __getattr__(self, name):
        return getattr(self._con, name)


def profile_ingest(args: dict) -> dict:
    import ingest.loader as loader
    from ingest.settings import get_settings
    from ingest.spec import load_specs
    from ingest.warehouse import connect

    seconds: dict[str, float] = defaultdict(float)
    per_entity: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    current: dict[str, str | None] = {"entity": None}
    real = loader.file_sha256, loader.build_parse_plan, loader._load_batch

    def timed(bucket, fn):
        def wrapper(*a, **kw):
            t = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                spent = time.perf_counter() - t
                seconds[bucket] += spent
                per_entity[current["entity"]][bucket] += spent
        return wrapper

    def load_batch(con, batch, *a, **kw):  # a transaction of one entity's files (see CXW_INGEST_BATCH_MB)
        entity = batch[0].spec.entity
        current["entity"] = entity
        t = time.perf_counter()
        try:
            return real[2](con, batch, *a, **kw)
        finally:
            per_entity[entity]["load_file_total"] += time.perf_counter() - t

    def sha256(path):  # runs in the loader's background thread, beside the loads: kept out of the sum
        t = time.perf_counter()
        try:
            return real[0](path)
        finally:
            background["hash_sha256_background"] += time.perf_counter() - t

    background: dict[str, float] = defaultdict(float)
    loader.file_sha256 = sha256
    loader.build_parse_plan = timed("plan_header_python", real[1])
    loader._load_batch = load_batch
    specs = load_specs(get_settings().specs_dirs)
    warehouse = Path(args["warehouse"])
    landing = Path(args["landing"]).resolve()
    profiler = cProfile.Profile() if args.get("cprofile") else None  # it slows Python-heavy code 2-3x
    t0 = time.perf_counter()
    if profiler:
        profiler.enable()
    raw = connect(warehouse)
    con = TimedConnection(raw, seconds, per_entity, current)
    # One batch at a time: the proxy times statements of one connection, and loading batches at once
    # (CXW_INGEST_WORKERS) would run the others on connections it does not see.
    report = loader.ingest(con, Path(args["landing"]), specs, workers=1)
    t_close = time.perf_counter()
    raw.close()
    seconds["checkpoint_close"] += time.perf_counter() - t_close
    if profiler:
        profiler.disable()
    total = time.perf_counter() - t0
    loader.file_sha256, loader.build_parse_plan, loader._load_batch = real

    stats_path, text = None, io.StringIO()
    if profiler:
        stats_path = Path(args["result_path"]).with_suffix(".pstats")
        profiler.dump_stats(str(stats_path))
        pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
    accounted = sum(seconds.values())
    breakdown = {k: round(v, 3) for k, v in sorted(seconds.items(), key=lambda kv: -kv[1])}
    breakdown["python_and_rest"] = round(total - accounted, 3)
    # Hashing overlaps the loads (a background thread), so it is not part of the sum above.
    breakdown.update({k: round(v, 3) for k, v in background.items()})
    rows = sum(f.rows_read or 0 for f in report.files)
    nbytes = sum((Path(args["landing"]) / f.source_file).stat().st_size for f in report.files)
    return {"seconds": total, "rows": rows, "bytes": nbytes, "files": len(report.files), "breakdown_s": breakdown,
            "share": {k: round(v / total, 3) for k, v in breakdown.items()},
            "per_entity_s": {str(e): {k: round(v, 3) for k, v in sorted(b.items(), key=lambda kv: -kv[1])}
                             for e, b in per_entity.items()}, "pstats": str(stats_path) if stats_path else None,
            "cprofile_top_tottime": text.getvalue().splitlines()[:40]}
