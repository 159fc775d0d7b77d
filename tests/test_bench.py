"""The benchmark runs end to end at a tiny scale, so it cannot rot. Not a timed test: no speed is asserted.

Every phase must be in the result with a positive time, and the rows it reports must be what the
warehouse it left behind holds (each pipeline phase keeps its warehouse as snapshots/<phase>.duckdb).
"""

from __future__ import annotations

import json
import subprocess

import duckdb
import pytest

from bench import run as bench_run
from bench.phases import PIPELINE, expand, pipeline_chain


def _raw_rows(con) -> int:
    tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'raw'").fetchall()]
    return sum(con.execute(f'SELECT count(*) FROM raw."{t}"').fetchone()[0] for t in tables)


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    # 2,500 customers: every monthly export holds rows. Smaller scales have empty months, whose row-count
    # warning makes the validation re-run its batch load by load, which doubles this test's time.
    root = tmp_path_factory.mktemp("bench")
    out = root / "result.json"
    result = bench_run.main(["--customers", "2500", "--seed", "7", "--repeat", "1", "--workdir", str(root / "work"),
                             "--keep-snapshots", "--out", str(out)])
    return result, root / "work", json.loads(out.read_text())


def test_result_has_every_phase_with_positive_times(bench):
    result, _, written = bench
    assert written["phases"].keys() == result["phases"].keys()
    expected = {p.name for p in PIPELINE if p.available()} | {"bare_duckdb", "bare_duckdb_2"}
    assert set(result["phases"]) == expected
    for name, phase in result["phases"].items():
        assert phase["seconds"] > 0 and phase["process_seconds"] > 0, name
        assert phase["peak_rss_mb"] > 0, name
        assert phase["rows"] > 0 and phase["rows_per_s"] > 0, name
        assert phase["repeats"] == 1 and not phase["prerequisite"], name
    for name in ("dbt_build", "incremental_dbt_build"):  # dbt ran (its data tests are other tests' business)
        detail = result["phases"][name]["detail"]
        assert detail["returncode"] in (0, 1) and detail["node_statuses"].get("success", 0) > 0, detail
        assert result["phases"][name]["ok"] == (detail["returncode"] == 0)
    for key in ("ingest_vs_bare_duckdb", "validation_over_ingest", "incremental_dbt_over_full_dbt",
                "incremental_total_over_full_total"):
        assert result["ratios"][key] > 0, key
    assert {t["target"] for t in result["targets"]} >= {"ingest_vs_bare_duckdb", "full_pipeline_peak_mb"}
    assert "| ingest |" in bench_run.markdown(result)


