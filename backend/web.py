"""The HTTP edge shared by every blueprint: body and query parsing, list envelopes, the clock."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import pydantic
from flask import current_app, request

from backend.db import Page
from backend.errors import BadRequest, ValidationError

M = TypeVar("M", bound=pydantic.BaseModel)
T = TypeVar("T")


class Body(pydantic.BaseModel):
    """Base of every request body and query: unknown fields are an error, strings are trimmed."""

    model_config = pydantic.ConfigDict(extra="forbid", str_strip_whitespace=True, frozen=True)


class PageQuery(Body):
    page: int = pydantic.Field(1, ge=1)
    per_page: int = pydantic.Field(20, ge=1, le=200)


_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "is not a known field",
}


def _validation_error(exc: pydantic.ValidationError, what: str) -> ValidationError:
    fields: dict[str, str] = {}
    for error in exc.errors():
        key = ".".join(str(part) for part in error["loc"]) or "body"
        fields.setdefault(key, _MESSAGES.get(error["type"], error["msg"]))
    return ValidationError(f"the {what} is not valid", fields=fields)


def parse_json(model: type[M]) -> M:
    """The request body as `model`, or a 400/422 error naming each bad field."""
    raw = request.get_data(cache=True)
    try:
        data: Any = json.loads(raw) if raw.strip() else {}
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the request body is not valid JSON", code="malformed_json") from exc
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object", code="malformed_json")
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _validation_error(exc, "request body") from exc


def parse_query(model: type[M]) -> M:
    """The query string as `model`; repeated keys become lists only where the model says so."""
    data: dict[str, Any] = {}
    for key in request.args:
        values = request.args.getlist(key)
        data[key] = values if len(values) > 1 else values[0]
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as exc:
        raise _validation_error(exc, "query") from exc


def page_to_json(page: Page[T], to_json: Callable[[T], Any]) -> Any:
    """The list envelope of SYSTEM.md, each item serialized by the resource's one `*_to_json`."""
    return {"items": [to_json(item) for item in page.items], "total": page.total, "page": page.page,
            "per_page": page.per_page}


def now() -> datetime:
    """The app's clock, read once per request by the view and passed down."""
    clock = current_app.extensions["clock"]
    return clock()  # type: ignore[no-any-return]
