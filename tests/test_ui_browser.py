"""The Dagster UI in a real browser: Debian's Chromium, driven headless by Playwright.

Starts `dagster dev` on localhost against the demo warehouse, then checks that the asset graph shows
the lineage from raw to marts with their checks, that a materialization launched from the UI
succeeds, and that the CX report opens with its charts drawn. Skips, saying why, only when Chromium
is not installed (.ci/run installs it)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.conftest import REPO

pytestmark = [pytest.mark.slow, pytest.mark.browser]

CHROMIUM = Path(os.environ.get("CXW_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def dagster_ui(demo_run):
    if not CHROMIUM.exists():
        pytest.skip(f"Chromium not found at {CHROMIUM}: install it with `apt-get install -y chromium` "
                    "(.ci/run does) to run the browser tests")
    port = _free_port()
    env = {**os.environ, **demo_run.env}
    dagster = str(Path(sys.executable).with_name("dagster"))
    # SIGINT is ignored in background children of a non-interactive shell, and dagster dev maps
    # SIGTERM onto it; give it its own session so the whole process group can be stopped.
    proc = subprocess.Popen([dagster, "dev", "-m", "orchestration.definitions", "-h", "127.0.0.1", "-p", str(port)],
                            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 180
    while True:
        try:
            with urllib.request.urlopen(f"{url}/server_info", timeout=2) as response:
                if response.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            out = proc.stdout.read().decode(errors="replace") if proc.poll() is not None else ""
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail(f"dagster dev did not come up on {url}: {out[-3000:]}")
        time.sleep(1)
    try:
        yield url, demo_run
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield b
        b.close()


def test_asset_graph_shows_lineage_from_raw_to_marts_with_checks(dagster_ui, browser):
    url, _ = dagster_ui
    page = browser.new_page()
    # The lineage of one mart: its upstream graph reaches back through intermediate and staging to the
    # raw tables and the landing folder, each in its layer's group. (Long node labels are shortened
    # in the graph, so the check uses names that fit.)
    page.goto(f"{url}/assets/marts/nps_monthly?view=lineage&lineageScope=upstream&lineageDepth=6",
              wait_until="networkidle")
    for name in ["nps_monthly", "customer_360", "survey_responses", "export_files", "raw_survey", "staging",
                 "intermediate", "marts", "sources"]:
        page.get_by_text(name, exact=True).first.wait_for(timeout=60_000)
    page.goto(f"{url}/assets/raw/survey_responses?view=checks", wait_until="networkidle")
    page.get_by_text("gx_validation").first.wait_for(timeout=60_000)
    page.goto(f"{url}/assets/marts/customer_360?view=checks", wait_until="networkidle")
    # Long check names are drawn truncated; the full name is in the page for measuring.
    page.get_by_text("unique_customer_360_customer_id").first.wait_for(state="attached", timeout=60_000)
    page.close()


def test_a_materialization_launched_from_the_ui_succeeds(dagster_ui, browser):
    import dagster as dg

    url, demo_run = dagster_ui
    os.environ["DAGSTER_HOME"] = demo_run.env["DAGSTER_HOME"]
    instance = dg.DagsterInstance.get()
    before = {r.run_id for r in instance.get_runs()}
    page = browser.new_page()
    page.goto(f"{url}/assets/landing/export_files", wait_until="networkidle")
    page.locator("button", has_text="Materialize").first.click(timeout=60_000)
    deadline = time.monotonic() + 180
    run = None
    while time.monotonic() < deadline:
        new = [r for r in instance.get_runs() if r.run_id not in before]
        if new and new[0].is_finished:
            run = new[0]
            break
        time.sleep(2)
    assert run is not None, "no run launched from the UI finished within 3 minutes"
    assert run.status == dg.DagsterRunStatus.SUCCESS, run.status
    page.goto(f"{url}/runs/{run.run_id}", wait_until="networkidle")
    page.get_by_text("Success").first.wait_for(timeout=60_000)
    page.close()


def test_cx_report_opens_and_its_charts_render(dagster_ui, browser):
    from orchestration.report import check_report_in_browser

    _, demo_run = dagster_ui
    report = Path(demo_run.env["CXW_PUBLISH_DIR"]) / "cx_report.html"
    assert report.exists(), "the pipeline run did not render the report"
    result = check_report_in_browser(report, browser=browser)  # offline: every non-file request blocked
    assert result["charts"], result
    assert all(kind in ("svg", "canvas") for kind in result["charts"].values()), result
    assert not result["console_errors"] and not result["page_errors"], result
