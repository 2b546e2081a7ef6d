"""Sealing a short text that must wait in the database but must never be readable there
(the volunteer's few words to the coordinator, until the notice is delivered).

The key is derived from the bot's token, which lives only in the environment: a copy of
the database (a backup, the WAL, a stolen disk) holds no readable text, and after a
restart the same bot can still open what it sealed. The construction uses only the
standard library: a random nonce, a SHAKE-256 keystream keyed by (key, nonce) XORed with
the text, and an HMAC-SHA256 tag, so a changed or foreign value opens as None."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

NONCE_BYTES = 16
TAG_BYTES = 16


def derive_key(secret: str, purpose: str) -> bytes:
    """A key for one purpose from the bot's secret (never stored)."""
    return hmac.new(secret.encode(), b"peerbot sealing: " + purpose.encode(), "sha256").digest()


def _keystream(key: bytes, nonce: bytes, length: int) -> bytes:
    return hashlib.shake_256(b"stream" + key + nonce).digest(length)


def _tag(key: bytes, nonce: bytes, body: bytes) -> bytes:
    return hmac.new(key, b"tag" + nonce + body, "sha256").digest()[:TAG_BYTES]


def seal(key: bytes, text: str) -> str:
    """`text` sealed with `key`, as ASCII."""
    plain = text.encode()
    nonce = secrets.token_bytes(NONCE_BYTES)
    body = bytes(a ^ b for a, b in zip(plain, _keystream(key, nonce, len(plain)), strict=True))
    return base64.b64encode(nonce + _tag(key, nonce, body) + body).decode("ascii")


def unseal(key: bytes, sealed: str) -> str | None:
    """The text, or None when it was sealed with another key or changed."""
    try:
        raw = base64.b64decode(sealed.encode("ascii"), validate=True)
    except (ValueError, UnicodeEncodeError):
        return None
    nonce, tag, body = raw[:NONCE_BYTES], raw[NONCE_BYTES : NONCE_BYTES + TAG_BYTES], raw[32:]
    if len(nonce) < NONCE_BYTES or not hmac.compare_digest(tag, _tag(key, nonce, body)):
        return None
    plain = bytes(a ^ b for a, b in zip(body, _keystream(key, nonce, len(body)), strict=True))
    return plain.decode(errors="replace")
