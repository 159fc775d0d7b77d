"""Source specs: an export layout described as data.

`ingest/entities.yml` defines the canonical entities (one raw table each) and their typed fields.
A spec (a built-in preset in `ingest/specs/`, or a user's mapping file) says which files it reads,
how to read them, and where each field is in that layout. Adding a vendor is adding a YAML file.
docs/SOURCES.md documents every option.
"""

from __future__ import annotations

import fnmatch
import functools
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

from .sql import sql_type

FORMATS = ("csv", "jsonl")
ENTITIES_FILE = Path(__file__).resolve().parent / "entities.yml"
BUILTIN_SPECS_DIR = Path(__file__).resolve().parent / "specs"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_COLUMN_OPTIONS = {"from", "from_any", "from_pattern", "value", "map", "join", "multiply", "formats", "timezone",
                   "required", "default"}
_READER_OPTIONS = {"header_rows", "skip_lines", "delimiter", "quote", "encoding", "decimal", "thousands"}


class SpecError(ValueError):
    """A spec or mapping file is malformed; the message names the file, the entity and the field."""


@dataclass(frozen=True)
class FieldDef:
    name: str
    type: str
    required: bool = False
    identifier: str | None = None
    description: str = ""


@dataclass(frozen=True)
class EntityDef:
    name: str
    source: str
    description: str
    key: tuple[str, ...]
    fields: dict[str, FieldDef]


@dataclass(frozen=True)
class ColumnSpec:
    name: str  # canonical field
    type: str
    sources: tuple[str, ...] = ()  # header names / JSON paths; several are joined with `join`
    alternatives: tuple[str, ...] = ()  # from_any: the first one the file has
    pattern: str | None = None  # from_pattern: first header matching this regex
    value: Any = None  # a constant
    has_value: bool = False
    value_map: tuple[tuple[str, Any], ...] = ()  # trimmed, lower-cased source value -> value
    join: str = " "
    multiply: float | None = None
    formats: tuple[str, ...] | None = None
    timezone: str | None = None
    required: bool = False  # the file must carry it

    @property
    def source(self) -> str:
        """What a person would call the column, for messages."""
        if self.has_value:
            return f"constant {self.value!r}"
        if self.pattern:
            return f"header matching /{self.pattern}/"
        return " + ".join(self.sources) or " | ".join(self.alternatives)


@dataclass(frozen=True)
class TimestampRules:
    timezone: str = "UTC"  # zone of timestamps written without an offset
    formats: tuple[str, ...] = ("%Y-%m-%d %H:%M:%S",)


@dataclass(frozen=True)
class SourceSpec:
    name: str  # preset or mapping name, e.g. hubspot_contacts
    entity: str  # raw table it loads into
    source: str
    description: str
    files: tuple[str, ...]
    format: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    vendor: str = ""
    detect: tuple[str, ...] = ()  # headers (csv) or JSON paths (jsonl) that identify the layout
    timestamps: TimestampRules = field(default_factory=TimestampRules)
    header_rows: int = 1
    skip_lines: int = 0
    delimiter: str = ","
    quote: str = '"'
    encoding: str = "utf-8"
    decimal: str = "."
    thousands: str = ""
    spec_file: str = ""

    @property
    def table(self) -> str:
        return self.entity

    def matches(self, relative_path: str) -> bool:
        # A gzip-compressed export (contacts.csv.gz) is read like the file inside it.
        names = [relative_path] + ([relative_path[:-3]] if relative_path.lower().endswith(".gz") else [])
        return any(PurePosixPath(n).match(pattern) or fnmatch.fnmatch(n, pattern)
                   for n in names for pattern in self.files)


def _require(doc: dict, key: str, where: str):
    if key not in doc or doc[key] in (None, ""):
        raise SpecError(f"{where}: missing required field '{key}'")
    return doc[key]


