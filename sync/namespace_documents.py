"""The documents of the store's namespaces (`status --json`'s `namespaces`, the dashboard
API's /api/namespaces): each mapping file's namespace with its last run and what failed."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from sync.document_fields import ClosedDocument, Count, Moment
from sync.namespace_standing import NamespaceStanding, namespace_standings, qualified
from sync.store import Store


class LastRun(ClosedDocument):
    """A namespace's newest sync run, in brief."""

    id: int
    finished_at: Moment
    outcome: Literal["ok", "partial", "failed"]
    key_results_total: Count
    key_results_failed: Count
    errors: dict[str, list[str]] = Field(description="error messages, by source")


class NamespaceSummary(ClosedDocument):
    """A namespace of the store: a mapping file's, with its last run and what failed."""

    name: str
    current: bool = Field(description="the one shown unless asked: the newest sync's")
    last_run: LastRun | None = Field(description="null before its first run")
    failing: list[str] = Field(
        description="key results of its current cycle whose last fetch failed, as "
        "`namespace/id`; their values are the last good ones"
    )


class Namespaces(ClosedDocument):
    """Every namespace of the store, in name order."""

    namespaces: list[NamespaceSummary]


def namespaces_document(store: Store) -> Namespaces:
    """Every namespace of the store with its last run and failing key results."""
    return Namespaces(namespaces=[_namespace_summary(each) for each in namespace_standings(store)])


def _namespace_summary(standing: NamespaceStanding) -> NamespaceSummary:
    run = standing.last_run
    return NamespaceSummary(
        name=standing.name,
        current=standing.current,
        last_run=None
        if run is None
        else LastRun(
            id=run.id,
            finished_at=run.finished_at,
            outcome=run.outcome,
            key_results_total=run.key_results_total,
            key_results_failed=run.key_results_failed,
            errors=run.errors,
        ),
        failing=[qualified(standing.name, kr_id) for kr_id in standing.failing],
    )
