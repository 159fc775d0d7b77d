"""Publish the marts as a read-only copy for BI tools: one DuckDB file plus one Parquet file per mart.

DuckDB lets one process write a file or many read it, never both (docs/BI.md). BI tools therefore never
open the warehouse; they open `publish_dir/cx_marts.duckdb`, which this module rebuilds after each run:

* The warehouse is opened read-only; every table (and view) of schema `marts` is copied into a new
  DuckDB file `publish_dir/.cx_marts.<random>.tmp.duckdb`, which is checkpointed, closed and then
  `os.replace`d onto `cx_marts.duckdb`. On POSIX the rename is atomic: a reader that opened the old file
  keeps reading the old inode until it closes it; a reader that opens the path afterwards gets the
  complete new file; nobody ever sees a half-written one. Temporary files are deleted on failure.
* The Parquet files `publish_dir/parquet/<mart>.parquet` and `publish_dir/manifest.json` are written to
  temporary names and renamed the same way, after the DuckDB file. Each file is replaced atomically;
  the set of Parquet files is not one snapshot during the few milliseconds the renames take (the
  DuckDB file is). `manifest.json` is renamed last: when it shows a run id, every file of that run is
  in place.
* Personal data is masked: columns marked `meta: {pii: true}` in dbt, and email/phone/first_name/
  last_name in any mart, are replaced by a salted sha256 hash (email, phone: BI can still count and join
  distinct values) or NULL (names). Configurable per column (`pii=` argument, `publish_pii.yml`).
* Text that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, CR first, and not a plain
  number) gets a leading single quote, so an export from a BI tool never executes `=HYPERLINK(...)`.

Plain Python, no Dagster: the orchestration wraps `publish` in an asset.
"""

from __future__ import annotations

import contextlib
import fnmatch
import hashlib
import json
import logging
import os
import re
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import duckdb
import yaml

from ingest.settings import PROJECT_ROOT
from ingest.sql import Params, ident, qualified
from ingest.warehouse import connect

log = logging.getLogger("cxw.publish")
# zstd level 1 rather than DuckDB's default 3: at 1M customers the touchpoints file took 12.3 s instead
# of 15.3 s and came out no larger; readers decompress every level at the same speed.
PARQUET_ZSTD_LEVEL = 1

MARTS_SCHEMA = "marts"
DATABASE_NAME = "cx_marts.duckdb"
PARQUET_DIR = "parquet"
MANIFEST_NAME = "manifest.json"
MANIFEST_FORMAT_VERSION = 1

PII_ACTIONS = ("keep", "hash", "mask", "drop")
PII_FILE_NAME = "publish_pii.yml"
SALT_ENV = "CXW_PII_SALT"
STORAGE_VERSION_ENV = "CXW_PUBLISH_STORAGE_VERSION"
PII_FILE_ENV = "CXW_PUBLISH_PII_FILE"
# Public on purpose, so that a default install works; it makes hashes of guessable values (emails,
# phones) reversible by anyone who tries candidates. Every real deployment must set CXW_PII_SALT.
DEFAULT_SALT = "cx-warehouse-default-pii-salt-set-CXW_PII_SALT"

# Used whatever the dbt manifest says (it may be stale or missing). Keys are `schema.table.column`
# patterns (fnmatch, case-insensitive).
DEFAULT_PII_RULES: dict[str, str] = {
    "marts.*.email": "hash",
    "marts.*.phone": "hash",
    "marts.*.first_name": "mask",
    "marts.*.last_name": "mask",
    # record_key is the email address itself for email-activity and audience records. The identity
    # map keeps it hashed (for tracing a record); record_id repeats it and touchpoints join customers
    # through customer_id, so those copies are left out: hashing tens of millions of keys costs more
    # than they are worth in a BI tool.
    "marts.customer_identity_map.record_key": "hash",
    "marts.customer_identity_map.record_id": "drop",
    "marts.touchpoints.record_key": "drop",
}

# A value a spreadsheet would treat as a formula, unless it is just a number like -12.5 or +1e3.
FORMULA_START_RE = r"^[=+\-@\t\r]"
PLAIN_NUMBER_RE = r"[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)([eE][+-]?[0-9]+)?"
_STORAGE_VERSION_RE = re.compile(r"^(v\d+\.\d+\.\d+|latest)$")
_SAFE_FILE_RE = re.compile(r"[^A-Za-z0-9_.-]")
_STALE_TEMP_AGE_S = 6 * 3600


