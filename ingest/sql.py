"""Helpers that keep user-supplied names and values out of SQL text.

File names, column headers and mapping values come from users. Identifiers are double-quoted with
embedded quotes doubled; every value travels as a named parameter collected in `Params`.
"""

from __future__ import annotations

import re
from typing import Any

_SIMPLE_TYPE = re.compile(r"^(BIGINT|INTEGER|DOUBLE|BOOLEAN|VARCHAR|DATE|TIMESTAMP|DECIMAL\(\d{1,2},\d{1,2}\))$")


def ident(name: str) -> str:
    """Quote an identifier (schema, table or column name) for DuckDB."""
    if "\x00" in name:
        raise ValueError(f"identifier contains a NUL byte: {name!r}")
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str, table: str) -> str:
    return f"{ident(schema)}.{ident(table)}"


def sql_type(type_name: str) -> str:
    """Accept only the column types the specs may declare; anything else is a spec error."""
    normalised = type_name.strip().upper().replace(" ", "")
    if not _SIMPLE_TYPE.match(normalised):
        raise ValueError(f"unsupported column type {type_name!r}; use BIGINT, INTEGER, DOUBLE, DECIMAL(p,s), "
                         "BOOLEAN, VARCHAR, DATE or TIMESTAMP")
    return normalised


class Params:
    """Collects named parameters while a statement is being built: `p.add(value)` returns `$p0`."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}

    def add(self, value: Any) -> str:
        name = f"p{len(self.values)}"
        self.values[name] = value
        return f"${name}"
