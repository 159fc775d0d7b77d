"""The dbt project as Dagster assets: staging, intermediate and marts, with dbt tests as asset checks.

dbt sources carry `meta.dagster.asset_key` (models/staging/*/_*__sources.yml), so each staging model
hangs off the raw asset that loads its table and the graph reads from landing file to mart.
"""


import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from ingest.settings import PROJECT_ROOT, get_settings
from ingest.sql import qualified
from ingest.warehouse import is_lock_error

from ..resources import WRITER_POOL, retry_on_lock

log = logging.getLogger("cxw.dbt")

DBT_DIR = PROJECT_ROOT / "dbt_project"
# The dbt executable beside this interpreter, so the venv need not be activated.
DBT_EXECUTABLE = str(Path(sys.executable).with_name("dbt"))

dbt_project = DbtProject(project_dir=DBT_DIR, profiles_dir=DBT_DIR)


def _newest_project_file() -> float:
    files = [DBT_DIR / "dbt_project.yml", DBT_DIR / "profiles.yml"]
    for sub in ("models", "macros", "tests", "seeds", "analyses"):
        folder = DBT_DIR / sub
        if folder.exists():
            files += [p for p in folder.rglob("*") if p.is_file()]
    return max(p.stat().st_mtime for p in files)


def ensure_manifest() -> Path:
    """Parse the dbt project once when target/manifest.json is missing or older than a project file.

    `dagster dev` would do this through prepare_if_dev(); tests, the CLI and `dagster job execute` need
    it too, and parsing costs seconds, so it happens only when something changed."""
    manifest = dbt_project.manifest_path
    if not manifest.exists() or manifest.stat().st_mtime < _newest_project_file():
        log.info("parsing the dbt project (manifest missing or stale)")
        env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
        subprocess.run([DBT_EXECUTABLE, "parse", "--quiet", "--profiles-dir", str(DBT_DIR)], cwd=DBT_DIR,
                       env=env, check=True, capture_output=True)
    return manifest


# A mart older than this is stale: the daily schedule should have refreshed it (warn), or something
# is broken (fail). Evaluated by the Dagster daemon (`dagster dev` runs one).
MART_FRESHNESS = dg.FreshnessPolicy.time_window(
    warn_window=timedelta(hours=float(os.environ.get("CXW_MART_WARN_HOURS", "26"))),
    fail_window=timedelta(hours=float(os.environ.get("CXW_MART_FAIL_HOURS", "50"))),
)


class CxDbtTranslator(DagsterDbtTranslator):
    """Groups follow the layers (staging, intermediate, marts); descriptions come from the YAML;
    the marts carry a freshness policy."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return fqn[1]
        return super().get_group_name(dbt_resource_props)

    def get_asset_spec(self, manifest, unique_id, project) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props.get("resource_type") == "model" and "marts" in props.get("fqn", []):
            spec = spec.replace_attributes(freshness_policy=MART_FRESHNESS)
        return spec


def _mart_metadata(warehouse: Path) -> dict[str, dict]:
    """Row counts of every mart and the current NPS, CSAT and CES, read once the build is over."""
    import duckdb

    out: dict[str, dict] = {}
    with duckdb.connect(str(warehouse), read_only=True) as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'").fetchall()]
        for table in tables:
            out[table] = {"dagster/row_count": con.execute(f"SELECT count(*) FROM {qualified('marts', table)}")
                          .fetchone()[0]}
        for table, value_sql, label in [
            ("nps_monthly", "100.0 * (sum(promoters) - sum(detractors)) / nullif(sum(responses), 0)", "nps"),
            ("csat_monthly", "100.0 * sum(satisfied) / nullif(sum(ratings), 0)", "csat_pct"),
            ("ces_monthly", "sum(ces_mean * responses) / nullif(sum(responses), 0)", "ces_mean"),
        ]:
            if table not in out:
                continue
            month_col = "rating_month" if table == "csat_monthly" else "response_month"
            overall, latest_month, latest = con.execute(
                f"WITH m AS (SELECT * FROM {qualified('marts', table)} WHERE dimension = 'all') "
                f"SELECT (SELECT {value_sql} FROM m), (SELECT max({month_col}) FROM m), "
                f"(SELECT {value_sql} FROM m WHERE {month_col} = (SELECT max({month_col}) FROM m))").fetchone()
            out[table][f"{label}_all_time"] = round(float(overall), 2) if overall is not None else None
            out[table][f"{label}_latest_month"] = round(float(latest), 2) if latest is not None else None
            out[table]["latest_month"] = str(latest_month) if latest_month is not None else None
    return out


ensure_manifest()


@dbt_assets(
    manifest=dbt_project.manifest_path,
    project=dbt_project,
    dagster_dbt_translator=CxDbtTranslator(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True)),
    pool=WRITER_POOL,
)
def cx_dbt_models(context: dg.AssetExecutionContext, dbt: DbtCliResource):
    """`dbt build` of the selected models: run them and their tests in one invocation."""
    # dbt's profile reads the warehouse path from CXW_WAREHOUSE; pass on the one this run resolved.
    warehouse = get_settings().warehouse
    os.environ["CXW_WAREHOUSE"] = str(warehouse)
    # Events are held until dbt exits: DuckDB lets only one process open the file while dbt writes,
    # and the marts' metadata (row counts, current NPS/CSAT/CES) is read from it afterwards.
    events, failure = [], None
    try:
        # Unit tests check the SQL, not the data: they run in `make test`, not in every pipeline run.
        for event in dbt.cli(["build", "--exclude-resource-type", "unit_test"], context=context).stream():
            events.append(event)
    except DagsterDbtCliRuntimeError as exc:
        failure = exc
    extra = {}
    if failure is None or not is_lock_error(failure):
        try:
            extra = _mart_metadata(warehouse)
        except Exception as exc:  # metadata is a convenience; never fail the build for it
            context.log.warning(f"could not read mart metadata: {exc}")
    for event in events:
        if isinstance(event, dg.Output):
            key = context.asset_key_for_output(event.output_name)
            if key.path[0] == "marts" and key.path[-1] in extra:
                event = event.with_metadata({**event.metadata, **extra[key.path[-1]]})
        yield event
    if failure is not None:
        retry_on_lock(context, failure, is_lock_error(failure))
        raise failure


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_DIR), dbt_executable=DBT_EXECUTABLE)
