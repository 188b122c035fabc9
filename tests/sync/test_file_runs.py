"""A sync of many mapping files (issue 16): one run plans every file's queries together and
fetches what several files ask once, each namespace written in its own transaction with its
own run; objectives align across namespaces and the company's roll-up counts the teams'."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from config.files import load_mapping_files
from config.settings import Settings
from sandbox.server import Sandbox
from sync.cli import main
from sync.daemon import Daemon
from sync.daemon_schedule import file_groups
from sync.records import Listing
from sync.store import Store
from sync.store_errors import RunLockedError
from tests.sync.test_cli import MAPPING, point_at
from tests.sync.test_store import T0, kr_record, objective, run_record

HOSTILE = "<script>alert(1)</script> [bold red]x[/bold red] &amp; \u202e"
COMPANY = f"""
version: 1
period: 2026-Q4
objectives:
  - id: grow
    title: '{HOSTILE}'
    level: company
"""
ALIGNED = MAPPING.replace("    level: company\n", "    level: team\n    parent: company/grow\n")


@pytest.fixture
def org(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    sandbox: Sandbox,
) -> Path:
    """A company file and two teams' files with the same queries, each aligned to it."""
    monkeypatch.chdir(tmp_path)
    point_at(sandbox, monkeypatch)
    folder = tmp_path / "okrs"
    folder.mkdir()
    period = MAPPING.split("period: ", 1)[1].split("\n", 1)[0]
    (folder / "company.yaml").write_text(COMPANY.replace("2026-Q4", period))
    (folder / "platform.yaml").write_text(ALIGNED)
    (folder / "mobile.yml").write_text(
        ALIGNED.replace("title: Deliver faster", f"title: '{HOSTILE}'")
    )
    return folder


def sync_into(
    url: str, config: str, monkeypatch: pytest.MonkeyPatch, *args: str
) -> dict[str, dict[str, float | None]]:
    """Sync `config` into the store at `url`; each namespace's key results' values."""
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", url)
    assert main(["sync", "--config", config, *args]) in (0, 1)
    store = Store(url)
    values = {
        ns: {kr.id: kr.value for kr in store.in_namespace(ns).all_key_results()}
        for ns in store.namespaces()
    }
    store.close()
    return values


def requests_of(url: str) -> dict[str, int]:
    """Every request the store's runs made, by namespace."""
    store = Store(url)
    made = {
        ns: sum(sum(run.requests.values()) for run in store.in_namespace(ns).runs())
        for ns in store.namespaces()
    }
    store.close()
    return made


@pytest.mark.parametrize("incremental", ["true", "false"])
def test_files_synced_together_fetch_shared_queries_once_with_the_same_values(
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    incremental: str,
) -> None:
    monkeypatch.setenv("OKRSYNC_INCREMENTAL__ENABLED", incremental)
    alone: dict[str, dict[str, float | None]] = {}
    alone_requests = 0
    for name in ("platform.yaml", "mobile.yml"):
        url = f"sqlite:///{tmp_path / (name + '.db')}"
        alone |= sync_into(url, str(org / name), monkeypatch)
        alone_requests += sum(requests_of(url).values())
    together_url = f"sqlite:///{tmp_path / 'together.db'}"
    capsys.readouterr()
    together = sync_into(together_url, str(org), monkeypatch)
    out = capsys.readouterr().out
    assert together["platform"] == alone["platform"]
    assert together["mobile"] == alone["mobile"]
    assert any(value is not None for value in together["mobile"].values())
    per_namespace = requests_of(together_url)
    assert sum(per_namespace.values()) < alone_requests
    # Each namespace has its own run, with its own file and its own requests.
    store = Store(together_url)
    runs = {ns: store.in_namespace(ns).runs() for ns in ("company", "mobile", "platform")}
    assert {ns: len(r) for ns, r in runs.items()} == {"company": 1, "mobile": 1, "platform": 1}
    assert runs["mobile"][0].config_path == str(org / "mobile.yml")
    assert per_namespace["mobile"] > 0  # synced first (name order): it fetched
    store.close()
    assert "mobile (" in out and "platform (" in out and "company (" in out
    # The next run of them all: the second file reads what the first brought up to date.
    again = sync_into(together_url, str(org), monkeypatch)
    assert again == together
    store = Store(together_url)
    latest = {ns: store.in_namespace(ns).runs()[0] for ns in ("mobile", "platform")}
    assert sum(latest["platform"].requests.values()) == 0
    store.close()


