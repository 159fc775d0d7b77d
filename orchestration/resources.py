"""Resources: the warehouse file (one DuckDB writer at a time) and dbt."""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ingest.settings import get_settings
from ingest.warehouse import connect

# Every asset that writes the warehouse takes a slot of this pool; dagster.yaml gives it one slot,
# because DuckDB allows one read-write process per database file.
WRITER_POOL = "duckdb_writer"

LOCK_RETRIES = 4


def retry_on_lock(context, exc: BaseException, locked: bool) -> None:
    """Retry a step, with growing waits, when it failed only because another process held the
    warehouse's write lock (a manual dbt run, a BI tool opened on the live file). Other errors are
    real failures and are not retried."""
    if locked:
        wait = 10 * 2 ** context.retry_number
        context.log.warning(f"warehouse locked by another process; retrying in {wait}s ({exc})")
        raise dg.RetryRequested(max_retries=LOCK_RETRIES, seconds_to_wait=wait) from exc


class WarehouseResource(dg.ConfigurableResource):
    """The DuckDB warehouse file. Empty settings mean: use CXW_WAREHOUSE / CXW_LANDING_DIR / defaults."""

    warehouse_path: str = ""
    landing_dir: str = ""

    @property
    def path(self) -> Path:
        return Path(self.warehouse_path) if self.warehouse_path else get_settings().warehouse

    @property
    def landing(self) -> Path:
        return Path(self.landing_dir) if self.landing_dir else get_settings().landing_dir

    def connect(self, read_only: bool = False):
        return connect(self.path, read_only=read_only)
