"""The publish of two code versions, paired on the same built warehouse.

    .venv/bin/python bench/run.py --customers 1000000 --workdir /tmp/b1m --keep-snapshots
    .venv/bin/python bench/paired_publish.py --warehouse /tmp/b1m/snapshots/dbt_build.duckdb \\
        --code e7506bc --code . --rounds 3

A whole run of `bench/run.py` publishes once per stage, and this machine's speed drifts between runs,
so a change to publish is judged here: each round publishes the same warehouse once per version, the
versions taking turns so that they share the machine's noise. Each publish runs in its own process
(`orchestration.publish.publish` of that version), timed and with the peak RSS of its process tree,
into a fresh folder; the published files are measured and then removed.

It also checks that the versions published the same data: per mart, the row count and an
order-free checksum of the rows (the XOR of DuckDB's hash of every row; identical rows cancel in pairs,
so the row count is compared beside it) of the published DuckDB file and of the Parquet file. Compare
versions by it, not a DuckDB table with its Parquet file: a type that Parquet stores differently hashes
differently. A `--code` is a git revision (checked out into a temporary worktree) or `.`
for the working tree. Writes JSON and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import datetime, timezone
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from bench.measure import child_env, run_measured  # noqa: E402
from bench.paired_incremental import checkout, remove_checkouts, write_result  # noqa: E402

# Run inside the version's checkout: its own orchestration.publish, the same salt for every version.
CHILD = """
import json, sys
from pathlib import Path
from orchestration.publish import publish
r = publish(Path(sys.argv[1]), Path(sys.argv[2]), manifest_path=Path(sys.argv[3]))
Path(sys.argv[4]).write_text(json.dumps({"seconds": r.seconds, "rows": sum(r.row_counts.values())}))
"""


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--warehouse", type=Path, required=True, help="a warehouse dbt has built (read only)")
    ap.add_argument("--code", action="append", required=True,
                    help="a git revision, or . for the working tree (give two, or more)")
    ap.add_argument("--rounds", type=int, default=3, help="publishes of each version (median reported)")
    ap.add_argument("--manifest", type=Path, help="dbt's manifest.json for meta.pii, the same for every version "
                    "(default: none, so only the built-in PII rules and publish_pii.yml apply)")
    ap.add_argument("--scratch", type=Path, help="folder for the checkouts and published files "
                    "(default: next to the warehouse; a 1M publish writes about 4 GB)")
    ap.add_argument("--out", type=Path, help="JSON result (default bench/results/paired-publish-<time>.json)")
    return ap.parse_args(argv)


def published_checksums(folder: Path) -> dict[str, dict]:
    """Per mart: rows and an order-free checksum, of the DuckDB table and of the Parquet file."""
    manifest = json.loads((folder / "manifest.json").read_text())
    out = {}
    with duckdb.connect(str(folder / manifest["database"]), read_only=True) as con:
        for name, info in sorted(manifest["tables"].items()):
            table = f'{manifest["schema"]}."{name.replace(chr(34), chr(34) * 2)}"'
            parquet = str(folder / info["parquet"]).replace("'", "''")
            db = con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM {table} AS t").fetchone()
            pq = con.execute(f"SELECT count(*), bit_xor(hash(t)) FROM read_parquet('{parquet}') AS t").fetchone()
            out[name] = {"rows": db[0], "checksum": str(db[1]), "parquet_rows": pq[0], "parquet_checksum": str(pq[1]),
                         "parquet_bytes": (folder / info["parquet"]).stat().st_size}
    return out


def main(argv: list[str] | None = None) -> dict:
    args = parse_args(argv)
    started_at = datetime.now(timezone.utc).isoformat(timespec="seconds")
    # Absolute paths: each version's publish runs in its own checkout.
    warehouse = args.warehouse.resolve()
    if not warehouse.exists():
        raise SystemExit(f"{args.warehouse} not found")
    scratch = Path(tempfile.mkdtemp(prefix="cxw-paired-publish-", dir=(args.scratch or warehouse.parent).resolve()))
    # Without --manifest, a path that does not exist: every version then applies the same PII rules, where
    # its own dbt_project/target/manifest.json would exist in the working tree only.
    manifest = args.manifest.resolve() if args.manifest else scratch / "no-manifest.json"
    versions: list[dict] = []
    try:
        for i, rev in enumerate(args.code):
            code = checkout(rev, scratch / f"code{i}")
            sha = subprocess.run(["git", "-C", str(code), "rev-parse", "--short", "HEAD"], capture_output=True,
                                 text=True).stdout.strip()
            versions.append({"code": rev, "commit": sha + (" + working tree" if rev == "." else ""),
                             "path": code, "runs": []})
        for round_no in range(1, args.rounds + 1):
            for i, v in enumerate(versions):
                target = scratch / f"published{i}"
                result_path = scratch / "result.json"
                env = child_env()
                env["PYTHONPATH"] = str(v["path"])  # this version's code, not the bench's
                m = run_measured([sys.executable, "-c", CHILD, str(warehouse), str(target),
                                  str(manifest), str(result_path)], env, scratch / f"publish{i}.log",
                                 result_path, cwd=v["path"])
                if m.returncode != 0 or not m.result:
                    raise RuntimeError(f"publish of {v['code']} failed (exit {m.returncode}):\n{m.log}")
                db_bytes = sum(p.stat().st_size for p in target.glob("*.duckdb"))
                parquet_bytes = sum(p.stat().st_size for p in (target / "parquet").glob("*.parquet"))
                run = {"seconds": round(m.result["seconds"], 2), "process_seconds": round(m.process_seconds, 2),
                       "peak_rss_mb": round(m.peak_rss_mb, 1), "rows": m.result["rows"],
                       "database_bytes": db_bytes, "parquet_bytes": parquet_bytes}
                if round_no == 1:
                    v["published"] = published_checksums(target)
                v["runs"].append(run)
                print(f"[paired-publish] round {round_no}, {v['code']}: {run['seconds']:.1f} s, "
                      f"peak {run['peak_rss_mb']:.0f} MB", flush=True)
                shutil.rmtree(target)
    finally:
        remove_checkouts(args.code, scratch)
        shutil.rmtree(scratch, ignore_errors=True)

    first = versions[0]["published"]
    keys = ("rows", "checksum", "parquet_rows", "parquet_checksum")
    same = {v["code"]: set(v["published"]) == set(first) and all(
        [t[k] for k in keys] == [first[n][k] for k in keys] for n, t in v["published"].items()) for v in versions}
    result = {"started_at": started_at,
              "command": " ".join([Path(sys.executable).name, *(sys.argv if argv is None else ["main", *argv])]),
              "warehouse": str(warehouse), "manifest": str(args.manifest.resolve()) if args.manifest else None,
              "same_data_as_first": same, "versions": []}
    print("\n| code | publish s (median) | runs | peak MB | DuckDB MB | Parquet MB | same data as the first |")
    print("|---|---|---|---|---|---|---|")
    for v in versions:
        median = statistics.median(r["seconds"] for r in v["runs"])
        result["versions"].append({"code": v["code"], "commit": v["commit"], "median_s": median, "runs": v["runs"],
                                   "published": v["published"]})
        runs = " / ".join(f"{r['seconds']:.1f}" for r in v["runs"])
        last = v["runs"][-1]
        print(f"| {v['code']} ({v['commit']}) | {median:.1f} | {runs} | {max(r['peak_rss_mb'] for r in v['runs']):.0f} | "
              f"{last['database_bytes'] / 2**20:.0f} | {last['parquet_bytes'] / 2**20:.0f} | {same[v['code']]} |")
    write_result(result, args.out, "paired-publish")
    return result


if __name__ == "__main__":
    main()