def test_row_counts_match_the_warehouses(bench):
    result, work, _ = bench
    phases = result["phases"]
    snap = work / "snapshots"
    with duckdb.connect(str(snap / "ingest.duckdb"), read_only=True) as con:
        read, loaded = con.execute("SELECT sum(rows_read), sum(rows_loaded) FROM ops.load_manifest").fetchone()
        assert phases["ingest"]["rows"] == read
        assert phases["ingest"]["detail"]["rows_loaded"] == loaded == _raw_rows(con)
        assert con.execute("SELECT count(*) FROM ops.load_manifest").fetchone()[0] == \
            phases["ingest"]["detail"]["files_loaded"] + phases["ingest"]["detail"]["files_failed"]
    with duckdb.connect(str(snap / "validation.duckdb"), read_only=True) as con:
        validated = con.execute("SELECT sum(rows_loaded) FROM ops.load_manifest "
                                "WHERE validation_status IN ('passed', 'warned', 'quarantined')").fetchone()[0]
        assert phases["validation"]["rows"] == validated
    with duckdb.connect(str(snap / "dbt_build.duckdb"), read_only=True) as con:
        full_raw = _raw_rows(con)
        assert phases["dbt_build"]["rows"] == full_raw
        marts = con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name LIKE '%marts'").fetchone()[0]
        assert marts > 0 and phases["dbt_build"]["detail"]["rows_out"] > 0
        published = sum(con.execute(f'SELECT count(*) FROM marts."{t}"').fetchone()[0] for (t,) in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'").fetchall())
        assert phases["publish"]["rows"] == published > 0  # the marts, views included, not every dbt table
    with duckdb.connect(str(snap / "incremental_ingest.duckdb"), read_only=True) as con:
        new = con.execute("SELECT sum(rows_read), sum(rows_loaded) FROM ops.load_manifest "
                          "WHERE validation_status = 'pending'").fetchone()
        assert phases["incremental_ingest"]["rows"] == new[0]
        assert phases["incremental_ingest"]["detail"]["rows_loaded"] == new[1] == _raw_rows(con) - full_raw
        assert phases["incremental_ingest"]["detail"]["files_skipped"] == phases["ingest"]["detail"]["files_loaded"] \
            + phases["ingest"]["detail"]["files_failed"]
    with duckdb.connect(str(snap / "incremental_validation.duckdb"), read_only=True) as con:
        pending = con.execute("SELECT count(*) FROM ops.load_manifest WHERE validation_status = 'pending'").fetchone()
        assert pending[0] == 0
        assert phases["incremental_validation"]["rows"] == new[1]
    with duckdb.connect(str(snap / "incremental_dbt_build.duckdb"), read_only=True) as con:
        assert phases["incremental_dbt_build"]["rows"] == _raw_rows(con)
    per_file = {}
    for peer in ("bare_duckdb", "bare_duckdb_2"):  # one file at a time, and two at once: the same tables
        with duckdb.connect(str(work / "peers" / f"{peer}.duckdb"), read_only=True) as con:
            tables = [r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() ORDER BY 1").fetchall()]
            per_file[peer] = [(t, con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]) for t in tables]
        assert phases[peer]["rows"] == sum(n for _, n in per_file[peer]) > 0
    assert per_file["bare_duckdb_2"] == per_file["bare_duckdb"]
    bare = phases["bare_duckdb"]["detail"]  # a table per file but those DuckDB could not read
    assert len(per_file["bare_duckdb"]) == sum(e["files"] for e in bare["per_entity"].values()) - len(bare["errors"])


def test_a_phase_brings_the_chain_before_it():
    """Asking for one pipeline phase runs the phases before it once (flagged as prerequisites)."""
    chain = pipeline_chain(["validation"])
    assert [(p.name, selected) for p, selected in chain] == [("ingest", False), ("validation", True)]
    assert pipeline_chain(["bare_duckdb"]) == []
    assert expand(["incremental"])[0] == "incremental_ingest"


def test_peer_only_run_repeats_short_phases(tmp_path):
    result = bench_run.main(["--customers", "50", "--repeat", "2", "--phases", "bare_duckdb", "--workdir",
                             str(tmp_path / "work"), "--out", str(tmp_path / "r.json")])
    assert list(result["phases"]) == ["bare_duckdb"]
    assert result["phases"]["bare_duckdb"]["repeats"] == 2 and result["phases"]["bare_duckdb"]["rows"] > 0


def test_paired_incremental_rebuilds_the_benchs_incremental_day(bench, tmp_path):
    """bench/paired_incremental.py: full refresh without the extra day, then the incremental build with it,
    must leave the same marts as the bench's own chain (full build, extra day, incremental build)."""
    from bench import paired_incremental

    _, work, _ = bench
    out = tmp_path / "paired.json"
    result = paired_incremental.main(["--workdir", str(work), "--code", ".", "--out", str(out)])
    (version,) = json.loads(out.read_text())["versions"]
    assert version == json.loads(json.dumps(result["versions"][0]))
    assert version["full"]["seconds"] > 0 and version["incremental_median_s"] > 0
    # The full refresh left the extra day out (as the bench's full build, before the day existed) ...
    assert version["full_mart_rows"] == paired_incremental.mart_rows(work / "snapshots" / "dbt_build.duckdb")
    # ... and the incremental build brought it in.
    assert version["mart_rows"] == paired_incremental.mart_rows(work / "snapshots" / "incremental_dbt_build.duckdb")
    assert version["mart_rows"]["touchpoints"] > version["full_mart_rows"]["touchpoints"]
    with duckdb.connect(str(work / "snapshots" / "incremental_validation.duckdb"), read_only=True) as con:
        assert con.execute("SELECT count(*) FROM ops.load_manifest WHERE validation_status = 'pending'"
                           ).fetchone()[0] == 0  # the snapshot itself is left as it was


def test_paired_publish_publishes_the_same_data_with_each_version(bench, tmp_path, monkeypatch):
    """bench/paired_publish.py: a git revision (checked out into a worktree) and the working tree publish the
    built warehouse, given relative paths, and the checksums it compares them by are the rows' own: a mart
    without personal data checks out against the warehouse it came from."""
    import os

    from bench import paired_publish

    if not (paired_publish.REPO / ".git").exists():
        pytest.skip("needs the git repository: a --code revision is checked out into a worktree")
    _, work, _ = bench
    warehouse = work / "snapshots" / "dbt_build.duckdb"
    monkeypatch.chdir(tmp_path)
    result = paired_publish.main(["--warehouse", os.path.relpath(warehouse, tmp_path), "--code", "HEAD",
                                  "--code", ".", "--rounds", "1", "--scratch", ".", "--out", "paired-publish.json"])
    assert json.loads((tmp_path / "paired-publish.json").read_text()) == json.loads(json.dumps(result))
    assert set(result["same_data_as_first"]) == {"HEAD", "."}
    marts = bench_run_marts(warehouse)
    for version in result["versions"]:
        (run,) = version["runs"]
        assert run["seconds"] > 0 and run["peak_rss_mb"] > 0 and run["parquet_bytes"] > 0
        assert run["rows"] == sum(marts.values())
        assert {n: t["rows"] for n, t in version["published"].items()} == marts
        assert all(t["parquet_rows"] == t["rows"] for t in version["published"].values())
    with duckdb.connect(str(warehouse), read_only=True) as con:
        rows, checksum = con.execute("SELECT count(*), bit_xor(hash(t)) FROM marts.orders AS t").fetchone()
    orders = result["versions"][1]["published"]["orders"]  # the working tree's
    assert rows > 0 and (orders["checksum"], orders["parquet_checksum"]) == (str(checksum), str(checksum))
    assert not list(tmp_path.glob("cxw-paired-publish-*"))  # its scratch folder and worktree are gone
    worktrees = subprocess.run(["git", "-C", str(paired_publish.REPO), "worktree", "list"], capture_output=True,
                               text=True, check=True).stdout
    assert "cxw-paired-publish-" not in worktrees


def bench_run_marts(warehouse) -> dict[str, int]:
    """Rows of every mart, tables and views (the identity map is a view), as publish counts them."""
    with duckdb.connect(str(warehouse), read_only=True) as con:
        names = con.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = 'marts'").fetchall()
        return {n: con.execute(f'SELECT count(*) FROM marts."{n}"').fetchone()[0] for (n,) in names}
