"""The dashboard app over the demo data: pages, charts, the JSON API against its OpenAPI
document, and how it answers bad requests (Werkzeug's test client, no mocks)."""

from __future__ import annotations

import json
import re
import statistics
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator, FormatChecker
from openapi_spec_validator import validate as validate_spec
from pydantic import BaseModel, SecretStr
from werkzeug.test import Client

from config.loader import load_mapping
from config.settings import Settings
from sandbox.server import SANDBOX_GITHUB_TOKEN, SANDBOX_JIRA_TOKEN, Sandbox
from sync import documents, namespace_documents, organization
from sync.dashboard import make_dashboard_app
from sync.documents import status_document
from sync.engine import run_sync
from sync.progress import Status
from sync.records import ObjectiveRecord, RunRecord
from sync.standing import CHART_POINTS_MAX, RECENT_POINTS
from sync.store import Store
from tests.big_store import FIRST_AT, PERIOD_END, STEP, BigStore, history_value
from tests.demo_data import NOW, NPS_CHECKINS, P1_NOTE, DemoStore, build_demo_store, demo_objectives


@pytest.fixture(scope="module")
def client(demo: DemoStore) -> Client:
    return Client(make_dashboard_app(demo.store, demo.settings))


class Elements(HTMLParser):
    """Start tags with their attributes, and the page's text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    def find(self, tag: str, **attrs: str) -> list[dict[str, str]]:
        return [
            a for t, a in self.tags if t == tag and all(a.get(k) == v for k, v in attrs.items())
        ]


def parse(html: str) -> Elements:
    parser = Elements()
    parser.feed(html)
    return parser


def get_page(client: Client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    assert response.mimetype == "text/html"
    return response.get_data(as_text=True)


def parents_on_page(html: str) -> dict[str, str | None]:
    """Each objective's parent as the page nests it: the <li> its own <li> sits inside."""
    stack: list[str] = []
    parent_of: dict[str, str | None] = {}
    lists = 0  # open <ul>s, which must all close

    class Nesting(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            nonlocal lists
            found = dict(attrs).get("data-objective")
            if tag == "li":
                if found:
                    parent_of[found] = stack[-1] if stack else None
                stack.append(found or (stack[-1] if stack else ""))
            lists += tag == "ul"

        def handle_endtag(self, tag: str) -> None:
            nonlocal lists
            if tag == "li":
                stack.pop()
            lists -= tag == "ul"

    Nesting().feed(html)
    assert stack == [] and lists == 0  # every list item and list closed
    return parent_of


def test_tree_nests_objectives_by_parent_and_links_every_key_result(client: Client) -> None:
    html = get_page(client, "/")
    objectives = demo_objectives()
    parent_of = parents_on_page(html)
    assert parent_of == {str(o["id"]): o.get("parent") for o in objectives}
    links = {a["href"] for a in parse(html).find("a", **{"class": "kr-link"})}
    expected = {f"/key-results/{kr['id']}" for o in objectives for kr in o["key_results"]}  # type: ignore[attr-defined]
    assert links == expected


def test_a_1000_deep_chain_is_nested_without_recursion(tmp_path: Path) -> None:
    """The tree's template recursed once per level: a 1,000-deep chain was a 500."""
    store = Store(f"sqlite:///{tmp_path / 'okrsync.db'}")
    store.migrate()
    chain = [
        ObjectiveRecord(
            f"o{i}",
            f"O{i}",
            None,
            "team" if i % 2 else "company",
            f"o{i - 1}" if i else None,
            1.0,
            None,
            "no_data",
            position=i,
        )
        for i in range(1000)
    ]
    at = datetime(2026, 11, 1, tzinfo=UTC)
    store.write_run(RunRecord(at, at, "ok", 0, 0, {}, {}), chain, [])
    client = Client(make_dashboard_app(store, Settings()))
    parent_of = parents_on_page(get_page(client, "/"))
    assert parent_of == {o.id: o.parent_id for o in chain}
    # Filtered to one level, what is left stands side by side, every list closed.
    teams = parents_on_page(get_page(client, "/?level=team"))
    assert teams == {f"o{i}": None for i in range(1, 1000, 2)}
    below = parents_on_page(get_page(client, "/?objective=o990"))
    assert below == {f"o{i}": (f"o{i - 1}" if i > 990 else None) for i in range(990, 1000)}
    store.close()


def test_tree_filters_by_level_owner_and_objective(client: Client) -> None:
    objectives = demo_objectives()

    def shown(query: str) -> set[str]:
        return {
            a["data-objective"]
            for a in parse(get_page(client, "/?" + query)).find("li")
            if "data-objective" in a
        }

    assert shown("level=team") == {str(o["id"]) for o in objectives if o["level"] == "team"}
    assert shown("owner=erin") == {"erin-growth"}
    # delivery and everything aligned under it, directly or not
    assert shown("objective=delivery") == {"delivery", "app-team", "erin-growth"}
    assert "No objective matches" in get_page(client, "/?owner=nobody")


def test_key_result_page_has_chart_query_link_and_notes(
    client: Client, demo: DemoStore, sandbox: Sandbox
) -> None:
    page = parse(get_page(client, "/key-results/p1-bugs"))
    link = page.find("a", **{"class": "tracker-link"})
    assert len(link) == 1 and link[0]["href"].startswith(
        f"{sandbox.jira_url}/issues/?jql=project%20%3D%20APP"
    )
    assert link[0]["rel"] == "noopener noreferrer"
    text = "".join(page.text)
    assert "project = APP AND priority = Highest AND statusCategory != Done" in text
    assert P1_NOTE in text
    assert page.find("svg", **{"class": "chart"})
    assert page.find("line", **{"data-series": "target"})
    assert page.find("polyline", **{"data-series": "pace"})


def test_history_chart_draws_every_value_the_forecast_and_escapes_notes(client: Client) -> None:
    html = get_page(client, "/key-results/nps")
    page = parse(html)
    assert len(page.find("circle")) == len(NPS_CHECKINS)
    assert page.find("line", **{"data-series": "forecast"})
    assert "<b>new</b>" not in html and "&lt;b&gt;new&lt;/b&gt; survey &amp; more" in html
    assert "Entered by people" in html


def test_runs_page_shows_each_run(client: Client, demo: DemoStore) -> None:
    runs = demo.store.runs()
    page = parse(get_page(client, "/runs"))
    assert [r["data-run"] for r in page.find("tr") if "data-run" in r] == [str(r.id) for r in runs]


# --- JSON API against the OpenAPI document -----------------------------------------------


@pytest.fixture(scope="module")
def spec(client: Client) -> dict[str, Any]:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    document: dict[str, Any] = response.get_json()
    validate_spec(document)
    return document


def check(spec: dict[str, Any], path: str, status: int, body: Any) -> None:
    """Validate a response body against the schema the document gives for (path, status)."""
    schema = spec["paths"][path]["get"]["responses"][str(status)]["content"]["application/json"][
        "schema"
    ]
    validator = Draft202012Validator(
        {**schema, "components": spec["components"]}, format_checker=FormatChecker()
    )
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(body)]
    assert not errors, errors


