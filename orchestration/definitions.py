"""The one Definitions object of the CX warehouse (`dagster dev -m orchestration.definitions`)."""

from __future__ import annotations

import dagster as dg

from .assets.dbt import cx_dbt_models, dbt_resource
from .assets.landing import landing_export_files
from .assets.published import cx_report, dbt_docs, published_marts
from .assets.raw import build_raw_assets
from .automation import daily_full_pipeline, new_landing_files
from .jobs import full_pipeline, release_load_job
from .resources import WarehouseResource

defs = dg.Definitions(
    assets=[landing_export_files, *build_raw_assets(), cx_dbt_models, published_marts, cx_report, dbt_docs],
    jobs=[full_pipeline, release_load_job],
    schedules=[daily_full_pipeline],
    sensors=[new_landing_files],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
)
