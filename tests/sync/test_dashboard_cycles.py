"""The dashboard and its API across cycles: the current one by default, `?period=` for
another, the pages' cycle select, and a clear JSON error for a period that is no cycle."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from werkzeug.test import Client

from config.settings import Settings
from sync.dashboard import make_dashboard_app
from sync.records import Listing
from sync.store import Store
from tests.sync.test_cycles import Q1, Q4
from tests.sync.test_dashboard import check, spec  # noqa: F401 (the fixture)
from tests.sync.test_store import kr_record, objective, run_record

LISTING = Listing(frozenset({"quality"}), frozenset({"p1-bugs"}))


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Client:
    """A store with last quarter's p1-bugs at 30 and this quarter's at 12."""
    path: Path = tmp_path_factory.mktemp("cycles") / "okrsync.db"
    store = Store(f"sqlite:///{path}")
    store.migrate()
    for at, value, start, end in (
        (datetime(2026, 11, 1, tzinfo=UTC), 30, date(2026, 10, 1), date(2026, 12, 31)),
        (datetime(2027, 1, 5, tzinfo=UTC), 12, date(2027, 1, 1), date(2027, 3, 31)),
    ):
        record = replace(kr_record(value), period_start=start, period_end=end)
        store.write_run(run_record(at), [objective()], [record], listing=LISTING)
    settings = Settings(_env_file=None, database_url=store.url)  # type: ignore[call-arg]
    return Client(make_dashboard_app(store, settings))


def _value(body: dict[str, object]) -> object:
    [objective] = body["objectives"]  # type: ignore[misc]
    [key_result] = objective["key_results"]
    return key_result["value"]


def test_the_api_shows_the_current_cycle_unless_asked_for_another(
    client: Client,
    spec: dict[str, object],  # noqa: F811
) -> None:
    body = client.get("/api/objectives").get_json()
    check(spec, "/api/objectives", 200, body)  # type: ignore[arg-type]
    assert body["period"] == {
        "key": Q1,
        "label": "2027-Q1",
        "start": "2027-01-01",
        "end": "2027-03-31",
    }
    assert _value(body) == 12
    for asked in ("2026-Q4", Q4):
        old = client.get(f"/api/objectives?period={asked}").get_json()
        check(spec, "/api/objectives", 200, old)  # type: ignore[arg-type]
        assert (old["period"]["label"], _value(old)) == ("2026-Q4", 30)
    detail = client.get("/api/key-results/p1-bugs?period=2026-Q4").get_json()
    check(spec, "/api/key-results/{kr_id}", 200, detail)  # type: ignore[arg-type]
    assert detail["period"] == {"start": "2026-10-01", "end": "2026-12-31"}
    assert [entry["value"] for entry in detail["history"]] == [30]


@pytest.mark.parametrize(
    ("asked", "status", "said"),
    [
        ("1999-Q1", 404, "no cycle 1999-Q1 in the store (in the store: 2027-Q1 (2027-01-01"),
        ("2026-Q9", 422, "'2026-Q9' is not a period"),
        ("<script>[x]</script>", 422, "is not a period"),
    ],
)
def test_a_period_that_is_no_cycle_is_a_json_error(
    client: Client,
    spec: dict[str, object],  # noqa: F811
    asked: str,
    status: int,
    said: str,
) -> None:
    for path, documented in (
        (f"/api/objectives?period={asked}", "/api/objectives"),
        (f"/api/key-results/p1-bugs?period={asked}", "/api/key-results/{kr_id}"),
    ):
        response = client.get(path)
        assert response.status_code == status
        body = response.get_json()
        check(spec, documented, status, body)  # type: ignore[arg-type]
        assert said in body["error"]["message"]
    page = client.get(f"/?period={asked}")
    assert page.status_code == status and "<script>[x]" not in page.get_data(as_text=True)


def test_the_page_lists_the_cycles_and_keeps_the_chosen_one_in_its_links(client: Client) -> None:
    current = client.get("/").get_data(as_text=True)
    assert '<option value="2027-01-01..2027-03-31" selected>2027-Q1</option>' in current
    assert '<option value="2026-10-01..2026-12-31">2026-Q4</option>' in current
    assert 'href="/key-results/p1-bugs"' in current
    old = client.get("/?period=2026-Q4").get_data(as_text=True)
    assert '<option value="2026-10-01..2026-12-31" selected>2026-Q4</option>' in old
    assert 'href="/key-results/p1-bugs?period=2026-10-01..2026-12-31"' in old
    page = client.get("/key-results/p1-bugs?period=2026-10-01..2026-12-31").get_data(as_text=True)
    assert "Period 2026-10-01 to 2026-12-31" in page
