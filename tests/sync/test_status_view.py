"""Numbers as the views show them: every digit shown is in the value."""

from __future__ import annotations

import pytest

from sync.presentation import format_number


@pytest.mark.parametrize(
    ("value", "unit", "shown"),
    [
        (None, "h", "-"),
        (40.0, None, "40"),
        (12.345, "h", "12.3 h"),
        (87.5, "%", "87.5%"),
        (2.0**53 - 1, None, "9,007,199,254,740,991"),  # the last integer a float holds exactly
        (123456789012345678901234.0, "USD", "1.23456789012346e+23 USD"),
        (-1e30, None, "-1e+30"),
        (float("inf"), None, "inf"),
    ],
)
def test_format_number_shows_only_digits_the_value_has(
    value: float | None, unit: str | None, shown: str
) -> None:
    assert format_number(value, unit) == shown
