"""The landing folder as an asset: what files are waiting, and which ones no spec can read."""


from collections import Counter

import dagster as dg

from ingest.loader import discover, ingest
from ingest.settings import get_settings
from ingest.spec import load_specs

from ..resources import WRITER_POOL, WarehouseResource


LANDING_KEY = dg.AssetKey(["landing", "export_files"])


@dg.asset(
    key=LANDING_KEY,
    group_name="sources",
    pool=WRITER_POOL,
    kinds={"file"},
    description="Export files dropped in the landing folder (CRM, support, marketing, survey). "
                "Files no source spec matches, and refused files (e.g. symlinks out of the folder), are "
                "recorded in ops.load_manifest with the reason.",
)
def landing_export_files(context: dg.AssetExecutionContext, warehouse: WarehouseResource) -> dg.MaterializeResult:
    specs = load_specs(get_settings().specs_dirs)
    files = discover(warehouse.landing)
    with warehouse.connect() as con:
        # Only unrecognised/refused files are recorded here; each raw asset loads its own entity.
        report = ingest(con, warehouse.landing, specs, entities=[], record_unrecognised=True)
    unrecognised = [f for f in report.files if f.status == "failed"]
    for f in unrecognised:
        context.log.warning(f.error)
    by_folder = Counter(rel.split("/", 1)[0] if "/" in rel else "(top level)" for rel, _, _ in files)
    return dg.MaterializeResult(metadata={
        "landing_dir": dg.MetadataValue.path(str(warehouse.landing)),
        "files": len(files),
        "unrecognised_files_new": len(unrecognised),
        "files_by_folder": dg.MetadataValue.md(
            "\n".join(["| folder | files |", "|---|---|"] + [f"| {k} | {v} |" for k, v in sorted(by_folder.items())])),
    })
