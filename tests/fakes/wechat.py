"""A fake WeChat server API on 127.0.0.1, spoken to over real HTTP (fixture `fake_wechat` in tests/conftest.py).

It follows WeChat's request and answer formats for what eshare uses:

- `GET  /sns/jscode2session?appid&secret&js_code&grant_type=authorization_code` → `{openid, session_key,
  unionid?}`. A code registered with `add_login_code` works once (then 40163); any other code is 40029.
- `GET  /cgi-bin/token?grant_type=client_credential&appid&secret` and `POST /cgi-bin/stable_token`
  `{grant_type, appid, secret, force_refresh}` → `{access_token, expires_in: 7200}`. `stable_token` in normal
  mode keeps answering the same token while it is live; `force_refresh` (or `/cgi-bin/token`) issues a new one.
- `POST /wxa/business/getuserphonenumber?access_token=` `{code}` → `{errcode: 0, phone_info: {phoneNumber,
  purePhoneNumber, countryCode, watermark}}`; codes come from `add_phone_code` (else 40029).
- `POST /cgi-bin/message/subscribe/send?access_token=` `{touser, template_id, data, page?, miniprogram_state?,
  lang?}` → `{errcode: 0}`; every accepted message is kept in `messages`. A user named by `unsubscribe(openid)`
  gets 43101; a `thing` value over 20 characters or a `phrase` over 5 gets 47003.

Every API needing `access_token` answers 40001 for a token it did not issue or that `expire_tokens()` made
stale. A wrong appid or secret answers 40013 / 40125.

Knobs to script answers (endpoint names: "jscode2session", "token", "stable_token", "getuserphonenumber",
"subscribe_send"):

- `fail_next(endpoint, *errcodes)`: the next calls answer these errcodes, in order (`-1` once = busy then ok).
- `http_error_next(endpoint, status=500, times=1)`: the next calls answer an HTTP error with an HTML body.
- `outage()` / `restore()`: stop listening (connection refused) and listen again on the same port;
  `with fake.down(): ...` does both.

Every request is recorded in `requests` (method, path, query, body) so tests can assert what was sent;
`calls(endpoint)` filters them.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes.loopback import LoopbackServer

ENDPOINTS = {
    ("GET", "/sns/jscode2session"): "jscode2session",
    ("GET", "/cgi-bin/token"): "token",
    ("POST", "/cgi-bin/stable_token"): "stable_token",
    ("POST", "/wxa/business/getuserphonenumber"): "getuserphonenumber",
    ("POST", "/cgi-bin/message/subscribe/send"): "subscribe_send",
}
ERRMSG = {
    -1: "system error", 40001: "invalid credential, access_token is invalid or not latest",
    40013: "invalid appid", 40029: "invalid code", 40125: "invalid appsecret", 40163: "code been used",
    40226: "high risk user", 42001: "access_token expired", 43101: "user refuse to accept the msg",
    45011: "api minute-quota reach limit", 47003: "argument invalid",
}
TOKEN_TTL = 7200
DATA_LIMITS = {"thing": 20, "phrase": 5, "name": 10, "character_string": 32, "number": 32, "letter": 32,
               "symbol": 5, "car_number": 8, "phone_number": 17}


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    endpoint: str | None
    query: dict[str, str]
    body: Any  # the parsed JSON body, or the raw text when it is not JSON, or None


@dataclass
class LoginUser:
    openid: str
    session_key: str
    unionid: str | None = None


@dataclass
class FakeWeChat(LoopbackServer):
    appid: str = "wx-test-appid"
    secret: str = "test-app-secret"
    host: str = "127.0.0.1"
    port: int = 0
    requests: list[RecordedRequest] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._login_codes: dict[str, LoginUser] = {}
        self._used_codes: set[str] = set()
        self._phone_codes: dict[str, tuple[str, str]] = {}
        self._scripted: dict[str, deque[int]] = defaultdict(deque)
        self._http_errors: dict[str, deque[int]] = defaultdict(deque)
        self._live_tokens: set[str] = set()
        self._stable: str | None = None
        self._unsubscribed: set[str] = set()

    # --- life ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(_Handler):
            wechat = fake

        return Handler

    def app_settings(self) -> dict[str, str]:
        """The app settings that point eshare at this fake."""
        return {"WECHAT_API_BASE": self.base_url, "WECHAT_APPID": self.appid, "WECHAT_SECRET": self.secret}

    # --- scripting ----------------------------------------------------------------------------------------

    def add_login_code(self, code: str, *, openid: str, unionid: str | None = None,
                       session_key: str | None = None) -> LoginUser:
        """A `wx.login` code that logs in `openid` once; returns the user with the session_key WeChat will send."""
        user = LoginUser(openid, session_key or secrets.token_urlsafe(18), unionid)
        with self._lock:
            self._login_codes[code] = user
        return user

    def add_phone_code(self, code: str, *, phone: str = "13800138000", country_code: str = "86") -> None:
        with self._lock:
            self._phone_codes[code] = (phone, country_code)

    def fail_next(self, endpoint: str, *errcodes: int) -> None:
        self._check(endpoint)
        with self._lock:
            self._scripted[endpoint].extend(errcodes)

    def http_error_next(self, endpoint: str, status: int = 500, times: int = 1) -> None:
        self._check(endpoint)
        with self._lock:
            self._http_errors[endpoint].extend([status] * times)

    def expire_tokens(self) -> None:
        """Every access token issued so far becomes stale (40001 where used)."""
        with self._lock:
            self._live_tokens.clear()

    def unsubscribe(self, openid: str) -> None:
        """This user has not accepted (or used up) subscribe messages: 43101."""
        with self._lock:
            self._unsubscribed.add(openid)

    def calls(self, endpoint: str) -> list[RecordedRequest]:
        self._check(endpoint)
        return [r for r in list(self.requests) if r.endpoint == endpoint]

    @property
    def issued_tokens(self) -> set[str]:
        return set(self._live_tokens)

    @staticmethod
    def _check(endpoint: str) -> None:
        if endpoint not in ENDPOINTS.values():
            raise ValueError(f"unknown endpoint {endpoint!r}; one of {sorted(ENDPOINTS.values())}")

    # --- answers ------------------------------------------------------------------------------------------

    def answer(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        endpoint = ENDPOINTS.get((method, path))
        with self._lock:
            self.requests.append(RecordedRequest(method, path, endpoint, query, body))
            if endpoint is None:
                return 404, "<html>not found</html>"
            if self._http_errors[endpoint]:
                return self._http_errors[endpoint].popleft(), "<html>server error</html>"
            if self._scripted[endpoint]:
                return 200, _error(self._scripted[endpoint].popleft())
            handler = getattr(self, f"_{endpoint}")
            return 200, handler(query, body if isinstance(body, dict) else {})

    def _credentials(self, appid: Any, secret: Any) -> dict[str, Any] | None:
        if appid != self.appid:
            return _error(40013)
        if secret != self.secret:
            return _error(40125)
        return None

    def _jscode2session(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        wrong = self._credentials(query.get("appid"), query.get("secret"))
        if wrong:
            return wrong
        code = query.get("js_code", "")
        if query.get("grant_type") != "authorization_code" or code not in self._login_codes:
            return _error(40029)
        if code in self._used_codes:
            return _error(40163)
        self._used_codes.add(code)
        user = self._login_codes[code]
        answer = {"openid": user.openid, "session_key": user.session_key}
        if user.unionid:
            answer["unionid"] = user.unionid
        return answer

    def _new_token(self) -> str:
        token = "ACCESS_" + secrets.token_hex(12)
        self._live_tokens.add(token)
        return token

    def _token(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        wrong = self._credentials(query.get("appid"), query.get("secret"))
        if wrong:
            return wrong
        return {"access_token": self._new_token(), "expires_in": TOKEN_TTL}

    def _stable_token(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        wrong = self._credentials(body.get("appid"), body.get("secret"))
        if wrong:
            return wrong
        if body.get("grant_type") != "client_credential":
            return _error(47003)
        if body.get("force_refresh") or self._stable not in self._live_tokens:
            self._stable = self._new_token()
        return {"access_token": self._stable, "expires_in": TOKEN_TTL}

    def _token_error(self, query: dict[str, str]) -> dict[str, Any] | None:
        return None if query.get("access_token") in self._live_tokens else _error(40001)

    def _getuserphonenumber(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        stale = self._token_error(query)
        if stale:
            return stale
        found = self._phone_codes.pop(str(body.get("code")), None)
        if found is None:
            return _error(40029)
        phone, country = found
        return {"errcode": 0, "errmsg": "ok", "phone_info": {
            "phoneNumber": phone if country == "86" else f"+{country}{phone}", "purePhoneNumber": phone,
            "countryCode": country, "watermark": {"timestamp": 1772416800, "appid": self.appid}}}

    def _subscribe_send(self, query: dict[str, str], body: dict[str, Any]) -> dict[str, Any]:
        stale = self._token_error(query)
        if stale:
            return stale
        data = body.get("data")
        if not body.get("touser") or not body.get("template_id") or not isinstance(data, dict):
            return _error(47003)
        for key, entry in data.items():
            value = entry.get("value") if isinstance(entry, dict) else None
            if not isinstance(value, str):
                return _error(47003)
            kind = key.rstrip("0123456789")
            if kind in DATA_LIMITS and len(value) > DATA_LIMITS[kind]:
                return _error(47003)
        if body["touser"] in self._unsubscribed:
            return _error(43101)
        self.messages.append(body)
        return {"errcode": 0, "errmsg": "ok", "msgid": len(self.messages)}


def _error(errcode: int) -> dict[str, Any]:
    return {"errcode": errcode, "errmsg": ERRMSG.get(errcode, "error") + f" rid: {secrets.token_hex(4)}"}


class _Handler(BaseHTTPRequestHandler):
    wechat: FakeWeChat

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8") if length else ""
        try:
            body: Any = json.loads(raw) if raw else None
        except ValueError:
            body = raw
        status, answer = self.wechat.answer(method, parts.path, query, body)
        if isinstance(answer, str):
            payload, content_type = answer.encode("utf-8"), "text/html"
        else:
            payload, content_type = json.dumps(answer, ensure_ascii=False).encode("utf-8"), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        self._serve("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._serve("POST")

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the test output is for the app's own lines
