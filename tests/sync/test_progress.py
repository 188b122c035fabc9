"""The progress model: scoring each kind, status boundaries, roll-up."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from sync.progress import (
    KeyResultProgress,
    ObjectiveNode,
    ObjectiveProgress,
    Target,
    Thresholds,
    expected_progress,
    roll_up,
    score,
)

# A ten-day period makes elapsed shares easy: each day is 0.1.
START = date(2026, 10, 1)
END = date(2026, 10, 10)


DEFAULT_THRESHOLDS = Thresholds()


def day(offset_days: float) -> datetime:
    """A moment `offset_days` after the period starts (midnight UTC of START)."""
    return datetime(2026, 10, 1, tzinfo=UTC) + timedelta(days=offset_days)


def scored(
    target: Target,
    value: float | None,
    at_day: float,
    *,
    thresholds: Thresholds = DEFAULT_THRESHOLDS,
    failed: bool = False,
) -> KeyResultProgress:
    return score(
        target,
        value,
        period_start=START,
        period_end=END,
        as_of=day(at_day),
        thresholds=thresholds,
        failed=failed,
    )


# --- expected progress ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("at_day", "expected"),
    [(-3, 0.0), (0, 0.0), (2.5, 0.25), (5, 0.5), (9, 0.9), (10, 1.0), (12, 1.0)],
)
def test_expected_progress_is_the_elapsed_share_with_the_end_date_inclusive(
    at_day: float, expected: float
) -> None:
    assert expected_progress(START, END, day(at_day)) == pytest.approx(expected)


def test_expected_progress_of_a_one_day_period_and_other_time_zones() -> None:
    noon_utc_in_paris = datetime.fromisoformat("2026-10-01T14:00:00+02:00")
    assert expected_progress(START, START, noon_utc_in_paris) == pytest.approx(0.5)
    assert expected_progress(START, START, datetime(2026, 10, 1, 18)) == pytest.approx(0.75)


def test_period_ending_before_it_starts_is_refused() -> None:
    with pytest.raises(ValueError, match="before it starts"):
        expected_progress(END, START, day(1))


# --- linear -----------------------------------------------------------------------------

UP = Target("linear", start=10, target=110)  # 1 unit of progress = 100 units of value
DOWN = Target("linear", start=40, target=5)  # lower is better


def test_linear_progress_is_the_share_of_the_way_from_start_to_target() -> None:
    result = scored(UP, 60, at_day=5)
    assert result == KeyResultProgress(0.5, 0.5, 0.5, "on_track")


def test_linear_lower_is_better() -> None:
    result = scored(DOWN, 26, at_day=5)  # (26 - 40) / (5 - 40) = 14 / 35 = 0.4
    assert result.progress_raw == pytest.approx(0.4)
    assert result.status == "at_risk"  # 0.4 / 0.5 = 0.8: between 0.6 and 0.9
    assert scored(DOWN, 5, at_day=5).status == "done"
    assert scored(DOWN, 3, at_day=5).progress_raw == pytest.approx(37 / 35)


def test_linear_raw_leaves_zero_to_one_but_progress_is_clamped() -> None:
    over = scored(UP, 130, at_day=5)
    assert over.progress_raw == pytest.approx(1.2)
    assert over.progress == 1.0
    assert over.status == "done"
    backwards = scored(DOWN, 47, at_day=5)  # moved the wrong way
    assert backwards.progress_raw == pytest.approx(-0.2)
    assert backwards.progress == 0.0
    assert backwards.status == "off_track"


@pytest.mark.parametrize(
    ("value", "status"),
    [
        (110, "done"),  # raw exactly 1
        (109, "on_track"),  # 0.99 >= 0.5 * 0.9
        (55, "on_track"),  # 0.45 == 0.5 * 0.9: the boundary is on track
        (54, "at_risk"),  # 0.44 < 0.45
        (40, "at_risk"),  # 0.30 == 0.5 * 0.6: the boundary is at risk
        (39, "off_track"),  # 0.29 < 0.30
    ],
)
def test_linear_status_boundaries_halfway_through(value: float, status: str) -> None:
    assert scored(UP, value, at_day=5).status == status


def test_linear_is_on_track_while_nothing_is_expected_yet() -> None:
    assert scored(UP, 10, at_day=0) == KeyResultProgress(0.0, 0.0, 0.0, "on_track")
    assert scored(DOWN, 50, at_day=-1).status == "on_track"


def test_linear_thresholds_are_configurable() -> None:
    strict = Thresholds(on_track=1.0, at_risk=0.95)
    assert scored(UP, 55, at_day=5, thresholds=strict).status == "off_track"  # 0.45 < 0.475
    assert scored(UP, 58, at_day=5, thresholds=strict).status == "at_risk"  # 0.48
    assert scored(UP, 60, at_day=5, thresholds=strict).status == "on_track"


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValueError, match="at_risk <= on_track"):
        Thresholds(on_track=0.5, at_risk=0.8)


def test_linear_without_start_counts_from_zero() -> None:
    result = scored(Target("linear", start=None, target=50), 20, at_day=5)
    assert result.progress_raw == pytest.approx(0.4)


def test_linear_with_start_equal_to_target_is_done_once_met() -> None:
    flat = Target("linear", start=5, target=5)
    assert scored(flat, 5, at_day=5) == KeyResultProgress(1.0, 1.0, 0.5, "done")
    assert scored(flat, 6, at_day=5).status == "done"
    unmet = scored(flat, 4, at_day=5)
    assert (unmet.progress, unmet.status) == (0.0, "on_track")
    assert scored(flat, 4, at_day=10).status == "off_track"


def test_linear_without_target_is_refused() -> None:
    with pytest.raises(ValueError, match="needs 'target'"):
        scored(Target("linear", start=0, target=None), 3, at_day=5)


# --- no data, error, baseline, unknown kind ---------------------------------------------


def test_no_value_is_no_data() -> None:
    assert scored(UP, None, at_day=5) == KeyResultProgress(None, None, 0.5, "no_data")


def test_failed_fetch_is_error_and_keeps_the_last_good_progress() -> None:
    assert scored(UP, 60, at_day=5, failed=True) == KeyResultProgress(0.5, 0.5, 0.5, "error")
    assert scored(UP, None, at_day=5, failed=True).status == "error"


def test_baseline_records_no_progress() -> None:
    baseline = Target("baseline", start=None, target=None)
    assert scored(baseline, 42, at_day=5) == KeyResultProgress(None, None, 0.5, "baseline")


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown key-result kind 'linaer'"):
        scored(Target("linaer", start=0, target=1), 1, at_day=5)


# --- stay_above, stay_below, band -------------------------------------------------------


def test_stay_above_is_on_track_while_held_and_done_at_period_end() -> None:
    floor = Target("stay_above", start=None, target=99.5)
    assert scored(floor, 99.5, at_day=5) == KeyResultProgress(1.0, 1.0, 0.5, "on_track")
    assert scored(floor, 99.4, at_day=5) == KeyResultProgress(0.0, 0.0, 0.5, "off_track")
    assert scored(floor, 99.9, at_day=10).status == "done"
    assert scored(floor, 90, at_day=10).status == "off_track"


def test_stay_below_is_on_track_while_held() -> None:
    ceiling = Target("stay_below", start=None, target=3)
    assert scored(ceiling, 3, at_day=5) == KeyResultProgress(1.0, 1.0, 0.5, "on_track")
    assert scored(ceiling, 4, at_day=5) == KeyResultProgress(0.0, 0.0, 0.5, "off_track")
    assert scored(ceiling, 0, at_day=11).status == "done"


BAND = Target("band", start=None, target=None, minimum=20, maximum=30)


@pytest.mark.parametrize("value", [20, 25, 30])
def test_band_inside_including_edges_is_on_track(value: float) -> None:
    assert scored(BAND, value, at_day=5) == KeyResultProgress(1.0, 1.0, 0.5, "on_track")
    assert scored(BAND, value, at_day=10).status == "done"


@pytest.mark.parametrize(
    ("value", "progress"),
    [(18, 0.8), (35, 0.5), (40, 0.0), (10, 0.0)],  # 1 - distance / width(10)
)
def test_band_outside_shrinks_with_distance(value: float, progress: float) -> None:
    result = scored(BAND, value, at_day=5)
    assert result.progress == pytest.approx(progress)
    assert result.status == "off_track"


def test_band_far_outside_has_negative_raw_progress() -> None:
    assert scored(BAND, 50, at_day=5).progress_raw == pytest.approx(-1.0)


def test_band_needs_its_bounds_in_order() -> None:
    with pytest.raises(ValueError, match="needs 'maximum'"):
        scored(Target("band", start=None, target=None, minimum=1), 1, at_day=5)
    with pytest.raises(ValueError, match="above its maximum"):
        scored(Target("band", start=None, target=None, minimum=5, maximum=1), 3, at_day=5)


def test_zero_width_band() -> None:
    exact = Target("band", start=None, target=None, minimum=7, maximum=7)
    assert scored(exact, 7, at_day=5).status == "on_track"
    assert scored(exact, 7.5, at_day=5).progress == 0.0


# --- milestone --------------------------------------------------------------------------

MILESTONE = Target("milestone", start=None, target=None)


@pytest.mark.parametrize(
    ("value", "at_day", "status"),
    [
        (1, 2, "done"),
        (1, 12, "done"),
        (0, 0, "on_track"),
        (0, 8.9, "on_track"),  # expected 0.89 < on_track 0.9
        (0, 9, "at_risk"),  # expected 0.9
        (0, 9.9, "at_risk"),
        (0, 10, "off_track"),  # the period is over
    ],
)
def test_milestone(value: float, at_day: float, status: str) -> None:
    result = scored(MILESTONE, value, at_day=at_day)
    assert result.status == status
    assert result.progress == (1.0 if value >= 1 else 0.0)


# --- roll-up ----------------------------------------------------------------------------


def kr(
    progress: float | None, status: str = "on_track", expected: float = 0.5
) -> KeyResultProgress:
    return KeyResultProgress(progress, None if progress is None else progress, expected, status)


def test_roll_up_is_the_weighted_mean_of_key_results() -> None:
    node = ObjectiveNode("quality", None, 1.0, [(1.0, kr(0.2)), (3.0, kr(0.6))])
    result = roll_up([node], thresholds=Thresholds())
    # (1 * 0.2 + 3 * 0.6) / 4 = 0.5
    assert result["quality"].progress == pytest.approx(0.5)
    assert result["quality"].status == "on_track"


def test_roll_up_leaves_out_key_results_without_progress_and_clamps_the_rest() -> None:
    node = ObjectiveNode(
        "quality",
        None,
        1.0,
        [
            (1.0, KeyResultProgress(1.5, 1.5, 0.5, "done")),  # counted as 1.0
            (1.0, kr(0.0, "off_track")),
            (5.0, kr(None, "baseline")),
            (5.0, kr(None, "no_data")),
            (5.0, kr(None, "error")),  # failed before it ever had a value
        ],
    )
    result = roll_up([node], thresholds=Thresholds())
    assert result["quality"] == ObjectiveProgress(0.5, "on_track", 0.5)


def test_roll_up_counts_a_failed_key_result_at_its_last_good_progress() -> None:
    node = ObjectiveNode(
        "quality",
        None,
        1.0,
        [(1.0, kr(0.2)), (3.0, KeyResultProgress(0.6, 0.6, 0.5, "error"))],
    )
    result = roll_up([node], thresholds=Thresholds())
    assert result["quality"].progress == pytest.approx(0.5)  # (0.2 + 3 * 0.6) / 4
    # a team whose every key result failed still stands where their last values put it
    failed = [(1.0, KeyResultProgress(p, p, 0.5, "error")) for p in (0.3, 0.6, 0.9)]
    team = roll_up([ObjectiveNode("team", None, 1.0, failed)], thresholds=Thresholds())
    assert team["team"] == ObjectiveProgress(pytest.approx(0.6), "on_track", 0.5)


def test_roll_up_takes_aligned_children_in_with_their_weight_recursively() -> None:
    nodes = [
        ObjectiveNode("company", None, 1.0, [(1.0, kr(1.0, "done", 0.8))]),
        ObjectiveNode(
            "team",
            "company",
            2.0,
            [(1.0, kr(0.4, "off_track", 0.8)), (1.0, kr(0.8, "on_track", 0.8))],
        ),
        ObjectiveNode("person", "team", 1.0, [(1.0, kr(0.0, "off_track", 0.8))]),  # 0.0
        ObjectiveNode("empty", "company", 10.0, [(1.0, kr(None, "no_data", 0.8))]),
    ]
    result = roll_up(nodes, thresholds=Thresholds())
    assert result["person"] == ObjectiveProgress(0.0, "off_track", 0.8)
    # team: KRs 0.4 and 0.8, plus person (weight 1) at 0.0 -> (0.4 + 0.8 + 0.0) / 3 = 0.4
    assert result["team"].progress == pytest.approx(0.4)
    assert result["team"].status == "off_track"  # 0.4 < 0.8 * 0.6 = 0.48
    assert result["empty"] == ObjectiveProgress(None, "no_data")
    # company: its KR at 1.0 (weight 1) and team at 0.4 (weight 2); empty has no progress
    assert result["company"].progress == pytest.approx((1.0 + 2 * 0.4) / 3)  # 0.6
    assert result["company"].status == "at_risk"  # 0.6 / 0.8 = 0.75


def test_roll_up_order_of_nodes_does_not_matter_and_done_needs_all() -> None:
    nodes = [
        ObjectiveNode("child", "parent", 1.0, [(1.0, kr(1.0, "done"))]),
        ObjectiveNode("parent", None, 1.0, []),
    ]
    result = roll_up(nodes, thresholds=Thresholds())
    assert result["parent"] == ObjectiveProgress(1.0, "done", 0.5)
    assert result["child"] == ObjectiveProgress(1.0, "done", 0.5)


@pytest.mark.parametrize("listed", ["top_down", "bottom_up"])
def test_roll_up_of_a_1000_deep_alignment_chain(listed: str) -> None:
    # o0 <- o1 <- ... <- o999; only the deepest has a key result, and it carries every level
    nodes = [ObjectiveNode(f"o{i}", f"o{i - 1}" if i else None, 1.0, []) for i in range(1000)]
    nodes[-1].key_results.append((1.0, kr(0.3, "off_track", 0.8)))
    result = roll_up(nodes if listed == "top_down" else nodes[::-1], thresholds=Thresholds())
    assert len(result) == 1000
    assert result["o0"] == ObjectiveProgress(pytest.approx(0.3), "off_track", pytest.approx(0.8))
    assert result["o500"] == result["o0"]


def test_roll_up_refuses_an_alignment_cycle() -> None:
    nodes = [ObjectiveNode("a", "b", 1.0, []), ObjectiveNode("b", "a", 1.0, [])]
    with pytest.raises(ValueError, match="is its own ancestor"):
        roll_up(nodes, thresholds=Thresholds())


def test_roll_up_judges_each_key_result_against_its_own_period() -> None:
    # one key result of a period three tenths gone, at 0.2: at risk (0.2 / 0.3 = 0.67)
    alone = ObjectiveNode("adoption", None, 1.0, [(1.0, kr(0.2, "at_risk", 0.3))])
    assert roll_up([alone], thresholds=Thresholds())["adoption"] == ObjectiveProgress(
        0.2, "at_risk", 0.3
    )
    # weights 1 and 3, expected 0.9 and 0.1: the objective expects (0.9 + 0.3) / 4 = 0.3
    mixed = ObjectiveNode(
        "mixed", None, 1.0, [(1.0, kr(0.3, "off_track", 0.9)), (3.0, kr(0.2, "on_track", 0.1))]
    )
    result = roll_up([mixed], thresholds=Thresholds())["mixed"]
    assert result.expected == pytest.approx(0.3)
    assert result.progress == pytest.approx(0.225)  # (0.3 + 0.6) / 4
    assert result.status == "at_risk"  # 0.225 / 0.3 = 0.75


def test_roll_up_is_done_only_when_every_entry_is_done() -> None:
    held = ObjectiveNode("ops", None, 1.0, [(1.0, KeyResultProgress(1.0, 1.0, 0.5, "on_track"))])
    assert roll_up([held], thresholds=Thresholds())["ops"].status == "on_track"


def test_roll_up_of_an_objective_with_nothing_measured_is_no_data() -> None:
    result = roll_up([ObjectiveNode("o", None, 1.0, [])], thresholds=Thresholds())
    assert result == {"o": ObjectiveProgress(None, "no_data")}
