"""Start-up: development keys are made once and kept private; production refuses what is missing."""

from __future__ import annotations

import json
import stat

import pytest

from backend import create_app
from backend.errors import ConfigError
from tests.conftest import TEST_KEYS

PRODUCTION = {
    "ESHARE_ENV": "production",
    "SECRET_KEY": "s" * 40,
    "DATABASE_URL": "sqlite://",
    "REALNAME_API_BASE": "http://127.0.0.1:9/realname",
    "WECHAT_APPID": "wx0123456789abcdef",
    "WECHAT_SECRET": "s" * 32,
    **TEST_KEYS,
}


def test_development_keys_are_generated_once_with_mode_0600(tmp_path):
    settings = {"ESHARE_ENV": "development", "DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path),
                "ESHARE_FIELD_KEYS": "", "ESHARE_BLIND_INDEX_KEY": "", "ESHARE_TOKEN_KEY": "",
                "ESHARE_RECEIPT_KEY": ""}
    first = create_app(settings)
    keystore = tmp_path / "dev-keys.json"
    assert stat.S_IMODE(keystore.stat().st_mode) == 0o600
    stored = json.loads(keystore.read_text())
    assert set(stored) == {"ESHARE_FIELD_KEYS", "ESHARE_BLIND_INDEX_KEY", "ESHARE_TOKEN_KEY", "ESHARE_RECEIPT_KEY"}
    second = create_app(settings)
    assert first.extensions["keys"].token_key == second.extensions["keys"].token_key
    assert first.extensions["keys"].field_keys == second.extensions["keys"].field_keys
    assert json.loads(keystore.read_text()) == stored


def test_development_keystore_follows_the_configured_cipher(tmp_path):
    app = create_app({"DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path), "ESHARE_FIELD_CIPHER": "sm4-gcm",
                      "ESHARE_FIELD_KEYS": "", "ESHARE_BLIND_INDEX_KEY": "", "ESHARE_TOKEN_KEY": "",
                      "ESHARE_RECEIPT_KEY": ""})
    assert app.extensions["keys"].current_field_key.cipher == "sm4-gcm"


@pytest.mark.parametrize("setting", ["SECRET_KEY", "DATABASE_URL", "ESHARE_FIELD_KEYS", "ESHARE_BLIND_INDEX_KEY",
                                     "ESHARE_TOKEN_KEY", "ESHARE_RECEIPT_KEY", "WECHAT_APPID", "WECHAT_SECRET"])
def test_production_refuses_to_start_without_each_key(tmp_path, setting):
    with pytest.raises(ConfigError, match=setting):
        create_app({**PRODUCTION, "INSTANCE_PATH": str(tmp_path), setting: ""})
    assert not (tmp_path / "dev-keys.json").exists()


def test_production_refuses_the_development_realname_verifier(tmp_path):
    with pytest.raises(ConfigError, match="REALNAME_API_BASE.*development real-name verifier"):
        create_app({**PRODUCTION, "INSTANCE_PATH": str(tmp_path), "REALNAME_API_BASE": ""})


def test_production_starts_with_everything_set(tmp_path):
    app = create_app({**PRODUCTION, "INSTANCE_PATH": str(tmp_path)})
    assert app.extensions["config"].production


def test_a_current_key_of_another_cipher_than_configured_is_refused(tmp_path):
    with pytest.raises(ConfigError, match="ESHARE_FIELD_CIPHER"):
        create_app({"DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path), **TEST_KEYS,
                    "ESHARE_FIELD_CIPHER": "sm4-gcm"})


def test_bad_settings_name_themselves(tmp_path):
    with pytest.raises(ConfigError, match="ESHARE_ENV"):
        create_app({"ESHARE_ENV": "staging", "INSTANCE_PATH": str(tmp_path)})
    with pytest.raises(ConfigError, match="ACCESS_TOKEN_TTL_SECONDS"):
        create_app({"ACCESS_TOKEN_TTL_SECONDS": "soon", "INSTANCE_PATH": str(tmp_path), **TEST_KEYS})


def test_a_missing_cipher_stops_start_up(tmp_path, monkeypatch):
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.ciphers import algorithms

    def sm4_missing(key):
        raise UnsupportedAlgorithm("SM4 is not available in this OpenSSL build")

    # What a cryptography build without SM4 does: the cipher cannot be constructed.
    monkeypatch.setattr(algorithms, "SM4", sm4_missing)
    with pytest.raises(ConfigError, match="ESHARE_FIELD_CIPHER=sm4-gcm"):
        create_app({"DATABASE_URL": "sqlite://", "INSTANCE_PATH": str(tmp_path), "ESHARE_FIELD_CIPHER": "sm4-gcm",
                    **TEST_KEYS})
