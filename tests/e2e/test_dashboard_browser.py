"""The dashboard in a real headless Chromium (Debian's `chromium`): `run.py serve` over the
demo data with its history backfilled from the period's first day, the objective tree, a link
followed to a key result's page and its chart, and screenshots. Chromium is driven with
`--dump-dom` (the DOM after the page loaded) and `--screenshot`, each in a fresh profile.

Set OKRSYNC_SCREENSHOTS_DIR to keep the screenshots (the README's come from here)."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest

from sync.backfill import BackfillRequest, run_backfill
from sync.literal_text import LiteralConsole
from sync.status_view import render_status
from tests.demo_data import NPS_CHECKINS, REPO_ROOT, DemoStore, demo_objectives

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--hide-scrollbars",
]
WINDOW = (1280, 1400)
TERMINAL_WINDOW = (1280, 630)  # Rich's SVG is drawn to the window's width
CHART_LEFT = 56.0  # where sync.charts.history_svg's plot begins
# The automated key result the README's key result screenshot shows: its history rebuilt.
BACKFILLED_KR = "story-points"


def _require_chromium() -> str:
    if CHROMIUM is None:
        reason = "Debian's chromium is not installed (apt-get install -y chromium)"
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI must run the browser tests: {reason}")
        pytest.skip(reason)
    return CHROMIUM


def chromium(tmp_path: Path, *args: str) -> str:
    """Run Chromium once in a fresh profile; return what it printed on stdout."""
    binary = _require_chromium()
    profile = tmp_path / f"profile-{len(list(tmp_path.glob('profile-*')))}"
    done = subprocess.run(
        [binary, *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def screenshot(tmp_path: Path, url: str, name: str, window: tuple[int, int] = WINDOW) -> Path:
    path = tmp_path / name
    chromium(tmp_path, f"--window-size={window[0]},{window[1]}", f"--screenshot={path}", url)
    keep = os.environ.get("OKRSYNC_SCREENSHOTS_DIR")
    if keep:
        Path(keep).mkdir(parents=True, exist_ok=True)
        shutil.copy(path, Path(keep) / name)
    return path


def png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


class Dom(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a
            for t, a in self.tags
            if t == tag
            and all(
                v in a.get(k.replace("_", "-"), "").split() or a.get(k.replace("_", "-")) == v
                for k, v in attrs.items()
            )
        ]


def dom(html: str) -> Dom:
    parsed = Dom()
    parsed.feed(html)
    return parsed


@pytest.fixture(scope="module")
def backfilled(demo: DemoStore) -> DemoStore:
    """The demo store with every automated key result's history rebuilt from the period's
    first day, one value a day, as `python run.py backfill` does after the demo's sync."""
    now = datetime.now(UTC).replace(microsecond=0)
    request = BackfillRequest(now=now, step=timedelta(days=1))
    report = run_backfill(demo.settings, demo.mapping, demo.store, request)
    assert report.exit_code == 0, [(kr.id, kr.error) for kr in report.key_results if kr.error]
    assert any(kr.id == BACKFILLED_KR and kr.written for kr in report.key_results), report
    return demo


@pytest.fixture(scope="module")
def dashboard(backfilled: DemoStore, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`python run.py serve --port 0` in its own process; yields its base URL."""
    _require_chromium()
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSYNC_")}
    env.update({"OKRSYNC_DATABASE_URL": backfilled.database_url, "PYTHONPATH": str(REPO_ROOT)})
    process = subprocess.Popen(
        [sys.executable, str(REPO_ROOT / "run.py"), "serve", "--port", "0"],
        cwd=tmp_path_factory.mktemp("serve"),
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert line.startswith("dashboard: http://127.0.0.1:"), (line, process.poll())
        yield line.split(": ", 1)[1].strip().rstrip("/")
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert process.returncode == 0  # SIGTERM stops it cleanly


def test_tree_in_chromium_links_to_a_key_result_with_its_chart(
    dashboard: str, tmp_path: Path
) -> None:
    tree = dom(chromium(tmp_path, "--dump-dom", f"{dashboard}/"))
    assert tree.find("ul", id="objective-tree")
    shown = {a["data-objective"] for a in tree.find("li") if "data-objective" in a}
    assert shown == {str(o["id"]) for o in demo_objectives()}
    links = {a["href"] for a in tree.find("a", **{"class": "kr-link"})}
    assert "/key-results/nps" in links
    # Follow the link as the browser resolves it, and load the key result's page.
    page = dom(chromium(tmp_path, "--dump-dom", f"{dashboard}/key-results/nps"))
    assert page.find("h1", data_key_result="nps")
    assert page.find("svg", **{"class": "chart"})
    assert page.find("polyline", data_series="value")
    assert page.find("line", data_series="target")
    assert page.find("line", data_series="forecast")
    assert len(page.find("circle")) == len(NPS_CHECKINS)


def test_a_backfilled_chart_starts_at_the_period_s_first_day_and_says_what_was_rebuilt(
    dashboard: str, backfilled: DemoStore, tmp_path: Path
) -> None:
    kr = backfilled.store.key_result(BACKFILLED_KR)
    assert kr is not None and kr.period_start is not None
    first_day = kr.period_start.date()
    html = chromium(tmp_path, "--dump-dom", f"{dashboard}/key-results/{BACKFILLED_KR}")
    page = dom(html)
    line = page.find("polyline", data_series="value")
    assert line, "no value series on the chart"
    first_x = float(line[0]["points"].split()[0].split(",")[0])
    assert first_x == CHART_LEFT  # the left edge of the plot: the period's first instant
    # Each point's tooltip names its time: the first is the period's first day, 00:00 UTC.
    first_point = html.split("<circle ", 1)[1].split("</title>", 1)[0]
    assert f"{first_day:%Y-%m-%d} 00:00 UTC:" in first_point, first_point
    table = html.split('<table class="history">', 1)[1]
    origins = [cell.split("</td>")[0] for cell in table.split("<td>")[1:]]
    assert "backfill" in origins and "sync" in origins


def test_screenshots_of_the_dashboard(dashboard: str, tmp_path: Path) -> None:
    for url, name in (
        (f"{dashboard}/", "dashboard.png"),
        (f"{dashboard}/key-results/{BACKFILLED_KR}", "dashboard-key-result.png"),
        (f"{dashboard}/runs", "dashboard-runs.png"),
    ):
        path = screenshot(tmp_path, url, name)
        assert png_size(path) == WINDOW
        assert path.stat().st_size > 20_000  # a rendered page, not a blank one


def test_screenshot_of_the_terminal_status(backfilled: DemoStore, tmp_path: Path) -> None:
    """`status` as a terminal shows it (Rich's SVG export), photographed by Chromium."""
    console = LiteralConsole(record=True, width=118, force_terminal=True, color_system="truecolor")
    render_status(backfilled.store, console)
    text = console.export_text(clear=False)
    svg = tmp_path / "status.svg"
    svg.write_text(console.export_svg(title="python run.py status"), encoding="utf-8")
    assert all(str(o["title"]) in text for o in demo_objectives())
    path = screenshot(tmp_path, svg.as_uri(), "terminal-status.png", window=TERMINAL_WINDOW)
    assert png_size(path) == TERMINAL_WINDOW
