"""The organization as one tree (issue 16): `status` on a store of several namespaces shows
the company's objective at the top and the teams' aligned objectives under it, each row
named `namespace/id`; a namespace nothing aligns with is a root of the same tree;
`status --json --namespace '*'` is that tree as JSON, with namespaces and qualified parents;
`--namespace N` still shows one; the dashboard's `?namespace=*` (page and API) is the same
tree, each row linking into its namespace. Hostile titles in every namespace, against the sandbox."""

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
from tests.sync.test_file_runs import ALIGNED, COMPANY, HOSTILE

PLATFORM = "Platform <b>fast</b> [red]p[/red] \x1b[31m"
OPS = "Ops <img src=x onerror=alert(1)> [link]o"
JIRA_MESSAGE = "<svg onload=alert(1)> [red]jql refused[/red]"


@pytest.fixture
def org(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    sandbox: Sandbox,
    capsys: pytest.CaptureFixture[str],
) -> Iterator[Store]:
    """company; platform and mobile aligned to it; `aaa-ops` (first by name) aligned to
    nothing. All synced together, then mobile's p1-bugs failed on its own run."""
    monkeypatch.chdir(tmp_path)
    point_at(sandbox, monkeypatch)
    url = f"sqlite:///{tmp_path / 'okrsync.db'}"
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", url)
    folder = tmp_path / "okrs"
    folder.mkdir()
    period = MAPPING.split("period: ", 1)[1].split("\n", 1)[0]
    (folder / "company.yaml").write_text(COMPANY.replace("2026-Q4", period))
    (folder / "platform.yaml").write_text(
        ALIGNED.replace("title: Deliver faster", f"title: {json.dumps(PLATFORM)}")
    )
    (folder / "mobile.yaml").write_text(
        ALIGNED.replace("title: Deliver faster", f"title: '{HOSTILE}'")
    )
    (folder / "aaa-ops.yaml").write_text(
        MAPPING.replace("title: Ship a product customers trust", f"title: '{OPS}'")
    )
    assert main(["sync", "--config", str(folder)]) == 0
    sandbox.faults.arm("/jira/", faults.jql_error(JIRA_MESSAGE), times=None)
    try:
        assert main(["sync", "--config", str(folder / "mobile.yaml"), "--only", "p1-bugs"]) == 1
    finally:
        sandbox.faults.reset()
    capsys.readouterr()
    store = Store(url)
    yield store
    store.close()


