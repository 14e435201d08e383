"""The HTML report rendered by a real browser: Debian's headless Chromium opens the file with every
host name unresolvable (so anything the page tried to fetch would fail), runs plotly.js, and the
DOM it dumps must hold a plotly-drawn SVG for every gate; a screenshot must show something.

Chromium missing is a failure, never a skip: `scripts/install-services.sh` installs it.
"""

from __future__ import annotations

import re
import struct
import subprocess
from pathlib import Path

import pytest

from runofshow.reports.html import write_report
from tests.helpers import require_binary
from tests.report_runs import promoted_run, rolled_back_run

pytestmark = pytest.mark.integration

WIDTH, HEIGHT = 1400, 2400


def chromium(tmp_path: Path, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
    binary = require_binary("chromium")
    argv = [
        binary, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--host-resolver-rules=MAP * ~NOTFOUND",
        f"--user-data-dir={tmp_path / 'chromium-profile'}", "--virtual-time-budget=5000",
        f"--window-size={WIDTH},{HEIGHT}", "--hide-scrollbars", *extra, url,
    ]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0, f"chromium exited {done.returncode}: {done.stderr[-2000:]}"
    return done


def figure_dom(dom: str, div_id: str) -> str:
    """The dumped DOM of one figure: from its div to the next figure's panel."""
    start = dom.index(f'id="{div_id}"')
    end = dom.find('class="panel fig"', start)
    return dom[start:end if end > 0 else len(dom)]


@pytest.fixture(scope="module")
def reports(tmp_path_factory) -> dict[str, tuple[Path, list[str]]]:
    folder = tmp_path_factory.mktemp("reports")
    out = {}
    for name, result in (("promoted", promoted_run()), ("rolled_back", rolled_back_run())):
        path = write_report(result.events, None, folder / f"report_{name}.html")
        out[name] = (path, list(result.plan.gates))
    return out


@pytest.mark.parametrize("name", ["promoted", "rolled_back"])
def test_chromium_draws_a_plot_for_every_gate(tmp_path, reports, name):
    path, gates = reports[name]
    dom = chromium(tmp_path, path.as_uri(), "--dump-dom").stdout
    assert dom.lstrip().lower().startswith("<!doctype html>"), dom[:200]
    night = ["fig-first-night", "fig-burn"] if name == "promoted" else []
    figures = ["fig-weight", *(f"gate-{g}" for g in gates), *night]
    for div_id in figures:
        part = figure_dom(dom, div_id)
        assert 'class="main-svg"' in part, f"{div_id}: plotly drew no SVG"
        lines = re.findall(r'<path class="js-line"[^>]* d="M[^"]+', part)
        assert lines, f"{div_id}: no line was drawn"
    for gate in gates:
        part = figure_dom(dom, f"gate-{gate}")
        assert "threshold" in part and "S1 · 1%" in part
        if name == "rolled_back":
            assert "ROLLBACK" in part, f"{gate}: no rollback marker"
    assert dom.count('class="plot-container plotly"') == len(figures)
    assert re.search(r'<table id="decisions">', dom)


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    return struct.unpack(">II", data[16:24])


def test_the_screenshot_shows_the_report(tmp_path, reports):
    path, _ = reports["rolled_back"]
    shot = tmp_path / "report.png"
    chromium(tmp_path, path.as_uri(), f"--screenshot={shot}")
    data = shot.read_bytes()
    assert png_size(data) == (WIDTH, HEIGHT)
    blank_page = tmp_path / "blank.html"
    blank_page.write_text("<!DOCTYPE html><html><body></body></html>", encoding="utf-8")
    blank = tmp_path / "blank.png"
    chromium(tmp_path, blank_page.as_uri(), f"--screenshot={blank}")
    # plots, tables and text compress far worse than an empty page of the same size
    assert len(data) > 100_000 and len(data) > 10 * len(blank.read_bytes()), (len(data), blank.stat().st_size)
