"""Turn a spec and a landing file into one DuckDB query that parses, types and checks every record.

DuckDB's own readers do the parsing: `read_csv` with `store_rejects` records structurally broken
records (ragged rows, bad quoting, over-long lines) with their record number, and JSON Lines files
are read line by line with the same reader and decoded with DuckDB's JSON functions. Typing is done
with TRY_CAST/try_strptime in SQL, so a value that does not fit its column marks its record as
rejected with a reason instead of failing the file. No Python touches individual records.

The query returns, per record: the typed canonical columns, `_ord` (ordinal among the records the
reader accepted), `_reject_reason` (NULL when the record is good) and `_raw_record` (the original
values, only for rejected records).
"""

from __future__ import annotations

import codecs
import csv
from dataclasses import dataclass
from pathlib import Path

from .spec import ColumnSpec, SourceSpec
from .sql import Params, ident

# Structural rejects land in these temporary tables; the loader drops them after each file.
REJECTS_TABLE = "_cxw_reject_errors"
REJECTS_SCAN = "_cxw_reject_scans"
JSONL_SEPARATOR = "\x1f"  # never appears unescaped in valid JSON, so each line is one field
MAX_LINE_BYTES = 8 * 1024 * 1024


class FileError(ValueError):
    """The file cannot be loaded at all (unreadable header, missing required column, ...)."""


@dataclass(frozen=True)
class ParsePlan:
    sql: str
    params: dict
    header: tuple[str, ...]
    missing_optional: tuple[str, ...]
    # Set when the file as a whole cannot be loaded but its records can still be read: every
    # record is then rejected with this reason, so nothing goes unrecorded.
    file_error: str | None = None


def _duckdb_encoding(encoding: str) -> str:
    name = codecs.lookup(encoding).name
    return {"utf-8": "utf-8", "utf-16": "utf-16", "latin-1": "latin-1", "iso8859-1": "latin-1",
            "cp1252": "latin-1"}.get(name, name)


def read_csv_header(spec: SourceSpec, path: Path) -> tuple[str, ...]:
    """The first record of a CSV file, decoded with the spec's encoding (a UTF-8 BOM is dropped)."""
    encoding = "utf-8-sig" if codecs.lookup(spec.encoding).name == "utf-8" else spec.encoding
    try:
        with open(path, encoding=encoding, newline="", errors="strict") as fh:
            header = next(csv.reader(fh, delimiter=spec.delimiter, quotechar=spec.quote), None)
    except UnicodeDecodeError as exc:
        raise FileError(f"{path.name}: header is not valid {spec.encoding} text ({exc.reason} at byte {exc.start})")
    except csv.Error as exc:
        raise FileError(f"{path.name}: cannot read the header row: {exc}")
    if not header:
        raise FileError(f"{path.name}: file is empty (no header row)")
    return tuple(header)


def _resolve_columns(spec: SourceSpec, path: Path, header: tuple[str, ...]) -> tuple[dict[str, int], list[str]]:
    """Map each canonical column to its position in the header (trimmed, case-insensitive).

    Raises FileError naming the file and the column when a required column is missing or a mapped
    column is ambiguous."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        positions.setdefault(name.strip().lower(), []).append(i)
    found, missing_required, missing_optional = {}, [], []
    for col in spec.columns:
        hits = positions.get(col.source.strip().lower(), [])
        if len(hits) > 1:
            raise FileError(f"{path.name}: column '{col.source}' appears {len(hits)} times in the header "
                            f"(positions {', '.join(str(h + 1) for h in hits)}); cannot tell which one holds {col.name}")
        if hits:
            found[col.name] = hits[0]
        elif col.required:
            missing_required.append(col)
        else:
            missing_optional.append(col.name)
    if missing_required:
        names = ", ".join(f"'{c.source}' ({c.name})" for c in missing_required)
        raise FileError(f"{path.name}: required column {names} missing from the header; the file has: "
                        + ", ".join(f"'{h}'" for h in header[:40]))
    return found, missing_optional


def _typed(col: ColumnSpec, value: str, spec: SourceSpec, p: Params) -> str:
    """SQL turning the VARCHAR expression `value` into the column's type, NULL when it does not parse."""
    stripped = f"nullif(trim({value}), '')"
    if col.type == "VARCHAR":
        return f"nullif({value}, '')"
    if col.type == "TIMESTAMP":
        zoned = p.add(["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z",
                       "%Y-%m-%d %H:%M:%S.%f%z"])
        naive = p.add(list(spec.timestamps.formats) + ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f",
                                                       "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d"])
        tz = p.add(spec.timestamps.timezone)
        # An explicit offset (or Z) wins; otherwise the value is wall-clock time in the spec's zone.
        # Everything is stored as UTC without a zone, which every BI tool and engine reads the same way.
        return (f"timezone('UTC', coalesce("
                f"try_strptime(regexp_replace({stripped}, '(Z|z)$', '+00:00'), {zoned}), "
                f"timezone({tz}, try_strptime({stripped}, {naive}))))")
    if col.type == "BOOLEAN":
        return (f"CASE lower({stripped}) WHEN 'true' THEN true WHEN 't' THEN true WHEN 'yes' THEN true "
                f"WHEN 'y' THEN true WHEN '1' THEN true WHEN 'false' THEN false WHEN 'f' THEN false "
                f"WHEN 'no' THEN false WHEN 'n' THEN false WHEN '0' THEN false END")
    return f"TRY_CAST({stripped} AS {col.type})"


