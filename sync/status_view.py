"""How people see the store in a terminal: the status table, history, lineage."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Group
from rich.table import Table
from rich.text import Text

from config.periods import cycle_period
from config.vocabulary import MetricType
from sync.charts import terminal_chart
from sync.literal_text import LiteralConsole
from sync.namespace_standing import qualified
from sync.organization import organization_tree
from sync.presentation import (
    format_number,
    iso,
    percent,
    scope_changes,
    scope_summary,
    stale_inputs_text,
    target_text,
)
from sync.progress import Status
from sync.records import KeyResultRow, Lineage, ObjectiveRow, RunRow
from sync.standing import ObjectiveInTree, TreeFilter, objective_tree
from sync.store import Store

STATUS_STYLES: dict[str, str] = {
    Status.DONE: "bold green",
    Status.ON_TRACK: "green",
    Status.AT_RISK: "yellow",
    Status.OFF_TRACK: "red",
    Status.ERROR: "bold red",
    Status.NO_DATA: "dim",
    Status.BASELINE: "cyan",
    "retired": "dim",
}


def progress_bar(fraction: float | None, width: int = 20) -> Text:
    if fraction is None:
        return Text("·" * width, style="dim")
    filled = round(max(0.0, min(1.0, fraction)) * width)
    return Text("█" * filled, style="cyan") + Text("░" * (width - filled), style="dim")


VALUE_WIDTH = 20  # the widest a value or target cell grows before it folds


def render_status(store: Store, console: LiteralConsole, wanted: TreeFilter | None = None) -> None:
    """The objective tree of the store's namespace and cycle as a table, its failures and its
    last run."""
    wanted = wanted or TreeFilter()
    objectives = objective_tree(store, wanted)
    runs = store.runs(limit=1)
    cycle = store.cycle
    label = None if cycle is None else cycle_period(cycle).label
    if not objectives:
        if not store.all_objectives():
            console.print("No key results in the store yet: run `python run.py sync` first.")
        elif wanted.active:
            console.print("No objective matches the filter.")
        else:
            console.print(RETIRED_ONLY)
        return
    heading_text = "OKR status" if label is None else f"OKR status, {label}"
    console.print(objective_table(objectives, heading_text, qualify=False))
    print_failures(objectives, console, qualify=False)
    if runs:
        console.print(run_text(runs[0]))


def render_organization(
    stores: Sequence[Store], console: LiteralConsole, wanted: TreeFilter | None = None
) -> None:
    """Several namespaces as one tree (`sync.organization`): each row named `namespace/id`,
    an objective aligned to another namespace's under it; then each namespace, in name
    order, with its cycle and last run."""
    wanted = wanted or TreeFilter()
    objectives = organization_tree(stores, wanted)
    if objectives:
        console.print(objective_table(objectives, "OKR status, every namespace", qualify=True))
        print_failures(objectives, console, qualify=True)
    elif not any(store.all_objectives() for store in stores):
        console.print("No key results in the store yet: run `python run.py sync` first.")
    elif wanted.active:
        console.print("No objective matches the filter.")
    else:
        console.print(RETIRED_ONLY)
    for store in stores:
        runs = store.runs(limit=1)
        label = None if store.cycle is None else cycle_period(store.cycle).label
        console.print(namespace_heading(store.namespace, label, runs[0] if runs else None))


def objective_table(objectives: Sequence[ObjectiveInTree], title: str, *, qualify: bool) -> Table:
    """The rows of an objective tree; with `qualify`, each names itself `namespace/id`."""
    table = Table(title=title, box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("Objective / key result", overflow="fold", ratio=1, min_width=30)
    table.add_column("Progress", no_wrap=True)
    # A long unit or a huge number folds within its cell instead of pushing the titles out.
    table.add_column("Value", justify="right", overflow="fold", max_width=VALUE_WIDTH)
    table.add_column("Target", justify="right", overflow="fold", max_width=VALUE_WIDTH)
    table.add_column("Change", justify="right", no_wrap=True)
    table.add_column("Status", no_wrap=True)
    for obj in objectives:
        indent = "  " * obj.depth
        title_line = Text(f"{indent}{obj.title}", style="bold")
        if qualify:
            title_line.append(f"  {qualified(obj.namespace, obj.id)}", style="dim")
        heading: Text | Group = title_line
        if obj.stale_inputs:
            stale_text = stale_inputs_text(obj.stale_inputs)
            heading = Group(heading, Text(f"{indent}! {stale_text}", style="yellow"))
        table.add_row(heading, progress_cell(obj.progress), "", "", "", status_cell(obj))
        for kr in obj.key_results:
            kr_line = Text(f"{indent}  {kr.title}")
            if qualify:
                kr_line.append(f"  {qualified(kr.namespace, kr.id)}", style="dim")
            title_cell: Text | Group = kr_line
            if kr.last_error:  # one line here, in full below the table
                mark = Text(f"{indent}  ! {kr.last_error}", style="red", no_wrap=True)
                title_cell = Group(kr_line, mark)
            table.add_row(
                title_cell,
                progress_cell(kr.progress),
                format_number(kr.value, kr.unit),
                target_text(kr),
                change_text(kr.previous_value, kr.value),
                status_cell(kr),
            )
    return table


def print_failures(
    objectives: Sequence[ObjectiveInTree], console: LiteralConsole, *, qualify: bool
) -> None:
    """Each failed key result's message in full, one line each whatever the width."""
    for obj in objectives:
        for kr in obj.key_results:
            if kr.last_error:
                shown = qualified(kr.namespace, kr.id) if qualify else kr.id
                console.print(
                    Text.assemble(("failed", "red"), f" {shown}: {kr.last_error}"),
                    soft_wrap=True,
                )


