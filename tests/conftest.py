"""Shared fixtures: every test gets its own data folder and warehouse file, never the user's."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
REFERENCE_DATA = REPO.parent / "shared" / "reference-data"

os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "False")


@pytest.fixture
def data_dir(tmp_path, monkeypatch) -> Path:
    """A private data folder; CXW_* variables point every component at it."""
    d = tmp_path / "data"
    (d / "landing").mkdir(parents=True)
    monkeypatch.setenv("CXW_DATA_DIR", str(d))
    monkeypatch.setenv("CXW_LANDING_DIR", str(d / "landing"))
    monkeypatch.setenv("CXW_WAREHOUSE", str(d / "warehouse.duckdb"))
    monkeypatch.setenv("CXW_PUBLISH_DIR", str(d / "published"))
    return d


@pytest.fixture
def landing(data_dir) -> Path:
    return data_dir / "landing"


@pytest.fixture
def specs():
    from ingest.settings import get_settings
    from ingest.spec import load_specs

    return load_specs(get_settings().specs_dirs)


@pytest.fixture
def con(data_dir):
    from ingest.warehouse import connect, ensure_ops

    c = connect(data_dir / "warehouse.duckdb")
    ensure_ops(c)
    yield c
    c.close()


def reference_file(*parts: str) -> Path:
    """A file of the shared third-party reference data, or a clean skip when it is absent."""
    path = REFERENCE_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"reference data not available at {path}")
    return path
