"""One incremental sync for a run of many mapping files (issue 16).

Team files with overlapping queries, synced together (`run_files`), must cost the trackers
what one file holding all their key results costs: the fetch units planned over every
file's plan, the cache loaded once, each tracker asked once what changed. The reference
for the requests is that one file synced alone (differential); the reference for every
value is a full fetch with no cache at all, also after issues move and close.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import text

from bench.changes import touch_items
from bench.namespaces import team_files
from config.files import LoadedMapping, load_mapping_files
from config.loader import load_mapping_text
from config.mapping import MappingFile
from sandbox.server import Sandbox
from sync.daemon import Daemon
from sync.daemon_schedule import file_groups
from sync.engine import run_sync
from sync.file_runs import run_files
from sync.store import Store
from sync.store_errors import StoreError
from tests.sync.test_incremental import (
    counted,
    full_run,
    settings,
    small_company_text,
    small_sandbox,
    values,
)

TEAMS = 3
PER_TEAM = 24  # of 50 key results, a window 16 after the previous team's: they overlap


@dataclass
class Organization:
    """Team files and the one file of all their key results, each synced into its own store."""

    box: Sandbox
    files: list[LoadedMapping]
    union: MappingFile
    together: Store
    alone: Store
    as_of: datetime

    def sync_together(self) -> tuple[int, dict[str, float | None]]:
        """The team files in one run: the requests the sandbox counted, each key result's
        value (the same key result in several files must agree)."""
        counted(self.box)
        runs = run_files(
            settings(self.box, self.together.url), self.files, self.together, as_of=self.as_of
        )
        made = sum(counted(self.box).values())
        assert sum(sum(run.report.requests.values()) for run in runs) == made
        found: dict[str, float | None] = {}
        for run in runs:
            for kr, value in values(run.report).items():
                assert found.setdefault(kr, value) == value, kr
        return made, found

    def sync_alone(self) -> tuple[int, dict[str, float | None]]:
        """The one file of all their key results."""
        counted(self.box)
        report = run_sync(
            settings(self.box, self.alone.url), self.union, self.alone, as_of=self.as_of
        )
        return sum(counted(self.box).values()), values(report)

    def full(self) -> dict[str, float | None]:
        return full_run(self.box, self.union, self.as_of)


@pytest.fixture
def organization(tmp_path: Path) -> Iterator[Organization]:
    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    box = small_sandbox(5, "cloud", yesterday)
    today = datetime.now(UTC).date()
    company = small_company_text(today)
    folder = tmp_path / "okrs"
    folder.mkdir()
    texts = team_files(company, TEAMS, PER_TEAM)
    for name, written in texts.items():
        (folder / f"{name}.yaml").write_text(written)
    files = load_mapping_files(folder, today=today).files
    read = {
        kr["id"]
        for written in texts.values()
        for o in yaml.safe_load(written)["objectives"]
        for kr in o["key_results"]
    }
    document = yaml.safe_load(company)
    for objective in document["objectives"]:
        objective["key_results"] = [kr for kr in objective["key_results"] if kr["id"] in read]
    document["objectives"] = [o for o in document["objectives"] if o["key_results"]]
    union = load_mapping_text(yaml.safe_dump(document), source_name="union", today=today)
    stores = [Store(f"sqlite:///{tmp_path / name}.db") for name in ("together", "alone")]
    for store in stores:
        store.migrate()
    try:
        yield Organization(box, files, union, *stores, as_of=datetime.now(UTC))
    finally:
        for store in stores:
            store.close()
        box.stop()


def test_files_synced_together_cost_what_one_file_of_their_key_results_costs(
    organization: Organization,
) -> None:
    org = organization
    assert len(org.files) == TEAMS
    first_together, together = org.sync_together()
    first_alone, alone = org.sync_alone()
    reference = org.full()
    assert together == alone == reference
    assert first_together == first_alone  # units one plan of them all merges: fetched once

    second_together, together = org.sync_together()
    second_alone, alone = org.sync_alone()
    assert together == reference
    assert second_together == second_alone  # one probe, one membership check per tracker

    data = org.box.jira_data
    moved_at = datetime.now(UTC).replace(microsecond=0)
    for issue in [i for i in data.issues if i.project == "APP" and i.status_category != "done"][:4]:
        data.move(issue, "WEB", moved_at)
    touch_items(org.box, 0.05, seed=3)  # resolve, move, delete, create, merge, close, ...
    third_together, together = org.sync_together()
    third_alone, alone = org.sync_alone()
    after = org.full()
    assert together == alone == after
    assert after != reference  # the changes moved some values: the check has teeth
    assert third_together == third_alone


def test_a_file_failing_later_loses_none_of_the_cache_the_earlier_files_wrote(
    organization: Organization, tmp_path: Path
) -> None:
    """Each file's transaction writes what was answered by then: the last file's failed
    write loses only its own answers, so the next run costs what it costs after a run of
    the earlier files alone."""
    org = organization
    last = org.files[-1].namespace
    with org.together.engine.begin() as conn:  # the store refuses the last file's run
        conn.execute(
            text(
                "CREATE TRIGGER refuse AFTER INSERT ON sync_runs"
                f" WHEN NEW.namespace = '{last}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
        )
    with pytest.raises(StoreError):
        org.sync_together()
    with org.together.engine.begin() as conn:
        conn.execute(text("DROP TRIGGER refuse"))
    retried, found = org.sync_together()

    earlier = Store(f"sqlite:///{tmp_path / 'earlier.db'}")
    earlier.migrate()
    try:
        reference = replace(org, files=org.files[:-1], together=earlier)
        reference.sync_together()
        after_earlier, _ = replace(reference, files=org.files).sync_together()
    finally:
        earlier.close()
    assert retried == after_earlier
    assert found == org.full()


def daemon_pass(org: Organization, daemon: Daemon) -> tuple[int, dict[str, float | None]]:
    """One daemon pass over the team files (a new one-second slot for each: none is fresh):
    the requests the sandbox counted, each key result's stored value. The daemon's runs
    are as of their own time, so ages (mean open PR age) agree to a few seconds' worth."""
    time.sleep(1.05)
    counted(org.box)
    groups = file_groups(org.files, EVERY_S)
    daemon.schedule.apply(groups)
    daemon.sync(list(groups), org.files)
    made = sum(counted(org.box).values())
    assert daemon.store is not None
    found: dict[str, float | None] = {}
    for file in org.files:
        rows = daemon.store.in_namespace(file.namespace).all_key_results()
        assert all(row.last_error is None for row in rows), rows
        for row in rows:
            assert agree({row.id: found.setdefault(row.id, row.value)}, {row.id: row.value})
    return made, found