def test_the_company_objective_rolls_up_its_aligned_team_objectives(
    org: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'org.db'}"
    sync_into(url, str(org), monkeypatch)
    store = Store(url)
    teams = {ns: store.in_namespace(ns).all_objectives() for ns in ("platform", "mobile")}
    quality = {ns: next(o for o in rows if o.id == "quality") for ns, rows in teams.items()}
    assert {o.parent_id for o in quality.values()} == {"company/grow"}
    [grow] = store.in_namespace("company").all_objectives()
    assert quality["platform"].progress is not None
    expected = (quality["platform"].progress + quality["mobile"].progress) / 2
    assert grow.progress == pytest.approx(expected)
    assert grow.title == HOSTILE
    # The company's file synced alone reads the teams' stored progress.
    sync_into(url, str(org / "company.yaml"), monkeypatch)
    [again] = store.in_namespace("company").all_objectives()
    assert again.progress == pytest.approx(expected)
    store.close()
    capsys.readouterr()
    assert main(["status", "--json", "--namespace", "company"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["objectives"][0]["title"] == HOSTILE


def test_a_parent_the_store_knows_must_exist_and_one_it_does_not_is_a_warning(
    org: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'org.db'}"
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", url)
    assert main(["validate", "--config", str(org / "platform.yaml")]) == 0
    out = capsys.readouterr().out
    assert "warning: parent 'company/grow': namespace 'company' is neither" in out
    assert not (tmp_path / "org.db").exists()  # validate creates no store
    sync_into(url, str(org / "company.yaml"), monkeypatch)
    (org / "platform.yaml").write_text(ALIGNED.replace("company/grow", "company/grwo"))
    before = requests_of(url)
    capsys.readouterr()
    assert main(["sync", "--config", str(org / "platform.yaml")]) == 2
    err = capsys.readouterr().err
    assert f"{org / 'platform.yaml'}:" in err
    assert "unknown parent 'company/grwo': the store's namespace 'company' has no objective" in err
    assert requests_of(url) == before  # nothing written


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"web.yaml": "version: 1\nnamespace: mobile\n"}, "namespace 'mobile' is also"),
        ({"company.yaml": COMPANY + "    parent: platform/quality\n"}, "alignment cycle across"),
    ],
)
def test_bad_files_are_refused_whole_with_nothing_written(
    org: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    message: str,
) -> None:
    for name, written in change.items():
        (org / name).write_text(
            written if "objectives" in written else written + ALIGNED.split("\n", 2)[2]
        )
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'org.db'}")
    for command in ("validate", "sync"):
        assert main([command, "--config", str(org)]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "org.db").exists()


def test_an_empty_directory_is_an_error(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    clean_okrsync_env: None,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "none").mkdir()
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'org.db'}")
    monkeypatch.setenv("OKRSYNC_CONFIG", str(tmp_path / "none"))
    assert main(["sync"]) == 2
    assert "no mapping files (*.yaml, *.yml) in this directory" in capsys.readouterr().err
    assert not (tmp_path / "org.db").exists()


def test_only_names_key_results_of_several_files_by_namespace(
    org: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite:///{tmp_path / 'org.db'}"
    values = sync_into(url, str(org / "*.yaml"), monkeypatch, "--only", "platform/p1-bugs")
    assert list(values) == ["platform"]
    assert [kr for kr, value in values["platform"].items() if value is not None] == ["p1-bugs"]
    other = tmp_path / "other.db"
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{other}")
    assert main(["sync", "--config", str(org), "--only", "p1-bugs"]) == 2
    assert "name each as NAMESPACE/ID" in capsys.readouterr().err
    assert not other.exists()


def test_a_run_of_many_files_holds_each_namespaces_lock(database_url: str) -> None:
    store = Store(database_url)
    store.migrate()
    with store.run_locks(["platform", "mobile", "platform"]):
        for namespace in ("mobile", "platform"):
            with (
                pytest.raises(
                    RunLockedError, match=namespace if store.dialect == "postgresql" else None
                ),
                store.in_namespace(namespace).run_lock(),
            ):
                pass
        if store.dialect == "postgresql":
            with store.in_namespace("company").run_lock():  # a namespace not in the run
                pass
    with store.run_locks(["mobile", "platform"]):  # released: taken again
        pass
    store.close()


def test_0010_keeps_a_0009_stores_parents_and_takes_a_qualified_one(database_url: str) -> None:
    """`namespace/id` is up to 64 + 1 + 64 characters: wider than the 100 of 0009, which
    PostgreSQL would refuse, failing the whole run."""
    store = Store(database_url)
    store.migrate("0009")
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO objectives (namespace, cycle, id, title, parent_id, weight,"
                " position, status, demo) VALUES ('team', '2026-10-01..2026-12-31', 'sub',"
                " 'Sub', 'top', 1.0, 0, 'no_data', :no)"
            ),
            {"no": False},
        )
    store.migrate()
    team = store.in_namespace("team")
    assert [(o.id, o.parent_id) for o in team.all_objectives()] == [("sub", "top")]
    parent = f"{'c' * 64}/{'g' * 64}"
    record = replace(objective(), parent_id=parent)
    team.write_run(run_record(T0), [record], [kr_record(3)])
    assert {o.parent_id for o in team.all_objectives() if o.id == "quality"} == {parent}
    store.close()


