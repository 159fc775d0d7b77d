"""When the pipeline runs: a daily schedule for everything, and a sensor for new files.

The sensor keeps a cursor of every landing file it has seen (size and modification time), so a file
starts one run, once; a file re-exported under the same name (new size or time) starts another. It
runs only the changed sources' raw assets and what depends on them.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import dagster as dg

from ingest.loader import discover
from ingest.settings import get_settings
from ingest.spec import SpecError, load_specs, match_spec

from .assets.landing import LANDING_KEY
from .assets.raw import raw_asset_key
from .jobs import full_pipeline

daily_full_pipeline = dg.ScheduleDefinition(
    name="daily_full_pipeline",
    job=full_pipeline,
    cron_schedule=os.environ.get("CXW_DAILY_CRON", "0 6 * * *"),
    execution_timezone="UTC",
    description="Every day: load whatever landed, validate, rebuild the marts, publish and report.",
    default_status=dg.DefaultScheduleStatus.STOPPED,
)


def landing_changes(landing_dir: Path, seen: dict[str, str]) -> tuple[dict[str, str], set[str]]:
    """Files that are new or changed since `seen`, and the entities they belong to."""
    specs = load_specs(get_settings().specs_dirs)
    changed, entities = {}, set()
    for rel, path, refusal in discover(landing_dir):
        try:
            stat = path.stat()
        except OSError:
            continue
        signature = f"{stat.st_size}:{stat.st_mtime_ns}"
        if seen.get(rel) == signature:
            continue
        changed[rel] = signature
        try:
            spec = None if refusal else match_spec(specs, rel)
        except SpecError:
            spec = None
        if spec is not None:
            entities.add(spec.entity)
    return changed, entities


@dg.sensor(
    name="new_landing_files",
    minimum_interval_seconds=60,
    description="Starts a run for the sources whose files are new or changed in the landing folder.",
    default_status=dg.DefaultSensorStatus.STOPPED,
    asset_selection=dg.AssetSelection.all(),
)
def new_landing_files(context: dg.SensorEvaluationContext):
    landing = get_settings().landing_dir
    if not landing.is_dir():
        return dg.SkipReason(f"landing folder {landing} does not exist")
    seen = json.loads(context.cursor) if context.cursor else {}
    changed, entities = landing_changes(landing, seen)
    if not changed:
        return dg.SkipReason("no new or changed files")
    seen.update(changed)
    context.update_cursor(json.dumps(seen, sort_keys=True))
    if not entities:
        # Only files no spec reads: record them (the landing asset writes them to the manifest).
        selection = [LANDING_KEY]
    else:
        graph = context.repository_def.asset_graph
        roots = dg.AssetSelection.assets(*[raw_asset_key(e) for e in sorted(entities)])
        selection = sorted(roots.downstream().resolve(graph) | {LANDING_KEY}, key=lambda k: k.to_user_string())
    run_key = "landing:" + ",".join(f"{k}={v}" for k, v in sorted(changed.items()))
    return dg.RunRequest(
        run_key=run_key[:4000],
        asset_selection=selection,
        tags={"cxw/pipeline": "sensor", "cxw/changed_sources": ",".join(sorted(entities)) or "none",
              "cxw/changed_files": str(len(changed))},
    )