def _out(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    capsys.readouterr()
    assert main(list(argv)) == 0
    return capsys.readouterr().out


def _in_order(out: str, *names: str) -> bool:
    """Whether each name shows after the one before it."""
    found = [re.search(rf"(?m)(^| ){re.escape(name)}( |$)", out) for name in names]
    places = [-1 if match is None else match.start() for match in found]
    return -1 not in places and places == sorted(places)


def _indent(out: str, name: str) -> int:
    """How deep the row naming `name` (`  namespace/id` after its title) sits."""
    [line] = [
        line
        for line in out.splitlines()
        if line.rstrip().endswith(f"  {name}") or f"  {name}  " in line
    ]
    return len(line) - len(line.lstrip())


def test_status_shows_one_tree_company_at_the_top_teams_under_it(
    org: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    out = _out(capsys, "status")
    assert out.count("OKR status, every namespace") == 1
    assert _in_order(
        out,
        "company/grow",
        "mobile/quality",
        "mobile/delivery",
        "platform/quality",
        "platform/delivery",
        "aaa-ops/quality",  # aligned to nothing: a root, after the company's tree
        "aaa-ops/delivery",
    )
    assert _indent(out, "mobile/quality") == 3 and _indent(out, "platform/quality") == 3
    assert _indent(out, "mobile/p1-bugs") == 5 and _indent(out, "aaa-ops/quality") == 1
    for title in ("<script>alert(1)</script> [bold red]x[/bold red]", OPS, PLATFORM[:33]):
        assert title in out  # as written: no markup, no escaping
    assert "\x1b" not in out
    # The company's progress rests on mobile's failed fetch, named across namespaces.
    assert out.count("! stale inputs: mobile/p1-bugs") == 2  # company/grow, mobile/quality
    assert "failed mobile/p1-bugs: " in out and JIRA_MESSAGE in out
    headings = re.findall(r"^Namespace (\S+), [^:]+: last run #\d+ at .*: (\w+),", out, re.M)
    assert headings == [
        ("aaa-ops", "ok"),
        ("company", "ok"),
        ("mobile", "failed"),
        ("platform", "ok"),
    ]
    one = _out(capsys, "status", "--namespace", "platform")
    assert "every namespace" not in one and "company/grow" not in one
    assert "<script>" not in one and PLATFORM[:33] in one and "Last run #" in one


def test_an_objective_filter_follows_alignment_across_namespaces(
    org: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    below = _out(capsys, "status", "--objective", "company/grow")
    assert _in_order(below, "company/grow", "mobile/quality", "platform/delivery")
    assert "aaa-ops/" not in below.split("\nNamespace ", 1)[0]
    team = _out(capsys, "status", "--objective", "platform/quality")
    assert "platform/delivery" in team and "company/grow" not in team and "mobile/" not in team
    capsys.readouterr()
    assert main(["status", "--objective", "company/grwo"]) == 2
    assert "unknown objective 'company/grwo'" in capsys.readouterr().err


def test_status_json_of_every_namespace_is_one_tree_with_qualified_parents(
    org: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    document = json.loads(_out(capsys, "status", "--json", "--namespace", "*"))
    rows = [(o["depth"], o["ref"], o["parent"]) for o in document["objectives"]]
    assert rows[:5] == [
        (0, "company/grow", None),
        (1, "mobile/quality", "company/grow"),
        (2, "mobile/delivery", "mobile/quality"),
        (1, "platform/quality", "company/grow"),
        (2, "platform/delivery", "platform/quality"),
    ]
    assert rows[5:] == [(0, "aaa-ops/quality", None), (1, "aaa-ops/delivery", "aaa-ops/quality")]
    grow = document["objectives"][0]
    assert (grow["namespace"], grow["title"]) == ("company", HOSTILE)
    assert grow["stale_inputs"] == ["mobile/p1-bugs"]
    assert document["objectives"][2]["title"] == HOSTILE
    assert sorted(document["periods"]) == ["aaa-ops", "company", "mobile", "platform"]
    assert [n["name"] for n in document["namespaces"]] == sorted(document["periods"])
    # Without '*', the contract of one namespace stands: the newest sync's, ids alone.
    one = json.loads(_out(capsys, "status", "--json"))
    assert one["namespace"] == "mobile" and "ref" not in one["objectives"][0]
    assert one["objectives"][0]["parent"] == "company/grow"


def test_the_organization_of_an_empty_store_says_so(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    assert "No key results in the store yet" in _out(capsys, "status", "--namespace", "*")
    document = json.loads(_out(capsys, "status", "--json", "--namespace", "*"))
    assert document == {"objectives": [], "periods": {}, "namespaces": []}


# --- the dashboard ---------------------------------------------------------------------------


@pytest.fixture
def client(org: Store) -> Client:
    settings = Settings(_env_file=None, database_url=org.url)  # type: ignore[call-arg]
    return Client(make_dashboard_app(org, settings))


def test_the_dashboard_shows_every_namespace_as_one_tree(client: Client) -> None:
    page = client.get("/?namespace=*").get_data(as_text=True)
    assert 'id="namespace-shown" data-namespace="*"' in page
    assert '<option value="*" selected>' in page
    shown = re.findall(r'<li class="objective[^"]*" id="objective-([^"]+)"', page)
    assert shown == [
        "company/grow",
        "mobile/quality",
        "mobile/delivery",
        "platform/quality",
        "platform/delivery",
        "aaa-ops/quality",
        "aaa-ops/delivery",
    ]
    # Nested: mobile's objective sits in the list under the company's.
    grow = page.index('id="objective-company/grow"')
    assert page.index("<ul>", grow) < page.index('id="objective-mobile/quality"')
    assert 'href="/key-results/p1-bugs?namespace=mobile"' in page  # each link into its own
    assert 'href="/key-results/p1-bugs?namespace=aaa-ops"' in page
    assert 'data-key-result="platform/p1-bugs"' in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; [bold red]x[/bold red] &amp;amp;" in page
    assert "Ops &lt;img src=x onerror=alert(1)&gt; [link]o" in page
    assert "<script>" not in page and "<img" not in page and "<b>fast" not in page
    assert 'href="/runs" class="' in page  # runs are a namespace's: the current one's
    assert 'href="/?namespace=%2A" class="' in page  # the top bar stays on the tree
    one = client.get("/?namespace=platform").get_data(as_text=True)
    assert 'href="/?namespace=%2A">every namespace as one tree</a>' in one
    assert 'id="objective-quality"' in one and "company/grow" not in one


def test_the_api_serves_the_organization_tree_as_the_openapi_says(client: Client) -> None:
    spec: dict[str, Any] = client.get("/openapi.json").get_json()
    validate_spec(spec)
    tree = client.get("/api/objectives?namespace=*").get_json()
    check(spec, "/api/objectives", 200, tree)
    assert [(o["ref"], o["parent"], o["depth"]) for o in tree["objectives"]][:3] == [
        ("company/grow", None, 0),
        ("mobile/quality", "company/grow", 1),
        ("mobile/delivery", "mobile/quality", 2),
    ]
    assert tree["objectives"][0]["stale_inputs"] == ["mobile/p1-bugs"]
    one = client.get("/api/objectives?namespace=platform").get_json()
    check(spec, "/api/objectives", 200, one)
    assert one["namespace"] == "platform" and "ref" not in one["objectives"][0]
    below = client.get("/api/objectives?namespace=*&objective=platform/quality").get_json()
    assert [o["ref"] for o in below["objectives"]] == ["platform/quality", "platform/delivery"]
    missing = client.get("/api/objectives?namespace=*&period=2019-Q1")
    assert missing.status_code == 404
    check(spec, "/api/objectives", 404, missing.get_json())


def test_the_report_shows_the_organization_as_one_tree(
    org: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    """`report` in Markdown and HTML on a store of several namespaces is the organization's
    tree (as `status` in a terminal); JSON keeps one namespace's shape unless asked for
    `--namespace '*'`."""
    markdown = _out(capsys, "report", "--format", "md")
    assert markdown.startswith("# OKR report: every namespace")
    headings = re.findall(r"^(#+) .* · (\S+)$", markdown, re.M)
    assert [ref for _, ref in headings][:3] == ["company/grow", "mobile/quality", "mobile/delivery"]
    depth = {ref: len(marks) for marks, ref in headings}
    assert depth["company/grow"] == 2 and depth["mobile/quality"] == 3
    assert depth["aaa-ops/quality"] == 2  # aligned to nothing: a root
    assert "(mobile/p1-bugs)" in markdown and "(platform/p1-bugs)" in markdown
    assert "<script>" not in markdown and "\x1b" not in markdown
    html = _out(capsys, "report", "--format", "html")
    assert "every namespace, as one tree" in html and "<script>alert" not in html
    assert 'class="muted objective-ref">platform/quality<' in html
    document = json.loads(_out(capsys, "report", "--format", "json", "--namespace", "*"))
    assert document["namespace"] == "*" and set(document["periods"]) == {
        "aaa-ops",
        "company",
        "mobile",
        "platform",
    }
    by_ref = {obj["ref"]: obj for obj in document["objectives"]}
    assert by_ref["mobile/quality"]["parent"] == "company/grow"
    assert by_ref["mobile/delivery"]["parent"] == "mobile/quality"
    assert by_ref["aaa-ops/quality"]["parent"] is None
    one = json.loads(_out(capsys, "report", "--format", "json"))
    assert one["namespace"] == "mobile" and "periods" not in one  # the newest sync's