def test_the_objectives_aligned_from_other_namespaces_are_read_exactly(database_url: str) -> None:
    """`co_x/` is matched as written: `_` is no wildcard, and the namespace's own rows and
    retired ones are left out."""
    store = Store(database_url)
    store.migrate()
    for namespace, parent in [("web", "co_x/quality"), ("api", "coAx/quality"), ("co_x", None)]:
        record = replace(objective(), parent_id=parent)
        store.in_namespace(namespace).write_run(run_record(T0), [record], [kr_record(3)])
    company = store.in_namespace("co_x").in_cycle(store.in_namespace("co_x").cycle)
    assert [(o.namespace, o.parent_id) for o in company.aligned_from_other_namespaces()] == [
        ("web", "co_x/quality")
    ]
    store.in_namespace("web").write_run(
        run_record(T0 + timedelta(hours=1)),
        [],
        [],
        listing=Listing(frozenset(), frozenset(), frozenset({company.cycle or ""})),
    )
    assert company.aligned_from_other_namespaces() == []  # retired: no longer counted
    store.close()


def test_a_dry_run_of_many_files_shows_each_and_writes_nothing(
    org: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'org.db'}")
    capsys.readouterr()
    assert main(["sync", "--config", str(org), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert out.count("Dry run: nothing was written.") == 3
    assert "p1-bugs: - ->" in out
    assert not (tmp_path / "org.db").exists()


def test_validate_checks_every_files_connections(
    org: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (org / "mobile.yml").write_text(
        ALIGNED.replace("jql: project = WEB}", "jql: 'project = = WEB'}")
    )
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", f"sqlite:///{tmp_path / 'org.db'}")
    capsys.readouterr()
    assert main(["validate", "--config", str(org), "--check-connections"]) == 2
    out = capsys.readouterr().out
    for name, namespace in [("company.yaml", "company"), ("mobile.yml", "mobile")]:
        assert f"{org / name}: OK, namespace {namespace}," in out
    failed = [line for line in out.splitlines() if "FAILED" in line]
    assert failed and all(line.startswith(f"{org / 'mobile.yml'}:") for line in failed)
    assert "(key result web-done): FAILED" in failed[0]
    assert not (tmp_path / "org.db").exists()


@pytest.mark.parametrize("shares_work", [False, True])
def test_a_daemon_pass_syncs_the_team_files_before_the_company_file_they_align_to(
    org: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, shares_work: bool
) -> None:
    """As `sync` does, so the company's roll-up counts the teams' progress of the same pass,
    however the replica's pass is shuffled (here: the company's name first)."""
    url = f"sqlite:///{tmp_path / 'by-sync.db'}"
    sync_into(url, str(org), monkeypatch)
    by_sync = Store(url)
    [expected] = by_sync.in_namespace("company").all_objectives()
    by_sync.close()
    assert expected.progress is not None

    url = f"sqlite:///{tmp_path / 'by-daemon.db'}"
    monkeypatch.setenv("OKRSYNC_DATABASE_URL", url)
    daemon = Daemon(Settings(), org, every_s=60.0, host="127.0.0.1", port=0)
    daemon.shares_work = shares_work
    daemon.claims.order = lambda items: sorted(items, key=lambda f: f.namespace)  # type: ignore[method-assign]
    daemon.store = Store(url)
    try:
        daemon.store.migrate()
        files = load_mapping_files(org).files
        assert files[0].namespace == "company"  # in the directory's order, the company first
        groups = file_groups(files, 60.0)
        daemon.schedule.apply(groups)
        daemon.sync(list(groups), files)
        [grow] = daemon.store.in_namespace("company").all_objectives()
        assert grow.progress == pytest.approx(expected.progress)
    finally:
        daemon.store.close()