def namespace_heading(namespace: str, cycle_label: str | None, run: RunRow | None) -> Text:
    """`Namespace platform, 2026-Q4: last run #3 at ...`: a namespace's cycle and last run."""
    shown = f"Namespace {namespace}" + (f", {cycle_label}" if cycle_label else "")
    last = run_text(run) if run is not None else "no run yet."
    return Text.assemble((shown, "bold"), f": {last[0].lower()}{last[1:]}")


def run_text(run: RunRow) -> str:
    return (
        f"Last run #{run.id} at {run.finished_at:%Y-%m-%d %H:%M} UTC: {run.outcome}, "
        f"{run.key_results_total} key results, {run.key_results_failed} failed."
    )


RETIRED_ONLY = (
    "Every objective in the store is retired (the mapping file no longer lists it): "
    "`python run.py status --all` shows them."
)


def status_cell(row: ObjectiveRow | KeyResultRow) -> Text:
    """An objective's or key result's status; `retired` once the mapping file drops it."""
    status = "retired" if row.retired_at is not None else row.status
    return Text(status, style=STATUS_STYLES.get(status, ""))


def retired_text(row: KeyResultRow) -> str | None:
    """What `explain` and `history` say of a retired key result (None while listed)."""
    if row.retired_at is None:
        return None
    return (
        f"retired {row.retired_at:%Y-%m-%d %H:%M} UTC: the mapping file no longer lists it; "
        "its history is kept and no roll-up counts it"
    )


def progress_cell(fraction: float | None) -> Text:
    shown = "   -" if fraction is None else f" {_pct(fraction):>3}%"
    return progress_bar(fraction, width=12) + Text(shown)


def change_text(previous: float | None, current: float | None) -> Text:
    if previous is None or current is None or previous == current:
        return Text("")
    delta = current - previous
    arrow = "▲" if delta > 0 else "▼"
    return Text(f"{arrow} {format_number(abs(delta))}", style="green" if delta > 0 else "red")


# `history` lists this many of the newest values unless told otherwise (`--limit`).
HISTORY_LIMIT = 50


