"""Ratios, targets and the Markdown table of one benchmark result."""

from __future__ import annotations

import statistics

TARGETS = {  # name -> (description, comparison, limit)
    "ingest_vs_bare_duckdb": ("ingest rows/s >= 0.8 x bare DuckDB", ">=", 0.8),
    "validation_over_ingest": ("validation time <= 0.5 x ingest time", "<=", 0.5),
    "incremental_dbt_over_full_dbt": ("incremental dbt build <= 15% of the full build", "<=", 0.15),
    "full_pipeline_seconds": ("full pipeline <= 10 min (stated for 1M customers)", "<=", 600.0),
    "full_pipeline_peak_mb": ("full pipeline peak RSS <= 6 GB (stated for 1M customers)", "<=", 6144.0),
}


def _seconds(phases: dict, name: str, key: str = "seconds") -> float | None:
    p = phases.get(name)
    return p[key] if p else None


def _div(a, b):
    return round(a / b, 3) if a is not None and b else None


def paired_ratio(phases: dict, ours: str, peer: str) -> float | None:
    """Median over rounds of (our rows/s ÷ the peer's) for runs made back to back: steadier than the ratio
    of the medians when the machine's load drifts during the benchmark."""
    a, b = phases.get(ours), phases.get(peer)
    if not a or not b or len(a["seconds_all"]) != len(b["seconds_all"]) or not a["rows"] or not b["rows"]:
        return None
    ratios = [(a["rows"] / ta) / (b["rows"] / tb) for ta, tb in zip(a["seconds_all"], b["seconds_all"]) if ta and tb]
    return round(statistics.median(ratios), 3) if ratios else None


def compute_ratios(phases: dict) -> dict:
    rps = {n: p.get("rows_per_s") for n, p in phases.items()}
    full = [n for n, p in phases.items() if p["stage"] == "full"]
    inc = [n for n, p in phases.items() if p["stage"] == "incremental"]
    full_s = sum(phases[n]["seconds"] for n in full) if full else None
    inc_s = sum(phases[n]["seconds"] for n in inc) if inc else None
    return {
        "ingest_vs_bare_duckdb": _div(rps.get("ingest"), rps.get("bare_duckdb")),
        "ingest_vs_bare_duckdb_paired": paired_ratio(phases, "ingest", "bare_duckdb"),
        "ingest_vs_bare_duckdb_2": _div(rps.get("ingest"), rps.get("bare_duckdb_2")),
        "ingest_vs_bare_duckdb_2_paired": paired_ratio(phases, "ingest", "bare_duckdb_2"),
        "ingest_vs_dlt_arrow": _div(rps.get("ingest"), rps.get("dlt_arrow")),
        "ingest_vs_dlt_filesystem": _div(rps.get("ingest"), rps.get("dlt_filesystem")),
        "validation_over_ingest": _div(_seconds(phases, "validation"), _seconds(phases, "ingest")),
        "incremental_dbt_over_full_dbt": _div(_seconds(phases, "incremental_dbt_build"), _seconds(phases, "dbt_build")),
        "incremental_total_over_full_total": _div(inc_s, full_s) if full and inc else None,
        "incremental_ingest_over_full_ingest": _div(_seconds(phases, "incremental_ingest"), _seconds(phases, "ingest")),
        "full_pipeline_seconds": round(full_s, 2) if full_s is not None else None,
        "full_pipeline_process_seconds": round(sum(phases[n]["process_seconds"] for n in full), 2) if full else None,
        "incremental_pipeline_seconds": round(inc_s, 2) if inc_s is not None else None,
        "full_pipeline_peak_mb": max((phases[n]["peak_rss_mb"] for n in full), default=None),
    }


def _inputs(key: str, phases: dict) -> list[str]:
    if key.startswith("full_pipeline"):
        return [n for n, p in phases.items() if p["stage"] == "full"]
    return {"ingest_vs_bare_duckdb": ["ingest", "bare_duckdb"], "validation_over_ingest": ["validation", "ingest"],
            "incremental_dbt_over_full_dbt": ["dbt_build", "incremental_dbt_build"]}.get(key, [])


def check_targets(ratios: dict, phases: dict) -> list[dict]:
    """Each target met or not; not judged (None) when a phase it rests on failed (its time is not a run's)."""
    out = []
    for key, (text, op, limit) in TARGETS.items():
        value = ratios.get(key)
        failed = [n for n in _inputs(key, phases) if n in phases and not phases[n].get("ok", True)]
        met = None if value is None or failed else (value >= limit if op == ">=" else value <= limit)
        out.append({"target": key, "description": text, "limit": limit, "measured": value, "met": met,
                    "note": f"not judged: {', '.join(failed)} failed" if failed else None})
    return out


def _fmt(v, digits=1):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:,.{digits}f}"
    return f"{v:,}"


def vs(phases: dict, name: str, peer: str) -> str:
    """Loads of the whole landing folder (ingest, the peers) compare rows/s (this ÷ the peer's); every
    other phase gives its time as a multiple of the peer's full load."""
    p, q = phases[name], phases.get(peer)
    if not q or name == peer or name == "ingest_profile":
        return ""
    if (name == "ingest" or p["stage"] == "peer") and p.get("rows_per_s") and q.get("rows_per_s"):
        return f"{p['rows_per_s'] / q['rows_per_s']:.2f}x rows/s"
    return f"{p['seconds'] / q['seconds']:.2f}x time" if q["seconds"] else ""


def markdown(result: dict) -> str:
    phases = result["phases"]
    meta = result["meta"]
    head = ["phase", "seconds (median)", "runs", "process s", "rows", "rows/s", "peak MB", "vs bare DuckDB",
            "vs dlt (arrow)"]
    lines = [f"### {meta['customers']:,} customers (seed {meta['seed']})", "",
             "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, p in phases.items():
        label = name + (" (prerequisite, 1 run)" if p.get("prerequisite") else "")
        if not p.get("ok", True):
            label += f" **FAILED** ({p.get('failure')})"
        lines.append("| " + " | ".join([
            label, _fmt(p["seconds"], 2), str(p["repeats"]), _fmt(p["process_seconds"], 1), _fmt(p["rows"]),
            _fmt(p.get("rows_per_s"), 0), _fmt(p["peak_rss_mb"], 0), vs(phases, name, "bare_duckdb"),
            vs(phases, name, "dlt_arrow")]) + " |")
    lines += ["", "| ratio / target | measured | limit | met |", "|---|---|---|---|"]
    for t in result["targets"]:
        met = {True: "yes", False: "**no**", None: t.get("note") or "not measured"}[t["met"]]
        lines.append(f"| {t['description']} | {_fmt(t['measured'], 3)} | {t['limit']} | {met} |")
    for key in ("ingest_vs_bare_duckdb_paired", "ingest_vs_bare_duckdb_2", "ingest_vs_bare_duckdb_2_paired",
                "incremental_total_over_full_total",
                "incremental_ingest_over_full_ingest", "ingest_vs_dlt_arrow", "ingest_vs_dlt_filesystem"):
        if result["ratios"].get(key) is not None:
            lines.append(f"| {key} (no target) | {_fmt(result['ratios'][key], 3)} | | |")
    return "\n".join(lines)
