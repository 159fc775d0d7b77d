"""The static HTML report: written from the marts, self-contained, and drawn by a browser with no network."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb
import pytest

from orchestration.report import CHROMIUM, SECTIONS, render_report

EVIL = "</script><script>alert('x')</script>"


def build_marts(path: Path, months: int = 6) -> None:
    """The columns render_report and headline_kpis read, with a few rows."""
    con = duckdb.connect(str(path))
    try:
        con.execute("CREATE SCHEMA marts")
        con.execute("""
            CREATE TABLE marts.nps_monthly AS
            SELECT DATE '2025-01-01' + INTERVAL (m) MONTH AS response_month, d AS dimension, d AS dimension_value,
                   10 + m AS promoters, 5 AS passives, 4 AS detractors, 19 + m AS responses,
                   100.0 * (6 + m) / (19 + m) AS nps, 20.0 AS nps_margin_of_error_95
            FROM range($n) AS t(m), (VALUES ('all'), ('segment')) AS dims(d)""", {"n": months})
        con.execute("""
            CREATE TABLE marts.csat_monthly AS
            SELECT DATE '2025-01-01' + INTERVAL (m) MONTH AS rating_month, 'all' AS dimension,
                   'all' AS dimension_value, 30 + m AS satisfied, 40 AS ratings, 100.0 * (30 + m) / 40 AS csat
            FROM range($n) AS t(m)""", {"n": months})
        con.execute("""
            CREATE TABLE marts.ces_monthly AS
            SELECT DATE '2025-01-01' + INTERVAL (m) MONTH AS response_month, 'all' AS dimension,
                   'all' AS dimension_value, 20 AS responses, 14 AS easy, 5.0 + m / 10 AS ces_mean, 70.0 AS ces_easy_pct
            FROM range($n) AS t(m)""", {"n": months})
        con.execute("""
            CREATE TABLE marts.journey_funnel AS
            SELECT DATE '2025-01-01' + INTERVAL (m) MONTH AS awareness_month, channel AS acquisition_channel,
                   step AS step_number, from_stage, to_stage, 100 - 10 * step AS customers_at_stage,
                   80 - 10 * step AS customers_converted,
                   100.0 * (80 - 10 * step) / (100 - 10 * step) AS conversion_rate, 3.0 AS median_days_to_convert
            FROM range(2) AS t(m), (VALUES ('paid_search'), ('email_marketing')) AS c(channel),
                 (VALUES (1, 'awareness', 'consideration'), (2, 'consideration', 'purchase'),
                         (3, 'purchase', 'service'), (4, 'service', $evil)) AS s(step, from_stage, to_stage)
            """, {"evil": EVIL})
        con.execute("""
            CREATE TABLE marts.retention_by_cohort AS
            SELECT DATE '2025-01-01' + INTERVAL (c) MONTH AS cohort_month, k AS months_since_acquisition,
                   DATE '2025-01-01' + INTERVAL (c + k) MONTH AS calendar_month, 50 AS cohort_customers,
                   50 - 3 * k AS retained_customers, 3 * k AS churned_customers,
                   100.0 * (50 - 3 * k) / 50 AS retention_rate
            FROM range(4) AS a(c), range(4) AS b(k) WHERE c + k < 4""")
        con.execute("""
            CREATE TABLE marts.support_performance_monthly AS
            SELECT DATE '2025-01-01' + INTERVAL (m) MONTH AS created_month, 30 AS tickets, 28 AS solved_tickets,
                   60.0 + m AS median_first_reply_minutes, 900.0 + 10 * m AS median_full_resolution_minutes
            FROM range($n) AS t(m)""", {"n": months})
        con.execute("""
            CREATE TABLE marts.customer_360 AS
            SELECT i AS customer_id, i % 3 AS orders, i % 5 = 0 AS is_churned FROM range(30) AS t(i)""")
        con.execute("CREATE TABLE marts.orders AS SELECT i AS order_id, 10.0 * i AS amount FROM range(5) AS t(i)")
    finally:
        con.close()


@pytest.fixture
def warehouse(tmp_path) -> Path:
    path = tmp_path / "warehouse.duckdb"
    build_marts(path)
    return path


def test_report_is_written_self_contained_with_every_chart(warehouse, tmp_path):
    out = render_report(warehouse, tmp_path / "report")
    assert out == tmp_path / "report" / "cx_report.html"
    page = out.read_text(encoding="utf-8")

    # Self-contained: no external script, stylesheet or image; the Vega bundle appears exactly once.
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.I)
    assert not re.search(r"<(link|img|iframe)[^>]*(href|src)\s*=\s*[\"']?https?:", page, re.I)
    assert page.count('id="vega-bundle"') == 1
    assert page.count("vegaEmbed(") >= 1 and page.count("<script id=\"vega-bundle\">") == 1
    assert 500_000 < len(page) < 2_500_000

    for section in SECTIONS:
        assert f"<h2>{section.title}</h2>" in page
        assert f'id="chart-{section.key}"' in page
        assert f'data-chart="chart-{section.key}"' in page  # a spec, not an empty-state message
    # KPI header from headline_kpis.
    assert 'data-kpi="customers"' in page and ">30<" in page
    assert 'data-kpi="revenue"' in page
    # Data cannot break out of its <script type="application/json"> element.
    assert EVIL not in page
    assert "\\u003c/script\\u003e" in page
    # No leftover temporary file.
    assert [p.name for p in out.parent.iterdir()] == ["cx_report.html"]


def test_only_overall_rows_are_charted(warehouse, tmp_path):
    page = render_report(warehouse, tmp_path).read_text(encoding="utf-8")
    nps_spec = page.split('data-chart="chart-nps">', 1)[1].split("</script>", 1)[0]
    assert nps_spec.count('"responses":') == 6  # six months of dimension='all', not the 'segment' rows


def test_empty_marts_render_a_page_that_says_so(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    build_marts(path, months=0)
    con = duckdb.connect(str(path))
    for table in ("journey_funnel", "retention_by_cohort", "customer_360", "orders"):
        con.execute(f"DELETE FROM marts.{table}")
    con.close()
    page = render_report(path, tmp_path / "report").read_text(encoding="utf-8")
    assert "No data yet" in page
    assert 'id="vega-bundle"' not in page  # nothing to draw: no 0.9 MB of JavaScript either
    for section in SECTIONS:
        assert f"<h2>{section.title}</h2>" in page
        assert f"No data yet: {section.mart} has no rows." in page


def test_missing_marts_or_warehouse_render_a_page_too(tmp_path):
    path = tmp_path / "warehouse.duckdb"
    duckdb.connect(str(path)).close()  # a warehouse before the first dbt run: no schema marts
    page = render_report(path, tmp_path / "a").read_text(encoding="utf-8")
    assert "No data yet" in page and "Not built yet: marts.nps_monthly does not exist." in page

    page = render_report(tmp_path / "never_created.duckdb", tmp_path / "b").read_text(encoding="utf-8")
    assert "No data yet" in page
    assert not (tmp_path / "never_created.duckdb").exists()


def test_some_marts_missing_still_draws_the_others(warehouse, tmp_path):
    con = duckdb.connect(str(warehouse))
    con.execute("DROP TABLE marts.retention_by_cohort")
    con.close()
    page = render_report(warehouse, tmp_path).read_text(encoding="utf-8")
    assert "Not built yet: marts.retention_by_cohort does not exist." in page
    assert 'data-chart="chart-nps"' in page and 'id="vega-bundle"' in page


def test_a_mart_with_unexpected_columns_does_not_break_the_page(warehouse, tmp_path):
    con = duckdb.connect(str(warehouse))
    con.execute("ALTER TABLE marts.csat_monthly DROP COLUMN csat")
    con.close()
    page = render_report(warehouse, tmp_path).read_text(encoding="utf-8")
    assert "marts.csat_monthly could not be read: Binder Error" in page
    assert 'data-chart="chart-ces"' in page


def test_report_reads_the_published_copy(warehouse, tmp_path, monkeypatch):
    from orchestration.publish import publish

    monkeypatch.setenv("CXW_PUBLISH_PII_FILE", str(tmp_path / "none.yml"))
    published = publish(warehouse, tmp_path / "published", manifest_path=tmp_path / "none.json")
    page = render_report(published.database, tmp_path / "report").read_text(encoding="utf-8")
    assert all(f'data-chart="chart-{s.key}"' in page for s in SECTIONS)


def _browser_or_skip():
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    pytest.importorskip("playwright.sync_api", reason="the playwright package is not installed")


@pytest.mark.browser
def test_charts_render_offline_in_chromium(warehouse, tmp_path):
    _browser_or_skip()
    from orchestration.report import check_report_in_browser

    result = check_report_in_browser(render_report(warehouse, tmp_path))
    assert result["charts"] == {f"chart-{s.key}": "svg" for s in SECTIONS}, result
    assert result["console_errors"] == [] and result["page_errors"] == [], result
    assert result["blocked_requests"] == [], result  # the page never even tried the network


@pytest.mark.browser
def test_empty_report_opens_cleanly_in_chromium(tmp_path):
    _browser_or_skip()
    from orchestration.report import check_report_in_browser

    result = check_report_in_browser(render_report(tmp_path / "none.duckdb", tmp_path))
    assert set(result["charts"].values()) == {"empty"}
    assert result["console_errors"] == [] and result["page_errors"] == []
