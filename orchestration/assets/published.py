"""After the marts: the BI copy, the CX report and the dbt docs site (group `published`)."""

import os
import subprocess
import time

import dagster as dg

from ingest.settings import get_settings

from ..resources import WRITER_POOL, WarehouseResource
from .dbt import DBT_DIR, DBT_EXECUTABLE, cx_dbt_models



def _mart_keys() -> list[dg.AssetKey]:
    return sorted((k for k in cx_dbt_models.keys if k.path[0] == "marts"), key=lambda k: k.to_user_string())


@dg.asset(
    key=["published", "cx_marts"],
    group_name="published",
    deps=_mart_keys(),
    pool=WRITER_POOL,
    kinds={"duckdb", "parquet"},
    description="A read-only copy of the marts for BI tools (data/published/cx_marts.duckdb, replaced "
                "atomically, plus one Parquet file per mart), personal data masked. See docs/BI.md.",
)
def published_marts(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from ..publish import publish

    # A line per mart in the run's log: at a million customers publish takes over a minute.
    result = publish(warehouse.path, get_settings().publish_dir, run_id=context.run_id, progress=context.log.info)
    for warning in result.warnings:
        context.log.warning(warning)
    context.log.info(f"published {len(result.row_counts)} marts to {result.database}")
    return dg.MaterializeResult(metadata={
        "database": dg.MetadataValue.path(str(result.database)),
        "parquet_dir": dg.MetadataValue.path(str(result.database.parent / "parquet")),
        "tables": dg.MetadataValue.md("\n".join(["| mart | rows |", "|---|---|"] + [
            f"| {name} | {rows:,} |" for name, rows in sorted(result.row_counts.items())])),
        "masked_columns": dg.MetadataValue.json(_plain(result.pii_columns)),
        "seconds": round(result.seconds, 2),
    })


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    return value if isinstance(value, (str, int, float, bool)) or value is None else str(value)


@dg.asset(
    key=["published", "cx_report"],
    group_name="published",
    deps=_mart_keys(),
    pool=WRITER_POOL,
    kinds={"html"},
    description="Static HTML report with charts: NPS, CSAT and CES by month, the journey funnel, retention "
                "by cohort, first reply and resolution times. See docs/REPORT.md.",
)
def cx_report(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    from ..kpis import headline_kpis
    from ..report import render_report
    import duckdb

    path = render_report(warehouse.path, get_settings().publish_dir)
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        kpis = headline_kpis(con)
    return dg.MaterializeResult(metadata={
        "report": dg.MetadataValue.path(str(path)),
        "open": dg.MetadataValue.url(path.as_uri()),
        **{k: v for k, v in kpis.items() if v is not None},
    })


@dg.asset(
    key=["published", "dbt_docs"],
    group_name="published",
    deps=_mart_keys(),
    pool=WRITER_POOL,
    kinds={"dbt", "html"},
    description="dbt's documentation site for the models (a single static page that opens from disk).",
)
def dbt_docs(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    target = get_settings().data_dir / "dbt_docs"
    env = {**os.environ, "CXW_WAREHOUSE": str(warehouse.path), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    t0 = time.perf_counter()
    done = subprocess.run([DBT_EXECUTABLE, "docs", "generate", "--static", "--profiles-dir", str(DBT_DIR),
                           "--target-path", str(target)], cwd=DBT_DIR, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise dg.Failure(description="dbt docs generate failed", metadata={"output": done.stdout[-4000:]})
    page = target / "static_index.html"
    return dg.MaterializeResult(metadata={
        "docs": dg.MetadataValue.path(str(page)),
        "open": dg.MetadataValue.url(page.as_uri()),
        "seconds": round(time.perf_counter() - t0, 2),
    })
