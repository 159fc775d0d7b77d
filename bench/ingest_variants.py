"""What-if timings for the ingest's parse query, on the files of a landing folder (no ingest code changes).

    .venv/bin/python bench/ingest_variants.py --landing /tmp/cxw-bench-100k/landing --repeat 3

For every entity, each variant materialises the parse of all its files into a fresh DuckDB file, as
the loader's `CREATE TEMP TABLE _cxw_parsed AS <plan>` does, and reports the median seconds:

- bare: `CREATE TABLE AS SELECT * FROM read_csv/read_json(file, ignore_errors=true)` (sniffed types);
- plan: the loader's own query (ingest.readers.build_parse_plan), i.e. read + type + check;
- plan_all_varchar: the same query with every column declared VARCHAR: no typing, no checks, so
  plan - plan_all_varchar is what typing and checking cost;
- plan_no_timestamp_typing: only TIMESTAMP columns declared VARCHAR: what timestamp parsing costs;
- plan_ts_cast_first: TIMESTAMP columns typed by a plain TRY_CAST first, the strptime format lists
  only for values the cast cannot read (a candidate optimisation; same results for ISO-8601 input);
- plan_json_one_pass (JSON Lines only): all paths extracted by one json_extract_string(doc, [paths])
  call instead of one call per column (a candidate optimisation).
Variants are run round-robin per repeat so they share the machine's noise.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import statistics
import sys
import time
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import duckdb  # noqa: E402

from ingest import readers  # noqa: E402
from ingest.loader import discover  # noqa: E402
from ingest.settings import get_settings  # noqa: E402
from ingest.spec import load_specs, match_spec  # noqa: E402

_original_typed = readers._typed


def _ts_cast_first(col, value, spec, p):
    if col.type != "TIMESTAMP":
        return _original_typed(col, value, spec, p)
    stripped = f"nullif(trim({value}), '')"
    tz = p.add(spec.timestamps.timezone)
    slow = _original_typed(col, value, spec, p)
    # Offset-bearing ISO text casts to TIMESTAMPTZ; naive text casts to TIMESTAMP in the spec's zone.
    fast = (f"CASE WHEN regexp_matches({stripped}, '([+-]\\d\\d:?\\d\\d|[Zz])$') "
            f"THEN timezone('UTC', TRY_CAST({stripped} AS TIMESTAMPTZ)) "
            f"ELSE timezone('UTC', timezone({tz}, TRY_CAST({stripped} AS TIMESTAMP))) END")
    return f"coalesce({fast}, {slow})"


def _retyped(spec, which: str):
    cols = tuple(dataclasses.replace(c, type="VARCHAR") if which == "all" or c.type == which else c
                 for c in spec.columns)
    return dataclasses.replace(spec, columns=cols)


def _json_one_pass(sql: str, spec, params: dict) -> str:
    """Replace each per-column json_extract_string(_json, $pN) by an element of one list extraction."""
    paths = [c.source for c in spec.columns]
    names: dict[str, str] = {}
    for k, v in params.items():  # the extraction parameters come before the reasons' labels
        if isinstance(v, str) and v in paths:
            names.setdefault(v, k)
    for i, path in enumerate(paths):
        sql = sql.replace(f"json_extract_string(_json, ${names[path]})", f"_vals[{i + 1}]")
    params["paths"] = paths
    for k in [k for k in params if not re.search(rf"\${k}\b", sql) and k != "paths"]:
        del params[k]  # DuckDB refuses parameters the statement does not use
    return sql.replace("CASE WHEN json_valid(_line) THEN _line END AS _json FROM",
                       "CASE WHEN json_valid(_line) THEN _line END AS _json, "
                       "json_extract_string(CASE WHEN json_valid(_line) THEN _line END, $paths) AS _vals FROM", 1)


def variant_sql(name: str, spec, path: Path) -> tuple[str, dict]:
    if name == "bare":
        reader = ("read_json($f, format='newline_delimited', ignore_errors=true)" if spec.format == "jsonl"
                  else "read_csv($f, ignore_errors=true)")
        return f"SELECT * FROM {reader}", {"f": str(path)}
    readers._typed = _ts_cast_first if name == "plan_ts_cast_first" else _original_typed
    try:
        use = {"plan_all_varchar": _retyped(spec, "all"),
               "plan_no_timestamp_typing": _retyped(spec, "TIMESTAMP")}.get(name, spec)
        plan = readers.build_parse_plan(use, path)
    finally:
        readers._typed = _original_typed
    params = dict(plan.params)
    sql = _json_one_pass(plan.sql, spec, params) if name == "plan_json_one_pass" else plan.sql
    return sql, params


def time_variant(name: str, spec, files: list[Path], db: Path) -> float:
    db.unlink(missing_ok=True)
    con = duckdb.connect(str(db))
    con.execute("SET TimeZone = 'UTC'")
    t0 = time.perf_counter()
    for i, path in enumerate(files):
        sql, params = variant_sql(name, spec, path)
        try:
            con.execute(f"CREATE TABLE t{i} AS {sql}", params)
        except duckdb.Error:
            if name != "bare" or path.stat().st_size:  # bare DuckDB cannot type an empty JSON file
                raise
        for t in (readers.REJECTS_TABLE, readers.REJECTS_SCAN):
            con.execute(f"DROP TABLE IF EXISTS temp.{t}")
    con.close()
    seconds = time.perf_counter() - t0
    db.unlink(missing_ok=True)
    return seconds


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--landing", type=Path, required=True)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--entities", nargs="*")
    ap.add_argument("--scratch", type=Path, default=Path("/tmp/cxw-ingest-variants.duckdb"))
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    specs = load_specs(get_settings().specs_dirs)
    by_entity: dict[str, list[Path]] = {}
    for rel, path, refusal in discover(args.landing):
        spec = None if refusal else match_spec(specs, rel)
        if spec and (not args.entities or spec.entity in args.entities):
            by_entity.setdefault(spec.entity, []).append(path)
    out = {}
    for entity, files in sorted(by_entity.items()):
        spec = next(s for s in specs if s.entity == entity)
        names = ["bare", "plan", "plan_all_varchar"]
        if any(c.type == "TIMESTAMP" for c in spec.columns):
            names += ["plan_no_timestamp_typing", "plan_ts_cast_first"]
        if spec.format == "jsonl":
            names.append("plan_json_one_pass")
        runs = {n: [] for n in names}
        for _ in range(args.repeat):
            for n in names:
                runs[n].append(time_variant(n, spec, files, args.scratch))
        out[entity] = {n: round(statistics.median(v), 3) for n, v in runs.items()}
        mb = sum(p.stat().st_size for p in files) / 1e6
        print(f"{entity} ({len(files)} files, {mb:,.0f} MB): "
              + ", ".join(f"{n} {s:.2f}s" for n, s in out[entity].items()), flush=True)
    # A variant that does not apply to an entity (no timestamps, not JSON) is the plan itself there.
    variants = ["bare", "plan", "plan_all_varchar", "plan_no_timestamp_typing", "plan_ts_cast_first",
                "plan_json_one_pass"]
    total = {n: round(sum(v.get(n, v["plan"]) for v in out.values()), 3) for n in variants}
    print("all entities:", json.dumps(total))
    if args.out:
        args.out.write_text(json.dumps({"per_entity": out, "total": total}, indent=1))
    return out


if __name__ == "__main__":
    main()
