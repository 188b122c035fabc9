"""A sync of many mapping files: one plan across the files, one transaction per namespace.

The files are synced one after another, each into its own namespace with its own
`sync_runs` row (`run_sync`), on connectors whose answers they share
(`sync.shared_answers`): what several files ask is fetched once. With the incremental cache
on, the run has one (`sync.incremental_run.RunCache`): its fetch units planned over every
file's plan, loaded once, each tracker asked once what changed. A file whose objectives
align to another's (`parent: company/x`) is synced before it, so the parent's roll-up reads
the child's progress of this run from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from config.files import LoadedMapping
from config.settings import Settings
from sync.connections import build_connectors
from sync.engine import SyncReport, run_sync
from sync.incremental_run import RunCache
from sync.plan import QueryPlan, plan_queries
from sync.shared_answers import SharedAnswers
from sync.store import Store


@dataclass(frozen=True)
class FileRun:
    """One file's part of the run: its file and what its sync did."""

    file: LoadedMapping
    report: SyncReport


def aligned_order(
    files: Sequence[LoadedMapping], *, keep_order: bool = False
) -> list[LoadedMapping]:
    """The files with each one after the files aligned to it (children before parents), by
    namespace name otherwise (in the order given, with `keep_order`). Namespaces may align
    both ways without a cycle of objectives; then the first left goes first and that parent
    reads the other's stored rows."""
    rank = {file.namespace: index if keep_order else 0 for index, file in enumerate(files)}
    by_namespace = {file.namespace: file for file in files}
    waits_for: dict[str, set[str]] = {ns: set() for ns in by_namespace}
    for file in files:
        for objective in file.mapping.objectives:
            external = file.mapping.external_parent(objective)
            if external is not None and external[0] in by_namespace:
                waits_for[external[0]].add(file.namespace)
    ordered: list[LoadedMapping] = []
    left = dict(waits_for)
    while left:
        ready = [ns for ns, children in left.items() if not children & left.keys()]
        chosen = min(ready or left, key=lambda ns: (rank[ns], ns))
        ordered.append(by_namespace[chosen])
        del left[chosen]
    return ordered


def shared_fetching(
    settings: Settings, plans: Sequence[QueryPlan], store: Store | None, began: datetime
) -> tuple[SharedAnswers, RunCache | None]:
    """What the files of one run (or one daemon pass) fetch through: the trackers' answers
    shared by the plans, and, with a store and incremental sync on, one cache planned over
    them all."""
    sources = {
        m.selector.source for plan in plans for kr in plan.key_results for m in kr.metric_plans
    }
    shared = SharedAnswers(build_connectors(settings, sources), plans)
    cache = None
    if store is not None and settings.incremental.enabled:
        cache = RunCache(store, settings.incremental, began, run_began=began)
        cache.plan(plans, shared.connectors())
    return shared, cache


def run_files(
    settings: Settings,
    files: Sequence[LoadedMapping],
    store: Store | None,
    *,
    dry_run: bool = False,
    only: dict[str, list[str]] | None = None,
    as_of: datetime | None = None,
    on_file: Callable[[LoadedMapping, QueryPlan], None] | None = None,
    on_fetch_done: Callable[[str], None] | None = None,
) -> list[FileRun]:
    """Sync every file, aligned files first; `only`: by namespace, the key results to sync
    (a file not named is left out). The caller holds the namespaces' run locks."""
    began = datetime.now(UTC)
    today = (as_of or began).date()
    chosen = [f for f in aligned_order(files) if only is None or f.namespace in only]
    plans = [
        plan_queries(f.mapping, today=today, only=None if only is None else only[f.namespace])
        for f in chosen
    ]
    shared, cache = shared_fetching(settings, plans, store, began)
    runs: list[FileRun] = []
    for file, plan in zip(chosen, plans, strict=True):
        if on_file is not None:
            on_file(file, plan)
        report = run_sync(
            settings,
            file.mapping,
            store.in_namespace(file.namespace) if store is not None else None,
            only=None if only is None else only[file.namespace],
            dry_run=dry_run,
            config_path=str(file.path),
            as_of=as_of,
            on_fetch_done=on_fetch_done,
            connectors=shared.connectors(),
            cache=cache,
        )
        shared.file_done(plan)
        runs.append(FileRun(file, report))
    return runs
