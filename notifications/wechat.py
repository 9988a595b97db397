"""WeChat subscribe messages (订阅消息): templates per event, field limits, and the sender.

Each subscribe event (`SUBSCRIBE_EVENTS`) is sent with the template configured for it by id
(`WECHAT_TEMPLATES="objection_result=<template id>,correction_done=<id>,..."`; in development every event
without one gets the placeholder `dev-<event>`, so messages flow to `WECHAT_API_BASE`). The templates chosen
in the mini-program console must have the keywords of `LAYOUTS` (e.g. 异议结果: `thing1` 事项, `phrase2`
结果, `thing3` 说明, `time4` 时间). Values come from the notification's `data` (`item`, `result`, `note`,
`at`), else its title and body and the time it was written, and are cut to WeChat's limits (`LIMITS`:
`thing` ≤ 20 characters, `phrase` ≤ 5, ...; `time` as `YYYY-MM-DD HH:MM` Asia/Shanghai).

The sender answers a `Result`: sent; 43101 (the user has not accepted, or used up a one-time acceptance)
skipped and never retried; an argument WeChat refuses (wrong openid, template or data) dead at once, since a
retry would be refused alike; anything else (no answer, HTTP error, busy, a token WeChat keeps refusing after
one refresh) retried by the outbox. The access token comes from `AccessTokenCache`, refreshed on 40001/42001.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from notifications import Result
from notifications.wechat_token import AccessTokenCache, WeChatError, WeChatUnavailable

SEND_PATH = "/cgi-bin/message/subscribe/send"
SHANGHAI = ZoneInfo("Asia/Shanghai")

SUBSCRIBE_EVENTS = ("objection_result", "correction_done", "confirmation_stale", "confirmation_voided",
                    "accepted", "authorization_request")

# Character limits of WeChat's keyword types (subscribe-message documentation).
LIMITS = {"thing": 20, "phrase": 5, "name": 10, "character_string": 32, "number": 32, "letter": 32,
          "symbol": 5, "car_number": 8, "phone_number": 17, "amount": 10}

# keyword -> where its value comes from: item (what), result (a short word), note (what happened), at (when).
Layout = tuple[tuple[str, str], ...]
LAYOUTS: dict[str, Layout] = {
    "objection_result": (("thing1", "item"), ("phrase2", "result"), ("thing3", "note"), ("time4", "at")),
    "correction_done": (("thing1", "item"), ("phrase2", "result"), ("time3", "at")),
    "confirmation_stale": (("thing1", "item"), ("thing2", "note"), ("time3", "at")),
    "confirmation_voided": (("thing1", "item"), ("thing2", "note"), ("time3", "at")),
    "accepted": (("thing1", "item"), ("phrase2", "result"), ("time3", "at")),
    "authorization_request": (("thing1", "item"), ("thing2", "note"), ("time3", "at")),
}
GENERIC_LAYOUT: Layout = (("thing1", "item"), ("thing2", "note"), ("time3", "at"))
DEFAULT_RESULT = {"objection_result": "已处理", "correction_done": "已更正", "accepted": "已受理"}

SKIPPED_UNSUBSCRIBED = 43101
# Refusals of the message itself: sending it again is refused again.
PERMANENT_ERRCODES = frozenset({40003, 40037, 47003, 41030, 43107})


def parse_templates(raw: str | None) -> dict[str, str]:
    """`event=template_id,...` to a mapping; ValueError names what is wrong."""
    templates: dict[str, str] = {}
    for part in (raw or "").split(","):
        part = part.strip()
        if not part:
            continue
        event, sep, template_id = (p.strip() for p in part.partition("="))
        if not sep or not event or not template_id:
            raise ValueError(f"{part!r} is not event=template_id")
        if event not in SUBSCRIBE_EVENTS:
            raise ValueError(f"{event!r} is not a subscribe event (one of {', '.join(SUBSCRIBE_EVENTS)})")
        if len(template_id) > 64:
            raise ValueError(f"the template id of {event} is longer than 64 characters")
        templates[event] = template_id
    return templates


def fit(keyword: str, value: str) -> str:
    """A value cut to the limit of its keyword's type (`thing3` is a `thing`); never empty."""
    kind = keyword.rstrip("0123456789")
    text = " ".join(str(value).split()) or "-"
    limit = LIMITS.get(kind)
    if limit is None or len(text) <= limit:
        return text
    if kind == "thing":
        return text[: limit - 1] + "…"
    return text[:limit]


def _when(value: Any, fallback: datetime) -> datetime:
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            return fallback
        return parsed if parsed.tzinfo is not None else fallback
    return fallback


def _value(keyword: str, source: str, *, event: str, payload: Mapping[str, Any], created_at: datetime) -> str:
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    assert isinstance(data, dict)
    kind = keyword.rstrip("0123456789")
    if kind in ("time", "date"):
        moment = _when(data.get(source), created_at).astimezone(SHANGHAI)
        return moment.strftime("%Y-%m-%d %H:%M" if kind == "time" else "%Y-%m-%d")
    value = data.get(source)
    if not isinstance(value, str) or not value.strip():
        value = {"item": payload.get("title"), "note": payload.get("body"),
                 "result": DEFAULT_RESULT.get(event, "已更新")}.get(source) or "-"
    return fit(keyword, str(value))


def build_message(*, event: str, openid: str, template_id: str, payload: Mapping[str, Any],
                  created_at: datetime, page: str | None = None) -> dict[str, Any]:
    """The body of `subscribe/send` for one notification, every value within its keyword's limit."""
    layout = LAYOUTS.get(event, GENERIC_LAYOUT)
    body: dict[str, Any] = {
        "touser": openid,
        "template_id": template_id,
        "data": {keyword: {"value": _value(keyword, source, event=event, payload=payload, created_at=created_at)}
                 for keyword, source in layout},
        "lang": "zh_CN",
    }
    if page:
        body["page"] = page
    return body


class SubscribeSender:
    """Sends one subscribe message through the shared access-token cache."""

    def __init__(self, tokens: AccessTokenCache) -> None:
        self.tokens = tokens

    def send(self, message: Mapping[str, Any]) -> Result:
        # No automatic retry on -1 (busy): WeChat may have sent it; the outbox retries after its backoff.
        try:
            self.tokens.call("POST", SEND_PATH, json=dict(message), retry_busy=False)
        except WeChatError as exc:
            if exc.errcode == SKIPPED_UNSUBSCRIBED:
                return Result.skipped("wechat 43101: the user has not accepted this template or used it up")
            if exc.errcode in PERMANENT_ERRCODES:
                return Result.dead(f"wechat errcode {exc.errcode}: the message is refused")
            return Result.retry(f"wechat errcode {exc.errcode}")
        except WeChatUnavailable as exc:
            return Result.retry(f"wechat unavailable: {exc}")
        return Result.sent()
