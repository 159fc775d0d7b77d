"""A load killed with SIGKILL halfway leaves no partial rows, and the next run completes it.

Files of one entity share a transaction up to CXW_INGEST_BATCH_MB: a kill then rolls back the whole
batch (the small file too); with CXW_INGEST_BATCH_MB=0 every file commits alone and the small file,
loaded before the kill, stays. Two batches load at once (CXW_INGEST_WORKERS) but commit in file
order: a small file that finishes first waits for the big one before it, and dies with it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import duckdb
import pytest

from tests.test_ingest import CONTACT_HEADER, contact, write_contacts

BIG_ROWS = 1_500_000


def _write_big_contacts(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    select = ", ".join([
        "i AS \"Record ID\"", "'First' AS \"First Name\"", "'Last' AS \"Last Name\"",
        "'user' || i || '@example.com' AS \"Email\"", "'' AS \"Phone Number\"", "'Lead' AS \"Lifecycle Stage\"",
        *[f"'' AS \"{h}\"" for h in CONTACT_HEADER[6:10]],
        "strftime(TIMESTAMP '2025-01-01' + to_seconds(i), '%Y-%m-%d %H:%M') AS \"Create Date\"",
        *[f"'' AS \"{h}\"" for h in CONTACT_HEADER[11:]],
    ])
    with duckdb.connect() as c:
        c.execute(f"COPY (SELECT {select} FROM range(100, 100 + {BIG_ROWS}) t(i)) TO '{path}' (HEADER)")


def _start_ingest(env):
    return subprocess.Popen([sys.executable, "-m", "ingest.cli", "ingest"], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
@pytest.mark.parametrize("delay, batch_mb", [(0.05, None), (0.5, None), (0.5, "0")])
def test_sigkill_mid_load_leaves_no_partial_rows_and_rerun_completes(data_dir, landing, delay, batch_mb):
    write_contacts(landing / "crm" / "hubspot_contacts_a_small.csv", [contact("1"), contact("2")])
    _write_big_contacts(landing / "crm" / "hubspot_contacts_b_big.csv")
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    env.pop("CXW_INGEST_BATCH_MB", None)
    if batch_mb is not None:
        env["CXW_INGEST_BATCH_MB"] = batch_mb
    # With batching (the default), both files are in one transaction, which the kill rolls back.
    survivors = [("crm/hubspot_contacts_a_small.csv", "loaded")] if batch_mb == "0" else []

    proc = _start_ingest(env)
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # wait until the big file's transaction has started
        if "loading crm/hubspot_contacts_b_big.csv" in line:
            break
        assert time.monotonic() < deadline, "ingest never reached the big file"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL, "the ingest finished before it could be killed; raise BIG_ROWS"

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as c:
        assert c.execute("SELECT source_file, status FROM ops.load_manifest").fetchall() == survivors
        assert c.execute("SELECT count(*), count(DISTINCT _load_id) FROM raw.crm_contacts").fetchone() == (
            (2, 1) if survivors else (0, 0))

    done = subprocess.run([sys.executable, "-m", "ingest.cli", "ingest"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as c:
        assert c.execute("SELECT source_file, status, rows_read, rows_loaded, rows_rejected FROM ops.load_manifest "
                         "ORDER BY load_id").fetchall() == [
            ("crm/hubspot_contacts_a_small.csv", "loaded", 2, 2, 0),
            ("crm/hubspot_contacts_b_big.csv", "loaded", BIG_ROWS, BIG_ROWS, 0)]
        assert c.execute("SELECT count(*) FROM raw.crm_contacts").fetchone()[0] == BIG_ROWS + 2


@pytest.mark.slow
def test_sigkill_while_a_later_file_waits_for_an_earlier_one_loses_both_and_rerun_keeps_file_order(data_dir, landing):
    _write_big_contacts(landing / "crm" / "hubspot_contacts_a_big.csv")
    write_contacts(landing / "crm" / "hubspot_contacts_b_small.csv", [contact("1"), contact("2")])
    env = {**os.environ, "PYTHONPATH": os.getcwd(), "CXW_INGEST_BATCH_MB": "0", "CXW_INGEST_WORKERS": "2"}

    proc = _start_ingest(env)
    deadline = time.monotonic() + 60
    for line in proc.stdout:  # the small file is loaded, on the second connection, before the big one
        if "crm/hubspot_contacts_b_small.csv: loaded, waiting for the files before it to commit" in line:
            break
        assert time.monotonic() < deadline, "the small file never waited for the big one"
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as c:
        assert c.execute("SELECT count(*) FROM ops.load_manifest").fetchone()[0] == 0
        assert c.execute("SELECT count(*) FROM raw.crm_contacts").fetchone()[0] == 0

    done = subprocess.run([sys.executable, "-m", "ingest.cli", "ingest"], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as c:
        assert c.execute("SELECT source_file, status, rows_loaded FROM ops.load_manifest ORDER BY load_id").fetchall() \
            == [("crm/hubspot_contacts_a_big.csv", "loaded", BIG_ROWS), ("crm/hubspot_contacts_b_small.csv", "loaded", 2)]
        assert c.execute("SELECT count(*) FROM raw.crm_contacts").fetchone()[0] == BIG_ROWS + 2
