"""The OpenAPI 3.1 document of the JSON API, served at /openapi.json. Its schemas are
generated from the response models of `sync.documents`, the ones the API dumps, so the
document cannot say what the responses do not; the paths, parameters and responses are
written here. Tests validate the document and every response against it."""

from __future__ import annotations

from functools import cache
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, models_json_schema

from sync.dashboard.api import RUNS_LIMIT_MAX
from sync.documents import Error, KeyResult, Objectives, Runs
from sync.namespace_documents import Namespaces
from sync.organization import OrganizationDocument

COMPONENT_REF = "#/components/schemas/{model}"
# The documents the API answers with; the models they contain are generated with them.
RESPONSE_MODELS: tuple[type[BaseModel], ...] = (
    Objectives,
    OrganizationDocument,
    KeyResult,
    Runs,
    Namespaces,
    Error,
)


class ResponseSchema(GenerateJsonSchema):
    """JSON Schema of what a model dumps, without a `title` per property (the name says it)."""

    def field_title_should_be_set(self, schema: object) -> bool:
        return False


@cache
def _generated() -> tuple[dict[type[BaseModel], dict[str, Any]], dict[str, Any]]:
    """Each response model's `$ref`, and every schema they need, by component name."""
    refs, definitions = models_json_schema(
        [(model, "serialization") for model in RESPONSE_MODELS],
        ref_template=COMPONENT_REF,
        schema_generator=ResponseSchema,
    )
    ref_of = {model: refs[(model, "serialization")] for model in RESPONSE_MODELS}
    return ref_of, definitions["$defs"]


def component_schemas() -> dict[str, Any]:
    return _generated()[1]


def _json(model: type[BaseModel], description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": _generated()[0][model]}},
    }


def _json_one_of(models: tuple[type[BaseModel], ...], description: str) -> dict[str, Any]:
    """A response that is one of several documents (their keys tell them apart)."""
    one_of = [_generated()[0][model] for model in models]
    return {
        "description": description,
        "content": {"application/json": {"schema": {"oneOf": one_of}}},
    }


_ERRORS = {
    "400": _json(Error, "malformed request"),
    "401": _json(Error, "a bearer token is required and was missing or wrong"),
}


def _filter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    }


_PERIOD = _filter(
    "period",
    "the cycle: 2026-Q3 or 2026-07-01..2026-09-30 (default: the one the newest sync wrote)",
)
_NAMESPACE = _filter(
    "namespace",
    "the namespace: a mapping file's, e.g. platform (default: the one the newest sync wrote)",
)
_TREE_NAMESPACE = _filter(
    "namespace",
    "the namespace: a mapping file's, e.g. platform, or * for every namespace as one tree "
    "(default: the one the newest sync wrote)",
)
_NAMESPACE_ERRORS = {"404": _json(Error, "no such namespace in the store")}
_PERIOD_ERRORS = {
    "404": _json(Error, "no such namespace, cycle (or key result) in the store"),
    "422": _json(Error, "the period is not written as a period"),
}


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "okr-sync dashboard API",
            "version": "1.0.0",
            "description": "Read-only: objectives, key results with their history, sync runs, "
            "namespaces.",
        },
        "paths": {
            "/api/objectives": {
                "get": {
                    "operationId": "listObjectives",
                    "summary": "Objectives in tree order with their key results",
                    "parameters": [
                        _filter("level", "only objectives of this level"),
                        _filter("owner", "only objectives of this owner"),
                        _filter("objective", "this objective and the ones aligned under it"),
                        {
                            "name": "all",
                            "in": "query",
                            "required": False,
                            "description": "1: also what the mapping file no longer lists",
                            "schema": {"type": "string", "enum": ["1"]},
                        },
                        _TREE_NAMESPACE,
                        _PERIOD,
                    ],
                    "responses": {
                        "200": _json_one_of(
                            (Objectives, OrganizationDocument),
                            "the objective tree of one namespace (Objectives), or with "
                            "namespace=* of every namespace as one tree (OrganizationDocument)",
                        ),
                        **_PERIOD_ERRORS,
                        **_ERRORS,
                    },
                }
            },
            "/api/key-results/{kr_id}": {
                "get": {
                    "operationId": "getKeyResult",
                    "summary": "One key result with its history, sources and forecast",
                    "parameters": [
                        {
                            "name": "kr_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        _NAMESPACE,
                        _PERIOD,
                    ],
                    "responses": {
                        "200": _json(KeyResult, "the key result"),
                        **_PERIOD_ERRORS,
                        **_ERRORS,
                    },
                }
            },
            "/api/runs": {
                "get": {
                    "operationId": "listRuns",
                    "summary": "Sync runs of a namespace, newest first",
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "required": False,
                            "schema": {
                                "type": "integer",
                                "minimum": 1,
                                "maximum": RUNS_LIMIT_MAX,
                                "default": 20,
                            },
                        },
                        _NAMESPACE,
                    ],
                    "responses": {
                        "200": _json(Runs, "the runs of the namespace"),
                        **_NAMESPACE_ERRORS,
                        **_ERRORS,
                    },
                }
            },
            "/api/namespaces": {
                "get": {
                    "operationId": "listNamespaces",
                    "summary": "Every namespace with its last run and failing key results",
                    "responses": {"200": _json(Namespaces, "the namespaces"), **_ERRORS},
                }
            },
        },
        "components": {
            "schemas": component_schemas(),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }
