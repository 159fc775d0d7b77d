"""The peers' side in the parent: which files they load, and dlt's separate virtual environment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

DLT_VENV = Path("/tmp/bench-venv")
DLT_PACKAGES = ["dlt", "duckdb", "pyarrow", "pandas"]


def landing_files(landing: Path, names: set[str] | None = None) -> list[dict]:
    """Every export file a spec claims, with what a peer needs to read it (the same files ingest loads)."""
    from ingest.loader import discover
    from ingest.settings import get_settings
    from ingest.spec import SpecError, load_specs, match_spec

    specs = load_specs(get_settings().specs_dirs)
    out = []
    for rel, path, refusal in discover(landing):
        if refusal or (names is not None and rel not in names):
            continue
        try:
            spec = match_spec(specs, rel)
        except SpecError:
            continue
        if spec is None:
            continue
        out.append({"rel": rel, "path": str(path), "entity": spec.entity, "format": spec.format,
                    "header_rows": spec.header_rows, "bytes": path.stat().st_size})
    return out


def subset(files: list[dict], max_bytes: int) -> list[dict]:
    """A slice of every entity for the slow peers: each entity's files in order until its share of
    `max_bytes` is used (at least one non-empty file per entity)."""
    entities = sorted({f["entity"] for f in files})
    share = max_bytes / max(len(entities), 1)
    out = []
    for entity in entities:
        used = 0
        for f in (f for f in files if f["entity"] == entity and f["bytes"] > 0):
            if used and used + f["bytes"] > share:
                break
            out.append(f)
            used += f["bytes"]
    return out


def dlt_python(install: bool = True) -> Path:
    """The bench venv's interpreter, creating the venv and installing dlt into it when missing."""
    python = DLT_VENV / "bin" / "python"
    check = [str(python), "-c", "import dlt, duckdb, pyarrow, pandas; from dlt.sources.filesystem import filesystem"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    if not install:
        raise RuntimeError(f"dlt is not installed in {DLT_VENV}")
    print(f"installing {', '.join(DLT_PACKAGES)} into {DLT_VENV} (a separate venv; never the project's)",
          file=sys.stderr)
    if not python.exists():
        subprocess.run(["python3", "-m", "venv", str(DLT_VENV)], check=True)
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", *DLT_PACKAGES], check=True)
    subprocess.run(check, check=True)
    return python


def dlt_versions(python: Path) -> dict:
    out = subprocess.run([str(python), "-c", "import dlt, duckdb, pyarrow, pandas; print(dlt.__version__, "
                          "duckdb.__version__, pyarrow.__version__, pandas.__version__)"],
                         capture_output=True, text=True, check=True).stdout.split()
    return dict(zip(["dlt", "duckdb", "pyarrow", "pandas"], out))
