"""The warehouse file: connections, and the `ops` tables that record every load.

DuckDB allows one read-write process per file. Connections retry for a while when another process
holds the lock, so a scheduled run waits for a manual one instead of failing.
"""

from __future__ import annotations

import logging
import random
import time
from pathlib import Path

import duckdb

from .settings import get_settings
from .spec import EntityDef, SourceSpec, load_entities
from .sql import ident, qualified

log = logging.getLogger("cxw.warehouse")

RAW_SCHEMA = "raw"
OPS_SCHEMA = "ops"
LINEAGE_COLUMNS = (("_load_id", "BIGINT"), ("_source_file", "VARCHAR"), ("_source_row", "BIGINT"),
                   ("_loaded_at", "TIMESTAMP"))

OPS_DDL = f"""
CREATE SCHEMA IF NOT EXISTS {RAW_SCHEMA};
CREATE SCHEMA IF NOT EXISTS {OPS_SCHEMA};
CREATE TABLE IF NOT EXISTS {OPS_SCHEMA}.load_manifest (
    load_id            BIGINT PRIMARY KEY,
    entity             VARCHAR,          -- NULL when no spec claims the file
    source             VARCHAR,
    source_file        VARCHAR NOT NULL, -- path relative to the landing folder
    file_size          BIGINT,
    file_mtime         TIMESTAMP,
    content_hash       VARCHAR,          -- sha256 of the file's bytes
    rows_read          BIGINT,           -- data records the reader saw (header rows excluded)
    rows_loaded        BIGINT,
    rows_rejected      BIGINT,
    status             VARCHAR NOT NULL, -- loaded | failed
    error              VARCHAR,          -- why a failed file failed, naming file and column
    started_at         TIMESTAMP,
    finished_at        TIMESTAMP,
    duration_s         DOUBLE,
    supersedes         BIGINT,           -- earlier load of the same file name this version replaces
    superseded_by      BIGINT,
    validation_status  VARCHAR,          -- pending | passed | warned | quarantined | released
    validation_summary VARCHAR,
    validated_at       TIMESTAMP,
    released_at        TIMESTAMP,
    released_by        VARCHAR,
    layout             VARCHAR,          -- the preset or mapping that read the file
    missing_columns    VARCHAR           -- fields the layout reads that this file did not have (left NULL)
);
CREATE TABLE IF NOT EXISTS {OPS_SCHEMA}.load_rejects (
    load_id      BIGINT NOT NULL,
    entity       VARCHAR,
    source_file  VARCHAR NOT NULL,
    source_row   BIGINT,                 -- record number in the file, header rows included
    column_name  VARCHAR,
    reason       VARCHAR NOT NULL,
    raw_record   VARCHAR,                -- the record as read (JSON object of header -> value, or the line)
    rejected_at  TIMESTAMP NOT NULL
);
"""


def is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "could not set lock" in text or "conflicting lock" in text or "database is locked" in text


def connect(path: Path | str | None = None, *, read_only: bool = False, wait_s: float = 300.0,
            threads: int | None = None, memory_limit: str | None = None) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, waiting (with jittered backoff) while another process holds the write lock."""
    settings = get_settings()
    path = Path(path) if path else settings.warehouse
    path.parent.mkdir(parents=True, exist_ok=True)
    config = {"threads": threads or settings.duckdb_threads,
              "memory_limit": memory_limit or settings.duckdb_memory_limit,
              }
    deadline = time.monotonic() + wait_s
    delay = 0.05
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
            # All timestamps are stored in UTC; make "now()" and casts agree whatever the host's zone.
            con.execute("SET TimeZone = 'UTC'")
            # DuckDB draws a progress bar on the terminal for queries over 2 s: in Dagster's captured
            # logs and CI output it is only noise (publish's per-mart log lines say where time goes).
            con.execute("SET enable_progress_bar = false")
            break
        except duckdb.IOException as exc:
            if not is_lock_error(exc) or time.monotonic() > deadline:
                raise
            log.info("warehouse %s is locked by another process; retrying in %.2fs", path, delay)
            time.sleep(delay + random.random() * delay)
            delay = min(delay * 2, 2.0)
    return con


def ensure_ops(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(OPS_DDL)
    # Warehouses made by an earlier version get the columns added since.
    for column in ("layout", "missing_columns"):
        con.execute(f"ALTER TABLE {OPS_SCHEMA}.load_manifest ADD COLUMN IF NOT EXISTS {column} VARCHAR")


def ensure_raw_table(con: duckdb.DuckDBPyConnection, entity: EntityDef | SourceSpec) -> None:
    """Create raw.<entity> with every field of the entity (ingest/entities.yml), or add fields a newer
    definition introduced. Never drops a column; a changed type is an error to fix by hand."""
    if isinstance(entity, SourceSpec):
        entity = load_entities()[entity.entity]
    columns = [(f.name, f.type) for f in entity.fields.values()] + list(LINEAGE_COLUMNS)
    table = qualified(RAW_SCHEMA, entity.name)
    con.execute(f"CREATE TABLE IF NOT EXISTS {table} ({', '.join(f'{ident(n)} {t}' for n, t in columns)})")
    existing = dict(con.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_schema = ? AND table_name = ?",
        [RAW_SCHEMA, entity.name]).fetchall())
    for name, type_ in columns:
        if name not in existing:
            con.execute(f"ALTER TABLE {table} ADD COLUMN {ident(name)} {type_}")
        elif existing[name].replace(" ", "") != type_.replace(" ", "") and not name.startswith("_"):
            # A field that changed type (e.g. ids that became VARCHAR): widen it in place. DuckDB
            # casts the stored values; VARCHAR always succeeds.
            con.execute(f"ALTER TABLE {table} ALTER COLUMN {ident(name)} TYPE {type_}")
