"""Peer: load the same export files into DuckDB with dlt. Runs in its own venv (/tmp/bench-venv), never
in the project's: dlt is a yardstick, not a dependency. Standard library, dlt, pyarrow, pandas only.

    /tmp/bench-venv/bin/python bench/dlt_peer.py ARGS.json

ARGS.json: {"mode": "arrow" | "filesystem", "files": [{"path", "rel", "entity", "format", "header_rows"}],
            "landing", "db", "pipelines_dir", "result_path"}

- arrow: each file read with pyarrow (pyarrow.csv / pyarrow.json) and the tables handed to
  `pipeline.run` (dlt's fastest documented path: arrow tables go to parquet and straight to DuckDB).
- filesystem: dlt's filesystem source with its `read_csv` / `read_jsonl` transformers (row by row,
  much slower; run it on a subset).
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path


def _arrow_table(f: dict, fallbacks: list[str]):
    import pyarrow as pa
    import pyarrow.csv as pcsv
    import pyarrow.json as pjson

    if os.path.getsize(f["path"]) == 0:
        return None
    if f["format"] == "jsonl":
        try:
            return pjson.read_json(f["path"])
        except pa.ArrowInvalid:  # a malformed line fails pyarrow's whole file: keep the good lines
            fallbacks.append(f["rel"])
            rows = []
            with open(f["path"], encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    try:
                        rows.append(json.loads(line))
                    except ValueError:
                        pass
            return pa.Table.from_pylist(rows)
    # Every CSV column as text: pyarrow infers types per file, a month holding one malformed date infers
    # text where the others infer timestamp, and dlt then fails the load casting it. (Our loader, too,
    # reads text and types it in SQL.)
    with open(f["path"], encoding="utf-8", newline="") as fh:
        names = next(csv.reader(fh))
    read = pcsv.ReadOptions(skip_rows_after_names=int(f.get("header_rows", 1)) - 1)
    parse = pcsv.ParseOptions(newlines_in_values=True, invalid_row_handler=lambda row: "skip")
    return pcsv.read_csv(f["path"], read_options=read, parse_options=parse,
                         convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names}))


def run_arrow(args: dict, pipeline) -> dict:
    import dlt

    by_entity = defaultdict(list)
    for f in args["files"]:
        by_entity[f["entity"]].append(f)
    fallbacks: list[str] = []
    rows = defaultdict(int)

    def tables(files):
        for f in files:
            table = _arrow_table(f, fallbacks)
            if table is not None and table.num_rows:
                rows[f["entity"]] += table.num_rows
                yield table

    resources = [dlt.resource(tables(files), name=entity, write_disposition="append")
                 for entity, files in by_entity.items()]
    info = pipeline.run(resources)
    return {"rows_by_entity": dict(rows), "fallback_files": fallbacks, "load_info": str(info)[:400]}


def _valid_jsonl(path: str) -> bool:
    with open(path, encoding="utf-8", errors="replace") as fh:
        try:
            for line in fh:
                json.loads(line)
        except ValueError:
            return False
    return True


def _only(wanted: set[str]):
    def keep(item) -> bool:
        return item["relative_path"] in wanted
    return keep


def run_filesystem(args: dict, pipeline) -> dict:
    from dlt.sources.filesystem import filesystem, read_csv, read_jsonl

    landing = Path(args["landing"]).resolve()
    by_entity = defaultdict(list)
    for f in args["files"]:
        if os.path.getsize(f["path"]) > 0:
            by_entity[(f["entity"], f["format"], int(f.get("header_rows", 1)))].append(f["rel"])
    resources = []
    for (entity, fmt, header_rows), rels in by_entity.items():
        folder = rels[0].split("/")[0]
        source = filesystem(bucket_url=landing.as_uri(), file_glob=f"{folder}/*").add_filter(_only(set(rels)))
        if fmt == "jsonl":
            reader = source | read_jsonl()
        else:  # pandas under the hood; skip the extra Qualtrics header rows, drop ragged lines
            reader = source | read_csv(skiprows=list(range(1, header_rows)), on_bad_lines="skip", dtype=str)
        resources.append(reader.with_name(entity))
    info = pipeline.run(resources)
    return {"load_info": str(info)[:400]}


def main(argv: list[str]) -> int:
    args = json.loads(Path(argv[0]).read_text())
    import dlt
    import duckdb

    db = Path(args["db"])
    db.unlink(missing_ok=True)
    pipelines_dir = Path(args["pipelines_dir"])
    shutil.rmtree(pipelines_dir, ignore_errors=True)
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    # Files of one entity can infer different arrow types (a month with a malformed date reads as text):
    # dlt's lossless promotion writes such batches separately instead of failing.
    os.environ.setdefault("DATA_WRITER__ARROW_CONCAT_PROMOTE_OPTIONS", "default")
    skipped = []
    if args["mode"] == "filesystem":
        # dlt's read_jsonl fails the whole run on one malformed line: leave such files out (before timing).
        keep = [f for f in args["files"] if f["format"] != "jsonl" or _valid_jsonl(f["path"])]
        skipped = [f["rel"] for f in args["files"] if f not in keep]
        args["files"] = keep
    t0 = time.perf_counter()
    pipeline = dlt.pipeline(pipeline_name=f"bench_{args['mode']}", pipelines_dir=str(pipelines_dir),
                            destination=dlt.destinations.duckdb(str(db)), dataset_name="peer")
    detail = run_arrow(args, pipeline) if args["mode"] == "arrow" else run_filesystem(args, pipeline)
    seconds = time.perf_counter() - t0
    with duckdb.connect(str(db), read_only=True) as con:
        # Top-level tables only: not dlt's own (_dlt_*) nor nested-list child tables (parent__child).
        names = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'peer'").fetchall()
        tables = [t for (t,) in names if not t.startswith("_dlt") and "__" not in t]
        rows = sum(con.execute(f'SELECT count(*) FROM peer."{t}"').fetchone()[0] for t in tables)
    result = {"seconds": seconds, "rows": rows, "files": len(args["files"]), "dlt_version": dlt.__version__,
              "bytes": sum(os.path.getsize(f["path"]) for f in args["files"]), "files_left_out": skipped,
              **detail}
    Path(args["result_path"]).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
