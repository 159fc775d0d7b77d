"""Where things live and how DuckDB is tuned; every value can be overridden by an environment variable.

One module so that the CLI, the Dagster resources, dbt's profile and the tests agree on the same paths.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]


def _path(env: str, default: Path) -> Path:
    value = os.environ.get(env)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    data_dir: Path
    warehouse: Path
    landing_dir: Path
    publish_dir: Path
    specs_dirs: tuple[Path, ...]
    duckdb_threads: int
    duckdb_memory_limit: str
    ingest_batch_bytes: int
    ingest_workers: int
    gx_docs_keep: int

    @property
    def rejects_dir(self) -> Path:
        return self.data_dir / "rejects"


def get_settings() -> Settings:
    """Read settings from the environment each call, so tests can point them at temporary folders."""
    data_dir = _path("CXW_DATA_DIR", PROJECT_ROOT / "data")
    threads = int(os.environ.get("CXW_DUCKDB_THREADS", os.cpu_count() or 2))
    extra_specs = [Path(p).expanduser().resolve() for p in os.environ.get("CXW_SPECS_DIRS", "").split(os.pathsep) if p]
    return Settings(
        data_dir=data_dir,
        warehouse=_path("CXW_WAREHOUSE", data_dir / "warehouse.duckdb"),
        landing_dir=_path("CXW_LANDING_DIR", data_dir / "landing"),
        publish_dir=_path("CXW_PUBLISH_DIR", data_dir / "published"),
        # Built-in presets, then the user's mapping files (data/mappings/ and CXW_SPECS_DIRS).
        specs_dirs=(Path(__file__).resolve().parent / "specs", data_dir / "mappings", *extra_specs),
        duckdb_threads=threads,
        # DuckDB spills to disk beyond this; 4 GB keeps the whole pipeline well under the 6 GB budget.
        duckdb_memory_limit=os.environ.get("CXW_DUCKDB_MEMORY_LIMIT", "4GB"),
        # Consecutive files of one entity share a transaction up to this size (one commit, not one per
        # file); 0 = one transaction per file. A kill loses at most one batch's work, never part of a file.
        ingest_batch_bytes=int(float(os.environ.get("CXW_INGEST_BATCH_MB", "512")) * 1_000_000),
        # Batches loaded at once, each on its own connection and transaction; they commit in file
        # order. A file's parse and its copy into raw each leave a core idle much of the time, and a
        # second batch fills it (docs/BENCHMARKS.md). 1 = one batch at a time.
        ingest_workers=max(1, int(os.environ.get("CXW_INGEST_WORKERS", 2 if threads >= 2 else 1))),
        # Data Docs keep the newest N validation results (ops.validation_results keeps every one):
        # GX lists and parses every stored result on each docs build, so an unbounded store makes
        # each day's validation slower than the last.
        gx_docs_keep=max(1, int(os.environ.get("CXW_GX_DOCS_KEEP", "200"))),
    )
