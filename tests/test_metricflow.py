"""The MetricFlow semantic layer (dbt_project/models/semantic): dbt parse writes a semantic manifest with
the CX metrics, MetricFlow accepts it, and `mf query` gives the marts' own numbers.

`mf` always reads `<project>/target/semantic_manifest.json` (it ignores --target-path) and logs to
`<project>/logs`, so each test works on a private copy of the dbt project and never touches the
shared `dbt_project/target`. `mf` opens the warehouse through dbt-duckdb, read-write (it takes
DuckDB's single-writer lock), so the slow test queries a copy of the demo warehouse.
"""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

pytest.importorskip("dbt_metricflow", reason="dbt-metricflow is not installed")

BIN = Path(sys.executable).parent
DBT, MF = str(BIN / "dbt"), str(BIN / "mf")
DBT_DIR = REPO / "dbt_project"
CORE_METRICS = {"nps", "csat", "ces", "churn_rate", "ltv"}


def project_copy(root: Path, warehouse: Path, extra_env: dict[str, str] | None = None):
    """A copy of the dbt project under root, parsed, and the environment that points dbt and mf at it.

    The semantic manifest names relations `"<database>"."marts"."..."`, and dbt-duckdb's database is the
    warehouse file's stem, so parse with the same CXW_WAREHOUSE the queries will use.
    """
    project = root / "dbt_project"
    shutil.copytree(DBT_DIR, project, ignore=shutil.ignore_patterns("target", "logs", "dbt_packages"))
    env = {**os.environ, **(extra_env or {}), "CXW_WAREHOUSE": str(warehouse),
           "DBT_PROFILES_DIR": str(project), "DBT_PROJECT_DIR": str(project),
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "False", "DO_NOT_TRACK": "1"}
    for var in ("DBT_TARGET_PATH", "DBT_LOG_PATH", "DBT_TARGET"):  # mf only reads ./target, default target
        env.pop(var, None)
    parsed = subprocess.run([DBT, "parse", "--profiles-dir", str(project)], cwd=project, env=env,
                            capture_output=True, text=True, timeout=300)
    assert parsed.returncode == 0, parsed.stdout[-3000:] + parsed.stderr[-2000:]
    return project, env


def mf(args: list[str], project: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    result = subprocess.run([MF, *args], cwd=project, env=env, capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return result


def test_semantic_manifest_lists_the_cx_metrics(tmp_path):
    project, env = project_copy(tmp_path, tmp_path / "warehouse.duckdb")
    manifest = json.loads((project / "target" / "semantic_manifest.json").read_text())

    metrics = {m["name"]: m for m in manifest["metrics"]}
    assert CORE_METRICS <= set(metrics), sorted(metrics)
    for name in CORE_METRICS | {"ces_easy_pct", "csat_survey", "csat_support"}:
        assert "DECISIONS.md" in metrics[name]["description"], name
    assert metrics["nps"]["type"] == "derived" and metrics["ltv"]["type"] == "ratio"

    models = {m["name"] for m in manifest["semantic_models"]}
    assert {"survey_responses", "csat_ratings", "orders", "churn_monthly", "customers"} <= models
    spines = manifest["project_configuration"]["time_spines"]
    assert [(s["node_relation"]["alias"], s["primary_column"]["time_granularity"]) for s in spines] == [
        ("metricflow_time_spine", "day")]

    # MetricFlow's own semantic validation (no warehouse needed with --skip-dw).
    validated = mf(["validate-configs", "--skip-dw"], project, env)
    assert "ERRORS: 0" in validated.stdout, validated.stdout[-3000:]


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _same(got: str, want) -> bool:
    if want is None or got == "":
        return want is None and got == ""
    return math.isclose(float(got), float(want), rel_tol=1e-9, abs_tol=1e-9)


@pytest.mark.slow
def test_mf_query_matches_the_marts(demo_run, tmp_path):
    import duckdb

    # A private copy: mf (dbt-duckdb) opens the file read-write and holds DuckDB's writer lock while it
    # runs. Same file name as the demo warehouse, as the semantic manifest carries the database name.
    warehouse = tmp_path / "wh" / demo_run.warehouse.name
    warehouse.parent.mkdir()
    shutil.copy(demo_run.warehouse, warehouse)
    wal = demo_run.warehouse.with_name(demo_run.warehouse.name + ".wal")
    if wal.exists():
        shutil.copy(wal, warehouse.with_name(warehouse.name + ".wal"))

    with duckdb.connect(str(warehouse), read_only=True) as con:
        built = {r[0] for r in con.execute("SELECT table_name FROM information_schema.tables "
                                           "WHERE table_schema = 'semantic'").fetchall()}
    assert "metricflow_time_spine" in built, "the pipeline did not build models/semantic"

    project, env = project_copy(tmp_path, warehouse, demo_run.env)
    monthly, overall = tmp_path / "monthly.csv", tmp_path / "overall.csv"
    mf(["query", "--metrics", "nps,csat,ces,ces_easy_pct,churn_rate", "--group-by", "metric_time__month",
        "--csv", str(monthly), "--quiet"], project, env)
    mf(["query", "--metrics", "nps,ltv", "--csv", str(overall), "--quiet"], project, env)

    with duckdb.connect(str(warehouse), read_only=True) as con:
        def by_month(sql: str) -> dict[str, float | None]:
            return {str(month)[:10]: value for month, value in con.execute(sql).fetchall()}

        expected = {
            "nps": by_month("SELECT response_month, nps FROM marts.nps_monthly WHERE dimension = 'all'"),
            "csat": by_month("SELECT rating_month, csat FROM marts.csat_monthly WHERE dimension = 'all'"),
            "ces": by_month("SELECT response_month, ces_mean FROM marts.ces_monthly WHERE dimension = 'all'"),
            "ces_easy_pct": by_month("SELECT response_month, ces_easy_pct FROM marts.ces_monthly "
                                     "WHERE dimension = 'all'"),
            "churn_rate": by_month("SELECT calendar_month, churn_rate FROM marts.churn_monthly"),
        }
        nps_all, ltv_all = con.execute(
            "SELECT (SELECT 100.0 * (sum(promoters) - sum(detractors)) / sum(responses) FROM marts.nps_monthly "
            "        WHERE dimension = 'all'),"
            "       (SELECT avg(lifetime_value) FROM marts.customer_360 WHERE orders > 0)").fetchone()

    rows = {r["metric_time__month"][:10]: r for r in _read_csv(monthly)}
    assert len(expected["nps"]) >= 12, "the demo data should span at least a year of NPS responses"
    mismatches = []
    for metric, want in expected.items():
        for month, value in want.items():
            got = rows.get(month, {}).get(metric, "")
            if not _same(got, value):
                mismatches.append((metric, month, got, value))
        # mf has no value where the mart has no row (a month without answers is NULL, not 0).
        mismatches += [(metric, m, r[metric], None) for m, r in rows.items() if m not in want and r[metric] != ""]
    assert not mismatches, mismatches[:20]

    (total,) = _read_csv(overall)
    assert _same(total["nps"], nps_all) and _same(total["ltv"], ltv_all), (total, nps_all, ltv_all)
