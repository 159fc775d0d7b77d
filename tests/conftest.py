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


class _Env:
    """Set environment variables for a whole test session and put them back afterwards."""

    def __init__(self, values: dict[str, str]):
        self.values = values
        self.saved = {k: os.environ.get(k) for k in values}

    def __enter__(self):
        os.environ.update(self.values)
        return self

    def __exit__(self, *exc):
        for k, v in self.saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def make_project_env(root: Path) -> dict[str, str]:
    """A private data folder and Dagster instance (with the project's dagster.yaml) under root."""
    import shutil

    home = root / "dagster_home"
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "dagster.yaml", home / "dagster.yaml")
    data = root / "data"
    return {"CXW_DATA_DIR": str(data), "CXW_LANDING_DIR": str(data / "landing"),
            "CXW_WAREHOUSE": str(data / "warehouse.duckdb"), "CXW_PUBLISH_DIR": str(data / "published"),
            "DAGSTER_HOME": str(home)}


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The default sample data (5,000 customers, seed 42) run through the whole Dagster pipeline once."""
    from types import SimpleNamespace

    import dagster as dg

    from ingest.generate import generate
    from orchestration.pipeline import run_job

    root = tmp_path_factory.mktemp("demo")
    env = make_project_env(root)
    with _Env(env):
        landing = Path(env["CXW_LANDING_DIR"])
        generate(landing, customers=5000, seed=42)
        outcome = run_job("full_pipeline", instance=dg.DagsterInstance.get())
        yield SimpleNamespace(root=root, landing=landing, truth=landing.parent / "ground_truth",
                              warehouse=Path(env["CXW_WAREHOUSE"]), outcome=outcome, env=env)