def render_history(
    store: Store, kr_id: str, console: LiteralConsole, limit: int | None = HISTORY_LIMIT
) -> None:
    """The newest `limit` values (every one when None), and how many older ones were left
    out: a key result synced every minute has hundreds of thousands."""
    rows, total = store.recent_history(kr_id, limit=limit)
    kr = store.key_result(kr_id)
    table = Table(
        title=f"History of {kr_id}" + (f": {kr.title}" if kr else ""),
        caption=retired_text(kr) if kr else None,
    )
    table.add_column("When (UTC)")
    table.add_column("Value", justify="right")
    table.add_column("Status")
    table.add_column("Origin")
    table.add_column("Note", overflow="fold")
    for row in rows:
        table.add_row(
            f"{row.observed_at:%Y-%m-%d %H:%M}",
            format_number(row.value, kr.unit if kr else None),
            Text(row.status or "", style=STATUS_STYLES.get(row.status or "", "")),
            row.origin,
            row.note or "",
        )
    console.print(table)
    if total > len(rows):
        console.print(
            f"{total - len(rows):,} older values not shown: --limit N shows the newest N, "
            "--limit 0 every one."
        )
    values = [row.value for row in rows if row.value is not None]
    if len(values) >= 2:
        unit = kr.unit if kr else None
        console.print(
            f"Last {min(len(values), 48)} values, "
            f"{format_number(min(values[-48:]), unit)} .. {format_number(max(values[-48:]), unit)}:"
        )
        for line in terminal_chart(values):
            console.print(Text(f"  {line}", style="cyan"))


def render_explain(store: Store, kr_id: str, console: LiteralConsole) -> None:
    kr = store.key_result(kr_id)
    if kr is None:
        console.print(f"{kr_id}: no value stored yet")
        return
    console.print(Text.assemble((kr.id, "bold"), f": {kr.title}"))
    console.print(
        f"value {format_number(kr.value, kr.unit)} (observed {iso(kr.updated_at)}), "
        f"start {format_number(kr.start_value)}, target {format_number(kr.target_value)}, "
        f"progress {_pct(kr.progress)} %, expected {_pct(kr.expected)} %, "
        f"status {kr.status}"
    )
    retired = retired_text(kr)
    if retired:
        console.print(retired, style="yellow")
    if kr.last_error:
        console.print(f"last fetch failed: {kr.last_error} (the value above is kept)", style="red")
    if kr.lineage is not None and kr.lineage.kept:
        console.print(f"value kept from the previous run: {kr.lineage.kept}")
    if kr.lineage is not None and kr.lineage.start_problem:
        console.print(f"no baseline: {kr.lineage.start_problem}", style="yellow")
    if kr.lineage is not None:
        _print_lineage(kr.lineage, console, indent="")
    _print_scope(kr.lineage, console)


def _print_scope(lineage: Lineage | None, console: LiteralConsole) -> None:
    """What the set measures and how it changed; keys and links printed as written."""
    summary = scope_summary(lineage)
    if summary is not None:
        console.print(summary)
    for change in scope_changes(lineage):
        console.print(f"{change.label}:")
        for item in change.items:
            console.print(f"  {item.key}" + (f" {item.url}" if item.url else ""))
        if change.more:
            console.print(f"  and {change.more} more")


def _print_lineage(lineage: Lineage, console: LiteralConsole, indent: str) -> None:
    if lineage.metric == MetricType.FORMULA:
        console.print(f"{indent}formula: {lineage.expr}")
        for name, sub in lineage.inputs.items():
            console.print(f"{indent}  input {name} = {format_number(sub.value)}")
            _print_lineage(sub, console, indent + "    ")
        return
    for label, shown in (
        ("source", lineage.source),
        ("metric", lineage.metric),
        ("query", lineage.query),
        ("field", lineage.field),
        ("where", lineage.where),
        ("server count", lineage.count),
        ("items", lineage.items_total),
        ("fetched at", lineage.fetched_at),
        ("cache", lineage.cache),
        ("link", lineage.link),
        ("note", lineage.note),
        ("error", lineage.error),
    ):
        if shown is not None:
            console.print(f"{indent}{label}: {shown}")
    keys = lineage.items
    if keys:
        shown_keys = ", ".join(keys[:20])
        total = len(keys) if lineage.items_total is None else lineage.items_total
        more = f" … and {total - 20} more" if len(keys) > 20 else ""
        console.print(f"{indent}item keys: {shown_keys}{more}")


def _pct(fraction: float | None) -> str:
    value = percent(fraction)
    return "-" if value is None else f"{value:.0f}"
