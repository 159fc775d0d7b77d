"""The same dbt project builds on Spark and gives the same marts as on DuckDB.

Optional: dbt-spark (with pyspark, ~500 MB, and a JVM) is not a project dependency, so this runs only
when CXW_TEST_SPARK_DBT names the `dbt` of a venv that has it (docs/SPARK.md says how to make one):

    CXW_TEST_SPARK_DBT=/tmp/spark-venv/bin/dbt .venv/bin/python -m pytest tests/test_spark_portability.py

It generates 2,000 customers, ingests and validates them, builds every model, data test and unit
test on DuckDB, exports raw.* and ops.* to Parquet, builds the project on Spark from those files
(`--target spark`, registered by the on-run-start macro register_spark_sources), and compares every
mart row for row (floating-point values rounded to 6 decimals). About 3 minutes on 2 cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from tests.conftest import REPO

SPARK_DBT = os.environ.get("CXW_TEST_SPARK_DBT")
pytestmark = [pytest.mark.slow, pytest.mark.skipif(
    not SPARK_DBT, reason="set CXW_TEST_SPARK_DBT to the dbt of a venv with dbt-spark[session] (docs/SPARK.md)")]


def _dbt(dbt: str, env: dict[str, str], target_path: Path, *args: str) -> None:
    project = REPO / "dbt_project"
    done = subprocess.run([dbt, "build", "--project-dir", str(project), "--profiles-dir", str(project),
                           "--target-path", str(target_path), "--log-path", str(target_path / "logs"), *args],
                          cwd=project, env=env, capture_output=True, text=True, timeout=1800)
    assert done.returncode == 0, done.stdout[-6000:]


def _normalised(con, relation: str, columns: list[str]) -> str:
    exprs = [f"""CASE WHEN typeof("{c}") IN ('DOUBLE', 'FLOAT') OR typeof("{c}") LIKE 'DECIMAL%'
                 THEN CAST(round(CAST("{c}" AS DOUBLE), 6) AS VARCHAR) ELSE CAST("{c}" AS VARCHAR) END AS "{c}" """
             for c in columns]
    return f"SELECT {', '.join(exprs)} FROM {relation}"


def test_the_project_builds_on_spark_with_the_same_marts_as_on_duckdb(tmp_path):
    from expectations.runner import validate_pending
    from ingest.generate import generate
    from ingest.loader import ingest
    from ingest.settings import get_settings
    from ingest.spec import load_specs
    from ingest.warehouse import connect

    warehouse = tmp_path / "warehouse.duckdb"
    generate(tmp_path / "landing", customers=2000, seed=7)
    specs = load_specs(get_settings().specs_dirs)
    with connect(warehouse) as con:
        ingest(con, tmp_path / "landing", specs)
        for entity in sorted({s.entity for s in specs}):
            validate_pending(con, entity, warehouse)

    env = {**os.environ, "CXW_WAREHOUSE": str(warehouse), "CXW_SPARK_WAREHOUSE_DIR": str(tmp_path / "spark")}
    _dbt(str(Path(sys.executable).with_name("dbt")), env, tmp_path / "target_duckdb")

    parquet = tmp_path / "parquet"
    with duckdb.connect(str(warehouse)) as con:
        for schema, table in con.execute("SELECT schema_name, table_name FROM duckdb_tables() "
                                         "WHERE schema_name IN ('raw', 'ops')").fetchall():
            (parquet / schema / table).mkdir(parents=True)
            con.execute(f'COPY "{schema}"."{table}" TO \'{parquet / schema / table / "part-0.parquet"}\' '
                        "(FORMAT parquet)")
    _dbt(SPARK_DBT, env, tmp_path / "target_spark", "--target", "spark",
         "--vars", f"{{spark_raw_parquet_dir: '{parquet}'}}")

    with duckdb.connect(str(warehouse), read_only=True) as con:
        marts = [t for (t,) in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts' "
                                           "ORDER BY 1").fetchall()]
        assert len(marts) >= 19  # customer_identity_map is a view (of int_identity_records_resolved)
        problems = []
        for table in marts:
            files = tmp_path / "spark" / "marts.db" / table
            if not files.exists():
                problems.append(f"{table}: not built on Spark")
                continue
            spark = f"read_parquet('{files}/*.parquet')"
            ours = [r[0] for r in con.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'marts' AND table_name = ? "
                "ORDER BY ordinal_position", [table]).fetchall()]
            theirs = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {spark}").fetchall()]
            if ours != theirs:
                problems.append(f"{table}: columns differ: {sorted(set(ours) ^ set(theirs))}")
                continue
            a, b = _normalised(con, f"marts.{table}", ours), _normalised(con, spark, ours)
            only_duckdb = con.execute(f"SELECT count(*) FROM ({a} EXCEPT ALL {b})").fetchone()[0]
            only_spark = con.execute(f"SELECT count(*) FROM ({b} EXCEPT ALL {a})").fetchone()[0]
            rows = con.execute(f"SELECT count(*) FROM marts.{table}").fetchone()[0]
            print(f"{table}: {rows} rows, {only_duckdb} only on DuckDB, {only_spark} only on Spark")
            if only_duckdb or only_spark:
                problems.append(f"{table}: {only_duckdb} rows only on DuckDB, {only_spark} only on Spark")
        assert not problems, problems
