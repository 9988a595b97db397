"""Real-name verification (实名核验): does this name belong to this ID number?

`create_app` picks `HttpRealNameVerifier` when `REALNAME_API_BASE` is set and `DevelopmentVerifier`
otherwise (production without it never starts: `Config.check`); `create_app(realname=...)` overrides both.
"""

from __future__ import annotations

import logging
from typing import Protocol

import requests
from stdnum.cn import ric

from backend.errors import ServiceUnavailable

log = logging.getLogger("eshare.realname")

TIMEOUT = (3.05, 10.0)


class RealNameUnavailable(ServiceUnavailable):
    code = "realname_unavailable"


class RealNameVerifier(Protocol):
    def verify(self, name: str, id_number: str) -> bool:
        """True when the authority says the name and the ID number belong together."""
        ...


class HttpRealNameVerifier:
    """`POST {base}/verify {name, id_number}` → `{"match": true|false}`; anything else is a 503."""

    def __init__(self, base_url: str, *, timeout: tuple[float, float] = TIMEOUT,
                 http: requests.Session | None = None) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self._http = http or requests.Session()

    def verify(self, name: str, id_number: str) -> bool:
        try:
            response = self._http.post(f"{self.base_url}/verify", json={"name": name, "id_number": id_number},
                                       timeout=self.timeout)
        except requests.RequestException as exc:
            log.warning("real-name service unreachable (%s)", type(exc).__name__, extra={"event": "realname_down"})
            raise RealNameUnavailable("the real-name service does not answer; try again later") from None
        match = None
        if response.status_code == 200:
            try:
                body = response.json()
            except ValueError:
                body = None
            match = body.get("match") if isinstance(body, dict) else None
        if not isinstance(match, bool):
            log.warning("real-name service gave no usable answer (HTTP %s)", response.status_code,
                        extra={"event": "realname_down"})
            raise RealNameUnavailable("the real-name service gave no usable answer; try again later")
        return match


class DevelopmentVerifier:
    """Development only: any pair whose ID number is valid (check digit, birth date, area) matches."""

    def verify(self, name: str, id_number: str) -> bool:
        return bool(name.strip()) and ric.is_valid(id_number)
