"""The trackers' records of the past, as backfill and the period's-start baselines read
them: one `SelectorHistory` per distinct selector (`connectors.history`), or why there is
none, and what a fetch would have returned at a moment."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from connectors.base import Connector, ConnectorError, Selector
from connectors.history import HistoryReader, SelectorHistory, Unrebuildable
from sync.fetch import FetchOutcome, FetchResults
from sync.kept_values import definition_of
from sync.plan import KeyResultPlan, QueryPlan
from sync.records import FrozenScope

CANNOT = "{source}: this connector cannot rebuild history"


@dataclass(frozen=True)
class Missing:
    """Why a selector has no history: a limit of the tracker's records, or a failure."""

    reason: str
    failure: bool = False


History = SelectorHistory | Missing


def histories_of(
    plan: QueryPlan, connectors: dict[str, Connector | ConnectorError], since: datetime
) -> dict[Selector, History]:
    """One history per distinct selector, asked of each tracker once per set of needs."""
    wanted: dict[tuple[str, frozenset[str]], list[Selector]] = {}
    for selector, needs in plan.item_fetches.items():
        wanted.setdefault((selector.source, needs), []).append(selector)
    for selector in plan.count_fetches:
        wanted.setdefault((selector.source, frozenset()), []).append(selector)
    found: dict[Selector, History] = {}
    for (source, needs), selectors in sorted(wanted.items(), key=lambda kv: kv[0][0]):
        connector = connectors.get(source)
        if isinstance(connector, ConnectorError) or connector is None:
            failed = Missing(f"{source}: {connector or 'not configured'}", failure=True)
            found |= dict.fromkeys(selectors, failed)
            continue
        if not isinstance(connector, HistoryReader):
            found |= dict.fromkeys(selectors, Missing(CANNOT.format(source=source)))
            continue
        try:
            answers = connector.history(selectors, since, needs)
        except ConnectorError as exc:
            found |= dict.fromkeys(selectors, Missing(f"{source}: {exc}", failure=True))
            continue
        for selector, answer in answers.items():
            found[selector] = (
                Missing(answer.reason) if isinstance(answer, Unrebuildable) else answer
            )
    return found


def items_then(
    plan: KeyResultPlan, histories: dict[Selector, History], moment: datetime
) -> FetchResults:
    """What a fetch would have returned at `moment`, from the histories."""
    fetched = FetchResults()
    for metric in plan.metric_plans:
        history = histories[metric.selector]
        assert not isinstance(history, Missing)
        fetched.items[metric.selector] = FetchOutcome(items=history.items_at(moment))
    return fetched


def first_missing(
    plan: KeyResultPlan, histories: dict[Selector, History]
) -> tuple[Selector, Missing] | None:
    """The first of a key result's selectors without a history, and why; None when all have."""
    for metric in plan.metric_plans:
        history = histories[metric.selector]
        if isinstance(history, Missing):
            return metric.selector, history
    return None


def scope_then(
    plan: KeyResultPlan, histories: dict[Selector, History], moment: datetime
) -> FrozenScope:
    """The items the key result's selector matched at `moment`, kept for its definition."""
    assert plan.metric is not None
    items = items_then(plan, histories, moment).items[plan.metric.selector].items or []
    return FrozenScope(moment, definition_of(plan), tuple(items))
