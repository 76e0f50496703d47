"""Session engine: Django's cached_db store on the UserSession model (with the user, IP and
browser), so a user's sessions can be listed and revoked, while reads stay in the cache."""

from django.contrib.auth import SESSION_KEY
from django.contrib.sessions.backends.cached_db import SessionStore as CachedDBStore
from django.utils import timezone
from django.utils.dateparse import parse_datetime

# Keys the middleware keeps in the session data, copied onto the row for the session list.
IP_KEY = "_ip"
USER_AGENT_KEY = "_ua"
STARTED_KEY = "_started"
LAST_SEEN_KEY = "_last_seen"


class SessionStore(CachedDBStore):
    cache_key_prefix = "security.session_store"

    @classmethod
    def get_model_class(cls):
        from security.models import UserSession

        return UserSession

    def create_model_instance(self, data):
        obj = super().create_model_instance(data)
        user_id = data.get(SESSION_KEY)
        obj.user_id = int(user_id) if user_id is not None else None
        obj.ip = data.get(IP_KEY) or None
        obj.user_agent = (data.get(USER_AGENT_KEY) or "")[:300]
        started = parse_datetime(data[STARTED_KEY]) if data.get(STARTED_KEY) else None
        last_seen = parse_datetime(data[LAST_SEEN_KEY]) if data.get(LAST_SEEN_KEY) else None
        obj.created_at = started or timezone.now()
        obj.last_activity = last_seen or timezone.now()
        return obj
