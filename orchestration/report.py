"""A static HTML report of the CX marts that renders without a network connection.

`render_report(warehouse, out_dir)` reads the marts (read-only) and writes `out_dir/cx_report.html`:
a KPI header and altair charts (NPS, CSAT and CES by month, the journey funnel, retention by cohort,
support reply and resolution times). The page embeds the Vega, Vega-Lite and vega-embed JavaScript
once (about 0.9 MB, from vl-convert) and every chart's spec as inline JSON, so it opens from a file,
an e-mail attachment or an intranet without internet access. `warehouse` can be the warehouse or the
published copy (`data/published/cx_marts.duckdb`): both have schema `marts`.

Plain Python, no Dagster: the orchestration wraps `render_report` in an asset.
"""

from __future__ import annotations

import contextlib
import functools
import html
import json
import logging
import os
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable

import altair as alt
import duckdb

from ingest.warehouse import connect

from .kpis import LABELS, headline_kpis

log = logging.getLogger("cxw.report")

REPORT_NAME = "cx_report.html"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]

WIDTH = 520
HEIGHT = 220


# --------------------------------------------------------------------------------------------------
# Data


def _plain(value: Any) -> Any:
    """JSON-friendly values: dates as ISO text, decimals and huge integers as numbers."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _rows(con, sql: str) -> list[dict] | None:
    """Query rows as dicts; None when a mart is missing (not built yet). Other errors propagate."""
    try:
        cursor = con.execute(sql)
    except duckdb.CatalogException:  # the table (or schema marts) does not exist
        return None
    names = [d[0] for d in cursor.description]
    return [{n: _plain(v) for n, v in zip(names, row)} for row in cursor.fetchall()]


# Months travel as 'YYYY-MM-DD' text: Vega reads date-only ISO strings as UTC, and the charts use UTC
# time units, so a month never shifts with the viewer's time zone.
SQL = {
    "nps": """
        SELECT strftime(CAST(response_month AS DATE), '%Y-%m-%d') AS month,
               CAST(nps AS DOUBLE) AS nps,
               greatest(CAST(nps - nps_margin_of_error_95 AS DOUBLE), -100) AS nps_low,
               least(CAST(nps + nps_margin_of_error_95 AS DOUBLE), 100) AS nps_high,
               CAST(responses AS BIGINT) AS responses
        FROM marts.nps_monthly WHERE dimension = 'all' AND response_month IS NOT NULL ORDER BY 1""",
    "csat": """
        SELECT strftime(CAST(rating_month AS DATE), '%Y-%m-%d') AS month, CAST(csat AS DOUBLE) AS csat,
               CAST(ratings AS BIGINT) AS ratings
        FROM marts.csat_monthly WHERE dimension = 'all' AND rating_month IS NOT NULL ORDER BY 1""",
    "ces": """
        SELECT strftime(CAST(response_month AS DATE), '%Y-%m-%d') AS month,
               CAST(ces_mean AS DOUBLE) AS ces_mean, CAST(ces_easy_pct AS DOUBLE) AS ces_easy_pct,
               CAST(responses AS BIGINT) AS responses
        FROM marts.ces_monthly WHERE dimension = 'all' AND response_month IS NOT NULL ORDER BY 1""",
    "funnel": """
        SELECT step_number, from_stage, to_stage,
               CAST(sum(customers_at_stage) AS BIGINT) AS customers_at_stage,
               CAST(sum(customers_converted) AS BIGINT) AS customers_converted,
               CAST(100.0 * sum(customers_converted) / nullif(sum(customers_at_stage), 0) AS DOUBLE)
                   AS conversion_rate
        FROM marts.journey_funnel GROUP BY step_number, from_stage, to_stage ORDER BY step_number""",
    "retention": """
        SELECT strftime(CAST(cohort_month AS DATE), '%Y-%m') AS cohort,
               CAST(months_since_acquisition AS INTEGER) AS months_since_acquisition,
               CAST(cohort_customers AS BIGINT) AS cohort_customers,
               CAST(retained_customers AS BIGINT) AS retained_customers,
               CAST(retention_rate AS DOUBLE) AS retention_rate
        FROM marts.retention_by_cohort WHERE cohort_month IS NOT NULL ORDER BY 1, 2""",
    "support": """
        SELECT strftime(CAST(created_month AS DATE), '%Y-%m-%d') AS month, CAST(tickets AS BIGINT) AS tickets,
               CAST(median_first_reply_minutes AS DOUBLE) AS median_first_reply_minutes,
               CAST(median_full_resolution_minutes AS DOUBLE) AS median_full_resolution_minutes
        FROM marts.support_performance_monthly WHERE created_month IS NOT NULL ORDER BY 1""",
}


# --------------------------------------------------------------------------------------------------
# Charts


def _month_axis(field: str = "month") -> alt.X:
    return alt.X(f"{field}:T", timeUnit="utcyearmonth", title=None, axis=alt.Axis(format="%b %Y"))


def _month_tooltip(field: str = "month") -> alt.Tooltip:
    return alt.Tooltip(f"{field}:T", timeUnit="utcyearmonth", title="month", format="%B %Y")


def chart_nps(rows: list[dict]) -> alt.Chart:
    base = alt.Chart(alt.Data(values=rows))
    band = base.mark_area(opacity=0.2, color="#4c78a8").encode(
        x=_month_axis(), y=alt.Y("nps_low:Q", title="NPS (-100 to 100)", scale=alt.Scale(domain=[-100, 100])),
        y2="nps_high:Q")
    line = base.mark_line(point=True, color="#4c78a8").encode(
        x=_month_axis(),
        y=alt.Y("nps:Q", title="NPS (-100 to 100)"),
        tooltip=[_month_tooltip(), alt.Tooltip("nps:Q", format=".1f", title="NPS"),
                 alt.Tooltip("responses:Q", format=",")])
    return (band + line).properties(width=WIDTH, height=HEIGHT)


def chart_csat(rows: list[dict]) -> alt.Chart:
    return alt.Chart(alt.Data(values=rows)).mark_line(point=True, color="#54a24b").encode(
        x=_month_axis(),
        y=alt.Y("csat:Q", title="CSAT (% satisfied)", scale=alt.Scale(domain=[0, 100])),
        tooltip=[_month_tooltip(), alt.Tooltip("csat:Q", format=".1f", title="CSAT %"),
                 alt.Tooltip("ratings:Q", format=",")],
    ).properties(width=WIDTH, height=HEIGHT)


def chart_ces(rows: list[dict]) -> alt.Chart:
    return alt.Chart(alt.Data(values=rows)).mark_line(point=True, color="#f58518").encode(
        x=_month_axis(),
        y=alt.Y("ces_mean:Q", title="CES (mean, 1-7; 7 = easy)", scale=alt.Scale(domain=[1, 7])),
        tooltip=[_month_tooltip(), alt.Tooltip("ces_mean:Q", format=".2f", title="CES mean"),
                 alt.Tooltip("ces_easy_pct:Q", format=".1f", title="% easy (5-7)"),
                 alt.Tooltip("responses:Q", format=",")],
    ).properties(width=WIDTH, height=HEIGHT)


def chart_funnel(rows: list[dict]) -> alt.Chart:
    steps = [dict(r, step=f"{r['step_number']}. {r['from_stage']} → {r['to_stage']}") for r in rows]
    order = [s["step"] for s in steps]
    # Customers who reached each stage: the first step's starting count, then each step's converts.
    reached = []
    if steps:
        reached.append({"stage": steps[0]["from_stage"], "customers": steps[0]["customers_at_stage"], "order": 0})
    for s in steps:
        reached.append({"stage": s["to_stage"], "customers": s["customers_converted"], "order": s["step_number"]})
    stage_order = [r["stage"] for r in sorted(reached, key=lambda r: r["order"])]

    conversion = alt.Chart(alt.Data(values=steps), title="Conversion by step").encode(
        y=alt.Y("step:N", sort=order, title=None),
        x=alt.X("conversion_rate:Q", title="converted to the next stage (%)", scale=alt.Scale(domain=[0, 100])),
        tooltip=[alt.Tooltip("step:N"), alt.Tooltip("customers_at_stage:Q", format=",", title="at stage"),
                 alt.Tooltip("customers_converted:Q", format=",", title="converted"),
                 alt.Tooltip("conversion_rate:Q", format=".1f", title="conversion %")])
    conversion = (conversion.mark_bar(color="#4c78a8")
                  + conversion.mark_text(align="left", dx=3).encode(text=alt.Text("conversion_rate:Q", format=".1f"))
                  ).properties(width=260, height=HEIGHT)
    volume = alt.Chart(alt.Data(values=reached), title="Customers reaching each stage").mark_bar(
        color="#72b7b2").encode(
        y=alt.Y("stage:N", sort=stage_order, title=None),
        x=alt.X("customers:Q", title="customers"),
        tooltip=[alt.Tooltip("stage:N"), alt.Tooltip("customers:Q", format=",")],
    ).properties(width=220, height=HEIGHT)
    return alt.hconcat(conversion, volume, spacing=40)


def chart_retention(rows: list[dict]) -> alt.Chart:
    cohorts = sorted({r["cohort"] for r in rows})
    base = alt.Chart(alt.Data(values=rows)).encode(
        x=alt.X("months_since_acquisition:O", title="months since acquisition"),
        y=alt.Y("cohort:O", sort=cohorts, title="acquisition cohort"),
    )
    heat = base.mark_rect().encode(
        color=alt.Color("retention_rate:Q", title="retained %", scale=alt.Scale(domain=[0, 100], scheme="blues")),
        tooltip=[alt.Tooltip("cohort:O"), alt.Tooltip("months_since_acquisition:O", title="month"),
                 alt.Tooltip("cohort_customers:Q", format=",", title="cohort customers"),
                 alt.Tooltip("retained_customers:Q", format=",", title="retained"),
                 alt.Tooltip("retention_rate:Q", format=".1f", title="retained %")])
    months = 1 + max(r["months_since_acquisition"] for r in rows)
    # About 22 x 16 px a cell, within bounds: ten years of cohorts still fit on a screen.
    return heat.properties(width=min(max(WIDTH, 22 * months), 1100), height=min(max(HEIGHT, 16 * len(cohorts)), 900))


def chart_support(rows: list[dict]) -> alt.Chart:
    long = []
    for r in rows:
        for field, label in (("median_first_reply_minutes", "first reply"),
                             ("median_full_resolution_minutes", "full resolution")):
            if r.get(field) is not None:
                long.append({"month": r["month"], "measure": label, "hours": r[field] / 60.0,
                             "minutes": r[field], "tickets": r["tickets"]})
    return alt.Chart(alt.Data(values=long)).mark_line(point=True).encode(
        x=_month_axis(),
        y=alt.Y("hours:Q", title="median hours"),
        color=alt.Color("measure:N", title=None, legend=alt.Legend(orient="top")),
        tooltip=[_month_tooltip(), alt.Tooltip("measure:N"), alt.Tooltip("hours:Q", format=".1f"),
                 alt.Tooltip("minutes:Q", format=",.0f"),
                 alt.Tooltip("tickets:Q", format=",", title="tickets created")],
    ).properties(width=WIDTH, height=HEIGHT)


@dataclass(frozen=True)
class Section:
    key: str
    title: str
    mart: str
    description: str
    build: Callable[[list[dict]], alt.TopLevelMixin]
    wide: bool = False  # spans the whole page width


SECTIONS = (
    Section("nps", "Net Promoter Score by month", "marts.nps_monthly",
            "% promoters (9-10) minus % detractors (0-6); the band is the 95% margin of error.", chart_nps),
    Section("csat", "CSAT by month", "marts.csat_monthly",
            "% of survey and help-desk ratings that are satisfied.", chart_csat),
    Section("ces", "Customer Effort Score by month", "marts.ces_monthly",
            "Mean answer on the 1-7 scale (7 = very easy).", chart_ces),
    Section("support", "Support response and resolution times", "marts.support_performance_monthly",
            "Median time to the first agent reply and to full resolution, by month the ticket was created.",
            chart_support),
    Section("funnel", "Journey funnel", "marts.journey_funnel",
            "Of the customers who reached a stage, the % who reached the next one (all months and channels).",
            chart_funnel, wide=True),
    Section("retention", "Retention by acquisition cohort", "marts.retention_by_cohort",
            "% of each first-order cohort still a customer N months later.", chart_retention, wide=True),
)


# --------------------------------------------------------------------------------------------------
# Page


def _vl_version() -> str:
    try:
        from altair.utils._importers import vl_version_for_vl_convert

        return vl_version_for_vl_convert()
    except Exception:  # private helper moved: derive "6.4" from altair's schema version "v6.4.1"
        major, minor = alt.SCHEMA_VERSION.lstrip("v").split(".")[:2]
        return f"{major}.{minor}"


@functools.lru_cache(maxsize=1)
def vega_javascript() -> str:
    """Vega + Vega-Lite + vega-embed as one script (sets window.vegaEmbed), for Vega-Lite as altair writes it."""
    import vl_convert

    bundle = vl_convert.javascript_bundle(vl_version=_vl_version())
    return bundle.replace("</script", "<\\/script")  # cannot end the <script> element early


def _json_for_html(value: Any) -> str:
    """JSON that is safe inside <script type="application/json"> whatever the data says."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _clean(rows: list[dict]) -> list[dict]:
    """NaN/inf are not JSON: make them null."""
    out = []
    for r in rows:
        out.append({k: (None if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))) else v)
                    for k, v in r.items()})
    return out


