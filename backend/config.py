"""Configuration: the only place that reads the environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any

from backend.errors import ConfigError

DEFAULT_WECHAT_API_BASE = "https://api.weixin.qq.com"
FIELD_CIPHERS = ("aes-256-gcm", "sm4-gcm")
DEFAULT_RECEIPT_FONT = "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"
# A counter code shown at the counter lives at most this long (SYSTEM.md: valid ≤ 300 s).
MAX_COUNTER_CODE_TTL_SECONDS = 300


@dataclass(frozen=True)
class Config:
    env: str = "development"
    testing: bool = False
    database_url: str | None = None
    secret_key: str | None = None
    instance_path: str | None = None
    wechat_api_base: str = DEFAULT_WECHAT_API_BASE
    wechat_appid: str | None = None
    wechat_secret: str | None = None
    realname_api_base: str | None = None
    public_base_url: str = "http://127.0.0.1:5000"
    field_cipher: str = "aes-256-gcm"
    field_keys: str | None = None
    blind_index_key: str | None = None
    token_key: str | None = None
    receipt_key: str | None = None
    access_token_ttl: int = 900
    refresh_token_ttl: int = 14 * 24 * 3600
    login_slowdown_after: int = 3
    login_lock_after: int = 10
    login_lock_seconds: int = 900
    max_content_length: int = 8 * 1024 * 1024
    webhook_allowed_hosts: tuple[str, ...] = ()
    confirmation_ttl_days: int = 30
    counter_code_ttl_seconds: int = MAX_COUNTER_CODE_TTL_SECONDS
    receipt_font: str = DEFAULT_RECEIPT_FONT
    webhook_timeout_seconds: int = 10
    # Subscribe-message templates: "event=template_id,..." (events in notifications/wechat.py).
    wechat_templates: str | None = None
    # The outbox (notifications/outbox.py): attempts before dead-letter, backoff base and cap, claim lease.
    outbox_max_attempts: int = 8
    outbox_backoff_seconds: int = 30
    outbox_backoff_max_seconds: int = 3600
    outbox_lease_seconds: int = 120
    outbox_batch: int = 20
    worker_poll_seconds: int = 5
    log_level: str = "INFO"

    @property
    def production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, overrides: Mapping[str, Any] | None = None) -> Config:
        """Read every setting from the environment, then `overrides` (same names) on top."""
        source: dict[str, Any] = {**os.environ, **(overrides or {})}
        values: dict[str, Any] = {}
        for f in fields(cls):
            name = ENV_NAMES.get(f.name, f.name.upper())
            if name not in source or source[name] in (None, ""):
                continue
            values[f.name] = _cast(name, source[name], f.type)
        config = cls(**values)
        config.check()
        return config

    def check(self) -> None:
        """Refuse settings no deployment should run with; name the setting in the message."""
        if self.env not in ("development", "production"):
            raise ConfigError(f"ESHARE_ENV must be 'development' or 'production', not {self.env!r}")
        if self.field_cipher not in FIELD_CIPHERS:
            raise ConfigError(f"ESHARE_FIELD_CIPHER must be one of {', '.join(FIELD_CIPHERS)}")
        if not 1 <= self.confirmation_ttl_days <= 366:
            raise ConfigError("CONFIRMATION_TTL_DAYS must be between 1 and 366 days")
        if not 1 <= self.counter_code_ttl_seconds <= MAX_COUNTER_CODE_TTL_SECONDS:
            raise ConfigError(f"COUNTER_CODE_TTL_SECONDS must be between 1 and {MAX_COUNTER_CODE_TTL_SECONDS}: "
                              "a counter code is valid at most 300 seconds")
        self._check_delivery()
        if not self.production:
            return
        required = {
            "SECRET_KEY": self.secret_key,
            "DATABASE_URL": self.database_url,
            "ESHARE_FIELD_KEYS": self.field_keys,
            "ESHARE_BLIND_INDEX_KEY": self.blind_index_key,
            "ESHARE_TOKEN_KEY": self.token_key,
            "ESHARE_RECEIPT_KEY": self.receipt_key,
            "REALNAME_API_BASE": self.realname_api_base,
            "WECHAT_APPID": self.wechat_appid,
            "WECHAT_SECRET": self.wechat_secret,
        }
        reasons = {
            "REALNAME_API_BASE": "the development real-name verifier is refused in production",
            "WECHAT_APPID": "WeChat login needs the mini-program's credentials",
            "WECHAT_SECRET": "WeChat login needs the mini-program's credentials",
        }
        for name, value in required.items():
            if not value:
                why = reasons.get(name, "production never generates keys or defaults")
                raise ConfigError(f"{name} is not set: {why}.")


    def _check_delivery(self) -> None:
        from notifications.wechat import parse_templates

        try:
            parse_templates(self.wechat_templates)
        except ValueError as exc:
            raise ConfigError(f"WECHAT_TEMPLATES: {exc}") from None
        if self.outbox_max_attempts < 1:
            raise ConfigError("OUTBOX_MAX_ATTEMPTS must be at least 1")
        if self.outbox_lease_seconds < 30:
            raise ConfigError("OUTBOX_LEASE_SECONDS must be at least 30: a lease shorter than one delivery's "
                              "timeouts lets a second worker send the same message")

    def wechat_template_ids(self) -> dict[str, str]:
        """Template id per subscribe event; in development, a placeholder for each event not configured."""
        from notifications.wechat import SUBSCRIBE_EVENTS, parse_templates

        configured = parse_templates(self.wechat_templates)
        if self.production:
            return configured
        return {event: configured.get(event, f"dev-{event}") for event in SUBSCRIBE_EVENTS}


# Settings whose environment name is not simply the upper-cased field name.
ENV_NAMES = {
    "env": "ESHARE_ENV",
    "field_cipher": "ESHARE_FIELD_CIPHER",
    "field_keys": "ESHARE_FIELD_KEYS",
    "blind_index_key": "ESHARE_BLIND_INDEX_KEY",
    "token_key": "ESHARE_TOKEN_KEY",
    "receipt_key": "ESHARE_RECEIPT_KEY",
    "access_token_ttl": "ACCESS_TOKEN_TTL_SECONDS",
    "refresh_token_ttl": "REFRESH_TOKEN_TTL_SECONDS",
    "login_lock_seconds": "LOGIN_LOCK_SECONDS",
}


def _cast(name: str, raw: Any, annotation: Any) -> Any:
    kind = str(annotation)
    try:
        if kind == "bool":
            if isinstance(raw, bool):
                return raw
            return str(raw).strip().lower() in ("1", "true", "yes", "on")
        if kind == "int":
            return int(raw)
        if kind.startswith("tuple"):
            if isinstance(raw, (tuple, list)):
                return tuple(raw)
            return tuple(part.strip() for part in str(raw).split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(f"{name} must be {kind}, got {raw!r}") from exc
    return str(raw) if not isinstance(raw, str) else raw
