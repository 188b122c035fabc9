"""The demo's OKRs (config/examples/demo.yaml) synced from the sandbox into a fresh SQLite
store, plus a few dated check-ins and notes, for the dashboard, report and browser tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import yaml

from config.loader import load_mapping
from config.mapping import MappingFile
from config.settings import Settings, load_settings
from sandbox.server import Sandbox
from sync.checkin import apply_checkin
from sync.engine import run_sync
from sync.store import Store

REPO_ROOT = Path(__file__).resolve().parents[1]
DEMO_MAPPING = REPO_ROOT / "config" / "examples" / "demo.yaml"
NOW = datetime.now(UTC)
# Developer NPS check-ins, (days ago, value, note): the key result's history chart.
NPS_CHECKINS = [
    (40, 12.0, "first survey"),
    (30, 18.0, None),
    (20, 22.0, "onboarding fixed"),
    (10, 27.0, "<b>new</b> survey & more"),
]
P1_NOTE = "Triage week: P1s are reviewed daily"


@dataclass
class DemoStore:
    store: Store
    settings: Settings
    mapping: MappingFile
    mapping_path: Path
    database_url: str


def demo_mapping_file(folder: Path) -> Path:
    """demo.yaml as it is while today is inside its period (2026-Q4); later, a copy whose
    period holds today, since key results are only updated inside their period."""
    today = NOW.date()
    if date(2026, 10, 1) <= today - timedelta(days=45) and today <= date(2026, 12, 31):
        return DEMO_MAPPING
    data = yaml.safe_load(DEMO_MAPPING.read_text())
    data["period"] = {
        "start": str(today - timedelta(days=60)),
        "end": str(today + timedelta(days=30)),
    }
    copy = folder / "demo.yaml"
    copy.write_text(yaml.safe_dump(data, sort_keys=False))
    return copy


def build_demo_store(box: Sandbox, folder: Path) -> DemoStore:
    url = f"sqlite:///{folder / 'okrsync.db'}"
    settings = load_settings(database_url=url)
    settings = settings.model_copy(
        update={
            "jira": settings.jira.model_copy(update=box.jira_settings()),
            "github": settings.github.model_copy(update=box.github_settings()),
        }
    )
    path = demo_mapping_file(folder)
    mapping = load_mapping(path)
    store = Store(url)
    store.migrate()
    report = run_sync(settings, mapping, store, config_path=str(path))
    assert report.exit_code == 0, [o.error for o in report.failed]
    for days_ago, value, note in NPS_CHECKINS:
        apply_checkin(
            settings, mapping, store, "nps", value, note, as_of=NOW - timedelta(days=days_ago)
        )
    apply_checkin(settings, mapping, store, "p1-bugs", None, P1_NOTE, as_of=NOW - timedelta(days=1))
    return DemoStore(store, settings, mapping, path, url)


def demo_objectives() -> list[dict[str, object]]:
    """The objectives as written in demo.yaml (read with plain YAML, not our loader)."""
    objectives: list[dict[str, object]] = yaml.safe_load(DEMO_MAPPING.read_text())["objectives"]
    return objectives
