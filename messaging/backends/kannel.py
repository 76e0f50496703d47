"""Kannel smsbox over HTTP (`/cgi-bin/sendsms`), with delivery reports back to the product.

One pooled HTTP session per worker process. Each message carries a `dlr-url` with its id and a
per-message token (an HMAC of the id), so a report can neither be forged nor moved to another
message, and no shared secret travels in any URL.
"""

import hashlib
import hmac
from urllib.parse import urlencode

import requests
from django.conf import settings
from django.urls import reverse
from requests.adapters import HTTPAdapter

from messaging.backends.base import BaseSmsBackend, OutgoingSms, SendResult
from messaging.segments import count_segments

DLR_MASK = 31  # delivered, undelivered, buffered, accepted by the SMSC, rejected by the SMSC


def dlr_token(message_id: str) -> str:
    key = hashlib.sha256(("kannel-dlr:" + settings.SECRET_KEY).encode()).digest()
    return hmac.new(key, str(message_id).encode(), hashlib.sha256).hexdigest()[:32]


def dlr_url(message_id: str) -> str:
    # %d (report type) and %T (its time) are filled in by Kannel; everything else is ours.
    query = urlencode({"id": message_id, "t": dlr_token(message_id)})
    return f"{settings.PUBLIC_URL}{reverse('kannel-dlr')}?{query}&status=%d&at=%T"


class KannelBackend(BaseSmsBackend):
    def __init__(self) -> None:
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=4, pool_maxsize=16, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)

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
            response = self.session.get(
                settings.KANNEL_URL, params=self._params(sms), timeout=(2, settings.KANNEL_TIMEOUT_SECONDS)
            )
        except requests.RequestException as exc:
            # The class only: the request's URL carries the sendsms password.
            return SendResult(
                id=sms.id, status="failed", error_code=f"gateway_{type(exc).__name__}"[:64], retryable=True
            )
        if response.status_code in (200, 202):
            return SendResult(id=sms.id, status="sent", provider_id=f"kannel:{sms.id}")
        retryable = response.status_code >= 500 or response.status_code in (403, 429)
        return SendResult(
            id=sms.id,
            status="failed",
            error_code=f"gateway_http_{response.status_code}",
            retryable=retryable,
        )
