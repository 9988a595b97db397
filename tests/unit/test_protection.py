"""Personal data at rest: encrypted with a key id, bound to its column, found by blind index, masked."""

from __future__ import annotations

import base64

import pytest

from backend.errors import ConfigError
from backend.keys import KeyMaterial, parse_field_keys
from backend.protection import DecryptionError, Protector, mask_identifier, mask_name, self_test
from tests.conftest import TEST_KEYS


def _protector(field_keys: str) -> Protector:
    base = KeyMaterial(field_keys=parse_field_keys(field_keys), blind_index_key=b"b" * 32, token_key=b"t" * 32,
                       receipt_key=None)  # type: ignore[arg-type]
    return Protector(base)


AES = f"a1:aes-256-gcm:{base64.b64encode(b'A' * 32).decode()}"
SM4 = f"s1:sm4-gcm:{base64.b64encode(b'S' * 16).decode()}"


@pytest.mark.parametrize("keys", [AES, SM4])
def test_values_round_trip_and_never_appear_in_clear(keys):
    protector = _protector(keys)
    token = protector.encrypt("440304199003072638", context="records.subject_id_enc")
    assert "440304199003072638" not in token
    assert token.startswith(keys.split(":")[0] + "$")
    assert protector.decrypt(token, context="records.subject_id_enc") == "440304199003072638"


def test_the_same_value_encrypts_differently_each_time():
    protector = _protector(AES)
    assert protector.encrypt("张三", context="c") != protector.encrypt("张三", context="c")


def test_a_value_moved_to_another_column_does_not_decrypt():
    protector = _protector(AES)
    token = protector.encrypt("张三", context="record_versions.subject_name_enc")
    with pytest.raises(DecryptionError):
        protector.decrypt(token, context="records.subject_id_enc")


def test_a_tampered_value_does_not_decrypt():
    protector = _protector(SM4)
    token = protector.encrypt("张三", context="c")
    kid, _, body = token.partition("$")
    raw = bytearray(base64.b64decode(body))
    raw[-1] ^= 1
    with pytest.raises(DecryptionError):
        protector.decrypt(f"{kid}${base64.b64encode(bytes(raw)).decode()}", context="c")


def test_after_rotation_old_values_still_decrypt_and_reencrypt_to_the_new_key():
    old = _protector(AES)
    token = old.encrypt("91350100M000100Y43", context="c")
    rotated = _protector(f"{SM4},{AES}")  # SM4 key is now current, the AES key still decrypts
    assert rotated.decrypt(token, context="c") == "91350100M000100Y43"
    fresh = rotated.reencrypt(token, context="c")
    assert fresh is not None and fresh.startswith("s1$")
    assert rotated.decrypt(fresh, context="c") == "91350100M000100Y43"
    assert rotated.reencrypt(fresh, context="c") is None
    with pytest.raises(DecryptionError):
        _protector(SM4).decrypt(token, context="c")  # the retired key is gone: refused, not garbage


def test_blind_index_is_keyed_normalized_and_separated_by_kind():
    protector = _protector(AES)
    assert protector.blind_index("id_number", "11010519491231002x") == protector.blind_index(
        "id_number", " 11010519491231002X ")
    assert protector.blind_index("id_number", "X") != protector.blind_index("uscc", "X")
    other = Protector(KeyMaterial(parse_field_keys(AES), b"c" * 32, b"t" * 32, None))  # type: ignore[arg-type]
    assert other.blind_index("id_number", "X") != protector.blind_index("id_number", "X")
    assert len(protector.blind_index("id_number", "X")) == 64


def test_masking_for_display():
    assert mask_identifier("440304199003072638") == "440304********2638"
    assert mask_identifier("91350100M000100Y43") == "913501********0Y43"
    assert mask_name("张三") == "张*"
    assert mask_name("欧阳娜娜") == "欧**娜"


@pytest.mark.parametrize("cipher", ["aes-256-gcm", "sm4-gcm"])
def test_self_test_passes_for_the_bundled_ciphers(cipher):
    self_test(cipher)


def test_field_keys_are_checked_when_read():
    with pytest.raises(ConfigError, match="32 bytes"):
        parse_field_keys(f"x:aes-256-gcm:{base64.b64encode(b'short').decode()}")
    with pytest.raises(ConfigError, match="unknown cipher"):
        parse_field_keys("x:des:AAAA")
    with pytest.raises(ConfigError, match="twice"):
        parse_field_keys(f"{AES},{AES}")
    assert parse_field_keys(TEST_KEYS["ESHARE_FIELD_KEYS"])[0].key_id == "t1"
