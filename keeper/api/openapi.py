"""Keeper's OpenAPI document: FastAPI's, plus every error a route can give.

Each operation lists the error statuses its access rule allows (a public
read cannot answer 401) with keeper's one error shape, which replaces
FastAPI's own validation-error schema: keeper's 422s name ``loc`` only
when an error concerns one field.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from keeper.api.access import ACCESS_KEY, PUBLIC_RULE
from keeper.api.errors import ErrorBody

_ERRORS = {
    400: "The request is malformed.",
    401: "No token, or one that is not valid, has expired or was revoked.",
    403: "The token may not do this.",
    404: "No such organization, product, edition, build or template.",
    409: "The request conflicts with the state of the resource.",
    413: "The request body is larger than this route takes.",
    422: "The request is invalid; an error about one field names it in `loc`.",
    502: "The object store failed.",
    503: "Keeper is not configured for this route.",
}
#: A public route refuses nobody; only a token that comes along and is not
#: valid (401).
_PUBLIC = frozenset(_ERRORS) - {403}
_FASTAPI_SCHEMAS = ("HTTPValidationError", "ValidationError")


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = keeper_openapi(app)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def keeper_openapi(app: FastAPI) -> dict[str, Any]:
    schema = get_openapi(
        title=app.title,
        version=app.version,
        description=app.description,
        routes=app.routes,
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_SCHEMAS:
        components.pop(name, None)
    body = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
    components.update(body.pop("$defs", {}))
    components["ErrorBody"] = body
    error = {"$ref": "#/components/schemas/ErrorBody"}
    for item in schema.get("paths", {}).values():
        for operation in item.values():
            public = operation.get(ACCESS_KEY, {}).get("rule") == PUBLIC_RULE.name
            responses = operation.setdefault("responses", {})
            for status, text in _ERRORS.items():
                if public and status not in _PUBLIC:
                    continue
                responses[str(status)] = {
                    "description": text,
                    "content": {"application/json": {"schema": error}},
                }
    return schema