@dataclass(frozen=True)
class PublishResult:
    run_id: str
    published_at: str
    database: Path                  # publish_dir/cx_marts.duckdb
    parquet_files: dict[str, Path]  # mart -> publish_dir/parquet/<mart>.parquet
    manifest: Path                  # publish_dir/manifest.json
    row_counts: dict[str, int]      # mart -> rows
    pii_columns: dict[str, str]     # "marts.<mart>.<column>" -> hash | mask | drop (masked columns only)
    storage_version: str | None     # None: DuckDB's current format
    seconds: float
    warnings: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------------------------------
# Personal-data rules


def _validate_rules(rules: dict[str, Any], source: str) -> dict[str, str]:
    out = {}
    for key, action in (rules or {}).items():
        action_s = str(action).strip().lower()
        if action_s not in PII_ACTIONS:
            raise ValueError(f"{source}: PII action for {key!r} must be one of {', '.join(PII_ACTIONS)}, "
                             f"got {action!r}")
        if not isinstance(key, str) or key.count(".") < 2:
            raise ValueError(f"{source}: PII rule key {key!r} must be 'schema.table.column', "
                             "e.g. 'marts.customer_360.email' (wildcards allowed: 'marts.*.email')")
        out[key.strip().lower()] = action_s
    return out


def load_pii_file(path: Path) -> dict[str, str]:
    """Read `publish_pii.yml`: `columns: {marts.customer_360.email: keep, ...}` (or the mapping alone)."""
    data = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of 'schema.table.column' to keep|hash|mask|drop")
    if "columns" in data:
        data = data["columns"] or {}
        if not isinstance(data, dict):
            raise ValueError(f"{path}: 'columns' must be a mapping of 'schema.table.column' to an action")
    return _validate_rules(data, str(path))


def _default_action_for(column: str) -> str:
    """What `meta: {pii: true}` means for a column: names become NULL, anything else a hash."""
    c = column.lower()
    return "mask" if c.endswith("name") else "hash"


