"""The one Definitions object of the CX warehouse (`dagster dev -m orchestration.definitions`)."""

from __future__ import annotations

import dagster as dg

from .assets.dbt import cx_dbt_models, dbt_resource
from .assets.landing import landing_export_files
from .assets.raw import build_raw_assets
from .jobs import full_pipeline, release_load_job
from .resources import WarehouseResource

defs = dg.Definitions(
    assets=[landing_export_files, *build_raw_assets(), cx_dbt_models],
    jobs=[full_pipeline, release_load_job],
    resources={"warehouse": WarehouseResource(), "dbt": dbt_resource()},
)
