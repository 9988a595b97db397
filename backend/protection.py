"""Personal data at rest: field encryption (AES-256-GCM or SM4-GCM), blind indexes, masking."""

from __future__ import annotations

import base64
import hashlib
import hmac
import os

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.errors import ConfigError
from backend.keys import FieldKey, KeyMaterial

NONCE_BYTES = 12
TAG_BYTES = 16


class DecryptionError(Exception):
    """A stored value does not decrypt: unknown key id, wrong context or tampering."""


def _seal(key: FieldKey, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    if key.cipher == "aes-256-gcm":
        return AESGCM(key.secret).encrypt(nonce, plaintext, aad)
    encryptor = Cipher(algorithms.SM4(key.secret), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    return encryptor.update(plaintext) + encryptor.finalize() + encryptor.tag


def _open(key: FieldKey, nonce: bytes, sealed: bytes, aad: bytes) -> bytes:
    if key.cipher == "aes-256-gcm":
        return AESGCM(key.secret).decrypt(nonce, sealed, aad)
    body, tag = sealed[:-TAG_BYTES], sealed[-TAG_BYTES:]
    decryptor = Cipher(algorithms.SM4(key.secret), modes.GCM(nonce, tag)).decryptor()
    decryptor.authenticate_additional_data(aad)
    return decryptor.update(body) + decryptor.finalize()


class Protector:
    """Encrypts with the current key, decrypts with any configured one, and derives blind indexes."""

    def __init__(self, keys: KeyMaterial) -> None:
        self._keys = {key.key_id: key for key in keys.field_keys}
        self._current = keys.current_field_key
        self._index_key = keys.blind_index_key

    @property
    def current_key_id(self) -> str:
        return self._current.key_id

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """`kid$base64(nonce|ciphertext|tag)`; `context` (table.column) is bound as associated data."""
        nonce = os.urandom(NONCE_BYTES)
        sealed = _seal(self._current, nonce, plaintext.encode("utf-8"), context.encode("utf-8"))
        return f"{self._current.key_id}${base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str, *, context: str) -> str:
        """The plaintext of a value `encrypt` produced for the same context."""
        key_id, _, encoded = token.partition("$")
        key = self._keys.get(key_id)
        if key is None:
            raise DecryptionError(f"no configured field key has id {key_id!r}")
        try:
            raw = base64.b64decode(encoded, validate=True)
            plaintext = _open(key, raw[:NONCE_BYTES], raw[NONCE_BYTES:], context.encode("utf-8"))
        except (ValueError, InvalidTag) as exc:
            raise DecryptionError("stored value failed authentication") from exc
        return plaintext.decode("utf-8")

    def key_id_of(self, token: str) -> str:
        return token.partition("$")[0]

    def reencrypt(self, token: str, *, context: str) -> str | None:
        """The value under the current key, or None when it already is."""
        if self.key_id_of(token) == self._current.key_id:
            return None
        return self.encrypt(self.decrypt(token, context=context), context=context)

    def blind_index(self, kind: str, value: str) -> str:
        """Keyed HMAC-SHA256 of the normalized value, separated by kind (`id_number`, `uscc`...)."""
        normalized = value.strip().upper()
        message = kind.encode("utf-8") + b"\x00" + normalized.encode("utf-8")
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()


def mask_identifier(value: str) -> str:
    """ID numbers and credit codes for display: `440304********2638`."""
    if len(value) <= 8:
        return value[:1] + "*" * (len(value) - 1)
    return value[:6] + "*" * (len(value) - 10) + value[-4:]


def mask_phone(value: str) -> str:
    """Phone numbers for display: `138****8000` keeps the first three and the last four digits."""
    if len(value) <= 7:
        return value[:1] + "*" * (len(value) - 1)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_name(value: str) -> str:
    """Names for display: `张*`, `欧**芳` keeps the first and (from three characters) the last."""
    if len(value) <= 1:
        return value
    if len(value) == 2:
        return value[0] + "*"
    return value[0] + "*" * (len(value) - 2) + value[-1]


def mask_username(value: str) -> str:
    """Staff account names where applicants or the public see them: `sc********r`."""
    if len(value) <= 3:
        return value[:1] + "*" * (len(value) - 1)
    return value[:2] + "*" * (len(value) - 3) + value[-1]


# Known-answer vectors: AES-256-GCM from the GCM specification (test case 14),
# SM4-GCM from RFC 8998 appendix A.1.
_VECTORS = {
    "aes-256-gcm": dict(
        key="00" * 32, nonce="00" * 12, aad="", plaintext="00" * 16,
        sealed="cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919",
    ),
    "sm4-gcm": dict(
        key="0123456789ABCDEFFEDCBA9876543210", nonce="00001234567800000000ABCD",
        aad="FEEDFACEDEADBEEFFEEDFACEDEADBEEFABADDAD2",
        plaintext="AAAAAAAAAAAAAAAABBBBBBBBBBBBBBBBCCCCCCCCCCCCCCCCDDDDDDDDDDDDDDDD"
                  "EEEEEEEEEEEEEEEEFFFFFFFFFFFFFFFFEEEEEEEEEEEEEEEEAAAAAAAAAAAAAAAA",
        sealed="17F399F08C67D5EE19D0DC9969C4BB7D5FD46FD3756489069157B282BB200735"
               "D82710CA5C22F0CCFA7CBF93D496AC15A56834CBCF98C397B4024A2691233B8D"
               "83DE3541E4C2B58177E065A9BF7B62EC",
    ),
}


def self_test(cipher: str) -> None:
    """Refuse to start unless `cipher` is present and reproduces its known-answer vector."""
    vector = {name: bytes.fromhex(value) for name, value in _VECTORS[cipher].items()}
    key = FieldKey("kat", cipher, vector["key"])
    try:
        sealed = _seal(key, vector["nonce"], vector["plaintext"], vector["aad"])
        opened = _open(key, vector["nonce"], sealed, vector["aad"])
    except UnsupportedAlgorithm as exc:
        raise ConfigError(f"ESHARE_FIELD_CIPHER={cipher}: this cryptography build lacks the cipher") from exc
    if sealed != vector["sealed"] or opened != vector["plaintext"]:
        raise ConfigError(f"ESHARE_FIELD_CIPHER={cipher}: the known-answer self-test failed")
