"""The organization as one tree: every namespace of the store, each in its current cycle (or
the one asked for), an objective aligned to another namespace's (`parent: company/grow`)
under it, and the namespaces nothing aligns with as roots of the same tree.

The namespaces others align to come first (the company file at the top, whatever its name),
then the rest, each group in name order; within a namespace, the file's order. The terminal
(`status` on a store of several namespaces), `status --json --all-namespaces` and the
dashboard's `?namespace=*` show this one tree, so they agree."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import Field

from sync.document_fields import ClosedDocument
from sync.documents import (
    Cycle,
    KeyResultSummary,
    Objective,
    cycle_document,
    key_result_fields,
    objective_fields,
)
from sync.namespace_documents import NamespaceSummary, namespaces_document
from sync.standing import ObjectiveInTree, TreeFilter, named, tree_across, tree_parent_key
from sync.store import Store

# `--namespace '*'` and `?namespace=*`: every namespace, as one tree.
EVERY_NAMESPACE = "*"


def spine_first(stores: Sequence[Store]) -> list[Store]:
    """The namespaces objectives of other namespaces align to, then the others; name order
    within each (`stores` come in name order, `Store.namespaces`)."""
    parents = {
        parent[0]
        for store in stores
        for row in store.all_objectives()
        if (parent := tree_parent_key(row)) is not None and parent[0] != store.namespace
    }
    return sorted(stores, key=lambda store: store.namespace not in parents)


def organization_tree(
    stores: Sequence[Store], wanted: TreeFilter | None = None
) -> list[ObjectiveInTree]:
    """Every namespace's objectives as one tree, stale inputs named `namespace/id`."""
    return tree_across(spine_first(stores), wanted, qualify=True)


class OrganizationObjective(Objective):
    """An objective of the organization's tree: its namespace, and its parent as
    `namespace/id` wherever the parent lives."""

    namespace: str = Field(description="its mapping file's namespace")
    ref: str = Field(description="`namespace/id`, the one spelling across namespaces")


class OrganizationDocument(ClosedDocument):
    """`status --json --all-namespaces` and `/api/objectives?namespace=*`: every namespace's
    objectives as one tree (aligned objectives under their parents), in tree order."""

    objectives: list[OrganizationObjective]
    periods: dict[str, Cycle | None] = Field(
        description="the cycle shown of each namespace, by name (each its current one, or "
        "the one asked for)"
    )
    namespaces: list[NamespaceSummary] = Field(
        description="every namespace of the store, in name order"
    )


def organization_document(
    stores: Sequence[Store], wanted: TreeFilter | None = None
) -> OrganizationDocument:
    """The organization's tree as a document; `parent` and `stale_inputs` qualified."""
    objectives = []
    for obj in organization_tree(stores, wanted):
        fields = objective_fields(obj)
        parent = tree_parent_key(obj)
        fields["parent"] = None if parent is None else named(parent)
        objectives.append(
            OrganizationObjective(
                **fields,
                key_results=[
                    KeyResultSummary(**key_result_fields(kr), change=kr.change)
                    for kr in obj.key_results
                ],
                depth=obj.depth,
                namespace=obj.namespace,
                ref=named((obj.namespace, obj.id)),
            )
        )
    return OrganizationDocument(
        objectives=objectives,
        periods={store.namespace: cycle_document(store.cycle) for store in stores},
        namespaces=namespaces_document(stores[0]).namespaces if stores else [],
    )
