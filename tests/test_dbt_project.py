"""The dbt project on its own: it parses, and every dbt unit test of a metric formula passes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

DBT = str(Path(sys.executable).with_name("dbt"))
DBT_DIR = REPO / "dbt_project"


def dbt(args, warehouse: Path, tmp_path: Path):
    env = {**os.environ, "CXW_WAREHOUSE": str(warehouse), "DBT_SEND_ANONYMOUS_USAGE_STATS": "False"}
    return subprocess.run([DBT, *args, "--profiles-dir", str(DBT_DIR), "--target-path", str(tmp_path / "target"),
                           "--log-path", str(tmp_path / "logs")], cwd=DBT_DIR, env=env, capture_output=True,
                          text=True, timeout=600)


@pytest.fixture
def empty_warehouse(tmp_path):
    from expectations.runner import ensure_results_table
    from ingest.spec import load_entities
    from ingest.warehouse import connect, ensure_ops, ensure_raw_table

    path = tmp_path / "warehouse.duckdb"
    with connect(path) as con:
        ensure_ops(con)
        ensure_results_table(con)
        for entity in load_entities().values():
            ensure_raw_table(con, entity)
    return path


def test_unit_tests_of_every_metric_formula_pass(empty_warehouse, tmp_path):
    # Unit tests need their inputs' relations to exist; --empty builds every model with zero rows.
    built = dbt(["run", "--empty"], empty_warehouse, tmp_path)
    assert built.returncode == 0, built.stdout[-3000:]
    result = dbt(["test", "--select", "test_type:unit"], empty_warehouse, tmp_path)
    assert result.returncode == 0, result.stdout[-5000:]
    run = json.loads((tmp_path / "target" / "run_results.json").read_text())
    passed = [r["unique_id"] for r in run["results"] if r["status"] == "pass"]
    assert len(passed) >= 12, passed
    tested_models = {uid.split(".")[2] for uid in passed}
    for model in ["nps_monthly", "csat_monthly", "ces_monthly", "customer_journey_stages", "churn_monthly",
                  "ltv_by_cohort", "support_performance_monthly", "marketing_attribution"]:
        assert model in tested_models, f"no unit test for {model}"


def test_every_mart_and_mart_column_is_described(empty_warehouse, tmp_path):
    import duckdb

    result = dbt(["run", "--empty"], empty_warehouse, tmp_path)
    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(empty_warehouse), read_only=True) as con:
        built = {}
        for table, column in con.execute("SELECT table_name, column_name FROM information_schema.columns "
                                         "WHERE table_schema = 'marts'").fetchall():
            built.setdefault(table, set()).add(column)
    manifest = json.loads((tmp_path / "target" / "manifest.json").read_text())
    undocumented = []
    for node in manifest["nodes"].values():
        if node["resource_type"] != "model" or "marts" not in node["fqn"]:
            continue
        if not node["description"].strip():
            undocumented.append(node["name"])
        missing = built.get(node["name"], set()) - set(node["columns"])
        undocumented += [f"{node['name']}.{c} (not in the YAML)" for c in sorted(missing)]
        undocumented += [f"{node['name']}.{c}" for c, v in node["columns"].items() if not v["description"].strip()]
    assert not undocumented, undocumented
