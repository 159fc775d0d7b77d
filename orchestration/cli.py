"""`cxw`, the warehouse from the command line. Commands that need Dagster or GX live here; the
Dagster-free ones (generate, ingest, status) come from ingest/cli.py."""

from __future__ import annotations

import getpass
import sys
from pathlib import Path

from ingest import cli as ingest_cli
from ingest.settings import get_settings


def cmd_validate(args) -> int:
    from expectations.runner import validate_pending
    from ingest.spec import load_specs
    from ingest.warehouse import connect

    settings = get_settings()
    entities = args.entity or [s.entity for s in load_specs(settings.specs_dirs)]
    quarantined = 0
    with connect() as con:
        for entity in entities:
            report = validate_pending(con, entity)
            for load in report.loads:
                print(f"load {load.load_id:>6} {load.status:<12} {load.source_file}: {load.summary()}")
            quarantined += len(report.quarantined)
    return 1 if quarantined and args.strict else 0


def cmd_release(args) -> int:
    from expectations.runner import release_load
    from ingest.warehouse import connect

    with connect() as con:
        try:
            print(release_load(con, args.load_id, args.by or getpass.getuser()))
        except ValueError as exc:
            print(f"cannot release: {exc}", file=sys.stderr)
            return 2
    return 0


def _print_run_summary(outcome) -> None:
    from ingest.warehouse import connect

    from .kpis import format_kpis, headline_kpis

    settings = get_settings()
    print(f"\nDagster run {outcome.run_id}: {'succeeded' if outcome.success else 'FAILED'}")
    for step in outcome.failed_steps:
        print(f"  failed step: {step}")
    for step in outcome.skipped_steps:
        print(f"  skipped (blocked by a failed check): {step}")
    for check in outcome.failed_checks:
        print(f"  check not passed: {check}")
    if not settings.warehouse.exists():
        return
    # Waits for the lock like every reader: another run's step may be writing at this moment.
    with connect(settings.warehouse, read_only=True) as con:
        print("\nrows per source (all loads so far)")
        con.sql("""
            SELECT source, count(*) AS files, sum(rows_read) AS rows_read, sum(rows_loaded) AS rows_loaded,
                   sum(rows_rejected) AS rows_rejected,
                   count(*) FILTER (WHERE status = 'failed') AS failed_files,
                   count(*) FILTER (WHERE validation_status = 'quarantined' AND superseded_by IS NULL)
                       AS quarantined_loads
            FROM ops.load_manifest GROUP BY source ORDER BY source NULLS LAST
        """).show()
        print("headline KPIs")
        print(format_kpis(headline_kpis(con)))
    print(f"\nwarehouse:      {settings.warehouse}")
    print(f"BI copy:        {settings.publish_dir / 'cx_marts.duckdb'}  (+ parquet/; docs/BI.md)")
    print(f"CX report:      {settings.publish_dir / 'cx_report.html'}")
    print(f"dbt docs:       {settings.data_dir / 'dbt_docs' / 'static_index.html'}")
    print(f"GX Data Docs:   {settings.data_dir / 'gx' / 'uncommitted' / 'data_docs' / 'local_site' / 'index.html'}")
    print("rejected rows:  cxw status --rejects   (table ops.load_rejects)")
    print("Dagster UI:     make ui, then http://127.0.0.1:3000")


def cmd_run(args) -> int:
    from .pipeline import run_job

    outcome = run_job("full_pipeline")
    _print_run_summary(outcome)
    return 0 if outcome.success and not outcome.skipped_steps else 1


def cmd_demo(args) -> int:
    from ingest.generate import generate

    settings = get_settings()
    print(f"generating sample exports for {args.customers:,} customers (seed {args.seed}) in {settings.landing_dir}")
    generate(settings.landing_dir, customers=args.customers, seed=args.seed)
    return cmd_run(args)


def add_commands(sub) -> None:
    v = sub.add_parser("validate", help="validate pending loads with Great Expectations")
    v.add_argument("--entity", action="append")
    v.add_argument("--strict", action="store_true", help="exit 1 when a load is quarantined")
    v.set_defaults(func=cmd_validate)

    r = sub.add_parser("release", help="release a quarantined load so the marts include it")
    r.add_argument("load_id", type=int)
    r.add_argument("--by", default=None, help="who releases it (recorded in the manifest)")
    r.set_defaults(func=cmd_release)

    run = sub.add_parser("run", help="run the whole pipeline through Dagster, headless")
    run.set_defaults(func=cmd_run)

    d = sub.add_parser("demo", help="generate sample exports, then run the whole pipeline")
    d.add_argument("--customers", type=int, default=5000)
    d.add_argument("--seed", type=int, default=42)
    d.set_defaults(func=cmd_demo)


def main(argv: list[str] | None = None) -> int:
    return ingest_cli.main(argv, extra=(add_commands,))


if __name__ == "__main__":
    sys.exit(main())
