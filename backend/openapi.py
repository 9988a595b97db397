"""The OpenAPI 3 document, built from the routes themselves so that none can be left out."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Flask
from pydantic import TypeAdapter

F = TypeVar("F", bound=Callable[..., Any])

AUTH_SCHEMES: dict[str, list[dict[str, list[str]]]] = {
    "staff": [{"staffBearer": []}],
    "applicant": [{"applicantBearer": []}],
    "department": [{"departmentSignature": []}],
    "none": [],
}

ERROR_STATUS_TEXT = {
    400: "Malformed request", 401: "Not authenticated", 403: "Outside the caller's role or department",
    404: "Not found", 409: "Conflict with the current state", 413: "Body too large",
    422: "Validation failed", 423: "Account locked", 429: "Too many attempts", 503: "Unavailable",
}


@dataclass(frozen=True)
class Operation:
    summary: str
    auth: str = "none"
    body: Any = None
    query: Any = None
    response: Any = None
    status: int = 200
    content_type: str = "application/json"
    errors: tuple[int, ...] = ()
    tags: tuple[str, ...] = field(default_factory=tuple)


def documented(summary: str, **options: Any) -> Callable[[F], F]:
    """Attach the OpenAPI description of a view: auth, body/query model, response type, errors."""
    operation = Operation(summary=summary, **options)

    def attach(view: F) -> F:
        view.openapi = operation  # type: ignore[attr-defined]
        return view

    return attach


def _schema(type_: Any, components: dict[str, Any]) -> dict[str, Any]:
    schema = TypeAdapter(type_).json_schema(ref_template="#/components/schemas/{model}")
    components.update(schema.pop("$defs", {}))
    return schema


def _query_parameters(model: Any, components: dict[str, Any]) -> list[dict[str, Any]]:
    schema = _schema(model, components)
    required = set(schema.get("required", []))
    return [
        {"name": name, "in": "query", "required": name in required, "schema": prop}
        for name, prop in schema.get("properties", {}).items()
    ]


def undocumented_routes(app: Flask) -> list[str]:
    """Every route and method the document would leave out (the test keeps this empty)."""
    missing = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "docs.asset"):
            continue
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "openapi"):
            methods = ",".join(sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}))
            missing.append(f"{methods} {rule.rule}")
    return missing


def build_document(app: Flask) -> dict[str, Any]:
    components: dict[str, Any] = {
        "Error": {
            "type": "object",
            "required": ["error"],
            "properties": {"error": {"type": "object", "required": ["code", "message"], "properties": {
                "code": {"type": "string"}, "message": {"type": "string"},
                "fields": {"type": "object", "additionalProperties": {"type": "string"}},
            }}},
        }
    }
    paths: dict[str, dict[str, Any]] = {}
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        operation: Operation | None = getattr(view, "openapi", None)
        if operation is None:
            continue
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            entry: dict[str, Any] = {
                "summary": operation.summary,
                "operationId": f"{rule.endpoint}.{method.lower()}",
                "tags": list(operation.tags) or [rule.endpoint.split(".")[0]],
                "security": AUTH_SCHEMES[operation.auth],
                "parameters": [
                    {"name": arg, "in": "path", "required": True,
                     "schema": {"type": "integer" if f"<int:{arg}>" in rule.rule else "string"}}
                    for arg in sorted(rule.arguments)
                ],
            }
            if operation.query is not None:
                entry["parameters"] += _query_parameters(operation.query, components)
            if operation.body is not None:
                entry["requestBody"] = {"required": True, "content": {
                    "application/json": {"schema": _schema(operation.body, components)}}}
            success: dict[str, Any] = {"description": "OK"}
            if operation.response is not None:
                success["content"] = {operation.content_type: {"schema": _schema(operation.response, components)}}
            elif operation.content_type != "application/json":
                success["content"] = {operation.content_type: {"schema": {"type": "string", "format": "binary"}}}
            responses: dict[str, Any] = {str(operation.status): success}
            errors = set(operation.errors)
            if operation.body is not None or operation.query is not None:
                errors |= {400, 422}
            if operation.auth != "none":
                errors |= {401}
            for status in sorted(errors):
                responses[str(status)] = {
                    "description": ERROR_STATUS_TEXT.get(status, "Error"),
                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
                }
            entry["responses"] = responses
            paths.setdefault(path, {})[method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "eshare: 政务数据及电子证照共享互认",
            "version": "1.0",
            "description": "Sharing and mutual recognition of government data and electronic licenses.",
        },
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {
                "staffBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "applicantBearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "departmentSignature": {"type": "apiKey", "in": "header", "name": "X-Signature",
                                        "description": "HMAC-SHA256 with X-Dept-Key, X-Timestamp, X-Nonce"},
            },
        },
    }
