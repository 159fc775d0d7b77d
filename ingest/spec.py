"""Source specs: an export layout described as data (one YAML file per source entity).

A spec names the files it owns (glob patterns relative to the landing folder), how to read them, and
how each canonical column is found in the file and typed. Adding a vendor means adding a YAML file.
See docs/SOURCES.md for the format.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import yaml

from .sql import sql_type

FORMATS = ("csv", "jsonl")
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class SpecError(ValueError):
    """A spec file is malformed; the message names the spec file and the field."""


@dataclass(frozen=True)
class ColumnSpec:
    name: str  # canonical column name in raw.<entity>
    source: str  # header name (csv) or JSON path (jsonl)
    type: str
    required: bool = False  # file-level: the header must carry it


@dataclass(frozen=True)
class TimestampRules:
    timezone: str = "UTC"  # zone of timestamps written without an offset
    formats: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S",)


@dataclass(frozen=True)
class SourceSpec:
    entity: str
    source: str
    description: str
    files: tuple[str, ...]
    format: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    timestamps: TimestampRules = field(default_factory=TimestampRules)
    header_rows: int = 1
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    spec_file: str = ""

    @property
    def table(self) -> str:
        return self.entity

    def matches(self, relative_path: str) -> bool:
        path = PurePosixPath(relative_path)
        return any(path.match(pattern) or fnmatch.fnmatch(str(path), pattern) for pattern in self.files)


def _require(doc: dict, key: str, where: str):
    if key not in doc or doc[key] in (None, ""):
        raise SpecError(f"{where}: missing required field '{key}'")
    return doc[key]


def parse_spec(doc: dict, where: str) -> SourceSpec:
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: a spec must be a YAML mapping")
    entity = _require(doc, "entity", where)
    if not _NAME.match(entity):
        raise SpecError(f"{where}: entity {entity!r} must be lower_snake_case")
    fmt = _require(doc, "format", where)
    if fmt not in FORMATS:
        raise SpecError(f"{where}: format {fmt!r} is not supported (use one of {', '.join(FORMATS)})")
    files = _require(doc, "files", where)
    files = (files,) if isinstance(files, str) else tuple(files)
    raw_columns = _require(doc, "columns", where)
    columns = []
    for name, col in raw_columns.items():
        col_where = f"{where}: column '{name}'"
        if not _NAME.match(name) or name.startswith("_"):
            raise SpecError(f"{col_where}: canonical names are lower_snake_case and may not start with '_'")
        if not isinstance(col, dict):
            raise SpecError(f"{col_where}: expected a mapping with 'from' and 'type'")
        try:
            type_name = sql_type(str(_require(col, "type", col_where)))
        except ValueError as exc:
            raise SpecError(f"{col_where}: {exc}") from None
        columns.append(ColumnSpec(name=name, source=str(_require(col, "from", col_where)), type=type_name,
                                  required=bool(col.get("required", False))))
    names = {c.name for c in columns}
    key = tuple(doc.get("key") or ())
    for k in key:
        if k not in names:
            raise SpecError(f"{where}: key column '{k}' is not one of the columns")
    reader = doc.get("reader") or {}
    ts = doc.get("timestamps") or {}
    header_rows = int(reader.get("header_rows", 1))
    if fmt == "csv" and header_rows < 1:
        raise SpecError(f"{where}: reader.header_rows must be at least 1 for csv (the first row names the columns)")
    return SourceSpec(
        entity=entity,
        source=_require(doc, "source", where),
        description=doc.get("description", ""),
        files=files,
        format=fmt,
        columns=tuple(columns),
        key=key,
        timestamps=TimestampRules(timezone=ts.get("timezone", "UTC"),
                                  formats=tuple(ts.get("formats") or TimestampRules.formats)),
        header_rows=header_rows if fmt == "csv" else 0,
        delimiter=str(reader.get("delimiter", ",")),
        quote=str(reader.get("quote", '"')),
        encoding=str(reader.get("encoding", "utf-8")),
        spec_file=where,
    )


def load_specs(dirs) -> list[SourceSpec]:
    specs: dict[str, SourceSpec] = {}
    for d in dirs:
        for path in sorted(Path(d).glob("*.yml")):
            spec = parse_spec(yaml.safe_load(path.read_text(encoding="utf-8")), str(path))
            if spec.entity in specs:
                raise SpecError(f"{path}: entity '{spec.entity}' is already defined in {specs[spec.entity].spec_file}")
            specs[spec.entity] = spec
    return list(specs.values())


def match_spec(specs: list[SourceSpec], relative_path: str) -> SourceSpec | None:
    """The spec owning a landing file, or None. Two specs claiming one file is a configuration error."""
    hits = [s for s in specs if s.matches(relative_path)]
    if len(hits) > 1:
        raise SpecError(f"file {relative_path!r} matches several specs: {', '.join(s.entity for s in hits)}")
    return hits[0] if hits else None