def load_manifest_pii(manifest_path: Path) -> dict[str, str]:
    """Columns that dbt marks personal data: `meta: {pii: true}` (or `pii: keep|hash|mask|drop`)."""
    try:
        manifest = json.loads(Path(manifest_path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        log.warning("cannot read dbt manifest %s (%s); using built-in PII defaults only", manifest_path, exc)
        return {}
    rules = {}
    for node in (manifest.get("nodes") or {}).values():
        if node.get("resource_type") not in ("model", "snapshot", "seed"):
            continue
        table = node.get("alias") or node.get("name")
        schema = node.get("schema")
        if not table or not schema:
            continue
        for column, spec in (node.get("columns") or {}).items():
            meta = dict(spec.get("meta") or {})
            meta.update((spec.get("config") or {}).get("meta") or {})
            pii = meta.get("pii")
            if pii is True:
                action = _default_action_for(column)
            elif isinstance(pii, str) and pii.lower() in PII_ACTIONS:
                action = pii.lower()
            else:
                continue
            rules[f"{schema}.{table}.{column}".lower()] = action
    return rules


def _match(rules: dict[str, str], key: str) -> str | None:
    if key in rules:
        return rules[key]
    for pattern, action in rules.items():  # first matching pattern, in the order written
        if any(ch in pattern for ch in "*?[") and fnmatch.fnmatchcase(key, pattern):
            return action
    return None


@dataclass
class PiiPolicy:
    """Rule layers, highest priority first: `pii=` argument, publish_pii.yml, dbt meta, built-in defaults."""

    layers: list[tuple[str, dict[str, str]]]

    def action(self, schema: str, table: str, column: str) -> str:
        key = f"{schema}.{table}.{column}".lower()
        for _, rules in self.layers:
            found = _match(rules, key)
            if found:
                return found
        return "keep"

    def all_rules(self) -> list[tuple[str, str, str]]:
        return [(source, key, action) for source, rules in self.layers for key, action in rules.items()]


def resolve_pii_policy(pii: dict | None = None, pii_file: Path | None = None,
                       manifest_path: Path | None = None) -> PiiPolicy:
    layers = []
    if pii:
        layers.append(("argument", _validate_rules(pii, "pii argument")))
    if pii_file is None:
        env_file = os.environ.get(PII_FILE_ENV)
        pii_file = Path(env_file) if env_file else PROJECT_ROOT / PII_FILE_NAME
    if Path(pii_file).exists():
        layers.append((str(pii_file), load_pii_file(Path(pii_file))))
    manifest_path = manifest_path or PROJECT_ROOT / "dbt_project" / "target" / "manifest.json"
    layers.append(("dbt manifest", load_manifest_pii(Path(manifest_path))))
    layers.append(("built-in defaults", dict(DEFAULT_PII_RULES)))
    return PiiPolicy(layers)


def pii_salt() -> tuple[str, bool]:
    """The salt for hashed columns and whether it is the public default."""
    salt = os.environ.get(SALT_ENV)
    return (salt, False) if salt else (DEFAULT_SALT, True)


# --------------------------------------------------------------------------------------------------
# SQL pieces


def sql_literal(value: str) -> str:
    """A SQL string literal (for the few places DuckDB takes no parameter: ATTACH, COPY, COMMENT)."""
    if "\x00" in value:
        raise ValueError("string contains a NUL byte")
    return "'" + value.replace("'", "''") + "'"


def neutralise_formula_sql(expr: str) -> str:
    """SQL that prefixes a single quote to a VARCHAR a spreadsheet would evaluate as a formula."""
    # The cheap first-character test spares the regular expressions on almost every value. ascii() is
    # the first character's code point (0 for ''), about three times cheaper than left(x, 1) IN (...)
    # because it builds no string: 1.4 s less per 22M-row mart of eight text columns.
    return (f"CASE WHEN ascii({expr}) IN (61, 43, 45, 64, 9, 13) "  # = + - @ tab CR
            f"AND regexp_matches({expr}, {sql_literal(FORMULA_START_RE)}) "
            f"AND NOT regexp_full_match({expr}, {sql_literal(PLAIN_NUMBER_RE)}) "
            f"THEN '''' || {expr} ELSE {expr} END")


def _column_expr(column: str, data_type: str, action: str, salt_param: str) -> str | None:
    col = ident(column)
    if action == "drop":
        return None
    if action == "mask":
        return f"CASE WHEN false THEN {col} END AS {col}"  # NULL of the column's own type
    if action == "hash":
        return f"sha256({salt_param} || CAST({col} AS VARCHAR)) AS {col}"
    if data_type.upper() == "VARCHAR":
        return f"{neutralise_formula_sql(col)} AS {col}"
    return col


# --------------------------------------------------------------------------------------------------
# Files


def _fsync_path(path: Path, directory: bool = False) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if directory else 0)
    try:
        fd = os.open(path, flags)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()


def _clean_stale_temps(publish_dir: Path) -> None:
    """Temp files a crashed publish left behind (a running publish holds the lock, so none is live)."""
    now = time.time()
    for pattern in (".cx_marts.*.tmp.duckdb*", f"{PARQUET_DIR}/.*.tmp.parquet", ".manifest.*.tmp.json"):
        for path in publish_dir.glob(pattern):
            with contextlib.suppress(OSError):
                if now - path.stat().st_mtime > _STALE_TEMP_AGE_S:
                    path.unlink()


@contextlib.contextmanager
def _publish_lock(publish_dir: Path):
    """One publish at a time per folder (two would interleave their Parquet renames)."""
    try:
        import fcntl
    except ImportError:  # Windows: no advisory locks here; the orchestrator serializes runs anyway
        yield
        return
    with open(publish_dir / ".publish.lock", "a+") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def _safe_file_stem(name: str) -> str:
    stem = _SAFE_FILE_RE.sub("_", name).lstrip(".")
    return stem or "table"


def _schema_fingerprint(columns: list[tuple[str, str]]) -> str:
    text = "\n".join(f"{n}\t{t}" for n, t in columns)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _previous_manifest(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


# --------------------------------------------------------------------------------------------------
# Publish


def publish(warehouse: Path, publish_dir: Path, pii: dict | None = None, storage_version: str | None = None,
            *, run_id: str | None = None, pii_file: Path | None = None,
            manifest_path: Path | None = None, progress: Callable[[str], None] | None = None) -> PublishResult:
    """Copy schema `marts` of `warehouse` to `publish_dir` (DuckDB file, Parquet, manifest.json), masked.

    pii:             per-column overrides, `{"marts.customer_360.email": "keep"|"hash"|"mask"|"drop"}`
                     (fnmatch wildcards allowed); win over publish_pii.yml, dbt meta and the defaults.
    storage_version: e.g. "v1.0.0" to write a file DuckDB 1.x BI drivers can read (default: the env
                     variable CXW_PUBLISH_STORAGE_VERSION, else DuckDB's current format).
    run_id:          recorded in manifest.json (default: a timestamp plus random suffix).
    pii_file:        default CXW_PUBLISH_PII_FILE, else <project root>/publish_pii.yml when present.
    manifest_path:   dbt's manifest.json for `meta.pii` (default dbt_project/target/manifest.json).
    progress:        called with a line per mart written (its rows and seconds), besides the log.
    """
    started = time.perf_counter()
    warehouse = Path(warehouse)
    publish_dir = Path(publish_dir)
    if not warehouse.exists():
        raise FileNotFoundError(f"warehouse {warehouse} does not exist: run the pipeline first")
    if storage_version is None:
        storage_version = os.environ.get(STORAGE_VERSION_ENV) or None
    if storage_version is not None and not _STORAGE_VERSION_RE.match(storage_version):
        raise ValueError(f"storage_version must look like 'v1.0.0' (or 'latest'), got {storage_version!r}")
    policy = resolve_pii_policy(pii, pii_file, manifest_path)
    salt, default_salt = pii_salt()
    run_id = run_id or datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ-") + secrets.token_hex(3)
    published_at = datetime.now(timezone.utc).isoformat(timespec="seconds")

    publish_dir.mkdir(parents=True, exist_ok=True)
    parquet_dir = publish_dir / PARQUET_DIR
    parquet_dir.mkdir(exist_ok=True)
    warnings: list[str] = []
    if default_salt:
        warnings.append(f"{SALT_ENV} is not set: hashed PII columns use the public default salt")
        log.warning("%s is not set: hashed PII columns use the public default salt; set it in production",
                    SALT_ENV)

    with _publish_lock(publish_dir):
        _clean_stale_temps(publish_dir)
        token = secrets.token_hex(8)
        tmp_db = publish_dir / f".cx_marts.{token}.tmp.duckdb"
        tmp_manifest = publish_dir / f".manifest.{token}.tmp.json"
        temps: list[Path] = [tmp_db, Path(f"{tmp_db}.wal"), tmp_manifest]
        try:
            tables, pii_columns, parquet_tmp = _build(warehouse, tmp_db, parquet_dir, token, policy, salt,
                                                      storage_version, temps, warnings, progress)
            # Durable before visible: the rename must never expose a file whose blocks are not on disk.
            _fsync_path(tmp_db)
            for path in parquet_tmp.values():
                _fsync_path(path)

            manifest_file = publish_dir / MANIFEST_NAME
            previous = _previous_manifest(manifest_file).get("tables") or {}
            manifest_tables = {}
            for name, info in tables.items():
                fingerprint = _schema_fingerprint(info["columns"])
                prev = previous.get(name) or {}
                version = prev.get("schema_version", 0)
                if prev.get("schema_fingerprint") != fingerprint:
                    version = int(version or 0) + 1
                manifest_tables[name] = {
                    "rows": info["rows"],
                    "parquet": f"{PARQUET_DIR}/{info['parquet_name']}",
                    "schema_version": version,
                    "schema_fingerprint": fingerprint,
                    "columns": [{"name": n, "type": t} for n, t in info["columns"]],
                }
            manifest = {
                "manifest_format_version": MANIFEST_FORMAT_VERSION,
                "run_id": run_id,
                "published_at": published_at,
                "source_warehouse": str(warehouse),
                "database": DATABASE_NAME,
                "schema": MARTS_SCHEMA,
                "duckdb_version": duckdb.__version__,
                "storage_version": storage_version or "current",
                "pii": {"salt": "default (public)" if default_salt else f"from {SALT_ENV}",
                        "columns": pii_columns},
                "formula_neutralisation": True,
                "tables": manifest_tables,
            }
            tmp_manifest.write_text(json.dumps(manifest, indent=2, sort_keys=False) + "\n", encoding="utf-8")
            _fsync_path(tmp_manifest)

            # Make it visible: the database first, then Parquet, then the manifest that names the run.
            database = publish_dir / DATABASE_NAME
            os.replace(tmp_db, database)
            parquet_files = {}
            for name, tmp in parquet_tmp.items():
                final = parquet_dir / tables[name]["parquet_name"]
                os.replace(tmp, final)
                parquet_files[name] = final
            keep = {p.name for p in parquet_files.values()}
            for old in parquet_dir.glob("*.parquet"):
                if old.name not in keep and not old.name.startswith("."):
                    _remove(old)  # a mart that no longer exists
            os.replace(tmp_manifest, manifest_file)
            _fsync_path(parquet_dir, directory=True)
            _fsync_path(publish_dir, directory=True)
        except BaseException:
            for path in temps:
                _remove(path)
            raise

    seconds = time.perf_counter() - started
    log.info("published %d marts (%s rows) to %s in %.1fs", len(tables),
             f"{sum(t['rows'] for t in tables.values()):,}", database, seconds)
    return PublishResult(
        run_id=run_id, published_at=published_at, database=database, parquet_files=parquet_files,
        manifest=manifest_file, row_counts={n: t["rows"] for n, t in tables.items()},
        pii_columns=pii_columns, storage_version=storage_version, seconds=seconds, warnings=warnings)


DBT_LEFTOVER_SUFFIXES = ("__dbt_backup", "__dbt_tmp")


def _build(warehouse: Path, tmp_db: Path, parquet_dir: Path, token: str, policy: PiiPolicy, salt: str,
           storage_version: str | None, temps: list[Path], warnings: list[str],
           progress: Callable[[str], None] | None = None):
    """Write the masked copy into tmp_db and the Parquet temp files; return what was written."""
    con = connect(warehouse, read_only=True)
    alias = f"cxw_publish_{token}"
    attached = False
    insertion_order = None
    try:
        # Published marts carry no row order (BI queries say ORDER BY); letting DuckDB write the copy
        # and Parquet in any order lets both cores write Parquet (1M touchpoints, timed back to back:
        # 20.6 -> 15.3 s; docs/BENCHMARKS.md). The setting is global to the database instance, which
        # every connection to this file in this process shares: the finally block puts it back.
        insertion_order = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
        con.execute("SET preserve_insertion_order = false")
        source_catalog = con.execute("SELECT current_database()").fetchone()[0]
        objects = con.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_catalog = ? AND table_schema = ? ORDER BY table_name",
            [source_catalog, MARTS_SCHEMA]).fetchall()
        # dbt leaves `<model>__dbt_backup` / `__dbt_tmp` tables behind when it is killed mid-swap;
        # they are not marts and must never reach BI.
        leftovers = [t for (t,) in objects if t.endswith(DBT_LEFTOVER_SUFFIXES)]
        if leftovers:
            warnings.append(f"left out dbt's intermediate tables {leftovers} (a killed dbt run leaves them)")
            log.warning("not publishing dbt leftovers %s", leftovers)
            objects = [(t,) for (t,) in objects if t not in leftovers]
        if not objects:
            warnings.append(f"schema {MARTS_SCHEMA} is empty or missing in {warehouse}")
            log.warning("no tables in schema %s of %s: publishing an empty copy", MARTS_SCHEMA, warehouse)
        columns_by_table: dict[str, list[tuple[str, str]]] = {}
        for table, column, data_type in con.execute(
                "SELECT table_name, column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = ? AND table_schema = ? ORDER BY table_name, ordinal_position",
                [source_catalog, MARTS_SCHEMA]).fetchall():
            columns_by_table.setdefault(table, []).append((column, data_type))
        table_comments = dict(con.execute(  # marts may be views too (customer_identity_map)
            "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = ? AND schema_name = ? "
            "AND comment IS NOT NULL UNION ALL "
            "SELECT view_name, comment FROM duckdb_views() WHERE database_name = ? AND schema_name = ? "
            "AND comment IS NOT NULL", [source_catalog, MARTS_SCHEMA] * 2).fetchall())
        column_comments = {(t, c): text for t, c, text in con.execute(
            "SELECT table_name, column_name, comment FROM duckdb_columns() WHERE database_name = ? "
            "AND schema_name = ? AND comment IS NOT NULL", [source_catalog, MARTS_SCHEMA]).fetchall()}

        options = ["READ_WRITE"]
        if storage_version:
            options.append(f"STORAGE_VERSION {sql_literal(storage_version)}")
        con.execute(f"ATTACH {sql_literal(str(tmp_db))} AS {ident(alias)} ({', '.join(options)})")
        attached = True
        con.execute(f"CREATE SCHEMA {qualified(alias, MARTS_SCHEMA)}")

        params = Params()
        salt_param = params.add(salt)
        tables: dict[str, dict] = {}
        pii_columns: dict[str, str] = {}
        parquet_tmp: dict[str, Path] = {}
        used_stems: set[str] = set()
        for (table,) in objects:
            source = f"{ident(source_catalog)}.{ident(MARTS_SCHEMA)}.{ident(table)}"
            target = f"{ident(alias)}.{ident(MARTS_SCHEMA)}.{ident(table)}"
            exprs, actions = [], {}
            for column, data_type in columns_by_table.get(table, []):
                action = policy.action(MARTS_SCHEMA, table, column)
                expr = _column_expr(column, data_type, action, salt_param)
                if action != "keep":
                    actions[column] = action
                    pii_columns[f"{MARTS_SCHEMA}.{table}.{column}"] = action
                if expr is not None:
                    exprs.append(expr)
            if not exprs:
                raise ValueError(f"every column of {MARTS_SCHEMA}.{table} is dropped by the PII rules")
            uses_salt = any(a == "hash" for a in actions.values())
            sql = f"CREATE TABLE {target} AS SELECT {', '.join(exprs)} FROM {source}"
            t_copy = time.perf_counter()
            con.execute(sql, params.values if uses_salt else None)
            copy_s = time.perf_counter() - t_copy

            _copy_comments(con, target, table, table_comments, column_comments, actions)
            rows = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
            published_columns = [(c, t) for c, t in con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = ? AND table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                [alias, MARTS_SCHEMA, table]).fetchall()]

            stem = _safe_file_stem(table)
            while stem in used_stems:
                stem += "_"
            used_stems.add(stem)
            tmp_parquet = parquet_dir / f".{stem}.{token}.tmp.parquet"
            temps.append(tmp_parquet)
            t_parquet = time.perf_counter()
            con.execute(f"COPY (SELECT * FROM {target}) TO {sql_literal(str(tmp_parquet))} "
                        f"(FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL {PARQUET_ZSTD_LEVEL})")
            parquet_tmp[table] = tmp_parquet
            # One line per mart: a 1M-customer publish takes over a minute, and this says where it goes.
            line = (f"published {table} ({rows:,} rows, {len(actions)} PII columns): copy {copy_s:.1f}s, "
                    f"parquet {time.perf_counter() - t_parquet:.1f}s")
            log.info("%s", line)
            if progress is not None:
                progress(line)
            tables[table] = {"rows": int(rows), "columns": published_columns, "parquet_name": f"{stem}.parquet"}

        con.execute(f"CHECKPOINT {ident(alias)}")
        con.execute(f"DETACH {ident(alias)}")
        attached = False
        return tables, pii_columns, parquet_tmp
    finally:
        if attached:
            with contextlib.suppress(Exception):
                con.execute(f"DETACH {ident(alias)}")
        if insertion_order is not None:
            with contextlib.suppress(Exception):
                con.execute(f"SET preserve_insertion_order = {'true' if insertion_order else 'false'}")
        con.close()


_ACTION_NOTE = {"hash": "Published as a salted sha256 hash (personal data).",
                "mask": "Published as NULL (personal data).", "drop": ""}


def _copy_comments(con, target: str, table: str, table_comments: dict, column_comments: dict,
                   actions: dict[str, str]) -> None:
    """dbt writes model and column descriptions as comments (persist_docs): keep them for BI users."""
    try:
        if table_comments.get(table):
            con.execute(f"COMMENT ON TABLE {target} IS {sql_literal(table_comments[table])}")
        columns = {c for (t, c) in column_comments if t == table} | set(actions)
        for column in sorted(columns):
            action = actions.get(column, "keep")
            if action == "drop":
                continue
            described = (column_comments.get((table, column)) or "").strip()
            if described and _ACTION_NOTE.get(action) and not described.endswith((".", "!", "?")):
                described += "."
            text = " ".join(filter(None, [described, _ACTION_NOTE.get(action)]))
            if text:
                con.execute(f"COMMENT ON COLUMN {target}.{ident(column)} IS {sql_literal(text)}")
    except duckdb.Error as exc:  # descriptions are a convenience, never a reason to fail a publish
        log.warning("could not copy comments of %s: %s", table, exc)