def test_api_objectives_match_the_document_and_the_store(
    client: Client, spec: dict[str, Any], demo: DemoStore
) -> None:
    body = client.get("/api/objectives").get_json()
    check(spec, "/api/objectives", 200, body)
    assert [o["id"] for o in body["objectives"]] == [
        "quality",
        "delivery",
        "app-team",
        "erin-growth",
        "ops",
    ]
    filtered = client.get("/api/objectives?level=individual").get_json()
    check(spec, "/api/objectives", 200, filtered)
    assert [o["id"] for o in filtered["objectives"]] == ["erin-growth"]


def test_api_shows_what_the_mapping_file_dropped_only_when_asked_and_marked_retired(
    sandbox: Sandbox, tmp_path: Path, spec: dict[str, Any]
) -> None:
    """After a run of a file without `ops` and two of `quality`'s key results, the API leaves
    them out; `all=1` adds them with `retired_at`, every document valid against the spec."""
    built = build_demo_store(sandbox, tmp_path)
    data = yaml.safe_load(built.mapping_path.read_text())
    data["objectives"] = [o for o in data["objectives"] if o["id"] != "ops"]
    data["objectives"][0]["key_results"] = data["objectives"][0]["key_results"][:1]
    smaller = tmp_path / "smaller.yaml"
    smaller.write_text(yaml.safe_dump(data, sort_keys=False))
    assert run_sync(built.settings, load_mapping(smaller), built.store).exit_code == 0
    client = Client(make_dashboard_app(built.store, built.settings))
    listed = client.get("/api/objectives").get_json()
    check(spec, "/api/objectives", 200, listed)
    assert [o["id"] for o in listed["objectives"]] == [
        "quality",
        "delivery",
        "app-team",
        "erin-growth",
    ]
    assert [kr["id"] for kr in listed["objectives"][0]["key_results"]] == ["p1-bugs"]
    every = client.get("/api/objectives?all=1").get_json()
    check(spec, "/api/objectives", 200, every)
    retired = {
        kr["id"]
        for o in every["objectives"]
        for kr in o["key_results"]
        if kr["retired_at"] is not None
    }
    assert retired == {"customer-bugs-closed", "regressions-open"} | {
        str(kr["id"])
        for o in demo_objectives()
        if o["id"] == "ops"
        for kr in o["key_results"]  # type: ignore[attr-defined]
    }
    assert [o["id"] for o in every["objectives"] if o["retired_at"] is not None] == ["ops"]
    document = client.get("/api/key-results/regressions-open").get_json()
    check(spec, "/api/key-results/{kr_id}", 200, document)
    assert document["retired_at"] is not None and document["history"]
    built.store.close()


