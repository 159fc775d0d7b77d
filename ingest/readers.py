"""Turn a spec and a landing file into one DuckDB query that parses, types and checks every record.

DuckDB's own readers do the parsing: `read_csv` with `store_rejects` records structurally broken
records (ragged rows, bad quoting, over-long lines) with their record number, and JSON Lines files
are read line by line with the same reader and decoded with DuckDB's JSON functions. Typing is done
with TRY_CAST/try_strptime in SQL, so a value that does not fit its field marks its record as
rejected with a reason instead of failing the file. No Python touches individual records.

The query returns one row per record the reader accepted, in file order and unfiltered: the typed
canonical fields, `_blank` (a record with no values, skipped), `_reject_reason` and `_reject_column`
(NULL when the record is good) and `_raw_record` (the original values, only for rejected records).
The loader materialises it and takes each record's position from the row's `rowid`: asking the reader
for `WITH ORDINALITY` made the read itself half as slow again (1M-customer web sessions: 12.1 s
against 8.3 s), and filtering in the query would shift the positions. The first `header_records` rows
are header rows.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .spec import ColumnSpec, SourceSpec
from .sql import Params, ident

# Structural rejects land in these temporary tables; the loader drops them after each file.
REJECTS_TABLE = "_cxw_reject_errors"
REJECTS_SCAN = "_cxw_reject_scans"
JSONL_SEPARATOR = "\x1f"  # never appears unescaped in valid JSON, so each line is one field
MAX_LINE_BYTES = 8 * 1024 * 1024
ZONED_FORMATS = ["%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%d %H:%M:%S%z", "%Y-%m-%d %H:%M:%S.%f%z"]
ISO_NAIVE_FORMATS = ["%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f", "%Y-%m-%d %H:%M:%S",
                     "%Y-%m-%d"]


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
    skip_lines: int = 0
    header_records: int = 0  # leading rows of the query's result that are header rows, not records


# Encodings DuckDB's CSV reader decodes itself; any other is transcoded to UTF-8 first (streamed).
DUCKDB_ENCODINGS = {"utf-8": "utf-8", "utf-16": "utf-16", "iso8859-1": "latin-1", "latin-1": "latin-1"}


def _python_encoding(spec: SourceSpec) -> str:
    return "utf-8-sig" if codecs.lookup(spec.encoding).name == "utf-8" else spec.encoding


def open_text(path: Path, encoding: str, errors: str = "strict"):
    """Open a landing file as text, gzip-compressed or not."""
    if path.suffix.lower() == ".gz":
        return gzip.open(path, "rt", encoding=encoding, newline="", errors=errors)
    return open(path, encoding=encoding, newline="", errors=errors)


def readable_path(spec: SourceSpec, path: Path, workdir: Path | None = None) -> Path:
    """A path DuckDB can read with its own decoder: the file itself, or a UTF-8 copy of a file in an
    encoding DuckDB does not know (Windows-1252 and the like), made by streaming in 1 MB chunks."""
    name = codecs.lookup(spec.encoding).name
    if name in DUCKDB_ENCODINGS:
        return path
    fd, tmp = tempfile.mkstemp(suffix=".utf8.csv", dir=workdir)
    with open(fd, "w", encoding="utf-8", newline="") as out, open_text(path, spec.encoding, errors="replace") as src:
        shutil.copyfileobj(src, out, 1024 * 1024)
    return Path(tmp)


def _duckdb_encoding(encoding: str) -> str:
    return DUCKDB_ENCODINGS.get(codecs.lookup(encoding).name, "utf-8")


def read_csv_header(spec: SourceSpec, path: Path) -> tuple[str, ...]:
    """The header record of a CSV file (after `skip_lines` title lines), decoded with the spec's
    encoding (a UTF-8 BOM is dropped). Only the header's own bytes are decoded, so a bad byte in a
    data row rejects that row later instead of failing the whole file here."""
    encoding = _python_encoding(spec)
    try:
        if codecs.lookup(spec.encoding).name in ("utf-8", "iso8859-1", "latin-1", "cp1252") and \
                codecs.lookup(spec.encoding).name != "utf-16":
            header = _first_record_bytewise(spec, path, encoding)
        else:
            with open_text(path, encoding) as fh:
                for _ in range(spec.skip_lines):
                    fh.readline()
                header = next(csv.reader(fh, delimiter=spec.delimiter, quotechar=spec.quote), None)
    except UnicodeDecodeError as exc:
        raise FileError(f"{path.name}: header is not valid {spec.encoding} text ({exc.reason} at byte {exc.start}); "
                        "set reader.encoding in a mapping file (docs/SOURCES.md)")
    except (csv.Error, OSError, EOFError) as exc:  # OSError: not really gzip; EOFError: truncated gzip
        raise FileError(f"{path.name}: cannot read the header row: {exc}")
    if not header or not any(h.strip() for h in header):
        raise FileError(f"{path.name}: file is empty (no header row)")
    return tuple(header)


def _first_record_bytewise(spec: SourceSpec, path: Path, encoding: str) -> list[str] | None:
    """Decode line by line only until the first record (which may span lines inside quotes) ends."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    with opener(path, "rb") as fh:
        if b"\x00" in fh.peek(4096)[:4096] if hasattr(fh, "peek") else False:
            raise FileError(f"{path.name}: binary content (NUL bytes), not a text export; a spreadsheet or an "
                            "archive needs to be saved as CSV first")
        for _ in range(spec.skip_lines):
            fh.readline()
        text = ""
        first = True
        while True:
            line = fh.readline(MAX_LINE_BYTES)
            if not line:
                break
            if first:
                line = line.removeprefix(codecs.BOM_UTF8) if encoding == "utf-8-sig" else line
                first = False
            text += line.decode(encoding.replace("-sig", ""))
            if text.count(spec.quote) % 2 == 0:  # quotes balanced: the record is complete
                break
    if not text:
        return None
    return next(csv.reader(io.StringIO(text), delimiter=spec.delimiter, quotechar=spec.quote), None)


