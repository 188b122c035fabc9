"""The OpenAPI 3.1 document of the JSON API, served at /openapi.json. Tests validate the
document itself and every response against it, so it cannot drift from the code."""

from __future__ import annotations

from typing import Any

from sync.dashboard.api import RUNS_LIMIT_MAX
from sync.progress import Status

# In the order the published document has always listed them.
STATUSES = [
    Status.DONE,
    Status.ON_TRACK,
    Status.AT_RISK,
    Status.OFF_TRACK,
    Status.ERROR,
    Status.NO_DATA,
    Status.BASELINE,
]


def _nullable(kind: str, **extra: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **extra}


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": list(properties),
        "additionalProperties": False,
        "properties": properties,
    }


_PERCENT = _nullable("number", minimum=0, maximum=100)
_TIME = _nullable("string", format="date-time")
_STATUS = {"type": "string", "enum": STATUSES}
_RETIRED = {
    **_TIME,
    "description": "when the mapping file stopped listing it (shown with all=1); null while "
    "listed. No roll-up counts what is retired",
}

SCHEMAS: dict[str, Any] = {
    "Error": _object(
        {
            "error": _object(
                {"code": {"type": "integer"}, "message": {"type": "string"}},
            )
        }
    ),
    "KeyResultSummary": _object(
        {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "value": _nullable("number"),
            "unit": _nullable("string"),
            "start": _nullable("number"),
            "target": _nullable("number"),
            "progress": _PERCENT,
            "status": _STATUS,
            "change": {
                **_nullable("number"),
                "description": "value minus the value before the latest one",
            },
            "updated_at": _TIME,
            "error": _nullable("string"),
            "retired_at": _RETIRED,
        }
    ),
    "Objective": _object(
        {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "owner": _nullable("string"),
            "level": _nullable("string"),
            "parent": _nullable("string"),
            "depth": {"type": "integer", "minimum": 0},
            "progress": _PERCENT,
            "status": _STATUS,
            "stale_inputs": {
                "type": "array",
                "items": {"type": "string"},
                "description": "key results (its own, then those of objectives aligned under "
                "it) whose last fetch failed; the progress counts their last good values",
            },
            "retired_at": _RETIRED,
            "key_results": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/KeyResultSummary"},
            },
        }
    ),
    "Objectives": _object(
        {"objectives": {"type": "array", "items": {"$ref": "#/components/schemas/Objective"}}}
    ),
    "HistoryEntry": _object(
        {
            "observed_at": {"type": "string", "format": "date-time"},
            "value": _nullable("number"),
            "status": {"type": ["string", "null"]},
            "origin": {"type": "string", "enum": ["sync", "checkin", "note"]},
            "note": _nullable("string"),
        }
    ),
    "QuerySource": _object(
        {
            "name": {**_nullable("string"), "description": "the formula input, if any"},
            "source": _nullable("string"),
            "query": _nullable("string"),
            "link": {**_nullable("string"), "description": "the same items in Jira or GitHub"},
        }
    ),
    "KeyResult": _object(
        {
            "id": {"type": "string"},
            "title": {"type": "string"},
            "objective": {"type": "string"},
            "kind": {"type": "string"},
            "unit": _nullable("string"),
            "value": _nullable("number"),
            "start": _nullable("number"),
            "target": _nullable("number"),
            "min": _nullable("number"),
            "max": _nullable("number"),
            "progress": _PERCENT,
            "expected": _PERCENT,
            "status": _STATUS,
            "error": _nullable("string"),
            "updated_at": _TIME,
            "retired_at": _RETIRED,
            "period": _object(
                {
                    "start": _nullable("string", format="date"),
                    "end": _nullable("string", format="date"),
                }
            ),
            "forecast": {**_nullable("number"), "description": "value at period end by trend"},
            "forecast_note": {
                **_nullable("string"),
                "description": "why there is no forecast (e.g. not enough history), or that "
                "the trend was stopped at the least or most the value can be",
            },
            "sources": {"type": "array", "items": {"$ref": "#/components/schemas/QuerySource"}},
            "history": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/HistoryEntry"},
                "description": "the newest history entries (at most 100), oldest first",
            },
            "history_total": {
                "type": "integer",
                "minimum": 0,
                "description": "how many history entries there are in all",
            },
            "chart": _object(
                {
                    "points": {
                        "type": "array",
                        "items": _object(
                            {
                                "observed_at": {"type": "string", "format": "date-time"},
                                "value": {"type": "number"},
                            }
                        ),
                        "description": "every value, oldest first, up to 600; beyond, the "
                        "first, last, lowest and highest value of each of 150 equal spans "
                        "of time, so a line through them has the history's shape",
                    },
                    "values_total": {"type": "integer", "minimum": 0},
                    "downsampled": {"type": "boolean"},
                }
            ),
        }
    ),
    "Run": _object(
        {
            "id": {"type": "integer"},
            "started_at": {"type": "string", "format": "date-time"},
            "finished_at": {"type": "string", "format": "date-time"},
            "outcome": {"type": "string", "enum": ["ok", "partial", "failed"]},
            "key_results_total": {"type": "integer", "minimum": 0},
            "key_results_failed": {"type": "integer", "minimum": 0},
            "requests": {"type": "object", "additionalProperties": {"type": "integer"}},
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
            },
        }
    ),
    "Runs": _object({"runs": {"type": "array", "items": {"$ref": "#/components/schemas/Run"}}}),
}


def _json(schema: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}},
    }


_ERRORS = {
    "400": _json("Error", "malformed request"),
    "401": _json("Error", "a bearer token is required and was missing or wrong"),
}


def _filter(name: str, description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    }


def openapi_document() -> dict[str, Any]:
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "okr-sync dashboard API",
            "version": "1.0.0",
            "description": "Read-only: objectives, key results with their history, sync runs.",
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
                    ],
                    "responses": {"200": _json("Objectives", "the objective tree"), **_ERRORS},
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
                        }
                    ],
                    "responses": {
                        "200": _json("KeyResult", "the key result"),
                        "404": _json("Error", "no such key result"),
                        **_ERRORS,
                    },
                }
            },
            "/api/runs": {
                "get": {
                    "operationId": "listRuns",
                    "summary": "Sync runs, newest first",
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
                        }
                    ],
                    "responses": {"200": _json("Runs", "the runs"), **_ERRORS},
                }
            },
        },
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{}, {"bearer": []}],
    }
