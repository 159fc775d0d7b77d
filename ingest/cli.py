"""The Dagster-free part of the `cxw` command line: generate sample exports, ingest, inspect.

`python -m ingest.cli` runs these alone; the installed `cxw` (orchestration/cli.py) adds validation,
release and pipeline runs. Each command calls the same functions the Dagster assets call.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from .settings import get_settings

log = logging.getLogger("cxw")


def _configure_logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.DEBUG if verbose else logging.INFO,
                        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s", datefmt="%H:%M:%S")


def cmd_generate(args) -> int:
    from .generate import generate

    out = Path(args.out).resolve()
    summary = generate(out, customers=args.customers, seed=args.seed,
                       truth_dir=Path(args.truth_dir).resolve() if args.truth_dir else None,
                       extra_day=args.extra_day, progress=lambda msg: log.info("%s", msg))
    print(f"wrote sample exports for {args.customers:,} customers (seed {args.seed}) to {out}")
    for entity, rows in sorted((summary.get("rows") or {}).items()):
        print(f"  {entity:<28} {rows:>12,} rows")
    return 0


def cmd_ingest(args) -> int:
    from .loader import ingest
    from .spec import load_specs
    from .warehouse import connect

    settings = get_settings()
    landing = Path(args.landing).resolve() if args.landing else settings.landing_dir
    if not landing.is_dir():
        print(f"landing folder {landing} does not exist (set CXW_LANDING_DIR or pass --landing)", file=sys.stderr)
        return 2
    con = connect(args.warehouse)
    try:
        report = ingest(con, landing, load_specs(settings.specs_dirs), entities=args.entity or None,
                        record_unrecognised=not args.entity, retry_failed=args.retry_failed,
                        progress=lambda r: log.info("%-8s %s %s", r.status, r.source_file, describe(r)))
    finally:
        con.close()
    _print_totals(report.totals())
    print(f"warehouse: {args.warehouse or settings.warehouse}")
    return 1 if report.by_status("failed") and args.strict else 0


def describe(result) -> str:
    """One line about a file's load: counts, error, or why it was skipped, and any note."""
    if result.status == "skipped":
        return result.note
    if result.rows_read is None:
        return result.error or ""
    text = f"{result.rows_loaded:,} rows, {result.rows_rejected:,} rejected"
    return "; ".join(x for x in (text, result.error, result.note) if x)


def _has_manifest(con) -> bool:
    return bool(con.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'ops' "
                            "AND table_name = 'load_manifest'").fetchone()[0])


def _print_totals(totals: dict) -> None:
    if not totals:
        print("nothing new to load")
        return
    print(f"{'entity':<28} {'files':>6} {'rows read':>12} {'loaded':>12} {'rejected':>10} {'failed files':>13}")
    for entity, t in sorted(totals.items()):
        print(f"{entity:<28} {t['files']:>6} {t['rows_read']:>12,} {t['rows_loaded']:>12,} {t['rows_rejected']:>10,} "
              f"{t['failed_files']:>13}")


def cmd_status(args) -> int:
    from .warehouse import connect

    settings = get_settings()
    path = Path(args.warehouse) if args.warehouse else settings.warehouse
    if not path.exists():
        print(f"no warehouse at {path} yet; run `cxw ingest` or `make demo`", file=sys.stderr)
        return 2
    con = connect(path, read_only=True)
    try:
        if not _has_manifest(con):
            print("the warehouse has no load manifest yet")
            return 0
        where = "WHERE status = 'failed' OR validation_status = 'quarantined'" if args.problems else ""
        con.sql(f"""
            SELECT load_id, entity, source_file, status, validation_status AS validation, rows_read, rows_loaded,
                   rows_rejected, round(duration_s, 2) AS seconds, superseded_by, left(coalesce(error,
                   validation_summary, ''), 120) AS reason
            FROM ops.load_manifest {where} ORDER BY load_id DESC LIMIT {int(args.limit)}
        """).show(max_width=250, max_rows=int(args.limit))
        if args.rejects:
            con.sql(f"""
                SELECT load_id, source_file, source_row, column_name, reason
                FROM ops.load_rejects ORDER BY load_id DESC, source_row LIMIT {int(args.limit)}
            """).show(max_width=250, max_rows=int(args.limit))
    finally:
        con.close()
    return 0


def add_commands(sub) -> None:
    """The commands that need no Dagster: generate, ingest, status."""
    g = sub.add_parser("generate", help="write realistic sample exports (and their ground truth)")
    g.add_argument("--customers", type=int, default=5000)
    g.add_argument("--seed", type=int, default=42)
    g.add_argument("--out", default=str(get_settings().landing_dir), help="landing folder to write")
    g.add_argument("--truth-dir", default=None, help="where the ground truth goes (default: beside --out)")
    g.add_argument("--extra-day", action="store_true", help="also write one more day of exports")
    g.set_defaults(func=cmd_generate)

    i = sub.add_parser("ingest", help="load new landing files into raw tables (no validation)")
    i.add_argument("--landing", default=None)
    i.add_argument("--warehouse", default=None)
    i.add_argument("--entity", action="append", help="only this source entity (repeatable)")
    i.add_argument("--retry-failed", action="store_true", help="read files that failed before again")
    i.add_argument("--strict", action="store_true", help="exit 1 when any file failed")
    i.set_defaults(func=cmd_ingest)

    s = sub.add_parser("status", help="the load manifest as a table")
    s.add_argument("--warehouse", default=None)
    s.add_argument("--limit", type=int, default=50)
    s.add_argument("--problems", action="store_true", help="only failed and quarantined loads")
    s.add_argument("--rejects", action="store_true", help="also list rejected rows with their reasons")
    s.set_defaults(func=cmd_status)


def build_parser(extra=()) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="cxw", description="CX warehouse: sample exports, ingest, validation, "
                                                            "pipeline runs.")
    parser.add_argument("-v", "--verbose", action="store_true")
    sub = parser.add_subparsers(dest="command", required=True)
    add_commands(sub)
    for add in extra:
        add(sub)
    return parser


def main(argv: list[str] | None = None, extra=()) -> int:
    args = build_parser(extra).parse_args(argv)
    _configure_logging(args.verbose)
    return args.func(args) or 0


if __name__ == "__main__":
    sys.exit(main())
