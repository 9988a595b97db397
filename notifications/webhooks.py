"""Approval-system webhooks: the confirmed data POSTed to an approval department's system, signed.

The request (what an approval system implements):

    POST <webhook_url>
    Content-Type: application/json; charset=utf-8
    X-Eshare-Event: <event>                  e.g. confirmation.accepted
    X-Eshare-Delivery: <delivery id>         the same on every retry of one message: drop repeats by it
    X-Eshare-Timestamp: <unix seconds>       refuse it when far from your clock (e.g. more than 300 s)
    X-Eshare-Signature: sha256=<hex>         HMAC-SHA256(secret, timestamp + "\\n" + raw body)

    <the payload as UTF-8 JSON>

The secret is the department's webhook secret, shown to the data administrator once when the URL is set
(`PUT /api/admin/departments/<code>/webhook`), keyed as the UTF-8 bytes of the string. Any 2xx answer is
delivered; anything else (or no answer) is retried with the outbox's backoff. Redirects are not followed.

Where the URL may point (SYSTEM.md): in development any http(s) URL. In production a host listed in
`WEBHOOK_ALLOWED_HOSTS` is taken as it is; any other must resolve only to public addresses (loopback,
private, link-local, shared, reserved and multicast ones are refused) and use https. The rule is checked when
the administrator sets the URL and again at every delivery after resolving the name, and the connection then
goes to the address that was checked (no second lookup that a rebinding name could answer differently).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

from notifications import Result

EVENT_HEADER = "X-Eshare-Event"
DELIVERY_HEADER = "X-Eshare-Delivery"
TIMESTAMP_HEADER = "X-Eshare-Timestamp"
SIGNATURE_HEADER = "X-Eshare-Signature"

Resolver = Callable[[str, int], list[str]]


class WebhookURLRefused(ValueError):
    """The URL breaks the webhook rule; the message says why (it names no secret)."""


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=` + hex HMAC-SHA256 over timestamp, a newline and the raw body."""
    digest = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"\n" + body, hashlib.sha256)
    return "sha256=" + digest.hexdigest()


def verify(secret: str, timestamp: str, body: bytes, signature: str) -> bool:
    """What an approval system does with the headers (constant-time comparison)."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def resolve(host: str, port: int) -> list[str]:
    """Every address the name resolves to."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise WebhookURLRefused(f"the host {host} does not resolve") from exc
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class Target:
    """Where to connect: the URL, and in production the checked address to connect to (None: by name)."""

    url: str
    address: str | None = None


def _parts(url: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises on a port that is not a number
    except ValueError as exc:
        raise WebhookURLRefused("the URL is not valid") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookURLRefused("the URL must be http(s)://host/...")
    if parts.username or parts.password:
        raise WebhookURLRefused("credentials do not belong in the URL; the request is signed instead")
    return parts


def check_url(url: str, *, production: bool, allowed_hosts: Collection[str],
              resolver: Resolver = resolve) -> Target:
    """The URL if the webhook rule allows it (see the module docstring), with the address to connect to."""
    parts = _parts(url)
    if not production:
        return Target(url)
    host = (parts.hostname or "").lower().rstrip(".")
    if host in {h.strip().lower().rstrip(".") for h in allowed_hosts}:
        return Target(url)
    if parts.scheme != "https":
        raise WebhookURLRefused("in production a webhook to a host not in WEBHOOK_ALLOWED_HOSTS uses https")
    try:
        addresses = [str(ipaddress.ip_address(host))]
    except ValueError:
        addresses = resolver(host, parts.port or 443)
    if not addresses:
        raise WebhookURLRefused(f"the host {host} does not resolve")
    private = [a for a in addresses if not _public(a)]
    if private:
        raise WebhookURLRefused(f"the host {host} is a loopback, private or link-local address; list it in "
                                "WEBHOOK_ALLOWED_HOSTS to allow it")
    return Target(url, addresses[0])


class _PinnedAdapter(HTTPAdapter):
    """HTTPS to a checked address while TLS still checks the certificate against the host name."""

    def __init__(self, hostname: str) -> None:
        self._hostname = hostname
        super().__init__(max_retries=0)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["server_hostname"] = self._hostname
        kwargs["assert_hostname"] = self._hostname
        super().init_poolmanager(*args, **kwargs)


def _request_url(target: Target) -> tuple[str, dict[str, str], requests.Session]:
    http = requests.Session()
    if target.address is None:
        return target.url, {}, http
    parts = urlsplit(target.url)
    hostname = parts.hostname or ""
    literal = f"[{target.address}]" if ":" in target.address else target.address
    netloc = literal + (f":{parts.port}" if parts.port else "")
    host_header = hostname + (f":{parts.port}" if parts.port else "")
    if parts.scheme == "https":
        http.mount(f"https://{netloc}", _PinnedAdapter(hostname))
    return urlunsplit(parts._replace(netloc=netloc)), {"Host": host_header}, http


def deliver(target: Target, *, secret: str, body: bytes, event: str, delivery_id: str, timestamp: int,
            timeout: float) -> Result:
    """POST the signed body once; 2xx is sent, anything else is to be retried."""
    stamp = str(timestamp)
    headers: Mapping[str, str] = {
        "Content-Type": "application/json; charset=utf-8",
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
        TIMESTAMP_HEADER: stamp,
        SIGNATURE_HEADER: sign(secret, stamp, body),
    }
    url, extra, http = _request_url(target)
    try:
        with http:
            response = http.post(url, data=body, headers={**headers, **extra}, timeout=timeout,
                                 allow_redirects=False, stream=True)
            response.close()
    except requests.RequestException as exc:
        return Result.retry(f"webhook unreachable: {type(exc).__name__}")
    if 200 <= response.status_code < 300:
        return Result.sent()
    return Result.retry(f"webhook answered HTTP {response.status_code}")
