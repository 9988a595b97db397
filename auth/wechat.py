"""WeChat mini-program login (code2Session) and phone numbers (getPhoneNumber), behind a Protocol.

`create_app(wechat=...)` takes any object with these two methods; by default it builds `HttpWeChat` from
`WECHAT_API_BASE`, `WECHAT_APPID` and `WECHAT_SECRET`. WeChat's answers become AppErrors a client can act
on; the `session_key` stays inside `WeChatSession` and this module never logs a code, key or number.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol

from backend.config import Config
from backend.errors import AppError, Forbidden, ServiceUnavailable, TooManyRequests, Unauthorized, ValidationError
from notifications.wechat_token import AccessTokenCache, WeChatAPI, WeChatError, WeChatUnavailable

log = logging.getLogger("eshare.auth.wechat")

USER_ERRCODES = frozenset({40029, 40163, 45011, 40226})


class InvalidCode(Unauthorized):
    code = "invalid_code"


class InvalidPhoneCode(ValidationError):
    code = "invalid_code"


class WeChatRateLimited(TooManyRequests):
    code = "wechat_rate_limited"


class WeChatRefused(Forbidden):
    code = "wechat_refused"


class WeChatDown(ServiceUnavailable):
    code = "wechat_unavailable"


@dataclass(frozen=True)
class WeChatSession:
    """What code2Session tells about the user; `session_key` must never leave the server."""

    openid: str
    session_key: str = field(repr=False)
    unionid: str | None = None


class WeChat(Protocol):
    def code_to_session(self, code: str) -> WeChatSession:
        """The user behind a `wx.login` code (each code works once)."""
        ...

    def phone_number(self, code: str) -> str:
        """The phone number behind a `getPhoneNumber` button code."""
        ...


def _mapped(exc: WeChatError | WeChatUnavailable, what: str, *, invalid: type[AppError]) -> AppError:
    if isinstance(exc, WeChatUnavailable):
        log.warning("WeChat %s: no usable answer (%s)", what, exc, extra={"event": "wechat_unavailable"})
        return WeChatDown("WeChat does not answer; try again in a moment")
    # The user's own trouble (bad code, too fast, risky account) is routine; anything else needs a look.
    level = logging.INFO if exc.errcode in USER_ERRCODES else logging.WARNING
    log.log(level, "WeChat %s refused: errcode %s", what, exc.errcode, extra={"event": "wechat_error"})
    if exc.errcode in (40029, 40163):
        return invalid("the WeChat code is invalid or already used; get a new one and try again")
    if exc.errcode == 45011:
        return WeChatRateLimited("too many attempts; wait a minute and try again", headers={"Retry-After": "60"})
    if exc.errcode == 40226:
        return WeChatRefused("WeChat refused this user (high-risk account)")
    return WeChatDown(f"WeChat could not complete the {what} (errcode {exc.errcode})")


class HttpWeChat:
    """The real WeChat API over HTTP: timeouts, one retry on -1 busy, errors mapped to AppErrors."""

    def __init__(self, api: WeChatAPI, appid: str, secret: str, *, clock: Callable[[], datetime]) -> None:
        self.api = api
        self._appid = appid
        self._secret = secret
        self.tokens = AccessTokenCache(api, appid, secret, clock=clock)

    @classmethod
    def from_config(cls, config: Config, clock: Callable[[], datetime]) -> HttpWeChat:
        return cls(WeChatAPI(config.wechat_api_base), config.wechat_appid or "", config.wechat_secret or "",
                   clock=clock)

    def code_to_session(self, code: str) -> WeChatSession:
        try:
            body = self.api.request("GET", "/sns/jscode2session", params={
                "appid": self._appid, "secret": self._secret, "js_code": code,
                "grant_type": "authorization_code"})
        except (WeChatError, WeChatUnavailable) as exc:
            raise _mapped(exc, "login", invalid=InvalidCode) from None
        openid, session_key, unionid = body.get("openid"), body.get("session_key"), body.get("unionid")
        if not isinstance(openid, str) or not openid or not isinstance(session_key, str) or not session_key:
            log.warning("WeChat login: the answer lacks openid or session_key", extra={"event": "wechat_error"})
            raise WeChatDown("WeChat gave an incomplete answer; try again")
        return WeChatSession(openid, session_key, unionid if isinstance(unionid, str) and unionid else None)

    def phone_number(self, code: str) -> str:
        try:
            body = self.tokens.call("POST", "/wxa/business/getuserphonenumber", json={"code": code})
        except (WeChatError, WeChatUnavailable) as exc:
            raise _mapped(exc, "phone number request", invalid=InvalidPhoneCode) from None
        info = body.get("phone_info")
        number = info.get("phoneNumber") if isinstance(info, dict) else None
        if not isinstance(number, str) or not number:
            log.warning("WeChat phone number: the answer lacks phone_info", extra={"event": "wechat_error"})
            raise WeChatDown("WeChat gave an incomplete answer; try again")
        return number
