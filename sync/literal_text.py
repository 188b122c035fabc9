"""Text from people and trackers, shown as it is: never read as markup, never as control codes.

Titles, units, notes and tracker error messages are not ours. In a terminal, rich markup in
them (`[/v1]`, `[link=...]`) would be interpreted or crash the view, and control characters
(ESC, BEL, OSC 8 hyperlinks, `\\r`) would drive the terminal; in a text log, a newline would
forge a log line. `printable` replaces every such character with a visible stand-in of the
same length, and `LiteralConsole` applies it to everything it prints.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from rich.console import Console, ConsoleOptions, RenderableType
from rich.segment import Segment
from rich.text import Text

# Line and column breaks become a space: the text stays on its line.
_BREAKS = "\t\n\v\f\r\x85\u2028\u2029"
# Other C0 controls and DEL show as their Unicode control pictures (ESC as ␛, BEL as ␇).
_C0_PICTURES = {code: 0x2400 + code for code in range(0x20)} | {0x7F: 0x2421}
# C1 controls and the bidirectional overrides that reorder what is shown have no picture.
_UNSHOWABLE = [*range(0x80, 0xA0), *range(0x202A, 0x202F), *range(0x2066, 0x206A)]

_PRINTABLE = str.maketrans(
    _C0_PICTURES | dict.fromkeys(_UNSHOWABLE, "\ufffd") | dict.fromkeys(map(ord, _BREAKS), " ")
)


def printable(text: str) -> str:
    """`text` with no character a terminal or a log reader would act on; same length, so
    styled spans over it stay where they were."""
    return text.translate(_PRINTABLE)


def printable_lines(text: str) -> list[str]:
    """`text` cut at its newlines, each line printable: for our messages of several lines (one
    problem a line, a traceback), where anything a line quotes stays on that line."""
    return [printable(line) for line in text.split("\n")]


class LiteralConsole(Console):
    """A rich Console that prints every string and Text literally: no markup, no emoji codes,
    no highlighting, and control characters through `printable`. Styles are given as
    `style=` or with `Text`, never inside the text. A line break inside a Text is shown as a
    space too: several lines are several renderables (a `Group`, several prints)."""

    def __init__(self, **options: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **options)

    def render(
        self, renderable: RenderableType, options: ConsoleOptions | None = None
    ) -> Iterable[Segment]:
        if isinstance(renderable, str):
            renderable = printable(renderable)
        elif isinstance(renderable, Text):
            shown = renderable.copy()
            shown.plain = printable(renderable.plain)
            renderable = shown
        return super().render(renderable, options)