def load_entities(path: Path = ENTITIES_FILE) -> dict[str, EntityDef]:
    """The canonical entities (parsed once per process and file version)."""
    stat = path.stat()
    return _load_entities(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _load_entities(path: str, _mtime_ns: int, _size: int) -> dict[str, EntityDef]:
    doc = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    entities = {}
    for name, body in doc.items():
        fields = {}
        for fname, f in body["fields"].items():
            fields[fname] = FieldDef(fname, sql_type(f["type"]), bool(f.get("required")), f.get("identifier"),
                                     f.get("description", ""))
        entities[name] = EntityDef(name, body["source"], body.get("description", ""), tuple(body.get("key", ())),
                                   fields)
    return entities


def _as_tuple(value) -> tuple[str, ...]:
    if value is None:
        return ()
    return (str(value),) if isinstance(value, (str, int)) else tuple(str(v) for v in value)


def _column(name: str, raw, fdef: FieldDef, where: str) -> ColumnSpec:
    if isinstance(raw, (str, list)):
        raw = {"from": raw}
    if not isinstance(raw, dict):
        raise SpecError(f"{where}: field '{name}' must be a header name or a mapping with 'from'")
    unknown = set(raw) - _COLUMN_OPTIONS
    if unknown:
        raise SpecError(f"{where}: field '{name}': unknown option(s) {', '.join(sorted(unknown))} "
                        f"(known: {', '.join(sorted(_COLUMN_OPTIONS))})")
    given = [k for k in ("from", "from_any", "from_pattern", "value") if k in raw]
    if len(given) != 1:
        raise SpecError(f"{where}: field '{name}' needs exactly one of from, from_any, from_pattern, value")
    if "from_pattern" in raw:
        try:
            re.compile(raw["from_pattern"])
        except re.error as exc:
            raise SpecError(f"{where}: field '{name}': from_pattern is not a valid regex ({exc})") from None
    value_map = raw.get("map") or {}
    if not isinstance(value_map, dict):
        raise SpecError(f"{where}: field '{name}': 'map' must map source values to values")
    multiply = raw.get("multiply")
    if multiply is not None and fdef.type in ("VARCHAR", "BOOLEAN", "DATE", "TIMESTAMP"):
        raise SpecError(f"{where}: field '{name}' is {fdef.type}; 'multiply' applies to numbers only")
    return ColumnSpec(
        name=name, type=fdef.type, sources=_as_tuple(raw.get("from")), alternatives=_as_tuple(raw.get("from_any")),
        pattern=raw.get("from_pattern"), value=raw.get("value"), has_value="value" in raw,
        value_map=tuple((str(k).strip().lower(), v) for k, v in value_map.items()), join=str(raw.get("join", " ")),
        multiply=float(multiply) if multiply is not None else None,
        formats=_as_tuple(raw["formats"]) if "formats" in raw else None, timezone=raw.get("timezone"),
        required=bool(raw.get("required", fdef.required)))


def parse_spec(doc: dict, where: str, entities: dict[str, EntityDef] | None = None,
               presets: dict[str, dict] | None = None) -> SourceSpec:
    """Build a spec from its YAML document. `extends: <preset>` starts from a preset's document."""
    if not isinstance(doc, dict):
        raise SpecError(f"{where}: a spec must be a YAML mapping")
    entities = entities or load_entities()
    if "extends" in doc:
        base = (presets or {}).get(doc["extends"])
        if base is None:
            raise SpecError(f"{where}: extends unknown preset '{doc['extends']}' "
                            f"(presets: {', '.join(sorted(presets or {}))})")
        merged = {**base, **{k: v for k, v in doc.items() if k not in ("extends", "columns", "reader", "timestamps")}}
        for part in ("columns", "reader", "timestamps"):
            merged[part] = {**(base.get(part) or {}), **(doc.get(part) or {})}
        merged["name"] = doc.get("name") or doc.get("preset") or f"{doc['extends']}_custom"
        merged.pop("preset", None)
        doc = merged
    name = doc.get("name") or doc.get("preset")
    if not name or not _NAME.match(str(name)):
        raise SpecError(f"{where}: needs a lower_snake_case 'preset' (or 'name') naming this layout")
    entity_name = _require(doc, "entity", where)
    if entity_name not in entities:
        raise SpecError(f"{where}: unknown entity '{entity_name}' (entities: {', '.join(sorted(entities))})")
    entity = entities[entity_name]
    fmt = _require(doc, "format", where)
    if fmt not in FORMATS:
        raise SpecError(f"{where}: format {fmt!r} is not supported (use one of {', '.join(FORMATS)})")
    files = _as_tuple(_require(doc, "files", where))
    raw_columns = _require(doc, "columns", where)
    columns = []
    for cname, raw in raw_columns.items():
        if cname not in entity.fields:
            raise SpecError(f"{where}: '{cname}' is not a field of entity {entity_name} "
                            f"(fields: {', '.join(entity.fields)})")
        columns.append(_column(cname, raw, entity.fields[cname], f"{where} ({entity_name})"))
    mapped = {c.name for c in columns}
    for fname, fdef in entity.fields.items():
        if fdef.required and fname not in mapped:
            raise SpecError(f"{where}: entity {entity_name} needs field '{fname}', and this spec does not map it "
                            f"(add it under columns: {fname}: <header>)")
    reader = doc.get("reader") or {}
    unknown = set(reader) - _READER_OPTIONS
    if unknown:
        raise SpecError(f"{where}: unknown reader option(s) {', '.join(sorted(unknown))}")
    ts = doc.get("timestamps") or {}
    header_rows = int(reader.get("header_rows", 1 if fmt == "csv" else 0))
    if fmt == "csv" and header_rows < 1:
        raise SpecError(f"{where}: reader.header_rows must be at least 1 for csv (the first row names the columns)")
    detect = doc.get("detect") or {}
    return SourceSpec(
        name=str(name), entity=entity_name, source=entity.source, description=doc.get("description", ""),
        files=files, format=fmt, columns=tuple(columns), key=entity.key, vendor=doc.get("vendor", ""),
        detect=_as_tuple(detect.get("headers") or detect.get("keys")),
        timestamps=TimestampRules(timezone=ts.get("timezone", "UTC"),
                                  formats=tuple(ts.get("formats") or TimestampRules.formats)),
        header_rows=header_rows if fmt == "csv" else 0, skip_lines=int(reader.get("skip_lines", 0)),
        delimiter=str(reader.get("delimiter", ",")), quote=str(reader.get("quote", '"')),
        encoding=str(reader.get("encoding", "utf-8")), decimal=str(reader.get("decimal", ".")),
        thousands=str(reader.get("thousands", "")), spec_file=where)


def load_specs(dirs) -> list[SourceSpec]:
    """Every spec in the folders, in order: built-in presets first, then mapping files."""
    entities = load_entities()
    docs: list[tuple[Path, dict]] = []
    for d in dirs:
        for path in sorted(Path(d).glob("*.yml")):
            docs.append((path, yaml.safe_load(path.read_text(encoding="utf-8")) or {}))
    presets = {str(doc.get("preset")): doc for _, doc in docs if isinstance(doc, dict) and "preset" in doc
               and "extends" not in doc}
    specs: dict[str, SourceSpec] = {}
    for path, doc in docs:
        spec = parse_spec(doc, str(path), entities, presets)
        if spec.name in specs:
            raise SpecError(f"{path}: layout '{spec.name}' is already defined in {specs[spec.name].spec_file}")
        specs[spec.name] = spec
    return list(specs.values())


def _specificity(spec: SourceSpec, relative_path: str) -> int:
    name = relative_path[:-3] if relative_path.lower().endswith(".gz") else relative_path
    path = PurePosixPath(name)
    return max((len(p.replace("*", "")) for p in spec.files if path.match(p) or fnmatch.fnmatch(name, p)),
               default=0)


def match_spec(specs: list[SourceSpec], relative_path: str, signature=None) -> SourceSpec | None:
    """The spec owning a landing file, or None.

    A spec's file patterns decide first. A file no pattern claims is recognised by its headers
    (`signature()` returns the file's header names or JSON keys) when exactly one layout's `detect`
    headers are all present, among the layouts of the file's source folder."""
    hits = [s for s in specs if s.matches(relative_path)]
    if len(hits) > 1:
        # A mapping file for the same files wins over the built-in preset it replaces; otherwise the
        # most specific pattern wins (survey/qualtrics_legacy*.csv over survey/qualtrics*.csv).
        custom = [s for s in hits if BUILTIN_SPECS_DIR not in Path(s.spec_file).parents]
        if len(custom) == 1:
            return custom[0]
        pool = custom or hits
        best = {s.name: _specificity(s, relative_path) for s in pool}
        top = max(best.values())
        winners = [s for s in pool if best[s.name] == top]
        if len(winners) == 1:
            return winners[0]
        raise SpecError(f"file {relative_path!r} matches several layouts: {', '.join(s.name for s in winners)}; "
                        "narrow their 'files' patterns or name one in a mapping file")
    if hits:
        return hits[0]
    if signature is None:
        return None
    folder = relative_path.split("/", 1)[0] if "/" in relative_path else None
    candidates = [s for s in specs if s.detect and (folder is None or s.source == folder
                                                     or folder not in {x.source for x in specs})]
    if not candidates:
        return None
    try:
        names = {n.strip().lower() for n in signature()}
    except Exception:
        return None
    detected = [s for s in candidates if all(h.strip().lower() in names for h in s.detect)]
    if len(detected) > 1:
        raise SpecError(f"file {relative_path!r} looks like several layouts ({', '.join(s.name for s in detected)}); "
                        "name one in a mapping file (docs/SOURCES.md)")
    return detected[0] if detected else None
