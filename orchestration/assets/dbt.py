"""The dbt project as Dagster assets: staging, intermediate and marts, with dbt tests as asset checks.

dbt sources carry `meta.dagster.asset_key` (models/staging/*/_*__sources.yml), so each staging model
hangs off the raw asset that loads its table and the graph reads from landing file to mart.
"""


import logging
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DagsterDbtTranslator, DagsterDbtTranslatorSettings, DbtCliResource, DbtProject, dbt_assets
from dagster_dbt.errors import DagsterDbtCliRuntimeError

from ingest.settings import PROJECT_ROOT, get_settings
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


class CxDbtTranslator(DagsterDbtTranslator):
    """Groups follow the layers (staging, intermediate, marts); descriptions come from the YAML."""

    def get_group_name(self, dbt_resource_props: Mapping[str, Any]) -> str | None:
        fqn = dbt_resource_props.get("fqn", [])
        if dbt_resource_props.get("resource_type") == "model" and len(fqn) > 2:
            return fqn[1]
        return super().get_group_name(dbt_resource_props)


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
    os.environ["CXW_WAREHOUSE"] = str(get_settings().warehouse)
    try:
        # Unit tests check the SQL, not the data: they run in `make test`, not in every pipeline run.
        yield from dbt.cli(["build", "--exclude-resource-type", "unit_test"], context=context).stream()
    except DagsterDbtCliRuntimeError as exc:
        retry_on_lock(context, exc, is_lock_error(exc))
        raise


def dbt_resource() -> DbtCliResource:
    return DbtCliResource(project_dir=dbt_project, profiles_dir=str(DBT_DIR), dbt_executable=DBT_EXECUTABLE)
