"""The phases a benchmark run measures, in order, and how each one gets its starting warehouse.

Pipeline phases form a chain: each starts from a copy of the warehouse the previous one left
(snapshots/<phase>.duckdb), so a phase can be repeated from the same state and measured alone.
Adding a phase is one line in PIPELINE; a phase whose `requires` module is missing is skipped.
"""

from __future__ import annotations

import importlib.util
import shutil
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Phase:
    name: str
    kind: str  # what bench.child runs
    stage: str  # full | incremental | peer
    requires: str | None = None  # a module that must exist, e.g. a phase that lands later
    extra: tuple[tuple[str, str], ...] = ()  # fixed arguments for the child

    def available(self) -> bool:
        if self.requires is None:
            return True
        try:
            return importlib.util.find_spec(self.requires) is not None
        except ModuleNotFoundError:
            return False


PIPELINE = [
    Phase("ingest", "ingest", "full"),
    Phase("validation", "validate", "full"),
    Phase("dbt_build", "dbt_build", "full"),
    Phase("publish", "publish", "full", requires="orchestration.publish"),
    # One more day of exports lands here (base files byte-identical, so ingest skips them).
    Phase("incremental_ingest", "ingest", "incremental"),
    Phase("incremental_validation", "validate", "incremental"),
    Phase("incremental_dbt_build", "dbt_build", "incremental"),
    Phase("incremental_publish", "publish", "incremental", requires="orchestration.publish"),
]

PEERS = {
    "bare_duckdb": Phase("bare_duckdb", "bare_duckdb", "peer"),
    # The same CREATE TABLE AS per file, two files at a time (as many as the ingest's default
    # CXW_INGEST_WORKERS), each on its own connection: bare DuckDB given the ingest's own concurrency.
    "bare_duckdb_2": Phase("bare_duckdb_2", "bare_duckdb", "peer", extra=(("workers", "2"),)),
    "dlt_arrow": Phase("dlt_arrow", "dlt", "peer", extra=(("mode", "arrow"),)),
    "dlt_filesystem": Phase("dlt_filesystem", "dlt", "peer", extra=(("mode", "filesystem"),)),
    "ingest_profile": Phase("ingest_profile", "ingest_profile", "peer"),
}

# Names accepted by --phases: the phases themselves, plus short groups.
GROUPS = {
    "incremental": [p.name for p in PIPELINE if p.stage == "incremental"],
    "full": [p.name for p in PIPELINE if p.stage == "full"],
    "dlt": ["dlt_arrow", "dlt_filesystem"],
    "profile": ["ingest_profile"],
}


def expand(names: list[str]) -> list[str]:
    known = {p.name for p in PIPELINE} | set(PEERS)
    out = []
    for n in names:
        for m in GROUPS.get(n, [n]):
            if m not in known:
                raise SystemExit(f"unknown phase {m!r}; known: {', '.join(sorted(known | set(GROUPS)))}")
            if m not in out:
                out.append(m)
    return out


def pipeline_chain(selected: list[str]) -> list[tuple[Phase, bool]]:
    """The pipeline phases to run as (phase, selected): everything up to the last selected one,
    because each phase needs the warehouse its predecessors leave. Unavailable phases drop out."""
    wanted = [p for p in PIPELINE if p.name in selected]
    if not wanted:
        return []
    last = PIPELINE.index(wanted[-1])
    return [(p, p.name in selected) for p in PIPELINE[: last + 1] if p.available()]


class WarehouseStates:
    """The working warehouse file and the snapshot each phase leaves behind."""

    def __init__(self, workdir: Path, keep_all: bool = True):
        self.working = workdir / "data" / "warehouse.duckdb"
        self.dir = workdir / "snapshots"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.keep_all = keep_all  # else only the newest snapshot stays (about 5 GB each at 1M customers)
        self.last: Path | None = None  # the snapshot the next chain phase starts from

    @staticmethod
    def _files(db: Path) -> list[Path]:
        return [db, db.with_name(db.name + ".wal")]

    def prepare(self, start: Path | None) -> None:
        """Put `start` (or nothing: a fresh warehouse) in place of the working file."""
        for p in self._files(self.working):
            p.unlink(missing_ok=True)
        self.working.parent.mkdir(parents=True, exist_ok=True)
        if start is not None:
            for src, dst in zip(self._files(start), self._files(self.working)):
                if src.exists():
                    shutil.copyfile(src, dst)

    def keep(self, name: str) -> Path:
        """Keep the working file as the snapshot of phase `name`; the next phase starts from it."""
        snap = self.dir / f"{name}.duckdb"
        for src, dst in zip(self._files(self.working), self._files(snap)):
            dst.unlink(missing_ok=True)
            if src.exists():
                src.replace(dst)
        if self.last is not None and not self.keep_all and self.last != snap:
            for p in self._files(self.last):
                p.unlink(missing_ok=True)
        self.last = snap
        return snap
