"""Views across namespaces (issue 16): `status` shows every namespace (one tree, then each
namespace's last run) and
`status --json` lists them; the dashboard takes `?namespace=` (404 when unknown), keeps it
in its links, lists the namespaces with their last run and failures; reports name the
namespace. Two teams' files with the same ids and hostile titles, synced into one store
against the sandbox; mobile's run failed."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from werkzeug.test import Client

from config.settings import Settings
from sandbox import faults
from sandbox.server import Sandbox
from sync.cli import main
from sync.dashboard import make_dashboard_app
from sync.store import Store
from tests.sync.test_cli import MAPPING, point_at
from tests.sync.test_dashboard import check, validate_spec
from tests.sync.webhooks import Receiver

TITLES = {
    "platform": ("Platform <script>alert(1)</script> [bold]p[/bold]", "P1 <b>bugs</b> & [red]x"),
    "mobile": ("Mobile <img src=x onerror=alert(1)> [link]m", "Crashes <i>&amp;</i> [/]"),
}
JIRA_MESSAGE = "<svg onload=alert(1)> [red]jql refused[/red]"


def _team_file(name: str) -> str:
    objective, key_result = TITLES[name]
    return MAPPING.replace(
        "title: Ship a product customers trust", f"title: {json.dumps(objective)}"
    ).replace("title: Open P1 bugs in APP", f"title: {json.dumps(key_result)}")


@pytest.fixture
def org(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Store]:
    """platform synced fine; then mobile's run, whose every Jira query was refused."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'okrsync.db'}")
    point_at(sandbox, monkeypatch)
    for name in TITLES:
        (tmp_path / f"{name}.yaml").write_text(_team_file(name))
    assert main(["sync", "--config", "platform.yaml", "--only", "p1-bugs"]) == 0
    sandbox.faults.reset()
    sandbox.faults.arm("/jira/", faults.jql_error(JIRA_MESSAGE), times=None)
    try:
        assert main(["sync", "--config", "mobile.yaml", "--only", "p1-bugs"]) == 1
    finally:
        sandbox.faults.reset()
    capsys.readouterr()
    store = Store(f"sqlite:///{tmp_path / 'okrsync.db'}")
    yield store
    store.close()


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


# --- status ----------------------------------------------------------------------------------