def file_signature(spec_format: str, path: Path, encoding: str = "utf-8", skip_lines: int = 0) -> tuple[str, ...]:
    """Header names (csv) or top-level keys of the first record (jsonl), to recognise a layout."""
    with open_text(path, "utf-8-sig" if encoding == "utf-8" else encoding, errors="replace") as fh:
        if spec_format == "jsonl":
            for line in fh:
                if line.strip():
                    obj = json.loads(line)
                    return tuple(obj) + tuple(f"$.{k}" for k in obj) if isinstance(obj, dict) else ()
            return ()
        for _ in range(skip_lines):
            fh.readline()
        return tuple(next(csv.reader(fh), []))


def _resolve(spec: SourceSpec, path: Path, header: tuple[str, ...]) -> tuple[dict[str, list[int]], list[str]]:
    """Map each canonical field to its header position(s) (trimmed, case-insensitive).

    Raises FileError naming the file, the entity and the field when a required field is missing or a
    mapped column is ambiguous."""
    positions: dict[str, list[int]] = {}
    for i, name in enumerate(header):
        positions.setdefault(name.strip().lower(), []).append(i)

    def one(name: str, col: ColumnSpec) -> int | None:
        hits = positions.get(name.strip().lower(), [])
        if len(hits) > 1:
            raise FileError(f"{path.name}: column '{name}' appears {len(hits)} times in the header (positions "
                            f"{', '.join(str(h + 1) for h in hits)}); cannot tell which one holds {spec.entity}."
                            f"{col.name}")
        return hits[0] if hits else None

    found, missing_required, missing_optional = {}, [], []
    for col in spec.columns:
        if col.has_value:
            continue
        if col.pattern:
            regex = re.compile(col.pattern)
            hits = [i for i, h in enumerate(header) if regex.search(h)]
            where = hits[:1]
        elif col.alternatives:
            where = [i for a in col.alternatives if (i := one(a, col)) is not None]
        else:
            where = [one(s, col) for s in col.sources]
            where = [] if any(w is None for w in where) else where
        if where:
            found[col.name] = where
        elif col.required:
            missing_required.append(col)
        else:
            missing_optional.append(col.name)
    if missing_required:
        names = ", ".join(f"'{c.source}' (field {spec.entity}.{c.name})" for c in missing_required)
        raise FileError(f"{path.name}: required column {names} missing for layout {spec.name}; the file has: "
                        + ", ".join(f"'{h}'" for h in header[:40]))
    return found, missing_optional


def _number_text(text: str, spec: SourceSpec, p: Params) -> str:
    """Numbers as the export writes them: thousands separators dropped, a decimal comma made a point."""
    if spec.thousands:
        text = f"replace({text}, {p.add(spec.thousands)}, '')"
    if spec.decimal != ".":
        text = f"replace({text}, {p.add(spec.decimal)}, '.')"
    return text


