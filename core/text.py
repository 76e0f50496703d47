"""Rules about text shared by every app."""

import re

# What no text column can hold: NUL, and a UTF-16 surrogate on its own (JSON can carry an escaped
# "\ud83d" alone). PostgreSQL refuses both, so storing either would fail with a 500.
UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
