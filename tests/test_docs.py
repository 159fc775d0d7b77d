"""The user docs stay true: every preset is listed, and every mapping example in them parses."""

from __future__ import annotations

import re

import yaml

from ingest.spec import load_specs, parse_spec
from tests.conftest import REPO

SOURCES = (REPO / "docs" / "SOURCES.md").read_text(encoding="utf-8")


def test_every_preset_is_documented():
    for spec in load_specs([REPO / "ingest" / "specs"]):
        assert f"`{spec.name}`" in SOURCES, f"preset {spec.name} is missing from docs/SOURCES.md"


def test_every_mapping_example_in_the_docs_parses():
    presets = {yaml.safe_load(p.read_text())["preset"]: yaml.safe_load(p.read_text())
               for p in (REPO / "ingest" / "specs").glob("*.yml")}
    blocks = re.findall(r"```yaml\n(.*?)```", SOURCES, flags=re.S)
    examples = [yaml.safe_load(re.sub(r"(?m)^  ", "", b) if b.startswith("  ") else b) for b in blocks]
    examples = [e for e in examples if isinstance(e, dict) and ("name" in e or "extends" in e)
                and e.get("entity", "x") != "..."]
    assert len(examples) >= 4
    for example in examples:
        parse_spec(example, "docs/SOURCES.md example", presets=presets)


def test_worked_example_mappings_parse():
    specs = load_specs([REPO / "ingest" / "specs", REPO / "docs" / "mappings"])
    names = {s.name for s in specs}
    assert {"ibm_telco_customers", "olist_customers", "olist_orders", "olist_reviews"} <= names
