"""One asset per source entity: load its new landing files into raw.<entity>, then validate them.

The validation is the asset's blocking check `gx_validation`: a load that fails an `error`
expectation is quarantined and the check fails with ERROR severity, so the dbt models downstream do
not run in that run. Warnings fail the check with WARN severity, which does not block.
"""


import dagster as dg

from expectations.runner import validate_pending
from ingest.cli import describe
from ingest.loader import ingest
from ingest.settings import get_settings
from ingest.spec import EntityDef, load_entities, load_specs
from ingest.sql import qualified

import duckdb

from ingest.warehouse import is_lock_error

from ..resources import WRITER_POOL, WarehouseResource, retry_on_lock
from .landing import LANDING_KEY

CHECK_NAME = "gx_validation"

# A deal's contact is checked against the CRM contacts loaded so far: load contacts first.
EXTRA_DEPS = {"crm_deals": [dg.AssetKey(["raw", "crm_contacts"])]}


def _markdown_table(header: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for row in rows:
        lines.append("| " + " | ".join("" if v is None else str(v).replace("|", "\\|") for v in row) + " |")
    return "\n".join(lines)


def raw_asset_key(entity: str) -> dg.AssetKey:
    return dg.AssetKey(["raw", entity])


def build_raw_asset(entity: EntityDef, layouts: list[str]) -> dg.AssetsDefinition:
    key = raw_asset_key(entity.name)

    @dg.asset(
        key=key,
        group_name=f"raw_{entity.source}",
        description=f"{entity.description} Layouts: {', '.join(layouts) or 'none yet (add a mapping file)'} "
                    f"(ingest/specs/, docs/SOURCES.md); validated by expectations/suites/{entity.name}.yml.",
        deps=[LANDING_KEY, *EXTRA_DEPS.get(entity.name, [])],
        pool=WRITER_POOL,
        kinds={"duckdb"},
        tags={"cxw/source": entity.source},
        check_specs=[dg.AssetCheckSpec(
            CHECK_NAME, asset=key, blocking=True,
            description="Great Expectations suite on each new load; error failures quarantine the load.")],
    )
    def _raw_asset(context: dg.AssetExecutionContext, warehouse: WarehouseResource):
        specs = load_specs(get_settings().specs_dirs)
        try:
            con = warehouse.connect()
        except duckdb.IOException as exc:
            retry_on_lock(context, exc, is_lock_error(exc))
            raise
        with con:
            report = ingest(con, warehouse.landing, specs, entities=[entity.name], record_unrecognised=False,
                            progress=lambda r: context.log.info(f"{r.status} {r.source_file}: {describe(r)}"))
            validation = validate_pending(con, entity.name, warehouse.path)
            table = qualified("raw", entity.name)
            total_rows = con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            preview = con.execute(f"SELECT * EXCLUDE (_loaded_at) FROM {table} ORDER BY _load_id DESC, _source_row "
                                  "LIMIT 5").fetchall()
            preview_cols = [d[0] for d in con.description]
            still_quarantined = con.execute(
                "SELECT load_id, source_file FROM ops.load_manifest WHERE entity = ? AND validation_status = "
                "'quarantined' AND superseded_by IS NULL ORDER BY load_id", [entity.name]).fetchall()

        loaded = [f for f in report.files if f.status != "skipped"]
        failed = [f for f in loaded if f.status == "failed"]
        for f in failed:
            context.log.error(f.error)
        yield dg.MaterializeResult(
            asset_key=key,
            metadata={
                "new_files": len(loaded),
                "rows_loaded": sum(f.rows_loaded or 0 for f in loaded),
                "rows_rejected": sum(f.rows_rejected or 0 for f in loaded),
                "failed_files": len(failed),
                "dagster/row_count": total_rows,
                "files": dg.MetadataValue.md(_markdown_table(
                    ["load", "file", "status", "read", "loaded", "rejected", "error / note"],
                    [[f.load_id, f.source_file, f.status, f.rows_read, f.rows_loaded, f.rows_rejected,
                      f.error or f.note] for f in loaded]) if loaded else "no new files"),
                "preview": dg.MetadataValue.md(_markdown_table(
                    preview_cols, [[str(v)[:40] if v is not None else None for v in r] for r in preview])),
            },
        )

        new_quarantined = validation.quarantined
        failures = [(o, c) for o in validation.loads for c in o.failures]
        metadata = {
            "loads_validated": len(validation.loads),
            "loads_quarantined": len(new_quarantined),
            "loads_warned": len(validation.warned),
            "quarantined_loads_awaiting_action": dg.MetadataValue.json(
                [{"load_id": i, "file": f} for i, f in still_quarantined]),
            "failed_expectations": dg.MetadataValue.md(_markdown_table(
                ["load", "file", "severity", "expectation", "unexpected", "sample"],
                [[o.load_id, o.source_file, c.severity, c.expectation,
                  c.unexpected_count if c.unexpected_count is not None else c.observed_value,
                  ", ".join(str(s) for s in c.sample[:3]) or c.error] for o, c in failures])
                if failures else "none"),
            "seconds": round(validation.seconds, 2),
        }
        docs = sorted({o.data_docs for o in validation.loads if o.data_docs})
        if docs:
            metadata["data_docs"] = dg.MetadataValue.url(docs[-1])
        if new_quarantined:
            passed, severity = False, dg.AssetCheckSeverity.ERROR
            description = (f"{len(new_quarantined)} load(s) quarantined: "
                           + "; ".join(f"load {o.load_id} ({o.source_file}): {o.summary()}" for o in new_quarantined)
                           + ". Release with `cxw release LOAD_ID` or drop a corrected file under the same name.")
        elif validation.warned or still_quarantined:
            passed, severity = False, dg.AssetCheckSeverity.WARN
            description = (f"{len(validation.warned)} load(s) with warnings; {len(still_quarantined)} earlier "
                           "load(s) still quarantined.")
        else:
            passed, severity = True, dg.AssetCheckSeverity.ERROR
            description = f"{len(validation.loads)} new load(s), all expectations passed."
        yield dg.AssetCheckResult(asset_key=key, check_name=CHECK_NAME, passed=passed, severity=severity,
                                  description=description[:2000], metadata=metadata)

    return _raw_asset


def build_raw_assets() -> list[dg.AssetsDefinition]:
    specs = load_specs(get_settings().specs_dirs)
    return [build_raw_asset(entity, [s.name for s in specs if s.entity == entity.name])
            for entity in load_entities().values()]