def test_status_shows_every_namespace_in_one_tree_and_each_run_in_name_order(
    org: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _out(capsys, "status")
    headings = re.findall(r"^Namespace (\S+), [^:]+: last run #(\d) at .*: (\w+),", out, re.M)
    assert headings == [("mobile", "2", "failed"), ("platform", "1", "ok")]
    for objective, key_result in TITLES.values():  # as written: no markup, no escaping
        assert objective in out and key_result in out
    assert "failed mobile/p1-bugs: " in out and JIRA_MESSAGE in out
    assert "stale inputs: mobile/p1-bugs" in out
    assert "failed platform/p1-bugs" not in out  # platform's fetch did not fail
    assert "stale inputs: platform/" not in out
    one = _out(capsys, "status", "--namespace", "platform")
    assert "Namespace " not in one and TITLES["platform"][0] in one
    assert TITLES["mobile"][0] not in one and "mobile" not in one
    assert "Last run #1 " in one


def test_status_json_keeps_its_shape_and_lists_every_namespace(
    org: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(_out(capsys, "status", "--json"))
    assert document["namespace"] == "mobile"  # the newest sync's, as before
    assert document["objectives"][0]["title"] == TITLES["mobile"][0]
    mobile, platform = document["namespaces"]
    assert (mobile["name"], mobile["current"], platform["name"]) == ("mobile", True, "platform")
    assert mobile["last_run"]["outcome"] == "failed"
    assert mobile["last_run"]["key_results_failed"] == 1
    assert any(JIRA_MESSAGE in m for m in mobile["last_run"]["errors"]["jira"])
    assert mobile["failing"] == ["mobile/p1-bugs"]
    assert platform["last_run"]["outcome"] == "ok" and platform["failing"] == []
    scoped = json.loads(_out(capsys, "status", "--json", "--namespace", "platform"))
    assert scoped["namespace"] == "platform"
    assert scoped["namespaces"] == document["namespaces"]


# --- the dashboard ---------------------------------------------------------------------------


@pytest.fixture
def client(org: Store) -> Client:
    settings = Settings(_env_file=None, database_url=org.url)  # type: ignore[call-arg]
    return Client(make_dashboard_app(org, settings))


@pytest.fixture
def spec(client: Client) -> dict[str, Any]:
    document: dict[str, Any] = client.get("/openapi.json").get_json()
    validate_spec(document)
    return document


def test_pages_show_the_namespace_asked_for_and_their_links_keep_it(client: Client) -> None:
    page = client.get("/?namespace=platform").get_data(as_text=True)
    assert 'id="namespace-shown" data-namespace="platform"' in page
    assert '<option value="platform" selected>platform</option>' in page
    assert '<option value="mobile">mobile</option>' in page
    assert 'href="/key-results/p1-bugs?namespace=platform"' in page
    assert 'href="/runs?namespace=platform"' in page
    assert "Platform &lt;script&gt;alert(1)&lt;/script&gt; [bold]p[/bold]" in page
    assert "<script>" not in page and "Mobile" not in page
    current = client.get("/").get_data(as_text=True)  # the newest sync's, named in its links
    assert 'data-namespace="mobile"' in current
    assert 'href="/key-results/p1-bugs?namespace=mobile"' in current
    assert "Mobile &lt;img src=x onerror=alert(1)&gt; [link]m" in current
    assert "<img" not in current
    detail = client.get("/key-results/p1-bugs?namespace=platform").get_data(as_text=True)
    assert 'data-namespace="platform"' in detail and "platform/p1-bugs" in detail
    assert 'href="/?namespace=platform"' in detail
    assert "P1 &lt;b&gt;bugs&lt;/b&gt; &amp; [red]x" in detail
    runs = client.get("/runs?namespace=platform").get_data(as_text=True)
    assert 'data-run="1"' in runs and 'data-run="2"' not in runs
    for shown in (page, detail, runs):  # the top bar stays in the namespace too
        assert 'href="/?namespace=platform" class="' in shown
        assert 'href="/runs?namespace=platform" class="' in shown


def test_the_namespaces_page_lists_each_with_its_last_run_and_failures(client: Client) -> None:
    page = client.get("/namespaces").get_data(as_text=True)
    rows = re.findall(r'<tr data-namespace="([^"]+)">(.*?)</tr>', page, re.S)
    assert [name for name, _ in rows] == ["mobile", "platform"]
    mobile, platform = (row for _, row in rows)
    assert '<span class="status error">failed</span>' in mobile
    assert "jira: " in mobile and "&lt;svg onload=alert(1)&gt; [red]jql refused[/red]" in mobile
    assert 'href="/key-results/p1-bugs?namespace=mobile">mobile/p1-bugs</a>' in mobile
    assert '<span class="status done">ok</span>' in platform and "p1-bugs" not in platform
    assert "<svg" not in page


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/runs",
        "/key-results/p1-bugs",
        "/api/objectives",
        "/api/runs",
        "/api/key-results/p1-bugs",
    ],
)
def test_an_unknown_namespace_is_a_404_naming_those_there_are(
    client: Client, spec: dict[str, Any], path: str
) -> None:
    response = client.get(f"{path}?namespace=<b>team</b>")
    assert response.status_code == 404
    said = "no namespace '<b>team</b>' in the store (in the store: mobile, platform)"
    if path.startswith("/api/"):
        template = "/api/key-results/{kr_id}" if "key-results" in path else path
        check(spec, template, 404, response.get_json())
        assert response.get_json()["error"]["message"] == f"'namespace': {said}"
    else:
        page = response.get_data(as_text=True)
        assert "no namespace &#39;&lt;b&gt;team&lt;/b&gt;&#39;" in page and "<b>team" not in page