def _format_kpi(name: str, value) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        if name in ("revenue",):
            return f"{value:,.0f}"
        if name == "nps":
            return f"{value:+.1f}"
        return f"{value:,.1f}"
    return f"{value:,}"


EMBED_SCRIPT = """
(function () {
  var options = {actions: {export: true, source: false, compiled: false, editor: false}, renderer: "svg"};
  document.querySelectorAll('script[type="application/json"][data-chart]').forEach(function (el) {
    var target = document.getElementById(el.getAttribute("data-chart"));
    vegaEmbed(target, JSON.parse(el.textContent), options).then(function () {
      target.setAttribute("data-rendered", "true");
    }).catch(function (err) {
      target.setAttribute("data-rendered", "error");
      target.textContent = "This chart could not be drawn: " + err;
      console.error(err);
    });
  });
})();
"""

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; margin: 0;
       color: #1f2933; background: #f5f7fa; }
header { background: #1f2933; color: #fff; padding: 18px 28px; }
header h1 { margin: 0 0 4px 0; font-size: 22px; }
header p { margin: 0; color: #cbd2d9; font-size: 13px; }
main { padding: 20px 28px; }
.kpis { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; margin-bottom: 20px; }
.kpi { background: #fff; border-radius: 6px; padding: 10px 14px; box-shadow: 0 1px 2px rgba(0,0,0,.08); }
.kpi .value { font-size: 22px; font-weight: 600; }
.kpi .label { font-size: 12px; color: #52606d; }
.charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(620px, 1fr)); gap: 16px; }
section.chart { background: #fff; border-radius: 6px; padding: 14px 16px; box-shadow: 0 1px 2px rgba(0,0,0,.08);
                overflow-x: auto; }
section.chart.wide { grid-column: 1 / -1; }
section.chart h2 { font-size: 16px; margin: 0 0 2px 0; }
section.chart p.note { font-size: 12px; color: #52606d; margin: 0 0 8px 0; }
.empty { color: #7b8794; font-style: italic; padding: 30px 0; }
.banner { background: #fff8e1; border: 1px solid #f0c36d; border-radius: 6px; padding: 12px 16px; margin-bottom: 16px; }
footer { color: #7b8794; font-size: 12px; padding: 0 28px 24px; }
"""


def build_html(kpis: dict | None, charts: list[tuple[Section, dict | None, str | None]],
               generated_at: str, source: str) -> str:
    """charts: (section, Vega-Lite spec or None, message when there is no chart)."""
    esc = html.escape
    any_chart = any(spec is not None for _, spec, _ in charts)
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             "<title>CX report</title>", f"<style>{STYLE}</style>"]
    if any_chart:
        parts.append(f'<script id="vega-bundle">\n{vega_javascript()}\n</script>')
    parts += ["</head>", "<body>", "<header>", "<h1>Customer experience report</h1>",
              f"<p>Generated {esc(generated_at)} from {esc(source)} (schema marts).</p>", "</header>", "<main>"]
    if not any_chart:
        parts.append('<div class="banner" id="no-data"><strong>No data yet.</strong> The marts are empty or have '
                     "not been built: run the pipeline, then render this report again.</div>")
    if kpis:
        parts.append('<div class="kpis" id="kpis">')
        for name, value in kpis.items():
            parts.append(f'<div class="kpi" data-kpi="{esc(name)}"><div class="value">{esc(_format_kpi(name, value))}'
                         f'</div><div class="label">{esc(LABELS.get(name, name))}</div></div>')
        parts.append("</div>")
    parts.append('<div class="charts">')
    for section, spec, message in charts:
        classes = "chart wide" if section.wide else "chart"
        parts.append(f'<section class="{classes}" id="section-{section.key}">')
        parts.append(f"<h2>{esc(section.title)}</h2>")
        parts.append(f'<p class="note">{esc(section.description)} Source: <code>{esc(section.mart)}</code>.</p>')
        if spec is None:
            parts.append(f'<div class="empty" id="chart-{section.key}" data-rendered="empty">'
                         f'{esc(message or "")}</div>')
        else:
            parts.append(f'<div class="vega-chart" id="chart-{section.key}"></div>')
            parts.append(f'<script type="application/json" data-chart="chart-{section.key}">'
                         f"{_json_for_html(spec)}</script>")
        parts.append("</section>")
    parts.append("</div></main>")
    parts.append("<footer>Definitions of every metric: DECISIONS.md and the dbt docs of the marts. "
                 "This page needs no network connection.</footer>")
    if any_chart:
        parts.append(f"<script>{EMBED_SCRIPT}</script>")
    parts += ["</body>", "</html>", ""]
    return "\n".join(parts)


def collect(con) -> tuple[dict, list[tuple[Section, dict | None, str | None]]]:
    kpis = headline_kpis(con)
    charts = []
    for section in SECTIONS:
        try:
            rows = _rows(con, SQL[section.key])
        except duckdb.Error as exc:  # e.g. a mart built by an older model version lacks a column
            log.warning("cannot read %s for the report: %s", section.mart, exc)
            charts.append((section, None, f"{section.mart} could not be read: {str(exc).splitlines()[0]}"))
            continue
        if rows is None:
            charts.append((section, None, f"Not built yet: {section.mart} does not exist."))
        elif not rows:
            charts.append((section, None, f"No data yet: {section.mart} has no rows."))
        else:
            try:
                spec = section.build(_clean(rows)).to_dict()
            except Exception as exc:  # one broken chart must not take the whole report down
                log.exception("chart %s failed", section.key)
                charts.append((section, None, f"This chart could not be built: {exc}"))
                continue
            charts.append((section, spec, None))
    return kpis, charts


def render_report(warehouse: Path, out_dir: Path) -> Path:
    """Write out_dir/cx_report.html from the marts of `warehouse` (opened read-only); return its path."""
    warehouse = Path(warehouse)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    generated_at = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    if warehouse.exists():
        con = connect(warehouse, read_only=True)
        try:
            kpis, charts = collect(con)
        finally:
            con.close()
    else:
        kpis = None
        charts = [(s, None, f"Not built yet: {warehouse.name} does not exist.") for s in SECTIONS]
    if kpis and all(v is None for v in kpis.values()):
        kpis = None
    page = build_html(kpis, charts, generated_at, warehouse.name)

    target = out_dir / REPORT_NAME
    tmp = out_dir / f".{REPORT_NAME}.{secrets.token_hex(6)}.tmp"
    try:
        tmp.write_text(page, encoding="utf-8")
        os.replace(tmp, target)  # a browser or web server never serves half a page
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    log.info("wrote %s (%d charts, %.1f MB)", target, sum(spec is not None for _, spec, _ in charts),
             len(page.encode()) / 1e6)
    return target


# --------------------------------------------------------------------------------------------------
# Offline check in a real browser


def check_report_in_browser(path: Path, executable_path: str = CHROMIUM, timeout_ms: int = 20000,
                            browser=None) -> dict:
    """Open the report in headless Chromium with every non-file request blocked; say what rendered.

    Returns {"charts": {container id: "svg" | "canvas" | "empty" | "missing"}, "console_errors": [...],
    "page_errors": [...], "blocked_requests": [...]}. Needs the `playwright` package and a Chromium
    binary (Debian: apt-get install chromium); `playwright install` is not needed. Pass `browser` to
    reuse a Playwright browser that is already open.
    """
    if browser is not None:
        return _check_report(Path(path).resolve(), browser, timeout_ms)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        own = pw.chromium.launch(executable_path=executable_path, headless=True, args=CHROMIUM_ARGS)
        try:
            return _check_report(Path(path).resolve(), own, timeout_ms)
        finally:
            own.close()


def _check_report(path: Path, browser, timeout_ms: int) -> dict:
    out: dict[str, Any] = {"charts": {}, "console_errors": [], "page_errors": [], "blocked_requests": []}
    context = browser.new_context(offline=True)
    try:

        def route(r):
            if r.request.url.startswith("file://"):
                r.continue_()
            else:
                out["blocked_requests"].append(r.request.url)
                r.abort()

        context.route("**/*", route)
        page = context.new_page()
        page.on("console", lambda m: out["console_errors"].append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: out["page_errors"].append(str(e)))
        page.goto(path.as_uri(), wait_until="load")
        containers = page.eval_on_selector_all("[id^=chart-]", "els => els.map(e => e.id)")
        for cid in containers:
            with contextlib.suppress(Exception):
                page.wait_for_function(
                    "id => { const e = document.getElementById(id); return e && (e.dataset.rendered"
                    " || e.querySelector('svg.marks, canvas.marks')); }", arg=cid, timeout=timeout_ms)
            out["charts"][cid] = page.evaluate(
                "id => { const e = document.getElementById(id);"
                " if (!e) return 'missing';"
                " if (e.querySelector('svg.marks')) return 'svg';"
                " if (e.querySelector('canvas.marks')) return 'canvas';"
                " return e.dataset.rendered || 'missing'; }", cid)
    finally:
        context.close()
    return out