def _typed(col: ColumnSpec, value: str, spec: SourceSpec, p: Params) -> str:
    """SQL turning the VARCHAR expression `value` into the field's type, NULL when it does not parse."""
    stripped = f"nullif(trim({value}), '')"
    if col.type == "VARCHAR":
        return f"nullif({value}, '')"
    if col.type == "TIMESTAMP":
        zoned = p.add(ZONED_FORMATS)
        naive = p.add(list(col.formats or spec.timestamps.formats) + ISO_NAIVE_FORMATS)
        tz = p.add(col.timezone or spec.timestamps.timezone)
        # An explicit offset (or Z) wins; otherwise the value is wall-clock time in the spec's zone.
        # Everything is stored as UTC without a zone, which every BI tool and engine reads the same way.
        # The offset formats are only tried on values that can carry one (a cheap test on the end).
        wall_clock = f"timezone({tz}, try_strptime({stripped}, {naive}))"
        return (f"timezone('UTC', CASE WHEN right({stripped}, 1) IN ('Z', 'z') OR substr({stripped}, -6, 1) "
                f"IN ('+', '-') OR substr({stripped}, -5, 1) IN ('+', '-') THEN coalesce(try_strptime("
                f"regexp_replace({stripped}, '(Z|z)$', '+00:00'), {zoned}), {wall_clock}) ELSE {wall_clock} END)")
    if col.type == "DATE":
        formats = p.add(list(col.formats or spec.timestamps.formats) + ["%Y-%m-%d"])
        return f"coalesce(TRY_CAST({stripped} AS DATE), CAST(try_strptime({stripped}, {formats}) AS DATE))"
    if col.type == "BOOLEAN":
        return (f"CASE lower({stripped}) WHEN 'true' THEN true WHEN 't' THEN true WHEN 'yes' THEN true "
                f"WHEN 'y' THEN true WHEN '1' THEN true WHEN 'false' THEN false WHEN 'f' THEN false "
                f"WHEN 'no' THEN false WHEN 'n' THEN false WHEN '0' THEN false END")
    number = _number_text(stripped, spec, p)
    if col.multiply is not None:
        rounded = "round" if col.type in ("BIGINT", "INTEGER") else ""
        return f"TRY_CAST({rounded}(TRY_CAST({number} AS DOUBLE) * {p.add(col.multiply)}) AS {col.type})"
    return f"TRY_CAST({number} AS {col.type})"


def _mapped(col: ColumnSpec, value: str, p: Params) -> str:
    """Apply the field's value map (matched trimmed and case-insensitively); other values pass."""
    if not col.value_map:
        return value
    def target(v):
        if v is None:
            return "NULL"
        return p.add(str(v).lower() if isinstance(v, bool) else str(v))

    cases = " ".join(f"WHEN {p.add(k)} THEN {target(v)}" for k, v in col.value_map)
    return f"CASE lower(trim({value})) {cases} ELSE {value} END"


