"""Expectation suites as data: one YAML file per raw entity in expectations/suites/.

Each expectation has a `kind` (our vocabulary, documented in docs/VALIDATION.md), its options and a
`severity`: `error` quarantines the load, `warn` only records. This module reads and checks the files;
runner.py turns them into Great Expectations expectations.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import yaml

SUITES_DIR = Path(__file__).resolve().parent / "suites"
SEVERITIES = ("error", "warn")
_COLUMN = re.compile(r"^[a-z_][a-z0-9_]*$")

# kind -> (required options, optional options)
KINDS: dict[str, tuple[set[str], set[str]]] = {
    "columns_present": ({"columns"}, set()),
    "row_count": ({"min"}, {"max"}),
    "volume_anomaly": (set(), {"recent_loads", "tolerance"}),
    "not_null": ({"column"}, set()),
    "unique": ({"columns"}, set()),
    "between": ({"column"}, {"min", "max"}),
    "in_set": ({"column", "values"}, set()),
    "timestamp_window": ({"column"}, {"not_before", "allow_future"}),
    "email_format": ({"column"}, set()),
    "reference": ({"column", "to_entity", "to_column"}, set()),
}


class SuiteError(ValueError):
    """A suite file is malformed; the message names the file, the expectation and the option."""


@dataclass(frozen=True)
class Expectation:
    kind: str
    severity: str
    options: dict = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        return self.options.get("column")

    @property
    def label(self) -> str:
        """A short human name: `unique(ticket_id)`, `between(nps_score)`."""
        target = self.options.get("column") or ",".join(self.options.get("columns") or []) or ""
        if self.kind == "columns_present":
            target = ""
        return f"{self.kind}({target})" if target else self.kind


@dataclass(frozen=True)
class Suite:
    entity: str
    expectations: tuple[Expectation, ...]
    path: Path


def _check_column(name, where: str) -> str:
    if not isinstance(name, str) or not _COLUMN.match(name):
        raise SuiteError(f"{where}: {name!r} is not a column name (lower_snake_case)")
    return name


def parse_suite(doc: dict, path: Path) -> Suite:
    if not isinstance(doc, dict) or "suite" not in doc or not isinstance(doc.get("expectations"), list):
        raise SuiteError(f"{path}: a suite needs 'suite: <entity>' and a list 'expectations'")
    expectations = []
    for i, raw in enumerate(doc["expectations"], start=1):
        where = f"{path}: expectation {i}"
        if not isinstance(raw, dict) or "kind" not in raw:
            raise SuiteError(f"{where}: needs a 'kind'")
        kind = raw["kind"]
        if kind not in KINDS:
            raise SuiteError(f"{where}: unknown kind {kind!r} (known: {', '.join(sorted(KINDS))})")
        severity = raw.get("severity", "error")
        if severity not in SEVERITIES:
            raise SuiteError(f"{where}: severity must be 'error' or 'warn', not {severity!r}")
        options = {k: v for k, v in raw.items() if k not in ("kind", "severity")}
        required, optional = KINDS[kind]
        missing = required - options.keys()
        unknown = options.keys() - required - optional
        if missing:
            raise SuiteError(f"{where} ({kind}): missing option(s) {', '.join(sorted(missing))}")
        if unknown:
            raise SuiteError(f"{where} ({kind}): unknown option(s) {', '.join(sorted(unknown))}")
        for key in ("column", "to_column"):
            if key in options:
                _check_column(options[key], where)
        if "to_entity" in options:
            _check_column(options["to_entity"], where)
        if kind == "unique":
            options["columns"] = [_check_column(c, where) for c in options["columns"]]
        if kind == "columns_present":
            if not isinstance(options["columns"], dict):
                raise SuiteError(f"{where}: 'columns' maps column names to types")
            for c in options["columns"]:
                _check_column(c, where)
        if kind == "in_set" and not isinstance(options["values"], list):
            raise SuiteError(f"{where}: 'values' must be a list")
        if kind == "timestamp_window" and "not_before" in options:
            value = options["not_before"]
            if isinstance(value, str):
                try:
                    options["not_before"] = datetime.fromisoformat(value)
                except ValueError:
                    raise SuiteError(f"{where}: not_before {value!r} is not an ISO date") from None
            elif isinstance(value, date) and not isinstance(value, datetime):
                options["not_before"] = datetime(value.year, value.month, value.day)
        expectations.append(Expectation(kind=kind, severity=severity, options=options))
    return Suite(entity=str(doc["suite"]), expectations=tuple(expectations), path=path)


def load_suite(entity: str, suites_dir: Path = SUITES_DIR) -> Suite | None:
    path = suites_dir / f"{entity}.yml"
    if not path.exists():
        return None
    suite = parse_suite(yaml.safe_load(path.read_text(encoding="utf-8")), path)
    if suite.entity != entity:
        raise SuiteError(f"{path}: 'suite: {suite.entity}' does not match the file name ({entity})")
    return suite
