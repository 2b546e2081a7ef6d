"""Sealing a short text that must wait in the database but must never be readable there
(the volunteer's few words to the coordinator, until the notice is delivered).

The key is derived from the bot's token, which lives only in the environment: a copy of
the database (a backup, the WAL, a stolen disk) holds no readable text, and after a
restart the same bot can still open what it sealed. AES-256-GCM from `cryptography` (a
random 96-bit nonce per text): a changed or foreign value opens as None, never as garbage.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_BYTES = 12
# Bound to this use: a value sealed for something else never opens here.
CONTEXT = b"peerbot sealed text v1"


def derive_key(secret: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose from the bot's secret (never stored)."""
    return hmac.new(
        secret.encode(), b"peerbot sealing: " + purpose.encode(), hashlib.sha256
    ).digest()


def seal(key: bytes, text: str) -> str:
    """`text` sealed with `key`, as ASCII."""
    nonce = secrets.token_bytes(NONCE_BYTES)
    return base64.b64encode(nonce + AESGCM(key).encrypt(nonce, text.encode(), CONTEXT)).decode()


def unseal(key: bytes, sealed: str) -> str | None:
    """The text, or None when it was sealed with another key or changed."""
    try:
        raw = base64.b64decode(sealed.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None
    if len(raw) <= NONCE_BYTES:
        return None
    try:
        plain = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], CONTEXT)
    except InvalidTag:
        return None
    return plain.decode(errors="replace")
