"""Every command of the command line, in the order `okrsync --help` lists them: adding a
command is writing its module and naming it here."""

from __future__ import annotations

from sync.commands import (
    backfill,
    checkin,
    daemon,
    demo,
    explain,
    history,
    note,
    prune,
    report,
    sandbox,
    serve,
    status,
    sync_cmd,
    validate,
)
from sync.commands.command import Command

COMMANDS: dict[str, Command] = {
    module.COMMAND.name: module.COMMAND
    for module in (
        sync_cmd,
        backfill,
        daemon,
        validate,
        status,
        history,
        explain,
        checkin,
        note,
        report,
        serve,
        demo,
        prune,
        sandbox,
    )
}
