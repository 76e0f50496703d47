"""Kannel smsbox over HTTP (`/cgi-bin/sendsms`), with delivery reports back to the product.

One pooled HTTP session per worker process. Each message carries a `dlr-url` with its id and a
per-message token (an HMAC of the id), so a report can neither be forged nor moved to another
message, and no shared secret travels in any URL.
"""

import hashlib
import hmac
from urllib.parse import urlencode, urlsplit

import urllib3
from django.conf import settings
from django.urls import reverse

from messaging.backends.base import BaseSmsBackend, OutgoingSms, SendResult
from messaging.segments import count_segments

DLR_MASK = 31  # delivered, undelivered, buffered, accepted by the SMSC, rejected by the SMSC


def dlr_token(message_id: str, secret_key: str | None = None) -> str:
    key = hashlib.sha256(("kannel-dlr:" + (secret_key or settings.SECRET_KEY)).encode()).digest()
    return hmac.new(key, str(message_id).encode(), hashlib.sha256).hexdigest()[:32]


def dlr_token_valid(message_id: str, token: str) -> bool:
    """Made with SECRET_KEY, or with one of SECRET_KEY_FALLBACKS: a report for a message handed
    over before a key rotation still counts (Kannel may report days later)."""
    return any(
        hmac.compare_digest(token.encode(), dlr_token(message_id, key).encode())
        for key in (settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS)
    )


def dlr_url(message_id: str) -> str:
    # %d (report type) and %T (its time) are filled in by Kannel; everything else is ours.
    query = urlencode({"id": message_id, "t": dlr_token(message_id)})
    return f"{settings.PUBLIC_URL}{reverse('kannel-dlr')}?{query}&status=%d&at=%T"


class KannelBackend(BaseSmsBackend):
    def __init__(self) -> None:
        # urllib3 directly: a keep-alive pool per process, and less CPU per call than requests.
        url = urlsplit(settings.KANNEL_URL)
        self.path = url.path or "/cgi-bin/sendsms"
        pool_class = urllib3.HTTPSConnectionPool if url.scheme == "https" else urllib3.HTTPConnectionPool
        self.pool = pool_class(
            url.hostname,
            url.port or (443 if url.scheme == "https" else 80),
            maxsize=32,
            block=False,
            retries=False,
            timeout=urllib3.Timeout(connect=2, read=settings.KANNEL_TIMEOUT_SECONDS),
        )

    def _params(self, sms: OutgoingSms) -> dict:
        params = {
            "username": settings.KANNEL_USERNAME,
            "password": settings.KANNEL_PASSWORD,
            "from": sms.sender,
            "to": sms.to,
            "text": sms.text,
            "charset": "UTF-8",
            "dlr-mask": DLR_MASK,
            "dlr-url": dlr_url(sms.id),
        }
        if count_segments(sms.text).encoding == "UCS-2":
            params["coding"] = 2
        return params

    def send_messages(self, messages: list[OutgoingSms]) -> list[SendResult]:
        return [self._send(sms) for sms in messages]

    def _send(self, sms: OutgoingSms) -> SendResult:
        try:
            response = self.pool.request("GET", f"{self.path}?{urlencode(self._params(sms))}", preload_content=True)
        except (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError) as exc:
            # Never reached Kannel: safe to try again. (The class only: the URL carries the password.)
            error = f"gateway_{type(exc).__name__}"[:64]
            return SendResult(id=sms.id, status="failed", error_code=error, retryable=True)
        except urllib3.exceptions.HTTPError:
            # Sent, but no answer (read timeout, dropped connection): Kannel may have taken it.
            return SendResult(id=sms.id, status="unknown", error_code="gateway_no_answer")
        if response.status in (200, 202):
            return SendResult(id=sms.id, status="sent", provider_id=f"kannel:{sms.id}")
        error = f"gateway_http_{response.status}"
        if response.status in (502, 504):
            # A proxy in front of Kannel (an HTTPS KANNEL_URL) answered for it: the request may
            # have reached Kannel before the proxy gave up. Never simply sent again.
            return SendResult(id=sms.id, status="unknown", error_code=error)
        # Kannel's 503 ("try again later": its queue is full) and 429 are worth another try, and so
        # are its 403 for a failed login and a 404 for a path it does not serve (KANNEL_URL or the
        # credentials being fixed: no message should be failed for that); its 403 "Not routable.
        # Do not try again." is final, as are the 4xx answers about the request itself.
        refused_for_good = response.status == 403 and b"not routable" in response.data[:200].lower()
        retryable = (response.status >= 500 or response.status in (403, 404, 429)) and not refused_for_good
        return SendResult(id=sms.id, status="failed", error_code=error, retryable=retryable)
