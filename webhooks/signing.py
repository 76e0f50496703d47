"""Endpoint secrets and Standard Webhooks signatures.

A `whsec_` secret must stay usable to sign, so unlike our tokens it cannot be stored as a
digest: it is encrypted at rest with Fernet (AES-128-CBC and HMAC-SHA256) under a key derived
(HKDF-SHA256) from WEBHOOK_SECRET_KEY, itself SECRET_KEY by default; keys in
WEBHOOK_SECRET_KEY_FALLBACKS still decrypt while that key is rotated. Signatures are the
`standardwebhooks` package's own (HMAC-SHA256 of `id.timestamp.body`), so any receiver that
uses it verifies them.
"""

import base64
import functools
import secrets
from datetime import datetime

from cryptography.fernet import Fernet, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from standardwebhooks.webhooks import Webhook

SECRET_PREFIX = "whsec_"  # noqa: S105 (a marker, not a secret)
SECRET_BYTES = 32  # the Standard Webhooks spec asks for 24 to 64 random bytes


def secret_new() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def webhook_id_new() -> str:
    """A delivery's `webhook-id`: stable across its retries, unguessable."""
    return "msg_" + secrets.token_urlsafe(18)


def _fernet_key(key: str) -> bytes:
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"webhooks.endpoint-secret").derive(
        key.encode()
    )
    return base64.urlsafe_b64encode(derived)


@functools.cache
def _fernet(primary: str, fallbacks: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(_fernet_key(key)) for key in (primary, *fallbacks)])


def _current_fernet() -> MultiFernet:
    return _fernet(settings.WEBHOOK_SECRET_KEY, tuple(settings.WEBHOOK_SECRET_KEY_FALLBACKS))


def encrypt(secret: str) -> str:
    return _current_fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    return _current_fernet().decrypt(token.encode()).decode()


def signature_header(*, secrets_: list[str], webhook_id: str, timestamp: datetime, body: bytes) -> str:
    """`webhook-signature`: `v1,<base64>` for each secret, space-separated (several during a
    rotation: the receiver accepts any one that matches)."""
    return " ".join(Webhook(secret).sign(webhook_id, timestamp, body) for secret in secrets_)
