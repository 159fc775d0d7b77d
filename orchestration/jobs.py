"""Jobs: the whole pipeline, and releasing a quarantined load."""


import getpass

import dagster as dg

from expectations.runner import release_load

from .resources import WRITER_POOL, WarehouseResource

# One process runs the steps in order: every step writes the same DuckDB file, so running them in
# parallel would only queue on the writer pool, and one process saves the start-up of each step.
full_pipeline = dg.define_asset_job(
    "full_pipeline",
    selection=dg.AssetSelection.all(),
    description="Landing files -> raw tables (validated) -> dbt staging, intermediate and marts.",
    executor_def=dg.in_process_executor,
    tags={"cxw/pipeline": "full"},
)


class ReleaseConfig(dg.Config):
    load_id: int
    released_by: str = ""


@dg.op(pool=WRITER_POOL, description="Mark a quarantined load as released so the next run includes it.")
def release_quarantined_load(context: dg.OpExecutionContext, config: ReleaseConfig, warehouse: WarehouseResource):
    with warehouse.connect() as con:
        message = release_load(con, config.load_id, config.released_by or f"dagster:{getpass.getuser()}")
    context.log.info(message)
    return message


@dg.job(description="Release a quarantined load (config: load_id); run full_pipeline afterwards to publish it.")
def release_load_job():
    release_quarantined_load()
