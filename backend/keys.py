"""Key material from configuration; in development, generated once into the instance folder."""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.config import FIELD_CIPHERS, Config
from backend.errors import ConfigError

KEY_LENGTHS = {"aes-256-gcm": 32, "sm4-gcm": 16}
KEYSTORE_NAME = "dev-keys.json"


@dataclass(frozen=True)
class FieldKey:
    key_id: str
    cipher: str
    secret: bytes


@dataclass(frozen=True)
class KeyMaterial:
    field_keys: tuple[FieldKey, ...]  # the first one encrypts; all of them decrypt
    blind_index_key: bytes
    token_key: bytes
    receipt_key: Ed25519PrivateKey

    @property
    def current_field_key(self) -> FieldKey:
        return self.field_keys[0]


def load_keys(config: Config, instance_path: str) -> KeyMaterial:
    """Keys from the settings; in development the missing ones come from (or go to) the keystore file."""
    settings = {
        "ESHARE_FIELD_KEYS": config.field_keys,
        "ESHARE_BLIND_INDEX_KEY": config.blind_index_key,
        "ESHARE_TOKEN_KEY": config.token_key,
        "ESHARE_RECEIPT_KEY": config.receipt_key,
    }
    missing = [name for name, value in settings.items() if not value]
    if missing:
        if config.production:  # Config.check already refuses this; kept for callers that skip it
            raise ConfigError(f"{missing[0]} is not set: production never generates keys.")
        settings.update(_dev_keystore(Path(instance_path), config.field_cipher, missing))
    field_keys = parse_field_keys(settings["ESHARE_FIELD_KEYS"] or "")
    if field_keys[0].cipher != config.field_cipher:
        raise ConfigError(
            f"ESHARE_FIELD_KEYS: the current key {field_keys[0].key_id!r} is {field_keys[0].cipher}, "
            f"but ESHARE_FIELD_CIPHER is {config.field_cipher}"
        )
    return KeyMaterial(
        field_keys=field_keys,
        blind_index_key=_secret("ESHARE_BLIND_INDEX_KEY", settings["ESHARE_BLIND_INDEX_KEY"], minimum=32),
        token_key=_secret("ESHARE_TOKEN_KEY", settings["ESHARE_TOKEN_KEY"], minimum=32),
        receipt_key=_receipt_key(settings["ESHARE_RECEIPT_KEY"] or ""),
    )


def parse_field_keys(raw: str) -> tuple[FieldKey, ...]:
    """`kid:cipher:base64[,kid:cipher:base64...]`, newest first."""
    keys: list[FieldKey] = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            key_id, cipher, encoded = part.split(":", 2)
            secret = base64.b64decode(encoded, validate=True)
        except ValueError as exc:
            raise ConfigError("ESHARE_FIELD_KEYS entries look like kid:cipher:base64key") from exc
        if cipher not in FIELD_CIPHERS:
            raise ConfigError(f"ESHARE_FIELD_KEYS: key {key_id!r} names unknown cipher {cipher!r}")
        if len(secret) != KEY_LENGTHS[cipher]:
            raise ConfigError(f"ESHARE_FIELD_KEYS: key {key_id!r} must be {KEY_LENGTHS[cipher]} bytes for {cipher}")
        if any(k.key_id == key_id for k in keys):
            raise ConfigError(f"ESHARE_FIELD_KEYS: key id {key_id!r} appears twice")
        keys.append(FieldKey(key_id, cipher, secret))
    if not keys:
        raise ConfigError("ESHARE_FIELD_KEYS holds no key")
    return tuple(keys)


def new_field_key(cipher: str, key_id: str | None = None) -> str:
    """A fresh `kid:cipher:base64` entry (for `flask keys new-field-key` and the dev keystore)."""
    kid = key_id or "k" + secrets.token_hex(4)
    return f"{kid}:{cipher}:{base64.b64encode(secrets.token_bytes(KEY_LENGTHS[cipher])).decode()}"


def _secret(name: str, raw: str | None, *, minimum: int) -> bytes:
    try:
        value = base64.b64decode(raw or "", validate=True)
    except ValueError as exc:
        raise ConfigError(f"{name} must be base64") from exc
    if len(value) < minimum:
        raise ConfigError(f"{name} must hold at least {minimum} bytes")
    return value


def _receipt_key(raw: str) -> Ed25519PrivateKey:
    try:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(raw, validate=True))
    except ValueError as exc:
        raise ConfigError("ESHARE_RECEIPT_KEY must be a base64 raw 32-byte Ed25519 private key") from exc


def _dev_keystore(instance: Path, cipher: str, missing: list[str]) -> dict[str, str]:
    path = instance / KEYSTORE_NAME
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    fresh = {
        "ESHARE_FIELD_KEYS": lambda: new_field_key(cipher, "dev1"),
        "ESHARE_BLIND_INDEX_KEY": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
        "ESHARE_TOKEN_KEY": lambda: base64.b64encode(secrets.token_bytes(32)).decode(),
        "ESHARE_RECEIPT_KEY": lambda: base64.b64encode(
            Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
            )
        ).decode(),
    }
    changed = False
    for name in missing:
        if name not in stored:
            stored[name] = fresh[name]()
            changed = True
    if changed:
        instance.mkdir(parents=True, exist_ok=True)
        # Written whole with 0600 from the first byte: a key file is never readable by others.
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(stored, handle, indent=2)
        os.replace(tmp, path)
    return {name: stored[name] for name in missing}
