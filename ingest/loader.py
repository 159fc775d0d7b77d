"""Load landing files into raw.<entity>, atomically per file, recording every file and row.

For each file: hash it; skip it if that exact content was seen before; otherwise parse it with the
spec's DuckDB query and, in one transaction, append the good records to raw.<entity> with lineage
columns, write every rejected record to ops.load_rejects with its reason, and record the file in
ops.load_manifest. A process killed mid-file leaves nothing of that file behind (DuckDB rolls the
open transaction back on the next open), and the next run loads the file again from the start.

Consecutive files of one entity share a transaction, up to `CXW_INGEST_BATCH_MB` of files: one commit
instead of one per file (the commit writes and checkpoints, and per-file commits cost a fifth of a
100k ingest). Each file is still all or nothing: a kill rolls back the whole batch, and a file that
fails inside a batch rolls it back and the batch is retried one file per transaction.

`CXW_INGEST_WORKERS` batches (2 by default) load at once, each on its own connection and in its own
transaction, and they commit in the order of the files: a batch that finishes early waits for the
ones before it; a file recorded as failed without loading waits for the loads before it. So a kill
still leaves a prefix of the run's files recorded, and load ids still follow the files (they are
handed out in file order before loading).

Invariant, per file: rows_read = rows_loaded + rows_rejected.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import os
import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import duckdb

from .readers import REJECTS_SCAN, REJECTS_TABLE, FileError, build_parse_plan, file_signature, readable_path
from .settings import get_settings
from .spec import SourceSpec, SpecError, load_entities, match_spec
from .sql import ident, qualified
from .warehouse import OPS_SCHEMA, RAW_SCHEMA, ensure_ops, ensure_raw_table

log = logging.getLogger("cxw.ingest")

# Files still being written by a sync tool or browser, and hidden files, are not exports.
IGNORED_SUFFIXES = (".tmp", ".part", ".crdownload", ".partial", ".swp")
PARSED = "_cxw_parsed"
INLINE_THRESHOLDS = 1024  # structural rejects up to which record numbers come from an inline binary search
STRUCTURAL = "_cxw_structural"


@dataclass
class FileResult:
    source_file: str
    entity: str | None
    status: str  # loaded | failed | skipped
    load_id: int | None = None
    rows_read: int | None = None
    rows_loaded: int | None = None
    rows_rejected: int | None = None
    error: str | None = None
    seconds: float = 0.0
    note: str = ""


@dataclass
class IngestReport:
    files: list[FileResult] = field(default_factory=list)

    def by_status(self, status: str) -> list[FileResult]:
        return [f for f in self.files if f.status == status]

    def totals(self) -> dict[str, dict[str, int]]:
        out: dict[str, dict[str, int]] = {}
        for f in self.files:
            if f.status == "skipped":
                continue
            t = out.setdefault(f.entity or "(unrecognised)", {"files": 0, "rows_read": 0, "rows_loaded": 0,
                                                              "rows_rejected": 0, "failed_files": 0})
            t["files"] += 1
            t["rows_read"] += f.rows_read or 0
            t["rows_loaded"] += f.rows_loaded or 0
            t["rows_rejected"] += f.rows_rejected or 0
            t["failed_files"] += f.status == "failed"
        return out


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(4 * 1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def discover(landing_dir: Path) -> list[tuple[str, Path, str | None]]:
    """Every candidate file under the landing folder as (relative posix path, path, refusal reason)."""
    landing_dir = landing_dir.resolve()
    found = []
    for root, dirs, files in os.walk(landing_dir, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not d.startswith("."))
        for name in sorted(files):
            if name.startswith(".") or name.endswith(IGNORED_SUFFIXES):
                continue
            path = Path(root) / name
            rel = path.relative_to(landing_dir).as_posix()
            refusal = None
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(landing_dir):
                    refusal = f"{rel}: symlink points outside the landing folder ({target}); refused"
            if refusal is None and not path.is_file():
                refusal = f"{rel}: not a regular file"
            found.append((rel, path, refusal))
    return found


def _signature(path: Path) -> tuple[str, ...]:
    """Header names or JSON keys of a file no spec pattern claims, to recognise its layout."""
    name = path.name.lower().removesuffix(".gz")
    fmt = "jsonl" if name.endswith((".jsonl", ".json", ".ndjson")) else "csv"
    return file_signature(fmt, path)


def _now() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def _next_load_id(con) -> int:
    return con.execute(f"SELECT coalesce(max(load_id), 0) + 1 FROM {OPS_SCHEMA}.load_manifest").fetchone()[0]


def _seen_files(con) -> dict[tuple[str, str | None, str | None], tuple[int, str]]:
    """The latest load of every (file, content hash, refusal) the manifest holds: one query per run, not
    one per file. A refused file has no hash; it is known by its refusal."""
    rows = con.execute(
        f"SELECT source_file, content_hash, CASE WHEN content_hash IS NULL THEN error END, load_id, status "
        f"FROM {OPS_SCHEMA}.load_manifest ORDER BY load_id").fetchall()
    return {(rel, digest, refusal): (load_id, status) for rel, digest, refusal, load_id, status in rows}


def _record_failure(con, rel, path, spec, digest, started, error, size=None, mtime=None,
                    load_id: int | None = None) -> FileResult:
    con.begin()
    load_id = _next_load_id(con) if load_id is None else load_id
    con.execute(
        f"INSERT INTO {OPS_SCHEMA}.load_manifest (load_id, entity, source, source_file, file_size, file_mtime, "
        "content_hash, status, error, started_at, finished_at, duration_s) VALUES (?,?,?,?,?,?,?,'failed',?,?,?,?)",
        [load_id, spec.entity if spec else None, spec.source if spec else None, rel, size, mtime, digest, error,
         started, _now(), (_now() - started).total_seconds()])
    con.commit()
    log.error("load %s failed: %s", rel, error)
    return FileResult(rel, spec.entity if spec else None, "failed", load_id=load_id, error=error)


@dataclass
class _Pending:
    """A file ready to load: its spec, where DuckDB reads it, and its parse plan."""
    spec: SourceSpec
    rel: str
    path: Path
    digest: str
    read_path: Path
    plan: object
    stat: os.stat_result
    mtime: datetime
    load_id: int | None = None  # handed out in file order when the file joins a batch

    def cleanup(self) -> None:
        if self.read_path != self.path:
            self.read_path.unlink(missing_ok=True)


def _prepare(spec: SourceSpec, rel: str, path: Path, digest: str) -> _Pending | tuple[datetime, str, int, datetime]:
    """Plan a file's load (reads its header), or say why it cannot be planned."""
    started = _now()
    stat = path.stat()
    mtime = datetime.fromtimestamp(stat.st_mtime, timezone.utc).replace(tzinfo=None)
    read_path = path
    try:
        read_path = readable_path(spec, path)
        plan = build_parse_plan(spec, path, read_path)
    except (FileError, UnicodeError, LookupError) as exc:
        if read_path != path:
            read_path.unlink(missing_ok=True)
        return started, str(exc), stat.st_size, mtime
    return _Pending(spec, rel, path, digest, read_path, plan, stat, mtime)


