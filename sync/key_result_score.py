"""A mapping file's key result scored over its period: its kind and bounds from the file, its
start (baseline) resolved by the caller. Sync, check-ins, backfill and rebuilt baselines all
score this way, so one value gets one status wherever it is computed."""

from __future__ import annotations

from datetime import datetime

from config.mapping import KeyResult
from config.periods import Period
from sync.progress import KeyResultProgress, Target, Thresholds, score


def target_of(kr: KeyResult, start: float | None) -> Target:
    return Target(kind=kr.kind, start=start, target=kr.target, minimum=kr.min, maximum=kr.max)


def score_key_result(
    kr: KeyResult,
    period: Period,
    value: float | None,
    start: float | None,
    *,
    as_of: datetime,
    thresholds: Thresholds,
    failed: bool = False,
) -> KeyResultProgress:
    return score(
        target_of(kr, start),
        value,
        period_start=period.start,
        period_end=period.end,
        as_of=as_of,
        thresholds=thresholds,
        failed=failed,
    )
