"""Placeholders: four names and nothing else, with no format-string machinery behind them."""

from __future__ import annotations

from datetime import date

import pytest

from config.periods import parse_period
from config.placeholders import PlaceholderError, expand

PERIOD = parse_period("2026-Q4")
TODAY = date(2026, 11, 20)


def run(text: str) -> str:
    return expand(text, period=PERIOD, today=TODAY)


def test_the_four_placeholders() -> None:
    assert run("merged:{period}") == "merged:2026-10-01..2026-12-31"
    assert run('resolved >= "{period.start}"') == 'resolved >= "2026-10-01"'
    assert run('resolved <= "{period.end}"') == 'resolved <= "2026-12-31"'
    assert run("updated:<{today}") == "updated:<2026-11-20"
    assert run("{period.start}{period.end}") == "2026-10-012026-12-31"


def test_text_without_braces_is_unchanged() -> None:
    assert run("project = APP AND status = 'In Progress'") == (
        "project = APP AND status = 'In Progress'"
    )


def test_doubled_braces_are_literal() -> None:
    assert run("{{period}}") == "{period}"
    assert run("a {{ b }} {today}") == "a { b } 2026-11-20"


@pytest.mark.parametrize(
    "name",
    [
        "__class__",
        "0",
        "period.__init__",
        "period.start.__class__",
        "period[0]",
        "today!r",
        "period:>30",
        "",
        "Period",
        " period",
        "period.label",
    ],
)
def test_anything_else_is_refused_by_name(name: str) -> None:
    with pytest.raises(PlaceholderError) as info:
        run(f"x {{{name}}} y")
    message = str(info.value)
    assert f"'{{{name}}}'" in message
    assert "{period}, {period.start}, {period.end}, {today}" in message


@pytest.mark.parametrize("text", ["{period", "period}", "{ {period} }", "a { b", "}{", "{{period}"])
def test_unbalanced_braces(text: str) -> None:
    with pytest.raises(PlaceholderError, match="unbalanced"):
        run(text)