def build_parse_plan(spec: SourceSpec, path: Path) -> ParsePlan:
    p = Params()
    file_param = p.add(str(path))
    value_of: dict[str, str] = {}  # canonical column -> VARCHAR SQL expression of its source value
    label_of: dict[str, str] = {}  # canonical column -> header name or JSON path, shown in reasons
    file_error = None
    if spec.format == "csv":
        header = read_csv_header(spec, path)
        try:
            found, missing_optional = _resolve_columns(spec, path, header)
        except FileError as exc:
            file_error, found, missing_optional = str(exc), {}, []
        columns = "{" + ", ".join(f"'_c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
        source = (f"read_csv({file_param}, header=false, auto_detect=false, columns={columns}, "
                  f"delim={p.add(spec.delimiter)}, quote={p.add(spec.quote)}, escape={p.add(spec.quote)}, "
                  f"encoding={p.add(_duckdb_encoding(spec.encoding))}, max_line_size={MAX_LINE_BYTES}, "
                  f"strict_mode=true, store_rejects=true, rejects_table='{REJECTS_TABLE}', "
                  f"rejects_scan='{REJECTS_SCAN}', parallel=true) WITH ORDINALITY")
        for col in spec.columns:
            if col.name in found:
                value_of[col.name] = ident(f"_c{found[col.name]}")
                label_of[col.name] = header[found[col.name]]
        blank = " AND ".join(f"{ident(f'_c{i}')} IS NULL" for i in range(len(header)))
        raw_record = ("CAST(json_object(" + ", ".join(f"{p.add(h)}, {ident(f'_c{i}')}" for i, h in enumerate(header))
                      + ") AS VARCHAR)")
        structural = None
        skip = f"ordinality > {int(spec.header_rows)}"
    else:
        header = ()
        missing_optional = []
        source = (f"read_csv({file_param}, header=false, auto_detect=false, columns={{'_line': 'VARCHAR'}}, "
                  f"delim={p.add(JSONL_SEPARATOR)}, quote='', escape='', max_line_size={MAX_LINE_BYTES}, "
                  f"store_rejects=true, rejects_table='{REJECTS_TABLE}', rejects_scan='{REJECTS_SCAN}') "
                  f"WITH ORDINALITY")
        # Decode once; JSON functions raise on malformed text, so invalid lines carry a NULL document.
        source = f"(SELECT *, CASE WHEN json_valid(_line) THEN _line END AS _json FROM {source})"
        for col in spec.columns:
            value_of[col.name] = f"json_extract_string(_json, {p.add(col.source)})"
            label_of[col.name] = col.source
        blank = "_line IS NULL OR trim(_line) = ''"
        raw_record = "_line"
        structural = ("CASE WHEN _json IS NULL THEN 'line is not valid JSON' "
                      "WHEN json_type(_json) <> 'OBJECT' THEN 'line is not a JSON object' END")
        skip = "true"

    typed_cols, checks, failing = [], [], []
    for col in spec.columns:
        if col.name not in value_of:
            typed_cols.append(f"CAST(NULL AS {col.type}) AS {ident(col.name)}")
            continue
        value = value_of[col.name]
        typed_cols.append(f"{_typed(col, value, spec, p)} AS {ident(col.name)}")
        if col.type != "VARCHAR":
            fails = f"nullif(trim({value}), '') IS NOT NULL AND {ident(col.name)} IS NULL"
            label = p.add(label_of[col.name])
            checks.append(f"CASE WHEN {fails} THEN 'column ' || {label} || ': cannot read ''' || "
                          f"left({value}, 80) || ''' as {col.type}' END")
            failing.append(f"CASE WHEN {fails} THEN {label} END")
    reasons = ([structural] if structural else []) + checks
    reason_sql = f"nullif(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else "CAST(NULL AS VARCHAR)"
    column_sql = f"coalesce({', '.join(failing)})" if failing else "CAST(NULL AS VARCHAR)"
    if file_error:
        reason_sql, column_sql = p.add(file_error), "CAST(NULL AS VARCHAR)"
    sql = f"""
        WITH typed AS (
            SELECT *, {', '.join(typed_cols)}
            FROM {source}
            WHERE {skip} AND NOT ({blank})
        ), checked AS (
            SELECT typed.*, {reason_sql} AS _reject_reason, {column_sql} AS _reject_column FROM typed
        )
        SELECT {', '.join(ident(c.name) for c in spec.columns)},
               ordinality AS _ord,
               _reject_reason,
               CASE WHEN _reject_reason IS NOT NULL THEN _reject_column END AS _reject_column,
               CASE WHEN _reject_reason IS NOT NULL THEN left({raw_record}, 10000) END AS _raw_record
        FROM checked
    """
    return ParsePlan(sql=sql, params=p.values, header=header, missing_optional=tuple(missing_optional),
                     file_error=file_error)
