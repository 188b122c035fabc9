"""Scope change (sync/scope.py) and how every view shows it: `explain`, the key result's
page and the digest list the items added to and removed from a set, as keys with links,
capped with "and N more"; keys with brackets, HTML and control characters are shown as
written, and a link that is not http(s) is not made a link."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from werkzeug.test import Client

from config.loader import load_mapping_text
from config.settings import Settings
from connectors.base import WorkItem
from sync.dashboard.app import make_dashboard_app
from sync.kept_values import kept_lineage
from sync.literal_text import LiteralConsole
from sync.notify import Change, scope_text
from sync.plan import plan_queries
from sync.presentation import ScopeChange, ScopeItem, scope_changes
from sync.records import FrozenScope, Lineage, ObjectiveRecord, RunRecord, StoredKeyResult
from sync.scope import SHOWN_KEYS, measured, scope_lineage
from sync.status_view import render_explain
from sync.store import Store
from tests.key_result_records import key_result_record

T0 = datetime(2026, 10, 1, tzinfo=UTC)
HOSTILE = "[bold]x[/bold]<script>alert(1)</script>\x1b[31m#1"


def item(key: str, *, done: bool = False, url: str | None = None) -> WorkItem:
    return WorkItem(
        "github",
        key,
        url or f"https://github.com/acme/x/issues/{abs(hash(key)) % 1000}",
        "issue",
        f"title of {key}",
        "closed" if done else "open",
        "done" if done else "todo",
        T0,
        T0,
    )


def test_a_frozen_scope_measures_its_items_as_now_and_lists_what_the_selector_added() -> None:
    scope = FrozenScope(T0, "d", tuple(item(f"k{n}") for n in range(10)))
    current = [item(f"k{n}", done=n < 3) for n in range(1, 10)] + [item("k10")]
    change = measured(scope, current)
    assert [i.key for i in change.items] == [f"k{n}" for n in range(10)]
    assert sum(1 for i in change.items if i.status_category == "done") == 2  # k0 as at start
    assert [i.key for i in change.added] == ["k10"]
    assert [i.key for i in change.removed] == ["k0"]


def test_the_lineage_lists_a_few_keys_and_counts_the_rest() -> None:
    scope = FrozenScope(T0, "d", (item("k0"),))
    current = [item("k0")] + [item(f"new{n}") for n in range(SHOWN_KEYS + 3)]
    document = scope_lineage("frozen", current, ["k0", "gone"], scope)
    added = document["since_start"]["added"]
    assert len(added["items"]) == SHOWN_KEYS and added["total"] == SHOWN_KEYS + 3
    assert document["since_last_run"]["removed"] == {
        "items": [{"key": "gone", "url": None}],
        "total": 1,
    }
    changes = scope_changes(Lineage.from_json({"scope": document}))
    assert [(c.label, c.more) for c in changes] == [
        ("added since the period's start", 3),
        ("added since the last run", 3),
        ("removed since the last run", 0),
    ]


def hostile_store(tmp_path: Path) -> Store:
    """A key result whose set gained an item with a hostile key and a non-web link."""
    store = Store(f"sqlite:///{tmp_path / 'scope.db'}")
    store.migrate()
    scope = FrozenScope(T0, "d", (item("k0"),))
    current = [
        item("k0"),
        item(HOSTILE, url="https://github.com/acme/x/issues/7"),
        item("<b>sneaky</b>", url="javascript:alert(1)"),
    ]
    lineage = {"metric": "percent_done", "scope": scope_lineage("frozen", current, ["k0"], scope)}
    at = T0 + timedelta(days=30)
    store.write_run(
        RunRecord(at, at, "ok", 1, 0, {"github": 1}, {"github": []}),
        [ObjectiveRecord("o", "O", None, "team", None, 1.0, None, "on_track")],
        [
            key_result_record(
                objective_id="o",
                id="planned",
                metric_type="percent_done",
                source="github",
                value=50.0,
                lineage=lineage,
                period_start=date(2026, 10, 1),
            )
        ],
    )
    return store


def test_explain_lists_the_changes_literally(tmp_path: Path) -> None:
    store = hostile_store(tmp_path)
    console = LiteralConsole(record=True, width=300)
    render_explain(store, "planned", console)
    text = console.export_text()
    assert "scope: frozen, 1 items matched at 2026-10-01T00:00:00+00:00" in text
    assert "added since the period's start:" in text
    shown = "[bold]x[/bold]<script>alert(1)</script>\u241b[31m#1"  # ESC as its symbol
    assert f"  {shown} https://github.com/acme/x/issues/7\n" in text
    assert "\x1b" not in text
    assert "<b>sneaky</b>\n" in text  # no link: javascript: is not one
    store.close()


def test_the_key_result_page_links_keys_and_escapes_them(tmp_path: Path) -> None:
    store = hostile_store(tmp_path)
    settings = Settings(_env_file=None, database_url="sqlite://")  # type: ignore[call-arg]
    page = (
        Client(make_dashboard_app(store, settings))
        .get("/key-results/planned")
        .get_data(as_text=True)
    )
    scope = page[page.index('<div id="scope">') :]
    assert (
        '<a href="https://github.com/acme/x/issues/7" rel="noopener noreferrer">'
        "[bold]x[/bold]&lt;script&gt;alert(1)&lt;/script&gt;\u241b[31m#1</a>"
    ) in scope
    assert "javascript:" not in page and "&lt;b&gt;sneaky&lt;/b&gt;" in scope
    assert "<script>" not in scope and "\x1b" not in page
    store.close()


def test_the_digest_names_the_change_since_the_last_run_with_slack_links() -> None:
    change = Change("planned", "okrs", "Planned", "o", None, "on_track", "on_track", 5, 5, 50, 50)
    change.scope = [
        ScopeChange(
            "added since the last run",
            (
                ScopeItem(HOSTILE, "https://github.com/acme/x/issues/7"),
                ScopeItem("a|b", "https://x/a|b"),
            ),
            4,
        )
    ]
    assert scope_text(change) == (
        "added since the last run: <https://github.com/acme/x/issues/7|[bold]x[/bold]&lt;script"
        "&gt;alert(1)&lt;/script&gt;\u241b[31m#1>, a|b and 4 more"
    )


def test_a_kept_value_lists_no_change_since_the_last_run() -> None:
    """A value kept because nothing it reads changed: its set did not change either, so the
    views and the digest do not repeat the last run's change."""
    mapping = load_mapping_text(
        "version: 1\nperiod: 2026-Q4\nobjectives:\n  - id: o\n    title: O\n    key_results:\n"
        "      - id: k\n        title: K\n        target: 100\n"
        "        metric: {type: percent_done, jql: 'project = A'}\n",
        source_name="okrs.yaml",
        today=date(2026, 11, 1),
    )
    plan = plan_queries(mapping, today=date(2026, 11, 1)).key_results[0]
    document = scope_lineage("live", [item("k1")], ["k0"], None)
    stored = StoredKeyResult(50.0, "on_track", T0, lineage=Lineage.from_json({"scope": document}))
    kept = kept_lineage(plan, stored, {})
    assert "since_last_run" in document and "since_last_run" not in kept["scope"]
    assert scope_changes(Lineage.from_json(kept)) == []
