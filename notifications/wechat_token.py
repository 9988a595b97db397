"""The WeChat server API: one transport and one access-token cache, shared by login and subscribe messages.

This module imports nothing of ours (HOUSE-STYLE: `notifications` stands alone), so that the web app
(`auth/wechat.py`, getPhoneNumber) and the notifications worker (subscribe/send) use the same class:

    api = WeChatAPI("https://api.weixin.qq.com")
    tokens = AccessTokenCache(api, appid, secret, clock=clock)
    tokens.call("POST", "/cgi-bin/message/subscribe/send", json={...})  # token added, refreshed on 40001/42001

Failures are two exceptions: `WeChatError` (WeChat answered with a non-zero `errcode`) and
`WeChatUnavailable` (no usable answer: refused, timed out, HTTP 5xx, not JSON). Neither message carries a
secret, a code, a token or a personal value; callers log `errcode` only.

The access token lasts 7200 s and WeChat keeps the old one working for 5 minutes after a new one is issued,
so the cache refreshes 5 minutes before expiry. It is fetched with `stable_token` in normal mode (every
caller of the app gets the same token, so several processes do not invalidate each other); only when
WeChat calls a token stale (40001/42001) that `stable_token` still returns is it fetched with
`force_refresh`.
"""

from __future__ import annotations

import json as jsonlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

BUSY = -1
STALE_TOKEN_CODES = frozenset({40001, 42001, 40014})  # invalid credential, expired, invalid token
# (connect, read) seconds: WeChat answers within a second when healthy.
DEFAULT_TIMEOUT = (3.05, 5.0)
REFRESH_MARGIN = timedelta(minutes=5)


class WeChatError(Exception):
    """WeChat answered with a non-zero `errcode`."""

    def __init__(self, errcode: int, errmsg: str = "") -> None:
        super().__init__(f"WeChat errcode {errcode}")
        self.errcode = errcode
        # WeChat's own text; it names no personal value but may echo a request id (rid).
        self.errmsg = errmsg


class WeChatUnavailable(Exception):
    """No usable answer from WeChat: connection refused, timeout, HTTP error status or a body that is not JSON."""


def _system_clock() -> datetime:
    return datetime.now(UTC)


class WeChatAPI:
    """JSON over HTTP to `base_url`, with timeouts and one retry when WeChat says it is busy (-1)."""

    def __init__(self, base_url: str, *, timeout: tuple[float, float] = DEFAULT_TIMEOUT,
                 busy_retry_delay: float = 0.2, http: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.busy_retry_delay = busy_retry_delay
        self._http = http or requests.Session()

    def request(self, method: str, path: str, *, params: dict[str, str] | None = None,
                json: Any = None, retry_busy: bool = True) -> dict[str, Any]:
        """The JSON answer; `WeChatError` for a non-zero errcode (after one retry on -1 when allowed)."""
        attempts = 2 if retry_busy else 1
        for attempt in range(attempts):
            body = self._send(method, path, params, json)
            errcode = body.get("errcode", 0)
            if not isinstance(errcode, int):
                raise WeChatUnavailable(f"{path}: errcode is not a number")
            if errcode == 0:
                return body
            if errcode == BUSY and attempt + 1 < attempts:
                time.sleep(self.busy_retry_delay)
                continue
            raise WeChatError(errcode, str(body.get("errmsg", "")))
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(self, method: str, path: str, params: dict[str, str] | None, json: Any) -> dict[str, Any]:
        try:
            # The body is sent as UTF-8 JSON without escaping (WeChat shows \\u escapes literally).
            data = None if json is None else _dumps(json)
            headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else None
            response = self._http.request(method, self.base_url + path, params=params, data=data, headers=headers,
                                          timeout=self.timeout)
        except requests.RequestException as exc:
            # The exception text holds the URL, whose query may hold a secret or a code: not kept.
            raise WeChatUnavailable(f"{path}: {type(exc).__name__}") from None
        if response.status_code >= 400:
            raise WeChatUnavailable(f"{path}: HTTP {response.status_code}")
        try:
            body = response.json()
        except ValueError:
            raise WeChatUnavailable(f"{path}: the answer is not JSON") from None
        if not isinstance(body, dict):
            raise WeChatUnavailable(f"{path}: the answer is not a JSON object")
        return body


def _dumps(value: Any) -> bytes:
    return jsonlib.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


@dataclass(frozen=True)
class AccessToken:
    value: str
    expires_at: datetime


class AccessTokenCache:
    """The app's access token, fetched in one place and kept per process until 5 minutes before it expires."""

    def __init__(self, api: WeChatAPI, appid: str, secret: str, *,
                 clock: Callable[[], datetime] = _system_clock) -> None:
        self.api = api
        self._appid = appid
        self._secret = secret
        self._clock = clock
        self._lock = threading.Lock()
        self._current: AccessToken | None = None
        self._stale: set[str] = set()

    def token(self) -> str:
        """A live access token, fetched when there is none or it is within 5 minutes of expiry."""
        with self._lock:
            now = self._clock()
            if self._current is not None and now < self._current.expires_at - REFRESH_MARGIN:
                return self._current.value
            self._current = self._fetch(now)
            return self._current.value

    def invalidate(self, token: str) -> None:
        """WeChat refused `token` (40001/42001): drop it, and never accept it again from `stable_token`."""
        with self._lock:
            self._stale.add(token)
            if self._current is not None and self._current.value == token:
                self._current = None

    def _fetch(self, now: datetime) -> AccessToken:
        value, expires_in = self._stable_token(force=False)
        if value in self._stale:
            value, expires_in = self._stable_token(force=True)
        self._stale.clear()
        return AccessToken(value, now + timedelta(seconds=expires_in))

    def _stable_token(self, *, force: bool) -> tuple[str, int]:
        body = self.api.request("POST", "/cgi-bin/stable_token", json={
            "grant_type": "client_credential", "appid": self._appid, "secret": self._secret,
            "force_refresh": force})
        value, expires_in = body.get("access_token"), body.get("expires_in")
        if not isinstance(value, str) or not value or not isinstance(expires_in, int):
            raise WeChatUnavailable("/cgi-bin/stable_token: no access_token in the answer")
        return value, expires_in

    def call(self, method: str, path: str, *, json: Any = None, retry_busy: bool = True) -> dict[str, Any]:
        """Call an API that takes `?access_token=`; a stale token is refreshed and the call made once more."""
        token = self.token()
        try:
            return self.api.request(method, path, params={"access_token": token}, json=json, retry_busy=retry_busy)
        except WeChatError as exc:
            if exc.errcode not in STALE_TOKEN_CODES:
                raise
        self.invalidate(token)
        return self.api.request(method, path, params={"access_token": self.token()}, json=json,
                                retry_busy=retry_busy)