def test_api_key_results_match_the_document(client: Client, spec: dict[str, Any]) -> None:
    ids = [kr["id"] for o in demo_objectives() for kr in o["key_results"]]  # type: ignore[attr-defined]
    for kr_id in ids:
        response = client.get(f"/api/key-results/{kr_id}")
        assert response.status_code == 200, kr_id
        check(spec, "/api/key-results/{kr_id}", 200, response.get_json())


def test_api_key_result_history_notes_and_forecast(client: Client) -> None:
    body = client.get("/api/key-results/nps").get_json()
    assert [h["value"] for h in body["history"]] == [v for _, v, _ in NPS_CHECKINS]
    assert [h["note"] for h in body["history"]] == [n for _, _, n in NPS_CHECKINS]
    # least squares through (days, value), extended to the end of the period's last day
    xs = [-d for d, _, _ in NPS_CHECKINS]
    slope, intercept = statistics.linear_regression(xs, [v for _, v, _ in NPS_CHECKINS])
    end = datetime.fromisoformat(body["period"]["end"]).replace(tzinfo=UTC) + timedelta(days=1)
    expected = intercept + slope * ((end - NOW) / timedelta(days=1))
    assert body["forecast"] == pytest.approx(expected, abs=0.05)
    share = client.get("/api/key-results/review-share").get_json()
    assert {s["name"] for s in share["sources"]} == {"approved", "merged"}


def test_api_runs_and_limits(client: Client, spec: dict[str, Any], demo: DemoStore) -> None:
    body = client.get("/api/runs?limit=1").get_json()
    check(spec, "/api/runs", 200, body)
    assert len(body["runs"]) == 1 and body["runs"][0]["outcome"] == "ok"
    assert "config_path" not in body["runs"][0]
    for bad in ("limit=abc", "limit=0", "limit=201"):
        response = client.get(f"/api/runs?{bad}")
        assert response.status_code == 400, bad
        check(spec, "/api/runs", 400, response.get_json())


def response_models() -> dict[str, type[BaseModel]]:
    """The models `sync.documents`, `sync.namespace_documents` and `sync.organization`
    define, by name."""
    return {
        name: value
        for module in (documents, namespace_documents, organization)
        for name, value in vars(module).items()
        if isinstance(value, type)
        and issubclass(value, BaseModel)
        and value.__module__ == module.__name__
    }


