"""The incremental dbt build of two code versions, paired on the same warehouse and the same day.

    .venv/bin/python bench/run.py --customers 1000000 --workdir /tmp/p1m --phases incremental_validation
    .venv/bin/python bench/paired_incremental.py --workdir /tmp/p1m --code e305061 --code HEAD --rounds 2

`bench/run.py` measures one version at a time, and this machine's speed drifts by 2x between days, so
a change to the dbt project is judged here side by side. From the bench's warehouse after the
incremental day's validation (`snapshots/incremental_validation.duckdb`), each version:

1. hides the extra day's loads (their validation status set to pending, so staging cannot see them)
   and runs `dbt build --full-refresh`: the warehouse as that version leaves the full run;
2. shows the loads again and runs `dbt build` (incremental), timed; `--rounds` times, each from a
   copy of step 1's result, the versions taking turns so they share the machine's noise.

A `--code` is a git revision (checked out into a temporary worktree) or `.` for the working tree.
Writes JSON (every build's seconds and slowest nodes) and prints a Markdown table. The default
excludes unit tests, as bench/run.py does.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from ingest.generate.common import XDAY  # noqa: E402

SNAPSHOT = "snapshots/incremental_validation.duckdb"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, required=True, help=f"a bench workdir holding {SNAPSHOT}")
    ap.add_argument("--code", action="append", required=True,
                    help="a git revision, or . for the working tree (give two, or more)")
    ap.add_argument("--rounds", type=int, default=1, help="incremental builds of each version (median reported)")
    ap.add_argument("--out", type=Path, help="JSON result (default bench/results/paired-incremental-<time>.json)")
    return ap.parse_args(argv)


def checkout(rev: str, into: Path) -> Path:
    if rev == ".":
        return REPO
    subprocess.run(["git", "-C", str(REPO), "worktree", "add", "--detach", "-f", str(into), rev], check=True,
                   capture_output=True)
    return into


def remove_checkouts(revs: list[str], scratch: Path, prefix: str = "code") -> None:
    """Remove the worktrees `checkout` made for `revs` (`scratch / f"{prefix}{i}"`)."""
    for i, rev in enumerate(revs):
        if rev != ".":
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(scratch / f"{prefix}{i}")],
                           capture_output=True)


def write_result(result: dict, out: Path | None, name: str) -> Path:
    out = out or REPO / "bench" / "results" / f"{name}-{datetime.now():%Y%m%dT%H%M%S}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1))
    print(f"result: {out}")
    return out


def dbt_build(code: Path, warehouse: Path, target: Path, *extra: str) -> dict:
    dbt_dir = code / "dbt_project"
    cmd = [str(Path(sys.executable).with_name("dbt")), "build", "--exclude-resource-type", "unit_test",
           "--project-dir", str(dbt_dir), "--profiles-dir", str(dbt_dir), "--target-path", str(target),
           "--log-path", str(target / "logs"), *extra]
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=dbt_dir, env={**os.environ, "CXW_WAREHOUSE": str(warehouse)},
                          capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise RuntimeError(f"dbt build {' '.join(extra)} of {code} failed:\n{done.stdout[-4000:]}")
    nodes = json.loads((target / "run_results.json").read_text())["results"]
    slowest = sorted(nodes, key=lambda n: -n["execution_time"])[:10]
    return {"seconds": round(seconds, 2), "nodes": len(nodes),
            "slowest_nodes": [[n["unique_id"], round(n["execution_time"], 2)] for n in slowest]}


def set_extra_day(warehouse: Path, statuses: dict[int, str] | None) -> dict[int, str]:
    """Hide the extra day's loads (statuses None) and return their statuses, or put them back."""
    with duckdb.connect(str(warehouse)) as con:
        if statuses is None:
            found = dict(con.execute("SELECT load_id, validation_status FROM ops.load_manifest "
                                     "WHERE source_file LIKE ?", [f"%{XDAY}%"]).fetchall())
            if not found:
                raise SystemExit(f"no loads of the extra day ({XDAY}) in {warehouse}")
            con.executemany("UPDATE ops.load_manifest SET validation_status = 'pending' WHERE load_id = ?",
                            [[k] for k in found])
            return found
        con.executemany("UPDATE ops.load_manifest SET validation_status = ? WHERE load_id = ?",
                        [[v, k] for k, v in statuses.items()])
        return statuses


def mart_rows(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
                             "ORDER BY table_name").fetchall()
        return {t: con.execute(f'SELECT count(*) FROM marts."{t}"').fetchone()[0] for (t,) in tables}


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    snapshot = args.workdir / SNAPSHOT
    if not snapshot.exists():
        raise SystemExit(f"{snapshot} not found: run bench/run.py --phases incremental_validation --workdir ... first")
    scratch = Path(tempfile.mkdtemp(prefix="cxw-paired-", dir=args.workdir))
    versions: list[dict] = []
    try:
        for i, rev in enumerate(args.code):
            code = checkout(rev, scratch / f"code{i}")
            sha = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip()
            base = scratch / f"base{i}.duckdb"
            shutil.copyfile(snapshot, base)
            statuses = set_extra_day(base, None)
            print(f"[paired] {rev} ({sha}): full refresh without the {len(statuses)} loads of {XDAY}", flush=True)
            full = dbt_build(code, base, scratch / f"target{i}-full", "--full-refresh")
            full_rows = mart_rows(base)
            set_extra_day(base, statuses)
            versions.append({"code": rev, "commit": sha + (" + working tree" if rev == "." else ""),
                             "path": code, "base": base, "full": full, "full_mart_rows": full_rows,
                             "incremental": []})
        for round_no in range(1, args.rounds + 1):
            for v in versions:
                warehouse = scratch / "work.duckdb"
                shutil.copyfile(v["base"], warehouse)
                run = dbt_build(v["path"], warehouse, scratch / "target-inc")
                v["incremental"].append(run)
                if round_no == 1:
                    v["mart_rows"] = mart_rows(warehouse)
                print(f"[paired] round {round_no}, {v['code']}: incremental {run['seconds']:.1f} s", flush=True)
                warehouse.unlink()
    finally:
        remove_checkouts(args.code, scratch)
        shutil.rmtree(scratch, ignore_errors=True)

    result = {"started_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
              "command": " ".join([Path(sys.executable).name, *(sys.argv if argv is None else ["main", *argv])]),
              "snapshot": str(snapshot), "extra_day": XDAY, "versions": []}
    print("\n| code | full refresh s | incremental s (median) | incremental runs | incremental ÷ full |")
    print("|---|---|---|---|---|")
    for v in versions:
        median = statistics.median(r["seconds"] for r in v["incremental"])
        result["versions"].append({"code": v["code"], "commit": v["commit"], "full": v["full"],
                                   "incremental": v["incremental"], "incremental_median_s": median,
                                   "incremental_over_full": round(median / v["full"]["seconds"], 3),
                                   "full_mart_rows": v["full_mart_rows"], "mart_rows": v["mart_rows"]})
        runs = " / ".join(f"{r['seconds']:.1f}" for r in v["incremental"])
        print(f"| {v['code']} ({v['commit']}) | {v['full']['seconds']:.1f} | {median:.1f} | {runs} | "
              f"{median / v['full']['seconds']:.2f} |")
    write_result(result, args.out, "paired-incremental")
    return result


if __name__ == "__main__":
    main()