EVERY_S = 1.0


def agree(found: dict[str, float | None], reference: dict[str, float | None]) -> bool:
    """The same key results, each value equal (to 1e-4 relative: ages move with the clock)."""
    return found.keys() == reference.keys() and all(
        (a is None) == (b is None) and (a is None or b is None or math.isclose(a, b, rel_tol=1e-4))
        for a, b in ((found[kr], reference[kr]) for kr in found)
    )


def test_a_daemon_pass_over_the_files_costs_what_their_sync_costs(
    organization: Organization, tmp_path: Path
) -> None:
    """The daemon syncs the files one by one, each under its own lock, yet plans its pass
    over all of them as `sync` does: a query several files read fetched once, each tracker
    asked once what changed."""
    org = organization
    url = f"sqlite:///{tmp_path / 'daemon.db'}"
    daemon = Daemon(settings(org.box, url), tmp_path, every_s=EVERY_S, host="127.0.0.1", port=0)
    daemon.store = Store(url)
    try:
        daemon.store.migrate()
        first_sync, together = org.sync_together()
        first_pass, by_daemon = daemon_pass(org, daemon)
        assert together == org.full()
        assert agree(by_daemon, together)
        assert first_pass == first_sync

        second_sync, _ = org.sync_together()
        second_pass, by_daemon = daemon_pass(org, daemon)
        assert agree(by_daemon, together)
        assert second_pass == second_sync

        touch_items(org.box, 0.05, seed=5)
        third_sync, together = org.sync_together()
        third_pass, by_daemon = daemon_pass(org, daemon)
        assert together == org.full()
        assert agree(by_daemon, together)
        assert third_pass == third_sync
    finally:
        daemon.store.close()