def test_every_schema_of_the_document_is_a_response_model_field_for_field(
    spec: dict[str, Any],
) -> None:
    """The schemas are generated from the models the API dumps: a field added to a model,
    or dropped from it, is in the document as it is in the responses, in the same order,
    required, and nothing else is allowed."""
    models = response_models()
    schemas = spec["components"]["schemas"]
    assert schemas["Status"]["enum"] == [status.value for status in Status]
    described = {name: schema for name, schema in schemas.items() if name != "Status"}
    assert {"Objectives", "Objective", "KeyResultSummary", "KeyResult", "Runs", "Error"} <= set(
        described
    )
    for name, schema in described.items():
        fields = list(models[name].model_fields)
        assert list(schema["properties"]) == fields, name
        assert schema["required"] == fields, name
        assert schema["additionalProperties"] is False, name


def test_responses_list_their_keys_in_the_order_the_document_does(
    client: Client, spec: dict[str, Any]
) -> None:
    schemas = spec["components"]["schemas"]
    tree = client.get("/api/objectives").get_json()
    objective = tree["objectives"][0]
    assert list(objective) == list(schemas["Objective"]["properties"])
    assert list(objective["key_results"][0]) == list(schemas["KeyResultSummary"]["properties"])
    detail = client.get("/api/key-results/nps").get_json()
    assert list(detail) == list(schemas["KeyResult"]["properties"])
    assert list(detail["history"][0]) == list(schemas["HistoryEntry"]["properties"])
    run = client.get("/api/runs").get_json()["runs"][0]
    assert list(run) == list(schemas["Run"]["properties"])


def test_status_json_is_the_api_tree_without_depth_and_change(
    client: Client, demo: DemoStore
) -> None:
    """`status --json` and /api/objectives are one document: the API adds each objective's
    `depth` and each key result's `change` at the end, and nothing else differs but the
    store's namespaces `status --json` ends with, which /api/namespaces serves."""
    tree = client.get("/api/objectives").get_json()
    for objective in tree["objectives"]:
        del objective["depth"]
        for kr in objective["key_results"]:
            del kr["change"]
    status = status_document(demo.store).model_dump(mode="json")
    assert status.pop("namespaces") == client.get("/api/namespaces").get_json()["namespaces"]
    assert json.dumps(status) == json.dumps(tree)


def test_unknown_ids_and_bad_requests_get_4xx_without_a_traceback(
    client: Client, spec: dict[str, Any], demo: DemoStore
) -> None:
    response = client.get("/api/key-results/no-such-kr")
    assert response.status_code == 404
    check(spec, "/api/key-results/{kr_id}", 404, response.get_json())
    cases = [
        ("GET", "/key-results/no-such-kr", 404),
        ("GET", "/key-results/..%2F..%2Fetc%2Fpasswd", 404),
        ("GET", "/nowhere", 404),
        ("GET", "/api/nowhere", 404),
        ("GET", "/?owner=" + "x" * 500, 400),
        ("POST", "/", 405),
        ("DELETE", "/api/key-results/nps", 405),
        ("GET", "/key-results/%ff%fe", 404),
    ]
    for method, url, status in cases:
        response = client.open(url, method=method)
        body = response.get_data(as_text=True)
        assert response.status_code == status, (method, url, response.status_code)
        assert "Traceback" not in body and 'File "' not in body


def test_no_secret_or_internal_path_in_any_page(demo: DemoStore, sandbox: Sandbox) -> None:
    settings = demo.settings.model_copy(
        update={
            "notify": demo.settings.notify.model_copy(
                update={"webhook_url": SecretStr("https://hooks.example/T0/B0/s3cr3t")}
            )
        }
    )
    client = Client(make_dashboard_app(demo.store, settings))
    urls = ["/", "/runs", "/openapi.json", "/api/objectives", "/api/runs", "/nowhere"]
    for o in demo_objectives():
        for kr in o["key_results"]:  # type: ignore[attr-defined]
            urls += [f"/key-results/{kr['id']}", f"/api/key-results/{kr['id']}"]
    secrets = [
        SANDBOX_JIRA_TOKEN,
        SANDBOX_GITHUB_TOKEN,
        "s3cr3t",
        demo.database_url,
        str(demo.mapping_path.parent),
        "okrsync.db",
    ]
    for url in urls:
        body = client.get(url).get_data(as_text=True)
        for secret in secrets:
            assert secret not in body, (url, secret)