def build_parse_plan(spec: SourceSpec, path: Path, read_path: Path | None = None) -> ParsePlan:
    """`read_path` is what DuckDB reads (a UTF-8 copy, see readable_path); `path` names the file."""
    p = Params()
    file_param = p.add(str(read_path or path))
    value_of: dict[str, str] = {}  # canonical field -> VARCHAR SQL expression of its source value
    label_of: dict[str, str] = {}  # canonical field -> header name or JSON path, shown in reasons
    file_error = None
    if spec.format == "csv":
        header = read_csv_header(spec, path)
        try:
            found, missing_optional = _resolve(spec, path, header)
        except FileError as exc:
            file_error, found, missing_optional = str(exc), {}, []
        columns = "{" + ", ".join(f"'_c{i}': 'VARCHAR'" for i in range(len(header))) + "}"
        source = (f"read_csv({file_param}, header=false, auto_detect=false, columns={columns}, "
                  f"delim={p.add(spec.delimiter)}, quote={p.add(spec.quote)}, escape={p.add(spec.quote)}, "
                  f"encoding={p.add(_duckdb_encoding(spec.encoding) if read_path in (None, path) else 'utf-8')}, "
                  f"skip={int(spec.skip_lines)}, "
                  f"max_line_size={MAX_LINE_BYTES}, strict_mode=true, store_rejects=true, "
                  f"rejects_table='{REJECTS_TABLE}', rejects_scan='{REJECTS_SCAN}', parallel=true)")
        for col in spec.columns:
            if col.name in found:
                parts = [ident(f"_c{i}") for i in found[col.name]]
                if len(parts) == 1:
                    value_of[col.name] = parts[0]
                elif col.alternatives:  # from_any: the first of the columns that holds a value
                    value_of[col.name] = f"coalesce({', '.join(f'nullif(trim({x}), {chr(39)}{chr(39)})' for x in parts)})"
                else:  # several columns joined into one value (a composite key)
                    value_of[col.name] = f"nullif(concat_ws({p.add(col.join)}, {', '.join(parts)}), '')"
                label_of[col.name] = (" | " if col.alternatives else " + ").join(header[i] for i in found[col.name])
        blank = " AND ".join(f"{ident(f'_c{i}')} IS NULL" for i in range(len(header)))
        raw_record = ("CAST(json_object(" + ", ".join(f"{p.add(h)}, {ident(f'_c{i}')}" for i, h in enumerate(header))
                      + ") AS VARCHAR)")
        structural = None
        header_records = int(spec.header_rows)
    else:
        header = ()
        missing_optional = []
        source = (f"read_csv({file_param}, header=false, auto_detect=false, columns={{'_line': 'VARCHAR'}}, "
                  f"delim={p.add(JSONL_SEPARATOR)}, quote='', escape='', max_line_size={MAX_LINE_BYTES}, "
                  f"store_rejects=true, rejects_table='{REJECTS_TABLE}', rejects_scan='{REJECTS_SCAN}')")
        # Every path is extracted in one call per line (one parse of the JSON text, not one per field);
        # JSON functions raise on malformed text, so invalid lines carry a NULL document.
        paths: list[str] = []
        for col in spec.columns:
            for x in (col.sources or ()) + (col.alternatives or ()):
                if x not in paths:
                    paths.append(x)
        extract = (f"json_extract_string(_json, [{', '.join(p.add(x) for x in paths)}])" if paths
                   else "CAST(NULL AS VARCHAR[])")
        source = (f"(SELECT *, {extract} AS _v FROM "
                  f"(SELECT *, CASE WHEN json_valid(_line) THEN _line END AS _json FROM {source}))")

        def slot(path: str) -> str:
            return f"_v[{paths.index(path) + 1}]"

        for col in spec.columns:
            if col.has_value:
                continue
            if col.alternatives:
                parts = [f"coalesce({', '.join(slot(x) for x in col.alternatives)})"]
            else:
                parts = [slot(x) for x in col.sources]
            value_of[col.name] = parts[0] if len(parts) == 1 else \
                f"nullif(concat_ws({p.add(col.join)}, {', '.join(parts)}), '')"
            label_of[col.name] = " + ".join(col.sources) or " | ".join(col.alternatives)
        # Blank: nothing but JSON whitespace (space, tab, carriage return).
        blank = "_line IS NULL OR regexp_full_match(_line, '[ \\t\\r]*')"
        raw_record = "_line"
        structural = ("CASE WHEN _json IS NULL THEN 'line is not valid JSON' "
                      "WHEN json_type(_json) <> 'OBJECT' THEN 'line is not a JSON object' END")
        header_records = 0

    typed_cols, checks, failing = [], [], []
    for col in spec.columns:
        if col.has_value:
            typed_cols.append(f"CAST({p.add(col.value)} AS {col.type}) AS {ident(col.name)}")
            continue
        if col.name not in value_of:
            typed_cols.append(f"CAST(NULL AS {col.type}) AS {ident(col.name)}")
            continue
        value = _mapped(col, value_of[col.name], p)
        typed_cols.append(f"{_typed(col, value, spec, p)} AS {ident(col.name)}")
        if col.type != "VARCHAR":
            label = p.add(label_of[col.name])
            fails = f"nullif(trim({value}), '') IS NOT NULL AND {ident(col.name)} IS NULL"
            checks.append(f"CASE WHEN {fails} THEN 'column ' || {label} || ': cannot read ''' || "
                          f"left({value}, 80) || ''' as {col.type}' END")
            failing.append(f"CASE WHEN {fails} THEN {label} END")
    # Columns the entity has but this layout does not map are NULL too.
    mapped = {c.name for c in spec.columns}
    reasons = ([structural] if structural else []) + checks
    reason_sql = f"nullif(concat_ws('; ', {', '.join(reasons)}), '')" if reasons else "CAST(NULL AS VARCHAR)"
    column_sql = f"coalesce({', '.join(failing)})" if failing else "CAST(NULL AS VARCHAR)"
    if file_error:
        reason_sql, column_sql = p.add(file_error), "CAST(NULL AS VARCHAR)"
    sql = f"""
        WITH typed AS (
            SELECT *, {', '.join(typed_cols)}, coalesce({blank}, false) AS _blank
            FROM {source}
        ), checked AS (
            SELECT typed.*, {reason_sql} AS _reject_reason, {column_sql} AS _reject_column FROM typed
        )
        SELECT {', '.join(ident(c) for c in sorted(mapped, key=[c.name for c in spec.columns].index))},
               _blank,
               _reject_reason,
               CASE WHEN _reject_reason IS NOT NULL THEN _reject_column END AS _reject_column,
               CASE WHEN _reject_reason IS NOT NULL THEN left({raw_record}, 10000) END AS _raw_record
        FROM checked
    """
    return ParsePlan(sql=sql, params=p.values, header=header, missing_optional=tuple(missing_optional),
                     file_error=file_error, skip_lines=spec.skip_lines, header_records=header_records)
