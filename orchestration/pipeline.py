"""Run the whole pipeline headless through Dagster, on the persistent instance (runs show in the UI)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from ingest.settings import PROJECT_ROOT


@dataclass
class PipelineOutcome:
    success: bool
    run_id: str
    failed_steps: list[str]
    skipped_steps: list[str]  # steps that never started because something upstream failed
    failed_checks: list[str]
    materialized: list[str]


def dagster_instance():
    import dagster as dg

    # dagster.yaml sits at the project root; without DAGSTER_HOME runs would go to a throwaway instance.
    os.environ.setdefault("DAGSTER_HOME", str(PROJECT_ROOT))
    return dg.DagsterInstance.get()


def run_job(job_name: str = "full_pipeline", run_config: dict | None = None, instance=None,
            tags: dict | None = None) -> PipelineOutcome:
    from .definitions import defs

    job = defs.resolve_job_def(job_name)
    result = job.execute_in_process(instance=instance or dagster_instance(), run_config=run_config,
                                    raise_on_error=False, tags=tags)
    failed, started, checks, materialized = [], set(), [], []
    for event in result.all_events:
        kind = event.event_type_value
        if kind == "STEP_START":
            started.add(event.step_key)
        elif kind == "STEP_FAILURE":
            failed.append(event.step_key)
        elif kind == "ASSET_MATERIALIZATION":
            materialized.append(event.asset_key.to_user_string())
        elif kind == "ASSET_CHECK_EVALUATION" and not event.event_specific_data.passed:
            data = event.event_specific_data
            checks.append(f"{data.asset_key.to_user_string()}:{data.check_name} ({data.severity.value})")
    # Dagster does not emit an event for a step it never starts because a blocking check failed.
    skipped = sorted({node.name for node in job.graph.node_defs} - started)
    return PipelineOutcome(result.success, result.run_id, failed, skipped, checks, materialized)