def load_file(con: duckdb.DuckDBPyConnection, spec: SourceSpec, rel: str, path: Path, digest: str) -> FileResult:
    """Load one file atomically. Raises only on errors of the warehouse itself, never for bad input."""
    prepared = _prepare(spec, rel, path, digest)
    if not isinstance(prepared, _Pending):
        started, error, size, mtime = prepared
        return _record_failure(con, rel, path, spec, digest, started, error, size, mtime)
    ensure_raw_table(con, load_entities()[spec.entity])
    prepared.load_id = _next_load_id(con)
    return _load_batch(con, [prepared])[0]


class RunAborted(RuntimeError):
    """An earlier batch of this run failed with an error of the warehouse: later batches must not commit."""


class _CommitTurns:
    """Batches loaded at once commit in their order in the run (0, 1, 2, ...), so that a kill leaves a
    prefix of the run's files loaded and an entity's load ids follow its files. When batch k fails with
    an error of the warehouse, the batches before it still commit and those after it roll back."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._next = 0
        self._finished: set[int] = set()
        self._failed: int | None = None  # the first batch that failed; -1: the whole run stopped

    def stopped(self, seq: int) -> bool:
        return self._failed is not None and seq > self._failed

    def wait(self, seq: int, label: str = "") -> None:
        with self._cond:
            if self._next != seq and not self.stopped(seq):
                log.info("%s: loaded, waiting for the files before it to commit", label or f"batch {seq}")
            while self._next != seq and not self.stopped(seq):
                self._cond.wait()
            if self.stopped(seq):
                raise RunAborted(f"{label or f'batch {seq}'}: not committed, because an earlier batch of this run "
                                 "failed (see the error above); the next run loads it")

    def finished(self, seq: int) -> None:
        with self._cond:
            self._finished.add(seq)
            while self._next in self._finished:
                self._next += 1
            self._cond.notify_all()

    def abort(self, seq: int = -1) -> None:
        """Batch `seq` failed (by default: the run stopped), so no batch after it may commit."""
        with self._cond:
            self._failed = seq if self._failed is None else min(self._failed, seq)
            self._cond.notify_all()


def _rollback(con) -> None:
    try:
        con.rollback()
    except duckdb.TransactionException:
        pass  # a failed COMMIT has already ended the transaction; keep the commit's own error


def _load_batch(con: duckdb.DuckDBPyConnection, batch: list[_Pending], turns: _CommitTurns | None = None,
                seq: int = 0, unordered_copy: bool = True) -> list[FileResult]:
    """Load prepared files of one entity in one transaction. If DuckDB fails on one of them, roll back
    and load them one per transaction, so that the others still load and the bad one is recorded.
    With `turns`, the commit (and any retry) waits until every earlier batch of the run has finished.
    `unordered_copy` flips DuckDB's global preserve_insertion_order for the copy into raw, which is only
    safe when no other batch is being parsed at the same time."""
    label = ", ".join(item.rel for item in batch[:3]) + (" ..." if len(batch) > 3 else "")
    try:
        # Record numbers come from the parse's rowids, which follow the file only in this (default) mode.
        con.execute("SET preserve_insertion_order = true")
        con.begin()
        try:
            _drop_temp_tables(con)  # leftovers of an earlier failure on this connection
            appended = []
            for item in batch:
                if turns and turns.stopped(seq):  # no use loading the rest: this batch cannot commit
                    raise RunAborted(f"{label}: not committed, because an earlier batch of this run failed")
                appended.append(_append_file(con, item, unordered_copy))
            if turns:
                turns.wait(seq, label)
            con.commit()
        except RunAborted:
            _rollback(con)
            raise
        except duckdb.Error as exc:
            _rollback(con)
            if isinstance(exc, duckdb.OutOfMemoryException):
                raise  # the warehouse's limit, not the file's fault: fail the run, load the file next time
            if turns:
                turns.wait(seq, label)  # the retries and the failure record keep the run's order too
            if len(batch) > 1:
                log.warning("a batch of %d %s files failed (%s); loading them one by one", len(batch),
                            batch[0].spec.entity, str(exc).splitlines()[0])
                return [r for item in batch for r in _load_batch(con, [item], unordered_copy=unordered_copy)]
            item = batch[0]
            message = f"{item.rel}: DuckDB could not read the file: {str(exc).splitlines()[0]}"
            return [_record_failure(con, item.rel, item.path, item.spec, item.digest, _now(), message,
                                    item.stat.st_size, item.mtime, load_id=item.load_id)]
    finally:
        for item in batch:
            item.cleanup()
    for result, item in zip(appended, batch):
        if result.status == "failed":
            log.error("load %s failed: %s (%d rows recorded as rejected)", result.source_file, result.error,
                      result.rows_rejected)
        else:
            log.info("loaded %s into raw.%s (%s): %d rows, %d rejected, %.2fs", result.source_file,
                     result.entity, item.spec.name, result.rows_loaded, result.rows_rejected, result.seconds)
        if item.plan.missing_optional:
            # Not an error (exports often leave columns out), but a renamed column would look the same.
            log.warning("%s: no column for %s in this file (left empty)", item.rel,
                        ", ".join(item.plan.missing_optional))
    return appended


def _drop_temp_tables(con) -> None:
    con.execute("; ".join(f"DROP TABLE IF EXISTS temp.{ident(t)}" for t in (REJECTS_TABLE, REJECTS_SCAN, PARSED,
                                                                          STRUCTURAL)))


def _count_below(thresholds: list[int], value: str) -> str:
    """SQL counting the sorted `thresholds` below `value`: a binary search unrolled into nested CASEs,
    so each record makes log2(n) comparisons. (A list_filter over the whole list per record made copying
    a 1M-customer export into raw twice as slow as copying it with no rejects.)"""
    def search(lo: int, hi: int) -> str:  # the answer lies in [lo, hi]
        if lo == hi:
            return str(lo)
        mid = (lo + hi) // 2
        return f"CASE WHEN {value} > {thresholds[mid]} THEN {search(mid + 1, hi)} ELSE {search(lo, mid)} END"
    return search(0, len(thresholds))


def _append_file(con, item: _Pending, unordered_copy: bool = True) -> FileResult:
    """Append one file's rows, rejects and manifest entry inside the caller's open transaction."""
    t0 = time.perf_counter()
    started = _now()
    spec, rel, plan, stat, mtime, digest = item.spec, item.rel, item.plan, item.stat, item.mtime, item.digest
    log.info("loading %s into raw.%s (%.1f MB)", rel, spec.entity, stat.st_size / 1e6)
    # The load this file replaces, if a version of it is already loaded.
    load_id = item.load_id
    previous = con.execute(
        f"SELECT max(load_id) FROM {OPS_SCHEMA}.load_manifest WHERE source_file = ? AND status = 'loaded' "
        f"AND superseded_by IS NULL", [rel]).fetchone()[0]
    con.execute(f"CREATE TEMP TABLE {ident(PARSED)} AS {plan.sql}", plan.params)
    # DuckDB reports structurally broken records (ragged, bad quoting, too long) by record number.
    n_structural = con.execute(f"SELECT count(DISTINCT line) FROM temp.{ident(REJECTS_TABLE)} WHERE line > ?",
                               [spec.header_rows + spec.skip_lines]).fetchone()[0]
    if n_structural:
        con.execute(f"""
            CREATE TEMP TABLE {ident(STRUCTURAL)} AS
            SELECT line AS record_no, row_number() OVER (ORDER BY line) AS rank_no,
                   min(column_name) AS column_name,
                   string_agg(DISTINCT error_type || ': ' || error_message, '; ') AS reason,
                   min(csv_line) AS raw_record
            FROM temp.{ident(REJECTS_TABLE)}
            WHERE line > ?
            GROUP BY line
        """, [spec.header_rows + spec.skip_lines])
    loaded_at = _now()
    columns = [c.name for c in spec.columns]
    col_list = ", ".join(ident(c) for c in columns)
    # A row's position among the records the reader accepted is its rank by rowid (the parse is created
    # in file order, unfiltered; see readers.py); adding the number of structurally rejected
    # records before each one gives its record number in the file. Title lines skipped before the
    # header (skip_lines) count too: record numbers are the file's. Up to INLINE_THRESHOLDS rejects (the
    # usual case) are counted by an inline binary search, cheaper than the ASOF join (it sorts the whole
    # file) that more need. The search holds integers DuckDB computed, never text from the file.
    skip = int(spec.skip_lines)
    # Row ids start at an offset while the transaction is open; they run without gaps from there.
    first, last, n_rows = con.execute(f"SELECT min(rowid), max(rowid), count(*) FROM {ident(PARSED)}").fetchone()
    if n_rows and last - first + 1 != n_rows:
        raise duckdb.InternalException(f"{rel}: the parsed rows' rowids are not consecutive ({first}..{last} for "
                                       f"{n_rows} rows); record numbers cannot be assigned")
    first = int(first or 0)
    ordinal = f"(p.rowid - {first} + 1)"
    source_row, join = f"{ordinal} + {skip}", ""
    if 0 < n_structural <= INLINE_THRESHOLDS:
        thresholds = [int(t) for (t,) in con.execute(
            f"SELECT record_no - {skip} - rank_no FROM {ident(STRUCTURAL)} ORDER BY rank_no").fetchall()]
        source_row = f"{ordinal} + {skip} + {_count_below(thresholds, ordinal)}"
    elif n_structural:
        source_row = f"{ordinal} + {skip} + coalesce(s.rank_no, 0)"
        join = (f"ASOF LEFT JOIN (SELECT record_no - {skip} - rank_no AS threshold, rank_no FROM "
                f"{ident(STRUCTURAL)}) s ON {ordinal} > s.threshold")
    records = f"p.rowid >= {first + int(plan.header_records)} AND NOT p._blank"  # header rows and blank records skipped
    raw_table = qualified(RAW_SCHEMA, spec.table)
    # Both inserts report how many rows they wrote: no separate count of the parsed rows.
    # The copy into raw need not keep the file's order (_source_row holds it): kept in order, DuckDB
    # writes it on one core (1M-customer web sessions file: 1.3 s, against 0.87 s unordered).
    # (With batches loading at once, another connection's parse needs the order kept: the setting is
    # global. The copy then runs on one core, beside the other batch's work.)
    if unordered_copy:
        con.execute("SET preserve_insertion_order = false")
    try:
        loaded = con.execute(f"""
            INSERT INTO {raw_table} ({col_list}, _load_id, _source_file, _source_row, _loaded_at)
            SELECT {', '.join('p.' + ident(c) for c in columns)}, ?, ?, {source_row}, ?
            FROM {ident(PARSED)} p {join} WHERE {records} AND p._reject_reason IS NULL
        """, [load_id, rel, loaded_at]).fetchone()[0]
    finally:
        if unordered_copy:
            con.execute("SET preserve_insertion_order = true")  # the next file's parse needs it
    structural_part = "" if not n_structural else f"""
        UNION ALL
        SELECT ?, ?, ?, record_no, column_name, reason, left(raw_record, 10000), ?
        FROM {ident(STRUCTURAL)}"""
    typed_rejects = con.execute(f"""
        INSERT INTO {OPS_SCHEMA}.load_rejects
        SELECT ?, ?, ?, {source_row}, p._reject_column, p._reject_reason, p._raw_record, ?
        FROM {ident(PARSED)} p {join} WHERE {records} AND p._reject_reason IS NOT NULL {structural_part}
    """, [load_id, spec.entity, rel, loaded_at]
        + ([load_id, spec.entity, rel, loaded_at] if n_structural else [])).fetchone()[0] - n_structural
    rejected = typed_rejects + n_structural
    read = loaded + rejected
    status = "failed" if plan.file_error else "loaded"
    con.execute(
        f"INSERT INTO {OPS_SCHEMA}.load_manifest (load_id, entity, source, source_file, file_size, file_mtime, "
        "content_hash, rows_read, rows_loaded, rows_rejected, status, error, started_at, finished_at, duration_s, "
        "supersedes, validation_status, layout, missing_columns) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        [load_id, spec.entity, spec.source, rel, stat.st_size, mtime, digest, read, loaded, rejected, status,
         plan.file_error, started, _now(), time.perf_counter() - t0, previous if status == "loaded" else None,
         "pending" if status == "loaded" else None, spec.name,
         ", ".join(plan.missing_optional) or None])
    if previous is not None and status == "loaded":
        # A new version of a file under the same name replaces the old one (e.g. a corrected export).
        con.execute(f"UPDATE {OPS_SCHEMA}.load_manifest SET superseded_by = ? WHERE source_file = ? "
                    "AND load_id <> ? AND superseded_by IS NULL AND status = 'loaded'", [load_id, rel, load_id])
    _drop_temp_tables(con)
    seconds = time.perf_counter() - t0
    return FileResult(rel, spec.entity, status, load_id=load_id, rows_read=read, rows_loaded=loaded,
                      rows_rejected=rejected, error=plan.file_error, seconds=seconds,
                      note=f"no column for {', '.join(plan.missing_optional)}" if plan.missing_optional else "")


def ingest(con: duckdb.DuckDBPyConnection, landing_dir: Path, specs: list[SourceSpec],
           entities: Iterable[str] | None = None, record_unrecognised: bool = True, retry_failed: bool = False,
           progress: Callable[[FileResult], None] | None = None, workers: int | None = None) -> IngestReport:
    """Load every new file under landing_dir. `entities` limits the run to some specs (a Dagster asset
    loads one entity); unrecognised files are recorded only when `record_unrecognised` is set.
    A file whose exact content failed before is skipped unless `retry_failed` (e.g. after a spec fix).
    `workers` (default CXW_INGEST_WORKERS) batches load at once; results and `progress` calls come in
    the order of the files either way."""
    ensure_ops(con)
    wanted = set(entities) if entities is not None else None
    for entity in load_entities().values():  # empty tables too, so staging builds before the first export
        if wanted is None or entity.name in wanted:
            ensure_raw_table(con, entity)
    report = IngestReport()
    batch: list[_Pending] = []
    settings = get_settings()
    batch_limit = settings.ingest_batch_bytes
    workers = max(1, settings.ingest_workers if workers is None else workers)

    candidates = []
    for rel, path, refusal in discover(Path(landing_dir)):
        try:
            spec = None if refusal else match_spec(specs, rel, signature=lambda p=path: _signature(p))
        except SpecError as exc:
            spec, refusal = None, refusal or str(exc)
        if spec is None and not record_unrecognised:
            continue
        if spec is not None and wanted is not None and spec.entity not in wanted:
            continue
        if refusal is None and spec is None:
            patterns = sorted({p for s in specs for p in s.files})
            refusal = f"{rel}: no source spec matches this file (known patterns: {', '.join(patterns)})"
        candidates.append((rel, path, spec, refusal))

    seen_files = _seen_files(con)
    load_ids = itertools.count(_next_load_id(con))  # in file order, whichever batch commits first
    # Finished work in file order: a batch's results, or a skipped or refused file's. Reported from the
    # front as it completes, so progress follows the files even when a later batch finishes first.
    pending: deque[Future] = deque()
    turns = _CommitTurns()
    seqs = itertools.count()
    pool = idle = None
    if workers > 1:
        pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="cxw-load")
        idle = queue.SimpleQueue()  # one connection per batch in flight (temp tables are per connection)
        cursors = [con.cursor() for _ in range(workers)]
        for cursor in cursors:
            cursor.execute("SET TimeZone = 'UTC'")  # a session setting, as warehouse.connect sets it
            idle.put(cursor)
        con.execute("SET preserve_insertion_order = true")  # global, and every parse relies on it

    def run_batch(seq: int, items: list[_Pending]) -> list[FileResult]:
        cursor = idle.get()
        try:
            return _load_batch(cursor, items, turns, seq, unordered_copy=False)
        except RunAborted:
            raise
        except BaseException:
            turns.abort(seq)  # later batches roll back instead of committing past this one
            log.exception("loading %s failed", ", ".join(item.rel for item in items))
            raise
        finally:
            turns.finished(seq)
            idle.put(cursor)

    def report_done(block: bool = False) -> None:
        while pending and (block or pending[0].done()):
            for result in pending.popleft().result():  # re-raises a batch's warehouse error
                report.files.append(result)
                if progress:
                    progress(result)

    def finished(results: list[FileResult]) -> None:
        future: Future = Future()
        future.set_result(results)
        pending.append(future)
        report_done()

    def flush() -> None:
        if not batch:
            return
        items = list(batch)
        batch.clear()
        if pool is None:
            finished(_load_batch(con, items))
            return
        future = pool.submit(run_batch, next(seqs), items)
        future.items = items  # to remove transcoded copies if the run stops before the batch starts
        pending.append(future)
        # Bounded look-ahead (one batch queued): planning a file can write a transcoded copy of it.
        while sum(not f.done() for f in pending) > workers:
            wait([f for f in pending if not f.done()], return_when=FIRST_COMPLETED)
            report_done()
        report_done()

    # Hash the files in a background thread while DuckDB loads the ones before (hashlib releases the GIL).
    hasher = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cxw-hash")
    ok = False
    try:
        digests = [None if refusal else hasher.submit(file_sha256, path) for _, path, _, refusal in candidates]
        for (rel, path, spec, refusal), digest_future in zip(candidates, digests):
            started = _now()
            digest = digest_future.result() if digest_future else None
            seen = seen_files.get((rel, digest, None) if digest else (rel, None, refusal))
            if seen and retry_failed and seen[1] == "failed":
                seen = None
            if seen:
                flush()
                finished([FileResult(rel, spec.entity if spec else None, "skipped", load_id=seen[0],
                                     note=f"already recorded as load {seen[0]} ({seen[1]})")])
            elif refusal:
                flush()
                report_done(block=True)  # a failure is recorded after the loads before it commit
                finished([_record_failure(con, rel, path, spec, None, started, refusal, load_id=next(load_ids))])
            else:
                prepared = _prepare(spec, rel, path, digest)
                if isinstance(prepared, _Pending):
                    if batch and (batch[0].spec.entity != spec.entity
                                  or sum(b.stat.st_size for b in batch) + prepared.stat.st_size > batch_limit):
                        try:
                            flush()
                        except BaseException:
                            prepared.cleanup()
                            raise
                    prepared.load_id = next(load_ids)
                    batch.append(prepared)
                    continue
                flush()
                report_done(block=True)
                started, error, size, mtime = prepared
                finished([_record_failure(con, rel, path, spec, digest, started, error, size, mtime,
                                          load_id=next(load_ids))])
        flush()
        report_done(block=True)
        ok = True
        return report
    finally:
        if not ok:
            turns.abort()  # batches still loading roll back: nothing commits past a failure
            for item in batch:  # planned, not yet handed to a batch
                item.cleanup()
        hasher.shutdown(wait=True, cancel_futures=True)  # on an error, do not hash the rest first
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=not ok)
            for future in pending:
                if future.cancelled():
                    for item in future.items:
                        item.cleanup()
            for cursor in cursors:
                cursor.close()