def test_security_headers_and_bearer_token(demo: DemoStore) -> None:
    settings = demo.settings.model_copy(
        update={
            "dashboard": demo.settings.dashboard.model_copy(
                update={"token": SecretStr("let-me-in")}
            )
        }
    )
    client = Client(make_dashboard_app(demo.store, settings))
    refused = client.get("/api/objectives")
    assert refused.status_code == 401 and refused.headers["WWW-Authenticate"] == "Bearer"
    assert client.get("/", headers={"Authorization": "Bearer wrong"}).status_code == 401
    allowed = client.get("/", headers={"Authorization": "Bearer let-me-in"})
    assert allowed.status_code == 200
    assert "default-src 'none'" in allowed.headers["Content-Security-Policy"]
    assert allowed.headers["X-Content-Type-Options"] == "nosniff"


def test_mounted_under_a_prefix_links_stay_inside_it(demo: DemoStore) -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware
    from werkzeug.wrappers import Response

    app = DispatcherMiddleware(
        Response("other", status=404), {"/okr": make_dashboard_app(demo.store, demo.settings)}
    )
    client = Client(app)
    html = client.get("/okr/").get_data(as_text=True)
    hrefs = re.findall(r'href="([^"]+)"', html)
    local = [h for h in hrefs if h.startswith("/")]
    assert local and all(h.startswith("/okr/") for h in local)
    assert json.loads(client.get("/okr/api/runs").get_data(as_text=True))["runs"]


def test_a_long_history_gives_a_bounded_document_whose_chart_keeps_its_shape(
    big_store: BigStore, spec: dict[str, Any], demo: DemoStore
) -> None:
    client = Client(make_dashboard_app(big_store.store, demo.settings))
    body = client.get("/api/key-results/kr-3").get_json()
    check(spec, "/api/key-results/{kr_id}", 200, body)
    total = big_store.rows_per_key_result
    chart = body["chart"]
    assert (chart["values_total"], chart["downsampled"]) == (total, True)
    assert 0 < len(chart["points"]) <= CHART_POINTS_MAX
    drawn = [(datetime.fromisoformat(p["observed_at"]), p["value"]) for p in chart["points"]]
    assert drawn == sorted(drawn)
    # every day's spike is still drawn, and so are the first and the last value
    for when, value in big_store.spikes():
        assert any(abs((at - when).total_seconds()) < 1 and v == value for at, v in drawn), when
    assert drawn[0][1] == history_value(0) and drawn[-1][1] == history_value(total - 1)
    # the table lists the newest values, and says how many there are
    assert body["history_total"] == total
    assert len(body["history"]) == RECENT_POINTS
    assert [h["value"] for h in body["history"]] == [
        history_value(i) for i in range(total - RECENT_POINTS, total)
    ]
    # the forecast's line runs through every value, not through the points drawn
    days = [(STEP * i) / timedelta(days=1) for i in range(total)]
    slope, intercept = statistics.linear_regression(days, [history_value(i) for i in range(total)])
    end = datetime.combine(PERIOD_END + timedelta(days=1), datetime.min.time(), tzinfo=UTC)
    expected = intercept + slope * ((end - FIRST_AT) / timedelta(days=1))
    assert body["forecast"] == pytest.approx(expected, rel=1e-9)
    assert [s["query"] for s in body["sources"]] == ["project = BIG AND labels = kr-3"]

    page = parse(get_page(client, "/key-results/kr-3"))
    assert len([t for t, _ in page.tags if t == "tr"]) == RECENT_POINTS + 1  # with the header
    text = " ".join(page.text)
    assert f"The newest {RECENT_POINTS} of {total} values" in text
    assert f"{total} values, drawn as {len(chart['points'])}" in text
