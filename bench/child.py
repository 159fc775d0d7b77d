"""The child-process side of a benchmark phase: `python -m bench.child ARGS.json`.

ARGS.json names the phase `kind` and its paths; the child does the work, times the work itself
(imports and interpreter start-up excluded; they are in the parent's `process_seconds`), and writes
its result as JSON to `result_path`. Every kind reports `seconds` and `rows`.
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import subprocess
import sys
import time
from pathlib import Path


def _raw_rows(warehouse: Path) -> dict[str, int]:
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw' ORDER BY 1").fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0] for t in tables}


def _model_rows(warehouse: Path) -> dict[str, int]:
    """Rows of every table dbt built (views are free and not counted)."""
    import duckdb

    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                             "WHERE schema_name NOT IN ('raw', 'ops') ORDER BY 1, 2").fetchall()
        return {f"{s}.{t}": con.execute(f'SELECT count(*) FROM "{s}"."{t}"').fetchone()[0] for s, t in tables}


def run_ingest(args: dict) -> dict:
    from ingest.loader import ingest
    from ingest.spec import load_specs
    from ingest.settings import get_settings
    from ingest.warehouse import connect

    specs = load_specs(get_settings().specs_dirs)
    warehouse = Path(args["warehouse"])
    t0 = time.perf_counter()
    con = connect(warehouse)
    report = ingest(con, Path(args["landing"]), specs)
    con.close()  # the checkpoint on close is part of a load
    seconds = time.perf_counter() - t0
    done = [f for f in report.files if f.status != "skipped"]
    per_entity: dict[str, dict] = {}
    for f in done:
        e = per_entity.setdefault(f.entity or "(unrecognised)", {"files": 0, "rows": 0, "seconds": 0.0})
        e["files"] += 1
        e["rows"] += f.rows_read or 0
        e["seconds"] += f.seconds
    return {"seconds": seconds, "rows": sum(f.rows_read or 0 for f in done),
            "rows_loaded": sum(f.rows_loaded or 0 for f in done),
            "rows_rejected": sum(f.rows_rejected or 0 for f in done),
            "files_loaded": sum(f.status == "loaded" for f in done),
            "files_failed": sum(f.status == "failed" for f in done),
            "files_skipped": sum(f.status == "skipped" for f in report.files),
            "per_entity": per_entity}


def run_validate(args: dict) -> dict:
    import great_expectations  # noqa: F401  (imported once per process, like in a pipeline run)

    from expectations.runner import pending_loads, validate_pending
    from ingest.settings import get_settings
    from ingest.spec import load_specs
    from ingest.warehouse import connect

    warehouse = Path(args["warehouse"])
    # Several specs (vendors, export formats) may feed one entity: validate each entity once.
    entities = list(dict.fromkeys(s.entity for s in load_specs(get_settings().specs_dirs)))
    con = connect(warehouse)
    pending = {e: [i for i, _ in pending_loads(con, e)] for e in entities}
    ids = [i for v in pending.values() for i in v] or [-1]
    rows = con.execute(f"SELECT coalesce(sum(rows_loaded), 0) FROM ops.load_manifest "
                       f"WHERE load_id IN ({', '.join(map(str, ids))})").fetchone()[0]
    statuses: dict[str, int] = {}
    per_entity = {}
    t0 = time.perf_counter()
    for entity in entities:
        report = validate_pending(con, entity, warehouse)
        per_entity[entity] = {"loads": len(report.loads), "seconds": report.seconds}
        for load in report.loads:
            statuses[load.status] = statuses.get(load.status, 0) + 1
    seconds = time.perf_counter() - t0
    con.close()
    return {"seconds": seconds, "rows": int(rows), "loads": sum(len(v) for v in pending.values()),
            "statuses": statuses, "per_entity": per_entity}


def run_dbt_build(args: dict) -> dict:
    dbt_dir = Path(args["dbt_dir"])
    dbt = str(Path(sys.executable).with_name("dbt"))
    target = Path(args["dbt_target"])
    cmd = [dbt, "build", "--exclude-resource-type", "unit_test", "--project-dir", str(dbt_dir),
           "--profiles-dir", str(dbt_dir), "--target-path", str(target), "--log-path", args["dbt_logs"],
           *args.get("dbt_args", [])]
    env = {**os.environ, "CXW_WAREHOUSE": args["warehouse"]}
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=dbt_dir, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    print(done.stdout[-5000:], done.stderr[-5000:])
    results = json.loads((target / "run_results.json").read_text()) if (target / "run_results.json").exists() else {}
    nodes = results.get("results", [])
    statuses: dict[str, int] = {}
    for n in nodes:
        statuses[n["status"]] = statuses.get(n["status"], 0) + 1
    slowest = sorted(nodes, key=lambda n: -n.get("execution_time", 0))[:8]
    raw = _raw_rows(Path(args["warehouse"]))
    built = _model_rows(Path(args["warehouse"]))
    failures = [f"{n['unique_id']}: {n['status']}" for n in nodes if n["status"] in ("fail", "error")]
    failure = None if done.returncode == 0 else (
        f"dbt exit {done.returncode}: " + "; ".join(failures[:5]) + f" ({statuses.get('skipped', 0)} nodes skipped)")
    return {"seconds": seconds, "rows": sum(raw.values()), "rows_out": sum(built.values()),
            "returncode": done.returncode, "ok": done.returncode == 0, "failure": failure, "node_statuses": statuses,
            "dbt_elapsed_s": results.get("elapsed_time"),
            "slowest_nodes": [[n["unique_id"], round(n.get("execution_time", 0), 2)] for n in slowest]}


def run_publish(args: dict) -> dict:
    """Call orchestration.publish.publish with whatever of (con, warehouse, publish_dir) it takes."""
    module = importlib.import_module(args.get("module", "orchestration.publish"))
    publish = getattr(module, "publish")
    from ingest.warehouse import connect

    warehouse = Path(args["warehouse"])
    publish_dir = Path(args["publish_dir"])
    params = inspect.signature(publish).parameters
    kwargs, con = {}, None
    for name in params:
        if name in ("con", "connection"):
            con = kwargs[name] = connect(warehouse)
        elif name in ("warehouse", "warehouse_path", "db_path"):
            kwargs[name] = warehouse
        elif name in ("publish_dir", "out_dir", "target_dir", "dest"):
            kwargs[name] = publish_dir
    t0 = time.perf_counter()
    result = publish(**kwargs)
    if con is not None:
        con.close()
    seconds = time.perf_counter() - t0
    files = [p for p in publish_dir.rglob("*") if p.is_file()] if publish_dir.exists() else []
    # The rows written to the BI copy (every mart, views included); before `ec84248` this counted every
    # table dbt built, staging tables included, which the docs did not say.
    published = getattr(result, "row_counts", None)
    rows = sum(published.values()) if isinstance(published, dict) else sum(_model_rows(warehouse).values())
    return {"seconds": seconds, "rows": rows, "files": len(files),
            "bytes": sum(p.stat().st_size for p in files), "returned": repr(result)[:500]}


def run_bare_duckdb(args: dict) -> dict:
    """The limit for ingest: one CREATE TABLE AS SELECT * FROM read_csv/read_json per file, nothing else.
    With `workers` > 1, that many files load at once, each on its own connection (per-entity seconds
    then add up the files' own times, which overlap)."""
    import queue
    import threading

    import duckdb

    db = Path(args["db"])
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)
    per_entity: dict[str, dict] = {}
    errors = []
    lock = threading.Lock()
    t0 = time.perf_counter()
    con = duckdb.connect(str(db))
    todo: queue.SimpleQueue = queue.SimpleQueue()
    for item in enumerate(args["files"]):
        todo.put(item)

    def work(c) -> None:
        while True:
            try:
                i, f = todo.get_nowait()
            except queue.Empty:
                return
            reader = ("read_json(?, format='newline_delimited', ignore_errors=true)" if f["format"] == "jsonl"
                      else "read_csv(?, ignore_errors=true)")
            t = time.perf_counter()
            error = None
            try:
                c.execute(f"CREATE TABLE t{i:05d} AS SELECT * FROM {reader}", [f["path"]])
                rows = c.execute(f"SELECT count(*) FROM t{i:05d}").fetchone()[0]
            except duckdb.Error as exc:  # e.g. an empty JSON Lines file has no schema to create
                rows = 0
                error = f"{f['rel']}: {str(exc).splitlines()[0][:200]}"
            with lock:
                e = per_entity.setdefault(f["entity"], {"files": 0, "rows": 0, "seconds": 0.0})
                e["seconds"] += time.perf_counter() - t
                e["files"] += 1
                e["rows"] += rows
                if error:
                    errors.append(error)

    workers = int(args.get("workers") or 1)
    if workers == 1:
        work(con)
    else:
        cursors = [con.cursor() for _ in range(workers)]
        threads = [threading.Thread(target=work, args=(c,)) for c in cursors]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        for c in cursors:
            c.close()
    con.close()
    seconds = time.perf_counter() - t0
    return {"seconds": seconds, "rows": sum(e["rows"] for e in per_entity.values()), "per_entity": per_entity,
            "errors": errors}


def run_generate(args: dict) -> dict:
    from ingest.generate import generate

    t0 = time.perf_counter()
    summary = generate(Path(args["landing"]), customers=int(args["customers"]), seed=int(args["seed"]),
                       extra_day=bool(args.get("extra_day")))
    seconds = time.perf_counter() - t0
    landing = Path(args["landing"])
    nbytes = sum(p.stat().st_size for p in landing.rglob("*") if p.is_file())
    return {"seconds": seconds, "rows": sum(summary["rows"].values()), "files": summary["files"],
            "bytes": nbytes, "rows_by_entity": summary["rows"]}


def run_ingest_profile(args: dict) -> dict:
    from .profile_ingest import profile_ingest

    return profile_ingest(args)


KINDS = {"ingest": run_ingest, "validate": run_validate, "dbt_build": run_dbt_build, "publish": run_publish,
         "bare_duckdb": run_bare_duckdb, "generate": run_generate, "ingest_profile": run_ingest_profile}


def main(argv: list[str]) -> int:
    args = json.loads(Path(argv[0]).read_text())
    os.environ.update(args.get("env", {}))
    result = KINDS[args["kind"]](args)
    Path(args["result_path"]).write_text(json.dumps(result, indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