def test_the_api_documents_carry_the_namespace(client: Client, spec: dict[str, Any]) -> None:
    tree = client.get("/api/objectives?namespace=platform").get_json()
    check(spec, "/api/objectives", 200, tree)
    assert tree["namespace"] == "platform"
    assert tree["objectives"][0]["title"] == TITLES["platform"][0]
    detail = client.get("/api/key-results/p1-bugs?namespace=platform").get_json()
    check(spec, "/api/key-results/{kr_id}", 200, detail)
    assert (detail["namespace"], detail["title"]) == ("platform", TITLES["platform"][1])
    assert client.get("/api/key-results/p1-bugs").get_json()["namespace"] == "mobile"
    runs = client.get("/api/runs?namespace=platform").get_json()
    check(spec, "/api/runs", 200, runs)
    assert [(run["id"], run["namespace"]) for run in runs["runs"]] == [(1, "platform")]
    listed = client.get("/api/namespaces").get_json()
    check(spec, "/api/namespaces", 200, listed)
    assert [(n["name"], n["last_run"]["outcome"], n["failing"]) for n in listed["namespaces"]] == [
        ("mobile", "failed", ["mobile/p1-bugs"]),
        ("platform", "ok", []),
    ]
    assert spec["paths"]["/api/objectives"]["get"]["parameters"][-2]["name"] == "namespace"


# --- reports ---------------------------------------------------------------------------------


def test_reports_name_the_namespace_and_each_key_result_in_it(
    org: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(_out(capsys, "report", "--format", "json", "--namespace", "platform"))
    assert document["namespace"] == "platform"
    [kr] = [kr for o in document["objectives"] for kr in o["key_results"] if kr["id"] == "p1-bugs"]
    assert (kr["ref"], kr["title"]) == ("platform/p1-bugs", TITLES["platform"][1])
    markdown = _out(capsys, "report", "--format", "md", "--namespace", "mobile")
    assert markdown.startswith("# OKR report: mobile\n")
    assert "(mobile/p1-bugs) |" in markdown
    assert (
        "<img" not in markdown
        and "## Mobile &lt;img src=x onerror=alert(1)&gt; \\[link\\]m\n" in markdown
    )
    html = _out(capsys, "report", "--format", "html", "--namespace", "mobile")
    assert '<span id="namespace-shown">mobile</span>' in html
    assert '<span class="muted kr-ref">mobile/p1-bugs</span>' in html
    assert "<img" not in html


# --- the digest ------------------------------------------------------------------------------


def test_the_digest_names_the_namespace_of_its_run(
    org: Store, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    receiver = Receiver()
    try:
        monkeypatch.setenv("OKRSYNC_NOTIFY__WEBHOOK_URL", receiver.url)
        monkeypatch.setenv("OKRSYNC_NOTIFY__FORMAT", "json")
        assert main(["sync", "--config", "mobile.yaml", "--only", "p1-bugs"]) == 0  # recovered
        [digest] = receiver.received
        assert (digest["run"]["id"], digest["run"]["namespace"]) == (3, "mobile")
        [change] = digest["changes"]
        assert (change["namespace"], change["key_result"]) == ("mobile", "p1-bugs")
        assert change["title"] == TITLES["mobile"][1] and change["reasons"] == ["status_changed"]
        monkeypatch.setenv("OKRSYNC_NOTIFY__FORMAT", "slack")
        sandbox.faults.arm("/jira/", faults.jql_error(JIRA_MESSAGE), times=None)
        try:
            assert main(["sync", "--config", "platform.yaml", "--only", "p1-bugs"]) == 1
        finally:
            sandbox.faults.reset()
        text = receiver.received[1]["text"]
        assert text.startswith("okr-sync run #4 (platform): 1 key result changed\n")
        assert "P1 &lt;b&gt;bugs&lt;/b&gt; &amp; [red]x (platform/p1-bugs): failed: " in text
        assert "&lt;svg onload=alert(1)&gt;" in text and "<svg" not in text
    finally:
        receiver.close()
