"""A daemon pass over several mapping files, costing the trackers what `sync` of those files
costs (`sync.file_runs`): one plan over the files' due key results, a shared answer for a
query several files ask, one incremental cache asking each tracker once what changed.

Unlike `sync`, the daemon syncs the files one by one as it gets each namespace's run lock,
leaves a namespace a peer holds, and skips key results another replica synced in this slot:
a file synced in part or not at all has its other reads marked done, so the answers and
cache entries it would have read are let go as `sync` lets them go.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from config.files import LoadedMapping
from config.settings import Settings
from sync.engine import SyncReport, run_sync
from sync.file_runs import shared_fetching
from sync.incremental_run import RunCache
from sync.plan import QueryPlan, plan_queries
from sync.shared_answers import SharedAnswers
from sync.store import Store


def only_of(file: LoadedMapping, ids: Sequence[str]) -> list[str] | None:
    """What to sync of `file`: None when `ids` are all its key results (a whole run)."""
    every_id = [kr.id for _, kr in file.mapping.key_results()]
    return None if sorted(ids) == sorted(every_id) else list(ids)


@dataclass
class DaemonPass:
    """The files due in one pass, with the answers and the cache they share."""

    settings: Settings
    shared: SharedAnswers
    cache: RunCache | None
    plans: dict[str, QueryPlan]  # by namespace: what each file was due to read
    made: dict[str, QueryPlan] = field(default_factory=dict)

    @classmethod
    def begin(
        cls, settings: Settings, store: Store, due: Sequence[tuple[LoadedMapping, list[str]]]
    ) -> DaemonPass:
        """Plan the due key results of every file (`due`: each file with its due ids)."""
        began = datetime.now(UTC)
        plans = {
            file.namespace: plan_queries(file.mapping, today=began.date(), only=only_of(file, ids))
            for file, ids in due
        }
        shared, cache = shared_fetching(settings, list(plans.values()), store, began)
        return cls(settings, shared, cache, plans)

    def run(self, file: LoadedMapping, store: Store, only: list[str] | None) -> SyncReport:
        """Sync `file` (its namespace's lock held) on the pass's answers and cache."""
        return run_sync(
            self.settings,
            file.mapping,
            store,
            only=only,
            config_path=str(file.path),
            connectors=self.shared.connectors(),
            cache=self.cache,
            plan_ready=lambda plan: self.made.__setitem__(file.namespace, plan),
        )

    def file_done(self, file: LoadedMapping) -> None:
        """`file` was synced, in part, or not at all: let go of what it no longer reads."""
        planned = self.plans.pop(file.namespace, None)
        if planned is None:
            return
        self.shared.file_done(planned)
        if self.cache is not None:
            self.cache.not_read(planned, self.made.pop(file.namespace, None))
