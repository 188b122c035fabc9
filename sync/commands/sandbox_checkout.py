"""Where `demo` and `sandbox` find the sandbox: in the source checkout, never in the
installed package (the wheel and the image hold only config, connectors and sync).

From a checkout (`python run.py`, `make demo`, a `pip install -e` install) the `sandbox/`
folder sits beside `sync/`; installed from the wheel it does not, and the command says what
to do instead of failing on an import."""

from __future__ import annotations

import sys
from pathlib import Path

from sync.commands.command import UsageError

CHECKOUT = Path(__file__).resolve().parents[2]


def import_path_to_sandbox(command: str) -> None:
    """Put the checkout on the import path so that `import sandbox` finds its sandbox, or
    raise a usage error naming `command` when there is no checkout here."""
    if not (CHECKOUT / "sandbox" / "server.py").is_file():
        raise UsageError(
            f"{command}: the sandbox is not installed here: it comes with okr-sync's source "
            "checkout, not with the package. Clone the repository and run "
            f"`make {command}` in it (it sets up its own .venv)"
        )
    if str(CHECKOUT) not in sys.path:
        sys.path.append(str(CHECKOUT))
